"""The real Spark Thrift Server and the installed Spark as the oracle for setting names.

- What a spelled key becomes: one session opened straight on the STS with every spelling (a unique
  value each), then `SET` lists what the engine made of each; the same for SQL `SET <spelling>=v`.
  The gateway must refuse a spelling or read it as the same setting.
- Which settings are launch-time: every key the STS refuses to change (CANNOT_MODIFY_CONFIG) must be.
- Which legacy settings exist: the installed Spark's SQLConf names them; each must be classified.
"""

from __future__ import annotations

import glob
import os
import re
import uuid
import zipfile
from collections.abc import Iterator

import pytest
from pyhive import exc, hive
from TCLIService import ttypes

from adhoc.authz.analyzer import analyze
from adhoc.authz.conf_keys import (
    conf_refusal,
    java_trim,
    protected_key,
    session_conf_key,
    set_key,
    statement_refusal,
)
from adhoc.authz.launch_keys import DEFAULT_CONF, SPARK_NAMESPACES, SPARK_TOP_KEYS, launch_key, unclassified
from tests.hs2_raw import RawClient
from tests.sts import RunningSTS, spark_home

P = f"probe{uuid.uuid4().hex[:6]}"
# system: and metaconf: are left out: they would change the shared JVM / metastore client
FORMS = ["set:", "set:hiveconf:", "set:hivevar:", "set:HIVECONF:", "set: hiveconf:", "", "use:"]
JUNK = ["", " ", "\x00", "\x01", "\t", "\n", "\x1f", "\x7f", "\x85", "\xa0", "\u2003", "\u200b", "\ufeff"]
SPELLINGS = [f"{form}{before}{P}.k{i}.x{after}" for i, (form, before, after) in
             enumerate((f, b, a) for f in FORMS for b in JUNK for a in ("", " ", "\x01"))]  # fmt: skip


def _jar_strings(pattern: bytes, member: str = "") -> set[str]:
    found: set[str] = set()
    for jar in glob.glob(os.path.join(spark_home(), "jars", "spark-*.jar")):
        with zipfile.ZipFile(jar) as z:
            for name in z.namelist():
                if name.endswith(".class") and member in name:
                    found |= {m.decode() for m in re.findall(pattern, z.read(name))}
    return found


def _same_setting(engine: str, gateway: str) -> bool:
    """The gateway reads a name as the engine does, or more broadly: it may trim further (the engine
    keeps `set:hiveconf: k`'s space, a different key) or match a prefix in any case (`HIVECONF:k`
    stays one key with a colon on the engine), never less."""
    e, g = java_trim(engine).lower(), gateway.lower()
    return e == g or (":" in e and java_trim(e.rsplit(":", 1)[1]) == g)


@pytest.fixture(scope="module")
def raw(sts: RunningSTS) -> Iterator[RawClient]:
    client = RawClient(sts.host, sts.port)
    client.sasl_login("oracle")
    yield client
    client.close()


def _run(client: RawClient, session: object, sql: str) -> list[tuple[str, str]] | str:
    status = client.call("ExecuteStatement", ttypes.TExecuteStatementReq(sessionHandle=session, statement=sql))
    if status.status.statusCode != ttypes.TStatusCode.SUCCESS_STATUS:
        return str(status.status.errorMessage)
    req = ttypes.TFetchResultsReq(operationHandle=status.operationHandle, orientation=0, maxRows=100_000)
    columns = client.call("FetchResults", req).results.columns
    return list(zip(columns[0].stringVal.values, columns[1].stringVal.values, strict=True)) if columns else []


def _became(rows: list[tuple[str, str]] | str, values: dict[str, str]) -> dict[str, str]:
    assert isinstance(rows, list), rows
    by_value = {v: k for k, v in rows}
    return {spelled: by_value[v] for spelled, v in values.items() if v in by_value}


def test_what_an_opensession_key_becomes_on_the_engine(raw: RawClient) -> None:
    values = {spelled: f"v{i}" for i, spelled in enumerate(SPELLINGS)}
    opened = raw.open_session("oracle", **values)
    assert opened.status.statusCode == ttypes.TStatusCode.SUCCESS_STATUS, opened.status
    became = _became(_run(raw, opened.sessionHandle, "SET"), values)
    raw.call("CloseSession", ttypes.TCloseSessionReq(sessionHandle=opened.sessionHandle))
    assert len(became) > 50, became  # the oracle saw what it should
    assert became[f"set:\x01{P}.k9.x"] == f"{P}.k9.x"  # Hive's Java trim: the control character is gone
    wrong = [(s, e, session_conf_key(s).name) for s, e in became.items()
             if conf_refusal({s: "v"}, "alice", False, "session conf") is None
             and not _same_setting(e, session_conf_key(s).name)]  # fmt: skip
    assert not wrong, wrong[:5]


def test_what_a_sql_set_key_becomes_on_the_engine(raw: RawClient) -> None:
    opened = raw.open_session("oracle")
    session = opened.sessionHandle
    values: dict[str, str] = {}
    texts: dict[str, str] = {}  # spelling -> the statement that set it
    for i, before in enumerate(JUNK):
        for j, (quote, after) in enumerate((q, a) for q in ("", "`") for a in ("", " ", "\x01")):
            for prefix in ("", "hivevar:", "HIVEVAR:"):
                spelled = f"{quote}{prefix}{before}{P}.s{i}_{j}.x{after}{quote}"
                values[spelled] = f"w{len(values)}"
                texts[spelled] = f"SET {spelled}={values[spelled]}"
    for i, junk in enumerate(JUNK):  # junk between SET and the key: Spark Java-trims it away
        values[f"{junk}{P}.t{i}.x"] = f"w{len(values)}"
        texts[f"{junk}{P}.t{i}.x"] = f"SET{junk}{P}.t{i}.x={values[f'{junk}{P}.t{i}.x']}"
    for text in texts.values():
        _run(raw, session, text)
    became = _became(_run(raw, session, "SET"), values)
    raw.call("CloseSession", ttypes.TCloseSessionReq(sessionHandle=session))
    assert len(became) > 20
    wrong = []
    for spelled, engine in became.items():
        infos = analyze(texts[spelled])
        refused = any(i.unresolved or i.denied_class or statement_refusal(i.conf_keys, i.text, "alice", False,
                                                                          DEFAULT_CONF) for i in infos)  # fmt: skip
        names = [set_key(k).name for i in infos for k in i.conf_keys]
        if not refused and not any(_same_setting(engine, n) for n in names):
            wrong.append((spelled, engine, names))
    assert not wrong, wrong[:5]


def test_every_setting_the_sts_refuses_to_change_is_launch_time(sts: RunningSTS) -> None:
    candidates = _jar_strings(rb"spark\.sql\.[A-Za-z0-9_.]*[A-Za-z0-9_]", "StaticSQLConf")
    with hive.connect(sts.host, port=sts.port, username="oracle") as conn:
        cur = conn.cursor()
        cur.execute("SET -v")
        candidates |= {row[0] for row in cur.fetchall()}
        static = []
        for key in sorted(candidates):
            cur.execute(f"SET {key}")
            value = cur.fetchall()[0][1]
            if value == "<undefined>" or ";" in value:
                continue
            try:
                cur.execute(f"SET `{key}`=`{value.replace('`', '``')}`")
            except exc.OperationalError as e:
                if "CANNOT_MODIFY_CONFIG" in str(e):
                    static.append(key)
    assert len(static) > 10, static  # the oracle refused what it should
    assert [k for k in static if not launch_key(k.lower()) and not protected_key(k)] == []


def test_every_legacy_setting_of_the_installed_spark_is_classified(sts: RunningSTS) -> None:
    """`SET -v` lists public settings only, and Spark marks its legacy ones internal: the names come
    from the installed Spark's SQLConf, and the STS confirms it knows them (a default value)."""
    legacy = _jar_strings(rb"spark\.sql\.legacy\.[A-Za-z0-9_.]*[A-Za-z0-9_]", "internal/SQLConf")
    with hive.connect(sts.host, port=sts.port, username="oracle") as conn:
        cur = conn.cursor()
        cur.execute("SET -v")
        legacy |= {row[0] for row in cur.fetchall() if row[0].startswith("spark.sql.legacy.")}
        known = 0
        for key in sorted(legacy):
            cur.execute(f"SET {key}")
            known += cur.fetchall()[0][1] != "<undefined>"
    assert len(legacy) > 50 and known > 50, (len(legacy), known)  # Spark 4.0.5: 95 names, 83 with a default
    assert unclassified(sorted(legacy)) == []


def test_every_spark_core_namespace_is_known() -> None:
    keys = _jar_strings(rb"spark\.([A-Za-z][A-Za-z0-9_]*)\.[A-Za-z]", "/config/")
    namespaces = {k.lower() for k in keys}
    assert len(namespaces) > 30, namespaces
    assert sorted(namespaces - SPARK_NAMESPACES - {"sql"}) == []  # spark.sql.*: runtime unless static
    dotless = {k.lower() for k in _jar_strings(rb"spark\.([A-Za-z][A-Za-z0-9_]*)(?![A-Za-z0-9_.])", "/config/")}
    assert "master" in dotless and sorted(dotless - SPARK_TOP_KEYS) == []
