"""Reading small files a user names (configs, rosters, user-data scripts) without surprises:
only regular files, of bounded size, so `/dev/zero` or a FIFO fails at once instead of
hanging or filling memory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_PATH = 4096
MAX_SIZE = 1 << 20  # 1 MiB: far beyond any config, roster or user-data script


def expand_path(text: str) -> Path:
    """`~/x`, `~user/x` and `$VAR/x` expanded; ValueError for what cannot be."""
    if len(text) > MAX_PATH:
        raise ValueError(f"path is {len(text)} characters long (at most {MAX_PATH})")
    try:
        return Path(os.path.expandvars(text)).expanduser()
    except RuntimeError:  # ~nouser: no such user's home
        raise ValueError(f"{text!r}: no such user's home directory") from None


def read_small_file(path: Path, what: str, limit: int = MAX_SIZE) -> bytes:
    """The bytes of PATH if it is a regular file of at most LIMIT bytes; else ValueError
    (FileNotFoundError when it does not exist)."""
    if len(str(path)) > MAX_PATH:
        raise ValueError(f"{what} path is {len(str(path))} characters long (at most {MAX_PATH})")
    try:
        info = path.stat()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise ValueError(f"{what} {str(path)!r}: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{what} {str(path)!r} is not a regular file")
    if info.st_size > limit:
        raise ValueError(f"{what} {str(path)!r} is {info.st_size} bytes (at most {limit})")
    try:
        # O_NONBLOCK: a file swapped for a FIFO after the check still cannot hang us.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise ValueError(f"{what} {str(path)!r}: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise ValueError(f"{what} {str(path)!r} is not a regular file")
        return file.read(limit + 1)[:limit]


def read_small_text(path: Path, what: str, limit: int = MAX_SIZE) -> str:
    """As read_small_file, decoded as UTF-8 (ValueError naming the file otherwise)."""
    data = read_small_file(path, what, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{what} {str(path)!r} is not UTF-8 text (byte {error.start})"
                         ) from None


def write_private(path: Path, text: str) -> None:
    """Write TEXT atomically, readable by the owner only from the first byte on. A symlink
    planted at PATH is replaced, never followed; a new directory is the owner's only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", newline="") as file:
        file.write(text)
    os.replace(temporary, path)
