"""What a k8s engine's session carries so its pods can be found, and what the collector reads of a pod."""

from __future__ import annotations

from adhoc.engines import Engine
from adhoc.logs.pods import PodInfo
from tests.fakes.k8s_api import pod_object


def test_k8s_sessions_label_driver_and_executors_and_keep_ended_executors() -> None:
    kyuubi = Engine("k8s-main", "k8s", "kyuubi", "h", 1, conf={"spark.executor.instances": "2"})
    conf = kyuubi.session_conf({"spark.kubernetes.driver.label.adhoc.io/session": "forged"}, "alice",
                               session_id="0b9e-11", user="alice@corp.example")  # fmt: skip
    assert conf["spark.kubernetes.driver.label.adhoc.io/session"] == "0b9e-11"
    assert conf["spark.kubernetes.executor.label.adhoc.io/session"] == "0b9e-11"
    assert conf["spark.kubernetes.driver.label.adhoc.io/user"] == "alice_corp.example"
    assert conf["spark.kubernetes.executor.label.adhoc.io/user"] == "alice_corp.example"
    assert conf["spark.kubernetes.executor.deleteOnTermination"] == "false"
    assert conf["spark.executor.instances"] == "2"
    sts = Engine("k8s-sts", "k8s", "sts", "h", 1)
    assert sts.session_conf({}, None, session_id="s", user="bob")[
        "set:hiveconf:spark.kubernetes.executor.label.adhoc.io/session"
    ] == "s"  # fmt: skip


def test_other_engines_get_no_labels() -> None:
    for kind in ("yarn", "local"):
        engine = Engine("e", kind, "kyuubi", "h", 1)  # type: ignore[arg-type]
        assert engine.session_conf({}, None, session_id="s", user="bob") == {}


def test_pod_info_from_v1_json() -> None:
    obj = pod_object("exec-1", labels={"adhoc.io/session": "s1", "adhoc.io/user": "bob"}, phase="Failed",
                     init_containers=("init",), containers=("a", "b"), cpu="500m", memory="2Gi",
                     created="2026-01-31T23:30:00Z", finished="2026-02-01T00:30:00Z")  # fmt: skip
    obj["metadata"].update(uid="u1", namespace="spark")
    pod = PodInfo.from_json(obj)
    assert pod is not None and pod.ended and pod.user == "bob"
    assert pod.containers == ("init", "a", "b")
    assert (pod.cpu_request, pod.memory_request) == (1.0, 4 * 2**30)
    assert pod.finished_at is not None and pod.started_at is not None
    assert pod.finished_at - pod.started_at == 3600
    assert pod.store_key == "2026/01/31/s1/exec-1.log"  # the creation date, UTC
    obj["metadata"]["labels"] = {"adhoc.io/session-x": "s1"}
    assert PodInfo.from_json(obj) is None
    obj["metadata"]["labels"] = {"adhoc.io/session": "../x"}
    assert PodInfo.from_json(obj) is None
