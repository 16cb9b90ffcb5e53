from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.k8s_api import FakeKubeApi
from tests.logs.s3 import S3Server

NS = "spark"


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


@pytest.fixture
def bookmark_interval_s() -> float | None:
    """Override in a module to have the fake API send watch bookmarks this often."""
    return None


@pytest.fixture
def kube(tmp_path: Path, bookmark_interval_s: float | None) -> Iterator[tuple[FakeKubeApi, str]]:
    """A fake K8s API server on loopback and a kubeconfig pointing the real client at it."""
    with FakeKubeApi() as api:
        assert isinstance(api, FakeKubeApi)
        if bookmark_interval_s is not None:
            api.watches.bookmark_interval_s = bookmark_interval_s
        yield api, str(api.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS))
