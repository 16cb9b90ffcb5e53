"""Splitting and formatting SQL the way an editor needs it (sqlparse)."""

from __future__ import annotations

import sqlparse


def split(sql: str) -> list[str]:
    """Statements without their trailing semicolons; comments-only pieces dropped."""
    out = []
    for statement in sqlparse.split(sql):
        text = statement.strip().rstrip(";").strip()
        if text and sqlparse.format(text, strip_comments=True).strip():
            out.append(text)
    return out


def statement_at(sql: str, offset: int) -> str:
    """The statement that the cursor (a character offset into `sql`) is in or just after."""
    position = 0
    last = ""
    for piece in sqlparse.split(sql, strip_semicolon=False):
        start = sql.find(piece, position)
        end = start + len(piece)
        text = piece.strip().rstrip(";").strip()
        if text:
            last = text
            if offset <= end:
                return text
        position = end
    return last


def format_sql(sql: str) -> str:
    out = sqlparse.format(sql, reindent=True, keyword_case="upper", indent_width=4, use_space_around_operators=True)
    return str(out).strip() + "\n"


def offset_of(sql: str, row: int, column: int) -> int:
    lines = sql.split("\n")
    return sum(len(line) + 1 for line in lines[:row]) + column
