"""What operators watch is there: every metric the alert rules and the dashboard use is exported by a
real `adhoc serve` after a scripted workload (a K8s engine's pods running, ending, their log stored),
and the rules pass `promtool check rules`."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import yaml

from tests.fakes.k8s_api import FakeKubeApi, pod_object
from tests.k8s.manifests import K8S
from tests.logs.s3 import free_port
from tests.logs.served import ServedGateway
from tests.requires import require_binary

RULES = K8S / "monitoring" / "alerts.yaml"
DASHBOARD = K8S / "monitoring" / "dashboard.json"
# Exported only by replicas running with [ha] (ZooKeeper); a single replica has no such figure.
HA_ONLY = {"adhoc_ha_zookeeper_connected"}
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def expressions() -> list[str]:
    rules = [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return rules + [t["expr"] for p in panels for t in p["targets"]]


def adhoc_metrics_used() -> set[str]:
    return {name for expr in expressions() for name in re.findall(r"\badhoc_[a-z_]+", expr)}


def test_alert_rules_pass_promtool() -> None:
    promtool = require_binary("promtool", package="prometheus")
    out = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    for rule in (r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]):
        assert rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"]["summary"]
        anchor = rule["annotations"]["runbook"].split("#")[1]
        assert f"### {rule['alert']}" in (K8S / "README.md").read_text(), f"{anchor}: no runbook section"


def test_every_metric_the_dashboard_and_rules_use_is_exported(tmp_path: Path) -> None:
    with FakeKubeApi() as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", namespace="spark")
        labels = {"adhoc.io/session": "s1", "adhoc.io/user": "alice"}
        api.put("pods", "spark", pod_object("s1-driver", labels={**labels, "spark-role": "driver"}))
        api.put("pods", "spark", pod_object("s1-exec-1", labels={**labels, "spark-role": "executor"},
                                            phase="Succeeded", containers=("spark-kubernetes-executor",)))  # fmt: skip
        api.watches.append_log("spark", "s1-exec-1", "spark-kubernetes-executor", b"executor log\n")
        config = tmp_path / "adhoc.toml"
        config.write_text(f"""
[server]
host = "127.0.0.1"
thrift_port = {free_port()}
http_port = {free_port()}
data_dir = "{tmp_path / "data"}"
[[engines]]
name = "k8s-main"
kind = "k8s"
protocol = "kyuubi"
address = "127.0.0.1:{free_port()}"
kubeconfig = "{kubeconfig}"
namespace = "spark"
[logs]
store = "file://{tmp_path / "store"}"
""")
        gateway = ServedGateway(config).start()
        try:
            deadline = time.monotonic() + 30
            while True:
                text = urllib.request.urlopen(gateway.http_url + "/metrics", timeout=5).read().decode()
                if 'adhoc_engine_logs_stored{engine="k8s-main"} 1.0' in text or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            gateway.stop()
    families = set(re.findall(r"^# HELP (\S+)", text, re.M))
    samples = set(re.findall(r"^([a-z_]+)[{ ]", text, re.M))
    exported = families | samples | {f.removesuffix(s) for f in families for s in SUFFIXES}
    used = adhoc_metrics_used()
    assert used >= HA_ONLY
    missing = {m for m in used - HA_ONLY if m not in exported and m.removesuffix("_bucket") not in exported}
    assert not missing, f"used by k8s/monitoring but not exported: {sorted(missing)}"
    # the workload shows in the figures operators read
    assert 'adhoc_engine_logs_stored{engine="k8s-main"} 1.0' in text
    driver = 'adhoc_spark_pods{engine="k8s-main",namespace="spark",phase="Running",role="driver"} 1.0'
    assert driver in text
    assert 'adhoc_engine_logs_pending{engine="k8s-main"} 0.0' in text
