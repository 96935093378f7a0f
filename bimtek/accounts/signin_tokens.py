"""One-time sign-in by the QR code printed on each participant's credentials sheet row or
reset slip, so a hall does not type 16-digit NIKs. No request, no flash.

The token is random (192 bits), stored only as its SHA-256, signs in once, expires after
TOKEN_DAYS, and forces the password change. Issuing a new sheet or slip for the person, or a
password change, deletes the tokens issued before.
"""

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, insert, select, update

from bimtek.accounts.models import SignInToken, User
from bimtek.accounts.service import AccountError, Deactivated
from bimtek.extensions import db
from bimtek.timeutil import utcnow

TOKEN_DAYS = 14
TOKEN_RE_LENGTH = (20, 64)  # what a URL may carry before it is even looked up

UNKNOWN = (
    "Kode QR ini tidak berlaku: lembar yang lebih baru sudah dibuat atau kata sandi sudah "
    "diganti. Masuk dengan NIK dan kata sandi, atau minta lembar baru ke operator."
)
USED = "Kode QR ini sudah pernah dipakai untuk masuk. Masuk dengan NIK dan kata sandi Anda."
EXPIRED = (
    "Kode QR ini sudah kedaluwarsa. Masuk dengan NIK dan kata sandi pada lembar, atau minta "
    "lembar baru ke operator."
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invalidate(user_ids: Iterable[int]) -> None:
    ids = list(user_ids)
    if ids:
        db.session.execute(delete(SignInToken).where(SignInToken.user_id.in_(ids)))


def issue(user_ids: Iterable[int], now: datetime | None = None) -> dict[int, str]:
    """A new token per user (the earlier ones deleted); returns user id -> token, the only
    place the token exists in clear. Caller commits."""
    now = now or utcnow()
    ids = list(dict.fromkeys(user_ids))
    invalidate(ids)
    tokens = {user_id: secrets.token_urlsafe(24) for user_id in ids}
    if tokens:
        db.session.execute(
            insert(SignInToken),
            [
                {
                    "user_id": user_id,
                    "token_hash": _digest(token),
                    "created_at": now,
                    "expires_at": now + timedelta(days=TOKEN_DAYS),
                    "used_at": None,
                }
                for user_id, token in tokens.items()
            ],
        )
    return tokens


def redeem(token: str, now: datetime | None = None) -> User:
    """The user this token signs in, marking it used; AccountError (in Indonesian) when it is
    unknown, used or expired, Deactivated for a switched-off account. Caller commits."""
    now = now or utcnow()
    low, high = TOKEN_RE_LENGTH
    if not (low <= len(token or "") <= high):
        raise AccountError(UNKNOWN)
    record = db.session.scalars(
        select(SignInToken).where(SignInToken.token_hash == _digest(token))
    ).one_or_none()
    if record is None:
        raise AccountError(UNKNOWN)
    if record.used_at is not None:
        raise AccountError(USED)
    if now > record.expires_at:
        raise AccountError(EXPIRED)
    user = db.session.get(User, record.user_id)
    if not user.active:
        raise Deactivated(Deactivated.message)
    # The first of two simultaneous scans wins: the row is marked used only if it is unused.
    marked = db.session.execute(
        update(SignInToken)
        .where(SignInToken.id == record.id, SignInToken.used_at.is_(None))
        .values(used_at=now)
        .returning(SignInToken.id)
    ).scalar()
    if marked is None:
        raise AccountError(USED)
    user.must_change_password = True
    user.last_login_at = now
    return user


def sign_in_url(token: str) -> str:
    """The address a slip's QR code opens: /masuk/<token> (accounts.token_sign_in) on
    BIMTEK_PUBLIC_URL. Built without a request, so a background job can print it too."""
    return f"{current_app.config['BIMTEK_PUBLIC_URL']}/masuk/{token}"
