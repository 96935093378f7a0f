"""The credentials sheet of an import (new initial passwords) as a job.

All or nothing: the new password hashes are committed by the job runner only after the sheet
was written (to a temporary name); a worker killed before that leaves every old password as
it was. The sheet holds passwords, so it is kept for hours, not days.
"""

from datetime import timedelta

from sqlalchemy import func, select

from bimtek.accounts import importer
from bimtek.accounts.import_sheets import build_credentials
from bimtek.accounts.models import ParticipantImport, User
from bimtek.extensions import db
from bimtek.jobs.service import JobError, kind
from bimtek.spreadsheet import XLSX_MEDIA_TYPE
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
    if record is None or record.status != "committed":
        raise JobError("Impor ini tidak ada atau belum disimpan.")
    issued = importer.issue_initial_passwords(record, user)
    data = build_credentials(issued, waktu(utcnow(), office_zone()))
    with open(
        ctx.result_file(f"kata-sandi-awal-impor-{record.id}.xlsx", XLSX_MEDIA_TYPE), "wb"
    ) as out:
        out.write(data)
    # No ctx.progress() here: it would commit the new hashes before the runner moves the file.
    ctx.done = ctx.total = len(issued)
    return f"{len(issued)} kata sandi awal baru; lembar sebelumnya tidak berlaku lagi."
