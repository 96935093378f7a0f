"""A participant upload between its preview and its confirm: the sheet as read (ParsedSheet),
kept as JSON under BIMTEK_UPLOAD_DIR/imports, so neither the preview nor the confirm parses the
workbook again; uploads nobody confirmed are discarded after a day.

The stored file is two lines of JSON: first the preview (the counts, and the first rows of
each kind the preview page lists: a few hundred KB whatever the sheet's size), then the rows
as read. The preview and the confirm read the first line alone; the commit job reads the
rows. An upload kept by the previous version is one line holding the rows (and maybe the
check made then): read whole, as it was.
"""

import json
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bimtek.accounts.models import ParticipantImport
from bimtek.extensions import db
from bimtek.spreadsheet import (
    Header,
    SpreadsheetError,
)
from bimtek.storage import write_atomic
from bimtek.timeutil import utcnow


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


# ---- the upload between preview and confirm ---------------------------------------------------

STALE_AFTER = timedelta(days=1)
WORKBOOK_SUFFIX = ".xlsx"


def _imports_dir(upload_dir: str | Path) -> Path:
    return Path(upload_dir) / "imports"


def store_upload(upload_dir: str | Path, parsed: ParsedSheet, sha256: str, preview: dict) -> str:
    """Keep the upload, as parsed, under a random name until it is confirmed or discarded.

    The rows as read (JSON), not the workbook: the commit plans again from them, against the
    data of that moment, without parsing the workbook again. `preview` (importer.preview_to_dict)
    is what the preview page shows of the check made at upload; it goes first, on a line of
    its own, so the preview reads it without the rows (30,000 rows: some 20 MB of JSON).
    Written whole or not at all (storage.write_atomic); a full disk raises OSError (ENOSPC)
    and leaves nothing behind.
    """
    folder = _imports_dir(upload_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_urlsafe(24) + ".json"
    head = {**preview, "sha256": sha256}
    body = {"sha256": sha256, "parsed": parsed.to_dict()}
    # Compact JSON escapes every control character: neither line holds a b"\n" of its own.
    write_atomic(folder / name, _json_line(head) + b"\n" + _json_line(body))
    return name


def _json_line(value: dict) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def store_workbook(upload_dir: str | Path, data: bytes) -> str:
    """Keep an uploaded workbook, not yet read, for the job that parses it (`parse_pending`).

    The parse replaces it with the rows as read (`store_upload`) and deletes it.
    """
    folder = _imports_dir(upload_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_urlsafe(24) + WORKBOOK_SUFFIX
    write_atomic(folder / name, data)
    return name


def parse_pending(record: ParticipantImport) -> bool:
    """The upload is kept as a workbook its parse job has not (yet) replaced by the rows read."""
    return bool(record.stored_name) and record.stored_name.endswith(WORKBOOK_SUFFIX)


def stored_path(upload_dir: str | Path, record: ParticipantImport) -> Path:
    return _imports_dir(upload_dir) / (record.stored_name or "")


def remove_stored(upload_dir: str | Path, name: str) -> None:
    """Delete a stored upload no record names (its import was discarded meanwhile)."""
    (_imports_dir(upload_dir) / name).unlink(missing_ok=True)


def read_upload(upload_dir: str | Path, record: ParticipantImport) -> ParsedSheet:
    """The stored upload as parsed, checked against the hash taken when it arrived."""
    return ParsedSheet.from_dict(_read_stored(upload_dir, record, whole=True)["parsed"])


def read_head(upload_dir: str | Path, record: ParticipantImport) -> dict:
    """The first line of the stored upload, checked against the upload's hash: the preview
    (key "preview"), or for an upload kept by the previous version the whole of it (the rows,
    key "parsed", and maybe the check made then, key "plan")."""
    return _read_stored(upload_dir, record, whole=False)


def _read_stored(upload_dir: str | Path, record: ParticipantImport, whole: bool) -> dict:
    missing = SpreadsheetError(
        "Berkas unggahan sudah tidak tersimpan (kedaluwarsa setelah sehari atau sudah "
        "dipakai). Unggah ulang berkasnya."
    )
    if parse_pending(record):
        raise SpreadsheetError(
            "Berkas unggahan ini tidak terbaca sampai selesai (pembacaannya terhenti). "
            "Unggah ulang berkasnya."
        )
    if not record.stored_name or not record.stored_name.endswith(".json"):
        raise missing
    try:
        with open(_imports_dir(upload_dir) / record.stored_name, "rb") as stored_file:
            head = stored_file.readline()
            rows = stored_file.read() if whole else b""
    except FileNotFoundError:
        raise missing from None
    try:
        stored = json.loads(rows or head)  # one line: an upload kept by the previous version
    except ValueError:
        stored = None
    expected = ("parsed",) if whole else ("preview", "parsed")
    if (
        not isinstance(stored, dict)
        or stored.get("sha256") != record.sha256
        or not any(key in stored for key in expected)
    ):
        raise SpreadsheetError("Berkas unggahan berubah sejak pratinjau. Unggah ulang berkasnya.")
    return stored


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
