"""Participants from an .xlsx: read and check everything first (the dry run), then commit.

`read_sheet` parses the workbook once into a ParsedSheet (the header and each row's cells, plus
which cells were formulas or Excel errors); the web import keeps that as JSON beside the upload,
so the preview and the confirm never parse the workbook again. `plan_parsed` matches wilayah and
existing people, applies the same per-row rules as the participant form
(`service.validate_participant`, fed from maps loaded once) and returns an ImportPlan; it writes
nothing. `plan_import` is the two in one. `commit_plan` writes a plan in the caller's transaction
(all rows or none; the caller commits once). `preview_of` keeps of a plan what the preview page
shows (the counts and the first rows), stored with the upload so the preview never loads every
row. `issue_initial_passwords` gives the accounts an import created their random initial
passwords, for the credentials sheet.
"""

import hashlib
import logging
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from time import monotonic
from typing import IO, Any

from openpyxl.utils import get_column_letter
from openpyxl.utils.escape import unescape
from sqlalchemy import insert, select, update

from bimtek.accounts import service
from bimtek.accounts.credentials import Credential, issue_initial_passwords, never_signed_in  # noqa: F401
from bimtek.accounts.import_cells import (
    DESA_KODE_RE,
    PreloadedLookup,
    WilayahIndex,
    as_kode,
    cell_text,
    nik_from_cell,
    read_asn,
    read_badan,
    read_jabatan,
    read_phone,
)
from bimtek.accounts.import_upload import (  # noqa: F401
    ParsedRow,
    ParsedSheet,
    discard_stale,
    drop_upload,
    parse_pending,
    read_head,
    read_upload,
    remove_stored,
    store_upload,
    store_workbook,
    stored_path,
)
from bimtek.accounts.models import AuditLog, ImportedAccount, ParticipantImport, User, audit
from bimtek.accounts.roles import BADAN, JABATAN
from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.offices import scope
from bimtek.offices.service import region_offices
from bimtek.spreadsheet import (
    MAX_CELLS,
    MAX_SECONDS,
    Header,
    SpreadsheetError,
    find_header,
    iter_sheet_rows,
    open_xlsx,
)
from bimtek.timeutil import utcnow

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
BATCH = service.BULK_ROWS
PROGRESS_EVERY = 200


class ImportRefused(ValueError):
    """The plan has rejected rows and the admin did not choose to import only the valid ones."""


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
    on_row: Callable[[int], None] | None = None,
) -> ParsedSheet:
    """Parse the workbook (the one expensive step); SpreadsheetError for a file we refuse.

    `on_row(row number)` is called every PROGRESS_EVERY rows (a job's progress bar)."""
    deadline = monotonic() + max_seconds
    workbook = open_xlsx(source, max_bytes=max_bytes, max_cells=max_cells)
    try:
        worksheet, header, rows = _find_sheet_header(workbook, max_rows, deadline)
        parsed: list[ParsedRow] = []
        for number, values in rows:
            if on_row is not None and number % PROGRESS_EVERY == 0:
                on_row(number)
            cells = {
                name: _plain_cell(values[index]) if index < len(values) else None
                for name, index in header.columns.items()
            }
            if all(cell_text(v) == "" for v in cells.values()):
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


def plan_parsed(parsed: ParsedSheet, office_id: int | None = None) -> ImportPlan:
    """Check every row against the rules and the database as it is now; writes nothing.
    `office_id`: the importing office — a row of a kecamatan outside its region, or the NIK
    of another office's participant, is refused (None: the CLI, every region)."""
    plan = ImportPlan(sheet=parsed.sheet, header=parsed.header)
    nik_rows: dict[str, list[int]] = defaultdict(list)
    for row in parsed.rows:
        nik, problem = nik_from_cell(row.cells["nik"])
        if not problem and not row.kinds.get("nik"):
            nik_rows[nik].append(row.row)
    users = _users_by_nik(list(nik_rows))
    lookup = PreloadedLookup(users, WilayahIndex())
    for row in parsed.rows:
        _plan_row(plan, row, nik_rows, lookup, office_id)
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
            f"Sel {cell} berisi nilai galat Excel {cell_text(row.cells[name])}, bukan {what}. "
            f"Ketik {what} yang benar."
        )
    return (
        f"Sel {cell} berisi rumus, bukan {what} yang diketik; nilai yang tampil hanya hasil "
        f"hitungan Excel. Ketik {what} sebagai teks (atau salin lalu Tempel Khusus → Nilai)."
    )


def _plan_row(
    plan: ImportPlan, parsed: ParsedRow, nik_rows, lookup: PreloadedLookup, office_id=None
) -> None:
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
    if existing is not None and existing.role != Role.PESERTA:
        problems["nik"] = "NIK ini milik akun admin/pelatih, bukan peserta."

    badan = read_badan(cells["badan"])
    if badan is None:
        shown = cell_text(cells["badan"])
        problems["badan"] = (
            f"Badan '{shown}' tidak dikenal. " if shown else "Badan wajib diisi. "
        ) + f"Pilih: {', '.join(BADAN)}."
    jabatan = read_jabatan(cells["jabatan"])
    if jabatan is None:
        shown = cell_text(cells["jabatan"])
        problems["jabatan"] = (
            f"Jabatan '{shown}' tidak dikenal. " if shown else "Jabatan wajib diisi. "
        ) + f"Pilih: {', '.join(JABATAN)}."

    kecamatan_kode = desa_kode = None
    desa_text = cell_text(cells.get("desa"))
    kecamatan_cell = cells["kecamatan"]
    if not cell_text(kecamatan_cell) and as_kode(desa_text, DESA_KODE_RE, 10):
        kecamatan_cell = as_kode(desa_text, DESA_KODE_RE, 10).rsplit(".", 1)[0]
    kecamatan, problem = lookup.wilayah.find_kecamatan(kecamatan_cell)
    if problem:
        problems["kecamatan"] = problem
    else:
        kecamatan_kode = kecamatan.kode
        if desa_text:
            desa_kode, problem = lookup.wilayah.find_desa(desa_text, kecamatan)
            if problem:
                problems["desa"] = problem

    asn = read_asn(cells.get("asn"))
    if asn is None:
        problems["asn"] = f"Kolom ASN berisi '{cell_text(cells.get('asn'))}'; isi Ya atau Tidak."
    phone = read_phone(cells.get("phone"))
    data = service.ParticipantData(
        nama=service.tidy_nama(cell_text(cells["nama"])),
        nik=nik,
        badan=badan or "",
        jabatan=jabatan or "",
        kecamatan_kode=kecamatan_kode or "",
        desa_kode=desa_kode,
        is_asn=bool(asn),
        phone=phone or None,
    )
    rules = service.validate_participant(data, existing, lookup, office_id=office_id)
    for rule_field, message in rules.items():
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
    if "asn" not in header.columns or not cell_text(cells.get("asn")):
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


# ---- what the preview shows, kept beside the upload ----------------------------------------

PREVIEW_ROWS = 300  # rows of each kind listed on the preview page; the counts cover all
PREVIEW_VERSION = 1


@dataclass
class ImportPreview:
    """What the preview page shows of the check made at upload: the counts over every row, and
    the first PREVIEW_ROWS rejections, updates and new accounts. Kept at upload (a few hundred
    KB whatever the sheet's size), so the preview and the confirm never load every row."""

    sheet: str
    header_row: int
    counts: dict[str, int]
    rejections: int  # problems found, all rows (a row may have several)
    rejected: list[Rejection]  # the first PREVIEW_ROWS of them
    shown: dict[str, list[PlannedRow]]  # 'create' | 'update' -> the first PREVIEW_ROWS

    def of(self, action: str) -> list[PlannedRow]:
        return self.shown.get(action, [])

    @property
    def importable(self) -> int:
        """Rows the commit would go through (new, updated and unchanged)."""
        return self.counts["create"] + self.counts["update"] + self.counts["unchanged"]


def preview_of(plan: ImportPlan, limit: int = PREVIEW_ROWS) -> ImportPreview:
    shown: dict[str, list[PlannedRow]] = {"create": [], "update": []}
    for row in plan.rows:
        listed = shown.get(row.action)
        if listed is not None and len(listed) < limit:
            listed.append(row)
    return ImportPreview(
        plan.sheet, plan.header.row, plan.counts, len(plan.rejected), plan.rejected[:limit], shown
    )


def preview_to_dict(preview: ImportPreview) -> dict:
    """The preview as JSON, for import_upload.store_upload (the first line of the stored file)."""
    return {
        "preview": PREVIEW_VERSION,
        "sheet": preview.sheet,
        "header_row": preview.header_row,
        "counts": preview.counts,
        "rejections": preview.rejections,
        "rejected": [[r.row, r.column, r.reason] for r in preview.rejected],
        "shown": {
            action: [_row_to_list(r) for r in rows] for action, rows in preview.shown.items()
        },
    }


def preview_from_dict(data: dict) -> ImportPreview:
    return ImportPreview(
        data["sheet"],
        data["header_row"],
        data["counts"],
        data["rejections"],
        [Rejection(n, c, r) for n, c, r in data["rejected"]],
        {action: [_row_from_list(r) for r in rows] for action, rows in data["shown"].items()},
    )


def preview_at_upload(upload_dir: str | Path, record: ParticipantImport) -> ImportPreview:
    """The preview kept at upload. An upload kept by the previous version holds no preview:
    its check kept then (or, failing that, one made now) is summed up instead."""
    head = read_head(upload_dir, record)
    if head.get("preview") == PREVIEW_VERSION:
        return preview_from_dict(head)
    parsed = ParsedSheet.from_dict(head["parsed"])
    kept = head.get("plan")
    if isinstance(kept, dict) and kept.get("version") == 1:
        return preview_of(plan_from_dict(parsed, kept))
    return preview_of(plan_parsed(parsed, office_id=scope.office_of(record)))


def _row_to_list(r: PlannedRow) -> list:
    changes = {n: [_plain(a), _plain(b)] for n, (a, b) in r.changes.items()}
    return [r.row, r.action, r.user_id, r.asal, asdict(r.data), changes]


def _row_from_list(item: list) -> PlannedRow:
    number, action, user_id, asal, values, changes = item
    return PlannedRow(
        number,
        action,
        service.ParticipantData(**values),
        user_id,
        {n: (a, b) for n, (a, b) in changes.items()},
        asal,
    )


def plan_from_dict(parsed: ParsedSheet, data: dict) -> ImportPlan:
    """The check an upload kept by the previous version holds (version 1: every row)."""
    plan = ImportPlan(sheet=parsed.sheet, header=parsed.header)
    plan.rows = [_row_from_list(item) for item in data["rows"]]
    plan.rejected = [Rejection(n, c, r) for n, c, r in data["rejected"]]
    plan.rejected_rows = {r.row for r in plan.rejected}
    return plan


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    # The bulk INSERT/UPDATE below bypass offices.ownership: each participant's office (that of
    # their kecamatan) and the audit entries' office are written here.
    regions = region_offices()
    fallback = scope.acting_office_id()
    actor_office = getattr(actor, "office_id", None)
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
                "office_id": regions.for_kecamatan(r.data.kecamatan_kode) or fallback,
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
            [
                {
                    "id": r.user_id,
                    **{n: getattr(r.data, n) for n in UPDATABLE},
                    "office_id": regions.for_kecamatan(r.data.kecamatan_kode) or fallback,
                }
                for r in chunk
            ],
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
                    "office_id": actor_office,
                }
                for r in chunk
            ],
        )
    _expire_users({r.user_id for r in updates})  # the UPDATEs above went around the session
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
