"""The participant's learning path and the admin's course pages."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from bimtek.certificates.views import course_status
from bimtek.extensions import begin_write, db
from bimtek.learning import service
from bimtek.learning.forms import ConfirmForm, CourseForm
from bimtek.learning.models import Course, Module, ModuleVersion
from bimtek.learning.toc import has_sources_section, nest_toc
from bimtek.quiz import service as quiz_service
from bimtek.quiz.views import close_overdue_attempts
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
    backup_warning = None
    if current_user.role == "admin":
        from bimtek.backup.service import backup_status

        backup_warning = backup_status().warning
    return render_template("learning/home.html", progress=progress, backup_warning=backup_warning)


@bp.get("/kursus/<int:course_id>")
@login_required
def course(course_id: int):
    course = _course_for_user(course_id)
    progress = service.course_progress(current_user, course)
    quizzes = [
        q for q in quiz_service.course_quizzes(course) if q.active or current_user.role != "peserta"
    ]
    close_overdue_attempts()
    states = [quiz_service.quiz_state(q, current_user) for q in quizzes]
    return render_template(
        "learning/course.html",
        course=course,
        progress=progress,
        states=states,
        result=quiz_service.course_result(course, current_user),
        cert_status=course_status(course),
    )


@bp.get("/kursus/<int:course_id>/modul/<slug>")
@login_required
def module(course_id: int, slug: str):
    course = _course_for_user(course_id)
    progress = service.course_progress(current_user, course)
    status = next((m for m in progress.modules if m.module.slug == slug), None)
    if status is None:
        abort(404)
    version = service.current_module_version(status.module)
    previous = progress.modules[status.position - 1] if status.position > 0 else None
    following = (
        progress.modules[status.position + 1]
        if status.position + 1 < len(progress.modules)
        else None
    )
    completed_this_version = False
    if current_user.role == "peserta":
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
        module_quizzes=[
            q
            for q in quiz_service.course_quizzes(course)
            if q.kind == "module" and q.module_id == status.module.id and q.active
        ],
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
    db.session.commit()
    flash(f"Modul “{module.title}” ditandai selesai.", "success")
    progress = service.course_progress(current_user, course)
    following = progress.next_module()
    if following is not None:
        return redirect(url_for(".module", course_id=course.id, slug=following.module.slug))
    return redirect(url_for(".course", course_id=course.id))


# --- admin: courses -------------------------------------------------------


def _module_choices(form: CourseForm) -> None:
    modules = db.session.scalars(select(Module).order_by(Module.sort_order, Module.slug)).all()
    form.modules.choices = [(m.id, f"{m.sort_order:02d}. {m.title}") for m in modules]


def _ordered_module_ids(ids: list[int]) -> list[int]:
    modules = db.session.scalars(select(Module).where(Module.id.in_(ids))).all()
    return [m.id for m in sorted(modules, key=lambda m: (m.sort_order, m.slug))]


@bp.get("/admin/kursus")
@role_required("admin")
def courses():
    all_courses = db.session.scalars(select(Course).order_by(Course.created_at, Course.id)).all()
    return render_template("learning/courses.html", courses=all_courses)


@bp.route("/admin/kursus/baru", methods=["GET", "POST"])
@role_required("admin")
def course_new():
    return _course_form(None)


@bp.route("/admin/kursus/<int:course_id>/ubah", methods=["GET", "POST"])
@role_required("admin")
def course_edit(course_id: int):
    return _course_form(db.get_or_404(Course, course_id))


def _course_form(course: Course | None):
    form = CourseForm(obj=course) if request.method == "GET" and course else CourseForm()
    if request.method == "GET" and course is not None:
        form.modules.data = [cm.module_id for cm in course.course_modules]
    _module_choices(form)
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
@role_required("admin", "pelatih")
def modules():
    all_modules = db.session.scalars(select(Module).order_by(Module.sort_order, Module.slug)).all()
    return render_template("learning/modules.html", modules=all_modules)
