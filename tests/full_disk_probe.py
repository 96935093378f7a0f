"""Run by tests/test_full_disk.py inside `unshare -r -m` with a tiny tmpfs mounted as the upload
folder and filled up: every write there fails with a real ENOSPC. Prints what a person would see
as JSON on the last line of stdout."""

import errno
import io
import json
import re
import sys
from pathlib import Path

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def fill(folder: Path) -> None:
    (folder / "imports").mkdir()
    with open(folder / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


def main() -> None:
    args = json.loads(sys.argv[1])
    folder = Path(args["upload_dir"])
    fill(folder)

    from bimtek import create_app

    app = create_app(
        {
            "TESTING": False,  # errors go to the error handlers, as in production
            "SECRET_KEY": "full-disk",
            "SQLALCHEMY_DATABASE_URI": args["database_url"],
            "BIMTEK_CONTENT_DIR": args["content_dir"],
            "BIMTEK_PUBLIC_URL": "http://bimtek.example.test",
            "BIMTEK_UPLOAD_DIR": str(folder),
            "RATELIMIT_STORAGE_URI": "memory://",
            "SESSION_COOKIE_SECURE": False,
            "BIMTEK_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        }
    )
    client = app.test_client()

    def token(path: str) -> str:
        return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)

    signed_in = client.post(
        "/login",
        data={"csrf_token": token("/login"), "username": "admin", "password": "demo-admin-2029"},
    )
    assert signed_in.status_code == 302, signed_in.status_code
    out: dict = {}
    sheet = Path(args["sheet"]).read_bytes()
    response = client.post(
        "/admin/peserta/impor",
        data={"csrf_token": token("/admin/peserta/impor"), "berkas": (io.BytesIO(sheet), "p.xlsx")},
        content_type="multipart/form-data",
    )
    out["import"] = [response.status_code, response.get_data(as_text=True)]
    response = client.post(
        "/ruang-kerja/kursus/1/materi",
        data={
            "csrf_token": token("/ruang-kerja/"),
            "file": (io.BytesIO(b"%PDF-1.4\n" + b"x" * 200_000), "materi.pdf"),
            "title": "Materi",
        },
        content_type="multipart/form-data",
    )
    out["material"] = [response.status_code, response.get_data(as_text=True)]
    result = app.test_cli_runner().invoke(
        args=["peserta", "import", args["sheet"], "--credentials-out", str(folder / "sandi.xlsx")]
    )
    out["cli"] = [result.exit_code, result.output]
    out["files"] = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
