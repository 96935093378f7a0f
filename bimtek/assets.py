"""Static files for a hall of phones on one access point: fingerprinted URLs that may be kept
for a year, and compressed CSS/JS/SVG.

`url_for('static', filename=...)` adds `?v=<first 12 hex of the file's SHA-256>`, computed once
when the app starts (on every call in debug mode, so an edited file shows at once). A request
carrying the current fingerprint is answered with a one-year, immutable Cache-Control; anything
else (no `v`, or the fingerprint of an older file) keeps Flask's `no-cache` + ETag, so a stale
copy is never pinned. A changed file gets a new URL, so phones fetch it on their next page.

Compression is Flask-Compress, on the fly (a few kilobytes per file, once per phone thanks to the
cache lifetime): nothing is generated, so a fresh clone serves compressed files with `make run`
and an edited file can never be served from a stale pre-compressed copy. Only static types are
compressed; HTML pages carry CSRF tokens and stay uncompressed (BREACH).
"""

import hashlib
from pathlib import Path

from flask import Flask, request
from flask_compress import Compress

LONG_CACHE = "public, max-age=31536000, immutable"
COMPRESSED_TYPES = ["text/css", "text/javascript", "application/javascript", "image/svg+xml"]

compress = Compress()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def fingerprints(folder: str | Path) -> dict[str, str]:
    """filename (relative, with '/') -> fingerprint, for every file under `folder`."""
    root = Path(folder)
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): digest(path)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    # Flask streams static files; Flask-Compress leaves gzip out of streamed responses by
    # default, and old Android browsers speak only gzip.
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip"])
    compress.init_app(app)

    versions = fingerprints(app.static_folder)
    app.extensions["bimtek_static_versions"] = versions

    def version_of(filename: str | None) -> str | None:
        if not filename:
            return None
        if app.debug:
            path = Path(app.static_folder, filename)
            return digest(path) if path.is_file() else None
        return versions.get(filename)

    @app.url_defaults
    def static_fingerprint(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "v" not in values:
            version = version_of(values.get("filename"))
            if version:
                values["v"] = version

    @app.after_request
    def static_cache_lifetime(response):
        if request.endpoint == "static" and response.status_code in (200, 304):
            wanted = request.args.get("v")
            filename = (request.view_args or {}).get("filename")
            if wanted and wanted == version_of(filename):
                response.headers["Cache-Control"] = LONG_CACHE
        return response
