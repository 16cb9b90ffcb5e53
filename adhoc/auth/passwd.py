"""`adhoc passwd --users FILE USER`: set a user's password hash; the password comes from stdin."""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
import tomllib
from typing import TextIO

from adhoc.auth.passwords import hash_password


def passwd_main(users_file: str, user: str, stdin: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    if stdin.isatty():
        password = getpass.getpass(f"New password for {user}: ")
        if getpass.getpass("Again: ") != password:
            print("adhoc passwd: the passwords do not match", file=stderr)
            return 2
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        print("adhoc passwd: empty password refused", file=stderr)
        return 2
    try:
        with open(users_file, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        data = {}
    except tomllib.TOMLDecodeError as e:
        print(f"adhoc passwd: {users_file}: not valid TOML: {e}", file=stderr)
        return 2
    users = data.setdefault("users", {})
    entry = users.setdefault(user, {})
    entry["password"] = hash_password(password)
    _write_atomically(users_file, _dump(users))
    print(f"adhoc passwd: password set for {user} in {users_file}", file=stderr)
    return 0


def _dump(users: dict[str, dict[str, object]]) -> str:
    lines = ["# adhoc users: written by `adhoc passwd`", ""]
    for name in sorted(users):
        entry = users[name]
        lines.append(f"[users.{_key(name)}]")
        lines.append(f"password = {_str(str(entry.get('password', '')))}")
        groups = entry.get("groups")
        if isinstance(groups, list):
            lines.append("groups = [" + ", ".join(_str(str(g)) for g in groups) + "]")
        lines.append("")
    return "\n".join(lines)


def _str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else _str(name)


def _write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".users-", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
