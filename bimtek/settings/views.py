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

from bimtek.certificates import numbering
from bimtek.extensions import db
from bimtek.settings import service
from bimtek.settings.forms import PreviewForm, SettingsForm
from bimtek.settings.publicurl import is_loopback_host, is_loopback_url
from bimtek.timeutil import utc_to_local, utcnow
from bimtek.web import attachment, role_required

log = logging.getLogger(__name__)
bp = Blueprint("settings", __name__)

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
@role_required("admin")
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
    return render_template(
        "settings/edit.html",
        form=form,
        office=office,
        wilayah=service.wilayah_defaults(),
        preview_form=PreviewForm(),
        field_help=FIELD_HELP,
        example=_example(office, form.cert_number_template.data or ""),
        today=today,
        public_url=current_app.config["BIMTEK_PUBLIC_URL"],
        loopback=is_loopback_url(current_app.config["BIMTEK_PUBLIC_URL"]),
    ), status


@bp.post("/admin/pengaturan/pratinjau-sertifikat")
@role_required("admin")
def preview():
    """A sample certificate with the saved settings. Seeing it unlocks the first issue."""
    from bimtek.certificates.pdf import render

    if not PreviewForm().validate_on_submit():
        flash("Formulir kedaluwarsa. Muat ulang halaman lalu coba lagi.", "error")
        return redirect(url_for(".edit"))
    office = service.current_office()
    text = service.sample_certificate(
        office, current_app.config["BIMTEK_PUBLIC_URL"], _today(office)
    )
    data = render(text)
    service.mark_previewed(current_user)
    db.session.commit()
    return attachment(data, "contoh-sertifikat.pdf", "application/pdf", inline=True)


def public_url_warning() -> str | None:
    """For staff pages: the public URL is this machine only while the visitor is elsewhere,
    so every link and QR code shown would open the visitor's own device."""
    if not current_user.is_authenticated or current_user.role not in ("admin", "pelatih"):
        return None
    url = current_app.config["BIMTEK_PUBLIC_URL"]
    if not is_loopback_url(url) or is_loopback_host(request.remote_addr):
        return None
    return url


@bp.app_context_processor
def _inject_warning() -> dict:
    return {"public_url_warning": public_url_warning}
