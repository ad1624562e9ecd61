# The event detector as it was at f04c4ce (its contact detector stepped in Python): the oracle of
# tests/test_events_kernel.py for the compiled contact detector (hipmon.event_kernels.contact_run).
# A verbatim copy of src/hipmon/events.py at that commit; do not edit.
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

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from gait_events_reference import (H_AL, H_AR, H_F, H_FL, H_FR, H_T, H_WANT, H_WUP, History, PelvisStepDetector,
                                   WalkConfig, first_true, side_from_pelvis_rates)
from hipmon.metrics import angle_index, event_peaks, set_event_metrics
from hipmon.types import ANGLE_COLUMNS, SIDES, Event, Frames

G = 9.81
#: Seconds of valid samples the detectors look back over (the walking detector's 3 s, with margin).
HISTORY_S = 3.5


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
        self.increasing = True  # every time so far later than the one before

    @property
    def end(self) -> int:
        return self.start + (0 if self.chunk is None else len(self.chunk))

    def append(self, c: Frames) -> None:
        t = c.time_s
        prev = self.chunk.time_s[-1:] if self.chunk is not None else t[:0]
        self.increasing = self.increasing and bool(np.all(np.diff(np.concatenate([prev, t])) > 0))
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
    """Flights and contacts from the pelvis vertical specific force: running stances and landings.

    Per chunk of a ``History``: ``begin(h, g0)`` finds in bulk what the force alone decides (its
    crossings of the edge level, where the flank feet lie, and the runs below the flight level);
    ``step(h, g)`` then takes the decisions at the samples where they can change something
    (``next_due``: a flight confirmed, a contact, an open window running out), in order;
    ``end(h)`` carries the state over. Every other sample would only repeat the state, so
    this is exactly stepping every sample (the windows it looks back over, the force's last
    0.2 s and the pelvis rates' last 1 s, are read from the history)."""

    def __init__(self, cfg: EventConfig) -> None:
        self.cfg = cfg
        self.in_flight = False
        self.low_since: float | None = None  # time f went below flight_force, carried from the last chunk
        self.flight_start: float | None = None
        self.contact: dict[str, float] | None = None  # open contact (IC time, rates, flexions)
        self.landing: dict[str, float] | None = None  # open landing window
        self.last_flight_s = 0.0
        self.rise_t: float | None = None  # latest contact onset (the rising flank's foot), end of the last chunk
        self.fall_flank: tuple[float, float, float, float] | None = None  # (t0, f0, t1, f1) of the latest fall
        self.last_side: str | None = None
        self.last_stance_end: float | None = None  # toe-off of the latest running stance
        e = np.empty(0, dtype=np.int64)
        self._rises, self._falls, self._flights, self._contactable = e, e, e, e
        self._g0 = 0
        self._low = np.empty(0, dtype=bool)
        self._low_from = np.empty(0)  # per sample of the chunk: time its run below the flight level began

    def begin(self, h: History, g0: int) -> None:
        """The new samples ``g0..h.end-1``: the force's edge crossings, its runs below the flight level,
        the samples where a flight would be confirmed and where a contact could start."""
        cfg = self.cfg
        lo = max(g0 - 1, h.base)
        f = h.x[lo - h.base:, H_F]
        t = h.x[g0 - h.base:, H_T]
        high = f >= cfg.edge_force
        turn = lo + 1 + np.flatnonzero(high[1:] != high[:-1])  # the sample after which high changed
        up = high[turn - lo]
        self._rises, self._falls = turn[up], turn[~up]
        low = f[g0 - lo:] < cfg.flight_force
        # each low sample's run start (a run going on from the last chunk began at ``low_since``)
        before = self.low_since is not None and g0 > 0
        run_t = np.where(low & ~np.concatenate([[before], low[:-1]]), t, np.nan)
        if low.size and low[0] and before:
            run_t[0] = self.low_since
        run_t = np.where(low, _fill_forward(run_t), np.nan)
        fire = low & (t - run_t >= cfg.min_flight_s)  # ``t - low_since >= min_flight_s``: a flight
        first = fire & ~np.concatenate([[False], fire[:-1]])  # later ones in the same run change nothing
        self._flights = g0 + np.flatnonzero(first)
        self._contactable = g0 + np.flatnonzero(~low & (f[g0 - lo:] >= cfg.contact_force))
        self._g0, self._low, self._low_from = g0, low, run_t

    def end(self, h: History) -> None:
        """Carry the force's state (the run below the flight level, the latest flanks) to the next chunk."""
        if not self._low.size:
            return
        self.low_since = float(self._low_from[-1]) if self._low[-1] else None
        self.rise_t = self._rise_at(h, h.end - 1)
        self.fall_flank = self._fall_at(h, h.end - 1)

    def _rise_at(self, h: History, g: int) -> float | None:
        """The latest contact onset at sample ``g``: the foot of the last rising edge crossing up to ``g``."""
        k = int(np.searchsorted(self._rises, g, side="right")) - 1
        if k < 0:
            return self.rise_t
        j = int(self._rises[k])
        prev_t, prev_f, t, f = h.at(j - 1, H_T), h.at(j - 1, H_F), h.at(j, H_T), h.at(j, H_F)
        # the steep flank through the two samples, extrapolated back to the flight level just before it
        w = h.since(j - 1, max(prev_t - 0.2, prev_t - self.cfg.min_flight_s))
        level = float(w[:, H_F].min()) if len(w) else prev_f
        return _flank_foot(prev_t, prev_f, t, f, level)

    def _fall_at(self, h: History, g: int) -> tuple[float, float, float, float] | None:
        """The latest falling edge crossing up to sample ``g``: (t0, f0, t1, f1)."""
        k = int(np.searchsorted(self._falls, g, side="right")) - 1
        if k < 0:
            return self.fall_flank
        j = int(self._falls[k])
        return (h.at(j - 1, H_T), h.at(j - 1, H_F), h.at(j, H_T), h.at(j, H_F))

    def next_due(self, h: History, g_from: int, g_end: int) -> int:
        """The first sample in ``g_from..g_end-1`` where the state changes: a flight confirmed, a
        contact, an open contact or landing window running out; ``g_end`` if none."""
        cfg = self.cfg
        due = g_end
        ev = self._contactable if self.in_flight else self._flights
        k = int(np.searchsorted(ev, g_from))
        if k < ev.size:
            due = min(due, int(ev[k]))
        if self.contact is not None:
            ic = self.contact["ic"]
            due = min(due, first_true(h, g_from, due, lambda t: t - ic > cfg.max_stance_s, ic + cfg.max_stance_s))
        if self.landing is not None:
            ic_l = self.landing["ic"]
            due = min(due, first_true(h, g_from, due, lambda t: t - ic_l >= cfg.landing_window_s,
                                           ic_l + cfg.landing_window_s))
        return due

    def step(self, h: History, g: int) -> list[_Pending]:
        cfg = self.cfg
        out: list[_Pending] = []
        t, f, w_l, w_r, w_p, flex_l, flex_r = h.x[g - h.base, :H_FR + 1].tolist()
        if f < cfg.flight_force:
            low_since = float(self._low_from[g - self._g0])  # when this run below the flight level began
            if not self.in_flight and t - low_since >= cfg.min_flight_s:
                # a flight started: the contact ended where the falling flank reaches the flight level
                # just after it (the lowest f since the flank)
                self.in_flight = True
                edge = low_since
                fall = self._fall_at(h, g)
                if fall is not None and fall[2] >= low_since:
                    t0, f0, t1, f1 = fall
                    level = float(h.since(g, max(t - 0.2, t1))[:, H_F].min())
                    edge = _flank_foot(t0, f0, t1, f1, level)
                self.flight_start = edge
                if self.contact is not None:
                    out += self._close_contact(edge, h, g)
                if self.landing is not None:
                    out += self._close_landing(edge, t, take_off=True)
        elif self.in_flight and f >= cfg.contact_force:
            self.in_flight = False
            # initial contact: where f rose through edge_force
            rise = self._rise_at(h, g)
            ic = rise if (rise is not None and rise >= (self.flight_start or -np.inf)) else t
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

    def _close_contact(self, toe_off: float, h: History, g: int) -> list[_Pending]:
        """The open contact, ended at ``toe_off`` (s) by sample ``g`` of ``h``: a running stance, if long enough."""
        c, self.contact = self.contact, None
        if c is None or "stance" not in self.cfg.kinds:
            return []
        dur = toe_off - c["ic"]
        if dur < self.cfg.min_contact_s:
            return []
        side = c["side"] or self._pelvis_side(h, g, c["ic"], c["ic"] + 0.5 * dur)
        self.last_stance_end = toe_off
        self.last_side = side  # the leading (more flexed) thigh at initial contact is on the ground
        return [_Pending("stance", side, c["ic"], toe_off, {
            "initial_contact_s": c["ic"], "toe_off_s": toe_off, "contact_time_s": dur,
            "flight_before_s": c["flight"], "method": 0.0, "detected_s": h.at(g, H_T)})]

    def _pelvis_side(self, h: History, g: int, ic: float, mid: float) -> str:
        """Stance side from the pelvis rates (``hipmon.gait_events.side_from_pelvis_rates``) over IC ± (mid − IC)."""
        w = h.since(g, h.at(g, H_T) - 1.0)  # the pelvis rates of the last 1 s
        side = side_from_pelvis_rates(w[:, H_T], w[:, H_WANT], w[:, H_WUP], ic, mid - ic) if len(w) else None
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


def _fill_forward(x: np.ndarray) -> np.ndarray:
    """``x`` (K,) with each NaN replaced by the last non-NaN value before it (NaN if none)."""
    idx = np.where(np.isnan(x), 0, np.arange(x.size))
    np.maximum.accumulate(idx, out=idx)
    return x[idx]  # leading NaNs map to x[0], itself NaN


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
    """Reps (single-leg squats) and holds (single-leg stance) from the hip flexion angles.

    Sample by sample (``hipmon.event_kernels.single_leg_run``, compiled): a standing level per
    hip adapts while both legs are down and still; one hip ``hold_lift_deg`` above the other for
    ``lift_confirm_s`` opens a single-leg period; an excursion of the stance hip from
    ``rep_edge_deg`` and back is a rep; a period without reps is a hold."""

    def __init__(self, cfg: EventConfig) -> None:
        from hipmon import event_kernels as ek

        self.cfg = cfg
        self._run = ek.single_leg_run
        self.state = ek.single_leg_state()
        self._lifted_at = ek.SL_LIFTED
        self.params = np.array([cfg.hold_lift_deg, cfg.standing_tau_s, cfg.lift_confirm_s, cfg.rep_edge_deg,
                                cfg.rep_min_flexion_deg, cfg.rep_min_s, cfg.rep_max_s, cfg.hold_min_s, cfg.hold_max_s,
                                float("rep" in cfg.kinds), float("hold" in cfg.kinds)])

    @property
    def lifted(self) -> bool:
        """A single-leg period is open."""
        return bool(self.state[self._lifted_at] >= 0)

    def run(self, time_s: np.ndarray, flex_l: np.ndarray, flex_r: np.ndarray,
            moving: np.ndarray) -> list[tuple[int, _Pending]]:
        """The samples (K,) in order: the events they complete, with the index of the completing sample."""
        out = np.empty((len(time_s), 7))
        n = self._run(self.state, np.ascontiguousarray(time_s, dtype=float), np.ascontiguousarray(flex_l, dtype=float),
                      np.ascontiguousarray(flex_r, dtype=float), np.ascontiguousarray(moving, dtype=np.bool_),
                      self.params, out)
        found = []
        for i, kind, side, start, end, x5, x6 in out[:n].tolist():
            stance = SIDES[int(side)]
            if kind == 0.0:
                extra = {"t_peak_flexion_s": x5, "peak_hip_flexion_deg": x6, "detected_s": end}
                found.append((int(i), _Pending("rep", stance, start, end, extra)))
            else:
                found.append((int(i), _Pending("hold", stance, start, end, {"hold_time_s": x5, "detected_s": end})))
        return found


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
        self._hist = History()
        #: Step the contact and walking detectors at every sample instead of only where something can
        #: happen (the same events, slower: the reference the skipping is tested against).
        self.step_every_sample = False
        self._last_flight_t = -np.inf

    def update(self, frames: Frames) -> list[Event]:
        c = _as_chunk(frames)
        if len(c) == 0:
            return []
        self._buf.append(c)
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
        moving = (np.abs(w_l) > 1.0) | (np.abs(w_r) > 1.0) | (np.abs(f - G) > 0.3 * G)
        # the samples the detectors step through (time must increase: a sample without a finite time is
        # not one)
        ok = np.asarray(c.valid, dtype=bool) & np.isfinite(f) & np.isfinite(c.time_s)
        h = self._hist
        g0 = h.end
        h.append(np.column_stack([c.time_s, f, w_l, w_r, w_p, fl, fr, w_ant, w_up, a_l, a_r, nan])[ok])
        g_end = h.end
        found: list[tuple[int, int, _Pending]] = []  # (sample, detector, event): the order stepping gives
        if g_end > g0:
            found += [(g0 + i, 1, p) for i, p in self._single.run(c.time_s[ok], fl[ok], fr[ok], moving[ok])]
            found += self._step_contacts_and_walk(h, g0, g_end)
        events = self._finish([p for *_, p in sorted(found, key=lambda x: (x[0], x[1]))])
        # keep frames back to the oldest start an open detector may still report
        keep_s = max(cfg.hold_max_s if self._single.lifted else 0.0, cfg.rep_max_s, 3 * cfg.walk.max_step_s,
                     cfg.max_stance_s + cfg.landing_window_s) + 0.5
        t_now = float(c.time_s[-1])
        tb = self._buf.chunk.time_s
        self._buf.keep_from(self._buf.start + int(np.searchsorted(tb, t_now - keep_s)))
        self._walk.settle(h)
        h.trim(HISTORY_S, 2 * self._walk.n + 8)
        # in detection order (then end, start): the same order however the frames were chunked
        return sorted(events, key=lambda e: (e.extra.get("detected_s", e.end_s), e.end_s, e.start_s))

    def _step_contacts_and_walk(self, h: History, g0: int, g_end: int) -> list[tuple[int, int, _Pending]]:
        """The contact and walking detectors over the new samples ``g0..g_end-1``, stepped only where
        something can happen (a flight confirmed, a contact, a candidate step peak while the walking
        detector listens, a time an open event waits for); every other sample would only repeat the
        state (``_ContactDetector``, ``PelvisStepDetector``)."""
        cfg = self.config
        ct, walk = self._contacts, self._walk
        walk.prepare(h, g0)
        ct.begin(h, g0)
        cands = walk.candidates(h, g0)
        found: list[tuple[int, int, _Pending]] = []
        ci, last = 0, g0 - 1
        while True:
            cand = int(cands[ci]) if ci < cands.size else g_end
            bound = min(cand + 1, g_end)  # a due at the candidate itself counts
            due = min(ct.next_due(h, last + 1, bound), walk.next_due(h, last + 1, bound))
            if self._walk_queue:
                end = self._walk_queue[0].end_s + cfg.walk_confirm_s
                due = first_true(h, last + 1, due, lambda t: t >= end, end)
            nxt = min(cand, due)
            if self.step_every_sample:
                nxt = last + 1  # the reference: every sample stepped (tests/test_events_fast.py)
            if nxt >= g_end:
                break
            if nxt < due and not self.step_every_sample:
                # only candidate peaks until ``due``: while the walking detector is muted (running:
                # in flight, or within running_hold_s of the last flight sample) they change nothing
                if ct.in_flight and 0.0 < cfg.running_hold_s:
                    heard = due  # in flight each sample is the last flight sample: muted until ``due`` at least
                else:
                    heard = first_true(h, nxt, due, lambda t: not self._muted(t),
                                       self._last_flight_t + cfg.running_hold_s)
                if heard > nxt:
                    ci = int(np.searchsorted(cands, heard))
                    continue
                ci += 1
            if ct.in_flight and nxt - 1 > last:
                self._last_flight_t = h.at(nxt - 1, H_T)  # the skipped samples were in flight too
            found += [(nxt, 0, p) for p in self._step(h, nxt)]
            last = nxt
            while ci < cands.size and cands[ci] <= last:
                ci += 1
        if ct.in_flight and g_end - 1 > last:
            self._last_flight_t = h.at(g_end - 1, H_T)
        ct.end(h)
        return found

    def _step(self, h: History, g: int) -> list[_Pending]:
        """Sample ``g`` through the contact and walking detectors: the stances and landings it completes."""
        cfg = self.config
        got = self._contacts.step(h, g)
        t = h.at(g, H_T)
        if self._contacts.in_flight:
            self._last_flight_t = t
        running = self._muted(t)
        walk = self._walk
        # muted with nothing open, the walking detector's step would only lower its trough (kept lazily)
        idle = running and not walk.open and not walk.peaks and not self.step_every_sample
        for side, ic, to, stride, now in ([] if idle else walk.step(h, g, muted=running)):
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
        return got

    def _muted(self, t: float) -> bool:
        """The walking detector is muted at ``t`` (s): within ``running_hold_s`` of the last flight sample."""
        return t - self._last_flight_t < self.config.running_hold_s

    def flush(self) -> list[Event]:
        """Close open windows at the end of the stream (a landing still inside its window)."""
        if self._buf.chunk is None or len(self._buf.chunk) == 0:
            return []
        t = float(self._buf.chunk.time_s[-1])
        found = []
        if self._contacts.landing is not None:
            found += self._contacts._close_landing(t, t, take_off=False)
        return self._finish(found)

    def _finish(self, found: list[_Pending]) -> list[Event]:
        """The events of ``found`` with their metrics from the kept frames; those with too few valid
        samples dropped."""
        if not found:
            return []
        c = self._buf.chunk
        events = []
        for p in found:
            if p.kind == "hold":
                p.start_s, p.end_s = _hold_plateau(c.time_s, c.angles_deg, p.side, p.start_s, p.end_s,
                                                   self.config.hold_plateau_fraction)
            events.append(Event(p.kind, p.side, float(p.start_s), float(p.end_s), extra=dict(p.extra)))
        for ev in events:  # each event's peaks on its own (hipmon.events takes them all at once)
            set_event_metrics(ev, event_peaks(c.time_s, c.angles_deg, ev.side, ev.start_s, ev.end_s, c.valid))
        return [ev for ev in events if ev.extra.get("valid_fraction", 0.0) >= self.config.min_valid_fraction]


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
