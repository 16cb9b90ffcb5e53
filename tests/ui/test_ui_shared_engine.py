"""A shared STS's Spark UI through `/ui/<session_id>/`: alice sees her session's own work and never an
admin's statement; the admin sees everything. Real STS, real pyhive sessions, the REST API and the
HTML pages as a browser would ask for them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pyhive import hive

from tests.gateway_harness import GatewayThread
from tests.ui.conftest import PASSWORDS
from tests.ui.test_ui_browser import basic, fetch

SECRET = "secret-literal-xyz"
OWN = "alice-own-literal-abc"


def connect(gw: GatewayThread, user: str) -> hive.Connection:
    return hive.connect(gw.host, port=gw.port, username=user, password=PASSWORDS[user], auth="CUSTOM")


def session_id(conn: hive.Connection) -> str:
    cur = conn.cursor()
    cur.execute("ADHOC DESC SESSION")
    return str(cur.fetchall()[0][0])


@pytest.fixture(scope="module")
def two_users(ui_gateway: GatewayThread) -> Iterator[tuple[str, str]]:
    """(alice's session id, the app id): alice ran a query, then the admin carol ran one with a literal."""
    alice, carol = connect(ui_gateway, "alice"), connect(ui_gateway, "carol")
    admin = carol.cursor()
    for _ in range(11):  # more than the 20 SQL executions Spark's /sql answers by default, before alice's
        admin.execute("SET spark.sql.shuffle.partitions")
        admin.fetchall()
    cur = alice.cursor()
    cur.execute(f"SELECT '{OWN}', count(*) FROM range(1000)")
    assert cur.fetchall() == [(OWN, 1000)]
    admin.execute(f"SELECT '{SECRET}'")
    assert admin.fetchall() == [(SECRET,)]
    sid = session_id(alice)
    apps = json.loads(fetch(f"{ui_gateway.http_url}/ui/{sid}/api/v1/applications", basic("alice"))[2])
    app = str(apps[0]["id"])
    wait_until_listed(ui_gateway, sid, app, (OWN, SECRET))
    yield sid, app
    alice.close()
    carol.close()


def wait_until_listed(gw: GatewayThread, sid: str, app: str, literals: tuple[str, ...]) -> None:
    """Spark's UI learns of jobs from its listener bus, after the query has answered: wait (as an
    admin, who sees everything) until the finished statements' jobs and SQL executions are listed."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        jobs = rest(gw, sid, app, "jobs", "carol")
        sql = rest(gw, sid, app, f"sql?length={2**31 - 1}", "carol")
        done = [e for e in sql if e["status"] == "COMPLETED" and e["successJobIds"]]
        if all(any(x in j["description"] for j in jobs) and any(x in e["description"] for e in done)
               for x in literals):  # fmt: skip
            return
        time.sleep(0.5)
    record = gw.ctx.sessions.get(sid)
    ours = list(record.statement_ids) if record else None
    groups = [(j["jobGroup"], j["description"]) for j in jobs]
    raise AssertionError(f"Spark's UI never listed {literals}: session's operations {ours}, jobs {groups}")


def get(gw: GatewayThread, sid: str, path: str, user: str) -> tuple[int, str]:
    status, _, body = fetch(f"{gw.http_url}/ui/{sid}/{path}", basic(user))
    return status, body.decode("utf-8", "replace")


def rest(gw: GatewayThread, sid: str, app: str, what: str, user: str) -> Any:
    status, body = get(gw, sid, f"api/v1/applications/{app}/{what}", user)
    assert status == 200, body
    return json.loads(body)


def test_alice_rest_view_holds_her_work_and_not_the_admins(
    ui_gateway: GatewayThread, two_users: tuple[str, str]
) -> None:
    sid, app = two_users
    jobs = rest(ui_gateway, sid, app, "jobs", "alice")
    sql = rest(ui_gateway, sid, app, "sql", "alice")
    stages = rest(ui_gateway, sid, app, "stages", "alice")
    for listing in (jobs, sql, stages):
        assert SECRET not in json.dumps(listing)
    assert any(OWN in j["description"] for j in jobs)
    assert any(OWN in e["description"] for e in sql)
    assert {s["stageId"] for s in stages} == {s for j in jobs for s in j["stageIds"]}
    # the admin's own items, named by id, are refused
    all_jobs = rest(ui_gateway, sid, app, "jobs", "carol")
    all_sql = rest(ui_gateway, sid, app, f"sql?length={2**31 - 1}", "carol")
    secret_job = next(j for j in all_jobs if SECRET in j["description"])
    secret_sql = next(e for e in all_sql if SECRET in e["description"])
    assert any(OWN in j["description"] for j in all_jobs)  # the admin sees both
    api = f"api/v1/applications/{app}"
    refused = (f"{api}/jobs/{secret_job['jobId']}", f"{api}/sql/{secret_sql['id']}",
               f"{api}/stages/{secret_job['stageIds'][0]}", f"{api}/environment",
               f"{api}/executors/driver/threads")  # fmt: skip
    for path in refused:
        status, body = get(ui_gateway, sid, path, "alice")
        assert status == 403 and SECRET not in body, path
        assert get(ui_gateway, sid, path, "carol")[0] == 200, path
    own_job = next(j for j in jobs if OWN in j["description"])
    assert rest(ui_gateway, sid, app, f"jobs/{own_job['jobId']}", "alice")["jobGroup"] == own_job["jobGroup"]


def test_alice_html_view_holds_her_work_and_not_the_admins(
    ui_gateway: GatewayThread, two_users: tuple[str, str]
) -> None:
    sid, app = two_users
    for page in ("", "jobs/", "stages/", "SQL/"):
        status, body = get(ui_gateway, sid, page, "alice")
        assert status == 200 and OWN in body and SECRET not in body, page
    for page in ("environment/", "storage/", "sqlserver/", "executors/threadDump/?executorId=driver"):
        status, body = get(ui_gateway, sid, page, "alice")
        assert status == 403 and "shared" in body and SECRET not in body, page
        assert get(ui_gateway, sid, page, "carol")[0] == 200, page
    status, body = get(ui_gateway, sid, "SQL/", "carol")
    assert status == 200 and SECRET in body and OWN in body
    jobs = rest(ui_gateway, sid, app, "jobs", "carol")
    sql = rest(ui_gateway, sid, app, f"sql?length={2**31 - 1}", "carol")
    own_job = next(j["jobId"] for j in jobs if OWN in j["description"])
    secret_job = next(j["jobId"] for j in jobs if SECRET in j["description"])
    own_sql = next(e["id"] for e in sql if OWN in e["description"])
    secret_sql = next(e["id"] for e in sql if SECRET in e["description"])
    status, body = get(ui_gateway, sid, f"jobs/job/?id={own_job}", "alice")
    assert status == 200 and f"Details for Job {own_job}" in body and SECRET not in body
    status, body = get(ui_gateway, sid, f"SQL/execution/?id={own_sql}", "alice")
    assert status == 200 and OWN in body and SECRET not in body
    for page in (f"jobs/job/?id={secret_job}", f"SQL/execution/?id={secret_sql}", "jobs/job/?id=1&id=2"):
        status, body = get(ui_gateway, sid, page, "alice")
        assert status == 403 and SECRET not in body, page
