"""HiveServer2's HTTP transport: adhoc's against the Spark Thrift Server's own, and against adhoc's binary.

    python -m benchmarks.http [--rows 100000] [--runs 2]

A beeline fetch of `--rows` rows (csv2, default fetch size), end to end, best of `--runs`, taken in
turns: (a) beeline over HTTP straight to an STS in HTTP mode; (b) beeline over HTTP to adhoc, which
relays binary Thrift to an STS in binary mode; (c) beeline over adhoc's binary port. Goals
(issue 18): b/a <= 1.0 (adhoc's HTTP front faster than Spark's own), b/c <= 1.3.

Beside the times: the Thrift calls (= HTTP requests) one fetch makes, from the gateway's /metrics
(Hive JDBC asks for the status around every row it reads: ~1 request per row), the gateway
process's CPU per run (/proc/PID/stat), beeline's own CPU (user + system: Hive JDBC's HTTP client
costs it about twice its binary transport's, a floor no server removes) and the load average at
start and end (the figures are upper bounds on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.gateway import process
from tests.sts import free_port, spark_home, start_sts


def beeline(url: str, rows: int) -> tuple[float, float]:
    """(wall seconds, beeline's own CPU seconds) of one fetch."""
    home = spark_home()
    cmd = [f"{home}/bin/beeline", "-u", url, "-n", "bench", "-p", "x", "--outputformat=csv2", "-e",
           f"SELECT id, cast(id as string) FROM range({rows})"]  # fmt: skip
    started, cpu_before = time.perf_counter(), children_cpu_s()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=dict(os.environ, SPARK_HOME=home),
                         stdin=subprocess.DEVNULL)  # fmt: skip
    took = time.perf_counter() - started
    if out.returncode != 0 or out.stdout.count("\n") != rows + 1:
        raise RuntimeError(f"beeline {url}: {out.stderr[-800:]}")
    return took, children_cpu_s() - cpu_before


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def calls_so_far(metrics_url: str) -> dict[str, float]:
    calls: dict[str, float] = {}
    for line in urllib.request.urlopen(metrics_url, timeout=10).read().decode().splitlines():
        if line.startswith("adhoc_calls_total{"):
            name, value = line.split('call="', 1)[1].split('"}')
            calls[name] = float(value)
    return calls


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    binary_sts, http_sts = start_sts(), start_sts(http=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "adhoc.toml"
            config.write_text(f'[[engines]]\nname = "bench"\nkind = "local"\naddress = "{binary_sts.address}"\n')
            port, http_port, api_port = free_port(), free_port(), free_port()
            cmd = [sys.executable, "-m", "adhoc", "serve", "--config", str(config), "--thrift-port", str(port),
                   "--thrift-http-port", str(http_port), "--http-port", str(api_port),
                   "--log-level", "WARNING"]  # fmt: skip
            metrics = f"http://127.0.0.1:{api_port}/metrics"
            load_before = os.getloadavg()
            with process(cmd, "adhoc ready") as gateway:
                urls = {
                    "STS http (direct)": f"jdbc:hive2://127.0.0.1:{http_sts.port}/default;transportMode=http;httpPath=cliservice",
                    "adhoc http": f"jdbc:hive2://127.0.0.1:{http_port}/default;transportMode=http;httpPath=cliservice",
                    "adhoc binary": f"jdbc:hive2://127.0.0.1:{port}/default",
                }  # fmt: skip
                times: dict[str, list[float]] = {k: [] for k in urls}
                cpu: dict[str, list[float]] = {k: [] for k in urls}
                client_cpu: dict[str, list[float]] = {k: [] for k in urls}
                calls: dict[str, float] = {}
                for _ in range(args.runs):
                    for name, url in urls.items():
                        calls_before, cpu_before = calls_so_far(metrics), cpu_s(gateway.pid)
                        took, client = beeline(url, args.rows)
                        times[name].append(took)
                        client_cpu[name].append(client)
                        cpu[name].append(cpu_s(gateway.pid) - cpu_before)
                        if name == "adhoc http":
                            after = calls_so_far(metrics)
                            calls = {k: v - calls_before.get(k, 0.0) for k, v in after.items()}
        best = {k: min(v) for k, v in times.items()}
        for name, took in best.items():
            gateway_cpu = "" if name.startswith("STS") else f", gateway CPU {min(cpu[name]):.2f} s"
            gateway_cpu += f", beeline's own CPU {min(client_cpu[name]):.2f} s"
            print(
                f"beeline {args.rows:,} rows, {name}: best {took:.2f} s of {args.runs}"
                f" (all: {', '.join(f'{t:.2f}' for t in times[name])}){gateway_cpu}"
            )
        print("HTTP requests of one fetch: " + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(calls.items()) if v))
        print(
            "load average "
            + " / ".join(f"{x:.2f}" for x in load_before)
            + " at start, "
            + " / ".join(f"{x:.2f}" for x in os.getloadavg())
            + " at end"
        )
        print(f"adhoc http / STS http   = {best['adhoc http'] / best['STS http (direct)']:.2f}x   goal <= 1.0x")
        print(f"adhoc http / adhoc binary = {best['adhoc http'] / best['adhoc binary']:.2f}x   goal <= 1.3x")
    finally:
        binary_sts.stop()
        http_sts.stop()


if __name__ == "__main__":
    main()
