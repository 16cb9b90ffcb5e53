"""Issue 15, part 1, through real clients (pyhive, beeline), a real gateway and the real STS: the
gateway's set of a session's temporary views must follow every statement Spark creates, replaces,
renames or drops one with. A name the gateway still believes is a temp view after Spark dropped it
would let `USE hr; SELECT * FROM salaries` read hr.salaries unchecked.

Databases have unique names (the STS is shared): alice may read and write `mine`, nothing in `hr`.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyhive import exc, hive
from TCLIService.ttypes import TOperationState

from adhoc.config import PolicyConfig
from tests.gateway.test_beeline import beeline
from tests.gateway_harness import GatewayThread, gateway_config
from tests.sts import RunningSTS

RUNNING = (TOperationState.INITIALIZED_STATE, TOperationState.PENDING_STATE, TOperationState.RUNNING_STATE)


@dataclass(frozen=True)
class Setup:
    gw: GatewayThread
    hr: str
    mine: str

    def connect(self, user: str = "alice") -> hive.Connection:
        return hive.connect(self.gw.host, port=self.gw.port, username=user)


@pytest.fixture(scope="module")
def setup(sts: RunningSTS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    suffix = uuid.uuid4().hex[:8]
    hr, mine = f"i15hr_{suffix}", f"i15mine_{suffix}"
    with hive.connect(sts.host, port=sts.port, username="setup") as conn:
        cur = conn.cursor()
        for sql in (f"CREATE DATABASE {hr}", f"CREATE DATABASE {mine}",
                    f"CREATE TABLE {hr}.salaries (id INT, pay INT) USING parquet",
                    f"INSERT INTO {hr}.salaries VALUES (1, 100)",
                    f"CREATE TABLE {mine}.t (id INT) USING parquet"):  # fmt: skip
            cur.execute(sql)
    tmp = Path(tmp_path_factory.mktemp("tempviews"))
    (tmp / "policy.toml").write_text(
        f'[[rules]]\nprincipals = ["user:alice"]\nread = ["{mine}.*"]\nwrite = ["{mine}.*"]\n'
        '[[rules]]\nprincipals = ["user:carol"]\nadmin = true\n'
    )
    config = dataclasses.replace(gateway_config(sts.address), policy=PolicyConfig(file=str(tmp / "policy.toml")))
    gw = GatewayThread(config)
    yield Setup(gw, hr, mine)
    gw.stop()
    with hive.connect(sts.host, port=sts.port, username="setup") as conn:
        for db in (hr, mine):
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {db} CASCADE")


def refusal(cur: hive.Cursor, sql: str) -> str:
    with pytest.raises(exc.OperationalError) as err:
        cur.execute(sql)
    status = err.value.args[0].status
    assert status.sqlState == "42000", status
    return str(status.errorMessage)


# Each sequence leaves Spark without a temp view `salaries`; the gateway must know.
SHADOW_HOLES = {
    "temp view dropped with DROP TABLE": ["CREATE TEMPORARY VIEW salaries AS SELECT 1 AS x", "DROP TABLE salaries"],
    "cached temp view dropped with DROP TABLE": ["CACHE TABLE salaries AS SELECT 1 AS x", "DROP TABLE salaries"],
    "lazy cached, dropped with DROP VIEW": ["CACHE LAZY TABLE Salaries AS SELECT 1 AS x", "DROP VIEW SALARIES"],
    "renamed away": ["CREATE OR REPLACE TEMP VIEW `salaries` AS SELECT 1 AS x", "ALTER TABLE salaries RENAME TO s2"],
}


@pytest.mark.parametrize("steps", SHADOW_HOLES.values(), ids=SHADOW_HOLES.keys())
def test_a_dropped_temp_view_no_longer_hides_a_table(setup: Setup, steps: list[str]) -> None:
    with setup.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"USE {setup.mine}")  # where alice may write: DROP TABLE salaries was allowed before
        for sql in steps:
            cur.execute(sql)
        cur.execute(f"USE {setup.hr}")
        assert f"alice may not read {setup.hr}.salaries" in refusal(cur, "SELECT * FROM salaries")


def test_a_global_temp_view_is_refused_and_never_hides_a_table(setup: Setup) -> None:
    with setup.connect() as conn:
        cur = conn.cursor()
        reason = refusal(cur, "CREATE GLOBAL TEMPORARY VIEW salaries AS SELECT 1 AS x")
        assert "CREATE GLOBAL TEMPORARY VIEW" in reason, reason
        cur.execute(f"USE {setup.hr}")
        assert f"alice may not read {setup.hr}.salaries" in refusal(cur, "SELECT * FROM salaries")
    with setup.connect("carol") as conn:  # an admin may; it lives in global_temp, not in her session's names
        cur = conn.cursor()
        cur.execute(f"CREATE OR REPLACE GLOBAL TEMPORARY VIEW i15_g AS SELECT * FROM {setup.hr}.salaries")
    with setup.connect() as conn:  # global_temp is a database like any other: alice has no read on it
        cur = conn.cursor()
        assert "alice may not read global_temp.i15_g" in refusal(cur, "SELECT * FROM global_temp.i15_g")
        assert "alice may not write global_temp.i15_g" in refusal(cur, "DROP VIEW global_temp.i15_g")
    with setup.connect("carol") as conn:
        conn.cursor().execute("DROP VIEW global_temp.i15_g")


def test_drop_table_of_a_temp_view_drops_the_view_only(setup: Setup) -> None:
    """Spark drops the temp view first: no table is written, so alice need not write the one in
    the current database (the false denial of issue 8) — and that table stays."""
    with setup.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"USE {setup.hr}")
        cur.execute(f"CREATE TEMPORARY VIEW salaries AS SELECT * FROM {setup.mine}.t")
        cur.execute("SELECT * FROM salaries")  # her own view, hiding hr.salaries
        assert cur.fetchall() == []
        cur.execute("DROP TABLE salaries")
        assert f"alice may not read {setup.hr}.salaries" in refusal(cur, "SELECT * FROM salaries")
        assert f"alice may not write {setup.hr}.salaries" in refusal(cur, "DROP TABLE salaries")
    with setup.connect("carol") as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT * FROM {setup.hr}.salaries")
        assert cur.fetchall() == [(1, 100)]


def test_a_renamed_temp_view_is_known_by_its_new_name(setup: Setup) -> None:
    with setup.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TEMPORARY VIEW i15_a AS SELECT * FROM {setup.mine}.t")
        cur.execute("ALTER VIEW i15_a RENAME TO i15_b")
        cur.execute("SELECT count(*) FROM i15_b")
        assert cur.fetchall() == [(0,)]
        assert "alice may not read default.i15_a" in refusal(cur, "SELECT * FROM i15_a")
        # Spark refuses these on a temp view; the gateway names the view rather than default.i15_b
        assert "temporary view i15_b" in refusal(cur, "ALTER TABLE i15_b SET TBLPROPERTIES ('k' = 'v')")
        assert "temporary view i15_b" in refusal(cur, "INSERT INTO i15_b VALUES (1)")


def test_async_statements_move_the_temp_views_once_done(setup: Setup) -> None:
    with setup.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"USE {setup.mine}")
        cur.execute("CREATE TEMPORARY VIEW salaries AS SELECT 1 AS x", async_=True)
        cur.execute("DROP TABLE salaries", async_=True)
        cur.execute(f"USE {setup.hr}", async_=True)
        assert f"alice may not read {setup.hr}.salaries" in refusal(cur, "SELECT * FROM salaries")


def test_data_source_temp_views_are_refused(setup: Setup) -> None:
    with setup.connect() as conn:
        cur = conn.cursor()
        for sql in ("CREATE TEMPORARY VIEW i15_ds (a INT) USING parquet",
                    "CREATE TEMPORARY TABLE i15_ds (a INT) USING csv"):  # fmt: skip
            assert "data source temporary view" in refusal(cur, sql)


def test_the_shadow_holes_in_beeline(setup: Setup) -> None:
    out = beeline(setup.gw, "-n", "alice", "-e",
                  f"USE {setup.mine}; CACHE TABLE salaries AS SELECT 1 AS x; DROP TABLE salaries; "
                  f"USE {setup.hr}; SELECT * FROM salaries;")  # fmt: skip
    text = out.stdout + out.stderr
    assert f"alice may not read {setup.hr}.salaries" in text, text
    assert "100" not in text.split("may not read")[-1]


def test_a_statement_still_in_flight_is_checked_in_the_state_a_later_one_leads_to(setup: Setup) -> None:
    """Spark resolves an async statement's names when its background thread gets to them, maybe
    after a quick DROP VIEW and USE that follow it: while it may not be resolved yet, a USE under
    which it would read hr.salaries is refused (a cancel does not stop Spark's parse either)."""
    with setup.connect() as conn:
        cur, other = conn.cursor(), conn.cursor()
        cur.execute(f"USE {setup.mine}")
        cur.execute("CREATE TEMPORARY VIEW salaries AS SELECT 1 AS id")
        cur.execute("SELECT count(*) FROM salaries CROSS JOIN range(100000000000)", async_=True)  # runs for minutes
        other.execute("DROP VIEW salaries")  # the query would then read mine.salaries: alice may
        reason = refusal(other, f"USE {setup.hr}")
        assert f"alice may not read {setup.hr}.salaries" in reason and "has not finished" in reason, reason
        cur.cancel()
        assert "has not finished" in refusal(other, f"USE {setup.hr}")  # cancelled: it may still be parsing
    with setup.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"USE {setup.mine}")
        cur.execute("CREATE TEMPORARY VIEW salaries AS SELECT 1 AS id")
        cur.execute("SELECT count(*) FROM salaries", async_=True)
        while cur.poll().operationState in RUNNING:  # the engine says it finished: resolved
            time.sleep(0.05)
        assert cur.fetchall() == [(1,)]
        cur.execute("DROP VIEW salaries")
        cur.execute(f"USE {setup.hr}")
        assert f"alice may not read {setup.hr}.salaries" in refusal(cur, "SELECT * FROM salaries")
