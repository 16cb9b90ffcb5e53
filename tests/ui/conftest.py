"""A gateway with passwords and an admin, in front of a real STS whose Spark UI it proxies."""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from adhoc.auth.passwd import passwd_main
from adhoc.config import AuthConfig, EngineConfig, PolicyConfig
from tests.gateway_harness import GatewayThread, gateway_config
from tests.sts import RunningSTS, start_sts

PASSWORDS = {"alice": "wonderland", "bob": "builder", "carol": "admin-pw"}
HISTORY_URL = "http://127.0.0.1:18080"  # nothing listens there: only the redirect's Location is checked
POLICY = """
[[rules]]
principals = ["*"]
read = ["*.*"]
write = ["*.*"]

[[rules]]
principals = ["user:carol"]
admin = true
"""


@pytest.fixture(scope="session")
def sts_ui(sts: RunningSTS) -> Iterator[tuple[RunningSTS, str]]:
    """An STS and its Spark UI: the shared one when ADHOC_TEST_STS_UI names its UI, else our own."""
    if sts.ui_port is not None:
        yield sts, f"http://127.0.0.1:{sts.ui_port}"
        return
    if os.environ.get("ADHOC_TEST_STS_UI"):
        yield sts, os.environ["ADHOC_TEST_STS_UI"]
        return
    own = start_sts(extra_args=("--conf", "spark.ui.enabled=true"))
    yield own, f"http://127.0.0.1:{own.ui_port}"
    own.stop()


@pytest.fixture(scope="module")
def ui_gateway(sts_ui: tuple[RunningSTS, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    sts, ui_url = sts_ui
    tmp = Path(tmp_path_factory.mktemp("ui"))
    users = tmp / "users.toml"
    for user, password in PASSWORDS.items():
        passwd_main(str(users), user, stdin=io.StringIO(password + "\n"), stderr=io.StringIO())
    (tmp / "policy.toml").write_text(POLICY)
    engine = EngineConfig(name="sts-ui", kind="local", protocol="sts", address=sts.address, ui_url=ui_url,
                          history_url=HISTORY_URL)  # fmt: skip
    config = dataclasses.replace(
        gateway_config(sts.address),
        engines=(engine,),
        auth=AuthConfig(method="file", users=str(users), max_failures=100),
        policy=PolicyConfig(file=str(tmp / "policy.toml")),
    )
    gw = GatewayThread(config)
    yield gw
    gw.stop()
