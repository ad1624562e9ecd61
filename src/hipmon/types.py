"""Data types shared by the stages of the data path (DESIGN.md section 1).

Conventions: time on the first axis of every array; SI units inside the code
(s, m/s², rad/s, µT); names say the frame (``acc_sensor`` is in the sensor's own
frame). Quaternions are unit, scalar first ``[w, x, y, z]``; ``q_a_b`` is the
orientation of frame ``a`` relative to frame ``b``: it maps vectors expressed in
``a`` to ``b`` (``v_b = q_a_b ⊗ v_a ⊗ q_a_b*``). See ``hipmon.rotations``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

        def cat(name: str) -> np.ndarray | None:
            parts = [getattr(b, name) for b in blocks]
            if any(p is None for p in parts):
                return None
            return np.concatenate(parts)

        return ImuBlock(
            time_sensor_s=np.concatenate([b.time_sensor_s for b in blocks]),
            acc_sensor=np.concatenate([b.acc_sensor for b in blocks]),
            gyr_sensor=np.concatenate([b.gyr_sensor for b in blocks]),
            mag_sensor=cat("mag_sensor"),
            sample_index=cat("sample_index"),
            host_ns=cat("host_ns"),
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
