"""Load module files into the database as versions. All or nothing."""

from dataclasses import dataclass, field

from sqlalchemy import select

from bimtek.content.loader import ContentError, ModuleFile, load_modules
from bimtek.extensions import db
from bimtek.learning.models import Module, ModuleVersion


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[ContentError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def current_version(module: Module) -> ModuleVersion:
    return db.session.scalars(
        select(ModuleVersion).where(
            ModuleVersion.module_id == module.id,
            ModuleVersion.version_no == module.current_version_no,
        )
    ).one()


def _version_from_file(module: Module, version_no: int, file: ModuleFile) -> ModuleVersion:
    return ModuleVersion(
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
        source_path=file.path,
    )


def apply_module_file(file: ModuleFile, report: SyncReport) -> Module:
    module = db.session.scalars(select(Module).where(Module.slug == file.slug)).one_or_none()
    if module is None:
        module = Module(
            slug=file.slug, title=file.title, sort_order=file.order, current_version_no=1
        )
        db.session.add(module)
        db.session.add(_version_from_file(module, 1, file))
        report.created.append(file.slug)
        return module
    module.sort_order = file.order
    if current_version(module).sha256 == file.sha256:
        report.unchanged.append(file.slug)
        return module
    # An earlier text may come back (a revert): it is still a new version,
    # so progress stays attached to the versions people actually read.
    next_no = (
        db.session.scalar(
            select(db.func.max(ModuleVersion.version_no)).where(
                ModuleVersion.module_id == module.id
            )
        )
        or 0
    ) + 1
    db.session.add(_version_from_file(module, next_no, file))
    module.title = file.title
    module.current_version_no = next_no
    report.updated.append(file.slug)
    return module


def sync_content(content_dir) -> SyncReport:
    """Validate everything first; write nothing if any file is broken. Caller commits."""
    loaded = load_modules(content_dir)
    report = SyncReport(errors=list(loaded.errors))
    if not report.ok:
        return report
    for file in sorted(loaded.modules, key=lambda f: (f.order, f.slug)):
        apply_module_file(file, report)
    db.session.flush()
    return report
