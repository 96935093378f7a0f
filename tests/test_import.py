"""Participants import engine and `bimtek peserta import`: sheets built with openpyxl here,
imported into the real database, and what an admin would notice asserted."""

import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from bimtek.accounts import importer
from bimtek.accounts.models import AuditLog, ImportedAccount, ParticipantImport, User
from bimtek.accounts.service import INITIAL_PASSWORD_METHOD, NO_PASSWORD_YET, authenticate
from bimtek.extensions import db
from bimtek.spreadsheet import SpreadsheetError

HEADER = ["No", "Nama Lengkap", "NIK", "Badan", "Jabatan", "Kecamatan", "Desa/Kelurahan"]
LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_rows": 50_000}


def xlsx(rows, title="Peserta", before=None) -> bytes:
    """A workbook whose cells keep Python types: str stays text, int is a numeric cell."""
    wb = Workbook()
    if before is not None:  # an instructions sheet in front
        wb.active.title = "Petunjuk"
        wb.active.append([before])
        ws = wb.create_sheet(title)
    else:
        ws = wb.active
        ws.title = title
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def person(no, nama, nik, badan="PPS", jabatan="Anggota", kec="Malangke", desa="Pattimang"):
    return [no, nama, nik, badan, jabatan, kec, desa]


@pytest.fixture
def plan(app, wilayah):
    def make(data: bytes, **limits):
        with app.app_context():
            return importer.plan_import(data, **{**LIMITS, **limits})

    return make


def _commit(app, data: bytes, skip_invalid=False):
    with app.app_context():
        plan = importer.plan_import(data, **LIMITS)
        record = importer.new_import_record(data, "peserta.xlsx", None)
        result = importer.commit_plan(plan, record, None, skip_invalid=skip_invalid)
        db.session.commit()
        return plan, result, record.id


def _peserta(app) -> dict[str, User]:
    with app.app_context():
        users = db.session.scalars(select(User).where(User.role == "peserta")).all()
        return {u.nik: u for u in users}


def test_messy_sheet_is_understood(plan):
    """Header on row 4 below a title, synonyms, extra columns, any case, stray spaces,
    wilayah by name (with prefixes) or by code, a second sheet in front."""
    rows = [
        ["DAFTAR ANGGOTA PPS KECAMATAN MALANGKE"],
        ["Tahun 2029"],
        [],
        ["No.", "Nama", " No. KTP ", "Badan Adhoc", "JABATAN", "Kec.", "Desa / Kelurahan",
         "Tempat Lahir", "Telepon", "ASN"],
        [1, "  hasnah   LAUPE ", "7322015506910004", "pps", "anggota", "kec. malangke",
         "DESA PATTIMANG", "Masamba", "0812-3456-7890", "ya"],
        [2, "Baso Tang", "7322011506910005", "Sekretariat PPS", "staff", "73.22.01",
         "73.22.01.2002", None, None, "Tidak"],
        [3, "Andi Rahman", "7322011506910006", "ppk", "Ketua", "Bone-Bone", None, None, None,
         None],
        [4, "Rina", "7322011506910007", "KPPS", "Anggota KPPS", "masamba", "Kel. Kappuna",
         None, 81234567890, None],
        [None, None, None, None, None, None, None, "catatan di kolom lain"],
    ]  # fmt: skip
    result = plan(xlsx(rows, before="Isi lembar Peserta"))
    assert result.rejected == []
    assert result.header.row == 4 and result.sheet == "Peserta"
    by_nik = {r.data.nik: r.data for r in result.rows}
    assert [r.action for r in result.rows] == ["create"] * 4
    hasnah = by_nik["7322015506910004"]
    assert (hasnah.nama, hasnah.badan, hasnah.jabatan) == ("hasnah LAUPE", "PPS", "Anggota")
    assert (hasnah.kecamatan_kode, hasnah.desa_kode) == ("73.22.01", "73.22.01.2001")
    assert hasnah.is_asn and hasnah.phone == "0812-3456-7890"
    baso = by_nik["7322011506910005"]
    assert (baso.badan, baso.jabatan, baso.desa_kode) == (
        "Sekretariat PPS",
        "Staf",
        "73.22.01.2002",
    )
    assert by_nik["7322011506910006"].kecamatan_kode == "73.22.02"
    rina = by_nik["7322011506910007"]
    assert (rina.desa_kode, rina.phone) == ("73.22.03.1001", "081234567890")


def _reasons(result) -> dict[tuple[int, str], str]:
    return {(r.row, r.column.split(" ")[0]): r.reason for r in result.rejected}


def test_every_rejection_names_row_column_and_reason(plan):
    rows = [
        HEADER,
        person(1, "Satu", "732201550691000"),  # 15 digits
        person(2, "Dua", 3576014107900001),  # numeric cell
        person(3, "Tiga", "3.57601E+15"),  # text of a damaged number
        person(4, "Empat", "7322015506910004", desa="Tamuku"),  # desa of Bone Bone
        person(5, "Lima", "7322015506910005", desa="Patimang"),  # typo
        person(6, "Enam", "7322015506910006"),
        person(7, "Tujuh", "7322015506910006"),  # duplicate of the row above
        person(8, "Delapan", "7322015506910008", jabatan="Bendahara"),
        person(9, "Sembilan", "7322015506910009", badan="Panwas"),
        person(10, "Sepuluh", "7322015506910010", jabatan="Sekretaris"),  # not for PPS
        person(11, "Sebelas", "7322015506910011", desa=None),  # PPS needs a desa
        person(12, "Dua belas", "7322015506910012", kec="Atlantis"),
        person(13, "", "7322015506910013"),
        person(14, "Empat belas", "７３２２０１５５０６９１００１４"),
        person(15, "Lima belas", "7322015506910015", desa="73.22.02.2002"),  # code elsewhere
    ]
    result = plan(xlsx(rows))
    reasons = _reasons(result)
    assert "NIK harus 16 digit; yang diisi 15 digit." in reasons[(2, "C")]
    assert "tampil sebagai 3.57601E+15" in reasons[(3, "C")]
    assert "Format kolom NIK sebagai Teks" in reasons[(3, "C")]
    assert "3.57601E+15" in reasons[(4, "C")] and "dibulatkan" in reasons[(4, "C")]
    assert reasons[(5, "G")].startswith("Desa/kelurahan 'Tamuku' tidak ada di Kecamatan Malangke.")
    assert "Nama itu ada di Kecamatan Bone Bone" in reasons[(5, "G")]
    assert "Nama terdekat di Kecamatan Malangke: Pattimang." in reasons[(6, "G")]
    assert "ada juga di baris 8" in reasons[(7, "C")]
    assert "ada juga di baris 7" in reasons[(8, "C")]
    assert "Jabatan 'Bendahara' tidak dikenal" in reasons[(9, "E")]
    assert "Badan 'Panwas' tidak dikenal" in reasons[(10, "D")]
    assert reasons[(11, "E")] == "Jabatan untuk PPS: Ketua atau Anggota."
    assert reasons[(12, "G")] == "Desa/kelurahan wajib diisi untuk PPS."
    assert reasons[(13, "F")] == "Kecamatan 'Atlantis' tidak terdaftar."
    assert reasons[(14, "B")] == "Nama wajib diisi."
    assert "bukan angka dari papan ketik lain" in reasons[(15, "C")]
    assert "Desa Tamuku tidak berada di Kecamatan Malangke" in reasons[(16, "G")]
    assert result.counts == {"create": 0, "update": 0, "unchanged": 0, "rejected": 15}
    text = str(result.rejected[0])
    assert text.startswith("Baris 2, kolom C (NIK): ")


def test_kecamatan_name_in_two_kabupaten_asks_for_the_code(app, plan):
    from bimtek.wilayah.service import import_wilayah, read_wilayah_csv

    csv = io.StringIO("kode,nama\n73,Sulawesi Selatan\n73.17,Kabupaten Luwu\n73.17.01,Malangke\n")
    with app.app_context():
        rows, errors = read_wilayah_csv(csv)
        assert not errors
        import_wilayah(rows)
        db.session.commit()
    result = plan(xlsx([HEADER, person(1, "Satu", "7322015506910001")]))
    reason = _reasons(result)[(2, "F")]
    assert "ada di beberapa kabupaten/kota" in reason and "Tulis kode kecamatannya" in reason
    coded = plan(xlsx([HEADER, person(1, "Satu", "7322015506910001", kec="73.22.01")]))
    assert coded.rejected == [] and coded.rows[0].data.kecamatan_kode == "73.22.01"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Nama,NIK\nBudi,1\n", "Bukan berkas .xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, ".xls"),
        (None, "Baris judul kolom tidak ditemukan"),
        ("rows", "lebih dari 5 baris"),
        ("big", "lebih besar dari"),
        ("bomb", "terlalu besar setelah dibuka"),
        ("empty", "tidak berisi data peserta"),
    ],
)
def test_files_refused_with_a_clear_message(plan, data, message):
    limits = {}
    if data is None:
        data = xlsx([["Nama", "Alamat"], ["Budi", "Jl. Mawar"]])
    elif data == "rows":
        data = xlsx([HEADER] + [person(i, "X", f"73220155069100{i:02d}") for i in range(10)])
        limits = {"max_rows": 5}
    elif data == "big":
        data = xlsx([HEADER, person(1, "Satu", "7322015506910001")])
        limits = {"max_bytes": 1024}
    elif data == "bomb":
        buffer = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(xlsx([HEADER]))) as src,
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out,
        ):
            for item in src.infolist():
                out.writestr(item, src.read(item))
            out.writestr("xl/padding.bin", b"\0" * (201 * 1024 * 1024))
        data = buffer.getvalue()
    elif data == "empty":
        data = xlsx([HEADER])
    with pytest.raises(SpreadsheetError, match=message):
        plan(data, **limits)


def test_declared_dimensions_are_not_trusted(plan):
    """A sheet claiming A1:A1 still has all its rows read (and counted against the limit)."""
    data = xlsx([HEADER] + [person(i, f"Orang {i}", f"73220155069100{i:02d}") for i in range(1, 8)])
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for item in src.infolist():
            content = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b'<dimension ref="A1:G8"/>', b'<dimension ref="A1"/>')
                assert b'<dimension ref="A1"/>' in content
            out.writestr(item, content)
    assert len(plan(buffer.getvalue()).rows) == 7
    with pytest.raises(SpreadsheetError, match="lebih dari 4 baris"):
        plan(buffer.getvalue(), max_rows=4)


def test_commit_creates_accounts_without_usable_passwords_until_issued(app, wilayah):
    data = xlsx([HEADER, person(1, "Satu", "7322015506910001"),
                 person(2, "Dua", "7322015506910002", badan="PPK", jabatan="Ketua", desa=None)])  # fmt: skip
    _plan, result, import_id = _commit(app, data)
    assert len(result.created_ids) == 2
    users = _peserta(app)
    assert users["7322015506910002"].desa_kode is None
    assert all(
        u.password_hash == NO_PASSWORD_YET and u.must_change_password for u in users.values()
    )
    with app.app_context():
        assert authenticate("7322015506910001", NO_PASSWORD_YET) is None
        record = db.session.get(ParticipantImport, import_id)
        assert (record.status, record.created_count) == ("committed", 2)
        credentials = importer.issue_initial_passwords(record, None)
        db.session.commit()
        assert sorted(c.nik for c in credentials) == sorted(users)
        first = {c.nik: c.password for c in credentials}
        for nik, password in first.items():
            # Issued with the cheap initial method (a sign-in then upgrades it: test_hall.py).
            stored = db.session.scalars(select(User.password_hash).where(User.nik == nik)).one()
            assert stored.startswith(INITIAL_PASSWORD_METHOD)
            assert authenticate(nik, password) is not None
            assert password not in stored and nik[-6:] not in password
        db.session.rollback()  # authenticate stamped last_login_at: keep them "never signed in"
        again = {c.nik: c.password for c in importer.issue_initial_passwords(record, None)}
        db.session.commit()
        assert all(again[n] != first[n] for n in first)
        assert authenticate("7322015506910001", first["7322015506910001"]) is None
        assert authenticate("7322015506910001", again["7322015506910001"]) is not None
        db.session.commit()  # Satu has now signed in: not in the next sheet
        third = importer.issue_initial_passwords(record, None)
        assert [c.nik for c in third] == ["7322015506910002"]
        db.session.commit()


def test_reimport_updates_by_nik_and_keeps_progress(app, wilayah, content, make_peserta):
    from bimtek.learning import service as learning
    from bimtek.learning.models import Module, ModuleProgress
    from bimtek.learning.service import current_module_version as current_version

    user_id = make_peserta(nama="Sitti Aminah", nik="7322014107000001", password="sandi-lama-1")
    with app.app_context():
        user = db.session.get(User, user_id)
        module = db.session.scalars(select(Module)).first()
        learning.mark_completed(user, current_version(module))
        db.session.commit()
    rows = [
        HEADER + ["No HP"],
        person(1, "SITTI AMINAH, S.Pd", "7322014107000001", jabatan="Ketua") + ["0811111111"],
        person(2, "Baru", "7322014107000002") + [None],
    ]
    plan, result, _ = _commit(app, xlsx(rows))
    assert plan.counts == {"create": 1, "update": 1, "unchanged": 0, "rejected": 0}
    assert plan.of("update")[0].changes["jabatan"] == ("Anggota", "Ketua")
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.nama, user.jabatan, user.phone) == (
            "SITTI AMINAH, S.Pd",
            "Ketua",
            "0811111111",
        )
        assert user.check_password("sandi-lama-1") and not user.must_change_password
        progress = db.session.scalars(
            select(ModuleProgress).where(ModuleProgress.user_id == user_id)
        )
        assert [p.completed_at is not None for p in progress] == [True]
        change = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "peserta.update")
        ).one()
        assert change.detail["changes"]["jabatan"] == ["Anggota", "Ketua"]
        linked = db.session.scalars(select(ImportedAccount.user_id)).all()
        assert linked == result.created_ids and user_id not in linked
    # The same sheet again: nothing changes; an empty phone cell keeps the stored number.
    again = xlsx([rows[0], rows[1][:-1] + [None], rows[2]])
    plan, result, _ = _commit(app, again)
    assert plan.counts == {"create": 0, "update": 0, "unchanged": 2, "rejected": 0}
    assert _peserta(app)["7322014107000001"].phone == "0811111111"


def test_rejected_rows_import_nothing_unless_asked(app, wilayah):
    data = xlsx([HEADER, person(1, "Satu", "7322015506910001"), person(2, "Dua", "123")])
    with app.app_context():
        plan = importer.plan_import(data, **LIMITS)
        record = importer.new_import_record(data, "x.xlsx", None)
        with pytest.raises(importer.ImportRefused, match="1 baris ditolak"):
            importer.commit_plan(plan, record, None, skip_invalid=False)
        db.session.rollback()
    assert _peserta(app) == {}
    plan, result, _ = _commit(app, data, skip_invalid=True)
    assert list(_peserta(app)) == ["7322015506910001"] and result.rejected == 1


def test_commit_is_all_or_nothing(app, wilayah):
    """A failure half-way (another admin created one of the NIKs since the preview) leaves
    no account from the file behind."""
    rows = [HEADER] + [person(i, f"Orang {i}", f"73220155069{i:05d}") for i in range(1, 1500)]
    data = xlsx(rows)
    with app.app_context():
        plan = importer.plan_import(data, **LIMITS)
        record = importer.new_import_record(data, "x.xlsx", None)
        db.session.commit()
    with app.app_context():
        from bimtek.accounts.service import ParticipantData, create_participant

        create_participant(
            ParticipantData("Kembar", "7322015506901400", "PPK", "Anggota", "73.22.01"),
            None,
            "sandi-kembar-1",
        )
        db.session.commit()
    with app.app_context():
        record = db.session.get(ParticipantImport, record.id)
        with pytest.raises(Exception, match="(?i)unique|duplicate"):
            importer.commit_plan(plan, record, None, skip_invalid=False)
        db.session.rollback()
        assert db.session.get(ParticipantImport, record.id).status == "pending"
    assert list(_peserta(app)) == ["7322015506901400"]


# ---- the CLI ---------------------------------------------------------------------------------


def test_cli_dry_run_then_import_with_credentials(app, runner, wilayah, tmp_path):
    sheet = tmp_path / "peserta.xlsx"
    sheet.write_bytes(
        xlsx(
            [
                HEADER,
                person(1, "Satu", "7322015506910001"),
                person(
                    2,
                    "Dua",
                    "7322015506910002",
                    badan="PPK",
                    jabatan="Ketua",
                    kec="Bone Bone",
                    desa=None,
                ),
            ]
        )  # fmt: skip
    )
    dry = runner.invoke(args=["peserta", "import", str(sheet), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 baru, 0 diperbarui, 0 tidak berubah, 0 baris ditolak" in dry.output
    assert _peserta(app) == {}
    out = tmp_path / "sandi.xlsx"
    result = runner.invoke(args=["peserta", "import", str(sheet), "--credentials-out", str(out)])
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert book.sheetnames == ["Bone Bone", "Malangke"]
    rows = list(book["Malangke"].iter_rows(values_only=True))
    assert rows[3] == ("No", "Nama", "NIK (nama pengguna)", "Jabatan", "Desa/Kelurahan",
                       "Kata sandi awal")  # fmt: skip
    no, nama, nik, jabatan, desa, password = rows[4]
    assert (nama, nik, jabatan, desa) == (
        "Satu", "7322015506910001", "Anggota PPS", "Desa Pattimang"
    )  # fmt: skip
    assert book["Malangke"].cell(row=5, column=3).data_type == "s"
    with app.app_context():
        assert authenticate(nik, password) is not None
        db.session.rollback()


def test_cli_refuses_sheet_with_errors_unless_skip_invalid(app, runner, wilayah, tmp_path):
    sheet = tmp_path / "peserta.xlsx"
    sheet.write_bytes(xlsx([HEADER, person(1, "Satu", "7322015506910001"),
                            person(2, "Dua", 7322015506910002)]))  # fmt: skip
    result = runner.invoke(args=["peserta", "import", str(sheet)])
    assert result.exit_code == 1
    assert "Baris 3, kolom C (NIK): NIK tersimpan sebagai angka" in result.output
    assert "Tidak ada yang diimpor" in result.output
    assert _peserta(app) == {}
    result = runner.invoke(args=["peserta", "import", str(sheet), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert "Akun baru belum punya kata sandi awal" in result.output
    assert list(_peserta(app)) == ["7322015506910001"]
    not_xlsx = tmp_path / "peserta.csv"
    not_xlsx.write_text("Nama,NIK\n")
    result = runner.invoke(args=["peserta", "import", str(not_xlsx)])
    assert result.exit_code == 1 and "Bukan berkas .xlsx" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ParticipantImport)) == 1
