"""A trainer puts the check-in code on the projector; a participant types it on a phone."""

import io

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from bimtek.attendance.models import Attendance
from bimtek.demo import DEMO_PESERTA_PASSWORD
from bimtek.extensions import db

pytestmark = pytest.mark.e2e

PPS_NIK = "7322011203950002"


def test_participant_checks_in_with_the_code_on_the_projector(
    live_app, browser, page, demo, sign_in
):
    projector = browser.new_context(
        viewport={"width": 1280, "height": 720}, locale="id-ID"
    ).new_page()
    sign_in(projector, "pelatih", "demo-pelatih-2029")
    projector.get_by_role("link", name="Sesi", exact=True).click()
    projector.get_by_role("link", name="Bimtek tatap muka PPK dan PPS Kecamatan Malangke").click()
    projector.get_by_role("link", name="Buka layar kode presensi").click()
    shown = projector.locator("#kode").inner_text().replace(" ", "")
    assert len(shown) == 6 and shown.isdigit()

    # the QR on the screen opens the check-in page with that code
    png = projector.locator(".projector-qr").screenshot()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert decoded, "the projector's QR decodes"
    assert "/hadir?s=" in decoded[0].text and decoded[0].text.endswith("kode=" + shown)

    sign_in(page, PPS_NIK, DEMO_PESERTA_PASSWORD)
    page.get_by_role("link", name="Presensi").click()
    code = projector.locator("#kode").inner_text().replace(" ", "")  # may have turned over
    page.get_by_label("Kode presensi").fill(code)
    page.get_by_role("button", name="Saya hadir").click()
    page.get_by_text("Terima kasih, Anda tercatat hadir").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    with live_app.app_context():
        record = db.session.scalars(select(Attendance)).one()
        assert record.status == "hadir" and record.method == "kode"

    projector.reload()
    projector.get_by_text("1 dari").wait_for()
    projector.goto(projector.url.replace("/proyektor", ""))
    row = projector.locator(".mark-form tbody tr", has_text="Muh. Rizal Pratama")
    assert "Hadir" in row.inner_text() and "Kode di ponsel" in row.inner_text()
    projector.context.close()
