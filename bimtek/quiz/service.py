"""Quiz rules: drawing questions, attempts that lose no answer, grading exactly once."""

import hashlib
import json
import random
import secrets
from collections import defaultdict, namedtuple
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace

from sqlalchemy import (
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from bimtek import signals
from bimtek.accounts.models import User, audit, signs_in_with_token
from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.learning import service as learning
from bimtek.learning.models import Course, CourseModule
from bimtek.quiz import stats
from bimtek.quiz.grading import OPTION_KEYS, TRUE_FALSE_OPTIONS, TYPES, score_percent
from bimtek.quiz.models import (
    QUIZ_KIND_LABELS,
    REVIEW_POLICIES,
    Attempt,
    AttemptAnswer,
    PoolGeneration,
    Question,
    QuestionVersion,
    Quiz,
)
from bimtek.timeutil import utcnow

# A save or submit that arrives this long after the deadline still counts: the phone sent it
# in time, the network was slow.
DEADLINE_GRACE = timedelta(seconds=15)
ALREADY_SUBMITTED = "Jawaban sudah dikirim dan tidak dapat diubah."
TIME_UP = "Waktu habis. Jawaban yang sudah tersimpan dinilai."

# The hot paths run Core statements on the tables (built once, below each section).
_attempt, _answer, _version = Attempt.__table__, AttemptAnswer.__table__, QuestionVersion.__table__
_user, _quiz, _course = User.__table__, Quiz.__table__, Course.__table__


class QuizError(ValueError):
    """A rule stops the participant; the message says why, in Indonesian."""


class AttemptClosed(QuizError):
    pass


# --- settings ----------------------------------------------------------------------------


@dataclass
class QuizSettings:
    kind: str
    title: str
    draw_count: int = 20
    shuffle_questions: bool = True
    shuffle_options: bool = True
    time_limit_minutes: int | None = None
    attempts_allowed: int = 1
    pass_mark: int = 70
    review_policy: str = "after_last"
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    module_id: int | None = None
    active: bool = True


def save_quiz(course: Course, quiz: Quiz | None, settings: QuizSettings, actor: User) -> Quiz:
    if settings.kind not in ("pre", "post", "module"):
        raise QuizError("Jenis kuis harus pre-test, post-test atau kuis modul.")
    if settings.kind == "module":
        if settings.module_id not in [cm.module_id for cm in course.course_modules]:
            raise QuizError("Pilih modul dari kursus ini untuk kuis modul.")
    else:
        settings.module_id = None
        duplicate = db.session.scalars(
            select(Quiz).where(Quiz.course_id == course.id, Quiz.kind == settings.kind)
        ).first()
        if duplicate is not None and duplicate is not quiz:
            raise QuizError(f"Kursus ini sudah punya {duplicate.kind_label}.")
    if not 1 <= settings.draw_count <= 200:
        raise QuizError("Jumlah soal harus 1–200.")
    if not 0 <= settings.pass_mark <= 100:
        raise QuizError("Nilai lulus harus 0–100.")
    if settings.attempts_allowed < 1:
        raise QuizError("Kesempatan mengerjakan minimal 1 kali.")
    if settings.kind == "pre" and settings.attempts_allowed != 1:
        raise QuizError("Pre-test hanya boleh dikerjakan satu kali.")
    if settings.time_limit_minutes is not None and not 1 <= settings.time_limit_minutes <= 600:
        raise QuizError("Batas waktu harus 1–600 menit, atau kosong.")
    if settings.review_policy not in REVIEW_POLICIES:
        raise QuizError("Pilih kebijakan pembahasan.")
    if settings.opens_at and settings.closes_at and settings.closes_at <= settings.opens_at:
        raise QuizError("Waktu tutup harus setelah waktu buka.")
    if settings.review_policy == "after_close" and settings.closes_at is None:
        raise QuizError("Pembahasan setelah kuis ditutup memerlukan waktu tutup.")
    is_new = quiz is None
    if quiz is None:
        quiz = Quiz(course_id=course.id)
        db.session.add(quiz)
    for name, value in vars(settings).items():
        setattr(quiz, name, value)
    pool = len(question_pool(quiz))
    if pool == 0:
        raise QuizError("Modul kursus ini belum punya bank soal.")
    db.session.flush()
    audit(actor, "quiz.create" if is_new else "quiz.update", "quiz", quiz.id, title=quiz.title)
    return quiz


# --- drawing ---------------------------------------------------------------------------


_question, _course_module = Question.__table__, CourseModule.__table__
# One question of the pool: a plain tuple (hashed and compared in C, see _forms_of).
PoolItem = namedtuple("PoolItem", "id question_id module_id qid type sha256")


_COMMA, _NEWLINE = literal_column("','", Text), literal_column("'\n'", Text)
_generation = PoolGeneration.__table__
# The database's pool generation (PoolGeneration): read with a pool, and by a hall's start.
_GENERATION = select(_generation.c.value).where(_generation.c.id == 1).scalar_subquery()


def _pool_statements(dialect: str, course: bool):
    """The pool of a course's tests (its modules in the course's order) or of a module quiz,
    as ONE text: a line per live question (its place in the order, version id, question id,
    module, type, sha256, qid; no texts), and the pool generation it was read at. A row per
    question would be a row fetched, and the worker's lock on Python given up and taken back,
    per question: one value is one of each, and the same text is parsed once."""
    if course:
        place = (_course_module.c.position, _course_module.c.id)
        joined = _version.join(_question, _question.c.id == _version.c.question_id).join(
            _course_module, _course_module.c.module_id == _question.c.module_id
        )
        which = _course_module.c.course_id == bindparam("course_id")
    else:
        place = (literal_column("0"), literal_column("0"))
        joined = _version.join(_question, _question.c.id == _version.c.question_id)
        which = _question.c.module_id == bindparam("module_id")
    fields = (*place, _version.c.id, _version.c.question_id, _question.c.module_id,
              _version.c.type, _version.c.sha256, _question.c.qid)  # fmt: skip
    line = cast(fields[0], Text)
    for field in fields[1:]:
        line = line.concat(_COMMA).concat(cast(field, Text))  # the qid last: split at most 7 times
    order = (*place, _question.c.qid) if course else (_question.c.qid,)
    where = (
        which,
        _question.c.retired.is_(False),
        _version.c.version_no == _question.c.current_version_no,
    )
    if dialect == "postgresql":
        lines = func.string_agg(line, aggregate_order_by(_NEWLINE, *order))
        return select(lines, _GENERATION).select_from(joined).where(*where)
    # SQLite's group_concat keeps no promised order: the lines carry their place and are sorted
    # when the text is parsed (by (position, id, qid), as the ORDER BY: BINARY collation).
    ordered = select(line.label("line")).select_from(joined).where(*where).order_by(*order)
    return select(func.group_concat(ordered.subquery().c.line, _NEWLINE), _GENERATION)


_POOL = {
    (dialect, course): _pool_statements(dialect, course)
    for dialect in ("postgresql", "sqlite")
    for course in (True, False)
}
# Pools already parsed, by their text (the text is the whole pool: what is found here is never
# stale). Read-only lists; question_pool hands out copies.
_POOLS: dict[str, tuple[PoolItem, ...]] = {}
_POOLS_MAX = 256
# The last pool read per (database, course or module, its id), with the generation it was read
# at: question_pool hands it out again while the database's generation is that one.
_POOL_AT: dict[tuple, tuple[int, tuple[PoolItem, ...]]] = {}


def _parse_pool(text: str, sort: bool) -> tuple[PoolItem, ...]:
    placed = []
    for line in text.split("\n"):
        position, module_place, vid, question_id, module_id, qtype, sha256, qid = line.split(",", 7)
        item = PoolItem(int(vid), int(question_id), int(module_id), qid, qtype, sha256)
        placed.append(((int(position), int(module_place), qid), item))
    if sort:
        placed.sort(key=lambda pair: pair[0])
    return tuple(item for _, item in placed)


def question_pool(quiz: Quiz, generation: int | None = None) -> list[PoolItem]:
    """Current versions of the live questions the quiz draws from, in module order.

    `generation`: the database's pool generation as the caller just read it (a hall's start
    reads it in its one SELECT). The pool this process last read for the quiz at that same
    generation is the pool now, and no query runs."""
    connection = db.session.connection()
    course = quiz.kind != "module"
    which = quiz.course_id if course else quiz.module_id
    key = (connection.engine.url, course, which)
    if generation is not None:
        known = _POOL_AT.get(key)
        if known is not None and known[0] == generation:
            return list(known[1])
    dialect = connection.dialect.name
    params = {"course_id": which} if course else {"module_id": which}
    text, read_at = connection.execute(_POOL[(dialect, course)], params).one()
    pool = _POOLS.get(text) if text else ()
    if pool is None:
        if len(_POOLS) >= _POOLS_MAX:
            _POOLS.clear()
        pool = _POOLS[text] = _parse_pool(text, sort=dialect != "postgresql")
    if read_at is not None:  # read with the pool, in the same snapshot
        if len(_POOL_AT) >= _POOLS_MAX:
            _POOL_AT.clear()
        _POOL_AT[key] = (read_at, pool)
    return list(pool)


# Option keys of question versions, by (id, sha256). A version is never edited (a change is a
# new version), so what is cached here is never stale; the sha256 in the key also keeps a
# database restored from a backup from matching another text. Only the drawn questions need
# their keys, and after the first start of a hall every one is here.
_OPTION_KEYS: dict[tuple[int, str], tuple[str, ...]] = {}
_OPTION_KEYS_MAX = 50_000
_OPTIONS_OF = select(_version.c.id, _version.c.sha256, _version.c.options).where(
    _version.c.id.in_(bindparam("ids", expanding=True))
)


def option_keys(versions: list[PoolItem]) -> dict[int, tuple[str, ...]]:
    """version id -> its option keys in the bank's order (one query for those not cached)."""
    missing = [v.id for v in versions if (v.id, v.sha256) not in _OPTION_KEYS]
    if missing:
        if len(_OPTION_KEYS) > _OPTION_KEYS_MAX:
            _OPTION_KEYS.clear()
        for row in db.session.connection().execute(_OPTIONS_OF, {"ids": missing}):
            _OPTION_KEYS[(row.id, row.sha256)] = tuple(row.options or {})
    return {v.id: _OPTION_KEYS[(v.id, v.sha256)] for v in versions}


def draw_questions(
    pool: list[PoolItem], count: int, rng: random.Random, shuffle: bool
) -> list[PoolItem]:
    """`count` questions spread evenly over the modules (round robin), then ordered."""
    by_module: dict[int, list[PoolItem]] = defaultdict(list)
    for version in pool:
        by_module[version.module_id].append(version)
    queues = list(by_module.values())
    if shuffle:
        for queue in queues:
            rng.shuffle(queue)
    chosen: list[PoolItem] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    if shuffle:
        rng.shuffle(chosen)
    else:
        position = {v.id: i for i, v in enumerate(pool)}
        chosen.sort(key=lambda v: position[v.id])
    return chosen


def _draw_in_tiers(
    tiers: list[list[PoolItem]], count: int, rng: random.Random, shuffle: bool
) -> list[PoolItem]:
    """`count` questions from the first tier, topped up from the next ones when it runs short
    (each tier spread over the modules as draw_questions does), then ordered as one draw.
    The last tier is the whole pool: its order is the order of an unshuffled quiz."""
    chosen: list[PoolItem] = []
    taken: set[int] = set()
    for tier in tiers:
        if len(chosen) >= count:
            break
        rest = [v for v in tier if v.question_id not in taken] if taken else tier
        picked = draw_questions(rest, count - len(chosen), rng, shuffle=shuffle)
        chosen += picked
        taken.update(v.question_id for v in picked)
    if shuffle:
        rng.shuffle(chosen)
    else:
        position = {v.question_id: i for i, v in enumerate(tiers[-1])}
        chosen.sort(key=lambda v: position[v.question_id])
    return chosen


# Parallel forms. The pre-test and the post-test of a course draw from two fixed halves of the
# pooled bank ("form A" and "form B"), the same halves for every participant: every pre-test
# comes from form A and every post-test from form B, so the class's pre and post means compare
# two fixed forms of equal make-up (each module split in half) instead of one form against a
# per-person remainder, and the split never depends on the order people took the tests in.
# The split ranks each module's questions by a hash seeded with the course id and gives the
# first half to form A: stable across requests and servers, different per course, and adding a
# question to a bank moves at most the one question at the boundary.
FORM_PRE, FORM_POST = "A", "B"


@lru_cache(maxsize=16384)  # a pure function of its arguments; a hall's starts rank the same pool
def _form_rank(course_id: int, qid: str) -> str:
    return hashlib.sha256(f"bimtek-form:{course_id}:{qid}".encode()).hexdigest()


def form_split(course_id: int, pool: list[PoolItem]) -> dict[int, str]:
    """question id -> "A" (pre-test form) or "B" (post-test form); form A gets the odd one."""
    by_module: dict[int, list[PoolItem]] = defaultdict(list)
    for version in pool:
        by_module[version.module_id].append(version)
    forms: dict[int, str] = {}
    for versions in by_module.values():
        ranked = sorted(versions, key=lambda v: _form_rank(course_id, v.qid))
        half = (len(ranked) + 1) // 2
        for index, version in enumerate(ranked):
            forms[version.question_id] = FORM_PRE if index < half else FORM_POST
    return forms


def uses_parallel_forms(quiz: Quiz) -> bool:
    course = quiz.course or db.session.get(Course, quiz.course_id)
    return quiz.kind in ("pre", "post") and course.parallel_forms


@dataclass
class FormReport:
    """What the admin's quiz settings page says about where a pre-/post-test draws from."""

    parallel: bool
    form_size: int
    pool_size: int
    draw_count: int

    @property
    def enough(self) -> bool:
        return self.form_size >= self.draw_count

    @property
    def message(self) -> str:
        if not self.parallel:
            return (
                "Bentuk paralel tidak dipakai (pengaturan kursus): pre-test dan post-test "
                f"mengundi dari semua {self.pool_size} soal, jadi dapat memuat soal yang sama."
            )
        if self.enough:
            return (
                "Bentuk paralel: pre-test dan post-test tidak berbagi soal. Bentuk kuis ini "
                f"berisi {self.form_size} dari {self.pool_size} soal; diundi {self.draw_count}."
            )
        return (
            f"Bank soal terlalu kecil untuk bentuk paralel: bentuk kuis ini hanya berisi "
            f"{self.form_size} soal, kurang dari {self.draw_count} soal yang diundi. "
            "Kekurangannya diambil dari soal bentuk lain, jadi post-test dapat memuat soal "
            "yang sudah muncul di pre-test. Tambah soal di bank atau kurangi jumlah soal."
        )


def form_report(quiz: Quiz) -> FormReport | None:
    """None for a module quiz (it has no parallel form)."""
    if quiz.kind not in ("pre", "post"):
        return None
    pool = question_pool(quiz)
    parallel = uses_parallel_forms(quiz)
    if not parallel:
        return FormReport(False, len(pool), len(pool), quiz.draw_count)
    wanted = FORM_PRE if quiz.kind == "pre" else FORM_POST
    forms = form_split(quiz.course_id, pool)
    size = sum(1 for v in pool if forms[v.question_id] == wanted)
    return FormReport(True, size, len(pool), quiz.draw_count)


def _seen_questions(quiz: Quiz, user: User, known: list[Attempt] | None = None) -> set[int]:
    """Questions this participant was already served: in earlier attempts of this quiz, and
    with parallel forms also in the course's other test (the pre-test, for a post-test).
    `known`: all of the participant's attempts, already read (no query when none counts)."""
    parallel = uses_parallel_forms(quiz)
    if known is not None:
        attempt_ids = [
            a.id
            for a in known
            if a.quiz_id == quiz.id
            or (parallel and a.quiz.course_id == quiz.course_id and a.quiz.kind in ("pre", "post"))
        ]
        if not attempt_ids:
            return set()
        return set(db.session.connection().scalars(_SEEN_IN_ATTEMPTS, {"attempt_ids": attempt_ids}))
    quiz_ids = [quiz.id]
    if parallel:
        quiz_ids = select(Quiz.id).where(
            Quiz.course_id == quiz.course_id, Quiz.kind.in_(("pre", "post"))
        )
    return set(
        db.session.scalars(
            select(QuestionVersion.question_id)
            .join(AttemptAnswer, AttemptAnswer.question_version_id == QuestionVersion.id)
            .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
            .where(Attempt.user_id == user.id, Attempt.quiz_id.in_(quiz_ids))
        )
    )


_SEEN_IN_ATTEMPTS = (
    select(_version.c.question_id)
    .select_from(_answer.join(_version, _version.c.id == _answer.c.question_version_id))
    .where(_answer.c.attempt_id.in_(bindparam("attempt_ids", expanding=True)))
)


def draw_for(
    quiz: Quiz,
    user: User,
    rng: random.Random,
    known: list[Attempt] | None = None,
    generation: int | None = None,
) -> list[PoolItem]:
    """The questions of a new attempt, in order of preference:
    with parallel forms, this test's form not yet seen by the participant, then anything they
    have not seen, then the rest; without, unseen questions first, then the rest. A retry thus
    gets fresh questions as far as the bank allows, and a bank too small for two forms still
    gives a full test (with overlap) instead of a short one. `generation`: see question_pool."""
    pool = question_pool(quiz, generation)
    seen = _seen_questions(quiz, user, known)
    unseen = [v for v in pool if v.question_id not in seen] if seen else pool
    tiers = [unseen, pool]
    if uses_parallel_forms(quiz):
        wanted = FORM_PRE if quiz.kind == "pre" else FORM_POST
        form = _forms_of(quiz.course_id, tuple(pool))[wanted]
        tiers.insert(0, [v for v in form if v.question_id not in seen] if seen else form)
    return _draw_in_tiers(tiers, quiz.draw_count, rng, quiz.shuffle_questions)


@lru_cache(maxsize=64)
def _forms_of(course_id: int, pool: tuple[PoolItem, ...]) -> dict[str, list[PoolItem]]:
    """The pool's questions by parallel form, in pool order. Keyed by the pool's rows
    themselves (version ids, sha256, qids, modules): a changed pool is another key, so this
    is never stale. A hall starting the same test computes it once. Read-only lists."""
    forms = form_split(course_id, list(pool))
    by_form: dict[str, list[PoolItem]] = {FORM_PRE: [], FORM_POST: []}
    for version in pool:
        by_form[forms[version.question_id]].append(version)
    return by_form


# --- state -----------------------------------------------------------------------------


@dataclass
class QuizState:
    quiz: Quiz
    attempts: list[Attempt]
    open_attempt: Attempt | None
    can_start: bool
    reason: str | None  # why the participant cannot start, in Indonesian
    # No further attempt will ever be possible (used up, passed, closed): the key may be shown.
    final: bool = False

    @property
    def best(self) -> Attempt | None:
        graded = [a for a in self.attempts if a.score is not None]
        return max(graded, key=lambda a: (a.score, -a.id)) if graded else None

    @property
    def attempts_left(self) -> int:
        return max(self.quiz.attempts_allowed - len(self.attempts), 0)


def user_attempts(quiz: Quiz, user: User) -> list[Attempt]:
    return list(
        db.session.scalars(
            select(Attempt)
            .where(Attempt.quiz_id == quiz.id, Attempt.user_id == user.id)
            .order_by(Attempt.attempt_no)
        )
    )


def course_quizzes(course: Course) -> list[Quiz]:
    order = {"pre": 0, "module": 1, "post": 2}
    quizzes = db.session.scalars(select(Quiz).where(Quiz.course_id == course.id)).all()
    return sorted(quizzes, key=lambda q: (order[q.kind], q.id))


def overdue_attempts(user: User, now: datetime | None = None) -> list[Attempt]:
    """Open attempts of this user whose deadline has passed (they still need closing)."""
    now = now or utcnow()
    candidates = db.session.scalars(
        select(Attempt).where(
            Attempt.user_id == user.id, Attempt.status == "open", Attempt.deadline.is_not(None)
        )
    ).all()
    return [a for a in candidates if is_overdue(a, now)]


def all_attempts(user: User) -> list[Attempt]:
    """Every attempt of this participant (with its quiz), in one query: a start reads its
    rules (attempts left, overdue ones, a post-test begun, questions seen) from these."""
    return list(db.session.scalars(_ATTEMPTS_OF, {"user_id": user.id}))


_ATTEMPTS_OF = select(Attempt).where(Attempt.user_id == bindparam("user_id")).order_by(Attempt.id)


def quiz_state(
    quiz: Quiz, user: User, now: datetime | None = None, known: list[Attempt] | None = None
) -> QuizState:
    """Read-only. Close overdue attempts first (close_overdue) so they show as graded.
    `known`: all_attempts(user), when already read."""
    now = now or utcnow()
    if known is None:
        attempts = user_attempts(quiz, user)
    else:
        attempts = sorted((a for a in known if a.quiz_id == quiz.id), key=lambda a: a.attempt_no)
    open_attempt = next((a for a in attempts if a.is_open and not is_overdue(a, now)), None)
    reason, final = None, False
    if open_attempt is None:
        passed = any(a.passed for a in attempts if a.score is not None)
        if not quiz.active:
            reason = "Kuis ini belum diaktifkan."
        elif quiz.opens_at and now < quiz.opens_at:
            reason = "Kuis belum dibuka."
        elif quiz.closes_at and now >= quiz.closes_at:
            reason, final = "Kuis sudah ditutup.", True
        elif len(attempts) >= quiz.attempts_allowed:
            reason, final = (
                (
                    "Pre-test hanya dapat dikerjakan satu kali."
                    if quiz.kind == "pre"
                    else "Kesempatan mengerjakan sudah habis."
                ),
                True,
            )
        elif quiz.kind != "pre" and passed:
            # Full marks or a pass: no retry is offered (the best score is the one that counts).
            reason, final = f"Anda sudah lulus {quiz.kind_label.lower()} ini.", True
        elif quiz.kind == "pre" and _has_post_attempt(quiz, user, known):
            reason, final = "Pre-test tidak dapat dikerjakan setelah post-test dimulai.", True
        else:
            reason = order_lock(quiz, user, now)
    return QuizState(
        quiz, attempts, open_attempt, open_attempt is None and reason is None, reason, final
    )


def order_lock(quiz: Quiz, user: User, now: datetime | None = None) -> str | None:
    """Why the course's order keeps this participant from starting the quiz yet, or None.

    The course's settings: the pre-test before the modules and their quizzes, the post-test
    after every module is read (and after the pre-test). Staff trying a quiz are never held.
    """
    if user.role != Role.PESERTA or quiz.kind == "pre":
        return None
    course = quiz.course or db.session.get(Course, quiz.course_id)
    if pending_pretest(course, user, now) is not None:
        return "Kerjakan pre-test terlebih dahulu."
    if quiz.kind == "post" and course.posttest_after_modules:
        progress = learning.course_progress(user, course)
        left = progress.total - progress.done
        if left:
            return (
                f"Post-test terbuka setelah semua modul selesai dibaca: tinggal {left} modul lagi."
            )
    return None


def _has_post_attempt(quiz: Quiz, user: User, known: list[Attempt] | None = None) -> bool:
    if known is not None:
        return any(a.quiz.course_id == quiz.course_id and a.quiz.kind == "post" for a in known)
    return (
        db.session.scalar(
            select(Attempt.id)
            .join(Quiz)
            .where(
                Quiz.course_id == quiz.course_id, Quiz.kind == "post", Attempt.user_id == user.id
            )
            .limit(1)
        )
        is not None
    )


# --- attempts ---------------------------------------------------------------------------


def start_attempt(
    quiz: Quiz, user: User, now: datetime | None = None, before_write=None
) -> Attempt:
    """Resume the open attempt, or freeze a new one. Two concurrent starts give one attempt.

    Reads first (the participant's attempts in one query, the pool), then writes two INSERTs;
    `before_write` (the view's begin_write) is called between, so on SQLite the write lock is
    held for the INSERTs alone. Whatever changed in between, the unique (quiz, user, attempt
    number) decides: the start that loses resumes the attempt the other one made.
    """
    now = now or utcnow()
    known = all_attempts(user)
    overdue = [a for a in known if a.is_open and is_overdue(a, now)]
    if overdue:  # rare: grade them first (a graded attempt may end the retries)
        if before_write is not None:
            before_write()
            before_write = None
        for attempt in overdue:
            finish_attempt(attempt, now, status="expired")
    state = quiz_state(quiz, user, now, known)
    if state.open_attempt is not None:
        return state.open_attempt
    if not state.can_start:
        raise QuizError(state.reason)
    frozen = _freeze_new_attempt(quiz, user, now, state, known, before_write)
    if frozen is None:
        # A double tap on "Mulai": the other request created this attempt; resume it.
        existing = quiz_state(quiz, user, now).open_attempt
        if existing is None:
            raise QuizError(
                "Kuis ini baru saja dimulai atau dikirim di perangkat lain. Muat ulang."
            )
        return existing
    attempt_id, values = frozen
    # The row as inserted, made an ORM object without reading it back.
    attempt = Attempt(id=attempt_id, submitted_at=None, correct_count=None, score=None,
                      passed=None, **values)  # fmt: skip
    make_transient_to_detached(attempt)
    db.session.add(attempt)
    return attempt


def _freeze_new_attempt(
    quiz: Quiz,
    user: User,
    now: datetime,
    state: QuizState,
    known: list[Attempt],
    before_write,
    generation: int | None = None,
) -> tuple[int, dict] | None:
    """Draw the questions of a new attempt (state.can_start) and write it: the attempt, then
    its served questions in one statement. (its id, the attempt's values), or None when a
    simultaneous start of the same participant inserted that attempt number first."""
    seed = secrets.randbits(31)
    rng = random.Random(seed)
    chosen = draw_for(quiz, user, rng, known, generation)
    if not chosen:
        raise QuizError("Belum ada soal untuk kuis ini. Hubungi pelatih.")
    deadline = None
    if quiz.time_limit_minutes:
        deadline = now + timedelta(minutes=quiz.time_limit_minutes)
    if quiz.closes_at:
        closes = quiz.closes_at
        deadline = min(deadline, closes) if deadline else closes
    options = option_keys(chosen)
    frozen = []  # (position, version id, option order as JSON), the attempt's id added below
    for position, version in enumerate(chosen, start=1):
        keys = list(options[version.id])
        if quiz.shuffle_options and version.type != "true_false":
            rng.shuffle(keys)
        frozen.append((position, version.id, json.dumps(keys)))
    if before_write is not None:
        before_write()
    values = {
        "quiz_id": quiz.id,
        "user_id": user.id,
        "attempt_no": len(state.attempts) + 1,
        "seed": seed,
        "status": "open",
        "started_at": now,
        "deadline": deadline,
        "question_count": len(chosen),
    }
    connection = db.session.connection()
    # Handed to the driver as it is: SQLAlchemy's per-row parameter handling is skipped.
    if connection.dialect.name == "postgresql":
        # The attempt and all its questions in one statement: the questions as three arrays
        # (psycopg runs an executemany as one statement per row).
        positions, version_ids, orders = zip(*frozen, strict=True)
        attempt_id = connection.exec_driver_sql(
            _NEW_ATTEMPT_WITH_QUESTIONS_POSTGRESQL,
            dict(
                values,
                positions=list(positions),
                version_ids=list(version_ids),
                orders=list(orders),
            ),
        ).scalar()
        return None if attempt_id is None else (attempt_id, values)
    attempt_id = connection.execute(_NEW_ATTEMPT, values).scalar()
    if attempt_id is None:
        return None
    # sqlite3's executemany: one prepared statement stepped per row
    connection.exec_driver_sql(
        _FREEZE_QUESTIONS_SQLITE,
        [(attempt_id, position, version_id, keys) for position, version_id, keys in frozen],
    )
    return attempt_id, values


# SQLite: INSERT ... ON CONFLICT DO NOTHING RETURNING its id: the unique (quiz, user, attempt
# number) decides between two simultaneous starts, without a savepoint.
_NEW_ATTEMPT = (
    sqlite_insert(_attempt)
    .on_conflict_do_nothing(index_elements=["quiz_id", "user_id", "attempt_no"])
    .returning(_attempt.c.id)
)
# The served questions, nothing chosen yet. Driver SQL: attempt id, position, question version
# id and the option order (JSON text, as SQLAlchemy's JSON type writes it: json.dumps).
_FREEZE_QUESTIONS_SQLITE = (
    "INSERT INTO attempt_answer (attempt_id, position, question_version_id, "
    "option_order, selected, saved_at, correct) VALUES (?, ?, ?, ?, '[]', NULL, NULL)"
)
# PostgreSQL: the attempt (ON CONFLICT as _NEW_ATTEMPT) and its served questions in one
# statement, the questions as arrays of positions, question version ids and option orders; the
# attempt's id comes back, or no row when a simultaneous start inserted that attempt number
# first (then no question is written either).
_NEW_ATTEMPT_WITH_QUESTIONS_POSTGRESQL = (
    "WITH new_attempt AS ("
    "INSERT INTO attempt (quiz_id, user_id, attempt_no, seed, status, started_at, deadline, "
    "question_count) VALUES (%(quiz_id)s, %(user_id)s, %(attempt_no)s, %(seed)s, %(status)s, "
    "%(started_at)s, %(deadline)s, %(question_count)s) "
    "ON CONFLICT (quiz_id, user_id, attempt_no) DO NOTHING RETURNING id), "
    "served AS (INSERT INTO attempt_answer (attempt_id, position, question_version_id, "
    "option_order, selected, saved_at, correct) "
    "SELECT new_attempt.id, q.position, q.version_id, CAST(q.option_order AS JSON), "
    "CAST('[]' AS JSON), NULL, NULL FROM new_attempt, "
    "unnest(%(positions)s::integer[], %(version_ids)s::integer[], %(orders)s::text[]) "
    "AS q(position, version_id, option_order)) "
    "SELECT id FROM new_attempt"
)


# --- "Mulai" of a hall ------------------------------------------------------------------
# A hall pressing "Mulai pre-test" together: the account, the quiz, its course and the
# account's attempts come as plain rows in one SELECT and go through the same rules
# (learning.can_open, quiz_state, draw_for, _freeze_new_attempt) as light stand-ins for the
# ORM objects, which cost more to build than the statement costs to run.


class _StartQuiz(SimpleNamespace):
    """A quiz row as quiz_state and draw_for read it (with `course`)."""

    kind_label = property(lambda self: QUIZ_KIND_LABELS[self.kind])


class _StartAttempt(SimpleNamespace):
    """An attempt row as quiz_state and draw_for read it (with `quiz`: its course and kind)."""

    is_open = property(lambda self: self.status == "open")


_attempt_quiz = _quiz.alias("attempt_quiz")
_START_QUIZ_COLUMNS = ("id", "course_id", "module_id", "kind", "draw_count", "shuffle_questions",
                       "shuffle_options", "time_limit_minutes", "attempts_allowed", "opens_at",
                       "closes_at", "active")  # fmt: skip
_START_COURSE_COLUMNS = ("active", "audience", "office_id", "offered_down", "parallel_forms")
_START_ATTEMPT_COLUMNS = ("id", "quiz_id", "attempt_no", "status", "deadline", "score", "passed")
# A row per attempt of the account (with its quiz's course and kind), or one row without.
_START_ROWS = (
    select(
        _user.c.id.label("user_id"),
        _user.c.role,
        _user.c.badan,
        _user.c.office_id.label("user_office_id"),
        *(_quiz.c[name].label(f"quiz_{name}") for name in _START_QUIZ_COLUMNS),
        *(_course.c[name].label(f"course_{name}") for name in _START_COURSE_COLUMNS),
        *(_attempt.c[name].label(f"attempt_{name}") for name in _START_ATTEMPT_COLUMNS),
        _attempt_quiz.c.course_id.label("attempt_course_id"),
        _attempt_quiz.c.kind.label("attempt_kind"),
        _GENERATION.label("pool_generation"),
    )
    .select_from(
        _user.join(_quiz, _quiz.c.id == bindparam("quiz_id"))
        .join(_course, _course.c.id == _quiz.c.course_id)
        .outerjoin(
            _attempt.join(_attempt_quiz, _attempt_quiz.c.id == _attempt.c.quiz_id),
            _attempt.c.user_id == _user.c.id,
        )
    )
    .where(*signs_in_with_token(_user.c))
    .order_by(_attempt.c.id)
)


def _start_objects(rows) -> tuple[_StartQuiz, SimpleNamespace, list[_StartAttempt]]:
    head = rows[0]
    course = SimpleNamespace(
        id=head.quiz_course_id, **{n: getattr(head, f"course_{n}") for n in _START_COURSE_COLUMNS}
    )
    quiz = _StartQuiz(course=course, **{n: getattr(head, f"quiz_{n}") for n in _START_QUIZ_COLUMNS})
    user = SimpleNamespace(
        id=head.user_id, role=head.role, badan=head.badan, office_id=head.user_office_id
    )
    known = [
        _StartAttempt(
            quiz=SimpleNamespace(course_id=row.attempt_course_id, kind=row.attempt_kind),
            **{n: getattr(row, f"attempt_{n}") for n in _START_ATTEMPT_COLUMNS},
        )
        for row in rows
        if row.attempt_id is not None
    ]
    return quiz, user, known


def start_for_token(
    token: str | None, quiz_id: int, now: datetime, before_write=None
) -> int | None:
    """start_attempt for a participant's pre-test, for the account with this session token,
    without loading the account, the quiz or the attempts as objects: one SELECT, the pool,
    then the INSERTs of start_attempt. The attempt's id (a new one, or the open one resumed),
    or None: nothing written, for the general path to answer (not signed in, staff, another
    kind of quiz, a quiz this account may not open, an attempt to grade first, a rule that
    refuses the start and says why there, a simultaneous start)."""
    if not token:
        return None
    rows = db.session.connection().execute(_START_ROWS, {"quiz_id": quiz_id, "token": token}).all()
    if not rows:
        return None
    quiz, user, known = _start_objects(rows)
    # The post-test and module quizzes wait for the course's order (order_lock reads the
    # modules read); a pre-test never does.
    if user.role != Role.PESERTA or quiz.kind != "pre":
        return None
    if not (quiz.active and learning.can_open(user, quiz.course)):
        return None
    if any(a.is_open and is_overdue(a, now) for a in known):
        return None  # graded first, as start_attempt does
    state = quiz_state(quiz, user, now, known)
    if state.open_attempt is not None:
        return state.open_attempt.id
    if not state.can_start:
        return None
    generation = rows[0].pool_generation
    frozen = _freeze_new_attempt(quiz, user, now, state, known, before_write, generation)
    return None if frozen is None else frozen[0]


# Statements on the answer-saving path are built once (building one costs more than running it).
_ATTEMPT_OF_USER = select(Attempt).where(
    Attempt.id == bindparam("attempt_id"), Attempt.user_id == bindparam("user_id")
)
# Lock only the attempt row: the quiz row is shared by everyone taking the quiz.
_ATTEMPT_OF_USER_LOCKED = _ATTEMPT_OF_USER.with_for_update(of=Attempt).execution_options(
    populate_existing=True
)


# The attempt, locked, if the account with this session token may use the app and owns it.
_ATTEMPT_OF_TOKEN_LOCKED = (
    select(Attempt)
    .join(User, User.id == Attempt.user_id)
    .where(
        Attempt.id == bindparam("attempt_id"),
        *signs_in_with_token(User),
    )
    .with_for_update(of=Attempt)
    .execution_options(populate_existing=True)
)


def get_attempt_for_token(token: str | None, attempt_id: int) -> Attempt | None:
    """get_attempt_for(user, attempt_id, lock=True) for the account with this session token,
    without loading the account: None also when no such account may go on (the caller then
    checks the sign-in the usual way)."""
    if not token:
        return None
    return db.session.scalars(
        _ATTEMPT_OF_TOKEN_LOCKED, {"attempt_id": attempt_id, "token": token}
    ).one_or_none()


def get_attempt_for(user: User, attempt_id: int, lock: bool = False) -> Attempt | None:
    """The attempt if it is this user's; None otherwise (the view answers 404).

    With lock, the row is locked (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already
    serialises writers) so a save and a submit of the same attempt never interleave.
    """
    query = _ATTEMPT_OF_USER_LOCKED if lock else _ATTEMPT_OF_USER
    return db.session.scalars(query, {"attempt_id": attempt_id, "user_id": user.id}).one_or_none()


def past_deadline(deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and now > deadline + DEADLINE_GRACE


def seconds_left(deadline: datetime | None, now: datetime) -> int | None:
    """Whole seconds until the deadline, as the countdown on the phone starts from: the
    phone's own clock may be minutes off, the length of a second is not."""
    if deadline is None:
        return None
    return max(0, int((deadline - now).total_seconds()))


def is_overdue(attempt: Attempt, now: datetime) -> bool:
    return past_deadline(attempt.deadline, now)


def expire_if_overdue(attempt: Attempt, now: datetime) -> bool:
    if attempt.is_open and is_overdue(attempt, now):
        finish_attempt(attempt, now, status="expired")
        return True
    return False


def close_overdue(user: User, now: datetime | None = None) -> int:
    """Grade every attempt of this user whose time ran out, with the answers saved in time."""
    now = now or utcnow()
    return sum(expire_if_overdue(a, now) for a in overdue_attempts(user, now))


def _check_open(attempt: Attempt, now: datetime) -> None:
    if not attempt.is_open:
        raise AttemptClosed(ALREADY_SUBMITTED)
    if is_overdue(attempt, now):
        finish_attempt(attempt, now, status="expired")
        raise AttemptClosed(TIME_UP)


# Core statements on the tables (not ORM entities) for the answer-saving path: they run on
# the session's connection without the ORM's per-statement bookkeeping.
_STORE_ANSWER = (
    update(_answer)
    .where(_answer.c.id == bindparam("answer_id"))
    .values(selected=bindparam("selected"), saved_at=bindparam("saved_at"))
)


_ANSWER_COLUMNS = (
    _attempt.c.user_id,
    _attempt.c.status,
    _attempt.c.deadline,
    _answer.c.id,
    _answer.c.option_order,
    _version.c.type,
)
_ANSWER_OF_ATTEMPT = _attempt.join(_answer, _answer.c.attempt_id == _attempt.c.id).join(
    _version, _version.c.id == _answer.c.question_version_id
)
_ANSWER_FOR_SAVE = (
    select(*_ANSWER_COLUMNS)
    .select_from(_ANSWER_OF_ATTEMPT)
    .where(
        _attempt.c.id == bindparam("attempt_id"),
        _attempt.c.user_id == bindparam("user_id"),
        _answer.c.position == bindparam("position"),
    )
    .with_for_update(of=_attempt)
)
# The same, for the account whose session token the request carries, if it may use the app
# (active, no password change pending): who is signed in is checked by the same statement.
_ANSWER_FOR_SAVE_BY_TOKEN = (
    select(*_ANSWER_COLUMNS)
    .select_from(_ANSWER_OF_ATTEMPT.join(_user, _user.c.id == _attempt.c.user_id))
    .where(
        _attempt.c.id == bindparam("attempt_id"),
        _answer.c.position == bindparam("position"),
        *signs_in_with_token(_user.c),
    )
    .with_for_update(of=_attempt)
)


class AttemptNotFound(LookupError):
    pass


class NotSignedIn(LookupError):
    """save_answer_for_token found nothing: the caller checks the sign-in the usual way."""


@dataclass(frozen=True)
class SavedAnswer:
    saved_at: datetime
    deadline: datetime | None


def save_answer(
    user: User, attempt_id: int, position: int, selected, now: datetime | None = None
) -> SavedAnswer:
    """Store one choice as it is made: the hot path of a quiz (one read, one write).

    Raises AttemptNotFound (not this user's), QuizError (no such question) and AttemptClosed
    (submitted, or past the deadline: then the attempt is closed with what was saved).
    """
    now = now or utcnow()
    row = (
        db.session.connection()
        .execute(
            _ANSWER_FOR_SAVE, {"attempt_id": attempt_id, "user_id": user.id, "position": position}
        )
        .one_or_none()
    )
    if row is None:
        if get_attempt_for(user, attempt_id) is None:
            raise AttemptNotFound(attempt_id)
        raise QuizError(f"Soal nomor {position} tidak ada di ujian ini.")
    return _store_answer(row, attempt_id, selected, now)


def save_answer_for_token(
    token: str | None, attempt_id: int, position: int, selected, now: datetime | None = None
) -> SavedAnswer:
    """save_answer for the account with this session token, without loading it: one UPDATE
    that checks the account (active, no password change pending), that the attempt is its
    own, open and in time, and stores the choice. Raises NotSignedIn when the account, the
    attempt or the question does not fit: the caller then checks the sign-in and calls
    save_answer, which says which. A closed or late attempt raises AttemptClosed as there.

    The choice stored is the one a client sends (keys of the question, one for a radio type);
    any other is corrected by a second UPDATE once the question's type and options are back."""
    if not token:
        raise NotSignedIn(attempt_id)
    now = now or utcnow()
    selected = list(selected)
    likely = _likely_clean(selected)
    connection = db.session.connection()
    row = connection.execute(
        _SAVE_BY_TOKEN,
        {
            "of_attempt": attempt_id,
            "at_position": position,
            "token": token,
            "cutoff": now - DEADLINE_GRACE,
            "new_selected": likely,
            "new_saved_at": now,
        },
    ).one_or_none()
    if row is None:
        # Why not (rare): a closed or late attempt, another account, no such question.
        row = connection.execute(
            _ANSWER_FOR_SAVE_BY_TOKEN,
            {"attempt_id": attempt_id, "position": position, "token": token},
        ).one_or_none()
        if row is None:
            raise NotSignedIn(attempt_id)
        return _store_answer(row, attempt_id, selected, now)
    clean = list(TYPES[row.type].clean_selection(dict.fromkeys(row.option_order), selected))
    if clean != likely:
        connection.execute(_STORE_ANSWER, {"answer_id": row.id, "selected": clean, "saved_at": now})
    return SavedAnswer(saved_at=now, deadline=row.deadline)


_ANY_OPTION_KEY = frozenset(OPTION_KEYS) | frozenset(TRUE_FALSE_OPTIONS)


def _likely_clean(selected: list) -> list[str]:
    """What clean_selection keeps of a client's choice when it is a proper one."""
    keys = list(dict.fromkeys(k for k in selected if k in _ANY_OPTION_KEY))
    return keys if len(keys) <= 1 else sorted(keys)


# The answer saved by one statement: the attempt is this token's account's, open and in time
# (locked on PostgreSQL, so a save and a submit of one attempt never interleave; SQLite's
# BEGIN IMMEDIATE serialises them), and the question's type, option order and the deadline
# come back with it. Subqueries, not UPDATE ... FROM: SQLite's RETURNING reads only the table
# it updates.
_OWN_OPEN_ATTEMPT = (
    select(_attempt.c.id)
    .select_from(_attempt.join(_user, _user.c.id == _attempt.c.user_id))
    .where(
        _attempt.c.id == bindparam("of_attempt"),
        _attempt.c.status == "open",
        or_(_attempt.c.deadline.is_(None), _attempt.c.deadline >= bindparam("cutoff")),
        *signs_in_with_token(_user.c),
    )
    .with_for_update(of=_attempt)
    .scalar_subquery()
)
_SAVE_BY_TOKEN = (
    update(_answer)
    # (bind names unlike the table's columns: SQLAlchemy keeps those for the SET clause)
    .where(
        _answer.c.attempt_id == _OWN_OPEN_ATTEMPT, _answer.c.position == bindparam("at_position")
    )
    .values(selected=bindparam("new_selected"), saved_at=bindparam("new_saved_at"))
    .returning(
        _answer.c.id,
        _answer.c.option_order,
        select(_version.c.type)
        .where(_version.c.id == _answer.c.question_version_id)
        .scalar_subquery()
        .label("type"),
        select(_attempt.c.deadline)
        .where(_attempt.c.id == _answer.c.attempt_id)
        .scalar_subquery()
        .label("deadline"),
    )
)


def _store_answer(row, attempt_id: int, selected, now: datetime) -> SavedAnswer:
    if row.status != "open":
        raise AttemptClosed(ALREADY_SUBMITTED)
    if past_deadline(row.deadline, now):
        attempt = db.session.scalars(
            _ATTEMPT_OF_USER_LOCKED, {"attempt_id": attempt_id, "user_id": row.user_id}
        ).one()
        finish_attempt(attempt, now, status="expired")
        raise AttemptClosed(TIME_UP)
    clean = TYPES[row.type].clean_selection(dict.fromkeys(row.option_order), list(selected))
    db.session.connection().execute(
        _STORE_ANSWER, {"answer_id": row.id, "selected": list(clean), "saved_at": now}
    )
    return SavedAnswer(saved_at=now, deadline=row.deadline)


_GRADING_ROWS = (
    select(
        _answer.c.id,
        _answer.c.position,
        _answer.c.option_order,
        _answer.c.selected,
        _version.c.type,
        _version.c.answer,
    )
    .select_from(_answer.join(_version, _version.c.id == _answer.c.question_version_id))
    .where(_answer.c.attempt_id == bindparam("attempt_id"))
)
# executemany: one statement, one row of parameters per answer
_STORE_SELECTION = (
    update(_answer)
    .where(_answer.c.id == bindparam("answer_id"))
    .values(selected=bindparam("new_selected"), saved_at=bindparam("new_saved_at"))
)
# Every mark of an attempt in one statement (not one UPDATE per answer): the right ones by id.
_STORE_MARKS = (
    update(_answer)
    .where(_answer.c.attempt_id == bindparam("of_attempt"))
    .values(
        correct=case(
            (_answer.c.id.in_(bindparam("correct_ids", expanding=True)), True), else_=False
        )
    )
)


def _apply_selections(rows, selections: dict[int, list[str]] | None, now: datetime):
    """Each row's choice after `selections` (a whole page) is applied, and the rows it changes."""
    chosen, changed = {}, []
    for row in rows:
        selected = list(row.selected or [])
        if selections is not None and row.position in selections:
            options = dict.fromkeys(row.option_order)
            clean = list(TYPES[row.type].clean_selection(options, selections[row.position]))
            if clean != selected:
                selected = clean
                changed.append({"answer_id": row.id, "new_selected": clean, "new_saved_at": now})
        chosen[row.id] = selected
    return chosen, changed


def save_answers(attempt: Attempt, selections: dict[int, list[str]], now=None) -> int:
    """The whole page at once (a form post): one read, and writes only for what changed
    since the last autosave. Returns how many answers changed."""
    now = now or utcnow()
    _check_open(attempt, now)
    if not selections:
        return 0
    connection = db.session.connection()
    rows = connection.execute(_GRADING_ROWS, {"attempt_id": attempt.id}).all()
    _chosen, changed = _apply_selections(rows, selections, now)
    if changed:
        connection.execute(_STORE_SELECTION, changed)
    return len(changed)


_CLAIM = (
    update(_attempt)
    .where(_attempt.c.id == bindparam("attempt_id"), _attempt.c.status == "open")
    .values(
        status=bindparam("new_status"),
        submitted_at=bindparam("new_submitted_at"),
        correct_count=bindparam("new_correct_count"),
        score=bindparam("new_score"),
        passed=bindparam("new_passed"),
    )
)


def finish_attempt(
    attempt: Attempt,
    now: datetime | None = None,
    status: str = "submitted",
    selections: dict[int, list[str]] | None = None,
) -> bool:
    """Close and grade exactly once; returns False if another request already did.

    `selections` are the choices a whole-page form post carries; they are stored first.
    The conditional UPDATE (WHERE status = 'open') is what makes a double click or a retry
    after a timeout grade once: only one request moves the attempt out of 'open'.
    """
    now = now or utcnow()
    connection = db.session.connection()
    rows = connection.execute(_GRADING_ROWS, {"attempt_id": attempt.id}).all()
    quiz = attempt.quiz
    values = _grade_and_close(connection, attempt.id, rows, quiz.pass_mark, now, status, selections)
    if values is None:
        db.session.refresh(attempt)
        return False
    for name, value in values.items():  # what the database now holds, without reloading it
        set_committed_value(attempt, name, value)
    # A graded post-test may complete the course. Only a course that issues certificates by
    # itself listens, so its flag is read alone first: a submit (a hall at once) does not load
    # the course and its modules otherwise.
    if quiz.kind == "post" and db.session.scalar(
        select(Course.auto_issue).where(Course.id == quiz.course_id)
    ):
        signals.course_progress.send(quiz.course, user=db.session.get(User, attempt.user_id))
    return True


def _grade_and_close(
    connection, attempt_id: int, rows, pass_mark: int, now: datetime, status: str, selections
) -> dict | None:
    """Grade the answer rows (with `selections` applied), claim the attempt (WHERE status =
    'open') and store the changed choices and every mark. The values written to the attempt,
    or None when another request had already closed it (nothing written then)."""
    chosen, changed = _apply_selections(rows, selections, now)
    right = []
    for row in rows:
        if TYPES[row.type].grade(tuple(row.answer), tuple(chosen[row.id])).correct:
            right.append(row.id)
    correct = len(right)
    score = score_percent(correct, len(rows))
    values = {
        "status": status,
        "submitted_at": now,
        "correct_count": correct,
        "score": score,
        "passed": score >= pass_mark,
    }
    claim = {f"new_{name}": value for name, value in values.items()}
    if connection.execute(_CLAIM, {"attempt_id": attempt_id, **claim}).rowcount != 1:
        return None
    if changed:
        connection.execute(_STORE_SELECTION, changed)
    if rows:
        connection.execute(_STORE_MARKS, {"of_attempt": attempt_id, "correct_ids": right})
    return values


# A submit as a hall sends it, in one SELECT: the attempt, if it belongs to the account of the
# session token and that account may go on (locked: FOR UPDATE of the attempt on PostgreSQL,
# BEGIN IMMEDIATE on SQLite), its quiz's pass mark and kind, whether the course issues
# certificates by itself, and every answer with what grading needs.
_SUBMIT_ROWS = (
    select(
        _attempt.c.user_id,
        _attempt.c.status,
        _attempt.c.deadline,
        _quiz.c.pass_mark,
        _quiz.c.kind,
        _quiz.c.course_id,
        _course.c.auto_issue,
        _answer.c.id,
        _answer.c.position,
        _version.c.type,
        # the JSON columns as their text, decoded together (_decode_answers)
        cast(_answer.c.option_order, Text).label("option_order"),
        cast(_answer.c.selected, Text).label("selected"),
        cast(_version.c.answer, Text).label("answer"),
    )
    .select_from(
        _attempt.join(_user, _user.c.id == _attempt.c.user_id)
        .join(_quiz, _quiz.c.id == _attempt.c.quiz_id)
        .join(_course, _course.c.id == _quiz.c.course_id)
        .join(_answer, _answer.c.attempt_id == _attempt.c.id)
        .join(_version, _version.c.id == _answer.c.question_version_id)
    )
    .where(
        _attempt.c.id == bindparam("attempt_id"),
        *signs_in_with_token(_user.c),
    )
    # The answers locked too: a save holding the attempt when this SELECT began commits its
    # answer before the lock is granted, and only a locked row is read again at its latest
    # version (the attempt alone is not: it was locked by the save, not changed). Every row
    # locks the attempt first, as a save does, so the two never wait on each other in turn.
    .with_for_update(of=[_attempt, _answer])
)


GradingRow = namedtuple("GradingRow", "id position option_order selected type answer")


def _decode_answers(rows) -> list[GradingRow]:
    """The answer rows with their three JSON texts decoded by one json.loads for the whole
    attempt (sixty decodes of a few bytes each cost more than one of the lot)."""
    texts = ",".join(
        f"[{r.option_order or 'null'},{r.selected or 'null'},{r.answer or 'null'}]" for r in rows
    )
    decoded = json.loads(f"[{texts}]")
    return [
        GradingRow(r.id, r.position, order or [], selected or [], r.type, answer or [])
        for r, (order, selected, answer) in zip(rows, decoded, strict=True)
    ]


def submit_for_token(
    token: str | None, attempt_id: int, selections: dict[int, list[str]], now: datetime
) -> bool | None:
    """The "Kirim" of a whole page for the account with this session token, without loading
    the account or the attempt as objects: one SELECT, then the claim and the writes of
    finish_attempt. True: graded now, or already closed by an earlier request (the result
    page follows either way). None: nothing done, for the general path to answer (not this
    token's attempt, a sign-in to check, or time up: graded there as expired)."""
    if not token:
        return None
    connection = db.session.connection()
    rows = connection.execute(_SUBMIT_ROWS, {"attempt_id": attempt_id, "token": token}).all()
    if not rows:
        return None
    head = rows[0]
    if head.status != "open":
        return True
    if past_deadline(head.deadline, now):
        return None
    answers = _decode_answers(rows)
    graded = _grade_and_close(
        connection, attempt_id, answers, head.pass_mark, now, "submitted", selections
    )
    if graded is None:
        return True
    if head.kind == "post" and head.auto_issue:
        signals.course_progress.send(
            db.session.get(Course, head.course_id), user=db.session.get(User, head.user_id)
        )
    return True


def can_review(attempt: Attempt, now: datetime | None = None) -> bool:
    """May the participant see correct answers and explanations (never before submit)?"""
    now = now or utcnow()
    if attempt.is_open:
        return False
    policy = attempt.quiz.review_policy
    if policy == "after_submit":
        return True
    if policy == "after_last":
        # Not while a retry is possible or running: the key would be the retry's answer sheet.
        state = quiz_state(attempt.quiz, db.session.get(User, attempt.user_id), now)
        return state.open_attempt is None and state.final
    if policy == "after_close":
        return attempt.quiz.closes_at is not None and now >= attempt.quiz.closes_at
    return False


# --- results -----------------------------------------------------------------------------


@dataclass
class CourseResult:
    pre: float | None
    post: float | None
    passed: bool | None

    @property
    def gain(self) -> float | None:
        return stats.n_gain(self.pre, self.post)

    @property
    def gain_category(self) -> str | None:
        return stats.n_gain_category(self.gain)


def course_result(course: Course, user: User) -> CourseResult:
    """Pre-test score (its only attempt) and the best post-test score."""
    rows = db.session.execute(
        select(Quiz.kind, Attempt.score, Attempt.passed)
        .join(Attempt, Attempt.quiz_id == Quiz.id)
        .where(
            Quiz.course_id == course.id,
            Quiz.kind.in_(("pre", "post")),
            Attempt.user_id == user.id,
            Attempt.score.is_not(None),
        )
        .order_by(Attempt.attempt_no)
    ).all()
    pre = next((r.score for r in rows if r.kind == "pre"), None)
    posts = [r for r in rows if r.kind == "post"]
    best = max(posts, key=lambda r: r.score) if posts else None
    return CourseResult(pre, best.score if best else None, best.passed if best else None)


# --- the course's order: pre-test first -------------------------------------------------


def pending_pretest(course: Course, user: User, now: datetime | None = None) -> Quiz | None:
    """The pre-test this participant still has to submit before the modules open, or None.

    Only with the course's "pre-test first" setting, for participants, and for a pre-test that
    can still be taken: once it has closed, or once the participant has started the post-test
    (from before this rule existed), waiting for it would lock the course for good.
    """
    if user.role != Role.PESERTA or not course.pretest_first:
        return None
    # One query: the course's pre-/post-tests, each with this participant's attempts (if any).
    rows = db.session.execute(
        select(Quiz, Attempt.status)
        .outerjoin(Attempt, and_(Attempt.quiz_id == Quiz.id, Attempt.user_id == user.id))
        .where(Quiz.course_id == course.id, Quiz.kind.in_(("pre", "post")))
        .order_by(Quiz.id)
    ).all()
    pre = next((q for q, _ in rows if q.kind == "pre" and q.active), None)
    if pre is None or (pre.closes_at and (now or utcnow()) >= pre.closes_at):
        return None
    for quiz, status in rows:
        if status is not None and (quiz.kind == "post" or status != "open"):
            return None
    return pre


PRETEST_FIRST = "Kerjakan pre-test terlebih dahulu. Modul terbuka setelah pre-test dikirim."


def pretest_gate(course: Course, user: User) -> str | None:
    """learning.hooks.module_gates: the modules open once the pre-test is submitted."""
    return PRETEST_FIRST if pending_pretest(course, user) is not None else None
