"""Tests that need a system package this machine lacks skip, saying which and how to get it.

    slapd = require_binary("slapd", package="slapd")      # in a test or a fixture

`.ci/run` installs every package and sets ADHOC_TEST_REQUIRE_ALL=1: there a missing one is a
failure, so CI cannot go green by skipping. On a laptop without slapd the README's test command
still passes, with the LDAP tests reported as skipped (pytest -ra lists the reasons).
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ALL_VAR = "ADHOC_TEST_REQUIRE_ALL"
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")  # daemons live here, often off a user's PATH


def require_all() -> bool:
    return os.environ.get(REQUIRE_ALL_VAR, "").strip().lower() in ("1", "true", "yes")


def missing(what: str, install: str) -> None:
    """Skip the current test (or fixture) for want of `what`; fail instead under ADHOC_TEST_REQUIRE_ALL."""
    reason = f"needs {what}: {install} (.ci/install-system-deps.sh installs it)"
    if require_all():
        pytest.fail(f"{reason}; {REQUIRE_ALL_VAR} is set, so a missing system package is a failure", pytrace=False)
    pytest.skip(reason)


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in _SBIN:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def require_binary(name: str, *, package: str | None = None) -> str:
    """The path of a program from a system package, or skip (fail under ADHOC_TEST_REQUIRE_ALL)."""
    path = find_binary(name)
    if path is None:
        missing(f"`{name}`", f"apt-get install {package or name}")
        raise AssertionError("unreachable")  # pragma: no cover - skip/fail raise
    return path


def require_java() -> str:
    """Java for Spark (the test STS, the embedded engine, beeline), as Spark itself finds it."""
    java_home = os.environ.get("JAVA_HOME")
    path = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not path or not os.access(path, os.X_OK):
        missing("Java 17+ for Spark", "apt-get install openjdk-17-jre-headless, or set JAVA_HOME")
        raise AssertionError("unreachable")  # pragma: no cover
    return path
