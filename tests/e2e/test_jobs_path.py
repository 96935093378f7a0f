"""The operator starts the rekap on a phone, watches the job page refresh itself (no script) to
done, and downloads the workbook; a real `bimtek worker` runs it."""

from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from tests.test_jobs import Worker

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_config(tmp_path):
    return {
        "BIMTEK_TIMEZONE": "Asia/Makassar",
        "BIMTEK_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "BIMTEK_UPLOAD_DIR": str(tmp_path / "uploads"),
        "BIMTEK_JOB_INLINE_SCALE": 0.0,  # the demo is small: make it a background job anyway
        "BIMTEK_JOB_ISSUE_CHUNK": 200,
    }


@pytest.fixture
def worker(live_app, tmp_path):
    started = Worker(live_app, tmp_path).start()
    yield started
    started.stop()


def test_operator_starts_the_rekap_and_downloads_it_when_done(
    live_app, browser, demo, sign_in, worker, tmp_path
):
    base = live_app.config["LIVE_URL"]
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale="id-ID",
        timezone_id="Asia/Makassar",
        java_script_enabled=False,  # the page must refresh itself without a script
        accept_downloads=True,
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        sign_in(page, "admin", "demo-admin-2029")
        page.wait_for_url(base + "/")
        page.goto(base + "/laporan")
        page.get_by_role("link", name="Unduh rekap (.xlsx)").click()
        page.get_by_text("dibuat di latar belakang").wait_for()
        page.get_by_role("button", name="Mulai membuat").click()
        page.wait_for_url(f"{base}/tugas/*")
        assert "Rekap per kecamatan" in page.locator("h1").inner_text()
        # The page reloads itself (meta refresh) until the worker is done.
        page.locator("#status-tugas strong", has_text="Selesai").wait_for(timeout=60_000)
        assert page.locator("progress").count() == 1
        counts = page.locator(".progress-text").inner_text()
        assert " dari " in counts and counts.endswith("peserta")
        # Times in the office's zone (WITA, UTC+8), not the server's UTC.
        wita = (datetime.now(UTC) + timedelta(hours=8)).strftime("%H.")
        assert wita in page.locator(".facts").inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"the job page is {width}px wide on a 360px phone"
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Unduh rekap-kursus-").click()
        path = tmp_path / "rekap.xlsx"
        download_info.value.save_as(path)
        workbook = load_workbook(path, read_only=True)
        assert workbook.sheetnames[0] == "Ringkasan"
        assert len(workbook.sheetnames) > 1  # a sheet per kecamatan of the demo
        # The operator's list of jobs shows it.
        page.goto(base + "/tugas")
        assert "Selesai" in page.locator(".job-list").inner_text()
    finally:
        context.close()
