"""Hand-made .xlsx files for the hostile-spreadsheet tests: the XML openpyxl will not write
(inline strings, a formula with a cached value, a shared-string index past the table's end).

A cell is a value (str → inline string, int/float → number, None → no cell) or a Raw fragment
placed as is inside <c r="…">…</c> with its own attributes.
"""

import io
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


@dataclass(frozen=True)
class Raw:
    attrs: str  # e.g. 't="str"'
    inner: str  # e.g. '<f>1+1</f><v>3201</v>'


def formula(expression: str, cached: str) -> Raw:
    """A formula cell whose cached result is the string `cached` (what Excel saved)."""
    return Raw('t="str"', f"<f>{escape(expression)}</f><v>{escape(cached)}</v>")


def error(code: str) -> Raw:
    return Raw('t="e"', f"<v>{escape(code)}</v>")


def shared(index: int) -> Raw:
    return Raw('t="s"', f"<v>{index}</v>")


def _cell(ref: str, value) -> str:
    if isinstance(value, Raw):
        return f'<c r="{ref}" {value.attrs}>{value.inner}</c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'


def _sheet_chunks(rows):
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{_NS}"><sheetData>'
    letters: list[str] = []
    for number, row in enumerate(rows, start=1):
        while len(letters) < len(row):
            letters.append(get_column_letter(len(letters) + 1))
        cells = "".join(
            _cell(f"{letters[i]}{number}", v) for i, v in enumerate(row) if v is not None
        )
        yield f'<row r="{number}">{cells}</row>'
    yield "</sheetData></worksheet>"


def workbook(rows, shared_strings: list[str] | None = None, title: str = "Peserta") -> bytes:
    """An .xlsx with one sheet of `rows` (any iterable, streamed into the zip)."""
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        + (
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            if shared_strings is not None
            else ""
        )
        + "</Types>"
    )
    root_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    book = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_NS}" xmlns:r="{_REL}">'
        f'<sheets><sheet name="{escape(title)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    book_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        + (
            f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
            if shared_strings is not None
            else ""
        )
        + "</Relationships>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", root_rels)
        archive.writestr("xl/workbook.xml", book)
        archive.writestr("xl/_rels/workbook.xml.rels", book_rels)
        if shared_strings is not None:
            items = "".join(f"<si><t>{escape(s)}</t></si>" for s in shared_strings)
            archive.writestr(
                "xl/sharedStrings.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_NS}" '
                f'count="{len(shared_strings)}" uniqueCount="{len(shared_strings)}">{items}</sst>',
            )
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            pending: list[str] = []
            size = 0
            for chunk in _sheet_chunks(rows):
                pending.append(chunk)
                size += len(chunk)
                if size > 1 << 20:
                    sheet.write("".join(pending).encode())
                    pending, size = [], 0
            sheet.write("".join(pending).encode())
    return buffer.getvalue()


HEADER = ["No", "Nama Lengkap", "NIK", "Badan", "Jabatan", "Kecamatan", "Desa/Kelurahan"]


def big_sheet(rows: int, columns: int) -> bytes:
    """The black-box test's shape: a valid header, then `rows` rows of `columns` inline strings."""
    header = HEADER + [f"Kolom {i}" for i in range(len(HEADER) + 1, columns + 1)]

    def body():
        yield header
        filler = [f"isian-{i:03d}" for i in range(len(HEADER), columns)]
        for n in range(1, rows + 1):
            yield [str(n), f"Peserta {n}", f"73220155069{n:05d}", "PPS", "Anggota",
                   "Malangke", "Pattimang", *filler]  # fmt: skip

    return workbook(body())
