"""Two admins issuing the same kecamatan at once (issue 12 §4): each is told, and the audit
records, only the certificates its own request created."""

from sqlalchemy import func, select

from bimtek.accounts.models import AuditLog, User
from bimtek.certificates import rule as certificate_rule
from bimtek.certificates import service
from bimtek.certificates.models import Certificate
from bimtek.extensions import db
from bimtek.learning import service as learning
from bimtek.learning.models import Course, Module
from bimtek.settings.service import mark_previewed

PEOPLE = 40


def test_concurrent_bulk_issue_reports_and_audits_what_each_created(
    app, content, wilayah, make_staff, make_peserta, at_once
):
    admins = [make_staff(username="admin1"), make_staff(username="admin2")]
    for i in range(PEOPLE):
        make_peserta(nama=f"Peserta {i:02d}")
    with app.app_context():
        actor = db.session.get(User, admins[0])
        module = db.session.scalars(select(Module).limit(1)).one()
        course = learning.save_course(
            None,
            title="Bimtek PPS",
            description="",
            audience=["PPS"],
            hours_jp=8,
            module_ids=[module.id],
            active=True,
            actor=actor,
        )
        certificate_rule.save_rule(
            course,
            certificate_rule.RuleSettings(False, False, 0, "", False, None),  # everyone is eligible
            actor,
        )
        mark_previewed(actor)
        db.session.commit()
        course_id = course.id

    def issue(admin_id):
        with app.app_context():
            result = service.issue_for_kecamatan(
                db.session.get(Course, course_id), "73.22.01", db.session.get(User, admin_id)
            )
            db.session.commit()
            reported = (len(result.issued), result.already)
            db.session.remove()
            return reported

    results = at_once(*[(lambda a=a: issue(a)) for a in admins])

    with app.app_context():
        created = db.session.scalar(select(func.count()).select_from(Certificate))
        issue_rows = db.session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "certificate.issue")
        )
        bulk_rows = db.session.scalars(
            select(AuditLog.detail).where(AuditLog.action == "certificate.issue_bulk")
        ).all()
    assert created == PEOPLE
    assert sum(issued for issued, _already in results) == created, results
    assert issue_rows == created
    assert sum(detail["issued"] for detail in bulk_rows) == created
    # each admin accounts for everyone: what it issued plus what already had one
    assert all(issued + already == PEOPLE for issued, already in results), results
