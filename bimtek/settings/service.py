"""The office's settings: a snapshot per request of the database row over the defaults.

Every official document and every local time reads the office from here, never from
app.config: `current_office()` for the identity, `office_zone()` for the time zone.
Plain functions: no request. Writes flush at most; the view commits.
"""

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import date, datetime

from flask import current_app, g
from sqlalchemy import select

from bimtek import numbering, signals
from bimtek.accounts.models import User, audit
from bimtek.extensions import db
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID
from bimtek.offices.models import Office as OfficeRow
from bimtek.offices.service import first_office
from bimtek.offices.zones import WIB, WIT, WITA, zone_for_province  # noqa: F401  (re-exported)
from bimtek.timeutil import utcnow, zone_abbreviation
from bimtek.wilayah.models import Kabupaten, Provinsi

ZONE_CHOICES = [
    (WIB, "WIB — Waktu Indonesia Barat (UTC+7)"),
    (WITA, "WITA — Waktu Indonesia Tengah (UTC+8)"),
    (WIT, "WIT — Waktu Indonesia Timur (UTC+9)"),
]
ZONES = {zone for zone, _ in ZONE_CHOICES}

NIP_RE = re.compile(r"^[0-9 ]{0,30}$")
KODE_KAB_RE = re.compile(r"^\d{2}\.\d{2}$")
SETTING_FIELDS = (
    "name",
    "address_line",
    "signer_name",
    "signer_title",
    "signer_nip",
    "place",
    "timezone",
    "cert_number_template",
    "kode_kab",
)


class SettingsError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Office:
    """What documents and pages print about the office, as of this request."""

    name: str
    address_line: str
    signer_name: str
    signer_title: str
    signer_nip: str
    place: str
    timezone: str
    cert_number_template: str
    kode_kab: str
    saved_at: datetime | None = None  # last saved on the settings page
    previewed_at: datetime | None = None  # a sample certificate was looked at
    id: int = FIRST_OFFICE_ID

    @property
    def zone_label(self) -> str:
        return zone_abbreviation(self.timezone)

    @property
    def confirmed(self) -> bool:
        """Certificates may be issued: the office saw its settings (saved or previewed)."""
        return self.saved_at is not None or self.previewed_at is not None

    def number_example(self, today: date, seq: int = 1, kursus: int = 1) -> str:
        fields_ = numbering.NumberFields(seq, self.kode_kab, today.year, today.month, kursus)
        return numbering.format_number(self.cert_number_template, fields_)


@dataclass(frozen=True)
class WilayahDefaults:
    name: str = ""  # "KPU Kabupaten Luwu Utara"
    place: str = ""  # "Luwu Utara"
    kode_kab: str = ""
    zone: str | None = None
    province: str = ""  # "Sulawesi Selatan"

    @property
    def zone_label(self) -> str:
        return zone_abbreviation(self.zone or WIB)


# Region defaults change only when region codes are imported: every page that shows a time
# needs them (through the office's zone), so they are kept per app for REGION_TTL seconds. An
# import in this process is seen at once (forget_region_defaults), one elsewhere within the TTL.
REGION_TTL = 30.0
_REGION_CACHE = "bimtek_region_defaults"


def wilayah_defaults(row: OfficeRow | None = None) -> WilayahDefaults:
    """Defaults the office's region implies. An office bound to a kabupaten/kota or province:
    its name, place, code and zone. The unbound single office: the loaded regions — one
    kabupaten/kota gives its name and code; one zone across them gives the zone."""
    kode = row.wilayah_kode if row is not None else None
    cache = current_app.extensions.setdefault(_REGION_CACHE, {})
    now = time.monotonic()
    kept = cache.get(kode)
    if kept is not None and now < kept[0]:
        return kept[1]
    found = _region_defaults(kode) if kode else _loaded_regions_defaults()
    cache[kode] = (now + REGION_TTL, found)
    return found


@signals.regions_imported.connect
def forget_region_defaults(_sender=None) -> None:
    """After region codes were imported."""
    current_app.extensions.pop(_REGION_CACHE, None)


def _loaded_regions_defaults() -> WilayahDefaults:
    kabupaten = db.session.scalars(select(Kabupaten).order_by(Kabupaten.kode).limit(2)).all()
    provinces = db.session.scalars(select(Kabupaten.provinsi_kode).distinct().limit(40)).all()
    zones = {zone_for_province(p) for p in provinces}
    zone = zones.pop() if len(zones) == 1 else None
    province = ""
    if len(provinces) == 1:
        found = db.session.get(Provinsi, provinces[0])
        province = found.nama if found is not None else ""
    if len(kabupaten) != 1:
        return WilayahDefaults(zone=zone, province=province)
    return _region_defaults(kabupaten[0].kode)


def _region_defaults(kode: str) -> WilayahDefaults:
    provinsi = db.session.get(Provinsi, kode[:2])
    province = provinsi.nama if provinsi is not None else ""
    if len(kode) == 2:
        return WilayahDefaults(
            f"KPU Provinsi {province}" if province else "", "", "", zone_for_province(kode),
            province,
        )  # fmt: skip
    only = db.session.get(Kabupaten, kode)
    if only is None:
        return WilayahDefaults(zone=zone_for_province(kode), province=province)
    nama = " ".join(only.nama.split())
    place = re.sub(r"^(kabupaten|kab\.|kota)\s+", "", nama, flags=re.IGNORECASE)
    return WilayahDefaults(f"KPU {nama}", place, only.kode, zone_for_province(kode), province)


def load_office(office_id: int | None = None) -> Office:
    """Read an office's row and fill what it leaves unset from config, then from its region."""
    row = db.session.get(OfficeRow, office_id or FIRST_OFFICE_ID)
    config = current_app.config
    # A saved row sets every field: no need to look at the regions on every request.
    complete = row is not None and all(getattr(row, f) is not None for f in SETTING_FIELDS)
    wilayah = WilayahDefaults(zone=WIB) if complete else wilayah_defaults(row)
    # The environment describes the office a laptop was set up for: the first one only.
    env = config if row is None or row.id == FIRST_OFFICE_ID else {}

    def pick(column: str, *fallbacks: str | None) -> str:
        value = getattr(row, column) if row is not None else None
        if value is not None:
            return value
        return next((f for f in fallbacks if f), "")

    name = pick("name", env.get("BIMTEK_OFFICE_NAME"), wilayah.name, "KPU Kabupaten/Kota")
    return Office(
        name=name,
        address_line=pick("address_line", env.get("BIMTEK_OFFICE_ADDRESS")),
        signer_name=pick("signer_name", env.get("BIMTEK_CERT_SIGNER_NAME")),
        signer_title=pick("signer_title", env.get("BIMTEK_CERT_SIGNER_TITLE"), f"Ketua {name}"),
        signer_nip=pick("signer_nip", env.get("BIMTEK_CERT_SIGNER_NIP")),
        place=pick("place", env.get("BIMTEK_CERT_PLACE"), wilayah.place),
        timezone=pick("timezone", env.get("BIMTEK_TIMEZONE"), wilayah.zone, WIB),
        cert_number_template=pick(
            "cert_number_template",
            env.get("BIMTEK_CERT_NUMBER_TEMPLATE"),
            config.get("BIMTEK_CERT_NUMBER_TEMPLATE"),
        ),
        kode_kab=pick("kode_kab", env.get("BIMTEK_KODE_KAB"), wilayah.kode_kab),
        saved_at=row.updated_at if row is not None else None,
        previewed_at=row.previewed_at if row is not None else None,
        id=row.id if row is not None else FIRST_OFFICE_ID,
    )


def current_office() -> Office:
    """The acting office as of this request (or CLI command): read once, then kept in flask.g."""
    return office_by_id(scope.acting_office_id())


def office_by_id(office_id: int | None) -> Office:
    """An office's identity (the acting one, or the one that issues a participant's
    certificate), read once per request."""
    office_id = office_id or FIRST_OFFICE_ID
    cache = g.setdefault("_bimtek_offices", {})
    if office_id not in cache:
        cache[office_id] = load_office(office_id)
    return cache[office_id]


@contextmanager
def use_office(office_id: int | None):
    """Within the block, current_office() and office_zone() speak for this office."""
    before = g.get("_bimtek_office_id")
    g._bimtek_office_id = office_id or FIRST_OFFICE_ID
    try:
        yield office_by_id(office_id)
    finally:
        if before is None:
            g.pop("_bimtek_office_id", None)
        else:
            g._bimtek_office_id = before


def office_zone() -> str:
    """The zone every local time is shown in and every typed local time is read in."""
    return current_office().timezone


def forget_office() -> None:
    """After a change: the next current_office() reads the row again."""
    g.pop("_bimtek_offices", None)


# --- writing ------------------------------------------------------------------------------


@dataclass
class OfficeValues:
    name: str
    address_line: str
    signer_name: str
    signer_title: str
    signer_nip: str
    place: str
    timezone: str
    cert_number_template: str
    kode_kab: str


def clean(values: OfficeValues) -> OfficeValues:
    """Whitespace folded, every rule checked; SettingsError (Indonesian) names the field."""
    data = {f.name: " ".join((getattr(values, f.name) or "").split()) for f in fields(values)}
    if not data["name"]:
        raise SettingsError("Nama kantor wajib diisi, misalnya KPU Kabupaten Luwu Utara.", "name")
    if data["timezone"] not in ZONES:
        raise SettingsError("Pilih zona waktu: WIB, WITA atau WIT.", "timezone")
    if not NIP_RE.match(data["signer_nip"]):
        raise SettingsError("NIP hanya berisi angka (boleh dengan spasi).", "signer_nip")
    if data["kode_kab"] and not KODE_KAB_RE.match(data["kode_kab"]):
        raise SettingsError("Kode kabupaten/kota ditulis seperti 73.22.", "kode_kab")
    try:
        data["cert_number_template"] = numbering.validate_template(data["cert_number_template"])
    except numbering.NumberTemplateError as exc:
        raise SettingsError(str(exc), "cert_number_template") from None
    return OfficeValues(**data)


def _row_for_update(office_id: int | None = None) -> OfficeRow:
    office_id = office_id or scope.acting_office_id()
    row = db.session.get(OfficeRow, office_id)
    return row if row is not None else first_office()


def save_office(values: OfficeValues, actor: User | None) -> OfficeRow:
    """Store every field of the actor's office (so later environment changes no longer move
    them); audited."""
    values = clean(values)
    row = _row_for_update(scope.office_id_of(actor) if actor is not None else None)
    changed = {}
    for name in SETTING_FIELDS:
        new = getattr(values, name)
        if getattr(row, name) != new:
            changed[name] = [getattr(row, name), new]
            setattr(row, name, new)
    row.updated_at = utcnow()
    row.updated_by_id = actor.id if actor is not None else None
    db.session.flush()
    audit(actor, "settings.save", "office", row.id, changed=changed)
    forget_office()
    signals.office_confirmed.send(None)  # certificates that waited for the office
    return row


def mark_previewed(actor: User | None) -> None:
    """The admin looked at a sample certificate: that, too, unlocks issuing. Audited."""
    row = _row_for_update(scope.office_id_of(actor) if actor is not None else None)
    first = row.previewed_at is None
    row.previewed_at = utcnow()
    db.session.flush()
    if first:
        audit(actor, "settings.preview", "office", row.id)
    forget_office()
    if first:
        signals.office_confirmed.send(None)
