"""Account rules: NIK, participants, sign-in and passwords. No request, no flash."""

import re
import secrets
from dataclasses import dataclass
from functools import cache

from sqlalchemy import or_, select
from werkzeug.security import check_password_hash, generate_password_hash

from bimtek.accounts.models import User, audit
from bimtek.accounts.roles import BADAN, BADAN_NEEDS_DESA, JABATAN_BY_BADAN, ROLES
from bimtek.extensions import db
from bimtek.timeutil import utcnow
from bimtek.wilayah.models import Desa, Kecamatan

# [0-9], not \d: \d also matches fullwidth and Arabic-Indic digits.
NIK_RE = re.compile(r"[0-9]{16}")
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MIN_PASSWORD_LENGTH = 8
# Initial passwords are random (~59 bits), handed out on paper and must be changed at the first
# sign-in (which stores werkzeug's default scrypt). A cheap salted PBKDF2 is enough for them and
# lets an import issue thousands in seconds instead of an hour (scrypt: ~120 ms each here).
INITIAL_PASSWORD_METHOD = "pbkdf2:sha256:1000"  # noqa: S105 (a hash method)
# Stored for an imported account until its initial password is issued: matches no password.
NO_PASSWORD_YET = "!belum-ada-sandi-awal"  # noqa: S105 (matches no password)
# No 0/O, 1/l/I: initial passwords are read off paper at the venue.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 (an alphabet)


class AccountError(ValueError):
    """A rule was broken; the message is for the user, in Indonesian."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def nik_problem(value: str) -> str | None:
    """Why this NIK is not acceptable, or None. fullmatch: '$' would accept a trailing newline."""
    if value is None or value == "":
        return "NIK wajib diisi."
    if NIK_RE.fullmatch(value):
        return None
    if not value.isascii() and any(ch.isdigit() for ch in value):
        return "NIK hanya boleh berisi angka 0–9 biasa (bukan angka dari papan ketik lain)."
    digits = sum(ch in "0123456789" for ch in value)
    if digits == len(value):
        return f"NIK harus 16 digit; yang diisi {digits} digit."
    return "NIK harus 16 digit angka 0–9, tanpa huruf, spasi atau tanda baca."


def username_problem(value: str) -> str | None:
    if not USERNAME_RE.fullmatch(value or ""):
        return (
            "Nama pengguna 3–64 karakter: huruf kecil, angka, titik, '-' atau '_', "
            "diawali huruf atau angka."
        )
    if NIK_RE.fullmatch(value):
        return "Nama pengguna tidak boleh berupa 16 digit angka (itu format NIK)."
    return None


def password_problem(password: str, user: User | None = None) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Kata sandi minimal {MIN_PASSWORD_LENGTH} karakter."
    if password.isdigit() and len(set(password)) <= 2:
        return "Kata sandi terlalu mudah ditebak."
    if user is not None:
        if password in {user.nik, user.username}:
            return "Kata sandi tidak boleh sama dengan NIK atau nama pengguna."
        if user.check_password(password):
            return "Kata sandi baru harus berbeda dari kata sandi lama."
    return None


def generate_initial_password() -> str:
    """Random, never derived from NIK or birth date: xxxx-xxxx-xxxx."""
    chars = [secrets.choice(_PASSWORD_ALPHABET) for _ in range(12)]
    return "-".join("".join(chars[i : i + 4]) for i in range(0, 12, 4))


def find_by_login(login: str) -> User | None:
    login = (login or "").strip()
    if not login:
        return None
    return db.session.scalars(
        select(User).where(or_(User.nik == login, User.username == login.lower()))
    ).first()


def authenticate(login: str, password: str) -> User | None:
    """The user if login and password match an active account, else None."""
    user = find_by_login(login)
    if user is None:
        # Same work as a real check, so timing does not reveal which accounts exist.
        check_password_hash(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    user.last_login_at = utcnow()
    return user


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def change_password(user: User, new_password: str) -> None:
    problem = password_problem(new_password, user)
    if problem:
        raise AccountError(problem, "new_password")
    user.set_password(new_password)
    user.must_change_password = False
    user.end_all_sessions()
    audit(user, "password.change", "user", user.id)


@dataclass
class ParticipantData:
    nama: str
    nik: str
    badan: str
    jabatan: str
    kecamatan_kode: str
    desa_kode: str | None = None
    is_asn: bool = False
    phone: str | None = None


class Lookup:
    """Where validate_participant finds existing rows: the database, one query each.

    The importer passes a preloaded subclass so 30,000 rows do not cost 90,000 queries.
    """

    def user_by_nik(self, nik: str) -> User | None:
        return db.session.scalars(select(User).where(User.nik == nik)).first()

    def kecamatan(self, kode: str) -> Kecamatan | None:
        return db.session.get(Kecamatan, kode)

    def desa(self, kode: str) -> Desa | None:
        return db.session.get(Desa, kode)


def validate_participant(
    data: ParticipantData, existing: User | None = None, lookup: Lookup | None = None
) -> dict[str, str]:
    """Field -> message for every rule the data breaks (empty when valid)."""
    lookup = lookup or Lookup()
    problems: dict[str, str] = {}
    nama = " ".join((data.nama or "").split())
    if not nama:
        problems["nama"] = "Nama wajib diisi."
    elif len(nama) > 200:
        problems["nama"] = "Nama paling panjang 200 karakter."
    nik_msg = nik_problem(data.nik)
    if nik_msg:
        problems["nik"] = nik_msg
    else:
        other = lookup.user_by_nik(data.nik)
        if other is not None and other is not existing:
            problems["nik"] = "NIK ini sudah terdaftar atas nama peserta lain."
    if data.badan not in BADAN:
        problems["badan"] = "Pilih badan: " + ", ".join(BADAN) + "."
    elif data.jabatan not in JABATAN_BY_BADAN[data.badan]:
        problems["jabatan"] = (
            f"Jabatan untuk {data.badan}: " + " atau ".join(JABATAN_BY_BADAN[data.badan]) + "."
        )
    kecamatan = lookup.kecamatan(data.kecamatan_kode) if data.kecamatan_kode else None
    if kecamatan is None:
        problems["kecamatan_kode"] = "Pilih kecamatan yang terdaftar."
    if data.desa_kode:
        desa = lookup.desa(data.desa_kode)
        if desa is None:
            problems["desa_kode"] = "Desa/kelurahan tidak terdaftar."
        elif kecamatan is not None and desa.kecamatan_kode != kecamatan.kode:
            problems["desa_kode"] = (
                f"{desa.label} tidak berada di Kecamatan {kecamatan.nama}; "
                f"desa itu ada di Kecamatan {desa.kecamatan.nama}."
            )
    elif data.badan in BADAN_NEEDS_DESA:
        problems["desa_kode"] = f"Desa/kelurahan wajib diisi untuk {data.badan}."
    if data.phone and not re.fullmatch(r"\+?[0-9][0-9 -]{6,20}", data.phone, flags=re.ASCII):
        problems["phone"] = "Nomor HP hanya angka, spasi, '-' dan boleh diawali '+'."
    return problems


def hash_initial_password(password: str) -> str:
    return generate_password_hash(password, method=INITIAL_PASSWORD_METHOD)


def create_participant(data: ParticipantData, actor: User | None, password: str | None = None):
    """Create a peserta who must change the password at first sign-in.

    Returns (user, initial_password). Raises AccountError naming the first problem.
    """
    problems = validate_participant(data)
    if problems:
        field, message = next(iter(problems.items()))
        raise AccountError(message, field)
    initial = password or generate_initial_password()
    user = User(
        nama=" ".join(data.nama.split()),
        nik=data.nik,
        role="peserta",
        badan=data.badan,
        jabatan=data.jabatan,
        kecamatan_kode=data.kecamatan_kode,
        desa_kode=data.desa_kode or None,
        is_asn=data.is_asn,
        phone=(data.phone or None),
        must_change_password=True,
    )
    user.set_password(initial)
    db.session.add(user)
    db.session.flush()
    audit(actor, "peserta.create", "user", user.id, nama=user.nama)
    return user, initial


def create_staff(
    role: str, username: str, nama: str, password: str, actor: User | None = None
) -> User:
    """An admin or pelatih account (signs in with a username)."""
    if role not in ROLES or role == "peserta":
        raise AccountError("Peran harus admin atau pelatih.", "role")
    username = (username or "").strip().lower()
    problem = username_problem(username)
    if problem:
        raise AccountError(problem, "username")
    if db.session.scalars(select(User).where(User.username == username)).first():
        raise AccountError(f"Nama pengguna '{username}' sudah dipakai.", "username")
    problem = password_problem(password)
    if problem:
        raise AccountError(problem, "password")
    user = User(
        nama=" ".join((nama or username).split()),
        username=username,
        role=role,
        must_change_password=False,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit(actor, f"{role}.create", "user", user.id, username=username)
    return user
