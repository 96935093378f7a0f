"""The admin's backup page: the kept backups, a backup now, downloads."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_login import current_user

from bimtek.accounts.models import audit
from bimtek.backup import service
from bimtek.backup.forms import BackupNowForm
from bimtek.enums import Role
from bimtek.extensions import begin_write, db
from bimtek.learning import hooks
from bimtek.offices import scope
from bimtek.web import role_required

bp = Blueprint("backup", __name__)


def may_back_up(user) -> bool:
    """A backup holds the whole database: only an admin whose office reaches every office (a
    single office, or the root of the tree) makes or downloads one."""
    return user.is_authenticated and user.role == Role.ADMIN and scope.reach_of(user).everything


def _require_whole_reach() -> None:
    if not scope.current_reach().everything:
        abort(403)


@bp.app_context_processor
def _inject_may_back_up() -> dict:
    return {"can_back_up": lambda: may_back_up(current_user)}


def _home_notice(user) -> list[tuple[str, str, str]]:
    """An admin's home page says when the last backup is missing or more than a day old."""
    if not may_back_up(user):
        return []
    warning = service.backup_status().warning
    return [(warning, "Buka Cadangan data", url_for("backup.index"))] if warning else []


@bp.record_once
def _register_with_learning(_state) -> None:
    hooks.register(hooks.home_notices, _home_notice)


@bp.get("/admin/cadangan")
@role_required(Role.ADMIN)
def index():
    _require_whole_reach()
    return render_template(
        "backup/index.html",
        status=service.backup_status(),
        form=BackupNowForm(),
        every=int(current_app.config["BIMTEK_BACKUP_EVERY"]),
    )


@bp.post("/admin/cadangan")
@role_required(Role.ADMIN)
def create():
    _require_whole_reach()
    form = BackupNowForm()
    if not form.validate_on_submit():
        abort(400)
    db.session.commit()  # hold no write lock (SQLite) while the copy is made
    try:
        result = service.create_backup()
        service.rotate()
    except (service.BackupError, OSError) as exc:
        current_app.logger.exception("backup from the admin page failed")
        flash(f"Cadangan gagal dibuat: {exc}", "error")
        return redirect(url_for("backup.index"))
    audit(current_user, "backup.create", "backup", result.path.name, size=result.size)
    db.session.commit()
    flash(
        f"Cadangan dibuat: {result.path.name} ({service.human_size(result.size)}, "
        f"{result.seconds:.1f} detik).",
        "success",
    )
    return redirect(url_for("backup.index"))


@bp.get("/admin/cadangan/<name>")
@role_required(Role.ADMIN)
def download(name: str):
    _require_whole_reach()
    backup = service.find_backup(name)
    if backup is None:
        abort(404)
    begin_write()
    audit(current_user, "backup.download", "backup", backup.name)
    db.session.commit()
    response = send_file(
        backup.path,
        mimetype="application/gzip",
        as_attachment=True,
        download_name=backup.name,
        conditional=False,
        etag=False,
    )
    response.headers["Cache-Control"] = "no-store"  # personal data: never kept by a cache
    return response
