"""Engines: the HiveServer2 endpoints (Spark Thrift Servers, Kyuubi servers) sessions run on."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from adhoc.config import EngineConfig, EngineKind, EngineProtocol, memory_bytes


@dataclass(frozen=True)
class YarnQueue:
    """Where a yarn engine's sessions run, and when that queue counts as full."""

    rm_urls: tuple[str, ...]
    queue: str  # a leaf name ("adhoc") or a full path ("root.bi.adhoc")
    saturation: float = 0.9
    max_pending_apps: int = 0
    session_share: float = 0.05


@dataclass(frozen=True)
class K8sQuota:
    """Where a k8s engine's sessions run, and how much room a new one needs."""

    namespace: str
    kubeconfig: str = ""  # "" = in-cluster service account
    quota: str = ""  # a ResourceQuota's name; "" = every quota in the namespace, the tightest wins
    min_free_cpu: float = 4.0
    min_free_memory: int = 16 * 1024**3  # bytes


@dataclass(frozen=True)
class Engine:
    """An engine the gateway can open sessions on, with its address resolved."""

    name: str
    kind: EngineKind
    protocol: EngineProtocol
    host: str
    port: int
    conf: Mapping[str, str] = field(default_factory=dict)
    user: str = ""  # service account; "" = connect as the client's user
    password: str = field(default="", repr=False)
    ui_url: str = ""  # where the engine's Spark UI answers, as the gateway reaches it
    history_url: str = ""  # Spark history server of this engine's apps
    app_id: str = ""
    yarn: YarnQueue | None = None  # kind = yarn: the queue routing watches
    k8s: K8sQuota | None = None  # kind = k8s: the namespace and quota routing watches

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @staticmethod
    def from_config(config: EngineConfig, env: Mapping[str, str] = os.environ) -> Engine:
        host, port = config.host_port()
        return Engine(
            name=config.name,
            kind=config.kind,
            protocol=config.protocol,
            host=host,
            port=port,
            conf=config.conf,
            user=config.user,
            password=env.get(config.password_env, "") if config.password_env else "",
            ui_url=config.spark_ui,
            history_url=config.history_url,
            yarn=_yarn_queue(config),
            k8s=_k8s_quota(config),
        )

    def login_for(self, user: str, password: str) -> tuple[str, str]:
        """The user and password that open connections and sessions on this engine for `user`: the
        engine's service account when it has one (`user` then runs as a proxy user), else the
        client's own credentials."""
        return (self.user, self.password) if self.user else (user, password)

    def proxy_user_for(self, user: str) -> str | None:
        return user if self.user else None

    def session_conf(
        self, client_conf: Mapping[str, str], proxy_user: str | None, *, session_id: str = "", user: str = ""
    ) -> dict[str, str]:
        """OpenSession configuration as this engine understands it.

        The Spark Thrift Server applies only `set:hiveconf:`-prefixed keys; Kyuubi takes plain keys.
        The engine's [engines.conf] wins over what the client sent. `session_id` is the gateway's id
        of the session being opened and `user` the authenticated user (for labels the engine's
        pods carry); neither is sent as conf by this base engine.
        """
        conf = dict(client_conf)
        for key, value in self.conf.items():
            conf[f"set:hiveconf:{key}" if self.protocol == "sts" else key] = value
        if proxy_user:
            conf["hive.server2.proxy.user"] = proxy_user
            if self.protocol == "kyuubi":
                conf["kyuubi.session.proxy.user"] = proxy_user
        return conf


def _yarn_queue(config: EngineConfig) -> YarnQueue | None:
    if config.kind != "yarn":
        return None
    return YarnQueue(config.rm_urls, config.queue or "default", config.saturation, config.max_pending_apps,
                     config.session_share)  # fmt: skip


def _k8s_quota(config: EngineConfig) -> K8sQuota | None:
    if config.kind != "k8s":
        return None
    return K8sQuota(config.namespace, config.kubeconfig, config.quota, config.min_free_cpu,
                    memory_bytes(config.min_free_memory))  # fmt: skip
