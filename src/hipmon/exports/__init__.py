"""Every file hipmon writes from a processed session, and the readers of its own formats.

One in-memory result goes in: ``hipmon.pipeline.SessionResult`` (what ``hipmon export``
and ``hipmon analyze`` build with ``process_session``/``process_samples``), or anything with
its attributes: ``frames`` (``time_s`` (N,) s, ``angles_deg`` (N, 9) in ``ANGLE_COLUMNS``
order, ``valid`` (N,), ``valid_sensor`` {placement: (N,)}), ``events`` (list of
``hipmon.types.Event``), ``alerts``, ``calibration``, ``gaps``.

Writers (DESIGN.md section 4: the column names and formats are contracts):

- ``write_angles_csv(result, path, include_invalid=False)``: ANGLES.csv.
- ``write_events_csv(result, path, extras=False)``: EVENTS.csv (``extras``: the
  simulator's truth format, with ``initial_contact_s``, ``toe_off_s`` and the other
  ``Event.extra`` values as ``k=v;``); a list of events: ``events_csv_text``.
- ``angles_csv_text``/``events_csv_text``: the same files as text.

Lab formats (``docs/exports.md``: conventions, sign tables, how to load them; the angle
conventions of OpenSim and Plug-in Gait are computed in ``conventions``):

- ``write_opensim(result, DIR, markers=, metadata=)``: OpenSense quaternion ``.sto``
  (``pelvis_imu``, ``femur_r_imu``, ``femur_l_imu``), its calibration pose, and a ``.mot`` of
  the pelvis and hip coordinates in OpenSim's names, order and signs.
- ``write_c3d(result, FILE.c3d, markers=, metadata=)``: Plug-in Gait angle points and the
  EVENT group (``ezc3d``).
- ``write_parquet(result, DIR, markers=, metadata=)``: tidy tables with units in the schema.
- ``write_bids(result, DIR, sub=, ses=, task=, tracksys=, markers=, metadata=)``: BIDS-motion.

``markers``: ``SessionReader.markers`` (or (time_s, label[, condition]) tuples);
``metadata``: ``SessionReader.metadata``.

Readers (tests, benchmarks and tools that read hipmon's output back):
``read_angles_csv(path) -> AnglesTable`` and ``read_events_csv(path) -> list[Event]``.
The raw IMU import CSV (one file per sensor) is read by ``hipmon.recording.csvio``.

Adding an exporter (OpenSim, C3D, Parquet, BIDS, ...): a module in this package with
one function ``write_<format>(result, path, **options) -> Path`` over the result above,
that

1. takes every metric name, unit, label and sign from ``hipmon.metric_registry`` and
   every angle column from ``hipmon.types.ANGLE_COLUMNS`` (never spells them);
2. writes atomically (``write_text_atomic``/``atomic_path``): a temporary file renamed
   into place, so an error leaves nothing half-written;
3. raises ``ExportError`` (message: the file and the problem, one line) for anything the
   user can fix; ``hipmon export`` turns it into its one-line error and exit status 2;
4. is re-exported here and listed in ``WRITERS``; then give ``hipmon export`` its option
   (``src/hipmon/commands/export.py``) and a test that reads the file back.
"""

from __future__ import annotations

from ._files import ExportError, atomic_path, write_text_atomic
from .bids import write_bids
from .c3d import write_c3d
from .opensim import write_opensim
from .parquet import write_parquet
from .tables import (
    AnglesTable,
    angles_csv_text,
    events_csv_text,
    format_value,
    read_angles_csv,
    read_events_csv,
    write_angles_csv,
    write_events_csv,
)

#: format name -> writer ``write_<format>(result, path, **options)``
WRITERS = {
    "angles": write_angles_csv,
    "events": write_events_csv,
    "opensim": write_opensim,
    "c3d": write_c3d,
    "parquet": write_parquet,
    "bids": write_bids,
}

__all__ = [
    "AnglesTable",
    "ExportError",
    "WRITERS",
    "angles_csv_text",
    "atomic_path",
    "events_csv_text",
    "format_value",
    "read_angles_csv",
    "read_events_csv",
    "write_angles_csv",
    "write_bids",
    "write_c3d",
    "write_events_csv",
    "write_opensim",
    "write_parquet",
    "write_text_atomic",
]
