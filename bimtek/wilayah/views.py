"""Region overview for the office: the regions of its own wilayah only."""

from flask import Blueprint, abort, current_app, render_template

from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.web import role_required
from bimtek.wilayah import queries
from bimtek.wilayah.models import Kabupaten

bp = Blueprint("wilayah", __name__)


def _region() -> str | None:
    """The wilayah code the signed-in admin's office covers (None: every region). The offices
    feature provides it (it builds on wilayah, so wilayah does not import it)."""
    provider = current_app.extensions.get("bimtek.region_prefix")
    return provider() if provider is not None else None


@bp.get("/admin/wilayah")
@role_required(Role.ADMIN)
def overview():
    return render_template("wilayah/overview.html", rows=queries.kabupaten_overview(_region()))


@bp.get("/admin/wilayah/<kode>")
@role_required(Role.ADMIN)
def kabupaten(kode: str):
    # A province's kabupaten lie in its code; a kabupaten office sees only its own.
    if not queries.in_region(kode, _region()):
        abort(404)
    kab = db.get_or_404(Kabupaten, kode)
    counts = queries.desa_counts(kode)
    return render_template("wilayah/kabupaten.html", kabupaten=kab, counts=counts)
