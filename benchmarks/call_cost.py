"""What one call costs the gateway, against the instant-reply fake engine (benchmarks/fake_engine.py).

- The gateway's own work per answered status call: the same bytes handed to a real connection's
  `data_received` N times in this process, the answer written to a transport that drops it.
- CPU per answered status call: the gateway process's CPU time (/proc/PID/stat) over N
  GetOperationStatus calls on an ended operation, one at a time as Hive JDBC makes them. Beside
  it the machine's floor for the same exchange: a bare uvloop Protocol answering each read with
  a fixed frame, measured the same way (the kernel's loopback send and receive are most of it).
- Per-RPC latency through the gateway vs a plain TCP byte relay (benchmarks/tcp_relay.py), timed
  in alternating blocks so drift on a shared machine hits both alike.

CPU time is what load does not inflate much; wall-clock figures on a busy machine are upper bounds.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import time
from typing import Any

from TCLIService import ttypes

from benchmarks.processes import cpu_seconds, process
from tests.hs2_raw import RawClient, encode_call, recv_exact
from tests.sts import free_port


class RpcClient:
    """A raw HS2 client with one session and one operation, timing single calls."""

    def __init__(self, port: int) -> None:
        self.client = RawClient("127.0.0.1", port)
        self.client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.sasl_login("bench")
        session = self.client.open_session("bench").sessionHandle
        execute = ttypes.TExecuteStatementReq(sessionHandle=session, statement="SELECT 1", runAsync=True)
        op = self.client.call("ExecuteStatement", execute).operationHandle
        self.frames = {
            name: struct.pack(">I", len(m)) + m
            for name, m in (
                ("GetOperationStatus", encode_call("GetOperationStatus", ttypes.TGetOperationStatusReq(op))),
                ("GetResultSetMetadata", encode_call("GetResultSetMetadata", ttypes.TGetResultSetMetadataReq(op))),
                ("ExecuteStatement", encode_call("ExecuteStatement", execute)),
            )
        }

    def time_us(self, name: str, n: int) -> list[float]:
        frame, sock, out = self.frames[name], self.client.sock, []
        for _ in range(n):
            started = time.perf_counter()
            sock.sendall(frame)
            (length,) = struct.unpack(">I", recv_exact(sock, 4))
            recv_exact(sock, length)
            out.append((time.perf_counter() - started) * 1e6)
        return out


def rpc_compare(relay_port: int, gateway_port: int, n: int) -> dict[str, tuple[list[float], list[float]]]:
    """Relay and gateway timed in alternating blocks, so drift on a shared machine hits both alike."""
    relay, through = RpcClient(relay_port), RpcClient(gateway_port)
    out: dict[str, tuple[list[float], list[float]]] = {}
    for name in relay.frames:
        relay.time_us(name, 200), through.time_us(name, 200)  # warm up
        a: list[float] = []
        b: list[float] = []
        for _ in range(10):
            a += relay.time_us(name, n // 10)
            b += through.time_us(name, n // 10)
        out[name] = (a, b)
    return out


def _cpu_per_call_us(pid: int, sock: socket.socket, frame: bytes, n: int) -> float:
    before = cpu_seconds(pid)
    for _ in range(n):
        sock.sendall(frame)
        (length,) = struct.unpack(">I", recv_exact(sock, 4))
        recv_exact(sock, length)
    return (cpu_seconds(pid) - before) / n * 1e6


def answered_status_vs_floor(port: int, pid: int, n: int, rounds: int = 3) -> tuple[float, float]:
    """The gateway's CPU per answered status call and the floor's for the same bytes (us), best of
    `rounds` each, taken in turns so a busy moment on a shared machine hits both."""
    client = RpcClient(port)
    frame = client.frames["GetOperationStatus"]
    client.time_us("GetOperationStatus", 1000)  # the first goes to the engine; warm up
    floor_port = free_port()
    with process([sys.executable, "-m", "benchmarks.call_cost", str(floor_port)], "ready") as floor:
        sock = socket.create_connection(("127.0.0.1", floor_port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _cpu_per_call_us(floor.pid, sock, frame, 1000)
        through, bare = float("inf"), float("inf")
        for _ in range(rounds):
            through = min(through, _cpu_per_call_us(pid, client.client.sock, frame, n))
            bare = min(bare, _cpu_per_call_us(floor.pid, sock, frame, n))
        sock.close()
    client.client.close()
    return through, bare


class _DroppingTransport:
    def write(self, data: bytes) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


async def _answered_status_work_us(n: int) -> float:
    from benchmarks.fake_engine import FakeEngine
    from tests.gateway.fast.conftest import start_gateway

    gw = await start_gateway(FakeEngine())
    try:
        client = await gw.client()
        session = await client.open_session()
        op = (await client.execute(session, "SELECT 1", run_async=True)).operationHandle
        await client.status(op)  # the engine says it finished: from now on answered by the gateway
        await asyncio.sleep(0.05)  # the connection waits for its next call
        (connection,) = gw.server._connections.values()
        protocol, real = connection.client, connection.client.transport
        message = encode_call("GetOperationStatus", ttypes.TGetOperationStatusReq(op, getProgressUpdate=False), 1)
        frame = struct.pack(">I", len(message)) + message
        protocol.transport = _DroppingTransport()
        try:
            started = time.process_time()
            for _ in range(n):
                protocol.data_received(frame)
            took = (time.process_time() - started) / n * 1e6
        finally:
            protocol.transport = real
        assert gw.ctx.metrics.hot.status_answered_here == n, "every call answered in place"
        return took
    finally:
        await gw.server.stop(0)


def answered_status_work_us(n: int) -> float:
    """The gateway's own CPU per answered status call, without the sockets: a real connection's
    `data_received` with a whole status frame, its answer written to a transport that drops it."""
    return asyncio.run(_answered_status_work_us(n))


class _FixedReply(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport  # uvloop's transports are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        self.transport.write(b"\x00\x00\x00\x04done")


async def _floor_server(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_FixedReply, "127.0.0.1", port)
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    uvloop.run(_floor_server(int(sys.argv[1])))
