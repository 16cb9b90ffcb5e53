"""The one normaliser of setting keys: every form a Hive/Spark server reads, as the gateway reads it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adhoc.authz.conf_keys import (
    METACONF,
    SETTING,
    SYSTEM,
    UNKNOWN,
    USE,
    conf_refusal,
    database_of,
    java_trim,
    odd_characters,
    session_conf_key,
    set_key,
    set_statement,
)


@pytest.mark.parametrize(
    ("key", "form", "name"),
    [
        ("spark.sql.shuffle.partitions", SETTING, "spark.sql.shuffle.partitions"),
        ("set:spark.sql.catalog.x", SETTING, "spark.sql.catalog.x"),
        ("set:hiveconf:spark.sql.catalog.x", SETTING, "spark.sql.catalog.x"),
        ("set:hivevar:spark.sql.catalog.x", SETTING, "spark.sql.catalog.x"),
        ("set: hiveconf:spark.x ", SETTING, "spark.x"),  # Hive trims the name after set:
        ("set:HIVEVAR:spark.x", SETTING, "spark.x"),
        ("set:system:user.name", SYSTEM, "user.name"),
        ("set:  system:user.name", SYSTEM, "user.name"),
        ("set:metaconf:hive.metastore.try.direct.sql", METACONF, "hive.metastore.try.direct.sql"),
        ("set:env:HOME", UNKNOWN, "HOME"),
        ("set:hiveconf:system:user.name", UNKNOWN, "system:user.name"),
        ("set:foo:bar", UNKNOWN, "foo:bar"),
        ("hivevar:spark.x", UNKNOWN, "hivevar:spark.x"),
        ("system:user.name", UNKNOWN, "system:user.name"),
        ("use:database", USE, "database"),
        ("use:catalog", USE, "catalog"),
    ],
)
def test_every_key_form(key: str, form: str, name: str) -> None:
    parsed = session_conf_key(key)
    assert (parsed.form, parsed.name) == (form, name)


def test_sql_set_reads_keys_like_the_part_after_set() -> None:
    assert set_key("hivevar:spark.sql.defaultCatalog").name == "spark.sql.defaultCatalog"
    assert set_key("`spark.sql.catalog.x`").name == "spark.sql.catalog.x"
    assert set_key("system:java.io.tmpdir") == set_key("system:java.io.tmpdir", "system:java.io.tmpdir")
    assert set_key("system:java.io.tmpdir").form == SYSTEM


@pytest.mark.parametrize(
    ("conf", "admin", "refused"),
    [
        ({"set:hiveconf:spark.sql.shuffle.partitions": "8"}, False, None),
        ({"set:hivevar:region": "eu"}, False, None),
        ({"use:database": "`sales`"}, False, None),
        ({"use:database": "spark_catalog.sales"}, False, None),
        ({"use:catalog": "spark_catalog"}, False, None),
        ({"set:system:user.name": "admin"}, True, None),  # admins may
        ({"set:spark.sql.defaultCatalog": "evil"}, False, "alice may not SET spark.sql.defaultCatalog"),
        ({"set:system:user.name": "admin"}, False, "JVM-wide system property"),
        ({"use:database": "other.sales"}, False, "catalog 'other' is not covered"),
        ({"use:database": "sales; DROP TABLE x"}, False, "cannot follow USE"),
        ({"use:schema": "sales"}, False, "use:schema is not a setting the gateway follows"),
        ({"set:hiveconf:hive.server2.proxy.user": "carol"}, True, "is set by the gateway"),  # nobody may
    ],
)
def test_refusals(conf: dict[str, str], admin: bool, refused: str | None) -> None:
    why = conf_refusal(conf, "alice", admin, "session conf")
    if refused is None:
        assert why is None
    else:
        assert why is not None and refused in why and why.endswith(f"asked for as session conf {next(iter(conf))}")


@pytest.mark.parametrize(
    ("value", "db"),
    [("sales", "sales"), ("`Sales`", "sales"), ("IDENTIFIER('sales')", "sales"), ("spark_catalog.sales", "sales"),
     ("spark_catalog", "default")],
)  # fmt: skip
def test_the_url_database_follows_the_use_state_machine(value: str, db: str) -> None:
    assert database_of({"use:database": value, "set:hiveconf:x": "1"}) == db
    assert database_of({}) == "default"


# --- issue 15: spellings engines read differently, launch-time keys, legacy keys -------------------------------------

PROTECTED = ["spark.sql.caseSensitive", "spark.sql.defaultCatalog", "spark.kubernetes.container.image",
             "kyuubi.session.proxy.user", "spark.kubernetes.driver.label.adhoc.io/session"]  # fmt: skip


def _hive_name(key: str) -> str | None:
    """What Spark's Thrift server (Hive's HiveSessionImpl.setVariable) makes of an OpenSession key,
    written from its source: only set: keys reach Spark's SQL conf; Java trim; case-sensitive prefixes."""
    if not key.startswith("set:"):
        return None
    name = java_trim(key[4:])
    for prefix in ("hiveconf:", "hivevar:"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return None if name.startswith(("system:", "metaconf:", "env:")) else name


def _kyuubi_names(key: str) -> set[str]:
    """Kyuubi's SessionManager.validateKey (no trim) and its launcher (spark.K, --conf K=V split at =)."""
    name = key
    if key.startswith("set:"):
        name = key[4:]
        for prefix in ("system:", "hiveconf:", "hivevar:", "metaconf:"):
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
    launched = name if name.startswith("spark.") else "spark." + name
    return {name, launched.split("=", 1)[0]}


_JUNK = st.sampled_from([" ", "\x00", "\x01", "\t", "\n", "\r", "\x0b", "\x1f", "\x7f", "\x85", "\xa0", "\u2003",
                         "\u200b", "\u2028", "\ufeff", "`", "="])  # fmt: skip
_FORMS = st.sampled_from(["set:", "set:hiveconf:", "set:hivevar:", "set:system:", "set:metaconf:", "", "use:",
                          "set:HIVECONF:", "SET:"])  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(form=_FORMS, target=st.sampled_from(PROTECTED), before=st.lists(_JUNK, max_size=4),
       after=st.lists(_JUNK, max_size=2), bare=st.booleans())  # fmt: skip
def test_no_spelling_of_a_protected_key_gets_past_the_normaliser(
    form: str, target: str, before: list[str], after: list[str], bare: bool
) -> None:
    """Whatever Hive (Java trim) or Kyuubi (no trim; spark.K at launch) would make of the key, if
    that is a protected setting the gateway refuses it, for admins too where the key is the gateway's."""
    name = target[len("spark.") :] if bare and target.startswith("spark.") else target
    key = form + "".join(before) + name + "".join(after)
    becomes = {_hive_name(key)} | _kyuubi_names(key)
    if not any(b is not None and b.lower() in {t.lower() for t in PROTECTED} for b in becomes):
        return  # no engine reads it as a protected key
    for admin in (False, True):
        why = conf_refusal({key: "x"}, "alice", admin, "session conf")
        if admin and target != "kyuubi.session.proxy.user" and not odd_characters(key):
            continue  # admins may set protected keys; never the proxy user, never an odd spelling
        assert why is not None, (key, becomes, admin)


@pytest.mark.parametrize("form", ["set:", "set:hiveconf:", "set:hivevar:", "set:system:", "use:", ""])
@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1f", "\t", "\xa0", "\u200b"])
def test_control_characters_are_refused_in_every_key_form_and_for_admins(form: str, char: str) -> None:
    for admin in (False, True):
        why = conf_refusal({f"{form}{char}spark.sql.caseSensitive": "true"}, "carol", admin, "session conf")
        assert why is not None and f"U+{ord(char):04X}" in why, why
        assert "\x00" not in why and "\x01" not in why  # shown escaped


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("SET spark.executor.memory=64g", ("spark.executor.memory", "64g")),
     ("SET  spark.executor.memory  =  64g  ;", ("spark.executor.memory", "64g")),  # Spark trims key and value
     ("SET\x01spark.sql.caseSensitive=true", ("spark.sql.caseSensitive", "true")),  # the STS applies this one
     ("SET `a``b` = v", ("a`b", "v")), ("SET k = `64g`", ("k", "64g")), ("/* x */ SET k", ("k", None)),
     ("SET -v", None), ("SET", None), ("SET VAR x = 1", None), ("SET TIME ZONE 'UTC'", None)],
)  # fmt: skip
def test_set_statements_are_read_as_sparks_parser_reads_them(text: str, parsed: tuple[str, str | None] | None) -> None:
    assert set_statement(text) == parsed


@pytest.mark.parametrize(
    ("key", "value", "refused"),
    [("spark.executor.memory", "4g", None), ("spark.executor.memory", "8192m", None),
     ("spark.executor.memory", "64g", "the policy allows spark.executor.memory at most 8g"),
     ("spark.executor.memory", "9000", "at most 8g"),  # no unit: MiB, as Spark reads it
     ("spark.executor.instances", "1\u0661", "at most 10"),  # an Arabic-Indic digit is no digit to Java
     ("spark.executor.memory", "\u20038g", "at most 8g"),
     ("spark.executor.instances", "10", None), ("spark.executor.instances", "11", "at most 10"),
     ("executor.instances", "50", "at most 10"),  # Kyuubi launches it as spark.executor.instances
     ("kyuubi.engine.share.level", "SERVER", "kyuubi.engine.share.level shapes the engine launched"),
     ("kyuubi.engine.share.level.subdomain", "x", "shapes the engine"), ("kyuubi.engine.type", "JDBC", "shapes"),
     ("spark.plugins", "x.Y", "shapes"), ("spark.extraListeners", "x.Y", "shapes"),
     ("spark.kerberos.principal", "hdfs", "shapes"), ("spark.files", "/etc/passwd", "shapes"),
     ("spark.pyspark.python", "/bin/sh", "shapes"), ("spark.dynamicAllocation.maxExecutors", "500", "shapes"),
     ("plugins", "x.Y", "spark.plugins shapes"), ("spark.sql.warehouse.dir", "/tmp", "shapes"),
     ("spark.sql.shuffle.partitions", "8", None), ("region", "eu", None), ("hive.exec.dynamic.partition", "1", None),
     ("port", "8080", None), ("region.code", "eu", None), ("master", "local", "routing and security settings"),
     ("jars", "/x.jar", "routing and security"), ("files", "/etc/passwd", "spark.files shapes the engine"),
     ("spark.sql.legacy.notReserveProperties", "true", "changes how statements are read"),
     ("spark.sql.legacy.ctePrecedencePolicy", "LEGACY", "changes how statements are read"),
     ("spark.sql.legacy.sizeOfNull", "false", None),
     ("spark.sql.legacy.someFutureKey", "true", "has not classified"),
     ("spark.master=yarn", "x", "U+003D")],  # Kyuubi would launch --conf spark.master=yarn=x
)  # fmt: skip
def test_launch_time_and_legacy_keys(key: str, value: str, refused: str | None) -> None:
    for written in (f"set:hiveconf:{key}", f"set:hivevar:{key}", key):
        why = conf_refusal({written: value}, "alice", False, "session conf")
        if refused is None:
            assert why is None, (written, why)
        else:
            assert why is not None and refused in why, (written, why)
    admin_why = conf_refusal({f"set:{key}": value}, "carol", True, "session conf")
    assert (admin_why is None) == ("=" not in key), admin_why  # admins: anything but an odd spelling


def test_kyuubi_strips_system_and_metaconf_so_the_proxy_user_is_refused_there_too() -> None:
    for key in ("set:system:kyuubi.session.proxy.user", "set:metaconf:hive.server2.proxy.user"):
        why = conf_refusal({key: "bob"}, "carol", True, "session conf")
        assert why is not None and "is set by the gateway" in why


def test_substitution_in_a_session_conf_value_is_refused_to_non_admins() -> None:
    """Hive substitutes ${env:X} in set: values: `SET k` would show the engine's environment."""
    for key in ("set:hiveconf:probe.x", "set:hivevar:region", "probe.x", "use:database"):
        why = conf_refusal({key: "${env:AWS_SECRET_ACCESS_KEY}"}, "alice", False, "session conf")
        assert why is not None and "variable substitution" in why, why
        assert conf_refusal({key: "${env:HOME}"}, "carol", True, "session conf") is None
    assert conf_refusal({"set:hivevar:price": "$5"}, "alice", False, "session conf") is None
