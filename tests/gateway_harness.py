"""A real adhoc gateway on loopback, run on its own event loop thread so blocking clients
(pyhive, beeline, SQLAlchemy) can talk to it from the test thread."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from adhoc.config import Config, EngineConfig, ServerConfig
from adhoc.serve import Gateway, start_gateway

T = TypeVar("T")


def gateway_config(engine_address: str, **server: Any) -> Config:
    base = ServerConfig(host="127.0.0.1", thrift_port=0, http_port=0, thrift_http_port=0, drain_timeout_s=2.0)
    return Config(
        server=dataclasses.replace(base, **server),
        engines=(EngineConfig(name="sts-test", kind="local", protocol="sts", address=engine_address),),
    )


class GatewayThread:
    def __init__(self, config: Config) -> None:
        if config.server.thrift_http_port == ServerConfig().thrift_http_port:
            # the HTTP transport's default port would collide between gateways: tests that want it
            # give a free port of their own
            config = dataclasses.replace(config, server=dataclasses.replace(config.server, thrift_http_port=0))
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="adhoc-gateway", daemon=True)
        self._thread.start()
        self.gateway: Gateway = self.call(start_gateway(config))

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def host(self) -> str:
        return self.gateway.thrift_address[0]

    @property
    def port(self) -> int:
        return self.gateway.thrift_address[1]

    @property
    def http_url(self) -> str:
        return self.gateway.http_url

    @property
    def ctx(self) -> Any:
        return self.gateway.ctx

    def stop(self) -> None:
        self.call(self.gateway.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
