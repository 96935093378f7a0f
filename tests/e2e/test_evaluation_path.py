"""A participant checks in on a phone, then rates the session; the trainer reads the results.

Screenshots of both pages go to test-artifacts/ (360 px, Asia/Makassar)."""

import pytest
from sqlalchemy import select

from bimtek.accounts.models import User
from bimtek.accounts.service import ParticipantData, create_participant
from bimtek.attendance import codes
from bimtek.attendance import service as attendance_service
from bimtek.attendance.models import TrainingSession
from bimtek.demo import DEMO_PESERTA_PASSWORD, DEMO_SESSION_TITLE
from bimtek.evaluation import service
from bimtek.evaluation.items import ITEMS
from bimtek.evaluation.models import Evaluation
from bimtek.extensions import db
from bimtek.timeutil import utcnow
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

PPS_NIK = "7322011203950002"
OTHER_NIKS = ("7322014107900001", "7322012301990004")  # demo PPK Ketua, one added here
ZONE = "Asia/Makassar"


@pytest.fixture
def live_config():
    """The office in WITA."""
    return {"BIMTEK_TIMEZONE": ZONE}


@pytest.fixture
def rated_session(live_app, demo):
    """The demo session, with two other participants present who already rated it."""
    with live_app.app_context():
        create_participant(
            ParticipantData(
                "Hasnah Lamba", OTHER_NIKS[1], "PPS", "Anggota", "73.22.01", "73.22.01.2001"
            ),
            None,
            DEMO_PESERTA_PASSWORD,
        )
        session = db.session.scalars(
            select(TrainingSession).where(TrainingSession.title == DEMO_SESSION_TITLE)
        ).one()
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        others = list(db.session.scalars(select(User).where(User.nik.in_(OTHER_NIKS))))
        attendance_service.sync_invites(session)
        attendance_service.mark(session, admin, [u.id for u in others], "hadir", None, utcnow())
        trainer_ids = [t.id for t in session.trainers]
        comments = [
            "Materi netralitas sangat membantu.\nMohon contoh kasus ditambah.",
            '<script>alert("x")</script> =HYPERLINK("http://contoh.invalid","klik")',
        ]
        for user, score, comment in zip(others, (5, 3), comments, strict=True):
            answers = {
                (item.key, t): score
                for item in ITEMS
                for t in (trainer_ids if item.per_trainer else [None])
            }
            service.submit(session, user, answers, comment, utcnow(), 24)
        db.session.commit()
        return session.id, session.secret


def _context(browser, width):
    return browser.new_context(
        viewport={"width": width, "height": 740}, locale="id-ID", timezone_id=ZONE
    )


def test_participant_rates_the_session_and_the_trainer_reads_the_results(
    live_app, browser, rated_session, sign_in
):
    session_id, secret = rated_session
    base = live_app.config["LIVE_URL"]
    ARTIFACTS.mkdir(exist_ok=True)
    phone = _context(browser, 360).new_page()
    errors: list[str] = []
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(phone, PPS_NIK, DEMO_PESERTA_PASSWORD)
    phone.get_by_role("link", name="Presensi").click()
    code = codes.code_for(secret, session_id, codes.window_of(utcnow(), 45))
    phone.get_by_label("Kode presensi").fill(code)
    phone.get_by_role("button", name="Saya hadir").click()
    phone.get_by_text("Terima kasih, Anda tercatat hadir").wait_for()
    phone.get_by_role("link", name="Isi evaluasi").click()

    phone.get_by_text("Evaluasi dapat diisi dan diubah sampai").wait_for()
    assert "WITA" in phone.locator("body").inner_text()
    groups = phone.locator("fieldset.likert")
    assert groups.count() == len(ITEMS)  # the demo session has one narasumber
    for index in range(groups.count()):
        score = "5" if index % 3 else "4"
        groups.nth(index).locator(f"label:has(input[value='{score}'])").click()
    option = groups.first.locator("label.likert-option").first.bounding_box()
    assert option["width"] >= 44 and option["height"] >= 44, option  # big enough to tap
    phone.get_by_label("Komentar dan saran (tidak wajib)").fill(
        "Ruangan agak panas, tetapi materinya jelas."
    )
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.screenshot(path=str(ARTIFACTS / "evaluation-form-360.png"), full_page=True)
    phone.get_by_role("button", name="Kirim evaluasi").click()
    phone.get_by_text("Terima kasih, evaluasi Anda tersimpan.").wait_for()
    assert phone.locator("input[name=materi_relevansi][value='4']").is_checked()
    phone.context.close()

    with live_app.app_context():
        assert db.session.query(Evaluation).count() == 3

    for width in (360, 1280):
        desk = _context(browser, width).new_page()
        desk.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        sign_in(desk, "pelatih", "demo-pelatih-2029")
        desk.goto(f"{base}/sesi/{session_id}")
        desk.get_by_text("3 dari 3 peserta hadir sudah mengisi evaluasi.").wait_for()
        desk.get_by_role("link", name="Lihat hasil evaluasi").click()
        desk.get_by_role("heading", name="Hasil evaluasi").wait_for()
        comments = desk.locator("li.comment")
        assert comments.count() == 3
        assert '<script>alert("x")</script>' in comments.nth(1).inner_text()
        assert desk.evaluate("document.documentElement.scrollWidth") <= width
        desk.screenshot(path=str(ARTIFACTS / f"evaluation-results-{width}.png"), full_page=True)
        desk.context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
