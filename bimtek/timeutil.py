"""Time: stored in UTC, shown in the office's zone, written the Indonesian way."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from flask import current_app

LOCALE = "id_ID"


def office_zone() -> str:
    """The zone the office shows and reads local times in. The settings feature provides it
    (its Pengaturan page, else the province's zone); without it, BIMTEK_TIMEZONE or WIB."""
    provider = current_app.extensions.get("bimtek.office_zone")
    if provider is not None:
        return provider()
    return current_app.config.get("BIMTEK_TIMEZONE") or "Asia/Jakarta"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware and in UTC. A naive datetime in bimtek is UTC: every datetime column reads back
    through this (extensions.UTCDateTime), so SQLite's naive values come out aware."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """A moment for a machine (an HTML attribute, JSON): ISO 8601 in UTC with its offset,
    '2026-12-01T00:20:58+00:00'. A browser reads an ISO string without one as the phone's
    local time, which put every deadline hours into the past in WITA and WIT."""
    if value is None:
        return None
    return as_utc(value).isoformat(timespec="seconds")


def waktu(value: datetime | None, timezone: str, fmt: str = "d MMMM y, HH.mm") -> str:
    """'23 November 2026, 21.34' in the office's zone, with WIB/WITA/WIT."""
    if value is None:
        return "—"
    zone = ZoneInfo(timezone)
    local = as_utc(value).astimezone(zone)
    text = format_datetime(local, fmt, locale=LOCALE)
    return f"{text} {zone_abbreviation(timezone)}".strip()


def tanggal(value: datetime | None, timezone: str, fmt: str = "EEEE, d MMMM y") -> str:
    if value is None:
        return "—"
    local = as_utc(value).astimezone(ZoneInfo(timezone))
    return format_date(local.date(), fmt, locale=LOCALE)


def zone_abbreviation(timezone: str) -> str:
    return {
        "Asia/Jakarta": "WIB",
        "Asia/Pontianak": "WIB",
        "Asia/Makassar": "WITA",
        "Asia/Jayapura": "WIT",
    }.get(timezone, "")


def angka(value: float | int | None, fmt: str | None = None) -> str:
    if value is None:
        return "—"
    return format_decimal(value, format=fmt, locale=LOCALE)


def persen(value: float | None) -> str:
    """0.756 -> '76%'."""
    if value is None:
        return "—"
    return format_percent(value, locale=LOCALE)


def local_to_utc(value: datetime | None, timezone: str) -> datetime | None:
    """A wall-clock time typed in the office's zone (a datetime-local field) → UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def utc_to_local(value: datetime | None, timezone: str) -> datetime | None:
    """UTC → naive wall-clock time in the office's zone (to fill a datetime-local field)."""
    if value is None:
        return None
    return as_utc(value).astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
