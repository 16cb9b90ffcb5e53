"""The one normaliser of setting keys: every form a Hive/Spark server reads, as the gateway reads it."""

from __future__ import annotations

import pytest

from adhoc.authz.conf_keys import (
    METACONF,
    SETTING,
    SYSTEM,
    UNKNOWN,
    USE,
    conf_refusal,
    database_of,
    session_conf_key,
    set_key,
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
