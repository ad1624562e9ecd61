"""Helpers of the event-detector tests: frames one after the other, and a detector's events over
random chunkings (as ``repr`` strings, to compare bit for bit)."""

from __future__ import annotations

import numpy as np

from hipmon.types import Frames


def then(a: Frames, b: Frames) -> Frames:
    """``a`` then ``b`` (``b``'s times moved to follow ``a`` at ``a``'s sample interval)."""
    dt = float(np.median(np.diff(a.time_s)))
    tb = b.time_s - b.time_s[0] + a.time_s[-1] + dt
    cat = lambda x, y: {k: np.concatenate([x[k], y[k]]) for k in x}  # noqa: E731
    return Frames(np.concatenate([a.time_s, tb]), np.concatenate([a.angles_deg, b.angles_deg]),
                  cat(a.gyr_segment, b.gyr_segment), cat(a.acc_global, b.acc_global),
                  np.concatenate([a.valid, b.valid]))


def chunked_events(det, fr: Frames, chunk: int | None, seed: int = 0) -> list[str]:
    """``det``'s events (``repr``) for ``fr`` whole (``chunk`` None) or in random chunks of 1..``chunk``
    frames, then ``flush``."""
    out = []
    if chunk is None:
        out += det.update(fr)
    else:
        rng = np.random.default_rng(seed)
        i = 0
        while i < len(fr):
            k = int(rng.integers(1, chunk + 1))
            out += det.update(fr.slice(i, i + k))
            i += k
    return [repr(e) for e in out + det.flush()]


def holes(fr: Frames, seed: int, nan_times: bool = False) -> Frames:
    """Invalid runs and NaN forces sprinkled in (the detectors step over valid samples only); with
    ``nan_times`` three non-finite times too."""
    rng = np.random.default_rng(seed)
    v = fr.valid.copy()
    for s in rng.integers(0, len(v) - 50, 12):
        v[s:s + rng.integers(1, 40)] = False
    acc = {k: a.copy() for k, a in fr.acc_global.items()}
    acc["pelvis"][rng.integers(0, len(v), 15), 1] = np.nan
    t = fr.time_s
    if nan_times:
        t = t.copy()
        t[rng.integers(0, len(v), 3)] = np.nan
    return Frames(t, fr.angles_deg, fr.gyr_segment, acc, v)


def glitches(fr: Frames, seed: int) -> Frames:
    """A few samples whose times repeat or step back (the searches over time see unsorted runs)."""
    rng = np.random.default_rng(seed)
    t = fr.time_s.copy()
    for i in rng.integers(10, len(t) - 10, 6):
        t[i] = t[i - int(rng.integers(1, 4))]
    return Frames(t, fr.angles_deg, fr.gyr_segment, fr.acc_global, fr.valid)
