"""The common orientation-filter interface and helpers shared by the adapters.

Every filter maps the sensor's measurements to ``q_sensor_earth`` (N, 4), unit
quaternions, scalar first, that rotate sensor-frame vectors into the **earth**
frame of ``docs/architecture.md``:

- z points up (opposite to gravity) in every mode;
- 6D filters (no magnetometer): x/y heading is arbitrary (it starts where the
  filter starts and drifts slowly with uncorrected gyroscope bias);
- 9D filters: East-North-Up (x east, y north, z up), north being *magnetic* north
  (no declination is applied), the same frame as BROAD's optical truth.

Inputs, time on the first axis: ``acc_sensor`` (N, 3) m/s² specific force
(+9.81 along the sensor axis that points up at rest), ``gyr_sensor`` (N, 3) rad/s,
``mag_sensor`` (N, 3) µT (any consistent unit works: only directions are used),
all in the sensor's own right-handed frame, sampled at the constant ``rate_hz``.

Filters are causal and keep their state between calls: ``update`` on consecutive
chunks returns exactly what one call on the concatenation returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from hipmon import rotations


class FusionInputError(ValueError):
    """Bad input arrays (shape, length mismatch, non-finite values, missing magnetometer)."""


class OrientationFilter(ABC):
    """A causal, chunkable orientation filter (see the module docstring for frames and units).

    Attributes:
        name: registry name (``"vqf"``, ``"madgwick"``, ...), with ``"9d"`` appended
            to the name of the magnetometer-aided variants, e.g. ``"vqf9d"``.
        rate_hz: the constant sampling rate the filter was built for (Hz).
        use_mag: True for a 9D (magnetometer-aided) filter; it then needs ``mag_sensor``.
        params: the effective parameters (after defaults), for reports.
        flags: per-sample health flags of the last ``update`` call (dict of (N,)
            or (N, 3) arrays; keys depend on the filter; empty when it reports none).
        ignored_params: settings given to ``make_filter`` that belong to another filter
            family and were left out (e.g. VQF's ``biasClip`` for ``madgwick``).
    """

    family: str = ""
    #: ``_update`` returns a new C-contiguous float64 array nothing else holds (``update`` may then
    #: write into it)
    _owns_output: bool = False

    def __init__(self, rate_hz: float, use_mag: bool = False) -> None:
        rate_hz = float(rate_hz)
        if not np.isfinite(rate_hz) or rate_hz <= 0:
            raise ValueError(f"rate_hz must be a positive number, got {rate_hz!r}")
        self.rate_hz = rate_hz
        self.use_mag = bool(use_mag)
        self.name = self.family + ("9d" if self.use_mag else "")
        self.params: dict[str, Any] = {}
        self.flags: dict[str, np.ndarray] = {}
        self.ignored_params: dict[str, Any] = {}

    @property
    def dt_s(self) -> float:
        """Sampling period in seconds."""
        return 1.0 / self.rate_hz

    def update(
        self,
        acc_sensor: np.ndarray,
        gyr_sensor: np.ndarray,
        mag_sensor: np.ndarray | None = None,
    ) -> np.ndarray:
        """Feed N new samples; return ``q_sensor_earth`` (N, 4) for each of them.

        ``acc_sensor`` (N, 3) m/s², ``gyr_sensor`` (N, 3) rad/s, ``mag_sensor`` (N, 3) µT
        or None. A 6D filter ignores ``mag_sensor``; a 9D filter requires it.
        Raises ``FusionInputError`` for wrong shapes or non-finite samples.
        """
        acc, gyr, mag = self._check(acc_sensor, gyr_sensor, mag_sensor)
        if acc.shape[0] == 0:
            self.flags = {}
            return np.zeros((0, 4))
        q = self._update(acc, gyr, mag)
        # One sign convention for everyone: w >= 0 (q and -q are the same rotation).
        if self._owns_output:  # a new array of this call's own: flipped in place
            np.negative(q, out=q, where=q[:, :1] < 0)
            return q
        return np.where(q[:, :1] < 0, -q, q)

    def _check(self, acc, gyr, mag):
        acc = np.ascontiguousarray(acc, dtype=float)
        gyr = np.ascontiguousarray(gyr, dtype=float)
        if acc.ndim != 2 or acc.shape[1] != 3 or gyr.shape != acc.shape:
            raise FusionInputError(
                f"acc_sensor and gyr_sensor must both be (N, 3); got {acc.shape} and {gyr.shape}"
            )
        if self.use_mag:
            if mag is None:
                raise FusionInputError(f"filter {self.name!r} is magnetometer-aided and needs mag_sensor")
            mag = np.ascontiguousarray(mag, dtype=float)
            if mag.shape != acc.shape:
                raise FusionInputError(f"mag_sensor must be (N, 3) like acc_sensor; got {mag.shape}")
        else:
            mag = None
        for label, arr in (("acc_sensor", acc), ("gyr_sensor", gyr), ("mag_sensor", mag)):
            if arr is not None and not np.all(np.isfinite(arr)):
                raise FusionInputError(f"{label} contains non-finite values (fill or split gaps first)")
        return acc, gyr, mag

    @abstractmethod
    def _update(self, acc: np.ndarray, gyr: np.ndarray, mag: np.ndarray | None) -> np.ndarray:
        """Filter-specific work on validated, contiguous float arrays; returns (N, 4)."""

    @abstractmethod
    def reset(self) -> None:
        """Forget all state: the next sample starts a new estimate."""

    def state(self) -> dict[str, Any]:
        """Current health/state information (filter-specific keys; see each adapter)."""
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.rate_hz:g} Hz {self.params}>"


def initial_orientation(acc_sensor: np.ndarray, mag_sensor: np.ndarray | None = None) -> np.ndarray:
    """Orientation ``q_sensor_earth`` (4,) from one accelerometer (and magnetometer) sample.

    ``acc_sensor`` (3,) specific force (any unit), ``mag_sensor`` (3,) or None.
    Earth z is up (along the specific force at rest). With a magnetometer the
    earth frame is ENU (y towards the horizontal component of the field, i.e.
    magnetic north); without it, the heading is chosen so that the sensor x axis
    points along earth x as seen from above (sensor y if x is nearly vertical).
    """
    up = np.asarray(acc_sensor, dtype=float)
    n = np.linalg.norm(up)
    if not np.isfinite(n) or n == 0:
        return np.array([1.0, 0.0, 0.0, 0.0])
    up = up / n
    if mag_sensor is not None and np.linalg.norm(np.cross(up, mag_sensor)) > 1e-9:
        m = np.asarray(mag_sensor, dtype=float)
        north = m - np.dot(m, up) * up
        north /= np.linalg.norm(north)
        east = np.cross(north, up)
    else:
        ref = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        east = ref - np.dot(ref, up) * up
        east /= np.linalg.norm(east)
        north = np.cross(up, east)
    # Rows of the sensor->earth matrix are the earth axes expressed in the sensor frame.
    return rotations.from_matrix(np.stack([east, north, up]))
