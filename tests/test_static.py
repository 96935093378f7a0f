"""Static files: fingerprinted URLs kept for a year, compressed, with the security headers."""

import gzip
import re
import shutil

from flask import Flask, url_for

from bimtek import assets
from tests.conftest import ROOT

STATIC = ROOT / "static"


def test_pages_link_fingerprinted_css_and_js(client):
    versions = assets.fingerprints(STATIC)
    html = client.get("/login").get_data(as_text=True)
    assert f'/static/css/bimtek.css?v={versions["css/bimtek.css"]}"' in html
    assert f'/static/js/bimtek.js?v={versions["js/bimtek.js"]}"' in html
    assert not re.search(r'/static/[^"?]+"', html), "every static link carries its fingerprint"


def test_fingerprinted_css_is_cached_for_a_year_and_gzipped(client):
    with client.application.test_request_context():
        url = url_for("static", filename="css/bimtek.css")
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    cache = response.headers["Cache-Control"]
    max_age = int(re.search(r"max-age=(\d+)", cache).group(1))
    assert max_age >= 365 * 24 * 3600 and "immutable" in cache and "public" in cache
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert gzip.decompress(response.get_data()) == (STATIC / "css/bimtek.css").read_bytes()
    # the security headers still apply to static files
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"

    # a phone that already has it revalidates with the gzip ETag and gets a 304
    again = client.get(
        url, headers={"Accept-Encoding": "gzip", "If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304

    plain = client.get(url)  # no Accept-Encoding: the file as it is
    assert "Content-Encoding" not in plain.headers
    assert plain.get_data() == (STATIC / "css/bimtek.css").read_bytes()


def test_unversioned_or_stale_url_is_revalidated_not_pinned(client):
    for url in ("/static/css/bimtek.css", "/static/css/bimtek.css?v=000000000000"):
        response = client.get(url)
        assert response.status_code == 200
        assert "max-age=31536000" not in response.headers["Cache-Control"]
        assert "no-cache" in response.headers["Cache-Control"]


def _app_serving(folder) -> Flask:
    """A freshly started app over `folder` (fingerprints are taken at start)."""
    app = Flask(__name__, static_folder=str(folder))
    assets.init_app(app)
    return app


def test_a_changed_file_gets_a_new_url(tmp_path):
    folder = tmp_path / "static"
    shutil.copytree(STATIC, folder)
    before = _app_serving(folder)
    with before.test_request_context():
        old_url = url_for("static", filename="css/bimtek.css")
    (folder / "css/bimtek.css").write_text(
        (folder / "css/bimtek.css").read_text() + "\n.new-rule { color: red; }\n"
    )
    after = _app_serving(folder)  # the next start
    with after.test_request_context():
        new_url = url_for("static", filename="css/bimtek.css")
        unchanged = url_for("static", filename="js/bimtek.js")
    with before.test_request_context():
        assert unchanged == url_for("static", filename="js/bimtek.js")
    assert new_url != old_url and new_url.startswith("/static/css/bimtek.css?v=")
    client = after.test_client()
    assert "immutable" in client.get(new_url).headers["Cache-Control"]
    # an old page asking for the old fingerprint gets the new file, but not pinned for a year
    stale = client.get(old_url)
    assert b".new-rule" in stale.get_data() and "immutable" not in stale.headers["Cache-Control"]
