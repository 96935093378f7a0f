"""What quiz pages and reports read."""

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select, true

from bimtek.accounts.models import User
from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.quiz import stats
from bimtek.quiz.grading import TYPES
from bimtek.quiz.models import Attempt, AttemptAnswer, QuestionVersion, Quiz
from bimtek.wilayah.models import Kecamatan


@dataclass
class Item:
    position: int
    type: str
    input_type: str
    stem_html: str
    options: list[tuple[str, str]]  # (key, html) in the frozen display order
    selected: list[str]
    saved: bool
    # Only when review is allowed:
    answer: list[str] | None = None
    correct: bool | None = None
    explanation_html: str | None = None
    source: str | None = None


def attempt_items(attempt: Attempt, reveal: bool) -> list[Item]:
    """The attempt's questions as served. Answers and explanations only when `reveal`."""
    rows = db.session.scalars(
        select(AttemptAnswer)
        .where(AttemptAnswer.attempt_id == attempt.id)
        .order_by(AttemptAnswer.position)
    ).all()
    items = []
    for row in rows:
        version = row.question_version
        item = Item(
            position=row.position,
            type=version.type,
            input_type=TYPES[version.type].input_type,
            stem_html=version.stem_html,
            options=[(key, version.options[key]) for key in row.option_order],
            selected=list(row.selected or []),
            saved=row.saved_at is not None,
        )
        if reveal:
            item.answer = list(version.answer)
            item.correct = row.correct
            item.explanation_html = version.explanation_html
            item.source = version.source
        items.append(item)
    return items


@dataclass
class ItemRow:
    qid: str
    version_no: int
    stem_html: str
    type: str
    options: dict[str, str]
    answer: list[str]
    stats: stats.ItemStats


def item_analysis(quiz: Quiz, where=None) -> list[ItemRow]:
    """Classical item statistics over every graded attempt of the quiz; `where`: a condition on
    the participant (User), e.g. the reader's office reach — a province's course is shared, and
    each office sees its own participants' attempts."""
    # Participants only: a trainer trying the quiz out must not move the statistics.
    attempts = dict(
        db.session.execute(
            select(Attempt.id, Attempt.correct_count)
            .join(User, User.id == Attempt.user_id)
            .where(
                Attempt.quiz_id == quiz.id,
                Attempt.score.is_not(None),
                User.role == Role.PESERTA,
                true() if where is None else where,
            )
        ).all()
    )
    if not attempts:
        return []
    responses: dict[int, list[stats.ItemResponse]] = defaultdict(list)
    for attempt_id, version_id, selected, correct in db.session.execute(
        select(
            AttemptAnswer.attempt_id,
            AttemptAnswer.question_version_id,
            AttemptAnswer.selected,
            AttemptAnswer.correct,
        )
        .where(AttemptAnswer.attempt_id.in_(list(attempts)))
        .order_by(AttemptAnswer.attempt_id)  # ties in the 27 % groups break the same way every time
    ):
        responses[version_id].append(
            stats.ItemResponse(
                total_correct=attempts[attempt_id] or 0,
                correct=bool(correct),
                selected=tuple(selected or ()),
            )
        )
    versions = db.session.scalars(
        select(QuestionVersion).where(QuestionVersion.id.in_(list(responses)))
    ).all()
    rows = [
        ItemRow(
            qid=v.question.qid,
            version_no=v.version_no,
            stem_html=v.stem_html,
            type=v.type,
            options=v.options,
            answer=v.answer,
            stats=stats.item_statistics(responses[v.id], list(v.options)),
        )
        for v in versions
    ]
    return sorted(rows, key=lambda r: (r.qid, r.version_no))


@dataclass
class KecamatanRow:
    kode: str
    nama: str
    summary: stats.GainSummary


def _course_scores(course: Course, where=None) -> dict[int, dict]:
    """user id -> {'pre': score, 'post': best score, 'passed': bool} for graded attempts."""
    query = select(Attempt.user_id, Quiz.kind, Attempt.score, Attempt.passed).join(
        Quiz, Quiz.id == Attempt.quiz_id
    )
    if where is not None:
        query = query.join(User, User.id == Attempt.user_id).where(where)
    rows = db.session.execute(
        query.where(
            Quiz.course_id == course.id,
            Quiz.kind.in_(("pre", "post")),
            Attempt.score.is_not(None),
        ).order_by(Attempt.attempt_no)
    ).all()
    scores: dict[int, dict] = defaultdict(dict)
    for user_id, kind, score, passed in rows:
        entry = scores[user_id]
        if kind == "pre":
            entry.setdefault("pre", score)
        elif score > entry.get("post", -1):
            entry["post"], entry["passed"] = score, passed
    return scores


def kecamatan_summary(course: Course, where=None) -> list[KecamatanRow]:
    """Per kecamatan: participants of the course's audience, mean pre/post and N-gain over the
    paired participants (pre-test and best post-test), pass rate. `where`: a condition on the
    participant (User), e.g. the reader's office reach."""
    scores = _course_scores(course, where)
    people = db.session.execute(
        select(User.id, User.kecamatan_kode).where(
            User.role == Role.PESERTA,
            User.active.is_(True),
            User.badan.in_(course.audience or []),
            true() if where is None else where,
        )
    ).all()
    by_kecamatan: dict[str, list] = defaultdict(list)
    for user_id, kode in people:
        entry = scores.get(user_id, {})
        by_kecamatan[kode or ""].append((entry.get("pre"), entry.get("post"), entry.get("passed")))
    names = dict(
        db.session.execute(
            select(Kecamatan.kode, Kecamatan.nama).where(Kecamatan.kode.in_(list(by_kecamatan)))
        ).all()
    )
    rows = [
        KecamatanRow(kode, names.get(kode, "(tanpa kecamatan)"), stats.summarise_gains(values))
        for kode, values in by_kecamatan.items()
    ]
    return sorted(rows, key=lambda r: r.nama)


def attempt_rows(quiz: Quiz, where=None) -> list[tuple[Attempt, User]]:
    return list(
        db.session.execute(
            select(Attempt, User)
            .join(User, User.id == Attempt.user_id)
            .where(Attempt.quiz_id == quiz.id, true() if where is None else where)
            .order_by(User.nama, Attempt.attempt_no)
        ).all()
    )
