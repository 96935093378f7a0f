"""The admin's import pages: template, upload, dry-run preview, confirm, credentials sheet."""

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bimtek.accounts import importer
from bimtek.accounts.models import AuditLog, ParticipantImport, User
from bimtek.extensions import db
from bimtek.timeutil import utcnow
from tests.conftest import csrf_token
from tests.test_import import HEADER, person, xlsx

GOOD = [HEADER, person(1, "Satu Anggota", "7322015506910001"),
        person(2, "Dua Ketua", "7322015506910002", badan="PPK", jabatan="Ketua", desa=None)]  # fmt: skip
WITH_ERROR = [*GOOD, person(3, "Tiga", 7322015506910003)]


@pytest.fixture
def app_config(tmp_path):
    return {"BIMTEK_UPLOAD_DIR": str(tmp_path / "uploads")}


def upload(client, data: bytes, name="peserta.xlsx"):
    token = csrf_token(client, "/admin/peserta/impor")
    return client.post(
        "/admin/peserta/impor",
        data={"csrf_token": token, "berkas": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def confirm(client, import_id: int, mode: str):
    token = csrf_token(client, f"/admin/peserta/impor/{import_id}")
    return client.post(
        f"/admin/peserta/impor/{import_id}/konfirmasi", data={"csrf_token": token, "mode": mode}
    )


def import_id_of(response) -> int:
    return int(re.search(r"/admin/peserta/impor/(\d+)$", response.headers["Location"]).group(1))


def _stored_files(app) -> list:
    folder = app.config["BIMTEK_UPLOAD_DIR"] + "/imports"
    import os

    return os.listdir(folder) if os.path.isdir(folder) else []


def _niks(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(User.nik).where(User.role == "peserta")))


def test_template_has_text_nik_column_lists_and_wilayah_codes(admin_client):
    response = admin_client.get("/admin/peserta/templat.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    sheet = book["Peserta"]
    header = [c.value for c in sheet[1]]
    assert header[:7] == ["No", "Nama Lengkap", "NIK", "Badan", "Jabatan", "Kecamatan",
                          "Desa/Kelurahan"]  # fmt: skip
    assert sheet["C2"].number_format == "@" and sheet["C500"].number_format == "@"
    lists = {
        str(dv.sqref).split(":")[0]: dv.formula1 for dv in sheet.data_validations.dataValidation
    }
    assert lists["D2"] == '"PPK,PPS,KPPS,Sekretariat PPK,Sekretariat PPS"'
    assert lists["E2"] == '"Ketua,Anggota,Sekretaris,Staf"'
    codes = list(book["Kode Wilayah"].iter_rows(values_only=True))
    assert ("73.22.01", "Malangke", "73.22.01.2001", "Desa Pattimang") in codes
    assert ("73.22.03", "Masamba", "73.22.03.1001", "Kel. Kappuna") in codes


def test_preview_writes_nothing_then_confirm_imports_and_deletes_the_upload(app, admin_client):
    response = upload(admin_client, xlsx(GOOD))
    assert response.status_code == 302
    import_id = import_id_of(response)
    assert len(_stored_files(app)) == 1
    page = admin_client.get(f"/admin/peserta/impor/{import_id}").get_data(as_text=True)
    assert "Belum ada yang disimpan" in page
    assert "Impor sekarang: 2 baru, 0 diperbarui" in page
    assert "Impor hanya baris yang valid" not in page
    assert "Satu Anggota" in page and "7322015506910001" not in page  # NIK masked
    assert _niks(app) == []

    done = confirm(admin_client, import_id, "semua")
    assert done.status_code == 302
    assert _niks(app) == ["7322015506910001", "7322015506910002"]
    assert _stored_files(app) == []
    result = admin_client.get(f"/admin/peserta/impor/{import_id}").get_data(as_text=True)
    assert "Impor selesai: 2 baru" in result
    assert "2 akun baru dari impor ini belum pernah masuk" in result
    # Confirming again (the back button) finds no pending import: nothing is imported twice.
    again = confirm(admin_client, import_id, "semua")
    assert again.status_code == 404 and _niks(app) == ["7322015506910001", "7322015506910002"]
    with app.app_context():
        entry = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "peserta.import")
        ).one()
        assert entry.detail["created"] == 2 and entry.actor.username == "operator"


def test_rejected_rows_need_the_explicit_valid_only_button(app, admin_client):
    import_id = import_id_of(upload(admin_client, xlsx(WITH_ERROR)))
    page = admin_client.get(f"/admin/peserta/impor/{import_id}").get_data(as_text=True)
    assert "1 baris ditolak" in page or "<strong>1</strong> baris ditolak" in page
    rejected = re.search(r'data-testid="rejected">(.*?)</table>', page, re.S).group(1)
    assert "<td>4</td><td>C (NIK)</td>" in rejected
    assert "NIK tersimpan sebagai angka (tampil sebagai 7.32202E+15)" in rejected
    assert "Impor sekarang" not in page
    assert "Impor hanya baris yang valid (2 baru, 0 diperbarui)" in page

    refused = confirm(admin_client, import_id, "semua")
    assert refused.status_code == 302
    assert "tidak ada yang diimpor" in admin_client.get(refused.headers["Location"]).get_data(
        as_text=True
    )
    assert _niks(app) == []
    confirm(admin_client, import_id, "valid")
    assert _niks(app) == ["7322015506910001", "7322015506910002"]
    with app.app_context():
        record = db.session.get(ParticipantImport, import_id)
        assert (record.skip_invalid, record.rejected_count) == (True, 1)


def test_credentials_sheet_is_issued_anew_each_time(app, admin_client, client, post_form):
    import_id = import_id_of(upload(admin_client, xlsx(GOOD)))
    confirm(admin_client, import_id, "semua")

    def download():
        token = csrf_token(admin_client, f"/admin/peserta/impor/{import_id}")
        response = admin_client.post(
            f"/admin/peserta/impor/{import_id}/sandi-awal.xlsx",
            data={"csrf_token": token, "confirm": "y"},
        )
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        book = load_workbook(io.BytesIO(response.data))
        rows = {}
        for sheet in book.worksheets:
            table = list(sheet.iter_rows(values_only=True))
            # the NIK once, as the sign-in name, next to the name
            assert table[3] == (
                "No", "Nama", "NIK (nama pengguna)", "Jabatan", "Desa/Kelurahan", "Kata sandi awal",
                "Atau pindai untuk masuk",  # a one-time QR sign-in per person (test_hall.py)
            )  # fmt: skip
            assert len(sheet._images) == len(table) - 4
            for row in table[4:]:
                assert list(row).count(row[2]) == 1
                rows[row[2]] = row[5]
        return book.sheetnames, rows

    # the page says what a download does, and nothing happens without the tick
    page = admin_client.get(f"/admin/peserta/impor/{import_id}").get_data(as_text=True)
    assert "lembar yang pernah diunduh sebelumnya untuk impor ini tidak berlaku lagi" in page
    with app.app_context():
        before = sorted(db.session.scalars(select(User.password_hash)))
    token = csrf_token(admin_client, f"/admin/peserta/impor/{import_id}")
    refused = admin_client.post(
        f"/admin/peserta/impor/{import_id}/sandi-awal.xlsx", data={"csrf_token": token}
    )
    assert refused.status_code == 302
    assert "Centang pernyataan" in admin_client.get(refused.headers["Location"]).get_data(
        as_text=True
    )
    with app.app_context():
        assert sorted(db.session.scalars(select(User.password_hash))) == before

    sheets, first = download()
    assert sheets == ["Malangke"]
    assert set(first) == {"7322015506910001", "7322015506910002"}
    _sheets, second = download()
    assert first["7322015506910001"] != second["7322015506910001"]
    with app.app_context():
        hashes = db.session.scalars(select(User.password_hash).where(User.role == "peserta"))
        assert all(second["7322015506910001"] not in h for h in hashes)
    other = app.test_client()
    old = post_form(other, "/login", {"username": "7322015506910001",
                                      "password": first["7322015506910001"]})  # fmt: skip
    assert old.status_code == 401
    new = post_form(other, "/login", {"username": "7322015506910001",
                                      "password": second["7322015506910001"]})  # fmt: skip
    assert new.headers["Location"].endswith("/akun/kata-sandi")
    _sheets, third = download()
    assert list(third) == ["7322015506910002"]  # who signed in is left out


def test_files_refused_with_the_reason_and_nothing_stored(app, admin_client):
    response = upload(admin_client, b"Nama,NIK\nBudi,1\n", "peserta.csv")
    assert response.status_code == 400
    assert "peserta.csv: Bukan berkas .xlsx" in response.get_data(as_text=True)
    no_header = upload(admin_client, xlsx([["Nama", "Alamat"], ["Budi", "Jl. Mawar"]]))
    assert no_header.status_code == 400
    assert "Baris judul kolom tidak ditemukan" in no_header.get_data(as_text=True)
    app.config["BIMTEK_IMPORT_MAX_BYTES"] = 2048
    big = upload(admin_client, xlsx(GOOD))
    assert big.status_code == 400 and "lebih besar dari" in big.get_data(as_text=True)
    assert _stored_files(app) == []
    with app.app_context():
        assert db.session.scalars(select(ParticipantImport)).all() == []


def test_pending_import_belongs_to_its_admin(app, admin_client, make_staff, make_peserta, auth):
    import_id = import_id_of(upload(admin_client, xlsx(GOOD)))
    make_staff("admin", "operator2", "rahasia-operator-2")
    make_peserta(nik="7322014107000009", password="sandi-peserta-1")
    other = app.test_client()
    from tests.conftest import Auth

    def post_form(c, path, data, form_page=None):
        return c.post(path, data={"csrf_token": csrf_token(c, form_page or path), **data})

    Auth(other, post_form).login("operator2", "rahasia-operator-2")
    assert other.get(f"/admin/peserta/impor/{import_id}").status_code == 404
    token = csrf_token(other, "/admin/peserta/impor")
    assert other.post(f"/admin/peserta/impor/{import_id}/konfirmasi",
                      data={"csrf_token": token, "mode": "semua"}).status_code == 404  # fmt: skip
    assert other.post(f"/admin/peserta/impor/{import_id}/batal",
                      data={"csrf_token": token}).status_code == 404  # fmt: skip
    assert other.get("/admin/peserta/impor/99999").status_code == 404
    peserta = app.test_client()
    Auth(peserta, post_form).login("7322014107000009", "sandi-peserta-1")
    for path in ("/admin/peserta/impor", "/admin/peserta/templat.xlsx",
                 f"/admin/peserta/impor/{import_id}"):  # fmt: skip
        assert peserta.get(path).status_code == 403
    assert _niks(app) == ["7322014107000009"]


def test_discard_and_stale_uploads_are_deleted(app, admin_client):
    first = import_id_of(upload(admin_client, xlsx(GOOD)))
    token = csrf_token(admin_client, f"/admin/peserta/impor/{first}")
    admin_client.post(f"/admin/peserta/impor/{first}/batal", data={"csrf_token": token})
    assert _stored_files(app) == []
    assert admin_client.get(f"/admin/peserta/impor/{first}").status_code == 404
    second = import_id_of(upload(admin_client, xlsx(GOOD)))
    with app.app_context():
        record = db.session.get(ParticipantImport, second)
        record.created_at = utcnow() - timedelta(days=2)
        db.session.commit()
    upload(admin_client, xlsx(GOOD))  # any upload sweeps what is older than a day
    assert len(_stored_files(app)) == 1
    with app.app_context():
        assert db.session.get(ParticipantImport, second).status == "discarded"
    assert admin_client.get(f"/admin/peserta/impor/{second}").status_code == 404


def test_participants_list_links_the_importer(admin_client):
    page = admin_client.get("/admin/peserta").get_data(as_text=True)
    assert 'href="/admin/peserta/impor"' in page


def _nik(n: int) -> str:
    return f"73220155069{n:05d}"


def _names(app, prefix: str) -> int:
    with app.app_context():
        return len(db.session.scalars(select(User.id).where(User.nama.like(prefix + "%"))).all())


def test_the_preview_lists_the_first_rows_of_each_kind_and_the_commit_takes_every_row(
    app, admin_client
):
    first = xlsx([HEADER] + [person(n, f"Lama {n:03d}", _nik(n)) for n in range(1, 311)])
    assert (
        confirm(admin_client, import_id_of(upload(admin_client, first)), "semua").status_code == 302
    )
    sheet = xlsx(
        [HEADER]
        + [person(n, f"Diubah {n:03d}", _nik(n)) for n in range(1, 311)]  # rows 2-311
        + [person(n, f"Baru {n:03d}", _nik(n)) for n in range(311, 616)]  # rows 312-616
        + [person(n, f"Salah {n:03d}", _nik(n), desa="Desa Tidak Ada") for n in range(616, 918)]
    )
    import_id = import_id_of(upload(admin_client, sheet))
    page = admin_client.get(f"/admin/peserta/impor/{import_id}").get_data(as_text=True)
    counts = re.findall(r"<strong>([\d.]+)</strong> ([a-z ]+)</li>", page)
    assert counts == [("305", "akun baru"), ("310", "diperbarui"), ("0", "tidak berubah"),
                      ("302", "baris ditolak")]  # fmt: skip
    assert "Impor hanya baris yang valid (305 baru, 310 diperbarui)" in page
    # The first 300 of each kind are listed, then how many more there are.
    assert "Diubah 300" in page and "Diubah 301" not in page and "… dan 10 lainnya" in page
    assert "Baru 610" in page and "Baru 611" not in page and "… dan 5 lainnya" in page
    rejected = re.search(r'data-testid="rejected">(.*?)</table>', page, re.S).group(1)
    assert rejected.count("<tr><td>") == 300 and "<td>916</td>" in rejected
    assert "<td>917</td>" not in rejected and "… dan 2 masalah lain" in page
    assert _names(app, "Diubah") == 0 and _names(app, "Baru") == 0  # nothing written yet
    # The commit takes every valid row, not only those the preview listed.
    assert confirm(admin_client, import_id, "valid").status_code == 302
    assert (_names(app, "Diubah"), _names(app, "Baru"), _names(app, "Lama")) == (310, 305, 0)
    assert _names(app, "Salah") == 0 and _stored_files(app) == []


@pytest.mark.parametrize("kept_check", [False, True], ids=["rows-only", "rows-and-check"])
def test_an_upload_kept_by_the_previous_version_still_previews_and_commits(
    app, admin_client, kept_check
):
    import_id = import_id_of(upload(admin_client, xlsx(WITH_ERROR)))
    preview_url = f"/admin/peserta/impor/{import_id}"

    def shown() -> str:
        page = admin_client.get(preview_url).get_data(as_text=True)
        return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", page)

    expected = shown()
    assert "Satu Anggota" in expected and "<strong>1</strong> baris ditolak" in expected
    # Before previews were kept, the upload was one JSON: the rows read (and the check then).
    [name] = _stored_files(app)
    path = Path(app.config["BIMTEK_UPLOAD_DIR"]) / "imports" / name
    old = json.loads(path.read_bytes().split(b"\n")[1])
    assert set(old) == {"sha256", "parsed"}
    if kept_check:
        with app.app_context():
            plan = importer.plan_parsed(importer.ParsedSheet.from_dict(old["parsed"]))
            old["plan"] = {
                "version": 1,
                "rows": [importer._row_to_list(r) for r in plan.rows],
                "rejected": [[r.row, r.column, r.reason] for r in plan.rejected],
            }
    path.write_text(json.dumps(old, ensure_ascii=False), "utf-8")
    assert shown() == expected
    assert confirm(admin_client, import_id, "valid").status_code == 302
    assert _niks(app) == ["7322015506910001", "7322015506910002"]
