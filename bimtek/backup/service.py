"""Backups: one .tar.gz holding the database, the uploads, a manifest and checksums; restore
into an empty database with every checksum, row count and certificate verified; the kept
backups and their rotation.

Plain functions: no request. The database copy is consistent while the app serves:
- SQLite: the online backup API (`sqlite3.Connection.backup`) copies every page in one step
  inside a read transaction, WAL included (copying the file itself loses what is in the WAL);
- PostgreSQL: `pg_dump` in a snapshot exported from a REPEATABLE READ transaction, in which the
  row counts of the manifest are taken too, so they describe exactly what was dumped.

Archive members: `database.sqlite3` or `database.sql` (plain pg_dump output), `uploads/…`
(BIMTEK_UPLOAD_DIR; certificates, sheets and PDFs are rendered on request, nothing else is
generated on disk), then `manifest.json` and `SHA256SUMS` (`sha256sum -c` format).
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path, PurePosixPath

from flask import current_app
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import URL

from bimtek.backup.rotation import backups_to_keep
from bimtek.extensions import db
from bimtek.timeutil import iso, utcnow

FORMAT = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SQLITE_MEMBER = "database.sqlite3"
POSTGRES_MEMBER = "database.sql"
UPLOADS = "uploads"
STATE_FILE = ".bimtek-cadangan-status.json"
NAME_RE = re.compile(r"^bimtek-cadangan-(\d{8})-(\d{6})(?:-(\d{1,3}))?\.tar\.gz$")
STALE_AFTER = timedelta(days=1)
_CHUNK = 1024 * 1024

# What verify() answers for each version, computed in SQL from the copied rows (the same rule
# as bimtek.certificates.queries.verify); after a restore verify() itself must agree.
_CERTIFICATE_STATUS_SQL = """
SELECT v.code,
       CASE WHEN c.revoked_at IS NOT NULL THEN 'dicabut'
            WHEN v.version_no <> c.current_version_no THEN 'diganti'
            ELSE 'sah' END
FROM certificate_version v JOIN certificate c ON c.id = v.certificate_id
ORDER BY v.code
"""


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message is for the office (Indonesian)."""


# --- small helpers -------------------------------------------------------------


def database_kind(url: URL) -> str:
    name = url.get_backend_name()
    if name in ("sqlite", "postgresql"):
        return name
    raise BackupError(f"Jenis basis data '{name}' tidak didukung untuk cadangan.")


def kind_label(kind: str) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(kind, kind)


def office_zone() -> str:
    """The office's zone (from the settings), or the configured one while the database has no
    settings table yet (the loop started before `bimtek init`)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bimtek import timeutil

    try:
        return timeutil.office_zone()
    except SQLAlchemyError:
        db.session.rollback()
        return current_app.config.get("BIMTEK_TIMEZONE") or "Asia/Jakarta"


def backup_folder() -> Path:
    return Path(current_app.config["BIMTEK_BACKUP_DIR"])


def upload_folder() -> Path:
    return Path(current_app.config["BIMTEK_UPLOAD_DIR"])


def app_version() -> str:
    try:
        return metadata.version("bimtek")
    except metadata.PackageNotFoundError:  # a checkout that was never installed
        return "unknown"


def default_name(now: datetime) -> str:
    """bimtek-cadangan-YYYYMMDD-HHMMSS.tar.gz, the time in UTC."""
    return f"bimtek-cadangan-{now.astimezone(UTC):%Y%m%d-%H%M%S}.tar.gz"


def created_from_name(name: str) -> datetime | None:
    match = NAME_RE.match(name)
    if not match:
        return None
    return datetime.strptime(match[1] + match[2], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def human_size(size: int) -> str:
    from bimtek.timeutil import angka

    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if size >= factor:
            return f"{angka(round(size / factor, 1))} {unit}"
    return f"{angka(size)} B"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _certificate_facts(rows) -> dict:
    counts = {"sah": 0, "dicabut": 0, "diganti": 0}
    digest = hashlib.sha256()
    for code, status in rows:
        counts[status] = counts.get(status, 0) + 1
        digest.update(f"{code}:{status}\n".encode())
    return {**counts, "digest": digest.hexdigest()}


def _upload_files(folder: Path, exclude: Path | None = None) -> Iterator[tuple[Path, str]]:
    """Every stored upload, sorted; dot files (uploads still being written) are skipped, and
    so is `exclude` (a backup folder placed inside the upload folder)."""
    if not folder.is_dir():
        return
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and (exclude is None or Path(root, d).resolve() != exclude)
        )
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                yield path, path.relative_to(folder).as_posix()


def uploads_fingerprint(folder: Path, exclude: Path | None = None) -> str:
    digest = hashlib.sha256()
    for path, relative in _upload_files(folder, exclude):
        stat = path.stat()
        digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


# --- PostgreSQL tools ------------------------------------------------------------


def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603 (a fixed tool path, no shell)
            [path, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match[1]) if match else None


def find_pg_tool(tool: str, server_major: int) -> str:
    """`pg_dump` or `psql` able to talk to this server: the matching version under
    /usr/lib/postgresql/<major>/bin first (Debian keeps one per version), then a newer one
    there, then whichever is on PATH, if it is not older than the server."""
    candidates = [f"/usr/lib/postgresql/{server_major}/bin/{tool}"]
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        newer = sorted(
            (p for p in root.glob(f"*/bin/{tool}") if p.parts[-3].isdigit()),
            key=lambda p: int(p.parts[-3]),
        )
        candidates += [str(p) for p in newer if int(p.parts[-3]) > server_major]
    on_path = shutil.which(tool)
    if on_path:
        candidates.append(on_path)
    too_old = []
    for candidate in candidates:
        if not os.access(candidate, os.X_OK):
            continue
        major = _tool_major(candidate)
        if major is not None and major >= server_major:
            return candidate
        if major is not None:
            too_old.append(f"{candidate} (versi {major})")
    hint = (
        f"Pasang klien PostgreSQL versi {server_major} atau lebih baru "
        f"(Debian/Ubuntu: apt install postgresql-client-{server_major}) "
        f"dan pastikan {tool} ada di PATH."
    )
    if too_old:
        raise BackupError(
            f"{tool} terlalu lama untuk server PostgreSQL {server_major}: "
            + ", ".join(too_old)
            + ". "
            + hint
        )
    raise BackupError(f"{tool} tidak ditemukan (dibutuhkan untuk PostgreSQL). {hint}")


def _conninfo(url: URL) -> tuple[str, dict]:
    """A libpq key=value string (no password) and the environment carrying the password, so
    it never shows in the process list."""
    from psycopg.conninfo import make_conninfo

    params = {
        "host": url.host,
        "port": url.port,
        "dbname": url.database,
        "user": url.username,
    }
    for key, value in url.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    conninfo = make_conninfo(**{k: v for k, v in params.items() if v is not None})
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return conninfo, env


def _pg_connect(url: URL):
    import psycopg

    conninfo, _ = _conninfo(url)
    extra = {"password": url.password} if url.password else {}
    return psycopg.connect(conninfo, **extra)


def _run_tool(command: list[str], env: dict, what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env)  # noqa: S603
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise BackupError(f"{what} gagal: " + " | ".join(detail))


# --- the manifest's facts, read from the copy ------------------------------------


@dataclass
class Facts:
    row_counts: dict[str, int]
    revision: str | None
    certificates: dict


def _facts(cursor_execute, tables: list[str]) -> Facts:
    counts = {}
    for table in tables:
        query = f"SELECT count(*) FROM {_quote(table)}"  # noqa: S608 (a catalog name, quoted)
        counts[table] = cursor_execute(query).fetchone()[0]
    revision = None
    if "alembic_version" in tables:
        row = cursor_execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    certificates = {
        "sah": 0,
        "dicabut": 0,
        "diganti": 0,
        "digest": _certificate_facts([])["digest"],
    }
    if {"certificate", "certificate_version"} <= set(tables):
        certificates = _certificate_facts(cursor_execute(_CERTIFICATE_STATUS_SQL).fetchall())
    return Facts(counts, revision, certificates)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError("Basis data SQLite di memori tidak dapat dicadangkan atau dipulihkan.")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """Every page, one step, one read transaction (writers go on in WAL mode)."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _sqlite_facts(path: Path) -> Facts:
    con = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return _facts(con.execute, tables)
    finally:
        con.close()


def _pg_stats_fingerprint(url: URL) -> str:
    """Rows inserted, updated and deleted so far (cumulative statistics): cheap, and taken
    before the dump, so a change it counts is in the dump. A statistics reset only causes one
    extra backup."""
    with _pg_connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0), count(*) "
            "FROM pg_stat_user_tables WHERE schemaname = 'public'"
        ).fetchone()
        reset = conn.execute(
            "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return f"{row[0]}:{row[1]}:{reset[0] if reset else ''}"


def _pg_dump(url: URL, target: Path) -> Facts:
    from psycopg import IsolationLevel

    conninfo, env = _conninfo(url)
    conn = _pg_connect(url)
    try:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        server_major = conn.info.server_version // 10000
        tool = find_pg_tool("pg_dump", server_major)
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        facts = _facts(conn.execute, tables)
        # Only the app's schema: other schemas are left out by name, so the dump does not
        # try to create `public` (which every new database already has).
        others = [
            name
            for (name,) in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname <> 'public' "
                "AND nspname <> 'information_schema' AND nspname NOT LIKE 'pg\\_%'"
            )
        ]
        command = [
            tool, "--format=plain", "--no-owner", "--no-privileges", "--encoding=UTF8",
            f"--snapshot={snapshot}", f"--file={target}", f"--dbname={conninfo}",
        ]  # fmt: skip
        for name in others:  # quoted: a pattern would read "+", "*" or "." as wildcards
            quoted = name.replace('"', '""')
            command.append(f'--exclude-schema="{quoted}"')
        _run_tool(command, env, "pg_dump")
        conn.rollback()
        return facts
    finally:
        conn.close()


# --- writing the archive ---------------------------------------------------------


class _HashingReader:
    def __init__(self, handle):
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size=-1):
        chunk = self.handle.read(size)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> dict:
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        info = tarfile.TarInfo(name)
        info.size = stat.st_size
        info.mtime = int(stat.st_mtime)
        info.mode = 0o600
        reader = _HashingReader(handle)
        tar.addfile(info, reader)  # streams in chunks: large files never sit in memory
    return {"path": name, "size": reader.size, "sha256": reader.digest.hexdigest()}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def sums_text(files: list[dict]) -> str:
    return "".join(f"{f['sha256']}  {f['path']}\n" for f in files)


@dataclass
class BackupResult:
    path: Path | None
    manifest: dict | None
    skipped: bool = False
    seconds: float = 0.0

    @property
    def size(self) -> int:
        return self.path.stat().st_size if self.path else 0


def _read_state(folder: Path) -> dict:
    try:
        return json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _write_state(folder: Path, state: dict) -> None:
    temp = folder / (STATE_FILE + ".tmp")
    temp.write_text(json.dumps(state, indent=1))
    temp.replace(folder / STATE_FILE)


def _unique_path(folder: Path, now: datetime) -> Path:
    path = folder / default_name(now)
    n = 2
    while path.exists() or path.with_name(path.name + ".part").exists():
        path = folder / default_name(now).replace(".tar.gz", f"-{n}.tar.gz")
        n += 1
    return path


def create_backup(
    out: Path | None = None, *, only_if_changed: bool = False, now: datetime | None = None
) -> BackupResult:
    """Write one archive (to `out`, else a new name in BIMTEK_BACKUP_DIR). With
    `only_if_changed`, write nothing when the database and uploads are as in the folder's
    last backup (the SQLite copy's sha256, PostgreSQL's row-change counters, the uploads'
    names, sizes and times)."""
    started = time.monotonic()
    now = now or utcnow()
    url = db.engine.url
    kind = database_kind(url)
    folder = backup_folder()
    out = Path(out) if out is not None else _unique_path(folder, now)
    out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    in_folder = out.parent.resolve() == folder.resolve()
    uploads = upload_folder()
    state = _read_state(folder) if in_folder else {}

    def unchanged(fingerprint: str) -> bool:
        last = state.get("backup")
        return (
            only_if_changed
            and state.get("fingerprint") == fingerprint
            and bool(last)
            and (folder / last).is_file()
        )

    work = Path(tempfile.mkdtemp(prefix=".bimtek-cadangan-", dir=out.parent))
    part = out.with_name(out.name + ".part")
    try:
        files_print = uploads_fingerprint(uploads, exclude=out.parent.resolve())
        if kind == "sqlite":
            snapshot = work / SQLITE_MEMBER
            source = _sqlite_path(url)
            if not source.is_file():
                raise BackupError(f"Basis data {source} tidak ditemukan.")
            _sqlite_copy(source, snapshot)
            fingerprint = f"sqlite:{sha256_file(snapshot)}:{files_print}"
            if unchanged(fingerprint):
                state["checked_at"] = iso(now)
                _write_state(folder, state)
                return BackupResult(None, None, skipped=True, seconds=time.monotonic() - started)
            facts = _sqlite_facts(snapshot)
        else:
            fingerprint = f"postgresql:{_pg_stats_fingerprint(url)}:{files_print}"
            if unchanged(fingerprint):
                state["checked_at"] = iso(now)
                _write_state(folder, state)
                return BackupResult(None, None, skipped=True, seconds=time.monotonic() - started)
            snapshot = work / POSTGRES_MEMBER
            facts = _pg_dump(url, snapshot)

        stamp = now.timestamp()
        # Personal data: readable by the office's account only.
        with open(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
                files = [_add_file(tar, snapshot, snapshot.name)]
                snapshot.unlink()  # the copy is in the archive; free the disk at once
                for path, relative in _upload_files(uploads, exclude=out.parent.resolve()):
                    try:
                        files.append(_add_file(tar, path, f"{UPLOADS}/{relative}"))
                    except FileNotFoundError:
                        continue  # deleted since the listing: not in the database copy either
                manifest = {
                    "format": FORMAT,
                    "app": "bimtek",
                    "app_version": app_version(),
                    "alembic_revision": facts.revision,
                    "database_kind": kind,
                    "created_at": iso(now),
                    "row_counts": facts.row_counts,
                    "certificates": facts.certificates,
                    "files": files,
                    "fingerprint": fingerprint,
                }
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode(), stamp)
                _add_bytes(tar, SUMS, sums_text(files).encode(), stamp)
            raw.flush()
            os.fsync(raw.fileno())  # a USB disk pulled out right after still has it whole
        os.replace(part, out)
        if in_folder:
            _write_state(
                folder,
                {
                    "fingerprint": fingerprint,
                    "backup": out.name,
                    "created_at": manifest["created_at"],
                    "checked_at": iso(now),
                },
            )
        return BackupResult(out, manifest, seconds=time.monotonic() - started)
    finally:
        part.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


# --- the kept backups ------------------------------------------------------------


@dataclass
class BackupFile:
    name: str
    path: Path
    created_at: datetime
    size: int

    @property
    def size_text(self) -> str:
        return human_size(self.size)


def list_backups(folder: Path | None = None) -> list[BackupFile]:
    """Backups in the folder (named as `bimtek backup` names them), newest first."""
    folder = folder or backup_folder()
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        created = created_from_name(entry.name)
        try:
            if created is None or not entry.is_file():
                continue
            size = entry.stat().st_size
        except OSError:  # rotated away by the loop meanwhile
            continue
        found.append(BackupFile(entry.name, Path(entry.path), created, size))
    found.sort(key=lambda b: (b.created_at, b.name), reverse=True)
    return found


def find_backup(name: str) -> BackupFile | None:
    if not NAME_RE.match(name):
        return None
    return next((b for b in list_backups() if b.name == name), None)


def rotate(now: datetime | None = None, folder: Path | None = None) -> list[str]:
    """Delete the backups the rotation does not keep; return their names."""
    folder = folder or backup_folder()
    now = now or utcnow()
    backups = list_backups(folder)
    keep = backups_to_keep(
        [(b.name, b.created_at) for b in backups],
        now,
        timezone=office_zone(),
    )
    deleted = []
    for backup in backups:
        if backup.name not in keep:
            backup.path.unlink(missing_ok=True)
            deleted.append(backup.name)
    return deleted


@dataclass
class BackupStatus:
    folder: Path
    backups: list[BackupFile]
    checked_at: datetime | None  # the automatic backup found nothing changed since the last
    stale: bool
    warning: str | None

    @property
    def last(self) -> BackupFile | None:
        return self.backups[0] if self.backups else None


def backup_status(now: datetime | None = None) -> BackupStatus:
    """What the admin page shows. Stale: no backup, or the last one is more than a day old
    and the automatic backup has not confirmed within the day that nothing changed since."""
    from bimtek.timeutil import waktu

    now = now or utcnow()
    folder = backup_folder()
    backups = list_backups(folder)
    checked_at = None
    if not backups:
        return BackupStatus(
            folder,
            backups,
            None,
            True,
            "Belum ada cadangan data. Buat cadangan sekarang dan simpan salinannya di disk lain.",
        )
    last = backups[0]
    fresh_as_of = last.created_at
    state = _read_state(folder)
    if state.get("backup") == last.name and state.get("checked_at"):
        try:
            checked_at = datetime.fromisoformat(state["checked_at"])
            fresh_as_of = max(fresh_as_of, checked_at)
            if checked_at - last.created_at < timedelta(minutes=1):
                checked_at = None  # the check that wrote it: nothing to add
        except ValueError:
            checked_at = None
    stale = now - fresh_as_of > STALE_AFTER
    warning = None
    if stale:
        when = waktu(last.created_at, office_zone())
        warning = f"Cadangan terakhir dibuat {when}, lebih dari sehari yang lalu."
    return BackupStatus(folder, backups, checked_at, stale, warning)


# --- restore -----------------------------------------------------------------------


@dataclass
class RestoreReport:
    manifest: dict
    tables: int = 0
    rows: int = 0
    uploads: int = 0
    upload_bytes: int = 0
    certificates: dict = field(default_factory=dict)
    replaced: list[str] = field(default_factory=list)
    moved_uploads: Path | None = None
    problems: list[str] = field(default_factory=list)
    rows_ok: bool = True
    certificates_ok: bool = True
    needs_upgrade: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return False
    if name in (MANIFEST, SUMS, SQLITE_MEMBER, POSTGRES_MEMBER):
        return True
    return path.parts[0] == UPLOADS and len(path.parts) > 1


def read_verified(archive: Path, work: Path) -> dict:
    """Unpack into `work`, hashing every member; check them against the manifest and its
    SHA256SUMS. Raises BackupError on any difference: nothing outside `work` is touched."""
    damaged = (
        f"Berkas cadangan {archive.name} rusak atau bukan cadangan bimtek; tidak ada yang diubah."
    )
    seen: dict[str, dict] = {}
    try:
        with tarfile.open(archive, mode="r|gz") as tar:
            for member in tar:
                if not member.isfile() or not _safe_member(member.name):
                    raise BackupError(f"{damaged} (isi tak dikenal: {member.name!r})")
                if member.name in seen:
                    raise BackupError(f"{damaged} (berkas ganda: {member.name})")
                target = work.joinpath(*PurePosixPath(member.name).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                digest = hashlib.sha256()
                size = 0
                with open(target, "wb") as handle:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        handle.write(chunk)
                seen[member.name] = {"size": size, "sha256": digest.hexdigest()}
    except FileNotFoundError:
        raise BackupError(f"Berkas cadangan {archive} tidak ditemukan.") from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise BackupError(f"{damaged} ({exc})") from None
    if MANIFEST not in seen:
        raise BackupError(f"{damaged} (manifest.json tidak ada)")
    try:
        manifest = json.loads((work / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        expected = {f["path"]: f for f in files}
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{damaged} (manifest.json tidak terbaca)") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"Format cadangan {manifest.get('format')!r} tidak dikenal oleh bimtek versi ini."
        )
    for name, facts in expected.items():
        got = seen.get(name)
        if got is None:
            raise BackupError(f"{damaged} ({name} hilang dari arsip)")
        if got["sha256"] != facts.get("sha256") or got["size"] != facts.get("size"):
            raise BackupError(
                f"Checksum {name} tidak cocok: berkas cadangan rusak; tidak ada yang diubah."
            )
    extra = set(seen) - set(expected) - {MANIFEST, SUMS}
    if extra:
        raise BackupError(f"{damaged} (berkas tanpa checksum: {', '.join(sorted(extra))})")
    if SUMS in seen and (work / SUMS).read_text(encoding="utf-8") != sums_text(files):
        raise BackupError(f"Checksum SHA256SUMS tidak cocok dengan manifest: {damaged}")
    return manifest


def _target_counts() -> dict[str, int]:
    url = db.engine.url
    if database_kind(url) == "sqlite" and not _sqlite_path(url).exists():
        return {}  # a new laptop: not even the file yet
    names = inspect(db.engine).get_table_names()
    with db.engine.connect() as conn:
        return {
            name: conn.execute(
                text(f"SELECT count(*) FROM {_quote(name)}")  # noqa: S608 (catalog name)
            ).scalar_one()
            for name in sorted(names)
        }


def _all_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if p.is_file() or p.is_symlink()]


def describe_target() -> tuple[dict[str, int], list[Path]]:
    """The target database's rows per table (alembic_version left out) and the files in the
    upload folder: what a restore would replace."""
    counts = {k: v for k, v in _target_counts().items() if k != "alembic_version"}
    return counts, _all_files(upload_folder())


def _pg_restore(url: URL, script: Path, work: Path) -> None:
    conninfo, env = _conninfo(url)
    with _pg_connect(url) as conn:
        server_major = conn.info.server_version // 10000
        drops = []
        for (name,) in conn.execute(
            "SELECT viewname FROM pg_views WHERE schemaname = 'public'"
        ).fetchall():
            drops.append(f"DROP VIEW IF EXISTS public.{_quote(name)} CASCADE;")
        for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall():
            drops.append(f"DROP TABLE IF EXISTS public.{_quote(name)} CASCADE;")
        for (name,) in conn.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
        ).fetchall():
            drops.append(f"DROP SEQUENCE IF EXISTS public.{_quote(name)} CASCADE;")
        # The app's own functions (the pool generation's trigger function, migration 0016);
        # functions an extension brought are the extension's.
        for (signature,) in conn.execute(
            "SELECT format('%I.%I(%s)', n.nspname, p.proname, "
            "pg_get_function_identity_arguments(p.oid)) "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_depend d "
            "WHERE d.objid = p.oid AND d.deptype = 'e')"
        ).fetchall():
            drops.append(f"DROP FUNCTION IF EXISTS {signature} CASCADE;")
    tool = find_pg_tool("psql", server_major)
    drop_file = work / "drop-existing.sql"
    drop_file.write_text("\n".join(drops) + "\n", encoding="utf-8")
    # One transaction: the old tables are dropped only if the whole dump loads.
    _run_tool(
        [
            tool,
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--dbname={conninfo}",
            f"--file={drop_file}",
            f"--file={script}",
        ],  # fmt: skip
        env,
        "Pemulihan PostgreSQL (psql)",
    )


def _sqlite_restore(snapshot: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # The backup API replaces every page of the target in one write transaction.
    src = sqlite3.connect(snapshot)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _restore_uploads(staged: Path, folder: Path, now: datetime) -> Path | None:
    moved = None
    if _all_files(folder):
        moved = folder.with_name(f"{folder.name}.sebelum-pemulihan-{now:%Y%m%d-%H%M%S}")
        folder.rename(moved)
    elif folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if staged.is_dir():
        shutil.move(str(staged), str(folder))
    else:
        folder.mkdir(parents=True, exist_ok=True)
    return moved


def verify_certificates() -> dict:
    """verify() — the function behind /verifikasi/<code> — for every version's code."""
    from bimtek.certificates.models import CertificateVersion
    from bimtek.certificates.queries import verify

    if not {"certificate", "certificate_version"} <= set(inspect(db.engine).get_table_names()):
        return _certificate_facts([])
    codes = db.session.scalars(select(CertificateVersion.code).order_by(CertificateVersion.code))
    rows = []
    for n, code in enumerate(codes.all(), 1):
        rows.append((code, verify(code).status))
        if n % 500 == 0:
            db.session.expunge_all()
    db.session.remove()
    return _certificate_facts(rows)


def restore_backup(
    archive: Path, *, force: bool = False, echo: Callable[[str], None] = print
) -> RestoreReport:
    """Verify the archive, then replace the configured database and upload folder with it,
    then check row counts and certificates against the manifest."""
    from bimtek import MIGRATIONS_DIR

    url = db.engine.url
    kind = database_kind(url)
    sqlite_target = _sqlite_path(url) if kind == "sqlite" else None
    uploads = upload_folder()
    uploads.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".bimtek-pemulihan-", dir=uploads.parent))
    try:
        manifest = read_verified(Path(archive), work)
        files = manifest["files"]
        from bimtek.timeutil import waktu

        # UTC: the target may not hold the office's settings yet.
        made = waktu(datetime.fromisoformat(manifest["created_at"]), "UTC") + " UTC"
        echo(
            f"Cadangan {Path(archive).name}: dibuat {made}, "
            f"bimtek {manifest.get('app_version')}, skema {manifest.get('alembic_revision')}, "
            f"{kind_label(manifest['database_kind'])}; "
            f"{len(files)} berkas, semua checksum cocok."
        )
        if manifest["database_kind"] != kind:
            raise BackupError(
                f"Cadangan ini dari {kind_label(manifest['database_kind'])}, basis data tujuan "
                f"{kind_label(kind)}. Pemulihan hanya didukung ke jenis yang sama "
                "(SQLite ke SQLite, PostgreSQL ke PostgreSQL). Tidak ada yang diubah."
            )
        counts, existing_files = describe_target()
        filled = {k: v for k, v in counts.items() if v}
        replaced = []
        if filled:
            replaced.append(
                f"basis data: {len(filled)} tabel berisi {sum(filled.values())} baris ("
                + ", ".join(f"{k} {v}" for k, v in sorted(filled.items()))
                + ")"
            )
        if existing_files:
            replaced.append(f"folder unggahan {uploads}: {len(existing_files)} berkas")
        if replaced and not force:
            raise BackupError(
                "Tujuan pemulihan tidak kosong — "
                + "; ".join(replaced)
                + ". Tidak ada yang diubah. Pulihkan ke basis data kosong, atau jalankan "
                "lagi dengan --force untuk menggantinya."
            )
        for line in replaced:
            echo(f"Diganti (--force): {line}.")

        db.session.remove()
        db.engine.dispose()
        if kind == "sqlite":
            _sqlite_restore(work / SQLITE_MEMBER, sqlite_target)
        else:
            _pg_restore(url, work / POSTGRES_MEMBER, work)
        db.engine.dispose()
        moved = _restore_uploads(work / UPLOADS, uploads, utcnow())
        if moved:
            echo(f"Folder unggahan lama dipindahkan ke {moved} (tidak dihapus).")

        report = RestoreReport(manifest, replaced=replaced, moved_uploads=moved)
        restored = _target_counts()
        expected = manifest["row_counts"]
        report.tables = len(restored)
        report.rows = sum(restored.values())
        for table in sorted(set(expected) | set(restored)):
            if expected.get(table) != restored.get(table):
                report.rows_ok = False
                report.problems.append(
                    f"Tabel {table}: {restored.get(table, 'tidak ada')} baris, "
                    f"manifest {expected.get(table, 'tidak ada')}."
                )
        upload_files = [f for f in files if f["path"].startswith(UPLOADS + "/")]
        for entry in upload_files:
            path = uploads / entry["path"][len(UPLOADS) + 1 :]
            if not path.is_file() or sha256_file(path) != entry["sha256"]:
                report.problems.append(f"Berkas {entry['path']} tidak pulih utuh.")
        report.uploads = len(upload_files)
        report.upload_bytes = sum(f["size"] for f in upload_files)
        if kind == "sqlite":
            with sqlite3.connect(sqlite_target) as con:
                broken = con.execute("PRAGMA foreign_key_check").fetchall()
            con.close()
            if broken:
                report.problems.append(f"{len(broken)} baris melanggar kunci asing.")
        report.certificates = verify_certificates()
        wanted = manifest.get("certificates") or {}
        if report.certificates != wanted:
            report.certificates_ok = False
            report.problems.append(
                "Hasil verifikasi sertifikat berbeda dengan saat dicadangkan: "
                f"sekarang {_cert_text(report.certificates)}, saat dicadangkan "
                f"{_cert_text(wanted)}."
            )
        report.needs_upgrade = manifest.get("alembic_revision") != _head_revision(MIGRATIONS_DIR)
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cert_text(facts: dict) -> str:
    return (
        f"{facts.get('sah', 0)} sah, {facts.get('dicabut', 0)} dicabut, "
        f"{facts.get('diganti', 0)} diganti versi baru"
    )


def _head_revision(directory: str) -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", directory)
    return ScriptDirectory.from_config(config).get_current_head()


def restore_summary(report: RestoreReport) -> list[str]:
    """The lines `bimtek restore` prints at the end (Indonesian)."""
    from bimtek.timeutil import angka

    rows = f"Basis data: {report.tables} tabel, {angka(report.rows)} baris"
    if report.rows_ok:
        rows += " — jumlah baris per tabel cocok dengan manifest"
    cert = report.certificates
    total = sum(v for k, v in cert.items() if k != "digest")
    certificates = f"Sertifikat: {angka(total)} kode diperiksa lewat verifikasi publik"
    if total and report.certificates_ok:
        certificates += f" — {_cert_text(cert)}, sama seperti saat dicadangkan"
    lines = [
        rows + ".",
        f"Berkas unggahan: {report.uploads} berkas ({human_size(report.upload_bytes)}).",
        certificates + ".",
    ]
    if report.problems:
        lines.append("PERINGATAN — hasil pemulihan tidak sama dengan cadangan:")
        lines += [f"  {p}" for p in report.problems]
    else:
        lines.append("Pemulihan selesai dan terverifikasi.")
    if report.needs_upgrade:
        lines.append(
            "Skema cadangan berbeda dengan versi aplikasi ini: jalankan `bimtek init` "
            "untuk memutakhirkannya sebelum aplikasi dijalankan."
        )
    return lines
