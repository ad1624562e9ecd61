"""The compiled clock map (``hipmon.sync.ClockSync``) against the numpy implementation it
replaced (issue 16), bit for bit: the live path (``update`` + ``to_session`` a notification at a
time), the replay (``map_blocks``) and every other call, on seeded random streams with jitter,
drift, counter clocks 20 % off, out-of-order notifications, clock jumps, early arrivals, NaNs,
resets and long stretches across many window drops."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hipmon import sync as S
from hipmon.sync import ClockMap, ClockSync


class ReferenceClockSync:
    """``ClockSync`` as it was before the kernel (numpy, df6a4fb; without ``map_blocks``): the oracle."""

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



# ---------------------------------------------------------------- state, compared bit for bit


def _bits(v: Any) -> Any:
    return None if v is None else float(v).hex()


def _map_bits(m: ClockMap | None) -> Any:
    return None if m is None else (_bits(m.x0_s), _bits(m.offset_s), _bits(m.slope))


def ref_state(s: ReferenceClockSync) -> dict:
    return dict(x0=_bits(s._x0), open=None if s._open_bin is None else (s._open_bin, _bits(s._open_x), _bits(s._open_y)),
                last_x=_bits(s._last_x), bins=[(_bits(a), _bits(b)) for a, b in zip(s._bins_x, s._bins_y)],
                dirty=bool(s._dirty), map=_map_bits(s._map), prior=_bits(s._prior_slope), resets=s.resets, jumps=s.jumps)


def new_state(s: ClockSync) -> dict:
    fs, ist, n = s._fs, s._ist, int(s._ist[S._I_N_BINS])
    if ist[S._I_IN_ORDER]:  # _fit trusts the flag: the closed bins are in order whenever it is set
        assert not (np.diff(s._bins_x[:n]) < 0).any()
    return dict(x0=_bits(fs[S._F_X0]) if ist[S._I_HAS_X0] else None,
                open=(int(ist[S._I_OPEN_BIN]), _bits(fs[S._F_OPEN_X]), _bits(fs[S._F_OPEN_Y])) if ist[S._I_HAS_OPEN] else None,
                last_x=_bits(fs[S._F_LAST_X]), bins=[(_bits(a), _bits(b)) for a, b in zip(s._bins_x[:n], s._bins_y[:n])],
                dirty=bool(ist[S._I_DIRTY]), map=_map_bits(s._map), prior=_bits(fs[S._F_PRIOR]), resets=s.resets, jumps=s.jumps)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------- random streams


def random_stream(seed: int, mode: str | None = None, seconds: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A notification stream (x sensor s (N,), y arrival session s (N,), block starts (B,)) of a
    random sensor: 25–250 Hz, ±200 ppm drift or a counter clock up to 22 % off, 1–40 samples per
    notification, one-sided exponential delays, and rare lost stretches, out-of-order
    notifications, clock jumps back and forward, early arrivals, per-sample arrivals and NaNs.
    Some streams are on coarse grids (ms ticks, repeated timestamps) or a perfect clock with
    constant delay (dyadic numbers, slope 1): exact ties, where first-minimum and stable-sort
    rules and the ``<`` / ``<=`` of every threshold decide."""
    rng = np.random.default_rng(seed)
    mode = mode or rng.choice(["random", "grid", "perfect"], p=[0.5, 0.3, 0.2])
    perfect = mode == "perfect"
    rate_hz = float(rng.choice([32, 64, 128, 256])) if perfect else rng.uniform(25, 250)
    slope = 1 + rng.uniform(-200e-6, 200e-6) if rng.random() < 0.6 else rng.uniform(0.78, 1.22)
    slope = 1.0 if perfect else slope
    seconds = seconds or rng.uniform(5, 150)
    n = int(seconds * rate_hz)
    x = (rng.integers(0, 4000) / 4 if perfect else rng.uniform(0, 1e5)) + np.arange(n) / rate_hz
    for _ in range(rng.poisson(1)):  # lost stretches: the sensor time leaps forward
        x[rng.integers(n):] += rng.integers(1, 160) / 2 if perfect else rng.uniform(0.1, 80)
    sizes = rng.integers(1, 41, size=n) if rng.random() < 0.3 else np.full(n, rng.integers(1, 41))
    starts = np.cumsum(np.concatenate([[0], sizes]))
    starts = starts[starts < n]
    nb = starts.size
    ends = np.append(starts[1:], n)
    t0 = rng.integers(-20, 400) / 4 if perfect else rng.uniform(-5, 100)
    if perfect:
        delay = 0.25 + (rng.integers(0, 4, nb) / 64 if rng.random() < 0.5 else np.zeros(nb))
        delay[rng.integers(nb):] += rng.integers(-4, 5) / 64  # the lowest delay steps: the thirds differ
    else:
        delay = 0.005 + rng.exponential(rng.uniform(0.001, 0.05), nb) + (rng.random(nb) < 0.01) * rng.uniform(0, 0.4, nb)
    y = np.repeat(t0 + slope * (x[ends - 1] - x[0]) + delay, ends - starts)
    if rng.random() < 0.2:  # each sample its own arrival
        y = t0 + slope * (x - x[0]) + (0.25 if perfect else 0.005 + rng.exponential(0.01, n))
    if mode == "grid":  # sensor ticks of 1/1024 s, host ms, some timestamps repeated
        x = np.round(x * 1024) / 1024
        y = np.round(y * 1000) / 1000
        rep = np.flatnonzero(rng.random(n) < 0.02)
        x[rep[rep > 0]] = x[rep[rep > 0] - 1]
    # out-of-order notifications: two neighbours swapped (arrival order kept)
    for j in rng.integers(0, max(nb - 1, 1), size=rng.poisson(3)):
        if j + 2 < nb and ends[j + 1] - starts[j + 1] == ends[j] - starts[j]:
            a, b, c = starts[j], starts[j + 1], ends[j + 1]
            x[a:c] = np.concatenate([x[b:c], x[a:b]])
    for _ in range(rng.poisson(1)):  # the sensor clock jumps back (or far forward); to last_x - jump_s: the threshold
        step = 0.5 + 1 / rate_hz if rng.random() < 0.3 else rng.uniform(0.3, 100)
        x[starts[rng.integers(nb)]:] += rng.choice([-1, 1]) * step
    for j in rng.integers(0, nb, size=rng.poisson(1)):  # arrives before it was sampled
        y[starts[j]:ends[j]] -= rng.choice([0.5, 0.75]) if perfect else rng.uniform(0.3, 3)
    for _ in range(rng.poisson(2)):  # NaN sensor times or arrivals (samples or a whole notification)
        j = rng.integers(nb)
        z = x if rng.random() < 0.5 else y
        if rng.random() < 0.5:
            z[starts[j]:ends[j]] = np.nan
        else:
            z[rng.integers(starts[j], ends[j])] = rng.choice([np.nan, np.inf, -np.inf])
    return x, y, starts


def blocks_of(starts: np.ndarray, n: int) -> list[tuple[int, int]]:
    ends = np.append(starts[1:], n)
    return [(int(a), int(e)) for a, e in zip(starts, ends)]


def loop(sync: Any, x: np.ndarray, y: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, type | None]:
    """``update`` then ``to_session`` block by block (the live path); the error type if one stopped it."""
    out = np.full(x.size, -1.0)
    for a, e in blocks_of(starts, x.size):
        sync.update(x[a:e], y[a:e])
        try:
            out[a:e] = sync.to_session(x[a:e])
        except RuntimeError:
            return out, RuntimeError
    return out, None


def blocks(sync: ClockSync, x: np.ndarray, y: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, type | None]:
    out = np.full(x.size, -1.0)
    try:
        out = sync.map_blocks(x, y, starts)
    except RuntimeError:
        return out, RuntimeError
    return out, None


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("seed", range(60))
def test_map_blocks_and_live_equal_the_numpy_reference(seed: int, mode: str | None = None) -> None:
    """One random stream in random runs of notifications, a reset between some runs: ``map_blocks``,
    the live loop of the kernel and the reference's loop give the same session times and state."""
    x, y, starts = random_stream(seed, mode)
    rng = np.random.default_rng(1000 + seed)
    ref, live, bulk = ReferenceClockSync(), ClockSync(), ClockSync()
    if seed % 2:  # start with no room for bins: the arrays grow as they must
        for s in (live, bulk):
            s._bins_x, s._bins_y = np.zeros(1), np.zeros(1)
    cuts = np.unique(np.concatenate([[0], rng.integers(0, starts.size, size=rng.integers(0, 6)), [starts.size]]))
    for c0, c1 in zip(cuts[:-1], cuts[1:]):
        a, e = int(starts[c0]), int(starts[c1]) if c1 < starts.size else x.size
        st = starts[c0:c1] - a
        want, err = loop(ref, x[a:e], y[a:e], st)
        got_live, err_live = loop(live, x[a:e], y[a:e], st)
        got, err_bulk = blocks(bulk, x[a:e], y[a:e], st)
        assert err_live == err_bulk == err
        assert same_bits(got_live, want) and same_bits(got, want)
        assert new_state(live) == new_state(bulk) == ref_state(ref)
        if rng.random() < 0.3:
            keep = bool(rng.random() < 0.7)
            for s in (ref, live, bulk):
                s.reset(keep_drift=keep)


@pytest.mark.parametrize("seed", range(100, 140))
def test_exact_ties_equal_the_numpy_reference(seed: int) -> None:
    """Perfect clocks on dyadic numbers: ties everywhere (first minimum, thresholds hit exactly)."""
    test_map_blocks_and_live_equal_the_numpy_reference(seed, "perfect")


@pytest.mark.parametrize("seed", range(40))
def test_any_sequence_of_calls_equals_the_numpy_reference(seed: int) -> None:
    """Random calls on one stream: ``update`` of several notifications at once (no mapping in
    between: a stale map), ``to_session`` of arrays and scalars, ``map_blocks``, ``clock_map``,
    ``drift_ppm``, ``reset``; after each, the result and the state equal the reference's."""
    x, y, starts = random_stream(seed + 500)
    rng = np.random.default_rng(2000 + seed)
    ref, new = ReferenceClockSync(), ClockSync()
    if seed % 3 == 0:
        new._bins_x, new._bins_y = np.zeros(2), np.zeros(2)
    j, nb = 0, starts.size
    bounds = np.append(starts, x.size)
    while j < nb:
        op = rng.choice(["update", "map_blocks", "to_session", "clock_map", "drift", "reset"], p=[.35, .35, .1, .08, .04, .08])
        k = min(nb, j + int(rng.integers(1, 200)))
        a, e = int(bounds[j]), int(bounds[k])
        if op == "update":
            ref.update(x[a:e], y[a:e])
            new.update(x[a:e], y[a:e])
            j = k
        elif op == "map_blocks":
            want, err = loop(ref, x[a:e], y[a:e], starts[j:k] - a)
            got, err_new = blocks(new, x[a:e], y[a:e], starts[j:k] - a)
            assert err_new == err and same_bits(got, want)
            j = k
        elif op == "to_session":
            q = x[a:e] if rng.random() < 0.7 else float(x[a])
            try:
                want = ref.to_session(q)
            except RuntimeError:
                with pytest.raises(RuntimeError):
                    new.to_session(q)
            else:
                assert same_bits(new.to_session(q), want)
        elif op == "clock_map":
            assert _map_bits(new.clock_map()) == _map_bits(ref.clock_map())
        elif op == "drift":
            assert _bits(new.drift_ppm) == _bits(ref.drift_ppm)
        else:
            keep = bool(rng.random() < 0.7)
            ref.reset(keep_drift=keep)
            new.reset(keep_drift=keep)
        assert new_state(new) == ref_state(ref), op


def test_long_stream_across_many_window_drops() -> None:
    """30 minutes of a 208 Hz sensor (±200 ppm, jitter, a clock jump): ``map_blocks`` in one call
    equals the reference's loop, and the window keeps about window_s / bin_s bins."""
    rng = np.random.default_rng(7)
    n, per = 208 * 1800, 4
    x = 123.0 + np.arange(n) / 208.0
    x[n // 2:] -= 5.0
    ends = np.arange(per, n + 1, per)
    y = np.repeat(x[ends - 1] * (1 - 170e-6) + 3.0 + rng.exponential(0.02, ends.size), per)
    starts = ends - per
    ref, new = ReferenceClockSync(), ClockSync()
    want, _ = loop(ref, x, y, starts)
    got = new.map_blocks(x, y, starts)
    assert same_bits(got, want) and new_state(new) == ref_state(ref)
    assert new.jumps == 1 and int(new._ist[S._I_N_BINS]) <= 2 * 60.0 / 0.5


def test_map_blocks_before_any_pair_raises_as_to_session() -> None:
    """A first notification with no finite pair leaves nothing to map with: RuntimeError, as the loop."""
    x = np.array([np.nan, 1.0, 2.0])
    y = np.array([0.5, np.nan, 2.1])
    with pytest.raises(RuntimeError):
        ClockSync().map_blocks(x, y, np.array([0, 2]))
    s = ClockSync()
    assert s.map_blocks(x[2:], y[2:], np.array([0])).tolist() == [2.1]
    assert s.map_blocks(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)).size == 0


def test_map_blocks_rejects_starts_outside_the_samples() -> None:
    """The kernel indexes without bounds checks: ``starts`` is checked first."""
    x = np.arange(10.0)
    for starts in ([0, 12], [0, 5, 3], [-1, 4]):
        with pytest.raises(ValueError):
            ClockSync().map_blocks(x, x + 0.01, np.array(starts))
