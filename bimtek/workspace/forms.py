"""Workspace forms. They validate shapes; the loader and bank checks validate content."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from bimtek.accounts.roles import BADAN
from bimtek.content.banks import DIFFICULTIES
from bimtek.forms import MultiCheckboxField
from bimtek.quiz.grading import OPTION_KEYS, TYPES


class ModuleForm(FlaskForm):
    slug = StringField(
        "Slug (alamat modul, huruf kecil dan '-')",
        validators=[Optional(), Length(max=80)],
        description="Tidak dapat diubah setelah modul terbit.",
    )
    title = StringField("Judul", validators=[DataRequired("Judul wajib diisi."), Length(max=200)])
    sort_order = IntegerField(
        "Nomor urut", default=1, validators=[NumberRange(0, 999, "Nomor urut harus 0–999.")]
    )
    audience = MultiCheckboxField(
        "Badan sasaran",
        choices=[(b, b) for b in BADAN],
        validators=[DataRequired("Pilih minimal satu badan sasaran.")],
    )
    estimated_minutes = IntegerField(
        "Perkiraan waktu baca (menit)",
        default=15,
        validators=[NumberRange(1, 600, "Perkiraan waktu baca harus 1–600 menit.")],
    )
    sources = TextAreaField(
        "Dasar hukum dan sumber (satu per baris)",
        validators=[DataRequired("Tulis minimal satu sumber."), Length(max=10_000)],
    )
    body = TextAreaField(
        "Isi modul (Markdown)",
        validators=[DataRequired("Isi modul kosong."), Length(max=500_000)],
    )


class UploadForm(FlaskForm):
    file = FileField("Berkas")
    title = StringField("Judul (boleh kosong: nama berkas)", validators=[Length(max=200)])


class QuestionForm(FlaskForm):
    qid = StringField(
        "Id soal (mis. ke-031)",
        validators=[Optional(), Length(max=40)],
        description="Huruf kecil, angka dan '-'; tidak dapat diubah setelah disimpan.",
    )
    type = SelectField("Jenis", choices=[(t.name, t.label) for t in TYPES.values()])
    topic = StringField("Topik", validators=[Length(max=60)])
    difficulty = SelectField("Tingkat kesulitan", choices=[(d, d) for d in DIFFICULTIES])
    stem = TextAreaField("Pertanyaan (Markdown)", validators=[Length(max=10_000)])
    option_a = TextAreaField("Pilihan a", validators=[Length(max=2000)])
    option_b = TextAreaField("Pilihan b", validators=[Length(max=2000)])
    option_c = TextAreaField("Pilihan c", validators=[Length(max=2000)])
    option_d = TextAreaField("Pilihan d", validators=[Length(max=2000)])
    option_e = TextAreaField("Pilihan e", validators=[Length(max=2000)])
    answer = StringField(
        "Kunci jawaban",
        validators=[Length(max=40)],
        description="Satu jawaban: mis. b. Lebih dari satu: mis. a, c. Benar/Salah: benar atau "
        "salah.",
    )
    explanation = TextAreaField("Pembahasan (Markdown)", validators=[Length(max=10_000)])
    source = StringField("Sumber (peraturan dan pasal)", validators=[Length(max=300)])

    def option_fields(self):
        return [getattr(self, f"option_{k}") for k in OPTION_KEYS]

    def bank_entry(self) -> dict:
        """The form as a bank entry (the shape of one item in quizzes/<slug>.yaml)."""
        qtype = self.type.data
        entry = {
            "id": (self.qid.data or "").strip() or None,
            "type": qtype,
            "topic": (self.topic.data or "").strip(),
            "difficulty": self.difficulty.data,
            "stem": _text(self.stem.data),
            "explanation": _text(self.explanation.data),
            "source": (self.source.data or "").strip(),
        }
        answer = (self.answer.data or "").strip().lower()
        if qtype == "true_false":
            entry["answer"] = {"benar": True, "salah": False}.get(answer, answer or None)
        else:
            entry["options"] = {
                k: (getattr(self, f"option_{k}").data or "").strip()
                for k in OPTION_KEYS
                if (getattr(self, f"option_{k}").data or "").strip()
            }
            keys = [k.strip() for k in answer.replace(";", ",").split(",") if k.strip()]
            entry["answer"] = keys if qtype == "multiple" else (keys[0] if keys else None)
        return entry

    def fill(self, entry: dict) -> None:
        self.qid.data = entry.get("id")
        self.type.data = entry.get("type")
        self.topic.data = entry.get("topic")
        self.difficulty.data = entry.get("difficulty")
        self.stem.data = entry.get("stem")
        self.explanation.data = entry.get("explanation")
        self.source.data = entry.get("source")
        for key, text in (entry.get("options") or {}).items():
            if key in OPTION_KEYS:
                getattr(self, f"option_{key}").data = text
        answer = entry.get("answer")
        if isinstance(answer, bool):
            self.answer.data = "benar" if answer else "salah"
        elif isinstance(answer, list):
            self.answer.data = ", ".join(answer)
        else:
            self.answer.data = answer

    def field_for(self, bank_field: str):
        """The form field a bank-check problem belongs to."""
        return {
            "id": self.qid,
            "type": self.type,
            "topic": self.topic,
            "difficulty": self.difficulty,
            "stem": self.stem,
            "options": self.option_a,
            "answer": self.answer,
            "explanation": self.explanation,
            "source": self.source,
        }.get(bank_field)


def _text(value: str | None) -> str:
    """Multi-line Markdown keeps its lines; a trailing newline like a YAML block."""
    value = (value or "").replace("\r\n", "\n").strip()
    return value + "\n" if "\n" in value else value


class BankImportForm(FlaskForm):
    file = FileField("Berkas bank soal (.yaml atau .xlsx)")


class BankApplyForm(FlaskForm):
    """Apply a previewed bank: the token of the text the dry run checked and kept."""

    token = HiddenField()
