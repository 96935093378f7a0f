"""Question types and bank validation: pure, no database."""

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bimtek.content.banks import load_banks, parse_bank
from bimtek.content.loader import load_modules
from bimtek.quiz.grading import TYPES, score_percent

ROOT = Path(__file__).resolve().parent.parent

GOOD = """module: contoh-modul
questions:
  - id: cm-001
    type: single
    topic: prinsip
    difficulty: mudah
    stem: Seorang anggota PPS **diundang** calon. Apa yang tepat?
    options:
      a: Datang
      b: Menolak
    answer: b
    explanation: Karena prinsip mandiri.
    source: "Peraturan DKPP 2/2017 Pasal 6 ayat (1)"
  - id: cm-002
    type: true_false
    topic: prinsip
    difficulty: sedang
    stem: Staf sekretariat terikat kode etik.
    answer: true
    explanation: Pasal 5 ayat (2).
    source: "Peraturan DKPP 2/2017 Pasal 5 ayat (2)"
"""


def test_shipped_banks_are_valid_and_big_enough():
    modules = load_modules(ROOT)
    result = load_banks(ROOT, {m.slug for m in modules.modules})
    assert not result.errors, [str(e) for e in result.errors]
    assert {b.module_slug for b in result.banks} == {m.slug for m in modules.modules}
    for bank in result.banks:
        assert len(bank.questions) >= 15, bank.path
        assert all(q.source for q in bank.questions)
        # Scenario questions (a situation, then a judgement) have long stems; recall ones do not.
        scenario = [q for q in bank.questions if len(q.stem_html) > 180]
        assert len(scenario) >= 6, bank.path


def test_good_bank_parses_and_renders_markdown():
    bank, errors = parse_bank("quizzes/contoh-modul.yaml", GOOD, {"contoh-modul"}, {})
    assert errors == []
    first, second = bank.questions
    assert "<strong>diundang</strong>" in first.stem_html
    assert first.answer == ("b",) and first.options == {"a": "Datang", "b": "Menolak"}
    assert second.answer == ("benar",) and set(second.options) == {"benar", "salah"}


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (("answer: b", "answer: e"), 11, "jawaban 'e' tidak ada di antara pilihan"),
        (
            ('    source: "Peraturan DKPP 2/2017 Pasal 6 ayat (1)"\n', ""),
            3,
            "kolom 'source' wajib diisi",
        ),
        (("id: cm-002", "id: cm-001"), 14, "id 'cm-001' sudah dipakai"),
        (
            ("module: contoh-modul", "module: tidak-ada"),
            1,
            "modul 'tidak-ada' tidak ada di modules/",
        ),
        (("type: single", "type: essay"), 4, "type 'essay' tidak dikenal"),
        (
            ("difficulty: mudah", "difficulty: gampang"),
            6,
            "difficulty harus mudah, sedang atau sulit",
        ),
        (("answer: true", "answer: ya"), 19, "harus true atau false"),
        (("      b: Menolak", "      b: Datang"), 8, "dua pilihan dengan teks yang sama"),
        (
            (
                "    topic: prinsip\n    difficulty: mudah",
                "    topik: prinsip\n    difficulty: mudah",
            ),
            5,
            "kolom 'topik' tidak dikenal",
        ),
        (("  - id: cm-001", "  - id: [cm"), 4, "bukan YAML yang sah"),
        (
            ("explanation: Karena prinsip mandiri.", "explanation: Pilihan a keliru."),
            12,
            "merujuk huruf pilihan ('Pilihan a')",
        ),
        (
            ("explanation: Karena prinsip mandiri.", "explanation: Bukan (a, b)."),
            12,
            "merujuk huruf pilihan ('(a, b)')",
        ),
    ],
)
def test_broken_bank_reports_path_and_line(change, line, reason):
    old, new = change
    text = GOOD.replace(old, new, 1)
    bank, errors = parse_bank("quizzes/contoh-modul.yaml", text, {"contoh-modul"}, {})
    assert bank is None
    messages = [str(e) for e in errors]
    assert any(
        m.startswith(f"quizzes/contoh-modul.yaml:{line}: ") and reason in m for m in messages
    ), messages


def test_multiple_answer_rules():
    multiple = TYPES["multiple"]
    options = {"a": "x", "b": "y", "c": "z"}
    assert multiple.problems(options, ["a", "c"]) == []
    assert any("semua pilihan benar" in r for _, r in multiple.problems(options, ["a", "b", "c"]))
    assert any(
        "tidak ada di antara pilihan" in r for _, r in multiple.problems(options, ["a", "d"])
    )


def test_grading_is_exact_for_multiple_and_ignores_order():
    multiple = TYPES["multiple"]
    assert multiple.grade(("a", "c"), ("c", "a")).correct
    assert not multiple.grade(("a", "c"), ("a",)).correct
    assert not multiple.grade(("a", "c"), ("a", "b", "c")).correct
    assert not TYPES["single"].grade(("b",), ()).answered


def test_clean_selection_drops_unknown_keys_and_extra_radio_choices():
    options = {"a": "x", "b": "y"}
    assert TYPES["single"].clean_selection(options, ["z", "b", "a"]) == ("b",)
    assert TYPES["multiple"].clean_selection({**options, "c": "z"}, ["c", "a", "q", "a"]) == (
        "a",
        "c",
    )


@given(
    answer=st.sets(st.sampled_from("abcde"), min_size=1, max_size=4),
    selected=st.sets(st.sampled_from("abcde"), max_size=5),
    seed=st.integers(),
)
def test_shuffling_the_display_order_never_changes_the_grade(answer, selected, seed):
    multiple = TYPES["multiple"]
    shuffled = list(selected)
    random.Random(seed).shuffle(shuffled)
    assert multiple.grade(tuple(answer), tuple(selected)) == multiple.grade(
        tuple(answer), tuple(shuffled)
    )
    assert multiple.grade(tuple(answer), tuple(selected)).correct == (set(selected) == set(answer))


@given(total=st.integers(1, 200), data=st.data())
def test_score_is_a_percentage(total, data):
    correct = data.draw(st.integers(0, total))
    score = score_percent(correct, total)
    assert 0 <= score <= 100
    assert (score == 100) == (correct == total)


def test_markdown_in_stems_and_options_is_sanitised():
    text = GOOD.replace(
        "stem: Seorang anggota PPS **diundang** calon. Apa yang tepat?",
        'stem: "Soal <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>"',
    ).replace("      a: Datang", '      a: "<b onclick=alert(1)>Datang</b>"')
    bank, errors = parse_bank("quizzes/contoh-modul.yaml", text, {"contoh-modul"}, {})
    assert errors == []
    question = bank.questions[0]
    for html in (question.stem_html, question.options["a"]):
        assert "<script" not in html and "onerror" not in html and "onclick" not in html
        assert "javascript:" not in html
    assert "Datang" in question.options["a"]
