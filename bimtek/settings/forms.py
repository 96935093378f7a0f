"""The "Pengaturan" form: office identity, signer, zone, certificate number format."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from bimtek import numbering
from bimtek.settings.service import KODE_KAB_RE, NIP_RE, ZONE_CHOICES


class SettingsForm(FlaskForm):
    name = StringField(
        "Nama kantor",
        validators=[DataRequired("Nama kantor wajib diisi."), Length(max=200)],
        description="Tercetak di kepala sertifikat dan daftar hadir, "
        "misalnya: KPU Kabupaten Luwu Utara.",
    )
    address_line = StringField(
        "Alamat kantor (satu baris, boleh kosong)",
        validators=[Optional(), Length(max=300)],
        description="Tercetak di bawah nama kantor pada daftar hadir.",
    )
    place = StringField(
        "Tempat penerbitan sertifikat",
        validators=[
            DataRequired("Isi tempat penerbitan, misalnya ibu kota kabupaten."),
            Length(max=100),
        ],  # fmt: skip
        description="Ditulis sebelum tanggal: \u201cMasamba, 26 Mei 2024\u201d.",
    )
    signer_name = StringField(
        "Nama penandatangan",
        validators=[DataRequired("Isi nama penandatangan sertifikat."), Length(max=200)],
    )
    signer_title = StringField(
        "Jabatan penandatangan",
        validators=[DataRequired("Isi jabatan penandatangan."), Length(max=200)],
        description="Misalnya: Ketua KPU Kabupaten Luwu Utara.",
    )
    signer_nip = StringField(
        "NIP penandatangan (kosongkan bila tidak ada)",
        validators=[Optional(), Regexp(NIP_RE, message="NIP hanya berisi angka.")],
        description="Tercetak di bawah nama: \u201cNIP. 19800101 200501 1 001\u201d.",
    )
    timezone = SelectField("Zona waktu kantor", choices=ZONE_CHOICES)
    cert_number_template = StringField(
        "Format nomor sertifikat",
        validators=[
            DataRequired("Format nomor sertifikat wajib diisi."),
            Length(max=numbering.MAX_LENGTH),
        ],  # fmt: skip
    )
    kode_kab = StringField(
        "Kode kabupaten/kota (untuk nomor sertifikat)",
        validators=[Optional(), Regexp(KODE_KAB_RE, message="Tulis seperti 73.22.")],
    )

    def validate_cert_number_template(self, field):
        try:
            numbering.validate_template(field.data)
        except numbering.NumberTemplateError as exc:
            raise ValidationError(str(exc)) from None


class PreviewForm(FlaskForm):
    """The button that renders a sample certificate: only the CSRF token travels."""
