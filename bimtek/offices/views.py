"""/admin/kantor: the offices an admin reaches, as a tree, and (for KPU RI and a KPU
Provinsi) a new office below their own."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.offices import scope, service
from bimtek.offices.forms import OfficeForm
from bimtek.offices.models import KABKOTA, LEVEL_LABELS, PROVINSI, PUSAT, Office
from bimtek.web import role_required

bp = Blueprint("offices", __name__)

# Which levels an office may add below itself.
ADDS = {PUSAT: (PROVINSI, KABKOTA), PROVINSI: (KABKOTA,), KABKOTA: ()}


def region_of_current_user() -> str | None:
    """The wilayah the signed-in user's office covers (None: all), for features below offices
    (wilayah pages) that cannot import it."""
    return service.region_prefix(scope.current_reach().office_id)


@bp.record_once
def _provide_region(state) -> None:
    state.app.extensions["bimtek.region_prefix"] = region_of_current_user


@bp.route("/admin/kantor", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def index():
    reach = scope.current_reach()
    own = db.session.get(Office, reach.office_id) or service.first_office()
    levels = ADDS.get(own.level, ()) if own.wilayah_kode or own.level == PUSAT else ()
    form = OfficeForm()
    form.level.choices = [(level, LEVEL_LABELS[level]) for level in levels]
    status = 200
    if request.method == "POST":
        if not levels:
            abort(403)  # a kabupaten/kota (or the single unbound office) adds no office
        if form.validate_on_submit():
            try:
                office = service.add_office(
                    form.level.data,
                    form.wilayah_kode.data,
                    current_user,
                    within=reach,
                    name=(form.name.data or "").strip() or None,
                )
            except service.OfficeError as exc:
                db.session.rollback()
                form.wilayah_kode.errors = [str(exc)]
                status = 400
            else:
                db.session.commit()
                flash(
                    f"{office.label} ditambahkan. Buat akun admin kantor itu dengan "
                    f"'bimtek user create --role admin --office {office.wilayah_kode}'.",
                    "success",
                )
                return redirect(url_for(".index"))
        else:
            status = 400
    reach = scope.current_reach()  # the tree may have grown
    return render_template(
        "offices/index.html",
        offices=service.offices_in(reach),
        admins=service.staff_counts(Role.ADMIN),
        pelatih=service.staff_counts(Role.PELATIH),
        own=own,
        region_label=service.region_label,
        form=form if levels else None,
    ), status
