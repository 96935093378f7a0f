"""A POST that omits fields changes nothing (issue 12 §3).

Every edit form, POSTed with only its CSRF token (what a truncated request, a script or a form
with a missing field sends), must be refused with 400 and leave the database as it was: no
field taken from the stored object (a session's UTC times read again as local time moved its
start 7 hours back, its trainers and kecamatan rule were dropped, "Sesi disimpan" was shown).
"""

import pytest
from sqlalchemy import select

from bimtek.extensions import db
from tests.conftest import csrf_token


def _database_rows(app) -> dict[str, list[tuple]]:
    """Every row of every table: "nothing changed" means nothing, anywhere."""
    with app.app_context():
        db.session.remove()
        rows = {}
        for table in db.metadata.sorted_tables:
            result = db.session.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(row) for row in result]
        db.session.remove()
        return rows


def _ids(app):
    from bimtek.accounts.models import User
    from bimtek.attendance.models import TrainingSession
    from bimtek.learning.models import Course, Module
    from bimtek.quiz.models import Question, Quiz

    with app.app_context():
        first = lambda model: db.session.scalars(select(model.id).order_by(model.id)).first()  # noqa: E731
        asn = db.session.scalars(
            select(User.id).where(User.role == "peserta", User.is_asn.is_(True))
        ).first()
        return {
            "session": first(TrainingSession),
            "peserta": asn,
            "course": first(Course),
            "quiz": first(Quiz),
            "question": first(Question),
            "module": first(Module),
        }


EDIT_FORMS = {
    "SessionForm": "/sesi/{session}/ubah",
    "ParticipantForm": "/admin/peserta/{peserta}/ubah",
    "RuleForm": "/admin/kursus/{course}/kelulusan",
    "QuizForm": "/admin/kuis/{quiz}/ubah",
    "SettingsForm": "/admin/pengaturan",
    "CourseForm": "/admin/kursus/{course}/ubah",
    "QuestionForm": "/ruang-kerja/soal/{question}/ubah",
    "ModuleForm": "/ruang-kerja/modul/{module}/sunting",
}

WORKSPACE_FORMS = ("QuestionForm", "ModuleForm")


@pytest.mark.parametrize("form_name", sorted(EDIT_FORMS))
def test_post_of_only_the_token_is_refused_and_changes_nothing(app, client, auth, demo, form_name):
    login, password = next((lg, pw) for role, lg, pw in demo if role.startswith("admin"))
    if form_name in WORKSPACE_FORMS:  # shipped modules belong to the province, which edits them
        login, password = next((lg, pw) for _r, lg, pw in demo if lg == "admin-sulsel")
    assert auth.login(login, password).status_code == 302
    path = EDIT_FORMS[form_name].format(**_ids(app))
    token = csrf_token(client, path)  # the form page opens (200) and carries a token
    before = _database_rows(app)

    for _twice in range(2):  # the session moved 7 hours per post: 14 after two
        response = client.post(path, data={"csrf_token": token})
        assert response.status_code == 400, (form_name, response.status_code)
        assert "flash-success" not in response.get_data(as_text=True)  # no "… disimpan."

    after = _database_rows(app)
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"{form_name}: a POST of only the token changed {changed}"


def test_session_edit_saved_unchanged_keeps_times_trainers_and_invitations(
    app, client, auth, demo, post_form
):
    """The real form, submitted as the browser shows it, twice: nothing moves."""
    from tests.test_fuzz_routes import parse_forms

    login, password = next((lg, pw) for role, lg, pw in demo if role.startswith("admin"))
    auth.login(login, password)
    path = f"/sesi/{_ids(app)['session']}/ubah"
    before = _database_rows(app)
    for _twice in range(2):
        page = client.get(path).get_data(as_text=True)
        fields = next(f for action, f in parse_forms(page) if action in ("", path))
        response = client.post(path, data=_multi(fields))
        assert response.status_code == 302
    after = _database_rows(app)
    for table in ("training_session", "session_trainer", "session_invite"):
        assert before[table] == after[table], table


def _multi(pairs):
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)
