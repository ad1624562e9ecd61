"""Event detection: running/walking stances, jump landings, single-leg squat reps, single-leg holds.

One causal implementation serves live and offline use: ``EventDetector.update``
takes ``Frames`` chunks in time order and returns the events completed so far;
``detect_events(frames)`` is ``update(all) + flush()``. Chunking never changes
the result (every decision is taken sample by sample on the same state).

Inputs (``hipmon.types.Frames``):
``time_s`` (N,) s; ``angles_deg`` (N, 9) in ``ANGLE_COLUMNS`` order;
``gyr_segment[placement]`` (N, 3) rad/s in the segment frame (Z right, so
+Z on a thigh is hip flexion velocity); ``acc_global[placement]`` (N, 3) m/s²
specific force in the global frame (Y up, +9.81 at rest); ``valid`` (N,) bool.

Methods (see docs/events-and-alerts.md for the reasoning and the numbers):

- **Contacts from the pelvis vertical specific force.** The pelvis rides
  close to the centre of mass, so its vertical specific force ``f`` is the
  vertical ground reaction force per body mass: about 0 in flight, well above
  g in a running stance or a landing. A *flight* is ``f < flight_force`` for at
  least ``min_flight_s``; a contact is confirmed when ``f`` rises above
  ``contact_force``. Edges (initial contact, toe-off) are placed where the
  flank through the two samples around the ``edge_force`` crossing reaches
  the flight level.
- **Running stance vs landing.** At a running initial contact the leading
  thigh is the more flexed (spread >= ``run_spread_deg``); after a short
  flight that is a running stance on the leading side. After a flight of at
  least ``min_jump_flight_s`` the thighs must also scissor (leading extends,
  trailing flexes relative to the pelvis by ``scissor_rate``), else it is a
  *landing*: one event per leg when the hips are flexed alike
  (``both_legs_flexion_deg``), else the less flexed leg's.
- **Walking stance** (no flight phases): ``hipmon.gait_events.PelvisStepDetector``,
  one step per peak of the smoothed pelvis vertical specific force (lowest
  pelvis in double support); side from the thighs, else from the pelvic
  obliquity cue. Works with the pelvis sensor alone (thigh keys absent or NaN).
- **Reps** (single-leg squat): a hip flexion excursion of the squatting leg
  from ``rep_edge_deg`` above standing and back, peaking at least
  ``rep_min_flexion_deg``, while the other leg is held up.
- **Holds** (single-leg stance): one hip flexed at least ``hold_lift_deg``
  more than the other for at least ``hold_min_s`` with no rep inside; the
  side is the loaded (less flexed) leg; the window is the lift plateau.

Delay: stances are reported at toe-off plus ``min_flight_s`` (running) or at
the toe-off estimate (walking, which is itself causal: the extension maximum
plus a phase offset, confirmed ``walk_confirm_s`` later); landings at the end of their window; reps when flexion
falls back through the edge; holds when the lifted leg comes down. The
``extra["detected_s"]`` of each event is the session time of the sample that
completed it, so ``detected_s - end_s`` is the detection latency.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from hipmon.gait_events import PelvisStepDetector, WalkConfig, side_from_pelvis_rates
from hipmon.metrics import angle_index, fill_event_metrics
from hipmon.types import ANGLE_COLUMNS, SIDES, Event, Frames

G = 9.81


@dataclass(frozen=True)
class EventConfig:
    """Parameters of the event detectors (s, m/s², rad/s, degrees)."""

    # contacts from the pelvis vertical specific force
    flight_force: float = 0.45 * G
    contact_force: float = 0.45 * G
    edge_force: float = 0.12 * G  # contact edges are placed where f crosses this level
    min_flight_s: float = 0.03
    min_contact_s: float = 0.08
    max_stance_s: float = 0.6
    run_spread_deg: float = 10.0  # hip flexion difference (leading - trailing) at a running initial contact
    scissor_rate: float = 0.3  # after a long flight: leading thigh extends, trailing flexes (rel. pelvis), rad/s
    # landings
    min_jump_flight_s: float = 0.15
    max_running_flight_s: float = 0.3  # pelvis only: after a running stance a flight up to this is a running step
    landing_window_s: float = 0.5  # impact + this, or the next take-off, whichever first
    both_legs_flexion_deg: float = 12.0  # hips flexed alike at impact: a two-legged landing (one event per leg)
    # walking (hipmon.gait_events)
    walk: WalkConfig = field(default_factory=WalkConfig)
    running_hold_s: float = 1.5  # the walking detector is muted this long after a flight
    walk_confirm_s: float = 0.2  # a walking stance is reported when no flight came this long after its toe-off
    # reps
    rep_min_flexion_deg: float = 25.0
    rep_edge_deg: float = 4.0
    rep_min_s: float = 0.5
    rep_max_s: float = 6.0
    # holds
    hold_lift_deg: float = 20.0
    hold_min_s: float = 2.0
    lift_confirm_s: float = 0.6  # one hip flexed hold_lift_deg more than the other for this long
    hold_max_s: float = 180.0
    hold_plateau_fraction: float = 0.9  # the hold is where the lifted leg is at >= this share of its median lift
    # standing level (hip flexion) adapts slowly while both legs are down
    standing_tau_s: float = 5.0
    # events with less than this share of valid samples are dropped
    min_valid_fraction: float = 0.8
    # which detectors run
    kinds: tuple[str, ...] = ("stance", "landing", "rep", "hold")

    def with_(self, **changes: Any) -> "EventConfig":
        return replace(self, **changes)


# ---------------------------------------------------------------- frames


def _as_chunk(frames: Frames) -> Frames:
    """The arrays the detectors read, as float/bool arrays (orientations and per-sensor validity dropped)."""
    return Frames(
        np.asarray(frames.time_s, dtype=float),
        np.asarray(frames.angles_deg, dtype=float),
        {k: np.asarray(v, dtype=float) for k, v in frames.gyr_segment.items()},
        {k: np.asarray(v, dtype=float) for k, v in frames.acc_global.items()},
        np.asarray(frames.valid, dtype=bool),
    )


def frames_from_simulation(
    sim: Any,
    *,
    angle_bias_deg: Sequence[float] | float | None = None,
    angle_noise_deg: float = 0.0,
    seed: int = 0,
    rate_hz: float | None = None,
) -> Frames:
    """``Frames`` straight from a ``hipmon.simulate.Simulation``'s truth (no fusion or calibration).

    Angles are the true angles plus ``angle_bias_deg`` (scalar or (9,), a
    constant offset per column, as calibration errors give) and white noise of
    SD ``angle_noise_deg`` low-passed to the bandwidth of a fusion filter (a
    1 Hz random drift of the same size is added too). ``gyr_segment`` is the
    sensor gyro rotated by the true mounting ``q_sensor_segment``;
    ``acc_global`` the sensor specific force rotated by the true
    sensor-to-global orientation. Everything is resampled (linear) onto the
    truth grid, or onto a uniform grid of ``rate_hz`` if given.
    """
    from hipmon import rotations as rot

    t_truth = np.asarray(sim.truth_time_s, dtype=float)
    if rate_hz:
        t = np.arange(t_truth[0], t_truth[-1], 1.0 / rate_hz)
    else:
        t = t_truth
    ang = np.stack([np.interp(t, t_truth, sim.truth_angles_deg[:, j]) for j in range(len(ANGLE_COLUMNS))], axis=1)
    rng = np.random.default_rng(seed)
    if angle_bias_deg is not None:
        ang = ang + np.broadcast_to(np.asarray(angle_bias_deg, dtype=float), (len(ANGLE_COLUMNS),))
    if angle_noise_deg > 0:
        from scipy.signal import butter, sosfiltfilt

        fs = 1.0 / float(np.median(np.diff(t)))
        sos_fast = butter(2, min(8.0, 0.4 * fs), fs=fs, output="sos")
        sos_slow = butter(2, 1.0, fs=fs, output="sos")
        for j in range(ang.shape[1]):
            w = sosfiltfilt(sos_fast, rng.normal(0, 1, t.size))
            d = sosfiltfilt(sos_slow, rng.normal(0, 1, t.size))
            ang[:, j] += angle_noise_deg * (w / (np.std(w) or 1.0) + 0.5 * d / (np.std(d) or 1.0)) / np.sqrt(1.25)
    gyr, acc = {}, {}
    for placement, s in sim.sensors.items():
        ts = np.asarray(s.time_session_s, dtype=float)
        q_ss = np.asarray(s.q_sensor_segment, dtype=float)
        g_seg = rot.rotate(q_ss, np.asarray(s.gyr_sensor, dtype=float))
        q_seg_glob = _interp_quat(ts, t_truth, np.asarray(sim.q_segment_global[placement], dtype=float))
        a_glob = rot.rotate(rot.multiply(q_seg_glob, q_ss), np.asarray(s.acc_sensor, dtype=float))
        gyr[placement] = np.stack([np.interp(t, ts, g_seg[:, j]) for j in range(3)], axis=1)
        acc[placement] = np.stack([np.interp(t, ts, a_glob[:, j]) for j in range(3)], axis=1)
    return Frames(t, ang, gyr, acc, np.ones(t.size, bool))


def _interp_quat(t_new: np.ndarray, t: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Normalised linear interpolation of quaternions (N, 4) sampled at ``t`` onto ``t_new``."""
    if t_new.shape == t.shape and np.allclose(t_new, t):
        return q
    q = q.copy()
    flip = np.sum(q[1:] * q[:-1], axis=1) < 0  # keep a continuous hemisphere
    sign = np.cumprod(np.where(np.concatenate([[False], flip]), -1.0, 1.0))
    q *= sign[:, None]
    out = np.stack([np.interp(t_new, t, q[:, j]) for j in range(4)], axis=1)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


# ---------------------------------------------------------------- buffer


class _Buffer:
    """Frames kept for the metrics of events still open, addressed by absolute sample index."""

    def __init__(self) -> None:
        self.start = 0  # absolute index of the first kept sample
        self.chunk: Frames | None = None

    @property
    def end(self) -> int:
        return self.start + (0 if self.chunk is None else len(self.chunk))

    def append(self, c: Frames) -> None:
        if self.chunk is None:
            self.chunk = c
            return
        b = self.chunk
        self.chunk = Frames(
            np.concatenate([b.time_s, c.time_s]),
            np.concatenate([b.angles_deg, c.angles_deg]),
            {k: np.concatenate([b.gyr_segment[k], c.gyr_segment[k]]) for k in b.gyr_segment},
            {k: np.concatenate([b.acc_global[k], c.acc_global[k]]) for k in b.acc_global},
            np.concatenate([b.valid, c.valid]),
        )

    def keep_from(self, index: int) -> None:
        if self.chunk is None or index <= self.start:
            return
        cut = min(index - self.start, len(self.chunk))
        self.chunk = self.chunk.slice(cut, len(self.chunk))
        self.start += cut


# ---------------------------------------------------------------- detectors


@dataclass
class _Pending:
    """An event found by a detector: sample indices and extra times; metrics come later."""

    kind: str
    side: str
    start_s: float
    end_s: float
    extra: dict[str, float] = field(default_factory=dict)


class _ContactDetector:
    """Flights and contacts from the pelvis vertical specific force: running stances and landings."""

    def __init__(self, cfg: EventConfig) -> None:
        self.cfg = cfg
        self.in_flight = False
        self.low_since: float | None = None  # time f went below flight_force
        self.flight_start: float | None = None
        self.contact: dict[str, float] | None = None  # open contact (IC time, rates, flexions)
        self.landing: dict[str, float] | None = None  # open landing window
        self.last_flight_s = 0.0
        self.prev_t: float | None = None
        self.prev_f = 0.0
        self.f_hist: deque[tuple[float, float]] = deque()  # (t, f) over the last 0.2 s
        self.prev_high = False  # previous sample had f >= edge_force
        self.rise_t: float | None = None  # latest contact onset (the rising flank's foot)
        self.fall_flank: tuple[float, float, float, float] | None = None  # (t0, f0, t1, f1) of the latest fall
        self.rate_hist: deque[tuple[float, float, float]] = deque()  # (t, pelvis rate anterior, vertical), 1 s
        self.last_side: str | None = None
        self.last_stance_end: float | None = None  # toe-off of the latest running stance

    def step(self, t: float, f: float, w_l: float, w_r: float, w_p: float, flex_l: float, flex_r: float,
             w_ant: float = np.nan, w_up: float = np.nan) -> list[_Pending]:
        cfg = self.cfg
        out: list[_Pending] = []
        self.rate_hist.append((t, w_ant, w_up))
        while self.rate_hist and self.rate_hist[0][0] < t - 1.0:
            self.rate_hist.popleft()
        high = f >= cfg.edge_force
        if self.prev_t is not None and high != self.prev_high:
            if high:
                # contact onset: the steep flank through the two samples, extrapolated back to the
                # flight level just before it (``_flank_foot``)
                level = min([x for s, x in self.f_hist if s >= self.prev_t - cfg.min_flight_s], default=self.prev_f)
                self.rise_t = _flank_foot(self.prev_t, self.prev_f, t, f, level)
            else:
                self.fall_flank = (self.prev_t, self.prev_f, t, f)  # placed once the flight after it is seen
        self.f_hist.append((t, f))
        while self.f_hist[0][0] < t - 0.2:
            self.f_hist.popleft()
        self.prev_high, self.prev_t, self.prev_f = high, t, f
        if f < cfg.flight_force:
            if self.low_since is None:
                self.low_since = t
            if not self.in_flight and t - self.low_since >= cfg.min_flight_s:
                # a flight started: the contact ended where the falling flank reaches the flight level
                # just after it (the lowest f since the flank)
                self.in_flight = True
                edge = self.low_since
                if self.fall_flank is not None and self.fall_flank[2] >= self.low_since:
                    t0, f0, t1, f1 = self.fall_flank
                    level = min(x for s, x in self.f_hist if s >= t1)
                    edge = _flank_foot(t0, f0, t1, f1, level)
                self.flight_start = edge
                if self.contact is not None:
                    out += self._close_contact(edge, t)
                if self.landing is not None:
                    out += self._close_landing(edge, t, take_off=True)
        else:
            self.low_since = None
            if self.in_flight and f >= cfg.contact_force:
                self.in_flight = False
                # initial contact: where f rose through edge_force
                ic = self.rise_t if (self.rise_t is not None and self.rise_t >= (self.flight_start or -np.inf)) else t
                flight = ic - (self.flight_start if self.flight_start is not None else ic)
                self.last_flight_s = flight
                take_off = self.flight_start if self.flight_start is not None else ic
                self.contact = {"ic": ic, "w_l": w_l, "w_r": w_r, "flex_l": flex_l, "flex_r": flex_r,
                                "flight": flight, "take_off": take_off}
                # running: the thighs scissor (the leading, more flexed thigh extends relative to the
                # pelvis while the trailing one swings forward); a jump or hop landing does not
                thighs = np.isfinite(flex_l) and np.isfinite(flex_r)
                lead_l = flex_l > flex_r
                spread = abs(flex_l - flex_r)
                w_lead, w_trail = (w_l, w_r) if lead_l else (w_r, w_l)
                if thighs:
                    scissor = spread >= cfg.run_spread_deg and (
                        flight < cfg.min_jump_flight_s
                        or (w_lead - w_p <= -cfg.scissor_rate and w_trail - w_p >= cfg.scissor_rate))
                else:
                    # pelvis only: a short flight between contacts is running; a long one a jump,
                    # unless it follows a running stance (running rhythm: a take-off from a running
                    # contact, downhill flights reach 0.2 s) and is shorter than any jump's flight
                    after_stance = self.last_stance_end is not None and abs(take_off - self.last_stance_end) < 1e-9
                    scissor = flight < cfg.min_jump_flight_s or (after_stance and flight < cfg.max_running_flight_s)
                self.contact["side"] = ("left" if lead_l else "right") if thighs else ""
                if not scissor and flight >= cfg.min_jump_flight_s and "landing" in cfg.kinds:
                    if not thighs or spread < cfg.both_legs_flexion_deg:
                        side = "both"
                    else:
                        side = "left" if flex_l < flex_r else "right"
                    self.landing = {"ic": ic, "side": side, "flight": flight, "take_off": take_off, "thighs": thighs}
                    self.contact = None
                elif not scissor:
                    self.contact = None  # a short hop without scissoring: neither
        if self.contact is not None and t - self.contact["ic"] > cfg.max_stance_s:
            self.contact = None  # no flight followed: not running (e.g. a stop)
        if self.landing is not None and t - self.landing["ic"] >= cfg.landing_window_s:
            out += self._close_landing(t, t, take_off=False)
        return out

    def _close_contact(self, toe_off: float, now: float) -> list[_Pending]:
        c, self.contact = self.contact, None
        if c is None or "stance" not in self.cfg.kinds:
            return []
        dur = toe_off - c["ic"]
        if dur < self.cfg.min_contact_s:
            return []
        side = c["side"] or self._pelvis_side(c["ic"], c["ic"] + 0.5 * dur)
        self.last_stance_end = toe_off
        self.last_side = side  # the leading (more flexed) thigh at initial contact is on the ground
        return [_Pending("stance", side, c["ic"], toe_off, {
            "initial_contact_s": c["ic"], "toe_off_s": toe_off, "contact_time_s": dur,
            "flight_before_s": c["flight"], "method": 0.0, "detected_s": now})]

    def _pelvis_side(self, ic: float, mid: float) -> str:
        """Stance side from the pelvis rates (``hipmon.gait_events.side_from_pelvis_rates``) over IC ± (mid − IC)."""
        h = np.array(self.rate_hist) if self.rate_hist else np.zeros((0, 3))
        side = side_from_pelvis_rates(h[:, 0], h[:, 1], h[:, 2], ic, mid - ic) if len(h) else None
        return side or ("left" if self.last_side == "right" else "right")

    def _close_landing(self, end: float, now: float, take_off: bool) -> list[_Pending]:
        L, self.landing = self.landing, None
        if L is None:
            return []
        extra = {"take_off_s": L["take_off"], "flight_time_s": L["flight"], "initial_contact_s": L["ic"],
                 "impact_s": L["ic"], "ends_in_take_off": float(take_off), "detected_s": now,
                 "bilateral": float(L["side"] == "both")}
        # a two-legged landing is reported once per leg (each leg's own peaks and alerts); without
        # thighs there are no per-leg peaks: one event, side "both"
        sides = SIDES if (L["side"] == "both" and L.get("thighs", True)) else (L["side"],)
        return [_Pending("landing", s, L["ic"], end, dict(extra)) for s in sides]


def _flank_foot(t0: float, f0: float, t1: float, f1: float, level: float) -> float:
    """Time (s) where the straight flank through (t0, f0), (t1, f1) reaches ``level`` (m/s²), within one sample of it.

    A contact edge of the pelvis specific force: free fall reads ``level`` (0 at the centre of
    mass; a trunk or sacral sensor also feels its own motion relative to it, so the flight
    level next to each edge is measured, not assumed), and the force plate's contact starts
    or ends where the steep flank leaves that level.
    """
    dt = t1 - t0
    slope = (f1 - f0) / dt if dt > 0 else 0.0
    if slope > 0:  # rising: contact onset, at most one sample before the flank
        return min(t1, max(t0 - dt, t1 - (f1 - level) / slope))
    if slope < 0:  # falling: contact end, at most one sample after it
        return max(t0, min(t1 + dt, t0 + (level - f0) / slope))
    return t0 if f1 < f0 else t1


class _SingleLegDetector:
    """Reps (single-leg squats) and holds (single-leg stance) from the hip flexion angles."""

    def __init__(self, cfg: EventConfig) -> None:
        self.cfg = cfg
        self.stand = np.zeros(2)  # standing hip flexion level (left, right), deg
        self.stand_init = False
        self.lifted: str | None = None  # side of the lifted (unloaded) leg
        self.lift_start = 0.0
        self.reps_in_lift = 0
        self.rep_start: float | None = None
        self.rep_peak = -np.inf
        self.rep_peak_t = 0.0
        self.last_t: float | None = None
        self.candidate: tuple[str, float] | None = None  # (lifted side, since) not yet confirmed

    def step(self, t: float, flex_l: float, flex_r: float, moving: bool) -> list[_Pending]:
        cfg = self.cfg
        out: list[_Pending] = []
        dt = 0.0 if self.last_t is None else t - self.last_t
        self.last_t = t
        rel = np.array([flex_l, flex_r]) - self.stand
        diff = flex_l - flex_r
        if self.lifted is None:
            if not self.stand_init:
                # the standing level comes from a still frame with the legs level: the first
                # frame may fall mid-stride (events start after the calibration walk), and a
                # stride's 20-30 deg would read as a leg lift when standing still afterwards
                if moving or abs(diff) >= 0.5 * cfg.hold_lift_deg:
                    return out
                self.stand = np.array([flex_l, flex_r])
                self.stand_init = True
            elif abs(diff) < 0.5 * cfg.hold_lift_deg and not moving:
                a = min(1.0, dt / cfg.standing_tau_s)
                self.stand += a * (np.array([flex_l, flex_r]) - self.stand)
            lift = diff - (self.stand[0] - self.stand[1])
            if abs(lift) >= cfg.hold_lift_deg:
                side = "left" if lift > 0 else "right"
                if self.candidate is None or self.candidate[0] != side:
                    self.candidate = (side, t)
                elif t - self.candidate[1] >= cfg.lift_confirm_s:
                    # one leg up for long enough (gait swings are shorter): a single-leg period
                    self.lifted, self.lift_start = side, self.candidate[1]
                    self.reps_in_lift = 0
                    self.candidate = None
            else:
                self.candidate = None
            return out
        stance = "right" if self.lifted == "left" else "left"
        si = SIDES.index(stance)
        li = SIDES.index(self.lifted)
        # rep of the stance leg
        if self.rep_start is None:
            if rel[si] >= cfg.rep_edge_deg:
                self.rep_start = t
                self.rep_peak = rel[si]
                self.rep_peak_t = t
        else:
            if rel[si] > self.rep_peak:
                self.rep_peak, self.rep_peak_t = rel[si], t
            if rel[si] < cfg.rep_edge_deg:
                dur = t - self.rep_start
                if self.rep_peak >= cfg.rep_min_flexion_deg and cfg.rep_min_s <= dur <= cfg.rep_max_s:
                    self.reps_in_lift += 1
                    if "rep" in cfg.kinds:
                        out.append(_Pending("rep", stance, self.rep_start, t, {
                            "t_peak_flexion_s": self.rep_peak_t, "peak_hip_flexion_deg": float(self.rep_peak),
                            "detected_s": t}))
                self.rep_start = None
        # lifted leg down: end of the single-leg period
        lift_now = (rel[li] - rel[si]) if self.rep_start is None else rel[li]
        if lift_now < 0.5 * cfg.hold_lift_deg or t - self.lift_start > cfg.hold_max_s:
            dur = t - self.lift_start
            if self.reps_in_lift == 0 and self.rep_start is None and dur >= cfg.hold_min_s and "hold" in cfg.kinds:
                out.append(_Pending("hold", stance, self.lift_start, t, {"hold_time_s": dur, "detected_s": t}))
            self.lifted = None
            self.rep_start = None
        return out


# ---------------------------------------------------------------- public API


class EventDetector:
    """Causal event detection over ``Frames`` chunks (see the module docstring).

    ``update(frames) -> list[Event]`` returns events completed by this chunk,
    with their per-event metrics (``hipmon.metrics``) and
    ``extra["detected_s"]``; ``flush()`` closes what the end of the stream
    closes (an open landing window) and returns it.
    """

    def __init__(self, config: EventConfig | None = None) -> None:
        self.config = config or EventConfig()
        self._buf = _Buffer()
        self._contacts = _ContactDetector(self.config)
        self._walk = PelvisStepDetector(self.config.walk)
        self._walk_queue: list[_Pending] = []
        self._single = _SingleLegDetector(self.config)
        self._last_flight_t = -np.inf
        self._open_from: float = -np.inf

    def update(self, frames: Frames) -> list[Event]:
        c = _as_chunk(frames)
        if len(c) == 0:
            return []
        self._buf.append(c)
        found: list[_Pending] = []
        cfg = self.config
        f = c.acc_global["pelvis"][:, 1]
        nan = np.full(len(c), np.nan)
        w_l = c.gyr_segment["left_thigh"][:, 2] if "left_thigh" in c.gyr_segment else nan
        w_r = c.gyr_segment["right_thigh"][:, 2] if "right_thigh" in c.gyr_segment else nan
        w_p = c.gyr_segment["pelvis"][:, 2]
        w_ant = c.gyr_segment["pelvis"][:, 0]  # about the pelvis's anterior axis (− = obliquity rising)
        w_up = c.gyr_segment["pelvis"][:, 1]  # about the pelvis's superior axis (≈ vertical), + = right forward
        # |specific force| of each thigh, m/s² (the heel-strike transient of walking ICs)
        a_l, a_r = (np.linalg.norm(c.acc_global[k], axis=1) if k in c.acc_global else nan
                    for k in ("left_thigh", "right_thigh"))
        fl = c.angles_deg[:, angle_index("flexion", "left")]
        fr = c.angles_deg[:, angle_index("flexion", "right")]
        moving = ((np.abs(w_l) > 1.0) | (np.abs(w_r) > 1.0) | (np.abs(f - G) > 0.3 * G)).tolist()
        # per sample as Python floats (the same values; one conversion per chunk, not per sample)
        t_s, f_, w_l, w_r, w_p, fl, fr, w_ant, w_up, a_l, a_r = (
            np.asarray(x, dtype=float).tolist() for x in (c.time_s, f, w_l, w_r, w_p, fl, fr, w_ant, w_up, a_l, a_r))
        valid = (np.asarray(c.valid, dtype=bool) & np.isfinite(f)).tolist()
        for i in range(len(c)):
            if not valid[i]:
                continue
            t = t_s[i]
            got = self._contacts.step(t, f_[i], w_l[i], w_r[i], w_p[i], fl[i], fr[i], w_ant[i], w_up[i])
            if self._contacts.in_flight:
                self._last_flight_t = t
            running = t - self._last_flight_t < cfg.running_hold_s
            for side, ic, to, stride, now in self._walk.step(t, f_[i], w_ant[i], w_up[i], fl[i], fr[i], muted=running,
                                                             thigh_force_l=a_l[i], thigh_force_r=a_r[i]):
                if "stance" in cfg.kinds:
                    self._walk_queue.append(_Pending("stance", side, ic, to, {
                        "initial_contact_s": ic, "toe_off_s": to, "contact_time_s": to - ic, "stride_s": stride,
                        "method": 1.0}))
            # walking has no flight: a walking stance is confirmed when none follows within walk_confirm_s
            if self._contacts.in_flight:
                self._walk_queue.clear()
            while self._walk_queue and t >= self._walk_queue[0].end_s + cfg.walk_confirm_s:
                p = self._walk_queue.pop(0)
                p.extra["detected_s"] = t
                got.append(p)
            got += self._single.step(t, fl[i], fr[i], moving[i])
            found += got
        events = [self._finish(p) for p in found]
        events = [e for e in events if e is not None]
        # keep frames back to the oldest start an open detector may still report
        keep_s = max(cfg.hold_max_s if self._single.lifted else 0.0, cfg.rep_max_s, 3 * cfg.walk.max_step_s,
                     cfg.max_stance_s + cfg.landing_window_s) + 0.5
        t_now = float(c.time_s[-1])
        tb = self._buf.chunk.time_s
        self._buf.keep_from(self._buf.start + int(np.searchsorted(tb, t_now - keep_s)))
        # in detection order (then end, start): the same order however the frames were chunked
        return sorted(events, key=lambda e: (e.extra.get("detected_s", e.end_s), e.end_s, e.start_s))

    def flush(self) -> list[Event]:
        """Close open windows at the end of the stream (a landing still inside its window)."""
        if self._buf.chunk is None or len(self._buf.chunk) == 0:
            return []
        t = float(self._buf.chunk.time_s[-1])
        found = []
        if self._contacts.landing is not None:
            found += self._contacts._close_landing(t, t, take_off=False)
        events = [self._finish(p) for p in found]
        return [e for e in events if e is not None]

    def _finish(self, p: _Pending) -> Event | None:
        c = self._buf.chunk
        if p.kind == "hold":
            p.start_s, p.end_s = _hold_plateau(c.time_s, c.angles_deg, p.side, p.start_s, p.end_s,
                                               self.config.hold_plateau_fraction)
        ev = Event(p.kind, p.side, float(p.start_s), float(p.end_s), extra=dict(p.extra))
        fill_event_metrics(ev, c.time_s, c.angles_deg, c.valid)
        if ev.extra.get("valid_fraction", 0.0) < self.config.min_valid_fraction:
            return None
        return ev


def _hold_plateau(time_s: np.ndarray, angles_deg: np.ndarray, stance: str, start_s: float, end_s: float,
                  fraction: float) -> tuple[float, float]:
    """The part of a single-leg period where the lifted leg is up: lift >= ``fraction`` × its median (s, s)."""
    lifted = "left" if stance == "right" else "right"
    m = (time_s >= start_s) & (time_s <= end_s)
    if np.count_nonzero(m) < 3:
        return start_s, end_s
    lift = angles_deg[m, angle_index("flexion", lifted)] - angles_deg[m, angle_index("flexion", stance)]
    up = lift >= fraction * float(np.median(lift))
    idx = np.flatnonzero(up)
    if idx.size == 0:
        return start_s, end_s
    t = time_s[m]
    return float(t[idx[0]]), float(t[idx[-1]])


def detect_events(frames: Frames, config: EventConfig | None = None) -> list[Event]:
    """Offline detection: the causal detector over the whole session, then ``flush``."""
    det = EventDetector(config)
    return det.update(frames) + det.flush()


# ---------------------------------------------------------------- matching against truth


def match_events(detected: Sequence[Event], truth: Sequence[Event], tol_s: float = 0.1,
                 key: str = "start_s") -> list[tuple[int, int]]:
    """Pairs (i_detected, i_truth) of the same kind and side whose ``key`` times are within ``tol_s``.

    Greedy by time difference, each event used at most once. ``key`` is an
    attribute (``start_s``/``end_s``) of the events.
    """
    cands = []
    for i, d in enumerate(detected):
        for j, tr in enumerate(truth):
            if d.kind != tr.kind or d.side != tr.side:
                continue
            dt = abs(getattr(d, key) - getattr(tr, key))
            if dt <= tol_s:
                cands.append((dt, i, j))
    cands.sort()
    used_i, used_j, pairs = set(), set(), []
    for _, i, j in cands:
        if i in used_i or j in used_j:
            continue
        used_i.add(i)
        used_j.add(j)
        pairs.append((i, j))
    return sorted(pairs)
