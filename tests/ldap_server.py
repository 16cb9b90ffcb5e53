"""A throwaway OpenLDAP server (Debian's slapd) on a loopback port, with a few users and groups."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

import ldap3

BASE = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "admin-secret"
SERVICE_DN = f"cn=adhoc-svc,ou=services,{BASE}"
SERVICE_PASSWORD = "svc-secret"
USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
GROUPS = {"analysts": ["alice", "bob"], "admins": ["carol"]}

SLAPD_CONF = """
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
database mdb
maxsize 33554432
suffix "{base}"
rootdn "{admin}"
rootpw {admin_pw}
directory {dir}/db
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningLdap:
    url: str
    process: subprocess.Popen[bytes]
    workdir: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def user_dn(name: str) -> str:
    return f"uid={name},ou=people,{BASE}"


def start_ldap(slapd: str) -> RunningLdap:
    workdir = tempfile.mkdtemp(prefix="adhoc-test-ldap-")
    os.makedirs(f"{workdir}/db")
    with open(f"{workdir}/slapd.conf", "w") as f:
        f.write(SLAPD_CONF.format(dir=workdir, base=BASE, admin=ADMIN_DN, admin_pw=ADMIN_PASSWORD))
    port = _free_port()
    url = f"ldap://127.0.0.1:{port}"
    process = subprocess.Popen(
        [slapd, "-d", "0", "-f", f"{workdir}/slapd.conf", "-h", f"{url}/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = RunningLdap(url, process, workdir)
    deadline = time.monotonic() + 15
    while True:
        try:
            conn = ldap3.Connection(ldap3.Server(url, connect_timeout=1), ADMIN_DN, ADMIN_PASSWORD, auto_bind=True)
            break
        except ldap3.core.exceptions.LDAPException:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("slapd did not start") from None
            time.sleep(0.1)
    _populate(conn)
    conn.unbind()
    return server


def _populate(conn: ldap3.Connection) -> None:
    conn.add(BASE, ["dcObject", "organization"], {"o": "Example", "dc": "example"})
    for ou in ("people", "groups", "services"):
        conn.add(f"ou={ou},{BASE}", ["organizationalUnit"], {"ou": ou})
    for name, password in USERS.items():
        conn.add(user_dn(name), ["inetOrgPerson"], {"cn": name, "sn": name, "uid": name, "userPassword": password})
    conn.add(
        SERVICE_DN,
        ["applicationProcess", "simpleSecurityObject"],
        {"cn": "adhoc-svc", "userPassword": SERVICE_PASSWORD},
    )
    for group, members in GROUPS.items():
        conn.add(
            f"cn={group},ou=groups,{BASE}", ["groupOfNames"], {"cn": group, "member": [user_dn(m) for m in members]}
        )
    assert conn.result["result"] == 0, conn.result
