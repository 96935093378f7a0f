"""The evaluation results as an .xlsx sheet: inside the daftar hadir workbook, or on its own.

Every string that came from a person (session title, trainer names, comments) goes through
bimtek.spreadsheet.set_text, so a comment such as =HYPERLINK(...) stays text."""

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from bimtek.evaluation.items import GROUPS, SCALE, SCORES
from bimtek.evaluation.queries import ItemResult, Results
from bimtek.spreadsheet import set_text
from bimtek.timeutil import tanggal, waktu

BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
SHEET_TITLE = "Evaluasi"
ITEM_HEADER = ["Bagian", "Narasumber", "Butir", "Jawaban", "Rata-rata"] + [
    f"{score} ({label})" for score, label in SCALE.items()
]
WIDTHS = [16, 26, 38, 9, 10, 10, 10, 10, 10, 10]


def write_evaluation_sheet(ws, results: Results, timezone: str, office: str = "") -> None:
    """Fill an empty (normal, not write-only) worksheet with the session's results."""
    session = results.session
    for col, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    row = 1

    def line(text: str, font: Font | None = None) -> None:
        nonlocal row
        cell = ws.cell(row=row, column=1)
        set_text(cell, text)
        if font is not None:
            cell.font = font
        row += 1

    line("EVALUASI PENYELENGGARAAN DAN NARASUMBER", TITLE)
    if office:
        line(office, BOLD)
    line(session.title, BOLD)
    line(
        f"{tanggal(session.starts_at, timezone)}, "
        f"{waktu(session.starts_at, timezone, 'HH.mm')}–{waktu(session.ends_at, timezone, 'HH.mm')}"
        f" · {session.venue}"
    )
    line(f"Responden: {results.respondents} dari {results.present} peserta hadir")
    line("Skala: " + ", ".join(f"{s} = {label}" for s, label in SCALE.items()))
    row += 1

    for col, label in enumerate(ITEM_HEADER, start=1):
        cell = ws.cell(row=row, column=col, value=label)
        cell.font = BOLD
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    row += 1

    def item_row(group: str, trainer: str | None, result: ItemResult) -> None:
        nonlocal row
        set_text(ws.cell(row=row, column=1), GROUPS[group])
        set_text(ws.cell(row=row, column=2), trainer)
        set_text(ws.cell(row=row, column=3), result.item.label)
        ws.cell(row=row, column=4, value=result.n)
        mean = ws.cell(row=row, column=5, value=result.mean)
        mean.number_format = "0.0"
        for offset, score in enumerate(SCORES):
            ws.cell(row=row, column=6 + offset, value=result.counts[score])
        row += 1

    for result in results.material:
        item_row("materi", None, result)
    for trainer in results.trainers:
        for result in trainer.items:
            item_row("narasumber", trainer.trainer.nama, result)
    for result in results.organisation:
        item_row("penyelenggaraan", None, result)
    row += 1

    line("Rata-rata per narasumber", BOLD)
    for col, label in enumerate(["Narasumber", "Responden", "Rata-rata"], start=2):
        ws.cell(row=row, column=col, value=label).font = BOLD
    row += 1
    for trainer in results.trainers:
        set_text(ws.cell(row=row, column=2), trainer.trainer.nama)
        ws.cell(row=row, column=3, value=trainer.respondents)
        mean = ws.cell(row=row, column=4, value=trainer.mean)
        mean.number_format = "0.0"
        row += 1
    row += 1

    line(f"Komentar ({len(results.comments)})", BOLD)
    for number, comment in enumerate(results.comments, start=1):
        ws.cell(row=row, column=1, value=number)
        cell = ws.cell(row=row, column=2)
        set_text(cell, comment.text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=len(WIDTHS))
        row += 1
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def build_evaluation_workbook(results: Results, office: str, timezone: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_TITLE
    write_evaluation_sheet(ws, results, timezone, office)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
