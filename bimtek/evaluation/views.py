"""Participants fill in the evaluation; trainers and the office read the results."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from markupsafe import Markup

from bimtek.attendance import hooks
from bimtek.attendance.models import TrainingSession
from bimtek.attendance.service import can_manage
from bimtek.enums import STAFF, Role
from bimtek.evaluation import queries, service
from bimtek.evaluation.forms import evaluation_form
from bimtek.evaluation.items import BY_KEY, GROUPS, SCALE, field_name, items_of
from bimtek.evaluation.sheets import build_evaluation_workbook, write_evaluation_sheet
from bimtek.extensions import db
from bimtek.offices import scope
from bimtek.settings.service import office_by_id
from bimtek.spreadsheet import XLSX_MEDIA_TYPE
from bimtek.timeutil import utcnow
from bimtek.web import attachment, role_required

bp = Blueprint("evaluation", __name__)


def _participant_links(user, pairs, now) -> dict[int, tuple[str, str]]:
    """ "Isi evaluasi" / "Ubah evaluasi" under each session whose form is open to this person."""
    grace = int(current_app.config["BIMTEK_EVALUATION_GRACE_HOURS"])
    done = queries.evaluated_session_ids(user)
    links = {}
    for session, attendance in pairs:
        label = service.link_label(session, attendance, session.id in done, now, grace)
        if label:
            links[session.id] = (label, url_for("evaluation.fill", session_id=session.id))
    return links


def _session_panel(session: TrainingSession) -> Markup:
    return Markup(  # noqa: S704 (a rendered template: autoescaped)
        render_template(
            "evaluation/_session_panel.html", session=session, counts=queries.counts(session)
        )
    )


def _daftar_hadir_sheet(workbook, session: TrainingSession, timezone: str, office: str) -> None:
    # The whole session's evaluation even on a per-kecamatan list: a few people's ratings on
    # their own would no longer be anonymous.
    write_evaluation_sheet(
        workbook.create_sheet("Evaluasi"), queries.results(session), timezone, office
    )


@bp.record_once
def _register_with_attendance(_state) -> None:
    hooks.register(hooks.participant_links, _participant_links)
    hooks.register(hooks.session_panels, _session_panel)
    hooks.register(hooks.daftar_hadir_sheets, _daftar_hadir_sheet)


def _grace() -> int:
    return int(current_app.config["BIMTEK_EVALUATION_GRACE_HOURS"])


def _my_session(session_id: int):
    session = db.get_or_404(TrainingSession, session_id)
    where = service.standing(session, current_user, utcnow(), _grace())
    if where is None:
        abort(404)
    return session, where


def _page(session, where, form, status: int = 200):
    return (
        render_template(
            "evaluation/form.html",
            session=session,
            where=where,
            form=form,
            refusal=where.refusal(),
            groups=GROUPS,
            items_of=items_of,
            field_name=field_name,
            scale=SCALE,
        ),
        status,
    )


def _stored_form(session, where):
    """The form filled with what is stored (empty before the first submit)."""
    data = {
        field_name(BY_KEY[key], trainer_id): score
        for (key, trainer_id), score in service.answers_by_field(where.evaluation).items()
    }
    if where.evaluation is not None:
        data["comment"] = where.evaluation.comment or ""
    # formdata=None: on a refused POST, FlaskForm would otherwise show what was sent.
    return evaluation_form(session.trainers, formdata=None, data=data)


@bp.get("/sesi/<int:session_id>/evaluasi")
@role_required(Role.PESERTA)
def fill(session_id: int):
    session, where = _my_session(session_id)
    refusal = where.refusal()
    status = 403 if refusal is not None and refusal.status == 403 else 200
    return _page(session, where, _stored_form(session, where), status)


@bp.post("/sesi/<int:session_id>/evaluasi")
@role_required(Role.PESERTA)
def submit(session_id: int):
    session, where = _my_session(session_id)
    refusal = where.refusal()
    if refusal is not None:
        # Show what is stored, not what was sent: nothing was saved.
        flash(str(refusal), "error")
        return _page(session, where, _stored_form(session, where), refusal.status)
    form = evaluation_form(session.trainers)
    if not form.validate_on_submit():
        flash("Masih ada butir yang belum diisi. Periksa tanda merah di bawah.", "error")
        return _page(session, where, form, 400)
    try:
        saved = service.submit(
            session,
            current_user,
            form.answers(session.trainers),
            form.comment.data,
            utcnow(),
            _grace(),
        )
    except service.EvaluationError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _page(session, where, form, exc.status)
    db.session.commit()
    if saved.created:
        flash("Terima kasih, evaluasi Anda tersimpan.", "success")
    else:
        flash("Evaluasi Anda diperbarui.", "success")
    return redirect(url_for("evaluation.fill", session_id=session.id))


def _managed_session(session_id: int) -> TrainingSession:
    """A read: the session in the reader's reach (a foreign one is 404, as a missing one)."""
    session = scope.get_visible_or_404(TrainingSession, session_id)
    if not can_manage(session, current_user):
        abort(404)
    return session


@bp.get("/sesi/<int:session_id>/evaluasi/hasil")
@role_required(*STAFF)
def results(session_id: int):
    session = _managed_session(session_id)
    return render_template(
        "evaluation/results.html",
        session=session,
        results=queries.results(session),
        scale=SCALE,
        closes_at=service.closes_at(session, _grace()),
        now=utcnow(),
    )


@bp.get("/sesi/<int:session_id>/evaluasi.xlsx")
@role_required(*STAFF)
def results_xlsx(session_id: int):
    session = _managed_session(session_id)
    office = office_by_id(session.office_id)  # the session's office, read from above too
    data = build_evaluation_workbook(queries.results(session), office.name, office.timezone)
    return attachment(data, f"evaluasi-sesi-{session.id}.xlsx", XLSX_MEDIA_TYPE)
