"""`adhoc-sql`: the terminal SQL client (interactive), or a script runner with -e/-f/stdin."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from tui.adapter import ConnectError, Connection, LoginRefused
from tui.profiles import Profile, ProfileError, load_profile
from tui.queue_watch import Background, QueueWatch


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="adhoc-sql", description="SQL client for adhoc and any HiveServer2 endpoint")
    p.add_argument("--profile", help="a [profiles.NAME] from ~/.config/adhoc/profiles.toml")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--user")
    p.add_argument("--password-env", help="name of the environment variable holding the password")
    p.add_argument("--http-url", help="the gateway's HTTP base URL (links, sessions API)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("-e", dest="sql", help="run these statements and print the results")
    source.add_argument("-f", dest="file", help="run the statements in this file")
    p.add_argument("--format", choices=["table", "csv", "tsv", "json"], default="table")
    p.add_argument("--ask-password", action="store_true", help="prompt for a password")
    return p


def _password(args: argparse.Namespace, profile: Profile, user: str, host: str) -> str | None:
    var = args.password_env or profile.password_env
    if var:
        if var not in os.environ:
            raise ConnectError(f"the password variable {var} is not set")
        return os.environ[var]
    try:
        import keyring  # optional: used when installed

        stored = keyring.get_password(f"adhoc:{host}", user)
        if stored:
            return str(stored)
    except Exception:  # no keyring, or no backend
        pass
    if args.ask_password:
        return _prompt(f"Password for {user}@{host}: ")
    return None


def password_hint(host: str, user: str) -> str:
    """What to do when the server wants a password and none was given."""
    return (
        "adhoc-sql: this server wants a password; give one with\n"
        "  --password-env VAR      the name of an environment variable holding it\n"
        '  password_env = "VAR"    the same, in a [profiles.NAME] of ~/.config/adhoc/profiles.toml\n'
        "  --ask-password          a prompt (interactive sessions prompt on their own)\n"
        f'  the system keyring      service "adhoc:{host}", user "{user}" (pip install keyring)'
    )


def connect(
    host: str, port: int, user: str, password: str | None, ask: Callable[[str], str] | None = None
) -> Connection:
    """Open the connection; when the server refuses a login made without a password and `ask` is
    given (an interactive terminal), ask for the password once and try again, as beeline does."""
    from tui.hs2 import HS2Connection

    try:
        return HS2Connection(host, port, user, password)
    except LoginRefused:
        if ask is None or password is not None:
            raise
    return HS2Connection(host, port, user, ask(f"Password for {user}@{host}: "))


WAIT_SHOWN_AFTER_S = 1.0  # an OpenSession slower than this is waiting in the gateway's queue


def wait_for_admission(open_connection: Callable[[], Connection], *, headless: bool, watch: QueueWatch | None,
                       err: TextIO = sys.stderr) -> Connection | None:  # fmt: skip
    """Open the connection; if the gateway holds it in its queue, say so (headless: one line when the
    wait starts, one when admitted; interactive: a screen with position, wait and reason, refreshed,
    where Esc gives up). None: the user gave up."""
    connecting = Background(open_connection)
    if not connecting.wait(WAIT_SHOWN_AFTER_S):
        if headless:
            place = watch.place() if watch is not None else None
            print(f"adhoc-sql: {place.describe() if place else 'waiting for the gateway to admit the session'}",
                  file=err)  # fmt: skip
            connecting.wait(None)
            if connecting.error is None:
                print(f"adhoc-sql: admitted after {time.monotonic() - connecting.started:.0f} s", file=err)
        else:
            from tui.screens.waiting import WaitingApp

            if not WaitingApp(connecting, watch).run():
                return None
            connecting.wait(None)
    if connecting.error is not None:
        raise connecting.error
    assert isinstance(connecting.result, Connection)
    return connecting.result


def _prompt(text: str) -> str:
    return getpass.getpass(text)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        profile = load_profile(args.profile) if args.profile else Profile()
    except ProfileError as e:
        print(f"adhoc-sql: {e}", file=sys.stderr)
        return 2
    host = args.host or profile.host
    port = args.port or profile.port
    user = args.user or profile.user or os.environ.get("USER") or "anonymous"
    http_url = args.http_url or profile.http_url
    headless = args.sql is not None or args.file is not None or not sys.stdin.isatty()
    try:
        password = _password(args, profile, user, host)
        sql = None
        if headless:
            if args.file:
                with open(args.file, encoding="utf-8") as f:
                    sql = f.read()
            else:
                sql = args.sql if args.sql is not None else sys.stdin.read()
        can_prompt = not headless and password is None and sys.stdin.isatty()
        watch_url = http_url or f"http://{host}:10099"  # the gateway's HTTP port, unless told otherwise

        def attempt(secret: str | None) -> Connection | None:
            return wait_for_admission(lambda: connect(host, port, user, secret), headless=headless,
                                      watch=QueueWatch(watch_url, user, secret))  # fmt: skip

        try:
            conn = attempt(password)
        except LoginRefused:  # asked here, not while a wait screen could hold the terminal
            if not can_prompt:
                raise
            conn = attempt(_prompt(f"Password for {user}@{host}: "))
        if conn is None:
            print("adhoc-sql: gave up waiting; the session left the gateway's queue", file=sys.stderr)
            return 2
    except LoginRefused as e:
        print(f"adhoc-sql: {e}", file=sys.stderr)
        if password is None:
            print(password_hint(host, user), file=sys.stderr)
        return 2
    except (ConnectError, OSError) as e:
        print(f"adhoc-sql: {e}", file=sys.stderr)
        return 2
    if headless:
        from tui.headless import run_statements

        try:
            return run_statements(conn, sql or "", args.format)
        finally:
            conn.close()
    from tui.app import AdhocSqlApp

    AdhocSqlApp(conn, http_url=http_url).run()
    conn.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
