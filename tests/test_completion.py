"""The completion rule: each condition, the missing-items text, and constant queries."""

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from bimtek.accounts.models import User
from bimtek.attendance.models import Attendance, SessionInvite, TrainingSession
from bimtek.certificates.completion import Facts, Rule, completion_for, missing_items
from bimtek.certificates.models import PaktaConfirmation
from bimtek.extensions import db
from bimtek.learning import service as learning
from bimtek.learning.models import Course, Module, ModuleProgress
from bimtek.quiz import service as quiz_service
from bimtek.quiz.models import Attempt
from bimtek.timeutil import utcnow

# --- the pure rule ---------------------------------------------------------


def test_all_conditions_met_leaves_nothing_missing():
    rule = Rule(min_attendance_pct=75, pakta_required=True)
    facts = Facts(4, 4, 80.0, True, 0.75, True)
    assert missing_items(rule, facts) == []


def test_each_missing_condition_is_named_in_indonesian():
    rule = Rule(min_attendance_pct=75, pakta_required=True, pass_mark=70)
    facts = Facts(2, 4, 60.0, False, 0.5, False)
    assert missing_items(rule, facts) == [
        "Modul dibaca: 2 dari 4",
        "Post-test belum lulus (nilai 60, lulus 70)",
        "Kehadiran 50% (minimal 75% sesi)",
        "Pakta integritas belum dikonfirmasi",
    ]


def test_post_test_not_taken_and_decimal_score():
    rule = Rule(require_modules=False)
    assert missing_items(rule, Facts(0, 4)) == ["Post-test belum dikerjakan (lulus 70)"]
    assert missing_items(rule, Facts(0, 4, 66.67, False)) == [
        "Post-test belum lulus (nilai 66,67, lulus 70)"
    ]


def test_no_post_quiz_cannot_pass_when_required():
    assert missing_items(Rule(require_modules=False, has_post_quiz=False), Facts()) == [
        "Post-test belum tersedia untuk kursus ini"
    ]
    assert missing_items(Rule(require_modules=False, require_post_pass=False), Facts()) == []


def test_no_session_held_for_participant_fails_a_required_attendance():
    rule = Rule(require_modules=False, require_post_pass=False, min_attendance_pct=50)
    assert missing_items(rule, Facts(attendance_rate=None)) == [
        "Kehadiran: belum ada sesi tatap muka yang diikuti (minimal 50% sesi)"
    ]
    # 0 % required: attendance is not checked at all
    assert missing_items(Rule(require_modules=False, require_post_pass=False), Facts()) == []


def test_attendance_boundary_is_inclusive():
    rule = Rule(require_modules=False, require_post_pass=False, min_attendance_pct=67)
    assert missing_items(rule, Facts(attendance_rate=2 / 3)) == [
        "Kehadiran 67% (minimal 67% sesi)"
    ]  # 66.7 % is below 67 %
    rule = Rule(require_modules=False, require_post_pass=False, min_attendance_pct=66)
    assert missing_items(rule, Facts(attendance_rate=2 / 3)) == []


# --- against the database --------------------------------------------------


@pytest.fixture
def course(app, content, make_staff):
    """A PPS course over the first three shipped modules, with a post-test (pass mark 70)."""
    admin_id = make_staff()
    with app.app_context():
        admin = db.session.get(User, admin_id)
        modules = db.session.scalars(select(Module).order_by(Module.sort_order).limit(3)).all()
        course = learning.save_course(
            None,
            title="Bimtek PPS Pilkada 2024",
            description="",
            audience=["PPS"],
            hours_jp=8,
            module_ids=[m.id for m in modules],
            active=True,
            actor=admin,
        )
        quiz_service.save_quiz(
            course, None, quiz_service.QuizSettings(kind="post", title="Post-test"), admin
        )
        db.session.commit()
        return course.id


@pytest.fixture
def record(app, course):
    """Callables that put a participant's progress straight into the database."""

    class Record:
        def read(self, user_id, count):
            with app.app_context():
                course_row = db.session.get(Course, course)
                for module in course_row.modules[:count]:
                    version = module.versions[-1]
                    db.session.add(
                        ModuleProgress(
                            user_id=user_id,
                            module_version_id=version.id,
                            completed_at=utcnow(),
                        )
                    )
                db.session.commit()

        def post(self, user_id, score, attempt_no=1):
            with app.app_context():
                quiz = quiz_service.course_quizzes(db.session.get(Course, course))[0]
                db.session.add(
                    Attempt(
                        quiz_id=quiz.id,
                        user_id=user_id,
                        attempt_no=attempt_no,
                        seed=1,
                        status="submitted",
                        submitted_at=utcnow(),
                        score=score,
                        passed=score >= quiz.pass_mark,
                    )
                )
                db.session.commit()

        def sessions(self, user_id, statuses):
            with app.app_context():
                start = utcnow() - timedelta(days=3)
                for index, status in enumerate(statuses):
                    session = TrainingSession(
                        course_id=course,
                        title=f"Sesi {index + 1}",
                        venue="Aula",
                        starts_at=start + timedelta(hours=index),
                        ends_at=start + timedelta(hours=index + 1),
                    )
                    db.session.add(session)
                    db.session.flush()
                    db.session.add(SessionInvite(session_id=session.id, user_id=user_id))
                    if status:
                        db.session.add(
                            Attendance(
                                session_id=session.id,
                                user_id=user_id,
                                status=status,
                                method="manual",
                            )
                        )
                db.session.commit()

    return Record()


def _set_rule(app, course_id, **values):
    with app.app_context():
        course = db.session.get(Course, course_id)
        for key, value in values.items():
            setattr(course, key, value)
        db.session.commit()


def _completion(app, course_id, user_ids=None):
    with app.app_context():
        return completion_for(db.session.get(Course, course_id), user_ids)


def test_default_rule_needs_modules_and_post_pass(app, course, record, make_peserta):
    done = make_peserta(nama="Lulus Semua")
    partial = make_peserta(nama="Baru Mulai")
    failed = make_peserta(nama="Belum Lulus")
    other_badan = make_peserta(nama="Anggota PPK", badan="PPK", desa=None)
    record.read(done, 3)
    record.post(done, 50, attempt_no=1)
    record.post(done, 85, attempt_no=2)  # the best attempt counts
    record.read(partial, 1)
    record.read(failed, 3)
    record.post(failed, 60)

    result = _completion(app, course)
    assert set(result) == {done, partial, failed}  # the audience: PPS only
    assert other_badan not in result
    assert result[done].complete and result[done].missing == []
    assert result[done].post_score == 85 and result[done].post_passed
    assert result[done].modules_done == 3 and result[done].modules_total == 3
    assert result[partial].missing == [
        "Modul dibaca: 1 dari 3",
        "Post-test belum dikerjakan (lulus 70)",
    ]
    assert result[failed].missing == ["Post-test belum lulus (nilai 60, lulus 70)"]
    assert result[failed].certificate_number is None


def test_attendance_and_pakta_conditions(app, course, record, make_peserta):
    _set_rule(app, course, min_attendance_pct=75, pakta_text="Saya berjanji menjaga integritas.")
    present = make_peserta(nama="Rajin Hadir")
    absent = make_peserta(nama="Sering Absen")
    never = make_peserta(nama="Tanpa Sesi")
    for uid in (present, absent, never):
        record.read(uid, 3)
        record.post(uid, 90)
    record.sessions(present, ["hadir", "terlambat", "hadir", "alpa"])  # 75 %
    record.sessions(absent, ["hadir", "izin", "alpa", "sakit"])  # 25 %
    with app.app_context():
        db.session.add(PaktaConfirmation(course_id=course, user_id=present, text="x"))
        db.session.commit()

    result = _completion(app, course)
    assert result[present].complete, result[present].missing
    assert result[present].attendance_rate == 0.75
    assert result[present].pakta_confirmed_at is not None
    assert result[absent].missing == [
        "Kehadiran 25% (minimal 75% sesi)",
        "Pakta integritas belum dikonfirmasi",
    ]
    assert result[never].attendance_rate is None
    assert result[never].missing[0].startswith("Kehadiran: belum ada sesi tatap muka")


def test_rule_switched_off_conditions_are_not_checked(app, course, record, make_peserta):
    _set_rule(app, course, require_modules=False, require_post_pass=False)
    uid = make_peserta()
    assert _completion(app, course)[uid].complete


def test_explicit_ids_and_many_ids_give_the_same_answer(app, course, record, make_peserta):
    uid = make_peserta()
    record.read(uid, 2)
    few = _completion(app, course, [uid])
    many = _completion(app, course, [uid, *range(10_000_000, 10_001_000)])  # > IN-list limit
    assert few[uid] == many[uid]
    assert many[10_000_000].modules_done == 0


def test_constant_number_of_queries(app, course, record, make_peserta):
    ids = [make_peserta(nama=f"Peserta {i}") for i in range(12)]
    for uid in ids[:6]:
        record.read(uid, 3)
        record.post(uid, 80)
    _set_rule(app, course, min_attendance_pct=50, pakta_text="Pakta")

    def count_queries(user_ids):
        with app.app_context():
            course_row = db.session.get(Course, course)
            course_row.course_modules  # loaded before counting  # noqa: B018
            statements = []

            def before(conn, cursor, statement, *args):
                statements.append(statement)

            event.listen(db.engine, "before_cursor_execute", before)
            try:
                completion_for(course_row, user_ids)
            finally:
                event.remove(db.engine, "before_cursor_execute", before)
            return len(statements)

    assert count_queries(ids[:2]) == count_queries(ids) == count_queries(None) - 1


def test_completion_for_a_few_kecamatan_matches_the_whole_course(app, demo, make_peserta):
    """The export goes a few kecamatan at a time; the verdicts must be the same as in one go."""
    ids = [
        make_peserta(f"P{i}", kecamatan=k, desa=d)
        for i, (k, d) in enumerate(
            [("73.22.01", "73.22.01.2001"), ("73.22.03", "73.22.03.1001")] * 3
        )
    ]
    with app.app_context():
        course = db.session.get(Course, 1)
        whole = completion_for(course)
        part = completion_for(course, kecamatan_kode=["73.22.03"])
        assert set(part) == {i for i in ids[1::2]}
        assert all(part[i] == whole[i] for i in part)
        assert completion_for(course, kecamatan_kode=[None]) == {}
