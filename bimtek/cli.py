"""The `bimtek` console script: a Flask CLI group bound to create_app."""

import os
import signal
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from bimtek.extensions import db, refresh_statistics


def main() -> None:
    cli = FlaskGroup(create_app=_create_app, help="bimtek: bimbingan teknis badan ad hoc pemilu.")
    cli.main(prog_name="bimtek")


def _create_app():
    from bimtek import create_app
    from bimtek.config import ConfigurationError

    try:
        return create_app()
    except ConfigurationError:
        if "run" in sys.argv[1:2]:
            raise  # serving needs a real key
        # Maintenance commands sign nothing that outlives the process.
        os.environ["BIMTEK_SECRET_KEY"] = os.urandom(32).hex()
        return create_app()


def _fail(lines: list[str] | str) -> None:
    for line in [lines] if isinstance(lines, str) else lines:
        click.echo(line, err=True)
    sys.exit(1)


def register_commands(app) -> None:
    app.cli.add_command(init_command)
    app.cli.add_command(content_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(user_group)
    app.cli.add_command(office_group)
    app.cli.add_command(wilayah_group)
    app.cli.add_command(export_group)
    app.cli.add_command(peserta_group)
    app.cli.add_command(worker_command)

    from bimtek.backup.commands import backup_command, restore_command

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


def _run_sync():
    from bimtek.content.service import sync_content

    report = sync_content(current_app.config["BIMTEK_CONTENT_DIR"])
    if not report.ok:
        db.session.rollback()
        _fail(
            [str(e) for e in report.errors] + ["Konten tidak dimuat: perbaiki kesalahan di atas."]
        )
    db.session.commit()
    refresh_statistics()
    click.echo(
        f"Konten: {len(report.created)} modul baru, {len(report.updated)} versi baru, "
        f"{len(report.unchanged)} tidak berubah."
    )
    click.echo(
        f"Soal: {report.questions_created} baru, {report.questions_updated} versi baru, "
        f"{report.questions_retired} dipensiunkan."
    )
    if report.kept_browser_edits:
        click.echo(
            "Suntingan di browser dipertahankan (berkasnya tidak berubah sejak dimuat): "
            + ", ".join(report.kept_browser_edits)
        )
    return report


@click.command("init")
@with_appcontext
def init_command():
    """Apply migrations and load shipped content (idempotent)."""
    from flask_migrate import upgrade

    from bimtek import MIGRATIONS_DIR

    os.makedirs(current_app.instance_path, exist_ok=True)
    upgrade(directory=MIGRATIONS_DIR)
    click.echo("Basis data mutakhir.")
    _run_sync()


@click.group("content")
def content_group():
    """Modules and question banks."""


@content_group.command("check")
@click.option(
    "--skip-item-checks",
    is_flag=True,
    help="Only validate; do not fail on surface cues (key longest, true/false balance, …).",
)
@with_appcontext
def content_check(skip_item_checks: bool):
    """Validate every module and question bank; print path:line: reason, exit 1 on errors.
    Then report each bank's item figures (size, share sulit, key-longest rate, true/false
    balance, absolute words, near-duplicates across banks); exit 1 when one is off limits."""
    from bimtek.content.itemcheck import check_banks
    from bimtek.content.service import check_content

    result = check_content(current_app.config["BIMTEK_CONTENT_DIR"])
    if result.errors:
        _fail([str(e) for e in result.errors])
    questions = sum(len(b.questions) for b in result.banks)
    click.echo(
        f"{len(result.modules)} modul sah; {len(result.banks)} bank soal, {questions} soal sah."
    )
    figures, duplicates = check_banks(
        [(b.path, [q.source_data for q in b.questions]) for b in result.banks]
    )
    problems = []
    for bank in figures:
        click.echo(bank.summary())
        problems += [f"{bank.path}: {problem}" for problem in bank.problems]
    problems += [f"soal mirip: {duplicate}" for duplicate in duplicates]
    if problems and not skip_item_checks:
        _fail(problems)
    for problem in problems:
        click.echo(f"peringatan: {problem}")


@content_group.command("sync")
@with_appcontext
def content_sync():
    """Load changed content as new versions; progress on old versions is kept."""
    _run_sync()


@click.group("wilayah")
def wilayah_group():
    """Region codes (Kemendagri)."""


@wilayah_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prefix", help="Only this region and what lies under it, e.g. 73.22")
@with_appcontext
def wilayah_import(csv_file: Path, prefix: str | None):
    """Load a kode,nama CSV (one kabupaten, a province or the whole country)."""
    from bimtek.wilayah.service import import_wilayah, read_wilayah_csv

    rows, errors = read_wilayah_csv(csv_file, prefix)
    if errors:
        _fail([f"{csv_file}: {e}" for e in errors] + ["Tidak ada data yang dimuat."])
    with click.progressbar(length=len(rows), label="Memuat wilayah", file=sys.stderr) as bar:
        report = import_wilayah(rows, progress=bar.update)
    if report.errors:
        db.session.rollback()
        _fail([f"{csv_file}: {e}" for e in report.errors] + ["Tidak ada data yang dimuat."])
    db.session.commit()
    refresh_statistics()
    click.echo(report.summary())


def _exit_on_sigterm(signum, _frame):
    raise SystemExit(128 + signum)


@click.group("peserta")
def peserta_group():
    """Participants."""


@peserta_group.command("import")
@click.argument("xlsx_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows, leave rejected ones.")
@click.option(
    "--credentials-out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the new accounts' initial passwords here (.xlsx, a sheet per kecamatan).",
)
@click.option(
    "--office",
    "office_kode",
    help="Import as this office (wilayah code, e.g. 73.24): rows of other kabupaten/kota and "
    "NIKs of other offices are refused, as on the web page. Default: every region.",
)
@with_appcontext
def peserta_import(
    xlsx_file: Path, dry_run: bool, skip_invalid: bool, credentials_out, office_kode=None
):
    """Import participants from an .xlsx (the same importer as the web page)."""
    from bimtek.accounts import importer
    from bimtek.accounts.import_sheets import build_credentials
    from bimtek.spreadsheet import SpreadsheetError
    from bimtek.storage import STORAGE_FULL_MESSAGE, is_storage_full, remove_stale_parts, replacing
    from bimtek.timeutil import utcnow

    if credentials_out is not None:
        # A run killed while writing (kill -9, power cut) left its temporary sheet: passwords
        # that were never stored, so no use to anyone and not to be left lying around.
        for stale in remove_stale_parts(credentials_out):
            click.echo(f"Berkas sementara lama dihapus: {stale}", err=True)
    config = current_app.config
    office_id = _office(office_kode).id if office_kode else None
    try:
        parsed = importer.read_sheet(
            xlsx_file,
            max_bytes=config["BIMTEK_IMPORT_MAX_BYTES"],
            max_rows=config["BIMTEK_IMPORT_MAX_ROWS"],
            max_cells=config["BIMTEK_IMPORT_MAX_CELLS"],
            max_seconds=config["BIMTEK_IMPORT_MAX_SECONDS"],
        )
        plan = importer.plan_parsed(parsed, office_id=office_id)
    except SpreadsheetError as exc:
        _fail(f"{xlsx_file}: {exc} Tidak ada data yang diimpor.")
    for rejection in plan.rejected:
        click.echo(f"{xlsx_file}: {rejection}", err=True)
    click.echo(f"Lembar '{plan.sheet}', judul kolom di baris {plan.header.row}: {plan.summary()}.")
    if plan.rejected and not skip_invalid:
        _fail(
            "Tidak ada yang diimpor: perbaiki baris di atas, atau jalankan lagi dengan "
            "--skip-invalid untuk mengimpor hanya baris yang valid."
        )
    if dry_run:
        click.echo("Uji coba (--dry-run): tidak ada yang disimpan.")
        return
    # SIGTERM (systemd, docker stop, kill) ends the run through Python's unwinding, so the
    # transaction rolls back and the temporary sheet is deleted (the default would just die).
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        record = importer.new_import_record(xlsx_file.read_bytes(), xlsx_file.name, None)
        if office_id is not None:
            record.office_id = office_id
        result = importer.commit_plan(plan, record, None, skip_invalid=skip_invalid)
        if credentials_out is not None and result.created_ids:
            # The sheet is complete on disk before the passwords are committed, and takes its
            # name only after: an error or Ctrl-C in between deletes it and stores nothing.
            with replacing(credentials_out) as partial:
                credentials = importer.issue_initial_passwords(record, None)
                issued = utcnow().strftime("%d-%m-%Y %H.%M UTC")
                partial.write_bytes(build_credentials(credentials, issued))
                db.session.commit()
        else:
            db.session.commit()
    except BaseException as exc:
        db.session.rollback()
        if isinstance(exc, Exception) and is_storage_full(exc):
            _fail(f"{STORAGE_FULL_MESSAGE} Tidak ada data yang diimpor.")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    refresh_statistics()
    click.echo(f"Impor #{record.id} tersimpan: {plan.summary()}.")
    if result.created_ids:
        if credentials_out is not None:
            click.echo(f"Kata sandi awal akun baru: {credentials_out} (simpan dengan aman).")
        else:
            click.echo(
                "Akun baru belum punya kata sandi awal: unduh lembar kata sandi dari halaman "
                f"Impor peserta (impor #{record.id}), atau impor dengan --credentials-out."
            )


@click.group("user")
def user_group():
    """Accounts."""


@user_group.command("create")
@click.option("--role", type=click.Choice(["admin", "pelatih", "peserta"]), required=True)
@click.option("--username", help="For admin and pelatih.")
@click.option("--nama", help="Full name.")
@click.option("--nik", help="Peserta: 16-digit NIK (the sign-in name).")
@click.option("--badan", help="Peserta: PPK, PPS, KPPS, 'Sekretariat PPK', 'Sekretariat PPS'.")
@click.option("--jabatan", help="Peserta: Ketua, Anggota, Sekretaris, Staf.")
@click.option("--kecamatan", "kecamatan_kode", help="Peserta: kode kecamatan, e.g. 73.22.01")
@click.option("--desa", "desa_kode", help="Peserta: kode desa, e.g. 73.22.01.2001")
@click.option("--asn", is_flag=True, help="Peserta is a civil servant (ASN).")
@click.option("--generate-password", is_flag=True, help="Peserta: print a random initial password.")
@click.option(
    "--office",
    "office_kode",
    help="The office (wilayah code, e.g. 73.24; 'pusat'; or #id from 'office list'). Staff: "
    "the office they work for (default: the first office). Peserta: must be the office of "
    "their kecamatan.",
)
@with_appcontext
def user_create(role, username, nama, nik, badan, jabatan, kecamatan_kode, desa_kode, asn,
                generate_password, office_kode):  # fmt: skip
    """Create an account (the password is prompted)."""
    from bimtek.accounts import service

    office_id = _office(office_kode).id if office_kode else None
    try:
        if role == "peserta":
            password = None
            if not generate_password:
                password = click.prompt(
                    "Kata sandi awal", hide_input=True, confirmation_prompt=True
                )
                problem = service.password_problem(password, nik=nik, nama=nama)
                if problem:
                    raise service.AccountError(problem, "password")
            data = service.ParticipantData(
                nama=nama or "",
                nik=nik or "",
                badan=badan or "",
                jabatan=jabatan or "",
                kecamatan_kode=kecamatan_kode or "",
                desa_kode=desa_kode,
                is_asn=asn,
            )
            user, initial = service.create_participant(data, None, password, office_id=office_id)
            db.session.commit()
            click.echo(f"Peserta dibuat: {user.nama} (NIK {user.nik_masked}).")
            if generate_password:
                click.echo(f"Kata sandi awal: {initial}  (wajib diganti saat masuk pertama)")
        else:
            if not username:
                raise service.AccountError("--username wajib untuk admin dan pelatih.")
            password = click.prompt("Kata sandi", hide_input=True, confirmation_prompt=True)
            user = service.create_staff(
                role, username, nama or username, password, office_id=office_id
            )
            db.session.commit()
            click.echo(f"{user.role_label} dibuat: {user.username} ({_office_label(user)})")
    except service.AccountError as exc:
        db.session.rollback()
        _fail(f"Gagal: {exc}")


def _office(kode: str):
    from bimtek.offices import service as offices

    office = offices.by_kode(kode)
    if office is None:
        _fail(f"Kantor '{kode}' tidak ditemukan (lihat 'bimtek office list').")
    return office


def _office_label(user) -> str:
    from bimtek.offices.service import label_of

    return label_of(user.office_id)


@click.group("office")
def office_group():
    """Offices (satker): KPU RI, KPU Provinsi, KPU Kabupaten/Kota."""


@office_group.command("list")
@with_appcontext
def office_list():
    """Every office as a tree: #id, level, wilayah code, name, admin and pelatih accounts."""
    from bimtek.enums import Role
    from bimtek.offices import scope
    from bimtek.offices import service as offices

    offices.first_office()
    everyone = scope.Reach(0, frozenset(), frozenset(), everything=True)
    tree = offices.offices_in(everyone)
    admins, pelatih = offices.staff_counts(Role.ADMIN), offices.staff_counts(Role.PELATIH)
    for office, depth in tree:
        click.echo(
            f"#{office.id:<4} {'  ' * depth}{office.label}  [{office.level}, "
            f"{office.wilayah_kode or 'tanpa kode wilayah'}] admin {admins.get(office.id, 0)}, "
            f"pelatih {pelatih.get(office.id, 0)}"
        )
    click.echo(f"{len(tree)} kantor.")


@office_group.command("add")
@click.option("--level", type=click.Choice(["pusat", "provinsi", "kabkota"]), required=True)
@click.option("--kode", help="Wilayah code: 73 (provinsi), 73.24 (kabupaten/kota).")
@click.option("--parent", "parent_kode", help="The office above (wilayah code, 'pusat', #id); "
              "default: the office whose wilayah holds this one.")  # fmt: skip
@click.option("--nama", help="Name (default from the wilayah, e.g. KPU Kabupaten Luwu Timur).")
@with_appcontext
def office_add(level, kode, parent_kode, nama):
    """Add an office over a loaded wilayah."""
    from bimtek.offices import service as offices

    parent = _office(parent_kode) if parent_kode else None
    try:
        office = offices.add_office(level, kode, None, parent=parent, name=nama)
    except offices.OfficeError as exc:
        db.session.rollback()
        _fail(f"Gagal: {exc}")
    db.session.commit()
    above = f", di bawah {office.parent.label}" if office.parent else ""
    click.echo(f"Kantor #{office.id} dibuat: {office.label}{above}.")


@office_group.command("bind")
@click.option("--level", type=click.Choice(["provinsi", "kabkota"]), required=True)
@click.option("--kode", required=True, help="Wilayah code of the first office: 73.22.")
@click.option("--parent", "parent_kode", help="The office above (wilayah code, 'pusat', #id).")
@with_appcontext
def office_bind(level, kode, parent_kode):
    """Give the first office (a single-office database, not yet tied to a wilayah) its wilayah
    and place in the tree, before adding offices beside it."""
    from bimtek.offices import service as offices

    first = offices.first_office()
    if first.wilayah_kode:
        _fail(f"Kantor pertama sudah terikat ke wilayah {first.wilayah_kode} ({first.label}).")
    parent = _office(parent_kode) if parent_kode else None
    if not offices.default_name(level, kode) or len(kode) != (2 if level == "provinsi" else 5):
        _fail(
            f"Gagal: wilayah {kode} belum dimuat atau bukan kode {level} (bimtek wilayah import)."
        )
    taken = offices.by_kode(kode)
    if taken is not None:
        _fail(f"Gagal: wilayah {kode} sudah punya kantor: {taken.label}.")
    if parent is not None and parent.wilayah_kode and not kode.startswith(parent.wilayah_kode):
        _fail(f"Gagal: {kode} tidak berada di wilayah {parent.label}.")
    offices.bind(first, level, kode, parent)
    db.session.commit()
    click.echo(f"Kantor #{first.id} kini {first.level_label} {kode} ({first.label}).")


def _account(ref: str):
    from bimtek.accounts import service

    user = service.find_account(ref)
    if user is None:
        _fail(f"Akun '{ref}' tidak ditemukan (isi NIK, nama pengguna, atau #id dari 'user list').")
    return user


def _describe(user) -> str:
    login = user.username or user.nik_masked
    return f"#{user.id} {user.nama} ({user.role_label}, {login})"


def _limiter_is_shared() -> bool:
    from bimtek.accounts.signin_lock import storage_is_shared

    return storage_is_shared(current_app.config.get("RATELIMIT_STORAGE_URI"))


@user_group.command("list")
@click.option("--role", type=click.Choice(["admin", "pelatih", "peserta"]))
@click.option("--nonaktif", "inactive", is_flag=True, help="Only deactivated accounts.")
@click.option("--cari", "query", help="Part of the name, or a whole NIK or username.")
@with_appcontext
def user_list(role, inactive, query):
    """List accounts: #id, role, sign-in name (NIK masked), name, state."""
    from sqlalchemy import func, or_, select

    from bimtek.accounts.models import User

    stmt = select(User).order_by(User.role, User.nama, User.id)
    if role:
        stmt = stmt.where(User.role == role)
    if inactive:
        stmt = stmt.where(User.active.is_(False))
    if query:
        query = query.strip()
        stmt = stmt.where(
            or_(
                func.lower(User.nama).like(f"%{query.lower()}%"),
                User.nik == query,
                User.username == query.lower(),
            )
        )
    count = 0
    for user in db.session.scalars(stmt):
        count += 1
        state = "aktif" if user.active else "NONAKTIF"
        if user.active and user.must_change_password:
            state += ", wajib ganti sandi"
        login = user.username or user.nik_masked
        click.echo(f"#{user.id:<6} {user.role:<8} {login:<18} {user.nama}  [{state}]")
    click.echo(f"{count} akun.")


@user_group.command("reset-password")
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def user_reset_password(ref, yes):
    """Give REF (NIK, username or #id) a new initial password, shown once; sessions end."""
    from bimtek.accounts import service, signin_lock

    user = _account(ref)
    if not yes:
        click.confirm(
            f"Atur ulang kata sandi {_describe(user)}? Kata sandi lama tidak berlaku lagi "
            "dan semua sesinya diakhiri.",
            abort=True,
        )
    initial = service.reset_password(user, None)
    db.session.commit()
    if _limiter_is_shared():
        signin_lock.unlock(user)
    click.echo(f"Kata sandi awal baru untuk {_describe(user)}: {initial}")
    click.echo("Ditampilkan sekali saja; wajib diganti saat masuk berikutnya.")


@user_group.command("deactivate")
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def user_deactivate(ref, yes):
    """Switch REF off: no sign-in, no invitations; nothing is deleted."""
    from bimtek.accounts import service

    user = _account(ref)
    if not user.active:
        click.echo(f"{_describe(user)} sudah nonaktif.")
        return
    if not yes:
        click.confirm(
            f"Nonaktifkan {_describe(user)}? Akun tidak dapat masuk dan sesinya diakhiri.",
            abort=True,
        )
    try:
        service.deactivate(user, None)
    except service.AccountError as exc:
        db.session.rollback()
        _fail(f"Gagal: {exc}")
    db.session.commit()
    click.echo(f"{_describe(user)} dinonaktifkan.")


@user_group.command("reactivate")
@click.argument("ref")
@with_appcontext
def user_reactivate(ref):
    """Switch REF back on."""
    from bimtek.accounts import service

    user = _account(ref)
    if service.reactivate(user, None):
        db.session.commit()
        click.echo(f"{_describe(user)} aktif kembali.")
    else:
        click.echo(f"{_describe(user)} sudah aktif.")


@user_group.command("unlock")
@click.argument("ref")
@with_appcontext
def user_unlock(ref):
    """Lift REF's sign-in lock (failed-password counters) in the shared limiter storage."""
    from bimtek.accounts import service, signin_lock

    user = _account(ref)
    if not _limiter_is_shared():
        _fail(
            "Penghitung percobaan masuk tersimpan di memori proses server (memory://), "
            "di luar jangkauan perintah ini. Buka kunci dari halaman peserta di web, atau "
            "pakai penyimpanan bersama (BIMTEK_RATELIMIT_STORAGE_URL=redis://...)."
        )
    signin_lock.unlock(user)
    service.record_unlock(user, None)
    db.session.commit()
    click.echo(f"Kunci masuk {_describe(user)} dibuka.")


@click.command("demo")
@with_appcontext
def demo_command():
    """Seed Kab. Luwu Utara, two courses and demo accounts; print the logins (idempotent)."""
    from bimtek.demo import seed_demo

    logins = seed_demo()
    db.session.commit()
    click.echo("\nAkun demo (hanya untuk mencoba, jangan dipakai di server sungguhan):")
    for role, login, password in logins:
        click.echo(f"  {role:<32} {login:<18} {password}")


@click.group("export")
def export_group():
    """Spreadsheets for the KPU office."""


@export_group.command("rekap")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kursus", "course_id", type=int, help="Course id (needed when there are several)")
@click.option("--kecamatan", "kecamatan_kode", help="Only this kecamatan, e.g. 73.22.01")
@click.option(
    "--split-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write one workbook per kecamatan into this folder",
)
@with_appcontext
def export_rekap(out: Path, course_id, kecamatan_kode, split_dir):
    """Rekap per kecamatan: a summary sheet and one sheet per kecamatan (same as the web UI)."""
    from sqlalchemy import select

    from bimtek.learning.models import Course
    from bimtek.reports.queries import course_facts
    from bimtek.reports.rekap import RekapMeta, split_name, write_rekap, write_rekap_split
    from bimtek.settings.service import office_zone
    from bimtek.timeutil import utcnow
    from bimtek.wilayah.models import Kecamatan

    courses = db.session.scalars(select(Course).order_by(Course.id)).all()
    if course_id is None and len(courses) == 1:
        course_id = courses[0].id
    course = db.session.get(Course, course_id) if course_id else None
    if course is None:
        _fail(
            ["Pilih kursus dengan --kursus ID:"]
            + [f"  {c.id}  {c.title}" for c in courses]
            + ([] if courses else ["  (belum ada kursus)"])
        )
    if kecamatan_kode and db.session.get(Kecamatan, kecamatan_kode) is None:
        _fail(f"Kecamatan {kecamatan_kode} tidak terdaftar.")
    where = f"Kecamatan {kecamatan_kode}" if kecamatan_kode else "semua kecamatan"
    meta = RekapMeta(
        course_title=course.title,
        exported_at=utcnow(),
        timezone=office_zone(),
        filter_text=f"Kursus: {course.title}; {where}",
        badan=list(course.audience or []),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    summaries = write_rekap(course_facts(course, kecamatan_kode=kecamatan_kode), meta, str(out))
    people = sum(s.participants for s in summaries)
    click.echo(f"{out}: {len(summaries)} kecamatan, {people} peserta.")
    if split_dir:
        split_dir.mkdir(parents=True, exist_ok=True)
        written = write_rekap_split(
            course_facts(course, kecamatan_kode=kecamatan_kode),
            meta,
            lambda kode, nama: str(split_dir / split_name(kode, nama)),
        )
        click.echo(f"{split_dir}: {len(written)} berkas, satu per kecamatan.")


@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="Jobs run at the same time.")
@click.option(
    "--nice",
    default=10,
    show_default=True,
    help="Lower CPU priority, so pages stay quick while a big export runs (0: same as the web).",
)
@with_appcontext
def worker_command(workers: int, nice: int):
    """Run background jobs (rekap, certificate zips, bulk issue) until stopped."""
    from bimtek.jobs.queue import run_worker

    if nice and hasattr(os, "nice"):
        os.nice(nice)
    app = current_app._get_current_object()
    click.echo(f"bimtek: worker with {workers} threads on the job queue (Ctrl+C to stop)")
    run_worker(app, workers=workers)
