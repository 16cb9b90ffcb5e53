"""A Kyuubi session: once its first statement has finished, the gateway asks `KYUUBI DESC ENGINE`
on the session and takes the app id and the driver UI's address from it (a fake HS2 engine that
answers that statement as Kyuubi does; pyhive as the client)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from pyhive import hive
from TCLIService import ttypes

from adhoc.config import EngineConfig
from benchmarks.fake_engine import OK, FakeEngine, FakeEngineThread
from tests.gateway_harness import GatewayThread, gateway_config

DESC = ["ENGINE_ID", "ENGINE_NAME", "ENGINE_URL", "ENGINE_INSTANCE"]
ROW = ["spark-application-1764-7", "kyuubi_USER_SPARK_SQL_kim_default", "10.2.3.4:4040", "10.2.3.4:41555"]


class FakeKyuubi(FakeEngine):
    def _is_desc(self, req: Any) -> bool:
        op = self._operation(req)
        return op is not None and op.statement.strip().upper() == "KYUUBI DESC ENGINE"

    def _GetResultSetMetadata(self, req: Any) -> Any:
        if not self._is_desc(req):
            return super()._GetResultSetMetadata(req)
        entry = ttypes.TTypeEntry(primitiveEntry=ttypes.TPrimitiveTypeEntry(ttypes.TTypeId.STRING_TYPE))
        columns = [ttypes.TColumnDesc(name, ttypes.TTypeDesc([entry]), i + 1) for i, name in enumerate(DESC)]
        return ttypes.TGetResultSetMetadataResp(OK, ttypes.TTableSchema(columns))

    def _FetchResults(self, req: Any) -> Any:
        if req.fetchType == 1 or not self._is_desc(req):
            return super()._FetchResults(req)
        columns = [ttypes.TColumn(stringVal=ttypes.TStringColumn([value], b"")) for value in ROW]
        return ttypes.TFetchResultsResp(OK, False, ttypes.TRowSet(0, [], columns))


@pytest.fixture(scope="module")
def kyuubi_gateway() -> Iterator[tuple[GatewayThread, FakeKyuubi]]:
    fake = FakeKyuubi(polls_to_finish=1)
    server = FakeEngineThread(fake)
    engine = EngineConfig(name="kyuubi-k8s", kind="local", protocol="kyuubi", address=f"127.0.0.1:{server.port}")
    gw = GatewayThread(dataclasses.replace(gateway_config(engine.address), engines=(engine,)))
    yield gw, fake
    gw.stop()
    server.stop()


def test_desc_engine_fills_in_the_app_id_and_ui(kyuubi_gateway: tuple[GatewayThread, FakeKyuubi]) -> None:
    gw, fake = kyuubi_gateway
    with hive.connect(gw.host, port=gw.port, username="kim") as conn:
        cur = conn.cursor()  # pyhive has run `USE default`: the session's first statement
        cur.execute("SELECT 5")
        assert cur.fetchall() == [(5,)]
        cur.execute("SELECT 6")
        cur.fetchall()
        cur.execute("ADHOC DESC SESSION")
        session_id, app_id = (lambda r: (r[0], r[4]))(cur.fetchall()[0])
        assert app_id == ROW[0]
    record = gw.ctx.sessions.get(session_id)
    assert record.engine_ui_url == "http://10.2.3.4:4040"
    statements = [r.statement for r in fake.requests_of("ExecuteStatement")]
    # asked once, after the first statement finished (not at OpenSession: the engine may be starting)
    assert statements == ["USE `default`", "KYUUBI DESC ENGINE", "SELECT 5", "SELECT 6"]
