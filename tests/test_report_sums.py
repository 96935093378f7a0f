# ruff: noqa: F811  (the fixtures imported from test_reports and test_jobs)
"""Stored dashboard sums (bimtek/reports/sums.py): the figures they give equal the live ones,
the job worker fills them, and a dashboard reading them says as of when; on SQLite and
PostgreSQL, with the demo's province (Sulawesi Selatan above Luwu Utara and Luwu Timur)."""

import pytest
from sqlalchemy import func, select

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.jobs.models import Job
from bimtek.learning.models import Course
from bimtek.reports import queries, sums, totals
from bimtek.reports.models import ReportSum, ReportSumState
from tests.test_jobs import wait_for, worker  # noqa: F401 (fixture)
from tests.test_reports import province_course, world  # noqa: F401 (fixtures)


@pytest.fixture
def app_config(tmp_path):
    return {
        "BIMTEK_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "BIMTEK_UPLOAD_DIR": str(tmp_path / "uploads"),
        "BIMTEK_JOB_INLINE_SCALE": 0.0,
        "BIMTEK_JOB_ISSUE_CHUNK": 5,
        "BIMTEK_REPORT_SUMS_LIVE_BELOW": 0,  # every dashboard reads the sums
    }


def _same(got: queries.Summary, expected: queries.Summary) -> None:
    assert (got.kode, got.nama, got.participants) == (
        expected.kode, expected.nama, expected.participants,
    )  # fmt: skip
    assert got.by_badan == expected.by_badan
    assert (got.with_post, got.passed, got.complete, got.certificates) == (
        expected.with_post, expected.passed, expected.complete, expected.certificates,
    )  # fmt: skip
    for name in ("modules_pct", "attendance_pct", "complete_pct"):
        a, b = getattr(got, name), getattr(expected, name)
        assert (a is None and b is None) or a == pytest.approx(b), name
    a, b = got.gains, expected.gains
    assert (a.with_both, a.passed, a.category) == (b.with_both, b.passed, b.category)
    for name in ("mean_pre", "mean_post", "mean_gain", "gain_of_means", "pass_rate"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None and y is None) or x == pytest.approx(y), name


def _refresh_all(course: Course) -> None:
    sums.refresh_units(course, sums.units_for(None, None))


@pytest.mark.parametrize(
    "login, level, kode",
    [
        ("admin-sulsel", totals.KABUPATEN, "73"),  # the province's dashboard
        ("admin-sulsel", totals.KECAMATAN, "73.24"),  # a kabupaten/kota, as the province
        ("admin", totals.KECAMATAN, None),  # Luwu Utara's own dashboard
        ("admin-lutim", totals.KECAMATAN, None),
        ("admin-sulsel", totals.KECAMATAN, "73.22"),
    ],
)
def test_stored_sums_equal_the_live_figures(app, province_course, login, level, kode):  # noqa: F811
    from bimtek.certificates import service as certificates

    with app.app_context():
        course = db.session.get(Course, 1)
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        certificates.issue(course, db.session.get(User, province_course["a"]), admin)
        db.session.commit()
        _refresh_all(course)
        user = db.session.scalars(select(User).where(User.username == login)).one()
        scope = queries.scope_for(user)
        live = totals.breakdown(course, scope, level, kode)
        stored = sums.stored(course, scope, level, kode)
        assert live.total.participants > 0
        assert len(stored.groups) == len(live.groups)
        for got, expected in zip([*stored.groups, stored.total], [*live.groups, live.total],
                                 strict=True):  # fmt: skip
            _same(got, expected)
        # One kecamatan, from the stored rows, equals its live figures.
        kecamatan = stored.groups[0] if level == totals.KECAMATAN else None
        if kecamatan is not None:
            assert len(kecamatan.kode) == 8
            live_one = totals.breakdown(course, scope, totals.DESA, kecamatan.kode).total
            live_one.kode, live_one.nama = kecamatan.kode, kecamatan.nama
            _same(kecamatan, live_one)


def test_the_worker_fills_the_sums_and_the_dashboard_says_as_of_when(
    app,
    client,
    auth,
    province_course,
    worker,  # noqa: F811
):
    auth.login("admin-sulsel", "demo-sulsel-2029")
    # No sums yet and a large scope (the threshold is 0 here): the refresh is queued, the
    # page says the figures are being computed instead of computing them in the request.
    page = client.get("/laporan?kursus=1").get_data(as_text=True)
    assert "sedang dihitung di latar belakang" in page and "Luwu Timur" not in page
    with app.app_context():
        job_id = db.session.scalars(select(Job.id).where(Job.kind == "report_sums")).one()
        assert db.session.scalar(select(func.count()).select_from(ReportSum)) == 0
    w = worker()
    job = wait_for(app, job_id, lambda j: j.status == "done", worker_log=w.log)
    assert "kabupaten/kota" in job.message
    with app.app_context():
        units = dict(db.session.execute(
            select(ReportSumState.kabkota, ReportSumState.participants)
        ).all())  # fmt: skip
        assert units["73.22"] == 6 and units["73.24"] == 2
    page = client.get("/laporan?kursus=1").get_data(as_text=True)
    assert "Laporan per kabupaten/kota" in page and "n = 3 berpasangan" in page
    assert "Angka per " in page and "WITA; diperbarui otomatis" in page  # Makassar time
    # The refresh job is housekeeping: not in the operator's list of jobs.
    assert "Memperbarui angka laporan" not in client.get("/tugas").get_data(as_text=True)


def test_stale_sums_are_shown_and_their_refresh_queued_once(
    app,
    client,
    auth,
    province_course,  # noqa: F811
):
    with app.app_context():
        _refresh_all(db.session.get(Course, 1))
    app.config["BIMTEK_REPORT_SUMS_MAX_AGE"] = 0  # everything is stale at once
    auth.login("admin-sulsel", "demo-sulsel-2029")
    for _ in range(2):
        page = client.get("/laporan?kursus=1").get_data(as_text=True)
        assert "Angka per " in page and "n = 3 berpasangan" in page
    with app.app_context():
        jobs = db.session.scalars(select(Job).where(Job.kind == "report_sums")).all()
        assert len(jobs) == 1 and jobs[0].status == "queued"  # the second view found it
        assert "73.22" in jobs[0].params["units"] and "73.24" in jobs[0].params["units"]


def test_small_offices_see_live_figures_without_sums(app, client, auth, province_course):  # noqa: F811
    app.config["BIMTEK_REPORT_SUMS_LIVE_BELOW"] = 20_000
    auth.login("admin", "demo-admin-2029")
    page = client.get("/laporan?kursus=1").get_data(as_text=True)
    assert "Laporan per kecamatan" in page and "Angka per " not in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 0


def test_kpu_ri_reads_the_sums_of_every_province(app, client, auth, province_course):
    from bimtek.accounts.service import create_staff
    from bimtek.offices import service as offices
    from bimtek.offices.models import PUSAT, Office

    with app.app_context():
        ri = offices.create_office(PUSAT, None)
        sulsel = db.session.scalars(select(Office).where(Office.wilayah_kode == "73")).one()
        sulsel.parent_id = ri.id
        create_staff("admin", "admin-ri", "Operator KPU RI", "rahasia-kpu-ri-2029", office_id=ri.id)
        db.session.commit()
        course = db.session.get(Course, 1)
        _refresh_all(course)
        user = db.session.scalars(select(User).where(User.username == "admin-ri")).one()
        scope = queries.scope_for(user)
        live = totals.breakdown(course, scope, totals.PROVINSI)
        stored = sums.stored(course, scope, totals.PROVINSI, None)
        for got, expected in zip([*stored.groups, stored.total], [*live.groups, live.total],
                                 strict=True):  # fmt: skip
            _same(got, expected)
    auth.login("admin-ri", "rahasia-kpu-ri-2029")
    page = client.get("/laporan?kursus=1").get_data(as_text=True)
    assert "Laporan per provinsi" in page and "Angka per " in page and "n = 3 berpasangan" in page
