"""The gateway's cost, measured against a direct connection to the same engine in one run.

    python -m benchmarks.gateway [--quick]

1. 1M rows x 3 columns fetched with pyhive, through the gateway / direct (target <= 1.10x).
1b. The same through beeline (Hive JDBC 2.3, which asks for the operation's status around every
   row it reads): 100k rows as csv2, end to end, best of 3 alternating (target <= 1.10x).
2. SELECT 1 round trips: p50/p99 direct and through the gateway (target p50 ratio <= 1.30x).
3. 500 idle client connections, each with an open session: the gateway's RSS (target <= 150 MB).
4. 50 concurrent clients x 20 queries: errors (target 0).
5. The engine's own time hides the gateway's, so also: per-RPC latency through the gateway vs a
   plain TCP byte relay, both in front of an instant-reply fake engine (target <= 100 us p50 added):
   GetOperationStatus of a finished operation (the gateway answers it from the engine's last
   status reply), GetResultSetMetadata (relayed untouched) and ExecuteStatement (decoded, checked).

The gateway, the relay and the fake engine each run in their own process, so their CPU and memory
are their own. Figures only, no asserts; results also go to benchmarks/results-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyhive import hive
from TCLIService import ttypes

from tests.hs2_raw import RawClient, encode_call, recv_exact
from tests.sts import RunningSTS, free_port, spark_home, start_sts

ROOT = Path(__file__).resolve().parent.parent
Row = tuple[str, str, str, str, str]


@contextmanager
def process(args: list[str], ready: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if ready not in line:
            raise RuntimeError(f"{args[2:4]} did not start: {line!r}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def gateway(engine_address: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "adhoc.toml"
        config.write_text(f'[[engines]]\nname = "bench"\nkind = "local"\naddress = "{engine_address}"\n')
        port = free_port()
        cmd = [sys.executable, "-m", "adhoc", "serve", "--config", str(config), "--thrift-port", str(port),
               "--http-port", str(free_port()), "--log-level", "WARNING"]  # fmt: skip
        with process(cmd, "adhoc ready") as proc:
            yield port, proc


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def fetch_seconds(port: int, rows: int) -> float:
    with hive.connect("127.0.0.1", port=port, username="bench") as conn:
        cur = conn.cursor()
        cur.arraysize = 10_000
        started = time.perf_counter()
        cur.execute(f"SELECT id, id * 2 AS b, CAST(id AS STRING) AS c FROM range({rows})")
        count = len(cur.fetchall())
        assert count == rows
        return time.perf_counter() - started


def beeline_seconds(port: int, rows: int) -> float:
    """One beeline run end to end (JVM start included, the same on both paths)."""
    home = spark_home()
    sql = f"SELECT id, cast(id as string) FROM range({rows})"
    cmd = [f"{home}/bin/beeline", "-u", f"jdbc:hive2://127.0.0.1:{port}/default", "-n", "bench",
           "--outputformat=csv2", "-e", sql]  # fmt: skip
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ, SPARK_HOME=home),
                         stdin=subprocess.DEVNULL)  # fmt: skip
    took = time.perf_counter() - started
    lines = out.stdout.count("\n")
    if out.returncode != 0 or lines != rows + 1:
        raise RuntimeError(f"beeline on port {port} printed {lines} lines: {out.stderr[-500:]}")
    return took


def best_alternating(
    measure: Callable[[int], float], direct_port: int, gateway_port: int, n: int
) -> tuple[float, float]:
    """Best of n on each path, taken in turns so a busy moment on a shared machine hits both."""
    direct, through = [], []
    for _ in range(n):
        direct.append(measure(direct_port))
        through.append(measure(gateway_port))
    return min(direct), min(through)


def select1_ms(port: int, n: int) -> list[float]:
    with hive.connect("127.0.0.1", port=port, username="bench") as conn:
        cur = conn.cursor()
        for _ in range(10):
            cur.execute("SELECT 1")
            cur.fetchall()
        out = []
        for _ in range(n):
            started = time.perf_counter()
            cur.execute("SELECT 1")
            cur.fetchall()
            out.append((time.perf_counter() - started) * 1000)
        return out


def idle_connections(port: int, pid: int, n: int) -> tuple[float, float]:
    before = rss_mb(pid)
    with ThreadPoolExecutor(16) as pool:
        conns = list(pool.map(lambda i: hive.connect("127.0.0.1", port=port, username=f"idle{i % 50}"), range(n)))
    time.sleep(1)
    held = rss_mb(pid)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda c: c.close(), conns))
    return before, held


def concurrent_clients(port: int, clients: int, queries: int) -> tuple[int, float]:
    errors: list[BaseException] = []

    def client(n: int) -> None:
        try:
            with hive.connect("127.0.0.1", port=port, username=f"c{n}") as conn:
                cur = conn.cursor()
                for i in range(queries):
                    cur.execute(f"SELECT {n * 1000 + i}")
                    if cur.fetchall() != [(n * 1000 + i,)]:
                        raise AssertionError("wrong result")
        except BaseException as e:  # counted, reported
            errors.append(e)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(errors), time.perf_counter() - started


class RpcClient:
    """A raw HS2 client with one session and one operation, timing single calls."""

    def __init__(self, port: int) -> None:
        self.client = RawClient("127.0.0.1", port)
        self.client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.sasl_login("bench")
        session = self.client.open_session("bench").sessionHandle
        execute = ttypes.TExecuteStatementReq(sessionHandle=session, statement="SELECT 1", runAsync=True)
        op = self.client.call("ExecuteStatement", execute).operationHandle
        self.frames = {
            name: struct.pack(">I", len(m)) + m
            for name, m in (
                ("GetOperationStatus", encode_call("GetOperationStatus", ttypes.TGetOperationStatusReq(op))),
                ("GetResultSetMetadata", encode_call("GetResultSetMetadata", ttypes.TGetResultSetMetadataReq(op))),
                ("ExecuteStatement", encode_call("ExecuteStatement", execute)),
            )
        }

    def time_us(self, name: str, n: int) -> list[float]:
        frame, sock, out = self.frames[name], self.client.sock, []
        for _ in range(n):
            started = time.perf_counter()
            sock.sendall(frame)
            (length,) = struct.unpack(">I", recv_exact(sock, 4))
            recv_exact(sock, length)
            out.append((time.perf_counter() - started) * 1e6)
        return out


def rpc_compare(relay_port: int, gateway_port: int, n: int) -> dict[str, tuple[list[float], list[float]]]:
    """Relay and gateway timed in alternating blocks, so drift on a shared machine hits both alike."""
    relay, through = RpcClient(relay_port), RpcClient(gateway_port)
    out: dict[str, tuple[list[float], list[float]]] = {}
    for name in relay.frames:
        relay.time_us(name, 200), through.time_us(name, 200)  # warm up
        a: list[float] = []
        b: list[float] = []
        for _ in range(10):
            a += relay.time_us(name, n // 10)
            b += through.time_us(name, n // 10)
        out[name] = (a, b)
    return out


def run(quick: bool) -> list[Row]:
    rows: list[Row] = []
    add: Callable[..., None] = lambda *r: rows.append(tuple(map(str, r)))  # noqa: E731
    n_rows = 200_000 if quick else 1_000_000
    sts: RunningSTS = start_sts(extra_args=("--hiveconf", "hive.server2.thrift.max.worker.threads=1200"))
    try:
        with gateway(sts.address) as (port, proc):
            fetch_seconds(port, 10_000)  # warm both paths and the engine
            direct = min(fetch_seconds(sts.port, n_rows) for _ in range(3))
            through = min(fetch_seconds(port, n_rows) for _ in range(3))
            add(f"{n_rows:,} x 3 fetch, best of 3 (s)", f"{direct:.2f}", f"{through:.2f}", f"{through / direct:.3f}x",
                "<= 1.10x")  # fmt: skip
            bl_rows = 20_000 if quick else 100_000
            direct, through = best_alternating(lambda p: beeline_seconds(p, bl_rows), sts.port, port, 2 if quick else 3)
            add(f"beeline {bl_rows:,} x 2 csv2, best of {2 if quick else 3} (s)", f"{direct:.2f}", f"{through:.2f}",
                f"{through / direct:.3f}x", "<= 1.10x")  # fmt: skip
            samples = 50 if quick else 200
            d, g = select1_ms(sts.port, samples), select1_ms(port, samples)
            d50, d99, g50, g99 = percentile(d, 0.5), percentile(d, 0.99), percentile(g, 0.5), percentile(g, 0.99)
            add("SELECT 1 round trip p50 / p99 (ms)", f"{d50:.1f} / {d99:.1f}", f"{g50:.1f} / {g99:.1f}",
                f"{g50 / d50:.2f}x, {g50 - d50:+.1f} / {g99 - d99:+.1f} ms", "<= 1.30x")  # fmt: skip
            idle = 100 if quick else 500
            before, held = idle_connections(port, proc.pid, idle)
            add(f"{idle} idle sessions held: gateway RSS (MB)", "", f"{before:.0f} -> {held:.0f}", "", "<= 150 MB")
            clients = 10 if quick else 50
            errors, wall = concurrent_clients(port, clients, 20)
            add(f"{clients} clients x 20 queries", "", f"{errors} errors in {wall:.1f} s", "", "0 errors")
    finally:
        sts.stop()
    fake_port, relay_port = free_port(), free_port()
    with process([sys.executable, "-m", "benchmarks.fake_engine", str(fake_port)], "ready"):
        with process([sys.executable, "-m", "benchmarks.tcp_relay", str(relay_port), str(fake_port)], "ready"):
            with gateway(f"127.0.0.1:{fake_port}") as (port, _):
                for call, (a, b) in rpc_compare(relay_port, port, 1000 if quick else 6000).items():
                    r50, r99, g50, g99 = (
                        percentile(a, 0.5),
                        percentile(a, 0.99),
                        percentile(b, 0.5),
                        percentile(b, 0.99),
                    )
                    add(f"{call} RPC vs TCP relay p50 / p99 (us)", f"{r50:.0f} / {r99:.0f}", f"{g50:.0f} / {g99:.0f}",
                        f"{g50 - r50:+.0f} / {g99 - r99:+.0f} us", "<= +100 us p50")  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller figures, for a smoke run")
    args = parser.parse_args()
    os.environ.pop("ADHOC_TEST_STS", None)
    rows = run(args.quick)
    header: Row = ("figure", "direct / relay", "gateway", "ratio / added", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    results: dict[str, Any] = {r[0]: dict(zip(header[1:], r[1:], strict=True)) for r in rows}
    (ROOT / "benchmarks" / "results-latest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
