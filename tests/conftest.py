from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from adhoc.auth.passwd import passwd_main
from adhoc.config import AuthConfig
from tests.gateway_harness import GatewayThread, gateway_config
from tests.requires import require_java
from tests.sts import RunningSTS, start_sts

# Every `adhoc serve` a test starts would otherwise also listen on the HTTP transport's default
# port, 10001, and two at once (or a gateway someone runs beside the suite) would collide there.
# Tests of the HTTP transport give their port explicitly.
os.environ.setdefault("ADHOC_SERVER_THRIFT_HTTP_PORT", "0")


@pytest.fixture(scope="session")
def sts() -> Iterator[RunningSTS]:
    """One real Spark Thrift Server for the whole test session."""
    if not os.environ.get("ADHOC_TEST_STS"):
        require_java()
    server = start_sts()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway(sts: RunningSTS) -> Iterator[GatewayThread]:
    """One adhoc gateway in front of the shared Spark Thrift Server."""
    gw = GatewayThread(gateway_config(sts.address))
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def secured(sts: RunningSTS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """A gateway that wants passwords: a users file where alice's is 'wonderland'."""
    users = Path(tmp_path_factory.mktemp("auth")) / "users.toml"
    passwd_main(str(users), "alice", stdin=io.StringIO("wonderland\n"), stderr=io.StringIO())
    config = gateway_config(sts.address)
    config = dataclasses.replace(config, auth=AuthConfig(method="file", users=str(users), max_failures=100))
    gw = GatewayThread(config)
    yield gw
    gw.stop()
