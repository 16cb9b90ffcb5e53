"""What of a shared engine's Spark UI one session's user may see, decided without I/O.

An STS (or a Kyuubi engine shared per USER/GROUP/SERVER) runs every user's statements in one Spark
app, and its UI shows them all, literals included. For a user who is not an admin the proxy serves
an allow-list instead (`scope_of`):

- the session's own work: a job is the session's when its `jobGroup` is one of the session's
  operation ids (the STS sets the job group to the statement id: verified on the STS's
  `/api/v1/applications/<app>/jobs`), a stage when an owned job lists it, an SQL execution when
  it ran jobs and all of them are owned (one that ran no job names no owner: hidden);
- REST lists of jobs, stages and SQL executions, filtered to those; single ones only when owned;
- the per-id HTML pages of owned jobs, stages and SQL executions; the list pages (`/`, Jobs, Stages,
  SQL) become a page listing the session's own work;
- executors and other processes (no statement text), static files, the app list and the version;
- nothing else: Environment, Storage, the JDBC/ODBC tab, thread dumps, logs and any page not
  named here are refused (403).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

ItemKind = Literal["jobs", "stages", "sql"]

_APP_ID = r"[A-Za-z0-9_.-]+"  # local-…, application_…_…, spark-…: never an encoded character Jetty might decode
_API_APP = rf"/api/v1/applications/(?P<app>{_APP_ID})"
_LIST = re.compile(_API_APP + r"/(?P<kind>jobs|stages|sql)/?")
_ITEM = re.compile(_API_APP + r"/(?P<kind>jobs|stages|sql)/(?P<id>\d+)(?:/.*)?")
_PASS = re.compile(
    r"/static/.*|/favicon\.ico|/api/v1/version/?|/executors/?"
    rf"|/api/v1/applications(?:/{_APP_ID}(?:/(?:all)?executors|/allmiscellaneousprocess)?)?/?"
)
_HTML_ITEM = {"/jobs/job/": "jobs", "/stages/stage/": "stages", "/SQL/execution/": "sql"}
_OWN_WORK_PAGES = frozenset(("/", "/jobs/", "/stages/", "/SQL/"))


@dataclass(frozen=True)
class Pass:
    """Served as Spark sends it."""


@dataclass(frozen=True)
class Refuse:
    what: str  # what the page shows, for the 403 page


@dataclass(frozen=True)
class FilterList:
    kind: ItemKind
    app: str


@dataclass(frozen=True)
class OwnedItem:
    """Served as Spark sends it when the item is the session's, else refused."""

    kind: ItemKind
    item_id: int
    app: str = ""  # "" = an HTML page: the app is looked up


@dataclass(frozen=True)
class OwnWorkPage:
    """A list page: answered with the session's own jobs and SQL executions."""


Scope = Pass | Refuse | FilterList | OwnedItem | OwnWorkPage


def scope_of(tail: str, query: str) -> Scope:
    """How a non-admin's request for `tail` (already checked, still encoded) on a shared engine is
    answered. Percent-encoded tails never match the allow-list, so they are refused."""
    if _PASS.fullmatch(tail):
        return Pass()
    if m := _LIST.fullmatch(tail):
        return FilterList(_kind(m["kind"]), m["app"])
    if m := _ITEM.fullmatch(tail):
        return OwnedItem(_kind(m["kind"]), int(m["id"]), m["app"])
    if tail in _HTML_ITEM:
        ids = parse_qs(query).get("id", [])
        if len(ids) == 1 and ids[0].isdigit():
            return OwnedItem(_kind(_HTML_ITEM[tail]), int(ids[0]))
        return Refuse("a page without one numeric id")
    if tail in _OWN_WORK_PAGES:
        return OwnWorkPage()
    return Refuse(_refused_name(tail))


def _kind(name: str) -> ItemKind:
    return "jobs" if name == "jobs" else "stages" if name == "stages" else "sql"


def _refused_name(tail: str) -> str:
    first = tail.strip("/").split("/", 1)[0]
    names = {"environment": "the Environment tab", "storage": "the Storage tab", "sqlserver": "the JDBC/ODBC tab",
             "api": "this part of the REST API"}  # fmt: skip
    if "threadDump" in tail or tail.endswith("/threads"):
        return "thread dumps"
    return names.get(first, "this page")


@dataclass(frozen=True)
class Owned:
    """The session's own work on the engine, as ids."""

    jobs: frozenset[int]
    stages: frozenset[int]
    sql: frozenset[int]

    def has(self, kind: ItemKind, item_id: int) -> bool:
        return item_id in (self.jobs if kind == "jobs" else self.stages if kind == "stages" else self.sql)


def owned_work(
    jobs: Iterable[Mapping[str, Any]], sql: Iterable[Mapping[str, Any]], statement_ids: Iterable[str]
) -> Owned:
    """Which jobs, stages and SQL executions (as the REST API lists them) belong to the session."""
    ours = set(statement_ids)
    owned_jobs = [j for j in jobs if j.get("jobGroup") in ours and isinstance(j.get("jobId"), int)]
    job_ids = frozenset(int(j["jobId"]) for j in owned_jobs)
    stage_ids = frozenset(int(s) for j in owned_jobs for s in j.get("stageIds") or () if isinstance(s, int))
    sql_ids = frozenset(int(e["id"]) for e in sql if isinstance(e.get("id"), int) and _all_owned(e, job_ids))
    return Owned(job_ids, stage_ids, sql_ids)


def _all_owned(execution: Mapping[str, Any], job_ids: frozenset[int]) -> bool:
    ran = [j for key in ("runningJobIds", "successJobIds", "failedJobIds") for j in execution.get(key) or ()]
    return bool(ran) and all(j in job_ids for j in ran)


_ID_FIELD: dict[ItemKind, str] = {"jobs": "jobId", "stages": "stageId", "sql": "id"}


def filter_items(kind: ItemKind, items: Any, owned: Owned) -> list[Any]:
    """A REST list cut down to the owned items (anything not a list of objects: nothing)."""
    if not isinstance(items, list):
        return []
    key = _ID_FIELD[kind]
    return [i for i in items if isinstance(i, dict) and isinstance(i.get(key), int) and owned.has(kind, i[key])]
