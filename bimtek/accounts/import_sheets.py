"""The workbooks the participants import hands out: the template and the credentials sheet.

Pure builders: values in, .xlsx bytes out. Every string is written as text (spreadsheet.py).
"""

import io
from collections import defaultdict
from collections.abc import Callable, Iterable

import segno
from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation

from bimtek.accounts.roles import BADAN, JABATAN
from bimtek.spreadsheet import set_text, sheet_title, text_cell

TEMPLATE_COLUMNS = (
    ("No", 6),
    ("Nama Lengkap", 32),
    ("NIK", 20),
    ("Badan", 18),
    ("Jabatan", 14),
    ("Kecamatan", 20),
    ("Desa/Kelurahan", 24),
    ("ASN (Ya/Tidak)", 14),
    ("No HP", 18),
)
TEMPLATE_ROWS = 2000  # rows pre-formatted (NIK as text) and validated
BOLD = Font(bold=True)


def build_template(wilayah: Iterable[tuple[str, str, str | None, str | None]]) -> bytes:
    """The blank participants sheet, plus a sheet of the loaded kecamatan/desa codes.

    `wilayah`: (kecamatan kode, kecamatan nama, desa kode, desa label) rows in display order.
    """
    wb = Workbook()
    ws = wb.active
    ws.title = "Peserta"
    for index, (label, width) in enumerate(TEMPLATE_COLUMNS, start=1):
        cell = ws.cell(row=1, column=index)
        set_text(cell, label)
        cell.font = BOLD
        ws.column_dimensions[cell.column_letter].width = width
    ws.freeze_panes = "A2"
    # NIK as text: a numeric cell keeps only 15 significant digits.
    ws.column_dimensions["C"].number_format = "@"
    for row in range(2, TEMPLATE_ROWS + 2):
        ws.cell(row=row, column=3).number_format = "@"
        ws.cell(row=row, column=9).number_format = "@"
    last = TEMPLATE_ROWS + 1
    for column, values, title in (
        ("D", BADAN, "Badan"),
        ("E", JABATAN, "Jabatan"),
        ("H", ("Ya", "Tidak"), "ASN"),
    ):
        validation = DataValidation(
            type="list",
            formula1='"' + ",".join(values) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=title,
            error=f"Pilih salah satu: {', '.join(values)}.",
        )
        validation.add(f"{column}2:{column}{last}")
        ws.add_data_validation(validation)

    codes = wb.create_sheet("Kode Wilayah")
    for index, (label, width) in enumerate(
        (("Kode Kecamatan", 16), ("Kecamatan", 24), ("Kode Desa", 18), ("Desa/Kelurahan", 30)),
        start=1,
    ):
        cell = codes.cell(row=1, column=index)
        set_text(cell, label)
        cell.font = BOLD
        codes.column_dimensions[cell.column_letter].width = width
    for row, values in enumerate(wilayah, start=2):
        for column, value in enumerate(values, start=1):
            set_text(codes.cell(row=row, column=column), value or "")
    codes.freeze_panes = "A2"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


CREDENTIAL_COLUMNS = (
    ("No", 5),
    ("Nama", 30),
    ("NIK (nama pengguna)", 20),  # once: the NIK is what they sign in with
    ("Jabatan", 22),
    ("Desa/Kelurahan", 22),
    ("Kata sandi awal", 17),
)
QR_COLUMN = ("Atau pindai untuk masuk", 16)
QR_ROW_HEIGHT = 80  # points: room for a QR code of ~100 px


def _qr_image(url: str) -> Image:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=3, border=2)
    buffer.seek(0)
    return Image(buffer)


def build_credentials(
    credentials: Iterable, issued_label: str, qr_link: Callable[[str], str] | None = None
) -> bytes:
    """One sheet per kecamatan: who signs in with what, to hand out at the session.

    `credentials`: objects with kecamatan, desa, nama, nik, badan, jabatan, password, token.
    With `qr_link` (token -> URL), each row also gets a QR code that signs in once, so a hall
    does not type 16-digit NIKs.
    """
    by_kecamatan = defaultdict(list)
    for c in credentials:
        by_kecamatan[c.kecamatan].append(c)
    wb = Workbook(write_only=True)
    taken: set[str] = set()
    mono = Font(name="Courier New", size=12, bold=True)
    for kecamatan in sorted(by_kecamatan):
        ws = wb.create_sheet(sheet_title(kecamatan, taken))
        columns = CREDENTIAL_COLUMNS + ((QR_COLUMN,) if qr_link else ())
        for index, (_label, width) in enumerate(columns, start=1):
            letter = chr(ord("A") + index - 1)
            ws.column_dimensions[letter].width = width
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = "9"  # A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_title_rows = "4:4"
        ws.append([text_cell(ws, f"Kata sandi awal peserta — Kecamatan {kecamatan}", BOLD)])
        ws.append(
            [
                text_cell(
                    ws,
                    f"Dibuat {issued_label}. Wajib diganti saat masuk pertama. "
                    "Lembar yang dibuat sebelumnya tidak berlaku lagi.",
                )
            ]
        )
        ws.append([])
        ws.append([text_cell(ws, label, BOLD) for label, _ in columns])
        rows = sorted(by_kecamatan[kecamatan], key=lambda c: (c.desa, c.badan, c.nama))
        for number, c in enumerate(rows, start=1):
            ws.append(
                [
                    text_cell(ws, number),
                    text_cell(ws, c.nama),
                    text_cell(ws, c.nik, number_format="@"),
                    text_cell(ws, f"{c.jabatan} {c.badan}".strip()),
                    text_cell(ws, c.desa or "—"),
                    text_cell(ws, c.password, mono),
                ]
            )
            if qr_link and getattr(c, "token", ""):
                row = 4 + number  # title, note, blank, header, then the people
                ws.row_dimensions[row].height = QR_ROW_HEIGHT
                image = _qr_image(qr_link(c.token))
                image.anchor = f"G{row}"
                ws.add_image(image)
    if not by_kecamatan:
        ws = wb.create_sheet("Kosong")
        ws.append([text_cell(ws, "Tidak ada akun yang perlu kata sandi awal.")])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
