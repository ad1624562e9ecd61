"""``hipmon report`` and ``hipmon compare``: CPU time per sample report, the simulated re-mount
spread behind the smallest detectable change, the soft-tissue check of a 3° change, and the
docs' screenshots. Results go to docs/report.md (timing stays out of the tests).

    python benchmarks/bench_report.py                # CPU s per sample report (HTML, and PDF)
    python benchmarks/bench_report.py --remount      # REMOUNT_SD_DEG of hipmon.report.stats (~1 min)
    python benchmarks/bench_report.py --pair         # the simulated 3° pair, rigid and soft-tissue straps
    python benchmarks/bench_report.py --screenshots  # docs/img/report-*.png (needs chromium, pdftoppm)

CPU time is the ``hipmon report`` process's own (user + system, imports included), measured
with ``resource.getrusage(RUSAGE_CHILDREN)``; for a PDF it includes Chromium's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "recordings").glob("*.hipmon"))
METRICS = ("peak_pelvic_drop_deg", "peak_hip_adduction_deg", "peak_hip_internal_rotation_deg", "peak_valgus_composite_deg")


def _cpu_of(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    import time

    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def bench_cpu(repeats: int = 2, pdf: bool = True) -> None:
    print("| recording | HTML: CPU s | wall s | PDF: CPU s (incl. Chromium) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for rec in SAMPLES:
            runs = [_cpu_of([sys.executable, "-m", "hipmon", "report", str(rec), "-o", f"{tmp}/r.html"])
                    for _ in range(repeats)]
            cpu = min(r[0] for r in runs)
            wall = min(r[1] for r in runs)
            p = "-"
            if pdf:
                p = f"{_cpu_of([sys.executable, '-m', 'hipmon', 'report', str(rec), '-o', f'{tmp}/r.pdf'])[0]:.1f}"
            print(f"| `{rec.name}` | {cpu:.1f} | {wall:.1f} | {p} |", flush=True)


def _session(tmp: Path, name: str, seed: int, seconds: float = 45, **opts):
    from hipmon.cli import main
    from hipmon.simulate import simulate

    sim = simulate("run", seconds, seed=seed, **opts)
    d = sim.write_dir(tmp / name)
    out = tmp / f"{name}.hipmon"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["import", "--pelvis", str(d / "pelvis.csv"), "--left-thigh", str(d / "left_thigh.csv"),
                     "--right-thigh", str(d / "right_thigh.csv"), "--athlete", "sim", "-o", str(out)]) == 0
    return sim, out


def _true_means(sim) -> dict:
    from hipmon.metrics import event_peaks

    out = {}
    for side in ("left", "right"):
        evs = [e for e in sim.events if e.kind == "stance" and e.side == side]
        peaks = [event_peaks(sim.truth_time_s, sim.truth_angles_deg, side, e.start_s, e.end_s) for e in evs]
        for m in METRICS:
            out[(side, m)] = float(np.mean([p[m] for p in peaks]))
    return out


def bench_remount(seeds=range(20, 32)) -> None:
    """Per-session error of the session mean (measured - true) over simulated sessions, each a new
    mounting, sensor errors and soft-tissue draw; its SD, with the stride-sampling SE taken out."""
    from hipmon.report.model import analyse_session

    errs = {m: [] for m in METRICS}
    se2 = {m: [] for m in METRICS}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            sim, path = _session(Path(tmp), f"s{seed}", seed)
            truth = _true_means(sim)
            a = analyse_session(str(path))
            for side in ("left", "right"):
                for m in METRICS:
                    b = a.block("stance", side, m)
                    errs[m].append((side, b["mean"] - truth[(side, m)]))
                    se2[m].append(b["sd"] ** 2 / b["n"])
            print(f"seed {seed}: " + ", ".join(f"{m[5:12]} {errs[m][-2][1]:+.2f}/{errs[m][-1][1]:+.2f}" for m in METRICS),
                  flush=True)
    print("\n| metric | mean error of a session mean (deg) | SD between sessions | stride SE | re-mount SD |")
    print("|---|---|---|---|---|")
    for m in METRICS:
        var = np.mean([np.var([e for s, e in errs[m] if s == side], ddof=1) for side in ("left", "right")])
        se = float(np.mean(se2[m]))
        print(f"| {m} | {np.mean([e for _, e in errs[m]]):+.2f} | {np.sqrt(var):.2f} | {np.sqrt(se):.2f} | "
              f"{np.sqrt(max(var - se, 0.0)):.2f} |")


def bench_pair(seeds=(1, 2, 3)) -> None:
    """The test's pair (right-stance drop 8° then 5°), rigid and soft-tissue straps, new seed for the follow-up."""
    from hipmon.report.comparison import compare_pair
    from hipmon.report.model import analyse_session

    print("| straps | seed | true change R / L | measured R [95 % CI] | SDC | verdict R | measured L | verdict L |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for tissue in (False, True):
            for seed in seeds:
                s0, p0 = _session(Path(tmp), f"b{seed}{tissue}", seed, right_drop_deg=8.0, soft_tissue=tissue)
                s1, p1 = _session(Path(tmp), f"f{seed}{tissue}", seed + 100, right_drop_deg=5.0, soft_tissue=tissue)
                t0, t1 = _true_means(s0), _true_means(s1)
                comp = compare_pair(analyse_session(str(p0)), analyse_session(str(p1)))
                r = comp.get("stance", "right", METRICS[0])
                left = comp.get("stance", "left", METRICS[0])
                tr = t1[("right", METRICS[0])] - t0[("right", METRICS[0])]
                tl = t1[("left", METRICS[0])] - t0[("left", METRICS[0])]
                print(f"| {'soft tissue' if tissue else 'rigid'} | {seed} | {tr:+.2f} / {tl:+.2f} | {r.change:+.2f} "
                      f"[{r.ci95[0]:+.2f}, {r.ci95[1]:+.2f}] | {r.sdc95:.2f} | {r.verdict} | {left.change:+.2f} | "
                      f"{left.verdict} |", flush=True)


def _crop_pages(png: Path, out_prefix: Path, height: int, pages: int) -> list[Path]:
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    im = mpimg.imread(str(png))
    rows = np.where(im[..., :3].min(axis=(1, 2)) < 0.95)[0]
    im = im[: (rows[-1] + 40 if len(rows) else im.shape[0])]
    out = []
    for i in range(pages):
        part = im[i * height:(i + 1) * height]
        if part.shape[0] < 50:
            break
        p = Path(f"{out_prefix}-{i + 1}.png")
        plt.imsave(p, part)
        out.append(p)
    return out


def screenshots() -> None:
    from hipmon.report.render import chromium_command, find_chromium

    chromium = find_chromium()
    img = ROOT / "docs" / "img"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        jobs = [("run", [str(ROOT / "recordings" / "run_right_hip_tires.hipmon")])]
        _, b = _session(tmp, "baseline", 1, right_drop_deg=8.0, soft_tissue=False)
        _, f = _session(tmp, "followup", 101, right_drop_deg=5.0, soft_tissue=False)
        jobs.append(("baseline", [str(f), "--baseline", str(b)]))
        for name, args in jobs:
            html = tmp / f"{name}.html"
            subprocess.run([sys.executable, "-m", "hipmon", "report", *args, "-o", str(html)], check=True)
            png = tmp / f"{name}.png"
            subprocess.run(chromium_command(chromium, f"--user-data-dir={tmp / 'prof'}", "--window-size=1100,7000",
                                            f"--screenshot={png}", html.resolve().as_uri()),
                           check=True, capture_output=True)
            for p in _crop_pages(png, img / f"report-{name}", 1500, 5):
                print("wrote", p.relative_to(ROOT))
        pdf = tmp / "baseline.pdf"
        subprocess.run([sys.executable, "-m", "hipmon", "report", str(f), "--baseline", str(b), "-o", str(pdf)], check=True)
        subprocess.run(["pdftoppm", "-r", "70", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp / "pdf")], check=True)
        page = next(tmp.glob("pdf-*1.png"))
        (img / "report-pdf-page1.png").write_bytes(page.read_bytes())
        print("wrote docs/img/report-pdf-page1.png")
        out = subprocess.run([sys.executable, "-m", "hipmon", "compare", str(b), str(f)], check=True,
                             capture_output=True, text=True).stdout
        print(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--remount", action="store_true")
    ap.add_argument("--pair", action="store_true")
    ap.add_argument("--screenshots", action="store_true")
    ap.add_argument("--no-pdf", action="store_true")
    a = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if a.remount:
        bench_remount()
    elif a.pair:
        bench_pair()
    elif a.screenshots:
        screenshots()
    else:
        bench_cpu(pdf=not a.no_pdf)
