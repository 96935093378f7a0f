"""The rekap workbook and its per-kecamatan zip as background jobs."""

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.jobs.service import JobError, kind
from bimtek.learning.models import Course
from bimtek.reports import queries
from bimtek.reports.rekap import RekapMeta, write_rekap, zip_split
from bimtek.spreadsheet import XLSX_MEDIA_TYPE
from bimtek.timeutil import office_zone, utcnow
from bimtek.wilayah.models import Kecamatan

STAFF = ("admin", "pelatih")
# openpyxl writes about 3,000 participant rows a second here: inline below ~2 s of work.
INLINE_PEOPLE = 5000


def meta_for(course: Course, kecamatan: Kecamatan | None, user: User) -> RekapMeta:
    where = f"Kecamatan {kecamatan.nama}" if kecamatan else "semua kecamatan"
    if user.role != "admin":
        where += f"; peserta sesi yang dipandu {user.nama}"
    return RekapMeta(
        course_title=course.title,
        exported_at=utcnow(),
        timezone=office_zone(),
        filter_text=f"Kursus: {course.title}; {where}",
        badan=list(course.audience or []),
    )


def _counted(facts, ctx, total: int):
    """Pass the facts through, reporting progress every 500 participants."""
    ctx.progress(0, total)
    for done, f in enumerate(facts, start=1):
        if done % 500 == 0:
            ctx.progress(done)
        yield f
    ctx.progress(total, total)


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


@kind("rekap_xlsx", roles=STAFF, unit="peserta", inline_limit=INLINE_PEOPLE)
def rekap_xlsx(ctx, params: dict, user: User) -> str:
    course, kecamatan = _load(params)
    scope = queries.scope_for(user)
    kode = kecamatan.kode if kecamatan else None
    total = queries.audience_count(course, scope, kode)
    suffix = f"-{kecamatan.kode}" if kecamatan else ""
    out = ctx.result_file(f"rekap-kursus-{course.id}{suffix}.xlsx", XLSX_MEDIA_TYPE)
    facts = _counted(queries.course_facts(course, scope, kode), ctx, total)
    summaries = write_rekap(facts, meta_for(course, kecamatan, user), str(out))
    return f"{len(summaries)} kecamatan."


@kind("rekap_zip", roles=STAFF, unit="peserta", inline_limit=INLINE_PEOPLE)
def rekap_zip(ctx, params: dict, user: User) -> str:
    course, _ = _load(params)
    scope = queries.scope_for(user)
    total = queries.audience_count(course, scope)
    out = ctx.result_file(f"rekap-kursus-{course.id}-per-kecamatan.zip", "application/zip")
    facts = _counted(queries.course_facts(course, scope), ctx, total)
    with open(out, "wb") as handle:
        summaries = zip_split(facts, meta_for(course, None, user), handle)
    return f"{len(summaries)} berkas kecamatan."
