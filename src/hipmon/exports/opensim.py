"""``hipmon export SESSION --opensim DIR``: OpenSense orientations and OpenSim coordinates.

Files written into ``DIR`` (``name`` defaults to ``hipmon``):

- ``<name>_orientations.sto``: the OpenSense IMU orientations file (``DataType=Quaternion``,
  tab-separated, one ``w,x,y,z`` cell per IMU): ``pelvis_imu``, ``femur_r_imu``,
  ``femur_l_imu``; each is hipmon's *segment* orientation ``q_segment_global``, i.e. a
  virtual IMU aligned with the anatomical frame, in OpenSim's ground frame (X forward,
  Y up, Z right: hipmon's global frame, so no rotation: use
  ``sensor_to_opensim_rotations = 0 0 0`` and no heading correction).
- ``<name>_calibration.sto``: one row, the calibration pose: the identity for every IMU
  (hipmon's standing calibration pose has every angle zero, i.e. the model's default
  pose), for ``IMUPlacer``'s ``orientation_file_for_calibration``: it puts each IMU on its
  body aligned with the body frame.
- ``<name>_coordinates.mot``: the pelvis and hip coordinates in OpenSim's names, order and
  signs (``hipmon.exports.conventions``: the pelvis recomputed in OpenSim's Z-X-Y sequence),
  degrees (``inDegrees=yes``). The header also carries the user markers and events as
  ``hipmon_marker_<i>=<time_s>|<label>|<condition>`` and ``hipmon_event_<i>=...`` lines,
  which OpenSim keeps as table metadata (OpenSim has no event table of its own).

Rows: the grid rows where every exported segment is valid (OpenSense cannot take a NaN
quaternion), on hipmon's session time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from hipmon import __version__
from hipmon.types import PLACEMENTS

from ._dirs import file_set
from ._files import ExportError
from .conventions import (
    OPENSIM_COORDINATES,
    OPENSIM_IMUS,
    gait_event_times,
    marker_rows,
    opensim_coordinates_deg,
    segment_orientations,
)

if TYPE_CHECKING:
    from hipmon.pipeline import SessionResult

#: The OpenSim version whose file formats these follow (the header's OpenSimVersion).
OPENSIM_VERSION = "4.6"


def _clean(text: str) -> str:
    return " ".join(str(text).replace("|", "/").replace("=", ":").split())


def _quat_cell(q: np.ndarray) -> str:
    return ",".join(f"{v:.10f}" for v in q)


def orientations_sto_text(time_s: np.ndarray, quats: dict[str, np.ndarray], rate_hz: float) -> str:
    """An OpenSense quaternion ``.sto``: ``quats`` IMU name -> (N, 4) ``w,x,y,z``."""
    names = list(quats)
    lines = [f"DataRate={rate_hz:.6f}", "DataType=Quaternion", "version=3",
             f"OpenSimVersion={OPENSIM_VERSION}", "endheader", "\t".join(["time"] + names)]
    for i, t in enumerate(time_s):
        lines.append("\t".join([f"{t:.6f}"] + [_quat_cell(quats[n][i]) for n in names]))
    return "\n".join(lines) + "\n"


def coordinates_mot_text(time_s: np.ndarray, coords: dict[str, np.ndarray], meta: Iterable[str] = (),
                         name: str = "hipmon_coordinates") -> str:
    """An OpenSim ``.mot`` (Storage version 1, degrees) of ``coords`` name -> (N,)."""
    cols = list(coords)
    head = [name, "version=1", f"nRows={len(time_s)}", f"nColumns={len(cols) + 1}", "inDegrees=yes", *meta,
            "endheader", "\t".join(["time"] + cols)]
    body = ["\t".join([f"{t:.6f}"] + [f"{coords[c][i]:.8f}" for c in cols]) for i, t in enumerate(time_s)]
    return "\n".join(head + body) + "\n"


def write_opensim(result: "SessionResult", path: str | os.PathLike[str], *, name: str = "hipmon",
                  markers: Iterable[Any] | None = None, metadata: dict[str, Any] | None = None) -> Path:
    """Write the OpenSense orientations, calibration pose and OpenSim coordinates of
    ``result`` into folder ``path`` (created; its parent must exist). Returns the folder."""
    f = result.frames
    q = segment_orientations(f)
    have = [p for p in PLACEMENTS if p in q and np.isfinite(q[p]).all(axis=1).any()]
    if "pelvis" not in have:
        raise ExportError(f"{path}: no valid pelvis orientation to export")
    rows = np.ones(len(f), dtype=bool)
    for p in have:
        rows &= np.isfinite(q[p]).all(axis=1)
    if rows.sum() < 2:
        raise ExportError(f"{path}: fewer than 2 rows where every sensor is valid")
    t = f.time_s[rows]
    rate = 1.0 / float(np.median(np.diff(f.time_s))) if len(f) > 1 else float("nan")
    quats = {OPENSIM_IMUS[p]: q[p][rows] for p in ("pelvis", "right_thigh", "left_thigh") if p in have}
    coords = {k: v[rows] for k, v in opensim_coordinates_deg(f).items()}
    if not {"left_thigh", "right_thigh"} <= set(have):  # a sacrum-only session: pelvis only
        coords = {k: v for k, v in coords.items() if k.startswith("pelvis_")}
    assert tuple(coords) == OPENSIM_COORDINATES[: len(coords)]

    meta = [f"hipmon_version={__version__}",
            "hipmon_conventions=OpenSim gait2392/Rajagopal coordinates; pelvis body-fixed Z-X-Y in ground "
            "(X forward, Y up, Z right); hips Z-X-Y, left axes -X -Y"]
    for k, v in sorted((metadata or {}).items()):
        meta.append(f"hipmon_meta_{_clean(k).replace(' ', '_')}={_clean(v)}")
    for i, m in enumerate(marker_rows(markers), start=1):
        meta.append(f"hipmon_marker_{i}={m.time_s:.6f}|{_clean(m.label)}|{_clean(m.condition)}")
    for i, e in enumerate(sorted(result.events, key=lambda e: (e.start_s, e.kind, e.side)), start=1):
        if e.kind == "stance":
            ic, to = gait_event_times(e)
            what = f"initial_contact={ic:.6f}|toe_off={to:.6f}"
        else:
            what = f"start={e.start_s:.6f}|end={e.end_s:.6f}"
        meta.append(f"hipmon_event_{i}={e.kind}|{e.side}|{what}|alert={_clean(e.alert)}")

    ident = {n: np.array([[1.0, 0.0, 0.0, 0.0]]) for n in quats}
    with file_set(path) as fs:
        fs.write_text(f"{name}_orientations.sto", orientations_sto_text(t, quats, rate))
        fs.write_text(f"{name}_calibration.sto", orientations_sto_text(t[:1], ident, rate))
        fs.write_text(f"{name}_coordinates.mot", coordinates_mot_text(t, coords, meta, name=f"{name}_coordinates"))
    return Path(path)
