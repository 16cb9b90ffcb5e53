"""HiveServer2's HTTP transport: adhoc's against the Spark Thrift Server's own, and against adhoc's binary.

    python -m benchmarks.http [--rows 100000] [--runs 2]

A beeline fetch of `--rows` rows (csv2, default fetch size), end to end, best of `--runs`, taken in
turns: (a) beeline over HTTP straight to an STS in HTTP mode; (b) beeline over HTTP to adhoc, which
relays binary Thrift to an STS in binary mode; (c) beeline over adhoc's binary port. Goals
(issue 18): b/a <= 1.0 (adhoc's HTTP front faster than Spark's own), b/c <= 1.3.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.gateway import process
from tests.sts import free_port, spark_home, start_sts


def beeline(url: str, rows: int) -> float:
    home = spark_home()
    cmd = [f"{home}/bin/beeline", "-u", url, "-n", "bench", "-p", "x", "--outputformat=csv2", "-e",
           f"SELECT id, cast(id as string) FROM range({rows})"]  # fmt: skip
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=dict(os.environ, SPARK_HOME=home),
                         stdin=subprocess.DEVNULL)  # fmt: skip
    took = time.perf_counter() - started
    if out.returncode != 0 or out.stdout.count("\n") != rows + 1:
        raise RuntimeError(f"beeline {url}: {out.stderr[-800:]}")
    return took


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
            port, http_port = free_port(), free_port()
            cmd = [sys.executable, "-m", "adhoc", "serve", "--config", str(config), "--thrift-port", str(port),
                   "--thrift-http-port", str(http_port), "--http-port", str(free_port()),
                   "--log-level", "WARNING"]  # fmt: skip
            with process(cmd, "adhoc ready"):
                urls = {
                    "STS http (direct)": f"jdbc:hive2://127.0.0.1:{http_sts.port}/default;transportMode=http;httpPath=cliservice",
                    "adhoc http": f"jdbc:hive2://127.0.0.1:{http_port}/default;transportMode=http;httpPath=cliservice",
                    "adhoc binary": f"jdbc:hive2://127.0.0.1:{port}/default",
                }  # fmt: skip
                times: dict[str, list[float]] = {k: [] for k in urls}
                for _ in range(args.runs):
                    for name, url in urls.items():
                        times[name].append(beeline(url, args.rows))
        best = {k: min(v) for k, v in times.items()}
        for name, took in best.items():
            print(f"beeline {args.rows:,} rows, {name}: best {took:.2f} s of {args.runs}")
        print(f"adhoc http / STS http   = {best['adhoc http'] / best['STS http (direct)']:.2f}x   goal <= 1.0x")
        print(f"adhoc http / adhoc binary = {best['adhoc http'] / best['adhoc binary']:.2f}x   goal <= 1.3x")
    finally:
        binary_sts.stop()
        http_sts.stop()


if __name__ == "__main__":
    main()
