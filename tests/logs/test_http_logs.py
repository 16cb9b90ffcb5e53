"""Engine logs and cost as a user sees them: pyhive's ADHOC DESC SESSION, /api/v1/sessions,
/metrics and /logs/..., from a real `adhoc serve` whose k8s engine is the test Spark Thrift Server."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from pyhive import hive

from adhoc.auth.passwd import passwd_main
from tests.fakes.k8s_api import FakeKubeApi, pod_object
from tests.logs.s3 import S3Server
from tests.logs.served import ServedGateway, write_config
from tests.logs.test_served import DRIVER, NS, until
from tests.sts import RunningSTS


@pytest.fixture
def served(sts: RunningSTS, s3: S3Server, tmp_path: Path) -> Iterator[tuple[ServedGateway, FakeKubeApi]]:
    users = tmp_path / "users.toml"
    for user in ("alice", "bob"):
        passwd_main(str(users), user, stdin=io.StringIO(f"{user}-pw\n"), stderr=io.StringIO())
    with FakeKubeApi() as api:
        assert isinstance(api, FakeKubeApi)
        kubeconfig = str(api.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS))
        auth = f'[auth]\nmethod = "file"\nusers = "{users}"\n'
        config = write_config(tmp_path, kubeconfig, s3, s3.bucket, auth=auth, engine=sts.address)  # type: ignore[attr-defined]
        gateway = ServedGateway(config).start()
        try:
            yield gateway, api
        finally:
            gateway.stop()


def desc(cursor: Any) -> dict[str, Any]:
    cursor.execute("ADHOC DESC SESSION")
    return dict(zip([d[0] for d in cursor.description], cursor.fetchall()[0], strict=True))


def test_cost_and_live_then_stored_logs_of_a_k8s_session(served: tuple[ServedGateway, FakeKubeApi]) -> None:
    gateway, api = served
    host, port = gateway.ready.split("thrift=")[1].split()[0].rsplit(":", 1)
    alice, bob = ("alice", "alice-pw"), ("bob", "bob-pw")
    with hive.connect(host, port=int(port), username="alice", password="alice-pw", auth="CUSTOM") as conn:
        cursor = conn.cursor()
        row = desc(cursor)
        session_id = row["session_id"]
        assert row["route"] == "k8s" and row["cost"] is None  # no pod of it seen yet
        assert row["logs_url"] == f"{gateway.http_url}/logs/{session_id}/"
        an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        mine = {"adhoc.io/session": session_id, "adhoc.io/user": "alice"}
        api.put("pods", NS, pod_object("driver", labels=mine, cpu="2", memory="4Gi", created=an_hour_ago))
        api.watches.append_log(NS, "driver", DRIVER, b"driver starting\n")
        api.watches.append_log(NS, "exec-1", DRIVER, b"executor lost\n")  # the log first: the pod has ended
        api.put("pods", NS, pod_object("exec-1", labels=mine, phase="Failed", created=an_hour_ago))
        until(lambda: (desc(cursor)["cost"] or 0) > 0, 20, "a cost for the session")
        # an hour each: the driver's 2 cores + 4 GiB, the executor's 1 core + 1 GiB, at 0.04 and 0.005
        # the driver alone passes 0.1 as soon as its running hour grows by a millisecond: wait for more than it
        until(lambda: desc(cursor)["cost"] > 0.12, 20, "both pods' cost")
        assert desc(cursor)["cost"] == pytest.approx((2 * 0.04 + 4 * 0.005) + (0.04 + 0.005), rel=0.05)
        base = gateway.http_url
        api_row = requests.get(f"{base}/api/v1/sessions/{session_id}", auth=alice, timeout=10).json()
        assert api_row["cost"] > 0 and "estimate" in api_row["cost_basis"]
        metrics = requests.get(f"{base}/metrics", timeout=10).text
        assert f'adhoc_session_cost_estimate{{engine="k8s-main",session_id="{session_id}",user="alice"}}' in metrics

        listing_url = f"{base}/logs/{session_id}/"
        assert requests.get(listing_url, timeout=10).status_code == 401
        assert requests.get(listing_url, auth=bob, timeout=10).status_code == 404
        until(lambda: api.get("pods", NS, "exec-1") is None, 20, "the ended executor stored and deleted")
        listing = requests.get(listing_url, auth=alice, timeout=10).json()
        assert {p["pod"]: p["state"] for p in listing["pods"]} == {"driver": "running", "exec-1": "stored"}
        assert requests.get(f"{listing_url}exec-1", auth=alice, timeout=10).content == b"executor lost\n"
        assert requests.get(f"{listing_url}nope", auth=alice, timeout=10).status_code == 404
        assert requests.get(f"{base}/logs/no-such-session/", auth=alice, timeout=10).status_code == 404

        # the running driver's log, followed: text appended later arrives while the request is open
        got = bytearray()
        with requests.get(f"{listing_url}driver", auth=alice, stream=True, timeout=30) as resp:
            assert resp.status_code == 200
            chunks = resp.iter_content(chunk_size=None)

            def read() -> None:
                for chunk in chunks:
                    got.extend(chunk)

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            until(lambda: bytes(got) == b"driver starting\n", 10, "the log so far")
            appended = time.monotonic()
            api.watches.append_log(NS, "driver", DRIVER, b"stage 1 done\n")
            until(lambda: bytes(got).endswith(b"stage 1 done\n"), 5, "appended text, live")
            latency = time.monotonic() - appended
            ended = pod_object("driver", labels=mine, phase="Succeeded", created=an_hour_ago)
            api.put("pods", NS, {**api.get("pods", NS, "driver"), "status": ended["status"]})  # type: ignore[dict-item]
            reader.join(10)
            assert not reader.is_alive(), "the followed log ends when the pod does"
        assert latency < 3
        until(lambda: api.get("pods", NS, "driver") is None, 20, "the driver stored and deleted")
        stored = requests.get(f"{listing_url}driver", auth=alice, timeout=10)
        assert stored.content == b"driver starting\nstage 1 done\n"
        assert desc(cursor)["cost"] > 0  # the cost outlives the pods
