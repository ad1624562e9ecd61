"""The test protocols coaches run (``/work/shared/reference/clinical-notes.md``) as first-class sessions.

One declarative table, ``PROTOCOLS`` (name -> ``Protocol``): what each protocol measures
(the event kind, which sides, its result metrics from ``hipmon.metric_registry``), what the
athlete is told (``prompts``), how long it runs (``target``), and what a coach looks for.
And pure functions that turn a session's events and angle frames into that protocol's
result (``protocol_result``): no files, no Qt, degrees and seconds.

| name | label | event kind | sides | result |
|---|---|---|---|---|
| ``stance`` | single-leg stance hold | ``hold`` | the chosen side (default both, one set each) | per hold: time held, mean pelvic drop and obliquity, the drift of the drop in °/10 s with its 95 % CI, fatigue (drift > 0 with its CI above 0), peaks |
| ``squat`` | single-leg squat | ``rep`` | the chosen side (default both) | per rep and per side: depth (hip flexion), pelvic drop, hip adduction, IR, valgus composite |
| ``jump`` | drop vertical jump | ``landing`` | both legs at every landing | per landing: each leg's adduction, IR, valgus composite and left − right; per side mean ± SD |
| ``run`` / ``walk`` | running / walking | ``stance`` | both, alternating | per side: stances, contact time, cadence, mean ± SD of every metric, drift per minute |

The names are the simulator's kinds (``hipmon simulate stance|squat|jump|run|walk``) and what
``hipmon record --emulate`` and the report already called a session's protocol, so a recording
made before protocols were stored still maps onto one (``infer_protocol``).

Signs (DESIGN section 2): pelvic drop for a stance on side S is the drop of the *other* side,
positive when it drops (``metric_registry.PELVIC_DROP.sign_for(S)`` × obliquity); hip angles
positive for adduction and internal rotation on both sides.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from hipmon import metric_registry as reg
from hipmon.types import ANGLE_COLUMNS, Event

SIDES = ("left", "right")
DROP = reg.PELVIC_DROP.name
ADD = reg.HIP_ADDUCTION.name
IR = reg.HIP_INTERNAL_ROTATION.name
VALGUS = reg.VALGUS_COMPOSITE.name
FLEXION = reg.HIP_FLEXION.name

#: block length (s) of the hold's drift regression: the pelvis sways with balance corrections
#: a few times a second, so samples are not independent; 1 s block means nearly are
DRIFT_BLOCK_S = 1.0
#: the drift is reported per this many seconds (°/10 s: a 30-60 s hold's change reads directly)
DRIFT_PER_S = 10.0
#: two landing events (one per leg) within this of each other are one landing
LANDING_PAIR_S = 0.15


@dataclass(frozen=True)
class Protocol:
    """One test protocol (see the module docstring's table)."""

    name: str
    label: str
    event_kind: str  # the events that are the task: hold, rep, landing, stance
    side_choice: bool  # the coach picks the tested side (one-leg tasks); else both sides every time
    metrics: tuple[str, ...]  # registry metric names the result reports per event and side
    key_metric: str  # the one number per side ``hipmon sessions`` lists (besides hold time)
    prompts: dict[str, str]  # stage -> the athlete's instruction ({side}, {other}, {target} filled in)
    target: dict[str, float]  # hold_s / reps / landings / seconds
    looks_for: str  # what the coach looks for (clinical-notes.md)
    sim_kind: str  # hipmon simulate KIND that performs it

    def prompt(self, stage: str = "task", side: str | None = None) -> str:
        """The athlete's instruction for a stage (``stand``, ``walk``, ``task``, ``done``)."""
        text = self.prompts.get(stage) or self.prompts["task"]
        s = side or "right"
        other = "left" if s == "right" else "right"
        side_words = (f"your {s.upper()} leg" if side else "one leg (right, then left)")
        return text.format(side=side_words, other=other if side else "other",
                           target=self.target_text())

    def target_text(self) -> str:
        t = self.target
        if "hold_s" in t:
            return f"{t['hold_s']:.0f} s"
        if "reps" in t:
            return f"{t['reps']:.0f} reps"
        if "landings" in t:
            return f"{t['landings']:.0f} jumps"
        return f"{t.get('seconds', 60):.0f} s"

    def to_dict(self) -> dict:
        return asdict(self)


_CALIB = {
    "stand": "Stand still and tall, feet hip-width, looking ahead",
    "walk": "Walk 10-12 steps (on the spot is fine), then stand still",
    "done": "Done: rest",
}

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol(
        name="stance", label="Single-leg stance hold", event_kind="hold", side_choice=True,
        metrics=(DROP, ADD, IR, VALGUS), key_metric=DROP,
        prompts={**_CALIB, "task": "Stand on {side}, lift the {other} knee, hands on hips: keep your pelvis level for {target}"},
        target={"hold_s": 30.0},
        looks_for="the pelvis dropping on the unsupported side (Trendelenburg), and that drop growing over the "
                  "hold (fatigue of the stance side's gluteus medius)",
        sim_kind="stance"),
    Protocol(
        name="squat", label="Single-leg squat", event_kind="rep", side_choice=True,
        metrics=(FLEXION, DROP, ADD, IR, VALGUS), key_metric=VALGUS,
        prompts={**_CALIB, "task": "On {side}: squat slowly as deep as you control, knee over the foot, {target}"},
        target={"reps": 5.0},
        looks_for="the knee moving inwards (hip adduction plus internal rotation: dynamic knee valgus) and the "
                  "pelvis dropping, rep by rep and side against side",
        sim_kind="squat"),
    Protocol(
        name="jump", label="Drop vertical jump", event_kind="landing", side_choice=False,
        metrics=(DROP, ADD, IR, VALGUS), key_metric=VALGUS,
        prompts={**_CALIB, "task": "Step off the box, land on both feet and jump straight up: knees over the feet, {target}"},
        target={"landings": 5.0},
        looks_for="the knees collapsing inwards on landing (valgus: hip adduction plus internal rotation), "
                  "one leg more than the other (Hewett 2005)",
        sim_kind="jump"),
    Protocol(
        name="run", label="Run", event_kind="stance", side_choice=False,
        metrics=(DROP, ADD, IR, VALGUS), key_metric=DROP,
        prompts={**_CALIB, "task": "Run at your easy pace for {target}: tall, quiet pelvis"},
        target={"seconds": 120.0},
        looks_for="contralateral pelvic drop and hip adduction in each stance, left against right, and their "
                  "growth over the run (fatigue)",
        sim_kind="run"),
    Protocol(
        name="walk", label="Walk", event_kind="stance", side_choice=False,
        metrics=(DROP, ADD, IR, VALGUS), key_metric=DROP,
        prompts={**_CALIB, "task": "Walk at your usual pace for {target}"},
        target={"seconds": 60.0},
        looks_for="contralateral pelvic drop in each stance (a Trendelenburg gait), left against right",
        sim_kind="walk"),
)}

#: other names people type
ALIASES = {"hold": "stance", "single-leg-stance": "stance", "sls": "stance", "trendelenburg": "stance",
           "single-leg-squat": "squat", "slsq": "squat", "dvj": "jump", "drop-jump": "jump",
           "drop-vertical-jump": "jump", "landing": "jump", "running": "run", "walking": "walk", "gait": "walk"}


class ProtocolError(ValueError):
    """An unknown protocol or side (one line, names the choices)."""


def get_protocol(name: str) -> Protocol:
    key = str(name).strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in PROTOCOLS:
        raise ProtocolError(f"unknown protocol {name!r} (choose from {', '.join(PROTOCOLS)})")
    return PROTOCOLS[key]


def check_side(protocol: Protocol, side: str | None) -> str | None:
    """``side`` checked against the protocol: left/right for a one-leg task, none for the others."""
    if side is None or side == "":
        return None
    side = side.strip().lower()
    if side in ("both", "all"):
        return None
    if side not in SIDES:
        raise ProtocolError(f"side {side!r}: choose left or right")
    if not protocol.side_choice:
        raise ProtocolError(f"{protocol.name} ({protocol.label.lower()}) measures both sides: leave out the side")
    return side


def infer_protocol(metadata: dict | None, events: Sequence[Event] = ()) -> str | None:
    """The protocol a session ran: its stored ``protocol``, else the emulated kind, else its events' kinds.

    None when nothing says (a session without task events)."""
    metadata = metadata or {}
    for key in ("protocol", "kind"):
        v = metadata.get(key)
        if isinstance(v, str):
            try:
                return get_protocol(v).name
            except ProtocolError:
                pass
    emu = metadata.get("emulation") or {}
    if isinstance(emu.get("kind"), str) and emu["kind"] in PROTOCOLS:
        return emu["kind"]
    kinds = {e.kind for e in events}
    for k, p in (("landing", "jump"), ("rep", "squat"), ("hold", "stance")):
        if k in kinds:
            return p
    if any(e.extra.get("flight_before_s", 0) for e in events):
        return "run"
    return "walk" if events else None


# ---------------------------------------------------------------- results


@dataclass
class ProtocolResult:
    """A protocol's result for one session (degrees, seconds).

    - ``items``: one dict per task event (hold, rep, landing or stance-side group), in time order;
    - ``sides``: per side the summary (``n``, per metric ``mean``/``sd``/``n``, and the protocol's own
      numbers: hold time and drift, contact time and cadence, ...);
    - ``key``: the few numbers a session list shows (``"right drop"`` -> 5.1, ...);
    - ``notes``: plain sentences (fatigue, side differences, nothing found).
    """

    protocol: str
    label: str
    side: str | None
    kind: str
    items: list[dict] = field(default_factory=list)
    sides: dict[str, dict] = field(default_factory=dict)
    key: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return _clean(asdict(self))

    def lines(self) -> list[str]:
        """The result as a few text lines (``hipmon analyze``, the dashboard's result panel)."""
        return format_result(self)


def _clean(x: Any) -> Any:
    """NaN -> None, numpy scalars -> floats: JSON-ready."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


#: an event's value of a registered metric (``hipmon.metric_registry.event_value``)
metric_value = reg.event_value


def _stats(values: Sequence[float]) -> dict:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if not len(v):
        return {"mean": None, "sd": None, "n": 0}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else None, "n": int(len(v))}


def drop_trace(angles_deg: np.ndarray, side: str) -> np.ndarray:
    """Contralateral pelvic drop (deg, positive when the side opposite ``side`` drops) sample by sample,
    for a stance on ``side``: the registry's sign of the drop metric times the obliquity."""
    col = ANGLE_COLUMNS.index("pelvis_obliquity_deg")
    return reg.PELVIC_DROP.sign_for(side) * np.asarray(angles_deg, dtype=float)[:, col]


def linear_drift(time_s: np.ndarray, values: np.ndarray, block_s: float = DRIFT_BLOCK_S) -> dict:
    """Least-squares slope of ``values`` over ``time_s`` from block means (``block_s``), per ``DRIFT_PER_S``
    seconds, with its 95 % CI (Student t, blocks - 2 degrees of freedom).

    Block means: a standing pelvis sways with balance corrections, so neighbouring samples are
    not independent and a sample-by-sample regression would give a CI far too narrow."""
    from scipy import stats as sps

    t = np.asarray(time_s, dtype=float)
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    out = {"per_10s": None, "ci95": [None, None], "blocks": 0, "change": None}
    if len(t) < 3 or t[-1] - t[0] < 3 * block_s:
        return out
    idx = np.floor((t - t[0]) / block_s).astype(int)
    nb = int(idx.max()) + 1
    counts = np.bincount(idx, minlength=nb)
    keep = counts > 0
    tb = (np.bincount(idx, weights=t, minlength=nb)[keep] / counts[keep])
    vb = (np.bincount(idx, weights=v, minlength=nb)[keep] / counts[keep])
    if len(tb) < 3:
        return out
    tm = tb - tb.mean()
    sxx = float(np.sum(tm * tm))
    slope = float(np.sum(tm * (vb - vb.mean())) / sxx)
    resid = vb - vb.mean() - slope * tm
    dof = len(tb) - 2
    se = math.sqrt(float(np.sum(resid ** 2)) / dof / sxx) if dof > 0 else math.nan
    half = float(sps.t.ppf(0.975, dof)) * se if dof > 0 else math.nan
    k = DRIFT_PER_S
    return {"per_10s": slope * k, "ci95": [(slope - half) * k, (slope + half) * k], "blocks": int(len(tb)),
            "change": slope * float(t[-1] - t[0])}


def _window(time_s: np.ndarray, start_s: float, end_s: float) -> slice:
    i0, i1 = np.searchsorted(time_s, [start_s, end_s], side="left")
    return slice(int(i0), int(min(i1 + 1, len(time_s))))


def _event_item(e: Event, metrics: Sequence[str]) -> dict:
    item = {"side": e.side, "start_s": float(e.start_s), "end_s": float(e.end_s)}
    for m in metrics:
        item[m] = metric_value(e, m)
    if e.alert:
        item["alert"] = e.alert
    return item


def _side_summary(events: Sequence[Event], metrics: Sequence[str]) -> dict:
    return {"n": len(events), **{m: _stats([metric_value(e, m) for e in events]) for m in metrics}}


def _task_events(events: Sequence[Event], kind: str, side: str | None) -> list[Event]:
    sel = [e for e in events if e.kind == kind and (side is None or e.side == side)]
    return sorted(sel, key=lambda e: e.start_s)


def stance_hold_result(p: Protocol, events: Sequence[Event], time_s: np.ndarray, angles_deg: np.ndarray,
                       valid: np.ndarray | None, side: str | None) -> ProtocolResult:
    """Single-leg stance holds: per hold the time held, mean pelvic drop and obliquity over the hold,
    the drop's drift (°/10 s, 95 % CI) and fatigue (drift > 0 with the CI above 0), and the peaks."""
    res = ProtocolResult(p.name, p.label, side, p.event_kind)
    t = np.asarray(time_s, dtype=float)
    a = np.asarray(angles_deg, dtype=float).reshape(len(t), len(ANGLE_COLUMNS))
    ok = np.ones(len(t), bool) if valid is None else np.asarray(valid, bool)
    obl_col = ANGLE_COLUMNS.index("pelvis_obliquity_deg")
    for e in _task_events(events, p.event_kind, side):
        item = _event_item(e, p.metrics)
        item["hold_s"] = float(e.end_s - e.start_s)
        sl = _window(t, e.start_s, e.end_s)
        tt, keep = t[sl], ok[sl]
        drop = np.where(keep, drop_trace(a[sl], e.side), np.nan)
        obl = np.where(keep, a[sl, obl_col], np.nan)
        item["mean_drop_deg"] = float(np.nanmean(drop)) if np.isfinite(drop).any() else math.nan
        item["mean_obliquity_deg"] = float(np.nanmean(obl)) if np.isfinite(obl).any() else math.nan
        d = linear_drift(tt, drop)
        item["drift_deg_per_10s"] = d["per_10s"]
        item["drift_ci95"] = d["ci95"]
        item["drop_change_deg"] = d["change"]
        lo = d["ci95"][0]
        item["fatigue"] = bool(lo is not None and math.isfinite(lo) and lo > 0)
        res.items.append(item)
    for s in SIDES:
        its = [i for i in res.items if i["side"] == s]
        if not its:
            continue
        evs = [e for e in _task_events(events, p.event_kind, s)]
        block = _side_summary(evs, p.metrics)
        longest = max(its, key=lambda i: i["hold_s"])
        block.update(hold_s=sum(i["hold_s"] for i in its), longest_hold_s=longest["hold_s"],
                     mean_drop_deg=_stats([i["mean_drop_deg"] for i in its])["mean"],
                     drift_deg_per_10s=longest["drift_deg_per_10s"], drift_ci95=longest["drift_ci95"],
                     fatigue=any(i["fatigue"] for i in its))
        res.sides[s] = block
        res.key[f"{s} hold s"] = block["longest_hold_s"]
        res.key[f"{s} drop"] = block["mean_drop_deg"]
        res.key[f"{s} drift/10s"] = block["drift_deg_per_10s"]
        if block["fatigue"]:
            res.notes.append(f"{s} stance: the pelvis sagged more as the hold went on "
                             f"({block['drift_deg_per_10s']:+.1f}° per 10 s): fatigue of the {s} hip's abductors")
    return res


def squat_result(p: Protocol, events: Sequence[Event], side: str | None) -> ProtocolResult:
    """Single-leg squats: every rep's depth and peaks, per side mean ± SD."""
    res = ProtocolResult(p.name, p.label, side, p.event_kind)
    evs = _task_events(events, p.event_kind, side)
    for i, e in enumerate(evs):
        item = _event_item(e, p.metrics)
        item["rep"] = 1 + sum(1 for x in evs[:i] if x.side == e.side)
        res.items.append(item)
    for s in SIDES:
        sel = [e for e in evs if e.side == s]
        if sel:
            res.sides[s] = _side_summary(sel, p.metrics)
            res.key[f"{s} valgus"] = res.sides[s][VALGUS]["mean"]
            res.key[f"{s} drop"] = res.sides[s][DROP]["mean"]
    return res


def jump_result(p: Protocol, events: Sequence[Event]) -> ProtocolResult:
    """Drop vertical jumps: every landing with both legs' peaks and left − right; per side mean ± SD."""
    res = ProtocolResult(p.name, p.label, None, p.event_kind)
    evs = _task_events(events, p.event_kind, None)
    groups: list[list[Event]] = []
    for e in evs:
        if groups and abs(e.start_s - groups[-1][0].start_s) <= LANDING_PAIR_S and \
                all(x.side != e.side for x in groups[-1]):
            groups[-1].append(e)
        else:
            groups.append([e])
    for n, g in enumerate(groups, 1):
        item: dict[str, Any] = {"landing": n, "start_s": float(min(e.start_s for e in g)),
                                "end_s": float(max(e.end_s for e in g)), "legs": sorted(e.side for e in g)}
        for e in g:
            for m in p.metrics:
                item[f"{e.side} {m}"] = metric_value(e, m)
        if len(g) == 2:
            for m in (ADD, IR, VALGUS):
                item[f"left-right {m}"] = item[f"left {m}"] - item[f"right {m}"]
        res.items.append(item)
    for s in SIDES:
        sel = [e for e in evs if e.side == s]
        if sel:
            res.sides[s] = _side_summary(sel, p.metrics)
            res.key[f"{s} valgus"] = res.sides[s][VALGUS]["mean"]
    if "left" in res.sides and "right" in res.sides:
        lm, rm = res.sides["left"][VALGUS]["mean"], res.sides["right"][VALGUS]["mean"]
        if lm is not None and rm is not None:
            res.key["valgus L-R"] = lm - rm
    return res


def gait_result(p: Protocol, events: Sequence[Event]) -> ProtocolResult:
    """Running or walking: per side the stances, contact time, cadence and every metric's mean ± SD and
    drift per minute (least squares over the stances)."""
    from hipmon.metrics import linear_trend

    res = ProtocolResult(p.name, p.label, None, p.event_kind)
    evs = [e for e in _task_events(events, "stance", None) if e.side in SIDES]
    if evs:
        span = max(e.end_s for e in evs) - min(e.start_s for e in evs)
        res.key["cadence spm"] = 60.0 * (len(evs) - 1) / span if span > 0 and len(evs) > 1 else None
    for s in SIDES:
        sel = [e for e in evs if e.side == s]
        if not sel:
            continue
        block = _side_summary(sel, p.metrics)
        ct = [e.extra.get("contact_time_s", e.end_s - e.start_s) for e in sel]
        block["contact_time_s"] = _stats(ct)
        mid = [0.5 * (e.start_s + e.end_s) for e in sel]
        tr = linear_trend(mid, [metric_value(e, DROP) for e in sel])
        block["drop_trend_per_min"] = {"slope": tr.slope_per_min, "ci95": list(tr.ci95),
                                       "significant": bool(tr.significant)}
        res.sides[s] = block
        res.key[f"{s} drop"] = block[DROP]["mean"]
        if tr.significant and tr.slope_per_min > 0:
            res.notes.append(f"{s} stance: pelvic drop grew by {tr.change:.1f}° over the session "
                             f"({tr.slope_per_min:+.2f}° per minute): fatigue")
    # one row per stance would be hundreds: the items are per side (the report draws every stance)
    res.items = [{"side": s, "n": b["n"], **{m: b[m]["mean"] for m in p.metrics}} for s, b in res.sides.items()]
    return res


def protocol_result(protocol: str | Protocol, events: Sequence[Event], time_s: np.ndarray | None = None,
                    angles_deg: np.ndarray | None = None, valid: np.ndarray | None = None,
                    side: str | None = None) -> ProtocolResult:
    """The protocol's result from a session's events (and, for stance holds, its angle frames on the
    common grid: ``time_s`` (N,), ``angles_deg`` (N, 9) ``ANGLE_COLUMNS`` order, ``valid`` (N,))."""
    p = protocol if isinstance(protocol, Protocol) else get_protocol(protocol)
    side = check_side(p, side) if side else None
    if p.name == "stance":
        if time_s is None or angles_deg is None:
            time_s, angles_deg = np.zeros(0), np.zeros((0, len(ANGLE_COLUMNS)))
        res = stance_hold_result(p, events, time_s, angles_deg, valid, side)
    elif p.name == "squat":
        res = squat_result(p, events, side)
    elif p.name == "jump":
        res = jump_result(p, events)
    else:
        res = gait_result(p, events)
    if not res.sides:
        res.notes.append(f"no {KIND_NOUNS[p.event_kind]} found"
                         + (f" on the {side}" if side else "") + ": check the protocol and the calibration")
    else:
        _side_difference_notes(p, res)
    return res


KIND_NOUNS = {"hold": "hold", "rep": "rep", "landing": "landing", "stance": "stance"}


def _side_difference_notes(p: Protocol, res: ProtocolResult) -> None:
    """A sentence where the two sides differ by more than 2° in the key metric."""
    if not ("left" in res.sides and "right" in res.sides):
        return
    lm = (res.sides["left"].get(p.key_metric) or {}).get("mean")
    rm = (res.sides["right"].get(p.key_metric) or {}).get("mean")
    if lm is None or rm is None or abs(lm - rm) < 2.0:
        return
    worse = "left" if lm > rm else "right"
    res.notes.append(f"{reg.METRICS[p.key_metric].label}: {abs(lm - rm):.1f}° more on the {worse} "
                     f"(left {lm:.1f}°, right {rm:.1f}°)")


def _f(x: Any, nd: int = 1, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def format_result(res: ProtocolResult) -> list[str]:
    """A few lines: the protocol, then one per side (or per hold / landing), then the notes."""
    head = res.label + (f", {res.side} side" if res.side else "")
    out = [head]
    short = {m: reg.METRICS[m].short for m in reg.METRICS}
    if res.protocol == "stance":
        for i in res.items:
            ci = i["drift_ci95"]
            out.append(f"  {i['side']:<5} held {_f(i['hold_s'])} s, pelvic drop {_f(i['mean_drop_deg'])}° "
                       f"(peak {_f(i[DROP])}°), drift {_f(i['drift_deg_per_10s'], 2, True)}°/10 s "
                       f"[{_f(ci[0], 2, True)}, {_f(ci[1], 2, True)}]" + ("  FATIGUE" if i["fatigue"] else ""))
    elif res.protocol == "jump":
        for i in res.items:
            cells = [f"{s[0].upper()} valgus {_f(i.get(f'{s} {VALGUS}'))}°" for s in SIDES if f"{s} {VALGUS}" in i]
            out.append(f"  landing {i['landing']} at {i['start_s']:.1f} s: " + ", ".join(cells))
        for s, b in res.sides.items():
            out.append(f"  {s:<5} {b['n']} landings: " + ", ".join(
                f"{short[m]} {_f(b[m]['mean'])} ± {_f(b[m]['sd'])}°" for m in (ADD, IR, VALGUS)))
    else:
        noun = "reps" if res.protocol == "squat" else "stances"
        for s, b in res.sides.items():
            extra = ""
            if "contact_time_s" in b and b["contact_time_s"]["mean"] is not None:
                extra = f", contact {b['contact_time_s']['mean'] * 1000:.0f} ms"
            out.append(f"  {s:<5} {b['n']} {noun}{extra}: " + ", ".join(
                f"{short[m]} {_f(b[m]['mean'])} ± {_f(b[m]['sd'])}°" for m in res_metrics(res)))
        if res.key.get("cadence spm"):
            out.append(f"  cadence {res.key['cadence spm']:.0f} steps/min")
    out.extend(f"  · {n}" for n in res.notes)
    return out


def res_metrics(res: ProtocolResult) -> tuple[str, ...]:
    return PROTOCOLS[res.protocol].metrics


def key_numbers(res: ProtocolResult) -> dict[str, float | None]:
    """The session list's numbers (``hipmon sessions``): ``res.key`` rounded to 0.1."""
    return {k: (None if v is None or not math.isfinite(v) else round(float(v), 2)) for k, v in res.key.items()}


__all__ = ["Protocol", "PROTOCOLS", "ProtocolError", "ProtocolResult", "get_protocol", "check_side",
           "infer_protocol", "protocol_result", "format_result", "key_numbers", "linear_drift", "drop_trace"]
