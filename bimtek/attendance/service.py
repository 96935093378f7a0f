"""Attendance rules: sessions and invitations, phone check-in, manual marking."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, delete, exists, func, insert, null, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import make_transient_to_detached

from bimtek import signals
from bimtek.accounts.models import User, audit, signs_in_with_token
from bimtek.attendance import codes
from bimtek.attendance.models import (
    NEEDS_REASON,
    PRESENT,
    STATUS_LABELS,
    STATUSES,
    Attendance,
    AttendanceChange,
    SessionInvite,
    TrainingSession,
)
from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID, Office
from bimtek.timeutil import utcnow


class AttendanceError(ValueError):
    """A refusal with a message for the person in front of the screen."""


@dataclass
class SessionData:
    course_id: int
    title: str
    venue: str
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    late_after_minutes: int = 15
    checkin_opens_minutes: int = 60
    invite_badan: list[str] = field(default_factory=list)
    invite_kecamatan: list[str] = field(default_factory=list)
    trainer_ids: list[int] = field(default_factory=list)
    invite_niks: list[str] = field(default_factory=list)


def office_region(office_id: int | None) -> str | None:
    """The wilayah code whose kecamatan a session of this office may invite ("73.22" for a
    kabupaten, "73" for a province); None: every kecamatan (KPU RI, an unbound single office)."""
    office = db.session.get(Office, office_id or FIRST_OFFICE_ID)
    return office.wilayah_kode if office is not None else None


def in_region(kecamatan_kode: str, region: str | None) -> bool:
    return region is None or kecamatan_kode.startswith(region + ".")


def same_office(column, office_id: int | None):
    """SQL: this row belongs to exactly this office (a NULL office is the first office)."""
    office_id = office_id or FIRST_OFFICE_ID
    if office_id == FIRST_OFFICE_ID:
        return (column == office_id) | column.is_(None)
    return column == office_id


def session_reach(session: TrainingSession) -> scope.Reach:
    """Whom a session may invite: the participants of its office's subtree, never more."""
    return scope.reach_of_office(session.office_id or FIRST_OFFICE_ID)


def save_session(
    session: TrainingSession | None, data: SessionData, actor: User
) -> TrainingSession:
    """Create or update a session, then bring its invitations up to date.

    A new session belongs to the actor's office; its rule, its NIKs and its trainers reach no
    further than that office: a trainer cannot open another office's participants by inviting
    them."""
    if data.ends_at <= data.starts_at:
        raise AttendanceError("Waktu selesai harus setelah waktu mulai.")
    office_id = session.office_id if session is not None else scope.office_id_of(actor)
    office_id = office_id or FIRST_OFFICE_ID
    course = db.session.get(Course, data.course_id)
    # The office's own courses and those offered down from above (a province's), no other.
    if course is None or not scope.reach_of_office(office_id).uses(course.office_id):
        raise AttendanceError("Kursus tidak ditemukan.")
    region = office_region(office_id)
    outside = [k for k in data.invite_kecamatan if not in_region(k, region)]
    if outside:
        raise AttendanceError(
            f"Kecamatan {', '.join(outside[:5])} berada di luar wilayah kantor ini."
        )
    reach = scope.reach_of_office(office_id)
    users_by_nik = {}
    if data.invite_niks:
        # An unknown NIK and a NIK of another office's participant read the same: the list
        # must not tell a trainer whether someone exists elsewhere.
        users_by_nik = {
            u.nik: u
            for u in db.session.scalars(
                select(User).where(
                    User.nik.in_(data.invite_niks),
                    User.role == Role.PESERTA,
                    reach.where(User.office_id),
                )
            )
        }
        unknown = [nik for nik in data.invite_niks if nik not in users_by_nik]
        if unknown:
            shown = ", ".join("…" + nik[-4:] for nik in unknown[:5])
            raise AttendanceError(
                f"{len(unknown)} NIK pada daftar undangan tidak terdaftar sebagai peserta "
                f"kantor ini ({shown})."
            )
    created = session is None
    if session is None:
        session = TrainingSession(created_by_id=actor.id, office_id=office_id)
        db.session.add(session)
    session.course_id = course.id
    session.title = " ".join(data.title.split())
    session.venue = " ".join(data.venue.split())
    session.starts_at = data.starts_at
    session.ends_at = data.ends_at
    session.late_after_minutes = data.late_after_minutes
    session.checkin_opens_minutes = data.checkin_opens_minutes
    session.invite_badan = list(data.invite_badan)
    session.invite_kecamatan = list(data.invite_kecamatan)
    trainer_ids = set(data.trainer_ids)
    if actor.role == Role.PELATIH:
        trainer_ids.add(actor.id)  # a trainer who creates a session runs it
    session.trainers = list(
        db.session.scalars(
            select(User).where(
                User.id.in_(trainer_ids),
                User.role.in_(("pelatih", "admin")),
                # the office's own staff (and whoever already runs it)
                same_office(User.office_id, office_id)
                | User.id.in_([t.id for t in session.trainers] + [actor.id]),
            )
        )
    )
    db.session.flush()
    for user in users_by_nik.values():
        _add_invite(session.id, user.id, by_rule=False)
    added, removed = sync_invites(session)
    audit(
        actor,
        "session.create" if created else "session.update",
        "training_session",
        session.id,
        title=session.title,
        invited_added=added,
        invited_removed=removed,
    )
    return session


def _rule_clause(session: TrainingSession):
    """Participants the session's rule invites: the badan (default: the course's audience)
    and kecamatan (default: all) chosen, among the participants of the session's office."""
    badan = session.invite_badan or session.course.audience
    clause = and_(
        User.role == Role.PESERTA,
        User.active.is_(True),
        User.badan.in_(badan),
        session_reach(session).where(User.office_id),
    )
    if session.invite_kecamatan:
        clause = and_(clause, User.kecamatan_kode.in_(session.invite_kecamatan))
    return clause


def _add_invite(session_id: int, user_id: int, by_rule: bool) -> None:
    already = db.session.scalar(
        select(SessionInvite).where(
            SessionInvite.session_id == session_id, SessionInvite.user_id == user_id
        )
    )
    if already is None:
        db.session.add(SessionInvite(session_id=session_id, user_id=user_id, by_rule=by_rule))
    elif not by_rule:
        already.by_rule = False
    db.session.flush()


def sync_invites(session: TrainingSession) -> tuple[int, int]:
    """Apply the invitation rule: add who now matches (e.g. imported later), drop rule
    invitations that no longer match and have no attendance yet. Returns (added, removed)."""
    matching = select(User.id).where(_rule_clause(session))
    invited = select(SessionInvite.user_id).where(SessionInvite.session_id == session.id)
    added = db.session.execute(
        insert(SessionInvite.__table__)
        .from_select(
            ["session_id", "user_id", "by_rule", "added_at"],
            select(
                db.literal(session.id),
                User.id,
                db.literal(True),
                db.literal(utcnow(), SessionInvite.added_at.type),
            ).where(_rule_clause(session), User.id.not_in(invited)),
        )
        .returning(SessionInvite.__table__.c.user_id)
    ).all()
    invites = SessionInvite.__table__
    has_record = exists().where(
        Attendance.session_id == session.id, Attendance.user_id == invites.c.user_id
    )
    removed = db.session.execute(
        delete(invites)
        .where(
            invites.c.session_id == session.id,
            invites.c.by_rule.is_(True),
            invites.c.user_id.not_in(matching),
            ~has_record,
        )
        .returning(invites.c.user_id)
    ).all()
    # RETURNING rather than rowcount, which psycopg reports as 0 for INSERT … SELECT here.
    return len(added), len(removed)


def can_manage(session: TrainingSession, user: User) -> bool:
    """Admins manage the sessions of their office's subtree (a province reads its kabupaten's;
    changing is `scope.require_owner`); a trainer the sessions they run or created there."""
    if user.role not in (Role.ADMIN, Role.PELATIH):
        return False
    if not scope.reach_of(user).sees(session.office_id):
        return False
    if user.role == Role.ADMIN:
        return True
    return session.created_by_id == user.id or any(t.id == user.id for t in session.trainers)


def is_invited(session: TrainingSession, user: User) -> bool:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(SessionInvite)
            .where(SessionInvite.session_id == session.id, SessionInvite.user_id == user.id)
        )
        > 0
    )


def matches_rule(session: TrainingSession, user: User) -> bool:
    """Whether the session's rule invites this (loaded) participant: `_rule_clause` read in
    Python, so the check-in page asks no query per open session."""
    if user.role != Role.PESERTA or not user.active:
        return False
    if user.badan not in (session.invite_badan or session.course.audience):
        return False
    if session.invite_kecamatan and user.kecamatan_kode not in session.invite_kecamatan:
        return False
    return session_reach(session).sees(user.office_id)


# ---- check-in ------------------------------------------------------------------------------


def checkin_opens_at(session: TrainingSession) -> datetime:
    return session.starts_at - timedelta(minutes=session.checkin_opens_minutes)


def late_from(session: TrainingSession) -> datetime:
    return session.starts_at + timedelta(minutes=session.late_after_minutes)


def is_open_for_checkin(session: TrainingSession, now: datetime) -> bool:
    return checkin_opens_at(session) <= now <= session.ends_at


def current_code(session: TrainingSession, now: datetime, period: int) -> str:
    return codes.code_for(session.secret, session.id, codes.window_of(now, period))


@dataclass
class CheckIn:
    attendance: Attendance
    created: bool  # False: this person was already recorded present


@dataclass
class Origin:
    """Where a phone check-in came from (shown to trainers to spot forwarded codes)."""

    ip: str | None = None
    device_id: str | None = None
    user_agent: str | None = None


_attendance_table, _change_table = Attendance.__table__, AttendanceChange.__table__
_ATTENDANCE_COLUMNS = [c.name for c in _attendance_table.c if c.name != "id"]


# Built once: a hall checking in together runs them hundreds of times a minute. A new
# attendance row is INSERT ... ON CONFLICT DO NOTHING RETURNING its id: the unique (session,
# user) decides between two simultaneous check-ins, on either database, and the row comes back
# without a second SELECT. SQLite: VALUES from the parameters (every column but the id).
_INSERT_ATTENDANCE = (
    sqlite_insert(_attendance_table)
    .on_conflict_do_nothing(index_elements=["session_id", "user_id"])
    .returning(_attendance_table.c.id)
)
# PostgreSQL: the row and its change-log line in one statement, the line written only when
# the row was (INSERT ... SELECT from the row's RETURNING).
_NEW_ATTENDANCE = (
    pg_insert(_attendance_table)
    .values(
        {
            name: bindparam(name, type_=_attendance_table.c[name].type)
            for name in _ATTENDANCE_COLUMNS
        }
    )
    .on_conflict_do_nothing(index_elements=["session_id", "user_id"])
    .returning(
        _attendance_table.c.id,
        _attendance_table.c.session_id,
        _attendance_table.c.user_id,
        _attendance_table.c.status,
        _attendance_table.c.method,
    )
    .cte("new_attendance")
)
_INSERT_WITH_CHANGE_POSTGRESQL = select(_NEW_ATTENDANCE.c.id).add_cte(
    insert(_change_table)
    .from_select(
        ["session_id", "user_id", "actor_id", "at", "old_status", "new_status", "method", "reason"],
        select(
            _NEW_ATTENDANCE.c.session_id,
            _NEW_ATTENDANCE.c.user_id,
            bindparam("change_actor_id", type_=_change_table.c.actor_id.type),
            bindparam("change_at", type_=_change_table.c.at.type),
            null(),
            _NEW_ATTENDANCE.c.status,
            _NEW_ATTENDANCE.c.method,
            bindparam("change_reason", type_=_change_table.c.reason.type),
        ),
    )
    .cte("logged")
)


def _insert_with_change(
    values: dict, actor_id: int | None, reason: str | None, now: datetime
) -> Attendance | None:
    """A new attendance row and its line in the change log (from no status to its own); None,
    and nothing written, when the (session, user) row already exists."""
    row = dict.fromkeys(_ATTENDANCE_COLUMNS) | values
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        change = {"change_actor_id": actor_id, "change_at": now, "change_reason": reason}
        new_id = connection.execute(_INSERT_WITH_CHANGE_POSTGRESQL, row | change).scalar()
    else:
        new_id = connection.execute(_INSERT_ATTENDANCE, row).scalar()
        if new_id is not None:
            _record_change(row["session_id"], row["user_id"], actor_id, None, row["status"],
                           row["method"], reason, now)  # fmt: skip
    if new_id is None:
        return None
    attendance = Attendance(id=new_id, **row)  # the row as inserted, not read back
    make_transient_to_detached(attendance)
    db.session.add(attendance)
    return attendance


_INSERT_CHANGE = insert(_change_table)  # VALUES from the parameters


def _record_change(session_id, user_id, actor_id, old, new, method, reason, now) -> None:
    # A Core INSERT: no ORM flush bookkeeping, no RETURNING of an id nobody reads.
    db.session.connection().execute(
        _INSERT_CHANGE,
        {
            "session_id": session_id,
            "user_id": user_id,
            "actor_id": actor_id,
            "at": now,
            "old_status": old,
            "new_status": new,
            "method": method,
            "reason": reason,
        },
    )


_invited = (
    exists()
    .where(
        SessionInvite.session_id == bindparam("session_id"),
        SessionInvite.user_id == bindparam("user_id"),
    )
    .label("invited")
)
_auto_issue = (
    select(Course.auto_issue).where(Course.id == bindparam("course_id")).scalar_subquery()
).label("auto_issue")
_CHECKIN_STATE = (
    select(_invited, Attendance, _auto_issue)
    .select_from(User)
    .outerjoin(
        Attendance,
        and_(Attendance.session_id == bindparam("session_id"), Attendance.user_id == User.id),
    )
    .where(User.id == bindparam("user_id"))
    .execution_options(populate_existing=True)
)


def _checkin_state(session: TrainingSession, user_id: int) -> tuple[bool, Attendance | None, bool]:
    """(invited, attendance row or None, does the course issue certificates automatically) in
    one SELECT (built once)."""
    row = db.session.execute(
        _CHECKIN_STATE,
        {"session_id": session.id, "user_id": user_id, "course_id": session.course_id},
    ).one()
    return bool(row[0]), row[1], bool(row[2])


# Whether the session's course issues certificates by itself (beside the session's row).
_SESSION_AUTO_ISSUE = (
    select(Course.auto_issue)
    .where(Course.id == TrainingSession.course_id)
    .scalar_subquery()
    .label("auto_issue")
)
_SESSION_FOR_CHECKIN = (
    select(TrainingSession, _invited, Attendance, _SESSION_AUTO_ISSUE)
    .outerjoin(
        Attendance,
        and_(
            Attendance.session_id == TrainingSession.id,
            Attendance.user_id == bindparam("user_id"),
        ),
    )
    .where(TrainingSession.id == bindparam("session_id"))
    .execution_options(populate_existing=True)
)


# A hall typing the code together: the account (by the request's session token, as the sign-in
# checks it), the session and this account's state in it, as plain values in one SELECT.
_user_table, _session_table = User.__table__, TrainingSession.__table__
_CHECKIN_SESSION_COLUMNS = ("id", "course_id", "starts_at", "ends_at", "late_after_minutes",
                            "checkin_opens_minutes", "secret")  # fmt: skip
_CHECKIN_BY_TOKEN = (
    select(
        _user_table.c.id.label("user_id"),
        _user_table.c.role,
        *(_session_table.c[name].label(f"session_{name}") for name in _CHECKIN_SESSION_COLUMNS),
        exists()
        .where(
            SessionInvite.session_id == _session_table.c.id,
            SessionInvite.user_id == _user_table.c.id,
        )
        .label("invited"),
        _attendance_table.c.status.label("attendance_status"),
        _SESSION_AUTO_ISSUE,
    )
    .select_from(
        _user_table.join(_session_table, _session_table.c.id == bindparam("session_id")).outerjoin(
            _attendance_table,
            and_(
                _attendance_table.c.session_id == _session_table.c.id,
                _attendance_table.c.user_id == _user_table.c.id,
            ),
        )
    )
    .where(*signs_in_with_token(_user_table.c))
)


def check_in_for_token(
    token: str | None,
    session_id: int,
    typed_code: str | None,
    now: datetime,
    period: int,
    origin: Origin,
    method: str = "kode",
    before_write=None,
) -> CheckIn | None:
    """check_in for the account with this session token, without loading the account or the
    session as objects: one SELECT, then check_in's own rules and INSERTs on plain values.
    None: nothing done, for the general path (not signed in, no such session, staff, a
    participant not yet on the session's list, a course that issues certificates at once).
    A refused code raises AttendanceError as check_in does."""
    if not token:
        return None
    row = (
        db.session.connection()
        .execute(_CHECKIN_BY_TOKEN, {"session_id": session_id, "token": token})
        .one_or_none()
    )
    if row is None or row.role != Role.PESERTA or not row.invited or row.auto_issue:
        return None
    session = SimpleNamespace(
        **{name: getattr(row, f"session_{name}") for name in _CHECKIN_SESSION_COLUMNS}
    )
    user = SimpleNamespace(id=row.user_id, role=row.role)
    existing = None
    if row.attendance_status is not None:
        existing = SimpleNamespace(session_id=session.id, status=row.attendance_status)
    return check_in(session, user, typed_code, now, period, origin, method,
                    state=(True, existing, False), before_write=before_write)  # fmt: skip


def session_for_checkin(session_id: int, user_id: int):
    """(the session, its check-in state for this participant) in one SELECT, or None when
    there is no such session. The state goes to check_in(state=...), which then reads nothing."""
    row = db.session.execute(
        _SESSION_FOR_CHECKIN, {"session_id": session_id, "user_id": user_id}
    ).one_or_none()
    if row is None:
        return None
    return row[0], (bool(row[1]), row[2], bool(row[3]))


def check_in(
    session: TrainingSession,
    user: User,
    typed_code: str | None,
    now: datetime,
    period: int,
    origin: Origin,
    method: str = "kode",
    state: tuple[bool, Attendance | None, bool] | None = None,
    before_write=None,
) -> CheckIn:
    """Record a participant present with the code from the projector, or refuse (AttendanceError).

    A first check-in is one SELECT (invited? recorded already?) and the writes: the INSERT of
    the attendance row (RETURNING its id) and the INSERT of its line in the change log, one
    statement on PostgreSQL (_insert_with_change).
    `state`: that SELECT's answer when already read (session_for_checkin). `before_write`
    (the view's begin_write) is called once, before the first write: a refused code or a
    repeat takes no write lock on SQLite, and a check-in holds it for its INSERTs alone."""
    if user.role != Role.PESERTA:
        raise AttendanceError("Presensi dengan kode hanya untuk peserta.")
    invited, existing, auto_issue = state or _checkin_state(session, user.id)

    def writing():
        nonlocal before_write
        if before_write is not None:
            before_write()
            before_write = None

    if not invited:
        if not matches_rule(session, user):
            raise AttendanceError(
                "Anda tidak terdaftar sebagai peserta sesi ini. Hubungi pelatih atau operator."
            )
        writing()
        _add_invite(session.id, user.id, by_rule=True)  # imported after the session was set up
    if existing is not None and existing.status in PRESENT:
        return CheckIn(existing, created=False)
    if now < checkin_opens_at(session):
        raise AttendanceError("Presensi sesi ini belum dibuka.")
    if now > session.ends_at:
        raise AttendanceError(
            "Sesi ini sudah berakhir, presensi ditutup. Jika Anda hadir, minta pelatih mencatatnya."
        )
    if codes.normalise(typed_code) is None:
        raise AttendanceError("Kode presensi terdiri dari 6 angka. Periksa lagi kode di layar.")
    window = codes.matching_window(session.secret, session.id, typed_code, now, period)
    if window is None:
        raise AttendanceError(
            "Kode salah atau sudah berganti. Ketik kode yang sedang tampil di layar."
        )
    status = "hadir" if now <= late_from(session) else "terlambat"
    values = {
        "session_id": session.id,
        "user_id": user.id,
        "status": status,
        "method": method,
        "checked_in_at": now,
        "ip": (origin.ip or "")[:64] or None,
        "device_id": (origin.device_id or "")[:64] or None,
        "user_agent": (origin.user_agent or "")[:300] or None,
        "code_window": window,
        "updated_at": now,
    }
    writing()
    if existing is None:
        inserted = _insert_with_change(values, None, None, now)
        if inserted is not None:
            if auto_issue:  # attendance may complete the course (no query otherwise)
                signals.course_progress.send(session.course, user=user)
            return CheckIn(inserted, created=True)
    current = _attendance(session.id, user.id, lock=True)
    if current.status in PRESENT:  # the other tap of a double tap won
        return CheckIn(current, created=False)
    # Marked izin/sakit/alpa earlier, but here now with a valid code: present wins.
    old = current.status
    for key, value in values.items():
        setattr(current, key, value)
    current.reason = None
    _record_change(session.id, user.id, None, old, status, method, None, now)
    db.session.flush()
    if auto_issue:
        signals.course_progress.send(session.course, user=user)
    return CheckIn(current, created=True)


def _attendance(session_id: int, user_id: int, lock: bool = False) -> Attendance | None:
    query = select(Attendance).where(
        Attendance.session_id == session_id, Attendance.user_id == user_id
    )
    if lock:
        query = query.with_for_update()
    return db.session.scalars(query.execution_options(populate_existing=True)).first()


def record_code_shown(session: TrainingSession, now: datetime) -> bool:
    """Note that the projector showed the code (at most one write per 10 s)."""
    last = session.code_last_shown_at
    if last is not None and now - last < timedelta(seconds=10):
        return False
    db.session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == session.id)
        .values(code_last_shown_at=now)
    )
    return True


# ---- manual marking ------------------------------------------------------------------------


@dataclass
class MarkResult:
    changed: int
    unchanged: int


def mark(
    session: TrainingSession,
    actor: User,
    user_ids: list[int],
    status: str,
    reason: str | None,
    now: datetime,
) -> MarkResult:
    """Trainer marks invitees (people without a phone, izin, sakit, alpa); every change logged."""
    if status not in STATUSES:
        raise AttendanceError("Pilih status: " + ", ".join(STATUS_LABELS.values()) + ".")
    reason = " ".join((reason or "").split()) or None
    if status in NEEDS_REASON and not reason:
        raise AttendanceError(f"Tuliskan alasan untuk status {STATUS_LABELS[status]}.")
    if not user_ids:
        raise AttendanceError("Pilih minimal satu peserta.")
    invited = set(
        db.session.scalars(
            select(SessionInvite.user_id)
            .join(User, User.id == SessionInvite.user_id)
            .where(
                SessionInvite.session_id == session.id,
                SessionInvite.user_id.in_(user_ids),
                session_reach(session).where(User.office_id),
            )
        )
    )
    if len(invited) != len(set(user_ids)):
        raise AttendanceError("Sebagian peserta yang dipilih tidak diundang ke sesi ini.")
    changed = unchanged = 0
    for user_id in sorted(invited):
        values = {
            "session_id": session.id,
            "user_id": user_id,
            "status": status,
            "method": "manual",
            "checked_in_at": now if status in PRESENT else None,
            "reason": reason,
            "marked_by_id": actor.id,
            "updated_at": now,
        }
        if _insert_with_change(values, actor.id, reason, now):
            changed += 1
            continue
        current = _attendance(session.id, user_id, lock=True)
        if current.status == status and current.reason == reason:
            unchanged += 1
            continue
        old = current.status
        keep_time = status in PRESENT and current.status in PRESENT
        current.status = status
        current.reason = reason
        current.marked_by_id = actor.id
        current.updated_at = now
        if not keep_time:
            current.checked_in_at = now if status in PRESENT else None
            current.method = "manual"
        _record_change(session.id, user_id, actor.id, old, status, "manual", reason, now)
        changed += 1
    db.session.flush()
    audit(
        actor,
        "attendance.mark",
        "training_session",
        session.id,
        status=status,
        count=changed,
        reason=reason,
    )
    if status in PRESENT and session.course.auto_issue:  # attendance may complete the course
        for user_id in sorted(invited):
            signals.course_progress.send(session.course, user=db.session.get(User, user_id))
    return MarkResult(changed, unchanged)


def delete_session(session: TrainingSession, actor: User) -> None:
    has_records = db.session.scalar(
        select(func.count()).select_from(Attendance).where(Attendance.session_id == session.id)
    )
    if has_records:
        raise AttendanceError("Sesi yang sudah memiliki catatan kehadiran tidak dapat dihapus.")
    audit(actor, "session.delete", "training_session", session.id, title=session.title)
    db.session.delete(session)
    db.session.flush()


def sessions_now_open_for(user: User, now: datetime) -> list[TrainingSession]:
    """The sessions this participant could check in to right now (invited, or matching the
    invitation rule of a session set up before they were imported)."""
    candidates = db.session.scalars(
        select(TrainingSession)
        .where(
            TrainingSession.ends_at >= now,
            TrainingSession.starts_at <= now + timedelta(days=1),
        )
        .order_by(TrainingSession.starts_at)
    ).all()
    open_now = [s for s in candidates if is_open_for_checkin(s, now)]
    if not open_now:
        return []
    invited = set(
        db.session.scalars(
            select(SessionInvite.session_id).where(
                SessionInvite.user_id == user.id,
                SessionInvite.session_id.in_([s.id for s in open_now]),
            )
        )
    )
    return [s for s in open_now if s.id in invited or matches_rule(s, user)]


@signals.account_deactivated.connect
def withdraw_open_invitations(user: User) -> int:
    """Take the user off the invitee lists of sessions not yet over where they have no
    attendance; past sessions keep their record. Reactivated, the session's rule (or a trainer)
    invites them again."""
    invites = SessionInvite.__table__
    has_record = exists().where(
        Attendance.session_id == invites.c.session_id, Attendance.user_id == invites.c.user_id
    )
    open_sessions = select(TrainingSession.id).where(TrainingSession.ends_at > utcnow())
    removed = db.session.execute(
        delete(invites)
        .where(
            invites.c.user_id == user.id,
            invites.c.session_id.in_(open_sessions),
            ~has_record,
        )
        .returning(invites.c.session_id)
    ).all()
    return len(removed)
