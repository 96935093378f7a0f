"""Question banks (versioned), quizzes and attempts that freeze what they served."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bimtek.enums import QuizKind, one_of
from bimtek.extensions import db
from bimtek.timeutil import utcnow

QUIZ_KINDS = tuple(QuizKind)
QUIZ_KIND_LABELS = {"pre": "Pre-test", "post": "Post-test", "module": "Kuis modul"}
REVIEW_POLICIES = ("score", "after_last", "after_submit", "after_close")
REVIEW_LABELS = {
    "score": "Skor saja",
    # The default: a key shown after a failed attempt with a retry left would be the retry's
    # answer sheet (the retry draws other questions where it can, but not always all of them).
    "after_last": "Jawaban dan pembahasan setelah tidak ada kesempatan lagi "
    "(kesempatan habis, sudah lulus, atau kuis ditutup)",
    "after_submit": "Jawaban dan pembahasan setelah setiap kiriman",
    "after_close": "Jawaban dan pembahasan setelah kuis ditutup",
}


class Question(db.Model):
    """A question with a stable id ('ke-001') across versions of its bank."""

    id: Mapped[int] = mapped_column(primary_key=True)
    qid: Mapped[str] = mapped_column(String(40), unique=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    current_version_no: Mapped[int] = mapped_column(default=1)
    retired: Mapped[bool] = mapped_column(default=False)
    # Retired in the browser: a sync of an unchanged bank file does not bring it back.
    retired_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list["QuestionVersion"]] = relationship(
        back_populates="question", order_by="QuestionVersion.version_no"
    )


class QuestionVersion(db.Model):
    """One text of a question. Never edited, so past attempts stay gradable and reviewable."""

    __table_args__ = (UniqueConstraint("question_id", "version_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"), index=True)
    version_no: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    stem_html: Mapped[str] = mapped_column(Text)
    options: Mapped[dict] = mapped_column(JSON, default=dict)  # key -> sanitised html
    answer: Mapped[list] = mapped_column(JSON, default=list)  # keys
    explanation_html: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(300))
    topic: Mapped[str] = mapped_column(String(60), default="")
    difficulty: Mapped[str] = mapped_column(String(10), default="sedang")
    # The bank entry as written (Markdown, answer keys): what export gives back.
    source_data: Mapped[dict | None] = mapped_column(JSON)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # None: from a file
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    question: Mapped[Question] = relationship(back_populates="versions", lazy="joined")


class PoolGeneration(db.Model):
    """One row whose value changes with every change to what a quiz draws from: triggers on
    question, question_version and course_module (migration 0016) set it to a new random
    number on any INSERT, UPDATE or DELETE. A process that read a pool at one value may use it
    again while the value is the same: no code path that changes a bank can forget to say so.
    Random, not a counter: a database restored from a backup brings back its own value with
    its own content, never an older value with newer content."""

    __tablename__ = "pool_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Quiz(db.Model):
    __table_args__ = (
        CheckConstraint(one_of("kind", QuizKind), name="kind"),
        CheckConstraint(
            "review_policy IN ('score', 'after_last', 'after_submit', 'after_close')",
            name="review_policy",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    module_id: Mapped[int | None] = mapped_column(ForeignKey("module.id"))
    kind: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    draw_count: Mapped[int] = mapped_column(default=20)
    shuffle_questions: Mapped[bool] = mapped_column(default=True)
    shuffle_options: Mapped[bool] = mapped_column(default=True)
    time_limit_minutes: Mapped[int | None]
    attempts_allowed: Mapped[int] = mapped_column(default=1)
    pass_mark: Mapped[int] = mapped_column(default=70)
    review_policy: Mapped[str] = mapped_column(String(16), default="after_last")
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course = relationship("Course")
    module = relationship("Module")

    @property
    def kind_label(self) -> str:
        return QUIZ_KIND_LABELS[self.kind]


class Attempt(db.Model):
    __table_args__ = (
        UniqueConstraint("quiz_id", "user_id", "attempt_no"),
        CheckConstraint("status IN ('open', 'submitted', 'expired')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quiz.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(default=1)
    seed: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="open")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    question_count: Mapped[int] = mapped_column(default=0)
    correct_count: Mapped[int | None]
    score: Mapped[float | None]
    passed: Mapped[bool | None]

    quiz: Mapped[Quiz] = relationship(lazy="joined", innerjoin=True)
    answers: Mapped[list["AttemptAnswer"]] = relationship(
        back_populates="attempt", order_by="AttemptAnswer.position"
    )

    @property
    def is_open(self) -> bool:
        return self.status == "open"


class AttemptAnswer(db.Model):
    """One served question of an attempt: frozen question version and option order, and the
    participant's current choice (saved on every change)."""

    __table_args__ = (UniqueConstraint("attempt_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), index=True)
    position: Mapped[int]
    question_version_id: Mapped[int] = mapped_column(ForeignKey("question_version.id"), index=True)
    option_order: Mapped[list] = mapped_column(JSON, default=list)
    selected: Mapped[list] = mapped_column(JSON, default=list)
    saved_at: Mapped[datetime | None]
    correct: Mapped[bool | None]

    attempt: Mapped[Attempt] = relationship(back_populates="answers")
    question_version: Mapped[QuestionVersion] = relationship(lazy="joined")
