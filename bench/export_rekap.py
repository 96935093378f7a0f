"""The "Rekap per kecamatan" export at province size, against openpyxl's own floor.

Builds a database with 100,000 participants across 600 kecamatan (real codes and names from
Jawa Timur in shared/data), each with pre/post attempts, module progress and attendance, then
times `bimtek export rekap` and, in the same run, the floor: the same cells written straight to
openpyxl write-only without the database. Target: within 1.5x of the floor, peak under 150 MB.

.venv/bin/python bench/export_rekap.py [--participants 100000] [--kecamatan 600] [--postgres URL]
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import ROOT, bench_env, bimtek  # noqa: E402

# Beside the checkout, or wherever BIMTEK_WILAYAH_CSV says (a git worktree has no neighbour).
NATIONAL = Path(
    os.environ.get(
        "BIMTEK_WILAYAH_CSV", ROOT.parent / "shared" / "data" / "wilayah-kemendagri-2025.csv"
    )
)

# Runs in a child process so its peak RSS is the export's alone.
EXPORT = """
import resource, sys, time
from bimtek import create_app
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.reports.queries import course_facts
from bimtek.reports.rekap import RekapMeta, write_rekap
from bimtek.timeutil import utcnow
app = create_app()
with app.app_context():
    course = db.session.get(Course, 1)
    start = time.perf_counter()
    meta = RekapMeta(course.title, utcnow(), "Asia/Jakarta", "bench", list(course.audience))
    summaries = write_rekap(course_facts(course), meta, sys.argv[1])
    elapsed = time.perf_counter() - start
rows = sum(s.participants for s in summaries)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{elapsed:.3f} {rows} {len(summaries)} {peak:.0f}")
"""

# The floor: the same sheets, cells, number formats, header styles and widths, values made up
# in memory.
FLOOR = """
import random, resource, sys, time
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
participants, kecamatan = int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(1)
per = participants // kecamatan
start = time.perf_counter()
wb = Workbook(write_only=True)
summary = wb.create_sheet("Ringkasan")
bold = Font(bold=True)
def fmt(ws, v, f):
    c = WriteOnlyCell(ws, value=v); c.number_format = f; return c
title_font = Font(bold=True, size=13)
def styled(ws, v, font):
    c = WriteOnlyCell(ws, value=v); c.font = font; return c
for k in range(kecamatan):
    ws = wb.create_sheet(f"Kecamatan {k}")
    for col, width in enumerate([6, 30, 19, 16, 11, 24, 9, 9, 9, 8, 10, 20, 30, 17], start=1):
        ws.column_dimensions[chr(64 + col)].width = width
    ws.freeze_panes = "C5"
    ws.append([styled(ws, "Kecamatan", title_font)]); ws.append(["Diekspor"]); ws.append([])
    ws.append([styled(ws, h, bold) for h in "No Nama NIK Badan Jabatan Desa Modul Pre Post Gain Hadir Status Nomor Pakta".split()])
    for i in range(per):
        ws.append([i + 1, f"Peserta {k} {i}", f"{3500000000000000 + k * per + i}", "PPS", "Anggota",
                   f"Desa {i % 14}", rng.randint(0, 4), fmt(ws, 55.0, "0.0"), fmt(ws, 75.0, "0.0"),
                   fmt(ws, 0.44, "0.00"), fmt(ws, 1.0, "0%"), "Lulus post-test", "", None])
    ws.auto_filter.ref = f"A4:N{per + 4}"
for k in range(kecamatan):
    summary.append([k + 1, f"Kecamatan {k}", "35.01.01", per, 1, per - 1, 0, fmt(summary, 0.5, "0%"),
                    fmt(summary, 0.8, "0%"), fmt(summary, 55.0, "0.0"), fmt(summary, 75.0, "0.0"),
                    fmt(summary, 0.44, "0.00"), "sedang", fmt(summary, 0.7, "0%"), fmt(summary, 0.6, "0%"), 0])
wb.save(sys.argv[1])
elapsed = time.perf_counter() - start
print(f"{elapsed:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
"""


def populate(env: dict, participants: int, kecamatan_count: int) -> float:
    """Province-sized data with Core bulk inserts (setup, not measured)."""
    code = f"""
import random
from sqlalchemy import insert, select
from bimtek import create_app
from bimtek.extensions import db, refresh_statistics
from bimtek.learning.models import Course, ModuleProgress
from bimtek.quiz.models import Attempt, Quiz
from bimtek.accounts.models import User
from bimtek.attendance.models import TrainingSession, SessionInvite, Attendance
from bimtek.wilayah.models import Kecamatan, Desa
from bimtek.timeutil import utcnow
from datetime import timedelta
rng = random.Random(7)
app = create_app()
with app.app_context():
    kecamatan = db.session.scalars(select(Kecamatan).where(Kecamatan.kode.like("35.%"))
                                   .order_by(Kecamatan.kode).limit({kecamatan_count})).all()
    desa = {{}}
    for d in db.session.execute(select(Desa.kode, Desa.kecamatan_kode)):
        desa.setdefault(d[1], []).append(d[0])
    course = db.session.get(Course, 1)
    quizzes = {{q.kind: q.id for q in db.session.scalars(select(Quiz).where(Quiz.course_id == 1))}}
    versions = [cm.module.versions[-1].id for cm in course.course_modules]
    users = []
    for i in range({participants}):
        k = kecamatan[i % len(kecamatan)]
        ppk = i % 15 == 0
        users.append(dict(nama=f"Peserta {{i}} " + rng.choice(["Aminah", "Basri", "Dewi", "Rizal"]),
            nik=f"35{{i:014d}}", password_hash="!", role="peserta", badan="PPK" if ppk else "PPS",
            jabatan="Anggota", kecamatan_kode=k.kode,
            desa_kode=None if ppk else rng.choice(desa.get(k.kode) or [None]),
            must_change_password=False, active=True, is_asn=False,
            session_token=f"t{{i}}", created_at=utcnow()))
    db.session.execute(insert(User), users)
    db.session.commit()
    # Participants reach the app through the import, which then refreshes the planner
    # statistics (refresh_statistics); this stand-in for it does the same and no more. The
    # attempts, progress and attendance below arrive later through use, with no ANALYZE.
    refresh_statistics()
    ids = db.session.execute(select(User.id, User.kecamatan_kode).where(User.nik.like("35%"))).all()
    now = utcnow()
    attempts, progress = [], []
    for uid, _ in ids:
        pre = rng.randint(20, 80)
        attempts.append(dict(quiz_id=quizzes["pre"], user_id=uid, attempt_no=1, seed=1,
                             status="submitted", started_at=now, submitted_at=now, score=pre,
                             passed=pre >= 70, question_count=15))
        if rng.random() < 0.85:
            post = min(100, pre + rng.randint(0, 40))
            attempts.append(dict(quiz_id=quizzes["post"], user_id=uid, attempt_no=1, seed=1,
                                 status="submitted", started_at=now, submitted_at=now, score=post,
                                 passed=post >= 70, question_count=20))
        for v in versions[: rng.randint(0, len(versions))]:
            progress.append(dict(user_id=uid, module_version_id=v, opened_at=now, completed_at=now))
    db.session.execute(insert(Attempt), attempts)
    db.session.execute(insert(ModuleProgress), progress)
    sessions = []
    for k in kecamatan:
        sessions.append(dict(course_id=1, title=f"Bimtek {{k.nama}}", venue="Aula",
            starts_at=now - timedelta(days=1), ends_at=now - timedelta(hours=20),
            late_after_minutes=15, checkin_opens_minutes=60, invite_badan=[], invite_kecamatan=[k.kode],
            secret="s" * 64, created_at=now))
    db.session.execute(insert(TrainingSession), sessions)
    session_of = {{s.invite_kecamatan[0]: s.id for s in db.session.scalars(select(TrainingSession))
                   if s.invite_kecamatan}}
    invites, present = [], []
    for uid, kode in ids:
        sid = session_of[kode]
        invites.append(dict(session_id=sid, user_id=uid, by_rule=True, added_at=now))
        if rng.random() < 0.8:
            present.append(dict(session_id=sid, user_id=uid, status="hadir", method="kode",
                                checked_in_at=now, updated_at=now))
    db.session.execute(insert(SessionInvite), invites)
    db.session.execute(insert(Attendance), present)
    db.session.commit()
    print(len(ids), len(attempts), len(progress), len(present))
"""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    print(f"  data: {int(out[0]):,} participants, {int(out[1]):,} attempts, "
          f"{int(out[2]):,} module completions, {int(out[3]):,} attendance records")  # fmt: skip
    return time.perf_counter() - start


def run(label: str, env: dict, participants: int, kecamatan: int, workdir: Path) -> list[str]:
    print(f"{label}: preparing …")
    bimtek(env, "init")
    bimtek(env, "demo")
    bimtek(env, "wilayah", "import", str(NATIONAL), "--prefix", "35")
    setup = populate(env, participants, kecamatan)
    print(f"  setup took {setup:.0f} s (not measured)")
    out = workdir / f"rekap-{label}.xlsx"
    result = subprocess.run(
        [sys.executable, "-c", EXPORT, str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    elapsed, rows, groups, peak = float(result[0]), int(result[1]), int(result[2]), int(result[3])
    floor_out = workdir / "floor.xlsx"
    floor = subprocess.run(
        [sys.executable, "-c", FLOOR, str(floor_out), str(rows), str(groups)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    floor_s, floor_peak = float(floor[0]), int(floor[1])
    size = out.stat().st_size / 1024 / 1024
    print(f"  export: {rows:,} participants in {groups} kecamatan sheets, {elapsed:.1f} s "
          f"({rows / elapsed:,.0f} rows/s), peak RSS {peak} MB, file {size:.1f} MB")  # fmt: skip
    print(f"  floor (openpyxl write-only, same cells, no database): {floor_s:.1f} s "
          f"({rows / floor_s:,.0f} rows/s), peak RSS {floor_peak} MB")  # fmt: skip
    print(f"  ratio export/floor: {elapsed / floor_s:.2f} (target <= 1.5), "
          f"peak {'under' if peak < 150 else 'OVER'} 150 MB")  # fmt: skip
    problems = []
    if elapsed / floor_s > 1.5:
        problems.append(f"{label}: export {elapsed / floor_s:.2f}x the floor, target 1.5")
    if peak >= 150:
        problems.append(f"{label}: peak RSS {peak} MB, target under 150 MB")
    if rows != participants + 2:  # the demo's two participants are in the course too
        problems.append(f"{label}: {rows} participants exported of {participants + 2}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--kecamatan", type=int, default=600)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (an empty database)")
    args = parser.parse_args()
    random.seed(1)
    workdir = Path(tempfile.mkdtemp(prefix="bimtek-rekap-"))
    problems = run("sqlite", bench_env(), args.participants, args.kecamatan, workdir)
    if args.postgres:
        problems += run(
            "postgresql", bench_env(args.postgres), args.participants, args.kecamatan, workdir
        )
    if problems:
        print("FAILED: " + "; ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
