"""The call layer against the fake engine: what the real-STS tests check of the gateway's own logic
(handle ownership, sync statements run async, engine loss, `[adhoc]` log lines, teardown, drain,
status answered for ended operations), in milliseconds."""

from __future__ import annotations

import asyncio
import socket
import struct
import uuid

from prometheus_client import generate_latest
from TCLIService import ttypes

from adhoc.engines import Engine
from benchmarks.fake_engine import FakeEngine, error
from tests.gateway.fast.conftest import ENGINE, Client, FastGateway, eventually, start_gateway
from tests.hs2_raw import OK, START, sasl_frame

ERROR = ttypes.TStatusCode.ERROR_STATUS
State = ttypes.TOperationState


async def test_sessions_get_a_gateway_id_and_the_engine_keeps_its_own(gateway: FastGateway) -> None:
    heard: list[tuple[str, str]] = []

    class Listener:
        def session_opened(self, record: object) -> None:
            heard.append(("opened", record.session_id))  # type: ignore[attr-defined]

        def session_changed(self, record: object) -> None:
            pass

        def session_closed(self, record: object) -> None:
            heard.append(("closed", record.session_id))  # type: ignore[attr-defined]

    gateway.ctx.sessions.subscribe(Listener())
    client = await gateway.client()
    handle = await client.open_session()
    [record] = gateway.ctx.sessions.open_sessions()
    engine_id = str(uuid.UUID(bytes=handle.sessionId.guid))
    assert record.engine_session_id == engine_id and record.session_id != engine_id
    assert uuid.UUID(record.session_id).version == 4
    await client.call("CloseSession", ttypes.TCloseSessionReq(handle))
    assert heard == [("opened", record.session_id), ("closed", record.session_id)]
    assert gateway.fake.sessions == {}


async def test_engine_with_a_service_account_gets_it_and_a_proxy_user() -> None:
    fake = FakeEngine()
    engine = Engine("kyuubi", "yarn", "kyuubi", "127.0.0.1", 1, user="svc", password="s3cret")
    gw = await start_gateway(fake, engine)
    try:
        client = await gw.client("alice", password="alice-pw")
        await client.open_session("alice")
        [session] = fake.sessions.values()
        assert fake.logins == [("svc", "s3cret")]
        assert (session.user, session.password) == ("svc", "s3cret")
        assert session.conf["kyuubi.session.proxy.user"] == "alice"
    finally:
        await gw.server.stop(0)


async def test_handles_are_usable_only_on_their_connection(gateway: FastGateway) -> None:
    alice, mallory = await gateway.client("alice"), await gateway.client("mallory")
    session = await alice.open_session()
    op = (await alice.execute(session, "SELECT 3", run_async=True)).operationHandle
    await mallory.open_session("mallory")
    calls_before = sum(gateway.fake.calls.values())
    stolen = await mallory.execute(session, "SELECT 1")
    assert stolen.status.statusCode == ERROR and "Invalid SessionHandle" in stolen.status.errorMessage
    assert (await mallory.fetch(op)).status.statusCode == ERROR
    assert (await mallory.call("CancelOperation", ttypes.TCancelOperationReq(op))).status.statusCode == ERROR
    assert (await mallory.call("CloseSession", ttypes.TCloseSessionReq(session))).status.statusCode == ERROR
    assert sum(gateway.fake.calls.values()) == calls_before, "a foreign handle must never reach the engine"
    rows = await alice.fetch(op)
    assert rows.results.columns[0].i32Val.values == [3]


async def test_a_sync_statement_runs_async_on_the_engine_and_waits_here(gateway: FastGateway) -> None:
    gateway.fake.polls_to_finish = 3
    client = await gateway.client()
    session = await client.open_session()
    resp = await client.execute(session, "SELECT 42")  # the client asked for sync
    assert resp.status.statusCode == 0
    assert [r.runAsync for r in gateway.fake.requests_of("ExecuteStatement")] == [True]
    assert gateway.fake.calls["GetOperationStatus"] == 3  # the gateway polled until it finished
    assert (await client.status(resp.operationHandle)).operationState == State.FINISHED_STATE
    assert gateway.fake.calls["GetOperationStatus"] == 3  # and knows the answer since
    assert (await client.fetch(resp.operationHandle)).results.columns[0].i32Val.values == [42]


async def test_a_failed_sync_statement_reports_the_engines_error_as_a_sync_call_would(gateway: FastGateway) -> None:
    client = await gateway.client()
    session = await client.open_session()
    resp = await client.execute(session, "SELECT * FROM fail_here")
    status = resp.status
    assert status.statusCode == ERROR and status.sqlState == "42P01"
    assert status.errorMessage == "Error running query: Table or view not found: SELECT * FROM fail_here"
    # what the engine itself answers a sync call: the message, and its stack as Hive's infoMessages
    assert status.infoMessages == error(status.errorMessage).infoMessages
    assert gateway.fake.operations == {}, "a failed sync statement is closed on the engine, as Hive does"
    assert (await client.execute(session, "SELECT 2")).status.statusCode == 0  # the session lives on


async def test_engine_loss_is_an_error_then_a_clear_end_and_others_are_served(gateway: FastGateway) -> None:
    client = await gateway.client()
    session = await client.open_session()
    gateway.fake.die_on("ExecuteStatement")
    first = await client.execute(session, "SELECT 1")
    assert first.status.statusCode == ERROR and "closed the connection" in first.status.errorMessage
    again = await client.execute(session, "SELECT 1")
    assert "was lost; open a new session" in again.status.errorMessage
    assert gateway.ctx.sessions.open_sessions() == []
    other = await gateway.client("bob")
    assert (await other.execute(await other.open_session("bob"), "SELECT 5")).status.statusCode == 0


async def test_unreachable_engine_fails_open_session_with_the_reason(gateway: FastGateway) -> None:
    gateway.fake.unreachable = True
    client = await gateway.client()
    resp = await client.call("OpenSession", ttypes.TOpenSessionReq(client_protocol=5, username="alice"))
    assert resp.status.statusCode == ERROR and "unreachable" in resp.status.errorMessage
    assert resp.serverProtocolVersion == 5  # required: clients fail to decode a reply without it


async def test_operation_log_starts_with_the_adhoc_lines_once(gateway: FastGateway) -> None:
    client = await gateway.client()
    session = await client.open_session()
    op = (await client.execute(session, "SELECT 1")).operationHandle
    first = (await client.fetch(op, log=True)).results.columns[0].stringVal.values
    [record] = gateway.ctx.sessions.open_sessions()
    assert first[: len(record.log_lines())] == record.log_lines()
    assert first[0].startswith(f"[adhoc] session {record.session_id} of alice runs on engine fake")
    assert first[-1] == "engine: running SELECT 1"
    assert (await client.fetch(op, log=True)).results.columns[0].stringVal.values == []
    rewound = (await client.fetch(op, log=True, orientation=4)).results.columns[0].stringVal.values
    assert rewound[0] == first[0]  # FETCH_FIRST reads the log again from the top


async def test_adhoc_desc_session_is_answered_by_the_gateway(gateway: FastGateway) -> None:
    client = await gateway.client()
    session = await client.open_session()
    op = (await client.execute(session, "ADHOC DESC SESSION")).operationHandle
    assert gateway.fake.calls["ExecuteStatement"] == 0
    assert (await client.status(op)).operationState == State.FINISHED_STATE
    row = (await client.fetch(op)).results.columns[0].stringVal.values
    assert row == [gateway.ctx.sessions.open_sessions()[0].session_id]
    assert (await client.call("CloseOperation", ttypes.TCloseOperationReq(op))).status.statusCode == 0


async def test_status_of_an_ended_operation_is_answered_without_a_round_trip(gateway: FastGateway) -> None:
    gateway.fake.polls_to_finish = 2
    client = await gateway.client()
    session = await client.open_session()
    op = (await client.execute(session, "SELECT 1", run_async=True)).operationHandle
    states = [(await client.status(op)).operationState for _ in range(6)]
    assert states == [State.RUNNING_STATE] + [State.FINISHED_STATE] * 5
    assert gateway.fake.calls["GetOperationStatus"] == 2  # running, then finished: the rest answered here
    failed = (await client.execute(session, "SELECT fail", run_async=True)).operationHandle
    replies = [await client.status(failed) for _ in range(4)]
    assert {r.operationState for r in replies[1:]} == {State.ERROR_STATE}
    assert all("Table or view not found" in r.errorMessage for r in replies[1:])
    assert gateway.fake.calls["GetOperationStatus"] == 4
    scraped = generate_latest(gateway.ctx.metrics.registry).decode()
    assert "adhoc_status_answered_by_gateway_total 6.0" in scraped
    assert 'adhoc_calls_total{call="GetOperationStatus"} 10.0' in scraped
    assert (await client.call("CloseOperation", ttypes.TCloseOperationReq(op))).status.statusCode == 0
    gone = await client.status(op)
    assert gone.status.statusCode == ERROR and "not known on this connection" in gone.status.errorMessage


async def test_a_running_operations_status_always_goes_to_the_engine(gateway: FastGateway) -> None:
    client = await gateway.client()
    session = await client.open_session()
    op = (await client.execute(session, "SELECT sleep", run_async=True)).operationHandle
    for _ in range(3):
        assert (await client.status(op)).operationState == State.RUNNING_STATE
    assert gateway.fake.calls["GetOperationStatus"] == 3
    assert (await client.call("CancelOperation", ttypes.TCancelOperationReq(op))).status.statusCode == 0
    assert (await client.status(op)).operationState == State.CANCELED_STATE


async def test_a_departed_client_leaves_nothing_open_on_the_engine(gateway: FastGateway) -> None:
    client = await gateway.client()
    first, second = await client.open_session(), await client.open_session()  # STS would leak the first
    await client.execute(first, "SELECT sleep", run_async=True)
    await client.execute(second, "SELECT 1", run_async=True)
    client.close()
    await eventually(lambda: not gateway.fake.sessions)
    assert gateway.fake.calls["CancelOperation"] == 2
    assert gateway.ctx.sessions.open_sessions() == []


async def test_a_client_gone_mid_call_is_torn_down_on_a_side_connection(gateway: FastGateway) -> None:
    gateway.fake.long_poll_s = 30  # the gateway sits in a status call (long poll) when the client goes
    client = await gateway.client()
    session = await client.open_session()
    await client.send("ExecuteStatement", ttypes.TExecuteStatementReq(sessionHandle=session, statement="SELECT sleep"))
    await eventually(lambda: gateway.fake.calls["GetOperationStatus"] > 0)  # the gateway waits for it
    client.close()
    await eventually(lambda: not gateway.fake.sessions)
    assert [op.state for op in gateway.fake.operations.values()] == []  # closed with its session
    assert gateway.fake.calls["CancelOperation"] == 1
    assert len(gateway.fake.logins) == 2, "the main connection was mid-call: teardown opens another"


async def test_drain_ends_idle_connections_and_waits_for_running_statements(fake: FakeEngine) -> None:
    gw = await start_gateway(fake)
    idle, busy = await gw.client("idle"), await gw.client("busy")
    await idle.open_session("idle")
    session = await busy.open_session("busy")
    await asyncio.sleep(1.1)  # quiet for a moment: the gateway's definition of idle
    fake.polls_to_finish = 8  # ~0.7 s of the gateway's status polls
    await busy.send("ExecuteStatement", ttypes.TExecuteStatementReq(sessionHandle=session, statement="SELECT 9"))
    await eventually(lambda: fake.calls["GetOperationStatus"] > 0)
    stop = asyncio.create_task(gw.server.stop(drain_timeout_s=10))
    await eventually(lambda: gw.ctx.sessions.open_count("idle") == 0)
    assert gw.ctx.sessions.open_count("busy") == 1, "a running statement is given its time"
    resp = await busy.receive("ExecuteStatement")
    assert resp.status.statusCode == 0, "the running statement finished and was answered"
    await asyncio.wait_for(stop, 5)
    assert fake.sessions == {}


async def test_nosasl_client_is_served(gateway: FastGateway) -> None:
    client = await gateway.client("nora", nosasl=True)
    session = await client.open_session("nora")
    op = (await client.execute(session, "SELECT 5")).operationHandle
    assert (await client.fetch(op)).results.columns[0].i32Val.values == [5]


def test_engine_fixture_matches_the_config() -> None:
    assert ENGINE.address == "127.0.0.1:1"


async def test_token_calls_are_refused_and_unknown_calls_get_thrifts_answer(gateway: FastGateway) -> None:
    client = await gateway.client()
    session = await client.open_session()
    token = await client.call("GetDelegationToken", ttypes.TGetDelegationTokenReq(session, "alice", "alice"))
    assert token.status.statusCode == ERROR and "does not hand out tokens" in token.status.errorMessage
    assert gateway.fake.calls["GetDelegationToken"] == 0
    await client.send("GetLog", ttypes.TGetLogReq())  # pyhive's fetch_logs on old servers
    (length,) = struct.unpack(">I", await client.reader.readexactly(4))
    reply = await client.reader.readexactly(length)
    assert reply[:4] == b"\x80\x01\x00\x03" and b"Invalid method name: 'GetLog'" in reply  # TApplicationException
    assert (await client.execute(session, "SELECT 4")).status.statusCode == 0  # still served


async def test_idle_clients_are_dropped_and_their_sessions_closed(fake: FakeEngine) -> None:
    gw = await start_gateway(fake, idle_timeout_s=0.2, max_connections=2)
    try:
        idle = await gw.client("idle")
        await idle.open_session("idle")
        second = await gw.client("second")
        third_reader, _ = await asyncio.open_connection("127.0.0.1", gw.port)
        assert await asyncio.wait_for(third_reader.read(), 2) == b"", "over max_connections: refused"
        await eventually(lambda: not fake.sessions)
        assert await asyncio.wait_for(idle.reader.read(), 2) == b""
        second.close()
    finally:
        await gw.server.stop(0)


async def test_a_client_that_stops_reading_is_dropped_and_its_session_closed(fake: FakeEngine) -> None:
    gw = await start_gateway(fake, write_timeout_s=0.3)
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: no autotuning
        sock.connect(("127.0.0.1", gw.port))
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(sasl_frame(START, b"PLAIN") + sasl_frame(OK, b"\0slowpoke\0pw"))
        await reader.readexactly(5)
        client = Client(reader, writer, framed=True)
        session = await client.open_session("slowpoke")
        op = (await client.execute(session, "SELECT id FROM range(1500000)")).operationHandle
        writer.transport.pause_reading()  # and never read again: ~6 MB waits for a reader
        await client.send("FetchResults", ttypes.TFetchResultsReq(op, 0, 1500000, 0))
        await eventually(lambda: not fake.sessions, within_s=15)
        assert gw.ctx.sessions.open_count("slowpoke") == 0
    finally:
        await gw.server.stop(0)
