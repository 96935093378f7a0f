"""Item checks: surface cues a test-wise guesser would use, in `bimtek content check` and in the
trainer's question form."""

import pytest
import yaml
from sqlalchemy import select

from bimtek.content import itemcheck
from bimtek.extensions import db
from bimtek.learning.models import Module
from bimtek.quiz.models import Question


def single(qid, key, options, difficulty="sedang", stem=None):
    return {
        "id": qid,
        "type": "single",
        "difficulty": difficulty,
        "stem": stem or f"Pertanyaan tentang hal nomor {qid} yang berbeda",
        "options": options,
        "answer": key,
    }


def true_false(qid, answer, stem):
    return {"id": qid, "type": "true_false", "difficulty": "sedang", "stem": stem, "answer": answer}


EVEN = {"a": "Melapor ke PPK", "b": "Melapor ke PPS", "c": "Diam saja dulu", "d": "Bertanya ke KPU"}


def test_key_longest_and_lone_strict_key_are_recognised():
    long_key = single(
        "x-1", "b", {"a": "Ya", "b": "Menyatakan secara terbuka di rapat pleno", "c": "Tidak"}
    )
    assert itemcheck.key_is_longest(long_key)
    assert not itemcheck.key_is_longest(single("x-2", "a", EVEN))
    hedged = single(
        "x-3",
        "a",
        {
            "a": "Menolak pemberian itu",
            "b": "Menerima asalkan nilainya kecil",
            "c": "Menerima selama tidak diumumkan",
            "d": "Menerima lalu melapor",
        },
    )
    assert itemcheck.lone_strict_key(hedged)
    hedged_key = {**hedged, "answer": "b"}
    assert not itemcheck.lone_strict_key(hedged_key)


def test_bank_figures_flag_each_cue():
    entries = [
        single(f"x-{i}", "a", {"a": "Jawaban yang jauh lebih panjang", "b": "Tidak", "c": "Ya"})
        for i in range(8)
    ]
    entries += [
        true_false("t-1", False, "Anggota PPS selalu boleh menerima hadiah"),
        true_false("t-2", False, "Sanksi otomatis dijatuhkan tanpa pemeriksaan"),
        true_false("t-3", False, "Hanya ketua yang terikat kode etik"),
        true_false("t-4", True, "Anggota KPPS terikat kode etik penyelenggara"),
    ]
    figures = itemcheck.bank_figures("quizzes/x.yaml", entries)
    assert figures.key_longest == 8 and figures.single == 8
    assert (figures.true_count, figures.false_count) == (1, 3)
    assert figures.absolute_gap == 1.0
    text = " | ".join(figures.problems)
    for expected in ("hanya 12 soal", "soal sulit 0%", "pilihan terpanjang pada 100%",
                     "tidak seimbang", "kata mutlak"):  # fmt: skip
        assert expected in text, text


def test_a_balanced_bank_has_no_problems():
    keys = "abcd"
    entries = [
        single(f"y-{i}", keys[i % 4], EVEN, difficulty="sulit" if i % 3 == 0 else "sedang",
               stem=f"Kasus {i}: {' '.join(f'kata{i}x{j}' for j in range(6))}")
        for i in range(26)
    ]  # fmt: skip
    entries += [
        true_false("t-1", True, "Semua anggota KPPS terikat kode etik penyelenggara"),
        true_false("t-2", False, "Ketua PPS dapat memberhentikan anggota PPS"),
        true_false("t-3", True, "Laporan dugaan pelanggaran dapat datang dari masyarakat"),
        true_false("t-4", False, "PPK selalu memutus sendiri pengaduan terhadap anggotanya"),
    ]
    figures = itemcheck.bank_figures("quizzes/y.yaml", entries)
    assert figures.problems == []
    assert itemcheck.near_duplicates([(e["id"], e) for e in entries]) == []


def test_near_duplicates_across_banks():
    a = single(
        "ke-1",
        "a",
        {"a": "Menyatakan hubungan keluarga secara terbuka dalam rapat pleno", "b": "x"},
        stem="Anggota PPS mengetahui adiknya menjadi calon kepala desa. Apa yang harus dilakukan?",
    )
    b = single(
        "kp-9",
        "a",
        {"a": "Menyatakan hubungan keluarga secara terbuka dalam rapat pleno", "b": "y"},
        stem="Adiknya menjadi calon kepala desa; apa yang harus dilakukan anggota PPS?",
    )
    c = single("nt-3", "a", EVEN, stem="Kapan rekapitulasi di kecamatan dimulai menurut jadwal?")
    found = itemcheck.near_duplicates([("ke-1", a), ("kp-9", b), ("nt-3", c)])
    assert [(d.first, d.second) for d in found] == [("ke-1", "kp-9")]


def test_content_check_fails_on_cues_and_reports_figures(app, runner, tmp_path):
    (tmp_path / "modules").mkdir()
    (tmp_path / "quizzes").mkdir()
    (tmp_path / "modules" / "01-contoh.md").write_text(
        "---\nslug: contoh\ntitle: Contoh\norder: 1\naudience: [PPS]\nestimated_minutes: 5\n"
        'sources: ["UU 7/2017"]\n---\n\n# Contoh\n\nTeks.\n',
        encoding="utf-8",
    )
    questions = [
        {**single(f"c-{i:03d}", "a", {"a": "Jawaban yang jauh lebih panjang dari lainnya", "b": "Tidak", "c": "Ya"}),
         "topic": "t", "explanation": "Karena aturan.", "source": "UU 7/2017"}
        for i in range(5)
    ]  # fmt: skip
    (tmp_path / "quizzes" / "contoh.yaml").write_text(
        yaml.safe_dump({"module": "contoh", "questions": questions}, allow_unicode=True),
        encoding="utf-8",
    )
    app.config["BIMTEK_CONTENT_DIR"] = str(tmp_path)
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1
    assert "quizzes/contoh.yaml: 5 soal" in result.output
    assert "hanya 5 soal (minimal 30)" in result.output
    assert "pilihan terpanjang pada 100%" in result.output
    relaxed = runner.invoke(args=["content", "check", "--skip-item-checks"])
    assert (
        relaxed.exit_code == 0 and "peringatan: quizzes/contoh.yaml: hanya 5 soal" in relaxed.output
    )


@pytest.fixture
def trainer(make_staff, auth, content):
    make_staff("pelatih", "pelatih1", "rahasia-pelatih-1")
    auth.login("pelatih1", "rahasia-pelatih-1")


def test_trainer_is_warned_about_a_guessable_question(app, client, post_form, trainer):
    with app.app_context():
        module_id = db.session.scalars(
            select(Module.id).where(Module.slug == "kode-etik-penyelenggara")
        ).one()
    response = post_form(
        client,
        f"/ruang-kerja/modul/{module_id}/soal/baru",
        {
            "qid": "ke-950",
            "type": "true_false",
            "topic": "sanksi",
            "difficulty": "sedang",
            "stem": "Sanksi pemberhentian selalu dijatuhkan otomatis tanpa pemeriksaan.",
            "answer": "salah",
            "explanation": "Ada pemeriksaan lebih dulu.",
            "source": "UU 7/2017 Pasal 458",
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Soal ke-950 tersimpan." in page
    assert "Perhatikan soal ke-950" in page and "kata mutlak" in page
    with app.app_context():
        qid = db.session.scalars(select(Question.id).where(Question.qid == "ke-950")).one()
    edit = client.get(f"/ruang-kerja/soal/{qid}/ubah").get_data(as_text=True)
    assert "mudah ditebak" in edit and "kata mutlak" in edit
