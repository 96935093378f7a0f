"""The circular's form (for the office) and the "Sudah dibaca" form (for the recipient)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from bimtek.forms import MultiCheckboxField
from bimtek.imbauan.service import (
    AUDIENCE,
    BODY_MAX,
    CONFIRMATION_MAX,
    TITLE_MAX,
    ImbauanError,
    ImbauanValues,
    parse_regions,
)
from bimtek.offices.models import Office


class AudienceField(MultiCheckboxField):
    def pre_validate(self, form) -> None:
        """WTForms' own message for a value not offered is English."""
        unknown = [v for v in self.data or [] if v not in AUDIENCE]
        if unknown:
            raise ValidationError(f"Penerima “{unknown[0][:40]}” tidak dikenal.")


class ImbauanForm(FlaskForm):
    title = StringField(
        "Judul",
        validators=[
            DataRequired("Judul imbauan wajib diisi."),
            Length(max=TITLE_MAX, message=f"Judul paling banyak {TITLE_MAX} karakter."),
        ],
        render_kw={"maxlength": TITLE_MAX},
    )
    body = TextAreaField(
        "Isi imbauan (Markdown)",
        validators=[
            DataRequired("Isi imbauan wajib diisi."),
            Length(max=BODY_MAX, message="Isi imbauan paling banyak 20.000 karakter."),
        ],
        description="Markdown seperti pada modul: **tebal**, *miring*, daftar dengan tanda -, "
        "judul bagian dengan ##. Skrip dan HTML berbahaya dibuang.",
        render_kw={"rows": 14},
    )
    audience = AudienceField(
        "Ditujukan kepada",
        choices=[(a, a) for a in AUDIENCE],
        validators=[DataRequired("Pilih minimal satu badan yang dituju.")],
    )
    regions = TextAreaField(
        "Wilayah (tidak wajib)",
        description="Kosongkan untuk seluruh wilayah kantor Anda, atau tulis kode kabupaten/kota "
        "dan kecamatan, dipisah koma, mis. 73.24, 73.22.01.",
        render_kw={"rows": 2},
    )
    confirmation_text = TextAreaField(
        "Pernyataan yang harus dicentang (tidak wajib)",
        validators=[
            Length(max=CONFIRMATION_MAX, message="Teks pernyataan paling banyak 2.000 karakter.")
        ],
        description="Mis. “Saya menyatakan telah membaca dan akan menjaga netralitas …”. Jika "
        "diisi, penerima harus mencentangnya sebelum menekan Sudah dibaca.",
        render_kw={"rows": 3},
    )
    save_draft = SubmitField("Simpan sebagai draf")
    publish = SubmitField("Terbitkan sekarang")

    def __init__(self, office: Office, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.office = office
        self.parsed_regions: list[str] = []

    def validate_regions(self, field) -> None:
        try:
            self.parsed_regions = parse_regions(self.office, field.data or "")
        except ImbauanError as exc:
            raise ValidationError(str(exc)) from exc

    def values(self) -> ImbauanValues:
        return ImbauanValues(
            title=self.title.data or "",
            body=self.body.data or "",
            audience=list(self.audience.data or []),
            regions=self.parsed_regions,
            confirmation_text=self.confirmation_text.data or "",
        )


class ReadForm(FlaskForm):
    """ "Sudah dibaca": the box is shown (and needed) only when the circular asks for it."""

    agree = BooleanField("Saya menyetujui pernyataan di atas.")
