"""Backup and restore: `bimtek backup` → `bimtek restore` into an empty database gives back every
row, upload and certificate; damaged archives and non-empty targets are refused before anything
is written; a backup taken while writes go on holds every write acknowledged before it started;
the rotation; the admin page."""

import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, select, text

from bimtek import MIGRATIONS_DIR
from bimtek.accounts.models import AuditLog, User, audit
from bimtek.backup import service
from bimtek.backup.rotation import backups_to_keep
from bimtek.certificates import service as certificates
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.timeutil import waktu
from tests.conftest import close_app, make_test_app

ADMIN = ("admin", "demo-admin-2029")
PROVINCE_ADMIN = ("admin-sulsel", "demo-sulsel-2029")
PELATIH = ("pelatih", "demo-pelatih-2029")
PPS = ("7322011203950002", "demo-peserta-2029")
ZONE_WIB = ZoneInfo("Asia/Jakarta")

# `app` and the empty target database on the same kind (both fixtures take the kind as param).
SAME_KIND = pytest.mark.parametrize(
    ("db_url", "empty_db_url"),
    [("sqlite", "sqlite"), ("postgresql", "postgresql")],
    indirect=True,
    ids=["sqlite", "postgresql"],
)


@pytest.fixture
def app_config(tmp_path):
    return {
        "BIMTEK_UPLOAD_DIR": str(tmp_path / "uploads"),
        "BIMTEK_BACKUP_DIR": str(tmp_path / "cadangan"),
    }


@pytest.fixture
def target(empty_db_url, tmp_path):
    """A new laptop: an app on a database without tables and an empty upload folder."""
    app = make_test_app(
        empty_db_url,
        BIMTEK_UPLOAD_DIR=str(tmp_path / "laptop-baru" / "uploads"),
        BIMTEK_BACKUP_DIR=str(tmp_path / "laptop-baru" / "cadangan"),
    )
    yield app
    close_app(app)


def _put_uploads(app) -> dict[str, str]:
    """A material and a pending import sheet on disk; returns relative path → sha256."""
    folder = Path(app.config["BIMTEK_UPLOAD_DIR"])
    files = {
        "materi-3f2a.pdf": b"%PDF-1.4\n" + os.urandom(300_000),
        "imports/impor-91c.xlsx": os.urandom(5_000),
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def _issue_certificates(app) -> dict[str, str]:
    """Three certificates: one valid, one reissued (old code replaced), one revoked.
    Returns code → the status the public page must show."""
    with app.app_context():
        course = db.session.scalars(select(Course).order_by(Course.id)).first()
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        people = db.session.scalars(
            select(User).where(User.role == "peserta").order_by(User.id)
        ).all()
        valid, reissued, revoked = certificates.issue_many(course, people[:3], admin)
        old_code = reissued.current_version.code
        new_version = certificates.reissue(reissued, admin, "Nama salah ketik")
        certificates.revoke(revoked, admin, "Tidak hadir sama sekali")
        db.session.commit()
        return {
            valid.current_version.code: "sah",
            old_code: "diganti",
            new_version.code: "sah",
            revoked.current_version.code: "dicabut",
        }


def _all_rows(app) -> dict[str, list]:
    with app.app_context(), db.engine.connect() as conn:
        rows = {
            table.name: conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            for table in db.metadata.sorted_tables
        }
        rows["alembic_version"] = conn.execute(
            text("SELECT version_num FROM alembic_version")
        ).all()
    return rows


def _files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def db_kind(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


def _table_names(app) -> list[str]:
    with app.app_context():
        return inspect(db.engine).get_table_names()


VERDICTS = {
    "sah": "Sertifikat sah",
    "diganti": "Sertifikat ini diganti versi baru",
    "dicabut": "Sertifikat dicabut",
}


@SAME_KIND
def test_backup_then_restore_into_empty_database_gives_everything_back(
    app, runner, demo, make_peserta, target, tmp_path
):
    later = make_peserta(nama="Peserta Keempat")  # no certificate yet
    uploads = _put_uploads(app)
    codes = _issue_certificates(app)
    archive = tmp_path / "usb" / "cadangan.tar.gz"

    made = runner.invoke(args=["backup", "--out", str(archive)])
    assert made.exit_code == 0, made.output
    assert "Cadangan dibuat" in made.output and "data pribadi" in made.output
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["database_kind"] == db_kind(app)
    assert manifest["alembic_revision"] == service._head_revision(MIGRATIONS_DIR)
    assert manifest["row_counts"]["certificate_version"] == 4
    assert {f["path"] for f in manifest["files"]} >= {f"uploads/{name}" for name in uploads}

    restored = target.test_cli_runner().invoke(args=["restore", str(archive)])
    assert restored.exit_code == 0, restored.output
    assert "jumlah baris per tabel cocok dengan manifest" in restored.output
    assert (
        "4 kode diperiksa lewat verifikasi publik — 2 sah, 1 dicabut, 1 diganti" in restored.output
        and "Pemulihan selesai" in restored.output
    )

    assert _all_rows(target) == _all_rows(app)
    assert _files(Path(target.config["BIMTEK_UPLOAD_DIR"])) == uploads
    # The printed QR codes still open the same verdict on the new laptop.
    client = target.test_client()
    for code, status in codes.items():
        response = client.get(f"/verifikasi/{code}")
        assert response.status_code == 200
        assert VERDICTS[status] in response.get_data(as_text=True)
    # And the number counter goes on after the last printed number instead of restarting.
    with target.app_context():
        course = db.session.scalars(select(Course).order_by(Course.id)).first()
        issued = certificates.issue(course, db.session.get(User, later), None)
        db.session.commit()
        assert issued.seq == 4


def test_restore_refuses_a_database_with_data_unless_forced(app, runner, demo, tmp_path):
    archive = tmp_path / "cadangan.tar.gz"
    assert runner.invoke(args=["backup", "--out", str(archive)]).exit_code == 0
    with app.app_context():
        audit(None, "setelah.cadangan", "test", "baru")
        db.session.commit()

    refused = runner.invoke(args=["restore", str(archive)])
    assert refused.exit_code == 1
    assert "tidak kosong" in refused.output and "--force" in refused.output
    assert "Tidak ada yang diubah" in refused.output
    with app.app_context():
        assert db.session.scalars(
            select(AuditLog).where(AuditLog.action == "setelah.cadangan")
        ).one_or_none()

    forced = runner.invoke(args=["restore", "--force", str(archive)])
    assert forced.exit_code == 0, forced.output
    assert "Diganti (--force): basis data" in forced.output
    with app.app_context():
        assert (
            db.session.scalars(
                select(AuditLog).where(AuditLog.action == "setelah.cadangan")
            ).one_or_none()
            is None
        )


def _rewrite(archive: Path, out: Path, change) -> None:
    """Copy the archive member by member, letting `change(name, data)` alter one."""
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            data = change(member.name, src.extractfile(member).read())
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))


@SAME_KIND
def test_damaged_archive_is_refused_before_anything_is_written(app, runner, demo, target, tmp_path):
    _put_uploads(app)
    archive = tmp_path / "cadangan.tar.gz"
    assert runner.invoke(args=["backup", "--out", str(archive)]).exit_code == 0
    target_runner = target.test_cli_runner()
    uploads = Path(target.config["BIMTEK_UPLOAD_DIR"])

    flipped = tmp_path / "byte-berubah.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x5A
    flipped.write_bytes(bytes(data))
    result = target_runner.invoke(args=["restore", str(flipped)])
    assert result.exit_code == 1
    assert "rusak" in result.output and "tidak ada yang diubah" in result.output
    assert _table_names(target) == []
    assert not uploads.exists()

    # A well-formed archive whose material differs from its manifest's checksum.
    altered = tmp_path / "isi-berubah.tar.gz"
    _rewrite(
        archive,
        altered,
        lambda name, data: data[:-1] + b"X" if name == "uploads/materi-3f2a.pdf" else data,
    )
    result = target_runner.invoke(args=["restore", str(altered)])
    assert result.exit_code == 1
    assert "Checksum uploads/materi-3f2a.pdf tidak cocok" in result.output
    assert _table_names(target) == []
    assert not uploads.exists()


@SAME_KIND
def test_restore_reports_rows_or_verdicts_that_differ_from_the_manifest(
    app, runner, demo, target, tmp_path
):
    """The checks after the restore can fail: a manifest promising other figures."""
    _issue_certificates(app)
    archive = tmp_path / "cadangan.tar.gz"
    assert runner.invoke(args=["backup", "--out", str(archive)]).exit_code == 0

    def promise_more(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["row_counts"]["user"] += 1
        manifest["certificates"]["sah"] += 1
        return json.dumps(manifest).encode()

    lying = tmp_path / "manifest-lain.tar.gz"
    _rewrite(archive, lying, promise_more)
    result = target.test_cli_runner().invoke(args=["restore", str(lying)])
    assert result.exit_code == 1
    assert "PERINGATAN" in result.output and "Pemulihan selesai" not in result.output
    assert "Tabel user: 9 baris, manifest 10." in result.output
    assert "Hasil verifikasi sertifikat berbeda" in result.output


@pytest.mark.parametrize(
    ("db_url", "empty_db_url"),
    [("sqlite", "postgresql"), ("postgresql", "sqlite")],
    indirect=True,
    ids=["sqlite-ke-postgresql", "postgresql-ke-sqlite"],
)
def test_restore_across_database_kinds_is_refused_clearly(app, runner, target, tmp_path):
    archive = tmp_path / "cadangan.tar.gz"
    assert runner.invoke(args=["backup", "--out", str(archive)]).exit_code == 0
    result = target.test_cli_runner().invoke(args=["restore", str(archive)])
    assert result.exit_code == 1
    assert "Pemulihan hanya didukung ke jenis yang sama" in result.output
    assert _table_names(target) == []


@SAME_KIND
def test_backup_under_load_holds_every_write_acknowledged_before_it(
    app, runner, demo, target, tmp_path
):
    """Writers keep committing audit rows (each marker recorded once its commit returned)
    while `bimtek backup` runs."""
    stop = threading.Event()
    acked: list[str] = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with app.app_context():
                i = 0
                while not stop.is_set():
                    marker = f"w{n}-{i}"
                    audit(None, "uji.beban", "test", marker, isi="x" * 200)
                    db.session.commit()
                    acked.append(marker)
                    i += 1
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 10
        while len(acked) < 60 and time.monotonic() < deadline and not errors:
            time.sleep(0.01)
        before = list(acked)
        archive = tmp_path / "cadangan.tar.gz"
        result = runner.invoke(args=["backup", "--out", str(archive)])
        after_backup = len(acked)
        time.sleep(0.2)  # writes go on after the backup too
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors
    assert result.exit_code == 0, result.output
    assert len(before) >= 60
    assert after_backup > len(before), "writes were acknowledged while the backup ran"
    later = acked[after_backup:]
    assert later, "the writers went on after the backup"

    restored = target.test_cli_runner().invoke(args=["restore", str(archive)])
    assert restored.exit_code == 0, restored.output
    with target.app_context():
        present = set(
            db.session.scalars(
                select(AuditLog.object_id).where(AuditLog.action == "uji.beban")
            ).all()
        )
        assert set(before) <= present
        assert not set(later) & present  # acknowledged after the backup ended: not in it
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
            assert db.session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        else:
            foreign_keys = "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated"
            restored_fks = db.session.execute(text(foreign_keys)).scalar()
    if db_kind(app) == "postgresql":
        with app.app_context():
            assert restored_fks == db.session.execute(text(foreign_keys)).scalar() > 20


def test_loop_backs_up_only_when_something_changed(app, demo):
    with app.app_context():
        first = service.create_backup(only_if_changed=True)
        again = service.create_backup(only_if_changed=True)
        assert first.path.is_file() and again.skipped
        audit(None, "perubahan", "test", "1")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()  # PostgreSQL counts a session's changes when it ends
        changed = None
        for _ in range(20):  # the statistics collector may take a moment
            changed = service.create_backup(only_if_changed=True)
            if not changed.skipped:
                break
            time.sleep(0.25)
        assert not changed.skipped and changed.path != first.path
        Path(app.config["BIMTEK_UPLOAD_DIR"]).mkdir(parents=True, exist_ok=True)
        (Path(app.config["BIMTEK_UPLOAD_DIR"]) / "baru.png").write_bytes(b"\x89PNG")
        assert not service.create_backup(only_if_changed=True).skipped
        assert len(service.list_backups()) == 3


def test_backup_loop_runs_until_it_is_told_to_stop(sqlite_url, tmp_path):
    """What `make run` starts next to gunicorn: a backup at once, then on SIGTERM it ends."""
    folder = tmp_path / "usb"
    env = {
        **os.environ,
        "BIMTEK_DATABASE_URL": sqlite_url,
        "BIMTEK_BACKUP_DIR": str(folder),
        "BIMTEK_UPLOAD_DIR": str(tmp_path / "uploads"),
        "BIMTEK_SECRET_KEY": "uji",
    }
    bimtek = Path(sys.executable).with_name("bimtek")
    loop = subprocess.Popen(
        [str(bimtek), "backup", "--loop", "--every", "3600"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 12
        while not list(folder.glob("bimtek-cadangan-*.tar.gz")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(folder.glob("bimtek-cadangan-*.tar.gz")), "no backup written"
        time.sleep(0.3)  # past the rename: the loop is sleeping now
        loop.send_signal(signal.SIGTERM)
        output, _ = loop.communicate(timeout=10)
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()
    assert loop.returncode == 0, output
    assert "Cadangan dibuat" in output and "Cadangan otomatis berhenti" in output
    assert not list(folder.glob("*.part"))


# --- rotation (pure) ----------------------------------------------------------------


def _hourly(now: datetime, hours: int) -> list[tuple[str, datetime]]:
    return [(f"b{h:03d}", now - timedelta(hours=h)) for h in range(hours)]


def test_rotation_keeps_the_last_24_and_one_a_day_for_14_days():
    now = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)  # 12.30 WIB
    backups = _hourly(now, 24 * 20)  # twenty days of hourly backups
    keep = backups_to_keep(backups, now, timezone="Asia/Jakarta")
    newest = {name for name, _ in backups[:24]}
    assert newest <= keep
    daily = keep - newest
    kept_days = {created.astimezone(ZONE_WIB).date() for name, created in backups if name in keep}
    # Today and the 13 days before it, each with its last backup of the day (23.xx WIB).
    assert len(kept_days) == 14
    assert min(kept_days) == datetime(2026, 11, 18).date()
    for name in daily:
        created = dict(backups)[name]
        assert created.astimezone(ZONE_WIB).hour == 23
    assert len(keep) == 24 + 12  # today and yesterday are inside the newest 24 already


def test_rotation_days_follow_the_office_zone_and_spare_future_and_newest():
    now = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    evening = ("malam", datetime(2026, 12, 1, 15, 0, tzinfo=UTC))  # 23.00 WITA on 1 Dec
    after_midnight = ("dini-hari", datetime(2026, 12, 1, 16, 30, tzinfo=UTC))  # 00.30 WITA 2 Dec
    future = ("jam-mundur", now + timedelta(hours=5))
    old = ("lama", now - timedelta(days=30))
    keep = backups_to_keep(
        [evening, after_midnight, future, old], now, keep_last=0, timezone="Asia/Makassar"
    )
    assert keep == {"malam", "dini-hari", "jam-mundur"}
    # In Jakarta (22.00 and 23.30 WIB) both are 1 December: only the later one is kept.
    keep = backups_to_keep([evening, after_midnight], now, keep_last=0, timezone="Asia/Jakarta")
    assert keep == {"dini-hari"}
    assert backups_to_keep([old], now, keep_last=1) == {"lama"}
    assert backups_to_keep([], now) == set()


def test_rotate_deletes_only_what_the_rotation_drops(app, tmp_path):
    folder = Path(app.config["BIMTEK_BACKUP_DIR"])
    folder.mkdir(parents=True)
    now = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    for hours in range(0, 24 * 30, 6):
        (folder / service.default_name(now - timedelta(hours=hours))).write_bytes(b"x")
    (folder / "catatan.txt").write_text("bukan cadangan")
    with app.app_context():
        deleted = service.rotate(now=now)
        kept = service.list_backups()
    # The newest 24 reach back to 25 November (WIB); then one a day for 18–24 November.
    assert deleted and len(kept) == 24 + 7
    assert (folder / "catatan.txt").exists()
    assert all(now - b.created_at < timedelta(days=14) for b in kept)


# --- PostgreSQL tools -----------------------------------------------------------------


def test_missing_or_old_pg_dump_is_explained_in_indonesian():
    with pytest.raises(service.BackupError, match="pg_tidak_ada tidak ditemukan") as missing:
        service.find_pg_tool("pg_tidak_ada", 15)
    assert "postgresql-client-15" in str(missing.value)
    with pytest.raises(service.BackupError, match="terlalu lama untuk server PostgreSQL 99"):
        service.find_pg_tool("pg_dump", 99)


# --- the admin page -------------------------------------------------------------------


def test_backup_page_is_for_admins_only(client, auth, demo, post_form):
    assert client.get("/admin/cadangan").status_code == 302  # sign in first
    for login in (PELATIH, PPS):
        auth.login(*login)
        assert client.get("/admin/cadangan").status_code == 403
        made = post_form(client, "/admin/cadangan", {}, form_page="/")
        assert made.status_code == 403
        auth.logout()
    auth.login(*ADMIN)
    assert client.post("/admin/cadangan", data={}).status_code == 400  # no CSRF token


def test_admin_makes_and_downloads_a_backup_and_sees_staleness(app, client, auth, demo, post_form):
    folder = Path(app.config["BIMTEK_BACKUP_DIR"])
    # The whole database: the admin of the demo tree's root (KPU Provinsi Sulawesi Selatan).
    auth.login(*PROVINCE_ADMIN)
    page = client.get("/admin/cadangan").get_data(as_text=True)
    assert "Belum ada cadangan data" in page
    assert "data pribadi" in page and str(folder) in page
    assert "Belum ada cadangan data" in client.get("/").get_data(as_text=True)

    made = post_form(client, "/admin/cadangan", {}, follow_redirects=True)
    page = made.get_data(as_text=True)
    assert "Cadangan dibuat: bimtek-cadangan-" in page
    assert "Belum ada cadangan data" not in page and "lebih dari sehari" not in page
    (backup,) = list(folder.glob("bimtek-cadangan-*.tar.gz"))
    with app.test_request_context():
        shown = waktu(service.created_from_name(backup.name), service.office_zone())
    assert shown.endswith("WITA")  # Luwu Utara: the office zone, not UTC
    assert shown in page and backup.name in page
    assert "Belum ada cadangan" not in client.get("/").get_data(as_text=True)

    download = client.get(f"/admin/cadangan/{backup.name}")
    assert download.status_code == 200
    assert download.headers["Cache-Control"] == "no-store"
    assert "attachment" in download.headers["Content-Disposition"]
    assert gzip.decompress(download.data)[:100]  # a real gzip stream
    assert client.get("/admin/cadangan/..%2Fsecret_key").status_code == 404
    assert client.get("/admin/cadangan/bimtek-cadangan-20200101-000000.tar.gz").status_code == 404

    # Only an old backup left: the page and the admin's home warn.
    old_name = service.default_name(datetime.now(UTC) - timedelta(days=2))
    backup.rename(folder / old_name)
    (folder / service.STATE_FILE).unlink()
    page = client.get("/admin/cadangan").get_data(as_text=True)
    assert "lebih dari sehari yang lalu" in page
    assert "lebih dari sehari yang lalu" in client.get("/").get_data(as_text=True)

    auth.logout()
    auth.login(*PPS)
    assert client.get(f"/admin/cadangan/{old_name}").status_code == 403
    assert "cadangan" not in client.get("/").get_data(as_text=True).lower()
