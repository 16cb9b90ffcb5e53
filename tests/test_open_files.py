"""The gateway raises its open-files limit at start and says when it still cannot hold max_connections."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from adhoc.serve import raise_open_files_limit
from tests.sts import free_port


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


def test_adhoc_serve_says_at_start_how_many_connections_its_limit_allows(tmp_path: Path) -> None:
    """A hard limit of 256 (as `ulimit -Hn 256` or LimitNOFILE=256 would give) holds 96 clients."""
    config = tmp_path / "adhoc.toml"
    config.write_text('[server]\nmax_connections = 2000\n[[engines]]\nname = "e"\nkind = "local"\n'
                      'address = "127.0.0.1:1"\n')  # fmt: skip
    cmd = [sys.executable, "-m", "adhoc", "serve", "--config", str(config), "--thrift-port", str(free_port()),
           "--http-port", str(free_port()), "--thrift-http-port", "0"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 256)))  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("adhoc ready"), "still serves"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert ("the open-files limit (256) allows about 96 client connections (2 descriptors each: client and "
            "engine), fewer than [server] max_connections = 2000") in stderr  # fmt: skip
