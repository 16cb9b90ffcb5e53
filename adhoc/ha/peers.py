"""The router's view of the other replicas, kept in ZooKeeper (adhoc.routing.peers.Peers).

    /<ns>-fleet/groups/<group>/<replica>-N                a session's place in a capped group (claim_groups)
    /<ns>-fleet/placed/<engine>/<replica>-<wall µs>-N     a session sent to an engine; gone keep_s later
    /<ns>-fleet/queue/<replica>-N                         a waiting session: user, caps, engines, since when

All are ephemeral: a replica that dies takes its sessions, placements and waiters along when its
ZooKeeper session expires. Each replica watches these directories (kazoo ChildrenWatch: one
notification per change, no polling) and answers the router from memory, so routing a session
costs no ZooKeeper round trip except a waiter's place in the queue (one create).

What lags: another replica's session counts here once its notification arrives (milliseconds on a
LAN); placements compare the placing replica's wall clock with this one's (keep them NTP-synced);
the queue's order is ZooKeeper's sequence numbers, exact.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import quote

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.recipe.watchers import ChildrenWatch

from adhoc.routing.peers import PeerWaiter, Ticket

log = logging.getLogger("adhoc.ha")

Call = Callable[..., Awaitable[Any]]  # ZooKeeperFleet._call: a ZooKeeper call with a timeout, or EngineUnavailable


def _name(part: str) -> str:
    return quote(part, safe="") or "%00"


class ZooKeeperPeers:
    def __init__(self, zk: KazooClient, state_root: str, replica_id: str, *, keep_placements_s: float,
                 call: Call) -> None:  # fmt: skip
        self.zk = zk
        self.root = state_root
        self.replica_id = replica_id
        self.keep_placements_s = keep_placements_s
        self._call = call
        self.on_change: Callable[[], None] = lambda: None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._groups: dict[str, int] = {}  # group -> sessions other replicas hold
        self._placements: dict[str, list[float]] = {}  # engine -> wall times of other replicas' placements
        self._queue: dict[str, PeerWaiter] = {}  # child name -> another replica's waiter
        self._queue_at: dict[str, float] = {}  # child name -> wall time it started waiting
        self._mine: dict[str, tuple[Ticket, bytes]] = {}  # our waiters' znodes, to take again after an expiry
        self._claims: dict[str, list[str]] = {}  # claim token -> its places in capped groups

    def start(self, loop: asyncio.AbstractEventLoop, engines: Sequence[str]) -> None:
        """Watch the queue and each engine's placements (blocking: run it in a thread)."""
        self._loop = loop
        self.zk.ensure_path(f"{self.root}/queue")
        ChildrenWatch(self.zk, f"{self.root}/queue", self._queue_changed)
        for engine in engines:
            directory = f"{self.root}/placed/{_name(engine)}"
            self.zk.ensure_path(directory)
            ChildrenWatch(self.zk, directory, partial(self._placements_changed, engine))

    def _deliver(self, fn: Callable[..., None], *args: Any) -> None:
        """Apply a watch's news on the event loop's thread (where the router reads it)."""
        try:
            here = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            here = False
        if here:  # a watch's first call, made while it is registered from the loop: apply now
            fn(*args)
        elif self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    # -- group caps -----------------------------------------------------------------------------

    def group_dir(self, group: str) -> str:
        return f"{self.root}/groups/{_name(group)}"

    def group_sessions(self, group: str) -> int:
        """Sessions of `group` other replicas hold, as the last notification said: the router's quick
        look (the exact check is claim_groups). A group seen for the first time counts 0 until its
        watch is set up, in a thread: the event loop never waits on ZooKeeper for it."""
        if group not in self._groups:
            self._groups[group] = 0
            if self._loop is not None:
                self._loop.run_in_executor(None, self._watch_group, group)
        return self._groups[group]

    def _watch_group(self, group: str) -> None:
        try:
            self.zk.ensure_path(self.group_dir(group))
            ChildrenWatch(self.zk, self.group_dir(group), partial(self._group_changed, group))
        except KazooException as e:
            log.warning("cannot watch a group's sessions in ZooKeeper", extra={"group": group, "error": str(e)})
            self._deliver(self._forget_group, group)  # try again on the next look

    def _forget_group(self, group: str) -> None:
        self._groups.pop(group, None)

    def _group_changed(self, group: str, children: list[str]) -> None:
        count = sum(1 for c in children if not c.startswith(self.replica_id + "-"))
        self._deliver(self._set_group, group, count)

    def _set_group(self, group: str, count: int) -> None:
        before = self._groups.get(group)
        self._groups[group] = count
        if before is not None and count < before:
            self.on_change()  # room freed elsewhere: the queue may move

    async def claim_groups(self, caps: Mapping[str, int]) -> tuple[str, str]:
        if not caps:
            return "", ""
        token = uuid.uuid4().hex
        paths, refusal = await self._call(self._claim, token, dict(caps))
        self._claims[token] = paths
        if refusal:
            self.release_groups(token)
            return "", refusal
        return token, ""

    def _claim(self, token: str, caps: dict[str, int]) -> tuple[list[str], str]:
        """Take a place in each group, then count the places ahead of it (one thread, in order)."""
        paths = [self.zk.create(f"{self.group_dir(g)}/{self.replica_id}-", b"", ephemeral=True, sequence=True,
                                makepath=True) for g in sorted(caps)]  # fmt: skip
        for group, path in zip(sorted(caps), paths, strict=True):
            mine = _seq(path)
            ahead = sum(1 for c in self.zk.get_children(self.group_dir(group)) if _seq(c) < mine)
            if ahead >= caps[group]:
                return paths, f"group {group} is at its session cap ({ahead} open, max_sessions = {caps[group]})"
        return paths, ""

    def release_groups(self, token: str) -> None:
        for path in self._claims.pop(token, []):
            self._forget(path)

    # -- placements: headroom used since this replica's figures were taken ----------------------

    def placed(self, engine: str) -> None:
        """Record it with an ordered async call: it reaches ZooKeeper before this waiter's place in
        the queue is given up, so no replica sees the room free between the two."""
        prefix = f"{self.root}/placed/{_name(engine)}/{self.replica_id}-{int(time.time() * 1_000_000)}-"
        try:
            self.zk.create_async(prefix, b"", ephemeral=True, sequence=True).rawlink(self._placement_made)
        except KazooException as e:  # not connected: new sessions are refused anyway
            log.debug("placement not recorded", extra={"error": str(e)})

    def _placement_made(self, result: Any) -> None:
        """kazoo's thread: forget the placement once every replica's figures include it."""
        try:
            path = result.get_nowait()
        except Exception:  # best effort: a lost placement only loosens headroom for one TTL
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.call_later, self.keep_placements_s, self._forget, path)

    def _forget(self, path: str) -> None:
        try:
            self.zk.delete_async(path)  # ordered after what came before; NoNode (already gone) is fine
        except KazooException:
            pass  # ephemeral: it goes with our ZooKeeper session

    def _placements_changed(self, engine: str, children: list[str]) -> None:
        times = []
        for child in children:
            replica, _, rest = child.partition("-")
            if replica != self.replica_id:
                try:
                    times.append(int(rest.split("-", 1)[0]) / 1_000_000)
                except ValueError:
                    continue
        self._deliver(self._placements.__setitem__, engine, times)

    def placed_since(self, engine: str, age_s: float) -> int:
        since = time.time() - age_s
        return sum(1 for at in self._placements.get(engine, ()) if at > since)

    # -- the fleet's queue ----------------------------------------------------------------------

    async def enqueue(self, user: str, caps: Mapping[str, int], engines: Sequence[str]) -> Ticket:
        data = json.dumps({"replica": self.replica_id, "user": user, "caps": dict(caps), "engines": list(engines),
                           "at": time.time()}).encode()  # fmt: skip
        path = await self._call(self._create_waiter, data)
        ticket = Ticket(_seq(path), path)
        self._mine[path] = (ticket, data)
        return ticket

    def _create_waiter(self, data: bytes) -> str:
        path: str = self.zk.create(f"{self.root}/queue/{self.replica_id}-", data, ephemeral=True, sequence=True)
        return path

    def dequeue(self, ticket: Ticket) -> None:
        if self._mine.pop(ticket.token, None) is not None:
            self._forget(ticket.token)

    def requeue(self) -> None:
        """Our ZooKeeper session expired and took our waiters' places and our sessions' places in
        capped groups: take new ones (waiters at the back; blocking: run it in a thread)."""
        for token, paths in list(self._claims.items()):
            self._claims[token] = [self.zk.create(path.rsplit("-", 1)[0] + "-", b"", ephemeral=True, sequence=True,
                                                  makepath=True) for path in paths]  # fmt: skip
        for path, (ticket, data) in list(self._mine.items()):
            new = self._create_waiter(data)
            ticket.seq, ticket.token = _seq(new), new
            self._mine.pop(path, None)
            self._mine[new] = (ticket, data)

    def _queue_changed(self, children: list[str]) -> None:
        """ChildrenWatch's callback (kazoo's thread): read the waiters we have not seen yet."""
        known = dict(self._queue)
        fresh: dict[str, PeerWaiter] = {}
        at: dict[str, float] = {}
        for child in children:
            if child.startswith(self.replica_id + "-"):
                continue
            if child in known:
                fresh[child], at[child] = known[child], self._queue_at.get(child, time.time())
                continue
            try:
                raw, _ = self.zk.get(f"{self.root}/queue/{child}")
                facts = json.loads(raw or b"{}")
                caps = {str(g): int(c) for g, c in dict(facts.get("caps", {})).items()}
                fresh[child] = PeerWaiter(_seq(child), str(facts.get("user", "")), caps,
                                          tuple(str(e) for e in facts.get("engines", ())), 0.0,
                                          str(facts.get("replica", "")))  # fmt: skip
                at[child] = float(facts.get("at", time.time()))
            except NoNodeError:
                continue  # it left before we read it
            except (KazooException, ValueError, TypeError, AttributeError) as e:
                log.warning("unreadable waiter in the fleet's queue", extra={"znode": child, "error": str(e)})
        self._deliver(self._set_queue, fresh, at)

    def _set_queue(self, queue: dict[str, PeerWaiter], at: dict[str, float]) -> None:
        self._queue, self._queue_at = queue, at
        self.on_change()

    def waiting(self) -> Sequence[PeerWaiter]:
        now = time.time()
        at = self._queue_at
        waiters = [replace(p, waited_s=max(0.0, now - at.get(name, now))) for name, p in self._queue.items()]
        return sorted(waiters, key=lambda p: p.seq)


def _seq(path: str) -> int:
    return int(path.rsplit("-", 1)[1])
