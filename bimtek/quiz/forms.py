"""Quiz settings form."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from bimtek.quiz.models import QUIZ_KIND_LABELS, REVIEW_LABELS
from bimtek.web import db_int


class QuizForm(FlaskForm):
    kind = SelectField("Jenis", choices=list(QUIZ_KIND_LABELS.items()))
    module_id = SelectField(
        "Modul (untuk kuis modul)", choices=[], coerce=db_int, validate_choice=False
    )
    title = StringField("Judul", validators=[DataRequired("Judul wajib diisi."), Length(max=200)])
    draw_count = IntegerField(
        "Jumlah soal", default=20, validators=[NumberRange(1, 200, "Jumlah soal harus 1–200.")]
    )
    shuffle_questions = BooleanField("Acak urutan soal", default=True)
    shuffle_options = BooleanField("Acak urutan pilihan", default=True)
    time_limit_minutes = IntegerField(
        "Batas waktu (menit, kosong = tanpa batas)",
        validators=[Optional(), NumberRange(1, 600, "Batas waktu harus 1–600 menit.")],
    )
    attempts_allowed = IntegerField(
        "Kesempatan mengerjakan",
        default=1,
        validators=[NumberRange(1, 20, "Kesempatan mengerjakan 1–20 kali.")],
    )
    pass_mark = IntegerField(
        "Nilai lulus", default=70, validators=[NumberRange(0, 100, "Nilai lulus harus 0–100.")]
    )
    review_policy = SelectField(
        "Pembahasan", choices=list(REVIEW_LABELS.items()), default="after_last"
    )
    opens_at = DateTimeLocalField(
        "Dibuka (waktu setempat)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    closes_at = DateTimeLocalField(
        "Ditutup (waktu setempat)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    active = BooleanField("Aktif", default=True)
