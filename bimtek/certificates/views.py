"""Certificates: public verification, participants' downloads, the admin's rule, preview,
bulk issue, zip, revoke and reissue."""

import logging
from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from bimtek import numbering
from bimtek.certificates import jobs as _jobs  # noqa: F401  (registers its jobs)
from bimtek.certificates import queries as certificate_queries
from bimtek.certificates import rule as certificate_rule
from bimtek.certificates import service
from bimtek.certificates.completion import Completion, completion_of
from bimtek.certificates.forms import BulkIssueForm, PaktaForm, ReasonForm, RuleForm
from bimtek.certificates.models import Certificate, PaktaConfirmation
from bimtek.enums import Role
from bimtek.extensions import db, limiter
from bimtek.jobs import service as jobs
from bimtek.jobs.web import offer
from bimtek.learning import hooks
from bimtek.learning import queries as learning_queries
from bimtek.learning import service as learning
from bimtek.learning.models import Course
from bimtek.offices import scope
from bimtek.offices.models import KABKOTA, Office
from bimtek.settings.forms import PreviewForm
from bimtek.settings.service import current_office, mark_previewed, office_by_id, use_office
from bimtek.timeutil import utc_to_local, utcnow
from bimtek.web import attachment, role_required
from bimtek.wilayah import queries as wilayah_queries
from bimtek.wilayah.models import Kecamatan

log = logging.getLogger(__name__)
bp = Blueprint("certificates", __name__)


@bp.record_once
def _check_number_template(state) -> None:
    """A misspelt office number template stops the app at start, not at the first issue."""
    from bimtek.config import ConfigurationError

    try:
        numbering.validate_template(state.app.config["BIMTEK_CERT_NUMBER_TEMPLATE"])
    except numbering.NumberTemplateError as exc:
        raise ConfigurationError(f"BIMTEK_CERT_NUMBER_TEMPLATE is not valid: {exc}") from None


def _pdf_response(data: bytes, filename: str):
    return attachment(data, filename, "application/pdf")


# --- public verification -----------------------------------------------------


@bp.get("/verifikasi/<code>")
@limiter.limit(lambda: current_app.config["BIMTEK_VERIFY_LIMIT"], scope="verify")
def verify(code: str):
    result = certificate_queries.verify(code)
    status = 404 if result.status == "tidak_dikenal" else 200
    # Dates in the issuing office's time zone.
    with use_office(result.certificate.office_id if result.certificate else None):
        page = render_template("certificates/verify.html", result=result)
    response = Response(page, status)
    response.headers["Cache-Control"] = "no-store"  # a revocation shows at once
    response.headers["X-Robots-Tag"] = "noindex"
    return response


# --- participants ------------------------------------------------------------


@dataclass
class CourseStatus:
    """The block on a participant's course page."""

    completion: Completion
    certificate: Certificate | None
    pakta_text: str
    pakta: PaktaConfirmation | None
    pakta_form: PaktaForm | None


def course_status(course: Course, user) -> CourseStatus | None:
    """For the course page: what is still missing, the pakta form, the certificate. Reads only:
    the certificate is issued when the event that completes the course happens (see
    service.issue_when_complete), not when a page is shown."""
    if not user.is_authenticated or user.role != Role.PESERTA:
        return None
    pakta = certificate_rule.pakta_confirmation(course, user)
    return CourseStatus(
        completion=completion_of(course, user),
        certificate=service.certificate_of(course, user.id),
        pakta_text=course.pakta_text or "",
        pakta=pakta,
        pakta_form=PaktaForm()
        if certificate_rule.pakta_required(course) and pakta is None
        else None,
    )


def _course_panels(course: Course, user) -> list[hooks.Panel]:
    status = course_status(course, user)
    if status is None:
        return []
    return [hooks.Panel("end", "certificates/_course_block.html", {"cert_status": status})]


@bp.record_once
def _register_with_learning(_state) -> None:
    hooks.register(hooks.course_panels, _course_panels)


@bp.post("/kursus/<int:course_id>/pakta")
@role_required(Role.PESERTA)
def confirm_pakta(course_id: int):
    course = db.get_or_404(Course, course_id)
    if not learning.can_open(current_user, course) or not certificate_rule.pakta_required(course):
        abort(404)
    form = PaktaForm()
    if not form.validate_on_submit():
        flash("Centang pernyataan persetujuan untuk mengonfirmasi pakta integritas.", "error")
        return redirect(url_for("learning.course", course_id=course.id))
    try:
        certificate_rule.confirm_pakta(course, current_user, completion_of(course, current_user))
    except service.CertificateError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash("Pakta integritas telah dikonfirmasi.", "success")
    return redirect(url_for("learning.course", course_id=course.id))


@bp.get("/sertifikat")
@login_required
def mine():
    return render_template(
        "certificates/mine.html", certificates=certificate_queries.certificates_of(current_user)
    )


@bp.get("/sertifikat/<int:certificate_id>/unduh")
@login_required
def download(certificate_id: int):
    """The owner's current certificate; admins those of their office and the offices below it.
    Someone else's: 404."""
    certificate = db.get_or_404(
        Certificate, certificate_id, options=[selectinload(Certificate.versions)]
    )
    if current_user.role != Role.ADMIN:
        if certificate.user_id != current_user.id or certificate.revoked:
            abort(404)
    elif not scope.current_reach().sees(certificate.office_id):
        abort(404)
    return _pdf_response(
        certificate_queries.render_pdf(certificate), certificate_queries.filename_for(certificate)
    )


# --- admin: the completion rule --------------------------------------------------


@bp.route("/admin/kursus/<int:course_id>/kelulusan", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def rule(course_id: int):
    course = learning_queries.owned_course_or_error(course_id)
    form = RuleForm(obj=course) if request.method == "GET" else RuleForm()
    if form.validate_on_submit():
        try:
            certificate_rule.save_rule(
                course,
                certificate_rule.RuleSettings(
                    require_modules=form.require_modules.data,
                    require_post_pass=form.require_post_pass.data,
                    min_attendance_pct=form.min_attendance_pct.data,
                    pakta_text=form.pakta_text.data or "",
                    auto_issue=form.auto_issue.data,
                    cert_number_template=form.cert_number_template.data,
                ),
                current_user,
            )
        except service.CertificateError as exc:
            db.session.rollback()
            getattr(form, exc.field if exc.field in form else "pakta_text").errors.append(str(exc))
        else:
            db.session.commit()
            flash("Aturan kelulusan tersimpan.", "success")
            return redirect(url_for(".rule", course_id=course.id))
    status = 400 if request.method == "POST" else 200
    # Operators see what a number will look like, not only its template.
    settings = service.settings_for(course)
    today = utc_to_local(utcnow(), settings.timezone)
    example = numbering.example_fields(settings.kode_kab, today.year, today.month, course.id)
    office_template = current_office().cert_number_template
    return render_template(
        "certificates/rule.html",
        course=course,
        form=form,
        office_example=numbering.format_number(office_template, example),
        course_example=(
            numbering.format_number(course.cert_number_template, example)
            if course.cert_number_template
            else None
        ),
        number_fields=numbering.explained_fields(example),
    ), status


# --- admin: per kecamatan ----------------------------------------------------------


def _kecamatan_or_none(kode: str | None) -> Kecamatan | None:
    return db.session.get(Kecamatan, kode) if kode else None


def _lists(course: Course, office_id: int) -> bool:
    """The office lies in the admin's subtree and follows the course (its own, or offered down
    to it): its participants' certificates of the course can be listed."""
    return scope.current_reach().sees(office_id) and learning_queries.uses(
        scope.reach_of_office(office_id), course
    )


def _kecamatan_for(course: Course, kode: str | None) -> Kecamatan:
    """A kecamatan of an office that follows the course and that the admin sees; else 404."""
    kecamatan = _kecamatan_or_none(kode)
    if kecamatan is None or not _lists(course, service.kecamatan_office_id(kecamatan.kode)):
        abort(404)
    return kecamatan


def _office_level() -> str:
    office = db.session.get(Office, scope.office_id_of(current_user))
    return office.level if office is not None else KABKOTA


def _require_issuer(kecamatan: Kecamatan) -> None:
    """Only the participants' own office issues their certificates: a province looking at a
    kabupaten's participants gets 403."""
    if not scope.current_reach().owns(service.kecamatan_office_id(kecamatan.kode)):
        abort(403)


@bp.get("/admin/kursus/<int:course_id>/sertifikat")
@role_required(Role.ADMIN)
def preview(course_id: int):
    course = learning_queries.course_for_staff_or_404(course_id)
    reach = scope.current_reach()
    every = [(k, service.kecamatan_office_id(k.kode)) for k in wilayah_queries.kecamatan_list()]
    listed = {office_id for office_id in {o for _k, o in every} if _lists(course, office_id)}
    kecamatan_list = [k for k, office_id in every if office_id in listed]
    kecamatan = None
    if request.args.get("kecamatan"):
        kecamatan = _kecamatan_for(course, request.args.get("kecamatan"))
    issuer = service.kecamatan_office_id(kecamatan.kode) if kecamatan else reach.office_id
    rows = service.preview(course, kecamatan.kode) if kecamatan else []
    counts = {"layak": 0, "belum": 0, "terbit": 0, "dicabut": 0}
    for row in rows:
        counts[row.state] += 1
    return render_template(
        "certificates/preview.html",
        course=course,
        kecamatan=kecamatan,
        kecamatan_list=kecamatan_list,
        rows=rows,
        counts=counts,
        form=BulkIssueForm(kecamatan=kecamatan.kode if kecamatan else ""),
        office=office_by_id(issuer),
        can_issue=reach.owns(issuer),
        issuer_label=office_by_id(issuer).name,
        loopback=service.public_url_is_loopback(),
    )


@bp.post("/admin/kursus/<int:course_id>/sertifikat/terbitkan")
@role_required(Role.ADMIN)
def issue_bulk(course_id: int):
    course = learning_queries.course_for_staff_or_404(course_id)
    # Whose participants these are is settled before the form: an office that may only look
    # (a province, which has no participants of its own) is refused (403), whatever it sent.
    if _office_level() != KABKOTA:
        abort(403)
    if request.form.get("kecamatan"):
        _require_issuer(_kecamatan_for(course, request.form.get("kecamatan")))
    form = BulkIssueForm()
    if not form.validate_on_submit():
        if set(form.errors) != {"confirm"}:
            abort(400)
        flash(form.confirm.errors[0], "error")  # nothing issued without the confirmation
        return redirect(url_for(".preview", course_id=course.id, kecamatan=form.kecamatan.data))
    kecamatan = _kecamatan_for(course, form.kecamatan.data)
    _require_issuer(kecamatan)
    back = url_for(".preview", course_id=course.id, kecamatan=kecamatan.kode)
    if service.public_url_is_loopback() and not form.confirm_loopback.data:
        flash(
            "Tidak ada sertifikat yang diterbitkan: alamat publik aplikasi masih "
            f"{current_app.config['BIMTEK_PUBLIC_URL']}, sehingga kode QR verifikasi menunjuk "
            "ke 127.0.0.1 dan tidak dapat dibuka dari ponsel. Jalankan dengan "
            "make run HOST=0.0.0.0 (atau atur BIMTEK_PUBLIC_URL), atau centang konfirmasinya.",
            "error",
        )
        return redirect(back)
    if not current_office().confirmed:
        flash(
            "Tidak ada sertifikat yang diterbitkan. Periksa dulu identitas kantor di Pengaturan "
            "(nama kantor, penandatangan, tempat, zona waktu, format nomor): simpan pengaturan "
            "atau lihat pratinjau sertifikat, lalu terbitkan.",
            "error",
        )
        return redirect(url_for("settings.edit"))
    size = len(service.kecamatan_participants(course, kecamatan.kode))
    db.session.rollback()
    # A kecamatan of a few hundred is issued within this request; more goes to the worker.
    started = jobs.start(
        "certificate_issue",
        {"course_id": course.id, "kecamatan": kecamatan.kode},
        current_user,
        f"Terbitkan sertifikat — {course.title}, Kec. {kecamatan.nama}",
        size,
    )
    job = started.job
    if not started.inline:
        if started.existing:
            flash("Penerbitan untuk kecamatan ini sedang berjalan; ini halamannya.", "info")
        return redirect(url_for("jobs.detail", job_id=job.id), code=303)
    if job.status == "done":
        log.info("user %s issued certificates for course %s, kecamatan %s: %s",
                 current_user.id, course.id, kecamatan.kode, job.message)  # fmt: skip
        flash(job.message, "success")
    else:
        flash(job.error or "Tidak ada sertifikat yang diterbitkan.", "error")
    return redirect(back)


@bp.route("/admin/kursus/<int:course_id>/sertifikat.zip", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def kecamatan_zip(course_id: int):
    course = learning_queries.course_for_staff_or_404(course_id)
    kecamatan = _kecamatan_for(course, request.args.get("kecamatan"))
    count = len(certificate_queries.certificates_in_kecamatan(course, kecamatan.kode))
    if not count:
        flash(f"Belum ada sertifikat terbit untuk Kec. {kecamatan.nama}.", "info")
        return redirect(url_for(".preview", course_id=course.id, kecamatan=kecamatan.kode))
    return offer(
        "certificate_zip",
        {"course_id": course.id, "kecamatan": kecamatan.kode},
        f"Sertifikat Kec. {kecamatan.nama} (.zip) — {course.title}",
        count,
        "Berkas sertifikat ini",
    )


# --- admin: one certificate ------------------------------------------------------


def _certificate(certificate_id: int) -> Certificate:
    """A certificate issued by the admin's office or an office below it; a sibling's is 404."""
    return scope.get_visible_or_404(Certificate, certificate_id)


def _own_certificate(certificate_id: int) -> Certificate:
    """Revoke and reissue: only the issuing office (a province looking on gets 403)."""
    certificate = _certificate(certificate_id)
    scope.require_owner(certificate)
    return certificate


@bp.get("/admin/sertifikat/<int:certificate_id>")
@role_required(Role.ADMIN)
def detail(certificate_id: int):
    certificate = _certificate(certificate_id)
    return render_template(
        "certificates/detail.html",
        certificate=certificate,
        changed=service.data_changed(certificate, certificate.user),
        can_change=scope.current_reach().owns(certificate.office_id),
        issuer=office_by_id(certificate.office_id).name,
        revoke_form=ReasonForm(prefix="cabut"),
        reissue_form=ReasonForm(prefix="ulang"),
    )


@bp.post("/admin/sertifikat/<int:certificate_id>/cabut")
@role_required(Role.ADMIN)
def revoke(certificate_id: int):
    certificate = _own_certificate(certificate_id)
    form = ReasonForm(prefix="cabut")
    if form.validate_on_submit():
        try:
            service.revoke(certificate, current_user, form.reason.data)
        except service.CertificateError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(f"Sertifikat {certificate.number} dicabut.", "success")
    else:
        flash("Tuliskan alasan pencabutan (5–500 karakter).", "error")
    return redirect(url_for(".detail", certificate_id=certificate.id))


@bp.post("/admin/sertifikat/<int:certificate_id>/terbitkan-ulang")
@role_required(Role.ADMIN)
def reissue(certificate_id: int):
    certificate = _own_certificate(certificate_id)
    form = ReasonForm(prefix="ulang")
    if form.validate_on_submit():
        try:
            version = service.reissue(certificate, current_user, form.reason.data)
        except service.CertificateError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(
                f"Sertifikat {certificate.number} diterbitkan ulang (versi {version.version_no}). "
                "Kode verifikasi versi sebelumnya tidak lagi berlaku sebagai versi terkini.",
                "success",
            )
    else:
        flash("Tuliskan alasan penerbitan ulang (5–500 karakter).", "error")
    return redirect(url_for(".detail", certificate_id=certificate.id))


@bp.app_template_filter("tanggal_sertifikat")
def tanggal_sertifikat(value) -> str:
    """A date as printed on certificates: 26 Mei 2024."""
    from bimtek.certificates.pdf import tanggal_indonesia

    return tanggal_indonesia(value) if value else "—"


@bp.app_template_global("certificate_record")
def certificate_record(user) -> dict:
    """For the admin's participant page: certificates and pakta confirmations of one user."""
    return {
        "certificates": certificate_queries.certificates_of(user),
        "pakta": certificate_queries.pakta_confirmations_of(user),
    }


@bp.post("/admin/pengaturan/pratinjau-sertifikat")
@role_required(Role.ADMIN)
def settings_preview():
    """A sample certificate with the office's saved settings. Seeing it unlocks the first issue."""
    if not PreviewForm().validate_on_submit():
        flash("Formulir kedaluwarsa. Muat ulang halaman lalu coba lagi.", "error")
        return redirect(url_for("settings.edit"))
    office = current_office()
    today = utc_to_local(utcnow(), office.timezone).date()
    from bimtek.certificates.pdf import render  # fpdf2 loads on first use, not at start

    data = render(
        certificate_queries.sample_certificate(
            office, current_app.config["BIMTEK_PUBLIC_URL"], today
        )
    )
    mark_previewed(current_user)
    db.session.commit()
    return attachment(data, "contoh-sertifikat.pdf", "application/pdf", inline=True)
