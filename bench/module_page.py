"""How fast a module page is served, and what it would cost to render per request.

Starts gunicorn (2 sync workers, as in production) on a fresh SQLite database with the demo,
signs in one participant per client and has them read the module page concurrently.

    .venv/bin/python bench/module_page.py [--clients 50] [--requests 2000]
"""

import argparse
import gzip
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import ROOT, Client, bench_env, bimtek, start_gunicorn, summary  # noqa: E402


def render_cost(slug_file: str, rounds: int = 30) -> float:
    from bimtek.content.loader import parse_module
    from bimtek.content.render import render_markdown

    path = ROOT / "modules" / slug_file
    module, _ = parse_module(str(path), path.read_text(encoding="utf-8"))
    start = time.perf_counter()
    for _ in range(rounds):
        render_markdown(module.body)
    return (time.perf_counter() - start) / rounds


PASSWORD = "bench-pembaca-1"


def prepare_readers(env: dict, count: int) -> None:
    """`count` PPS members, one per client, each with the pre-test submitted (the demo course
    opens its modules only after it) and no module opened yet: each first visit writes."""
    script = f"""
from sqlalchemy import insert, select
from werkzeug.security import generate_password_hash
from bimtek import create_app
from bimtek.accounts.models import User, new_session_token
from bimtek.extensions import db
from bimtek.quiz.models import Attempt, Quiz
from bimtek.timeutil import utcnow
app = create_app()
with app.app_context():
    hashed = generate_password_hash({PASSWORD!r})
    db.session.execute(insert(User), [dict(nama=f"Pembaca {{i}}", nik=f"7322018{{i:09d}}",
        password_hash=hashed, role="peserta", badan="PPS", jabatan="Anggota",
        kecamatan_kode="73.22.01", desa_kode="73.22.01.2001", is_asn=False,
        must_change_password=False, active=True, session_token=new_session_token())
        for i in range({count})])
    pre = db.session.scalars(select(Quiz).where(Quiz.course_id == 1, Quiz.kind == "pre")).one()
    now = utcnow()
    ids = db.session.scalars(select(User.id).where(User.nik.like("7322018%"))).all()
    db.session.execute(insert(Attempt), [dict(quiz_id=pre.id, user_id=i, attempt_no=1, seed=1,
        status="submitted", started_at=now, submitted_at=now, score=40.0, passed=False)
        for i in ids])
    db.session.commit()
"""
    subprocess.run([sys.executable, "-c", script], env=env, check=True)


def opened_count(env: dict) -> int:
    """How many of the readers have the module recorded as opened (the first-visit write)."""
    script = """
from sqlalchemy import func, select
from bimtek import create_app
from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.learning.models import ModuleProgress
app = create_app()
with app.app_context():
    print(db.session.scalar(select(func.count(func.distinct(ModuleProgress.user_id)))
        .join(User, User.id == ModuleProgress.user_id).where(User.nik.like("7322018%"),
        ModuleProgress.opened_at.is_not(None))))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    env = bench_env()
    bimtek(env, "init")
    bimtek(env, "demo")
    prepare_readers(env, args.clients)
    proc, port = start_gunicorn(env, workers=2)
    path = "/kursus/1/modul/kode-etik-penyelenggara"
    try:
        clients = []
        for index in range(args.clients):  # sign-in is setup, not measured
            client = Client(port, retry=False)
            client.login(f"7322018{index:09d}", PASSWORD)
            clients.append(client)
        latencies: list[float] = []
        first: list[float] = []
        statuses: Counter = Counter()
        page = b""
        lock = threading.Lock()
        per_client = args.requests // args.clients

        def read(client: Client) -> None:
            nonlocal page
            for number in range(per_client):
                start = time.perf_counter()
                try:
                    status, body = client.get(path)
                except Exception:  # noqa: BLE001  (counted as a failure, not retried)
                    status, body = 0, b""
                elapsed = time.perf_counter() - start
                with lock:
                    (first if number == 0 else latencies).append(elapsed)
                    statuses[status] += 1
                    if status == 200:
                        page = body

        threads = [threading.Thread(target=read, args=(c,)) for c in clients]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(10)

    sent = sum(statuses.values())
    errors = sent - statuses[200]
    opened = opened_count(env)
    source_kb = (ROOT / "modules" / "01-kode-etik-penyelenggara.md").stat().st_size / 1024
    css_kb = (ROOT / "static" / "css" / "bimtek.css").stat().st_size / 1024
    js_kb = (ROOT / "static" / "js" / "bimtek.js").stat().st_size / 1024
    per_render = render_cost("01-kode-etik-penyelenggara.md")
    print(f"module page: {len(page) / 1024:.1f} KB HTML ({len(gzip.compress(page)) / 1024:.1f} KB gzipped); "
          f"+ CSS {css_kb:.1f} KB + JS {js_kb:.1f} KB, no other request")  # fmt: skip
    print(f"{args.clients} participants, one per client: {sent} of {per_client * args.clients} "
          f"requests sent, statuses {dict(sorted(statuses.items()))}")  # fmt: skip
    print(f"first visit (records the module as opened): {summary(first)}; "
          f"{opened} of {args.clients} participants recorded")  # fmt: skip
    print(f"served (cached HTML): {sent / wall:,.0f} pages/s with {args.clients} clients, "
          f"later visits {summary(latencies) if latencies else 'none'}, errors {errors}")  # fmt: skip
    print(f"render per request instead: {per_render * 1000:.1f} ms CPU for {source_kb:.1f} KB of Markdown "
          f"-> at most {2 / per_render:,.0f} pages/s on 2 cores")  # fmt: skip
    problems = []
    if errors or sent != per_client * args.clients:
        problems.append(f"{errors} failed requests of {sent}")
    if opened != args.clients:
        problems.append(f"first visit recorded for {opened} of {args.clients} participants")
    if problems:
        print("FAILED: " + "; ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
