"""The sign-in lock: Flask-Limiter's counters of failed sign-ins per account.

Failed sign-ins are counted per account (whatever address they come from) and, more loosely,
per address. An admin can lift an account's lock: its counters are cleared in the limiter's
storage (memory:// in this process, or the shared Redis every node uses).
"""

import hashlib

from flask import current_app, request
from limits import parse_many

from bimtek.extensions import limiter
from bimtek.gunicorn_conf import is_shared

SCOPE = "login-account"
ENDPOINT = "accounts.login"


def key_for_login(login: str) -> str:
    """The account part of the key; hashed so no NIK lands in the limiter's storage."""
    login = (login or "").strip().lower()[:64]
    return "akun|" + hashlib.sha256(login.encode("utf-8")).hexdigest()[:20]


def request_key() -> str:
    """key_func for the per-account limit on POST /login."""
    return key_for_login(request.form.get("username") or "")


def _identifiers(key: str) -> list[str]:
    # As Flask-Limiter builds them: [prefix,] key, "<endpoint>:<scope>" (a per-route limit).
    prefix = getattr(limiter, "_key_prefix", "")  # the one the limiter really uses
    scope = f"{ENDPOINT}:{SCOPE}"
    return [prefix, key, scope] if prefix else [key, scope]


def _account_keys(user) -> list[str]:
    return [key_for_login(login) for login in (user.nik, user.username) if login]


def _limits():
    return parse_many(current_app.config["BIMTEK_LOGIN_LIMIT_ACCOUNT"])


def is_locked(user) -> bool:
    """True while a further sign-in to this account would be refused (429)."""
    strategy = limiter.limiter
    return any(
        not strategy.test(item, *_identifiers(key))
        for key in _account_keys(user)
        for item in _limits()
    )


def unlock(user) -> None:
    """Forget this account's failed sign-ins, so the right password works at once."""
    strategy = limiter.limiter
    for key in _account_keys(user):
        for item in _limits():
            strategy.clear(item, *_identifiers(key))


def storage_is_shared(url: str | None) -> bool:
    """memory:// lives inside one process; every other storage is shared between processes."""
    return is_shared((url or "").strip())
