"""Clock sync: sensor time -> session time, gap detection, common-grid resampling.

DESIGN.md section 3: every sample gets a session timestamp (seconds, one clock for
all sensors of a session) from the sensor's *own* time (timestamps, or counters
at the nominal rate) mapped onto the host clock, never from arrival time alone.

The map is a line ``t_session = a + b·(t_sensor - x0)`` per sensor and per
connection. Arrival delays over BLE are one-sided (a notification never arrives
before its last sample was taken), so the line is fitted to the *lower envelope*
of the ``(t_sensor, t_arrival)`` pairs (cf. Moon, Skelly & Towsley 1999): points
are reduced to one per ``bin_s`` of sensor time (its lowest) over a sliding
``window_s``; the slope is the line through the lowest point of the window's
first third and the lowest point of its last third; the offset puts the line
under every point, touching the envelope.

The mapped time is therefore "sample time + the smallest delay seen", a
constant per-sensor latency that sync cannot observe (see ``docs/sync.md``).

Units: seconds everywhere (sensor and session clocks), ``rate_hz`` in Hz.
Arrays: time on the first axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from hipmon.jit import njit
from hipmon.types import Gap

#: Recommended warm-up after each (re)connect before session times are issued (s).
WARMUP_S: float = 5.0

__all__ = [
    "WARMUP_S",
    "ClockMap",
    "ClockSync",
    "map_to_session",
    "detect_gaps",
    "resample",
]


@dataclass(frozen=True)
class ClockMap:
    """``t_session = offset_s + slope · (t_sensor - x0_s)`` (all in seconds)."""

    x0_s: float
    offset_s: float
    slope: float

    @property
    def drift_ppm(self) -> float:
        """Sensor clock rate error in ppm (positive: the sensor clock runs slow)."""
        return (self.slope - 1.0) * 1e6

    def __call__(self, time_sensor_s: np.ndarray | float) -> np.ndarray:
        x = np.asarray(time_sensor_s, dtype=np.float64)
        return self.offset_s + self.slope * (x - self.x0_s)


# ---------------------------------------------------------------- compiled clock map (issue 16)
# The state machine of one ClockSync lives in small arrays so that one compiled kernel serves
# the live path (``update`` + ``to_session``, a notification at a time) and the replay
# (``map_blocks``, thousands): the same IEEE operations in the same order as the numpy code it
# replaced, so both give the same numbers bit for bit.

# float64 state ``fs``
_F_X0 = 0  # sensor time (s) the bins and the map are relative to
_F_OPEN_X = 1  # open bin's lowest point: sensor time relative to x0 (s) ...
_F_OPEN_Y = 2  # ... and its arrival (session s)
_F_LAST_X = 3  # newest sensor time seen (s); -inf after a reset
_F_OFFSET = 4  # map offset (session s at x0)
_F_SLOPE = 5  # map slope (session s per sensor s)
_F_PRIOR = 6  # prior slope (1, or the last map's slope kept across a reset)
_N_F = 7
# int64 state ``ist``
_I_HAS_X0 = 0  # 1 once a pair was ingested since the reset
_I_HAS_OPEN = 1  # 1 when the open bin holds a point
_I_OPEN_BIN = 2  # open bin id: floor(x_rel / bin_s)
_I_HAS_MAP = 3  # 1 when the map (offset, slope) exists (it may be stale: see _I_DIRTY)
_I_DIRTY = 4  # 1 when a bin closed since the last fit: refit before mapping
_I_N_BINS = 5  # closed bins held in bins_x / bins_y (insertion order)
_I_RESETS = 6  # explicit and automatic resets
_I_JUMPS = 7  # automatic resets (clock jumps)
_I_IN_ORDER = 8  # 1 when the closed bins are in order of x (no bins_x[i - 1] > bins_x[i])
_N_I = 9
# parameters ``prm`` (float64)
_P_WINDOW = 0
_P_BIN = 1
_P_MIN_SPAN = 2
_P_MAX_DRIFT = 3
_P_JUMP = 4
_P_SHORT_FIT = 5
_P_SHORT_OFFSET = 6
# map_blocks kernel status
_DONE = 0
_NEED_ROOM = 1  # bins_x / bins_y may fill up in the next block: grow them and call again
_NO_MAP = 2  # a block to map before any pair (to_session's error)
_ONE_BLOCK = np.zeros(1, dtype=np.int64)  # ``starts`` of update's pairs
_NO_OUT = np.zeros(0)  # ``out`` when only updating


@njit
def _reset_state(fs: np.ndarray, ist: np.ndarray, keep_drift: bool) -> None:
    """``ClockSync.reset`` on the state arrays."""
    if keep_drift and ist[_I_HAS_MAP]:
        fs[_F_PRIOR] = fs[_F_SLOPE]
    elif not keep_drift:
        fs[_F_PRIOR] = 1.0
    ist[_I_HAS_X0] = 0
    ist[_I_HAS_OPEN] = 0
    ist[_I_N_BINS] = 0
    fs[_F_OPEN_X] = 0.0
    fs[_F_OPEN_Y] = 0.0
    fs[_F_LAST_X] = -np.inf
    ist[_I_HAS_MAP] = 0
    ist[_I_DIRTY] = 1
    ist[_I_RESETS] += 1
    ist[_I_IN_ORDER] = 1


@njit
def _fit(fs: np.ndarray, ist: np.ndarray, bins_x: np.ndarray, bins_y: np.ndarray, prm: np.ndarray) -> None:
    """Refit the map (``ClockSync.clock_map`` when dirty) from the closed bins and the open
    one: drop the bins older than window_s from the newest point, slope through the lowest
    points of the first and last thirds (3 refinements, clamped to 1 ± max_drift), offset
    under every point (or under the last short_offset_s of points, prior slope).
    ``bins_x`` must have room for one more point: the open one is put after the closed ones,
    which are fitted where they are when in order (as they are but for out-of-order pairs),
    else as a sorted copy."""
    ist[_I_DIRTY] = 0
    if not ist[_I_HAS_X0]:
        ist[_I_HAS_MAP] = 0
        return
    nb = ist[_I_N_BINS]
    open_x = fs[_F_OPEN_X]
    if ist[_I_IN_ORDER]:  # the newest point: the open one or the last closed bin
        newest = bins_x[nb - 1] if nb and bins_x[nb - 1] > open_x else open_x
    else:
        newest = open_x
        for i in range(nb):
            if bins_x[i] > newest:
                newest = bins_x[i]
    drop = 0
    while drop < nb and bins_x[drop] < newest - prm[_P_WINDOW]:
        drop += 1
    if drop:  # the sliding window (old closed bins go for good)
        for i in range(nb - drop):
            bins_x[i], bins_y[i] = bins_x[i + drop], bins_y[i + drop]
        nb -= drop
        ist[_I_N_BINS] = nb
    if not ist[_I_IN_ORDER]:  # may be in order again without the dropped bins
        ist[_I_IN_ORDER] = 1
        for i in range(1, nb):
            if bins_x[i - 1] > bins_x[i]:
                ist[_I_IN_ORDER] = 0
                break
    in_order = ist[_I_IN_ORDER] and not (nb and bins_x[nb - 1] > open_x)
    n = nb + 1
    bins_x[nb], bins_y[nb] = fs[_F_OPEN_X], fs[_F_OPEN_Y]  # past the closed bins: not part of the state
    x, y = bins_x, bins_y  # in order: the stable sort would leave them as they are
    if not in_order:
        x = bins_x[:n].copy()
        y = bins_y[:n].copy()
        for i in range(1, n):  # stable insertion sort by x (out-of-order bins are rare)
            xi, yi = x[i], y[i]
            j = i
            while j > 0 and x[j - 1] > xi:
                x[j], y[j] = x[j - 1], y[j - 1]
                j -= 1
            x[j], y[j] = xi, yi
    span = x[n - 1] - x[0]
    b_prior = fs[_F_PRIOR]
    b_fit = b_prior
    fitted = n >= 6 and span > 0
    if fitted:
        lo_third = x[0] + span / 3  # first third: x <= this (i < i1), last: x >= hi_third (i >= i2)
        hi_third = x[n - 1] - span / 3
        i1, hi = 0, n  # (by bisection: the points are in order)
        while i1 < hi:
            mid = (i1 + hi) // 2
            if x[mid] <= lo_third:
                i1 = mid + 1
            else:
                hi = mid
        i2, hi = 0, n
        while i2 < hi:
            mid = (i2 + hi) // 2
            if x[mid] < hi_third:
                i2 = mid + 1
            else:
                hi = mid
        p_last, q_last = -1, -1
        for _ in range(3):
            p, r_p = 0, y[0] - b_fit * x[0]
            for i in range(1, i1):
                r = y[i] - b_fit * x[i]
                if r < r_p:
                    p, r_p = i, r
            q, r_q = i2, y[i2] - b_fit * x[i2]
            for i in range(i2 + 1, n):
                r = y[i] - b_fit * x[i]
                if r < r_q:
                    q, r_q = i, r
            if x[q] <= x[p]:
                break
            if p == p_last and q == q_last:  # b_fit is their slope already: so would the next rounds be
                break
            b_fit = (y[q] - y[p]) / (x[q] - x[p])
            p_last, q_last = p, q
    x_from = -np.inf  # the offset is the lowest point from here on
    if fitted and span >= prm[_P_MIN_SPAN]:
        b = b_fit
    elif fitted and abs(b_fit - b_prior) * span > prm[_P_SHORT_FIT]:
        # a short span cannot resolve tens of ppm, but a grossly wrong nominal
        # rate (counter-derived time) shows at once: follow it
        b = b_fit
    else:
        # keep the prior slope; anchor the offset on the latest points so that
        # an unresolved drift cannot accumulate over the span
        b = b_prior
        x_from = x[n - 1] - prm[_P_SHORT_OFFSET]
    lo, hi = 1.0 - prm[_P_MAX_DRIFT], 1.0 + prm[_P_MAX_DRIFT]
    if lo > b:  # min(max(b, lo), hi)
        b = lo
    if hi < b:
        b = hi
    a = y[n - 1] - b * x[n - 1]  # the newest point is always in
    for i in range(n - 1):
        if x[i] >= x_from:
            r = y[i] - b * x[i]
            if r < a:
                a = r
    fs[_F_OFFSET] = a
    fs[_F_SLOPE] = b
    ist[_I_HAS_MAP] = 1


@njit
def _map_blocks(x: np.ndarray, y: np.ndarray, starts: np.ndarray, out: np.ndarray, fs: np.ndarray,
                ist: np.ndarray, bins_x: np.ndarray, bins_y: np.ndarray, prm: np.ndarray,
                first_block: int, to_map: bool) -> tuple[int, int]:
    """``update(x_j, y_j)`` then ``to_session(x_j)`` into ``out`` for the blocks from
    ``first_block`` on (block j: ``starts[j]`` up to the next start, or to the end); with
    ``to_map`` False, ``update`` only (``ClockSync.update``: one block, ``out`` unused).
    Returns (block reached, status): (B, _DONE), or the block that needs more room in the
    bins (_NEED_ROOM) or has no map to be mapped with (_NO_MAP).

    ``update`` of a block: non-finite pairs are left out. Clock-jump checks: at the first pair
    whose sensor time goes back by more than jump_s, or that arrived more than jump_s before the
    (possibly stale) map says it was sampled, the pairs before it are ingested, then the map
    resets (keeping its slope as the prior) and the rest is ingested. Ingesting pairs: per run
    of equal bin id, its lowest point relative to the current slope (the first if tied) lowers
    the open bin, closes it (a newer bin) or is kept as a point of its own (an older bin: out of
    order); then the open bin's point lowers the map if it is clean. One pass over a block's
    pairs does the jump checks and the ingesting, in the loop body of every block: no call per
    block but fits and resets (calls and passes of their own took half the clock map's time)."""
    n, nb = x.size, starts.size
    bin_s, jump_s = prm[_P_BIN], prm[_P_JUMP]
    for j in range(first_block, nb):
        a = starts[j]
        e = starts[j + 1] if j + 1 < nb else n
        if ist[_I_N_BINS] + (e - a) + 1 > bins_x.size:  # the block's points and _fit's open one
            return j, _NEED_ROOM
        # ---- update: ingest [a, k), then (a clock jump at the pair k) reset and ingest [k, e)
        check = ist[_I_HAS_X0]  # clock-jump checks, against the state before this block
        back_below = fs[_F_LAST_X] - jump_s
        has_map = ist[_I_HAS_MAP]
        m_offset, m_slope, m_x0 = fs[_F_OFFSET], fs[_F_SLOPE], fs[_F_X0]
        k = e  # the first pair of a clock jump (e: none)
        i0, i1 = a, e
        for part in range(2):
            if part:
                if k == e:
                    break
                ist[_I_JUMPS] += 1
                _reset_state(fs, ist, True)
                i0, i1, check = k, e, False
            while i0 < i1 and not (np.isfinite(x[i0]) and np.isfinite(y[i0])):
                i0 += 1
            if i0 == i1:
                continue
            if not ist[_I_HAS_X0]:
                fs[_F_X0] = x[i0]
                ist[_I_HAS_X0] = 1
            x0 = fs[_F_X0]
            b = fs[_F_SLOPE] if ist[_I_HAS_MAP] else fs[_F_PRIOR]
            x_max = x[i0]
            i = i0
            while i < i1:
                if not (np.isfinite(x[i]) and np.isfinite(y[i])):
                    i += 1
                    continue
                if check and (x[i] < back_below or (has_map and y[i] < (m_offset + m_slope * (x[i] - m_x0)) - jump_s)):
                    k = i1 = i
                    break
                xr = x[i] - x0
                bin_id = np.int64(np.floor(xr / bin_s))
                k_xr, k_y, k_r = xr, y[i], y[i] - b * xr
                if x[i] > x_max:
                    x_max = x[i]
                i += 1
                while i < i1:
                    if not (np.isfinite(x[i]) and np.isfinite(y[i])):
                        i += 1
                        continue
                    if check and (x[i] < back_below or
                                  (has_map and y[i] < (m_offset + m_slope * (x[i] - m_x0)) - jump_s)):
                        k = i1 = i
                        break
                    xr = x[i] - x0
                    if np.int64(np.floor(xr / bin_s)) != bin_id:
                        break
                    r = y[i] - b * xr
                    if r < k_r:
                        k_xr, k_y, k_r = xr, y[i], r
                    if x[i] > x_max:
                        x_max = x[i]
                    i += 1
                if not ist[_I_HAS_OPEN]:
                    ist[_I_HAS_OPEN] = 1
                    ist[_I_OPEN_BIN] = bin_id
                    fs[_F_OPEN_X], fs[_F_OPEN_Y] = k_xr, k_y
                elif bin_id == ist[_I_OPEN_BIN]:
                    if k_r < fs[_F_OPEN_Y] - b * fs[_F_OPEN_X]:
                        fs[_F_OPEN_X], fs[_F_OPEN_Y] = k_xr, k_y
                elif bin_id > ist[_I_OPEN_BIN]:
                    m = ist[_I_N_BINS]  # (the open bin is newer than every closed one: still in order)
                    bins_x[m], bins_y[m] = fs[_F_OPEN_X], fs[_F_OPEN_Y]
                    ist[_I_N_BINS] = m + 1
                    ist[_I_OPEN_BIN] = bin_id
                    fs[_F_OPEN_X], fs[_F_OPEN_Y] = k_xr, k_y
                    ist[_I_DIRTY] = 1
                else:  # an older bin (out-of-order pair): keep it as its own point
                    m = ist[_I_N_BINS]
                    if m and bins_x[m - 1] > k_xr:
                        ist[_I_IN_ORDER] = 0
                    bins_x[m], bins_y[m] = k_xr, k_y
                    ist[_I_N_BINS] = m + 1
                    ist[_I_DIRTY] = 1
            if i1 == i0:  # a clock jump at the first pair: nothing to ingest before it
                continue
            if x_max > fs[_F_LAST_X]:
                fs[_F_LAST_X] = x_max
            # the open bin's point can lower the current line: keep the line under it
            if ist[_I_HAS_MAP] and not ist[_I_DIRTY]:
                resid = fs[_F_OPEN_Y] - (fs[_F_OFFSET] + fs[_F_SLOPE] * fs[_F_OPEN_X])
                if resid < 0:
                    fs[_F_OFFSET] = fs[_F_OFFSET] + resid
            else:
                ist[_I_DIRTY] = 1
        if not to_map:
            continue
        # ---- to_session
        if ist[_I_DIRTY]:
            _fit(fs, ist, bins_x, bins_y, prm)
        if not ist[_I_HAS_MAP]:
            return j, _NO_MAP
        offset, slope, x0 = fs[_F_OFFSET], fs[_F_SLOPE], fs[_F_X0]
        for i in range(a, e):
            out[i] = offset + slope * (x[i] - x0)
    return nb, _DONE


class ClockSync:
    """Online clock map of one sensor (one instance per sensor; :meth:`reset` on reconnect).

    Feed it ``(t_sensor, t_arrival)`` pairs as they come (:meth:`update`) and map
    sample times with :meth:`to_session`. Robust to one-sided arrival jitter of
    tens of ms; tracks drift of hundreds of ppm (and counter-derived clocks that
    are off by up to ``max_drift``).

    Parameters
    ----------
    window_s:
        Sliding window of sensor time used for the fit (s).
    bin_s:
        Points are reduced to the lowest one per ``bin_s`` of sensor time (s).
    min_span_s:
        Below this span of data (s) the slope is not fitted: the prior slope is
        used (1, or the last fit's slope after :meth:`reset`) and the offset is
        taken from the last ``short_offset_s`` of data -- unless following the
        prior slope would be off by more than ``short_fit_s`` over the span (a
        counter-derived clock whose true rate is far from nominal): then the
        hull slope is followed at once.
    max_drift:
        Fitted slopes are clamped to ``1 ± max_drift`` (0.2 allows counter-based
        time whose true rate is 20 % off nominal).
    jump_s:
        A pair that arrives more than ``jump_s`` *before* the current map says
        its sample was taken, or a sensor time that goes backwards by more than
        ``jump_s``, means the sensor clock jumped: the map resets itself.

    The state is held in small arrays updated by compiled kernels (``_map_blocks``, ``_fit``,
    ``_reset_state``), shared by the live path and :meth:`map_blocks`.
    """

    def __init__(
        self,
        *,
        window_s: float = 60.0,
        bin_s: float = 0.5,
        min_span_s: float = 20.0,
        max_drift: float = 0.2,
        jump_s: float = 0.5,
        short_fit_s: float = 0.02,
        short_offset_s: float = 10.0,
    ) -> None:
        self.window_s = float(window_s)
        self.bin_s = float(bin_s)
        self.min_span_s = float(min_span_s)
        self.max_drift = float(max_drift)
        self.jump_s = float(jump_s)
        self.short_fit_s = float(short_fit_s)
        self.short_offset_s = float(short_offset_s)
        self._prm = np.array([self.window_s, self.bin_s, self.min_span_s, self.max_drift, self.jump_s,
                              self.short_fit_s, self.short_offset_s], dtype=np.float64)
        self._fs = np.zeros(_N_F, dtype=np.float64)
        self._ist = np.zeros(_N_I, dtype=np.int64)
        # closed bins' lowest points (x relative to x0 (s), arrival (session s)), in insertion order:
        # the window holds window_s / bin_s of them (120) and the out-of-order ones; grown as needed
        self._bins_x = np.zeros(256, dtype=np.float64)
        self._bins_y = np.zeros(256, dtype=np.float64)
        self.reset(keep_drift=False)
        self.resets = 0

    @property
    def resets(self) -> int:
        """Explicit and automatic resets so far."""
        return int(self._ist[_I_RESETS])

    @resets.setter
    def resets(self, value: int) -> None:
        self._ist[_I_RESETS] = value

    @property
    def jumps(self) -> int:
        """Automatic resets (clock jumps) so far."""
        return int(self._ist[_I_JUMPS])

    @jumps.setter
    def jumps(self, value: int) -> None:
        self._ist[_I_JUMPS] = value

    @property
    def _map(self) -> ClockMap | None:
        """The map as it stands (stale until the next fit when a bin closed since)."""
        fs = self._fs
        return ClockMap(float(fs[_F_X0]), float(fs[_F_OFFSET]), float(fs[_F_SLOPE])) if self._ist[_I_HAS_MAP] else None

    def reset(self, keep_drift: bool = True) -> None:
        """Forget all pairs (reconnect: counters may restart, offset changes).

        ``keep_drift`` keeps the last fitted slope as the prior: the crystal's
        rate does not change with a reconnect.
        """
        _reset_state(self._fs, self._ist, bool(keep_drift))

    def _make_room(self, n_more: int) -> None:
        """Room in the bin arrays for ``n_more`` more points."""
        need = int(self._ist[_I_N_BINS]) + n_more
        if need > self._bins_x.size:
            size = max(need, 2 * self._bins_x.size)
            for name in ("_bins_x", "_bins_y"):
                old = getattr(self, name)
                grown = np.zeros(size, dtype=np.float64)
                grown[: old.size] = old
                setattr(self, name, grown)

    # ------------------------------------------------------------------ input
    def update(self, time_sensor_s: np.ndarray | float, time_arrival_s: np.ndarray | float) -> None:
        """Add pairs: sample times on the sensor clock and their arrival (session s).

        Both (N,) or scalars. Pairs should come in sensor-time order (as they
        arrive); every sample of a notification may be given with that
        notification's arrival time (earlier samples only lie higher).
        Non-finite pairs are left out.
        """
        x = np.atleast_1d(np.asarray(time_sensor_s, dtype=np.float64))
        y = np.atleast_1d(np.asarray(time_arrival_s, dtype=np.float64))
        if x.shape != y.shape:
            raise ValueError(f"time_sensor_s {x.shape} and time_arrival_s {y.shape} differ")
        if x.size == 0:
            return
        x, y = np.ascontiguousarray(x.ravel()), np.ascontiguousarray(y.ravel())
        self._make_room(x.size + 1)
        _map_blocks(x, y, _ONE_BLOCK, _NO_OUT, self._fs, self._ist, self._bins_x, self._bins_y, self._prm, 0, False)

    def map_blocks(self, time_sensor_s: np.ndarray, time_arrival_s: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Session times (N,) of consecutive blocks (one notification's samples each, from
        ``starts`` (B,), ``starts[0] == 0``): exactly what ``update(x_j, y_j)`` then
        ``to_session(x_j)`` block by block give, and the same state afterwards (the same
        compiled kernels, in one call)."""
        x = np.ascontiguousarray(time_sensor_s, dtype=np.float64)
        y = np.ascontiguousarray(time_arrival_s, dtype=np.float64)
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"time_sensor_s {x.shape} and time_arrival_s {y.shape} must be (N,) arrays of one length")
        if starts.ndim != 1 or (starts.size and (starts[0] < 0 or starts[-1] > x.size or (np.diff(starts) < 0).any())):
            raise ValueError("starts must be (B,) indices, increasing, within the samples")
        out = np.empty(x.size)
        j = 0
        while True:
            j, status = _map_blocks(x, y, starts, out, self._fs, self._ist, self._bins_x, self._bins_y,
                                    self._prm, j, True)
            if status == _DONE:
                return out
            if status == _NO_MAP:
                raise RuntimeError("ClockSync has no pairs yet: call update() first")
            end = int(starts[j + 1]) if j + 1 < starts.size else x.size
            self._make_room(max(end - int(starts[j]), 0) + 1)

    # ------------------------------------------------------------------ output
    def clock_map(self) -> ClockMap | None:
        """The current map (None before the first pair)."""
        if self._ist[_I_DIRTY]:
            self._make_room(1)
            _fit(self._fs, self._ist, self._bins_x, self._bins_y, self._prm)
        return self._map

    def to_session(self, time_sensor_s: np.ndarray | float) -> np.ndarray:
        """Session time (s) of sensor times (s), with the current map."""
        m = self.clock_map()
        if m is None:
            raise RuntimeError("ClockSync has no pairs yet: call update() first")
        return m(time_sensor_s)

    @property
    def drift_ppm(self) -> float:
        m = self.clock_map()
        return math.nan if m is None else m.drift_ppm


def map_to_session(
    time_sensor_s: np.ndarray,
    time_arrival_s: np.ndarray,
    *,
    reset_at_s: Sequence[float] = (),
    lookahead_s: float = 0.0,
    warmup_s: float = WARMUP_S,
    **params: float,
) -> np.ndarray:
    """Session times of a whole recorded stream, exactly as a live :class:`ClockSync` gives them.

    Parameters
    ----------
    time_sensor_s: (N,) each sample's sensor time (s), in arrival order.
    time_arrival_s: (N,) arrival (session s) of the notification that carried each sample.
    reset_at_s: arrival times (session s) of reconnects: the map resets before
        the first sample arriving at or after each.
    lookahead_s: each notification is mapped once the pairs that arrived up to
        ``lookahead_s`` after it are known (0 = causal).
    warmup_s: after the start and after each reset, notifications that arrive
        within ``warmup_s`` of the first one are mapped with all pairs of that
        warm-up span (a live pipeline waits ``warmup_s`` once per connection,
        then catches up and runs causally: it gets exactly these numbers).
    params: :class:`ClockSync` parameters.

    Returns (N,) session time (s) of each sample.
    """
    x = np.asarray(time_sensor_s, dtype=np.float64)
    y = np.asarray(time_arrival_s, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("time_sensor_s and time_arrival_s must be (N,) arrays of one length")
    out = np.empty_like(x)
    n = len(x)
    if n == 0:
        return out
    sync = ClockSync(**params)
    resets = sorted(float(r) for r in reset_at_s)
    # notification groups: runs of equal arrival time
    starts = np.concatenate(([0], np.flatnonzero(np.diff(y) != 0) + 1, [n]))
    # segment boundaries (reconnects), as indices
    seg_end = np.searchsorted(y, resets, side="left") if resets else np.array([], dtype=np.int64)
    seg_bounds = sorted(set(int(s) for s in seg_end if 0 < s < n))
    bounds = [0] + seg_bounds + [n]
    ingested = 0
    for s0, s1 in zip(bounds[:-1], bounds[1:]):
        if s0 > 0:
            sync.reset(keep_drift=True)
            ingested = s0
        warm_until = y[s0] + warmup_s
        g0 = np.searchsorted(starts, s0)
        g1 = np.searchsorted(starts, s1)
        for g in range(g0, g1):
            i0, i1 = int(starts[g]), int(starts[g + 1])
            limit = max(y[i0] + lookahead_s, warm_until if y[i0] < warm_until else -np.inf)
            j = i1
            if limit > y[i0]:
                j = max(i1, int(np.searchsorted(y[s0:s1], limit, side="right")) + s0)
            if j > ingested:
                sync.update(x[ingested:j], y[ingested:j])
                ingested = j
            out[i0:i1] = sync.to_session(x[i0:i1])
    return out


def detect_gaps(
    time_session_s: np.ndarray,
    rate_hz: float | None = None,
    *,
    sample_index: np.ndarray | None = None,
    time_sensor_s: np.ndarray | None = None,
    sensor_id: str = "",
    reason: str = "loss",
) -> list[Gap]:
    """Gaps in one sensor's stream, with the exact number of samples lost.

    - With ``sample_index`` (N,) (unwrapped counters): a jump of ``k > 1``
      between consecutive samples is a gap of ``k - 1`` lost samples. Jumps
      ``<= 0`` (a counter restart after reconnect) are not counted as loss.
    - Otherwise from timestamps (``time_sensor_s`` if given, else
      ``time_session_s``): a step of ``dt`` is ``round(dt / period) - 1`` lost
      samples where that is >= 1; ``period`` is the median step (robust to a
      sensor whose true rate differs from nominal), or ``1 / rate_hz`` if the
      stream is too short to tell.

    ``time_session_s`` (N,) gives the gap's ``start_s``/``end_s`` (session s of
    the samples before and after it).
    """
    t = np.asarray(time_session_s, dtype=np.float64)
    gaps: list[Gap] = []
    if len(t) < 2:
        return gaps
    if sample_index is not None:
        idx = np.asarray(sample_index, dtype=np.int64)
        if idx.shape != t.shape:
            raise ValueError(f"sample_index {idx.shape} and time_session_s {t.shape} differ")
        lost = np.diff(idx) - 1
    else:
        ts = t if time_sensor_s is None else np.asarray(time_sensor_s, dtype=np.float64)
        dt = np.diff(ts)
        pos = dt[dt > 0]
        if len(pos) >= 3:
            period = float(np.median(pos))
        elif rate_hz:
            period = 1.0 / float(rate_hz)
        else:
            return gaps
        lost = np.rint(dt / period).astype(np.int64) - 1
    for i in np.flatnonzero(lost >= 1):
        gaps.append(Gap(sensor_id, float(t[i]), float(t[i + 1]), int(lost[i]), reason))
    return gaps


def resample(
    streams: Mapping[str, tuple[np.ndarray, np.ndarray]],
    rate_hz: float,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    max_step_s: float | Mapping[str, float] | None = None,
    gaps: Sequence[Gap] = (),
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Linear interpolation of several streams onto one grid ``k / rate_hz``.

    Parameters
    ----------
    streams: name -> (time_s (N,), values (N,) or (N, C)), session time
        increasing within each stream.
    rate_hz: grid rate (Hz); grid points are integer multiples of ``1/rate_hz``
        (the same lattice for every chunk and every session).
    start_s, end_s: grid span (default: from the earliest to the latest sample
        of any stream).
    max_step_s: never interpolate across a step longer than this (s); default
        per stream 1.5 × its median step (so one lost sample is already a gap).
    gaps: recorded gaps; grid points inside a gap of a stream whose name is the
        gap's ``sensor_id`` are invalid for that stream too.

    Returns
    -------
    time_s: (M,) grid (s).
    arrays: name -> (M,) or (M, C), NaN where that stream is invalid.
    valid: (M,) bool, True where every stream is valid.
    """
    if rate_hz <= 0:
        raise ValueError("rate_hz must be > 0")
    prepared = {}
    for name, (t, v) in streams.items():
        t = np.asarray(t, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        if t.ndim != 1 or v.shape[:1] != t.shape:
            raise ValueError(f"stream {name!r}: time {t.shape} and values {v.shape} do not match")
        if len(t) > 1 and np.any(np.diff(t) <= 0):
            raise ValueError(f"stream {name!r}: time_s is not strictly increasing")
        prepared[name] = (t, v)
    nonempty = [t for t, _ in prepared.values() if len(t)]
    if start_s is None:
        start_s = min((float(t[0]) for t in nonempty), default=0.0)
    if end_s is None:
        end_s = max((float(t[-1]) for t in nonempty), default=0.0)
    k0 = math.ceil(start_s * rate_hz - 1e-9)
    k1 = math.floor(end_s * rate_hz + 1e-9)
    grid = np.arange(k0, k1 + 1, dtype=np.float64) / rate_hz if k1 >= k0 else np.zeros(0)
    valid = np.ones(len(grid), dtype=bool)
    arrays: dict[str, np.ndarray] = {}
    for name, (t, v) in prepared.items():
        out_shape = (len(grid),) + v.shape[1:]
        out = np.full(out_shape, np.nan)
        ok = np.zeros(len(grid), dtype=bool)
        if len(t) >= 1:
            if isinstance(max_step_s, Mapping):
                limit = max_step_s.get(name)
            else:
                limit = max_step_s
            if limit is None:
                limit = 1.5 * float(np.median(np.diff(t))) if len(t) > 1 else 0.0
            j = np.searchsorted(t, grid, side="right")  # t[j-1] <= g < t[j]
            exact = (j >= 1) & (t[np.clip(j - 1, 0, len(t) - 1)] == grid)
            inside = (j >= 1) & (j < len(t))
            jj = np.clip(j, 1, len(t) - 1)
            step = t[jj] - t[jj - 1] if len(t) > 1 else np.zeros(len(grid))
            ok = exact | (inside & (step <= limit))
            for gap in gaps:
                if gap.sensor_id == name:
                    ok &= ~((grid > gap.start_s) & (grid < gap.end_s))
            if ok.any() and len(t) > 1:
                gi = grid[ok]
                jo = jj[ok]
                w = (gi - t[jo - 1]) / (t[jo] - t[jo - 1])
                w = np.clip(w, 0.0, 1.0)
                if v.ndim > 1:
                    w = w.reshape((-1,) + (1,) * (v.ndim - 1))
                out[ok] = v[jo - 1] * (1 - w) + v[jo] * w
            elif ok.any():
                out[ok] = v[0]
        arrays[name] = out
        valid &= ok
    return grid, arrays, valid
