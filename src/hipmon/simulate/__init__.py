"""Ground truth for hipmon: a simulated athlete and the IMUs strapped to them.

``simulate(kind, seconds, seed, **options) -> Simulation``

- ``kind``: ``run``, ``walk``, ``jump``, ``squat``, ``stance``, ``stand``.
- options: any field of ``Athlete`` (speed, per-side drop / adduction / IR /
  valgus, fatigue, session structure), any field of ``ImuModel`` (rate,
  noise, biases, scale errors, saturation, magnetometer, mounting, lever arms,
  timing, clocks, soft-tissue artefact), ``truth_rate_hz`` (default 200), ``preset`` (a name in
  ``PRESETS``, applied before the other options) and ``ideal=True`` (all sensor
  errors, timing irregularities, clock effects and the soft-tissue artefact off:
  the signals are then the exact physics of the truth).

Every session starts with the calibration sequence of DESIGN.md section 4:
``stand_s`` (≥ 3 s) of quiet standing facing +X in the neutral pose, then, for
non-gait tasks, ``calib_steps`` (≥ 10) steps of forward walking and 2 s of
standing; runs and walks go straight from standing into gait. The same seed
gives the same session (bit for bit; ``write_dir`` byte for byte).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hipmon.exports import events_csv_text
from hipmon.metric_registry import HIP_ADDUCTION, HIP_INTERNAL_ROTATION, PELVIC_DROP
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS, Event

from .athlete import ATHLETE_FIELDS, KINDS, PRESETS, TASK_DEFAULTS, Athlete
from .curves import GRAVITY_MPS2
from .imu import (
    DEFAULT_LEVER_ARM_M,
    IDEAL_OFF,
    IMU_FIELDS,
    ImuModel,
    SimSensor,
    default_mounting,
    model_dict,
    random_rotation,
    sample_times,
    seeded_rng,
    synthesize,
)
from .motion import Motion, build_motion
from .tissue import SoftTissue

__all__ = ["simulate", "check_options", "Simulation", "SimSensor", "Athlete", "ImuModel", "PRESETS", "KINDS", "TASK_DEFAULTS",
           "GRAVITY_MPS2", "OPTION_NAMES"]

#: Every keyword ``simulate`` accepts besides kind, seconds, seed.
OPTION_NAMES = tuple(sorted(set(ATHLETE_FIELDS) | set(IMU_FIELDS) | {"truth_rate_hz", "preset", "ideal"}))


@dataclass
class Simulation:
    """A simulated session: true segment motion, true angles and events, and the sensors' readings.

    - ``truth_time_s`` (N,) session time on the truth grid (``truth_rate_hz``);
    - ``truth_angles_deg`` (N, 9) in ``ANGLE_COLUMNS`` order (zero in the standing pose);
    - ``q_segment_global[placement]`` (N, 4) segment → global (X forward, Y up, Z right);
    - ``pos_segment_global[placement]`` (N, 3) m: pelvis origin (midpoint of the hip
      joint centres) for the pelvis, the hip joint centre for a thigh;
    - ``events``: true stances / landings / reps / holds with peaks from the truth angles;
    - ``sensors[placement]``: ``SimSensor``.
    """

    kind: str
    seed: int
    seconds: float
    truth_rate_hz: float
    truth_time_s: np.ndarray
    truth_angles_deg: np.ndarray
    q_segment_global: dict[str, np.ndarray]
    pos_segment_global: dict[str, np.ndarray]
    events: list[Event]
    sensors: dict[str, SimSensor]
    athlete: Athlete
    imu: ImuModel
    motion: Motion = field(repr=False)

    def angles_at(self, t: np.ndarray) -> np.ndarray:
        """True angles (M, 9) deg at any session times ``t`` (M,), e.g. a sensor's sample times."""
        from hipmon import kinematics as kin

        q, _ = self.motion.pose(np.asarray(t, dtype=float))
        return kin.all_angles_deg(q["pelvis"], q["left_thigh"], q["right_thigh"])

    def pose_at(self, t: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """True ``q_segment_global`` and ``pos_segment_global`` per placement at any session times ``t``."""
        return self.motion.pose(np.asarray(t, dtype=float))

    def parameters(self) -> dict:
        """Everything needed to understand (and reproduce) the session, JSON-ready."""
        sensors = {}
        for name, s in self.sensors.items():
            sensors[name] = {
                "rate_hz": s.rate_hz,
                "samples": int(s.time_session_s.shape[0]),
                "q_sensor_segment": [float(v) for v in s.q_sensor_segment],
                "position_segment_m": [float(v) for v in s.position_segment_m],
                **s.params,
            }
        return {
            "hipmon_simulation": 1,
            "kind": self.kind,
            "seed": self.seed,
            "seconds": self.seconds,
            "truth_rate_hz": self.truth_rate_hz,
            "gravity_mps2": GRAVITY_MPS2,
            "frames": "global X forward (faced at calibration), Y up, Z right; segment X anterior, Y superior, "
                      "Z right; quaternions [w, x, y, z], q_a_b maps a to b",
            "time_s_in_sensor_csv": "session time: each sample's sensor-clock time mapped back with the true "
                                    "clock map (offset + drift), i.e. the true sample instant",
            "athlete": self.athlete.to_dict(),
            "imu": model_dict(self.imu),
            "sensors": sensors,
            "events": len(self.events),
        }

    def write_dir(self, path: str | os.PathLike) -> Path:
        """Write the session as files a reviewer can plot; returns the directory.

        ``pelvis.csv``, ``left_thigh.csv``, ``right_thigh.csv`` (import format:
        ``time_s,acc_x..,gyr_x..,mag_x..``; SI units, sensor frame; time_s is
        session time), ``truth.csv`` (ANGLES.csv format, truth grid),
        ``events.csv`` (EVENTS.csv columns, then ``initial_contact_s``,
        ``toe_off_s``, ``extra``), ``simulation.json`` (all parameters). Files
        are written to temporaries and renamed, so nothing is half-written.
        """
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}
        header = "time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z,mag_x,mag_y,mag_z"
        for name in PLACEMENTS:
            s = self.sensors[name]
            time_s = s.session_time_from_sensor_time(s.time_sensor_s)
            cols = np.column_stack([time_s, s.acc_sensor, s.gyr_sensor, s.mag_sensor])
            files[f"{name}.csv"] = _csv(header, cols, ["%.6f"] + ["%.5f"] * 3 + ["%.6f"] * 3 + ["%.3f"] * 3)
        cols = np.column_stack([self.truth_time_s, self.truth_angles_deg])
        files["truth.csv"] = _csv("time_s," + ",".join(ANGLE_COLUMNS), cols, ["%.4f"] + ["%.4f"] * 9)
        files["events.csv"] = events_csv_text(self.events, extras=True, sort=False)
        files["simulation.json"] = json.dumps(self.parameters(), indent=2, sort_keys=True) + "\n"
        for fname, text in files.items():
            tmp = out / (fname + ".tmp")
            tmp.write_text(text, encoding="utf-8", newline="\n")
            os.replace(tmp, out / fname)
        return out


_NEGATIVE_ZERO = re.compile(r"(?<![\d.])-(0\.0+)(?=[,\n])")


def _csv(header: str, cols: np.ndarray, fmts: list[str]) -> str:
    """CSV text with fixed formats (deterministic bytes); "-0.000" is written as "0.000"."""
    fmt = ",".join(fmts)
    body = "\n".join(fmt % tuple(row) for row in cols.tolist())
    text = header + "\n" + body + ("\n" if body else "")
    return _NEGATIVE_ZERO.sub(r"\1", text)


def _split_options(options: dict) -> tuple[dict, dict, dict]:
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise ValueError(f"unknown simulate option(s) {', '.join(unknown)}; valid: {', '.join(OPTION_NAMES)}")
    preset = options.get("preset")
    merged: dict = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
        merged.update(PRESETS[preset])
    merged.update({k: v for k, v in options.items() if k != "preset"})
    ath = {k: v for k, v in merged.items() if k in ATHLETE_FIELDS}
    imu = {k: v for k, v in merged.items() if k in IMU_FIELDS}
    rest = {k: v for k, v in merged.items() if k not in ATHLETE_FIELDS and k not in IMU_FIELDS}
    return ath, imu, rest


def check_options(**options) -> None:
    """Check ``simulate`` options without simulating: raises the ``ValueError`` that
    :func:`simulate` would raise for an unknown option or preset or an invalid athlete
    value (``hipmon record --emulate --sim KEY=VALUE`` checks before starting sensors)."""
    ath_opts, imu_opts, _ = _split_options(dict(options))
    if "sides" in ath_opts and isinstance(ath_opts["sides"], str):
        ath_opts["sides"] = tuple(s.strip() for s in ath_opts["sides"].split(","))
    import dataclasses

    for cls, opts in ((Athlete, ath_opts), (ImuModel, imu_opts)):
        types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
        for key, value in opts.items():
            numeric = types.get(key, "").split(" |")[0] in ("float", "int")
            if numeric and value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{key} must be a number, not {value!r}")
            if types.get(key, "").startswith("bool") and not isinstance(value, (bool, int)):
                raise ValueError(f"{key} must be on or off, not {value!r}")
    try:
        Athlete(**ath_opts).validate()
        ImuModel(**imu_opts)
    except TypeError as exc:  # e.g. a word where a number belongs
        raise ValueError(f"invalid simulate option value: {exc}") from None


def _event_peaks(motion: Motion, windows) -> list[Event]:
    """Events with peaks measured from the true angles at 500 Hz inside each window (one batch)."""
    from hipmon import kinematics as kin

    if not windows:
        return []
    grids = [np.linspace(w.start_s, w.end_s, max(int((w.end_s - w.start_s) * 500), 2) + 1) for w in windows]
    t_all = np.concatenate(grids)
    q, _ = motion.pose(t_all)
    ang_all = kin.all_angles_deg(q["pelvis"], q["left_thigh"], q["right_thigh"])
    col = {c: i for i, c in enumerate(ANGLE_COLUMNS)}
    events = []
    start = 0
    for w, t in zip(windows, grids):
        ang = ang_all[start : start + len(t)]
        start += len(t)
        drop = kin.contralateral_pelvic_drop_deg(ang[:, col[PELVIC_DROP.trace]], w.side)
        add = ang[:, col[HIP_ADDUCTION.trace_of(w.side)]]
        ir = ang[:, col[HIP_INTERNAL_ROTATION.trace_of(w.side)]]
        extra = dict(w.extra)
        extra["peak_time_s"] = float(t[np.argmax(add)])
        peaks = {PELVIC_DROP.name: float(drop.max()), HIP_ADDUCTION.name: float(add.max()),
                 HIP_INTERNAL_ROTATION.name: float(ir.max())}
        events.append(Event(kind=w.kind, side=w.side, start_s=w.start_s, end_s=w.end_s, extra=extra, **peaks))
    return events


def simulate(kind: str, seconds: float, seed: int = 0, **options) -> Simulation:
    """Simulate ``kind`` for ``seconds`` s with random ``seed``; see the module docstring for options.

    Raises ``ValueError`` for an unknown kind or option, or a session too short
    for its calibration and task.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    seconds = float(seconds)
    if not seconds > 0:
        raise ValueError("seconds must be positive")
    seed = int(seed)
    ath_opts, imu_opts, rest = _split_options(options)
    if "sides" in ath_opts and isinstance(ath_opts["sides"], str):
        ath_opts["sides"] = tuple(s.strip() for s in ath_opts["sides"].split(","))
    ath = Athlete(**ath_opts)
    ath.validate()
    if rest.get("ideal"):
        for name in IDEAL_OFF:
            imu_opts.setdefault(name, False)
        imu_opts.setdefault("noise", 0.0)
    imu = ImuModel(**imu_opts)
    truth_rate = float(rest.get("truth_rate_hz", 200.0))

    motion = build_motion(kind, seconds, ath, lambda name: seeded_rng(seed, "motion", name))
    n = int(np.floor(seconds * truth_rate - 1e-9)) + 1
    t_truth = np.arange(n) / truth_rate
    q_truth, pos_truth = motion.pose(t_truth)
    from hipmon import kinematics as kin

    angles = kin.all_angles_deg(q_truth["pelvis"], q_truth["left_thigh"], q_truth["right_thigh"])
    events = _event_peaks(motion, motion.event_windows())

    sensors = {}
    for placement in PLACEMENTS:
        if isinstance(imu.mounting, dict):
            q_ss = np.asarray(imu.mounting[placement], float)
            q_ss = q_ss / np.linalg.norm(q_ss)
        elif imu.mounting == "aligned":
            q_ss = np.array([1.0, 0.0, 0.0, 0.0])
        elif imu.mounting == "random":
            q_ss = random_rotation(seeded_rng(seed, placement, "mounting"))
        elif imu.mounting == "default":
            q_ss = default_mounting(placement)
        else:
            raise ValueError(f"mounting must be default, aligned, random or a dict, not {imu.mounting!r}")
        r = DEFAULT_LEVER_ARM_M[placement] if imu.lever_arm else np.zeros(3)
        t_s, timing = sample_times(placement, seconds, imu, seed)
        tissue = SoftTissue(placement, motion, imu, seed) if imu.soft_tissue else None
        sensors[placement] = synthesize(placement, t_s, motion.pose, imu, seed, q_ss, r, timing, tissue)

    return Simulation(kind=kind, seed=seed, seconds=seconds, truth_rate_hz=truth_rate, truth_time_s=t_truth,
                      truth_angles_deg=angles, q_segment_global=q_truth, pos_segment_global=pos_truth,
                      events=events, sensors=sensors, athlete=ath, imu=imu, motion=motion)
