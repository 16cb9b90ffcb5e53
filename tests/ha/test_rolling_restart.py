"""A rolling restart of three `adhoc serve` replicas under 20 real clients (16 pyhive, 4 beeline)
through ZooKeeper against the real STS: no statement lost, no session limit exceeded at any moment
(the scenario and what counts as lost: tests/ha/rolling.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ha.rolling import POLICY, replica_config, rolling_restart
from tests.ha.zookeeper import ZooKeeperServer
from tests.logs.served import ServedGateway
from tests.requires import require_java
from tests.sts import RunningSTS


@pytest.fixture
def replicas(sts: RunningSTS, zookeeper: ZooKeeperServer, tmp_path: Path) -> Iterator[list[ServedGateway]]:
    require_java()
    (tmp_path / "policy.toml").write_text(POLICY)
    served = [ServedGateway(replica_config(tmp_path, i, sts, zookeeper)) for i in range(3)]
    try:
        for replica in served:
            replica.start()
        yield served
    finally:
        for replica in served:
            replica.stop()


def test_a_rolling_restart_under_20_clients_loses_no_statement_and_keeps_every_limit(
    replicas: list[ServedGateway], zookeeper: ZooKeeperServer
) -> None:
    outcome = rolling_restart(replicas, zookeeper)
    print(outcome.summary())
    assert outcome.tally.lost == []
    assert outcome.during > 50 and outcome.tally.sessions > 30
    assert outcome.samples > 100
    assert outcome.peak_user <= 2 and outcome.peak_bi <= 5
    assert outcome.peak_bi == 5  # bi was at its cap: the cap was tested, not just never reached
