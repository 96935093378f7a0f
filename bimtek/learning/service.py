"""Courses and progress: what a participant may open and how far they are."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bimtek.accounts.models import User, audit
from bimtek.accounts.roles import BADAN
from bimtek.enums import STAFF, Role
from bimtek.extensions import db
from bimtek.learning import hooks, queries
from bimtek.learning.models import Course, CourseModule, Module, ModuleProgress, ModuleVersion
from bimtek.offices import scope
from bimtek.offices.models import KABKOTA, Office
from bimtek.timeutil import utcnow


class CourseError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def courses_for(user: User) -> list[Course]:
    """Active courses this user may follow: staff those their office sees, a peserta those their
    office uses (its own and those offered down from above) for their badan."""
    reach = scope.reach_of(user)
    where = (
        queries.usable_where(reach) if user.role == Role.PESERTA else queries.visible_where(reach)
    )
    courses = db.session.scalars(
        select(Course).where(Course.active.is_(True), where).order_by(Course.created_at, Course.id)
    ).all()
    if user.role != Role.PESERTA:
        return list(courses)
    return [c for c in courses if user.badan in (c.audience or [])]


def can_open(user: User, course: Course) -> bool:
    reach = scope.reach_of(user)
    if user.role in STAFF:
        return queries.sees(reach, course)
    return course.active and user.badan in (course.audience or []) and queries.uses(reach, course)


def can_offer_down(office_id: int | None) -> bool:
    """Only a province or KPU RI has offices below it to offer a course to."""
    office = db.session.get(Office, office_id) if office_id else None
    return office is not None and office.level != KABKOTA


@dataclass
class ModuleStatus:
    module: Module
    position: int
    opened: bool
    completed: bool
    completed_version_no: int | None  # the latest version this user finished

    @property
    def newer_version(self) -> bool:
        """Finished an earlier text; a newer version exists."""
        return (
            self.completed_version_no is not None
            and self.completed_version_no < self.module.current_version_no
        )


@dataclass
class CourseProgress:
    course: Course
    modules: list[ModuleStatus]

    @property
    def done(self) -> int:
        return sum(1 for m in self.modules if m.completed)

    @property
    def total(self) -> int:
        return len(self.modules)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def next_module(self) -> ModuleStatus | None:
        return next((m for m in self.modules if not m.completed), None)


def course_progress(user: User, course: Course) -> CourseProgress:
    """A module counts as done once any version of it was marked read."""
    module_ids = [cm.module_id for cm in course.course_modules]
    rows = db.session.execute(
        select(ModuleVersion.module_id, ModuleVersion.version_no, ModuleProgress.completed_at)
        .join(ModuleProgress, ModuleProgress.module_version_id == ModuleVersion.id)
        .where(ModuleProgress.user_id == user.id, ModuleVersion.module_id.in_(module_ids))
    ).all()
    opened: set[int] = set()
    completed: dict[int, int] = {}
    for module_id, version_no, completed_at in rows:
        opened.add(module_id)
        if completed_at is not None:
            completed[module_id] = max(version_no, completed.get(module_id, 0))
    statuses = [
        ModuleStatus(
            module=cm.module,
            position=index,
            opened=cm.module_id in opened,
            completed=cm.module_id in completed,
            completed_version_no=completed.get(cm.module_id),
        )
        for index, cm in enumerate(course.course_modules)
    ]
    return CourseProgress(course=course, modules=statuses)


def module_lock_reason(course: Course, user: User) -> str | None:
    """Why this participant may not open the course's modules yet (None: they may). The
    features that gate them (the pre-test) register in learning.hooks."""
    return hooks.module_lock(course, user)


def find_progress(user: User, version: ModuleVersion) -> ModuleProgress | None:
    return db.session.scalars(
        select(ModuleProgress).where(
            ModuleProgress.user_id == user.id, ModuleProgress.module_version_id == version.id
        )
    ).one_or_none()


def _progress_row(user: User, version: ModuleVersion) -> ModuleProgress:
    """The (user, version) row, created once even when two requests race (double tap)."""
    row = find_progress(user, version)
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            row = ModuleProgress(user_id=user.id, module_version_id=version.id, opened_at=utcnow())
            db.session.add(row)
    except IntegrityError:
        # The other request inserted it between our SELECT and INSERT; use theirs.
        row = find_progress(user, version)
    return row


def record_opened(user: User, version: ModuleVersion) -> ModuleProgress:
    return _progress_row(user, version)


def mark_completed(user: User, version: ModuleVersion) -> ModuleProgress:
    """Idempotent: marking twice keeps the first completion time."""
    row = _progress_row(user, version)
    if row.completed_at is None:
        row.completed_at = utcnow()
    return row


def save_course(
    course: Course | None,
    *,
    title: str,
    description: str,
    audience: list[str],
    hours_jp: int,
    module_ids: list[int],
    active: bool,
    actor: User,
    pretest_first: bool | None = None,
    posttest_after_modules: bool | None = None,
    parallel_forms: bool | None = None,
    offered_down: bool | None = None,
) -> Course:
    """Create or update a course; modules keep the order given. Caller commits.
    The evaluation settings left as None keep their value (a new course: on). A new course
    belongs to the actor's office; `offered_down` (None: keep) offers a province's or KPU RI's
    course to the offices below it."""
    title = " ".join((title or "").split())
    if not title:
        raise CourseError("Judul kursus wajib diisi.", "title")
    unknown = [b for b in audience if b not in BADAN]
    if not audience or unknown:
        raise CourseError("Pilih minimal satu badan sasaran.", "audience")
    if hours_jp < 0 or hours_jp > 200:
        raise CourseError("Jumlah JP harus 0–200.", "hours_jp")
    modules = {m.id: m for m in db.session.scalars(select(Module).where(Module.id.in_(module_ids)))}
    missing = [i for i in module_ids if i not in modules]
    if missing or not module_ids:
        raise CourseError("Pilih minimal satu modul yang terdaftar.", "modules")
    is_new = course is None
    office_id = course.office_id if course is not None else scope.office_id_of(actor)
    if offered_down and not can_offer_down(office_id):
        raise CourseError(
            "Hanya kursus KPU Provinsi atau KPU RI yang dapat ditawarkan ke kantor di bawahnya.",
            "offered_down",
        )
    if course is None:
        course = Course(office_id=office_id)
        db.session.add(course)
    if offered_down is not None:
        course.offered_down = offered_down
    elif course.offered_down is None:
        course.offered_down = False
    course.title = title
    course.description = (description or "").strip()
    course.audience = [b for b in BADAN if b in audience]
    course.hours_jp = hours_jp
    course.active = active
    for name, value in (
        ("pretest_first", pretest_first),
        ("posttest_after_modules", posttest_after_modules),
        ("parallel_forms", parallel_forms),
    ):
        if value is not None:
            setattr(course, name, value)
        elif getattr(course, name) is None:
            setattr(course, name, True)
    wanted = list(dict.fromkeys(module_ids))
    by_module = {cm.module_id: cm for cm in course.course_modules}
    for cm in list(course.course_modules):
        if cm.module_id not in wanted:
            course.course_modules.remove(cm)
    for position, module_id in enumerate(wanted):
        cm = by_module.get(module_id)
        if cm is None:
            cm = CourseModule(module=modules[module_id])
            course.course_modules.append(cm)
        cm.position = position
    db.session.flush()
    audit(
        actor,
        "course.create" if is_new else "course.update",
        "course",
        course.id,
        title=course.title,
        modules=wanted,
        offered_down=course.offered_down,
    )
    return course


def current_module_version(module: Module) -> ModuleVersion:
    """The version participants read now."""
    return db.session.scalars(
        select(ModuleVersion).where(
            ModuleVersion.module_id == module.id,
            ModuleVersion.version_no == module.current_version_no,
        )
    ).one()


def courses_by_title() -> list[Course]:
    return list(db.session.scalars(select(Course).order_by(Course.title)))


def all_courses(reach: scope.Reach | None = None) -> list[Course]:
    """Every course the office sees (own, below it, offered from above), oldest first (the
    admin's list)."""
    stmt = queries.visible_courses_stmt(reach or scope.current_reach())
    return list(db.session.scalars(stmt.order_by(Course.created_at, Course.id)))


def all_modules() -> list[Module]:
    return list(db.session.scalars(select(Module).order_by(Module.sort_order, Module.slug)))


def modules_by_id(ids: list[int]) -> list[Module]:
    return list(db.session.scalars(select(Module).where(Module.id.in_(ids))))
