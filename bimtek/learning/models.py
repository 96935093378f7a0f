"""Courses, modules with immutable versions, and each participant's progress."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bimtek.extensions import db
from bimtek.timeutil import utcnow


class Module(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    sort_order: Mapped[int] = mapped_column(default=0)
    # The office that owns (edits) it; offices below use it (offices.scope: shared down).
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"), index=True)
    current_version_no: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list["ModuleVersion"]] = relationship(
        back_populates="module", order_by="ModuleVersion.version_no", lazy="select"
    )


class ModuleVersion(db.Model):
    """One published text of a module. Never edited: a change is a new version."""

    __table_args__ = (UniqueConstraint("module_id", "version_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    version_no: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    audience: Mapped[list] = mapped_column(JSON, default=list)
    estimated_minutes: Mapped[int] = mapped_column(default=0)
    sources: Mapped[list] = mapped_column(JSON, default=list)
    source_text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    toc: Mapped[list] = mapped_column(JSON, default=list)
    word_count: Mapped[int] = mapped_column(default=0)
    source_path: Mapped[str | None] = mapped_column(String(255))  # None: published in the browser
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # None: from a file
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    module: Mapped[Module] = relationship(back_populates="versions")
    author = relationship("User")


class Course(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[list] = mapped_column(JSON, default=list)  # badan names
    hours_jp: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    # The office that owns (edits) it. A province's or KPU RI's course offered down is used by
    # every office below it: each runs its own sessions and issues its own certificates.
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"), index=True)
    offered_down: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Completion rule (certificates feature: set on its "Aturan kelulusan" page).
    require_modules: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    require_post_pass: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    min_attendance_pct: Mapped[int] = mapped_column(default=0, server_default="0")
    pakta_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    auto_issue: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    cert_number_template: Mapped[str | None] = mapped_column(String(120))
    # Evaluation order (quiz feature): the pre-test before the modules, the post-test after
    # them, and pre-/post-test as parallel forms without a shared question.
    pretest_first: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    posttest_after_modules: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    parallel_forms: Mapped[bool] = mapped_column(default=True, server_default=sa_true())

    course_modules: Mapped[list["CourseModule"]] = relationship(
        back_populates="course",
        order_by="CourseModule.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    @property
    def modules(self) -> list[Module]:
        return [cm.module for cm in self.course_modules]


class CourseModule(db.Model):
    __table_args__ = (UniqueConstraint("course_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)

    course: Mapped[Course] = relationship(back_populates="course_modules")
    module: Mapped[Module] = relationship(lazy="joined")


class ModuleProgress(db.Model):
    """A participant opened / finished one version of a module."""

    __table_args__ = (UniqueConstraint("user_id", "module_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    module_version_id: Mapped[int] = mapped_column(ForeignKey("module_version.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    module_version: Mapped[ModuleVersion] = relationship()
