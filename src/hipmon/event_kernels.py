"""Compiled per-sample loops of the event detectors (``hipmon.jit``): the same decisions, in the
same IEEE arithmetic, as the Python step functions they stand for (``hipmon.events``; the contact
detector's Python original is tests/events_reference.py). Helpers called only from the kernels
are ``register_jitable`` (compiled into them, not kernels of their own)."""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

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


#: ``contact_run``'s state vector: the flight, the force's runs and flanks, the open contact and landing.
(CT_IN_FLIGHT, CT_LOW_SINCE, CT_FLIGHT_START, CT_C_OPEN, CT_C_IC, CT_C_FLIGHT, CT_C_SIDE, CT_L_OPEN, CT_L_IC,
 CT_L_SIDE, CT_L_FLIGHT, CT_L_TAKE_OFF, CT_L_THIGHS, CT_LAST_STANCE_END, CT_RISE_T, CT_FALL_T0, CT_FALL_F0,
 CT_FALL_T1, CT_FALL_F1) = range(19)
CT_STATE_SIZE = 19
#: Side codes of ``contact_run`` (contact side 2: from the pelvis rates, decided by the caller).
CT_LEFT, CT_RIGHT, CT_BOTH = 0.0, 1.0, 2.0
#: Columns of ``contact_run``'s output rows.
(CO_G, CO_KIND, CO_SIDE, CO_START, CO_END, CO_A, CO_B, CO_NOW, CO_TAKE_OFF_END, CO_THIGHS) = range(10)
CO_SIZE = 10


def contact_state() -> np.ndarray:
    """A new contact detector's state: not in flight, nothing open, no flank seen yet (NaN = none)."""
    s = np.full(CT_STATE_SIZE, np.nan)
    s[CT_IN_FLIGHT] = s[CT_C_OPEN] = s[CT_L_OPEN] = 0.0
    return s


@register_jitable
def _py_min(a, b):  # pragma: no cover - compiled
    """Python's ``min(a, b)``: ``a`` unless ``b < a``."""
    return b if b < a else a


@register_jitable
def _py_max(a, b):  # pragma: no cover - compiled
    """Python's ``max(a, b)``: ``a`` unless ``b > a``."""
    return b if b > a else a


@register_jitable
def _lower_bound(t, lo, hi, key):  # pragma: no cover - compiled
    """``lo + np.searchsorted(t[lo:hi], key, side='left')`` (the same bisection, so the same answer on any ``t``)."""
    while lo < hi:
        mid = lo + ((hi - lo) >> 1)
        if t[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@register_jitable
def _min_since(t, f, i, t_from, empty):  # pragma: no cover - compiled
    """The lowest ``f`` of rows ``a..i`` (a: the first row of ``t[:i + 1]`` at or after ``t_from``, by
    bisection, as ``History.since``); ``empty`` if none."""
    a = _lower_bound(t, 0, i + 1, t_from)
    if a > i:
        return empty
    m = f[a]
    for k in range(a + 1, i + 1):
        if f[k] < m or np.isnan(f[k]):
            m = f[k]
    return m


@register_jitable
def flank_foot(t0, f0, t1, f1, level):  # pragma: no cover - compiled
    """Time (s) where the straight flank through (t0, f0), (t1, f1) reaches ``level`` (m/s²), within one
    sample of it.

    A contact edge of the pelvis specific force: free fall reads ``level`` (0 at the centre of
    mass; a trunk or sacral sensor also feels its own motion relative to it, so the flight
    level next to each edge is measured, not assumed), and the force plate's contact starts
    or ends where the steep flank leaves that level. Rising: the contact onset, at most one
    sample before the flank; falling: the contact end, at most one sample after it."""
    dt = t1 - t0
    slope = (f1 - f0) / dt if dt > 0 else 0.0
    if slope > 0:
        return _py_min(t1, _py_max(t0 - dt, t1 - (f1 - level) / slope))
    if slope < 0:
        return _py_max(t0, _py_min(t1 + dt, t0 + (level - f0) / slope))
    return t0 if f1 < f0 else t1


@register_jitable
def _close_landing(state, out, n_out, g, end, now, take_off):  # pragma: no cover - compiled
    """The open landing ended at ``end`` (s), detected at ``now`` (s): one output row."""
    row = out[n_out]
    row[CO_G], row[CO_KIND], row[CO_SIDE] = g, 1.0, state[CT_L_SIDE]
    row[CO_START], row[CO_END], row[CO_A], row[CO_B] = state[CT_L_IC], end, state[CT_L_TAKE_OFF], state[CT_L_FLIGHT]
    row[CO_NOW], row[CO_TAKE_OFF_END], row[CO_THIGHS] = now, take_off, state[CT_L_THIGHS]
    state[CT_L_OPEN] = 0.0
    return n_out + 1


@njit
def contact_run(state, x, base, g0, params, in_flight, out):  # pragma: no cover - compiled
    """Flights and contacts from the pelvis vertical specific force, sample by sample
    (``hipmon.events._ContactDetector``): running stances and landings.

    ``state`` (19,) is updated in place. ``x`` (M, >= 7) is the ``History`` (columns time s, force
    m/s², thigh rates L/R and pelvis rate about Z rad/s, hip flexions L/R deg) whose row ``g - base``
    is stream sample ``g``; the samples ``g0..base + M - 1`` are stepped (the rows before them are
    the look-back). ``params``: flight_force, contact_force, edge_force, min_flight_s,
    min_contact_s, max_stance_s, run_spread_deg, scissor_rate, min_jump_flight_s,
    max_running_flight_s, landing_window_s, both_legs_flexion_deg, want_stance, want_landing.
    ``in_flight`` (K,) receives the flight state after each stepped sample. ``out`` (>= 2 K, 10)
    receives the events, in order: sample, kind (0 stance, 1 landing), side (``CT_*``; a
    stance's 2: from the pelvis rates), start = initial contact (s), end (s), a stance's flight
    before it or a landing's take-off (s), a landing's flight time (s), detected (s), a landing's
    ends-in-take-off flag, a landing's thighs flag. Returns the number of events."""
    flight_force, contact_force, edge_force, min_flight, min_contact, max_stance = (
        params[0], params[1], params[2], params[3], params[4], params[5])
    run_spread, scissor_rate, min_jump, max_running_flight, landing_window, both_legs = (
        params[6], params[7], params[8], params[9], params[10], params[11])
    want_stance, want_landing = params[12] != 0.0, params[13] != 0.0
    t_col, f_col = x[:, 0], x[:, 1]
    n_out = 0
    for i in range(g0 - base, x.shape[0]):
        g = base + i
        t, f, w_l, w_r, w_p, flex_l, flex_r = x[i, 0], x[i, 1], x[i, 2], x[i, 3], x[i, 4], x[i, 5], x[i, 6]
        # the force's edge crossings (the flanks' two samples) and its run below the flight level
        if i > 0:
            high, was_high = f >= edge_force, f_col[i - 1] >= edge_force
            if high and not was_high:  # a rising flank: its foot, at the flight level just before it
                pt, pf = t_col[i - 1], f_col[i - 1]
                level = _min_since(t_col, f_col, i - 1, _py_max(pt - 0.2, pt - min_flight), pf)
                state[CT_RISE_T] = flank_foot(pt, pf, t, f, level)
            elif was_high and not high:
                state[CT_FALL_T0], state[CT_FALL_F0] = t_col[i - 1], f_col[i - 1]
                state[CT_FALL_T1], state[CT_FALL_F1] = t, f
        if f < flight_force:
            if np.isnan(state[CT_LOW_SINCE]):
                state[CT_LOW_SINCE] = t
            low_since = state[CT_LOW_SINCE]
            if state[CT_IN_FLIGHT] == 0.0 and t - low_since >= min_flight:
                # a flight started: the contact ended where the falling flank reaches the flight level
                # just after it (the lowest f since the flank)
                state[CT_IN_FLIGHT] = 1.0
                edge = low_since
                if not np.isnan(state[CT_FALL_T1]) and state[CT_FALL_T1] >= low_since:
                    t1 = state[CT_FALL_T1]
                    level = _min_since(t_col, f_col, i, _py_max(t - 0.2, t1), np.nan)
                    edge = flank_foot(state[CT_FALL_T0], state[CT_FALL_F0], t1, state[CT_FALL_F1], level)
                state[CT_FLIGHT_START] = edge
                if state[CT_C_OPEN] != 0.0:
                    state[CT_C_OPEN] = 0.0
                    ic = state[CT_C_IC]
                    dur = edge - ic
                    if want_stance and not dur < min_contact:
                        row = out[n_out]
                        row[CO_G], row[CO_KIND], row[CO_SIDE] = g, 0.0, state[CT_C_SIDE]
                        row[CO_START], row[CO_END], row[CO_A], row[CO_NOW] = ic, edge, state[CT_C_FLIGHT], t
                        n_out += 1
                        state[CT_LAST_STANCE_END] = edge
                if state[CT_L_OPEN] != 0.0:
                    n_out = _close_landing(state, out, n_out, g, edge, t, 1.0)
        else:
            state[CT_LOW_SINCE] = np.nan
            if state[CT_IN_FLIGHT] != 0.0 and f >= contact_force:
                state[CT_IN_FLIGHT] = 0.0
                # initial contact: where f rose through edge_force
                fs = state[CT_FLIGHT_START]
                rise = state[CT_RISE_T]
                # ``rise >= (flight_start or -inf)``: a flight start of 0.0 counts as none there
                ic = rise if (not np.isnan(rise) and rise >= (fs if (not np.isnan(fs) and fs != 0.0) else -np.inf)) \
                    else t
                flight = ic - (fs if not np.isnan(fs) else ic)
                take_off = fs if not np.isnan(fs) else ic
                thighs = np.isfinite(flex_l) and np.isfinite(flex_r)
                lead_l = flex_l > flex_r
                spread = abs(flex_l - flex_r)
                w_lead, w_trail = (w_l, w_r) if lead_l else (w_r, w_l)
                if thighs:
                    scissor = spread >= run_spread and (
                        flight < min_jump or (w_lead - w_p <= -scissor_rate and w_trail - w_p >= scissor_rate))
                else:
                    lse = state[CT_LAST_STANCE_END]
                    after_stance = not np.isnan(lse) and abs(take_off - lse) < 1e-9
                    scissor = flight < min_jump or (after_stance and flight < max_running_flight)
                state[CT_C_OPEN], state[CT_C_IC], state[CT_C_FLIGHT] = 1.0, ic, flight
                state[CT_C_SIDE] = (CT_LEFT if lead_l else CT_RIGHT) if thighs else CT_BOTH
                if not scissor and flight >= min_jump and want_landing:
                    if not thighs or spread < both_legs:
                        side = CT_BOTH
                    else:
                        side = CT_LEFT if flex_l < flex_r else CT_RIGHT
                    state[CT_L_OPEN], state[CT_L_IC], state[CT_L_SIDE] = 1.0, ic, side
                    state[CT_L_FLIGHT], state[CT_L_TAKE_OFF] = flight, take_off
                    state[CT_L_THIGHS] = 1.0 if thighs else 0.0
                    state[CT_C_OPEN] = 0.0
                elif not scissor:
                    state[CT_C_OPEN] = 0.0  # a short hop without scissoring: neither
        if state[CT_C_OPEN] != 0.0 and t - state[CT_C_IC] > max_stance:
            state[CT_C_OPEN] = 0.0  # no flight followed: not running (e.g. a stop)
        if state[CT_L_OPEN] != 0.0 and t - state[CT_L_IC] >= landing_window:
            n_out = _close_landing(state, out, n_out, g, t, t, 0.0)
        in_flight[i - (g0 - base)] = state[CT_IN_FLIGHT] != 0.0
    return n_out


@njit
def detector_rows(time_s, angles, flex_cols, valid, acc_p, gyr_p, gyr_l, gyr_r, acc_l, acc_r, have, g, moving_f,
                  x, moving):  # pragma: no cover - compiled
    """A chunk's samples as the detectors' ``History`` rows, in one pass (``hipmon.events.EventDetector``).

    ``time_s`` (N,) s; ``angles`` (N, 9) deg, ``flex_cols`` (2,) its left and right hip flexion
    columns; ``valid`` (N,) bool; ``acc_p`` (N, 3) the pelvis specific force (m/s², global, Y up),
    ``gyr_p``, ``gyr_l``, ``gyr_r`` (N, 3) the pelvis and thigh rates (rad/s, segment frames), and
    ``acc_l``, ``acc_r`` (N, 3) the thighs' specific force; ``have`` (4,) bool: left thigh rates,
    right thigh rates, left and right thigh force given (else NaN in their columns; the array
    passed is not read). The samples the detectors step through are the valid ones with a finite
    time and pelvis force: their rows (``hipmon.gait_events.H_*`` columns: time, force, the
    thighs' and pelvis's Z rates, the hip flexions, the pelvis rates about X and Y, the thighs'
    |specific force| ``sqrt((x² + y²) + z²)`` as ``np.linalg.norm`` sums it, NaN for the smoothed
    force) go into ``x`` (N, 12) and whether each is moving (a thigh faster than 1 rad/s or
    ``|f - g| > moving_f``) into ``moving`` (N,). Returns their number."""
    k = 0
    nan = np.nan
    for i in range(time_s.shape[0]):
        t, f = time_s[i], acc_p[i, 1]
        if not (valid[i] and np.isfinite(f) and np.isfinite(t)):
            continue
        w_l = gyr_l[i, 2] if have[0] else nan
        w_r = gyr_r[i, 2] if have[1] else nan
        x[k, 0], x[k, 1], x[k, 2], x[k, 3], x[k, 4] = t, f, w_l, w_r, gyr_p[i, 2]
        x[k, 5], x[k, 6] = angles[i, flex_cols[0]], angles[i, flex_cols[1]]
        x[k, 7], x[k, 8] = gyr_p[i, 0], gyr_p[i, 1]
        if have[2]:
            x[k, 9] = np.sqrt((acc_l[i, 0] * acc_l[i, 0] + acc_l[i, 1] * acc_l[i, 1]) + acc_l[i, 2] * acc_l[i, 2])
        else:
            x[k, 9] = nan
        if have[3]:
            x[k, 10] = np.sqrt((acc_r[i, 0] * acc_r[i, 0] + acc_r[i, 1] * acc_r[i, 1]) + acc_r[i, 2] * acc_r[i, 2])
        else:
            x[k, 10] = nan
        x[k, 11] = nan
        moving[k] = abs(w_l) > 1.0 or abs(w_r) > 1.0 or abs(f - g) > moving_f
        k += 1
    return k


@njit
def window_peaks(time_s, values, a, b, peak, when):  # pragma: no cover - compiled
    """The maximum of each column of ``values`` (N, C; NaN where masked out) over each of the row
    windows ``a[i]:b[i]`` (E,), and its time from ``time_s`` (N,): into ``peak`` and ``when`` (E, C),
    NaN where a window holds no finite value. The first row at the maximum, NaN skipped (as
    ``hipmon.metrics._window_peaks`` states it)."""
    for e in range(a.shape[0]):
        for c in range(values.shape[1]):
            best, k, found = -np.inf, -1, False
            for r in range(a[e], b[e]):
                v = values[r, c]
                if np.isnan(v):
                    continue
                if np.isfinite(v):
                    found = True
                if v > best:
                    best, k = v, r
            if found:
                peak[e, c], when[e, c] = values[k, c], time_s[k]
            else:
                peak[e, c], when[e, c] = np.nan, np.nan


@register_jitable
def _search_sorted(t, v, right):  # pragma: no cover - compiled
    """``np.searchsorted(t, v, side)`` on an increasing ``t`` without NaN: the first row at or after
    ``v`` (``right``: after it); a NaN ``v`` sorts after every time, as numpy sorts it."""
    if np.isnan(v):
        return t.shape[0]
    lo, hi = 0, t.shape[0]
    while lo < hi:
        mid = lo + ((hi - lo) >> 1)
        if t[mid] < v or (right and t[mid] == v):
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit
def event_window_peaks(time_s, angles, cols, signs, valid, start, end, sides, masked, peak, when, counts,
                       rows):  # pragma: no cover - compiled
    """Every event's peaks of both sides' traces in one pass (``hipmon.metrics.events_metrics``).

    ``time_s`` (N,) s; ``angles`` (N, 9) deg; ``cols`` (2, 3) per side (left, right) the columns of
    pelvic obliquity, hip adduction and hip internal rotation, ``signs`` (2,) the sign turning the
    obliquity into that side's contralateral pelvic drop; ``valid`` (N,) bool. Event ``e``'s window
    is the rows with ``start[e] <= t <= end[e]`` (s): found by bisection (``np.searchsorted``'s
    answer) when ``time_s`` increases, else, ``masked``, tested row by row. Into ``peak`` and
    ``when`` (E, 8): per side the drop, adduction, internal rotation and their sum (deg), its first
    maximum among the window's valid rows (NaN skipped; NaN when no finite value, as
    ``window_peaks``) and its time (s); ``counts`` (E, 2): the window's valid rows and all its
    rows. ``rows`` (E, 12), for the events of ``sides`` (E,) 0 (left) or 1 (right): that side's
    drop, adduction and internal rotation, their times, the sum and its time, the percent of the
    window (``100 (t - start) / (end - start)``, NaN for an empty window) at which each of the
    first three peaks and the share of the window's rows that are valid (0 for none)."""
    n = time_s.shape[0]
    best = np.empty(8)
    k = np.empty(8, np.int64)
    found = np.empty(8, np.bool_)
    for e in range(start.shape[0]):
        s0, s1 = start[e], end[e]
        if masked:
            a, b = 0, n
        else:
            a = _search_sorted(time_s, s0, False)
            b = _search_sorted(time_s, s1, True)
            if b < a:
                b = a
        best[:] = -np.inf
        k[:] = -1
        found[:] = False
        n_ok, n_win = 0, 0
        for r in range(a, b):
            if masked:
                t = time_s[r]
                if not (t >= s0 and t <= s1):
                    continue
            n_win += 1
            if not valid[r]:
                continue
            n_ok += 1
            for side in range(2):
                add, ir = angles[r, cols[side, 1]], angles[r, cols[side, 2]]
                for j in range(4):
                    if j == 0:
                        v = signs[side] * angles[r, cols[side, 0]]
                    elif j == 1:
                        v = add
                    elif j == 2:
                        v = ir
                    else:
                        v = add + ir
                    c = 4 * side + j
                    if np.isnan(v):
                        continue
                    if np.isfinite(v):
                        found[c] = True
                    if v > best[c]:
                        best[c], k[c] = v, r
        for c in range(8):
            if found[c]:
                peak[e, c], when[e, c] = best[c], time_s[k[c]]
            else:
                peak[e, c], when[e, c] = np.nan, np.nan
        counts[e, 0], counts[e, 1] = n_ok, n_win
        if sides[e] == 0 or sides[e] == 1:
            c0 = 4 * sides[e]
            duration = s1 - s0
            for j in range(3):
                rows[e, j], rows[e, 3 + j] = peak[e, c0 + j], when[e, c0 + j]
                rows[e, 8 + j] = 100.0 * (when[e, c0 + j] - s0) / duration if duration > 0 else np.nan
            rows[e, 6], rows[e, 7] = peak[e, c0 + 3], when[e, c0 + 3]
            rows[e, 11] = n_ok / n_win if n_win > 0 else 0.0
