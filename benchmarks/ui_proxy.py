"""The UI proxy's cost: Spark UI pages through `/ui/<session_id>/` vs the same pages fetched directly.

    python -m benchmarks.ui_proxy [--quick]

1. Per page (jobs, executors, environment, a static script, the REST API): p50 of a direct fetch and
   of the same fetch through the proxy, interleaved, on kept-alive connections like a browser's
   (target: <= 5 ms p50 added per page).
2. A 10 MB response (binary, and HTML that the proxy rewrites) from a stand-in driver UI: the
   gateway's RSS before and its peak (VmHWM) after (target: bounded, not growing with the body).

The gateway runs as its own process (`adhoc serve`), so its memory is its own. Needs a Spark Thrift
Server: the one in ADHOC_TEST_STS with its UI in ADHOC_TEST_STS_UI, else one started here (~15 s).
Figures only, no asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from urllib.parse import urlsplit

from aiohttp import web
from pyhive import hive

from benchmarks.gateway import percentile, process
from tests.sts import free_port, start_sts

PAGES = ("jobs/", "executors/", "environment/", "static/jquery-3.5.1.min.js", "api/v1/applications")
BIG = 10 << 20


def big_ui_server(port: int) -> None:
    """A stand-in driver UI serving 10 MB bodies in 64 KB chunks, on its own thread and loop."""
    line = b'<tr><td><a href="/stages/stage/?id=1">stage</a></td><td>' + b"x" * 200 + b"</td></tr>\n"

    async def body(request: web.Request) -> web.StreamResponse:
        html = request.match_info["kind"] == "html"
        resp = web.StreamResponse(headers={"Content-Type": "text/html" if html else "application/octet-stream"})
        await resp.prepare(request)
        chunk = (line * (65536 // len(line) + 1))[:65536] if html else b"\0" * 65536
        for _ in range(BIG // 65536):
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/big.{kind}", body)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()


@contextmanager
def gateway(sts_address: str, ui_url: str, big_url: str) -> Iterator[tuple[int, str, int]]:
    with TemporaryDirectory() as tmp:
        config = Path(tmp) / "adhoc.toml"
        config.write_text(
            f'[[engines]]\nname = "sts"\nkind = "local"\naddress = "{sts_address}"\nui_url = "{ui_url}"\n'
            f'[[engines]]\nname = "big"\nkind = "local"\naddress = "{sts_address}"\nui_url = "{big_url}"\n'
        )
        thrift, http_port = free_port(), free_port()
        cmd = ["python", "-m", "adhoc", "serve", "--config", str(config), "--thrift-port", str(thrift),
               "--http-port", str(http_port), "--log-level", "WARNING"]  # fmt: skip
        with process(cmd, "adhoc ready") as proc:
            yield thrift, f"http://127.0.0.1:{http_port}", proc.pid


def session_link(thrift_port: int, route: str) -> tuple[hive.Connection, str]:
    conn = hive.connect("127.0.0.1", port=thrift_port, username="bench", configuration={"adhoc.route": route})
    cur = conn.cursor()
    cur.execute("ADHOC DESC SESSION")
    return conn, str(cur.fetchall()[0][5])


def get_ms(conn: http.client.HTTPConnection, path: str) -> float:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Encoding": "gzip, deflate", "Accept": "*/*"})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise RuntimeError(f"GET {path}: {resp.status}")
    return (time.perf_counter() - started) * 1000


def page_overhead(ui_url: str, link: str, n: int) -> None:
    direct_url, proxied_url = urlsplit(ui_url), urlsplit(link)
    direct = http.client.HTTPConnection(direct_url.netloc, timeout=60)
    proxied = http.client.HTTPConnection(proxied_url.netloc, timeout=60)
    print(f"{'page':34} {'direct p50':>11} {'proxy p50':>10} {'added p50':>10}")
    for page in PAGES:
        for _ in range(3):  # warm both paths (JIT in the driver, connections, page caches)
            get_ms(direct, "/" + page)
            get_ms(proxied, proxied_url.path + page)
        d, p, added = [], [], []
        for _ in range(n):
            a = get_ms(direct, "/" + page)
            b = get_ms(proxied, proxied_url.path + page)
            d.append(a)
            p.append(b)
            added.append(b - a)
        print(f"{page:34} {percentile(d, 0.5):9.2f}ms {percentile(p, 0.5):8.2f}ms {percentile(added, 0.5):8.2f}ms")


def status_kb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def big_bodies(link: str, pid: int) -> None:
    url = urlsplit(link)
    conn = http.client.HTTPConnection(url.netloc, timeout=60)
    print(f"gateway RSS before: {status_kb(pid, 'VmRSS'):.1f} MB (peak so far {status_kb(pid, 'VmHWM'):.1f} MB)")
    for kind in ("bin", "html"):
        started = time.perf_counter()
        conn.request("GET", f"{url.path}big.{kind}")
        resp = conn.getresponse()
        size = 0
        while chunk := resp.read(65536):
            size += len(chunk)
        took = time.perf_counter() - started
        print(f"10 MB {kind:4}: {size / 2**20:.1f} MB in {took * 1000:.0f} ms ({size / 2**20 / took:.0f} MB/s); "
              f"gateway RSS {status_kb(pid, 'VmRSS'):.1f} MB, peak {status_kb(pid, 'VmHWM'):.1f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 samples a page instead of 100")
    args = parser.parse_args()
    own = None
    if os.environ.get("ADHOC_TEST_STS") and os.environ.get("ADHOC_TEST_STS_UI"):
        sts_address, ui_url = os.environ["ADHOC_TEST_STS"], os.environ["ADHOC_TEST_STS_UI"]
    else:
        own = start_sts(extra_args=("--conf", "spark.ui.enabled=true"))
        sts_address, ui_url = own.address, f"http://127.0.0.1:{own.ui_port}"
    big_port = free_port()
    big_ui_server(big_port)
    try:
        with gateway(sts_address, ui_url, f"http://127.0.0.1:{big_port}") as (thrift, _, pid):
            conn, link = session_link(thrift, "sts")
            page_overhead(ui_url, link, 20 if args.quick else 100)
            big_conn, big_link = session_link(thrift, "big")
            big_bodies(big_link, pid)
            conn.close()
            big_conn.close()
    finally:
        if own is not None:
            own.stop()


if __name__ == "__main__":
    main()
