"""Question banks as spreadsheets: one row per question.

The shared rules of bimtek/spreadsheet.py apply: reading refuses oversized or zip-bomb files
before parsing and finds the header row; writing stores every text as text, so a cell beginning
with '=' is never a formula.
"""

import io

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bimtek.content.banks import check_question
from bimtek.quiz.grading import OPTION_KEYS
from bimtek.spreadsheet import (
    SpreadsheetError,
    find_header,
    iter_sheet_rows,
    open_xlsx,
    text_cell,
)

MAX_BYTES = 5 * 1024 * 1024
MAX_UNCOMPRESSED = 50 * 1024 * 1024
MAX_ROWS = 2000
# header -> bank field; options A–E are option keys a–e
COLUMNS = (
    ("id", "id"),
    ("type", "type"),
    ("stem", "stem"),
    ("A", "option_a"),
    ("B", "option_b"),
    ("C", "option_c"),
    ("D", "option_d"),
    ("E", "option_e"),
    ("answer", "answer"),
    ("explanation", "explanation"),
    ("source", "source"),
    ("topic", "topic"),
    ("difficulty", "difficulty"),
)
HEADERS = [h for h, _ in COLUMNS]
SHEET_TITLE = "Bank soal"


def entry_to_row(entry: dict) -> list:
    options = entry.get("options") or {}
    answer = entry.get("answer")
    if isinstance(answer, bool):
        answer_text = "benar" if answer else "salah"
    elif isinstance(answer, list):
        answer_text = ", ".join(answer)
    else:
        answer_text = answer
    values = {
        "id": entry.get("id"),
        "type": entry.get("type"),
        "stem": entry.get("stem"),
        "answer": answer_text,
        "explanation": entry.get("explanation"),
        "source": entry.get("source"),
        "topic": entry.get("topic"),
        "difficulty": entry.get("difficulty"),
        **{f"option_{k}": options.get(k) for k in OPTION_KEYS},
    }
    return [values[field] for _, field in COLUMNS]


def build_bank_workbook(module_slug: str, entries: list[dict]) -> bytes:
    """The template (no entries) or a bank export, as xlsx bytes."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    for index, width in enumerate((12, 11, 60, 30, 30, 30, 30, 30, 10, 60, 40, 16, 11), 1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    sheet.append([text_cell(sheet, title, font=bold) for title in HEADERS])
    for entry in entries:
        sheet.append([text_cell(sheet, v) for v in entry_to_row(entry)])
    notes = workbook.create_sheet("Petunjuk")
    for line in (
        f"Bank soal modul: {module_slug}" if module_slug else "Templat bank soal bimtek",
        "Satu baris satu soal. Kolom type: single, multiple atau true_false.",
        "Kolom A–E: teks pilihan (kosongkan untuk true_false).",
        "Kolom answer: satu huruf (single, mis. b), beberapa huruf dipisah koma (multiple, "
        "mis. a, c), atau benar/salah (true_false).",
        "Kolom difficulty: mudah, sedang atau sulit. Pembahasan tidak boleh menyebut huruf pilihan "
        "(urutan pilihan diacak).",
    ):
        notes.append([text_cell(notes, line)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    raw = str(value).replace("\r\n", "\n")
    text = raw.strip()
    if text and raw.rstrip(" \t").endswith("\n"):
        text += "\n"  # a Markdown block's final newline, as YAML '|' keeps it (exports agree)
    return text or None


def _row_entry(values: dict[str, str | None]) -> dict:
    qtype = (values.get("type") or "").strip().lower() or None
    entry = {
        "id": values.get("id"),
        "type": qtype,
        "topic": values.get("topic"),
        "difficulty": (values.get("difficulty") or "").lower() or None,
        "stem": values.get("stem"),
        "explanation": values.get("explanation"),
        "source": values.get("source"),
    }
    answer = (values.get("answer") or "").strip().lower()
    if qtype == "true_false":
        entry["answer"] = {"benar": True, "salah": False, "true": True, "false": False}.get(
            answer, answer or None
        )
        options = {k: values.get(f"option_{k}") for k in OPTION_KEYS if values.get(f"option_{k}")}
        if options:
            entry["options"] = options
    else:
        entry["options"] = {
            k: values.get(f"option_{k}") for k in OPTION_KEYS if values.get(f"option_{k}")
        }
        keys = [k.strip() for k in answer.replace(";", ",").split(",") if k.strip()]
        entry["answer"] = keys if qtype == "multiple" else (keys[0] if keys else None)
    return {k: v for k, v in entry.items() if v is not None}


def read_bank_workbook(
    data: bytes, module_slug: str, name: str, taken: dict[str, str] | None = None
) -> tuple[str | None, list[str]]:
    """(bank YAML text, errors). Errors name the row and column: 'baris 4, kolom C (stem): …'.
    `taken`: ids used by other banks."""
    from bimtek.workspace.banks import bank_yaml

    try:
        workbook = open_xlsx(data, max_bytes=MAX_BYTES, max_uncompressed=MAX_UNCOMPRESSED)
    except SpreadsheetError as exc:
        return None, [f"{name}: {exc}"]
    try:
        sheet = (
            workbook[SHEET_TITLE] if SHEET_TITLE in workbook.sheetnames else workbook.worksheets[0]
        )
        rows = iter_sheet_rows(sheet, max_rows=MAX_ROWS + 20)
        synonyms = {field: [heading] for heading, field in COLUMNS}
        required = [field for _, field in COLUMNS if field != "difficulty"]
        try:
            header = find_header(rows, synonyms, required)
        except SpreadsheetError as exc:
            return None, [f"{name}: {exc} Judul kolom templat: {', '.join(HEADERS)}."]
        columns = header.columns
        letters = {field: get_column_letter(i + 1) for field, i in columns.items()}
        errors: list[str] = []
        entries: list[dict] = []
        seen: dict[str, str] = dict(taken or {})
        try:
            numbered = list(rows)
        except SpreadsheetError as exc:
            return None, [f"{name}: {exc}"]
        for number, row in numbered:
            values = {
                field: _cell_text(row[i]) if i < len(row) else None for field, i in columns.items()
            }
            if not any(values.values()):
                continue
            values.setdefault("difficulty", None)
            if values["difficulty"] is None:
                values["difficulty"] = "sedang"
            entry = _row_entry(values)

            def error(field: str, reason: str, number=number) -> None:
                column = letters.get("option_a" if field == "options" else field)
                where = f"baris {number}" + (
                    f", kolom {column} ({'A–E' if field == 'options' else field})" if column else ""
                )
                errors.append(f"{name} {where}: {reason}")

            if check_question(entry, error, seen, f"baris {number}") is not None:
                entries.append(entry)
        if not entries and not errors:
            errors.append(f"{name}: tidak ada baris soal di bawah judul kolom.")
    finally:
        workbook.close()
    if errors:
        return None, errors
    return bank_yaml(module_slug, entries), []
