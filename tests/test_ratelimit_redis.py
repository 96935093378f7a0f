"""Two app nodes share sign-in limit counters through Redis (BIMTEK_RATELIMIT_STORAGE_URL)."""

import os
import socket
from contextlib import closing

import pytest

from bimtek import create_app
from tests.conftest import base_config

REDIS_URL = os.environ.get("BIMTEK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = "bimtek-test"


def redis_up() -> bool:
    with closing(socket.socket()) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.fixture
def redis_url():
    if not redis_up():
        if os.environ.get("BIMTEK_REQUIRE_REDIS") == "1":
            pytest.fail("Redis required but nothing listens on 127.0.0.1:6379")
        pytest.skip("Redis not running on 127.0.0.1:6379: shared rate-limit test skipped")
    import redis

    # The limiter is a module-level singleton that keeps the first key prefix it saw,
    # so the prefix is fixed and its keys are cleared before each run.
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"*{PREFIX}*"):
        client.delete(key)
    return REDIS_URL


def test_failed_sign_ins_count_across_nodes(app, redis_url, db_url, make_staff, post_form):
    make_staff("admin", "operator", "rahasia-operator-1")
    nodes = [
        create_app(
            base_config(db_url, RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_KEY_PREFIX=PREFIX)
        )
        for _ in range(2)
    ]
    clients = [node.test_client() for node in nodes]
    for attempt in range(5):
        client = clients[attempt % 2]  # the load balancer alternates
        response = post_form(client, "/login", {"username": "operator", "password": "salah"})
        assert response.status_code == 401
    for client in clients:
        blocked = post_form(client, "/login", {"username": "operator", "password": "salah"})
        assert blocked.status_code == 429


def test_admin_lifts_a_lock_held_in_redis_for_every_node(
    app, redis_url, db_url, make_staff, make_peserta, post_form
):
    """The lock lives in Redis, so lifting it (CLI or web, on any node) frees every node."""
    make_staff("admin", "operator", "rahasia-operator-1")
    nik, password = "7322014107900101", "awal-rahasia-1"
    peserta = make_peserta(nik=nik, password=password)
    nodes = [
        create_app(
            base_config(db_url, RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_KEY_PREFIX=PREFIX)
        )
        for _ in range(2)
    ]

    def lock():
        for attempt in range(5):
            client = nodes[attempt % 2].test_client()
            post_form(client, "/login", {"username": nik, "password": "salah"})
        for node in nodes:
            login = post_form(node.test_client(), "/login", {"username": nik, "password": password})
            assert login.status_code == 429

    lock()
    result = nodes[0].test_cli_runner().invoke(args=["user", "unlock", nik])
    assert result.exit_code == 0, result.output
    assert "dibuka" in result.output
    login = post_form(nodes[1].test_client(), "/login", {"username": nik, "password": password})
    assert login.status_code == 302

    lock()
    office = nodes[0].test_client()
    post_form(office, "/login", {"username": "operator", "password": "rahasia-operator-1"})
    detail = f"/admin/peserta/{peserta}"
    assert "masuk dikunci sementara" in office.get(detail).get_data(as_text=True)
    post_form(office, f"{detail}/buka-kunci", {}, form_page=detail)
    login = post_form(nodes[1].test_client(), "/login", {"username": nik, "password": password})
    assert login.status_code == 302
