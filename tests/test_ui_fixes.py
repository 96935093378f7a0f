"""What operators and participants see: sources once, a folded table of contents, numbers shown
as numbers, how izin/sakit count, the projector's screen."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from bimtek.attendance.models import TrainingSession
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.learning.toc import has_sources_section
from bimtek.timeutil import utcnow

PPS_NIK, PASSWORD = "7322011203950002", "demo-peserta-2029"
ADMIN = ("admin", "demo-admin-2029")


@pytest.fixture
def demo(demo, app):
    with app.app_context():
        course = db.session.get(Course, 1)
        course.pretest_first = False  # these tests read a module page, not the quiz order
        db.session.commit()
        course = db.session.scalars(select(Course).order_by(Course.id)).first()
        return {"course": course.id, "module": course.modules[0].slug}


def test_module_page_lists_its_sources_once_and_folds_the_contents(client, auth, demo):
    auth.login(PPS_NIK, PASSWORD)
    page = client.get(f"/kursus/{demo['course']}/modul/{demo['module']}").get_data(as_text=True)
    # the module text has its own "Sumber" section; the front matter list is not repeated
    assert 'id="sumber"' in page.lower() or ">Sumber</h2>" in page
    assert "Dasar hukum dan sumber" not in page
    assert page.count("<li>Peraturan DKPP Nomor 2 Tahun 2017") == 1
    # folded on a phone; bimtek.js opens it on a wide screen (no inline script)
    toc = page[page.index('<details class="toc"') :].split(">", 1)[0]
    assert "data-open-wide" in toc and " open" not in toc
    assert "<script>" not in page


def test_rule_page_shows_an_example_number_and_how_attendance_counts(client, auth, demo):
    auth.login(*ADMIN)
    page = client.get(f"/admin/kursus/{demo['course']}/kelulusan").get_data(as_text=True)
    year = utcnow().year  # the demo's office template: {seq:04d}/PP.04-SD/{kode_kab}/{tahun}
    assert f"0001/PP.04-SD/73.22/{year}" in page
    assert "Format nomor kantor saat ini: <code>{seq" not in page
    assert "nomor urut, selalu empat angka (nol di depan)" in page
    assert "Izin dan sakit, walaupun dengan alasan, dihitung tidak hadir" in page


def test_course_page_tells_the_participant_that_izin_counts_as_absent(app, client, auth, demo):
    with app.app_context():
        db.session.get(Course, demo["course"]).min_attendance_pct = 75
        db.session.commit()
    auth.login(PPS_NIK, PASSWORD)
    page = client.get(f"/kursus/{demo['course']}").get_data(as_text=True)
    assert "Syarat kehadiran: minimal 75%" in page
    assert "Izin dan sakit, walaupun dengan alasan, dihitung tidak hadir" in page


@pytest.fixture
def app_config():
    return {"BIMTEK_CHECKIN_PERIOD": 30}


def test_projector_says_how_often_the_code_changes_and_has_no_menu(app, client, auth, demo):
    with app.app_context():
        session = db.session.scalars(select(TrainingSession)).first()
        session.starts_at = utcnow() - timedelta(minutes=5)
        session.ends_at = utcnow() + timedelta(hours=2)
        db.session.commit()
        session_id = session.id
    auth.login("pelatih", "demo-pelatih-2029")
    page = client.get(f"/sesi/{session_id}/proyektor").get_data(as_text=True)
    assert "Kode berganti setiap 30 detik" in page  # BIMTEK_CHECKIN_PERIOD, not a fixed text
    assert 'class="mainnav"' not in page and "Keluar" not in page
    assert 'class="projector-screen"' in page


def test_front_matter_sources_shown_when_the_text_has_no_sources_section():
    assert has_sources_section([{"level": 2, "id": "sumber", "name": "Sumber"}])
    assert has_sources_section([{"level": 2, "id": "x", "name": "Dasar hukum"}])
    # "Dasar aturan dan siapa yang terikat" is a chapter, not the list of sources
    assert not has_sources_section(
        [{"level": 2, "id": "x", "name": "Dasar aturan dan siapa yang terikat"},
         {"level": 3, "id": "y", "name": "Sumber"}]
    )  # fmt: skip
