"""Baseline vs follow-up, and a course of sessions: each metric's change with its 95 % CI and
whether it exceeds the smallest detectable change (``hipmon.report.stats``), and sentences a
runner understands."""

from __future__ import annotations

from dataclasses import dataclass

from hipmon import metric_registry as reg

from .model import KIND_NAMES, REPORT_METRICS, SessionAnalysis
from .stats import Change, change_between, session_sd_deg

SIDE_ORDER = ("left", "right", "both")


@dataclass
class Comparison:
    """Session ``b`` against ``a`` (the earlier one, the baseline): ``changes`` per kind, side and metric."""

    a: SessionAnalysis
    b: SessionAnalysis
    kinds: tuple[str, ...]
    changes: list[Change]

    def get(self, kind: str, side: str, metric: str) -> Change | None:
        for c in self.changes:
            if (c.kind, c.side, c.metric) == (kind, side, metric):
                return c
        return None


def compare_pair(a: SessionAnalysis, b: SessionAnalysis, same_session: bool = False) -> Comparison:
    """``b`` against the baseline ``a``, for the kinds both sessions have as their task (else any shared kind).
    ``same_session``: two conditions of one session (``split_by_condition``): no session offset."""
    kinds = tuple(k for k in a.kinds if k in b.summary["kinds"]) or tuple(
        k for k in a.summary["kinds"] if k in b.summary["kinds"])
    changes = []
    for kind in kinds:
        sides = [s for s in SIDE_ORDER if s in a.sides_of(kind) or s in b.sides_of(kind)]
        for side in sides:
            for metric in REPORT_METRICS:
                changes.append(change_between(metric, kind, side, a.block(kind, side, metric),
                                              b.block(kind, side, metric), same_session=same_session))
    return Comparison(a, b, kinds, changes)


# ---------------------------------------------------------------- words

_WHAT = {
    # metric -> (what it is for a runner, in a stance of side S)
    "peak_pelvic_drop_deg": "how far your pelvis dropped on the other side while you stood on your {side} leg",
    "peak_hip_adduction_deg": "how far your {side} knee moved in towards the midline (hip adduction)",
    "peak_hip_internal_rotation_deg": "how far your {side} thigh turned inwards (hip internal rotation)",
    "peak_valgus_composite_deg": "the {side} knee's inward collapse (adduction plus internal rotation)",
}


def change_sentence(c: Change) -> str:
    """One plain sentence for one change."""
    what = _WHAT.get(c.metric, reg.METRICS[c.metric].label + " ({side})").format(side=c.side)
    what = what[0].upper() + what[1:]
    if c.verdict == "unknown":
        return (f"{what}: cannot be compared (too few {KIND_NAMES.get(c.kind, c.kind)}s on one of the days "
                "to know how much it varies).")
    frm, to = f"{c.mean_a:.1f}°", f"{c.mean_b:.1f}°"
    if c.verdict == "no change":
        return (f"{what}: no change hipmon can tell apart ({frm} then {to}; differences smaller than "
                f"{c.sdc95:.1f}° are within what the sensors and your stride-to-stride variation allow).")
    word = "less" if c.change < 0 else "more"
    good = "an improvement" if c.verdict == "better" else "a change for the worse"
    return (f"{what}: {abs(c.change):.1f}° {word} than before ({frm} then {to}). That is more than the "
            f"{c.sdc95:.1f}° hipmon can tell apart, so it is {good}.")


def sentences(comp: Comparison, only_detected_and_key: bool = True) -> list[str]:
    """A few sentences: every detected change, then one line for the metrics that did not change."""
    out = []
    for c in comp.changes:
        if c.side == "both":
            continue
        if c.detected or not only_detected_and_key:
            out.append(change_sentence(c))
    unchanged = [c for c in comp.changes if c.verdict == "no change" and c.side != "both"]
    if only_detected_and_key and unchanged:
        names = sorted({f"{reg.METRICS[c.metric].label} ({c.side})" for c in unchanged},
                       key=lambda s: s)
        out.append("No change hipmon can tell apart in: " + ", ".join(names) + ".")
    unknown = [c for c in comp.changes if c.verdict == "unknown" and c.side != "both"]
    if unknown:
        out.append(f"{len(unknown)} comparisons could not be made: a side had fewer than two "
                   f"{'/'.join(sorted({KIND_NAMES.get(c.kind, c.kind) for c in unknown}))}s in one session.")
    if not out:
        out.append("Nothing to compare: the sessions share no task.")
    return out


# ---------------------------------------------------------------- a course of sessions


def course(analyses: list[SessionAnalysis], same_session: bool = False) -> dict:
    """JSON-ready comparison of sessions in date order: per session its facts; per kind, side and
    metric each session's mean/SD/n and its change against the first session (and the previous).
    ``same_session``: the analyses are the conditions of one session (``split_by_condition``)."""
    first = analyses[0]
    pairs_first = [compare_pair(first, b, same_session) for b in analyses[1:]]
    pairs_prev = [compare_pair(a, b, same_session) for a, b in zip(analyses, analyses[1:])]
    kinds = first.kinds
    rows = []
    for kind in kinds:
        sides = [s for s in SIDE_ORDER if any(s in a.sides_of(kind) for a in analyses)]
        for side in sides:
            for metric in REPORT_METRICS:
                sigma, src = (0.0, "same session") if same_session else session_sd_deg(metric)
                row = {"kind": kind, "side": side, "metric": metric, "label": reg.METRICS[metric].label,
                       "unit": reg.METRICS[metric].unit, "session_sd_deg": sigma, "sessions": []}
                for i, a in enumerate(analyses):
                    b = a.block(kind, side, metric) or {}
                    entry = {"session": a.name, "mean": b.get("mean"), "sd": b.get("sd"), "n": b.get("n") or 0}
                    if i > 0:
                        entry["vs_first"] = pairs_first[i - 1].get(kind, side, metric).to_dict()
                        entry["vs_previous"] = pairs_prev[i - 1].get(kind, side, metric).to_dict()
                    row["sessions"].append(entry)
                rows.append(row)
    return {
        "sessions": [{"name": a.name, "path": a.path, "athlete": a.athlete, "date": a.date,
                      "protocol": a.protocol, "kinds": list(a.kinds),
                      "calibration": a.calibration} for a in analyses],
        "kinds": list(kinds),
        "rows": rows,
        "method": METHOD_TEXT_CONDITIONS if same_session else METHOD_TEXT,
    }


# ---------------------------------------------------------------- conditions of one session

#: The condition of the events before a session's first marker with a condition.
BASELINE_CONDITION = "baseline"


def condition_at(markers: list, time_s: float) -> str:
    """The condition at session time ``time_s``: that of the latest marker with a condition at or
    before it (``hipmon.recording.reader.Marker``s; markers without one do not split), else
    :data:`BASELINE_CONDITION`."""
    cond = BASELINE_CONDITION
    for m in sorted(markers, key=lambda m: m.time_s):
        if m.time_s > time_s:
            break
        if m.condition:
            cond = m.condition
    return cond


def split_by_condition(a: SessionAnalysis, markers: list) -> list[SessionAnalysis]:
    """One session's events split at its markers: one ``SessionAnalysis`` per condition (named by
    it), in the order the conditions first occur, with the events (by their start) and alerts of
    that condition and their summary (``hipmon.metrics.summarize_events``). A condition that comes
    back (shoe A, shoe B, shoe A) pools its segments. The task kinds stay the session's."""
    from dataclasses import replace

    from hipmon.metrics import summarize_events

    conds = [BASELINE_CONDITION] if any(condition_at(markers, e.start_s) == BASELINE_CONDITION
                                        for e in a.events) else []
    for m in sorted(markers, key=lambda m: m.time_s):
        if m.condition and m.condition not in conds:
            conds.append(m.condition)
    out = []
    for c in conds:
        evs = [e for e in a.events if condition_at(markers, e.start_s) == c]
        als = [x for x in a.alerts if condition_at(markers, x.time_s) == c]
        out.append(replace(a, name=c, events=evs, alerts=als, summary=summarize_events(evs, als)))
    return out


METHOD_TEXT = (
    "change = mean(later) - mean(first); SE = sqrt(SD1^2/n1 + SD2^2/n2 + 2*sigma^2), sigma = a session's "
    "placement/calibration offset (max of the real-world peak bias and the simulated re-mount SD); "
    "95 % CI = change ± t(0.975, Welch df) * SE; smallest detectable change SDC95 = t * SE; "
    "detected when |change| > SDC95. Lower is better for every metric."
)
METHOD_TEXT_CONDITIONS = (
    "conditions of one session, split at its markers (an event belongs to the condition of the latest marker "
    "with a condition before its start; before the first: baseline); change = mean(condition) - mean(first); "
    "SE = sqrt(SD1^2/n1 + SD2^2/n2) (same sensors, same calibration: no session offset); "
    "95 % CI = change ± t(0.975, Welch df) * SE; smallest detectable change SDC95 = t * SE; "
    "detected when |change| > SDC95. Lower is better for every metric."
)
