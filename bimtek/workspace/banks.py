"""Question banks in the workspace: one question written or retired in the browser, a whole bank
imported (YAML or .xlsx) with a dry run kept on the server until applied, and the export."""

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import select

from bimtek.accounts.models import User, audit
from bimtek.content.banks import QUESTION_FIELDS, BankFile, check_question
from bimtek.content.service import SyncReport, apply_bank
from bimtek.content.versions import (
    new_question_version,
)
from bimtek.extensions import db
from bimtek.learning.models import Module
from bimtek.quiz.models import Question, QuestionVersion
from bimtek.storage import write_atomic
from bimtek.timeutil import utcnow
from bimtek.workspace import bankxlsx
from bimtek.workspace.materials import UploadRefused, check_name, read_limited

# --- questions --------------------------------------------------------------


def other_qids(module: Module, except_question: Question | None = None) -> dict[str, str]:
    """Ids taken by questions of other banks (or by other questions of this one)."""
    rows = db.session.execute(
        select(Question.id, Question.qid, Module.slug).join(Module, Question.module_id == Module.id)
    ).all()
    taken = {}
    for question_id, qid, slug in rows:
        if except_question is not None and question_id == except_question.id:
            continue
        taken[qid] = f"bank soal modul {slug}"
    return taken


def other_qids_outside(module: Module) -> dict[str, str]:
    """Ids taken by the banks of other modules (an import may not move them here)."""
    rows = db.session.execute(
        select(Question.qid, Module.slug)
        .join(Module, Question.module_id == Module.id)
        .where(Question.module_id != module.id)
    ).all()
    return {qid: f"bank soal modul {slug}" for qid, slug in rows}


def current_question_version(question: Question) -> QuestionVersion:
    return db.session.scalars(
        select(QuestionVersion).where(
            QuestionVersion.question_id == question.id,
            QuestionVersion.version_no == question.current_version_no,
        )
    ).one()


def _same_question(version: QuestionVersion, item) -> bool:
    return version.sha256 == item.sha256 or (
        version.type == item.type
        and version.stem_html == item.stem_html
        and version.options == item.options
        and list(version.answer) == list(item.answer)
        and version.explanation_html == item.explanation_html
        and version.source == item.source
        and version.topic == item.topic
        and version.difficulty == item.difficulty
    )


def save_question(
    module: Module, question: Question | None, raw: dict, actor: User, error
) -> Question | None:
    """Validate `raw` (a bank entry) and store it as a new question or a new version.
    `error(field, reason)` gets every problem; None is returned when there was one."""
    if question is not None:
        raw = {**raw, "id": question.qid}
    item = check_question(raw, error, other_qids(module, question), "formulir ini")
    if item is None:
        return None
    if question is None:
        question = Question(qid=item.qid, module_id=module.id, current_version_no=1)
        db.session.add(question)
        new_question_version(question, item, actor)
        db.session.flush()
        audit(actor, "question.create", "question", question.id, qid=item.qid, module=module.slug)
        return question
    if _same_question(current_question_version(question), item):
        return question  # nothing a participant would see changed: no new version
    version = new_question_version(question, item, actor)
    db.session.flush()
    audit(
        actor, "question.update", "question", question.id, qid=item.qid, version=version.version_no
    )
    return question


def set_retired(question: Question, retired: bool, actor: User) -> None:
    """Retired questions are no longer drawn; attempts that served them keep their review."""
    question.retired = retired
    question.retired_by_id = actor.id if retired else None
    audit(
        actor, "question.retire" if retired else "question.restore", "question", question.id,
        qid=question.qid,
    )  # fmt: skip


def question_entry(version: QuestionVersion) -> dict | None:
    """The bank entry of a version as it would stand in quizzes/<slug>.yaml."""
    if version.source_data is None:
        return None
    return {
        k: version.source_data[k] for k in QUESTION_FIELDS if version.source_data.get(k) is not None
    }


class _BankDumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper, value: str):
    style = "|" if "\n" in value.strip("\n") or value.endswith("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BankDumper.add_representer(str, _str_presenter)


def _live_versions(module: Module) -> list[QuestionVersion]:
    return db.session.scalars(
        select(QuestionVersion)
        .join(Question)
        .where(
            Question.module_id == module.id,
            Question.retired.is_(False),
            QuestionVersion.version_no == Question.current_version_no,
        )
        .order_by(Question.id)
    ).all()


def bank_entries(module: Module) -> list[dict]:
    return [e for e in map(question_entry, _live_versions(module)) if e is not None]


def bank_yaml(slug: str, entries: list[dict]) -> str:
    return yaml.dump(
        {"module": slug, "questions": entries},
        Dumper=_BankDumper,
        allow_unicode=True,
        sort_keys=False,
        width=100,
    )


def export_bank_yaml(module: Module) -> tuple[str, list[str]]:
    """(YAML text, ids that could not be exported) of the live questions of a module."""
    entries, missing = [], []
    for version in _live_versions(module):
        entry = question_entry(version)
        if entry is None:
            missing.append(version.question.qid)
        else:
            entries.append(entry)
    return bank_yaml(module.slug, entries), missing


@dataclass
class BankPlan:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


def plan_bank(bank: BankFile, module: Module) -> BankPlan:
    """What importing `bank` into `module` would do; nothing is written (the dry run)."""
    current = {
        qid: (sha, retired)
        for qid, sha, retired in db.session.execute(
            select(Question.qid, QuestionVersion.sha256, Question.retired)
            .join(QuestionVersion, QuestionVersion.question_id == Question.id)
            .where(
                Question.module_id == module.id,
                QuestionVersion.version_no == Question.current_version_no,
            )
        )
    }
    plan = BankPlan()
    for item in bank.questions:
        if item.qid not in current:
            plan.created.append(item.qid)
        elif current[item.qid][0] != item.sha256:
            plan.updated.append(item.qid)
        elif current[item.qid][1]:
            plan.restored.append(item.qid)
        else:
            plan.unchanged.append(item.qid)
    in_bank = {i.qid for i in bank.questions}
    plan.retired = sorted(
        q for q, (_, retired) in current.items() if q not in in_bank and not retired
    )
    return plan


def import_bank(bank: BankFile, module: Module, actor: User, source: str) -> SyncReport:
    """Apply a checked bank exactly as `content sync` would, as the actor's edit."""
    report = SyncReport()
    apply_bank(bank, module, report, author=actor)
    db.session.flush()
    audit(
        actor,
        "bank.import",
        "module",
        module.id,
        slug=module.slug,
        source=source,
        created=report.questions_created,
        updated=report.questions_updated,
        retired=report.questions_retired,
    )
    return report


def bank_upload(module: Module, filename: str | None, stream) -> tuple[str, str | None, list[str]]:
    """(name, bank YAML text, problems) of an uploaded bank: YAML as it is, an .xlsx converted
    to the same YAML. Nothing is written."""
    try:
        name = check_name(filename)
    except UploadRefused as exc:
        return "", None, [str(exc)]
    try:
        data = read_limited(name, stream, bankxlsx.MAX_BYTES, "bank soal")
        if name.lower().endswith((".yaml", ".yml")):
            try:
                return name, data.decode("utf-8"), []
            except UnicodeDecodeError as exc:
                raise UploadRefused(
                    f"Berkas “{name}” bukan teks UTF-8 (byte ke-{exc.start})."
                ) from exc
        if name.lower().endswith(".xlsx"):
            text, problems = bankxlsx.read_bank_workbook(
                data, module.slug, name, other_qids_outside(module)
            )
            return name, text, problems
        raise UploadRefused(f"Berkas “{name}” bukan bank soal: unggah berkas .yaml atau .xlsx.")
    except UploadRefused as exc:
        return name, None, [str(exc)]


# --- a checked bank waiting for "Terapkan" -------------------------------------------------
# Like a participant import, the dry run keeps what it checked on the server and the confirm
# carries only its name: the text never travels back through the browser, so what is applied is
# exactly what was previewed, and only by the trainer who uploaded it.

PENDING_BANK_HOURS = 24


def _pending_dir(upload_dir: str) -> Path:
    return Path(upload_dir) / "bank-impor"


def keep_pending_bank(upload_dir: str, module: Module, actor: User, name: str, text: str) -> str:
    """Store a checked bank for its confirm; returns its token."""
    folder = _pending_dir(upload_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):  # what nobody confirmed within a day
        if old.stat().st_mtime < utcnow().timestamp() - PENDING_BANK_HOURS * 3600:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(16)
    record = {"module_id": module.id, "user_id": actor.id, "name": name, "text": text}
    write_atomic(folder / f"{token}.json", json.dumps(record, ensure_ascii=False).encode())
    return token


def take_pending_bank(upload_dir: str, token: str, module: Module, actor: User):
    """(name, text) of the bank this trainer checked for this module, removed from storage;
    None when there is no such bank (another user's, another module's, applied, expired)."""
    if not token or not all(ch.isalnum() or ch in "-_" for ch in token) or len(token) > 64:
        return None
    path = _pending_dir(upload_dir) / f"{token}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("module_id") != module.id or record.get("user_id") != actor.id:
        return None
    path.unlink(missing_ok=True)
    return record["name"], record["text"]
