"""A hall of participants checks in at once with the code on the projector.

Runs bimtek under gunicorn (2 sync workers) on SQLite (and PostgreSQL with --postgres URL):
N participants are signed in beforehand, then all type the current code within seconds, C at a
time. Prints check-ins/s and latency, and checks that exactly N attendance rows were stored.

    .venv/bin/python bench/checkin_burst.py [--participants 500] [--concurrency 100]
"""

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    CSRF_RE,
    Client,
    bench_env,
    bimtek,
    start_gunicorn,
    summary,
)

PASSWORD = "bench-peserta-1"

PREPARE = """
import sys
from sqlalchemy import insert, select
from werkzeug.security import generate_password_hash
from bimtek import create_app
from bimtek.extensions import db
from bimtek.accounts.models import User, new_session_token
from bimtek.attendance.models import TrainingSession
app = create_app()
with app.app_context():
    hashed = generate_password_hash(sys.argv[2])
    rows = [dict(nama=f"Peserta {i}", nik=f"7322018{i:09d}", password_hash=hashed, role="peserta",
                 badan="PPS", jabatan="Anggota", kecamatan_kode="73.22.01", desa_kode="73.22.01.2001",
                 is_asn=False, must_change_password=False, active=True, session_token=new_session_token())
            for i in range(int(sys.argv[1]))]
    db.session.execute(insert(User), rows)
    db.session.commit()
    session = db.session.scalars(select(TrainingSession)).first()
    print(session.id, session.secret)
"""

COUNT = """
from sqlalchemy import func, select
from bimtek import create_app
from bimtek.extensions import db
from bimtek.attendance.models import Attendance
app = create_app()
with app.app_context():
    print(db.session.scalar(select(func.count()).select_from(Attendance)))
"""


def run(label: str, env: dict, participants: int, concurrency: int) -> None:
    from datetime import UTC, datetime

    from bimtek.attendance import codes

    bimtek(env, "init")
    bimtek(env, "demo")
    out = subprocess.run(
        [sys.executable, "-c", PREPARE, str(participants), PASSWORD],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    session_id, secret = int(out[0]), out[1]
    proc, port = start_gunicorn(env, workers=2)
    try:
        clients = []
        for i in range(participants):
            client = Client(port)
            client.login(f"7322018{i:09d}", PASSWORD)
            status, page = client.get(f"/hadir?s={session_id}")
            client.token = CSRF_RE.search(page.decode()).group(1)
            clients.append(client)
        latencies: list[float] = []
        failures: list[int] = []
        lock = threading.Lock()
        queue = list(clients)

        def worker():
            while True:
                with lock:
                    if not queue:
                        return
                    client = queue.pop()
                code = codes.code_for(secret, session_id, codes.window_of(datetime.now(UTC), 45))
                start = time.perf_counter()
                status, _ = client.request(
                    "POST", "/hadir",
                    {"csrf_token": client.token, "kode": code, "session_id": str(session_id)},
                )  # fmt: skip
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if status != 302:
                        failures.append(status)

        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(10)
    stored = int(
        subprocess.run(
            [sys.executable, "-c", COUNT], env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    print(f"{label}: {participants} check-ins, {concurrency} at a time: {participants / wall:,.0f}/s, "
          f"{summary(latencies)}; refused {len(failures)} {sorted(set(failures))}; "
          f"stored {stored} (expected {participants})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (an empty database)")
    args = parser.parse_args()
    run("sqlite", bench_env(), args.participants, args.concurrency)
    if args.postgres:
        run("postgresql", bench_env(args.postgres), args.participants, args.concurrency)


if __name__ == "__main__":
    main()
