"""``hipmon export SESSION --bids DIR``: a BIDS-motion dataset (BIDS 1.9+, formerly BEP029).

Layout (``sub``, ``ses``, ``task``, ``tracksys`` options; labels alphanumeric)::

    DIR/dataset_description.json  README  participants.tsv
    DIR/sub-<sub>/ses-<ses>/motion/
        sub-<sub>_ses-<ses>_task-<task>_tracksys-<tracksys>_motion.tsv      no header, n/a = missing
        sub-<sub>_ses-<ses>_task-<task>_tracksys-<tracksys>_motion.json     SamplingFrequency, TaskName, ...
        sub-<sub>_ses-<ses>_task-<task>_tracksys-<tracksys>_channels.tsv    name component type tracked_point units ...
        sub-<sub>_ses-<ses>_task-<task>_events.tsv (+ .json)               onset duration trial_type side ... metrics

Channels: the nine angles (type JNTANG for the hips, ORNT for the pelvis in the global frame,
deg, ``component`` = the ISB axis of the rotation: tilt/flexion z, obliquity/adduction x,
rotation y) in ANGLES.csv order and names, then each segment's orientation quaternion
(type ORNT, ``quat_w..quat_z``, unitless). Rows: the grid from the first to the last valid
pelvis sample; onset 0 = the first row (session time in ``*_motion.json``'s
``hipmon_time_offset_s``). Events: stances (with initial contact and toe-off),
landings, reps and holds with their metrics and alert; user markers as ``trial_type``
``marker`` with ``label`` and ``condition``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from hipmon import __version__
from hipmon.metric_registry import EVENT_FIELDS, METRICS, event_value
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS

from ._dirs import file_set
from ._files import ExportError
from .conventions import angle_convention, angle_name, export_grid, marker_rows, segment_orientations

if TYPE_CHECKING:
    from hipmon.pipeline import SessionResult

BIDS_VERSION = "1.10.0"
_AXIS = {"pelvis_tilt": "z", "pelvis_obliquity": "x", "pelvis_rotation": "y",
         "hip_flexion": "z", "hip_adduction": "x", "hip_internal_rotation": "y"}
_EVENT_COLUMNS = ("onset", "duration", "trial_type", "side", "initial_contact", "toe_off", "alert", "label",
                  "condition")


def _label(text: str, what: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]", "", str(text))
    if not s:
        raise ExportError(f"BIDS {what} label {text!r} has no letters or digits")
    return s


def _num(x: Any, fmt: str = "{:.6f}") -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return fmt.format(v) if np.isfinite(v) else "n/a"


def channels(frames) -> list[dict[str, str]]:
    """The channel rows (name, component, type, tracked_point, units, ...) of the motion file."""
    rows = []
    for col in ANGLE_COLUMNS:
        name, side = angle_name(col)
        conv = angle_convention(col)
        point = "pelvis" if name.startswith("pelvis") else f"{side}_hip"
        rows.append({"name": col, "component": _AXIS[name], "type": "ORNT" if point == "pelvis" else "JNTANG",
                     "tracked_point": point, "units": "deg", "placement": point,
                     "reference_frame": "global" if point == "pelvis" else "pelvis",
                     "description": f"{conv['sign']}; {conv['sequence']}"})
    for p in PLACEMENTS:
        if p in frames.q_segment_global:
            for k in "wxyz":
                rows.append({"name": f"{p}_quat_{k}", "component": f"quat_{k}", "type": "ORNT", "tracked_point": p,
                             "units": "n/a", "placement": p, "reference_frame": "global",
                             "description": f"{p} segment orientation (segment to global), scalar first"})
    return rows


def events_rows(result: "SessionResult", markers: Iterable[Any] | None, t0: float) -> list[dict[str, str]]:
    """``*_events.tsv`` rows sorted by onset (seconds from the first motion sample)."""
    metric_cols = list(METRICS)
    rows = []
    for e in result.events:
        r = {"onset": _num(e.start_s - t0), "duration": _num(e.end_s - e.start_s), "trial_type": e.kind,
             "side": e.side, "initial_contact": _num(e.extra.get("initial_contact_s", np.nan) - t0),
             "toe_off": _num(e.extra.get("toe_off_s", np.nan) - t0), "alert": e.alert or "n/a",
             "label": "n/a", "condition": "n/a"}
        for m in metric_cols:
            r[m] = _num(event_value(e, m), "{:.4f}")
        rows.append(r)
    for m in marker_rows(markers):
        r = {c: "n/a" for c in _EVENT_COLUMNS + tuple(metric_cols)}
        r.update(onset=_num(m.time_s - t0), duration="0.000000", trial_type="marker", label=m.label or "n/a",
                 condition=m.condition or "n/a")
        rows.append(r)
    rows.sort(key=lambda r: float(r["onset"]))
    return rows


def _tsv(rows: list[dict[str, str]], cols: list[str], header: bool = True) -> str:
    out = ["\t".join(cols)] if header else []
    out += ["\t".join(str(r.get(c, "n/a")).replace("\t", " ").replace("\n", " ") for c in cols) for r in rows]
    return "\n".join(out) + "\n"


def write_bids(result: "SessionResult", path: str | os.PathLike[str], *, sub: str | None = None, ses: str = "01",
               task: str | None = None, tracksys: str = "IMU", markers: Iterable[Any] | None = None,
               metadata: dict[str, Any] | None = None) -> Path:
    """Write ``result`` as a BIDS-motion dataset into folder ``path`` (created; its parent must exist;
    an existing dataset keeps its ``dataset_description.json``, README and participants.tsv)."""
    md = dict(metadata or {})
    sub = _label(sub or md.get("athlete") or "01", "subject")
    ses, tracksys = _label(ses, "session"), _label(tracksys, "tracksys")
    task = _label(task or md.get("task") or md.get("kind") or "hipmonitoring", "task")
    f = result.frames
    sl, t, rate = export_grid(f, path)
    t0 = float(t[0])
    chans = channels(f)
    q = segment_orientations(f)
    data = [f.angles_deg[sl, i] for i in range(len(ANGLE_COLUMNS))]
    for p in PLACEMENTS:
        if p in f.q_segment_global:
            data += [q[p][sl, k] for k in range(4)]
    data = np.column_stack(data)
    motion = "\n".join("\t".join("n/a" if not np.isfinite(v) else f"{v:.8g}" for v in row) for row in data) + "\n"

    stem = f"sub-{sub}_ses-{ses}_task-{task}"
    mdir = f"sub-{sub}/ses-{ses}/motion"
    types = [c["type"] for c in chans]
    sidecar = {
        "TaskName": task,
        "TaskDescription": md.get("notes") or "hip stability monitoring (hipmon)",
        "SamplingFrequency": rate,
        "SamplingFrequencyEffective": rate,
        "TrackingSystemName": "hipmon IMU (pelvis and both thighs)",
        "Manufacturer": "n/a",
        "RecordingDuration": float(len(t) / rate),
        "MotionChannelCount": len(chans),
        "ORNTChannelCount": types.count("ORNT"),
        "JNTANGChannelCount": types.count("JNTANG"),
        "TrackedPointsCount": len({c["tracked_point"] for c in chans}),
        "MissingValues": "n/a",
        "SoftwareVersions": f"hipmon {__version__}",
        "hipmon_time_offset_s": t0,
        "hipmon_conventions": "DESIGN.md section 2: global X forward, Y up, Z right; pelvis Cardan Y-X-Z (Baker "
                              "2001); hip Cardan Z-X-Y (ISB JCS), left mirrored; degrees",
    }
    metric_cols = list(METRICS)
    ev_cols = list(_EVENT_COLUMNS) + metric_cols
    ev_json = {
        "onset": {"Units": "s", "Description": "from the first sample of the motion file"},
        "duration": {"Units": "s"},
        "trial_type": {"Levels": {"stance": "stance (initial contact to toe off)", "landing": "landing",
                                  "rep": "repetition", "hold": "single-leg hold", "marker": "user marker"}},
        "side": {"Levels": {"left": "left", "right": "right", "both": "both"}},
        "initial_contact": {"Units": "s", "Description": EVENT_FIELDS["initial_contact_s"][1]},
        "toe_off": {"Units": "s", "Description": EVENT_FIELDS["toe_off_s"][1]},
        "alert": {"Description": "the alert rule that fired"},
        "label": {"Description": "user marker label"},
        "condition": {"Description": "user marker condition (e.g. shoe A, after fatigue)"},
        **{m: {"Units": METRICS[m].unit, "Description": f"{METRICS[m].description} ({METRICS[m].sign})"}
           for m in metric_cols},
    }
    desc = {"Name": f"hipmon export {md.get('athlete') or sub}", "BIDSVersion": BIDS_VERSION, "DatasetType": "raw",
            "GeneratedBy": [{"Name": "hipmon", "Version": __version__}]}
    ch_json = {"reference_frame": {
        "LongName": "reference frame", "Description": "the frame an orientation or angle is expressed in",
        "Levels": {
            "global": {"SpatialAxes": "ASR", "RotationRule": "right-hand", "RotationOrder": "YXZ",
                       "Description": "X forward (the direction faced at calibration), Y up, Z right; pelvis angles "
                                      "are the Cardan Y-X-Z of the pelvis in it (Baker 2001)"},
            "pelvis": {"SpatialAxes": "ASR", "RotationRule": "right-hand", "RotationOrder": "ZXY",
                       "Description": "pelvis segment frame (X anterior, Y superior, Z right); hip angles are the "
                                      "Cardan Z-X-Y of the thigh in it (ISB JCS), left side mirrored"}}}}
    ch_cols = ["name", "component", "type", "tracked_point", "units", "placement", "reference_frame", "description"]
    root = Path(path)
    with file_set(root) as fs:
        if not (root / "dataset_description.json").exists():
            fs.write_text("dataset_description.json", json.dumps(desc, indent=2) + "\n")
        if not (root / "README").exists():
            fs.write_text("README", "Hip and pelvis angles from hipmon (IMUs on the pelvis and both thighs).\n")
        if not (root / "participants.tsv").exists():
            fs.write_text("participants.tsv", f"participant_id\nsub-{sub}\n")
        fs.write_text(f"{mdir}/{stem}_tracksys-{tracksys}_motion.tsv", motion)
        fs.write_text(f"{mdir}/{stem}_tracksys-{tracksys}_motion.json", json.dumps(sidecar, indent=2) + "\n")
        fs.write_text(f"{mdir}/{stem}_tracksys-{tracksys}_channels.tsv", _tsv(chans, ch_cols))
        fs.write_text(f"{mdir}/{stem}_tracksys-{tracksys}_channels.json", json.dumps(ch_json, indent=2) + "\n")
        fs.write_text(f"{mdir}/{stem}_events.tsv", _tsv(events_rows(result, markers, t0), ev_cols))
        fs.write_text(f"{mdir}/{stem}_events.json", json.dumps(ev_json, indent=2) + "\n")
    return root
