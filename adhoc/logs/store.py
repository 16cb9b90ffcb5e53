"""Where ended pods' logs are kept: any fsspec filesystem, rooted at `[logs] store`.

    store = LogStore("s3://logs/adhoc", {"endpoint_url": "https://oss-cn-hangzhou.aliyuncs.com"})
    await store.put("/spool/uid.log", "2026/12/03/<session>/<pod>.log")   # whole, then verified
    await store.size("2026/12/03/<session>/<pod>.log")                    # None when absent

No partial object is ever visible at a key: object stores (s3, oss, gcs, ...) make an upload visible
only when it completes (a single PUT, or a multipart upload's final step), and on filesystems the
file is written under a hidden temporary name in the same directory and renamed into place.
fsspec's calls are synchronous here, so they run on the store's own threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from adhoc.errors import LogStoreError
from adhoc.logs.source import CHUNK, ThreadStream

T = TypeVar("T")
PART_BYTES = 5 * 2**20  # S3's smallest multipart part
# Uploads to these become visible whole or not at all; anything else goes through a rename.
ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "oss", "gs", "gcs", "abfs", "az"})
# Without these an unreachable S3/OSS endpoint would hold each attempt for minutes: the collector
# has its own back-off, so each call fails fast and is retried later.
_S3_DEFAULTS: dict[str, Any] = {
    "config_kwargs": {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 2}},
}


def storage_options(protocol: str, options: Mapping[str, str]) -> dict[str, Any]:
    """The configured `[logs.storage_options]`, with TOML booleans back as booleans and safe defaults."""
    out: dict[str, Any] = dict(_S3_DEFAULTS) if protocol in ("s3", "s3a") else {}
    for key, value in options.items():
        out[key] = {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value
    return out


class LogStore:
    def __init__(self, url: str, options: Mapping[str, str] | None = None, *, threads: int = 8) -> None:
        import fsspec.core

        protocol = url.split("://", 1)[0] if "://" in url else "file"
        self.url = url.rstrip("/")
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **storage_options(protocol, options or {}))
        except (ImportError, ValueError) as e:
            raise LogStoreError(f"log store {url}: {e}") from None
        self.root = root.rstrip("/")
        self.atomic_put = any(p in ATOMIC_PUT_PROTOCOLS for p in _protocols(self.fs))
        self.s3 = any(p in ("s3", "s3a") for p in _protocols(self.fs))
        self._large = threading.Semaphore(2)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="adhoc-store")

    def path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def display(self, key: str) -> str:
        return f"{self.url}/{key}"

    async def _call(self, what: str, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except LogStoreError:
            raise
        except Exception as e:
            raise LogStoreError(f"log store {self.url}: {what}: {type(e).__name__}: {e}") from None

    async def size(self, key: str) -> int | None:
        """The stored object's size, None when there is none."""
        path = self.path(key)

        def call() -> int | None:
            self.fs.invalidate_cache(path)
            try:
                info = self.fs.info(path)
            except FileNotFoundError:
                return None
            return int(info.get("size") or 0) if info.get("type", "file") == "file" else None

        return await self._call(f"checking {key}", call)

    async def put(self, local_path: str, key: str) -> None:
        """Upload a local file to `key` so that the key shows all of it or nothing, then verify its size."""
        path = self.path(key)
        expected = os.path.getsize(local_path)

        def call() -> None:
            if self.s3:
                # s3fs reads a whole part (or a whole small file) into memory: small parts, one at a
                # time, and only two large uploads at once keep a 50 MB log from costing 100 MB.
                with self._large if expected > PART_BYTES else contextlib.nullcontext():
                    self.fs.put_file(local_path, path, chunksize=PART_BYTES, max_concurrency=1)
                return
            if self.atomic_put:
                self.fs.put_file(local_path, path)
                return
            parent, name = path.rsplit("/", 1)
            self.fs.makedirs(parent, exist_ok=True)
            temporary = f"{parent}/.{name}.{uuid.uuid4().hex}.partial"
            try:
                self.fs.put_file(local_path, temporary)
                self.fs.mv(temporary, path)
            except BaseException:
                try:
                    self.fs.rm_file(temporary)
                except Exception:
                    pass
                raise

        await self._call(f"storing {key}", call)
        stored = await self.size(key)
        if stored != expected:
            raise LogStoreError(f"log store {self.url}: {key} holds {stored} bytes after storing {expected}")

    async def list_logs(self, prefix: str) -> dict[str, int]:
        """`<name>.log` → size directly under `prefix` (a session's directory); {} when there is none."""
        path = self.path(prefix.strip("/"))

        def call() -> dict[str, int]:
            self.fs.invalidate_cache(path)
            try:
                entries = self.fs.ls(path, detail=True)
            except FileNotFoundError:
                return {}
            out = {}
            for entry in entries:
                name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
                if entry.get("type") == "file" and name.endswith(".log") and not name.startswith("."):
                    out[name] = int(entry.get("size") or 0)
            return out

        return await self._call(f"listing {prefix}", call)

    async def read(self, key: str) -> AsyncGenerator[bytes, None]:
        """The stored object in chunks; LogStoreError when it cannot be read."""
        path = self.path(key)

        def produce(stream: ThreadStream) -> Iterator[bytes]:
            try:
                f = self.fs.open(path, "rb")
            except Exception as e:
                raise LogStoreError(f"log store {self.url}: reading {key}: {type(e).__name__}: {e}") from None
            stream.on_close = f.close
            while not stream.closed and (chunk := f.read(CHUNK)):
                yield chunk

        async for chunk in ThreadStream(produce):
            yield chunk

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
