"""The receipts of a circular as .xlsx: a summary per kecamatan and one row per addressed person.

Write-only (a province addresses tens of thousands of people); every string that came from a
person goes through bimtek.spreadsheet (text, never a formula). The NIK is masked."""

import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.styles import Font

from bimtek.imbauan.queries import Count, Recipient
from bimtek.spreadsheet import safe, text_cell
from bimtek.timeutil import waktu

BOLD = Font(bold=True)
SUMMARY_HEADER = ["Kabupaten/Kota", "Kecamatan", "Dituju", "Sudah dibaca", "Belum"]
RECEIPT_HEADER = ["No", "Nama", "NIK", "Badan", "Jabatan", "Kabupaten/Kota", "Kecamatan",
                  "Desa/Kelurahan", "Status", "Waktu dibaca", "Pernyataan"]  # fmt: skip


def build_receipts_workbook(
    title: str,
    office: str,
    published: str,
    counts: list[Count],
    people: Iterable[Recipient],
    timezone: str,
) -> bytes:
    wb = Workbook(write_only=True)
    summary = wb.create_sheet("Ringkasan")
    summary.column_dimensions["A"].width = 28
    summary.column_dimensions["B"].width = 34
    summary.append([text_cell(summary, "TANDA TERIMA IMBAUAN", BOLD)])
    summary.append([safe(summary, title)])
    summary.append([safe(summary, f"{office} · diterbitkan {published}")])
    summary.append([])
    summary.append([text_cell(summary, h, BOLD) for h in SUMMARY_HEADER])
    for row in counts:
        summary.append(
            [safe(summary, row.kabupaten), safe(summary, row.label), row.addressed,
             row.confirmed, row.pending]
        )  # fmt: skip
    summary.append(
        [text_cell(summary, "Jumlah", BOLD), None, sum(c.addressed for c in counts),
         sum(c.confirmed for c in counts), sum(c.pending for c in counts)]
    )  # fmt: skip

    sheet = wb.create_sheet("Tanda terima")
    for column, width in zip(
        "ABCDEFGHIJK", (5, 28, 18, 16, 10, 24, 20, 20, 13, 24, 11), strict=True
    ):
        sheet.column_dimensions[column].width = width
    sheet.append([text_cell(sheet, h, BOLD) for h in RECEIPT_HEADER])
    for number, person in enumerate(people, start=1):
        user = person.user
        sheet.append(
            [
                number,
                safe(sheet, user.nama),
                user.nik_masked if user.nik else "",
                safe(sheet, user.badan or user.role_label),
                safe(sheet, user.jabatan or ""),
                safe(sheet, person.kabupaten),
                safe(sheet, person.kecamatan),
                safe(sheet, person.desa),
                "Sudah dibaca" if person.read_at else "Belum",
                waktu(person.read_at, timezone) if person.read_at else "",
                "Ya" if person.confirmed else "",
            ]
        )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
