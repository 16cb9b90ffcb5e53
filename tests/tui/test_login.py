"""adhoc-sql logging in to a gateway that wants a password."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.gateway_harness import GatewayThread
from tui.adapter import LoginRefused
from tui.cli import connect


def test_refused_login_asks_for_the_password_once(secured: GatewayThread) -> None:
    prompts: list[str] = []

    def ask(text: str) -> str:
        prompts.append(text)
        return "wonderland"

    conn = connect(secured.host, secured.port, "alice", None, ask=ask)
    try:
        assert prompts == [f"Password for alice@{secured.host}: "]
        info = conn.session_info()  # answered by the gateway: the session is open
        assert info.user == "alice" and info.session_id
    finally:
        conn.close()


def test_wrong_password_is_not_asked_again(secured: GatewayThread) -> None:
    with pytest.raises(LoginRefused, match="refused the login: authentication failed for user 'alice'"):
        connect(secured.host, secured.port, "alice", "guess", ask=lambda _: pytest.fail("asked again"))


def test_headless_login_refusal_is_a_connect_error(secured: GatewayThread) -> None:
    cmd = [sys.executable, "-m", "tui", "--host", secured.host, "--port", str(secured.port), "--user", "alice"]
    refused = subprocess.run(
        [*cmd, "-e", "SELECT 1"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert refused.returncode == 2
    assert "refused the login: authentication failed for user 'alice'" in refused.stderr
    # no password was given at all: say how to give one
    for way in ("--password-env VAR", "password_env", "--ask-password", f'keyring      service "adhoc:{secured.host}"'):
        assert way in refused.stderr
    env = dict(os.environ, ALICE_PW="wonderland")
    ok = subprocess.run([*cmd, "--password-env", "ALICE_PW", "-e", "SELECT 1 AS one"], capture_output=True,
                        text=True, timeout=60, env=env)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "| 1   |" in ok.stdout or "| 1 " in ok.stdout
