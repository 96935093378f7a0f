"""The rotating check-in code: derived from a per-session secret and the clock (like TOTP), so
every app node can show and verify it without shared state."""

import hashlib
import hmac
import re
from datetime import datetime

DIGITS = 6
_CODE_RE = re.compile(r"[0-9]{6}", flags=re.ASCII)


def window_of(moment: datetime, period: int) -> int:
    return int(moment.timestamp()) // period


def seconds_left(moment: datetime, period: int) -> int:
    return period - int(moment.timestamp()) % period


def code_for(secret: str, session_id: int, window: int) -> str:
    """Six digits from HMAC-SHA256 with RFC 4226's dynamic truncation."""
    digest = hmac.new(secret.encode(), f"{session_id}:{window}".encode(), hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def normalise(typed: str | None) -> str | None:
    """'123 456' or ' 123456 ' → '123456'; anything else → None."""
    if typed is None:
        return None
    compact = "".join(typed.split()).replace("-", "")
    return compact if _CODE_RE.fullmatch(compact) else None


def matching_window(
    secret: str, session_id: int, typed: str | None, moment: datetime, period: int, grace: int = 1
) -> int | None:
    """The window whose code was typed: the current one or up to `grace` before it."""
    code = normalise(typed)
    if code is None:
        return None
    now = window_of(moment, period)
    for window in range(now, now - grace - 1, -1):
        if hmac.compare_digest(code_for(secret, session_id, window), code):
            return window
    return None
