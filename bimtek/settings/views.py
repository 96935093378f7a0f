"""Pengaturan: the office's identity, zone and number format; a sample certificate; the
warning when links and QR codes point at this machine only."""

import logging
from datetime import date

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from bimtek import numbering, timeutil
from bimtek.enums import STAFF, Role
from bimtek.extensions import db
from bimtek.offices import service as offices
from bimtek.offices.models import Office as OfficeRow
from bimtek.settings import service
from bimtek.settings.forms import PreviewForm, SettingsForm
from bimtek.settings.publicurl import is_loopback_host, is_loopback_url
from bimtek.timeutil import utc_to_local, utcnow
from bimtek.web import role_required

log = logging.getLogger(__name__)
bp = Blueprint("settings", __name__)


@bp.record_once
def _provide_office_zone(state) -> None:
    state.app.extensions["bimtek.office_zone"] = service.office_zone


# Every time on every page is shown in the office's zone, read per request (Pengaturan may
# change it).
@bp.app_template_filter("waktu")
def waktu_filter(value, fmt: str = "d MMMM y, HH.mm") -> str:
    return timeutil.waktu(value, service.office_zone(), fmt)


@bp.app_template_filter("tanggal")
def tanggal_filter(value) -> str:
    return timeutil.tanggal(value, service.office_zone())


# What each number field means, with the value it takes in the example, in plain words.
FIELD_HELP = (
    ("{seq:04d}", "nomor urut, 4 angka", "0001, 0002, …"),
    ("{seq}", "nomor urut tanpa nol di depan", "1, 2, …"),
    ("{kode_kab}", numbering.FIELDS["kode_kab"], None),
    ("{tahun}", numbering.FIELDS["tahun"], None),
    ("{bulan}", numbering.FIELDS["bulan"], None),
    ("{bulan_romawi}", numbering.FIELDS["bulan_romawi"], None),
    ("{kursus}", numbering.FIELDS["kursus"], "1"),
)


def _today(office: service.Office) -> date:
    return utc_to_local(utcnow(), office.timezone).date()


def _example(office: service.Office, template: str) -> str | None:
    try:
        numbering.validate_template(template)
    except numbering.NumberTemplateError:
        return None
    today = _today(office)
    fields = numbering.NumberFields(1, office.kode_kab or "73.22", today.year, today.month, 1)
    return numbering.format_number(template, fields)


@bp.route("/admin/pengaturan", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit():
    office = service.current_office()
    form = SettingsForm(obj=office) if request.method == "GET" else SettingsForm()
    if form.validate_on_submit():
        values = service.OfficeValues(
            **{name: getattr(form, name).data or "" for name in service.SETTING_FIELDS}
        )
        try:
            service.save_office(values, current_user)
        except service.SettingsError as exc:
            db.session.rollback()
            getattr(form, exc.field if exc.field in form else "name").errors.append(str(exc))
        else:
            db.session.commit()
            log.info("user %s saved the office settings", current_user.id)
            flash("Pengaturan kantor tersimpan.", "success")
            return redirect(url_for(".edit"))
    today = _today(office)
    status = 400 if request.method == "POST" else 200
    row = db.session.get(OfficeRow, office.id) or offices.first_office()
    return render_template(
        "settings/edit.html",
        form=form,
        office=office,
        office_row=row,
        office_region=offices.region_label(row),
        wilayah=service.wilayah_defaults(),
        preview_form=PreviewForm(),
        field_help=FIELD_HELP,
        example=_example(office, form.cert_number_template.data or ""),
        today=today,
        public_url=current_app.config["BIMTEK_PUBLIC_URL"],
        loopback=is_loopback_url(current_app.config["BIMTEK_PUBLIC_URL"]),
    ), status


def public_url_warning() -> str | None:
    """For staff pages: the public URL is this machine only while the visitor is elsewhere,
    so every link and QR code shown would open the visitor's own device."""
    if not current_user.is_authenticated or current_user.role not in STAFF:
        return None
    url = current_app.config["BIMTEK_PUBLIC_URL"]
    if not is_loopback_url(url) or is_loopback_host(request.remote_addr):
        return None
    return url


@bp.app_context_processor
def _inject_warning() -> dict:
    return {"public_url_warning": public_url_warning}
