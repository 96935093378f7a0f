"""Role checks on every route (403) and object checks (404)."""

import pytest

ADMIN_ONLY = ["/admin/peserta", "/admin/peserta/baru", "/admin/kursus", "/admin/kursus/baru",
              "/admin/wilayah", "/admin/wilayah/73.22"]  # fmt: skip
STAFF = ["/admin/modul"]


@pytest.fixture
def people(make_staff, make_peserta):
    make_staff("admin", "operator", "rahasia-operator-1")
    make_staff("pelatih", "narasumber", "rahasia-pelatih-1")
    make_peserta(nik="7322014107900201", badan="PPS", password="peserta-rahasia-1")
    make_peserta(nik="7322014107900202", badan="Sekretariat PPK", jabatan="Staf", desa=None,
                 password="peserta-rahasia-2")  # fmt: skip


@pytest.mark.parametrize("path", ADMIN_ONLY + STAFF)
def test_anonymous_is_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ADMIN_ONLY + STAFF)
def test_peserta_gets_403(client, auth, people, path):
    auth.login("7322014107900201", "peserta-rahasia-1")
    response = client.get(path)
    assert response.status_code == 403
    assert "tidak memiliki akses" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ADMIN_ONLY)
def test_pelatih_gets_403_on_admin_pages(client, auth, people, path):
    auth.login("narasumber", "rahasia-pelatih-1")
    assert client.get(path).status_code == 403


def test_pelatih_sees_modules(client, auth, people, content):
    auth.login("narasumber", "rahasia-pelatih-1")
    assert client.get("/admin/modul").status_code == 200


def test_peserta_cannot_post_to_admin_forms(client, auth, people, post_form):
    auth.login("7322014107900201", "peserta-rahasia-1")
    token_page = "/"
    response = post_form(client, "/admin/kursus/baru", {"title": "x"}, form_page=token_page)
    assert response.status_code == 403


def test_course_for_another_badan_is_404_for_peserta(client, auth, people, demo):
    auth.login("7322014107900202", "peserta-rahasia-2")  # Sekretariat PPK
    home = client.get("/").get_data(as_text=True)
    assert "Sekretariat PPK dan PPS" in home
    assert "Kode Perilaku dan Netralitas PPK, PPS dan KPPS" not in home
    # Course 1 is for PPK/PPS/KPPS: it does not exist for this participant.
    assert client.get("/kursus/1").status_code == 404
    assert client.get("/kursus/1/modul/kode-perilaku-badan-adhoc").status_code == 404
    assert client.get("/kursus/2").status_code == 200
    # A module that is not part of the course is not reachable through it.
    assert client.get("/kursus/2/modul/kode-perilaku-badan-adhoc").status_code == 404
    assert client.get("/kursus/999").status_code == 404


def test_admin_cannot_open_a_staff_account_as_participant_detail(app, client, auth, people):
    auth.login("operator", "rahasia-operator-1")
    assert client.get("/admin/peserta/1").status_code == 404  # id 1 is the admin
    assert client.get("/admin/peserta/3").status_code == 200
