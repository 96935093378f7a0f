"""Materials: content-checked uploads, generated names outside static/, course-scoped downloads."""

import io
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from bimtek.accounts.models import AuditLog, User
from bimtek.extensions import db
from bimtek.learning.models import Course, CourseModule, Module
from bimtek.workspace.materials import UploadRefused, check_name, sniff
from bimtek.workspace.models import Material
from tests.conftest import CORPUS, Auth

ROOT = Path(__file__).resolve().parent.parent
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def ooxml(part: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{part}document.xml", "<x/>")
    return out.getvalue()


def real_xlsx() -> bytes:
    workbook = Workbook()
    workbook.active["A1"] = "daftar hadir"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.fixture
def upload_dir(tmp_path):
    return tmp_path / "uploads"


@pytest.fixture
def app_config(upload_dir):
    return {"BIMTEK_UPLOAD_DIR": str(upload_dir), "BIMTEK_UPLOAD_MAX_BYTES": 64 * 1024}


@pytest.fixture
def setting(upload_dir, app, content, make_staff, make_peserta, auth):
    """A course for PPS holding module 1; a course for PPK holding module 2; a trainer signed in."""
    with app.app_context():
        modules = db.session.scalars(select(Module).order_by(Module.sort_order)).all()
        pps = Course(title="Bimtek PPS", audience=["PPS"])
        pps.course_modules.append(CourseModule(module_id=modules[0].id, position=0))
        ppk = Course(title="Bimtek PPK", audience=["PPK"])
        ppk.course_modules.append(CourseModule(module_id=modules[1].id, position=0))
        db.session.add_all([pps, ppk])
        db.session.commit()
        ids = {"pps": pps.id, "ppk": ppk.id, "m1": modules[0].id, "m2": modules[1].id}
    make_staff("pelatih", "pelatih1", "rahasia-pelatih-1")
    auth.login("pelatih1", "rahasia-pelatih-1")
    return ids


def upload(client, post_form, url, data: bytes, name: str, title=""):
    return post_form(
        client,
        url,
        {"file": (io.BytesIO(data), name), "title": title},
        form_page="/ruang-kerja/",
        content_type="multipart/form-data",
        follow_redirects=True,
    )


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (PDF, "Perbawaslu 6-2024.pdf", "pdf"),
        (PNG, "alur.png", "png"),
        (JPEG, "foto TPS.JPG", "jpeg"),
        (ooxml("ppt/"), "paparan.pptx", "pptx"),
        (ooxml("word/"), "juknis.docx", "docx"),
        (None, "formulir C.xlsx", "xlsx"),
    ],
)
def test_each_allowed_kind_is_stored_outside_static_and_served(
    app, client, post_form, setting, upload_dir, data, name, kind
):
    data = data if data is not None else real_xlsx()
    url = f"/ruang-kerja/kursus/{setting['pps']}/materi"
    response = upload(client, post_form, url, data, name, title="Materi inti")
    assert f"Materi “{name}” terunggah." in response.get_data(as_text=True)
    with app.app_context():
        material = db.session.scalars(select(Material)).one()
        assert material.kind == kind and material.size == len(data)
        stored = upload_dir / material.stored_name
        assert stored.read_bytes() == data
        assert material.stored_name != name and name not in material.stored_name
        assert db.session.scalars(select(AuditLog.action)).all().count("material.upload") == 1
    assert not (ROOT / "static" / material.stored_name).exists()
    assert [p.name for p in upload_dir.iterdir()] == [material.stored_name]  # no temp left

    response = client.get(f"/ruang-kerja/materi/{material.id}")
    assert response.status_code == 200 and response.data == data
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert ("inline" if kind in ("png", "jpeg") else "attachment") in disposition
    assert name in disposition or quote(name) in disposition


REFUSED = [
    (b"<html><script>alert(1)</script></html>", "materi.pdf", "bukan PDF, PPTX"),
    (b"MZ\x90\x00" + b"\x00" * 60, "setup.pdf", "bukan PDF, PPTX"),
    (b"PK\x03\x04" + b"\x00" * 60, "rusak.docx", "bukan PDF, PPTX"),
    (None, "arsip.docx", "bukan PDF, PPTX"),  # a zip without Office parts
    (PNG, "gambar.pdf", "adalah PNG, tetapi akhiran namanya lain"),
    (b"", "kosong.pdf", "kosong (0 byte)"),
    (PDF + b"0" * (64 * 1024), "besar.pdf", "terlalu besar: batasnya 0 MB"),
    (PDF, "../../etc/passwd.pdf", "memuat folder atau jalur"),
    (PDF, "C:materi.pdf", "memuat folder atau jalur"),
]


def _plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "halo")
    return out.getvalue()


@pytest.mark.parametrize(("data", "name", "message"), REFUSED)
def test_refused_uploads_say_why_and_leave_nothing(
    app, client, post_form, setting, upload_dir, data, name, message
):
    data = data if data is not None else _plain_zip()
    response = upload(client, post_form, f"/ruang-kerja/modul/{setting['m1']}/materi", data, name)
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Material)).all() == []
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []


def test_upload_without_a_file_is_refused(app, client, post_form, setting):
    response = post_form(
        client,
        f"/ruang-kerja/kursus/{setting['pps']}/materi",
        {"title": "tanpa berkas"},
        form_page="/ruang-kerja/",
        follow_redirects=True,
    )
    assert "Pilih berkas yang akan diunggah" in response.get_data(as_text=True)


def test_names_with_path_parts_are_refused():
    # The test client cannot send a backslash in a multipart file name; check it here.
    for name in ("..\\..\\windows\\win.pdf", "C:\\materi.pdf", "a/b.pdf", "..", "x\x00.pdf"):
        with pytest.raises(UploadRefused):
            check_name(name)
    assert check_name("  Perbawaslu 6-2024.pdf ") == "Perbawaslu 6-2024.pdf"


def test_corpus_bodies_and_names_are_refused(tmp_path):
    bodies = (CORPUS / "upload_content_bodies.txt").read_text(encoding="utf-8").splitlines()
    for body in filter(None, bodies):
        path = tmp_path / "x"
        path.write_bytes(body.encode())
        assert sniff(path) is None, body
    for line in (CORPUS / "path_traversal.txt").read_text(encoding="utf-8").splitlines():
        if "/" in line or "\\" in line:
            with pytest.raises(UploadRefused):
                check_name(line)


def test_downloads_only_for_that_courses_participants(
    app, client, post_form, setting, make_peserta
):
    upload(client, post_form, f"/ruang-kerja/kursus/{setting['pps']}/materi", PDF, "pps.pdf")
    upload(client, post_form, f"/ruang-kerja/modul/{setting['m1']}/materi", PNG, "m1.png")
    upload(client, post_form, f"/ruang-kerja/modul/{setting['m2']}/materi", PNG, "m2.png")
    with app.app_context():
        ids = {m.original_name: m.id for m in db.session.scalars(select(Material))}

    def signed_in(badan, jabatan="Anggota", desa="73.22.01.2001"):
        user_id = make_peserta(badan=badan, jabatan=jabatan, desa=desa)
        with app.app_context():
            nik = db.session.get(User, user_id).nik
        other = app.test_client()
        Auth(other, post_form).login(nik, "awal-rahasia-1")
        return other

    pps = signed_in("PPS")
    ppk = signed_in("PPK", desa=None)
    assert pps.get(f"/ruang-kerja/materi/{ids['pps.pdf']}").status_code == 200
    assert pps.get(f"/ruang-kerja/materi/{ids['m1.png']}").status_code == 200
    assert pps.get(f"/ruang-kerja/materi/{ids['m2.png']}").status_code == 404
    assert ppk.get(f"/ruang-kerja/materi/{ids['pps.pdf']}").status_code == 404
    assert ppk.get(f"/ruang-kerja/materi/{ids['m2.png']}").status_code == 200
    assert app.test_client().get(f"/ruang-kerja/materi/{ids['pps.pdf']}").status_code == 302
    # Participants find them on their course and module pages.
    course_page = pps.get(f"/kursus/{setting['pps']}").get_data(as_text=True)
    assert f"/ruang-kerja/materi/{ids['pps.pdf']}" in course_page
    with app.app_context():
        slug = db.session.get(Module, setting["m1"]).slug
    module_page = pps.get(f"/kursus/{setting['pps']}/modul/{slug}").get_data(as_text=True)
    assert f"/ruang-kerja/materi/{ids['m1.png']}" in module_page
    # A participant cannot delete; the trainer can, and the file goes too.
    token_page = pps.get("/").get_data(as_text=True)
    token = token_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert (
        pps.post(f"/ruang-kerja/materi/{ids['pps.pdf']}/hapus", data={"csrf_token": token})
    ).status_code == 403
    response = post_form(
        client, f"/ruang-kerja/materi/{ids['pps.pdf']}/hapus", {}, form_page="/ruang-kerja/"
    )
    assert response.status_code == 302
    assert pps.get(f"/ruang-kerja/materi/{ids['pps.pdf']}").status_code == 404
    assert len(list(setting and Path(app.config["BIMTEK_UPLOAD_DIR"]).iterdir())) == 2
