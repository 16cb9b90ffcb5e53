"""Run a client's synchronous statement asynchronously on the engine, and wait for it here."""

from __future__ import annotations

import asyncio
import time

from adhoc.gateway.engine_link import EngineConnection
from adhoc.gateway.metrics import Metrics
from adhoc.gateway.operations import Operation
from adhoc.protocol import hs2
from adhoc.protocol.hive_errors import status_fields
from adhoc.protocol.thrift_binary import StoredReply, Struct, read_message

_QUICK_S = 0.02  # a status call that returned faster than this did not long-poll


async def wait_for_operation(backend: EngineConnection, op: Operation, metrics: Metrics) -> Struct | None:
    """Poll until the operation ends: None when it finished, else the TStatus a sync call would have
    returned (and the operation closed on the engine, as Hive closes a failed sync operation)."""
    delay = 0.005
    status_call = hs2.handle_call("GetOperationStatus", op.ref)
    while True:
        started = time.monotonic()
        reply = await backend.call(status_call)
        metrics.relayed(len(status_call), len(reply.frame))
        _, body, _ = read_message(reply.message)
        resp = hs2.GetOperationStatusResp(hs2.response_of(body))
        if not resp.ok:
            failure = resp.status_struct or hs2.status(hs2.ERROR_STATUS, message="operation status unknown")
            break
        state = resp.operation_state
        if state == hs2.FINISHED_STATE:
            op.final_status = StoredReply(bytes(reply.message))  # the client's own status calls: answered here
            return None
        if state not in hs2.RUNNING_STATES:
            failure = _failure(resp, state)
            break
        if time.monotonic() - started < _QUICK_S:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
    await backend.call(hs2.handle_call("CloseOperation", op.ref))
    return failure


def _failure(resp: hs2.GetOperationStatusResp, state: int | None) -> Struct:
    """The TStatus a direct sync call would have failed with: the engine's message, and its stack
    as Hive's infoMessages (status replies carry it as Java's printed trace instead)."""
    text = resp.error_message or f"operation ended in state {state}"
    message, info = status_fields(text) or (text, [])
    status = hs2.status(hs2.ERROR_STATUS, sql_state=resp.sql_state or "HY000", error_code=resp.error_code or 0,
                        message=message)  # fmt: skip
    return hs2.with_info_messages(status, info)
