"""Spreadsheets in and out: the safety rules every xlsx import and export shares.

Reading: an .xlsx is a zip of XML, so the zip's listing is checked (type, total uncompressed size)
and its XML is counted (cells, shared strings) before openpyxl parses anything: a small file can
hold a sheet that takes minutes to parse, so the work is budgeted by cells and by time, not only by
bytes. openpyxl parses with defusedxml (installed as a dependency), the sheet's declared dimensions
are ignored, and every row says which of its cells were formulas or Excel error values (the value
read is the one Excel cached, which the person never typed). Writing: every string that came from a person is written as
text, never as a formula, with characters Excel cannot store removed.
"""

import io
import logging
import re
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from zlib import error as zlib_error

from openpyxl import load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

log = logging.getLogger(__name__)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters that make a spreadsheet program evaluate a cell (OWASP CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
# About 50,000 rows of the 9-column template; openpyxl reads some 30,000 cells a second here.
MAX_CELLS = 500_000
MAX_SECONDS = 60
# A cell (<c …>) or a shared string (<si>): the usual spellings counted with bytes.count (fast),
# the rare ones (a namespace prefix, a tab or newline after the name) with a regular expression.
_PLAIN = {b"c": (b"<c ", b"<c>", b"<c/"), b"si": (b"<si ", b"<si>", b"<si/")}
_ROW = {b"row": (b"<row ", b"<row>")}
_ODD = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:(c|si)[\s/>]|(c|si)[\t\r\n])")
_SCAN_OVERLAP = 64
# How many times the parse started (tests count it: a preview must not parse again).
parse_count = 0
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SHEET_TITLE_BAD = re.compile(r"[\\/?*\[\]:]")


class SpreadsheetError(ValueError):
    """A spreadsheet we refuse to read; the message is for the person who uploaded it."""


def _read_bytes(source: bytes | str | Path | IO[bytes], max_bytes: int) -> bytes:
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str | Path):
        path = Path(source)
        if path.stat().st_size > max_bytes:
            raise SpreadsheetError(_too_large(max_bytes))
        data = path.read_bytes()
    else:
        data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SpreadsheetError(_too_large(max_bytes))
    return data


def _too_large(max_bytes: int) -> str:
    return f"Berkas lebih besar dari {max_bytes // (1024 * 1024)} MB."


def check_xlsx(
    source: bytes | str | Path | IO[bytes],
    *,
    max_bytes: int = 10 * 1024 * 1024,
    max_uncompressed: int = MAX_UNCOMPRESSED_BYTES,
    max_cells: int = MAX_CELLS,
) -> tuple[bytes, int]:
    """The checks made before parsing (size, type, the zip, the cell budget), which take
    milliseconds for a 30,000-row sheet: (the bytes, the rows of its largest worksheet).
    The row count lets an upload choose between the request and a background job."""
    data = _read_bytes(source, max_bytes)
    if not data:
        raise SpreadsheetError("Berkas kosong.")
    if data.startswith(_OLE2_MAGIC):
        raise SpreadsheetError(
            "Ini berkas Excel lama (.xls). Buka di Excel lalu simpan sebagai .xlsx "
            "(Excel Workbook), kemudian unggah lagi."
        )
    if not data.startswith(b"PK"):
        raise SpreadsheetError("Bukan berkas .xlsx. Gunakan templat atau simpan sebagai .xlsx.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise SpreadsheetError("Berkas .xlsx rusak atau tidak lengkap.") from exc
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise SpreadsheetError("Bukan berkas .xlsx (isinya bukan buku kerja Excel).")
    if sum(m.file_size for m in members) > max_uncompressed:
        raise SpreadsheetError(
            "Isi berkas terlalu besar setelah dibuka. Pisahkan data menjadi beberapa berkas."
        )
    return data, _check_cells(archive, members, max_cells)


def open_xlsx(
    source: bytes | str | Path | IO[bytes],
    *,
    max_bytes: int = 10 * 1024 * 1024,
    max_uncompressed: int = MAX_UNCOMPRESSED_BYTES,
    max_cells: int = MAX_CELLS,
):
    """Check and open an .xlsx read-only (values, not formulas); SpreadsheetError if refused."""
    global parse_count
    parse_count += 1
    data, _rows = check_xlsx(
        source, max_bytes=max_bytes, max_uncompressed=max_uncompressed, max_cells=max_cells
    )
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged parts
        raise SpreadsheetError("Berkas .xlsx tidak dapat dibaca (rusak atau terenkripsi).") from exc


def too_many_rows(max_rows: int) -> SpreadsheetError:
    return SpreadsheetError(
        f"Lembar berisi lebih dari {_angka(max_rows)} baris. Pisahkan menjadi beberapa berkas."
    )


def _angka(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _check_cells(archive: zipfile.ZipFile, members, max_cells: int) -> int:
    """Count the cells and shared strings in every XML part, streaming, and stop at the budget;
    return the rows (<row> elements) of the largest part.

    Decompressing and counting is some 50 times faster than openpyxl parsing the same XML, so a
    sheet of two million cells is refused in about a second instead of holding a worker for
    minutes. Every .xml part is counted, not only xl/worksheets/: a workbook may put its
    sheets anywhere its relationships point.
    """
    counts = {b"c": 0, b"si": 0}
    largest = 0
    for member in members:
        if not member.filename.endswith(".xml"):
            continue
        tail = b""
        rows = {b"row": 0}
        try:
            with archive.open(member) as part:
                while chunk := part.read(1 << 20):
                    buffer = tail + chunk
                    cut = max(len(buffer) - _SCAN_OVERLAP, 0)  # a tag cut in two waits
                    _count(counts, buffer, cut)
                    _count(rows, buffer, cut, _ROW)
                    tail = buffer[cut:]
                    _within(counts, max_cells)
                _count(counts, tail, len(tail))
                _count(rows, tail, len(tail), _ROW)
                _within(counts, max_cells)
        except (zipfile.BadZipFile, OSError, EOFError, zlib_error) as exc:
            raise SpreadsheetError("Berkas .xlsx rusak atau tidak lengkap.") from exc
        largest = max(largest, rows[b"row"])
    return largest


def _count(counts: dict[bytes, int], buffer: bytes, cut: int, spellings=None) -> None:
    """Add the tags in `buffer` that start before `cut` (the rest wait for the next chunk)."""
    for name, variants in (spellings or _PLAIN).items():
        counts[name] += sum(buffer.count(p, 0, cut + len(p) - 1) for p in variants)
    if spellings is not None:
        return  # rows are only an estimate: the usual spellings are enough
    for match in _ODD.finditer(buffer):
        if match.start() < cut:
            counts[match.group(1) or match.group(2)] += 1


def _within(counts: dict[bytes, int], max_cells: int) -> None:
    if max(counts.values()) > max_cells:
        what = "sel" if counts[b"c"] > max_cells else "teks berbeda (shared strings)"
        raise SpreadsheetError(
            f"Buku kerja berisi lebih dari {_angka(max_cells)} {what}, batas untuk impor; "
            "berkas tidak dibaca. Hapus kolom dan lembar yang tidak perlu atau pisahkan data "
            "menjadi beberapa berkas."
        )


class _CellParser(WorkSheetParser):
    """openpyxl's read-only sheet parser, marking formula cells ('f') while keeping the value
    Excel cached for them (data_only), so the importer can refuse what nobody typed."""

    def parse_cell(self, element):
        cell = super().parse_cell(element)
        if element.find(FORMULA_TAG) is not None:
            cell["data_type"] = "f"
        return cell


class SheetRow(tuple):
    """A row's values; `kinds` maps a 0-based column to 'f' (formula) or 'e' (error value)."""

    kinds: dict[int, str]

    def __new__(cls, values, kinds: dict[int, str]):
        row = super().__new__(cls, values)
        row.kinds = kinds
        return row


def iter_sheet_rows(
    worksheet, max_rows: int, *, deadline: float | None = None
) -> Iterator[tuple[int, SheetRow]]:
    """(row number, values) for each row that has cells, ignoring the sheet's declared size.

    Raises SpreadsheetError past max_rows, past `deadline` (a time.monotonic() value), and for a
    damaged sheet (e.g. a shared-string index past the end of the table), rather than reading
    an unbounded sheet or failing with a server error.
    """
    parent = worksheet.parent
    try:
        with worksheet._get_source() as source:
            parser = _CellParser(
                source,
                worksheet._shared_strings,
                data_only=True,
                epoch=parent.epoch,
                date_formats=parent._date_formats,
                timedelta_formats=parent._timedelta_formats,
            )
            for number, cells in parser.parse():
                if number > max_rows:
                    raise too_many_rows(max_rows)
                if deadline is not None and time.monotonic() > deadline:
                    raise SpreadsheetError(
                        f"Membaca lembar '{worksheet.title}' melewati batas waktu impor (berhenti "
                        f"di baris {_angka(number)}). Hapus kolom yang tidak perlu atau pisahkan "
                        "data menjadi beberapa berkas."
                    )
                if not cells:
                    continue
                values: list[Any] = [None] * max(cell["column"] for cell in cells)
                kinds: dict[int, str] = {}
                for cell in cells:
                    index = cell["column"] - 1
                    values[index] = cell["value"]
                    if cell["data_type"] in ("f", "e"):
                        kinds[index] = cell["data_type"]
                yield number, SheetRow(values, kinds)
    except SpreadsheetError:
        raise
    except Exception as exc:  # openpyxl and the XML parser raise many types for damaged parts
        log.info("sheet %r unreadable: %r", worksheet.title, exc)
        raise SpreadsheetError(
            f"Lembar '{worksheet.title}' rusak dan tidak dapat dibaca (berkas rusak). Buka di "
            "Excel, simpan ulang sebagai .xlsx, lalu unggah lagi."
        ) from exc


def normalise_header(value: Any) -> str:
    """'No. KTP ' → 'no ktp'; 'Desa/Kelurahan' → 'desa/kelurahan'."""
    if value is None:
        return ""
    text = re.sub(r"[.:_*]", " ", str(value)).casefold()
    return re.sub(r"\s*/\s*", "/", " ".join(text.split()))  # 'Desa / Kelurahan' too


@dataclass(frozen=True)
class Header:
    row: int  # 1-based row number of the header
    columns: dict[str, int]  # field → 0-based column index
    labels: dict[str, str]  # field → the header text as written in the sheet


def find_header(
    rows: Iterable[tuple[int, tuple[Any, ...]]],
    synonyms: dict[str, Iterable[str]],
    required: Iterable[str],
    scan_rows: int = 20,
) -> Header:
    """Find the header among the first rows: the first row naming every required field.

    `rows` should be an iterator: the caller goes on reading the data rows from it.
    """
    lookup = {normalise_header(s): field for field, names in synonyms.items() for s in names}
    required = set(required)
    for number, values in rows:
        columns: dict[str, int] = {}
        labels: dict[str, str] = {}
        for index, value in enumerate(values):
            field = lookup.get(normalise_header(value))
            if field and field not in columns:
                columns[field] = index
                labels[field] = str(value).strip()
        if required <= columns.keys():
            return Header(number, columns, labels)
        if number >= scan_rows:
            break
    names = ", ".join(f'"{next(iter(synonyms[f]))}"' for f in sorted(required))
    raise SpreadsheetError(
        f"Baris judul kolom tidak ditemukan di {scan_rows} baris pertama. "
        f"Kolom yang wajib ada: {names}."
    )


# ---- writing -------------------------------------------------------------------------------


def clean_text(value: str) -> str:
    """Drop the control characters that openpyxl refuses (and Excel cannot store)."""
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def is_formula_like(value: str) -> bool:
    return value.startswith(FORMULA_START)


def text_cell(worksheet, value: Any, font: Font | None = None, number_format: str | None = None):
    """A write-only cell holding `value`; strings are always stored as text, never as a formula."""
    if isinstance(value, str):
        value = clean_text(value)
    cell = WriteOnlyCell(worksheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would make '=…' a formula
        if is_formula_like(value):
            cell.quotePrefix = True  # Excel shows it as text and keeps it text when edited
    if font is not None:
        cell.font = font
    if number_format is not None:
        cell.number_format = number_format
    return cell


def safe(worksheet, value: Any):
    """What to append to a write-only row: plain values where openpyxl already writes them as
    they are (the fast path), a text cell for strings it would turn into a formula."""
    if isinstance(value, str):
        if ILLEGAL_CHARACTERS_RE.search(value):
            value = clean_text(value)
        if value.startswith(FORMULA_START):
            return text_cell(worksheet, value)
    return value


def set_text(cell, value: Any) -> None:
    """The same rule for a normal (not write-only) worksheet cell."""
    if isinstance(value, str):
        value = clean_text(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if is_formula_like(value):
            cell.quotePrefix = True


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique sheet title: no \\ / ? * [ ] :, at most 31 characters, not blank."""
    base = _SHEET_TITLE_BAD.sub("-", clean_text(name)).strip().strip("'") or "Lembar"
    base = base[:31]
    title, n = base, 2
    while title.casefold() in taken:
        suffix = f" ({n})"
        title = base[: 31 - len(suffix)] + suffix
        n += 1
    taken.add(title.casefold())
    return title
