"""Who a circular addresses, what a person has still to read, and the receipts per kecamatan.

Recipients are the active participants whose office lies in the author office's subtree, whose
badan is addressed and whose kecamatan lies in the chosen regions (all, when none is chosen);
with STAF_KPU, also the staff of the KPU Kabupaten/Kota offices below the author whose
kabupaten/kota is chosen. The same rule is written twice: as SQL for the office's counts and
lists, and in Python for one person's home page; the tests hold them together.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, func, or_, select

from bimtek.accounts.models import User
from bimtek.accounts.roles import BADAN
from bimtek.enums import STAFF, Role
from bimtek.extensions import db
from bimtek.imbauan.models import Imbauan, ImbauanReceipt
from bimtek.imbauan.service import STAF_KPU
from bimtek.offices import scope
from bimtek.offices.models import KABKOTA, Office
from bimtek.offices.service import label_of
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan

NO_KECAMATAN = "—"


def _kecamatan_in(codes: list[str], column) -> ColumnElement[bool]:
    parts = [column == code if len(code) == 8 else column.like(code + ".%") for code in codes]
    return or_(*parts) if parts else false()


def _region_holds(codes: list[str], kecamatan_kode: str | None) -> bool:
    if not codes:
        return True
    if not kecamatan_kode:
        return False
    return any(kecamatan_kode == c or kecamatan_kode.startswith(c + ".") for c in codes)


def _office_in_regions(codes: list[str], wilayah_kode: str | None) -> bool:
    """A kabupaten/kota office is addressed when it or one of its kecamatan is chosen."""
    if not codes:
        return True
    if not wilayah_kode:
        return False
    # c[:5] of a kabupaten or kecamatan code is its kabupaten; a province code covers many.
    return any(wilayah_kode == c[:5] or wilayah_kode.startswith(c + ".") for c in codes)


def addressed_office_ids(imbauan: Imbauan) -> list[int]:
    """The KPU Kabupaten/Kota offices whose staff the circular addresses."""
    if STAF_KPU not in (imbauan.audience or []):
        return []
    below = scope.office_tree().subtree(imbauan.office_id) - {imbauan.office_id}
    if not below:
        return []
    offices = db.session.execute(
        select(Office.id, Office.wilayah_kode).where(
            Office.id.in_(sorted(below)), Office.level == KABKOTA
        )
    ).all()
    return sorted(o.id for o in offices if _office_in_regions(imbauan.regions, o.wilayah_kode))


def participant_condition(imbauan: Imbauan) -> ColumnElement[bool]:
    badan = [b for b in imbauan.audience or [] if b in BADAN]
    if not badan:
        return false()
    conditions = [
        User.role == Role.PESERTA,
        User.active.is_(True),
        scope.reach_of_office(imbauan.office_id).where(User.office_id),
        User.badan.in_(badan),
    ]
    if imbauan.regions:
        conditions.append(_kecamatan_in(imbauan.regions, User.kecamatan_kode))
    return and_(*conditions)


def staff_condition(imbauan: Imbauan) -> ColumnElement[bool]:
    office_ids = addressed_office_ids(imbauan)
    if not office_ids:
        return false()
    return and_(User.role.in_(STAFF), User.active.is_(True), User.office_id.in_(office_ids))


def recipient_condition(imbauan: Imbauan) -> ColumnElement[bool]:
    return or_(participant_condition(imbauan), staff_condition(imbauan))


def is_recipient(imbauan: Imbauan, user) -> bool:
    """The Python twin of recipient_condition, for one person."""
    if not imbauan.published or not getattr(user, "active", False):
        return False
    audience = imbauan.audience or []
    office_id = scope.office_id_of(user)
    if user.role == Role.PESERTA:
        return (
            user.badan in audience
            and user.badan in BADAN
            and scope.reach_of_office(imbauan.office_id).sees(office_id)
            and _region_holds(imbauan.regions, user.kecamatan_kode)
        )
    if user.role in STAFF and STAF_KPU in audience and office_id != imbauan.office_id:
        return office_id in addressed_office_ids(imbauan)
    return False


def _candidates(user) -> list[Imbauan]:
    """Published circulars of the user's own office and the offices above it, newest first."""
    shared = scope.reach_of(user).shared_ids
    return list(
        db.session.scalars(
            select(Imbauan)
            .where(Imbauan.published_at.is_not(None), Imbauan.office_id.in_(sorted(shared)))
            .order_by(Imbauan.published_at.desc(), Imbauan.id.desc())
        )
    )


@dataclass(frozen=True)
class Addressed:
    imbauan: Imbauan
    read_at: datetime | None


def addressed_to(user) -> list[Addressed]:
    """Every published circular addressed to the user, with when they confirmed it."""
    found = [i for i in _candidates(user) if is_recipient(i, user)]
    if not found:
        return []
    read = dict(
        db.session.execute(
            select(ImbauanReceipt.imbauan_id, ImbauanReceipt.read_at).where(
                ImbauanReceipt.user_id == user.id,
                ImbauanReceipt.imbauan_id.in_([i.id for i in found]),
            )
        ).all()
    )
    return [Addressed(i, read.get(i.id)) for i in found]


def unread(user) -> list[Imbauan]:
    return [a.imbauan for a in addressed_to(user) if a.read_at is None]


def office_list(reach: scope.Reach) -> list[Imbauan]:
    """The circulars an office sees: its own (drafts too) and the published ones below it."""
    return list(
        db.session.scalars(
            select(Imbauan)
            .where(
                reach.where(Imbauan.office_id),
                or_(Imbauan.published_at.is_not(None), Imbauan.office_id == reach.office_id),
            )
            .order_by(Imbauan.published_at.is_(None).desc(), Imbauan.published_at.desc())
            .order_by(Imbauan.id.desc())
        )
    )


@dataclass(frozen=True)
class Count:
    """One row of the receipts table: a kecamatan, or the staff of one office."""

    kabupaten: str
    kode: str
    label: str
    addressed: int
    confirmed: int

    @property
    def pending(self) -> int:
        return self.addressed - self.confirmed

    @property
    def is_kecamatan(self) -> bool:
        return len(self.kode) == 8


def _receipt_join(imbauan: Imbauan):
    return and_(ImbauanReceipt.user_id == User.id, ImbauanReceipt.imbauan_id == imbauan.id)


def counts(imbauan: Imbauan) -> list[Count]:
    """Addressed and confirmed per kecamatan (then the staff per office), in code order."""
    rows = db.session.execute(
        select(
            User.kecamatan_kode,
            func.count(User.id).label("addressed"),
            func.count(ImbauanReceipt.id).label("confirmed"),
        )
        .outerjoin(ImbauanReceipt, _receipt_join(imbauan))
        .where(participant_condition(imbauan))
        .group_by(User.kecamatan_kode)
    ).all()
    codes = [r.kecamatan_kode for r in rows if r.kecamatan_kode]
    names = {
        k.kode: (k.nama, kab)
        for k, kab in db.session.execute(
            select(Kecamatan, Kabupaten.nama)
            .join(Kabupaten, Kabupaten.kode == Kecamatan.kabupaten_kode)
            .where(Kecamatan.kode.in_(codes))
        ).all()
    }
    result = [
        Count(
            kabupaten=names.get(r.kecamatan_kode, ("", ""))[1],
            kode=r.kecamatan_kode or NO_KECAMATAN,
            label=f"Kec. {names[r.kecamatan_kode][0]}"
            if r.kecamatan_kode in names
            else (r.kecamatan_kode or "Tanpa kecamatan"),
            addressed=r.addressed,
            confirmed=r.confirmed,
        )
        for r in rows
    ]
    result.sort(key=lambda c: c.kode)
    office_ids = addressed_office_ids(imbauan)
    if office_ids:
        staff = db.session.execute(
            select(
                User.office_id,
                func.count(User.id).label("addressed"),
                func.count(ImbauanReceipt.id).label("confirmed"),
            )
            .outerjoin(ImbauanReceipt, _receipt_join(imbauan))
            .where(staff_condition(imbauan))
            .group_by(User.office_id)
        ).all()
        offices = {
            o.id: o for o in db.session.scalars(select(Office).where(Office.id.in_(office_ids)))
        }
        for r in sorted(staff, key=lambda r: offices[r.office_id].wilayah_kode or ""):
            office = offices[r.office_id]
            result.append(
                Count(
                    office.label,
                    f"staf-{office.id}",
                    f"Staf {office.label}",
                    r.addressed,
                    r.confirmed,
                )
            )
    return result


@dataclass(frozen=True)
class Recipient:
    user: User
    kabupaten: str
    kecamatan: str
    desa: str
    read_at: datetime | None
    confirmed: bool


def recipients(
    imbauan: Imbauan,
    *,
    kecamatan: str | None = None,
    only_read: bool = False,
    limit: int | None = None,
) -> Iterator[Recipient]:
    """The addressed people with their receipt (or none), by region then name."""
    stmt = (
        select(User, Kabupaten.nama, Kecamatan.nama, Desa.nama, ImbauanReceipt)
        .outerjoin(ImbauanReceipt, _receipt_join(imbauan))
        .outerjoin(Kecamatan, Kecamatan.kode == User.kecamatan_kode)
        .outerjoin(Kabupaten, Kabupaten.kode == Kecamatan.kabupaten_kode)
        .outerjoin(Desa, Desa.kode == User.desa_kode)
        .where(recipient_condition(imbauan))
        .order_by(User.kecamatan_kode, User.desa_kode, User.nama, User.id)
    )
    if kecamatan:
        stmt = stmt.where(User.kecamatan_kode == kecamatan)
    if only_read:
        stmt = (
            stmt.where(ImbauanReceipt.id.is_not(None))
            .order_by(None)
            .order_by(ImbauanReceipt.read_at, ImbauanReceipt.id)
        )
    if limit is not None:
        stmt = stmt.limit(limit)
    for user, kab, kec, desa, receipt in db.session.execute(stmt):
        yield Recipient(
            user=user,
            kabupaten=kab or ("" if user.role == Role.PESERTA else label_of(user.office_id)),
            kecamatan=kec or "",
            desa=desa or "",
            read_at=receipt.read_at if receipt is not None else None,
            confirmed=bool(receipt and receipt.confirmed),
        )
