"""The alert engine as it was before it was made faster (commit f04c4ce): the oracle of tests/test_alerts_fast.py.

Copied verbatim (``median_and_se_deg``, ``_BaselineAccrual``, ``_State``, ``_Recent``, ``AlertEngine``
as ``ReferenceAlertEngine``) with the other helpers it used imported from ``hipmon.alerts``
(unchanged there). Not a test module.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from hipmon.alerts import (MAD_TO_SD, MEDIAN_SE_FACTOR, Baseline, Condition, Rule, Rules, ci_half_width_deg,
                           event_sides, load_rules, metric_value, pelvis_offset_correction_deg, upper_bound_deg)
from hipmon.types import Alert, Event


def median_and_se_deg(values_deg, statistic: str = "median") -> tuple[float, float]:
    """``hipmon.alerts.median_and_se_deg`` as it was (numpy throughout)."""
    v = np.asarray(values_deg, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    if statistic == "mean":
        centre = float(np.mean(v))
        se = float(np.std(v, ddof=1) / math.sqrt(v.size)) if v.size >= 3 else float("nan")
        return centre, se
    centre = float(np.median(v))
    if v.size < 3:
        return centre, float("nan")
    sd = MAD_TO_SD * float(np.median(np.abs(v - centre)))
    return centre, MEDIAN_SE_FACTOR * sd / math.sqrt(v.size)


class _BaselineAccrual:
    """The first events per (kind, side); each metric's baseline settles on its own (``Rules`` settings).

    The candidate is the median of the most recent ``baseline.events`` events
    (a window sliding past noisy first strides); a metric settles on it as
    soon as its 95 % CI half-width is at most ``baseline.max_ci_deg`` (or its
    spread cannot be estimated). One whose strides never get that steady
    settles at ``baseline.max_events`` events on all of them, with the wider
    CI that then widens its limit.
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.pool: dict[tuple[str, str], list[Event]] = {}
        self.settled = Baseline()

    def add(self, event: Event, side: str) -> list[str]:
        """Add one side of an event; returns the metrics whose baseline settled with it."""
        kind = event.kind
        metrics = [m for m in self.rules.metrics() if (kind, side, m) not in self.settled.values]
        if not metrics:
            return []
        pool = self.pool.setdefault((kind, side), [])
        pool.append(event)
        n_min = self.rules.baseline_events.get(kind, 20)
        if len(pool) < n_min:
            return []
        full = len(pool) >= self.rules.baseline_max_events(kind)
        out = []
        for m in metrics:
            window = pool if full else pool[-n_min:]
            centre, se = median_and_se_deg([metric_value(e, m, side) for e in window], self.rules.statistic)
            ci = ci_half_width_deg(se)
            if full or self.rules.max_ci_deg is None or not math.isfinite(ci) or ci <= self.rules.max_ci_deg:
                key = (kind, side, m)
                self.settled.values[key], self.settled.se[key], self.settled.n[key] = centre, se, len(window)
                self.settled.settled_s[key] = float(event.end_s)
                out.append(m)
        return out

    def pool_level(self, kind: str, side: str, metric: str) -> tuple[float, float]:
        """(median, SE) in degrees of the events so far of an unsettled baseline (NaN when none)."""
        pool = self.pool.get((kind, side), [])[-self.rules.baseline_events.get(kind, 20):]
        return median_and_se_deg([metric_value(e, metric, side) for e in pool], self.rules.statistic)

    def current(self) -> Baseline:
        """The settled values, and for unsettled metrics the value of the pool so far."""
        out = Baseline(dict(self.settled.values), dict(self.settled.se), dict(self.settled.n))
        for (kind, side), pool in self.pool.items():
            for m in self.rules.metrics():
                key = (kind, side, m)
                if key not in out.values:
                    out.values[key], out.se[key] = self.pool_level(kind, side, m)
                    out.n[key] = min(len(pool), self.rules.baseline_events.get(kind, 20))
        return out


# ---------------------------------------------------------------- engine


@dataclass
class _State:
    exceed: deque
    below_run: int = 0
    active: bool = False


@dataclass
class _Recent:
    """The last events of one (kind, side): end times (s) and values per metric (deg)."""

    end_s: deque
    values: dict[str, deque]


class ReferenceAlertEngine:
    """Stateful rule evaluation over a stream of events (live and offline alike).

    ``AlertEngine(rules=None, baseline=None)``: ``rules`` from ``load_rules``
    (defaults when None); ``baseline`` a stored ``Baseline`` (e.g. from an
    earlier session); without one the athlete's own first events of this
    session form it (module docstring: it settles once its confidence
    interval is narrow enough).

    Attributes: ``baseline`` (the current ``Baseline``: settled values only),
    ``transitions`` (every raise and clear as ``Alert`` with ``kind``
    "raised"/"cleared"), ``alerts`` (every raised alert so far).
    """

    def __init__(self, rules: Rules | None = None, baseline: Baseline | None = None) -> None:
        self.rules = rules if rules is not None else load_rules()
        self._fixed_baseline = baseline is not None
        self.baseline = baseline if baseline is not None else Baseline()
        self._accrual = _BaselineAccrual(self.rules)
        self._state: dict[tuple[str, str, str], _State] = {}
        self._recent: dict[tuple[str, str], _Recent] = {}
        self._window = max([n for r in self.rules.rules for _, n in r.debounce.values()] + [1])
        self.transitions: list[Alert] = []
        self.alerts: list[Alert] = []

    # -- limits

    def limit(self, cond: Condition, kind: str, side: str) -> tuple[float | None, float | None]:
        """(limit, baseline) in degrees for a condition; limit None when neither baseline nor screening cue exists.

        With a baseline: its one-sided 95 % upper bound plus ``above_baseline_deg``.
        Before it has settled: the screening cue ``absolute_deg`` plus 1.645 SE
        of the athlete's level so far (the median of their events up to now), so
        that only a level beyond the cue with 95 % confidence counts, not the
        scatter of the first strides. The cue is returned for display (the
        dashboard's bands) for every kind; it raises alerts only for the kinds
        in ``rules.absolute_before_baseline`` (``alert_limit``).
        """
        b = self.baseline.get(kind, side, cond.metric)
        if b is not None:
            return upper_bound_deg(b, self.baseline.get_se(kind, side, cond.metric)) + cond.above_baseline_deg, b
        if cond.absolute_deg is not None:
            _, se = self._accrual.pool_level(kind, side, cond.metric)
            return upper_bound_deg(cond.absolute_deg, se), None
        return None, None

    def alert_limit(self, cond: Condition, kind: str, side: str) -> tuple[float | None, float | None]:
        """(limit, baseline) the rule is judged against: ``limit``, without the screening cue where it does not alert."""
        lim, base = self.limit(cond, kind, side)
        if base is None and kind not in self.rules.absolute_before_baseline:
            return None, None
        return lim, base

    def is_active(self, rule: str, kind: str, side: str) -> bool:
        st = self._state.get((rule, kind, side))
        return bool(st and st.active)

    # -- baseline accrual and recent values

    def _accrue(self, event: Event, side: str) -> None:
        if self._fixed_baseline:
            return
        for m in self._accrual.add(event, side):
            key = (event.kind, side, m)
            b = self._accrual.settled
            self.baseline.values[key], self.baseline.se[key], self.baseline.n[key] = b.values[key], b.se[key], b.n[key]
            self.baseline.settled_s[key] = b.settled_s[key]

    def _remember(self, event: Event, side: str) -> None:
        key = (event.kind, side)
        rec = self._recent.get(key)
        if rec is None:
            rec = self._recent[key] = _Recent(deque(maxlen=self._window),
                                              {m: deque(maxlen=self._window) for m in self.rules.metrics()})
        rec.end_s.append(event.end_s)
        for m in self.rules.metrics():
            rec.values[m].append(metric_value(event, m, side))

    def _offset_correction(self, cond: Condition, kind: str, side: str, since_s: float) -> float:
        """Pelvis-offset correction (deg, <= 0) for ``side`` from the other side's events ending at or after ``since_s``."""
        other = "left" if side == "right" else "right"
        b_other = self.baseline.get(kind, other, cond.metric)
        rec = self._recent.get((kind, other))
        if b_other is None or rec is None:
            return 0.0
        vals = [v for t, v in zip(rec.end_s, rec.values[cond.metric]) if t >= since_s and math.isfinite(v)]
        if len(vals) < 3:
            return 0.0
        return pelvis_offset_correction_deg(statistics.median(vals), b_other)  # (fast for a few values)

    # -- evaluation

    def _judge(self, rule: Rule, event: Event, side: str) -> tuple[bool, bool, dict[str, float]]:
        """(holds, below, values) of ``rule`` for one side of one event."""
        holds, below = True, False
        values: dict[str, float] = {}
        rec = self._recent.get((event.kind, side))
        k, n = rule.k_n(event.kind)
        # the span of this side's last n events (this one included): the other side's level over the same span
        ends = list(rec.end_s)[-(n - 1):] if rec is not None and n > 1 else []
        since_s = min(ends + [event.start_s])
        for cond in rule.conditions:
            v = metric_value(event, cond.metric, side)
            lim, base = self.alert_limit(cond, event.kind, side)
            corr = 0.0
            if cond.opposite_side_offset and base is not None and event.side != "both":
                corr = self._offset_correction(cond, event.kind, side, since_s)
            values[cond.metric] = v
            values[f"{cond.metric}_limit"] = float("nan") if lim is None else lim
            values[f"{cond.metric}_baseline"] = float("nan") if base is None else base
            values[f"{cond.metric}_baseline_se"] = self.baseline.get_se(event.kind, side, cond.metric) if base is not None else float("nan")
            values[f"{cond.metric}_offset"] = corr
            if lim is None or not math.isfinite(v):
                holds = False
                continue
            if v + corr <= lim:
                holds = False
            if v + corr < lim - rule.hysteresis_deg:
                below = True
        return holds, below, values

    def update(self, events: Iterable[Event]) -> list[Alert]:
        """Judge ``events`` in order; return the alerts they raised; set each event's ``alert`` field."""
        raised: list[Alert] = []
        for event in events:
            label = ""
            for side in event_sides(event):
                for rule in self.rules.rules:
                    if event.kind not in rule.kinds:
                        continue
                    k, n = rule.k_n(event.kind)
                    key = (rule.name, event.kind, side)
                    st = self._state.get(key)
                    if st is None:
                        st = self._state[key] = _State(deque(maxlen=n))
                    holds, below, values = self._judge(rule, event, side)
                    st.exceed.append(holds)
                    st.below_run = st.below_run + 1 if below else 0
                    t = float(event.extra.get("detected_s", event.end_s))
                    if not st.active and sum(st.exceed) >= k:
                        st.active = True
                        st.below_run = 0
                        alert = Alert(rule.name, side, t, {**values, "k": float(k), "n": float(n)}, event)
                        raised.append(alert)
                        self.alerts.append(alert)
                        self.transitions.append(alert)
                    elif st.active and st.below_run >= k:
                        st.active = False
                        st.exceed.clear()
                        self.transitions.append(Alert(rule.name, side, t, values, event, kind="cleared"))
                    if st.active and not label:
                        label = rule.name
                # after judging: an event is not judged against a baseline it is part of
                self._remember(event, side)
                self._accrue(event, side)
            event.alert = label
        return raised


