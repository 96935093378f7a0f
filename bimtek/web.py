"""App-wide web plumbing: security headers, error pages, template helpers, guards."""

import io
import json
import logging
import re
from functools import wraps
from urllib.parse import unquote_to_bytes, urlsplit

from flask import (
    Flask,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.routing import IntegerConverter, ValidationError

from bimtek import timeutil
from bimtek.extensions import db, login_manager
from bimtek.storage import STORAGE_FULL_MESSAGE, STORAGE_FULL_TITLE, is_storage_full

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# Every id is an INTEGER column (32-bit on PostgreSQL): no row has a larger one. A bigger number
# sent to the database fails there (PostgreSQL: out of range; SQLite: OverflowError) as a 500.
MAX_ID = 2**31 - 1
_DB_INT = re.compile(r"[+-]?[0-9]{1,10}", flags=re.ASCII)

BAD_INPUT_TITLE = "Permintaan tidak sah"
BAD_INPUT_MESSAGE = "Data yang dikirim tidak dapat diproses."
BAD_CHARACTERS_MESSAGE = (
    "Data yang dikirim berisi karakter yang tidak sah (karakter kosong atau teks yang bukan "
    "UTF-8). Periksa isian lalu kirim lagi."
)


def db_int(value) -> int:
    """An integer that fits the database's id and count columns, else ValueError.

    Use as `type=` of request.args.get / request.form.get (a bad value gives the default) and
    as `coerce=` of WTForms choice fields (a bad value is a form error)."""
    if isinstance(value, bool):
        raise ValueError("not an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DB_INT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise ValueError("not an integer")
    if not -MAX_ID - 1 <= number <= MAX_ID:
        raise ValueError("integer out of range")
    return number


class IdConverter(IntegerConverter):
    """The app's `<int:…>`: an id no row can have is a 404 before the view runs."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str):
        if len(value) > 10:  # also spares int() a million digits
            raise ValidationError()
        return super().to_python(value)


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


def _password_change_first():
    """The redirect to the password change a user who must change it gets, or None."""
    if current_user.is_authenticated and current_user.must_change_password:
        # Keep where they were going (e.g. the check-in a QR code opened) for afterwards.
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        if target == "/" or not is_safe_next(target):
            target = None
        return redirect(url_for("accounts.change_password", next=target))
    return None


def checks_own_sign_in(view):
    """Mark a hot path (a quiz answer saved as it is chosen: 20 per participant, a hall at
    once) that does not load the signed-in user: its one query matches the session's token
    (session_token()) against an active account that needs no password change, alongside
    the row it reads. Only when that finds nothing does the view call sign_in_refusal(), which
    loads the user and answers as @login_required and the password-change redirect would."""
    view.checks_own_sign_in = True
    return view


def session_token() -> str | None:
    """The session token the session cookie carries (Flask-Login's user id is the account's
    User.session_token), not yet checked against the database."""
    value = session.get("_user_id")
    return value if isinstance(value, str) else None


# Which account a session token belongs to, as this process has seen it (the user loader
# notes it). A token is made for one account and never given to another, so what is kept here
# is never wrong; whether the token still signs in is decided by the query that uses it, never
# here. For what needs the account's id before the view runs and must not load the account for
# it: the check-in's rate-limit key.
_TOKEN_ACCOUNTS: dict[str, int] = {}
_TOKEN_ACCOUNTS_MAX = 100_000


def note_token_account(token: str, user_id: int) -> None:
    if len(_TOKEN_ACCOUNTS) >= _TOKEN_ACCOUNTS_MAX:
        _TOKEN_ACCOUNTS.clear()
    _TOKEN_ACCOUNTS[token] = user_id


def token_account_id() -> int | None:
    """The id of the account the request's session token was made for, if this process has
    seen it; not a sign-in check."""
    token = session_token()
    return _TOKEN_ACCOUNTS.get(token) if token else None


def sign_in_refusal():
    """In a @checks_own_sign_in view: what @login_required and the password-change redirect
    would answer for this request, or None when the signed-in user may go on."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return _password_change_first()


def checks_own_input(view):
    """Mark a view that answers malformed input itself (see refused_input) instead of being
    refused before it runs: the sign-in, whose rate limits are counted around the view."""
    view.checks_own_input = True
    return view


def refused_input() -> str | None:
    """In a @checks_own_input view: why this request's input is malformed, or None."""
    return g.get("malformed_input")


def _has_nul(values) -> bool:
    return any("\x00" in value for value in values if isinstance(value, str))


def _may_hold_nul(raw: bytes) -> bool:
    """Whether a query string or urlencoded body can decode to a NUL anywhere (a whole page of
    answers need not be scanned field by field when it cannot)."""
    return b"%00" in raw or b"\x00" in raw


def _valid_utf8(raw: bytes) -> bool:
    """A query string or urlencoded body whose escapes decode as UTF-8. Werkzeug would replace
    bad bytes with U+FFFD silently; a pasted U+FFFD (valid UTF-8) still passes."""
    if b"%" not in raw and raw.isascii():
        return True
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json_shape_ok(payload) -> bool:
    """What any JSON endpoint here takes: an object of scalars or flat lists of scalars,
    no NUL in any string."""
    scalars = (str, int, float, bool, type(None))
    if not isinstance(payload, dict):
        return False
    for key, value in payload.items():
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, scalars) for item in items):
            return False
        if _has_nul([key, *items]):
            return False
    return True


def malformed_input() -> str | None:
    """Why this request's input cannot be processed, or None. Checked before any view: a NUL
    byte is refused by PostgreSQL (a 500 on every text field), bytes that are not UTF-8 turn
    into replacement characters, and flask-wtf reads any JSON body as the form's data."""
    environ = request.environ
    try:
        environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return BAD_CHARACTERS_MESSAGE
    if "\x00" in request.path or not _valid_utf8(request.query_string):
        return BAD_CHARACTERS_MESSAGE
    if _has_nul(request.view_args.values() if request.view_args else ()):
        return BAD_CHARACTERS_MESSAGE
    if _may_hold_nul(request.query_string):
        for key, values in request.args.lists():
            if _has_nul([key, *values]):
                return BAD_CHARACTERS_MESSAGE
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if request.is_json:
        try:
            payload = json.loads(request.get_data(cache=True))
        except (ValueError, RecursionError):
            return BAD_INPUT_MESSAGE
        return None if _json_shape_ok(payload) else BAD_INPUT_MESSAGE
    if request.mimetype == "application/x-www-form-urlencoded":
        raw = request.get_data(cache=True)
        if not _valid_utf8(raw):
            return BAD_CHARACTERS_MESSAGE
        if not _may_hold_nul(raw):
            return None  # the form is these bytes: no field can hold a NUL
    for key, values in request.form.lists():
        if _has_nul([key, *values]):
            return BAD_CHARACTERS_MESSAGE
    return None


def _database_unreachable(exc: BaseException | None) -> bool:
    """The database could not be reached (down, refused, file gone), not a bug of ours."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def init_app(app: Flask) -> None:
    # Before any blueprint adds its rules: every <int:…> in the app is bounded.
    app.url_map.converters["int"] = IdConverter

    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Silakan masuk terlebih dahulu."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    # The user loader is the accounts feature's (registered with its blueprint).

    def keep_raw_form_body():
        # Before CSRFProtect parses the form: a parsed body can no longer be read raw, and
        # only the raw bytes tell invalid UTF-8 from a real U+FFFD.
        if request.mimetype == "application/x-www-form-urlencoded":
            request.get_data(cache=True)

    app.before_request_funcs.setdefault(None, []).insert(0, keep_raw_form_body)

    @app.before_request
    def refuse_malformed_input():
        problem = malformed_input()
        if not problem:
            return None
        log.info("refused malformed input on %s %s", request.method, request.path)
        view = current_app.view_functions.get(request.endpoint or "")
        if getattr(view, "checks_own_input", False):
            g.malformed_input = problem
            return None
        return error_page(400, BAD_INPUT_TITLE, problem)

    @app.before_request
    def force_password_change():
        if request.endpoint in _ALLOWED_BEFORE_PASSWORD_CHANGE:
            return None  # checked first: /healthz must answer without loading the user
        view = current_app.view_functions.get(request.endpoint or "")
        if getattr(view, "checks_own_sign_in", False):
            return None  # its own query does, see checks_own_sign_in
        return _password_change_first()

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
        if current_app.config.get("SESSION_COOKIE_SECURE"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        # The session cookie says who is signed in without asking the database: this also
        # runs on the error page of a request whose database is gone.
        if session.get("_user_id") and request.endpoint != "static":
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

    def plain_error_page(status: int, title: str, message: str):
        """Rendered without context processors (no current_user, no office settings): the
        database may be what failed, and a rollback has expired the signed-in user."""
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=message), status
        template = current_app.jinja_env.get_template("error_plain.html")
        return template.render(status=status, title=title, message=message), status

    @app.errorhandler(500)
    def server_error(error):
        try:
            db.session.rollback()
        except Exception:  # the connection may be gone with the database; answer anyway
            log.warning("rollback after an error failed", exc_info=True)
        if is_storage_full(getattr(error, "original_exception", None)):
            log.error("storage full on %s %s", request.method, request.path)
            return plain_error_page(507, STORAGE_FULL_TITLE, STORAGE_FULL_MESSAGE)
        if _database_unreachable(getattr(error, "original_exception", None)):
            body, status = plain_error_page(
                503,
                "Layanan sedang tidak tersedia",
                "Basis data tidak dapat dihubungi saat ini. Data yang sudah tersimpan tidak "
                "hilang; coba lagi dalam beberapa saat.",
            )
            return body, status, {"Retry-After": "30"}
        return plain_error_page(
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

    # waktu/tanggal (the office's zone) come with the settings feature; nest_toc and
    # with_sources_section with the learning feature.
    app.jinja_env.filters["iso"] = timeutil.iso
    app.jinja_env.filters["angka"] = timeutil.angka
    app.jinja_env.filters["persen"] = timeutil.persen
    app.jinja_env.globals["public_url"] = public_url
