"""The pre-test timer on phones across Indonesia's three zones, and on a phone whose clock is off.

The bug: a deadline without an offset was read as the phone's local time; in WITA and WIT
(and WIB) it lay hours in the past, so "Mulai Pre-test" landed on the result page with 0/100
and the one attempt used.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bimtek.demo import DEMO_PESERTA_PASSWORD
from bimtek.extensions import db
from bimtek.quiz.models import Attempt, AttemptAnswer, Quiz
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

PPS_NIK = "7322011203950002"
PUBLIC_URL = "http://bimtek.kpu-luwuutara.test"
TIMER = re.compile(r"^(\d+):(\d{2})$")


@pytest.fixture
def live_config():
    """The office's public address is its own name, not 127.0.0.1:5000 (the browser still
    reaches the server on 127.0.0.1:<port>)."""
    return {"BIMTEK_PUBLIC_URL": PUBLIC_URL}


@pytest.fixture
def office(live_app, demo):
    """A live bimtek with the demo course."""
    return live_app


@pytest.fixture
def phone(browser):
    """A 360 px Indonesian phone in a given zone; closed (and checked for CSP errors) after."""
    contexts = []
    errors: list[str] = []

    def open_phone(timezone_id: str):
        context = browser.new_context(
            viewport={"width": 360, "height": 740}, locale="id-ID", timezone_id=timezone_id
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        return page

    yield open_phone
    for context in contexts:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def pre_test(app, minutes: int | None = None) -> Quiz:
    with app.app_context():
        quiz = db.session.scalars(select(Quiz).where(Quiz.course_id == 1, Quiz.kind == "pre")).one()
        if minutes is not None:
            quiz.time_limit_minutes = minutes
            db.session.commit()
        return quiz


def open_attempt(app):
    with app.app_context():
        attempt = db.session.scalars(select(Attempt)).one()
        first = db.session.scalars(
            select(AttemptAnswer)
            .where(AttemptAnswer.attempt_id == attempt.id)
            .order_by(AttemptAnswer.position)
        ).first()
        return attempt, first


def start_pre_test(page, app, sign_in):
    base = app.config["LIVE_URL"]
    sign_in(page, PPS_NIK, DEMO_PESERTA_PASSWORD)
    page.goto(base + "/kursus/1")
    page.get_by_role("link", name="Kerjakan Pre-test").click()
    page.get_by_role("button", name="Mulai Pre-test").click()
    page.wait_for_url(re.compile(r"/ujian/\d+$"))


def seconds_shown(page) -> int:
    timer = page.locator("#timer")
    timer.filter(has_text=TIMER).wait_for()
    minutes, seconds = TIMER.match(timer.inner_text()).groups()
    return int(minutes) * 60 + int(seconds)


def still_taking(page, app, limit_seconds: int) -> None:
    """On the quiz, not the result; the countdown near the full limit and running; the
    attempt open; one answer saved."""
    # An early auto-submit happens on the first tick, as the page loads: by now it would
    # have left for the result page.
    page.wait_for_timeout(1200)
    assert re.search(r"/ujian/\d+$", page.url), page.url
    first = seconds_shown(page)
    shown = page.locator("#timer").inner_text()
    assert limit_seconds - 30 <= first <= limit_seconds, shown
    page.wait_for_function(
        "shown => document.getElementById('timer').textContent !== shown", arg=shown
    )
    assert seconds_shown(page) < first  # it counts down

    attempt, answer = open_attempt(app)
    assert attempt.status == "open"
    key = answer.question_version.answer[0]
    fieldset = page.locator(f'fieldset[data-position="{answer.position}"]')
    fieldset.locator(f'input[value="{key}"]').check()
    fieldset.locator("[data-status]").filter(has_text="Tersimpan").wait_for()
    assert open_attempt(app)[1].selected == [key]
    assert re.search(r"/ujian/\d+$", page.url)
    assert open_attempt(app)[0].status == "open"


@pytest.mark.parametrize("zone", ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"])
def test_pre_test_starts_and_counts_down_in_every_zone(office, phone, zone, sign_in):
    limit = pre_test(office).time_limit_minutes * 60
    page = phone(zone)
    start_pre_test(page, office, sign_in)
    still_taking(page, office, limit)
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == zone
    if zone == "Asia/Makassar":
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "quiz-timer-makassar-360.png"))
        # Nothing wider than the phone: the timer bar and questions fit 360 px.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360


@pytest.mark.parametrize("clock_off", [timedelta(minutes=5), timedelta(minutes=-5)])
def test_a_phone_clock_five_minutes_off_still_counts_right(office, phone, clock_off, sign_in):
    """A 3-minute pre-test on a phone in WITA whose clock is 5 minutes fast (or slow): the
    countdown still starts at 3:00 and nothing is submitted early; when the 3 minutes have
    passed on the phone, the page submits by itself."""
    pre_test(office, minutes=3)
    page = phone("Asia/Makassar")
    page.clock.install(time=datetime.now(UTC) + clock_off)
    start_pre_test(page, office, sign_in)
    skew = page.evaluate("Date.now()") / 1000 - datetime.now(UTC).timestamp()
    assert abs(skew - clock_off.total_seconds()) < 30  # the phone's clock really is off
    still_taking(page, office, 180)

    page.clock.fast_forward("03:05")  # the phone lies in a pocket until time is up
    page.wait_for_url(re.compile(r"/ujian/\d+/hasil$"))
    attempt, _ = open_attempt(office)
    # the server had not reached its deadline yet: an ordinary submission
    assert attempt.status == "submitted" and attempt.submitted_at is not None
