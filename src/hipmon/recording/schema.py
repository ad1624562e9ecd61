"""The SQLite schema of a hipmon session file (see ``docs/recording-format.md``).

One file per session. The file is identified by ``PRAGMA application_id``
(:data:`APPLICATION_ID`, the ASCII bytes ``HIPM``) and versioned by
``PRAGMA user_version`` (:data:`SCHEMA_VERSION`); the same version is repeated in
the ``meta`` table so that a plain ``SELECT * FROM meta`` tells the whole story.

Changing anything here means a new schema version, a migration note in
``docs/recording-format.md`` and a reader that still opens the older versions.
"""

from __future__ import annotations

#: ``PRAGMA application_id`` of every hipmon session file: b"HIPM" big-endian.
APPLICATION_ID: int = int.from_bytes(b"HIPM", "big")

#: Current schema version (``PRAGMA user_version`` and ``meta.schema_version``).
#: Version 2 added ``notifications.role`` (control-point messages stored beside the data);
#: the reader still opens version 1 files (every row there is ``data``).
#: Version 3 added ``markers.condition`` (a marker's condition, e.g. "shoe A"); the reader
#: still opens version 1 and 2 files (their markers have the condition "").
SCHEMA_VERSION: int = 3

#: Oldest schema version the reader opens.
MIN_SCHEMA_VERSION: int = 1

#: ``notifications.role`` of sample-carrying notifications (other values: control roles).
DATA_ROLE: str = "data"

#: ``meta.format`` value.
FORMAT_NAME: str = "hipmon-session"

#: Profile name of sensors whose samples were imported from CSV (DESIGN section 4).
CSV_IMPORT_PROFILE: str = "csv-import"

#: Samples per row of the ``samples`` table (imported sessions).
SAMPLES_CHUNK: int = 4096

SCHEMA_SQL: str = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL            -- JSON
);
CREATE TABLE sensors (
    sensor_id   TEXT PRIMARY KEY,
    placement   TEXT,              -- pelvis | left_thigh | right_thigh | NULL (unknown)
    profile     TEXT,              -- firmware profile name, or 'csv-import'
    rate_hz     REAL,              -- nominal sample rate
    address     TEXT,              -- BLE address or source file
    extra       TEXT NOT NULL DEFAULT '{}',   -- JSON
    added_ns    INTEGER NOT NULL   -- host monotonic ns when the sensor was added
);
CREATE TABLE notifications (
    sensor_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,    -- per-sensor receive order of all its messages, 0, 1, 2, ...
    host_ns   INTEGER NOT NULL,    -- host monotonic ns when the notification arrived
    data      BLOB NOT NULL,       -- payload bytes exactly as received
    role      TEXT NOT NULL DEFAULT 'data',  -- profile characteristic role: data | control (v2)
    PRIMARY KEY (sensor_id, seq)
) WITHOUT ROWID;
CREATE TABLE samples (
    sensor_id     TEXT NOT NULL,
    chunk         INTEGER NOT NULL, -- 0, 1, 2, ... in time order
    n             INTEGER NOT NULL, -- samples in this chunk
    time_s        BLOB NOT NULL,    -- float64 LE (n,)   session time = CSV time_s
    acc           BLOB NOT NULL,    -- float64 LE (n, 3) m/s^2, row-major
    gyr           BLOB NOT NULL,    -- float64 LE (n, 3) rad/s
    mag           BLOB,             -- float64 LE (n, 3) uT, or NULL
    PRIMARY KEY (sensor_id, chunk)
) WITHOUT ROWID;
CREATE TABLE gaps (
    id           INTEGER PRIMARY KEY,
    sensor_id    TEXT NOT NULL,
    start_s      REAL NOT NULL,     -- session time of the last sample before the gap
    end_s        REAL NOT NULL,     -- session time of the first sample after the gap
    samples_lost INTEGER NOT NULL,
    reason       TEXT NOT NULL
);
CREATE TABLE markers (
    id     INTEGER PRIMARY KEY,
    time_s REAL NOT NULL,           -- session time
    label  TEXT NOT NULL,
    condition TEXT NOT NULL DEFAULT ''  -- e.g. "shoe A", "after fatigue" (v3)
);
CREATE TABLE alerts (
    id     INTEGER PRIMARY KEY,
    time_s REAL NOT NULL,           -- session time
    rule   TEXT NOT NULL,
    side   TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'  -- JSON
);
CREATE TABLE calibration (
    id      INTEGER PRIMARY KEY,
    host_ns INTEGER NOT NULL,       -- when it was set (the last row is the current one)
    data    TEXT NOT NULL           -- JSON
);
CREATE TABLE connection_log (
    id        INTEGER PRIMARY KEY,
    sensor_id TEXT,
    host_ns   INTEGER NOT NULL,
    kind      TEXT NOT NULL,        -- connect | disconnect | reconnect | start | stop | ...
    detail    TEXT NOT NULL DEFAULT ''
);
"""

#: Tables every file (version 1 and later) has (checked by the reader).
TABLES_V1: tuple[str, ...] = (
    "meta",
    "sensors",
    "notifications",
    "samples",
    "gaps",
    "markers",
    "alerts",
    "calibration",
    "connection_log",
)
