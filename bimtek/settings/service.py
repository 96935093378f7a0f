"""The office's settings: a snapshot per request of the database row over the defaults.

Every official document and every local time reads the office from here, never from
app.config: `current_office()` for the identity, `office_zone()` for the time zone.
Plain functions: no request. Writes flush at most; the view commits.
"""

import re
from dataclasses import dataclass, fields
from datetime import date, datetime

from flask import current_app, g
from sqlalchemy import select

from bimtek import numbering, signals
from bimtek.accounts.models import User, audit
from bimtek.extensions import db
from bimtek.settings.models import OFFICE_ROW_ID, OfficeSetting
from bimtek.timeutil import utcnow, zone_abbreviation
from bimtek.wilayah.models import Kabupaten, Provinsi

WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"
ZONE_CHOICES = [
    (WIB, "WIB — Waktu Indonesia Barat (UTC+7)"),
    (WITA, "WITA — Waktu Indonesia Tengah (UTC+8)"),
    (WIT, "WIT — Waktu Indonesia Timur (UTC+9)"),
]
ZONES = {zone for zone, _ in ZONE_CHOICES}

# Keppres 41/1987 (Pembagian Wilayah Republik Indonesia menjadi 3 Wilayah Waktu, in force since
# 1 January 1988): WIB = every province of Sumatra and Jawa/Madura, Kalimantan Barat and
# Kalimantan Tengah; WITA = Kalimantan Timur and Selatan (Kalimantan Utara was split from Timur
# in 2012), Bali, NTB, NTT and every Sulawesi province; WIT = Maluku, Maluku Utara and every
# Papua province (the four of 2022 were split from Papua and Papua Barat). Province codes from
# the Kemendagri 2025 list (/work/shared/data/wilayah-kemendagri-2025.csv): 93 is Papua Selatan;
# there is no 97. Every other province code is WIB.
WITA_PROVINCES = frozenset({"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"})
WIT_PROVINCES = frozenset({"81", "82", "91", "92", "93", "94", "95", "96"})

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


def zone_for_province(provinsi_kode: str) -> str:
    """The zone of a province (the first two digits of any Kemendagri code)."""
    prefix = (provinsi_kode or "")[:2]
    if prefix in WITA_PROVINCES:
        return WITA
    if prefix in WIT_PROVINCES:
        return WIT
    return WIB


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


def wilayah_defaults() -> WilayahDefaults:
    """Defaults the loaded regions imply: one kabupaten/kota → its name and code; the zone when
    every loaded kabupaten/kota lies in provinces of one zone."""
    kabupaten = db.session.scalars(select(Kabupaten).order_by(Kabupaten.kode).limit(2)).all()
    provinces = db.session.scalars(select(Kabupaten.provinsi_kode).distinct().limit(40)).all()
    zones = {zone_for_province(p) for p in provinces}
    zone = zones.pop() if len(zones) == 1 else None
    province = ""
    if len(provinces) == 1:
        row = db.session.get(Provinsi, provinces[0])
        province = row.nama if row is not None else ""
    if len(kabupaten) != 1:
        return WilayahDefaults(zone=zone, province=province)
    only = kabupaten[0]
    nama = " ".join(only.nama.split())
    place = re.sub(r"^(kabupaten|kab\.|kota)\s+", "", nama, flags=re.IGNORECASE)
    return WilayahDefaults(f"KPU {nama}", place, only.kode, zone, province)


def load_office() -> Office:
    """Read the settings row and fill what it leaves unset from config, then from the wilayah."""
    row = db.session.get(OfficeSetting, OFFICE_ROW_ID)
    config = current_app.config
    # A saved row sets every field: no need to look at the regions on every request.
    complete = row is not None and all(getattr(row, f) is not None for f in SETTING_FIELDS)
    wilayah = WilayahDefaults(zone=WIB) if complete else wilayah_defaults()

    def pick(column: str, *fallbacks: str | None) -> str:
        value = getattr(row, column) if row is not None else None
        if value is not None:
            return value
        return next((f for f in fallbacks if f), "")

    name = pick("name", config.get("BIMTEK_OFFICE_NAME"), wilayah.name, "KPU Kabupaten/Kota")
    return Office(
        name=name,
        address_line=pick("address_line", config.get("BIMTEK_OFFICE_ADDRESS")),
        signer_name=pick("signer_name", config.get("BIMTEK_CERT_SIGNER_NAME")),
        signer_title=pick("signer_title", config.get("BIMTEK_CERT_SIGNER_TITLE"), f"Ketua {name}"),
        signer_nip=pick("signer_nip", config.get("BIMTEK_CERT_SIGNER_NIP")),
        place=pick("place", config.get("BIMTEK_CERT_PLACE"), wilayah.place),
        timezone=pick("timezone", config.get("BIMTEK_TIMEZONE"), wilayah.zone, WIB),
        cert_number_template=pick(
            "cert_number_template", config.get("BIMTEK_CERT_NUMBER_TEMPLATE")
        ),
        kode_kab=pick("kode_kab", config.get("BIMTEK_KODE_KAB"), wilayah.kode_kab),
        saved_at=row.updated_at if row is not None else None,
        previewed_at=row.previewed_at if row is not None else None,
    )


def current_office() -> Office:
    """The office as of this request (or CLI command): read once, then kept in flask.g."""
    office = g.get("_bimtek_office")
    if office is None:
        office = load_office()
        g._bimtek_office = office
    return office


def office_zone() -> str:
    """The zone every local time is shown in and every typed local time is read in."""
    return current_office().timezone


def forget_office() -> None:
    """After a change: the next current_office() reads the row again."""
    g.pop("_bimtek_office", None)


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


def _row_for_update() -> OfficeSetting:
    row = db.session.get(OfficeSetting, OFFICE_ROW_ID)
    if row is None:
        row = OfficeSetting(id=OFFICE_ROW_ID)
        db.session.add(row)
    return row


def save_office(values: OfficeValues, actor: User | None) -> OfficeSetting:
    """Store every field (so later environment changes no longer move them); audited."""
    values = clean(values)
    row = _row_for_update()
    changed = {}
    for name in SETTING_FIELDS:
        new = getattr(values, name)
        if getattr(row, name) != new:
            changed[name] = [getattr(row, name), new]
            setattr(row, name, new)
    row.updated_at = utcnow()
    row.updated_by_id = actor.id if actor is not None else None
    db.session.flush()
    audit(actor, "settings.save", "office_setting", row.id, changed=changed)
    forget_office()
    signals.office_confirmed.send(None)  # certificates that waited for the office
    return row


def mark_previewed(actor: User | None) -> None:
    """The admin looked at a sample certificate: that, too, unlocks issuing. Audited."""
    row = _row_for_update()
    first = row.previewed_at is None
    row.previewed_at = utcnow()
    db.session.flush()
    if first:
        audit(actor, "settings.preview", "office_setting", row.id)
    forget_office()
    if first:
        signals.office_confirmed.send(None)
