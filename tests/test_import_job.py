"""The participants upload read by the worker (issue 14): a large sheet is stored and parsed by
the `import_parse` job (the real `bimtek worker` subprocess, as in test_jobs.py) while the
operator watches its progress page, which then leads to the preview; a small sheet is read in
the request through the same job code. Errors end the job in Indonesian naming the file, row
and column; a worker killed mid-read leaves nothing half-written and the upload can be retried.
"""

import re
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import func, select

from bimtek import spreadsheet
from bimtek.accounts.jobs import INLINE_PARSE_ROWS, PARSE_INTERRUPTED
from bimtek.accounts.models import ParticipantImport, User
from bimtek.extensions import db
from bimtek.jobs import service
from tests import test_jobs
from tests.conftest import Auth, csrf_token
from tests.test_import import HEADER, person, xlsx
from tests.test_import_web import confirm, upload
from tests.test_jobs import job_id_from, job_row, wait_for

app_config = test_jobs.app_config  # a queue file and upload folder of the test's own
worker = test_jobs.worker  # `bimtek worker` subprocesses, stopped at the end

OPERATOR = ("operator", "rahasia-operator-1")


def _sheet(rows: int, nik=lambda n: f"73220155069{n:05d}") -> bytes:
    return xlsx([HEADER] + [person(n, f"Peserta Baca {n:05d}", nik(n)) for n in range(1, rows + 1)])


@pytest.fixture
def operator(client, auth, make_staff, wilayah):
    make_staff("admin", *OPERATOR[:1], OPERATOR[1])
    auth.login(*OPERATOR)
    return client


def _imports(app) -> list[ParticipantImport]:
    with app.app_context():
        g.db_reads_first = True
        return list(db.session.scalars(select(ParticipantImport)))


def _stored(app) -> list[str]:
    folder = Path(app.config["BIMTEK_UPLOAD_DIR"]) / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _imported(app) -> int:
    with app.app_context():
        g.db_reads_first = True
        return db.session.scalar(
            select(func.count()).select_from(User).where(User.nama.like("Peserta Baca %"))
        )


def _job_of(response) -> int:
    """The upload went to the worker: 303 to the job's page, which follows on to the result."""
    assert response.status_code == 303, response.status_code
    location = response.headers["Location"]
    assert re.search(r"/tugas/\d+\?ikuti=1$", location), location
    return int(re.search(r"/tugas/(\d+)", location).group(1))


def test_a_large_sheet_is_read_by_the_worker_with_progress_then_previewed_and_committed(
    app, operator, post_form, make_staff, worker
):
    app.config["BIMTEK_JOB_INLINE_SCALE"] = 1.0  # the real threshold
    rows = 3500  # above INLINE_PARSE_ROWS and INLINE_ACCOUNTS: read and committed by the worker
    parses = spreadsheet.parse_count
    job_id = _job_of(upload(operator, _sheet(rows), "peserta-besar.xlsx"))
    [record] = _imports(app)
    assert record.status == "pending" and record.stored_name.endswith(".xlsx")
    page = operator.get(f"/tugas/{job_id}?ikuti=1").get_data(as_text=True)
    assert "Menunggu giliran" in page and 'http-equiv="refresh"' in page
    assert "peserta-besar.xlsx" in page
    # The preview of an import still being read is its progress page.
    waiting = operator.get(f"/admin/peserta/impor/{record.id}")
    assert waiting.status_code == 303 and f"/tugas/{job_id}" in waiting.headers["Location"]

    w = worker()
    seen: list[tuple[int, int]] = []

    def progressed(job):
        if job.status == "running" and job.progress_done:
            seen.append((job.progress_done, job.progress_total))
            if len(seen) == 1:  # what the operator sees meanwhile
                text = operator.get(f"/tugas/{job_id}").get_data(as_text=True)
                shown = re.search(r'class="progress-text">([^<]*)<', text).group(1)
                assert re.fullmatch(r"[\d.]+ dari [\d.]+ baris", shown), shown
        return job.status not in ("queued", "running")

    done = wait_for(app, job_id, progressed, seconds=180, worker_log=w.log)
    assert done.status == "done", (done.error, w.log.read_text()[-2000:])
    # It moved through the rows (the sheet holds 3,501 rows with its header) and ends whole.
    assert any(0 < d < t for d, t in seen), seen
    # Counted in sheet rows while reading (3,501 with the header), then the rows read.
    assert all(t in (rows, rows + 1) for _d, t in seen), seen
    assert done.progress_done == done.progress_total == rows
    assert "3500 baru" in done.message

    # The page the operator watched leads on to the preview; listed later, it links there.
    follow = operator.get(f"/tugas/{job_id}?ikuti=1")
    assert follow.status_code == 303
    assert follow.headers["Location"].endswith(f"/admin/peserta/impor/{record.id}")
    page = operator.get(f"/tugas/{job_id}").get_data(as_text=True)
    assert "Selesai" in page and "http-equiv" not in page
    assert f'href="/admin/peserta/impor/{record.id}"' in page and "Buka pratinjau impor" in page
    preview = operator.get(f"/admin/peserta/impor/{record.id}").get_data(as_text=True)
    assert "Pratinjau impor" in preview and "Belum ada yang disimpan" in preview
    assert "Impor sekarang: 3.500 baru, 0 diperbarui" in preview
    assert "Peserta Baca 00001" in preview and "73220155069" not in preview  # NIK masked
    assert "… dan 3.200 lainnya" in preview
    # Read once, by the worker: the web process never parsed it, and the workbook is gone
    # (the rows as read and the check are kept as JSON for the preview and the commit).
    assert spreadsheet.parse_count == parses
    [stored] = _stored(app)
    assert stored.endswith(".json")
    assert _imported(app) == 0

    # Only who started it, or an admin, sees the job; the preview stays its uploader's.
    other_admin = app.test_client()
    make_staff("admin", "operator2", "rahasia-operator-2")
    Auth(other_admin, post_form).login("operator2", "rahasia-operator-2")
    other_page = other_admin.get(f"/tugas/{job_id}").get_data(as_text=True)
    assert "Selesai" in other_page and "Buka pratinjau impor" not in other_page
    assert other_admin.get(f"/tugas/{job_id}?ikuti=1").status_code == 200  # nowhere to go on
    assert other_admin.get(f"/admin/peserta/impor/{record.id}").status_code == 404
    pelatih = app.test_client()
    make_staff("pelatih", "pelatih2", "rahasia-pelatih-2")
    Auth(pelatih, post_form).login("pelatih2", "rahasia-pelatih-2")
    assert pelatih.get(f"/tugas/{job_id}").status_code == 404
    assert pelatih.get(f"/tugas/{job_id}?ikuti=1").status_code == 404
    assert pelatih.get(f"/admin/peserta/impor/{record.id}").status_code == 403

    # The commit, by the same worker, from the rows read at upload: everyone, once.
    commit = job_id_from(confirm(operator, record.id, "semua"))
    committed = wait_for(app, commit, lambda j: not j.active, seconds=180, worker_log=w.log)
    assert committed.status == "done", committed.error
    assert committed.message.startswith("Impor selesai: 3500 baru")
    assert _imported(app) == rows and _stored(app) == []
    assert spreadsheet.parse_count == parses
    # Afterwards the parse job's link is the import's result.
    page = operator.get(f"/tugas/{job_id}").get_data(as_text=True)
    assert "Lihat hasil impor" in page


def test_a_small_sheet_is_read_in_the_request_by_the_same_job(app, operator):
    app.config["BIMTEK_JOB_INLINE_SCALE"] = 1.0
    response = upload(operator, _sheet(3))
    assert response.status_code == 302
    import_id = int(re.search(r"/admin/peserta/impor/(\d+)$", response.headers["Location"])[1])
    with app.app_context():
        [job] = service.recent_for(db.session.get(ParticipantImport, import_id).admin)
        assert job.kind == "import_parse" and job.status == "done"
        assert job.progress_done == job.progress_total == 3
    assert "3 baru" in operator.get(response.headers["Location"]).get_data(as_text=True)
    assert INLINE_PARSE_ROWS == 2000


def test_errors_end_the_job_in_indonesian_naming_file_row_and_column(app, operator, worker):
    # Wrong columns: the header is not there (found only when the sheet is read).
    no_header = xlsx([["Nama", "Alamat"]] + [[f"Orang {n}", "Jl. Mawar"] for n in range(2100)])
    wrong = _job_of(upload(operator, no_header, "kolom-salah.xlsx"))
    # Every row rejected: the NIK typed as a number (Excel shows 7.32202E+15).
    numbers = _sheet(2100, nik=lambda n: 7322015506900000 + n)
    rejected = _job_of(upload(operator, numbers, "nik-angka.xlsx"))
    w = worker()
    failed = wait_for(app, wrong, lambda j: not j.active, seconds=180, worker_log=w.log)
    assert failed.status == "failed"
    assert failed.error.startswith("kolom-salah.xlsx: Baris judul kolom tidak ditemukan")
    failed = wait_for(app, rejected, lambda j: not j.active, seconds=180, worker_log=w.log)
    assert failed.status == "failed"
    assert failed.error.startswith("nik-angka.xlsx: Semua 2.100 baris ditolak")
    assert "Baris 2, kolom C (NIK): NIK tersimpan sebagai angka" in failed.error
    assert "dan 2.097 masalah lain" in failed.error
    page = operator.get(f"/tugas/{rejected}?ikuti=1").get_data(as_text=True)
    assert "Gagal" in page and "Semua 2.100 baris ditolak" in page
    # Nothing half-read stays: no pending import, no stored file.
    assert _imports(app) == [] and _stored(app) == []
    # A small sheet with the same fault is refused in the request, with the same words.
    app.config["BIMTEK_JOB_INLINE_SCALE"] = 1.0
    small = upload(operator, _sheet(2, nik=lambda n: 7322015506900000 + n), "kecil.xlsx")
    assert small.status_code == 400
    assert "kecil.xlsx: Semua 2 baris ditolak" in small.get_data(as_text=True)
    assert _imports(app) == [] and _stored(app) == []


def test_a_worker_killed_mid_read_leaves_nothing_half_written_and_the_upload_can_be_retried(
    app, operator, worker
):
    data = _sheet(5000)
    job_id = _job_of(upload(operator, data))
    [record] = _imports(app)
    w = worker()
    wait_for(app, job_id, lambda j: j.status == "running" and j.progress_done > 0,
             worker_log=w.log)  # fmt: skip
    w.kill()
    assert job_row(app, job_id).status == "running"  # nobody told the database
    # Still pending, still the workbook as uploaded: no rows read were kept, nobody imported.
    [still] = _imports(app)
    assert still.status == "pending" and still.stored_name.endswith(".xlsx")
    assert [name for name in _stored(app) if not name.startswith(".")] == [still.stored_name]
    assert _imported(app) == 0
    w2 = worker()
    failed = wait_for(app, job_id, lambda j: j.status == "failed", worker_log=w2.log)
    assert failed.error == PARSE_INTERRUPTED
    # Its preview says to upload again instead of showing half a sheet.
    gone = operator.get(f"/admin/peserta/impor/{record.id}")
    assert gone.status_code == 302 and gone.headers["Location"].endswith("/admin/peserta/impor")
    said = operator.get(gone.headers["Location"]).get_data(as_text=True)
    assert "terhenti" in said and "Unggah ulang berkasnya" in said
    # Uploaded again, it is read to the end by the new worker.
    again = _job_of(upload(operator, data))
    done = wait_for(app, again, lambda j: not j.active, seconds=180, worker_log=w2.log)
    assert done.status == "done", done.error
    assert done.progress_done == 5000


def test_cancelling_a_parse_still_queued_discards_the_upload_at_once(app, operator):
    # Every job goes to the worker here (BIMTEK_JOB_INLINE_SCALE=0), and none is running.
    job_id = _job_of(upload(operator, _sheet(5), "batal.xlsx"))
    [record] = _imports(app)
    assert _stored(app) == [record.stored_name]
    page = operator.get(f"/tugas/{job_id}").get_data(as_text=True)
    assert "Menunggu giliran" in page and "Batalkan tugas" in page
    # Without the form's token nothing happens.
    assert operator.post(f"/tugas/{job_id}/batal").status_code == 400
    assert job_row(app, job_id).status == "queued" and len(_imports(app)) == 1

    token = csrf_token(operator, f"/tugas/{job_id}")
    cancelled = operator.post(f"/tugas/{job_id}/batal", data={"csrf_token": token})
    assert cancelled.status_code == 302 and cancelled.headers["Location"].endswith(
        f"/tugas/{job_id}"
    )
    # At once, not at the daily clean-up: no pending import, no stored workbook.
    assert _imports(app) == [] and _stored(app) == []
    page = operator.get(cancelled.headers["Location"]).get_data(as_text=True)
    assert "Tugas dibatalkan." in page and "Dibatalkan" in page
    assert "Berkas unggahan sudah dihapus dan tidak ada peserta yang disimpan" in page
    assert "Buka pratinjau impor" not in page and "Batalkan tugas" not in page
    assert operator.get(f"/admin/peserta/impor/{record.id}").status_code == 404
    listed = operator.get("/tugas").get_data(as_text=True)
    assert "batal.xlsx" in listed and "Dibatalkan" in listed
    # The worker that takes its queue message later does nothing with it.
    with app.app_context():
        service.run(job_id)
    assert job_row(app, job_id).status == "cancelled" and _imported(app) == 0
    # The same file can be uploaded again (a new import, a new job).
    assert _job_of(upload(operator, _sheet(5), "batal.xlsx")) != job_id
    assert len(_imports(app)) == 1 and len(_stored(app)) == 1
