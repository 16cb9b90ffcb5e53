"""Missing system packages: a skip that says what to install, or a failure where CI asks for all."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import requires
from tests.requires import REQUIRE_ALL_VAR, require_binary


def test_a_missing_binary_skips_with_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ALL_VAR, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"needs `no-such-daemon`: apt-get install no-such-pkg"):
        require_binary("no-such-daemon", package="no-such-pkg")


def test_ci_makes_a_missing_binary_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ALL_VAR, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_ALL_VAR} is set"):
        require_binary("no-such-daemon", package="no-such-pkg")


def test_daemons_off_the_path_are_found_in_sbin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Debian puts slapd in /usr/sbin, which is not on a normal user's PATH.
    daemon = tmp_path / "sbin" / "slapd"
    daemon.parent.mkdir()
    daemon.write_text("#!/bin/sh\n")
    daemon.chmod(0o755)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(requires, "_SBIN", (str(daemon.parent),))
    assert require_binary("slapd") == str(daemon)
