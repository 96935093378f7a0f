"""Initial passwords for the accounts an import created, issued when the office downloads the
credentials sheet (again: new ones, the earlier sheet no longer works)."""

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from bimtek.accounts import service
from bimtek.accounts.import_cells import WilayahIndex
from bimtek.accounts.models import ImportedAccount, ParticipantImport, User, audit
from bimtek.extensions import db

# ---- initial passwords -----------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    kecamatan: str
    desa: str
    nama: str
    nik: str
    badan: str
    jabatan: str
    password: str


def never_signed_in(record: ParticipantImport):
    """The accounts this import created that nobody has signed in to yet."""
    return (
        select(User)
        .join(ImportedAccount, ImportedAccount.user_id == User.id)
        .where(
            ImportedAccount.import_id == record.id,
            User.last_login_at.is_(None),
            User.must_change_password.is_(True),
            User.active.is_(True),
        )
    )


def issue_initial_passwords(record: ParticipantImport, actor: User | None) -> list[Credential]:
    """New random initial passwords for the import's accounts that never signed in.

    Only hashes are stored; the plaintext exists in the returned list alone, for the sheet.
    Issuing again replaces the passwords, so an earlier sheet stops working. Caller commits.
    """
    users = list(db.session.scalars(never_signed_in(record).order_by(User.id)))
    wilayah = WilayahIndex()
    credentials: list[Credential] = []
    values: list[dict] = []
    for user in users:
        password = service.generate_initial_password()
        values.append(
            {
                "id": user.id,
                "password_hash": service.hash_initial_password(password),
                "session_token": secrets.token_urlsafe(32),
            }
        )
        kec = wilayah.kecamatan_by_kode.get(user.kecamatan_kode or "")
        desa = wilayah.desa(user.desa_kode) if user.desa_kode else None
        credentials.append(
            Credential(
                kecamatan=kec.nama if kec else "Tanpa kecamatan",
                desa=desa.label if desa else "",
                nama=user.nama,
                nik=user.nik or "",
                badan=user.badan or "",
                jabatan=user.jabatan or "",
                password=password,
            )
        )
    service.update_users_in_bulk(values)
    audit(actor, "peserta.initial_passwords", "participant_import", record.id, count=len(values))
    return credentials
