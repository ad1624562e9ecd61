# The walking detector at f04c4ce (src/hipmon/gait_events.py then): the Python oracle of the compiled one
# (hipmon.walk_kernels), used by tests/events_reference.py and tests/test_walk_kernel.py. Not to be edited.
"""Walking steps from the pelvis's vertical specific force (one sacral sensor is enough).

Physics (Zijlstra & Hof 2003; Perry 1992): in walking the pelvis, riding close
to the centre of mass, is lowest, and its upward acceleration (vertical
specific force ``f``) highest, in double support, which starts at initial
contact (IC) of the leading leg and ends at toe-off (TO) of the trailing one.
So every step gives one peak of ``f`` smoothed over a ~0.3 s window (the heel
strike transient and soft tissue ringing averaged out). Double support lasts
``double_support_fraction`` (≈ 12 %) of the stride in normal walking (duty
factor 0.62), so

- IC ≈ step peak − ½ · double support;
- TO of the other leg ≈ IC + double support, i.e. the stance of a leg ends
  one double support after the *next* initial contact.

With the thighs there, each IC is then moved to the heel-strike transient
of the landing thigh: the impact of the heel sends a sharp spike through the
leg (peak |specific force| − g of 6–9 m/s² on real lateral-thigh sensors,
10–20 ms after the heel touches), the largest peak of the landing thigh's
|specific force| within ``heel_strike_before_s`` before to
``heel_strike_after_s`` after the pelvis estimate; a stride's other bumps
(loading, the other leg's push-off) come later. Without the spike (under
``heel_strike_min``) the pelvis estimate stands.

The side of each IC comes from the thighs when they are there (the leading,
more flexed hip is the one landing) and otherwise from the pelvis's rotation
about the vertical: the pelvis rotates forward on the side of the swinging
leg, so at a right IC the right side is furthest forward and the rotation
rate about the vertical (+ = right side moving forward, DESIGN section 2)
turns from + to − (McCamley 2012 uses the same sign change of the vertical
gyro, band-passed; here its mean change across IC, which a turn's constant
rate does not affect).

Everything is causal: the smoothing is a symmetric triangle (two running
box means), evaluated ``smooth_s`` behind the newest sample, and every
decision is taken sample by sample on the same state, so chunking never
changes the result. Units: s, m/s², rad/s, degrees for hip flexion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from hipmon.types import ANGLE_COLUMNS, Frames

G = 9.81


@dataclass(frozen=True)
class WalkConfig:
    """Parameters of the pelvis step detector (s, m/s², fractions of the stride)."""

    smooth_s: float = 0.15  # each of the two box means; triangle of 2 × this
    min_step_rise: float = 1.0  # m/s²: smoothed f must rise this much from the previous trough (standing ≈ 0.1)
    min_step_s: float = 0.25  # step time range (cadence 60-240 steps/min)
    max_step_s: float = 1.0
    double_support_fraction: float = 0.12  # of the stride (Perry 1992: duty 0.62)
    side_window_s: float = 0.15  # pelvis rate means before/after IC for the side
    # heel-strike transient on the landing thigh (when the thighs are there)
    heel_strike_before_s: float = 0.12  # search window around the pelvis estimate of the IC
    heel_strike_after_s: float = 0.03
    heel_strike_min: float = 2.0  # m/s²: the thigh's |specific force| − g must peak at least this high


class _BoxMean:
    """Running mean of the last ``n`` values, pushed in chunks of any size (the same numbers however chunked)."""

    def __init__(self, n: int) -> None:
        self.n = max(1, int(n))
        self.q = np.empty(0)  # the last (up to) n values pushed
        self.s = 0.0  # their running sum

    def push_many(self, x: np.ndarray) -> np.ndarray:
        """Push each value of ``x`` (K,): the mean of the last ``n`` after each (K,), NaN until ``n``
        values have come.

        The running sum adds each value and then subtracts the one leaving the window, left to right,
        as one sequential ``cumsum`` (``np.add.accumulate`` adds in order): sample by sample, the
        same numbers bit for bit."""
        x = np.asarray(x, dtype=float)
        k, n, q0 = x.size, self.n, self.q.size
        if k == 0:
            return np.empty(0)
        every = np.concatenate([self.q, x])
        p = q0 + np.arange(k)  # position of each new value in ``every``
        pops = np.where(p >= n, -every[np.maximum(p - n, 0)], 0.0)
        ops = np.empty(2 * k + 1)
        ops[0], ops[1::2], ops[2::2] = self.s, x, pops
        sums = np.cumsum(ops)[2::2]
        # ``s - 0.0`` is ``s`` (no pop): the same number as not subtracting
        self.s = float(sums[-1])
        self.q = every[-n:].copy()
        return np.where(p + 1 >= n, sums / n, np.nan)


#: Columns of ``History`` (the detectors' inputs per valid sample).
H_T, H_F, H_WL, H_WR, H_WP, H_FL, H_FR, H_WANT, H_WUP, H_AL, H_AR, H_S = range(12)


class History:
    """The detectors' inputs of the valid samples so far, by stream index (0 = first valid sample).

    ``x`` (K, 12): time (s), pelvis vertical specific force (m/s²), thigh and pelvis rates about
    Z (rad/s), hip flexions (deg), the pelvis rates about its anterior and superior axes
    (rad/s), the thighs' |specific force| (m/s²) and the walking detector's smoothed force
    (m/s², NaN before its windows fill); row ``g - base`` is stream sample ``g``. The windows
    the detectors look back over (at most 3 s, and the smoothing's samples) are read from here
    instead of queues kept sample by sample."""

    def __init__(self) -> None:
        self.base = 0
        self.x = np.empty((0, 12))

    @property
    def end(self) -> int:
        return self.base + len(self.x)

    def append(self, rows: np.ndarray) -> None:
        self.x = np.concatenate([self.x, rows]) if len(self.x) else np.array(rows, dtype=float)

    def trim(self, keep_s: float, keep_n: int) -> None:
        """Drop rows older than ``keep_s`` before the newest, keeping at least ``keep_n`` rows."""
        if len(self.x) <= keep_n:
            return
        cut = min(int(np.searchsorted(self.x[:, H_T], self.x[-1, H_T] - keep_s)), len(self.x) - keep_n)
        if cut > 0:
            self.x = self.x[cut:]
            self.base += cut

    def at(self, g: int, col: int) -> float:
        return float(self.x[g - self.base, col])

    def since(self, g: int, t_from: float, g_from: int = 0) -> np.ndarray:
        """Rows of samples ``max(g_from, ...) .. g`` with time >= ``t_from`` (s)."""
        b = g - self.base + 1
        lo = max(g_from - self.base, 0)
        a = lo + int(np.searchsorted(self.x[lo:b, H_T], t_from, side="left"))
        return self.x[a:b]


@dataclass
class Step:
    """One initial contact found by the walking detector."""

    ic_s: float
    side: str
    stride_s: float
    peak_s: float


class PelvisStepDetector:
    """Initial contacts (with side) and stance ends from walking, sample by sample.

    Works on a ``History``: ``prepare(h, g0)`` after rows ``g0..`` were appended (the
    smoothing, in bulk); ``step(h, g, muted)`` for a sample ``g`` (in order) returns finished
    stances as tuples ``(side, ic_s, to_s, stride_s, detected_s)``. A sample for which
    ``step`` would do nothing but update running state may be skipped: ``candidates`` lists
    the samples where a step peak may be found, ``next_due`` the first sample at which an
    open stance ends or the walk stops; any other sample is such a no-op (a muted run only
    needs its first sample). The inputs: ``f`` in m/s² (+9.81 at rest), the pelvis angular
    rate about the vertical in rad/s (+ = right side forward) and the hip flexion angles in
    degrees (NaN when the thighs are missing).
    """

    def __init__(self, cfg: WalkConfig | None = None) -> None:
        self.cfg = cfg or WalkConfig()
        self.dt: float | None = None
        self.n = 0  # samples per box mean
        self.t_first: list[float] = []
        self.g_start: int | None = None  # stream index of the first sample after the set-up
        self.box1: _BoxMean | None = None
        self.box2: _BoxMean | None = None
        self.trough = np.inf
        self.trough_upto = -1  # the trough includes the smoothed force of samples up to this one
        self.peaks: list[float] = []
        self.open: list[Step] = []  # ICs whose stance has not ended yet
        self.last_side: str | None = None
        self.last_ic: float | None = None
        self.votes = 0  # steps alternate: + votes say the bout's even ICs are right
        self.n_in_bout = 0

    def prepare(self, h: History, g0: int) -> None:
        """Set-up (sample interval from the first 5 samples) and the smoothed force of rows ``g0..``."""
        g = g0
        while self.dt is None and g < h.end:  # the 5th sample is the first one stepped
            self.t_first.append(h.at(g, H_T))
            if len(self.t_first) == 5:
                self.dt = float(np.median(np.diff(self.t_first)))
                self.n = max(1, int(round(self.cfg.smooth_s / self.dt)))
                self.box1, self.box2 = _BoxMean(self.n), _BoxMean(self.n)
                self.g_start = g
                break
            g += 1
        if self.box1 is None or self.box2 is None or g >= h.end:
            return
        rows = h.x[g - h.base:]
        m1 = self.box1.push_many(rows[:, H_F])
        full = np.isfinite(m1)
        s = np.full(len(rows), np.nan)
        s[full] = self.box2.push_many(m1[full])
        rows[:, H_S] = s

    def candidates(self, h: History, g0: int) -> np.ndarray:
        """Stream indices >= ``g0`` (after the set-up) where ``step`` may find a peak (a local maximum
        of the smoothed force, checked one sample later) or has no smoothed history yet."""
        if self.g_start is None:
            return np.empty(0, dtype=np.int64)
        g0 = max(g0, self.g_start)
        lo = max(g0 - 2, h.base)
        s = h.x[lo - h.base:, H_S]
        if s.size == 0:
            return np.empty(0, dtype=np.int64)
        sp2, sp, cur = s[:-2], s[1:-1], s[2:]
        idx = lo + 2 + np.flatnonzero((sp2 < sp) & (sp >= cur))
        # samples whose step sees a None among s, s_prev, s_prev2 (the first of the stream)
        first_full = self.g_start + 2 * self.n + 1
        warm = np.arange(g0, min(first_full, h.end))
        return np.union1d(idx[idx >= g0], warm)

    def next_due(self, h: History, g_from: int, g_end: int) -> int:
        """The first sample in ``g_from..g_end-1`` at which an open stance ends (its toe-off is
        reached) or the walk stops (no step for too long); ``g_end`` if none."""
        if not self.open or self.g_start is None:
            return g_end
        cfg = self.cfg
        last = self.open[-1]
        stop = cfg.max_step_s + 0.25
        due = first_true(h, max(g_from, self.g_start), g_end, lambda t: t - last.peak_s > stop,
                         last.peak_s + stop)
        if len(self.open) >= 2:
            to = self._to(self.open[0], self.open[1])
            due = min(due, first_true(h, max(g_from, self.g_start), g_end, lambda t: t >= to, to))
        return due

    def step(self, h: History, g: int, muted: bool = False) -> list[tuple[str, float, float, float, float]]:
        out: list[tuple[str, float, float, float, float]] = []
        if self.g_start is None or g < self.g_start:
            return out
        cfg = self.cfg
        t = h.at(g, H_T)
        # stances that ended (TO reached) are reported now
        while len(self.open) >= 2 and t >= self._to(self.open[0], self.open[1]):
            a, b = self.open[0], self.open[1]
            to = self._to(a, b)
            self.last_ic = self.open.pop(0).ic_s
            if not muted:
                out.append((a.side, a.ic_s, to, a.stride_s, t))
        if self.open and t - self.open[-1].peak_s > cfg.max_step_s + 0.25:
            # the walk stopped: the last stance ends in standing, reported with a normal stance time
            # (duty factor 0.5 + double support), and only when it followed a real step (>= 2 ICs)
            last = self.open[-1]
            if len(self.open) == 1 and self.last_ic is not None and not muted:
                to = last.ic_s + (0.5 + cfg.double_support_fraction) * last.stride_s
                out.append((last.side, last.ic_s, to, last.stride_s, t))
            self.open.clear()
        s = h.at(g, H_S)
        if not math.isfinite(s):  # no smoothed force yet (it is finite once the box means are full)
            return out
        sp = h.at(g - 1, H_S) if g - 1 >= self.g_start else math.nan
        sp2 = h.at(g - 2, H_S) if g - 2 >= self.g_start else math.nan
        self._fold_trough(h, g)  # the lowest smoothed force since the last peak (the samples skipped included)
        if muted:
            self.peaks.clear()
            self.open.clear()
            return out
        if math.isfinite(sp) and math.isfinite(sp2) and sp2 < sp >= s and sp - self.trough >= cfg.min_step_rise:
            self.trough = s
            self._peak(h, g, h.at(max(g - self.n, self.g_start), H_T))
        return out

    def settle(self, h: History) -> None:
        """Fold the smoothed force of every sample so far into the trough (what stepping each would do),
        so that older rows of ``h`` can be dropped."""
        if self.g_start is not None:
            self._fold_trough(h, h.end - 1)

    def _fold_trough(self, h: History, g: int) -> None:
        """Lower the trough to the smoothed force of the samples after the last folded one up to ``g``."""
        assert self.g_start is not None
        lo = max(self.trough_upto + 1, self.g_start)
        if g >= lo:
            seg = h.x[lo - h.base:g - h.base + 1, H_S]
            seg = seg[np.isfinite(seg)]
            if seg.size:
                self.trough = min(self.trough, float(seg.min()))
            self.trough_upto = g

    def _to(self, a: Step, b: Step) -> float:
        return b.ic_s + self.cfg.double_support_fraction * a.stride_s

    def _recent(self, h: History, g: int) -> np.ndarray:
        """The samples the detector remembers at ``g``: the last 3 s after the set-up (rows of ``h``)."""
        assert self.g_start is not None
        return h.since(g, h.at(g, H_T) - 3.0, self.g_start)

    def _peak(self, h: History, g: int, t_peak: float) -> None:
        cfg = self.cfg
        prev = self.peaks[-1] if self.peaks else None
        self.peaks = (self.peaks + [t_peak])[-3:]
        if prev is None or not cfg.min_step_s <= t_peak - prev <= cfg.max_step_s:
            self.open.clear()
            self.last_ic = None
            self.last_side = None
            return
        steps = np.diff(self.peaks)
        steps = steps[(steps >= cfg.min_step_s) & (steps <= cfg.max_step_s)]
        stride = 2.0 * float(np.mean(steps))
        half_ds = 0.5 * cfg.double_support_fraction * stride
        recent = self._recent(h, g)
        if not self.open or self.open[-1].peak_s < prev - 1e-9:
            # first step of a bout: the previous peak becomes an IC too
            ic0 = prev - half_ds
            self.votes, self.n_in_bout = 0, 0
            side0 = self._vote(recent, ic0)
            self.open = [Step(self._heel_strike(recent, ic0, side0), side0, stride, prev)]
        ic = t_peak - half_ds
        side = self._vote(recent, ic)
        self.open.append(Step(self._heel_strike(recent, ic, side), side, stride, t_peak))

    def _heel_strike(self, recent: np.ndarray, ic: float, side: str) -> float:
        """The IC at the landing thigh's heel-strike transient near the pelvis estimate ``ic`` (s), else ``ic``."""
        col = H_AL if side == "left" else H_AR
        t = recent[:, H_T]
        near = (ic - self.cfg.heel_strike_before_s <= t) & (t <= ic + self.cfg.heel_strike_after_s) \
            & np.isfinite(recent[:, col])
        if np.count_nonzero(near) < 3:
            return ic
        k = int(np.argmax(recent[near, col]))  # the first of equal maxima, as ``max`` gives
        t_max, f_max = float(t[near][k]), float(recent[near, col][k])
        return t_max if f_max - G >= self.cfg.heel_strike_min else ic

    def _vote(self, recent: np.ndarray, ic: float) -> str:
        """Side of the k-th IC of a bout: steps alternate, and the parity is the majority of the ICs' own cues so far."""
        own = self._side(recent, ic)
        even = self.n_in_bout % 2 == 0
        self.votes += 1 if (own == "right") == even else -1
        self.n_in_bout += 1
        if self.votes == 0:
            return own
        return ("right" if even else "left") if self.votes > 0 else ("left" if even else "right")

    def _side(self, recent: np.ndarray, ic: float) -> str:
        """Side of the IC at ``ic``: the more flexed hip, else the pelvis (``side_from_pelvis_rates``)."""
        w = recent[np.abs(recent[:, H_T] - ic) <= self.cfg.side_window_s]
        if not len(w):
            return "left" if self.last_side == "right" else "right"
        near = w[int(np.argmin(np.abs(w[:, H_T] - ic)))]  # the first of equally near, as ``min`` gives
        if np.isfinite(near[H_FL]) and np.isfinite(near[H_FR]):
            return "left" if near[H_FL] > near[H_FR] else "right"
        side = side_from_pelvis_rates(w[:, H_T], w[:, H_WANT], w[:, H_WUP], ic, self.cfg.side_window_s)
        return side or ("left" if self.last_side == "right" else "right")


def first_true(h: History, g_from: int, g_end: int, when: Callable[[float], bool], near_s: float) -> int:
    """The first sample ``g`` in ``g_from..g_end-1`` whose time satisfies ``when`` (a condition that,
    once true, stays true as time goes on), else ``g_end``. ``near_s``: about where it turns true
    (s); the answer is found there with ``searchsorted``, then settled with the condition itself."""
    t = h.x[:, H_T]
    lo, hi = g_from - h.base, g_end - h.base
    if lo >= hi:
        return g_end
    k = lo + int(np.searchsorted(t[lo:hi], near_s))
    while k > lo and when(float(t[k - 1])):
        k -= 1
    while k < hi and not when(float(t[k])):
        k += 1
    return k + h.base


def side_from_pelvis_rates(time_s: np.ndarray, rate_anterior: np.ndarray, rate_vertical: np.ndarray, ic_s: float,
                           window_s: float) -> str | None:
    """Stance side of a contact at ``ic_s`` from the pelvis angular rate (rad/s, pelvis X anterior, Y up).

    Preferred: pelvic obliquity. Loading a leg lets the other side of the pelvis
    drop (the contralateral drop, DESIGN section 2), so obliquity (+ = right side
    higher = rotation about −X) starts to rise at a right IC and to fall at a left
    one: the mean of −``rate_anterior`` over ``window_s`` after IC minus its mean
    over ``window_s`` before. When the anterior axis is unknown (NaN): the pelvis
    rotation about the vertical (at a right IC the right side is furthest forward
    and turns back, McCamley 2012), the weaker cue on real walking. None if neither.
    """
    t = np.asarray(time_s, dtype=float)
    before = (t >= ic_s - window_s) & (t < ic_s)
    after = (t >= ic_s) & (t <= ic_s + window_s)
    if not before.any() or not after.any():
        return None
    for rate, sign in ((rate_anterior, -1.0), (rate_vertical, -1.0)):
        r = np.asarray(rate, dtype=float)
        d = sign * (np.mean(r[after]) - np.mean(r[before]))
        if np.isfinite(d):
            return "right" if d > 0 else "left"  # obliquity rises / rotation rate falls at a right IC
    return None


# ---------------------------------------------------------------- inputs without the pipeline


def pelvis_only_frames(time_s: np.ndarray, acc_sensor: np.ndarray, gyr_sensor: np.ndarray, rate_hz: float,
                       forward_axis_sensor: np.ndarray | None = None, filter_name: str = "vqf") -> Frames:
    """``Frames`` for a lone sacral sensor, built with a fusion filter (no calibration).

    What the event detector needs from a sacrum-only pipeline: ``acc_global["pelvis"]``
    (N, 3) m/s² with column 1 the vertical specific force (+9.81 at rest) and
    ``gyr_segment["pelvis"]`` (N, 3) rad/s with column 1 the rate about the vertical
    (+ = right side moving forward, i.e. anticlockwise seen from above), column 0
    the rate about the pelvis's anterior axis (for the side of each contact).
    Here the frame is levelled from the filter's orientation (Y up) with X the
    horizontal part of ``forward_axis_sensor`` (the sensor axis pointing
    anterior, (3,), what a sacrum-only calibration finds); without it X and Z
    are NaN. Angles and the thighs are NaN/absent.
    """
    from hipmon import rotations as rot
    from hipmon.fusion import make_filter

    t = np.asarray(time_s, dtype=float)
    acc = np.asarray(acc_sensor, dtype=float)
    gyr = np.asarray(gyr_sensor, dtype=float)
    q = make_filter(filter_name, rate_hz).update(acc, gyr)
    a_e, w_e = rot.rotate(q, acc), rot.rotate(q, gyr)
    up = np.array([0.0, 0.0, 1.0])
    if forward_axis_sensor is None:
        x = np.full((t.size, 3), np.nan)
    else:
        x = rot.rotate(q, np.broadcast_to(np.asarray(forward_axis_sensor, dtype=float), (t.size, 3)))
        x[:, 2] = 0.0
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    z = np.cross(x, up)  # right = forward × up
    frame = lambda v: np.stack([np.sum(v * x, 1), v[:, 2], np.sum(v * z, 1)], axis=1)  # noqa: E731
    ang = np.full((t.size, len(ANGLE_COLUMNS)), np.nan)
    acc_g = np.stack([np.zeros(t.size), a_e[:, 2], np.zeros(t.size)], axis=1) if forward_axis_sensor is None \
        else frame(a_e)
    return Frames(t, ang, {"pelvis": frame(w_e)}, {"pelvis": acc_g}, np.ones(t.size, bool))


def without_thighs(frames: Frames) -> Frames:
    """The same frames as a sacrum-only session would give: thigh signals absent, hip angles NaN."""
    ang = np.array(frames.angles_deg, dtype=float, copy=True)
    for j, c in enumerate(ANGLE_COLUMNS):
        if c.startswith("hip_"):
            ang[:, j] = np.nan
    return Frames(np.asarray(frames.time_s), ang, {"pelvis": np.asarray(frames.gyr_segment["pelvis"])},
                      {"pelvis": np.asarray(frames.acc_global["pelvis"])}, np.asarray(frames.valid, bool))
