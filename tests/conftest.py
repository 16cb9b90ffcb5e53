from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sts import RunningSTS, start_sts


@pytest.fixture(scope="session")
def sts() -> Iterator[RunningSTS]:
    """One real Spark Thrift Server for the whole test session."""
    server = start_sts()
    yield server
    server.stop()
