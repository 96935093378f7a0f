"""A hall's "Mulai pre-test" (issue 16): one SELECT and the writes (two INSERTs on SQLite, one
statement on PostgreSQL) for a participant's pre-test, the pool kept per process while the
database's pool generation is unchanged, and every other case left to the general path; on
SQLite and PostgreSQL."""

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.learning.models import Course, CourseModule, Module
from bimtek.quiz import service as quiz_service
from bimtek.quiz.models import (
    Attempt,
    AttemptAnswer,
    PoolGeneration,
    Question,
    QuestionVersion,
    Quiz,
)
from bimtek.timeutil import utcnow
from tests.conftest import ROOT, Auth
from tests.test_hall import listing, request_statements, statements, work, writes_late_on_sqlite
from tests.test_quiz_flow import start, token_of

PPS_NIK, PPK_NIK, PASSWORD = "7322011203950002", "7322014107900001", "demo-peserta-2029"


def generation() -> int:
    return db.session.scalar(select(PoolGeneration.value))


def pre_test(course_id: int = 1) -> Quiz:
    return db.session.scalars(
        select(Quiz).where(Quiz.course_id == course_id, Quiz.kind == "pre")
    ).one()


def frozen_questions(app, attempt_id) -> set[int]:
    with app.app_context():
        return set(
            db.session.scalars(
                select(QuestionVersion.question_id)
                .join(AttemptAnswer, AttemptAnswer.question_version_id == QuestionVersion.id)
                .where(AttemptAnswer.attempt_id == attempt_id)
            )
        )


def test_a_participant_s_pre_test_starts_in_one_select_and_its_inserts(app, client, auth, demo):
    with app.app_context():
        quiz_id = pre_test().id
    # Another participant's start reads the pool and the drawn questions' options first.
    assert auth.login(PPK_NIK, PASSWORD).status_code == 302
    first = start(client, quiz_id)
    auth.logout()
    assert auth.login(PPS_NIK, PASSWORD).status_code == 302
    token = token_of(client, f"/kuis/{quiz_id}")
    response, everything = request_statements(
        app, lambda: client.post(f"/kuis/{quiz_id}/mulai", data={"csrf_token": token}), True
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    seen = work(everything)
    verbs = [s.split()[0].upper() for s in seen]
    # The account, the quiz, its course, the attempts and the pool generation; the pool and the
    # options are this process's from the first start; then the attempt and its questions: two
    # INSERTs on SQLite, one statement holding both on PostgreSQL.
    assert verbs[0] == "SELECT" and verbs.count("SELECT") <= 2, listing(seen)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert verbs[-1] == "WITH" and len(seen) <= 3, listing(seen)
        assert "INSERT INTO attempt " in seen[-1] and "INSERT INTO attempt_answer " in seen[-1]
    else:
        assert verbs[-2:] == ["INSERT", "INSERT"] and len(seen) <= 4, listing(seen)
    writes_late_on_sqlite(app, everything)
    attempt_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert attempt_id != first
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        mine = db.session.scalars(select(User.id).where(User.nik == PPS_NIK)).one()
        assert (attempt.user_id, attempt.quiz_id, attempt.status) == (mine, quiz_id, "open")
        stored = db.session.scalar(
            select(func.count())
            .select_from(AttemptAnswer)
            .where(AttemptAnswer.attempt_id == attempt_id)
        )
        assert stored == attempt.question_count == db.session.get(Quiz, quiz_id).draw_count
    # Pressing "Mulai" again (a double tap, another tab) resumes the same attempt: no writes.
    response, seen = request_statements(
        app, lambda: client.post(f"/kuis/{quiz_id}/mulai", data={"csrf_token": token})
    )
    assert response.headers["Location"].endswith(f"/ujian/{attempt_id}")
    assert [s.split()[0].upper() for s in seen] == ["SELECT"], listing(seen)


def _table_changes():
    """One change of each kind to each table a pool is read from."""

    def question_version_insert():
        old = db.session.scalars(select(QuestionVersion).limit(1)).one()
        question = db.session.get(Question, old.question_id)
        db.session.add(QuestionVersion(
            question_id=question.id, version_no=question.current_version_no + 1,
            sha256="e" * 64, type=old.type, stem_html=old.stem_html, options=old.options,
            answer=old.answer, explanation_html=old.explanation_html, source=old.source,
        ))  # fmt: skip

    def question_delete():
        db.session.execute(delete(Question).where(Question.qid == "ke-hapus-1"))

    def course_module_delete():
        db.session.execute(
            delete(CourseModule).where(
                CourseModule.id == select(func.max(CourseModule.id)).scalar_subquery()
            )
        )

    def course_module_insert():
        used = select(CourseModule.module_id).where(CourseModule.course_id == 2)
        module_id = db.session.scalars(
            select(CourseModule.module_id).where(CourseModule.module_id.not_in(used)).limit(1)
        ).first()
        db.session.execute(
            insert(CourseModule).values(course_id=2, module_id=module_id, position=99)
        )

    return {
        "question update (retire)": lambda: db.session.execute(
            update(Question).where(Question.id == 1).values(retired=True)
        ),
        "question delete": question_delete,
        "question insert": lambda: db.session.execute(
            insert(Question).values(qid="ke-baru-1", module_id=1, current_version_no=1)
        ),
        "question_version insert (an edit)": question_version_insert,
        "question_version update": lambda: db.session.execute(
            update(QuestionVersion).where(QuestionVersion.id == 1).values(topic="lain")
        ),
        "question_version delete": lambda: db.session.execute(
            delete(QuestionVersion).where(
                QuestionVersion.id.not_in(select(AttemptAnswer.question_version_id)),
                QuestionVersion.id == select(func.max(QuestionVersion.id)).scalar_subquery(),
            )
        ),
        "course_module update (reorder)": lambda: db.session.execute(
            update(CourseModule)
            .where(CourseModule.course_id == 1)
            .values(position=10 - CourseModule.position)
        ),
        "course_module insert": course_module_insert,
        "course_module delete": course_module_delete,
    }


@pytest.mark.parametrize("change", list(_table_changes()))
def test_every_change_to_a_pool_s_tables_gives_a_new_pool_generation(app, demo, change):
    """Triggers, not the code that writes: a bank upload, a content sync, the workspace, a
    module swap and plain SQL all change what a pool is read from through these tables."""
    with app.app_context():
        if change == "question delete":  # a question with no versions yet, to delete
            db.session.execute(insert(Question).values(qid="ke-hapus-1", module_id=1))
            db.session.commit()
        before = generation()
        assert before is not None
        _table_changes()[change]()
        db.session.commit()
        assert generation() != before
        # A change elsewhere leaves it alone.
        again = generation()
        db.session.execute(update(Course).where(Course.id == 1).values(title="Bimtek PPS"))
        db.session.commit()
        assert generation() == again


def test_a_kept_pool_is_used_only_at_its_generation(app, demo):
    quiz_service._POOL_AT.clear()  # nothing kept from an earlier test's database
    with app.app_context():
        quiz = pre_test()
        now = generation()
        db.session.commit()
        with statements(app) as seen:
            first = quiz_service.question_pool(quiz, now)
        assert len(work(seen)) == 1 and len(first) > 20
        with statements(app) as seen:
            assert quiz_service.question_pool(quiz, now) == first
        assert seen == []  # kept: no query
        db.session.execute(
            update(Question).where(Question.id == first[0].question_id).values(retired=True)
        )
        db.session.commit()
        changed = generation()
        with statements(app) as seen:
            after = quiz_service.question_pool(quiz, changed)
        assert len(work(seen)) == 1
        assert first[0].question_id not in {item.question_id for item in after}
        assert after == first[1:]


def test_a_pre_test_whose_bank_is_empty_says_so_and_writes_nothing(app, client, auth, demo):
    """Every question retired after this process kept the pool (the quiz page read it): the
    next "Mulai" reads the empty pool at the new generation and tells the participant, with
    no attempt written."""
    with app.app_context():
        quiz_id = pre_test().id
    assert auth.login(PPS_NIK, PASSWORD).status_code == 302
    token = token_of(client, f"/kuis/{quiz_id}")
    with app.app_context():
        db.session.execute(update(Question).values(retired=True))
        db.session.commit()
    response = client.post(f"/kuis/{quiz_id}/mulai", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/kuis/{quiz_id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Belum ada soal untuk kuis ini. Hubungi pelatih." in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
        assert quiz_service.question_pool(pre_test(), generation()) == []


def test_a_question_retired_by_another_process_is_never_drawn_by_the_next_start(
    app, client, auth, post_form, demo, tmp_path
):
    """A kept pool, then a bank file losing a question and `bimtek content sync` run in a
    terminal beside the server (another process: nothing in this one hears of it), then the
    next participant's start."""
    with app.app_context():
        quiz = pre_test()
        quiz_id, pool = quiz.id, quiz_service.question_pool(quiz)
        quiz.draw_count = len(pool)  # every live question is drawn: the retired one would be too
        retired = db.session.get(Question, pool[3].question_id)
        module = db.session.get(Module, retired.module_id)
        db.session.commit()
    assert auth.login(PPK_NIK, PASSWORD).status_code == 302
    first = start(client, quiz_id)
    assert frozen_questions(app, first) == {item.question_id for item in pool}
    # The next participant is signed in and on a page that does not read the pool.
    phone = app.test_client()
    Auth(phone, post_form).login(PPS_NIK, PASSWORD)
    token = token_of(phone, "/")
    for folder in ("modules", "quizzes"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    bank = tmp_path / "quizzes" / f"{module.slug}.yaml"
    head, *items = bank.read_text(encoding="utf-8").split("\n  - id: ")
    kept = [item for item in items if not item.startswith(f"{retired.qid}\n")]
    assert len(kept) == len(items) - 1
    bank.write_text("\n  - id: ".join([head, *kept]), encoding="utf-8")
    env = {**os.environ, "BIMTEK_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "BIMTEK_CONTENT_DIR": str(tmp_path), "BIMTEK_SECRET_KEY": "uji"}  # fmt: skip
    sync = subprocess.run([str(Path(sys.executable).with_name("bimtek")), "content", "sync"],
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert sync.returncode == 0 and "1 dipensiunkan" in sync.stdout, sync.stdout + sync.stderr
    response = phone.post(f"/kuis/{quiz_id}/mulai", data={"csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    second = int(response.headers["Location"].rsplit("/", 1)[1])
    assert frozen_questions(app, second) == {item.question_id for item in pool} - {retired.id}


def _refusals():
    """Cases the one-SELECT start must leave to the general path (it says why, or answers
    404, or sends the user elsewhere): each a change to the demo for the PPS participant."""

    def user(**values):
        return lambda quiz: db.session.execute(
            update(User).where(User.nik == PPS_NIK).values(**values)
        )

    def quiz_values(**values):
        return lambda quiz: db.session.execute(
            update(Quiz).where(Quiz.id == quiz.id).values(**values)
        )

    def course_values(**values):
        return lambda quiz: db.session.execute(
            update(Course).where(Course.id == quiz.course_id).values(**values)
        )

    def attempt_of(kind, status, deadline=None):
        def make(quiz):
            target = db.session.scalars(
                select(Quiz).where(Quiz.course_id == quiz.course_id, Quiz.kind == kind)
            ).first()
            db.session.add(Attempt(
                quiz_id=target.id, user_id=db.session.scalars(
                    select(User.id).where(User.nik == PPS_NIK)).one(),
                attempt_no=1, seed=1, status=status, deadline=deadline, question_count=0,
            ))  # fmt: skip

        return make

    now = utcnow()
    return {
        "signed out (another session token)": user(session_token="x" * 43),
        "deactivated": user(active=False),
        "password to change": user(must_change_password=True),
        "staff": user(role="pelatih"),
        "not in the course's audience": user(badan="Sekretariat PPS"),
        "another kabupaten's participant": user(office_id=3),
        "quiz switched off": quiz_values(active=False),
        "course switched off": course_values(active=False),
        "not open yet": quiz_values(opens_at=now + timedelta(hours=1)),
        "closed": quiz_values(closes_at=now - timedelta(minutes=1)),
        "pre-test already sent": attempt_of("pre", "submitted"),
        "post-test begun": attempt_of("post", "open"),
        "an attempt past its time": attempt_of("post", "open", now - timedelta(hours=1)),
    }


@pytest.mark.parametrize("case", list(_refusals()))
def test_the_one_select_start_leaves_every_other_case_to_the_general_path(app, demo, case):
    with app.app_context():
        quiz = pre_test()
        token = db.session.scalars(select(User.session_token).where(User.nik == PPS_NIK)).one()
        _refusals()[case](quiz)
        db.session.commit()
        attempts = db.session.scalar(select(func.count()).select_from(Attempt))
        assert quiz_service.start_for_token(token, quiz.id, utcnow()) is None
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == attempts


def test_the_one_select_start_is_for_the_pre_test_only(app, demo):
    """A post-test or module quiz waits for the modules read (order_lock): the general path."""
    with app.app_context():
        token = db.session.scalars(select(User.session_token).where(User.nik == PPS_NIK)).one()
        others = db.session.scalars(select(Quiz.id).where(Quiz.kind != "pre")).all()
        assert others
        for quiz_id in others:
            assert quiz_service.start_for_token(token, quiz_id, utcnow()) is None
        assert quiz_service.start_for_token(token, 10_000, utcnow()) is None  # no such quiz
        assert quiz_service.start_for_token(None, pre_test().id, utcnow()) is None
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
