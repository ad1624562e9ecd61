"""Atomic file writing shared by the exporters: nothing is half-written on an error."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator


class ExportError(ValueError):
    """A file cannot be written or read back; the message names the file and the problem."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block ends
    without an error, removed otherwise. ``ExportError`` when the folder is missing or the file
    cannot be written."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise ExportError(f"{path}: directory {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise ExportError(f"{path}: cannot write ({exc.strerror or exc})") from exc
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends as given) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return Path(path)
