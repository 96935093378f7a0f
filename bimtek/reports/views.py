"""Dashboards (per kecamatan, per desa, one participant) and the rekap downloads."""

import tempfile

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from bimtek.accounts.models import User
from bimtek.attendance.queries import participant_sessions
from bimtek.enums import STAFF, Role
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.learning.service import course_progress
from bimtek.quiz import service as quiz_service
from bimtek.reports import queries
from bimtek.reports.rekap import RekapMeta, write_rekap, zip_split
from bimtek.settings.service import office_zone
from bimtek.spreadsheet import XLSX_MEDIA_TYPE
from bimtek.timeutil import utcnow
from bimtek.web import attachment, db_int, role_required
from bimtek.wilayah.models import Kecamatan

bp = Blueprint("reports", __name__)


@bp.app_template_filter("chart")
def chart_items(groups: list[queries.Summary], attribute: str) -> list[tuple[str, float | None]]:
    """(label, fraction) pairs for the bar_chart macro."""
    return [(g.nama, getattr(g, attribute)) for g in groups]


def _courses() -> list[Course]:
    return queries.courses()


def _course(course_id: int) -> Course:
    return db.get_or_404(Course, course_id)


def _scope() -> queries.Scope:
    return queries.scope_for(current_user)


@bp.get("/laporan")
@role_required(*STAFF)
def dashboard():
    courses = _courses()
    if not courses:
        return render_template("reports/dashboard.html", courses=[], course=None)
    course_id = request.args.get("kursus", type=db_int) or courses[0].id
    course = _course(course_id)
    groups, total, _ = queries.summarise(queries.course_facts(course, _scope()))
    return render_template(
        "reports/dashboard.html",
        courses=courses,
        course=course,
        groups=groups,
        total=total,
        scoped=current_user.role != Role.ADMIN,
    )


@bp.get("/laporan/<int:course_id>/kecamatan/<kode>")
@role_required(*STAFF)
def kecamatan(course_id: int, kode: str):
    course = _course(course_id)
    kecamatan = db.get_or_404(Kecamatan, kode)
    groups, total, facts = queries.summarise(
        queries.course_facts(course, _scope(), kecamatan_kode=kode), by="desa"
    )
    return render_template(
        "reports/kecamatan.html",
        course=course,
        kecamatan=kecamatan,
        groups=groups,
        total=total,
        facts=facts,
    )


@bp.get("/laporan/<int:course_id>/peserta/<int:user_id>")
@role_required(*STAFF)
def participant(course_id: int, user_id: int):
    course = _course(course_id)
    user = db.get_or_404(User, user_id)
    if user.role != Role.PESERTA or not _scope().allows(user.id):
        abort(404)
    quizzes = [
        (q, quiz_service.user_attempts(q, user)) for q in quiz_service.course_quizzes(course)
    ]
    sessions = [m for m in participant_sessions(user) if m.session.course_id == course.id]
    facts = next(queries.course_facts(course, queries.Scope({user.id})), None)
    if facts is None:  # not in this course's audience
        abort(404)
    return render_template(
        "reports/participant.html",
        course=course,
        user=user,
        progress=course_progress(user, course),
        quizzes=quizzes,
        sessions=sessions,
        facts=facts,
        now=utcnow(),
    )


def _meta(course: Course, kecamatan: Kecamatan | None) -> RekapMeta:
    where = f"Kecamatan {kecamatan.nama}" if kecamatan else "semua kecamatan"
    if current_user.role != Role.ADMIN:
        where += f"; peserta sesi yang dipandu {current_user.nama}"
    return RekapMeta(
        course_title=course.title,
        exported_at=utcnow(),
        timezone=office_zone(),
        filter_text=f"Kursus: {course.title}; {where}",
        badan=list(course.audience or []),
    )


def _kecamatan_arg() -> Kecamatan | None:
    kode = request.args.get("kecamatan") or None
    return db.get_or_404(Kecamatan, kode) if kode else None


@bp.get("/laporan/<int:course_id>/rekap.xlsx")
@role_required(*STAFF)
def rekap_xlsx(course_id: int):
    course = _course(course_id)
    kecamatan = _kecamatan_arg()
    facts = queries.course_facts(course, _scope(), kecamatan.kode if kecamatan else None)
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (send_file closes it)
    write_rekap(facts, _meta(course, kecamatan), out)
    out.seek(0)
    suffix = f"-{kecamatan.kode}" if kecamatan else ""
    return attachment(out, f"rekap-kursus-{course.id}{suffix}.xlsx", XLSX_MEDIA_TYPE)


@bp.get("/laporan/<int:course_id>/rekap-per-kecamatan.zip")
@role_required(*STAFF)
def rekap_zip(course_id: int):
    course = _course(course_id)
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    zip_split(queries.course_facts(course, _scope()), _meta(course, None), out)
    out.seek(0)
    return attachment(out, f"rekap-kursus-{course.id}-per-kecamatan.zip", "application/zip")
