"""Engine log collection, measured through a real `adhoc serve` against the fake K8s API and moto S3.

    python -m benchmarks.logs [--quick]

1. 200 pods of 20 sessions ending within a second: time until all are stored and deleted (target 60 s).
2. One 50 MB log: the gateway's peak RSS (VmHWM) before and after storing it (target < 200 MB).
3. Live follow: GET /logs/{session}/{pod} held open while lines are appended to the running pod's
   log; time from append (at the API) to arrival (at the HTTP client), p50/p99 (target: seconds).

The fake API and S3 run in this process, the gateway in its own, so its memory is its own.
Figures only, no asserts.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

from tests.fakes.k8s_api import FakeKubeApi, pod_object
from tests.logs.s3 import S3Server
from tests.logs.served import ServedGateway, write_config

NS = "spark"
DRIVER = "spark-kubernetes-driver"
CREATED = "2026-12-03T08:00:00Z"


def labels(session: str) -> dict[str, str]:
    return {"adhoc.io/session": session, "adhoc.io/user": "bench"}


def wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def run(quick: bool) -> None:
    s3 = S3Server()
    s3.start()
    with tempfile.TemporaryDirectory() as tmp, FakeKubeApi() as api:
        assert isinstance(api, FakeKubeApi)
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        s3.client().create_bucket(Bucket=bucket)
        kubeconfig = str(api.write_kubeconfig(Path(tmp) / "kubeconfig", namespace=NS))
        gateway = ServedGateway(write_config(Path(tmp), kubeconfig, s3, bucket)).start()
        try:
            baseline = gateway.peak_rss_mb()
            print(f"gateway ready, peak RSS so far {baseline:.0f} MiB")

            # 1. 200 pods ending together
            pods = [(f"sess-{i % 20:02d}", f"pod-{i:03d}") for i in range(200)]
            for session, name in pods:
                api.put("pods", NS, pod_object(name, labels=labels(session), created=CREATED))
                api.watches.append_log(NS, name, DRIVER, f"{name} INFO task done\n".encode() * 500)
            time.sleep(1.0)
            started = time.monotonic()
            for _, name in pods:
                obj = api.get("pods", NS, name)
                assert obj is not None
                obj["status"] = pod_object(name, phase="Succeeded", created=CREATED)["status"]
                api.put("pods", NS, obj)
            ended_in = time.monotonic() - started
            done = wait(lambda: len(api.watches.deletions) >= 200, 120)
            took = time.monotonic() - started
            print(f"1. 200 pods (ended within {ended_in:.2f} s): all stored and deleted in {took:.1f} s"
                  f"{'' if done else ' (NOT ALL)'} — {took / 60:.2f}x of the 60 s target")  # fmt: skip

            # 2. a 50 MB log
            size = 10_000_000 if quick else 50_000_000
            line = b"26/12/03 09:00:00 INFO Executor: Finished task 0.0 in stage 1.0 (TID 1). 2000 bytes\n"
            api.watches.append_log(NS, "big", DRIVER, line * (size // len(line)))  # the log, then the ended pod
            api.put("pods", NS, pod_object("big", labels=labels("big"), phase="Failed", created=CREATED))
            before = gateway.peak_rss_mb()
            started = time.monotonic()
            wait(lambda: len(api.watches.deletions) >= 201, 300)
            took = time.monotonic() - started
            peak = gateway.peak_rss_mb()
            stored = s3.client().head_object(Bucket=bucket, Key="adhoc/2026/12/03/big/big.log")["ContentLength"]
            print(f"2. {stored / 1e6:.0f} MB log stored in {took:.1f} s; gateway peak RSS {before:.0f} -> "
                  f"{peak:.0f} MiB — {peak / 200:.2f}x of the 200 MB target")  # fmt: skip

            # 3. live follow latency
            api.put("pods", NS, pod_object("live", labels=labels("live"), created=CREATED))
            api.watches.append_log(NS, "live", DRIVER, b"started\n")
            wait(lambda: requests.get(f"{gateway.http_url}/logs/live/", timeout=5).json()["pods"], 20)
            got = bytearray()
            arrived: dict[int, float] = {}
            with requests.get(f"{gateway.http_url}/logs/live/live", stream=True, timeout=60) as resp:

                def read() -> None:
                    try:
                        for chunk in resp.iter_content(chunk_size=None):
                            got.extend(chunk)
                            for n in range(len(arrived), got.count(b"\n")):
                                arrived[n] = time.monotonic()
                    except Exception:
                        pass  # the response was closed under us at the end

                threading.Thread(target=read, daemon=True).start()
                wait(lambda: 0 in arrived, 10)
                latencies = []
                for i in range(1, 21 if quick else 51):
                    sent = time.monotonic()
                    api.watches.append_log(NS, "live", DRIVER, f"line {i}\n".encode())
                    wait(lambda i=i: i in arrived, 10)  # type: ignore[misc]
                    latencies.append((arrived.get(i, time.monotonic()) - sent) * 1000)
                    time.sleep(0.05)
                ended = pod_object("live", labels=labels("live"), phase="Succeeded", created=CREATED)
                api.put("pods", NS, {**api.get("pods", NS, "live"), "status": ended["status"]})  # type: ignore[dict-item]
            latencies.sort()
            p99 = latencies[int(len(latencies) * 0.99) - 1]
            print(f"3. live follow: appended text arrives p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms")
        finally:
            gateway.stop()
    s3.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 10 MB log and 20 follow samples")
    run(parser.parse_args().quick)


if __name__ == "__main__":
    main()
