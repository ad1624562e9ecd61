"""Writing a set of files into a folder all at once: nothing half-written on an error."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterator

from ._files import ExportError


class FileSet:
    """Files written to temporary paths, renamed into place together by ``commit``.

    ``tmp(relpath)`` -> a temporary path to write the file ``relpath`` (under ``root``) to.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._pending: list[tuple[Path, Path]] = []

    def tmp(self, relpath: str) -> Path:
        final = self.root / relpath
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        self._pending.append((tmp, final))
        return tmp

    def write_text(self, relpath: str, text: str) -> None:
        with open(self.tmp(relpath), "w", encoding="utf-8", newline="") as f:
            f.write(text)

    def finals(self) -> list[Path]:
        return [f for _, f in self._pending]

    def _commit(self) -> None:
        for tmp, final in self._pending:
            os.replace(tmp, final)

    def _discard(self) -> None:
        for tmp, _ in self._pending:
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def file_set(root: str | os.PathLike[str]) -> Iterator[FileSet]:
    """A ``FileSet`` under folder ``root`` (created if missing; its parent must exist).

    On an error every temporary file is removed (and ``root`` too, if this call created it
    and it is empty); ``OSError`` becomes ``ExportError`` naming the folder.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ExportError(f"{root}: exists and is not a directory")
    if not root.parent.exists():
        raise ExportError(f"{root}: directory {root.parent} does not exist")
    created = not root.exists()
    fs = FileSet(root)
    try:
        root.mkdir(exist_ok=True)
        yield fs
        fs._commit()
    except BaseException as exc:
        fs._discard()
        if created:
            _remove_empty_dirs(root)
        if isinstance(exc, OSError):
            raise ExportError(f"{root}: cannot write ({exc.strerror or exc})") from exc
        raise


def _remove_empty_dirs(root: Path) -> None:
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            d.rmdir()
    with contextlib.suppress(OSError):
        root.rmdir()


def write_with(fs: FileSet, relpath: str, writer: Callable[[Path], object]) -> None:
    """Call ``writer(tmp_path)`` for the file ``relpath`` of ``fs``."""
    writer(fs.tmp(relpath))
