"""Dashboards (per kecamatan, per desa, one participant) and the rekap downloads."""

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from bimtek.accounts.models import User
from bimtek.attendance.queries import participant_sessions
from bimtek.enums import STAFF, Role
from bimtek.extensions import db
from bimtek.jobs.web import offer
from bimtek.learning.models import Course
from bimtek.learning.service import course_progress
from bimtek.quiz import service as quiz_service
from bimtek.reports import jobs as _jobs  # noqa: F401  (registers the rekap jobs)
from bimtek.reports import queries
from bimtek.timeutil import utcnow
from bimtek.web import db_int, role_required
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


def _kecamatan_arg() -> Kecamatan | None:
    kode = request.args.get("kecamatan") or None
    return db.get_or_404(Kecamatan, kode) if kode else None


@bp.route("/laporan/<int:course_id>/rekap.xlsx", methods=["GET", "POST"])
@role_required(*STAFF)
def rekap_xlsx(course_id: int):
    """Small: the workbook at once. Large: a background job (see bimtek/reports/jobs.py)."""
    course = _course(course_id)
    kecamatan = _kecamatan_arg()
    kode = kecamatan.kode if kecamatan else None
    where = f"Kec. {kecamatan.nama}" if kecamatan else "semua kecamatan"
    return offer(
        "rekap_xlsx",
        {"course_id": course.id, "kecamatan": kode, "scope_user": _scope_user()},
        f"Rekap per kecamatan — {course.title} ({where})",
        queries.audience_count(course, _scope(), kode),
        "Rekap ini",
    )


@bp.route("/laporan/<int:course_id>/rekap-per-kecamatan.zip", methods=["GET", "POST"])
@role_required(*STAFF)
def rekap_zip(course_id: int):
    course = _course(course_id)
    return offer(
        "rekap_zip",
        {"course_id": course.id, "scope_user": _scope_user()},
        f"Rekap per kecamatan, satu berkas per kecamatan (.zip) — {course.title}",
        queries.audience_count(course, _scope()),
        "Rekap ini",
    )


def _scope_user() -> int | None:
    """A trainer's rekap covers their own sessions: their jobs are not the same as another's."""
    return None if current_user.role == "admin" else current_user.id
