"""Starting, running, cancelling and expiring jobs. No `request` here.

A job kind is a function `run(ctx, params, user)` registered with `@kind(...)`; it reports
progress through `ctx.progress(done, total)` (which also raises `Cancelled` once the operator
asked to cancel), writes its result through `ctx.result_file(name, mime)` (a temporary name,
renamed into place only when the job finishes), and raises `JobError` with an Indonesian
message for a failure the operator should read.

State changes of the job row go through their own short transactions, never through the
job's working session: a bulk issue commits its chunks, a rekap keeps one long read open, and
neither must hold the other up.
"""

import json
import logging
import os
import socket
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app, g
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from bimtek.extensions import db
from bimtek.jobs.models import ACTIVE, Job
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID
from bimtek.timeutil import utcnow

log = logging.getLogger(__name__)

INTERRUPTED = (
    "Tugas terhenti karena proses latar belakang dimulai ulang. Tidak ada berkas setengah jadi "
    "yang disimpan; jalankan tugas ini lagi."
)
SERVER_ERROR = "Terjadi kesalahan di server saat menjalankan tugas ini. Coba jalankan lagi."
NOT_ALLOWED = "Tugas tidak dijalankan: akun yang memulainya tidak lagi aktif atau tidak berhak."
# A running job writes its heartbeat at least this often; one silent for longer is dead.
STALE_AFTER = timedelta(minutes=10)


class JobError(Exception):
    """A failure with a message for the operator (Indonesian)."""


class Cancelled(Exception):
    pass


@dataclass
class Kind:
    name: str
    run: Callable
    roles: tuple[str, ...]
    unit: str
    reads_only: bool = True  # SQLite: a deferred BEGIN, so web writes never wait on it
    inline_limit: int = 0  # at most this many units: run in the request
    interrupted: str = INTERRUPTED
    keep: timedelta | None = None  # how long the result stays (default BIMTEK_JOB_RESULT_DAYS)
    # A job whose result is a page, not a file: (job, viewer) -> (url, link text) or None
    # when that viewer may not open it (the job page then shows the outcome only).
    result_page: Callable | None = None
    shared: bool = False  # the same work whoever starts it: one active job for everyone
    listed: bool = True  # shown in the operator's list of jobs (not housekeeping)
    # Undo what was prepared for a job cancelled before it ran (an upload waiting to be read):
    # (job) -> what the job page then says, or None. A running job cleans up in its `run`.
    on_cancel: Callable | None = None


KINDS: dict[str, Kind] = {}


def kind(
    name: str,
    *,
    roles,
    unit: str,
    reads_only=True,
    inline_limit=0,
    interrupted=None,
    keep=None,
    result_page=None,
    shared=False,
    listed=True,
    on_cancel=None,
):
    def register(func):
        KINDS[name] = Kind(
            name,
            func,
            tuple(roles),
            unit,
            reads_only,
            inline_limit,
            interrupted or INTERRUPTED,
            keep,
            result_page,
            shared,
            listed,
            on_cancel,
        )
        return func

    return register


def spec_of(kind_name: str) -> Kind:
    """Kinds register when their feature's module is imported (each feature's views import
    its jobs module, so create_app registers them all, in the web and in the worker)."""
    return KINDS[kind_name]


# --- the job row's own transactions -------------------------------------------


@contextmanager
def _state():
    """A short write transaction of its own (BEGIN IMMEDIATE on SQLite).

    The working session's transaction is ended first unless it only reads: on SQLite a POST's
    session holds the write lock from its first statement, and this one would wait for it.
    """
    if db.session().in_transaction() and not g.get("db_reads_first", False):
        db.session.commit()
    previous = g.get("db_write", False)
    g.db_write = True
    try:
        with db.engine.begin() as conn:
            yield conn
    finally:
        g.db_write = previous


def _set(job_id: int, **values) -> int:
    with _state() as conn:
        return conn.execute(update(Job).where(Job.id == job_id).values(**values)).rowcount


def _finish(job_id: int, status: str, **values) -> None:
    _set(job_id, status=status, active_key=None, finished_at=utcnow(), **values)


def jobs_dir() -> Path:
    return Path(current_app.config["BIMTEK_UPLOAD_DIR"]) / "jobs"


def result_days() -> int:
    return int(current_app.config.get("BIMTEK_JOB_RESULT_DAYS", 7))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


# --- starting ----------------------------------------------------------------------


def lane(user) -> str:
    """Whose identical jobs are one: an office's admins see the same data, so one running job
    of a kind and parameters serves the office; anyone else's result is shaped by their own
    reach (a pelatih's sessions), so their jobs are their own."""
    if user.role == "admin":
        return f"o{scope.office_id_of(user)}"
    return f"u{user.id}"


def active_key(kind_name: str, params: dict, lane_key: str = "") -> str:
    params_text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return f"{kind_name}:{lane_key}:{params_text}"[:300]


@dataclass
class Started:
    job: Job
    existing: bool  # an identical job was already queued or running: that one is shown
    inline: bool = False


def start(kind_name: str, params: dict, user, title: str, size: int | None = None):
    """Queue a job (or hand back the identical one still active). Runs it at once, inside
    this call, when `size` is at most the kind's inline limit times BIMTEK_JOB_INLINE_SCALE.
    """
    spec = spec_of(kind_name)
    if user.role not in spec.roles:
        raise JobError("Anda tidak berhak menjalankan tugas ini.")
    key = active_key(kind_name, params, "" if spec.shared else lane(user))
    found = _active(key)
    if found is not None:
        return Started(found, existing=True)
    values = dict(
        kind=kind_name,
        params=params,
        title=title[:300],
        active_key=key,
        started_by_id=user.id,
        status="queued",
        progress_done=0,
        progress_total=size,
        progress_unit=spec.unit,
        message="",
        cancel_requested=False,
        created_at=utcnow(),
    )
    try:
        with _state() as conn:
            job_id = conn.execute(Job.__table__.insert().values(**values)).inserted_primary_key[0]
    except IntegrityError:  # a second click raced the first: show that one
        found = _active(key)
        if found is None:
            raise
        return Started(found, existing=True)
    db.session.commit()  # end this session's snapshot: the next read sees the new row
    scale = float(current_app.config.get("BIMTEK_JOB_INLINE_SCALE", 1.0))
    inline = size is not None and size <= spec.inline_limit * scale
    if inline:
        run(job_id, inline=True)
    else:
        from bimtek.jobs import queue

        queue.enqueue(job_id)
    return Started(get(job_id), existing=False, inline=inline)


def active_job(kind_name: str, params: dict, user) -> Job | None:
    return _active(active_key(kind_name, params, lane(user)))


def _active(key: str) -> Job | None:
    return db.session.scalars(
        select(Job).where(Job.active_key == key).execution_options(populate_existing=True)
    ).one_or_none()


def get(job_id: int) -> Job | None:
    return db.session.scalars(
        select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    ).one_or_none()


def _starter_model():
    """The accounts feature's User, through the relationship (jobs does not import accounts)."""
    return Job.started_by.property.mapper.class_


def recent_for(user, limit: int = 30) -> list[Job]:
    """The user's own jobs; for an admin also those of everyone in their office."""
    condition = Job.started_by_id == user.id
    if user.role == "admin":
        starter = _starter_model()
        office_id = scope.office_id_of(user)
        same_office = starter.office_id == office_id
        if office_id == FIRST_OFFICE_ID:  # NULL is read as the first office
            same_office = or_(same_office, starter.office_id.is_(None))
        condition = or_(condition, Job.started_by.has(same_office))
    hidden = sorted(name for name, spec in KINDS.items() if not spec.listed)
    if hidden:
        condition = condition & Job.kind.not_in(hidden)
    return list(
        db.session.scalars(
            select(Job).where(condition).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
        )
    )


def can_see(job: Job, user) -> bool:
    """The starter, or an admin of the starter's office (a job's result — a rekap, a
    credentials sheet — carries that office's data)."""
    if job.started_by_id == user.id:
        return True
    return (
        user.role == "admin"
        and job.started_by is not None
        and scope.office_id_of(job.started_by) == scope.office_id_of(user)
    )


CANCELLED_QUEUED = "Dibatalkan sebelum dimulai."


def cancel(job: Job) -> bool:
    """Ask the job to stop. A queued one stops at once (True), and its kind's `on_cancel`
    undoes what was prepared for it; a running one stops at its next chunk (False).

    Exactly one side cleans up: the worker claims a job only while it is still queued, so a
    job cancelled here never runs, and one claimed first sees the request in `ctx.progress`.
    """
    with _state() as conn:
        stopped = conn.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == "queued")
            .values(
                status="cancelled",
                active_key=None,
                cancel_requested=True,
                finished_at=utcnow(),
                message=CANCELLED_QUEUED,
            )
        ).rowcount
        if not stopped:
            conn.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == "running")
                .values(cancel_requested=True, message="Menunggu tugas berhenti …")
            )
    spec = KINDS.get(job.kind)
    if stopped and spec is not None and spec.on_cancel is not None:
        try:
            message = spec.on_cancel(job)
        except Exception:  # the job stays cancelled; the kind's daily clean-up remains
            log.exception("job %s (%s): clean-up after cancel failed", job.id, job.kind)
            db.session.rollback()
        else:
            if message:
                _set(job.id, message=message[:500])
    return bool(stopped)


def forget_result(job: Job, message: str) -> None:
    """Delete the result file now (an open handle still reads it on POSIX)."""
    if job.result_path:
        (jobs_dir() / job.result_path).unlink(missing_ok=True)
    _set(job.id, result_path=None, expires_at=None, message=message)


def result_page(job: Job, user) -> tuple[str, str] | None:
    """Where a finished job whose result is a page sends this viewer, if anywhere."""
    spec = KINDS.get(job.kind)
    if job.status != "done" or spec is None or spec.result_page is None:
        return None
    return spec.result_page(job, user)


def result_path(job: Job) -> Path | None:
    if job.status != "done" or not job.result_path:
        return None
    path = jobs_dir() / job.result_path
    return path if path.is_file() else None


# --- running ------------------------------------------------------------------------


@dataclass
class Context:
    job_id: int
    unit: str
    total: int | None = None
    done: int = 0
    _last_write: float = 0.0
    _tmp: Path | None = None
    result: tuple[str, str, str] | None = None  # (final file name on disk, name, mime)
    extra: dict = field(default_factory=dict)
    inline: bool = False  # running inside the request that started it

    def progress(self, done: int, total: int | None = None, message: str | None = None):
        """Record progress (at most twice a second) and stop here if cancel was asked."""
        self.done = done
        if total is not None:
            self.total = total
        now = time.monotonic()
        if now - self._last_write < 0.5 and done != self.total and message is None:
            return
        self._last_write = now
        values = dict(progress_done=done, progress_total=self.total, heartbeat_at=utcnow())
        if message is not None:
            values["message"] = message[:500]
        with _state() as conn:
            conn.execute(update(Job).where(Job.id == self.job_id).values(**values))
            asked = conn.execute(
                select(Job.cancel_requested).where(Job.id == self.job_id)
            ).scalar_one()
        if asked:
            raise Cancelled

    def result_file(self, name: str, mime: str) -> Path:
        """Where to write the result: a temporary name, moved into place by `run` at the end."""
        directory = jobs_dir()
        directory.mkdir(parents=True, exist_ok=True)
        suffix = Path(name).suffix
        final = f"tugas-{self.job_id}-{os.urandom(8).hex()}{suffix}"
        self._tmp = directory / f".{final}.part"
        self.result = (final, name, mime)
        return self._tmp

    def discard(self) -> None:
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)


def run(job_id: int, inline: bool = False) -> None:
    """Run one job to its end. Called by the worker, or in the request for a small job."""
    claimed = _set_if(
        job_id,
        "queued",
        status="running",
        started_at=utcnow(),
        heartbeat_at=utcnow(),
        worker=worker_name(),
    )
    if not claimed:  # cancelled while queued, or taken already
        return
    db.session.commit()  # a fresh snapshot, which sees the row as claimed
    job = get(job_id)
    spec = KINDS.get(job.kind)
    user = job.started_by  # the accounts feature's User, through the relationship
    if spec is None or user is None or not user.active or user.role not in spec.roles:
        _finish(job_id, "failed", error=NOT_ALLOWED)
        db.session.rollback()
        return
    ctx = Context(job_id, spec.unit, total=job.progress_total, inline=inline)
    previous = g.get("db_reads_first", False)
    g.db_reads_first = spec.reads_only
    try:
        db.session.commit()  # the job's own transaction starts here, as the kind needs
        message = spec.run(ctx, dict(job.params), user) or ""
        db.session.commit()
        values = dict(progress_done=ctx.done, progress_total=ctx.total, message=message[:500])
        if ctx.result is not None:
            final, name, mime = ctx.result
            os.replace(ctx._tmp, jobs_dir() / final)  # whole file or none
            values.update(
                result_path=final,
                result_name=name,
                result_mime=mime,
                expires_at=utcnow() + (spec.keep or timedelta(days=result_days())),
            )
        _finish(job_id, "done", **values)
    except Cancelled:
        db.session.rollback()
        ctx.discard()
        _finish(job_id, "cancelled", message="Dibatalkan oleh pengguna.")
    except JobError as exc:
        db.session.rollback()
        ctx.discard()
        _finish(job_id, "failed", error=str(exc))
    except Exception:
        log.exception("job %s (%s) failed", job_id, job.kind)
        db.session.rollback()
        ctx.discard()
        _finish(job_id, "failed", error=SERVER_ERROR)
    finally:
        g.db_reads_first = previous


def _set_if(job_id: int, current: str, **values) -> bool:
    with _state() as conn:
        return bool(
            conn.execute(
                update(Job).where(Job.id == job_id, Job.status == current).values(**values)
            ).rowcount
        )


# --- housekeeping -------------------------------------------------------------------


def recover_interrupted(this_host_only_dead: bool = True) -> int:
    """Mark failed the jobs a dead worker left "running": those started on this host by a
    process that no longer exists, and any whose heartbeat stopped long ago."""
    host = socket.gethostname()
    stale_before = utcnow() - STALE_AFTER
    failed = 0
    for job in db.session.scalars(select(Job).where(Job.status == "running")):
        dead = job.heartbeat_at is None or job.heartbeat_at < stale_before
        worker_host, _, pid = (job.worker or "").rpartition(":")
        if this_host_only_dead and worker_host == host and pid.isdigit():
            dead = dead or not _alive(int(pid))
        if dead:
            spec = KINDS.get(job.kind)
            _finish(job.id, "failed", error=spec.interrupted if spec else INTERRUPTED)
            failed += 1
    db.session.rollback()
    return failed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_expired(now: datetime | None = None) -> int:
    """Delete result files past their expiry (the row stays, marked as expired)."""
    now = now or utcnow()
    removed = 0
    expired = db.session.scalars(
        select(Job).where(Job.expires_at.is_not(None), Job.expires_at <= now)
    ).all()
    db.session.rollback()
    for job in expired:
        removed += bool(job.result_path)
        forget_result(job, "Berkas hasil sudah dihapus (masa simpan habis).")
    # Leftovers of a worker killed while writing, older than a day.
    directory = jobs_dir()
    if directory.is_dir():
        cutoff = time.time() - 86400
        for part in directory.glob(".*.part"):
            if part.stat().st_mtime < cutoff:
                part.unlink(missing_ok=True)
    return removed


def jobs_in_queue() -> list[Job]:
    return list(db.session.scalars(select(Job).where(Job.status.in_(ACTIVE))))
