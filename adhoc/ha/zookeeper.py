"""Replicas on one ZooKeeper, as HiveServer2 and Kyuubi run theirs (`[ha] zookeeper`).

Discovery. Each replica creates an EPHEMERAL_SEQUENTIAL znode under `/<namespace>` named as
HiveServer2 names it (`serverUri=H:P;version=V;sequence=NNNNNNNNNN`) holding the `key=value;…`
data Hive JDBC reads (`hive.server2.thrift.bind.host`, `.port`, `transport.mode`, …): clients
connect with `jdbc:hive2://zk1:2181,zk2:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=adhoc`,
and the driver picks a child at random, trying another when one fails. Stopping removes the znode
before the drain starts; a replica that vanishes (kill -9, lost node) disappears with its ZooKeeper
session, `session_timeout_s` later. Nothing else is ever created under `/<namespace>` (the driver
would take it for a server): the fleet's own state lives under `/<namespace>-fleet`.

Fleet-wide session counts. Each open session holds an ephemeral sequential znode
`/<namespace>-fleet/users/<user>/s-N` (data: the session id and where it runs). OpenSession creates
its place *first*, then counts the places ahead of it (lower sequence numbers) and asks the policy:
two replicas admitting the same user at once see each other, so `max_sessions` is never exceeded;
at worst two racing requests at the cap are both refused. A session's place goes when it closes,
when its client vanishes, and — kill -9 — when its replica's ZooKeeper session expires: slots never
leak. `/<namespace>-fleet/sessions/<id>` says which replica holds a session (for links served by any
replica). When ZooKeeper is unreachable, sessions already open keep working; new ones are refused
with an error naming ZooKeeper rather than admitted uncounted; on reconnection the replica registers
again and re-creates its sessions' places by itself.

What routing needs of the other replicas (group caps, placements on engines, the fleet's queue) is
adhoc.ha.peers; what the fleet remembers of ended sessions (their history links) is adhoc.ha.ended.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, NodeExistsError, NoNodeError
from kazoo.protocol.states import EventType, WatchedEvent
from kazoo.retry import KazooRetry
from prometheus_client import CollectorRegistry, Counter, Gauge

from adhoc.config import Config
from adhoc.errors import ConfigError, EngineUnavailable
from adhoc.ha import Admission
from adhoc.ha.ended import EndedInZooKeeper
from adhoc.ha.peers import ZooKeeperPeers

log = logging.getLogger("adhoc.ha")

VERSION = "adhoc-0.1.0"
CALL_TIMEOUT_S = 3.0
PRUNE_EVERY_S = 600.0


def discovery_data(host: str, port: int, auth_method: str, http_port: int = 0, http_path: str = "") -> str:
    """The znode data Hive JDBC's ZooKeeper discovery reads (HiveServer2's own keys and order). The
    transport mode is binary (what the driver then uses); the HTTP transport's port and path ride
    along for tools that read them."""
    authentication = {"none": "NONE", "ldap": "LDAP"}.get(auth_method, "CUSTOM")
    http = [f"hive.server2.thrift.http.port={http_port}", f"hive.server2.thrift.http.path={http_path}"]
    return ";".join([
        f"hive.server2.instance.uri={host}:{port}", f"hive.server2.authentication={authentication}",
        "hive.server2.transport.mode=binary", "hive.server2.thrift.sasl.qop=auth",
        f"hive.server2.thrift.bind.host={host}", f"hive.server2.thrift.port={port}",
        *(http if http_port else []), "hive.server2.use.SSL=false",
    ])  # fmt: skip


class ZooKeeperFleet:
    name = "zookeeper"

    def __init__(self, config: Config, registry: CollectorRegistry | None = None) -> None:
        self.config = config
        ha = config.ha
        self.hosts = ha.zookeeper
        self.root = f"/{ha.namespace}"
        self.state_root = f"/{ha.namespace}-fleet"
        self.host = ha.advertised_host or config.server.host
        # Retry the connection for ever (kazoo's default gives up after a few tries, and with it the
        # client for good): a ZooKeeper outage must end by itself when ZooKeeper is back.
        self.zk = KazooClient(hosts=ha.zookeeper, timeout=ha.session_timeout_s,
                              connection_retry=KazooRetry(max_tries=-1, delay=0.2, max_delay=5.0))  # fmt: skip
        self.connected = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._registration: tuple[str, str] | None = None  # (name prefix, data) once registered
        self._znode = ""  # this replica's discovery znode
        self._places: dict[str, tuple[str, str, bytes]] = {}  # session id -> (user, path, data)
        self.replica_id = uuid.uuid4().hex[:12]
        # what routing must know of the other replicas (group sessions, placements, the queue)
        keep = 2 * config.routing.probe_ttl_s + 1.0  # a placement is in every replica's figures by then
        self.ended = EndedInZooKeeper(self.zk, self.state_root)
        self._pruner: asyncio.Task[None] | None = None
        self.peers = ZooKeeperPeers(self.zk, self.state_root, self.replica_id, keep_placements_s=keep,
                                    call=self._call)  # fmt: skip
        self._lost = False
        self._closing = False  # our own stop: the connection's end is expected, not a warning
        self._tasks: set[asyncio.Future[None]] = set()
        self._unfinished_deletes: set[str] = set()  # places to free once ZooKeeper answers again
        self._in_flight: set[Any] = set()  # ordered writes sent and not answered yet
        self.connected_gauge = Gauge("adhoc_ha_zookeeper_connected", "1 while this replica's ZooKeeper session is up",
                                     registry=registry)  # fmt: skip
        self.reregistrations = Counter("adhoc_ha_reregistrations", "Times this replica registered again after "
                                       "losing its ZooKeeper session", registry=registry)  # fmt: skip
        self.refusals = Counter("adhoc_ha_refused_sessions", "Sessions refused because ZooKeeper was unreachable",
                                registry=registry)  # fmt: skip

    # -- lifecycle: connect (start) ... close (stop); registration is its own part -----------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.zk.add_listener(self._listener)
        try:
            await asyncio.to_thread(self.zk.start, self.config.ha.connect_timeout_s)
        except Exception as e:
            wait = self.config.ha.connect_timeout_s
            raise ConfigError(f"cannot reach ZooKeeper at {self.hosts} within {wait:g} s ({type(e).__name__})",
                              file=self.config.source, key="ha.zookeeper") from None  # fmt: skip
        self._set_connected(True)
        await asyncio.to_thread(self.zk.ensure_path, self.root)
        await asyncio.to_thread(self.zk.ensure_path, f"{self.state_root}/sessions")
        engines = [e.name for e in self.config.effective_engines()]
        await asyncio.to_thread(self.peers.start, self._loop, engines)
        self._pruner = asyncio.ensure_future(self._prune_ended())
        log.info("connected to ZooKeeper", extra={"zookeeper": self.hosts})

    async def stop(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
        for _ in range(40):  # what the drain's last sessions wrote (ended sessions' facts) goes out first
            if not self._in_flight:
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(self._close)

    async def _prune_ended(self) -> None:
        """Every replica, now and then: forget ended sessions past their retention."""
        while True:
            if self.connected:
                try:
                    gone = await asyncio.to_thread(self.ended.prune, self.config.server.ended_session_retention_s)
                    if gone:
                        log.info("forgot ended sessions past their retention", extra={"count": gone})
                except KazooException as e:
                    log.warning("pruning ended sessions in ZooKeeper failed", extra={"error": str(e)})
            await asyncio.sleep(PRUNE_EVERY_S)

    def _close(self) -> None:
        self._closing = True
        self.zk.stop()  # ephemeral znodes (registration, session places) go with the session
        self.zk.close()
        self._set_connected(False)

    async def register(self, thrift_port: int, http_port: int = 0) -> None:
        prefix = f"{self.root}/serverUri={self.host}:{thrift_port};version={VERSION};sequence="
        path = self.config.server.thrift_http_path.strip("/")
        data = discovery_data(self.host, thrift_port, self.config.auth.method, http_port, path)
        self._registration = (prefix, data)
        await asyncio.to_thread(self._register)
        log.info("registered for ZooKeeper discovery", extra={"znode": self._znode})

    def _register(self) -> None:
        assert self._registration is not None
        prefix, data = self._registration
        self._znode = self.zk.create(prefix, data.encode(), ephemeral=True, sequence=True)

    async def deregister(self) -> None:
        """First thing on SIGTERM: clients stop being sent here before the drain starts."""
        self._registration = None
        znode, self._znode = self._znode, ""
        if znode:
            try:
                await asyncio.to_thread(self.zk.delete, znode)
                log.info("left ZooKeeper discovery", extra={"znode": znode})
            except KazooException as e:
                log.warning("could not remove the discovery znode (it goes with the session)", extra={"error": str(e)})

    # -- connection state (kazoo calls the listener on its own thread) ----------------------------

    def _listener(self, state: str) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._on_state, state)

    def _on_state(self, state: str) -> None:
        if state == KazooState.CONNECTED:
            self._set_connected(True)
            if self._lost:
                self._lost = False
                self._unfinished_deletes.clear()  # the expired session took them along
                self._keep(asyncio.ensure_future(self._restore()))
            for path in list(self._unfinished_deletes):
                self._delete_soon(path)
        elif not self._closing:
            if self.connected:
                log.warning("ZooKeeper connection %s: new sessions are refused until it is back", state.lower(),
                            extra={"zookeeper": self.hosts})  # fmt: skip
            self._set_connected(False)
            self._lost = self._lost or state == KazooState.LOST

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        self.connected_gauge.set(1 if up else 0)

    async def _restore(self) -> None:
        """The session expired while away: every ephemeral znode of ours is gone; make them again."""
        try:
            if self._registration is not None:
                await asyncio.to_thread(self._register)
            for session_id, (_user, path, data) in list(self._places.items()):
                new_path = await asyncio.to_thread(self._create_place, path.rsplit("/", 1)[0], data, session_id)
                self._places[session_id] = (_user, new_path, data)
            await asyncio.to_thread(self.peers.requeue)
            self.reregistrations.inc()
            log.warning("ZooKeeper session re-established: registered again",
                        extra={"znode": self._znode, "sessions": len(self._places)})  # fmt: skip
        except KazooException as e:
            log.error("registering again with ZooKeeper failed", extra={"error": str(e)})
            self._lost = True

    # -- fleet-wide session counts ------------------------------------------------------------------

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if not self.connected:
            self.refusals.inc()
            raise EngineUnavailable(f"ZooKeeper ({self.hosts}) is unreachable: new sessions cannot be counted "
                                    "against fleet-wide limits; sessions already open are not affected")  # fmt: skip
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                return await asyncio.to_thread(fn, *args)
        except (NoNodeError, NodeExistsError):
            raise
        except (TimeoutError, KazooException) as e:
            self.refusals.inc()
            raise EngineUnavailable(f"ZooKeeper ({self.hosts}) did not answer: {type(e).__name__}") from None

    def _user_dir(self, user: str) -> str:
        return f"{self.state_root}/users/{quote(user, safe='') or '%00'}"

    async def admit(self, user: str, check: Callable[[int], bool]) -> Admission:
        directory = self._user_dir(user)
        path = await self._call(self._create_place, directory, b"{}", "")
        mine = int(path.rsplit("-", 1)[1])
        try:
            children = await self._call(self.zk.get_children, directory)
        except BaseException:
            self._delete_soon(path)
            raise
        ahead = sum(1 for c in children if c.startswith("s-") and int(c.rsplit("-", 1)[1]) < mine)
        if check(ahead):
            return Admission(True, path)
        self._delete_soon(path)
        return Admission(False)

    def _create_place(self, directory: str, data: bytes, session_id: str) -> str:
        path: str = self.zk.create(f"{directory}/s-", data, ephemeral=True, sequence=True, makepath=True)
        if session_id:
            self._index(session_id, data)
        return path

    def _index(self, session_id: str, data: bytes) -> None:
        try:
            self.zk.create(f"{self.state_root}/sessions/{session_id}", data, ephemeral=True)
        except NodeExistsError:
            self.zk.set(f"{self.state_root}/sessions/{session_id}", data)

    def attach(self, admission: Admission, session_id: str, facts: dict[str, object]) -> None:
        if not admission.token:
            return
        data = json.dumps({"session_id": session_id, **facts}).encode()
        user = str(facts.get("user", ""))
        self._places[session_id] = (user, admission.token, data)

        # sent now, in order: a CloseSession right after can only delete what these wrote
        self._ordered("recording a session", partial(self.zk.set_async, admission.token, data))
        index = f"{self.state_root}/sessions/{session_id}"
        self._ordered("indexing a session", partial(self.zk.create_async, index, data, ephemeral=True))

    def abandon(self, admission: Admission) -> None:
        if admission.token:
            self._delete_soon(admission.token)

    # the session registry's listener (adhoc.gateway.sessions.SessionListener)
    def session_opened(self, record: Any) -> None:
        pass

    def session_changed(self, record: Any) -> None:
        pass

    def session_closed(self, record: Any) -> None:
        self.released(record.session_id)
        facts = {"session_id": record.session_id, "user": record.user, "engine": record.engine,
                 "app_id": record.app_id, "ended_at": record.ended_at or time.time()}  # fmt: skip
        self._ordered("remembering an ended session", partial(self.ended.record_async, facts))

    async def ended_session(self, session_id: str) -> dict[str, object] | None:
        try:
            facts: dict[str, object] | None = await self._call(self.ended.lookup, session_id)
        except EngineUnavailable:
            return None
        return facts

    def released(self, session_id: str) -> None:
        place = self._places.pop(session_id, None)
        if place is not None:
            self._delete_soon(place[1])
            self._delete_soon(f"{self.state_root}/sessions/{session_id}")

    def _delete_soon(self, path: str) -> None:
        """Free a place; while ZooKeeper is away, once it is back (its session may have survived).
        Sent at once, without waiting (an ordered async call): it is on its way to ZooKeeper before
        the client hears its CloseSession answered, so a client that closes and opens again at
        once is never refused for its own closed session's place."""
        self._unfinished_deletes.add(path)
        if not self.connected:
            return  # retried when the connection is back

        def done(result: Any) -> None:  # kazoo's thread
            try:
                result.get_nowait()
            except NoNodeError:
                pass
            except KazooException as e:
                log.warning("ZooKeeper: freeing a session's place failed", extra={"error": str(e)})
                return  # kept: retried on reconnection (or gone with an expired session)
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._unfinished_deletes.discard, path)

        try:
            self.zk.delete_async(path).rawlink(done)
        except KazooException as e:
            log.warning("ZooKeeper: freeing a session's place failed", extra={"error": str(e)})

    def _ordered(self, what: str, call: Callable[[], Any]) -> None:
        """A write sent at once with kazoo's async API: requests leave in call order, so it reaches
        ZooKeeper before anything this replica does later (a session's place freed, its index gone)."""
        if not self.connected:
            return

        def done(result: Any) -> None:  # kazoo's thread
            self._in_flight.discard(result)
            try:
                result.get_nowait()
            except KazooException as e:
                log.warning("ZooKeeper: %s failed: %r", what, e, extra={"error": str(e)})

        try:
            result = call()
            self._in_flight.add(result)
            result.rawlink(done)
        except KazooException as e:
            log.warning("ZooKeeper: %s failed: %r", what, e, extra={"error": str(e)})

    def _keep(self, task: asyncio.Future[None]) -> None:
        """Hold background tasks until done (the loop keeps only weak references)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def owner_of(self, session_id: str) -> dict[str, object] | None:
        try:
            data, _ = await self._call(self.zk.get, f"{self.state_root}/sessions/{session_id}")
        except (NoNodeError, EngineUnavailable):
            return None
        facts: dict[str, object] = json.loads(data or b"{}")
        return facts

    async def sessions_of(self, user: str) -> list[dict[str, object]]:
        directory = self._user_dir(user)
        try:
            children = await self._call(self.zk.get_children, directory)
        except (NoNodeError, EngineUnavailable):
            return []
        out = []
        for child in children:
            try:
                data, _ = await self._call(self.zk.get, f"{directory}/{child}")
            except (NoNodeError, EngineUnavailable):
                continue
            facts = json.loads(data or b"{}")
            if facts.get("session_id"):  # places still being admitted carry no session yet
                out.append(facts)
        return out

    async def fleet_sessions(self) -> int:
        children = await self._call(self.zk.get_children, f"{self.state_root}/sessions")
        return len(children)

    # -- pod claims (adhoc.logs.collector.PodClaims): one replica stores each pod's log --------------

    async def claim(self, key: str, on_freed: Callable[[], None]) -> bool:
        """An ephemeral znode per pod: the replica that made it stores the log. Whoever finds it
        taken watches it; it goes when the holder finishes, or dies (its ZooKeeper session expires)."""
        path = f"{self.state_root}/pods/{key}"
        try:
            await self._call(partial(self.zk.create, path, b"", ephemeral=True, makepath=True))
            return True
        except NodeExistsError:
            pass
        except EngineUnavailable:
            return False  # the watch's next relist brings the pod back once ZooKeeper answers

        def watch(event: WatchedEvent) -> None:
            if event.type == EventType.DELETED:
                on_freed()

        try:
            exists = await self._call(partial(self.zk.exists, path, watch=watch))
        except EngineUnavailable:
            return False
        if exists is None:  # freed between the two calls
            on_freed()
        return False

    def release(self, key: str) -> None:
        self._delete_soon(f"{self.state_root}/pods/{key}")

    def status(self) -> dict[str, object]:
        return {"mode": "zookeeper", "zookeeper": self.hosts, "connected": self.connected, "znode": self._znode}
