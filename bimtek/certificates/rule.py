"""The completion rule of a course and its pakta integritas (what makes a participant's course
complete, as the admin sets it on "Aturan kelulusan")."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bimtek import numbering, signals
from bimtek.accounts.models import User, audit
from bimtek.certificates.completion import Completion
from bimtek.certificates.models import (
    PaktaConfirmation,
)
from bimtek.certificates.service import CertificateError, issue_pending_automatic
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.timeutil import utcnow

# --- completion rule -------------------------------------------------------


@dataclass
class RuleSettings:
    require_modules: bool
    require_post_pass: bool
    min_attendance_pct: int
    pakta_text: str
    auto_issue: bool
    cert_number_template: str | None


def save_rule(course: Course, settings: RuleSettings, actor: User) -> Course:
    if not 0 <= settings.min_attendance_pct <= 100:
        raise CertificateError("Kehadiran minimal harus 0–100%.", "min_attendance_pct")
    template = (settings.cert_number_template or "").strip() or None
    if template is not None:
        try:
            template = numbering.validate_template(template)
        except numbering.NumberTemplateError as exc:
            raise CertificateError(str(exc), "cert_number_template") from None
    pakta = (settings.pakta_text or "").strip()
    if len(pakta) > 5000:
        raise CertificateError("Teks pakta integritas maksimal 5.000 karakter.", "pakta_text")
    course.require_modules = settings.require_modules
    course.require_post_pass = settings.require_post_pass
    course.min_attendance_pct = settings.min_attendance_pct
    course.pakta_text = pakta
    turned_on = settings.auto_issue and not course.auto_issue
    course.auto_issue = settings.auto_issue
    course.cert_number_template = template
    db.session.flush()
    if turned_on:
        issue_pending_automatic(course)
    audit(
        actor,
        "course.completion_rule",
        "course",
        course.id,
        require_modules=course.require_modules,
        require_post_pass=course.require_post_pass,
        min_attendance_pct=course.min_attendance_pct,
        pakta=bool(pakta),
        auto_issue=course.auto_issue,
        cert_number_template=template,
    )
    return course


# --- pakta integritas --------------------------------------------------------


def pakta_required(course: Course) -> bool:
    return bool((course.pakta_text or "").strip())


def pakta_confirmation(course: Course, user: User) -> PaktaConfirmation | None:
    return db.session.scalars(
        select(PaktaConfirmation).where(
            PaktaConfirmation.course_id == course.id, PaktaConfirmation.user_id == user.id
        )
    ).one_or_none()


def confirm_pakta(course: Course, user: User, completion: Completion) -> PaktaConfirmation:
    """Store the confirmation (once) with the text as shown. The pakta follows the modules."""
    if not pakta_required(course):
        raise CertificateError("Kursus ini tidak memerlukan pakta integritas.")
    if completion.modules_done < completion.modules_total:
        raise CertificateError(
            "Pakta integritas dapat dikonfirmasi setelah semua modul selesai dibaca "
            f"({completion.modules_done} dari {completion.modules_total})."
        )
    existing = pakta_confirmation(course, user)
    if existing is not None:
        return existing
    try:
        with db.session.begin_nested():
            row = PaktaConfirmation(
                course_id=course.id, user_id=user.id, text=course.pakta_text, confirmed_at=utcnow()
            )
            db.session.add(row)
    except IntegrityError:  # a double tap confirmed it in between
        row = pakta_confirmation(course, user)
    signals.course_progress.send(course, user=user)
    return row
