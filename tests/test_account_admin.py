"""The office helps a participant: edit, reset a forgotten password, deactivate, reactivate,
lift a sign-in lock (web and `bimtek user ...`), each audited; on SQLite and PostgreSQL."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from bimtek.accounts import service
from bimtek.accounts.models import AuditLog, User
from bimtek.attendance.models import Attendance, SessionInvite
from bimtek.extensions import db
from bimtek.timeutil import utcnow

NIK = "7322014107900101"
NEW_NIK = "7322014107900199"
PASSWORD = "awal-rahasia-1"
EDIT = {
    "nama": "Sitti Aminah",
    "nik": NIK,
    "badan": "PPS",
    "jabatan": "Anggota",
    "kecamatan_kode": "73.22.01",
    "desa_kode": "73.22.01.2001",
    "phone": "",
}


@pytest.fixture
def admin_id(make_staff):
    return make_staff("admin", "operator", "rahasia-operator-1")


@pytest.fixture
def peserta(make_peserta):
    return make_peserta(nama="Sitti Aminah", nik=NIK, password=PASSWORD)


@pytest.fixture
def office(app, admin_id, post_form):
    client = app.test_client()
    post_form(client, "/login", {"username": "operator", "password": "rahasia-operator-1"})
    return client


def _signed_in(app, post_form, login=NIK, password=PASSWORD):
    client = app.test_client()
    response = post_form(client, "/login", {"username": login, "password": password})
    assert response.status_code == 302, response.status_code
    return client


def _actions(app, user_id) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditLog.action)
                .where(AuditLog.object_type == "user", AuditLog.object_id == str(user_id))
                .order_by(AuditLog.id)
            )
        )


def _session_with(app, peserta_id, admin_id, *, ended=False, attended=False) -> int:
    """A training session inviting the participant; optionally already over / attended."""
    from bimtek.attendance import service as attendance
    from bimtek.learning.models import Module
    from bimtek.learning.service import save_course

    with app.app_context():
        admin = db.session.get(User, admin_id)
        module = db.session.scalars(select(Module).order_by(Module.id)).first()
        course = save_course(None, title="Bimtek PPS", description="", audience=["PPS"],
                             hours_jp=8, module_ids=[module.id], active=True, actor=admin)  # fmt: skip
        start = utcnow() + (timedelta(days=-2) if ended else timedelta(minutes=-5))
        session = attendance.save_session(
            None,
            attendance.SessionData(course_id=course.id, title="Hari 1", venue="Aula",
                                   starts_at=start, ends_at=start + timedelta(hours=3),
                                   invite_badan=["PPS"], invite_kecamatan=["73.22.01"]),
            admin,
        )  # fmt: skip
        if attended:
            db.session.add(
                Attendance(session_id=session.id, user_id=peserta_id, status="hadir",
                           method="manual", checked_in_at=start, marked_by_id=admin_id)
            )  # fmt: skip
        db.session.commit()
        return session.id


def _invited(app, session_id, user_id) -> bool:
    with app.app_context():
        return (
            db.session.get(SessionInvite, {"session_id": session_id, "user_id": user_id})
            is not None
        )


# ---- edit ------------------------------------------------------------------------------------


def test_a_new_nik_keeps_the_attendance_and_signs_in(app, office, peserta, admin_id, content,
                                                     post_form):  # fmt: skip
    session_id = _session_with(app, peserta, admin_id, attended=True)
    page = office.get(f"/admin/peserta/{peserta}/ubah").get_data(as_text=True)
    assert f'value="{NIK}"' in page  # the form starts from the stored data

    path = f"/admin/peserta/{peserta}/ubah"
    response = post_form(office, path, {**EDIT, "nik": NEW_NIK, "jabatan": "Ketua"})
    assert response.status_code == 302
    assert "Data peserta disimpan." in office.get(response.headers["Location"]).get_data(
        as_text=True
    )
    with app.app_context():
        user = db.session.get(User, peserta)
        assert (user.nik, user.jabatan) == (NEW_NIK, "Ketua")
        record = db.session.scalars(
            select(Attendance).where(Attendance.session_id == session_id)
        ).one()
        assert record.user_id == peserta and record.status == "hadir"
        entry = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "peserta.update")
        ).one()
        assert set(entry.detail["fields"]) == {"nik", "jabatan"}
        assert NIK not in str(entry.detail) and NEW_NIK not in str(entry.detail)
    # The participant signs in with the new NIK; the old one is no login any more.
    assert post_form(app.test_client(), "/login", {"username": NIK, "password": PASSWORD}
                     ).status_code == 401  # fmt: skip
    _signed_in(app, post_form, NEW_NIK)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"desa_kode": "73.22.02.2002"}, "tidak berada di Kecamatan Malangke"),
        ({"nik": "7322014107900555"}, "NIK ini sudah terdaftar atas nama peserta lain."),
        ({"nik": "73220141079001"}, "NIK harus 16 digit; yang diisi 14 digit."),
        ({"jabatan": "Staf"}, "Jabatan untuk PPS: Ketua atau Anggota"),
    ],
)
def test_edit_reuses_the_participant_rules(app, office, peserta, make_peserta, post_form, change,
                                           message):  # fmt: skip
    make_peserta(nama="Orang Lain", nik="7322014107900555")
    response = post_form(office, f"/admin/peserta/{peserta}/ubah", {**EDIT, **change})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, peserta).nik == NIK
    assert "peserta.update" not in _actions(app, peserta)


def test_saving_unchanged_data_changes_nothing(app, office, peserta, post_form):
    response = post_form(office, f"/admin/peserta/{peserta}/ubah", EDIT)
    assert response.status_code == 302
    assert "peserta.update" not in _actions(app, peserta)


# ---- reset a forgotten password ---------------------------------------------------------------


def test_reset_asks_first_then_shows_a_printable_slip_once(app, office, peserta, post_form):
    phone = _signed_in(app, post_form)
    path = f"/admin/peserta/{peserta}/atur-ulang-sandi"
    confirm = office.get(path)
    assert "Atur ulang kata sandi?" in confirm.get_data(as_text=True)
    with app.app_context():  # asking changed nothing
        assert db.session.get(User, peserta).check_password(PASSWORD)

    slip = post_form(office, path, {})
    assert slip.status_code == 200
    assert slip.headers["Cache-Control"] == "no-store"
    page = slip.get_data(as_text=True)
    new_password = re.search(r'data-testid="initial-password">([^<]+)<', page).group(1)
    assert 'class="slip"' in page and "data-print" in page
    assert "css/slip-print.css" in page  # the A6 page size, on this page only
    with app.app_context():
        user = db.session.get(User, peserta)
        assert user.must_change_password
        assert new_password not in user.password_hash
        assert user.check_password(new_password) and not user.check_password(PASSWORD)
    assert _actions(app, peserta)[-1] == "user.reset_password"
    # The participant's phone was signed out; the old password is refused.
    assert phone.get("/").headers["Location"].startswith("/login")
    assert post_form(app.test_client(), "/login", {"username": NIK, "password": PASSWORD}
                     ).status_code == 401  # fmt: skip
    # The new password works and forces a change at once.
    fresh = app.test_client()
    login = post_form(fresh, "/login", {"username": NIK, "password": new_password})
    assert login.headers["Location"].endswith("/akun/kata-sandi")
    # Shown once: the participant's page never shows it again.
    detail = office.get(f"/admin/peserta/{peserta}").get_data(as_text=True)
    assert new_password not in detail
    assert "wajib ganti kata sandi" in detail


def test_the_slip_prints_on_a6(client):
    css = client.get("/static/css/slip-print.css").get_data(as_text=True)
    assert "@page { size: 105mm 148mm;" in css  # A6


# ---- deactivate and reactivate ----------------------------------------------------------------


def test_deactivate_asks_first_ends_sessions_and_withdraws_open_invitations(
    app, office, peserta, admin_id, content, post_form
):
    open_session = _session_with(app, peserta, admin_id)
    past_session = _session_with(app, peserta, admin_id, ended=True)
    assert _invited(app, open_session, peserta) and _invited(app, past_session, peserta)
    assert "Sitti Aminah" in office.get(f"/sesi/{open_session}").get_data(as_text=True)
    phone = _signed_in(app, post_form)
    path = f"/admin/peserta/{peserta}/nonaktifkan"
    assert "Nonaktifkan akun?" in office.get(path).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, peserta).active  # asking changed nothing

    response = post_form(office, path, {})
    assert response.status_code == 302
    detail = office.get(f"/admin/peserta/{peserta}").get_data(as_text=True)
    assert "dinonaktifkan" in detail and "Aktifkan kembali" in detail
    assert phone.get("/").headers["Location"].startswith("/login")
    refused = post_form(app.test_client(), "/login", {"username": NIK, "password": PASSWORD})
    assert refused.status_code == 403
    assert "Akun ini dinonaktifkan" in refused.get_data(as_text=True)
    # Not on the list for check-in any more; the finished session keeps its record.
    assert not _invited(app, open_session, peserta)
    assert _invited(app, past_session, peserta)
    roster = office.get(f"/sesi/{open_session}").get_data(as_text=True)
    assert "Sitti Aminah" not in roster

    post_form(
        office, f"/admin/peserta/{peserta}/aktifkan", {}, form_page=f"/admin/peserta/{peserta}"
    )
    _signed_in(app, post_form)
    assert _actions(app, peserta)[-2:] == ["user.deactivate", "user.reactivate"]


def test_an_admin_cannot_deactivate_themself_or_the_last_admin(app, admin_id, make_staff):
    with app.app_context():
        admin = db.session.get(User, admin_id)
        with pytest.raises(service.AccountError, match="akun Anda sendiri"):
            service.deactivate(admin, admin)
        with pytest.raises(service.AccountError, match="admin aktif terakhir"):
            service.deactivate(admin, None)
        db.session.rollback()
    other_id = make_staff("admin", "operator2", "rahasia-operator-2")
    with app.app_context():
        admin, other = db.session.get(User, admin_id), db.session.get(User, other_id)
        assert service.deactivate(admin, other) is True


def test_only_admins_reach_these_pages_and_only_for_participants(
    app, office, peserta, admin_id, make_staff, post_form
):
    make_staff("pelatih", "narasumber", "rahasia-pelatih-1")
    trainer = _signed_in(app, post_form, "narasumber", "rahasia-pelatih-1")
    for suffix in ("ubah", "atur-ulang-sandi", "nonaktifkan"):
        assert trainer.get(f"/admin/peserta/{peserta}/{suffix}").status_code == 403
        # An admin account is not edited or reset from the participant pages.
        assert office.get(f"/admin/peserta/{admin_id}/{suffix}").status_code == 404
    without_token = office.post(f"/admin/peserta/{peserta}/nonaktifkan", data={})
    assert without_token.status_code == 400
    with app.app_context():
        assert db.session.get(User, peserta).active


# ---- the sign-in lock (memory:// here; Redis in test_ratelimit_redis.py) ----------------------


def test_admin_lifts_a_sign_in_lock(app, office, peserta, post_form):
    guesser = app.test_client()
    for _ in range(5):
        post_form(guesser, "/login", {"username": NIK, "password": "salah-sandi"})
    assert post_form(guesser, "/login", {"username": NIK, "password": PASSWORD}).status_code == 429
    detail = office.get(f"/admin/peserta/{peserta}").get_data(as_text=True)
    assert "masuk dikunci sementara" in detail

    post_form(
        office, f"/admin/peserta/{peserta}/buka-kunci", {}, form_page=f"/admin/peserta/{peserta}"
    )
    assert "masuk dikunci" not in office.get(f"/admin/peserta/{peserta}").get_data(as_text=True)
    assert post_form(guesser, "/login", {"username": NIK, "password": PASSWORD}).status_code == 302
    assert _actions(app, peserta)[-1] == "user.unlock"


# ---- the sign-in writes only after the password check ----------------------------------------


def test_a_wrong_password_writes_nothing_and_a_right_one_writes_after_the_check(
    app, peserta, post_form
):
    client = app.test_client()
    token_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', token_page).group(1)
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.strip().split()[0].upper() + " " + statement.strip()[:60])

    event.listen(engine, "before_cursor_execute", record)
    try:
        wrong = client.post("/login", data={"csrf_token": token, "username": NIK,
                                            "password": "salah-sandi"})  # fmt: skip
        assert wrong.status_code == 401
        wrong_statements = list(statements)
        statements.clear()
        right = client.post("/login", data={"csrf_token": token, "username": NIK,
                                            "password": PASSWORD})  # fmt: skip
        assert right.status_code == 302
    finally:
        event.remove(engine, "before_cursor_execute", record)
    verbs = [s.split()[0] for s in wrong_statements]
    assert "SELECT" in verbs
    assert not {"UPDATE", "INSERT", "DELETE"} & set(verbs), wrong_statements
    assert not any("BEGIN IMMEDIATE" in s for s in wrong_statements), wrong_statements
    # The right password: the user is read first, the write comes after, in its own transaction.
    first_select = next(i for i, s in enumerate(statements) if s.startswith("SELECT"))
    update = next(i for i, s in enumerate(statements) if s.startswith("UPDATE"))
    assert first_select < update
    if engine.dialect.name == "sqlite":
        immediate = next(i for i, s in enumerate(statements) if "BEGIN IMMEDIATE" in s)
        assert first_select < immediate < update


# ---- bimtek user ... --------------------------------------------------------------------------


def test_cli_lists_resets_deactivates_and_reactivates(app, runner, peserta, admin_id, post_form):
    listed = runner.invoke(args=["user", "list"])
    assert listed.exit_code == 0, listed.output
    assert "Sitti Aminah" in listed.output and "operator" in listed.output
    assert NIK not in listed.output  # masked

    # Confirmation first: answering no changes nothing.
    refused = runner.invoke(args=["user", "reset-password", NIK], input="n\n")
    assert refused.exit_code == 1
    with app.app_context():
        assert db.session.get(User, peserta).check_password(PASSWORD)
    reset = runner.invoke(args=["user", "reset-password", NIK], input="y\n")
    assert reset.exit_code == 0, reset.output
    new_password = re.search(r": (\w{4}-\w{4}-\w{4})$", reset.output, re.M).group(1)
    login = post_form(app.test_client(), "/login", {"username": NIK, "password": new_password})
    assert login.headers["Location"].endswith("/akun/kata-sandi")

    off = runner.invoke(args=["user", "deactivate", f"#{peserta}", "--yes"])
    assert off.exit_code == 0 and "dinonaktifkan" in off.output
    assert "NONAKTIF" in runner.invoke(args=["user", "list", "--nonaktif"]).output
    last_admin = runner.invoke(args=["user", "deactivate", "operator", "--yes"])
    assert last_admin.exit_code == 1 and "admin aktif terakhir" in last_admin.output
    on = runner.invoke(args=["user", "reactivate", NIK])
    assert on.exit_code == 0 and "aktif kembali" in on.output
    with app.app_context():
        actions = _actions(app, peserta)
    assert actions[-3:] == ["user.reset_password", "user.deactivate", "user.reactivate"]
    with app.app_context():
        assert all(
            entry.actor_id is None
            for entry in db.session.scalars(
                select(AuditLog).where(AuditLog.action != "peserta.create")
            )
            if entry.object_id == str(peserta)
        )


def test_cli_unlock_says_it_cannot_reach_memory_counters(runner, peserta):
    result = runner.invoke(args=["user", "unlock", NIK])
    assert result.exit_code == 1
    assert "memory://" in result.output and "halaman peserta" in result.output


def test_cli_names_an_unknown_account(runner, admin_id):
    result = runner.invoke(args=["user", "deactivate", "7322019999999999", "--yes"])
    assert result.exit_code == 1
    assert "tidak ditemukan" in result.output
