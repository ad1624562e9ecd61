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

import operator
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from hipmon.gait_events import (H_FL, H_FR, H_T, H_WANT, H_WUP, History, PelvisStepDetector, WalkConfig,
                                 side_from_pelvis_rates)
from hipmon.metrics import angle_index, events_metrics
from hipmon.types import ANGLE_COLUMNS, SIDES, Event, Frames

G = 9.81
#: Seconds of valid samples the detectors look back over (the walking detector's 3 s, with margin).
HISTORY_S = 3.5
#: The order the detectors' events are found in (sample, detector, order within the sample).
_BY_SAMPLE = operator.itemgetter(0, 1, 2)
#: The ``angles_deg`` columns of the left and right hip flexion.
_FLEX_COLUMNS = np.array([ANGLE_COLUMNS.index(f"hip_flexion_{s}_deg") for s in SIDES], dtype=np.int64)


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
    """The rows the metrics of events still open read (time (s), angles (deg), valid), addressed by
    absolute sample index."""

    def __init__(self) -> None:
        self.start = 0  # absolute index of the first kept sample
        self.time_s = np.empty(0)
        self.angles_deg = np.empty((0, len(ANGLE_COLUMNS)))
        self.valid = np.empty(0, dtype=bool)
        self.increasing = True  # every time so far later than the one before

    @property
    def end(self) -> int:
        return self.start + len(self.time_s)

    def append(self, c: Frames) -> None:
        t = c.time_s
        self.increasing = self.increasing and bool(np.all(np.diff(np.concatenate([self.time_s[-1:], t])) > 0))
        if len(self.time_s) == 0:
            self.time_s, self.angles_deg, self.valid = t, c.angles_deg, c.valid
            return
        self.time_s = np.concatenate([self.time_s, t])
        self.angles_deg = np.concatenate([self.angles_deg, c.angles_deg])
        self.valid = np.concatenate([self.valid, c.valid])

    def keep_from(self, index: int) -> None:
        if index <= self.start:
            return
        cut = min(index - self.start, len(self.time_s))
        self.time_s, self.angles_deg, self.valid = self.time_s[cut:], self.angles_deg[cut:], self.valid[cut:]
        self.start += cut


# ---------------------------------------------------------------- detectors


@dataclass(slots=True)
class _Pending:
    """An event found by a detector: sample indices and extra times; metrics come later."""

    kind: str
    side: str
    start_s: float
    end_s: float
    extra: dict[str, float] = field(default_factory=dict)


class _ContactDetector:
    """Flights and contacts from the pelvis vertical specific force: running stances and landings.

    Sample by sample (``hipmon.event_kernels.contact_run``, compiled) over the new rows of a
    ``History``; the state is one vector carried from chunk to chunk. A stance whose side the
    thighs do not give takes it from the pelvis rates here (``_pelvis_side``), in the order
    the stances close."""

    def __init__(self, cfg: EventConfig) -> None:
        from hipmon import event_kernels as ek

        self.cfg = cfg
        self.state = ek.contact_state()
        self.last_side: str | None = None  # side of the latest running stance
        self.params = np.array([cfg.flight_force, cfg.contact_force, cfg.edge_force, cfg.min_flight_s,
                                cfg.min_contact_s, cfg.max_stance_s, cfg.run_spread_deg, cfg.scissor_rate,
                                cfg.min_jump_flight_s, cfg.max_running_flight_s, cfg.landing_window_s,
                                cfg.both_legs_flexion_deg, float("stance" in cfg.kinds),
                                float("landing" in cfg.kinds)])

    def run(self, h: History, g0: int) -> tuple[list[tuple[int, _Pending]], np.ndarray]:
        """Step the samples ``g0..h.end-1``: the events they complete, each with its sample, in order,
        and whether each sample (K,) ends in flight."""
        from hipmon import event_kernels as ek

        k = h.end - g0
        in_flight = np.zeros(k, dtype=np.bool_)
        out = np.empty((2 * k, ek.CO_SIZE))
        n = ek.contact_run(self.state, h.x, h.base, g0, self.params, in_flight, out)
        found: list[tuple[int, _Pending]] = []
        for g, kind, side, start, end, a, b, now, ends_in_take_off, thighs in out[:n].tolist():
            if kind == 0.0:
                s = SIDES[int(side)] if side != ek.CT_BOTH else self._pelvis_side(h, int(g), start,
                                                                                    start + 0.5 * (end - start))
                self.last_side = s
                found.append((int(g), _Pending("stance", s, start, end, {
                    "initial_contact_s": start, "toe_off_s": end, "contact_time_s": end - start,
                    "flight_before_s": a, "method": 0.0, "detected_s": now})))
            else:
                found += [(int(g), p) for p in self._landing(side, start, end, a, b, now, ends_in_take_off,
                                                             thighs)]
        return found, in_flight

    def close_landing(self, end: float, now: float) -> list[_Pending]:
        """The open landing (if any), ended at ``end`` (s) by the end of the stream at ``now`` (s)."""
        from hipmon import event_kernels as ek

        if self.state[ek.CT_L_OPEN] == 0.0:
            return []
        self.state[ek.CT_L_OPEN] = 0.0
        st = self.state.tolist()  # Python floats, as the events' fields are
        return self._landing(st[ek.CT_L_SIDE], st[ek.CT_L_IC], end, st[ek.CT_L_TAKE_OFF], st[ek.CT_L_FLIGHT], now,
                             0.0, st[ek.CT_L_THIGHS])

    def _landing(self, side: float, ic: float, end: float, take_off: float, flight: float, now: float,
                 ends_in_take_off: float, thighs: float) -> list[_Pending]:
        """A landing's events: a two-legged one once per leg (each leg's own peaks and alerts); without
        thighs there are no per-leg peaks: one event, side "both"."""
        from hipmon.event_kernels import CT_BOTH

        both = side == CT_BOTH
        extra = {"take_off_s": take_off, "flight_time_s": flight, "initial_contact_s": ic, "impact_s": ic,
                 "ends_in_take_off": ends_in_take_off, "detected_s": now, "bilateral": float(both)}
        sides = (SIDES if thighs != 0.0 else ("both",)) if both else (SIDES[int(side)],)
        return [_Pending("landing", s, ic, end, dict(extra)) for s in sides]

    def _pelvis_side(self, h: History, g: int, ic: float, mid: float) -> str:
        """Stance side from the pelvis rates (``hipmon.gait_events.side_from_pelvis_rates``) over IC ± (mid − IC)."""
        w = h.since(g, h.at(g, H_T) - 1.0)  # the pelvis rates of the last 1 s
        side = side_from_pelvis_rates(w[:, H_T], w[:, H_WANT], w[:, H_WUP], ic, mid - ic) if len(w) else None
        return side or ("left" if self.last_side == "right" else "right")


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
        self._single = _SingleLegDetector(self.config)
        self._hist = History()

    def update(self, frames: Frames) -> list[Event]:
        c = _as_chunk(frames)
        if len(c) == 0:
            return []
        self._buf.append(c)
        cfg = self.config
        # the samples the detectors step through: valid, with a finite time and pelvis force (the
        # History's rows; time must increase: a sample without a finite time is not one)
        x, moving = self._rows(c)
        h = self._hist
        g0 = h.end
        h.append(x)
        g_end = h.end
        # (sample, detector, order within the sample, event): sorted, the order stepping gives
        found: list[tuple[int, int, int, _Pending]] = []
        if g_end > g0:
            found += [(g0 + i, 1, 0, p) for i, p in self._single.run(x[:, H_T], x[:, H_FL], x[:, H_FR], moving)]
            found += self._step_contacts_and_walk(h, g0, g_end)
        found.sort(key=_BY_SAMPLE)
        events = self._finish([x[3] for x in found])
        # keep frames back to the oldest start an open detector may still report
        keep_s = max(cfg.hold_max_s if self._single.lifted else 0.0, cfg.rep_max_s, 3 * cfg.walk.max_step_s,
                     cfg.max_stance_s + cfg.landing_window_s) + 0.5
        t_now = float(c.time_s[-1])
        self._buf.keep_from(self._buf.start + int(np.searchsorted(self._buf.time_s, t_now - keep_s)))
        h.trim(HISTORY_S, 2 * self._walk.n + 8)
        # in detection order (then end, start): the same order however the frames were chunked
        return sorted(events, key=lambda e: (e.extra.get("detected_s", e.end_s), e.end_s, e.start_s))

    @staticmethod
    def _rows(c: Frames) -> tuple[np.ndarray, np.ndarray]:
        """The ``History`` rows (K, 12) of the chunk's samples the detectors step through and whether
        each is moving (K,) bool (``hipmon.event_kernels.detector_rows``): the pelvis vertical
        specific force ``f`` (m/s²), the thigh and pelvis rates about Z (rad/s), the hip flexions
        (deg), the pelvis rates about its anterior (− = obliquity rising) and superior (≈ vertical,
        + = right forward) axes, the thighs' |specific force| (m/s², the heel-strike transient of
        walking ICs); moving: a thigh faster than 1 rad/s or ``|f − g| > 0.3 g``. A thigh's columns
        are NaN without its data."""
        from hipmon.event_kernels import detector_rows

        gyr, acc = c.gyr_segment, c.acc_global
        n = len(c)
        for name, a, shape in (("angles_deg", c.angles_deg, (n, len(ANGLE_COLUMNS))), ("valid", c.valid, (n,)),
                               *((f"gyr_segment[{k!r}]", v, (n, 3)) for k, v in gyr.items()),
                               *((f"acc_global[{k!r}]", v, (n, 3)) for k, v in acc.items())):
            if a.shape != shape:  # (the compiled pass reads them unchecked)
                raise ValueError(f"frames: {name} has shape {a.shape}, expected {shape} ({n} times)")
        p = np.ascontiguousarray(gyr["pelvis"])
        parts = [np.ascontiguousarray(d[k]) if k in d else p for d, k in
                 ((gyr, "left_thigh"), (gyr, "right_thigh"), (acc, "left_thigh"), (acc, "right_thigh"))]
        have = np.array([k in d for d, k in ((gyr, "left_thigh"), (gyr, "right_thigh"), (acc, "left_thigh"),
                                             (acc, "right_thigh"))])
        x, moving = np.empty((len(c), 12)), np.empty(len(c), dtype=np.bool_)
        k = detector_rows(np.ascontiguousarray(c.time_s), np.ascontiguousarray(c.angles_deg), _FLEX_COLUMNS,
                          np.ascontiguousarray(c.valid), np.ascontiguousarray(acc["pelvis"]), p, *parts, have, G,
                          0.3 * G, x, moving)
        return x[:k], moving[:k]

    def _step_contacts_and_walk(self, h: History, g0: int, g_end: int) -> list[tuple[int, int, int, _Pending]]:
        """The contact and walking detectors over the new samples ``g0..g_end-1``: the events found,
        each as (sample, 0, order within the sample, event).

        Both step every sample (compiled). The contact detector does not listen to the walking
        detector, which listens to it: muted within ``running_hold_s`` of the last sample in flight,
        its stances confirmed when ``walk_confirm_s`` passes after their toe-off without a flight
        (``PelvisStepDetector.run``)."""
        cfg = self.config
        contacts, in_flight = self._contacts.run(h, g0)
        found: list[tuple[int, int, int, _Pending]] = [(g, 0, 0, p) for g, p in contacts]
        for g, side, ic, to, stride, now in self._walk.run(h, g0, in_flight, cfg.running_hold_s, cfg.walk_confirm_s,
                                                           "stance" in cfg.kinds):
            found.append((g, 0, 1, _Pending("stance", side, ic, to, {
                "initial_contact_s": ic, "toe_off_s": to, "contact_time_s": to - ic, "stride_s": stride,
                "method": 1.0, "detected_s": now})))
        return found

    def flush(self) -> list[Event]:
        """Close open windows at the end of the stream (a landing still inside its window)."""
        if len(self._buf.time_s) == 0:
            return []
        t = float(self._buf.time_s[-1])
        return self._finish(self._contacts.close_landing(t, t))

    def _finish(self, found: list[_Pending]) -> list[Event]:
        """The events of ``found`` with their metrics from the kept rows (``hipmon.metrics.events_metrics``,
        all at once); those with too few valid samples dropped."""
        if not found:
            return []
        b = self._buf
        for p in found:
            if p.kind == "hold":
                p.start_s, p.end_s = _hold_plateau(b.time_s, b.angles_deg, p.side, p.start_s, p.end_s,
                                                   self.config.hold_plateau_fraction)
        metrics = events_metrics(b.time_s, b.angles_deg, b.valid, [p.side for p in found], [p.start_s for p in found],
                                 [p.end_s for p in found], b.increasing)
        least = self.config.min_valid_fraction
        events = []
        for p, (drop, add, ir, m) in zip(found, metrics):
            if m["valid_fraction"] >= least:
                p.extra.update(m)  # (the detector's keys, then the metrics'; the dict is this event's own)
                events.append(Event(p.kind, p.side, float(p.start_s), float(p.end_s), drop, add, ir, extra=p.extra))
        return events


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
