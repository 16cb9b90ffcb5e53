"""policy.toml: groups and rules, loaded, checked and compiled once.

    [groups]
    analysts = ["alice", "bob"]

    [[rules]]
    principals = ["group:analysts", "user:carol"]   # "*" = every authenticated user
    read  = ["sales.*", "default.events"]           # db.table globs, case-insensitive; {user} expands
    write = ["scratch_{user}.*"]                     # write implies read
    routes = ["yarn", "k8s"]                         # route kinds or engine names (omitted = any route)
    max_sessions = 4                                  # concurrent sessions per user (omitted = no limit)
    admin = false                                     # admin: anything, including the always-denied classes
    conf = {"spark.executor.memory" = "<=16g", "spark.dynamicAllocation.maxExecutors" = "<=20"}
                                                      # launch-time settings this rule lets its users set

    [conf]                                            # launch-time settings every user a rule names may
    "spark.executor.memory" = "<=8g"                  # set (replaces the built-in default of executor
                                                      # memory <=8g, cores <=4, instances <=10)

    [[limits]]                                        # a department's cap: its sessions beyond it wait
    group = "bi"                                      # in the routing queue (they are not refused)
    max_sessions = 20

A user's grants are the union of every rule naming them, their groups (from [groups] and from
the directory), or "*". A user no rule names may do nothing at all. A `conf` value is "*", "<=N",
"<=SIZE" or a list of values (adhoc.authz.launch_keys); a key may be named only if it is
launch-time (routing and security keys stay with admins), checked at load.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from adhoc.auth import Principal
from adhoc.authz.conf_keys import SETTING, ConfGrants, ConfKey, odd_characters, protected_key, refusal
from adhoc.authz.launch_keys import DEFAULT_CONF, ConfBound, launch_key, legacy_refusal, parse_bound
from adhoc.authz.names import TableRef
from adhoc.config import read_toml
from adhoc.errors import ConfigError

ROUTE_KINDS = frozenset({"yarn", "k8s", "local"})
DEFAULT_CONF_ITEMS = tuple((k, b[0]) for k, b in DEFAULT_CONF.items())
_RULE_KEYS = {"principals", "read", "write", "routes", "max_sessions", "admin", "name", "conf"}


@dataclass(frozen=True)
class Rule:
    name: str  # "rules[3]" or the rule's own name
    principals: frozenset[str]
    read: tuple[str, ...]
    write: tuple[str, ...]
    routes: frozenset[str] | None
    max_sessions: int | None
    admin: bool
    conf: tuple[tuple[str, ConfBound], ...] = ()  # launch-time key (lower case) -> the values allowed

    def applies_to(self, user: str, groups: Collection[str]) -> bool:
        return (
            "*" in self.principals
            or f"user:{user}" in self.principals
            or any(f"group:{g}" in self.principals for g in groups)
        )


@dataclass(frozen=True)
class Grants:
    """What one user may do: compiled, so checking a table is one regex match."""

    user: str
    rules: tuple[str, ...]
    admin: bool
    routes: frozenset[str] | None  # None = any route
    max_sessions: int | None
    _read: re.Pattern[str] | None = field(repr=False)
    _write: re.Pattern[str] | None = field(repr=False)
    read_globs: tuple[str, ...] = ()
    write_globs: tuple[str, ...] = ()
    # launch-time settings: key -> the bounds any of the user's rules allows
    conf: ConfGrants = field(default_factory=lambda: DEFAULT_CONF)

    def can_read(self, ref: TableRef) -> bool:
        return self.admin or any(p is not None and p.fullmatch(str(ref)) for p in (self._read, self._write))

    def can_write(self, ref: TableRef) -> bool:
        return self.admin or (self._write is not None and self._write.fullmatch(str(ref)) is not None)

    def can_write_database(self, db: str) -> bool:
        """CREATE/DROP DATABASE needs a write grant on every table in it: a glob `db.*`."""
        return self.admin or _covers_database(self.write_globs, db)

    def can_read_database(self, db: str) -> bool:
        return self.admin or _covers_database(self.read_globs + self.write_globs, db)

    def can_route(self, engine: str, kind: str) -> bool:
        return self.admin or self.routes is None or engine in self.routes or kind in self.routes


@dataclass(frozen=True, eq=False)  # identity equality: grants are cached per policy object
class Policy:
    source: str
    groups: dict[str, frozenset[str]]
    rules: tuple[Rule, ...]
    limits: dict[str, int] = field(default_factory=dict)  # group -> max concurrent sessions
    conf: tuple[tuple[str, ConfBound], ...] = DEFAULT_CONF_ITEMS  # [conf], or the built-in default

    def group_limits(self, principal: Principal) -> dict[str, int]:
        """The caps on the groups this principal belongs to."""
        if not self.limits:
            return {}
        return {g: cap for g in self.groups_of(principal) if (cap := self.limits.get(g)) is not None}

    def groups_of(self, principal: Principal) -> frozenset[str]:
        return frozenset(g for g, members in self.groups.items() if principal.name in members) | principal.groups

    def grants(self, principal: Principal) -> Grants:
        return _compile_grants(self, principal.name, self.groups_of(principal))


@lru_cache(maxsize=4096)
def _compile_grants(policy: Policy, user: str, groups: frozenset[str]) -> Grants:
    rules = [r for r in policy.rules if r.applies_to(user, groups)]
    reads = [g.replace("{user}", user.lower()) for r in rules for g in r.read]
    writes = [g.replace("{user}", user.lower()) for r in rules for g in r.write]
    route_sets = [r.routes for r in rules]
    limits = [r.max_sessions for r in rules if r.max_sessions is not None]
    conf: dict[str, list[ConfBound]] = {}
    for key, bound in (*policy.conf, *(c for r in rules for c in r.conf)) if rules else ():
        conf.setdefault(key, []).append(bound)
    return Grants(
        user=user,
        rules=tuple(r.name for r in rules),
        admin=any(r.admin for r in rules),
        routes=None if not rules or any(s is None for s in route_sets) else frozenset().union(*route_sets),  # type: ignore[arg-type]
        max_sessions=max(limits) if limits else None,
        _read=_union(reads),
        _write=_union(writes),
        read_globs=tuple(reads),
        write_globs=tuple(writes),
        conf=MappingProxyType({k: tuple(v) for k, v in conf.items()}),
    )


def _covers_database(globs: Iterable[str], db: str) -> bool:
    return any(g.endswith(".*") and fnmatch.fnmatchcase(db.lower(), g[:-2]) for g in globs)


def _union(globs: Iterable[str]) -> re.Pattern[str] | None:
    parts = [fnmatch.translate(g.lower()) for g in globs]
    return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE) if parts else None


def load_policy(path: str, known_routes: Collection[str] = ()) -> Policy:
    raw = read_toml(path, "policy file")
    unknown = set(raw) - {"groups", "rules", "limits", "conf"}
    if unknown:
        raise ConfigError("unknown key", file=path, key=sorted(unknown)[0])
    groups_raw = raw.get("groups", {})
    if not isinstance(groups_raw, dict):
        raise ConfigError("expected a table of group = [users]", file=path, key="groups")
    groups: dict[str, frozenset[str]] = {}
    for name, members in groups_raw.items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ConfigError("expected a list of user names", file=path, key=f"groups.{name}")
        groups[name] = frozenset(members)
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        raise ConfigError("expected [[rules]] tables", file=path, key="rules")
    routes = ROUTE_KINDS | set(known_routes)
    rules = tuple(_rule(i, r, path, routes) for i, r in enumerate(rules_raw))
    conf = _conf(raw["conf"], path, "conf") if "conf" in raw else DEFAULT_CONF_ITEMS
    return Policy(path, groups, rules, _group_limits(raw.get("limits", []), path), conf)


def _group_limits(raw: object, path: str) -> dict[str, int]:
    """[[limits]] group = "bi"; max_sessions = 20 — concurrent sessions of everyone in the group."""
    if not isinstance(raw, list):
        raise ConfigError("expected [[limits]] tables", file=path, key="limits")
    limits: dict[str, int] = {}
    for i, table in enumerate(raw):
        key = f"limits[{i}]"
        if not isinstance(table, dict):
            raise ConfigError("expected a table", file=path, key=key)
        unknown = set(table) - {"group", "max_sessions"}
        if unknown:
            raise ConfigError("unknown key", file=path, key=f"{key}.{sorted(unknown)[0]}")
        group, cap = table.get("group"), table.get("max_sessions")
        if not isinstance(group, str) or not group:
            raise ConfigError("expected a group name", file=path, key=f"{key}.group")
        if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
            raise ConfigError("expected a whole number >= 0", file=path, key=f"{key}.max_sessions")
        limits[group] = min(cap, limits.get(group, cap))
    return limits


def _rule(index: int, raw: object, path: str, known_routes: Collection[str]) -> Rule:
    key = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError("expected a table", file=path, key=key)
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise ConfigError("unknown key", file=path, key=f"{key}.{sorted(unknown)[0]}")
    principals = _strings(raw, "principals", path, key)
    if not principals:
        raise ConfigError("a rule needs principals", file=path, key=f"{key}.principals")
    for p in principals:
        if p != "*" and not re.fullmatch(r"(user|group):\S+", p):
            raise ConfigError(f'expected "user:NAME", "group:NAME" or "*", got {p!r}', file=path,
                              key=f"{key}.principals")  # fmt: skip
    read, write = _globs(raw, "read", path, key), _globs(raw, "write", path, key)
    routes = None
    if "routes" in raw:
        routes = frozenset(_strings(raw, "routes", path, key))
        bad = sorted(routes - set(known_routes))
        if bad:
            raise ConfigError(f"unknown route {bad[0]!r}: expected {', '.join(sorted(known_routes))}", file=path,
                              key=f"{key}.routes")  # fmt: skip
    max_sessions = raw.get("max_sessions")
    if max_sessions is not None and (not isinstance(max_sessions, int) or isinstance(max_sessions, bool)
                                     or max_sessions < 0):  # fmt: skip
        raise ConfigError("expected a whole number >= 0", file=path, key=f"{key}.max_sessions")
    admin = raw.get("admin", False)
    if not isinstance(admin, bool):
        raise ConfigError("expected true or false", file=path, key=f"{key}.admin")
    name = raw.get("name", key)
    conf = _conf(raw["conf"], path, f"{key}.conf") if "conf" in raw else ()
    return Rule(str(name), frozenset(principals), read, write, routes, max_sessions, admin, conf)


def _conf(raw: object, path: str, key: str) -> tuple[tuple[str, ConfBound], ...]:
    """`conf = {KEY = SPEC}`: launch-time keys only, each with a spec the gateway can apply."""
    if not isinstance(raw, dict):
        raise ConfigError('expected a table of "setting" = "*" | "<=N" | "<=SIZE" | [values]', file=path, key=key)
    out = []
    for name, spec in raw.items():
        where = f"{key}.{name}"
        setting = ConfKey(name, SETTING, name)
        if odd_characters(name) or protected_key(name) or legacy_refusal(name):
            raise ConfigError("not a setting a policy can open: routing, security and statement-reading "
                              "settings stay with admin rules", file=path, key=where)  # fmt: skip
        if not launch_key(name.lower()) or refusal(setting, "", False, conf_grants={}) is None:
            raise ConfigError("not a launch-time setting: users may set it without a conf entry", file=path,
                              key=where)  # fmt: skip
        try:
            out.append((name.lower(), parse_bound(spec)))
        except ValueError as e:
            raise ConfigError(str(e), file=path, key=where) from None
    return tuple(out)


def _strings(raw: dict[str, object], name: str, path: str, key: str) -> list[str]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("expected a list of strings", file=path, key=f"{key}.{name}")
    return list(value)


def _globs(raw: dict[str, object], name: str, path: str, key: str) -> tuple[str, ...]:
    out = []
    for glob in _strings(raw, name, path, key):
        normal = glob.strip().lower()
        if normal == "*":
            normal = "*.*"
        if normal.startswith("spark_catalog."):
            normal = normal[len("spark_catalog.") :]
        if normal.count(".") != 1 or not all(normal.split(".")):
            raise ConfigError(f"expected a db.table glob, got {glob!r}", file=path, key=f"{key}.{name}")
        out.append(normal)
    return tuple(out)
