"""``SessionWriter``: one crash-safe SQLite file per session.

Durability model (see ``docs/recording-format.md``): the file is in WAL mode with
``synchronous=NORMAL``. Every commit is appended to the write-ahead log before
``COMMIT`` returns, so a committed transaction survives the death of the
recording process (``kill -9``, a crash, a power-cut of the *process*); it may
be lost only if the operating system itself dies before it wrote its page
cache to disk. Notifications are buffered in memory and committed at least every
``flush_interval_s`` (0.25 s by default) by a background flusher thread, so a
``kill -9`` loses at most the last ``flush_interval_s`` plus one commit's worth
of notifications.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from hipmon.types import PLACEMENTS, Gap, ImuBlock, RawNotification

from ._common import RecordingError, dumps, f64_blob
from .schema import (
    APPLICATION_ID,
    FORMAT_NAME,
    SAMPLES_CHUNK,
    SCHEMA_SQL,
    SCHEMA_VERSION,
)


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _software_version() -> str:
    try:
        from hipmon import __version__

        return str(__version__)
    except Exception:  # pragma: no cover - the package always has a version
        return "unknown"


def remove_session_file(path: str | os.PathLike[str]) -> None:
    """Delete a session file and its ``-wal``/``-shm`` companions (missing files are fine;
    a directory of that name is left alone)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = f"{os.fspath(path)}{suffix}"
        try:
            if not os.path.isdir(p):
                os.unlink(p)
        except (FileNotFoundError, NotADirectoryError):
            pass


def temporary_name(path: str | os.PathLike[str]) -> Path:
    """A hidden temporary session file beside ``path`` (same directory: ``os.replace`` is atomic)."""
    p = Path(path)
    return p.with_name(f".{p.name}.tmp-{os.getpid()}-{time.monotonic_ns() & 0xFFFFFF:x}")


def check_output_path(path: str | os.PathLike[str], overwrite: bool, *, flag: str = "--overwrite") -> None:
    """Refuse, before any work, an output session path that cannot be written.

    :class:`RecordingError` (one line naming the file) for: a directory, a parent that
    is missing or not a directory or not writable, an existing file without
    ``overwrite`` (``flag`` names the option that allows it)."""
    p = Path(path)
    if p.is_dir():
        raise RecordingError(f"{p}: is a directory (give a session file name, e.g. {p / 'session.hipmon'})")
    parent = p.parent if str(p.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise RecordingError(f"{p}: {parent} is a file, not a directory")
    if not parent.exists():
        if any(q.exists() and not q.is_dir() for q in parent.parents):
            raise RecordingError(f"{p}: {parent} cannot be a directory (a file is in its path)")
        raise RecordingError(f"{p}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RecordingError(f"{p}: directory {parent} is not writable")
    exists = p.exists() or os.path.exists(f"{p}-wal")
    if exists and not overwrite:
        raise RecordingError(f"{p}: already exists (use {flag} to replace it)")
    if exists and p.exists() and not p.is_file():
        raise RecordingError(f"{p}: not a regular file")


def amend_metadata(path: str | os.PathLike[str], **values: Any) -> None:
    """Merge ``values`` into a closed session file's metadata (``meta.metadata``).

    For what is known only once a recording has closed, or that its recorder does not take:
    ``hipmon record`` / ``live --record`` / the dashboard's Record button add the protocol, its
    side and the athlete this way. One transaction; the samples are not touched."""
    import json
    import sqlite3

    con = sqlite3.connect(str(path))
    try:
        with con:
            row = con.execute("SELECT value FROM meta WHERE key='metadata'").fetchone()
            current = json.loads(row[0]) if row else {}
            current.update(values)
            if row:
                con.execute("UPDATE meta SET value=? WHERE key='metadata'", (dumps(current),))
            else:
                con.execute("INSERT INTO meta(key, value) VALUES ('metadata', ?)", (dumps(current),))
    except sqlite3.DatabaseError as exc:
        raise RecordingError(f"{path}: cannot store the session's metadata ({exc})") from None
    finally:
        con.close()


def add_marker_to_session(path: str | os.PathLike[str], time_s: float, label: str, condition: str = "") -> None:
    """Add one user marker to an existing, closed session file (``hipmon mark``).

    An explicit write (reading never modifies a file): one transaction, committed or not at
    all. Refused with :class:`RecordingError` (one line naming the file) for a file that is
    not a hipmon session, is damaged (``DamagedFileError``: the reader's checks, then SQLite's
    ``quick_check``), has a ``-wal`` beside it (a recording writing to it, or one not closed
    cleanly: ``hipmon repair`` first), or cannot be written. A file of schema version < 3
    given a marker with a condition is upgraded to the current version in the same
    transaction (``markers.condition``, and ``notifications.role`` for version 1); without a
    condition an older file keeps its schema."""
    import math
    import sqlite3

    from ._common import DamagedFileError, is_damage, repair_hint
    from .reader import SessionReader
    from .schema import APPLICATION_ID as _APP, DATA_ROLE

    p = Path(path)
    time_s = float(time_s)
    if not math.isfinite(time_s):
        raise RecordingError(f"{p}: marker time {time_s} is not a finite number of seconds")
    if not str(label).strip():
        raise RecordingError(f"{p}: a marker needs a label")
    if os.path.exists(f"{p}-wal"):
        raise RecordingError(f"{p}: a recording is writing to it or was not closed cleanly ({p.name}-wal beside "
                             f"it): mark it once the recording has closed, or {repair_hint(p)} first")
    SessionReader(p).close()  # a hipmon session of a schema this hipmon reads, structure intact
    condition = str(condition or "")
    try:
        con = sqlite3.connect(os.fspath(p), isolation_level=None, timeout=5.0)
    except sqlite3.Error as exc:
        raise RecordingError(f"{p}: cannot open for writing: {exc}") from None
    try:
        con.execute("BEGIN IMMEDIATE")
        if con.execute("PRAGMA application_id").fetchone()[0] != _APP:
            raise RecordingError(f"{p}: not a hipmon recording")
        check = [r[0] for r in con.execute("PRAGMA quick_check(5)")]
        if check != ["ok"]:
            raise DamagedFileError(f"{p}: damaged session file ({'; '.join(map(str, check))}); {repair_hint(p)}")
        version = int(con.execute("PRAGMA user_version").fetchone()[0])
        mcols = {r[1] for r in con.execute("PRAGMA table_info(markers)")}
        if "condition" in mcols:
            con.execute("INSERT INTO markers(time_s, label, condition) VALUES (?, ?, ?)", (time_s, str(label), condition))
        elif not condition:
            con.execute("INSERT INTO markers(time_s, label) VALUES (?, ?)", (time_s, str(label)))
        else:  # upgrade to the current schema in the same transaction
            if "role" not in {r[1] for r in con.execute("PRAGMA table_info(notifications)")}:
                con.execute(f"ALTER TABLE notifications ADD COLUMN role TEXT NOT NULL DEFAULT '{DATA_ROLE}'")
            con.execute("ALTER TABLE markers ADD COLUMN condition TEXT NOT NULL DEFAULT ''")
            con.execute("INSERT INTO markers(time_s, label, condition) VALUES (?, ?, ?)", (time_s, str(label), condition))
            con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (dumps(SCHEMA_VERSION),))
            con.execute(f"PRAGMA user_version={max(version, SCHEMA_VERSION)}")
        con.execute("COMMIT")
    except sqlite3.Error as exc:
        if con.in_transaction:
            con.execute("ROLLBACK")
        if is_damage(exc):
            raise DamagedFileError(f"{p}: damaged session file ({exc}); {repair_hint(p)}") from None
        raise RecordingError(f"{p}: cannot add the marker ({exc})") from None
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


class SessionWriter:
    """Write one session: raw notifications, sensors, metadata, gaps, markers, alerts.

    Parameters
    ----------
    path:
        The session file to create. It must not exist unless ``overwrite``; an existing
        file is replaced only once the new session holds data (the first committed
        notification or samples): until then the new session grows in a hidden temporary
        file beside it, removed if the writer closes without data (the old file untouched).
    metadata:
        JSON-serialisable session metadata (athlete, notes, ...), stored in
        ``meta.metadata``. ``software_version``, ``created_utc`` and ``origin_ns``
        are stored beside it.
    origin_ns:
        Session time origin: host monotonic ns (``time.monotonic_ns()``) of
        session time 0. Default: now. Session time of a notification is
        ``(host_ns - origin_ns) / 1e9`` seconds.
    flush_interval_s:
        Notifications are committed at least this often (s).
    background:
        Run a daemon thread that commits buffered notifications every
        ``flush_interval_s / 2``. Without it, ``write`` commits when a flush is
        due (so nothing is committed while nobody writes).
    atomic:
        Write to a temporary file beside ``path`` and rename it to ``path`` in
        :meth:`close` (used by ``hipmon import``: nothing half-written). A live
        recording is *not* atomic: its file must exist while it grows.

    ``write`` may be called from any thread; all methods are thread-safe.
    Use as a context manager: on an exception an atomic writer removes its
    temporary file, a live one closes (keeping what it has).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        metadata: Mapping[str, Any] | None = None,
        *,
        origin_ns: int | None = None,
        overwrite: bool = False,
        flush_interval_s: float = 0.25,
        background: bool = True,
        atomic: bool = False,
    ) -> None:
        self.path = Path(path)
        self.origin_ns = int(time.monotonic_ns() if origin_ns is None else origin_ns)
        self.flush_interval_s = float(flush_interval_s)
        if self.flush_interval_s <= 0:
            raise ValueError("flush_interval_s must be > 0")
        self._atomic = bool(atomic)
        check_output_path(self.path, overwrite, flag="overwrite")
        # An existing file is replaced only once the new one holds data (``_promote``):
        # until then the new session grows in a temporary file beside it.
        self._replace_pending = False
        if self._atomic:
            self._file = temporary_name(self.path)
            remove_session_file(self._file)
        elif self.path.exists() or os.path.exists(f"{self.path}-wal"):
            self._file = temporary_name(self.path)
            remove_session_file(self._file)
            self._replace_pending = True
        else:
            self._file = self.path
        #: True once this writer's file is at ``path`` (a replaced old file is gone).
        self.replaced = False
        self._db_lock = threading.RLock()
        self._buf_lock = threading.Lock()
        self._buf: list[tuple[str, int, int, bytes, str]] = []
        self._next_seq: dict[str, int] = {}
        self._pending_sensors: list[str] = []
        self._last_flush = time.monotonic()
        self._closed = False
        self._error: BaseException | None = None
        self.notifications_written = 0  # committed to the file
        self._con: sqlite3.Connection | None = None

        try:
            self._con = sqlite3.connect(
                os.fspath(self._file), isolation_level=None, check_same_thread=False
            )
            con = self._con
            mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RecordingError(f"{self.path}: the file system does not support WAL mode")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute(f"PRAGMA application_id={APPLICATION_ID}")
            con.execute("BEGIN")
            for stmt in SCHEMA_SQL.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            meta = {
                "format": FORMAT_NAME,
                "schema_version": SCHEMA_VERSION,
                "software_version": _software_version(),
                "created_utc": _utc_now(),
                "origin_ns": self.origin_ns,
                "metadata": dict(metadata or {}),
            }
            con.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [(k, dumps(v)) for k, v in meta.items()],
            )
            con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            self._abandon()
            raise RecordingError(f"{self.path}: cannot create session file: {exc}") from exc
        except BaseException:
            self._abandon()
            raise

        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(
                target=self._flusher, name=f"hipmon-writer:{self.path.name}", daemon=True
            )
            self._thread.start()

    # ------------------------------------------------------------------ helpers
    def _abandon(self) -> None:
        con = self._con
        if con is not None:
            try:
                con.close()
            except Exception:
                pass
        remove_session_file(self._file)  # we created it: the caller gets nothing half-made

    def _check_open(self) -> None:
        if self._closed:
            raise RecordingError(f"{self.path}: session writer is closed")
        if self._error is not None:
            err, self._error = self._error, None
            raise RecordingError(f"{self.path}: background flush failed: {err}") from err

    def _commit(self, sql: str, params: Iterable[Any] | None = None, many: bool = False) -> int:
        with self._db_lock:
            self._check_open()
            con = self._con
            try:
                con.execute("BEGIN")
                if many:
                    cur = con.executemany(sql, params or [])
                else:
                    cur = con.execute(sql, tuple(params or ()))
                con.execute("COMMIT")
            except sqlite3.Error as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise RecordingError(f"{self.path}: write failed: {exc}") from exc
            return int(cur.lastrowid or 0)

    def session_time_s(self, host_ns: int) -> float:
        """Session time (s) of a host monotonic timestamp (ns)."""
        return (int(host_ns) - self.origin_ns) / 1e9

    # ------------------------------------------------------------------ sensors and metadata
    def add_sensor(
        self,
        sensor_id: str,
        placement: str | None,
        profile_name: str | None,
        rate_hz: float | None,
        *,
        address: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Declare a sensor (call again to update its description, e.g. a new rate).

        ``placement`` is one of ``hipmon.types.PLACEMENTS`` or None (unknown);
        ``profile_name`` names a firmware profile (``hipmon.profiles``) whose
        decoder can decode this sensor's notifications; ``rate_hz`` is the
        nominal sample rate (Hz).
        """
        if not sensor_id:
            raise ValueError("sensor_id must be a non-empty string")
        if placement is not None and placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS} or None, not {placement!r}")
        self._commit(
            "INSERT INTO sensors(sensor_id, placement, profile, rate_hz, address, extra, added_ns)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sensor_id) DO UPDATE SET"
            " placement=excluded.placement, profile=excluded.profile,"
            " rate_hz=excluded.rate_hz, address=excluded.address, extra=excluded.extra",
            (
                sensor_id,
                placement,
                profile_name,
                None if rate_hz is None else float(rate_hz),
                address,
                dumps(dict(extra or {})),
                time.monotonic_ns(),
            ),
        )
        with self._buf_lock:
            self._next_seq.setdefault(sensor_id, 0)

    def update_metadata(self, **values: Any) -> None:
        """Merge ``values`` into the session metadata (``meta.metadata``)."""
        with self._db_lock:
            self._check_open()
            row = self._con.execute("SELECT value FROM meta WHERE key='metadata'").fetchone()
            import json

            current = json.loads(row[0]) if row else {}
            current.update(values)
            self._commit("UPDATE meta SET value=? WHERE key='metadata'", (dumps(current),))

    def set_calibration(self, calibration: Mapping[str, Any]) -> None:
        """Store a calibration result (JSON-serialisable; numpy arrays become lists).

        Every call adds a row; readers take the last one.
        """
        self._commit(
            "INSERT INTO calibration(host_ns, data) VALUES (?, ?)",
            (time.monotonic_ns(), dumps(dict(calibration))),
        )

    def add_gap(self, gap: Gap) -> None:
        """Record samples that never arrived (session times in s)."""
        self._commit(
            "INSERT INTO gaps(sensor_id, start_s, end_s, samples_lost, reason) VALUES (?,?,?,?,?)",
            (gap.sensor_id, float(gap.start_s), float(gap.end_s), int(gap.samples_lost), gap.reason),
        )

    def add_marker(self, time_s: float, label: str, condition: str = "") -> None:
        """A user marker at session time ``time_s`` (s), with its condition ("" when none)."""
        self._commit("INSERT INTO markers(time_s, label, condition) VALUES (?, ?, ?)",
                     (float(time_s), str(label), str(condition or "")))

    def add_alert(
        self, time_s: float, rule: str, side: str = "", detail: Mapping[str, Any] | None = None
    ) -> None:
        """An alert that fired at session time ``time_s`` (s); ``detail`` is JSON."""
        self._commit(
            "INSERT INTO alerts(time_s, rule, side, detail) VALUES (?, ?, ?, ?)",
            (float(time_s), str(rule), str(side), dumps(dict(detail or {}))),
        )

    def log_connection(
        self, sensor_id: str | None, kind: str, host_ns: int | None = None, detail: str = ""
    ) -> None:
        """Log a connection event (``connect``, ``disconnect``, ``reconnect``, ...).

        A ``connect``/``reconnect`` entry tells readers to reset the sensor's
        decoder and clock map before the next notification (at ``host_ns``,
        default now). Notifications buffered before the call are committed first.
        """
        with self._db_lock:
            self.flush()
            self._commit(
                "INSERT INTO connection_log(sensor_id, host_ns, kind, detail) VALUES (?, ?, ?, ?)",
                (sensor_id, int(time.monotonic_ns() if host_ns is None else host_ns), kind, detail),
            )

    # ------------------------------------------------------------------ data
    def write(self, notification: RawNotification) -> None:
        """Buffer one notification (cheap; committed within ``flush_interval_s``).

        Data notifications and control-point messages (``notification.role``,
        e.g. ``"control"``) share the sensor's ``seq``: the file keeps the order
        in which they arrived, so a reader decodes exactly as the live decoder did.
        A notification from a sensor never declared with :meth:`add_sensor` is
        kept, and the sensor is registered with unknown placement and profile.
        """
        if self._closed or self._error is not None:
            self._check_open()
        sid = notification.sensor_id
        with self._buf_lock:
            seq = self._next_seq.get(sid)
            if seq is None:
                seq = 0
                self._pending_sensors.append(sid)
            self._next_seq[sid] = seq + 1
            self._buf.append((sid, seq, int(notification.host_ns), bytes(notification.data),
                              notification.role))
        if self._thread is None and time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def write_many(self, notifications: Iterable[RawNotification]) -> None:
        """Buffer several notifications in order."""
        for n in notifications:
            self.write(n)

    def flush(self) -> int:
        """Commit everything buffered now; returns the number of notifications committed."""
        with self._db_lock:
            if self._closed:
                return 0
            with self._buf_lock:
                buf, self._buf = self._buf, []
                pending, self._pending_sensors = self._pending_sensors, []
            self._last_flush = time.monotonic()
            if not buf and not pending:
                return 0
            con = self._con
            try:
                con.execute("BEGIN")
                if pending:
                    now = time.monotonic_ns()
                    con.executemany(
                        "INSERT OR IGNORE INTO sensors(sensor_id, extra, added_ns) VALUES (?, '{}', ?)",
                        [(s, now) for s in pending],
                    )
                con.executemany(
                    "INSERT INTO notifications(sensor_id, seq, host_ns, data, role) VALUES (?, ?, ?, ?, ?)",
                    buf,
                )
                con.execute("COMMIT")
            except BaseException as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                with self._buf_lock:  # keep them for the next attempt: nothing is lost
                    self._buf = buf + self._buf
                    self._pending_sensors = pending + self._pending_sensors
                if isinstance(exc, sqlite3.Error):
                    raise RecordingError(f"{self.path}: write failed: {exc}") from exc
                raise
            self.notifications_written += len(buf)
            if buf and self._replace_pending:
                self._promote()
            return len(buf)

    def _promote(self) -> None:
        """The new session holds data: put it in place of the old file (atomic rename).

        The temporary file's WAL is merged first (closing the connection), the old file's
        ``-wal``/``-shm`` are removed (they would be replayed into the new file), then
        ``os.replace``; the connection reopens on ``path``. Caller holds ``_db_lock``."""
        try:
            self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._con.close()
            for suffix in ("-wal", "-shm"):
                p = f"{self._file}{suffix}"
                if os.path.exists(p) and os.path.getsize(p) == 0:
                    os.unlink(p)
            for suffix in ("-wal", "-shm", "-journal"):
                try:
                    os.unlink(f"{self.path}{suffix}")
                except FileNotFoundError:
                    pass
            os.replace(self._file, self.path)
            self._file = self.path
            self._replace_pending = False
            self.replaced = True
            self._con = sqlite3.connect(os.fspath(self.path), isolation_level=None, check_same_thread=False)
            self._con.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as exc:
            raise RecordingError(f"{self.path}: could not replace the old file with the new session: {exc}") from exc

    def add_samples(self, sensor_id: str, block: ImuBlock) -> None:
        """Store decoded samples (imported sessions): ``block.time_sensor_s`` is session time (s).

        ``acc_sensor`` (N, 3) m/s², ``gyr_sensor`` (N, 3) rad/s, ``mag_sensor``
        (N, 3) µT or None. Successive calls append in order.
        """
        t = np.asarray(block.time_sensor_s, dtype=np.float64)
        n = t.shape[0]
        acc = np.asarray(block.acc_sensor, dtype=np.float64)
        gyr = np.asarray(block.gyr_sensor, dtype=np.float64)
        mag = None if block.mag_sensor is None else np.asarray(block.mag_sensor, dtype=np.float64)
        for name, a in (("acc_sensor", acc), ("gyr_sensor", gyr), ("mag_sensor", mag)):
            if a is not None and a.shape != (n, 3):
                raise ValueError(f"{name} has shape {a.shape}, expected ({n}, 3)")
        with self._db_lock:
            self._check_open()
            row = self._con.execute(
                "SELECT COALESCE(MAX(chunk) + 1, 0) FROM samples WHERE sensor_id=?", (sensor_id,)
            ).fetchone()
            first = int(row[0])
            rows = []
            for k, i in enumerate(range(0, n, SAMPLES_CHUNK)):
                j = min(n, i + SAMPLES_CHUNK)
                rows.append(
                    (
                        sensor_id,
                        first + k,
                        j - i,
                        f64_blob(t[i:j]),
                        f64_blob(acc[i:j]),
                        f64_blob(gyr[i:j]),
                        None if mag is None else f64_blob(mag[i:j]),
                    )
                )
            self._commit(
                "INSERT INTO samples(sensor_id, chunk, n, time_s, acc, gyr, mag) VALUES (?,?,?,?,?,?,?)",
                rows,
                many=True,
            )
            if rows and self._replace_pending:
                self._promote()

    # ------------------------------------------------------------------ lifetime
    def _flusher(self) -> None:
        period = self.flush_interval_s / 2
        while not self._stop.wait(period):
            try:
                self.flush()
            except BaseException as exc:  # reported by the next write/flush/close
                self._error = exc

    def _stop_flusher(self) -> None:
        """Stop the background flush thread (the caller commits what is left)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Commit everything, record the end of the session and close the file.

        An atomic writer renames its temporary file to ``path`` here.
        """
        if self._closed:
            return
        self._stop_flusher()
        with self._db_lock:
            err = self._error
            self._error = None
            self.flush()
            self._commit(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('end_ns', ?), ('closed_utc', ?)",
                (dumps(time.monotonic_ns()), dumps(_utc_now())),
            )
            try:
                self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._con.close()
            self._closed = True
        if self._replace_pending:
            # never held data: the old file stays as it was, the temporary one goes
            remove_session_file(self._file)
            self._replace_pending = False
        elif self._atomic:
            for suffix in ("-wal", "-shm"):  # closed cleanly: the WAL is merged and empty
                p = f"{self._file}{suffix}"
                if os.path.exists(p) and os.path.getsize(p) == 0:
                    os.unlink(p)
            try:
                for suffix in ("-wal", "-shm"):  # an old killed file's WAL would be replayed into ours
                    if os.path.isfile(f"{self.path}{suffix}"):
                        os.unlink(f"{self.path}{suffix}")
                os.replace(self._file, self.path)
            except OSError as exc:
                remove_session_file(self._file)
                raise RecordingError(f"{self.path}: cannot write the session file: {exc.strerror or exc}") from exc
            self.replaced = True
            try:
                fd = os.open(self.path.parent or ".", os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError:
                pass
        if err is not None:
            raise RecordingError(f"{self.path}: background flush had failed: {err}") from err

    def abort(self) -> None:
        """Stop without finishing: an atomic writer deletes its temporary file;
        a live one closes and keeps what it committed."""
        if self._closed:
            return
        self._stop_flusher()
        if self._atomic:
            with self._db_lock:
                self._closed = True
                try:
                    self._con.close()
                finally:
                    remove_session_file(self._file)
        else:
            self.close()

    def discard(self) -> None:
        """Close and delete what this writer made (nothing was worth keeping): its
        temporary file, or the new file at ``path``. A file this writer was to replace
        stays as it was (unless the new session had already taken its place)."""
        if not self._closed:
            self._stop_flusher()
            with self._db_lock:
                self._closed = True
                try:
                    self._con.close()
                except sqlite3.Error:
                    pass
        remove_session_file(self._file)
        self._replace_pending = False

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "SessionWriter":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and self._atomic:
            self.abort()
        else:
            self.close()
