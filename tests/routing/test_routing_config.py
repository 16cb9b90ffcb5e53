"""Routing settings in adhoc.toml and policy.toml: good ones reach the engines, bad ones exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adhoc.auth import Principal
from adhoc.authz.policy import load_policy
from adhoc.config import load_config
from adhoc.engines import Engine
from adhoc.errors import ConfigError

ENGINES = """
[routing]
probe_ttl_s = 2
queue_timeout_s = 60
[[engines]]
name = "yarn-main"
kind = "yarn"
protocol = "kyuubi"
address = "kyuubi:10009"
rm_urls = ["http://rm1:8088", "http://rm2:8088"]
queue = "root.bi.adhoc"
saturation = 0.8
max_pending_apps = 2
[[engines]]
name = "k8s-a"
kind = "k8s"
protocol = "kyuubi"
address = "kyuubi-k8s:10009"
kubeconfig = "kube/config"
namespace = "spark"
quota = "compute"
min_free_cpu = 2
min_free_memory = "8Gi"
"""


def test_engines_carry_their_yarn_and_k8s_settings(tmp_path: Path) -> None:
    path = tmp_path / "adhoc.toml"
    path.write_text(ENGINES)
    config = load_config(str(path), env={})
    yarn, k8s = (Engine.from_config(e) for e in config.engines)
    assert yarn.yarn is not None and k8s.yarn is None and yarn.k8s is None
    assert (yarn.yarn.rm_urls, yarn.yarn.queue, yarn.yarn.saturation, yarn.yarn.max_pending_apps) == (
        ("http://rm1:8088", "http://rm2:8088"), "root.bi.adhoc", 0.8, 2)  # fmt: skip
    assert k8s.k8s is not None
    assert (k8s.k8s.namespace, k8s.k8s.quota, k8s.k8s.min_free_cpu, k8s.k8s.min_free_memory) == (
        "spark", "compute", 2.0, 8 * 1024**3)  # fmt: skip
    assert config.resolve(k8s.k8s.kubeconfig) == str(tmp_path / "kube" / "config")
    assert (config.routing.probe_ttl_s, config.routing.queue_timeout_s) == (2, 60)


@pytest.mark.parametrize(
    "change, key, expected",
    [
        (("saturation = 0.8", "saturation = 1.5"), "engines[0].saturation", "(0, 1]"),
        (("saturation = 0.8", "saturation = 0"), "engines[0].saturation", "(0, 1]"),
        (('kind = "yarn"', 'kind = "mesos"'), "engines[0].kind", "expected one of"),
        (('min_free_memory = "8Gi"', 'min_free_memory = "lots"'), "engines[1].min_free_memory", "memory quantity"),
        (('rm_urls = ["http://rm1:8088", "http://rm2:8088"]', ""), "engines[0].rm_urls", "needs rm_urls"),
        (
            ('rm_urls = ["http://rm1:8088", "http://rm2:8088"]', 'rm_urls = ["rm1:8088"]'),
            "engines[0].rm_urls",
            "http(s)://",
        ),
        (('namespace = "spark"', ""), "engines[1].namespace", "needs the namespace"),
        (("max_pending_apps = 2", "max_pending_apps = -1"), "engines[0].max_pending_apps", ">= 0"),
        (("probe_ttl_s = 2", "probe_timeout_s = 0"), "routing.probe_timeout_s", "> 0"),
        (("queue_timeout_s = 60", "queue_timeout_s = -1"), "routing.queue_timeout_s", ">= 0"),
    ],
)
def test_bad_routing_values_name_the_file_and_key(tmp_path: Path, change: tuple[str, str], key: str,
                                                  expected: str) -> None:  # fmt: skip
    path = tmp_path / "adhoc.toml"
    path.write_text(ENGINES.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_config(str(path), env={})
    assert str(path) in err.value.message and key in err.value.message and expected in err.value.message


def test_route_explain_with_a_bad_value_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "adhoc.toml"
    path.write_text(ENGINES.replace("saturation = 0.8", "saturation = 2"))
    cmd = [sys.executable, "-m", "adhoc", "route", "explain", "--config", str(path), "--user", "alice"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and str(path) in out.stderr and "engines[0].saturation" in out.stderr


def test_group_limits_in_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    limits = '[[limits]]\ngroup = "bi"\nmax_sessions = 20\n[[limits]]\ngroup = "ds"\nmax_sessions = 3\n'
    path.write_text('[groups]\nbi = ["bob"]\n[[rules]]\nprincipals = ["*"]\nread = ["*"]\n' + limits)
    policy = load_policy(str(path))
    assert policy.group_limits(Principal("bob")) == {"bi": 20}
    assert policy.group_limits(Principal("dana", frozenset({"ds"}))) == {"ds": 3}  # a directory group
    assert policy.group_limits(Principal("alice")) == {}
    path.write_text('[[limits]]\ngroup = "bi"\nmax_sessions = "many"\n')
    with pytest.raises(ConfigError, match=r"limits\[0\].max_sessions"):
        load_policy(str(path))
