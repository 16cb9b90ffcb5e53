"""The UI proxy's answers on a shared engine for a user who is not an admin (rules: ui_scope).

Ownership is read from the engine's own REST API on each request (jobs and SQL executions, a few
kB to a few MB with Spark's default retention) and compared with the session's operation ids the
gateway recorded; nothing about it is cached, so a job shows up as soon as Spark lists it.
"""

from __future__ import annotations

import asyncio
import json
from html import escape
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import aiohttp
from aiohttp import web
from yarl import URL

from adhoc.http.ui_rewrite import Upstream
from adhoc.http.ui_scope import FilterList, Owned, OwnedItem, OwnWorkPage, Refuse, Scope, filter_items, owned_work

UPSTREAM_JSON_TIMEOUT_S = 10.0
# Spark's /sql answers 20 executions unless told how many (offset, length): the session's own may be
# anywhere among the engine's (1000 kept by default), so all are read and the page is cut after.
ALL_SQL = f"details=false&offset=0&length={2**31 - 1}"


class UpstreamUnavailable(Exception):
    """The engine's UI did not give what ownership needs: the proxy falls back as for a dead UI."""


class SharedView:
    def __init__(self, client: aiohttp.ClientSession, upstream: Upstream, statement_ids: frozenset[str],
                 prefix: str) -> None:  # fmt: skip
        self.client = client
        self.upstream = upstream
        self.statement_ids = statement_ids
        self.prefix = prefix

    async def answer(self, scope: Scope, tail: str, query: str) -> web.StreamResponse | None:
        """The response for `scope`, or None: proxy the request to Spark as it is."""
        if isinstance(scope, Refuse):
            return refused_page(scope.what, self.prefix)
        if isinstance(scope, FilterList):
            page, query = sql_page(query) if scope.kind == "sql" else (None, query)
            items = await self._json(tail, query)
            owned = await self._owned(scope.app)
            kept = filter_items(scope.kind, items, owned)
            return web.json_response(kept[page] if page else kept, dumps=_dumps)
        if isinstance(scope, OwnedItem):
            owned = await self._owned(scope.app or await self._app_id())
            if owned.has(scope.kind, scope.item_id):
                return None
            return refused_page(f"{_NOUN[scope.kind]} {scope.item_id}, which is not this session's", self.prefix)
        if isinstance(scope, OwnWorkPage):
            return await self._own_work_page()
        return None

    async def _own_work_page(self) -> web.Response:
        app = await self._app_id()
        jobs = await self._json(f"/api/v1/applications/{quote(app)}/jobs")
        sql = await self._json(f"/api/v1/applications/{quote(app)}/sql", ALL_SQL)
        owned = owned_work(_objects(jobs), _objects(sql), self.statement_ids)
        job_rows = "".join(
            f'<tr><td><a href="{self.prefix}/jobs/job/?id={j["jobId"]}">{j["jobId"]}</a></td>'
            f"<td>{escape(str(j.get('description') or j.get('name') or ''))}</td>"
            f"<td>{escape(str(j.get('status', '')))}</td><td>{escape(str(j.get('submissionTime', '')))}</td></tr>"
            for j in filter_items("jobs", jobs, owned)
        )
        sql_rows = "".join(
            f'<tr><td><a href="{self.prefix}/SQL/execution/?id={e["id"]}">{e["id"]}</a></td>'
            f"<td>{escape(str(e.get('description', '')))}</td>"
            f"<td>{escape(str(e.get('status', '')))}</td><td>{escape(str(e.get('submissionTime', '')))}</td></tr>"
            for e in filter_items("sql", sql, owned)
        )
        body = (
            "<h1>Your work on this shared engine</h1>"
            "<p>This Spark application serves other users too, so its pages that list everyone's work "
            "are not shown here. These are this session's jobs and SQL queries; each links to Spark's "
            "page for it.</p>"
            '<h2>SQL queries</h2><table class="sql"><thead><tr><th>id</th><th>statement</th><th>status</th>'
            f"<th>submitted</th></tr></thead><tbody>{sql_rows}</tbody></table>"
            '<h2>Jobs</h2><table class="jobs"><thead><tr><th>id</th><th>description</th><th>status</th>'
            f"<th>submitted</th></tr></thead><tbody>{job_rows}</tbody></table>"
            f'<p><a href="{self.prefix}/executors/">Executors</a></p>'
        )
        return web.Response(text=_page("Your work on this engine", body), content_type="text/html")

    async def _owned(self, app: str) -> Owned:
        jobs = await self._json(f"/api/v1/applications/{quote(app)}/jobs")
        sql = await self._json(f"/api/v1/applications/{quote(app)}/sql", ALL_SQL)
        return owned_work(_objects(jobs), _objects(sql), self.statement_ids)

    async def _app_id(self) -> str:
        apps = await self._json("/api/v1/applications")
        if not isinstance(apps, list) or not apps or not isinstance(apps[0], dict) or "id" not in apps[0]:
            raise UpstreamUnavailable("the engine's UI lists no application")
        return str(apps[0]["id"])

    async def _json(self, tail: str, query: str = "") -> Any:
        url = URL(self.upstream.url_for(tail, query), encoded=True)
        try:
            async with asyncio.timeout(UPSTREAM_JSON_TIMEOUT_S):
                async with self.client.get(url, headers={"Accept-Encoding": "identity"},
                                           allow_redirects=False) as reply:  # fmt: skip
                    if reply.status != 200:
                        raise UpstreamUnavailable(f"{tail}: HTTP {reply.status}")
                    return json.loads(await reply.read())
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise UpstreamUnavailable(f"{tail}: {e}") from None


def sql_page(query: str) -> tuple[slice, str]:
    """The page of the session's own executions a `/sql` query asks for (Spark's defaults: from 0,
    20 of them), and the query that reads all of the engine's with the other parameters kept."""
    params = parse_qsl(query, keep_blank_values=True)
    asked = dict(params)
    offset = int(asked["offset"]) if asked.get("offset", "").isdigit() else 0
    length = int(asked["length"]) if asked.get("length", "").isdigit() else 20
    rest = [(k, v) for k, v in params if k not in ("offset", "length")]
    return slice(offset, offset + length), urlencode([*rest, ("offset", "0"), ("length", str(2**31 - 1))])


_NOUN = {"jobs": "job", "stages": "stage", "sql": "SQL query"}


def _objects(items: Any) -> list[dict[str, Any]]:
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2)


def refused_page(what: str, prefix: str) -> web.Response:
    body = (
        "<h1>Not shown: this engine is shared</h1>"
        f"<p>This Spark application serves other users too, and {escape(what)} would show their work. "
        "You see your own session's jobs, stages and SQL queries; an admin sees everything.</p>"
        f'<p><a href="{prefix}/jobs/">Your work on this engine</a></p>'
    )
    return web.Response(status=403, text=_page("Not shown: shared engine", body), content_type="text/html")


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:left}</style>"
        f"</head><body>{body}</body></html>"
    )
