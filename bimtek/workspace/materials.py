"""Uploaded materials: checked by content, stored under generated names outside static/."""

import hashlib
import os
import secrets
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

# kind -> (media type, file name endings it may carry, shown in the browser rather than saved)
KINDS = {
    "pdf": ("application/pdf", (".pdf",), False),
    "png": ("image/png", (".png",), True),
    "jpeg": ("image/jpeg", (".jpg", ".jpeg"), True),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (".docx",),
        False,
    ),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        (".pptx",),
        False,
    ),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        (".xlsx",),
        False,
    ),
}
KIND_LABELS = {"pdf": "PDF", "png": "PNG", "jpeg": "JPEG", "docx": "Word", "pptx": "PowerPoint",
               "xlsx": "Excel"}  # fmt: skip
OOXML_PARTS = {"word/": "docx", "ppt/": "pptx", "xl/": "xlsx"}
ALLOWED_TEXT = "PDF, PPTX, DOCX, XLSX, PNG atau JPEG"
_CHUNK = 1024 * 1024


class UploadRefused(ValueError):
    pass


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    original_name: str
    kind: str
    size: int
    sha256: str


def read_limited(name: str, stream, max_bytes: int, what: str) -> bytes:
    """The whole upload, refused when empty or larger than `max_bytes` (read no further)."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        limit = f"{max_bytes / (1024 * 1024):.0f} MB"
        raise UploadRefused(f"Berkas “{name}” terlalu besar untuk {what} (maks. {limit}).")
    if not data:
        raise UploadRefused(f"Berkas “{name}” kosong.")
    return data


def check_name(name: str | None) -> str:
    """The file name as the user sent it, refused if it carries a folder or odd characters."""
    name = (name or "").strip()
    if not name:
        raise UploadRefused("Pilih berkas yang akan diunggah (nama berkas kosong).")
    if "/" in name or "\\" in name or name in (".", "..") or ":" in name:
        raise UploadRefused(
            f"Nama berkas “{name}” memuat folder atau jalur; unggah berkasnya dengan nama saja."
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise UploadRefused("Nama berkas memuat karakter kendali; ganti nama berkasnya.")
    if len(name) > 200:
        raise UploadRefused("Nama berkas terlalu panjang (maks. 200 karakter).")
    return name


def sniff(path: Path) -> str | None:
    """The kind of file by its content: magic bytes, and for Office files the zip listing."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return None
        if "[Content_Types].xml" not in names:
            return None
        kinds = {
            kind for prefix, kind in OOXML_PARTS.items() if any(n.startswith(prefix) for n in names)
        }
        return kinds.pop() if len(kinds) == 1 else None
    return None


def store_upload(stream, original_name: str | None, upload_dir: str, max_bytes: int) -> StoredFile:
    """Stream the upload to a temporary file in `upload_dir`, check it, rename it to a
    generated name. Nothing is left behind when it is refused."""
    name = check_name(original_name)
    folder = Path(upload_dir)
    folder.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False)
    temp = Path(handle.name)
    try:
        digest = hashlib.sha256()
        size = 0
        with handle:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadRefused(
                        f"Berkas “{name}” terlalu besar: batasnya {max_bytes // (1024 * 1024)} MB."
                    )
                digest.update(chunk)
                handle.write(chunk)
        if size == 0:
            raise UploadRefused(f"Berkas “{name}” kosong (0 byte).")
        kind = sniff(temp)
        if kind is None:
            raise UploadRefused(
                f"Isi berkas “{name}” bukan {ALLOWED_TEXT}. Jenis berkas diperiksa dari isinya, "
                "bukan dari akhiran namanya."
            )
        if not name.lower().endswith(KINDS[kind][1]):
            raise UploadRefused(
                f"Isi berkas “{name}” adalah {KIND_LABELS[kind]}, tetapi akhiran namanya lain; "
                f"beri nama berakhiran {KINDS[kind][1][0]}."
            )
        stored_name = secrets.token_hex(16) + KINDS[kind][1][0]
        os.replace(temp, folder / stored_name)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return StoredFile(stored_name, name, kind, size, digest.hexdigest())


def stored_path(upload_dir: str, stored_name: str) -> Path:
    return Path(upload_dir) / stored_name
