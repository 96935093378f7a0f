"""Certificates with numbered, versioned texts; number counters; pakta integritas confirmations."""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.timeutil import utcnow


class CertificateCounter(db.Model):
    """The last sequence number given in one office's number series and year (each office
    counts its own numbers, even when two offices write the same template).

    Incremented with UPDATE … RETURNING inside the issuing transaction: the row lock
    serialises concurrent issuers and a rolled-back issue leaves no gap.
    """

    office_id: Mapped[int] = mapped_column(primary_key=True, default=1, server_default="1")
    series: Mapped[str] = mapped_column(String(120), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)


class Certificate(db.Model):
    """One per participant and course. Its texts live in versions; the number never changes.
    A number is unique within its issuing office (two offices may write the same template)."""

    __table_args__ = (
        UniqueConstraint("course_id", "user_id"),
        UniqueConstraint("office_id", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    # The issuing office: the participant's kabupaten/kota office (its numbers, signer, place).
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"), index=True)
    number: Mapped[str] = mapped_column(String(160))
    series: Mapped[str] = mapped_column(String(120))
    year: Mapped[int]
    seq: Mapped[int]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    current_version_no: Mapped[int] = mapped_column(default=1)
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    revoke_reason: Mapped[str | None] = mapped_column(String(500))

    course: Mapped[Course] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    versions: Mapped[list["CertificateVersion"]] = relationship(
        back_populates="certificate", order_by="CertificateVersion.version_no"
    )

    def owning_office_id(self) -> int | None:
        """Issued by the participant's office: its numbers, its signer, its place."""
        return db.session.get(User, self.user_id).office_id

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def current_version(self) -> "CertificateVersion":
        return next(v for v in self.versions if v.version_no == self.current_version_no)


class CertificateVersion(db.Model):
    """The text printed on one issue of a certificate. Never edited: a correction is a new
    version with its own verification code; older codes then answer "diganti versi baru"."""

    __table_args__ = (UniqueConstraint("certificate_id", "version_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"), index=True)
    version_no: Mapped[int]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    nama: Mapped[str] = mapped_column(String(200))
    jabatan: Mapped[str] = mapped_column(String(80), default="")
    asal: Mapped[str] = mapped_column(String(300), default="")
    course_title: Mapped[str] = mapped_column(String(200))
    hours_jp: Mapped[int] = mapped_column(default=0)
    place: Mapped[str] = mapped_column(String(100))
    issued_on: Mapped[date] = mapped_column(Date)
    signer_name: Mapped[str] = mapped_column(String(200))
    signer_title: Mapped[str] = mapped_column(String(200))
    signer_nip: Mapped[str] = mapped_column(String(30), default="", server_default="")
    office_name: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    certificate: Mapped[Certificate] = relationship(back_populates="versions")


class PaktaConfirmation(db.Model):
    """A participant confirmed the course's pakta integritas (the text as it stood then)."""

    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)
