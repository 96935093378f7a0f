"""Offices on the admin side (issue 13): participants, their import, jobs, backup, wilayah,
settings and the offices page, with the demo's KPU Provinsi Sulawesi Selatan above KPU
Kabupaten Luwu Utara (the first office) and KPU Kabupaten Luwu Timur."""

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bimtek.accounts.models import AuditLog, ParticipantImport, User
from bimtek.extensions import db
from bimtek.jobs.models import Job
from bimtek.jobs.service import jobs_dir
from bimtek.offices.models import Office
from bimtek.timeutil import utcnow
from bimtek.wilayah.models import Kabupaten
from tests.conftest import csrf_token
from tests.test_import import HEADER, person, xlsx
from tests.test_import_web import confirm, import_id_of, upload

LUTRA_ADMIN = ("admin", "demo-admin-2029")
LUTIM_ADMIN = ("admin-lutim", "demo-lutim-2029")
SULSEL_ADMIN = ("admin-sulsel", "demo-sulsel-2029")
LUTRA_NIK = "7322014107900001"  # Andi Sukmawati, Kec. Malangke (Luwu Utara)
LUTIM_NIK = "7324046302910004"  # Hasnawati Lamba, Kec. Malili (Luwu Timur)


@pytest.fixture
def app_config(tmp_path):
    return {"BIMTEK_UPLOAD_DIR": str(tmp_path / "uploads")}


def _user_id(app, nik: str) -> int:
    with app.app_context():
        return db.session.scalars(select(User.id).where(User.nik == nik)).one()


def _office(app, kode: str) -> Office:
    with app.app_context():
        return db.session.scalars(select(Office).where(Office.wilayah_kode == kode)).one()


def _text(response) -> str:
    return response.get_data(as_text=True)


def _lutra_import(client, auth, rows) -> int:
    """A pending import uploaded by the Luwu Utara admin; signs out after."""
    auth.login(*LUTRA_ADMIN)
    import_id = import_id_of(upload(client, xlsx(rows)))
    auth.logout()
    return import_id


# --- participants -------------------------------------------------------------------------


def test_a_sibling_office_gets_404_on_a_participant_and_an_import(app, client, auth, demo):
    lutra_id, lutim_id = _user_id(app, LUTRA_NIK), _user_id(app, LUTIM_NIK)
    pending = _lutra_import(client, auth, [HEADER, person(1, "Satu", "7322015506910001")])

    auth.login(*LUTIM_ADMIN)
    listing = _text(client.get("/admin/peserta"))
    assert "Hasnawati Lamba" in listing and "Andi Sukmawati" not in listing
    token = csrf_token(client, "/admin/peserta")
    found = _text(client.post("/admin/peserta", data={"csrf_token": token, "q": LUTRA_NIK}))
    assert "Andi Sukmawati" not in found  # a search by NIK finds nobody of another office
    assert client.get(f"/admin/peserta/{lutim_id}").status_code == 200
    for path in ("", "/ubah", "/atur-ulang-sandi", "/nonaktifkan"):
        assert client.get(f"/admin/peserta/{lutra_id}{path}").status_code == 404, path
    for path in ("/nonaktifkan", "/aktifkan", "/buka-kunci", "/atur-ulang-sandi"):
        response = client.post(f"/admin/peserta/{lutra_id}{path}", data={"csrf_token": token})
        assert response.status_code == 404, path
    assert client.get(f"/admin/peserta/impor/{pending}").status_code == 404
    for path in ("/konfirmasi", "/batal"):
        response = client.post(
            f"/admin/peserta/impor/{pending}{path}", data={"csrf_token": token, "mode": "valid"}
        )
        assert response.status_code == 404, path
    with app.app_context():
        assert db.session.get(User, lutra_id).active
        assert db.session.get(ParticipantImport, pending).status == "pending"


def test_the_province_sees_both_kabupaten_read_only(app, client, auth, demo, post_form):
    lutra_id, lutim_id = _user_id(app, LUTRA_NIK), _user_id(app, LUTIM_NIK)
    auth.login(*LUTRA_ADMIN)
    committed = import_id_of(upload(client, xlsx([HEADER, person(1, "Satu", "7322015506910001")])))
    confirm(client, committed, "all")
    auth.logout()

    auth.login(*SULSEL_ADMIN)
    listing = _text(client.get("/admin/peserta"))
    assert "Hasnawati Lamba" in listing and "Andi Sukmawati" in listing
    assert "<th>Kantor</th>" in listing and "KPU Kabupaten Luwu Timur" in listing
    assert "+ Peserta baru" not in listing  # participants are registered by their kabupaten
    detail = _text(client.get(f"/admin/peserta/{lutra_id}"))
    assert "Hanya dapat dilihat" in detail and "KPU Kabupaten Luwu Utara" in detail
    assert "Nonaktifkan" not in detail and "Ubah data" not in detail
    assert client.get(f"/admin/peserta/{lutim_id}").status_code == 200
    token = csrf_token(client, "/admin/peserta")
    for path in ("/ubah", "/atur-ulang-sandi", "/nonaktifkan"):
        assert client.get(f"/admin/peserta/{lutra_id}{path}").status_code == 403, path
    for path in ("/nonaktifkan", "/aktifkan", "/buka-kunci", "/atur-ulang-sandi", "/ubah"):
        response = client.post(f"/admin/peserta/{lutim_id}{path}", data={"csrf_token": token})
        assert response.status_code == 403, path
    # A kabupaten's committed import: seen, but no new passwords from the province.
    assert client.get(f"/admin/peserta/impor/{committed}").status_code == 200
    response = client.post(
        f"/admin/peserta/impor/{committed}/sandi-awal.xlsx",
        data={"csrf_token": token, "confirm": "y"},
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(User, lutim_id).active
        assert not db.session.scalars(
            select(AuditLog).where(AuditLog.action == "peserta.initial_passwords")
        ).all()


def _participant_form(**overrides) -> dict:
    form = {
        "nama": "Irma Sari",
        "nik": "7324045506910011",
        "badan": "PPS",
        "jabatan": "Anggota",
        "kecamatan_kode": "73.24.04",
        "desa_kode": "73.24.04.2001",
        "phone": "",
    }
    return {**form, **overrides}


def test_new_and_edit_refuse_a_kecamatan_of_another_office_naming_it(
    app, client, auth, demo, post_form
):
    lutim = _office(app, "73.24")
    auth.login(*LUTIM_ADMIN)
    form_page = _text(client.get("/admin/peserta/baru"))
    assert "Malili (73.24.04)" in form_page and "Malangke" not in form_page  # own kecamatan

    outside = _participant_form(kecamatan_kode="73.22.01", desa_kode="73.22.01.2001")
    response = post_form(client, "/admin/peserta/baru", outside)
    assert response.status_code == 400
    assert "Kecamatan Malangke (73.22.01) termasuk wilayah KPU Kabupaten Luwu Utara" in _text(
        response
    )
    with app.app_context():
        assert db.session.scalars(select(User).where(User.nik == outside["nik"])).first() is None

    response = post_form(client, "/admin/peserta/baru", _participant_form())
    assert response.status_code == 200 and "Irma Sari" in _text(response)
    with app.app_context():
        irma = db.session.scalars(select(User).where(User.nik == "7324045506910011")).one()
        assert irma.office_id == lutim.id
        irma_id = irma.id

    edit = f"/admin/peserta/{irma_id}/ubah"
    moved = _participant_form(kecamatan_kode="73.22.01", desa_kode="73.22.01.2001")
    response = post_form(client, edit, moved)
    assert response.status_code == 400 and "KPU Kabupaten Luwu Utara" in _text(response)
    # The NIK of a Luwu Utara participant: refused, naming the office; they stay as they were.
    response = post_form(client, "/admin/peserta/baru", _participant_form(nik=LUTRA_NIK))
    assert response.status_code == 400
    assert "sudah terdaftar atas nama peserta lain" in _text(response)
    with app.app_context():
        irma = db.session.get(User, irma_id)
        assert (irma.kecamatan_kode, irma.office_id) == ("73.24.04", lutim.id)
        andi = db.session.scalars(select(User).where(User.nik == LUTRA_NIK)).one()
        assert andi.nama == "Andi Sukmawati"


# --- import -------------------------------------------------------------------------------


def _rejections(page: str) -> list[str]:
    return [re.sub(r"\s+", " ", r) for r in re.findall(r"Baris \d+[^<]*", page)]


def test_import_refuses_rows_of_another_kabupaten_and_niks_of_another_office(
    app, client, auth, demo
):
    lutim, lutra = _office(app, "73.24"), _office(app, "73.22")
    rows = [
        HEADER,
        person(1, "Sitti Malili", "7324045506910021", kec="Malili", desa="Harapan"),
        person(2, "Orang Malangke", "7322015506910022"),  # Kec. Malangke, Luwu Utara
        person(3, "Andi Pindah", LUTRA_NIK, badan="PPK", jabatan="Ketua", kec="Malili", desa=None),
    ]
    auth.login(*LUTIM_ADMIN)
    import_id = import_id_of(upload(client, xlsx(rows)))
    page = _text(client.get(f"/admin/peserta/impor/{import_id}"))
    assert "Kecamatan Malangke (73.22.01) termasuk wilayah KPU Kabupaten Luwu Utara" in page
    assert "NIK ini sudah terdaftar sebagai peserta KPU Kabupaten Luwu Utara" in page
    with app.app_context():
        from bimtek.accounts import importer

        record = db.session.get(ParticipantImport, import_id)
        plan = importer.plan_parsed(
            importer.read_upload(app.config["BIMTEK_UPLOAD_DIR"], record), office_id=lutim.id
        )
        reasons = {(r.row, r.column.split(" ")[0]): r.reason for r in plan.rejected}
        assert set(reasons) == {(3, "F"), (4, "C")}  # row, column; row 2 is fine
        assert plan.counts == {"create": 1, "update": 0, "unchanged": 0, "rejected": 2}

    response = confirm(client, import_id, "valid")
    assert response.status_code in (302, 303)
    with app.app_context():
        sitti = db.session.scalars(select(User).where(User.nik == "7324045506910021")).one()
        assert sitti.office_id == lutim.id  # the bulk INSERT names the office
        andi = db.session.scalars(select(User).where(User.nik == LUTRA_NIK)).one()
        assert (andi.nama, andi.kecamatan_kode, andi.office_id) == (
            "Andi Sukmawati",
            "73.22.01",
            lutra.id,
        )
        assert (
            db.session.scalars(select(User).where(User.nik == "7322015506910022")).first() is None
        )
        entry = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "peserta.import")
        ).one()
        assert entry.office_id == lutim.id
        assert db.session.get(ParticipantImport, import_id).office_id == lutim.id

    # The import's credentials sheet is the Luwu Timur office's: 404 for Luwu Utara.
    auth.logout()
    auth.login(*LUTRA_ADMIN)
    assert client.get(f"/admin/peserta/impor/{import_id}").status_code == 404
    token = csrf_token(client, "/admin/peserta")
    response = client.post(
        f"/admin/peserta/impor/{import_id}/sandi-awal.xlsx",
        data={"csrf_token": token, "confirm": "y"},
    )
    assert response.status_code == 404
    recent = _text(client.get("/admin/peserta/impor"))
    assert f'/admin/peserta/impor/{import_id}"' not in recent


def test_the_import_template_lists_the_office_s_own_wilayah(app, client, auth, demo):
    auth.login(*LUTIM_ADMIN)
    book = load_workbook(io.BytesIO(client.get("/admin/peserta/templat.xlsx").data))
    codes = {row[0] for row in book["Kode Wilayah"].iter_rows(min_row=2, values_only=True)}
    assert "73.24.04" in codes and not any(str(c).startswith("73.22") for c in codes)


def test_a_single_unbound_office_imports_every_region_as_before(app, admin_client):
    response = upload(admin_client, xlsx([HEADER, person(1, "Satu", "7322015506910031")]))
    import_id = import_id_of(response)
    assert "termasuk wilayah" not in _text(admin_client.get(f"/admin/peserta/impor/{import_id}"))
    confirm(admin_client, import_id, "all")
    with app.app_context():
        user = db.session.scalars(select(User).where(User.nik == "7322015506910031")).one()
        assert user.office_id == 1


# --- jobs, backup, wilayah, settings ------------------------------------------------------


def _finished_job(app, starter: str) -> int:
    """A rekap job of `starter`, done yesterday, with its file on disk."""
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == starter)).one()
        folder = jobs_dir()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tugas-hasil.xlsx").write_bytes(b"rekap")
        job = Job(
            kind="rekap",
            params={"course_id": 1},
            title="Rekap Luwu Utara",
            started_by_id=user.id,
            status="done",
            result_path="tugas-hasil.xlsx",
            result_name="rekap.xlsx",
            result_mime="application/octet-stream",
            created_at=utcnow(),
            finished_at=utcnow(),
        )
        db.session.add(job)
        db.session.commit()
        return job.id


def test_a_job_result_is_for_its_starter_and_the_admins_of_their_office(
    app, client, auth, demo, make_staff
):
    job_id = _finished_job(app, "pelatih")  # the Luwu Utara trainer
    make_staff("admin", "admin-lutra-2", "rahasia-admin-lutra-2")  # office 1 = Luwu Utara
    for login in (("pelatih", "demo-pelatih-2029"), LUTRA_ADMIN,
                  ("admin-lutra-2", "rahasia-admin-lutra-2")):  # fmt: skip
        auth.login(*login)
        assert client.get(f"/tugas/{job_id}/unduh").data == b"rekap", login
        assert "Rekap Luwu Utara" in _text(client.get("/tugas"))
        auth.logout()
    for login in (LUTIM_ADMIN, SULSEL_ADMIN):
        auth.login(*login)
        assert client.get(f"/tugas/{job_id}").status_code == 404, login
        assert client.get(f"/tugas/{job_id}/unduh").status_code == 404, login
        assert "Rekap Luwu Utara" not in _text(client.get("/tugas"))
        auth.logout()


def test_one_running_job_of_a_kind_per_office(app, demo):
    from bimtek.jobs import service

    with app.app_context():
        lutra, lutim = (
            db.session.scalars(select(User).where(User.username == name)).one()
            for name in ("admin", "admin-lutim")
        )
        params = {"course_id": 1}
        assert service.active_key("rekap", params, service.lane(lutra)) != service.active_key(
            "rekap", params, service.lane(lutim)
        )


def test_backup_is_for_the_admin_whose_office_reaches_every_office(app, client, auth, demo):
    auth.login(*LUTIM_ADMIN)
    assert client.get("/admin/cadangan").status_code == 403
    assert client.get("/admin/cadangan/bimtek-x.tar.gz").status_code == 403
    token = csrf_token(client, "/admin/peserta")
    assert client.post("/admin/cadangan", data={"csrf_token": token}).status_code == 403
    assert "/admin/cadangan" not in _text(client.get("/admin/peserta"))  # no link either
    auth.logout()
    auth.login(*SULSEL_ADMIN)  # the root of the demo's tree
    assert client.get("/admin/cadangan").status_code == 200


def test_wilayah_pages_show_the_office_s_own_regions(app, client, auth, demo):
    auth.login(*LUTIM_ADMIN)
    page = _text(client.get("/admin/wilayah"))
    assert "Luwu Timur" in page and "Luwu Utara" not in page.replace("Luwu Timur", "")
    assert client.get("/admin/wilayah/73.24").status_code == 200
    assert client.get("/admin/wilayah/73.22").status_code == 404
    auth.logout()
    auth.login(*SULSEL_ADMIN)
    page = _text(client.get("/admin/wilayah"))
    assert "/admin/wilayah/73.22" in page and "/admin/wilayah/73.24" in page


def test_settings_show_the_office_s_level_and_region(app, client, auth, demo):
    auth.login(*LUTIM_ADMIN)
    page = re.sub(r"\s+", " ", _text(client.get("/admin/pengaturan")))
    assert "Tingkat: <strong>KPU Kabupaten/Kota</strong>" in page
    assert "73.24 Kabupaten Luwu Timur" in page and "di bawah KPU Provinsi Sulawesi Selatan" in page


# --- the offices page and CLI -------------------------------------------------------------


def _load_luwu(app) -> None:
    with app.app_context():
        db.session.add(Kabupaten(kode="73.17", nama="KABUPATEN LUWU", provinsi_kode="73"))
        db.session.commit()


def test_a_province_admin_adds_an_office_below_it(app, client, auth, demo, post_form):
    _load_luwu(app)
    auth.login(*LUTIM_ADMIN)
    page = _text(client.get("/admin/kantor"))
    assert "KPU Kabupaten Luwu Timur" in page and "Tambah kantor" not in page
    assert "KPU Kabupaten Luwu Utara" not in page  # a sibling is outside the tree it sees
    assert post_form(client, "/admin/kantor", {"level": "kabkota", "wilayah_kode": "73.17"},
                     form_page="/admin/peserta").status_code == 403  # fmt: skip
    auth.logout()

    auth.login(*SULSEL_ADMIN)
    page = _text(client.get("/admin/kantor"))
    assert "KPU Kabupaten Luwu Utara" in page and "Tambah kantor" in page
    response = post_form(client, "/admin/kantor", {"level": "kabkota", "wilayah_kode": "73.22"})
    assert response.status_code == 400
    assert "Wilayah 73.22 sudah punya kantor: KPU Kabupaten Luwu Utara" in _text(response)
    response = post_form(client, "/admin/kantor", {"level": "kabkota", "wilayah_kode": "7317"})
    assert response.status_code == 400 and "ditulis seperti 73.22" in _text(response)
    response = post_form(client, "/admin/kantor", {"level": "provinsi", "wilayah_kode": "74"})
    assert response.status_code == 400  # a province adds only kabupaten/kota
    response = post_form(client, "/admin/kantor", {"level": "kabkota", "wilayah_kode": "73.17"})
    assert response.status_code == 302
    page = _text(client.get("/admin/kantor"))
    assert "KPU Kabupaten Luwu" in page and "73.17" in page
    with app.app_context():
        luwu = db.session.scalars(select(Office).where(Office.wilayah_kode == "73.17")).one()
        sulsel = db.session.scalars(select(Office).where(Office.wilayah_kode == "73")).one()
        assert (luwu.parent_id, luwu.level, luwu.name) == (
            sulsel.id,
            "kabkota",
            "KPU Kabupaten Luwu",
        )
        entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "office.create")).one()
        assert entry.office_id == sulsel.id and entry.object_id == str(luwu.id)


def test_cli_adds_and_lists_offices_and_creates_an_admin_in_one(app, runner, demo):
    _load_luwu(app)
    result = runner.invoke(args=["office", "add", "--level", "kabkota", "--kode", "73.17",
                                 "--parent", "73"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "KPU Kabupaten Luwu, di bawah KPU Provinsi Sulawesi Selatan" in result.output
    again = runner.invoke(args=["office", "add", "--level", "kabkota", "--kode", "73.17"])
    assert again.exit_code == 1 and "sudah punya kantor" in again.output
    result = runner.invoke(
        args=["user", "create", "--role", "admin", "--username", "admin-luwu", "--office", "73.17"],
        input="rahasia-luwu-2029\nrahasia-luwu-2029\n",
    )
    assert result.exit_code == 0, result.output
    assert "admin-luwu (KPU Kabupaten Luwu)" in result.output
    listing = runner.invoke(args=["office", "list"])
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert lines[-1] == "4 kantor."
    assert lines[0].split(None, 1)[1].startswith("KPU Provinsi Sulawesi Selatan  [provinsi, 73]")
    (luwu,) = [line for line in lines if "73.17" in line]
    assert "  KPU Kabupaten Luwu  [kabkota, 73.17] admin 1, pelatih 0" in luwu  # indented
    missing = runner.invoke(
        args=["user", "create", "--role", "admin", "--username", "x-admin", "--office", "99"],
        input="rahasia-x-2029\nrahasia-x-2029\n",
    )
    assert missing.exit_code == 1 and "Kantor '99' tidak ditemukan" in missing.output


def test_cli_import_as_an_office_refuses_rows_of_another(app, runner, demo, tmp_path):
    sheet = tmp_path / "peserta.xlsx"
    rows = [
        HEADER,
        person(1, "Sitti Malili", "7324045506910041", kec="Malili", desa="Harapan"),
        person(2, "Orang Malangke", "7322015506910042"),
    ]
    sheet.write_bytes(xlsx(rows))
    result = runner.invoke(args=["peserta", "import", str(sheet), "--office", "73.24"])
    assert result.exit_code == 1
    assert (
        "Baris 3, kolom F (Kecamatan): Kecamatan Malangke (73.22.01) termasuk wilayah "
        "KPU Kabupaten Luwu Utara" in result.output
    )
    result = runner.invoke(
        args=["peserta", "import", str(sheet), "--office", "73.24", "--skip-invalid"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        lutim = db.session.scalars(select(Office).where(Office.wilayah_kode == "73.24")).one()
        sitti = db.session.scalars(select(User).where(User.nik == "7324045506910041")).one()
        assert sitti.office_id == lutim.id
        assert db.session.scalars(select(User).where(User.nik == "7322015506910042")).all() == []
        record = db.session.scalars(select(ParticipantImport)).all()[-1]
        assert record.office_id == lutim.id
