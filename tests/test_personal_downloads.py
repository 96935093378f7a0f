"""Files that name people are never cached, and a NIK searched for never lands in a URL."""

import io
import re

import pytest
from sqlalchemy import select

from bimtek.accounts.models import User
from bimtek.attendance.models import TrainingSession
from bimtek.certificates import service as certificates
from bimtek.demo import DEMO_SESSION_TITLE
from bimtek.extensions import db
from bimtek.learning.models import Course, Module
from tests.conftest import csrf_token
from tests.xlsx_craft import HEADER, workbook

PPS_NIK = "7322011203950002"  # a demo participant in Kec. 73.22.01
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# Routes that answer with a file but whose path does not end in a file name.
FILE_ROUTES_WITHOUT_SUFFIX = {
    "certificates.download",
    "workspace.material",
    "workspace.module_export",
    "certificates.settings_preview",
    "backup.download",
}
FILE_SUFFIX = re.compile(r"\.(xlsx|zip|pdf|csv|yaml|md|docx)$")


@pytest.fixture
def app_config(tmp_path):
    return {"BIMTEK_UPLOAD_DIR": str(tmp_path / "uploads")}


def _downloads(app) -> set[str]:
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if FILE_SUFFIX.search(rule.rule) or rule.endpoint in FILE_ROUTES_WITHOUT_SUFFIX
    }


def test_every_download_says_no_store(app, client, auth, demo, post_form, tmp_path):
    with app.app_context():
        course = db.session.get(Course, 1)
        participant = db.session.scalars(select(User).where(User.nik == PPS_NIK)).one()
        certificate_id = certificates.issue(course, participant, None).id
        session_id = db.session.scalars(
            select(TrainingSession.id).where(TrainingSession.title == DEMO_SESSION_TITLE)
        ).one()
        module_id = db.session.scalars(select(Module.id).order_by(Module.id)).first()
        db.session.commit()

    def get(path):
        return client.get(path)

    def post(path, form_page):
        return post_form(client, path, {"confirm": "y"}, form_page)  # every confirmation ticked

    auth.login("admin", "demo-admin-2029")
    # An import committed, for its credentials sheet.
    sheet = workbook([HEADER, [1, "Ani Sulastri", "7322015506910001", "PPS", "Anggota",
                               "Malangke", "Pattimang"]])  # fmt: skip
    token = csrf_token(client, "/admin/peserta/impor")
    uploaded = client.post(
        "/admin/peserta/impor",
        data={"csrf_token": token, "berkas": (io.BytesIO(sheet), "p.xlsx")},
        content_type="multipart/form-data",
    )
    preview = uploaded.headers["Location"]
    import_id = int(preview.rsplit("/", 1)[1])
    assert post_form(client, f"{preview}/konfirmasi", {"mode": "all"}, preview).status_code == 302
    material = post_form(
        client,
        f"/ruang-kerja/kursus/{course.id}/materi",
        {"file": (io.BytesIO(PDF), "materi.pdf"), "title": "Materi"},
        "/ruang-kerja/",
        content_type="multipart/form-data",
    )
    assert material.status_code == 302
    page = client.get(f"/ruang-kerja/kursus/{course.id}/materi").get_data(as_text=True)
    material_id = int(re.search(r"/ruang-kerja/materi/(\d+)", page).group(1))

    app.config["BIMTEK_BACKUP_DIR"] = str(tmp_path / "cadangan")
    # A backup holds the whole database: the admin of the demo tree's root makes it.
    province = app.test_client()
    post_form(province, "/login", {"username": "admin-sulsel", "password": "demo-sulsel-2029"})
    assert post_form(province, "/admin/cadangan", {}).status_code == 302
    backups = province.get("/admin/cadangan").get_data(as_text=True)
    backup_link = re.search(r'href="(/admin/cadangan/bimtek-cadangan-[^"]+)"', backups).group(1)

    circular = post_form(
        client,
        "/admin/imbauan/baru",
        {"title": "Imbauan", "body": "Isi.", "audience": ["PPS"], "publish": "y"},
    )
    imbauan_path = circular.headers["Location"]

    requests = {
        "accounts.import_template": lambda: get("/admin/peserta/templat.xlsx"),
        "accounts.import_credentials": lambda: post(
            f"{preview}/sandi-awal.xlsx", f"/admin/peserta/impor/{import_id}"
        ),
        "certificates.kecamatan_zip": lambda: get(
            f"/admin/kursus/{course.id}/sertifikat.zip?kecamatan=73.22.01"
        ),
        "reports.rekap_xlsx": lambda: get(f"/laporan/{course.id}/rekap.xlsx"),
        "reports.rekap_zip": lambda: get(f"/laporan/{course.id}/rekap-per-kecamatan.zip"),
        "attendance.daftar_hadir_xlsx": lambda: get(f"/sesi/{session_id}/daftar-hadir.xlsx"),
        "attendance.attendance_export": lambda: get(f"/sesi/kehadiran.xlsx?kursus={course.id}"),
        "evaluation.results_xlsx": lambda: get(f"/sesi/{session_id}/evaluasi.xlsx"),
        "imbauan.receipts_xlsx": lambda: get(f"{imbauan_path}/tanda-terima.xlsx"),
        "certificates.settings_preview": lambda: post(
            "/admin/pengaturan/pratinjau-sertifikat", "/admin/pengaturan"
        ),
        "workspace.material": lambda: get(f"/ruang-kerja/materi/{material_id}"),
        "backup.download": lambda: province.get(backup_link),
        "workspace.module_export": lambda: get(f"/ruang-kerja/modul/{module_id}/ekspor"),
        "workspace.bank_export_xlsx": lambda: get(f"/ruang-kerja/modul/{module_id}/soal/ekspor.xlsx"),
        "workspace.bank_export_yaml": lambda: get(f"/ruang-kerja/modul/{module_id}/soal/ekspor.yaml"),
        "workspace.bank_template_xlsx": lambda: get("/ruang-kerja/templat-bank-soal.xlsx"),
    }  # fmt: skip
    participant_requests = {
        "certificates.download": lambda: get(f"/sertifikat/{certificate_id}/unduh"),
    }
    # A new download route fails here until it is added above (and so checked).
    assert _downloads(app) == set(requests) | set(participant_requests)

    for endpoint, request in requests.items():
        response = request()
        assert response.status_code == 200, (endpoint, response.status_code)
        assert response.headers["Cache-Control"] == "no-store", endpoint
        assert "attachment" in response.headers.get("Content-Disposition", "") or endpoint in {
            "certificates.settings_preview",
            "workspace.material",
        }, endpoint
    # The printable daftar hadir is a page, but it lists names: no-store as well.
    page = client.get(f"/sesi/{session_id}/daftar-hadir")
    assert "no-store" in page.headers["Cache-Control"]
    auth.logout()
    auth.login(PPS_NIK, "demo-peserta-2029")
    for endpoint, request in participant_requests.items():
        response = request()
        assert response.status_code == 200, endpoint
        assert response.headers["Cache-Control"] == "no-store", endpoint


# ---- the participant search -------------------------------------------------------------------


def test_a_nik_search_is_posted_and_never_in_a_url(app, admin_client, make_peserta, post_form):
    app.config["BIMTEK_PAGE_SIZE"] = 1
    make_peserta("Sitti Aminah", nik="7322014107000001")
    make_peserta("Sitti Rahma", nik="7322014107000002")
    page = admin_client.get("/admin/peserta").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/admin/peserta" class="search"', page)
    assert form, "the search form must POST"

    found = post_form(admin_client, "/admin/peserta", {"q": "7322014107000002"})
    text = found.get_data(as_text=True)
    assert found.status_code == 200
    assert "Sitti Rahma" in text and "Sitti Aminah" not in text
    assert "7322014107000002" not in re.sub(r'value="[^"]*"', "", text)  # masked in the list

    # A name search over two pages: the next page is a POST too, the query in the form body.
    names = post_form(admin_client, "/admin/peserta", {"q": "sitti"}).get_data(as_text=True)
    assert "Halaman 1 dari 2" in names
    assert re.search(r'<button type="submit" name="halaman" value="2"', names)
    assert "q=" not in "".join(re.findall(r'href="([^"]*)"', names))
    second = post_form(admin_client, "/admin/peserta", {"q": "sitti", "halaman": "2"})
    assert "Halaman 2 dari 2" in second.get_data(as_text=True)

    # A NIK in a GET (an old link) is not searched: the page says to use the search box.
    old = admin_client.get("/admin/peserta?q=7322014107000002").get_data(as_text=True)
    assert "Cari NIK lewat kotak pencarian" in old
    assert "Halaman 1 dari 2" in old  # the whole list, unfiltered
    assert admin_client.post("/admin/peserta", data={"q": "x"}).status_code == 400  # no CSRF
