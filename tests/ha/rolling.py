"""A rolling restart of three `adhoc serve` replicas under 20 real clients through ZooKeeper (used by
tests/ha/test_rolling_restart.py and `python -m benchmarks.ha --real`).

Three replicas (real processes: SIGTERM, exit, start again on the same ports) share one ZooKeeper in
front of one Spark Thrift Server. 16 pyhive clients (pyhive has no ZooKeeper discovery: they do what
Hive JDBC does, read the children of /adhoc, pick one at random, try another when it fails) and 4
beeline processes at a time (Hive JDBC's own discovery, the ZooKeeper URL) run sessions of a few
statements each, over and over. Users may hold 2 sessions each, and the 4 users of group bi (8 of
the pyhive clients) 5 together, so some wait in the fleet's queue the whole time.

What counts as lost: any statement that, once its session was open, did not return its right
answer. A session that could not be opened (its replica had just left discovery, or told the
waiting session to connect again as it stopped) is opened again elsewhere — what Hive JDBC does.
A sampler reads ZooKeeper every 50 ms and keeps the highest count of open sessions per user and in
bi, across the fleet.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from pyhive import hive

from tests.ha.zookeeper import ZooKeeperServer
from tests.logs.s3 import free_port
from tests.logs.served import ServedGateway
from tests.sts import RunningSTS, spark_home

BI = [f"u{i}" for i in range(4)]
POLICY = f"""
[groups]
bi = {json.dumps(BI)}

[[limits]]
group = "bi"
max_sessions = 5

[[rules]]
principals = ["*"]
read = ["*.*"]
max_sessions = 2
"""


def replica_config(tmp: Path, index: int, sts: RunningSTS, zk: ZooKeeperServer) -> Path:
    config = tmp / f"replica-{index}.toml"
    config.write_text(f"""
[server]
host = "127.0.0.1"
thrift_port = {free_port()}
http_port = {free_port()}
thrift_http_port = 0
drain_timeout_s = 30
data_dir = "{tmp / f"data-{index}"}"

[routing]
queue_timeout_s = 120

[policy]
file = "{tmp / "policy.toml"}"

[ha]
zookeeper = "{zk.hosts}"
session_timeout_s = 4

[[engines]]
name = "sts"
kind = "local"
protocol = "sts"
address = "{sts.address}"
""")
    return config


@dataclass
class Tally:
    statements: int = 0
    sessions: int = 0
    reopened: int = 0  # sessions that could not open on the first replica tried, opened elsewhere
    lost: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


class Sampler:
    """The fleet's open sessions at one instant: the children of /adhoc-fleet/sessions (a session's
    index entry, made once it opened and removed when it closes), listed in one call — reading
    each user's places one by one would add up moments that never coexisted. Each new session's
    user is read once and remembered."""

    def __init__(self, zk: ZooKeeperServer) -> None:
        self.client = KazooClient(hosts=zk.hosts)
        self.client.start(10)
        self.peak_user = 0
        self.peak_bi = 0
        self.samples = 0
        self._users: dict[str, str] = {}  # session id -> user
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def open_sessions(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        try:
            ids = self.client.get_children("/adhoc-fleet/sessions")
        except NoNodeError:
            return counts
        for session_id in ids:
            if session_id not in self._users:
                try:
                    data, _ = self.client.get(f"/adhoc-fleet/sessions/{session_id}")
                except NoNodeError:
                    continue  # closed since the listing: its user is not known (counted next time if open)
                self._users[session_id] = str(json.loads(data or b"{}").get("user", ""))
            user = self._users[session_id]
            counts[user] = counts.get(user, 0) + 1
        return counts

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            counts = self.open_sessions()
            self.peak_user = max([self.peak_user, *counts.values()])
            self.peak_bi = max(self.peak_bi, sum(counts.get(u, 0) for u in BI))
            self.samples += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.client.stop()
        self.client.close()


def replica_ports(directory: KazooClient) -> list[int]:
    return [int(c.split(";")[0].rsplit(":", 1)[1]) for c in directory.get_children("/adhoc")]


def pyhive_client(user: str, n: int, directory: KazooClient, stop: threading.Event, tally: Tally) -> None:
    while not stop.is_set():
        ports = replica_ports(directory)
        random.shuffle(ports)
        conn = None
        for attempt, port in enumerate(ports):
            try:
                conn = hive.connect("127.0.0.1", port=port, username=user)
                tally.add(reopened=1 if attempt else 0)
                break
            except Exception:
                continue
        if conn is None:
            time.sleep(0.2)  # every replica refused (two were restarting): ask ZooKeeper again
            tally.add(reopened=1)
            continue
        try:
            cursor = conn.cursor()
            for k in range(3):
                cursor.execute(f"SELECT {n} * 100 + {k} AS v")
                got = cursor.fetchall()
                if got != [(n * 100 + k,)]:
                    tally.lost.append(f"{user}: SELECT {n} * 100 + {k} returned {got}")
                tally.add(statements=1)
            tally.add(sessions=1)
        except Exception as e:
            tally.lost.append(f"{user}: {type(e).__name__}: {e}")
        finally:
            try:
                conn.close()
            except Exception:
                pass


def beeline_client(user: str, url: str, stop: threading.Event, tally: Tally) -> None:
    home = spark_home()
    while not stop.is_set():
        out = subprocess.run(
            [f"{home}/bin/beeline", "-u", url, "-n", user, "--silent=true", "--outputformat=csv2",
             "-e", "SELECT 'a' AS x; SELECT 'b' AS x; SELECT 'c' AS x;"],
            capture_output=True, text=True, timeout=120, env=dict(os.environ, SPARK_HOME=home),
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        answers = [line for line in out.stdout.splitlines() if line in ("a", "b", "c")]
        if out.returncode == 0 and answers == ["a", "b", "c"]:
            tally.add(statements=3, sessions=1)
        elif not answers and "Could not open" in out.stderr:  # never got a session: Hive JDBC gave up
            tally.add(reopened=1)
        else:
            tally.lost.append(f"beeline {user}: exit {out.returncode}, answers {answers}: {out.stderr[-1500:]}")


@dataclass
class Outcome:
    tally: Tally
    during: int  # statements completed while the replicas restarted
    peak_user: int
    peak_bi: int
    samples: int

    def summary(self) -> str:
        t = self.tally
        return (
            f"rolling restart: {t.statements} statements in {t.sessions} sessions ({self.during} during the "
            f"restart), {t.reopened} sessions opened on another replica, {len(t.lost)} lost; peak open "
            f"sessions per user {self.peak_user} (max 2), in bi {self.peak_bi} (max 5), {self.samples} samples"
        )


def rolling_restart(replicas: list[ServedGateway], zookeeper: ZooKeeperServer, settle_s: float = 4.0) -> Outcome:
    """Start the 20 clients, restart each replica in turn (settle_s between), stop the clients."""
    directory = KazooClient(hosts=zookeeper.hosts)
    directory.start(10)
    sampler = Sampler(zookeeper)
    tally, stop = Tally(), threading.Event()
    url = f"jdbc:hive2://{zookeeper.hosts}/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=adhoc"
    clients = [threading.Thread(target=pyhive_client, args=(f"u{i % 8}", i, directory, stop, tally), daemon=True)
               for i in range(16)]  # fmt: skip
    clients += [threading.Thread(target=beeline_client, args=(f"b{i}", url, stop, tally), daemon=True)
                for i in range(4)]  # fmt: skip
    try:
        for client in clients:
            client.start()
        deadline = time.monotonic() + 90  # the engine's first statements are slow
        while tally.statements < 40:
            assert time.monotonic() < deadline, f"the clients did not get going: {tally.lost[:3]}"
            time.sleep(0.2)
        before = tally.statements
        for replica in replicas:  # one by one: SIGTERM, exit, start again, registered
            replica.stop()
            assert replica.proc is not None and replica.proc.returncode == 0, "".join(replica.output[-30:])
            replica.output.clear()
            replica.start()
            deadline = time.monotonic() + 20
            while len(replica_ports(directory)) < 3:
                assert time.monotonic() < deadline, "the restarted replica did not register again"
                time.sleep(0.1)
            time.sleep(settle_s)
        during = tally.statements - before
    finally:
        stop.set()
        for client in clients:
            client.join(150)
        sampler.stop()
        directory.stop()
        directory.close()
    return Outcome(tally, during, sampler.peak_user, sampler.peak_bi, sampler.samples)
