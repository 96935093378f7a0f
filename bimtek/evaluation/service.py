"""Evaluation rules: who may fill it in, when, and saving it (one per participant per session)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bimtek.accounts.models import User
from bimtek.attendance.models import PRESENT, Attendance, TrainingSession
from bimtek.attendance.service import is_invited
from bimtek.enums import Role
from bimtek.evaluation.items import BY_KEY, COMMENT_MAX, ITEMS, SCORES, clean_comment
from bimtek.evaluation.models import Evaluation, EvaluationAnswer
from bimtek.extensions import db
from bimtek.timeutil import as_utc


class EvaluationError(ValueError):
    """A refusal with a message for the participant; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def closes_at(session: TrainingSession, grace_hours: int) -> datetime:
    """The session "closes" for evaluation this long after it ends."""
    return as_utc(session.ends_at) + timedelta(hours=grace_hours)


def opens_at(session: TrainingSession, attendance: Attendance | None) -> datetime:
    """From the start of the session, or earlier from the participant's own check-in."""
    start = as_utc(session.starts_at)
    if attendance is not None and attendance.checked_in_at is not None:
        return min(start, as_utc(attendance.checked_in_at))
    return start


@dataclass
class Standing:
    """Where a participant stands with a session's evaluation at a moment."""

    attendance: Attendance | None
    evaluation: Evaluation | None
    opens_at: datetime
    closes_at: datetime
    state: str  # "absent" | "not_yet" | "open" | "closed"

    @property
    def present(self) -> bool:
        return self.attendance is not None and self.attendance.status in PRESENT

    @property
    def editable(self) -> bool:
        return self.state == "open"

    def refusal(self) -> EvaluationError | None:
        if self.state == "absent":
            return EvaluationError(
                "Evaluasi hanya dapat diisi oleh peserta yang tercatat hadir di sesi ini.", 403
            )
        if self.state == "not_yet":
            return EvaluationError("Evaluasi sesi ini dibuka saat sesi dimulai.")
        if self.state == "closed":
            return EvaluationError("Evaluasi sesi ini sudah ditutup; jawaban tidak dapat diubah.")
        return None


def _attendance(session_id: int, user_id: int) -> Attendance | None:
    return db.session.scalars(
        select(Attendance).where(Attendance.session_id == session_id, Attendance.user_id == user_id)
    ).first()


def evaluation_of(session_id: int, user_id: int, lock: bool = False) -> Evaluation | None:
    query = select(Evaluation).where(
        Evaluation.session_id == session_id, Evaluation.user_id == user_id
    )
    if lock:
        query = query.with_for_update()
    return db.session.scalars(query.execution_options(populate_existing=True)).first()


def standing(
    session: TrainingSession, user: User, now: datetime, grace_hours: int
) -> Standing | None:
    """None when this is not the user's session (not a participant, not invited): a 404."""
    if user.role != Role.PESERTA or not is_invited(session, user):
        return None
    attendance = _attendance(session.id, user.id)
    start, end = opens_at(session, attendance), closes_at(session, grace_hours)
    if attendance is None or attendance.status not in PRESENT:
        state = "absent"
    elif now < start:
        state = "not_yet"
    elif now > end:
        state = "closed"
    else:
        state = "open"
    return Standing(attendance, evaluation_of(session.id, user.id), start, end, state)


def expected_answers(trainers: list[User]) -> list[tuple[str, int | None]]:
    """Every (item key, trainer id) the form asks for, in the form's order."""
    wanted: list[tuple[str, int | None]] = []
    for item in ITEMS:
        if item.per_trainer:
            wanted.extend((item.key, t.id) for t in trainers)
        else:
            wanted.append((item.key, None))
    return wanted


@dataclass
class Saved:
    evaluation: Evaluation
    created: bool


def submit(
    session: TrainingSession,
    user: User,
    answers: dict[tuple[str, int | None], int],
    comment: str | None,
    now: datetime,
    grace_hours: int,
) -> Saved:
    """Save (or replace) the participant's evaluation, or refuse with EvaluationError.

    A double submit keeps one row: the unique (session, user) decides who inserts, and the
    row lock orders the two replacements of the answers."""
    where = standing(session, user, now, grace_hours)
    if where is None:
        raise EvaluationError("Anda tidak terdaftar sebagai peserta sesi ini.", 404)
    refusal = where.refusal()
    if refusal is not None:
        raise refusal
    wanted = expected_answers(session.trainers)
    missing = [key for key in wanted if key not in answers]
    unknown = [key for key in answers if key not in set(wanted)]
    if missing or unknown:
        raise EvaluationError("Jawaban tidak lengkap: isi setiap butir penilaian.", 400)
    if any(answers[key] not in SCORES for key in wanted):
        raise EvaluationError("Nilai harus 1 sampai 5.", 400)
    comment = clean_comment(comment)
    if len(comment) > COMMENT_MAX:
        raise EvaluationError(f"Komentar paling banyak {COMMENT_MAX} karakter.", 400)

    created = False
    if where.evaluation is None:
        created = _insert_ignoring_duplicate(
            {
                "session_id": session.id,
                "user_id": user.id,
                "comment": comment or None,
                "submitted_at": now,
                "updated_at": now,
            }
        )
    evaluation = evaluation_of(session.id, user.id, lock=True)
    evaluation.comment = comment or None
    evaluation.updated_at = now
    db.session.execute(
        delete(EvaluationAnswer).where(EvaluationAnswer.evaluation_id == evaluation.id)
    )
    db.session.execute(
        insert(EvaluationAnswer),
        [
            {
                "evaluation_id": evaluation.id,
                "item_key": key,
                "trainer_id": trainer_id,
                "score": answers[(key, trainer_id)],
            }
            for key, trainer_id in wanted
        ],
    )
    db.session.flush()
    db.session.expire(evaluation, ["answers"])
    return Saved(evaluation, created)


def _insert_ignoring_duplicate(values: dict) -> bool:
    dialect = db.session.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        make(Evaluation)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["session_id", "user_id"])
        .returning(Evaluation.id)
    )
    return db.session.execute(statement).scalar() is not None


def answers_by_field(evaluation: Evaluation | None) -> dict[tuple[str, int | None], int]:
    """The stored answers, keyed like `submit` takes them (to fill the form again)."""
    if evaluation is None:
        return {}
    return {
        (a.item_key, a.trainer_id): a.score
        for a in db.session.scalars(
            select(EvaluationAnswer).where(EvaluationAnswer.evaluation_id == evaluation.id)
        )
        if a.item_key in BY_KEY
    }


def link_label(
    session: TrainingSession,
    attendance: Attendance | None,
    evaluated: bool,
    now: datetime,
    grace_hours: int,
) -> str | None:
    """The participant's link to the form on their session list and after check-in, if any."""
    if attendance is None or attendance.status not in PRESENT:
        return None
    if not opens_at(session, attendance) <= now <= closes_at(session, grace_hours):
        return None
    return "Ubah evaluasi" if evaluated else "Isi evaluasi"
