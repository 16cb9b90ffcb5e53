"""Statements still in flight when a later one moves the session's name resolution.

The Spark Thrift Server parses and resolves an async statement in its background thread, when it
gets there: a `SELECT * FROM salaries` checked while `salaries` was the user's temp view, sent
async, then `DROP VIEW salaries; USE hr` (7 ms later): if the SELECT is resolved only after those,
it reads hr.salaries. Seen on Spark 4.0 against a freshly started STS, with a 24,000-token WHERE:
the query returned hr's row. A cancel does not stop a parse, and a command (INSERT ... SELECT) runs
as soon as it is resolved. So a statement that moves name resolution is allowed only if every
statement of the session that may not be resolved yet would be allowed in the state it leads to.

Resolved means: the engine reported it finished or failed, or it has been running (or was
cancelled or closed) for RESOLVE_GRACE_S. A statement waiting for one of the engine's threads
(PENDING) is not resolved however long it waits. The grace is far above what parsing takes for
what the gateway lets through at all (50,000 tokens, 100 levels deep): that 24,000-token query ran
whole in 0.15-0.4 s on a warm engine, 4.2 s on a cold one; 60-deep nestings parsed in under 0.6 s.
"""

from __future__ import annotations

import dataclasses
import time

from adhoc.auth import Principal
from adhoc.authz import Authorizer, Decision, SessionState
from adhoc.authz.pool import AnalysisPool
from adhoc.gateway.call_base import ClientSession
from adhoc.gateway.operations import Operation
from adhoc.protocol import hs2
from adhoc.protocol.thrift_binary import read_message

_DENIED = "permission denied: "
RESOLVE_GRACE_S = 30.0


def note_state(op: Operation, state: int | None, now: float | None = None) -> None:
    """What an operation state the engine reported (or the client's cancel/close) says about it."""
    if state in (hs2.FINISHED_STATE, hs2.ERROR_STATE):
        op.settled = True
    elif state not in (hs2.INITIALIZED_STATE, hs2.PENDING_STATE) and op.started_at is None:
        # running, cancelled, closed, timed out: it may have started unseen just now
        op.started_at = time.monotonic() if now is None else now


def resolved(op: Operation, now: float) -> bool:
    return op.settled or (op.started_at is not None and now - op.started_at > RESOLVE_GRACE_S)


async def settle(session: ClientSession) -> None:
    """Ask the engine about in-flight statements the client has not polled to their end."""
    for op in session.in_flight:
        if op.settled or not op.running or op.handle.guid not in session.operations:
            continue  # cancelled or closed: the engine says no more about them, Spark may still parse
        reply = await session.backend.call(hs2.handle_call("GetOperationStatus", op.ref))
        _, body, _ = read_message(reply.message)
        status = hs2.GetOperationStatusResp(hs2.response_of(body))
        if status.ok:
            note_state(op, status.operation_state)
    now = time.monotonic()
    session.in_flight = [op for op in session.in_flight if not resolved(op, now)]


async def check_in_flight(authorizer: Authorizer, pool: AnalysisPool, principal: Principal, session: ClientSession,
                          decision: Decision) -> Decision:  # fmt: skip
    """`decision` (an allowed statement that moves name resolution), or a refusal when a statement
    still in flight would be refused in the state it leads to."""
    if decision.change is None or not session.in_flight or authorizer.is_admin(principal):
        return decision
    await settle(session)
    after = SessionState(session.state.current_db, set(session.state.temp_views))
    decision.change.apply(after)
    for op in session.in_flight:
        analysed = None
        if authorizer.slow_to_analyse(op.statement):
            analysed = await pool.analyze(op.statement, after.current_db, frozenset(after.temp_views))
        later = authorizer.check_statement(principal, op.statement, after, analysed)
        if not later.allowed:
            why = later.reason.removeprefix(_DENIED)
            reason = (f"{_DENIED}a statement of this session the engine has not finished (or that was cancelled) "
                      f"may still resolve its names after this one, and would then be refused: {why}; run this "
                      "once it has finished, or in a new session")  # fmt: skip
            return dataclasses.replace(decision, allowed=False, reason=reason, rule="", change=None)
    return decision


def track(session: ClientSession, op: Operation, statement: str) -> None:
    op.statement = statement
    session.in_flight.append(op)
