"""Helpers shared by the session writer and reader."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


class RecordingError(Exception):
    """A session file that cannot be read or written; the message names the file."""


class DamagedFileError(RecordingError):
    """A hipmon session file whose SQLite structure is damaged or truncated.

    ``hipmon repair`` (:mod:`hipmon.recording.salvage`) recovers what is intact."""


def repair_hint(path: object) -> str:
    return f"`hipmon repair {path} -o NEW.hipmon` recovers what is intact"


#: Words of SQLite's messages for a damaged file (sqlite3.DatabaseError).
DAMAGE_WORDS: tuple[str, ...] = ("malformed", "disk image", "not a database", "corrupt")


def is_damage(exc: BaseException) -> bool:
    """Whether an ``sqlite3.DatabaseError`` says the file itself is damaged."""
    text = str(exc).lower()
    return any(w in text for w in DAMAGE_WORDS)


def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a session file (JSON)")


def dumps(obj: Any) -> str:
    """JSON text for a ``meta``/``extra``/``detail`` column (numpy arrays become lists)."""
    return json.dumps(obj, default=_to_jsonable, allow_nan=True, sort_keys=True)


def loads(text: str | None) -> Any:
    if text is None or text == "":
        return None
    return json.loads(text)


def f64_blob(a: np.ndarray) -> bytes:
    """float64 little-endian bytes of ``a`` (row-major)."""
    return np.ascontiguousarray(a, dtype="<f8").tobytes()


def blob_f64(b: bytes, cols: int | None) -> np.ndarray:
    a = np.frombuffer(b, dtype="<f8").astype(np.float64)
    return a if cols is None else a.reshape(-1, cols)


def finite_or_none(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)
