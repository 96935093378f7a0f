"""What the dashboards and the rekap export read: one set of facts per participant of a course,
computed with a fixed number of queries however many participants, and summaries over them."""

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from bimtek.accounts.models import User
from bimtek.accounts.roles import BADAN
from bimtek.attendance.models import SessionInvite, SessionTrainer, TrainingSession
from bimtek.certificates.completion import completion_for, in_kecamatan
from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.offices import scope as office_scope
from bimtek.offices.scope import Reach
from bimtek.quiz import stats
from bimtek.quiz.models import Attempt, Quiz
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan

NO_KECAMATAN = ("", "(tanpa kecamatan)")


@dataclass(slots=True)
class Facts:
    """One participant's standing in one course."""

    user_id: int
    nama: str
    nik: str | None
    badan: str | None
    jabatan: str | None
    kecamatan_kode: str
    kecamatan_nama: str
    desa_kode: str | None
    desa_nama: str | None
    modules_done: int
    modules_total: int
    pre: float | None
    post: float | None
    passed: bool | None
    attendance: float | None
    complete: bool = False
    status: str = ""
    certificate_number: str | None = None
    pakta_at: datetime | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def gain(self) -> float | None:
        return stats.n_gain(self.pre, self.post)

    @property
    def modules_fraction(self) -> float | None:
        return self.modules_done / self.modules_total if self.modules_total else None


@dataclass
class Scope:
    """Whose results a staff member may see: the participants of the offices in their reach
    (None = every office), and of those, for a trainer, the invitees of the sessions they run
    (user_ids None = all of them)."""

    user_ids: set[int] | None = None
    reach: Reach | None = None
    trainer_id: int | None = None  # the invitees as a subquery, for SQL-side summaries

    def allows(self, user_id: int, office_id: int | None = None) -> bool:
        if self.reach is not None and not self.reach.sees(office_id):
            return False
        return self.user_ids is None or user_id in self.user_ids

    def conditions(self) -> list:
        """The same, as SQL conditions on User."""
        found = []
        if self.reach is not None:
            found.append(self.reach.where(User.office_id))
        if self.user_ids is not None:
            found.append(User.id.in_(_trainer_invitees(self.trainer_id)) if self.trainer_id
                         else User.id.in_(sorted(self.user_ids)))  # fmt: skip
        return found


def _trainer_invitees(trainer_id: int):
    mine = select(SessionTrainer.session_id).where(SessionTrainer.user_id == trainer_id)
    own = select(TrainingSession.id).where(TrainingSession.created_by_id == trainer_id)
    return select(SessionInvite.user_id).where(
        SessionInvite.session_id.in_(mine) | SessionInvite.session_id.in_(own)
    )


def scope_for(staff: User) -> Scope:
    reach = office_scope.reach_of(staff)
    office = None if reach.everything else reach
    if staff.role == Role.ADMIN:
        return Scope(None, office)
    ids = db.session.scalars(_trainer_invitees(staff.id).distinct())
    return Scope(set(ids), office, trainer_id=staff.id)


def pre_scores(course: Course, where=None) -> dict[int, float]:
    """user id → score of their pre-test (its first graded attempt)."""
    query = (
        select(Attempt.user_id, Attempt.score)
        .join(Quiz, Quiz.id == Attempt.quiz_id)
        .where(Quiz.course_id == course.id, Quiz.kind == "pre", Attempt.score.is_not(None))
        .order_by(Attempt.attempt_no.desc())  # the first attempt is assigned last
    )
    if where is not None:  # a condition on User (some kecamatan), through a join
        query = query.join(User, User.id == Attempt.user_id).where(where)
    return dict(db.session.execute(query).all())


def _status(f: Facts) -> str:
    if f.certificate_number:
        return "Bersertifikat"
    if f.complete:
        return "Tuntas"
    if f.post is not None:
        return "Lulus post-test" if f.passed else "Belum lulus post-test"
    if f.pre is not None or f.modules_done:
        return "Sedang belajar"
    return "Belum mulai"


# Participants whose verdicts are held in memory at once (whole kecamatan at a time): keeps a
# province-wide export flat, and each chunk's ids fit SQLite's 32,766 bound parameters.
CHUNK_PEOPLE = 10_000


def audience_where(course: Course):
    """The course's audience: active participants of the badan it is for."""
    return and_(
        User.role == Role.PESERTA, User.active.is_(True), User.badan.in_(course.audience or [])
    )


def within(kode: str):
    """Participants whose kecamatan lies in the region `kode` (provinsi, kabupaten, kecamatan).

    Through the kecamatan table, not LIKE on the code: an index on user.kecamatan_kode serves
    an IN list in every collation, a LIKE prefix only in the C collation."""
    if len(kode) == 2:
        return User.kecamatan_kode.in_(
            select(Kecamatan.kode)
            .join(Kabupaten, Kabupaten.kode == Kecamatan.kabupaten_kode)
            .where(Kabupaten.provinsi_kode == kode)
        )
    if len(kode) == 5:
        return User.kecamatan_kode.in_(
            select(Kecamatan.kode).where(Kecamatan.kabupaten_kode == kode)
        )
    return User.kecamatan_kode == kode


def _where(course: Course, scope: Scope | None, region: str | None) -> list:
    found = [audience_where(course)]
    if scope is not None:
        found += scope.conditions()
    if region:
        found.append(within(region))
    return found


def _kecamatan_chunks(
    course: Course, scope: Scope | None = None, region: str | None = None
) -> list[list[str | None]]:
    """The course's kecamatan by name (None last: people without one), grouped into chunks of
    about CHUNK_PEOPLE participants."""
    counts = db.session.execute(
        select(User.kecamatan_kode, Kecamatan.nama, func.count())
        .outerjoin(Kecamatan, Kecamatan.kode == User.kecamatan_kode)
        .where(*_where(course, scope, region))
        .group_by(User.kecamatan_kode, Kecamatan.nama)
    ).all()
    ordered = sorted(counts, key=lambda r: (r[0] is None, r[1] or "", r[0] or ""))
    chunks: list[list[str | None]] = []
    size = CHUNK_PEOPLE
    for kode, _, count in ordered:
        if size + count > CHUNK_PEOPLE:
            chunks.append([])
            size = 0
        chunks[-1].append(kode)
        size += count
    return chunks


def course_facts(
    course: Course,
    scope: Scope | None = None,
    kecamatan_kode: str | None = None,
    region: str | None = None,
) -> Iterator[Facts]:
    """Facts for every participant in the course's audience (within `scope`, and the
    kecamatan or the region `region` if given), ordered by kecamatan, desa, name.

    The completion rule's verdicts (modules read, best post-test, attendance, pakta, certificate)
    come from certificates.completion in a fixed number of queries per chunk of kecamatan.
    """
    office = [] if scope is None or scope.reach is None else [scope.reach.where(User.office_id)]
    if scope is not None and scope.user_ids is not None:  # a trainer's invitees, in one go
        if not scope.user_ids:
            return
        verdicts = completion_for(course, scope.user_ids)
        where = and_(User.id.in_(list(scope.user_ids)), *office)
        if kecamatan_kode:
            where = and_(where, User.kecamatan_kode == kecamatan_kode)
        if region:
            where = and_(where, within(region))
        yield from _facts(course, verdicts, pre_scores(course), where)
        return
    if kecamatan_kode:
        chunks = [[kecamatan_kode]]
    else:
        chunks = _kecamatan_chunks(course, scope, region)
    for chunk in chunks:
        verdicts = completion_for(course, kecamatan_kode=chunk)
        if verdicts:
            pre = pre_scores(course, in_kecamatan(chunk))
            yield from _facts(course, verdicts, pre, and_(in_kecamatan(chunk), *office))


def _facts(course: Course, verdicts: dict, pre: dict[int, float], where) -> Iterator[Facts]:
    query = (
        select(
            User.id,
            User.nama,
            User.nik,
            User.badan,
            User.jabatan,
            User.kecamatan_kode,
            Kecamatan.nama,
            User.desa_kode,
            Desa.nama,
        )
        .outerjoin(Kecamatan, Kecamatan.kode == User.kecamatan_kode)
        .outerjoin(Desa, Desa.kode == User.desa_kode)
        .where(audience_where(course), where)
        .order_by(Kecamatan.nama, Kecamatan.kode, Desa.nama, User.nama, User.id)
    )
    for row in db.session.execute(query.execution_options(yield_per=2000)):
        uid, nama, nik, badan, jabatan, kec_kode, kec_nama, desa_kode, desa_nama = row
        verdict = verdicts.get(uid)
        if verdict is None:  # not in the audience the rule was computed for
            continue
        facts = Facts(
            uid,
            nama,
            nik,
            badan,
            jabatan,
            kec_kode or NO_KECAMATAN[0],
            kec_nama or NO_KECAMATAN[1],
            desa_kode,
            desa_nama,
            verdict.modules_done,
            verdict.modules_total,
            pre.get(uid),
            verdict.post_score,
            verdict.post_passed if verdict.post_score is not None else None,
            verdict.attendance_rate,
            verdict.complete,
            certificate_number=verdict.certificate_number,
            pakta_at=verdict.pakta_confirmed_at,
            missing=verdict.missing,
        )
        facts.status = _status(facts)
        yield facts


@dataclass
class Summary:
    """Results of a group of participants (a kecamatan, a desa, everyone), kept as running sums
    so a province-wide export holds no per-participant lists."""

    kode: str
    nama: str
    participants: int = 0
    by_badan: Counter = field(default_factory=Counter)
    _modules: list[float] = field(default_factory=lambda: [0, 0.0])  # count, sum
    _attendance: list[float] = field(default_factory=lambda: [0, 0.0])
    # Pre/post figures over participants with both tests only (see stats.GainSummary).
    _gain: list[float] = field(default_factory=lambda: [0, 0.0])
    _both: list[float] = field(default_factory=lambda: [0, 0.0, 0.0])  # count, sum pre, post
    with_post: int = 0
    passed: int = 0
    complete: int = 0
    certificates: int = 0

    @staticmethod
    def _add(acc: list[float], value: float | None) -> None:
        if value is not None:
            acc[0] += 1
            acc[1] += value

    @staticmethod
    def _mean(acc: list[float]) -> float | None:
        return acc[1] / acc[0] if acc[0] else None

    def add(self, f: Facts) -> None:
        self.participants += 1
        self.by_badan[f.badan or "—"] += 1
        self._add(self._modules, f.modules_fraction)
        self._add(self._attendance, f.attendance)
        if f.pre is not None and f.post is not None:
            self._add(self._gain, f.gain)
            self._both[0] += 1
            self._both[1] += f.pre
            self._both[2] += f.post
        if f.post is not None:
            self.with_post += 1
            self.passed += bool(f.passed)
        self.complete += f.complete or bool(f.certificate_number)
        self.certificates += bool(f.certificate_number)

    def merge(self, other: "Summary") -> None:
        """Add another group's sums (a total from its kecamatan, without a second pass)."""
        self.participants += other.participants
        self.by_badan.update(other.by_badan)
        for mine, theirs in (
            (self._modules, other._modules),
            (self._attendance, other._attendance),
            (self._gain, other._gain),
            (self._both, other._both),
        ):
            for i, value in enumerate(theirs):
                mine[i] += value
        self.with_post += other.with_post
        self.passed += other.passed
        self.complete += other.complete
        self.certificates += other.certificates

    @property
    def modules_pct(self) -> float | None:
        return self._mean(self._modules)

    @property
    def attendance_pct(self) -> float | None:
        return self._mean(self._attendance)

    @property
    def gains(self) -> stats.GainSummary:
        """The same figures as stats.summarise_gains over the participants' rows."""
        both = self._both
        mean_gain = self._mean(self._gain)
        mean_pre = both[1] / both[0] if both[0] else None
        mean_post = both[2] / both[0] if both[0] else None
        return stats.GainSummary(
            participants=self.participants,
            with_both=int(both[0]),
            mean_pre=mean_pre,
            mean_post=mean_post,
            mean_gain=mean_gain,
            gain_of_means=stats.n_gain(mean_pre, mean_post),
            category=stats.n_gain_category(mean_gain),
            passed=self.passed,
            pass_rate=self.passed / self.with_post if self.with_post else None,
        )

    @property
    def complete_pct(self) -> float | None:
        return self.complete / self.participants if self.participants else None

    def badan_counts(self) -> list[tuple[str, int]]:
        order = {b: i for i, b in enumerate(BADAN)}
        return sorted(self.by_badan.items(), key=lambda kv: order.get(kv[0], 99))


def summarise(
    facts: Iterable[Facts], by: str = "kecamatan"
) -> tuple[list[Summary], Summary, list[Facts]]:
    """Group summaries (by kecamatan or desa), the total, and the facts themselves (kept for the
    page's participant list)."""
    groups: dict[str, Summary] = {}
    total = Summary("", "Jumlah")
    kept: list[Facts] = []
    for f in facts:
        if by == "desa":
            key, name = f.desa_kode or "", f.desa_nama or "(tanpa desa — PPK/sekretariat PPK)"
        else:
            key, name = f.kecamatan_kode, f.kecamatan_nama
        groups.setdefault(key, Summary(key, name)).add(f)
        kept.append(f)
    for group in groups.values():
        total.merge(group)
    return sorted(groups.values(), key=lambda s: (s.nama, s.kode)), total, kept


def audience_count(
    course: Course,
    scope: Scope | None = None,
    kecamatan_kode: str | None = None,
    region: str | None = None,
):
    """How many participants course_facts would yield (sizes a rekap before it is made)."""
    if scope is not None and scope.user_ids is not None and not scope.user_ids:
        return 0
    where = _where(course, scope, region)
    if kecamatan_kode:
        where.append(User.kecamatan_kode == kecamatan_kode)
    return db.session.scalar(select(func.count(User.id)).where(*where)) or 0


def courses(reach: Reach | None = None) -> list[Course]:
    """The courses a report can be about, in the order they were made: those of the offices
    in reach and those shared from above (a province course a kabupaten runs)."""
    query = select(Course).order_by(Course.id)
    if reach is not None:
        query = query.where(
            or_(reach.where(Course.office_id), reach.where_shared(Course.office_id))
        )
    return list(db.session.scalars(query))


def course_visible(course: Course, reach: Reach) -> bool:
    return reach.sees(course.office_id) or reach.uses(course.office_id)
