"""One evaluation per participant per session, with one answer per item (and per trainer)."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bimtek.extensions import db
from bimtek.timeutil import utcnow


class Evaluation(db.Model):
    """A participant's evaluation of a session they attended; edited in place until it closes."""

    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("training_session.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    # Free text as typed (control characters removed); always rendered escaped.
    comment: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    answers: Mapped[list["EvaluationAnswer"]] = relationship(
        back_populates="evaluation", cascade="all, delete-orphan", passive_deletes=True
    )


class EvaluationAnswer(db.Model):
    """One Likert answer: an item key from bimtek.evaluation.items, and the trainer it is about
    for narasumber items (NULL otherwise), so means per item and per trainer are one GROUP BY."""

    __table_args__ = (
        UniqueConstraint("evaluation_id", "item_key", "trainer_id"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: the unique constraint below starts with it.
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(40))
    trainer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    score: Mapped[int]

    evaluation: Mapped[Evaluation] = relationship(back_populates="answers")
