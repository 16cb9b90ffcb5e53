"""Checks and rewrites on a statement's tokens, before anything parses it.

- `IDENTIFIER('db.tbl')` with a string literal is the name `db`.`tbl`, in every position Spark
  accepts the clause (tables, views, databases, columns, functions): it is inlined here, once, so
  every later step (the parser, the command patterns, the name resolver) sees an ordinary name.
  Any other argument cannot be known before the engine evaluates it: the statement is refused.
- A script transform (`TRANSFORM/MAP/REDUCE ... USING 'cmd'`) runs a program on every executor.
  `USING` followed by a string literal appears in no other Spark statement.
- Complexity: the token count and the parenthesis depth, counted in one pass, bound the work the
  parser (recursive: about 450 levels exhaust Python's stack) and the engine are given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise, repeat

from sqlglot.tokenizer_core import Token, TokenType

from adhoc.authz.names import IDENTIFIER, split_identifier

DEFAULT_MAX_TOKENS = 50_000  # about 200 KB of SQL; a 10 KB generated query has ~2,500
DEFAULT_MAX_DEPTH = 100  # parentheses; sqlglot's parser handles ~450

_STRINGS = frozenset({TokenType.STRING, TokenType.RAW_STRING, TokenType.NATIONAL_STRING, TokenType.HEREDOC_STRING})
_OPEN = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSE = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})
_DEPTH_DELTA = {**dict.fromkeys(_OPEN, 1), **dict.fromkeys(_CLOSE, -1)}
_NAME = re.compile(rf"\s*{IDENTIFIER}\s*")


@dataclass(frozen=True)
class Limits:
    """[policy] max_statement_tokens / max_statement_depth: beyond them a statement is refused to
    non-admins, and not parsed on the gateway's event loop."""

    max_tokens: int = DEFAULT_MAX_TOKENS
    max_depth: int = DEFAULT_MAX_DEPTH

    def exceeded(self, tokens: int, depth: int) -> str:
        """Which bound a statement of this size exceeds, as a sentence naming the setting; "" if none."""
        if tokens > self.max_tokens:
            return (f"the statement has {tokens:,} tokens; the gateway analyses at most "
                    f"{self.max_tokens:,} ([policy] max_statement_tokens)")  # fmt: skip
        if depth > self.max_depth:
            return (f"the statement nests {depth:,} levels deep; the gateway analyses at most "
                    f"{self.max_depth:,} ([policy] max_statement_depth)")  # fmt: skip
        return ""


def measure(types: Sequence[TokenType]) -> tuple[int, int]:
    """The token count and the deepest nesting of brackets (C-speed: a 10 KB query costs ~0.1 ms)."""
    deltas = map(_DEPTH_DELTA.get, types, repeat(0))
    return len(types), max(accumulate(deltas, initial=0))


def runs_a_script(types: Sequence[TokenType]) -> bool:
    """SELECT TRANSFORM(...) USING 'cmd', FROM ... MAP/REDUCE ... USING 'cmd'."""
    if TokenType.USING not in types:
        return False
    return any(a == TokenType.USING and b in _STRINGS for a, b in pairwise(types))


def _is_clause(tokens: Sequence[Token], i: int) -> bool:
    # A backticked `identifier`(...) is a function call, not the clause: only the bare keyword.
    return (
        tokens[i].token_type == TokenType.VAR
        and tokens[i].text.upper() == "IDENTIFIER"
        and i + 1 < len(tokens)
        and tokens[i + 1].token_type == TokenType.L_PAREN
    )


def has_identifier_clause(text: str, tokens: Sequence[Token]) -> bool:
    if "identifier" not in text.lower():  # the common case, without a look at every token
        return False
    return any(_is_clause(tokens, i) for i in range(len(tokens)))


def inline_identifier_clauses(text: str, tokens: Sequence[Token], offset: int = 0) -> tuple[str, str]:
    """`text` with every IDENTIFIER('a.b') written as `a`.`b`, and why it could not be done ("" if
    it could). `offset`: where `text` starts in the string the tokens were read from."""
    pieces: list[str] = []
    last = 0
    for i in range(len(tokens)):
        if not _is_clause(tokens, i):
            continue
        arg = tokens[i + 2] if i + 3 < len(tokens) else None
        if arg is None or arg.token_type not in _STRINGS or tokens[i + 3].token_type != TokenType.R_PAREN:
            return text, "IDENTIFIER() whose argument is not a single string literal cannot be resolved before it runs"
        if not _NAME.fullmatch(arg.text):
            return text, f"IDENTIFIER({arg.text!r}) is not a name"
        name = ".".join("`" + part.replace("`", "``") + "`" for part in split_identifier(arg.text))
        pieces += [text[last : tokens[i].start - offset], name]
        last = tokens[i + 3].end + 1 - offset
    return "".join(pieces) + text[last:], ""
