"""Attempts that lose no answer, grade once and reveal nothing early; on SQLite and PostgreSQL."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.quiz.models import Attempt, AttemptAnswer, Quiz
from bimtek.timeutil import utcnow
from tests.conftest import twin

PPS_NIK, PASSWORD = "7322011203950002", "demo-peserta-2029"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def demo(demo, app):
    """The demo course with its evaluation order switched off: these tests are about attempts
    (saving, grading, deadlines), so they start the post-test directly. The order itself (pre-test
    first, post-test after the modules) is tested in test_quiz_order.py. Returns its quizzes."""
    with app.app_context():
        course = db.session.get(Course, 1)
        course.pretest_first = course.posttest_after_modules = False
        db.session.commit()
        return {q.kind: q.id for q in db.session.scalars(select(Quiz).where(Quiz.course_id == 1))}


@pytest.fixture
def peserta(client, auth, demo):
    auth.login(PPS_NIK, PASSWORD)
    return client


def token_of(client, path="/"):
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


def start(client, quiz_id) -> int:
    response = client.post(
        f"/kuis/{quiz_id}/mulai", data={"csrf_token": token_of(client, f"/kuis/{quiz_id}")}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/ujian/(\d+)", response.headers["Location"]).group(1))


def save(client, attempt_id, position, selected, token=None):
    return client.post(
        f"/ujian/{attempt_id}/jawab",
        json={"position": position, "selected": selected},
        headers={"X-CSRFToken": token or token_of(client)},
    )


def served(app, attempt_id):
    """(position, answer keys, option keys) of each served question, straight from the database."""
    with app.app_context():
        rows = db.session.scalars(
            select(AttemptAnswer)
            .where(AttemptAnswer.attempt_id == attempt_id)
            .order_by(AttemptAnswer.position)
        ).all()
        return [(r.position, list(r.question_version.answer), list(r.option_order)) for r in rows]


def wrong_choice(answer, options):
    return [next(k for k in options if k not in answer)]


def submit(client, attempt_id, extra=None):
    data = {"csrf_token": token_of(client), "action": "kirim", **(extra or {})}
    return client.post(f"/ujian/{attempt_id}", data=data)


def answer_some(client, app, attempt_id, right: int):
    """Answer the first `right` questions correctly and the rest wrongly."""
    token = token_of(client)
    for index, (position, answer, options) in enumerate(served(app, attempt_id)):
        choice = answer if index < right else wrong_choice(answer, options)
        assert save(client, attempt_id, position, choice, token).status_code == 200


def attempt_row(app, attempt_id) -> Attempt:
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        db.session.expunge(attempt)
        return attempt


def test_take_page_never_carries_answers_or_explanations(app, peserta, demo):
    attempt_id = start(peserta, demo["post"])
    page = peserta.get(f"/ujian/{attempt_id}").get_data(as_text=True)
    with app.app_context():
        rows = db.session.scalars(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt_id)
        ).all()
        assert len(rows) == 20
        for row in rows:
            explanation = re.sub(r"<[^>]+>", "", row.question_version.explanation_html).strip()[:60]
            assert explanation not in page
    # The review's own labels (a question may well say "kunci gudang"): none on the take page.
    assert "ok-tag" not in page and "Kunci jawaban" not in page
    assert "Pembahasan" not in page and "Sumber:" not in page
    assert "is-answer" not in page and "answer" not in page.lower().replace("answered-count", "")
    assert page.count('class="question"') == 20


def test_questions_are_frozen_and_spread_over_modules(app, peserta, demo):
    attempt_id = start(peserta, demo["post"])
    first = served(app, attempt_id)
    # Reopening resumes the same attempt with the same questions and option order.
    assert start(peserta, demo["post"]) == attempt_id
    assert served(app, attempt_id) == first
    with app.app_context():
        rows = db.session.scalars(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt_id)
        ).all()
        modules = [r.question_version.question.module_id for r in rows]
        assert sorted(modules.count(m) for m in set(modules)) == [5, 5, 5, 5]


def test_each_answer_is_saved_and_survives_a_reload(app, peserta, demo):
    attempt_id = start(peserta, demo["post"])
    (position, answer, options), *_ = served(app, attempt_id)
    response = save(peserta, attempt_id, position, answer)
    assert response.status_code == 200 and response.get_json()["ok"]
    page = peserta.get(f"/ujian/{attempt_id}").get_data(as_text=True)
    fieldset = page.split(f'data-position="{position}"')[1].split("</fieldset>")[0]
    for key in options:
        checked = re.search(rf'value="{key}"\s*checked', fieldset) is not None
        assert checked == (key in answer)
    assert "Tersimpan" in fieldset
    # A new choice replaces the old one.
    save(peserta, attempt_id, position, wrong_choice(answer, options))
    with app.app_context():
        row = db.session.scalars(
            select(AttemptAnswer).where(
                AttemptAnswer.attempt_id == attempt_id, AttemptAnswer.position == position
            )
        ).one()
        assert row.selected == wrong_choice(answer, options)


def test_bad_saves_are_refused_clearly(app, peserta, demo):
    attempt_id = start(peserta, demo["post"])
    assert (
        save(peserta, attempt_id, 99, ["a"]).get_json()["error"]
        == "Soal nomor 99 tidak ada di ujian ini."
    )
    no_token = peserta.post(f"/ujian/{attempt_id}/jawab", json={"position": 1, "selected": ["a"]})
    assert no_token.status_code == 400
    # Keys that are not options of the question are dropped, not stored.
    save(peserta, attempt_id, 1, ["zz", "<script>"])
    with app.app_context():
        row = db.session.scalars(
            select(AttemptAnswer).where(
                AttemptAnswer.attempt_id == attempt_id, AttemptAnswer.position == 1
            )
        ).one()
        assert row.selected == []


def test_someone_elses_attempt_is_404(app, peserta, demo, make_peserta, post_form):
    attempt_id = start(peserta, demo["post"])
    make_peserta(nik="7322014107900301", password="peserta-lain-1")
    other = app.test_client()
    post_form(other, "/login", {"username": "7322014107900301", "password": "peserta-lain-1"})
    assert other.get(f"/ujian/{attempt_id}").status_code == 404
    assert other.get(f"/ujian/{attempt_id}/hasil").status_code == 404
    assert save(other, attempt_id, 1, ["a"]).status_code == 404
    assert submit(other, attempt_id).status_code == 404


def test_submit_grades_once_and_freezes_answers(app, peserta, demo):
    attempt_id = start(peserta, demo["post"])
    answer_some(peserta, app, attempt_id, right=15)
    response = submit(peserta, attempt_id)
    assert response.headers["Location"].endswith(f"/ujian/{attempt_id}/hasil")
    graded = attempt_row(app, attempt_id)
    assert (graded.correct_count, graded.score, graded.passed) == (15, 75.0, True)
    # A retry after a timeout, or a double click: nothing changes.
    submit(peserta, attempt_id)
    again = attempt_row(app, attempt_id)
    assert again.submitted_at == graded.submitted_at and again.score == 75.0
    # Answers cannot be changed after submission.
    (position, answer, options), *_ = served(app, attempt_id)
    late = save(peserta, attempt_id, position, wrong_choice(answer, options))
    assert late.status_code == 409 and late.get_json()["closed"]
    result = peserta.get(f"/ujian/{attempt_id}/hasil").get_data(as_text=True)
    assert 'data-testid="score">75<' in result and "Lulus" in result


def test_two_concurrent_submits_grade_once(app, peserta, demo, at_once):
    attempt_id = start(peserta, demo["post"])
    answer_some(peserta, app, attempt_id, right=10)
    token = token_of(peserta)

    def press():
        form = {"csrf_token": token, "action": "kirim"}
        return twin(app, peserta).post(f"/ujian/{attempt_id}", data=form).status_code

    statuses = at_once(press, press)
    assert statuses == [302, 302]
    graded = attempt_row(app, attempt_id)
    assert graded.status == "submitted" and graded.correct_count == 10 and graded.score == 50.0


def test_save_racing_a_submit_never_changes_a_graded_answer(app, peserta, demo, at_once):
    attempt_id = start(peserta, demo["post"])
    answer_some(peserta, app, attempt_id, right=20)
    rows = served(app, attempt_id)
    token = token_of(peserta)

    def do_submit():
        form = {"csrf_token": token, "action": "kirim"}
        twin(app, peserta).post(f"/ujian/{attempt_id}", data=form)

    def do_saves():
        c = twin(app, peserta)
        for position, answer, options in rows:
            save(c, attempt_id, position, wrong_choice(answer, options), token)

    at_once(do_submit, do_saves)
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        answers = db.session.scalars(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt_id)
        ).all()
        # Whatever interleaving happened, the stored grade matches the stored answers.
        assert attempt.correct_count == sum(a.correct for a in answers)
        for a in answers:
            assert a.correct == (sorted(a.selected) == sorted(a.question_version.answer))


def test_past_the_deadline_the_attempt_closes_with_what_was_saved(app, peserta, demo):
    attempt_id = start(peserta, demo["post"])
    answer_some(peserta, app, attempt_id, right=4)
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        attempt.deadline = utcnow() - timedelta(minutes=1)
        db.session.commit()
    late = save(peserta, attempt_id, 5, served(app, attempt_id)[4][1])
    assert late.status_code == 409 and "Waktu habis" in late.get_json()["error"]
    graded = attempt_row(app, attempt_id)
    assert graded.status == "expired" and graded.correct_count == 4 and graded.score == 20.0
    assert peserta.get(f"/ujian/{attempt_id}").headers["Location"].endswith("/hasil")


def test_a_save_just_after_the_deadline_still_counts(app, peserta, demo):
    attempt_id = start(peserta, demo["post"])
    with app.app_context():
        db.session.get(Attempt, attempt_id).deadline = utcnow() - timedelta(seconds=5)
        db.session.commit()
    position, answer, _ = served(app, attempt_id)[0]
    assert save(peserta, attempt_id, position, answer).status_code == 200


def test_form_post_without_javascript_saves_and_submits(app, peserta, demo):
    attempt_id = start(peserta, demo["post"])
    rows = served(app, attempt_id)
    data = {"positions": [str(p) for p, _, _ in rows]}
    for index, (position, answer, options) in enumerate(rows):
        data[f"q{position}"] = answer if index < 12 else wrong_choice(answer, options)
    saved = peserta.post(
        f"/ujian/{attempt_id}", data={"csrf_token": token_of(peserta), "action": "simpan", **data}
    )
    assert saved.headers["Location"].endswith(f"/ujian/{attempt_id}")
    assert attempt_row(app, attempt_id).status == "open"
    submit(peserta, attempt_id, data)
    assert attempt_row(app, attempt_id).correct_count == 12


def test_pre_test_once_and_only_before_the_post_test(app, peserta, demo):
    pre = start(peserta, demo["pre"])
    answer_some(peserta, app, pre, right=6)
    submit(peserta, pre)
    assert attempt_row(app, pre).score == 40.0
    again = peserta.post(f"/kuis/{demo['pre']}/mulai", data={"csrf_token": token_of(peserta)})
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/kuis/{demo['pre']}")
    assert "hanya dapat dikerjakan satu kali" in peserta.get(again.headers["Location"]).get_data(
        as_text=True
    )


def test_no_pre_test_once_the_post_test_started(app, client, auth, demo):
    auth.login("7322014107900001", PASSWORD)  # PPK Ketua, untouched
    start(client, demo["post"])
    page = client.get(f"/kuis/{demo['pre']}").get_data(as_text=True)
    assert "Pre-test tidak dapat dikerjakan setelah post-test dimulai." in page


def test_pre_test_shows_only_the_score(app, peserta, demo):
    pre = start(peserta, demo["pre"])
    answer_some(peserta, app, pre, right=3)
    submit(peserta, pre)
    page = peserta.get(f"/ujian/{pre}/hasil").get_data(as_text=True)
    assert 'data-testid="score">20<' in page
    assert "Pembahasan" not in page and "Sumber:" not in page


def test_post_test_review_shows_key_explanation_source_and_ngain(app, peserta, demo):
    pre = start(peserta, demo["pre"])
    answer_some(peserta, app, pre, right=6)  # 6/15 = 40
    submit(peserta, pre)
    post = start(peserta, demo["post"])
    answer_some(peserta, app, post, right=14)  # 14/20 = 70
    submit(peserta, post)
    page = peserta.get(f"/ujian/{post}/hasil").get_data(as_text=True)
    assert "Pembahasan" in page and page.count("Sumber:") == 20
    assert page.count("✓ Benar") == 14 and page.count("✗ Salah") == 6
    assert 'data-testid="ngain">0,50 (sedang)' in page
    course = peserta.get("/kursus/1").get_data(as_text=True)
    assert "0,50 (sedang)" in course


def test_review_after_close_waits_for_the_closing_time(app, peserta, demo):
    with app.app_context():
        quiz = db.session.get(Quiz, demo["post"])
        quiz.review_policy, quiz.closes_at = "after_close", utcnow() + timedelta(hours=2)
        db.session.commit()
    post = start(peserta, demo["post"])
    submit(peserta, post)
    page = peserta.get(f"/ujian/{post}/hasil").get_data(as_text=True)
    assert "setelah kuis ditutup" in page and "Sumber:" not in page
    with app.app_context():
        db.session.get(Quiz, demo["post"]).closes_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert "Sumber:" in peserta.get(f"/ujian/{post}/hasil").get_data(as_text=True)


def test_two_concurrent_starts_make_one_attempt(app, peserta, demo, at_once):
    token = token_of(peserta)

    def tap():
        response = twin(app, peserta).post(
            f"/kuis/{demo['post']}/mulai", data={"csrf_token": token}
        )
        return response.headers["Location"]

    locations = at_once(tap, tap)
    assert len(set(locations)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1
        # The start that lost wrote none of its questions either.
        served = db.session.scalar(select(func.count()).select_from(AttemptAnswer))
        assert served == db.session.scalars(select(Attempt)).one().question_count


def test_attempts_run_out(app, peserta, demo):
    for _ in range(2):
        attempt_id = start(peserta, demo["post"])
        submit(peserta, attempt_id)
    page = peserta.get(f"/kuis/{demo['post']}").get_data(as_text=True)
    assert "Kesempatan mengerjakan sudah habis." in page


def test_old_attempts_keep_their_question_text_after_a_bank_change(app, peserta, demo, tmp_path):
    import shutil

    from bimtek.content.service import sync_content
    from tests.conftest import ROOT

    post = start(peserta, demo["post"])
    submit(peserta, post)
    before = peserta.get(f"/ujian/{post}/hasil").get_data(as_text=True)
    shutil.copytree(ROOT / "modules", tmp_path / "modules")
    shutil.copytree(ROOT / "quizzes", tmp_path / "quizzes")
    bank = tmp_path / "quizzes" / "kode-etik-penyelenggara.yaml"
    text = bank.read_text(encoding="utf-8")
    bank.write_text(
        re.sub(r"(explanation: \|\n)", r"\1      REVISI. ", text, count=1), encoding="utf-8"
    )
    with app.app_context():
        report = sync_content(tmp_path)
        db.session.commit()
        assert report.questions_updated == 1
    after = peserta.get(f"/ujian/{post}/hasil").get_data(as_text=True)
    assert CSRF_RE.sub("", after) == CSRF_RE.sub("", before)
    assert "REVISI" not in after


def test_item_analysis_and_kecamatan_summary(app, client, auth, demo, post_form, make_peserta):
    for index, right in enumerate((20, 16, 12, 8, 4)):
        nik = f"73220141079004{index:02d}"
        make_peserta(nik=nik, password="peserta-rahasia-9")
        c = app.test_client()
        post_form(c, "/login", {"username": nik, "password": "peserta-rahasia-9"})
        attempt_id = start(c, demo["post"])
        answer_some(c, app, attempt_id, right=right)
        submit(c, attempt_id)
    auth.login("admin", "demo-admin-2029")
    # The admin tries the post-test out: this attempt must not count in the item statistics.
    trial = start(client, demo["post"])
    submit(client, trial)
    page = client.get(f"/admin/kuis/{demo['post']}/analisis").get_data(as_text=True)
    assert "Malangke" in page and "Percobaan" in page
    assert page.count('<span class="mono">') >= 20
    with app.app_context():
        from bimtek.quiz.queries import item_analysis

        rows = item_analysis(db.session.get(Quiz, demo["post"]))
        assert {row.stats.n for row in rows} <= {1, 2, 3, 4, 5}
        assert sum(row.stats.n for row in rows) == 5 * 20
    auth.logout()
    auth.login("pelatih", "demo-pelatih-2029")
    trainer = client.get(f"/admin/kuis/{demo['post']}/analisis").get_data(as_text=True)
    assert (
        "Analisis butir soal" in trainer and "Percobaan" not in trainer
    )  # no names for trainers yet


def test_participants_cannot_reach_quiz_admin(peserta, demo):
    assert peserta.get(f"/admin/kuis/{demo['post']}/analisis").status_code == 403
    assert peserta.get("/admin/kursus/1/kuis").status_code == 403
    assert peserta.get("/admin/kursus/1/kuis/baru").status_code == 403


def test_admin_creates_a_module_quiz_and_gets_clear_errors(app, client, auth, demo, post_form):
    auth.login("admin", "demo-admin-2029")
    base = {"title": "Kuis modul 1", "draw_count": "5", "attempts_allowed": "3", "pass_mark": "70",
            "review_policy": "after_submit", "shuffle_questions": "y", "active": "y"}  # fmt: skip
    with app.app_context():
        module_id = db.session.scalars(select(Quiz)).first().course.course_modules[0].module_id
    ok = post_form(
        client, "/admin/kursus/1/kuis/baru", {**base, "kind": "module", "module_id": str(module_id)}
    )
    assert ok.status_code == 302
    duplicate = post_form(
        client, "/admin/kursus/1/kuis/baru", {**base, "kind": "post", "module_id": "0"}
    )
    assert "Kursus ini sudah punya Post-test." in duplicate.get_data(as_text=True)
    with app.app_context():
        db.session.execute(db.delete(Quiz).where(Quiz.kind == "pre"))
        db.session.commit()
    pre = post_form(client, "/admin/kursus/1/kuis/baru", {**base, "kind": "pre", "module_id": "0"})
    assert "Pre-test hanya boleh dikerjakan satu kali." in pre.get_data(as_text=True)
    assert pre.status_code == 400
    with app.app_context():
        module_quiz = db.session.scalars(select(Quiz).where(Quiz.kind == "module")).one()
        assert module_quiz.draw_count == 5 and module_quiz.module_id == module_id
        slug = module_quiz.module.slug
        quiz_id = module_quiz.id
    auth.logout()
    auth.login(PPS_NIK, PASSWORD)
    page = client.get(f"/kursus/1/modul/{slug}").get_data(as_text=True)
    assert f'href="/kuis/{quiz_id}"' in page and "Kuis modul: Kuis modul 1" in page
    attempt_id = start(client, quiz_id)
    with app.app_context():
        served_modules = {
            row.question_version.question.module_id
            for row in db.session.scalars(
                select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt_id)
            )
        }
        assert served_modules == {module_id}


def test_demo_participants_see_both_tests_on_the_course_page(peserta):
    page = peserta.get("/kursus/1").get_data(as_text=True)
    assert "Kerjakan Pre-test" in page and "Kerjakan Post-test" in page


def test_nothing_is_graded_for_a_user_without_attempts(app, demo):
    with app.app_context():
        user = db.session.scalars(select(User).where(User.nik == PPS_NIK)).one()
        from bimtek.quiz.service import course_result

        result = course_result(db.session.get(Course, 1), user)
        assert (result.pre, result.post, result.gain) == (None, None, None)


def test_an_overdue_attempt_is_graded_when_the_course_page_is_opened(app, peserta, demo):
    attempt_id = start(peserta, demo["post"])
    answer_some(peserta, app, attempt_id, right=2)
    with app.app_context():
        db.session.get(Attempt, attempt_id).deadline = utcnow() - timedelta(minutes=5)
        db.session.commit()
    page = peserta.get("/kursus/1").get_data(as_text=True)
    assert "skor 10" in page
    graded = attempt_row(app, attempt_id)
    assert graded.status == "expired" and graded.correct_count == 2
    # The second (last) attempt can start; the expired one counted.
    second = start(peserta, demo["post"])
    assert second != attempt_id


def test_a_form_post_after_the_deadline_keeps_only_what_was_saved_in_time(app, peserta, demo):
    attempt_id = start(peserta, demo["post"])
    rows = served(app, attempt_id)
    answer_some(peserta, app, attempt_id, right=3)
    with app.app_context():
        db.session.get(Attempt, attempt_id).deadline = utcnow() - timedelta(minutes=5)
        db.session.commit()
    late = {"positions": [str(p) for p, _, _ in rows], **{f"q{p}": a for p, a, _ in rows}}
    response = submit(peserta, attempt_id, late)
    assert response.headers["Location"].endswith("/hasil")
    assert attempt_row(app, attempt_id).correct_count == 3


def test_many_phones_saving_at_once_lose_nothing(app, demo, make_peserta, post_form, at_once):
    """Eight participants save twenty answers each at the same moment: no 'database is locked',
    no lost answer (SQLite takes the write lock late and briefly; PostgreSQL locks rows)."""
    phones = []
    for index in range(8):
        nik = f"73220141079005{index:02d}"
        make_peserta(nik=nik, password="peserta-rahasia-8")
        c = app.test_client()
        post_form(c, "/login", {"username": nik, "password": "peserta-rahasia-8"})
        attempt_id = start(c, demo["post"])
        phones.append((c, attempt_id, token_of(c), served(app, attempt_id)))

    def tap(phone):
        c, attempt_id, token, rows = phone
        return [save(c, attempt_id, p, answer, token).status_code for p, answer, _ in rows]

    statuses = [
        status for phone in at_once(*[lambda p=p: tap(p) for p in phones]) for status in phone
    ]
    assert statuses.count(200) == 8 * 20
    with app.app_context():
        saved = db.session.scalar(
            select(func.count())
            .select_from(AttemptAnswer)
            .where(AttemptAnswer.saved_at.is_not(None))
        )
        assert saved == 8 * 20


def test_opening_and_closing_times_are_enforced_with_a_reason(app, peserta, demo):
    with app.app_context():
        quiz = db.session.get(Quiz, demo["post"])
        quiz.opens_at = utcnow() + timedelta(hours=1)
        db.session.commit()
    assert "Kuis belum dibuka." in peserta.get(f"/kuis/{demo['post']}").get_data(as_text=True)
    refused = peserta.post(f"/kuis/{demo['post']}/mulai", data={"csrf_token": token_of(peserta)})
    assert refused.headers["Location"].endswith(f"/kuis/{demo['post']}")
    with app.app_context():
        quiz = db.session.get(Quiz, demo["post"])
        quiz.opens_at, quiz.closes_at = None, utcnow() - timedelta(minutes=1)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
    assert "Kuis sudah ditutup." in peserta.get(f"/kuis/{demo['post']}").get_data(as_text=True)


def test_deadline_is_the_earlier_of_time_limit_and_closing_time(app, peserta, demo):
    closes = utcnow() + timedelta(minutes=10)
    with app.app_context():
        db.session.get(Quiz, demo["post"]).closes_at = closes
        db.session.commit()
    attempt = attempt_row(app, start(peserta, demo["post"]))

    assert abs((attempt.deadline - closes).total_seconds()) < 1
