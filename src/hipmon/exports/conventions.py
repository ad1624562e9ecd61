"""Angle conventions of the lab formats, computed from hipmon's own orientations.

hipmon's angles (DESIGN.md section 2): global X forward, Y up, Z right; pelvis =
Cardan Y (rotation) → X (obliquity) → Z (tilt) of the pelvis in the global frame (Baker
2001); hip = Cardan Z (flexion) → X (adduction) → Y (internal rotation) of the thigh in
the pelvis (ISB JCS), left side mirrored.

- **OpenSim** (gait2392, Rajagopal 2016; checked against the ``CustomJoint`` axes of
  gait2392: ``ground_pelvis`` rotation1..3 = Z, X, Y; ``hip_r`` Z, X, Y; ``hip_l`` Z, −X, −Y).
  Ground is X forward, Y up, Z right: hipmon's global frame, no rotation. The pelvis is
  body-fixed Z → X → Y: ``R_pelvis_ground = Rz(pelvis_tilt)·Rx(pelvis_list)·Ry(pelvis_rotation)``,
  a different sequence from hipmon's, so the three are *recomputed* from the pelvis
  orientation (a tilt is not an obliquity renamed). The hips are Z → X → Y on both sides
  with the left axes negated: the same sequence and signs as hipmon's hip angles.
- **Plug-in Gait** (Vicon, "Lower body angles as output from Plug-in Gait": every lower-body
  angle is a YXZ Cardan in PiG frames, i.e. sagittal → frontal → transverse; components
  1/2/3 = X/Y/Z of the ``*Angles`` point). Pelvis: tilt → obliquity → rotation relative to
  the progression frame (here the global frame, the direction faced at calibration), the
  OpenSim pelvis sequence; X anterior tilt +, Y that side up +, Z that side forward
  (internal) +. Hip: X flexion +, Y adduction +, Z internal rotation +, both sides.

Every function takes and returns arrays with time on the first axis; NaN propagates
(an invalid row stays NaN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from hipmon import kinematics as kin
from hipmon import rotations as rot
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS, Frames

#: OpenSim coordinate names in the order of gait2392's .mot files (translations left out).
OPENSIM_COORDINATES: tuple[str, ...] = (
    "pelvis_tilt", "pelvis_list", "pelvis_rotation",
    "hip_flexion_r", "hip_adduction_r", "hip_rotation_r",
    "hip_flexion_l", "hip_adduction_l", "hip_rotation_l",
)
#: OpenSense IMU names (bodies of gait2392/Rajagopal) per hipmon placement.
OPENSIM_IMUS: dict[str, str] = {"pelvis": "pelvis_imu", "right_thigh": "femur_r_imu", "left_thigh": "femur_l_imu"}
#: Plug-in Gait angle points (Vicon names), X/Y/Z components.
PIG_POINTS: tuple[str, ...] = ("LPelvisAngles", "RPelvisAngles", "LHipAngles", "RHipAngles")

#: hipmon angle (ANGLES.csv column without side and unit) -> (rotation axis, sequence, sign).
ANGLE_CONVENTIONS: dict[str, tuple[str, str, str]] = {
    "pelvis_tilt": ("pelvis Z (third)", "pelvis in global, Cardan Y-X-Z (rotation, obliquity, tilt; Baker 2001)",
                    "positive for anterior tilt"),
    "pelvis_obliquity": ("floating X (second)", "pelvis in global, Cardan Y-X-Z (Baker 2001)",
                         "positive when the right side is higher than the left"),
    "pelvis_rotation": ("global Y (first)", "pelvis in global, Cardan Y-X-Z (Baker 2001)",
                        "positive when the right side moves forward"),
    "hip_flexion": ("pelvis Z (first)", "thigh in pelvis, Cardan Z-X-Y (ISB JCS)", "positive for flexion, both sides"),
    "hip_adduction": ("floating X (second)", "thigh in pelvis, Cardan Z-X-Y (ISB JCS), left mirrored",
                      "positive for adduction, both sides"),
    "hip_internal_rotation": ("thigh Y (third)", "thigh in pelvis, Cardan Z-X-Y (ISB JCS), left mirrored",
                              "positive for internal rotation, both sides"),
}


def angle_name(column: str) -> tuple[str, str | None]:
    """(angle, side) of an ANGLES.csv column: ``hip_adduction_left_deg`` -> ("hip_adduction", "left")."""
    base = column[: -len("_deg")] if column.endswith("_deg") else column
    for side in ("left", "right"):
        if base.endswith("_" + side):
            return base[: -len(side) - 1], side
    return base, None


def angle_convention(column: str) -> dict[str, str]:
    """unit, axis, sequence and sign of an ANGLES.csv column (DESIGN.md section 2)."""
    name, side = angle_name(column)
    axis, seq, sign = ANGLE_CONVENTIONS[name]
    return {"unit": "deg", "axis": axis, "sequence": seq, "sign": sign, "side": side or "",
            "frames": "global X forward, Y up, Z right; segments X anterior, Y superior, Z right (ISB)"}


# ---------------------------------------------------------------- orientations


def cardan_zxy(q: np.ndarray) -> np.ndarray:
    """(a, b, c) rad, (N, 3), with ``matrix(q) = Rz(a)·Rx(b)·Ry(c)`` (body-fixed Z → X → Y)."""
    m = rot.matrix(q)
    b = np.arcsin(np.clip(m[..., 2, 1], -1.0, 1.0))
    a = np.arctan2(-m[..., 0, 1], m[..., 1, 1])
    c = np.arctan2(-m[..., 2, 0], m[..., 2, 2])
    return np.stack([a, b, c], axis=-1)


def segment_orientations(frames: Frames) -> dict[str, np.ndarray]:
    """``q_segment_global`` (N, 4) per placement, NaN where that sensor is not valid.

    The pipeline keeps them in ``frames.q_segment_global`` (the very orientations its angles
    come from). Frames built elsewhere without them get them back from the angles
    (``hipmon.kinematics.pelvis_orientation``/``hip_orientation``: exact inverses).
    """
    n = len(frames)
    out: dict[str, np.ndarray] = {}
    for p in PLACEMENTS:
        q = frames.q_segment_global.get(p)
        if q is not None and len(q) == n:
            q = np.array(q, dtype=float)
            ok = frames.valid_sensor.get(p, np.isfinite(q).all(axis=1))
            q[~np.asarray(ok, bool)] = np.nan
            out[p] = q
    if "pelvis" not in out:
        a = np.radians(frames.angles_deg)
        out["pelvis"] = kin.pelvis_orientation(a[:, 0], a[:, 1], a[:, 2])
        for side in ("left", "right"):
            cols = [ANGLE_COLUMNS.index(f"hip_{k}_{side}_deg") for k in ("flexion", "adduction", "internal_rotation")]
            q_tp = kin.hip_orientation(a[:, cols[0]], a[:, cols[1]], a[:, cols[2]], side)
            out[f"{side}_thigh"] = rot.multiply(out["pelvis"], q_tp)
    for p, q in out.items():
        out[p] = np.where(np.isfinite(q).all(axis=1, keepdims=True), q, np.nan)
    return out


def opensim_coordinates_deg(frames: Frames) -> dict[str, np.ndarray]:
    """OpenSim coordinate -> (N,) degrees, in ``OPENSIM_COORDINATES`` order (NaN where not measured)."""
    q = segment_orientations(frames)
    n = len(frames)
    nan3 = np.full((n, 3), np.nan)
    pelvis = np.degrees(cardan_zxy(q["pelvis"]))  # tilt (Z), list (X), rotation (Y)
    out = {"pelvis_tilt": pelvis[:, 0], "pelvis_list": pelvis[:, 1], "pelvis_rotation": pelvis[:, 2]}
    for side, s, sign in (("right", "r", 1.0), ("left", "l", -1.0)):
        qt = q.get(f"{side}_thigh")
        if qt is None:
            hip = nan3
        else:
            hip = np.degrees(cardan_zxy(rot.multiply(rot.conjugate(q["pelvis"]), qt)))
            hip = hip * np.array([1.0, sign, sign])  # hip_l: axes -X, -Y
        out[f"hip_flexion_{s}"], out[f"hip_adduction_{s}"], out[f"hip_rotation_{s}"] = hip.T
    return {k: np.asarray(out[k]) for k in OPENSIM_COORDINATES}


def plug_in_gait_angles_deg(frames: Frames) -> dict[str, np.ndarray]:
    """Plug-in Gait point label -> (N, 3) degrees (X, Y, Z components), ``PIG_POINTS`` order."""
    c = opensim_coordinates_deg(frames)
    tilt, lst, yaw = c["pelvis_tilt"], c["pelvis_list"], c["pelvis_rotation"]
    ant = -tilt  # OpenSim pelvis_tilt (about +Z right) is positive posterior
    col = {name: frames.angles_deg[:, i] for i, name in enumerate(ANGLE_COLUMNS)}

    def hip(side: str) -> np.ndarray:
        return np.column_stack([col[f"hip_{k}_{side}_deg"] for k in ("flexion", "adduction", "internal_rotation")])

    return {
        "LPelvisAngles": np.column_stack([ant, lst, -yaw]),   # left side up +, left side forward +
        "RPelvisAngles": np.column_stack([ant, -lst, yaw]),   # right side up +, right side forward +
        "LHipAngles": hip("left"),
        "RHipAngles": hip("right"),
    }


# ---------------------------------------------------------------- events and markers


@dataclass(frozen=True)
class MarkerRow:
    """A user marker: session time (s), label and condition ("" when none)."""

    time_s: float
    label: str
    condition: str = ""


def marker_rows(markers: Iterable[Any] | None) -> list[MarkerRow]:
    """Markers as ``MarkerRow``s sorted by time, from ``SessionReader.markers``
    (``hipmon.recording.reader.Marker``: time, label and condition),
    ``MarkerRow``s, (time_s, label[, condition]) tuples or dicts with those keys."""
    from hipmon.recording.reader import Marker

    rows = []
    for m in markers or ():
        if isinstance(m, MarkerRow):
            t, label, cond = m.time_s, m.label, m.condition
        elif isinstance(m, Marker):
            t, label, cond = m.time_s, m.label, m.condition
        elif isinstance(m, Mapping):
            t, label, cond = m["time_s"], m.get("label", ""), m.get("condition", "")
        else:
            t, label, cond = (list(m) + ["", ""])[:3]
        rows.append(MarkerRow(float(t), str(label or ""), str(cond or "")))
    return sorted(rows, key=lambda r: r.time_s)


def gait_event_times(e: Any) -> tuple[float, float]:
    """(initial contact, toe off) session times of a stance: ``Event.extra`` where the
    detector put them, else the stance window (start, end)."""
    ic = e.extra.get("initial_contact_s", float("nan"))
    to = e.extra.get("toe_off_s", float("nan"))
    return (float(ic) if np.isfinite(ic) else float(e.start_s), float(to) if np.isfinite(to) else float(e.end_s))


def export_rows(frames: Frames) -> slice:
    """The grid rows a lab file carries: from the first to the last row where the pelvis has
    valid angles (a uniform grid; rows inside are NaN where a sensor was lost)."""
    ok = np.asarray(frames.valid_sensor.get("pelvis", frames.valid), bool) & np.isfinite(frames.angles_deg[:, 0])
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return slice(0, 0)
    return slice(int(idx[0]), int(idx[-1]) + 1)


def export_grid(frames: Frames, path: Any) -> tuple[slice, np.ndarray, float]:
    """(rows, their session times s, the grid rate Hz) a lab file of ``path`` carries
    (``export_rows``); ``ExportError`` naming ``path`` when there are fewer than two or the
    grid is not uniform."""
    from ._files import ExportError

    sl = export_rows(frames)
    if sl.stop - sl.start < 2:
        raise ExportError(f"{path}: no valid pelvis angles to export")
    t = frames.time_s[sl]
    try:
        return sl, t, grid_rate_hz(t)
    except ValueError as exc:
        raise ExportError(f"{path}: {exc}") from None


def grid_rate_hz(time_s: np.ndarray) -> float:
    """The rate of a uniform grid; ``ValueError`` when it is not uniform."""
    d = np.diff(np.asarray(time_s, float))
    if d.size == 0:
        raise ValueError("fewer than 2 samples")
    dt = float(np.median(d))
    if dt <= 0 or np.max(np.abs(d - dt)) > 1e-6 * max(1.0, dt) + 1e-9:
        raise ValueError("the time grid is not uniform")
    return 1.0 / dt
