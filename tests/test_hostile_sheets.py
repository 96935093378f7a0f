"""Hostile and odd spreadsheets (issue 12 §5): the work budget, formulas and Excel errors in
identity cells, invisible characters in names, a damaged shared-string table; and the preview
that never parses the workbook again. Workbooks are built here (tests/xlsx_craft.py writes the
XML openpyxl will not: inline strings, formulas with cached values, bad indexes)."""

import io
import re
import time
import unicodedata
import zipfile

import pytest
from sqlalchemy import func, select

from bimtek import spreadsheet
from bimtek.accounts import importer
from bimtek.accounts.models import ParticipantImport, User
from bimtek.extensions import db
from bimtek.spreadsheet import SpreadsheetError
from tests.conftest import csrf_token
from tests.test_import import person
from tests.xlsx_craft import HEADER, Raw, big_sheet, error, formula, shared, workbook

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_rows": 50_000}


@pytest.fixture
def app_config(tmp_path):
    return {"BIMTEK_UPLOAD_DIR": str(tmp_path / "uploads")}


@pytest.fixture
def plan(app, wilayah):
    def make(data: bytes, **limits):
        with app.app_context():
            return importer.plan_import(data, **{**LIMITS, **limits})

    return make


def upload(client, data: bytes, name="peserta.xlsx"):
    token = csrf_token(client, "/admin/peserta/impor")
    return client.post(
        "/admin/peserta/impor",
        data={"csrf_token": token, "berkas": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _imports(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ParticipantImport))


def _stored(app) -> list[str]:
    from pathlib import Path

    folder = Path(app.config["BIMTEK_UPLOAD_DIR"]) / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _rewrite(data: bytes, part: str, change) -> bytes:
    """The same .xlsx with one part's XML changed by `change(text) -> text`."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == part:
                content = change(content.decode()).encode()
            target.writestr(item.filename, content)
    return buffer.getvalue()


# ---- the work budget ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big() -> bytes:
    """The black-box test's shape: 30,000 rows × 60 inline strings, a few MB as a file and
    ~140 MB of XML, under the 200 MB cap on uncompressed bytes."""
    return big_sheet(30_000, 60)


def test_a_big_sheet_is_refused_in_seconds_naming_the_limit(app, admin_client, big):
    started = time.monotonic()
    response = upload(admin_client, big)
    elapsed = time.monotonic() - started
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "lebih dari 500.000 sel" in page and "batas untuk impor" in page
    # Before the budget this upload took 77 s here and every preview view as long again.
    assert elapsed < 10, f"refused after {elapsed:.1f} s"
    assert _imports(app) == 0 and _stored(app) == []


def test_the_cell_budget_is_exact_and_counts_every_spelling():
    rows = [[f"r{r}c{c}" for c in range(5)] for r in range(10)]  # 50 cells
    data = workbook(rows)
    spreadsheet.open_xlsx(data, max_cells=50).close()
    with pytest.raises(SpreadsheetError, match=r"lebih dari 49 sel"):
        spreadsheet.open_xlsx(data, max_cells=49)
    # A namespace prefix or a new line after the tag name does not hide a cell from the count.
    sheet = "xl/worksheets/sheet1.xml"
    prefixed = _rewrite(
        data,
        sheet,
        lambda x: (
            x.replace("<worksheet ", '<worksheet xmlns:x="urn:x" ')
            .replace("<c ", "<x:c ", 20)
            .replace("<c ", "<c\n", 20)
        ),
    )
    with pytest.raises(SpreadsheetError, match=r"lebih dari 49 sel"):
        spreadsheet.open_xlsx(prefixed, max_cells=49)
    # A shared-string table bigger than the budget is refused before openpyxl loads it.
    many = workbook([[shared(0)]], shared_strings=[f"teks {i}" for i in range(60)])
    with pytest.raises(SpreadsheetError, match=r"lebih dari 50 teks berbeda"):
        spreadsheet.open_xlsx(many, max_cells=50)


def test_reading_stops_at_the_time_limit():
    data = workbook([HEADER, person(1, "Ani", "7322015506910001")])
    with pytest.raises(SpreadsheetError, match=r"melewati batas waktu impor"):
        importer.read_sheet(data, **LIMITS, max_seconds=0)


# ---- the preview never parses again ---------------------------------------------------------


def test_preview_and_confirm_plan_from_the_stored_rows_not_the_workbook(app, admin_client):
    data = workbook(
        [HEADER, person(1, "Satu Anggota", "7322015506910001"),
         person(2, "Dua Anggota", "7322015506910002")]
    )  # fmt: skip
    before = spreadsheet.parse_count
    response = upload(admin_client, data)
    assert response.status_code == 302
    assert spreadsheet.parse_count == before + 1
    stored = _stored(app)
    assert len(stored) == 1 and stored[0].endswith(".json")  # the rows as parsed, no workbook
    preview_url = response.headers["Location"]
    for _ in range(3):
        page = admin_client.get(preview_url).get_data(as_text=True)
        assert "Satu Anggota" in page and "Dua Anggota" in page
    import_id = int(preview_url.rsplit("/", 1)[1])
    token = csrf_token(admin_client, preview_url)
    done = admin_client.post(
        f"/admin/peserta/impor/{import_id}/konfirmasi", data={"csrf_token": token, "mode": "all"}
    )
    assert done.status_code == 302
    assert spreadsheet.parse_count == before + 1  # three previews and a commit: no parse
    with app.app_context():
        names = set(db.session.scalars(select(User.nama).where(User.role == "peserta")))
    assert names == {"Satu Anggota", "Dua Anggota"}
    assert _stored(app) == []


def test_an_upload_kept_by_the_old_version_asks_for_a_new_upload(app, admin_client):
    response = upload(admin_client, workbook([HEADER, person(1, "Ani", "7322015506910001")]))
    with app.app_context():
        record = db.session.scalars(select(ParticipantImport)).one()
        record.stored_name = "lama.xlsx"
        db.session.commit()
    page = admin_client.get(response.headers["Location"], follow_redirects=True)
    assert "Unggah ulang berkasnya" in page.get_data(as_text=True)


# ---- formulas and Excel errors in identity cells --------------------------------------------


def test_formula_cells_in_name_or_nik_are_refused_naming_the_cell(plan):
    result = plan(
        workbook(
            [
                HEADER,
                person(1, formula('HYPERLINK("http://evil.test","Ani Sulastri")', "Ani Sulastri"),
                       "7322015506910001"),
                person(2, "Budi Santoso", formula("1+1", "7322015506910002")),
                # A looked-up kecamatan is fine: it is not who the person is.
                person(3, "Citra Dewi", "7322015506910003",
                       kec=formula("VLOOKUP(A4,Kode!A:B,2,0)", "Malangke")),
            ]
        )
    )  # fmt: skip
    messages = [str(r) for r in result.rejected]
    assert any(
        m.startswith("Baris 2, kolom B (Nama Lengkap): Sel B2 berisi rumus") for m in messages
    )
    assert any(m.startswith("Baris 3, kolom C (NIK): Sel C3 berisi rumus") for m in messages)
    assert result.rejected_rows == {2, 3}
    assert [r.data.nama for r in result.rows] == ["Citra Dewi"]


def test_excel_error_values_are_not_names_or_niks(plan):
    result = plan(
        workbook(
            [
                HEADER,
                person(1, error("#N/A"), "7322015506910001"),
                person(2, "#REF!", "7322015506910002"),  # an error exported as text
                person(3, "Dewi", error("#VALUE!")),
                person(4, "Eka Putri", "7322015506910004"),
            ]
        )
    )
    messages = "\n".join(str(r) for r in result.rejected)
    assert "Baris 2, kolom B (Nama Lengkap): Sel B2 berisi nilai galat Excel #N/A" in messages
    assert "Baris 3, kolom B (Nama Lengkap): '#REF!' adalah tanda galat Excel" in messages
    assert "Baris 4, kolom C (NIK): Sel C4 berisi nilai galat Excel #VALUE!" in messages
    assert [r.data.nama for r in result.rows] == ["Eka Putri"]


def test_a_damaged_shared_string_index_is_a_damaged_file_not_a_server_error(app, admin_client):
    strings = HEADER + ["Ani Sulastri", "7322015506910001", "PPS", "Anggota", "Malangke"]
    good_row = [shared(i) for i in range(7, 12)]
    for bad in (Raw('t="s"', "<v>999</v>"), Raw('t="s"', "<v>x</v>")):
        data = workbook(
            [[shared(i) for i in range(7)], [1, *good_row, "Pattimang"], [2, bad, *good_row[1:]]],
            shared_strings=strings,
        )
        response = upload(admin_client, data)
        page = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "rusak dan tidak dapat dibaca (berkas rusak)" in page
    assert _imports(app) == 0


# ---- names look the same everywhere they are printed ----------------------------------------


def _commit(app, data: bytes):
    with app.app_context():
        result = importer.plan_import(data, **LIMITS)
        record = importer.new_import_record(data, "peserta.xlsx", None)
        importer.commit_plan(result, record, None, skip_invalid=True)
        db.session.commit()
        names = dict(
            db.session.execute(select(User.nik, User.nama).where(User.role == "peserta")).all()
        )
        return result, names


def test_imported_names_are_nfc_without_invisible_characters(app, wilayah):
    data = workbook(
        [
            HEADER,
            person(1, "Ani\u200b Sulastri\ufeff", "7322015506910001"),
            person(2, "Jose\u0301 Rizal", "7322015506910002"),  # e + combining acute
            person(3, "Nur\u202eanah", "7322015506910003"),  # right-to-left override
            person(4, "Dewi\u2066 Bel\u2069", "7322015506910004"),  # bidi isolate
            person(5, "Eka_x0007_ Putri", "7322015506910005"),  # U+0007 as a sheet stores it
        ]
    )
    result, names = _commit(app, data)
    assert names == {"7322015506910001": "Ani Sulastri", "7322015506910002": "José Rizal"}
    assert len(names["7322015506910002"]) == 10  # one code point for é
    assert names["7322015506910002"] == unicodedata.normalize("NFC", "José Rizal")
    messages = "\n".join(str(r) for r in result.rejected)
    assert "Baris 4, kolom B (Nama Lengkap): Nama memuat karakter pengatur arah teks" in messages
    assert "(U+202E)" in messages and "(U+2066)" in messages
    assert "Baris 6, kolom B (Nama Lengkap): Nama memuat karakter kendali" in messages
    assert "(U+0007)" in messages


def test_the_participant_form_cleans_and_refuses_the_same_way(app, admin_client, post_form):
    from tests.test_participants import VALID

    refused = post_form(admin_client, "/admin/peserta/baru", {**VALID, "nama": "Hasnah\u202e Lau"})
    assert refused.status_code == 400
    assert "pengatur arah teks" in refused.get_data(as_text=True)
    refused = post_form(admin_client, "/admin/peserta/baru", {**VALID, "nama": "#N/A"})
    assert "tanda galat Excel" in refused.get_data(as_text=True)
    created = post_form(
        admin_client, "/admin/peserta/baru", {**VALID, "nama": "Hasnah\u200b Lau\u0301pe\u00a0"}
    )
    assert created.status_code == 200
    with app.app_context():
        user = db.session.scalars(select(User).where(User.nik == VALID["nik"])).one()
        assert user.nama == "Hasnah Laúpe" and len(user.nama) == 12
        edit = f"/admin/peserta/{user.id}/ubah"
    refused = post_form(admin_client, edit, {**VALID, "nama": "Hasnah\x07 Laupe"})
    assert refused.status_code == 400
    assert "karakter kendali" in refused.get_data(as_text=True)
    assert re.search(r"U\+0007", refused.get_data(as_text=True))
