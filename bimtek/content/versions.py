"""A new version of a module or of a question: the one place both a sync from files and an edit
in the trainer workspace make them. Versions are never edited, so progress and past attempts
stay attached to the text people actually read and answered."""

from sqlalchemy import func, select

from bimtek.content.banks import BankQuestion
from bimtek.content.loader import ModuleFile
from bimtek.extensions import db
from bimtek.learning.models import Module, ModuleVersion
from bimtek.learning.service import current_module_version  # noqa: F401  (re-exported)
from bimtek.quiz.models import Question, QuestionVersion


def _next_no(version_column, owner_filter) -> int:
    """One more than the highest version stored (a revert to an old text is a new version)."""
    return (db.session.scalar(select(func.max(version_column)).where(owner_filter)) or 0) + 1


def new_module_version(module: Module, file: ModuleFile, author=None) -> ModuleVersion:
    """The module's next version from a parsed file, made current. `author`: published in the
    browser (no source file); None: loaded from modules/."""
    version_no = (
        1
        if module.id is None
        else _next_no(ModuleVersion.version_no, ModuleVersion.module_id == module.id)
    )
    version = ModuleVersion(
        module=module,
        version_no=version_no,
        sha256=file.sha256,
        title=file.title,
        audience=file.audience,
        estimated_minutes=file.estimated_minutes,
        sources=file.sources,
        source_text=file.body,
        html=file.rendered.html,
        toc=file.rendered.toc,
        word_count=file.word_count,
        source_path=None if author is not None else file.path,
        author_id=author.id if author is not None else None,
    )
    db.session.add(version)
    module.title = file.title
    module.current_version_no = version_no
    return version


def new_question_version(question: Question, item: BankQuestion, author=None) -> QuestionVersion:
    """The question's next version from a checked bank entry, made current. `author`: written
    or imported in the browser; None: loaded from quizzes/."""
    version_no = (
        1
        if question.id is None
        else _next_no(QuestionVersion.version_no, QuestionVersion.question_id == question.id)
    )
    version = QuestionVersion(
        question=question,
        version_no=version_no,
        sha256=item.sha256,
        type=item.type,
        stem_html=item.stem_html,
        options=item.options,
        answer=list(item.answer),
        explanation_html=item.explanation_html,
        source=item.source,
        topic=item.topic,
        difficulty=item.difficulty,
        source_data=item.source_data,
        author_id=author.id if author is not None else None,
    )
    db.session.add(version)
    question.current_version_no = version_no
    return version
