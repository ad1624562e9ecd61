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
from typing import Any, Mapping, Sequence

import numpy as np

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
        self._prior_slope = 1.0
        self._map: ClockMap | None = None
        self.resets = 0  # explicit and automatic resets so far
        self.jumps = 0  # automatic resets (clock jumps)
        self.reset(keep_drift=False)
        self.resets = 0

    def reset(self, keep_drift: bool = True) -> None:
        """Forget all pairs (reconnect: counters may restart, offset changes).

        ``keep_drift`` keeps the last fitted slope as the prior: the crystal's
        rate does not change with a reconnect.
        """
        if keep_drift and self._map is not None:
            self._prior_slope = self._map.slope
        elif not keep_drift:
            self._prior_slope = 1.0
        self._x0: float | None = None
        self._bins_x: list[float] = []  # closed bins: lowest point each (x relative to x0)
        self._bins_y: list[float] = []
        self._open_bin: int | None = None
        self._open_x = 0.0
        self._open_y = 0.0
        self._last_x = -math.inf
        self._map = None
        self._dirty = True
        self.resets += 1

    # ------------------------------------------------------------------ input
    def update(self, time_sensor_s: np.ndarray | float, time_arrival_s: np.ndarray | float) -> None:
        """Add pairs: sample times on the sensor clock and their arrival (session s).

        Both (N,) or scalars. Pairs should come in sensor-time order (as they
        arrive); every sample of a notification may be given with that
        notification's arrival time (earlier samples only lie higher).
        """
        x = np.atleast_1d(np.asarray(time_sensor_s, dtype=np.float64))
        y = np.atleast_1d(np.asarray(time_arrival_s, dtype=np.float64))
        if x.shape != y.shape:
            raise ValueError(f"time_sensor_s {x.shape} and time_arrival_s {y.shape} differ")
        if x.size == 0:
            return
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.all():
            x, y = x[ok], y[ok]
            if x.size == 0:
                return
        # clock jump checks (backwards sensor time, or arrival before sampling)
        if self._x0 is not None:
            back = x < self._last_x - self.jump_s
            early = np.zeros_like(back)
            if self._map is not None:
                early = y < self._map(x) - self.jump_s
            bad = back | early
            if bad.any():
                k = int(np.argmax(bad))
                if k:
                    self._ingest(x[:k], y[:k])
                self.jumps += 1
                self.reset(keep_drift=True)
                x, y = x[k:], y[k:]
        self._ingest(x, y)

    def _ingest(self, x: np.ndarray, y: np.ndarray) -> None:
        if self._x0 is None:
            self._x0 = float(x[0])
        xr = x - self._x0
        b = self._map.slope if self._map is not None else self._prior_slope
        bins = np.floor(xr / self.bin_s).astype(np.int64)
        r = y - b * xr
        # split at bin changes (input is in order: runs of equal bin ids); one notification's
        # samples are mostly in one bin: then no split (same point chosen, less overhead)
        if bins[0] == bins[-1] and (bins == bins[0]).all():
            segments: Any = (None,)
        else:
            starts = np.flatnonzero(np.diff(bins)) + 1
            segments = np.split(np.arange(len(xr)), starts)
        for seg in segments:
            k = int(np.argmin(r)) if seg is None else int(seg[np.argmin(r[seg])])
            bin_id = int(bins[k])
            if self._open_bin is None:
                self._open_bin, self._open_x, self._open_y = bin_id, float(xr[k]), float(y[k])
            elif bin_id == self._open_bin:
                if y[k] - b * xr[k] < self._open_y - b * self._open_x:
                    self._open_x, self._open_y = float(xr[k]), float(y[k])
            elif bin_id > self._open_bin:
                self._bins_x.append(self._open_x)
                self._bins_y.append(self._open_y)
                self._open_bin, self._open_x, self._open_y = bin_id, float(xr[k]), float(y[k])
                self._dirty = True
            else:  # an older bin (out-of-order pair): keep it as its own point
                self._bins_x.append(float(xr[k]))
                self._bins_y.append(float(y[k]))
                self._dirty = True
        self._last_x = max(self._last_x, float(x.max()))
        # the open bin's point can lower the current line: keep the line under it
        if self._map is not None and not self._dirty:
            m = self._map
            resid = self._open_y - (m.offset_s + m.slope * self._open_x)
            if resid < 0:
                self._map = ClockMap(m.x0_s, m.offset_s + resid, m.slope)
        else:
            self._dirty = True

    def map_blocks(self, time_sensor_s: np.ndarray, time_arrival_s: np.ndarray, starts: np.ndarray,
                   window_blocks: int = 64) -> np.ndarray:
        """Session times (N,) of consecutive blocks (one notification's samples each, from
        ``starts`` (B,), ``starts[0] == 0``): exactly what ``update(x_j, y_j)`` then
        ``to_session(x_j)`` block by block give, and the same state afterwards.

        Fast where that loop's outcome is known in bulk: between two bin closes the slope is
        fixed, each block only lowers the open bin's point and the line with it, and its samples
        map with the line as it is after it (one vector operation per run of blocks on one
        line). A block that closes a bin (a refit), a block before the first map, and a block
        that could be a clock jump go through ``update`` itself."""
        x = np.asarray(time_sensor_s, dtype=np.float64)
        y = np.asarray(time_arrival_s, dtype=np.float64)
        starts = np.asarray(starts, dtype=np.int64)
        n = x.size
        ends = np.append(starts[1:], n)
        out = np.empty(n)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            for a, e in zip(starts, ends):  # the loop itself (it filters non-finite pairs)
                self.update(x[a:e], y[a:e])
                out[a:e] = self.to_session(x[a:e])
            return out
        j, nb = 0, starts.size
        while j < nb:
            if self._x0 is None or self._map is None or self._dirty or self._open_bin is None:
                a, e = starts[j], ends[j]
                self.update(x[a:e], y[a:e])
                out[a:e] = self.to_session(x[a:e])
                j += 1
                continue
            jw = min(nb, j + window_blocks)
            a0, a1 = int(starts[j]), int(ends[jw - 1])
            xw, yw = x[a0:a1], y[a0:a1]
            m = self._map
            b = m.slope
            xr = xw - self._x0
            bins = np.floor(xr / self.bin_s).astype(np.int64)
            # samples in order that cannot be a clock jump (the window's line is the highest any of
            # its blocks sees: the line only goes down until the next refit)
            calm = yw >= m(xw) - self.jump_s
            if xw.size > 1:
                calm[1:] &= np.diff(xw) >= 0
            calm[0] &= xw[0] >= self._last_x - self.jump_s
            # blocks j.. whose samples all stay in the open bin
            quiet = calm & (bins == self._open_bin)
            bad = np.flatnonzero(~quiet)
            first_bad = int(bad[0]) + a0 if bad.size else a1
            jq = int(np.searchsorted(starts, first_bad, side="right")) - 1 if bad.size else jw  # first non-quiet block
            if jq <= j:  # this block closes the bin (then a refit), or needs the checks (the loop itself)
                a, e = int(starts[j]), int(ends[j])
                if calm[a - a0:e - a0].all():  # ``update`` without its checks: none would fire
                    self._ingest(x[a:e], y[a:e])
                else:
                    self.update(x[a:e], y[a:e])
                out[a:e] = self.to_session(x[a:e])
                j += 1
                continue
            q1 = int(starts[jq]) if jq < nb else n
            rel = starts[j:jq] - a0
            r = yw[: q1 - a0] - b * xr[: q1 - a0]
            mins = np.minimum.reduceat(r, rel)
            at_min = np.flatnonzero(r == np.repeat(mins, np.diff(np.append(rel, q1 - a0))))
            kmin = at_min[np.searchsorted(at_min, rel)]  # each block's first lowest point
            offset, x0m = m.offset_s, m.x0_s
            run_from = j
            for i in range(jq - j):
                k = int(kmin[i])
                if float(mins[i]) < self._open_y - b * self._open_x:
                    self._open_x, self._open_y = float(xr[k]), float(yw[k])
                resid = self._open_y - (offset + b * self._open_x)
                if resid < 0:  # the line goes down to the open point: blocks before keep the old line
                    if j + i > run_from:
                        sa, sb = int(starts[run_from]), int(starts[j + i])
                        out[sa:sb] = offset + b * (x[sa:sb] - x0m)
                    offset = offset + resid
                    run_from = j + i
            sa = int(starts[run_from])
            out[sa:q1] = offset + b * (x[sa:q1] - x0m)
            self._map = ClockMap(x0m, offset, b)
            self._last_x = max(self._last_x, float(np.max(x[a0:q1])))
            j = jq
        return out

    # ------------------------------------------------------------------ fit
    def _fit(self) -> ClockMap | None:
        if self._x0 is None:
            return None
        xs = self._bins_x + [self._open_x]
        ys = self._bins_y + [self._open_y]
        # sliding window (drop old closed bins for good)
        newest = max(xs)
        drop = 0
        while drop < len(self._bins_x) and self._bins_x[drop] < newest - self.window_s:
            drop += 1
        if drop:
            del self._bins_x[:drop]
            del self._bins_y[:drop]
            xs, ys = xs[drop:], ys[drop:]
        x = np.asarray(xs)
        y = np.asarray(ys)
        if x.size > 1 and not (x[1:] >= x[:-1]).all():  # an out-of-order bin: sort (stable)
            order = np.argsort(x, kind="stable")
            x, y = x[order], y[order]
        span = x[-1] - x[0]
        b_prior = self._prior_slope
        b_fit = None
        if len(x) >= 6 and span > 0:
            # lower envelope slope: through the lowest point of the first third and
            # the lowest point of the last third (relative to the current slope),
            # refined twice; the points are >= span/3 apart, so the slope is
            # precise to (envelope noise) / (span/3). x is sorted: the thirds are
            # the points up to x[0] + span/3 and from x[-1] - span/3
            b_fit = b_prior
            i1 = int(np.searchsorted(x, x[0] + span / 3, side="right"))
            i2 = int(np.searchsorted(x, x[-1] - span / 3, side="left"))
            for _ in range(3):
                r = y - b_fit * x
                p = int(np.argmin(r[:i1]))
                q = i2 + int(np.argmin(r[i2:]))
                if x[q] <= x[p]:
                    break
                b_fit = float((y[q] - y[p]) / (x[q] - x[p]))
        recent = np.ones(len(x), dtype=bool)
        if b_fit is not None and span >= self.min_span_s:
            b = b_fit
        elif b_fit is not None and abs(b_fit - b_prior) * span > self.short_fit_s:
            # a short span cannot resolve tens of ppm, but a grossly wrong nominal
            # rate (counter-derived time) shows at once: follow it
            b = b_fit
        else:
            # keep the prior slope; anchor the offset on the latest points so that
            # an unresolved drift cannot accumulate over the span
            b = b_prior
            recent = x >= x[-1] - self.short_offset_s
        b = float(min(max(b, 1.0 - self.max_drift), 1.0 + self.max_drift))
        a = float(np.min(y[recent] - b * x[recent]))
        return ClockMap(self._x0, a, b)

    def clock_map(self) -> ClockMap | None:
        """The current map (None before the first pair)."""
        if self._dirty:
            self._map = self._fit()
            self._dirty = False
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
