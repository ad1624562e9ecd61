"""The athlete library: one folder of sessions per athlete, and a cached index of their key numbers.

Layout (``root``: ``--library DIR``, else ``$HIPMON_LIBRARY``, else ``~/hipmon-library``)::

    ROOT/
      index.json                          # the cache below (may be deleted at any time)
      <athlete>/<date>_<protocol>_<n>.hipmon
      ana_lopez/2025-03-04_stance_1.hipmon

``<athlete>`` is the name as a folder (``athlete_folder``: letters, digits, ``-``, spaces to ``_``,
accents dropped, lower case), ``<date>`` the local date the session was written, ``<protocol>``
its protocol name (``hipmon.protocols``; ``session`` when none was given), ``<n>`` 1, 2, ... for
the day's sessions of that protocol. ``record``, ``live --record``, ``import`` (with ``--athlete``
and no ``-o``) and the dashboard's Record button (when an athlete is set) write there.

**The index is a cache, computed on read** (not kept up to date by the writers): ``list_sessions``
walks the folder, and every session file whose size or modification time differs from its index
entry (or that has none, or was indexed by another hipmon version) is analysed
(``hipmon.pipeline.process_session`` and ``hipmon.protocols.protocol_result``) and its entry
rewritten; entries of files gone are dropped. So a writer that crashes, a file copied in by hand
or a library on a shared drive never leaves the index wrong: the price is one analysis (a few
seconds) per new session at the next listing, after which a listing is instant. The index is
written atomically; two listings at once may both analyse a new file, never corrupt the index.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable

ENV = "HIPMON_LIBRARY"
DEFAULT_ROOT = "~/hipmon-library"
INDEX_NAME = "index.json"
#: bumped when an entry's contents change meaning (entries of another version are recomputed)
INDEX_VERSION = 1
SUFFIX = ".hipmon"
_NAME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})_([a-z0-9-]+)_(\d+)\.hipmon$")


class LibraryError(Exception):
    """A library problem (one line naming the folder)."""


def library_root(path: str | os.PathLike[str] | None = None) -> Path:
    """The library folder: ``path``, else ``$HIPMON_LIBRARY``, else ``~/hipmon-library`` (not created)."""
    p = path or os.environ.get(ENV) or DEFAULT_ROOT
    return Path(os.path.expanduser(str(p))).absolute()


def athlete_folder(name: str) -> str:
    """The athlete's folder name: ASCII letters, digits, ``-`` and ``_`` (spaces), lower case."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"\s+", "_", text.strip().lower())
    text = re.sub(r"[^a-z0-9_-]", "", text).strip("_-.")
    if not text:
        raise LibraryError(f"athlete {name!r}: the name needs at least one letter or digit")
    return text


def new_session_path(root: str | os.PathLike[str], athlete: str, protocol: str | None,
                     when: float | None = None, create: bool = True) -> Path:
    """``ROOT/<athlete>/<date>_<protocol>_<n>.hipmon`` with the next free ``n`` for that date and protocol."""
    folder = Path(root) / athlete_folder(athlete)
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"{folder}: cannot create the athlete's folder ({exc.strerror})") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise LibraryError(f"{folder}: the folder is not writable")
    day = time.strftime("%Y-%m-%d", time.localtime(when))
    proto = re.sub(r"[^a-z0-9-]", "", (protocol or "session").lower()) or "session"
    taken = set()
    if folder.is_dir():
        for f in folder.iterdir():
            m = _NAME_RE.match(f.name)
            if m and m.group(1) == day and m.group(2) == proto:
                taken.add(int(m.group(3)))
    n = 1
    while n in taken:
        n += 1
    return folder / f"{day}_{proto}_{n}{SUFFIX}"


def athletes(root: str | os.PathLike[str]) -> list[str]:
    """The athlete folders of the library, sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and any(d.glob(f"*{SUFFIX}")))


def session_files(root: str | os.PathLike[str], athlete: str | None = None) -> list[Path]:
    """The session files of one athlete (by name or folder), or of all, sorted by folder and name."""
    root = Path(root)
    folders = [athlete_folder(athlete)] if athlete else athletes(root)
    out: list[Path] = []
    for f in folders:
        d = root / f
        if d.is_dir():
            out.extend(sorted(p for p in d.glob(f"*{SUFFIX}") if p.is_file()))
    return out


# ---------------------------------------------------------------- the index (a cache)


def _load_index(root: Path) -> dict:
    try:
        data = json.loads((root / INDEX_NAME).read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("version") == INDEX_VERSION and isinstance(data.get("sessions"), dict):
            return data
    except (OSError, ValueError):
        pass
    return {"version": INDEX_VERSION, "sessions": {}}


def _save_index(root: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=INDEX_NAME + ".", suffix=".tmp", dir=str(root))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True, allow_nan=False)
        os.replace(tmp, root / INDEX_NAME)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _stamp(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def session_entry(path: str | os.PathLike[str]) -> dict:
    """One session's index entry: athlete, date, protocol and side, duration, calibration, key numbers.

    Runs the pipeline (``hipmon.pipeline.process_session``) and the protocol's result; a file that
    cannot be analysed gets an entry with ``error`` (listed, not fatal)."""
    from hipmon.pipeline import process_session
    from hipmon.protocols import infer_protocol, key_numbers, protocol_result
    from hipmon.recording.reader import SessionReader

    path = Path(path)
    entry: dict[str, Any] = {"file": path.name}
    try:
        with SessionReader(str(path)) as reader:
            meta = reader.meta
            md = dict(meta.get("metadata") or {})
        entry.update(athlete=md.get("athlete"), date=meta.get("created_utc"), protocol=md.get("protocol"),
                     side=md.get("protocol_side"))
        result = process_session(str(path))
        frames = result.frames
        entry["protocol"] = infer_protocol(md, result.events)
        t = frames.time_s
        entry["duration_s"] = round(float(t[-1] - t[0]), 1) if len(t) else 0.0
        cal = result.calibration
        entry["calibration"] = None if cal is None else {"quality": round(float(cal.quality), 3),
                                                         "trusted": bool(cal.trusted)}
        if entry["protocol"]:
            res = protocol_result(entry["protocol"], result.events, frames.time_s, frames.angles_deg, frames.valid,
                                  side=entry["side"])
            entry["key"] = key_numbers(res)
            entry["counts"] = {s: b["n"] for s, b in res.sides.items()}
        else:
            entry["key"], entry["counts"] = {}, {}
    except Exception as exc:  # noqa: BLE001 - one bad file is a line in the list, not the end of it
        entry["error"] = " ".join(str(exc).split()) or type(exc).__name__
    return entry


def list_sessions(root: str | os.PathLike[str], athlete: str | None = None,
                  step: Callable[[str], None] | None = None) -> list[dict]:
    """Every session of the library (or of one athlete) with its index entry, refreshed where the file
    changed; in athlete, then date order. ``step(text)`` is called before each analysis (progress)."""
    root = Path(root)
    if not root.is_dir():
        raise LibraryError(f"{root}: no such library folder (record or import with --athlete NAME first)")
    if athlete and not (root / athlete_folder(athlete)).is_dir():
        known = ", ".join(athletes(root)) or "none yet"
        raise LibraryError(f"{root}: no athlete {athlete!r} in the library (athletes: {known})")
    index = _load_index(root)
    cache: dict = index["sessions"]
    files = session_files(root, athlete)
    changed = False
    out = []
    for f in files:
        rel = str(f.relative_to(root))
        stamp = _stamp(f)
        entry = cache.get(rel)
        if entry is None or entry.get("stamp") != stamp:
            if step is not None:
                step(f"analysing {rel}")
            entry = session_entry(f)
            entry["stamp"] = stamp
            cache[rel] = entry
            changed = True
        out.append({**entry, "path": str(f), "rel": rel, "folder": f.parent.name})
    if not athlete:  # entries of files gone (a full listing only: one athlete's view sees part of the folder)
        live = {str(f.relative_to(root)) for f in files}
        for rel in [r for r in cache if r not in live]:
            del cache[rel]
            changed = True
    if changed:
        try:
            _save_index(root, index)
        except OSError:
            pass  # a read-only library still lists (the cache is only a cache)
    out.sort(key=lambda e: (e["folder"], e.get("date") or "", e["rel"]))
    return out


__all__ = ["library_root", "athlete_folder", "new_session_path", "athletes", "session_files", "session_entry",
           "list_sessions", "LibraryError", "ENV", "DEFAULT_ROOT", "INDEX_NAME"]
