"""Taking quizzes (participants) and setting and analysing them (staff)."""

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from bimtek.accounts.models import User
from bimtek.enums import STAFF, Role
from bimtek.extensions import begin_write, db, writes_late
from bimtek.forms import ConfirmForm
from bimtek.learning import hooks
from bimtek.learning import queries as learning_queries
from bimtek.learning import service as learning
from bimtek.learning.models import Course
from bimtek.offices import scope
from bimtek.quiz import queries, service
from bimtek.quiz.forms import QuizForm
from bimtek.quiz.grading import TYPES
from bimtek.quiz.models import Quiz
from bimtek.settings.service import current_office, office_zone
from bimtek.timeutil import iso, local_to_utc, utc_to_local, utcnow
from bimtek.web import (
    checks_own_sign_in,
    db_int,
    role_required,
    session_token,
    sign_in_refusal,
)

bp = Blueprint("quiz", __name__)


def _course_panels(course, user) -> list[hooks.Panel]:
    """The pre-test before the modules, the post-test (and the N-gain) after them."""
    quizzes = [q for q in service.course_quizzes(course) if q.active or user.role != Role.PESERTA]
    close_overdue_attempts()
    states = [service.quiz_state(q, user) for q in quizzes]
    pre = [s for s in states if s.quiz.kind == "pre"]
    rest = [s for s in states if s.quiz.kind != "pre"]
    panels = []
    if pre:
        lock = service.pretest_gate(course, user)
        panels.append(hooks.Panel("before_modules", "quiz/_course_pre.html",
                                  {"pre_states": pre, "module_lock": lock}))  # fmt: skip
    if rest or pre or user.role in STAFF:
        panels.append(hooks.Panel("after_modules", "quiz/_course_post.html", {
            "states": rest, "has_pre": bool(pre), "result": service.course_result(course, user),
        }))  # fmt: skip
    return panels


def _next_step(course, user):
    pre = service.pending_pretest(course, user)
    if pre is None:
        return None
    return (
        f"Mulai: {pre.title}",
        url_for("quiz.start", quiz_id=pre.id),
        "Pre-test lebih dulu untuk mengukur pengetahuan awal; modul terbuka sesudahnya.",
    )


def _module_links(course, module, user) -> list[tuple[str, str]]:
    return [
        (f"Kuis modul: {q.title}", url_for("quiz.start", quiz_id=q.id))
        for q in service.course_quizzes(course)
        if q.kind == "module" and q.module_id == module.id and q.active
    ]


@bp.record_once
def _register_with_learning(_state) -> None:
    hooks.register(hooks.course_panels, _course_panels)
    hooks.register(hooks.module_gates, service.pretest_gate)
    hooks.register(hooks.next_steps, _next_step)
    hooks.register(hooks.module_links, _module_links)


# The quiz with its course in one query (the course's module list is not needed to start).
# Built once: a statement's cache key is computed once, options given per call are keyed again
# on every request (a hall's "Mulai" at once).
_QUIZ_WITH_COURSE = (
    select(Quiz)
    .where(Quiz.id == bindparam("quiz_id"))
    .options(joinedload(Quiz.course).lazyload(Course.course_modules))
)


def _quiz_for_user(quiz_id: int) -> Quiz:
    quiz = db.session.scalars(_QUIZ_WITH_COURSE, {"quiz_id": quiz_id}).unique().one_or_none()
    if quiz is None:
        abort(404)
    if not learning.can_open(current_user, quiz.course) or (
        not quiz.active and current_user.role == Role.PESERTA
    ):
        abort(404)
    return quiz


def close_overdue_attempts() -> None:
    """Before showing quiz states: grade attempts whose time ran out. A GET that writes, so it
    takes the write lock first (SQLite); it happens once per overdue attempt."""
    if service.overdue_attempts(current_user):
        begin_write()
        service.close_overdue(current_user)
        db.session.commit()


def _own_attempt(attempt_id: int, lock: bool = False):
    attempt = service.get_attempt_for(current_user, attempt_id, lock=lock)
    if attempt is None:
        abort(404)  # someone else's attempt does not exist for this user
    return attempt


@bp.get("/kuis/<int:quiz_id>")
@login_required
def start(quiz_id: int):
    quiz = _quiz_for_user(quiz_id)
    close_overdue_attempts()
    state = service.quiz_state(quiz, current_user)
    return render_template(
        "quiz/start.html",
        quiz=quiz,
        state=state,
        form=ConfirmForm(),
        pool=len(service.question_pool(quiz)),
    )


@bp.post("/kuis/<int:quiz_id>/mulai")
@checks_own_sign_in
@writes_late
def begin(quiz_id: int):
    """The "Mulai" button. A participant's pre-test (a hall at once) is one SELECT that checks the
    sign-in too (checks_own_sign_in), the pool, then the writes; anything else, and any start a
    rule refuses, takes the general path, which loads the user and says why."""
    # The form is the CSRF token alone, and CSRFProtect has checked it before any POST view
    # (a bad one is a 400 there): no ConfirmForm built and checked again on this hot path.
    now = utcnow()
    try:
        # Reads first; the write lock (SQLite) is taken for the INSERTs alone.
        attempt_id = service.start_for_token(session_token(), quiz_id, now, begin_write)
        if attempt_id is None:
            refusal = sign_in_refusal()
            if refusal is not None:
                return refusal
            quiz = _quiz_for_user(quiz_id)
            attempt_id = service.start_attempt(quiz, current_user, now, begin_write).id
    except service.QuizError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".start", quiz_id=quiz_id))
    db.session.commit()
    return redirect(url_for(".take", attempt_id=attempt_id))


@bp.get("/ujian/<int:attempt_id>")
@login_required
def take(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    now = utcnow()
    if attempt.is_open and service.is_overdue(attempt, now):
        close_overdue_attempts()
        flash("Waktu habis. Jawaban yang sudah tersimpan telah dinilai.", "info")
        return redirect(url_for(".result", attempt_id=attempt.id))
    if not attempt.is_open:
        return redirect(url_for(".result", attempt_id=attempt.id))
    items = queries.attempt_items(attempt, reveal=False)
    return render_template(
        "quiz/take.html",
        attempt=attempt,
        quiz=attempt.quiz,
        items=items,
        answered=sum(1 for i in items if i.selected),
        form=ConfirmForm(),
        seconds_left=service.seconds_left(attempt.deadline, now),
    )


def _selections_from_form(form) -> dict[int, list[str]]:
    """position -> the choices a whole page carries (at most 10 values each)."""
    selections = {}
    for value in form.getlist("positions"):
        try:
            position = db_int(value)
        except ValueError:
            continue
        selections[position] = [v for v in form.getlist(f"q{position}") if isinstance(v, str)][:10]
    return selections


@bp.post("/ujian/<int:attempt_id>/jawab")
@checks_own_sign_in
def save(attempt_id: int):
    """One answer, posted by quiz.js as the participant chooses it. Who is signed in is
    checked inside the save's own statement (checks_own_sign_in): one UPDATE."""
    payload = request.get_json(silent=True)
    if isinstance(payload, dict):  # any other shape was refused before the view (web.py)
        position = payload.get("position")
        selected = payload.get("selected") or []
    else:
        position = request.form.get("position", type=db_int)
        selected = request.form.getlist("selected")
    try:
        position = db_int(position)
    except ValueError:
        position = None
    if position is None or not isinstance(selected, list):
        return sign_in_refusal() or (jsonify(ok=False, error="Permintaan tidak lengkap."), 400)
    selected = [str(s) for s in selected]
    now = utcnow()
    try:
        try:
            saved = service.save_answer_for_token(
                session_token(), attempt_id, position, selected, now
            )
        except service.NotSignedIn:
            # Signed out, deactivated, a password to change, or not this user's attempt:
            # the usual checks and the usual path answer (a redirect, a 404, a 400).
            refusal = sign_in_refusal()
            if refusal is not None:
                return refusal
            saved = service.save_answer(current_user, attempt_id, position, selected, now)
    except service.AttemptNotFound:
        abort(404)
    except service.AttemptClosed as exc:
        db.session.commit()  # an expired attempt was just closed and graded
        return jsonify(
            ok=False,
            closed=True,
            error=str(exc),
            result_url=url_for(".result", attempt_id=attempt_id),
        ), 409
    except service.QuizError as exc:
        db.session.rollback()
        return jsonify(ok=False, error=str(exc)), 400
    db.session.commit()
    return jsonify(
        ok=True,
        position=position,
        saved_at=iso(saved.saved_at),
        # the countdown on the page corrects itself with every answer saved
        seconds_left=service.seconds_left(saved.deadline, now),
    )


@bp.post("/ujian/<int:attempt_id>")
@checks_own_sign_in
def submit_form(attempt_id: int):
    """The whole page as a normal form post: works without JavaScript. Saves what the page
    holds, then submits when asked to. The "Kirim" of a hall is one SELECT that checks the
    sign-in too (checks_own_sign_in), then the writes; anything else takes the general path,
    which loads the user only when that finds nothing."""
    # The CSRF token was checked by CSRFProtect before the view (a bad one is a 400 there).
    wants_submit = request.form.get("action") == "kirim"
    selections = _selections_from_form(request.form)
    now = utcnow()
    if wants_submit and service.submit_for_token(session_token(), attempt_id, selections, now):
        db.session.commit()
        return redirect(url_for(".result", attempt_id=attempt_id))
    attempt = service.get_attempt_for_token(session_token(), attempt_id)
    if attempt is None:
        refusal = sign_in_refusal()
        if refusal is not None:
            return refusal
        attempt = _own_attempt(attempt_id, lock=True)
    if attempt.is_open:
        if service.is_overdue(attempt, now):
            # Too late for what this page carries: grade what was saved in time.
            service.finish_attempt(attempt, now, status="expired")
            db.session.commit()
            flash("Waktu habis. Jawaban yang sudah tersimpan telah dinilai.", "info")
            return redirect(url_for(".result", attempt_id=attempt.id))
        if wants_submit:
            service.finish_attempt(attempt, now, selections=selections)
        else:
            service.save_answers(attempt, selections, now)
    db.session.commit()
    if wants_submit or not attempt.is_open:
        return redirect(url_for(".result", attempt_id=attempt.id))
    flash("Jawaban tersimpan.", "success")
    return redirect(url_for(".take", attempt_id=attempt.id))


@bp.get("/ujian/<int:attempt_id>/hasil")
@login_required
def result(attempt_id: int):
    close_overdue_attempts()
    attempt = _own_attempt(attempt_id)
    if attempt.is_open:
        return redirect(url_for(".take", attempt_id=attempt.id))
    reveal = service.can_review(attempt)
    course = attempt.quiz.course
    progress = learning.course_progress(current_user, course)
    return render_template(
        "quiz/result.html",
        attempt=attempt,
        quiz=attempt.quiz,
        items=queries.attempt_items(attempt, reveal=reveal),
        reveal=reveal,
        course_result=service.course_result(course, current_user),
        state=service.quiz_state(attempt.quiz, current_user),
        next_module=progress.next_module() if attempt.quiz.kind == "pre" else None,
    )


# --- staff ---------------------------------------------------------------------------------


def _to_utc(value: datetime | None) -> datetime | None:
    return local_to_utc(value, office_zone())


def _to_local(value: datetime | None) -> datetime | None:
    return utc_to_local(value, office_zone())


@bp.get("/admin/kursus/<int:course_id>/kuis")
@role_required(*STAFF)
def course_quizzes(course_id: int):
    course = learning_queries.course_for_staff_or_404(course_id)
    quizzes = service.course_quizzes(course)
    return render_template(
        "quiz/course_quizzes.html",
        course=course,
        quizzes=quizzes,
        reports={q.id: service.form_report(q) for q in quizzes},
        can_edit=current_user.role == Role.ADMIN and scope.current_reach().owns(course.office_id),
    )


@bp.route("/admin/kursus/<int:course_id>/kuis/baru", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def quiz_new(course_id: int):
    return _quiz_form(learning_queries.owned_course_or_error(course_id), None)


@bp.route("/admin/kuis/<int:quiz_id>/ubah", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def quiz_edit(quiz_id: int):
    quiz = db.get_or_404(Quiz, quiz_id)
    return _quiz_form(learning_queries.owned_course_or_error(quiz.course_id), quiz)


def _quiz_form(course: Course, quiz: Quiz | None):
    form = QuizForm(obj=quiz) if request.method == "GET" and quiz else QuizForm()
    zone = current_office().zone_label
    form.opens_at.label.text = f"Dibuka (waktu setempat, {zone})"
    form.closes_at.label.text = f"Ditutup (waktu setempat, {zone})"
    if request.method == "GET" and quiz is not None:
        form.opens_at.data = _to_local(quiz.opens_at)
        form.closes_at.data = _to_local(quiz.closes_at)
        form.module_id.data = quiz.module_id or 0
    form.module_id.choices = [(0, "— tidak ada —")] + [
        (cm.module_id, cm.module.title) for cm in course.course_modules
    ]
    if form.validate_on_submit():
        settings = service.QuizSettings(
            kind=form.kind.data,
            title=form.title.data.strip(),
            draw_count=form.draw_count.data,
            shuffle_questions=form.shuffle_questions.data,
            shuffle_options=form.shuffle_options.data,
            time_limit_minutes=form.time_limit_minutes.data,
            attempts_allowed=form.attempts_allowed.data,
            pass_mark=form.pass_mark.data,
            review_policy=form.review_policy.data,
            opens_at=_to_utc(form.opens_at.data),
            closes_at=_to_utc(form.closes_at.data),
            module_id=form.module_id.data or None,
            active=form.active.data,
        )
        try:
            saved = service.save_quiz(course, quiz, settings, current_user)
        except service.QuizError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"{saved.kind_label} “{saved.title}” tersimpan.", "success")
            return redirect(url_for(".course_quizzes", course_id=course.id))
    status = 400 if request.method == "POST" else 200
    report = service.form_report(quiz) if quiz is not None else None
    return render_template(
        "quiz/quiz_form.html", form=form, course=course, quiz=quiz, report=report
    ), status


@bp.get("/admin/kuis/<int:quiz_id>/analisis")
@role_required(*STAFF)
def analysis(quiz_id: int):
    """Item statistics over the attempts of the reader's own participants: a province shares its
    course with the offices below, each sees its own, the province all of them."""
    quiz = db.get_or_404(Quiz, quiz_id)
    reach = scope.current_reach()
    office_id = quiz.course.office_id
    if not (reach.sees(office_id) or reach.uses(office_id)):
        abort(404)
    mine = reach.where(User.office_id)
    return render_template(
        "quiz/analysis.html",
        quiz=quiz,
        items=queries.item_analysis(quiz, mine),
        kecamatan=queries.kecamatan_summary(quiz.course, mine),
        attempts=queries.attempt_rows(quiz, mine) if current_user.role == Role.ADMIN else None,
        types=TYPES,
    )
