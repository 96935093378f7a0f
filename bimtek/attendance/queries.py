"""What attendance pages, the daftar hadir, exports and reports read."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased, joinedload

from bimtek.accounts.models import User
from bimtek.attendance.models import (
    PRESENT,
    Attendance,
    AttendanceChange,
    SessionInvite,
    SessionTrainer,
    TrainingSession,
)
from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID
from bimtek.timeutil import utcnow
from bimtek.wilayah.models import Desa, Kecamatan


def sessions_for(user: User) -> list[TrainingSession]:
    """Sessions a staff member may see: those of their office's subtree for admins, the ones
    they run or created there for trainers."""
    query = scope.visible(
        select(TrainingSession).options(joinedload(TrainingSession.course)),
        TrainingSession.office_id,
        scope.reach_of(user),
    )
    if user.role != Role.ADMIN:
        mine = select(SessionTrainer.session_id).where(SessionTrainer.user_id == user.id)
        query = query.where(
            (TrainingSession.id.in_(mine)) | (TrainingSession.created_by_id == user.id)
        )
    return list(db.session.scalars(query.order_by(TrainingSession.starts_at.desc())).unique())


@dataclass
class MySession:
    session: TrainingSession
    attendance: Attendance | None

    def ended(self, now: datetime) -> bool:
        return self.session.ends_at < now


def participant_sessions(user: User) -> list[MySession]:
    rows = db.session.execute(
        select(TrainingSession, Attendance)
        .join(SessionInvite, SessionInvite.session_id == TrainingSession.id)
        .outerjoin(
            Attendance,
            (Attendance.session_id == TrainingSession.id) & (Attendance.user_id == user.id),
        )
        .where(SessionInvite.user_id == user.id)
        # The course's name only: its module list (eager elsewhere) is not read here.
        .options(joinedload(TrainingSession.course).lazyload(Course.course_modules))
        .order_by(TrainingSession.starts_at)
    ).all()
    return [MySession(s, a) for s, a in rows]


@dataclass
class Row:
    """One invitee on the daftar hadir."""

    user: User
    attendance: Attendance | None

    @property
    def status(self) -> str:
        return self.attendance.status if self.attendance else "belum"


def invitee_rows(
    session: TrainingSession, kecamatan_kode: str | None = None, reach: scope.Reach | None = None
) -> list[Row]:
    """Invitees ordered by kecamatan, desa and name, each with their attendance (if any);
    with `reach`, only the participants the reader's office may see."""
    query = (
        select(User, Attendance)
        .join(SessionInvite, SessionInvite.user_id == User.id)
        .outerjoin(
            Attendance,
            (Attendance.session_id == session.id) & (Attendance.user_id == User.id),
        )
        .outerjoin(Kecamatan, Kecamatan.kode == User.kecamatan_kode)
        .outerjoin(Desa, Desa.kode == User.desa_kode)
        .where(SessionInvite.session_id == session.id)
        .options(joinedload(User.kecamatan), joinedload(User.desa))
        .order_by(Kecamatan.nama, Desa.nama, User.nama, User.id)
    )
    if kecamatan_kode:
        query = query.where(User.kecamatan_kode == kecamatan_kode)
    if reach is not None:
        query = query.where(reach.where(User.office_id))
    return [Row(u, a) for u, a in db.session.execute(query).unique().all()]


def counts(rows: Iterable[Row]) -> dict[str, int]:
    result: dict[str, int] = defaultdict(int)
    for row in rows:
        result[row.status] += 1
        result["total"] += 1
    return result


def status_counts(session: TrainingSession) -> dict[str, int]:
    """What counts(invitee_rows(session)) gives, by one GROUP BY: the projector refreshes
    every few seconds and must not load every invitee to count the present ones."""
    status = func.coalesce(Attendance.status, "belum").label("status")
    query = (
        select(status, func.count())
        .select_from(SessionInvite)
        .outerjoin(
            Attendance,
            (Attendance.session_id == SessionInvite.session_id)
            & (Attendance.user_id == SessionInvite.user_id),
        )
        .where(SessionInvite.session_id == session.id)
        .group_by(status)
    )
    result: dict[str, int] = defaultdict(int)
    for name, number in db.session.execute(query):
        result[name] += number
        result["total"] += number
    return result


def invitee_kecamatan(
    session: TrainingSession, reach: scope.Reach | None = None
) -> list[Kecamatan]:
    invitees = (
        select(User.kecamatan_kode)
        .join(SessionInvite, SessionInvite.user_id == User.id)
        .where(SessionInvite.session_id == session.id)
    )
    if reach is not None:
        invitees = invitees.where(reach.where(User.office_id))
    return list(
        db.session.scalars(
            select(Kecamatan).where(Kecamatan.kode.in_(invitees)).order_by(Kecamatan.nama)
        )
    )


def changes(session: TrainingSession, limit: int = 500) -> list[AttendanceChange]:
    return list(
        db.session.scalars(
            select(AttendanceChange)
            .where(AttendanceChange.session_id == session.id)
            .options(joinedload(AttendanceChange.user), joinedload(AttendanceChange.actor))
            .order_by(AttendanceChange.at.desc(), AttendanceChange.id.desc())
            .limit(limit)
        )
    )


@dataclass
class Anomaly:
    kind: str  # "shared_device" | "after_code_closed"
    message: str
    users: list[User]


def anomalies(session: TrainingSession, period: int) -> list[Anomaly]:
    """Signs of a code forwarded out of the room, for the trainer to check by eye."""
    found: list[Anomaly] = []
    phone = Attendance.method.in_(("kode", "qr"))
    shared = db.session.execute(
        select(Attendance.device_id)
        .where(Attendance.session_id == session.id, phone, Attendance.device_id.is_not(None))
        .group_by(Attendance.device_id)
        .having(func.count(func.distinct(Attendance.user_id)) > 1)
    ).scalars()
    for device_id in shared:
        users = list(
            db.session.scalars(
                select(User)
                .join(Attendance, Attendance.user_id == User.id)
                .where(Attendance.session_id == session.id, Attendance.device_id == device_id)
                .order_by(Attendance.checked_in_at)
            )
        )
        found.append(
            Anomaly(
                "shared_device",
                f"Satu perangkat dipakai presensi {len(users)} akun.",
                users,
            )
        )
    if session.code_last_shown_at is not None:
        # The projector was last seen showing the code then; a code typed well after that
        # came from someone who saw it elsewhere (or from a projector page left open).
        cutoff = session.code_last_shown_at + timedelta(seconds=2 * period)
        late = list(
            db.session.scalars(
                select(User)
                .join(Attendance, Attendance.user_id == User.id)
                .where(
                    Attendance.session_id == session.id,
                    phone,
                    Attendance.checked_in_at > cutoff,
                )
                .order_by(Attendance.checked_in_at)
            )
        )
        if late:
            found.append(
                Anomaly(
                    "after_code_closed",
                    f"{len(late)} presensi tercatat setelah kode terakhir kali ditampilkan.",
                    late,
                )
            )
    return found


def attendance_rates(
    course_id: int,
    user_ids: Iterable[int] | None = None,
    now: datetime | None = None,
    where=None,
) -> dict[int, float]:
    """Share of the course's sessions (already started) each invitee attended (hadir or
    terlambat). Participants invited to none of them are absent from the result.

    `where`: a condition on User (e.g. some kecamatan), applied through a join."""
    now = now or utcnow()
    present = func.sum(case((Attendance.status.in_(PRESENT), 1), else_=0))
    query = (
        select(SessionInvite.user_id, func.count(), present)
        .join(TrainingSession, TrainingSession.id == SessionInvite.session_id)
        .outerjoin(
            Attendance,
            (Attendance.session_id == SessionInvite.session_id)
            & (Attendance.user_id == SessionInvite.user_id),
        )
        .where(TrainingSession.course_id == course_id, TrainingSession.starts_at <= now)
        .group_by(SessionInvite.user_id)
    )
    if user_ids is not None:
        query = query.where(SessionInvite.user_id.in_(list(user_ids)))
    if where is not None:
        query = query.join(User, User.id == SessionInvite.user_id).where(where)
    return {uid: (attended or 0) / invited for uid, invited, attended in db.session.execute(query)}


@dataclass
class ExportRow:
    session: TrainingSession
    user: User
    attendance: Attendance | None


def export_rows(
    sessions: list[TrainingSession], reach: scope.Reach | None = None
) -> Iterable[ExportRow]:
    """One row per invitee per session, for the plain attendance export (with `reach`: the
    invitees the reader's office may see)."""
    by_id = {s.id: s for s in sessions}
    invitee = aliased(User)
    query = (
        select(SessionInvite.session_id, invitee, Attendance)
        .join(invitee, invitee.id == SessionInvite.user_id)
        .outerjoin(
            Attendance,
            (Attendance.session_id == SessionInvite.session_id)
            & (Attendance.user_id == SessionInvite.user_id),
        )
        .where(SessionInvite.session_id.in_(by_id))
        .options(joinedload(invitee.kecamatan), joinedload(invitee.desa))
        .order_by(SessionInvite.session_id, invitee.nama, invitee.id)
    )
    if reach is not None:
        query = query.where(reach.where(invitee.office_id))
    rows = db.session.execute(query).unique()
    for session_id, user, attendance in rows:
        yield ExportRow(by_id[session_id], user, attendance)


def active_trainers(office_id: int | None = None) -> list[User]:
    """Trainers who can be put on a session of this office: its own."""
    office_id = office_id or FIRST_OFFICE_ID
    mine = User.office_id == office_id
    if office_id == FIRST_OFFICE_ID:
        mine = mine | User.office_id.is_(None)
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.PELATIH, User.active.is_(True), mine)
            .order_by(User.nama)
        )
    )


def invited_by_nik(session: TrainingSession) -> list[str]:
    """The NIKs invited by hand (not by the session's badan/kecamatan rule), of the session's
    own office only: the form never shows the full NIK of someone outside it."""
    reach = scope.reach_of_office(session.office_id or FIRST_OFFICE_ID)
    return list(
        db.session.scalars(
            select(User.nik)
            .join(SessionInvite, SessionInvite.user_id == User.id)
            .where(
                SessionInvite.session_id == session.id,
                SessionInvite.by_rule.is_(False),
                User.nik.is_not(None),
                reach.where(User.office_id),
            )
        )
    )
