"""Workspace writes: module drafts and publishing, question edits, bank imports.

A module published here goes through the same loader as a shipped file: the draft is written
out as the text of a modules/NN-slug.md file, parsed by `content.loader.parse_module`, and
becomes a ModuleVersion exactly as `content sync` would make it (same renderer, same hash of the
file text). Exporting that version gives the same text back, so a sync of the export on another
installation produces the same module.
"""

from bimtek.accounts.models import User, audit
from bimtek.extensions import db
from bimtek.workspace.materials import StoredFile
from bimtek.workspace.models import Material


class WorkspaceError(ValueError):
    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


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
