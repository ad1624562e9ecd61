"""Compiled kernels for the per-sample state machines (numba).

The causal detectors and the clock map decide sample by sample; in Python that loop
dominated ``hipmon analyze`` (issue 16). Their inner loops are written once as plain
loops over arrays and compiled with :func:`njit`: the same IEEE operations in the same
order as the Python they replace, so live (a few samples per call) and replay (thousands)
give the same numbers bit for bit. ``NUMBA_DISABLE_JIT=1`` runs them as Python (debugging).

Compiled code is cached on disk (``cache=True``: next to the module, or numba's user cache
when that is read-only), so only the first run on a machine compiles. numba checks only the
kernel's own file: after changing a helper that kernels of another module inline
(``rotation_kernels.quat_*``, ``heading_kernels.pairwise_sum``), delete ``src/hipmon/__pycache__/*.nb*``.
"""

from __future__ import annotations

from typing import Any, Callable

import numba

__all__ = ["njit", "warm_up"]


def njit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``numba.njit`` with the project's settings: cached, no fastmath (IEEE order kept), nogil."""
    return numba.njit(cache=True, nogil=True, fastmath=False)(fn)


_warm = False


def _kernels() -> list[Any]:
    """Every compiled kernel of hipmon (the module-level numba dispatchers)."""
    from hipmon import (calibration, event_kernels, heading_kernels, hip_joint, interp, kinematics_kernels,
                        pipeline_kernels, rotation_kernels, stream, sync, walk_kernels)
    from hipmon.codecs import movesense

    modules = (sync, event_kernels, interp, movesense, heading_kernels, kinematics_kernels, rotation_kernels,
               walk_kernels, stream, pipeline_kernels, hip_joint, calibration)
    return [f for m in modules for f in vars(m).values() if isinstance(f, numba.core.dispatcher.Dispatcher)]


def _cached(kernel: Any) -> bool:
    """Whether ``kernel`` has an on-disk cache to load (numba's internals: True when unknown)."""
    import os

    try:
        return os.path.exists(kernel._cache._cache_file._index_path)
    except AttributeError:
        return True


def warm_up() -> None:
    """Compile or load every kernel now, once per process, before a session starts (``Pipeline``).

    From the cache this takes ~0.5-1 s. The first run on a machine compiles them (~22 s of CPU,
    holding the GIL): done here, before sensors stream, not when the first notifications arrive
    (a live session would stall), with a line on a terminal's stderr saying why it waits."""
    global _warm
    if _warm:
        return
    import sys

    import numpy as np

    if sys.stderr is not None and sys.stderr.isatty() and not all(_cached(k) for k in _kernels()):
        print("hipmon: compiling its numerical kernels (the first run on this machine only, about 20-30 s) ...",
              file=sys.stderr, flush=True)
    from hipmon import event_kernels as ek
    from hipmon.interp import interp_rows
    from hipmon.rotation_kernels import chain, multiply_by, rotate_by
    from hipmon.codecs import movesense
    from hipmon.sync import ClockSync

    t = np.arange(8) * 0.01
    clock = ClockSync()
    clock.update(t[:4], t[:4] + 0.02)
    clock.to_session(t[:4])
    clock.map_blocks(t, t + 0.03, np.array([0, 4]))
    ek.single_leg_run(ek.single_leg_state(), t, t, t, np.zeros(t.size, bool), np.zeros(11), np.empty((t.size, 7)))
    ek.contact_run(ek.contact_state(), np.zeros((t.size, 12)), 0, 0, np.zeros(14), np.zeros(t.size, bool),
                   np.empty((2 * t.size, ek.CO_SIZE)))
    ek.window_peaks(t, np.zeros((t.size, 4)), np.array([0]), np.array([t.size]), np.empty((1, 4)), np.empty((1, 4)))
    ek.event_window_peaks(t, np.zeros((t.size, 9)), np.zeros((2, 3), np.int64), np.ones(2), np.ones(t.size, bool),
                          t[:1], t[1:2], np.zeros(1, np.int64), False, np.empty((1, 8)), np.empty((1, 8)),
                          np.empty((1, 2), np.int64), np.empty((1, 12)))
    z3 = np.zeros((t.size, 3))
    ek.detector_rows(t, np.zeros((t.size, 9)), np.zeros(2, np.int64), np.ones(t.size, bool), z3, z3, z3, z3, z3, z3,
                     np.ones(4, bool), 9.81, 2.943, np.empty((t.size, 12)), np.empty(t.size, bool))
    _warm_walk(np)
    interp_rows(t, t, np.zeros((t.size, 3)))
    from hipmon.interp import on_grid_as_delivered

    on_grid_as_delivered(t, t, np.zeros((t.size, 3)), np.zeros((t.size, 3)), None, np.full(t.size, t.size), 1.0, 0.015)
    from hipmon.pipeline_kernels import grid_advances

    grid_advances(np.zeros(t.size, np.int64), np.ones(t.size, np.int64), t, -np.inf, 0.1, np.zeros(1, np.int64),
                  np.zeros(1), np.empty((t.size, 1), np.int64), np.empty((t.size, 1)))
    rotate_by(np.array([1.0, 0.0, 0.0, 0.0]), np.zeros((t.size, 3)))
    multiply_by(np.zeros((t.size, 4)), np.array([1.0, 0.0, 0.0, 0.0]))
    chain(np.array([1.0, 0.0, 0.0, 0.0]), np.zeros((t.size, 4)))  # a calibration's strapdown and hip-joint fit
    from hipmon.hip_joint import _fill_design

    _fill_design(np.zeros((1, 3, 3)), np.zeros((1, 3, 3)), np.eye(3), np.empty((3, 6)))
    from hipmon.calibration import _tracking_rms_rad

    _tracking_rms_rad(np.ones((2, 3)), np.zeros((2, 3)), 0.01, 0.01)
    movesense._gsp_values(np.zeros((1, 24), np.uint8), 2, 1, np.ones(2), np.empty((1, 1, 2, 3)), np.empty(1, bool))
    z = np.zeros(1, np.int64)
    movesense._gsp_run(np.frombuffer(bytes(8), np.uint8), z, z, z, 0, 99, 155, 28, np.ones(2), 1.0, 1.0,
                       np.zeros(4, np.int64), np.empty(1), np.empty((1, 3)), np.empty((1, 3)), np.empty((0, 3)),
                       z, np.zeros(1, np.int64), 0)
    from hipmon.stream import _arrivals_and_gaps

    _arrivals_and_gaps(np.zeros(t.size, np.int64), 0, t, 0.01, np.empty(t.size), np.empty(t.size, np.int64),
                       np.empty(t.size, np.int64))
    _warm_heading(np)
    _warm = True


def _warm_heading(np: Any) -> None:
    """hipmon.heading_kernels: a still, upright stream (a rest reset included), each kernel the
    tracker calls from inside the others or only in gait, and the kinematics' passes."""
    from hipmon import heading_kernels as hk
    from hipmon.heading import HeadingTracker

    q = {p: np.tile([1.0, 0.0, 0.0, 0.0], (16, 1)) for p in ("pelvis", "left_thigh", "right_thigh")}
    HeadingTracker(rate_hz=8.0).apply(q, {p: np.zeros((16, 3)) for p in q}, 0)
    x = np.zeros((5, 4))
    hk.pairwise_sum(x[0], 4)
    hk.pairwise_sum_complex(x[0], x[1], 4)
    hk.sum_min_max(x[0], 4)
    hk.wrapped_yaw_terms(x[0], 0.0, x[1], x[2])
    hk._block_end(4, np.zeros(hk.N_F), np.zeros(hk.N_I, np.int64), np.ones(hk.N_C), x, np.zeros((2, hk.N_R)))
    from hipmon import kinematics as kin

    q1, v = q["pelvis"][:4], {p: np.ones(4, bool) for p in q}
    kin.segment_frames(q1, q1[0], q1[0], x[:4, :3])
    kin.acc_global(q1, q1[0], x[:4, :3])
    kin.angles_deg(q1, {"left_thigh": q1}, v)
    from hipmon.kinematics_kernels import _clip1

    _clip1(0.0)


def _warm_walk(np: Any) -> None:
    """hipmon.walk_kernels: a few steps of a walk (peaks, sides from the pelvis rates, stances
    confirmed), so that the helpers compiled into ``walk_run`` are loaded too."""
    from hipmon import walk_kernels as wk

    n = 400
    x = np.full((n, 12), np.nan)
    x[:, 0] = np.arange(n) * 0.01
    x[:, 7] = x[:, 8] = np.sin(np.arange(n) * 0.3)
    x[:, 1] = 9.81 + 3.0 * np.sin(2 * np.pi * x[:, 0] / 0.5)  # a step every 0.5 s
    out = np.empty((n, 6))
    params = np.array([1.0, 0.25, 1.0, 0.12, 0.15, 0.12, 0.03, 2.0, 0.2, 1.0, 1.5])
    wk.walk_run(wk.walk_state(), np.zeros(30), x, 0, 0, 4, 15, np.zeros(n, bool), params, out, 0)
