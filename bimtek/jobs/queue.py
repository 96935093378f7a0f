"""The queue: Huey on a SQLite file by default (no extra service), Redis when configured.

BIMTEK_QUEUE_URL:
  unset                     sqlite file <instance>/queue.db (one machine: `make run`)
  sqlite:////abs/queue.db   that SQLite file
  redis://host:6379/0       Redis, shared by several app nodes and workers

The queue only carries job ids; the `job` table says what a job is and how far it got.
The web processes enqueue; `bimtek worker` consumes (and runs the hourly clean-up).
"""

import logging
import os
from pathlib import Path

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey, crontab

log = logging.getLogger(__name__)
QUEUE_NAME = "bimtek"


def _make_huey(app: Flask):
    url = app.config.get("BIMTEK_QUEUE_URL") or ""
    # Two installations on one Redis keep apart by name.
    name = app.config.get("BIMTEK_QUEUE_NAME") or QUEUE_NAME
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, results=False)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
    elif url:
        raise ValueError(f"BIMTEK_QUEUE_URL must start with sqlite:/// or redis://, not {url!r}")
    else:
        path = os.path.join(app.instance_path, "queue.db")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=path, results=False)


class Queue:
    def __init__(self, app: Flask):
        self.huey = huey = _make_huey(app)

        @huey.task(name="bimtek.run_job")
        def run_job(job_id: int) -> None:
            from bimtek.jobs import service

            with app.app_context():
                service.run(job_id)

        @huey.periodic_task(crontab(minute="7"), name="bimtek.housekeeping")
        def housekeeping() -> None:
            tidy(app)

        self.run_job = run_job


def tidy(app: Flask) -> None:
    """Fail the jobs a dead worker left running; delete expired results."""
    from bimtek.jobs import service

    with app.app_context():
        failed = service.recover_interrupted()
        removed = service.remove_expired()
        if failed or removed:
            log.info("jobs: %d interrupted marked failed, %d expired results removed", failed,
                     removed)  # fmt: skip


def queue_for(app: Flask) -> Queue:
    """Made on first use, not in create_app (which touches no disk)."""
    queue = app.extensions.get("bimtek_queue")
    if queue is None:
        queue = app.extensions["bimtek_queue"] = Queue(app)
    return queue


def enqueue(job_id: int) -> None:
    queue = queue_for(current_app._get_current_object())
    queue.run_job(job_id)


def run_worker(app: Flask, workers: int = 2) -> None:
    """The consumer, in the foreground, until SIGINT (finish current jobs) or SIGTERM."""
    tidy(app)  # what a killed worker left behind, before taking new work
    queue = queue_for(app)
    consumer = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=True)
    consumer.run()
