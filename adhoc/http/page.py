"""`GET /`: a small server-rendered page of the viewer's sessions with their Spark UI and logs links.

No scripts: it refreshes itself with a meta refresh, reads on a phone (viewport, a table that scrolls
sideways) and in a terminal browser (a plain table of links). Where auth is on, a visitor without
credentials sees no sessions and a link that asks the browser for them (`/login`: a Basic challenge).
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable

from aiohttp import web

from adhoc.auth import Principal
from adhoc.gateway.context import GatewayContext
from adhoc.gateway.sessions import SessionRecord
from adhoc.http.viewer import auth_is_on, may_see, viewer

REFRESH_S = 10
MAX_ROWS = 500

_CSS = """
body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;padding:12px;max-width:1200px;color:#222}
h1{font-size:1.3em;margin:0 0 4px} p{margin:4px 0 12px;color:#555}
.scroll{overflow-x:auto} table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #ddd;white-space:nowrap}
th{background:#f4f4f4;font-weight:600} tr.closed td{color:#888} code{font-size:.9em}
a{color:#0b63c4}
@media (max-width:640px){thead{display:none}table,tbody,tr,td{display:block}
tr{border:1px solid #ddd;border-radius:6px;margin:0 0 10px;padding:4px 0}
td{border:0;padding:2px 10px;white-space:normal}td::before{content:attr(data-label) ": ";color:#777}}
"""


def add_routes(app: web.Application, ctx: GatewayContext) -> None:
    async def index(request: web.Request) -> web.Response:
        principal = await viewer(ctx, request, required=False)
        if auth_is_on(ctx) and principal is None:
            records: list[SessionRecord] = []
        else:
            records = [r for r in ctx.sessions if may_see(ctx, principal, r.user)]
        body = render_page(ctx, principal, records, time.time())
        return web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def login(request: web.Request) -> web.Response:
        await viewer(ctx, request)  # 401 with a challenge until the browser sends good credentials
        raise web.HTTPFound("/")

    async def favicon(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app.router.add_get("/", index)
    app.router.add_get("/login", login)
    app.router.add_get("/favicon.ico", favicon)


def render_page(ctx: GatewayContext, principal: Principal | None, records: Iterable[SessionRecord], now: float) -> str:
    rows = sorted(records, key=lambda r: (not r.open, -r.started_at))[:MAX_ROWS]
    admin = principal is not None and ctx.authorizer.is_admin(principal)
    if not auth_is_on(ctx):
        who = "Authentication is off: every session on this gateway."
    elif principal is None:
        who = 'Not logged in: no sessions shown. <a href="/login">Log in</a> to see yours.'
    else:
        scope = "every user's sessions (admin)" if admin else "your sessions"
        who = f"Logged in as <b>{_e(principal.name)}</b>: {scope}."
    body = "".join(_row(r, now) for r in rows) or '<tr><td colspan="10">no sessions</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{REFRESH_S}">
<link rel="icon" href="data:,">
<title>adhoc sessions</title><style>{_CSS}</style></head>
<body><h1>adhoc sessions</h1>
<p>{who} Refreshes every {REFRESH_S} s.</p>
<div class="scroll"><table class="sessions">
<thead><tr><th>session</th><th>user</th><th>route</th><th>engine</th><th>state</th><th>started</th>
<th>queued</th><th>cost</th><th>Spark UI</th><th>logs</th></tr></thead>
<tbody>{body}</tbody></table></div>
</body></html>
"""


def _row(r: SessionRecord, now: float) -> str:
    state = "open" if r.open else "closed"
    queued = f"{r.queued_ms / 1000:.1f} s" if r.queued_ms else "–"
    cells = (
        ("session", f'<code title="{_e(r.session_id)}">{_e(r.session_id[:8])}</code>'),
        ("user", _e(r.user)),
        ("route", _e(r.route)),
        ("engine", _e(r.engine)),
        ("state", state),
        ("started", f"{_e(_utc(r.started_at))} ({_e(_age(now - r.started_at))} ago)"),
        ("queued", _e(queued)),
        ("cost", _e(_cost(getattr(r, "cost", None)))),
        ("Spark UI", _link(r.spark_ui_url, "Spark UI")),
        ("logs", _link(r.logs_url, "logs")),
    )
    tds = "".join(f'<td data-label="{label}">{content}</td>' for label, content in cells)
    return f'<tr class="{state}">{tds}</tr>'


def _link(url: str, label: str) -> str:
    return f'<a href="{_e(url)}">{label}</a>' if url else "–"


def _cost(value: object) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, int | float):
        return f"{value:.2f}"
    return str(value)


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d"


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _e(text: str) -> str:
    return html.escape(text, quote=True)
