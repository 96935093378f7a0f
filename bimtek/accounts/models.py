"""Users and roles."""

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, bindparam
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bimtek.accounts import hashing
from bimtek.accounts.roles import (  # noqa: F401  (re-exported)
    BADAN,
    BADAN_NEEDS_DESA,
    JABATAN,
    JABATAN_BY_BADAN,
    ROLE_LABELS,
    ROLES,
)
from bimtek.enums import Role, one_of
from bimtek.extensions import db
from bimtek.offices.service import region_offices
from bimtek.timeutil import utcnow
from bimtek.wilayah.models import Desa, Kecamatan


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def signs_in_with_token(user) -> tuple:
    """The conditions on the account whose session token a request carries (the :token
    parameter), as the sign-in checks it: that token, active, no password change pending.
    For the hot paths that check the sign-in in their own statement (web.checks_own_sign_in).
    `user`: User or its table's columns."""
    return (
        user.session_token == bindparam("token"),
        user.active.is_(True),
        user.must_change_password.is_(False),
    )


class User(UserMixin, db.Model):
    __table_args__ = (
        CheckConstraint(one_of("role", Role), name="role"),
        CheckConstraint("nik IS NOT NULL OR username IS NOT NULL", name="login_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    nama: Mapped[str] = mapped_column(String(200))
    nik: Mapped[str | None] = mapped_column(String(16), unique=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="peserta")
    badan: Mapped[str | None] = mapped_column(String(32))
    jabatan: Mapped[str | None] = mapped_column(String(32))
    kecamatan_kode: Mapped[str | None] = mapped_column(ForeignKey("kecamatan.kode"), index=True)
    desa_kode: Mapped[str | None] = mapped_column(ForeignKey("desa.kode"), index=True)
    is_asn: Mapped[bool] = mapped_column(default=False)
    # Staff: the office they work for. Participants: the kabupaten/kota office of their
    # kecamatan (offices.service.RegionOffices). Every scoped list filters on it.
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Flask-Login's alternative id: rotating it ends every session of this user.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    kecamatan: Mapped[Kecamatan | None] = relationship()
    desa: Mapped[Desa | None] = relationship()

    def owning_office_id(self) -> int | None:
        """A participant belongs to the kabupaten/kota office of their kecamatan (staff: the
        office that creates them, filled in by offices.ownership)."""
        if self.role == Role.PESERTA and self.kecamatan_kode:
            return region_offices().for_kecamatan(self.kecamatan_kode)
        return None

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active

    def set_password(self, password: str) -> None:
        # argon2id (bimtek/accounts/hashing.py); BIMTEK_PASSWORD_HASH_METHOD, for the test
        # suite only (one PBKDF2 round), makes it that werkzeug method instead.
        self.password_hash = hashing.hash_password(password)

    def check_password(self, password: str) -> bool:
        return hashing.verify_password(self.password_hash, password)

    def end_all_sessions(self) -> None:
        self.session_token = new_session_token()

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def nik_masked(self) -> str:
        """NIK is personal data: show only its last four digits."""
        if not self.nik:
            return "—"
        return "•" * 12 + self.nik[-4:]

    @property
    def asal(self) -> str:
        parts = []
        if self.desa is not None:
            parts.append(self.desa.label)
        if self.kecamatan is not None:
            parts.append(f"Kec. {self.kecamatan.nama}")
        return ", ".join(parts) or "—"


class AuditLog(db.Model):
    """Every change an admin or trainer makes (and what the CLI does)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    actor: Mapped[User | None] = relationship()


def audit(actor: User | None, action: str, obj_type: str, obj_id=None, **detail) -> AuditLog:
    entry = AuditLog(
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=obj_type,
        object_id=None if obj_id is None else str(obj_id),
        detail=detail,
        office_id=getattr(actor, "office_id", None),
    )
    db.session.add(entry)
    return entry


class ParticipantImport(db.Model):
    """One uploaded participants sheet: pending between preview and confirm, then committed.

    The upload waits under BIMTEK_UPLOAD_DIR/imports/<stored_name> until it is committed or
    discarded: first the workbook as uploaded (.xlsx) until the `import_parse` job has read it,
    then the rows as read and the check made then (.json), checked against sha256; the confirm
    plans again from those rows, never from the workbook.
    """

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'committed', 'discarded')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)  # None: CLI
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    skip_invalid: Mapped[bool] = mapped_column(default=False)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    unchanged_count: Mapped[int] = mapped_column(default=0)
    rejected_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    committed_at: Mapped[datetime | None]

    admin: Mapped[User | None] = relationship()


class ImportedAccount(db.Model):
    """The accounts an import created: whose initial passwords its credentials sheet issues."""

    import_id: Mapped[int] = mapped_column(ForeignKey("participant_import.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True, index=True)


class SignInToken(db.Model):
    """A one-time sign-in by the QR code on a credentials sheet or reset slip.

    Only the SHA-256 of the random token is stored. It signs in once, before expires_at, and
    forces a password change; issuing a new sheet or slip for the person, or a password change,
    deletes the ones before it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
