"""Where a session's Spark UI answers on the engine side, and its Spark app id.

Each engine kind says it differently:
- embedded STS: its own UI port (known at start);
- an STS: the engine's `ui_url` key; its app id from that UI's REST API (`/api/v1/applications`);
- Kyuubi: `KYUUBI DESC ENGINE` (ENGINE_ID = app id, ENGINE_URL = the driver's UI), once the engine is up;
- K8s: the driver pod (labels `adhoc.io/session=<id>`, `spark-role=driver`) at its pod IP, port 4040;
- YARN: the ResourceManager's application proxy, `<rm>/proxy/<app_id>/`.

The rules are plain functions; `AppIdCache` and `K8sDriverLookup` are the thin I/O around them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import aiohttp

from adhoc.config import EngineConfig
from adhoc.gateway.sessions import SessionRecord

log = logging.getLogger("adhoc.gateway")

SPARK_UI_PORT = 4040
MAX_REMEMBERED_PODS = 10_000


def yarn_proxy_url(rm_urls: Sequence[str], app_id: str) -> str:
    """The RM's application proxy for a YARN app: it forwards to the driver's UI wherever it runs."""
    if not rm_urls or not app_id:
        return ""
    return f"{rm_urls[0].rstrip('/')}/proxy/{app_id}/"


def kyuubi_engine(columns: Sequence[str], row: Sequence[Any]) -> tuple[str, str]:
    """(app id, driver UI URL) from a `KYUUBI DESC ENGINE` row."""
    values = {str(c).upper(): "" if v is None else str(v) for c, v in zip(columns, row, strict=False)}
    url = values.get("ENGINE_URL", "")
    if url and "://" not in url:
        url = f"http://{url}"
    return values.get("ENGINE_ID", ""), url


def driver_pod_ui_url(pod_ip: str, ui_port: int = SPARK_UI_PORT) -> str:
    if not pod_ip:
        return ""
    return f"http://[{pod_ip}]:{ui_port}" if ":" in pod_ip else f"http://{pod_ip}:{ui_port}"


def driver_selector(session_id: str) -> str:
    return f"adhoc.io/session={session_id},spark-role=driver"


def ui_port_of(conf: Mapping[str, str]) -> int:
    value = conf.get("spark.ui.port", "")
    return int(value) if value.isdigit() else SPARK_UI_PORT


def engine_is_shared(engine: EngineConfig) -> bool:
    """Whether the engine's Spark app runs other sessions' statements too, so its UI would show
    them: an STS always; a Kyuubi engine unless shared per connection. A K8s route launches a
    driver for the session alone. A Kyuubi share level named nowhere is Kyuubi's default, USER."""
    if engine.kind == "k8s":
        return False
    if engine.protocol == "kyuubi":
        return engine.conf.get("kyuubi.engine.share.level", "USER").strip().upper() != "CONNECTION"
    return True


def engine_ui_url(kind: str, protocol: str, *, static_ui_url: str = "", kyuubi_url: str = "",
                  rm_urls: Sequence[str] = (), app_id: str = "", pod_ip: str = "",
                  ui_port: int = SPARK_UI_PORT) -> str:  # fmt: skip
    """The engine-side UI address the proxy talks to, from what is known about the session so far
    ("" = not known yet). A configured URL wins; YARN goes through the RM proxy (drivers on YARN
    nodes are rarely reachable directly, and the RM proxy is what Spark's links expect)."""
    if static_ui_url:
        return static_ui_url
    if kind == "yarn" and rm_urls and app_id:
        return yarn_proxy_url(rm_urls, app_id)
    if kind == "k8s" and pod_ip:
        return driver_pod_ui_url(pod_ip, ui_port)
    if protocol == "kyuubi" and kyuubi_url:
        return kyuubi_url
    return ""


class AppIdCache:
    """An STS's app id (one Spark app serves every session), cached per engine for `ttl_s`: an STS
    restarted under the same address gets a new app id. Learnt by whatever `fetch` the caller passes
    (`SET spark.app.id` on a session, which answers as fast as the engine), or from the engine's UI
    (`/api/v1/applications`) in the background only: a UI that accepts and never answers must not
    hold up an OpenSession. A UI that failed is not asked again for `failure_ttl_s`."""

    def __init__(self, ttl_s: float = 30.0, timeout_s: float = 2.0, failure_ttl_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.failure_ttl_s = failure_ttl_s
        self._clock = clock
        self._known: dict[str, tuple[float, str]] = {}
        self._failed: dict[str, float] = {}  # UI URL -> when it last failed
        self._tasks: set[asyncio.Task[None]] = set()

    async def app_id(self, ui_url: str) -> str:
        failed = self._failed.get(ui_url)
        if failed is not None and self._clock() - failed < self.failure_ttl_s:
            return ""
        app_id = await self.cached(ui_url, lambda: self._fetch(ui_url))
        if app_id:
            self._failed.pop(ui_url, None)
        else:
            self._failed[ui_url] = self._clock()
        return app_id

    def app_id_in_background(self, ui_url: str, found: Callable[[str], None]) -> None:
        """Ask the UI without anyone waiting; `found` is called with the app id if it answers."""

        async def ask() -> None:
            app_id = await self.app_id(ui_url)
            if app_id:
                found(app_id)

        task = asyncio.get_running_loop().create_task(ask())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cached(self, key: str, fetch: Callable[[], Awaitable[str]]) -> str:
        known = self._known.get(key)
        if known is not None and self._clock() - known[0] < self.ttl_s:
            return known[1]
        app_id = await fetch()
        if app_id:
            self._known[key] = (self._clock(), app_id)
        return app_id

    async def _fetch(self, ui_url: str) -> str:
        url = f"{ui_url.rstrip('/')}/api/v1/applications"
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout_s)
            async with aiohttp.ClientSession(timeout=timeout) as client, client.get(url) as resp:
                apps = json.loads(await resp.read()) if resp.status == 200 else []
            return str(apps[0]["id"]) if apps else ""
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, IndexError, TypeError) as e:
            log.info("cannot read the app id from the engine's UI", extra={"url": url, "error": str(e)})
            return ""


class PodLister(Protocol):
    """The slice of kubernetes.client.CoreV1Api used here (a fake stands in for tests)."""

    def list_namespaced_pod(self, namespace: str, *, label_selector: str, _request_timeout: float) -> Any: ...


class K8sDriverLookup:
    """Finds a session's driver pod through the K8s API and answers its UI address."""

    def __init__(self, api: PodLister, namespace: str, timeout_s: float = 3.0) -> None:
        self.api = api
        self.namespace = namespace
        self.timeout_s = timeout_s

    async def driver_ui_url(self, session_id: str, ui_port: int = SPARK_UI_PORT) -> str:
        pods = await asyncio.to_thread(
            self.api.list_namespaced_pod, self.namespace, label_selector=driver_selector(session_id),
            _request_timeout=self.timeout_s,
        )  # fmt: skip
        running = [p for p in pods.items if p.status is not None and p.status.phase == "Running" and p.status.pod_ip]
        return driver_pod_ui_url(running[0].status.pod_ip, ui_port) if running else ""


class SessionUiResolver:
    """A session's engine-side UI address when OpenSession did not tell it (K8s drivers start after
    the session opens; YARN needs the app id first). Asked by the UI proxy.

    A configured URL or a YARN app's RM proxy is stable and kept on the record. A driver pod's
    address is not: once the driver is gone its IP may go to another pod (another user's driver,
    even), so it is looked up again after `pod_ttl_s` instead of being remembered."""

    def __init__(self, engines: Sequence[EngineConfig],
                 k8s_lookup: Callable[[EngineConfig], K8sDriverLookup] | None = None,
                 pod_ttl_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._engines = {e.name: e for e in engines}
        self._k8s_factory = k8s_lookup or _k8s_lookup_from_config
        self._k8s: dict[str, K8sDriverLookup] = {}
        self.pod_ttl_s = pod_ttl_s
        self._clock = clock
        self._pods: dict[str, tuple[float, str]] = {}  # session id -> (looked up at, URL or "")

    async def resolve(self, record: SessionRecord) -> str:
        if record.engine_ui_url or not record.open:
            return record.engine_ui_url
        engine = self._engines.get(record.engine)
        if engine is None:
            return ""
        url = engine_ui_url(engine.kind, engine.protocol, static_ui_url=engine.spark_ui,
                            rm_urls=engine.rm_urls, app_id=record.app_id)  # fmt: skip
        if url:
            record.engine_ui_url = url
            return url
        if engine.kind != "k8s":
            return ""
        found = self._pods.get(record.session_id)
        if found is not None and self._clock() - found[0] < self.pod_ttl_s:
            return found[1]
        try:
            lookup = self._k8s.get(engine.name) or self._k8s.setdefault(engine.name, self._k8s_factory(engine))
            url = await lookup.driver_ui_url(record.session_id, ui_port_of(engine.conf))
        except Exception as e:  # the K8s API has many ways to fail; the link falls back either way
            log.info("cannot find the session's driver pod", extra={"session": record.session_id, "error": str(e)})
        self._pods.pop(record.session_id, None)
        self._pods[record.session_id] = (self._clock(), url)
        while len(self._pods) > MAX_REMEMBERED_PODS:
            self._pods.pop(next(iter(self._pods)))
        return url


def _k8s_lookup_from_config(engine: EngineConfig) -> K8sDriverLookup:
    from kubernetes import client, config

    if engine.kubeconfig:
        api_client = config.new_client_from_config(config_file=engine.kubeconfig)  # type: ignore[no-untyped-call]
    else:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        api_client = client.ApiClient()
    return K8sDriverLookup(client.CoreV1Api(api_client), engine.namespace or "default")
