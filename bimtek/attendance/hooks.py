"""What features built on attendance add to its pages and exports, without attendance
importing them (the evaluation feature registers here). Each list holds callables registered
once at start-up; attendance calls them in order."""

from collections.abc import Callable
from datetime import datetime

from markupsafe import Markup

from bimtek.accounts.models import User
from bimtek.attendance.models import TrainingSession

# (participant, [(session, attendance or None)], now) -> {session id: (label, url)}: a button
# under the session on the participant's list and after their check-in.
participant_links: list[Callable[[User, list, datetime], dict[int, tuple[str, str]]]] = []

# (session) -> HTML or None: a card on the session's page for its trainers and the office.
session_panels: list[Callable[[TrainingSession], Markup | None]] = []

# (workbook, session, timezone, office name) -> None: sheets added after the daftar hadir.
daftar_hadir_sheets: list[Callable[[object, TrainingSession, str, str], None]] = []


def register(hook: list, provider: Callable) -> None:
    """Once per process, however many apps register the providing blueprint (tests make many)."""
    if provider not in hook:
        hook.append(provider)


def links_for(user: User, pairs: list, now: datetime) -> dict[int, list[tuple[str, str]]]:
    links: dict[int, list[tuple[str, str]]] = {}
    for provide in participant_links:
        for session_id, link in provide(user, pairs, now).items():
            links.setdefault(session_id, []).append(link)
    return links


def panels_for(session: TrainingSession) -> list[Markup]:
    return [panel for provide in session_panels if (panel := provide(session)) is not None]
