"""How fast a module page is served, and what it would cost to render per request.

Starts gunicorn (2 sync workers, as in production) on a fresh SQLite database with the demo,
signs in participants and has them read the module page concurrently.

    .venv/bin/python bench/module_page.py [--clients 50] [--requests 2000]
"""

import argparse
import gzip
import subprocess
import sys
import threading
import time
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


def pretest_done(env: dict, nik: str) -> None:
    """The reader has submitted the pre-test: the demo course opens its modules only after it."""
    script = f"""
from sqlalchemy import select
from bimtek import create_app
from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.quiz.models import Attempt, Quiz
from bimtek.timeutil import utcnow
app = create_app()
with app.app_context():
    user = db.session.scalars(select(User).where(User.nik == {nik!r})).one()
    pre = db.session.scalars(select(Quiz).where(Quiz.course_id == 1, Quiz.kind == "pre")).one()
    db.session.add(Attempt(quiz_id=pre.id, user_id=user.id, seed=1, status="submitted",
                           submitted_at=utcnow(), score=40.0, passed=False))
    db.session.commit()
"""
    subprocess.run([sys.executable, "-c", script], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    env = bench_env()
    bimtek(env, "init")
    bimtek(env, "demo")
    pretest_done(env, "7322011203950002")
    proc, port = start_gunicorn(env, workers=2)
    path = "/kursus/1/modul/kode-etik-penyelenggara"
    try:
        clients = []
        for _ in range(args.clients):
            client = Client(port)
            client.login("7322011203950002", "demo-peserta-2029")
            clients.append(client)
        status, page = clients[0].get(path)
        assert status == 200, status
        latencies: list[float] = []
        errors = 0
        lock = threading.Lock()
        per_client = args.requests // args.clients

        def read(client: Client) -> None:
            nonlocal errors
            for _ in range(per_client):
                start = time.perf_counter()
                status, _body = client.get(path)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    errors += status != 200

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

    source_kb = (ROOT / "modules" / "01-kode-etik-penyelenggara.md").stat().st_size / 1024
    css_kb = (ROOT / "static" / "css" / "bimtek.css").stat().st_size / 1024
    js_kb = (ROOT / "static" / "js" / "bimtek.js").stat().st_size / 1024
    per_render = render_cost("01-kode-etik-penyelenggara.md")
    print(f"module page: {len(page) / 1024:.1f} KB HTML ({len(gzip.compress(page)) / 1024:.1f} KB gzipped); "
          f"+ CSS {css_kb:.1f} KB + JS {js_kb:.1f} KB, no other request")  # fmt: skip
    print(f"served (cached HTML): {len(latencies) / wall:,.0f} pages/s with {args.clients} clients, "
          f"{summary(latencies)}, errors {errors}")  # fmt: skip
    print(f"render per request instead: {per_render * 1000:.1f} ms CPU for {source_kb:.1f} KB of Markdown "
          f"-> at most {2 / per_render:,.0f} pages/s on 2 cores")  # fmt: skip


if __name__ == "__main__":
    main()
