"""The HTTP transport's test gateway: users alice and bob in a users file, a policy granting
`default.*` to everyone, audit on, the HTTP transport on a free port, in front of the real STS."""

from __future__ import annotations

import dataclasses
import gc
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from adhoc.auth.passwd import passwd_main
from adhoc.config import AuditConfig, AuthConfig, PolicyConfig
from tests.gateway_harness import GatewayThread, gateway_config
from tests.logs.s3 import free_port
from tests.sts import RunningSTS

POLICY = """
[[rules]]
principals = ["*"]
read = ["default.*"]
"""


@pytest.fixture(scope="module")
def http_gateway(sts: RunningSTS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    tmp = Path(tmp_path_factory.mktemp("thrift-http"))
    users = tmp / "users.toml"
    for user, password in (("alice", "wonderland"), ("bob", "builder")):
        passwd_main(str(users), user, stdin=io.StringIO(password + "\n"), stderr=io.StringIO())
    (tmp / "policy.toml").write_text(POLICY)
    config = gateway_config(sts.address, thrift_http_port=free_port(), handshake_timeout_s=3.0)
    config = dataclasses.replace(config, auth=AuthConfig(method="file", users=str(users), max_failures=100),
                                 policy=PolicyConfig(file=str(tmp / "policy.toml")),
                                 audit=AuditConfig(file=str(tmp / "audit.jsonl")))  # fmt: skip
    gw = GatewayThread(config)
    gw.audit_path = tmp / "audit.jsonl"  # type: ignore[attr-defined]
    yield gw
    gw.stop()


@pytest.fixture
def collect_here() -> Iterator[None]:
    """impyla's objects make a blocking CloseSession call from `__del__`. Left to the cyclic garbage
    collector they may be finalised on whichever thread triggers it — the in-process gateway's own
    event loop thread, which then waits on itself (a hang seen in a run). While an impyla test runs,
    cyclic collection is off; its garbage is collected afterwards, here, on the test's thread."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()
