"""Question banks in the browser: add, edit, retire; YAML and xlsx import (dry run) and export."""

import io
import re
import shutil
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from bimtek.accounts.models import AuditLog
from bimtek.content.banks import parse_bank
from bimtek.content.service import sync_content
from bimtek.extensions import db
from bimtek.learning.models import Module
from bimtek.quiz.models import Question, QuestionVersion
from bimtek.workspace.bankxlsx import HEADERS
from tests.conftest import Auth

ROOT = Path(__file__).resolve().parent.parent
SLUG = "kode-etik-penyelenggara"

NEW_QUESTION = {
    "qid": "ke-901",
    "type": "multiple",
    "topic": "netralitas",
    "difficulty": "sedang",
    "stem": "Mana saja yang **dilarang** bagi anggota KPPS?",
    "option_a": "Mengunggah dukungan untuk calon",
    "option_b": "Menghadiri rapat pleno",
    "option_c": "Menerima hadiah dari tim kampanye",
    "answer": "a, c",
    "explanation": "Keduanya melanggar kewajiban netral.",
    "source": "Peraturan DKPP 2/2017 Pasal 8",
}


@pytest.fixture
def trainer(make_staff, auth, content):
    make_staff("pelatih", "pelatih1", "rahasia-pelatih-1", nama="Pak Amir")
    auth.login("pelatih1", "rahasia-pelatih-1")


def module_id(app, slug=SLUG):
    with app.app_context():
        return db.session.scalars(select(Module.id).where(Module.slug == slug)).one()


def question(app, qid):
    with app.app_context():
        return db.session.scalars(select(Question).where(Question.qid == qid)).one()


def test_add_edit_and_retire_a_question(app, client, post_form, trainer):
    mid = module_id(app)
    response = post_form(client, f"/ruang-kerja/modul/{mid}/soal/baru", NEW_QUESTION)
    assert response.status_code == 302
    q = question(app, "ke-901")
    with app.app_context():
        version = db.session.scalars(
            select(QuestionVersion).where(QuestionVersion.question_id == q.id)
        ).one()
        assert version.type == "multiple" and version.answer == ["a", "c"]
        assert "<strong>dilarang</strong>" in version.stem_html and version.author_id is not None
    edit = f"/ruang-kerja/soal/{q.id}/ubah"
    page = client.get(edit).get_data(as_text=True)
    assert "Menerima hadiah dari tim kampanye" in page and "a, c" in page
    # Saving unchanged makes no version; a change makes version 2.
    form = {k: v for k, v in NEW_QUESTION.items() if k != "qid"}
    post_form(client, edit, form)
    assert question(app, "ke-901").current_version_no == 1
    post_form(client, edit, {**form, "answer": "a"})
    assert question(app, "ke-901").current_version_no == 2

    response = post_form(
        client, f"/ruang-kerja/soal/{q.id}/pensiun", {"retire": "1"}, form_page=edit
    )
    assert response.status_code == 302
    assert question(app, "ke-901").retired
    with app.app_context():
        actions = db.session.scalars(select(AuditLog.action)).all()
    assert {"question.create", "question.update", "question.retire"} <= set(actions)


@pytest.mark.parametrize(
    ("changes", "field_message"),
    [
        ({"answer": "a, b, c"}, "semua pilihan benar"),
        ({"answer": "e"}, "jawaban &#39;e&#39; tidak ada di antara pilihan"),
        (
            {"qid": "ke-001"},
            "Id &#39;ke-001&#39; sudah dipakai di bank soal modul kode-etik-penyelenggara",
        ),
        ({"qid": "Bukan Id"}, "hanya boleh huruf kecil"),
        ({"explanation": "Pilihan b salah."}, "merujuk huruf pilihan"),
        (
            {"type": "true_false", "answer": "mungkin"},
            "answer soal true_false harus true atau false",
        ),
        ({"stem": ""}, "kolom &#39;stem&#39; wajib diisi"),
    ],
)
def test_refused_question_says_what_is_wrong(
    app, client, post_form, trainer, changes, field_message
):
    mid = module_id(app)
    response = post_form(client, f"/ruang-kerja/modul/{mid}/soal/baru", {**NEW_QUESTION, **changes})
    assert response.status_code == 400
    assert field_message in response.get_data(as_text=True)


def test_yaml_export_round_trips_every_shipped_bank(app, client, trainer):
    for path in sorted((ROOT / "quizzes").glob("*.yaml")):
        slug = path.stem
        response = client.get(f"/ruang-kerja/modul/{module_id(app, slug)}/soal/ekspor.yaml")
        assert response.status_code == 200
        exported = response.get_data(as_text=True)
        original, errors = parse_bank(path.name, path.read_text(encoding="utf-8"), None, {})
        again, errors_again = parse_bank(path.name, exported, None, {})
        assert not errors and not errors_again
        assert {q.qid: q.sha256 for q in again.questions} == {
            q.qid: q.sha256 for q in original.questions
        }


def test_yaml_import_dry_run_then_apply(app, client, post_form, trainer, make_staff):
    mid = module_id(app)
    exported = client.get(f"/ruang-kerja/modul/{mid}/soal/ekspor.yaml").get_data(as_text=True)
    data = yaml.safe_load(exported)
    data["questions"][0]["stem"] = "Pertanyaan yang diperbarui?"
    removed = data["questions"].pop()["id"]
    data["questions"].append({**data["questions"][1], "id": "ke-950"})
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    response = post_form(
        client,
        f"/ruang-kerja/modul/{mid}/soal/impor",
        {"file": (io.BytesIO(text.encode()), f"{SLUG}.yaml")},
        form_page=f"/ruang-kerja/modul/{mid}/soal",
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 soal baru" in page and "ke-950" in page and "1 soal berubah" in page
    assert f'1 soal dipensiunkan (tidak ada di berkas): <span class="mono small">{removed}' in page
    # Dry run: nothing written yet; the checked text stays on the server, the page carries its
    # token only (what is applied is what was previewed).
    with app.app_context():
        assert db.session.scalars(select(Question).where(Question.qid == "ke-950")).first() is None
    assert "Pertanyaan yang diperbarui?" not in page.split("<form", 1)[-1]
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    apply = f"/ruang-kerja/modul/{mid}/soal/terapkan"
    # Another trainer cannot apply it.
    other = app.test_client()
    make_staff("pelatih", "pelatih2", "rahasia-pelatih-2")
    Auth(other, post_form).login("pelatih2", "rahasia-pelatih-2")
    refused = post_form(other, apply, {"token": token}, form_page=f"/ruang-kerja/modul/{mid}/soal",
                        follow_redirects=True)  # fmt: skip
    assert "sudah diterapkan atau kedaluwarsa" in refused.get_data(as_text=True)
    assert question(app, removed).retired is False
    response = post_form(client, apply, {"token": token}, form_page=f"/ruang-kerja/modul/{mid}/soal",
                         follow_redirects=True)  # fmt: skip
    assert "1 soal baru, 1 versi baru, 1 dipensiunkan" in response.get_data(as_text=True)
    assert question(app, removed).retired
    assert question(app, "ke-950").module_id == mid
    # Applied once: the token is spent.
    again = post_form(client, apply, {"token": token}, form_page=f"/ruang-kerja/modul/{mid}/soal",
                      follow_redirects=True)  # fmt: skip
    assert "sudah diterapkan atau kedaluwarsa" in again.get_data(as_text=True)


def test_yaml_import_errors_name_the_line_and_write_nothing(app, client, post_form, trainer):
    mid = module_id(app)
    text = f"module: {SLUG}\nquestions:\n  - id: ke-001\n    type: single\n    answer: z\n"
    response = post_form(
        client,
        f"/ruang-kerja/modul/{mid}/soal/impor",
        {"file": (io.BytesIO(text.encode()), "bank.yaml")},
        form_page=f"/ruang-kerja/modul/{mid}/soal",
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "bank.yaml baris 3" in page and "kolom &#39;stem&#39; wajib diisi" in page
    # An id of another module's bank may not be moved here by an import.
    other = yaml.safe_load((ROOT / "quizzes" / "netralitas-penyelenggara.yaml").read_text("utf-8"))
    qid = other["questions"][0]["id"]
    text = yaml.safe_dump(
        {"module": SLUG, "questions": [other["questions"][0]]}, allow_unicode=True
    )
    response = post_form(
        client,
        f"/ruang-kerja/modul/{mid}/soal/impor",
        {"file": (io.BytesIO(text.encode()), "bank.yaml")},
        form_page=f"/ruang-kerja/modul/{mid}/soal",
        content_type="multipart/form-data",
    )
    assert f"id &#39;{qid}&#39; sudah dipakai di bank soal modul netralitas-penyelenggara" in (
        response.get_data(as_text=True)
    )


def test_xlsx_export_import_round_trip_and_formula_cells(app, client, post_form, trainer):
    mid = module_id(app)
    # A stem that a spreadsheet would run as a formula.
    post_form(
        client,
        f"/ruang-kerja/modul/{mid}/soal/baru",
        {**NEW_QUESTION, "stem": '=HYPERLINK("http://evil.example","klik")', "topic": "+cmd"},
    )
    response = client.get(f"/ruang-kerja/modul/{mid}/soal/ekspor.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.data))
    sheet = workbook["Bank soal"]
    assert [c.value for c in sheet[1]] == HEADERS
    rows = {r[0].value: r for r in sheet.iter_rows(min_row=2)}
    injected = rows["ke-901"]
    assert injected[2].value == '=HYPERLINK("http://evil.example","klik")'
    assert injected[2].data_type == "s" and injected[11].data_type == "s"  # text, not formula
    assert injected[8].value == "a, c"

    # Re-importing the export changes nothing.
    response = post_form(
        client,
        f"/ruang-kerja/modul/{mid}/soal/impor",
        {"file": (io.BytesIO(response.data), "bank.xlsx")},
        form_page=f"/ruang-kerja/modul/{mid}/soal",
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    plan = page.split('data-testid="import-plan">')[1].split("</ul>")[0]
    assert "0 soal baru" in plan and "0 soal berubah" in plan and "0 soal dipensiunkan" in plan, (
        plan
    )


def test_xlsx_template_and_row_errors(app, client, post_form, trainer):
    mid = module_id(app)
    template = client.get("/ruang-kerja/templat-bank-soal.xlsx")
    workbook = load_workbook(io.BytesIO(template.data))
    assert [c.value for c in workbook["Bank soal"][1]] == HEADERS
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    sheet.append(["ke-960", "single", "Soal?", "Ya", "Tidak", None, None, None, "c", "Karena.",
                  "UU 7/2017", "asas", "mudah"])  # fmt: skip
    sheet.append(["ke-961", "ganda", "Soal?", "Ya", "Tidak", None, None, None, "a", "Karena.",
                  "UU 7/2017", "asas", "mudah"])  # fmt: skip
    sheet.append(["ke-960", "true_false", "Soal?", None, None, None, None, None, "benar",
                  "Karena.", "UU 7/2017", "asas", "mudah"])  # fmt: skip
    out = io.BytesIO()
    workbook.save(out)
    response = post_form(
        client,
        f"/ruang-kerja/modul/{mid}/soal/impor",
        {"file": (io.BytesIO(out.getvalue()), "soal.xlsx")},
        form_page=f"/ruang-kerja/modul/{mid}/soal",
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "soal.xlsx baris 2, kolom I (answer): soal ke-960: jawaban &#39;c&#39; tidak ada" in page
    assert "soal.xlsx baris 3, kolom B (type): type &#39;ganda&#39; tidak dikenal" in page
    assert "soal.xlsx baris 4, kolom A (id): id &#39;ke-960&#39; sudah dipakai di baris 2" in page
    with app.app_context():
        assert db.session.scalars(select(Question).where(Question.qid == "ke-961")).first() is None


def test_xlsx_bomb_and_non_xlsx_are_refused(app, client, post_form, trainer):
    import zipfile

    mid = module_id(app)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", "0" * (60 * 1024 * 1024))
    for data, message in ((out.getvalue(), "terlalu besar setelah dibuka"),
                          (b"bukan zip", "Bukan berkas .xlsx")):  # fmt: skip
        response = post_form(
            client,
            f"/ruang-kerja/modul/{mid}/soal/impor",
            {"file": (io.BytesIO(data), "soal.xlsx")},
            form_page=f"/ruang-kerja/modul/{mid}/soal",
            content_type="multipart/form-data",
        )
        assert response.status_code == 400 and message in response.get_data(as_text=True)


@pytest.fixture
def content_copy(tmp_path, app_config):
    shutil.copytree(ROOT / "modules", tmp_path / "modules")
    shutil.copytree(ROOT / "quizzes", tmp_path / "quizzes")
    app_config["BIMTEK_CONTENT_DIR"] = str(tmp_path)
    return tmp_path


def test_sync_keeps_browser_question_edits_while_the_file_is_unchanged(
    content_copy, app, client, post_form, make_staff, auth
):
    with app.app_context():
        sync_content(content_copy)
        db.session.commit()
    make_staff("admin", "admin1", "rahasia-admin-1")
    auth.login("admin1", "rahasia-admin-1")
    mid = module_id(app)
    post_form(client, f"/ruang-kerja/modul/{mid}/soal/baru", NEW_QUESTION)
    edited = question(app, "ke-002")
    post_form(
        client,
        f"/ruang-kerja/soal/{edited.id}/pensiun",
        {"retire": "1"},
        form_page=f"/ruang-kerja/modul/{mid}/soal",
    )
    with app.app_context():
        report = sync_content(content_copy)
        db.session.commit()
    assert report.questions_retired == 0 and "ke-002" in report.kept_browser_edits
    assert question(app, "ke-002").retired  # still retired
    assert not question(app, "ke-901").retired  # written in the browser, not retired by the file
