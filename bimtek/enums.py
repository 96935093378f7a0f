"""The fixed vocabularies: one StrEnum each, shared by the models (CHECK constraints), forms and
rules, so a value is spelt in one place. A StrEnum member equals its string ("peserta"), so
values stored in the database and sent by forms compare directly."""

from enum import StrEnum


class Role(StrEnum):
    PESERTA = "peserta"
    PELATIH = "pelatih"
    ADMIN = "admin"


STAFF = (Role.ADMIN, Role.PELATIH)


class QuizKind(StrEnum):
    PRE = "pre"
    POST = "post"
    MODULE = "module"


class AttendanceStatus(StrEnum):
    HADIR = "hadir"
    TERLAMBAT = "terlambat"
    IZIN = "izin"
    SAKIT = "sakit"
    ALPA = "alpa"


class CheckinMethod(StrEnum):
    KODE = "kode"
    QR = "qr"
    MANUAL = "manual"


class MaterialKind(StrEnum):
    PDF = "pdf"
    PPTX = "pptx"
    DOCX = "docx"
    XLSX = "xlsx"
    PNG = "png"
    JPEG = "jpeg"


def one_of(column: str, values) -> str:
    """The SQL of a CHECK constraint allowing exactly these values (as the migrations wrote it)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"
