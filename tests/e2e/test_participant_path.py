"""A participant signs in, is made to change the password, takes the pre-test, opens a module
and marks it read."""

import pytest
from sqlalchemy import select

from bimtek.accounts.models import User
from bimtek.accounts.service import ParticipantData, create_participant
from bimtek.extensions import db
from bimtek.learning.models import ModuleProgress

pytestmark = pytest.mark.e2e


@pytest.fixture
def new_peserta(live_app, demo):
    with live_app.app_context():
        data = ParticipantData(
            "Rahmawati", "7322015512930009", "PPS", "Ketua", "73.22.01", "73.22.01.2001"
        )
        user, initial = create_participant(data, None)
        db.session.commit()
    return "7322015512930009", initial


def test_first_sign_in_change_password_read_and_mark(live_app, page, new_peserta):
    nik, initial = new_peserta
    base = live_app.config["LIVE_URL"]
    page.goto(base + "/")
    assert page.url.startswith(base + "/login")

    page.get_by_label("NIK atau nama pengguna").fill(nik)
    page.get_by_label("Kata sandi").fill("salah-sandi-1")
    page.get_by_role("button", name="Masuk").click()
    assert page.get_by_text("NIK/nama pengguna atau kata sandi salah.").is_visible()

    page.get_by_label("NIK atau nama pengguna").fill(nik)
    page.get_by_label("Kata sandi").fill(initial)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(base + "/akun/kata-sandi")
    assert page.get_by_text("Ini masuk pertama Anda").is_visible()

    page.get_by_label("Kata sandi saat ini").fill(initial)
    page.get_by_label("Kata sandi baru", exact=True).fill("sandi-rahmawati-baru")
    page.get_by_label("Ulangi kata sandi baru").fill("sandi-rahmawati-baru")
    page.get_by_role("button", name="Simpan kata sandi").click()
    page.wait_for_url(base + "/")
    assert page.get_by_text("Kata sandi sudah diganti").is_visible()
    assert page.locator("progress").first.get_attribute("value") == "0"

    # The pre-test comes first: the modules open after it, and its result leads to module 1.
    page.get_by_role("link", name="Mulai: Pre-test").first.click()
    page.get_by_role("button", name="Mulai Pre-test").click()
    page.wait_for_url("**/ujian/*")
    page.once("dialog", lambda dialog: dialog.accept())  # nothing answered: asked first
    page.get_by_role("button", name="Kirim jawaban").click()
    page.wait_for_url("**/ujian/*/hasil")
    assert page.get_by_test_id("score").inner_text() == "0"
    assert page.get_by_text("Belum lulus").count() == 0
    page.get_by_role("link", name="Mulai modul 1: Kode Etik Penyelenggara Pemilu").click()
    page.wait_for_url("**/modul/kode-etik-penyelenggara")
    assert page.get_by_role("heading", level=1).inner_text() == "Kode Etik Penyelenggara Pemilu"
    # Readable on a 360-px phone: nothing wider than the screen.
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 360, f"page is {overflow}px wide on a 360px screen"
    # the table of contents is folded on a phone: one tap opens it
    assert page.locator(".toc a").first.is_hidden()
    page.get_by_text("Daftar isi").click()
    first_toc_link = page.locator(".toc a").first
    target = first_toc_link.get_attribute("href")
    first_toc_link.click()
    assert page.url.endswith(target)

    page.get_by_role("button", name="Tandai selesai").click()
    page.wait_for_url("**/modul/kode-perilaku-badan-adhoc")
    assert page.get_by_text("ditandai selesai").is_visible()

    page.goto(base + "/kursus/1/modul/kode-etik-penyelenggara")
    assert page.get_by_test_id("module-done").is_visible()
    page.goto(base + "/")
    assert page.locator("progress").first.get_attribute("value") == "1"
    assert page.get_by_text("1 dari 4 modul selesai").is_visible()

    with live_app.app_context():
        user = db.session.scalars(select(User).where(User.nik == nik)).one()
        assert not user.must_change_password
        done = db.session.scalars(
            select(ModuleProgress).where(
                ModuleProgress.user_id == user.id, ModuleProgress.completed_at.is_not(None)
            )
        ).all()
        assert len(done) == 1
