"""The rekap as a background job, and the rest of the app while it runs.

Builds the same data as bench/export_rekap.py (participants across real kecamatan), then:
1. the rekap by the direct function call (write_rekap over course_facts), in a child process:
   time and peak RSS;
2. the same rekap through the job (service.run, what the worker calls), in a child process:
   time and peak RSS;
3. gunicorn as `make serve` runs it (one worker, 8 threads) and `bimtek worker` beside it:
   the p50/p95 of the module page and of an answer save with the app idle, then again while
   an admin's rekap job runs in the worker (idle: before and after the job; busy: as many
   requests as fit while it runs); target p95 while busy <= 1.5x idle. The job's own time from
   the click to "done" and the worker's peak RSS are printed too.

.venv/bin/python bench/jobs.py [--participants 20000] [--kecamatan 120] [--requests 300]
    [--wilayah ../shared/data/wilayah-kemendagri-2025.csv] [--postgres URL] [--skip-sqlite]
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    BIN,
    CSRF_RE,
    ROOT,
    Client,
    bench_env,
    bimtek,
    percentile,
    start_gunicorn,
)
from bench.export_rekap import EXPORT, populate  # noqa: E402

THROUGH_JOB = """
import resource, sys, time
from bimtek import create_app
from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.jobs import service
from sqlalchemy import select
app = create_app()
with app.app_context():
    admin = db.session.scalars(select(User).where(User.username == "admin")).one()
    app.config["BIMTEK_JOB_INLINE_SCALE"] = 1e9  # run it here, in this process
    start = time.perf_counter()
    started = service.start("rekap_xlsx", {"course_id": 1, "kecamatan": None, "scope_user": None},
                            admin, "bench", 1)
    elapsed = time.perf_counter() - start
    job = service.get(started.job.id)
    assert job.status == "done", (job.status, job.error)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{elapsed:.3f} {job.progress_done} {peak:.0f}")
"""


def child(env: dict, code: str, *args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return out.stdout.split()


def timed_get(client: Client, path: str) -> float:
    start = time.perf_counter()
    status, _ = client.get(path)
    assert status == 200, (path, status)
    return time.perf_counter() - start


def timed_answer(client: Client, attempt: str, token: str, position: int, key: str) -> float:
    body = json.dumps({"position": position, "selected": [key]})
    start = time.perf_counter()
    client.conn.request(
        "POST",
        f"/ujian/{attempt}/jawab",
        body=body,
        headers={"Cookie": client.cookie, "Content-Type": "application/json",
                 "X-CSRFToken": token},
    )  # fmt: skip
    response = client.conn.getresponse()
    response.read()
    assert response.status == 200, response.status
    return time.perf_counter() - start


def _module_page(port: int) -> tuple[Client, str]:
    """A module page of course 1 and who reads it. Modules open once the pre-test is sent: a
    second demo participant sends theirs (blank) and reads the course page again."""
    other = Client(port)
    other.login("7322014107900001", "demo-peserta-2029")
    status, course = other.get("/kursus/1")
    quiz = re.search(rb'href="/kuis/(\d+)"', course).group(1).decode()
    other.post(f"/kuis/{quiz}/mulai", {}, token_page=f"/kuis/{quiz}")
    status, page = other.get(f"/kuis/{quiz}")
    attempt = re.search(rb"/ujian/(\d+)", page).group(1).decode()
    other.post(f"/ujian/{attempt}", {"action": "kirim"}, token_page=f"/ujian/{attempt}")
    status, course = other.get("/kursus/1")
    return other, re.search(rb'href="(/kursus/1/modul/[^"]+)"', course).group(1).decode()


def prepare_participant(port: int):
    """The demo PPS participant, a module page and an open attempt to save answers into."""
    module = _module_page(port)
    client = Client(port)
    client.login("7322011203950002", "demo-peserta-2029")
    status, course = client.get("/kursus/1")
    quiz = re.search(rb'href="/kuis/(\d+)"', course).group(1).decode()
    status, page = client.get(f"/kuis/{quiz}")
    token = CSRF_RE.search(page.decode()).group(1)
    client.request("POST", f"/kuis/{quiz}/mulai", {"csrf_token": token})
    status, page = client.get(f"/kuis/{quiz}")
    attempt = re.search(rb"/ujian/(\d+)", page).group(1).decode()
    status, take = client.get(f"/ujian/{attempt}")
    text = take.decode()
    block = text.split('data-position="1"', 1)[1].split("</fieldset>", 1)[0]
    keys = re.findall(r'name="q\d+" value="([a-z]+)"', block)
    return client, module, attempt, CSRF_RE.search(text).group(1), keys


def measure(client, module, attempt, token, keys, requests: int, stop=None):
    pages, saves = [], []
    for i in range(requests):
        if stop is not None and stop():
            break
        pages.append(timed_get(*module))  # (the reader, the page)
        saves.append(timed_answer(client, attempt, token, 1, keys[i % len(keys)]))
    return pages, saves


def line(label: str, values: list[float]) -> str:
    return (
        f"{label}: n={len(values)}, p50 {percentile(values, 50) * 1000:.1f} ms, "
        f"p95 {percentile(values, 95) * 1000:.1f} ms"
    )


def run(label, env, participants, kecamatan, requests, wilayah, workdir) -> None:
    env = dict(env)
    env.update(
        BIMTEK_QUEUE_URL=f"sqlite:///{workdir}/queue-{label}.db",
        BIMTEK_UPLOAD_DIR=str(workdir / f"uploads-{label}"),
        BIMTEK_JOB_INLINE_SCALE="0",
    )
    print(f"{label}: preparing …")
    bimtek(env, "init")
    bimtek(env, "demo")
    bimtek(env, "wilayah", "import", str(wilayah), "--prefix", "35")
    setup = populate(env, participants, kecamatan)
    print(f"  setup took {setup:.0f} s (not measured)")

    direct = child(env, EXPORT, str(workdir / f"direct-{label}.xlsx"))
    print(f"  direct call: {int(direct[1]):,} participants in {float(direct[0]):.1f} s, "
          f"peak RSS {direct[3]} MB")  # fmt: skip
    job = child(env, THROUGH_JOB)
    print(f"  through the job (service.run): {int(job[1]):,} participants in "
          f"{float(job[0]):.1f} s, peak RSS {job[2]} MB "
          f"(ratio {float(job[0]) / float(direct[0]):.2f})")  # fmt: skip

    gunicorn, port = start_gunicorn(env, workers=1, threads=8)
    worker = subprocess.Popen(
        [str(BIN / "bimtek"), "worker", "--workers", "1"],
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client, module, attempt, token, keys = prepare_participant(port)
        measure(client, module, attempt, token, keys, 20)  # warm up
        idle_pages, idle_saves = measure(client, module, attempt, token, keys, requests)

        admin = Client(port)
        admin.login("admin", "demo-admin-2029")
        start = time.perf_counter()
        status, page = admin.post("/laporan/1/rekap.xlsx", {})
        assert status == 303, status
        job_path = None
        status, _ = admin.get("/tugas")
        job_path = re.search(rb'href="(/tugas/\d+)"', _).group(1).decode()
        finished = threading.Event()

        def watch():
            while True:
                status, page = admin.get(job_path)
                if b"Selesai" in page or b"Gagal" in page:
                    finished.set()
                    return
                time.sleep(0.5)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        # As many requests as fit while the job runs (at most 50x --requests).
        busy_pages, busy_saves = measure(
            client, module, attempt, token, keys, requests * 50, stop=finished.is_set
        )
        finished.wait(1800)
        job_seconds = time.perf_counter() - start
        # Idle again after: the machine's own noise is spread over both idle samples.
        after_pages, after_saves = measure(client, module, attempt, token, keys, requests)
        idle_pages += after_pages
        idle_saves += after_saves
        worker_peak = "?"
        status_file = Path(f"/proc/{worker.pid}/status")
        if status_file.exists():
            hwm = re.search(r"VmHWM:\s+(\d+) kB", status_file.read_text())
            worker_peak = f"{int(hwm.group(1)) // 1024}" if hwm else "?"
        print(f"  rekap job via the worker: click to done {job_seconds:.1f} s, "
              f"worker peak RSS {worker_peak} MB")  # fmt: skip
        for name, idle, busy in (
            ("module page", idle_pages, busy_pages),
            ("answer save", idle_saves, busy_saves),
        ):
            ratio = percentile(busy, 95) / percentile(idle, 95)
            print(f"  {name}: idle {line('', idle)[2:]}; during the rekap {line('', busy)[2:]}; "
                  f"p95 ratio {ratio:.2f} (target <= 1.5)")  # fmt: skip
    finally:
        worker.terminate()
        gunicorn.terminate()
        worker.wait(30)
        gunicorn.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--kecamatan", type=int, default=120)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--wilayah",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "wilayah-kemendagri-2025.csv",
    )
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (an empty database)")
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bimtek-jobs-"))
    if not args.skip_sqlite:
        run("sqlite", bench_env(), args.participants, args.kecamatan, args.requests,
            args.wilayah, workdir)  # fmt: skip
    if args.postgres:
        run("postgresql", bench_env(args.postgres), args.participants, args.kecamatan,
            args.requests, args.wilayah, workdir)  # fmt: skip


if __name__ == "__main__":
    main()
