"""[logs] and [pricing]: defaults, per-engine prices, and a bad value exits 2 naming file and key."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adhoc.config import load_config
from adhoc.errors import ConfigError
from adhoc.logs.service import engine_pricing
from tests.logs.served import ROOT

K8S = '[[engines]]\nname = "k8s"\nkind = "k8s"\naddress = "h:1"\nkubeconfig = "kc"\nnamespace = "spark"\n'


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "adhoc.toml"
    path.write_text(text)
    return str(path)


def test_defaults_and_per_engine_prices(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, f"[pricing]\ncpu_core_hour = 0.05\nmemory_gib_hour = 0.01\n{K8S}"
                                          "cpu_core_hour = 0.02\n"))  # fmt: skip
    assert config.logs.store_url("/data") == "file:///data/logs"
    assert config.logs.spool_path("/data") == "/data/logs-spool"
    prices = engine_pricing(config, config.engines[0])
    assert (prices.cpu_core_hour, prices.memory_gib_hour) == (0.02, 0.01)


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('[logs]\nstore = "ftp://x/y"\n', "logs.store", "expected a URL like"),
        ('[logs]\nstore = "/just/a/path"\n', "logs.store", "expected a URL like"),
        ('[logs]\nstore = "s3://"\n', "logs.store", "needs a bucket"),
        ("[pricing]\ncpu_core_hour = -1\n", "pricing.cpu_core_hour", "cannot be negative"),
        ('[pricing]\nmemory_gib_hour = "cheap"\n', "pricing.memory_gib_hour", "expected a number"),
        ("[pricing]\ngpu_hour = 1\n", "pricing.gpu_hour", "unknown key"),
        ("[logs.storage_options]\nclient_kwargs = [1]\n", "logs.storage_options.client_kwargs", "expected a string"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert e.value.file == path and e.value.key == key and words in e.value.message


@pytest.mark.skipif(importlib.util.find_spec("ossfs") is not None, reason="ossfs is installed here")
def test_oss_without_ossfs_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs the ossfs package"):
        load_config(write(tmp_path, '[logs]\nstore = "oss://bucket/logs"\n'))


def test_adhoc_serve_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[pricing]\ncpu_core_hour = -0.5\n")
    out = subprocess.run(
        [sys.executable, "-m", "adhoc", "serve", "--config", path],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert out.returncode == 2
    assert path in out.stderr and "pricing.cpu_core_hour" in out.stderr
