"""``SessionReader``: open a session file, read everything back, decode raw notifications."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from hipmon.stream import ItemBlock
from hipmon.types import Alert, ConnectionEvent, Gap, ImuBlock, RawNotification, SensorSpec

from ._common import DamagedFileError, RecordingError, blob_f64, is_damage, loads, repair_hint
from .schema import (
    APPLICATION_ID,
    CSV_IMPORT_PROFILE,
    DATA_ROLE,
    FORMAT_NAME,
    MIN_SCHEMA_VERSION,
    SCHEMA_VERSION,
    TABLES_V1,
)

#: Reconnect-like connection log kinds: the decoder and clock map restart there.
RESET_KINDS = ("connect", "reconnect")

#: seq numbers of a sensor ``SessionReader.item_blocks`` reads per query; it holds up to ~1.5
#: windows a sensor (~150 bytes a notification: ~2 MB a sensor for 10 000)
READ_WINDOW = 5_000


@dataclass(frozen=True)
class Marker:
    """A user marker: session time (s), label and condition ("" when none; schema < 3)."""

    time_s: float  # session time
    label: str
    condition: str = ""


@dataclass
class DecodedStream:
    """Decoded samples of one sensor plus what went wrong on the way.

    ``block.host_ns`` (N,) is each sample's notification arrival (host
    monotonic ns; None for imported samples); ``decode_errors`` counts
    notifications the decoder rejected (``first_errors``: up to 5 messages);
    ``control_messages``: control-point messages fed to ``decoder.handle_control``
    in arrival order (Polar START responses: the scale). Recorded sessions are decoded by
    the stream stage (``hipmon.stream``), exactly as live acquisition decoded them.
    """

    block: ImuBlock
    notifications: int
    decode_errors: int
    first_errors: list[str]
    control_messages: int = 0
    #: (N,) session time (s) of each sample, from the stream stage's causal clock map (None: imported)
    time_session_s: np.ndarray | None = None
    #: gaps the stream stage found (exact counts where the protocol allows), session time
    gaps: list[Gap] = field(default_factory=list)


DecoderFactory = Callable[[SensorSpec], Any]


def _uri(path: Path, query: str) -> str:
    text = str(path.resolve()).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file:{text}?{query}"


def _profile_decoder(info: SensorSpec) -> Any:
    from hipmon.profiles import get_profile  # lazy: the profiles module is optional here

    profile = get_profile(info.profile)
    return profile.make_decoder(info.rate_hz if info.rate_hz else profile.default_rate_hz)


#: emulation speed factors whose recordings the clock sync can map (``hipmon.sync.ClockSync``
#: follows a sensor clock up to 20 % off the host's)
EMULATION_SPEED_SYNCS = (0.8, 1.2)


def emulation_speed(metadata: dict[str, Any]) -> float | None:
    """The ``--speed`` an emulated recording was made with (None: not emulated, or not said)."""
    emu = metadata.get("emulation")
    if not isinstance(emu, dict):
        return None
    try:
        return float(emu.get("speed", 1.0))
    except (TypeError, ValueError):
        return None


def speed_warning(speed: float) -> str:
    """Why a recording made with emulation ``--speed`` far from 1 does not analyse."""
    return (f"recorded from emulated sensors at --speed {speed:g}: their clocks ran {speed:g}x this computer's, "
            "which no real sensor does, and the clock sync follows a sensor clock only up to 20 % off: "
            "sample times, calibration and events of this file are not meaningful (record at --speed 1 "
            "for a session to analyse)")


class SessionReader:
    """Read a session file written by :class:`SessionWriter` (or ``hipmon import``).

    Opening checks that the file is an SQLite database with hipmon's
    ``application_id``, a schema version this code can read and the expected
    tables; anything else raises :class:`RecordingError` naming the file.
    Reading never modifies the file nor creates one beside it: without a ``-wal``
    the file is opened ``immutable``; with one (a killed or running recording) file
    and ``-wal`` are read from a temporary copy, where SQLite replays the committed
    part of the WAL (so the original's WAL is not merged). A damaged or truncated
    file raises :class:`DamagedFileError` (``hipmon repair`` recovers what is intact).

    ``decoder_factory(sensor_info) -> decoder`` decodes raw notifications
    (default: the sensor's firmware profile, ``hipmon.profiles``).
    """

    def __init__(self, path: str | os.PathLike[str], *, decoder_factory: DecoderFactory | None = None) -> None:
        self.path = Path(path)
        self._decoder_factory = decoder_factory or _profile_decoder
        self._decoded: dict[str, DecodedStream] = {}
        self._snapshot: str | None = None
        self._con: sqlite3.Connection | None = None
        self._con = self._open()
        try:
            self._check()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ opening (read-only)
    def _open(self) -> sqlite3.Connection:
        """A read-only connection that never modifies the file nor creates one beside it.

        No ``-wal`` beside the file: ``immutable=1`` (no locks, no ``-shm``). A ``-wal``
        beside it (a killed or running recording): file and ``-wal`` are copied to a
        temporary folder and SQLite replays the committed part of the WAL there, so the
        original is never checkpointed (merged) by reading; the copy goes at :meth:`close`."""
        p = self.path
        if not p.exists():
            raise RecordingError(f"{p}: no such file")
        if p.is_dir():
            raise RecordingError(f"{p}: is a directory, not a session file")
        try:
            size = p.stat().st_size
            with open(p, "rb") as fh:
                head = fh.read(100)
        except OSError as exc:
            raise RecordingError(f"{p}: cannot read: {exc.strerror or exc}") from exc
        if size == 0:
            raise RecordingError(f"{p}: empty file (0 bytes): not a hipmon recording (not an SQLite database)")
        if head[:16] != b"SQLite format 3\x00":
            raise RecordingError(f"{p}: not a hipmon recording (not an SQLite database)")
        wal = Path(f"{p}-wal")
        has_wal = wal.is_file()
        page_size = int.from_bytes(head[16:18], "big") if len(head) >= 18 else 0
        page_size = 65536 if page_size == 1 else page_size
        if len(head) < 100 or page_size < 512 or page_size & (page_size - 1):
            raise DamagedFileError(f"{p}: not a readable session file (damaged SQLite header); {repair_hint(p)}")
        if not has_wal:
            pages = int.from_bytes(head[28:32], "big")
            header_valid = head[24:28] == head[92:96] and pages > 0
            if size % page_size or (header_valid and size < pages * page_size):
                raise DamagedFileError(
                    f"{p}: truncated session file ({size} bytes, "
                    f"{'expected ' + str(pages * page_size) if header_valid else 'not a whole number of pages'}); "
                    f"{repair_hint(p)}"
                )
        try:
            if has_wal:
                target = self._make_snapshot(wal)
                return sqlite3.connect(target, check_same_thread=False)
            return sqlite3.connect(_uri(p, "mode=ro&immutable=1"), uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise RecordingError(f"{p}: cannot open: {exc}") from exc

    def _make_snapshot(self, wal: Path) -> str:
        """Copy the file and its ``-wal`` to a temporary folder (again if either changed while copying)."""
        tmp = tempfile.mkdtemp(prefix="hipmon-read-")
        self._snapshot = tmp
        self._finalizer = weakref.finalize(self, shutil.rmtree, tmp, True)
        target = os.path.join(tmp, "session.hipmon")

        def stamp() -> tuple[tuple[int, int], ...]:
            out = []
            for q in (self.path, wal):
                try:
                    st = os.stat(q)
                    out.append((st.st_size, st.st_mtime_ns))
                except FileNotFoundError:
                    out.append((-1, 0))
            return tuple(out)

        for _attempt in range(5):
            before = stamp()
            try:
                shutil.copyfile(self.path, target)
                if os.path.exists(wal):
                    shutil.copyfile(wal, target + "-wal")
            except OSError as exc:
                raise RecordingError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
            if stamp() == before:
                break
            time.sleep(0.05)  # a running recording wrote meanwhile: copy again
        return target

    def _damaged(self, exc: BaseException) -> RecordingError:
        if is_damage(exc):
            return DamagedFileError(f"{self.path}: damaged session file ({exc}); {repair_hint(self.path)}")
        return RecordingError(f"{self.path}: read failed: {exc}")

    def _check(self) -> None:
        """The file is a hipmon session this code reads (RecordingError naming it otherwise)."""
        assert self._con is not None
        try:
            app_id = self._con.execute("PRAGMA application_id").fetchone()[0]
            version = self._con.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self._con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise DamagedFileError(
                    f"{self.path}: damaged session file ({exc}); {repair_hint(self.path)}"
                ) from exc
            raise RecordingError(f"{self.path}: not a readable session file ({exc})") from exc
        if app_id != APPLICATION_ID:
            raise RecordingError(f"{self.path}: an SQLite database, but not a hipmon recording")
        if version > SCHEMA_VERSION:
            raise RecordingError(
                f"{self.path}: written with schema version {version}; this hipmon reads up to "
                f"{SCHEMA_VERSION} (upgrade hipmon)"
            )
        missing = [t for t in TABLES_V1 if t not in tables]
        if not missing:
            cols = {r[1] for r in self._con.execute("PRAGMA table_info(notifications)")}
            mcols = {r[1] for r in self._con.execute("PRAGMA table_info(markers)")}
            if version >= 2 and "role" not in cols:
                missing = ["notifications.role"]
            elif version >= 3 and "condition" not in mcols:
                missing = ["markers.condition"]
        else:
            cols = mcols = set()
        if version < MIN_SCHEMA_VERSION or missing:
            raise DamagedFileError(
                f"{self.path}: damaged hipmon recording (schema version {version}, missing tables: "
                f"{', '.join(missing) or 'none'})"
            )
        self.schema_version = int(version)
        # version 1 files have no role column: every stored notification is data
        self._role_sql = "role" if "role" in cols else f"'{DATA_ROLE}'"
        # version 1 and 2 files have no markers.condition: every marker's condition is ""
        self._condition_sql = "condition" if "condition" in mcols else "''"
        try:
            self._meta = {k: loads(v) for k, v in self._con.execute("SELECT key, value FROM meta")}
        except (sqlite3.Error, ValueError) as exc:
            raise DamagedFileError(f"{self.path}: damaged meta table ({exc}); {repair_hint(self.path)}") from exc
        if self._meta.get("format") != FORMAT_NAME:
            raise RecordingError(f"{self.path}: meta.format is {self._meta.get('format')!r}, not {FORMAT_NAME!r}")

    # ------------------------------------------------------------------ basics
    def close(self) -> None:
        """Close the connection (and remove the temporary copy of a file read with its ``-wal``)."""
        if self._con is not None:
            try:
                self._con.close()
            except sqlite3.Error:
                pass
        if self._snapshot is not None:
            self._finalizer()
            self._snapshot = None

    @property
    def has_wal(self) -> bool:
        """A ``-wal`` file lies beside the session file (it was read with it, read-only)."""
        return os.path.isfile(f"{self.path}-wal")

    @property
    def warnings(self) -> list[str]:
        """What a reader of this file must know about its completeness (one line each)."""
        out = []
        if not self.closed_cleanly:
            if self.has_wal:
                out.append(f"{self.path}: not closed cleanly (killed, crashed or still recording); "
                           f"read with its {self.path.name}-wal, which is left as it is")
            else:
                out.append(f"{self.path}: not closed cleanly and no {self.path.name}-wal beside it: "
                           "its last seconds may be missing (a copy of a killed recording needs its -wal file too)")
        if "repaired" in self._meta:
            rep = self._meta.get("repaired") or {}
            out.append(f"{self.path}: repaired from {rep.get('from', 'a damaged file')}: "
                       f"{rep.get('summary', 'some data may be missing')}")
        speed = emulation_speed(self.metadata)
        if speed is not None and not EMULATION_SPEED_SYNCS[0] <= speed <= EMULATION_SPEED_SYNCS[1]:
            out.append(f"{self.path}: {speed_warning(speed)}")
        return out

    def __enter__(self) -> "SessionReader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _q(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._con.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc

    @property
    def meta(self) -> dict[str, Any]:
        """The whole ``meta`` table (format, schema_version, software_version, created_utc, origin_ns, ...)."""
        return dict(self._meta)

    @property
    def metadata(self) -> dict[str, Any]:
        """The session metadata given to the writer (athlete, notes, import sources, ...)."""
        return dict(self._meta.get("metadata") or {})

    @property
    def origin_ns(self) -> int:
        """Host monotonic ns of session time 0."""
        return int(self._meta.get("origin_ns") or 0)

    @property
    def closed_cleanly(self) -> bool:
        """False if the writer never closed the file (killed, crashed, still recording)."""
        return "end_ns" in self._meta

    @property
    def sensors(self) -> dict[str, SensorSpec]:
        """sensor_id -> SensorSpec, in the order the sensors were added."""
        rows = self._q(
            "SELECT sensor_id, placement, profile, rate_hz, address, extra FROM sensors ORDER BY added_ns, sensor_id"
        )
        return {r[0]: SensorSpec(r[0], r[1], r[2], r[3], r[4], extra=loads(r[5]) or {}) for r in rows}

    def sensor_for(self, placement: str) -> SensorSpec:
        """The sensor at ``placement`` (``KeyError`` if none)."""
        for info in self.sensors.values():
            if info.placement == placement:
                return info
        raise KeyError(f"{self.path}: no sensor at placement {placement!r}")

    @property
    def gaps(self) -> list[Gap]:
        """Gaps recorded while writing (or found at import), in the order written."""
        return [Gap(*r) for r in self._q("SELECT sensor_id, start_s, end_s, samples_lost, reason FROM gaps ORDER BY id")]

    @property
    def markers(self) -> list[Marker]:
        return [Marker(float(t), str(lab), str(c or "")) for t, lab, c in
                self._q(f"SELECT time_s, label, {self._condition_sql} FROM markers ORDER BY time_s, id")]

    @property
    def alerts(self) -> list[Alert]:
        rows = self._q("SELECT time_s, rule, side, detail FROM alerts ORDER BY time_s, id")
        return [Alert(rule, side, t, loads(d) or {}) for t, rule, side, d in rows]

    @property
    def calibration(self) -> dict[str, Any] | None:
        """The last calibration stored, or None."""
        rows = self._q("SELECT data FROM calibration ORDER BY id DESC LIMIT 1")
        return loads(rows[0][0]) if rows else None

    @property
    def connection_log(self) -> list[ConnectionEvent]:
        rows = self._q("SELECT sensor_id, host_ns, kind, detail FROM connection_log ORDER BY host_ns, id")
        return [ConnectionEvent(*r) for r in rows]

    def reset_times_ns(self, sensor_id: str) -> list[int]:
        """Host ns of this sensor's (re)connects (``connect``/``reconnect`` log entries)."""
        return [e.host_ns for e in self.connection_log if e.sensor_id == sensor_id and e.kind in RESET_KINDS]

    def check_integrity(self) -> str:
        """``PRAGMA integrity_check`` result ('ok' for a sound file)."""
        return "; ".join(str(r[0]) for r in self._q("PRAGMA integrity_check"))

    # ------------------------------------------------------------------ raw notifications
    def _role_where(self, role: str | None) -> tuple[str, tuple[Any, ...]]:
        if role is None:
            return "", ()
        if role == "control":  # every non-data role
            return f" AND {self._role_sql} <> ?", (DATA_ROLE,)
        return f" AND {self._role_sql} = ?", (role,)

    def notification_count(self, sensor_id: str | None = None, role: str | None = DATA_ROLE) -> int:
        """Stored notifications (default: data only; ``role="control"``: control-point
        messages; ``None``: all)."""
        where, params = self._role_where(role)
        if sensor_id is None:
            return int(self._q(f"SELECT COUNT(*) FROM notifications WHERE 1{where}", params)[0][0])
        return int(self._q(f"SELECT COUNT(*) FROM notifications WHERE sensor_id=?{where}", (sensor_id, *params))[0][0])

    def notifications(self, sensor_id: str, role: str | None = DATA_ROLE) -> tuple[np.ndarray, list[bytes]]:
        """One sensor's notifications in receive order: host_ns (N,) int64 and the payloads.

        ``role``: ``"data"`` (default, the sample-carrying ones), ``"control"`` (control-point
        messages), or None (all, in receive order; see :meth:`messages` for their roles)."""
        where, params = self._role_where(role)
        rows = self._q(
            f"SELECT host_ns, data FROM notifications WHERE sensor_id=?{where} ORDER BY seq", (sensor_id, *params)
        )
        return np.array([r[0] for r in rows], dtype=np.int64), [bytes(r[1]) for r in rows]

    def messages(self, sensor_id: str) -> list[RawNotification]:
        """Every message of one sensor (data and control) in receive order, with its ``role``."""
        rows = self._q(
            f"SELECT host_ns, data, {self._role_sql} FROM notifications WHERE sensor_id=? ORDER BY seq", (sensor_id,)
        )
        return [RawNotification(sensor_id, int(r[0]), bytes(r[1]), str(r[2])) for r in rows]

    def iter_notifications(self, control: bool = True) -> Iterator[RawNotification]:
        """All sensors' notifications in arrival order (replay as a live stream).

        With ``control`` (default) the control-point messages come too, in their place
        (``RawNotification.role != "data"``; :meth:`hipmon.pipeline.Pipeline.feed` hands
        them to the decoder's ``handle_control``), so a replay decodes exactly as live."""
        where = "" if control else f" WHERE {self._role_sql} = '{DATA_ROLE}'"
        try:
            cur = self._con.execute(
                f"SELECT sensor_id, host_ns, data, {self._role_sql} FROM notifications{where}"
                " ORDER BY host_ns, sensor_id, seq"
            )
            for sid, host_ns, data, role in cur:
                yield RawNotification(sid, int(host_ns), bytes(data), str(role))
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc

    def item_blocks(self, rows: int = 30000, control: bool = True,
                    events: bool = False) -> Iterator[ItemBlock]:
        """What :meth:`iter_notifications` gives, in the same order, at most ``rows`` notifications
        at a time as columns (``hipmon.stream.ItemBlock``: host ns, sensor index, payloads in one
        buffer, data or not), without one Python object per notification.

        With ``events``, the connection log's in-band entries (``hipmon.stream.IN_BAND_KINDS``)
        come in their place, as ``hipmon.pipeline.replay_items`` puts them: each before the
        first notification at or after its host time, those after the last one at the end.
        Sensor indices are the same in every block.

        How: each row is read once (:meth:`_merged_blocks`): each sensor's notifications in
        windows of :data:`READ_WINDOW` seq numbers, seq, host ns, role, lengths and payloads in
        one query, merged across sensors in host-time order. That needs each sensor's host_ns
        not to go back along its seq (true of every recording: acquisition stamps arrivals in
        order); a file where it does goes the two-pass way (:meth:`_two_pass_blocks`)."""
        from hipmon.stream import IN_BAND_KINDS

        log = sorted((e for e in self.connection_log if e.kind in IN_BAND_KINDS), key=lambda e: e.host_ns) \
            if events else []
        try:
            sids = self._sensor_ids()
            ids = {sid: i for i, sid in enumerate(sids)}
            for block in self._notification_blocks(sids, rows, control):
                n_before = int(np.searchsorted([e.host_ns for e in log], block.host_ns[-1], side="right"))
                if n_before:  # the events up to the block's last notification go in it
                    block = _with_events(block, log[:n_before], ids)
                    log = log[n_before:]
                yield block
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc
        if log:
            empty = np.zeros(0, dtype=np.int64)
            yield _with_events(ItemBlock(empty, empty, tuple(ids), b"", empty, empty, np.zeros(0, dtype=bool)),
                               log, ids)

    def _sensor_ids(self) -> list[str]:
        """The sensor ids of the notifications table, ascending as SQLite compares them (each one
        look-up in the primary key)."""
        sids: list[str] = []
        sid = self._con.execute("SELECT min(sensor_id) FROM notifications").fetchone()[0]
        while sid is not None:
            sids.append(sid)
            sid = self._con.execute("SELECT min(sensor_id) FROM notifications WHERE sensor_id > ?",
                                    (sid,)).fetchone()[0]
        return sids

    def _notification_blocks(self, sids: list[str], rows: int, control: bool) -> Iterator[ItemBlock]:
        """The notifications in ``iter_notifications`` order, at most ``rows`` a block: read once
        (:meth:`_merged_blocks`); where a sensor's host_ns goes back along its seq, the rest the
        two-pass way (:meth:`_two_pass_blocks`), after checking that what was handed out so far
        is what that gives first (else ``RecordingError``)."""
        done, horizon = 0, None  # notifications handed out, the key (host_ns, sensor) they end at
        try:
            for block, key in self._merged_blocks(sids, control):
                for a in range(0, len(block), rows):
                    yield _rows_of(block, a, min(a + rows, len(block)))
                done, horizon = done + len(block), key
        except _OutOfOrder as exc:
            yield from self._two_pass_blocks(sids, rows, control, done, horizon, str(exc))

    def _merged_blocks(self, sids: list[str], control: bool) -> Iterator[tuple[ItemBlock, tuple[int, int]]]:
        """Every notification once, in ``iter_notifications`` order (host_ns, sensor_id, seq):
        each sensor's rows read in seq windows (:meth:`_read_window`), topped up when fewer than
        half a window is left, and the rows no later than the earliest sensor's last read row
        (key (host_ns, sensor index)) handed out merged (:func:`_merge`). Yields each block and
        that key. Raises ``_OutOfOrder`` where a sensor's host_ns goes back along its seq (a
        row read later could belong before rows handed out)."""
        window = max(1, int(READ_WINDOW))
        utf8 = self._con.execute("PRAGMA encoding").fetchone()[0] == "UTF-8"
        runs = [self._first_run(sid) for sid in sids]
        while True:
            for run in runs:
                while run.lo is not None and run.size < (window + 1) // 2:
                    self._read_window(run, window, control, utf8)
            active = [(run.last_ns, r) for r, run in enumerate(runs) if run.lo is not None]
            key = min(active) if active else None
            block, seq = _merge(runs, key, sids)
            for i in np.flatnonzero(~block.is_data):  # control-point messages (a few): with their role
                r, s = int(block.sensor[i]), int(seq[i])
                role = self._q(f"SELECT {self._role_sql} FROM notifications WHERE sensor_id = ? AND seq = ?",
                               (sids[r], s))[0][0]
                block.others[int(i)] = RawNotification(sids[r], int(block.host_ns[i]), block.data(int(i)), str(role))
            if len(block):
                yield block, key
            if key is None:
                return

    def _first_run(self, sid: str) -> "_Run":
        """Sensor ``sid``'s run, nothing read yet: its seq range from the primary key."""
        lo = self._con.execute("SELECT seq FROM notifications WHERE sensor_id = ? ORDER BY seq LIMIT 1",
                               (sid,)).fetchone()[0]
        hi = self._con.execute("SELECT seq FROM notifications WHERE sensor_id = ? ORDER BY seq DESC LIMIT 1",
                               (sid,)).fetchone()[0]
        if not (isinstance(lo, int) and isinstance(hi, int)):
            raise _OutOfOrder(f"sensor {sid!r}: seq values that are not integers")
        return _Run(sid, lo, hi)

    def _read_window(self, run: "_Run", window: int, control: bool, utf8: bool) -> None:
        """Append the run's next ``window`` seq numbers: one query for seq (only where some are
        missing), host_ns, the role flag, lengths and the payloads. ``_OutOfOrder`` where host_ns
        goes back; ``DamagedFileError`` where the columns do not agree."""
        lo = run.lo
        hi = min(lo + window, run.seq_max + 1)
        flag_len = f"CASE WHEN {self._role_sql} = '{DATA_ROLE}' THEN length(data) ELSE -1 - length(data) END"
        # the BLOBs concatenated as text keep their bytes in a UTF-8 file (hipmon's); else as hex
        blob_sql = "CAST(group_concat(data, '') AS BLOB)" if utf8 else "group_concat(hex(data), '')"
        sql = (f"SELECT group_concat(host_ns), group_concat({flag_len}), {blob_sql}, {{}}"
               f" FROM notifications WHERE sensor_id = ? AND seq >= ? AND seq < ?")
        hns, lens, blob, _ = self._con.execute(sql.format("NULL"), (run.sid, lo, hi)).fetchone()
        host_ns, lens = _ints(hns), _ints(lens)
        if host_ns.size != hi - lo:  # seq numbers missing (a repaired file): ask for the ones there
            hns, lens, blob, seq = self._con.execute(sql.format("group_concat(seq)"), (run.sid, lo, hi)).fetchone()
            host_ns, lens, seq = _ints(hns), _ints(lens), _ints(seq)
        else:
            seq = np.arange(lo, hi, dtype=np.int64)
        n = seq.size
        blob = bytes(blob or b"") if utf8 else bytes.fromhex(blob or "")
        is_data = lens >= 0
        length = np.where(is_data, lens, -1 - lens)
        if not n == host_ns.size == length.size or int(length.sum()) != len(blob):
            raise DamagedFileError(f"{self.path}: damaged notifications table (its columns read back "
                                   f"differ in length); {repair_hint(self.path)}")
        if hi > run.seq_max:
            run.lo = None
        else:  # the next window starts at the next seq there is
            run.lo = hi if n else self._con.execute(
                "SELECT seq FROM notifications WHERE sensor_id = ? AND seq >= ? ORDER BY seq LIMIT 1",
                (run.sid, hi)).fetchone()[0]
        if not n:
            return
        if (run.last_ns is not None and host_ns[0] < run.last_ns) or bool(np.any(host_ns[1:] < host_ns[:-1])):
            raise _OutOfOrder(f"sensor {run.sid!r}: host_ns goes back along seq in {lo}..{hi - 1}")
        run.last_ns = int(host_ns[-1])
        keep = slice(None) if control else is_data
        start = np.cumsum(length) - length
        run.append(host_ns[keep], seq[keep], is_data[keep], start[keep], length[keep], blob)

    def _two_pass_blocks(self, sids: list[str], rows: int, control: bool, skip: int,
                         horizon: tuple[int, int] | None, why: str) -> Iterator[ItemBlock]:
        """The notifications from the ``skip``-th on, in ``iter_notifications`` order, ``rows`` a
        block, in two passes: every sensor's seq, host_ns and role flag (:meth:`_notification_index`),
        sorted; then, block by block, the payloads (:meth:`_payload_block`). The ``skip`` handed
        out already must be those up to key ``horizon`` (host_ns, sensor index)."""
        sids2, rank, seq, host_ns, is_data = self._notification_index(control)
        if skip:
            lo, hi = np.searchsorted(host_ns, horizon[0], side="left"), np.searchsorted(host_ns, horizon[0], side="right")
            if sids2 != sids or lo + np.count_nonzero(rank[lo:hi] <= horizon[1]) != skip:
                raise NotificationOrderError(f"{self.path}: {why}, further back than the notifications read before: "
                                             "cannot read it in blocks (read it with iter_notifications)")
        for w in range(skip, seq.size, rows):
            yield self._payload_block(sids, rank[w:w + rows], seq[w:w + rows], host_ns[w:w + rows],
                                      is_data[w:w + rows], control)

    def _notification_index(self, control: bool) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every notification in ``iter_notifications`` order: the sensor ids (ascending, as SQLite
        compares them), and each notification's sensor (index into them), seq, host_ns (N,) int64
        and whether it is a data notification (N,) bool."""
        where = "" if control else f" AND {self._role_sql} = '{DATA_ROLE}'"
        sids = self._sensor_ids()
        cols = []
        for sid in sids:
            seq, hns, data = self._con.execute(
                f"SELECT group_concat(seq), group_concat(host_ns), group_concat({self._role_sql} = '{DATA_ROLE}', '')"
                f" FROM notifications WHERE sensor_id = ?{where}", (sid,)).fetchone()
            cols.append((_ints(seq), _ints(hns), np.frombuffer((data or "").encode(), dtype=np.uint8) == ord("1")))
        seq = np.concatenate([c[0] for c in cols]) if cols else np.zeros(0, dtype=np.int64)
        host_ns = np.concatenate([c[1] for c in cols]) if cols else np.zeros(0, dtype=np.int64)
        is_data = np.concatenate([c[2] for c in cols]) if cols else np.zeros(0, dtype=bool)
        rank = np.repeat(np.arange(len(sids), dtype=np.int64), [c[0].size for c in cols])
        if not seq.size == host_ns.size == is_data.size:
            raise DamagedFileError(f"{self.path}: damaged notifications table; {repair_hint(self.path)}")
        order = np.lexsort((seq, rank, host_ns))  # ORDER BY host_ns, sensor_id, seq
        return sids, rank[order], seq[order], host_ns[order], is_data[order]

    def _payload_block(self, sids: list[str], rank: np.ndarray, seq: np.ndarray, host_ns: np.ndarray,
                       is_data: np.ndarray, control: bool) -> ItemBlock:
        """The ``ItemBlock`` of these notifications (each sensor's payloads of their seq range read
        as one BLOB; the control messages' roles read one by one)."""
        where = "" if control else f" AND {self._role_sql} = '{DATA_ROLE}'"
        # the BLOBs concatenated as text keep their bytes in a UTF-8 file (hipmon's); else as hex
        utf8 = self._con.execute("PRAGMA encoding").fetchone()[0] == "UTF-8"
        blob_sql = "CAST(group_concat(data, '') AS BLOB)" if utf8 else "group_concat(hex(data), '')"
        start = np.zeros(seq.size, dtype=np.int64)
        length = np.zeros(seq.size, dtype=np.int64)
        blobs: list[bytes] = []
        at = 0  # where this sensor's BLOB starts in the block's payload
        for r in np.unique(rank):
            mine = np.flatnonzero(rank == r)
            lo, hi = int(seq[mine].min()), int(seq[mine].max())
            got_seq, got_len, blob = self._con.execute(
                f"SELECT group_concat(seq), group_concat(length(data)), {blob_sql}"
                f" FROM notifications WHERE sensor_id = ? AND seq BETWEEN ? AND ?{where}", (sids[r], lo, hi)).fetchone()
            got_seq, got_len = _ints(got_seq), _ints(got_len)
            blob = bytes(blob or b"") if utf8 else bytes.fromhex(blob or "")
            by_seq = np.argsort(got_seq, kind="stable")
            k = by_seq[np.minimum(np.searchsorted(got_seq, seq[mine], sorter=by_seq), max(got_seq.size - 1, 0))]
            if int(got_len.sum()) != len(blob) or got_seq.size != got_len.size or not np.array_equal(got_seq[k], seq[mine]):
                raise DamagedFileError(f"{self.path}: damaged notifications table (payloads read back "
                                       f"differ from its index); {repair_hint(self.path)}")
            start[mine] = at + (np.cumsum(got_len) - got_len)[k]
            length[mine] = got_len[k]
            blobs.append(blob)
            at += len(blob)
        payload = b"".join(blobs)
        others: dict[int, Any] = {}
        for i in np.flatnonzero(~is_data):  # control-point messages (a few): with their role
            role = self._q(f"SELECT {self._role_sql} FROM notifications WHERE sensor_id = ? AND seq = ?",
                           (sids[rank[i]], int(seq[i])))[0][0]
            others[int(i)] = RawNotification(sids[rank[i]], int(host_ns[i]),
                                             payload[start[i]:start[i] + length[i]], str(role))
        return ItemBlock(host_ns, rank, tuple(sids), payload, start, length, is_data, others)

    # ------------------------------------------------------------------ samples
    def has_imported_samples(self, sensor_id: str) -> bool:
        return bool(self._q("SELECT 1 FROM samples WHERE sensor_id=? LIMIT 1", (sensor_id,)))

    def decode(self, sensor_id: str) -> DecodedStream:
        """Decoded samples of a sensor (cached): imported samples, or raw notifications
        run through the sensor's decoder (reset at each logged reconnect)."""
        if sensor_id in self._decoded:
            return self._decoded[sensor_id]
        sensors = self.sensors
        if sensor_id not in sensors:
            raise KeyError(f"{self.path}: no sensor {sensor_id!r}")
        info = sensors[sensor_id]
        if self.has_imported_samples(sensor_id):
            rows = self._q("SELECT n, time_s, acc, gyr, mag FROM samples WHERE sensor_id=? ORDER BY chunk", (sensor_id,))
            has_mag = all(r[4] is not None for r in rows) and bool(rows)
            block = ImuBlock(
                time_sensor_s=np.concatenate([blob_f64(r[1], None) for r in rows]),
                acc_sensor=np.concatenate([blob_f64(r[2], 3) for r in rows]),
                gyr_sensor=np.concatenate([blob_f64(r[3], 3) for r in rows]),
                mag_sensor=np.concatenate([blob_f64(r[4], 3) for r in rows]) if has_mag else None,
            )
            out = DecodedStream(block, 0, 0, [])
        else:
            out = self._run_stream_stage(sensor_id, info)
        self._decoded[sensor_id] = out
        return out

    def _run_stream_stage(self, sensor_id: str, info: SensorSpec) -> DecodedStream:
        """The sensor's notifications and connection events, in arrival order, through the stream
        stage live acquisition and the pipeline use (``hipmon.stream.SensorStream``)."""
        from hipmon.stream import IN_BAND_KINDS, SensorStream

        msgs = self.messages(sensor_id)
        empty = ImuBlock(np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)), None, np.zeros(0, np.int64),
                         np.zeros(0, np.int64))
        if not msgs:
            return DecodedStream(empty, 0, 0, [], 0, np.zeros(0), [])
        if info.profile is None:
            raise RecordingError(f"{self.path}: sensor {sensor_id!r} has no profile: cannot decode")
        try:
            decoder = self._decoder_factory(info)
        except Exception as exc:
            raise RecordingError(
                f"{self.path}: sensor {sensor_id!r}: no decoder for profile {info.profile!r}: {exc}"
            ) from exc
        time_source = decoder.time_source
        if time_source is None:
            from hipmon.profiles import get_profile

            time_source = get_profile(info.profile).time_source
        rate = float(info.rate_hz or 100.0)
        stage = SensorStream(sensor_id, decoder, rate, time_source=time_source, origin_ns=self.origin_ns)
        log = sorted((e for e in self.connection_log if e.sensor_id == sensor_id and e.kind in IN_BAND_KINDS),
                     key=lambda e: e.host_ns)
        blocks: list[ImuBlock] = []
        times: list[np.ndarray] = []
        messages: list[str] = []
        def take(item: Any, got: Any) -> None:
            if len(messages) < 5:
                messages.extend(got.messages[: 5 - len(messages)])
            if got.block is not None and len(got.block):
                blk = got.block
                if blk.host_ns is None:
                    blk.host_ns = np.full(len(blk), int(item.host_ns if item.host_ns is not None else stage.last_ns or 0),
                                          dtype=np.int64)
                blocks.append(blk)
                times.append(got.time_session_s)

        # every item as the pipeline gets it (``hipmon.pipeline.replay_items``): the samples a
        # connection's end still completes (Polar's held-back frames) are kept, and the events
        # logged after the last notification are taken too
        i = 0
        for msg in msgs:
            while i < len(log) and log[i].host_ns <= msg.host_ns:
                take(log[i], stage.push(log[i]))
                i += 1
            take(msg, stage.push(msg))
        for e in log[i:]:
            take(e, stage.push(e))
        block = ImuBlock.concatenate(blocks) if blocks else empty
        t = np.concatenate(times) if times else np.zeros(0)
        return DecodedStream(block, stage.notifications, stage.bad, messages, stage.control_messages, t,
                             list(stage.gaps))

    def samples(self, sensor_id: str) -> ImuBlock:
        """Decoded samples of one sensor (see :meth:`decode`)."""
        return self.decode(sensor_id).block

    def session_time(
        self, sensor_id: str, *, lookahead_s: float = 0.0, warmup_s: float | None = None, **sync_params: float
    ) -> np.ndarray:
        """Session time (s) of each of the sensor's samples, (N,).

        Imported sessions: the CSV's ``time_s`` as is. Recorded sessions: the
        sensor's own time mapped by :func:`hipmon.sync.map_to_session` (lower
        envelope of arrival times; reset at each logged reconnect), causal after
        a ``warmup_s`` (default :data:`hipmon.sync.WARMUP_S`) per connection,
        optionally with ``lookahead_s``: what a live :class:`hipmon.sync.ClockSync`
        run the same way gives.
        """
        block = self.samples(sensor_id)
        if self.has_imported_samples(sensor_id) or block.host_ns is None:
            return np.asarray(block.time_sensor_s, dtype=np.float64).copy()
        if lookahead_s == 0.0 and warmup_s is None and not sync_params:
            t = self.decode(sensor_id).time_session_s
            return np.asarray(t if t is not None else np.zeros(0), dtype=np.float64).copy()
        from hipmon.sync import WARMUP_S, map_to_session

        arrival_s = (block.host_ns - self.origin_ns) / 1e9
        resets = [(t - self.origin_ns) / 1e9 for t in self.reset_times_ns(sensor_id)]
        return map_to_session(
            block.time_sensor_s,
            arrival_s,
            reset_at_s=resets,
            lookahead_s=lookahead_s,
            warmup_s=WARMUP_S if warmup_s is None else warmup_s,
            **sync_params,
        )

    def detected_gaps(self, sensor_id: str) -> list[Gap]:
        """Gaps the stream stage found in the sensor's notifications (exact counts from the
        sensor's counters where it sends them, else from its timestamps; a protocol with
        neither: estimated from host time across a reconnect), as live acquisition found them.
        Imported sessions: the gaps recorded at import."""
        if self.has_imported_samples(sensor_id):
            return [g for g in self.gaps if g.sensor_id == sensor_id]
        return list(self.decode(sensor_id).gaps)

    # ------------------------------------------------------------------ summary
    @property
    def time_span_s(self) -> tuple[float, float]:
        """(first, last) session time (s) of any data: imported samples or notification arrivals."""
        firsts, lasts = [], []
        rows = self._q(f"SELECT MIN(host_ns), MAX(host_ns) FROM notifications WHERE {self._role_sql} = ?", (DATA_ROLE,))
        if rows and rows[0][0] is not None:
            firsts.append((rows[0][0] - self.origin_ns) / 1e9)
            lasts.append((rows[0][1] - self.origin_ns) / 1e9)
        for sid in [r[0] for r in self._q("SELECT DISTINCT sensor_id FROM samples")]:
            t = self.samples(sid).time_sensor_s
            if len(t):
                firsts.append(float(t[0]))
                lasts.append(float(t[-1]))
        if not firsts:
            return (0.0, 0.0)
        return (min(firsts), max(lasts))

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last data of the session (0 for an empty one)."""
        a, b = self.time_span_s
        return max(0.0, b - a)

    @property
    def is_imported(self) -> bool:
        return any(s.profile == CSV_IMPORT_PROFILE for s in self.sensors.values())


class NotificationOrderError(RecordingError):
    """``item_blocks`` found a sensor's host_ns going back along its seq below what it had handed
    out already: the file is readable, in ``iter_notifications`` order (``process_session`` does)."""


class _OutOfOrder(Exception):
    """A sensor's host_ns goes back along its seq: the notifications cannot be merged as read."""


class _Run:
    """One sensor's notifications read (``SessionReader._read_window``) and not yet handed out, in
    seq order: ``host_ns``, ``seq``, ``start``, ``length`` (n,) int64 and ``is_data`` (n,) bool. Row
    i's payload is bytes ``start[i]:start[i] + length[i]`` of the windows' BLOBs one after the
    other (``blobs``, the first one starting at byte ``base``); the bytes before ``used`` are
    handed out. ``lo``: the next window's first seq (None: all read); ``last_ns``: the host_ns
    of the last row read."""

    def __init__(self, sid: str, lo: int, seq_max: int) -> None:
        self.sid, self.lo, self.seq_max = sid, lo, seq_max
        self.last_ns: int | None = None
        empty = np.zeros(0, dtype=np.int64)
        self.host_ns, self.seq, self.start, self.length = empty, empty, empty, empty
        self.is_data = np.zeros(0, dtype=bool)
        self.blobs: list[bytes] = []
        self.base = self.used = self.end = 0

    @property
    def size(self) -> int:
        return int(self.host_ns.size)

    def append(self, host_ns: np.ndarray, seq: np.ndarray, is_data: np.ndarray, start: np.ndarray,
               length: np.ndarray, blob: bytes) -> None:
        """A window's rows, read after the ones held (``start`` into its ``blob``)."""
        self.host_ns = np.concatenate([self.host_ns, host_ns])
        self.seq = np.concatenate([self.seq, seq])
        self.is_data = np.concatenate([self.is_data, is_data])
        self.start = np.concatenate([self.start, start + self.end])
        self.length = np.concatenate([self.length, length])
        if blob:
            self.blobs.append(blob)
            self.end += len(blob)

    def take(self, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[memoryview]]:
        """Hand out the first ``m`` rows: host_ns, seq, is_data, start (into their bytes), length,
        and their bytes (pieces, one after the other)."""
        cut = int(self.start[m]) if m < self.size else self.end
        out = (self.host_ns[:m], self.seq[:m], self.is_data[:m], self.start[:m] - self.used, self.length[:m])
        pieces = []
        while self.used < cut:
            blob = self.blobs[0]
            b = min(cut - self.base, len(blob))
            pieces.append(memoryview(blob)[self.used - self.base:b])
            self.used = self.base + b
            if b == len(blob):  # all handed out
                self.blobs.pop(0)
                self.base += len(blob)
        self.host_ns, self.seq, self.is_data = self.host_ns[m:], self.seq[m:], self.is_data[m:]
        self.start, self.length = self.start[m:], self.length[m:]
        return (*out, pieces)


def _merge(runs: list[_Run], key: tuple[int, int] | None, sids: list[str]) -> tuple[ItemBlock, np.ndarray]:
    """The rows the runs hold up to ``key`` (host_ns, sensor index; None: all), handed out as one
    block in ``iter_notifications`` order (host_ns, sensor, seq), and their seq (n,) int64.
    Each run's host_ns must be non-decreasing. ``others`` holds the control rows, without their
    item (the caller looks their role up)."""
    parts = []
    for r, run in enumerate(runs):
        m = run.size if key is None else int(np.searchsorted(run.host_ns, key[0], side="right" if r <= key[1] else "left"))
        if m:
            parts.append((r, *run.take(m)))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return ItemBlock(empty, empty, tuple(sids), b"", empty, empty, np.zeros(0, dtype=bool)), empty
    base = np.cumsum([0] + [sum(len(x) for x in p[6]) for p in parts])
    # runs one after the other in sensor order, each in seq order: a stable sort by host_ns
    # gives (host_ns, sensor, seq)
    host_ns = np.concatenate([p[1] for p in parts])
    order = np.argsort(host_ns, kind="stable")
    sensor = np.repeat(np.array([p[0] for p in parts], dtype=np.int64), [p[1].size for p in parts])[order]
    seq = np.concatenate([p[2] for p in parts])[order]
    is_data = np.concatenate([p[3] for p in parts])[order]
    start = np.concatenate([p[4] + b for p, b in zip(parts, base)])[order]
    length = np.concatenate([p[5] for p in parts])[order]
    payload = b"".join([x for p in parts for x in p[6]])
    others: dict[int, Any] = {int(i): None for i in np.flatnonzero(~is_data)}
    return ItemBlock(host_ns[order], sensor, tuple(sids), payload, start, length, is_data, others), seq


def _rows_of(block: ItemBlock, a: int, b: int) -> ItemBlock:
    """Rows ``a:b`` of ``block`` (views, the same payload)."""
    if a == 0 and b == len(block):
        return block
    return ItemBlock(block.host_ns[a:b], block.sensor[a:b], block.sensor_ids, block.payload, block.start[a:b],
                     block.length[a:b], block.is_data[a:b], {i - a: x for i, x in block.others.items() if a <= i < b})


def _ints(text: str | None) -> np.ndarray:
    """SQLite's ``group_concat`` of an integer column ("1,2,3"; None: no rows) -> (N,) int64."""
    return np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, dtype=np.int64)


def _with_events(block: ItemBlock, log: list[ConnectionEvent], ids: dict[str, int]) -> ItemBlock:
    """``block`` with connection events ``log`` (by host time) in band: each before the block's
    first notification at or after its host time, else at the end."""
    at = np.searchsorted(block.host_ns, [e.host_ns for e in log], side="left")  # (E,) rows they go before
    n, n_ev = len(block), len(log)
    rows_new = np.arange(n) + np.searchsorted(at, np.arange(n), side="right")  # the notifications' new rows
    ev_rows = at + np.arange(n_ev)
    host_ns = np.empty(n + n_ev, dtype=np.int64)
    sensor = np.empty(n + n_ev, dtype=np.int64)
    start = np.zeros(n + n_ev, dtype=np.int64)
    length = np.zeros(n + n_ev, dtype=np.int64)
    is_data = np.zeros(n + n_ev, dtype=bool)
    for new, old in ((host_ns, block.host_ns), (sensor, block.sensor), (start, block.start),
                     (length, block.length), (is_data, block.is_data)):
        new[rows_new] = old
    host_ns[ev_rows] = [e.host_ns for e in log]
    sensor[ev_rows] = [-1 if e.sensor_id is None else ids.setdefault(e.sensor_id, len(ids)) for e in log]
    others = {int(rows_new[i]): x for i, x in block.others.items()}
    others.update({int(r): e for r, e in zip(ev_rows, log)})
    return ItemBlock(host_ns, sensor, tuple(ids), block.payload, start, length, is_data, others)


def _by_reason(gaps: list[Gap]) -> dict[str, dict[str, int]]:
    """reason -> {count, samples_lost} (loss, disconnect, stopped, unpaired, import)."""
    out: dict[str, dict[str, int]] = {}
    for g in gaps:
        e = out.setdefault(g.reason, {"count": 0, "samples_lost": 0})
        e["count"] += 1
        e["samples_lost"] += int(g.samples_lost)
    return out


def summarize(reader: SessionReader) -> dict[str, Any]:
    """The facts ``hipmon info --json`` prints (keys documented in ``docs/recording-format.md``).

    Raw notifications are decoded with each sensor's profile; a sensor that
    cannot be decoded gets ``samples: null`` and a ``decode_problem`` message.
    """
    sensors_out = []
    recorded = reader.gaps
    total_gaps = 0
    total_lost = 0
    for sid, info in reader.sensors.items():
        entry: dict[str, Any] = {
            "sensor_id": sid,
            "placement": info.placement,
            "profile": info.profile,
            "rate_hz": info.rate_hz,
            "address": info.address,
            "notifications": reader.notification_count(sid),
            "control_messages": reader.notification_count(sid, role="control"),
            "samples": None,
            "decode_errors": 0,
            "first_s": None,
            "last_s": None,
            "gaps": None,
            "gaps_recorded": {
                "count": sum(1 for g in recorded if g.sensor_id == sid),
                "samples_lost": sum(g.samples_lost for g in recorded if g.sensor_id == sid),
                "by_reason": _by_reason([g for g in recorded if g.sensor_id == sid]),
            },
        }
        try:
            dec = reader.decode(sid)
            entry["samples"] = len(dec.block)
            entry["decode_errors"] = dec.decode_errors
            if dec.first_errors:
                entry["first_decode_errors"] = dec.first_errors
            if len(dec.block):
                t = reader.session_time(sid)
                entry["first_s"] = float(t[0])
                entry["last_s"] = float(t[-1])
            gaps = reader.detected_gaps(sid)
            entry["gaps"] = {"count": len(gaps), "samples_lost": int(sum(g.samples_lost for g in gaps))}
            total_gaps += len(gaps)
            total_lost += entry["gaps"]["samples_lost"]
        except DamagedFileError:
            raise  # the file, not the sensor: the caller reports it (hipmon info: what repair recovers)
        except RecordingError as exc:
            entry["decode_problem"] = str(exc)
        sensors_out.append(entry)
    meta = reader.meta
    return {
        "path": str(reader.path),
        "format": meta.get("format"),
        "schema_version": reader.schema_version,
        "software_version": meta.get("software_version"),
        "created_utc": meta.get("created_utc"),
        "closed_cleanly": reader.closed_cleanly,
        "source": "csv-import" if reader.is_imported else "recording",
        "duration_s": reader.duration_s,
        "metadata": reader.metadata,
        "sensors": sensors_out,
        "gaps": {"count": total_gaps, "samples_lost": total_lost},
        "markers": len(reader.markers),
        "alerts": len(reader.alerts),
        "calibrated": reader.calibration is not None,
        "stored_calibration": reader.calibration,
    }
