"""Import a generated 30,000-row participants sheet: dry run, commit, initial passwords, re-import.

.venv/bin/python bench/import_peserta.py [--rows 30000]

Runs on a fresh SQLite database, then on PostgreSQL if one answers on 127.0.0.1:5432.
Prints rows/s for each phase and the peak RSS of this process.
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook  # noqa: E402

from bench._harness import ROOT  # noqa: E402


def build_sheet(path: Path, rows: int, desa: list[tuple[str, str, str]]) -> None:
    """A write-only sheet as an office would send it: a title, the header on row 3,
    names for some wilayah and codes for others."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Peserta")
    ws.append(["DAFTAR PPS DAN KPPS"])
    ws.append([])
    ws.append(["No", "Nama Lengkap", "NIK", "Badan", "Jabatan", "Kecamatan", "Desa/Kelurahan",
               "ASN", "No HP"])  # fmt: skip
    for i in range(rows):
        kec_kode, kec_nama, desa_kode, desa_nama = desa[i % len(desa)]
        by_name = i % 2 == 0
        ws.append([
            i + 1, f"Peserta Nomor {i + 1}", f"7322{i:012d}", "KPPS" if i % 3 else "PPS",
            "Ketua" if i % 7 == 0 else "Anggota", kec_nama if by_name else kec_kode,
            desa_nama if by_name else desa_kode, "Tidak", f"0812{i:08d}",
        ])  # fmt: skip
    wb.save(path)


def run(label: str, database_url: str, rows: int, workdir: Path) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import select

    from bimtek import MIGRATIONS_DIR, create_app
    from bimtek.accounts import importer
    from bimtek.accounts.import_sheets import build_credentials
    from bimtek.demo import DEMO_WILAYAH
    from bimtek.extensions import db
    from bimtek.wilayah.models import Desa, Kecamatan
    from bimtek.wilayah.service import import_wilayah, read_wilayah_csv

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench",
            "TESTING": False,
            "BIMTEK_CONTENT_DIR": str(ROOT),
        }  # fmt: skip
    )
    sheet = workdir / "peserta.xlsx"
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        wilayah_rows, _ = read_wilayah_csv(DEMO_WILAYAH)
        import_wilayah(wilayah_rows)
        db.session.commit()
        desa = [
            (k.kode, k.nama, d.kode, d.nama)
            for d, k in db.session.execute(select(Desa, Kecamatan).join(Kecamatan))
        ]
        if not sheet.exists():
            start = time.perf_counter()
            build_sheet(sheet, rows, desa)
            print(f"sheet: {rows:,} rows, {sheet.stat().st_size / 1e6:.1f} MB, "
                  f"written in {time.perf_counter() - start:.1f} s")  # fmt: skip
        limits = {"max_bytes": 10 * 1024 * 1024, "max_rows": 50_000}

        start = time.perf_counter()
        plan = importer.plan_import(sheet, **limits)
        dry = time.perf_counter() - start
        assert not plan.rejected, plan.rejected[:3]

        start = time.perf_counter()
        record = importer.new_import_record(sheet.read_bytes(), sheet.name, None)
        importer.commit_plan(plan, record, None, skip_invalid=False)
        db.session.commit()
        commit = time.perf_counter() - start

        start = time.perf_counter()
        credentials = importer.issue_initial_passwords(record, None)
        data = build_credentials(credentials, "bench")
        db.session.commit()
        issue = time.perf_counter() - start
        db.session.remove()

        start = time.perf_counter()
        again = importer.plan_import(sheet, **limits)
        record = importer.new_import_record(sheet.read_bytes(), sheet.name, None)
        importer.commit_plan(again, record, None, skip_invalid=False)
        db.session.commit()
        reimport = time.perf_counter() - start
        db.engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label}: dry run {dry:.1f} s ({rows / dry:,.0f} rows/s); commit {commit:.1f} s "
          f"({rows / commit:,.0f} rows/s); initial passwords + credentials sheet {issue:.1f} s "
          f"({len(credentials) / issue:,.0f}/s, {len(data) / 1e6:.1f} MB); re-import unchanged "
          f"(parse + commit) {reimport:.1f} s [{again.summary()}]; peak RSS so far {peak:.0f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=30_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bimtek-bench-import-"))
    run("sqlite", f"sqlite:///{workdir}/bimtek.db", args.rows, workdir)
    from tests.pg import PostgresProvider

    provider = PostgresProvider()
    if not provider.available:
        print(f"postgresql: skipped ({provider.reason})")
        return
    try:
        run("postgresql", provider.create_database(), args.rows, workdir)
    finally:
        provider.close()


if __name__ == "__main__":
    main()
