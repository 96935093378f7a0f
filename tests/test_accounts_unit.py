"""NIK, usernames and passwords: pure rules, no database."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bimtek.accounts.service import (
    generate_initial_password,
    nik_problem,
    password_problem,
    username_problem,
)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "wajib"),
        ("732201410790001", "16 digit; yang diisi 15"),
        ("73220141079000012", "yang diisi 17"),
        ("732201410790000A", "tanpa huruf"),
        ("7322 0141 0790 0001", "tanpa huruf, spasi"),
        ("7322014107900001\n", "tanpa huruf, spasi"),  # '$' would have accepted this
        ("７３２２０１４１０７９０００１", "bukan angka dari papan ketik lain"),  # fullwidth
        ("٧٣٢٢٠١٤١٠٧٩٠٠٠١", "bukan angka dari papan ketik lain"),  # Arabic-Indic
        ("3.57601E+15", "tanpa huruf"),
    ],
)
def test_bad_nik_gets_a_reason(value, fragment):
    problem = nik_problem(value)
    assert problem is not None
    assert fragment in problem


def test_good_nik_with_leading_zero_is_accepted():
    assert nik_problem("0122014107900001") is None


@given(st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_any_sixteen_ascii_digits_are_a_valid_nik(value):
    assert nik_problem(value) is None


@given(st.text(max_size=40).filter(lambda s: not re.fullmatch(r"[0-9]{16}", s)))
def test_anything_else_is_rejected(value):
    assert nik_problem(value) is not None


def test_initial_passwords_are_random_and_readable():
    passwords = {generate_initial_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", password)
        assert not set(password) & set("01lo")


@pytest.mark.parametrize(
    ("username", "ok"),
    [("admin", True), ("op.kpu-luwu_2", True), ("ab", False), ("Admin Satu", False),
     ("7322014107900001", False), ("-admin", False)],
)  # fmt: skip
def test_username_rules(username, ok):
    assert (username_problem(username) is None) is ok


def test_password_rules():
    assert "minimal 8" in password_problem("pendek")
    assert "mudah ditebak" in password_problem("11111111")
    assert password_problem("kata-sandi-baik") is None
