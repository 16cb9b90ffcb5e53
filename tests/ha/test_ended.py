"""Ended sessions the fleet remembers in a real ZooKeeper: found by id, forgotten after the retention."""

from __future__ import annotations

import time
import uuid

from kazoo.client import KazooClient

from adhoc.ha.ended import EndedInZooKeeper
from tests.ha.zookeeper import ZooKeeperServer


def test_ended_sessions_are_found_by_id_and_pruned_after_their_retention(zookeeper: ZooKeeperServer) -> None:
    zk = KazooClient(hosts=zookeeper.hosts)
    zk.start(10)
    try:
        ended = EndedInZooKeeper(zk, "/adhoc-fleet")
        old, new = str(uuid.uuid4()), str(uuid.uuid4())
        two_days_ago = time.time() - 2 * 86400
        ended.record({"session_id": old, "user": "ann", "engine": "k8s", "app_id": "", "ended_at": two_days_ago})
        facts = {"session_id": new, "user": "bo", "engine": "yarn", "app_id": "application_1_2", "ended_at": 1e9}
        ended.record(facts)
        assert ended.lookup(new) == facts
        assert ended.lookup(old) is not None and ended.lookup(str(uuid.uuid4())) is None
        assert ended.prune(86400) == 2  # old, and the one that says it ended in 2001
        ended.record({**facts, "ended_at": time.time()})
        assert ended.lookup(old) is None and ended.lookup(new) is not None
        assert ended.prune(86400) == 0
    finally:
        zk.stop()
        zk.close()
