"""`adhoc policy check`: how operators test a policy before rolling it out."""

from __future__ import annotations

import sys
from typing import TextIO

from adhoc.auth import Principal
from adhoc.authz import SessionState
from adhoc.authz.analyzer import split_statements
from adhoc.authz.authorizer import PolicyAuthorizer
from adhoc.authz.policy import load_policy
from adhoc.authz.token_checks import Limits
from adhoc.config import load_config
from adhoc.errors import ConfigError


def policy_check(
    config_path: str | None,
    user: str,
    sql: str | None,
    file: str | None,
    out: TextIO | None = None,
    groups: tuple[str, ...] = (),
) -> int:
    """Print ALLOW or DENY: <reason> per statement, in order; 0 all allowed, 1 any denied, 2 bad input."""
    out = out or sys.stdout
    config = load_config(config_path)
    if file is not None:
        try:
            with open(file, encoding="utf-8") as f:
                sql = f.read()
        except OSError as e:
            raise ConfigError(f"cannot read the SQL file: {e.strerror}", file=file) from None
    if not config.policy.file:
        # What `adhoc serve` does with this config: every authenticated user may run anything.
        print("adhoc: no [policy] file configured: every authenticated user may run any statement", file=sys.stderr)
        for _ in split_statements(sql or ""):
            print("ALLOW", file=out)
        return 0
    policy = load_policy(config.resolve(config.policy.file), [e.name for e in config.effective_engines()])
    limits = Limits(config.policy.max_statement_tokens, config.policy.max_statement_depth)
    authorizer = PolicyAuthorizer(policy, config.policy.max_statement_bytes, limits)
    principal = Principal(user, frozenset(groups))
    state = SessionState()
    denied = False
    for statement in split_statements(sql or ""):
        decision = authorizer.check_statement(principal, statement, state)
        if decision.allowed:
            print("ALLOW", file=out)
            if decision.change is not None:  # as if the engine ran it: later statements resolve after it
                decision.change.apply(state)
        else:
            denied = True
            print(f"DENY: {decision.reason}", file=out)
    return 1 if denied else 0
