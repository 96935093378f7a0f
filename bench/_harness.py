"""Shared pieces for the benchmarks: a prepared database, gunicorn, a small HTTP client."""

import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_env(database_url: str | None = None) -> dict:
    workdir = tempfile.mkdtemp(prefix="bimtek-bench-")
    env = dict(os.environ)
    env.update(
        BIMTEK_SECRET_KEY="bench-secret",
        BIMTEK_DATABASE_URL=database_url or f"sqlite:///{workdir}/bimtek.db",
        BIMTEK_CONTENT_DIR=str(ROOT),
        # The benchmark signs in hundreds of accounts from one address.
        BIMTEK_LOGIN_LIMIT_ADDRESS="100000 per minute",
    )
    return env


def bimtek(env: dict, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "bimtek"), *args], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def start_gunicorn(
    env: dict,
    workers: int = 2,
    threads: int = 1,
    app: str = "bimtek:create_app()",
    health="/healthz",
    options: list[str] | None = None,
    timeout: float = 30,
):
    """gunicorn on a free port, once `health` answers 200. `options` replace the worker and
    thread counts (e.g. ["-c", "python:bimtek.gunicorn_conf"], as `make serve` runs it)."""
    port = free_port()
    sizing = (
        options if options is not None else ["--workers", str(workers), "--threads", str(threads)]
    )
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), *sizing,
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "2048", app],
        env=env, cwd=str(ROOT),
    )  # fmt: skip
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("POST" if health == "/hit" else "GET", health)
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gunicorn did not start: {app}")


class Client:
    """Keeps one connection and the session cookie, like one phone."""

    def __init__(self, port: int, retry: bool = True):
        # retry: a dropped keep-alive connection is reopened and the request sent once more.
        # Benches that count requests pass retry=False, so a failed request is a failure.
        self.port = port
        self.retry = retry
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""
        self.location: str | None = None

    def request(self, method: str, path: str, form: dict | None = None):
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                if attempt or not self.retry:
                    self.conn.close()
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.location = response.getheader("Location")
        cookie = response.getheader("Set-Cookie")
        if cookie and cookie.startswith("session="):
            self.cookie = cookie.split(";", 1)[0]
        return response.status, data

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, form: dict, token_page: str | None = None):
        status, page = self.get(token_page or path)
        token = CSRF_RE.search(page.decode()).group(1)
        return self.request("POST", path, {"csrf_token": token, **form})

    def login(self, username: str, password: str) -> None:
        status, _ = self.post("/login", {"username": username, "password": password})
        if status != 302:
            raise RuntimeError(f"sign-in failed for {username}: {status}")


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def summary(latencies: list[float]) -> str:
    return (
        f"p50 {percentile(latencies, 50) * 1000:.1f} ms, p95 {percentile(latencies, 95) * 1000:.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.1f} ms"
    )
