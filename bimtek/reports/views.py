"""Dashboards (per provinsi, kabupaten/kota, kecamatan and desa, one participant), each scoped to
the offices in reach, and the rekap downloads."""

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user

from bimtek.accounts.models import User
from bimtek.attendance.queries import participant_sessions
from bimtek.enums import STAFF, Role
from bimtek.extensions import db
from bimtek.jobs.web import offer
from bimtek.learning.models import Course
from bimtek.learning.service import course_progress
from bimtek.offices import scope
from bimtek.offices import service as offices
from bimtek.quiz import service as quiz_service
from bimtek.reports import (
    jobs,  # also registers the rekap jobs
    queries,
    sums,
    totals,
)
from bimtek.timeutil import utcnow
from bimtek.web import db_int, role_required
from bimtek.wilayah.models import Kecamatan

bp = Blueprint("reports", __name__)


@bp.app_template_filter("chart")
def chart_items(groups: list[queries.Summary], attribute: str) -> list[tuple[str, float | None]]:
    """(label, fraction) pairs for the bar_chart macro."""
    return [(g.nama, getattr(g, attribute)) for g in groups]


def _reach():
    return scope.current_reach()


def _courses() -> list[Course]:
    reach = _reach()
    return queries.courses(None if reach.everything else reach)


def _course(course_id: int) -> Course:
    """A course of an office in reach or shared from above; another office's is 404."""
    course = db.get_or_404(Course, course_id)
    if not queries.course_visible(course, _reach()):
        abort(404)
    return course


def _scope() -> queries.Scope:
    return queries.scope_for(current_user)


def _top() -> tuple[str, str | None]:
    return totals.top_of(current_user)


def _region_visible(kode: str) -> bool:
    """A region lies in the user's reach: the office of a kabupaten/kota or kecamatan is in
    it; a provinsi page is for that province's office (and KPU RI), not for a kabupaten."""
    reach = _reach()
    if reach.everything:
        return True
    if len(kode) in (5, 8):
        office_id = offices.region_offices().for_kecamatan(kode)
    else:
        office_id = offices.offices_by_kode().get(kode)
    return office_id is not None and reach.sees(office_id)


def _links(course: Course, level: str, groups: list[queries.Summary]) -> dict[str, str]:
    if level == totals.DESA:
        return {}
    if level == totals.KECAMATAN:
        return {
            s.kode: url_for("reports.kecamatan", course_id=course.id, kode=s.kode)
            for s in groups
            if s.kode
        }
    return {
        s.kode: url_for("reports.region", course_id=course.id, kode=s.kode)
        for s in groups
        if s.kode
    }


def _crumbs(course: Course, kode: str) -> list[tuple[str, str]]:
    """(label, url) from the user's dashboard down to the region above `kode`."""
    top_level, _ = _top()
    lengths = {totals.PROVINSI: (2, 5), totals.KABUPATEN: (5,)}.get(top_level, ())
    found = [("Laporan", url_for("reports.dashboard", kursus=course.id))]
    for length in lengths:
        if len(kode) > length:
            part = kode[:length]
            name = totals.region_name(part) or part
            found.append((name, url_for("reports.region", course_id=course.id, kode=part)))
    return found


def _dashboard(course: Course, level: str, kode: str | None, template_extra: dict):
    figures = sums.figures(course, _scope(), level, kode, current_user)
    data = figures.breakdown or totals.Breakdown(level, [], queries.Summary("", "Jumlah"))
    return render_template(
        "reports/dashboard.html",
        courses=_courses(),
        course=course,
        groups=data.groups,
        total=data.total,
        as_of=figures.as_of,
        pending=figures.pending,
        level=level,
        level_label=totals.LEVEL_LABELS[level],
        links=_links(course, level, data.groups),
        by_kabupaten=level in (totals.PROVINSI, totals.KABUPATEN),
        scoped=current_user.role != Role.ADMIN,
        **template_extra,
    )


@bp.get("/laporan")
@role_required(*STAFF)
def dashboard():
    courses = _courses()
    if not courses:
        return render_template("reports/dashboard.html", courses=[], course=None)
    course_id = request.args.get("kursus", type=db_int) or courses[0].id
    course = _course(course_id)
    level, kode = _top()
    return _dashboard(course, level, kode, {"region": None, "crumbs": []})


@bp.get("/laporan/<int:course_id>/wilayah/<kode>")
@role_required(*STAFF)
def region(course_id: int, kode: str):
    """One provinsi or kabupaten/kota: its kabupaten/kota or its kecamatan."""
    course = _course(course_id)
    if len(kode) not in (2, 5) or not _region_visible(kode):
        abort(404)
    name = totals.region_name(kode)
    if name is None:
        abort(404)
    level = totals.CHILD_LEVEL[len(kode)]
    what = "Provinsi" if len(kode) == 2 else ""
    return _dashboard(
        course,
        level,
        kode,
        {
            "region": {"kode": kode, "nama": f"{what} {name}".strip()},
            "crumbs": _crumbs(course, kode),
        },
    )


@bp.get("/laporan/<int:course_id>/kecamatan/<kode>")
@role_required(*STAFF)
def kecamatan(course_id: int, kode: str):
    course = _course(course_id)
    kecamatan = db.get_or_404(Kecamatan, kode)
    if not _region_visible(kode):
        abort(404)
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
        crumbs=_crumbs(course, kode),
    )


@bp.get("/laporan/<int:course_id>/peserta/<int:user_id>")
@role_required(*STAFF)
def participant(course_id: int, user_id: int):
    course = _course(course_id)
    user = db.get_or_404(User, user_id)
    if user.role != Role.PESERTA or not _scope().allows(user.id, user.office_id):
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
    if not kode:
        return None
    kecamatan = db.get_or_404(Kecamatan, kode)
    if not _region_visible(kode):
        abort(404)
    return kecamatan


def _region_arg() -> str | None:
    """?wilayah=35 or 35.07: the rekap of one provinsi or kabupaten/kota in reach."""
    kode = request.args.get("wilayah") or None
    if kode is None:
        return None
    if len(kode) not in (2, 5) or totals.region_name(kode) is None or not _region_visible(kode):
        abort(404)
    return kode


def _params(course: Course, **extra) -> dict:
    # The office is part of the job's identity: two offices' rekap are not the same file.
    return {
        "course_id": course.id,
        "office": scope.office_id_of(current_user),
        "scope_user": _scope_user(),
        **extra,
    }


@bp.route("/laporan/<int:course_id>/rekap.xlsx", methods=["GET", "POST"])
@role_required(*STAFF)
def rekap_xlsx(course_id: int):
    """Small: the workbook at once. Large: a background job (see bimtek/reports/jobs.py).

    A province (or KPU RI) gets the summary workbook: a sheet per kabupaten/kota of its
    kecamatan, read from the database's sums; one kabupaten/kota or kecamatan gets today's
    workbook with a row per participant."""
    course = _course(course_id)
    kecamatan = _kecamatan_arg()
    region = None if kecamatan else _region_arg()
    kode = kecamatan.kode if kecamatan else None
    if kecamatan is None and jobs.per_kabupaten(current_user, region):
        return offer(
            "rekap_xlsx",
            _params(course, kecamatan=None, wilayah=region),
            f"Ringkasan per kabupaten/kota — {course.title}",
            0,  # sums only: small whatever the number of participants
            "Rekap ini",
        )
    if kecamatan:
        where = f"Kec. {kecamatan.nama}"
    elif region:
        where = totals.region_name(region)
    else:
        where = "semua kecamatan"
    return offer(
        "rekap_xlsx",
        _params(course, kecamatan=kode, wilayah=region),
        f"Rekap per kecamatan — {course.title} ({where})",
        queries.audience_count(course, _scope(), kode, region),
        "Rekap ini",
    )


@bp.route("/laporan/<int:course_id>/rekap-per-kecamatan.zip", methods=["GET", "POST"])
@role_required(*STAFF)
def rekap_zip(course_id: int):
    """One workbook per kecamatan; for a province, one per kabupaten/kota (each with a sheet per
    kecamatan) and the summary workbook."""
    course = _course(course_id)
    region = _region_arg()
    per = "kabupaten/kota" if jobs.per_kabupaten(current_user, region) else "kecamatan"
    return offer(
        "rekap_zip",
        _params(course, wilayah=region),
        f"Rekap, satu berkas per {per} (.zip) — {course.title}",
        queries.audience_count(course, _scope(), region=region),
        "Rekap ini",
    )


def _scope_user() -> int | None:
    """A trainer's rekap covers their own sessions: their jobs are not the same as another's."""
    return None if current_user.role == "admin" else current_user.id
