"""Dashboards and the rekap workbook, read back with openpyxl; on SQLite and PostgreSQL."""

import io
import zipfile
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from bimtek.accounts.models import User
from bimtek.attendance import service as attendance
from bimtek.extensions import db
from bimtek.learning.models import Course, ModuleProgress
from bimtek.quiz import stats
from bimtek.quiz.models import Attempt, Quiz
from bimtek.reports import queries
from bimtek.timeutil import utcnow
from bimtek.wilayah.models import Desa, Kecamatan
from tests.conftest import CORPUS

LONG_NAME = "Tanah/Air [Uji] Nama Kecamatan Yang Sangat Panjang"


@pytest.fixture
def world(app, demo, make_peserta, make_staff):
    """The demo course 1 (PPK, PPS, KPPS; four modules; pre and post) and participants with
    known progress in three kecamatan, one of them with a name openpyxl would refuse as a title."""
    make_staff("pelatih", "pelatih9", "rahasia-pelatih-9")
    with app.app_context():
        db.session.add(Kecamatan(kode="73.22.99", kabupaten_kode="73.22", nama=LONG_NAME))
        db.session.add(
            Desa(kode="73.22.99.2001", kecamatan_kode="73.22.99", nama="Uji", jenis="desa")
        )
        db.session.commit()
    people = {
        "a": make_peserta("Aminah", kecamatan="73.22.01", desa="73.22.01.2001"),
        "b": make_peserta("Baso", kecamatan="73.22.01", desa="73.22.01.2002"),
        "c": make_peserta("=HYPERLINK(\"http://x\",\"klik\")", kecamatan="73.22.99", desa="73.22.99.2001"),
        "d": make_peserta("Dewi Bel", kecamatan="73.22.03", desa="73.22.03.1001"),
    }  # fmt: skip
    with app.app_context():
        # Stored before names were checked for control characters: exports must still cope.
        db.session.get(User, people["d"]).nama = "Dewi\x07 Bel"
        db.session.commit()
        course = db.session.get(Course, 1)
        quizzes = {q.kind: q for q in db.session.scalars(select(Quiz).where(Quiz.course_id == 1))}
        versions = [cm.module.versions[-1] for cm in course.course_modules]

        def graded(user, kind, score, no=1):
            db.session.add(
                Attempt(
                    quiz_id=quizzes[kind].id, user_id=user, attempt_no=no, seed=1, status="submitted",
                    submitted_at=utcnow(), score=score, passed=score >= quizzes[kind].pass_mark,
                )
            )  # fmt: skip

        graded(people["a"], "pre", 40)
        graded(people["a"], "post", 60)
        graded(people["a"], "post", 85, no=2)  # the best post counts
        graded(people["b"], "pre", 50)
        graded(people["b"], "post", 50)
        for v in versions:
            db.session.add(
                ModuleProgress(user_id=people["a"], module_version_id=v.id, completed_at=utcnow())
            )
        db.session.add(
            ModuleProgress(
                user_id=people["b"], module_version_id=versions[0].id, completed_at=utcnow()
            )
        )
        db.session.add(
            ModuleProgress(user_id=people["b"], module_version_id=versions[1].id)
        )  # opened only
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        trainer = db.session.scalars(select(User).where(User.username == "pelatih9")).one()
        session = attendance.save_session(
            None,
            attendance.SessionData(
                course_id=1, title="Hari 1", venue="Aula", starts_at=utcnow() - timedelta(hours=1),
                ends_at=utcnow() + timedelta(hours=1), invite_kecamatan=["73.22.01"],
                invite_badan=["PPS"], trainer_ids=[trainer.id],
            ),
            admin,
        )  # fmt: skip
        attendance.mark(session, admin, [people["a"]], "hadir", None, utcnow())
        db.session.commit()
    return people


def rekap(client, path="/laporan/1/rekap.xlsx"):
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return load_workbook(io.BytesIO(response.data))


def table(ws):
    rows = list(ws.iter_rows())
    header = next(i for i, r in enumerate(rows) if r[0].value == "No")
    return [c.value for c in rows[header]], rows[header + 1 :]


def test_dashboard_per_kecamatan_and_drill_down(app, client, auth, world):
    auth.login("admin", "demo-admin-2029")
    page = client.get("/laporan?kursus=1").get_data(as_text=True)
    assert "Malangke" in page and LONG_NAME in page
    assert "<svg" in page and 'class="chart-bar"' in page
    # Malangke: demo PPK + PPS (2) and Aminah, Baso → 4 participants
    row = page[page.index("Malangke</a>") :].split("</tr>")[0]
    assert "<td>4</td>" in row
    page = client.get("/laporan/1/kecamatan/73.22.01").get_data(as_text=True)
    assert "Pattimang" in page and "Aminah" in page and "4/4" in page and "1/4" in page
    record = client.get(f"/laporan/1/peserta/{world['a']}").get_data(as_text=True)
    assert "Selesai (versi 1)" in record and "Hadir" in record
    assert "85" in record and "Tuntas" in record  # modules, post-test and attendance all met
    baso = client.get(f"/laporan/1/peserta/{world['b']}").get_data(as_text=True)
    assert "Belum lulus post-test" in baso and "Modul" in baso
    assert "7322014107" not in record  # NIK masked


def test_rekap_workbook_reads_back(app, client, auth, world):
    auth.login("admin", "demo-admin-2029")
    wb = rekap(client)
    assert wb.sheetnames[0] == "Ringkasan"
    assert all(len(t) <= 31 and "/" not in t for t in wb.sheetnames)
    assert len(wb.sheetnames) == 4  # summary + Malangke, Masamba, the long one
    summary = wb["Ringkasan"]
    assert "Bimtek Kode Etik" in summary["A1"].value and "Diekspor" in summary["A2"].value
    assert summary.freeze_panes == "C5" and summary.auto_filter.ref.startswith("A4:")
    assert len(summary._charts) == 1
    header, rows = table(summary)
    assert header[:4] == ["No", "Kecamatan", "Kode", "Peserta"]
    by_name = {r[1].value: r for r in rows}
    malangke = by_name["Malangke"]
    col = {name: i for i, name in enumerate(header)}
    assert malangke[col["Peserta"]].value == 4
    assert malangke[col["n berpasangan (pre dan post)"]].value == 2  # Aminah and Baso
    assert malangke[col["Rata-rata pre (berpasangan)"]].value == 45  # (40 + 50) / 2
    assert malangke[col["Rata-rata post (berpasangan)"]].value == 67.5  # (85 + 50) / 2
    assert malangke[col["Kehadiran"]].number_format == "0%"
    assert by_name["Jumlah"][col["Peserta"]].value == 6
    sheet = next(wb[t] for t in wb.sheetnames if t.startswith("Malangke"))
    header, rows = table(sheet)
    assert header == [
        "No", "Nama", "NIK", "Badan", "Jabatan", "Desa/Kelurahan", "Modul selesai (%)", "Pre-test",
        "Post-test", "N-gain", "Kehadiran", "Status", "Nomor sertifikat", "Pakta integritas",
    ]  # fmt: skip
    people = {r[1].value: r for r in rows}
    aminah = people["Aminah"]
    assert aminah[2].data_type == "s" and len(aminah[2].value) == 16  # NIK as text
    assert aminah[6].value == 1 and aminah[7].value == 40 and aminah[8].value == 85  # 4 of 4
    assert aminah[9].value == pytest.approx(0.75) and aminah[10].value == 1
    assert people["Baso"][6].value == 0.25 and people["Baso"][10].value == 0  # 1 of 4
    # "Modul selesai" is one measure on both sheets: a share, the summary its mean
    assert aminah[6].number_format == "0%"
    assert col["Modul selesai (rata-rata %)"] and malangke[col["Modul selesai (rata-rata %)"]]
    summary_modules = malangke[col["Modul selesai (rata-rata %)"]]
    assert summary_modules.number_format == "0%"
    shares = [r[6].value for r in rows]
    assert summary_modules.value == pytest.approx(sum(shares) / len(shares))


def test_injection_and_control_characters_are_written_as_plain_text(app, client, auth, world):
    payloads = [
        line for line in (CORPUS / "formula_injection.txt").read_text().splitlines() if line.strip()
    ][:40]
    with app.app_context():
        user = db.session.get(User, world["c"])
        for i, payload in enumerate(payloads):
            db.session.add(
                User(
                    nama=payload[:200], nik=f"73229920{i:08d}", password_hash="x", role="peserta",
                    badan="PPS", jabatan="Anggota", kecamatan_kode="73.22.99",
                    desa_kode="73.22.99.2001", must_change_password=False,
                )
            )  # fmt: skip
        db.session.commit()
        assert user.nama.startswith("=")
    auth.login("admin", "demo-admin-2029")
    wb = rekap(client)
    sheet = next(wb[t] for t in wb.sheetnames if t.startswith("Tanah-Air"))
    _, rows = table(sheet)
    names = [r[1] for r in rows]
    assert all(c.data_type == "s" for c in names), [c.value for c in names if c.data_type != "s"]
    risky = [c for c in names if c.value and c.value.startswith(("=", "+", "-", "@"))]
    assert risky and all(c.data_type == "s" for c in risky)
    masamba = next(wb[t] for t in wb.sheetnames if t.startswith("Masamba"))
    assert table(masamba)[1][0][1].value == "Dewi Bel"  # the bell character is gone


def test_split_zip_has_one_workbook_per_kecamatan(app, client, auth, world):
    auth.login("admin", "demo-admin-2029")
    response = client.get("/laporan/1/rekap-per-kecamatan.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = sorted(archive.namelist())
    assert len(names) == 3 and all(n.endswith(".xlsx") for n in names)
    one = load_workbook(io.BytesIO(archive.read(next(n for n in names if "73.22.01" in n))))
    assert one.sheetnames == ["Ringkasan", "Malangke"]


def test_trainers_see_only_their_sessions_participants(app, client, auth, world):
    auth.login("pelatih9", "rahasia-pelatih-9")
    page = client.get("/laporan?kursus=1").get_data(as_text=True)
    assert "Hanya peserta yang diundang" in page
    assert "Masamba" not in page and LONG_NAME not in page
    assert client.get(f"/laporan/1/peserta/{world['d']}").status_code == 404
    assert client.get(f"/laporan/1/peserta/{world['a']}").status_code == 200
    wb = rekap(client)
    names = [r[1].value for t in wb.sheetnames[1:] for r in table(wb[t])[1]]
    assert sorted(names) == ["Aminah", "Baso", "Muh. Rizal Pratama"]  # PPS of Malangke


def test_participants_and_strangers_are_kept_out(app, client, auth, world):
    assert client.get("/laporan").status_code == 302  # to sign-in
    auth.login("7322011203950002", "demo-peserta-2029")
    for path in ("/laporan", "/laporan/1/rekap.xlsx", f"/laporan/1/peserta/{world['a']}"):
        assert client.get(path).status_code == 403, path


def test_cli_export_with_split_dir(app, runner, world, tmp_path):
    result = runner.invoke(args=["export", "rekap", "--out", str(tmp_path / "r.xlsx")])
    assert result.exit_code == 1 and "--kursus" in result.output
    result = runner.invoke(
        args=["export", "rekap", "--kursus", "1", "--out", str(tmp_path / "r.xlsx"),
              "--split-dir", str(tmp_path / "per")]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # The CLI speaks for the whole database: Luwu Timur's kecamatan and its two participants too.
    assert "4 kecamatan, 8 peserta" in result.output
    assert load_workbook(tmp_path / "r.xlsx").sheetnames[0] == "Ringkasan"
    assert len(list((tmp_path / "per").glob("*.xlsx"))) == 4


def test_issued_certificates_and_pakta_reach_the_rekap(app, client, auth, world):
    from bimtek.certificates import service as certificates

    with app.app_context():
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        course = db.session.get(Course, 1)
        certificate = certificates.issue(course, db.session.get(User, world["a"]), admin)
        db.session.commit()
        number = certificate.number
    auth.login("admin", "demo-admin-2029")
    wb = rekap(client)
    sheet = next(wb[t] for t in wb.sheetnames if t.startswith("Malangke"))
    aminah = next(r for r in table(sheet)[1] if r[1].value == "Aminah")
    assert aminah[11].value == "Bersertifikat" and aminah[12].value == number
    header, rows = table(wb["Ringkasan"])
    malangke = next(r for r in rows if r[1].value == "Malangke")
    assert malangke[header.index("Sertifikat")].value == 1
    assert malangke[header.index("Tuntas")].value == 0.25  # one of four
    page = client.get(f"/laporan/1/peserta/{world['a']}").get_data(as_text=True)
    assert number in page


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(0, 100)),
            st.one_of(st.none(), st.floats(0, 100)),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_running_summary_matches_summarise_gains(rows):
    """The dashboards keep sums, not lists; the figures must equal the pure statistics."""
    summary = queries.Summary("k", "K")
    for i, (pre, post, passed) in enumerate(rows):
        summary.add(
            queries.Facts(i, "n", None, "PPS", "Anggota", "k", "K", None, None, 1, 2, pre, post,
                          passed if post is not None else None, None)
        )  # fmt: skip
    expected = stats.summarise_gains(
        (pre, post, passed if post is not None else None) for pre, post, passed in rows
    )
    got = summary.gains
    for name in ("participants", "with_both", "passed", "category"):
        assert getattr(got, name) == getattr(expected, name)
    for name in ("mean_pre", "mean_post", "mean_gain", "gain_of_means", "pass_rate"):
        a, b = getattr(got, name), getattr(expected, name)
        assert (a is None and b is None) or a == pytest.approx(b, rel=1e-9, abs=1e-9)


def test_a_total_merged_from_groups_equals_one_over_everyone():
    facts = [
        queries.Facts(i, "n", None, b, "Anggota", k, k, None, None, i % 3, 2, pre, post,
                      post is not None and post >= 70, att, i % 2 == 0)
        for i, (b, k, pre, post, att) in enumerate([
            ("PPS", "a", 40.0, 80.0, 1.0), ("PPK", "a", None, 60.0, None),
            ("PPS", "b", 55.0, None, 0.5), ("KPPS", "b", 90.0, 95.0, 0.0),
        ])
    ]  # fmt: skip
    whole, merged = queries.Summary("", "Jumlah"), queries.Summary("", "Jumlah")
    groups: dict[str, queries.Summary] = {}
    for f in facts:
        whole.add(f)
        groups.setdefault(f.kecamatan_kode, queries.Summary(f.kecamatan_kode, "")).add(f)
    for group in groups.values():
        merged.merge(group)
    assert merged.gains == whole.gains
    assert merged.by_badan == whole.by_badan
    assert (merged.modules_pct, merged.attendance_pct, merged.complete_pct) == (
        whole.modules_pct, whole.attendance_pct, whole.complete_pct,
    )  # fmt: skip


# --- Offices: reports that climb the tree (issue 13) ----------------------------------------


def _office_id(app, kode):
    from bimtek.offices.models import Office

    with app.app_context():
        return db.session.scalars(select(Office.id).where(Office.wilayah_kode == kode)).one()


@pytest.fixture
def province_course(app, world):
    """Course 1 made a Sulawesi Selatan course, run by Luwu Utara and Luwu Timur; Hasnawati
    (Luwu Timur, PPS) took both tests: 30 → 65."""
    sulsel = _office_id(app, "73")
    with app.app_context():
        db.session.get(Course, 1).office_id = sulsel
        quizzes = {q.kind: q for q in db.session.scalars(select(Quiz).where(Quiz.course_id == 1))}
        hasnawati = db.session.scalars(select(User).where(User.nik == "7324046302910004")).one()
        for kind, score in (("pre", 30), ("post", 65)):
            db.session.add(
                Attempt(
                    quiz_id=quizzes[kind].id, user_id=hasnawati.id, attempt_no=1, seed=1,
                    status="submitted", submitted_at=utcnow(), score=score,
                    passed=score >= quizzes[kind].pass_mark,
                )
            )  # fmt: skip
        db.session.commit()
        return {**world, "hasnawati": hasnawati.id}


def _row(page: str, name: str) -> str:
    return page[page.index(f"{name}</a>") :].split("</tr>")[0]


def test_province_dashboard_lists_each_kabupaten_with_its_numbers(client, auth, province_course):
    auth.login("admin-sulsel", "demo-sulsel-2029")
    page = client.get("/laporan?kursus=1").get_data(as_text=True)
    assert "Laporan per kabupaten/kota" in page
    lutra, lutim = _row(page, "Luwu Utara"), _row(page, "Luwu Timur")
    assert "<td>6</td>" in lutra and "<td>2</td>" in lutim  # participants in the audience
    assert "/laporan/1/wilayah/73.24" in page and "Malangke" not in page
    # Paired pre/post over both kabupaten: Aminah 40 → 85, Baso 50 → 50, Hasnawati 30 → 65.
    assert "n = 3 berpasangan" in page
    assert "40,0 → 66,7" in page  # means of the paired pre (40, 50, 30) and post (85, 50, 65)
    region = client.get("/laporan/1/wilayah/73.24").get_data(as_text=True)
    assert "Luwu Timur: laporan per kecamatan" in region and "Malili" in _row(region, "Malili")
    assert "n = 1 berpasangan" in region
    kecamatan = client.get("/laporan/1/kecamatan/73.24.04").get_data(as_text=True)
    assert "Hasnawati Lamba" in kecamatan and "Luwu Timur</a>" in kecamatan  # breadcrumb
    person = client.get(f"/laporan/1/peserta/{province_course['hasnawati']}")
    assert person.status_code == 200


def test_a_kabupaten_sees_only_its_own_participants_and_not_its_sibling(
    client, auth, province_course
):
    auth.login("admin-lutim", "demo-lutim-2029")
    page = client.get("/laporan?kursus=1").get_data(as_text=True)
    assert "Laporan per kecamatan" in page  # as a kabupaten always saw it
    assert "Malili" in page and "Malangke" not in page and "n = 1 berpasangan" in page
    assert client.get(f"/laporan/1/peserta/{province_course['hasnawati']}").status_code == 200
    for path in (
        "/laporan/1/kecamatan/73.22.01",  # a Luwu Utara kecamatan
        f"/laporan/1/peserta/{province_course['a']}",  # a Luwu Utara participant
        "/laporan/1/wilayah/73.22",
        "/laporan/1/wilayah/73",
        "/laporan/1/rekap.xlsx?kecamatan=73.22.01",
        "/laporan/1/rekap.xlsx?wilayah=73.22",
    ):
        assert client.get(path).status_code == 404, path
    wb = rekap(client)
    assert wb.sheetnames == ["Ringkasan", "Malili"]


def test_a_sibling_kabupaten_course_is_not_found(client, auth, world):
    auth.login("admin-lutim", "demo-lutim-2029")  # course 1 belongs to Luwu Utara
    for path in ("/laporan", "/laporan?kursus=1"):
        assert "Bimtek Kode Etik" not in client.get(path).get_data(as_text=True)
    for path in (
        "/laporan/1/kecamatan/73.24.04",
        "/laporan/1/rekap.xlsx",
        "/laporan/1/wilayah/73.24",
    ):
        assert client.get(path).status_code == 404, path


def test_province_rekap_zip_has_one_workbook_per_kabupaten(client, auth, province_course):
    auth.login("admin-sulsel", "demo-sulsel-2029")
    response = client.get("/laporan/1/rekap-per-kecamatan.zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = sorted(archive.namelist())
    assert len(names) == 3, names  # the summary and one per kabupaten/kota
    book = {n: load_workbook(io.BytesIO(archive.read(n))) for n in names}
    lutra = book[next(n for n in names if "73.22-" in n)]
    assert lutra.sheetnames[0] == "Ringkasan" and len(lutra.sheetnames) == 4
    header, rows = table(lutra["Ringkasan"])
    assert header[1] == "Kecamatan" and {r[1].value for r in rows} >= {"Malangke", "Masamba"}
    long_one = next(lutra[t] for t in lutra.sheetnames if t.startswith("Tanah-Air"))
    hostile = [r[1] for r in table(long_one)[1] if str(r[1].value).startswith("=")]
    assert hostile and all(c.data_type == "s" for c in hostile)  # formula-neutralised
    lutim = book[next(n for n in names if "73.24-" in n)]
    assert lutim.sheetnames == ["Ringkasan", "Malili"]
    _, rows = table(lutim["Malili"])
    assert sorted(r[1].value for r in rows) == ["Hasnawati Lamba", "Rahmat Tandirerung"]
    summary = book[next(n for n in names if "ringkasan" in n)]
    assert summary.sheetnames[0] == "Ringkasan" and len(summary.sheetnames) == 3
    header, rows = table(summary["Ringkasan"])
    assert header[1] == "Kabupaten/Kota"
    by_name = {r[1].value: r for r in rows}
    assert by_name["Kabupaten Luwu Utara"][3].value == 6
    assert by_name["Kabupaten Luwu Timur"][3].value == 2
    assert by_name["Jumlah"][3].value == 8
    paired = header.index("n berpasangan (pre dan post)")
    assert by_name["Kabupaten Luwu Timur"][paired].value == 1
    # The xlsx link of a province is the same summary workbook.
    wb = rekap(client)
    assert wb.sheetnames == summary.sheetnames


@pytest.mark.parametrize("login", ["admin-sulsel", "admin", "pelatih9"])
def test_database_sums_equal_the_per_participant_figures(app, province_course, login):
    """The dashboards' GROUP BY and the rekap's row-by-row sums agree, for every scope."""
    from bimtek.certificates import service as certificates
    from bimtek.reports import totals

    with app.app_context():
        course = db.session.get(Course, 1)
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        certificates.issue(course, db.session.get(User, province_course["a"]), admin)
        db.session.commit()
        user = db.session.scalars(select(User).where(User.username == login)).one()
        scope = queries.scope_for(user)
        groups, total, _ = queries.summarise(queries.course_facts(course, scope))
        sums = totals.breakdown(course, scope, totals.KECAMATAN)
        assert [(g.kode, g.nama) for g in sums.groups] == [(g.kode, g.nama) for g in groups]
        for got, expected in zip([*sums.groups, sums.total], [*groups, total], strict=True):
            assert got.participants == expected.participants
            assert got.by_badan == expected.by_badan
            assert (got.certificates, got.complete) == (expected.certificates, expected.complete)
            for name in ("modules_pct", "attendance_pct", "complete_pct"):
                a, b = getattr(got, name), getattr(expected, name)
                assert (a is None and b is None) or a == pytest.approx(b), name
            a, b = got.gains, expected.gains
            assert (a.with_both, a.passed, a.category) == (b.with_both, b.passed, b.category)
            for name in ("mean_pre", "mean_post", "mean_gain", "pass_rate"):
                x, y = getattr(a, name), getattr(b, name)
                assert (x is None and y is None) or x == pytest.approx(y), name


def test_kpu_ri_sees_each_province_then_its_kabupaten(app, client, auth, province_course):
    from bimtek.accounts.service import create_staff
    from bimtek.offices import service as offices
    from bimtek.offices.models import PUSAT, Office

    sulsel = _office_id(app, "73")
    with app.app_context():
        ri = offices.create_office(PUSAT, None)
        db.session.get(Office, sulsel).parent_id = ri.id
        create_staff("admin", "admin-ri", "Operator KPU RI", "rahasia-kpu-ri-2029", office_id=ri.id)
        db.session.commit()
    auth.login("admin-ri", "rahasia-kpu-ri-2029")
    page = client.get("/laporan?kursus=1").get_data(as_text=True)
    assert "Laporan per provinsi" in page and "<td>8</td>" in _row(page, "Sulawesi Selatan")
    region = client.get("/laporan/1/wilayah/73").get_data(as_text=True)
    assert "Provinsi Sulawesi Selatan: laporan per kabupaten/kota" in region
    assert "<td>2</td>" in _row(region, "Luwu Timur") and "n = 3 berpasangan" in region
    assert client.get("/laporan/1/kecamatan/73.22.01").status_code == 200
