"""The report as one self-contained HTML file (jinja2 template, figures as base64 PNG) and as PDF.

PDF: the same HTML printed by headless Chromium (``--print-to-pdf``) from a local file.
Chosen over matplotlib's PdfPages because it is one layout for both formats (the tables and
sentences would need a second layout in matplotlib), and it needs no network: the HTML holds
every image and style inline, and Chromium reads it from disk.
"""

from __future__ import annotations

import base64
import math
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from hipmon import metric_registry as reg

from . import figures
from .comparison import Comparison, change_sentence, compare_pair, sentences
from .model import KIND_NAMES, PROTOCOL_NAMES, REPORT_METRICS, SessionAnalysis, calibration_text
from .stats import REMOUNT_SD_DEG, session_sd_deg, symmetry

if TYPE_CHECKING:
    from hipmon.alerts import Rules

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


class ReportError(Exception):
    """A report cannot be made (e.g. no Chromium for a PDF); the message is one line."""


def _fmt(x: Any, nd: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{nd}f}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def _kind_block(a: SessionAnalysis, kind: str) -> dict:
    from hipmon import uncertainty as unc

    sides = a.sides_of(kind)
    k = a.summary["kinds"][kind]
    has_lr = "left" in sides and "right" in sides
    rows = []
    for metric in REPORT_METRICS:
        cells = []
        for side in sides:
            b = a.block(kind, side, metric) or {}
            tr = b.get("trend") or {}
            star = "*" if tr.get("significant") else ""
            cells.append({"n": b.get("n", 0), "mean_sd": f"{_fmt(b.get('mean'))} ± {_fmt(b.get('sd'))}",
                          "trend": f"{_fmt(tr.get('slope_per_min'), 2)}{star}"})
        row = {"label": reg.METRICS[metric].label, "cells": cells, "lr": "—", "si": "—"}
        if has_lr:
            lm = (a.block(kind, "left", metric) or {}).get("mean")
            rm = (a.block(kind, "right", metric) or {}).get("mean")
            diff, si = symmetry(lm, rm)
            err = (k.get("asymmetry_uncertainty_deg") or {}).get(metric)
            row["lr"] = _fmt(diff) + (f" ± {err:.1f}" if err is not None and diff is not None else "")
            row["si"] = "—" if si is None else f"{si:+.0f} %"
        rows.append(row)
    parts = [f"{reg.METRICS[m].label} ±{unc.per_event_deg(m, kind):.1f}°" for m in REPORT_METRICS
             if unc.per_event_deg(m, kind) is not None]
    counts = ", ".join(f"{s} {k['sides'][s]['count']}" for s in sides)
    return {
        "kind": kind, "noun": KIND_NAMES.get(kind, kind),
        "title": f"Per side: every {KIND_NAMES.get(kind, kind)} ({counts})",
        "sides": sides, "has_lr": has_lr, "rows": rows,
        "uncertainty": ", ".join(parts) if parts else f"not measured for {KIND_NAMES.get(kind, kind)}s yet (walking stances only)",
        "fig_events": _b64(figures.events_over_time(a, kind)),
        "fig_curves": _b64(figures.normalised_curves(a, kind)),
    }


def _alert_rows(a: SessionAnalysis) -> list[dict]:
    out = []
    for al in a.alerts:
        vals, lims, how = [], [], []
        for key, v in (al.values or {}).items():
            if key in reg.METRICS:
                lim = al.values.get(f"{key}_limit")
                base = al.values.get(f"{key}_baseline")
                name = reg.METRICS[key].short
                vals.append(f"{name} {_fmt(v)}")
                lims.append(f"{name} {_fmt(lim)}")
                if base is not None and isinstance(base, float) and math.isfinite(base):
                    how.append(f"baseline {base:.1f} + margin")
                else:
                    how.append("absolute screening cue")
        out.append({"time_s": al.time_s, "rule": al.rule, "side": al.side, "kind": al.event.kind if al.event is not None else "",
                    "value": "; ".join(vals), "limits": "; ".join(lims), "how": "; ".join(sorted(set(how)))})
    return out


def _rule_rows(rules: Rules | None) -> list[dict]:
    out = []
    for r in (rules.rules if rules is not None else ()):
        lim = "; ".join(f"{reg.METRICS[c.metric].short} > baseline + {c.above_baseline_deg:.1f}°"
                        + (f" (before a baseline: > {c.absolute_deg:.1f}°)" if c.absolute_deg is not None else "")
                        for c in r.conditions)
        deb = ", ".join(f"{k} {kn[0]} of {kn[1]}" for k, kn in dict(r.debounce).items())
        out.append({"name": r.name, "description": r.description, "limit": lim, "debounce": deb or "1 of 1"})
    return out


def plain_session(a: SessionAnalysis) -> list[str]:
    """A few sentences on one session: side differences beyond their real-world error, trends, alerts."""
    from hipmon import uncertainty as unc

    out = []
    if a.calibration is None or not a.calibration.get("trusted"):
        out.append("The calibration is not trusted: read its reasons above before the numbers below.")
    for kind in a.kinds:
        noun = KIND_NAMES.get(kind, kind)
        for metric in REPORT_METRICS:
            lm = (a.block(kind, "left", metric) or {}).get("mean")
            rm = (a.block(kind, "right", metric) or {}).get("mean")
            if lm is None or rm is None:
                continue
            err = unc.asymmetry_deg(metric, "stance") or 1.0
            limit = max(2.0, 2 * err)
            if abs(lm - rm) >= limit:
                worse = "right" if rm > lm else "left"
                out.append(f"{_cap(reg.METRICS[metric].label)}: {abs(lm - rm):.1f}° more on the {worse} side "
                           f"({noun}s: left {lm:.1f}°, right {rm:.1f}°).")
            for side, mean in (("left", lm), ("right", rm)):
                tr = (a.block(kind, side, metric) or {}).get("trend") or {}
                if tr.get("significant") and (tr.get("change") or 0) >= 1.0:
                    out.append(f"{_cap(reg.METRICS[metric].label)} on the {side} grew by {tr['change']:.1f}° "
                               f"over the session ({tr['slope_per_min']:.1f}° per minute): a sign of fatigue.")
    rules = sorted({(al.rule, al.side) for al in a.alerts})
    if rules:
        out.append("Alerts: " + ", ".join(f"{r} on the {s}" for r, s in rules) + " (see the alert section).")
    if len(out) == (0 if a.calibration and a.calibration.get("trusted") else 1):
        out.append("Left and right look alike within what the sensors can tell apart, and nothing changed "
                   "during the session.")
    return out


def render_html(a: SessionAnalysis, baseline: SessionAnalysis | None = None,
                step: Callable[[str], None] | None = None) -> str:
    """The report's HTML text (self-contained)."""
    import jinja2

    from hipmon import __version__
    from hipmon import uncertainty as unc

    from .protocol_section import section as protocol_section

    step = step or (lambda _t: None)
    step("protocol result")
    proto = protocol_section(a)
    kinds = []
    for kind in a.kinds:
        step(f"figures: {KIND_NAMES.get(kind, kind)}s")
        kinds.append(_kind_block(a, kind))
    step("figures: alerts")
    ctx: dict[str, Any] = {
        "s": a, "version": __version__, "fmt": _fmt, "kinds": kinds,
        "protocol_name": PROTOCOL_NAMES.get(a.protocol, a.protocol),
        "counts": ", ".join(f"{KIND_NAMES.get(k, k)}s: " + ", ".join(
            f"{s} {b['count']}" for s, b in a.summary["kinds"][k]["sides"].items()) for k in a.kinds) or "none",
        "calibration_text": calibration_text(a.calibration),
        "plain": plain_session(a),
        "fig_alerts": _b64(figures.alert_timeline(a)),
        "alerts": _alert_rows(a), "rules": _rule_rows(a.rules),
        "metric_defs": [reg.METRICS[m] for m in REPORT_METRICS],
        "uncertainty_source": unc.SOURCE,
        "sigma_text": ", ".join(f"{reg.METRICS[m].label} {session_sd_deg(m)[0]:.2f}°" for m in REPORT_METRICS
                                if session_sd_deg(m)[0] is not None),
        "b": None, "proto": proto, "sec0": 3 if proto is not None else 2,
    }
    n_fig = 2 * len(kinds) + 1 + (1 if proto is not None and proto["fig"] else 0)
    if baseline is not None:
        step("comparison with the baseline")
        comp: Comparison = compare_pair(baseline, a)
        ctx["b"] = baseline
        baseline.calibration_word = ("trusted" if baseline.calibration and baseline.calibration.get("trusted")
                                     else "NOT trusted")
        ctx["baseline_plain"] = sentences(comp)
        ctx["changes"] = [{
            "kind": KIND_NAMES.get(c.kind, c.kind), "label": reg.METRICS[c.metric].label, "side": c.side,
            "base": f"{_fmt(c.mean_a)} ± {_fmt((baseline.block(c.kind, c.side, c.metric) or {}).get('sd'))} ({c.n_a})",
            "now": f"{_fmt(c.mean_b)} ± {_fmt((a.block(c.kind, c.side, c.metric) or {}).get('sd'))} ({c.n_b})",
            "change": "—" if c.change is None else f"{c.change:+.1f}",
            "ci": "—" if c.ci95[0] is None else f"{c.ci95[0]:+.1f} to {c.ci95[1]:+.1f}",
            "sdc": _fmt(c.sdc95), "verdict": c.verdict, "css": c.verdict.replace(" ", "-"),
        } for c in comp.changes]
        ctx["fig_change"] = _b64(figures.change_forest(comp.changes, "Change since the baseline"))
        n_fig += 1
    ctx["n_figures"] = n_fig
    ctx["css"] = resources.files("hipmon.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    env = jinja2.Environment(loader=jinja2.PackageLoader("hipmon.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(**ctx)


# ---------------------------------------------------------------- files


def render_trends_html(ctx: dict) -> str:
    """The athlete's trends report (``hipmon report --athlete``): ``protocol_section.trends_context``."""
    import jinja2

    from hipmon import __version__

    css = resources.files("hipmon.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    env = jinja2.Environment(loader=jinja2.PackageLoader("hipmon.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    n_fig = sum(len(b["figs"]) for b in ctx["blocks"])
    return env.get_template("trends.html.j2").render(css=css, version=__version__, n_figures=n_fig, **ctx)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary beside it (nothing half-written)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def find_chromium() -> str | None:
    """A headless-capable Chromium/Chrome on PATH (``HIPMON_CHROMIUM`` overrides), or None."""
    env = os.environ.get("HIPMON_CHROMIUM")
    if env:
        return env if shutil.which(env) else None
    for name in CHROMIUM_NAMES:
        p = shutil.which(name)
        if p:
            return p
    return None


def chromium_command(chromium: str, *args: str) -> list[str]:
    """Headless Chromium with the flags a container and a CI need (no sandbox as root, no GPU, no network fetches)."""
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
            "--allow-file-access-from-files", *args]


def html_to_pdf(html_path: str | Path, pdf_path: str | Path, timeout_s: float = 120.0) -> None:
    """Print a local HTML file to PDF with headless Chromium (``ReportError`` without one)."""
    chromium = find_chromium()
    if chromium is None:
        raise ReportError("a PDF needs Chromium (apt-get install chromium) to print the HTML report; "
                          "write -o REPORT.html instead, or set HIPMON_CHROMIUM")
    with tempfile.TemporaryDirectory(prefix="hipmon-chromium-") as profile:
        cmd = chromium_command(chromium, f"--user-data-dir={profile}", "--no-pdf-header-footer",
                               "--virtual-time-budget=10000", f"--print-to-pdf={pdf_path}",
                               Path(html_path).resolve().as_uri())
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise ReportError(f"Chromium did not print the PDF within {timeout_s:.0f} s") from None
    if proc.returncode != 0 or not Path(pdf_path).exists() or Path(pdf_path).stat().st_size == 0:
        last = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise ReportError(f"Chromium could not print the PDF (exit {proc.returncode}: {last[0]})")


def write_report(html: str, out: str | Path) -> None:
    """Write ``html`` as ``out``: ``.html``/``.htm`` as it is, ``.pdf`` printed by Chromium (atomic)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix in (".html", ".htm"):
        write_atomic(out, html.encode("utf-8"))
        return
    if suffix != ".pdf":
        raise ReportError(f"{out}: the report is .html or .pdf, not {suffix or 'no extension'}")
    with tempfile.TemporaryDirectory(prefix="hipmon-report-") as tmp:
        src = Path(tmp) / "report.html"
        src.write_text(html, encoding="utf-8")
        pdf = Path(tmp) / "report.pdf"
        html_to_pdf(src, pdf)
        write_atomic(out, pdf.read_bytes())


__all__ = ["render_html", "render_trends_html", "write_report", "html_to_pdf", "find_chromium", "chromium_command", "ReportError",
           "REMOUNT_SD_DEG", "change_sentence", "plain_session"]
