"""Session settings as a Hive/Spark/Kyuubi server reads them: the one normaliser for OpenSession's
configuration, a statement's confOverlay, and SET / RESET statements.

An engine takes OpenSession keys as (Spark's Thrift server runs Hive's HiveSessionImpl):
    set:hiveconf:K  set:K     a session setting (Spark copies it into the SQL conf)
    set:hivevar:K             a variable: Spark copies these into the SQL conf as well
    set:system:K              Hive: System.setProperty, JVM-wide. Kyuubi: the setting K
    set:metaconf:K            Hive: the shared metastore client. Kyuubi: the setting K
    set:env:K                 refused by Hive and Kyuubi
    use:database              the session's database (Spark runs `USE <value>`); Kyuubi: use:catalog
    K                         Hive: its own conf only. Kyuubi: the setting K
Hive cuts `set:` and then Java-trims the rest: String.trim() drops every character <= U+0020 at
either end, so `set:\\x01spark.sql.caseSensitive` IS spark.sql.caseSensitive; the prefixes after it
are matched case-sensitively and what follows them is used as is. Kyuubi trims nothing. Spark's SET
Java-trims what follows SET (`SET\\x01k=v` sets k), takes a backquoted key verbatim and strips a
`hivevar:` prefix even from that. Kyuubi launching an engine passes every key K that does not start
with spark. as spark.K (hadoop.K as spark.hadoop.K), and `--conf K=V` splits at the first `=`.

Rather than follow every layer's spelling rules, a key holding anything a layer could trim, split or
read differently is refused outright, for everyone: control and format characters, whitespace other
than a plain space, `=`. What is left is read as every layer could read it (Java-trimmed, prefixes
in any case), and checked under each name it may become.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from adhoc.authz.analyzer import analyze_statement
from adhoc.authz.launch_keys import DEFAULT_CONF, ConfBound, launch_key, legacy_refusal
from adhoc.authz.sql_commands import strip_leading_comments

SETTING, SYSTEM, METACONF, USE, UNKNOWN = "setting", "system", "metaconf", "use", "unknown"
_SET_FORMS = {"hiveconf:": SETTING, "hivevar:": SETTING, "system:": SYSTEM, "metaconf:": METACONF, "env:": UNKNOWN}

# Who the engine session runs as: set by the gateway only, never by a client.
PROXY_USER_KEYS = ("hive.server2.proxy.user", "kyuubi.session.proxy.user")
# Settings only admins change. They would move a session off its route, change what the engine
# loads or trusts (catalog plugins, extensions, classes, the metastore, the Hadoop filesystem
# settings every read and write goes through: Spark copies every SQL conf key into the Hadoop
# conf), or change how a statement reads, so that the gateway would check another statement than
# the engine runs: the default catalog, case-sensitive names (temporary views vs tables), how the
# parser reads quotes and string escapes (the gateway reads IDENTIFIER('...') literals with Spark's
# default escapes), what CREATE TABLE without USING makes (sources.default = jdbc). A policy's
# `conf` cannot open these (launch-time keys it can: adhoc.authz.launch_keys).
PROTECTED_KEYS = (*PROXY_USER_KEYS, "spark.master", "spark.yarn.queue", "spark.kubernetes.*", "spark.sql.extensions",
                  "spark.jars*", "spark.driver.extra*", "spark.executor.extra*", "adhoc.*",
                  "spark.sql.catalog.*", "spark.sql.catalogimplementation", "spark.sql.defaultcatalog",
                  "spark.sql.hive.metastore.*", "spark.sql.casesensitive", "spark.sql.ansi.doublequotedidentifiers",
                  "spark.sql.parser.*", "spark.sql.sources.default",
                  "hive.metastore.*", "spark.hadoop.*", "fs.*", "hadoop.*", "dfs.*", "yarn.*", "mapreduce.*",
                  "mapred.*", "*class", "*classes", "*.impl")  # fmt: skip
ALLOWED_KEYS = ("adhoc.route",)
# What a policy grants a user for launch-time keys: key (lower case) -> the bounds of their rules
ConfGrants = Mapping[str, tuple[ConfBound, ...]]


@dataclass(frozen=True)
class ConfKey:
    written: str  # as the client sent it
    form: str  # SETTING, SYSTEM, METACONF, USE or UNKNOWN
    name: str  # the setting (or for USE the thing) it names, as written after its prefix


def java_trim(text: str) -> str:
    """Java's String.trim(): every character <= U+0020 off both ends (Python's strip() differs)."""
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def odd_characters(key: str) -> list[str]:
    """Characters no layer reads the same way: controls (\\x00-\\x1f, \\x7f-\\x9f), format characters
    (zero-width, BOM, direction marks), whitespace other than a plain space, surrogates,
    private-use and unassigned code points, and `=` (where Kyuubi's launcher splits --conf K=V)."""
    odd = []
    for c in key:
        category = unicodedata.category(c)
        if c == "=" or (c != " " and (c.isspace() or category[0] in "CZ")):
            odd.append(c)
    return odd


def session_conf_key(key: str) -> ConfKey:
    """A key of OpenSession's configuration or of a statement's confOverlay."""
    if key.startswith("set:"):
        return set_key(key[4:], written=key)
    if key.startswith("use:"):
        return ConfKey(key, USE, java_trim(key[4:]).lower())
    return ConfKey(key, UNKNOWN if ":" in key else SETTING, java_trim(key))


def set_key(name: str, written: str = "") -> ConfKey:
    """The name after `set:` (or after SET in SQL, backquotes and all)."""
    name = java_trim(java_trim(name).strip("`"))
    written = written or name
    for prefix, form in _SET_FORMS.items():
        if name.lower().startswith(prefix):
            name = java_trim(name[len(prefix) :])
            return ConfKey(written, UNKNOWN if ":" in name else form, name)
    return ConfKey(written, UNKNOWN if ":" in name else SETTING, name)


def setting_name(key: str) -> str:
    """`set:hiveconf:spark.x` -> `spark.x`: the setting any key form names."""
    return session_conf_key(key).name


def engine_names(name: str) -> tuple[str, ...]:
    """Every setting `name` may become on an engine, lower case: itself, and what Kyuubi launches
    an engine with (spark.K for a K outside spark., spark.hadoop.K for hadoop.K)."""
    k = name.lower()
    if k.startswith("spark."):
        return (k,)
    return (k, "spark.hadoop." + k) if k.startswith("hadoop.") else (k, "spark." + k)


def protected_key(name: str) -> bool:
    def fixed(k: str) -> bool:
        return not any(fnmatch.fnmatchcase(k, a) for a in ALLOWED_KEYS) and any(
            fnmatch.fnmatchcase(k, p) for p in PROTECTED_KEYS
        )

    return any(fixed(k) for k in engine_names(name))


def refusal(
    key: ConfKey, user: str, admin: bool, how: str = "SET", value: str | None = None,
    conf_grants: ConfGrants = DEFAULT_CONF,
) -> str | None:  # fmt: skip
    """Why `user` may not set `key` (to `value`: None when it is not known), or None."""
    odd = odd_characters(key.written)
    if odd:
        shown = ", ".join(sorted({f"U+{ord(c):04X}" for c in odd}))
        return (f"permission denied: the setting name {key.written!r} holds {shown}: engines trim, split or read "
                "such characters differently, so names holding them are refused")  # fmt: skip
    if key.form in (SETTING, USE, SYSTEM, METACONF) and any(n in PROXY_USER_KEYS for n in engine_names(key.name)):
        return (f"permission denied: {user} may not {how} {key.name}: {key.name} is set by the gateway, not by "
                "clients (sessions run as the user who logged in)")  # fmt: skip
    if admin:
        return None
    if key.form == SYSTEM:
        return (f"permission denied: {key.written} sets a JVM-wide system property of the shared engine; "
                "only admins may")  # fmt: skip
    if key.form == METACONF:
        return f"permission denied: {key.written} changes the shared metastore client; only admins may"
    if key.form == UNKNOWN:
        return (f"permission denied: {key.written!r} is not a setting form the gateway checks "
                "(set:, set:hiveconf:, set:hivevar:, use:database or a plain key)")  # fmt: skip
    if key.form != SETTING:
        return None
    if protected_key(key.name):
        return f"permission denied: {user} may not {how} {key.name} (routing and security settings are fixed)"
    legacy = legacy_refusal(key.name)
    if legacy:
        return f"permission denied: {user} may not {how} {key.name}: {legacy}"
    return _launch_refusal(key.name, user, how, value, conf_grants)


def _launch_refusal(name: str, user: str, how: str, value: str | None, conf_grants: ConfGrants) -> str | None:
    for setting in engine_names(name):
        if not launch_key(setting, bare=not name.lower().startswith("spark.")):
            continue
        bounds = conf_grants.get(setting, ())
        if any(b.allows(value) for b in bounds):
            continue
        shown = name if value is None else f"{name}={value}"
        if not bounds:
            return (f"permission denied: {user} may not {how} {shown}: {setting} shapes the engine launched for "
                    "the session (launch-time settings need a policy `conf` entry)")  # fmt: skip
        allowed = "; ".join(b.describe() for b in bounds)
        return f"permission denied: {user} may not {how} {shown}: the policy allows {setting} {allowed}"
    return None


def conf_refusal(
    conf: Mapping[str, str], user: str, admin: bool, origin: str, conf_grants: ConfGrants = DEFAULT_CONF
) -> str | None:
    """The first key of a session conf or confOverlay that may not be set, as a refusal."""
    for written, value in conf.items():
        key = session_conf_key(written)
        why = refusal(key, user, admin, value=value, conf_grants=conf_grants)
        if why is None and "${" in value and not admin:
            # Hive substitutes ${env:X}, ${system:x}, ${hiveconf:x}, ${hivevar:x} in set: values
            # (verified on the STS: `SET k` then shows the engine's environment), as Spark does in
            # statement texts: refused like variable substitution in statements.
            why = (f"permission denied: the value of {key.name} holds ${{...}}, which the engine substitutes "
                   "(${env:X} reads its environment): variable substitution is not allowed for non-admins")  # fmt: skip
        if why is None and key.form == USE and not admin:
            why = _use_refusal(key, value)
        if why is not None:
            shown = repr(written) if odd_characters(written) else written  # never a raw control character
            return f"{why}; asked for as {origin} {shown}"
    return None


def statement_refusal(keys: list[str], text: str, user: str, admin: bool, conf_grants: ConfGrants) -> str | None:
    """The first setting a SET / RESET statement changes that `user` may not: the keys the analyser
    read and the key Spark's parser reads from `text` (should they differ, each is checked), the
    value as Spark's parser reads it (unknown for a key it does not agree on)."""
    parsed = set_statement(text)
    if parsed is not None and parsed[1] is None:
        parsed = None  # `SET key` shows a setting; it changes nothing
    settings = [(written, parsed[1] if parsed and set_key(parsed[0]).name == set_key(written).name else None)
                for written in keys]  # fmt: skip
    for written, value in [*settings, *([parsed] if parsed else [])]:
        why = refusal(set_key(written), user, admin, value=value, conf_grants=conf_grants)
        if why is not None:
            return why
    return None


# Spark's SparkSqlAstBuilder: an unquoted key, `=`, the rest up to `;` (Java regex \s and \d: ASCII)
_KEY_VALUE = re.compile(r"([a-zA-Z_0-9\\.:]+)[ \t\n\x0b\f\r]*=([^;]*);*")
_KEY_ONLY = re.compile(r"([a-zA-Z_0-9\\.:]+)[ \t\n\x0b\f\r]*")
_BACKQUOTED = re.compile(r"`((?:[^`]|``)*)`")
_SET = re.compile(r"(?is)\s*SET(?![a-z0-9_])")


def set_statement(text: str) -> tuple[str, str | None] | None:
    """(key, value) of `SET key = value` as Spark's parser reads it (value None for `SET key`), or
    None when this is not such a SET. Spark Java-trims what follows SET, so `SET\\x01k=v` sets k;
    a backquoted key or value is taken verbatim (`` for a backquote)."""
    body = strip_leading_comments(text)
    m = _SET.match(body)
    if m is None:
        return None
    rest = body[m.end() :]
    quoted = _BACKQUOTED.match(rest.lstrip(" \t\r\n"))
    if quoted:
        key = quoted.group(1).replace("``", "`")
        after = rest.lstrip(" \t\r\n")[quoted.end() :].lstrip(" \t\r\n")
        if not after or after.startswith(";"):
            return key, None
        return (key, _value(after[1:])) if after.startswith("=") else None
    trimmed = re.sub(";+$", "", java_trim(rest))
    kv = _KEY_VALUE.fullmatch(trimmed)
    if kv:
        return kv.group(1), _value(kv.group(2))
    key_only = _KEY_ONLY.fullmatch(trimmed)
    if key_only:
        return key_only.group(1), None
    if "=" in trimmed:  # SET key = `value`
        key_part, _, value_part = trimmed.partition("=")
        if _KEY_ONLY.fullmatch(java_trim(key_part)):
            return java_trim(key_part), _value(value_part)
    return None


def _value(text: str) -> str:
    value = java_trim(re.sub(";+$", "", java_trim(text)))
    quoted = _BACKQUOTED.fullmatch(value)
    return quoted.group(1).replace("``", "`") if quoted else value


def _use_refusal(key: ConfKey, value: str) -> str | None:
    if key.name == "database":
        info = analyze_statement(f"USE {value}", "default", frozenset())
        if info.kind != "use" or info.unresolved:
            return f"permission denied: cannot follow USE {value!r} ({info.unresolved or 'not a USE'})"
        return None
    if key.name == "catalog":
        if value.strip().strip("`").lower() != "spark_catalog":
            return f"permission denied: catalog {value!r} is not covered by the policy (only spark_catalog)"
        return None
    return f"permission denied: use:{key.name} is not a setting the gateway follows (use:database, use:catalog)"


def database_of(conf: Mapping[str, str]) -> str:
    """The database a session opens in: Hive JDBC sends the URL's database as use:database, and
    Spark runs `USE <value>`: the same state machine as a USE statement follows it."""
    value = next((v for k, v in conf.items() if session_conf_key(k) == ConfKey(k, USE, "database")), None)
    if not value:
        return "default"
    return analyze_statement(f"USE {value}", "default", frozenset()).use_db or "default"
