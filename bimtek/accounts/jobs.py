"""The participant import's long steps as jobs: reading an uploaded sheet (`import_parse`), the
commit of a confirmed import, and its credentials sheet (new initial passwords).

The parse reads the workbook once, keeps the rows as read (JSON) for the commit and what the
preview shows of its check (the counts, the first rows), and deletes the workbook; a failure
(or a cancel, even before it started) deletes the upload and its pending record, so nothing is
left half-read. Its result is a page (the preview), not a file.

All or nothing: the new password hashes are committed by the job runner only after the sheet
was written (to a temporary name); a worker killed before that leaves every old password as
it was. The sheet holds passwords, so it is kept for hours, not days.
"""

import logging
from datetime import timedelta
from pathlib import Path

from flask import current_app, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bimtek.accounts import importer, signin_tokens
from bimtek.accounts.import_sheets import build_credentials
from bimtek.accounts.models import ParticipantImport, User
from bimtek.extensions import begin_write, db, refresh_statistics
from bimtek.jobs.service import JobError, kind
from bimtek.offices import scope
from bimtek.spreadsheet import XLSX_MEDIA_TYPE, SpreadsheetError
from bimtek.storage import STORAGE_FULL_MESSAGE, is_storage_full
from bimtek.timeutil import office_zone, utcnow, waktu

# pbkdf2 (1,000 rounds) per account and one styled sheet: ~3,000 accounts in 2 s here.
INLINE_ACCOUNTS = 3000
KEEP_PASSWORDS = timedelta(hours=12)
# openpyxl reads some 2,000-4,000 rows a second here: up to ~2,000 rows answer in the request.
INLINE_PARSE_ROWS = 2000
SHOWN_REJECTIONS = 3

log = logging.getLogger(__name__)


def pending_count(record: ParticipantImport) -> int:
    query = importer.never_signed_in(record).subquery()
    return db.session.scalar(select(func.count()).select_from(query)) or 0


@kind(
    "credentials",
    roles=("admin",),
    unit="akun",
    reads_only=False,
    inline_limit=INLINE_ACCOUNTS,
    keep=KEEP_PASSWORDS,
)
def credentials(ctx, params: dict, user: User) -> str:
    record = db.session.get(ParticipantImport, params["import_id"])
    if (
        record is None
        or record.status != "committed"
        or not scope.reach_of(user).owns(record.office_id)
    ):
        raise JobError("Impor ini tidak ada atau belum disimpan.")
    issued = importer.issue_initial_passwords(record, user)
    data = build_credentials(
        issued, waktu(utcnow(), office_zone()), qr_link=signin_tokens.sign_in_url
    )
    with open(
        ctx.result_file(f"kata-sandi-awal-impor-{record.id}.xlsx", XLSX_MEDIA_TYPE), "wb"
    ) as out:
        out.write(data)
    # No ctx.progress() here: it would commit the new hashes before the runner moves the file.
    ctx.done = ctx.total = len(issued)
    return f"{len(issued)} kata sandi awal baru; lembar sebelumnya tidak berlaku lagi."


IMPORT_INTERRUPTED = (
    "Impor terhenti karena proses latar belakang dimulai ulang. Tidak ada peserta yang disimpan "
    "(semua atau tidak sama sekali); buka pratinjau lalu konfirmasi lagi."
)


@kind(
    "import_commit",
    roles=("admin",),
    unit="baris",
    inline_limit=INLINE_ACCOUNTS,
    interrupted=IMPORT_INTERRUPTED,
)
def import_commit(ctx, params: dict, user: User) -> str:
    """Commit a confirmed import: every row in one transaction, or none."""
    record = db.session.get(ParticipantImport, params["import_id"])
    if record is None or record.status != "pending" or record.admin_id != user.id:
        raise JobError("Impor ini tidak ada, bukan milik Anda, atau sudah diproses.")
    upload_dir = current_app.config["BIMTEK_UPLOAD_DIR"]
    try:
        # From the rows read at upload (never the workbook again), against today's data.
        plan = importer.plan_parsed(
            importer.read_upload(upload_dir, record), office_id=scope.office_of(record)
        )
    except SpreadsheetError as exc:
        raise JobError(str(exc)) from None
    skip_invalid = bool(params.get("skip_invalid"))
    if plan.rejected and not skip_invalid:
        raise JobError(
            f"{plan.counts['rejected']} baris ditolak, jadi tidak ada yang diimpor. Perbaiki "
            "lembar lalu unggah ulang, atau pilih “Impor hanya baris yang valid”."
        )
    ctx.progress(0, len(plan.rows))
    begin_write()  # planning read; the write lock is taken from here on
    record = db.session.get(
        ParticipantImport, record.id, with_for_update=True, populate_existing=True
    )
    if record.status != "pending":
        raise JobError("Impor ini sudah diproses.")
    try:
        importer.commit_plan(plan, record, user, skip_invalid=skip_invalid)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise JobError(
            "Data peserta berubah saat impor berjalan (mis. NIK yang sama baru saja didaftarkan). "
            "Tidak ada yang disimpan; buka pratinjau lagi lalu konfirmasi ulang."
        ) from None
    refresh_statistics()  # the reports over the new participants get fresh plans
    importer.drop_upload(upload_dir, record)
    ctx.done = ctx.total = len(plan.rows)
    return f"Impor selesai: {plan.summary()}."


PARSE_INTERRUPTED = (
    "Pembacaan berkas terhenti karena proses latar belakang dimulai ulang. Belum ada peserta "
    "yang disimpan; unggah ulang berkasnya."
)


def _import_page(job, user) -> tuple[str, str] | None:
    """The parse job's result: the import's preview (its uploader's only), or its result."""
    record = db.session.get(ParticipantImport, job.params.get("import_id"))
    if record is None or record.status == "discarded":
        return None
    if record.status == "pending" and record.admin_id != user.id:
        return None
    label = "Buka pratinjau impor" if record.status == "pending" else "Lihat hasil impor"
    return url_for("accounts.import_detail", import_id=record.id), label


def all_rejected_message(plan: importer.ImportPlan) -> str:
    shown = "; ".join(str(r) for r in plan.rejected[:SHOWN_REJECTIONS])
    more = len(plan.rejected) - SHOWN_REJECTIONS
    rest = f"; dan {more:,} masalah lain".replace(",", ".") if more > 0 else ""
    rows = f"{plan.counts['rejected']:,}".replace(",", ".")
    return (
        f"Semua {rows} baris ditolak, jadi tidak ada yang dapat diimpor. {shown}{rest}. "
        "Perbaiki lembar lalu unggah ulang."
    )


def _forget_upload(upload_dir: str, import_id: int) -> None:
    """Delete a failed upload: its workbook and its pending record (nothing half-read stays)."""
    begin_write()
    record = db.session.get(ParticipantImport, import_id, populate_existing=True)
    if record is not None and record.status == "pending":
        importer.drop_upload(upload_dir, record)
        db.session.delete(record)
    db.session.commit()


def _discard_unread(job) -> str:
    """A parse cancelled before it started: its upload goes at once, not with the daily
    clean-up (the same as a parse cancelled while reading)."""
    _forget_upload(current_app.config["BIMTEK_UPLOAD_DIR"], job.params["import_id"])
    return (
        "Dibatalkan sebelum dimulai. Berkas unggahan sudah dihapus dan tidak ada peserta yang "
        "disimpan; unggah ulang bila perlu."
    )


@kind(
    "import_parse",
    roles=("admin",),
    unit="baris",
    inline_limit=INLINE_PARSE_ROWS,
    interrupted=PARSE_INTERRUPTED,
    result_page=_import_page,
    on_cancel=_discard_unread,
)
def import_parse(ctx, params: dict, user: User) -> str:
    """Read an uploaded participants sheet once, check every row, keep what was read."""
    import_id = params["import_id"]
    record = db.session.get(ParticipantImport, import_id)
    if record is None or record.admin_id != user.id or not importer.parse_pending(record):
        raise JobError("Unggahan ini tidak ada, bukan milik Anda, atau sudah dibaca.")
    config = current_app.config
    upload_dir = config["BIMTEK_UPLOAD_DIR"]
    filename, sha256 = record.filename, record.sha256
    path = importer.stored_path(upload_dir, record)
    db.session.commit()  # no snapshot held open while the workbook is read (SQLite's WAL)
    try:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SpreadsheetError("Berkas unggahan sudah tidak tersimpan. Unggah ulang.") from None
        if importer.sha256_of(data) != sha256:
            raise SpreadsheetError("Berkas unggahan berubah sejak diunggah. Unggah ulang.")
        total = ctx.total or None

        def on_row(number: int) -> None:
            ctx.progress(min(number, total or number), total)

        parsed = importer.read_sheet(
            data,
            max_bytes=config["BIMTEK_IMPORT_MAX_BYTES"],
            max_rows=config["BIMTEK_IMPORT_MAX_ROWS"],
            max_cells=config["BIMTEK_IMPORT_MAX_CELLS"],
            max_seconds=config[
                "BIMTEK_IMPORT_MAX_SECONDS" if ctx.inline else "BIMTEK_IMPORT_JOB_MAX_SECONDS"
            ],
            on_row=on_row,
        )
        del data
        rows = len(parsed.rows)
        ctx.progress(rows, rows, message=f"Memeriksa {rows:,} baris …".replace(",", "."))
        plan = importer.plan_parsed(parsed, office_id=scope.office_of(record))
        if not plan.rows:
            raise SpreadsheetError(all_rejected_message(plan))
    except SpreadsheetError as exc:
        db.session.rollback()
        _forget_upload(upload_dir, import_id)
        raise JobError(f"{filename}: {exc}") from None
    except BaseException:  # cancelled, or a bug: the upload goes too, the operator retries
        db.session.rollback()
        _forget_upload(upload_dir, import_id)
        raise
    try:  # written before the lock is taken (a second, for 30,000 rows)
        preview = importer.preview_to_dict(importer.preview_of(plan))
        stored = importer.store_upload(upload_dir, parsed, sha256, preview)
    except OSError as exc:
        _forget_upload(upload_dir, import_id)
        if is_storage_full(exc):
            log.error("import %s parse: storage full (%s)", import_id, exc)
            raise JobError(STORAGE_FULL_MESSAGE) from None
        raise
    begin_write()  # the checks were reads; the write lock is taken for the update alone
    record = db.session.get(
        ParticipantImport, import_id, populate_existing=True, with_for_update=True
    )
    if record is None or not importer.parse_pending(record):
        importer.remove_stored(upload_dir, stored)
        raise JobError("Unggahan ini dibatalkan saat sedang dibaca.")
    workbook = importer.stored_path(upload_dir, record)
    record.stored_name = stored
    record.rejected_count = plan.counts["rejected"]
    db.session.commit()
    Path(workbook).unlink(missing_ok=True)
    ctx.done = ctx.total = rows
    log.info("import %s parsed for user %s: %s", import_id, user.id, plan.counts)
    return f"Berkas terbaca: {plan.summary()}. Belum ada yang disimpan; buka pratinjau."
