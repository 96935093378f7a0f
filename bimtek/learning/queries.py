"""Which courses an office may use and see: the one place course scope is decided.

A course belongs to the office that made it (course.office_id). An office *uses* its own courses
and the courses an ancestor (its province, KPU RI) offers down (`offered_down`): its participants
follow them, it runs sessions for them and issues their certificates. Staff also *see* the courses
of the offices below them (read-only). Only the owning office edits a course, its quizzes and its
completion rule.

    stmt = usable_courses_stmt(scope.current_reach())       # sessions, participants' home page
    course = course_for_staff_or_404(course_id)              # admin pages
    scope.require_owner(course)                              # every change: else 403
"""

from flask import abort
from sqlalchemy import ColumnElement, Select, and_, or_, select

from bimtek.extensions import db
from bimtek.learning.models import Course, Module
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID
from bimtek.offices.scope import Reach


def _owned_by(reach: Reach, column) -> ColumnElement[bool]:
    """The row's office is exactly the reach's office (a NULL office is the first office)."""
    if reach.office_id == FIRST_OFFICE_ID:
        return or_(column == reach.office_id, column.is_(None))
    return column == reach.office_id


def usable_where(reach: Reach) -> ColumnElement[bool]:
    """Own courses, and courses an ancestor offers down."""
    offered = and_(Course.offered_down.is_(True), reach.where_shared(Course.office_id))
    return or_(_owned_by(reach, Course.office_id), offered)


def usable_courses_stmt(reach: Reach) -> Select:
    """SELECT of the courses this office uses (own + offered down by an ancestor)."""
    return select(Course).where(usable_where(reach))


def usable_course_ids(reach: Reach) -> set[int]:
    return set(db.session.scalars(select(Course.id).where(usable_where(reach))))


def visible_where(reach: Reach) -> ColumnElement[bool]:
    """What staff see: the courses it uses, and those of every office below it (read-only)."""
    return or_(reach.where(Course.office_id), usable_where(reach))


def visible_courses_stmt(reach: Reach) -> Select:
    return select(Course).where(visible_where(reach))


def uses(reach: Reach, course: Course) -> bool:
    if reach.owns(course.office_id):
        return True
    return bool(course.offered_down) and reach.uses(course.office_id)


def sees(reach: Reach, course: Course) -> bool:
    return reach.sees(course.office_id) or uses(reach, course)


def course_for_staff_or_404(course_id: int, reach: Reach | None = None) -> Course:
    """A course the signed-in staff member's office may see; a foreign one is 404 like a missing
    one. Changes still need scope.require_owner(course) (403 for a course not its own)."""
    course = db.session.get(Course, course_id)
    if course is None or not sees(reach or scope.current_reach(), course):
        abort(404)
    return course


def owned_course_or_error(course_id: int) -> Course:
    """The course, if the signed-in staff member's office owns it: 404 when foreign, 403 when
    only visible (a province's course offered down, a kabupaten's course seen from above)."""
    course = course_for_staff_or_404(course_id)
    scope.require_owner(course)
    return course


def modules_for_course_form(reach: Reach) -> list[Module]:
    """Modules a course may be built from: shared from above, own, and those of offices below."""
    return list(
        db.session.scalars(
            select(Module)
            .where(or_(reach.where(Module.office_id), reach.where_shared(Module.office_id)))
            .order_by(Module.sort_order, Module.slug)
        )
    )
