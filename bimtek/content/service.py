"""Load module files into the database as versions. All or nothing."""

from dataclasses import dataclass, field

from sqlalchemy import select

from bimtek.content.banks import BankFile, load_banks
from bimtek.content.loader import ContentError, ModuleFile, load_modules
from bimtek.content.versions import (
    current_module_version,
    new_module_version,
    new_question_version,
)
from bimtek.extensions import db
from bimtek.learning.models import Module, ModuleVersion
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID
from bimtek.quiz.models import Question, QuestionVersion


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[ContentError] = field(default_factory=list)
    questions_created: int = 0
    questions_updated: int = 0
    questions_retired: int = 0
    # Edited in the browser since the file was last loaded, file unchanged: the edit stays.
    kept_browser_edits: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _last_file_sha(module: Module) -> str | None:
    """The hash of the newest version loaded from a file."""
    return db.session.scalars(
        select(ModuleVersion.sha256)
        .where(ModuleVersion.module_id == module.id, ModuleVersion.source_path.is_not(None))
        .order_by(ModuleVersion.version_no.desc())
        .limit(1)
    ).first()


def content_office_id() -> int:
    """The office shipped content belongs to: the top of the tree above the first office (the
    province, or KPU RI, over a kabupaten; the first office itself when it stands alone), so
    every office below uses it and none but the top edits it."""
    ancestors = scope.load_tree().ancestors(FIRST_OFFICE_ID)
    return ancestors[-1] if ancestors else FIRST_OFFICE_ID


def apply_module_file(file: ModuleFile, report: SyncReport, office_id: int | None = None) -> Module:
    office_id = office_id or content_office_id()
    module = db.session.scalars(select(Module).where(Module.slug == file.slug)).one_or_none()
    if module is not None:
        # A module loaded from a file is shared from the top (the tree may have grown above
        # the first office since the last sync).
        module.office_id = office_id
    if module is None:
        module = Module(
            slug=file.slug,
            title=file.title,
            sort_order=file.order,
            current_version_no=1,
            office_id=office_id,
        )
        db.session.add(module)
        new_module_version(module, file)
        report.created.append(file.slug)
        return module
    current = current_module_version(module)
    if current.sha256 == file.sha256:
        module.sort_order = file.order
        report.unchanged.append(file.slug)
        return module
    if current.source_path is None and _last_file_sha(module) == file.sha256:
        # Published in the browser after this very file was loaded: the shipped file is not
        # newer than the edit, so it must not overwrite it. A changed file does (below), and
        # the browser text stays in the version history.
        report.kept_browser_edits.append(file.slug)
        return module
    module.sort_order = file.order
    # An earlier text may come back (a revert): it is still a new version,
    # so progress stays attached to the versions people actually read.
    new_module_version(module, file)
    report.updated.append(file.slug)
    return module


@dataclass
class CheckResult:
    modules: list[ModuleFile]
    banks: list[BankFile]
    errors: list[ContentError]


def check_content(content_dir) -> CheckResult:
    """Validate every module and question bank; nothing is written."""
    loaded = load_modules(content_dir)
    slugs = {m.slug for m in loaded.modules}
    if loaded.errors:
        # A broken module file still has a slug that banks may name: do not report those twice.
        slugs = None
    banks = load_banks(content_dir, slugs)
    return CheckResult(loaded.modules, banks.banks, loaded.errors + banks.errors)


def apply_bank(bank: BankFile, module: Module, report: SyncReport, author=None) -> None:
    """New questions, new versions of changed ones; questions gone from the file are retired
    (kept, so past attempts can still be reviewed). `author`: a bank imported in the browser
    (its versions are browser edits); None for a file synced from quizzes/."""
    existing = {
        q.qid: q
        for q in db.session.scalars(select(Question).where(Question.module_id == module.id))
    }
    by_qid = {
        q.qid: q
        for q in db.session.scalars(
            select(Question).where(Question.qid.in_([i.qid for i in bank.questions]))
        )
    }
    versions: dict[int, list[QuestionVersion]] = {}
    for version in db.session.scalars(
        select(QuestionVersion)
        .join(Question)
        .where(Question.qid.in_([i.qid for i in bank.questions] + list(existing)))
        .order_by(QuestionVersion.version_no)
    ):
        versions.setdefault(version.question_id, []).append(version)
    for item in bank.questions:
        question = by_qid.get(item.qid)
        if question is None:
            question = Question(qid=item.qid, module_id=module.id, current_version_no=1)
            db.session.add(question)
            new_question_version(question, item, author)
            report.questions_created += 1
            continue
        history = versions.get(question.id, [])
        current = next((v for v in history if v.version_no == question.current_version_no), None)
        from_file = [v for v in history if v.author_id is None]
        browser_edited = question.retired_by_id is not None or (
            current is not None and current.author_id is not None
        )
        if author is None and browser_edited and from_file and from_file[-1].sha256 == item.sha256:
            # Edited or retired in the browser; the file still holds what was loaded before.
            report.kept_browser_edits.append(item.qid)
            continue
        question.module_id = module.id
        question.retired = False
        question.retired_by_id = None
        if current is None or current.sha256 != item.sha256:
            new_question_version(question, item, author)
            report.questions_updated += 1
        elif current.source_data is None:
            current.source_data = item.source_data  # loaded before versions kept their source
    in_file = {i.qid for i in bank.questions}
    for qid, question in existing.items():
        if qid in in_file or question.retired:
            continue
        if author is None and all(v.author_id is not None for v in versions.get(question.id, [])):
            continue  # written in the browser, never in the file: the file cannot retire it
        question.retired = True
        question.retired_by_id = author.id if author is not None else None
        report.questions_retired += 1


def sync_content(content_dir) -> SyncReport:
    """Validate everything first; write nothing if any file is broken. Caller commits."""
    checked = check_content(content_dir)
    report = SyncReport(errors=list(checked.errors))
    if not report.ok:
        return report
    modules = {}
    office_id = content_office_id()
    for file in sorted(checked.modules, key=lambda f: (f.order, f.slug)):
        modules[file.slug] = apply_module_file(file, report, office_id)
    db.session.flush()
    for bank in checked.banks:
        apply_bank(bank, modules[bank.module_slug], report)
    db.session.flush()
    return report
