"""How the call layer talks to an engine: one connection, one call at a time.

    conn = await ctx.connect_engine(engine, user, password, timeout_s)
    reply = await conn.call(message)       # unframed Thrift message -> the engine's Reply
    conn.broken / conn.busy / conn.close()

`BackendConnection.connect` (gateway/backend.py) is the real connector, over TCP with SASL PLAIN;
the fast call-layer tests (tests/gateway/fast/) plug in the fake engine of `benchmarks/fake_engine.py`
(`FakeEngine().connector`), which the robustness tests and the benchmark also run on TCP.
"""

from __future__ import annotations

from typing import Protocol

from adhoc.engines import Engine
from adhoc.protocol.backend_stream import Reply


class EngineConnection(Protocol):
    engine: Engine

    @property
    def broken(self) -> bool:
        """The connection is unusable (lost, or a call on it was interrupted): never call it again."""
        ...

    @property
    def busy(self) -> bool:
        """A call is in flight: its reply has not been read yet."""
        ...

    async def call(self, message: bytes) -> Reply:
        """Send one Thrift call; EngineError when the connection fails (it is then broken)."""
        ...

    def close(self) -> None: ...


class EngineConnector(Protocol):
    async def __call__(self, engine: Engine, user: str, password: str, timeout: float) -> EngineConnection: ...
