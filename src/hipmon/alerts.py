"""Alert rules on per-event hip metrics: baseline-relative limits, debounce, hysteresis.

A *rule* (``alert_rules.toml``, shipped with the package) names one or more
*conditions* on per-event metrics (any metric of ``hipmon.metric_registry``: a
rules file naming another is refused, with the file, the line, the field and the
closest registered name); the rule *holds* for an event when every condition does.

**Baseline** (per kind, side, metric): the median of the athlete's first
events of that kind and side, with its standard error from the between-event
spread (``median_and_se_deg``: robust SD from the MAD, SE = √(π/2)·SD/√n).
It *settles* once it has ``baseline.events`` events and the 95 % confidence
half-width of every metric is at most ``baseline.max_ci_deg``; a noisy start
keeps it accruing, up to ``baseline.max_events``. Until it settles the
absolute "top of normal" screening limit ``absolute_deg`` applies to the
kinds listed in ``absolute_before_baseline`` (true: all kinds; the shipped
rules: the slow single-leg tasks only, reps and holds, see
docs/events-and-alerts.md). A stored baseline (earlier session) is used as
given.

**Limit** of a condition: ``baseline + 1.645·SE + above_baseline_deg`` (the
one-sided 95 % upper bound of the baseline plus the clinical margin), so a
baseline known less well gives a wider limit.

**Pelvis offset** (``opposite_side_offset``): an error of the pelvis
sensor's orientation enters the left and the right value with opposite signs
(the left side is mirrored: an obliquity offset raises one side's pelvic drop
and hip adduction and lowers the other's; a pelvis heading offset does the
same to hip rotation), whereas a real change of one hip leaves the other
side's value alone, and fatigue or weakness raises these peaks, never lowers
them. So when the other side's current level (median of its events over the
same span) has fallen below its own baseline, that fall is read as a pelvis
offset and taken off this side's value: ``value + min(0, level_other -
baseline_other)``. It can only lower a value, never raise one.

State is kept per (rule, kind, side):

- *raise* when the rule held for ``k`` of the last ``n`` events (debounce;
  with ``k > n/2`` that is "the median of the last ``n`` events is beyond the
  limit", a level, not a single stride);
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

import difflib
import json
import math
import operator
import re
import tomllib
from collections import deque
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from hipmon.metric_registry import EVENT_FIELD_METRICS, side_key
from hipmon.types import EVENT_KINDS, SIDES, Alert, Event

DEFAULT_RULES_NAME = "alert_rules.toml"


class RulesError(ValueError):
    """A rules file is malformed; the message (one line) names the file, the line and the field.

    ``source`` the file, ``line`` (1-based) of the offending key or None when unknown,
    ``field`` the field's path (``rule 'valgus'.condition[1].metric``).
    """

    def __init__(self, message: str, source: str = "", line: int | None = None, field: str = "") -> None:
        super().__init__(message)
        self.source, self.line, self.field = source, line, field


@dataclass(frozen=True)
class Condition:
    """``metric`` beyond ``baseline + above_baseline_deg`` (or ``absolute_deg`` without a baseline)."""

    metric: str
    above_baseline_deg: float
    absolute_deg: float | None = None
    opposite_side_offset: bool = False  # take a pelvis offset seen on the other side off (module docstring)


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
    baseline_events: Mapping[str, int]  # kind -> least number of first events forming the baseline
    statistic: str = "median"  # "median" or "mean"
    absolute_before_baseline: tuple[str, ...] = EVENT_KINDS  # kinds the absolute cue alerts on before a baseline
    source: str = "<defaults>"
    max_ci_deg: float | None = None  # settle only when every metric's 95 % CI half-width is at most this (deg)
    max_events: Mapping[str, int] = field(default_factory=dict)  # kind -> most events a baseline waits for

    def baseline_max_events(self, kind: str) -> int:
        """Most events the baseline of ``kind`` accrues while its CI is too wide (at least ``baseline_events``)."""
        n_min = self.baseline_events.get(kind, 20)
        return max(n_min, self.max_events.get(kind, n_min))

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


# ---------------------------------------------------------------- loading


def _default_rules_text() -> str:
    return resources.files("hipmon").joinpath(DEFAULT_RULES_NAME).read_text(encoding="utf-8")


def load_rules(path: str | Path | None = None) -> Rules:
    """Rules from a TOML file, or the defaults shipped in the package when ``path`` is None.

    Raises ``RulesError`` naming the file, the line and the field for a malformed file
    (``parse_rules``), ``FileNotFoundError`` for a missing one.
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
    return parse_rules(data, source, text)


# -- where a key is in the TOML text (for the line of an error)


def _strip_comment(line: str) -> str:
    """``line`` without its ``#`` comment (a ``#`` inside a quoted string is kept)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def _unquoted(text: str) -> str:
    """``text`` with its quoted strings emptied (so brackets in strings do not count)."""
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', '""', text)


def _dotted(name: str) -> tuple[str, ...]:
    return tuple(k.strip().strip("\"'") for k in name.split("."))


def toml_key_lines(text: str) -> dict[tuple, int]:
    """Line number (1-based) of every key and table header of a TOML document.

    Keys are paths as ``parse_rules`` walks them: ``("baseline", "events", "stance")``,
    ``("rule", 1, "condition", 0, "metric")`` (the index of each ``[[array]]`` table).
    Keys of inline tables map to the line of their table. Enough TOML for rules files
    and configurations; a key it cannot place is found at its nearest enclosing table.
    """
    lines: dict[tuple, int] = {}
    counters: dict[tuple, int] = {}
    table: tuple = ()
    depth = 0

    def resolve(keys: tuple[str, ...]) -> tuple:
        out: tuple = ()
        for k in keys:
            out = out + (k,)
            if out in counters:
                out = out + (counters[out],)
        return out

    for n, raw in enumerate(text.splitlines(), start=1):
        line = _unquoted(_strip_comment(raw)).strip()
        if depth > 0:  # inside a multi-line array or table value
            depth += line.count("[") + line.count("{") - line.count("]") - line.count("}")
            continue
        if not line:
            continue
        if line.startswith("[["):
            keys = _dotted(line[2:].split("]]")[0])
            full = resolve(keys[:-1]) + (keys[-1],)
            counters[full] = counters.get(full, -1) + 1
            table = full + (counters[full],)
            lines.setdefault(full, n)
            lines[table] = n
        elif line.startswith("["):
            table = resolve(_dotted(line[1:].split("]")[0]))
            lines[table] = n
        elif "=" in line:
            key, value = line.split("=", 1)
            path = table + _dotted(key)
            lines[path] = n
            if value.strip().startswith("{"):
                for m in re.finditer(r"([A-Za-z0-9_\-]+)\s*=", value):
                    lines[path + (m.group(1),)] = n
            depth = value.count("[") + value.count("{") - value.count("]") - value.count("}")
    return lines


class _Where:
    """Names the file, the line and the field of an error in a rules document."""

    def __init__(self, source: str, text: str | None) -> None:
        self.source = source
        self.lines = toml_key_lines(text) if text is not None else {}

    def line(self, path: tuple) -> int | None:
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return None

    def error(self, path: tuple, field: str, problem: str) -> RulesError:
        n = self.line(path)
        where = self.source if n is None else f"{self.source}, line {n}"
        return RulesError(f"{where}: {field}: {problem}" if field else f"{where}: {problem}", self.source, n, field)


def _did_you_mean(name: Any, valid: Sequence[str]) -> str:
    near = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.6)
    return f"did you mean {near[0]!r}?" if near else f"valid: {', '.join(valid)}"


_TOP_KEYS = ("version", "baseline", "rule")
_BASELINE_KEYS = ("statistic", "absolute_before_baseline", "events", "max_ci_deg", "max_events")
_RULE_KEYS = ("name", "description", "kinds", "hysteresis_deg", "debounce", "condition")
_CONDITION_KEYS = ("metric", "above_baseline_deg", "absolute_deg", "opposite_side_offset")
#: rules-file format versions this code reads
RULES_VERSIONS = (1, 2)


def _check_keys(where: _Where, table: Mapping[str, Any], allowed: Sequence[str], path: tuple, field: str) -> None:
    for key in table:
        if key not in allowed:
            name = f"{field}.{key}" if field else key
            raise where.error(path + (key,), name, f"unknown key ({_did_you_mean(key, allowed)})")


def _num(value: Any, where: _Where, path: tuple, field: str, *, positive: bool = False,
         allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise where.error(path, field, f"expected a number, got {value!r}")
    if positive and value < 0:
        raise where.error(path, field, f"must not be negative, got {value!r}")
    return float(value)


def _kind_map(raw: Any, where: _Where, path: tuple, field: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise where.error(path, field, "expected a table keyed by event kind")
    for kind in raw:
        if kind not in EVENT_KINDS:
            raise where.error(path + (kind,), f"{field}.{kind}",
                              f"unknown event kind ({_did_you_mean(kind, EVENT_KINDS)})")
    return raw


def parse_rules(data: Mapping[str, Any], source: str = "<dict>", text: str | None = None) -> Rules:
    """Validate a parsed rules document (the TOML's tables) into ``Rules``.

    Checked against the schema (every key known, every value of its type and possible)
    and the metric registry (``hipmon.metric_registry``: a condition's ``metric`` must be
    a registered metric carried by one of the rule's kinds). ``RulesError``: one line
    naming ``source``, the line of the offending key in ``text`` (when given), the field,
    and for a misspelt name the closest valid one.
    """
    from hipmon import metric_registry as registry

    where = _Where(source, text)
    _check_keys(where, data, _TOP_KEYS, (), "")
    version = data.get("version", RULES_VERSIONS[-1])
    if isinstance(version, bool) or version not in RULES_VERSIONS:
        raise where.error(("version",), "version",
                          f"unknown rules-file version {version!r} (this hipmon reads {', '.join(map(str, RULES_VERSIONS))})")
    base = data.get("baseline", {})
    if not isinstance(base, dict):
        raise where.error(("baseline",), "baseline", "[baseline] must be a table")
    _check_keys(where, base, _BASELINE_KEYS, ("baseline",), "baseline")
    statistic = base.get("statistic", "median")
    if statistic not in ("median", "mean"):
        raise where.error(("baseline", "statistic"), "baseline.statistic", f"must be 'median' or 'mean', got {statistic!r}")
    raw_events = base.get("events", 20)
    if isinstance(raw_events, int) and not isinstance(raw_events, bool):
        if raw_events < 1:
            raise where.error(("baseline", "events"), "baseline.events", f"expected a positive integer, got {raw_events!r}")
        events = {k: raw_events for k in EVENT_KINDS}
    else:
        events = {k: 20 for k in EVENT_KINDS}
        for kind, n in _kind_map(raw_events, where, ("baseline", "events"), "baseline.events").items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise where.error(("baseline", "events", kind), f"baseline.events.{kind}",
                                  f"expected a positive integer, got {n!r}")
            events[kind] = n
    raw_abs = base.get("absolute_before_baseline", True)
    if isinstance(raw_abs, bool):
        absolute = EVENT_KINDS if raw_abs else ()
    elif isinstance(raw_abs, list) and all(k in EVENT_KINDS for k in raw_abs):
        absolute = tuple(raw_abs)
    else:
        raise where.error(("baseline", "absolute_before_baseline"), "baseline.absolute_before_baseline",
                          f"must be true, false or a list of event kinds ({', '.join(EVENT_KINDS)}), got {raw_abs!r}")
    max_ci = _num(base.get("max_ci_deg"), where, ("baseline", "max_ci_deg"), "baseline.max_ci_deg",
                  positive=True, allow_none=True)
    max_events: dict[str, int] = {}
    for kind, n in _kind_map(base.get("max_events", {}), where, ("baseline", "max_events"), "baseline.max_events").items():
        if isinstance(n, bool) or not isinstance(n, int) or n < events[kind]:
            raise where.error(("baseline", "max_events", kind), f"baseline.max_events.{kind}",
                              f"expected an integer >= baseline.events ({events[kind]}), got {n!r}")
        max_events[kind] = n

    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list) or not raw_rules:
        raise where.error(("rule",), "", "no [[rule]] tables")
    rules: list[Rule] = []
    for i, r in enumerate(raw_rules):
        rp = ("rule", i)
        if not isinstance(r, dict):
            raise where.error(rp, f"rule[{i}]", "expected a [[rule]] table")
        name = r.get("name")
        if not isinstance(name, str) or not name:
            raise where.error(rp + ("name",), f"rule[{i}].name", "missing or empty (a string)")
        field = f"rule '{name}'"
        _check_keys(where, r, _RULE_KEYS, rp, field)
        if any(x.name == name for x in rules):
            raise where.error(rp + ("name",), f"{field}.name", "duplicate rule name")
        raw_kinds = r.get("kinds", list(EVENT_KINDS))
        if not isinstance(raw_kinds, list) or not all(isinstance(k, str) for k in raw_kinds):
            raise where.error(rp + ("kinds",), f"{field}.kinds", f"expected a list of event kinds, got {raw_kinds!r}")
        if not raw_kinds:
            raise where.error(rp + ("kinds",), f"{field}.kinds", "empty: the rule would never apply")
        kinds = tuple(raw_kinds)
        for kind in kinds:
            if kind not in EVENT_KINDS:
                raise where.error(rp + ("kinds",), f"{field}.kinds",
                                  f"unknown event kind {kind!r} ({_did_you_mean(kind, EVENT_KINDS)})")
        hyst = _num(r.get("hysteresis_deg", 1.0), where, rp + ("hysteresis_deg",), f"{field}.hysteresis_deg", positive=True)
        description = r.get("description", "")
        if not isinstance(description, str):
            raise where.error(rp + ("description",), f"{field}.description", f"expected a string, got {description!r}")
        debounce: dict[str, tuple[int, int]] = {}
        for kind, kn in _kind_map(r.get("debounce", {}), where, rp + ("debounce",), f"{field}.debounce").items():
            ok = isinstance(kn, list) and len(kn) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in kn)
            if not ok or not (1 <= kn[0] <= kn[1]):
                raise where.error(rp + ("debounce", kind), f"{field}.debounce.{kind}",
                                  f"expected [k, n] with 1 <= k <= n, got {kn!r}")
            debounce[kind] = (kn[0], kn[1])
        raw_conds = r.get("condition", [])
        if not isinstance(raw_conds, list) or not raw_conds:
            raise where.error(rp + ("condition",), field, "needs at least one [[rule.condition]]")
        conds = []
        for j, c in enumerate(raw_conds):
            cp = rp + ("condition", j)
            cw = f"{field}.condition[{j}]"
            if not isinstance(c, dict):
                raise where.error(cp, cw, "expected a [[rule.condition]] table")
            _check_keys(where, c, _CONDITION_KEYS, cp, cw)
            metric = c.get("metric")
            if not isinstance(metric, str) or not metric:
                raise where.error(cp + ("metric",), f"{cw}.metric", "missing (a metric name, e.g. "
                                  f"{registry.PELVIC_DROP.name!r})")
            if "above_baseline_deg" not in c:
                raise where.error(cp, f"{cw}.above_baseline_deg", "missing")
            opposite = c.get("opposite_side_offset", False)
            if not isinstance(opposite, bool):
                raise where.error(cp + ("opposite_side_offset",), f"{cw}.opposite_side_offset", "must be true or false")
            above = _num(c["above_baseline_deg"], where, cp + ("above_baseline_deg",), f"{cw}.above_baseline_deg")
            absolute_deg = _num(c.get("absolute_deg"), where, cp + ("absolute_deg",), f"{cw}.absolute_deg", allow_none=True)
            m = registry.METRICS.get(metric)
            if m is None:
                raise where.error(cp + ("metric",), f"{cw}.metric", registry.unknown_metric_message(metric))
            if not set(m.kinds) & set(kinds):
                raise where.error(cp + ("metric",), f"{cw}.metric",
                                  f"{metric} is measured for {', '.join(m.kinds)} events only, the rule judges "
                                  f"{', '.join(kinds)}: it would never fire")
            conds.append(Condition(metric=metric, above_baseline_deg=above, absolute_deg=absolute_deg,
                                   opposite_side_offset=opposite))
        rules.append(
            Rule(
                name=name,
                conditions=tuple(conds),
                kinds=kinds,
                hysteresis_deg=hyst,
                debounce=debounce,
                description=description,
            )
        )
    return Rules(tuple(rules), events, statistic, absolute, source, max_ci, max_events)


# ---------------------------------------------------------------- baseline

#: One-sided 95 % normal quantile: the limit starts at the baseline's upper confidence bound.
Z_ONE_SIDED_95 = 1.645
#: Two-sided 95 % normal quantile: the baseline's confidence half-width is 1.96 SE.
Z_TWO_SIDED_95 = 1.96
#: MAD -> SD of a normal distribution.
MAD_TO_SD = 1.4826
#: SE of the median / SE of the mean for normal data (asymptotic): sqrt(pi / 2).
MEDIAN_SE_FACTOR = math.sqrt(math.pi / 2.0)


def metric_value(event: Event, metric: str, side: str) -> float:
    """Value (deg) of ``metric`` for ``side`` of ``event``; NaN when the event has none.

    A one-sided event has values only for its own side; a two-legged event
    has them for both sides in ``extra`` (``hipmon.metrics.side_key``).
    """
    if event.side == "both":
        return float(event.extra.get(side_key(metric, side), float("nan")))
    if event.side != side:
        return float("nan")
    if metric in EVENT_FIELD_METRICS:  # an Event field (the registry's storage "field")
        return float(getattr(event, metric))
    return float(event.extra.get(metric, float("nan")))


def event_sides(event: Event) -> tuple[str, ...]:
    """The sides an event is judged on: its own, or both for a two-legged event."""
    return SIDES if event.side == "both" else (event.side,)


def median_and_se_deg(values_deg: Sequence[float], statistic: str = "median") -> tuple[float, float]:
    """(centre, standard error) in degrees of the finite ``values_deg`` (n,).

    ``statistic`` "median": the median, its SE ``sqrt(pi/2) * 1.4826 * MAD / sqrt(n)``
    (robust: one odd stride moves neither); "mean": the mean and ``SD / sqrt(n)``.
    The SE is NaN with fewer than 3 values (no spread to estimate); the centre is
    NaN without any value.
    """
    if statistic != "mean":  # the few values of a baseline: sorted in Python (np.median's numbers, bit for bit)
        s = sorted([x for x in map(float, values_deg) if math.isfinite(x)])
        if not s:
            return float("nan"), float("nan")
        centre = _sorted_median(s)
        if centre != 0.0:  # (a zero: np.median's partition picks its sign among ties of -0.0 and 0.0)
            if len(s) < 3:
                return centre, float("nan")
            sd = MAD_TO_SD * _sorted_median(sorted([abs(x - centre) for x in s]))
            return centre, MEDIAN_SE_FACTOR * sd / math.sqrt(len(s))
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


def _sorted_median(s: list[float]) -> float:
    """Median of sorted values, as ``np.median`` takes it (the middle one, or the mean of the middle two)."""
    h = len(s) // 2
    return s[h] if len(s) % 2 else (s[h - 1] + s[h]) / 2


def ci_half_width_deg(se_deg: float) -> float:
    """Two-sided 95 % confidence half-width (deg) of a baseline with standard error ``se_deg``."""
    return Z_TWO_SIDED_95 * se_deg


def upper_bound_deg(baseline_deg: float, se_deg: float) -> float:
    """One-sided 95 % upper confidence bound (deg) of a baseline (the baseline itself when its SE is unknown)."""
    return baseline_deg + (Z_ONE_SIDED_95 * se_deg if math.isfinite(se_deg) else 0.0)


def pelvis_offset_correction_deg(level_other_deg: float, baseline_other_deg: float) -> float:
    """Correction (deg, <= 0) for a pelvis offset seen on the other side: ``min(0, level - baseline)``.

    A pelvis orientation error moves the two sides' values by opposite amounts;
    a real change of one hip does not lower the other's. NaN inputs give 0.
    """
    d = level_other_deg - baseline_other_deg
    return min(0.0, d) if math.isfinite(d) else 0.0


@dataclass
class Baseline:
    """Per (kind, side, metric) baseline values in degrees, with their standard errors and event counts.

    ``values[(kind, side, metric)]`` the median (deg); ``se`` its standard error
    (deg, NaN when not estimable); ``n`` the number of events it was formed from;
    ``settled_s`` the session time (s) of the event with which it settled (live baselines).
    """

    values: dict[tuple[str, str, str], float] = field(default_factory=dict)
    se: dict[tuple[str, str, str], float] = field(default_factory=dict)
    n: dict[tuple[str, str, str], int] = field(default_factory=dict)
    settled_s: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def get(self, kind: str, side: str, metric: str) -> float | None:
        v = self.values.get((kind, side, metric))
        return None if v is None or not math.isfinite(v) else v

    def get_se(self, kind: str, side: str, metric: str) -> float:
        """Standard error (deg) of a baseline value; NaN when unknown."""
        return float(self.se.get((kind, side, metric), float("nan")))

    @staticmethod
    def from_events(events: Iterable[Event], rules: Rules) -> "Baseline":
        """Baseline from a (baseline) session's events, formed as a live session forms it (settling rule included)."""
        acc = _BaselineAccrual(rules)
        for e in events:
            for side in event_sides(e):
                acc.add(e, side)
        return acc.current()

    def to_dict(self) -> dict:
        """JSON form: ``{kind: {side: {metric: value}}}``, plus ``{metric}_se`` and ``{metric}_n`` beside each value."""
        out: dict = {}
        for (kind, side, metric), v in self.values.items():
            d = out.setdefault(kind, {}).setdefault(side, {})
            d[metric] = v if math.isfinite(v) else None
            se = self.se.get((kind, side, metric), float("nan"))
            d[f"{metric}_se"] = se if math.isfinite(se) else None
            if (kind, side, metric) in self.n:
                d[f"{metric}_n"] = self.n[(kind, side, metric)]
        return out

    @staticmethod
    def from_dict(data: Mapping) -> "Baseline":
        vals, ses, ns = {}, {}, {}
        for kind, sides in data.items():
            for side, metrics in sides.items():
                for metric, v in metrics.items():
                    if metric.endswith("_se") and metric[:-3] in metrics:
                        ses[(kind, side, metric[:-3])] = float("nan") if v is None else float(v)
                    elif metric.endswith("_n") and metric[:-2] in metrics:
                        ns[(kind, side, metric[:-2])] = int(v)
                    else:
                        vals[(kind, side, metric)] = float("nan") if v is None else float(v)
        return Baseline(vals, ses, ns)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @staticmethod
    def load(path: str | Path) -> "Baseline":
        return Baseline.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


class _BaselineAccrual:
    """The first events per (kind, side); each metric's baseline settles on its own (``Rules`` settings).

    The candidate is the median of the most recent ``baseline.events`` events
    (a window sliding past noisy first strides); a metric settles on it as
    soon as its 95 % CI half-width is at most ``baseline.max_ci_deg`` (or its
    spread cannot be estimated). One whose strides never get that steady
    settles at ``baseline.max_events`` events on all of them, with the wider
    CI that then widens its limit.

    ``pool[(kind, side)]`` the events added so far; ``rows[(kind, side)]`` their values
    (deg), one tuple per event in ``rules.metrics()`` order.
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.pool: dict[tuple[str, str], list[Event]] = {}
        self.rows: dict[tuple[str, str], list[tuple[float, ...]]] = {}
        self.settled = Baseline()
        self._metrics = rules.metrics()
        self._column = {m: i for i, m in enumerate(self._metrics)}

    def add(self, event: Event, side: str, row: tuple[float, ...] | None = None) -> list[str]:
        """Add one side of an event; returns the metrics whose baseline settled with it.

        ``row``: the event's values (deg) of ``rules.metrics()`` for ``side``
        (``metric_value``), when the caller has them already.
        """
        kind = event.kind
        metrics = [m for m in self._metrics if (kind, side, m) not in self.settled.values]
        if not metrics:
            return []
        if row is None:
            row = tuple(metric_value(event, m, side) for m in self._metrics)
        pool = self.pool.setdefault((kind, side), [])
        pool.append(event)
        rows = self.rows.setdefault((kind, side), [])
        rows.append(row)
        n_min = self.rules.baseline_events.get(kind, 20)
        if len(pool) < n_min:
            return []
        full = len(pool) >= self.rules.baseline_max_events(kind)
        window = rows if full else rows[-n_min:]
        out = []
        for m in metrics:
            i = self._column[m]
            centre, se = median_and_se_deg([r[i] for r in window], self.rules.statistic)
            ci = ci_half_width_deg(se)
            if full or self.rules.max_ci_deg is None or not math.isfinite(ci) or ci <= self.rules.max_ci_deg:
                key = (kind, side, m)
                self.settled.values[key], self.settled.se[key], self.settled.n[key] = centre, se, len(window)
                self.settled.settled_s[key] = float(event.end_s)
                out.append(m)
        return out

    def done(self, kind: str, side: str) -> bool:
        """Every metric of (kind, side) has settled: ``add`` takes no more of its events."""
        return all((kind, side, m) in self.settled.values for m in self._metrics)

    def pool_level(self, kind: str, side: str, metric: str) -> tuple[float, float]:
        """(median, SE) in degrees of the events so far of an unsettled baseline (NaN when none)."""
        n_min = self.rules.baseline_events.get(kind, 20)
        i = self._column.get(metric)
        if i is None:  # not a metric of the rules: from the events themselves
            pool = self.pool.get((kind, side), [])[-n_min:]
            return median_and_se_deg([metric_value(e, metric, side) for e in pool], self.rules.statistic)
        rows = self.rows.get((kind, side), [])[-n_min:]
        return median_and_se_deg([r[i] for r in rows], self.rules.statistic)

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
class _Track:
    """What the engine keeps per (kind, side).

    - ``recent``: its last events (at most the longest debounce ``n``) as rows ``(end_s, value, ...)``,
      the end time (s) and the values (deg; None where not finite) of ``rules.metrics()``;
    - ``states``: one per rule judging the kind (``AlertEngine._judges``);
    - ``limits``: per condition of those rules (``AlertEngine._conds``) its limit, clear level and
      baseline (``AlertEngine._limits``); None when to be read again (the baseline or the
      accrual's pool of this (kind, side) changed, or the baseline was replaced or changed
      between ``update`` calls);
    - ``settled``: the accrual is done with it (every metric's baseline settled).
    """

    recent: deque
    states: list[_State]
    limits: list[tuple] | None = None
    settled: bool = False


class AlertEngine:
    """Stateful rule evaluation over a stream of events (live and offline alike).

    ``AlertEngine(rules=None, baseline=None)``: ``rules`` from ``load_rules``
    (defaults when None); ``baseline`` a stored ``Baseline`` (e.g. from an
    earlier session); without one the athlete's own first events of this
    session form it (module docstring: it settles once its confidence
    interval is narrow enough).

    Attributes: ``baseline`` (the current ``Baseline``: settled values only),
    ``transitions`` (every raise and clear as ``Alert`` with ``kind``
    "raised"/"cleared"), ``alerts`` (every raised alert so far).

    Each limit is read once per (kind, side), and again only after an event of that (kind,
    side) changed its baseline or accrual pool, or when an ``update`` call finds the baseline
    replaced or changed since the last one; a condition's pelvis-offset correction is
    computed only where it can decide (it never raises a value: a value already below the
    clear level stays there).
    """

    def __init__(self, rules: Rules | None = None, baseline: Baseline | None = None) -> None:
        self.rules = rules if rules is not None else load_rules()
        self._fixed_baseline = baseline is not None
        self.baseline = baseline if baseline is not None else Baseline()
        self._accrual = _BaselineAccrual(self.rules)
        self._state: dict[tuple[str, str, str], _State] = {}
        self._window = max([n for r in self.rules.rules for _, n in r.debounce.values()] + [1])
        self.transitions: list[Alert] = []
        self.alerts: list[Alert] = []
        self._metrics = self.rules.metrics()
        column = {m: i for i, m in enumerate(self._metrics)}
        # per kind: the rules judging it as (rule, k, n, ((condition, metric column, limit index), ...),
        # needs_hold), and the conditions of those rules with their rule's hysteresis (the limits of a
        # _Track). needs_hold: an inactive rule can only be raised by an event for which it holds (its
        # count of the last n was below k before, and only a holding event raises it), true unless
        # k < 1 or the rule shares its state (and name) with another (hand-built Rules)
        names = [r.name for r in self.rules.rules]
        self._judges: dict[str, tuple] = {}
        self._conds: dict[str, tuple[tuple[Condition, float], ...]] = {}
        for kind in EVENT_KINDS + tuple(k for r in self.rules.rules for k in r.kinds if k not in EVENT_KINDS):
            judges, conds = [], []
            for rule in self.rules.rules:
                if kind in rule.kinds:
                    k, n = rule.k_n(kind)
                    where = []
                    for cond in rule.conditions:
                        where.append((cond, column[cond.metric], len(conds)))
                        conds.append((cond, rule.hysteresis_deg))
                    judges.append((rule, k, n, tuple(where), k >= 1 and names.count(rule.name) == 1))
            self._judges[kind], self._conds[kind] = tuple(judges), tuple(conds)
        # how to read each metric: (per-side keys in extra of a two-legged event, Event field?, name)
        self._side_keys = {side: tuple(side_key(m, side) for m in self._metrics) for side in SIDES}
        self._fields = tuple((m, m in EVENT_FIELD_METRICS) for m in self._metrics)
        # all of them Event fields (the shipped rules): one getter for the tuple of them (of two or
        # more: attrgetter of one name gives no tuple; no lambda for it, so that an engine pickles)
        self._event_fields = None
        if len(self._metrics) > 1 and all(f for _, f in self._fields):
            self._event_fields = operator.attrgetter(*self._metrics)
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._seen: tuple | None = None  # (baseline, its values and SEs) at the end of the last update

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
        if kind not in self.rules.absolute_before_baseline and self.baseline.get(kind, side, cond.metric) is None:
            return None, None
        return self.limit(cond, kind, side)

    def _limits(self, kind: str, side: str) -> list[tuple]:
        """Per condition judging ``kind`` (``_conds``): (limit, clear level ``limit - hysteresis_deg``,
        offset-corrected?, baseline, baseline SE), in degrees (``alert_limit``; None/NaN where none)."""
        out = []
        for cond, hyst in self._conds.get(kind, ()):
            lim, base = self.alert_limit(cond, kind, side)
            se = self.baseline.get_se(kind, side, cond.metric) if base is not None else float("nan")
            clear = None if lim is None else lim - hyst
            out.append((lim, clear, cond.opposite_side_offset and base is not None, base, se))
        return out

    def is_active(self, rule: str, kind: str, side: str) -> bool:
        st = self._state.get((rule, kind, side))
        return bool(st and st.active)

    # -- per (kind, side) state, baseline accrual and recent values

    def _track(self, kind: str, side: str) -> _Track:
        track = self._tracks.get((kind, side))
        if track is None:
            states = [self._state.setdefault((rule.name, kind, side), _State(deque(maxlen=n)))
                      for rule, _k, n, _where, _needs_hold in self._judges.get(kind, ())]
            track = self._tracks[(kind, side)] = _Track(deque(maxlen=self._window), states)
        return track

    def _row(self, event: Event, side: str) -> tuple[float, ...]:
        """``metric_value`` of each of ``rules.metrics()`` for ``side``, one of ``event_sides(event)``."""
        nan = float("nan")
        if event.side == "both":
            extra = event.extra
            return tuple([float(extra.get(k, nan)) for k in self._side_keys[side]])
        if self._event_fields is not None:
            return tuple(map(float, self._event_fields(event)))
        return tuple([float(getattr(event, m)) if is_field else float(event.extra.get(m, nan))
                      for m, is_field in self._fields])

    def _accrue(self, event: Event, side: str, track: _Track, row: tuple[float, ...]) -> None:
        """Add one side of an event to the baseline accrual; settled metrics join ``baseline``."""
        track.limits = None  # the pool's level, and maybe the baseline, change
        for m in self._accrual.add(event, side, row):
            key = (event.kind, side, m)
            b = self._accrual.settled
            self.baseline.values[key], self.baseline.se[key], self.baseline.n[key] = b.values[key], b.se[key], b.n[key]
            self.baseline.settled_s[key] = b.settled_s[key]
        track.settled = self._accrual.done(event.kind, side)

    @staticmethod
    def _since(track: _Track, n: int, event: Event) -> float:
        """Start (s) of the span of this side's last ``n`` events (``event`` included, not yet remembered)."""
        ends = [r[0] for r in track.recent][-(n - 1):] if n > 1 else []
        return min(ends + [event.start_s])

    def _offset_correction(self, cond: Condition, col: int, kind: str, side: str, since_s: float) -> float:
        """Pelvis-offset correction (deg, <= 0) of ``cond.metric`` (column ``col`` of the rules' metrics)
        for ``side`` from the other side's events ending at or after ``since_s`` (s)."""
        other = "left" if side == "right" else "right"
        track = self._tracks.get((kind, other))
        if track is None:
            return 0.0
        b_other = self.baseline.get(kind, other, cond.metric)
        if b_other is None:
            return 0.0
        i = col + 1
        vals = sorted([r[i] for r in track.recent if r[0] >= since_s and r[i] is not None])
        if len(vals) < 3:
            return 0.0
        return pelvis_offset_correction_deg(_sorted_median(vals), b_other)  # (statistics.median's numbers)

    # -- evaluation

    def _values(self, judge: tuple, event: Event, side: str, track: _Track, row: tuple[float, ...]) -> dict[str, float]:
        """Per condition of a rule (``_judges``) the value, limit, baseline, its SE and the offset correction (deg)."""
        rule, _k, n, where, _needs_hold = judge
        values: dict[str, float] = {}
        for cond, col, li in where:
            lim, _clear, corrected, base, se = track.limits[li]
            corr = 0.0
            if corrected and event.side != "both":
                corr = self._offset_correction(cond, col, event.kind, side, self._since(track, n, event))
            values[cond.metric] = row[col]
            values[f"{cond.metric}_limit"] = float("nan") if lim is None else lim
            values[f"{cond.metric}_baseline"] = float("nan") if base is None else base
            values[f"{cond.metric}_baseline_se"] = se
            values[f"{cond.metric}_offset"] = corr
        return values

    def update(self, events: Iterable[Event]) -> list[Alert]:
        """Judge ``events`` in order; return the alerts they raised; set each event's ``alert`` field.

        Per side of an event, per rule judging its kind: the rule *holds* when every condition's
        value (offset-corrected) is beyond its limit, is *below* when some condition's is below
        ``limit - hysteresis_deg``. The correction (<= 0) is computed only for a value at or above
        that clear level (one below it is below, and not beyond the limit, whatever the correction).
        """
        raised: list[Alert] = []
        b = self.baseline
        seen = self._seen
        if seen is None or seen[0] is not b or seen[1] != b.values or seen[2] != b.se:
            for track in self._tracks.values():
                track.limits = None  # read afresh: the baseline was replaced or changed between calls
        fields = self._event_fields
        for event in events:
            label = ""
            kind = event.kind
            judges = self._judges.get(kind, ())
            two_legged = event.side == "both"
            for side in SIDES if two_legged else (event.side,):
                track = self._tracks.get((kind, side)) or self._track(kind, side)
                if fields is not None and not two_legged:
                    row = tuple(map(float, fields(event)))  # (_row's one-sided case, inline)
                else:
                    row = self._row(event, side)
                finite = [v if v - v == 0.0 else None for v in row]  # (v - v is NaN for NaN and +-inf)
                lims = track.limits
                if lims is None:
                    lims = track.limits = self._limits(kind, side)
                for judge, st in zip(judges, track.states):
                    rule, k, n, where, needs_hold = judge
                    holds, below = True, False
                    since_s = None
                    for cond, col, li in where:
                        lim, clear, corrected, _base, _se = lims[li]
                        v = finite[col]
                        if lim is None or v is None:
                            holds = False
                        elif v < clear <= lim:  # v + correction <= v: below, not beyond
                            holds, below = False, True
                        else:
                            corr = 0.0
                            if corrected and not two_legged:
                                if since_s is None:
                                    since_s = self._since(track, n, event)
                                corr = self._offset_correction(cond, col, kind, side, since_s)
                            if v + corr <= lim:
                                holds = False
                            if v + corr < clear:
                                below = True
                        if below and not holds:  # the other conditions change neither
                            break
                    exceed = st.exceed
                    exceed.append(holds)
                    st.below_run = st.below_run + 1 if below else 0
                    if not st.active:
                        if (holds or not needs_hold) and sum(exceed) >= k:
                            st.active = True
                            st.below_run = 0
                            values = self._values(judge, event, side, track, row)
                            t = float(event.extra.get("detected_s", event.end_s))
                            alert = Alert(rule.name, side, t, {**values, "k": float(k), "n": float(n)}, event)
                            raised.append(alert)
                            self.alerts.append(alert)
                            self.transitions.append(alert)
                    elif st.below_run >= k:
                        st.active = False
                        exceed.clear()
                        t = float(event.extra.get("detected_s", event.end_s))
                        self.transitions.append(Alert(rule.name, side, t, self._values(judge, event, side, track, row),
                                                      event, kind="cleared"))
                    if st.active and not label:
                        label = rule.name
                # after judging: an event is not judged against a baseline it is part of
                track.recent.append((event.end_s, *finite))
                if not track.settled and not self._fixed_baseline:
                    self._accrue(event, side, track, row)
            event.alert = label
        # the baseline the tracks' limits were read from (a track whose baseline its own events changed
        # read them again, ``_accrue``): the next call reads them afresh only if it differs then
        self._seen = (b, dict(b.values), dict(b.se))
        return raised


def alert_labels(events: Sequence[Event], rules: Rules | None = None, baseline: Baseline | None = None) -> list[str]:
    """Per-event alert labels a fresh engine gives ``events`` (copies; the events are not changed)."""
    import copy

    copies = [copy.copy(e) for e in events]
    for c, e in zip(copies, events):
        c.extra = dict(e.extra)
    AlertEngine(rules, baseline).update(copies)
    return [c.alert for c in copies]
