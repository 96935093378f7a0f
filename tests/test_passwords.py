"""Weak passwords are refused with a reason in Indonesian (pure checker, then the web form)."""

import pytest

from bimtek.accounts import passwords
from bimtek.accounts.passwords import password_problem

NIK = "7322014107900101"
NAMA = "Sitti Aminah Laupe"


def test_the_shipped_lists_are_loaded_with_their_source():
    common = passwords.common_passwords()
    assert len(common) > 10_000  # SecLists' 10,000 plus the Indonesian list
    assert {"12345678", "password", "qwerty", "bismillah", "pemilu2024", "kpu12345"} <= common
    source = (passwords.DATA_DIR / "COMMON-PASSWORDS-SOURCE.txt").read_text()
    assert "SecLists" in source and "MIT License" in source


@pytest.mark.parametrize(
    "password",
    ["12345678", "password", "Password1", "qwertyuiop", "iloveyou", "bismillah", "Bismillah123",
     "indonesia1", "sayangku", "rahasia!", "pemilu2024", "kpu12345", "katasandi"],
)  # fmt: skip
def test_common_passwords_are_refused(password):
    assert password_problem(password) == passwords.COMMON


@pytest.mark.parametrize(
    "password", ["17081945", "1945-08-17", "17-08-1945", "17/8/1945", "08171945", "19450817",
                 "01011990", "17 Agustus 1945", "17agustus1945", "31-12-99"],
)  # fmt: skip
def test_dates_are_refused(password):
    assert password_problem(password) == passwords.IS_DATE


def test_not_a_date_when_the_day_or_month_is_impossible():
    assert not passwords.is_date("31029999")
    assert not passwords.is_date("45451945")


@pytest.mark.parametrize("password", [NIK, f"x{NIK}", "41079001", "07900101", "732201410790"])
def test_the_nik_or_a_stretch_of_it_is_refused(password):
    assert password_problem(password, nik=NIK) == passwords.HAS_NIK
    assert "NIK" in password_problem(password, nik=NIK)


@pytest.mark.parametrize(
    "password", ["aminah123", "Aminah2024", "SittiAminah", "sitti.aminah", "laupe!!!!",
                 "sittiaminahlaupe", "AMINAH-2024"],
)  # fmt: skip
def test_the_name_or_a_part_of_it_is_refused(password):
    assert password_problem(password, nama=NAMA) == passwords.IS_NAME


def test_the_username_is_refused():
    assert password_problem("operator7", username="operator7") == passwords.HAS_USERNAME
    assert password_problem("Operator7!!", username="operator7") == passwords.HAS_USERNAME


@pytest.mark.parametrize("password", ["11111111", "12121212", "23456789", "98765432"])
def test_repeated_or_running_digits_are_refused(password):
    assert password_problem(password) in {passwords.DIGIT_RUN, passwords.COMMON}


def test_the_minimum_length_is_unchanged():
    assert passwords.MIN_LENGTH == 8
    assert password_problem("Ab3$xyz") == passwords.TOO_SHORT
    assert password_problem("Ab3$xyzq") is None


@pytest.mark.parametrize(
    "password", ["kopi-hitam-pagi-hari", "Aminah suka kopi tubruk", "sandi-baru-saya",
                 "rahasia-operator-1", "pelangi di Malangke 7", "7x!Qp2mZ"],
)  # fmt: skip
def test_reasonable_passwords_pass(password):
    assert password_problem(password, nik=NIK, nama=NAMA, username="operator") is None


def test_every_reason_is_indonesian():
    for message in (passwords.COMMON, passwords.IS_DATE, passwords.HAS_NIK, passwords.IS_NAME,
                    passwords.TOO_SHORT, passwords.DIGIT_RUN):  # fmt: skip
        assert message.startswith("Kata sandi")


# ---- the first-login change (web) -------------------------------------------------------------


@pytest.fixture
def first_login(client, auth, make_peserta):
    make_peserta(nama=NAMA, nik=NIK, password="awal-rahasia-1", must_change=True)
    assert auth.login(NIK, "awal-rahasia-1").headers["Location"].endswith("/akun/kata-sandi")
    return client


@pytest.mark.parametrize(
    ("new", "reason"),
    [("12345678", "paling sering dipakai"), ("bismillah", "paling sering dipakai"),
     (NIK, "NIK"), ("aminah123", "nama Anda"), ("17081945", "tanggal")],
)  # fmt: skip
def test_first_login_change_refuses_weak_passwords(first_login, post_form, new, reason):
    response = post_form(
        first_login,
        "/akun/kata-sandi",
        {"current_password": "awal-rahasia-1", "new_password": new, "confirm": new},
    )
    assert response.status_code == 200  # the form again, not the redirect onwards
    assert reason in response.get_data(as_text=True)
    # Still held at the change page: nothing was changed.
    assert first_login.get("/").headers["Location"].startswith("/akun/kata-sandi")


def test_first_login_change_accepts_a_good_password(first_login, post_form):
    response = post_form(
        first_login,
        "/akun/kata-sandi",
        {"current_password": "awal-rahasia-1", "new_password": "kopi-hitam-pagi-hari",
         "confirm": "kopi-hitam-pagi-hari"},
    )  # fmt: skip
    assert response.status_code == 302
    assert first_login.get("/").status_code == 200


def test_cli_refuses_a_weak_staff_password(app, runner):
    result = runner.invoke(
        args=["user", "create", "--role", "admin", "--username", "operator9"],
        input="bismillah\nbismillah\n",
    )
    assert result.exit_code == 1
    assert "paling sering dipakai" in result.output
