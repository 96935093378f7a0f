"""Reading an office's cells (a NIK however it was typed, badan and jabatan by their usual
names, ASN yes/no, phone numbers) and finding the kecamatan and desa a row names, by name or
Kemendagri code, with the closest name suggested."""

import difflib
import re
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from bimtek.accounts import service
from bimtek.accounts.models import User
from bimtek.accounts.roles import JABATAN
from bimtek.extensions import db
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan

_BADAN_ALIASES = {
    "ppk": "PPK",
    "panitia pemilihan kecamatan": "PPK",
    "pps": "PPS",
    "panitia pemungutan suara": "PPS",
    "kpps": "KPPS",
    "kelompok penyelenggara pemungutan suara": "KPPS",
    "sekretariat ppk": "Sekretariat PPK",
    "sekre ppk": "Sekretariat PPK",
    "sekr ppk": "Sekretariat PPK",
    "setppk": "Sekretariat PPK",
    "sekretariat pps": "Sekretariat PPS",
    "sekre pps": "Sekretariat PPS",
    "sekr pps": "Sekretariat PPS",
    "setpps": "Sekretariat PPS",
}
_JABATAN_ALIASES = {j.casefold(): j for j in JABATAN} | {
    "staff": "Staf",
    "staf sekretariat": "Staf",
    "staff sekretariat": "Staf",
    "sekretaris sekretariat": "Sekretaris",
}
_YES = {"ya", "y", "yes", "asn", "pns", "pppk", "true", "1", "benar"}
_NO = {"tidak", "t", "no", "n", "bukan", "non asn", "non-asn", "false", "0", "-"}
KECAMATAN_KODE_RE = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}")
DESA_KODE_RE = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}")
# 3.57601E+15 or 3,57601E+15: a NIK after a trip through a numeric cell.
_SCIENTIFIC = re.compile(r"[0-9]+(?:[.,][0-9]+)?[eE]\+?[0-9]+")
_PREFIXES = ("kecamatan ", "kec ", "kelurahan ", "kel ", "desa ", "ds ")


# ---- reading cells ---------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A cell as tidy text: stray and non-breaking spaces collapsed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Ya" if value else "Tidak"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def cell_key(value: Any) -> str:
    """Case-, space- and punctuation-insensitive form of a name."""
    text = re.sub(r"[^0-9a-z]+", " ", cell_text(value).casefold())
    return " ".join(text.split())


def place_key(value: Any) -> str:
    """'Kec. Bone-Bone' and 'BONE BONE' → 'bone bone'; 'Kel. Kappuna' → 'kappuna'."""
    key = cell_key(value)
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def nik_from_cell(value: Any) -> tuple[str, str | None]:
    """(NIK text, problem). A numeric cell is refused: Excel keeps 15 significant digits, so the
    NIK in it is already damaged (and a leading zero is gone)."""
    if isinstance(value, bool):
        return "", "NIK harus 16 digit angka, bukan nilai benar/salah."
    if isinstance(value, int | float):
        shown = f"{float(value):.5E}"
        return "", (
            f"NIK tersimpan sebagai angka (tampil sebagai {shown}), bukan teks: Excel hanya "
            "menyimpan 15 digit dan membuang angka 0 di depan, jadi NIK ini sudah berubah. "
            "Format kolom NIK sebagai Teks, lalu ketik ulang NIK dari KTP."
        )
    text = (value or "").strip() if isinstance(value, str) else cell_text(value)
    text = text.lstrip("'")  # a typed apostrophe forces text in Excel; it is not part of the NIK
    if _SCIENTIFIC.fullmatch(text):  # the sheet went through a numeric cell (or a CSV) before
        return text, (
            f"NIK harus 16 digit; '{text}' adalah angka yang sudah dibulatkan Excel (digit "
            "belakang hilang). Format kolom NIK sebagai Teks lalu ketik ulang NIK dari KTP."
        )
    return text, service.nik_problem(text)


def read_badan(value: Any) -> str | None:
    key = cell_key(value)
    return _BADAN_ALIASES.get(key) or _BADAN_ALIASES.get(key.replace(" ", ""))


def read_jabatan(value: Any) -> str | None:
    key = cell_key(value)
    found = _JABATAN_ALIASES.get(key)
    if found is None:  # 'Ketua PPS', 'Anggota KPPS'
        head, _, tail = key.rpartition(" ")
        if tail in {"ppk", "pps", "kpps"}:
            found = _JABATAN_ALIASES.get(head)
    return found


def read_asn(value: Any) -> bool | None:
    """True/False, or None when the cell says neither (a problem if not blank)."""
    if isinstance(value, bool):
        return value
    key = cell_text(value).casefold()
    if key in _YES:
        return True
    if key in _NO or key == "":
        return False
    return None


def read_phone(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = cell_text(value)
        # A numeric cell drops the 0 of 08xx mobile numbers.
        return "0" + text if text.startswith("8") else text
    return cell_text(value)


# ---- wilayah ---------------------------------------------------------------------------------


class WilayahIndex:
    """Kecamatan loaded once; the desa of a kecamatan loaded the first time a row names it."""

    def __init__(self) -> None:
        self.kabupaten = {k.kode: k.nama for k in db.session.scalars(select(Kabupaten))}
        self.kecamatan_by_kode: dict[str, Kecamatan] = {
            k.kode: k for k in db.session.scalars(select(Kecamatan))
        }
        self.kecamatan_by_name: dict[str, list[Kecamatan]] = defaultdict(list)
        for kec in self.kecamatan_by_kode.values():
            self.kecamatan_by_name[place_key(kec.nama)].append(kec)
        self._desa_by_kec: dict[str, list[Desa]] = {}
        self._desa_by_kode: dict[str, Desa | None] = {}

    def desa_in(self, kecamatan_kode: str) -> list[Desa]:
        if kecamatan_kode not in self._desa_by_kec:
            desa = list(
                db.session.scalars(select(Desa).where(Desa.kecamatan_kode == kecamatan_kode))
            )
            self._desa_by_kec[kecamatan_kode] = desa
            for d in desa:
                self._desa_by_kode[d.kode] = d
        return self._desa_by_kec[kecamatan_kode]

    def desa(self, kode: str) -> Desa | None:
        if kode not in self._desa_by_kode:
            self._desa_by_kode[kode] = db.session.get(Desa, kode)
        return self._desa_by_kode[kode]

    def find_kecamatan(self, value: Any) -> tuple[Kecamatan | None, str | None]:
        text = cell_text(value)
        if not text:
            return None, "Kecamatan wajib diisi (nama atau kode, mis. 73.22.01)."
        kode = as_kode(text, KECAMATAN_KODE_RE, 6)
        if kode:
            found = self.kecamatan_by_kode.get(kode)
            return found, None if found else f"Kode kecamatan '{text}' tidak terdaftar."
        matches = self.kecamatan_by_name.get(place_key(text), [])
        if len(matches) == 1:
            return matches[0], None
        if matches:
            where = ", ".join(
                f"{self.kabupaten.get(k.kabupaten_kode, k.kabupaten_kode)} ({k.kode})"
                for k in matches
            )
            return None, (
                f"Nama kecamatan '{text}' ada di beberapa kabupaten/kota: {where}. "
                "Tulis kode kecamatannya."
            )
        close = difflib.get_close_matches(place_key(text), list(self.kecamatan_by_name), n=1)
        hint = f" Mungkin maksudnya: {self.kecamatan_by_name[close[0]][0].nama}?" if close else ""
        return None, f"Kecamatan '{text}' tidak terdaftar.{hint}"

    def find_desa(self, value: Any, kecamatan: Kecamatan) -> tuple[str | None, str | None]:
        """(desa kode, problem). A code from another kecamatan is returned as is: the shared
        rule in validate_participant names where that desa really is."""
        text = cell_text(value)
        kode = as_kode(text, DESA_KODE_RE, 10)
        if kode:
            return (
                (kode, None) if self.desa(kode) else (None, f"Kode desa '{text}' tidak terdaftar.")
            )
        key = place_key(text)
        in_kecamatan = self.desa_in(kecamatan.kode)
        matches = [d for d in in_kecamatan if place_key(d.nama) == key]
        if len(matches) > 1:  # a desa and a kelurahan of one name: the prefix decides
            wanted = "kelurahan" if cell_key(text).startswith("kel") else "desa"
            matches = [d for d in matches if d.jenis == wanted] or matches
        if len(matches) == 1:
            return matches[0].kode, None
        if matches:
            codes = ", ".join(d.kode for d in matches)
            return None, f"Ada beberapa desa/kelurahan bernama '{text}' ({codes}); tulis kodenya."
        message = f"Desa/kelurahan '{text}' tidak ada di Kecamatan {kecamatan.nama}."
        elsewhere = [
            kec.nama
            for kec in self.kecamatan_by_kode.values()
            if kec.kabupaten_kode == kecamatan.kabupaten_kode
            and kec.kode != kecamatan.kode
            and any(place_key(d.nama) == key for d in self.desa_in(kec.kode))
        ]
        if elsewhere:
            message += f" Nama itu ada di Kecamatan {', '.join(sorted(elsewhere))}."
        names = {place_key(d.nama): d.nama for d in in_kecamatan}
        close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
        if close:
            message += f" Nama terdekat di Kecamatan {kecamatan.nama}: {names[close[0]]}."
        return None, message


def as_kode(text: str, pattern: re.Pattern, digits: int) -> str | None:
    """'73.22.01' or '732201' → '73.22.01'; None if the text is not a code of that level."""
    if pattern.fullmatch(text):
        return text
    if text.isascii() and text.isdigit() and len(text) == digits:
        parts = [text[0:2], text[2:4], text[4:6]] + ([text[6:]] if digits == 10 else [])
        return ".".join(parts)
    return None


class PreloadedLookup(service.Lookup):
    def __init__(self, users: dict[str, User], wilayah: WilayahIndex):
        self.users = users
        self.wilayah = wilayah

    def user_by_nik(self, nik: str) -> User | None:
        return self.users.get(nik)

    def kecamatan(self, kode: str) -> Kecamatan | None:
        return self.wilayah.kecamatan_by_kode.get(kode)

    def desa(self, kode: str) -> Desa | None:
        return self.wilayah.desa(kode)
