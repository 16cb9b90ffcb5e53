"""When the gateway counts an async statement as resolved by Spark (adhoc.gateway.in_flight)."""

from __future__ import annotations

from adhoc.gateway.in_flight import RESOLVE_GRACE_S, note_state, resolved
from adhoc.gateway.operations import Operation
from adhoc.protocol import hs2


def _op() -> Operation:
    ref = hs2.HandleRef.of(hs2.operation_handle_struct(hs2.Handle.new(), has_result_set=True))
    assert ref is not None
    return Operation(ref, b"session", None)


def test_finished_or_failed_is_resolved_at_once() -> None:
    for state in (hs2.FINISHED_STATE, hs2.ERROR_STATE):
        op = _op()
        note_state(op, state, now=100.0)
        assert resolved(op, 100.0)


def test_waiting_for_an_engine_thread_is_never_resolved() -> None:
    op = _op()
    for state in (hs2.INITIALIZED_STATE, hs2.PENDING_STATE):
        note_state(op, state, now=0.0)
    assert not resolved(op, 1e9)


def test_running_cancelled_or_closed_is_resolved_after_the_grace_from_first_seen() -> None:
    for state in (1, hs2.CANCELED_STATE, hs2.CLOSED_STATE):  # 1: RUNNING
        op = _op()
        note_state(op, hs2.PENDING_STATE, now=0.0)
        note_state(op, state, now=50.0)
        note_state(op, state, now=70.0)  # later reports do not move the start
        assert not resolved(op, 50.0 + RESOLVE_GRACE_S - 1)
        assert resolved(op, 50.0 + RESOLVE_GRACE_S + 1)
