"""Events and alerts on simulated sessions: detection rates, timing, peak errors, alert agreement, speed.

Run: ``.venv/bin/python benchmarks/bench_events.py`` (about a minute). Frames
come from the simulator truth with pipeline-sized angle offsets and noise
(``hipmon.events.frames_from_simulation``); results go to docs/accuracy.md,
section "Events and alerts on simulated sessions".
"""

from __future__ import annotations

import time

import numpy as np

from hipmon.alerts import AlertEngine, alert_labels, load_rules
from hipmon.events import EventDetector, detect_events, frames_from_simulation, match_events
from hipmon.simulate import simulate

BIAS = np.array([1.0, 0.6, -1.0, 1.5, 0.8, 2.0, -1.5, -0.8, -2.0])
PEAKS = ("peak_pelvic_drop_deg", "peak_hip_adduction_deg", "peak_hip_internal_rotation_deg")
CASES = [
    ("run 2.5 m/s", "run", 120, {"speed_mps": 2.5}, "stance"),
    ("run 3.3 m/s", "run", 120, {}, "stance"),
    ("run 5.0 m/s", "run", 120, {"speed_mps": 5.0}, "stance"),
    ("walk 1.3 m/s", "walk", 60, {}, "stance"),
    ("drop vertical jump", "jump", 60, {}, "landing"),
    ("single-leg hops", "jump", 60, {"jump_style": "hop"}, "landing"),
    ("single-leg squat", "squat", 60, {}, "rep"),
    ("single-leg stance", "stance", 60, {}, "hold"),
]


def one(name, kind, seconds, opts, ev_kind, seed=1):
    sim = simulate(kind, seconds, seed=seed, **opts)
    frames = frames_from_simulation(sim, angle_bias_deg=BIAS, angle_noise_deg=0.4, seed=seed)
    t0 = time.perf_counter()
    det = detect_events(frames)
    wall = time.perf_counter() - t0
    truth = [e for e in sim.events if e.kind == ev_kind]
    d = [e for e in det if e.kind == ev_kind]
    tol = 0.1 if ev_kind in ("stance", "landing") else 0.6
    pairs = match_events(d, truth, tol_s=tol)
    ic = np.array([d[i].start_s - truth[j].start_s for i, j in pairs])
    to = np.array([d[i].end_s - truth[j].end_s for i, j in pairs])
    err = {f: np.array([getattr(d[i], f) - getattr(truth[j], f) for i, j in pairs]) for f in PEAKS}
    lat = np.array([d[i].extra["detected_s"] - d[i].end_s for i, _ in pairs])
    other = len([e for e in det if e.kind != ev_kind])
    return {
        "name": name, "truth": len(truth), "found": len(pairs), "false": len(d) - len(pairs), "other": other,
        "ic_ms": 1e3 * np.median(np.abs(ic)) if ic.size else np.nan,
        "end_ms": 1e3 * np.median(np.abs(to)) if to.size else np.nan,
        "p95": {f: np.percentile(np.abs(v), 95) if v.size else np.nan for f, v in err.items()},
        "lat_ms": 1e3 * lat.max() if lat.size else np.nan,
        "x_realtime": seconds / wall,
    }


def alerts_case(seed=7):
    sim = simulate("run", 120, seed=seed, preset="right_hip_tires")
    frames = frames_from_simulation(sim, angle_bias_deg=BIAS, angle_noise_deg=0.4, seed=seed)
    rules = load_rules()
    truth = [e for e in sim.events if e.kind == "stance"]
    det = [e for e in detect_events(frames) if e.kind == "stance"]
    tl, dl = alert_labels(truth, rules), alert_labels(det, rules)
    pairs = match_events(det, truth, tol_s=0.1)
    agree = np.mean([dl[i] == tl[j] for i, j in pairs])
    detector, engine, alerts = EventDetector(), AlertEngine(rules), []
    for a in range(0, len(frames), 10):
        alerts += engine.update(detector.update(frames.slice(a, a + 10)))
    lat = [a.time_s - a.event.end_s for a in alerts]
    return agree, sum(bool(x) for x in tl), len(alerts), max(lat) if lat else float("nan"), len(pairs)


def main():
    print("| session | truth | found | false | median abs start error ms | median abs end error ms | "
          "95th pct abs peak error drop / add / IR deg | max detection delay ms | x real time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for case in CASES:
        r = one(*case)
        p = r["p95"]
        print(f"| {r['name']} | {r['truth']} | {r['found']} | {r['false']} | {r['ic_ms']:.1f} | {r['end_ms']:.1f} | "
              f"{p['peak_pelvic_drop_deg']:.2f} / {p['peak_hip_adduction_deg']:.2f} / "
              f"{p['peak_hip_internal_rotation_deg']:.2f} | {r['lat_ms']:.0f} | {r['x_realtime']:.0f} |")
    agree, n_truth_alerted, n_alerts, lat, n = alerts_case()
    print(f"\nalerts (right_hip_tires, 120 s run): per-event agreement {100 * agree:.1f} % over {n} stances; "
          f"{n_truth_alerted} stances in alert in the truth; {n_alerts} alerts raised live; "
          f"max delay after the triggering stance's end {1e3 * lat:.0f} ms")


if __name__ == "__main__":
    main()
