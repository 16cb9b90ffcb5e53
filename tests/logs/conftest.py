from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.logs.s3 import S3Server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server: S3Server) -> Iterator[S3Server]:
    """The shared moto server, running, with a fresh bucket in `s3.bucket`."""
    if s3_server._server is None:
        s3_server.start()
    bucket = f"logs-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=bucket)
    s3_server.bucket = bucket  # type: ignore[attr-defined]
    yield s3_server
    if s3_server._server is None:
        s3_server.start()
