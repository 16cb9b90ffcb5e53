"""Status calls on ended operations, answered by the gateway from the engine's stored reply where
the bytes arrive: what a client sees must be what the engine would have said, on its own handles only."""

from __future__ import annotations

import asyncio
import struct

from prometheus_client import generate_latest
from TCLIService import ttypes

from benchmarks.fake_engine import FakeEngine
from tests.gateway.fast.conftest import Client, FastGateway, eventually, start_gateway
from tests.hs2_raw import encode_call

ERROR = ttypes.TStatusCode.ERROR_STATUS
State = ttypes.TOperationState


async def raw_reply(client: Client, message: bytes) -> bytes:
    """Send one message as the client's transport frames it; the reply message as it came."""
    if not client.framed:
        client.writer.write(message)
        return await asyncio.wait_for(client.reader.read(65536), 5)
    client.writer.write(struct.pack(">I", len(message)) + message)
    (length,) = struct.unpack(">I", await asyncio.wait_for(client.reader.readexactly(4), 5))
    return await client.reader.readexactly(length)


async def check_answers_are_the_engines_bytes(gateway: FastGateway, client: Client) -> None:
    session = await client.open_session()
    op = (await client.execute(session, "SELECT fail", run_async=True)).operationHandle
    assert (await client.status(op)).operationState == State.ERROR_STATE  # the engine said it ended
    engine_calls = gateway.fake.calls["GetOperationStatus"]
    layouts = [  # pyhive's call; Hive JDBC's asks for progress; a handle carrying modifiedRowCount
        ttypes.TGetOperationStatusReq(op),
        ttypes.TGetOperationStatusReq(op, getProgressUpdate=False),
        ttypes.TGetOperationStatusReq(ttypes.TOperationHandle(op.operationId, op.operationType, True, 5.0)),
    ]
    for seqid, req in zip((0, 41, -7), layouts, strict=True):
        message = encode_call("GetOperationStatus", req, seqid)
        answered = await raw_reply(client, message)
        assert answered == gateway.fake.answer(message), "the engine's reply, byte for byte, with the call's seqid"
        assert struct.unpack_from(">i", answered, 4 + 4 + len("GetOperationStatus"))[0] == seqid
    assert gateway.fake.calls["GetOperationStatus"] == engine_calls + len(layouts), "only the reference calls here"


async def test_an_ended_status_is_the_engines_reply_with_the_clients_seqid(gateway: FastGateway) -> None:
    await check_answers_are_the_engines_bytes(gateway, await gateway.client())


async def test_an_ended_status_is_the_engines_reply_for_a_nosasl_client_too(gateway: FastGateway) -> None:
    await check_answers_are_the_engines_bytes(gateway, await gateway.client("nora", nosasl=True))


async def test_a_status_call_on_another_connections_operation_is_refused(gateway: FastGateway) -> None:
    alice, mallory = await gateway.client("alice"), await gateway.client("mallory")
    op = (await alice.execute(await alice.open_session(), "SELECT 1", run_async=True)).operationHandle
    assert (await alice.status(op)).operationState == State.FINISHED_STATE
    await mallory.open_session("mallory")
    engine_calls = sum(gateway.fake.calls.values())
    stolen = await mallory.status(op)
    assert stolen.status.statusCode == ERROR and "not known on this connection" in stolen.status.errorMessage
    assert sum(gateway.fake.calls.values()) == engine_calls
    assert (await alice.status(op)).operationState == State.FINISHED_STATE


async def test_answered_statuses_are_counted(gateway: FastGateway) -> None:
    client = await gateway.client()
    op = (await client.execute(await client.open_session(), "SELECT 1", run_async=True)).operationHandle
    for _ in range(25):
        assert (await client.status(op)).operationState == State.FINISHED_STATE
    scraped = generate_latest(gateway.ctx.metrics.registry).decode()
    assert "adhoc_status_answered_by_gateway_total 24.0" in scraped
    assert 'adhoc_calls_total{call="GetOperationStatus"} 25.0' in scraped
    assert gateway.fake.calls["GetOperationStatus"] == 1


async def test_calls_sent_together_are_answered_in_order(gateway: FastGateway) -> None:
    client = await gateway.client()
    session = await client.open_session()
    op = (await client.execute(session, "SELECT 1", run_async=True)).operationHandle
    assert (await client.status(op)).operationState == State.FINISHED_STATE
    status = encode_call("GetOperationStatus", ttypes.TGetOperationStatusReq(op), 1)
    meta = encode_call("GetResultSetMetadata", ttypes.TGetResultSetMetadataReq(op), 2)
    client.writer.write(b"".join(struct.pack(">I", len(m)) + m for m in (status, meta, status)))
    names = []
    for _ in range(3):
        (length,) = struct.unpack(">I", await asyncio.wait_for(client.reader.readexactly(4), 5))
        reply = await client.reader.readexactly(length)
        names.append(reply[8 : 8 + struct.unpack_from(">i", reply, 4)[0]].decode())
    assert names == ["GetOperationStatus", "GetResultSetMetadata", "GetOperationStatus"]


async def test_a_client_polling_ended_statuses_is_not_idle_and_is_dropped_once_silent(fake: FakeEngine) -> None:
    gw = await start_gateway(fake, idle_timeout_s=0.3)
    try:
        client = await gw.client()
        op = (await client.execute(await client.open_session(), "SELECT 1", run_async=True)).operationHandle
        for _ in range(10):  # 0.6 s of calls answered without the engine, twice the idle timeout
            assert (await client.status(op)).operationState == State.FINISHED_STATE
            await asyncio.sleep(0.06)
        assert gw.fake.sessions, "still connected, its session open"
        assert await asyncio.wait_for(client.reader.read(), 2) == b"", "silent past the timeout: dropped"
        await eventually(lambda: not gw.fake.sessions)
    finally:
        await gw.server.stop(0)
