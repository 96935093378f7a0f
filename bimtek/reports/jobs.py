"""The rekap workbook and its zip as background jobs.

A kabupaten/kota (or a lone office): the workbook per kecamatan, and a zip with one workbook per
kecamatan, as always. A province or KPU RI: the summary workbook (a row per kabupaten/kota, and a
sheet per kabupaten/kota with its kecamatan) from the database's sums, and a zip with that
summary and one workbook per kabupaten/kota, each the per-kecamatan workbook of that kabupaten.
"""

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.jobs.service import JobError, kind
from bimtek.learning.models import Course
from bimtek.reports import queries, totals
from bimtek.reports.rekap import (
    RegionPart,
    RekapMeta,
    write_region_summary,
    write_rekap,
    zip_regions,
    zip_split,
)
from bimtek.spreadsheet import XLSX_MEDIA_TYPE
from bimtek.timeutil import office_zone, utcnow
from bimtek.wilayah.models import Kecamatan

STAFF = ("admin", "pelatih")
# openpyxl writes about 3,000 participant rows a second here: inline below ~2 s of work.
INLINE_PEOPLE = 5000


def per_kabupaten(user: User, region: str | None) -> bool:
    """Whether this user's rekap of `region` (None: all they see) goes per kabupaten/kota."""
    if region is not None:
        return len(region) == 2
    return totals.top_of(user)[0] in (totals.PROVINSI, totals.KABUPATEN)


def meta_for(course: Course, where: str, user: User) -> RekapMeta:
    if user.role != "admin":
        where += f"; peserta sesi yang dipandu {user.nama}"
    return RekapMeta(
        course_title=course.title,
        exported_at=utcnow(),
        timezone=office_zone(),
        filter_text=f"Kursus: {course.title}; {where}",
        badan=list(course.audience or []),
    )


def _counted(facts, ctx, total: int, done: int = 0):
    """Pass the facts through, reporting progress every 500 participants."""
    if total:
        ctx.progress(0, total)
    for count, f in enumerate(facts, start=done + 1):
        if count % 500 == 0:
            ctx.progress(count)
        yield f


def _load(params: dict) -> tuple[Course, Kecamatan | None]:
    course = db.session.get(Course, params["course_id"])
    if course is None:
        raise JobError("Kursus ini sudah tidak ada.")
    kecamatan = None
    if params.get("kecamatan"):
        kecamatan = db.session.get(Kecamatan, params["kecamatan"])
        if kecamatan is None:
            raise JobError("Kecamatan ini tidak ada dalam data wilayah.")
    return course, kecamatan


def _where(kecamatan: Kecamatan | None, region: str | None) -> str:
    if kecamatan:
        return f"Kecamatan {kecamatan.nama}"
    if region:
        name = totals.region_name(region) or region
        return f"Provinsi {name}" if len(region) == 2 else name
    return "semua kecamatan"


def _province_summary(course: Course, scope, region: str | None):
    """Kecamatan sums of the region (None: all in scope), and the same per kabupaten/kota."""
    kecamatan = totals.breakdown(course, scope, totals.KECAMATAN, region)
    return kecamatan, totals.roll_up(kecamatan)


@kind("rekap_xlsx", roles=STAFF, unit="peserta", inline_limit=INLINE_PEOPLE)
def rekap_xlsx(ctx, params: dict, user: User) -> str:
    course, kecamatan = _load(params)
    region = params.get("wilayah")
    scope = queries.scope_for(user)
    meta = meta_for(course, _where(kecamatan, region), user)
    if kecamatan is None and per_kabupaten(user, region):
        out = ctx.result_file(f"rekap-kursus-{course.id}-ringkasan.xlsx", XLSX_MEDIA_TYPE)
        per_kecamatan, per_kab = _province_summary(course, scope, region)
        write_region_summary(per_kab, per_kecamatan, meta, str(out))
        return f"{len(per_kab.groups)} kabupaten/kota, {len(per_kecamatan.groups)} kecamatan."
    kode = kecamatan.kode if kecamatan else None
    total = queries.audience_count(course, scope, kode, region)
    suffix = f"-{kode or region}" if kode or region else ""
    out = ctx.result_file(f"rekap-kursus-{course.id}{suffix}.xlsx", XLSX_MEDIA_TYPE)
    facts = _counted(queries.course_facts(course, scope, kode, region), ctx, total)
    summaries = write_rekap(facts, meta, str(out))
    ctx.progress(total, total)
    return f"{len(summaries)} kecamatan."


@kind("rekap_zip", roles=STAFF, unit="peserta", inline_limit=INLINE_PEOPLE)
def rekap_zip(ctx, params: dict, user: User) -> str:
    course, _ = _load(params)
    region = params.get("wilayah")
    scope = queries.scope_for(user)
    meta = meta_for(course, _where(None, region), user)
    total = queries.audience_count(course, scope, region=region)
    if per_kabupaten(user, region):
        out = ctx.result_file(f"rekap-kursus-{course.id}-per-kabupaten.zip", "application/zip")
        per_kecamatan, per_kab = _province_summary(course, scope, region)
        ctx.progress(0, total)
        parts = _parts(course, scope, per_kab, ctx)
        with open(out, "wb") as handle:
            files = zip_regions(parts, per_kab, per_kecamatan, meta, handle)
        ctx.progress(total, total)
        return f"{files} berkas kabupaten/kota."
    out = ctx.result_file(f"rekap-kursus-{course.id}-per-kecamatan.zip", "application/zip")
    facts = _counted(queries.course_facts(course, scope, region=region), ctx, total)
    with open(out, "wb") as handle:
        summaries = zip_split(facts, meta, handle)
    ctx.progress(total, total)
    return f"{len(summaries)} berkas kecamatan."


def _parts(course: Course, scope, per_kab: totals.Breakdown, ctx):
    """Each kabupaten/kota's facts in turn (a region at a time keeps memory flat)."""
    done = 0
    for group in per_kab.groups:
        if not group.kode:
            continue
        facts = _counted(queries.course_facts(course, scope, region=group.kode), ctx, 0, done)
        yield RegionPart(group.kode, group.nama, facts)
        done += group.participants


@kind(
    "report_sums",
    roles=STAFF,
    unit="kabupaten/kota",
    reads_only=False,
    shared=True,  # the sums are the same whoever opened the dashboard
    listed=False,
)
def refresh_sums(ctx, params: dict, user: User) -> str:
    """The stored dashboard sums of some kabupaten/kota of a course (bimtek/reports/sums.py)."""
    from bimtek.reports import sums

    course = db.session.get(Course, params["course_id"])
    if course is None:
        raise JobError("Kursus ini sudah tidak ada.")
    units = list(params.get("units") or [])
    ctx.progress(0, len(units))
    people = sums.refresh_units(course, units, ctx.progress)
    return f"{len(units)} kabupaten/kota, {people} peserta."
