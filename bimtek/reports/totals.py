"""Dashboard figures computed by the database: one GROUP BY over a course's participants.

The dashboards of a province (or of KPU RI) cover up to a million participants, so they never
load a row per participant: one statement joins each participant to their per-user aggregates
(modules read, first pre-test, best post-test, attendance, pakta, certificate), evaluates the
course's completion rule on that row in SQL, and sums by region and badan. The sums fill the
same `queries.Summary` the per-participant path fills, so every figure (paired pre/post means,
mean N-gain over paired participants, completion) means exactly what it meant before.

Regions come from the participant's kecamatan code: "35" (provinsi), "35.07" (kabupaten/kota),
"35.07.01" (kecamatan), or their desa.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Float, and_, case, cast, false, func, literal, or_, select, true

from bimtek.accounts.models import User
from bimtek.attendance.models import PRESENT, Attendance, SessionInvite, TrainingSession
from bimtek.certificates.completion import rule_of
from bimtek.certificates.models import Certificate, PaktaConfirmation
from bimtek.extensions import db
from bimtek.learning.models import Course, ModuleProgress, ModuleVersion
from bimtek.offices.models import KABKOTA, PUSAT, Office
from bimtek.offices.models import PROVINSI as PROVINSI_OFFICE
from bimtek.offices.scope import office_id_of
from bimtek.quiz.models import Attempt, Quiz
from bimtek.quiz.stats import MAX_SCORE, SCORE_EPSILON
from bimtek.reports.queries import NO_KECAMATAN, Scope, Summary, audience_where, within
from bimtek.timeutil import utcnow
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan, Provinsi

PROVINSI, KABUPATEN, KECAMATAN, DESA = "provinsi", "kabupaten", "kecamatan", "desa"
# The region one level below a code of this length.
CHILD_LEVEL = {2: KABUPATEN, 5: KECAMATAN, 8: DESA}
LEVEL_LABELS = {
    PROVINSI: "provinsi",
    KABUPATEN: "kabupaten/kota",
    KECAMATAN: "kecamatan",
    DESA: "desa/kelurahan",
}
NO_DESA = "(tanpa desa — PPK/sekretariat PPK)"
# A pre-test score rides in one MIN() with its attempt number (attempt_no * SHIFT + score), so
# "the first graded pre-test" is a hash aggregate, not a sort of every attempt.
SHIFT = 1000.0
# A reach of one office (a kabupaten/kota) is "narrow"; a province's is not.
NARROW_OFFICES = 1


def _key(level: str):
    if level == PROVINSI:
        return func.substr(User.kecamatan_kode, 1, 2)
    if level == KABUPATEN:
        return func.substr(User.kecamatan_kode, 1, 5)
    if level == KECAMATAN:
        return User.kecamatan_kode
    return User.desa_kode


@dataclass
class Breakdown:
    level: str  # what the groups are: provinsi, kabupaten, kecamatan or desa
    groups: list[Summary]
    total: Summary


def _people(course: Course, where, narrow: bool) -> tuple:
    """The per-participant select (one row per participant in the course's audience meeting
    `where`) with the columns the completion rule and the measures read.

    narrow: the participants are a small part of the course's (one kabupaten/kota or less), so
    each per-user aggregate joins them first and reads only their rows (index on
    user.office_id or kecamatan_kode, then on <table>.user_id). Otherwise (a province, KPU RI)
    each aggregate reads the course's rows once and the join happens after: building a hash of
    every participant once per aggregate costs more than it saves."""
    rule = rule_of(course)
    module_ids = [cm.module_id for cm in course.course_modules]
    total_modules = len(module_ids)
    now = utcnow()

    def mine(query, column):
        return query.join(User, User.id == column).where(where) if narrow else query

    done = None
    if module_ids:
        # Modules read: per module, whether any of its versions was completed, summed. A MAX per
        # module (not COUNT(DISTINCT module)) needs no join to module_version and no sort.
        versions: dict[int, list[int]] = {}
        for version_id, module_id in db.session.execute(
            select(ModuleVersion.id, ModuleVersion.module_id).where(
                ModuleVersion.module_id.in_(module_ids)
            )
        ):
            versions.setdefault(module_id, []).append(version_id)
        flags = [
            func.max(case((ModuleProgress.module_version_id.in_(ids), 1), else_=0)).label(f"m{i}")
            for i, ids in enumerate(versions.values())
        ]
        done = (
            mine(
                select(ModuleProgress.user_id.label("uid"), *flags).where(
                    ModuleProgress.module_version_id.in_(
                        [v for ids in versions.values() for v in ids]
                    ),
                    ModuleProgress.completed_at.is_not(None),
                ),
                ModuleProgress.user_id,
            )
            .group_by(ModuleProgress.user_id)
            .subquery("done")
        )
    kinds: dict[str, list[int]] = {"pre": [], "post": []}
    for quiz_id, kind in db.session.execute(
        select(Quiz.id, Quiz.kind).where(Quiz.course_id == course.id, Quiz.kind.in_(kinds))
    ):
        kinds[kind].append(quiz_id)
    is_pre = Attempt.quiz_id.in_(kinds["pre"])
    is_post = Attempt.quiz_id.in_(kinds["post"])
    # Pre and post in one pass over the attempts: the first graded pre-test (its score rides
    # with its attempt number in one MIN), the best post-test and whether any passed.
    tests = (
        mine(
            select(
                Attempt.user_id.label("uid"),
                func.min(case((is_pre, Attempt.attempt_no))).label("first"),
                func.min(case((is_pre, Attempt.attempt_no * SHIFT + Attempt.score))).label("key"),
                func.max(case((is_post, Attempt.score))).label("post"),
                func.max(case((and_(is_post, Attempt.passed.is_(True)), 1), else_=0)).label(
                    "passed"
                ),
            ).where(Attempt.quiz_id.in_(kinds["pre"] + kinds["post"]), Attempt.score.is_not(None)),
            Attempt.user_id,
        )
        .group_by(Attempt.user_id)
        .subquery("tests")
    )
    attendance = (
        mine(
            select(
                SessionInvite.user_id.label("uid"),
                func.count().label("invited"),
                func.sum(case((Attendance.status.in_(PRESENT), 1), else_=0)).label("present"),
            )
            .join(TrainingSession, TrainingSession.id == SessionInvite.session_id)
            .outerjoin(
                Attendance,
                (Attendance.session_id == SessionInvite.session_id)
                & (Attendance.user_id == SessionInvite.user_id),
            )
            .where(TrainingSession.course_id == course.id, TrainingSession.starts_at <= now),
            SessionInvite.user_id,
        )
        .group_by(SessionInvite.user_id)
        .subquery("att")
    )
    pakta = (
        mine(
            select(PaktaConfirmation.user_id.label("uid")).where(
                PaktaConfirmation.course_id == course.id
            ),
            PaktaConfirmation.user_id,
        )
        .group_by(PaktaConfirmation.user_id)
        .subquery("pakta")
    )
    cert = (
        mine(
            select(Certificate.user_id.label("uid")).where(
                Certificate.course_id == course.id, Certificate.revoked_at.is_(None)
            ),
            Certificate.user_id,
        )
        .group_by(Certificate.user_id)
        .subquery("cert")
    )

    if done is not None and len(done.c) > 1:
        n_done = sum((func.coalesce(c, 0) for c in list(done.c)[1:]), literal(0))
    else:
        n_done = literal(0)
    # attempt_no * SHIFT + score, less the attempt part: the score of the first attempt.
    pre_score = tests.c.key - tests.c.first * SHIFT
    post_score = tests.c.post
    rate = cast(attendance.c.present, Float) / attendance.c.invited
    if total_modules:
        modules = case((n_done >= total_modules, 1.0), else_=cast(n_done, Float) / total_modules)
    else:
        modules = literal(None, Float)
    both = and_(tests.c.key.is_not(None), post_score.is_not(None))
    gain = case(
        (
            and_(both, pre_score < MAX_SCORE - SCORE_EPSILON),
            (post_score - pre_score) / (MAX_SCORE - pre_score),
        ),
        else_=None,
    )
    # The completion rule (certificates.completion.missing_items), row by row.
    met = []
    if rule.require_modules and total_modules:
        met.append(n_done >= total_modules)
    if rule.require_post_pass:
        met.append(tests.c.passed == 1 if rule.has_post_quiz else false())
    if rule.min_attendance_pct > 0:
        met.append(
            and_(
                attendance.c.invited.is_not(None),
                rate * 100 >= rule.min_attendance_pct - 1e-9,
            )
        )
    if rule.pakta_required:
        met.append(pakta.c.uid.is_not(None))
    has_cert = cert.c.uid.is_not(None)
    complete = or_(and_(true(), *met), has_cert)

    def flag(condition):
        return case((condition, 1), else_=0)

    columns = dict(
        modules=modules,
        rate=rate,
        gain=gain,
        both=flag(both),
        pre=case((both, pre_score), else_=None),
        post_paired=case((both, post_score), else_=None),
        with_post=flag(post_score.is_not(None)),
        passed=flag(and_(post_score.is_not(None), tests.c.passed == 1)),
        complete=flag(complete),
        cert=flag(has_cert),
    )
    joins = [tests, attendance, pakta, cert] + ([done] if done is not None else [])
    return columns, joins


def breakdown(course: Course, scope: Scope, level: str, kode: str | None = None) -> Breakdown:
    """The course's participants in `scope` (and in region `kode`, if given), summed per
    region at `level` and per badan in one statement; named groups sorted by name."""
    where = and_(audience_where(course), *scope.conditions(), *([within(kode)] if kode else []))
    narrow = (
        scope.user_ids is not None
        or (kode is not None and len(kode) >= 5)
        or (scope.reach is not None and len(scope.reach.ids) <= NARROW_OFFICES)
    )
    query = aggregate(course, where, narrow, [_key(level).label("key"), User.badan.label("badan")])
    return assemble(level, ((row[0], sums_of(row)) for row in db.session.execute(query)))


def assemble(level: str, parts) -> Breakdown:
    """(region code at `level`, Summary) pairs added up per region, named, with their total."""
    groups: dict[str | None, Summary] = {}
    for key, part in parts:
        summary = groups.get(key)
        if summary is None:
            summary = groups[key] = Summary(key or "", "")
        summary.merge(part)
    names = _names(level, [k for k in groups if k])
    for k, summary in groups.items():
        summary.nama = names.get(k, k) if k else _nameless(level)
    total = Summary("", "Jumlah")
    for summary in groups.values():
        total.merge(summary)
    ordered = sorted(groups.values(), key=lambda s: (not s.kode, s.nama, s.kode))
    return Breakdown(level, ordered, total)


def aggregate(course: Course, where, narrow: bool, keys: list):
    """The sums of the course's participants meeting `where`, grouped by `keys` (labelled
    expressions on User), in the column order `sums_of` reads after the keys: the one statement
    behind the live dashboard and behind the stored sums (bimtek/reports/sums.py)."""
    columns, joins = _people(course, where, narrow)
    inner = select(*keys, *(c.label(name) for name, c in columns.items())).select_from(User)
    for sub in joins:
        inner = inner.outerjoin(sub, sub.c.uid == User.id)
    people = inner.where(where).subquery("people")
    c = people.c
    grouped = [c[k.name] for k in keys]
    return select(
        *grouped,
        func.count(),
        func.count(c.modules),
        func.sum(c.modules),
        func.count(c.rate),
        func.sum(c.rate),
        func.count(c.gain),
        func.sum(c.gain),
        func.sum(c.both),
        func.sum(c.pre),
        func.sum(c.post_paired),
        func.sum(c.with_post),
        func.sum(c.passed),
        func.sum(c.complete),
        func.sum(c.cert),
    ).group_by(*grouped)


def roll_up(breakdown: Breakdown, level: str = KABUPATEN) -> Breakdown:
    """Kecamatan sums added up per kabupaten/kota (or provinsi), without a second query."""
    length = 5 if level == KABUPATEN else 2
    groups: dict[str, Summary] = {}
    for part in breakdown.groups:
        key = part.kode[:length]
        groups.setdefault(key, Summary(key, "")).merge(part)
    names = _names(level, [k for k in groups if k])
    for k, summary in groups.items():
        summary.nama = names.get(k, k) if k else _nameless(level)
    ordered = sorted(groups.values(), key=lambda s: (not s.kode, s.nama, s.kode))
    return Breakdown(level, ordered, breakdown.total)


def top_of(user) -> tuple[str, str | None]:
    """What a user's dashboard groups by, and the region it covers: KPU RI per provinsi, a
    province per kabupaten/kota, a kabupaten/kota (or a lone office) per kecamatan."""
    office = db.session.get(Office, office_id_of(user))
    level = office.level if office is not None else KABKOTA
    if level == PUSAT:
        return PROVINSI, None
    if level == PROVINSI_OFFICE:
        return KABUPATEN, office.wilayah_kode
    return KECAMATAN, None


def sums_of(row: Sequence) -> Summary:
    """A Summary from a row of `aggregate` (or of the stored sums, in the same order)."""
    (_, badan, count, n_mod, s_mod, n_rate, s_rate, n_gain, s_gain, n_both, s_pre, s_post,
     with_post, passed, complete, cert) = row  # fmt: skip
    part = Summary("", "")
    part.participants = count
    part.by_badan[badan or "—"] = count
    part._modules[:] = [n_mod, s_mod or 0.0]
    part._attendance[:] = [n_rate, s_rate or 0.0]
    part._gain[:] = [n_gain, s_gain or 0.0]
    part._both[:] = [n_both or 0, s_pre or 0.0, s_post or 0.0]
    part.with_post = with_post or 0
    part.passed = passed or 0
    part.complete = complete or 0
    part.certificates = cert or 0
    return part


def _nameless(level: str) -> str:
    return NO_DESA if level == DESA else NO_KECAMATAN[1]


def _names(level: str, codes: list[str]) -> dict[str, str]:
    if not codes:
        return {}
    table = {PROVINSI: Provinsi, KABUPATEN: Kabupaten, KECAMATAN: Kecamatan, DESA: Desa}[level]
    found: dict[str, str] = {}
    for start in range(0, len(codes), 500):  # SQLite's bound-parameter limit
        chunk = codes[start : start + 500]
        found.update(
            db.session.execute(select(table.kode, table.nama).where(table.kode.in_(chunk))).all()
        )
    return found


def region_name(kode: str) -> str | None:
    """The name of a provinsi, kabupaten/kota or kecamatan code (None: not loaded)."""
    table = {2: Provinsi, 5: Kabupaten, 8: Kecamatan}.get(len(kode))
    return db.session.scalar(select(table.nama).where(table.kode == kode)) if table else None
