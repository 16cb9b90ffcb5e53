"""Config keys for links: ui_url (and its old name), history_url, public_url's default."""

from __future__ import annotations

from pathlib import Path

import pytest

from adhoc.config import ServerConfig, load_config
from adhoc.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "adhoc.toml"
    path.write_text(text)
    return str(path)


def test_ui_url_and_its_old_name(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
[[engines]]
name = "a"
address = "h:1"
ui_url = "http://sts-a:4040"
history_url = "http://shs:18080"
[[engines]]
name = "b"
address = "h:2"
spark_ui_url = "http://sts-b:4040"
"""), env={})  # fmt: skip
    a, b = config.engines
    assert (a.spark_ui, a.history_url, b.spark_ui) == ("http://sts-a:4040", "http://shs:18080", "http://sts-b:4040")


@pytest.mark.parametrize("key", ["ui_url", "history_url", "spark_ui_url"])
def test_a_link_key_must_be_an_http_url(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f'[[engines]]\nname = "a"\naddress = "h:1"\n{key} = "sts-a:4040"\n'), env={})
    assert f"engines[0].{key}" in str(err.value) and "adhoc.toml" in str(err.value)


def test_public_url_default_is_the_http_address() -> None:
    assert ServerConfig(host="127.0.0.1", http_port=10099).base_url() == "http://127.0.0.1:10099"
    assert ServerConfig(host="127.0.0.1", http_port=0).base_url(43123) == "http://127.0.0.1:43123"
    assert ServerConfig(public_url="https://adhoc.example.com/").base_url(1) == "https://adhoc.example.com"
    wildcard = ServerConfig(host="0.0.0.0", http_port=10099).base_url()
    assert not wildcard.startswith("http://0.0.0.0") and wildcard.endswith(":10099")
