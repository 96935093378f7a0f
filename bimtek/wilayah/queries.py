"""What pages read about the region tree (choices, counts, the import template)."""

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from bimtek.extensions import db
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan


def kabupaten_overview() -> list[tuple[Kabupaten, int, int]]:
    """Each kabupaten/kota with its number of kecamatan and desa."""
    return db.session.execute(
        select(Kabupaten, func.count(func.distinct(Kecamatan.kode)), func.count(Desa.kode))
        .outerjoin(Kecamatan, Kecamatan.kabupaten_kode == Kabupaten.kode)
        .outerjoin(Desa, Desa.kecamatan_kode == Kecamatan.kode)
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


def kecamatan_list() -> list[Kecamatan]:
    return list(db.session.scalars(select(Kecamatan).order_by(Kecamatan.nama)))


def desa_list() -> list[Desa]:
    """Every desa with its kecamatan loaded, by kecamatan then name."""
    return list(
        db.session.scalars(
            select(Desa)
            .options(joinedload(Desa.kecamatan))
            .order_by(Desa.kecamatan_kode, Desa.nama)
        )
    )


def kecamatan_desa_rows() -> list[tuple]:
    """(kecamatan kode, kecamatan nama, desa kode, desa nama, jenis); a kecamatan without desa
    once, with None for the desa."""
    return db.session.execute(
        select(Kecamatan.kode, Kecamatan.nama, Desa.kode, Desa.nama, Desa.jenis)
        .outerjoin(Desa, Desa.kecamatan_kode == Kecamatan.kode)
        .order_by(Kecamatan.kode, Desa.kode)
    ).all()
