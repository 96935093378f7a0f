"""Issuing, reissuing and revoking certificates; the pakta integritas; the completion rule.

Plain functions: no request. They flush at most; the caller commits once.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from bimtek import numbering, signals
from bimtek.accounts.models import AuditLog, User, audit
from bimtek.certificates.completion import Completion, completion_for, completion_of
from bimtek.certificates.models import (
    Certificate,
    CertificateCounter,
    CertificateVersion,
)
from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.learning import queries as learning_queries
from bimtek.learning.models import Course
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID
from bimtek.offices.service import region_offices
from bimtek.settings.publicurl import is_loopback_url
from bimtek.settings.service import Office, current_office, office_by_id
from bimtek.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

REASON_MIN = 5


class CertificateError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class SettingsNotConfirmed(CertificateError):
    """No certificate before the office has looked at what will be printed on it."""


def public_url_is_loopback() -> bool:
    """QR codes would open 127.0.0.1: the phone itself, never this server."""
    return is_loopback_url(current_app.config["BIMTEK_PUBLIC_URL"])


def new_code() -> str:
    """192 random bits, URL-safe: one per certificate version."""
    return secrets.token_urlsafe(24)


# --- numbering -------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    template: str
    kode_kab: str
    place: str
    signer_name: str
    signer_title: str
    signer_nip: str
    office_name: str
    timezone: str


def issuing_office_id(user: User) -> int:
    """A certificate is issued by its participant's office (their kabupaten/kota)."""
    return scope.office_of(user)


def issuing_office(user: User) -> Office:
    return office_by_id(issuing_office_id(user))


def settings_for(course: Course, office_id: int | None = None) -> Settings:
    """The issuing office's current settings (bimtek.settings; default: the acting office).
    The course's own number format applies to the certificates its own office issues; an office
    issuing a course offered down from above numbers with its own template."""
    office = office_by_id(office_id) if office_id is not None else current_office()
    own_course = scope.office_of(course) == office.id
    return Settings(
        template=(course.cert_number_template if own_course else None)
        or office.cert_number_template,
        kode_kab=office.kode_kab,
        place=office.place,
        signer_name=office.signer_name,
        signer_title=office.signer_title,
        signer_nip=office.signer_nip,
        office_name=office.name,
        timezone=office.timezone,
    )


def series_year(template: str, local: datetime) -> int:
    """The counter restarts each year only when the number shows the year."""
    return local.year if "{tahun" in template else 0


def next_seq(series: str, year: int, count: int = 1, office_id: int | None = None) -> int:
    """Take `count` numbers from the office's series in the caller's transaction; returns the
    last. Each office counts its own series, even when two offices write the same template.

    The UPDATE locks the counter row until commit, so concurrent issuers queue and each
    gets its own number; a rollback returns the number, so there are no gaps.
    """
    office_id = office_id or FIRST_OFFICE_ID
    bump = (
        update(CertificateCounter)
        .where(
            CertificateCounter.office_id == office_id,
            CertificateCounter.series == series,
            CertificateCounter.year == year,
        )
        .values(last_seq=CertificateCounter.last_seq + count)
        .returning(CertificateCounter.last_seq)
        .execution_options(synchronize_session=False)
    )
    seq = db.session.execute(bump).scalar_one_or_none()
    if seq is not None:
        return seq
    try:
        with db.session.begin_nested():
            db.session.execute(
                insert(CertificateCounter).values(
                    office_id=office_id, series=series, year=year, last_seq=count
                )
            )
        return count
    except IntegrityError:  # another issuer created the row first: take the next one
        return db.session.execute(bump).scalar_one()


# --- issuing ---------------------------------------------------------------


def _version_data(user: User) -> dict:
    jabatan = " ".join(part for part in (user.jabatan, user.badan) if part)
    return {"nama": user.nama, "jabatan": jabatan, "asal": user.asal if user.asal != "—" else ""}


def certificate_of(course: Course, user_id: int) -> Certificate | None:
    return db.session.scalars(
        select(Certificate)
        .where(Certificate.course_id == course.id, Certificate.user_id == user_id)
        .options(selectinload(Certificate.versions))
    ).one_or_none()


def issue(
    course: Course, user: User, actor: User | None, now: datetime | None = None
) -> Certificate:
    """Issue the participant's certificate (once per course). Caller checks the rule."""
    return issue_many(course, [user], actor, now)[0]


def issue_many(
    course: Course, users: list[User], actor: User | None, now: datetime | None = None
) -> list[Certificate]:
    """Certificates for `users` (existing ones are returned as they are), in the given order.

    One block of numbers is taken from the counter for the whole batch and the rows are
    written with one statement per table, so a kecamatan costs a handful of statements.
    Caller checks the rule and commits.
    """
    return _issue_many(course, users, actor, now)[0]


def _issue_many(
    course: Course, users: list[User], actor: User | None, now: datetime | None = None
) -> tuple[list[Certificate], set[int]]:
    """issue_many, and the ids of the users whose certificate this call created (a concurrent
    issuer may have created some of the others between the caller's preview and now)."""
    for _ in range(3):
        existing = {
            c.user_id: c
            for c in db.session.scalars(
                select(Certificate)
                .where(
                    Certificate.course_id == course.id,
                    Certificate.user_id.in_([u.id for u in users]),
                )
                .options(selectinload(Certificate.versions))
            )
        }
        wanted = [u for u in dict((u.id, u) for u in users).values() if u.id not in existing]
        if not wanted:
            return [existing[u.id] for u in users], set()
        try:
            with db.session.begin_nested():
                created = _insert_certificates(course, wanted, actor, now or utcnow())
        except IntegrityError:
            # A concurrent request (double tap, two admins) issued some of them: theirs
            # stand, the rolled-back savepoint returned our numbers; try the rest again.
            log.info("concurrent issue for course %s; retrying", course.id)
            continue
        existing.update(created)
        return [existing[u.id] for u in users], set(created)
    raise CertificateError(
        "Sertifikat tidak dapat diterbitkan: nomor bentrok dengan nomor yang sudah ada. "
        "Periksa format nomor lalu coba lagi."
    )


def _insert_certificates(
    course: Course, users: list[User], actor: User | None, now: datetime
) -> dict[int, Certificate]:
    """Each participant's office issues theirs: its numbers, signer and place."""
    by_office: dict[int, list[User]] = {}
    for user in users:
        by_office.setdefault(issuing_office_id(user), []).append(user)
    created: dict[int, Certificate] = {}
    for office_id, people in sorted(by_office.items()):
        created.update(_insert_for_office(course, office_id, people, actor, now))
    return created


def _insert_for_office(
    course: Course, office_id: int, users: list[User], actor: User | None, now: datetime
) -> dict[int, Certificate]:
    settings = settings_for(course, office_id)
    try:
        template = numbering.validate_template(settings.template)
    except numbering.NumberTemplateError as exc:
        raise CertificateError(str(exc)) from None
    local = as_utc(now).astimezone(ZoneInfo(settings.timezone))
    year = series_year(template, local)
    last = next_seq(template, year, len(users), office_id)
    actor_id = actor.id if actor is not None else None
    rows = []
    for offset, user in enumerate(users):
        seq = last - len(users) + 1 + offset
        fields = numbering.NumberFields(
            seq=seq,
            kode_kab=settings.kode_kab,
            tahun=local.year,
            bulan=local.month,
            kursus=course.id,
        )
        rows.append(
            {
                "course_id": course.id,
                "user_id": user.id,
                # A bulk INSERT passes by the ownership listener: the issuing office is named.
                "office_id": office_id,
                "number": numbering.format_number(template, fields),
                "series": template,
                "year": year,
                "seq": seq,
                "issued_at": now,
                "issued_by_id": actor_id,
                "current_version_no": 1,
            }
        )
    ids = (
        db.session.execute(
            insert(Certificate).returning(Certificate.id, sort_by_parameter_order=True), rows
        )
        .scalars()
        .all()
    )
    versions = [
        {
            "certificate_id": certificate_id,
            "version_no": 1,
            "code": new_code(),
            "course_title": course.title,
            "hours_jp": course.hours_jp,
            "place": settings.place,
            "issued_on": local.date(),
            "signer_name": settings.signer_name,
            "signer_title": settings.signer_title,
            "signer_nip": settings.signer_nip,
            "office_name": settings.office_name,
            "reason": "",
            "created_at": now,
            "created_by_id": actor_id,
            **_version_data(user),
        }
        for certificate_id, user in zip(ids, users, strict=True)
    ]
    db.session.execute(insert(CertificateVersion), versions)
    db.session.execute(
        insert(AuditLog),
        [
            {
                "actor_id": actor_id,
                "action": "certificate.issue",
                "object_type": "certificate",
                "object_id": str(certificate_id),
                "detail": {
                    "number": row["number"],
                    "user_id": row["user_id"],
                    "course_id": course.id,
                },
                "created_at": now,
            }
            for certificate_id, row in zip(ids, rows, strict=True)
        ],
    )
    certificates = db.session.scalars(
        select(Certificate)
        .where(Certificate.id.in_(ids))
        .options(selectinload(Certificate.versions))
        .execution_options(populate_existing=True)
    )
    return {c.user_id: c for c in certificates}


def data_changed(certificate: Certificate, user: User) -> bool:
    """The participant's name, jabatan or asal differ from the current version's text."""
    version = certificate.current_version
    wanted = _version_data(user)
    return any(getattr(version, key) != value for key, value in wanted.items())


def reissue(certificate: Certificate, actor: User, reason: str) -> CertificateVersion:
    """A new version with today's participant data and a new code; same number and date."""
    reason = " ".join((reason or "").split())
    if certificate.revoked:
        raise CertificateError("Sertifikat yang sudah dicabut tidak dapat diterbitkan ulang.")
    if len(reason) < REASON_MIN:
        raise CertificateError("Tuliskan alasan penerbitan ulang (minimal 5 karakter).", "reason")
    previous = certificate.current_version
    version = CertificateVersion(
        certificate_id=certificate.id,
        version_no=previous.version_no + 1,
        code=new_code(),
        course_title=previous.course_title,
        hours_jp=previous.hours_jp,
        place=previous.place,
        issued_on=previous.issued_on,
        signer_name=previous.signer_name,
        signer_title=previous.signer_title,
        signer_nip=previous.signer_nip,
        office_name=previous.office_name,
        reason=reason,
        created_by_id=actor.id,
        **_version_data(certificate.user),
    )
    db.session.add(version)
    certificate.current_version_no = version.version_no
    db.session.flush()
    db.session.refresh(certificate, ["versions"])
    audit(
        actor,
        "certificate.reissue",
        "certificate",
        certificate.id,
        version=version.version_no,
        reason=reason,
    )
    return version


def revoke(certificate: Certificate, actor: User, reason: str) -> Certificate:
    reason = " ".join((reason or "").split())
    if certificate.revoked:
        raise CertificateError("Sertifikat ini sudah dicabut.")
    if len(reason) < REASON_MIN:
        raise CertificateError("Tuliskan alasan pencabutan (minimal 5 karakter).", "reason")
    certificate.revoked_at = utcnow()
    certificate.revoked_by_id = actor.id
    certificate.revoke_reason = reason[:500]
    db.session.flush()
    audit(actor, "certificate.revoke", "certificate", certificate.id, reason=reason)
    return certificate


def auto_issue_if_complete(course: Course, user: User) -> Certificate | None:
    """For courses set to issue automatically: the certificate once the rule is met."""
    if not course.auto_issue or user.role != Role.PESERTA:
        return None
    if not issuing_office(user).confirmed:
        return None  # issued when the office has checked its settings (office_confirmed)
    if not learning_queries.uses(scope.reach_of(user), course):
        return None
    if not completion_of(course, user).complete:
        return None
    return issue(course, user, None)


@signals.course_progress.connect
def issue_when_complete(course: Course, user: User | None = None, **_) -> None:
    """A module read, a post-test graded, attendance recorded, a pakta confirmed: the event that
    completes the course issues its certificate, whether or not the participant opens a page
    again. Runs in the sender's transaction; costs nothing for a course that does not issue
    automatically."""
    if course.auto_issue and user is not None and certificate_of(course, user.id) is None:
        auto_issue_if_complete(course, user)


def _issues(office_id: int, course: Course) -> bool:
    """The office may issue the course's certificates now: it confirmed its settings and its
    participants follow the course (its own, or offered down to it)."""
    return office_by_id(office_id).confirmed and learning_queries.uses(
        scope.reach_of_office(office_id), course
    )


def issue_pending_automatic(course: Course | None = None) -> int:
    """Everyone who already meets the rule of a course that issues automatically (or of
    `course`) and has no certificate yet: when a course turns automatic issuing on, or an
    office confirms its settings. Each participant's own office issues, once it has confirmed
    its settings and if it uses the course. Returns how many were issued."""
    courses = (
        [course]
        if course is not None
        else db.session.scalars(select(Course).where(Course.auto_issue.is_(True))).all()
    )
    issued = 0
    for each in courses:
        if not each.auto_issue:
            continue
        complete = [uid for uid, done in completion_for(each).items() if done.complete]
        if not complete:
            continue
        have = set(
            db.session.scalars(select(Certificate.user_id).where(Certificate.course_id == each.id))
        )
        waiting = [u for u in complete if u not in have]
        ready: dict[int, bool] = {}  # issuing office -> confirmed and uses the course
        for start in range(0, len(waiting), 500):  # bound the IN list (SQLite's variable cap)
            users = db.session.scalars(
                select(User).where(User.id.in_(waiting[start : start + 500])).order_by(User.id)
            ).all()
            for office_id in {issuing_office_id(u) for u in users} - set(ready):
                ready[office_id] = _issues(office_id, each)
            users = [u for u in users if ready[issuing_office_id(u)]]
            if users:
                issued += len(_issue_many(each, users, None)[1])
    return issued


@signals.office_confirmed.connect
def _issue_what_waited_for_the_office(_sender=None, **_) -> None:
    issue_pending_automatic()


# --- bulk, per kecamatan ---------------------------------------------------


@dataclass
class PreviewRow:
    user: User
    completion: Completion
    certificate: Certificate | None
    changed: bool  # issued, but the participant's data changed since

    @property
    def state(self) -> str:
        if self.certificate is not None:
            return "dicabut" if self.certificate.revoked else "terbit"
        return "layak" if self.completion.complete else "belum"


def kecamatan_office_id(kecamatan_kode: str) -> int:
    """The office whose participants live in the kecamatan: it issues their certificates."""
    return region_offices().for_kecamatan(kecamatan_kode) or FIRST_OFFICE_ID


def kecamatan_participants(course: Course, kecamatan_kode: str) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.role == Role.PESERTA,
                User.active.is_(True),
                User.badan.in_(course.audience or []),
                User.kecamatan_kode == kecamatan_kode,
            )
            .options(selectinload(User.desa), selectinload(User.kecamatan))
            .order_by(User.nama, User.id)
        )
    )


def preview(course: Course, kecamatan_kode: str) -> list[PreviewRow]:
    """Everyone of the course's audience in the kecamatan: eligible or not, and why."""
    people = kecamatan_participants(course, kecamatan_kode)
    completions = completion_for(course, [u.id for u in people])
    certificates = {
        c.user_id: c
        for c in db.session.scalars(
            select(Certificate)
            .where(
                Certificate.course_id == course.id,
                Certificate.user_id.in_(
                    select(User.id).where(User.kecamatan_kode == kecamatan_kode)
                ),
            )
            .options(selectinload(Certificate.versions))
        )
    }
    rows = []
    for user in people:
        certificate = certificates.get(user.id)
        changed = certificate is not None and data_changed(certificate, user)
        rows.append(PreviewRow(user, completions[user.id], certificate, changed))
    return rows


@dataclass
class BulkResult:
    issued: list[Certificate]
    not_eligible: int
    already: int


def issue_for_kecamatan(course: Course, kecamatan_kode: str, actor: User) -> BulkResult:
    """Issue to everyone eligible now (the rule is checked again, not trusted from a preview).

    Refused until the issuing office's settings were saved once or a sample certificate was
    seen, so a first batch never carries placeholders or a wrong signer."""
    if not office_by_id(kecamatan_office_id(kecamatan_kode)).confirmed:
        raise SettingsNotConfirmed(
            "Periksa dulu identitas kantor di Pengaturan (nama kantor, penandatangan, tempat, "
            "zona waktu, format nomor): simpan pengaturan atau lihat pratinjau sertifikat, "
            "lalu terbitkan."
        )
    eligible, not_eligible, already = [], 0, 0
    for row in preview(course, kecamatan_kode):
        if row.certificate is not None:
            already += 1
        elif not row.completion.complete:
            not_eligible += 1
        else:
            eligible.append(row.user)
    certificates, created = _issue_many(course, eligible, actor) if eligible else ([], set())
    # Only what this request created: another admin issuing the same kecamatan at the same
    # moment created the rest, and reports and audits those itself.
    issued = [c for c in certificates if c.user_id in created]
    already += len(certificates) - len(issued)
    audit(
        actor,
        "certificate.issue_bulk",
        "course",
        course.id,
        kecamatan=kecamatan_kode,
        issued=len(issued),
    )
    return BulkResult(issued, not_eligible, already)
