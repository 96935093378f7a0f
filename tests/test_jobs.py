"""Background jobs: through the real Huey consumer (a `bimtek worker` subprocess on a temporary
SQLite queue file), a worker killed during bulk issue, who may see a result, expiry, one
running job per kind and parameters, cancel."""

import io
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask import g
from openpyxl import load_workbook
from sqlalchemy import func, insert, select

from bimtek.accounts.models import User
from bimtek.certificates.models import Certificate
from bimtek.extensions import db
from bimtek.jobs import service
from bimtek.jobs.models import Job
from bimtek.learning.models import Course
from bimtek.offices.models import FIRST_OFFICE_ID, Office
from bimtek.timeutil import utcnow
from tests.conftest import Auth, close_app, csrf_token, make_test_app

ADMIN = ("admin", "demo-admin-2029")
PELATIH = ("pelatih", "demo-pelatih-2029")
BIMTEK = Path(sys.executable).parent / "bimtek"


@pytest.fixture
def app_config(tmp_path):
    return {
        "BIMTEK_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "BIMTEK_UPLOAD_DIR": str(tmp_path / "uploads"),
        "BIMTEK_JOB_INLINE_SCALE": 0.0,  # every job goes to the worker unless a test says so
        "BIMTEK_JOB_ISSUE_CHUNK": 5,
    }


@pytest.fixture
def course_id(app, demo):
    with app.app_context():
        return db.session.scalars(select(Course).order_by(Course.id)).first().id


class Worker:
    """`bimtek worker` in a subprocess against the test's database and queue file."""

    def __init__(self, app, tmp_path):
        self.env = {
            **os.environ,
            "BIMTEK_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "BIMTEK_SECRET_KEY": "test-secret",
            "BIMTEK_QUEUE_URL": app.config["BIMTEK_QUEUE_URL"],
            "BIMTEK_UPLOAD_DIR": app.config["BIMTEK_UPLOAD_DIR"],
            "BIMTEK_PUBLIC_URL": app.config["BIMTEK_PUBLIC_URL"],
            "BIMTEK_JOB_ISSUE_CHUNK": str(app.config["BIMTEK_JOB_ISSUE_CHUNK"]),
            "BIMTEK_QUEUE_NAME": app.config.get("BIMTEK_QUEUE_NAME", "bimtek"),
        }
        self.log = tmp_path / "worker.log"
        self.process = None

    def start(self):
        handle = open(self.log, "ab")  # noqa: SIM115 (kept open for the process)
        self.process = subprocess.Popen(
            [str(BIMTEK), "worker", "--workers", "1"],
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=str(self.log.parent),
        )
        return self

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker(app, tmp_path):
    made = []

    def start():
        made.append(Worker(app, tmp_path).start())
        return made[-1]

    yield start
    for w in made:
        w.stop()


def job_row(app, job_id) -> Job:
    with app.app_context():
        g.db_reads_first = True  # a plain read: never queue for SQLite's write lock
        return db.session.get(Job, job_id)


def wait_for(app, job_id, predicate, seconds=90, worker_log=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = job_row(app, job_id)
        if predicate(job):
            return job
        time.sleep(0.05)
    log = worker_log.read_text() if worker_log and worker_log.exists() else ""
    raise AssertionError(f"job {job_id} stuck at {job.status} {job.progress_done}: {log[-3000:]}")


def job_id_from(response) -> int:
    assert response.status_code == 303, response.status_code
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def test_rekap_runs_through_the_worker_and_only_its_owner_or_an_admin_downloads_it(
    app, client, auth, post_form, course_id, worker, tmp_path
):
    auth.login(*ADMIN)
    path = f"/laporan/{course_id}/rekap.xlsx"
    offer = client.get(path).get_data(as_text=True)
    assert "dibuat di latar belakang" in offer  # a large rekap is not made inside the request
    job_id = job_id_from(post_form(client, path, {}))
    page = client.get(f"/tugas/{job_id}").get_data(as_text=True)
    assert "Menunggu giliran" in page and 'http-equiv="refresh"' in page
    w = worker()
    job = wait_for(app, job_id, lambda j: j.status == "done", worker_log=w.log)
    assert job.progress_done == job.progress_total > 0
    page = client.get(f"/tugas/{job_id}").get_data(as_text=True)
    assert "Selesai" in page and "http-equiv" not in page  # no more refreshing
    assert f"{job.progress_total} dari {job.progress_total} peserta" in page
    assert "<progress" not in page or 'value="' in page
    download = client.get(f"/tugas/{job_id}/unduh")
    assert download.status_code == 200
    assert download.headers["Cache-Control"] == "no-store"
    workbook = load_workbook(io.BytesIO(download.data), read_only=True)
    assert workbook.sheetnames[0] == "Ringkasan"
    assert "Rekap per kecamatan" in str(next(workbook["Ringkasan"].iter_rows(values_only=True))[0])
    # The result sits under BIMTEK_UPLOAD_DIR/jobs/, with no temporary file left behind.
    files = sorted(p.name for p in (tmp_path / "uploads" / "jobs").iterdir())
    assert files == [job.result_path]

    # Another staff member: neither the page nor the file exists for them.
    auth.logout()
    auth.login(*PELATIH)
    assert client.get(f"/tugas/{job_id}").status_code == 404
    assert client.get(f"/tugas/{job_id}/unduh").status_code == 404
    assert "Belum ada tugas" in client.get("/tugas").get_data(as_text=True)
    auth.logout()
    assert client.get(f"/tugas/{job_id}/unduh").status_code == 302  # to the sign-in page


def test_a_second_request_shows_the_running_job_and_cancel_stops_it(
    app, client, auth, post_form, course_id
):
    auth.login(*ADMIN)
    path = f"/laporan/{course_id}/rekap.xlsx"
    first = job_id_from(post_form(client, path, {}))
    second = post_form(client, path, {})
    assert job_id_from(second) == first
    page = client.get(f"/tugas/{first}").get_data(as_text=True)
    assert "Tugas yang sama sedang berjalan" in page
    assert "sedang berjalan" in client.get(path).get_data(as_text=True)
    assert "bimtek worker" not in page
    with app.app_context():  # a minute later and still nobody took it: the page says why
        db.session.get(Job, first).created_at = utcnow() - timedelta(minutes=2)
        db.session.commit()
    assert "belum diambil oleh proses latar belakang" in client.get(f"/tugas/{first}").get_data(
        as_text=True
    )
    # a different kecamatan is a different job
    other = job_id_from(post_form(client, path + "?kecamatan=73.22.01", {}, form_page=path))
    assert other != first
    cancelled = post_form(client, f"/tugas/{first}/batal", {}, form_page=f"/tugas/{first}")
    assert cancelled.status_code == 302
    job = job_row(app, first)
    assert job.status == "cancelled" and job.active_key is None
    assert "Dibatalkan" in client.get(f"/tugas/{first}").get_data(as_text=True)
    # the worker that picks it up later does nothing with it
    with app.app_context():
        service.run(first)
    assert job_row(app, first).status == "cancelled"
    third = job_id_from(post_form(client, path, {}))
    assert third not in (first, other)


def test_a_job_runs_with_the_rights_of_who_started_it_checked_again_when_it_runs(
    app, client, auth, post_form, course_id
):
    auth.login(*PELATIH)
    job_id = job_id_from(post_form(client, f"/laporan/{course_id}/rekap.xlsx", {}))
    with app.app_context():
        pelatih = db.session.scalars(select(User).where(User.username == "pelatih")).one()
        pelatih.active = False
        db.session.commit()
        service.run(job_id)
    job = job_row(app, job_id)
    assert job.status == "failed" and job.result_path is None
    assert "tidak lagi aktif atau tidak berhak" in job.error
    # An admin sees any job (the office's operator), with the error in Indonesian.
    admin = app.test_client()
    Auth(admin, post_form).login(*ADMIN)
    page = admin.get(f"/tugas/{job_id}").get_data(as_text=True)
    assert "Gagal" in page and "tidak lagi aktif" in page
    assert admin.get(f"/tugas/{job_id}/unduh").status_code == 404


def test_small_jobs_answer_at_once_without_keeping_the_file(app, client, auth, course_id, tmp_path):
    app.config["BIMTEK_JOB_INLINE_SCALE"] = 1.0
    auth.login(*ADMIN)
    response = client.get(f"/laporan/{course_id}/rekap.xlsx")
    assert response.status_code == 200  # the demo's handful of people: the file at once
    assert response.headers["Cache-Control"] == "no-store"
    assert load_workbook(io.BytesIO(response.data), read_only=True).sheetnames[0] == "Ringkasan"
    with app.app_context():
        job = db.session.scalars(select(Job)).one()  # the same job code ran, and is recorded
    assert job.status == "done" and job.result_path is None
    assert list((tmp_path / "uploads" / "jobs").iterdir()) == []
    assert "langsung diunduh" in client.get(f"/tugas/{job.id}").get_data(as_text=True)


def test_expired_results_are_removed(app, client, auth, post_form, course_id, tmp_path):
    auth.login(*ADMIN)
    job_id = job_id_from(post_form(client, f"/laporan/{course_id}/rekap.xlsx", {}))
    with app.app_context():
        service.run(job_id)
        job = db.session.get(Job, job_id)
        stored = tmp_path / "uploads" / "jobs" / job.result_path
        assert stored.is_file()
        assert timedelta(days=6) < job.expires_at - utcnow() <= timedelta(days=7)
        assert service.remove_expired() == 0  # not yet
        assert service.remove_expired(utcnow() + timedelta(days=8)) == 1
    assert not stored.exists()
    assert client.get(f"/tugas/{job_id}/unduh").status_code == 404
    page = client.get(f"/tugas/{job_id}").get_data(as_text=True)
    assert "sudah tidak tersedia" in page and "masa simpan habis" in page


# --- bulk issue -------------------------------------------------------------------------


def _many_eligible(app, course_id: int, count: int) -> None:
    """`count` participants in Kec. 73.22.01 and a course rule they all meet."""
    with app.app_context():
        course = db.session.get(Course, course_id)
        course.require_modules = False
        course.require_post_pass = False
        course.min_attendance_pct = 0
        course.pakta_text = ""
        badan = (course.audience or ["PPS"])[0]
        db.session.execute(
            insert(User),
            [
                {
                    "nama": f"Peserta Uji {n:04d}",
                    "nik": f"73220199{n:08d}",
                    "password_hash": "x",
                    "role": "peserta",
                    "badan": badan,
                    "jabatan": "Anggota",
                    "kecamatan_kode": "73.22.01",
                    "desa_kode": "73.22.01.2001",
                    "must_change_password": False,
                    "active": True,
                    "session_token": f"tok-{n}",
                    "created_at": utcnow(),
                }
                for n in range(count)
            ],
        )
        office = db.session.get(Office, FIRST_OFFICE_ID)
        office.previewed_at = utcnow()
        db.session.commit()


def _numbers(app):
    with app.app_context():
        rows = db.session.execute(select(Certificate.seq, Certificate.user_id)).all()
    seqs = sorted(seq for seq, _ in rows)
    users = [uid for _, uid in rows]
    return seqs, users


def _issue(client, post_form, course_id):
    preview = f"/admin/kursus/{course_id}/sertifikat?kecamatan=73.22.01"
    return post_form(
        client,
        f"/admin/kursus/{course_id}/sertifikat/terbitkan",
        {"kecamatan": "73.22.01", "confirm": "y"},
        form_page=preview,
    )


def test_worker_killed_during_bulk_issue_leaves_no_gap_and_no_duplicate(
    app, client, auth, post_form, course_id, worker
):
    _many_eligible(app, course_id, 400)  # 80 chunks of 5: killed after the fourth
    auth.login(*ADMIN)
    job_id = job_id_from(_issue(client, post_form, course_id))
    w = worker()
    wait_for(app, job_id, lambda j: j.progress_done >= 20, worker_log=w.log)
    w.kill()
    killed = job_row(app, job_id)
    assert killed.status == "running", (killed.status, killed.message)  # nobody told the DB
    seqs, users = _numbers(app)
    assert 0 < len(seqs) < killed.progress_total
    assert seqs == list(range(1, len(seqs) + 1))  # gapless
    assert len(set(users)) == len(users)  # nobody twice
    assert len(seqs) % 5 == 0 or len(seqs) == killed.progress_total  # whole chunks only

    # A new worker marks the cut-off job failed, saying what holds, and the admin issues again.
    w2 = worker()
    failed = wait_for(app, job_id, lambda j: j.status == "failed", worker_log=w2.log)
    assert "bernomor urut tanpa celah" in failed.error
    assert "Gagal" in client.get(f"/tugas/{job_id}").get_data(as_text=True)
    again = job_id_from(_issue(client, post_form, course_id))
    assert again != job_id
    done = wait_for(app, again, lambda j: j.status == "done", worker_log=w2.log)
    assert "sudah memiliki sertifikat" in done.message
    seqs, users = _numbers(app)
    with app.app_context():
        eligible = db.session.scalar(
            select(func.count()).select_from(User).where(User.nama.like("Peserta Uji %"))
        )
    assert len(set(users)) == len(users)
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) >= eligible


def test_cancel_stops_a_bulk_issue_between_chunks(app, client, auth, post_form, course_id, worker):
    _many_eligible(app, course_id, 3000)  # stopped early: only the first chunks are issued
    auth.login(*ADMIN)
    job_id = job_id_from(_issue(client, post_form, course_id))
    token = csrf_token(client, f"/tugas/{job_id}")  # the page the operator has open
    w = worker()
    wait_for(
        app, job_id, lambda j: j.status == "running" and j.progress_done >= 5, worker_log=w.log
    )
    client.post(f"/tugas/{job_id}/batal", data={"csrf_token": token})
    job = wait_for(app, job_id, lambda j: not j.active, worker_log=w.log)
    assert job.status == "cancelled", (job.status, job.progress_done, job.progress_total)
    seqs, users = _numbers(app)
    assert 0 < len(seqs) < job.progress_total
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(set(users)) == len(users)
    page = client.get(f"/tugas/{job_id}").get_data(as_text=True)
    assert "Dibatalkan" in page and "Batalkan tugas" not in page


# --- credentials sheet, attendance ---------------------------------------------------------


def test_a_large_credentials_sheet_is_a_job_kept_for_hours_not_days(
    app, client, auth, post_form, make_staff, wilayah
):
    from tests.test_import import xlsx
    from tests.test_import_web import GOOD, confirm

    make_staff("admin", "operator", "rahasia-operator-1")
    auth.login("operator", "rahasia-operator-1")
    import_id = uploaded(app, client, xlsx(GOOD))
    app.config["BIMTEK_JOB_INLINE_SCALE"] = 1.0  # the two-row commit at once
    confirm(client, import_id, "semua")
    app.config["BIMTEK_JOB_INLINE_SCALE"] = 0.0  # and the sheet as a job
    with app.app_context():
        before = sorted(
            db.session.scalars(select(User.password_hash).where(User.role == "peserta"))
        )
    page = f"/admin/peserta/impor/{import_id}"
    response = post_form(client, f"{page}/sandi-awal.xlsx", {"confirm": "y"}, form_page=page)
    job_id = job_id_from(response)
    with app.app_context():  # queued: no password has changed yet
        assert (
            sorted(db.session.scalars(select(User.password_hash).where(User.role == "peserta")))
            == before
        )
        service.run(job_id)  # what the worker calls
    job = job_row(app, job_id)
    assert job.status == "done" and job.progress_done == 2
    assert timedelta(hours=11) < job.expires_at - utcnow() <= timedelta(hours=12)
    download = client.get(f"/tugas/{job_id}/unduh")
    assert download.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(download.data)).worksheets[0]
    niks = {row[2] for row in sheet.iter_rows(min_row=5, values_only=True)}
    assert {"7322015506910001", "7322015506910002"} <= niks
    with app.app_context():
        after = sorted(db.session.scalars(select(User.password_hash).where(User.role == "peserta")))
    assert after != before


def test_daftar_hadir_of_a_large_session_is_offered_as_a_job(
    app, client, auth, post_form, course_id
):
    from bimtek.attendance.models import TrainingSession

    with app.app_context():
        session_id = db.session.scalars(select(TrainingSession.id)).first()
    auth.login(*PELATIH)
    path = f"/sesi/{session_id}/daftar-hadir.xlsx"
    assert "dibuat di latar belakang" in client.get(path).get_data(as_text=True)
    job_id = job_id_from(post_form(client, path, {}))
    with app.app_context():
        service.run(job_id)
    job = job_row(app, job_id)
    assert job.status == "done", job.error
    sheet = load_workbook(io.BytesIO(client.get(f"/tugas/{job_id}/unduh").data)).worksheets[0]
    assert sheet["A1"].value == "DAFTAR HADIR"


def test_two_app_nodes_share_one_redis_queue(app, db_url, post_form, course_id, worker):
    """BIMTEK_QUEUE_URL=redis://…: a job started on either node runs in the one worker."""
    from tests.test_ratelimit_redis import REDIS_URL, redis_up

    if not redis_up():
        if os.environ.get("BIMTEK_REQUIRE_REDIS") == "1":
            pytest.fail("Redis required but nothing listens on 127.0.0.1:6379")
        pytest.skip("Redis not running on 127.0.0.1:6379")
    name = f"bimtek-jobqueue-{os.getpid()}-{time.monotonic_ns()}"  # not the rate-limit prefix
    app.config.update(BIMTEK_QUEUE_URL=REDIS_URL, BIMTEK_QUEUE_NAME=name)
    nodes = [
        make_test_app(db_url, **{**app_config_of(app), "BIMTEK_QUEUE_URL": REDIS_URL,
                                 "BIMTEK_QUEUE_NAME": name})
        for _ in range(2)
    ]  # fmt: skip
    jobs = []
    for number, node in enumerate(nodes):
        client = node.test_client()
        Auth(client, post_form).login(*ADMIN)
        path = f"/laporan/{course_id}/rekap.xlsx" + ("?kecamatan=73.22.01" if number else "")
        jobs.append(job_id_from(post_form(client, path, {}, form_page=path)))
    w = worker()
    for job_id in jobs:
        assert wait_for(app, job_id, lambda j: j.status == "done", worker_log=w.log).result_path
    for node in nodes:
        close_app(node)


def app_config_of(app) -> dict:
    keys = ("BIMTEK_UPLOAD_DIR", "BIMTEK_JOB_INLINE_SCALE", "BIMTEK_JOB_ISSUE_CHUNK")
    return {key: app.config[key] for key in keys}


# --- participant import commit -----------------------------------------------------------


def uploaded(app, client, data: bytes) -> int:
    """Upload a participants sheet and have it read (its `import_parse` job run here when the
    upload queued it, as the worker would); the pending import's id."""
    from tests.test_import_web import import_id_of, upload

    response = upload(client, data)
    if "/tugas/" not in response.headers["Location"]:
        return import_id_of(response)
    job_id = int(response.headers["Location"].split("/tugas/")[1].split("?")[0])
    with app.app_context():
        service.run(job_id)
        job = db.session.get(Job, job_id)
        assert job.status == "done", job.error
        return job.params["import_id"]


def _uploaded_import(app, client, auth, make_staff, rows: int) -> int:
    from tests.test_import import HEADER, person, xlsx

    make_staff("admin", "operator", "rahasia-operator-1")
    auth.login("operator", "rahasia-operator-1")
    sheet = [HEADER] + [person(n, f"Peserta Impor {n:05d}", f"73220155069{n:05d}") for n in range(1, rows + 1)]  # fmt: skip
    return uploaded(app, client, xlsx(sheet))


def _imported(app) -> int:
    with app.app_context():
        g.db_reads_first = True
        return db.session.scalar(
            select(func.count()).select_from(User).where(User.nama.like("Peserta Impor %"))
        )


def test_a_large_import_commits_in_the_worker_all_or_nothing_when_killed(
    app, client, auth, post_form, make_staff, wilayah, worker
):
    from bimtek.accounts.models import ParticipantImport

    import_id = _uploaded_import(app, client, auth, make_staff, 3000)
    page = f"/admin/peserta/impor/{import_id}"
    job_id = job_id_from(post_form(client, f"{page}/konfirmasi", {"mode": "semua"}, form_page=page))
    w = worker()
    # Killed once the plan is made and the rows are being written.
    wait_for(app, job_id, lambda j: j.progress_total is not None and j.status == "running",
             worker_log=w.log)  # fmt: skip
    w.kill()
    assert job_row(app, job_id).status == "running"
    assert _imported(app) == 0  # nobody: the one transaction never committed
    with app.app_context():
        assert db.session.get(ParticipantImport, import_id).status == "pending"
    w2 = worker()
    failed = wait_for(app, job_id, lambda j: j.status == "failed", worker_log=w2.log)
    assert "Tidak ada peserta yang disimpan" in failed.error
    # Confirmed again, it runs to the end: everyone, once.
    again = job_id_from(post_form(client, f"{page}/konfirmasi", {"mode": "semua"}, form_page=page))
    done = wait_for(app, again, lambda j: j.status == "done", seconds=180, worker_log=w2.log)
    assert done.message.startswith("Impor selesai")
    assert _imported(app) == 3000
    with app.app_context():
        assert db.session.get(ParticipantImport, import_id).status == "committed"
