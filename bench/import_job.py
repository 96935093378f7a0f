"""The 30,000-row participants upload through the web: in the request vs as jobs.

.venv/bin/python bench/import_job.py [--rows 30000] [--nice 0] [--no-postgres]

For each database (a fresh SQLite file, then a fresh PostgreSQL database if one answers on
127.0.0.1:5432), the demo office and one generated sheet (bench/import_peserta.py's), through
gunicorn (one sync worker) with a real HTTP client:

- request path: BIMTEK_JOB_INLINE_SCALE=1e9, so the parse and the commit run inside the
  requests (upload -> preview -> confirm), as every upload did before the parse became a job;
  the time of each request and the gunicorn worker's peak RSS;
- job path: the real thresholds; the upload answers at once with the job page, which is
  polled (as its meta refresh does) until it leads to the preview; then the confirm, whose
  commit job is polled to "Selesai". The total, the longest single request, the gunicorn
  worker's and the `bimtek worker`'s peak RSS (VmHWM).

Exits 1 when an imported participant is missing on either path. The worker runs at
`--nice` (default 0: the same priority as the web, so the two paths compare code, not
scheduling; `bimtek worker` itself defaults to 10). The machine may be shared: compare the two
paths of one run, not runs.
"""

import argparse
import http.client
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import BIN, CSRF_RE, ROOT, Client, bench_env, bimtek, start_gunicorn  # noqa: E402
from bench.import_peserta import build_sheet  # noqa: E402

NAMES = "Peserta Nomor %"


def peak_mb(pid: int) -> float | None:
    status = Path(f"/proc/{pid}/status")
    try:
        found = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
    except OSError:
        return None
    return int(found.group(1)) / 1024 if found else None


def gunicorn_worker(master: subprocess.Popen) -> int:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return int(children[0])


def upload(client: Client, data: bytes, name: str):
    status, page = client.get("/admin/peserta/impor")
    token = CSRF_RE.search(page.decode()).group(1)
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{token}\r\n".encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="berkas"; filename="{name}"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n".encode(),
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    headers = {"Cookie": client.cookie, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    client.conn.request("POST", "/admin/peserta/impor", body=body, headers=headers)
    response = client.conn.getresponse()
    response.read()
    return response.status, response.getheader("Location") or ""


def patient(port: int) -> Client:
    """The harness's client, waiting as long as an in-request parse of 30,000 rows takes."""
    client = Client(port)
    client.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    return client


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)


def timed(call):
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def path_of(location: str) -> str:
    return re.sub(r"^https?://[^/]+", "", location)


def imported(env: dict) -> int:
    code = (
        "from sqlalchemy import func, select\n"
        "from bimtek import create_app\nfrom bimtek.accounts.models import User\n"
        "from bimtek.extensions import db\n"
        "with create_app().app_context():\n"
        "    print(db.session.scalar(select(func.count()).select_from(User)"
        f".where(User.nama.like({NAMES!r}))))\n"
    )
    return int(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True).stdout.split()[-1])  # fmt: skip


def prepare(env: dict) -> None:
    bimtek(env, "init")
    bimtek(env, "demo")


def desa_of(env: dict) -> list[tuple[str, str, str, str]]:
    code = (
        "from sqlalchemy import select\nfrom bimtek import create_app\n"
        "from bimtek.extensions import db\nfrom bimtek.wilayah.models import Desa, Kecamatan\n"
        "with create_app().app_context():\n"
        "    for d, k in db.session.execute(select(Desa, Kecamatan).join(Kecamatan)):\n"
        "        print(k.kode, k.nama, d.kode, d.nama, sep='\\t')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return [tuple(line.split("\t")) for line in out.splitlines() if line.count("\t") == 3]


def request_path(env: dict, sheet: bytes, rows: int) -> dict:
    # Measured, not refused: on a busy machine the in-request read passes its 60 s clock.
    env = {**env, "BIMTEK_JOB_INLINE_SCALE": "1e9", "BIMTEK_IMPORT_MAX_SECONDS": "1800"}
    gunicorn, port = start_gunicorn(env, workers=1, options=["--workers", "1", "--timeout", "600"])
    try:
        client = patient(port)
        client.login("admin", "demo-admin-2029")
        start = time.perf_counter()
        up, (status, location) = timed(lambda: upload(client, sheet, "peserta.xlsx"))
        assert status == 302 and "/admin/peserta/impor/" in location, (status, location)
        preview_path = path_of(location)
        seen, (status, page) = timed(lambda: client.get(preview_path))
        assert status == 200 and b"Pratinjau impor" in page, status
        done, (status, _page) = timed(
            lambda: client.post(preview_path + "/konfirmasi", {"mode": "semua"}, preview_path)
        )
        assert status == 302, status
        total = time.perf_counter() - start
        web_peak = peak_mb(gunicorn_worker(gunicorn))
    finally:
        stop(gunicorn)
    return {"total": total, "upload": up, "preview": seen, "confirm": done, "web": web_peak,
            "imported": imported(env)}  # fmt: skip


def wait_job(client: Client, path: str, follow: bool, longest: list[float]) -> tuple[str, str]:
    """Poll a job page as its meta refresh would; (final status text or the page it led to)."""
    while True:
        elapsed, (status, page) = timed(lambda: client.get(path))
        longest.append(elapsed)
        if follow and status == 303:
            return "led", path_of(client.location)
        text = page.decode()
        state = re.search(r'id="status-tugas"[^>]*><strong>([^<]+)</strong>([^<]*)', text)
        if state and state.group(1) in ("Selesai", "Gagal", "Dibatalkan"):
            error = re.search(r'class="flash flash-error" role="alert">([^<]+)<', text)
            return state.group(1), (error.group(1) if error else state.group(2))
        time.sleep(0.5)


def job_path(env: dict, sheet: bytes, rows: int, nice: int) -> dict:
    env = {**env, "BIMTEK_JOB_INLINE_SCALE": "1", "BIMTEK_IMPORT_JOB_MAX_SECONDS": "1800"}
    gunicorn, port = start_gunicorn(env, workers=1, options=["--workers", "1", "--timeout", "600"])
    worker = subprocess.Popen(
        [str(BIN / "bimtek"), "worker", "--workers", "1", "--nice", str(nice)],
        env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(2)  # the worker's start-up is not the import's time
    requests: list[float] = []
    try:
        client = patient(port)
        client.login("admin", "demo-admin-2029")
        start = time.perf_counter()
        up, (status, location) = timed(lambda: upload(client, sheet, "peserta.xlsx"))
        requests.append(up)
        assert status == 303 and "/tugas/" in location, (status, location)
        outcome, preview_path = wait_job(client, path_of(location), True, requests)
        assert outcome == "led", (outcome, preview_path)
        parsed = time.perf_counter() - start
        seen, (status, page) = timed(lambda: client.get(preview_path))
        requests.append(seen)
        assert status == 200 and b"Pratinjau impor" in page, status
        done, (status, _page) = timed(
            lambda: client.post(preview_path + "/konfirmasi", {"mode": "semua"}, preview_path)
        )
        requests.append(done)
        assert status in (302, 303), status
        if status == 303:  # more than import_commit's inline limit (3,000): the worker
            outcome, message = wait_job(client, path_of(client.location), False, requests)
            assert outcome == "Selesai", (outcome, message)
        total = time.perf_counter() - start
        web_peak = peak_mb(gunicorn_worker(gunicorn))
        worker_peak = peak_mb(worker.pid)
    finally:
        stop(worker)
        stop(gunicorn)
    return {"total": total, "upload": up, "parsed": parsed, "preview": seen, "confirm": done,
            "longest": max(requests), "web": web_peak, "worker": worker_peak,
            "imported": imported(env)}  # fmt: skip


def mb(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f} MB"


def run(label: str, urls: list[str], rows: int, nice: int, workdir: Path) -> bool:
    envs = []
    for number, url in enumerate(urls):
        env = bench_env(url)
        env.update(
            BIMTEK_QUEUE_URL=f"sqlite:///{workdir}/queue-{label}-{number}.db",
            BIMTEK_UPLOAD_DIR=str(workdir / f"uploads-{label}-{number}"),
        )
        prepare(env)
        envs.append(env)
    sheet_path = workdir / "peserta.xlsx"
    if not sheet_path.exists():
        build_sheet(sheet_path, rows, desa_of(envs[0]))
        print(f"sheet: {rows:,} rows, {sheet_path.stat().st_size / 1e6:.1f} MB")
    sheet = sheet_path.read_bytes()
    old = request_path(envs[0], sheet, rows)
    new = job_path(envs[1], sheet, rows, nice)
    print(f"{label} request path: total {old['total']:.1f} s (upload {old['upload']:.1f} s, "
          f"preview {old['preview']:.1f} s, confirm {old['confirm']:.1f} s); web worker peak "
          f"RSS {mb(old['web'])}; imported {old['imported']:,}")  # fmt: skip
    print(f"{label} job path: total {new['total']:.1f} s (upload answered in {new['upload']:.2f} s, "
          f"read and checked after {new['parsed']:.1f} s, preview {new['preview']:.1f} s, "
          f"confirm {new['confirm']:.2f} s; longest request {new['longest']:.2f} s); web worker "
          f"peak RSS {mb(new['web'])}, bimtek worker peak RSS {mb(new['worker'])}; imported "
          f"{new['imported']:,}")  # fmt: skip
    print(f"{label}: job path / request path total {new['total'] / old['total']:.2f}x")
    whole = old["imported"] == rows and new["imported"] == rows
    if not whole:
        print(f"{label}: ROWS LOST (expected {rows:,})")
    return whole


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bimtek-bench-importjob-"))
    ok = run("sqlite", [f"sqlite:///{workdir}/request.db", f"sqlite:///{workdir}/job.db"],
             args.rows, args.nice, workdir)  # fmt: skip
    if not args.no_postgres:
        from tests.pg import PostgresProvider

        provider = PostgresProvider()
        if not provider.available:
            print(f"postgresql: skipped ({provider.reason})")
        else:
            try:
                urls = [provider.create_database(), provider.create_database()]
                ok = run("postgresql", urls, args.rows, args.nice, workdir) and ok
            finally:
                provider.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
