"""The simulated athlete's parameters, task defaults and presets.

All angles in degrees (they are clinical parameters), lengths in m, times in s.
Per-side peaks are *peaks during stance / landing / repetition / hold on that
side*, before fatigue and stride-to-stride variability:

- ``{side}_drop_deg``: peak contralateral pelvic drop while standing on ``side``
  (the *opposite* side's pelvis drops; a weak ``side`` gluteus medius). E.g.
  ``right_drop_deg=9`` is a runner whose left pelvis drops 9° in right stance.
- ``{side}_adduction_deg``: peak hip adduction of the ``side`` hip during its
  stance (includes the part that comes from the pelvic drop). When not given it
  is the task default plus the change of the drop from its default (the
  thigh keeps its frontal-plane angle, so a bigger drop adducts the hip).
- ``{side}_ir_deg``: peak hip internal rotation of the ``side`` hip.
- ``{side}_valgus_deg``: dynamic knee valgus at the hip: added to both the
  adduction and the internal-rotation peak of that side.

``None`` takes the task's default (``TASK_DEFAULTS``); ``drop_deg``,
``adduction_deg``, ``ir_deg``, ``valgus_deg`` set both sides at once (a
side-specific value wins).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

#: Healthy defaults per task (peaks during stance/landing/rep/hold), degrees.
#: Sources in docs/simulator.md: running (Bramah 2018 CPD ≈ 5° in controls;
#: PMC6044588 healthy males peak hip adduction ≈ 13°, IR 1–2°), walking
#: (Kadaba 1990, Perry 1992: obliquity ≈ ±4°, adduction ≈ 8°), single-leg
#: squat (Willson & Davis 2008: adduction ≈ 10°), drop vertical jump landings
#: (Ford 2003, Hewett 2005 healthy: small hip adduction, a few degrees IR),
#: single-leg stance (level pelvis; Trendelenburg 1895, Hardcastle & Nade 1985).
TASK_DEFAULTS: dict[str, dict[str, float]] = {
    "run": {"drop": 5.0, "adduction": 12.0, "ir": 3.0},
    "walk": {"drop": 4.0, "adduction": 8.0, "ir": 3.0},
    "squat": {"drop": 3.0, "adduction": 10.0, "ir": 4.0},
    "stance": {"drop": 1.0, "adduction": 4.0, "ir": 2.0},
    "jump": {"drop": 1.0, "adduction": 6.0, "ir": 5.0},
    "stand": {"drop": 0.0, "adduction": 0.0, "ir": 0.0},
}

#: Fatigue adds ``fatigue_deg`` × these to the peaks of the fatigued side(s).
#: Choice of this simulator (not a published ratio): drop grows, adduction grows
#: more (it contains the drop), internal rotation grows with it.
FATIGUE_GAIN = {"drop": 1.0, "adduction": 1.5, "ir": 1.0}

KINDS = ("run", "walk", "jump", "squat", "stance", "stand")


@dataclass
class Athlete:
    """Who is simulated and how they move; see the module docstring for the per-side peaks."""

    # gait
    speed_mps: float | None = None  # run 3.3, walk 1.3
    cadence_spm: float | None = None  # steps per minute; None: from speed
    duty: float | None = None  # stance fraction of the stride: run 0.36, walk 0.62
    treadmill: bool | None = None  # run: True (no forward travel), walk: False
    stride_cv: float = 0.02  # stride-time coefficient of variation
    variability_deg: float = 0.7  # SD of per-stance/landing/rep peaks
    vertical_scale: float = 1.0  # scales the pelvis vertical excursion in gait
    # per-side peaks (None: task default)
    drop_deg: float | None = None
    adduction_deg: float | None = None
    ir_deg: float | None = None
    valgus_deg: float | None = None
    left_drop_deg: float | None = None
    right_drop_deg: float | None = None
    left_adduction_deg: float | None = None
    right_adduction_deg: float | None = None
    left_ir_deg: float | None = None
    right_ir_deg: float | None = None
    left_valgus_deg: float | None = None
    right_valgus_deg: float | None = None
    # fatigue: peaks grow by fatigue_deg × FATIGUE_GAIN from onset over duration
    fatigue_deg: float = 0.0
    fatigue_side: str = "both"  # left, right, both
    fatigue_onset_s: float = 0.0  # after the task starts
    fatigue_duration_s: float | None = None  # None: until the end of the task (per hold for stance)
    # session structure
    stand_s: float = 4.0  # initial quiet standing (calibration), >= 3
    calib_steps: int = 12  # walking steps of the calibration (non-gait tasks), >= 10
    sway: float = 1.0  # postural sway scale in standing (0: perfectly still)
    sides: tuple[str, ...] = ("right", "left")  # order of single-leg sets
    reps: int | None = None  # squats / hops / jumps per side (None: fill the time)
    hold_s: float | None = None  # single-leg stance hold length (None: fill the time)
    jump_style: str = "dvj"  # dvj (drop vertical jump from a box) or hop (single-leg hops)
    box_height_m: float = 0.30
    jump_height_m: float = 0.25
    squat_depth_deg: float = 65.0  # peak stance-hip flexion of a single-leg squat
    # body
    pelvis_height_m: float = 0.92  # standing height of the hip joint centres
    hip_half_width_m: float = 0.085  # pelvis origin to each hip joint centre

    def peak(self, kind: str, quantity: str, side: str) -> float:
        """Baseline peak (deg) of ``quantity`` in drop/adduction/ir/valgus for ``side`` in task ``kind``."""
        own = getattr(self, f"{side}_{quantity}_deg")
        if own is not None:
            return float(own)
        both = getattr(self, f"{quantity}_deg")
        if both is not None:
            return float(both)
        if quantity == "valgus":
            return 0.0
        if quantity == "adduction":
            # a thigh that keeps its frontal-plane angle under a dropping pelvis adducts
            # at the hip by the drop: the default adduction follows the drop
            d = TASK_DEFAULTS[kind]
            return d["adduction"] - d["drop"] + self.peak(kind, "drop", side)
        return TASK_DEFAULTS[kind][quantity]

    def fatigue_gain(self, side: str) -> float:
        """1.0 if ``side`` fatigues, else 0.0."""
        return 1.0 if self.fatigue_side in (side, "both") else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sides"] = list(self.sides)
        return d

    def validate(self) -> None:
        if self.fatigue_side not in ("left", "right", "both"):
            raise ValueError(f"fatigue_side must be left, right or both, not {self.fatigue_side!r}")
        if any(s not in ("left", "right") for s in self.sides) or not self.sides:
            raise ValueError(f"sides must be a non-empty list of left/right, not {self.sides!r}")
        if self.jump_style not in ("dvj", "hop"):
            raise ValueError(f"jump_style must be dvj or hop, not {self.jump_style!r}")
        if self.stand_s < 3.0:
            raise ValueError("stand_s must be at least 3 s (DESIGN section 4 calibration)")
        if self.calib_steps < 10:
            raise ValueError("calib_steps must be at least 10 (DESIGN section 4 calibration)")
        if self.duty is not None and not 0.2 <= self.duty <= 0.75:
            raise ValueError("duty must be within 0.2 .. 0.75")
        if self.speed_mps is not None and self.speed_mps <= 0:
            raise ValueError("speed_mps must be positive")


ATHLETE_FIELDS = tuple(f.name for f in fields(Athlete))

#: Named athletes. ``right_hip_tires`` is the demo runner: within about a
#: minute of running the right gluteus medius fails and the left pelvis drops
#: and the right hip adducts and rotates in.
PRESETS: dict[str, dict] = {
    "healthy": {},
    "right_hip_tires": {
        "fatigue_side": "right",
        "fatigue_deg": 6.0,
        "fatigue_onset_s": 15.0,
        "fatigue_duration_s": 40.0,
    },
    "left_hip_tires": {
        "fatigue_side": "left",
        "fatigue_deg": 6.0,
        "fatigue_onset_s": 15.0,
        "fatigue_duration_s": 40.0,
    },
    "weak_right_glute": {"right_drop_deg": 9.0, "right_adduction_deg": 17.0, "right_ir_deg": 7.0},
    "right_valgus": {"right_valgus_deg": 8.0},
    "trendelenburg_right": {"right_drop_deg": 7.0, "fatigue_side": "right", "fatigue_deg": 3.0},
}
