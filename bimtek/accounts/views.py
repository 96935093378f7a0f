"""Sign-in, sign-out, password change, and the admin's participant pages."""

import logging

import segno
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import joinedload

from bimtek.accounts import importer, service, signin_lock, signin_tokens
from bimtek.accounts import jobs as account_jobs
from bimtek.accounts.forms import (
    ChangePasswordForm,
    ConfirmForm,
    CredentialsForm,
    ImportConfirmForm,
    ImportUploadForm,
    LoginForm,
    ParticipantForm,
)
from bimtek.accounts.import_sheets import build_template
from bimtek.accounts.models import ParticipantImport, User
from bimtek.enums import Role
from bimtek.extensions import begin_write, db, limiter, login_manager, writes_late
from bimtek.jobs import service as jobs
from bimtek.jobs.web import offer
from bimtek.offices import scope
from bimtek.offices.models import KABKOTA, Office
from bimtek.offices.service import label_of, region_prefix
from bimtek.spreadsheet import XLSX_MEDIA_TYPE, SpreadsheetError, check_xlsx, too_many_rows
from bimtek.storage import STORAGE_FULL_MESSAGE, is_storage_full
from bimtek.timeutil import utcnow
from bimtek.web import (
    attachment,
    checks_own_input,
    db_int,
    is_safe_next,
    no_store,
    note_token_account,
    public_url,
    refused_input,
    role_required,
)
from bimtek.wilayah import queries as wilayah_queries
from bimtek.wilayah.models import Kecamatan

log = logging.getLogger(__name__)
bp = Blueprint("accounts", __name__)


@bp.record_once
def _load_users(_state) -> None:
    # Built once: the loader runs on every signed-in request.
    user_by_token = select(User).where(
        User.session_token == bindparam("token"), User.active.is_(True)
    )

    @login_manager.user_loader
    def load_user(token: str):
        user = db.session.scalars(user_by_token, {"token": token}).one_or_none()
        if user is not None:
            note_token_account(token, user.id)
        return user


def _login_failed(response) -> bool:
    # 400: a sign-in refused before the password was checked (malformed input, stale form)
    # still counts, so no kind of request can be repeated without limit.
    return response.status_code in (400, 401)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["BIMTEK_LOGIN_LIMIT_ACCOUNT"],
    key_func=signin_lock.request_key,
    methods=["POST"],
    deduct_when=_login_failed,
    scope=signin_lock.SCOPE,
)
@limiter.limit(
    lambda: current_app.config["BIMTEK_LOGIN_LIMIT_ADDRESS"],
    methods=["POST"],
    deduct_when=_login_failed,
    scope="login-address",
)
@writes_late
@checks_own_input
def login():
    problem = refused_input()
    if problem:  # answered here, not before the view: the limits above count it
        flash(problem, "error")
        return render_template("accounts/login.html", form=LoginForm(formdata=None)), 400
    next_url = request.values.get("next")
    if current_user.is_authenticated:
        return redirect(next_url if is_safe_next(next_url) else url_for("learning.home"))
    form = LoginForm()
    if form.validate_on_submit():
        # Read and check the password (~25 ms of argon2id) with no write lock held; only a
        # successful sign-in writes, in a short transaction of its own.
        try:
            user = service.check_credentials(form.username.data, form.password.data)
        except service.Deactivated as exc:
            log.info("sign-in to a deactivated account from %s", request.remote_addr)
            flash(str(exc), "error")
            return render_template("accounts/login.html", form=form, next=next_url), 403
        if user is None:
            log.info("failed sign-in from %s", request.remote_addr)
            flash("NIK/nama pengguna atau kata sandi salah.", "error")
            return render_template("accounts/login.html", form=form, next=next_url), 401
        upgrade = service.hash_upgrade(user, password=form.password.data)  # no lock held
        begin_write()
        service.record_sign_in(user, upgrade)
        session.clear()  # a fresh session: nothing from before sign-in carries over
        login_user(user)
        db.session.commit()
        log.info("user %s signed in", user.id)
        target = next_url if is_safe_next(next_url) and next_url != "/" else None
        if user.must_change_password:  # then on to where they were going (a QR check-in)
            return redirect(url_for("accounts.change_password", next=target))
        return redirect(target or url_for("learning.home"))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form, next=next_url), status


def _token_link(token: str) -> str:
    return signin_tokens.sign_in_url(token)


def _qr_svg(url: str) -> Markup:
    svg = segno.make(url, error="m").svg_inline(scale=4, border=2, omitsize=True)
    return Markup(svg)  # noqa: S704  (segno's own SVG of our URL)


def _token_refused(response) -> bool:
    return response.status_code in (400, 403, 410)


@bp.route("/masuk/<token>", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["BIMTEK_TOKEN_LIMIT"],
    methods=["POST"],
    deduct_when=_token_refused,
    scope="token-address",
)
def token_sign_in(token: str):
    """The QR code on a credentials sheet or reset slip. GET only shows a button: a link
    preview (a chat app opening the URL) must not spend the one-time token."""
    form = ConfirmForm()
    if request.method == "GET" or not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        page = render_template("accounts/token_login.html", form=form, token=token[:64])
        return no_store(current_app.make_response((page, status)))
    try:
        user = signin_tokens.redeem(token)
    except service.Deactivated as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return render_template("accounts/login.html", form=LoginForm(formdata=None)), 403
    except service.AccountError as exc:
        db.session.rollback()
        log.info("refused QR sign-in from %s", request.remote_addr)
        flash(str(exc), "error")
        return render_template("accounts/login.html", form=LoginForm(formdata=None)), 410
    if current_user.is_authenticated:
        logout_user()
    session.clear()
    login_user(user)
    db.session.commit()
    log.info("user %s signed in by QR token", user.id)
    return redirect(url_for("accounts.change_password"))


@bp.post("/logout")
@login_required
def logout():
    user = db.session.get(User, current_user.id)
    user.end_all_sessions()  # signing out here signs out every device
    db.session.commit()
    logout_user()
    session.clear()
    flash("Anda sudah keluar.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/akun/kata-sandi", methods=["GET", "POST"])
@login_required
def change_password():
    user = db.session.get(User, current_user.id)
    form = ChangePasswordForm(user)
    if form.validate_on_submit():
        service.change_password(user, form.new_password.data)
        db.session.commit()
        session.clear()
        login_user(user)  # this device stays signed in with the new token; others are out
        flash("Kata sandi sudah diganti. Sesi di perangkat lain telah diakhiri.", "success")
        next_url = request.args.get("next")
        return redirect(next_url if is_safe_next(next_url) else url_for("learning.home"))
    return render_template(
        "accounts/change_password.html", form=form, forced=user.must_change_password
    )


def _office_id() -> int:
    """The signed-in admin's office: the one that registers, edits and imports here."""
    return scope.current_reach().office_id


def _region() -> str | None:
    """The wilayah the admin's office covers (None: every loaded region)."""
    return region_prefix(_office_id())


def _wilayah_choices(form: ParticipantForm) -> list[Kecamatan]:
    """The office's own kecamatan and desa (another office's are refused with its name)."""
    region = _region()
    kecamatan = wilayah_queries.kecamatan_list(region)
    form.kecamatan_kode.choices = [("", "— pilih —")] + [
        (k.kode, f"{k.nama} ({k.kode})") for k in kecamatan
    ]
    form.desa_kode.choices = [("", "— tidak ada —")] + [
        (d.kode, f"{d.label} — Kec. {d.kecamatan.nama}") for d in wilayah_queries.desa_list(region)
    ]
    return kecamatan


@bp.route("/admin/peserta", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def participants():
    """The list, and the search. The search is POSTed: a NIK typed into it never appears in a
    URL, so it stays out of access logs, browser history and Referer headers. A GET ?q= (an
    old bookmark) still finds names, but digits in it are not searched."""
    search_form = ConfirmForm()
    if request.method == "POST":
        if not search_form.validate_on_submit():
            abort(400)
        query = (request.form.get("q") or "").strip()[:200]  # SQLite caps LIKE patterns
        page = max(request.form.get("halaman", 1, type=db_int), 1)
    else:
        query = (request.args.get("q") or "").strip()[:200]
        page = max(request.args.get("halaman", 1, type=db_int), 1)
        if any(ch.isdigit() for ch in query):
            flash("Cari NIK lewat kotak pencarian di bawah, bukan lewat alamat halaman.", "info")
            query = ""
    # "Asal" shows kecamatan and desa: loaded with the page, not one query per row.
    stmt = scope.visible(
        select(User)
        .where(User.role == Role.PESERTA)
        .options(joinedload(User.kecamatan), joinedload(User.desa))
        .order_by(User.nama, User.id),
        User.office_id,
    )
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(or_(func.lower(User.nama).like(like), User.nik == query))
    pagination = db.paginate(
        stmt, page=page, per_page=current_app.config["BIMTEK_PAGE_SIZE"], error_out=False
    )
    reach = scope.current_reach()
    own = db.session.get(Office, reach.office_id)
    return render_template(
        "accounts/participants.html",
        # A province (or KPU RI) sees its kabupaten/kota's participants: say whose each is.
        office_labels={i: label_of(i) for i in reach.ids} if len(reach.ids) > 1 else None,
        # Participants belong to a kabupaten/kota office: only one registers them.
        registers=own is None or own.level == KABKOTA,
        search_form=search_form,
        users=pagination.items,
        q=query,
        page=pagination.page,
        pages=max(pagination.pages, 1),
        total=pagination.total,
    )


@bp.route("/admin/peserta/baru", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def participant_new():
    form = ParticipantForm(office_id=_office_id())
    kecamatan = _wilayah_choices(form)
    if not kecamatan:
        flash("Belum ada data wilayah. Muat dulu dengan 'bimtek wilayah import'.", "error")
    if form.validate_on_submit():
        user, initial_password = service.create_participant(
            form.data_object(), current_user, office_id=_office_id()
        )
        db.session.commit()
        return render_template(
            "accounts/participant_created.html", user=user, initial_password=initial_password
        )
    if request.method == "POST":
        flash("Periksa kembali isian yang ditandai.", "error")
    return render_template("accounts/participant_form.html", form=form), (
        400 if request.method == "POST" else 200
    )


def _peserta_or_404(user_id: int) -> User:
    """A participant of the admin's wilayah (another office's is 404, as a missing one)."""
    user = scope.get_visible_or_404(User, user_id)
    if user.role != Role.PESERTA:
        abort(404)
    return user


def _own_peserta_or_404(user_id: int) -> User:
    """A participant this office may change: a province sees its kabupaten's read-only (403)."""
    user = _peserta_or_404(user_id)
    scope.require_owner(user)
    return user


@bp.get("/admin/peserta/<int:user_id>")
@role_required(Role.ADMIN)
def participant_detail(user_id: int):
    user = _peserta_or_404(user_id)
    return render_template(
        "accounts/participant_detail.html",
        user=user,
        locked=signin_lock.is_locked(user),
        form=ConfirmForm(),
        can_change=scope.current_reach().owns(user.office_id),
        owner_label=label_of(user.office_id),
    )


@bp.route("/admin/peserta/<int:user_id>/ubah", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def participant_edit(user_id: int):
    user = _own_peserta_or_404(user_id)
    # From the stored participant on GET only: a POST is the request's data alone.
    obj = user if request.method == "GET" else None
    form = ParticipantForm(obj=obj, existing=user, office_id=_office_id())
    _wilayah_choices(form)
    if form.validate_on_submit():
        try:
            changed = service.update_participant(
                user, form.data_object(), current_user, office_id=_office_id()
            )
        except service.AccountError as exc:  # e.g. the NIK was taken a moment ago
            db.session.rollback()
            getattr(form, exc.field or "nama").errors = [str(exc)]
        else:
            db.session.commit()
            flash("Data peserta disimpan." if changed else "Tidak ada yang berubah.", "success")
            return redirect(url_for("accounts.participant_detail", user_id=user.id))
    if request.method == "POST":
        flash("Periksa kembali isian yang ditandai.", "error")
    return render_template("accounts/participant_form.html", form=form, user=user), (
        400 if request.method == "POST" else 200
    )


@bp.route("/admin/peserta/<int:user_id>/atur-ulang-sandi", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def participant_reset_password(user_id: int):
    """GET asks for confirmation; POST issues a new initial password and shows it once."""
    user = _own_peserta_or_404(user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("accounts/confirm_reset.html", user=user, form=form), (
            400 if request.method == "POST" else 200
        )
    initial_password = service.reset_password(user, current_user)
    token = signin_tokens.issue([user.id])[user.id]  # the slip's QR; earlier ones stop working
    db.session.commit()
    signin_lock.unlock(user)  # the participant may have locked it guessing
    log.info("password of user %s reset by admin %s", user.id, current_user.id)
    response = current_app.make_response(
        render_template(
            "accounts/reset_slip.html",
            user=user,
            initial_password=initial_password,
            now=utcnow(),
            qr_svg=_qr_svg(public_url("accounts.token_sign_in", token=token)),
        )
    )
    return no_store(response)


@bp.route("/admin/peserta/<int:user_id>/nonaktifkan", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def participant_deactivate(user_id: int):
    user = _own_peserta_or_404(user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("accounts/confirm_deactivate.html", user=user, form=form), (
            400 if request.method == "POST" else 200
        )
    try:
        changed = service.deactivate(user, current_user)
    except service.AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("accounts.participant_detail", user_id=user.id))
    db.session.commit()
    if changed:
        flash(f"Akun {user.nama} dinonaktifkan; sesinya diakhiri.", "success")
    return redirect(url_for("accounts.participant_detail", user_id=user.id))


@bp.post("/admin/peserta/<int:user_id>/aktifkan")
@role_required(Role.ADMIN)
def participant_reactivate(user_id: int):
    user = _own_peserta_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if service.reactivate(user, current_user):
        db.session.commit()
        flash(f"Akun {user.nama} aktif kembali.", "success")
    return redirect(url_for("accounts.participant_detail", user_id=user.id))


@bp.post("/admin/peserta/<int:user_id>/buka-kunci")
@role_required(Role.ADMIN)
def participant_unlock(user_id: int):
    user = _own_peserta_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    signin_lock.unlock(user)
    service.record_unlock(user, current_user)
    db.session.commit()
    flash("Kunci masuk dibuka: peserta dapat langsung mencoba masuk lagi.", "success")
    return redirect(url_for("accounts.participant_detail", user_id=user.id))


# ---- import from .xlsx -----------------------------------------------------------------------


def _upload_dir() -> str:
    return current_app.config["BIMTEK_UPLOAD_DIR"]


def _checked(record: ParticipantImport) -> importer.ImportPreview:
    """What the check made when the sheet was read found (the counts, the first rows), kept
    beside the rows read: the preview and the confirm neither parse the workbook, nor check
    30,000 rows again, nor load them. The commit job checks every row again against the data
    of its moment."""
    return importer.preview_at_upload(_upload_dir(), record)


def _own_pending(import_id: int) -> ParticipantImport:
    """A pending import belongs to the admin who uploaded it; anyone else gets 404."""
    record = scope.get_visible_or_404(ParticipantImport, import_id)
    if record.status != "pending" or record.admin_id != current_user.id:
        abort(404)
    return record


@bp.get("/admin/peserta/templat.xlsx")
@role_required(Role.ADMIN)
def import_template():
    rows = wilayah_queries.kecamatan_desa_rows(_region())
    wilayah = [
        (kec_kode, kec_nama, desa_kode, f"{'Kel.' if jenis == 'kelurahan' else 'Desa'} {nama}")
        if desa_kode
        else (kec_kode, kec_nama, None, None)
        for kec_kode, kec_nama, desa_kode, nama, jenis in rows
    ]
    return attachment(build_template(wilayah), "templat-peserta.xlsx", XLSX_MEDIA_TYPE)


@bp.route("/admin/peserta/impor", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@writes_late
def import_upload():
    """Keep the upload and read it through the `import_parse` job: in this request for a sheet
    of a couple of thousand rows, by the worker (with a progress page) for a larger one."""
    form = ImportUploadForm()
    status = 200
    if form.validate_on_submit():
        upload = form.berkas.data
        config = current_app.config
        data = upload.stream.read(config["BIMTEK_IMPORT_MAX_BYTES"] + 1)
        try:
            # Size, type, damage and the cell budget: refused at once, in milliseconds.
            data, rows = check_xlsx(
                data,
                max_bytes=config["BIMTEK_IMPORT_MAX_BYTES"],
                max_cells=config["BIMTEK_IMPORT_MAX_CELLS"],
            )
            if rows > config["BIMTEK_IMPORT_MAX_ROWS"]:  # the parse would stop there anyway
                raise too_many_rows(config["BIMTEK_IMPORT_MAX_ROWS"])
        except SpreadsheetError as exc:
            log.info("import upload by user %s refused: %s", current_user.id, exc)
            form.berkas.errors = [f"{upload.filename or 'Berkas'}: {exc}"]
            return _upload_page(form, 400)
        begin_write()
        importer.discard_stale(_upload_dir())
        try:
            stored = importer.store_workbook(_upload_dir(), data)
        except OSError as exc:
            if not is_storage_full(exc):
                raise
            db.session.rollback()
            log.error("import upload by user %s: storage full (%s)", current_user.id, exc)
            form.berkas.errors = [STORAGE_FULL_MESSAGE]
            status = 507
        else:
            record = importer.new_import_record(data, upload.filename, current_user, stored)
            db.session.commit()
            del data
            started = jobs.start(
                "import_parse",
                {"import_id": record.id},
                current_user,
                f"Membaca lembar peserta #{record.id} ({record.filename})",
                rows,
            )
            job = started.job
            if not started.inline:
                log.info("import %s uploaded by user %s: ~%d rows, parse job %s", record.id,
                         current_user.id, rows, job.id)  # fmt: skip
                return redirect(url_for("jobs.detail", job_id=job.id, ikuti=1), code=303)
            if job.status == "done":
                log.info("import %s uploaded by user %s: %s", record.id, current_user.id,
                         job.message)  # fmt: skip
                return redirect(url_for("accounts.import_detail", import_id=record.id))
            log.info("import upload %s by user %s refused: %s", record.id, current_user.id,
                     job.error)  # fmt: skip
            if job.error == STORAGE_FULL_MESSAGE:
                form.berkas.errors = [STORAGE_FULL_MESSAGE]
                status = 507
            else:
                form.berkas.errors = [job.error or "Berkas tidak dapat dibaca."]
                status = 400
    elif request.method == "POST":
        status = 400
    return _upload_page(form, status)


def _upload_page(form, status: int):
    recent = db.session.scalars(
        scope.visible(
            select(ParticipantImport)
            .where(ParticipantImport.status == "committed")
            .order_by(ParticipantImport.id.desc())
            .limit(10),
            ParticipantImport.office_id,
        )
    ).all()
    return render_template("accounts/import_upload.html", form=form, recent=recent), status


@bp.get("/admin/peserta/impor/<int:import_id>")
@role_required(Role.ADMIN)
def import_detail(import_id: int):
    record = scope.get_visible_or_404(ParticipantImport, import_id)
    if record.status == "committed":
        waiting = db.session.scalar(
            select(func.count()).select_from(importer.never_signed_in(record).subquery())
        )
        return render_template(
            "accounts/import_result.html", record=record, waiting=waiting, form=CredentialsForm()
        )
    record = _own_pending(import_id)
    if importer.parse_pending(record):
        reading = jobs.active_job("import_parse", {"import_id": record.id}, current_user)
        if reading is not None:  # still being read: its progress page
            return redirect(url_for("jobs.detail", job_id=reading.id, ikuti=1), code=303)
    try:
        preview = _checked(record)
    except SpreadsheetError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.import_upload"))
    return render_template(
        "accounts/import_preview.html",
        record=record,
        preview=preview,
        counts=preview.counts,
        limit=importer.PREVIEW_ROWS,
        form=ImportConfirmForm(),
    )


@bp.post("/admin/peserta/impor/<int:import_id>/konfirmasi")
@role_required(Role.ADMIN)
@writes_late
def import_confirm(import_id: int):
    record = _own_pending(import_id)
    if not ImportConfirmForm().validate_on_submit():
        abort(400)
    skip_invalid = request.form.get("mode") == "valid"
    try:
        preview = _checked(record)
    except SpreadsheetError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.import_upload"))
    if preview.counts["rejected"] and not skip_invalid:
        flash(
            f"{preview.counts['rejected']} baris ditolak, jadi tidak ada yang diimpor. Perbaiki "
            "lembar lalu unggah ulang, atau pilih “Impor hanya baris yang valid”.",
            "error",
        )
        return redirect(url_for("accounts.import_detail", import_id=record.id))
    # A few thousand rows are committed in this request; more by the worker (all or nothing
    # either way, see bimtek/accounts/jobs.py).
    started = jobs.start(
        "import_commit",
        {"import_id": record.id, "skip_invalid": skip_invalid},
        current_user,
        f"Impor peserta #{record.id} ({record.filename})",
        preview.importable,
    )
    job = started.job
    if not started.inline:
        if started.existing:
            flash("Impor ini sedang disimpan; ini halamannya.", "info")
        return redirect(url_for("jobs.detail", job_id=job.id), code=303)
    if job.status == "done":
        log.info("import %s committed by user %s: %s", import_id, current_user.id, job.message)
        flash(job.message, "success")
    else:
        flash(job.error or "Tidak ada yang diimpor.", "error")
    return redirect(url_for("accounts.import_detail", import_id=import_id))


@bp.post("/admin/peserta/impor/<int:import_id>/batal")
@role_required(Role.ADMIN)
def import_discard(import_id: int):
    record = _own_pending(import_id)
    if not ImportConfirmForm().validate_on_submit():
        abort(400)
    importer.drop_upload(_upload_dir(), record, "discarded")
    db.session.commit()
    flash("Impor dibatalkan; berkas unggahan sudah dihapus.", "info")
    return redirect(url_for("accounts.import_upload"))


@bp.post("/admin/peserta/impor/<int:import_id>/sandi-awal.xlsx")
@role_required(Role.ADMIN)
def import_credentials(import_id: int):
    record = scope.get_visible_or_404(ParticipantImport, import_id)
    if record.status != "committed":
        abort(404)
    scope.require_owner(record)  # new passwords: the importing office only
    form = CredentialsForm()
    if not form.validate_on_submit():
        if set(form.errors) != {"confirm"}:
            abort(400)
        flash(form.confirm.errors[0], "error")  # no password changed
        return redirect(url_for("accounts.import_detail", import_id=record.id))
    # Small imports: the sheet at once (the same job code, inline); large: a background job.
    return offer(
        "credentials",
        {"import_id": record.id},
        f"Lembar kata sandi awal — impor #{record.id}",
        account_jobs.pending_count(record),
        "Lembar kata sandi ini",
    )
