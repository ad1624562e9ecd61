"""Compiled per-sample loops of the event detectors (``hipmon.jit``): the same decisions, in the
same IEEE arithmetic, as the Python step functions they stand for (``hipmon.events``)."""

from __future__ import annotations

import numpy as np

from hipmon.jit import njit

#: ``single_leg_run``'s state vector: standing levels (deg), flags, the open lift, rep and candidate.
(SL_STAND_L, SL_STAND_R, SL_STAND_INIT, SL_LIFTED, SL_LIFT_START, SL_REPS, SL_REP_START, SL_REP_PEAK, SL_REP_PEAK_T,
 SL_LAST_T, SL_CAND_SIDE, SL_CAND_SINCE) = range(12)
SL_STATE_SIZE = 12


def single_leg_state() -> np.ndarray:
    """A new detector's state (no standing level yet, no lift, no rep, no candidate)."""
    s = np.zeros(SL_STATE_SIZE)
    s[SL_LIFTED] = s[SL_CAND_SIDE] = -1.0
    s[SL_REP_START] = s[SL_LAST_T] = np.nan
    s[SL_REP_PEAK] = -np.inf
    return s


@njit
def single_leg_run(state, time_s, flex_l, flex_r, moving, params, out):  # pragma: no cover - compiled
    """Reps and holds from the hip flexions, sample by sample (``hipmon.events._SingleLegDetector``).

    ``state`` (12,) is updated in place; ``time_s``, ``flex_l``, ``flex_r`` (K,) s and deg;
    ``moving`` (K,) bool; ``params``: hold_lift_deg, standing_tau_s, lift_confirm_s,
    rep_edge_deg, rep_min_flexion_deg, rep_min_s, rep_max_s, hold_min_s, hold_max_s, want_rep,
    want_hold. ``out`` (K, 7) receives the events: row index, kind (0 rep, 1 hold), stance side
    (0 left, 1 right), start (s), end = detected (s), t of peak flexion or hold time (s), peak
    flexion (deg). Returns the number of events."""
    hold_lift, tau, confirm, edge, min_flex, rep_min, rep_max, hold_min, hold_max, want_rep, want_hold = (
        params[0], params[1], params[2], params[3], params[4], params[5], params[6], params[7], params[8],
        params[9], params[10])
    n_out = 0
    for i in range(time_s.shape[0]):
        t, fl, fr = time_s[i], flex_l[i], flex_r[i]
        dt = 0.0 if np.isnan(state[SL_LAST_T]) else t - state[SL_LAST_T]
        state[SL_LAST_T] = t
        rel_l = fl - state[SL_STAND_L]
        rel_r = fr - state[SL_STAND_R]
        diff = fl - fr
        if state[SL_LIFTED] < 0:
            if state[SL_STAND_INIT] == 0.0:
                if moving[i] or abs(diff) >= 0.5 * hold_lift:
                    continue
                state[SL_STAND_L], state[SL_STAND_R] = fl, fr
                state[SL_STAND_INIT] = 1.0
            elif abs(diff) < 0.5 * hold_lift and not moving[i]:
                a = dt / tau
                if not a < 1.0:  # min(1.0, dt / tau)
                    a = 1.0
                state[SL_STAND_L] = state[SL_STAND_L] + a * (fl - state[SL_STAND_L])
                state[SL_STAND_R] = state[SL_STAND_R] + a * (fr - state[SL_STAND_R])
            lift = diff - (state[SL_STAND_L] - state[SL_STAND_R])
            if abs(lift) >= hold_lift:
                side = 0.0 if lift > 0 else 1.0
                if state[SL_CAND_SIDE] < 0 or state[SL_CAND_SIDE] != side:
                    state[SL_CAND_SIDE], state[SL_CAND_SINCE] = side, t
                elif t - state[SL_CAND_SINCE] >= confirm:
                    state[SL_LIFTED], state[SL_LIFT_START] = side, state[SL_CAND_SINCE]
                    state[SL_REPS] = 0.0
                    state[SL_CAND_SIDE] = -1.0
            else:
                state[SL_CAND_SIDE] = -1.0
            continue
        stance = 1.0 if state[SL_LIFTED] == 0.0 else 0.0
        rel_s = rel_l if stance == 0.0 else rel_r
        rel_lifted = rel_r if stance == 0.0 else rel_l
        if np.isnan(state[SL_REP_START]):
            if rel_s >= edge:
                state[SL_REP_START] = t
                state[SL_REP_PEAK] = rel_s
                state[SL_REP_PEAK_T] = t
        else:
            if rel_s > state[SL_REP_PEAK]:
                state[SL_REP_PEAK], state[SL_REP_PEAK_T] = rel_s, t
            if rel_s < edge:
                dur = t - state[SL_REP_START]
                if state[SL_REP_PEAK] >= min_flex and rep_min <= dur and dur <= rep_max:
                    state[SL_REPS] += 1.0
                    if want_rep:
                        out[n_out, 0], out[n_out, 1], out[n_out, 2] = i, 0.0, stance
                        out[n_out, 3], out[n_out, 4] = state[SL_REP_START], t
                        out[n_out, 5], out[n_out, 6] = state[SL_REP_PEAK_T], state[SL_REP_PEAK]
                        n_out += 1
                state[SL_REP_START] = np.nan
        lift_now = (rel_lifted - rel_s) if np.isnan(state[SL_REP_START]) else rel_lifted
        if lift_now < 0.5 * hold_lift or t - state[SL_LIFT_START] > hold_max:
            dur = t - state[SL_LIFT_START]
            if state[SL_REPS] == 0.0 and np.isnan(state[SL_REP_START]) and dur >= hold_min and want_hold:
                out[n_out, 0], out[n_out, 1], out[n_out, 2] = i, 1.0, stance
                out[n_out, 3], out[n_out, 4], out[n_out, 5], out[n_out, 6] = state[SL_LIFT_START], t, dur, np.nan
                n_out += 1
            state[SL_LIFTED] = -1.0
            state[SL_REP_START] = np.nan
    return n_out
