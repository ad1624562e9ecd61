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


#: The room ``PelvisStepDetector.run`` makes for confirmed stances to start with: one per this many samples.
SAMPLES_PER_STANCE = 8


class PelvisStepDetector:
    """Initial contacts (with side) and stance ends from walking, sample by sample, and their
    confirmation (no flight ``walk_confirm_s`` after the toe-off, ``hipmon.events``).

    ``run(h, g0, ...)`` after rows ``g0..`` were appended to a ``History`` steps them (compiled:
    ``hipmon.walk_kernels.walk_run``; its state is one vector, ``state``, and the box means'
    values, ``ring``) and fills their smoothed force (``H_S``). The inputs: ``f`` in m/s² (+9.81 at
    rest), the pelvis angular rates in rad/s (+ = right side forward about the vertical), the hip
    flexion angles in degrees and the thighs' |specific force| in m/s² (NaN when the thighs are
    missing). The Python detector it replaced is tests/gait_events_reference.py.
    """

    def __init__(self, cfg: WalkConfig | None = None) -> None:
        from hipmon.walk_kernels import walk_state

        self.cfg = cfg or WalkConfig()
        self.dt: float | None = None
        self.n = 0  # samples per box mean
        self.t_first: list[float] = []
        self.g_start: int | None = None  # stream index of the first sample after the set-up
        self.state = walk_state()
        self.ring = np.zeros(0)

    def _set_up(self, h: History, g0: int) -> None:
        """The sample interval from the first 5 samples (the 5th is the first one stepped)."""
        g = g0
        while self.dt is None and g < h.end:
            self.t_first.append(h.at(g, H_T))
            if len(self.t_first) == 5:
                self.dt = float(np.median(np.diff(self.t_first)))
                self.n = max(1, int(round(self.cfg.smooth_s / self.dt)))
                self.ring = np.zeros(2 * self.n)
                self.g_start = g
            g += 1

    def run(self, h: History, g0: int, in_flight: np.ndarray, hold_s: float, confirm_s: float,
            want_stances: bool = True) -> list[tuple[int, str, float, float, float, float]]:
        """Step the samples ``g0..h.end-1``: the stances confirmed, in order, as
        ``(sample, side, ic_s, to_s, stride_s, detected_s)``.

        ``in_flight`` (K,) bool: the contact detector in flight after each sample; it drops the
        stances not confirmed yet and mutes the detector for ``hold_s`` (running nearby: steps
        neither found nor reported). A stance is confirmed ``confirm_s`` after its toe-off. Without
        ``want_stances`` none is reported."""
        from hipmon import walk_kernels as wk

        k = h.end - g0
        if k <= 0:
            return []
        self._set_up(h, g0)
        cfg = self.cfg
        params = np.array([cfg.min_step_rise, cfg.min_step_s, cfg.max_step_s, cfg.double_support_fraction,
                           cfg.side_window_s, cfg.heel_strike_before_s, cfg.heel_strike_after_s, cfg.heel_strike_min,
                           confirm_s, float(want_stances), hold_s])
        in_flight = np.ascontiguousarray(in_flight, dtype=np.bool_)
        out = np.empty((16 + k // SAMPLES_PER_STANCE, 6))  # more made when needed
        g_start = h.end if self.g_start is None else self.g_start
        n, g = 0, g0
        while True:
            n, g = wk.walk_run(self.state, self.ring, h.x, h.base, g, g_start, self.n, in_flight[g - g0:], params,
                               out, n)
            if g >= h.end:
                break
            # stopped before sample g for want of room: in the state (many stances open or waiting, as
            # when time steps back) or in ``out``
            st = self.state
            cap, n_open, n_queue = (st.size - wk.WS_HEAD) // 8, int(st[wk.WS_N_OPEN]), int(st[wk.WS_N_QUEUE])
            if n_open + 2 > cap or n_queue + n_open + 1 > cap:
                self.state = wk.grown(st)
            else:
                out = np.concatenate([out, np.empty((len(out) + n_queue + n_open + 1, 6))])
        return [(int(g), "left" if side == wk.LEFT else "right", ic, to, stride, now)
                for g, side, ic, to, stride, now in out[:n].tolist()]


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
