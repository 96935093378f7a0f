"""Office settings: the Pengaturan page, the office on documents, the zone, the public URL."""

import io
import subprocess
import sys
from datetime import datetime

import pypdf
import pytest
import zxingcpp
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select, update

from bimtek.accounts.models import AuditLog, User
from bimtek.attendance.models import TrainingSession
from bimtek.certificates.models import Certificate
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.offices.models import Office
from bimtek.settings import service
from bimtek.settings.publicurl import derive_public_url, is_loopback_url, lan_address
from bimtek.timeutil import utcnow
from bimtek.wilayah.service import WilayahRow, import_wilayah
from tests.conftest import complete_course

ADMIN = ("admin", "demo-admin-2029")
PELATIH = ("pelatih", "demo-pelatih-2029")
PPS_NIK, PASSWORD = "7322011203950002", "demo-peserta-2029"
ISSUE_FORM = "/admin/kursus/{}/sertifikat?kecamatan=73.22.01"

GOOD = {
    "name": "KPU Kabupaten Luwu Utara",
    "address_line": "Jl. Simpurusiang, Masamba",
    "place": "Masamba",
    "signer_name": "Hj. Penandatangan Uji",
    "signer_title": "Ketua KPU Kabupaten Luwu Utara",
    "signer_nip": "19800101 200501 1 001",
    "timezone": "Asia/Makassar",
    "cert_number_template": "{seq:04d}/PP.04-SD/{kode_kab}/{tahun}",
    "kode_kab": "73.22",
}


@pytest.fixture
def demo(demo, app):
    """The demo office, courses and accounts; returns the first course's id."""
    with app.app_context():
        return db.session.scalars(select(Course).order_by(Course.id)).first().id


UNSAVED = (*service.SETTING_FIELDS, "updated_at", "updated_by_id", "previewed_at")


@pytest.fixture
def unconfigured(app, demo):
    """The demo without its settings row: what an office sees on its first day."""
    with app.app_context():
        db.session.execute(update(Office).values({f: None for f in UNSAVED}))
        db.session.commit()
    return demo


def graduate(app, course_id, nik=PPS_NIK):
    with app.app_context():
        return complete_course(course_id, nik)


def pdf_text(data: bytes) -> tuple[str, list[str]]:
    assert data.startswith(b"%PDF")
    page = pypdf.PdfReader(io.BytesIO(data)).pages[0]
    codes = []
    for image in page.images:
        picture = image.image.convert("L")
        big = picture.resize((picture.width * 8, picture.height * 8), Image.NEAREST)
        codes += [found.text for found in zxingcpp.read_barcodes(big)]
    return page.extract_text(), codes


def certificate_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Certificate))


def issue(client, post_form, course_id, **extra):
    return post_form(
        client,
        f"/admin/kursus/{course_id}/sertifikat/terbitkan",
        {"kecamatan": "73.22.01", "confirm": "y", **extra},
        form_page=ISSUE_FORM.format(course_id),
    )


# --- pure: zones and the public URL -----------------------------------------------------------


@pytest.mark.parametrize(
    ("provinsi", "zone"),
    [
        ("73", "Asia/Makassar"),  # Sulawesi Selatan: Luwu Utara
        ("11", "Asia/Jakarta"),  # Aceh
        ("31", "Asia/Jakarta"),  # DKI Jakarta
        ("61", "Asia/Jakarta"),  # Kalimantan Barat
        ("62", "Asia/Jakarta"),  # Kalimantan Tengah
        ("63", "Asia/Makassar"),  # Kalimantan Selatan
        ("64", "Asia/Makassar"),  # Kalimantan Timur
        ("65", "Asia/Makassar"),  # Kalimantan Utara
        ("51", "Asia/Makassar"),  # Bali
        ("53", "Asia/Makassar"),  # NTT
        ("75", "Asia/Makassar"),  # Gorontalo
        ("76", "Asia/Makassar"),  # Sulawesi Barat
        ("81", "Asia/Jayapura"),  # Maluku
        ("82", "Asia/Jayapura"),  # Maluku Utara
        ("91", "Asia/Jayapura"),  # Papua
        ("93", "Asia/Jayapura"),  # Papua Selatan
        ("96", "Asia/Jayapura"),  # Papua Barat Daya
    ],
)
def test_zone_follows_the_province(provinsi, zone):
    assert service.zone_for_province(provinsi) == zone


def test_public_url_uses_the_lan_address_and_the_port():
    assert derive_public_url("0.0.0.0", 8080, lan="192.168.1.20")  # noqa: S104 == "http://192.168.1.20:8080"
    assert derive_public_url("127.0.0.1", "5101") == "http://127.0.0.1:5101"
    assert derive_public_url("10.0.0.5", 5000) == "http://10.0.0.5:5000"
    assert derive_public_url("::", 8080, lan="fd00::2") == "http://[fd00::2]:8080"
    lan = lan_address()
    derived = derive_public_url("0.0.0.0", 8080)  # noqa: S104
    assert derived.endswith(":8080")
    if lan is not None:  # a machine with a network: never the loopback address
        assert derived == f"http://{lan}:8080" and not is_loopback_url(derived)
    # what `make run` runs
    printed = subprocess.run(
        [sys.executable, "-m", "bimtek.settings.publicurl", "127.0.0.1", "5101"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert printed == "http://127.0.0.1:5101"


def test_loopback_urls_are_recognised():
    for url in ("http://127.0.0.1:5000", "http://localhost:5101", "http://[::1]:80"):
        assert is_loopback_url(url), url
    for url in ("http://192.168.1.20:8080", "https://bimtek.kpu.example"):
        assert not is_loopback_url(url), url


# --- zone defaults ------------------------------------------------------------------------------


def test_zone_default_is_derived_explicit_env_wins_and_the_row_wins_over_both(app, wilayah):
    with app.app_context():
        assert service.office_zone() == "Asia/Makassar"  # Luwu Utara, no setting at all
        office = service.current_office()
        assert office.name == "KPU Kabupaten Luwu Utara" and office.kode_kab == "73.22"
        assert office.zone_label == "WITA"
        assert service.wilayah_defaults().province == "Sulawesi Selatan"
        assert not office.confirmed
    app.config["BIMTEK_TIMEZONE"] = "Asia/Jakarta"
    with app.app_context():
        assert service.office_zone() == "Asia/Jakarta"
        db.session.get(Office, 1).timezone = "Asia/Jayapura"
        db.session.commit()
    with app.app_context():
        assert service.office_zone() == "Asia/Jayapura"


def test_a_papua_kabupaten_is_wit(app):
    rows = [WilayahRow(1, 1, "91", "Papua"), WilayahRow(2, 2, "91.03", "Kabupaten Jayapura")]
    with app.app_context():
        before = service.office_zone()  # the region defaults, kept for a while, read here
        import_wilayah(rows)
        db.session.commit()
    with app.app_context():
        # ...and forgotten by the import: the new region is seen at once.
        assert service.office_zone() == "Asia/Jayapura" != before
        assert service.current_office().place == "Jayapura"


def test_a_session_typed_at_nine_in_a_wita_office_is_one_utc_and_shown_nine_wita(
    app, client, auth, post_form, demo
):
    with app.app_context():
        trainer = db.session.scalars(select(User.id).where(User.username == "pelatih")).one()
    auth.login(*ADMIN)
    form = client.get("/sesi/baru").get_data(as_text=True)
    assert "Mulai (waktu setempat, WITA)" in form
    response = post_form(
        client,
        "/sesi/baru",
        {
            "course_id": str(demo),
            "title": "Sesi pagi Masamba",
            "venue": "Aula KPU",
            "starts_at": "2026-12-02T09:00",
            "ends_at": "2026-12-02T12:00",
            "late_after_minutes": "15",
            "checkin_opens_minutes": "60",
            "invite_badan": ["PPS"],
            "invite_kecamatan": ["73.22.01"],
            "trainers": [str(trainer)],
            "invite_niks": "",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        session = db.session.scalars(
            select(TrainingSession).where(TrainingSession.title == "Sesi pagi Masamba")
        ).one()
        assert session.starts_at.replace(tzinfo=None) == datetime(2026, 12, 2, 1, 0)
        session_id = session.id
    page = client.get(f"/sesi/{session_id}").get_data(as_text=True)
    assert "2 Desember 2026, 09.00 WITA" in page and "WIB" not in page
    sheet = client.get(f"/sesi/{session_id}/daftar-hadir").get_data(as_text=True)
    assert "09.00 WITA–12.00 WITA" in sheet


# --- the settings page -------------------------------------------------------------------------


def test_settings_page_is_for_admins_only(app, client, auth, demo):
    assert client.get("/admin/pengaturan").status_code == 302  # signed out: to the sign-in
    auth.login(*PELATIH)
    assert client.get("/admin/pengaturan").status_code == 403
    auth.logout()
    auth.login(PPS_NIK, PASSWORD)
    assert client.get("/admin/pengaturan").status_code == 403
    assert client.post("/admin/pengaturan", data=GOOD).status_code in (400, 403)
    assert client.post("/admin/pengaturan/pratinjau-sertifikat").status_code in (400, 403)


def test_settings_page_shows_derived_defaults_and_explains_the_number(
    app, client, auth, unconfigured
):
    auth.login(*ADMIN)
    page = client.get("/admin/pengaturan").get_data(as_text=True)
    assert 'value="KPU Kabupaten Luwu Utara"' in page
    assert '<option selected value="Asia/Makassar">' in page
    assert "belum pernah disimpan" in page
    assert f"0001/PP.04-SD/73.22/{utcnow().year}" in page  # the example number, not only syntax
    assert "nomor urut, 4 angka" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cert_number_template": "{nomor}/{tahun}"}, "Kolom {nomor} tidak dikenal"),
        ({"cert_number_template": "PP.04-SD/{tahun}"}, "harus memuat {seq}"),
        ({"timezone": "Europe/Berlin"}, "Not a valid choice"),
        ({"name": "  "}, "Nama kantor wajib diisi"),
        ({"signer_nip": "1980-01"}, "NIP hanya berisi angka"),
    ],
)
def test_settings_are_validated_and_nothing_is_saved(
    app, client, auth, post_form, unconfigured, change, message
):
    auth.login(*ADMIN)
    response = post_form(client, "/admin/pengaturan", {**GOOD, **change})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Office, 1).updated_at is None


def test_saving_settings_is_audited(app, client, auth, post_form, unconfigured):
    auth.login(*ADMIN)
    response = post_form(client, "/admin/pengaturan", GOOD)
    assert response.status_code == 302
    page = client.get("/admin/pengaturan").get_data(as_text=True)
    assert "Pengaturan kantor tersimpan" in page and "Terakhir disimpan" in page
    assert "WITA" in page
    with app.app_context():
        row = db.session.get(Office, 1)
        assert row.signer_name == "Hj. Penandatangan Uji" and row.updated_by_id is not None
        entry = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "settings.save").order_by(AuditLog.id.desc())
        ).first()  # the demo's own save comes first
        assert entry.detail["changed"]["signer_name"] == [None, "Hj. Penandatangan Uji"]


# --- the office on documents -------------------------------------------------------------------


def test_certificate_daftar_hadir_and_verification_print_the_settings(
    app, client, auth, post_form, demo
):
    auth.login(*ADMIN)
    assert post_form(client, "/admin/pengaturan", GOOD).status_code == 302
    graduate(app, demo)
    assert issue(client, post_form, demo).status_code == 302
    with app.app_context():
        certificate = db.session.scalars(select(Certificate)).one()
        certificate_id, code = certificate.id, certificate.current_version.code
    text, codes = pdf_text(client.get(f"/sertifikat/{certificate_id}/unduh").data)
    assert "KPU KABUPATEN LUWU UTARA" in text
    assert "Hj. Penandatangan Uji" in text and "NIP. 19800101 200501 1 001" in text
    assert "Masamba," in text and "Ketua KPU Kabupaten Luwu Utara" in text
    assert "penandatangan)" not in text and "KABUPATEN/KOTA" not in text
    assert codes == [f"http://bimtek.example.test/verifikasi/{code}"]

    verify = client.get(f"/verifikasi/{code}").get_data(as_text=True)
    assert "KPU Kabupaten Luwu Utara" in verify and "Kabupaten/Kota" not in verify

    with app.app_context():
        session_id = db.session.scalars(select(TrainingSession.id)).first()
    sheet = client.get(f"/sesi/{session_id}/daftar-hadir").get_data(as_text=True)
    assert "KPU Kabupaten Luwu Utara" in sheet and "Jl. Simpurusiang, Masamba" in sheet
    assert "Kabupaten/Kota" not in sheet
    workbook = load_workbook(io.BytesIO(client.get(f"/sesi/{session_id}/daftar-hadir.xlsx").data))
    header = " ".join(str(row[0].value) for row in workbook.active.iter_rows(max_row=8))
    assert "KPU Kabupaten Luwu Utara" in header and "WITA" in header


def test_first_issue_waits_for_saved_settings_or_a_seen_preview(
    app, client, auth, post_form, unconfigured
):
    course_id = unconfigured
    graduate(app, course_id)
    auth.login(*ADMIN)
    page = client.get(ISSUE_FORM.format(course_id)).get_data(as_text=True)
    assert "periksa identitas kantor" in page
    response = issue(client, post_form, course_id)
    assert response.headers["Location"].endswith("/admin/pengaturan")
    assert "Periksa dulu identitas kantor" in client.get("/admin/pengaturan").get_data(as_text=True)
    assert certificate_count(app) == 0

    preview = post_form(client, "/admin/pengaturan/pratinjau-sertifikat", {}, "/admin/pengaturan")
    assert preview.mimetype == "application/pdf"
    text, codes = pdf_text(preview.data)
    assert "Nama Peserta Contoh" in text and "KPU KABUPATEN LUWU UTARA" in text
    assert f"/PP.04-SD/73.22/{utcnow().year}" in text
    assert codes == ["http://bimtek.example.test/verifikasi/CONTOH"]

    assert issue(client, post_form, course_id).status_code == 302
    assert certificate_count(app) == 1
    with app.app_context():
        assert db.session.scalars(
            select(AuditLog.action).where(AuditLog.action == "settings.preview")
        ).all() == ["settings.preview"]


def test_automatic_issue_waits_for_the_office_too(app, client, auth, post_form, unconfigured):
    course_id = unconfigured
    with app.app_context():
        db.session.get(Course, course_id).auto_issue = True
        db.session.commit()
    graduate(app, course_id)
    auth.login(PPS_NIK, PASSWORD)
    page = client.get(f"/kursus/{course_id}").get_data(as_text=True)
    assert "telah memenuhi semua syarat" in page and "Unduh sertifikat (PDF)" not in page
    assert certificate_count(app) == 0
    with app.app_context():
        service.save_office(service.OfficeValues(**GOOD), None)
        db.session.commit()
    page = client.get(f"/kursus/{course_id}").get_data(as_text=True)
    assert "Unduh sertifikat (PDF)" in page


# --- the public URL warning and the loopback confirmation -------------------------------------


def test_staff_are_warned_when_links_point_to_loopback(app, client, auth, demo):
    app.config["BIMTEK_PUBLIC_URL"] = "http://127.0.0.1:5101"
    lan = {"REMOTE_ADDR": "192.168.1.30"}
    auth.login(*ADMIN)
    page = client.get("/sesi", environ_base=lan).get_data(as_text=True)
    assert "Alamat publik aplikasi masih <strong>http://127.0.0.1:5101</strong>" in page
    assert "peringatan-alamat" not in client.get("/sesi").get_data(as_text=True)  # on the laptop
    app.config["BIMTEK_PUBLIC_URL"] = "http://192.168.1.20:5101"
    assert "peringatan-alamat" not in client.get("/sesi", environ_base=lan).get_data(as_text=True)
    app.config["BIMTEK_PUBLIC_URL"] = "http://127.0.0.1:5101"
    auth.logout()
    auth.login(PPS_NIK, PASSWORD)
    assert "peringatan-alamat" not in client.get("/sesi", environ_base=lan).get_data(as_text=True)


def test_issuing_with_a_loopback_url_needs_the_named_confirmation(
    app, client, auth, post_form, demo
):
    app.config["BIMTEK_PUBLIC_URL"] = "http://127.0.0.1:5000"
    graduate(app, demo)
    auth.login(*ADMIN)
    page = client.get(ISSUE_FORM.format(demo)).get_data(as_text=True)
    assert "kode QR verifikasi pada sertifikat menunjuk ke 127.0.0.1" in page
    response = issue(client, post_form, demo)
    flashed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tidak ada sertifikat yang diterbitkan" in flashed and "127.0.0.1" in flashed
    assert certificate_count(app) == 0
    issue(client, post_form, demo, confirm_loopback="y")
    assert certificate_count(app) == 1
