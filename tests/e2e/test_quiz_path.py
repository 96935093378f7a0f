"""A participant takes the post-test in Chromium: autosave, a reload, a dropped connection, submit."""

import pytest
from sqlalchemy import select

from bimtek.extensions import db
from bimtek.quiz.models import Attempt, AttemptAnswer

pytestmark = pytest.mark.e2e


def served(app):
    with app.app_context():
        attempt = db.session.scalars(select(Attempt)).one()
        rows = db.session.scalars(
            select(AttemptAnswer)
            .where(AttemptAnswer.attempt_id == attempt.id)
            .order_by(AttemptAnswer.position)
        ).all()
        return attempt.id, [(r.position, list(r.question_version.answer), r.selected) for r in rows]


def choose(page, position, keys):
    fieldset = page.locator(f'fieldset[data-position="{position}"]')
    for key in keys:
        fieldset.locator(f'input[value="{key}"]').check()
    return fieldset


def test_post_test_with_reload_and_dropped_connection(live_app, page, demo, sign_in):
    base = live_app.config["LIVE_URL"]
    sign_in(page, "7322011203950002", "demo-peserta-2029")
    page.goto(base + "/kursus/1")
    page.get_by_role("link", name="Kerjakan Post-test").click()
    page.get_by_role("button", name="Mulai Post-test").click()
    page.wait_for_url("**/ujian/*")
    assert page.locator("fieldset.question").count() == 20

    attempt_id, rows = served(live_app)
    # Answer the first five correctly; each is saved as it is chosen.
    for position, answer, _ in rows[:5]:
        fieldset = choose(page, position, answer)
        fieldset.locator("[data-status]").filter(has_text="Tersimpan").wait_for()
    assert [r[2] for r in served(live_app)[1][:5]] == [sorted(a) for _, a, _ in rows[:5]]

    # A reload (or a phone that slept) shows every saved answer.
    page.reload()
    for position, answer, _ in rows[:5]:
        for key in answer:
            assert page.locator(
                f'fieldset[data-position="{position}"] input[value="{key}"]'
            ).is_checked()
    assert page.locator("#answered-count").inner_text() == "5"

    # The connection drops: the choice waits on the phone and goes out when it is back.
    page.context.set_offline(True)
    position, answer, _ = rows[5]
    fieldset = choose(page, position, answer)
    fieldset.locator("[data-status]").filter(has_text="Belum tersimpan").wait_for()
    assert served(live_app)[1][5][2] == []
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    fieldset.locator("[data-status]").filter(has_text="Tersimpan").wait_for()
    assert served(live_app)[1][5][2] == sorted(answer)

    # Submit with questions left empty: the participant is asked first.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Kirim jawaban").click()
    page.wait_for_url(f"**/ujian/{attempt_id}/hasil")
    assert page.get_by_test_id("score").inner_text() == "30"
    assert page.get_by_text("Belum lulus").is_visible()
    assert page.locator("article.review").count() == 20
    assert page.evaluate(f"window.localStorage.getItem('bimtek-attempt-{attempt_id}')") is None
    with live_app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.status == "submitted" and attempt.correct_count == 6
