"""LDAP end to end: pyhive logs in against a real slapd, and LDAP groups grant what policy says."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyhive import exc, hive
from thrift.transport.TTransport import TTransportException

from adhoc.config import AuthConfig, LdapConfig, PolicyConfig
from tests.gateway_harness import GatewayThread, gateway_config
from tests.ldap_server import BASE, RunningLdap
from tests.sts import RunningSTS


@pytest.fixture(scope="module")
def ldap_gateway(
    sts: RunningSTS, ldap_server: RunningLdap, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayThread]:
    policy = Path(tmp_path_factory.mktemp("ldap")) / "policy.toml"
    policy.write_text('[[rules]]\nprincipals = ["group:analysts"]\nread = ["default.*"]\n')
    ldap = LdapConfig(url=ldap_server.url, user_dn_template=f"uid={{user}},ou=people,{BASE}",
                      group_search_base=f"ou=groups,{BASE}", group_filter="(member={dn})")  # fmt: skip
    config = dataclasses.replace(
        gateway_config(sts.address), auth=AuthConfig(method="ldap", ldap=ldap), policy=PolicyConfig(file=str(policy))
    )
    gw = GatewayThread(config)
    yield gw
    gw.stop()


def test_ldap_login_and_group_grants(ldap_gateway: GatewayThread) -> None:
    gw = ldap_gateway
    with hive.connect(gw.host, port=gw.port, username="alice", password="alice-pw", auth="LDAP") as conn:
        cur = conn.cursor()
        cur.execute("SELECT current_user()")  # alice is in analysts: default.* and no table is fine
        assert cur.fetchall() == [("alice",)]
    # carol is a real directory user, but only in admins: the policy gives her nothing
    with pytest.raises(exc.OperationalError, match="grants anything to carol"):
        hive.connect(gw.host, port=gw.port, username="carol", password="carol-pw", auth="LDAP")
    with pytest.raises(TTransportException, match="authentication failed for user 'alice'"):
        hive.connect(gw.host, port=gw.port, username="alice", password="nope", auth="LDAP")
