"""Files written whole or not at all, and a full disk said plainly.

A file that holds names, NIKs or passwords is written to a temporary name in the same folder
and renamed over its final name only when complete, so a crash, a kill or a full disk never
leaves half a file under the name someone will open. The temporary name is
".<final name>.<random>.part"; whoever owns the final name can sweep stale ones at start-up.
"""

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# No space, quota exhausted, file-size limit: trying again cannot help.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# PostgreSQL's disk_full; SQLite says it in words.
_DB_FULL_SQLSTATE = "53100"
_DB_FULL_TEXT = ("database or disk is full", "no space left on device")

STORAGE_FULL_TITLE = "Penyimpanan server penuh"
STORAGE_FULL_MESSAGE = (
    "Penyimpanan server penuh, jadi data tidak dapat disimpan. Mencoba lagi tidak akan "
    "membantu: hubungi admin/pengelola server KPU agar ruang disk dikosongkan atau ditambah. "
    "Data yang sudah tersimpan sebelumnya tidak hilang."
)


def is_storage_full(exc: BaseException | None) -> bool:
    """True when `exc` (or what caused it) says the disk or quota is full."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return True
        orig = getattr(exc, "orig", None)  # a SQLAlchemy DBAPIError wraps the driver's error
        for candidate in (exc, orig):
            if candidate is None:
                continue
            if getattr(candidate, "sqlstate", None) == _DB_FULL_SQLSTATE:
                return True
            if any(text in str(candidate).lower() for text in _DB_FULL_TEXT) and not isinstance(
                candidate, OSError
            ):
                return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _part_prefix(target: Path) -> str:
    return f".{target.name}."


@contextmanager
def replacing(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on a clean exit it becomes `target` (one rename),
    on any exception (KeyboardInterrupt and SystemExit too) it is deleted."""
    target = Path(target)
    # The name is chosen before the file exists, so an interrupt at any instant (even between
    # creating the file and the `try`) leaves nothing the cleanup does not know about.
    temp = target.with_name(f"{_part_prefix(target)}{secrets.token_hex(8)}.part")
    try:
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        yield temp
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_atomic(target: str | Path, data: bytes) -> None:
    """`target` holds `data` in full, or keeps what it held before; never a partial file."""
    with replacing(target) as temp:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def remove_stale_parts(target: str | Path) -> list[Path]:
    """Delete the temporary files an earlier, killed writer of `target` left beside it (and
    "<target>.part", the name the CLI used before). Returns what was deleted."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    found = list(target.parent.glob(f"{_glob_escape(_part_prefix(target))}*.part"))
    legacy = target.with_name(target.name + ".part")
    if legacy.exists():
        found.append(legacy)
    for path in found:
        path.unlink(missing_ok=True)
    return found


def _glob_escape(text: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)
