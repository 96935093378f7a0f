"""Writing, publishing and confirming circulars. Plain functions on models; flush at most."""

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bimtek.accounts.models import User
from bimtek.accounts.roles import BADAN
from bimtek.content.render import render_markdown
from bimtek.extensions import db
from bimtek.imbauan.models import Imbauan, ImbauanReceipt
from bimtek.offices.models import Office
from bimtek.timeutil import utcnow
from bimtek.wilayah.models import Kabupaten, Kecamatan, Provinsi

# The staff (admin, pelatih) of the KPU Kabupaten/Kota offices below the author: an addressee
# beside the badan.
STAF_KPU = "Staf KPU Kabupaten/Kota"
AUDIENCE = (*BADAN, STAF_KPU)
TITLE_MAX = 200
BODY_MAX = 20_000
CONFIRMATION_MAX = 2_000
# A kabupaten/kota (73.24) or a kecamatan (73.24.04); a province (73) for KPU RI.
_CODE = re.compile(r"[0-9]{2}(\.[0-9]{2}(\.[0-9]{2})?)?")
_SEPARATORS = re.compile(r"[\s,;]+")


class ImbauanError(ValueError):
    """A message in Indonesian for the person who asked; `field` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ImbauanValues:
    title: str
    body: str
    audience: list[str]
    regions: list[str]
    confirmation_text: str


def parse_regions(office: Office, text: str) -> list[str]:
    """The kabupaten/kota and kecamatan codes typed, each loaded and inside the office's wilayah;
    empty = the office's whole wilayah."""
    codes = sorted({c for c in _SEPARATORS.split(text or "") if c})
    for code in codes:
        if not _CODE.fullmatch(code):
            raise ImbauanError(
                f"“{code[:20]}” bukan kode wilayah. Tulis kode kabupaten/kota (mis. 73.24) atau "
                "kecamatan (mis. 73.24.04), dipisah koma.",
                "regions",
            )
        model = {2: Provinsi, 5: Kabupaten, 8: Kecamatan}[len(code)]
        if db.session.get(model, code) is None:
            raise ImbauanError(f"Kode wilayah {code} tidak dikenal (belum dimuat).", "regions")
        if office.wilayah_kode and not (code + ".").startswith(office.wilayah_kode + "."):
            raise ImbauanError(
                f"Wilayah {code} berada di luar wilayah {office.label}. Imbauan hanya dapat "
                "ditujukan ke wilayah kantor Anda sendiri.",
                "regions",
            )
        if office.wilayah_kode == code:
            raise ImbauanError(
                f"{code} adalah seluruh wilayah {office.label}: kosongkan isian wilayah untuk "
                "menuju seluruh wilayah.",
                "regions",
            )
    # A kecamatan inside a kabupaten also chosen adds nobody: keep the wider code only.
    return [c for c in codes if not any(c != o and c.startswith(o + ".") for o in codes)]


def clean(values: ImbauanValues) -> ImbauanValues:
    title = " ".join((values.title or "").split())
    body = (values.body or "").replace("\r\n", "\n").strip()
    confirmation = (values.confirmation_text or "").replace("\r\n", "\n").strip()
    audience = [a for a in AUDIENCE if a in set(values.audience or [])]
    if not title:
        raise ImbauanError("Judul imbauan wajib diisi.", "title")
    if len(title) > TITLE_MAX:
        raise ImbauanError(f"Judul paling banyak {TITLE_MAX} karakter.", "title")
    if not body:
        raise ImbauanError("Isi imbauan wajib diisi.", "body")
    if len(body) > BODY_MAX:
        raise ImbauanError("Isi imbauan paling banyak 20.000 karakter.", "body")
    if len(confirmation) > CONFIRMATION_MAX:
        raise ImbauanError("Teks pernyataan paling banyak 2.000 karakter.", "confirmation_text")
    if not audience:
        raise ImbauanError("Pilih minimal satu badan yang dituju.", "audience")
    return ImbauanValues(title, body, audience, list(values.regions), confirmation)


def _apply(imbauan: Imbauan, values: ImbauanValues) -> None:
    values = clean(values)
    imbauan.title = values.title
    imbauan.body_markdown = values.body
    imbauan.body_html = render_markdown(values.body).html
    imbauan.audience = values.audience
    imbauan.regions = values.regions
    imbauan.confirmation_text = values.confirmation_text or None
    imbauan.updated_at = utcnow()


def create(office: Office, values: ImbauanValues, actor: User, *, publish: bool) -> Imbauan:
    imbauan = Imbauan(office_id=office.id, created_by_id=actor.id)
    _apply(imbauan, values)
    if publish:
        imbauan.published_at = utcnow()
    db.session.add(imbauan)
    db.session.flush()
    return imbauan


def update(imbauan: Imbauan, values: ImbauanValues, *, publish: bool) -> Imbauan:
    """A draft changes; a published circular stays as its recipients read it."""
    if imbauan.published:
        raise ImbauanError("Imbauan yang sudah diterbitkan tidak dapat diubah.")
    _apply(imbauan, values)
    if publish:
        imbauan.published_at = utcnow()
    db.session.flush()
    return imbauan


def publish(imbauan: Imbauan) -> Imbauan:
    if imbauan.published:
        raise ImbauanError("Imbauan ini sudah diterbitkan.")
    imbauan.published_at = utcnow()
    db.session.flush()
    return imbauan


def receipt_of(imbauan: Imbauan, user: User) -> ImbauanReceipt | None:
    return db.session.scalars(
        select(ImbauanReceipt).where(
            ImbauanReceipt.imbauan_id == imbauan.id, ImbauanReceipt.user_id == user.id
        )
    ).one_or_none()


def confirm_read(imbauan: Imbauan, user: User, *, ticked: bool) -> ImbauanReceipt:
    """Store the recipient's "Sudah dibaca" once; a second press (a double tap) finds it."""
    if not imbauan.published:
        raise ImbauanError("Imbauan ini belum diterbitkan.")
    existing = receipt_of(imbauan, user)
    if existing is not None:
        return existing
    if imbauan.confirmation_text and not ticked:
        raise ImbauanError(
            "Centang pernyataan di atas tombol terlebih dahulu untuk mengonfirmasi.", "agree"
        )
    try:
        with db.session.begin_nested():
            row = ImbauanReceipt(
                imbauan_id=imbauan.id,
                user_id=user.id,
                read_at=utcnow(),
                confirmed=bool(imbauan.confirmation_text),
            )
            db.session.add(row)
    except IntegrityError:  # the other tap stored it in between
        row = receipt_of(imbauan, user)
    return row
