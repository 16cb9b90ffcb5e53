"""Session settings as a Hive/Spark server reads them: the one normaliser for OpenSession's
configuration, a statement's confOverlay, and SET / RESET statements.

An engine (Spark's Thrift server runs Hive's HiveSessionImpl) takes OpenSession keys as:
    set:hiveconf:K  set:K     a session setting (Spark copies it into the SQL conf)
    set:hivevar:K             a variable: Spark copies these into the SQL conf as well
    set:system:K              System.setProperty: JVM-wide, every later session sees it
    set:metaconf:K            a setting of the shared metastore client
    set:env:K                 refused by Hive itself
    use:database              the session's database (Spark runs `USE <value>`); Kyuubi: use:catalog
    K                         a session setting
Hive trims the name after `set:`; any other `xxx:` form is not one a setting can safely take, so it
is refused rather than passed on. In SQL, `SET K=V` reads K like the part after `set:` (Spark
strips `hivevar:` there too).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass

from adhoc.authz.analyzer import analyze_statement

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
# default escapes), what CREATE TABLE without USING makes (sources.default = jdbc).
PROTECTED_KEYS = (*PROXY_USER_KEYS, "spark.master", "spark.yarn.queue", "spark.kubernetes.*", "spark.sql.extensions",
                  "spark.jars*", "spark.driver.extra*", "spark.executor.extra*", "adhoc.*",
                  "spark.sql.catalog.*", "spark.sql.catalogimplementation", "spark.sql.defaultcatalog",
                  "spark.sql.hive.metastore.*", "spark.sql.casesensitive", "spark.sql.ansi.doublequotedidentifiers",
                  "spark.sql.parser.*", "spark.sql.sources.default",
                  "hive.metastore.*", "spark.hadoop.*", "fs.*", "hadoop.*", "dfs.*", "yarn.*", "mapreduce.*",
                  "mapred.*", "*class", "*classes", "*.impl")  # fmt: skip
ALLOWED_KEYS = ("adhoc.route",)


@dataclass(frozen=True)
class ConfKey:
    written: str  # as the client sent it
    form: str  # SETTING, SYSTEM, METACONF, USE or UNKNOWN
    name: str  # the setting (or for USE the thing) it names, as written after its prefix


def session_conf_key(key: str) -> ConfKey:
    """A key of OpenSession's configuration or of a statement's confOverlay."""
    if key.startswith("set:"):
        return set_key(key[4:], written=key)
    if key.startswith("use:"):
        return ConfKey(key, USE, key[4:].strip().lower())
    return ConfKey(key, UNKNOWN if ":" in key else SETTING, key.strip())


def set_key(name: str, written: str = "") -> ConfKey:
    """The name after `set:` (or after SET in SQL)."""
    name = name.strip().strip("`").strip()
    written = written or name
    for prefix, form in _SET_FORMS.items():
        if name.lower().startswith(prefix):
            name = name[len(prefix) :].strip()
            return ConfKey(written, UNKNOWN if ":" in name else form, name)
    return ConfKey(written, UNKNOWN if ":" in name else SETTING, name)


def setting_name(key: str) -> str:
    """`set:hiveconf:spark.x` -> `spark.x`: the setting any key form names."""
    return session_conf_key(key).name


def protected_key(name: str) -> bool:
    k = name.lower()
    return not any(fnmatch.fnmatchcase(k, a) for a in ALLOWED_KEYS) and any(
        fnmatch.fnmatchcase(k, p) for p in PROTECTED_KEYS
    )


def refusal(key: ConfKey, user: str, admin: bool, how: str = "SET") -> str | None:
    """Why `user` may not set `key`, or None."""
    if key.form in (SETTING, USE) and key.name.lower() in PROXY_USER_KEYS:
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
    if key.form == SETTING and protected_key(key.name):
        return f"permission denied: {user} may not {how} {key.name} (routing and security settings are fixed)"
    return None


def conf_refusal(conf: Mapping[str, str], user: str, admin: bool, origin: str) -> str | None:
    """The first key of a session conf or confOverlay that may not be set, as a refusal."""
    for written, value in conf.items():
        key = session_conf_key(written)
        why = refusal(key, user, admin)
        if why is None and key.form == USE and not admin:
            why = _use_refusal(key, value)
        if why is not None:
            return f"{why}; asked for as {origin} {written}"
    return None


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
