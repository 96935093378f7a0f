"""Creating offices and finding the office a region belongs to. Plain functions; flush at most."""

import re

from flask import g, has_app_context
from sqlalchemy import func, select

from bimtek import signals
from bimtek.extensions import db
from bimtek.offices import scope
from bimtek.offices.models import (
    FIRST_OFFICE_ID,
    KABKOTA,
    KODE_LENGTH,
    LEVELS,
    PROVINSI,
    PUSAT,
    Office,
)
from bimtek.offices.zones import zone_for_province
from bimtek.wilayah.models import Kabupaten, Provinsi
from bimtek.wilayah.queries import in_region


class OfficeError(ValueError):
    """A message in Indonesian for the person who asked."""


def first_office() -> Office:
    """The office a single-office database runs as (created by the migration; made again here
    when a test or a restore emptied the table)."""
    office = db.session.get(Office, FIRST_OFFICE_ID)
    if office is None:
        office = Office(id=FIRST_OFFICE_ID, level=KABKOTA)
        db.session.add(office)
        db.session.flush()
        scope.forget()
    return office


def default_name(level: str, wilayah_kode: str | None) -> str:
    if level == PUSAT:
        return "KPU Republik Indonesia"
    if wilayah_kode is None:
        return ""
    if len(wilayah_kode) == 2:
        provinsi = db.session.get(Provinsi, wilayah_kode)
        return f"KPU Provinsi {_title(provinsi.nama)}" if provinsi else ""
    kabupaten = db.session.get(Kabupaten, wilayah_kode)
    return f"KPU {_title(kabupaten.nama)}" if kabupaten else ""


def _title(nama: str) -> str:
    """Kemendagri writes some names in capitals ("KABUPATEN LUWU UTARA"); documents do not."""
    nama = " ".join(nama.split())
    return nama.title() if nama.isupper() else nama


def create_office(
    level: str, wilayah_kode: str | None, *, parent: Office | None = None, name: str | None = None
) -> Office:
    """A new office over a loaded region, below `parent` (which must cover that region)."""
    if level not in LEVELS:
        raise OfficeError("Tingkat kantor harus pusat, provinsi atau kabkota.")
    if level == PUSAT:
        wilayah_kode = None
    else:
        wilayah_kode = (wilayah_kode or "").strip()
        if len(wilayah_kode) != KODE_LENGTH[level] or not re.fullmatch(r"[0-9.]+", wilayah_kode):
            example = "73" if level == "provinsi" else "73.22"
            raise OfficeError(f"Kode wilayah untuk tingkat ini ditulis seperti {example}.")
        region = Provinsi if level == "provinsi" else Kabupaten
        if db.session.get(region, wilayah_kode) is None:
            raise OfficeError(f"Wilayah {wilayah_kode} belum dimuat (bimtek wilayah import).")
        taken = db.session.scalar(select(Office).where(Office.wilayah_kode == wilayah_kode))
        if taken is not None:
            raise OfficeError(f"Wilayah {wilayah_kode} sudah punya kantor: {taken.label}.")
    if (
        parent is not None
        and parent.wilayah_kode
        and not (wilayah_kode or "").startswith(parent.wilayah_kode)
    ):
        raise OfficeError(f"{wilayah_kode} tidak berada di wilayah {parent.label}.")
    office = Office(
        level=level,
        wilayah_kode=wilayah_kode,
        parent_id=parent.id if parent is not None else None,
        name=name or default_name(level, wilayah_kode) or None,
        timezone=zone_for_province(wilayah_kode) if wilayah_kode else None,
        kode_kab=wilayah_kode if level == KABKOTA else None,
    )
    db.session.add(office)
    db.session.flush()
    scope.forget()
    return office


def bind(office: Office, level: str, wilayah_kode: str | None, parent: Office | None) -> None:
    """Give an existing office (the migrated single office) its place in a tree."""
    office.level = level
    office.wilayah_kode = wilayah_kode
    office.parent_id = parent.id if parent is not None else None
    if wilayah_kode and office.timezone is None:
        office.timezone = zone_for_province(wilayah_kode)
    if level == KABKOTA and wilayah_kode and office.kode_kab is None:
        office.kode_kab = wilayah_kode
    db.session.flush()
    scope.forget()


def offices_by_kode() -> dict[str, int]:
    rows = db.session.execute(
        select(Office.wilayah_kode, Office.id).where(Office.wilayah_kode.is_not(None))
    ).all()
    return {row.wilayah_kode: row.id for row in rows}


def unbound_office_id() -> int | None:
    """The office with no region (a single-office laptop): it takes every region no office
    claims."""
    return db.session.scalar(
        select(Office.id).where(Office.wilayah_kode.is_(None), Office.level == KABKOTA).limit(1)
    )


class RegionOffices:
    """Which office a participant of a kecamatan belongs to, for many rows at once (an import)."""

    def __init__(self):
        self.by_kode = offices_by_kode()
        self.unbound = unbound_office_id()

    def for_kecamatan(self, kecamatan_kode: str | None) -> int | None:
        """The kabupaten/kota office of the kecamatan; else the unbound office; else None."""
        if kecamatan_kode:
            kab = self.by_kode.get(kecamatan_kode[:5])
            if kab is not None:
                return kab
        return self.unbound


def region_offices() -> RegionOffices:
    """RegionOffices, once per request (offices change rarely; scope.forget() drops it)."""
    if not has_app_context():
        return RegionOffices()
    found = g.get("_bimtek_region_offices")
    if found is None:
        found = g._bimtek_region_offices = RegionOffices()
    return found


def office_for_kecamatan(kecamatan_kode: str | None) -> int:
    return RegionOffices().for_kecamatan(kecamatan_kode) or first_office().id


def label_of(office_id: int | None) -> str:
    office = db.session.get(Office, office_id or FIRST_OFFICE_ID)
    return office.label if office is not None else "kantor lain"


def region_prefix(office_id: int | None) -> str | None:
    """The wilayah code an office covers ("73", "73.24"): every region whose code starts with
    it. None: every loaded region (KPU RI, or the unbound single office)."""
    office = db.session.get(Office, office_id or FIRST_OFFICE_ID)
    return office.wilayah_kode if office is not None else None


def parent_for(wilayah_kode: str | None, candidates: list[Office]) -> Office | None:
    """The office a new one goes below: among `candidates` (the offices the creator reaches),
    the one whose region most closely holds the new region; a bound office can only go below a
    pusat office or one whose region holds it."""
    best = None
    for office in candidates:
        if office.level == KABKOTA:
            continue
        if office.wilayah_kode is None or in_region(wilayah_kode, office.wilayah_kode):
            if best is None or len(office.wilayah_kode or "") > len(best.wilayah_kode or ""):
                best = office
    return best


def region_label(office: Office) -> str:
    """ "73.24 Kabupaten Luwu Timur"; an unbound office covers every loaded region."""
    if office.wilayah_kode is None:
        return "seluruh Indonesia" if office.level == PUSAT else "semua wilayah yang dimuat"
    region = Provinsi if len(office.wilayah_kode) == 2 else Kabupaten
    row = db.session.get(region, office.wilayah_kode)
    return f"{office.wilayah_kode} {_title(row.nama)}" if row else office.wilayah_kode


def offices_in(reach: scope.Reach) -> list[tuple[Office, int]]:
    """The offices a reach sees, as a tree: (office, depth) in depth-first order."""
    offices = db.session.scalars(select(Office).order_by(Office.wilayah_kode, Office.id)).all()
    seen = [o for o in offices if reach.sees(o.id)]
    ids = {o.id for o in seen}
    children: dict[int | None, list[Office]] = {}
    for office in seen:
        parent = office.parent_id if office.parent_id in ids else None
        children.setdefault(parent, []).append(office)
    ordered: list[tuple[Office, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for office in children.get(parent, ()):
            ordered.append((office, depth))
            walk(office.id, depth + 1)

    walk(None, 0)
    return ordered


def staff_counts(role: str) -> dict[int, int]:
    """office id → active accounts of `role` (accounts builds on offices: its table by name)."""
    user = db.metadata.tables["user"]
    rows = db.session.execute(
        select(user.c.office_id, func.count())
        .where(user.c.role == role, user.c.active.is_(True))
        .group_by(user.c.office_id)
    ).all()
    counts: dict[int, int] = {}
    for office_id, count in rows:
        key = office_id or FIRST_OFFICE_ID
        counts[key] = counts.get(key, 0) + count
    return counts


def by_kode(kode: str) -> Office | None:
    """An office by its wilayah code ("73", "73.24"), or "pusat" / "#id"."""
    kode = (kode or "").strip()
    if kode.startswith("#") and kode[1:].isdigit():
        return db.session.get(Office, int(kode[1:]))
    if kode.lower() == PUSAT:
        return db.session.scalar(select(Office).where(Office.level == PUSAT).limit(1))
    return db.session.scalar(select(Office).where(Office.wilayah_kode == kode))


def add_office(
    level: str,
    wilayah_kode: str | None,
    actor=None,
    *,
    parent: Office | None = None,
    within: scope.Reach | None = None,
    name: str | None = None,
) -> Office:
    """An office added below another: `parent`, else the office in `within` (the creator's
    reach; None: every office) whose region most closely holds the new one. Announced
    (signals.office_created) so it is audited. OfficeError in Indonesian."""
    if parent is None and level != PUSAT:
        candidates = db.session.scalars(select(Office)).all()
        if within is not None:
            candidates = [o for o in candidates if within.sees(o.id)]
        parent = parent_for(wilayah_kode, candidates)
        if parent is None and within is not None:
            parent = db.session.get(Office, within.office_id)
    if level == PUSAT and parent is not None:
        raise OfficeError("KPU RI adalah puncak pohon kantor; tidak berada di bawah kantor lain.")
    if parent is not None and parent.level == KABKOTA:
        raise OfficeError(f"{parent.label} tidak membawahkan kantor lain.")
    if level == PROVINSI and parent is not None and parent.level != PUSAT:
        raise OfficeError("KPU Provinsi hanya dapat berada di bawah KPU RI.")
    office = create_office(level, wilayah_kode, parent=parent, name=name or None)
    signals.office_created.send(office, actor=actor)
    return office
