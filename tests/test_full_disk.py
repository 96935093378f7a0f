"""A full disk and a killed import (issue 12 §4): nothing half-written is left under any name, the
person is told the storage is full and whom to tell, and the CLI's temporary credentials sheet
(passwords never stored) is deleted on error, on Ctrl-C and SIGTERM, and at the next start after
a kill -9.

The full disk is real: a 256 KB tmpfs mounted as the upload folder in a private mount namespace
(`unshare -r -m`, no root needed on the host, nothing visible outside the test), filled until
write() fails with ENOSPC."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bimtek.accounts.models import ParticipantImport, User
from bimtek.extensions import db
from bimtek.storage import STORAGE_FULL_MESSAGE
from tests.xlsx_craft import HEADER, workbook

ROOT = Path(__file__).resolve().parent.parent
SHOWN = "hubungi admin/pengelola server KPU"


def _sheet(rows: int) -> bytes:
    return workbook(
        [HEADER]
        + [
            [n, f"Peserta Nomor {n}", f"732201550691{n:04d}", "PPS", "Anggota", "Malangke",
             "Pattimang"]
            for n in range(1, rows + 1)
        ]
    )  # fmt: skip


def _peserta(app) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(User).where(User.nik.like("732201550691%"))
        )


def _can_mount_tmpfs(where: Path) -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare(1)"
    probe = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs '{where}'"],
        capture_output=True,
        text=True,
    )
    return None if probe.returncode == 0 else f"cannot mount a private tmpfs: {probe.stderr}"


def test_a_full_disk_says_so_and_leaves_nothing_half_written(app, demo, tmp_path):
    full = tmp_path / "uploads"
    full.mkdir()
    reason = _can_mount_tmpfs(full)
    if reason:
        pytest.skip(reason)
    sheet = tmp_path / "peserta.xlsx"
    sheet.write_bytes(_sheet(20))
    args = {
        "upload_dir": str(full),
        "database_url": app.config["SQLALCHEMY_DATABASE_URI"],
        "content_dir": str(ROOT),
        "sheet": str(sheet),
    }
    run = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c",
         'mount -t tmpfs -o size=256k tmpfs "$0" && exec "$@"', str(full),
         sys.executable, str(ROOT / "tests" / "full_disk_probe.py"), json.dumps(args)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])

    status, page = seen["import"]
    assert status == 507
    assert "Penyimpanan server penuh" in page and SHOWN in page
    assert "Terjadi kesalahan di server" not in page
    assert "Terjadi kesalahan di server" not in page  # the 500 page said "coba lagi"
    status, page = seen["material"]
    assert status == 507
    assert "Penyimpanan server penuh" in page and SHOWN in page
    assert "Terjadi kesalahan di server" not in page
    exit_code, output = seen["cli"]
    assert exit_code == 1
    assert STORAGE_FULL_MESSAGE in output and "Tidak ada data yang diimpor." in output
    # Only the filler and the empty imports folder: no temporary file, no partial upload, no
    # half credentials sheet (under its own name or any other).
    assert seen["files"] == ["filler", "imports"]
    assert not any(full.iterdir())  # the tmpfs went with its namespace: nothing leaked here
    assert _peserta(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ParticipantImport)) == 0


def _cli_env(app) -> dict:
    return {
        **os.environ,
        "BIMTEK_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "BIMTEK_SECRET_KEY": "cli-test",
        "BIMTEK_CONTENT_DIR": str(ROOT),
    }


def _start_import(app, tmp_path, rows: int):
    sheet = tmp_path / "peserta.xlsx"
    sheet.write_bytes(_sheet(rows))
    out = tmp_path / "out" / "sandi-awal.xlsx"
    out.parent.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "bimtek"), "peserta", "import", str(sheet),
         "--credentials-out", str(out)],
        env=_cli_env(app), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(out.parent.glob(".sandi-awal.xlsx.*.part")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no temporary sheet appeared: {process.communicate()}")
        time.sleep(0.01)
    return process, out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_cli_import_deletes_its_sheet_and_stores_nothing(
    app, wilayah, tmp_path, signum
):
    process, out = _start_import(app, tmp_path, 3000)
    process.send_signal(signum)
    _stdout, stderr = process.communicate(timeout=120)
    assert process.returncode != 0, stderr
    assert list(out.parent.iterdir()) == []  # neither the sheet nor its temporary file
    assert _peserta(app) == 0  # rolled back: no accounts whose passwords nobody has


def test_a_sheet_left_by_kill_9_is_deleted_at_the_next_start(app, wilayah, tmp_path, runner):
    process, out = _start_import(app, tmp_path, 3000)
    process.kill()  # SIGKILL: no Python code runs, the temporary file stays
    process.communicate(timeout=60)
    left = list(out.parent.glob(".sandi-awal.xlsx.*.part"))
    assert len(left) == 1
    legacy = out.with_name("sandi-awal.xlsx.part")  # the name earlier versions used
    legacy.write_bytes(b"old passwords")
    assert _peserta(app) == 0

    result = runner.invoke(
        args=["peserta", "import", str(tmp_path / "peserta.xlsx"), "--credentials-out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"Berkas sementara lama dihapus: {left[0]}" in result.output
    assert sorted(p.name for p in out.parent.iterdir()) == ["sandi-awal.xlsx"]
    rows = list(load_workbook(out, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert sum(1 for r in rows if len(r) > 2 and str(r[2]).startswith("732201550691")) == 3000
    assert _peserta(app) == 3000
