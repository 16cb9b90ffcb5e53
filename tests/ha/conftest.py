from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ha.zookeeper import ZooKeeperServer


@pytest.fixture
def zookeeper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperServer]:
    server = ZooKeeperServer(tmp_path_factory.mktemp("zk")).start()
    yield server
    server.stop()
