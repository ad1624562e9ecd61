"""Orientation-error metrics of the BROAD benchmark, and a BROAD trial loader.

Method (Laidig, Caruso, Cereatti, Seel, "BROAD — A Benchmark for Robust Inertial
Orientation Estimation", Data 6(7):72, 2021): the error quaternion in the earth
(global) frame ``q_err = q_est ⊗ q_true⁻¹`` gives

- total error ``2·acos(|w|)``,
- heading error ``2·atan(|z / w|)`` (rotation about the vertical),
- inclination error ``2·acos(sqrt(w² + z²))`` (what is left: tilt),

each RMSE over the ``movement`` samples of a trial, then averaged over trials.
Inclination is invariant to a heading offset of the estimate (left-multiplying
by a rotation about earth z), so it is the only meaningful score of a 6D filter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hipmon import rotations


def error_angles_rad(q_est: np.ndarray, q_true: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample total/heading/inclination errors (rad), each (N,), NaN where truth is NaN.

    ``q_est`` and ``q_true`` (N, 4) are ``q_sensor_earth`` in the same earth frame.
    """
    q_est = rotations.normalize(q_est)
    q_true = rotations.normalize(q_true)
    e = rotations.multiply(q_est, rotations.conjugate(q_true))
    w = np.abs(e[:, 0])
    z = np.abs(e[:, 3])
    with np.errstate(invalid="ignore", divide="ignore"):
        total = 2.0 * np.arccos(np.clip(w, 0.0, 1.0))
        heading = 2.0 * np.arctan2(z, w)  # = 2·atan(|z/w|), defined at w = 0
        incl = 2.0 * np.arccos(np.clip(np.sqrt(w * w + z * z), 0.0, 1.0))
    return {"total": total, "heading": heading, "inclination": incl}


def rmse_deg(err_rad: np.ndarray, mask: np.ndarray | None = None) -> float:
    """RMSE in degrees over ``mask`` (bool (N,)), ignoring NaN samples."""
    e = np.asarray(err_rad, dtype=float)
    if mask is not None:
        e = e[np.asarray(mask, dtype=bool)]
    e = e[np.isfinite(e)]
    if e.size == 0:
        return float("nan")
    return float(np.degrees(np.sqrt(np.mean(e * e))))


def align_heading(q_est: np.ndarray, q_true: np.ndarray, index: int) -> np.ndarray:
    """``q_est`` (N, 4) rotated about earth z so its heading error at ``index`` is zero.

    For showing a 6D filter's heading drift against the truth; the scoring
    sample should be the first one with finite truth that is scored.
    """
    e = rotations.multiply(q_est[index], rotations.conjugate(q_true[index]))
    yaw = 2.0 * np.arctan2(e[3], e[0])
    return rotations.multiply(rotations.from_axis_angle([0.0, 0.0, 1.0], -yaw), q_est)


@dataclass
class BroadTrial:
    """One BROAD trial: sensor-frame IMU data and the optical truth (ENU, magnetic north).

    ``acc`` (N, 3) m/s², ``gyr`` (N, 3) rad/s, ``mag`` (N, 3) µT, ``quat`` (N, 4)
    ``q_sensor_enu`` (NaN where the markers were lost), ``movement`` (N,) bool.
    """

    name: str
    rate_hz: float
    acc: np.ndarray
    gyr: np.ndarray
    mag: np.ndarray
    quat: np.ndarray
    movement: np.ndarray
    groups: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.acc.shape[0])

    def span(self, start_s: float, stop_s: float) -> "BroadTrial":
        """The samples in [start_s, stop_s) of the trial (seconds from its start)."""
        a, b = int(round(start_s * self.rate_hz)), int(round(stop_s * self.rate_hz))
        return BroadTrial(self.name, self.rate_hz, self.acc[a:b], self.gyr[a:b], self.mag[a:b],
                          self.quat[a:b], self.movement[a:b], list(self.groups))


def load_broad_trial(path: str | Path) -> BroadTrial:
    """Read one BROAD ``.hdf5`` file (needs ``h5py``); groups from ``trials.json`` beside it."""
    import h5py  # test/benchmark dependency only

    path = Path(path)
    with h5py.File(path, "r") as f:
        rate = float(f.attrs["sampling_rate"])
        arrays = {k: np.array(f[k]) for k in ("imu_acc", "imu_gyr", "imu_mag", "opt_quat", "movement")}
    groups: list[str] = []
    meta = path.parent / "trials.json"
    if meta.exists():
        groups = json.loads(meta.read_text())["trials"].get(path.stem, {}).get("groups", [])
    return BroadTrial(path.stem, rate, arrays["imu_acc"], arrays["imu_gyr"], arrays["imu_mag"],
                      arrays["opt_quat"], arrays["movement"].astype(bool), groups)


def evaluate(q_est: np.ndarray, trial: BroadTrial, heading_free: bool = False) -> dict[str, float]:
    """RMSE (degrees) of ``q_est`` (N, 4) against ``trial`` over its movement samples.

    Returns ``total``, ``heading``, ``inclination``. With ``heading_free`` (6D
    filters) the estimate's heading is first aligned to the truth at the first
    scored sample, so ``total``/``heading`` show heading *drift*, not an offset.
    """
    valid = trial.movement & np.all(np.isfinite(trial.quat), axis=1)
    if heading_free and np.any(valid):
        q_est = align_heading(q_est, trial.quat, int(np.flatnonzero(valid)[0]))
    err = error_angles_rad(q_est, trial.quat)
    return {k: rmse_deg(v, valid) for k, v in err.items()}
