"""adhoc.toml: defaults, checking, environment overrides, and how `adhoc` reports a bad file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adhoc.config import load_config
from adhoc.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "adhoc.toml"
    path.write_text(text)
    return str(path)


def test_defaults_match_the_contract() -> None:
    config = load_config(None, env={})
    assert (config.server.host, config.server.thrift_port, config.server.http_port) == ("127.0.0.1", 10009, 10099)
    assert config.auth.method == "none" and config.routing.policy == "auto"
    (engine,) = config.effective_engines()
    assert engine.embedded and engine.kind == "local"


def test_full_engine_table(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[server]
public_url = "https://adhoc.example.com"
[[engines]]
name = "yarn-main"
kind = "yarn"
protocol = "kyuubi"
address = "kyuubi1:10009"
rm_urls = ["http://rm1:8088", "http://rm2:8088"]
queue = "root.adhoc"
[engines.conf]
"spark.executor.memory" = "4g"
"spark.dynamicAllocation.maxExecutors" = 20
""",
    )
    config = load_config(path, env={})
    (engine,) = config.engines
    assert engine.rm_urls == ("http://rm1:8088", "http://rm2:8088")
    assert dict(engine.conf) == {"spark.executor.memory": "4g", "spark.dynamicAllocation.maxExecutors": "20"}
    assert config.server.base_url() == "https://adhoc.example.com"


@pytest.mark.parametrize(
    "text, key, expected",
    [
        ("[server]\nthrift_port = 'x'", "server.thrift_port", "expected an integer"),
        ("[server]\nthrift_prot = 1", "server.thrift_prot", "unknown key"),
        ("[auth]\nmethod = 'kerberos'", "auth.method", "expected one of"),
        ("[[engines]]\nname = 'a'\nkind = 'yarn'", "engines[0].address", "needs an address"),
        ("[[engines]]\nkind = 'local'", "engines[0].name", "required key is missing"),
        ("[[engines]]\nname = 'a'\naddress = 'nohost'", "engines[0].address", "expected host:port"),
        ("[bogus]\nx = 1", "bogus", "unknown key"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert path in err.value.message and key in err.value.message and expected in err.value.message


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nthrift_port = 20000\n")
    config = load_config(path, env={"ADHOC_SERVER_THRIFT_PORT": "20001", "ADHOC_AUTH_METHOD": "file"})
    assert config.server.thrift_port == 20001 and config.auth.method == "file"
    with pytest.raises(ConfigError, match="ADHOC_SERVER_HTTP_PORT"):
        load_config(path, env={"ADHOC_SERVER_HTTP_PORT": "lots"})


def test_serve_with_a_broken_config_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nthrift_port = 'x'\n")
    out = subprocess.run([sys.executable, "-m", "adhoc", "serve", "--config", path], capture_output=True, text=True)
    assert out.returncode == 2
    assert path in out.stderr and "server.thrift_port" in out.stderr


def test_serve_with_a_missing_config_exits_2(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "adhoc", "serve", "--config", str(tmp_path / "nope.toml")],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 2 and "file not found" in out.stderr
