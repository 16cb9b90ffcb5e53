"""The authorizer and audit sink a config asks for."""

from __future__ import annotations

from adhoc.authz import AllowAll, Authorizer
from adhoc.authz.authorizer import ReloadingAuthorizer
from adhoc.authz.token_checks import Limits
from adhoc.config import Config


def build_authorizer(config: Config) -> Authorizer:
    if not config.policy.file:
        return AllowAll()
    engines = [e.name for e in config.effective_engines()]
    return ReloadingAuthorizer(
        config.resolve(config.policy.file), engines, config.policy.reload_interval_s,
        max_statement_bytes=config.policy.max_statement_bytes,
        limits=Limits(config.policy.max_statement_tokens, config.policy.max_statement_depth),
    )  # fmt: skip
