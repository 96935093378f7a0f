"""Question types: a small registry that validates bank entries and grades answers.

Pure: no Flask, no database. A new type is a new class registered in TYPES.
"""

from dataclasses import dataclass

OPTION_KEYS = ("a", "b", "c", "d", "e")
TRUE_FALSE_OPTIONS = {"benar": "Benar", "salah": "Salah"}


@dataclass(frozen=True)
class Grade:
    correct: bool
    answered: bool


class QuestionType:
    name = ""
    label = ""
    input_type = "radio"

    def options(self, raw_options: dict | None) -> dict[str, str]:
        return dict(raw_options or {})

    def answer_keys(self, raw_answer) -> tuple[str, ...]:
        raise NotImplementedError

    def problems(self, raw_options, raw_answer) -> list[tuple[str, str]]:
        """(field, reason) for every rule the entry breaks."""
        raise NotImplementedError

    def grade(self, answer: tuple[str, ...], selected: tuple[str, ...]) -> Grade:
        selected = tuple(sorted(set(selected)))
        return Grade(
            correct=bool(selected) and selected == tuple(sorted(answer)), answered=bool(selected)
        )

    def clean_selection(self, options: dict[str, str], selected) -> tuple[str, ...]:
        """Keep only keys that exist; radio types keep at most one."""
        keys = tuple(dict.fromkeys(k for k in selected if k in options))
        return keys[:1] if self.input_type == "radio" else tuple(sorted(keys))


def _option_problems(raw_options, minimum: int) -> list[tuple[str, str]]:
    if not isinstance(raw_options, dict) or len(raw_options) < minimum:
        return [("options", f"options harus berisi minimal {minimum} pilihan berkunci a–e")]
    problems = []
    for key, text in raw_options.items():
        if key not in OPTION_KEYS:
            problems.append(("options", f"kunci pilihan '{key}' harus salah satu dari a–e"))
        if not isinstance(text, str) or not text.strip():
            problems.append(("options", f"pilihan '{key}' kosong"))
    texts = [str(t).strip().lower() for t in raw_options.values()]
    if len(set(texts)) != len(texts):
        problems.append(("options", "ada dua pilihan dengan teks yang sama"))
    return problems


class Single(QuestionType):
    name, label, input_type = "single", "Pilihan ganda (satu jawaban)", "radio"

    def answer_keys(self, raw_answer) -> tuple[str, ...]:
        return (str(raw_answer),)

    def problems(self, raw_options, raw_answer):
        problems = _option_problems(raw_options, 2)
        if not isinstance(raw_answer, str):
            problems.append(("answer", "answer harus satu kunci pilihan, mis. b"))
        elif isinstance(raw_options, dict) and raw_answer not in raw_options:
            problems.append(("answer", f"jawaban '{raw_answer}' tidak ada di antara pilihan"))
        return problems


class Multiple(QuestionType):
    name, label, input_type = "multiple", "Pilihan ganda (lebih dari satu jawaban)", "checkbox"

    def answer_keys(self, raw_answer) -> tuple[str, ...]:
        return tuple(sorted(str(k) for k in raw_answer))

    def problems(self, raw_options, raw_answer):
        problems = _option_problems(raw_options, 3)
        if not isinstance(raw_answer, list) or not raw_answer:
            problems.append(("answer", "answer harus daftar kunci, mis. [a, c]"))
            return problems
        if len(set(raw_answer)) != len(raw_answer):
            problems.append(("answer", "answer memuat kunci yang sama dua kali"))
        for key in raw_answer:
            if isinstance(raw_options, dict) and key not in raw_options:
                problems.append(("answer", f"jawaban '{key}' tidak ada di antara pilihan"))
        if isinstance(raw_options, dict) and len(raw_answer) >= len(raw_options):
            problems.append(("answer", "semua pilihan benar: soal tidak membedakan apa pun"))
        return problems


class TrueFalse(QuestionType):
    name, label, input_type = "true_false", "Benar/Salah", "radio"

    def options(self, raw_options):
        return dict(TRUE_FALSE_OPTIONS)

    def answer_keys(self, raw_answer) -> tuple[str, ...]:
        return ("benar",) if raw_answer is True else ("salah",)

    def problems(self, raw_options, raw_answer):
        problems = []
        if raw_options:
            problems.append(("options", "soal true_false tidak memakai options"))
        if not isinstance(raw_answer, bool):
            problems.append(("answer", "answer soal true_false harus true atau false"))
        return problems


TYPES: dict[str, QuestionType] = {t.name: t for t in (Single(), Multiple(), TrueFalse())}


def score_percent(correct: int, total: int) -> float:
    return round(100.0 * correct / total, 2) if total else 0.0
