"""Certificates end to end over HTTP: PDF read back, verification, roles, bulk, reissue, pakta."""

import io
import re
import zipfile
from datetime import UTC, datetime

import pypdf
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import delete, func, select

from bimtek.accounts.models import AuditLog, User
from bimtek.certificates import queries as certificate_queries
from bimtek.certificates import rule as certificate_rule
from bimtek.certificates import service
from bimtek.certificates.models import Certificate, CertificateVersion, PaktaConfirmation
from bimtek.extensions import db
from bimtek.learning.models import Course, ModuleProgress
from tests.conftest import complete_course
from tests.test_quiz_flow import start as start_quiz

PPS_NIK, PPK_NIK, PASSWORD = "7322011203950002", "7322014107900001", "demo-peserta-2029"
ADMIN = ("admin", "demo-admin-2029")
MAY_26 = datetime(2024, 5, 26, 2, 0, tzinfo=UTC)


@pytest.fixture
def app_config():
    return {"BIMTEK_VERIFY_LIMIT": "8 per minute", "BIMTEK_CERT_PLACE": "Masamba"}


@pytest.fixture
def demo(demo, app):
    """The id of the demo's first course."""
    with app.app_context():
        return db.session.scalars(select(Course).order_by(Course.id)).first().id


def _user_id(app, nik):
    with app.app_context():
        return db.session.scalars(select(User.id).where(User.nik == nik)).one()


@pytest.fixture
def graduate(app, demo):
    """Callable: the participant reads every module and passes the post-test."""

    def run(nik, score=85.0):
        with app.app_context():
            return complete_course(demo, nik, score)

    return run


@pytest.fixture
def issued(app, demo, graduate):
    """The PPS participant's certificate, issued on 26 May 2024; returns (id, code)."""
    user_id = graduate(PPS_NIK)
    with app.app_context():
        certificate = service.issue(
            db.session.get(Course, demo), db.session.get(User, user_id), None, now=MAY_26
        )
        db.session.commit()
        return certificate.id, certificate.current_version.code


def read_pdf(data: bytes) -> tuple[str, list[str]]:
    """The page's text and the QR codes decoded from its images."""
    assert data.startswith(b"%PDF")
    page = pypdf.PdfReader(io.BytesIO(data)).pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)  # landscape
    assert round(float(page.mediabox.width)) == 842  # A4
    codes = []
    for image in page.images:
        picture = image.image.convert("L")
        big = picture.resize((picture.width * 8, picture.height * 8), Image.NEAREST)
        codes += [found.text for found in zxingcpp.read_barcodes(big)]
    return page.extract_text(), codes


def test_participant_downloads_a_pdf_that_reads_back(client, auth, app, issued):
    certificate_id, code = issued
    auth.login(PPS_NIK, PASSWORD)
    response = client.get(f"/sertifikat/{certificate_id}/unduh")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    text, codes = read_pdf(response.data)
    assert "Muh. Rizal Pratama" in text
    assert "0001/PP.04-SD/73.22/2024" in text
    assert "Bimtek Kode Etik, Kode Perilaku dan Netralitas PPK, PPS dan KPPS" in text
    assert "Masamba, 26 Mei 2024" in text
    assert "Anggota PPS" in text and "Kec. Malangke" in text
    assert "8 jam pelajaran (JP)" in text
    assert PPS_NIK not in text and PPS_NIK[-6:] not in text
    assert codes == [f"http://bimtek.example.test/verifikasi/{code}"]
    assert len(code) >= 22  # ≥ 128 bits


def test_names_outside_latin1_render_with_the_bundled_font(app, demo, graduate):
    user_id = graduate(PPS_NIK)
    with app.app_context():
        user = db.session.get(User, user_id)
        user.nama = "Ṣāliḥ Nur’aini"
        certificate = service.issue(db.session.get(Course, demo), user, None)
        text, codes = read_pdf(certificate_queries.render_pdf(certificate))
        db.session.commit()
    assert "Ṣāliḥ Nur’aini" in text
    assert codes and codes[0].startswith("http://bimtek.example.test/verifikasi/")


def test_course_page_shows_missing_items_then_the_download(client, auth, app, demo, graduate):
    auth.login(PPS_NIK, PASSWORD)
    page = client.get(f"/kursus/{demo}").get_data(as_text=True)
    assert "Yang masih perlu diselesaikan" in page
    assert "Modul dibaca: 0 dari 4" in page
    assert "Post-test belum dikerjakan (lulus 70)" in page
    graduate(PPS_NIK)
    page = client.get(f"/kursus/{demo}").get_data(as_text=True)
    assert "telah memenuhi semua syarat" in page  # not automatic by default: the admin issues
    with app.app_context():  # the admin turns automatic issuing on: who already qualifies gets it
        course = db.session.get(Course, demo)
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        rule = certificate_rule.RuleSettings(True, True, 0, "", True, None)
        certificate_rule.save_rule(course, rule, admin)
        db.session.commit()
    page = client.get(f"/kursus/{demo}").get_data(as_text=True)
    assert "Unduh sertifikat (PDF)" in page
    certificate_id = int(re.search(r"/sertifikat/(\d+)/unduh", page).group(1))
    assert client.get(f"/sertifikat/{certificate_id}/unduh").status_code == 200
    assert "Unduh sertifikat" in client.get("/sertifikat").get_data(as_text=True)


def test_a_graded_post_test_issues_the_certificate_of_an_automatic_course(app, demo):
    """The post-test is graded (no page view): the certificate exists; not for a course that
    leaves issuing to the admin."""
    from bimtek.quiz import service as quiz_service
    from bimtek.quiz.models import AttemptAnswer, Quiz
    from bimtek.timeutil import utcnow

    def pass_post_test(nik) -> int:
        with app.app_context():
            user = db.session.scalars(select(User).where(User.nik == nik)).one()
            course = db.session.get(Course, demo)
            for module in course.modules:
                db.session.add(ModuleProgress(user_id=user.id, completed_at=utcnow(),
                                              module_version_id=module.versions[-1].id))  # fmt: skip
            post = db.session.scalars(
                select(Quiz).where(Quiz.course_id == demo, Quiz.kind == "post")
            ).one()
            attempt = quiz_service.start_attempt(post, user)
            rows = db.session.scalars(
                select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id)
            ).all()
            keys = {r.position: list(r.question_version.answer) for r in rows}
            assert quiz_service.finish_attempt(attempt, selections=keys)
            db.session.commit()
            return db.session.scalar(select(func.count()).select_from(Certificate))

    with app.app_context():
        db.session.get(Course, demo).pretest_first = False
        db.session.commit()
    assert pass_post_test(PPK_NIK) == 0  # not automatic: the admin issues
    with app.app_context():
        db.session.get(Course, demo).auto_issue = True
        db.session.commit()
    assert pass_post_test(PPS_NIK) == 1


def test_a_post_test_sent_from_its_page_issues_the_certificate_of_an_automatic_course(
    app, client, auth, demo
):
    """The same through the exam page a phone sends ("Kirim" with every answer on it)."""
    from bimtek.quiz.models import AttemptAnswer, Quiz
    from bimtek.timeutil import utcnow
    from tests.conftest import csrf_token

    with app.app_context():
        course = db.session.get(Course, demo)
        course.pretest_first, course.auto_issue = False, True
        user = db.session.scalars(select(User).where(User.nik == PPS_NIK)).one()
        for module in course.modules:
            db.session.add(ModuleProgress(user_id=user.id, completed_at=utcnow(),
                                          module_version_id=module.versions[-1].id))  # fmt: skip
        post = db.session.scalars(
            select(Quiz.id).where(Quiz.course_id == demo, Quiz.kind == "post")
        ).one()
        db.session.commit()
    auth.login(PPS_NIK, PASSWORD)
    attempt_id = start_quiz(client, post)
    with app.app_context():
        rows = db.session.scalars(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt_id)
        ).all()
        keys = {r.position: list(r.question_version.answer) for r in rows}
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0
    form = {"csrf_token": csrf_token(client, f"/ujian/{attempt_id}"), "action": "kirim",
            "positions": [str(p) for p in keys]}  # fmt: skip
    form.update({f"q{p}": k for p, k in keys.items()})
    response = client.post(f"/ujian/{attempt_id}", data=form)
    assert response.headers["Location"].endswith(f"/ujian/{attempt_id}/hasil")
    with app.app_context():
        (certificate,) = db.session.scalars(select(Certificate)).all()
        assert certificate.user.nik == PPS_NIK and certificate.issued_by_id is None


def test_the_event_that_completes_the_course_issues_the_certificate(
    client, auth, app, demo, graduate, post_form
):
    """No page view needed: reading the last module issues it (a course set to automatic)."""
    graduate(PPS_NIK)
    with app.app_context():
        course = db.session.get(Course, demo)
        course.auto_issue = True
        user = db.session.scalars(select(User).where(User.nik == PPS_NIK)).one()
        last = course.modules[-1]
        db.session.execute(
            delete(ModuleProgress).where(
                ModuleProgress.user_id == user.id,
                ModuleProgress.module_version_id == last.versions[-1].id,
            )
        )
        db.session.commit()
        slug = last.slug
        assert db.session.scalars(select(Certificate)).first() is None
    auth.login(PPS_NIK, PASSWORD)
    path = f"/kursus/{demo}/modul/{slug}"
    response = post_form(client, path + "/selesai", {"version": "1"}, form_page=path)
    assert response.status_code == 302
    with app.app_context():
        certificate = db.session.scalars(select(Certificate)).one()
        assert certificate.user.nik == PPS_NIK and certificate.issued_by_id is None


def test_verification_valid_unknown_without_login(client, issued):
    _, code = issued
    response = client.get(f"/verifikasi/{code}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Sertifikat sah" in page
    assert "Muh. Rizal Pratama" in page and "26 Mei 2024" in page
    assert "0001/PP.04-SD/73.22/2024" in page
    assert PPS_NIK not in page and "Malangke" not in page and "Anggota" not in page
    response = client.get("/verifikasi/" + "x" * 32)
    assert response.status_code == 404
    assert "Kode tidak dikenal" in response.get_data(as_text=True)


def test_verification_is_rate_limited(client, issued):
    statuses = [client.get("/verifikasi/tebak-kode-" + str(i)).status_code for i in range(10)]
    assert statuses[:8] == [404] * 8 and statuses[8:] == [429, 429]


def test_admin_revokes_with_reason_and_verification_says_so(client, auth, post_form, app, issued):
    certificate_id, code = issued
    auth.login(*ADMIN)
    path = f"/admin/sertifikat/{certificate_id}"
    response = post_form(client, f"{path}/cabut", {"cabut-reason": ""}, form_page=path)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Certificate, certificate_id).revoked_at is None  # no reason
    post_form(
        client, f"{path}/cabut", {"cabut-reason": "Peserta tidak hadir ujian"}, form_page=path
    )
    auth.logout()
    page = client.get(f"/verifikasi/{code}").get_data(as_text=True)
    assert "Sertifikat dicabut" in page and "Peserta tidak hadir ujian" in page
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).where(AuditLog.action == "certificate.revoke"))
            == 1
        )
    # the owner can no longer download it
    auth.login(PPS_NIK, PASSWORD)
    assert client.get(f"/sertifikat/{certificate_id}/unduh").status_code == 404


def test_name_correction_reissues_same_number_new_version(client, auth, post_form, app, issued):
    certificate_id, old_code = issued
    with app.app_context():
        db.session.scalars(
            select(User).where(User.nik == PPS_NIK)
        ).one().nama = "Muhammad Rizal Pratama"
        db.session.commit()
    auth.login(*ADMIN)
    path = f"/admin/sertifikat/{certificate_id}"
    assert "Terbitkan ulang agar sertifikat memuat data yang benar" in client.get(path).get_data(
        as_text=True
    )
    post_form(client, f"{path}/terbitkan-ulang", {"ulang-reason": "Koreksi nama"}, form_page=path)
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        assert certificate.current_version_no == 2
        new_code = certificate.current_version.code
        assert certificate.number == "0001/PP.04-SD/73.22/2024"
        pdf = certificate_queries.render_pdf(certificate)
    text, codes = read_pdf(pdf)
    assert "Muhammad Rizal Pratama" in text and "26 Mei 2024" in text
    assert codes == [f"http://bimtek.example.test/verifikasi/{new_code}"]
    auth.logout()
    assert "diganti versi baru" in client.get(f"/verifikasi/{old_code}").get_data(as_text=True)
    assert "Sertifikat sah" in client.get(f"/verifikasi/{new_code}").get_data(as_text=True)


def test_roles_and_objects(client, auth, app, demo, issued):
    certificate_id, _ = issued
    assert client.get(f"/sertifikat/{certificate_id}/unduh").status_code == 302  # sign in first
    auth.login(PPK_NIK, PASSWORD)  # another participant
    assert client.get(f"/sertifikat/{certificate_id}/unduh").status_code == 404
    assert client.get("/sertifikat/999999/unduh").status_code == 404
    for path in (
        f"/admin/sertifikat/{certificate_id}",
        f"/admin/kursus/{demo}/kelulusan",
        f"/admin/kursus/{demo}/sertifikat?kecamatan=73.22.01",
        f"/admin/kursus/{demo}/sertifikat.zip?kecamatan=73.22.01",
    ):
        assert client.get(path).status_code == 403, path
    auth.logout()
    auth.login("pelatih", "demo-pelatih-2029")
    assert client.get(f"/admin/sertifikat/{certificate_id}").status_code == 403
    assert client.get(f"/sertifikat/{certificate_id}/unduh").status_code == 404
    auth.logout()
    auth.login(*ADMIN)
    assert client.get(f"/sertifikat/{certificate_id}/unduh").status_code == 200
    assert client.get("/admin/sertifikat/999999").status_code == 404


def test_bulk_preview_issue_and_zip(client, auth, post_form, app, demo, graduate):
    graduate(PPS_NIK)
    graduate(PPK_NIK, score=50)  # took the post-test, did not pass
    auth.login(*ADMIN)
    path = f"/admin/kursus/{demo}/sertifikat?kecamatan=73.22.01"
    page = client.get(path).get_data(as_text=True)
    assert "Layak diterbitkan: <strong>1</strong>" in page
    assert "Post-test belum lulus (nilai 50, lulus 70)" in page  # the PPK member, and why
    assert "Sekretariat" not in page  # not this course's audience
    # nothing is issued until the admin ticks what will happen
    assert "langsung terbit dan mendapat nomor urut tetap" in page
    response = post_form(
        client,
        f"/admin/kursus/{demo}/sertifikat/terbitkan",
        {"kecamatan": "73.22.01"},
        form_page=path,
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Centang pernyataan di atas tombol untuk menerbitkan." in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0
    response = post_form(
        client,
        f"/admin/kursus/{demo}/sertifikat/terbitkan",
        {"kecamatan": "73.22.01", "confirm": "y"},
        form_page=path,
    )
    assert response.status_code == 302
    with app.app_context():
        rows = db.session.execute(select(Certificate.user_id, Certificate.number)).all()
    assert [uid for uid, _ in rows] == [_user_id(app, PPS_NIK)]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 sertifikat diterbitkan" in page and "1 peserta belum memenuhi syarat" in page
    # issuing again issues nothing new
    post_form(
        client,
        f"/admin/kursus/{demo}/sertifikat/terbitkan",
        {"kecamatan": "73.22.01", "confirm": "y"},
        form_page=path,
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 1
    response = client.get(f"/admin/kursus/{demo}/sertifikat.zip?kecamatan=73.22.01")
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = archive.namelist()
        assert len(names) == 1 and names[0].endswith(".pdf")
        text, _ = read_pdf(archive.read(names[0]))
    assert "Muh. Rizal Pratama" in text
    assert client.get(f"/admin/kursus/{demo}/sertifikat?kecamatan=99.99.99").status_code == 404


def test_rule_page_validates_the_number_template(client, auth, post_form, app, demo):
    auth.login(*ADMIN)
    path = f"/admin/kursus/{demo}/kelulusan"
    data = {
        "require_modules": "y",
        "min_attendance_pct": "75",
        "pakta_text": "Saya berjanji bekerja jujur dan adil.",
        "cert_number_template": "{seq:04d}/{kabupaten}/{tahun}",
    }
    response = post_form(client, path, data)
    assert response.status_code == 400
    assert "Kolom {kabupaten} tidak dikenal" in response.get_data(as_text=True)
    data["cert_number_template"] = "{seq:03d}/{bulan_romawi}/{tahun}"
    assert post_form(client, path, data).status_code == 302
    with app.app_context():
        course = db.session.get(Course, demo)
        assert (course.require_modules, course.require_post_pass) == (True, False)
        assert course.min_attendance_pct == 75
        assert course.cert_number_template == "{seq:03d}/{bulan_romawi}/{tahun}"
    assert post_form(client, path, {**data, "min_attendance_pct": "150"}).status_code == 400


def test_pakta_after_the_modules_stored_with_time(client, auth, post_form, app, demo, graduate):
    with app.app_context():
        db.session.get(Course, demo).pakta_text = "Saya berjanji menjaga kemandirian."
        db.session.commit()
    auth.login(PPS_NIK, PASSWORD)
    page = client.get(f"/kursus/{demo}").get_data(as_text=True)
    assert "Saya berjanji menjaga kemandirian." in page
    assert "setelah semua modul selesai dibaca" in page
    post_form(client, f"/kursus/{demo}/pakta", {"agree": "y"}, form_page=f"/kursus/{demo}")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PaktaConfirmation)) == 0
    graduate(PPS_NIK)
    page = client.get(f"/kursus/{demo}").get_data(as_text=True)
    assert "Pakta integritas belum dikonfirmasi" in page
    post_form(client, f"/kursus/{demo}/pakta", {"agree": "y"}, form_page=f"/kursus/{demo}")
    page = client.get(f"/kursus/{demo}").get_data(as_text=True)
    assert "Pakta integritas dikonfirmasi" in page
    assert "telah memenuhi semua syarat" in page
    with app.app_context():
        row = db.session.scalars(select(PaktaConfirmation)).one()
        assert row.text == "Saya berjanji menjaga kemandirian." and row.confirmed_at is not None
        from bimtek.certificates.completion import completion_for

        result = completion_for(db.session.get(Course, demo), [row.user_id])
        assert result[row.user_id].pakta_confirmed_at is not None


def test_versions_keep_their_own_codes(app, issued):
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CertificateVersion)) == 1


def test_participant_record_shows_certificate_and_pakta(client, auth, app, demo, issued):
    user_id = _user_id(app, PPS_NIK)
    with app.app_context():
        db.session.add(PaktaConfirmation(course_id=demo, user_id=user_id, text="Pakta"))
        db.session.commit()
    auth.login(*ADMIN)
    page = client.get(f"/admin/peserta/{user_id}").get_data(as_text=True)
    assert "0001/PP.04-SD/73.22/2024" in page
    assert "Pakta integritas “Bimtek Kode Etik" in page and "dikonfirmasi" in page


def test_download_name_outside_latin1_survives_the_header(client, auth, app, demo, graduate):
    """A real server writes headers as latin-1: a raw "Ṣāliḥ" in Content-Disposition would
    break the response, so the name travels as RFC 5987 UTF-8 beside an ASCII fallback."""
    user_id = graduate(PPS_NIK)
    with app.app_context():
        user = db.session.get(User, user_id)
        user.nama = "Ṣāliḥ Nur’aini"
        certificate_id = service.issue(db.session.get(Course, demo), user, None).id
        db.session.commit()
    auth.login(PPS_NIK, PASSWORD)
    response = client.get(f"/sertifikat/{certificate_id}/unduh")
    assert response.status_code == 200
    header = response.headers["Content-Disposition"]
    header.encode("latin-1")  # raises if the server could not send it
    assert header.startswith("attachment;") and "filename*=UTF-8''" in header
    assert "%E1%B9%A2" in header  # Ṣ, percent-encoded
