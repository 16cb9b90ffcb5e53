from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway_harness import GatewayThread, gateway_config
from tests.sts import RunningSTS, start_sts


@pytest.fixture(scope="session")
def sts() -> Iterator[RunningSTS]:
    """One real Spark Thrift Server for the whole test session."""
    server = start_sts()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway(sts: RunningSTS) -> Iterator[GatewayThread]:
    """One adhoc gateway in front of the shared Spark Thrift Server."""
    gw = GatewayThread(gateway_config(sts.address))
    yield gw
    gw.stop()
