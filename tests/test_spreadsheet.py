"""The shared xlsx safety rules, read back with openpyxl."""

import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from bimtek.spreadsheet import (
    SpreadsheetError,
    find_header,
    iter_sheet_rows,
    open_xlsx,
    set_text,
    sheet_title,
    text_cell,
)
from tests.conftest import CORPUS


def _xlsx(rows) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _formula_payloads() -> list[str]:
    corpus = CORPUS
    lines = []
    for path in sorted(corpus.rglob("*")):
        if path.is_file() and "formula" in path.name.lower():
            lines += [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return lines or ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_written_strings_stay_text_through_a_save(tmp_path):
    payloads = _formula_payloads() + ['=HYPERLINK("http://x","klik")', "nama\x07 bel\x1b"]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    for value in payloads:
        ws.append([text_cell(ws, value)])
    normal = Workbook()
    for i, value in enumerate(payloads, start=1):
        set_text(normal.active.cell(row=i, column=1), value)
    for book, name in ((wb, "wo.xlsx"), (normal, "normal.xlsx")):
        book.save(tmp_path / name)
        back = load_workbook(tmp_path / name).worksheets[0]
        cells = [row[0] for row in back.iter_rows()]
        assert len(cells) == len(payloads)
        for cell, value in zip(cells, payloads, strict=True):
            assert cell.data_type == "s", value
            assert "\x07" not in cell.value and "\x1b" not in cell.value
        assert cells[-1].value == "nama bel"


def test_sheet_titles_are_valid_and_unique():
    taken: set[str] = set()
    long = "Kecamatan Dengan Nama Yang Sangat Panjang Sekali"
    titles = [sheet_title(n, taken) for n in ["A/B", long, long, "", "x:y?[z]*", "'q'"]]
    assert titles[0] == "A-B"
    assert all(0 < len(t) <= 31 for t in titles)
    assert len({t.casefold() for t in titles}) == len(titles)
    wb = Workbook()
    for t in titles:
        wb.create_sheet(t)  # openpyxl raises on an invalid title


def test_open_refuses_what_is_not_a_sane_xlsx(tmp_path):
    with pytest.raises(SpreadsheetError, match="kosong"):
        open_xlsx(b"")
    with pytest.raises(SpreadsheetError, match=r"\.xls"):
        open_xlsx(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(SpreadsheetError, match="Bukan berkas"):
        open_xlsx(b"Nama,NIK\nBudi,1234\n")
    with pytest.raises(SpreadsheetError, match="MB"):
        open_xlsx(_xlsx([["a"]]), max_bytes=100)
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(SpreadsheetError, match="buku kerja"):
        open_xlsx(other_zip.getvalue())
    bomb = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(_xlsx([["a"]]))) as src,
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z,
    ):
        for item in src.infolist():
            z.writestr(item, src.read(item))
        z.writestr("xl/padding.bin", b"\0" * (3 * 1024 * 1024))
    with pytest.raises(SpreadsheetError, match="terlalu besar"):
        open_xlsx(bomb.getvalue(), max_uncompressed=2 * 1024 * 1024)


def test_header_found_below_a_title_and_rows_counted_without_trusting_dimensions():
    data = _xlsx([["DAFTAR PPS"], [], ["No.", "Nama Lengkap", " no. KTP "], [1, "Budi", "x"]])
    ws = open_xlsx(data).worksheets[0]
    rows = iter_sheet_rows(ws, max_rows=10)
    header = find_header(
        rows, {"nama": ["Nama", "Nama Lengkap"], "nik": ["NIK", "No KTP"]}, {"nama", "nik"}
    )
    assert header.row == 3
    assert header.columns == {"nama": 1, "nik": 2}
    assert [n for n, _ in rows] == [4]
    with pytest.raises(SpreadsheetError, match="lebih dari 2 baris"):
        list(iter_sheet_rows(open_xlsx(data).worksheets[0], max_rows=2))
    with pytest.raises(SpreadsheetError, match="judul kolom"):
        find_header(
            iter_sheet_rows(open_xlsx(_xlsx([["a", "b"]])).worksheets[0], 5),
            {"nik": ["NIK"]},
            {"nik"},
        )
