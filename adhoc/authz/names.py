"""Table names as Spark resolves them: case-insensitive, `spark_catalog.` optional, unqualified
names in the session's current database."""

from __future__ import annotations

import re
from typing import NamedTuple, Protocol

from sqlglot import exp

DEFAULT_CATALOG = "spark_catalog"
_PART = r"(?:`(?:[^`]|``)+`|[A-Za-z0-9_$]+)"
IDENTIFIER = rf"{_PART}(?:\s*\.\s*{_PART}){{0,2}}"
_PARTS = re.compile(_PART)


class TableRef(NamedTuple):
    db: str
    table: str

    def __str__(self) -> str:
        return f"{self.db}.{self.table}"


class _Failable(Protocol):
    def fail(self, why: str) -> None: ...


def split_identifier(text: str) -> list[str]:
    return [p[1:-1].replace("``", "`") if p.startswith("`") else p for p in _PARTS.findall(text)]


def ref_from_parts(parts: list[str], current_db: str, info: _Failable) -> TableRef | None:
    parts = [p.lower() for p in parts]
    if len(parts) == 3:
        if parts[0] != DEFAULT_CATALOG:
            info.fail(f"catalog {parts[0]!r} is not covered by the policy (only {DEFAULT_CATALOG})")
            return None
        parts = parts[1:]
    if len(parts) == 2:
        return TableRef(parts[0], parts[1])
    if len(parts) == 1 and parts[0]:
        return TableRef(current_db.lower(), parts[0])
    info.fail(f"cannot resolve the name {'.'.join(parts)!r}")
    return None


def table_ref(node: exp.Table, current_db: str, info: _Failable) -> TableRef | None:
    if not isinstance(node.this, exp.Identifier):
        info.fail(f"cannot resolve the table name {node.sql(dialect='spark')!r}")
        return None
    parts = [node.catalog, node.db, node.name] if node.catalog else [node.db, node.name] if node.db else [node.name]
    return ref_from_parts(parts, current_db, info)


def database_of_use(parts: list[str], info: _Failable) -> str | None:
    """The database `USE <parts>` leaves the session in, as Spark's CatalogAndNamespace reads it:
    a first part naming a catalog switches to it (spark_catalog only: no other is covered by the
    policy, and switching to the current catalog changes nothing), the rest is the namespace."""
    parts = [p.lower() for p in parts]
    if parts and parts[0] == DEFAULT_CATALOG:
        parts = parts[1:]
        if not parts:
            return None  # USE spark_catalog: the catalog is already current, the database stays
    elif len(parts) > 1:
        info.fail(f"USE {'.'.join(parts)}: catalog {parts[0]!r} is not covered by the policy (only {DEFAULT_CATALOG})")
        return None
    if len(parts) != 1 or not parts[0]:
        info.fail(f"USE {'.'.join(parts)}: nested namespaces are not supported")
        return None
    return parts[0]
