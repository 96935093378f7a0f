"""Account rules: NIK, participants, sign-in and passwords. No request, no flash."""

import re
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, update
from werkzeug.security import generate_password_hash

from bimtek import signals
from bimtek.accounts import hashing, passwords
from bimtek.accounts.models import SignInToken, User, audit
from bimtek.accounts.roles import BADAN, BADAN_NEEDS_DESA, JABATAN_BY_BADAN, ROLES
from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.offices.models import FIRST_OFFICE_ID
from bimtek.offices.service import label_of, region_offices
from bimtek.timeutil import utcnow
from bimtek.wilayah.models import Desa, Kecamatan

# [0-9], not \d: \d also matches fullwidth and Arabic-Indic digits.
NIK_RE = re.compile(r"[0-9]{16}")
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH
# Initial passwords are random (~59 bits), handed out on paper and must be changed at the first
# sign-in (which stores argon2id, bimtek/accounts/hashing.py). A cheap salted PBKDF2 is enough for them and
# lets an import issue thousands in seconds instead of an hour (scrypt: ~120 ms each here).
INITIAL_PASSWORD_METHOD = "pbkdf2:sha256:1000"  # noqa: S105 (a hash method)
# Stored for an imported account until its initial password is issued: matches no password.
NO_PASSWORD_YET = "!belum-ada-sandi-awal"  # noqa: S105 (matches no password)
# No 0/O, 1/l/I: initial passwords are read off paper at the venue.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 (an alphabet)


# Invisible characters a name picks up when pasted from a chat or a web page: removed, so the
# name is the same text the eye sees (and the same everywhere it is printed or searched).
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200d\u2060-\u2064\ufeff]")
# Characters that make a name display differently from what it stores (text direction
# overrides, as in "nama\u202egnaj") or that no keyboard types: refused, naming the character.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# What Excel shows for a failed formula: a cell exported as text keeps it.
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                          "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!",
                          "#CONNECT!", "#BUSY!", "#UNKNOWN!"})  # fmt: skip


def tidy_nama(value: str | None) -> str:
    """A name as stored: Unicode NFC (one code point for "é", however it was typed), invisible
    characters removed, runs of spaces (tabs, new lines, non-breaking spaces) made one space."""
    text = unicodedata.normalize("NFC", value or "")
    return " ".join(_INVISIBLE.sub("", text).split())


def nama_problem(nama: str) -> str | None:
    """Why a (tidied) name cannot be stored, or None."""
    if not nama:
        return "Nama wajib diisi."
    if len(nama) > 200:
        return "Nama paling panjang 200 karakter."
    if nama.upper() in EXCEL_ERRORS:
        return f"'{nama}' adalah tanda galat Excel, bukan nama. Ketik nama yang benar."
    for ch in nama:
        if _BIDI.match(ch):
            return (
                f"Nama memuat karakter pengatur arah teks yang tak terlihat (U+{ord(ch):04X}); "
                "nama akan tampil berbeda dari yang tersimpan. Ketik ulang namanya."
            )
        if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cn", "Cs"):
            return (
                f"Nama memuat karakter kendali yang tak terlihat (U+{ord(ch):04X}). "
                "Ketik ulang namanya."
            )
    return None


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


def password_problem(
    password: str,
    user: User | None = None,
    *,
    nik: str | None = None,
    nama: str | None = None,
    username: str | None = None,
) -> str | None:
    """Why this password may not be used (for `user`, or for an account still to be made)."""
    if user is not None:
        nik, nama, username = user.nik, user.nama, user.username
    problem = passwords.password_problem(password, nik=nik, nama=nama, username=username)
    if problem is None and user is not None and user.check_password(password):
        return "Kata sandi baru harus berbeda dari kata sandi lama."
    return problem


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


class Deactivated(Exception):
    """The password was right but the account is switched off (the office can switch it on)."""

    message = "Akun ini dinonaktifkan. Hubungi operator KPU bila Anda masih perlu masuk."


def check_credentials(login: str, password: str) -> User | None:
    """The user whose login and password match, else None. Reads only: the slow hash check
    runs with no write transaction open. Raises Deactivated for a switched-off account."""
    user = find_by_login(login)
    if user is None:
        # Same work as a real check, so timing does not reveal which accounts exist.
        hashing.verify_password(hashing.dummy_hash(), password)
        return None
    if not user.check_password(password):
        return None
    if not user.active:
        raise Deactivated(Deactivated.message)
    return user


@dataclass(frozen=True)
class HashUpgrade:
    """An old-scheme hash and its replacement, computed before any write lock is taken."""

    user_id: int
    old: str
    new: str


def hash_upgrade(user: User, password: str) -> HashUpgrade | None:
    """After a successful check: the new-scheme hash to store, if the stored one is older
    (werkzeug scrypt, the pbkdf2 initial passwords). Hashes here, with no write lock held."""
    if not hashing.needs_upgrade(user.password_hash):
        return None
    return HashUpgrade(user.id, user.password_hash, hashing.hash_password(password))


def record_sign_in(user: User, upgrade: HashUpgrade | None = None) -> None:
    """The write after a successful check: one short transaction. The upgrade applies only if
    the hash is still the one that was checked (a password change in between wins)."""
    user.last_login_at = utcnow()
    if upgrade is not None:
        db.session.execute(
            update(User)
            .where(User.id == upgrade.user_id, User.password_hash == upgrade.old)
            .values(password_hash=upgrade.new)
        )


def authenticate(login: str, password: str) -> User | None:
    """The user if login and password match an active account, else None (CLI and tests)."""
    try:
        user = check_credentials(login, password)
    except Deactivated:
        return None
    if user is not None:
        record_sign_in(user, hash_upgrade(user, password))
    return user


def change_password(user: User, new_password: str) -> None:
    problem = password_problem(new_password, user)
    if problem:
        raise AccountError(problem, "new_password")
    user.set_password(new_password)
    user.must_change_password = False
    user.end_all_sessions()
    # The QR code on the sheet or slip stops working once the person has their own password.
    db.session.execute(delete(SignInToken).where(SignInToken.user_id == user.id))
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


def same_office(a: int | None, b: int | None) -> bool:
    """NULL office is the first office (rows written before offices existed)."""
    return (a or FIRST_OFFICE_ID) == (b or FIRST_OFFICE_ID)


def kecamatan_office_problem(kecamatan: Kecamatan, office_id: int) -> str | None:
    """Why an office may not register a participant of this kecamatan: a participant belongs
    to the kabupaten/kota office of their kecamatan (a single unbound office takes them all)."""
    owner = region_offices().for_kecamatan(kecamatan.kode)
    if owner is not None and same_office(owner, office_id):
        return None
    where = f"Kecamatan {kecamatan.nama} ({kecamatan.kode})"
    if owner is None:
        return f"{where} belum termasuk wilayah kantor mana pun, jadi belum dapat didaftarkan."
    return (
        f"{where} termasuk wilayah {label_of(owner)}, bukan wilayah kantor Anda; peserta "
        "dari sana didaftarkan oleh kantor tersebut."
    )


def validate_participant(
    data: ParticipantData,
    existing: User | None = None,
    lookup: Lookup | None = None,
    office_id: int | None = None,
) -> dict[str, str]:
    """Field -> message for every rule the data breaks (empty when valid). With `office_id`
    (the office registering the participant) also: the kecamatan lies in that office's
    region, and the NIK is not a participant of another office."""
    lookup = lookup or Lookup()
    problems: dict[str, str] = {}
    problem = nama_problem(tidy_nama(data.nama))
    if problem:
        problems["nama"] = problem
    nik_msg = nik_problem(data.nik)
    if nik_msg:
        problems["nik"] = nik_msg
    else:
        other = lookup.user_by_nik(data.nik)
        if other is not None and other is not existing:
            problems["nik"] = "NIK ini sudah terdaftar atas nama peserta lain."
        elif (
            other is not None
            and office_id is not None
            and other.role == Role.PESERTA
            and not same_office(other.office_id, office_id)
        ):
            problems["nik"] = (
                f"NIK ini sudah terdaftar sebagai peserta {label_of(other.office_id)}; "
                "datanya tidak diubah dari sini. Hubungi kantor tersebut bila orang ini pindah."
            )
    if data.badan not in BADAN:
        problems["badan"] = "Pilih badan: " + ", ".join(BADAN) + "."
    elif data.jabatan not in JABATAN_BY_BADAN[data.badan]:
        problems["jabatan"] = (
            f"Jabatan untuk {data.badan}: " + " atau ".join(JABATAN_BY_BADAN[data.badan]) + "."
        )
    kecamatan = lookup.kecamatan(data.kecamatan_kode) if data.kecamatan_kode else None
    if kecamatan is None:
        problems["kecamatan_kode"] = "Pilih kecamatan yang terdaftar."
    elif office_id is not None and (problem := kecamatan_office_problem(kecamatan, office_id)):
        problems["kecamatan_kode"] = problem
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


def create_participant(
    data: ParticipantData,
    actor: User | None,
    password: str | None = None,
    office_id: int | None = None,
):
    """Create a peserta who must change the password at first sign-in; with `office_id`, only
    one of that office's region (see validate_participant).

    Returns (user, initial_password). Raises AccountError naming the first problem.
    """
    problems = validate_participant(data, office_id=office_id)
    if problems:
        field, message = next(iter(problems.items()))
        raise AccountError(message, field)
    initial = password or generate_initial_password()
    user = User(
        nama=tidy_nama(data.nama),
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
    role: str,
    username: str,
    nama: str,
    password: str,
    actor: User | None = None,
    office_id: int | None = None,
) -> User:
    """An admin or pelatih account (signs in with a username) of `office_id` (default: the
    actor's office)."""
    if role not in ROLES or role == "peserta":
        raise AccountError("Peran harus admin atau pelatih.", "role")
    username = (username or "").strip().lower()
    problem = username_problem(username)
    if problem:
        raise AccountError(problem, "username")
    if db.session.scalars(select(User).where(User.username == username)).first():
        raise AccountError(f"Nama pengguna '{username}' sudah dipakai.", "username")
    nama = " ".join((nama or username).split())
    problem = password_problem(password, username=username, nama=nama)
    if problem:
        raise AccountError(problem, "password")
    user = User(
        nama=nama,
        username=username,
        role=role,
        must_change_password=False,
        office_id=office_id or getattr(actor, "office_id", None),
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit(actor, f"{role}.create", "user", user.id, username=username)
    return user


# ---- the office helps an account: edit, reset, deactivate, reactivate -------------------------

NORMALISED_FIELDS = (
    "nama", "nik", "badan", "jabatan", "kecamatan_kode", "desa_kode", "is_asn", "phone"
)  # fmt: skip


def participant_data(user: User) -> ParticipantData:
    return ParticipantData(
        nama=user.nama,
        nik=user.nik or "",
        badan=user.badan or "",
        jabatan=user.jabatan or "",
        kecamatan_kode=user.kecamatan_kode or "",
        desa_kode=user.desa_kode,
        is_asn=user.is_asn,
        phone=user.phone,
    )


def update_participant(
    user: User, data: ParticipantData, actor: User | None, office_id: int | None = None
) -> list[str]:
    """Apply the admin's edits with the same rules as creation; return the changed fields.

    The row stays the same, so a new NIK keeps the participant's attempts, attendance and
    certificates (they point at the user id, never at the NIK).
    """
    if user.role != Role.PESERTA:
        raise AccountError("Hanya data peserta yang diubah di sini.")
    problems = validate_participant(data, existing=user, office_id=office_id)
    if problems:
        field, message = next(iter(problems.items()))
        raise AccountError(message, field)
    new = {
        "nama": tidy_nama(data.nama),
        "nik": data.nik,
        "badan": data.badan,
        "jabatan": data.jabatan,
        "kecamatan_kode": data.kecamatan_kode,
        "desa_kode": data.desa_kode or None,
        "is_asn": bool(data.is_asn),
        "phone": data.phone or None,
    }
    changed = [field for field in NORMALISED_FIELDS if getattr(user, field) != new[field]]
    if not changed:
        return []
    detail: dict = {"fields": changed}
    if "nik" in changed:  # personal data: the audit keeps the last four digits only
        detail["nik"] = [f"…{user.nik[-4:]}" if user.nik else None, f"…{new['nik'][-4:]}"]
    for field in changed:
        setattr(user, field, new[field])
    if "kecamatan_kode" in changed:  # the participant belongs to their kecamatan's office
        user.office_id = user.owning_office_id() or user.office_id
    audit(actor, "peserta.update", "user", user.id, **detail)
    return changed


def reset_password(user: User, actor: User | None) -> str:
    """A new random initial password, returned once and stored only as a hash. The user must
    change it at the next sign-in, and every session of theirs ends now."""
    initial = generate_initial_password()
    user.password_hash = hash_initial_password(initial)
    user.must_change_password = True
    user.end_all_sessions()
    audit(actor, "user.reset_password", "user", user.id)
    return initial


def _active_admins() -> int:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active.is_(True))
    )


def deactivate(user: User, actor: User | None) -> bool:
    """Switch an account off: it cannot sign in and is nobody's invitee. False if it already was."""
    if actor is not None and actor.id == user.id:
        raise AccountError("Anda tidak dapat menonaktifkan akun Anda sendiri.")
    if not user.active:
        return False
    if user.role == Role.ADMIN and _active_admins() <= 1:
        raise AccountError("Ini admin aktif terakhir: buat atau aktifkan admin lain dulu.")
    user.active = False
    user.end_all_sessions()
    # Features holding something for the user (e.g. open session invitations) withdraw it.
    withdrawn = sum(result or 0 for _receiver, result in signals.account_deactivated.send(user))
    audit(actor, "user.deactivate", "user", user.id, invitations_withdrawn=withdrawn)
    return True


def reactivate(user: User, actor: User | None) -> bool:
    if user.active:
        return False
    user.active = True
    audit(actor, "user.reactivate", "user", user.id)
    return True


def record_unlock(user: User, actor: User | None) -> None:
    """Audit that the sign-in lock was lifted (signin_lock.unlock clears the counters)."""
    audit(actor, "user.unlock", "user", user.id)


@signals.office_created.connect
def _audit_new_office(office, actor=None, **_kwargs) -> None:
    audit(actor, "office.create", "office", office.id, level=office.level,
          wilayah_kode=office.wilayah_kode, parent_id=office.parent_id)  # fmt: skip


def find_account(ref: str) -> User | None:
    """A NIK, a username, or '#id' (as `bimtek user list` prints it)."""
    ref = (ref or "").strip()
    if ref.startswith("#") and ref[1:].isdigit():
        return db.session.get(User, int(ref[1:]))
    return find_by_login(ref)


# Rows per statement when an import or a credentials sheet writes many users at once.
BULK_ROWS = 1000


def update_users_in_bulk(values: list[dict]) -> None:
    """UPDATE many users by primary key (dicts with "id"), BULK_ROWS per statement; the bulk
    UPDATE bypasses the loaded objects, so those are reloaded on next use."""
    for start in range(0, len(values), BULK_ROWS):
        db.session.execute(update(User), values[start : start + BULK_ROWS])
    ids = {v["id"] for v in values}
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, User) and obj.id in ids:
            db.session.expire(obj)
