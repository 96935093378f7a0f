"""Admin creates participants (web and CLI); bad input gets a clear message and stores nothing."""

import re

import pytest
from sqlalchemy import func, select

from bimtek.accounts.models import AuditLog, User
from bimtek.extensions import db

VALID = {
    "nama": "  Hasnah   Laupe ",
    "nik": "7322015506910004",
    "badan": "PPS",
    "jabatan": "Ketua",
    "kecamatan_kode": "73.22.01",
    "desa_kode": "73.22.01.2001",
    "phone": "0812-3456-7890",
}


def _count_peserta(app) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(User).where(User.role == "peserta")
        )


def test_admin_creates_a_participant_who_must_change_the_password(app, admin_client, post_form):
    response = post_form(admin_client, "/admin/peserta/baru", VALID)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    password = re.search(r'data-testid="initial-password">([^<]+)<', page).group(1)
    assert "hanya ditampilkan sekali" in page
    with app.app_context():
        user = db.session.scalars(select(User).where(User.nik == VALID["nik"])).one()
        assert user.nama == "Hasnah Laupe"
        assert user.must_change_password
        assert user.check_password(password)
        assert password not in user.password_hash
        assert VALID["nik"][-6:] not in password
        assert db.session.scalar(select(func.count()).select_from(AuditLog)) >= 1
    # The new participant can sign in and is sent to change the password.
    other = app.test_client()
    login = post_form(other, "/login", {"username": VALID["nik"], "password": password})
    assert login.headers["Location"].endswith("/akun/kata-sandi")


@pytest.mark.parametrize(
    ("change", "field_message"),
    [
        ({"nik": "732201550691000"}, "NIK harus 16 digit; yang diisi 15 digit."),
        ({"nik": "73220155069100AB"}, "tanpa huruf"),
        ({"nik": "７３２２０１５５０６９１０００４"}, "bukan angka dari papan ketik lain"),
        ({"desa_kode": "73.22.02.2002"}, "Desa Tamuku tidak berada di Kecamatan Malangke"),
        ({"desa_kode": ""}, "Desa/kelurahan wajib diisi untuk PPS"),
        ({"jabatan": "Sekretaris"}, "Jabatan untuk PPS: Ketua atau Anggota"),
        ({"kecamatan_kode": "99.99.99"}, "Pilih kecamatan yang terdaftar"),
        ({"nama": ""}, "Nama wajib diisi"),
        ({"phone": "=HYPERLINK(1)"}, "Nomor HP hanya angka"),
    ],
)
def test_bad_input_is_named_and_nothing_is_stored(
    app, admin_client, post_form, change, field_message
):
    before = _count_peserta(app)
    response = post_form(admin_client, "/admin/peserta/baru", {**VALID, **change})
    assert response.status_code == 400
    assert field_message in response.get_data(as_text=True)
    assert _count_peserta(app) == before


def test_duplicate_nik_is_refused(app, admin_client, post_form):
    post_form(admin_client, "/admin/peserta/baru", VALID)
    again = post_form(admin_client, "/admin/peserta/baru", {**VALID, "nama": "Orang Lain"})
    assert "sudah terdaftar" in again.get_data(as_text=True)
    assert _count_peserta(app) == 1


def test_list_masks_nik_and_searches(app, admin_client, post_form):
    post_form(admin_client, "/admin/peserta/baru", VALID)
    page = admin_client.get("/admin/peserta?q=hasnah").get_data(as_text=True)
    assert "Hasnah Laupe" in page
    assert VALID["nik"] not in page and "0004" in page
    assert "Hasnah" not in admin_client.get("/admin/peserta?q=zzz").get_data(as_text=True)


def test_desa_select_lists_desa_with_their_kecamatan(admin_client):
    page = admin_client.get("/admin/peserta/baru").get_data(as_text=True)
    assert page.count('value="73.22.') >= 15 + 173


def test_cli_creates_peserta_and_admin(app, runner, wilayah):
    result = runner.invoke(
        args=["user", "create", "--role", "peserta", "--nik", "7322014107900777", "--nama",
              "Budi", "--badan", "PPK", "--jabatan", "Anggota", "--kecamatan", "73.22.01",
              "--generate-password"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Kata sandi awal:" in result.output
    result = runner.invoke(
        args=["user", "create", "--role", "admin", "--username", "Operator2"],
        input="kata-sandi-kuat\nkata-sandi-kuat\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert (
            db.session.scalars(select(User).where(User.username == "operator2")).one().role
            == "admin"
        )
        assert (
            db.session.scalars(select(User).where(User.nik == "7322014107900777"))
            .one()
            .must_change_password
        )


def test_cli_refuses_bad_nik_with_reason(app, runner, wilayah):
    result = runner.invoke(
        args=["user", "create", "--role", "peserta", "--nik", "3.57601E+15", "--nama", "X",
              "--badan", "PPK", "--jabatan", "Anggota", "--kecamatan", "73.22.01",
              "--generate-password"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "NIK harus 16 digit" in result.output
    assert _count_peserta(app) == 0


def test_each_problem_is_said_once(admin_client, post_form):
    page = post_form(admin_client, "/admin/peserta/baru", {**VALID, "nama": ""}).get_data(
        as_text=True
    )
    assert page.count("Nama wajib diisi.") == 1


def test_participants_list_is_a_fixed_number_of_queries(
    app, client, auth, make_staff, make_peserta
):
    """50 participants on a page: the kecamatan and desa of each come with the page (the list
    took 55 queries for 50 rows when they were loaded one by one)."""
    from sqlalchemy import event

    from bimtek.wilayah.models import Desa

    make_staff("admin", "admin1", "rahasia-admin-1")
    with app.app_context():  # people from 55 different desa, so nothing is shared between rows
        places = db.session.execute(
            select(Desa.kecamatan_kode, Desa.kode).order_by(Desa.kode).limit(55)
        ).all()
    for i, (kecamatan, desa) in enumerate(places):
        make_peserta(nama=f"Peserta {i:02d}", kecamatan=kecamatan, desa=desa)
    auth.login("admin1", "rahasia-admin-1")
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    listen = lambda *args: statements.append(args[2])  # noqa: E731  (cursor, statement, …)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        page = client.get("/admin/peserta").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert page.count("Peserta ") >= 50 and "Halaman 1 dari 2" in page
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 6
