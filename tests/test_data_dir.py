"""One adhoc per data dir: a second `adhoc serve` on it says who holds it, at once, and exits 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adhoc.engines.data_dir import DataDirLock, engine_using
from adhoc.engines.embedded import failure_summary
from adhoc.errors import StartupConflict
from tests.sts import free_port


def test_a_second_lock_names_the_holder(tmp_path: Path) -> None:
    first = DataDirLock(str(tmp_path / "data"))
    first.acquire()
    second = DataDirLock(str(tmp_path / "data"))
    with pytest.raises(StartupConflict) as e:
        second.acquire()
    assert e.value.message == (
        f"another adhoc (pid {os.getpid()}) is using data dir {tmp_path / 'data'}; stop it or use --data-dir DIR"
    )
    first.release()
    second.acquire()  # free again once the holder lets go (or dies: the kernel drops the flock)
    second.release()


def test_serve_on_a_data_dir_in_use_exits_2_before_starting_an_engine(tmp_path: Path) -> None:
    held = DataDirLock(str(tmp_path / "busy"))
    held.acquire()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "adhoc", "serve", "--data-dir", str(tmp_path / "busy"),
             "--thrift-port", str(free_port()), "--http-port", str(free_port())],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        held.release()
    assert out.returncode == 2, out.stderr
    assert f"another adhoc (pid {os.getpid()}) is using data dir {tmp_path / 'busy'}" in out.stderr
    assert "use --data-dir DIR" in out.stderr
    assert not (tmp_path / "busy" / "embedded").exists(), "no engine should have been started"


def test_serve_on_a_port_in_use_says_which_flag_to_change(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "adhoc", "serve", "--data-dir", str(tmp_path / "d"),
             "--thrift-port", str(port), "--http-port", str(free_port())],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert out.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "--thrift-port N" in out.stderr


def test_policy_check_and_route_explain_work_without_a_config(tmp_path: Path) -> None:
    """The defaults, as `adhoc serve` uses them: no policy (everything allowed), the embedded engine."""
    run = [sys.executable, "-m", "adhoc"]
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path))
    check = subprocess.run([*run, "policy", "check", "--user", "bob", "--sql", "SELECT 1; DROP TABLE t"],
                           capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)  # fmt: skip
    assert (check.returncode, check.stdout) == (0, "ALLOW\nALLOW\n")
    assert "no [policy] file configured" in check.stderr
    explain = subprocess.run([*run, "route", "explain", "--user", "bob", "--json"],
                             capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)  # fmt: skip
    assert explain.returncode == 0, explain.stderr
    assert '"engine": "local"' in explain.stdout and '"kind": "local"' in explain.stdout


def test_serve_help_documents_every_flag() -> None:
    env = dict(os.environ, COLUMNS="400")  # one line per flag: argparse wraps to the terminal
    out = subprocess.run([sys.executable, "-m", "adhoc", "serve", "--help"], capture_output=True, text=True,
                         timeout=60, env=env)  # fmt: skip
    assert out.returncode == 0
    flags = {"--config FILE": "adhoc.toml", "--host HOST": "listen", "--thrift-port N": "10009",
             "--http-port N": "10099", "--data-dir DIR": "one adhoc per dir", "--log-level": "INFO"}  # fmt: skip
    for flag, words in flags.items():
        assert flag in out.stdout and words in out.stdout, flag
    assert "adhoc ready thrift=HOST:PORT http=URL" in out.stdout


def test_an_engine_left_running_on_the_data_dir_is_found(tmp_path: Path) -> None:
    """An embedded engine JVM that outlived its adhoc (or one from before the lock) still holds the
    Derby metastore: it is found by the Derby home on its command line."""
    data_dir = tmp_path / "data"
    proc = tmp_path / "proc"
    args = ["java", "-cp", "jars/*", f"-Dderby.system.home={data_dir / 'embedded'}", "SparkSubmit"]
    (proc / "4242").mkdir(parents=True)
    (proc / "4242" / "cmdline").write_bytes(b"\0".join(a.encode() for a in args) + b"\0")
    (proc / "77").mkdir()
    (proc / "77" / "cmdline").write_bytes(b"java\0-Dderby.system.home=/elsewhere/embedded\0")
    assert engine_using(str(data_dir), proc=str(proc)) == 4242
    assert engine_using(str(tmp_path / "other"), proc=str(proc)) == 0


def test_an_engine_that_dies_at_start_is_explained_by_its_root_cause() -> None:
    log = "\n".join([
        "26/12/03 09:41:02 INFO HiveMetaStore: 0: Opening raw store",
        "26/12/03 09:41:03 ERROR HiveThriftServer2: Error starting HiveThriftServer2",
        "java.lang.RuntimeException: Unable to instantiate SessionHiveMetaStoreClient",
        "\tat org.apache.hadoop.hive.ql.metadata.Hive.getMSC(Hive.java:3600)",
        "Caused by: javax.jdo.JDOFatalDataStoreException: Unable to open a test connection",
        "Caused by: ERROR XSDB6: Another instance of Derby may have already booted the database /d/metastore_db.",
        "\tat org.apache.derby.iapi.error.StandardException.newException(Unknown Source)",
        "\t... 102 more",
    ])  # fmt: skip
    assert failure_summary(log) == (
        "26/12/03 09:41:03 ERROR HiveThriftServer2: Error starting HiveThriftServer2\n"
        "Caused by: ERROR XSDB6: Another instance of Derby may have already booted the database /d/metastore_db."
    )
    assert failure_summary("starting\nstill starting") == "starting\nstill starting"  # nothing better: the tail
