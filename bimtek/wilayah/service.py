"""Import Kemendagri region codes (kode,nama CSV) idempotently."""

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select, update

from bimtek import signals
from bimtek.extensions import db
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan, Provinsi

KODE_PATTERNS = (
    re.compile(r"[0-9]{2}"),
    re.compile(r"[0-9]{2}\.[0-9]{2}"),
    re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}"),
    re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}"),
)
LEVEL_NAMES = ("provinsi", "kabupaten/kota", "kecamatan", "desa/kelurahan")
MODELS = (Provinsi, Kabupaten, Kecamatan, Desa)
PARENT_COLUMN = (None, "provinsi_kode", "kabupaten_kode", "kecamatan_kode")
BATCH = 2000


def kode_level(kode: str) -> int | None:
    """1 = provinsi, 2 = kabupaten/kota, 3 = kecamatan, 4 = desa/kelurahan; None if malformed."""
    for level, pattern in enumerate(KODE_PATTERNS, start=1):
        if pattern.fullmatch(kode):
            return level
    return None


def parent_kode(kode: str) -> str | None:
    return kode.rsplit(".", 1)[0] if "." in kode else None


def jenis_desa(kode: str) -> str:
    """The first digit of the last segment: 1 kelurahan, 2 desa, 3 desa adat."""
    return {"1": "kelurahan", "3": "desa adat"}.get(kode.rsplit(".", 1)[1][0], "desa")


@dataclass(frozen=True)
class WilayahRow:
    line: int
    level: int
    kode: str
    nama: str


@dataclass
class WilayahReport:
    inserted: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    updated: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    unchanged: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        for index, name in enumerate(LEVEL_NAMES):
            parts.append(
                f"{name}: {self.inserted[index]} baru, {self.updated[index]} diperbarui, "
                f"{self.unchanged[index]} tetap"
            )
        return "; ".join(parts)


def _in_scope(kode: str, prefix: str | None) -> bool:
    if prefix is None:
        return True
    if kode == prefix or kode.startswith(prefix + "."):
        return True
    return prefix.startswith(kode + ".")  # ancestors of the prefix


def read_wilayah_csv(
    source: str | Path | io.TextIOBase, prefix: str | None = None
) -> tuple[list[WilayahRow], list[str]]:
    """Parse and validate; return rows in scope and every error found (with line numbers)."""
    errors: list[str] = []
    if prefix is not None and kode_level(prefix) is None:
        return [], [f"prefix '{prefix}' bukan kode wilayah yang sah (contoh: 73 atau 73.22)"]
    handle = (
        open(source, encoding="utf-8-sig", newline="")
        if isinstance(source, (str, Path))
        else source
    )  # noqa: SIM115
    try:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header[:2]] != ["kode", "nama"]:
            return [], ["baris 1: kepala kolom harus 'kode,nama'"]
        rows: list[WilayahRow] = []
        seen: set[str] = set()
        for line_no, record in enumerate(reader, start=2):
            if not record or all(not cell.strip() for cell in record):
                continue
            if len(record) < 2:
                errors.append(f"baris {line_no}: harus ada dua kolom, kode dan nama")
                continue
            kode, nama = record[0].strip(), record[1].strip()
            level = kode_level(kode)
            if level is None:
                errors.append(f"baris {line_no}: kode '{kode}' bukan kode wilayah Kemendagri")
                continue
            if not nama or len(nama) > 100:
                errors.append(f"baris {line_no}: nama wilayah kosong atau lebih dari 100 karakter")
                continue
            if kode in seen:
                errors.append(f"baris {line_no}: kode '{kode}' muncul dua kali")
                continue
            seen.add(kode)
            if _in_scope(kode, prefix):
                rows.append(WilayahRow(line_no, level, kode, nama))
    finally:
        if isinstance(source, (str, Path)):
            handle.close()
    if prefix is not None and not any(row.kode == prefix for row in rows):
        errors.append(f"kode '{prefix}' tidak ada di berkas")
    return rows, errors


def import_wilayah(
    rows: Iterable[WilayahRow], progress: Callable[[int], None] | None = None
) -> WilayahReport:
    """Insert new codes, rename changed ones; nothing is deleted. Caller commits.

    Validates parents first; on any error nothing is written.
    """
    report = WilayahReport()
    by_level: list[list[WilayahRow]] = [[], [], [], []]
    for row in rows:
        by_level[row.level - 1].append(row)

    existing = [dict(db.session.execute(select(model.kode, model.nama)).all()) for model in MODELS]
    for level in range(1, 4):
        known_parents = set(existing[level - 1]) | {r.kode for r in by_level[level - 1]}
        for row in by_level[level]:
            parent = parent_kode(row.kode)
            if parent not in known_parents:
                report.errors.append(
                    f"baris {row.line}: {LEVEL_NAMES[level]} '{row.kode}' tanpa "
                    f"{LEVEL_NAMES[level - 1]} induk '{parent}' (tidak ada di berkas maupun basis data)"
                )
    if report.errors:
        return report

    for index, (model, level_rows) in enumerate(zip(MODELS, by_level, strict=True)):
        current = existing[index]
        new_rows, changed = [], []
        for row in level_rows:
            old_name = current.get(row.kode)
            if old_name is None:
                values = {"kode": row.kode, "nama": row.nama}
                if PARENT_COLUMN[index]:
                    values[PARENT_COLUMN[index]] = parent_kode(row.kode)
                if model is Desa:
                    values["jenis"] = jenis_desa(row.kode)
                new_rows.append(values)
            elif old_name != row.nama:
                changed.append({"kode": row.kode, "nama": row.nama})
            else:
                report.unchanged[index] += 1
        for start in range(0, len(new_rows), BATCH):
            batch = new_rows[start : start + BATCH]
            db.session.execute(insert(model), batch)
            if progress:
                progress(len(batch))
        for start in range(0, len(changed), BATCH):
            batch = changed[start : start + BATCH]
            db.session.execute(update(model), batch)
            if progress:
                progress(len(batch))
        if progress:
            progress(report.unchanged[index])
        report.inserted[index] = len(new_rows)
        report.updated[index] = len(changed)
    signals.regions_imported.send(None)  # an office's defaults may come from these names
    return report
