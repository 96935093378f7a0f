"""The completion rule: who has finished a course, and what is still missing for the others.

`completion_for` runs a constant number of queries however many participants it covers
(one aggregate per condition), because the per-kecamatan recap covers whole provinces.

Attendance: `attendance_rates` leaves out a participant invited to none of the course's
sessions that have started. When the rule requires attendance (> 0 %), such a participant
has not met it ("no session held for this participant" is not a pass), and the missing text
says so; when the rule requires 0 %, attendance is not checked at all.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import case, func, or_, select

from bimtek.accounts.models import User
from bimtek.attendance.queries import attendance_rates
from bimtek.certificates.models import Certificate, PaktaConfirmation
from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.learning.models import Course, ModuleProgress, ModuleVersion
from bimtek.quiz.models import Attempt, Quiz
from bimtek.timeutil import angka

# Above this many ids, read the whole course and filter in Python: a bound parameter per id
# would hit SQLite's variable limit and slow PostgreSQL's planner for no gain.
_IN_LIST_LIMIT = 500


@dataclass
class Completion:
    user_id: int
    modules_done: int
    modules_total: int
    post_score: float | None
    post_passed: bool
    attendance_rate: float | None
    pakta_confirmed_at: datetime | None
    complete: bool
    missing: list[str]  # Indonesian, for participants, admins and exports
    certificate_number: str | None  # of the current, non-revoked certificate


@dataclass(frozen=True)
class Rule:
    """A course's completion rule with the facts about the course it needs."""

    require_modules: bool = True
    require_post_pass: bool = True
    min_attendance_pct: int = 0
    pakta_required: bool = False
    has_post_quiz: bool = True
    pass_mark: int | None = 70


@dataclass
class Facts:
    modules_done: int = 0
    modules_total: int = 0
    post_score: float | None = None
    post_passed: bool = False
    attendance_rate: float | None = None
    pakta_confirmed: bool = False
    missing: list[str] = field(default_factory=list)


@lru_cache(maxsize=4096)  # Babel formatting costs ~90 µs; scores repeat
def _score(value: float) -> str:
    return angka(value, "#,##0.##")


def missing_items(rule: Rule, facts: Facts) -> list[str]:
    """What a participant still lacks under `rule`, in Indonesian; empty when complete."""
    missing = []
    if rule.require_modules and facts.modules_done < facts.modules_total:
        missing.append(f"Modul dibaca: {facts.modules_done} dari {facts.modules_total}")
    if rule.require_post_pass:
        mark = "" if rule.pass_mark is None else f"lulus {rule.pass_mark}"
        if not rule.has_post_quiz:
            missing.append("Post-test belum tersedia untuk kursus ini")
        elif facts.post_score is None:
            missing.append(
                f"Post-test belum dikerjakan ({mark})" if mark else "Post-test belum dikerjakan"
            )
        elif not facts.post_passed:
            detail = f"nilai {_score(facts.post_score)}" + (f", {mark}" if mark else "")
            missing.append(f"Post-test belum lulus ({detail})")
    if rule.min_attendance_pct > 0:
        if facts.attendance_rate is None:
            missing.append(
                "Kehadiran: belum ada sesi tatap muka yang diikuti "
                f"(minimal {rule.min_attendance_pct}% sesi)"
            )
        elif facts.attendance_rate * 100 < rule.min_attendance_pct - 1e-9:
            missing.append(
                f"Kehadiran {round(facts.attendance_rate * 100)}% "
                f"(minimal {rule.min_attendance_pct}% sesi)"
            )
    if rule.pakta_required and not facts.pakta_confirmed:
        missing.append("Pakta integritas belum dikonfirmasi")
    return missing


def rule_of(course: Course) -> Rule:
    posts = db.session.execute(
        select(func.count(), func.max(Quiz.pass_mark)).where(
            Quiz.course_id == course.id, Quiz.kind == "post", Quiz.active.is_(True)
        )
    ).one()
    return Rule(
        require_modules=course.require_modules,
        require_post_pass=course.require_post_pass,
        min_attendance_pct=course.min_attendance_pct or 0,
        pakta_required=bool((course.pakta_text or "").strip()),
        has_post_quiz=posts[0] > 0,
        pass_mark=posts[1],
    )


def audience_ids(course: Course, where=None) -> list[int]:
    """Active participants whose badan the course is for (and who meet `where`, if given)."""
    query = select(User.id).where(
        User.role == Role.PESERTA,
        User.active.is_(True),
        User.badan.in_(course.audience or []),
    )
    if where is not None:
        query = query.where(where)
    return list(db.session.scalars(query.order_by(User.id)))


def in_kecamatan(kecamatan_kode: Collection[str | None]):
    codes = [k for k in kecamatan_kode if k]
    clause = User.kecamatan_kode.in_(codes)
    return or_(clause, User.kecamatan_kode.is_(None)) if None in kecamatan_kode else clause


def _restrict(query, column, ids: list[int] | None):
    return query if ids is None else query.where(column.in_(ids))


def completion_for(
    course: Course,
    user_ids: Iterable[int] | None = None,
    kecamatan_kode: Collection[str | None] | None = None,
) -> dict[int, Completion]:
    """Completion of each participant (default: the course's audience), in constant queries.

    `kecamatan_kode` narrows the audience to those kecamatan (None in it: people without one)
    inside the queries themselves, so a province-wide export can go a few kecamatan at a time
    and hold only their verdicts in memory.
    """
    if kecamatan_kode is not None:
        # Filter through a join on the indexed user.kecamatan_kode: SQLite plans neither
        # `IN (SELECT …)` nor thousands of bound ids well (0.3–0.9 s per aggregate and chunk).
        place = in_kecamatan(kecamatan_kode)
        ids = audience_ids(course, place)

        def narrowed(query, column):
            return query.join(User, User.id == column).where(place)
    else:
        ids = audience_ids(course) if user_ids is None else list(dict.fromkeys(user_ids))
        narrow = ids if len(ids) <= _IN_LIST_LIMIT else None
        place = None

        def narrowed(query, column):
            return _restrict(query, column, narrow)

    if not ids:
        return {}
    rule = rule_of(course)
    module_ids = [cm.module_id for cm in course.course_modules]

    done: dict[int, int] = {}
    if module_ids:
        query = (
            select(ModuleProgress.user_id, func.count(func.distinct(ModuleVersion.module_id)))
            .join(ModuleVersion, ModuleVersion.id == ModuleProgress.module_version_id)
            .where(
                ModuleVersion.module_id.in_(module_ids),
                ModuleProgress.completed_at.is_not(None),
            )
            .group_by(ModuleProgress.user_id)
        )
        done = dict(db.session.execute(narrowed(query, ModuleProgress.user_id)).all())

    query = (
        select(
            Attempt.user_id,
            func.max(Attempt.score),
            func.max(case((Attempt.passed.is_(True), 1), else_=0)),
        )
        .join(Quiz, Quiz.id == Attempt.quiz_id)
        .where(Quiz.course_id == course.id, Quiz.kind == "post", Attempt.score.is_not(None))
        .group_by(Attempt.user_id)
    )
    posts = {
        uid: (score, bool(passed))
        for uid, score, passed in db.session.execute(narrowed(query, Attempt.user_id))
    }

    rates = attendance_rates(course.id, None if place is not None else narrow, where=place)

    query = select(PaktaConfirmation.user_id, PaktaConfirmation.confirmed_at).where(
        PaktaConfirmation.course_id == course.id
    )
    pakta = dict(db.session.execute(narrowed(query, PaktaConfirmation.user_id)).all())

    query = select(Certificate.user_id, Certificate.number).where(
        Certificate.course_id == course.id, Certificate.revoked_at.is_(None)
    )
    numbers = dict(db.session.execute(narrowed(query, Certificate.user_id)).all())

    total = len(module_ids)
    result = {}
    for uid in ids:
        score, passed = posts.get(uid, (None, False))
        facts = Facts(
            modules_done=min(done.get(uid, 0), total),
            modules_total=total,
            post_score=score,
            post_passed=passed,
            attendance_rate=rates.get(uid),
            pakta_confirmed=uid in pakta,
        )
        missing = missing_items(rule, facts)
        result[uid] = Completion(
            user_id=uid,
            modules_done=facts.modules_done,
            modules_total=total,
            post_score=score,
            post_passed=passed,
            attendance_rate=facts.attendance_rate,
            pakta_confirmed_at=pakta.get(uid),
            complete=not missing,
            missing=missing,
            certificate_number=numbers.get(uid),
        )
    return result


def completion_of(course: Course, user: User) -> Completion:
    return completion_for(course, [user.id])[user.id]
