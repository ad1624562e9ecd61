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

from collections import deque
from dataclasses import dataclass

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
    """Running mean of the last ``n`` values (deterministic sample by sample)."""

    def __init__(self, n: int) -> None:
        self.n = max(1, int(n))
        self.q: deque[float] = deque()
        self.s = 0.0

    def push(self, x: float) -> float | None:
        self.q.append(x)
        self.s += x
        if len(self.q) > self.n:
            self.s -= self.q.popleft()
        return self.s / self.n if len(self.q) == self.n else None


@dataclass
class Step:
    """One initial contact found by the walking detector."""

    ic_s: float
    side: str
    stride_s: float
    peak_s: float


class PelvisStepDetector:
    """Initial contacts (with side) and stance ends from walking, sample by sample.

    ``step(t, f_vertical, rate_vertical, flex_left, flex_right)`` with ``f``
    in m/s² (+9.81 at rest), the pelvis angular rate about the vertical in
    rad/s (+ = right side forward) and the hip flexion angles in degrees (NaN
    when the thighs are missing). Returns finished stances as tuples
    ``(side, ic_s, to_s, stride_s, detected_s)``.
    """

    def __init__(self, cfg: WalkConfig | None = None) -> None:
        self.cfg = cfg or WalkConfig()
        self.dt: float | None = None
        self.t_first: list[float] = []
        self.box1: _BoxMean | None = None
        self.box2: _BoxMean | None = None
        self.hist: deque[tuple[float, ...]] = deque()  # (t, rate_ant, rate_vert, flex_l, flex_r, |f_l|, |f_r|)
        self.times: deque[float] = deque()  # the last N + 1 sample times (N = box length)
        self.s_prev2: float | None = None
        self.s_prev: float | None = None
        self.trough = np.inf
        self.peaks: list[float] = []
        self.open: list[Step] = []  # ICs whose stance has not ended yet
        self.last_side: str | None = None
        self.last_ic: float | None = None
        self.votes = 0  # steps alternate: + votes say the bout's even ICs are right
        self.n_in_bout = 0

    def _setup(self, t: float) -> bool:
        if self.dt is not None:
            return True
        self.t_first.append(t)
        if len(self.t_first) < 5:
            return False
        self.dt = float(np.median(np.diff(self.t_first)))
        n = int(round(self.cfg.smooth_s / self.dt))
        self.box1, self.box2 = _BoxMean(n), _BoxMean(n)
        return True

    def step(self, t: float, f: float, rate_anterior: float, rate_vertical: float, flex_l: float, flex_r: float,
             muted: bool = False, thigh_force_l: float = np.nan,
             thigh_force_r: float = np.nan) -> list[tuple[str, float, float, float, float]]:
        out: list[tuple[str, float, float, float, float]] = []
        if not self._setup(t):
            return out
        cfg = self.cfg
        self.hist.append((t, rate_anterior, rate_vertical, flex_l, flex_r, thigh_force_l, thigh_force_r))
        while self.hist and self.hist[0][0] < t - 3.0:
            self.hist.popleft()
        self.times.append(t)
        assert self.box1 is not None and self.box2 is not None
        n = self.box1.n
        while len(self.times) > n + 1:
            self.times.popleft()  # times[0]: the centre of the previous smoothed sample (n - 1 - (N - 1))
        m1 = self.box1.push(f)
        s = None if m1 is None else self.box2.push(m1)
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
        if s is None:
            return out
        sp, sp2 = self.s_prev, self.s_prev2
        self.s_prev2, self.s_prev = sp, s
        self.trough = min(self.trough, s)
        if muted:
            self.peaks.clear()
            self.open.clear()
            return out
        if sp is not None and sp2 is not None and sp2 < sp >= s and sp - self.trough >= cfg.min_step_rise:
            self.trough = s
            self._peak(self.times[0])
        return out

    def _to(self, a: Step, b: Step) -> float:
        return b.ic_s + self.cfg.double_support_fraction * a.stride_s

    def _peak(self, t_peak: float) -> None:
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
        if not self.open or self.open[-1].peak_s < prev - 1e-9:
            # first step of a bout: the previous peak becomes an IC too
            ic0 = prev - half_ds
            self.votes, self.n_in_bout = 0, 0
            side0 = self._vote(ic0)
            self.open = [Step(self._heel_strike(ic0, side0), side0, stride, prev)]
        ic = t_peak - half_ds
        side = self._vote(ic)
        self.open.append(Step(self._heel_strike(ic, side), side, stride, t_peak))

    def _heel_strike(self, ic: float, side: str) -> float:
        """The IC at the landing thigh's heel-strike transient near the pelvis estimate ``ic`` (s), else ``ic``."""
        col = 5 if side == "left" else 6
        h = [(x[0], x[col]) for x in self.hist
             if ic - self.cfg.heel_strike_before_s <= x[0] <= ic + self.cfg.heel_strike_after_s and np.isfinite(x[col])]
        if len(h) < 3:
            return ic
        t_max, f_max = max(h, key=lambda x: x[1])
        return t_max if f_max - G >= self.cfg.heel_strike_min else ic

    def _vote(self, ic: float) -> str:
        """Side of the k-th IC of a bout: steps alternate, and the parity is the majority of the ICs' own cues so far."""
        own = self._side(ic)
        even = self.n_in_bout % 2 == 0
        self.votes += 1 if (own == "right") == even else -1
        self.n_in_bout += 1
        if self.votes == 0:
            return own
        return ("right" if even else "left") if self.votes > 0 else ("left" if even else "right")

    def _side(self, ic: float) -> str:
        """Side of the IC at ``ic``: the more flexed hip, else the pelvis (``side_from_pelvis_rates``)."""
        h = [x for x in self.hist if abs(x[0] - ic) <= self.cfg.side_window_s]
        if not h:
            return "left" if self.last_side == "right" else "right"
        near = min(h, key=lambda x: abs(x[0] - ic))
        if np.isfinite(near[3]) and np.isfinite(near[4]):
            return "left" if near[3] > near[4] else "right"
        arr = np.array(h)
        side = side_from_pelvis_rates(arr[:, 0], arr[:, 1], arr[:, 2], ic, self.cfg.side_window_s)
        return side or ("left" if self.last_side == "right" else "right")


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
