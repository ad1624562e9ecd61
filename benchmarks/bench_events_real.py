"""Gait and jump events on REAL recordings (../shared/data/real) and on simulated walking/running at every speed.

Run: ``.venv/bin/python benchmarks/bench_events_real.py`` (about two minutes). Results and the
command go to docs/validation-events.md. The same helpers serve tests/test_events_real.py.

- neura-sparse-s02-walk: pelvis + thigh IMUs through the pipeline (calibration found, then fixed
  for a full-length second run); reference ICs/TOs from the heel/toe markers (Zeni 2008) on the
  straight walking parts.
- mobgap-lab-lowerback: the lower-back sensor alone (VQF, ``hipmon.gait_events.pelvis_only_frames``,
  forward = sensor +z as documented); reference ICs and sides from INDIP.
- mascia-cmj-imu-grf: one trunk IMU, force-plate take-off and touchdown.
- mcginnis-sacral-cmj: one sacral IMU, one jump, donning and handling.
- alcantara-sacral-running-grf: treadmill running (2.5-4.17 m/s, -10..+10 degrees), sacral
  accelerometer alone, contacts from the treadmill's vertical force.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _real import loader, real_dir  # noqa: E402

from hipmon.events import detect_events, frames_from_simulation, match_events  # noqa: E402
from hipmon.gait_events import pelvis_only_frames, without_thighs  # noqa: E402
from hipmon.types import ANGLE_COLUMNS, Frames  # noqa: E402

NEURA_TURN_S = (14.0, 15.5)  # the 180° turn: marker events there are spurious (README)


# ---------------------------------------------------------------- neura


def neura_frames():
    """Full-length frames of the neura walk through the pipeline (calibration found, then fixed)."""
    from hipmon.pipeline import PipelineConfig, process_samples
    from hipmon.types import SensorSpec

    L = loader("neura-sparse-s02-walk", "load_neura")
    samples, specs = {}, []
    for p in ("pelvis", "left_thigh", "right_thigh"):
        d = L.load_imu(p)
        samples[p] = (d["time_s"], d["acc"], d["gyr"], None)
        specs.append(SensorSpec(p, p, None, 100.0))
    first = process_samples(samples, specs, PipelineConfig())
    return process_samples(samples, specs, PipelineConfig(calibration=first.calibration)).frames


def neura_reference():
    """Marker ICs and stances on the straight parts: lists of (side, ic_s, to_s or nan)."""
    L = loader("neura-sparse-s02-walk", "load_neura")
    vic = L.load_vicon()
    walk = L.quiet_and_walk_windows(L.load_imu("pelvis")["gyr"])["walk"]
    ev = L.zeni_events(vic, walk)
    out = []
    for side in ("left", "right"):
        tos = ev[f"to_{side}_s"]
        heel = vic[f"{side[0].upper()}HEE"][:, 2]
        t = vic["time_s"]
        standing = float(np.median(heel[t < walk[0]]))
        for ic in ev[f"ic_{side}_s"]:
            # straight parts: not in the turn
            if NEURA_TURN_S[0] <= ic <= NEURA_TURN_S[1]:
                continue
            # a heel strike: the heel is down (within 2 cm of standing) after a swing (lifted >= 5 cm in the
            # 0.8 s before); Zeni's extremum at gait initiation and at the closing step is neither
            k = int(np.searchsorted(t, ic))
            swing = heel[(t >= ic - 0.8) & (t < ic)]
            if heel[k] - standing > 0.02 or swing.max() - standing < 0.05:
                continue
            nxt = tos[(tos > ic + 0.4) & (tos < ic + 1.2)]
            to = float(nxt[0]) if nxt.size and not (NEURA_TURN_S[0] <= nxt[0] <= NEURA_TURN_S[1]) else np.nan
            out.append((side, float(ic), to))
    return sorted(out, key=lambda x: x[1]), walk


def neura_scores(frames, tol_s=0.1):
    ref, walk = neura_reference()
    det = [e for e in detect_events(frames) if e.kind == "stance"]
    found, ic_err, dur_rel, side_ok = 0, [], [], 0
    for side, ic, to in ref:
        cand = [e for e in det if abs(e.start_s - ic) <= tol_s]
        if not cand:
            continue
        e = min(cand, key=lambda e: abs(e.start_s - ic))
        found += 1
        side_ok += e.side == side
        ic_err.append(e.start_s - ic)
        if np.isfinite(to):
            dur_rel.append((e.end_s - e.start_s) / (to - ic) - 1.0)
    quiet = [e for e in det if e.start_s < walk[0] - 0.3 or e.start_s > walk[1] + 0.3]
    return {"reference": len(ref), "found": found, "side_right": side_ok, "detected": len(det),
            "ic_err_s": np.array(ic_err), "stance_rel_err": np.array(dur_rel), "in_standing": len(quiet)}


# ---------------------------------------------------------------- mobgap


def mobgap_trials():
    M = loader("mobgap-lab-lowerback", "load_mobgap")
    for pid in M.PARTICIPANTS:
        for key, r in sorted(M.load_participant(pid).items()):
            yield f"{pid} {key[0]} {key[1]}", r


def mobgap_reference(r, system="INDIP"):
    """([(ic_s, 'l'|'r')], [(bout start_s, end_s)]) of one trial from ``system`` (INDIP or Stereophoto)."""
    bouts = r["reference"].get(system, {}).get("bouts", [])
    ref = [(ic, s.lower()[0]) for b in bouts for ic, s in zip(b["ic_s"], b["ic_side"]) if np.isfinite(ic)]
    return ref, [(b["start_s"], b["end_s"]) for b in bouts]


def mobgap_stances(r):
    """Stances hipmon finds on one trial from the lower-back sensor alone (VQF, forward = sensor +z)."""
    frames = pelvis_only_frames(r["time_s"], r["acc"], r["gyr"], r["fs_hz"], forward_axis_sensor=[0.0, 0.0, 1.0])
    return [e for e in detect_events(frames) if e.kind == "stance"]


def mobgap_misses(r, system="INDIP", tol_s=0.06, near_s=0.3, edge_s=1.2):
    """Where the reference ICs of one trial that no detection matches within ``tol_s`` are (counts).

    ``timing``: a detection lies ``tol_s``..``near_s`` away (the step was found, its time disagrees);
    ``none``: nothing within ``near_s`` (the step was not found); ``none_at_edge``: of those, within
    ``edge_s`` of the start or end of the reference bout (starts, stops, turns into or out of a bout).
    """
    det = np.array([e.start_s for e in mobgap_stances(r)])
    ref, bouts = mobgap_reference(r, system)
    out = {"reference": len(ref), "matched": 0, "timing": 0, "none": 0, "none_at_edge": 0}
    for ic, _ in ref:
        d = float(np.min(np.abs(det - ic))) if det.size else np.inf
        if d <= tol_s:
            out["matched"] += 1
        elif d <= near_s:
            out["timing"] += 1
        else:
            out["none"] += 1
            a, b = min(bouts, key=lambda ab: 0.0 if ab[0] <= ic <= ab[1] else min(abs(ic - ab[0]), abs(ic - ab[1])))
            out["none_at_edge"] += int(ic - a < edge_s or b - ic < edge_s)
    return out


def mobgap_scores(r, tol_s=0.06, system="INDIP", exclude=()):
    """(reference ICs, detected ICs, matched, side right, errors s) for one trial (``system``'s reference).

    ``exclude``: sides ('l'/'r') whose reference ICs are left out, together with the detections
    within 0.35 s of them (a known-lagging reference side: neither a hit nor a false positive).
    """
    det = mobgap_stances(r)
    ref, bouts = mobgap_reference(r, system)
    if exclude:
        out = [ic for ic, s in ref if s in exclude]
        ref = [(ic, s) for ic, s in ref if s not in exclude]
        det = [e for e in det if not any(abs(e.start_s - ic) < 0.35 for ic in out)]
    # detections count against precision only inside the reference's walking bouts (the reference
    # marks no contacts elsewhere, e.g. while turning or shuffling between bouts)
    det_in = [e for e in det if any(a - tol_s <= e.start_s <= b + tol_s for a, b in bouts)]
    cands = sorted((abs(e.start_s - ic), i, j) for i, e in enumerate(det_in) for j, (ic, _) in enumerate(ref)
                   if abs(e.start_s - ic) <= tol_s)
    used_i, used_j, pairs = set(), set(), []
    for _, i, j in cands:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            pairs.append((i, j))
    side_ok = sum(det_in[i].side[0] == ref[j][1] for i, j in pairs)
    err = np.array([det_in[i].start_s - ref[j][0] for i, j in pairs])
    return len(ref), len(det_in), len(pairs), side_ok, err


# ---------------------------------------------------------------- alcantara (treadmill running)


def alcantara_trials():
    """The 31 treadmill-running trials (sacral accelerometer, vertical GRF reference) of one runner."""
    return loader("alcantara-sacral-running-grf", "load").trials()


def alcantara_stances(tr):
    """Stances hipmon finds from the sacral accelerometer alone.

    The recording has no gyroscope and only the sensor's vertical and anteroposterior axes
    (the authors' processed signals), so no fusion runs: the sensor's vertical axis stands for
    the global vertical (a sacral sensor on an upright runner), the pelvis rates are zero, and
    sides cannot be told (the contacts alternate by default).
    """
    t = tr["time_s"]
    n = t.size
    acc_g = np.stack([tr["acc_ap"], tr["acc_vertical"], np.zeros(n)], axis=1)
    frames = Frames(t, np.full((n, len(ANGLE_COLUMNS)), np.nan), {"pelvis": np.zeros((n, 3))},
                        {"pelvis": acc_g}, np.ones(n, bool))
    return [e for e in detect_events(frames) if e.kind == "stance"]


def alcantara_scores(tr, tol_s=0.1, edge_s=0.3):
    """One trial against the force plate: dict of counts, IC / toe-off errors (s), contact-time errors (fraction).

    ``reference_inside``: force-plate contacts more than ``edge_s`` from the 4.96 s window's
    edges (a contact is only recognised between two flights, so the first and last one of a
    window cannot be).
    """
    det = alcantara_stances(tr)
    t_end = tr["time_s"][-1]
    out = {"reference": 0, "reference_inside": 0, "found": 0, "found_inside": 0, "detected": len(det),
           "ic_err_s": [], "to_err_s": [], "contact_rel_err": [], "extra": 0}
    used = set()
    for a, b in tr["contacts"]:
        inside = edge_s < a and b < t_end - edge_s
        out["reference"] += 1
        out["reference_inside"] += inside
        cands = [i for i, e in enumerate(det) if abs(e.start_s - a) <= tol_s and i not in used]
        if not cands:
            continue
        i = min(cands, key=lambda k: abs(det[k].start_s - a))
        used.add(i)
        out["found"] += 1
        out["found_inside"] += inside
        out["ic_err_s"].append(det[i].start_s - a)
        out["to_err_s"].append(det[i].end_s - b)
        out["contact_rel_err"].append(((det[i].end_s - det[i].start_s) - (b - a)) / (b - a))
    out["extra"] = len(det) - len(used)
    return out


def alcantara_summary():
    """All 31 trials pooled: the dict of ``alcantara_scores`` with arrays."""
    tot = None
    for tr in alcantara_trials():
        r = alcantara_scores(tr)
        if tot is None:
            tot = r
            continue
        for k, v in r.items():
            tot[k] = tot[k] + v
    for k in ("ic_err_s", "to_err_s", "contact_rel_err"):
        tot[k] = np.asarray(tot[k])
    return tot


# ---------------------------------------------------------------- jumps


def _load_module(folder, module):
    """Import ``folder/module.py`` under a key of its own (both jump folders name their loader ``load``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_bench_real_{folder.name}_{module}", folder / f"{module}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def jump_events(name):
    """(landings detected, reference dict or None) for the mascia / mcginnis jump recordings."""
    folder = real_dir("mascia-cmj-imu-grf" if name == "mascia" else "mcginnis-sacral-cmj")
    d = _load_module(folder, "load").load(str(folder))
    s = d["sensors"]["imu" if name == "mascia" else "sacrum"]
    ref = d["events"] if name == "mascia" else None
    t = s["time_s"]
    fs = 1.0 / float(np.median(np.diff(t)))
    frames = pelvis_only_frames(t, s["acc"], s["gyr"], fs)
    lands = [e for e in detect_events(frames) if e.kind == "landing"]
    return lands, ref


# ---------------------------------------------------------------- simulator

SIM_SPEEDS = {"walk": (0.6, 0.9, 1.3, 1.7, 2.1), "run": (2.0, 2.5, 3.3, 4.2, 5.0, 6.0)}


def sim_scores(kind, speed, seconds=60.0, seed=1, sacrum_only=False):
    from hipmon.simulate import simulate

    sim = simulate(kind, seconds, seed=seed, speed_mps=speed)
    frames = frames_from_simulation(sim, angle_bias_deg=1.0, angle_noise_deg=0.4, seed=seed)
    if sacrum_only:
        frames = without_thighs(frames)
    truth = [e for e in sim.events if e.kind == "stance"]
    det = [e for e in detect_events(frames) if e.kind == "stance"]
    pairs = match_events(det, truth, tol_s=0.1)
    ic = np.array([det[i].start_s - truth[j].start_s for i, j in pairs])
    return len(truth), len(det), len(pairs), ic


def main():
    print("## neura-sparse-s02-walk (pelvis + thighs; and the pelvis alone)\n")
    frames = neura_frames()
    print("| sensors | marker ICs | found (±100 ms) | side right | median abs IC error ms | max abs IC error ms | "
          "stance duration error median / max % | stances in standing |")
    print("|---|---|---|---|---|---|---|---|")
    for label, fr in (("pelvis + thighs", frames), ("pelvis only", without_thighs(frames))):
        r = neura_scores(fr)
        e = np.abs(r["ic_err_s"]) * 1e3
        d = np.abs(r["stance_rel_err"]) * 100
        print(f"| {label} | {r['reference']} | {r['found']} | {r['side_right']} | {np.median(e):.0f} | {e.max():.0f} | "
              f"{np.median(d):.1f} / {d.max():.1f} | {r['in_standing']} |")
    print("\n## mobgap-lab-lowerback (lower-back sensor alone, INDIP reference, ±60 ms)\n")
    print("| trial | reference ICs | detected in bouts | matched | side right | median abs error ms |")
    print("|---|---|---|---|---|---|")
    tot = np.zeros(4)
    for name, r in mobgap_trials():
        n_ref, n_det, n_match, side_ok, err = mobgap_scores(r)
        tot += (n_ref, n_det, n_match, side_ok)
        med = f"{1e3 * np.median(np.abs(err)):.0f}" if err.size else "-"
        print(f"| {name} | {n_ref} | {n_det} | {n_match} | {side_ok} | {med} |")
    rec, prec = tot[2] / tot[0], tot[2] / max(tot[1], 1)
    print(f"\nall trials: recall {100 * rec:.1f} %, precision {100 * prec:.1f} %, F1 {2 * rec * prec / (rec + prec):.3f}, "
          f"side right {100 * tot[3] / max(tot[2], 1):.1f} % of matched ICs")
    tot = np.zeros(4)
    for _, r in mobgap_trials():
        tot += mobgap_scores(r, system="Stereophoto")[:4]
    rec, prec = tot[2] / tot[0], tot[2] / max(tot[1], 1)
    print(f"against the optical reference (Stereophoto, its own capture-volume bouts): recall {100 * rec:.1f} %, "
          f"precision {100 * prec:.1f} %, F1 {2 * rec * prec / (rec + prec):.3f}, side right "
          f"{100 * tot[3] / max(tot[2], 1):.1f} %")
    tot = np.zeros(4)
    for name, r in mobgap_trials():
        tot += mobgap_scores(r, exclude=("r",) if name.startswith("MS_001") else ())[:4]
    rec, prec = tot[2] / tot[0], tot[2] / max(tot[1], 1)
    print(f"INDIP without MS_001's right ICs (and the detections within 0.35 s of them): recall {100 * rec:.1f} %, "
          f"precision {100 * prec:.1f} %, F1 {2 * rec * prec / (rec + prec):.3f}, side right "
          f"{100 * tot[3] / max(tot[2], 1):.1f} %")
    for tol in (0.1, 0.3):
        tot = np.zeros(4)
        for _, r in mobgap_trials():
            tot += mobgap_scores(r, tol_s=tol)[:4]
        rec, prec = tot[2] / tot[0], tot[2] / max(tot[1], 1)
        print(f"INDIP at ±{1e3 * tol:.0f} ms instead of ±60 ms: recall {100 * rec:.1f} %, precision {100 * prec:.1f} %, "
              f"F1 {2 * rec * prec / (rec + prec):.3f}")
    print("\nwhere the missed reference ICs are (±60 ms; timing = a detection 60-300 ms away, none = nothing within "
          "300 ms, at edge = within 1.2 s of the bout's start or end):\n")
    print("| trial | reference | INDIP matched / timing / none (at edge) | Stereophoto reference | "
          "matched / timing / none (at edge) |")
    print("|---|---|---|---|---|")
    tot = np.zeros(10)
    for name, r in mobgap_trials():
        a, b = mobgap_misses(r, "INDIP"), mobgap_misses(r, "Stereophoto")
        row = [a["reference"], a["matched"], a["timing"], a["none"], a["none_at_edge"],
               b["reference"], b["matched"], b["timing"], b["none"], b["none_at_edge"]]
        tot += row
        print(f"| {name} | {row[0]} | {row[1]} / {row[2]} / {row[3]} ({row[4]}) | {row[5]} | "
              f"{row[6]} / {row[7]} / {row[8]} ({row[9]}) |")
    t = tot.astype(int)
    print(f"| all | {t[0]} | {t[1]} / {t[2]} / {t[3]} ({t[4]}) | {t[5]} | {t[6]} / {t[7]} / {t[8]} ({t[9]}) |")
    print("\nthe two references against each other (INDIP IC − nearest same-side Stereophoto IC within 0.35 s):\n")
    print("| trial | side | pairs | median ms | range ms |")
    print("|---|---|---|---|---|")
    for name, r in mobgap_trials():
        st, ind = mobgap_reference(r, "Stereophoto")[0], mobgap_reference(r, "INDIP")[0]
        for side in "lr":
            d = [min((y - x for y, s2 in ind if s2 == side and abs(y - x) < 0.35), key=abs, default=np.nan)
                 for x, s in st if s == side]
            d = np.array([x for x in d if np.isfinite(x)]) * 1e3
            if d.size:
                print(f"| {name} | {side} | {d.size} | {np.median(d):+.0f} | {d.min():+.0f}…{d.max():+.0f} |")
    print("\n## alcantara-sacral-running-grf (treadmill running, sacral accelerometer alone, force-plate contacts)\n")
    print("| speed m/s | slope ° | trials | contacts (inside) | found (inside) | extra | median IC error ms | "
          "median toe-off error ms | median contact-time error % |")
    print("|---|---|---|---|---|---|---|---|---|")
    groups: dict = {}
    for tr in alcantara_trials():
        groups.setdefault((tr["speed_m_s"], tr["slope_deg"]), []).append(alcantara_scores(tr))
    for (v, slope), rs in sorted(groups.items()):
        ic = np.concatenate([r["ic_err_s"] for r in rs]) * 1e3
        to = np.concatenate([r["to_err_s"] for r in rs]) * 1e3
        ct = np.concatenate([r["contact_rel_err"] for r in rs]) * 100
        print(f"| {v:.2f} | {slope:+.0f} | {len(rs)} | {sum(r['reference'] for r in rs)} "
              f"({sum(r['reference_inside'] for r in rs)}) | {sum(r['found'] for r in rs)} "
              f"({sum(r['found_inside'] for r in rs)}) | {sum(r['extra'] for r in rs)} | {np.median(ic):+.0f} | "
              f"{np.median(to):+.0f} | {np.median(ct):+.1f} |")
    a = alcantara_summary()
    print(f"\nall: {a['found']} of {a['reference']} contacts found ({a['found_inside']} of {a['reference_inside']} "
          f"away from the window edges), {a['extra']} extra; IC error median {np.median(a['ic_err_s']) * 1e3:+.1f} ms, "
          f"median abs {np.median(np.abs(a['ic_err_s'])) * 1e3:.1f} ms, 90th pct abs "
          f"{np.percentile(np.abs(a['ic_err_s']), 90) * 1e3:.0f} ms; toe-off median "
          f"{np.median(a['to_err_s']) * 1e3:+.1f} ms; contact time median {np.median(a['contact_rel_err']) * 100:+.1f} %, "
          f"90th pct abs {np.percentile(np.abs(a['contact_rel_err']), 90) * 100:.1f} %")

    print("\n## jumps\n")
    lands, ref = jump_events("mascia")
    for e in lands:
        print(f"mascia: landing at {e.start_s:.3f} s (force plate {ref['touchdown_s'][0]:.3f}), take-off "
              f"{e.extra['take_off_s']:.3f} s (force plate {ref['takeoff_s'][0]:.3f}), flight {e.extra['flight_time_s']:.3f} s "
              f"(force plate {ref['touchdown_s'][0] - ref['takeoff_s'][0]:.3f})")
    lands, _ = jump_events("mcginnis")
    print("mcginnis: landings", [(round(e.start_s, 3), round(e.extra["flight_time_s"], 3)) for e in lands])
    print("\n## simulator, every speed (60 s, seed 1; stance recall / precision, ±100 ms)\n")
    print("| gait | speed m/s | truth | pelvis + thighs recall / precision % | pelvis only recall / precision % | "
          "median abs IC error ms (both) |")
    print("|---|---|---|---|---|---|")
    for kind, speeds in SIM_SPEEDS.items():
        for sp in speeds:
            row = []
            for so in (False, True):
                n_t, n_d, n_m, ic = sim_scores(kind, sp, sacrum_only=so)
                row.append((100 * n_m / n_t, 100 * n_m / max(n_d, 1), 1e3 * np.median(np.abs(ic))))
            print(f"| {kind} | {sp} | {n_t} | {row[0][0]:.1f} / {row[0][1]:.1f} | {row[1][0]:.1f} / {row[1][1]:.1f} | "
                  f"{row[0][2]:.0f} / {row[1][2]:.0f} |")


if __name__ == "__main__":
    main()
