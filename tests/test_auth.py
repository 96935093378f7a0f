"""Sign-in, sessions, limits and headers, on SQLite and PostgreSQL."""

import pytest

from bimtek.accounts.models import User
from bimtek.extensions import db


@pytest.fixture
def admin(make_staff):
    return make_staff("admin", "operator", "rahasia-operator-1")


@pytest.fixture
def peserta(make_peserta):
    return make_peserta(nik="7322014107900101", password="awal-rahasia-1", must_change=True)


def test_login_with_username_then_logout(client, auth, admin):
    response = auth.login("operator", "rahasia-operator-1")
    assert response.status_code == 302
    assert client.get("/admin/peserta").status_code == 200
    auth.logout()
    assert client.get("/admin/peserta").status_code == 302


def test_login_with_nik_forces_password_change(client, auth, peserta, post_form):
    response = auth.login("7322014107900101", "awal-rahasia-1")
    assert response.headers["Location"].endswith("/akun/kata-sandi")
    # Every other page sends the participant back until the password is changed.
    assert client.get("/").headers["Location"].endswith("/akun/kata-sandi")
    page = client.get("/akun/kata-sandi").get_data(as_text=True)
    assert "masuk pertama" in page

    weak = post_form(
        client,
        "/akun/kata-sandi",
        {"current_password": "awal-rahasia-1", "new_password": "7322014107900101",
         "confirm": "7322014107900101"},
    )  # fmt: skip
    assert "tidak boleh sama dengan NIK" in weak.get_data(as_text=True)

    done = post_form(
        client,
        "/akun/kata-sandi",
        {"current_password": "awal-rahasia-1", "new_password": "sandi-baru-saya",
         "confirm": "sandi-baru-saya"},
    )  # fmt: skip
    assert done.status_code == 302
    assert client.get("/").status_code == 200
    auth.logout()
    assert auth.login("7322014107900101", "awal-rahasia-1").status_code == 401
    assert auth.login("7322014107900101", "sandi-baru-saya").status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_clear_message(client, auth, admin):
    wrong = auth.login("operator", "salah-sandi")
    unknown = auth.login("tidak-ada", "salah-sandi")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "NIK/nama pengguna atau kata sandi salah." in response.get_data(as_text=True)


def test_inactive_account_cannot_sign_in(app, auth, admin):
    with app.app_context():
        db.session.get(User, admin).active = False
        db.session.commit()
    refused = auth.login("operator", "rahasia-operator-1")
    assert refused.status_code == 403
    assert "Akun ini dinonaktifkan. Hubungi operator KPU" in refused.get_data(as_text=True)
    # A wrong password says nothing about the account's state.
    wrong = auth.login("operator", "salah-sandi")
    assert wrong.status_code == 401
    assert "dinonaktifkan" not in wrong.get_data(as_text=True)


def test_password_change_ends_other_sessions(app, auth, peserta, post_form):
    phone = app.test_client()
    laptop = app.test_client()
    for c in (phone, laptop):
        post_form(c, "/login", {"username": "7322014107900101", "password": "awal-rahasia-1"})
    post_form(
        laptop,
        "/akun/kata-sandi",
        {"current_password": "awal-rahasia-1", "new_password": "sandi-baru-saya",
         "confirm": "sandi-baru-saya"},
    )  # fmt: skip
    assert laptop.get("/").status_code == 200
    # The phone's cookie named the old session token: it is signed out.
    assert phone.get("/").headers["Location"].startswith("/login")


def test_logout_ends_every_session_of_that_user(app, admin, post_form):
    first, second = app.test_client(), app.test_client()
    for c in (first, second):
        post_form(c, "/login", {"username": "operator", "password": "rahasia-operator-1"})
    post_form(first, "/logout", {}, form_page="/")
    assert second.get("/admin/peserta").status_code == 302


def test_session_is_renewed_at_login(client, auth, admin):
    client.get("/login")
    before = client.get_cookie("session").value
    auth.login("operator", "rahasia-operator-1")
    assert client.get_cookie("session").value != before


def test_repeated_failures_are_limited_with_a_clear_message(client, auth, admin):
    for _ in range(5):
        assert auth.login("operator", "salah-sandi").status_code == 401
    blocked = auth.login("operator", "rahasia-operator-1")
    assert blocked.status_code == 429
    assert "Terlalu banyak percobaan" in blocked.get_data(as_text=True)


def test_the_limit_is_per_account_so_one_hall_can_still_sign_in(client, auth, admin, make_staff):
    make_staff("pelatih", "narasumber", "rahasia-pelatih-1")
    for _ in range(5):
        auth.login("operator", "salah-sandi")
    # Same address (the venue's Wi-Fi), another account: not blocked.
    assert auth.login("narasumber", "rahasia-pelatih-1").status_code == 302


def test_successful_logins_do_not_count_against_the_limit(app, admin, post_form):
    for _ in range(8):
        c = app.test_client()
        response = post_form(
            c, "/login", {"username": "operator", "password": "rahasia-operator-1"}
        )
        assert response.status_code == 302


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil", "javascript:alert(1)"]
)
def test_next_cannot_redirect_off_site(client, auth, admin, target):
    response = auth.login("operator", "rahasia-operator-1", query_string={"next": target})
    assert response.headers["Location"] == "/"


def test_next_keeps_a_local_path(client, auth, admin):
    response = auth.login("operator", "rahasia-operator-1", query_string={"next": "/admin/peserta"})
    assert response.headers["Location"] == "/admin/peserta"


def test_form_without_csrf_token_is_refused(client, admin):
    response = client.post(
        "/login", data={"username": "operator", "password": "rahasia-operator-1"}
    )
    assert response.status_code == 400
    assert "kedaluwarsa" in response.get_data(as_text=True)


def test_security_headers_and_cookie_flags(client, auth, admin):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    login = auth.login("operator", "rahasia-operator-1")
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on a venue's local network


def test_cookies_are_secure_behind_https(db_url):
    from bimtek import create_app
    from tests.conftest import base_config

    app = create_app(base_config(db_url, BIMTEK_PUBLIC_URL="https://bimtek.kpu.example/"))
    response = app.test_client().get("/login", base_url="https://bimtek.kpu.example")
    assert "Secure" in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in response.headers
    assert app.config["BIMTEK_PUBLIC_URL"] == "https://bimtek.kpu.example"


def test_pages_have_no_inline_script(client, auth, admin):
    auth.login("operator", "rahasia-operator-1")
    for path in ("/login", "/", "/admin/peserta", "/admin/kursus", "/admin/peserta/baru"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>" not in body and " onclick=" not in body and " style=" not in body


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_oversized_request_is_refused_in_indonesian(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/login", data={"username": "x" * 4096})
    assert response.status_code == 413
    assert "melebihi batas" in response.get_data(as_text=True)


def test_absolute_links_come_from_the_public_url_not_the_host_header(app):
    from bimtek.web import public_url

    with app.test_request_context("/", headers={"Host": "evil.example"}):
        link = public_url("accounts.login")
    assert link == "http://bimtek.example.test/login"
