"""A whole hall on one laptop: N participants sign in, start the pre-test, save 20 answers
each, submit, and check in, each step as a hall does it (everyone within the same minute).

Runs `make run`'s default setup (gunicorn -c python:bimtek.gunicorn_conf: one worker with
threads, counters in memory) on SQLite and, when a server is found, on PostgreSQL. In the same
run and with the same client it measures the ceiling: a minimal Flask app doing one INSERT per
request under the same gunicorn settings. Every acknowledged write is counted back from the
database (answers BEFORE the submit, which re-sends them). Every request a participant waits for
is timed; nothing is retried. Exits non-zero on any loss, any 5xx or a missed target.

    .venv/bin/python bench/hall.py [--participants 500] [--concurrency 200] [--runs 1]
        [--no-postgres]

With --runs N each database is measured N times (a fresh database each time, the ceiling in
every run) and the targets are judged on the median of the N ratios.
"""

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    CSRF_RE,
    ROOT,
    bench_env,
    bimtek,
    percentile,
    start_gunicorn,
)

PASSWORD = "gunung-latimojong-9"  # noqa: S105 (a bench account)
NIK_PREFIX = "7322017"
ANSWERS = 20
GUNICORN_CONF = ["-c", "python:bimtek.gunicorn_conf"]

# Targets (issue 16), as ratios to the one-INSERT ceiling measured in the same run.
TARGETS = {"start": 0.25, "answer save": 0.5, "submit": 0.25, "check-in": 0.25}
SIGNIN_P95, START_P95 = 5.0, 2.0


class Phone:
    """One participant's phone: one connection, its cookie; never retries a request."""

    def __init__(self, port: int, index: int):
        self.port, self.index = port, index
        self.nik = f"{NIK_PREFIX}{index:09d}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = ""
        self.info: dict = {}
        self.last_used = time.monotonic()

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if time.monotonic() - self.last_used > 1.0:
            # gunicorn closes a keep-alive connection idle for 2 s; a phone opens a new one
            # before it sends (never a silent resend of a request the server may have seen).
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        if self.cookie:
            headers["Cookie"] = self.cookie
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
            self.last_used = time.monotonic()
        except (http.client.HTTPException, OSError):
            self.last_used = time.monotonic()
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            return 0, b""  # counted as an error, not retried
        for cookie in response.headers.get_all("Set-Cookie") or []:
            if cookie.startswith("session="):
                self.cookie = cookie.split(";", 1)[0]
        return response.status, data

    def form(self, path, form):
        body = urllib.parse.urlencode(form, doseq=True)
        return self.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )


class Step:
    """Latencies and outcomes of one step."""

    def __init__(self, name: str):
        self.name = name
        self.latencies: list[float] = []
        self.ok = self.failed = self.server_errors = 0
        self.wall = 0.0
        self.cpu = 0.0  # CPU seconds the server's processes spent during the step
        self.statuses: dict[int, int] = {}  # the unexpected ones
        self.lock = threading.Lock()

    def timed(self, call, expect):
        start = time.perf_counter()
        status, data = call()
        elapsed = time.perf_counter() - start
        with self.lock:
            self.latencies.append(elapsed)
            if status >= 500:
                self.server_errors += 1
            if status == expect:
                self.ok += 1
            else:
                self.failed += 1
                self.statuses[status] = self.statuses.get(status, 0) + 1
        return status, data

    @property
    def rate(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    def line(self) -> str:
        return (
            f"  {self.name:<12} {self.ok:>6} ok {self.failed:>4} failed {self.server_errors:>3} 5xx "
            f"in {self.wall:6.2f} s = {self.rate:6.0f}/s  "
            f"p50 {percentile(self.latencies, 50) * 1000:7.0f} ms  "
            f"p95 {percentile(self.latencies, 95) * 1000:7.0f} ms  "
            f"server cpu {self.cpu / max(self.ok, 1) * 1000:5.1f} ms/req"
            + (f"  statuses {self.statuses}" if self.statuses else "")
        )


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a gunicorn master and its workers so far (Linux /proc;
    0.0 elsewhere). Per request, it says what a step costs whatever else the machine runs."""
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for process in [str(pid), *children]:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0
    return total


def measure(step: "Step", pid: int, items, work, concurrency: int, spread: float = 0.0) -> None:
    """run() for one step, keeping its wall time and the server's CPU time."""
    before = server_cpu(pid)
    step.wall = run(items, work, concurrency, spread)
    step.cpu = server_cpu(pid) - before


def run(items, work, concurrency: int, spread: float = 0.0) -> float:
    """work(item) for every item, at most `concurrency` at once; with spread, item i is not
    started before i/len * spread seconds (arrivals over a window, as people walk in)."""
    queue = list(enumerate(items))
    lock = threading.Lock()
    start = time.perf_counter()
    count = len(queue)

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                index, item = queue.pop(0)
            if spread:
                delay = start + index / count * spread - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            work(item)

    threads = [threading.Thread(target=worker) for _ in range(min(concurrency, count))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


PREPARE = """
import json, sys
from datetime import timedelta
from sqlalchemy import insert, select
from bimtek import create_app
from bimtek.extensions import db
try:
    from bimtek.accounts.hashing import hash_password  # argon2id
except ImportError:  # older code (the "before" figures): its own scheme, werkzeug's scrypt
    from werkzeug.security import generate_password_hash as hash_password
from bimtek.accounts.models import User, new_session_token
from bimtek.attendance import service as attendance
from bimtek.quiz.models import Quiz
from bimtek.timeutil import utcnow
app = create_app()
with app.app_context():
    hashed = hash_password(PASSWORD)  # the current scheme, as after a first change
    rows = [dict(nama=f"Peserta Aula {i}", nik=f"{NIK_PREFIX}{i:09d}", password_hash=hashed,
                 role="peserta", badan="PPS", jabatan="Anggota", kecamatan_kode="73.22.01",
                 desa_kode="73.22.01.2001", is_asn=False, must_change_password=False,
                 active=True, session_token=new_session_token())
            for i in range(N)]
    db.session.execute(insert(User), rows)
    quiz = db.session.scalars(select(Quiz).where(Quiz.course_id == 1, Quiz.kind == "pre")).one()
    quiz.draw_count, quiz.attempts_allowed, quiz.time_limit_minutes = ANSWERS, 1, None
    admin = db.session.scalars(select(User).where(User.username == "admin")).one()
    now = utcnow()
    session = attendance.save_session(None, attendance.SessionData(
        course_id=1, title="Bimtek PPS Aula", venue="Aula", starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=3), invite_badan=["PPS"], invite_kecamatan=["73.22.01"],
    ), admin)
    db.session.commit()
    print(json.dumps({"quiz": quiz.id, "session": session.id, "secret": session.secret,
                      "period": app.config["BIMTEK_CHECKIN_PERIOD"]}))
"""

COUNT = """
import json
from sqlalchemy import func, select
from bimtek import create_app
from bimtek.extensions import db
from bimtek.accounts.models import User
from bimtek.attendance.models import Attendance
from bimtek.quiz.models import Attempt, AttemptAnswer
app = create_app()
with app.app_context():
    def n(query):
        return db.session.scalar(query)
    print(json.dumps({
        "signed_in": n(select(func.count()).select_from(User).where(
            User.nik.like(NIK_PREFIX + "%"), User.last_login_at.is_not(None))),
        "attempts": n(select(func.count()).select_from(Attempt).where(Attempt.quiz_id == QUIZ)),
        "frozen": n(select(func.count()).select_from(AttemptAnswer).join(Attempt).where(
            Attempt.quiz_id == QUIZ)),
        "answers": n(select(func.count()).select_from(AttemptAnswer).join(Attempt).where(
            Attempt.quiz_id == QUIZ, AttemptAnswer.saved_at.is_not(None))),
        "submitted": n(select(func.count()).select_from(Attempt).where(
            Attempt.quiz_id == QUIZ, Attempt.status == "submitted",
            Attempt.score.is_not(None))),
        "present": n(select(func.count()).select_from(Attendance).where(
            Attendance.session_id == SESSION)),
    }))
"""


def python(env: dict, script: str, **names) -> dict:
    prelude = "".join(f"{key} = {value!r}\n" for key, value in names.items())
    out = subprocess.run(
        [sys.executable, "-c", prelude + script],
        env=env, capture_output=True, text=True, check=True, cwd=str(ROOT),
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_server(env: dict, app: str, health: str) -> tuple[subprocess.Popen, int]:
    """As `make serve` starts it: workers and threads from bimtek.gunicorn_conf."""
    return start_gunicorn(env, app=app, health=health, options=GUNICORN_CONF, timeout=60)


def token(data: bytes) -> str:
    match = CSRF_RE.search(data.decode())
    return match.group(1) if match else ""


def hall(label: str, env: dict, participants: int, concurrency: int) -> dict:
    bimtek(env, "init")
    bimtek(env, "demo")
    ids = python(env, PREPARE, N=participants, PASSWORD=PASSWORD, NIK_PREFIX=NIK_PREFIX,
                 ANSWERS=ANSWERS)  # fmt: skip
    from bimtek.attendance import codes

    quiz, session = ids["quiz"], ids["session"]
    proc, port = start_server(env, "bimtek:create_app()", "/healthz")
    steps = {name: Step(name) for name in
             ("login page", "sign-in", "quiz page", "start", "answer save", "submit", "check-in page",
              "check-in")}  # fmt: skip
    phones = [Phone(port, i) for i in range(participants)]
    try:
        # Sign-in: people walk in and type their NIK over a window (300 in 10 s, scaled).
        def sign_in(phone: Phone):
            status, page = steps["login page"].timed(lambda: phone.request("GET", "/login"), 200)
            form = {"csrf_token": token(page), "username": phone.nik, "password": PASSWORD}
            steps["sign-in"].timed(lambda: phone.form("/login", form), 302)

        spread = participants / 30
        measure(steps["sign-in"], proc.pid, phones, sign_in, concurrency, spread)

        # "Mulai pre-test": everyone opens the quiz page, then presses "Mulai" at once.
        def open_quiz(phone: Phone):
            status, page = steps["quiz page"].timed(
                lambda: phone.request("GET", f"/kuis/{quiz}"), 200
            )
            phone.info["token"] = token(page)

        measure(steps["quiz page"], proc.pid, phones, open_quiz, concurrency)

        def start(phone: Phone):
            status, _ = steps["start"].timed(
                lambda: phone.form(f"/kuis/{quiz}/mulai", {"csrf_token": phone.info["token"]}), 302
            )

        measure(steps["start"], proc.pid, phones, start, concurrency)

        # The exam page the phone then shows (timed with the quiz page): positions and options.
        def open_exam(phone: Phone):
            status, page = steps["quiz page"].timed(
                lambda: phone.request("GET", f"/kuis/{quiz}"), 200
            )
            found = page.decode().split("/ujian/", 1)
            if len(found) < 2:
                return
            attempt = found[1].split('"', 1)[0].split("/", 1)[0]
            status, take = steps["quiz page"].timed(
                lambda: phone.request("GET", f"/ujian/{attempt}"), 200
            )
            text = take.decode()
            questions = []
            for position in range(1, ANSWERS + 1):
                parts = text.split(f'data-position="{position}"', 1)
                if len(parts) < 2:
                    break
                block = parts[1].split("</fieldset>", 1)[0]
                keys = [chunk.split('"', 1)[0] for chunk in block.split('" value="')[1:]]
                if keys:
                    questions.append((position, random.choice(keys)))
            phone.info.update(attempt=attempt, questions=questions, token=token(take))

        run(phones, open_exam, concurrency)

        def answer(phone: Phone):
            info = phone.info
            headers = {"Content-Type": "application/json", "X-CSRFToken": info.get("token", "")}
            for position, key in info.get("questions", []):
                body = json.dumps({"position": position, "selected": [key]})
                steps["answer save"].timed(
                    lambda b=body: phone.request(
                        "POST", f"/ujian/{info['attempt']}/jawab", b, headers
                    ),
                    200,
                )

        measure(steps["answer save"], proc.pid, phones, answer, concurrency)
        saved_before_submit = python(env, COUNT, NIK_PREFIX=NIK_PREFIX, QUIZ=quiz,
                                     SESSION=session)  # fmt: skip

        def submit(phone: Phone):
            info = phone.info
            if "attempt" not in info:
                return
            form = {"csrf_token": info["token"], "action": "kirim",
                    "positions": [str(p) for p, _ in info["questions"]]}  # fmt: skip
            form.update({f"q{p}": key for p, key in info["questions"]})
            steps["submit"].timed(lambda: phone.form(f"/ujian/{info['attempt']}", form), 302)

        measure(steps["submit"], proc.pid, phones, submit, concurrency)

        # "Presensi sekarang": the code on the projector, typed on the check-in page.
        def open_checkin(phone: Phone):
            status, page = steps["check-in page"].timed(
                lambda: phone.request("GET", f"/hadir?s={session}"), 200
            )
            phone.info["checkin_token"] = token(page)

        measure(steps["check-in page"], proc.pid, phones, open_checkin, concurrency)

        def check_in(phone: Phone):
            now = time.time()
            from datetime import UTC, datetime

            code = codes.code_for(
                ids["secret"], session,
                codes.window_of(datetime.fromtimestamp(now, UTC), ids["period"]),
            )  # fmt: skip
            form = {"csrf_token": phone.info["checkin_token"], "kode": code,
                    "session_id": str(session), "via": ""}  # fmt: skip
            steps["check-in"].timed(lambda: phone.form("/hadir", form), 302)

        measure(steps["check-in"], proc.pid, phones, check_in, concurrency)
    finally:
        proc.terminate()
        proc.wait(30)
    stored = python(env, COUNT, NIK_PREFIX=NIK_PREFIX, QUIZ=quiz, SESSION=session)
    stored["answers_before_submit"] = saved_before_submit["answers"]
    print(f"{label}: bimtek ({' '.join(GUNICORN_CONF)}), {participants} participants, "
          f"{concurrency} concurrent clients")  # fmt: skip
    for step in steps.values():
        print(step.line())
    return {"steps": steps, "stored": stored}


def ceiling(label: str, env: dict, requests: int, concurrency: int) -> "Step":
    subprocess.run(
        [sys.executable, "-c", "import ceiling_app; ceiling_app.create_table()"],
        env=dict(env, PYTHONPATH=str(ROOT / "bench")), check=True, cwd=str(ROOT),
    )  # fmt: skip
    proc, port = start_server(dict(env, PYTHONPATH=str(ROOT / "bench")), "ceiling_app:app", "/hit")
    step = Step("insert")
    try:
        phones = [Phone(port, i) for i in range(concurrency)]
        per_phone = requests // concurrency

        def hit(phone: Phone):
            for _ in range(per_phone):
                step.timed(lambda: phone.request("POST", "/hit", b""), 200)

        measure(step, proc.pid, phones, hit, concurrency)
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"{label}: ceiling (minimal Flask app, one INSERT per request, same gunicorn settings)")
    print(step.line())
    return step


def per_request_cpu(step: "Step") -> float:
    return step.cpu / step.ok if step.ok else 0.0


def judge(result: dict, top: "Step") -> tuple[list[str], dict[str, float]]:
    """One run's losses and errors (problems) and its figures: each step's ratio to the
    ceiling measured in the same run, and the sign-in and start p95 in seconds."""
    steps, stored = result["steps"], result["stored"]
    problems = []
    for step in steps.values():
        if step.server_errors:
            problems.append(f"{step.name}: {step.server_errors} × 5xx")
        if step.failed:
            problems.append(f"{step.name}: {step.failed} failed requests")
    acked = {
        "signed_in": steps["sign-in"].ok,
        "attempts": steps["start"].ok,
        "answers_before_submit": steps["answer save"].ok,
        "submitted": steps["submit"].ok,
        "present": steps["check-in"].ok,
    }
    for key, count in acked.items():
        print(f"  stored {key:<22} {stored[key]:>6} of {count} acknowledged")
        if stored[key] < count:
            problems.append(f"lost {count - stored[key]} {key}")
    if stored["frozen"] != stored["attempts"] * ANSWERS:
        problems.append(f"{stored['frozen']} frozen questions for {stored['attempts']} attempts")
    figures = {
        "sign-in p95": percentile(steps["sign-in"].latencies, 95),
        "start p95": percentile(steps["start"].latencies, 95),
    }
    for name in TARGETS:
        figures[name] = steps[name].rate / top.rate
        # The same comparison by the server's CPU time per request: what the ratio would be
        # if the server had the machine to itself (informative; the target is on the rate).
        cpu = per_request_cpu(steps[name])
        by_cpu = f"; by server CPU {per_request_cpu(top) / cpu:5.2f} ×" if cpu else ""
        print(f"  {name:<12} {figures[name]:5.2f} × ceiling{by_cpu}")
    return problems, figures


def verdict(label: str, runs: list[dict[str, float]]) -> list[str]:
    """The targets, judged on the median of the runs (each ratio taken within its own run:
    the 200 client threads share the machine with the server, so one run moves by up to a
    third)."""
    problems = []
    print(f"{label}: {len(runs)} run(s), median (each run)")
    limits = {"sign-in p95": SIGNIN_P95, "start p95": START_P95}
    for name, limit in limits.items():
        values = [run[name] for run in runs]
        middle = statistics.median(values)
        listed = ", ".join(f"{v:.2f}" for v in values)
        ok = middle <= limit
        print(f"  {name:<12} {middle:5.2f} s (target <= {limit} s) {'ok' if ok else 'MISSED'}"
              f" ({listed})")  # fmt: skip
        if not ok:
            problems.append(f"{label}: {name} {middle:.2f} s > {limit} s")
    for name, target in TARGETS.items():
        values = [run[name] for run in runs]
        middle = statistics.median(values)
        listed = ", ".join(f"{v:.2f}" for v in values)
        ok = middle >= target
        print(f"  {name:<12} {middle:5.2f} × ceiling (target >= {target}) "
              f"{'ok' if ok else 'MISSED'} ({listed})")  # fmt: skip
        if not ok:
            problems.append(f"{label}: {name} {middle:.2f} × ceiling < {target}")
    return problems


def measure_database(label: str, env_for, args) -> list[str]:
    """`args.runs` runs of the hall and its ceiling, each on a fresh database."""
    problems, runs = [], []
    for _ in range(args.runs):
        env = env_for()
        result = hall(label, env, args.participants, args.concurrency)
        top = ceiling(label, env, args.ceiling_requests, args.concurrency)
        lost, figures = judge(result, top)
        problems += [f"{label}: {p}" for p in lost]
        runs.append(figures)
    return problems + verdict(label, runs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--ceiling-requests", type=int, default=6000)
    parser.add_argument("--runs", type=int, default=1, help="judge the median of this many runs")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    problems = measure_database("sqlite", bench_env, args)
    if not args.no_postgres:
        from tests.pg import PostgresProvider

        provider = PostgresProvider()
        if not provider.available:
            problems.append(f"postgresql: not available ({provider.reason})")
        else:
            try:
                problems += measure_database(
                    "postgresql", lambda: bench_env(provider.create_database()), args
                )
            finally:
                provider.close()
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        return 1
    print("all steps met their targets; nothing lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())
