"""The "Rekap per kecamatan" workbook, streamed with openpyxl's write-only mode.

Pure builder: facts in (ordered by kecamatan), a file out. A summary sheet first (one row per
kecamatan, a totals row, a bar chart of completion), then one sheet per kecamatan with one row per
participant. Memory stays flat: rows go to disk as they are appended, only per-kecamatan sums stay.
"""

import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import IO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bimtek.accounts.roles import BADAN
from bimtek.reports.queries import Facts, Summary
from bimtek.spreadsheet import safe, sheet_title, text_cell
from bimtek.timeutil import as_utc

BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
SCORE = "0.0"
GAIN = "0.00"
PERCENT = "0%"
HEADER_ROW = 4  # two header lines and a blank row above the table

PARTICIPANT_COLUMNS = [
    ("No", 6),
    ("Nama", 30),
    ("NIK", 19),
    ("Badan", 16),
    ("Jabatan", 11),
    ("Desa/Kelurahan", 24),
    # The same measure as on the summary sheet: share of the course's modules read.
    ("Modul selesai (%)", 10),
    ("Pre-test", 9),
    ("Post-test", 9),
    ("N-gain", 8),
    ("Kehadiran", 10),
    ("Status", 20),
    ("Nomor sertifikat", 30),
    ("Pakta integritas", 17),
]


@dataclass
class RekapMeta:
    course_title: str
    exported_at: datetime
    timezone: str
    filter_text: str  # e.g. "Kursus: …; semua kecamatan"
    badan: list[str]  # the course audience, for the per-badan columns


def _header_lines(ws, title: str, meta: RekapMeta, columns: list[tuple[str, int]]) -> None:
    for col, (_, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = f"C{HEADER_ROW + 1}"
    local = as_utc(meta.exported_at).astimezone(ZoneInfo(meta.timezone))
    ws.append([text_cell(ws, title, font=TITLE)])
    ws.append([safe(ws, f"Diekspor {local:%d-%m-%Y %H.%M} · {meta.filter_text}")])
    ws.append([])
    ws.append([text_cell(ws, label, font=BOLD) for label, _ in columns])


def _autofilter(ws, columns: int, last_row: int) -> None:
    ws.auto_filter.ref = (
        f"A{HEADER_ROW}:{get_column_letter(columns)}{max(last_row, HEADER_ROW + 1)}"
    )


def _number(ws, value, fmt):
    if value is None:
        return None
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = fmt
    return cell


def _summary_columns(meta: RekapMeta, group: str = "Kecamatan") -> list[tuple[str, int]]:
    badan = [b for b in BADAN if b in meta.badan]
    return (
        [("No", 5), (group, 24), ("Kode", 10), ("Peserta", 9)]
        + [(b, 10) for b in badan]
        + [
            ("Modul selesai (rata-rata %)", 12),
            ("Kehadiran", 10),
            ("n berpasangan (pre dan post)", 12),
            ("Rata-rata pre (berpasangan)", 12),
            ("Rata-rata post (berpasangan)", 12),
            ("Rata-rata N-gain (berpasangan)", 12),
            ("Kategori N-gain", 11),
            ("Lulus post-test", 10),
            ("Tuntas", 9),
            ("Sertifikat", 10),
        ]
    )


def _summary_row(ws, number, s: Summary, badan: list[str]) -> list:
    gains = s.gains
    return (
        [number, safe(ws, s.nama), safe(ws, s.kode), s.participants]
        + [s.by_badan.get(b, 0) for b in badan]
        + [
            _number(ws, s.modules_pct, PERCENT),
            _number(ws, s.attendance_pct, PERCENT),
            gains.with_both,
            _number(ws, gains.mean_pre, SCORE),
            _number(ws, gains.mean_post, SCORE),
            _number(ws, gains.mean_gain, GAIN),
            gains.category or "",
            _number(ws, gains.pass_rate, PERCENT),
            _number(ws, s.complete_pct, PERCENT),
            s.certificates,
        ]
    )


def _participant_row(ws, number: int, f: Facts, zone: ZoneInfo) -> list:
    pakta = f.pakta_at.astimezone(zone).replace(tzinfo=None) if f.pakta_at else None
    return [
        number,
        safe(ws, f.nama),
        safe(ws, f.nik or ""),
        safe(ws, f.badan or ""),
        safe(ws, f.jabatan or ""),
        safe(ws, f.desa_nama or ""),
        _number(ws, f.modules_fraction, PERCENT),
        _number(ws, f.pre, SCORE),
        _number(ws, f.post, SCORE),
        _number(ws, f.gain, GAIN),
        _number(ws, f.attendance, PERCENT),
        f.status,
        safe(ws, f.certificate_number or ""),
        _number(ws, pakta, "yyyy-mm-dd hh:mm"),
    ]


class _KecamatanSheets:
    """Opens a sheet when the kecamatan changes; keeps only the running sums."""

    def __init__(self, meta: RekapMeta, workbook: Workbook):
        self.meta = meta
        self.zone = ZoneInfo(meta.timezone)
        self.workbook = workbook
        self.summaries: list[Summary] = []
        self.total = Summary("", "Jumlah")
        self.ws = None
        self.rows = 0
        self.taken: set[str] = set()

    def add(self, f: Facts) -> None:
        current = self.summaries[-1] if self.summaries else None
        if current is None or current.kode != f.kecamatan_kode:
            self._close()
            current = Summary(f.kecamatan_kode, f.kecamatan_nama)
            self.summaries.append(current)
            self.ws = self.workbook.create_sheet(sheet_title(f.kecamatan_nama, self.taken))
            _header_lines(
                self.ws,
                f"Kecamatan {f.kecamatan_nama} ({f.kecamatan_kode}) — {self.meta.course_title}",
                self.meta,
                PARTICIPANT_COLUMNS,
            )
            self.rows = 0
        self.rows += 1
        self.ws.append(_participant_row(self.ws, self.rows, f, self.zone))
        current.add(f)

    def _close(self) -> None:
        if self.ws is not None:
            _autofilter(self.ws, len(PARTICIPANT_COLUMNS), HEADER_ROW + self.rows)

    def finish(self) -> None:
        self._close()
        for summary in self.summaries:
            self.total.merge(summary)


def _write_summary(ws, sheets: _KecamatanSheets, meta: RekapMeta, chart: bool) -> None:
    _summary_table(ws, sheets.summaries, sheets.total, meta, chart, "Kecamatan", "kecamatan")


def _summary_table(
    ws,
    summaries: list[Summary],
    total: Summary,
    meta: RekapMeta,
    chart: bool,
    group: str,
    per: str,
) -> None:
    badan = [b for b in BADAN if b in meta.badan]
    for number, s in enumerate(summaries, start=1):
        ws.append(_summary_row(ws, number, s, badan))
    totals = _summary_row(ws, None, total, badan)
    totals[1] = text_cell(ws, "Jumlah", font=BOLD)
    ws.append(totals)
    count = len(summaries)
    columns = _summary_columns(meta, group)
    _autofilter(ws, len(columns), HEADER_ROW + count)
    if chart and count:
        tuntas_col = next(i for i, (label, _) in enumerate(columns, start=1) if label == "Tuntas")
        bar = BarChart()
        bar.type = "bar"
        bar.title = f"Tuntas per {per}"
        bar.y_axis.title = "Tuntas"
        bar.y_axis.numFmt = "0%"
        bar.y_axis.scaling.min = 0
        bar.y_axis.scaling.max = 1
        bar.legend = None
        bar.height = max(7.5, 0.5 * count)
        bar.width = 18
        data = Reference(ws, min_col=tuntas_col, min_row=HEADER_ROW, max_row=HEADER_ROW + count)
        labels = Reference(ws, min_col=2, min_row=HEADER_ROW + 1, max_row=HEADER_ROW + count)
        bar.add_data(data, titles_from_data=True)
        bar.set_categories(labels)
        ws.add_chart(bar, f"{get_column_letter(len(columns) + 2)}{HEADER_ROW}")


def write_rekap(facts: Iterable[Facts], meta: RekapMeta, out: str | IO[bytes]) -> list[Summary]:
    """The whole workbook: summary sheet first, then a sheet per kecamatan. Returns the summaries."""
    wb = Workbook(write_only=True)
    summary = wb.create_sheet("Ringkasan")
    _header_lines(
        summary, f"Rekap per kecamatan — {meta.course_title}", meta, _summary_columns(meta)
    )
    sheets = _KecamatanSheets(meta, wb)
    sheets.taken.add("ringkasan")
    for f in facts:
        sheets.add(f)
    sheets.finish()
    _write_summary(summary, sheets, meta, chart=True)
    wb.save(out)
    return sheets.summaries


def _by_kecamatan(facts: Iterable[Facts]):
    return groupby(facts, key=lambda f: (f.kecamatan_kode, f.kecamatan_nama))


def write_rekap_split(
    facts: Iterable[Facts], meta: RekapMeta, open_target: Callable[[str, str], str | IO[bytes]]
) -> list[Summary]:
    """One workbook per kecamatan, each with its own summary sheet and participant sheet."""
    summaries: list[Summary] = []
    for (kode, nama), group in _by_kecamatan(facts):
        summaries += write_rekap(group, meta, open_target(kode, nama))
    return summaries


def zip_split(facts: Iterable[Facts], meta: RekapMeta, out: IO[bytes]) -> list[Summary]:
    """The per-kecamatan workbooks as one zip (what the browser downloads)."""
    summaries: list[Summary] = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for (kode, nama), group in _by_kecamatan(facts):
            buf = io.BytesIO()
            summaries += write_rekap(group, meta, buf)
            archive.writestr(split_name(kode, nama), buf.getvalue())
    return summaries


def split_name(kode: str, nama: str) -> str:
    keep = "".join(ch if ch.isalnum() else "-" for ch in nama.lower())
    slug = "-".join(part for part in keep.split("-") if part)[:40] or "kecamatan"
    return f"rekap-{kode or 'tanpa-kode'}-{slug}.xlsx"


@dataclass
class RegionPart:
    """One kabupaten/kota of a province rekap: its code, name and facts (by kecamatan)."""

    kode: str
    nama: str
    facts: Iterable[Facts]


def write_region_summary(per_kabupaten, per_kecamatan, meta: RekapMeta, out) -> None:
    """A province's summary workbook: "Ringkasan" with a row per kabupaten/kota (and a chart),
    then a sheet per kabupaten/kota with a row per kecamatan. Sums only, no participant rows.

    per_kabupaten, per_kecamatan: totals.Breakdown of the same participants."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Ringkasan")
    columns = _summary_columns(meta, "Kabupaten/Kota")
    _header_lines(ws, f"Rekap per kabupaten/kota — {meta.course_title}", meta, columns)
    _summary_table(
        ws, per_kabupaten.groups, per_kabupaten.total, meta, True, "Kabupaten/Kota",
        "kabupaten/kota",
    )  # fmt: skip
    taken = {"ringkasan"}
    kecamatan_of: dict[str, list[Summary]] = {}
    for part in per_kecamatan.groups:
        kecamatan_of.setdefault(part.kode[:5], []).append(part)
    for kab in per_kabupaten.groups:
        ws = wb.create_sheet(sheet_title(kab.nama, taken))
        columns = _summary_columns(meta, "Kecamatan")
        _header_lines(ws, f"{kab.nama} ({kab.kode}) — {meta.course_title}", meta, columns)
        _summary_table(
            ws, kecamatan_of.get(kab.kode, []), kab, meta, False, "Kecamatan", "kecamatan"
        )
    wb.save(out)


def zip_regions(parts: Iterable[RegionPart], per_kabupaten, per_kecamatan, meta, out) -> int:
    """A province's zip: the summary workbook, then one workbook per kabupaten/kota, each the
    per-kecamatan workbook of that kabupaten/kota. Returns the number of kabupaten files."""
    files = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        buf = io.BytesIO()
        write_region_summary(per_kabupaten, per_kecamatan, meta, buf)
        archive.writestr("rekap-ringkasan-per-kabupaten-kota.xlsx", buf.getvalue())
        for part in parts:
            buf = io.BytesIO()
            part_meta = RekapMeta(
                meta.course_title, meta.exported_at, meta.timezone,
                f"{meta.filter_text}; {part.nama}", meta.badan,
            )  # fmt: skip
            write_rekap(part.facts, part_meta, buf)
            archive.writestr(split_name(part.kode, part.nama), buf.getvalue())
            files += 1
    return files
