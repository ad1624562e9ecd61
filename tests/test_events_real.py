"""Gait and jump events on real recordings (../shared/data/real; a missing folder FAILS) and simulated gait speeds.

Targets are issue 11's. Those not reached yet are strict xfails carrying the measured number
(benchmarks/bench_events_real.py, docs/validation-events.md): they turn into failures the day
they pass, so the marker is then removed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_events_real as B  # noqa: E402

from hipmon.events import EventDetector, detect_events  # noqa: E402
from hipmon.gait_events import without_thighs  # noqa: E402


@pytest.fixture(scope="module")
def neura():
    return B.neura_frames()


@pytest.mark.parametrize("sacrum_only", [False, True])
def test_neura_every_heel_strike_found_with_side_and_stance_time(neura, sacrum_only):
    frames = without_thighs(neura) if sacrum_only else neura
    r = B.neura_scores(frames)
    assert r["reference"] >= 8
    assert r["found"] == r["reference"]
    assert r["side_right"] == r["found"]
    assert np.all(np.abs(r["stance_rel_err"]) <= 0.15), r["stance_rel_err"]
    assert r["in_standing"] == 0


def test_neura_median_initial_contact_error_within_30_ms(neura):
    """Pelvis + thighs: the IC at the landing thigh's heel-strike transient (measured 10 ms, -20..+10 ms)."""
    r = B.neura_scores(neura)
    assert np.median(np.abs(r["ic_err_s"])) <= 0.030


@pytest.mark.xfail(strict=True, reason="sacrum alone: median IC error 38 ms, all late (29-76 ms): the pelvis "
                   "estimate assumes a double support of 12 % of the stride; this slow walk has ~15 %. The steepest "
                   "rise of f (McCamley-type) is 50-90 ms after the marker IC here: 70 ms median, one heel strike lost")
def test_neura_sacrum_only_median_initial_contact_error_within_30_ms(neura):
    r = B.neura_scores(without_thighs(neura))
    assert np.median(np.abs(r["ic_err_s"])) <= 0.030


@pytest.mark.parametrize("sacrum_only", [False, True])
def test_neura_live_chunks_equal_offline(neura, sacrum_only):
    frames = without_thighs(neura) if sacrum_only else neura
    offline = detect_events(frames)
    det, live, a = EventDetector(), [], 0
    rng = np.random.default_rng(1)
    while a < len(frames):
        b = min(len(frames), a + int(rng.integers(1, 30)))
        live += det.update(frames.slice(a, b))
        a = b
    live += det.flush()
    assert [(e.kind, e.side, e.start_s, e.end_s) for e in live] == [(e.kind, e.side, e.start_s, e.end_s)
                                                                      for e in offline]
    assert any(e.kind == "stance" for e in offline)


@pytest.mark.xfail(strict=True, reason="issue 11 target not reached: F1 0.56 (recall 50 %, precision 64 %), side right "
                   "87 % of matched ICs (INDIP, all 9 trials); against the optical reference F1 0.61, side 90 %. "
                   "A steepest-rise (McCamley-type) IC gave 0.62 but 70 ms on neura; a step-regularity gait-sequence "
                   "detector with looser step rules inside walking gave 0.55-0.57: neither adopted. Misses: 64 of "
                   "238 ICs are timing (60-300 ms), 55 steps not found; F1 0.83 even at +-300 ms; without "
                   "MS_001's lagging right ICs 0.65. The published Mobilise-D detectors (mobgap 1.2.0), given "
                   "the reference bouts, reach 0.21-0.35 at +-60 ms, 0.77-0.80 at +-300 ms, sides 82-87 % "
                   "(benchmarks/bench_mobgap_published.py, docs/validation-events.md)")
def test_mobgap_initial_contacts_f1_and_side():
    tot = np.zeros(4)
    for _, r in B.mobgap_trials():
        n_ref, n_det, n_match, side_ok, _ = B.mobgap_scores(r)
        tot += (n_ref, n_det, n_match, side_ok)
    rec, prec = tot[2] / tot[0], tot[2] / tot[1]
    assert 2 * rec * prec / (rec + prec) >= 0.90
    assert tot[3] / tot[2] >= 0.90


def test_mobgap_every_optical_contact_of_the_straight_test5_walks_found():
    """Straight walking is solved against the optical reference: every Stereophoto IC of the Test5 walks
    (43 over 5 trials) within 60 ms, no other detection in the bouts, 42 sides right (one wrong in MS_001
    Test5 Trial2); what is missed is in Test11 (turns, short bouts)."""
    n = sides = 0
    for name, r in B.mobgap_trials():
        if "Test5" not in name:
            continue
        n_ref, n_det, n_match, side_ok, _ = B.mobgap_scores(r, system="Stereophoto")
        assert n_match == n_ref == n_det, (name, n_ref, n_det, n_match)
        n += n_ref
        sides += side_ok
    assert n >= 40 and sides >= n - 1


def test_mobgap_where_the_missed_contacts_are():
    """Issue 11's recall, located (docs/validation-events.md): of INDIP's 238 ICs, 119 matched within 60 ms,
    64 have a detection 60-300 ms away (timing, mostly MS_001's lagging right ICs and HA_002 Test11) and 55
    none within 300 ms (steps not found: low-rise steps in turns and short Test11 bouts, 19 of them within
    1.2 s of a bout's start or end). Even at +-300 ms F1 is 0.83: the found steps alone cannot reach 0.90."""
    tot = {"reference": 0, "matched": 0, "timing": 0, "none": 0, "none_at_edge": 0}
    n300 = np.zeros(4)
    for _, r in B.mobgap_trials():
        for k, v in B.mobgap_misses(r).items():
            tot[k] += v
        n300 += B.mobgap_scores(r, tol_s=0.3)[:4]
    assert tot["reference"] == tot["matched"] + tot["timing"] + tot["none"] >= 230
    assert 0.2 <= tot["timing"] / tot["reference"] <= 0.35, tot
    assert 0.15 <= tot["none"] / tot["reference"] <= 0.3, tot
    assert tot["none_at_edge"] < 0.5 * tot["none"], tot  # not mainly at bout starts and ends
    rec, prec = n300[2] / n300[0], n300[2] / n300[1]
    assert 0.75 <= 2 * rec * prec / (rec + prec) < 0.90


def test_mobgap_indip_right_contacts_of_ms_001_lag_the_optical_reference():
    """Why the INDIP target is partly out of reach: on MS_001's straight Test5 walks INDIP puts every right
    IC 100-230 ms after the optical one (left ICs agree within 30 ms); the lower-back sensor's loading rise
    follows the optical timing."""
    for key, r in B.loader("mobgap-lab-lowerback", "load_mobgap").load_participant("MS_001").items():
        if key[0] != "Test5":
            continue
        st, ind = B.mobgap_reference(r, "Stereophoto")[0], B.mobgap_reference(r, "INDIP")[0]
        for side, lo, hi in (("r", 0.10, 0.25), ("l", -0.035, 0.035)):
            d = [min((y - x for y, s2 in ind if s2 == side and abs(y - x) < 0.35), key=abs) for x, s in st if s == side]
            assert len(d) >= 4 and all(lo <= x <= hi for x in d), (key, side, d)


@pytest.fixture(scope="module")
def alcantara():
    return B.alcantara_summary()


def test_alcantara_running_contacts_from_the_sacral_accelerometer(alcantara):
    """Real treadmill running, 31 trials, 2.5-4.17 m/s, -10..+10 degrees slope, force-plate contacts.

    Every contact away from the 4.96 s windows' edges found, none extra, median IC error within
    the issue's 30 ms (measured 460 of 467, all 7 misses at window edges; 1 extra at an edge;
    median abs 9 ms). Downhill flights (up to 0.2 s) after a running stance are steps, not jumps.
    """
    a = alcantara
    assert a["reference"] >= 460
    assert a["found_inside"] == a["reference_inside"], (a["found_inside"], a["reference_inside"])
    assert a["extra"] <= 2
    assert np.median(np.abs(a["ic_err_s"])) <= 0.030


@pytest.mark.xfail(strict=True, reason="measured: contact time +15.1 % median (toe-off +20 ms late on the authors' "
                   "low-pass-filtered signal); the walking target of 15 % applied to running")
def test_alcantara_running_contact_time_within_15_percent(alcantara):
    assert np.median(np.abs(alcantara["contact_rel_err"])) <= 0.15


def test_mascia_take_off_and_landing_within_20_ms_of_the_force_plate():
    lands, ref = B.jump_events("mascia")
    assert len(lands) == 1
    e = lands[0]
    assert abs(e.start_s - ref["touchdown_s"][0]) <= 0.020
    assert abs(e.extra["take_off_s"] - ref["takeoff_s"][0]) <= 0.020


def test_mascia_flight_time_within_20_ms():
    lands, ref = B.jump_events("mascia")
    assert abs(lands[0].extra["flight_time_s"] - (ref["touchdown_s"][0] - ref["takeoff_s"][0])) <= 0.020


def test_mcginnis_one_jump_and_nothing_from_handling():
    lands, _ = B.jump_events("mcginnis")
    assert len(lands) == 1
    assert 82.3 < lands[0].start_s < 82.8  # the low-|acc| flight ends ~82.61 s, impact peak 82.69 s (README)


SPEEDS = [(k, s) for k, speeds in B.SIM_SPEEDS.items() for s in speeds]


@pytest.mark.parametrize("kind, speed", SPEEDS)
def test_simulated_stances_every_speed(kind, speed):
    n_t, n_d, n_m, ic = B.sim_scores(kind, speed, seconds=40.0)
    assert n_t >= 50
    assert n_m / n_t >= 0.98 and n_m / n_d >= 0.99, (n_t, n_d, n_m)
    assert np.median(np.abs(ic)) <= 0.02


@pytest.mark.parametrize("kind, speed", SPEEDS)
def test_simulated_sacrum_only_within_1_percent(kind, speed):
    full = B.sim_scores(kind, speed, seconds=40.0)
    alone = B.sim_scores(kind, speed, seconds=40.0, sacrum_only=True)
    assert abs(full[2] / full[0] - alone[2] / alone[0]) <= 0.01
    assert abs(full[2] / full[1] - alone[2] / max(alone[1], 1)) <= 0.01
