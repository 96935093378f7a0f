"""Which automatic backups to keep: pure, no disk access (the caller deletes the rest)."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

KEEP_LAST = 24  # the newest 24 (hourly backups: the last day)
KEEP_DAILY_DAYS = 14  # plus the last backup of each of the last 14 days


def backups_to_keep(
    backups: Iterable[tuple[str, datetime]],
    now: datetime,
    *,
    keep_last: int = KEEP_LAST,
    daily_days: int = KEEP_DAILY_DAYS,
    timezone: str = "Asia/Jakarta",
) -> set[str]:
    """The names to keep among (name, created_at UTC) pairs.

    Kept: the `keep_last` newest; the newest of each calendar day (in the office's zone) among
    the last `daily_days` days, today included; anything dated after `now` (a clock that moved
    back must not cost the newest copies). Everything else may be deleted.
    """
    zone = ZoneInfo(timezone)
    ordered = sorted(backups, key=lambda item: (item[1], item[0]), reverse=True)
    keep = {name for name, _ in ordered[:keep_last]}
    keep |= {name for name, created in ordered if created > now}
    today = now.astimezone(zone).date()
    oldest_day = today - timedelta(days=daily_days - 1)
    seen_days = set()
    for name, created in ordered:  # newest first: the first one met is the day's last
        day = created.astimezone(zone).date()
        if oldest_day <= day <= today and day not in seen_days:
            seen_days.add(day)
            keep.add(name)
    return keep
