"""Module drafts and uploaded materials."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bimtek.accounts.models import User
from bimtek.enums import MaterialKind, one_of
from bimtek.extensions import db
from bimtek.learning.models import Course, Module
from bimtek.timeutil import utcnow

MATERIAL_KINDS = tuple(MaterialKind)


class ModuleDraft(db.Model):
    """Unpublished text of a module, invisible to participants. Publishing it makes the next
    ModuleVersion; a draft with no module is a module created in the browser."""

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int | None] = mapped_column(ForeignKey("module.id"), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    sort_order: Mapped[int] = mapped_column(default=0)
    audience: Mapped[list] = mapped_column(JSON, default=list)
    estimated_minutes: Mapped[int] = mapped_column(default=10)
    sources: Mapped[list] = mapped_column(JSON, default=list)
    body: Mapped[str] = mapped_column(Text, default="")
    # The published version this draft started from: a sync or another trainer may have
    # published since.
    base_version_no: Mapped[int | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    module: Mapped[Module | None] = relationship()
    updated_by: Mapped[User | None] = relationship()


class Material(db.Model):
    """An uploaded file attached to a module or a course, stored under a generated name."""

    __table_args__ = (
        CheckConstraint("(course_id IS NULL) <> (module_id IS NULL)", name="one_owner"),
        CheckConstraint(one_of("kind", MaterialKind), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id"), index=True)
    module_id: Mapped[int | None] = mapped_column(ForeignKey("module.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course | None] = relationship()
    module: Mapped[Module | None] = relationship()
    uploaded_by: Mapped[User | None] = relationship()
