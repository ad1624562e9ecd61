"""Plausibility of imported IMU data (issue 13): units, clocks, saturation, dead sensors.

Pure functions over ``hipmon.types.ImuBlock`` per placement. Each check has a physical
reason (below); each finding names the file and says what to do. Where the fix is
certain (a unit), ``check_session`` applies it and says so; the caller records it.

- Gravity: a body segment's specific force averages 1 g (9.81 m/s²) over any stretch
  of standing or whole strides, so the median of its norm over a file is near 9.81;
  near 1.0 the file is in g (converted ×9.80665).
- Gyroscope: human segments turn at most a few tens of rad/s (a sprinting thigh
  ~15 rad/s); gait in °/s reads tens to hundreds. A 99th percentile of the rate norm
  above ``GYR_MAX_RAD_S`` means °/s (converted ×π/180).
- Time: IMUs sample at tens to hundreds of Hz, so a median step above 0.5 s cannot be
  seconds; a step of 1–100 is milliseconds (converted ÷1000).
- Clocks: DESIGN section 4 puts all files on one clock; the sensors' spans must overlap
  (otherwise nothing is measured together: an error).
- Saturation: a clipped sensor sits at its full-scale value for consecutive samples;
  a real signal's peak is not repeated exactly (noise), so a run of identical values
  at a channel's extreme is clipping.
- A sensor that does not move while the others do is dead, loose on a table or not
  strapped on: its rate stays at noise level (< ``STILL_GYR_RAD_S``) while another
  sensor's exceeds ``MOVING_GYR_RAD_S``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from hipmon.types import ImuBlock

G_M_S2 = 9.80665
GYR_MAX_RAD_S = 25.0
MOVING_GYR_RAD_S = 1.0
STILL_GYR_RAD_S = 0.05
SATURATION_RUN_SAMPLES = 3
SATURATION_MIN_SAMPLES = 6


@dataclass
class Finding:
    """One plausibility finding: ``placement``, ``path`` (the file), ``kind``
    (``acc_in_g``, ``gyr_in_deg_s``, ``time_in_ms``, ``gravity``, ``no_overlap``,
    ``short_overlap``, ``saturation``, ``not_moving``), ``message`` (says what to do),
    ``converted`` (True when the fix was applied), ``error`` (True when the import
    must stop)."""

    placement: str
    path: str
    kind: str
    message: str
    converted: bool = False
    error: bool = False

    def line(self) -> str:
        return f"{self.path}: {self.message}"


#: rest, for the gravity check: angular rate under this (rad/s, or the file's units when they are
#: deg/s: then less of the file counts as rest, never more) for at least REST_MIN_S
REST_GYR = 0.3
REST_MIN_S = 0.5


def median_gravity_m_s2(acc_sensor: np.ndarray, gyr_sensor: np.ndarray | None = None,
                        rate_hz: float | None = None) -> tuple[float, bool]:
    """(median specific-force norm in the file's units, measured at rest?).

    At rest the norm is gravity's whatever the units; in motion it is not (a running thigh's
    median is 14-15 m/s²). With ``gyr_sensor`` (N, 3) and ``rate_hz``, the samples turning at
    under ``REST_GYR`` are used when they add up to ``REST_MIN_S``; else the whole file."""
    norm = np.linalg.norm(acc_sensor, axis=1)
    if gyr_sensor is not None and rate_hz:
        rest = np.linalg.norm(gyr_sensor, axis=1) < REST_GYR
        if np.count_nonzero(rest) >= REST_MIN_S * rate_hz:
            return float(np.median(norm[rest])), True
    return float(np.median(norm)), False


def gyr_p99_norm(gyr_sensor: np.ndarray) -> float:
    """99th percentile of the angular-rate norm (in the file's units)."""
    return float(np.percentile(np.linalg.norm(gyr_sensor, axis=1), 99))


def median_time_step(time_s: np.ndarray) -> float:
    """Median time step (in the file's units)."""
    return float(np.median(np.diff(time_s)))


def saturated_samples(values: np.ndarray) -> int:
    """Samples (of one channel (N,)) inside runs of >= ``SATURATION_RUN_SAMPLES`` identical values at its extreme."""
    v = np.asarray(values, float)
    if v.size < SATURATION_RUN_SAMPLES:
        return 0
    total = 0
    for extreme in (v.max(), v.min()):
        at = np.concatenate([[0], (v == extreme).astype(np.int8), [0]])
        d = np.diff(at)
        runs = np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
        total += int(runs[runs >= SATURATION_RUN_SAMPLES].sum())
    return total


def check_block(placement: str, path: str, block: ImuBlock) -> tuple[ImuBlock, list[Finding]]:
    """Units of one file: (the block with certain unit fixes applied, findings)."""
    out: list[Finding] = []
    t, acc, gyr = block.time_sensor_s, block.acc_sensor, block.gyr_sensor
    dt = median_time_step(t)
    if dt > 0.5:
        if 1.0 <= dt <= 100.0:
            t = t / 1000.0
            out.append(Finding(placement, path, "time_in_ms",
                               f"time_s steps by {dt:g} (median): milliseconds, not seconds; converted to s "
                               f"({1000.0 / dt:.0f} Hz); write time_s in seconds to silence this", converted=True))
        else:
            out.append(Finding(placement, path, "time_units",
                               f"time_s steps by {dt:g} (median): not seconds of an IMU (tens to hundreds of Hz); "
                               "write time_s in seconds", error=True))
    dt_s = median_time_step(t)  # after a unit fix
    g, at_rest = median_gravity_m_s2(acc, gyr, 1.0 / dt_s if 0 < dt_s <= 0.5 else None)
    if 0.6 <= g <= 1.5:
        acc = acc * G_M_S2
        out.append(Finding(placement, path, "acc_in_g",
                           f"acceleration's median norm is {g:.2f}, gravity is 9.81 m/s²: g units; converted "
                           f"(×{G_M_S2}); write acc in m/s² to silence this", converted=True))
    elif not 6.5 <= g <= (14.0 if at_rest else 25.0):  # in motion the median norm exceeds g
        out.append(Finding(placement, path, "gravity",
                           f"acceleration's median norm{' at rest' if at_rest else ''} is {g:.3g}, gravity is "
                           "9.81 m/s²: check the acc units and the sensor's calibration"))
    w = gyr_p99_norm(gyr)
    if w > GYR_MAX_RAD_S:
        gyr = gyr * (np.pi / 180.0)
        out.append(Finding(placement, path, "gyr_in_deg_s",
                           f"angular rate reaches {w:.0f} (99th percentile): deg/s, not rad/s (a body segment turns "
                           "at most a few tens of rad/s); converted (×π/180); write gyr in rad/s to silence this",
                           converted=True))
    for name, arr, floor in (("acc", acc, 2.0 * G_M_S2), ("gyr", gyr, 2.0)):
        for k, axis in enumerate("xyz"):
            ch = arr[:, k]
            if max(abs(ch.max()), abs(ch.min())) < floor:
                continue  # a gentle signal's maximum is no full scale
            n_sat = saturated_samples(ch)
            if n_sat >= SATURATION_MIN_SAMPLES:
                out.append(Finding(placement, path, "saturation",
                                   f"{name}_{axis} is clipped: {n_sat} samples stuck at its extreme "
                                   f"({ch.max():.3g} / {ch.min():.3g}); use a larger measuring range; peaks in "
                                   "this file are cut"))
    fixed = replace(block, time_sensor_s=t, acc_sensor=acc, gyr_sensor=gyr)
    return fixed, out


def check_session(blocks: Mapping[str, ImuBlock], paths: Mapping[str, str]) -> tuple[dict[str, ImuBlock], list[Finding]]:
    """All checks over one session's files: (blocks with unit fixes applied, findings).

    A finding with ``error`` set means the session cannot be imported as it is.
    """
    fixed: dict[str, ImuBlock] = {}
    findings: list[Finding] = []
    for p, b in blocks.items():
        fixed[p], f = check_block(p, paths[p], b)
        findings.extend(f)
    if any(f.error for f in findings):
        return fixed, findings
    if len(fixed) > 1:
        spans = {p: (float(b.time_sensor_s[0]), float(b.time_sensor_s[-1])) for p, b in fixed.items()}
        t0 = max(s[0] for s in spans.values())
        t1 = min(s[1] for s in spans.values())
        if t1 <= t0:
            late = max(spans, key=lambda p: spans[p][0])
            early = min(spans, key=lambda p: spans[p][1])
            findings.append(Finding(late, paths[late], "no_overlap",
                                    f"its time_s starts at {spans[late][0]:g} s, after {paths[early]} ends "
                                    f"({spans[early][1]:g} s): the files must share one clock (DESIGN section 4); "
                                    "give time_s on a common clock", error=True))
            return fixed, findings
        shortest = min(s[1] - s[0] for s in spans.values())
        if t1 - t0 < 0.5 * shortest:
            findings.append(Finding("pelvis", paths.get("pelvis", next(iter(paths.values()))), "short_overlap",
                                    f"the sensors' clocks overlap only {t1 - t0:.1f} s of {shortest:.1f} s: check "
                                    "that every file's time_s is on the same clock"))
        moving = {p: float(np.percentile(np.linalg.norm(b.gyr_sensor - np.median(b.gyr_sensor, 0), axis=1), 95))
                  for p, b in fixed.items()}
        mover = max(moving, key=moving.get)
        if moving[mover] > MOVING_GYR_RAD_S:
            for p, w in moving.items():
                if w < STILL_GYR_RAD_S:
                    findings.append(Finding(p, paths[p], "not_moving",
                                            f"this sensor does not move ({w:.3f} rad/s, 95th percentile) while the "
                                            f"{mover.replace('_', ' ')} does ({moving[mover]:.1f} rad/s): dead, "
                                            "not strapped on, or the wrong file; check it"))
    return fixed, findings


def sensor_sides(blocks: Mapping[str, ImuBlock], first_s: float = 60.0) -> tuple[str | None, dict[str, str]]:
    """Swapped thigh files and mirrored sensor frames: (the swap's reason in words or None,
    placement -> the mirror's reason).

    Runs the session's offline calibration (fusion + ``hipmon.calibration.calibrate``) on
    its first ``first_s`` seconds and reads its checks (docs/calibration.md, "Swapped and
    mirrored sensors"); for a swap, the exchanged assignment must then calibrate without
    it. Nothing is said when there is no calibration sequence to judge from.
    """
    from hipmon.pipeline import PipelineConfig, _offline_calibration
    from hipmon.types import SensorSpec

    def cal(bl: Mapping[str, ImuBlock]):
        t0 = min(float(b.time_sensor_s[0]) for b in bl.values())
        samples, specs = {}, []
        for p, b in bl.items():
            k = b.time_sensor_s < t0 + first_s
            samples[p] = (b.time_sensor_s[k], b.acc_sensor[k], b.gyr_sensor[k], None)
            rate = float(np.round(1.0 / np.median(np.diff(b.time_sensor_s))))
            specs.append(SensorSpec(p, p, None, rate))
        try:
            return _offline_calibration(samples, specs, PipelineConfig(events=False))
        except Exception:  # no calibration sequence: nothing to judge from
            return None

    c = cal(blocks)
    if c is None:
        return None, {}
    mirrored = {p: r.split(": ", 1)[1] for p in blocks for r in c.reasons
                if r.startswith(f"{p}: the sensor frame is left-handed")}
    if c.metrics.get("thighs_swapped", 0.0) < 1.0:
        return None, mirrored
    exchanged = dict(blocks)
    exchanged["left_thigh"], exchanged["right_thigh"] = blocks["right_thigh"], blocks["left_thigh"]
    c2 = cal(exchanged)
    if c2 is None or c2.metrics.get("thighs_swapped", 1.0) >= 1.0:
        return None, mirrored
    return (f"through the hip joints the pelvis faced backwards from both thighs; calibration quality "
            f"{c.quality:.2f} as given, {c2.quality:.2f} exchanged"), mirrored
