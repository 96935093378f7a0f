"""Sign-in, sign-out, password change, and the admin's participant pages."""

import hashlib
import logging

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
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from bimtek.accounts import service
from bimtek.accounts.forms import ChangePasswordForm, LoginForm, ParticipantForm
from bimtek.accounts.models import User
from bimtek.extensions import db, limiter
from bimtek.web import is_safe_next, role_required
from bimtek.wilayah.models import Desa, Kecamatan

log = logging.getLogger(__name__)
bp = Blueprint("accounts", __name__)


def _login_key() -> str:
    """Address + account; the account is hashed so no NIK lands in the limiter's storage."""
    login = (request.form.get("username") or "").strip().lower()[:64]
    digest = hashlib.sha256(login.encode("utf-8")).hexdigest()[:20]
    return f"{request.remote_addr}|{digest}"


def _login_failed(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["BIMTEK_LOGIN_LIMIT_ACCOUNT"],
    key_func=_login_key,
    methods=["POST"],
    deduct_when=_login_failed,
    scope="login-account",
)
@limiter.limit(
    lambda: current_app.config["BIMTEK_LOGIN_LIMIT_ADDRESS"],
    methods=["POST"],
    deduct_when=_login_failed,
    scope="login-address",
)
def login():
    next_url = request.values.get("next")
    if current_user.is_authenticated:
        return redirect(next_url if is_safe_next(next_url) else url_for("learning.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(form.username.data, form.password.data)
        if user is None:
            log.info("failed sign-in from %s", request.remote_addr)
            flash("NIK/nama pengguna atau kata sandi salah.", "error")
            return render_template("accounts/login.html", form=form, next=next_url), 401
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


def _wilayah_choices(form: ParticipantForm) -> list[Kecamatan]:
    kecamatan = db.session.scalars(select(Kecamatan).order_by(Kecamatan.nama)).all()
    form.kecamatan_kode.choices = [("", "— pilih —")] + [
        (k.kode, f"{k.nama} ({k.kode})") for k in kecamatan
    ]
    form.desa_kode.choices = [("", "— tidak ada —")] + [
        (d.kode, f"{d.label} — Kec. {d.kecamatan.nama}")
        for d in db.session.scalars(
            select(Desa)
            .options(joinedload(Desa.kecamatan))
            .order_by(Desa.kecamatan_kode, Desa.nama)
        )
    ]
    return kecamatan


@bp.get("/admin/peserta")
@role_required("admin")
def participants():
    query = (request.args.get("q") or "").strip()
    page = max(request.args.get("halaman", 1, type=int), 1)
    size = current_app.config["BIMTEK_PAGE_SIZE"]
    stmt = select(User).where(User.role == "peserta")
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(or_(func.lower(User.nama).like(like), User.nik == query))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    users = db.session.scalars(stmt.order_by(User.nama).offset((page - 1) * size).limit(size)).all()
    return render_template(
        "accounts/participants.html",
        users=users,
        q=query,
        page=page,
        pages=max((total + size - 1) // size, 1),
        total=total,
    )


@bp.route("/admin/peserta/baru", methods=["GET", "POST"])
@role_required("admin")
def participant_new():
    form = ParticipantForm()
    kecamatan = _wilayah_choices(form)
    if not kecamatan:
        flash("Belum ada data wilayah. Muat dulu dengan 'bimtek wilayah import'.", "error")
    if form.validate_on_submit():
        user, initial_password = service.create_participant(form.data_object(), current_user)
        db.session.commit()
        return render_template(
            "accounts/participant_created.html", user=user, initial_password=initial_password
        )
    if request.method == "POST":
        flash("Periksa kembali isian yang ditandai.", "error")
    return render_template("accounts/participant_form.html", form=form), (
        400 if request.method == "POST" else 200
    )


@bp.get("/admin/peserta/<int:user_id>")
@role_required("admin")
def participant_detail(user_id: int):
    user = db.get_or_404(User, user_id)
    if user.role != "peserta":
        abort(404)
    return render_template("accounts/participant_detail.html", user=user)
