"""What workspace pages and participants' pages read."""

from sqlalchemy import func, select

from bimtek.accounts.models import User
from bimtek.enums import STAFF
from bimtek.extensions import db
from bimtek.learning import service as learning
from bimtek.learning.models import Course, CourseModule, Module, ModuleVersion
from bimtek.quiz.models import Question, QuestionVersion
from bimtek.workspace.models import Material, ModuleDraft


def modules_overview() -> list[dict]:
    modules = db.session.scalars(select(Module).order_by(Module.sort_order, Module.slug)).all()
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


def new_module_drafts() -> list[ModuleDraft]:
    return list(
        db.session.scalars(
            select(ModuleDraft).where(ModuleDraft.module_id.is_(None)).order_by(ModuleDraft.slug)
        )
    )


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


def can_download(user: User, material: Material) -> bool:
    """Staff, and participants of a course the material belongs to (for a module's material:
    any course they may open that contains the module)."""
    if user.role in STAFF:
        return True
    if material.course_id is not None:
        return learning.can_open(user, material.course)
    courses = db.session.scalars(
        select(Course)
        .join(CourseModule, CourseModule.course_id == Course.id)
        .where(CourseModule.module_id == material.module_id)
    ).all()
    return any(learning.can_open(user, c) for c in courses)


def courses() -> list[Course]:
    return list(db.session.scalars(select(Course).order_by(Course.created_at, Course.id)))


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
