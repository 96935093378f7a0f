"""Import the whole country's region codes (91,599 rows) and time it, on SQLite and PostgreSQL.

.venv/bin/python bench/wilayah_import.py [--csv ../shared/data/wilayah-kemendagri-2025.csv]
"""

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import ROOT, bench_env, bimtek  # noqa: E402

NATIONAL = ROOT.parent / "shared" / "data" / "wilayah-kemendagri-2025.csv"


def run(label: str, env: dict, csv: Path) -> None:
    bimtek(env, "init")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", "from bimtek.cli import main; main()", "wilayah", "import", str(csv)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    first = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from bimtek.cli import main; main()", "wilayah", "import", str(csv)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    again = time.perf_counter() - start
    rows = sum(1 for _ in csv.open(encoding="utf-8")) - 1
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{label}: {rows:,} rows in {first:.1f} s ({rows / first:,.0f} rows/s), "
          f"re-import (no change) {again:.1f} s, peak RSS of the importer <= {peak:.0f} MB")  # fmt: skip
    print(f"  {result.stdout.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", type=Path, default=NATIONAL)
    args = parser.parse_args()
    run("sqlite", bench_env(), args.csv)
    from tests.pg import PostgresProvider

    provider = PostgresProvider()
    if not provider.available:
        print(f"postgresql: skipped ({provider.reason})")
        return
    try:
        run("postgresql", bench_env(provider.create_database()), args.csv)
    finally:
        provider.close()


if __name__ == "__main__":
    main()
