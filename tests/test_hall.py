"""A whole hall at once (issue 16): password scheme and its upgrade at sign-in, quiz start,
check-in and the projector count in a bounded number of statements; on SQLite and PostgreSQL."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event, select
from werkzeug.security import generate_password_hash

from bimtek.accounts.models import User
from bimtek.extensions import db

NIK = "7322014107000901"
PASSWORD = "gunung-latimojong-9"


def stored_hash(app, user_id) -> str:
    with app.app_context():
        return db.session.get(User, user_id).password_hash


def set_hash(app, user_id, value) -> None:
    with app.app_context():
        db.session.get(User, user_id).password_hash = value
        db.session.commit()


@contextmanager
def statements(app):
    """The SQL statements run inside the block (a list of their texts)."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def argon_app(app):
    """The production scheme: no test-only PBKDF2 method."""
    app.config["BIMTEK_PASSWORD_HASH_METHOD"] = None
    return app


@pytest.mark.parametrize(
    "old",
    [
        generate_password_hash(PASSWORD),  # werkzeug's default scrypt
        generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),  # an initial password
    ],
    ids=["scrypt", "pbkdf2-initial"],
)
def test_an_old_hash_becomes_argon2id_at_the_next_sign_in(argon_app, client, auth, make_peserta,
                                                         old):  # fmt: skip
    user_id = make_peserta(nik=NIK)
    set_hash(argon_app, user_id, old)
    # A wrong password signs nobody in and leaves the hash as it was.
    assert auth.login(NIK, "bukan-sandinya-1").status_code == 401
    assert stored_hash(argon_app, user_id) == old
    response = auth.login(NIK, PASSWORD)
    assert response.status_code == 302
    new = stored_hash(argon_app, user_id)
    assert new.startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # OWASP's argon2id minimum
    auth.logout()
    # The new hash signs in with the same password, and is not rewritten again.
    assert auth.login(NIK, PASSWORD).status_code == 302
    assert stored_hash(argon_app, user_id) == new


def test_a_new_password_is_stored_as_argon2id(argon_app, client, auth, make_peserta, post_form):
    make_peserta(nik=NIK, must_change=True)
    auth.login(NIK, "awal-rahasia-1")
    response = post_form(
        client,
        "/akun/kata-sandi",
        {"current_password": "awal-rahasia-1", "new_password": PASSWORD,
         "confirm": PASSWORD},
    )  # fmt: skip
    assert response.status_code == 302
    with argon_app.app_context():
        user = db.session.scalars(select(User).where(User.nik == NIK)).one()
        assert user.password_hash.startswith("$argon2id$")
        assert not user.must_change_password
