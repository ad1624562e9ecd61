"""VQF (Laidig & Seel 2023, ``pip install vqf``) behind the hipmon interface.

Conventions checked against the library (and covered by tests/test_fusion_traps.py):
VQF's quaternions are scalar first and map sensor to earth; its earth frame is
z up, with 9D heading ENU referenced to the magnetic field (``quat9D``), which is
hipmon's earth frame as is. Its 6D output (``quat6D``) has the heading of its
starting state. Inputs: gyr rad/s, acc m/s², mag any unit. The compiled
``updateBatch`` wants C-contiguous float64 arrays (the base class provides them).

Parameters are VQF's own (``tauAcc`` s, ``tauMag`` s, ``restBiasEstEnabled``,
``motionBiasEstEnabled``, ``magDistRejectionEnabled``, ...); unknown names raise
``TypeError`` here rather than being dropped. ``use_mag=True`` (or the name
``vqf9d``) selects the magnetometer-aided output.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import vqf as _vqf

from hipmon.fusion.base import OrientationFilter

#: VQF's parameter names and defaults (vqf 2.1), read from the library itself.
VQF_DEFAULTS: dict[str, Any] = dict(_vqf.VQF(0.01).params)


class VqfFilter(OrientationFilter):
    """VQF with rest and motion gyroscope-bias estimation (both on by default).

    ``state()`` returns ``rest_detected`` (bool), ``bias_rad_s`` (3,) the gyroscope
    bias estimate in the sensor frame, ``bias_sigma_rad_s`` its uncertainty, and
    for 9D ``mag_disturbed`` (bool), ``mag_ref_norm_uT``, ``mag_ref_dip_deg``.
    ``flags`` after ``update``: ``rest`` (N,), ``bias_rad_s`` (N, 3), and for 9D
    ``mag_disturbed`` (N,), ``delta_rad`` (N,) (heading offset 9D minus 6D).
    """

    family = "vqf"
    _owns_output = True  # updateBatch's arrays are new on every call

    def __init__(self, rate_hz: float, use_mag: bool = False, **params: Any) -> None:
        super().__init__(rate_hz, use_mag)
        unknown = sorted(set(params) - set(VQF_DEFAULTS))
        if unknown:
            raise TypeError(f"unknown VQF parameter(s) {unknown}; known: {sorted(VQF_DEFAULTS)}")
        self.params = {**VQF_DEFAULTS, **params}
        self._user_params = dict(params)
        self.reset()

    def reset(self) -> None:
        self._vqf = _vqf.VQF(self.dt_s, **self._user_params)
        # Check that the library took every setting (it must not silently drop one).
        taken = self._vqf.params
        for key, value in self._user_params.items():
            if taken[key] != value:
                raise ValueError(f"VQF did not take {key}={value!r} (has {taken[key]!r})")
        self.flags = {}

    def _update(self, acc: np.ndarray, gyr: np.ndarray, mag: np.ndarray | None) -> np.ndarray:
        if mag is None:
            out = self._vqf.updateBatch(gyr, acc)
            q = out["quat6D"]
            self.flags = {"rest": out["restDetected"].astype(bool), "bias_rad_s": out["bias"]}
        else:
            out = self._vqf.updateBatch(gyr, acc, mag)
            q = out["quat9D"]
            self.flags = {
                "rest": out["restDetected"].astype(bool),
                "bias_rad_s": out["bias"],
                "mag_disturbed": out["magDistDetected"].astype(bool),
                "delta_rad": out["delta"],
            }
        return np.require(q, dtype=np.float64, requirements="C")  # (VQF's own: already so, not copied)

    def state(self) -> dict[str, Any]:
        bias, sigma = self._vqf.getBiasEstimate()
        s: dict[str, Any] = {
            "rest_detected": bool(self._vqf.getRestDetected()),
            "bias_rad_s": np.array(bias, dtype=float),
            "bias_sigma_rad_s": float(sigma),
        }
        if self.use_mag:
            s["mag_disturbed"] = bool(self._vqf.getMagDistDetected())
            s["mag_ref_norm_uT"] = float(self._vqf.getMagRefNorm())
            s["mag_ref_dip_deg"] = float(np.degrees(self._vqf.getMagRefDip()))
        return s
