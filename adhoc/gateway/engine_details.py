"""What the gateway asks an engine about a client's session, on that session: the Spark app id
and where the driver's UI is, for the session's links (`ADHOC DESC SESSION`, `/ui/<id>/`).

- An STS (on YARN, with a `ui_url` or a `history_url`): `SET spark.app.id` right after OpenSession
  (cached per engine). Not the engine's UI: one that accepts and never answers would hold up every
  OpenSession, and its app id would be lost for the history link. Only when the session cannot
  tell is the UI asked, in the background.
- Kyuubi: `KYUUBI DESC ENGINE` once the session's first statement has finished (the engine is up
  by then; asking at OpenSession would wait for an engine launch).
A failed question costs the links, never the client's session.
"""

from __future__ import annotations

import logging

from adhoc.errors import AdhocError
from adhoc.gateway.call_base import ClientSession
from adhoc.gateway.context import GatewayContext
from adhoc.gateway.engine_link import EngineConnection
from adhoc.gateway.engine_query import query
from adhoc.gateway.engine_ui import engine_ui_url, kyuubi_engine
from adhoc.gateway.sessions import SessionRecord
from adhoc.protocol import hs2

log = logging.getLogger("adhoc.gateway")


def wants_sts_app_id(engine_kind: str, protocol: str, ui_url: str, history_url: str) -> bool:
    return protocol == "sts" and (engine_kind == "yarn" or bool(ui_url) or bool(history_url))


async def learn_sts_app_id(ctx: GatewayContext, backend: EngineConnection, session: hs2.HandleRef,
                           record: SessionRecord) -> None:  # fmt: skip
    async def ask() -> str:
        _, rows = await query(backend, session, "SET spark.app.id")
        return next((str(r[1]) for r in rows if len(r) > 1 and r[0] == "spark.app.id" and r[1]), "")

    try:
        record.app_id = await ctx.app_ids.cached(f"engine:{record.engine}", ask)
    except (AdhocError, TimeoutError) as e:
        log.info("cannot learn the engine's app id", extra={"session": record.session_id, "error": str(e)})
    if record.app_id:
        _fill_ui_url(ctx, record)
    elif record.engine_ui_url:
        ctx.app_ids.app_id_in_background(record.engine_ui_url, lambda app_id: _found(ctx, record, app_id))


def _found(ctx: GatewayContext, record: SessionRecord, app_id: str) -> None:
    if not record.app_id:
        record.app_id = app_id
        if record.open:
            ctx.sessions.changed(record)


async def learn_engine_once(ctx: GatewayContext, session: ClientSession) -> None:
    """After a statement of the session finished: a Kyuubi engine is up, ask it once."""
    if session.engine_asked or session.backend.engine.protocol != "kyuubi" or session.backend.broken:
        return
    session.engine_asked = True
    await learn_kyuubi_engine(ctx, session.backend, session.ref, session.record)


async def learn_kyuubi_engine(ctx: GatewayContext, backend: EngineConnection, session: hs2.HandleRef,
                              record: SessionRecord) -> None:  # fmt: skip
    try:
        columns, rows = await query(backend, session, "KYUUBI DESC ENGINE")
    except (AdhocError, TimeoutError) as e:
        log.info("KYUUBI DESC ENGINE failed", extra={"session": record.session_id, "error": str(e)})
        return
    if not rows:
        return
    app_id, url = kyuubi_engine(columns, rows[0])
    record.app_id = record.app_id or app_id
    _fill_ui_url(ctx, record, kyuubi_url=url)
    ctx.sessions.changed(record)


def _fill_ui_url(ctx: GatewayContext, record: SessionRecord, kyuubi_url: str = "") -> None:
    engine = next((e for e in ctx.config.effective_engines() if e.name == record.engine), None)
    if engine is None or record.engine_ui_url:
        return
    record.engine_ui_url = engine_ui_url(
        engine.kind, engine.protocol, static_ui_url=engine.spark_ui, kyuubi_url=kyuubi_url,
        rm_urls=engine.rm_urls, app_id=record.app_id,
    )  # fmt: skip
