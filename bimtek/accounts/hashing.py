"""How passwords are stored and checked. Pure functions: no database, no request.

The scheme is argon2id with OWASP's minimum (Password Storage Cheat Sheet: m=19 MiB, t=2, p=1),
via argon2-cffi. Measured on the 2-core venue laptop: ~25 ms a check, against ~100 ms for
werkzeug's default scrypt (N=2^15, below OWASP's scrypt minimum) and ~420 ms for scrypt at
OWASP's N=2^17: a hall of 500 signing in within a minute stays well under a core.

Older hashes still verify (werkzeug's scrypt and PBKDF2, among them the pbkdf2:sha256:1000
initial passwords) and are replaced after the next successful sign-in (`needs_upgrade`).
BIMTEK_PASSWORD_HASH_METHOD (tests only: one PBKDF2 round) makes that werkzeug method the
current scheme instead.
"""

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

ARGON2_PREFIX = "$argon2id$"
# OWASP's minimum for argon2id: 19 MiB (19456 KiB), 2 iterations, 1 lane.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def _configured_method() -> str | None:
    if has_app_context():
        return current_app.config.get("BIMTEK_PASSWORD_HASH_METHOD") or None
    return None


def hash_password(password: str) -> str:
    method = _configured_method()
    if method:
        return generate_password_hash(password, method=method)
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether `password` matches `stored` (any scheme this app ever wrote)."""
    if not stored:
        return False
    if stored.startswith("$argon2"):
        try:
            return _HASHER.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    try:
        return check_password_hash(stored, password)
    except (ValueError, TypeError):  # a marker such as "!belum-ada-sandi-awal"
        return False


def needs_upgrade(stored: str) -> bool:
    """Whether a hash that just verified should be replaced by the current scheme."""
    method = _configured_method()
    if method:
        return not stored.startswith(method + "$")
    if not stored.startswith(ARGON2_PREFIX):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@cache
def dummy_hash() -> str:
    """Checked when no account matches, so the time taken does not tell which logins exist."""
    return _HASHER.hash("no account has this password")
