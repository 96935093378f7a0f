"""Upload the black-box test's big sheet (many rows of inline strings, small as a file) through the
web import and time the upload and one preview view.

.venv/bin/python bench/hostile_sheet.py [--rows 30000] [--columns 60] [--code /work/main]

--code runs another checkout's bimtek (e.g. main, for the figure before a change). Fresh SQLite
database with the demo wilayah; the admin signs in through the login form. Prints wall-clock
and CPU seconds (the CPU figure is the one to compare on a busy machine).
"""

import argparse
import importlib.util
import io
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _craft():
    spec = importlib.util.spec_from_file_location("xlsx_craft", HERE / "tests" / "xlsx_craft.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--columns", type=int, default=60)
    parser.add_argument("--code", type=Path, default=HERE)
    args = parser.parse_args()
    data = _craft().big_sheet(args.rows, args.columns)
    sys.path.insert(0, str(args.code.resolve()))

    from flask_migrate import upgrade

    from bimtek import MIGRATIONS_DIR, create_app
    from bimtek.accounts import service
    from bimtek.demo import DEMO_WILAYAH
    from bimtek.extensions import db
    from bimtek.wilayah.service import import_wilayah, read_wilayah_csv

    work = Path(tempfile.mkdtemp(prefix="bimtek-hostile-"))
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{work}/bimtek.db",
            "SECRET_KEY": "bench",
            "BIMTEK_CONTENT_DIR": str(args.code),
            "BIMTEK_UPLOAD_DIR": str(work / "uploads"),
            "BIMTEK_PUBLIC_URL": "http://bench.test",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SESSION_COOKIE_SECURE": False,  # the test client speaks http
        }
    )
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        rows, _errors = read_wilayah_csv(DEMO_WILAYAH)
        import_wilayah(rows)
        service.create_staff("admin", "operator", "Operator", "rahasia-operator-1")
        db.session.commit()
    client = app.test_client()

    def token(path: str) -> str:
        return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)

    signed_in = client.post("/login", data={"csrf_token": token("/login"), "username": "operator",
                                "password": "rahasia-operator-1"})  # fmt: skip
    assert signed_in.status_code == 302, signed_in.status_code
    import bimtek

    print(f"code: {Path(bimtek.__file__).parent}; sheet {args.rows} rows x {args.columns} inline strings, "
          f"{len(data) / 1024:.0f} KB as a file")  # fmt: skip
    started, cpu = time.monotonic(), time.process_time()
    response = client.post(
        "/admin/peserta/impor",
        data={"csrf_token": token("/admin/peserta/impor"), "berkas": (io.BytesIO(data), "p.xlsx")},
        content_type="multipart/form-data",
    )
    print(f"upload: HTTP {response.status_code} in {time.monotonic() - started:.1f} s "
          f"({time.process_time() - cpu:.1f} s CPU)")  # fmt: skip
    text = response.get_data(as_text=True)
    for message in re.findall(r"p\.xlsx: ([^<]+)", text):
        print("  message:", message.strip())
    if response.status_code == 302:
        started, cpu = time.monotonic(), time.process_time()
        preview = client.get(response.headers["Location"])
        print(f"preview: HTTP {preview.status_code} in {time.monotonic() - started:.1f} s "
              f"({time.process_time() - cpu:.1f} s CPU)")  # fmt: skip


if __name__ == "__main__":
    main()
