"""Workspace writes: module drafts and publishing, question edits, bank imports.

A module published here goes through the same loader as a shipped file: the draft is written
out as the text of a modules/NN-slug.md file, parsed by `content.loader.parse_module`, and
becomes a ModuleVersion exactly as `content sync` would make it (same renderer, same hash of the
file text). Exporting that version gives the same text back, so a sync of the export on another
installation produces the same module.
"""

import difflib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import select

from bimtek.accounts.models import User, audit
from bimtek.content.banks import QUESTION_FIELDS, BankFile, check_question
from bimtek.content.loader import ContentError, ModuleFile, parse_module
from bimtek.content.service import SyncReport, apply_bank
from bimtek.content.versions import (
    current_module_version,
    new_module_version,
    new_question_version,
)
from bimtek.extensions import db
from bimtek.learning.models import Module, ModuleVersion
from bimtek.quiz.models import Question, QuestionVersion
from bimtek.storage import write_atomic
from bimtek.timeutil import utcnow
from bimtek.workspace import bankxlsx
from bimtek.workspace.materials import StoredFile, UploadRefused, check_name, read_limited
from bimtek.workspace.models import Material, ModuleDraft


class WorkspaceError(ValueError):
    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


# --- module files -----------------------------------------------------------


def _dump_yaml(data) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000)


def file_name(slug: str, order: int) -> str:
    return f"{order:02d}-{slug}.md"


def module_file_text(
    *,
    slug: str,
    title: str,
    order: int,
    audience: list[str],
    estimated_minutes: int,
    sources: list[str],
    source_text: str,
) -> str:
    """The modules/ file for these fields. `source_text` is everything after the closing
    '---' line (a ModuleVersion's source_text)."""
    front = {
        "slug": slug,
        "title": title,
        "order": order,
        "audience": list(audience),
        "estimated_minutes": estimated_minutes,
        "sources": list(sources),
    }
    return "---\n" + _dump_yaml(front) + "---\n" + source_text


def normalise_body(body: str) -> str:
    """A draft body as it follows the front matter: one blank line, then the text."""
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    return "\n" + body + "\n" if body.strip() else ""


def draft_file_text(draft: ModuleDraft) -> str:
    return module_file_text(
        slug=draft.slug,
        title=draft.title,
        order=draft.sort_order,
        audience=draft.audience,
        estimated_minutes=draft.estimated_minutes,
        sources=draft.sources,
        source_text=normalise_body(draft.body),
    )


def check_draft(draft: ModuleDraft) -> ModuleFile:
    """Parse the draft as the file it would be; WorkspaceError lists what the loader refuses."""
    text = draft_file_text(draft)
    module, errors = parse_module(
        "modules/" + file_name(draft.slug or "x", draft.sort_order or 0), text
    )
    if errors:
        raise WorkspaceError("Modul belum dapat diterbitkan:", [_plain_reason(e) for e in errors])
    return module


def _plain_reason(error: ContentError) -> str:
    return error.reason[0].upper() + error.reason[1:]


def version_file_text(version: ModuleVersion) -> str:
    module = version.module
    return module_file_text(
        slug=module.slug,
        title=version.title,
        order=module.sort_order,
        audience=version.audience,
        estimated_minutes=version.estimated_minutes,
        sources=version.sources,
        source_text=version.source_text,
    )


def export_module(version: ModuleVersion, content_dir: str | Path) -> tuple[str, str]:
    """(file name, text) of a version in the modules/ format.

    A version loaded from a shipped file that is still on disk unchanged is given back byte
    for byte (its hash is the file's); otherwise the text is rebuilt from the stored fields,
    which for a browser-published version is exactly the text that was hashed.
    """
    module = version.module
    if version.source_path:
        shipped = Path(content_dir) / version.source_path
        if shipped.is_file():
            text = shipped.read_bytes().decode("utf-8", errors="replace")
            candidate, _ = parse_module(version.source_path, text)
            if candidate is not None and candidate.sha256 == version.sha256:
                return shipped.name, text
    return file_name(module.slug, module.sort_order), version_file_text(version)


def draft_from_version(module: Module) -> ModuleDraft:
    """An unsaved draft holding the published text (what the editor opens with)."""
    version = current_module_version(module)
    return ModuleDraft(
        module=module,
        slug=module.slug,
        title=version.title,
        sort_order=module.sort_order,
        audience=list(version.audience),
        estimated_minutes=version.estimated_minutes,
        sources=list(version.sources),
        body=version.source_text.strip("\n"),
        base_version_no=version.version_no,
    )


def draft_for(module: Module) -> ModuleDraft | None:
    return db.session.scalars(
        select(ModuleDraft).where(ModuleDraft.module_id == module.id)
    ).one_or_none()


@dataclass
class DraftData:
    title: str
    sort_order: int
    audience: list[str]
    estimated_minutes: int
    sources: list[str]
    body: str
    slug: str | None = None  # only for a new module


def save_draft(
    module: Module | None, draft: ModuleDraft | None, data: DraftData, actor: User
) -> ModuleDraft:
    """Create or update the draft of `module` (None: a new module). Caller commits."""
    if draft is None:
        if module is not None:
            draft = draft_for(module) or draft_from_version(module)
        else:
            slug = (data.slug or "").strip()
            _check_new_slug(slug)
            draft = ModuleDraft(slug=slug, module=None, base_version_no=None)
        db.session.add(draft)
    draft.title = " ".join((data.title or "").split())
    draft.sort_order = data.sort_order
    draft.audience = list(data.audience)
    draft.estimated_minutes = data.estimated_minutes
    draft.sources = [s.strip() for s in data.sources if s.strip()]
    draft.body = (data.body or "").replace("\r\n", "\n")
    draft.updated_by_id = actor.id
    draft.updated_at = utcnow()
    db.session.flush()
    audit(actor, "module.draft_save", "module_draft", draft.id, slug=draft.slug)
    return draft


def _check_new_slug(slug: str, draft_id: int | None = None) -> None:
    from bimtek.content.loader import SLUG_RE

    if not slug or not SLUG_RE.fullmatch(slug) or len(slug) > 80:
        raise WorkspaceError(
            "Slug hanya boleh huruf kecil a-z, angka dan tanda '-' (maks. 80 karakter)."
        )
    if db.session.scalars(select(Module.id).where(Module.slug == slug)).first():
        raise WorkspaceError(f"Slug '{slug}' sudah dipakai modul lain.")
    taken = db.session.scalars(select(ModuleDraft.id).where(ModuleDraft.slug == slug)).first()
    if taken is not None and taken != draft_id:
        raise WorkspaceError(f"Slug '{slug}' sudah dipakai draf modul lain.")


def draft_from_file(module: Module | None, path_name: str, data: bytes, actor: User) -> ModuleDraft:
    """An uploaded .md file with front matter becomes the draft (of `module`, or a new one)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WorkspaceError(f"Berkas bukan teks UTF-8 (byte ke-{exc.start}).") from exc
    parsed, errors = parse_module("modules/" + path_name, text)
    if errors:
        raise WorkspaceError(
            f"Berkas {path_name} tidak dapat dimuat:",
            [f"baris {e.line}: {e.reason}" for e in errors],
        )
    if module is not None and parsed.slug != module.slug:
        raise WorkspaceError(
            f"Slug di berkas ('{parsed.slug}') berbeda dengan modul ini ('{module.slug}')."
        )
    draft = None
    if module is None:
        existing = db.session.scalars(
            select(Module).where(Module.slug == parsed.slug)
        ).one_or_none()
        if existing is not None:
            raise WorkspaceError(
                f"Modul dengan slug '{parsed.slug}' sudah ada; unggah berkasnya dari halaman "
                "sunting modul itu."
            )
        draft = db.session.scalars(
            select(ModuleDraft).where(
                ModuleDraft.slug == parsed.slug, ModuleDraft.module_id.is_(None)
            )
        ).one_or_none()
    saved = save_draft(
        module,
        draft,
        DraftData(
            slug=parsed.slug,
            title=parsed.title,
            sort_order=parsed.order,
            audience=parsed.audience,
            estimated_minutes=parsed.estimated_minutes,
            sources=parsed.sources,
            body=parsed.body,
        ),
        actor,
    )
    audit(actor, "module.upload_md", "module_draft", saved.id, file=path_name)
    return saved


def publish(draft: ModuleDraft, actor: User) -> ModuleVersion:
    """The draft becomes the next version (or version 1 of a new module); the draft is gone.
    Progress on earlier versions stays where it is. Caller commits."""
    parsed = check_draft(draft)
    module = draft.module
    if module is None:
        _check_new_slug(draft.slug, draft.id)
        module = Module(
            slug=parsed.slug, title=parsed.title, sort_order=parsed.order, current_version_no=0
        )
        db.session.add(module)
        db.session.flush()
    elif current_module_version(module).sha256 == parsed.sha256:
        raise WorkspaceError(
            "Tidak ada perubahan dibanding versi terbit; tidak ada versi baru yang dibuat."
        )
    version = new_module_version(module, parsed, author=actor)  # the same fields as a sync
    version_no = version.version_no
    module.sort_order = parsed.order
    db.session.delete(draft)
    db.session.flush()
    audit(
        actor,
        "module.publish",
        "module",
        module.id,
        slug=module.slug,
        version=version_no,
        sha256=parsed.sha256,
    )
    return version


def discard_draft(draft: ModuleDraft, actor: User) -> None:
    audit(actor, "module.draft_discard", "module_draft", draft.id, slug=draft.slug)
    db.session.delete(draft)


@dataclass
class DiffLine:
    kind: str  # "add", "del", "hunk", "ctx"
    text: str


def diff_versions(old: ModuleVersion, new: ModuleVersion) -> list[DiffLine]:
    """A unified diff of the two versions' files (front matter and Markdown)."""
    lines = difflib.unified_diff(
        version_file_text(old).splitlines(),
        version_file_text(new).splitlines(),
        fromfile=f"versi {old.version_no}",
        tofile=f"versi {new.version_no}",
        lineterm="",
        n=3,
    )
    result = []
    for line in lines:
        if line.startswith(("---", "+++")):
            kind = "head"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        result.append(DiffLine(kind, line))
    return result


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


# --- materials --------------------------------------------------------------


def add_material(
    stored: StoredFile, *, title: str, course=None, module=None, actor: User
) -> Material:
    material = Material(
        course=course,
        module=module,
        title=" ".join((title or "").split())[:200] or stored.original_name,
        original_name=stored.original_name,
        stored_name=stored.stored_name,
        kind=stored.kind,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_by_id=actor.id,
    )
    db.session.add(material)
    db.session.flush()
    audit(
        actor,
        "material.upload",
        "material",
        material.id,
        name=stored.original_name,
        kind=stored.kind,
        size=stored.size,
        course=course.id if course is not None else None,
        module=module.slug if module is not None else None,
    )
    return material


def delete_material(material: Material, actor: User) -> str:
    """Remove the row; the caller deletes the stored file after the commit."""
    audit(actor, "material.delete", "material", material.id, name=material.original_name)
    db.session.delete(material)
    return material.stored_name


MODULE_UPLOAD_MAX_BYTES = 2 * 1024 * 1024


def module_upload(filename: str | None, stream) -> tuple[str, bytes]:
    """(name, bytes) of an uploaded module file, or UploadRefused saying why not."""
    name = check_name(filename)
    if not name.lower().endswith(".md"):
        raise UploadRefused(f"Berkas “{name}” bukan berkas Markdown (.md).")
    return name, read_limited(name, stream, MODULE_UPLOAD_MAX_BYTES, "modul")


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
