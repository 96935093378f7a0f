"""Sessions, phone check-in, manual marking and the daftar hadir; on SQLite and PostgreSQL."""

import io
import re
from datetime import datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bimtek.accounts.models import User
from bimtek.attendance import codes, queries, service
from bimtek.attendance.models import Attendance, AttendanceChange, SessionInvite, TrainingSession
from bimtek.extensions import db
from bimtek.timeutil import utcnow
from tests.conftest import csrf_token, twin

PASSWORD = "awal-rahasia-1"
PERIOD = 45


@pytest.fixture
def people(make_peserta, make_staff):
    return {
        "pps": make_peserta("Sitti Aminah", badan="PPS"),
        "pps2": make_peserta("Budi Santoso", badan="PPS"),
        "ppk": make_peserta("Andi Ketua", badan="PPK", jabatan="Ketua", desa=None),
        # another kecamatan (Masamba 73.22.03) — outside a Malangke-only session
        "luar": make_peserta("Orang Luar", badan="PPS", kecamatan="73.22.03", desa="73.22.03.1001"),
        "pelatih": make_staff("pelatih", "pelatih1", "rahasia-pelatih-1"),
        "pelatih2": make_staff("pelatih", "pelatih2", "rahasia-pelatih-2"),
    }


@pytest.fixture
def make_session(app, course_id, people):
    def make(start_offset=timedelta(minutes=-5), hours=3, late=15, badan=("PPS",), **extra):
        with app.app_context():
            admin = db.session.scalars(select(User).where(User.username == "admin1")).one()
            start = utcnow() + start_offset
            session = service.save_session(
                None,
                service.SessionData(
                    course_id=course_id,
                    title=extra.pop("title", "Hari 1 Kecamatan Malangke"),
                    venue="Aula Kantor Camat",
                    starts_at=start,
                    ends_at=start + timedelta(hours=hours),
                    late_after_minutes=late,
                    invite_badan=list(badan),
                    invite_kecamatan=extra.pop("kecamatan", ["73.22.01"]),
                    trainer_ids=[people["pelatih"]],
                    **extra,
                ),
                admin,
            )
            db.session.commit()
            return session.id

    return make


def code_now(app, session_id, at=None):
    with app.app_context():
        s = db.session.get(TrainingSession, session_id)
        return codes.code_for(s.secret, s.id, codes.window_of(at or utcnow(), PERIOD))


def code_of(session, at=None):
    """The code the projector shows now, inside an app context that already holds the session."""
    return codes.code_for(session.secret, session.id, codes.window_of(at or utcnow(), PERIOD))


def nik_of(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).nik


def records(app, session_id):
    with app.app_context():
        return {
            a.user_id: a
            for a in db.session.scalars(
                select(Attendance).where(Attendance.session_id == session_id)
            )
        }


def login_peserta(app, client, auth, people, who="pps"):
    response = auth.login(nik_of(app, people[who]), PASSWORD)
    assert response.status_code == 302
    return client


def checkin(post_form, client, session_id, code, via=""):
    return post_form(
        client,
        "/hadir",
        {"kode": code, "session_id": str(session_id), "via": via},
        form_page=f"/hadir?s={session_id}",
    )


# ---- setting up --------------------------------------------------------------------------


def test_admin_creates_a_session_and_the_rule_invites_the_right_people(
    app, client, auth, post_form, course_id, people
):
    auth.login("admin1", "rahasia-admin-1")
    response = post_form(
        client,
        "/sesi/baru",
        {
            "course_id": str(course_id),
            "title": "Hari 1",
            "venue": "Aula",
            "starts_at": "2026-12-01T08:00",
            "ends_at": "2026-12-01T16:00",
            "late_after_minutes": "15",
            "checkin_opens_minutes": "60",
            "invite_badan": ["PPS"],
            "invite_kecamatan": ["73.22.01"],
            "trainers": [str(people["pelatih"])],
            "invite_niks": nik_of(app, people["ppk"]),
        },
    )
    assert response.status_code == 302
    with app.app_context():
        session = db.session.scalars(select(TrainingSession)).one()
        # Luwu Utara (Sulawesi Selatan) keeps WITA: 08:00 WITA is 00:00 UTC
        assert session.starts_at.replace(tzinfo=None) == datetime(2026, 12, 1, 0, 0)
        invited = set(
            db.session.scalars(
                select(SessionInvite.user_id).where(SessionInvite.session_id == session.id)
            )
        )
    assert invited == {people["pps"], people["pps2"], people["ppk"]}  # not "luar"
    page = client.get(f"/sesi/{session.id}").get_data(as_text=True)
    assert "Sitti Aminah" in page and "Andi Ketua" in page and "Orang Luar" not in page


def test_session_form_refuses_an_end_before_the_start_and_unknown_niks(
    app, client, auth, post_form, course_id, people
):
    auth.login("admin1", "rahasia-admin-1")
    base = {
        "course_id": str(course_id),
        "title": "Hari 1",
        "venue": "Aula",
        "starts_at": "2026-12-01T08:00",
        "ends_at": "2026-12-01T07:00",
        "late_after_minutes": "15",
        "checkin_opens_minutes": "60",
    }
    page = post_form(client, "/sesi/baru", base).get_data(as_text=True)
    assert "Waktu selesai harus setelah waktu mulai." in page
    page = post_form(
        client,
        "/sesi/baru",
        {**base, "ends_at": "2026-12-01T16:00", "invite_niks": "9999999999999999\n12345"},
    ).get_data(as_text=True)
    assert "Baris 2: NIK harus 16 angka." in page
    page = post_form(
        client, "/sesi/baru", {**base, "ends_at": "2026-12-01T16:00", "invite_niks": "9" * 16}
    ).get_data(as_text=True)
    assert "tidak terdaftar sebagai peserta" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TrainingSession)) == 0


def test_only_the_sessions_trainers_and_admins_reach_it(app, client, auth, make_session, people):
    session_id = make_session()
    paths = [
        f"/sesi/{session_id}/proyektor",
        f"/sesi/{session_id}/daftar-hadir",
        f"/sesi/{session_id}/daftar-hadir.xlsx",
        f"/sesi/{session_id}/ubah",
    ]
    auth.login("pelatih2", "rahasia-pelatih-2")  # a trainer, but not of this session
    assert client.get(f"/sesi/{session_id}").status_code == 404
    for path in paths:
        assert client.get(path).status_code == 404, path
    assert "Hari 1" not in client.get("/sesi").get_data(as_text=True)
    auth.logout()
    auth.login("pelatih1", "rahasia-pelatih-1")
    for path in paths:
        assert client.get(path).status_code == 200, path
    auth.logout()
    login_peserta(app, client, auth, people, "pps")
    for path in paths:
        assert client.get(path).status_code == 403, path
    # the participant's own view of the session is the check-in page
    assert client.get(f"/sesi/{session_id}").status_code == 302
    auth.logout()
    login_peserta(app, client, auth, people, "luar")
    assert client.get(f"/sesi/{session_id}").status_code == 404


# ---- check-in ----------------------------------------------------------------------------


def test_check_in_with_the_projector_code_then_again_is_idempotent(
    app, client, auth, post_form, make_session, people
):
    session_id = make_session()
    auth.login("pelatih1", "rahasia-pelatih-1")
    projector = client.get(f"/sesi/{session_id}/proyektor").get_data(as_text=True)
    shown = re.search(r'id="kode"[^>]*>(\d{3}) (\d{3})<', projector)
    assert shown, "the projector shows the code"
    assert '<meta http-equiv="refresh"' in projector and "<svg" in projector
    auth.logout()
    login_peserta(app, client, auth, people)
    response = checkin(post_form, client, session_id, shown.group(1) + " " + shown.group(2))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    # the confirmation once (no second flash saying the same), and no empty code form
    assert "Terima kasih, Anda tercatat <strong>hadir</strong>" in page
    assert page.count("tercatat") == 1 and 'name="kode"' not in page
    again = checkin(post_form, client, session_id, code_now(app, session_id))
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert page.count("tercatat") == 1 and 'name="kode"' not in page
    # "Presensi" from the menu (no session in the address) also shows the confirmation
    page = client.get("/hadir").get_data(as_text=True)
    assert "Anda tercatat <strong>hadir</strong>" in page and 'name="kode"' not in page
    rows = records(app, session_id)
    assert list(rows) == [people["pps"]]
    assert rows[people["pps"]].status == "hadir" and rows[people["pps"]].method == "kode"
    assert rows[people["pps"]].device_id and rows[people["pps"]].ip == "127.0.0.1"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AttendanceChange)) == 1
    # the participant's sessions page shows it
    assert "Hadir" in client.get("/sesi").get_data(as_text=True)


def test_late_check_in_is_terlambat(app, client, auth, post_form, make_session, people):
    session_id = make_session(start_offset=timedelta(minutes=-40), late=15)
    login_peserta(app, client, auth, people)
    checkin(post_form, client, session_id, code_now(app, session_id))
    assert records(app, session_id)[people["pps"]].status == "terlambat"


def test_previous_code_is_accepted_a_stale_or_foreign_one_is_not(
    app, client, auth, post_form, make_session, people
):
    session_id = make_session()
    other_id = make_session(title="Sesi lain")
    login_peserta(app, client, auth, people)
    stale = code_now(app, session_id, utcnow() - timedelta(seconds=3 * PERIOD))
    current = code_now(app, session_id)
    if stale != current:
        response = checkin(post_form, client, session_id, stale)
        assert response.status_code == 409
        assert "Kode salah atau sudah berganti" in response.get_data(as_text=True)
    foreign = code_now(app, other_id)
    if foreign != current:
        assert checkin(post_form, client, session_id, foreign).status_code == 409
    junk = checkin(post_form, client, session_id, "12ab56")
    assert "6 angka" in junk.get_data(as_text=True)
    assert records(app, session_id) == {}
    previous = code_now(app, session_id, utcnow() - timedelta(seconds=PERIOD))
    assert checkin(post_form, client, session_id, previous).status_code == 302
    assert records(app, session_id)[people["pps"]].status == "hadir"


def test_outside_the_window_and_uninvited_are_refused(
    app, client, auth, post_form, make_session, people
):
    ended = make_session(start_offset=timedelta(hours=-5), hours=2, title="Kemarin")
    later = make_session(start_offset=timedelta(hours=5), title="Nanti")
    now_id = make_session(title="Sekarang")
    login_peserta(app, client, auth, people)
    response = checkin(post_form, client, ended, code_now(app, ended))
    assert "Sesi ini sudah berakhir" in response.get_data(as_text=True)
    response = checkin(post_form, client, later, code_now(app, later))
    assert "belum dibuka" in response.get_data(as_text=True)
    auth.logout()
    login_peserta(app, client, auth, people, "luar")
    response = checkin(post_form, client, now_id, code_now(app, now_id))
    assert response.status_code == 409
    assert "tidak terdaftar sebagai peserta sesi ini" in response.get_data(as_text=True)
    auth.logout()
    auth.login("pelatih1", "rahasia-pelatih-1")
    response = post_form(
        client, "/hadir", {"kode": code_now(app, now_id)}, form_page=f"/sesi/{now_id}"
    )
    assert response.status_code == 403
    for sid in (ended, later, now_id):
        assert records(app, sid) == {}


def test_code_without_a_session_finds_the_open_session(
    app, client, auth, post_form, make_session, people
):
    session_id = make_session()
    login_peserta(app, client, auth, people)
    response = post_form(client, "/hadir", {"kode": code_now(app, session_id)})
    assert response.status_code == 302
    assert people["pps"] in records(app, session_id)


def test_participant_imported_after_the_session_can_still_check_in(
    app, client, auth, post_form, make_session, make_peserta
):
    session_id = make_session()
    late_id = make_peserta("Baru Diimpor", badan="PPS")
    auth.login(nik_of(app, late_id), PASSWORD)
    assert checkin(post_form, client, session_id, code_now(app, session_id)).status_code == 302
    assert records(app, session_id)[late_id].status == "hadir"


def test_qr_scan_while_signed_out_comes_back_to_the_check_in(
    app, client, auth, post_form, make_session, make_peserta
):
    session_id = make_session()
    user_id = make_peserta("Baru Sekali", badan="PPS", must_change=True)
    code = code_now(app, session_id)
    qr_path = f"/hadir?s={session_id}&kode={code}"
    response = client.get(qr_path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login_url = response.headers["Location"]
    assert parse_qs(urlsplit(login_url).query)["next"][0] == qr_path
    response = post_form(
        client,
        login_url,
        {"username": nik_of(app, user_id), "password": PASSWORD},
        form_page="/login",
    )
    # first sign-in: change the password, then back to the check-in from the QR
    change_page = response.headers["Location"]
    assert change_page.startswith("/akun/kata-sandi?next=")
    response = post_form(
        client,
        change_page,
        {
            "current_password": PASSWORD,
            "new_password": "sandi-baru-ku-77",
            "confirm": "sandi-baru-ku-77",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/hadir?s=")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'value="{code}"' in page and 'name="via" type="hidden" value="qr"' in page
    checkin(post_form, client, session_id, code_now(app, session_id), via="qr")
    assert records(app, session_id)[user_id].method == "qr"


def test_two_simultaneous_check_ins_leave_one_record(
    app, client, auth, post_form, make_session, people, at_once
):
    session_id = make_session()
    login_peserta(app, client, auth, people)
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"',
        client.get(f"/hadir?s={session_id}").get_data(as_text=True),
    ).group(1)
    other = twin(app, client)  # after the token exists in the session cookie
    code = code_now(app, session_id)
    data = {"csrf_token": token, "kode": code, "session_id": str(session_id)}
    results = at_once(
        lambda: client.post("/hadir", data=data), lambda: other.post("/hadir", data=data)
    )
    assert [r.status_code for r in results] == [302, 302]
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Attendance)
                .where(Attendance.session_id == session_id)
            )
            == 1
        )
        assert db.session.scalar(select(func.count()).select_from(AttendanceChange)) == 1


def test_many_participants_check_in_at_once(app, make_session, make_peserta, at_once):
    session_id = make_session()
    ids = [make_peserta(f"Peserta {i}", badan="PPS") for i in range(6)]

    def one(user_id):
        def run():
            with app.app_context():
                session = db.session.get(TrainingSession, session_id)
                user = db.session.get(User, user_id)
                code = codes.code_for(session.secret, session.id, codes.window_of(utcnow(), PERIOD))
                result = service.check_in(
                    session, user, code, utcnow(), PERIOD, service.Origin(device_id=f"d{user_id}")
                )
                db.session.commit()
                return result.created

        return run

    assert at_once(*[one(i) for i in ids]) == [True] * 6
    assert set(records(app, session_id)) == set(ids)


def test_one_phone_checking_in_several_accounts_is_flagged(
    app, client, auth, post_form, make_session, people
):
    session_id = make_session()
    for who in ("pps", "pps2"):
        login_peserta(app, client, auth, people, who)  # same client: same device cookie
        checkin(post_form, client, session_id, code_now(app, session_id))
        auth.logout()
    assert len(set(r.device_id for r in records(app, session_id).values())) == 1
    auth.login("pelatih1", "rahasia-pelatih-1")
    page = client.get(f"/sesi/{session_id}").get_data(as_text=True)
    assert "Satu perangkat dipakai presensi 2 akun." in page


def test_check_in_long_after_the_projector_closed_is_flagged(app, make_session, people):
    session_id = make_session()
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        service.record_code_shown(session, utcnow() - timedelta(minutes=20))
        db.session.commit()
        user = db.session.get(User, people["pps"])
        session = db.session.get(TrainingSession, session_id)
        service.check_in(
            session,
            user,
            code_of(session),
            utcnow(),
            PERIOD,
            service.Origin(device_id="x"),
        )
        db.session.commit()
        found = queries.anomalies(db.session.get(TrainingSession, session_id), PERIOD)
    assert [a.kind for a in found] == ["after_code_closed"]
    assert [u.id for u in found[0].users] == [people["pps"]]


# ---- manual marking ----------------------------------------------------------------------


def test_trainer_marks_in_bulk_with_reasons_and_every_change_is_kept(
    app, client, auth, post_form, make_session, people
):
    session_id = make_session()
    auth.login("pelatih1", "rahasia-pelatih-1")
    page = f"/sesi/{session_id}"
    both = [str(people["pps"]), str(people["pps2"])]
    response = post_form(
        client, f"{page}/tandai", {"user_ids": both, "status": "izin"}, form_page=page
    )
    assert "Tuliskan alasan untuk status Izin" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert records(app, session_id) == {}
    post_form(
        client,
        f"{page}/tandai",
        {"user_ids": both, "status": "izin", "reason": "Rapat pleno desa"},
        form_page=page,
    )
    post_form(client, f"{page}/tandai", {"user_ids": [both[0]], "status": "hadir"}, form_page=page)
    rows = records(app, session_id)
    assert rows[people["pps"]].status == "hadir" and rows[people["pps"]].method == "manual"
    assert rows[people["pps"]].checked_in_at is not None
    assert (
        rows[people["pps2"]].status == "izin" and rows[people["pps2"]].reason == "Rapat pleno desa"
    )
    # someone not invited cannot be marked
    response = post_form(
        client,
        f"{page}/tandai",
        {"user_ids": [str(people["luar"])], "status": "hadir"},
        form_page=page,
    )
    assert "tidak diundang" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        history = [
            (c.user_id, c.old_status, c.new_status, c.reason, c.actor_id)
            for c in db.session.scalars(select(AttendanceChange).order_by(AttendanceChange.id))
        ]
    assert history == [
        (people["pps"], None, "izin", "Rapat pleno desa", people["pelatih"]),
        (people["pps2"], None, "izin", "Rapat pleno desa", people["pelatih"]),
        (people["pps"], "izin", "hadir", None, people["pelatih"]),
    ]
    text = client.get(page).get_data(as_text=True)
    assert "Izin → Hadir" in text and "Rapat pleno desa" in text


def test_a_real_check_in_overrides_an_earlier_alpa(app, make_session, people):
    session_id = make_session()
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        trainer = db.session.get(User, people["pelatih"])
        service.mark(session, trainer, [people["pps"]], "alpa", None, utcnow())
        db.session.commit()
        result = service.check_in(
            session, db.session.get(User, people["pps"]), code_of(session), utcnow(),
            PERIOD, service.Origin(),
        )  # fmt: skip
        db.session.commit()
        assert result.created and result.attendance.status == "hadir"


def test_participant_cannot_mark(app, client, auth, post_form, make_session, people):
    session_id = make_session()
    login_peserta(app, client, auth, people)
    response = post_form(
        client,
        f"/sesi/{session_id}/tandai",
        {"user_ids": [str(people["pps"])], "status": "hadir"},
        form_page="/sesi",
    )
    assert response.status_code == 403
    assert records(app, session_id) == {}


# ---- daftar hadir and exports ------------------------------------------------------------


def test_daftar_hadir_xlsx_reads_back_with_header_table_and_filter(
    app, client, auth, post_form, make_session, make_peserta, people
):
    app.config["BIMTEK_OFFICE_NAME"] = "KPU Kabupaten Luwu Utara"
    tricky = make_peserta('=HYPERLINK("http://x","klik")', badan="PPS")
    session_id = make_session(kecamatan=[])
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        service.check_in(
            session, db.session.get(User, people["pps"]), code_of(session), utcnow(),
            PERIOD, service.Origin(),
        )  # fmt: skip
        db.session.commit()
    auth.login("pelatih1", "rahasia-pelatih-1")
    response = client.get(f"/sesi/{session_id}/daftar-hadir.xlsx")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(response.data)).active
    cells = [[c.value for c in row] for row in ws.iter_rows()]
    header_text = " ".join(str(r[0]) for r in cells[:8])
    for expected in (
        "DAFTAR HADIR",
        "KPU Kabupaten Luwu Utara",
        "Hari 1 Kecamatan Malangke",
        "Aula Kantor Camat",
    ):
        assert expected in header_text
    top = next(i for i, r in enumerate(cells) if r[0] == "No")
    assert cells[top] == [
        "No",
        "Nama",
        "Jabatan",
        "Badan",
        "Asal (desa/kecamatan)",
        "Waktu hadir",
        "Status",
        "Tanda tangan",
    ]
    body = cells[top + 1 :]
    names = [r[1] for r in body]
    assert "Orang Luar" in names and "Sitti Aminah" in names and "Andi Ketua" not in names
    sitti = body[names.index("Sitti Aminah")]
    assert sitti[6] == "Hadir" and isinstance(sitti[5], datetime) and sitti[7] is None
    assert "Kec. Malangke" in sitti[4]
    tricky_row = next(row for row in ws.iter_rows(min_row=top + 2) if row[1].value.startswith("="))
    assert tricky_row[1].data_type == "s"  # text, not a formula
    assert all(people_nik not in str(cells) for people_nik in [nik_of(app, people["pps"])])
    filtered = load_workbook(
        io.BytesIO(client.get(f"/sesi/{session_id}/daftar-hadir.xlsx?kecamatan=73.22.03").data)
    ).active
    names = [row[1].value for row in filtered.iter_rows(min_row=top + 3)]
    assert names == ["Orang Luar"]
    assert client.get(f"/sesi/{session_id}/daftar-hadir.xlsx?kecamatan=99.99.99").status_code == 404
    page = client.get(f"/sesi/{session_id}/daftar-hadir?kecamatan=73.22.03").get_data(as_text=True)
    assert "Tanda tangan" in page and "Orang Luar" in page and "Sitti Aminah" not in page
    assert tricky and "HYPERLINK" in client.get(f"/sesi/{session_id}/daftar-hadir").get_data(
        as_text=True
    )


def test_attendance_export_has_one_typed_row_per_participant_per_session(
    app, client, auth, make_session, people, course_id
):
    first = make_session(title="Hari 1")
    make_session(title="Hari 2", start_offset=timedelta(days=1))
    with app.app_context():
        session = db.session.get(TrainingSession, first)
        trainer = db.session.get(User, people["pelatih"])
        service.mark(session, trainer, [people["pps"]], "sakit", "Demam", utcnow())
        db.session.commit()
    auth.login("admin1", "rahasia-admin-1")
    response = client.get(f"/sesi/kehadiran.xlsx?kursus={course_id}")
    ws = load_workbook(io.BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:8] == (
        "Sesi",
        "Kursus",
        "Tanggal",
        "Mulai",
        "Selesai",
        "Durasi (menit)",
        "Nama",
        "NIK",
    )
    body = rows[1:]
    assert len(body) == 4  # two invitees × two sessions
    sakit = next(r for r in body if r[0] == "Hari 1" and r[6] == "Sitti Aminah")
    assert sakit[12] == "Sakit" and sakit[15] == "Demam"
    assert isinstance(sakit[2], datetime) and isinstance(sakit[3], time | datetime)
    assert sakit[5] == 180
    assert sakit[7] == nik_of(app, people["pps"])  # the NIK as text, all 16 digits
    nik_cell = next(c for c in ws["H"][1:] if c.value == sakit[7])
    assert nik_cell.data_type == "s"


def test_attendance_rate_per_course(app, make_session, people, course_id):
    first = make_session(title="Hari 1", start_offset=timedelta(hours=-2))
    make_session(title="Hari 2", start_offset=timedelta(minutes=-1))
    make_session(title="Besok", start_offset=timedelta(days=1))  # not yet held: not counted
    with app.app_context():
        trainer = db.session.get(User, people["pelatih"])
        s1 = db.session.get(TrainingSession, first)
        service.mark(s1, trainer, [people["pps"]], "hadir", None, utcnow())
        service.mark(s1, trainer, [people["pps2"]], "izin", "Tugas", utcnow())
        db.session.commit()
        rates = queries.attendance_rates(course_id)
    assert rates[people["pps"]] == 0.5
    assert rates[people["pps2"]] == 0.0
    assert people["ppk"] not in rates and people["luar"] not in rates


def test_a_session_with_records_cannot_be_deleted(
    app, client, auth, post_form, make_session, people
):
    session_id = make_session()
    with app.app_context():
        service.mark(
            db.session.get(TrainingSession, session_id), db.session.get(User, people["pelatih"]),
            [people["pps"]], "hadir", None, utcnow(),
        )  # fmt: skip
        db.session.commit()
    auth.login("admin1", "rahasia-admin-1")
    response = post_form(client, f"/sesi/{session_id}/hapus", {}, form_page=f"/sesi/{session_id}")
    assert "tidak dapat dihapus" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(TrainingSession, session_id) is not None


def test_refreshing_invitations_picks_up_later_imports(
    app, client, auth, post_form, make_session, make_peserta
):
    session_id = make_session()
    make_peserta("Diimpor Belakangan", badan="PPS")
    auth.login("admin1", "rahasia-admin-1")
    page = f"/sesi/{session_id}"
    response = post_form(client, f"{page}/undangan", {}, form_page=page)
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 ditambahkan, 0 dikeluarkan" in text and "Diimpor Belakangan" in text


def test_guessing_codes_is_rate_limited_per_participant(
    app, client, auth, post_form, make_session, people
):
    session_id = make_session()
    login_peserta(app, client, auth, people)
    right = code_now(app, session_id)
    wrong = [f"{n:06d}" for n in range(100) if f"{n:06d}" != right][:10]
    statuses = [checkin(post_form, client, session_id, code).status_code for code in wrong]
    assert statuses == [409] * 10
    response = checkin(post_form, client, session_id, right)
    assert response.status_code == 429
    assert records(app, session_id) == {}


class _Forgetful(dict):
    """A process that never keeps which account a session token belongs to."""

    def __setitem__(self, key, value):
        pass


def test_the_guess_limit_is_the_account_s_whichever_way_its_id_is_found(
    app, client, auth, post_form, make_session, people, monkeypatch
):
    """A hall's check-in takes the rate limit's key from the session token this process has
    seen; a process that has not seen it (another worker, a restart) loads the account. Both
    count the same account's wrong codes together."""
    from bimtek import web

    session_id = make_session()
    login_peserta(app, client, auth, people)
    right = code_now(app, session_id)
    wrong = [f"{n:06d}" for n in range(100) if f"{n:06d}" != right][:10]
    statuses = []
    remembering = web._TOKEN_ACCOUNTS
    for index, code in enumerate(wrong):
        # Every other try as a worker that never saw this account.
        monkeypatch.setattr(web, "_TOKEN_ACCOUNTS", _Forgetful() if index % 2 else remembering)
        statuses.append(
            client.post(
                "/hadir",
                data={
                    "csrf_token": csrf_token(client, "/"),
                    "kode": code,
                    "session_id": str(session_id),
                },
            ).status_code  # fmt: skip
        )
    assert statuses == [409] * 10
    response = checkin(post_form, client, session_id, right)
    assert response.status_code == 429
    assert records(app, session_id) == {}


@pytest.mark.parametrize(
    "case",
    ["signed out", "deactivated", "password to change", "staff", "on the rule, not the list",
     "course issues certificates at once", "no such session"],
)  # fmt: skip
def test_a_check_in_by_token_leaves_every_other_case_to_the_general_path(
    app, make_session, people, case
):
    """check_in_for_token handles a listed participant's code; anything else is None (nothing
    written), for the view's general path to answer as it always has."""
    from types import SimpleNamespace

    from bimtek.learning.models import Course

    session_id = make_session()
    code = code_now(app, session_id)
    who = people["pps"]
    with app.app_context():
        if case == "on the rule, not the list":
            who = people["pps2"]
            db.session.execute(SessionInvite.__table__.delete().where(SessionInvite.user_id == who))
        user = db.session.get(User, who)
        token = user.session_token
        if case == "signed out":
            token = "x" * 43
        elif case == "deactivated":
            user.active = False
        elif case == "password to change":
            user.must_change_password = True
        elif case == "staff":
            user.role = "pelatih"
        elif case == "course issues certificates at once":
            session = db.session.get(TrainingSession, session_id)
            db.session.get(Course, session.course_id).auto_issue = True
        elif case == "no such session":
            session_id += 1000
        db.session.commit()
        found = service.check_in_for_token(
            token, session_id, code, utcnow(), PERIOD, SimpleNamespace(ip=None, device_id=None,
                                                                      user_agent=None)
        )  # fmt: skip
        assert found is None
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0


def test_a_check_in_by_token_records_a_listed_participant(app, make_session, people):
    from types import SimpleNamespace

    session_id = make_session()
    code = code_now(app, session_id)
    origin = SimpleNamespace(ip="10.0.0.7", device_id="hp-1", user_agent="Android")
    with app.app_context():
        token = db.session.get(User, people["pps"]).session_token
        db.session.commit()
        with pytest.raises(service.AttendanceError, match="6 angka"):
            service.check_in_for_token(token, session_id, "12ab", utcnow(), PERIOD, origin)
        db.session.rollback()
        found = service.check_in_for_token(token, session_id, code, utcnow(), PERIOD, origin)
        assert found is not None and found.created
        db.session.commit()
        again = service.check_in_for_token(token, session_id, code, utcnow(), PERIOD, origin)
        assert again is not None and not again.created  # already present: nothing written
        db.session.commit()
    (row,) = records(app, session_id).values()
    assert (row.user_id, row.status, row.method, row.ip) == (people["pps"], "hadir", "kode",
                                                            "10.0.0.7")  # fmt: skip
