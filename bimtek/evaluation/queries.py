"""What the results page, the session page and the exports read.

Only evaluations by participants who are (still) recorded present count: someone marked alpa
after a forwarded check-in code does not rate the session."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from bimtek.accounts.models import User
from bimtek.attendance.models import PRESENT, Attendance, TrainingSession
from bimtek.evaluation.items import SCORES, Item, items_of, mean_of
from bimtek.evaluation.models import Evaluation, EvaluationAnswer
from bimtek.extensions import db


def _present_users(session_id: int):
    return select(Attendance.user_id).where(
        Attendance.session_id == session_id, Attendance.status.in_(PRESENT)
    )


def _counted(session_id: int):
    """The condition on Evaluation for the evaluations that count."""
    return (Evaluation.session_id == session_id) & Evaluation.user_id.in_(
        _present_users(session_id)
    )


@dataclass
class ItemResult:
    item: Item
    counts: dict[int, int]  # score → number of answers, every score present

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    @property
    def mean(self) -> float | None:
        return mean_of(self.counts)

    def share(self, score: int) -> float:
        return self.counts[score] / self.n if self.n else 0.0


@dataclass
class TrainerResult:
    trainer: User
    respondents: int
    mean: float | None  # over all of this trainer's answers
    items: list[ItemResult]


@dataclass
class Comment:
    text: str
    at: datetime


@dataclass
class Results:
    session: TrainingSession
    present: int
    respondents: int
    material: list[ItemResult] = field(default_factory=list)
    trainers: list[TrainerResult] = field(default_factory=list)
    organisation: list[ItemResult] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)


def counts(session: TrainingSession) -> tuple[int, int]:
    """(respondents, present) for the session page."""
    present = db.session.scalar(
        select(func.count()).select_from(_present_users(session.id).subquery())
    )
    respondents = db.session.scalar(
        select(func.count()).select_from(Evaluation).where(_counted(session.id))
    )
    return respondents or 0, present or 0


def results(session: TrainingSession) -> Results:
    respondents, present = counts(session)
    distribution: dict[tuple[str, int | None], dict[int, int]] = defaultdict(
        lambda: dict.fromkeys(SCORES, 0)
    )
    for key, trainer_id, score, number in db.session.execute(
        select(
            EvaluationAnswer.item_key,
            EvaluationAnswer.trainer_id,
            EvaluationAnswer.score,
            func.count(),
        )
        .join(Evaluation, Evaluation.id == EvaluationAnswer.evaluation_id)
        .where(_counted(session.id))
        .group_by(EvaluationAnswer.item_key, EvaluationAnswer.trainer_id, EvaluationAnswer.score)
    ):
        distribution[(key, trainer_id)][score] = number

    per_trainer = {
        trainer_id: (people, float(mean) if mean is not None else None)
        for trainer_id, people, mean in db.session.execute(
            select(
                EvaluationAnswer.trainer_id,
                func.count(func.distinct(EvaluationAnswer.evaluation_id)),
                func.avg(EvaluationAnswer.score),
            )
            .join(Evaluation, Evaluation.id == EvaluationAnswer.evaluation_id)
            .where(_counted(session.id), EvaluationAnswer.trainer_id.is_not(None))
            .group_by(EvaluationAnswer.trainer_id)
        )
    }
    # The session's trainers, and anyone rated before being taken off the session.
    trainers = {t.id: t for t in session.trainers}
    extra = set(per_trainer) - set(trainers)
    if extra:
        trainers.update(
            (u.id, u) for u in db.session.scalars(select(User).where(User.id.in_(extra)))
        )

    def item_results(group: str, trainer_id: int | None = None) -> list[ItemResult]:
        return [
            ItemResult(
                item, dict(distribution.get((item.key, trainer_id)) or dict.fromkeys(SCORES, 0))
            )
            for item in items_of(group)
        ]

    comments = [
        Comment(text, at)
        for text, at in db.session.execute(
            select(Evaluation.comment, Evaluation.submitted_at)
            .where(_counted(session.id), Evaluation.comment.is_not(None), Evaluation.comment != "")
            .order_by(Evaluation.submitted_at, Evaluation.id)
        )
    ]
    return Results(
        session=session,
        present=present,
        respondents=respondents,
        material=item_results("materi"),
        trainers=[
            TrainerResult(
                trainer=t,
                respondents=per_trainer.get(t.id, (0, None))[0],
                mean=per_trainer.get(t.id, (0, None))[1],
                items=item_results("narasumber", t.id),
            )
            for t in sorted(trainers.values(), key=lambda u: (u.nama.casefold(), u.id))
        ],
        organisation=item_results("penyelenggaraan"),
        comments=comments,
    )


def evaluated_session_ids(user: User) -> set[int]:
    return set(
        db.session.scalars(select(Evaluation.session_id).where(Evaluation.user_id == user.id))
    )
