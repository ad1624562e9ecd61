"""Recover everything intact from a damaged or truncated session file (``hipmon repair``).

SQLite cannot open a session file cut short or with damaged pages, but most of its
pages are still whole. This module reads the file as bytes (SQLite's documented file
format, https://www.sqlite.org/fileformat2.html), never through SQLite and never
writing to it:

1. The page size, text encoding and size come from the 100-byte header (page 1); when
   the header is gone the page size is the one under which most pages look like b-tree
   pages.
2. A ``-wal`` file beside it is applied as SQLite would: frames whose salts and running
   checksums are valid, up to the last commit frame; the newest committed copy of each
   page wins. Uncommitted or damaged frames are ignored (they were never part of the
   database).
3. ``sqlite_master`` (page 1) names each table's root page; each table's b-tree is walked
   from its root. Pages no walk reaches (the interior page above them was lost, e.g.
   past the cut) are scanned too: every surviving b-tree page is decoded, leaves and the
   interior pages of the ``WITHOUT ROWID`` tables (whose interior cells hold rows too).
   A row found on such a page is given to the table whose columns it fits
   (:data:`SHAPES`, from ``schema.py``); a row found in a tree walk must fit its table too.
4. Cells are decoded (varints, record header, serial types); a payload spilling onto
   overflow pages is followed along the chain, and a row whose chain is broken is lost
   (counted).
5. Rows are deduplicated by their key (a row on a page reached from the root wins over a
   copy on a stray or free page) and written to a new, valid session file (the current
   schema, written atomically) with ``meta.repaired`` describing what was recovered
   and lost.

What is lost: rows on pages that are gone or damaged; a row whose overflow chain is
broken; ``meta`` values that are not valid JSON. What is reported: notifications per
sensor recovered against what is known to have existed (``seq`` runs 0, 1, 2, ... per
sensor, so holes below the highest ``seq`` found are certain losses; the recording's
``sensors_summary`` gives the full count where it survived), pages missing or unreadable.

Data bytes inside a surviving cell are taken as stored: SQLite keeps no checksum of
them, so a flipped bit inside a notification's payload is not detected here (the
decoder may reject that notification later: a ``decode_error``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ._common import RecordingError
from .schema import APPLICATION_ID, DATA_ROLE, FORMAT_NAME, SCHEMA_SQL, SCHEMA_VERSION

_WAL_MAGIC = (0x377F0682, 0x377F0683)
_LEAF_TABLE, _INTERIOR_TABLE, _LEAF_INDEX, _INTERIOR_INDEX = 13, 5, 10, 2
_BTREE_TYPES = (_LEAF_TABLE, _INTERIOR_TABLE, _LEAF_INDEX, _INTERIOR_INDEX)

# priority of where a row was found: a page reached from its table's root beats a stray page
_TREE, _STRAY = 2, 1

# ----------------------------------------------------------------------------- shapes
# A value's kind: "n" NULL, "i" integer, "f" float, "t" text, "b" blob.


def _is(kinds: tuple[str, ...], allowed: tuple[tuple[str, ...], ...]) -> bool:
    return len(kinds) == len(allowed) and all(k in a for k, a in zip(kinds, allowed))


N, I, F, T, B = ("n",), ("i",), ("f",), ("t",), ("b",)
NUM = ("i", "f")

#: table -> (b-tree kind "table"/"index", allowed kinds per stored column, key columns).
#: Rowid tables store NULL in their INTEGER PRIMARY KEY column; the cell's rowid is the id.
SHAPES: dict[str, tuple[str, tuple[tuple[str, ...], ...]]] = {
    "meta": ("table", (T, T)),
    "sensors": ("table", (T, T + N, T + N, NUM + N, T + N, T, I)),
    "gaps": ("table", (N + I, T, NUM, NUM, I, T)),
    "markers": ("table", (N + I, NUM, T, T)),
    "markers_v2": ("table", (N + I, NUM, T)),  # schema < 3 (no condition), or rows from before the upgrade
    "alerts": ("table", (N + I, NUM, T, T, T)),
    "calibration": ("table", (N + I, I, T)),
    "connection_log": ("table", (N + I, T + N, I, T, T)),
    "notifications": ("index", (T, I, I, B, T)),
    "notifications_v1": ("index", (T, I, I, B)),
    "samples": ("index", (T, I, I, B, B, B, B + N)),
}


def _kinds(values: list[Any]) -> tuple[str, ...]:
    out = []
    for v in values:
        if v is None:
            out.append("n")
        elif isinstance(v, int):
            out.append("i")
        elif isinstance(v, float):
            out.append("f")
        elif isinstance(v, str):
            out.append("t")
        else:
            out.append("b")
    return tuple(out)


def _classify(kind: str, values: list[Any]) -> str | None:
    """The hipmon table a row found on a stray page belongs to (None: none, or an index)."""
    k = _kinds(values)
    cands = [name for name, (bk, shape) in SHAPES.items() if bk == kind and _is(k, shape)]
    if len(cands) > 1 and set(cands) == {"markers_v2", "calibration"}:
        # (id, time_s, label) vs (id, host_ns, JSON): calibration stamps are monotonic ns
        big = isinstance(values[1], int) and abs(values[1]) > 10**6 and str(values[2]).startswith("{")
        cands = ["calibration" if big else "markers_v2"]
    return cands[0] if len(cands) == 1 else None


# ----------------------------------------------------------------------------- low level
def _varint(b: bytes, i: int) -> tuple[int, int]:
    """(value, bytes used) of the SQLite varint at ``b[i]`` (IndexError past the end)."""
    v = 0
    for k in range(8):
        c = b[i + k]
        v = (v << 7) | (c & 0x7F)
        if c < 0x80:
            return v, k + 1
    return (v << 8) | b[i + 8], 9


def _serial_size(t: int) -> int:
    if t < 12:
        return (0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1)[t]
    return (t - 12) // 2 if t % 2 == 0 else (t - 13) // 2


def decode_record(payload: bytes, encoding: str = "utf-8") -> list[Any] | None:
    """The column values of one record (None when it does not parse completely)."""
    try:
        hlen, k = _varint(payload, 0)
        if hlen < k or hlen > len(payload):
            return None
        types = []
        i = k
        while i < hlen:
            t, k = _varint(payload, i)
            i += k
            types.append(t)
        if i != hlen or not types:
            return None
        out: list[Any] = []
        pos = hlen
        for t in types:
            size = _serial_size(t)
            if size < 0 or pos + size > len(payload):
                return None
            chunk = payload[pos : pos + size]
            pos += size
            if t == 0:
                out.append(None)
            elif t <= 6:
                out.append(int.from_bytes(chunk, "big", signed=True))
            elif t == 7:
                out.append(struct.unpack(">d", chunk)[0])
            elif t == 8:
                out.append(0)
            elif t == 9:
                out.append(1)
            elif t % 2 == 0:
                out.append(bytes(chunk))
            else:
                out.append(bytes(chunk).decode(encoding))
        if pos != len(payload):
            return None
        return out
    except (IndexError, UnicodeDecodeError, struct.error):
        return None


def _wal_checksum(b: bytes, s0: int, s1: int, big: bool) -> tuple[int, int]:
    words = struct.unpack(f"{'>' if big else '<'}{len(b) // 4}I", b)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def read_wal(wal: bytes, page_size: int | None) -> tuple[dict[int, bytes], int, int, str]:
    """Committed pages of a WAL file: ({page: newest committed image}, database size in pages
    at the last commit (0: none), frames applied, a note on what was ignored)."""
    if len(wal) < 32:
        return {}, 0, 0, "empty -wal" if not wal else "-wal shorter than its header: ignored"
    magic, _version, ps = struct.unpack(">III", wal[:12])
    if magic not in _WAL_MAGIC or ps < 512 or ps & (ps - 1) or (page_size and ps != page_size):
        return {}, 0, 0, "-wal header not valid (or another page size): ignored"
    big = bool(magic & 1)
    s0, s1 = _wal_checksum(wal[:24], 0, 0, big)
    if (s0, s1) != struct.unpack(">II", wal[24:32]):
        return {}, 0, 0, "-wal header checksum wrong: ignored"
    salts = wal[16:24]
    committed: dict[int, bytes] = {}
    pending: dict[int, bytes] = {}
    db_pages = 0
    applied = 0
    n_pending = 0
    off = 32
    frame = 24 + ps
    stop = "end of -wal"
    while off + frame <= len(wal):
        fh = wal[off : off + 24]
        pg, commit = struct.unpack(">II", fh[:8])
        if fh[8:16] != salts:
            stop = "older frames after the last commit (salt changed)"
            break
        page = wal[off + 24 : off + frame]
        s0, s1 = _wal_checksum(fh[:8], s0, s1, big)
        s0, s1 = _wal_checksum(page, s0, s1, big)
        if (s0, s1) != struct.unpack(">II", fh[16:24]) or pg == 0:
            stop = "a frame with a wrong checksum (damaged or never completed)"
            break
        pending[pg] = bytes(page)
        n_pending += 1
        if commit:
            committed.update(pending)
            applied += n_pending
            pending.clear()
            n_pending = 0
            db_pages = commit
        off += frame
    note = f"{applied} committed frame(s) applied"
    if n_pending:
        note += f", {n_pending} uncommitted ignored"
    if stop != "end of -wal":
        note += f"; stopped at {stop}"
    return committed, db_pages, applied, note


# ----------------------------------------------------------------------------- report
@dataclass
class SalvageReport:
    """What :func:`salvage` found: counts, per-sensor notifications, what was lost."""

    path: str
    file_bytes: int = 0
    page_size: int = 0
    header_ok: bool = False
    pages_in_file: int = 0  # whole pages present (file + committed -wal pages)
    pages_expected: int = 0  # by the header / the -wal's last commit (0: unknown)
    pages_missing: int = 0  # expected but absent (cut off)
    pages_unreadable: int = 0  # present b-tree pages that could not be decoded
    partial_page_bytes: int = 0  # bytes of a page cut in the middle
    wal: str = "no -wal"
    tables_from: str = "sqlite_master"
    rows: dict[str, int] = field(default_factory=dict)
    rows_lost: dict[str, int] = field(default_factory=dict)  # cells found but not decodable
    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def recovered_anything(self) -> bool:
        return any(self.rows.get(t, 0) for t in ("notifications", "samples"))

    def summary(self) -> str:
        """One line: what was recovered and lost."""
        n = sum(v["recovered"] for v in self.notifications.values())
        s = sum(v["samples"] for v in self.samples.values())
        parts = []
        if self.notifications:
            known = [v["expected"] for v in self.notifications.values()]
            exp = sum(known) if all(k is not None for k in known) else None
            parts.append(f"{n} notifications" + (f" of {exp}" if exp is not None else ""))
        if self.samples:
            parts.append(f"{s} imported samples")
        if not parts:
            parts.append("no data")
        lost = []
        if self.pages_missing:
            lost.append(f"{self.pages_missing} page(s) missing")
        if self.pages_unreadable:
            lost.append(f"{self.pages_unreadable} page(s) unreadable")
        if sum(self.rows_lost.values()):
            lost.append(f"{sum(self.rows_lost.values())} cell(s) cut off or undecodable")
        return "recovered " + ", ".join(parts) + ("; lost: " + ", ".join(lost) if lost else "")

    def lines(self) -> list[str]:
        """Human-readable report (``hipmon repair`` / ``hipmon info`` on a damaged file)."""
        out = [
            f"file        {self.path}: {self.file_bytes} bytes, page size {self.page_size}, "
            f"{self.pages_in_file} page(s) present"
            + (f" of {self.pages_expected}" if self.pages_expected else "")
            + ("" if self.header_ok else " (header damaged)"),
            f"wal         {self.wal}",
            f"tables      found from {self.tables_from}",
        ]
        if self.pages_missing or self.pages_unreadable or self.partial_page_bytes:
            out.append(
                f"pages lost  {self.pages_missing} missing, {self.pages_unreadable} unreadable"
                + (f", {self.partial_page_bytes} bytes of a cut page" if self.partial_page_bytes else "")
            )
        for sid, v in self.notifications.items():
            exp = v["expected"]
            line = f"  {sid:<14} {v['recovered']:>7} notifications"
            if exp is not None:
                pct = 100.0 * v["recovered"] / exp if exp else 100.0
                line += f" of {exp} ({pct:.1f} %)"
            line += f", seq 0-{v['max_seq']}" if v["max_seq"] is not None else ""
            if v["holes"]:
                line += f", {v['holes']} missing below the last"
            if v["control"]:
                line += f", {v['control']} control"
            out.append(line)
        for sid, v in self.samples.items():
            line = f"  {sid:<14} {v['samples']:>7} imported samples in {v['chunks']} chunk(s)"
            if v["chunks_missing"]:
                line += f", {v['chunks_missing']} chunk(s) missing"
            out.append(line)
        other = {t: n for t, n in self.rows.items() if t not in ("notifications", "samples")}
        out.append("rows        " + ", ".join(f"{t} {n}" for t, n in other.items()))
        if any(self.rows_lost.values()):
            out.append("cells lost  " + ", ".join(f"{n} (cut off with their page, or undecodable)"
                                                for n in self.rows_lost.values() if n))
        for p in self.problems:
            out.append(f"note        {p}")
        out.append(f"summary     {self.summary()}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "file_bytes": self.file_bytes,
            "page_size": self.page_size,
            "header_ok": self.header_ok,
            "pages_in_file": self.pages_in_file,
            "pages_expected": self.pages_expected,
            "pages_missing": self.pages_missing,
            "pages_unreadable": self.pages_unreadable,
            "wal": self.wal,
            "tables_from": self.tables_from,
            "rows": dict(self.rows),
            "rows_lost": dict(self.rows_lost),
            "notifications": self.notifications,
            "samples": self.samples,
            "problems": list(self.problems),
            "summary": self.summary(),
        }


@dataclass
class Salvaged:
    """Rows recovered per table (values as stored, the table's columns in order) and the report."""

    rows: dict[str, dict[Any, list[Any]]]
    report: SalvageReport
    encoding: str = "utf-8"


# ----------------------------------------------------------------------------- the walk
class _Pages:
    def __init__(self, data: bytes, page_size: int, reserved: int, wal_pages: dict[int, bytes]) -> None:
        self.data = data
        self.ps = page_size
        self.usable = page_size - reserved
        self.n_file = len(data) // page_size
        self.wal = wal_pages

    def get(self, pgno: int) -> bytes | None:
        if pgno in self.wal:
            return self.wal[pgno]
        if 1 <= pgno <= self.n_file:
            return self.data[(pgno - 1) * self.ps : pgno * self.ps]
        if pgno == self.n_file + 1 and len(self.data) - self.n_file * self.ps >= 12:
            # the page cut in the middle: cells lying wholly before the cut still decode
            # (a cell reaching past it fails its record's size checks and is dropped)
            return self.data[self.n_file * self.ps :]
        return None

    def numbers(self) -> list[int]:
        extra = {self.n_file + 1} if self.get(self.n_file + 1) is not None else set()
        return sorted(set(range(1, self.n_file + 1)) | set(self.wal) | extra)


def _guess_page_size(data: bytes) -> int:
    best, best_score = 4096, -1
    for ps in (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536):
        n = len(data) // ps
        if n < 2:
            continue
        score = 0
        for k in range(1, min(n, 400)):
            b = data[k * ps]
            if b in _BTREE_TYPES:
                ncells = int.from_bytes(data[k * ps + 3 : k * ps + 5], "big")
                start = int.from_bytes(data[k * ps + 5 : k * ps + 7], "big") or 65536
                if 0 < ncells < ps // 4 and start <= ps:
                    score += 1
        score = score * 4096 // ps if score else 0  # compare per byte, not per page
        if score > best_score:
            best, best_score = ps, score
    return best


class _Walker:
    def __init__(self, pages: _Pages, encoding: str, report: SalvageReport) -> None:
        self.pages = pages
        self.enc = encoding
        self.report = report
        self.used: set[int] = set()  # b-tree and overflow pages reached (tree or scan)
        self.bad_pages: set[int] = set()
        self.undecodable = 0

    def _local(self, p: int, index: bool) -> int:
        u = self.pages.usable
        x = (u - 12) * 64 // 255 - 23 if index else u - 35
        if p <= x:
            return p
        m = (u - 12) * 32 // 255 - 23
        k = m + (p - m) % (u - 4)
        return k if k <= x else m

    def _payload(self, page: bytes, off: int, size: int, index: bool) -> bytes | None:
        local = self._local(size, index)
        if off + local > self.pages.usable:
            return None
        body = bytearray(page[off : off + local])
        if local == size:
            return bytes(body)
        if off + local + 4 > min(self.pages.usable, len(page)):
            return None
        nxt = int.from_bytes(page[off + local : off + local + 4], "big")
        seen: set[int] = set()
        while len(body) < size:
            if nxt == 0 or nxt in seen:
                return None
            seen.add(nxt)
            ov = self.pages.get(nxt)
            if ov is None:
                return None  # the chain runs past the end of the file
            self.used.add(nxt)
            body += ov[4 : self.pages.usable][: size - len(body)]
            nxt = int.from_bytes(ov[:4], "big")
        return bytes(body)

    def parse(self, pgno: int) -> tuple[int, list[tuple[int | None, list[Any]]], list[int]] | None:
        """(page type, [(rowid or None, values)], child pages) of a b-tree page; None if not one
        (or so damaged that its header or cell pointers run off the page)."""
        try:
            return self._parse(pgno)
        except (IndexError, ValueError, struct.error):
            return None

    def _parse(self, pgno: int) -> tuple[int, list[tuple[int | None, list[Any]]], list[int]] | None:
        page = self.pages.get(pgno)
        if page is None:
            return None
        h = 100 if pgno == 1 else 0
        t = page[h]
        if t not in _BTREE_TYPES:
            return None
        interior = t in (_INTERIOR_TABLE, _INTERIOR_INDEX)
        hsize = 12 if interior else 8
        ncells = int.from_bytes(page[h + 3 : h + 5], "big")
        content = int.from_bytes(page[h + 5 : h + 7], "big") or 65536
        ptr_end = h + hsize + 2 * ncells
        if ptr_end > min(self.pages.usable, len(page)) or (ncells and not ptr_end <= content <= self.pages.ps):
            return None
        children = []
        if interior:
            children.append(int.from_bytes(page[h + 8 : h + 12], "big"))
        rows: list[tuple[int | None, list[Any]]] = []
        index = t in (_LEAF_INDEX, _INTERIOR_INDEX)
        for c in range(ncells):
            off = int.from_bytes(page[h + hsize + 2 * c : h + hsize + 2 * c + 2], "big")
            if not ptr_end <= off < self.pages.usable:
                self.undecodable += 1
                continue
            try:
                if interior:
                    children.append(int.from_bytes(page[off : off + 4], "big"))
                    off += 4
                if t == _INTERIOR_TABLE:
                    continue  # only a key (rowid)
                size, k = _varint(page, off)
                off += k
                rowid = None
                if t == _LEAF_TABLE:
                    rowid, k = _varint(page, off)
                    off += k
                    if rowid >= 1 << 63:
                        rowid -= 1 << 64
                payload = self._payload(page, off, size, index)
            except IndexError:
                payload = None
            values = None if payload is None else decode_record(payload, self.enc)
            if values is None:
                self.undecodable += 1
                continue
            rows.append((rowid, values))
        return t, rows, children


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def salvage(path: str | os.PathLike[str]) -> Salvaged:
    """Every intact row of a (damaged or truncated) session file, read-only.

    Reads ``path`` and ``path-wal`` as bytes (neither is modified, nothing is created).
    :class:`RecordingError` only when the file cannot be read at all."""
    p = Path(path)
    if not p.exists():
        raise RecordingError(f"{p}: no such file")
    if p.is_dir():
        raise RecordingError(f"{p}: is a directory, not a session file")
    data = _read_bytes(p)
    wal_path = Path(f"{p}-wal")
    wal = _read_bytes(wal_path) if wal_path.is_file() else None
    rep = SalvageReport(str(p), file_bytes=len(data))

    head = data[:100]
    ps = int.from_bytes(head[16:18], "big") if len(head) >= 18 else 0
    ps = 65536 if ps == 1 else ps
    rep.header_ok = head[:16] == b"SQLite format 3\x00" and len(head) == 100 and ps >= 512 and not ps & (ps - 1)
    reserved = head[20] if rep.header_ok else 0
    enc_code = int.from_bytes(head[56:60], "big") if rep.header_ok else 1
    encoding = {2: "utf-16-le", 3: "utf-16-be"}.get(enc_code, "utf-8")
    if not rep.header_ok:
        ps = 0
        if wal and len(wal) >= 32 and int.from_bytes(wal[:4], "big") in _WAL_MAGIC:
            ps = int.from_bytes(wal[8:12], "big")
        if not ps or ps & (ps - 1) or ps < 512:
            ps = _guess_page_size(data)
        rep.problems.append(f"SQLite header damaged or missing: page size {ps} assumed")
    rep.page_size = ps
    if rep.header_ok and reserved >= ps - 480:
        reserved = 0
    wal_pages: dict[int, bytes] = {}
    wal_db_pages = 0
    if wal is not None:
        wal_pages, wal_db_pages, _n, note = read_wal(wal, ps)
        rep.wal = f"{wal_path.name}: {note}"
    pages = _Pages(data, ps, reserved, wal_pages)
    if wal_db_pages:  # a commit's database size: pages past it are gone (truncated table)
        for pg in [q for q in wal_pages if q > wal_db_pages]:
            del wal_pages[pg]
    rep.partial_page_bytes = len(data) % ps
    header_pages = 0
    page1 = pages.get(1)
    if page1 is not None and rep.header_ok:
        if page1[24:28] == page1[92:96]:
            header_pages = int.from_bytes(page1[28:32], "big")
    expected = wal_db_pages or header_pages
    present = list(range(1, pages.n_file + 1)) + [q for q in wal_pages if q > pages.n_file]
    if expected:
        present = [q for q in present if q <= expected]
    rep.pages_in_file = len(present)
    rep.pages_expected = expected
    rep.pages_missing = max(0, expected - len(present)) if expected else 0

    walker = _Walker(pages, encoding, rep)
    found: dict[str, dict[Any, tuple[int, int, list[Any]]]] = {name: {} for name in SHAPES}

    def keep(table: str, rowid: int | None, values: list[Any], prio: int, pgno: int) -> None:
        if table.startswith("notifications"):
            if table == "notifications_v1":
                values = values + [DATA_ROLE]
                table = "notifications"
            key: Any = (values[0], values[1])
        elif table == "markers_v2":  # no condition column (yet): the condition is ""
            keep("markers", rowid, values + [""], prio, pgno)
            return
        elif table == "samples":
            key = (values[0], values[1])
        elif table in ("meta", "sensors"):
            key = values[0]
        else:
            if rowid is None:
                return
            key = rowid
            values = [rowid] + values[1:]
        old = found[table].get(key)
        if old is None or (prio, pgno) > (old[0], old[1]):
            found[table][key] = (prio, pgno, values)

    # 1. the schema (sqlite_master on page 1)
    roots: dict[int, str] = {}
    if page1 is not None and rep.header_ok:
        schema_pages: list[int] = [1]
        seen_schema: set[int] = set()
        while schema_pages:
            pg = schema_pages.pop()
            if pg in seen_schema:
                continue
            seen_schema.add(pg)
            parsed = walker.parse(pg)
            if parsed is None:
                continue
            walker.used.add(pg)
            t, rows, children = parsed
            schema_pages.extend(c for c in children if c)
            for _rowid, v in rows:
                if len(v) == 5 and v[0] == "table" and isinstance(v[3], int) and isinstance(v[1], str):
                    roots[v[3]] = v[1]
    known = {"meta", "sensors", "notifications", "samples", "gaps", "markers", "alerts", "calibration",
             "connection_log"}
    roots = {r: n for r, n in roots.items() if n in known}
    if not roots:
        rep.tables_from = "the rows' columns (sqlite_master lost)"
    elif len(roots) < len(known):
        rep.tables_from = "sqlite_master (some tables by their rows' columns)"

    # 2. walk each table from its root
    for root, name in roots.items():
        stack = [root]
        seen: set[int] = set()
        while stack:
            pg = stack.pop()
            if pg in seen or pg in walker.used or pg < 1:
                continue
            seen.add(pg)
            if pages.get(pg) is None:
                continue  # past the end: counted in pages_missing
            parsed = walker.parse(pg)
            if parsed is None:
                walker.bad_pages.add(pg)
                continue
            walker.used.add(pg)
            _t, rows, children = parsed
            stack.extend(children)
            for rowid, values in rows:
                kind, shape = SHAPES[name]
                target = name
                if name == "notifications" and len(values) == 4:
                    target = "notifications_v1"
                elif name == "markers" and len(values) == 3:
                    target = "markers_v2"
                if _is(_kinds(values), SHAPES[target][1]):
                    keep(target, rowid, values, _TREE, pg)
                else:
                    walker.undecodable += 1

    # 3. every other page that looks like a b-tree page (its tree's upper pages are lost)
    for pg in pages.numbers():
        if pg in walker.used:
            continue
        parsed = walker.parse(pg)
        if parsed is None:
            continue
        t, rows, _children = parsed
        if not rows:
            continue
        kind = "table" if t in (_LEAF_TABLE, _INTERIOR_TABLE) else "index"
        hits = 0
        for rowid, values in rows:
            name = _classify(kind, values)
            if name is not None:
                keep(name, rowid, values, _STRAY, pg)
                hits += 1
        if hits:
            walker.used.add(pg)
            walker.bad_pages.discard(pg)
    rep.pages_unreadable = len(walker.bad_pages - walker.used)
    if walker.undecodable:
        rep.rows_lost["cells"] = walker.undecodable

    rows = {name: {k: v[2] for k, v in sorted(found[name].items(), key=lambda kv: _sort_key(kv[0]))}
            for name in SHAPES if not name.endswith(("_v1", "_v2"))}
    rep.rows = {name: len(v) for name, v in rows.items()}
    _fill_report(rep, rows)
    return Salvaged(rows, rep, encoding)


def _sort_key(key: Any) -> Any:
    return key if isinstance(key, tuple) else (str(type(key)), key)


def _fill_report(rep: SalvageReport, rows: dict[str, dict[Any, list[Any]]]) -> None:
    meta = {}
    for k, v in rows["meta"].items():
        try:
            meta[k] = json.loads(v[1])
        except (ValueError, TypeError):
            rep.problems.append(f"meta {k!r}: not valid JSON, dropped")
    summary = ((meta.get("metadata") or {}) if isinstance(meta.get("metadata"), dict) else {}).get("sensors_summary")
    per: dict[str, dict[str, Any]] = {}
    for (sid, seq), v in rows["notifications"].items():
        e = per.setdefault(sid, {"recovered": 0, "control": 0, "seqs": 0, "max_seq": -1})
        e["seqs"] += 1
        e["max_seq"] = max(e["max_seq"], seq)
        if v[4] == DATA_ROLE:
            e["recovered"] += 1
        else:
            e["control"] += 1
    for sid in rows["sensors"]:
        if sid not in per and not any(k[0] == sid for k in rows["samples"]):
            per[sid] = {"recovered": 0, "control": 0, "seqs": 0, "max_seq": -1}
    for sid, e in per.items():
        holes = e["max_seq"] + 1 - e["seqs"]
        expected = None
        if isinstance(summary, dict) and isinstance(summary.get(sid), dict):
            n = summary[sid].get("notifications")
            if isinstance(n, int):
                expected = max(n, e["recovered"] + holes)
        rep.notifications[sid] = {
            "recovered": e["recovered"],
            "control": e["control"],
            "max_seq": e["max_seq"] if e["max_seq"] >= 0 else None,
            "holes": holes,
            "expected": expected,
            "expected_from": "sensors_summary" if expected is not None else None,
        }
    by_sensor: dict[str, list[tuple[int, int]]] = {}
    for (sid, chunk), v in rows["samples"].items():
        by_sensor.setdefault(sid, []).append((chunk, int(v[2])))
    for sid, chunks in by_sensor.items():
        top = max(c for c, _ in chunks)
        rep.samples[sid] = {
            "chunks": len(chunks),
            "samples": sum(n for _, n in chunks),
            "chunks_missing": top + 1 - len(chunks),
        }
    if not rows["meta"]:
        rep.problems.append("meta table lost: session facts (origin, metadata) rebuilt")
    lost_sensors = [s for s in set(per) | set(by_sensor) if s not in rows["sensors"]]
    if lost_sensors:
        rep.problems.append(f"sensor description(s) lost for {', '.join(sorted(lost_sensors))}: "
                            "profile unknown, their notifications cannot be decoded")


# ----------------------------------------------------------------------------- repair
def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def write_salvaged(salv: Salvaged, output: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Write the recovered rows to a new session file (atomically: a temporary file beside
    ``output`` renamed at the end, removed on any failure)."""
    from hipmon.types import PLACEMENTS

    from .writer import check_output_path, remove_session_file, temporary_name

    out = Path(output)
    check_output_path(out, overwrite, flag="--overwrite")
    rows = salv.rows
    rep = salv.report
    meta: dict[str, str] = {}
    for k, v in rows["meta"].items():
        try:
            json.loads(v[1])
            meta[k] = v[1]
        except (ValueError, TypeError):
            pass
    host = [v[2] for v in rows["notifications"].values()] + [v[2] for v in rows["connection_log"].values()]
    meta.setdefault("format", json.dumps(FORMAT_NAME))
    meta["schema_version"] = json.dumps(SCHEMA_VERSION)
    meta.setdefault("software_version", json.dumps(None))
    meta.setdefault("created_utc", json.dumps(None))
    meta.setdefault("origin_ns", json.dumps(min(host) if host else 0))
    meta.setdefault("metadata", json.dumps({}))
    meta["repaired"] = json.dumps(
        {"from": str(Path(rep.path).resolve()), "utc": _utc_now(), "summary": rep.summary(), "report": rep.to_json()},
        sort_keys=True,
    )
    sensors = dict(rows["sensors"])
    for sid in list(rep.notifications) + list(rep.samples):
        if sid not in sensors:
            sensors[sid] = [sid, sid if sid in PLACEMENTS else None, None, None, None, "{}", 0]
    tmp = temporary_name(out)
    remove_session_file(tmp)
    con = None
    try:
        con = sqlite3.connect(os.fspath(tmp), isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute(f"PRAGMA application_id={APPLICATION_ID}")
        con.execute("BEGIN")
        for stmt in SCHEMA_SQL.split(";"):
            if stmt.strip():
                con.execute(stmt)
        con.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", sorted(meta.items()))
        con.executemany(
            "INSERT INTO sensors(sensor_id, placement, profile, rate_hz, address, extra, added_ns) VALUES (?,?,?,?,?,?,?)",
            [_floats(v, (3,)) for v in sensors.values()],
        )
        con.executemany("INSERT INTO notifications(sensor_id, seq, host_ns, data, role) VALUES (?,?,?,?,?)",
                        rows["notifications"].values())
        con.executemany("INSERT INTO samples(sensor_id, chunk, n, time_s, acc, gyr, mag) VALUES (?,?,?,?,?,?,?)",
                        rows["samples"].values())
        con.executemany("INSERT INTO gaps(id, sensor_id, start_s, end_s, samples_lost, reason) VALUES (?,?,?,?,?,?)",
                        [_floats(v, (2, 3)) for v in rows["gaps"].values()])
        con.executemany("INSERT INTO markers(id, time_s, label, condition) VALUES (?,?,?,?)",
                        [_floats(v, (1,)) for v in rows["markers"].values()])
        con.executemany("INSERT INTO alerts(id, time_s, rule, side, detail) VALUES (?,?,?,?,?)",
                        [_floats(v, (1,)) for v in rows["alerts"].values()])
        con.executemany("INSERT INTO calibration(id, host_ns, data) VALUES (?,?,?)", rows["calibration"].values())
        con.executemany("INSERT INTO connection_log(id, sensor_id, host_ns, kind, detail) VALUES (?,?,?,?,?)",
                        rows["connection_log"].values())
        con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        con = None
        for suffix in ("-wal", "-shm"):
            q = f"{tmp}{suffix}"
            if os.path.exists(q) and os.path.getsize(q) == 0:
                os.unlink(q)
        for suffix in ("-wal", "-shm"):
            if os.path.isfile(f"{out}{suffix}"):
                os.unlink(f"{out}{suffix}")
        os.replace(tmp, out)
    except BaseException as exc:
        if con is not None:
            try:
                con.close()
            except sqlite3.Error:
                pass
        remove_session_file(tmp)
        if isinstance(exc, (sqlite3.Error, OSError)):
            raise RecordingError(f"{out}: cannot write the repaired session: {exc}") from exc
        raise


def _floats(values: list[Any], cols: tuple[int, ...]) -> list[Any]:
    """REAL columns SQLite stored as integers (an optimisation) back as floats."""
    v = list(values)
    for c in cols:
        if isinstance(v[c], int):
            v[c] = float(v[c])
    return v


def repair(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SalvageReport:
    """Salvage ``path`` (read-only) and write what is intact to ``output`` (a new session file).

    :class:`RecordingError` when nothing (no notification, no samples) could be recovered;
    ``output`` is then not written."""
    from .writer import check_output_path

    out = Path(output)
    check_output_path(out, overwrite, flag="--overwrite")
    if out.exists() and os.path.samefile(out, path):
        raise RecordingError(f"{out}: is the damaged file itself (write the repaired session to a new file)")
    salv = salvage(path)
    if not salv.report.recovered_anything:
        what = "not an SQLite file" if not salv.report.header_ok and not any(salv.report.rows.values()) else (
            salv.report.summary().replace("recovered no data", "no notifications or samples found"))
        raise RecordingError(f"{path}: nothing could be recovered ({what})")
    write_salvaged(salv, out, overwrite=overwrite)
    return salv.report
