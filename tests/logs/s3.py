"""A real S3 API on loopback (moto's server) that a test can stop and start again on the same port.

moto keeps its buckets in the process, so a restarted server still has what was stored: a stop is
an outage, not a loss.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from moto.server import ThreadedMotoServer

CREDENTIALS = {"key": "testing", "secret": "testing"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class S3Server:
    port: int = field(default_factory=free_port)
    _server: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def options(self) -> dict[str, str]:
        return {"endpoint_url": self.endpoint, **CREDENTIALS}

    def start(self) -> None:
        # moto's own start() waits forever when the port cannot be bound (its thread just dies), and
        # its stop() leaves the listening socket open: bind here with a deadline, close on stop.
        for _ in range(100):
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            thread = threading.Thread(target=server._server_entry, daemon=True)
            server._thread = thread
            thread.start()
            if server._server_ready_event.wait(2):
                self._server = server
                return
            time.sleep(0.1)
        raise RuntimeError(f"moto could not listen on {self.port} again")

    def stop(self) -> None:
        if self._server is not None:
            wsgi = self._server._server
            self._server.stop()
            if wsgi is not None:
                wsgi.server_close()  # free the port for the next start
            self._server = None

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

    def objects(self, bucket: str) -> dict[str, bytes]:
        client = self.client()
        out = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        return out


class ThrottledProxy:
    """A TCP proxy in front of a server that passes client→server bytes at `bytes_per_s`: an upload
    through it takes long enough for a test to look at the store, or kill the uploader, mid-way."""

    def __init__(self, target_port: int, bytes_per_s: float) -> None:
        self.target_port = target_port
        self.bytes_per_s = bytes_per_s
        self.upstream_bytes = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, throttled: bool) -> None:
        try:
            while data := source.recv(16384):
                if throttled:
                    self.upstream_bytes += len(data)
                    time.sleep(len(data) / self.bytes_per_s)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        self._listener.close()
