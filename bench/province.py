"""A province on PostgreSQL: the dashboards that climb the office tree, and the province rekap.

Builds KPU Provinsi Jawa Timur (35) over its 38 kabupaten/kota offices and 666 kecamatan (real
codes and names from shared/data) with N participants bulk-loaded with COPY, each with a pre-test,
most with a post-test, some modules read and one session's attendance, and course 1 offered by
the province. Then, through the app (gunicorn, 2 workers):

- the refresh of the stored dashboard sums (bimtek/reports/sums.py, the job worker's work):
  each kabupaten/kota's INSERT … SELECT, and the whole province (38 of them);
- the province dashboard (per kabupaten/kota), p95 over 20 requests: target < 2 s;
- one kabupaten/kota's dashboard (per kecamatan, as its own admin), p95 over 20: target < 0.5 s;
  both read the stored sums (the targets), and, for comparison, computed live in the request
  as before the sums (the old cost; --skip-live leaves it out);

and, in a child process (its peak RSS its own), the province rekap job (the summary workbook and
one workbook per kabupaten/kota in a zip) against the openpyxl floor (the same cells, workbooks
and zip written without the database): target <= 1.5x the floor, peak under 200 MB.
Exits non-zero on a missed target, or when a dashboard or the rekap misses a row.

.venv/bin/python bench/province.py [--participants 1000000] [--postgres URL] [--keep]
                                   [--skip-rekap] [--reuse] [--skip-live]
"""

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    ROOT,
    Client,
    bench_env,
    bimtek,
    percentile,
    start_gunicorn,
    summary,
)

NATIONAL = Path(
    os.environ.get(
        "BIMTEK_WILAYAH_CSV", ROOT.parent / "shared" / "data" / "wilayah-kemendagri-2025.csv"
    )
)
PROVINCE, KABUPATEN = "35", "35.07"  # Jawa Timur; Kabupaten Malang (the largest)
KABUPATEN_COUNT, KECAMATAN_COUNT = 38, 666
PASSWORD = "bench-provinsi-2029"
TARGET_PROVINCE_S, TARGET_KABUPATEN_S = 2.0, 0.5
TARGET_RATIO, TARGET_PEAK_MB = 1.5, 200
REQUESTS = 20

# Offices, admins and the province course (setup, not measured).
OFFICES = f"""
from sqlalchemy import select
from bimtek import create_app
from bimtek.accounts.service import create_staff
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.offices import service as offices
from bimtek.offices.models import KABKOTA, PROVINSI
from bimtek.wilayah.models import Kabupaten
app = create_app()
with app.app_context():
    province = offices.create_office(PROVINSI, "{PROVINCE}")
    kabupaten = db.session.scalars(
        select(Kabupaten.kode).where(Kabupaten.provinsi_kode == "{PROVINCE}")
    ).all()
    ids = {{kode: offices.create_office(KABKOTA, kode, parent=province).id for kode in kabupaten}}
    create_staff("admin", "admin-jatim", "Operator KPU Jatim", "{PASSWORD}", office_id=province.id)
    create_staff("admin", "admin-malang", "Operator KPU Kab. Malang", "{PASSWORD}",
                 office_id=ids["{KABUPATEN}"])
    db.session.get(Course, 1).office_id = province.id  # a province course, run by all 38
    db.session.commit()
    print(province.id, len(ids))
"""


def database(url: str | None) -> tuple[str, str | None]:
    """The database to use: the one given, or a fresh one on the local server (dropped after)."""
    if url:
        return url, None
    name = f"bimtek_bench_province_{os.getpid()}"
    with psycopg.connect("postgresql://127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://127.0.0.1:5432/{name}", name


def drop(name: str) -> None:
    with psycopg.connect("postgresql://127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _copy(cur, statement: str, rows) -> int:
    """COPY rows (tuples of str/int/float/bool/None) as text, a few MB at a time: formatting
    the lines ourselves is several times faster than write_row for millions of rows."""
    count, lines = 0, []

    def cell(v):
        if v is None:
            return "\\N"
        if v is True or v is False:
            return "t" if v else "f"
        return str(v)

    with cur.copy(statement) as copy:
        for row in rows:
            lines.append("\t".join(map(cell, row)))
            count += 1
            if len(lines) >= 50_000:
                copy.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            copy.write("\n".join(lines) + "\n")
    return count


def load(url: str, participants: int) -> dict:
    """COPY the participants, their attempts, module progress, invitations and attendance."""
    counts = {}
    with psycopg.connect(url) as conn:
        kecamatan = [
            r[0]
            for r in conn.execute(
                "SELECT kode FROM kecamatan WHERE kode LIKE %s ORDER BY kode", (PROVINCE + ".%",)
            )
        ]
        desa: dict[str, list[str]] = {}
        for kode, kec in conn.execute(
            "SELECT kode, kecamatan_kode FROM desa WHERE kode LIKE %s", (PROVINCE + ".%",)
        ):
            desa.setdefault(kec, []).append(kode)
        office = dict(
            conn.execute("SELECT wilayah_kode, id FROM office WHERE wilayah_kode IS NOT NULL")
        )
        quiz = dict(conn.execute("SELECT kind, id FROM quiz WHERE course_id = 1"))
        versions = [
            r[0]
            for r in conn.execute(
                "SELECT max(v.id) FROM module_version v JOIN course_module cm "
                "ON cm.module_id = v.module_id WHERE cm.course_id = 1 GROUP BY v.module_id"
            )
        ]
        first = conn.execute('SELECT coalesce(max(id), 0) + 1 FROM "user"').fetchone()[0]
        names = ["Aminah", "Basri", "Dewi", "Rizal", "Siti", "Wahyu"]
        k = len(kecamatan)

        def people():
            for i in range(participants):
                kec = kecamatan[i % k]
                ppk = i % 15 == 0
                villages = desa.get(kec) or [None]
                yield (
                    first + i, f"Peserta {i} {names[i % 6]}", f"35{i:014d}", "!", "peserta",
                    "PPK" if ppk else "PPS", "Anggota", kec,
                    None if ppk else villages[(i // k) % len(villages)], False, office[kec[:5]],
                    False, True, f"b{i}", "2026-11-01 00:00:00",
                )  # fmt: skip

        def attempts():
            for i in range(participants):
                pre = 20 + (i * 7919) % 61
                yield (quiz["pre"], first + i, 1, 1, "submitted", "2026-11-02", "2026-11-02",
                       15, float(pre), pre >= 70)  # fmt: skip
                if i % 20 < 17:  # 85 % took the post-test
                    post = min(100, pre + (i * 104729) % 41)
                    yield (quiz["post"], first + i, 1, 1, "submitted", "2026-11-09",
                           "2026-11-09", 20, float(post), post >= 70)  # fmt: skip

        def progress():
            for i in range(participants):
                for v in versions[: i % (len(versions) + 1)]:
                    yield (first + i, v, "2026-11-03", "2026-11-03")

        with conn.cursor() as cur:
            counts["participants"] = _copy(
                cur,
                'COPY "user" (id, nama, nik, password_hash, role, badan, jabatan, '
                "kecamatan_kode, desa_kode, is_asn, office_id, must_change_password, active, "
                "session_token, created_at) FROM STDIN",
                people(),
            )
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('\"user\"', 'id'), %s)",
                (first + participants,),
            )
            counts["attempts"] = _copy(
                cur,
                "COPY attempt (quiz_id, user_id, attempt_no, seed, status, started_at, "
                "submitted_at, question_count, score, passed) FROM STDIN",
                attempts(),
            )
            counts["module completions"] = _copy(
                cur,
                "COPY module_progress (user_id, module_version_id, opened_at, completed_at) "
                "FROM STDIN",
                progress(),
            )
            # One session per kecamatan, every participant of it invited, 80 % present.
            sessions = {}
            for kec in kecamatan:
                sessions[kec] = conn.execute(
                    "INSERT INTO training_session (course_id, office_id, title, venue, starts_at, "
                    "ends_at, late_after_minutes, checkin_opens_minutes, invite_badan, "
                    "invite_kecamatan, secret, created_at) VALUES (1, %s, %s, 'Aula', "
                    "'2026-11-05 01:00', '2026-11-05 05:00', 15, 60, '[]', %s, %s, "
                    "'2026-11-01') RETURNING id",
                    (office[kec[:5]], f"Bimtek {kec}", f'["{kec}"]', "s" * 64),
                ).fetchone()[0]
            _copy(
                cur,
                "COPY session_invite (session_id, user_id, by_rule, added_at) FROM STDIN",
                ((sessions[kecamatan[i % k]], first + i, True, "2026-11-04")
                 for i in range(participants)),
            )  # fmt: skip
            counts["attendance records"] = _copy(
                cur,
                "COPY attendance (session_id, user_id, status, method, checked_in_at, "
                "updated_at) FROM STDIN",
                ((sessions[kecamatan[i % k]], first + i, "hadir", "kode", "2026-11-05 01:10",
                  "2026-11-05 01:10") for i in range(participants) if i % 5),
            )  # fmt: skip
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        # SSD storage: what the README asks a deployment to set (index reads cost little more
        # than sequential ones), so a kabupaten's dashboard reads only its participants' rows.
        conn.execute(f'ALTER DATABASE "{conn.info.dbname}" SET random_page_cost = 1.1')
    return counts


# The worker's refresh of the stored sums, unit by unit, timed (a child process, as the worker).
REFRESH = f"""
import time
from bimtek import create_app
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.reports import sums
app = create_app()
with app.app_context():
    course = db.session.get(Course, 1)
    units = sums.units_for(None, "{PROVINCE}")
    began = time.perf_counter()
    for unit in units:
        t = time.perf_counter()
        people = sums.refresh(course, unit)
        db.session.commit()
        print(unit, people, time.perf_counter() - t)
    print("total", len(units), time.perf_counter() - began)
    sums.refresh(course, sums.REST)  # participants without a kecamatan: a kabupaten's page reads it
    db.session.commit()
"""


def refresh(env: dict) -> dict:
    """Seconds to refresh each kabupaten/kota's sums, and the whole province's."""
    out = subprocess.run(
        [sys.executable, "-c", REFRESH], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    per = {}
    total = 0.0
    for line in out:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "total":
            total = float(parts[2])
        elif len(parts) == 3:
            per[parts[0]] = (int(parts[1]), float(parts[2]))
    times = [t for _, t in per.values()]
    print(f"  sums refresh per kabupaten/kota ({len(per)}): {summary(times)}; "
          f"{KABUPATEN}: {per[KABUPATEN][1]:.2f} s for {per[KABUPATEN][0]:,} participants")  # fmt: skip
    print(f"  sums refresh of the whole province: {total:.1f} s "
          f"({sum(p for p, _ in per.values()):,} participants)")  # fmt: skip
    return {"per": per, "total": total}


def dashboards(
    env: dict,
    participants: int,
    kabupaten_people: int,
    kecamatan_in_kab: int,
    mode: str = "sums",
):
    """p95 of the province's and one kabupaten's dashboard, checked for their rows.

    mode "sums": both read the stored sums (refreshed just before; nothing is stale during the
    run); "live": both computed in the request, as before the sums (no target)."""
    env = dict(env)
    if mode == "sums":
        env.update(BIMTEK_REPORT_SUMS_LIVE_BELOW="0", BIMTEK_REPORT_SUMS_MAX_AGE="86400")
    else:
        env.update(BIMTEK_REPORT_SUMS_LIVE_BELOW=str(10**9))
    # A timeout long enough to measure a slow dashboard rather than have gunicorn kill it.
    proc, port = start_gunicorn(env, options=["--workers", "2", "--timeout", "300"])
    problems, figures = [], {}
    try:
        for label, login, path, rows, people, target in (
            ("province", "admin-jatim", "/laporan?kursus=1", KABUPATEN_COUNT, participants,
             TARGET_PROVINCE_S),
            ("kabupaten", "admin-malang", "/laporan?kursus=1", kecamatan_in_kab,
             kabupaten_people, TARGET_KABUPATEN_S),
        ):  # fmt: skip
            client = Client(port, retry=False)
            client.conn.timeout = 300  # before the first request opens the socket
            client.login(login, PASSWORD)
            began = time.perf_counter()
            status, page = client.get(path)  # warm-up (and the check)
            warm = time.perf_counter() - began
            text = page.decode()
            groups = len(re.findall(r'<tr>\s*<td><a href="/laporan/1/', text))
            shown = _participants_total(text)
            if status != 200 or groups != rows or shown != people:
                problems.append(
                    f"{label} dashboard: status {status}, {groups} rows of {rows}, "
                    f"{shown} participants of {people}"
                )
            times = []
            requests = REQUESTS
            if "Angka per " not in text and mode == "sums":
                problems.append(f"{label} dashboard did not read the stored sums")
            if warm > 5 * target:  # far off: a few requests tell as much, in less time
                requests = 5
                print(f"  {label} dashboard: warm-up took {warm:.1f} s; timing {requests} requests")
            for _ in range(requests):
                start = time.perf_counter()
                status, _ = client.get(path)
                times.append(time.perf_counter() - start)
                if status != 200:
                    problems.append(f"{label} dashboard answered {status}")
            p95 = percentile(times, 95)
            figures[label] = p95
            print(f"  {label} dashboard, {mode} ({rows} rows, {people:,} participants): "
                  f"{summary(times)} — target p95 < {target} s")  # fmt: skip
            if p95 >= target and mode == "sums":
                problems.append(f"{label} dashboard p95 {p95:.2f} s, target < {target} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return problems, figures


def _participants_total(page: str) -> int:
    found = re.search(r"<dt>Peserta</dt><dd>([\d.,]+)", page)
    return int(re.sub(r"[.,]", "", found.group(1))) if found else -1


# The job's own code (bimtek.reports.jobs.rekap_zip) in a child process, as the worker runs it.
REKAP = """
import resource, sys, time
from pathlib import Path
from sqlalchemy import select
from bimtek import create_app
from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.reports.jobs import rekap_zip

class Ctx:
    def progress(self, done, total=None, message=None):
        pass
    def result_file(self, name, mime):
        return Path(sys.argv[1])

app = create_app()
with app.app_context():
    user = db.session.scalars(select(User).where(User.username == "admin-jatim")).one()
    start = time.perf_counter()
    message = rekap_zip(Ctx(), {"course_id": 1, "office": user.office_id, "wilayah": None}, user)
    elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{elapsed:.3f} {peak:.0f} {message!r}")
"""

# The floor: the same workbooks (a summary per kabupaten/kota, a sheet per kecamatan with the same
# cells, formats and widths) written into one zip with openpyxl write-only, values made up.
FLOOR = """
import io, resource, sys, time, zipfile
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
participants, kabupaten, kecamatan = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
bold, title_font = Font(bold=True), Font(bold=True, size=13)
def fmt(ws, v, f):
    c = WriteOnlyCell(ws, value=v); c.number_format = f; return c
def styled(ws, v, font):
    c = WriteOnlyCell(ws, value=v); c.font = font; return c
def summary_row(ws, k, per):
    return [k + 1, f"Kecamatan {k}", "35.01.01", per, 1, per - 1, 0, fmt(ws, 0.5, "0%"),
            fmt(ws, 0.8, "0%"), per, fmt(ws, 55.0, "0.0"), fmt(ws, 75.0, "0.0"),
            fmt(ws, 0.44, "0.00"), "sedang", fmt(ws, 0.7, "0%"), fmt(ws, 0.6, "0%"), 0]
per = participants // kecamatan
start = time.perf_counter()
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as archive:
    for b in range(kabupaten):
        wb = Workbook(write_only=True)
        summary = wb.create_sheet("Ringkasan")
        mine = range(b, kecamatan, kabupaten)
        for k in mine:
            ws = wb.create_sheet(f"Kecamatan {k}")
            for col, width in enumerate([6, 30, 19, 16, 11, 24, 10, 9, 9, 8, 10, 20, 30, 17], 1):
                ws.column_dimensions[chr(64 + col)].width = width
            ws.freeze_panes = "C5"
            ws.append([styled(ws, "Kecamatan", title_font)]); ws.append(["Diekspor"]); ws.append([])
            ws.append([styled(ws, h, bold) for h in
                       "No Nama NIK Badan Jabatan Desa Modul Pre Post Gain Hadir Status Nomor Pakta".split()])
            for i in range(per):
                ws.append([i + 1, f"Peserta {k} {i}", f"{3500000000000000 + k * per + i}", "PPS",
                           "Anggota", f"Desa {i % 14}", fmt(ws, 0.5, "0%"), fmt(ws, 55.0, "0.0"),
                           fmt(ws, 75.0, "0.0"), fmt(ws, 0.44, "0.00"), fmt(ws, 1.0, "0%"),
                           "Lulus post-test", "", None])
            ws.auto_filter.ref = f"A4:N{per + 4}"
        for k in mine:
            summary.append(summary_row(summary, k, per))
        buf = io.BytesIO()
        wb.save(buf)
        archive.writestr(f"rekap-{b}.xlsx", buf.getvalue())
elapsed = time.perf_counter() - start
print(f"{elapsed:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
"""


def rekap(env: dict, participants: int, workdir: Path) -> tuple[list[str], dict]:
    out = workdir / "rekap-provinsi.zip"
    result = subprocess.run(
        [sys.executable, "-c", REKAP, str(out)], env=env, capture_output=True, text=True
    )
    if result.returncode:
        print(result.stderr)
        return [f"province rekap failed: {result.stderr.strip().splitlines()[-1]}"], {}
    elapsed, peak = float(result.stdout.split()[0]), int(result.stdout.split()[1])
    rows, files = _count_rows(out)
    floor_out = workdir / "floor.zip"
    floor = subprocess.run(
        [sys.executable, "-c", FLOOR, str(floor_out), str(participants), str(KABUPATEN_COUNT),
         str(KECAMATAN_COUNT)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    floor_s, floor_peak = float(floor[0]), int(floor[1])
    size = out.stat().st_size / 1024 / 1024
    ratio = elapsed / floor_s
    print(
        f"  province rekap: {rows:,} participant rows in {files} kabupaten/kota workbooks, "
        f"{elapsed:.1f} s ({rows / elapsed:,.0f} rows/s), peak RSS {peak} MB, zip {size:.1f} MB"
    )
    print(
        f"  floor (openpyxl write-only, same workbooks and cells, no database): {floor_s:.1f} s "
        f"({participants / floor_s:,.0f} rows/s), peak RSS {floor_peak} MB"
    )
    print(f"  ratio rekap/floor: {ratio:.2f} (target <= {TARGET_RATIO}), peak "
          f"{'under' if peak < TARGET_PEAK_MB else 'OVER'} {TARGET_PEAK_MB} MB")  # fmt: skip
    problems = []
    if ratio > TARGET_RATIO:
        problems.append(f"province rekap {ratio:.2f}x the floor, target {TARGET_RATIO}")
    if peak >= TARGET_PEAK_MB:
        problems.append(f"province rekap peak RSS {peak} MB, target under {TARGET_PEAK_MB} MB")
    if rows != participants or files != KABUPATEN_COUNT:
        problems.append(
            f"province rekap: {rows} rows of {participants}, {files} files of {KABUPATEN_COUNT}"
        )
    return problems, {"rekap_s": elapsed, "floor_s": floor_s, "peak": peak}


def _count_rows(path: Path) -> tuple[int, int]:
    """Participant rows in the kabupaten/kota workbooks: the <row> elements of every kecamatan
    sheet (sheet1 is the summary) less its four header rows. Parsing the XML's rows this way
    takes seconds where openpyxl's reader takes minutes for a million rows."""
    rows = files = 0
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if "ringkasan" in name:
                continue
            files += 1
            with zipfile.ZipFile(io.BytesIO(archive.read(name))) as book:
                for sheet in book.namelist():
                    if (
                        sheet.startswith("xl/worksheets/sheet")
                        and sheet != "xl/worksheets/sheet1.xml"
                    ):
                        rows += book.read(sheet).count(b"<row ") - 4
    return rows, files


def setup(env: dict, url: str, participants: int, problems: list[str]) -> dict:
    for step in (
        ["init"],
        ["demo"],
        ["wilayah", "import", str(NATIONAL), "--prefix", PROVINCE],
    ):
        began = time.perf_counter()
        bimtek(env, *step)
        print(f"  bimtek {step[0]}: {time.perf_counter() - began:.0f} s")
    out = subprocess.run(
        [sys.executable, "-c", OFFICES], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    if int(out[1]) != KABUPATEN_COUNT:
        problems.append(f"{out[1]} kabupaten/kota offices, expected {KABUPATEN_COUNT}")
    began = time.perf_counter()
    counts = load(url, participants)
    print(f"  COPY and VACUUM ANALYZE: {time.perf_counter() - began:.0f} s")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="an empty PostgreSQL database (default: a fresh one)")
    parser.add_argument("--keep", action="store_true", help="keep the database made for the run")
    parser.add_argument("--skip-rekap", action="store_true", help="the dashboards only")
    parser.add_argument(
        "--reuse", action="store_true", help="--postgres is a database kept by an earlier run"
    )
    parser.add_argument(
        "--skip-live", action="store_true", help="no dashboards computed live (the old cost)"
    )
    args = parser.parse_args()
    url, made = database(args.postgres)
    workdir = Path(tempfile.mkdtemp(prefix="bimtek-province-"))
    problems: list[str] = []
    try:
        env = bench_env(url)
        # Two gunicorn workers share the sign-in limits through Redis, as a deployment would.
        env.setdefault("BIMTEK_RATELIMIT_STORAGE_URL", "redis://127.0.0.1:6379/0")
        print(f"province of {args.participants:,} participants on PostgreSQL: preparing …")
        start = time.perf_counter()
        counts = {}
        if args.reuse:  # a database this script loaded before (--keep): measure only
            bimtek(env, "init")  # migrations added since (0015: the report sums)
            with psycopg.connect(url) as conn:
                counts["participants"] = conn.execute(
                    "SELECT count(*) FROM \"user\" WHERE role = 'peserta' AND nik LIKE '35%'"
                ).fetchone()[0]
            if counts["participants"] != args.participants:
                sys.exit(f"{url} holds {counts['participants']:,} participants, not the "
                         f"{args.participants:,} asked for")  # fmt: skip
        else:
            counts = setup(env, url, args.participants, problems)
        with psycopg.connect(url) as conn:
            kecamatan = conn.execute(
                "SELECT count(*) FROM kecamatan WHERE kode LIKE %s", (PROVINCE + ".%",)
            ).fetchone()[0]
            in_kab = conn.execute(
                "SELECT count(*) FROM kecamatan WHERE kabupaten_kode = %s", (KABUPATEN,)
            ).fetchone()[0]
            kab_people = conn.execute(
                "SELECT count(*) FROM \"user\" WHERE role = 'peserta' AND kecamatan_kode IN "
                "(SELECT kode FROM kecamatan WHERE kabupaten_kode = %s)",
                (KABUPATEN,),
            ).fetchone()[0]
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        if kecamatan != KECAMATAN_COUNT:
            problems.append(f"{kecamatan} kecamatan loaded, expected {KECAMATAN_COUNT}")
        print("  data: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        print(f"  database size {size / 1024 / 1024:,.0f} MB; setup took "
              f"{time.perf_counter() - start:.0f} s (not measured)")  # fmt: skip
        refresh(env)
        found, _ = dashboards(env, args.participants, kab_people, in_kab, "sums")
        problems += found
        if not args.skip_live:
            found, _ = dashboards(env, args.participants, kab_people, in_kab, "live")
            problems += found
        if not args.skip_rekap:
            found, _ = rekap(env, args.participants, workdir)
            problems += found
    finally:
        if made and not args.keep:
            drop(made)
        elif made:
            print(f"  kept database {url}")
    if problems:
        print("FAILED: " + "; ".join(problems))
        sys.exit(1)
    print("all targets met")


if __name__ == "__main__":
    main()
