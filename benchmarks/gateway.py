"""The gateway's cost, against a direct connection to the same engine and a plain TCP relay.

    python -m benchmarks.gateway                      # everything (a Spark Thrift Server is started)
    python -m benchmarks.gateway --quick              # smaller figures, for a smoke run
    python -m benchmarks.gateway --fake-only          # only the figures against the fake engine (no Spark)
    python -m benchmarks.gateway --idle-sessions 10000  # only the idle-sessions run (fake engine)

Against a Spark Thrift Server, each path best of N, taken in turns (A/B/A/B):
1. 1M rows x 3 columns fetched with pyhive (goal <= 1.03x direct).
2. 100k rows through beeline (Hive JDBC 2.3 asks for the operation's status around every row it
   reads; the gateway answers those from the engine's stored reply) as csv2 (goal <= 1.0x direct).
3. SELECT 1 round trips p50/p99; 500 idle sessions' RSS; 50 clients x 20 queries (goal 0 errors).
Against the instant-reply fake engine (benchmarks/call_cost.py, benchmarks/idle_sessions.py):
4. 500 pyhive clients x 20 queries (goal 0 errors); the gateway's CPU per answered status call
   (goal <= 15 us) beside the machine's I/O floor;
5. per-RPC latency added over a plain TCP relay (goal <= 25 us p50): a status answered by the
   gateway, GetResultSetMetadata (relayed untouched), ExecuteStatement (decoded, checked);
6. 10,000 idle sessions: opened without error, gateway RSS <= 200 MiB (<= 12 KiB/session), and
   every process's descriptors.

The gateway, the relay and the fake engine each run in their own process, so their CPU and memory
are their own. Figures only, no asserts; results also go to benchmarks/results-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyhive import hive

from benchmarks.call_cost import answered_status_vs_floor, answered_status_work_us, rpc_compare
from benchmarks.processes import ROOT, gateway, process, rss_mib
from tests.sts import RunningSTS, free_port, spark_home, start_sts

__all__ = ["gateway", "percentile", "process"]  # also used by the other benchmarks

Row = tuple[str, str, str, str, str]
Add = Callable[..., None]


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
    before = rss_mib(pid)
    with ThreadPoolExecutor(16) as pool:
        conns = list(pool.map(lambda i: hive.connect("127.0.0.1", port=port, username=f"idle{i % 50}"), range(n)))
    time.sleep(1)
    held = rss_mib(pid)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda c: c.close(), conns))
    return before, held


def concurrent_clients(port: int, clients: int, queries: int) -> tuple[list[str], float]:
    """Each client's errors (type and message, the first of each client), and the wall time."""
    errors: list[str] = []

    def client(n: int) -> None:
        try:
            with hive.connect("127.0.0.1", port=port, username=f"c{n}") as conn:
                cur = conn.cursor()
                for i in range(queries):
                    cur.execute(f"SELECT {n * 1000 + i}")
                    if cur.fetchall() != [(n * 1000 + i,)]:
                        raise AssertionError("wrong result")
        except BaseException as e:  # counted, reported
            errors.append(f"{type(e).__name__}: {e}"[:200])

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors, time.perf_counter() - started


def clients_rows(add: Add, port: int, clients: int) -> None:
    errors, wall = concurrent_clients(port, clients, 20)
    first = f" (first: {errors[0]})" if errors else ""
    add(f"{clients} pyhive clients x 20 queries", "", f"{len(errors)} errors in {wall:.1f} s{first}",
        f"{clients * 20 / wall:,.0f} queries/s", "0 errors")  # fmt: skip


def sts_rows(add: Add, quick: bool) -> None:
    n_rows = 200_000 if quick else 1_000_000
    rounds = 2 if quick else 3
    sts: RunningSTS = start_sts(extra_args=("--hiveconf", "hive.server2.thrift.max.worker.threads=1200"))
    try:
        with gateway(sts.address, "max_connections = 2000") as (port, proc):
            fetch_seconds(port, 10_000)  # warm both paths and the engine
            direct, through = best_alternating(lambda p: fetch_seconds(p, n_rows), sts.port, port, rounds)
            add(f"pyhive {n_rows:,} x 3 fetch, best of {rounds} (s)", f"{direct:.2f}", f"{through:.2f}",
                f"{through / direct:.3f}x", "<= 1.03x")  # fmt: skip
            bl_rows = 20_000 if quick else 100_000
            direct, through = best_alternating(lambda p: beeline_seconds(p, bl_rows), sts.port, port, rounds)
            add(f"beeline {bl_rows:,} x 2 csv2, best of {rounds} (s)", f"{direct:.2f}", f"{through:.2f}",
                f"{through / direct:.3f}x", "<= 1.0x")  # fmt: skip
            samples = 50 if quick else 200
            d, g = select1_ms(sts.port, samples), select1_ms(port, samples)
            d50, d99, g50, g99 = percentile(d, 0.5), percentile(d, 0.99), percentile(g, 0.5), percentile(g, 0.99)
            add("SELECT 1 round trip p50 / p99 (ms)", f"{d50:.1f} / {d99:.1f}", f"{g50:.1f} / {g99:.1f}",
                f"{g50 / d50:.2f}x, {g50 - d50:+.1f} / {g99 - d99:+.1f} ms", "<= 1.30x")  # fmt: skip
            idle = 100 if quick else 500
            before, held = idle_connections(port, proc.pid, idle)
            add(f"{idle} idle pyhive sessions: gateway RSS (MiB)", "", f"{before:.0f} -> {held:.0f}",
                f"{(held - before) * 1024 / idle:.1f} KiB/session", "<= 12 KiB/session")  # fmt: skip
            # 50 here: the STS's own pool for async statements (hive.server2.async.exec.threads 100 +
            # wait queue 100) refuses the rest of 500 ("background threadpool cannot accept new
            # task"), and 500 direct clients break it too; 500 go to the fake engine below
            clients_rows(add, port, 10 if quick else 50)
    finally:
        sts.stop()


def fake_engine_rows(add: Add, quick: bool) -> None:
    fake_port, relay_port = free_port(), free_port()
    n = 5_000 if quick else 30_000
    with process([sys.executable, "-m", "benchmarks.fake_engine", str(fake_port)], "ready"):
        with process([sys.executable, "-m", "benchmarks.tcp_relay", str(relay_port), str(fake_port)], "ready"):
            with gateway(f"127.0.0.1:{fake_port}") as (port, proc):
                clients_rows(add, port, 50 if quick else 500)
                work = answered_status_work_us(n * 5)
                add("gateway's own work per answered status call (us CPU)", "", f"{work:.2f}",
                    "in process, no sockets", "<= 15 us")  # fmt: skip
                cpu, floor = answered_status_vs_floor(port, proc.pid, n)
                add(f"gateway process CPU per answered status call, best of 3 x {n:,} (us)", f"floor {floor:.1f}",
                    f"{cpu:.1f}", f"{cpu - floor:+.1f} us over the floor", "<= 15 us")  # fmt: skip
                for call, (a, b) in rpc_compare(relay_port, port, 1000 if quick else 6000).items():
                    r50, r99, g50, g99 = (
                        percentile(a, 0.5),
                        percentile(a, 0.99),
                        percentile(b, 0.5),
                        percentile(b, 0.99),
                    )
                    add(f"{call} RPC vs TCP relay p50 / p99 (us)", f"{r50:.0f} / {r99:.0f}", f"{g50:.0f} / {g99:.0f}",
                        f"{g50 - r50:+.0f} / {g99 - r99:+.0f} us", "<= +25 us p50")  # fmt: skip


def idle_session_rows(add: Add, n: int) -> None:
    from benchmarks.idle_sessions import idle_sessions, rows

    for row in rows(idle_sessions(n, (n * 2 + 1000, n * 2 + 1000)), n):
        add(*row)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller figures, for a smoke run")
    parser.add_argument("--fake-only", action="store_true", help="only the figures against the fake engine")
    parser.add_argument("--idle-sessions", type=int, metavar="N", help="only the run of N idle sessions")
    args = parser.parse_args()
    os.environ.pop("ADHOC_TEST_STS", None)
    rows: list[Row] = []
    add: Add = lambda *r: rows.append(tuple(map(str, r)))  # noqa: E731
    load = os.getloadavg()
    if args.idle_sessions:
        idle_session_rows(add, args.idle_sessions)
    else:
        if not args.fake_only:
            sts_rows(add, args.quick)
        fake_engine_rows(add, args.quick)
        if not args.quick:
            idle_session_rows(add, 10_000)
    print(f"load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}, at end "
          + " / ".join(f"{x:.2f}" for x in os.getloadavg()))  # fmt: skip
    header: Row = ("figure", "direct / relay", "gateway", "ratio / added", "goal")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    results: dict[str, Any] = {r[0]: dict(zip(header[1:], r[1:], strict=True)) for r in rows}
    results["load average"] = {"start": load, "end": os.getloadavg()}
    (ROOT / "benchmarks" / "results-latest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
