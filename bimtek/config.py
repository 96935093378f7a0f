"""Configuration: defaults, then instance/config.py, then BIMTEK_* environment."""

import os
from pathlib import Path

CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


# environment variable -> Flask config key
ENVIRONMENT_KEYS = {
    "BIMTEK_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "BIMTEK_SECRET_KEY": "SECRET_KEY",
    "BIMTEK_TIMEZONE": "BIMTEK_TIMEZONE",
    "BIMTEK_PUBLIC_URL": "BIMTEK_PUBLIC_URL",
    "BIMTEK_CONTENT_DIR": "BIMTEK_CONTENT_DIR",
    "BIMTEK_UPLOAD_DIR": "BIMTEK_UPLOAD_DIR",
    "BIMTEK_UPLOAD_MAX_BYTES": "BIMTEK_UPLOAD_MAX_BYTES",
    "BIMTEK_RATELIMIT_STORAGE_URL": "RATELIMIT_STORAGE_URI",
    "BIMTEK_DEMO": "BIMTEK_DEMO",
    "BIMTEK_OFFICE_NAME": "BIMTEK_OFFICE_NAME",
    "BIMTEK_CHECKIN_PERIOD": "BIMTEK_CHECKIN_PERIOD",
    "BIMTEK_CERT_NUMBER_TEMPLATE": "BIMTEK_CERT_NUMBER_TEMPLATE",
    "BIMTEK_CERT_SIGNER_NAME": "BIMTEK_CERT_SIGNER_NAME",
    "BIMTEK_CERT_SIGNER_TITLE": "BIMTEK_CERT_SIGNER_TITLE",
    "BIMTEK_CERT_SIGNER_NIP": "BIMTEK_CERT_SIGNER_NIP",
    "BIMTEK_OFFICE_ADDRESS": "BIMTEK_OFFICE_ADDRESS",
    "BIMTEK_CERT_PLACE": "BIMTEK_CERT_PLACE",
    "BIMTEK_KODE_KAB": "BIMTEK_KODE_KAB",
    "BIMTEK_VERIFY_LIMIT": "BIMTEK_VERIFY_LIMIT",
    "BIMTEK_EVALUATION_GRACE_HOURS": "BIMTEK_EVALUATION_GRACE_HOURS",
    "BIMTEK_QUEUE_URL": "BIMTEK_QUEUE_URL",
    "BIMTEK_QUEUE_NAME": "BIMTEK_QUEUE_NAME",
    "BIMTEK_JOB_RESULT_DAYS": "BIMTEK_JOB_RESULT_DAYS",
    "BIMTEK_JOB_INLINE_SCALE": "BIMTEK_JOB_INLINE_SCALE",
    "BIMTEK_JOB_ISSUE_CHUNK": "BIMTEK_JOB_ISSUE_CHUNK",
    "BIMTEK_IMPORT_MAX_SECONDS": "BIMTEK_IMPORT_MAX_SECONDS",
    "BIMTEK_IMPORT_JOB_MAX_SECONDS": "BIMTEK_IMPORT_JOB_MAX_SECONDS",
    "BIMTEK_REPORT_SUMS_MAX_AGE": "BIMTEK_REPORT_SUMS_MAX_AGE",
    "BIMTEK_REPORT_SUMS_LIVE_BELOW": "BIMTEK_REPORT_SUMS_LIVE_BELOW",
    "BIMTEK_BACKUP_DIR": "BIMTEK_BACKUP_DIR",
    "BIMTEK_BACKUP_EVERY": "BIMTEK_BACKUP_EVERY",
}
INTEGER_KEYS = {
    "BIMTEK_CHECKIN_PERIOD",
    "BIMTEK_UPLOAD_MAX_BYTES",
    "BIMTEK_EVALUATION_GRACE_HOURS",
    "BIMTEK_JOB_RESULT_DAYS",
    "BIMTEK_JOB_ISSUE_CHUNK",
    "BIMTEK_IMPORT_MAX_SECONDS",
    "BIMTEK_IMPORT_JOB_MAX_SECONDS",
    "BIMTEK_BACKUP_EVERY",
    "BIMTEK_REPORT_SUMS_MAX_AGE",
    "BIMTEK_REPORT_SUMS_LIVE_BELOW",
}


def defaults(instance_path: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + os.path.join(instance_path, "bimtek.db"),
        "SECRET_KEY": None,
        # Unset: the zone of the loaded kabupaten/kota's province (WIB/WITA/WIT). The office's
        # settings page overrides both; see bimtek/settings/service.py.
        "BIMTEK_TIMEZONE": None,
        "BIMTEK_PUBLIC_URL": "http://127.0.0.1:5000",
        "BIMTEK_CONTENT_DIR": str(CHECKOUT_ROOT),
        "BIMTEK_UPLOAD_DIR": os.path.join(instance_path, "uploads"),
        "BIMTEK_UPLOAD_MAX_BYTES": 25 * 1024 * 1024,  # per file; below MAX_CONTENT_LENGTH
        "BIMTEK_DEMO": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Failed sign-ins: per account+address, and a looser cap per address
        # because a whole venue often shares one address on the hall's Wi-Fi.
        "BIMTEK_LOGIN_LIMIT_ACCOUNT": "5 per minute; 20 per hour",
        "BIMTEK_LOGIN_LIMIT_ADDRESS": "60 per minute",
        # Refused QR sign-ins (/masuk/<token>: unknown, used or expired) per address.
        "BIMTEK_TOKEN_LIMIT": "10 per minute; 50 per hour",
        "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "SESSION_PROTECTION_LEVEL": "basic",
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        # Dashboards of more participants than this read sums the job worker refreshes when
        # older than MAX_AGE seconds (bimtek/reports/sums.py); smaller ones compute live.
        "BIMTEK_REPORT_SUMS_MAX_AGE": 300,
        "BIMTEK_REPORT_SUMS_LIVE_BELOW": 20_000,
        "BIMTEK_PAGE_SIZE": 50,
        # Office identity on the daftar hadir and certificates. These are only first defaults:
        # the admin's "Pengaturan" page (table office_setting) wins. Unset name: "KPU " + the
        # loaded kabupaten/kota's name, e.g. "KPU Kabupaten Luwu Utara".
        "BIMTEK_OFFICE_NAME": None,
        "BIMTEK_OFFICE_ADDRESS": "",
        # The check-in code changes every this many seconds (30–60); the previous code is
        # still accepted, so a participant typing it slowly has up to twice this long.
        "BIMTEK_CHECKIN_PERIOD": 45,
        # Refused check-ins (wrong or stale code) allowed per participant.
        "BIMTEK_CHECKIN_LIMIT": "10 per minute; 30 per hour",
        # Participant imports: the file as uploaded, and rows in its sheet.
        "BIMTEK_IMPORT_MAX_BYTES": 10 * 1024 * 1024,
        "BIMTEK_IMPORT_MAX_ROWS": 50_000,
        # ... and the work of reading it: a 600 KB file can hold a 2-million-cell sheet that
        # takes minutes to parse. Cells are counted before parsing; the clock runs while it reads.
        "BIMTEK_IMPORT_MAX_CELLS": 500_000,
        "BIMTEK_IMPORT_MAX_SECONDS": 60,
        # The same clock when the worker reads a large sheet (`import_parse`): no web worker
        # waits on it, and the cell budget above still bounds the work.
        "BIMTEK_IMPORT_JOB_MAX_SECONDS": 600,
        # Certificates. Number fields: {seq}, {kode_kab}, {tahun}, {bulan}, {bulan_romawi},
        # {kursus} (course id); the sequence runs per number template and year.
        "BIMTEK_CERT_NUMBER_TEMPLATE": "{seq:04d}/PP.04-SD/{kode_kab}/{tahun}",
        "BIMTEK_CERT_SIGNER_NAME": "",
        "BIMTEK_CERT_SIGNER_TITLE": "",  # empty: "Ketua " + the office name
        "BIMTEK_CERT_SIGNER_NIP": "",
        "BIMTEK_CERT_PLACE": "",  # empty: the kabupaten/kota's name
        "BIMTEK_KODE_KAB": "",  # empty: the code of the only kabupaten/kota loaded
        # The public verification page, per address (a whole hall may share one address).
        "BIMTEK_VERIFY_LIMIT": "60 per minute; 600 per hour",
        # Participants may fill in and change the session evaluation until this many hours
        # after the session ends (evening sessions: the next morning still counts).
        "BIMTEK_EVALUATION_GRACE_HOURS": 24,
        # Background jobs. Queue: unset = a SQLite file in the instance folder (one machine);
        # redis://… when several app nodes share one queue. Results are kept this many days.
        "BIMTEK_QUEUE_URL": "",
        "BIMTEK_QUEUE_NAME": "bimtek",  # keeps two installations on one Redis apart
        "BIMTEK_JOB_RESULT_DAYS": 7,
        # Small jobs (about 2 s of work) run inside the request; 0 sends every job to the worker.
        "BIMTEK_JOB_INLINE_SCALE": 1.0,
        # Bulk issue commits this many certificates at a time (a killed worker loses one chunk).
        "BIMTEK_JOB_ISSUE_CHUNK": 200,
        # Backups (`bimtek backup`, the admin page, the loop `make run` starts): the folder
        # (point it at a USB disk or a synced folder) and seconds between automatic backups.
        "BIMTEK_BACKUP_DIR": os.path.join(instance_path, "cadangan"),
        "BIMTEK_BACKUP_EVERY": 3600,
    }


def from_environment(environ=os.environ) -> dict:
    found = {}
    for env_key, config_key in ENVIRONMENT_KEYS.items():
        value = environ.get(env_key)
        if value:
            found[config_key] = value
    for key in INTEGER_KEYS & found.keys():
        found[key] = int(found[key])
    if "BIMTEK_JOB_INLINE_SCALE" in found:
        found["BIMTEK_JOB_INLINE_SCALE"] = float(found["BIMTEK_JOB_INLINE_SCALE"])
    if "BIMTEK_DEMO" in found:
        found["BIMTEK_DEMO"] = found["BIMTEK_DEMO"].lower() in {"1", "true", "yes"}
    return found


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
