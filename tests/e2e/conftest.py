"""A live bimtek on 127.0.0.1 and Debian's headless Chromium driven by Playwright."""

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bimtek.extensions import db
from tests.conftest import close_app, make_test_app

CHROMIUM = os.environ.get("BIMTEK_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
# Hosts under this domain resolve to this machine in the test browser, so a test can serve the
# app on a public address that is not 127.0.0.1 (as a venue's phones see the office laptop).
PUBLIC_DOMAIN = "bimtek.test"
CHROMIUM_ARGS = [
    f"--host-resolver-rules=MAP *.{PUBLIC_DOMAIN} 127.0.0.1",
    "--no-sandbox",  # root in CI containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("BIMTEK_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"Chromium required but not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}: end-to-end tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def live_config() -> dict:
    """Configuration of the live app; a test module overrides it (e.g. the office's zone)."""
    return {}


@pytest.fixture
def live_app(request, sqlite_url, live_config):
    app = make_test_app(sqlite_url, WTF_CSRF_SSL_STRICT=False, **live_config)
    app.config["TEST_SEED"] = request.node.bimtek_seed
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    thread.join(5)
    close_app(app)


@pytest.fixture
def demo(live_app):
    """The demo kabupaten, courses, session and accounts (seeded once per run, copied per test)."""
    from bimtek.demo import demo_logins

    assert live_app.config["TEST_SEED"] == "demo"
    return demo_logins()


@pytest.fixture
def sign_in(live_app):
    """Sign a browser page in through the real form and wait until it has left the sign-in
    page; `base` when the test serves on another address (a public name)."""

    def sign_in(page, login: str, password: str, path: str = "/login", base: str | None = None):
        page.goto((base or live_app.config["LIVE_URL"]) + path)
        page.get_by_label("NIK atau nama pengguna").fill(login)
        page.get_by_label("Kata sandi").fill(password)
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url(lambda url: "/login" not in url)
        return page

    return sign_in


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


__all__ = ["db"]
