"""Gunicorn settings for bimtek: `make serve` runs `gunicorn -c python:bimtek.gunicorn_conf`,
and gunicorn.conf.py in the checkout root loads this too (gunicorn reads ./gunicorn.conf.py).

Failed sign-ins are counted in BIMTEK_RATELIMIT_STORAGE_URL. memory:// lives inside one process:
with several workers each keeps its own counters, so a guesser gets N times the tries and a
locked account opens again whenever the next request lands on another worker. So:

- memory:// (the default): ONE worker with threads; every request sees the same counters.
- a shared store (redis://...): several workers (WEB_CONCURRENCY, default 2), all counting in it.

Command-line flags still win (gunicorn -w 4 ...); the app then logs a warning at start if its
counters are not shared.
"""

import os

MEMORY = "memory://"


def storage_url(environ=os.environ) -> str:
    return (environ.get("BIMTEK_RATELIMIT_STORAGE_URL") or MEMORY).strip()


def is_shared(url: str) -> bool:
    return bool(url) and not url.lower().startswith(MEMORY)


def worker_settings(environ=os.environ) -> tuple[int, int]:
    """(workers, threads) for this storage URL."""
    threads = int(environ.get("BIMTEK_THREADS") or 0)
    if is_shared(storage_url(environ)):
        return int(environ.get("WEB_CONCURRENCY") or 2), threads or 4
    return 1, threads or 8


workers, threads = worker_settings()


def on_starting(server):
    """In the master, with the final settings (file, GUNICORN_CMD_ARGS and flags applied)."""
    os.environ["BIMTEK_SERVER_WORKERS"] = str(server.cfg.workers)  # forked workers inherit it
    if server.cfg.workers > 1 and not is_shared(storage_url()):
        server.log.warning(
            "bimtek: %s workers but BIMTEK_RATELIMIT_STORAGE_URL is %s: each worker counts "
            "failed sign-ins on its own, so the limits do not hold. Run one worker (the "
            "default) or set a shared store such as redis://127.0.0.1:6379/0.",
            server.cfg.workers,
            storage_url(),
        )
