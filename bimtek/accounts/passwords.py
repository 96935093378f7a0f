"""Which passwords are too easy to guess. Pure functions: no database, no request.

Refused: shorter than MIN_LENGTH; one repeated digit or a run of digits; the most common
passwords (SecLists' 10,000 plus Indonesian ones, bimtek/data/, see COMMON-PASSWORDS-SOURCE.txt),
also with digits or signs added at the end ("bismillah123"); the NIK or part of it; the
account's username; the name or a part of it; a date (birth dates: 17081945, 1945-08-17,
17 Agustus 1945). Every reason is a sentence in Indonesian for the person choosing.
"""

import re
from datetime import date
from functools import cache
from pathlib import Path

MIN_LENGTH = 8
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
COMMON_FILES = ("common-passwords.txt", "common-passwords-id.txt")

TOO_SHORT = f"Kata sandi minimal {MIN_LENGTH} karakter."
DIGIT_RUN = "Kata sandi terlalu mudah ditebak: angka berulang atau berurutan."
COMMON = (
    "Kata sandi ini termasuk yang paling sering dipakai orang sehingga mudah ditebak. "
    "Pilih yang lain, misalnya gabungan beberapa kata yang hanya Anda ketahui."
)
HAS_NIK = "Kata sandi tidak boleh sama dengan NIK atau memuat bagian dari NIK."
HAS_USERNAME = "Kata sandi tidak boleh sama dengan nama pengguna."
IS_NAME = "Kata sandi tidak boleh berupa nama Anda atau bagian dari nama Anda."
IS_DATE = "Kata sandi tidak boleh berupa tanggal (misalnya tanggal lahir): mudah ditebak."

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("januari", "january", "jan"),
            ("februari", "february", "feb", "pebruari"),
            ("maret", "march", "mar"),
            ("april", "apr"),
            ("mei", "may"),
            ("juni", "june", "jun"),
            ("juli", "july", "jul"),
            ("agustus", "august", "agu", "agt", "aug"),
            ("september", "sep", "sept"),
            ("oktober", "october", "okt", "oct"),
            ("november", "nopember", "nov", "nop"),
            ("desember", "december", "des", "dec"),
        ],
        start=1,
    )
    for name in names
}
_SEP = r"[-/. _]?"
_DAY_MONTH_YEAR = re.compile(rf"(\d{{1,2}}){_SEP}(\d{{1,2}}|[a-z]+){_SEP}(\d{{4}}|\d{{2}})")
_YEAR_MONTH_DAY = re.compile(rf"(\d{{4}}){_SEP}(\d{{1,2}}|[a-z]+){_SEP}(\d{{1,2}})")
_TRAILING_NOISE = re.compile(r"[\W\d_]+$")
_ASCENDING = "01234567890123456789"


@cache
def common_passwords() -> frozenset[str]:
    words: set[str] = set()
    for name in COMMON_FILES:
        for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines():
            word = line.strip().lower()
            if word and not word.startswith("#"):
                words.add(word)
    return frozenset(words)


def _is_digit_run(password: str) -> bool:
    if not (password.isascii() and password.isdigit()):
        return False
    return len(set(password)) <= 2 or password in _ASCENDING or password in _ASCENDING[::-1]


def _base(password: str) -> str:
    """Lower case, without the digits and signs people add at the end."""
    return _TRAILING_NOISE.sub("", password.lower())


def is_common(password: str) -> bool:
    lowered = password.lower()
    common = common_passwords()
    if lowered in common or lowered.replace(" ", "") in common:
        return True
    base = _base(password)  # "bismillah123", "Rahasia!"
    return len(base) >= 4 and base != lowered and base in common


def _valid_date(day: int, month: int, year: int) -> bool:
    if year < 100:
        year += 1900 if year > 30 else 2000
    if not 1900 <= year <= 2099:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _month(token: str) -> int | None:
    return int(token) if token.isdigit() else MONTHS.get(token)


def is_date(password: str) -> bool:
    """The whole password is a date: 17081945, 1945-08-17, 08171945, 17 Agustus 1945."""
    text = password.strip().lower()
    if text.isascii() and text.isdigit() and len(text) == 8:
        dd, mm, yyyy = int(text[:2]), int(text[2:4]), int(text[4:])
        if _valid_date(dd, mm, yyyy) or _valid_date(mm, dd, yyyy):
            return True
        return _valid_date(int(text[6:]), int(text[4:6]), int(text[:4]))
    match = _DAY_MONTH_YEAR.fullmatch(text)
    if match:
        day, month, year = int(match[1]), _month(match[2]), int(match[3])
        if month is not None and (_valid_date(day, month, year) or _valid_date(month, day, year)):
            return True
    match = _YEAR_MONTH_DAY.fullmatch(text)
    if match:
        month = _month(match[2])
        return month is not None and _valid_date(int(match[3]), month, int(match[1]))
    return False


def _letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalpha())


def is_name(password: str, nama: str | None) -> bool:
    """The password, letters only, is the name, a part of it, or neighbouring parts together."""
    if not nama:
        return False
    parts = [p for p in re.split(r"[^\w]+|_", nama.lower()) if len(_letters(p)) >= 3]
    parts = [_letters(p) for p in parts]
    core = _letters(password)
    if len(core) < 3:
        return False
    runs = {"".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)}
    return core in runs or core == "".join(reversed(parts))


def has_nik(password: str, nik: str | None) -> bool:
    if not nik:
        return False
    digits = "".join(ch for ch in password if ch.isascii() and ch.isdigit())
    if nik in digits:
        return True
    # Mostly digits, and the digits are a stretch of the NIK (its last 8, its birth date...).
    return len(digits) >= 6 and len(digits) >= len(password) - 2 and digits in nik


def password_problem(
    password: str,
    *,
    nik: str | None = None,
    nama: str | None = None,
    username: str | None = None,
) -> str | None:
    """Why this password is too weak, in Indonesian, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return TOO_SHORT
    if has_nik(password, nik):
        return HAS_NIK
    if username and (password.lower() == username.lower() or _base(password) == _base(username)):
        return HAS_USERNAME
    if is_common(password):
        return COMMON
    if _is_digit_run(password):
        return DIGIT_RUN
    if is_name(password, nama):
        return IS_NAME
    if is_date(password):
        return IS_DATE
    return None
