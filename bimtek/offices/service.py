"""Creating offices and finding the office a region belongs to. Plain functions; flush at most."""

import re

from flask import g, has_app_context
from sqlalchemy import select

from bimtek.extensions import db
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID, KABKOTA, KODE_LENGTH, LEVELS, PUSAT, Office
from bimtek.offices.zones import zone_for_province
from bimtek.wilayah.models import Kabupaten, Provinsi


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
