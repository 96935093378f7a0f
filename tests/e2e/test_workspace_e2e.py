"""A trainer edits a module in Chromium, sees the live preview, publishes; a participant who
finished the old version sees the new one and the note that it changed."""

import pytest
from sqlalchemy import select

from bimtek.extensions import db
from bimtek.learning.models import Course, Module

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_module(live_app, demo):
    with live_app.app_context():
        course = db.session.scalars(select(Course)).first()
        # This test is about module versions, not the evaluation order: the participant may
        # read without taking the pre-test first.
        course.pretest_first = False
        module = course.modules[0]
        # Shipped modules belong to the province, which alone edits them; here the module is
        # given to the trainer's own office (Luwu Utara, the course's).
        module.office_id = course.office_id
        db.session.commit()
        return course.id, module.id, module.slug


def test_trainer_edits_previews_publishes_and_participant_sees_new_version(
    live_app, browser, page, demo_module, sign_in
):
    base = live_app.config["LIVE_URL"]
    course_id, module_id, slug = demo_module
    # The participant reads and finishes version 1.
    participant = browser.new_context(viewport={"width": 360, "height": 740}, locale="id-ID")
    reader = participant.new_page()
    sign_in(reader, "7322011203950002", "demo-peserta-2029")
    reader.goto(f"{base}/kursus/{course_id}/modul/{slug}")
    reader.get_by_role("button", name="Tandai selesai").click()

    # The trainer edits in the browser at 360 px.
    sign_in(page, "pelatih", "demo-pelatih-2029")
    page.get_by_role("link", name="Ruang kerja").click()
    page.goto(f"{base}/ruang-kerja/modul/{module_id}/sunting")
    body = page.locator("#body")
    body.fill(
        body.input_value() + "\n\n## Pembaruan 2029\n\nKetentuan **baru** <script>x()</script>\n"
    )
    # Live preview after a pause in typing, sanitised by the server.
    preview = page.locator("#preview")
    preview.locator("h2", has_text="Pembaruan 2029").wait_for()
    assert preview.locator("strong", has_text="baru").count() == 1
    assert preview.locator("script").count() == 0
    page.get_by_role("button", name="Terbitkan").click()
    page.wait_for_url("**/versi")
    assert page.get_by_text("terbit sebagai versi 2").is_visible()
    assert page.get_by_role("cell", name="Narasumber Bimtek").is_visible()

    # The participant sees the new text and that a newer version exists.
    reader.goto(f"{base}/kursus/{course_id}/modul/{slug}")
    assert reader.locator("article.prose h2", has_text="Pembaruan 2029").is_visible()
    assert reader.get_by_text("Anda sudah menyelesaikan versi 1").is_visible()
    reader.goto(f"{base}/kursus/{course_id}")
    assert reader.get_by_text("versi baru tersedia").first.is_visible()
    participant.close()
    with live_app.app_context():
        assert db.session.get(Module, module_id).current_version_no == 2
