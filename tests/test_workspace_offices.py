"""Modules, banks and quiz statistics in the office tree (issue 13): an office changes only the
modules it owns, reads and uses those its ancestors share, and is told nothing of a sibling's;
the statistics of a shared course count each office's own participants. On SQLite and
PostgreSQL, over the demo (Sulawesi Selatan above Luwu Utara and Luwu Timur)."""

import pytest
from sqlalchemy import select

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.learning.models import Course, Module
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID, Office
from bimtek.quiz.models import Attempt, AttemptAnswer, Question, QuestionVersion, Quiz
from bimtek.quiz.queries import item_analysis
from bimtek.timeutil import utcnow

LOGINS = {
    "lutra": ("admin", "demo-admin-2029"),
    "pelatih": ("pelatih", "demo-pelatih-2029"),
    "lutim": ("admin-lutim", "demo-lutim-2029"),
    "sulsel": ("admin-sulsel", "demo-sulsel-2029"),
}
NEW_MODULE = {
    "slug": "rekap-luwu-utara",
    "title": "Rekapitulasi di Luwu Utara",
    "sort_order": "9",
    "audience": ["PPK"],
    "estimated_minutes": "10",
    "sources": "PKPU 25/2023",
    "body": "# Rekapitulasi\n\nPPK merekap hasil per desa.\n",
    "action": "terbitkan",
}


def offices(app) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(select(Office.wilayah_kode, Office.id)).all()
        return {kode: office_id for kode, office_id in rows}


def shipped_module(app) -> Module:
    with app.app_context():
        module = db.session.scalars(select(Module).order_by(Module.id)).first()
        db.session.expunge(module)
        return module


def as_(auth, who):
    auth.logout()
    auth.login(*LOGINS[who])


def test_shipped_content_belongs_to_the_top_office(app, demo):
    """Loaded from files: shared from the province down to both kabupaten."""
    ids = offices(app)
    with app.app_context():
        owners = set(db.session.scalars(select(Module.office_id)))
    assert owners == {ids["73"]}


def test_a_single_office_keeps_its_content(app, content):
    with app.app_context():
        owners = set(db.session.scalars(select(Module.office_id)))
    assert owners == {FIRST_OFFICE_ID}


def test_a_shared_module_is_read_below_and_edited_only_by_its_office(
    app, client, auth, post_form, demo
):
    module = shipped_module(app)
    with app.app_context():
        question_id = db.session.scalars(
            select(Question.id).where(Question.module_id == module.id)
        ).first()
    auth.login(*LOGINS["lutra"])
    reads = [f"/ruang-kerja/modul/{module.id}/versi", f"/ruang-kerja/modul/{module.id}/soal"]
    for path in reads:
        assert client.get(path).status_code == 200, path
    bank = client.get(f"/ruang-kerja/modul/{module.id}/soal").get_data(as_text=True)
    assert "Tambah soal" not in bank and "milik kantor lain" in bank
    home = client.get("/ruang-kerja/").get_data(as_text=True)
    assert module.title in home and "dibagikan kantor atas" in home
    assert client.get(f"/ruang-kerja/modul/{module.id}/sunting").status_code == 403
    assert client.get(f"/ruang-kerja/soal/{question_id}/ubah").status_code == 403
    retire = post_form(
        client,
        f"/ruang-kerja/soal/{question_id}/pensiun",
        {"retire": "1"},
        form_page="/ruang-kerja/modul/baru",
    )
    assert retire.status_code == 403
    with app.app_context():
        assert db.session.get(Question, question_id).retired is False
    as_(auth, "sulsel")  # the owner
    assert client.get(f"/ruang-kerja/modul/{module.id}/sunting").status_code == 200
    assert client.get(f"/ruang-kerja/soal/{question_id}/ubah").status_code == 200


def test_a_kabupaten_module_is_its_own(app, client, auth, post_form, demo):
    ids = offices(app)
    auth.login(*LOGINS["pelatih"])
    response = post_form(client, "/ruang-kerja/modul/baru", NEW_MODULE)
    assert response.status_code == 302
    with app.app_context():
        module = db.session.scalars(select(Module).where(Module.slug == NEW_MODULE["slug"])).one()
        module_id, owner = module.id, module.office_id
    assert owner == ids["73.22"]
    edit = f"/ruang-kerja/modul/{module_id}/sunting"
    versions = f"/ruang-kerja/modul/{module_id}/versi"
    assert client.get(edit).status_code == 200
    as_(auth, "lutim")  # a sibling: nothing to see
    for path in (edit, versions, f"/ruang-kerja/modul/{module_id}/soal"):
        assert client.get(path).status_code == 404, path
    assert NEW_MODULE["title"] not in client.get("/ruang-kerja/").get_data(as_text=True)
    as_(auth, "sulsel")  # the province reads its kabupaten's module, does not change it
    assert client.get(versions).status_code == 200
    assert client.get(edit).status_code == 403


def test_a_new_module_draft_of_another_office_is_not_shown_or_taken(
    app, client, auth, post_form, demo
):
    auth.login(*LOGINS["lutra"])
    draft = {**NEW_MODULE, "action": "simpan"}
    assert post_form(client, "/ruang-kerja/modul/baru", draft).status_code == 302
    with app.app_context():
        from bimtek.workspace.models import ModuleDraft

        draft_id = db.session.scalars(select(ModuleDraft.id)).one()
    as_(auth, "lutim")
    assert NEW_MODULE["slug"] not in client.get("/ruang-kerja/").get_data(as_text=True)
    assert client.get(f"/ruang-kerja/draf/{draft_id}").status_code == 404
    as_(auth, "sulsel")
    assert client.get(f"/ruang-kerja/draf/{draft_id}").status_code == 403


# --- item statistics of a course the province shares ------------------------------------------


@pytest.fixture
def shared_post_test(app, demo):
    """The first demo course offered by the province; one graded post-test attempt each by a
    Luwu Utara and a Luwu Timur participant, each answering one question (right / wrong)."""
    with app.app_context():
        province = db.session.scalars(select(Office.id).where(Office.wilayah_kode == "73")).one()
        course = db.session.scalars(select(Course).order_by(Course.id)).first()
        course.office_id = province
        quiz = db.session.scalars(
            select(Quiz).where(Quiz.course_id == course.id, Quiz.kind == "post")
        ).one()
        version = db.session.scalars(select(QuestionVersion).order_by(QuestionVersion.id)).first()
        for nik, right in (("7322014107900001", True), ("7324041708930005", False)):
            user = db.session.scalars(select(User).where(User.nik == nik)).one()
            attempt = Attempt(
                quiz_id=quiz.id,
                user_id=user.id,
                seed=1,
                status="submitted",
                submitted_at=utcnow(),
                question_count=1,
                correct_count=int(right),
                score=100.0 if right else 0.0,
                passed=right,
            )
            db.session.add(attempt)
            db.session.flush()
            db.session.add(
                AttemptAnswer(
                    attempt_id=attempt.id,
                    position=1,
                    question_version_id=version.id,
                    option_order=list(version.options),
                    selected=list(version.answer) if right else [],
                    correct=right,
                )
            )
        db.session.commit()
        return quiz.id


def test_each_office_sees_the_statistics_of_its_own_participants(
    app, client, auth, shared_post_test
):
    path = f"/admin/kuis/{shared_post_test}/analisis"
    pages = {}
    for who in ("lutra", "lutim", "sulsel"):
        auth.login(*LOGINS[who])
        response = client.get(path)
        assert response.status_code == 200, who
        pages[who] = response.get_data(as_text=True)
        auth.logout()
    assert "Andi Sukmawati" in pages["lutra"] and "Rahmat Tandirerung" not in pages["lutra"]
    assert "Rahmat Tandirerung" in pages["lutim"] and "Andi Sukmawati" not in pages["lutim"]
    assert "Andi Sukmawati" in pages["sulsel"] and "Rahmat Tandirerung" in pages["sulsel"]
    ids = offices(app)
    with app.app_context():
        quiz = db.session.get(Quiz, shared_post_test)

        def difficulty(office: str) -> list[float]:
            mine = scope.reach_of_office(ids[office]).where(User.office_id)
            return [row.stats.difficulty for row in item_analysis(quiz, mine)]

        assert difficulty("73.22") == [1.0]
        assert difficulty("73.24") == [0.0]
        assert difficulty("73") == [0.5]


def test_a_kabupaten_course_statistics_are_not_a_sibling_s(app, client, auth, demo):
    with app.app_context():
        quiz_id = db.session.scalars(select(Quiz.id).order_by(Quiz.id)).first()
    auth.login(*LOGINS["lutim"])
    assert client.get(f"/admin/kuis/{quiz_id}/analisis").status_code == 404
    as_(auth, "sulsel")
    assert client.get(f"/admin/kuis/{quiz_id}/analisis").status_code == 200
