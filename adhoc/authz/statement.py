"""What the analyser found out about one statement (kept apart so every analyser module can use it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from adhoc.authz.names import TableRef


@dataclass
class StatementInfo:
    text: str
    kind: str = ""
    reads: set[TableRef] = field(default_factory=set)
    writes: set[TableRef] = field(default_factory=set)
    databases_written: set[str] = field(default_factory=set)  # CREATE / DROP / ALTER DATABASE
    databases_read: set[str] = field(default_factory=set)  # details of any table in it (SHOW TABLE EXTENDED)
    denied_class: str = ""  # a class of statement only admins may run, e.g. "ADD JAR"
    unresolved: str = ""  # why the analyser could not fully understand the statement
    over_limit: str = ""  # which complexity bound the statement exceeds (then it was not parsed)
    token_count: int = 0
    depth: int = 0  # deepest bracket nesting
    conf_keys: list[str] = field(default_factory=list)  # settings a SET / RESET changes, as written
    use_db: str | None = None
    temp_views_created: set[str] = field(default_factory=set)
    temp_views_dropped: set[str] = field(default_factory=set)

    def deny_class(self, name: str) -> None:
        self.denied_class = self.denied_class or name

    def fail(self, why: str) -> None:
        self.unresolved = self.unresolved or why
