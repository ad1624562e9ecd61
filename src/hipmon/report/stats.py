"""Between-session change of a metric, its 95 % confidence interval and the smallest detectable change.

For one metric, kind and side, sessions A (earlier) and B (later), each with the mean
``m`` of its ``n`` per-event peaks and their SD ``s``::

    change            d       = m_B - m_A                                   (deg)
    stride part       SE_i    = s_i / sqrt(n_i)                             (each session's mean)
    session part      sigma   = max(|peak bias| (real world), re-mount SD (simulated))
    standard error    SE_d    = sqrt(SE_A^2 + SE_B^2 + 2 sigma^2)
    95 % CI           d ± t(0.975, df) SE_d   (df: Welch-Satterthwaite of the whole sum,
                                               the session part counted as known)
    smallest detectable change  SDC95 = t(0.975, df) SE_d

A change is *detected* when ``|d| > SDC95``, i.e. when its 95 % interval excludes zero.
That is the clinical MDC95 (1.96 * sqrt(2) * SEM) with this session pair's own stride
spread in place of a group SEM, plus the part that averaging strides cannot remove:
``sigma``, the offset a session's placement and calibration put on its mean, which a new
placement changes. Two estimates of it exist and the larger is used (both estimate the
same thing, so they are not added):

- the real-world per-stance peak bias against optical markers (``hipmon.uncertainty``,
  one subject, one walk; RMS of the two sides), the offset one placement carried;
- ``REMOUNT_SD_DEG``: the spread of the session-mean error over simulated sessions of the
  same kind of athlete, each with new sensor mountings, sensor errors and soft-tissue
  motion (``benchmarks/bench_report.py --remount``; docs/report.md).

With fewer than two events on a side there is no spread: the SE of that session's mean is
then unknown and so is the change's interval (reported as such, never as zero).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from hipmon import metric_registry as reg

#: Between-session SD (deg) of a session mean's error, simulated re-mounting: running stances,
#: 45 s runs, 12 simulated sessions (seeds 20-31), each with new mountings, sensor errors and
#: soft-tissue draws, through import + the pipeline; the stride-sampling SE taken out.
#: Measured with ``benchmarks/bench_report.py --remount`` (docs/report.md, "Smallest detectable change").
REMOUNT_SD_DEG: dict[str, float] = {
    "peak_pelvic_drop_deg": 0.29,
    "peak_hip_adduction_deg": 1.14,
    "peak_hip_internal_rotation_deg": 1.43,
    "peak_valgus_composite_deg": 1.34,
}
REMOUNT_SOURCE = "simulated re-mounting (12 runs, new straps each; benchmarks/bench_report.py --remount)"

#: Lower is better for every reported metric: less pelvic drop, adduction, internal rotation, valgus.
LOWER_IS_BETTER = True


def real_world_bias_deg(metric: str) -> float | None:
    """RMS over sides of the real-world per-stance peak bias of ``metric`` (``hipmon.uncertainty``);
    the composite (adduction + IR) combines its two angles' biases (root sum of squares)."""
    from hipmon import uncertainty as unc

    m = reg.METRICS[metric]
    angles = [m.angle] if m.angle else [reg.METRICS[n].angle for n in reg.EVENT_FIELD_METRICS
                                        if reg.METRICS[n].traces[0] in m.traces]
    total = 0.0
    for a in angles:
        row = unc.REAL_WORLD.get(a) if a else None
        if row is None or not row.peak_bias:
            return None
        total += sum(b * b for b in row.peak_bias) / len(row.peak_bias)
    return math.sqrt(total)


def session_sd_deg(metric: str) -> tuple[float | None, str]:
    """``sigma`` of the module docstring for ``metric``, and where it comes from."""
    rw = real_world_bias_deg(metric)
    sim = REMOUNT_SD_DEG.get(metric)
    cands = [(v, s) for v, s in ((rw, "real-world peak bias (hipmon.uncertainty)"), (sim, REMOUNT_SOURCE))
             if v is not None]
    if not cands:
        return None, "not measured"
    return max(cands)


def _t975(df: float) -> float:
    from scipy.special import stdtrit  # Student's t quantile (what scipy.stats.t.ppf calls; a lighter import)

    if not math.isfinite(df) or df > 1e6:
        return 1.959963984540054
    return float(stdtrit(max(df, 1.0), 0.975))


@dataclass(frozen=True)
class Change:
    """One metric's change between two sessions (deg). ``verdict``: ``better``, ``worse``,
    ``no change`` (within the SDC) or ``unknown`` (a side with fewer than two events)."""

    metric: str
    kind: str
    side: str
    mean_a: float | None
    mean_b: float | None
    n_a: int
    n_b: int
    change: float | None
    ci95: tuple[float | None, float | None]
    sdc95: float | None
    se_stride_a: float | None
    se_stride_b: float | None
    session_sd: float | None
    verdict: str

    @property
    def detected(self) -> bool:
        return self.verdict in ("better", "worse")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d


def _se(sd: float | None, n: int) -> float | None:
    if sd is None or n < 2 or not math.isfinite(sd):
        return None
    return sd / math.sqrt(n)


def change_between(metric: str, kind: str, side: str, a: dict | None, b: dict | None,
                   same_session: bool = False) -> Change:
    """The change of ``metric`` from summary block ``a`` to ``b`` (``{"mean", "sd", "n"}``, as in
    ``hipmon.metrics.summarize_events``; None when a session has no such events).
    ``same_session``: ``a`` and ``b`` are parts of one session (conditions split at its markers):
    the sensors were not re-mounted nor re-calibrated, so the session offset ``sigma`` cancels (0)."""
    a = a or {}
    b = b or {}
    ma, mb = a.get("mean"), b.get("mean")
    na, nb = int(a.get("n") or 0), int(b.get("n") or 0)
    sigma, _src = (0.0, "same session") if same_session else session_sd_deg(metric)
    sea, seb = _se(a.get("sd"), na), _se(b.get("sd"), nb)
    if ma is None or mb is None:
        return Change(metric, kind, side, ma, mb, na, nb, None, (None, None), None, sea, seb, sigma, "unknown")
    d = mb - ma
    if sea is None or seb is None:
        return Change(metric, kind, side, ma, mb, na, nb, d, (None, None), None, sea, seb, sigma, "unknown")
    sys2 = 2.0 * (sigma or 0.0) ** 2
    var = sea**2 + seb**2 + sys2
    # Welch-Satterthwaite; the session part has no sampling error of its own (a fixed figure)
    denom = sea**4 / (na - 1) + seb**4 / (nb - 1)
    df = var**2 / denom if denom > 0 else math.inf
    half = _t975(df) * math.sqrt(var)
    if abs(d) > half:
        verdict = "better" if (d < 0) == LOWER_IS_BETTER else "worse"
    else:
        verdict = "no change"
    return Change(metric, kind, side, ma, mb, na, nb, d, (d - half, d + half), half, sea, seb, sigma, verdict)


def symmetry(left: float | None, right: float | None, min_deg: float = 5.0) -> tuple[float | None, float | None]:
    """(left - right in degrees, symmetry index in %).

    The difference in degrees is the primary number (the angles pass through zero, and a
    ratio of two small angles says nothing). The percentage index of Robinson et al. (1987),
    ``SI = 100 (L - R) / ((L + R) / 2)``, is given only when both means are at least
    ``min_deg`` (5°: above the per-stance real-world error of every metric but IR, so the
    denominator is a movement, not noise); otherwise None.
    """
    if left is None or right is None:
        return None, None
    diff = left - right
    if left >= min_deg and right >= min_deg:
        return diff, 100.0 * diff / (0.5 * (left + right))
    return diff, None
