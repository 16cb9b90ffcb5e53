"""`kubectl apply -k k8s/overlays/<name>` would apply cleanly: every built object and pod template is
strictly valid against the Kubernetes schema, and the workload keeps the promises k8s/README.md makes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from adhoc.config import load_config
from tests.k8s.manifests import K8S, OVERLAYS, POD_TEMPLATES, build, objects, validate


def test_there_is_an_example_overlay() -> None:
    assert K8S / "overlays" / "example" in OVERLAYS


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_every_built_object_is_strictly_valid(overlay: Path, tmp_path: Path) -> None:
    docs = list(build(overlay))
    out = validate(docs, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("passed") == len(docs)


def test_pod_templates_are_strictly_valid(tmp_path: Path) -> None:
    docs = [yaml.safe_load(p.read_text()) for p in POD_TEMPLATES]
    assert {p.name for p in POD_TEMPLATES} == {"driver-pod-template.yaml", "executor-pod-template.yaml"}
    out = validate(docs, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_strict_validation_does_catch_a_misspelt_field(tmp_path: Path) -> None:
    deployment = objects(OVERLAYS[0], "Deployment")[0]
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    assert validate([broken], tmp_path).returncode != 0


def pod_spec(overlay: Path) -> dict:  # type: ignore[type-arg]
    return objects(overlay, "Deployment")[0]["spec"]["template"]["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_the_gateway_pods_are_restricted_and_never_all_down(overlay: Path) -> None:
    deployment = objects(overlay, "Deployment")[0]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spec = pod_spec(overlay)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    (container,) = spec["containers"]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert "preStop" in container["lifecycle"]
    assert objects(overlay, "PodDisruptionBudget") and objects(overlay, "NetworkPolicy")
    assert {p["port"] for p in objects(overlay, "Service")[0]["spec"]["ports"]} == {10009, 10001, 10099}


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_the_shipped_config_loads_and_fits_the_pod(overlay: Path, tmp_path: Path) -> None:
    """The ConfigMap's adhoc.toml through adhoc's own loader: listens on every address, writes only
    to mounted volumes, links to a public URL, and the grace period outlasts drain + teardown."""
    configmap = objects(overlay, "ConfigMap")[0]
    path = tmp_path / "adhoc.toml"
    path.write_text(configmap["data"]["adhoc.toml"])
    (tmp_path / "policy.toml").write_text(configmap["data"]["policy.toml"])
    config = load_config(str(path), env={"ADHOC_HA_ADVERTISED_HOST": "10.0.0.5"})  # the pod's IP, from the Deployment
    spec = pod_spec(overlay)
    (container,) = spec["containers"]
    writable = [m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")]
    assert config.server.host == "0.0.0.0"
    assert config.server.public_url.startswith("https://")
    assert any(config.server.data_dir.startswith(w) for w in writable), config.server.data_dir
    assert any(config.logs.spool_dir.startswith(w) for w in writable), config.logs.spool_dir
    assert config.policy.file == "/etc/adhoc/policy.toml"
    assert config.server.thrift_http_port == 10001 and config.ha.zookeeper
    env = {e["name"]: e for e in container["env"]}
    assert env["ADHOC_HA_ADVERTISED_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert tomllib.loads(configmap["data"]["policy.toml"])["rules"]
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    stopping = config.server.drain_timeout_s + config.server.teardown_timeout_s + pre_stop
    assert spec["terminationGracePeriodSeconds"] > stopping
    for engine in config.engines:
        if engine.kind == "k8s":
            assert engine.kubeconfig in ("", "in-cluster")


def test_executors_are_spot_first_with_fallback_and_the_driver_is_not() -> None:
    executor = yaml.safe_load((K8S / "spark" / "executor-pod-template.yaml").read_text())
    driver = yaml.safe_load((K8S / "spark" / "driver-pod-template.yaml").read_text())
    ann = executor["metadata"]["annotations"]
    assert ann["k8s.aliyun.com/eci-spot-strategy"] in ("SpotAsPriceGo", "SpotWithPriceLimit")
    assert ann["k8s.aliyun.com/eci-spot-fallback"] == "true"
    assert len(ann["k8s.aliyun.com/eci-use-specs"].split(",")) >= 2
    assert len(ann["k8s.aliyun.com/eci-vswitch"].split(",")) >= 2
    assert ann["k8s.aliyun.com/eci-schedule-strategy"] == "VSwitchOrdered"
    assert not any(k.startswith("k8s.aliyun.com/eci-spot") for k in driver["metadata"].get("annotations", {}))
    for pod in (executor, driver):
        assert "adhoc.io/session" in pod["metadata"]["labels"]
        assert {"key": "virtual-kubelet.io/provider", "operator": "Equal", "value": "alibabacloud",
                "effect": "NoSchedule"} in pod["spec"]["tolerations"]  # fmt: skip
