"""Run a client's synchronous statement asynchronously on the engine, and wait for it here."""

from __future__ import annotations

import asyncio
import time

from adhoc.gateway.backend import BackendConnection
from adhoc.gateway.metrics import Metrics
from adhoc.gateway.operations import Operation
from adhoc.protocol import hs2
from adhoc.protocol.thrift_binary import CALL, STRUCT, Struct, encode_message, read_message

_QUICK_S = 0.02  # a status call that returned faster than this did not long-poll


def operation_call(name: str, op: Operation) -> bytes:
    return encode_message(name, CALL, 0, Struct().set(1, STRUCT, Struct().set(1, STRUCT, op.handle_struct)))


async def wait_for_operation(backend: BackendConnection, op: Operation, metrics: Metrics) -> Struct | None:
    """Poll until the operation ends: None when it finished, else the TStatus a sync call would have
    returned (and the operation closed on the engine, as Hive closes a failed sync operation)."""
    delay = 0.005
    status_call = operation_call("GetOperationStatus", op)
    while True:
        started = time.monotonic()
        reply = await backend.call(status_call)
        metrics.relayed(len(status_call), len(reply.frame))
        _, body, _ = read_message(reply.message)
        resp = hs2.response_of(body) or Struct()
        code = hs2.status_code_of(resp)
        if code not in (0, 1):
            failure = resp.struct(1) or hs2.status(3, message="operation status unknown")
            break
        state = resp.int(2)
        if state == hs2.FINISHED_STATE:
            return None
        if state not in hs2.RUNNING_STATES:
            failure = hs2.status(
                3,
                sql_state=resp.text(3) or "HY000",
                error_code=resp.int(4) or 0,
                message=resp.text(5) or f"operation ended in state {state}",
            )
            break
        if time.monotonic() - started < _QUICK_S:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
    close_call = operation_call("CloseOperation", op)
    await backend.call(close_call)
    return failure
