"""`adhoc route explain` as a user runs it: the gateway's router, figures per engine, exit codes,
and an answer within seconds when the ResourceManagers hang and the Kubernetes API is down."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.k8s_api import FakeKubeApi, resource_quota
from tests.fakes.yarn_rm import FakeResourceManager
from tests.sts import free_port


def write_config(tmp_path: Path, rm_urls: list[str], kubeconfig: Path, thrift_port: int) -> Path:
    path = tmp_path / "adhoc.toml"
    path.write_text(f"""
[routing]
probe_timeout_s = 1
[[engines]]
name = "yarn-main"
kind = "yarn"
protocol = "kyuubi"
address = "127.0.0.1:{thrift_port}"
rm_urls = {json.dumps(rm_urls)}
queue = "root.adhoc"
[[engines]]
name = "k8s-a"
kind = "k8s"
protocol = "kyuubi"
address = "127.0.0.1:{thrift_port}"
kubeconfig = "{kubeconfig}"
namespace = "spark"
quota = "compute"
min_free_cpu = 2
min_free_memory = "4Gi"
""")
    return path


def explain(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "adhoc", "route", "explain", "--config", str(path), "--user", "alice", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_explain_shows_each_engines_figures_and_the_choice(tmp_path: Path) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    with FakeResourceManager.capacity() as rm, FakeKubeApi() as kube:
        rm.set_queue("root.adhoc", used=93.0, max=100.0, pending=2)
        quota = resource_quota("compute", hard={"requests.cpu": "8", "requests.memory": "32Gi"},
                               used={"requests.cpu": "2", "requests.memory": "8Gi"})  # fmt: skip
        kube.put("resourcequotas", "spark", quota)
        path = write_config(tmp_path, [rm.url], kube.write_kubeconfig(tmp_path / "kubeconfig"),
                            listener.getsockname()[1])  # fmt: skip
        out = explain(path, "--json")
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert (result["engine"], result["kind"]) == ("k8s-a", "k8s")
        assert result["reason"].startswith("routed to k8s-a: yarn-main saturated: queue root.adhoc at 93% of max")
        yarn, k8s = result["engines"]
        assert (yarn["name"], yarn["available"], yarn["used_pct_of_max"], yarn["pending_apps"]) == (
            "yarn-main", False, 93.0, 2)  # fmt: skip
        assert (k8s["name"], k8s["available"], k8s["free_cpu"], k8s["free_memory"]) == ("k8s-a", True, 6, 24 * 1024**3)
        assert "6 CPU and 24.0Gi free" in k8s["reason"]
        text = explain(path)
        assert text.returncode == 0 and text.stdout.startswith("route for alice: k8s-a — routed to k8s-a")
    listener.close()


def test_explain_answers_quickly_when_rms_hang_and_the_api_is_down(tmp_path: Path) -> None:
    with FakeResourceManager.capacity() as first, FakeResourceManager.capacity() as second, FakeKubeApi() as kube:
        first.hang()
        second.hang()
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
        kube.refuse()
        path = write_config(tmp_path, [first.url, second.url], kubeconfig, free_port())
        started = time.monotonic()
        out = explain(path, "--json")
        elapsed = time.monotonic() - started
        first.resume()
        second.resume()
    assert out.returncode == 1, out.stderr
    assert elapsed < 10
    result = json.loads(out.stdout)
    assert result["engine"] is None and result["reason"].startswith("would fail: no engine can take a new session")
    yarn, k8s = result["engines"]
    assert not yarn["available"] and not k8s["available"]
    assert "Thrift endpoint" in yarn["reason"] or "no ResourceManager could be reached" in yarn["reason"]
