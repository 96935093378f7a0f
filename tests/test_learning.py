"""The participant's learning path and the admin's course pages."""

import re

import pytest
from sqlalchemy import func, select

from bimtek.accounts.models import User
from bimtek.demo import DEMO_COURSES
from bimtek.extensions import db
from bimtek.learning.models import Course, ModuleProgress
from bimtek.quiz.models import Attempt, Quiz
from bimtek.timeutil import utcnow
from tests.conftest import ROOT, twin


@pytest.fixture
def pps(app, client, auth, demo):
    """The demo PPS Anggota, signed in, who has submitted the pre-test: the modules of the demo
    course open after it (the lock itself is tested in test_quiz_order.py)."""
    with app.app_context():
        user = db.session.scalars(select(User).where(User.nik == "7322011203950002")).one()
        pre = db.session.scalars(select(Quiz).where(Quiz.course_id == 1, Quiz.kind == "pre")).one()
        db.session.add(
            Attempt(quiz_id=pre.id, user_id=user.id, seed=1, status="submitted",
                    submitted_at=utcnow(), score=40.0, passed=False)
        )  # fmt: skip
        db.session.commit()
    auth.login("7322011203950002", "demo-peserta-2029")  # PPS Anggota, demo
    return client


def _progress(page: str) -> tuple[int, int]:
    match = re.search(r'<progress max="(\d+)" value="(\d+)"', page)
    return int(match.group(2)), int(match.group(1))


def test_demo_is_idempotent_and_prints_logins(app, runner, content):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0
    for login in ("admin", "pelatih", "7322011203950002", "demo-peserta-2029"):
        assert login in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Course)) == len(DEMO_COURSES)


def test_home_shows_the_course_with_progress(pps):
    page = pps.get("/").get_data(as_text=True)
    assert "Bimtek Kode Etik, Kode Perilaku dan Netralitas PPK, PPS dan KPPS" in page
    assert "Sekretariat PPK dan PPS" not in page
    assert _progress(page) == (0, 4)
    assert "Mulai: Kode Etik Penyelenggara Pemilu" in page


def test_module_page_reads_well(pps):
    page = pps.get("/kursus/1/modul/kode-perilaku-badan-adhoc").get_data(as_text=True)
    assert "<h1>Kode Perilaku PPK, PPS dan KPPS</h1>" in page
    assert 'class="toc"' in page and "Studi kasus" in page
    assert "‹ Kode Etik Penyelenggara Pemilu" in page  # previous
    assert "Netralitas Penyelenggara Pemilu ›" in page  # next
    assert "Tandai selesai" in page
    assert "Modul 2 dari 4" in page
    # the module's own "Sumber" section; the front matter's list is not shown a second time
    assert ">Sumber</h2>" in page and "Dasar hukum dan sumber" not in page


def test_first_and_last_module_have_one_neighbour(pps):
    first = pps.get("/kursus/1/modul/kode-etik-penyelenggara").get_data(as_text=True)
    assert 'class="prev"' not in first and 'class="next"' in first
    last = pps.get("/kursus/1/modul/penanganan-pelanggaran-kode-etik").get_data(as_text=True)
    assert 'class="next"' not in last and 'class="prev"' in last


def test_mark_read_persists_and_moves_on(app, pps, post_form):
    path = "/kursus/1/modul/kode-etik-penyelenggara"
    response = post_form(pps, path + "/selesai", {"version": "1"}, form_page=path)
    assert response.headers["Location"].endswith("/kursus/1/modul/kode-perilaku-badan-adhoc")
    assert "ditandai selesai" in pps.get(response.headers["Location"]).get_data(as_text=True)
    page = pps.get(path).get_data(as_text=True)
    assert "Anda sudah menandai modul ini selesai" in page
    assert _progress(pps.get("/").get_data(as_text=True)) == (1, 4)
    course = pps.get("/kursus/1").get_data(as_text=True)
    assert "✓ Selesai" in course and "Sedang dibaca" in course


def test_marking_twice_keeps_one_record_and_first_time(app, pps, post_form):
    path = "/kursus/1/modul/kode-etik-penyelenggara"
    post_form(pps, path + "/selesai", {"version": "1"}, form_page=path)
    with app.app_context():
        first = db.session.scalars(select(ModuleProgress)).one().completed_at
    post_form(pps, path + "/selesai", {"version": "1"}, form_page="/")
    with app.app_context():
        rows = db.session.scalars(select(ModuleProgress)).all()
        assert len(rows) == 1 and rows[0].completed_at == first


def test_concurrent_double_tap_records_once(app, pps, at_once):
    """Two requests at once (a double tap on a slow link) leave one progress row."""
    path = "/kursus/1/modul/kode-etik-penyelenggara"
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', pps.get("/").get_data(as_text=True)
    ).group(1)
    with app.app_context():
        db.session.query(ModuleProgress).delete()
        db.session.commit()

    def tap():
        form = {"csrf_token": token, "version": "1"}
        return twin(app, pps).post(path + "/selesai", data=form).status_code

    statuses = at_once(tap, tap)
    assert statuses == [302, 302]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ModuleProgress)) == 1


def test_a_new_version_keeps_completion_and_says_so(app, pps, post_form, tmp_path):
    import shutil

    from bimtek.content.service import sync_content
    from tests.conftest import ROOT

    path = "/kursus/1/modul/kode-etik-penyelenggara"
    post_form(pps, path + "/selesai", {"version": "1"}, form_page=path)
    shutil.copytree(ROOT / "modules", tmp_path / "modules")
    changed = tmp_path / "modules" / "01-kode-etik-penyelenggara.md"
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\n\nTambahan pembaruan.\n", encoding="utf-8"
    )
    with app.app_context():
        report = sync_content(tmp_path)
        db.session.commit()
        assert report.updated == ["kode-etik-penyelenggara"]
    course = pps.get("/kursus/1").get_data(as_text=True)
    assert "versi baru tersedia" in course
    assert _progress(pps.get("/").get_data(as_text=True)) == (1, 4)
    page = pps.get(path).get_data(as_text=True)
    assert "Versi 2 berisi pembaruan" in page and "Tambahan pembaruan" in page


def test_module_page_size_is_small(pps):
    response = pps.get("/kursus/1/modul/kode-etik-penyelenggara")
    assert len(response.data) < 60_000
    assert response.headers["Cache-Control"] == "private, no-store"


def test_admin_creates_and_edits_a_course(app, client, auth, demo, post_form):
    auth.login("admin", "demo-admin-2029")
    page = client.get("/admin/kursus/baru").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'name="modules"[^>]*value="(\d+)"', page)]
    assert len(ids) == len(list((ROOT / "modules").glob("*.md")))  # every shipped module
    response = post_form(
        client,
        "/admin/kursus/baru",
        {"title": "Bimtek KPPS Pilkada", "description": "Untuk KPPS", "audience": ["KPPS"],
         "hours_jp": "4", "modules": [str(ids[2]), str(ids[0])], "active": "y"},
    )  # fmt: skip
    assert response.status_code == 302
    with app.app_context():
        course = db.session.scalars(
            select(Course).where(Course.title == "Bimtek KPPS Pilkada")
        ).one()
        assert [m.slug for m in course.modules] == [
            "kode-etik-penyelenggara",
            "netralitas-penyelenggara",
        ]
        assert course.audience == ["KPPS"]
        course_id = course.id
    edit = post_form(
        client,
        f"/admin/kursus/{course_id}/ubah",
        {"title": "Bimtek KPPS Pilkada 2029", "audience": ["KPPS", "PPS"], "hours_jp": "6",
         "modules": [str(ids[0])], "active": "y"},
    )  # fmt: skip
    assert edit.status_code == 302
    with app.app_context():
        course = db.session.get(Course, course_id)
        assert course.title == "Bimtek KPPS Pilkada 2029" and len(course.modules) == 1
        assert course.audience == ["PPS", "KPPS"]


def test_course_form_errors_are_named(app, client, auth, demo, post_form):
    auth.login("admin", "demo-admin-2029")
    response = post_form(client, "/admin/kursus/baru", {"title": "", "hours_jp": "999"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    for message in (
        "Judul wajib diisi",
        "Pilih minimal satu badan sasaran",
        "Pilih minimal satu modul",
        "Jumlah JP harus 0–200",
    ):
        assert message in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Course)) == len(DEMO_COURSES)
