"""Courses across office levels and certificates per issuing office (issue 13), on the demo:
KPU Provinsi Sulawesi Selatan above KPU Kabupaten Luwu Utara (the first office) and KPU
Kabupaten Luwu Timur. A province course offered down is followed in both kabupaten; each issues
its own participants' certificates with its own numbers, signer and place."""

import io
import re
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bimtek.accounts.models import User
from bimtek.certificates import service
from bimtek.certificates.models import Certificate, CertificateCounter
from bimtek.extensions import db
from bimtek.learning import service as learning
from bimtek.learning.models import Course, Module
from bimtek.offices.models import Office
from bimtek.quiz import service as quiz_service
from bimtek.settings import service as settings
from tests.conftest import complete_course
from tests.test_certificates import read_pdf

PASSWORD = "demo-peserta-2029"
LUTRA_PPS, LUTRA_PPK = "7322011203950002", "7322014107900001"
LUTIM_PPS, LUTIM_PPK = "7324046302910004", "7324041708930005"
PROVINCE = ("admin-sulsel", "demo-sulsel-2029")
LUTRA = ("admin", "demo-admin-2029")
LUTIM = ("admin-lutim", "demo-lutim-2029")
MAY_26 = datetime(2024, 5, 26, 2, 0, tzinfo=UTC)
TITLE = "Bimtek Netralitas Se-Sulawesi Selatan"


def _office(kode: str) -> Office:
    return db.session.scalars(select(Office).where(Office.wilayah_kode == kode)).one()


def _user(login: str) -> User:
    return db.session.scalars(
        select(User).where((User.username == login) | (User.nik == login))
    ).one()


def _province_course(app, offered_down: bool = True, title: str = TITLE) -> int:
    """A course of the province (made by admin-sulsel) with a post-test."""
    with app.app_context():
        admin = _user("admin-sulsel")
        modules = db.session.scalars(select(Module.id).order_by(Module.sort_order).limit(2)).all()
        course = learning.save_course(
            None,
            title=title,
            description="",
            audience=["PPS", "PPK"],
            hours_jp=6,
            module_ids=list(modules),
            active=True,
            actor=admin,
            offered_down=offered_down,
        )
        quiz_service.save_quiz(
            course, None, quiz_service.QuizSettings(kind="post", title="Post-test"), admin
        )
        db.session.commit()
        return course.id


def _set_template(app, kode: str, template: str) -> None:
    with app.app_context():
        _office(kode).cert_number_template = template
        db.session.commit()


def _first_demo_course(app) -> int:
    with app.app_context():
        return db.session.scalars(select(Course.id).order_by(Course.id)).first()


def _issue_kecamatan(client, post_form, course_id: int, kecamatan: str):
    return post_form(
        client,
        f"/admin/kursus/{course_id}/sertifikat/terbitkan",
        {"kecamatan": kecamatan, "confirm": "y"},
        form_page=f"/admin/kursus/{course_id}/sertifikat?kecamatan={kecamatan}",
    )


def _certificate_of(app, course_id: int, nik: str) -> Certificate:
    with app.app_context():
        return db.session.scalars(
            select(Certificate).where(
                Certificate.course_id == course_id, Certificate.user_id == _user(nik).id
            )
        ).one()


def test_province_course_offered_down_is_issued_by_each_kabupaten(
    app, client, auth, post_form, demo
):
    # The province makes the course on its form, offering it down; a kabupaten's form has
    # no such choice.
    auth.login(*LUTIM)
    assert "Tawarkan ke KPU Kabupaten/Kota" not in client.get("/admin/kursus/baru").text
    auth.logout()
    auth.login(*PROVINCE)
    form = client.get("/admin/kursus/baru").text
    assert "Tawarkan ke KPU Kabupaten/Kota di bawah" in form
    module_ids = re.findall(r'name="modules"[^>]*value="(\d+)"', form)
    module_ids = module_ids or re.findall(r'value="(\d+)"[^>]*name="modules"', form)
    response = post_form(
        client,
        "/admin/kursus/baru",
        {
            "title": TITLE,
            "audience": ["PPS", "PPK"],
            "hours_jp": "6",
            "modules": module_ids[:2],
            "active": "y",
            "offered_down": "y",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        course = db.session.scalars(select(Course).where(Course.title == TITLE)).one()
        assert course.office_id == _office("73").id and course.offered_down
        course_id = course.id
        quiz_service.save_quiz(
            course, None, quiz_service.QuizSettings(kind="post", title="Post-test"),
            _user("admin-sulsel"),
        )  # fmt: skip
        db.session.commit()
    auth.logout()
    _set_template(app, "73.24", "{seq:03d}/LUTIM/{tahun}")

    # Participants of both kabupaten see it on their home page and open it.
    for nik in (LUTIM_PPS, LUTRA_PPS):
        auth.login(nik, PASSWORD)
        assert TITLE in client.get("/").text
        assert client.get(f"/kursus/{course_id}").status_code == 200
        auth.logout()
    with app.app_context():
        complete_course(course_id, LUTIM_PPS)
        complete_course(course_id, LUTRA_PPS)

    # The kabupaten admin sees the province's course labelled with its office, read-only.
    auth.login(*LUTIM)
    listing = client.get("/admin/kursus").text
    assert TITLE in listing and "Ditawarkan oleh KPU Provinsi Sulawesi Selatan" in listing
    assert f"/admin/kursus/{course_id}/ubah" not in listing
    for path in (
        f"/admin/kursus/{course_id}/ubah",
        f"/admin/kursus/{course_id}/kelulusan",
        f"/admin/kursus/{course_id}/kuis/baru",
    ):
        assert client.get(path).status_code == 403, path
    assert client.get(f"/admin/kursus/{course_id}/kuis").status_code == 200
    # Luwu Timur lists only its own kecamatan and issues for them.
    preview = client.get(f"/admin/kursus/{course_id}/sertifikat").text
    assert 'value="73.24.04"' in preview and 'value="73.22.01"' not in preview
    assert client.get(f"/admin/kursus/{course_id}/sertifikat?kecamatan=73.22.01").status_code == 404
    assert _issue_kecamatan(client, post_form, course_id, "73.22.01").status_code == 404
    assert _issue_kecamatan(client, post_form, course_id, "73.24.04").status_code == 302
    auth.logout()
    auth.login(*LUTRA)
    assert _issue_kecamatan(client, post_form, course_id, "73.22.01").status_code == 302
    auth.logout()

    year = datetime.now(UTC).year
    lutim = _certificate_of(app, course_id, LUTIM_PPS)
    lutra = _certificate_of(app, course_id, LUTRA_PPS)
    assert lutim.number == f"001/LUTIM/{year}"
    assert lutra.number == f"0001/PP.04-SD/73.22/{year}"
    with app.app_context():
        assert lutim.office_id == _office("73.24").id
        assert lutra.office_id == _office("73.22").id

    # Each participant's PDF carries their own kabupaten's number, place and signer.
    auth.login(LUTIM_PPS, PASSWORD)
    text, _codes = read_pdf(client.get(f"/sertifikat/{lutim.id}/unduh").data)
    assert f"001/LUTIM/{year}" in text and "Malili," in text
    assert "Ketua KPU Kabupaten Luwu Timur" in text and "Luwu Utara" not in text
    assert client.get(f"/sertifikat/{lutra.id}/unduh").status_code == 404
    auth.logout()
    auth.login(LUTRA_PPS, PASSWORD)
    text, _codes = read_pdf(client.get(f"/sertifikat/{lutra.id}/unduh").data)
    assert f"0001/PP.04-SD/73.22/{year}" in text and "Masamba," in text
    assert "Ketua KPU Kabupaten Luwu Utara" in text and "Luwu Timur" not in text
    auth.logout()

    # The province sees both, read-only: no issue, revoke or reissue for them.
    auth.login(*PROVINCE)
    for certificate in (lutim, lutra):
        page = client.get(f"/admin/sertifikat/{certificate.id}")
        assert page.status_code == 200 and certificate.number in page.text
        assert "Cabut sertifikat" not in page.text
        assert client.get(f"/sertifikat/{certificate.id}/unduh").status_code == 200
        revoke = post_form(
            client,
            f"/admin/sertifikat/{certificate.id}/cabut",
            {"cabut-reason": "Dicabut oleh provinsi"},
            form_page=f"/admin/sertifikat/{certificate.id}",
        )
        assert revoke.status_code == 403
        reissue = post_form(
            client,
            f"/admin/sertifikat/{certificate.id}/terbitkan-ulang",
            {"ulang-reason": "Diterbitkan ulang provinsi"},
            form_page=f"/admin/sertifikat/{certificate.id}",
        )
        assert reissue.status_code == 403
    preview = client.get(f"/admin/kursus/{course_id}/sertifikat?kecamatan=73.24.04").text
    assert lutim.number in preview and "diterbitkan oleh KPU Kabupaten Luwu Timur" in preview
    assert _issue_kecamatan(client, post_form, course_id, "73.24.04").status_code == 403
    # Reading is allowed: Luwu Timur's zip, drawn as Luwu Timur.
    response = client.get(f"/admin/kursus/{course_id}/sertifikat.zip?kecamatan=73.24.04")
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        (name,) = archive.namelist()
        text, _codes = read_pdf(archive.read(name))
    assert lutim.number in text and "Malili," in text
    auth.logout()

    # A sibling's certificate does not exist for Luwu Timur; its own it may revoke.
    auth.login(*LUTIM)
    assert client.get(f"/admin/sertifikat/{lutra.id}").status_code == 404
    assert client.get(f"/sertifikat/{lutra.id}/unduh").status_code == 404
    own = client.get(f"/admin/sertifikat/{lutim.id}")
    assert own.status_code == 200 and "Cabut sertifikat" in own.text

    # The public check names the issuing office.
    with app.app_context():
        code = db.session.get(Certificate, lutim.id).current_version.code
    assert "KPU Kabupaten Luwu Timur" in client.get(f"/verifikasi/{code}").text


def test_a_kabupaten_course_and_an_unoffered_province_course_stay_in_their_lane(
    app, client, auth, demo
):
    lutra_course = _first_demo_course(app)
    province_only = _province_course(app, offered_down=False, title="Rapat Koordinasi Provinsi")

    # Luwu Timur's participant and admin: neither course exists for them.
    auth.login(LUTIM_PPS, PASSWORD)
    home = client.get("/").text
    assert "Rapat Koordinasi Provinsi" not in home and "Bimtek Kode Etik" not in home
    for course_id in (lutra_course, province_only):
        assert client.get(f"/kursus/{course_id}").status_code == 404
    auth.logout()
    auth.login(*LUTIM)
    listing = client.get("/admin/kursus").text
    assert "Rapat Koordinasi Provinsi" not in listing and "Bimtek Kode Etik" not in listing
    for course_id in (lutra_course, province_only):
        for path in ("ubah", "kelulusan", "kuis", "sertifikat"):
            assert client.get(f"/admin/kursus/{course_id}/{path}").status_code == 404, path
    auth.logout()

    # The province sees Luwu Utara's course, labelled, and may not change it.
    auth.login(*PROVINCE)
    listing = client.get("/admin/kursus").text
    assert "Bimtek Kode Etik" in listing and "Milik KPU Kabupaten Luwu Utara" in listing
    assert f"/admin/kursus/{lutra_course}/ubah" not in listing
    assert f"/admin/kursus/{province_only}/ubah" in listing
    assert client.get(f"/admin/kursus/{lutra_course}/ubah").status_code == 403
    assert client.get(f"/admin/kursus/{lutra_course}/kelulusan").status_code == 403
    assert client.get(f"/admin/kursus/{province_only}/ubah").status_code == 200
    auth.logout()

    # Luwu Utara's participant follows its own course; the province's unoffered one is not theirs.
    auth.login(LUTRA_PPS, PASSWORD)
    assert client.get(f"/kursus/{lutra_course}").status_code == 200
    assert client.get(f"/kursus/{province_only}").status_code == 404


def test_a_kabupaten_cannot_offer_a_course_down(app, demo):
    with app.app_context():
        with pytest.raises(learning.CourseError, match="Hanya kursus KPU Provinsi"):
            learning.save_course(
                None, title="Kursus Kabupaten", description="", audience=["PPS"], hours_jp=1,
                module_ids=[db.session.scalars(select(Module.id)).first()], active=True,
                actor=_user("admin-lutim"), offered_down=True,
            )  # fmt: skip


def test_two_offices_with_one_template_count_their_own_numbers(app, demo):
    course_id = _province_course(app)
    for kode in ("73.22", "73.24"):
        _set_template(app, kode, "{seq:04d}/SERT/{tahun}")
    with app.app_context():
        for nik in (LUTRA_PPS, LUTRA_PPK, LUTIM_PPS):
            complete_course(course_id, nik)
        course = db.session.get(Course, course_id)
        first = service.issue(course, _user(LUTRA_PPS), None, now=MAY_26)
        lutim = service.issue(course, _user(LUTIM_PPS), None, now=MAY_26)
        second = service.issue(course, _user(LUTRA_PPK), None, now=MAY_26)
        db.session.commit()
        assert (first.number, second.number) == ("0001/SERT/2024", "0002/SERT/2024")
        assert lutim.number == "0001/SERT/2024"  # its own series: no gap, no collision
        counters = {
            (row.office_id, row.last_seq)
            for row in db.session.scalars(
                select(CertificateCounter).where(
                    CertificateCounter.series == "{seq:04d}/SERT/{tahun}"
                )
            )
        }
        assert counters == {(_office("73.22").id, 2), (_office("73.24").id, 1)}


def test_changing_the_template_never_renumbers_issued_certificates(
    app, client, auth, post_form, demo
):
    course_id = _province_course(app)
    with app.app_context():
        complete_course(course_id, LUTIM_PPS)
        complete_course(course_id, LUTIM_PPK)
        course = db.session.get(Course, course_id)
        before = service.issue(course, _user(LUTIM_PPS), None, now=MAY_26)
        db.session.commit()
        number, certificate_id = before.number, before.id
    assert number == "0001/PP.04-SD/73.24/2024"

    auth.login(*LUTIM)
    values = {
        "name": "KPU Kabupaten Luwu Timur",
        "address_line": "Malili",
        "place": "Malili",
        "signer_name": "Penandatangan Luwu Timur",
        "signer_title": "Ketua KPU Kabupaten Luwu Timur",
        "signer_nip": "",
        "timezone": "Asia/Makassar",
        "kode_kab": "73.24",
    }
    refused = post_form(
        client, "/admin/pengaturan", {**values, "cert_number_template": "LTM/{tahun}"}
    )
    assert refused.status_code == 400 and "harus memuat {seq}" in refused.text
    saved = post_form(
        client, "/admin/pengaturan", {**values, "cert_number_template": "LTM-{seq}/{tahun}"}
    )
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.get(Certificate, certificate_id).number == number
        after = service.issue(db.session.get(Course, course_id), _user(LUTIM_PPK), None, now=MAY_26)
        db.session.commit()
        assert after.number == "LTM-1/2024"
    page = client.get(f"/admin/sertifikat/{certificate_id}").text
    assert number in page
    text, _codes = read_pdf(client.get(f"/sertifikat/{certificate_id}/unduh").data)
    assert number in text and "LTM-" not in text


def test_a_course_number_template_without_seq_is_refused_on_the_rule_page(
    client, auth, post_form, app, demo
):
    course_id = _province_course(app)
    auth.login(*PROVINCE)
    response = post_form(
        client,
        f"/admin/kursus/{course_id}/kelulusan",
        {"require_modules": "y", "min_attendance_pct": "0", "cert_number_template": "SERT/{tahun}"},
    )
    assert response.status_code == 400 and "harus memuat {seq}" in response.text
    with app.app_context():
        assert db.session.get(Course, course_id).cert_number_template is None


def test_each_office_issues_automatically_only_once_it_confirmed_its_settings(app, demo):
    course_id = _province_course(app)
    with app.app_context():
        lutim = _office("73.24")
        lutim.updated_at = lutim.previewed_at = None  # Luwu Timur has not checked its settings
        db.session.commit()
        for nik in (LUTRA_PPS, LUTIM_PPS):
            complete_course(course_id, nik)
        course = db.session.get(Course, course_id)
        course.auto_issue = True
        settings.forget_office()
        assert service.issue_pending_automatic(course) == 1  # Luwu Utara's participant only
        db.session.commit()
        holders = set(
            db.session.scalars(
                select(Certificate.user_id).where(Certificate.course_id == course_id)
            )
        )
        assert holders == {_user(LUTRA_PPS).id}
        settings.mark_previewed(_user("admin-lutim"))  # Luwu Timur looks at a sample
        db.session.commit()
        certificate = db.session.scalars(
            select(Certificate).where(Certificate.user_id == _user(LUTIM_PPS).id)
        ).one()
        assert certificate.office_id == lutim.id
        assert certificate.current_version.place == "Malili"
