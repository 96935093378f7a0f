"""Region overview for the office."""

from flask import Blueprint, render_template
from sqlalchemy import func, select

from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.web import role_required
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan

bp = Blueprint("wilayah", __name__)


@bp.get("/admin/wilayah")
@role_required(Role.ADMIN)
def overview():
    rows = db.session.execute(
        select(
            Kabupaten,
            func.count(func.distinct(Kecamatan.kode)),
            func.count(Desa.kode),
        )
        .outerjoin(Kecamatan, Kecamatan.kabupaten_kode == Kabupaten.kode)
        .outerjoin(Desa, Desa.kecamatan_kode == Kecamatan.kode)
        .group_by(Kabupaten.kode)
        .order_by(Kabupaten.kode)
    ).all()
    return render_template("wilayah/overview.html", rows=rows)


@bp.get("/admin/wilayah/<kode>")
@role_required(Role.ADMIN)
def kabupaten(kode: str):
    kab = db.get_or_404(Kabupaten, kode)
    counts = dict(
        db.session.execute(
            select(Desa.kecamatan_kode, func.count())
            .join(Kecamatan)
            .where(Kecamatan.kabupaten_kode == kode)
            .group_by(Desa.kecamatan_kode)
        ).all()
    )
    return render_template("wilayah/kabupaten.html", kabupaten=kab, counts=counts)
