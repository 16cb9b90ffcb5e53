"""The gateway's call layer against the in-process fake engine: a real ThriftServer on loopback, a
raw asyncio HS2 client built on the thrift library, no Spark. Each test runs in milliseconds."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from TCLIService import ttypes

from adhoc.config import Config, EngineConfig, ServerConfig
from adhoc.engines import Engine
from adhoc.gateway.context import GatewayContext
from adhoc.gateway.server import ThriftServer
from adhoc.routing import CapacityRouter
from benchmarks.fake_engine import FakeEngine
from tests.fakes.probes import ScriptedProbe
from tests.hs2_raw import COMPLETE, OK, START, decode_reply, encode_call, sasl_frame

ENGINE = Engine("fake", "local", "sts", "127.0.0.1", 1)


def one_engine(engine: Engine = ENGINE) -> CapacityRouter:
    """A router with one engine that is always there: routing is not what these tests are about."""
    return CapacityRouter([engine], {engine.name: ScriptedProbe()})


class Client:
    """A raw HS2 client on asyncio streams: SASL PLAIN (or NOSASL), one call at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, framed: bool) -> None:
        self.reader, self.writer, self.framed = reader, writer, framed
        self.seqid = 0

    @classmethod
    async def connect(cls, port: int, user: str = "alice", password: str = "pw", nosasl: bool = False) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer, framed=not nosasl)
        if not nosasl:
            writer.write(
                sasl_frame(START, b"PLAIN") + sasl_frame(OK, b"\0" + user.encode() + b"\0" + password.encode())
            )
            status, length = struct.unpack(">BI", await reader.readexactly(5))
            await reader.readexactly(length)
            assert status == COMPLETE
        return client

    async def send(self, name: str, req: Any) -> None:
        self.seqid += 1
        message = encode_call(name, req, self.seqid)
        self.writer.write(struct.pack(">I", len(message)) + message if self.framed else message)

    async def receive(self, name: str) -> Any:
        if not self.framed:  # NOSASL: a bare message, over when it decodes
            data = b""
            while True:
                data += await self.reader.read(65536)
                try:
                    return decode_reply(name, data)
                except Exception:
                    continue
        (length,) = struct.unpack(">I", await self.reader.readexactly(4))
        data = await self.reader.readexactly(length)
        assert struct.unpack_from(">i", data, 8 + len(name))[0] == self.seqid, "the reply must echo the seqid"
        return decode_reply(name, data)

    async def call(self, name: str, req: Any) -> Any:
        await self.send(name, req)
        return await asyncio.wait_for(self.receive(name), 5)

    async def open_session(self, user: str = "alice", **conf: str) -> Any:
        resp = await self.call("OpenSession", ttypes.TOpenSessionReq(client_protocol=5, username=user,
                                                                      configuration=conf or None))  # fmt: skip
        assert resp.status.statusCode == 0, resp.status
        return resp.sessionHandle

    async def execute(self, session: Any, statement: str, run_async: bool = False) -> Any:
        req = ttypes.TExecuteStatementReq(sessionHandle=session, statement=statement, runAsync=run_async)
        return await self.call("ExecuteStatement", req)

    async def status(self, op: Any) -> Any:
        return await self.call("GetOperationStatus", ttypes.TGetOperationStatusReq(op))

    async def fetch(self, op: Any, log: bool = False, orientation: int = 0) -> Any:
        req = ttypes.TFetchResultsReq(op, orientation, 100, 1 if log else 0)
        return await self.call("FetchResults", req)

    def close(self) -> None:
        self.writer.close()


class FastGateway:
    def __init__(self, ctx: GatewayContext, server: ThriftServer, fake: FakeEngine) -> None:
        self.ctx, self.server, self.fake = ctx, server, fake

    @property
    def port(self) -> int:
        return self.server.address[1]

    async def client(self, user: str = "alice", **kw: Any) -> Client:
        return await Client.connect(self.port, user, **kw)


def config(**server: Any) -> Config:
    return Config(
        server=ServerConfig(host="127.0.0.1", thrift_port=0, http_port=0, teardown_timeout_s=1.0, **server),
        engines=(EngineConfig(name="fake", kind="local", protocol="sts", address="127.0.0.1:1"),),
    )


async def start_gateway(fake: FakeEngine, engine: Engine = ENGINE, **server: Any) -> FastGateway:
    ctx = GatewayContext(config(**server), one_engine(engine), connect_engine=fake.connector)
    thrift = ThriftServer(ctx)
    await thrift.start("127.0.0.1", 0)
    return FastGateway(ctx, thrift, fake)


@pytest.fixture
def fake() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
async def gateway(fake: FakeEngine) -> AsyncIterator[FastGateway]:
    gw = await start_gateway(fake)
    yield gw
    await gw.server.stop(0)


async def eventually(check: Any, within_s: float = 2.0) -> None:
    """Wait until `check()` is true: teardown runs on the gateway's side of the socket."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not check():
        assert loop.time() < deadline, "the gateway did not get there in time"
        await asyncio.sleep(0.005)
