"""Course forms."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange

from bimtek.accounts.roles import BADAN
from bimtek.forms import MultiCheckboxField


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
    offered_down = BooleanField(
        "Tawarkan ke KPU Kabupaten/Kota di bawah",
        default=False,
        description="Peserta setiap KPU Kabupaten/Kota di bawah kantor ini dapat mengikuti kursus "
        "ini; tiap kabupaten/kota menjalankan sesinya sendiri dan menerbitkan sertifikatnya "
        "sendiri (nomor, penandatangan dan tempat kantor tersebut).",
    )
    pretest_first = BooleanField(
        "Pre-test lebih dulu",
        default=True,
        description="Modul baru dapat dibuka setelah peserta mengirim pre-test, agar pre-test "
        "mengukur pengetahuan awal.",
    )
    posttest_after_modules = BooleanField(
        "Post-test setelah semua modul",
        default=True,
        description="Post-test baru dapat dimulai setelah peserta menandai semua modul selesai "
        "dibaca.",
    )
    parallel_forms = BooleanField(
        "Pre-test dan post-test tanpa soal yang sama",
        default=True,
        description="Soal tiap modul dibagi dua: pre-test diundi dari separuh pertama, post-test "
        "dari separuh lainnya. Jika bank soal terlalu kecil, post-test dapat memuat soal "
        "pre-test (halaman pengaturan kuis memberi tahu).",
    )
