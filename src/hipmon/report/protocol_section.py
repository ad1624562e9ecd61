"""The protocol section of a report, and the athlete's trends across sessions (``report --athlete``).

The numbers are ``hipmon.protocols.protocol_result``'s (the same as ``hipmon analyze``'s protocol block
and the dashboard's result panel); this module lays them out as tables and figures.
"""

from __future__ import annotations

import base64
import math
from typing import Any, Callable

import numpy as np

from hipmon import metric_registry as reg
from hipmon.protocols import ADD, DROP, FLEXION, IR, PROTOCOLS, VALGUS, ProtocolResult, drop_trace, protocol_result

from . import figures
from .model import KIND_NAMES, SessionAnalysis


def _f(x: Any, nd: int = 1, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def _ms(b: dict | None) -> str:
    b = b or {}
    return f"{_f(b.get('mean'))} ± {_f(b.get('sd'))}"


def result_of(a: SessionAnalysis) -> ProtocolResult | None:
    """The session's protocol result, or None when its protocol is not one of ``PROTOCOLS``."""
    if a.protocol not in PROTOCOLS:
        return None
    return protocol_result(a.protocol, a.events, a.time_s, a.angles_deg, a.valid, side=a.protocol_side)


def _table(res: ProtocolResult) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the protocol's result table."""
    lab = {m: reg.METRICS[m].short for m in reg.METRICS}
    if res.protocol == "stance":
        head = ["side", "held (s)", "mean pelvic drop (°)", "mean obliquity (°)", "drift (°/10 s) [95 % CI]",
                "change over the hold (°)", "fatigue", f"peak {lab[DROP]} (°)", f"peak {lab[ADD]} (°)",
                f"peak {lab[IR]} (°)"]
        rows = [[i["side"], _f(i["hold_s"]), _f(i["mean_drop_deg"]), _f(i["mean_obliquity_deg"], 1, True),
                 f"{_f(i['drift_deg_per_10s'], 2, True)} [{_f(i['drift_ci95'][0], 2, True)}, "
                 f"{_f(i['drift_ci95'][1], 2, True)}]", _f(i["drop_change_deg"], 1, True),
                 "yes" if i["fatigue"] else "no", _f(i[DROP]), _f(i[ADD]), _f(i[IR])] for i in res.items]
        return head, rows
    if res.protocol == "squat":
        head = ["side", "rep", "depth: hip flexion (°)"] + [f"{lab[m]} (°)" for m in (DROP, ADD, IR, VALGUS)]
        rows = [[i["side"], str(i["rep"]), _f(i[FLEXION])] + [_f(i[m]) for m in (DROP, ADD, IR, VALGUS)]
                for i in res.items]
        rows += [[s, "mean ± SD", _ms(b.get(FLEXION))] + [_ms(b.get(m)) for m in (DROP, ADD, IR, VALGUS)]
                 for s, b in res.sides.items()]
        return head, rows
    if res.protocol == "jump":
        head = ["landing", "time (s)"] + [f"{s} {lab[m]} (°)" for s in ("left", "right") for m in (ADD, IR, VALGUS)] \
            + [f"L − R {lab[VALGUS]} (°)"]
        rows = [[str(i["landing"]), _f(i["start_s"])] + [_f(i.get(f"{s} {m}")) for s in ("left", "right")
                                                          for m in (ADD, IR, VALGUS)]
                + [_f(i.get(f"left-right {VALGUS}"), 1, True)] for i in res.items]
        return head, rows
    head = ["side", "stances", "contact (ms)"] + [f"{lab[m]} (°)" for m in (DROP, ADD, IR, VALGUS)] \
        + ["drop trend (°/min)"]
    rows = []
    for s, b in res.sides.items():
        ct = (b.get("contact_time_s") or {}).get("mean")
        tr = b.get("drop_trend_per_min") or {}
        rows.append([s, str(b["n"]), _f(None if ct is None else 1000 * ct, 0)] + [_ms(b.get(m)) for m in
                                                                                   (DROP, ADD, IR, VALGUS)]
                    + [_f(tr.get("slope"), 2, True) + ("*" if tr.get("significant") else "")])
    return head, rows


def protocol_figure(a: SessionAnalysis, res: ProtocolResult) -> bytes | None:
    """Stance holds: the pelvic drop over each hold with its fitted drift; squats and jumps: every rep's or
    landing's valgus composite per side; runs and walks: None (the stance section draws them)."""
    plt = figures.plt
    if res.protocol == "stance" and res.items:
        fig, ax = plt.subplots(figsize=(9, 3.0))
        for i in res.items:
            sl = slice(*np.searchsorted(a.time_s, [i["start_s"], i["end_s"]]))
            t = a.time_s[sl] - i["start_s"]
            d = np.where(a.valid[sl], drop_trace(a.angles_deg[sl], i["side"]), np.nan)
            c = figures.SIDE_COLOURS[i["side"]]
            ax.plot(t, d, color=c, lw=0.8, label=f"{i['side']} stance")
            if i["drift_deg_per_10s"] is not None and np.isfinite(d).any():
                slope = i["drift_deg_per_10s"] / 10.0
                tt = np.array([0.0, t[-1] if len(t) else 0.0])
                ax.plot(tt, np.nanmean(d) + slope * (tt - np.nanmean(t)), color=c, ls="--", lw=1.2)
        ax.set_xlabel("time into the hold (s)")
        ax.set_ylabel("pelvic drop (°)")
        ax.set_title("Pelvic drop of the unsupported side over each hold (dashed: the drift)")
        ax.legend(fontsize=7, frameon=False)
        fig.tight_layout()
        return figures._png(fig)
    if res.protocol in ("squat", "jump") and res.sides:
        fig, ax = plt.subplots(figsize=(9, 2.8))
        for k, (s, dx) in enumerate((("left", -0.2), ("right", 0.2))):
            if res.protocol == "squat":
                vals = [i[VALGUS] for i in res.items if i["side"] == s]
                x = np.arange(1, len(vals) + 1)
            else:
                vals = [i.get(f"{s} {VALGUS}", math.nan) for i in res.items]
                x = np.array([i["landing"] for i in res.items])
            if len(vals):
                ax.bar(x + dx, vals, width=0.38, color=figures.SIDE_COLOURS[s], label=s)
        noun = "rep" if res.protocol == "squat" else "landing"
        ax.set_xlabel(noun)
        ax.set_ylabel("add + IR (°)")
        ax.set_title(f"Valgus composite (hip adduction + internal rotation) of every {noun}, per side")
        ax.legend(fontsize=7, frameon=False)
        fig.tight_layout()
        return figures._png(fig)
    return None


def section(a: SessionAnalysis) -> dict | None:
    """The report's protocol section (template context), or None: only for a session that stores its protocol
    (one inferred from the events is named in the facts table, and its events have their per-kind sections)."""
    if not a.protocol_stored:
        return None
    res = result_of(a)
    if res is None:
        return None
    p = PROTOCOLS[res.protocol]
    head, rows = _table(res)
    png = protocol_figure(a, res)
    return {
        "name": p.name, "label": p.label, "side": res.side, "looks_for": p.looks_for,
        "prompt": p.prompt("task", res.side), "head": head, "rows": rows, "notes": res.notes,
        "fig": None if png is None else base64.b64encode(png).decode("ascii"),
        "kind_noun": KIND_NAMES.get(p.event_kind, p.event_kind),
    }


# ---------------------------------------------------------------- trends across sessions


def trends_context(athlete: str, analyses: list[SessionAnalysis], step: Callable[[str], None] | None = None) -> dict:
    """The athlete trends report's context: per protocol, the sessions in date order with their key numbers,
    the course (``hipmon.report.comparison.course``: change vs the first session, CI, verdict) and figures."""
    from .comparison import course
    from .model import session_order_key

    step = step or (lambda _t: None)
    groups: dict[str, list[SessionAnalysis]] = {}
    for a in sorted(analyses, key=session_order_key):
        groups.setdefault(a.protocol, []).append(a)
    blocks = []
    for name, group in groups.items():
        p = PROTOCOLS.get(name)
        step(f"trends: {p.label if p else name} ({len(group)} session{'s' if len(group) != 1 else ''})")
        results = [result_of(a) for a in group]
        keys: list[str] = []
        for r in results:
            for k in (r.key if r else {}):
                if k not in keys:
                    keys.append(k)
        sess_rows = [[a.label, a.protocol_side or "—", f"{a.duration_s:.0f}"] +
                     [_f((r.key if r else {}).get(k), 2 if "drift" in k else 1) for k in keys]
                     for a, r in zip(group, results)]
        kind = PROTOCOLS[name].event_kind if p else (group[0].kinds[0] if group[0].kinds else "stance")
        block: dict[str, Any] = {"name": name, "label": p.label if p else name, "key_names": keys, "sessions": sess_rows,
                                 "n": len(group), "kind_noun": KIND_NAMES.get(kind, kind), "rows": [], "figs": []}
        if any(kind in a.summary.get("kinds", {}) for a in group):
            block["figs"].append(base64.b64encode(figures.course_trend(group, kind)).decode("ascii"))
        kp = key_trend_figure(group, results, keys)
        if kp is not None:
            block["figs"].append(base64.b64encode(kp).decode("ascii"))
        if len(group) >= 2:
            data = course(group)
            for row in data["rows"]:
                last = row["sessions"][-1].get("vs_first") or {}
                block["rows"].append({
                    "kind": KIND_NAMES.get(row["kind"], row["kind"]), "label": row["label"], "side": row["side"],
                    "first": _ms(row["sessions"][0]), "last": _ms(row["sessions"][-1]),
                    "change": _f(last.get("change"), 1, True),
                    "ci": "—" if not last.get("ci95") or last["ci95"][0] is None else
                          f"{last['ci95'][0]:+.1f} to {last['ci95'][1]:+.1f}",
                    "sdc": _f(last.get("sdc95")), "verdict": last.get("verdict", "unknown"),
                    "css": str(last.get("verdict", "unknown")).replace(" ", "-")})
        blocks.append(block)
    dates = [a.date for a in analyses if a.date]
    return {"athlete": athlete, "n": len(analyses), "first": min(dates) if dates else None,
            "last": max(dates) if dates else None, "blocks": blocks}


def key_trend_figure(group: list[SessionAnalysis], results: list, keys: list[str]) -> bytes | None:
    """The protocol's key numbers (hold time, drift, drop, valgus) per session, in date order."""
    if not keys or len(group) < 2:
        return None
    plt = figures.plt
    units = sorted({k.split(" ", 1)[1] if " " in k else k for k in keys})
    fig, axes = plt.subplots(1, len(units), figsize=(min(9, 3.0 * len(units)), 2.8), squeeze=False)
    x = np.arange(len(group))
    for ax, unit in zip(axes[0], units):
        for k in keys:
            if (k.split(" ", 1)[1] if " " in k else k) != unit:
                continue
            side = k.split(" ", 1)[0]
            vals = [np.nan if r is None or r.key.get(k) is None else r.key[k] for r in results]
            ax.plot(x, vals, "o-", color=figures.SIDE_COLOURS.get(side, "#34495e"), label=side, ms=4)
        ax.set_title(unit)
        ax.set_xticks(x, [a.label for a in group], rotation=20, fontsize=7)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return figures._png(fig)


__all__ = ["section", "result_of", "protocol_figure", "trends_context", "key_trend_figure"]
