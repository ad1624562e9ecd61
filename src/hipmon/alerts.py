"""Alert rules on per-event hip metrics: baseline-relative limits, debounce, hysteresis.

A *rule* (``alert_rules.toml``, shipped with the package) names one or more
*conditions* on per-event peaks (``peak_pelvic_drop_deg``,
``peak_hip_adduction_deg``, ``peak_hip_internal_rotation_deg``, or any key of
``Event.extra``); the rule *holds* for an event when every condition does.
Each condition's limit is the athlete's own baseline (median of their first
events of that kind and side, or a stored baseline) plus ``above_baseline_deg``;
until a baseline exists the absolute "top of normal" screening limit
``absolute_deg`` applies (if ``absolute_before_baseline``).

State is kept per (rule, kind, side):

- *raise* when the rule held for ``k`` of the last ``n`` events (debounce);
- *clear* when ``k`` events in a row had some condition below
  ``limit - hysteresis_deg`` (hysteresis).

``AlertEngine.update(events)`` returns the alerts raised by those events (one
``Alert`` per raise, never one per event, so a coach is not flooded) and sets
each event's ``alert`` field to the first rule (in file order) that is active
for the event's side after that event, or "" (EVENTS.csv's ``alert`` column).
A two-legged event (``side == "both"``) is judged per side from the per-side
values in ``Event.extra`` (see ``hipmon.metrics.side_key``).
"""

from __future__ import annotations

import json
import math
import tomllib
from collections import deque
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from hipmon.metrics import side_key
from hipmon.types import EVENT_KINDS, SIDES, Event

DEFAULT_RULES_NAME = "alert_rules.toml"


class RulesError(ValueError):
    """A rules file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Condition:
    """``metric`` beyond ``baseline + above_baseline_deg`` (or ``absolute_deg`` without a baseline)."""

    metric: str
    above_baseline_deg: float
    absolute_deg: float | None = None


@dataclass(frozen=True)
class Rule:
    """A named alert rule: all ``conditions`` beyond their limits, debounced per kind."""

    name: str
    conditions: tuple[Condition, ...]
    kinds: tuple[str, ...] = EVENT_KINDS
    hysteresis_deg: float = 1.0
    debounce: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (k, n)
    description: str = ""

    def k_n(self, kind: str) -> tuple[int, int]:
        """Debounce (k, n) for events of ``kind`` (default 1 of 1)."""
        return tuple(self.debounce.get(kind, (1, 1)))  # type: ignore[return-value]


@dataclass(frozen=True)
class Rules:
    """A rule set with its baseline settings."""

    rules: tuple[Rule, ...]
    baseline_events: Mapping[str, int]  # kind -> number of first events forming the baseline
    statistic: str = "median"  # "median" or "mean"
    absolute_before_baseline: bool = True
    source: str = "<defaults>"

    def metrics(self) -> tuple[str, ...]:
        """All metrics the rules look at, in first-use order."""
        out: list[str] = []
        for r in self.rules:
            for c in r.conditions:
                if c.metric not in out:
                    out.append(c.metric)
        return tuple(out)

    def __getitem__(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)


@dataclass
class Alert:
    """One raised alert.

    ``rule`` name, ``side`` ("left"/"right"), ``time_s`` session time at which it
    fired (when the triggering event was detected, ``Event.extra["detected_s"]``,
    else the event's end), ``values``: per metric the event's value, the limit
    and the baseline (``<metric>``, ``<metric>_limit``, ``<metric>_baseline``,
    degrees; baseline NaN when the absolute limit was used), plus ``k`` and
    ``n``; ``event`` the event that completed the k-of-n.
    """

    rule: str
    side: str
    time_s: float
    values: dict[str, float]
    event: Event | None = None
    kind: str = "raised"


# ---------------------------------------------------------------- loading


def _default_rules_text() -> str:
    return resources.files("hipmon").joinpath(DEFAULT_RULES_NAME).read_text(encoding="utf-8")


def load_rules(path: str | Path | None = None) -> Rules:
    """Rules from a TOML file, or the defaults shipped in the package when ``path`` is None.

    Raises ``RulesError`` naming the file and the field for a malformed file,
    ``FileNotFoundError`` for a missing one.
    """
    if path is None:
        text, source = _default_rules_text(), f"hipmon/{DEFAULT_RULES_NAME}"
    else:
        source = str(path)
        text = Path(path).read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML: {exc}") from None
    return parse_rules(data, source)


def _num(value: Any, where: str, *, positive: bool = False, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RulesError(f"{where}: expected a number, got {value!r}")
    if positive and value < 0:
        raise RulesError(f"{where}: must not be negative, got {value!r}")
    return float(value)


def _kind_map(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: expected a table keyed by event kind")
    for kind in raw:
        if kind not in EVENT_KINDS:
            raise RulesError(f"{where}.{kind}: unknown event kind (use {', '.join(EVENT_KINDS)})")
    return raw


def parse_rules(data: Mapping[str, Any], source: str = "<dict>") -> Rules:
    """Validate a parsed rules document (the TOML's tables) into ``Rules``."""
    base = data.get("baseline", {})
    if not isinstance(base, dict):
        raise RulesError(f"{source}: [baseline] must be a table")
    statistic = base.get("statistic", "median")
    if statistic not in ("median", "mean"):
        raise RulesError(f"{source}: baseline.statistic must be 'median' or 'mean', got {statistic!r}")
    raw_events = base.get("events", 20)
    if isinstance(raw_events, int) and not isinstance(raw_events, bool):
        events = {k: raw_events for k in EVENT_KINDS}
    else:
        events = {k: 20 for k in EVENT_KINDS}
        for kind, n in _kind_map(raw_events, f"{source}: baseline.events").items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise RulesError(f"{source}: baseline.events.{kind}: expected a positive integer, got {n!r}")
            events[kind] = n
    absolute = base.get("absolute_before_baseline", True)
    if not isinstance(absolute, bool):
        raise RulesError(f"{source}: baseline.absolute_before_baseline must be true or false")

    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RulesError(f"{source}: no [[rule]] tables")
    rules: list[Rule] = []
    for i, r in enumerate(raw_rules):
        where = f"{source}: rule[{i}]"
        name = r.get("name")
        if not isinstance(name, str) or not name:
            raise RulesError(f"{where}.name: missing or empty")
        where = f"{source}: rule '{name}'"
        if any(x.name == name for x in rules):
            raise RulesError(f"{where}: duplicate rule name")
        kinds = tuple(r.get("kinds", EVENT_KINDS))
        for kind in kinds:
            if kind not in EVENT_KINDS:
                raise RulesError(f"{where}.kinds: unknown event kind {kind!r}")
        hyst = _num(r.get("hysteresis_deg", 1.0), f"{where}.hysteresis_deg", positive=True)
        debounce: dict[str, tuple[int, int]] = {}
        for kind, kn in _kind_map(r.get("debounce", {}), f"{where}.debounce").items():
            ok = isinstance(kn, list) and len(kn) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in kn)
            if not ok or not (1 <= kn[0] <= kn[1]):
                raise RulesError(f"{where}.debounce.{kind}: expected [k, n] with 1 <= k <= n, got {kn!r}")
            debounce[kind] = (kn[0], kn[1])
        raw_conds = r.get("condition", [])
        if not isinstance(raw_conds, list) or not raw_conds:
            raise RulesError(f"{where}: needs at least one [[rule.condition]]")
        conds = []
        for j, c in enumerate(raw_conds):
            cw = f"{where}.condition[{j}]"
            metric = c.get("metric")
            if not isinstance(metric, str) or not metric:
                raise RulesError(f"{cw}.metric: missing")
            if "above_baseline_deg" not in c:
                raise RulesError(f"{cw}.above_baseline_deg: missing")
            conds.append(
                Condition(
                    metric=metric,
                    above_baseline_deg=_num(c["above_baseline_deg"], f"{cw}.above_baseline_deg"),
                    absolute_deg=_num(c.get("absolute_deg"), f"{cw}.absolute_deg", allow_none=True),
                )
            )
        rules.append(
            Rule(
                name=name,
                conditions=tuple(conds),
                kinds=kinds,
                hysteresis_deg=hyst,
                debounce=debounce,
                description=str(r.get("description", "")),
            )
        )
    return Rules(tuple(rules), events, statistic, absolute, source)


# ---------------------------------------------------------------- baseline


def metric_value(event: Event, metric: str, side: str) -> float:
    """Value (deg) of ``metric`` for ``side`` of ``event``; NaN when the event has none.

    A one-sided event has values only for its own side; a two-legged event
    has them for both sides in ``extra`` (``hipmon.metrics.side_key``).
    """
    if event.side == "both":
        return float(event.extra.get(side_key(metric, side), float("nan")))
    if event.side != side:
        return float("nan")
    if hasattr(event, metric) and metric != "extra":
        return float(getattr(event, metric))
    return float(event.extra.get(metric, float("nan")))


def event_sides(event: Event) -> tuple[str, ...]:
    """The sides an event is judged on: its own, or both for a two-legged event."""
    return SIDES if event.side == "both" else (event.side,)


@dataclass
class Baseline:
    """Per (kind, side, metric) baseline values in degrees."""

    values: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def get(self, kind: str, side: str, metric: str) -> float | None:
        v = self.values.get((kind, side, metric))
        return None if v is None or not math.isfinite(v) else v

    @staticmethod
    def from_events(events: Iterable[Event], rules: Rules) -> "Baseline":
        """Baseline from a (baseline) session's events: the statistic over the first events per kind and side."""
        pools: dict[tuple[str, str, str], list[float]] = {}
        counts: dict[tuple[str, str], int] = {}
        for e in events:
            n_max = rules.baseline_events.get(e.kind, 20)
            for side in event_sides(e):
                if counts.get((e.kind, side), 0) >= n_max:
                    continue
                counts[(e.kind, side)] = counts.get((e.kind, side), 0) + 1
                for metric in rules.metrics():
                    pools.setdefault((e.kind, side, metric), []).append(metric_value(e, metric, side))
        return Baseline({key: _statistic(v, rules.statistic) for key, v in pools.items()})

    def to_dict(self) -> dict:
        """JSON form: ``{kind: {side: {metric: value}}}``."""
        out: dict = {}
        for (kind, side, metric), v in self.values.items():
            out.setdefault(kind, {}).setdefault(side, {})[metric] = v if math.isfinite(v) else None
        return out

    @staticmethod
    def from_dict(data: Mapping) -> "Baseline":
        vals = {}
        for kind, sides in data.items():
            for side, metrics in sides.items():
                for metric, v in metrics.items():
                    vals[(kind, side, metric)] = float("nan") if v is None else float(v)
        return Baseline(vals)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @staticmethod
    def load(path: str | Path) -> "Baseline":
        return Baseline.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _statistic(values: Sequence[float], statistic: str) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    return float(np.median(v) if statistic == "median" else np.mean(v))


# ---------------------------------------------------------------- engine


@dataclass
class _State:
    exceed: deque
    below_run: int = 0
    active: bool = False


class AlertEngine:
    """Stateful rule evaluation over a stream of events (live and offline alike).

    ``AlertEngine(rules=None, baseline=None)``: ``rules`` from ``load_rules``
    (defaults when None); ``baseline`` a stored ``Baseline`` (e.g. from an
    earlier session); without one the athlete's own first events of this
    session form it (``rules.baseline_events`` per kind and side).

    Attributes: ``baseline`` (the current ``Baseline``), ``transitions`` (every
    raise and clear as ``Alert`` with ``kind`` "raised"/"cleared"), ``alerts``
    (every raised alert so far).
    """

    def __init__(self, rules: Rules | None = None, baseline: Baseline | None = None) -> None:
        self.rules = rules if rules is not None else load_rules()
        self._fixed_baseline = baseline is not None
        self.baseline = baseline if baseline is not None else Baseline()
        self._pool: dict[tuple[str, str], list[Event]] = {}
        self._state: dict[tuple[str, str, str], _State] = {}
        self.transitions: list[Alert] = []
        self.alerts: list[Alert] = []

    # -- limits

    def limit(self, cond: Condition, kind: str, side: str) -> tuple[float | None, float | None]:
        """(limit, baseline) in degrees for a condition; limit None when neither baseline nor fall-back applies."""
        b = self.baseline.get(kind, side, cond.metric)
        if b is not None:
            return b + cond.above_baseline_deg, b
        if self.rules.absolute_before_baseline and cond.absolute_deg is not None:
            return cond.absolute_deg, None
        return None, None

    def is_active(self, rule: str, kind: str, side: str) -> bool:
        st = self._state.get((rule, kind, side))
        return bool(st and st.active)

    # -- baseline accrual

    def _accrue(self, event: Event, side: str) -> None:
        if self._fixed_baseline:
            return
        n_max = self.rules.baseline_events.get(event.kind, 20)
        pool = self._pool.setdefault((event.kind, side), [])
        if len(pool) >= n_max:
            return
        pool.append(event)
        if len(pool) == n_max:
            for metric in self.rules.metrics():
                vals = [metric_value(e, metric, side) for e in pool]
                self.baseline.values[(event.kind, side, metric)] = _statistic(vals, self.rules.statistic)

    # -- evaluation

    def _judge(self, rule: Rule, event: Event, side: str) -> tuple[bool, bool, dict[str, float]]:
        """(holds, below, values) of ``rule`` for one side of one event."""
        holds, below = True, False
        values: dict[str, float] = {}
        for cond in rule.conditions:
            v = metric_value(event, cond.metric, side)
            lim, base = self.limit(cond, event.kind, side)
            values[cond.metric] = v
            values[f"{cond.metric}_limit"] = float("nan") if lim is None else lim
            values[f"{cond.metric}_baseline"] = float("nan") if base is None else base
            if lim is None or not math.isfinite(v):
                holds = False
                continue
            if v <= lim:
                holds = False
            if v < lim - rule.hysteresis_deg:
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
                # baseline after judging: an event is not judged against a baseline it is part of
                self._accrue(event, side)
            event.alert = label
        return raised


def alert_labels(events: Sequence[Event], rules: Rules | None = None, baseline: Baseline | None = None) -> list[str]:
    """Per-event alert labels a fresh engine gives ``events`` (copies; the events are not changed)."""
    import copy

    copies = [copy.copy(e) for e in events]
    for c, e in zip(copies, events):
        c.extra = dict(e.extra)
    AlertEngine(rules, baseline).update(copies)
    return [c.alert for c in copies]
