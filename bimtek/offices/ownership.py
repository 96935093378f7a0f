"""Every new row that has an office gets one: the one place a forgotten office_id is filled in.

A model may say whose it is (`owning_office_id()`: a participant belongs to the office of their
kecamatan, a certificate to its participant's office); otherwise the row belongs to the office
acting in this request (the signed-in staff member's, or the one `use_office` chose)."""

from sqlalchemy import event
from sqlalchemy.orm import Session

from bimtek.offices import scope


@event.listens_for(Session, "before_flush")
def _fill_office(session: Session, _context, _instances) -> None:
    pending = [
        obj
        for obj in session.new
        if hasattr(type(obj), "office_id") and getattr(obj, "office_id", None) is None
    ]
    if not pending:
        return
    with session.no_autoflush:
        for obj in pending:
            owner = getattr(obj, "owning_office_id", None)
            obj.office_id = (owner() if owner is not None else None) or scope.acting_office_id()
