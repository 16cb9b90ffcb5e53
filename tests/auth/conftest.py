from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ldap_server import RunningLdap, start_ldap
from tests.requires import require_binary


@pytest.fixture(scope="session")
def ldap_server() -> Iterator[RunningLdap]:
    server = start_ldap(require_binary("slapd", package="slapd"))
    yield server
    server.stop()
