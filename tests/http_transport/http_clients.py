"""Clients of the HTTP transport's test gateway (tests/http_transport/conftest.py), and its binary port."""

from __future__ import annotations

from pyhive import hive

from tests.gateway_harness import GatewayThread


def http_port(gw: GatewayThread) -> int:
    return int(gw.gateway.thrift_http_url.rsplit(":", 1)[1].split("/", 1)[0])


def connect(gw: GatewayThread, user: str = "alice", password: str = "wonderland", **kw: object) -> hive.Connection:
    return hive.connect("127.0.0.1", port=http_port(gw), scheme="http", username=user, password=password, **kw)


def binary(gw: GatewayThread, user: str = "alice", password: str = "wonderland") -> hive.Connection:
    return hive.connect(gw.host, port=gw.port, username=user, password=password, auth="CUSTOM")


