"""The evaluation form's items: a fixed registry in code, so answers stay comparable across
sessions and a report can group them by key. Pure: no app, no database."""

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

SCALE = {1: "Sangat kurang", 2: "Kurang", 3: "Cukup", 4: "Baik", 5: "Sangat baik"}
SCORES = tuple(SCALE)
COMMENT_MAX = 1000

GROUPS = {
    "materi": "Materi",
    "narasumber": "Narasumber",
    "penyelenggaraan": "Penyelenggaraan",
}


@dataclass(frozen=True)
class Item:
    key: str
    group: str  # a key of GROUPS
    label: str

    @property
    def per_trainer(self) -> bool:
        return self.group == "narasumber"


ITEMS = (
    Item("materi_relevansi", "materi", "Materi sesuai dengan tugas saya"),
    Item("materi_kejelasan", "materi", "Materi jelas dan mudah dipahami"),
    Item("materi_manfaat", "materi", "Materi bermanfaat untuk pekerjaan saya"),
    Item("narasumber_penguasaan", "narasumber", "Penguasaan materi"),
    Item("narasumber_penyampaian", "narasumber", "Cara penyampaian"),
    Item("narasumber_tanya_jawab", "narasumber", "Menjawab pertanyaan peserta"),
    Item("penyelenggaraan_waktu", "penyelenggaraan", "Ketepatan dan pengaturan waktu"),
    Item("penyelenggaraan_tempat", "penyelenggaraan", "Tempat dan fasilitas"),
    Item("penyelenggaraan_panitia", "penyelenggaraan", "Pelayanan panitia"),
)
BY_KEY = {item.key: item for item in ITEMS}


def items_of(group: str) -> tuple[Item, ...]:
    return tuple(item for item in ITEMS if item.group == group)


def field_name(item: Item, trainer_id: int | None = None) -> str:
    """The form field of one answer: `materi_relevansi`, `narasumber_penyampaian__12`."""
    return f"{item.key}__{trainer_id}" if item.per_trainer else item.key


def mean_of(counts: Mapping[int, int]) -> float | None:
    """The mean score of a distribution {score: count}; None without answers."""
    total = sum(counts.values())
    if not total:
        return None
    return sum(score * count for score, count in counts.items()) / total


# Bidirectional embeddings, overrides and isolates can make a comment display as something
# other than what it says; they have no use in a comment.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def clean_comment(value: str | None) -> str:
    """A comment as stored: NFC, line breaks as \\n, tabs as spaces, other control characters
    (C0, DEL, C1) and bidi controls removed, blank lines at either end trimmed."""
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\t", " ")
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) != "Cc")
    text = _BIDI_CONTROLS.sub("", text)
    return text.strip()
