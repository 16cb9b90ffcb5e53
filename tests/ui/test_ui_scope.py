"""What a non-admin may see of a shared engine's UI: the allow-list and the ownership rule, with the
REST API's shapes as the STS sends them (jobGroup = the statement's operation id)."""

from __future__ import annotations

import pytest

from adhoc.config import EngineConfig
from adhoc.gateway.engine_ui import engine_is_shared
from adhoc.http.ui_scope import FilterList, OwnedItem, OwnWorkPage, Pass, Refuse, filter_items, owned_work, scope_of

JOBS = [
    {"jobId": 0, "jobGroup": "op-alice", "stageIds": [0, 1]},
    {"jobId": 1, "jobGroup": "op-admin", "stageIds": [2]},
    {"jobId": 2, "stageIds": [3]},  # no job group: nobody's
]
SQL = [
    {"id": 0, "successJobIds": [0]},
    {"id": 1, "successJobIds": [1]},
    {"id": 2, "successJobIds": []},  # ran no job (USE, SET): names no owner
    {"id": 3, "runningJobIds": [0], "failedJobIds": [1]},  # partly another's: hidden
]


def test_ownership_follows_the_job_group() -> None:
    owned = owned_work(JOBS, SQL, ["op-alice"])
    assert (owned.jobs, owned.stages, owned.sql) == ({0}, {0, 1}, {0})
    assert filter_items("jobs", JOBS, owned) == [JOBS[0]]
    assert filter_items("sql", SQL, owned) == [SQL[0]]
    assert filter_items("stages", [{"stageId": 1}, {"stageId": 2}, {"stageId": "1"}], owned) == [{"stageId": 1}]
    assert filter_items("jobs", {"not": "a list"}, owned) == []
    assert owned_work(JOBS, SQL, []).jobs == frozenset()


@pytest.mark.parametrize(
    ("tail", "query", "scope"),
    [
        ("/static/spark-dag-viz.js", "", Pass()),
        ("/api/v1/applications", "", Pass()),
        ("/api/v1/applications/app-1/allexecutors", "", Pass()),
        ("/executors/", "", Pass()),
        ("/api/v1/applications/app-1/jobs", "status=succeeded", FilterList("jobs", "app-1")),
        ("/api/v1/applications/app-1/sql/", "details=false", FilterList("sql", "app-1")),
        ("/api/v1/applications/app-1/stages/4/0/taskTable", "", OwnedItem("stages", 4, "app-1")),
        ("/jobs/job/", "id=7", OwnedItem("jobs", 7)),
        ("/SQL/execution/", "id=3", OwnedItem("sql", 3)),
        ("/", "", OwnWorkPage()),
        ("/SQL/", "", OwnWorkPage()),
    ],
)
def test_allowed(tail: str, query: str, scope: object) -> None:
    assert scope_of(tail, query) == scope


@pytest.mark.parametrize(
    ("tail", "query"),
    [
        ("/environment/", ""), ("/storage/", ""), ("/sqlserver/", ""), ("/sqlserver/session/", "id=x"),
        ("/executors/threadDump/", "executorId=driver"), ("/api/v1/applications/app-1/environment", ""),
        ("/api/v1/applications/app-1/executors/1/threads", ""), ("/api/v1/applications/app-1/logs", ""),
        ("/jobs/job/", ""), ("/jobs/job/", "id=1&id=2"), ("/%6Aobs/", ""),
        ("/api/v1/applications/app-1/%6Aobs", ""), ("/anything/else", ""),
        ("/api/v1/applications/app-1%2Fenvironment", ""), ("/api/v1/applications/app-1/1/jobs", ""),
    ],
)  # fmt: skip
def test_refused(tail: str, query: str) -> None:
    assert isinstance(scope_of(tail, query), Refuse)


def test_which_engines_are_shared() -> None:
    assert engine_is_shared(EngineConfig(name="sts", protocol="sts"))
    assert engine_is_shared(EngineConfig(name="sts", kind="yarn", protocol="sts"))
    assert engine_is_shared(EngineConfig(name="k", protocol="kyuubi"))  # Kyuubi's default: USER
    assert engine_is_shared(EngineConfig(name="k", protocol="kyuubi", conf={"kyuubi.engine.share.level": "GROUP"}))
    assert not engine_is_shared(
        EngineConfig(name="k", protocol="kyuubi", conf={"kyuubi.engine.share.level": " connection"})
    )
    assert not engine_is_shared(EngineConfig(name="pods", kind="k8s", protocol="sts"))
