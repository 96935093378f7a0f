"""The commit of a confirmed import and its credentials sheet (new initial passwords) as jobs.

All or nothing: the new password hashes are committed by the job runner only after the sheet
was written (to a temporary name); a worker killed before that leaves every old password as
it was. The sheet holds passwords, so it is kept for hours, not days.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bimtek.accounts import importer, signin_tokens
from bimtek.accounts.import_sheets import build_credentials
from bimtek.accounts.models import ParticipantImport, User
from bimtek.extensions import begin_write, db, refresh_statistics
from bimtek.jobs.service import JobError, kind
from bimtek.offices import scope
from bimtek.spreadsheet import XLSX_MEDIA_TYPE, SpreadsheetError
from bimtek.timeutil import office_zone, utcnow, waktu

# pbkdf2 (1,000 rounds) per account and one styled sheet: ~3,000 accounts in 2 s here.
INLINE_ACCOUNTS = 3000
KEEP_PASSWORDS = timedelta(hours=12)


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
