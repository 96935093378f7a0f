"""Certificate forms: the completion rule, reasons, the pakta integritas."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from bimtek import numbering

# How attendance counts, said wherever the rule is set or shown. The arithmetic is unchanged:
# attended (hadir, terlambat) / sessions invited to that have started.
ATTENDANCE_COUNTING = (
    "Dihitung dari sesi tatap muka kursus ini yang sudah dimulai dan mengundang peserta itu. "
    "Hadir dan terlambat dihitung hadir. Izin dan sakit, walaupun dengan alasan, dihitung "
    "tidak hadir, sama seperti alpa."
)


class RuleForm(FlaskForm):
    require_modules = BooleanField("Semua modul kursus wajib dibaca")
    require_post_pass = BooleanField("Post-test wajib lulus (nilai ≥ batas lulus post-test)")
    min_attendance_pct = IntegerField(
        "Kehadiran minimal (% dari sesi tatap muka yang sudah berlangsung)",
        default=0,
        validators=[
            InputRequired("Isi kehadiran minimal (0 bila tidak disyaratkan)."),
            NumberRange(0, 100, "Kehadiran minimal harus 0–100%%."),
        ],
        description=ATTENDANCE_COUNTING,
    )
    pakta_text = TextAreaField(
        "Teks pakta integritas (kosongkan bila tidak diperlukan)",
        validators=[Length(max=5000, message="Teks pakta integritas maksimal 5.000 karakter.")],
        description="Peserta mengonfirmasi teks ini setelah semua modul selesai dibaca.",
    )
    auto_issue = BooleanField("Terbitkan sertifikat otomatis begitu syarat terpenuhi")
    cert_number_template = StringField(
        "Format nomor sertifikat khusus kursus ini (kosongkan untuk format kantor)",
        validators=[Optional(), Length(max=numbering.MAX_LENGTH)],
        description="Kosongkan bila nomor kantor sudah sesuai. Cara menulisnya dijelaskan di bawah.",
    )

    def validate_cert_number_template(self, field):
        if field.data and field.data.strip():
            try:
                numbering.validate_template(field.data)
            except numbering.NumberTemplateError as exc:
                raise ValidationError(str(exc)) from None


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        "Alasan",
        validators=[
            DataRequired("Tuliskan alasannya."),
            Length(min=5, max=500, message="Alasan 5–500 karakter."),
        ],
    )


class PaktaForm(FlaskForm):
    agree = BooleanField(
        "Saya telah membaca dan menyetujui pakta integritas ini.",
        validators=[DataRequired("Centang pernyataan persetujuan untuk mengonfirmasi.")],
    )


class BulkIssueForm(FlaskForm):
    kecamatan = HiddenField(validators=[DataRequired()])
    # Shown only while BIMTEK_PUBLIC_URL is a loopback address; the label names the address.
    confirm_loopback = BooleanField()
    # Issuing takes numbers from the sequence for good: the admin says so explicitly.
    confirm = BooleanField(
        "Saya mengerti bahwa sertifikat ini langsung terbit dan mendapat nomor urut tetap. "
        "Sertifikat yang sudah terbit tidak dapat dibatalkan, hanya dicabut dengan alasan.",
        validators=[DataRequired("Centang pernyataan di atas tombol untuk menerbitkan.")],
    )
