"""Spark statements sqlglot does not model (it parses them as opaque commands), read from the text.

Each pattern names what the statement touches; a statement no pattern knows goes on to sqlglot.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from adhoc.authz.names import (
    DEFAULT_CATALOG,
    IDENTIFIER,
    TableRef,
    database_of_use,
    ref_from_parts,
    split_identifier,
)
from adhoc.authz.statement import StatementInfo

Recurse = Callable[[str, str, frozenset[str]], StatementInfo]

_COMMENTS = re.compile(r"^\s*(?:--[^\n]*(?:\n|$)|/\*.*?\*/|\s+)*", re.S)
_ID = rf"(?P<name>{IDENTIFIER})"


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern + r"\s*;?\s*$", re.I | re.S)


_DENIED = [
    (_rx(r"ADD\s+(?:JAR|JARS|FILE|FILES|ARCHIVE|ARCHIVES)\b.*"), "ADD JAR/FILE/ARCHIVE"),
    (_rx(r"EXECUTE\s+IMMEDIATE\b.*"), "EXECUTE IMMEDIATE"),
    (_rx(r"LOAD\s+DATA\b.*"), "LOAD DATA"),
    (_rx(r"(?:CREATE|DROP)\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?FUNCTION\b.*"), "CREATE FUNCTION"),
]
_HARMLESS = [  # name lists and session housekeeping: they read no table's data or schema
    _rx(r"SHOW\s+(?:TABLES|VIEWS)(?:\s+(?:FROM|IN)\s+" + IDENTIFIER + r")?(?:\s+LIKE\s+'[^']*')?"),
    _rx(r"SHOW\s+(?:DATABASES|SCHEMAS|NAMESPACES|CATALOGS)(?:\s+LIKE\s+'[^']*')?"),
    _rx(
        r"SHOW\s+(?:USER\s+|SYSTEM\s+|ALL\s+)?FUNCTIONS(?:\s+(?:FROM|IN)\s+" + IDENTIFIER + r")?(?:\s+LIKE\s+'[^']*')?"
    ),
    _rx(r"SHOW\s+CURRENT\s+(?:NAMESPACE|DATABASE|SCHEMA)"),
    _rx(r"(?:DESC|DESCRIBE)\s+FUNCTION(?:\s+EXTENDED)?\s+" + IDENTIFIER),
    _rx(r"(?:DESC|DESCRIBE)\s+(?:DATABASE|SCHEMA|NAMESPACE)(?:\s+EXTENDED)?\s+" + IDENTIFIER),
    _rx(r"LIST\s+(?:JAR|JARS|FILE|FILES|ARCHIVE|ARCHIVES)\b.*"),
    _rx(r"SET\s+-v"),
    _rx(r"RESET"),
    _rx(r"CLEAR\s+CACHE"),
]
_READS = [
    _rx(rf"SHOW\s+CREATE\s+TABLE\s+{_ID}(?:\s+AS\s+SERDE)?"),
    _rx(rf"SHOW\s+(?:TBLPROPERTIES|PARTITIONS)\s+{_ID}(?:\s*\(.*\))?"),
    _rx(rf"SHOW\s+COLUMNS\s+(?:FROM|IN)\s+(?P<table>{IDENTIFIER})(?:\s+(?:FROM|IN)\s+(?P<db>{IDENTIFIER}))?"),
    _rx(rf"TABLE\s+{_ID}"),
    # DESCRIBE t col: one column (sqlglot reads DESCRIBE t alone)
    _rx(
        rf"(?:DESC|DESCRIBE)\s+(?:TABLE\s+)?(?:(?:EXTENDED|FORMATTED)\s+)?"
        rf"(?!(?:TABLE|EXTENDED|FORMATTED|QUERY|FUNCTION|DATABASE|SCHEMA|NAMESPACE)\s){_ID}\s+(?!PARTITION\b){IDENTIFIER}"
    ),
]
_WRITES = [
    _rx(rf"MSCK\s+REPAIR\s+TABLE\s+{_ID}(?:\s+(?:ADD|DROP|SYNC)\s+PARTITIONS)?"),
    _rx(rf"ALTER\s+TABLE\s+{_ID}\s+RECOVER\s+PARTITIONS"),
]
# SHOW TABLE EXTENDED [IN db] LIKE 'pattern': schema and details of every table the pattern matches
_SHOW_TABLE_EXTENDED = _rx(
    rf"SHOW\s+TABLE\s+EXTENDED(?:\s+(?:IN|FROM)\s+{_ID})?\s+LIKE\s+'(?P<pattern>[^'\\]*)'"
    r"(?:\s+PARTITION\s*\(.*\))?"
)
# ANALYZE TABLES IN db: statistics of every table in it, written (like a write on db.*)
_ANALYZE_TABLES = _rx(rf"ANALYZE\s+TABLES(?:\s+(?:FROM|IN)\s+{_ID})?\s+COMPUTE\s+STATISTICS(?:\s+NOSCAN)?")
_SET_SHOW = _rx(r"SET\s+(?P<key>[A-Za-z0-9_.:`-]+)")
_RESET_KEY = _rx(r"RESET\s+(?P<key>[A-Za-z0-9_.:`-]+)")
# SET key = value: Spark takes everything after '=' as the value (URLs, paths, a:b), which sqlglot
# cannot parse; only the key matters here. SET VAR[IABLE] assigns expressions: sqlglot reads those.
_SET_KEY_VALUE = _rx(r"SET\s+(?!VAR\b|VARIABLE\b)(?P<key>`[^`]+`|[A-Za-z0-9_.:-]+)\s*=.*")
# Spark's own redaction pattern (spark.redaction.regex): values of such keys are secrets.
_SECRET_KEY = re.compile(r"secret|password|token|access[.]?key|credential", re.I)
# Every statement that moves the session's current catalog or database (Spark 4): USE [DATABASE|
# SCHEMA|NAMESPACE] name and SET CATALOG name|'name'. IDENTIFIER('x') was inlined before.
_USE = _rx(rf"USE\s+(?:(?:DATABASE|SCHEMA|NAMESPACE)\s+)?{_ID}")
_SET_CATALOG = _rx(rf"SET\s+CATALOG\s+(?:{_ID}|'(?P<literal>[^'\\]*)'|\"(?P<dliteral>[^\"\\]*)\")")
_EXPLAIN = _rx(r"EXPLAIN(?:\s+(?:EXTENDED|CODEGEN|COST|FORMATTED|LOGICAL))?\s+(?P<inner>.+)")
_DESCRIBE_QUERY = _rx(r"(?:DESC|DESCRIBE)\s+QUERY\s+(?P<inner>.+)")


def analyze_command(
    text: str, info: StatementInfo, current_db: str, temp_views: frozenset[str], recurse: Recurse
) -> bool:
    """Fill `info` if `text` is one of the statements read here; False to let sqlglot parse it."""
    body = strip_leading_comments(text)
    for pattern, name in _DENIED:
        if pattern.match(body):
            info.kind = name.lower()
            info.deny_class(name)
            return True
    if any(p.match(body) for p in _HARMLESS):
        info.kind = " ".join(body.split()[:2]).lower()
        return True
    for pattern in _READS:
        m = pattern.match(body)
        if m:
            first = body.split()[0].upper()
            info.kind = {"TABLE": "query", "DESC": "describe"}.get(first, " ".join(body.split()[:2]).lower())
            parts = _parts(m)
            if not (len(parts) == 1 and parts[0].lower() in temp_views):
                ref = ref_from_parts(parts, current_db, info)
                if ref is not None:
                    info.reads.add(ref)
            return True
    for pattern in _WRITES:
        m = pattern.match(body)
        if m:
            info.kind = " ".join(body.split()[:2]).lower()
            parts = _parts(m)
            if len(parts) == 1 and parts[0].lower() in temp_views:  # Spark resolves the temp view, then refuses
                info.fail(f"{info.kind.upper()} on the temporary view {parts[0].lower()}: it is no table")
                return True
            ref = ref_from_parts(parts, current_db, info)
            if ref is not None:
                info.writes.add(ref)
            return True
    m = _SHOW_TABLE_EXTENDED.match(body)
    if m:
        info.kind = "show table extended"
        listed = _database(m.group("name"), current_db, info)
        like = m.group("pattern").strip().lower()
        if like and not any(c in like for c in "*|"):  # one table, by its name
            info.reads.add(TableRef(listed, like))
        else:
            info.databases_read.add(listed)
        return True
    m = _ANALYZE_TABLES.match(body)
    if m:
        info.kind = "analyze tables"
        info.databases_written.add(_database(m.group("name"), current_db, info))
        return True
    m = _USE.match(_without_comments(body)) if body[:3].upper() == "USE" else None
    if m:
        info.kind = "use"
        db = database_of_use(split_identifier(m.group("name")), info)
        info.use_db = db if db is not None else (None if info.unresolved else current_db)
        return True
    m = _SET_CATALOG.match(body)
    if m:
        info.kind = "set catalog"
        name = m.group("literal") or m.group("dliteral") or "".join(split_identifier(m.group("name") or ""))
        if name.lower() != DEFAULT_CATALOG:
            info.fail(f"catalog {name!r} is not covered by the policy (only {DEFAULT_CATALOG})")
        return True  # the current catalog already: Spark changes nothing
    m = _SET_SHOW.match(body)
    if m:  # SET key: shows one setting's value
        info.kind = "set"
        if _SECRET_KEY.search(m.group("key")):
            info.deny_class(f"reading the secret setting {m.group('key').strip('`')}")
        return True
    m = _SET_KEY_VALUE.match(body)
    if m:
        info.kind = "set"
        info.conf_keys.append(m.group("key").strip("`"))
        return True
    m = _RESET_KEY.match(body)
    if m:  # RESET key: a change of that setting, like SET key = value
        info.kind = "reset"
        info.conf_keys.append(m.group("key").strip("`"))
        return True
    m = _EXPLAIN.match(body) or _DESCRIBE_QUERY.match(body)
    if m:
        inner = recurse(m.group("inner"), current_db, temp_views)
        info.kind = "explain"
        info.reads, info.writes, info.databases_written = inner.reads, inner.writes, inner.databases_written
        info.databases_read = inner.databases_read
        info.denied_class, info.unresolved, info.conf_keys = inner.denied_class, inner.unresolved, inner.conf_keys
        return True
    return False


def _database(name: str | None, current_db: str, info: StatementInfo) -> str:
    """`db` or `spark_catalog.db` (None: the current database)."""
    parts = [p.lower() for p in split_identifier(name or current_db)]
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != DEFAULT_CATALOG):
        info.fail(f"database {name}: only databases of {DEFAULT_CATALOG} are covered")
    return parts[-1]


def _without_comments(text: str) -> str:
    """`USE/**/hr`: comments are spaces. Not in a text with quotes (or backticks around `--` or `/*`),
    where they could be part of a string or a name."""
    if "'" in text or '"' in text or ("`" in text and ("--" in text or "/*" in text)):
        return text
    return re.sub(r"/\*.*?\*/|--[^\n]*", " ", text, flags=re.S)


def strip_leading_comments(text: str) -> str:
    match = _COMMENTS.match(text)
    return text[match.end() :] if match else text


def _parts(m: re.Match[str]) -> list[str]:
    groups = m.groupdict()
    if groups.get("table") is not None:
        table = split_identifier(groups["table"])
        return split_identifier(groups["db"]) + table[-1:] if groups.get("db") else table
    return split_identifier(groups["name"])
