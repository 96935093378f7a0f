"""Stored dashboard sums: the live GROUP BY of bimtek/reports/totals.py paid once in the job
worker instead of on every request.

A refresh unit is a course and a kabupaten/kota (or "" — the participants without a kecamatan):
one INSERT … SELECT of totals.aggregate over that unit's participants, grouped per office,
kecamatan and badan. A dashboard of a province or KPU RI (or of a large kabupaten/kota) adds up
those rows — some hundreds, whatever the number of participants — and, when a unit it covers is
older than BIMTEK_REPORT_SUMS_MAX_AGE seconds, queues its refresh (never in the request) and says
"Angka per <time>". Up to BIMTEK_REPORT_SUMS_LIVE_BELOW participants the dashboard computes live,
through the same totals code, so a single office sees every change at once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from time import perf_counter

from flask import current_app
from sqlalchemy import Float, Integer, String, and_, delete, func, literal, select, update

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.jobs.models import ACTIVE, Job
from bimtek.learning.models import Course
from bimtek.offices.models import Office
from bimtek.offices.scope import Reach
from bimtek.reports import totals
from bimtek.reports.models import ReportSum, ReportSumState
from bimtek.reports.queries import Scope, audience_count, audience_where, within
from bimtek.timeutil import utcnow
from bimtek.wilayah.models import Kabupaten

REST = ""  # the unit of participants without a kecamatan
JOB_KIND = "report_sums"
_KEY_LENGTH = {totals.PROVINSI: 2, totals.KABUPATEN: 5}


def max_age() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("BIMTEK_REPORT_SUMS_MAX_AGE", 300)))


def live_below() -> int:
    return int(current_app.config.get("BIMTEK_REPORT_SUMS_LIVE_BELOW", 20_000))


@dataclass
class Figures:
    """What a dashboard shows: the breakdown, and as of when (None: computed just now)."""

    breakdown: totals.Breakdown | None
    as_of: datetime | None = None
    pending: bool = False  # large, and no sums yet: the worker is computing them


# --- refreshing (the worker) -----------------------------------------------------------------


def _unit_where(unit: str):
    return within(unit) if unit else User.kecamatan_kode.is_(None)


def refresh(course: Course, unit: str) -> int:
    """Recompute the stored sums of one course and kabupaten/kota (REST: no kecamatan) in
    the session's transaction; the caller commits. Returns the unit's participants."""
    began, clock = utcnow(), perf_counter()
    key = (ReportSumState.course_id == course.id) & (ReportSumState.kabkota == unit)
    # The state row first: a second refresh of the same unit waits here until this one commits
    # (PostgreSQL row lock), then its DELETE sees these rows.
    locked = db.session.execute(update(ReportSumState).where(key).values(refreshed_at=began))
    if not locked.rowcount:
        db.session.add(ReportSumState(course_id=course.id, kabkota=unit, refreshed_at=began))
        db.session.flush()
    db.session.execute(
        delete(ReportSum).where(ReportSum.course_id == course.id, ReportSum.kabkota == unit)
    )
    where = and_(audience_where(course), _unit_where(unit))
    grouped = totals.aggregate(
        course,
        where,
        True,  # one kabupaten/kota: each per-user aggregate reads only its participants
        [
            User.office_id.label("office_id"),
            User.kecamatan_kode.label("kecamatan_kode"),
            User.badan.label("badan"),
        ],
    ).subquery("grouped")
    sums = list(grouped.c)[3:]
    floats = {2, 4, 6, 8, 9}  # positions of the float sums after the count
    values = [
        func.coalesce(c, literal(0.0, Float) if i in floats else literal(0, Integer))
        for i, c in enumerate(sums)
    ]
    columns = [
        "course_id", "kabkota", "office_id", "kecamatan_kode", "badan", "participants",
        "modules_n", "modules_sum", "attendance_n", "attendance_sum", "gain_n", "gain_sum",
        "both_n", "pre_sum", "post_sum", "with_post", "passed", "complete", "certificates",
    ]  # fmt: skip
    source = select(
        literal(course.id, Integer),
        literal(unit, String),
        *list(grouped.c)[:3],
        *values,
    )
    db.session.execute(ReportSum.__table__.insert().from_select(columns, source))
    people = db.session.scalar(
        select(func.coalesce(func.sum(ReportSum.participants), 0)).where(
            ReportSum.course_id == course.id, ReportSum.kabkota == unit
        )
    )
    db.session.execute(
        update(ReportSumState)
        .where(key)
        .values(participants=people, seconds=perf_counter() - clock)
    )
    return int(people)


def refresh_units(course: Course, units: list[str], progress=None) -> int:
    """Refresh each unit in its own transaction (a reader never waits on the whole course)."""
    people = 0
    for done, unit in enumerate(units, start=1):
        people += refresh(course, unit)
        db.session.commit()
        if progress is not None:
            progress(done)
    return people


# --- reading (the dashboards) --------------------------------------------------------------


def units_for(reach: Reach | None, kode: str | None) -> list[str]:
    """The refresh units holding every participant a dashboard of `reach` (None: all) and
    region `kode` (None: all in reach) may count."""
    if kode and len(kode) == 5:
        return [kode]
    if kode:
        return _kabupaten_of(kode)
    if reach is None or reach.everything:
        return _kabupaten_of(None) + [REST]
    found: set[str] = set()
    for wilayah in db.session.scalars(select(Office.wilayah_kode).where(Office.id.in_(reach.ids))):
        if wilayah is None:  # KPU RI, or an unbound office: every region
            return _kabupaten_of(None) + [REST]
        found.update([wilayah] if len(wilayah) == 5 else _kabupaten_of(wilayah))
    return sorted(found) + [REST]


def _kabupaten_of(provinsi: str | None) -> list[str]:
    query = select(Kabupaten.kode).order_by(Kabupaten.kode)
    if provinsi is not None:
        query = query.where(Kabupaten.provinsi_kode == provinsi)
    return list(db.session.scalars(query))


def stored(course: Course, scope: Scope, level: str, kode: str | None) -> totals.Breakdown:
    """The breakdown `totals.breakdown` gives, added up from the stored rows (by the
    database: a province's few thousand rows come back as one per kabupaten/kota and badan)."""
    length = _KEY_LENGTH.get(level)
    key = (
        func.substr(ReportSum.kecamatan_kode, 1, length) if length else ReportSum.kecamatan_kode
    ).label("key")
    r = ReportSum
    query = (
        select(
            key,
            r.badan,
            *(
                func.sum(c)
                for c in (
                    r.participants,
                    r.modules_n,
                    r.modules_sum,
                    r.attendance_n,
                    r.attendance_sum,
                    r.gain_n,
                    r.gain_sum,
                    r.both_n,
                    r.pre_sum,
                    r.post_sum,
                    r.with_post,
                    r.passed,
                    r.complete,
                    r.certificates,
                )
            ),  # fmt: skip
        )
        .where(r.course_id == course.id)
        .group_by(key, r.badan)
    )
    if scope.reach is not None:
        query = query.where(scope.reach.where(r.office_id))
    if kode and len(kode) == 5:
        query = query.where(r.kabkota == kode)
    elif kode:
        query = query.where(r.kabkota.in_(_kabupaten_query(kode)))
    rows = db.session.execute(query)
    return totals.assemble(level, ((row[0], totals.sums_of(row)) for row in rows))


def _kabupaten_query(provinsi: str):
    return select(Kabupaten.kode).where(Kabupaten.provinsi_kode == provinsi)


def _states(course: Course) -> dict[str, datetime]:
    return dict(
        db.session.execute(
            select(ReportSumState.kabkota, ReportSumState.refreshed_at).where(
                ReportSumState.course_id == course.id
            )
        ).all()
    )


def figures(course: Course, scope: Scope, level: str, kode: str | None, user) -> Figures:
    """A dashboard's figures: live when small (or a trainer's, or a desa breakdown), else the
    stored sums, queueing the refresh of those older than BIMTEK_REPORT_SUMS_MAX_AGE."""
    if scope.user_ids is not None or level == totals.DESA:
        return Figures(totals.breakdown(course, scope, level, kode))
    units = units_for(scope.reach, kode)
    states = _states(course)
    missing = [u for u in units if u not in states]
    if missing and audience_count(course, scope, region=kode) < live_below():
        return Figures(totals.breakdown(course, scope, level, kode))
    oldest = utcnow() - max_age()
    stale = [u for u in units if u in states and states[u] < oldest]
    if missing:
        queue(course, missing + stale, user)
        return Figures(None, pending=True)
    data = stored(course, scope, level, kode)
    if data.total.participants < live_below():
        return Figures(totals.breakdown(course, scope, level, kode))
    if stale:
        queue(course, stale, user)
    return Figures(data, as_of=min(states[u] for u in units))


def queue(course: Course, units: list[str], user) -> None:
    """A job refreshing `units` of the course, less those an active job is refreshing."""
    from bimtek.jobs import service as jobs

    busy: set[str] = set()
    for params in db.session.scalars(
        select(Job.params).where(Job.kind == JOB_KIND, Job.status.in_(ACTIVE))
    ):
        if params.get("course_id") == course.id:
            busy.update(params.get("units") or [])
    todo = sorted(set(units) - busy)
    if todo:
        jobs.start(JOB_KIND, {"course_id": course.id, "units": todo}, user,
                   f"Memperbarui angka laporan — {course.title}")  # fmt: skip
