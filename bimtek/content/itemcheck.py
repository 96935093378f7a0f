"""Surface cues in question banks: what a test-wise participant could answer without reading.

Pure functions over bank entries as written (the YAML mapping of one question). `bimtek content
check` reports the figures per bank and fails on the limits below; the trainer workspace shows
the per-question warnings when a question is saved.
"""

import re
from dataclasses import dataclass, field
from itertools import combinations

# Below these a pre-test and a post-test cannot be parallel forms with room for a retry, and
# guessing by form beats reading.
MIN_QUESTIONS = 30
MIN_SULIT_SHARE = 0.25
MAX_KEY_LONGEST_SHARE = 0.35  # chance with four options is 0.25
TRUE_SHARE_RANGE = (0.35, 0.65)
MAX_ABSOLUTE_GAP = 0.35  # share of false statements with an absolute word minus share of true
MAX_LONE_STRICT_KEY_SHARE = 0.10
NEAR_DUPLICATE_JACCARD = 0.5  # of the content words of stem and key

ABSOLUTE_WORDS = (
    "selalu", "otomatis", "hanya", "semua", "seluruh", "pasti", "mutlak", "tidak pernah",
    "sama sekali", "apa pun", "setiap", "tidak ada",
)  # fmt: skip
HEDGE_WORDS = (
    "asalkan", "asal ", "selama", "hanya", "kecuali", "tidak melanggar", "boleh saja",
    "diperbolehkan", "cukup", "sepanjang", "dengan syarat", "tidak masalah", "wajar",
)  # fmt: skip
_WORD_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_STOPWORDS = frozenset(
    "yang dan di ke dari itu ini dengan untuk atau pada dalam adalah sebagai oleh akan tidak "
    "ia dia anda apa mana bagaimana seorang sdr tersebut".split()
)


def _text(value) -> str:
    return " ".join(str(value or "").split()).lower()


def _words(value) -> str:
    """Lower-case words separated by single spaces, punctuation dropped ("boleh," → "boleh")."""
    return " ".join(_WORD_RE.findall(_text(value)))


def _has(words: tuple[str, ...], text: str) -> bool:
    padded = f" {_words(text)} "
    return any((f" {w} " in padded) if not w.endswith(" ") else (f" {w}" in padded) for w in words)


def _answers(entry: dict) -> set[str]:
    answer = entry.get("answer")
    if isinstance(answer, list):
        return {str(a) for a in answer}
    return {str(answer)}


def key_is_longest(entry: dict) -> bool:
    """Single choice: the key is strictly longer than every other option."""
    options = entry.get("options") or {}
    keys = _answers(entry)
    if entry.get("type") != "single" or len(keys) != 1 or len(options) < 2:
        return False
    (key,) = keys
    lengths = {k: len(_text(v)) for k, v in options.items()}
    if key not in lengths:
        return False
    return all(lengths[key] > n for k, n in lengths.items() if k != key)


def lone_strict_key(entry: dict) -> bool:
    """Two or more distractors hedge while the key does not: "pick the strict one" wins."""
    if entry.get("type") not in ("single", "multiple"):
        return False
    options = entry.get("options") or {}
    keys = _answers(entry)
    hedged_distractors = sum(
        1 for k, v in options.items() if k not in keys and _has(HEDGE_WORDS, v)
    )
    key_hedges = any(_has(HEDGE_WORDS, options.get(k, "")) for k in keys)
    return hedged_distractors >= 2 and not key_hedges


def idea_words(entry: dict) -> frozenset[str]:
    """Content words of the stem and the key: two items that share most of them ask one idea
    (measured on the shipped banks: the known duplicate pairs score 0.5–0.67, others < 0.45)."""
    options = entry.get("options") or {}
    key_text = " ".join(str(options.get(k, "")) for k in _answers(entry))
    text = _text(f"{entry.get('stem', '')} {key_text}")
    return frozenset(w for w in _WORD_RE.findall(text) if w not in _STOPWORDS and len(w) > 2)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass
class BankFigures:
    path: str
    questions: int = 0
    sulit: int = 0
    single: int = 0
    key_longest: int = 0
    lone_strict: int = 0
    choice: int = 0
    true_count: int = 0
    false_count: int = 0
    true_absolute: int = 0
    false_absolute: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def sulit_share(self) -> float:
        return self.sulit / self.questions if self.questions else 0.0

    @property
    def key_longest_share(self) -> float:
        return self.key_longest / self.single if self.single else 0.0

    @property
    def lone_strict_share(self) -> float:
        return self.lone_strict / self.choice if self.choice else 0.0

    @property
    def true_share(self) -> float:
        total = self.true_count + self.false_count
        return self.true_count / total if total else 0.0

    @property
    def absolute_gap(self) -> float:
        """How much more often a false statement carries an absolute word than a true one."""
        if not self.true_count or not self.false_count:
            return 0.0
        return self.false_absolute / self.false_count - self.true_absolute / self.true_count

    def summary(self) -> str:
        return (
            f"{self.path}: {self.questions} soal, sulit {self.sulit_share:.0%}, "
            f"kunci terpanjang {self.key_longest}/{self.single} ({self.key_longest_share:.0%}), "
            f"kunci satu-satunya tanpa syarat {self.lone_strict}/{self.choice}, "
            f"benar/salah {self.true_count}/{self.false_count}, "
            f"kata mutlak salah−benar {self.absolute_gap:+.0%}"
        )


def bank_figures(path: str, entries: list[dict]) -> BankFigures:
    figures = BankFigures(path=path, questions=len(entries))
    for entry in entries:
        kind = entry.get("type")
        figures.sulit += entry.get("difficulty") == "sulit"
        if kind in ("single", "multiple"):
            figures.choice += 1
            figures.lone_strict += lone_strict_key(entry)
        if kind == "single":
            figures.single += 1
            figures.key_longest += key_is_longest(entry)
        if kind == "true_false":
            absolute = _has(ABSOLUTE_WORDS, entry.get("stem"))
            if entry.get("answer") is True:
                figures.true_count += 1
                figures.true_absolute += absolute
            else:
                figures.false_count += 1
                figures.false_absolute += absolute
    if figures.questions < MIN_QUESTIONS:
        figures.problems.append(f"hanya {figures.questions} soal (minimal {MIN_QUESTIONS})")
    if figures.sulit_share < MIN_SULIT_SHARE:
        figures.problems.append(f"soal sulit {figures.sulit_share:.0%} (minimal 25%)")
    if figures.single >= 4 and figures.key_longest_share > MAX_KEY_LONGEST_SHARE:
        figures.problems.append(
            f"kunci adalah pilihan terpanjang pada {figures.key_longest_share:.0%} soal "
            "pilihan tunggal (maks. 35%)"
        )
    if figures.choice >= 4 and figures.lone_strict_share > MAX_LONE_STRICT_KEY_SHARE:
        figures.problems.append(
            f"{figures.lone_strict} soal: pengecoh memakai syarat/pengecualian, kunci tidak "
            "(peserta cukup memilih yang paling tegas)"
        )
    if figures.true_count + figures.false_count >= 4:
        low, high = TRUE_SHARE_RANGE
        if not low <= figures.true_share <= high:
            figures.problems.append(
                f"soal benar/salah tidak seimbang: {figures.true_count} benar, "
                f"{figures.false_count} salah"
            )
        if figures.absolute_gap > MAX_ABSOLUTE_GAP:
            figures.problems.append(
                "kata mutlak (selalu, hanya, otomatis …) jauh lebih sering muncul di pernyataan "
                "yang salah daripada yang benar"
            )
    return figures


@dataclass(frozen=True)
class NearDuplicate:
    first: str
    second: str
    score: float

    def __str__(self) -> str:
        return f"{self.first} mirip {self.second} ({self.score:.0%} kata pokok sama)"


def near_duplicates(
    entries: list[tuple[str, dict]], threshold: float = NEAR_DUPLICATE_JACCARD
) -> list[NearDuplicate]:
    """Pairs of questions (labelled, e.g. 'ke-004') that share most content words."""
    words = [(label, idea_words(entry)) for label, entry in entries]
    found = []
    for (a, wa), (b, wb) in combinations(words, 2):
        score = similarity(wa, wb)
        if score >= threshold:
            found.append(NearDuplicate(a, b, score))
    return sorted(found, key=lambda d: -d.score)


def question_warnings(entry: dict, others: list[tuple[str, dict]]) -> list[str]:
    """What the workspace tells a trainer about one question as it is being saved."""
    warnings = []
    if key_is_longest(entry):
        options = entry.get("options") or {}
        (key,) = _answers(entry)
        runner_up = max(len(_text(v)) for k, v in options.items() if k != key)
        if len(_text(options[key])) > 1.3 * runner_up:
            warnings.append(
                "Kunci jawaban jauh lebih panjang daripada pilihan lain; peserta bisa menebak "
                "dari panjangnya. Samakan panjang dan gaya bahasa pilihan."
            )
    if lone_strict_key(entry):
        warnings.append(
            "Beberapa pengecoh memakai syarat atau pengecualian (asalkan, selama, kecuali …) "
            "sedangkan kunci tidak; peserta cukup memilih yang paling tegas."
        )
    if entry.get("type") == "true_false" and entry.get("answer") is False:
        if _has(ABSOLUTE_WORDS, entry.get("stem")):
            warnings.append(
                "Pernyataan salah ini memakai kata mutlak (selalu, hanya, otomatis …); "
                "pernyataan semacam itu mudah ditebak salah. Pakai juga kata mutlak pada "
                "pernyataan yang benar, atau rumuskan ulang."
            )
    duplicates = near_duplicates([("soal ini", entry), *others])
    for duplicate in duplicates:
        if duplicate.first == "soal ini":
            warnings.append(
                f"Soal ini mirip soal {duplicate.second} ({duplicate.score:.0%} kata pokok "
                "sama); satu gagasan cukup ditanyakan sekali."
            )
            break
    return warnings


def check_banks(
    banks: list[tuple[str, list[dict]]],
) -> tuple[list[BankFigures], list[NearDuplicate]]:
    """Figures per bank, and near-duplicate questions across all of them."""
    figures = [bank_figures(path, entries) for path, entries in banks]
    labelled = [(str(e.get("id")), e) for _path, entries in banks for e in entries]
    return figures, near_duplicates(labelled)
