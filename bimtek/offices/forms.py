"""The form that adds an office below the admin's own."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from bimtek.offices.models import KABKOTA, LEVEL_LABELS, PROVINSI


class OfficeForm(FlaskForm):
    level = SelectField(
        "Tingkat",
        choices=[(KABKOTA, LEVEL_LABELS[KABKOTA]), (PROVINSI, LEVEL_LABELS[PROVINSI])],
    )
    wilayah_kode = StringField(
        "Kode wilayah",
        validators=[Length(max=10)],
        description="Kode Kemendagri: 73 untuk provinsi, 73.24 untuk kabupaten/kota.",
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    name = StringField(
        "Nama kantor",
        validators=[Optional(), Length(max=200)],
        description="Kosongkan untuk nama bawaan dari wilayahnya (mis. KPU Kabupaten Luwu Timur).",
    )
