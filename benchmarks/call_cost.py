"""What one call costs the gateway, against the instant-reply fake engine (benchmarks/fake_engine.py).

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


def answered_status_cpu_us(port: int, pid: int, n: int, rounds: int = 3) -> float:
    """The gateway's CPU per answered status call, best of `rounds` (us)."""
    client = RpcClient(port)
    client.time_us("GetOperationStatus", 1000)  # the first goes to the engine; warm up
    best = float("inf")
    for _ in range(rounds):
        before = cpu_seconds(pid)
        client.time_us("GetOperationStatus", n)
        best = min(best, (cpu_seconds(pid) - before) / n * 1e6)
    client.client.close()
    return best


class _FixedReply(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport  # uvloop's transports are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        self.transport.write(b"\x00\x00\x00\x04done")


async def _floor_server(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_FixedReply, "127.0.0.1", port)
    print("ready", flush=True)
    await server.serve_forever()


def io_floor_cpu_us(frame: bytes, n: int, rounds: int = 3) -> float:
    """CPU per call of a server that does nothing but answer each read (us), best of `rounds`."""
    port = free_port()
    with process([sys.executable, "-m", "benchmarks.call_cost", str(port)], "ready") as proc:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        best = float("inf")
        for i in range(rounds + 1):
            before = cpu_seconds(proc.pid)
            for _ in range(n):
                sock.sendall(frame)
                recv_exact(sock, 8)
            if i:  # the first round warms up
                best = min(best, (cpu_seconds(proc.pid) - before) / n * 1e6)
        sock.close()
        return best


if __name__ == "__main__":
    import uvloop

    uvloop.run(_floor_server(int(sys.argv[1])))
