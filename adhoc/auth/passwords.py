"""Salted, slow password hashes (scrypt) in a self-describing string.

    scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>

The parameters travel with the hash, so they can be raised later without invalidating old entries.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

N, R, P = 2**14, 8, 1  # ~50 ms on one core here, 16 MiB of memory per check
_DKLEN = 32


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=_DKLEN, maxmem=64 * 1024 * 1024)
    return "$".join(["scrypt", str(n), str(r), str(p), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected), maxmem=256 * 1024 * 1024,
        )  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """Checked for unknown users too, so a wrong user name costs as long as a wrong password."""
    return hash_password("not a password")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
