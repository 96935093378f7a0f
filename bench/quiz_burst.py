"""300 participants start, answer and submit a 20-question post-test as a burst.

Runs bimtek under gunicorn (2 sync workers) on SQLite and, when a server is found, on
PostgreSQL; measures answer saves and submits; checks that every submitted attempt is stored
and graded; and measures, in the same run and with the same client, the ceiling: a minimal
Flask app doing one INSERT per request on the same database.

    .venv/bin/python bench/quiz_burst.py [--participants 300] [--concurrency 200]
"""

import argparse
import http.client
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
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


class Phase:
    """Every request of one step: its latency and status, and whether it was the expected one.
    A request that raised (connection dropped, timeout) counts as a failure with status 0; it is
    never sent again."""

    def __init__(self, name: str, expected: int):
        self.name, self.expected = name, expected
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()
        self.failures = 0
        self.wall = 0.0

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def line(self) -> str:
        statuses = ", ".join(f"{s or 'error'}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"  {self.name:<12} {self.sent:>6}/{self.expected:<6} req in {self.wall:6.2f} s = "
            f"{self.rate:7.0f} req/s  p50 {percentile(self.latencies, 50) * 1000:6.1f} ms  "
            f"p95 {percentile(self.latencies, 95) * 1000:6.1f} ms  failed {self.failures}  "
            f"[{statuses}]"
        )


def run_phase(phase: Phase, clients, work, concurrency: int) -> Phase:
    """Run work(client) for every client with at most `concurrency` at once. work yields
    (elapsed, status, ok) for each request it sends; an exception ends that client's step."""
    lock = threading.Lock()
    queue = list(clients)

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                client = queue.pop()
            try:
                for elapsed, status, ok in work(client):
                    with lock:
                        phase.latencies.append(elapsed)
                        phase.statuses[status] += 1
                        phase.failures += not ok
            except Exception:  # noqa: BLE001  (a failed request: counted, not retried)
                with lock:
                    phase.statuses[0] += 1
                    phase.failures += 1

    threads = [threading.Thread(target=worker) for _ in range(min(concurrency, len(clients)))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.wall = time.perf_counter() - start
    print(phase.line())
    return phase


def send(client: Client, method: str, path: str, form=None, json_body=None, token=None):
    """One request, timed, never retried: (elapsed, status, body)."""
    start = time.perf_counter()
    if json_body is not None:
        try:
            client.conn.request(
                "POST", path, body=json_body,
                headers={"Cookie": client.cookie, "Content-Type": "application/json",
                         "X-CSRFToken": token},
            )  # fmt: skip
            response = client.conn.getresponse()
            body = response.read()
        except (http.client.HTTPException, OSError):
            client.conn.close()
            client.conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
            raise
        status = response.status
    else:
        status, body = client.request(method, path, form)
    return time.perf_counter() - start, status, body


def query(env: dict, code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


STORED_ANSWERS = """
import json
from sqlalchemy import select
from bimtek import create_app
from bimtek.extensions import db
from bimtek.quiz.models import Attempt, AttemptAnswer
app = create_app()
with app.app_context():
    rows = db.session.execute(select(AttemptAnswer.attempt_id, AttemptAnswer.position,
        AttemptAnswer.selected).join(Attempt).where(Attempt.quiz_id == {quiz_id},
        AttemptAnswer.saved_at.is_not(None)))
    print(json.dumps([[a, p, s] for a, p, s in rows]))
"""

GRADED = """
from sqlalchemy import func, select
from bimtek import create_app
from bimtek.extensions import db
from bimtek.quiz.models import Attempt
app = create_app()
with app.app_context():
    print(db.session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.quiz_id == {quiz_id}, Attempt.status == "submitted", Attempt.score.is_not(None))))
"""


def bench_bimtek(label: str, env: dict, participants: int, concurrency: int) -> dict:
    quiz_id = prepare(env, participants)
    proc, port = start_gunicorn(env, workers=2)
    n = participants
    try:
        clients = [Client(port, retry=False) for _ in range(n)]
        number = {client: index for index, client in enumerate(clients)}
        state: dict[Client, dict] = {client: {} for client in clients}
        print(f"{label}: bimtek, {n} participants, {concurrency} concurrent clients")

        def sign_in(client):
            elapsed, status, page = send(client, "GET", "/login")
            yield elapsed, status, status == 200
            token = CSRF_RE.search(page.decode()).group(1)
            form = {"csrf_token": token, "username": f"7322019{number[client]:09d}",
                    "password": PASSWORD}  # fmt: skip
            elapsed, status, _ = send(client, "POST", "/login", form=form)
            yield elapsed, status, status == 302

        def quiz_page(client):
            elapsed, status, page = send(client, "GET", f"/kuis/{quiz_id}")
            state[client]["token"] = CSRF_RE.search(page.decode()).group(1)
            yield elapsed, status, status == 200

        def begin(client):
            form = {"csrf_token": state[client]["token"]}
            elapsed, status, _ = send(client, "POST", f"/kuis/{quiz_id}/mulai", form=form)
            state[client]["location"] = urllib.parse.urlsplit(client.location or "").path
            yield elapsed, status, status == 302

        def attempt_page(client):
            # The browser follows the redirect to the attempt: the phone waits for this page too.
            location = state[client]["location"]
            elapsed, status, take = send(client, "GET", location)
            ok = status == 200 and re.fullmatch(r"/ujian/\d+", location) is not None
            yield elapsed, status, ok
            text = take.decode()
            questions = []
            for position in range(1, 21):
                block = text.split(f'data-position="{position}"', 1)[1].split("</fieldset>", 1)[0]
                keys = re.findall(r'name="q\d+" value="([a-z]+)"', block)
                questions.append((position, keys[0]))
            state[client].update(attempt=location.rsplit("/", 1)[1], questions=questions,
                                 token=CSRF_RE.search(text).group(1))  # fmt: skip

        def answer(client):
            info = state[client]
            for position, key in info["questions"]:
                body = f'{{"position": {position}, "selected": ["{key}"]}}'
                path = f"/ujian/{info['attempt']}/jawab"
                elapsed, status, _ = send(client, "JSON", path, json_body=body, token=info["token"])
                yield elapsed, status, status == 200

        def submit(client):
            # The browser posts the whole page: every position and its choice, then "kirim".
            info = state[client]
            form = {"csrf_token": info["token"], "action": "kirim",
                    "positions": [str(p) for p, _ in info["questions"]]}  # fmt: skip
            form.update({f"q{p}": key for p, key in info["questions"]})
            elapsed, status, _ = send(client, "POST", f"/ujian/{info['attempt']}", form=form)
            info["result"] = urllib.parse.urlsplit(client.location or "").path
            yield elapsed, status, status == 302

        def result_page(client):
            elapsed, status, _ = send(client, "GET", state[client]["result"])
            yield elapsed, status, status == 200

        phases = [
            run_phase(Phase("sign-in", 2 * n), clients, sign_in, concurrency),
            run_phase(Phase("quiz page", n), clients, quiz_page, concurrency),
            run_phase(Phase("start", n), clients, begin, concurrency),
            run_phase(Phase("attempt page", n), clients, attempt_page, concurrency),
        ]
        save = run_phase(Phase("answer save", 20 * n), clients, answer, concurrency)
        # Counted now, before the submit re-sends every answer with the page.
        expected = {
            (int(info["attempt"]), p): [key]
            for info in state.values()
            if "questions" in info
            for p, key in info["questions"]
        }
        stored = json.loads(query(env, STORED_ANSWERS.format(quiz_id=quiz_id)))
        saved = sum(1 for a, p, selected in stored if expected.get((a, p)) == selected)
        submit_phase = run_phase(Phase("submit", n), clients, submit, concurrency)
        result = run_phase(Phase("result page", n), clients, result_page, concurrency)
        phases += [save, submit_phase, result]
    finally:
        proc.terminate()
        proc.wait(10)

    graded = int(query(env, GRADED.format(quiz_id=quiz_id)))
    lost_answers, lost_attempts = 20 * n - saved, n - graded
    print(f"  stored before submit: {saved} of {20 * n} answers as sent -> lost {lost_answers}; "
          f"after submit: {graded} of {n} attempts graded -> lost {lost_attempts}")  # fmt: skip
    problems = []
    for phase in phases:
        if phase.sent != phase.expected or phase.failures:
            problems.append(f"{phase.name}: {phase.sent} of {phase.expected} requests sent, "
                            f"{phase.failures} failed")  # fmt: skip
        if phase.server_errors:
            problems.append(f"{phase.name}: {phase.server_errors} responses 5xx")
    if lost_answers:
        problems.append(f"{lost_answers} answers not stored before the submit")
    if lost_attempts:
        problems.append(f"{lost_attempts} attempts not graded")
    return {"saves": save.rate, "submits": submit_phase.rate, "save_p95": percentile(save.latencies, 95),
            "submit_p95": percentile(submit_phase.latencies, 95), "problems": problems}  # fmt: skip


def bench_ceiling(label: str, env: dict, requests: int, concurrency: int) -> tuple[float, list]:
    subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, 'bench'); import ceiling_app; ceiling_app.create_table()"],
        env=env, check=True, cwd=str(Path(__file__).resolve().parent.parent),
    )  # fmt: skip
    proc, port = start_gunicorn_ceiling(env)
    try:
        clients = [Client(port, retry=False) for _ in range(concurrency)]
        per_client = requests // concurrency

        def hit(client):
            for _ in range(per_client):
                elapsed, status, _ = send(client, "POST", "/hit", form={})
                yield elapsed, status, status == 200

        print(
            f"{label}: ceiling (minimal Flask app, one INSERT per request, same gunicorn settings)"
        )
        phase = run_phase(Phase("insert", per_client * concurrency), clients, hit, concurrency)
    finally:
        proc.terminate()
        proc.wait(10)
    problems = []
    if phase.sent != phase.expected or phase.failures:
        problems.append(f"ceiling: {phase.sent} of {phase.expected} sent, {phase.failures} failed")
    return phase.rate, problems


def start_gunicorn_ceiling(env: dict):
    env = dict(env, PYTHONPATH=str(Path(__file__).resolve().parent))
    return start_gunicorn(env, workers=2, app="ceiling_app:app", health="/hit")


def report(label: str, result: dict, ceiling: float, args) -> list[str]:
    save_ratio, submit_ratio = result["saves"] / ceiling, result["submits"] / ceiling
    print(f"  ratios: answer-save/ceiling {save_ratio:.2f} (target >= {args.save_target}), "
          f"submit/ceiling {submit_ratio:.2f} (target >= {args.submit_target}); "
          f"p95 save {result['save_p95'] * 1000:.0f} ms, submit {result['submit_p95'] * 1000:.0f} ms")  # fmt: skip
    problems = list(result["problems"])
    if save_ratio < args.save_target:
        problems.append(f"answer save at {save_ratio:.2f}x the ceiling, target {args.save_target}")
    if submit_ratio < args.submit_target:
        problems.append(f"submit at {submit_ratio:.2f}x the ceiling, target {args.submit_target}")
    return [f"{label}: {p}" for p in problems]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--save-target",
        type=float,
        default=0.5,
        help="answer saves/s at least this share of the ceiling (default 0.5)",
    )
    parser.add_argument("--submit-target", type=float, default=0.25,
                        help="submits/s at least this share of the ceiling (default 0.25)")  # fmt: skip
    args = parser.parse_args()

    problems: list[str] = []
    env = bench_env()
    result = bench_bimtek("sqlite", env, args.participants, args.concurrency)
    ceiling, failed = bench_ceiling("sqlite", env, 6000, args.concurrency)
    problems += failed + report("sqlite", result, ceiling, args)

    if not args.no_postgres:
        from tests.pg import PostgresProvider

        provider = PostgresProvider()
        if not provider.available:
            print(f"postgresql: skipped ({provider.reason})")
        else:
            try:
                env = bench_env(provider.create_database())
                result = bench_bimtek("postgresql", env, args.participants, args.concurrency)
                ceiling, failed = bench_ceiling("postgresql", env, 6000, args.concurrency)
                problems += failed + report("postgresql", result, ceiling, args)
            finally:
                provider.close()
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("OK: nothing lost, no 5xx, targets met")


if __name__ == "__main__":
    main()
