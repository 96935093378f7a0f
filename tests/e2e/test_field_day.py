"""A whole bimtek day as the field has it, in Chromium: phones at 360 px set to WITA, the office
Luwu Utara's own settings, and links and QR codes on a public address that is not
127.0.0.1:5000 (a name the phones resolve to this machine).

The operator imports the PPS of Malangke from a sheet and prints their passwords; a new member
signs in for the first time, takes the pre-test, reads the modules, scans the projector's QR code
to check in, passes the post-test; the office issues the certificates; the member downloads the
PDF, whose QR code anyone can open without signing in; the office downloads the rekap.
"""

import io
import re

import pytest
import zxingcpp
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select

from bimtek.accounts.models import User
from bimtek.attendance.models import Attendance
from bimtek.certificates.models import Certificate
from bimtek.extensions import db
from bimtek.learning.models import ModuleProgress
from bimtek.quiz.models import Attempt, AttemptAnswer
from tests.e2e.conftest import ARTIFACTS, PUBLIC_DOMAIN
from tests.test_import import HEADER, person, xlsx

pytestmark = pytest.mark.e2e

ZONE = "Asia/Makassar"
NIK = "7322015512930031"
NAMA = "Andi Tenri Ajeng"
NEW_PASSWORD = "Lutra-Masamba-2029!"


@pytest.fixture
def public(live_app, demo):
    """The office's address as the hall's phones know it (BIMTEK_PUBLIC_URL)."""
    port = live_app.config["LIVE_URL"].rsplit(":", 1)[1]
    url = f"http://lutra.{PUBLIC_DOMAIN}:{port}"
    live_app.config["BIMTEK_PUBLIC_URL"] = url
    return url


@pytest.fixture
def phone(browser):
    contexts = []

    def open_phone(width=360, height=740):
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale="id-ID", timezone_id=ZONE
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_phone
    for context in contexts:
        context.close()


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width}px wide"


def answer_all(page, app, correct: bool) -> None:
    """Answer every question of the open attempt on the page, rightly or not."""
    with app.app_context():
        attempt = db.session.scalars(
            select(Attempt)
            .join(User, Attempt.user_id == User.id)
            .where(User.nik == NIK, Attempt.status == "open")
        ).one()
        rows = db.session.scalars(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id)
        ).all()
        keys = {row.position: list(row.question_version.answer) for row in rows}
        options = {row.position: list(row.option_order or []) for row in rows}
    for position, answer in sorted(keys.items()):
        if correct:
            chosen = answer
        else:  # a wrong option where there is one
            others = [k for k in options[position] if k not in answer]
            chosen = others[:1] or answer
        for key in chosen:
            page.locator(f'input[name="q{position}"][value="{key}"]').check()
    page.get_by_text("Semua jawaban tersimpan").wait_for()


def test_a_bimtek_day_in_luwu_utara(live_app, public, phone, sign_in, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    live_app.config["BIMTEK_UPLOAD_DIR"] = str(tmp_path / "uploads")

    # --- morning: the operator imports the PPS of Malangke and prints their passwords --------
    operator = phone()
    sign_in(operator, "admin", "demo-admin-2029", base=public)
    sheet = tmp_path / "pps-malangke.xlsx"
    sheet.write_bytes(
        xlsx([["DAFTAR ANGGOTA PPS KECAMATAN MALANGKE"], HEADER,
              person(1, NAMA, NIK, desa="pattimang"),
              person(2, "Muh. Alif Rahman", "7322011702940032", jabatan="ketua", desa="Tolada")])
    )  # fmt: skip
    operator.goto(public + "/admin/peserta")
    operator.get_by_role("link", name="Impor dari Excel").click()
    operator.get_by_label("Berkas Excel (.xlsx)").set_input_files(str(sheet))
    operator.get_by_role("button", name="Unggah dan periksa").click()
    operator.get_by_role("button", name=re.compile("Impor sekarang")).click()
    operator.get_by_text("Impor selesai: 2 baru").wait_for()
    operator.get_by_role("checkbox").check()
    with operator.expect_download() as download:
        operator.get_by_role("button", name="Unduh lembar kata sandi awal (.xlsx)").click()
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    cells = [row for ws in book.worksheets for row in ws.iter_rows(values_only=True)]
    row = next(r for r in cells if NIK in r)
    initial = next(v for v in row if isinstance(v, str) and v not in (NIK, NAMA) and len(v) >= 8
                   and " " not in v and not v.isdigit())  # fmt: skip
    fits(operator)

    # --- the new member's first sign-in on their phone ---------------------------------------
    member = phone()
    sign_in(member, NIK, initial, base=public)
    member.wait_for_url(public + "/akun/kata-sandi**")
    member.get_by_label("Kata sandi saat ini").fill(initial)
    member.get_by_label("Kata sandi baru", exact=True).fill("12345678")  # refused: too common
    member.get_by_label("Ulangi kata sandi baru").fill("12345678")
    member.get_by_role("button", name="Simpan kata sandi").click()
    assert member.url.startswith(public + "/akun/kata-sandi")
    member.get_by_label("Kata sandi saat ini").fill(initial)
    member.get_by_label("Kata sandi baru", exact=True).fill(NEW_PASSWORD)
    member.get_by_label("Ulangi kata sandi baru").fill(NEW_PASSWORD)
    member.get_by_role("button", name="Simpan kata sandi").click()
    member.wait_for_url(public + "/")

    # --- pre-test first: the modules open after it --------------------------------------------
    member.goto(public + "/kursus/1")
    fits(member)
    member.get_by_role("link", name="Kerjakan Pre-test").click()
    member.get_by_role("button", name="Mulai Pre-test").click()
    member.wait_for_url(re.compile(r"/ujian/\d+$"))  # not the result page: the timer holds in WITA
    answer_all(member, live_app, correct=False)
    member.once("dialog", lambda dialog: dialog.accept())
    member.get_by_role("button", name="Kirim jawaban").click()
    member.wait_for_url(re.compile(r"/ujian/\d+/hasil$"))
    assert "Belum lulus" not in member.content()  # a pre-test measures, it does not grade
    fits(member)

    # --- the modules: the pre-test's result leads to the first one ------------------------
    member.get_by_role("link", name=re.compile(r"Mulai modul 1: ")).click()
    for _ in range(4):
        member.wait_for_url(re.compile(r"/kursus/1/modul/"))
        fits(member)
        here = member.url
        member.get_by_role("button", name="Tandai selesai").click()
        member.get_by_text("ditandai selesai").wait_for()
        if member.url == here or "/modul/" not in member.url:
            break  # the last one goes back to the course page
    with live_app.app_context():
        user = db.session.scalars(select(User).where(User.nik == NIK)).one()
        read = db.session.scalar(
            select(func.count())
            .select_from(ModuleProgress)
            .where(ModuleProgress.user_id == user.id, ModuleProgress.completed_at.is_not(None))
        )
    assert read == 4

    # --- the face-to-face session: the projector's QR code on the public address -------------
    trainer = phone(1024, 768)
    sign_in(trainer, "pelatih", "demo-pelatih-2029", base=public)
    trainer.get_by_role("link", name="Sesi", exact=True).click()
    trainer.get_by_role("link", name="Bimtek tatap muka PPK dan PPS Kecamatan Malangke").click()
    assert "WITA" in trainer.content() and "WIB" not in trainer.content()
    trainer.get_by_role("link", name="Buka layar kode presensi").click()
    trainer.get_by_text("setiap 45 detik").wait_for()
    trainer.screenshot(path=str(ARTIFACTS / "field-day-projector-1024.png"))
    decoded = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(trainer.locator(".projector-qr").screenshot()))
    )
    assert decoded, "the projector's QR code decodes"
    link = decoded[0].text
    assert link.startswith(public + "/hadir?"), link
    assert "127.0.0.1:5000" not in link
    member.goto(link)
    member.get_by_role("button", name="Saya hadir").click()
    member.get_by_text("Terima kasih, Anda tercatat hadir").wait_for()
    fits(member)
    with live_app.app_context():
        record = db.session.scalars(
            select(Attendance).join(User, Attendance.user_id == User.id).where(User.nik == NIK)
        ).one()
        assert record.status == "hadir"

    # --- post-test, passed -------------------------------------------------------------------
    member.goto(public + "/kursus/1")
    member.get_by_role("link", name="Kerjakan Post-test").click()
    member.get_by_role("button", name="Mulai Post-test").click()
    member.wait_for_url(re.compile(r"/ujian/\d+$"))
    answer_all(member, live_app, correct=True)
    member.once("dialog", lambda dialog: dialog.accept())
    member.get_by_role("button", name="Kirim jawaban").click()
    member.wait_for_url(re.compile(r"/ujian/\d+/hasil$"))
    member.get_by_text("100").first.wait_for()

    # --- the office issues the certificates of Malangke ---------------------------------------
    operator.goto(public + "/admin/kursus/1/sertifikat?kecamatan=73.22.01")
    for box in operator.get_by_role("checkbox").all():
        box.check()
    operator.get_by_role("button", name=re.compile(r"Terbitkan \d+ sertifikat")).click()
    operator.get_by_text(re.compile("diterbitkan")).first.wait_for()

    # --- the member downloads the PDF; its QR code verifies without signing in ----------------
    member.goto(public + "/kursus/1")
    with member.expect_download() as download:
        member.get_by_role("link", name="Unduh sertifikat (PDF)").click()
    reader = PdfReader(io.BytesIO(download.value.path().read_bytes()))
    text = reader.pages[0].extract_text()
    assert NAMA.upper() in text.upper()
    assert "KPU KABUPATEN LUWU UTARA" in text.upper() and "Masamba" in text
    assert "Kabupaten/Kota" not in text and "(nama penandatangan)" not in text
    with live_app.app_context():
        certificate = db.session.scalars(
            select(Certificate).join(User, Certificate.user_id == User.id).where(User.nik == NIK)
        ).one()
        number, code = certificate.number, certificate.current_version.code
    assert number in text
    qr_images = [Image.open(io.BytesIO(image.data)) for image in reader.pages[0].images]
    decoded = [r.text for image in qr_images for r in zxingcpp.read_barcodes(image.convert("L"))]
    assert decoded == [f"{public}/verifikasi/{code}"], decoded
    anyone = phone()
    anyone.goto(decoded[0])
    anyone.get_by_text("Sertifikat sah").wait_for()
    page_text = anyone.content()
    assert NAMA in page_text and NIK not in page_text
    fits(anyone)

    # --- the office's rekap ------------------------------------------------------------------
    operator.goto(public + "/laporan")
    with operator.expect_download() as download:
        operator.get_by_role("link", name="Unduh rekap (.xlsx)").click()
    rekap = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    rows = [row for ws in rekap.worksheets for row in ws.iter_rows(values_only=True)]
    mine = next(r for r in rows if NAMA in r)
    assert number in mine
    fits(operator)
