"""300 participants start, answer and submit a 20-question post-test as a burst.

Runs bimtek under gunicorn (2 sync workers) on SQLite and, when a server is found, on
PostgreSQL; measures answer saves and submits; checks that every submitted attempt is stored
and graded; and measures, in the same run and with the same client, the ceiling: a minimal
Flask app doing one INSERT per request on the same database.

    .venv/bin/python bench/quiz_burst.py [--participants 300] [--concurrency 200]
"""

import argparse
import re
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
    percentile,
    start_gunicorn,
)

PASSWORD = "bench-peserta-1"


def prepare(env: dict, participants: int) -> int:
    """Demo data plus `participants` PPS members; returns the post-test id."""
    bimtek(env, "init")
    bimtek(env, "demo")
    script = f"""
import os
from sqlalchemy import select, insert
from werkzeug.security import generate_password_hash
from bimtek import create_app
from bimtek.extensions import db
from bimtek.accounts.models import User, new_session_token
from bimtek.quiz.models import Quiz
app = create_app()
with app.app_context():
    hashed = generate_password_hash({PASSWORD!r})
    rows = [dict(nama=f"Peserta {{i}}", nik=f"7322019{{i:09d}}", password_hash=hashed, role="peserta",
                 badan="PPS", jabatan="Anggota", kecamatan_kode="73.22.01", desa_kode="73.22.01.2001",
                 is_asn=False, must_change_password=False, active=True, session_token=new_session_token())
            for i in range({participants})]
    db.session.execute(insert(User), rows)
    quiz = db.session.scalars(select(Quiz).where(Quiz.course_id == 1, Quiz.kind == "post")).one()
    quiz.attempts_allowed = 1
    # Where a real post-test burst starts: pre-test submitted and every module read (the course
    # opens the post-test only then), so the start pays for the order check as in production.
    from bimtek.learning.models import Course, ModuleProgress
    from bimtek.quiz.models import Attempt
    from bimtek.timeutil import utcnow
    now = utcnow()
    pre = db.session.scalars(select(Quiz).where(Quiz.course_id == 1, Quiz.kind == "pre")).one()
    ids = list(db.session.scalars(select(User.id).where(User.nik.like("7322019%"))))
    db.session.execute(insert(Attempt), [
        dict(quiz_id=pre.id, user_id=i, attempt_no=1, seed=1, status="submitted", started_at=now,
             submitted_at=now, question_count=15, correct_count=6, score=40.0, passed=False)
        for i in ids])
    versions = [cm.module.versions[-1].id for cm in db.session.get(Course, 1).course_modules]
    db.session.execute(insert(ModuleProgress), [
        dict(user_id=i, module_version_id=v, opened_at=now, completed_at=now)
        for i in ids for v in versions])
    db.session.commit()
    print(quiz.id)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip().splitlines()[-1])


def run_phase(clients, work, concurrency: int):
    """Run work(client) for every client with at most `concurrency` at once."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    queue = list(clients)
    queue_lock = threading.Lock()

    def worker():
        while True:
            with queue_lock:
                if not queue:
                    return
                client = queue.pop()
            for elapsed, ok in work(client):
                with lock:
                    latencies.append(elapsed)
                    errors[0] += not ok

    threads = [threading.Thread(target=worker) for _ in range(min(concurrency, len(clients)))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, errors[0]


def timed(client: Client, method: str, path: str, **kwargs):
    start = time.perf_counter()
    if method == "JSON":
        client.conn.request(
            "POST", path, body=kwargs["body"],
            headers={"Cookie": client.cookie, "Content-Type": "application/json",
                     "X-CSRFToken": kwargs["token"]},
        )  # fmt: skip
        response = client.conn.getresponse()
        response.read()
        status = response.status
    else:
        status, _ = client.request(method, path, kwargs.get("form"))
    return time.perf_counter() - start, status


def line(name: str, count: int, wall: float, latencies, errors) -> float:
    rate = count / wall
    print(f"  {name:<14} {count:>6} req in {wall:6.2f} s = {rate:7.0f} req/s   "
          f"p50 {percentile(latencies, 50) * 1000:6.1f} ms  p95 {percentile(latencies, 95) * 1000:6.1f} ms  "
          f"errors {errors}")  # fmt: skip
    return rate


def bench_bimtek(label: str, env: dict, participants: int, concurrency: int) -> dict:
    quiz_id = prepare(env, participants)
    proc, port = start_gunicorn(env, workers=2)
    try:
        clients = [Client(port) for _ in range(participants)]
        for index, client in enumerate(clients):  # sign-in is setup, not measured
            client.login(f"7322019{index:09d}", PASSWORD)

        state: dict[Client, dict] = {}

        def begin(client):
            status, page = client.get(f"/kuis/{quiz_id}")
            token = CSRF_RE.search(page.decode()).group(1)
            elapsed, status = timed(
                client, "POST", f"/kuis/{quiz_id}/mulai", form={"csrf_token": token}
            )
            state[client] = {"token": token}
            yield elapsed, status == 302

        print(f"{label}: bimtek, {participants} participants, {concurrency} concurrent clients")
        wall, lat, err = run_phase(clients, begin, concurrency)
        line("start", participants, wall, lat, err)

        # Find each attempt and its options (the page the phone would have).
        for client in clients:
            status, page = client.get(f"/kuis/{quiz_id}")
            attempt = re.search(rb"/ujian/(\d+)", page).group(1).decode()
            status, take = client.get(f"/ujian/{attempt}")
            text = take.decode()
            questions = []
            for position in range(1, 21):
                block = text.split(f'data-position="{position}"', 1)[1].split("</fieldset>", 1)[0]
                keys = re.findall(r'name="q\d+" value="([a-z]+)"', block)
                questions.append((position, keys[0]))
            state[client].update(attempt=attempt, questions=questions,
                                 token=CSRF_RE.search(text).group(1))  # fmt: skip

        def answer(client):
            info = state[client]
            for position, key in info["questions"]:
                body = f'{{"position": {position}, "selected": ["{key}"]}}'
                elapsed, status = timed(
                    client,
                    "JSON",
                    f"/ujian/{info['attempt']}/jawab",
                    body=body,
                    token=info["token"],
                )
                yield elapsed, status == 200

        wall, lat, err = run_phase(clients, answer, concurrency)
        saves = line("answer save", participants * 20, wall, lat, err)
        save_p95 = percentile(lat, 95)

        def submit(client):
            # The browser posts the whole page: every position and its choice, then "kirim".
            info = state[client]
            form = {"csrf_token": info["token"], "action": "kirim",
                    "positions": [str(p) for p, _ in info["questions"]]}  # fmt: skip
            form.update({f"q{p}": key for p, key in info["questions"]})
            elapsed, status = timed(client, "POST", f"/ujian/{info['attempt']}", form=form)
            yield elapsed, status == 302

        wall, lat, err = run_phase(clients, submit, concurrency)
        submits = line("submit", participants, wall, lat, err)
        submit_p95 = percentile(lat, 95)
    finally:
        proc.terminate()
        proc.wait(10)

    check = f"""
from sqlalchemy import func, select
from bimtek import create_app
from bimtek.extensions import db
from bimtek.quiz.models import Attempt, AttemptAnswer
app = create_app()
with app.app_context():
    graded = db.session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.quiz_id == {quiz_id}, Attempt.status == "submitted", Attempt.score.is_not(None)))
    answered = db.session.scalar(select(func.count()).select_from(AttemptAnswer).where(
        AttemptAnswer.saved_at.is_not(None)))
    print(graded, answered)
"""
    out = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True
    )
    graded, answered = map(int, out.stdout.split()[-2:])
    print(f"  stored: {graded} graded attempts of {participants} submitted; "
          f"{answered} of {participants * 20} answers saved -> lost {participants - graded} attempts, "
          f"{participants * 20 - answered} answers")  # fmt: skip
    return {"saves": saves, "submits": submits, "save_p95": save_p95, "submit_p95": submit_p95}


def bench_ceiling(label: str, env: dict, requests: int, concurrency: int) -> float:
    subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, 'bench'); import ceiling_app; ceiling_app.create_table()"],
        env=env, check=True, cwd=str(Path(__file__).resolve().parent.parent),
    )  # fmt: skip
    proc, port = start_gunicorn_ceiling(env)
    try:
        clients = [Client(port) for _ in range(concurrency)]
        per_client = requests // concurrency

        def hit(client):
            for _ in range(per_client):
                start = time.perf_counter()
                status, _ = client.request("POST", "/hit", {})
                yield time.perf_counter() - start, status == 200

        wall, lat, err = run_phase(clients, hit, concurrency)
        print(
            f"{label}: ceiling (minimal Flask app, one INSERT per request, same gunicorn settings)"
        )
        return line("insert", per_client * concurrency, wall, lat, err)
    finally:
        proc.terminate()
        proc.wait(10)


def start_gunicorn_ceiling(env: dict):
    env = dict(env, PYTHONPATH=str(Path(__file__).resolve().parent))
    return start_gunicorn(env, workers=2, app="ceiling_app:app", health="/hit")


def report(result: dict, ceiling: float) -> None:
    save_ratio, submit_ratio = result["saves"] / ceiling, result["submits"] / ceiling
    print(f"  ratios: answer-save/ceiling {save_ratio:.2f} (target >= 0.5), "
          f"submit/ceiling {submit_ratio:.2f} (target >= 0.25); "
          f"p95 save {result['save_p95'] * 1000:.0f} ms, submit {result['submit_p95'] * 1000:.0f} ms (target < 250)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    env = bench_env()
    result = bench_bimtek("sqlite", env, args.participants, args.concurrency)
    ceiling = bench_ceiling("sqlite", env, 6000, args.concurrency)
    report(result, ceiling)

    if args.no_postgres:
        return
    from tests.pg import PostgresProvider

    provider = PostgresProvider()
    if not provider.available:
        print(f"postgresql: skipped ({provider.reason})")
        return
    try:
        env = bench_env(provider.create_database())
        result = bench_bimtek("postgresql", env, args.participants, args.concurrency)
        ceiling = bench_ceiling("postgresql", env, 6000, args.concurrency)
        report(result, ceiling)
    finally:
        provider.close()


if __name__ == "__main__":
    main()
