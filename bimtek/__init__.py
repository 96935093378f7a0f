"""bimtek: training platform for Indonesia's election ad hoc bodies."""

import logging
import os
import shlex
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask

from bimtek import config as config_module
from bimtek.config import ConfigurationError  # noqa: F401  (part of the public API)
from bimtek.extensions import csrf, db, limiter, login_manager, migrate

log = logging.getLogger(__name__)

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app. No side effects: no migration, no content load, no disk writes."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        static_folder=str(config_module.CHECKOUT_ROOT / "static"),
    )
    app.config.from_mapping(config_module.defaults(app.instance_path))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.update(config_module.from_environment())
    else:
        app.config.update(test_config)

    app.config["SQLALCHEMY_DATABASE_URI"] = config_module.normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A server may drop idle connections; SQLite files cannot.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_pre_ping": True,
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        }
    if not app.config.get("SECRET_KEY"):
        if app.debug or app.testing or app.config.get("BIMTEK_DEMO"):
            app.config["SECRET_KEY"] = os.urandom(32).hex()
            log.warning("BIMTEK_SECRET_KEY not set; using a random key for this process")
        else:
            raise ConfigurationError(
                "BIMTEK_SECRET_KEY is not set. Set it to a long random string "
                '(python -c "import secrets; print(secrets.token_hex(32))").'
            )
    if app.config.get("BIMTEK_TIMEZONE"):
        ZoneInfo(app.config["BIMTEK_TIMEZONE"])  # fail early on a misspelt zone
    public_url = app.config["BIMTEK_PUBLIC_URL"].rstrip("/")
    app.config["BIMTEK_PUBLIC_URL"] = public_url
    if public_url.startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
        app.config["PREFERRED_URL_SCHEME"] = "https"

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    _check_only_declared_limits(app)
    _warn_if_sign_in_limits_are_not_shared(app)
    login_manager.init_app(app)

    from bimtek import assets, models, web  # noqa: F401  (models: every table registered)

    web.init_app(app)
    assets.init_app(app)

    from bimtek.accounts.views import bp as accounts_bp
    from bimtek.attendance.views import bp as attendance_bp
    from bimtek.backup.views import bp as backup_bp
    from bimtek.certificates.views import bp as certificates_bp
    from bimtek.evaluation.views import bp as evaluation_bp
    from bimtek.imbauan.views import bp as imbauan_bp
    from bimtek.jobs.views import bp as jobs_bp
    from bimtek.learning.views import bp as learning_bp
    from bimtek.offices.views import bp as offices_bp
    from bimtek.quiz.views import bp as quiz_bp
    from bimtek.reports.views import bp as reports_bp
    from bimtek.settings.views import bp as settings_bp
    from bimtek.wilayah.views import bp as wilayah_bp
    from bimtek.workspace.views import bp as workspace_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(attendance_bp)
    app.register_blueprint(backup_bp)
    app.register_blueprint(certificates_bp)
    app.register_blueprint(evaluation_bp)
    app.register_blueprint(imbauan_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(learning_bp)
    app.register_blueprint(offices_bp)
    app.register_blueprint(quiz_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(wilayah_bp)
    app.register_blueprint(workspace_bp)

    from bimtek.cli import register_commands

    register_commands(app)
    return app


def _gunicorn_workers() -> int | None:
    """How many workers the gunicorn serving this process runs; None when not under gunicorn."""
    if not os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        return None
    if os.environ.get("BIMTEK_SERVER_WORKERS"):  # set by bimtek/gunicorn_conf.py's on_starting
        return int(os.environ["BIMTEK_SERVER_WORKERS"])
    try:  # started without bimtek's settings: read the flags as gunicorn does
        from gunicorn.config import Config

        flags = shlex.split(os.environ.get("GUNICORN_CMD_ARGS", "")) + sys.argv[1:]
        workers = Config().parser().parse_known_args(flags)[0].workers
        return workers or int(os.environ.get("WEB_CONCURRENCY") or 1)
    except (Exception, SystemExit):  # unreadable flags: say we do not know
        return 0


def _check_only_declared_limits(app: Flask) -> None:
    """Flask-Limiter checks limits in two places: a before_request pass for the application,
    default and blueprint limits, and the wrapper of each @limiter.limit view for its own.
    bimtek declares limits on views alone, so the pass resolved nothing on every request
    (about 7 % of an answer save's time in the app). It still runs whenever a limit it
    checks exists (RATELIMIT_APPLICATION, RATELIMIT_DEFAULT, a blueprint's limit, a meta
    limit), or when Flask-Limiter's internals are not the ones read here."""
    funcs = app.before_request_funcs.get(None, [])
    check = limiter._check_request_limit
    if check not in funcs:
        return

    def check_limits_beyond_views():
        manager = limiter.limit_manager
        if (
            manager.application_limits
            or manager.default_limits
            or getattr(manager, "_blueprint_limits", True)
            or getattr(manager, "_endpoint_hints", True)
            or getattr(limiter, "_meta_limits", True)
        ):
            return check()
        return None

    funcs[funcs.index(check)] = check_limits_beyond_views


def _warn_if_sign_in_limits_are_not_shared(app: Flask) -> None:
    from bimtek.gunicorn_conf import is_shared

    storage = str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    workers = _gunicorn_workers()
    if is_shared(storage) or workers is None or workers == 1:
        return
    log.warning(
        "Sign-in limits are counted in %s inside each gunicorn worker, but gunicorn runs %s "
        "workers: the limits do not hold. Serve with one worker (make serve does when "
        "BIMTEK_RATELIMIT_STORAGE_URL is not set) or set BIMTEK_RATELIMIT_STORAGE_URL to a "
        "shared store such as redis://127.0.0.1:6379/0.",
        storage,
        workers or "an unknown number of",
    )
