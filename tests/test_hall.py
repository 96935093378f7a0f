"""A whole hall at once (issue 16): password scheme and its upgrade at sign-in, quiz start,
check-in and the projector count in a bounded number of statements; on SQLite and PostgreSQL."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event, select
from werkzeug.security import generate_password_hash

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.timeutil import utcnow
from tests.test_attendance import course_id, make_session, people  # noqa: F401 (fixtures)

NIK = "7322014107000901"
PASSWORD = "gunung-latimojong-9"


def stored_hash(app, user_id) -> str:
    with app.app_context():
        return db.session.get(User, user_id).password_hash


def set_hash(app, user_id, value) -> None:
    with app.app_context():
        db.session.get(User, user_id).password_hash = value
        db.session.commit()


@contextmanager
def statements(app):
    """The SQL statements run inside the block (a list of their texts)."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def argon_app(app):
    """The production scheme: no test-only PBKDF2 method."""
    app.config["BIMTEK_PASSWORD_HASH_METHOD"] = None
    return app


@pytest.mark.parametrize(
    "old",
    [
        generate_password_hash(PASSWORD),  # werkzeug's default scrypt
        generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),  # an initial password
    ],
    ids=["scrypt", "pbkdf2-initial"],
)
def test_an_old_hash_becomes_argon2id_at_the_next_sign_in(argon_app, client, auth, make_peserta,
                                                         old):  # fmt: skip
    user_id = make_peserta(nik=NIK)
    set_hash(argon_app, user_id, old)
    # A wrong password signs nobody in and leaves the hash as it was.
    assert auth.login(NIK, "bukan-sandinya-1").status_code == 401
    assert stored_hash(argon_app, user_id) == old
    response = auth.login(NIK, PASSWORD)
    assert response.status_code == 302
    new = stored_hash(argon_app, user_id)
    assert new.startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # OWASP's argon2id minimum
    auth.logout()
    # The new hash signs in with the same password, and is not rewritten again.
    assert auth.login(NIK, PASSWORD).status_code == 302
    assert stored_hash(argon_app, user_id) == new


def test_a_new_password_is_stored_as_argon2id(argon_app, client, auth, make_peserta, post_form):
    make_peserta(nik=NIK, must_change=True)
    auth.login(NIK, "awal-rahasia-1")
    response = post_form(
        client,
        "/akun/kata-sandi",
        {"current_password": "awal-rahasia-1", "new_password": PASSWORD,
         "confirm": PASSWORD},
    )  # fmt: skip
    assert response.status_code == 302
    with argon_app.app_context():
        user = db.session.scalars(select(User).where(User.nik == NIK)).one()
        assert user.password_hash.startswith("$argon2id$")
        assert not user.must_change_password


PPS_NIK = "7322011203950002"  # a demo participant


def test_quiz_start_runs_a_fixed_small_number_of_statements(app, demo):
    from bimtek.quiz import service as quiz_service
    from bimtek.quiz.models import AttemptAnswer, Quiz

    with app.app_context():
        quiz = db.session.scalars(select(Quiz).where(Quiz.course_id == 1, Quiz.kind == "pre")).one()
        user = db.session.scalars(select(User).where(User.nik == PPS_NIK)).one()
        quiz_id, user_id = quiz.id, user.id
        db.session.commit()
    with app.app_context():
        quiz, user = db.session.get(Quiz, quiz_id), db.session.get(User, user_id)
        with statements(app) as seen:
            attempt = quiz_service.start_attempt(quiz, user)
            db.session.commit()
        served = attempt.question_count
    for s in seen:
        print(s[:150].replace("\n", " "))
    with app.app_context():
        stored = db.session.scalars(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id)
        ).all()
    # Every drawn question is frozen, whatever the size of the test...
    assert served >= 10 and len(stored) == served
    # ...in a number of statements that does not grow with it (was one INSERT per question).
    assert len(seen) <= 12, "\n".join(s[:200] for s in seen)


def test_a_check_in_is_three_statements_and_the_projector_counts_with_a_query(
    app,
    client,
    auth,
    make_session,  # noqa: F811
    people,  # noqa: F811
    post_form,
):
    from bimtek.attendance import queries, service
    from bimtek.attendance.models import AttendanceChange, TrainingSession
    from tests.test_attendance import PERIOD, code_of

    session_id = make_session()
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        user = db.session.get(User, people["pps"])
        with statements(app) as seen:
            result = service.check_in(
                session, user, code_of(session), utcnow(), PERIOD, service.Origin(ip="10.0.0.9")
            )
            db.session.commit()
        assert result.created and result.attendance.status == "hadir"
        assert result.attendance.ip == "10.0.0.9"
        # One SELECT, the attendance INSERT ... RETURNING, the change-log INSERT (+ COMMIT).
        work = [s for s in seen if s.strip().upper() != "COMMIT"]
        assert len(work) <= 3, "\n".join(s[:200] for s in work)
        changes = db.session.scalars(
            select(AttendanceChange).where(AttendanceChange.session_id == session_id)
        ).all()
        assert [(c.user_id, c.old_status, c.new_status) for c in changes] == [
            (people["pps"], None, "hadir")
        ]
        # A repeat is one SELECT and records nothing more.
        with statements(app) as again:
            repeat = service.check_in(
                session, user, code_of(session), utcnow(), PERIOD, service.Origin()
            )
        assert not repeat.created and len(again) == 1
        # The projector's count, by one query, agrees with the daftar hadir.
        session = db.session.get(TrainingSession, session_id)
        with statements(app) as counted:
            by_query = queries.status_counts(session)
        assert len(counted) == 1
        assert dict(by_query) == dict(queries.counts(queries.invitee_rows(session)))
        assert by_query["hadir"] == 1 and by_query["total"] == 2  # Sitti and Budi (PPS, Malangke)
    auth.login("pelatih1", "rahasia-pelatih-1")
    page = client.get(f"/sesi/{session_id}/proyektor").get_data(as_text=True)
    assert "1 dari 2 peserta sudah hadir" in page
