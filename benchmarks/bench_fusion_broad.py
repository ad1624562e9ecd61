"""Accuracy of every hipmon.fusion filter on the BROAD trials (optical ground truth).

Usage (from the repository root):

    .venv/bin/python benchmarks/bench_fusion_broad.py [--data ../shared/data/broad]
        [--filters vqf,madgwick,mahony:k_P=0.74:k_I=0.0012,...] [--trials 02,07,...]
        [--json out.json] [--naive]

For each filter and trial: RMSE (degrees) over the ``movement`` samples of the
total, heading and inclination errors (BROAD method, ``hipmon.fusion.evaluation``),
and the filter's throughput (samples/s, one core, whole trial in one ``update``).
6D filters: the estimate's heading is aligned to the truth at the first scored
sample, so their total/heading columns show heading drift; inclination is the
headline. Prints a Markdown table (mean over trials, all / undisturbed / disturbed)
and writes per-trial results as JSON.

``--naive`` adds rows for the ahrs filters used the obvious way (the library's
batch constructor with its defaults, output taken as is), to show what the
adapters' trap handling is worth.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from hipmon.fusion import make_filter
from hipmon.fusion.evaluation import BroadTrial, evaluate, load_broad_trial

ALL_FILTERS = ["vqf", "madgwick", "mahony", "ekf", "vqf9d", "madgwick9d", "mahony9d", "ekf9d"]


def naive_ahrs(name: str, t: BroadTrial) -> np.ndarray:
    """The ahrs filters as a first-time user would call them (defaults, output as is)."""
    from ahrs.filters import EKF, Madgwick, Mahony

    cls = {"madgwick": Madgwick, "mahony": Mahony, "ekf": EKF}[name.replace("9d", "")]
    mag = t.mag.copy() if name.endswith("9d") else None
    return cls(gyr=t.gyr.copy(), acc=t.acc.copy(), mag=mag, frequency=t.rate_hz).Q


def parse_spec(spec: str) -> tuple[str, dict]:
    """``"mahony:k_P=0.74:k_I=0.0012"`` -> ``("mahony", {"k_P": 0.74, "k_I": 0.0012})``."""
    name, *pairs = spec.split(":")
    params = {}
    for pair in pairs:
        key, value = pair.split("=")
        params[key] = {"true": True, "false": False}.get(value.lower(), None)
        if params[key] is None:
            params[key] = float(value)
    return name, params


def run(data: Path, filters: list[str], trials: list[str] | None, naive: bool) -> list[dict]:
    paths = sorted(data.glob("*.hdf5"))
    if trials:
        paths = [p for p in paths if any(p.stem.startswith(t) for t in trials)]
    rows = []
    for path in paths:
        t = load_broad_trial(path)
        group = "undisturbed" if "undisturbed" in t.groups else "disturbed"
        names = list(filters) + ([f"naive-{f}" for f in filters if not f.startswith("vqf") and ":" not in f]
                                 if naive else [])
        for name in names:
            t0 = time.perf_counter()
            if name.startswith("naive-"):
                q = naive_ahrs(name[6:], t)
                use_mag = name.endswith("9d")  # naive rows: 9D iff a magnetometer was given
            else:
                base, params = parse_spec(name)
                f = make_filter(base, t.rate_hz, allow_refused=True, **params)
                q = f.update(t.acc, t.gyr, t.mag)
                use_mag = f.use_mag
            elapsed = time.perf_counter() - t0
            r = evaluate(q, t, heading_free=not use_mag)
            row = {"trial": t.name, "group": group, "filter": name, "samples": len(t),
                   "samples_per_s": len(t) / elapsed, **r}
            rows.append(row)
            print(f"{t.name:45s} {name:18s} total {r['total']:7.2f} heading {r['heading']:7.2f} "
                  f"incl {r['inclination']:6.2f}  {row['samples_per_s']:10.0f}/s", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict]) -> str:
    names = list(dict.fromkeys(r["filter"] for r in rows))
    out = [
        "| filter | mode | inclination all | incl. undisturbed | incl. disturbed | total all | heading all "
        "| total undisturbed | total disturbed | samples/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        rs = [r for r in rows if r["filter"] == name]

        def m(key, group=None):
            v = [r[key] for r in rs if group is None or r["group"] == group]
            return float(np.mean(v)) if v else float("nan")

        nine = name.split(":")[0].endswith("9d")
        mode = "9D" if nine else "6D"
        drift = "" if nine else " *"
        out.append(
            f"| {name} | {mode} | {m('inclination'):.2f} | {m('inclination', 'undisturbed'):.2f} | "
            f"{m('inclination', 'disturbed'):.2f} | {m('total'):.2f}{drift} | {m('heading'):.2f}{drift} | "
            f"{m('total', 'undisturbed'):.2f}{drift} | {m('total', 'disturbed'):.2f}{drift} | "
            f"{np.median([r['samples_per_s'] for r in rs]):,.0f} |"
        )
    n_trials = len({r["trial"] for r in rows})
    out.append("")
    out.append(f"Mean over {n_trials} trials of the per-trial RMSE (degrees) over the movement samples; "
               "samples/s is the median over trials of one whole-trial `update` on one core. "
               "* 6D: heading aligned to the truth at the first scored sample (drift, not absolute heading).")
    return "\n".join(out)


def main() -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=here.parent.parent / "shared" / "data" / "broad")
    ap.add_argument("--filters", default=",".join(ALL_FILTERS),
                    help="comma-separated names, each optionally with parameters: mahony:k_P=0.74:k_I=0.0012")
    ap.add_argument("--trials", default="", help="comma-separated trial-name prefixes (default: all)")
    ap.add_argument("--json", type=Path, default=None, help="write per-trial rows here")
    ap.add_argument("--naive", action="store_true", help="also run the ahrs filters with library defaults")
    args = ap.parse_args()
    rows = run(args.data, args.filters.split(","), [t for t in args.trials.split(",") if t], args.naive)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
