"""Orientation fusion: one interface over VQF and the ``ahrs`` filters.

``make_filter(name, rate_hz, **params) -> OrientationFilter``; then
``filt.update(acc_sensor, gyr_sensor, mag_sensor=None) -> q_sensor_earth`` (N, 4),
scalar first, mapping sensor vectors to the earth frame (z up; ENU with magnetic
north for 9D, arbitrary heading for 6D). Units: acc m/s², gyr rad/s, mag µT.
Filters are causal and chunkable; ``reset()``, ``name``, ``rate_hz``, ``state()``
and ``flags`` (per-sample health of the last call) complete the interface.

Names: ``vqf`` (default, 6D), ``madgwick``, ``mahony``, ``ekf``; the
magnetometer-aided variants are ``<name>9d`` or ``<name>`` with ``use_mag=True``.
``OFFERED_FILTERS`` are the ones hipmon runs (each within 1.5x VQF's error on a
simulated run and a real walk); ``REFUSED`` maps the others (the ahrs 9D
variants) to the one-line reason ``make_filter`` raises (docs/fusion.md).
Heading stays magnetometer-free by default (indoor fields near floors and
treadmills are unreliable); 9D is opt-in.

Why VQF is the default: on the 22 BROAD trials it has the lowest 6D inclination
error of the filters measured here and is the fastest by two orders of
magnitude (compiled batch update); see ``docs/accuracy.md`` ("Orientation
filters on BROAD") and ``docs/benchmarks.md`` ("Fusion speed").
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from hipmon.fusion.ahrs_filters import EkfFilter, MadgwickFilter, MahonyFilter
from hipmon.fusion.base import FusionInputError, OrientationFilter, initial_orientation
from hipmon.fusion.vqf_filter import VQF_DEFAULTS, VqfFilter

DEFAULT_FILTER = "vqf"


_FAMILIES: dict[str, type[OrientationFilter]] = {
    "vqf": VqfFilter,
    "madgwick": MadgwickFilter,
    "mahony": MahonyFilter,
    "ekf": EkfFilter,
}

#: Every name ``make_filter`` knows: the 6D families and their ``9d`` variants.
FILTER_NAMES: tuple[str, ...] = tuple(_FAMILIES) + tuple(f + "9d" for f in _FAMILIES)

_NO_MAG_REJECTION = ("no magnetic-disturbance rejection: with the simulator's floor and iron disturbances its heading "
                     "(pelvis rotation) error is 1.6-2.1x vqf9d's (docs/fusion.md); use vqf for magnetometer-aided heading")
#: Names hipmon refuses to run, each with its one-line reason (measured: docs/fusion.md).
REFUSED: dict[str, str] = {"madgwick9d": _NO_MAG_REJECTION, "mahony9d": _NO_MAG_REJECTION, "ekf9d": _NO_MAG_REJECTION}
#: Names hipmon offers: each within 1.5x the default's error (docs/fusion.md, benchmarks/bench_filters.py).
OFFERED_FILTERS: tuple[str, ...] = tuple(n for n in FILTER_NAMES if n not in REFUSED)


def filter_parameters(family: str) -> frozenset[str]:
    """The parameter names a filter family takes (``"vqf"``: VQF's own; others: their adapter's keywords)."""
    if family == "vqf":
        return frozenset(VQF_DEFAULTS)
    sig = inspect.signature(_FAMILIES[family].__init__)
    return frozenset(k for k in sig.parameters if k not in ("self", "rate_hz", "use_mag"))


def split_params(family: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(``params`` the family takes, ``params`` that belong to another family only).

    Raises ``TypeError`` naming every parameter that no hipmon filter takes (a typo
    must not be silently ignored).
    """
    own = filter_parameters(family)
    known = set().union(*(filter_parameters(f) for f in _FAMILIES))
    unknown = sorted(k for k in params if k not in known)
    if unknown:
        raise TypeError(f"unknown parameter(s) {unknown} for filter {family!r}; it takes {sorted(own)}")
    taken = {k: v for k, v in params.items() if k in own}
    return taken, {k: v for k, v in params.items() if k not in own}


def make_filter(name: str = DEFAULT_FILTER, rate_hz: float = 100.0, *, allow_refused: bool = False,
                **params: Any) -> OrientationFilter:
    """Build a filter by name for a constant sampling rate ``rate_hz`` (Hz).

    ``name``: one of ``FILTER_NAMES`` (case-insensitive). ``use_mag=True`` turns a
    6D name into its 9D variant. Other keyword arguments are filter parameters (see
    each adapter). One settings dict serves every filter: a parameter that belongs
    only to *another* family (e.g. VQF's ``biasClip`` given to ``madgwick``, as the
    pipeline's defaults do) is left out and listed in the filter's
    ``ignored_params``; a name no filter takes raises ``TypeError`` naming it.
    Refused filters (``REFUSED``) raise ``ValueError`` with the reason, unless
    ``allow_refused`` (adapter tests and benchmarks only; hipmon never sets it).
    """
    key = name.lower().strip()
    use_mag = bool(params.pop("use_mag", False))
    if key.endswith("9d"):
        key, use_mag = key[:-2], True
    elif key.endswith("6d"):
        key = key[:-2]
    if key not in _FAMILIES:
        raise ValueError(f"unknown filter {name!r}; choose from {', '.join(FILTER_NAMES)}")
    full = key + ("9d" if use_mag else "")
    if full in REFUSED and not allow_refused:
        raise ValueError(f"filter {full!r} is refused: {REFUSED[full]}")
    taken, ignored = split_params(key, params)
    filt = _FAMILIES[key](rate_hz, use_mag=use_mag, **taken)
    filt.ignored_params = ignored
    return filt


def estimate_orientation(
    acc: np.ndarray,
    gyr: np.ndarray,
    rate_hz: float,
    mag: np.ndarray | None = None,
    method: str = DEFAULT_FILTER,
    **params: Any,
) -> np.ndarray:
    """One-shot ``q_sensor_earth`` (N, 4) for a whole recording.

    ``acc`` (N, 3) m/s², ``gyr`` (N, 3) rad/s, ``mag`` (N, 3) µT or None. The
    magnetometer is used only if ``method`` is a 9D name or ``use_mag=True``.
    """
    return make_filter(method, rate_hz, **params).update(acc, gyr, mag)


__all__ = [
    "DEFAULT_FILTER",
    "FILTER_NAMES",
    "EkfFilter",
    "FusionInputError",
    "MadgwickFilter",
    "MahonyFilter",
    "OFFERED_FILTERS",
    "OrientationFilter",
    "REFUSED",
    "VqfFilter",
    "estimate_orientation",
    "filter_parameters",
    "initial_orientation",
    "make_filter",
    "split_params",
]
