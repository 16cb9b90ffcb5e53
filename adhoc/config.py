"""adhoc.toml: frozen dataclasses, loaded and checked in one place.

Every key has a default here, and that default is what `docs` in the README lists. A value from
the file may be overridden by the environment as ADHOC_<SECTION>_<KEY> (for example
ADHOC_SERVER_THRIFT_PORT=10010); `[[engines]]` come only from the file. Unknown keys and values
of the wrong type are errors that name the file and the dotted key, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from adhoc.errors import ConfigError

EngineKind = Literal["yarn", "k8s", "local"]
EngineProtocol = Literal["kyuubi", "sts"]


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "adhoc")


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    thrift_port: int = 10009
    http_port: int = 10099
    public_url: str = ""  # base of links shown to users; "" = http://{host}:{http_port}
    data_dir: str = field(default_factory=default_data_dir)  # embedded engine's warehouse, metastore
    handshake_timeout_s: float = 10.0  # SASL handshake must finish within this
    idle_timeout_s: float = 0.0  # drop a client silent this long; 0 = never (BI tools idle for hours)
    write_timeout_s: float = 60.0  # a client that stops reading for this long is dropped
    backend_connect_timeout_s: float = 10.0
    max_frame_bytes: int = 64 * 1024 * 1024  # largest request frame accepted from a client
    max_connections: int = 2000
    teardown_timeout_s: float = 2.0  # budget to cancel/close a vanished client's backend work
    drain_timeout_s: float = 30.0  # SIGTERM: how long running statements get to finish
    ended_session_retention_s: float = 86400.0  # how long /ui/<id>/ of an ended session still redirects
    ended_session_max: int = 100_000  # at most this many ended sessions remembered (oldest forgotten first)
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for log pipelines
    thrift_http_port: int = 10001  # HiveServer2's HTTP transport (Thrift over POST); 0 = off
    thrift_http_path: str = "cliservice"  # POST /cliservice (a trailing slash too)
    session_idle_timeout_s: float = 21600.0  # HTTP transport: a session unused this long is closed (6 h)
    # HTTP clients behind these proxies (CIDRs) are known by X-Forwarded-For; () = the TCP peer only
    trusted_proxies: tuple[str, ...] = ()

    def base_url(self, http_port: int | None = None) -> str:
        """public_url, else the HTTP address (`http_port`: the bound one, when the config says 0)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = socket.getfqdn() if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.http_port if http_port is None else http_port}"


@dataclass(frozen=True)
class LdapConfig:
    url: str = ""  # ldap://host:389
    user_dn_template: str = ""  # "uid={user},ou=people,dc=example,dc=org" (direct bind)
    bind_dn: str = ""  # service account for search-then-bind
    bind_password_env: str = ""  # env var holding the service account's password
    search_base: str = ""
    search_filter: str = "(uid={user})"
    group_search_base: str = ""
    group_filter: str = "(|(member={dn})(memberUid={user}))"
    group_name_attr: str = "cn"
    timeout_s: float = 5.0


@dataclass(frozen=True)
class AuthConfig:
    method: Literal["none", "file", "ldap"] = "none"
    users: str = "users.toml"
    max_failures: int = 5  # failures per user/address before each attempt is slowed down
    failure_delay_s: float = 1.0
    ldap: LdapConfig = field(default_factory=LdapConfig)


@dataclass(frozen=True)
class RoutingConfig:
    policy: Literal["auto", "yarn", "k8s"] = "auto"
    probe_ttl_s: float = 5.0  # engine capacity figures are reused this long (and fetched once per burst)
    queue_timeout_s: float = 300.0  # a session nothing can take waits this long in the queue, then fails
    probe_timeout_s: float = 2.0  # connect and read timeout of each RM / Kubernetes API / Thrift probe


@dataclass(frozen=True)
class EngineConfig:
    name: str
    kind: EngineKind = "local"
    protocol: EngineProtocol = "sts"
    address: str = ""  # host:port of the HS2 endpoint; "" on a local engine = the embedded STS
    user: str = ""  # service account to connect as; "" = connect as the client's user
    password_env: str = ""  # env var holding the service account's password
    ui_url: str = ""  # where this engine's Spark UI answers (an STS's), when known statically
    spark_ui_url: str = ""  # the old name of ui_url, still accepted
    history_url: str = ""  # Spark history server: ended sessions' UI links lead to <history_url>/history/<app_id>/
    conf: Mapping[str, str] = field(default_factory=dict)
    # kind = yarn
    rm_urls: tuple[str, ...] = ()
    queue: str = ""  # leaf name or full path (root.bi.adhoc); "" = default
    saturation: float = 0.9  # saturated when used >= saturation x the queue's maximum
    max_pending_apps: int = 0  # ... or when more applications than this are pending
    session_share: float = 0.05  # share of the queue's maximum a session placed since the last probe counts for
    # kind = k8s
    kubeconfig: str = ""
    namespace: str = ""
    quota: str = ""
    min_free_cpu: float = 4.0  # usable while the quota has this much CPU free (a placed session counts this much)
    min_free_memory: str = "16Gi"  # ... and this much memory (Kubernetes quantity)
    cpu_core_hour: float = -1.0  # k8s cost estimate: < 0 = the [pricing] price
    memory_gib_hour: float = -1.0
    # kind = local, embedded (no address)
    master: str = "local[*]"

    @property
    def spark_ui(self) -> str:
        return self.ui_url or self.spark_ui_url

    @property
    def embedded(self) -> bool:
        return self.kind == "local" and not self.address

    def host_port(self) -> tuple[str, int]:
        host, _, port = self.address.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class LogsConfig:
    store: str = ""  # file:///dir | s3://bucket/prefix | oss://bucket/prefix; "" = file://<data_dir>/logs
    spool_dir: str = ""  # "" = <data_dir>/logs-spool
    storage_options: Mapping[str, str] = field(default_factory=dict)  # passed to the fsspec filesystem

    def store_url(self, data_dir: str) -> str:
        return self.store or "file://" + os.path.join(os.path.abspath(data_dir), "logs")

    def spool_path(self, data_dir: str) -> str:
        return self.spool_dir or os.path.join(data_dir, "logs-spool")


@dataclass(frozen=True)
class PricingConfig:
    cpu_core_hour: float = 0.0  # price of one requested CPU core for an hour
    memory_gib_hour: float = 0.0  # price of one requested GiB of memory for an hour


@dataclass(frozen=True)
class PolicyConfig:
    file: str = ""  # "" = no policy: every authenticated user may run anything
    reload_interval_s: float = 2.0
    max_statement_bytes: int = 1024 * 1024  # longer statements are refused, not analysed
    max_statement_tokens: int = 50_000  # more tokens: refused to non-admins, not parsed
    max_statement_depth: int = 100  # deeper bracket nesting: refused to non-admins (at most 400)


@dataclass(frozen=True)
class HaConfig:
    zookeeper: str = ""  # "zk1:2181,zk2:2181" (optionally with a /chroot); "" = one replica, no ZooKeeper
    namespace: str = "adhoc"  # znode under which replicas register, as Hive JDBC's zooKeeperNamespace
    advertised_host: str = ""  # the address clients and other replicas use (a pod's IP); "" = server.host
    session_timeout_s: float = 10.0  # a replica that vanishes is forgotten (its sessions freed) after this
    connect_timeout_s: float = 15.0  # at start: how long to wait for ZooKeeper before giving up (exit 2)


@dataclass(frozen=True)
class AuditConfig:
    file: str = ""  # "" = audit lines go to the log only


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    engines: tuple[EngineConfig, ...] = ()
    logs: LogsConfig = field(default_factory=LogsConfig)
    pricing: PricingConfig = field(default_factory=PricingConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    ha: HaConfig = field(default_factory=HaConfig)
    source: str = ""  # the file this came from, for messages; "" = built-in defaults

    def resolve(self, path: str) -> str:
        """A path from the config, relative to the config file's directory."""
        if not path or os.path.isabs(path) or not self.source:
            return path
        return str(Path(self.source).parent / path)

    def effective_engines(self) -> tuple[EngineConfig, ...]:
        return self.engines or (EngineConfig(name="local", kind="local", protocol="sts"),)


def read_toml(path: str, what: str = "file", key: str | None = None) -> dict[str, Any]:
    """A TOML file as a dict; a missing or broken file is a ConfigError naming it."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", file=path, key=key) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}", file=path, key=key) from None


def load_config(path: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read and check a config file (None = defaults), applying ADHOC_* environment overrides."""
    env = os.environ if env is None else env
    source = str(path) if path else ""
    raw: dict[str, Any] = read_toml(source) if path else {}
    engines_raw = raw.pop("engines", [])
    if not isinstance(engines_raw, list):
        raise ConfigError("expected an array of tables [[engines]]", file=source, key="engines")
    _apply_env(raw, env, source)
    sections = {name: _build(typ, raw.pop(name, {}), source, name) for name, typ in _SECTIONS.items()}
    if raw:
        raise ConfigError("unknown key", file=source, key=sorted(raw)[0])
    engines = tuple(_build(EngineConfig, table, source, f"engines[{i}]") for i, table in enumerate(engines_raw))
    _check_engines(engines, source)
    _check_policy(sections["policy"], source)
    _check_routing(sections["routing"], source)
    _check_logs(sections["logs"], sections["pricing"], source)
    _check_ha(sections["ha"], sections["server"], source)
    _check_server(sections["server"], source)
    return Config(engines=engines, source=source, **sections)


def _check_policy(policy: PolicyConfig, source: str) -> None:
    # The analyser's parser recurses per nesting level: beyond ~400 it would exhaust the stack.
    bounds = {
        "max_statement_bytes": (1, 1 << 40),
        "max_statement_tokens": (1, 1 << 40),
        "max_statement_depth": (1, 400),
    }
    for name, (low, high) in bounds.items():
        value = getattr(policy, name)
        if not low <= value <= high:
            raise ConfigError(f"expected a whole number from {low} to {high:,}, got {value}", file=source,
                              key=f"policy.{name}")  # fmt: skip


def _check_server(server: ServerConfig, source: str) -> None:
    for cidr in server.trusted_proxies:
        try:
            ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            raise ConfigError(f"expected networks such as \"10.0.0.0/8\" or \"::1\", got {cidr!r}", file=source,
                              key="server.trusted_proxies") from None  # fmt: skip


def _check_ha(ha: HaConfig, server: ServerConfig, source: str) -> None:
    if not ha.zookeeper:
        return
    hosts = ha.zookeeper.split("/", 1)[0]
    for hostport in hosts.split(","):
        host, _, port = hostport.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"expected host:port[,host:port...][/chroot], got {ha.zookeeper!r}", file=source,
                              key="ha.zookeeper")  # fmt: skip
    if not ha.namespace or "/" in ha.namespace or ha.namespace.strip() != ha.namespace:
        raise ConfigError(f"expected a znode name without '/', got {ha.namespace!r}", file=source, key="ha.namespace")
    if not (ha.advertised_host or server.host) or (ha.advertised_host or server.host) in ("0.0.0.0", "::"):
        raise ConfigError("clients cannot reach a replica at a wildcard address: set the pod's or host's address",
                          file=source, key="ha.advertised_host")  # fmt: skip
    for key in ("session_timeout_s", "connect_timeout_s"):
        if getattr(ha, key) <= 0:
            raise ConfigError("expected a number of seconds > 0", file=source, key=f"ha.{key}")


_SECTIONS: dict[str, type] = {
    "server": ServerConfig,
    "auth": AuthConfig,
    "routing": RoutingConfig,
    "logs": LogsConfig,
    "pricing": PricingConfig,
    "policy": PolicyConfig,
    "audit": AuditConfig,
    "ha": HaConfig,
}


def _apply_env(raw: dict[str, Any], env: Mapping[str, str], source: str) -> None:
    for section, typ in _SECTIONS.items():
        for f in dataclasses.fields(typ):
            value = env.get(f"ADHOC_{section.upper()}_{f.name.upper()}")
            if value is None or dataclasses.is_dataclass(_hints(typ)[f.name]):
                continue
            table = raw.setdefault(section, {})
            if not isinstance(table, dict):
                raise ConfigError("expected a table", file=source, key=section)
            table[f.name] = _from_env(value, _hints(typ)[f.name], f"ADHOC_{section.upper()}_{f.name.upper()}")


def _from_env(value: str, hint: Any, var: str) -> Any:
    try:
        if hint is bool:
            return value.strip().lower() in ("1", "true", "yes", "on")
        if hint is int:
            return int(value)
        if hint is float:
            return float(value)
    except ValueError:
        raise ConfigError(f"environment variable {var}={value!r} is not a {hint.__name__}") from None
    return value


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, table: Any, source: str, prefix: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError("expected a table", file=source, key=prefix)
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls)}
    for key, value in table.items():
        if key not in names:
            raise ConfigError("unknown key", file=source, key=f"{prefix}.{key}")
        kwargs[key] = _check_value(value, hints[key], source, f"{prefix}.{key}")
    for f in dataclasses.fields(cls):
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default and f.name not in kwargs:
            raise ConfigError("required key is missing", file=source, key=f"{prefix}.{f.name}")
    return cls(**kwargs)


def _check_value(value: Any, hint: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type, hint), value, source, key)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(f"expected one of {', '.join(map(repr, allowed))}, got {value!r}", file=source, key=key)
        return value
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError("expected a list of strings", file=source, key=key)
        return tuple(value)
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, dict):
            raise ConfigError("expected a table of key = value", file=source, key=key)
        return types.MappingProxyType({str(k): _scalar_str(v, source, f"{key}.{k}") for k, v in value.items()})
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"expected a number, got {value!r}", file=source, key=key)
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"expected an integer, got {value!r}", file=source, key=key)
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {value!r}", file=source, key=key)
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, got {value!r}", file=source, key=key)
        return value
    raise ConfigError(f"unsupported value {value!r}", file=source, key=key)  # pragma: no cover


def _scalar_str(value: Any, source: str, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ConfigError(f"expected a string, number or boolean, got {value!r}", file=source, key=key)


def _check_engines(engines: tuple[EngineConfig, ...], source: str) -> None:
    seen: set[str] = set()
    for i, engine in enumerate(engines):
        key = f"engines[{i}]"
        if not engine.name or engine.name in seen:
            raise ConfigError(f"engine name {engine.name!r} is empty or used twice", file=source, key=f"{key}.name")
        seen.add(engine.name)
        if engine.address:
            host, _, port = engine.address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(f"expected host:port, got {engine.address!r}", file=source, key=f"{key}.address")
        elif engine.kind != "local":
            raise ConfigError(f"a {engine.kind} engine needs an address", file=source, key=f"{key}.address")
        for name in ("ui_url", "spark_ui_url", "history_url"):
            url = getattr(engine, name)
            if url and not (url.startswith(("http://", "https://")) and len(url.split("/")[2]) > 0):
                raise ConfigError(f"expected an http:// or https:// URL, got {url!r}", file=source, key=f"{key}.{name}")
        _check_capacity_keys(engine, source, key)
    if sum(1 for e in engines if e.embedded) > 1:
        raise ConfigError("only one embedded engine (local without address) is allowed", file=source, key="engines")


def _check_routing(routing: RoutingConfig, source: str) -> None:
    for key in ("probe_ttl_s", "queue_timeout_s"):
        if getattr(routing, key) < 0:
            raise ConfigError("expected a number of seconds >= 0", file=source, key=f"routing.{key}")
    if routing.probe_timeout_s <= 0:
        raise ConfigError("expected a number of seconds > 0", file=source, key="routing.probe_timeout_s")


def _check_capacity_keys(engine: EngineConfig, source: str, key: str) -> None:
    """The YARN and Kubernetes settings routing relies on, checked before anything starts."""
    if not 0 < engine.saturation <= 1:
        raise ConfigError(f"expected a fraction in (0, 1], got {engine.saturation}", file=source,
                          key=f"{key}.saturation")  # fmt: skip
    if not 0 <= engine.session_share <= 1:
        raise ConfigError(f"expected a fraction in [0, 1], got {engine.session_share}", file=source,
                          key=f"{key}.session_share")  # fmt: skip
    if engine.max_pending_apps < 0:
        raise ConfigError("expected a whole number >= 0", file=source, key=f"{key}.max_pending_apps")
    if engine.min_free_cpu < 0:
        raise ConfigError("expected a number >= 0", file=source, key=f"{key}.min_free_cpu")
    if engine.kind == "yarn":
        if not engine.rm_urls:
            raise ConfigError("a yarn engine needs rm_urls (its ResourceManager web addresses)", file=source,
                              key=f"{key}.rm_urls")  # fmt: skip
        for url in engine.rm_urls:
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"expected an http(s):// URL, got {url!r}", file=source, key=f"{key}.rm_urls")
    if engine.kind == "k8s":
        if not engine.namespace:
            raise ConfigError("a k8s engine needs the namespace its sessions run in", file=source,
                              key=f"{key}.namespace")  # fmt: skip
        memory_bytes(engine.min_free_memory, source, f"{key}.min_free_memory")


def memory_bytes(quantity: str, source: str = "", key: str = "") -> int:
    """A Kubernetes memory quantity ("16Gi", "512M", "1e9") in bytes; anything else is a ConfigError."""
    from kubernetes.utils import quantity as k8s_quantity  # only k8s engines pay for the import

    try:
        value = typing.cast(Any, k8s_quantity).parse_quantity(quantity)
    except (ValueError, TypeError):
        raise ConfigError(f"expected a memory quantity such as 16Gi or 512Mi, got {quantity!r}", file=source,
                          key=key) from None  # fmt: skip
    if value < 0:
        raise ConfigError(f"expected a quantity >= 0, got {quantity!r}", file=source, key=key)
    return int(value)


# Log stores by URL scheme, and the package that serves each (fsspec's own implementations need none).
_STORE_PACKAGES = {"file": "", "local": "", "memory": "", "s3": "s3fs", "s3a": "s3fs", "oss": "ossfs",
                   "gs": "gcsfs", "gcs": "gcsfs", "abfs": "adlfs", "az": "adlfs"}  # fmt: skip


def _check_logs(logs: LogsConfig, pricing: PricingConfig, source: str) -> None:
    import importlib.util

    if logs.store:
        scheme, sep, rest = logs.store.partition("://")
        if not sep or scheme not in _STORE_PACKAGES:
            known = ", ".join(f"{s}://" for s in ("file", "s3", "oss", "gs"))
            raise ConfigError(f"expected a URL like {known}…, got {logs.store!r}", file=source, key="logs.store")
        package = _STORE_PACKAGES[scheme]
        if package and importlib.util.find_spec(package) is None:
            raise ConfigError(f"{scheme}:// needs the {package} package (pip install {package})",
                              file=source, key="logs.store")  # fmt: skip
        if package and not rest.strip("/"):
            raise ConfigError(f"{scheme}:// needs a bucket: {scheme}://bucket/prefix", file=source, key="logs.store")
    for key, value in (("cpu_core_hour", pricing.cpu_core_hour), ("memory_gib_hour", pricing.memory_gib_hour)):
        if value < 0:
            raise ConfigError(f"a price cannot be negative, got {value}", file=source, key=f"pricing.{key}")
