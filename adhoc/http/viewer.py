"""Who is looking at a page, and whose sessions they may see (the UI proxy and the `/` page)."""

from __future__ import annotations

from aiohttp import web

from adhoc.auth import Principal
from adhoc.gateway.context import GatewayContext
from adhoc.http.basic_auth import authenticate_request


def auth_is_on(ctx: GatewayContext) -> bool:
    return ctx.config.auth.method != "none"


async def viewer(ctx: GatewayContext, request: web.Request, *, required: bool = True) -> Principal | None:
    """The authenticated principal. None when auth is off and no credentials were sent (anyone may
    look: the user names are not checked anyway), or when `required` is False and none were sent.
    Wrong credentials are always a 401 with a challenge."""
    if "Authorization" not in request.headers and (not auth_is_on(ctx) or not required):
        return None
    return await authenticate_request(ctx, request)


def may_see(ctx: GatewayContext, principal: Principal | None, owner: str) -> bool:
    if not auth_is_on(ctx):
        return True
    return principal is not None and (principal.name == owner or ctx.authorizer.is_admin(principal))
