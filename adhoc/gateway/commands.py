"""Statements the gateway answers itself, never sent to an engine.

ADHOC DESC SESSION      one row: session_id, user, route, engine, app_id, spark_ui_url, logs_url, queued_ms,
                        cost (NULL unless a K8s session's pods were seen: an estimate from requests)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from adhoc.gateway.sessions import DESC_COLUMNS, SessionRecord
from adhoc.protocol.rowset import ColumnType, ResultSet

_DESC_SESSION = re.compile(r"^\s*ADHOC\s+DESC(?:RIBE)?\s+SESSION\s*;?\s*$", re.IGNORECASE)
_DESC_TYPES: dict[str, ColumnType] = {"queued_ms": "bigint", "cost": "double"}


@dataclass(frozen=True)
class GatewayCommand:
    name: str
    run: Callable[[SessionRecord], ResultSet]


def describe_session(record: SessionRecord) -> ResultSet:
    columns = tuple((name, _DESC_TYPES.get(name, "string")) for name in DESC_COLUMNS)
    return ResultSet(columns=columns, rows=(record.desc_row(),))


def parse_gateway_command(statement: str) -> GatewayCommand | None:
    # Cheap first test: almost every statement is not ours.
    if "adhoc" not in statement[:64].lower():
        return None
    if _DESC_SESSION.match(statement):
        return GatewayCommand("ADHOC DESC SESSION", describe_session)
    return None
