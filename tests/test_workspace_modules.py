"""Workspace modules: drafts, preview, publish, history, diff, export round trip, permissions."""

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.http import parse_options_header

from bimtek.accounts.models import AuditLog
from bimtek.content.service import sync_content
from bimtek.extensions import db
from bimtek.learning.models import Course, CourseModule, Module, ModuleProgress, ModuleVersion
from bimtek.workspace.models import ModuleDraft
from tests.conftest import csrf_token, empty_all_tables
from tests.test_render import PAYLOADS, assert_safe

ROOT = Path(__file__).resolve().parent.parent

MODULE_FORM = {
    "title": "Tata Cara Pemungutan Suara",
    "sort_order": "7",
    "audience": ["KPPS", "PPS"],
    "estimated_minutes": "12",
    "sources": "PKPU 25/2023 Pasal 10\nUU 7/2017 Pasal 350",
    "body": "# Tata Cara\n\n## Persiapan TPS\n\nKPPS menyiapkan **bilik** suara.\n",
}


@pytest.fixture
def trainer(make_staff, auth):
    make_staff("pelatih", "pelatih1", "rahasia-pelatih-1", nama="Bu Rahmi")
    auth.login("pelatih1", "rahasia-pelatih-1")


def _new_module(client, post_form, action="simpan", **changes):
    data = {**MODULE_FORM, "slug": "tata-cara-pemungutan", "action": action, **changes}
    return post_form(client, "/ruang-kerja/modul/baru", data)


def _module(app, slug="tata-cara-pemungutan"):
    with app.app_context():
        return db.session.scalars(select(Module).where(Module.slug == slug)).one_or_none()


def test_new_module_draft_is_invisible_until_published(app, client, post_form, trainer):
    response = _new_module(client, post_form)
    assert response.status_code == 302 and "/ruang-kerja/draf/" in response.location
    assert _module(app) is None  # a draft makes no module participants could reach
    page = client.get(response.location).get_data(as_text=True)
    assert "Draf tersimpan" in page and "Tata Cara Pemungutan Suara" in page

    draft_url = response.location
    response = post_form(client, draft_url, {**MODULE_FORM, "action": "terbitkan"})
    assert response.status_code == 302
    module = _module(app)
    assert module.current_version_no == 1 and module.sort_order == 7
    with app.app_context():
        version = db.session.scalars(select(ModuleVersion)).one()
        assert version.source_path is None and version.author_id is not None
        assert "<strong>bilik</strong>" in version.html
        assert db.session.scalars(select(ModuleDraft)).all() == []
        actions = db.session.scalars(select(AuditLog.action)).all()
        assert {"module.draft_save", "module.publish"} <= set(actions)
    history = client.get(response.location).get_data(as_text=True)
    assert "Bu Rahmi" in history


def test_publish_makes_a_new_version_and_keeps_earlier_progress(
    app, client, post_form, content, trainer, make_peserta, auth
):
    module = _module(app, "kode-etik-penyelenggara")
    with app.app_context():
        course = Course(title="Bimtek KPPS", audience=["PPS"], hours_jp=2)
        course.course_modules.append(CourseModule(module_id=module.id, position=0))
        db.session.add(course)
        db.session.commit()
        course_id = course.id
    # A participant finished version 1.
    peserta_id = make_peserta()
    other = app.test_client()
    from tests.conftest import Auth

    peserta = Auth(other, post_form)
    with app.app_context():
        from bimtek.accounts.models import User

        nik = db.session.get(User, peserta_id).nik
    peserta.login(nik, "awal-rahasia-1")
    url = f"/kursus/{course_id}/modul/kode-etik-penyelenggara"
    assert other.get(url).status_code == 200
    post_form(other, url + "/selesai", {"version": "1"}, form_page=url)

    edit = f"/ruang-kerja/modul/{module.id}/sunting"
    page = client.get(edit).get_data(as_text=True)
    assert "Kode Etik Penyelenggara Pemilu" in page  # the editor opens with the published text
    form = {
        **MODULE_FORM,
        "title": "Kode Etik Penyelenggara Pemilu",
        "sort_order": "1",
        "audience": ["PPK", "PPS", "KPPS"],
        "body": "# Kode Etik\n\n## Perubahan 2029\n\nPasal baru tentang media sosial.\n",
        "action": "simpan",
    }
    post_form(client, edit, form)
    # Saving a draft changes nothing for participants.
    assert "Perubahan 2029" not in other.get(url).get_data(as_text=True)
    post_form(client, edit, {**form, "action": "terbitkan"})
    with app.app_context():
        module = db.session.get(Module, module.id)
        assert module.current_version_no == 2
        rows = db.session.scalars(
            select(ModuleProgress).where(ModuleProgress.user_id == peserta_id)
        ).all()
        assert [r.module_version.version_no for r in rows if r.completed_at] == [1]
    page = other.get(url).get_data(as_text=True)
    assert "Perubahan 2029" in page
    assert "Anda sudah menyelesaikan versi 1" in page and "Versi 2 berisi pembaruan" in page

    # Publishing the same text again makes no version.
    post_form(client, edit, {**form, "action": "terbitkan"})
    response = post_form(client, edit, {**form, "action": "terbitkan"})
    assert "Tidak ada perubahan" in response.get_data(as_text=True)
    assert _module(app, "kode-etik-penyelenggara").current_version_no == 2

    # History and a readable, escaped diff.
    diff = client.get(f"/ruang-kerja/modul/{module.id}/beda?dari=1&ke=2").get_data(as_text=True)
    assert '<span class="diff-add">+## Perubahan 2029</span>' in diff
    assert 'class="diff-del">-' in diff


def test_diff_escapes_markup(app, client, post_form, trainer):
    _new_module(client, post_form, action="terbitkan")
    module = _module(app)
    edit = f"/ruang-kerja/modul/{module.id}/sunting"
    body = "# T\n\n<script>alert(1)</script> <img src=x onerror=alert(2)>\n"
    post_form(client, edit, {**MODULE_FORM, "body": body, "action": "terbitkan"})
    diff = client.get(f"/ruang-kerja/modul/{module.id}/beda?dari=1&ke=2").get_data(as_text=True)
    assert "<script>alert(1)" not in diff and "&lt;script&gt;alert(1)&lt;/script&gt;" in diff
    assert "<img" not in diff
    with app.app_context():
        html = db.session.scalars(select(ModuleVersion.html).where(ModuleVersion.version_no == 2))
        html = html.one()
    assert "<script" not in html and "onerror" not in html and "<img" not in html


def test_preview_endpoint_sanitises_every_payload(app, client, trainer):
    token = client.get("/ruang-kerja/modul/baru").get_data(as_text=True)
    token = token.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert len(PAYLOADS) > 250
    for _origin, payload in PAYLOADS[::3]:
        response = client.post(
            "/ruang-kerja/pratinjau",
            data={"csrf_token": token, "body": payload},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 200
        html = response.get_json()["html"]
        assert_safe(html)
        lowered = html.lower()
        assert "<script" not in lowered and "<iframe" not in lowered and "<svg" not in lowered


XSS_MARKDOWN = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[klik](javascript:alert(1))",
    "[klik](JaVaScRiPt&#58;alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<svg onload="alert(1)"><circle r="5"/></svg>',
    '<iframe src="https://evil.example"></iframe>',
    '<p style="background:url(javascript:alert(1))">gaya</p>',
    "<style>body{display:none}</style>",
    '<a href="vbscript:msgbox(1)">vb</a>',
    "![gambar](x){: onerror=alert(1) }",
    '<div onmouseover="alert(1)">arahkan</div>',
    "<math><mtext><script>alert(1)</script></mtext></math>",
    '<object data="javascript:alert(1)"></object>',
    '<form action="javascript:alert(1)"><button>kirim</button></form>',
]


@pytest.mark.parametrize("payload", XSS_MARKDOWN)
def test_publish_path_and_no_js_preview_neutralise_payload(
    app, client, post_form, trainer, payload
):
    body = f"# Judul\n\n## Bagian\n\n{payload}\n"
    response = _new_module(client, post_form, action="pratinjau", body=body)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    preview = page.split('id="preview">')[1].split("</article>")[0]
    assert_safe(preview)
    response = _new_module(client, post_form, action="terbitkan", body=body)
    assert response.status_code == 302
    with app.app_context():
        html = db.session.scalars(select(ModuleVersion.html)).one()
    assert_safe(html)
    lowered = html.lower()
    for bad in ("<script", "<iframe", "<svg", "<style", "<object", "<form", "javascript:",
                "data:text", "onerror", "onload", "onmouseover", "style="):  # fmt: skip
        assert bad not in lowered, (bad, html)


def test_refused_drafts_say_why(app, client, post_form, trainer):
    response = _new_module(client, post_form, slug="Bukan Slug!")
    assert response.status_code == 400
    assert "Slug hanya boleh huruf kecil" in response.get_data(as_text=True)
    response = _new_module(client, post_form, audience=[])
    assert "Pilih minimal satu badan sasaran." in response.get_data(as_text=True)
    _new_module(client, post_form, action="terbitkan")
    response = _new_module(client, post_form)
    assert "sudah dipakai modul lain" in response.get_data(as_text=True)


def test_upload_md_file_becomes_a_draft(app, client, post_form, content, trainer):
    text = (ROOT / "modules" / "03-netralitas-penyelenggara.md").read_text(encoding="utf-8")
    text = text.replace("---\n\n", "---\n\n## Tambahan dari berkas\n\nIsi baru.\n\n", 1)
    module = _module(app, "netralitas-penyelenggara")
    url = f"/ruang-kerja/modul/{module.id}/unggah"
    from io import BytesIO

    response = post_form(
        client,
        url,
        {"file": (BytesIO(text.encode()), "03-netralitas-penyelenggara.md")},
        form_page=f"/ruang-kerja/modul/{module.id}/sunting",
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Berkas dimuat sebagai draf" in page and "Tambahan dari berkas" in page
    assert _module(app, "netralitas-penyelenggara").current_version_no == 1

    # A file of another module, and a broken one, are refused with the reason.
    other = (ROOT / "modules" / "01-kode-etik-penyelenggara.md").read_bytes()
    response = post_form(
        client,
        url,
        {"file": (BytesIO(other), "01-kode-etik-penyelenggara.md")},
        form_page=f"/ruang-kerja/modul/{module.id}/sunting",
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "berbeda dengan modul ini" in response.get_data(as_text=True)
    response = post_form(
        client,
        url,
        {"file": (BytesIO(b"---\nslug: x\n"), "rusak.md")},
        form_page=f"/ruang-kerja/modul/{module.id}/sunting",
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "front matter tidak ditutup" in response.get_data(as_text=True)


def test_export_round_trip_on_another_installation(app, client, post_form, trainer, tmp_path):
    body = "# Tata Cara\n\n## Persiapan\n\nTabel:\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n\n[^1]\n\n[^1]: Catatan.\n"
    _new_module(client, post_form, action="terbitkan", body=body, title="Judul: dengan titik dua")
    module = _module(app)
    response = client.get(f"/ruang-kerja/modul/{module.id}/ekspor")
    assert response.status_code == 200
    assert parse_options_header(response.headers["Content-Disposition"]) == (
        "attachment",
        {"filename": "07-tata-cara-pemungutan.md"},
    )
    exported = response.get_data()
    with app.app_context():
        here = db.session.scalars(select(ModuleVersion)).one()
        fields = (here.sha256, here.title, here.audience, here.estimated_minutes, here.sources,
                  here.source_text, here.html, here.toc, here.word_count)  # fmt: skip

    # Another installation: an empty database and a content folder holding only the export.
    empty_all_tables(app)
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / "07-tata-cara-pemungutan.md").write_bytes(exported)
    with app.app_context():
        report = sync_content(tmp_path)
        assert report.ok, report.errors
        db.session.commit()
        there = db.session.scalars(select(ModuleVersion)).one()
        assert (there.sha256, there.title, there.audience, there.estimated_minutes, there.sources,
                there.source_text, there.html, there.toc, there.word_count) == fields  # fmt: skip
        assert there.module.slug == "tata-cara-pemungutan" and there.module.sort_order == 7


def test_export_of_a_shipped_module_is_the_file(app, client, content, trainer):
    module = _module(app, "kode-etik-penyelenggara")
    response = client.get(f"/ruang-kerja/modul/{module.id}/ekspor")
    assert response.get_data() == (ROOT / "modules" / "01-kode-etik-penyelenggara.md").read_bytes()


@pytest.fixture
def content_copy(tmp_path, app_config):
    shutil.copytree(ROOT / "modules", tmp_path / "modules")
    shutil.copytree(ROOT / "quizzes", tmp_path / "quizzes")
    app_config["BIMTEK_CONTENT_DIR"] = str(tmp_path)
    return tmp_path


def test_sync_keeps_browser_edit_over_unchanged_file_and_takes_a_changed_file(
    content_copy, app, client, post_form, trainer
):
    with app.app_context():
        sync_content(content_copy)
        db.session.commit()
    module = _module(app, "netralitas-penyelenggara")
    edit = f"/ruang-kerja/modul/{module.id}/sunting"
    form = {
        **MODULE_FORM,
        "title": "Netralitas (disunting)",
        "sort_order": "3",
        "action": "terbitkan",
    }
    post_form(client, edit, form)
    assert _module(app, "netralitas-penyelenggara").current_version_no == 2

    with app.app_context():
        report = sync_content(content_copy)
        db.session.commit()
    assert report.kept_browser_edits == ["netralitas-penyelenggara"]
    module = _module(app, "netralitas-penyelenggara")
    assert module.current_version_no == 2 and module.title == "Netralitas (disunting)"

    # The office changes the file in git: that is a deliberate new text, it becomes version 3;
    # the browser's version stays in the history.
    path = content_copy / "modules" / "03-netralitas-penyelenggara.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nParagraf baru dari berkas.\n", "utf-8")
    with app.app_context():
        report = sync_content(content_copy)
        db.session.commit()
    assert report.updated == ["netralitas-penyelenggara"]
    module = _module(app, "netralitas-penyelenggara")
    assert module.current_version_no == 3
    with app.app_context():
        authors = db.session.scalars(
            select(ModuleVersion.author_id)
            .where(ModuleVersion.module_id == module.id)
            .order_by(ModuleVersion.version_no)
        ).all()
    assert authors[0] is None and authors[1] is not None and authors[2] is None


def test_exported_browser_version_synced_here_is_unchanged(
    content_copy, app, client, post_form, trainer
):
    with app.app_context():
        sync_content(content_copy)
        db.session.commit()
    module = _module(app, "netralitas-penyelenggara")
    post_form(
        client,
        f"/ruang-kerja/modul/{module.id}/sunting",
        {**MODULE_FORM, "sort_order": "3", "action": "terbitkan"},
    )
    exported = client.get(f"/ruang-kerja/modul/{module.id}/ekspor").get_data()
    (content_copy / "modules" / "03-netralitas-penyelenggara.md").write_bytes(exported)
    with app.app_context():
        report = sync_content(content_copy)
        db.session.commit()
    assert "netralitas-penyelenggara" in report.unchanged
    assert _module(app, "netralitas-penyelenggara").current_version_no == 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/ruang-kerja/"),
        ("get", "/ruang-kerja/modul/baru"),
        ("get", "/ruang-kerja/modul/1/sunting"),
        ("get", "/ruang-kerja/modul/1/versi"),
        ("get", "/ruang-kerja/modul/1/beda?dari=1&ke=1"),
        ("get", "/ruang-kerja/modul/1/ekspor"),
        ("get", "/ruang-kerja/modul/1/soal"),
        ("get", "/ruang-kerja/modul/1/soal/ekspor.yaml"),
        ("get", "/ruang-kerja/modul/1/soal/ekspor.xlsx"),
        ("post", "/ruang-kerja/pratinjau"),
        ("post", "/ruang-kerja/modul/1/soal/impor"),
        ("post", "/ruang-kerja/modul/1/materi"),
    ],
)
def test_only_pelatih_and_admin_reach_the_workspace(
    app, client, content, make_peserta, auth, method, path
):
    if method == "get":
        assert client.get(path).status_code == 302  # signed out: to the sign-in page
    peserta_id = make_peserta()
    with app.app_context():
        from bimtek.accounts.models import User

        nik = db.session.get(User, peserta_id).nik
    auth.login(nik, "awal-rahasia-1")
    if method == "get":
        assert client.get(path).status_code == 403
    else:
        token = csrf_token(client, "/")
        assert client.post(path, data={"csrf_token": token}).status_code == 403


def test_missing_objects_are_404(app, client, content, trainer):
    assert client.get("/ruang-kerja/modul/999/sunting").status_code == 404
    assert client.get("/ruang-kerja/modul/999/versi").status_code == 404
    assert client.get("/ruang-kerja/draf/999").status_code == 404
    assert client.get("/ruang-kerja/modul/1/beda?dari=1&ke=9").status_code == 404
    assert client.get("/ruang-kerja/modul/1/ekspor?versi=9").status_code == 404
    assert client.get("/ruang-kerja/soal/99999/ubah").status_code == 404


def test_nav_links_the_workspace_for_staff_only(app, client, trainer):
    assert "Ruang kerja" in client.get("/").get_data(as_text=True)
