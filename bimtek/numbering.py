"""Certificate numbers from an office's template, e.g. '{seq:04d}/PP.04-SD/{kode_kab}/{tahun}'.

Pure: the sequence itself comes from the counter row (service.next_seq).
"""

import string
from dataclasses import dataclass

FIELDS = {
    "seq": "nomor urut",
    "kode_kab": "kode kabupaten/kota",
    "tahun": "tahun terbit",
    "bulan": "bulan terbit (1–12)",
    "bulan_romawi": "bulan terbit dalam angka Romawi (I–XII)",
    "kursus": "nomor kursus",
}
ROMAN_MONTHS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
MAX_LENGTH = 120


class NumberTemplateError(ValueError):
    pass


@dataclass(frozen=True)
class NumberFields:
    seq: int
    kode_kab: str
    tahun: int
    bulan: int
    kursus: int

    def as_dict(self) -> dict:
        return {
            "seq": self.seq,
            "kode_kab": self.kode_kab,
            "tahun": self.tahun,
            "bulan": self.bulan,
            "bulan_romawi": ROMAN_MONTHS[self.bulan - 1],
            "kursus": self.kursus,
        }


def validate_template(template: str) -> str:
    """The template, stripped; NumberTemplateError (Indonesian) when it cannot number."""
    template = (template or "").strip()
    if not template:
        raise NumberTemplateError("Format nomor sertifikat wajib diisi.")
    if len(template) > MAX_LENGTH:
        raise NumberTemplateError(f"Format nomor terlalu panjang (maksimal {MAX_LENGTH} karakter).")
    allowed = ", ".join("{" + name + "}" for name in FIELDS)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise NumberTemplateError(
            "Format nomor tidak sah: kurung kurawal { } tidak berpasangan. "
            "Tulis {{ atau }} untuk kurung kurawal biasa."
        ) from None
    names = [name for _, name, _, _ in parsed if name is not None]
    for name in names:
        if name not in FIELDS:
            shown = "{" + name + "}" if name else "{}"
            raise NumberTemplateError(
                f"Kolom {shown} tidak dikenal dalam format nomor. Kolom yang tersedia: {allowed}."
            )
    if "seq" not in names:
        raise NumberTemplateError(
            "Format nomor harus memuat {seq} (nomor urut), misalnya {seq:04d}, "
            "agar setiap sertifikat bernomor berbeda."
        )
    try:
        format_number(template, NumberFields(1, "73.22", 2024, 5, 1))
    except (ValueError, TypeError) as exc:
        raise NumberTemplateError(
            f"Format nomor tidak sah ({exc}). Contoh yang benar: {{seq:04d}}/PP.04-SD/{{kode_kab}}/{{tahun}}."
        ) from None
    return template


def example_fields(kode_kab: str, tahun: int, bulan: int, kursus: int) -> NumberFields:
    """The first certificate of the year, for showing an operator what a template gives."""
    return NumberFields(1, kode_kab or "73.22", tahun, bulan, kursus)


def explained_fields(fields: NumberFields) -> list[tuple[str, str, str]]:
    """(how to write it, what it is in words, what it gives here), for the rule page."""
    values = fields.as_dict()
    rows = [
        ("{seq:04d}", "nomor urut, selalu empat angka (nol di depan)", f"{fields.seq:04d}"),
        ("{seq}", "nomor urut tanpa nol di depan", str(fields.seq)),
    ]
    rows += [
        ("{" + name + "}", words, str(values[name]))
        for name, words in FIELDS.items()
        if name != "seq"
    ]
    return rows


def format_number(template: str, fields: NumberFields) -> str:
    return template.format(**fields.as_dict())
