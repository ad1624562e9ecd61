"""Data types shared by the stages of the data path (DESIGN.md section 1).

Conventions: time on the first axis of every array; SI units inside the code
(s, m/s², rad/s, µT); names say the frame (``acc_sensor`` is in the sensor's own
frame). Quaternions are unit, scalar first ``[w, x, y, z]``; ``q_a_b`` is the
orientation of frame ``a`` relative to frame ``b``: it maps vectors expressed in
``a`` to ``b`` (``v_b = q_a_b ⊗ v_a ⊗ q_a_b*``). See ``hipmon.rotations``.

The types every stage shares live here, once each: ``RawNotification``, ``ImuBlock``,
``ConnectionEvent``, ``Gap``, ``Event``, ``SensorSpec`` (one sensor of a session, from a session TOML, the
command line or a recording), ``SensorStatus`` (a sensor's connection and streaming
state), ``Frames`` (output frames on the common grid) and ``Alert`` (a raised or
cleared alert, live or read back from a recording).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

#: Placements of the three sensors hipmon needs, in this order everywhere.
PLACEMENTS: tuple[str, ...] = ("pelvis", "left_thigh", "right_thigh")
SIDES: tuple[str, ...] = ("left", "right")

#: Column names of ANGLES.csv (DESIGN.md section 4, fixed), without time_s.
ANGLE_COLUMNS: tuple[str, ...] = (
    "pelvis_tilt_deg",
    "pelvis_obliquity_deg",
    "pelvis_rotation_deg",
    "hip_flexion_left_deg",
    "hip_adduction_left_deg",
    "hip_internal_rotation_left_deg",
    "hip_flexion_right_deg",
    "hip_adduction_right_deg",
    "hip_internal_rotation_right_deg",
)

#: Columns of EVENTS.csv (DESIGN.md section 4, fixed minimum set).
EVENT_COLUMNS: tuple[str, ...] = (
    "kind",
    "side",
    "start_s",
    "end_s",
    "peak_pelvic_drop_deg",
    "peak_hip_adduction_deg",
    "peak_hip_internal_rotation_deg",
    "alert",
)
EVENT_KINDS: tuple[str, ...] = ("stance", "landing", "rep", "hold")


@dataclass(frozen=True)
class RawNotification:
    """One BLE notification exactly as received: the unit of a recording.

    ``host_ns`` is the host's monotonic clock (``time.monotonic_ns()``) when the
    notification callback ran; ``data`` the payload bytes. ``role`` is the firmware
    profile's characteristic role it came from: ``"data"`` (samples) or a control
    role (``"control"``: e.g. Polar's control-point indications, whose START
    responses carry the scale the decoder needs; fed to ``decoder.handle_control``).
    """

    sensor_id: str
    host_ns: int
    data: bytes
    role: str = "data"


@dataclass(frozen=True)
class ConnectionEvent:
    """A sensor's connection event, carried in band with its notifications (live: in the
    acquisition queue; a recording: its connection log, read back in the same place).

    ``kind``: ``connect`` / ``reconnect`` (before the start sequence: decoder and clock map
    reset), ``streaming`` (start sequence done), ``restart`` (sequence replayed after the
    sensor stopped its stream), ``disconnect``, ``control`` (a control-point message, hex in
    ``detail``), ``message``. ``host_ns``: host monotonic ns; ``sensor_id`` None for a
    session-wide entry of a recording's log.
    """

    sensor_id: str | None
    host_ns: int
    kind: str
    detail: str = ""


@dataclass
class ImuBlock:
    """Samples decoded from one sensor (one or more notifications).

    - ``time_sensor_s`` (N,) float64: each sample's time on the sensor's own
      clock, in seconds (derived from counters and the nominal rate where the
      protocol sends no time).
    - ``acc_sensor`` (N, 3) m/s² specific force (+9.81 upward at rest),
      ``gyr_sensor`` (N, 3) rad/s, ``mag_sensor`` (N, 3) µT or None; all in the
      sensor's own right-handed frame.
    - ``sample_index`` (N,) int64 or None: the sensor's running sample number,
      unwrapped across counter roll-over, where the protocol lets us know it
      (a jump means lost samples). None where the protocol has no counter.
    - ``host_ns`` (N,) int64 or None: arrival time of the notification that
      carried each sample (host monotonic ns), where known.
    """

    time_sensor_s: np.ndarray
    acc_sensor: np.ndarray
    gyr_sensor: np.ndarray
    mag_sensor: np.ndarray | None = None
    sample_index: np.ndarray | None = None
    host_ns: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.time_sensor_s.shape[0])

    @staticmethod
    def concatenate(blocks: list["ImuBlock"]) -> "ImuBlock":
        """Join blocks in order; optional fields survive only if all blocks have them."""
        if not blocks:
            return ImuBlock(np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)))

        def cat(parts: list[np.ndarray | None]) -> np.ndarray | None:
            if any(p is None for p in parts):
                return None
            return np.concatenate(parts)

        return ImuBlock(
            time_sensor_s=np.concatenate([b.time_sensor_s for b in blocks]),
            acc_sensor=np.concatenate([b.acc_sensor for b in blocks]),
            gyr_sensor=np.concatenate([b.gyr_sensor for b in blocks]),
            mag_sensor=cat([b.mag_sensor for b in blocks]),
            sample_index=cat([b.sample_index for b in blocks]),
            host_ns=cat([b.host_ns for b in blocks]),
        )


@dataclass
class Gap:
    """Samples a sensor sent (or should have sent) that never arrived."""

    sensor_id: str
    start_s: float  # session time of the last sample before the gap
    end_s: float  # session time of the first sample after the gap
    samples_lost: int
    reason: str = "loss"  # "loss", "disconnect", ...


@dataclass
class Event:
    """A stance, landing, repetition or hold with its per-event metrics (degrees at the edge)."""

    kind: str  # one of EVENT_KINDS
    side: str  # "left", "right" or "both"
    start_s: float
    end_s: float
    peak_pelvic_drop_deg: float = float("nan")
    peak_hip_adduction_deg: float = float("nan")
    peak_hip_internal_rotation_deg: float = float("nan")
    alert: str = ""
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class SensorSpec:
    """One sensor of a session: who it is, where it is worn, how to decode it and how to find it.

    - ``sensor_id``: the session's name for the sensor (a session TOML's ``id``, else
      its placement).
    - ``placement``: one of ``PLACEMENTS`` (None for a recording's sensor with none).
    - ``profile``: firmware profile name (``hipmon.profiles``) that decodes its
      notifications; None for samples that come decoded (imported CSV, simulator).
    - ``rate_hz``: nominal sample rate (Hz); None = the profile's default.
    - ``address`` / ``name``: how to find it over BLE: its address, or a glob on its
      advertised local name (``matches``).
    - ``extra``: free JSON a recording keeps with the sensor.
    """

    sensor_id: str
    placement: str | None
    profile: str | None = None
    rate_hz: float | None = None
    address: str | None = None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def matches(self, address: str | None, local_name: str | None) -> bool:
        """This advertisement is this sensor (by address, else by the name pattern)."""
        if self.address:
            return bool(address) and address.upper() == self.address.upper()
        if self.name:
            return bool(local_name) and fnmatch.fnmatchcase(local_name, self.name)
        return False


@dataclass
class SensorStatus:
    """A sensor's connection and streaming state, kept by its supervisor (``hipmon.ble``).

    ``state``: idle, scanning, connecting, streaming, backoff, failed, stopped.
    ``rate_measured_hz``: samples per second measured since streaming started;
    ``latency_ms_p50``: median notification latency (ms; NaN until known); counts since
    the session started; ``messages``: what went wrong, one line each.
    """

    sensor_id: str
    placement: str
    profile: str
    address: str | None = None
    name: str | None = None
    connected: bool = False
    state: str = "idle"
    rate_measured_hz: float = 0.0
    notifications: int = 0
    samples: int = 0
    samples_lost: int = 0
    bad_packets: int = 0
    gaps: int = 0
    reconnects: int = 0
    latency_ms_p50: float = float("nan")
    battery_pct: int | None = None
    error: str = ""
    messages: list[str] = field(default_factory=list)

    @property
    def loss(self) -> float | None:
        """Fraction of samples lost (0..1), None before any sample."""
        total = self.samples + self.samples_lost
        return self.samples_lost / total if total else None


@dataclass
class Frames:
    """Output frames on the common grid (a live chunk or a whole session).

    - ``time_s`` (N,) session time s
    - ``angles_deg`` (N, 9) in ``ANGLE_COLUMNS`` order (NaN where invalid)
    - ``gyr_segment[placement]`` (N, 3) rad/s, angular rate in the segment frame
    - ``acc_global[placement]`` (N, 3) m/s², specific force in the global frame (+9.81 up at rest)
    - ``valid`` (N,) bool: every sensor of the session has data there, and calibrated
      (False inside any sensor's gap and before calibration)
    - ``q_segment_global[placement]`` (N, 4): segment orientations (after heading correction)
    - ``valid_sensor[placement]`` (N,) bool: that sensor has data there (and calibrated);
      False for a placement the session has no sensor for. Angles are NaN per column where
      their sensors are not valid: pelvis angles need the pelvis, a hip needs the pelvis
      and that thigh, so a lost thigh leaves the pelvis and the other hip flowing.

    The pipeline fills every field; frames built elsewhere (event detection on the
    simulator's truth, tests) may leave ``q_segment_global`` and ``valid_sensor`` empty
    and carry only the placements they have.
    """

    time_s: np.ndarray
    angles_deg: np.ndarray
    gyr_segment: dict[str, np.ndarray]
    acc_global: dict[str, np.ndarray]
    valid: np.ndarray
    q_segment_global: dict[str, np.ndarray] = field(default_factory=dict)
    valid_sensor: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.time_s.shape[0])

    def slice(self, a: int | None, b: int | None) -> "Frames":
        """Rows ``a:b`` (views)."""
        sl = slice(a, b)

        def part(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {p: v[sl] for p, v in d.items()}

        return Frames(self.time_s[sl], self.angles_deg[sl], part(self.gyr_segment), part(self.acc_global),
                      self.valid[sl], part(self.q_segment_global), part(self.valid_sensor))

    def fill_in(self, backfill: "Frames") -> None:
        """Replace the rows at ``backfill``'s grid times with its rows (in place; same grid)."""
        if not len(backfill) or not len(self):
            return
        idx = np.clip(np.searchsorted(self.time_s, backfill.time_s), 0, len(self) - 1)
        hit = np.isclose(self.time_s[idx], backfill.time_s, rtol=0.0, atol=1e-9)
        i, j = idx[hit], np.flatnonzero(hit)
        self.angles_deg[i] = backfill.angles_deg[j]
        self.valid[i] = backfill.valid[j]
        for mine, theirs in ((self.gyr_segment, backfill.gyr_segment), (self.acc_global, backfill.acc_global),
                             (self.q_segment_global, backfill.q_segment_global),
                             (self.valid_sensor, backfill.valid_sensor)):
            for p in mine:
                if p in theirs:
                    mine[p][i] = theirs[p][j]

    def angles_only(self) -> "Frames":
        """Time, angles and validity (overall and per sensor) only: no segment rates, forces or
        orientations (what a session's analysis keeps; ``process_session(keep="angles")``)."""
        return Frames(self.time_s, self.angles_deg, {}, {}, self.valid, {}, self.valid_sensor)

    @staticmethod
    def empty() -> "Frames":
        return Frames(
            np.zeros(0),
            np.zeros((0, len(ANGLE_COLUMNS))),
            {p: np.zeros((0, 3)) for p in PLACEMENTS},
            {p: np.zeros((0, 3)) for p in PLACEMENTS},
            np.zeros(0, dtype=bool),
            {p: np.zeros((0, 4)) for p in PLACEMENTS},
            {p: np.zeros(0, dtype=bool) for p in PLACEMENTS},
        )

    @staticmethod
    def concatenate(chunks: Sequence["Frames"]) -> "Frames":
        """Chunks in order; a placement survives where every chunk has it."""
        chunks = [c for c in chunks if len(c)]
        if not chunks:
            return Frames.empty()

        def cat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
            return {p: np.concatenate([d[p] for d in parts]) for p in PLACEMENTS if all(p in d for d in parts)}

        return Frames(
            np.concatenate([c.time_s for c in chunks]),
            np.concatenate([c.angles_deg for c in chunks]),
            cat([c.gyr_segment for c in chunks]),
            cat([c.acc_global for c in chunks]),
            np.concatenate([c.valid for c in chunks]),
            cat([c.q_segment_global for c in chunks]),
            cat([c.valid_sensor for c in chunks]),
        )


@dataclass
class Alert:
    """One alert: raised by ``hipmon.alerts.AlertEngine``, or read back from a recording.

    ``rule`` name, ``side`` ("left"/"right"), ``time_s`` session time at which it
    fired (when the triggering event was detected, ``Event.extra["detected_s"]``,
    else the event's end), ``values``: per metric the event's value, the limit
    and the baseline (``<metric>``, ``<metric>_limit``, ``<metric>_baseline``,
    degrees; baseline NaN when the absolute limit was used), plus ``k`` and
    ``n`` (a recording keeps them as the alert's JSON ``detail``); ``event`` the
    event that completed the k-of-n (None when read back from a recording);
    ``kind`` "raised" or "cleared".
    """

    rule: str
    side: str
    time_s: float
    values: dict[str, Any]
    event: Event | None = None
    kind: str = "raised"
