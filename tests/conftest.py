"""Fixtures: every database test runs on SQLite and on a real PostgreSQL."""

import os
import re
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from bimtek import MIGRATIONS_DIR, create_app
from bimtek.extensions import db
from tests.pg import PostgresProvider

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

_postgres: PostgresProvider | None = None
_migrated: dict[str, str] = {}


def _postgres_provider() -> PostgresProvider:
    global _postgres
    if _postgres is None:
        _postgres = PostgresProvider()
    return _postgres


def pytest_sessionfinish(session, exitstatus):
    if _postgres is not None:
        _postgres.close()


def pytest_report_header(config):
    return "databases: sqlite + postgresql (BIMTEK_REQUIRE_POSTGRES=1 makes a missing server fail)"


def base_config(url: str, **extra) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "BIMTEK_CONTENT_DIR": str(ROOT),
        "BIMTEK_PUBLIC_URL": "http://bimtek.example.test",
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    config.update(extra)
    return config


def _migrated_url(backend: str, tmp_path_factory) -> str:
    """One database per backend per run, built by the real migrations."""
    if backend in _migrated:
        return _migrated[backend]
    if backend == "sqlite":
        url = "sqlite:///" + str(tmp_path_factory.mktemp("sqlite") / "bimtek.db")
    else:
        provider = _postgres_provider()
        if not provider.available:
            if os.environ.get("BIMTEK_REQUIRE_POSTGRES") == "1":
                pytest.fail(f"PostgreSQL required but unavailable: {provider.reason}")
            pytest.skip(f"PostgreSQL half skipped: {provider.reason}")
        url = provider.create_database()
    app = create_app(base_config(url))
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        db.engine.dispose()
    _migrated[backend] = url
    return url


def _empty_all_tables(app) -> None:
    with app.app_context():
        db.session.remove()
        tables = list(reversed(db.metadata.sorted_tables))
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(table.delete())
        db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory) -> str:
    return _migrated_url(request.param, tmp_path_factory)


@pytest.fixture
def sqlite_url(tmp_path_factory) -> str:
    return _migrated_url("sqlite", tmp_path_factory)


@pytest.fixture
def app_config() -> dict:
    """Override per test (e.g. a content dir) by redefining this fixture or mutating it."""
    return {}


@pytest.fixture
def app(db_url, app_config):
    app = create_app(base_config(db_url, **app_config))
    _empty_all_tables(app)
    yield app
    _empty_all_tables(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(client, path: str = "/login") -> str:
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no csrf_token on {path}"
    return match.group(1)


@pytest.fixture
def post_form():
    """POST a form the way a browser does: fetch the page, take its CSRF token, submit."""

    def post(client, path, data, form_page=None, **kwargs):
        token = csrf_token(client, form_page or path)
        return client.post(path, data={"csrf_token": token, **data}, **kwargs)

    return post


@pytest.fixture
def wilayah(app):
    """Kab. Luwu Utara from the shipped demo file."""
    from bimtek.demo import DEMO_WILAYAH
    from bimtek.wilayah.service import import_wilayah, read_wilayah_csv

    with app.app_context():
        rows, errors = read_wilayah_csv(DEMO_WILAYAH)
        assert not errors
        import_wilayah(rows)
        db.session.commit()


@pytest.fixture
def content(app):
    from bimtek.content.service import sync_content

    with app.app_context():
        report = sync_content(app.config["BIMTEK_CONTENT_DIR"])
        assert report.ok, report.errors
        db.session.commit()


@pytest.fixture
def make_staff(app):
    from bimtek.accounts.service import create_staff

    def make(role="admin", username="admin1", password="rahasia-admin-1", nama=None):
        with app.app_context():
            user = create_staff(role, username, nama or username.title(), password)
            db.session.commit()
            return user.id

    return make


@pytest.fixture
def make_peserta(app, wilayah):
    from bimtek.accounts.service import ParticipantData, create_participant

    counter = iter(range(1, 10_000))

    def make(
        nama="Sitti Aminah",
        nik=None,
        badan="PPS",
        jabatan="Anggota",
        kecamatan="73.22.01",
        desa="73.22.01.2001",
        password="awal-rahasia-1",
        must_change=False,
    ):
        nik = nik or f"7322014107{next(counter):06d}"
        with app.app_context():
            data = ParticipantData(nama, nik, badan, jabatan, kecamatan, desa)
            user, _ = create_participant(data, None, password)
            user.must_change_password = must_change
            db.session.commit()
            return user.id

    return make


class Auth:
    def __init__(self, client, post_form):
        self.client = client
        self.post_form = post_form

    def login(self, login, password, **kwargs):
        return self.post_form(
            self.client, "/login", {"username": login, "password": password}, **kwargs
        )

    def logout(self):
        return self.post_form(self.client, "/logout", {}, form_page="/")


@pytest.fixture
def auth(client, post_form):
    return Auth(client, post_form)


@pytest.fixture
def at_once():
    """Run callables in threads released together (a double tap, a burst); return their results
    in order and re-raise the first error."""

    def run(*calls):
        barrier = threading.Barrier(len(calls))
        results: list = [None] * len(calls)
        errors: list[BaseException] = []

        def worker(index, call):
            barrier.wait()
            try:
                results[index] = call()
            except BaseException as exc:  # reported to the test below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results

    return run


def twin(app, client):
    """Another client on the same signed-in session (the same phone, a second request)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other
