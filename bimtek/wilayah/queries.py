"""What pages read about the region tree (choices, counts, the import template)."""

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import joinedload

from bimtek.extensions import db
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan

# `prefix` below: a region code ("73", "73.24") the rows must lie in; None = every region
# (the caller's office decides: an office sees only its own wilayah).


def within(column, prefix: str | None):
    """SQL: the code in `column` lies in the region `prefix` (or is it)."""
    if prefix is None:
        return true()
    return or_(column == prefix, column.startswith(prefix + ".", autoescape=True))


def in_region(kode: str | None, prefix: str | None) -> bool:
    """Whether a wilayah code ("73.24", "73.24.04", …) lies in a region prefix (None: all)."""
    if prefix is None:
        return True
    return kode is not None and (kode == prefix or kode.startswith(prefix + "."))


def kabupaten_overview(prefix: str | None = None) -> list[tuple[Kabupaten, int, int]]:
    """Each kabupaten/kota with its number of kecamatan and desa."""
    return db.session.execute(
        select(Kabupaten, func.count(func.distinct(Kecamatan.kode)), func.count(Desa.kode))
        .outerjoin(Kecamatan, Kecamatan.kabupaten_kode == Kabupaten.kode)
        .outerjoin(Desa, Desa.kecamatan_kode == Kecamatan.kode)
        .where(within(Kabupaten.kode, prefix))
        .group_by(Kabupaten.kode)
        .order_by(Kabupaten.kode)
    ).all()


def desa_counts(kabupaten_kode: str) -> dict[str, int]:
    """kecamatan code → number of desa/kelurahan, for one kabupaten/kota."""
    return dict(
        db.session.execute(
            select(Desa.kecamatan_kode, func.count())
            .join(Kecamatan)
            .where(Kecamatan.kabupaten_kode == kabupaten_kode)
            .group_by(Desa.kecamatan_kode)
        ).all()
    )


def kecamatan_list(prefix: str | None = None) -> list[Kecamatan]:
    return list(
        db.session.scalars(
            select(Kecamatan).where(within(Kecamatan.kode, prefix)).order_by(Kecamatan.nama)
        )
    )


def desa_list(prefix: str | None = None) -> list[Desa]:
    """Every desa with its kecamatan loaded, by kecamatan then name."""
    return list(
        db.session.scalars(
            select(Desa)
            .options(joinedload(Desa.kecamatan))
            .where(within(Desa.kode, prefix))
            .order_by(Desa.kecamatan_kode, Desa.nama)
        )
    )


def kecamatan_desa_rows(prefix: str | None = None) -> list[tuple]:
    """(kecamatan kode, kecamatan nama, desa kode, desa nama, jenis); a kecamatan without desa
    once, with None for the desa."""
    return db.session.execute(
        select(Kecamatan.kode, Kecamatan.nama, Desa.kode, Desa.nama, Desa.jenis)
        .outerjoin(Desa, Desa.kecamatan_kode == Kecamatan.kode)
        .where(within(Kecamatan.kode, prefix))
        .order_by(Kecamatan.kode, Desa.kode)
    ).all()
