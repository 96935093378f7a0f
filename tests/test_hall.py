"""A whole hall at once (issue 16): password scheme and its upgrade at sign-in, quiz start,
check-in and the projector count in a bounded number of statements; on SQLite and PostgreSQL."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event, select
from werkzeug.security import generate_password_hash

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.timeutil import utcnow
from tests.test_attendance import make_session, people  # noqa: F401 (fixtures)
from tests.test_quiz_flow import start as start_quiz

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


def test_the_pool_read_as_one_text_follows_every_change_of_the_bank(app, demo):
    """The pool a start draws from is read as one text and parsed once per text: it is still
    the live, current versions in the course's module order after questions are retired or
    edited and the modules reordered."""
    from bimtek.learning.models import CourseModule
    from bimtek.quiz import service as quiz_service
    from bimtek.quiz.models import Question, QuestionVersion, Quiz

    def expected(course_id):
        return [
            (v.id, v.question_id, q.module_id, q.qid, v.type, v.sha256)
            for v, q, _ in db.session.execute(
                select(QuestionVersion, Question, CourseModule)
                .join(Question, Question.id == QuestionVersion.question_id)
                .join(CourseModule, CourseModule.module_id == Question.module_id)
                .where(
                    CourseModule.course_id == course_id,
                    Question.retired.is_(False),
                    QuestionVersion.version_no == Question.current_version_no,
                )
                .order_by(CourseModule.position, CourseModule.id, Question.qid)
            )
        ]

    with app.app_context():
        quiz = db.session.scalars(select(Quiz).where(Quiz.course_id == 1, Quiz.kind == "pre")).one()
        first = quiz_service.question_pool(quiz)
        assert [tuple(item) for item in first] == expected(1) and len(first) > 20
        # Retire one question, give another a new version, swap the first two modules.
        retired, edited = (db.session.get(Question, item.question_id) for item in first[:2])
        retired.retired = True
        old = db.session.get(QuestionVersion, first[1].id)
        db.session.add(QuestionVersion(
            question_id=edited.id, version_no=edited.current_version_no + 1, sha256="f" * 64,
            type=old.type, stem_html=old.stem_html, options=old.options, answer=old.answer,
            explanation_html=old.explanation_html, source=old.source,
        ))  # fmt: skip
        edited.current_version_no += 1
        one, two = db.session.scalars(
            select(CourseModule).where(CourseModule.course_id == 1).order_by(CourseModule.position)
        ).all()[:2]
        one.position, two.position = two.position, one.position
        db.session.commit()
        again = quiz_service.question_pool(quiz)
        assert [tuple(item) for item in again] == expected(1)
        assert first[0].question_id not in {item.question_id for item in again}
        assert again != first and again[0].module_id != first[0].module_id


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


def test_the_check_in_page_reads_a_fixed_number_of_statements_however_many_sessions_are_open(
    app,
    client,
    auth,
    make_session,  # noqa: F811
    people,  # noqa: F811
):
    """The page a hall opens to type the code. Sessions whose rule does not invite them
    (another kecamatan, another badan) are judged in Python, not by a query each."""
    from tests.test_attendance import login_peserta

    mine = make_session(title="Hari 1 Malangke")
    for number in range(6):
        make_session(title=f"Sesi lain {number}", kecamatan=["73.22.03"], badan=("PPK",))
    login_peserta(app, client, auth, people)

    def page_statements():
        response, seen = request_statements(app, lambda: client.get(f"/hadir?s={mine}"))
        assert response.status_code == 200
        return response.get_data(as_text=True), seen

    page_statements()  # the first page reads the region names the office's zone comes from
    text, seen = page_statements()
    assert "Hari 1 Malangke" in text and "Sesi lain" not in text
    # The user, today's sessions, which invite them, their own list (with the evaluation
    # links) and the office row.
    assert len(seen) <= 6, listing(seen)
    for number in range(6, 12):
        make_session(title=f"Sesi lain {number}", kecamatan=["73.22.03"])
    text, again = page_statements()
    assert len(again) == len(seen), listing(again)


# ---- sign-in by the QR code on the sheet -------------------------------------------------


def issue_token(app, user_id, now=None) -> str:
    from bimtek.accounts import signin_tokens

    with app.app_context():
        token = signin_tokens.issue([user_id], now=now)[user_id]
        db.session.commit()
        return token


def scan(client, token):
    """What a phone does with the QR: open the link, press "Masuk"."""
    from tests.conftest import csrf_token

    page = client.get(f"/masuk/{token}")
    assert page.status_code == 200 and "Masuk dengan kode QR" in page.get_data(as_text=True)
    return client.post(
        f"/masuk/{token}", data={"csrf_token": csrf_token(client, f"/masuk/{token}")}
    )


def test_a_qr_token_signs_in_once_and_forces_a_password_change(app, client, make_peserta):
    from bimtek.accounts.models import SignInToken

    user_id = make_peserta(nik=NIK)  # has already chosen a password
    token = issue_token(app, user_id)
    with app.app_context():  # only the hash is stored
        assert db.session.scalars(select(SignInToken.token_hash)).all() != [token]
    response = scan(client, token)
    assert response.status_code == 302 and response.headers["Location"].endswith("/akun/kata-sandi")
    # Signed in, and nothing else opens before a new password is chosen.
    assert client.get("/").headers["Location"].startswith("/akun/kata-sandi")
    with app.app_context():
        assert db.session.get(User, user_id).must_change_password
    other = app.test_client()
    again = scan(other, token)
    assert again.status_code == 410
    assert "sudah pernah dipakai" in again.get_data(as_text=True)
    assert other.get("/").status_code == 302  # still signed out: to the sign-in page
    assert "/login" in other.get("/").headers["Location"]


def test_expired_and_replaced_qr_tokens_are_refused(app, client, make_peserta, post_form):
    from datetime import timedelta

    user_id = make_peserta(nik=NIK)
    old = issue_token(app, user_id, now=utcnow() - timedelta(days=15))
    refused = scan(client, old)
    assert refused.status_code == 410 and "sudah kedaluwarsa" in refused.get_data(as_text=True)
    first = issue_token(app, user_id)
    second = issue_token(app, user_id)  # a new sheet or slip: the earlier QR stops working
    refused = scan(client, first)
    assert refused.status_code == 410 and "tidak berlaku" in refused.get_data(as_text=True)
    assert scan(client, second).status_code == 302
    # A password change retires a token still unused.
    third = issue_token(app, user_id)
    response = post_form(
        client, "/akun/kata-sandi",
        {"current_password": "awal-rahasia-1", "new_password": PASSWORD, "confirm": PASSWORD},
    )  # fmt: skip
    assert response.status_code == 302
    assert scan(app.test_client(), third).status_code == 410


def test_guessing_qr_tokens_is_rate_limited(app, client):
    app.config["BIMTEK_TOKEN_LIMIT"] = "3 per minute"
    from tests.conftest import csrf_token

    token = csrf_token(client, "/login")
    codes = [
        client.post(f"/masuk/tebakan-{i:024d}", data={"csrf_token": token}).status_code
        for i in range(5)
    ]
    assert codes == [410, 410, 410, 429, 429]


def test_the_credentials_sheet_carries_a_qr_that_signs_in(app, client, make_peserta):
    import io

    import zxingcpp
    from openpyxl import load_workbook
    from PIL import Image

    from bimtek.accounts.import_sheets import build_credentials
    from bimtek.accounts.importer import Credential

    user_id = make_peserta(nik=NIK)
    token = issue_token(app, user_id)
    row = Credential("Malangke", "Desa Pao", "Sitti Aminah", NIK, "PPS", "Anggota", "abcd", token)
    data = build_credentials(
        [row], "1 Desember 2026", qr_link=lambda t: f"http://aula.test/masuk/{t}"
    )
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet["G4"].value == "Atau pindai untuk masuk"
    (image,) = sheet._images
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(image._data())))
    assert found.text == f"http://aula.test/masuk/{token}"
    response = scan(client, found.text.removeprefix("http://aula.test/masuk/"))
    assert response.headers["Location"].endswith("/akun/kata-sandi")


def test_the_reset_slip_shows_a_qr_and_retires_the_earlier_one(app, client, auth, make_peserta,
                                                               make_staff):  # fmt: skip
    user_id = make_peserta(nik=NIK)
    earlier = issue_token(app, user_id)
    make_staff("admin", "admin1", "rahasia-admin-1")
    auth.login("admin1", "rahasia-admin-1")
    from tests.conftest import csrf_token

    path = f"/admin/peserta/{user_id}/atur-ulang-sandi"
    slip = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert slip.status_code == 200
    assert "<svg" in slip.get_data(as_text=True) and "pindai kode QR" in slip.get_data(as_text=True)
    assert scan(app.test_client(), earlier).status_code == 410


# ---- a whole request, as a phone in the hall sends it --------------------------------------
# Every statement a request runs (the sign-in check included), BEGIN and COMMIT left out. The
# numbers are today's; a change that adds a query to one of these paths has to say why here.

DEMO_PASSWORD = "demo-peserta-2029"


def work(seen: list[str]) -> list[str]:
    return [s for s in seen if s.strip().split()[0].upper() not in ("BEGIN", "COMMIT")]


def request_statements(app, call, everything=False) -> tuple[object, list[str]]:
    with app.app_context(), statements(app) as seen:
        response = call()
    return response, seen if everything else work(seen)


def writes_late_on_sqlite(app, seen: list[str]) -> None:
    """On SQLite the write lock (BEGIN IMMEDIATE) is taken after the reads, right before the
    first write; PostgreSQL runs no BEGIN statement of its own."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    verbs = [" ".join(s.split()[:2]).upper() for s in seen]
    first_write = next(i for i, v in enumerate(verbs) if v.split()[0] in ("INSERT", "UPDATE"))
    assert verbs[first_write - 1] == "BEGIN IMMEDIATE", verbs
    assert "BEGIN IMMEDIATE" not in verbs[: first_write - 1], verbs


def listing(seen: list[str]) -> str:
    return "\n".join(" ".join(s.split())[:160] for s in seen)


def test_a_participant_s_quiz_requests_run_few_statements(app, client, auth, demo):
    from bimtek.quiz.models import Attempt, AttemptAnswer, Quiz
    from tests.conftest import csrf_token

    with app.app_context():
        quiz_id = db.session.scalars(
            select(Quiz.id).where(Quiz.course_id == 1, Quiz.kind == "pre")
        ).one()
    assert auth.login(PPS_NIK, DEMO_PASSWORD).status_code == 302
    token = csrf_token(client, f"/kuis/{quiz_id}")

    # "Mulai": the account, the quiz with its course and the participant's attempts in one
    # SELECT, the pool and the drawn questions' options (unless this process has them), then
    # the attempt and its frozen questions (test_quiz_start has the warm case).
    response, everything = request_statements(
        app, lambda: client.post(f"/kuis/{quiz_id}/mulai", data={"csrf_token": token}), True
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    seen = work(everything)
    assert len(seen) <= 5, listing(seen)
    writes_late_on_sqlite(app, everything)
    attempt_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        frozen = db.session.scalars(
            select(AttemptAnswer)
            .where(AttemptAnswer.attempt_id == attempt_id)
            .order_by(AttemptAnswer.position)
        ).all()
        assert attempt.status == "open" and len(frozen) == attempt.question_count >= 10
        choices = [(a.position, a.option_order[0]) for a in frozen]

    # An answer as it is chosen: one UPDATE (it checks the signed-in account and the attempt,
    # and brings back what the choice is checked against).
    token = csrf_token(client, f"/ujian/{attempt_id}")
    for position, key in choices:
        response, seen = request_statements(
            app,
            lambda p=position, k=key: client.post(
                f"/ujian/{attempt_id}/jawab",
                json={"position": p, "selected": [k]},
                headers={"X-CSRFToken": token},
            ),
        )
        assert response.status_code == 200 and response.get_json()["ok"], response.get_data()
        assert len(seen) <= 1, listing(seen)

    # The submit, carrying the same choices: the attempt with its answers (and the sign-in
    # check) in one SELECT, the grade, the marks.
    form = {"csrf_token": token, "action": "kirim", "positions": [str(p) for p, _ in choices]}
    form.update({f"q{p}": k for p, k in choices})
    response, seen = request_statements(app, lambda: client.post(f"/ujian/{attempt_id}", data=form))
    assert response.headers["Location"].endswith(f"/ujian/{attempt_id}/hasil")
    assert len(seen) <= 3, listing(seen)
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        marks = db.session.scalars(
            select(AttemptAnswer.correct).where(AttemptAnswer.attempt_id == attempt_id)
        ).all()
        assert attempt.status == "submitted" and attempt.correct_count == sum(marks)
        assert None not in marks and len(marks) == len(choices)
        saved = db.session.scalars(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt_id)
        ).all()
        assert sorted((a.position, a.selected) for a in saved) == [
            (p, [k]) for p, k in sorted(choices)
        ]


def test_an_answer_save_keeps_only_the_question_s_own_keys(app, client, auth, demo):
    """What a client may send wrongly (two choices for a one-answer question, a key of another
    kind of question) is stored as the question allows, the same as before the save became
    one statement."""
    from bimtek.quiz.models import AttemptAnswer, QuestionVersion, Quiz
    from tests.conftest import csrf_token

    with app.app_context():
        quiz_id = db.session.scalars(
            select(Quiz.id).where(Quiz.course_id == 1, Quiz.kind == "pre")
        ).one()
    auth.login(PPS_NIK, DEMO_PASSWORD)
    attempt_id = start_quiz(client, quiz_id)
    with app.app_context():
        rows = db.session.execute(
            select(AttemptAnswer.position, AttemptAnswer.option_order, QuestionVersion.type)
            .join(QuestionVersion)
            .where(AttemptAnswer.attempt_id == attempt_id)
        ).all()
    single = next(r for r in rows if r.type == "single")
    token = csrf_token(client, f"/ujian/{attempt_id}")

    def save(position, selected):
        response = client.post(
            f"/ujian/{attempt_id}/jawab",
            json={"position": position, "selected": selected},
            headers={"X-CSRFToken": token},
        )
        assert response.status_code == 200, response.get_data()
        with app.app_context():
            return db.session.scalars(
                select(AttemptAnswer.selected).where(
                    AttemptAnswer.attempt_id == attempt_id, AttemptAnswer.position == position
                )
            ).one()

    first, second = single.option_order[1], single.option_order[0]
    assert save(single.position, [first, second]) == [first]  # one answer: the first sent
    assert save(single.position, ["benar"]) == []  # a true/false key: not an option here
    assert save(single.position, [second, second]) == [second]


def test_an_answer_save_still_checks_who_is_signed_in(app, client, auth, demo):
    """The save checks the sign-in inside its own query; what it answers when that fails is
    what the usual checks answer: the password change first, the sign-in page when the
    account was switched off, a 404 for someone else's attempt."""
    from bimtek.quiz.models import Quiz
    from tests.conftest import csrf_token

    with app.app_context():
        quiz_id = db.session.scalars(
            select(Quiz.id).where(Quiz.course_id == 1, Quiz.kind == "pre")
        ).one()
        user_id = db.session.scalars(select(User.id).where(User.nik == PPS_NIK)).one()
    auth.login(PPS_NIK, DEMO_PASSWORD)
    attempt_id = start_quiz(client, quiz_id)
    token = csrf_token(client, f"/ujian/{attempt_id}")

    def save():
        return client.post(
            f"/ujian/{attempt_id}/jawab",
            json={"position": 1, "selected": ["a"]},
            headers={"X-CSRFToken": token},
        )

    assert save().status_code == 200

    def set_user(**values):
        with app.app_context():
            user = db.session.get(User, user_id)
            for name, value in values.items():
                setattr(user, name, value)
            db.session.commit()

    set_user(must_change_password=True)
    refused = save()
    assert refused.status_code == 302 and "/akun/kata-sandi" in refused.headers["Location"]
    set_user(must_change_password=False, active=False)
    refused = save()
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    set_user(active=True)
    assert save().status_code == 200
    # Another participant's session: that attempt does not exist for them.
    other = app.test_client()
    with app.app_context():
        other_nik = db.session.scalars(
            select(User.nik).where(User.role == "peserta", User.nik != PPS_NIK)
        ).first()
    from tests.conftest import Auth

    def post_form(c, path, data):
        return c.post(path, data={"csrf_token": csrf_token(c, path), **data})

    assert Auth(other, post_form).login(other_nik, DEMO_PASSWORD).status_code == 302
    assert (
        other.post(
            f"/ujian/{attempt_id}/jawab",
            json={"position": 1, "selected": ["a"]},
            headers={"X-CSRFToken": csrf_token(other, "/")},
        ).status_code
        == 404
    )
    # Signed out (a valid form token, no account): the sign-in page, as before.
    signed_out = app.test_client()
    refused = signed_out.post(
        f"/ujian/{attempt_id}/jawab",
        json={"position": 1, "selected": ["a"]},
        headers={"X-CSRFToken": csrf_token(signed_out, "/login")},
    )
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]


def test_a_check_in_request_runs_few_statements(
    app,
    client,
    auth,
    make_session,  # noqa: F811
    people,  # noqa: F811
):
    from bimtek.attendance.models import Attendance, AttendanceChange, TrainingSession
    from tests.conftest import csrf_token
    from tests.test_attendance import code_of, login_peserta

    session_id = make_session()
    login_peserta(app, client, auth, people)
    token = csrf_token(client, f"/hadir?s={session_id}")
    with app.app_context():
        code = code_of(db.session.get(TrainingSession, session_id))
    form = {"csrf_token": token, "kode": code, "session_id": str(session_id), "via": ""}
    # One SELECT (the account by its session token, the session with this participant's state
    # in it), the attendance row and its line in the change log: two INSERTs on SQLite, one
    # statement on PostgreSQL. The account is not loaded: not for the sign-in, not for the rate
    # limit's key (the page before it loaded it once).
    response, everything = request_statements(app, lambda: client.post("/hadir", data=form), True)
    assert response.status_code == 302, response.get_data(as_text=True)
    seen = work(everything)
    verbs = [s.split()[0].upper() for s in seen]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert verbs == ["SELECT", "WITH"], listing(seen)
        assert "INSERT INTO attendance " in seen[1] and "INSERT INTO attendance_change " in seen[1]
    else:
        assert verbs == ["SELECT", "INSERT", "INSERT"], listing(seen)
    assert "session_token" in seen[0]
    writes_late_on_sqlite(app, everything)
    with app.app_context():
        (row,) = db.session.scalars(
            select(Attendance).where(Attendance.session_id == session_id)
        ).all()
        assert (row.user_id, row.status, row.method) == (people["pps"], "hadir", "kode")
        (change,) = db.session.scalars(
            select(AttendanceChange).where(AttendanceChange.session_id == session_id)
        ).all()
        assert (change.user_id, change.actor_id, change.old_status, change.new_status) == (
            people["pps"], None, None, "hadir"
        )  # fmt: skip
        assert (change.method, change.reason, change.at) == ("kode", None, row.checked_in_at)
    # A repeat records nothing and takes no write lock: that one SELECT.
    response, everything = request_statements(app, lambda: client.post("/hadir", data=form), True)
    assert response.status_code == 302 and len(work(everything)) == 1, listing(everything)
    assert not any(s.lstrip().upper().startswith("BEGIN IMMEDIATE") for s in everything)


# ---- the rate limiter's per-request pass --------------------------------------------------


def test_only_limited_views_pay_for_the_rate_limiter(app, client, monkeypatch):
    """Limits are declared on views (sign-in, check-in, the verification page); a request to
    any other view resolves no limit at all, and a limited view resolves its own once."""
    from bimtek.extensions import limiter

    resolved = []
    manager = limiter.limit_manager
    real = manager.resolve_limits

    def counting(*args, **kwargs):
        resolved.append(kwargs.get("in_middleware", args[4] if len(args) > 4 else False))
        return real(*args, **kwargs)

    monkeypatch.setattr(manager, "resolve_limits", counting)
    assert client.get("/healthz").status_code == 200
    assert client.get("/verifikasi").status_code in (200, 302, 404)
    before_login = len(resolved)
    assert client.get("/login").status_code == 200
    assert resolved[before_login:] == [False]  # the view's own limit, not a second pass


def test_an_application_wide_limit_still_applies(tmp_path):
    """With RATELIMIT_APPLICATION set, the before_request pass runs again and refuses the
    request over the limit. In a process of its own: Flask-Limiter keeps such limits on its
    module-wide Limiter, where they would outlive this test."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        from bimtek import create_app
        app = create_app(dict(
            SECRET_KEY="t", SQLALCHEMY_DATABASE_URI="sqlite:///{tmp_path}/t.db",
            RATELIMIT_APPLICATION="3 per minute", RATELIMIT_STORAGE_URI="memory://",
        ))
        client = app.test_client()
        print([client.get("/healthz").status_code for _ in range(4)])
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[200, 200, 200, 429]", out.stderr[-2000:]
