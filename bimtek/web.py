"""App-wide web plumbing: security headers, error pages, template helpers, guards."""

import io
import logging
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import bindparam, select, text

from bimtek import timeutil
from bimtek.content.render import nest_toc
from bimtek.extensions import db, login_manager
from bimtek.storage import STORAGE_FULL_MESSAGE, STORAGE_FULL_TITLE, is_storage_full

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# Endpoints a user who must change the password may still reach.
_ALLOWED_BEFORE_PASSWORD_CHANGE = {
    "accounts.change_password",
    "accounts.logout",
    "static",
    "healthz",
}


def public_url(endpoint: str, **values) -> str:
    """An absolute link built from BIMTEK_PUBLIC_URL, never from the Host header."""
    return current_app.config["BIMTEK_PUBLIC_URL"] + url_for(endpoint, **values)


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths: no scheme, no host, no '//' or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def no_store(response):
    """Keep a response out of every cache (browser, proxy, shared office computer's disk)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"  # HTTP/1.0 proxies
    return response


def attachment(data, filename: str, mimetype: str, *, inline: bool = False):
    """A download that is never cached: nearly every file bimtek hands out names people (rekap,
    certificates, daftar hadir, passwords, exports), and send_file's own "no-cache" still lets
    a browser keep a copy on disk. `data` is bytes or an open binary file (closed when sent).

    Flask writes Content-Disposition with an ASCII fallback and an RFC 5987 UTF-8 name, so a
    name like "Ṣāliḥ" does not break the latin-1 header line."""
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    response = send_file(
        source, mimetype=mimetype, as_attachment=not inline, download_name=filename
    )
    return no_store(response)


def role_required(*roles: str):
    """Signed in and one of `roles`, else 403 (or the sign-in page when signed out)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def init_app(app: Flask) -> None:
    from bimtek.accounts.models import User

    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Silakan masuk terlebih dahulu."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    # Built once: this runs on every signed-in request.
    user_by_token = select(User).where(
        User.session_token == bindparam("token"), User.active.is_(True)
    )

    @login_manager.user_loader
    def load_user(token: str):
        return db.session.scalars(user_by_token, {"token": token}).one_or_none()

    @app.before_request
    def force_password_change():
        if (
            current_user.is_authenticated
            and current_user.must_change_password
            and request.endpoint not in _ALLOWED_BEFORE_PASSWORD_CHANGE
        ):
            # Keep where they were going (e.g. the check-in a QR code opened) for afterwards.
            target = request.full_path.rstrip("?") if request.method == "GET" else None
            if target == "/" or not is_safe_next(target):
                target = None
            return redirect(url_for("accounts.change_password", next=target))
        return None

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
        if current_app.config.get("SESSION_COOKIE_SECURE"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if current_user.is_authenticated and request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response

    def error_page(status: int, title: str, message: str):
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=message), status
        return render_template("error.html", status=status, title=title, message=message), status

    @app.errorhandler(400)
    def bad_request(_error):
        return error_page(400, "Permintaan tidak sah", "Data yang dikirim tidak dapat diproses.")

    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return error_page(
            400,
            "Formulir kedaluwarsa",
            "Formulir ini sudah kedaluwarsa atau tidak sah. Muat ulang halaman lalu kirim lagi.",
        )

    @app.errorhandler(403)
    def forbidden(_error):
        return error_page(403, "Akses ditolak", "Anda tidak memiliki akses ke halaman ini.")

    @app.errorhandler(404)
    def not_found(_error):
        return error_page(404, "Tidak ditemukan", "Halaman yang Anda cari tidak ada.")

    @app.errorhandler(413)
    def too_large(_error):
        limit_mb = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return error_page(
            413, "Berkas terlalu besar", f"Ukuran kiriman melebihi batas {limit_mb} MB."
        )

    @app.errorhandler(429)
    def too_many(error):
        return error_page(
            429,
            "Terlalu banyak percobaan",
            "Terlalu banyak percobaan masuk yang gagal. Tunggu sebentar (sekitar satu menit) "
            "lalu coba lagi, atau minta bantuan admin KPU untuk mengatur ulang kata sandi.",
        )

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        if is_storage_full(getattr(error, "original_exception", None)):
            log.error("storage full on %s %s", request.method, request.path)
            return error_page(507, STORAGE_FULL_TITLE, STORAGE_FULL_MESSAGE)
        return error_page(
            500,
            "Terjadi kesalahan",
            "Terjadi kesalahan di server. Data yang sudah tersimpan tidak hilang; coba lagi.",
        )

    @app.get("/healthz")
    def healthz():
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:  # the probe reports any database failure as unhealthy
            log.exception("healthz: database check failed")
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok", database="ok")

    from bimtek.settings.service import office_zone

    # The zone is the office's (its settings page may change it): read per request.
    app.jinja_env.filters["waktu"] = lambda value, fmt="d MMMM y, HH.mm": timeutil.waktu(
        value, office_zone(), fmt
    )
    app.jinja_env.filters["tanggal"] = lambda value: timeutil.tanggal(value, office_zone())
    app.jinja_env.filters["angka"] = timeutil.angka
    app.jinja_env.filters["persen"] = timeutil.persen
    app.jinja_env.globals["public_url"] = public_url
    app.jinja_env.filters["nest_toc"] = nest_toc
