"""Every moment that reaches a browser carries its offset; every time read back is aware.

A browser reads an ISO string without an offset as the phone's own local time: a deadline
written naive in UTC lay 8 hours in the past on a phone in WITA, and the pre-test submitted
itself the moment it opened. On SQLite and PostgreSQL.
"""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from bimtek.attendance import codes
from bimtek.attendance.models import TrainingSession
from bimtek.demo import DEMO_PESERTA_PASSWORD, DEMO_SESSION_TITLE
from bimtek.extensions import db
from bimtek.quiz.models import Quiz
from bimtek.timeutil import waktu

ROOT = Path(__file__).resolve().parent.parent
PPS_NIK = "7322011203950002"
ADMIN = ("admin", "demo-admin-2029")
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?")
OFFSET = re.compile(r"Z|[+-]\d{2}:\d{2}")
# <input type="datetime-local"> cannot hold an offset: its value is the office's wall-clock time
# (the form says which zone), converted to UTC on the server. The one exemption.
DATETIME_LOCAL = re.compile(r'<input\b[^>]*\btype="datetime-local"[^>]*>')
LINK = re.compile(r'href="(/[^"#]*)"')
# Files, not pages: nothing a script or the eye reads as a time.
NOT_A_PAGE = re.compile(r"\.(xlsx|zip|yaml|pdf)$|/unduh$|/ekspor$|^/materi/\d+$|^/static/|^/logout")


def naive_moments(text: str) -> list[str]:
    """ISO-looking datetimes not followed by Z or ±HH:MM, with some context."""
    text = DATETIME_LOCAL.sub("", text)
    found = []
    for match in ISO_MOMENT.finditer(text):
        if not OFFSET.match(text, match.end()):
            found.append(text[max(0, match.start() - 60) : match.end() + 10])
    return found


def test_the_scan_catches_a_naive_moment_and_passes_offsets():
    """The check itself: it must see the string that broke the quiz, and nothing else."""
    broken = '<strong id="timer" data-deadline="2026-12-01T00:20:58.343037">'
    assert naive_moments(broken)
    assert naive_moments('{"saved_at": "2026-12-01T00:20"}')
    assert not naive_moments('data-deadline="2026-12-01T00:20:58+00:00"')
    assert not naive_moments('"2026-12-01T08:20:58.1+08:00" "2026-12-01T00:20:58Z"')
    assert not naive_moments('<input id="opens_at" type="datetime-local" value="2026-12-01T08:20">')


@pytest.fixture
def demo(demo, app):
    with app.app_context():
        pre = db.session.scalars(select(Quiz).where(Quiz.course_id == 1, Quiz.kind == "pre")).one()
        session = db.session.scalars(
            select(TrainingSession).where(TrainingSession.title == DEMO_SESSION_TITLE)
        ).one()
        return {
            "pre": pre.id,
            "limit": pre.time_limit_minutes,
            "session": session.id,
            "code": codes.code_for(
                session.secret,
                session.id,
                codes.window_of(datetime.now(UTC), app.config["BIMTEK_CHECKIN_PERIOD"]),
            ),
        }


def login(client, username, password):
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": password}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def token_of(client, path="/"):
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


def crawl(client, app, start: list[str]) -> dict[str, str]:
    """Every page reachable by a link from `start`, one URL per endpoint (a second
    /sesi/<id> shows the same template): {url: body}."""
    adapter = app.url_map.bind("localhost")
    seen_endpoints: set[str] = set()
    pages: dict[str, str] = {}
    queue = list(start)
    while queue:
        url = queue.pop(0)
        path = url.split("?")[0]
        if url in pages or NOT_A_PAGE.search(path):
            continue
        try:
            endpoint, _ = adapter.match(path, method="GET")
        except HTTPException:  # a link the app does not route: not a page to scan
            continue
        if endpoint in seen_endpoints and url not in start:
            continue
        seen_endpoints.add(endpoint)
        response = client.get(url)
        if response.status_code != 200 or not response.mimetype.startswith("text/html"):
            continue
        body = response.get_data(as_text=True)
        pages[url] = body
        queue.extend(LINK.findall(body))
    return pages


def test_no_page_or_json_sends_a_time_without_its_offset(app, client, demo):
    """A participant mid-quiz, after a check-in and a finished pre-test, then the admin's view
    of all of it (sessions, projector, reports, analysis): not one naive ISO datetime."""
    login(client, PPS_NIK, DEMO_PESERTA_PASSWORD)
    token = token_of(client, f"/kuis/{demo['pre']}")
    started = client.post(f"/kuis/{demo['pre']}/mulai", data={"csrf_token": token})
    take_url = started.headers["Location"]
    attempt_id = int(re.search(r"/ujian/(\d+)", take_url).group(1))

    take = client.get(take_url).get_data(as_text=True)
    assert 'id="timer"' in take and '<time datetime="' in take
    left = int(re.search(r'data-seconds-left="(\d+)"', take).group(1))
    assert demo["limit"] * 60 - 30 <= left <= demo["limit"] * 60

    saved = client.post(
        f"/ujian/{attempt_id}/jawab",
        json={"position": 1, "selected": ["a"]},
        headers={"X-CSRFToken": token_of(client, take_url)},
    )
    assert saved.status_code == 200 and saved.json["ok"]
    saved_text = saved.get_data(as_text=True)
    assert naive_moments(saved_text) == [], saved_text
    assert OFFSET.search(saved.json["saved_at"])
    assert demo["limit"] * 60 - 30 <= saved.json["seconds_left"] <= demo["limit"] * 60

    checked_in = client.post(
        "/hadir",
        data={
            "csrf_token": token_of(client, f"/hadir?s={demo['session']}"),
            "kode": demo["code"],
            "session_id": str(demo["session"]),
        },
        follow_redirects=True,
    )
    assert "tercatat" in checked_in.get_data(as_text=True)

    participant_pages = {take_url: take, **crawl(client, app, ["/", "/hadir", take_url])}
    # Submit, then the result page and everything it links to.
    client.post(take_url, data={"csrf_token": token_of(client, take_url), "action": "kirim"})
    result_url = f"/ujian/{attempt_id}/hasil"
    participant_pages.update(crawl(client, app, [result_url, "/sertifikat"]))
    assert "Dikirim" in participant_pages[result_url]

    client.post("/logout", data={"csrf_token": token_of(client)})
    login(client, *ADMIN)
    projector = f"/sesi/{demo['session']}/proyektor"
    admin_pages = crawl(client, app, ["/", f"/sesi/{demo['session']}", projector])
    assert 'id="kode"' in admin_pages[projector]

    pages = {**participant_pages, **admin_pages}
    adapter = app.url_map.bind("localhost")
    endpoints = {adapter.match(url.split("?")[0])[0] for url in pages}
    # The pages that carry times, each really scanned.
    assert {
        "quiz.take",
        "quiz.result",
        "quiz.analysis",
        "quiz.quiz_edit",
        "attendance.checkin",
        "attendance.session",
        "attendance.session_edit",
        "attendance.projector",
        "attendance.daftar_hadir",
        "reports.participant",
        "certificates.mine",
    } <= endpoints, sorted(endpoints)
    offenders = {url: naive_moments(body) for url, body in pages.items() if naive_moments(body)}
    assert offenders == {}


def test_times_read_back_are_aware_utc_whatever_zone_was_written(app, demo):
    """The one place (UTCDateTime): a session saved as 08.00 WITA reads back as 00.00 UTC,
    aware, on both databases; the page shows 08.00 WITA."""
    makassar = ZoneInfo("Asia/Makassar")
    with app.app_context():
        session = db.session.get(TrainingSession, demo["session"])
        session.starts_at = datetime(2026, 12, 1, 8, 0, tzinfo=makassar)
        session.ends_at = datetime(2026, 12, 1, 9, 0)  # naive means UTC in bimtek
        db.session.commit()
        db.session.expunge_all()

        session = db.session.get(TrainingSession, demo["session"])
        assert session.starts_at == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
        assert session.starts_at.utcoffset() == timedelta(0)
        assert session.ends_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        assert waktu(session.ends_at, "Asia/Makassar", "HH.mm") == "17.00 WITA"
        assert waktu(session.starts_at, "Asia/Makassar") == "1 Desember 2026, 08.00 WITA"
        # A time read by a query of columns (no ORM object) is aware too.
        starts = db.session.scalar(
            select(TrainingSession.starts_at).where(TrainingSession.id == demo["session"])
        )
        assert starts == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def test_templates_and_code_emit_moments_only_through_iso():
    """Where a datetime is written for a machine: each goes through timeutil.iso (|iso in a
    template), which always adds the offset. A bare .isoformat() on a datetime, or a time
    attribute printed raw into an HTML attribute, is the bug coming back."""
    raw_iso = []
    sources = [*(ROOT / "bimtek").rglob("*.py"), *(ROOT / "bimtek" / "templates").rglob("*.html")]
    for path in sources:
        if "migrations" in path.parts or path.name == "timeutil.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if ".isoformat(" in line:
                raw_iso.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert raw_iso == []

    # {{ x.something_at }} / deadline / now inside an attribute value, without a filter that
    # formats it (|waktu, |tanggal for people; |iso for machines).
    in_attribute = re.compile(
        r'="[^"]*\{\{\s*([^}|]*?\b(?:\w+_at|deadline|now))\b\s*(\|[^}]*)?\}\}'
    )
    raw_attr = []
    for path in (ROOT / "bimtek" / "templates").rglob("*.html"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in in_attribute.finditer(line):
                filters = match.group(2) or ""
                if not re.search(r"\|\s*(iso|waktu|tanggal)\b", filters):
                    raw_attr.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert raw_attr == []

    # The quiz script never reads a server time as a date: it counts from seconds left.
    script = (ROOT / "static" / "js" / "quiz.js").read_text()
    assert "data-seconds-left" in script
    assert "Date.parse(" not in script and "new Date(" not in script
