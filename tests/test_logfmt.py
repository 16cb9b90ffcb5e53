"""Log lines: logfmt by default, one JSON object per line with `[server] log_format = "json"`."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from adhoc.logfmt import JsonFormatter, LogfmtFormatter


def record(msg: str, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("adhoc.gateway", logging.INFO, __file__, 1, msg, None, None)
    rec.__dict__.update(extra)
    return rec


def test_json_lines_carry_the_fields_a_pipeline_indexes() -> None:
    line = JsonFormatter().format(record('session "opened"\nnext', session="0b6e…", user="alice", port=10009))
    event = json.loads(line)
    assert "\n" not in line
    assert event["msg"] == 'session "opened"\nnext'
    assert (event["level"], event["logger"], event["session"], event["user"], event["port"]) == (
        "info", "adhoc.gateway", "0b6e…", "alice", 10009)
    assert event["time"].endswith("Z")


def test_text_stays_logfmt() -> None:
    assert 'msg="session opened" session=s1' in LogfmtFormatter().format(record("session opened", session="s1"))


def test_an_unknown_log_format_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "adhoc.toml"
    path.write_text('[server]\nlog_format = "xml"\n')
    out = subprocess.run([sys.executable, "-m", "adhoc", "serve", "--config", str(path)], capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 2
    assert "log_format" in out.stderr and str(path) in out.stderr
