"""A participant takes the post-test in Chromium: autosave, a reload, a dropped connection, submit,
and a failed attempt with a retry left keeps the key hidden."""

import pytest
from sqlalchemy import select

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.learning.models import Course, ModuleProgress
from bimtek.quiz.models import Attempt, AttemptAnswer, Quiz
from bimtek.timeutil import utcnow

pytestmark = pytest.mark.e2e


@pytest.fixture
def ready(live_app, demo):
    """The demo participant has taken the pre-test and read every module: the post-test is open."""
    with live_app.app_context():
        user = db.session.scalars(select(User).where(User.nik == "7322011203950002")).one()
        pre = db.session.scalars(select(Quiz).where(Quiz.course_id == 1, Quiz.kind == "pre")).one()
        db.session.add(
            Attempt(quiz_id=pre.id, user_id=user.id, seed=1, status="submitted",
                    submitted_at=utcnow(), score=20.0, passed=False)
        )  # fmt: skip
        for cm in db.session.get(Course, 1).course_modules:
            db.session.add(
                ModuleProgress(
                    user_id=user.id, module_version_id=cm.module.versions[-1].id,
                    completed_at=utcnow(),
                )
            )  # fmt: skip
        db.session.commit()


def served(app):
    with app.app_context():
        attempt = db.session.scalars(select(Attempt).join(Quiz).where(Quiz.kind == "post")).one()
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


def test_post_test_with_reload_and_dropped_connection(live_app, page, ready, sign_in):
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
    # A retry is left: no key yet (it would be the retry's answer sheet), and the page says so.
    assert page.locator("article.review").count() == 0
    assert page.get_by_text("ditampilkan setelah Anda tidak punya kesempatan lagi").is_visible()
    assert page.get_by_role("link", name="Coba lagi (1 kesempatan)").is_visible()
    assert page.evaluate(f"window.localStorage.getItem('bimtek-attempt-{attempt_id}')") is None
    with live_app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.status == "submitted" and attempt.correct_count == 6
