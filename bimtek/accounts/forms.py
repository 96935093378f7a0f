"""Account forms. They validate; they never write."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from bimtek.accounts import service
from bimtek.accounts.roles import BADAN, JABATAN
from bimtek.forms import ConfirmForm
from bimtek.spreadsheet import XLSX_MEDIA_TYPE


class LoginForm(FlaskForm):
    username = StringField(
        "NIK atau nama pengguna",
        validators=[DataRequired("Isi NIK atau nama pengguna."), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    password = PasswordField(
        "Kata sandi",
        validators=[DataRequired("Isi kata sandi."), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Kata sandi saat ini",
        validators=[DataRequired("Isi kata sandi saat ini.")],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "Kata sandi baru",
        validators=[DataRequired("Isi kata sandi baru."), Length(max=200)],
        render_kw={"autocomplete": "new-password", "minlength": service.MIN_PASSWORD_LENGTH},
    )
    confirm = PasswordField(
        "Ulangi kata sandi baru",
        validators=[
            DataRequired("Ulangi kata sandi baru."),
            EqualTo("new_password", "Kedua kata sandi baru tidak sama."),
        ],
        render_kw={"autocomplete": "new-password"},
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def validate_current_password(self, field):
        if not self.user.check_password(field.data):
            raise ValidationError("Kata sandi saat ini salah.")

    def validate_new_password(self, field):
        problem = service.password_problem(field.data, self.user)
        if problem:
            raise ValidationError(problem)


class ParticipantForm(FlaskForm):
    nama = StringField(
        "Nama lengkap", validators=[DataRequired("Nama wajib diisi."), Length(max=200)]
    )
    nik = StringField(
        "NIK",
        description="16 digit, sesuai KTP.",
        render_kw={"inputmode": "numeric", "maxlength": 16, "autocomplete": "off"},
    )
    badan = SelectField("Badan", choices=[("", "— pilih —")] + [(b, b) for b in BADAN])
    jabatan = SelectField("Jabatan", choices=[("", "— pilih —")] + [(j, j) for j in JABATAN])
    kecamatan_kode = SelectField("Kecamatan", choices=[], validate_choice=False)
    desa_kode = SelectField(
        "Desa/Kelurahan",
        choices=[],
        validate_choice=False,
        description="Wajib untuk PPS, KPPS dan Sekretariat PPS.",
    )
    is_asn = BooleanField("ASN (PNS/PPPK)")
    phone = StringField("No. HP", validators=[Optional(), Length(max=32)])

    def __init__(self, *args, existing=None, office_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.existing = existing  # the participant being edited: their own NIK is no clash
        self.office_id = office_id  # the office registering: its region only

    def data_object(self) -> service.ParticipantData:
        return service.ParticipantData(
            nama=self.nama.data or "",
            nik=(self.nik.data or "").strip(),
            badan=self.badan.data,
            jabatan=self.jabatan.data,
            kecamatan_kode=self.kecamatan_kode.data,
            desa_kode=self.desa_kode.data or None,
            is_asn=bool(self.is_asn.data),
            phone=(self.phone.data or "").strip() or None,
        )

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for field_name, message in service.validate_participant(
            self.data_object(), existing=self.existing, office_id=self.office_id
        ).items():
            field = getattr(self, field_name)
            if not field.errors:  # one message per field is enough
                field.errors = [*field.errors, message]
            ok = False
        return ok


class ImportUploadForm(FlaskForm):
    berkas = FileField(
        "Berkas Excel (.xlsx)",
        validators=[FileRequired("Pilih berkas .xlsx yang akan diimpor.")],
        description="Maksimal 10 MB dan 50.000 baris. Gunakan templat agar kolom NIK berformat teks.",
        render_kw={"accept": ".xlsx," + XLSX_MEDIA_TYPE},
    )


class CredentialsForm(FlaskForm):
    """Download the initial-passwords sheet: every download makes new passwords."""

    confirm = BooleanField(
        "Saya mengerti bahwa kata sandi awal dibuat baru dan lembar yang pernah diunduh "
        "sebelumnya untuk impor ini tidak berlaku lagi.",
        validators=[DataRequired("Centang pernyataan di atas tombol untuk mengunduh lembar baru.")],
    )


class ImportConfirmForm(ConfirmForm):
    """Confirm or discard a previewed import: only the CSRF token and the pressed button."""
