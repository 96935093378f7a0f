"""`bimtek backup [--out FILE] [--loop]` and `bimtek restore FILE [--force]`."""

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from bimtek.backup import service
from bimtek.extensions import db

log = logging.getLogger(__name__)


def _now_text() -> str:
    from bimtek.timeutil import utcnow, waktu

    return waktu(utcnow(), service.office_zone(), "d MMM y HH.mm.ss")


def _made_line(result: service.BackupResult) -> str:
    manifest = result.manifest
    rows = sum(manifest["row_counts"].values())
    uploads = sum(1 for f in manifest["files"] if f["path"].startswith(service.UPLOADS + "/"))
    return (
        f"Cadangan dibuat: {result.path} ({service.human_size(result.size)}; "
        f"{len(manifest['row_counts'])} tabel, {rows} baris, {uploads} berkas unggahan; "
        f"{result.seconds:.1f} detik)."
    )


def _loop(every: int) -> None:
    """Back up when something changed, rotate, sleep; until a signal or the parent (make's
    recipe, next to gunicorn) goes away."""
    stop = threading.Event()
    parent = os.getppid()

    def on_signal(signum, _frame):
        stop.set()  # a backup being written is finished first (it takes seconds)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    folder = service.backup_folder()
    click.echo(
        f"Cadangan otomatis ke {folder} setiap {every} detik (disimpan: 24 terakhir dan "
        "satu per hari selama 14 hari)."
    )
    while not stop.is_set():
        try:
            result = service.create_backup(only_if_changed=True)
            if result.skipped:
                click.echo(f"[{_now_text()}] Tidak ada perubahan sejak cadangan terakhir.")
            else:
                click.echo(f"[{_now_text()}] {_made_line(result)}")
            deleted = service.rotate()
            if deleted:
                click.echo(f"[{_now_text()}] Rotasi: {len(deleted)} cadangan lama dihapus.")
        except service.BackupError as exc:
            click.echo(f"[{_now_text()}] Cadangan gagal: {exc}", err=True)
        except Exception as exc:  # a full or unplugged disk must not end the loop
            log.exception("automatic backup failed")
            click.echo(f"[{_now_text()}] Cadangan gagal: {exc}", err=True)
        finally:
            db.session.remove()
        deadline = time.monotonic() + every
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if os.getppid() != parent:
                click.echo("Proses induk berhenti; cadangan otomatis berhenti.")
                return
            stop.wait(min(left, 2.0))
    click.echo("Cadangan otomatis berhenti.")


@click.command("backup")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Archive to write (default: BIMTEK_BACKUP_DIR/bimtek-cadangan-YYYYMMDD-HHMMSS.tar.gz).",
)
@click.option(
    "--loop",
    is_flag=True,
    help="Keep backing up every BIMTEK_BACKUP_EVERY seconds when something changed, rotating.",
)
@click.option("--every", type=click.IntRange(min=10), help="Seconds between loop runs.")
@click.option(
    "--if-changed", is_flag=True, help="Write nothing when nothing changed since the last one."
)
@with_appcontext
def backup_command(out: Path | None, loop: bool, every: int | None, if_changed: bool):
    """One consistent archive of the database and uploads, with a manifest and checksums."""
    if loop:
        _loop(every or int(current_app.config["BIMTEK_BACKUP_EVERY"]))
        return
    try:
        result = service.create_backup(out, only_if_changed=if_changed)
    except service.BackupError as exc:
        click.echo(f"Gagal: {exc}", err=True)
        sys.exit(1)
    if result.skipped:
        click.echo("Tidak ada perubahan sejak cadangan terakhir; tidak ada cadangan baru.")
        return
    click.echo(_made_line(result))
    click.echo("Berkas ini berisi data pribadi peserta: simpan di tempat yang aman.")


@click.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True, help="Replace a database (and upload folder) that is not empty."
)
@with_appcontext
def restore_command(archive: Path, force: bool):
    """Restore a `bimtek backup` archive into an empty database, then verify it."""
    try:
        report = service.restore_backup(archive, force=force, echo=click.echo)
    except service.BackupError as exc:
        click.echo(f"Gagal: {exc}", err=True)
        sys.exit(1)
    for line in service.restore_summary(report):
        click.echo(line)
    if not report.ok:
        sys.exit(1)
