"""The code checks every commit must pass: ruff, mypy --strict and the import layers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "cmd",
    [
        [sys.executable, "-m", "ruff", "check", "adhoc", "tui", "tests"],
        [sys.executable, "-m", "mypy", "adhoc", "tui"],
        ["lint-imports"],
    ],
    ids=["ruff", "mypy", "import-layers"],
)
def test_code_checks(cmd: list[str]) -> None:
    if cmd[0] == "lint-imports":
        exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
        cmd = [exe]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
