"""Sessions in the office tree (issue 13): a kabupaten sees and runs its own sessions, a sibling
is told nothing (404), the province reads them but cannot change them (403), and a trainer's
invitations reach no further than the office. On SQLite and PostgreSQL, over the demo (KPU
Provinsi Sulawesi Selatan above Luwu Utara = office 1 and Luwu Timur)."""

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bimtek.accounts.models import User
from bimtek.attendance.models import SessionInvite, TrainingSession
from bimtek.demo import DEMO_SESSION_TITLE
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.offices.models import Office
from bimtek.timeutil import utcnow
from tests.conftest import CSRF_RE

LUTIM_PPS = "7324046302910004"  # Hasnawati Lamba, KPU Kabupaten Luwu Timur
LUTIM_PPK = "7324041708930005"  # Rahmat Tandirerung
LUTRA_PPK = "7322014107900001"  # Andi Sukmawati, KPU Kabupaten Luwu Utara
LUTRA_PPS = "7322011203950002"  # Muh. Rizal Pratama


def office_id(app, kode: str) -> int:
    with app.app_context():
        return db.session.scalars(select(Office.id).where(Office.wilayah_kode == kode)).one()


def user_id(app, nik: str) -> int:
    with app.app_context():
        return db.session.scalars(select(User.id).where(User.nik == nik)).one()


@pytest.fixture
def session_id(app, demo) -> int:
    with app.app_context():
        return db.session.scalars(
            select(TrainingSession.id).where(TrainingSession.title == DEMO_SESSION_TITLE)
        ).one()


@pytest.fixture
def shared_course(app, demo) -> int:
    """The first demo course, offered down by the province (so every kabupaten may use it)."""
    with app.app_context():
        course = db.session.scalars(select(Course).order_by(Course.id)).first()
        course.office_id = db.session.scalars(
            select(Office.id).where(Office.wilayah_kode == "73")
        ).one()
        db.session.commit()
        return course.id


def session_form(course_id: int, title: str, **changes) -> dict:
    start = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d")
    return {
        "course_id": str(course_id),
        "title": title,
        "venue": "Aula",
        "starts_at": f"{start}T08:00",
        "ends_at": f"{start}T16:00",
        "late_after_minutes": "15",
        "checkin_opens_minutes": "60",
        "invite_badan": ["PPS", "PPK"],
        **changes,
    }


def invitees(app, title: str) -> set[str]:
    with app.app_context():
        session = db.session.scalars(
            select(TrainingSession).where(TrainingSession.title == title)
        ).one()
        return set(
            db.session.scalars(
                select(User.nik)
                .join(SessionInvite, SessionInvite.user_id == User.id)
                .where(SessionInvite.session_id == session.id)
            )
        )


READS = [
    "/sesi/{id}",
    "/sesi/{id}/daftar-hadir",
    "/sesi/{id}/daftar-hadir.xlsx",
    "/sesi/{id}/proyektor",
    "/sesi/{id}/evaluasi/hasil",
    "/sesi/{id}/evaluasi.xlsx",
]
CHANGES = ["/sesi/{id}/tandai", "/sesi/{id}/hapus", "/sesi/{id}/undangan"]


def test_a_sibling_office_is_told_nothing_of_the_session(app, client, auth, post_form, session_id):
    auth.login("admin-lutim", "demo-lutim-2029")
    for path in [*READS, "/sesi/{id}/ubah"]:
        assert client.get(path.format(id=session_id)).status_code == 404, path
    andi = str(user_id(app, LUTRA_PPK))
    for path in CHANGES:
        response = post_form(
            client,
            path.format(id=session_id),
            {"user_ids": andi, "status": "hadir"},
            form_page="/sesi/baru",
        )
        assert response.status_code == 404, path
    assert DEMO_SESSION_TITLE not in client.get("/sesi").get_data(as_text=True)
    # Luwu Utara's courses are not Luwu Timur's to run sessions of.
    with app.app_context():
        titles = list(db.session.scalars(select(Course.title)))
    form_page = client.get("/sesi/baru").get_data(as_text=True)
    assert not any(title in form_page for title in titles)
    refused = post_form(client, "/sesi/baru", session_form(1, "Sesi kursus tetangga"))
    assert refused.status_code == 400
    assert "Kursus tidak ditemukan." in refused.get_data(as_text=True)
    # Nor does the export of "every session I may see" carry Luwu Utara's invitees.
    rows = list(load_workbook(io.BytesIO(client.get("/sesi/kehadiran.xlsx").data)).active.values)
    assert rows[1:] == []


def test_the_province_reads_a_kabupaten_session_but_cannot_change_it(
    app, client, auth, post_form, session_id
):
    auth.login("admin-sulsel", "demo-sulsel-2029")
    assert DEMO_SESSION_TITLE in client.get("/sesi").get_data(as_text=True)
    for path in READS:
        assert client.get(path.format(id=session_id)).status_code == 200, path
    page = client.get(f"/sesi/{session_id}").get_data(as_text=True)
    assert "Andi Sukmawati" in page and "hanya dapat dilihat" in page
    assert f"/sesi/{session_id}/ubah" not in page and "Hapus sesi" not in page
    daftar = client.get(f"/sesi/{session_id}/daftar-hadir").get_data(as_text=True)
    assert "KPU Kabupaten Luwu Utara" in daftar  # the session's office heads it
    assert client.get(f"/sesi/{session_id}/ubah").status_code == 403
    andi = user_id(app, LUTRA_PPK)
    page_path = f"/sesi/{session_id}"
    marked = post_form(
        client, f"/sesi/{session_id}/tandai", {"user_ids": str(andi), "status": "hadir"}, page_path
    )
    assert marked.status_code == 403
    assert post_form(client, f"/sesi/{session_id}/hapus", {}, page_path).status_code == 403
    assert post_form(client, f"/sesi/{session_id}/undangan", {}, page_path).status_code == 403
    with app.app_context():
        assert db.session.get(TrainingSession, session_id) is not None


def test_the_own_office_still_runs_its_session(app, client, auth, post_form, session_id):
    auth.login("admin", "demo-admin-2029")
    andi = user_id(app, LUTRA_PPK)
    response = post_form(
        client,
        f"/sesi/{session_id}/tandai",
        {"user_ids": str(andi), "status": "hadir"},
        f"/sesi/{session_id}",
    )
    assert response.status_code == 302
    assert "1 peserta ditandai Hadir." in client.get(f"/sesi/{session_id}").get_data(as_text=True)
    assert client.get(f"/sesi/{session_id}/ubah").status_code == 200


def test_a_trainer_cannot_invite_another_kabupaten(app, client, auth, post_form, demo):
    auth.login("pelatih", "demo-pelatih-2029")
    form_page = client.get("/sesi/baru").get_data(as_text=True)
    assert 'value="73.22.01"' in form_page and 'value="73.24.04"' not in form_page
    response = post_form(
        client, "/sesi/baru", session_form(1, "Undangan ke Malili", invite_kecamatan=["73.24.04"])
    )
    assert response.status_code == 400
    assert "Kecamatan 73.24.04 tidak termasuk wilayah kantor ini." in response.get_data(
        as_text=True
    )
    with app.app_context():
        assert (
            db.session.scalars(
                select(TrainingSession).where(TrainingSession.title == "Undangan ke Malili")
            ).first()
            is None
        )


def test_a_rule_invites_only_the_office_participants(app, client, auth, post_form, shared_course):
    # No kecamatan chosen ("all"): all of Luwu Utara, none of Luwu Timur.
    auth.login("pelatih", "demo-pelatih-2029")
    response = post_form(client, "/sesi/baru", session_form(shared_course, "Sesi Luwu Utara"))
    assert response.status_code == 302
    assert invitees(app, "Sesi Luwu Utara") == {LUTRA_PPK, LUTRA_PPS}
    with app.app_context():
        made = db.session.scalars(
            select(TrainingSession).where(TrainingSession.title == "Sesi Luwu Utara")
        ).one()
        made_office = made.office_id
    assert made_office == office_id(app, "73.22")
    auth.logout()
    # Luwu Timur runs its own session of the province's course, for its own people.
    auth.login("admin-lutim", "demo-lutim-2029")
    response = post_form(
        client,
        "/sesi/baru",
        session_form(shared_course, "Sesi Luwu Timur", invite_kecamatan=["73.24.04"]),
    )
    assert response.status_code == 302
    assert invitees(app, "Sesi Luwu Timur") == {LUTIM_PPS, LUTIM_PPK}
    with app.app_context():
        made = db.session.scalars(
            select(TrainingSession).where(TrainingSession.title == "Sesi Luwu Timur")
        ).one()
        made_office, made_id = made.office_id, made.id
    assert made_office == office_id(app, "73.24")
    page = client.get(f"/sesi/{made_id}").get_data(as_text=True)
    assert "Hasnawati Lamba" in page and "Andi Sukmawati" not in page


def _without_token(page: str, typed: str) -> str:
    return CSRF_RE.sub("", page).replace(typed, "NIK")


def test_an_unknown_and_a_foreign_nik_read_the_same(app, client, auth, post_form, demo):
    auth.login("pelatih", "demo-pelatih-2029")
    unknown = "7322999999990004"  # same last four digits as Hasnawati's NIK; nobody's
    with app.app_context():
        assert db.session.scalars(select(User).where(User.nik == unknown)).first() is None
    answers = []
    for typed in (LUTIM_PPS, unknown):
        response = post_form(client, "/sesi/baru", session_form(1, "Sesi NIK", invite_niks=typed))
        answers.append(
            (response.status_code, _without_token(response.get_data(as_text=True), typed))
        )
    assert answers[0] == answers[1]
    assert answers[0][0] == 400
    assert "tidak terdaftar sebagai peserta kantor ini (…0004)" in answers[0][1]
    with app.app_context():
        assert (
            db.session.scalars(
                select(TrainingSession).where(TrainingSession.title == "Sesi NIK")
            ).first()
            is None
        )
    # An own participant by NIK is fine.
    response = post_form(client, "/sesi/baru", session_form(1, "Sesi NIK", invite_niks=LUTRA_PPS))
    assert response.status_code == 302


def test_an_outsider_invited_before_the_fix_stays_out_of_sight(
    app, client, auth, post_form, session_id
):
    """A session set up before offices existed may hold someone of another kabupaten, invited
    by NIK: the office's pages neither name them nor show their NIK, and cannot mark them."""
    hasnawati = user_id(app, LUTIM_PPS)
    with app.app_context():
        db.session.add(SessionInvite(session_id=session_id, user_id=hasnawati, by_rule=False))
        db.session.commit()
    auth.login("pelatih", "demo-pelatih-2029")
    for path in (f"/sesi/{session_id}", f"/sesi/{session_id}/daftar-hadir"):
        page = client.get(path).get_data(as_text=True)
        assert "Hasnawati" not in page, path
        assert "Andi Sukmawati" in page, path
    edit = client.get(f"/sesi/{session_id}/ubah").get_data(as_text=True)
    assert LUTIM_PPS not in edit and "Hasnawati" not in edit
    sheet = load_workbook(io.BytesIO(client.get(f"/sesi/{session_id}/daftar-hadir.xlsx").data))
    cells = " ".join(str(v) for ws in sheet for row in ws.values for v in row if v)
    assert "Hasnawati" not in cells and "Andi Sukmawati" in cells
    response = post_form(
        client,
        f"/sesi/{session_id}/tandai",
        {"user_ids": str(hasnawati), "status": "hadir"},
        f"/sesi/{session_id}",
    )
    assert response.status_code == 302
    page = client.get(f"/sesi/{session_id}").get_data(as_text=True)
    assert "tidak diundang ke sesi ini" in page


def test_a_trainer_export_masks_the_nik_an_admin_export_does_not(app, client, auth, session_id):
    def nik_column(login, password):
        auth.login(login, password)
        rows = list(
            load_workbook(io.BytesIO(client.get("/sesi/kehadiran.xlsx").data)).active.values
        )
        auth.logout()
        assert rows[0][7] == "NIK"
        return {row[6]: row[7] for row in rows[1:]}

    trainer = nik_column("pelatih", "demo-pelatih-2029")
    assert trainer["Andi Sukmawati"] == "•" * 12 + "0001"
    assert not any(re.fullmatch(r"[0-9]{16}", v) for v in trainer.values())
    admin = nik_column("admin", "demo-admin-2029")
    assert admin["Andi Sukmawati"] == LUTRA_PPK
    province = nik_column("admin-sulsel", "demo-sulsel-2029")
    assert set(province) == set(admin)


def test_the_rule_read_in_python_agrees_with_its_sql_for_every_demo_account(app, demo):
    """The check-in page reads a session's invitation rule for the signed-in participant in
    Python (no query per open session); the rule's SQL (used to invite in bulk) must give the
    same answer for every account, across offices, badan, kecamatan and inactive accounts."""
    from sqlalchemy import func

    from bimtek.attendance import service

    with app.app_context():
        course = db.session.scalars(select(Course).order_by(Course.id)).first()
        lutra, lutim, sulsel = (
            db.session.scalars(select(Office.id).where(Office.wilayah_kode == kode)).one()
            for kode in ("73.22", "73.24", "73")
        )
        users = db.session.scalars(select(User).order_by(User.id)).all()
        users[-1].active = False  # one account switched off
        rules = [
            dict(office_id=office, invite_badan=badan, invite_kecamatan=kecamatan)
            for office in (lutra, lutim, sulsel, None)
            for badan in ([], ["PPS"], ["PPK", "PPS"], ["KPPS"])
            for kecamatan in ([], ["73.22.01"], ["73.24.04", "73.22.03"])
        ]
        start = utcnow()
        agreed = invited = 0
        for number, rule in enumerate(rules):
            session = TrainingSession(
                course_id=course.id, title=f"Aturan {number}", venue="Aula", starts_at=start,
                ends_at=start + timedelta(hours=2), **rule,
            )  # fmt: skip
            db.session.add(session)
            db.session.flush()
            by_sql = set(db.session.scalars(select(User.id).where(service._rule_clause(session))))
            for user in users:
                in_python = service.matches_rule(session, user)
                assert in_python == (user.id in by_sql), (rule, user.nik, user.role, user.badan)
                agreed += 1
                invited += in_python
        assert agreed == len(rules) * len(users) and 0 < invited < agreed
        assert db.session.scalar(select(func.count()).select_from(User)) == len(users)
        db.session.rollback()
