"""Course forms."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange
from wtforms.widgets import CheckboxInput, ListWidget

from bimtek.accounts.roles import BADAN


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CourseForm(FlaskForm):
    title = StringField(
        "Judul kursus", validators=[DataRequired("Judul wajib diisi."), Length(max=200)]
    )
    description = TextAreaField("Deskripsi", validators=[Length(max=5000)])
    audience = MultiCheckboxField(
        "Badan sasaran",
        choices=[(b, b) for b in BADAN],
        validators=[DataRequired("Pilih minimal satu badan sasaran.")],
    )
    hours_jp = IntegerField(
        "Jam pelajaran (JP)",
        default=0,
        validators=[NumberRange(0, 200, "Jumlah JP harus 0–200.")],
    )
    modules = MultiCheckboxField(
        "Modul (urut sesuai nomor modul)",
        coerce=int,
        validators=[DataRequired("Pilih minimal satu modul.")],
    )
    active = BooleanField("Aktif (tampil bagi peserta)", default=True)


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""
