"""Fixtures: every database test runs on SQLite and on a real PostgreSQL.

Speed: each backend builds a few seeded databases once per run (migrated; + wilayah; + content;
+ the demo) and every test gets its own copy of the one its fixtures ask for — a file copy on
SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL — instead of emptying tables and seeding
again per test. Test accounts hash passwords with one PBKDF2 round (configuration, tests only).
"""

import os
import re
import shutil
import sqlite3
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from flask_migrate import upgrade
from jinja2 import BytecodeCache
from psycopg import sql
from sqlalchemy import select, text

from bimtek import MIGRATIONS_DIR, create_app
from bimtek.extensions import db
from bimtek.timeutil import utcnow
from tests.pg import PostgresProvider

pytest.register_assert_rewrite("tests.office_access")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
# Public payload lists (see tests/data/security-corpus/SOURCES.md for origins and licences).
CORPUS = DATA / "security-corpus"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

# Seeded states, each built once per backend per run. A test gets the richest one its fixtures
# ask for; the `wilayah`, `content` and `demo` fixtures then find their data already there.
SEEDS = {
    "migrated": (),
    "wilayah": ("wilayah",),
    "content": ("content",),
    "wilayah+content": ("wilayah", "content"),
    "demo": ("wilayah", "content", "demo"),
}
# Each state is built on the one before it (content is synced twice per backend, not three times).
BUILT_ON = {"wilayah": "migrated", "content": "migrated", "wilayah+content": "wilayah",
            "demo": "wilayah+content"}  # fmt: skip


def _steps(seed: str) -> tuple[str, ...]:
    """What building `seed` adds to the state it is built on."""
    done = SEEDS[BUILT_ON[seed]]
    return tuple(step for step in SEEDS[seed] if step not in done)


def base_config(url: str, **extra) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "BIMTEK_CONTENT_DIR": str(ROOT),
        "BIMTEK_PUBLIC_URL": "http://bimtek.example.test",
        "RATELIMIT_STORAGE_URI": "memory://",
        # Flask-Limiter keeps `enabled` on its one shared object when the key is absent: an
        # app made with it off (the access tests) would switch limits off for later tests.
        "RATELIMIT_ENABLED": True,
        # scrypt costs ~150 ms per account; tests create thousands. Never the app's default.
        "BIMTEK_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
    }
    config.update(extra)
    return config


def _seed(url: str, steps: tuple[str, ...]) -> None:
    from bimtek.content.service import sync_content
    from bimtek.demo import DEMO_WILAYAH, seed_demo
    from bimtek.wilayah.service import import_wilayah, read_wilayah_csv

    app = create_app(base_config(url))
    with app.app_context():
        if not steps:
            upgrade(directory=MIGRATIONS_DIR)
        if "wilayah" in steps:
            rows, errors = read_wilayah_csv(DEMO_WILAYAH)
            assert not errors
            import_wilayah(rows)
        if "content" in steps:
            report = sync_content(ROOT)
            assert report.ok, report.errors
        if "demo" in steps:
            seed_demo()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


class SqliteStore:
    """Seeded files; a test's database is a copy of one."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.snapshots: dict[str, Path] = {}

    def _url(self, path: Path) -> str:
        return f"sqlite:///{path}"

    def snapshot(self, seed: str) -> Path:
        if seed not in self.snapshots:
            work = self.directory / f"building-{seed}.db"
            if seed == "migrated":
                _seed(self._url(work), ())
            else:
                shutil.copyfile(self.snapshot(BUILT_ON[seed]), work)
                _seed(self._url(work), _steps(seed))
            final = self.directory / f"seed-{seed.replace('+', '-')}.db"
            # The backup API writes one self-contained file (nothing left in a -wal).
            with sqlite3.connect(work) as source, sqlite3.connect(final) as target:
                source.backup(target)
            self.snapshots[seed] = final
        return self.snapshots[seed]

    def empty(self) -> tuple[str, object]:
        path = self.directory / f"empty-{uuid.uuid4().hex[:10]}.db"
        return self._url(path), lambda: path.unlink(missing_ok=True)

    def checkout(self, seed: str) -> tuple[str, object]:
        path = self.directory / f"test-{uuid.uuid4().hex[:10]}.db"
        shutil.copyfile(self.snapshot(seed), path)

        def release():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return self._url(path), release


class PostgresStore:
    """One working database per test process. Each seeded state is kept as copies of its tables
    in a schema of that database (seed_demo.user, …); a test starts from one by DELETE and
    INSERT … SELECT. No CREATE or DROP DATABASE per test: each of those forces a checkpoint of
    the whole server (about 0.1–3 s, depending on what else writes to it)."""

    def __init__(self, provider: PostgresProvider):
        self.provider = provider
        self.name = f"bimtek_test_{uuid.uuid4().hex[:10]}"
        self._create(self.name)
        self.url = self._url(self.name)
        self.tables: list[str] = []  # public tables, parents first
        self.sequences: list[str] = []
        self.snapshots: dict[str, tuple[list[str], dict[str, int | None]]] = {}

    def _admin(self):
        return psycopg.connect(self.provider.admin_url, autocommit=True)

    def _url(self, name: str) -> str:
        base = self.provider.admin_url.rsplit("/", 1)[0]
        # Commits need not wait for the disk in a throwaway database.
        url = f"{base}/{name}?options=-c%20synchronous_commit%3Doff"
        return url.replace("postgresql://", "postgresql+psycopg://", 1)

    def _connect(self):
        base = self.provider.admin_url.rsplit("/", 1)[0]
        return psycopg.connect(f"{base}/{self.name}", autocommit=True)

    def _create(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.provider.created.append(name)

    def _sequences(self, conn) -> dict[str, int | None]:
        rows = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
        ).fetchall()
        return dict(rows)

    def _restore(self, seed: str) -> None:
        filled, sequences = self.snapshots[seed]
        with self._connect() as conn:
            conn.execute("SET lock_timeout = '5s'")
            conn.execute("SET synchronous_commit = off")
            for attempt in range(2):
                try:
                    with conn.transaction():
                        # DELETE, not TRUNCATE: a few hundred rows go faster than new files
                        # for 30 tables and their indexes.
                        for table in reversed(self.tables):
                            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                        for table in filled:
                            conn.execute(
                                sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                                    sql.Identifier("public", table),
                                    sql.Identifier("seed_" + seed.replace("+", "_"), table),
                                )
                            )
                        for name in self.sequences:
                            value = sequences.get(name)
                            conn.execute(
                                "SELECT setval(%s, %s, %s)",
                                (f'public."{name}"', value or 1, value is not None),
                            )
                    return
                except psycopg.errors.LockNotAvailable:
                    if attempt:
                        raise
                    # A connection left idle in a transaction by the last test holds a lock.
                    conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )

    def snapshot(self, seed: str) -> str:
        if seed not in self.snapshots:
            if seed == "migrated":
                _seed(self.url, ())
                with self._connect() as conn:
                    self.tables = _public_tables(conn)
                    self.sequences = list(self._sequences(conn))
            else:
                self._restore(self.snapshot(BUILT_ON[seed]))
                _seed(self.url, _steps(seed))
            self._keep(seed)
        return seed

    def _keep(self, seed: str) -> None:
        """Copy every public table into the seed's schema (the migrations, too, write rows:
        the first office)."""
        schema = "seed_" + seed.replace("+", "_")
        with self._connect() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            filled = []
            for table in self.tables:
                conn.execute(
                    sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(
                        sql.Identifier(schema, table), sql.Identifier("public", table)
                    )
                )
                if conn.execute(
                    sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
                        sql.Identifier(schema, table)
                    )
                ).fetchone()[0]:
                    filled.append(table)
            self.snapshots[seed] = (filled, self._sequences(conn))

    def empty(self) -> tuple[str, object]:
        name = f"bimtek_test_{uuid.uuid4().hex[:10]}"
        self._create(name)
        return self._url(name), lambda: None  # dropped with the rest at the end of the run

    def checkout(self, seed: str) -> tuple[str, object]:
        self._restore(self.snapshot(seed))
        return self.url, lambda: None

    def close(self) -> None:
        pass


def _public_tables(conn) -> list[str]:
    """Every table, parents before the tables that point at them (so rows copy back in order)."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
    ).fetchall()
    present = {name for (name,) in rows}
    ordered = [t.name for t in db.metadata.sorted_tables if t.name in present]
    return ordered + sorted(present - set(ordered))


def _share_url_builders() -> None:
    """Tests make an app per test; Werkzeug compiles two URL-builder functions per rule for each
    (about 80 ms of every `create_app`). The generated code depends only on the rule's parsed
    parts and defaults and reads its converters from the rule it is bound to at call time, so
    one compiled function serves every app of the run."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    builders: dict = {}

    def shared(self, append_unknown: bool = True):
        key = (self.rule, tuple(self._trace), repr(sorted((self.defaults or {}).items())),
               append_unknown)  # fmt: skip
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    if getattr(compile_builder, "__name__", "") == "_compile_builder":
        Rule._compile_builder = shared


_share_url_builders()

_postgres: PostgresProvider | None = None
_stores: dict[str, SqliteStore | PostgresStore] = {}


def _store(backend: str, tmp_path_factory) -> SqliteStore | PostgresStore:
    global _postgres
    if backend not in _stores:
        if backend == "sqlite":
            _stores[backend] = SqliteStore(tmp_path_factory.mktemp("sqlite"))
        else:
            if _postgres is None:
                _postgres = PostgresProvider()
            if not _postgres.available:
                if os.environ.get("BIMTEK_REQUIRE_POSTGRES") == "1":
                    pytest.fail(f"PostgreSQL required but unavailable: {_postgres.reason}")
                pytest.skip(f"PostgreSQL half skipped: {_postgres.reason}")
            _stores[backend] = PostgresStore(_postgres)
    return _stores[backend]


def pytest_sessionfinish(session, exitstatus):
    store = _stores.get("postgresql")
    if isinstance(store, PostgresStore):
        store.close()
    if _postgres is not None:
        _postgres.close()


# The files that take longest, longest first (seconds of one worker, measured with --junitxml).
# `make test` runs files whole on two workers in collection order (--dist loadfile
# --no-loadscope-reorder): a long file started last would run alone at the end.
SLOW_FIRST = [
    "tests/test_fuzz_routes.py",
    "tests/test_jobs.py",
    "tests/test_office_access_postgresql.py",
    "tests/test_office_access_sqlite.py",
    "tests/test_import_job.py",
    "tests/e2e/test_quiz_timer.py",
    "tests/test_full_disk.py",
    "tests/test_quiz_flow.py",
    "tests/test_workspace_modules.py",
    "tests/test_evaluation.py",
    "tests/e2e/test_field_day.py",
]


def pytest_collection_modifyitems(session, config, items):
    rank = {path: n for n, path in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def pytest_report_header(config):
    return "databases: sqlite + postgresql (BIMTEK_REQUIRE_POSTGRES=1 makes a missing server fail)"


def _seed_for(request) -> str:
    """The richest seeded state this test's fixtures ask for."""
    names = set(request.fixturenames)
    if "demo" in names:
        return "demo"
    wants_content = "content" in names
    if wants_content and "app_config" in names:
        # A test that points the app at its own content folder syncs that folder itself.
        custom = request.getfixturevalue("app_config").get("BIMTEK_CONTENT_DIR")
        wants_content = custom in (None, str(ROOT))
    wants_wilayah = "wilayah" in names
    if wants_content and wants_wilayah:
        return "wilayah+content"
    if wants_content:
        return "content"
    if wants_wilayah:
        return "wilayah"
    return "migrated"


def _database(request, backend: str, tmp_path_factory) -> str:
    seed = _seed_for(request)
    url, release = _store(backend, tmp_path_factory).checkout(seed)
    request.addfinalizer(release)
    request.node.bimtek_seed = seed
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory) -> str:
    """A database of this test's own, already migrated (and seeded as its fixtures ask)."""
    return _database(request, request.param, tmp_path_factory)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path_factory) -> str:
    """A database with no tables at all (for tests that run the migrations themselves)."""
    url, release = _store(request.param, tmp_path_factory).empty()
    request.addfinalizer(release)
    return url


@pytest.fixture
def sqlite_url(request, tmp_path_factory) -> str:
    return _database(request, "sqlite", tmp_path_factory)


def empty_all_tables(app) -> None:
    """Another installation in the same test: every table emptied."""
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
            # As a freshly migrated database: the first office, unbound and unconfigured.
            conn.execute(
                db.metadata.tables["office"]
                .insert()
                .values(id=1, level="kabkota", created_at=utcnow())
            )
        db.engine.dispose()


class _SharedTemplates(BytecodeCache):
    """Compiled templates kept for the whole run (keyed by name and source checksum, so an
    edited template compiles again): each test's app otherwise compiles every page it shows."""

    def __init__(self):
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES = _SharedTemplates()


def make_test_app(url: str, **config):
    """An app on a test database; its connections are closed when the test ends."""
    from bimtek.offices import scope

    scope.forget_process_tree()  # each test's database holds its own offices
    app = create_app(base_config(url, **config))
    app.jinja_env.bytecode_cache = _TEMPLATES
    return app


def close_app(app) -> None:
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def app_config() -> dict:
    """Override per test (e.g. a content dir) by redefining this fixture or mutating it."""
    return {}


@pytest.fixture
def app(request, db_url, app_config):
    app = make_test_app(db_url, **app_config)
    app.config["TEST_SEED"] = request.node.bimtek_seed
    yield app
    close_app(app)


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


def _seeded(app, step: str) -> bool:
    return step in SEEDS[app.config.get("TEST_SEED", "migrated")]


@pytest.fixture
def wilayah(app):
    """Kab. Luwu Utara from the shipped demo file (seeded once per run, restored per test)."""
    if not _seeded(app, "wilayah"):
        from bimtek.demo import DEMO_WILAYAH
        from bimtek.wilayah.service import import_wilayah, read_wilayah_csv

        with app.app_context():
            rows, errors = read_wilayah_csv(DEMO_WILAYAH)
            assert not errors
            import_wilayah(rows)
            db.session.commit()


@pytest.fixture
def content(app):
    """The app's content folder synced (the shipped one is seeded once per run)."""
    if not _seeded(app, "content"):
        from bimtek.content.service import sync_content

        with app.app_context():
            report = sync_content(app.config["BIMTEK_CONTENT_DIR"])
            assert report.ok, report.errors
            db.session.commit()


@pytest.fixture
def demo(app, wilayah, content):
    """Kab. Luwu Utara, the shipped content, the demo courses, session and accounts."""
    from bimtek.demo import demo_logins

    return demo_logins()


@pytest.fixture
def course_id(app, wilayah, content, make_staff):
    """A course of the first shipped module for PPS and PPK, made by an admin ("admin1")."""
    from bimtek.accounts.models import User
    from bimtek.learning.models import Module
    from bimtek.learning.service import save_course

    admin_id = make_staff("admin", "admin1", "rahasia-admin-1")
    with app.app_context():
        first_module = db.session.scalars(select(Module).order_by(Module.id)).first()
        course = save_course(
            None,
            title="Bimtek PPS",
            description="",
            audience=["PPS", "PPK"],
            hours_jp=8,
            module_ids=[first_module.id],
            active=True,
            actor=db.session.get(User, admin_id),
        )
        db.session.commit()
        return course.id


@pytest.fixture
def admin_client(client, auth, make_staff, wilayah):
    """The test client signed in as an admin ("operator")."""
    make_staff("admin", "operator", "rahasia-operator-1")
    auth.login("operator", "rahasia-operator-1")
    return client


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


def complete_course(course_id: int, nik: str, score: float = 90.0) -> int:
    """The participant (by NIK) has read every module of the course and taken its post-test
    with `score`: written straight into the tables, as a past day's work. In an app context;
    commits; returns the user's id."""
    from bimtek.accounts.models import User
    from bimtek.learning.models import Course, ModuleProgress
    from bimtek.quiz.models import Attempt, Quiz
    from bimtek.timeutil import utcnow

    user = db.session.scalars(select(User).where(User.nik == nik)).one()
    course = db.session.get(Course, course_id)
    for module in course.modules:
        db.session.add(
            ModuleProgress(
                user_id=user.id, module_version_id=module.versions[-1].id, completed_at=utcnow()
            )
        )
    post = db.session.scalars(
        select(Quiz).where(Quiz.course_id == course.id, Quiz.kind == "post")
    ).first()
    db.session.add(
        Attempt(quiz_id=post.id, user_id=user.id, seed=1, status="submitted",
                submitted_at=utcnow(), score=score, passed=score >= post.pass_mark)
    )  # fmt: skip
    db.session.commit()
    return user.id
