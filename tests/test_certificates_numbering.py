"""Certificate number templates (pure) and the counter under concurrent issuers."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bimtek.accounts.models import User
from bimtek.certificates import service
from bimtek.certificates.models import Certificate, CertificateCounter
from bimtek.extensions import db
from bimtek.learning import service as learning
from bimtek.learning.models import Course, Module
from bimtek.numbering import (
    NumberFields,
    NumberTemplateError,
    format_number,
    validate_template,
)

FIELDS = NumberFields(seq=7, kode_kab="35.16", tahun=2024, bulan=5, kursus=3)


def test_office_template_formats():
    assert (
        format_number("{seq:04d}/PP.04-SD/{kode_kab}/{tahun}", FIELDS) == "0007/PP.04-SD/35.16/2024"
    )
    assert format_number("{seq:03d}/{bulan_romawi}/{tahun}", FIELDS) == "007/V/2024"
    assert format_number("K{kursus}-{bulan:02d}-{seq}", FIELDS) == "K3-05-7"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{seq:04d}/{kode_kabupaten}/{tahun}", "Kolom {kode_kabupaten} tidak dikenal"),
        ("{nomor}/{tahun}", "Kolom {nomor} tidak dikenal"),
        ("{}/{tahun}", "Kolom {} tidak dikenal"),
        ("PP.04/{kode_kab}/{tahun}", "harus memuat {seq}"),
        ("{seq:04d/{tahun}", "tidak berpasangan"),
        ("{seq:xyz}", "Format nomor tidak sah"),
        ("", "wajib diisi"),
    ],
)
def test_bad_templates_are_refused_with_a_clear_message(template, message):
    with pytest.raises(NumberTemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        validate_template(template)


def test_literal_braces_are_allowed():
    assert validate_template(" {{KPU}}-{seq} ") == "{{KPU}}-{seq}"


# --- the counter, on SQLite and PostgreSQL ----------------------------------


@pytest.fixture
def setup(app, content, wilayah, make_staff, make_peserta):
    admin_id = make_staff()
    people = [make_peserta(nama=f"Peserta {i}") for i in range(8)]
    with app.app_context():
        module = db.session.scalars(select(Module).limit(1)).one()
        course = learning.save_course(
            None,
            title="Bimtek PPS",
            description="",
            audience=["PPS"],
            hours_jp=8,
            module_ids=[module.id],
            active=True,
            actor=db.session.get(User, admin_id),
        )
        db.session.commit()
        return course.id, admin_id, people


def _issue(app, course_id, user_id, admin_id, fail=False):
    with app.app_context():
        course = db.session.get(Course, course_id)
        certificate = service.issue(
            course, db.session.get(User, user_id), db.session.get(User, admin_id)
        )
        number = certificate.number
        if fail:
            db.session.rollback()
        else:
            db.session.commit()
        db.session.remove()
        return number


def test_numbers_follow_the_template_and_a_rollback_leaves_no_gap(app, setup):
    course_id, admin_id, people = setup
    with app.app_context():
        course = db.session.get(Course, course_id)
        first = service.issue(course, db.session.get(User, people[0]), None)
        # kode_kab: the only kabupaten loaded; the year of issue in the office's zone
        assert first.number == f"0001/PP.04-SD/73.22/{datetime.now(UTC).year}"
        db.session.commit()
    assert _issue(app, course_id, people[1], admin_id, fail=True).startswith("0002/")
    assert _issue(app, course_id, people[2], admin_id).startswith("0002/")  # no gap


def test_issuing_twice_gives_the_same_certificate(app, setup):
    course_id, admin_id, people = setup
    assert _issue(app, course_id, people[0], admin_id) == _issue(
        app, course_id, people[0], admin_id
    )


def test_eight_concurrent_issuers_get_distinct_consecutive_numbers(app, setup, at_once):
    course_id, admin_id, people = setup
    numbers = at_once(*[(lambda uid=uid: _issue(app, course_id, uid, admin_id)) for uid in people])
    seqs = sorted(int(n.split("/")[0]) for n in numbers)
    assert seqs == list(range(1, 9))
    with app.app_context():
        assert db.session.scalar(select(CertificateCounter.last_seq)) == 8


def test_two_issuers_for_the_same_participant_make_one_certificate(app, setup, at_once):
    course_id, admin_id, people = setup
    first, second = at_once(
        lambda: _issue(app, course_id, people[0], admin_id),
        lambda: _issue(app, course_id, people[0], admin_id),
    )
    assert first == second
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 1
        # the loser's number went back: the next participant gets 0002
    assert _issue(app, course_id, people[1], admin_id).startswith("0002/")


def test_a_bad_office_template_stops_the_app():
    from bimtek import ConfigurationError, create_app

    config = {"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    with pytest.raises(ConfigurationError, match=r"Kolom \{nomor\} tidak dikenal"):
        create_app({**config, "BIMTEK_CERT_NUMBER_TEMPLATE": "{nomor}/{tahun}"})
    create_app({**config, "BIMTEK_CERT_NUMBER_TEMPLATE": "{seq}/{bulan_romawi}/{tahun}"})
