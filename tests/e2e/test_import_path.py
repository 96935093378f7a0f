"""An admin on a 360-px phone imports a sheet with one bad row: preview, valid-only import,
credentials sheet; a new participant signs in with a password from that sheet."""

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bimtek.accounts.models import User
from bimtek.extensions import db
from tests.test_import import HEADER, person, xlsx

pytestmark = pytest.mark.e2e


def test_admin_imports_valid_rows_and_hands_out_passwords(live_app, page, demo, sign_in, tmp_path):
    base = live_app.config["LIVE_URL"]
    live_app.config["BIMTEK_UPLOAD_DIR"] = str(tmp_path / "uploads")
    sheet = tmp_path / "pps-malangke.xlsx"
    sheet.write_bytes(
        xlsx(
            [
                ["DAFTAR PPS MALANGKE"],
                HEADER,
                person(1, "Rahmawati Usman", "7322015512930019", desa="pattimang"),
                person(2, "Salah Format", 7322015512930020),
                person(3, "Andi Jaya", "7322015512930021", jabatan="ketua", desa="Tolada"),
            ]
        )  # fmt: skip
    )
    sign_in(page, "admin", "demo-admin-2029")
    page.goto(base + "/admin/peserta")
    page.get_by_role("link", name="Impor dari Excel").click()
    page.get_by_label("Berkas Excel (.xlsx)").set_input_files(str(sheet))
    page.get_by_role("button", name="Unggah dan periksa").click()
    page.wait_for_url("**/admin/peserta/impor/*")
    assert page.get_by_text("Belum ada yang disimpan").is_visible()
    rejected = page.get_by_test_id("rejected")
    assert "NIK tersimpan sebagai angka" in rejected.inner_text()
    assert page.get_by_role("button", name="Impor sekarang").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.get_by_role("button", name="Impor hanya baris yang valid (2 baru, 0 diperbarui)").click()
    assert page.get_by_text("Impor selesai: 2 baru").is_visible()
    page.get_by_label("Saya mengerti bahwa kata sandi awal dibuat baru").check()
    with page.expect_download() as info:
        page.get_by_role("button", name="Unduh lembar kata sandi awal (.xlsx)").click()
    book = load_workbook(io.BytesIO(info.value.path().read_bytes()))
    rows = list(book["Malangke"].iter_rows(values_only=True))[4:]
    passwords = {row[2]: row[5] for row in rows}
    assert set(passwords) == {"7322015512930019", "7322015512930021"}
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.get_by_role("button", name="Keluar").click()
    page.get_by_label("NIK atau nama pengguna").fill("7322015512930019")
    page.get_by_label("Kata sandi").fill(passwords["7322015512930019"])
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(base + "/akun/kata-sandi")
    with live_app.app_context():
        user = db.session.scalars(select(User).where(User.nik == "7322015512930019")).one()
        assert (user.nama, user.desa_kode) == ("Rahmawati Usman", "73.22.01.2001")
