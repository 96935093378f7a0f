"""The evaluation form: one Likert radio group per item (per trainer for narasumber items)."""

from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.validators import InputRequired, Length

from bimtek.accounts.models import User
from bimtek.evaluation.items import COMMENT_MAX, ITEMS, SCALE, clean_comment, field_name


class _EvaluationForm(FlaskForm):
    comment = TextAreaField(
        "Komentar dan saran (tidak wajib)",
        filters=[clean_comment],
        validators=[Length(max=COMMENT_MAX, message=f"Paling banyak {COMMENT_MAX} karakter.")],
        description=f"Paling banyak {COMMENT_MAX:,} karakter.".replace(",", "."),
        render_kw={"maxlength": COMMENT_MAX, "rows": 5},
    )

    def answers(self, trainers: list[User]) -> dict[tuple[str, int | None], int]:
        """The chosen scores keyed (item key, trainer id), as the service takes them."""
        found = {}
        for item in ITEMS:
            for trainer_id in [t.id for t in trainers] if item.per_trainer else [None]:
                value = self[field_name(item, trainer_id)].data
                if value is not None:
                    found[(item.key, trainer_id)] = value
        return found


def evaluation_form(trainers: list[User], **kwargs) -> _EvaluationForm:
    """A form class for this session's trainers, instantiated (from the request, or `data`)."""

    class EvaluationForm(_EvaluationForm):
        pass

    choices = [(score, label) for score, label in SCALE.items()]
    for item in ITEMS:
        for trainer in trainers if item.per_trainer else [None]:
            setattr(
                EvaluationForm,
                field_name(item, trainer.id if trainer else None),
                RadioField(
                    item.label,
                    choices=choices,
                    coerce=int,
                    validators=[InputRequired("Pilih salah satu nilai.")],
                ),
            )
    return EvaluationForm(**kwargs)
