"""Many idle sessions on one gateway: its memory per session, and every process's descriptors.

    python -m benchmarks.gateway --idle-sessions 10000

Clients, gateway and fake engine each run in their own process, so each one's descriptors are
its own: a client holds 1 socket per session, the gateway 2 (the client's and its engine
connection; HS2 sessions die with their engine connection, so it cannot be shared), the fake
engine 1. The gateway is started asking for RLIMIT_NOFILE = 2 per session + 1,000 (soft and hard,
as systemd's LimitNOFILE sets both). Raising a hard limit needs CAP_SYS_RESOURCE; without it the
hard limit stays, and the run opens only as many sessions as that holds (and says so): 10,000
sessions need 20,000 sockets plus the gateway's own ~15 descriptors, more than a hard limit of
20,000 gives. `adhoc serve` says the same at start when `max_connections` needs more.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks.processes import descriptors, gateway, open_files_limit, process, rss_mib, shown
from tests.hs2_raw import RawClient
from tests.sts import free_port

GOAL_MIB, GOAL_KIB_PER_SESSION = 200, 12


@dataclass
class IdleFigures:
    opened: int
    errors: list[str]
    base_mib: float
    held_mib: float
    per_session_kib: float
    gateway_fds: str
    engine_fds: str
    client_fds: str
    gateway_limit: tuple[int, int]
    open_seconds: float
    asked: int  # sessions asked for; more than the gateway's open-files limit holds are not tried


def open_idle_session(port: int, i: int) -> RawClient:
    client = RawClient("127.0.0.1", port, timeout=120)
    user = f"idle{i % 50}"
    client.sasl_login(user)
    resp = client.open_session(user)
    if resp.status.statusCode != 0:
        client.close()
        raise RuntimeError(resp.status.errorMessage)
    return client


def idle_sessions(n: int, open_files: tuple[int, int]) -> IdleFigures:
    fake_port = free_port()
    server = f"max_connections = {n + 100}"
    with process([sys.executable, "-m", "benchmarks.fake_engine", str(fake_port)], "ready", open_files) as engine:
        with gateway(f"127.0.0.1:{fake_port}", server, open_files) as (port, proc):
            open_idle_session(port, 0).close()  # warm: first login, first route, imports
            time.sleep(0.5)
            base = rss_mib(proc.pid)
            soft, _ = open_files_limit(proc.pid)
            asked, n = n, min(n, (soft - sum(descriptors(proc.pid).values()) - 2) // 2)
            clients: list[RawClient] = []
            errors: list[str] = []

            def one(i: int) -> None:
                try:
                    clients.append(open_idle_session(port, i))
                except Exception as e:  # counted, the first few shown
                    errors.append(f"{type(e).__name__}: {e}")

            started = time.perf_counter()
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(one, range(n)))
            took = time.perf_counter() - started
            time.sleep(1)
            held = rss_mib(proc.pid)
            figures = IdleFigures(
                opened=len(clients), errors=errors, base_mib=base, held_mib=held,
                per_session_kib=(held - base) * 1024 / max(len(clients), 1),
                gateway_fds=shown(descriptors(proc.pid)), engine_fds=shown(descriptors(engine.pid)),
                client_fds=shown(descriptors(os.getpid())), gateway_limit=open_files_limit(proc.pid),
                open_seconds=took, asked=asked,
            )  # fmt: skip
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda c: c.close(), clients))
            return figures


def rows(figures: IdleFigures, n: int) -> list[tuple[str, ...]]:
    errors = f"{len(figures.errors)} errors" + (f" (first: {figures.errors[0]})" if figures.errors else "")
    soft, hard = figures.gateway_limit
    capped = f" (the gateway's open-files limit {soft:,} holds no more)" if figures.asked > figures.opened else ""
    return [
        (f"{n:,} idle sessions opened", "", f"{figures.opened:,} in {figures.open_seconds:.0f} s, {errors}{capped}",
         "", "0 errors"),
        (f"{n:,} idle sessions: gateway RSS (MiB)", "", f"{figures.base_mib:.0f} -> {figures.held_mib:.0f}",
         f"{figures.per_session_kib:.1f} KiB/session", f"<= {GOAL_MIB} MiB, <= {GOAL_KIB_PER_SESSION} KiB/session"),
        ("descriptors held: gateway", f"limit {soft:,}/{hard:,}", figures.gateway_fds, "", "2 per session"),
        ("descriptors held: fake engine / clients", "", f"{figures.engine_fds} / {figures.client_fds}", "", ""),
    ]  # fmt: skip
