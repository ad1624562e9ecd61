"""``hipmon export SESSION --c3d FILE``: angles and events as a Vicon-style C3D (``ezc3d``).

- POINT: ``LPelvisAngles``, ``RPelvisAngles``, ``LHipAngles``, ``RHipAngles`` in degrees,
  Plug-in Gait components (``hipmon.exports.conventions.plug_in_gait_angles_deg``):
  X/Y/Z = tilt/obliquity/rotation (pelvis, recomputed in PiG's tilt → obliquity → rotation
  order) and flexion/adduction/internal rotation (hip). Listed in ``POINT:ANGLES``;
  ``POINT:ANGLE_UNITS = deg``. A sample without a valid angle has residual −1 (C3D's
  "invalid"; ezc3d reads it back as NaN).
- Frames: the grid rows from the first to the last valid pelvis sample; C3D time 0 is the
  first frame, at hipmon session time ``HIPMON:TIME_OFFSET_S``.
- EVENT: stance initial contacts "Foot Strike" and toe-offs "Foot Off" (context Left/Right);
  landings "Landing", reps and holds "Rep"/"Hold" at their start (context General, the side
  in the description); user markers as General events (label = the marker's label,
  description = its condition). Each event's description also carries its metrics
  (``name=value;`` from ``hipmon.metric_registry``) and its alert. TIMES are (minutes,
  seconds) with minutes 0. C3D holds at most 255 strings per parameter: beyond 255 events
  the rest continue in ``EVENT:TIMES2``, ``LABELS2``, ... (``POINT:LABELS2``'s convention);
  strings are cut at 255 characters.
- SUBJECTS (NAMES = the athlete), TRIAL, and HIPMON (version, conventions, metadata).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from hipmon import __version__
from hipmon.metric_registry import METRICS, event_value

from ._files import ExportError, atomic_path
from .conventions import PIG_POINTS, export_grid, gait_event_times, marker_rows, plug_in_gait_angles_deg

if TYPE_CHECKING:
    from hipmon.pipeline import SessionResult

_DESCRIPTIONS = {
    "LPelvisAngles": "left pelvis: X anterior tilt, Y left side up, Z left side forward (deg)",
    "RPelvisAngles": "right pelvis: X anterior tilt, Y right side up, Z right side forward (deg)",
    "LHipAngles": "left hip: X flexion, Y adduction, Z internal rotation (deg)",
    "RHipAngles": "right hip: X flexion, Y adduction, Z internal rotation (deg)",
}


def _metrics_text(e: Any) -> str:
    parts = []
    for name in METRICS:
        v = event_value(e, name)
        if np.isfinite(v):
            parts.append(f"{name}={float(v):.4f}")
    if e.alert:
        parts.append(f"alert={e.alert}")
    return ";".join(parts)


def c3d_events(result: "SessionResult", markers: Iterable[Any] | None, t0: float) -> list[tuple[float, str, str, str]]:
    """(time s from the first frame, context, label, description) of every C3D event, by time."""
    out = []
    for e in result.events:
        desc = _metrics_text(e)
        if e.kind == "stance" and e.side in ("left", "right"):
            ic, to = gait_event_times(e)
            out.append((ic - t0, e.side.capitalize(), "Foot Strike", desc))
            out.append((to - t0, e.side.capitalize(), "Foot Off", desc))
        else:
            label = e.kind.capitalize()
            out.append((e.start_s - t0, "General", label, f"side={e.side};{desc}".rstrip(";")))
    for m in marker_rows(markers):
        out.append((m.time_s - t0, "General", m.label or "Marker", m.condition))
    return sorted(out, key=lambda x: x[0])


#: C3D stores each parameter dimension in one byte: at most 255 strings of at most 255 characters.
C3D_MAX = 255


def _s(text: Any) -> str:
    """A C3D string: at most 255 characters, never empty (a blank)."""
    return (str(text) or " ")[:C3D_MAX]


def _add_events(c: Any, events: list[tuple[float, str, str, str]], subject: str) -> None:
    """The EVENT group. Beyond 255 events (one byte per dimension) the rest go on in
    ``TIMES2``, ``LABELS2``, ... the way ``POINT:LABELS2`` continues ``POINT:LABELS`` (ezc3d
    and hipmon read them; a reader that knows only ``EVENT:TIMES`` sees the first 255)."""
    if not events:
        return
    c.add_parameter("EVENT", "USED", min(len(events), C3D_MAX))
    c.add_parameter("HIPMON", "EVENTS_TOTAL", len(events))
    for k in range(0, len(events), C3D_MAX):
        chunk = events[k:k + C3D_MAX]
        sfx = "" if k == 0 else str(k // C3D_MAX + 1)
        c.add_parameter("EVENT", "TIMES" + sfx, np.array([[0.0] * len(chunk), [float(e[0]) for e in chunk]]))
        c.add_parameter("EVENT", "CONTEXTS" + sfx, [_s(e[1]) for e in chunk])
        c.add_parameter("EVENT", "LABELS" + sfx, [_s(e[2]) for e in chunk])
        c.add_parameter("EVENT", "DESCRIPTIONS" + sfx, [_s(e[3]) for e in chunk])
        c.add_parameter("EVENT", "SUBJECTS" + sfx, [subject] * len(chunk))
        c.add_parameter("EVENT", "ICON_IDS" + sfx, [0.0] * len(chunk))
        c.add_parameter("EVENT", "GENERIC_FLAGS" + sfx, [0.0] * len(chunk))


def write_c3d(result: "SessionResult", path: str | os.PathLike[str], *, markers: Iterable[Any] | None = None,
              metadata: dict[str, Any] | None = None) -> Path:
    """Write ``result``'s angles and events to the C3D file ``path`` atomically."""
    import ezc3d

    path = Path(path)
    if path.suffix.lower() != ".c3d":
        raise ExportError(f"{path}: a C3D file name must end in .c3d")
    f = result.frames
    sl, t, rate = export_grid(f, path)
    t0 = float(t[0])
    pig = {k: v[sl] for k, v in plug_in_gait_angles_deg(f).items()}
    n = len(t)
    pts = np.zeros((4, len(PIG_POINTS), n))
    resid = np.zeros((1, len(PIG_POINTS), n))
    for j, name in enumerate(PIG_POINTS):
        a = pig[name]
        ok = np.isfinite(a).all(axis=1)
        pts[:3, j, :] = np.where(ok[:, None], a, 0.0).T
        pts[3, j, :] = 1.0
        resid[0, j, ~ok] = -1.0

    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [rate]
    c["parameters"]["POINT"]["LABELS"]["value"] = list(PIG_POINTS)
    c["parameters"]["POINT"]["DESCRIPTIONS"]["value"] = [_DESCRIPTIONS[p] for p in PIG_POINTS]
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    c.add_parameter("POINT", "ANGLES", list(PIG_POINTS), "Plug-in Gait angle outputs")
    c.add_parameter("POINT", "ANGLE_UNITS", ["deg"])
    c["data"]["points"] = pts
    c["data"]["meta_points"] = {"residuals": resid, "camera_masks": np.zeros((7, len(PIG_POINTS), n), dtype=bool)}

    md = {_s(k): _s(v) for k, v in list((metadata or {}).items())[:C3D_MAX]}
    athlete = md.get("athlete") or md.get("subject") or "hipmon"
    c.add_parameter("SUBJECTS", "USED", 1)
    c.add_parameter("SUBJECTS", "NAMES", [_s(athlete)])
    c.add_parameter("SUBJECTS", "MARKER_SETS", ["hipmon IMU (pelvis, thighs)"])
    c.add_parameter("SUBJECTS", "IS_STATIC", 0)
    c.add_parameter("TRIAL", "ACTUAL_START_FIELD", [1, 0])
    c.add_parameter("TRIAL", "ACTUAL_END_FIELD", [n % 65536, n // 65536])
    c.add_parameter("TRIAL", "CAMERA_RATE", [rate])
    c.add_parameter("HIPMON", "VERSION", [__version__])
    c.add_parameter("HIPMON", "TIME_OFFSET_S", [t0], "session time (s) of the first frame")
    c.add_parameter("HIPMON", "CONVENTIONS", ["Plug-in Gait: pelvis tilt-obliquity-rotation in the global frame "
                                              "(faced at calibration); hips flexion-adduction-internal rotation"])
    if md:
        c.add_parameter("HIPMON", "METADATA_KEYS", list(md))
        c.add_parameter("HIPMON", "METADATA_VALUES", list(md.values()))
    if result.calibration is not None:
        c.add_parameter("HIPMON", "CALIBRATION_QUALITY", [float(result.calibration.quality)])

    _add_events(c, c3d_events(result, markers, t0), _s(athlete))

    with atomic_path(path) as tmp:
        tmp_c3d = tmp.with_name(tmp.name + ".c3d")
        try:
            c.write(str(tmp_c3d))
            os.replace(tmp_c3d, tmp)
        finally:
            if tmp_c3d.exists():
                tmp_c3d.unlink()
    return path
