"""The gateway raises its open-files limit at start and says when it still cannot hold max_connections."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from adhoc.serve import raise_open_files_limit


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    script = (
        "import resource\n"
        "from adhoc.serve import raise_open_files_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "said = []\n"
        "allowed = raise_open_files_limit(10, said.append)\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard, allowed, said)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    raised, allowed, said = out.stdout.split(" ", 2)
    assert raised == "True" and int(allowed) > 100 and said.strip() == "[]"


def test_a_limit_too_small_for_max_connections_is_said_with_the_figures() -> None:
    said: list[str] = []
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    allowed = raise_open_files_limit(10 * soft, said.append)
    assert allowed == (resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 64) // 2
    (line,) = said
    assert f"allows about {allowed} client connections" in line and f"max_connections = {10 * soft}" in line
