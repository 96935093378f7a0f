"""The participant's learning path and the admin's course pages."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from bimtek import signals
from bimtek.enums import STAFF, Role
from bimtek.extensions import begin_write, db
from bimtek.forms import ConfirmForm
from bimtek.learning import hooks, queries, service
from bimtek.learning.forms import CourseForm
from bimtek.learning.models import Course, ModuleVersion
from bimtek.learning.toc import has_sources_section, nest_toc
from bimtek.offices import scope
from bimtek.offices.service import label_of
from bimtek.web import db_int, role_required

bp = Blueprint("learning", __name__)
bp.add_app_template_filter(nest_toc)
bp.add_app_template_test(has_sources_section, "with_sources_section")


def _course_for_user(course_id: int) -> Course:
    """404, not 403, for a course the participant may not see: its existence is not theirs."""
    course = db.get_or_404(Course, course_id)
    if not service.can_open(current_user, course):
        abort(404)
    return course


@bp.get("/")
@login_required
def home():
    courses = service.courses_for(current_user)
    progress = [service.course_progress(current_user, c) for c in courses]
    next_steps = {c.id: hooks.next_step(c, current_user) for c in courses}
    return render_template(
        "learning/home.html",
        progress=progress,
        next_steps=next_steps,
        notices=hooks.notices_for(current_user),
    )


@bp.get("/kursus/<int:course_id>")
@login_required
def course(course_id: int):
    course = _course_for_user(course_id)
    progress = service.course_progress(current_user, course)
    return render_template(
        "learning/course.html",
        course=course,
        progress=progress,
        panels=hooks.panels_for(course, current_user),
        module_lock=service.module_lock_reason(course, current_user),
    )


@bp.get("/kursus/<int:course_id>/modul/<slug>")
@login_required
def module(course_id: int, slug: str):
    course = _course_for_user(course_id)
    progress = service.course_progress(current_user, course)
    status = next((m for m in progress.modules if m.module.slug == slug), None)
    if status is None:
        abort(404)
    lock = service.module_lock_reason(course, current_user)
    if lock:
        flash(lock, "info")
        return redirect(url_for(".course", course_id=course.id))
    version = service.current_module_version(status.module)
    previous = progress.modules[status.position - 1] if status.position > 0 else None
    following = (
        progress.modules[status.position + 1]
        if status.position + 1 < len(progress.modules)
        else None
    )
    completed_this_version = False
    if current_user.role == Role.PESERTA:
        row = service.find_progress(current_user, version)
        if row is None:  # first visit: the only time this GET writes
            begin_write()
            row = service.record_opened(current_user, version)
            db.session.commit()
        completed_this_version = row.completed_at is not None
    return render_template(
        "learning/module.html",
        course=course,
        progress=progress,
        status=status,
        version=version,
        previous=previous,
        following=following,
        completed_this_version=completed_this_version,
        form=ConfirmForm(),
        module_links=hooks.links_under_module(course, status.module, current_user),
    )


@bp.post("/kursus/<int:course_id>/modul/<slug>/selesai")
@login_required
def mark_completed(course_id: int, slug: str):
    course = _course_for_user(course_id)
    module = next((m for m in course.modules if m.slug == slug), None)
    if module is None:
        abort(404)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    lock = service.module_lock_reason(course, current_user)
    if lock:
        flash(lock, "error")
        return redirect(url_for(".course", course_id=course.id))
    version_no = request.form.get("version", type=db_int)
    version = service.current_module_version(module)
    if version_no is not None and version_no != version.version_no:
        # The page was opened on an older text; record what was actually read.
        older = db.session.scalars(
            select(ModuleVersion).where(
                ModuleVersion.module_id == module.id, ModuleVersion.version_no == version_no
            )
        ).one_or_none()
        version = older or version
    service.mark_completed(current_user, version)
    signals.course_progress.send(course, user=current_user)
    db.session.commit()
    flash(f"Modul “{module.title}” ditandai selesai.", "success")
    progress = service.course_progress(current_user, course)
    following = progress.next_module()
    if following is not None:
        return redirect(url_for(".module", course_id=course.id, slug=following.module.slug))
    return redirect(url_for(".course", course_id=course.id))


# --- admin: courses -------------------------------------------------------


def _module_choices(form: CourseForm) -> None:
    modules = queries.modules_for_course_form(scope.current_reach())
    form.modules.choices = [(m.id, f"{m.sort_order:02d}. {m.title}") for m in modules]


def _ordered_module_ids(ids: list[int]) -> list[int]:
    modules = service.modules_by_id(ids)
    return [m.id for m in sorted(modules, key=lambda m: (m.sort_order, m.slug))]


@bp.get("/admin/kursus")
@role_required(Role.ADMIN)
def courses():
    reach = scope.current_reach()
    all_courses = service.all_courses(reach)
    # Courses of other offices (below, read-only; above, offered down) say whose they are.
    owners = {
        office_id: label_of(office_id)
        for office_id in {c.office_id for c in all_courses if not reach.owns(c.office_id)}
    }
    return render_template("learning/courses.html", courses=all_courses, reach=reach, owners=owners)


@bp.route("/admin/kursus/baru", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def course_new():
    return _course_form(None)


@bp.route("/admin/kursus/<int:course_id>/ubah", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def course_edit(course_id: int):
    return _course_form(queries.owned_course_or_error(course_id))


def _course_form(course: Course | None):
    form = CourseForm(obj=course) if request.method == "GET" and course else CourseForm()
    if request.method == "GET" and course is not None:
        form.modules.data = [cm.module_id for cm in course.course_modules]
    _module_choices(form)
    can_offer = service.can_offer_down(scope.current_reach().office_id)
    if not can_offer:
        del form.offered_down
    if form.validate_on_submit():
        try:
            saved = service.save_course(
                course,
                title=form.title.data,
                description=form.description.data,
                audience=form.audience.data,
                hours_jp=form.hours_jp.data,
                module_ids=_ordered_module_ids(form.modules.data),
                active=form.active.data,
                actor=current_user,
                pretest_first=form.pretest_first.data,
                posttest_after_modules=form.posttest_after_modules.data,
                parallel_forms=form.parallel_forms.data,
                offered_down=form.offered_down.data if can_offer else None,
            )
        except service.CourseError as exc:
            db.session.rollback()
            getattr(form, exc.field if exc.field in form else "title").errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Kursus “{saved.title}” tersimpan.", "success")
            return redirect(url_for(".courses"))
    status = 400 if request.method == "POST" else 200
    return render_template("learning/course_form.html", form=form, course=course), status


@bp.get("/admin/modul")
@role_required(*STAFF)
def modules():
    all_modules = service.all_modules()
    return render_template("learning/modules.html", modules=all_modules)
