"""Read and validate question banks (quizzes/<module-slug>.yaml)."""

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bimtek.content.loader import ContentError, load_yaml, read_content_file
from bimtek.content.render import render_inline
from bimtek.quiz.grading import TYPES

QID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
DIFFICULTIES = ("mudah", "sedang", "sulit")
QUESTION_FIELDS = (
    "id", "type", "topic", "difficulty", "stem", "options", "answer", "explanation", "source",
)  # fmt: skip
REQUIRED = ("id", "type", "topic", "difficulty", "stem", "answer", "explanation", "source")
# Options are shuffled and shown without letters, so "pilihan b" or "(a, c)" means nothing
# to the participant: name the option by its content instead.
LETTER_REFERENCE_RE = re.compile(
    r"\b(?:pilihan|opsi|jawaban)\s+[a-e]\b|\((?:[a-e])(?:\s*(?:,|dan|atau)\s*[a-e])*\)",
    re.IGNORECASE,
)


@dataclass
class BankQuestion:
    qid: str
    type: str
    stem_html: str
    options: dict[str, str]  # key -> sanitised html
    answer: tuple[str, ...]
    explanation_html: str
    source: str
    topic: str
    difficulty: str
    line: int
    sha256: str
    source_data: dict = field(default_factory=dict)  # the entry as written, for export


@dataclass
class BankFile:
    path: str
    module_slug: str
    questions: list[BankQuestion] = field(default_factory=list)


def _inline(text: str) -> str:
    """Markdown for one option: drop the paragraph wrapper."""
    html = render_inline(str(text)).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return html


def _node_lines(node) -> tuple[int, dict[str, int]]:
    lines = {
        key.value: key.start_mark.line + 1
        for key, _value in node.value
        if isinstance(key, yaml.ScalarNode)
    }
    return node.start_mark.line + 1, lines


def check_question(raw: dict, error, seen_ids: dict[str, str], where: str) -> BankQuestion | None:
    """Validate one bank entry (a YAML item, a browser form, a spreadsheet row).

    `error(field, reason)` receives every problem; the caller says where the field is (a line,
    a column). `seen_ids` maps ids already taken to where they are; this entry's id is added
    as `where`. Returns the question, or None when anything was wrong.
    """
    problems = 0

    def report(field_name: str, reason: str) -> None:
        nonlocal problems
        problems += 1
        error(field_name, reason)

    for key in raw:
        if key not in QUESTION_FIELDS:
            report(str(key), f"kolom '{key}' tidak dikenal")
    for key in REQUIRED:
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            report("", f"soal {raw.get('id', '?')}: kolom '{key}' wajib diisi")
    qid = raw.get("id")
    if qid is not None:
        if not isinstance(qid, str) or not QID_RE.fullmatch(qid) or len(qid) > 40:
            report("id", f"id '{qid}' hanya boleh huruf kecil, angka dan '-'")
        elif qid in seen_ids:
            report("id", f"id '{qid}' sudah dipakai di {seen_ids[qid]}")
        else:
            seen_ids[qid] = where
    qtype = TYPES.get(raw.get("type"))
    if raw.get("type") is not None and qtype is None:
        report("type", f"type '{raw.get('type')}' tidak dikenal (single, multiple, true_false)")
    if raw.get("difficulty") is not None and raw.get("difficulty") not in DIFFICULTIES:
        report("difficulty", "difficulty harus mudah, sedang atau sulit")
    for text_field in ("stem", "explanation"):
        value = raw.get(text_field)
        match = LETTER_REFERENCE_RE.search(value) if isinstance(value, str) else None
        if match:
            report(
                text_field,
                f"soal {qid}: {text_field} merujuk huruf pilihan ('{match.group(0)}'), padahal "
                "urutan pilihan diacak dan tanpa huruf; sebut isi pilihannya",
            )
    if raw.get("source") is not None and not isinstance(raw.get("source"), str):
        report("source", "source harus teks: peraturan dan pasalnya")
    if qtype is not None and raw.get("answer") is not None:
        for field_name, reason in qtype.problems(raw.get("options"), raw.get("answer")):
            report(field_name, f"soal {qid}: {reason}")
    if problems or qtype is None:
        return None
    options = {k: _inline(v) for k, v in qtype.options(raw.get("options")).items()}
    normalised = {k: raw.get(k) for k in QUESTION_FIELDS}
    return BankQuestion(
        qid=qid,
        type=qtype.name,
        stem_html=render_inline(raw["stem"]),
        options=options,
        answer=qtype.answer_keys(raw["answer"]),
        explanation_html=render_inline(raw["explanation"]),
        source=raw["source"].strip(),
        topic=str(raw["topic"]).strip(),
        difficulty=raw["difficulty"],
        line=0,
        sha256=hashlib.sha256(
            json.dumps(normalised, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest(),
        source_data=normalised,
    )


def parse_bank(
    path: str, text: str, module_slugs: set[str] | None, seen_ids: dict[str, str]
) -> tuple[BankFile | None, list[ContentError]]:
    errors: list[ContentError] = []

    def error(line: int, reason: str) -> None:
        errors.append(ContentError(path, line, reason))

    try:
        data, root = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        error(mark.line + 1 if mark else 1, f"bukan YAML yang sah: {getattr(exc, 'problem', exc)}")
        return None, errors
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        error(1, "bank soal harus berisi 'module:' dan 'questions:'")
        return None, errors
    _, top_lines = _node_lines(root)
    for key in data:
        if key not in ("module", "questions"):
            error(top_lines.get(str(key), 1), f"kolom '{key}' tidak dikenal")
    slug = data.get("module")
    if not isinstance(slug, str) or not slug:
        error(top_lines.get("module", 1), "kolom 'module' wajib diisi dengan slug modul")
    elif module_slugs is not None and slug not in module_slugs:
        error(top_lines.get("module", 1), f"modul '{slug}' tidak ada di modules/")
    elif Path(path).stem != slug:
        error(top_lines.get("module", 1), f"nama berkas harus {slug}.yaml (sesuai slug modul)")
    questions = data.get("questions")
    question_nodes = next(
        (v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "questions"),
        None,
    )
    if not isinstance(questions, list) or not questions or question_nodes is None:
        error(top_lines.get("questions", 1), "kolom 'questions' harus daftar soal (minimal satu)")
        return None, errors

    bank = BankFile(path=path, module_slug=slug or "")
    for raw, node in zip(questions, question_nodes.value, strict=True):
        line, lines = (
            _node_lines(node)
            if isinstance(node, yaml.MappingNode)
            else (node.start_mark.line + 1, {})
        )
        if not isinstance(raw, dict):
            error(line, "setiap soal harus berupa pasangan kunci: nilai")
            continue
        item = check_question(
            raw,
            lambda field, reason, line=line, lines=lines: error(lines.get(field, line), reason),
            seen_ids,
            f"{path}:{lines.get('id', line)}",
        )
        if item is not None:
            item.line = line
            bank.questions.append(item)
    return (None if errors else bank), errors


@dataclass
class BankLoadResult:
    banks: list[BankFile] = field(default_factory=list)
    errors: list[ContentError] = field(default_factory=list)


def load_banks(content_dir: str | Path, module_slugs: set[str] | None) -> BankLoadResult:
    result = BankLoadResult()
    folder = Path(content_dir) / "quizzes"
    if not folder.is_dir():
        return result
    seen_ids: dict[str, str] = {}
    seen_modules: dict[str, str] = {}
    for file in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        display = str(file.relative_to(Path(content_dir)))
        text, problem = read_content_file(file, display)
        if problem:
            result.errors.append(problem)
            continue
        bank, errors = parse_bank(display, text, module_slugs, seen_ids)
        result.errors.extend(errors)
        if bank is None:
            continue
        if bank.module_slug in seen_modules:
            result.errors.append(
                ContentError(
                    display,
                    1,
                    f"modul '{bank.module_slug}' sudah punya bank soal {seen_modules[bank.module_slug]}",
                )
            )
            continue
        seen_modules[bank.module_slug] = display
        result.banks.append(bank)
    return result
