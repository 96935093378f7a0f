"""A participant who completed a course downloads the certificate on a phone; an anonymous
visitor opens the verification page its QR code points to."""

import io
from urllib.parse import urlsplit

import pypdf
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from bimtek.certificates import service as certificates
from bimtek.demo import DEMO_PESERTA_PASSWORD
from bimtek.extensions import db
from bimtek.learning.models import Course
from tests.conftest import complete_course

pytestmark = pytest.mark.e2e

NIK = "7322011203950002"  # Muh. Rizal Pratama, PPS, demo


@pytest.fixture
def graduate(live_app, demo):
    """The demo PPS member has read every module and passed the post-test; the course
    issues certificates automatically."""
    with live_app.app_context():
        course = db.session.scalars(select(Course).order_by(Course.id)).first()
        course.auto_issue = True
        complete_course(course.id, NIK)
        # The course turns automatic issuing on after the member qualified: the catch-up
        # issues it (an event, not the page view, issues certificates).
        certificates.issue_pending_automatic(course)
        db.session.commit()
        return course.id


def test_download_certificate_then_verify_anonymously(live_app, page, browser, graduate, sign_in):
    base = live_app.config["LIVE_URL"]
    sign_in(page, NIK, DEMO_PESERTA_PASSWORD)
    page.wait_for_url(base + "/")

    page.goto(f"{base}/kursus/{graduate}")
    assert page.get_by_text("Selamat, Anda telah menyelesaikan kursus ini.").is_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 360, f"course page is {overflow}px wide on a 360px screen"
    with page.expect_download() as info:
        page.get_by_role("link", name="Unduh sertifikat (PDF)").click()
    data = open(info.value.path(), "rb").read()
    pdf_page = pypdf.PdfReader(io.BytesIO(data)).pages[0]
    text = pdf_page.extract_text()
    assert "Muh. Rizal Pratama" in text and NIK not in text
    picture = pdf_page.images[0].image.convert("L")
    big = picture.resize((picture.width * 8, picture.height * 8), Image.NEAREST)
    url = zxingcpp.read_barcodes(big)[0].text
    assert url.startswith("http://bimtek.example.test/verifikasi/")

    # Someone checking the certificate: no account, a phone, the address from the QR code
    # (on this test server instead of the public host).
    visitor = browser.new_context(viewport={"width": 360, "height": 740}, locale="id-ID")
    try:
        anonymous = visitor.new_page()
        anonymous.goto(base + urlsplit(url).path)
        assert anonymous.get_by_text("Sertifikat sah").is_visible()
        body = anonymous.locator("main").inner_text()
        assert "Muh. Rizal Pratama" in body
        assert "Bimtek Kode Etik" in body
        assert NIK not in body and "Malangke" not in body
        width = anonymous.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"verification page is {width}px wide"
        assert anonymous.get_by_role("link", name="Keluar").count() == 0
    finally:
        visitor.close()
