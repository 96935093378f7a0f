"""The course's evaluation order, parallel forms, retries and paired N-gain; on SQLite and
PostgreSQL. (issue 10 item 6, item 11's quiz parts, issue 15 §2.)"""

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.learning import service as learning
from bimtek.learning.models import Course, Module, ModuleProgress
from bimtek.quiz import service as quiz_service
from bimtek.quiz.models import Attempt, AttemptAnswer, Question, Quiz
from bimtek.timeutil import utcnow
from tests.test_quiz_flow import answer_some, start, submit, token_of

PPS_NIK, PASSWORD = "7322011203950002", "demo-peserta-2029"
MODULE_SLUGS = [
    "kode-etik-penyelenggara",
    "kode-perilaku-badan-adhoc",
    "netralitas-penyelenggara",
    "penanganan-pelanggaran-kode-etik",
]


@pytest.fixture
def demo(demo, app):
    """The demo course 1 with its shipped settings (every order rule on)."""
    with app.app_context():
        return {q.kind: q.id for q in db.session.scalars(select(Quiz).where(Quiz.course_id == 1))}


@pytest.fixture
def peserta(client, auth, demo):
    auth.login(PPS_NIK, PASSWORD)
    return client


def question_ids(app, attempt_id) -> set[int]:
    with app.app_context():
        return set(
            db.session.scalars(
                select(AttemptAnswer.question_version_id).where(
                    AttemptAnswer.attempt_id == attempt_id
                )
            )
        )


def refused_start(client, quiz_id) -> str:
    """POST "Mulai" and return the page the refusal lands on."""
    response = client.post(f"/kuis/{quiz_id}/mulai", data={"csrf_token": token_of(client)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/kuis/{quiz_id}")
    return client.get(response.headers["Location"]).get_data(as_text=True)


def attempt_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Attempt))


def read_modules(client, post_form, slugs):
    for slug in slugs:
        path = f"/kursus/1/modul/{slug}"
        response = post_form(client, path + "/selesai", {"version": "1"}, form_page=path)
        assert response.status_code == 302


def test_pre_test_comes_first_and_modules_open_after_it(app, peserta, demo, post_form):
    home = peserta.get("/").get_data(as_text=True)
    assert f'href="/kuis/{demo["pre"]}">Mulai: Pre-test' in home
    course = peserta.get("/kursus/1").get_data(as_text=True)
    # Item 11: the card says "Pre-test" once, not "Pre-test — Pre-test".
    assert "Pre-test</strong> — Pre-test" not in course and "Pre-test — Pre-test" not in course
    # Pre-test card first, then the modules (locked, with the reason), then the post-test.
    pre_card = course.index(f'href="/kuis/{demo["pre"]}"')
    modules = course.index('class="module-list locked"')
    assert pre_card < modules < course.index("Langkah 3: evaluasi akhir")
    assert pre_card < course.index("Kelulusan dan sertifikat")  # the first thing on the page
    assert "Modul terbuka setelah pre-test dikirim." in course
    assert course.count("Terkunci") == 4
    assert 'href="/kursus/1/modul/' not in course
    # The server refuses, not just the page: opening and marking a module.
    opened = peserta.get(f"/kursus/1/modul/{MODULE_SLUGS[0]}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/kursus/1")
    assert "Kerjakan pre-test terlebih dahulu" in peserta.get("/kursus/1").get_data(as_text=True)
    path = f"/kursus/1/modul/{MODULE_SLUGS[0]}"
    token = token_of(peserta, "/kursus/1")
    marked = peserta.post(path + "/selesai", data={"csrf_token": token, "version": "1"})
    assert marked.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ModuleProgress)) == 0
    # The post-test, too, waits for the pre-test.
    assert "Kerjakan pre-test terlebih dahulu." in refused_start(peserta, demo["post"])

    start_page = peserta.get(f"/kuis/{demo['pre']}").get_data(as_text=True)
    assert "Nilai lulus" not in start_page and "tidak ada nilai lulus" in start_page
    pre = start(peserta, demo["pre"])
    answer_some(peserta, app, pre, right=6)
    submit(peserta, pre)
    result = peserta.get(f"/ujian/{pre}/hasil").get_data(as_text=True)
    # Item 11: a pre-test has no pass mark and no verdict, and says where to go next.
    assert 'data-testid="score">40<' in result
    assert "Nilai lulus" not in result and "nilai lulus" not in result
    assert "Belum lulus" not in result and "Lulus" not in result
    assert (
        f'href="/kursus/1/modul/{MODULE_SLUGS[0]}">Mulai modul 1: Kode Etik Penyelenggara Pemilu'
        in result
    )
    assert peserta.get(f"/kursus/1/modul/{MODULE_SLUGS[0]}").status_code == 200
    course = peserta.get("/kursus/1").get_data(as_text=True)
    assert "Terkunci" not in course and f'href="/kursus/1/modul/{MODULE_SLUGS[0]}"' in course
    assert "skor 40" in course and "belum lulus" not in course.split("Langkah 2")[0]


def test_post_test_opens_when_the_modules_are_read(app, peserta, demo, post_form):
    pre = start(peserta, demo["pre"])
    submit(peserta, pre)
    assert "tinggal 4 modul lagi" in refused_start(peserta, demo["post"])
    assert attempt_count(app) == 1  # the pre-test only
    read_modules(peserta, post_form, MODULE_SLUGS[:3])
    course = peserta.get("/kursus/1").get_data(as_text=True)
    assert "Post-test terbuka setelah semua modul selesai dibaca: tinggal 1 modul lagi." in course
    assert f'href="/kuis/{demo["post"]}">Kerjakan' not in course
    assert "tinggal 1 modul lagi" in refused_start(peserta, demo["post"])
    read_modules(peserta, post_form, MODULE_SLUGS[3:])
    assert f'href="/kuis/{demo["post"]}">Kerjakan Post-test' in peserta.get("/kursus/1").get_data(
        as_text=True
    )
    start(peserta, demo["post"])
    assert attempt_count(app) == 2


def test_the_order_can_be_switched_off_in_the_course_form(app, client, auth, demo, post_form):
    auth.login("admin", "demo-admin-2029")
    form = client.get("/admin/kursus/1/ubah").get_data(as_text=True)
    for label in (
        "Pre-test lebih dulu",
        "Post-test setelah semua modul",
        "Pre-test dan post-test tanpa soal yang sama",
    ):
        assert label in form
    assert "Modul baru dapat dibuka setelah peserta mengirim pre-test" in form
    for name in ("pretest_first", "posttest_after_modules", "parallel_forms"):
        assert re.search(rf'<input checked id="{name}"', form), name
    with app.app_context():
        course = db.session.get(Course, 1)
        data = {
            "title": course.title,
            "description": course.description,
            "audience": course.audience,
            "hours_jp": str(course.hours_jp),
            "modules": [str(cm.module_id) for cm in course.course_modules],
            "active": "y",
            "parallel_forms": "y",
        }
    assert post_form(client, "/admin/kursus/1/ubah", data).status_code == 302
    with app.app_context():
        course = db.session.get(Course, 1)
        assert (course.pretest_first, course.posttest_after_modules) == (False, False)
        assert course.parallel_forms is True
    auth.logout()
    auth.login(PPS_NIK, PASSWORD)
    # Nothing read, no pre-test: the post-test starts and the modules open.
    assert client.get(f"/kursus/1/modul/{MODULE_SLUGS[1]}").status_code == 200
    start(client, demo["post"])


def ready_for_post(app, nik=PPS_NIK):
    """Modules read (in the database): the state a participant reaches before the post-test."""
    with app.app_context():
        user = db.session.scalars(select(User).where(User.nik == nik)).one()
        course = db.session.get(Course, 1)
        for cm in course.course_modules:
            version = cm.module.versions[-1]
            db.session.add(
                ModuleProgress(user_id=user.id, module_version_id=version.id, completed_at=utcnow())
            )
        db.session.commit()


def test_key_waits_for_the_last_attempt_and_a_retry_draws_unseen_questions(app, peserta, demo):
    pre = start(peserta, demo["pre"])
    submit(peserta, pre)
    ready_for_post(app)
    first = start(peserta, demo["post"])
    answer_some(peserta, app, first, right=5)  # 25: failed, one attempt left
    submit(peserta, first)
    page = peserta.get(f"/ujian/{first}/hasil").get_data(as_text=True)
    assert "Belum lulus" in page and "Coba lagi (1 kesempatan)" in page
    assert "Sumber:" not in page and "kunci" not in page and "Pembahasan" not in page
    assert "ditampilkan setelah Anda tidak punya kesempatan lagi" in page

    second = start(peserta, demo["post"])
    # The retry: 20 questions, none of them seen in the first attempt or in the pre-test.
    seen = question_ids(app, first) | question_ids(app, pre)
    fresh = question_ids(app, second)
    assert len(fresh) == 20 and not fresh & seen
    submit(peserta, second)
    page = peserta.get(f"/ujian/{second}/hasil").get_data(as_text=True)
    assert "Coba lagi" not in page and page.count("Sumber:") == 20
    # No attempt left: the first attempt's key is open now, too.
    assert peserta.get(f"/ujian/{first}/hasil").get_data(as_text=True).count("Sumber:") == 20


def test_no_retry_after_full_marks(app, peserta, demo):
    pre = start(peserta, demo["pre"])
    submit(peserta, pre)
    ready_for_post(app)
    post = start(peserta, demo["post"])
    answer_some(peserta, app, post, right=20)
    submit(peserta, post)
    page = peserta.get(f"/ujian/{post}/hasil").get_data(as_text=True)
    assert 'data-testid="score">100<' in page and "Lulus" in page
    assert "Coba lagi" not in page
    assert page.count("Sumber:") == 20  # passed: no attempt to protect, the key is shown
    assert "Anda sudah lulus post-test ini." in refused_start(peserta, demo["post"])
    assert attempt_count(app) == 2


@pytest.fixture
def small_course(app, demo, make_peserta):
    """One module for PPS, a pre-test and a post-test of 9 questions each, and two
    participants. "bank": the module's questions; "form_a"/"form_b": the sizes of its halves."""
    with app.app_context():
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        module = db.session.scalars(select(Module).where(Module.slug == MODULE_SLUGS[0])).one()
        course = learning.save_course(
            None, title="Kelas kecil", description="", audience=["PPS"], hours_jp=2,
            module_ids=[module.id], active=True, actor=admin,
        )  # fmt: skip
        course.posttest_after_modules = False
        quizzes = {}
        for kind in ("pre", "post"):
            quizzes[kind] = quiz_service.save_quiz(
                course, None,
                quiz_service.QuizSettings(kind=kind, title=f"Tes {kind}", draw_count=9),
                admin,
            ).id  # fmt: skip
        db.session.commit()
        bank = db.session.scalar(
            select(func.count())
            .select_from(Question)
            .where(Question.module_id == module.id, Question.retired.is_(False))
        )
        ids = {"course": course.id, **quizzes, "bank": bank}
        ids["form_a"], ids["form_b"] = (bank + 1) // 2, bank // 2
    ids["people"] = [make_peserta(nama=f"Peserta {i}") for i in range(2)]
    return ids


def take(app, user_id, quiz_id) -> set[int]:
    """Start and submit an attempt in the service; the question versions served."""
    with app.app_context():
        user = db.session.get(User, user_id)
        attempt = quiz_service.start_attempt(db.session.get(Quiz, quiz_id), user)
        quiz_service.finish_attempt(attempt)
        db.session.commit()
        return question_ids(app, attempt.id)


def set_quiz(app, quiz_id, **values):
    with app.app_context():
        quiz = db.session.get(Quiz, quiz_id)
        for name, value in values.items():
            setattr(quiz, name, value)
        db.session.commit()


def test_pre_and_post_are_parallel_forms(app, client, auth, small_course):
    form_a, form_b = small_course["form_a"], small_course["form_b"]
    set_quiz(app, small_course["pre"], draw_count=form_a)  # each test draws its whole form
    set_quiz(app, small_course["post"], draw_count=form_b)
    pre_a, post_a = (take(app, small_course["people"][0], small_course[k]) for k in ("pre", "post"))
    pre_b, post_b = (take(app, small_course["people"][1], small_course[k]) for k in ("pre", "post"))
    # Form A and form B: the same halves for everyone, sharing nothing.
    assert (len(pre_a), len(post_a)) == (form_a, form_b)
    assert pre_a == pre_b and post_a == post_b and not pre_a & post_a
    auth.login("admin", "demo-admin-2029")
    settings = client.get(f"/admin/kuis/{small_course['post']}/ubah").get_data(as_text=True)
    assert "Bentuk paralel: pre-test dan post-test tidak berbagi soal." in settings
    assert f"berisi {form_b} dari {small_course['bank']} soal; diundi {form_b}" in settings


def test_a_bank_too_small_for_two_forms_falls_back_and_says_so(app, client, auth, small_course):
    form_a, form_b = small_course["form_a"], small_course["form_b"]
    set_quiz(app, small_course["pre"], draw_count=form_a)  # the pre-test takes all of form A
    set_quiz(app, small_course["post"], draw_count=form_b + 3)
    auth.login("admin", "demo-admin-2029")
    settings = client.get(f"/admin/kuis/{small_course['post']}/ubah").get_data(as_text=True)
    assert "Bank soal terlalu kecil untuk bentuk paralel" in settings
    assert f"hanya berisi {form_b} soal, kurang dari {form_b + 3} soal yang diundi" in settings
    listing = client.get(f"/admin/kursus/{small_course['course']}/kuis").get_data(as_text=True)
    assert "Bank soal terlalu kecil untuk bentuk paralel" in listing
    # A new quiz offers the key-after-the-last-attempt policy by default.
    new = client.get(f"/admin/kursus/{small_course['course']}/kuis/baru").get_data(as_text=True)
    assert '<option selected value="after_last">' in new
    person = small_course["people"][0]
    pre = take(app, person, small_course["pre"])
    post = take(app, person, small_course["post"])
    # A full post-test, not a short one: all of form B and 3 questions it shares with the pre.
    assert len(post) == form_b + 3 and len(post & pre) == 3


def test_overlap_is_allowed_when_parallel_forms_are_off(app, client, auth, small_course):
    with app.app_context():
        db.session.get(Course, small_course["course"]).parallel_forms = False
        db.session.commit()
    bank = small_course["bank"]
    set_quiz(app, small_course["pre"], draw_count=bank)
    set_quiz(app, small_course["post"], draw_count=bank)
    person = small_course["people"][0]
    pre = take(app, person, small_course["pre"])
    post = take(app, person, small_course["post"])
    assert len(pre) == len(post) == bank and pre == post  # the whole bank, twice
    auth.login("admin", "demo-admin-2029")
    settings = client.get(f"/admin/kuis/{small_course['post']}/ubah").get_data(as_text=True)
    assert "Bentuk paralel tidak dipakai" in settings


def graded(user_id, quiz_id, score, passed=None):
    db.session.add(
        Attempt(quiz_id=quiz_id, user_id=user_id, seed=1, status="submitted",
                submitted_at=utcnow(), score=score, passed=score >= 70 if passed is None else passed)
    )  # fmt: skip


def test_n_gain_is_over_paired_participants(app, client, auth, demo, make_peserta):
    """Unpaired, these three would read 25,0 → 80,0 (pre of A and C, post of B and C); paired,
    only C counts: 40,0 → 70,0, N-gain 0,50, n = 1."""
    only_pre = make_peserta(nama="Hanya Pre")
    only_post = make_peserta(nama="Hanya Post")
    both = make_peserta(nama="Keduanya")
    with app.app_context():
        graded(only_pre, demo["pre"], 10.0)
        graded(only_post, demo["post"], 90.0)
        graded(both, demo["pre"], 40.0)
        graded(both, demo["post"], 70.0)
        db.session.commit()
    auth.login("admin", "demo-admin-2029")
    expected = "40,0 → 70,0; N-gain 0,50 (sedang) · n = 1 berpasangan"
    dashboard = client.get("/laporan?kursus=1").get_data(as_text=True)
    assert expected in dashboard and "25,0" not in dashboard and "80,0" not in dashboard
    kecamatan = client.get("/laporan/1/kecamatan/73.22.01").get_data(as_text=True)
    assert expected in kecamatan
    analysis = client.get(f"/admin/kuis/{demo['post']}/analisis").get_data(as_text=True)
    assert "n berpasangan" in analysis and "25,0" not in analysis

    response = client.get("/laporan/1/rekap.xlsx")
    assert response.status_code == 200
    summary = load_workbook(io.BytesIO(response.data))["Ringkasan"]
    rows = list(summary.iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if r[0] == "No")
    col = {name: i for i, name in enumerate(rows[header_at])}
    malangke = next(r for r in rows[header_at + 1 :] if r[1] == "Malangke")
    assert malangke[col["n berpasangan (pre dan post)"]] == 1
    assert malangke[col["Rata-rata pre (berpasangan)"]] == 40
    assert malangke[col["Rata-rata post (berpasangan)"]] == 70
    assert malangke[col["Rata-rata N-gain (berpasangan)"]] == pytest.approx(0.5)
    # The pass rate still counts every post-test taker (both passed).
    assert malangke[col["Lulus post-test"]] == 1
