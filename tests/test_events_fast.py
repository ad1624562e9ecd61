"""The compiled event detectors (issue 16) give the events, bit for bit, of the Python detectors
they replaced stepping every sample (tests/events_reference.py, the code at f04c4ce with
``step_every_sample``), however the frames are chunked."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from _event_streams import chunked_events, holes, then
from events_reference import EventDetector as ReferenceDetector
from gait_events_reference import _BoxMean

from hipmon.events import EventConfig, EventDetector, frames_from_simulation
from hipmon.gait_events import without_thighs
from hipmon.simulate import simulate
from hipmon.types import Frames


def _detector(every: bool, cfg: EventConfig | None = None):
    """``every``: the reference, the Python detectors stepping every sample; else hipmon's."""
    if not every:
        return EventDetector(cfg)
    det = ReferenceDetector(cfg)
    det.step_every_sample = True
    return det


def _events(fr: Frames, every: bool, chunk: int | None, seed: int = 0) -> list[str]:
    return chunked_events(_detector(every), fr, chunk, seed)


@pytest.mark.parametrize("kind", ["run", "walk", "jump", "squat", "stance"])
def test_the_events_of_the_python_detectors_stepping_every_sample(kind: str) -> None:
    # the task starts after ~5 s of calibration; the simulation is most of the test's cost (a squat set
    # needs more than 30 s)
    sim = simulate(kind, 45 if kind == "squat" else 30, 3)
    fr = frames_from_simulation(sim, angle_noise_deg=1.0, seed=3, rate_hz=100.0)
    for variant in (fr, without_thighs(fr), holes(fr, 3)):
        ref = _events(variant, every=True, chunk=None)
        assert len(ref) > 0 or kind == "stance"
        assert _events(variant, every=False, chunk=None) == ref
        assert _events(variant, every=False, chunk=300, seed=1) == ref
        assert _events(variant, every=False, chunk=7, seed=2) == ref


def test_walking_right_after_running_and_back() -> None:
    """The walking detector is muted for a while after each flight: the peaks it skips then, and
    the ones it must not skip once it listens again, at the switch from running to walking."""
    run = frames_from_simulation(simulate("run", 25, 5), angle_noise_deg=1.0, seed=5, rate_hz=100.0)
    walk = frames_from_simulation(simulate("walk", 25, 6), angle_noise_deg=1.0, seed=6, rate_hz=100.0)
    tail = lambda fr: fr.slice(int(0.3 * len(fr)), None)  # noqa: E731  (the steady part, no calibration: 17.5 s)
    mixed = then(then(tail(run), tail(walk)), tail(run))
    ref = _events(mixed, every=True, chunk=None)
    methods = [e for e in ref if "'method': 1.0" in e]
    assert len(methods) >= 5  # walking stances found after the run
    for chunk, seed in ((None, 0), (500, 1), (13, 2)):
        assert _events(mixed, every=False, chunk=chunk, seed=seed) == ref


class _RunningMean:
    """The walking detector's box mean as it was stepped sample by sample (the reference)."""

    def __init__(self, n: int) -> None:
        self.n, self.q, self.s = n, deque(), 0.0

    def push(self, x: float) -> float | None:
        self.q.append(x)
        self.s += x
        if len(self.q) > self.n:
            self.s -= self.q.popleft()
        return self.s / self.n if len(self.q) == self.n else None


def test_box_mean_in_bulk_is_the_running_sum_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(9.81, 3.0, 5000) * 10.0 ** rng.integers(-3, 4, 5000)
    for n in (1, 2, 15, 40):
        one = _RunningMean(n)
        ref = np.array([np.nan if (m := one.push(float(v))) is None else m for v in x])
        bulk = _BoxMean(n)
        got, i = [], 0
        while i < x.size:
            k = int(rng.integers(0, 60))
            got.append(bulk.push_many(x[i:i + k]))
            i += k
        assert np.array_equal(np.concatenate(got), ref, equal_nan=True)
        assert bulk.s == one.s and list(bulk.q) == list(one.q)


def test_all_events_metrics_at_once_are_each_events_peaks() -> None:
    """``metrics.events_metrics`` (the detector's, per chunk) against ``event_peaks`` per event, the
    events built from each bit for bit (fields, extra keys in order): random windows, NaN and
    infinite angles, ties, invalid rows, empty and reversed windows, both-legs events; times increasing (windows found by bisection) and not (repeated, unsorted, NaN:
    masked, NaN window ends too)."""
    from hipmon.metrics import event_peaks, events_metrics, set_event_metrics
    from hipmon.types import Event

    rng = np.random.default_rng(3)
    checked = 0
    for case in range(400):
        increasing = case % 3 != 0
        t = rng.uniform(0, 10, int(rng.integers(0, 60)))
        if increasing:
            t = np.unique(t)
        else:
            t = np.round(t, int(rng.integers(0, 2)))  # repeats
            t[rng.random(t.size) < 0.05] = np.nan
        a = rng.normal(0, 10, (t.size, 9))
        a[rng.random(a.shape) < 0.2] = np.nan
        if t.size and rng.random() < 0.2:
            a[rng.integers(0, t.size), rng.integers(0, 9)] = rng.choice([np.inf, -np.inf])
        if rng.random() < 0.3:
            a = np.round(a / 5) * 5  # ties
        valid = rng.random(t.size) < 0.8 if rng.random() < 0.7 else np.ones(t.size, bool)
        n = int(rng.integers(0, 6))
        sides = [str(rng.choice(["left", "right", "both"])) for _ in range(n)]
        start, end = rng.uniform(-1, 11, n), rng.uniform(-1, 11, n)
        if rng.random() < 0.7:
            start, end = np.minimum(start, end), np.maximum(start, end)
        if n and not increasing and rng.random() < 0.2:  # (bisection puts a NaN end after every time)
            (start if rng.random() < 0.5 else end)[0] = np.nan
        if n and t.size and rng.random() < 0.3:
            start[0], end[-1] = rng.choice(t), rng.choice(t)  # window edges on a sample
        start, end = start.tolist(), end.tolist()
        got = events_metrics(t, a, valid, sides, start, end, increasing)
        assert len(got) == n
        for side, s0, s1, (drop, add, ir, extra) in zip(sides, start, end, got):
            ref = set_event_metrics(Event("stance", side, s0, s1), event_peaks(t, a, side, s0, s1, valid))
            assert repr(Event("stance", side, s0, s1, drop, add, ir, extra=extra)) == repr(ref)
            checked += 1
    assert checked > 700
    with pytest.raises(ValueError, match="side must be left, right or both"):
        events_metrics(np.arange(3.0), np.zeros((3, 9)), np.ones(3, bool), ["up"], [0.0], [1.0], True)
    for bad in ((np.zeros((3, 8)), np.ones(3, bool), [0.0], [1.0]), (np.zeros((3, 9)), np.ones(2, bool), [0.0], [1.0]),
                (np.zeros((3, 9)), np.ones(3, bool), [0.0, 1.0], [1.0])):
        with pytest.raises(ValueError, match="do not match"):
            events_metrics(np.arange(3.0), bad[0], bad[1], ["left"], bad[2], bad[3], True)


def _running_pelvis_only() -> Frames:
    """Pelvis only, 100 Hz: 1 s standing, then running (flights of 59 ms every 0.29 s)."""
    t = np.arange(461) / 100.0
    per, fl = 0.2926495, 0.0591
    ph = np.mod(t, per)
    f = np.where(ph < fl, 0.5, 25 * np.sin(np.pi * (ph - fl) / (per - fl)))
    f[:100] = 9.81
    z = np.zeros((t.size, 3))
    acc = z.copy()
    acc[:, 1] = f
    return Frames(t, np.full((t.size, 9), np.nan), {"pelvis": z}, {"pelvis": acc}, np.ones(t.size, bool))


def _events_cfg(fr: Frames, cfg: EventConfig, every: bool) -> list[str]:
    det = _detector(every, cfg)
    return [repr(e) for e in det.update(fr) + det.flush()]


def test_running_hold_zero_gives_the_events_of_stepping_every_sample() -> None:
    """With ``running_hold_s`` 0 the walking detector is not muted in flight: its candidate peaks
    there must be stepped (found by review: skipping assumed in flight = muted)."""
    fr = _running_pelvis_only()
    cfg = EventConfig(running_hold_s=0.0)
    ref = _events_cfg(fr, cfg, every=True)  # = the previous per-sample code (4fd6094): 11 running stances
    assert len(ref) == 11 and all("'method': 0.0" in e for e in ref)
    assert _events_cfg(fr, cfg, every=False) == ref
