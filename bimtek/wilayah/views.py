"""Region overview for the office."""

from flask import Blueprint, render_template

from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.web import role_required
from bimtek.wilayah import queries
from bimtek.wilayah.models import Kabupaten

bp = Blueprint("wilayah", __name__)


@bp.get("/admin/wilayah")
@role_required(Role.ADMIN)
def overview():
    return render_template("wilayah/overview.html", rows=queries.kabupaten_overview())


@bp.get("/admin/wilayah/<kode>")
@role_required(Role.ADMIN)
def kabupaten(kode: str):
    kab = db.get_or_404(Kabupaten, kode)
    counts = queries.desa_counts(kode)
    return render_template("wilayah/kabupaten.html", kabupaten=kab, counts=counts)
