"""Every failure a user of adhoc can see, as one tree.

    AdhocError                      sqlState HY000, error code 50000
    ├── ConfigError                 a config or policy file is wrong (exit 2; never on the wire)
    │   └── StartupConflict         a port or the data dir is taken by another process (exit 2)
    ├── ProtocolError               the peer sent bytes we cannot frame or decode; costs that connection
    │   └── FrameTooLarge           a frame above the configured limit
    ├── AuthenticationError         wrong user or password (fails the SASL handshake)
    ├── PermissionDenied            sqlState 42000: policy refused a statement, call or route
    ├── UnknownHandle               a session/operation handle this connection did not create
    ├── EngineError                 sqlState 08S01: an engine cannot be reached or went away
    │   └── EngineUnavailable       no engine can take a new session right now
    ├── UnsupportedCall             a call the gateway refuses on purpose (delegation tokens, ...)
    └── RefusedRequest              HTTP 400: a UI-proxy path or header reaching past the session's engine

Each class knows how it travels on the wire: the HS2 TStatus code, sqlState and error code a
synthesised reply carries. The gateway turns any AdhocError raised while handling a call into an
error reply for that call, so a bad request costs the client one statement, never the gateway.
"""

from __future__ import annotations

# TStatusCode values (TCLIService.thrift)
SUCCESS_STATUS = 0
ERROR_STATUS = 3
INVALID_HANDLE_STATUS = 4


class AdhocError(Exception):
    status_code = ERROR_STATUS
    sql_state = "HY000"
    error_code = 50000

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(AdhocError):
    """A configuration problem, always naming the file and the key."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.key = key


class StartupConflict(ConfigError):
    """`adhoc serve` cannot have what it was asked for: another process holds it."""


class ProtocolError(AdhocError):
    sql_state = "08S01"
    error_code = 50001


class FrameTooLarge(ProtocolError):
    pass


class AuthenticationError(AdhocError):
    sql_state = "28000"
    error_code = 50002


class PermissionDenied(AdhocError):
    """Its message says "permission denied: " once, whoever wrote the reason (policy reasons
    already start with it): beeline shows `Error: permission denied: ...`."""

    sql_state = "42000"
    error_code = 50003
    PREFIX = "permission denied: "

    def __init__(self, message: str) -> None:
        super().__init__(message if message.lower().startswith(self.PREFIX) else self.PREFIX + message)


class UnknownHandle(AdhocError):
    # ERROR_STATUS, not INVALID_HANDLE_STATUS: every client treats it as a plain failure.
    sql_state = "HY000"
    error_code = 50004


class EngineError(AdhocError):
    sql_state = "08S01"
    error_code = 50005


class EngineUnavailable(EngineError):
    error_code = 50006


class UnsupportedCall(AdhocError):
    sql_state = "HYC00"
    error_code = 50007


class RefusedRequest(AdhocError):
    """An HTTP request the gateway will not pass on (HTTP 400): a UI-proxy path or header that
    tries to reach something other than the session's own engine."""

    error_code = 50008
