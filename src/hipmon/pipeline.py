"""One causal pipeline for live streaming and whole recordings (replay == live).

sync -> common grid -> fusion -> calibration -> heading correction -> kinematics
-> events -> alerts, in that order, on chunks of any size:

- ``Pipeline(sensors, config)``; ``feed(notifications) -> Update`` (raw BLE
  notifications: decoded with each sensor's profile decoder, mapped to session
  time with ``hipmon.sync.ClockSync``), or ``feed_samples(sensor_id, time_session_s,
  acc, gyr, mag=None) -> Update`` (already decoded samples, e.g. an imported CSV);
  ``finish() -> Update`` at the end of the stream.
- ``process_session(path_or_reader) -> SessionResult``: the same objects over a
  recording, notifications in their recorded order.

Grid: session time ``k / rate_hz`` (the same lattice for every chunk). A grid
point is emitted once every sensor has a sample at or after it, or once it lies
``max_wait_s`` behind the newest sample of any sensor (a lagging or disconnected
sensor then counts as a gap): the delay is bounded. Values are linearly
interpolated; a grid point whose bracketing samples are further apart than
``1.5`` sample periods is invalid (a gap); fusion is fed interpolated values
across gaps and zero rotation beyond a sensor's last sample.

Calibration: checked every ``calibration_check_s`` of grid time on everything
buffered so far (so chunking never changes when it happens). Frames are emitted
invalid (angles NaN) until the calibration exists; the update that brings it also
brings ``backfill``: the same grid points since the buffer's start, now with
angles (the standing and the calibration walk), and the events in them (events
only ever see calibrated frames, in time order). Offline results replace the
invalid rows with the backfill; the dashboard fills its traces in. See
``hipmon.calibration`` and ``docs/calibration.md``. Heading drift: ``hipmon.heading``.

Units: s, rad/s, m/s² inside; angles in degrees in ``Frames.angles_deg`` (the edge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from hipmon import kinematics as kin
from hipmon import rotations as rot
from hipmon.calibration import (
    Calibration,
    CalibrationConfig,
    CalibrationError,
    calibrate,
    calibrate_pelvis_only,
    find_calibration_windows,
    find_pelvis_calibration_windows,
    share_heading,
)
from hipmon.fusion.preprocess import REST_TH_ACC_M_S2, REST_TH_GYR_DPS
from hipmon.heading import HeadingConfig, HeadingTracker
from hipmon.interp import interp_rows, on_grid_as_delivered
from hipmon.pipeline_kernels import grid_advances
from hipmon.rotation_kernels import multiply_by, rotate_by
from hipmon.stream import IN_BAND_KINDS, SensorStream
from hipmon.alerts import AlertEngine, load_rules
from hipmon.events import EventDetector
from hipmon.types import (
    ANGLE_COLUMNS,
    PLACEMENTS,
    Alert,
    ConnectionEvent,
    Event,
    Frames,
    Gap,
    RawNotification,
    SensorSpec,
)

if TYPE_CHECKING:
    from hipmon.recording.reader import SessionReader

THIGHS: tuple[str, str] = ("left_thigh", "right_thigh")

__all__ = [
    "Pipeline",
    "PipelineConfig",
    "SessionResult",
    "Update",
    "measurable",
    "process_session",
    "process_samples",
]


#: VQF settings for body-worn MEMS gyroscopes on a person:
#:
#: - zero-rate offsets of a few °/s are common (LSM6DSL: ±1..3 °/s typical), above
#:   VQF's default 2 °/s bias clip, so the clip is raised and the initial bias
#:   uncertainty widened so that the first quiet standing estimates it (measured: a
#:   3.4 °/s offset is found within the 3 s stand);
#: - rest is a person standing still, not a sensor on a table: postural sway moves
#:   the pelvis and thighs at 1.3–1.7 °/s RMS (measured on the real standing of
#:   ``neura-sparse-s02-walk``, all three sensors) with peaks near 4 °/s, and sways the
#:   thigh sensors' specific force by a few tenths of m/s². VQF's defaults (2 °/s,
#:   0.5 m/s²) flag rest only in the stillest 1–2 s of a 10 s stand, so the bias it
#:   learns depends on which seconds those were, and a 0.07 °/s difference turns
#:   into 1° of thigh heading within a walk (hip internal rotation then moved by
#:   1.1° between the same data at 52 and 100 Hz). Thresholds above the sway peaks
#:   flag the whole stand; walking (tens of °/s) is never rest.
VQF_PARAMS: dict[str, Any] = {"biasClip": 8.0, "biasSigmaInit": 2.0,
                              "restThGyr": REST_TH_GYR_DPS, "restThAcc": REST_TH_ACC_M_S2}


# ---------------------------------------------------------------- data types


@dataclass
class Update:
    """What one ``feed`` produced: new frames, completed events, fired alerts, a new calibration."""

    frames: Frames
    events: list[Event] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    calibration: Calibration | None = None
    #: with a new calibration: the earlier grid points (emitted invalid before it), now with angles
    backfill: Frames | None = None


@dataclass
class SessionResult:
    """A whole session through the pipeline."""

    frames: Frames
    calibration: Calibration | None
    events: list[Event]
    alerts: list[Alert]
    gaps: list[Gap]
    second_pass: bool = False  # True when the causal pass never calibrated and a later calibration was applied
    events_error: str | None = None  # why events/alerts stopped, if they failed


@dataclass
class PipelineConfig:
    """Pipeline settings.

    - ``rate_hz``: common grid rate (Hz); None = the highest sensor rate, at most ``max_rate_hz``.
    - ``filter``, ``filter_params``: the fusion filter (``hipmon.fusion.make_filter``);
      ``filter_params`` default to ``VQF_PARAMS`` (``make_filter`` leaves them out for other filters).
    - ``use_mag``: magnetometer-aided heading (9D); the relative-heading tracker is then off.
    - ``mag_shared_heading``: with ``use_mag``, calibrate every sensor's heading from the
      pelvis's (``hipmon.calibration.share_heading``) instead of each thigh's own movement.
    - ``max_wait_s``: bounded delay for a lagging sensor (s).
    - ``bridge_gap_s``: a sensor's gap up to this long is bridged for its fusion filter by
      interpolating the gyroscope (lost packets, and the 0.2–0.5 s of a BLE reconnect: the
      filter's tilt correction absorbs what interpolation over less than a stride gets wrong,
      as before issue 11); a longer gap holds the orientation (zero rate) from its start,
      since an interpolated rate over seconds integrates into a rotation that never
      happened. It equals ``max_wait_s``: live, a gap longer than the wait is emitted
      beyond the sensor's last sample (held), so replay holds the same gaps.
    - ``resettle_s``: after a gap longer than ``bridge_gap_s`` the sensor's angles stay
      invalid this long: its filter's inclination re-converges on the accelerometer within
      two of VQF's time constants (3 s), and the heading it could not follow in the gap is
      brought back by the relative-heading tracker (``HeadingConfig.thigh_tau_s``, 10 s).
      Measured (a thigh lost for 6 s in a simulated walk and run): with the gyro
      interpolated across the gap the returning hip read 112° off in the run and 70° of IR
      for good in the walk; held, and hidden for 10 s, flexion and adduction come back
      within 3° and 12°, IR within 25° (the heading the sensor could not see, brought back
      slowly by the heading tracker: the known limit of a 6D sensor off the air).
    - ``calibration_check_s``: how often calibration is attempted (s of grid time).
    - ``max_buffer_s``: data kept while waiting for a calibration (s).
    - ``calibration``: a fixed calibration to use (skips the automatic one).
    - ``events``: run ``hipmon.events`` and ``hipmon.alerts``.
    """

    rate_hz: float | None = None
    max_rate_hz: float = 100.0
    filter: str = "vqf"
    filter_params: dict[str, Any] = field(default_factory=lambda: dict(VQF_PARAMS))
    use_mag: bool = False
    mag_shared_heading: bool = False
    max_wait_s: float = 1.0
    bridge_gap_s: float = 1.0
    resettle_s: float = 10.0
    calibration_check_s: float = 1.0
    max_buffer_s: float = 90.0
    calibration_config: CalibrationConfig = field(default_factory=CalibrationConfig)
    heading: HeadingConfig = field(default_factory=HeadingConfig)
    calibration: Calibration | None = None
    events: bool = True
    event_config: Any = None
    alert_rules: Any = None


# ---------------------------------------------------------------- fusion from a level start


class LevelledFilter:
    """A fusion filter that starts level, whatever the sensor's mounting.

    Filters start from the identity orientation and converge on the vertical over
    their accelerometer time constant (VQF: 3 s), so how far a sensor is strapped from
    its own identity pose changed the standing orientations the calibration averages
    (0.5° on the real walk, ~0.7° of hip angles from the same data rotated). The
    inputs are turned once by the rotation that takes the first valid specific force
    to earth up; the filter then starts level and the output is turned back:
    ``q_sensor_earth = q_level_earth · q_sensor_level``.
    """

    def __init__(self, fusion_filter: Any) -> None:
        self.filter = fusion_filter
        self.q_sensor_level: np.ndarray | None = None

    def update(self, acc_sensor: np.ndarray, gyr_sensor: np.ndarray, mag_sensor: np.ndarray | None = None,
               valid: np.ndarray | None = None) -> np.ndarray:
        """``q_sensor_earth`` (N, 4) from acc m/s², gyr rad/s, mag (N, 3) in the sensor frame."""
        if self.q_sensor_level is None:
            ok = np.flatnonzero(valid) if valid is not None else np.arange(len(acc_sensor))
            ok = ok[np.linalg.norm(acc_sensor[ok], axis=1) > 1.0] if ok.size else ok
            if not ok.size and valid is not None:
                return self.filter.update(acc_sensor, gyr_sensor, mag_sensor)  # nothing to level on yet
            first = acc_sensor[ok[0]] if ok.size else np.array([0.0, 0.0, 1.0])
            self.q_sensor_level = rot.from_two_vectors(first, np.array([0.0, 0.0, 1.0]))
            i0 = int(ok[0]) if ok.size and valid is not None else 0
            if i0:  # the samples before the first level one as before it (chunking never matters)
                m = None if mag_sensor is None else mag_sensor[:i0]
                head = self.filter.update(acc_sensor[:i0], gyr_sensor[:i0], m)
                tail = self.update(acc_sensor[i0:], gyr_sensor[i0:], None if mag_sensor is None else mag_sensor[i0:])
                return np.concatenate([head, tail])
        q = self.q_sensor_level
        q_level_earth = self.filter.update(
            rotate_by(q, acc_sensor), rotate_by(q, gyr_sensor), None if mag_sensor is None else rotate_by(q, mag_sensor))
        return multiply_by(q_level_earth, q)


#: the grid advances each time the newest sample enters a new step of this many seconds
#: (``Pipeline.feed``): at most this much added latency, and a result independent of batching
ADVANCE_STEP_S = 0.1



def merge_updates(parts: Sequence[Update]) -> Update:
    """Consecutive updates as one: frames concatenated, events and alerts in order. A
    backfill is applied to the merged frames it covers; rows before them stay a backfill."""
    if not parts:
        return Update(Frames.empty())
    if len(parts) == 1:
        return parts[0]
    frames = Frames.concatenate([u.frames for u in parts])
    backfills: list[Frames] = []
    for u in parts:
        if u.backfill is None or not len(u.backfill):
            continue
        frames.fill_in(u.backfill)
        if len(frames):
            n_before = int(np.searchsorted(u.backfill.time_s, frames.time_s[0] - 1e-9))
            if n_before:
                backfills.append(u.backfill.slice(0, n_before))
        else:
            backfills.append(u.backfill)
    calibration = next((u.calibration for u in reversed(parts) if u.calibration is not None), None)
    return Update(frames, [e for u in parts for e in u.events], [a for u in parts for a in u.alerts],
                  calibration, Frames.concatenate(backfills) if backfills else None)


# ---------------------------------------------------------------- per-sensor stream


class _Stream:
    """Samples of one sensor in session time, waiting to be put on the grid."""

    def __init__(self, spec: SensorSpec, origin_ns: int) -> None:
        self.spec = spec
        self.origin_ns = int(origin_ns)
        self.t = np.zeros(0)
        self.acc = np.zeros((0, 3))
        self.gyr = np.zeros((0, 3))
        self.mag: np.ndarray | None = None
        self.first_t = math.nan
        self.stream: SensorStream | None = None
        self.samples = 0

    def stage(self) -> SensorStream:
        """This sensor's stream stage (``hipmon.stream``): its notifications -> samples on session time."""
        if self.stream is None:
            if self.spec.profile is None:
                raise ValueError(f"sensor {self.spec.sensor_id!r}: no profile to decode its notifications")
            self.stream = SensorStream.from_profile(self.spec.sensor_id, self.spec.profile, self.spec.rate_hz,
                                                    self.origin_ns)
        return self.stream

    def add(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, mag: np.ndarray | None) -> None:
        t = np.asarray(t, dtype=float)
        if t.size == 0:
            return
        if self.t.size:
            keep = t > self.t[-1]
            t, acc, gyr = t[keep], acc[keep], gyr[keep]
            mag = None if mag is None else mag[keep]
            if t.size == 0:
                return
        else:
            self.first_t = float(t[0])
        self.t = np.concatenate([self.t, t])
        self.acc = np.concatenate([self.acc, np.asarray(acc, float)])
        self.gyr = np.concatenate([self.gyr, np.asarray(gyr, float)])
        if mag is not None:
            m = np.asarray(mag, float)
            self.mag = m if self.mag is None else np.concatenate([self.mag, m])
        self.samples += t.size

    @property
    def last_t(self) -> float:
        return float(self.t[-1]) if self.t.size else -math.inf

    def period(self) -> float:
        if self.spec.rate_hz:
            return 1.0 / self.spec.rate_hz
        if self.t.size > 3:
            return float(np.median(np.diff(self.t[-50:])))
        return 0.01

    def on_grid_as_delivered(self, samples: tuple, grid: np.ndarray, available: np.ndarray,
                             hold_gap_s: float = np.inf, with_mag: bool = True
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """``on_grid`` for many grid points at once, each with only the first ``available[i]``
        of this sensor's ``samples`` (time_session_s, acc, gyr, mag: the whole stream), those
        it had delivered when ``feed`` put point ``i`` on the grid: the same values bit for
        bit (``Pipeline.replay``). A point beyond the delivered samples holds the last one.
        ``with_mag`` False: mag is None (a 6D filter does not read it). One compiled pass
        (``hipmon.interp.on_grid_as_delivered``)."""
        t, a_all, g_all, m_all = samples
        return on_grid_as_delivered(grid, t, a_all, g_all, m_all if with_mag else None, available, hold_gap_s,
                                    1.5 * self.period())

    def on_grid(self, grid: np.ndarray, hold_gap_s: float = np.inf
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """acc, gyr, mag (M, 3) at ``grid`` and (M,) validity; then drop samples no longer needed.

        Inside a gap longer than ``hold_gap_s`` (s) and beyond the last sample the rate is zero
        (the orientation is held): known from the two samples around each grid point, so live
        (where such a gap is first emitted beyond the last sample) and replay hold alike."""
        m = grid.size
        acc = np.empty((m, 3))
        gyr = np.empty((m, 3))
        mag = None if self.mag is None else np.empty((m, 3))
        if self.t.size == 0:
            acc[:] = [0.0, 0.0, 9.81]
            gyr[:] = 0.0
            if mag is not None:
                mag[:] = 0.0
            return acc, gyr, mag, np.zeros(m, dtype=bool)
        acc, gyr = interp_rows(grid, self.t, self.acc), interp_rows(grid, self.t, self.gyr)
        if self.mag is not None:
            mag = interp_rows(grid, self.t, self.mag)
        beyond = grid > self.t[-1]
        gyr[beyond] = 0.0
        j = np.searchsorted(self.t, grid, side="right")
        lo = np.clip(j - 1, 0, self.t.size - 1)
        hi = np.clip(j, 0, self.t.size - 1)
        step = self.t[hi] - self.t[lo]
        exact = self.t[lo] == grid
        gyr[(step > hold_gap_s) & ~exact] = 0.0
        valid = (j >= 1) & ~beyond & ((step <= 1.5 * self.period()) | exact)
        # keep from the last sample at or before the last grid point
        k = max(int(np.searchsorted(self.t, grid[-1], side="right")) - 1, 0)
        self.t, self.acc, self.gyr = self.t[k:], self.acc[k:], self.gyr[k:]
        if self.mag is not None:
            self.mag = self.mag[k:]
        return acc, gyr, mag, valid


class _Staging:
    """``Pipeline.replay``'s samples per sensor (kept as ``_Stream.add`` keeps them), from sample
    number ``base[sid]`` on, and the grid advances not yet processed."""

    def __init__(self, order: list[str], keep_mag: bool = True) -> None:
        self.order = order
        self.keep_mag = keep_mag  # False: a 6D filter's staging (no magnetometer samples kept, only checked)
        self.parts: dict[str, list[tuple]] = {sid: [] for sid in order}
        self.base = {sid: 0 for sid in order}
        self.last_before = [-math.inf] * len(order)  # each sensor's newest sample time so far
        #: the grid's advances, in runs: (first k (E,), last k (E,), samples of each sensor then (E, placements))
        self.schedule: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.last_grid_s: float | None = None
        self._mag: dict[str, bool | None] = {sid: None for sid in order}

    def add(self, sid: str, t, acc, gyr, mag) -> bool:
        """Append kept samples; False when they cannot be staged exactly (out of order, or
        magnetometer samples in some blocks only)."""
        if not t.size:
            return True
        has_mag = mag is not None
        if self._mag[sid] is not None and self._mag[sid] != has_mag:
            return False
        self._mag[sid] = has_mag
        ps = self.parts[sid]
        prev = ps[-1][0][-1] if ps else -math.inf
        if not (t[0] > prev and (t.size < 2 or np.all(np.diff(t) > 0))):
            return False
        ps.append((t, np.asarray(acc, float), np.asarray(gyr, float),
                   None if mag is None or not self.keep_mag else np.asarray(mag, float)))
        return True

    def points(self) -> int:
        return sum(int((k1 - k0 + 1).sum()) for k0, k1, _ in self.schedule)

    def arrays(self, sid: str) -> tuple:
        """(time_session_s, acc, gyr, mag) of the staged samples (one array each)."""
        ps = self.parts[sid]
        if not ps:
            return np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)), None
        if len(ps) > 1:
            ps[:] = [(np.concatenate([x[0] for x in ps]), np.concatenate([x[1] for x in ps]),
                      np.concatenate([x[2] for x in ps]),
                      None if ps[0][3] is None else np.concatenate([x[3] for x in ps]))]
        return ps[0]

    def drop_before(self, time_s: float) -> None:
        """Drop each sensor's samples before its last one at or before ``time_s``."""
        for sid in self.order:
            t, a, g, m = self.arrays(sid)
            k = max(int(np.searchsorted(t, time_s, side="right")) - 1, 0) if t.size else 0
            if k:
                self.parts[sid] = [(t[k:], a[k:], g[k:], None if m is None else m[k:])]
                self.base[sid] += k


# ---------------------------------------------------------------- the pipeline


class Pipeline:
    """The causal pipeline (see the module docstring).

    ``sensors``: ``SensorSpec`` list (or mapping placement -> sensor id) covering
    the three placements, or the pelvis alone (a sacrum-only session: pelvis angles,
    hip columns NaN, calibration ``hipmon.calibration.calibrate_pelvis_only``).
    ``origin_ns``: host monotonic ns of session time 0 (for raw notifications).
    """

    def __init__(
        self,
        sensors: Sequence[SensorSpec] | Mapping[str, str],
        config: PipelineConfig | None = None,
        origin_ns: int = 0,
    ) -> None:
        self.config = config or PipelineConfig()
        if isinstance(sensors, Mapping):
            sensors = [SensorSpec(sensor_id=sid, placement=p) for p, sid in sensors.items()]
        self.specs = list(sensors)
        placements = [s.placement for s in self.specs]
        missing = [p for p in PLACEMENTS if p not in placements]
        if missing and missing != list(THIGHS):
            raise ValueError(f"no sensor for placement(s) {missing} (give all three, or the pelvis alone)")
        #: the placements this session has sensors for (PLACEMENTS order)
        self.placements: tuple[str, ...] = tuple(p for p in PLACEMENTS if p in placements)
        self.pelvis_only = self.placements == ("pelvis",)
        self.streams: dict[str, _Stream] = {s.sensor_id: _Stream(s, origin_ns) for s in self.specs}
        self.by_placement = {s.placement: s.sensor_id for s in self.specs}
        rates = [s.rate_hz for s in self.specs if s.rate_hz]
        self.rate_hz = float(self.config.rate_hz or min(max(rates, default=100.0), self.config.max_rate_hz))
        from hipmon.fusion import make_filter

        params = dict(self.config.filter_params)  # make_filter leaves out another filter's settings
        self.filters = {
            p: LevelledFilter(make_filter(self.config.filter, self.rate_hz, use_mag=self.config.use_mag, **params))
            for p in self.placements
        }
        self.next_k: int | None = None
        self._advanced_step: int | None = None  # ``feed``: the newest ADVANCE_STEP_S step advanced at
        self.calibration: Calibration | None = self.config.calibration
        heading_cfg = self.config.heading
        if self.config.use_mag:
            heading_cfg = HeadingConfig(**{**heading_cfg.__dict__, "thigh": False})
        self.heading = HeadingTracker(heading_cfg, self.rate_hz)
        self._cal_buf: dict[str, list[np.ndarray]] = {}
        self._cal_buf_k0: int | None = None
        self._cal_reference_set = False
        self.gaps: list[Gap] = []
        self._invalid_run: dict[str, float | None] = {p: None for p in self.placements}
        #: per sensor: the current gap's first grid index (None: has data), and the grid index
        #: until which its angles are still settling after a held gap
        self._gap_k0: dict[str, int | None] = {p: None for p in self.placements}
        self._settle_until_k: dict[str, int] = {p: -1 for p in self.placements}
        from hipmon.jit import warm_up

        warm_up()  # the compiled kernels ready before any sample arrives (a first run compiles them)
        self.detector = None
        self.alert_engine = None
        self.events_error: str | None = None
        #: what the updates' frames keep: "all", or "angles" (time, angles, validity: what a session's
        #: analysis and batch tables need; the segment rates, forces and orientations, 29 of the 40
        #: numbers a grid point holds, are dropped once the chunk's events are found)
        self.keep_frames = "all"
        if self.config.events:
            self.detector = EventDetector(self.config.event_config)
            self.alert_engine = AlertEngine(self.config.alert_rules or load_rules(None))
        if self.calibration is not None:
            self._cal_reference_set = False

    # ------------------------------------------------------------ inputs

    def feed(self, notifications: Iterable[RawNotification | ConnectionEvent]) -> Update:
        """Raw notifications in arrival order -> new frames, events, alerts.

        The items may carry a sensor's connection events in band, in their place
        (``hipmon.types.ConnectionEvent``: live from the acquisition queue, or a recording's
        connection log): a ``connect``/``reconnect`` resets that sensor's
        decoder and clock map there; every item goes through its sensor's stream stage
        (``hipmon.stream.SensorStream``: decoder, control messages, reconnects, clock map).

        Batch-invariant: the grid advances after a notification whose samples take the newest
        sample time into a new ``ADVANCE_STEP_S`` step (a rule on the items alone, not on how
        they were batched), so ``feed(a + b)`` computes exactly what ``feed(a); feed(b)`` does
        (the returned updates are merged). Live (whatever the queue held) and replay (``batch`` at a time) therefore
        give the same frames, events and alerts for the same items in the same order."""
        parts: list[Update] = []
        for n in notifications:
            s = self.streams.get(n.sensor_id)
            if s is None:
                continue
            got = s.stage().push(n)
            block = got.block
            if block is None:
                continue
            s.add(got.time_session_s, block.acc_sensor, block.gyr_sensor, block.mag_sensor)
            step = math.floor(s.last_t / ADVANCE_STEP_S) if s.t.size else None
            if step is not None and (self._advanced_step is None or step > self._advanced_step):
                self._advanced_step = step
                up = self._advance(final=False)
                if len(up.frames) or up.events or up.alerts or up.calibration is not None:
                    parts.append(up)
        return merge_updates(parts)

    def feed_samples(
        self,
        sensor_id: str,
        time_session_s: np.ndarray,
        acc_sensor: np.ndarray,
        gyr_sensor: np.ndarray,
        mag_sensor: np.ndarray | None = None,
    ) -> Update:
        """Decoded samples of one sensor (session time s (N,), acc m/s² (N, 3), gyr rad/s (N, 3), mag µT)."""
        self.streams[sensor_id].add(time_session_s, acc_sensor, gyr_sensor, mag_sensor)
        return self._advance(final=False)

    def feed_many(
        self, samples: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]
    ) -> Update:
        """Decoded samples of several sensors arriving together (sensor id -> (time_session_s, acc, gyr, mag))."""
        for sid, (t, a, g, m) in samples.items():
            self.streams[sid].add(t, a, g, m)
        return self._advance(final=False)

    def finish(self) -> Update:
        """End of stream: emit what is left, flush events."""
        up = self._advance(final=True)
        if self.detector is not None:
            self._run_events(up, None)
        return up

    def replay(self, items: Iterable[RawNotification | ConnectionEvent], chunk_points: int = 2000,
               window_items: int = 30000) -> list[Update] | None:
        """A whole recording's items, then ``finish``: :meth:`replay_blocks` of the items taken
        ``window_items`` at a time (``hipmon.stream.ItemBlock.from_items``)."""
        from itertools import islice

        from hipmon.stream import ItemBlock

        def windows() -> Iterator[ItemBlock]:
            it = iter(items)
            while window := list(islice(it, window_items)):
                yield ItemBlock.from_items(window)

        return self.replay_blocks(windows(), chunk_points)

    def replay_blocks(self, blocks: Iterable[Any], chunk_points: int = 2000) -> list[Update] | None:
        """A whole recording's items in blocks (``hipmon.stream.ItemBlock``, e.g.
        ``SessionReader.item_blocks``), then ``finish``: the updates ``feed(items)`` and
        ``finish()`` would give (the same frames bit for bit, events and alerts), in a fraction of
        the time.

        ``feed`` puts the grid forward at most every ``ADVANCE_STEP_S`` of the newest sample,
        with what each sensor has delivered by then (a grid point beyond a lagging sensor's last
        sample is a gap for it). Here each block's rows of each sensor go through its stream
        stage at once (``SensorStream.push_block``: the same samples and times), and only *when*
        the grid would advance and how many samples each sensor had then is worked out in
        arrival order; each grid point's inputs are then taken from the samples its sensor had
        at that moment (``_Stream.on_grid_as_delivered``), and the grid is processed in chunks
        of about ``chunk_points`` (``_process_inputs`` does not depend on the chunking).
        Memory: one block and the samples not yet on the grid.

        Returns None when the stream cannot be staged exactly (a sensor without a nominal rate,
        magnetometer samples in some blocks only, or a sensor's samples out of order): the
        caller then feeds the items to a new pipeline. The pipeline must be new."""
        if self.next_k is not None or any(s.spec.rate_hz is None for s in self.streams.values()):
            return None
        order = [self.by_placement[p] for p in self.placements]
        col = {sid: j for j, sid in enumerate(order)}
        n_p = len(order)
        st = _Staging(order, keep_mag=self.config.use_mag)
        ups: list[Update] = []
        wait, rate = self.config.max_wait_s, self.rate_hz
        next_k: int | None = None
        advanced: float = -math.inf  # the newest ADVANCE_STEP_S step the grid advanced at
        count = np.zeros(n_p, dtype=np.int64)  # samples each sensor has delivered
        first_t = [math.nan] * n_p
        for block in blocks:
            if not len(block):
                continue
            # each row's placement column (-1: a sensor not in the pipeline, or none)
            lut = np.array([col.get(sid, -1) for sid in block.sensor_ids] + [-1], dtype=np.int64)
            sensor_of = lut[block.sensor]
            kept_n = np.zeros(len(block), dtype=np.int64)
            kept_last = np.zeros(len(block))
            for j, sid in enumerate(order):
                where = np.flatnonzero(sensor_of == j)
                if not where.size:
                    continue
                run = self.streams[sid].stage().push_block(block.take(where))
                if run.block is None or not run.time_session_s.size:
                    continue
                got = np.flatnonzero(run.counts)
                t = run.time_session_s
                ends = np.cumsum(run.counts[got])
                t_last = t[ends - 1]
                # each block keeps what is later than the sensor's newest sample before it
                prev = np.maximum.accumulate(np.concatenate([[st.last_before[j]], t_last]))[:-1]
                if count[j] == 0:
                    first_t[j] = float(t[0])  # a sensor's first block is taken whole (``_Stream.add``)
                keep = t > np.repeat(prev, run.counts[got])
                n_keep = np.add.reduceat(keep.astype(np.int64), ends - run.counts[got])
                kept_n[where[got]] = n_keep
                kept_last[where[got]] = t_last
                b, sel = run.block, slice(None) if keep.all() else keep
                if not st.add(sid, t[sel], b.acc_sensor[sel], b.gyr_sensor[sel],
                              None if b.mag_sensor is None else b.mag_sensor[sel] if st.keep_mag else b.mag_sensor):
                    return None
            # the grid's advances (``_advance`` without the work), in arrival order: after a row
            # whose samples take the newest sample time into a new ADVANCE_STEP_S step, each
            # sensor's sample count and newest sample time then
            rows = np.flatnonzero(kept_n)
            if not rows.size:
                continue
            js, lasts = sensor_of[rows], kept_last[rows]
            last_now = np.array(st.last_before, dtype=float)
            counts_adv, lasts_adv = np.empty((rows.size, n_p), np.int64), np.empty((rows.size, n_p))
            n_adv, advanced = grid_advances(js, kept_n[rows], lasts, float(advanced), ADVANCE_STEP_S, count, last_now,
                                            counts_adv, lasts_adv)
            counts_adv, lasts_adv = counts_adv[:n_adv], lasts_adv[:n_adv]
            # at each advance once every sensor has delivered: the grid up to the slowest sensor,
            # or ``max_wait_s`` behind the newest
            ready = counts_adv.all(axis=1)
            last_adv = np.where(ready[:, None], lasts_adv, 0.0)
            newest, horizon = last_adv.max(axis=1), last_adv.min(axis=1)
            horizon = np.where(newest - horizon > wait, newest - wait, horizon)
            k_ends = np.floor(horizon * rate + 1e-9).astype(np.int64)
            a0 = 0
            if next_k is None and ready.any():  # the grid starts at the first advance all sensors are in
                a0 = int(np.argmax(ready))
                next_k = int(math.ceil(max(first_t) * rate - 1e-9))
            if next_k is not None:
                # an advance takes the grid from one past the furthest so far to its k_end, if beyond it
                reach = np.maximum.accumulate(np.concatenate([[next_k - 1], k_ends[a0:]]))
                on = np.flatnonzero(k_ends[a0:] > reach[:-1])
                if on.size:
                    st.schedule.append((reach[on] + 1, k_ends[a0 + on], counts_adv[a0 + on]))
                next_k = int(reach[-1]) + 1
            st.last_before = last_now.tolist()
            if st.points() >= chunk_points:
                ups.extend(self._staged_grid(st, chunk_points))
        ups.extend(self._staged_grid(st, chunk_points))
        self.next_k = next_k
        self._advanced_step = None if advanced == -math.inf else int(advanced)
        for j, sid in enumerate(order):  # what ``feed`` would leave in each stream (a 6D filter's without mag)
            s = self.streams[sid]
            t, a, g, m = st.arrays(sid)
            s.first_t, s.samples = first_t[j], int(count[j])
            k = 0 if st.last_grid_s is None or not t.size else max(int(np.searchsorted(t, st.last_grid_s, side="right")) - 1, 0)
            s.t, s.acc, s.gyr, s.mag = t[k:], a[k:], g[k:], None if m is None else m[k:]
        ups.append(self.finish())
        return ups

    def _staged_grid(self, st: "_Staging", chunk_points: int) -> list[Update]:
        """The grid points scheduled so far (``replay``), in chunks; then the samples no later
        grid point needs are dropped."""
        if not st.schedule:
            return []
        ups = []
        sched, st.schedule = st.schedule, []
        k0, k1 = np.concatenate([x[0] for x in sched]), np.concatenate([x[1] for x in sched])
        ks = np.arange(k0[0], k1[-1] + 1)  # the runs follow each other
        lengths = k1 - k0 + 1
        counts = np.concatenate([x[2] for x in sched]).astype(np.int64)  # (emissions, placements)
        whole = {sid: st.arrays(sid) for sid in st.order}
        avail = {p: np.repeat(counts[:, j] - st.base[sid], lengths) for j, (p, sid) in enumerate(zip(self.placements, st.order))}
        for i0 in range(0, ks.size, chunk_points):
            kc = ks[i0:i0 + chunk_points]
            grid = kc / self.rate_hz
            on_grid = {p: self.streams[sid].on_grid_as_delivered(whole[sid], grid, avail[p][i0:i0 + chunk_points],
                                                                 self.config.bridge_gap_s, self.config.use_mag)
                       for p, sid in zip(self.placements, st.order)}
            ups.append(self._process_inputs(kc, grid, on_grid))
        st.last_grid_s = float(ks[-1] / self.rate_hz)
        st.drop_before(st.last_grid_s)
        return ups

    # ------------------------------------------------------------ the work

    def _advance(self, final: bool) -> Update:
        streams = [self.streams[self.by_placement[p]] for p in self.placements]
        if any(s.t.size == 0 and not final for s in streams) and self.next_k is None:
            return Update(Frames.empty())
        if self.next_k is None:
            starts = [s.first_t for s in streams if not math.isnan(s.first_t)]
            if not starts:
                return Update(Frames.empty())
            self.next_k = int(math.ceil(max(starts) * self.rate_hz - 1e-9))
        newest = max(s.last_t for s in streams)
        horizon = min(s.last_t for s in streams)
        if final:
            horizon = newest
        elif newest - horizon > self.config.max_wait_s:
            horizon = newest - self.config.max_wait_s
        k_end = int(math.floor(horizon * self.rate_hz + 1e-9))
        if k_end < self.next_k:
            return Update(Frames.empty())
        ks = np.arange(self.next_k, k_end + 1)
        self.next_k = k_end + 1
        return self._process_grid(ks)

    def _process_grid(self, ks: np.ndarray) -> Update:
        grid = ks / self.rate_hz
        on_grid = {p: self.streams[self.by_placement[p]].on_grid(grid, self.config.bridge_gap_s) for p in self.placements}
        return self._process_inputs(ks, grid, on_grid)

    def _process_inputs(self, ks: np.ndarray, grid: np.ndarray, on_grid: Mapping[str, tuple]) -> Update:
        """Grid points ``ks`` (times ``grid`` s) from each placement's (acc, gyr, mag, valid)
        there (``_Stream.on_grid``): fusion, calibration, heading, angles, events. Gives the
        same results however the grid is split into calls (what ``replay`` relies on)."""
        n = grid.size
        acc, gyr, q_se, valid = {}, {}, {}, {}
        for p in self.placements:  # one filter per sensor: a lost sensor's fusion touches no other
            a, g, m, v = on_grid[p]
            settled = self._settled(p, ks, v)
            acc[p], gyr[p] = a, g
            q_se[p] = self.filters[p].update(a, g, m if self.config.use_mag else None, v)
            valid[p] = v & settled
            self._track_gaps(p, grid, v)
        if self.calibration is None:
            span = self._try_calibrate(ks, grid, q_se, acc, gyr, valid)
            if span is None:  # not yet: invalid frames, nothing for the events
                none = {p: np.zeros(n, dtype=bool) for p in self.placements}
                return self._kept(Update(self._kinematics(ks, grid, q_se, acc, gyr, none)))
            # calibrated: angles for everything buffered (standing, calibration walk), this chunk last
            whole = self._kinematics(*span)
            n_back = len(whole) - n
            up = Update(whole.slice(n_back, None), calibration=self.calibration,
                        backfill=whole.slice(0, n_back) if n_back > 0 else None)
            if self.detector is not None and len(whole):
                self._run_events(up, whole)
            return self._kept(up)
        if not self._cal_reference_set:
            self._cal_reference_set = True  # fixed calibration: reference slopes from zero
        frames = self._kinematics(ks, grid, q_se, acc, gyr, valid)
        up = Update(frames)
        if self.detector is not None and len(frames):
            self._run_events(up, frames)
        return self._kept(up)

    def _kept(self, up: Update) -> Update:
        """``up`` with its frames cut down to what ``keep_frames`` keeps."""
        if self.keep_frames == "angles":
            up.frames = up.frames.angles_only()
            up.backfill = None if up.backfill is None else up.backfill.angles_only()
        return up

    def _settled(self, placement: str, ks: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """(N,) bool: the sensor's angles have settled after its last held gap.

        A gap longer than ``bridge_gap_s`` is held (zero rate, ``_Stream.on_grid``); the
        sensor's angles stay unsettled for ``resettle_s`` after it ends. Decided on grid
        indices, so chunking never changes it."""
        bridge = max(int(round(self.config.bridge_gap_s * self.rate_hz)), 1)
        settle = int(round(self.config.resettle_s * self.rate_hz))
        k0, until = self._gap_k0[placement], self._settle_until_k[placement]
        ks = ks.astype(np.int64)
        if k0 is None and valid.all():  # no gap open nor starting: only the settling deadline
            return ks >= until
        inv = ~np.asarray(valid, dtype=bool)
        prev_inv = np.concatenate([[k0 is not None], inv[:-1]])
        idx = np.arange(ks.size)
        last_start = np.maximum.accumulate(np.where(inv & ~prev_inv, idx, -1))
        carried = k0 if k0 is not None else 0
        k_start = np.where(last_start >= 0, ks[np.maximum(last_start, 0)], carried)  # this gap's first index
        prev_k_start = np.concatenate([[carried], k_start[:-1]])
        long_end = ~inv & prev_inv & (ks - prev_k_start > bridge)  # first sample after a held gap
        until_k = np.maximum.accumulate(np.concatenate([[until], np.where(long_end, ks + settle, -1)]))[1:]
        settled = ks >= until_k
        self._gap_k0[placement] = int(k_start[-1]) if inv[-1] else None
        self._settle_until_k[placement] = int(until_k[-1])
        return settled

    def _run_events(self, up: Update, frames: Frames | None) -> None:
        """Events and alerts of a chunk (``frames`` None = flush). A failure there switches
        events off for the rest of the stream (``events_error``); angles keep flowing.

        The detector sees a frame wherever the pelvis has data (its contact and step
        methods need only the pelvis; a lost thigh's entries are NaN there, and the
        detector falls back to its pelvis-only methods)."""
        try:
            if frames is not None and "pelvis" in frames.valid_sensor:
                frames = Frames(frames.time_s, frames.angles_deg, frames.gyr_segment, frames.acc_global,
                                frames.valid_sensor["pelvis"], frames.q_segment_global, frames.valid_sensor)
            ev = self.detector.flush() if frames is None else self.detector.update(frames)  # type: ignore[union-attr]
            up.events.extend(ev)
            if self.alert_engine is not None and ev:
                up.alerts.extend(self.alert_engine.update(ev))
        except Exception as exc:  # noqa: BLE001 - keep the angles alive
            self.events_error = f"{type(exc).__name__}: {exc}"
            self.detector = None

    def _track_gaps(self, placement: str, grid: np.ndarray, v: np.ndarray) -> None:
        start = self._invalid_run[placement]
        if start is None and v.all():  # no gap open nor starting
            return
        sid = self.by_placement[placement]
        # the state before this chunk is the carried one (an open gap: invalid)
        d = np.diff(np.concatenate([[0 if start is not None else 1], v.astype(np.int8), [1]]))
        # starts of invalid runs (1 -> 0) and ends (0 -> 1)
        for i in np.flatnonzero(d != 0):
            if d[i] == -1:  # invalid from grid[i]
                if start is None:
                    start = float(grid[i])
            elif d[i] == 1 and i < v.size + 1 and start is not None:
                end = float(grid[i]) if i < v.size else None
                if end is not None:
                    self.gaps.append(Gap(sid, start, end, int(round((end - start) * self.rate_hz)), "grid"))
                    start = None
        self._invalid_run[placement] = start

    def _try_calibrate(self, ks, grid, q_se, acc, gyr, valid) -> tuple | None:
        """Buffer the chunk; at check points, try to calibrate.

        ``valid``: placement -> (M,) bool. Returns None (not yet), or, once calibrated
        (``self.calibration`` set), the whole buffer as ``_kinematics`` arguments
        (ks, grid, q_se, acc, gyr, valid), this chunk last."""
        buf = self._cal_buf
        P = self.placements
        if not buf:
            self._cal_buf_k0 = int(ks[0])
            for p in P:
                buf[f"q_{p}"], buf[f"a_{p}"], buf[f"g_{p}"], buf[f"v_{p}"] = [], [], [], []
            buf["t"] = []
        for p in P:
            buf[f"q_{p}"].append(q_se[p])
            buf[f"a_{p}"].append(acc[p])
            buf[f"g_{p}"].append(gyr[p])
            buf[f"v_{p}"].append(valid[p])
        buf["t"].append(grid)
        # merge lists
        for k in list(buf):
            if len(buf[k]) > 1:
                buf[k] = [np.concatenate(buf[k])]
        check = max(int(round(self.config.calibration_check_s * self.rate_hz)), 1)
        max_n = int(self.config.max_buffer_s * self.rate_hz)
        k0 = self._cal_buf_k0
        assert k0 is not None
        for idx in np.flatnonzero((ks + 1) % check == 0):
            kk = int(ks[idx]) + 1  # data up to grid index kk (exclusive), at most max_buffer_s of it
            start, end = max(kk - max_n, k0) - k0, kk - k0
            a = {p: buf[f"a_{p}"][0][start:end] for p in P}
            g = {p: buf[f"g_{p}"][0][start:end] for p in P}
            q = {p: buf[f"q_{p}"][0][start:end] for p in P}
            cfg = self.config.calibration_config
            if self.pelvis_only:
                pwin = find_pelvis_calibration_windows(a["pelvis"], g["pelvis"], self.rate_hz, cfg, final=False)
                if pwin is None:
                    continue
                try:
                    c = calibrate_pelvis_only(buf["t"][0][start:end], q["pelvis"], a["pelvis"], g["pelvis"], self.rate_hz,
                                              cfg, windows=pwin)
                except CalibrationError:
                    continue
                win = (pwin[0] or pwin[1], pwin[1])
            else:
                win = find_calibration_windows(a, g, self.rate_hz, cfg, final=False)
                if win is None:
                    continue
                try:
                    c = calibrate(buf["t"][0][start:end], q, a, g, self.rate_hz, cfg, windows=win)
                except CalibrationError:
                    continue
            if self.config.use_mag and self.config.mag_shared_heading:
                c = share_heading(c)
            self.calibration = c
            self._set_heading_reference(q, g, win[1])
            self._cal_buf = {}
            t_all = buf["t"][0][start:]
            return (np.arange(k0 + start, k0 + start + t_all.size), t_all,
                    *({p: buf[f"{x}_{p}"][0][start:] for p in P} for x in "qagv"))
        # slide the buffer: keep what the next checks can use (decided on grid indices alone,
        # so neither the checks nor the backfill depend on how the grid was chunked)
        drop = int(ks[-1]) + 1 - max_n - k0
        if drop > 0:
            for k in buf:
                buf[k] = [buf[k][0][drop:]]
            self._cal_buf_k0 = k0 + drop
        return None

    def _set_heading_reference(self, q_se, gyr, movement) -> None:
        m0, m1 = movement
        c = self.calibration
        assert c is not None
        qs = {p: c.segment_orientation(p, q_se[p][m0:m1]) for p in self.placements}
        gs = {p: rot.rotate(c.q_sensor_segment[p], gyr[p][m0:m1]) for p in self.placements}
        for p in THIGHS:  # no thighs: held to the pelvis (no relative motion, nothing to learn)
            qs.setdefault(p, qs["pelvis"])
            gs.setdefault(p, gs["pelvis"])
        self.heading.set_reference(qs, gs)
        self._cal_reference_set = True

    def _kinematics(self, ks, grid, q_se, acc, gyr, valid) -> Frames:
        """Frames of grid points ``ks``; ``valid``: placement -> (N,) bool (the sensor has data there).

        Each angle column needs only its own sensors: pelvis angles the pelvis, a hip the
        pelvis and that thigh. The heading tracker sees a thigh without data (lost, or
        absent in a sacrum-only session) held to the pelvis: zero motion relative to the
        pelvis adds nothing to its sums, so the pelvis and the other thigh get the
        corrections they would get with it (``hipmon.heading``)."""
        n = grid.size
        c = self.calibration
        vs = {p: (valid[p].copy() if p in valid and c is not None else np.zeros(n, dtype=bool)) for p in PLACEMENTS}
        v = np.ones(n, dtype=bool)
        for p in self.placements:
            v &= vs[p]

        def nans(k: int) -> np.ndarray:
            return np.full((n, k), np.nan)

        if c is None or n == 0:
            return Frames(grid, nans(len(ANGLE_COLUMNS)), {p: nans(3) for p in PLACEMENTS}, {p: nans(3) for p in PLACEMENTS},
                          v, {p: nans(4) for p in PLACEMENTS}, vs)
        q_seg, g_seg = {}, {}
        for p in self.placements:  # c.segment_orientation and the rate in the segment frame, one pass
            q_seg[p], g_seg[p] = kin.segment_frames(q_se[p], c.q_sensor_segment[p], c.q_global_earth[p], gyr[p])
        q_in, g_in = dict(q_seg), dict(g_seg)
        for p in THIGHS:
            lost = ~vs[p]
            if p not in q_seg:
                q_in[p], g_in[p] = q_seg["pelvis"], g_seg["pelvis"]
            elif lost.any():
                q_in[p] = np.where(lost[:, None], q_seg["pelvis"], q_seg[p])
                g_in[p] = np.where(lost[:, None], g_seg["pelvis"], g_seg[p])
        q_h = self.heading.apply(q_in, g_in, int(ks[0]), {p: vs[p] for p in THIGHS})
        angles = kin.angles_deg(q_h["pelvis"], {p: q_h[p] for p in THIGHS if p in q_seg}, vs)
        acc_g = {p: kin.acc_global(q_h[p], c.q_sensor_segment[p], acc[p]) for p in self.placements}
        for p in self.placements:  # NaN where the sensor has no data
            if not vs[p].all():
                for arr in (g_seg[p], acc_g[p], q_h[p]):
                    arr[~vs[p]] = np.nan
        gyr_seg, acc_glob, q_out = ({p: d[p] if p in q_seg else nans(k) for p in PLACEMENTS}
                                    for d, k in ((g_seg, 3), (acc_g, 3), (q_h, 4)))
        return Frames(grid, angles, gyr_seg, acc_glob, v, q_out, vs)


# ---------------------------------------------------------------- what a session can measure


def measurable(placements: Iterable[str]) -> dict[str, Any]:
    """What a session with sensors on ``placements`` can and cannot measure.

    Returns ``{"placements": [...], "measurable": [...], "not_measurable": {quantity: why}}``
    (quantity names are ANGLES.csv / EVENTS.csv column names without units, and event kinds).
    """
    have = [p for p in PLACEMENTS if p in set(placements)]
    can: list[str] = []
    cannot: dict[str, str] = {}
    if "pelvis" in have:
        can += ["pelvis_tilt", "pelvis_obliquity", "pelvis_rotation", "stance (initial contact, side)",
                "landing", "peak_pelvic_drop"]
    else:
        for q in ("pelvis_tilt", "pelvis_obliquity", "pelvis_rotation", "peak_pelvic_drop"):
            cannot[q] = "needs a pelvis (sacrum) sensor"
    thighs = [p for p in THIGHS if p in have]
    if "pelvis" in have and len(thighs) == 2:
        can += ["hip_flexion", "hip_adduction", "hip_internal_rotation", "peak_hip_adduction",
                "peak_hip_internal_rotation", "rep", "hold"]
    else:
        why = "needs thigh sensors (left and right) with the pelvis sensor"
        for q in ("hip_flexion", "hip_adduction", "hip_internal_rotation", "peak_hip_adduction",
                  "peak_hip_internal_rotation", "rep", "hold"):
            cannot[q] = why
    return {"placements": have, "measurable": can, "not_measurable": cannot}


# ---------------------------------------------------------------- whole sessions


def _collect(pipe: Pipeline, updates: Iterable[Update]) -> tuple[Frames, list[Event], list[Alert]]:
    """The session's frames (backfilled rows in place), events and alerts."""
    frames, backfills, events, alerts = [], [], [], []
    for up in updates:
        frames.append(up.frames)
        if up.backfill is not None:
            backfills.append(up.backfill)
        events.extend(up.events)
        alerts.extend(up.alerts)
    whole = Frames.concatenate(frames)
    for b in backfills:
        whole.fill_in(b)
    return whole, events, alerts


def process_samples(
    samples: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]],
    specs: Sequence[SensorSpec],
    config: PipelineConfig | None = None,
    chunk_s: float = 10.0,
) -> SessionResult:
    """Run the causal pipeline over decoded samples (sensor id -> (time_session_s, acc, gyr, mag)).

    Samples are fed in ``chunk_s`` slices of session time, interleaved across
    sensors, as a live stream would deliver them (the chunk size never changes
    the frames: tests/test_pipeline.py; larger chunks are faster).
    """
    config = config or PipelineConfig()

    def run(cfg: PipelineConfig) -> tuple[Pipeline, list[Update]]:
        pipe = Pipeline(specs, cfg)
        ups = []
        t_all = [v[0] for v in samples.values() if len(v[0])]
        if t_all:
            t0 = min(float(t[0]) for t in t_all)
            t1 = max(float(t[-1]) for t in t_all)
            edges = np.arange(t0, t1 + chunk_s, chunk_s)
            idx = {sid: np.searchsorted(v[0], edges, side="left") for sid, v in samples.items()}
            idx = {sid: np.concatenate([v, [len(samples[sid][0])]]) for sid, v in idx.items()}
            for e in range(edges.size):
                part = {}
                for sid, (t, a, g, m) in samples.items():
                    i0, i1 = idx[sid][e], idx[sid][e + 1]
                    if i1 > i0:
                        part[sid] = (t[i0:i1], a[i0:i1], g[i0:i1], None if m is None else m[i0:i1])
                if part:
                    ups.append(pipe.feed_many(part))
        ups.append(pipe.finish())
        return pipe, ups

    pipe, ups = run(config)
    second = False
    if pipe.calibration is None:
        # offline: calibrate on the whole stream, then run again with it fixed
        c = _offline_calibration(samples, specs, config)
        if c is not None:
            cfg2 = PipelineConfig(**{**config.__dict__, "calibration": c})
            pipe, ups = run(cfg2)
            second = True
    frames, events, alerts = _collect(pipe, ups)
    return SessionResult(frames, pipe.calibration, events, alerts, _grid_gaps(pipe), second, pipe.events_error)


def _grid_gaps(pipe: Pipeline) -> list[Gap]:
    """The pipeline's grid gaps in time order (then sensor): the same list however the grid
    was chunked (a chunk's gaps are found placement by placement)."""
    return sorted(pipe.gaps, key=lambda g: (g.start_s, g.end_s, g.sensor_id))


def _increasing(time_s: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The samples whose time is later than every earlier one's (as the causal grid keeps
    them, ``_Stream.add``): a reconnect's new clock map can put a few samples before the
    last ones of the old connection."""
    t = np.asarray(time_s, dtype=float)
    if t.size < 2:
        return t, values
    keep = np.concatenate([[True], t[1:] > np.maximum.accumulate(t)[:-1]])
    return (t, values) if keep.all() else (t[keep], values[keep])


def _offline_calibration(samples, specs, config: PipelineConfig) -> Calibration | None:
    from hipmon.fusion import make_filter
    from hipmon.sync import resample

    by_p = {s.placement: s.sensor_id for s in specs}
    pipe = Pipeline(specs, PipelineConfig(**{**config.__dict__, "events": False}))
    rate = pipe.rate_hz
    P = pipe.placements
    # the same fusion as the causal pass (9D with the magnetometers when use_mag), so the
    # calibration's headings belong to the earth frames it will be applied to
    use_mag = config.use_mag and all(samples[by_p[p]][3] is not None for p in P)
    streams = {
        p: (samples[by_p[p]][0], np.hstack([samples[by_p[p]][1], samples[by_p[p]][2]]
                                           + ([samples[by_p[p]][3]] if use_mag else [])))
        for p in P
    }
    if any(len(v[0]) == 0 for v in streams.values()):
        return None  # a sensor without a sample: nothing to calibrate it from
    streams = {p: _increasing(*v) for p, v in streams.items()}
    t0 = max(float(v[0][0]) for v in streams.values())
    t1 = min(float(v[0][-1]) for v in streams.values())
    grid, arrays, _ = resample(streams, rate, start_s=t0, end_s=t1, max_step_s=1.0)
    acc = {p: np.nan_to_num(arrays[p][:, :3]) for p in P}
    gyr = {p: np.nan_to_num(arrays[p][:, 3:6]) for p in P}
    mag = {p: np.nan_to_num(arrays[p][:, 6:9]) if use_mag else None for p in P}
    q = {
        p: LevelledFilter(make_filter(config.filter, rate, use_mag=use_mag, **config.filter_params)).update(
            acc[p], gyr[p], mag[p], np.isfinite(arrays[p][:, 0]))
        for p in P
    }
    try:
        if pipe.pelvis_only:
            return calibrate_pelvis_only(grid, q["pelvis"], acc["pelvis"], gyr["pelvis"], rate, config.calibration_config)
        c = calibrate(grid, q, acc, gyr, rate, config.calibration_config)
    except CalibrationError:
        return None
    return share_heading(c) if config.use_mag and config.mag_shared_heading else c


def process_session(session: str | Path | SessionReader, config: PipelineConfig | None = None, batch: int = 256,
                    staged: bool = True, keep: str = "all") -> SessionResult:
    """Run the causal pipeline over a recording (a path or a ``hipmon.recording.SessionReader``).

    Recorded sessions are replayed from their raw notifications in arrival order,
    through the same decoder and clock sync as live (decoder and clock map reset at each
    logged reconnect): staged (``Pipeline.replay``, ``staged``) or ``batch`` items at a time,
    with the same result. Imported sessions (decoded samples only) are fed as samples on
    their CSV time. ``keep="angles"``: the result's frames hold time, angles and validity only
    (``Frames.angles_only``: a quarter of the memory; what analyses and batch tables read).
    """
    if keep not in ("all", "angles"):
        raise ValueError(f"keep must be 'all' or 'angles', not {keep!r}")
    from hipmon.recording.reader import SessionReader

    config = config or PipelineConfig()
    reader = session
    close = False
    if isinstance(session, (str, Path)):
        reader = SessionReader(session)
        close = True
    try:
        specs = _specs_from_reader(reader)
        imported = all(reader.has_imported_samples(s.sensor_id) for s in specs)

        def samples_of() -> dict:
            out = {}
            for s in specs:
                b = reader.samples(s.sensor_id)
                out[s.sensor_id] = (reader.session_time(s.sensor_id), b.acc_sensor, b.gyr_sensor, b.mag_sensor)
            return out

        if imported:
            result = process_samples(samples_of(), specs, config)
        else:
            result = _replay(reader, specs, config, batch, staged, keep)
            if result.calibration is None:
                c = _offline_calibration(samples_of(), specs, config)
                if c is not None:
                    result = _replay(reader, specs, PipelineConfig(**{**config.__dict__, "calibration": c}), batch, staged,
                                     keep)
                    result.second_pass = True
        result.gaps = reader.gaps + result.gaps
        return result
    finally:
        if close:
            reader.close()


def replay_items(reader: SessionReader) -> Iterator[RawNotification | ConnectionEvent]:
    """A recording as the live pipeline saw it: its notifications (data and control) in
    arrival order with the logged connection events in band, each before the first
    notification at or after its host time (live puts a (re)connect marker before the start
    sequence, so every later notification belongs to the new connection), and those logged
    after the last notification at the end, as live got them (a drop at the very end: its
    ``disconnect`` still completes what the decoder holds). ``hipmon.ble.Acquisition.put``
    stamps the queue's items strictly increasing, so this is the live order item for item."""
    log = sorted((e for e in reader.connection_log if e.kind in IN_BAND_KINDS), key=lambda e: e.host_ns)
    i = 0
    for n in reader.iter_notifications():
        while i < len(log) and log[i].host_ns <= n.host_ns:
            yield log[i]
            i += 1
        yield n
    yield from log[i:]


def _replay(reader: SessionReader, specs: list[SensorSpec], config: PipelineConfig, batch: int,
            staged: bool = True, keep: str = "all") -> SessionResult:
    """The recording through a new pipeline: ``Pipeline.replay_blocks`` of its items in blocks
    (``staged``: ``SessionReader.item_blocks``, the items of ``replay_items`` in columns), else
    fed ``batch`` items at a time (the same result; ``batch`` is only memory)."""
    from hipmon.recording.reader import NotificationOrderError

    if staged:
        pipe = Pipeline(specs, config, origin_ns=reader.origin_ns)
        pipe.keep_frames = keep
        try:
            ups_all = pipe.replay_blocks(reader.item_blocks(events=True))
        except NotificationOrderError:  # a hand-made file whose host times go back: fed in SQL order
            ups_all = None
        if ups_all is not None:
            frames, events, alerts = _collect(pipe, ups_all)
            return SessionResult(frames, pipe.calibration, events, alerts, _grid_gaps(pipe), False, pipe.events_error)
    pipe = Pipeline(specs, config, origin_ns=reader.origin_ns)
    pipe.keep_frames = keep
    ups: list[Update] = []
    buf: list[Any] = []
    for item in replay_items(reader):  # batch-invariant feed: ``batch`` is only memory
        buf.append(item)
        if len(buf) >= batch:
            ups.append(pipe.feed(buf))
            buf = []
    if buf:
        ups.append(pipe.feed(buf))
    ups.append(pipe.finish())
    frames, events, alerts = _collect(pipe, ups)
    return SessionResult(frames, pipe.calibration, events, alerts, _grid_gaps(pipe), False, pipe.events_error)


def _specs_from_reader(reader: SessionReader) -> list[SensorSpec]:
    """The recording's sensors that have a placement hipmon knows (``SessionReader.sensors``)."""
    specs = [s for s in reader.sensors.values() if s.placement in PLACEMENTS]
    missing = [p for p in PLACEMENTS if p not in {s.placement for s in specs}]
    if missing and missing != list(THIGHS):
        raise ValueError(f"session has no sensor for placement(s) {', '.join(missing)} "
                         "(hipmon needs all three, or the pelvis alone)")
    return specs
