"""Kemendagri region codes: idempotent import, prefix, errors with line numbers."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bimtek.extensions import db
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan, Provinsi
from bimtek.wilayah.service import jenis_desa, kode_level

NATIONAL = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "data"
    / "wilayah-kemendagri-2025.csv"
)
DEMO = Path(__file__).resolve().parent.parent / "bimtek" / "data" / "wilayah-73.22.csv"


def _counts(app):
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Provinsi, Kabupaten, Kecamatan, Desa)
        )


@pytest.mark.parametrize(
    ("kode", "level"),
    [("73", 1), ("73.22", 2), ("73.22.01", 3), ("73.22.01.2001", 4), ("7322", None),
     ("73.22.1", None), ("73.22.01.2001\n", None), ("٧٣", None), ("", None)],
)  # fmt: skip
def test_kode_level(kode, level):
    assert kode_level(kode) == level


def test_jenis_desa():
    assert jenis_desa("73.22.02.1001") == "kelurahan"
    assert jenis_desa("73.22.01.2001") == "desa"


def test_demo_file_gives_luwu_utara_and_is_idempotent(app, runner):
    result = runner.invoke(args=["wilayah", "import", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert _counts(app) == (1, 1, 15, 173)
    with app.app_context():
        kelurahan = db.session.scalar(
            select(func.count()).select_from(Desa).where(Desa.jenis == "kelurahan")
        )
        assert kelurahan == 7
    again = runner.invoke(args=["wilayah", "import", str(DEMO)])
    assert "desa/kelurahan: 0 baru, 0 diperbarui, 173 tetap" in again.output
    assert _counts(app) == (1, 1, 15, 173)


@pytest.mark.skipif(not NATIONAL.exists(), reason="shared/data not beside the checkout")
def test_prefix_takes_one_kabupaten_from_the_national_file(app, runner):
    result = runner.invoke(args=["wilayah", "import", str(NATIONAL), "--prefix", "35.76"])
    assert result.exit_code == 0, result.output
    assert _counts(app) == (1, 1, 3, 18)  # Kota Mojokerto
    with app.app_context():
        assert db.session.get(Kabupaten, "35.76").nama == "Kota Mojokerto"
        assert db.session.get(Kabupaten, "35.76").is_kota


def test_renamed_region_is_updated_not_duplicated(app, runner, tmp_path):
    runner.invoke(args=["wilayah", "import", str(DEMO)])
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(
        DEMO.read_text(encoding="utf-8").replace(",Malangke\n", ",Malangke Raya\n"),
        encoding="utf-8",
    )
    result = runner.invoke(args=["wilayah", "import", str(renamed)])
    assert "kecamatan: 0 baru, 1 diperbarui, 14 tetap" in result.output
    with app.app_context():
        assert db.session.get(Kecamatan, "73.22.01").nama == "Malangke Raya"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "kode,nama\n73,Sulawesi Selatan\n73.2X,Rusak\n",
            "baris 3: kode '73.2X' bukan kode wilayah",
        ),
        ("kode,nama\n73,Sulawesi Selatan\n73,Lagi\n", "baris 3: kode '73' muncul dua kali"),
        ("kode,nama\n73.22.01,Malangke\n", "tanpa kabupaten/kota induk '73.22'"),
        ("id,name\n73,Sulawesi Selatan\n", "baris 1: kepala kolom harus 'kode,nama'"),
        ("kode,nama\n73,\n", "baris 2: nama wilayah kosong"),
    ],
)
def test_bad_files_load_nothing(app, runner, tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    result = runner.invoke(args=["wilayah", "import", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert _counts(app) == (0, 0, 0, 0)


def test_unknown_prefix_is_refused(app, runner):
    result = runner.invoke(args=["wilayah", "import", str(DEMO), "--prefix", "35.76"])
    assert result.exit_code == 1
    assert "kode '35.76' tidak ada di berkas" in result.output


def test_admin_overview_counts(client, auth, make_staff, wilayah):
    make_staff("admin", "operator", "rahasia-operator-1")
    auth.login("operator", "rahasia-operator-1")
    page = client.get("/admin/wilayah").get_data(as_text=True)
    assert "Kabupaten Luwu Utara" in page and "<td>15</td>" in page and "<td>173</td>" in page
    detail = client.get("/admin/wilayah/73.22").get_data(as_text=True)
    assert "Malangke" in detail
