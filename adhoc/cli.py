"""The `adhoc` command: serve, policy check, route explain, passwd."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from adhoc.config import Config, load_config
from adhoc.errors import AdhocError, ConfigError, StartupConflict


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adhoc", description="Gateway for ad hoc SparkSQL over HiveServer2")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the gateway",
        description="Run the gateway until SIGTERM/SIGINT (which drain running statements, then stop). "
        "With no config it starts an embedded local Spark Thrift Server as its only engine, auth none. "
        "Prints `adhoc ready thrift=HOST:PORT http=URL` on stdout once clients can connect; "
        "progress and logs go to stderr.",
    )
    serve.add_argument("--config", metavar="FILE", help="adhoc.toml (default: built-in defaults, embedded engine)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; [server] host)")
    serve.add_argument("--thrift-port", type=int, metavar="N", help="HiveServer2 Thrift port (default 10009)")
    serve.add_argument("--thrift-http-port", type=int, metavar="N",
                       help="HiveServer2 Thrift-over-HTTP port (default 10001; 0 = off)")  # fmt: skip
    serve.add_argument("--http-port", type=int, metavar="N", help="HTTP port: health, metrics, API (default 10099)")
    serve.add_argument(
        "--data-dir", metavar="DIR",
        help="the embedded engine's warehouse, metastore and log; one adhoc per dir "
        "(default $XDG_DATA_HOME/adhoc or ~/.local/share/adhoc; [server] data_dir)",
    )  # fmt: skip
    serve.add_argument(
        "--log-level", default="INFO", type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="stderr log level (default INFO)",
    )  # fmt: skip

    policy = sub.add_parser("policy", help="test a policy before rolling it out")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_sub.add_parser("check", help="print ALLOW or DENY: <reason> per statement")
    check.add_argument("--config", metavar="FILE", help="adhoc.toml (default: built-in defaults, as serve uses)")
    check.add_argument("--user", required=True)
    source = check.add_mutually_exclusive_group(required=True)
    source.add_argument("--sql")
    source.add_argument("--file")

    route = sub.add_parser("route", help="routing tools")
    route_sub = route.add_subparsers(dest="route_command", required=True)
    explain = route_sub.add_parser("explain", help="probe engines and show the route a new session would get")
    explain.add_argument("--config", metavar="FILE", help="adhoc.toml (default: built-in defaults, as serve uses)")
    explain.add_argument("--user", required=True)
    explain.add_argument("--route", help="a requested route (adhoc.route)")
    explain.add_argument("--json", action="store_true")

    passwd = sub.add_parser("passwd", help="set a user's password (read from stdin) in a users file")
    passwd.add_argument("--users", required=True)
    passwd.add_argument("user")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "policy":
            from adhoc.authz.cli import policy_check

            return int(policy_check(args.config, args.user, args.sql, args.file))
        if args.command == "route":
            return _route_explain(args)
        from adhoc.auth.passwd import passwd_main

        return int(passwd_main(args.users, args.user))
    except StartupConflict as e:
        print(f"adhoc: {e.message}", file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"adhoc: config error: {e.message}", file=sys.stderr)
        return 2
    except AdhocError as e:
        print(f"adhoc: {e.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace) -> int:
    from adhoc.logfmt import setup_logging
    from adhoc.serve import serve

    setup_logging(args.log_level)
    config = load_config(args.config)
    if config.server.log_format != "text":
        setup_logging(args.log_level, config.server.log_format)
    overrides = {
        k: v
        for k, v in (
            ("host", args.host),
            ("thrift_port", args.thrift_port),
            ("thrift_http_port", args.thrift_http_port),
            ("http_port", args.http_port),
            ("data_dir", os.path.abspath(args.data_dir) if args.data_dir else None),
        )
        if v is not None
    }
    if overrides:
        config = dataclasses.replace(config, server=dataclasses.replace(config.server, **overrides))
    return run_event_loop(serve(config, progress=_progress))


def _progress(line: str) -> None:
    """Start-up progress for the person watching the terminal (stdout is kept for the ready line)."""
    print(f"adhoc: {line}", file=sys.stderr, flush=True)


def run_event_loop(main: Coroutine[Any, Any, int]) -> int:
    """uvloop when it is installed (about half asyncio's per-call overhead), asyncio otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return int(uvloop.run(main))


def _route_explain(args: argparse.Namespace) -> int:
    from adhoc.auth import Principal
    from adhoc.authz.build import build_authorizer
    from adhoc.engines import Engine
    from adhoc.routing import build_router

    config: Config = load_config(args.config)
    authorizer = build_authorizer(config)
    principal = Principal(args.user)
    engines = [Engine.from_config(e) if not e.embedded else Engine(e.name, "local", "sts", "127.0.0.1", 0)
               for e in config.effective_engines()]  # fmt: skip

    async def explain() -> Any:
        # The gateway's own router, so the answer is the decision OpenSession would make now; a
        # one-shot process probes each engine once (a long TTL keeps it from probing twice).
        router = build_router(config, engines, limits=authorizer.group_limits, probe_ttl_s=3600)
        try:
            session = authorizer.check_session(principal, 0, args.route)
            if not session.allowed:  # a user the policy gives no session gets no route
                explanation = await router.explain(principal, args.route, lambda e: False)
                return dataclasses.replace(explanation, engine=None, reason=f"no session: {session.reason}",
                                           refused=True)  # fmt: skip
            return await router.explain(
                principal, args.route, lambda e: authorizer.allows_engine(principal, e.name, e.kind)
            )
        finally:
            await router.close()

    explanation = asyncio.run(explain())
    if args.json:
        print(json.dumps(explanation.to_json(), indent=2))
    else:
        print(explanation.to_text(args.user))
    return 0 if explanation.engine is not None else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
