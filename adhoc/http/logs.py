"""Engine logs of K8s sessions over HTTP.

GET /logs/{session_id}/        the session's driver and executor pods: running (live) and stored;
                               JSON, or an HTML list for a browser (Accept: text/html)
                               (a YARN session: a redirect to its application page in the RM)
GET /logs/{session_id}/{pod}   the pod's log as text: followed live from the K8s API while the pod
                               runs (text appended later arrives as it is written), from the log
                               store once it is stored; 404 for a pod or session we do not know

With authentication on, only the session's user or an admin may look (Basic auth, the one login
step); with `[auth] method = "none"` anyone who reaches the port may, as for the rest of it.
"""

from __future__ import annotations

import html
import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as MetricsCollector

from adhoc.errors import LogCollectionError
from adhoc.gateway.context import GatewayContext
from adhoc.http.basic_auth import authenticate_request
from adhoc.logs.service import LogCollection

log = logging.getLogger("adhoc.http")


ENDED = ("Succeeded", "Failed")  # pod phases after which the log is complete (and stored, then deleted)


def add_routes(app: web.Application, ctx: GatewayContext) -> None:
    async def listing(request: web.Request) -> web.StreamResponse:
        session_id = request.match_info["session_id"]
        yarn_page = _yarn_application_page(ctx, session_id)
        if yarn_page:  # YARN keeps its own logs: the session's application page in the RM
            if ctx.config.auth.method != "none":
                principal = await authenticate_request(ctx, request)
                record = ctx.sessions.get(session_id)
                if not ctx.authorizer.is_admin(principal) and (record is None or record.user != principal.name):
                    raise web.HTTPNotFound(text=f"no session {session_id} of yours\n")
            raise web.HTTPFound(yarn_page)
        logs = await _allowed(ctx, request, session_id)
        live = {pod.name: pod for _, pod in logs.live_pods(session_id)}
        stored = await logs.stored_logs(session_id, _days(ctx, logs, session_id))
        if not live and not stored and ctx.sessions.get(session_id) is None:
            raise web.HTTPNotFound(text=f"no engine logs known for session {session_id}\n")
        pods = []
        for name in sorted(set(live) | set(stored), key=lambda n: (live[n].created_at if n in live else 0, n)):
            pod = live.get(name)
            # stored, and gone or ended (the watch may not have reported the deletion that follows)
            ended = pod is None or pod.phase in ENDED
            state = "stored" if name in stored and ended else (pod.phase.lower() if pod else "stored")
            pods.append({
                "pod": name, "state": state, "live": pod is not None, "url": f"{request.path.rstrip('/')}/{name}",
                "stored_at": logs.store.display(stored[name]) if name in stored and logs.store else None,
            })  # fmt: skip
        cost = logs.session_cost(session_id)
        body: dict[str, Any] = {"session_id": session_id, "pods": pods, "cost": cost}
        if cost is not None:
            body["cost_basis"] = "estimate: pods' CPU/memory requests x lifetime x [pricing]"
        if "text/html" in request.headers.get("Accept", ""):
            return web.Response(text=_html(body), content_type="text/html")
        return web.json_response(body)

    async def pod_log(request: web.Request) -> web.StreamResponse:
        session_id, name = request.match_info["session_id"], request.match_info["pod"]
        logs = await _allowed(ctx, request, session_id)
        found = logs.live_pod(session_id, name)
        stored: dict[str, str] = {}
        if found is None or found[1].phase in ENDED:  # an ended pod's whole log is in the store once
            stored = await logs.stored_logs(session_id, _days(ctx, logs, session_id))  # taken (then deleted)
        if name in stored and logs.store is not None:
            chunks = logs.store.read(stored[name])
        elif found is not None:
            collector, pod = found
            chunks = logs.read_live(collector, pod)
        else:
            raise web.HTTPNotFound(text=f"no log of pod {name} in session {session_id}\n")
        resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"})
        try:
            async for chunk in chunks:
                if not resp.prepared:
                    await resp.prepare(request)
                await resp.write(chunk)
        except LogCollectionError as e:
            if not resp.prepared:
                status = 404 if getattr(e, "status", 0) == 404 else 502
                raise _error(status, e.message) from None
            log.warning("log of pod %s cut short: %s", name, e.message)
        finally:
            await chunks.aclose()  # stops a followed stream (and its API request) when the client leaves
        if not resp.prepared:
            await resp.prepare(request)
        await resp.write_eof()
        return resp

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(request.path + "/")

    app.router.add_get("/logs/{session_id}", redirect)
    app.router.add_get("/logs/{session_id}/", listing)
    app.router.add_get("/logs/{session_id}/{pod}", pod_log)


def _yarn_application_page(ctx: GatewayContext, session_id: str) -> str:
    record = ctx.sessions.get(session_id)
    if record is None or record.route != "yarn" or not record.app_id:
        return ""
    engine = next((e for e in ctx.config.engines if e.name == record.engine), None)
    if engine is None or not engine.rm_urls:
        return ""
    return f"{engine.rm_urls[0].rstrip('/')}/cluster/app/{record.app_id}"


def _error(status: int, message: str) -> web.HTTPException:
    return web.HTTPNotFound(text=message + "\n") if status == 404 else web.HTTPBadGateway(text=message + "\n")


async def _allowed(ctx: GatewayContext, request: web.Request, session_id: str) -> LogCollection:
    """The log collection, once the caller may see this session's logs (else 401/404)."""
    logs = ctx.logs
    if logs is None:
        raise web.HTTPNotFound(text="engine logs are collected only for k8s engines, and none is configured\n")
    if ctx.config.auth.method == "none":
        return logs
    principal = await authenticate_request(ctx, request)
    if ctx.authorizer.is_admin(principal):
        return logs
    if principal.name not in _owners(ctx, logs, session_id):
        # 404, not 403: whether someone else's session exists is not the caller's business
        raise web.HTTPNotFound(text=f"no session {session_id} of yours\n")
    return logs


def _owners(ctx: GatewayContext, logs: LogCollection, session_id: str) -> set[str]:
    record = ctx.sessions.get(session_id)
    owners = {record.user} if record is not None else set()
    owners.update(pod.user for _, pod in logs.live_pods(session_id) if pod.user)
    for collector in logs.collectors.values():
        owners.update(u.user for u in collector.usage.session(session_id) if u.user)
    return owners


def _days(ctx: GatewayContext, logs: LogCollection, session_id: str) -> Iterator[date]:
    """The creation days a session's pods can have: from the day before it opened to when it ended."""
    record = ctx.sessions.get(session_id)
    if record is None:
        return iter(())
    first = datetime.fromtimestamp(record.started_at, UTC).date() - timedelta(days=1)
    last = datetime.fromtimestamp(record.ended_at or time.time(), UTC).date()
    return (first + timedelta(days=i) for i in range(min(31, (last - first).days + 1)))


def _html(body: dict[str, Any]) -> str:
    rows = "".join(
        f'<li><a href="{html.escape(p["url"])}">{html.escape(p["pod"])}</a> — {html.escape(p["state"])}</li>'
        for p in body["pods"]
    )
    cost = f"<p>cost so far ≈ {body['cost']:.4f} ({body['cost_basis']})</p>" if body["cost"] is not None else ""
    title = f"engine logs of session {html.escape(body['session_id'])}"
    return f"<!doctype html><title>{title}</title><h1>{title}</h1>{cost}<ul>{rows or '<li>no pods yet</li>'}</ul>"


class SessionCostMetrics(MetricsCollector):
    """Per-session and per-collector figures read at scrape time: cost, age, pods, the log backlog."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "adhoc_session_cost_estimate",
            "Engine cost so far of a K8s session: an estimate from its pods' CPU/memory requests x [pricing]",
            labels=["session_id", "user", "engine"],
        )
        age = GaugeMetricFamily(
            "adhoc_session_age_seconds", "How long each open session has been open (the longest sessions)",
            labels=["session_id", "user", "engine"],
        )
        now = time.time()
        for record in self.ctx.sessions:
            labels = [record.session_id, record.user, record.engine]
            cost = record.cost
            if cost is not None:
                gauge.add_metric(labels, cost)
            if record.open:
                age.add_metric(labels, max(0.0, now - record.started_at))
        yield gauge
        yield age
        stored = GaugeMetricFamily(
            "adhoc_engine_logs_stored", "Pod logs stored (and pods deleted) since start", labels=["engine"]
        )
        failed = CounterMetricFamily(
            "adhoc_engine_logs_store_failures", "Attempts to store a pod log that failed (retried) since start",
            labels=["engine"],
        )
        pending = GaugeMetricFamily(
            "adhoc_engine_logs_pending", "Ended pods whose log is not stored yet (the backlog)", labels=["engine"]
        )
        pods = GaugeMetricFamily(
            "adhoc_spark_pods", "Spark pods of adhoc sessions the log collector sees, by phase and role",
            labels=["engine", "namespace", "phase", "role"],
        )
        if self.ctx.logs is not None:
            for name, collector in self.ctx.logs.collectors.items():
                stored.add_metric([name], collector.stored_count)
                failed.add_metric([name], collector.failed_count)
                pending.add_metric([name], collector.pending_count)
                counts = Counter((p.namespace, p.phase, p.labels.get("spark-role", ""))
                                 for p in collector.pods.values())
                for (namespace, phase, role), n in sorted(counts.items()):
                    pods.add_metric([name, namespace, phase, role], n)
        yield from (stored, failed, pending, pods)


def register_cost_metrics(ctx: GatewayContext) -> None:
    ctx.metrics.registry.register(SessionCostMetrics(ctx))
