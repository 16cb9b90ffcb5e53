"""What a SQL text would do, statement by statement, as Spark would resolve it.

    for info in analyze(sql, current_db="default", temp_views={"tv"}):
        info.reads, info.writes, info.denied_class, info.unresolved, ...

Each statement goes through three steps: its tokens (token_checks: IDENTIFIER('x') inlined, script
transforms, complexity bounds), the statements sqlglot does not model (sql_commands), and sqlglot's
Spark parse walked by the Walker. Whatever cannot be resolved with certainty sets `unresolved` (and
the authorizer refuses it): a parse error, a statement kind it does not know, an unknown
table-valued function, a non-literal IDENTIFIER(), a catalog other than spark_catalog.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import ClassVar

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.dialects.spark import Spark
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from adhoc.authz.sql_commands import analyze_command
from adhoc.authz.statement import StatementInfo
from adhoc.authz.token_checks import Limits, has_identifier_clause, inline_identifier_clauses, measure, runs_a_script
from adhoc.authz.walker import Walker

# sqlglot warns for every statement it keeps as an opaque command; those are handled here.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

_SPARK = Dialect.get_or_raise("spark")


class _PlainTokenizer(Spark.Tokenizer):
    """Spark's tokens without sqlglot's shortcut for commands it does not parse (SHOW, ...: the
    rest of the text as one string): the token checks must see every token."""

    COMMANDS: ClassVar[set[TokenType]] = set()


_COMMAND_TOKENS = frozenset(Spark.Tokenizer.COMMANDS)
# Parse anything the parser can take (the caller applies its own bounds to the counts); beyond this
# depth sqlglot's recursive parser would exhaust the stack anyway.
NO_LIMITS = Limits(max_tokens=1 << 62, max_depth=400)


@dataclass(frozen=True)
class _Chunk:
    text: str
    tokens: list[Token] | None  # None when the text could not be tokenized
    problem: str = ""  # why its names cannot be known (a non-literal IDENTIFIER())
    checked: list[TokenType] | None = None  # the token types the token checks read


def _chunks(sql: str) -> list[_Chunk]:
    """Statements split on top-level semicolons (never those in strings or comments), tokenized
    once: the same tokens then go to the parser."""
    try:
        tokens = _SPARK.tokenize(sql)
    except TokenError:
        return [_Chunk(sql, None)]  # the parser will say what is wrong
    out: list[_Chunk] = []
    current: list[Token] = []
    for token in [*tokens, None]:
        if token is None or token.token_type == TokenType.SEMICOLON:
            if current:
                out.append(_chunk(sql, current))
            current = []
        else:
            current.append(token)
    return out


def _chunk(sql: str, tokens: list[Token]) -> _Chunk:
    start = tokens[0].start
    text = sql[start : tokens[-1].end + 1]
    plain, types = tokens, [t.token_type for t in tokens]
    if not _COMMAND_TOKENS.isdisjoint(types):
        try:
            plain, start = _PlainTokenizer().tokenize(text), 0
        except TokenError:
            return _Chunk(text, tokens, "the statement could not be tokenized")
        types = [t.token_type for t in plain]
    if not has_identifier_clause(text, plain):
        return _Chunk(text, tokens, checked=types)
    inlined, problem = inline_identifier_clauses(text, plain, start)
    if problem:
        return _Chunk(text, tokens, problem, types)
    types = [t.token_type for t in _PlainTokenizer().tokenize(inlined)]
    return _Chunk(inlined, _SPARK.tokenize(inlined), checked=types)


def split_statements(sql: str) -> list[str]:
    return [chunk.text for chunk in _chunks(sql)]


def analyze(
    sql: str, current_db: str = "default", temp_views: frozenset[str] = frozenset(), limits: Limits = NO_LIMITS
) -> list[StatementInfo]:
    """One StatementInfo per statement; USE and temp views carry over to the following statements."""
    infos: list[StatementInfo] = []
    views = set(temp_views)
    for chunk in _chunks(sql):
        info = _analyze_chunk(chunk, sql, current_db, frozenset(views), limits)
        infos.append(info)
        if info.use_db:
            current_db = info.use_db
        views -= info.temp_views_dropped
        views |= info.temp_views_created
    return infos


def analyze_statement(text: str, current_db: str, temp_views: frozenset[str]) -> StatementInfo:
    """One statement's text (EXPLAIN's inner statement, for one)."""
    chunks = _chunks(text)
    if len(chunks) > 1:
        info = StatementInfo(text)
        info.fail("expected exactly one statement")
        return info
    return _analyze_chunk(chunks[0] if chunks else _Chunk(text, []), text, current_db, temp_views, NO_LIMITS)


def _analyze_chunk(
    chunk: _Chunk, sql: str, current_db: str, temp_views: frozenset[str], limits: Limits
) -> StatementInfo:
    info = StatementInfo(chunk.text)
    if chunk.checked is not None:
        info.token_count, info.depth = measure(chunk.checked)
        info.over_limit = limits.exceeded(info.token_count, info.depth)
        if info.over_limit:
            return info  # not parsed at all: that is the point of the bound
        if runs_a_script(chunk.checked):
            info.deny_class("a script transform (TRANSFORM/MAP/REDUCE ... USING runs a program on the executors)")
    if chunk.problem:
        info.fail(chunk.problem)
        return info
    if "${" in sql:
        # Spark substitutes ${var}, ${hiveconf:x}, ${env:X}, ${system:x} in the raw text after this
        # check (quotes, comments and all): the statement it runs is not the one checked here, and
        # ${env:...} reads the driver's environment. What it would become cannot be known: refused.
        info.deny_class("variable substitution ${...}")
    if analyze_command(chunk.text, info, current_db, temp_views, analyze_statement):
        return info
    try:
        if chunk.tokens is None:
            parsed = sqlglot.parse(chunk.text, read="spark")
        else:
            parsed = _SPARK.parser().parse(chunk.tokens, chunk.text)
    except (ParseError, TokenError) as e:
        info.fail(f"not valid Spark SQL: {_first_line(str(e))}")
        return info
    except RecursionError:  # the parser recurses per nesting level; the depth bound may be raised too far
        info.fail("the statement is nested too deeply to analyse")
        return info
    if len(parsed) != 1 or parsed[0] is None:
        info.fail("expected exactly one statement")
        return info
    try:
        Walker(info, current_db, temp_views).statement(parsed[0])
    except RecursionError:
        info.fail("the statement is nested too deeply to analyse")
    finally:
        _unlink(parsed[0])
    return info


def _unlink(tree: exp.Expr) -> None:
    # sqlglot nodes point at their parents: every tree is a web of reference cycles that only the
    # cyclic GC frees, in pauses that grow with the garbage (p99 x4 on a 10 KB query). Cutting the
    # upward links lets reference counting free the tree the moment the analysis is done.
    for node in list(tree.walk()):
        node.parent = None


def _first_line(message: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", message).splitlines()[0][:200]
