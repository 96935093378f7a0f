"""The daftar hadir workbook and the plain attendance export of large sessions as jobs."""

from sqlalchemy import func, select

from bimtek.accounts.models import User
from bimtek.attendance import hooks, queries, service
from bimtek.attendance.models import SessionInvite, TrainingSession
from bimtek.attendance.sheets import build_attendance_export, build_daftar_hadir
from bimtek.extensions import db
from bimtek.jobs.service import JobError, kind
from bimtek.offices import scope
from bimtek.settings.service import office_by_id
from bimtek.spreadsheet import XLSX_MEDIA_TYPE
from bimtek.wilayah.models import Kecamatan

STAFF = ("admin", "pelatih")
# A styled (not write-only) daftar hadir of 3,000 rows takes about 2 s here.
INLINE_ROWS = 3000


def invitee_count(session_ids: list[int], kecamatan_kode: str | None = None) -> int:
    query = select(func.count()).select_from(SessionInvite)
    query = query.where(SessionInvite.session_id.in_(session_ids))
    if kecamatan_kode:
        query = query.join(User, User.id == SessionInvite.user_id).where(
            User.kecamatan_kode == kecamatan_kode
        )
    return db.session.scalar(query) or 0


def _write(ctx, data: bytes, name: str) -> None:
    with open(ctx.result_file(name, XLSX_MEDIA_TYPE), "wb") as handle:
        handle.write(data)


@kind("daftar_hadir", roles=STAFF, unit="peserta", inline_limit=INLINE_ROWS)
def daftar_hadir(ctx, params: dict, user: User) -> str:
    session = db.session.get(TrainingSession, params["session_id"])
    if session is None or not service.can_manage(session, user):
        raise JobError("Sesi ini tidak ada atau tidak Anda kelola.")
    kecamatan = db.session.get(Kecamatan, params["kecamatan"]) if params.get("kecamatan") else None
    rows = queries.invitee_rows(
        session, kecamatan.kode if kecamatan else None, scope.reach_of(user)
    )
    ctx.progress(0, len(rows))
    office = office_by_id(session.office_id)  # the session's office heads its daftar hadir
    data = build_daftar_hadir(
        session,
        rows,
        office.name,
        office.timezone,
        kecamatan_label=f"{kecamatan.nama} ({kecamatan.kode})" if kecamatan else None,
        extra_sheets=hooks.daftar_hadir_sheets,  # e.g. the session's evaluation
    )
    suffix = f"-{kecamatan.kode}" if kecamatan else ""
    _write(ctx, data, f"daftar-hadir-sesi-{session.id}{suffix}.xlsx")
    ctx.progress(len(rows), len(rows))
    return f"{len(rows)} peserta."


@kind("attendance_export", roles=STAFF, unit="baris", inline_limit=INLINE_ROWS * 3)
def attendance_export(ctx, params: dict, user: User) -> str:
    sessions = queries.sessions_for(user)  # the rights of who started it, as of now
    course_id = params.get("course_id")
    if course_id:
        sessions = [s for s in sessions if s.course_id == course_id]
    total = invitee_count([s.id for s in sessions]) if sessions else 0
    ctx.progress(0, total)
    data = build_attendance_export(
        queries.export_rows(sessions, scope.reach_of(user)),
        office_by_id(scope.office_id_of(user)).timezone,
        full_nik=user.role == "admin",  # a trainer needs names, not 16-digit NIKs
    )
    name = f"kehadiran-kursus-{course_id}.xlsx" if course_id else "kehadiran.xlsx"
    _write(ctx, data, name)
    ctx.progress(total, total)
    return f"{total} baris kehadiran."
