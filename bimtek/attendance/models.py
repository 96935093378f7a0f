"""Sessions of a course, who is invited, and who was there."""

import secrets
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bimtek.accounts.models import User
from bimtek.enums import AttendanceStatus, CheckinMethod, one_of
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.timeutil import utcnow

STATUSES = tuple(AttendanceStatus)
STATUS_LABELS = {
    "hadir": "Hadir",
    "terlambat": "Terlambat",
    "izin": "Izin",
    "sakit": "Sakit",
    "alpa": "Alpa",
}
PRESENT = (AttendanceStatus.HADIR, AttendanceStatus.TERLAMBAT)
NEEDS_REASON = (AttendanceStatus.IZIN, AttendanceStatus.SAKIT)
METHODS = tuple(CheckinMethod)
METHOD_LABELS = {"kode": "Kode di ponsel", "qr": "Pindai QR", "manual": "Dicatat pelatih"}


def new_session_secret() -> str:
    return secrets.token_hex(32)


class SessionTrainer(db.Model):
    session_id: Mapped[int] = mapped_column(
        ForeignKey("training_session.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)


class TrainingSession(db.Model):
    """One face-to-face meeting of a course (a day in an aula, a hotel hall)."""

    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    venue: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    late_after_minutes: Mapped[int] = mapped_column(default=15)
    checkin_opens_minutes: Mapped[int] = mapped_column(default=60)
    # Who is invited: a rule (badan and kecamatan, empty = all) and/or people added one by one;
    # the rule is applied into session_invite so later imports can be picked up by a refresh.
    invite_badan: Mapped[list] = mapped_column(JSON, default=list)
    invite_kecamatan: Mapped[list] = mapped_column(JSON, default=list)
    # The check-in code is derived from this secret and the clock, so any app node can verify it.
    secret: Mapped[str] = mapped_column(String(64), default=new_session_secret)
    code_last_shown_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship()
    trainers: Mapped[list[User]] = relationship(secondary="session_trainer", order_by=User.nama)


class SessionInvite(db.Model):
    session_id: Mapped[int] = mapped_column(
        ForeignKey("training_session.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True, index=True)
    by_rule: Mapped[bool] = mapped_column(default=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attendance(db.Model):
    """One participant's presence at one session; at most one row per pair."""

    __table_args__ = (
        UniqueConstraint("session_id", "user_id"),
        CheckConstraint(one_of("status", AttendanceStatus), name="status"),
        CheckConstraint(one_of("method", CheckinMethod), name="method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("training_session.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    checked_in_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(500))
    # Where a phone check-in came from, to show trainers codes forwarded out of the room.
    ip: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    code_window: Mapped[int | None]
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    marked_by: Mapped[User | None] = relationship(foreign_keys=[marked_by_id])

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def method_label(self) -> str:
        return METHOD_LABELS[self.method]


class AttendanceChange(db.Model):
    """Every change of an attendance record: who, when, old → new, why."""

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("training_session.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    old_status: Mapped[str | None] = mapped_column(String(16))
    new_status: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
