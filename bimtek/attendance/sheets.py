"""The daftar hadir and the plain attendance export as .xlsx (pure builders: rows in, bytes out)."""

import io
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins

from bimtek.attendance.models import METHOD_LABELS, STATUS_LABELS, TrainingSession
from bimtek.attendance.queries import ExportRow, Row
from bimtek.spreadsheet import set_text, text_cell
from bimtek.timeutil import tanggal, waktu

THIN = Side(style="thin", color="000000")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
BOLD = Font(bold=True)


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    """Excel has no time zones: write the office's wall-clock time."""
    return None if value is None else value.astimezone(zone).replace(tzinfo=None)


DAFTAR_COLUMNS = [
    ("No", 5),
    ("Nama", 30),
    ("Jabatan", 12),
    ("Badan", 14),
    ("Asal (desa/kecamatan)", 34),
    ("Waktu hadir", 11),
    ("Status", 11),
    ("Tanda tangan", 22),
]


def build_daftar_hadir(
    session: TrainingSession,
    rows: list[Row],
    office: str,
    timezone: str,
    kecamatan_label: str | None = None,
    extra_sheets: list = (),
) -> bytes:
    """The printable daftar hadir: header lines, a bordered table, an empty signature column;
    then the sheets other features add (`extra_sheets`: callables taking the workbook, the
    session, the zone and the office, e.g. the session's evaluation)."""
    zone = ZoneInfo(timezone)
    wb = Workbook()
    ws = wb.active
    ws.title = "Daftar hadir"
    header_lines = [
        ("DAFTAR HADIR", Font(bold=True, size=14)),
        (office, BOLD),
        (session.title, BOLD),
        (f"Kursus: {session.course.title}", None),
        (
            f"Hari/tanggal: {tanggal(session.starts_at, timezone)}, "
            f"{waktu(session.starts_at, timezone, 'HH.mm')}–{waktu(session.ends_at, timezone, 'HH.mm')}",
            None,
        ),
        (f"Tempat: {session.venue}", None),
    ]
    if kecamatan_label:
        header_lines.append((f"Kecamatan: {kecamatan_label}", None))
    for number, (text, font) in enumerate(header_lines, start=1):
        cell = ws.cell(row=number, column=1)
        set_text(cell, text)
        if font:
            cell.font = font
        ws.merge_cells(start_row=number, start_column=1, end_row=number, end_column=8)
    top = len(header_lines) + 2
    for col, (label, width) in enumerate(DAFTAR_COLUMNS, start=1):
        cell = ws.cell(row=top, column=col, value=label)
        cell.font = BOLD
        cell.border = BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    for i, row in enumerate(rows, start=1):
        user, att = row.user, row.attendance
        values = [
            i,
            user.nama,
            user.jabatan or "",
            user.badan or "",
            user.asal,
            _local(att.checked_in_at, zone) if att and att.checked_in_at else None,
            STATUS_LABELS[att.status] if att else "",
            "",
        ]
        r = top + i
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=col)
            set_text(cell, value)
            cell.border = BOX
            cell.alignment = Alignment(vertical="center", wrap_text=col in (2, 5))
        ws.cell(row=r, column=6).number_format = "hh:mm"
        ws.row_dimensions[r].height = 28  # room to sign
    ws.print_title_rows = f"{top}:{top}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.freeze_panes = ws.cell(row=top + 1, column=1)
    for add_sheet in extra_sheets:
        add_sheet(wb, session, timezone, office)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


EXPORT_HEADER = [
    "Sesi",
    "Kursus",
    "Tanggal",
    "Mulai",
    "Selesai",
    "Durasi (menit)",
    "Nama",
    "NIK",
    "Badan",
    "Jabatan",
    "Kecamatan",
    "Desa/Kelurahan",
    "Status",
    "Waktu hadir",
    "Cara presensi",
    "Alasan",
]


def build_attendance_export(
    rows: Iterable[ExportRow], timezone: str, *, full_nik: bool = True
) -> bytes:
    """One row per participant per session with typed date/time cells (write-only, streamed).
    `full_nik` False: the NIK masked but for its last four digits."""
    zone = ZoneInfo(timezone)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Kehadiran")
    widths = [30, 30, 12, 8, 8, 9, 30, 19, 14, 10, 20, 24, 11, 17, 16, 24]
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "A2"
    ws.append([text_cell(ws, h, font=BOLD) for h in EXPORT_HEADER])
    count = 0
    for row in rows:
        s, user, att = row.session, row.user, row.attendance
        start, end = _local(s.starts_at, zone), _local(s.ends_at, zone)
        minutes = int((s.ends_at - s.starts_at).total_seconds() // 60)
        ws.append(
            [
                text_cell(ws, s.title),
                text_cell(ws, s.course.title),
                text_cell(ws, start.date(), number_format="yyyy-mm-dd"),
                text_cell(ws, start.time(), number_format="hh:mm"),
                text_cell(ws, end.time(), number_format="hh:mm"),
                minutes,
                text_cell(ws, user.nama),
                text_cell(ws, (user.nik or "") if full_nik else user.nik_masked),
                text_cell(ws, user.badan or ""),
                text_cell(ws, user.jabatan or ""),
                text_cell(ws, user.kecamatan.nama if user.kecamatan else ""),
                text_cell(ws, user.desa.nama if user.desa else ""),
                text_cell(ws, STATUS_LABELS[att.status] if att else "Belum tercatat"),
                text_cell(
                    ws,
                    _local(att.checked_in_at, zone) if att and att.checked_in_at else None,
                    number_format="yyyy-mm-dd hh:mm",
                ),
                text_cell(ws, METHOD_LABELS[att.method] if att else ""),
                text_cell(ws, (att.reason or "") if att else ""),
            ]
        )
        count += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(EXPORT_HEADER))}{count + 1}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
