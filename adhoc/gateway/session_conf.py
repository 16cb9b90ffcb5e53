"""The configuration a client sends with OpenSession: a route request, and settings checked like SET.

Clients send it as JDBC `;#key=value` (arriving as `set:hiveconf:key`), `?key=value`
(`set:hivevar:key`), or pyhive `configuration={...}` (plain keys).
"""

from __future__ import annotations

from adhoc.auth import Principal
from adhoc.authz import Authorizer, SessionState
from adhoc.authz.authorizer import PROXY_USER_KEYS
from adhoc.errors import PermissionDenied

_PREFIXES = ("set:hiveconf:", "set:hivevar:", "set:system:")


def conf_name(key: str) -> str:
    """`set:hiveconf:spark.x` -> `spark.x`: the setting a session conf key names."""
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def split_route_request(conf: dict[str, str]) -> tuple[str | None, dict[str, str]]:
    """The route asked for with `adhoc.route` (any prefix), and the conf without `adhoc.*` keys,
    which are the gateway's and never reach an engine."""
    requested = next((v for k, v in conf.items() if conf_name(k) == "adhoc.route" and v), None)
    return requested, {k: v for k, v in conf.items() if not conf_name(k).startswith("adhoc.")}


def check_session_conf(authorizer: Authorizer, principal: Principal, conf: dict[str, str]) -> None:
    """Session conf is SET in disguise: the same keys are refused. Proxy-user keys never come from
    a client: the session runs as the user who logged in, whatever the policy (with none, too)."""
    for key, value in conf.items():
        name = conf_name(key)
        if name.lower() in PROXY_USER_KEYS:
            raise PermissionDenied(f"permission denied: {name} is set by the gateway, not by clients "
                                   "(sessions run as the user who logged in)")  # fmt: skip
        if key.startswith("set:hivevar:") or (":" in key and not key.startswith(_PREFIXES)):
            continue  # variables (their use, ${...}, is refused in statements) and use:database
        decision = authorizer.check_statement(principal, f"SET {name}={value}", SessionState())
        if not decision.allowed:
            raise PermissionDenied(f"{decision.reason}; asked for as session conf {key}")
