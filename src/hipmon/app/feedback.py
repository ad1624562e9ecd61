"""Faded feedback: the audible alert cue on a schedule that thins out over the session.

Retraining studies on runners' hip mechanics kept their gains best with *faded*
feedback: frequent early, less and less later, so the athlete learns to feel the
movement instead of waiting for the cue (``shared/reference/systems-accuracy-clinical.md``
sections 4 and 6). Here the schedule applies to the audible cue only; the banner,
the log and the bars still show every alert, for the coach.

``FadeSchedule(every=(1, 2, 4), step_s=300)``: in session time 0–5 min every alert
beeps, 5–10 min every 2nd, from 10 min every 4th (the last stage holds). The first
alert of each stage always beeps. Session time, not wall time: a replay of the
recording fades the same way the live session did. No Qt here; tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FadeSchedule:
    """Cue every ``every[k]``-th alert during stage ``k`` (stages of ``step_s`` seconds of session time)."""

    every: tuple[int, ...] = (1, 2, 4)
    step_s: float = 300.0

    def __post_init__(self) -> None:
        if not self.every or any(int(n) < 1 for n in self.every):
            raise ValueError("fade: every stage needs a whole number ≥ 1 (1 = every alert)")
        if not self.step_s > 0:
            raise ValueError("fade: the stage length must be positive")

    @classmethod
    def parse(cls, text: str) -> "FadeSchedule":
        """``"1,2,4/5"``: every alert, every 2nd, every 4th, 5 minutes per stage (``/M`` optional, default 5)."""
        body, _, minutes = text.strip().partition("/")
        try:
            every = tuple(int(x) for x in body.replace(" ", "").split(",") if x)
            step_s = 60.0 * float(minutes) if minutes else 300.0
        except ValueError:
            raise ValueError(f"fade: {text!r} is not like '1,2,4/5' (every Nth alert per stage / minutes per stage)") from None
        return cls(every, step_s)

    def stage(self, time_s: float) -> int:
        return min(max(0, int(time_s // self.step_s)), len(self.every) - 1)



@dataclass
class CueGate:
    """Per raised alert: does the audible cue fire? ``schedule=None``: always (no fading)."""

    schedule: FadeSchedule | None = None
    _stage: int = field(default=-1, repr=False)
    _count: int = field(default=0, repr=False)

    def allow(self, time_s: float) -> bool:
        if self.schedule is None:
            return True
        stage = self.schedule.stage(time_s)
        if stage != self._stage:
            self._stage, self._count = stage, 0
        fire = self._count % self.schedule.every[stage] == 0
        self._count += 1
        return fire

    def reset(self) -> None:
        self._stage, self._count = -1, 0
