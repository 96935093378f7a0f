"""Sessions: set up, projector code, phone check-in, manual marking, daftar hadir."""

import secrets
from datetime import timedelta

import segno
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup

from bimtek.attendance import codes, hooks, queries, service
from bimtek.attendance import jobs as attendance_jobs
from bimtek.attendance.forms import CheckInForm, MarkForm, SessionForm
from bimtek.attendance.models import PRESENT, STATUS_LABELS, TrainingSession
from bimtek.enums import STAFF, Role
from bimtek.extensions import begin_write, db, limiter, writes_late
from bimtek.forms import ConfirmForm
from bimtek.jobs.web import offer
from bimtek.learning import service as learning
from bimtek.offices import scope
from bimtek.offices.models import FIRST_OFFICE_ID
from bimtek.settings.service import current_office, office_by_id, office_zone
from bimtek.spreadsheet import XLSX_MEDIA_TYPE
from bimtek.timeutil import local_to_utc, utc_to_local, utcnow
from bimtek.web import (
    attachment,
    checks_own_sign_in,
    db_int,
    public_url,
    role_required,
    session_token,
    sign_in_refusal,
    token_account_id,
)
from bimtek.wilayah import queries as wilayah_queries
from bimtek.wilayah.models import Kecamatan

bp = Blueprint("attendance", __name__)

DEVICE_COOKIE = "bimtek_perangkat"


def _period() -> int:
    return int(current_app.config["BIMTEK_CHECKIN_PERIOD"])


def _timezone() -> str:
    return office_zone()


def _links(mine: list[queries.MySession], now) -> dict[int, list[tuple[str, str]]]:
    """session id → buttons other features offer the participant (e.g. the evaluation)."""
    return hooks.links_for(current_user, [(m.session, m.attendance) for m in mine], now)


def _managed_session(session_id: int) -> TrainingSession:
    """The session, if it lies in the signed-in staff member's reach and they run it (a trainer)
    or administer its office's subtree; 404 otherwise (not 403: no hint)."""
    session = scope.get_visible_or_404(TrainingSession, session_id)
    if not service.can_manage(session, current_user):
        abort(404)
    return session


def _owned_session(session_id: int) -> TrainingSession:
    """A session to change: the office above reads it but may not change it (403)."""
    session = _managed_session(session_id)
    scope.require_owner(session)
    return session


def _xlsx(data: bytes, filename: str):
    return attachment(data, filename, XLSX_MEDIA_TYPE)


# ---- lists ---------------------------------------------------------------------------------


@bp.get("/sesi")
@login_required
def sessions():
    if current_user.role == Role.PESERTA:
        now = utcnow()
        mine = queries.participant_sessions(current_user)
        return render_template(
            "attendance/my_sessions.html",
            mine=mine,
            links=_links(mine, now),
            now=now,
        )
    courses = learning.courses_by_title()
    return render_template(
        "attendance/sessions.html",
        sessions=queries.sessions_for(current_user),
        courses=courses,
        now=utcnow(),
    )


# ---- create / edit -------------------------------------------------------------------------


def _session_form(session: TrainingSession | None):
    # The stored session fills the form on GET only: on POST a field the request omits must
    # be missing, not taken from the session (its UTC times would be read again as local).
    form = SessionForm(obj=session) if request.method == "GET" else SessionForm()
    tz = _timezone()
    zone = current_office().zone_label
    form.starts_at.label.text = f"Mulai (waktu setempat, {zone})"
    form.ends_at.label.text = f"Selesai (waktu setempat, {zone})"
    # The office's own courses (and those offered from above), region and trainers: what the
    # office gives, never more.
    office_id = session.office_id if session is not None else scope.office_id_of(current_user)
    usable = scope.reach_of_office(office_id or FIRST_OFFICE_ID)
    form.course_id.choices = [
        (c.id, c.title) for c in learning.courses_by_title() if usable.uses(c.office_id)
    ]
    region = service.office_region(office_id)
    form.invite_kecamatan.choices = [
        (k.kode, f"{k.nama} ({k.kode})")
        for k in wilayah_queries.kecamatan_list()
        if service.in_region(k.kode, region)
    ]
    trainers = queries.active_trainers(office_id)
    if session is not None:  # whoever runs it already stays a choice
        trainers += [t for t in session.trainers if t not in trainers]
    form.trainers.choices = [(u.id, u.nama) for u in trainers]
    if request.method == "GET":
        if session is not None:
            form.starts_at.data = utc_to_local(session.starts_at, tz)
            form.ends_at.data = utc_to_local(session.ends_at, tz)
            form.trainers.data = [t.id for t in session.trainers]
            form.invite_niks.data = "\n".join(queries.invited_by_nik(session))
        elif request.args.get("kursus", type=db_int):
            form.course_id.data = request.args.get("kursus", type=db_int)
    if not form.course_id.choices:
        flash("Buat kursus terlebih dahulu sebelum membuat sesi.", "error")
    if form.validate_on_submit():
        data = service.SessionData(
            course_id=form.course_id.data,
            title=form.title.data,
            venue=form.venue.data,
            starts_at=local_to_utc(form.starts_at.data, tz),
            ends_at=local_to_utc(form.ends_at.data, tz),
            late_after_minutes=form.late_after_minutes.data,
            checkin_opens_minutes=form.checkin_opens_minutes.data,
            invite_badan=form.invite_badan.data or [],
            invite_kecamatan=form.invite_kecamatan.data or [],
            trainer_ids=form.trainers.data or [],
            invite_niks=form.niks,
        )
        try:
            saved = service.save_session(session, data, current_user)
        except service.AttendanceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash("Sesi disimpan.", "success")
            return redirect(url_for("attendance.session", session_id=saved.id))
    status = 400 if request.method == "POST" else 200
    return render_template("attendance/session_form.html", form=form, session=session), status


@bp.route("/sesi/baru", methods=["GET", "POST"])
@role_required(*STAFF)
def session_new():
    return _session_form(None)


@bp.route("/sesi/<int:session_id>/ubah", methods=["GET", "POST"])
@role_required(*STAFF)
def session_edit(session_id: int):
    return _session_form(_owned_session(session_id))


@bp.post("/sesi/<int:session_id>/hapus")
@role_required(*STAFF)
def session_delete(session_id: int):
    session = _owned_session(session_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        service.delete_session(session, current_user)
    except service.AttendanceError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("attendance.session", session_id=session_id))
    db.session.commit()
    flash("Sesi dihapus.", "success")
    return redirect(url_for("attendance.sessions"))


@bp.post("/sesi/<int:session_id>/undangan")
@role_required(*STAFF)
def refresh_invites(session_id: int):
    session = _owned_session(session_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    added, removed = service.sync_invites(session)
    db.session.commit()
    flash(f"Daftar undangan diperbarui: {added} ditambahkan, {removed} dikeluarkan.", "success")
    return redirect(url_for("attendance.session", session_id=session_id))


# ---- one session ---------------------------------------------------------------------------


@bp.get("/sesi/<int:session_id>")
@login_required
def session(session_id: int):
    if current_user.role == Role.PESERTA:
        session = db.get_or_404(TrainingSession, session_id)
        if not service.is_invited(session, current_user):
            abort(404)
        return redirect(url_for("attendance.checkin", s=session.id))
    session = _managed_session(session_id)
    reach = scope.current_reach()
    kecamatan_kode = request.args.get("kecamatan") or None
    rows = queries.invitee_rows(session, kecamatan_kode, reach)
    return render_template(
        "attendance/session.html",
        session=session,
        can_change=reach.owns(session.office_id),
        office=office_by_id(session.office_id),
        rows=rows,
        counts=queries.counts(rows),
        kecamatan_list=queries.invitee_kecamatan(session, reach),
        kecamatan_kode=kecamatan_kode,
        anomalies=queries.anomalies(session, _period()),
        changes=queries.changes(session),
        mark_form=MarkForm(),
        confirm=ConfirmForm(),
        statuses=STATUS_LABELS,
        now=utcnow(),
        open_now=service.is_open_for_checkin(session, utcnow()),
        panels=hooks.panels_for(session),
    )


@bp.post("/sesi/<int:session_id>/tandai")
@role_required(*STAFF)
def mark(session_id: int):
    session = _owned_session(session_id)
    form = MarkForm()
    back = url_for(
        "attendance.session", session_id=session_id, kecamatan=request.args.get("kecamatan")
    )
    if not form.validate_on_submit():
        flash("Formulir tidak lengkap: " + "; ".join(sum(form.errors.values(), [])), "error")
        return redirect(back)
    try:
        result = service.mark(
            session, current_user, form.user_ids.data, form.status.data, form.reason.data, utcnow()
        )
    except service.AttendanceError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(back)
    db.session.commit()
    label = STATUS_LABELS[form.status.data]
    message = f"{result.changed} peserta ditandai {label}."
    if result.unchanged:
        message += f" {result.unchanged} sudah berstatus itu."
    flash(message, "success")
    return redirect(back)


@bp.get("/sesi/<int:session_id>/proyektor")
@role_required(*STAFF)
def projector(session_id: int):
    """The page on the projector: the current code and a QR that opens the check-in page."""
    session = _managed_session(session_id)
    now = utcnow()
    period = _period()
    code = service.current_code(session, now, period)
    open_now = service.is_open_for_checkin(session, now)
    if open_now and scope.current_reach().owns(session.office_id):
        # The office above may look at the screen; only the session's own office runs it.
        begin_write()
        if service.record_code_shown(session, now):
            db.session.commit()
    url = public_url("attendance.checkin", s=session.id, kode=code)
    qr = segno.make(url, error="m", mask=0)
    svg = qr.svg_inline(scale=8, border=2, dark="#000", light="#fff", omitsize=True)
    present = queries.status_counts(session)
    return render_template(
        "attendance/projector.html",
        session=session,
        code=code,
        qr_svg=Markup(svg),  # noqa: S704  (segno's own SVG of our URL)
        checkin_url=public_url("attendance.checkin"),
        refresh=codes.seconds_left(now, period) + 1,
        open_now=open_now,
        opens_at=service.checkin_opens_at(session),
        present=present,
        period=period,
    )


# ---- participant check-in ------------------------------------------------------------------


@bp.get("/hadir")
@login_required
def checkin():
    """Type the code, or land here from the QR (?s=<session>&kode=<code>)."""
    now = utcnow()
    form = CheckInForm()
    wanted = request.args.get("s", type=db_int)
    if request.args.get("kode"):
        form.kode.data = codes.normalise(request.args["kode"]) or ""
        form.via.data = "qr"
    if wanted:
        form.session_id.data = str(wanted)
    return _checkin_page(form, now, wanted)


def _checkin_page(form, now, wanted: int | None, status: int = 200):
    if current_user.role != Role.PESERTA:
        flash(
            "Presensi dengan kode hanya untuk peserta. Pelatih membuka halaman proyektor.", "error"
        )
        return redirect(url_for("attendance.sessions"))
    open_sessions = service.sessions_now_open_for(current_user, now)
    mine = {m.session.id: m for m in queries.participant_sessions(current_user)}
    target = None
    if wanted:
        # An open session found above is this participant's; `mine` holds those they are
        # invited to; any other one is shown only if its rule invites them.
        target = next((s for s in open_sessions if s.id == wanted), None)
        if target is None:
            target = mine[wanted].session if wanted in mine else None
        if target is None:
            target = db.session.get(TrainingSession, wanted)
            if target is not None and not service.matches_rule(target, current_user):
                target = None
    if target is None and open_sessions:
        # Opened from the menu after checking in: show the confirmation, not an empty form,
        # unless an open session still waits for this participant's code.
        present = [s for s in open_sessions if _present(mine.get(s.id))]
        if len(present) == len(open_sessions):
            target = present[0]
    return (
        render_template(
            "attendance/checkin.html",
            form=form,
            open_sessions=open_sessions,
            target=target,
            record=mine.get(target.id).attendance if target and target.id in mine else None,
            links=_links([mine[target.id]], now).get(target.id, [])
            if target and target.id in mine
            else [],
            now=now,
            period=_period(),
        ),
        status,
    )


def _present(mine) -> bool:
    return bool(mine and mine.attendance and mine.attendance.status in PRESENT)


def _checkin_key() -> str:
    """Wrong codes are counted per account. The account's id as this process knows its session
    token (no account loaded for a hall's check-ins), else as the sign-in loads it."""
    user_id = token_account_id()
    if user_id is None and current_user.is_authenticated:
        user_id = current_user.id
    return f"checkin|{user_id or '-'}"  # '-': signed out; the view sends them to sign in


def _checkin_refused(response) -> bool:
    return response.status_code in (400, 409)


@bp.post("/hadir")
@checks_own_sign_in
@limiter.limit(
    lambda: current_app.config["BIMTEK_CHECKIN_LIMIT"],
    key_func=_checkin_key,
    deduct_when=_checkin_refused,
    scope="checkin",
)
@writes_late
def checkin_post():
    """Wrong codes are limited per account: six digits must not be guessable by trying.

    A hall's check-in (a participant on the session's list, the code typed on the session's
    page) is one SELECT that checks the sign-in too (checks_own_sign_in), then the INSERTs;
    anything else takes the general path, which loads the user first."""
    now = utcnow()
    typed = (request.form.get("kode") or "").strip()
    try:
        wanted = db_int(request.form.get("session_id") or "") or None
    except ValueError:
        wanted = None
    device_id = request.cookies.get(DEVICE_COOKIE) or secrets.token_urlsafe(18)
    origin = service.Origin(
        ip=request.remote_addr,
        device_id=device_id,
        user_agent=request.user_agent.string,
    )
    method = "qr" if request.form.get("via") == "qr" else "kode"
    result = None
    if typed and wanted:
        try:
            # Reads first; the write lock (SQLite) is taken right before the INSERTs.
            result = service.check_in_for_token(
                session_token(), wanted, typed, now, _period(), origin, method, begin_write
            )
        except service.AttendanceError as exc:
            db.session.rollback()
            return _checkin_refused_page(str(exc), now, wanted)
    if result is None:
        refusal = sign_in_refusal()
        if refusal is not None:
            return refusal
        result = _check_in_general(now, typed, wanted, origin, method)
        if not isinstance(result, service.CheckIn):
            return result  # the page that says why not
    db.session.commit()
    att = result.attendance
    # No flash: the check-in page itself says it, once ("Terima kasih, Anda tercatat hadir
    # pukul …"), for a first and for a repeated check-in alike.
    response = redirect(url_for("attendance.checkin", s=att.session_id))
    if request.cookies.get(DEVICE_COOKIE) != device_id:
        response.set_cookie(
            DEVICE_COOKIE,
            device_id,
            max_age=int(timedelta(days=730).total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        )
    return response


def _check_in_general(now, typed: str, wanted: int | None, origin, method: str):
    """The check-in of a signed-in user, any case: a CheckIn, or the response saying why not."""
    if not typed:
        # The form only to say what is missing: CSRFProtect has checked the token before any
        # POST view, so a whole hall's check-ins build no form and check no token twice.
        form = CheckInForm()
        form.validate_on_submit()
        return _checkin_page(form, now, wanted, status=400)
    if current_user.role != Role.PESERTA:
        abort(403)
    if wanted:
        # The session and this participant's state in it, in one SELECT.
        found = service.session_for_checkin(wanted, current_user.id)
        if found is None:
            abort(404)
        candidates = [found]
    else:
        candidates = [(s, None) for s in service.sessions_now_open_for(current_user, now)]
        if not candidates:
            message = "Tidak ada sesi yang sedang membuka presensi untuk Anda saat ini."
            return _checkin_refused_page(message, now, None)
    result = error = None
    for session, state in candidates:
        try:
            # Reads first; the write lock (SQLite) is taken right before the INSERTs.
            result = service.check_in(
                session, current_user, typed, now, _period(), origin, method,
                state=state, before_write=begin_write,
            )  # fmt: skip
            break
        except service.AttendanceError as exc:
            db.session.rollback()
            error = exc
    if result is None:
        return _checkin_refused_page(str(error), now, wanted)
    return result


def _checkin_refused_page(message: str, now, wanted: int | None):
    """The check-in page again (409: counted as a refused try), saying why."""
    flash(message, "error")
    return _checkin_page(CheckInForm(), now, wanted, status=409)


# ---- daftar hadir and exports --------------------------------------------------------------


def _kecamatan_filter(session: TrainingSession):
    kode = request.args.get("kecamatan") or None
    kecamatan = db.session.get(Kecamatan, kode) if kode else None
    if kode and kecamatan is None:
        abort(404)
    return kecamatan


@bp.get("/sesi/<int:session_id>/daftar-hadir")
@role_required(*STAFF)
def daftar_hadir(session_id: int):
    session = _managed_session(session_id)
    kecamatan = _kecamatan_filter(session)
    rows = queries.invitee_rows(
        session, kecamatan.kode if kecamatan else None, scope.current_reach()
    )
    return render_template(
        "attendance/daftar_hadir.html",
        session=session,
        rows=rows,
        kecamatan=kecamatan,
        office=office_by_id(session.office_id),  # the session's office heads its list
        statuses=STATUS_LABELS,
    )


@bp.route("/sesi/<int:session_id>/daftar-hadir.xlsx", methods=["GET", "POST"])
@role_required(*STAFF)
def daftar_hadir_xlsx(session_id: int):
    """Small: the workbook at once. Large: a background job (bimtek/attendance/jobs.py)."""
    session = _managed_session(session_id)
    kecamatan = _kecamatan_filter(session)
    kode = kecamatan.kode if kecamatan else None
    where = f", Kec. {kecamatan.nama}" if kecamatan else ""
    return offer(
        "daftar_hadir",
        {"session_id": session.id, "kecamatan": kode},
        f"Daftar hadir (.xlsx) — {session.title}{where}",
        attendance_jobs.invitee_count([session.id], kode),
        "Daftar hadir ini",
    )


@bp.route("/sesi/kehadiran.xlsx", methods=["GET", "POST"])
@role_required(*STAFF)
def attendance_export():
    """One row per participant per session, over the sessions this user may see."""
    sessions = queries.sessions_for(current_user)
    course_id = request.args.get("kursus", type=db_int)
    if course_id:
        sessions = [s for s in sessions if s.course_id == course_id]
    mine = None if current_user.role == "admin" else current_user.id
    return offer(
        "attendance_export",
        {"course_id": course_id, "scope_user": mine},
        "Ekspor kehadiran (.xlsx)" + (f" — kursus {course_id}" if course_id else ""),
        attendance_jobs.invitee_count([s.id for s in sessions]) if sessions else 0,
        "Ekspor kehadiran ini",
    )
