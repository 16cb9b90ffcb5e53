"""Where each engine kind's Spark UI answers, as the proxy will reach it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from adhoc.config import EngineConfig
from adhoc.gateway.engine_ui import (
    AppIdCache,
    K8sDriverLookup,
    SessionUiResolver,
    engine_ui_url,
    kyuubi_engine,
    yarn_proxy_url,
)
from adhoc.gateway.sessions import SessionRecord


def test_yarn_goes_through_the_rm_proxy() -> None:
    assert yarn_proxy_url(["http://rm1:8088/", "http://rm2:8088"], "application_1_0007") == (
        "http://rm1:8088/proxy/application_1_0007/"
    )
    assert engine_ui_url("yarn", "kyuubi", rm_urls=["http://rm1:8088"], app_id="application_1_0007",
                         kyuubi_url="http://node7:4040") == "http://rm1:8088/proxy/application_1_0007/"  # fmt: skip
    assert engine_ui_url("yarn", "kyuubi", rm_urls=["http://rm1:8088"]) == ""  # no app id yet


def test_kyuubi_desc_engine_row() -> None:
    columns = ["ENGINE_ID", "ENGINE_NAME", "ENGINE_URL", "ENGINE_INSTANCE"]
    row = ["spark-6c1e", "kyuubi_USER_SPARK_SQL_bob_default", "10.1.2.3:4040", "10.1.2.3:38211"]
    assert kyuubi_engine(columns, row) == ("spark-6c1e", "http://10.1.2.3:4040")
    assert engine_ui_url("k8s", "kyuubi", kyuubi_url="http://10.1.2.3:4040") == "http://10.1.2.3:4040"


def test_a_configured_ui_url_wins() -> None:
    assert engine_ui_url("yarn", "sts", static_ui_url="http://sts:4040", rm_urls=["http://rm"], app_id="a") == (
        "http://sts:4040"
    )


def pod(phase: str, ip: str) -> Any:
    return SimpleNamespace(status=SimpleNamespace(phase=phase, pod_ip=ip))


class FakePods:
    def __init__(self, pods: list[Any]) -> None:
        self.pods = pods
        self.selectors: list[tuple[str, str]] = []

    def list_namespaced_pod(self, namespace: str, *, label_selector: str, _request_timeout: float) -> Any:
        self.selectors.append((namespace, label_selector))
        return SimpleNamespace(items=self.pods)


def test_k8s_driver_pod_by_session_label() -> None:
    api = FakePods([pod("Pending", ""), pod("Running", "10.4.0.9")])
    lookup = K8sDriverLookup(api, "spark")
    assert asyncio.run(lookup.driver_ui_url("s-1")) == "http://10.4.0.9:4040"
    assert api.selectors == [("spark", "adhoc.io/session=s-1,spark-role=driver")]
    assert asyncio.run(K8sDriverLookup(FakePods([pod("Running", "fd00::7")]), "spark").driver_ui_url("s")) == (
        "http://[fd00::7]:4040"
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_resolver_finds_a_k8s_driver_once_it_runs_and_looks_again_later() -> None:
    api, clock = FakePods([]), Clock()
    engine = EngineConfig(name="k8s-main", kind="k8s", address="kyuubi:10009", namespace="spark",
                          conf={"spark.ui.port": "4041"})  # fmt: skip
    resolver = SessionUiResolver([engine], k8s_lookup=lambda e: K8sDriverLookup(api, e.namespace),
                                 pod_ttl_s=10, clock=clock)  # fmt: skip
    record = SessionRecord("s-2", "bob", "k8s", "k8s-main")
    assert asyncio.run(resolver.resolve(record)) == ""
    api.pods.append(pod("Running", "10.4.0.10"))
    clock.now += 11
    assert asyncio.run(resolver.resolve(record)) == "http://10.4.0.10:4041"
    asked = len(api.selectors)
    assert asyncio.run(resolver.resolve(record)) == "http://10.4.0.10:4041" and len(api.selectors) == asked
    # the driver is gone: its IP may serve someone else's pod soon, so the address is not kept
    api.pods.clear()
    clock.now += 11
    assert asyncio.run(resolver.resolve(record)) == ""
    assert record.engine_ui_url == ""


def test_resolver_keeps_a_yarn_apps_rm_proxy() -> None:
    engine = EngineConfig(name="y", kind="yarn", address="kyuubi:10009", rm_urls=("http://rm:8088",))
    record = SessionRecord("s-4", "bob", "yarn", "y", app_id="application_1_0002")
    assert asyncio.run(SessionUiResolver([engine]).resolve(record)) == "http://rm:8088/proxy/application_1_0002/"
    assert record.engine_ui_url == "http://rm:8088/proxy/application_1_0002/"


def test_resolver_survives_an_unreachable_k8s_api() -> None:
    class Broken:
        def list_namespaced_pod(self, namespace: str, *, label_selector: str, _request_timeout: float) -> Any:
            raise ConnectionRefusedError("no API server")

    engine = EngineConfig(name="k8s-main", kind="k8s", address="kyuubi:10009")
    resolver = SessionUiResolver([engine], k8s_lookup=lambda e: K8sDriverLookup(Broken(), "default"))
    assert asyncio.run(resolver.resolve(SessionRecord("s-3", "bob", "k8s", "k8s-main"))) == ""


def test_app_id_cache_reads_a_real_spark_ui_once() -> None:
    """Against the Spark UI of the STS in tests, if one is named; an unreachable UI answers ''."""
    cache = AppIdCache(ttl_s=60)
    assert asyncio.run(cache.app_id("http://127.0.0.1:9")) == ""


def test_a_ui_that_failed_is_not_asked_again_for_a_while() -> None:
    clock, asked = Clock(), []
    cache = AppIdCache(failure_ttl_s=60, clock=clock)

    async def silent(ui_url: str) -> str:
        asked.append(ui_url)
        return ""

    cache._fetch = silent  # type: ignore[method-assign]
    assert asyncio.run(cache.app_id("http://sts:4040")) == ""
    clock.now += 59
    assert asyncio.run(cache.app_id("http://sts:4040")) == "" and len(asked) == 1
    clock.now += 2
    assert asyncio.run(cache.app_id("http://sts:4040")) == "" and len(asked) == 2


def test_background_lookup_reports_what_the_ui_answers() -> None:
    cache, found = AppIdCache(), []

    async def answers(ui_url: str) -> str:
        return "local-17"

    cache._fetch = answers  # type: ignore[method-assign]

    async def run() -> None:
        cache.app_id_in_background("http://sts:4040", found.append)
        await asyncio.sleep(0.05)

    asyncio.run(run())
    assert found == ["local-17"]
