"""A Luwu Timur PPS reads the province's circular on a 360 px phone and confirms it with the
statement it asks for. Screenshots go to test-artifacts/."""

import pytest
from sqlalchemy import select

from bimtek.accounts.models import User
from bimtek.demo import DEMO_PESERTA_PASSWORD
from bimtek.extensions import db
from bimtek.imbauan import service
from bimtek.imbauan.models import ImbauanReceipt
from bimtek.offices.models import Office
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

LUTIM_PPS = "7324046302910004"
PAKTA = "Saya menyatakan akan menjaga netralitas dan tidak memihak peserta pemilu mana pun."


@pytest.fixture
def circular(live_app, demo):
    with live_app.app_context():
        province = db.session.scalars(select(Office).where(Office.wilayah_kode == "73")).one()
        author = db.session.scalars(select(User).where(User.username == "admin-sulsel")).one()
        values = service.ImbauanValues(
            title="Imbauan menjaga netralitas penyelenggara pemilu di tingkat desa/kelurahan",
            body="## Netralitas\n\nAnggota PPS **wajib** netral. "
            + "Tautan panjang: https://contoh.invalid/"
            + "a" * 80
            + "\n\n| a | b |\n|---|---|\n| 1 | 2 |",
            audience=["PPS"],
            regions=[],
            confirmation_text=PAKTA,
        )
        imbauan = service.create(province, values, author, publish=True)
        db.session.commit()
        return imbauan.id


def test_pps_confirms_the_circular_on_a_phone(live_app, page, sign_in, circular):
    ARTIFACTS.mkdir(exist_ok=True)
    sign_in(page, LUTIM_PPS, DEMO_PESERTA_PASSWORD)
    page.get_by_role("link", name="Baca dan konfirmasi").click()
    page.wait_for_url(f"**/imbauan/{circular}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    button = page.get_by_role("button", name="Sudah dibaca")
    box = button.bounding_box()
    assert box["height"] >= 44 and box["x"] + box["width"] <= 360
    page.screenshot(path=str(ARTIFACTS / "imbauan-read-360.png"), full_page=True)

    page.get_by_label("Saya menyetujui pernyataan di atas.").check()
    button.click()
    page.get_by_text("Konfirmasi Anda sudah tersimpan").wait_for()
    assert page.get_by_text("Anda menandai imbauan ini sudah dibaca").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(ARTIFACTS / "imbauan-confirmed-360.png"), full_page=True)
    with live_app.app_context():
        receipts = list(db.session.scalars(select(ImbauanReceipt)))
        assert [(r.imbauan_id, r.confirmed) for r in receipts] == [(circular, True)]
