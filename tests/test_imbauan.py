"""Imbauan: a province writes a circular, the addressed PPS see it on their home page and confirm
it, the province follows the receipts per kecamatan and downloads them; offices stay in their
lanes. On SQLite and PostgreSQL (the `demo` world: Sulawesi Selatan over Luwu Utara and Luwu
Timur)."""

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bimtek.extensions import db
from bimtek.imbauan.models import Imbauan, ImbauanReceipt
from tests.conftest import csrf_token, twin

PASSWORD = "demo-peserta-2029"
LUTIM_PPS = "7324046302910004"  # Kec. Malili (73.24.04)
LUTIM_PPK = "7324041708930005"
LUTRA_PPS = "7322011203950002"  # Kec. 73.22.01
PAKTA = "Saya menyatakan akan menjaga netralitas dan tidak memihak peserta pemilu."
BODY = """## Netralitas badan ad hoc

Anggota PPS **wajib** bersikap netral.

<script>alert("xss")</script>
<a href="javascript:alert(1)">tautan</a>
"""
STAFF_LOGINS = {
    "admin-sulsel": "demo-sulsel-2029",
    "admin": "demo-admin-2029",
    "admin-lutim": "demo-lutim-2029",
    "pelatih": "demo-pelatih-2029",
}


@pytest.fixture
def sign_in(client, auth, demo):
    """Sign the test client in as a demo account (signing out whoever was in)."""

    def sign(login):
        client.delete_cookie("session")
        response = auth.login(login, STAFF_LOGINS.get(login, PASSWORD))
        assert response.status_code == 302, login
        return client

    return sign


@pytest.fixture
def send(post_form):
    """Post the new-circular form as the signed-in admin; returns the circular's id."""

    def post(client, *, title="Imbauan netralitas PPS", body=BODY, audience=("PPS",),
             regions="", confirmation=PAKTA, publish=True, expect_ok=True):  # fmt: skip
        data = {
            "title": title,
            "body": body,
            "audience": list(audience),
            "regions": regions,
            "confirmation_text": confirmation,
            ("publish" if publish else "save_draft"): "y",
        }
        response = post_form(client, "/admin/imbauan/baru", data)
        if not expect_ok:
            return response
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return int(re.search(r"/admin/imbauan/(\d+)$", response.headers["Location"]).group(1))

    return post


def _text(response) -> str:
    return response.get_data(as_text=True)


def _receipts(app, imbauan_id) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(ImbauanReceipt)
            .where(ImbauanReceipt.imbauan_id == imbauan_id)
        )


def _row(page: str, label: str) -> list[str]:
    """The cells of the per-kecamatan table's row for `label`."""
    table = re.search(r'<table class="list" id="per-kecamatan">(.*?)</table>', page, re.S).group(1)
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        if len(cells) > 1 and cells[1] == label:
            return cells
    raise AssertionError(f"no row {label}")


def test_province_circular_to_pps_is_read_and_confirmed_in_malili(
    app, client, sign_in, send, post_form
):
    sign_in("admin-sulsel")
    imbauan_id = send(client)
    with app.app_context():
        imbauan = db.session.get(Imbauan, imbauan_id)
        assert "<strong>wajib</strong>" in imbauan.body_html
        assert "<script" not in imbauan.body_html and "alert" not in imbauan.body_html
        assert "javascript:" not in imbauan.body_html
    page = _text(client.get(f"/admin/imbauan/{imbauan_id}"))
    assert _row(page, "Kec. Malili")[2:] == ["1", "0", "1"]  # addressed, read, not yet

    # A Luwu Timur PPS sees it on the home page, opens it, must tick the statement.
    sign_in(LUTIM_PPS)
    home = _text(client.get("/"))
    assert "Imbauan netralitas PPS" in home and f"/imbauan/{imbauan_id}" in home
    reading = client.get(f"/imbauan/{imbauan_id}")
    assert reading.status_code == 200
    assert PAKTA in _text(reading) and "<script>alert" not in _text(reading)
    refused = post_form(client, f"/imbauan/{imbauan_id}", {}, follow_redirects=True)
    assert "Centang pernyataan" in _text(refused)
    assert _receipts(app, imbauan_id) == 0

    # A double tap on "Sudah dibaca" stores one receipt.
    token = csrf_token(client, f"/imbauan/{imbauan_id}")
    other = twin(app, client)
    data = {"csrf_token": token, "agree": "y"}
    first = client.post(f"/imbauan/{imbauan_id}", data=data)
    second = other.post(f"/imbauan/{imbauan_id}", data=data)
    assert [first.status_code, second.status_code] == [302, 302]
    assert _receipts(app, imbauan_id) == 1
    assert "Anda menandai imbauan ini sudah dibaca" in _text(client.get(f"/imbauan/{imbauan_id}"))
    assert f"/imbauan/{imbauan_id}" not in _text(client.get("/"))  # no longer a notice
    assert "Sudah dibaca" in _text(client.get("/imbauan"))

    # A PPK is not addressed: no notice, and the circular does not exist for them.
    sign_in(LUTIM_PPK)
    assert "Imbauan netralitas PPS" not in _text(client.get("/"))
    assert client.get(f"/imbauan/{imbauan_id}").status_code == 404
    assert post_form(client, f"/imbauan/{imbauan_id}", {"agree": "y"}, "/").status_code == 404

    # The Luwu Utara PPS is addressed too (both kabupaten) and has not read it yet.
    sign_in(LUTRA_PPS)
    assert f"/imbauan/{imbauan_id}" in _text(client.get("/"))

    # The province: 1 of 1 read in Kec. Malili, the Luwu Utara PPS still pending.
    sign_in("admin-sulsel")
    page = _text(client.get(f"/admin/imbauan/{imbauan_id}"))
    assert _row(page, "Kec. Malili")[2:] == ["1", "1", "0"]
    assert _row(page, "Kec. Malangke")[2:] == ["1", "0", "1"]
    assert "Hasnawati Lamba" in page and LUTIM_PPS not in page  # NIK masked
    only_malili = _text(client.get(f"/admin/imbauan/{imbauan_id}?kecamatan=73.24.04"))
    assert "Hasnawati Lamba" in only_malili
    none_here = _text(client.get(f"/admin/imbauan/{imbauan_id}?kecamatan=73.22.01"))
    assert "Hasnawati Lamba" not in none_here

    # The receipts as .xlsx, read back.
    download = client.get(f"/admin/imbauan/{imbauan_id}/tanda-terima.xlsx")
    assert download.status_code == 200
    assert download.headers["Cache-Control"] == "no-store"
    wb = load_workbook(io.BytesIO(download.data))
    summary = {
        row[1]: row[2:]
        for row in wb["Ringkasan"].iter_rows(values_only=True)
        if row and len(row) > 2
    }
    assert summary["Kec. Malili"] == (1, 1, 0)
    assert summary["Kec. Malangke"] == (1, 0, 1)
    people = list(wb["Tanda terima"].iter_rows(values_only=True))
    assert people[0][:3] == ("No", "Nama", "NIK")
    by_name = {row[1]: row for row in people[1:]}
    assert set(by_name) == {"Hasnawati Lamba", "Muh. Rizal Pratama"}
    assert by_name["Hasnawati Lamba"][8] == "Sudah dibaca"
    assert by_name["Hasnawati Lamba"][10] == "Ya"
    assert by_name["Muh. Rizal Pratama"][8] == "Belum"
    cells = " ".join(str(v) for row in people for v in row if v is not None)
    assert LUTIM_PPS not in cells and LUTRA_PPS not in cells
    assert by_name["Hasnawati Lamba"][2].endswith("0004")


def test_offices_stay_in_their_lanes(app, client, sign_in, send, post_form):
    # Luwu Timur writes to its own PPS.
    sign_in("admin-lutim")
    own = send(client, title="Rapat koordinasi PPS Luwu Timur", confirmation="")
    assert client.get(f"/admin/imbauan/{own}").status_code == 200
    # A code outside Luwu Timur is refused with the reason.
    refused = send(client, regions="73.22.01", expect_ok=False)
    assert refused.status_code == 200
    assert "73.22.01 berada di luar wilayah" in _text(refused)
    assert send(client, regions="99.99", expect_ok=False).status_code == 200
    odd = send(client, audience=("Bupati",), regions="x" * 300, expect_ok=False)
    assert "Penerima “Bupati” tidak dikenal" in _text(odd) and "bukan kode wilayah" in _text(odd)
    assert client.get(f"/admin/imbauan/{own}?kecamatan={'9' * 5000}").status_code == 200

    # The sibling office: 404 everywhere; its own PPS never sees it.
    sign_in("admin")
    assert client.get(f"/admin/imbauan/{own}").status_code == 404
    assert client.get(f"/admin/imbauan/{own}/tanda-terima.xlsx").status_code == 404
    assert client.get(f"/admin/imbauan/{own}/ubah").status_code == 404
    assert "Rapat koordinasi" not in _text(client.get("/admin/imbauan"))
    sign_in(LUTRA_PPS)
    assert client.get(f"/imbauan/{own}").status_code == 404
    # A participant never reaches the office's pages.
    assert client.get("/admin/imbauan").status_code == 403
    assert client.get(f"/admin/imbauan/{own}").status_code == 403
    assert client.get("/admin/imbauan/baru").status_code == 403
    sign_in("pelatih")
    assert client.get("/admin/imbauan").status_code == 403

    # The province reads it, and cannot change it.
    sign_in("admin-sulsel")
    assert "Rapat koordinasi" in _text(client.get("/admin/imbauan"))
    assert client.get(f"/admin/imbauan/{own}").status_code == 200
    assert client.get(f"/admin/imbauan/{own}/tanda-terima.xlsx").status_code == 200
    assert client.get(f"/admin/imbauan/{own}/ubah").status_code == 403
    forbidden = post_form(client, f"/admin/imbauan/{own}/terbitkan", {}, "/admin/imbauan")
    assert forbidden.status_code == 403

    # Without a statement, "Sudah dibaca" alone confirms.
    sign_in(LUTIM_PPS)
    assert post_form(client, f"/imbauan/{own}", {}).status_code == 302
    assert _receipts(app, own) == 1


def test_regions_and_staff_choose_the_recipients(app, client, sign_in, send):
    sign_in("admin-sulsel")
    # Only Luwu Timur's PPS, and the staff of the KPU Kabupaten/Kota offices there.
    only_lutim = send(
        client, title="Imbauan untuk Luwu Timur", audience=("PPS", "Staf KPU Kabupaten/Kota"),
        regions="73.24", confirmation="",
    )  # fmt: skip
    page = _text(client.get(f"/admin/imbauan/{only_lutim}"))
    assert _row(page, "Kec. Malili")[2:] == ["1", "0", "1"]
    assert "Malangke" not in page
    assert re.search(r"Staf KPU Kabupaten Luwu Timur", page)
    assert "Staf KPU Kabupaten Luwu Utara" not in page

    sign_in("admin-lutim")
    assert "Imbauan untuk Luwu Timur" in _text(client.get("/"))
    assert client.get(f"/imbauan/{only_lutim}").status_code == 200
    sign_in("admin")
    assert "Imbauan untuk Luwu Timur" not in _text(client.get("/"))
    assert client.get(f"/imbauan/{only_lutim}").status_code == 404
    sign_in(LUTRA_PPS)
    assert "Imbauan untuk Luwu Timur" not in _text(client.get("/"))
    assert client.get(f"/imbauan/{only_lutim}").status_code == 404


def test_a_draft_reaches_nobody_until_published(app, client, sign_in, send, post_form):
    sign_in("admin-sulsel")
    draft = send(client, title='Draf imbauan =HYPERLINK("http://x")', publish=False)
    detail = _text(client.get(f"/admin/imbauan/{draft}"))
    assert "Terbitkan kepada 2 penerima" in detail
    sign_in(LUTIM_PPS)
    assert client.get(f"/imbauan/{draft}").status_code == 404
    assert "Draf imbauan" not in _text(client.get("/"))
    sign_in("admin-lutim")  # a draft of the office above does not exist below
    assert client.get(f"/admin/imbauan/{draft}").status_code == 404

    sign_in("admin-sulsel")
    edited = post_form(
        client,
        f"/admin/imbauan/{draft}/ubah",
        {"title": "=HYPERLINK(\"http://x\",\"klik\")", "body": "Isi baru.", "audience": ["PPS"],
         "regions": "73.24.04", "confirmation_text": "", "save_draft": "y"},
    )  # fmt: skip
    assert edited.status_code == 302
    published = post_form(
        client, f"/admin/imbauan/{draft}/terbitkan", {}, f"/admin/imbauan/{draft}"
    )
    assert published.status_code == 302
    # A published circular is fixed.
    assert client.get(f"/admin/imbauan/{draft}/ubah").status_code == 302

    sign_in(LUTIM_PPS)
    assert f"/imbauan/{draft}" in _text(client.get("/"))
    sign_in(LUTRA_PPS)  # outside the chosen kecamatan
    assert client.get(f"/imbauan/{draft}").status_code == 404

    # The title travels into the workbook as text, never as a formula.
    sign_in("admin-sulsel")
    wb = load_workbook(io.BytesIO(client.get(f"/admin/imbauan/{draft}/tanda-terima.xlsx").data))
    cell = wb["Ringkasan"]["A2"]
    assert cell.value == '=HYPERLINK("http://x","klik")'
    assert cell.data_type == "s"


def test_a_single_office_laptop_sends_to_its_own_participants(
    app, admin_client, auth, make_peserta, post_form
):
    make_peserta("Sitti Aminah", nik="7322014107000001", badan="PPS", password="awal-rahasia-1")
    make_peserta("Andi Baso", nik="7322014107000002", badan="KPPS", password="awal-rahasia-2")
    response = post_form(
        admin_client,
        "/admin/imbauan/baru",
        {"title": "Jadwal bimtek PPS", "body": "Bimtek dimulai **Senin**.", "audience": ["PPS"],
         "regions": "73.22.01", "publish": "y"},
    )  # fmt: skip
    assert response.status_code == 302
    imbauan_id = int(response.headers["Location"].rsplit("/", 1)[1])
    admin_client.delete_cookie("session")
    auth.login("7322014107000001", "awal-rahasia-1")
    assert "Jadwal bimtek PPS" in _text(admin_client.get("/"))
    assert post_form(admin_client, f"/imbauan/{imbauan_id}", {}).status_code == 302
    admin_client.delete_cookie("session")
    auth.login("7322014107000002", "awal-rahasia-2")  # KPPS: not addressed
    assert admin_client.get(f"/imbauan/{imbauan_id}").status_code == 404
    admin_client.delete_cookie("session")
    auth.login("operator", "rahasia-operator-1")
    page = _text(admin_client.get(f"/admin/imbauan/{imbauan_id}"))
    assert _row(page, "Kec. Malangke")[2:] == ["1", "1", "0"]
