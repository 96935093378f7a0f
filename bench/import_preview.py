"""Memory of ONE import preview request (and of the confirm) for a 30,000-row upload.

.venv/bin/python bench/import_preview.py [--rows 30000] [--workdir DIR]

(A --workdir already prepared is measured again without preparing.) Prepares, in a child process, a fresh SQLite database with the demo office, a first import of
500 people (so the big sheet has rows to update) and the upload of a sheet of `--rows` rows
(every 50th rejected: a desa outside its kecamatan), read in the request (the job inline).
Then a fresh child process, which never read the sheet, signs in, opens the upload page once
(templates and imports warm), and measures one GET of the preview and one POST of its confirm
(which queues the commit job and returns): the growth of the process's peak RSS (ru_maxrss)
across each; a third process measures the same two requests' peak Python allocation
(tracemalloc).
"""

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ADMIN = ("admin", "demo-admin-2029")
PHASES = ("prepare", "measure", "trace")


def make_app(workdir: Path):
    from bimtek import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bimtek.db'}",
            "SECRET_KEY": "bench",
            "TESTING": False,
            "RATELIMIT_ENABLED": False,
            "BIMTEK_CONTENT_DIR": str(ROOT),
            "BIMTEK_UPLOAD_DIR": str(workdir / "uploads"),
            "BIMTEK_QUEUE_URL": f"sqlite:///{workdir / 'queue.db'}",
            "BIMTEK_IMPORT_MAX_SECONDS": 1800,
            "BIMTEK_JOB_INLINE_SCALE": 1e9,  # prepare: the parse in the request
        }
    )


def token(client, path: str) -> str:
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in(client) -> None:
    response = client.post(
        "/login",
        data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": token(client, "/login")},
    )
    assert response.status_code == 302, response.status_code


def sheet(rows: int, desa: list, start: int = 0, jabatan: str = "Anggota") -> bytes:
    import io

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Peserta")
    ws.append(["DAFTAR PPS DAN KPPS"])
    ws.append([])
    ws.append(["No", "Nama Lengkap", "NIK", "Badan", "Jabatan", "Kecamatan", "Desa/Kelurahan"])
    for i in range(start, start + rows):
        kec_kode, kec_nama, desa_kode, desa_nama = desa[i % len(desa)]
        if i % 50 == 49:
            desa_nama = "Desa Tidak Ada"
        ws.append([i + 1, f"Peserta Nomor {i + 1}", f"7322{i:012d}", "KPPS" if i % 3 else "PPS",
                   jabatan, kec_nama, desa_nama])  # fmt: skip
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def upload(client, data: bytes) -> int:
    response = client.post(
        "/admin/peserta/impor",
        data={
            "csrf_token": token(client, "/admin/peserta/impor"),
            "berkas": (io_of(data), "p.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def io_of(data: bytes):
    import io

    return io.BytesIO(data)


def prepare(workdir: Path, rows: int) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import select

    from bimtek import MIGRATIONS_DIR
    from bimtek.demo import seed_demo
    from bimtek.extensions import db
    from bimtek.wilayah.models import Desa, Kecamatan

    app = make_app(workdir)
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        seed_demo()
        db.session.commit()
        desa = [
            (k.kode, k.nama, d.kode, d.nama)
            for d, k in db.session.execute(
                select(Desa, Kecamatan).join(Kecamatan).where(Kecamatan.kode.like("73.22.%"))
            )
        ]  # the demo admin's kabupaten (Luwu Utara)
        db.session.remove()
    client = app.test_client()
    sign_in(client)
    first = upload(client, sheet(500, desa, jabatan="Ketua"))
    confirmed = client.post(
        f"/admin/peserta/impor/{first}/konfirmasi",
        data={"csrf_token": token(client, f"/admin/peserta/impor/{first}"), "mode": "valid"},
    )
    assert confirmed.status_code == 302, confirmed.status_code
    started = time.perf_counter()
    big = upload(client, sheet(rows, desa))
    print(f"prepared: {rows:,} rows uploaded and read in {time.perf_counter() - started:.1f} s")
    (workdir / "import.json").write_text(json.dumps({"id": big}))


def measured(call, trace: bool):
    """(result, peak MB, seconds) of one call: Python's peak allocation (tracemalloc) when
    `trace`, else the growth of the process's peak RSS (tracemalloc's own bookkeeping would
    inflate the RSS, so the two are measured in separate processes)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    return result, peak, seconds


def measure(workdir: Path, trace: bool) -> None:
    app = make_app(workdir)
    app.config["BIMTEK_JOB_INLINE_SCALE"] = 0.0  # the confirm queues its commit job
    import_id = json.loads((workdir / "import.json").read_text())["id"]
    client = app.test_client()
    sign_in(client)
    client.get("/admin/peserta/impor")  # warm: imports, the base template
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    what = "Python peak (tracemalloc)" if trace else f"peak RSS growth (from {base:.0f} MB)"
    path = f"/admin/peserta/impor/{import_id}"
    page, peak, seconds = measured(lambda: client.get(path), trace)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Pratinjau impor" in text, page.status_code
    counts = re.findall(
        r"<strong>([\d.]+)</strong> (akun baru|diperbarui|tidak berubah|baris ditolak)", text
    )
    print(f"preview GET {page.status_code}, {len(text) / 1024:.0f} KB, {seconds:.2f} s: {what} "
          f"{peak:.1f} MB; {', '.join(' '.join(c) for c in counts)}")  # fmt: skip
    form = token(client, path)
    done, peak, seconds = measured(
        lambda: client.post(path + "/konfirmasi", data={"csrf_token": form, "mode": "valid"}),
        trace,
    )
    assert done.status_code == 303 and "/tugas/" in done.headers["Location"], done.status_code
    print(f"confirm POST {done.status_code} (to the commit job), {seconds:.2f} s: {what} "
          f"{peak:.1f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--workdir")
    parser.add_argument("--phase", choices=("prepare", "measure", "trace"))
    args = parser.parse_args()
    if args.phase:
        workdir = Path(args.workdir)
        if args.phase == "prepare":
            prepare(workdir, args.rows)
        else:
            measure(workdir, trace=args.phase == "trace")
        return
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bimtek-bench-preview-"))
    phases = ("measure", "trace") if (workdir / "import.json").exists() else PHASES
    for phase in phases:  # a fresh process each: the web process never parsed the sheet
        subprocess.run(
            [sys.executable, __file__, "--phase", phase, "--workdir", str(workdir),
             "--rows", str(args.rows)],
            check=True,
        )  # fmt: skip


if __name__ == "__main__":
    main()
