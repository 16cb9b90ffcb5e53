"""Completion candidates: Spark SQL keywords and the names the catalog browser has seen."""

from __future__ import annotations

import re

KEYWORDS = sorted(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "GROUP",
        "BY",
        "ORDER",
        "HAVING",
        "LIMIT",
        "JOIN",
        "LEFT",
        "RIGHT",
        "FULL",
        "OUTER",
        "INNER",
        "CROSS",
        "SEMI",
        "ANTI",
        "ON",
        "USING",
        "UNION",
        "ALL",
        "INTERSECT",
        "EXCEPT",
        "DISTINCT",
        "AS",
        "AND",
        "OR",
        "NOT",
        "NULL",
        "IS",
        "IN",
        "BETWEEN",
        "LIKE",
        "RLIKE",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "WITH",
        "INSERT",
        "INTO",
        "OVERWRITE",
        "TABLE",
        "VALUES",
        "CREATE",
        "VIEW",
        "TEMPORARY",
        "DROP",
        "ALTER",
        "DESCRIBE",
        "SHOW",
        "TABLES",
        "DATABASES",
        "EXPLAIN",
        "CACHE",
        "UNCACHE",
        "USE",
        "SET",
        "LATERAL",
        "EXPLODE",
        "OVER",
        "PARTITION",
        "WINDOW",
        "ROWS",
        "RANGE",
        "PRECEDING",
        "FOLLOWING",
        "CURRENT",
        "ROW",
        "CAST",
        "COUNT",
        "SUM",
        "AVG",
        "MIN",
        "MAX",
        "COALESCE",
        "CONCAT",
        "DATE_FORMAT",
        "CURRENT_DATE",
        "CURRENT_TIMESTAMP",
        "DATE_SUB",
        "DATE_ADD",
        "TRUE",
        "FALSE",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
    ]
)

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$")


def word_before(text: str) -> str:
    match = _WORD.search(text)
    return match.group(0) if match else ""


def candidates(prefix: str, names: set[str], limit: int = 20) -> list[str]:
    if not prefix:
        return []
    low = prefix.lower()
    found = sorted({n for n in names if n.lower().startswith(low) and n.lower() != low})
    words = [k for k in KEYWORDS if k.lower().startswith(low) and k.lower() != low]
    return (found + words)[:limit]


def common_prefix(words: list[str]) -> str:
    if not words:
        return ""
    first, last = min(words, key=str.lower), max(words, key=str.lower)
    n = 0
    while n < min(len(first), len(last)) and first[n].lower() == last[n].lower():
        n += 1
    return first[:n]
