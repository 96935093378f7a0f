"""Module files in the workspace: drafts written or uploaded in the browser, their check, the
published version, the export back to the modules/ format, and the diff between versions."""

import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select

from bimtek.accounts.models import User, audit
from bimtek.content.loader import ContentError, ModuleFile, parse_module
from bimtek.content.versions import (
    current_module_version,
    new_module_version,
)
from bimtek.extensions import db
from bimtek.learning.models import Module, ModuleVersion
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID
from bimtek.timeutil import utcnow
from bimtek.workspace.materials import UploadRefused, check_name, read_limited
from bimtek.workspace.models import ModuleDraft
from bimtek.workspace.service import WorkspaceError

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


def draft_office_id(draft: ModuleDraft) -> int:
    """The office a draft belongs to: its module's, or (a new module) its last writer's; only
    that office's staff write a draft, so the writer's office does not drift."""
    if draft.module is not None:
        return scope.office_of(draft.module)
    return scope.office_id_of(draft.updated_by) if draft.updated_by is not None else FIRST_OFFICE_ID


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
        if draft is not None and draft_office_id(draft) != scope.office_id_of(actor):
            raise WorkspaceError(f"Slug '{parsed.slug}' sudah dipakai draf modul lain.")
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
            slug=parsed.slug,
            title=parsed.title,
            sort_order=parsed.order,
            current_version_no=0,
            office_id=scope.office_id_of(actor),  # a new module belongs to its author's office
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


MODULE_UPLOAD_MAX_BYTES = 2 * 1024 * 1024


def module_upload(filename: str | None, stream) -> tuple[str, bytes]:
    """(name, bytes) of an uploaded module file, or UploadRefused saying why not."""
    name = check_name(filename)
    if not name.lower().endswith(".md"):
        raise UploadRefused(f"Berkas “{name}” bukan berkas Markdown (.md).")
    return name, read_limited(name, stream, MODULE_UPLOAD_MAX_BYTES, "modul")
