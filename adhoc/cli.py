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
    overrides = {
        k: v
        for k, v in (
            ("host", args.host),
            ("thrift_port", args.thrift_port),
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
    from adhoc.routing import FirstReachable

    config: Config = load_config(args.config)
    authorizer = build_authorizer(config)
    principal = Principal(args.user)
    configs = {e.name: e for e in config.effective_engines()}
    engines = [Engine.from_config(e) if not e.embedded else Engine(e.name, "local", "sts", "127.0.0.1", 0)
               for e in configs.values()]  # fmt: skip
    router = FirstReachable(engines, probe_ttl_s=0)

    # A user the policy does not let open a session gets no route, whatever the engines say.
    session = authorizer.check_session(principal, 0, args.route)

    async def explain() -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        chosen: Engine | None = None
        for engine in router.candidates(args.route):
            if not authorizer.allows_engine(principal, engine.name, engine.kind):
                available, reason = False, f"policy routes do not allow {args.user} on it"
            elif configs[engine.name].embedded:
                available, reason = True, "the embedded engine, started by adhoc serve"
            else:
                probe = await router.probe(engine)
                available, reason = probe.available, probe.reason
            rows.append({"name": engine.name, "kind": engine.kind, "available": available, "reason": reason,
                         "address": "" if configs[engine.name].embedded else engine.address})  # fmt: skip
            if available and chosen is None and session.allowed:
                chosen = engine
        if not session.allowed:
            reason = f"no session: {session.reason}"
        elif chosen:
            reason = f"first available engine {chosen.name}"
        else:
            reason = "no engine is available: a session would wait"
        return {"engine": chosen.name if chosen else None, "kind": chosen.kind if chosen else None,
                "reason": reason, "engines": rows}  # fmt: skip

    result = asyncio.run(explain())
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        engine = result["engine"] or ("(queue)" if session.allowed else "(refused)")
        print(f"route for {args.user}: {engine} — {result['reason']}")
        for row in result["engines"]:
            print(f"  {row['name']:<20} {row['kind']:<6} {'available' if row['available'] else 'unavailable'}: "
                  f"{row['reason']}")  # fmt: skip
    return 0 if result["engine"] else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
