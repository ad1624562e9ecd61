"""The report's figures (matplotlib, Agg backend: no display needed), as PNG bytes.

Colours follow the clinical gait-lab convention (Vicon, Noraxon): left red, right green.
Every function takes a ``SessionAnalysis`` (or a comparison) and returns PNG bytes; the
figures are closed after rendering so a long course of sessions does not accumulate them.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")  # before pyplot: never a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hipmon import metric_registry as reg  # noqa: E402

from .model import KIND_NAMES, REPORT_METRICS, SessionAnalysis  # noqa: E402

SIDE_COLOURS = {"left": "#c0392b", "right": "#1e8449", "both": "#34495e"}
DPI = 110
plt.rcParams.update({
    "font.size": 9, "axes.titlesize": 10, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.25, "figure.dpi": DPI, "savefig.dpi": DPI,
})


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _title(metric: str) -> str:
    m = reg.METRICS[metric]
    return f"{m.label} (°)"


def events_over_time(a: SessionAnalysis, kind: str) -> bytes:
    """One panel per metric: every event's peak over session time, per side, with its mean ± SD
    band, and the session's alerts of that kind as vertical lines."""
    fig, axes = plt.subplots(len(REPORT_METRICS), 1, figsize=(9, 1.9 * len(REPORT_METRICS)), sharex=True)
    sides = [s for s in a.sides_of(kind)]
    for ax, metric in zip(np.atleast_1d(axes), REPORT_METRICS):
        for side in sides:
            t, v = a.series(kind, side, metric)
            if not np.isfinite(v).any():
                continue
            c = SIDE_COLOURS.get(side, "k")
            ax.plot(t, v, "o-", ms=3, lw=0.6, color=c, alpha=0.85, label=side)
            b = a.block(kind, side, metric) or {}
            if b.get("mean") is not None:
                ax.axhline(b["mean"], color=c, lw=1.2, ls="--")
                if b.get("sd") is not None:
                    ax.axhspan(b["mean"] - b["sd"], b["mean"] + b["sd"], color=c, alpha=0.08)
        for al in a.alerts:
            if al.event is not None and al.event.kind == kind and metric in al.values:
                ax.axvline(al.time_s, color=SIDE_COLOURS.get(al.side, "k"), lw=0.8, ls=":")
        ax.set_ylabel(_title(metric))
    ax0 = np.atleast_1d(axes)[0]
    ax0.set_title(f"Every {KIND_NAMES.get(kind, kind)} over the session (dashed: mean, band: ± SD, dotted: alerts)")
    if sides:
        ax0.legend(loc="upper left", ncol=len(sides), fontsize=8, frameon=False)
    np.atleast_1d(axes)[-1].set_xlabel("session time (s)")
    fig.tight_layout()
    return _png(fig)


def normalised_curves(a: SessionAnalysis, kind: str) -> bytes:
    """2 × 2 panels: each metric's trace over 0-100 % of the event, mean ± SD band per side."""
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.6))
    x = np.linspace(0, 100, 101)
    for ax, metric in zip(axes.ravel(), REPORT_METRICS):
        for side in a.sides_of(kind):
            if side not in ("left", "right"):
                continue
            curves = a.normalised(kind, side, metric)
            if len(curves) == 0:
                continue
            c = SIDE_COLOURS[side]
            mean = np.nanmean(curves, axis=0)
            ax.plot(x, mean, color=c, lw=1.6, label=f"{side} (n={len(curves)})")
            if len(curves) > 1:
                sd = np.nanstd(curves, axis=0, ddof=1)
                ax.fill_between(x, mean - sd, mean + sd, color=c, alpha=0.18, lw=0)
        ax.set_title(_title(metric))
        ax.set_xlim(0, 100)
        ax.legend(fontsize=7, frameon=False, loc="best")
    for ax in axes[-1]:
        ax.set_xlabel(f"% of the {KIND_NAMES.get(kind, kind)}")
    fig.suptitle(f"{KIND_NAMES.get(kind, kind).capitalize()}-normalised curves: mean ± SD", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def alert_timeline(a: SessionAnalysis) -> bytes:
    """The session's events as ticks per side, and each alert as a marker on its rule's row."""
    rules = [r.name for r in (a.rules.rules if a.rules is not None else ())] or sorted({al.rule for al in a.alerts})
    rows = [(r, s) for r in rules for s in ("left", "right")]
    fig, ax = plt.subplots(figsize=(9, 0.45 * (len(rows) + 2) + 0.6))
    y_ev = len(rows)
    for s, dy in (("left", 0.15), ("right", -0.15)):
        ts = [0.5 * (e.start_s + e.end_s) for e in a.events if e.side == s and e.kind in a.kinds]
        ax.plot(ts, np.full(len(ts), y_ev + dy), "|", color=SIDE_COLOURS[s], ms=7, alpha=0.6)
    for i, (r, s) in enumerate(rows):
        ts = [al.time_s for al in a.alerts if al.rule == r and al.side == s]
        ax.plot(ts, np.full(len(ts), i), "v", color=SIDE_COLOURS[s], ms=9)
    ax.set_yticks(range(len(rows) + 1), [f"{r} · {s}" for r, s in rows] + ["events (left/right)"])
    t = a.time_s
    if len(t):
        ax.set_xlim(float(t[0]), float(t[-1]))
    ax.set_ylim(-0.7, len(rows) + 0.7)
    ax.set_xlabel("session time (s)")
    ax.set_title("Alerts on the session timeline" + ("" if a.alerts else " (none raised)"))
    fig.tight_layout()
    return _png(fig)


def change_forest(changes: list, title: str) -> bytes:
    """Each metric's change (follow-up − baseline) per side with its 95 % CI; the grey band is
    ± the smallest detectable change of that row."""
    rows = [c for c in changes if c.change is not None]
    fig, ax = plt.subplots(figsize=(9, 0.42 * max(len(rows), 1) + 1.1))
    for i, c in enumerate(rows):
        y = len(rows) - 1 - i
        if c.sdc95 is not None:
            ax.fill_between([-c.sdc95, c.sdc95], y - 0.35, y + 0.35, color="0.85", lw=0)
        lo, hi = c.ci95
        col = SIDE_COLOURS.get(c.side, "k")
        if lo is not None:
            ax.plot([lo, hi], [y, y], color=col, lw=2)
        ax.plot([c.change], [y], "o", color=col, ms=7, mfc=col if c.detected else "white")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(rows)), [f"{reg.METRICS[c.metric].label} · {c.side}" for c in reversed(rows)])
    ax.set_xlabel("change (°): negative = less than at baseline (better)")
    lim = max([abs(v) for c in rows for v in (c.ci95[0], c.ci95[1], c.change, c.sdc95) if v is not None] + [1.0])
    ax.set_xlim(-1.1 * lim, 1.1 * lim)
    ax.set_title(title + "  (bar: 95 % CI; grey: ± smallest detectable change; filled: detected)")
    fig.tight_layout()
    return _png(fig)


def course_trend(analyses: list, kind: str) -> bytes:
    """A course of sessions: each metric's session mean ± 95 % CI of the mean per side, in date order."""
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.2))
    x = np.arange(len(analyses))
    for ax, metric in zip(axes.ravel(), REPORT_METRICS):
        for side, dx in (("left", -0.06), ("right", 0.06)):
            m, e = [], []
            for a in analyses:
                b = a.block(kind, side, metric) or {}
                m.append(np.nan if b.get("mean") is None else b["mean"])
                sd, n = b.get("sd"), b.get("n") or 0
                e.append(np.nan if sd is None or n < 2 else 1.96 * sd / math.sqrt(n))
            ax.errorbar(x + dx, m, yerr=e, fmt="o-", color=SIDE_COLOURS[side], ms=4, capsize=3, label=side)
        ax.set_title(_title(metric))
        ax.set_xticks(x, [a.label for a in analyses], rotation=20, fontsize=7)
    axes[0, 0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _png(fig)
