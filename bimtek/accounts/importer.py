"""Participants from an .xlsx: read and check everything first (the dry run), then commit.

`read_sheet` parses the workbook once into a ParsedSheet (the header and each row's cells, plus
which cells were formulas or Excel errors); the web import keeps that as JSON beside the upload,
so the preview and the confirm never parse the workbook again. `plan_parsed` matches wilayah and
existing people, applies the same per-row rules as the participant form
(`service.validate_participant`, fed from maps loaded once) and returns an ImportPlan; it writes
nothing. `plan_import` is the two in one. `commit_plan` writes a plan in the caller's transaction
(all rows or none; the caller commits once). `issue_initial_passwords` gives the accounts an
import created their random initial passwords, for the credentials sheet.
"""

import difflib
import hashlib
import json
import logging
import re
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from time import monotonic
from typing import IO, Any

from openpyxl.utils import get_column_letter
from openpyxl.utils.escape import unescape
from sqlalchemy import insert, select, update

from bimtek.accounts import service
from bimtek.accounts.models import AuditLog, ImportedAccount, ParticipantImport, User, audit
from bimtek.accounts.roles import BADAN, JABATAN
from bimtek.extensions import db
from bimtek.spreadsheet import (
    MAX_CELLS,
    MAX_SECONDS,
    Header,
    SpreadsheetError,
    find_header,
    iter_sheet_rows,
    open_xlsx,
)
from bimtek.storage import write_atomic
from bimtek.timeutil import utcnow
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan

log = logging.getLogger(__name__)

# field -> header names offices use; the first is the one the template writes.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "nama": ("Nama Lengkap", "Nama", "Nama Peserta"),
    "nik": ("NIK", "No. KTP", "No KTP", "Nomor KTP", "NIK KTP", "Nomor Induk Kependudukan"),
    "badan": ("Badan", "Badan Adhoc", "Badan Ad Hoc", "Badan Ad-Hoc", "Lembaga"),
    "jabatan": ("Jabatan",),
    "kecamatan": ("Kecamatan", "Kec", "Kode Kecamatan", "Nama Kecamatan"),
    "desa": ("Desa/Kelurahan", "Desa", "Kelurahan", "Desa/Kel", "Kode Desa", "Nama Desa"),
    "phone": (
        "No HP",
        "No. HP",
        "Nomor HP",
        "HP",
        "Telepon",
        "No. Telepon",
        "No Telp",
        "Nomor Telepon",
        "No WA",
        "Nomor WA",
    ),  # fmt: skip
    "asn": ("ASN (Ya/Tidak)", "ASN", "Status ASN"),
}
REQUIRED = ("nama", "nik", "badan", "jabatan", "kecamatan")
# Who a row is: a formula or an Excel error here is refused, never imported through the value
# Excel cached (a HYPERLINK formula as a name, =1+1 with a cached 16 digits as a NIK).
IDENTITY = ("nama", "nik")
# service.validate_participant's field names -> our column fields
_RULE_FIELD = {"kecamatan_kode": "kecamatan", "desa_kode": "desa"}
UPDATABLE = ("nama", "badan", "jabatan", "kecamatan_kode", "desa_kode", "phone", "is_asn")
BATCH = 1000

_BADAN_ALIASES = {
    "ppk": "PPK",
    "panitia pemilihan kecamatan": "PPK",
    "pps": "PPS",
    "panitia pemungutan suara": "PPS",
    "kpps": "KPPS",
    "kelompok penyelenggara pemungutan suara": "KPPS",
    "sekretariat ppk": "Sekretariat PPK",
    "sekre ppk": "Sekretariat PPK",
    "sekr ppk": "Sekretariat PPK",
    "setppk": "Sekretariat PPK",
    "sekretariat pps": "Sekretariat PPS",
    "sekre pps": "Sekretariat PPS",
    "sekr pps": "Sekretariat PPS",
    "setpps": "Sekretariat PPS",
}
_JABATAN_ALIASES = {j.casefold(): j for j in JABATAN} | {
    "staff": "Staf",
    "staf sekretariat": "Staf",
    "staff sekretariat": "Staf",
    "sekretaris sekretariat": "Sekretaris",
}
_YES = {"ya", "y", "yes", "asn", "pns", "pppk", "true", "1", "benar"}
_NO = {"tidak", "t", "no", "n", "bukan", "non asn", "non-asn", "false", "0", "-"}
_KEC_KODE = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}")
_DESA_KODE = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}")
# 3.57601E+15 or 3,57601E+15: a NIK after a trip through a numeric cell.
_SCIENTIFIC = re.compile(r"[0-9]+(?:[.,][0-9]+)?[eE]\+?[0-9]+")
_PREFIXES = ("kecamatan ", "kec ", "kelurahan ", "kel ", "desa ", "ds ")


class ImportRefused(ValueError):
    """The plan has rejected rows and the admin did not choose to import only the valid ones."""


# ---- reading cells ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell as tidy text: stray and non-breaking spaces collapsed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Ya" if value else "Tidak"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _key(value: Any) -> str:
    """Case-, space- and punctuation-insensitive form of a name."""
    text = re.sub(r"[^0-9a-z]+", " ", _text(value).casefold())
    return " ".join(text.split())


def _place_key(value: Any) -> str:
    """'Kec. Bone-Bone' and 'BONE BONE' → 'bone bone'; 'Kel. Kappuna' → 'kappuna'."""
    key = _key(value)
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def nik_from_cell(value: Any) -> tuple[str, str | None]:
    """(NIK text, problem). A numeric cell is refused: Excel keeps 15 significant digits, so the
    NIK in it is already damaged (and a leading zero is gone)."""
    if isinstance(value, bool):
        return "", "NIK harus 16 digit angka, bukan nilai benar/salah."
    if isinstance(value, int | float):
        shown = f"{float(value):.5E}"
        return "", (
            f"NIK tersimpan sebagai angka (tampil sebagai {shown}), bukan teks: Excel hanya "
            "menyimpan 15 digit dan membuang angka 0 di depan, jadi NIK ini sudah berubah. "
            "Format kolom NIK sebagai Teks, lalu ketik ulang NIK dari KTP."
        )
    text = (value or "").strip() if isinstance(value, str) else _text(value)
    text = text.lstrip("'")  # a typed apostrophe forces text in Excel; it is not part of the NIK
    if _SCIENTIFIC.fullmatch(text):  # the sheet went through a numeric cell (or a CSV) before
        return text, (
            f"NIK harus 16 digit; '{text}' adalah angka yang sudah dibulatkan Excel (digit "
            "belakang hilang). Format kolom NIK sebagai Teks lalu ketik ulang NIK dari KTP."
        )
    return text, service.nik_problem(text)


def _badan(value: Any) -> str | None:
    key = _key(value)
    return _BADAN_ALIASES.get(key) or _BADAN_ALIASES.get(key.replace(" ", ""))


def _jabatan(value: Any) -> str | None:
    key = _key(value)
    found = _JABATAN_ALIASES.get(key)
    if found is None:  # 'Ketua PPS', 'Anggota KPPS'
        head, _, tail = key.rpartition(" ")
        if tail in {"ppk", "pps", "kpps"}:
            found = _JABATAN_ALIASES.get(head)
    return found


def _asn(value: Any) -> bool | None:
    """True/False, or None when the cell says neither (a problem if not blank)."""
    if isinstance(value, bool):
        return value
    key = _text(value).casefold()
    if key in _YES:
        return True
    if key in _NO or key == "":
        return False
    return None


def _phone(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = _text(value)
        # A numeric cell drops the 0 of 08xx mobile numbers.
        return "0" + text if text.startswith("8") else text
    return _text(value)


# ---- wilayah ---------------------------------------------------------------------------------


class WilayahIndex:
    """Kecamatan loaded once; the desa of a kecamatan loaded the first time a row names it."""

    def __init__(self) -> None:
        self.kabupaten = {k.kode: k.nama for k in db.session.scalars(select(Kabupaten))}
        self.kecamatan_by_kode: dict[str, Kecamatan] = {
            k.kode: k for k in db.session.scalars(select(Kecamatan))
        }
        self.kecamatan_by_name: dict[str, list[Kecamatan]] = defaultdict(list)
        for kec in self.kecamatan_by_kode.values():
            self.kecamatan_by_name[_place_key(kec.nama)].append(kec)
        self._desa_by_kec: dict[str, list[Desa]] = {}
        self._desa_by_kode: dict[str, Desa | None] = {}

    def desa_in(self, kecamatan_kode: str) -> list[Desa]:
        if kecamatan_kode not in self._desa_by_kec:
            desa = list(
                db.session.scalars(select(Desa).where(Desa.kecamatan_kode == kecamatan_kode))
            )
            self._desa_by_kec[kecamatan_kode] = desa
            for d in desa:
                self._desa_by_kode[d.kode] = d
        return self._desa_by_kec[kecamatan_kode]

    def desa(self, kode: str) -> Desa | None:
        if kode not in self._desa_by_kode:
            self._desa_by_kode[kode] = db.session.get(Desa, kode)
        return self._desa_by_kode[kode]

    def find_kecamatan(self, value: Any) -> tuple[Kecamatan | None, str | None]:
        text = _text(value)
        if not text:
            return None, "Kecamatan wajib diisi (nama atau kode, mis. 73.22.01)."
        kode = _as_kode(text, _KEC_KODE, 6)
        if kode:
            found = self.kecamatan_by_kode.get(kode)
            return found, None if found else f"Kode kecamatan '{text}' tidak terdaftar."
        matches = self.kecamatan_by_name.get(_place_key(text), [])
        if len(matches) == 1:
            return matches[0], None
        if matches:
            where = ", ".join(
                f"{self.kabupaten.get(k.kabupaten_kode, k.kabupaten_kode)} ({k.kode})"
                for k in matches
            )
            return None, (
                f"Nama kecamatan '{text}' ada di beberapa kabupaten/kota: {where}. "
                "Tulis kode kecamatannya."
            )
        close = difflib.get_close_matches(_place_key(text), list(self.kecamatan_by_name), n=1)
        hint = f" Mungkin maksudnya: {self.kecamatan_by_name[close[0]][0].nama}?" if close else ""
        return None, f"Kecamatan '{text}' tidak terdaftar.{hint}"

    def find_desa(self, value: Any, kecamatan: Kecamatan) -> tuple[str | None, str | None]:
        """(desa kode, problem). A code from another kecamatan is returned as is: the shared
        rule in validate_participant names where that desa really is."""
        text = _text(value)
        kode = _as_kode(text, _DESA_KODE, 10)
        if kode:
            return (
                (kode, None) if self.desa(kode) else (None, f"Kode desa '{text}' tidak terdaftar.")
            )
        key = _place_key(text)
        in_kecamatan = self.desa_in(kecamatan.kode)
        matches = [d for d in in_kecamatan if _place_key(d.nama) == key]
        if len(matches) > 1:  # a desa and a kelurahan of one name: the prefix decides
            wanted = "kelurahan" if _key(text).startswith("kel") else "desa"
            matches = [d for d in matches if d.jenis == wanted] or matches
        if len(matches) == 1:
            return matches[0].kode, None
        if matches:
            codes = ", ".join(d.kode for d in matches)
            return None, f"Ada beberapa desa/kelurahan bernama '{text}' ({codes}); tulis kodenya."
        message = f"Desa/kelurahan '{text}' tidak ada di Kecamatan {kecamatan.nama}."
        elsewhere = [
            kec.nama
            for kec in self.kecamatan_by_kode.values()
            if kec.kabupaten_kode == kecamatan.kabupaten_kode
            and kec.kode != kecamatan.kode
            and any(_place_key(d.nama) == key for d in self.desa_in(kec.kode))
        ]
        if elsewhere:
            message += f" Nama itu ada di Kecamatan {', '.join(sorted(elsewhere))}."
        names = {_place_key(d.nama): d.nama for d in in_kecamatan}
        close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
        if close:
            message += f" Nama terdekat di Kecamatan {kecamatan.nama}: {names[close[0]]}."
        return None, message


def _as_kode(text: str, pattern: re.Pattern, digits: int) -> str | None:
    """'73.22.01' or '732201' → '73.22.01'; None if the text is not a code of that level."""
    if pattern.fullmatch(text):
        return text
    if text.isascii() and text.isdigit() and len(text) == digits:
        parts = [text[0:2], text[2:4], text[4:6]] + ([text[6:]] if digits == 10 else [])
        return ".".join(parts)
    return None


class _Preloaded(service.Lookup):
    def __init__(self, users: dict[str, User], wilayah: WilayahIndex):
        self.users = users
        self.wilayah = wilayah

    def user_by_nik(self, nik: str) -> User | None:
        return self.users.get(nik)

    def kecamatan(self, kode: str) -> Kecamatan | None:
        return self.wilayah.kecamatan_by_kode.get(kode)

    def desa(self, kode: str) -> Desa | None:
        return self.wilayah.desa(kode)


# ---- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    row: int
    column: str  # 'C (No. KTP)'
    reason: str

    def __str__(self) -> str:
        return f"Baris {self.row}, kolom {self.column}: {self.reason}"


@dataclass
class PlannedRow:
    row: int
    action: str  # create | update | unchanged
    data: service.ParticipantData
    user_id: int | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    asal: str = ""  # 'Desa Pattimang, Kec. Malangke', for the preview


@dataclass
class ImportPlan:
    sheet: str
    header: Header
    rows: list[PlannedRow] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    rejected_rows: set[int] = field(default_factory=set)

    def of(self, action: str) -> list[PlannedRow]:
        return [r for r in self.rows if r.action == action]

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(r.action for r in self.rows)
        return {
            "create": counts["create"],
            "update": counts["update"],
            "unchanged": counts["unchanged"],
            "rejected": len(self.rejected_rows),
        }

    def summary(self) -> str:
        c = self.counts
        return (
            f"{c['create']} baru, {c['update']} diperbarui, {c['unchanged']} tidak berubah, "
            f"{c['rejected']} baris ditolak"
        )


def _column(header: Header, name: str) -> str:
    if name not in header.columns:
        return f"{SYNONYMS[name][0]} (kolom tidak ada)"
    return f"{get_column_letter(header.columns[name] + 1)} ({header.labels[name]})"


def _find_sheet_header(workbook, max_rows: int, deadline: float):
    first_error: SpreadsheetError | None = None
    for worksheet in workbook.worksheets:
        rows = iter_sheet_rows(worksheet, max_rows, deadline=deadline)
        try:
            return worksheet, find_header(rows, SYNONYMS, REQUIRED), rows
        except SpreadsheetError as exc:
            if "judul kolom" not in str(exc):
                raise  # too many rows, too slow, damaged: refuse, do not look further
            first_error = first_error or exc
    raise first_error or SpreadsheetError("Buku kerja tidak berisi lembar.")


@dataclass
class ParsedRow:
    row: int
    cells: dict[str, Any]  # field -> the cell's value (str, int, float, bool or None)
    kinds: dict[str, str] = field(default_factory=dict)  # field -> 'f' formula | 'e' error


@dataclass
class ParsedSheet:
    """What the workbook said, read once: enough to plan again without parsing it."""

    sheet: str
    header: Header
    rows: list[ParsedRow]

    def to_dict(self) -> dict:
        return {
            "version": 1,
            "sheet": self.sheet,
            "header": {
                "row": self.header.row,
                "columns": self.header.columns,
                "labels": self.header.labels,
            },
            "rows": [[r.row, r.cells, r.kinds] for r in self.rows],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ParsedSheet":
        if data.get("version") != 1:
            raise SpreadsheetError(
                "Hasil baca berkas unggahan tidak dikenal. Unggah ulang berkasnya."
            )
        header = Header(data["header"]["row"], data["header"]["columns"], data["header"]["labels"])
        return cls(data["sheet"], header, [ParsedRow(n, c, k) for n, c, k in data["rows"]])


def _plain_cell(value: Any) -> Any:
    """A cell value JSON keeps as is; dates and times as the text the rules would read anyway.

    Text is decoded as Excel reads it: "_x0007_" is how a sheet stores the control character
    U+0007 (XML cannot hold it), so the name rules see the character, not six letters.
    """
    if isinstance(value, str):
        return unescape(value) if "_x" in value else value
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def read_sheet(
    source: bytes | str | Path | IO[bytes],
    *,
    max_bytes: int,
    max_rows: int,
    max_cells: int = MAX_CELLS,
    max_seconds: float = MAX_SECONDS,
) -> ParsedSheet:
    """Parse the workbook (the one expensive step); SpreadsheetError for a file we refuse."""
    deadline = monotonic() + max_seconds
    workbook = open_xlsx(source, max_bytes=max_bytes, max_cells=max_cells)
    try:
        worksheet, header, rows = _find_sheet_header(workbook, max_rows, deadline)
        parsed: list[ParsedRow] = []
        for number, values in rows:
            cells = {
                name: _plain_cell(values[index]) if index < len(values) else None
                for name, index in header.columns.items()
            }
            if all(_text(v) == "" for v in cells.values()):
                continue
            kinds = {
                name: values.kinds[index]
                for name, index in header.columns.items()
                if index in values.kinds
            }
            parsed.append(ParsedRow(number, cells, kinds))
    finally:
        workbook.close()
    if not parsed:
        raise SpreadsheetError(
            f"Lembar '{worksheet.title}' tidak berisi data peserta di bawah baris judul "
            f"(baris {header.row})."
        )
    return ParsedSheet(worksheet.title, header, parsed)


def plan_import(
    source: bytes | str | Path | IO[bytes], *, max_bytes: int, max_rows: int, **limits
) -> ImportPlan:
    """Read and check the whole sheet; raise SpreadsheetError for a file we refuse outright."""
    return plan_parsed(read_sheet(source, max_bytes=max_bytes, max_rows=max_rows, **limits))


def plan_parsed(parsed: ParsedSheet) -> ImportPlan:
    """Check every row against the rules and the database as it is now; writes nothing."""
    plan = ImportPlan(sheet=parsed.sheet, header=parsed.header)
    nik_rows: dict[str, list[int]] = defaultdict(list)
    for row in parsed.rows:
        nik, problem = nik_from_cell(row.cells["nik"])
        if not problem and not row.kinds.get("nik"):
            nik_rows[nik].append(row.row)
    users = _users_by_nik(list(nik_rows))
    lookup = _Preloaded(users, WilayahIndex())
    for row in parsed.rows:
        _plan_row(plan, row, nik_rows, lookup)
    return plan


def _users_by_nik(niks: list[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for start in range(0, len(niks), BATCH):
        chunk = niks[start : start + BATCH]
        found.update(
            (u.nik, u) for u in db.session.scalars(select(User).where(User.nik.in_(chunk)))
        )
    return found


def _not_typed(header: Header, row: ParsedRow, name: str) -> str | None:
    """The problem with an identity cell that holds a formula or an Excel error value."""
    kind = row.kinds.get(name)
    if kind is None:
        return None
    cell = f"{get_column_letter(header.columns[name] + 1)}{row.row}"
    what = "nama" if name == "nama" else "NIK"
    if kind == "e":
        return (
            f"Sel {cell} berisi nilai galat Excel {_text(row.cells[name])}, bukan {what}. "
            f"Ketik {what} yang benar."
        )
    return (
        f"Sel {cell} berisi rumus, bukan {what} yang diketik; nilai yang tampil hanya hasil "
        f"hitungan Excel. Ketik {what} sebagai teks (atau salin lalu Tempel Khusus → Nilai)."
    )


def _plan_row(plan: ImportPlan, parsed: ParsedRow, nik_rows, lookup: _Preloaded) -> None:
    header = plan.header
    number, cells = parsed.row, parsed.cells
    problems: dict[str, str] = {
        name: problem for name in IDENTITY if (problem := _not_typed(header, parsed, name))
    }

    nik, problem = nik_from_cell(cells["nik"])
    if "nik" in problems:
        pass
    elif problem:
        problems["nik"] = problem
    elif len(nik_rows[nik]) > 1:
        others = ", ".join(str(n) for n in nik_rows[nik] if n != number)
        problems["nik"] = f"NIK yang sama ada juga di baris {others}; satu NIK untuk satu orang."
    existing = lookup.user_by_nik(nik) if not problem and "nik" not in problems else None
    if existing is not None and existing.role != "peserta":
        problems["nik"] = "NIK ini milik akun admin/pelatih, bukan peserta."

    badan = _badan(cells["badan"])
    if badan is None:
        shown = _text(cells["badan"])
        problems["badan"] = (
            f"Badan '{shown}' tidak dikenal. " if shown else "Badan wajib diisi. "
        ) + f"Pilih: {', '.join(BADAN)}."
    jabatan = _jabatan(cells["jabatan"])
    if jabatan is None:
        shown = _text(cells["jabatan"])
        problems["jabatan"] = (
            f"Jabatan '{shown}' tidak dikenal. " if shown else "Jabatan wajib diisi. "
        ) + f"Pilih: {', '.join(JABATAN)}."

    kecamatan_kode = desa_kode = None
    desa_text = _text(cells.get("desa"))
    kecamatan_cell = cells["kecamatan"]
    if not _text(kecamatan_cell) and _as_kode(desa_text, _DESA_KODE, 10):
        kecamatan_cell = _as_kode(desa_text, _DESA_KODE, 10).rsplit(".", 1)[0]
    kecamatan, problem = lookup.wilayah.find_kecamatan(kecamatan_cell)
    if problem:
        problems["kecamatan"] = problem
    else:
        kecamatan_kode = kecamatan.kode
        if desa_text:
            desa_kode, problem = lookup.wilayah.find_desa(desa_text, kecamatan)
            if problem:
                problems["desa"] = problem

    asn = _asn(cells.get("asn"))
    if asn is None:
        problems["asn"] = f"Kolom ASN berisi '{_text(cells.get('asn'))}'; isi Ya atau Tidak."
    phone = _phone(cells.get("phone"))
    data = service.ParticipantData(
        nama=service.tidy_nama(_text(cells["nama"])),
        nik=nik,
        badan=badan or "",
        jabatan=jabatan or "",
        kecamatan_kode=kecamatan_kode or "",
        desa_kode=desa_kode,
        is_asn=bool(asn),
        phone=phone or None,
    )
    for rule_field, message in service.validate_participant(data, existing, lookup).items():
        name = _RULE_FIELD.get(rule_field, rule_field)
        if name == "kecamatan" and "kecamatan" in problems:
            continue
        problems.setdefault(name, message)

    if problems:
        plan.rejected_rows.add(number)
        for name in SYNONYMS:  # column order of the sheet's fields, stable
            if name in problems:
                plan.rejected.append(Rejection(number, _column(header, name), problems[name]))
        return
    desa = lookup.desa(desa_kode) if desa_kode else None
    asal = ", ".join([*([desa.label] if desa else []), f"Kec. {kecamatan.nama}"])
    if existing is None:
        plan.rows.append(PlannedRow(number, "create", data, asal=asal))
        return
    # Empty optional cells keep what is stored rather than wiping it.
    if "asn" not in header.columns or not _text(cells.get("asn")):
        data.is_asn = existing.is_asn
    if not data.phone:
        data.phone = existing.phone
    changes = {
        name: (getattr(existing, name), getattr(data, name))
        for name in UPDATABLE
        if getattr(existing, name) != getattr(data, name)
    }
    action = "update" if changes else "unchanged"
    plan.rows.append(PlannedRow(number, action, data, existing.id, changes, asal))


# ---- writing ---------------------------------------------------------------------------------


@dataclass
class CommitResult:
    created_ids: list[int]
    updated: int
    unchanged: int
    rejected: int


def commit_plan(
    plan: ImportPlan, record: ParticipantImport, actor: User | None, *, skip_invalid: bool
) -> CommitResult:
    """Write the plan in the caller's transaction; the caller commits (or rolls back) once."""
    if plan.rejected and not skip_invalid:
        raise ImportRefused(
            f"{len(plan.rejected_rows)} baris ditolak; tidak ada yang diimpor. Perbaiki lembar "
            "lalu unggah ulang, atau pilih impor hanya baris yang valid."
        )
    now = utcnow()
    created_ids: list[int] = []
    creates = plan.of("create")
    for start in range(0, len(creates), BATCH):
        values = [
            {
                "nama": r.data.nama,
                "nik": r.data.nik,
                "username": None,
                "password_hash": service.NO_PASSWORD_YET,  # issued with the credentials sheet
                "role": "peserta",
                "badan": r.data.badan,
                "jabatan": r.data.jabatan,
                "kecamatan_kode": r.data.kecamatan_kode,
                "desa_kode": r.data.desa_kode,
                "is_asn": r.data.is_asn,
                "phone": r.data.phone,
                "must_change_password": True,
                "active": True,
                "session_token": secrets.token_urlsafe(32),
                "created_at": now,
            }
            for r in creates[start : start + BATCH]
        ]
        ids = list(db.session.scalars(insert(User).returning(User.id), values))
        created_ids += ids
        db.session.execute(
            insert(ImportedAccount), [{"import_id": record.id, "user_id": i} for i in ids]
        )
    updates = plan.of("update")
    for start in range(0, len(updates), BATCH):
        chunk = updates[start : start + BATCH]
        db.session.execute(
            update(User),
            [{"id": r.user_id, **{n: getattr(r.data, n) for n in UPDATABLE}} for r in chunk],
        )
        db.session.execute(
            insert(AuditLog),
            [
                {
                    "actor_id": actor.id if actor else None,
                    "action": "peserta.update",
                    "object_type": "user",
                    "object_id": str(r.user_id),
                    "detail": {
                        "import_id": record.id,
                        "row": r.row,
                        "changes": {n: [_plain(a), _plain(b)] for n, (a, b) in r.changes.items()},
                    },
                    "created_at": now,
                }
                for r in chunk
            ],
        )
    _expire_users({r.user_id for r in updates})
    counts = plan.counts
    record.status = "committed"
    record.committed_at = now
    record.skip_invalid = skip_invalid
    record.created_count = counts["create"]
    record.updated_count = counts["update"]
    record.unchanged_count = counts["unchanged"]
    record.rejected_count = counts["rejected"]
    audit(
        actor,
        "peserta.import",
        "participant_import",
        record.id,
        file=record.filename,
        sha256=record.sha256,
        created=counts["create"],
        updated=counts["update"],
        unchanged=counts["unchanged"],
        rejected=counts["rejected"],
        skip_invalid=skip_invalid,
    )
    db.session.flush()
    log.info("participant import %s committed: %s", record.id, counts)
    return CommitResult(created_ids, counts["update"], counts["unchanged"], counts["rejected"])


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, str | bool | int) else str(value)


def _expire_users(ids: set[int]) -> None:
    """The bulk UPDATE bypassed the loaded objects: reload them on next use."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, User) and obj.id in ids:
            db.session.expire(obj)


def new_import_record(
    data: bytes, filename: str, admin: User | None, stored_name: str | None = None
) -> ParticipantImport:
    record = ParticipantImport(
        admin_id=admin.id if admin else None,
        filename=(Path(filename or "peserta.xlsx").name or "peserta.xlsx")[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        stored_name=stored_name,
        status="pending",
    )
    db.session.add(record)
    db.session.flush()
    return record


# ---- the upload between preview and confirm ---------------------------------------------------

STALE_AFTER = timedelta(days=1)


def _imports_dir(upload_dir: str | Path) -> Path:
    return Path(upload_dir) / "imports"


def store_upload(upload_dir: str | Path, parsed: ParsedSheet, sha256: str) -> str:
    """Keep the upload, as parsed, under a random name until it is confirmed or discarded.

    The rows as read (JSON), not the workbook: the preview and the confirm plan from them
    without parsing the workbook again. Written whole or not at all (storage.write_atomic);
    a full disk raises OSError (ENOSPC) and leaves nothing behind.
    """
    folder = _imports_dir(upload_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_urlsafe(24) + ".json"
    payload = {"sha256": sha256, "parsed": parsed.to_dict()}
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    write_atomic(folder / name, text.encode("utf-8"))
    return name


def read_upload(upload_dir: str | Path, record: ParticipantImport) -> ParsedSheet:
    """The stored upload as parsed, checked against the hash taken when it arrived."""
    missing = SpreadsheetError(
        "Berkas unggahan sudah tidak tersimpan (kedaluwarsa setelah sehari atau sudah "
        "dipakai). Unggah ulang berkasnya."
    )
    if not record.stored_name or not record.stored_name.endswith(".json"):
        raise missing  # an upload kept as .xlsx by an older version: upload it again
    try:
        stored = json.loads((_imports_dir(upload_dir) / record.stored_name).read_text("utf-8"))
    except FileNotFoundError:
        raise missing from None
    except ValueError:
        stored = {}
    if stored.get("sha256") != record.sha256 or "parsed" not in stored:
        raise SpreadsheetError("Berkas unggahan berubah sejak pratinjau. Unggah ulang berkasnya.")
    return ParsedSheet.from_dict(stored["parsed"])


def drop_upload(upload_dir: str | Path, record: ParticipantImport, status: str | None = None):
    """Delete the stored file (after the commit that made it unneeded, or on discard)."""
    if record.stored_name:
        (_imports_dir(upload_dir) / record.stored_name).unlink(missing_ok=True)
        record.stored_name = None
    if status:
        record.status = status


def discard_stale(upload_dir: str | Path) -> int:
    """Pending imports older than a day are discarded and their files deleted. Caller commits."""
    cutoff = utcnow() - STALE_AFTER
    stale = db.session.scalars(
        select(ParticipantImport).where(
            ParticipantImport.status == "pending", ParticipantImport.created_at < cutoff
        )
    ).all()
    for record in stale:
        drop_upload(upload_dir, record, "discarded")
    known = set(
        db.session.scalars(
            select(ParticipantImport.stored_name).where(ParticipantImport.stored_name.is_not(None))
        )
    )
    folder = _imports_dir(upload_dir)
    if folder.is_dir():  # files whose record never committed (a crash between write and commit)
        for path in folder.iterdir():  # uploads (.json, .xlsx before) and killed writes (.part)
            if path.name not in known and path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
    return len(stale)


# ---- initial passwords -----------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    kecamatan: str
    desa: str
    nama: str
    nik: str
    badan: str
    jabatan: str
    password: str


def never_signed_in(record: ParticipantImport):
    """The accounts this import created that nobody has signed in to yet."""
    return (
        select(User)
        .join(ImportedAccount, ImportedAccount.user_id == User.id)
        .where(
            ImportedAccount.import_id == record.id,
            User.last_login_at.is_(None),
            User.must_change_password.is_(True),
            User.active.is_(True),
        )
    )


def issue_initial_passwords(record: ParticipantImport, actor: User | None) -> list[Credential]:
    """New random initial passwords for the import's accounts that never signed in.

    Only hashes are stored; the plaintext exists in the returned list alone, for the sheet.
    Issuing again replaces the passwords, so an earlier sheet stops working. Caller commits.
    """
    users = list(db.session.scalars(never_signed_in(record).order_by(User.id)))
    wilayah = WilayahIndex()
    credentials: list[Credential] = []
    values: list[dict] = []
    for user in users:
        password = service.generate_initial_password()
        values.append(
            {
                "id": user.id,
                "password_hash": service.hash_initial_password(password),
                "session_token": secrets.token_urlsafe(32),
            }
        )
        kec = wilayah.kecamatan_by_kode.get(user.kecamatan_kode or "")
        desa = wilayah.desa(user.desa_kode) if user.desa_kode else None
        credentials.append(
            Credential(
                kecamatan=kec.nama if kec else "Tanpa kecamatan",
                desa=desa.label if desa else "",
                nama=user.nama,
                nik=user.nik or "",
                badan=user.badan or "",
                jabatan=user.jabatan or "",
                password=password,
            )
        )
    for start in range(0, len(values), BATCH):
        db.session.execute(update(User), values[start : start + BATCH])
    _expire_users({v["id"] for v in values})
    audit(actor, "peserta.initial_passwords", "participant_import", record.id, count=len(values))
    return credentials
