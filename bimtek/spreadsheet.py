"""Spreadsheets in and out: the safety rules every xlsx import and export shares.

Reading: an .xlsx is a zip of XML, so the zip's listing is checked (type, total uncompressed size)
before openpyxl parses anything, openpyxl parses with defusedxml (installed as a dependency), and the
sheet's declared dimensions are ignored. Writing: every string that came from a person is written as
text, never as a formula, with characters Excel cannot store removed.
"""

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from openpyxl import load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters that make a spreadsheet program evaluate a cell (OWASP CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
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


def open_xlsx(
    source: bytes | str | Path | IO[bytes],
    *,
    max_bytes: int = 10 * 1024 * 1024,
    max_uncompressed: int = MAX_UNCOMPRESSED_BYTES,
):
    """Check and open an .xlsx read-only (values, not formulas); SpreadsheetError if refused."""
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
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged parts
        raise SpreadsheetError("Berkas .xlsx tidak dapat dibaca (rusak atau terenkripsi).") from exc


def iter_sheet_rows(worksheet, max_rows: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(row number, values) for each row, ignoring the sheet's declared size.

    Raises SpreadsheetError past max_rows rather than reading an unbounded sheet.
    """
    worksheet.reset_dimensions()
    for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
        if number > max_rows:
            limit = f"{max_rows:,}".replace(",", ".")
            raise SpreadsheetError(
                f"Lembar berisi lebih dari {limit} baris. Pisahkan menjadi beberapa berkas."
            )
        yield number, values


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
