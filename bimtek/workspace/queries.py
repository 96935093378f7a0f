"""What workspace pages and participants' pages read."""

from sqlalchemy import func, select

from bimtek.accounts.models import User
from bimtek.enums import STAFF
from bimtek.extensions import db
from bimtek.learning import service as learning
from bimtek.learning.models import Course, CourseModule, Module, ModuleVersion
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID
from bimtek.quiz.models import Question, QuestionVersion
from bimtek.workspace.models import Material, ModuleDraft


def modules_overview(reach: scope.Reach | None = None) -> list[dict]:
    """The modules an office works with: its own and those its ancestors share (with `reach`)."""
    query = select(Module).order_by(Module.sort_order, Module.slug)
    if reach is not None:
        query = query.where(reach.where_shared(Module.office_id))
    modules = db.session.scalars(query).all()
    drafts = {
        d.module_id: d
        for d in db.session.scalars(select(ModuleDraft).where(ModuleDraft.module_id.is_not(None)))
    }
    questions = dict(
        db.session.execute(
            select(Question.module_id, func.count())
            .where(Question.retired.is_(False))
            .group_by(Question.module_id)
        ).all()
    )
    return [
        {"module": m, "draft": drafts.get(m.id), "questions": questions.get(m.id, 0)}
        for m in modules
    ]


def new_module_drafts(office_id: int | None = None) -> list[ModuleDraft]:
    """Drafts of modules not yet published (with `office_id`: that office's only)."""
    query = select(ModuleDraft).where(ModuleDraft.module_id.is_(None)).order_by(ModuleDraft.slug)
    if office_id is not None:
        writer_office = User.office_id == office_id
        if office_id == FIRST_OFFICE_ID:
            writer_office = writer_office | User.office_id.is_(None)
        query = query.join(User, User.id == ModuleDraft.updated_by_id).where(writer_office)
    return list(db.session.scalars(query))


def versions_of(module: Module) -> list[ModuleVersion]:
    return list(
        db.session.scalars(
            select(ModuleVersion)
            .where(ModuleVersion.module_id == module.id)
            .order_by(ModuleVersion.version_no.desc())
        )
    )


def version_of(module: Module, version_no: int) -> ModuleVersion | None:
    return db.session.scalars(
        select(ModuleVersion).where(
            ModuleVersion.module_id == module.id, ModuleVersion.version_no == version_no
        )
    ).one_or_none()


def bank_rows(module: Module) -> list[tuple[Question, QuestionVersion]]:
    return list(
        db.session.execute(
            select(Question, QuestionVersion)
            .join(QuestionVersion, QuestionVersion.question_id == Question.id)
            .where(
                Question.module_id == module.id,
                QuestionVersion.version_no == Question.current_version_no,
            )
            .order_by(Question.retired, Question.qid)
        ).all()
    )


def materials_of(*, course: Course | None = None, module: Module | None = None) -> list[Material]:
    query = select(Material).order_by(Material.created_at, Material.id)
    if course is not None:
        query = query.where(Material.course_id == course.id)
    else:
        query = query.where(Material.module_id == module.id)
    return list(db.session.scalars(query))


def readable(reach: scope.Reach, office_id: int | None) -> bool:
    """Staff read a module or course of their own subtree or one an ancestor shares."""
    return reach.sees(office_id) or reach.uses(office_id)


def can_download(user: User, material: Material) -> bool:
    """Staff of an office that may read what the material belongs to, and participants of a
    course it belongs to (for a module's material: any course they may open that contains the
    module)."""
    if user.role in STAFF:
        owner = material.course if material.course_id is not None else material.module
        return readable(scope.reach_of(user), scope.office_of(owner))
    if material.course_id is not None:
        return learning.can_open(user, material.course)
    courses = db.session.scalars(
        select(Course)
        .join(CourseModule, CourseModule.course_id == Course.id)
        .where(CourseModule.module_id == material.module_id)
    ).all()
    return any(learning.can_open(user, c) for c in courses)


def courses(reach: scope.Reach | None = None) -> list[Course]:
    query = select(Course).order_by(Course.created_at, Course.id)
    if reach is not None:
        query = query.where(reach.where(Course.office_id) | reach.where_shared(Course.office_id))
    return list(db.session.scalars(query))


def current_question_entries(exclude_question_id: int | None = None) -> list[tuple[str, dict]]:
    """(qid, bank entry) of every question in use in any bank, for the item warnings."""
    rows = db.session.execute(
        select(Question.qid, QuestionVersion.source_data)
        .join(QuestionVersion, QuestionVersion.question_id == Question.id)
        .where(
            QuestionVersion.version_no == Question.current_version_no,
            Question.retired.is_(False),
            Question.id != (exclude_question_id or 0),
        )
    ).all()
    return [(qid, data) for qid, data in rows if data]
