"""The configuration a client sends with OpenSession: a route request, and settings checked like SET.

Clients send it as JDBC `;#key=value` (arriving as `set:hiveconf:key`), `?key=value`
(`set:hivevar:key`), the URL's database (`use:database`), or pyhive `configuration={...}` (any
key as given). Every key form is read by the one normaliser, adhoc.authz.conf_keys.
"""

from __future__ import annotations

from adhoc.auth import Principal
from adhoc.authz import Authorizer
from adhoc.authz.conf_keys import SETTING, session_conf_key
from adhoc.errors import PermissionDenied


def split_route_request(conf: dict[str, str]) -> tuple[str | None, dict[str, str]]:
    """The route asked for with `adhoc.route` (any prefix), and the conf without `adhoc.*` keys,
    which are the gateway's and never reach an engine. Only the setting forms are the gateway's:
    `set:system:adhoc.x` and the like stay, to be checked (and refused) as what they are."""
    gateways = {k for k in conf if (c := session_conf_key(k)).form == SETTING and c.name.lower().startswith("adhoc.")}
    requested = next((conf[k] for k in gateways if session_conf_key(k).name.lower() == "adhoc.route" and conf[k]), None)
    return requested, {k: v for k, v in conf.items() if k not in gateways}


def check_session_conf(authorizer: Authorizer, principal: Principal, conf: dict[str, str]) -> None:
    """Session conf is SET in disguise: the same keys are refused, in every form an engine reads."""
    decision = authorizer.check_conf(principal, conf, "session conf")
    if decision is not None:
        raise PermissionDenied(decision.reason)
