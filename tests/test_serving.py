"""Sign-in limits hold under the real server: gunicorn started as `make serve` starts it."""

import http.cookiejar
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from flask_migrate import upgrade

from bimtek import MIGRATIONS_DIR, create_app
from bimtek.accounts.service import create_staff
from bimtek.extensions import db
from bimtek.gunicorn_conf import worker_settings
from tests.conftest import base_config

ROOT = Path(__file__).resolve().parent.parent
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _serve_args() -> list[str]:
    """The gunicorn flags `make serve` passes (read from the Makefile, so the two agree)."""
    makefile = (ROOT / "Makefile").read_text()
    args = re.search(r"^GUNICORN_ARGS\s*=\s*(.+)$", makefile, re.M).group(1).split()
    assert "$(GUNICORN_ARGS)" in makefile.split("\nserve:", 1)[1].split("\n\n", 1)[0]
    return args


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_serve_uses_one_worker_unless_counters_are_shared():
    assert worker_settings({}) == (1, 8)
    assert worker_settings({"BIMTEK_RATELIMIT_STORAGE_URL": "memory://"}) == (1, 8)
    assert worker_settings({"BIMTEK_RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/0"}) == (2, 4)
    shared = {"BIMTEK_RATELIMIT_STORAGE_URL": "redis://x", "WEB_CONCURRENCY": "5"}
    assert worker_settings(shared) == (5, 4)


def test_app_warns_when_memory_counters_meet_several_workers(monkeypatch, caplog, sqlite_url):
    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/23.0.0")
    monkeypatch.setenv("BIMTEK_SERVER_WORKERS", "3")
    with caplog.at_level(logging.WARNING, logger="bimtek"):
        create_app(base_config(sqlite_url))
    assert "3 workers: the limits do not hold" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bimtek"):
        create_app(base_config(sqlite_url, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0"))
        monkeypatch.setenv("BIMTEK_SERVER_WORKERS", "1")
        create_app(base_config(sqlite_url))
    assert "do not hold" not in caplog.text


@pytest.fixture
def served(tmp_path):
    """gunicorn on a free port over a fresh SQLite file with one admin; yields the base URL."""
    url = "sqlite:///" + str(tmp_path / "serve.db")
    app = create_app(base_config(url))
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        create_staff("admin", "operator", "Operator", "rahasia-operator-1")
        db.session.commit()
        db.engine.dispose()
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BIMTEK_", "GUNICORN_"))},
        "BIMTEK_DATABASE_URL": url,
        "BIMTEK_SECRET_KEY": "test-secret-serving",
        "BIMTEK_CONTENT_DIR": str(ROOT),
    }
    gunicorn = [sys.executable, "-m", "gunicorn", *_serve_args()]
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*gunicorn, "--bind", f"127.0.0.1:{port}", "bimtek:create_app()"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()  # noqa: S310
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start:\n" + log.read_text())
                time.sleep(0.1)
        yield base, log
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def login(self, username: str, password: str) -> int:
        page = self.opener.open(self.base + "/login", timeout=5).read().decode()
        token = CSRF_RE.search(page).group(1)
        data = urllib.parse.urlencode(
            {"csrf_token": token, "username": username, "password": password}
        ).encode()
        try:
            return self.opener.open(self.base + "/login", data=data, timeout=5).status
        except urllib.error.HTTPError as exc:
            return exc.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_twenty_wrong_passwords_lock_the_account_for_every_request(served):
    base, log = served
    started = time.monotonic()
    # Fresh clients, as a guesser would: every request may land on any worker or thread.
    statuses = [Browser(base).login("operator", "salah-sandi") for _ in range(20)]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 15, statuses  # consistently, never a 401 in between
    assert Browser(base).login("operator", "rahasia-operator-1") == 429  # locked means locked
    assert time.monotonic() - started < 15
    assert "Booting worker" in log.read_text()
    assert log.read_text().count("Booting worker") == 1  # memory://: one worker, with threads
    assert "do not hold" not in log.read_text()
