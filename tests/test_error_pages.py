"""Error pages while the database is gone, and the refusals of malformed input (issue 12 §2, §4).

A signed-in user whose database goes away gets an Indonesian page (not gunicorn's bare English
"Internal Server Error"), with the security headers; /healthz says 503 with a cookie too.
"""

import re
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select

from bimtek.extensions import db

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options")


@contextmanager
def database_gone(app):
    """The app's database becomes unreachable, then comes back."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if url.startswith("sqlite"):
        path = Path(urlsplit(url).path)
        moved = []
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                source.rename(f"{source}.away")
                moved.append(source)
        path.mkdir()  # a directory where the file was: "unable to open database file"
        try:
            yield
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            path.rmdir()
            for source in moved:
                Path(f"{source}.away").rename(source)
    else:
        parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://", 1))
        name = parts.path.lstrip("/")
        admin = parts._replace(path="/postgres", query="").geturl()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name))
            )
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        try:
            yield
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name))
                )


def test_signed_in_user_gets_an_indonesian_page_while_the_database_is_down(app, client, auth, demo):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the handler answers
    login, password = next((lg, pw) for role, lg, pw in demo if role.startswith("admin"))
    assert auth.login(login, password).status_code == 302
    assert client.get("/").status_code == 200

    with database_gone(app):
        for path in ("/", "/kursus/1", "/admin/peserta"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.status_code)
            page = response.get_data(as_text=True)
            assert 'lang="id"' in page
            assert "Basis data tidak dapat dihubungi" in page
            assert "Internal Server Error" not in page
            for header in SECURITY_HEADERS:
                assert header in response.headers, (path, header)
            assert response.headers["Cache-Control"] == "private, no-store"
        response = client.post("/logout", data={})
        assert response.status_code in (400, 503)
        assert 'lang="id"' in response.get_data(as_text=True)

        health = client.get("/healthz")  # with the signed-in cookie
        assert health.status_code == 503
        assert health.get_json() == {"status": "error", "database": "unreachable"}
        assert "X-Frame-Options" in health.headers

    assert client.get("/").status_code == 200  # back as soon as the database is


def test_a_bug_is_a_500_page_in_indonesian_without_the_navigation(app, client, auth, demo):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/rusak-untuk-uji")
    def broken():
        raise RuntimeError("a bug")

    login, password = next((lg, pw) for role, lg, pw in demo if role.startswith("admin"))
    auth.login(login, password)
    response = client.get("/rusak-untuk-uji")
    assert response.status_code == 500
    assert "Terjadi kesalahan di server" in response.get_data(as_text=True)
    for header in SECURITY_HEADERS:
        assert header in response.headers


def _login_page_token(client):
    from tests.conftest import csrf_token

    return csrf_token(client, "/login")


@pytest.mark.parametrize(
    "body",
    [
        "username=admin%00&password=x",
        "username=%FF%FEadmin&password=x",
    ],
    ids=["nul", "invalid-utf8"],
)
def test_login_with_malformed_input_is_refused_in_indonesian_and_counted(
    app, client, make_staff, body
):
    """Before: a NUL in the login answered 500 on PostgreSQL every time, never throttled."""
    make_staff("admin", "admin", "rahasia-admin-1")
    token = _login_page_token(client)
    responses = [
        client.post(
            "/login",
            data=f"csrf_token={token}&{body}",
            content_type="application/x-www-form-urlencoded",
        )
        for _attempt in range(7)
    ]
    assert responses[0].status_code == 400
    assert "karakter yang tidak sah" in responses[0].get_data(as_text=True)
    # 5 per minute per account: a malformed attempt counts like a wrong password.
    assert [r.status_code for r in responses[5:]] == [429, 429]


def test_ids_beyond_the_database_are_404_and_bad_json_400(app, client, auth, demo):
    from bimtek.quiz.models import Attempt

    peserta = next((lg, pw) for role, lg, pw in demo if role.startswith("peserta"))
    auth.login(*peserta)
    for path in ("/kursus/99999999999999999999", "/kursus/2147483648", "/sesi/" + "9" * 5000):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Halaman yang Anda cari tidak ada." in response.get_data(as_text=True)
    with app.app_context():
        attempt = db.session.scalars(select(Attempt.id)).first() or 1
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/").get_data(as_text=True)
    ).group(1)
    for body in ("[]", "[" * 50_000 + "]" * 50_000, '{"position": [[1]]}', '{"a": "\\u0000"}'):
        response = client.post(
            f"/ujian/{attempt}/jawab",
            data=body,
            content_type="application/json",
            headers={"X-CSRFToken": token, "Accept": "application/json"},
        )
        assert response.status_code == 400, body[:20]
        assert response.get_json() == {"error": "Data yang dikirim tidak dapat diproses."}
