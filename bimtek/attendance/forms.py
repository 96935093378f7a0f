"""Session, check-in and marking forms."""

import re

from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from bimtek.accounts.roles import BADAN
from bimtek.attendance.models import STATUS_LABELS
from bimtek.forms import MultiCheckboxField
from bimtek.web import db_int

_NIK_LINE = re.compile(r"[0-9]{16}", flags=re.ASCII)


class SessionForm(FlaskForm):
    # Checked below: a course of another office reads as a missing one.
    course_id = SelectField("Kursus", coerce=int, validate_choice=False)
    title = StringField(
        "Judul sesi", validators=[DataRequired("Judul wajib diisi."), Length(max=200)]
    )
    venue = StringField("Tempat", validators=[DataRequired("Tempat wajib diisi."), Length(max=200)])
    starts_at = DateTimeLocalField(
        "Mulai (waktu setempat)",
        format="%Y-%m-%dT%H:%M",
        validators=[DataRequired("Isi tanggal dan jam mulai.")],
    )
    ends_at = DateTimeLocalField(
        "Selesai (waktu setempat)",
        format="%Y-%m-%dT%H:%M",
        validators=[DataRequired("Isi tanggal dan jam selesai.")],
    )
    late_after_minutes = IntegerField(
        "Toleransi keterlambatan (menit setelah mulai)",
        default=15,
        validators=[NumberRange(0, 600, "Toleransi 0–600 menit.")],
    )
    checkin_opens_minutes = IntegerField(
        "Presensi dibuka (menit sebelum mulai)",
        default=60,
        validators=[NumberRange(0, 1440, "Isi 0–1440 menit.")],
    )
    invite_badan = MultiCheckboxField(
        "Undang badan",
        choices=[(b, b) for b in BADAN],
        description="Kosongkan untuk semua badan sasaran kursus.",
    )
    invite_kecamatan = MultiCheckboxField(
        "Undang kecamatan",
        choices=[],
        validate_choice=False,  # checked below, with a message in Indonesian
        description="Kosongkan untuk semua kecamatan.",
    )
    trainers = MultiCheckboxField("Pelatih/narasumber", coerce=int, choices=[])
    invite_niks = TextAreaField(
        "Undang juga (NIK, satu per baris)",
        validators=[Optional(), Length(max=200_000)],
        description="Untuk peserta di luar aturan di atas.",
    )

    def validate_ends_at(self, field):
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError("Waktu selesai harus setelah waktu mulai.")

    def validate_course_id(self, field):
        if field.data not in {value for value, _label in field.choices}:
            raise ValidationError("Kursus tidak ditemukan.")

    def validate_invite_kecamatan(self, field):
        allowed = {value for value, _label in field.choices}
        outside = [k for k in field.data or [] if k not in allowed]
        if outside:
            raise ValidationError(
                f"Kecamatan {', '.join(outside[:5])} tidak termasuk wilayah kantor ini."
            )

    def validate_invite_niks(self, field):
        for number, line in enumerate((field.data or "").splitlines(), start=1):
            value = line.strip()
            if value and not _NIK_LINE.fullmatch(value):
                raise ValidationError(f"Baris {number}: NIK harus 16 angka.")

    @property
    def niks(self) -> list[str]:
        seen = dict.fromkeys(v.strip() for v in (self.invite_niks.data or "").splitlines())
        return [v for v in seen if v]


class CheckInForm(FlaskForm):
    kode = StringField(
        "Kode presensi",
        validators=[DataRequired("Ketik 6 angka kode yang tampil di layar.")],
        render_kw={
            "inputmode": "numeric",
            "autocomplete": "one-time-code",
            "maxlength": "9",
            "pattern": "[0-9 ]*",
        },
    )
    session_id = HiddenField()
    via = HiddenField()


class MarkForm(FlaskForm):
    status = SelectField("Tandai sebagai", choices=list(STATUS_LABELS.items()))
    reason = StringField(
        "Alasan (wajib untuk izin dan sakit)", validators=[Optional(), Length(max=500)]
    )
    user_ids = SelectMultipleField(coerce=db_int, choices=[], validate_choice=False)
