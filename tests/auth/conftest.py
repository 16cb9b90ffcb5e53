from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ldap_server import RunningLdap, start_ldap


@pytest.fixture(scope="session")
def ldap_server() -> Iterator[RunningLdap]:
    server = start_ldap()
    yield server
    server.stop()
