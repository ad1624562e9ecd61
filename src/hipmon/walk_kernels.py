"""Compiled per-sample loop of the walking detector (``hipmon.gait_events.PelvisStepDetector``)
and of the confirmation of its stances (``hipmon.events.EventDetector``), with ``hipmon.jit``.

The same decisions in the same IEEE arithmetic as the Python detector it replaced (kept as
tests/gait_events_reference.py, the oracle): Python's ``min``/``max`` tie rules, ``np.argmin``/
``np.argmax``'s first of equal values, ``np.searchsorted``'s bisection and ``np.mean`` as numpy's
pairwise sum divided by the count (``hipmon.heading_kernels.pairwise_sum``). The state (trough,
last three step peaks, open stances, stances waiting for their confirmation) is one vector
carried from call to call, so any chunking gives the same events.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from hipmon.event_kernels import _lower_bound
from hipmon.heading_kernels import pairwise_sum
from hipmon.jit import njit

G = 9.81
#: ``History`` columns read here (``hipmon.gait_events.H_*``).
_T, _FL, _FR, _WANT, _WUP, _AL, _AR, _S = 0, 5, 6, 7, 8, 9, 10, 11
#: Sides of ``walk_run``'s open stances and output rows.
LEFT, RIGHT = 0.0, 1.0

#: ``walk_run``'s state vector: the header (the box means' counts and running sums, the last time
#: in flight, the trough, the last three step peaks, counts), then room for ``cap`` open stances (IC s,
#: side, stride s, peak s) and ``cap`` queued stances (side, IC s, toe-off s, stride s), oldest first;
#: ``cap`` (``CAP`` to start with) follows from the vector's length (``grown`` doubles it).
(WS_B1_COUNT, WS_B1_SUM, WS_B2_COUNT, WS_B2_SUM, WS_LAST_FLIGHT, WS_TROUGH, WS_N_PEAKS, WS_PEAK0, WS_PEAK1,
 WS_PEAK2, WS_N_OPEN, WS_HAS_LAST_IC, WS_VOTES, WS_N_IN_BOUT, WS_N_QUEUE) = range(15)
WS_HEAD = 15
CAP = 16
WS_OPEN = WS_HEAD
#: ``walk_run``'s parameters.
(WP_MIN_RISE, WP_MIN_STEP, WP_MAX_STEP, WP_DS_FRACTION, WP_SIDE_WINDOW, WP_HS_BEFORE, WP_HS_AFTER, WP_HS_MIN,
 WP_CONFIRM, WP_WANT, WP_HOLD) = range(11)
WP_SIZE = 11


def walk_state() -> np.ndarray:
    """A new detector's state: empty box means, no flight yet, trough +inf, no peaks, nothing open or queued."""
    s = np.zeros(WS_HEAD + 8 * CAP)
    s[WS_TROUGH] = np.inf
    s[WS_LAST_FLIGHT] = -np.inf
    return s


def grown(state: np.ndarray) -> np.ndarray:
    """``state`` with room for twice as many open and queued stances (the same contents)."""
    cap = (state.size - WS_HEAD) // 8
    s = np.zeros(WS_HEAD + 16 * cap)
    s[:WS_HEAD + 4 * cap] = state[:WS_HEAD + 4 * cap]
    s[WS_HEAD + 8 * cap:WS_HEAD + 12 * cap] = state[WS_HEAD + 4 * cap:]
    return s


@register_jitable
def _queue_at(state):  # pragma: no cover - compiled
    """Where the queued stances start in ``state``."""
    return WS_HEAD + 4 * ((state.shape[0] - WS_HEAD) // 8)


@register_jitable
def _box_push(state, count_at, sum_at, ring, off, n, v):  # pragma: no cover - compiled
    """Push ``v`` into the running mean of the last ``n`` values whose count and sum are
    ``state[count_at]``, ``state[sum_at]`` and values ``ring[off:off + n]``: the mean after it, NaN
    until ``n`` values have come. The sum adds ``v``, then the value leaving (negated) or 0.0, as
    the Python detector's sequential ``cumsum`` did (tests/gait_events_reference.py ``_BoxMean``)."""
    c = int(state[count_at])
    j = off + c % n
    s = state[sum_at] + v
    s = s + (-ring[j] if c >= n else 0.0)
    ring[j] = v
    state[count_at] = c + 1
    state[sum_at] = s
    return s / n if c + 1 >= n else np.nan


@register_jitable
def _mean(buf, m):  # pragma: no cover - compiled
    """``np.mean(buf[:m])`` (m >= 1): numpy's pairwise sum over the count."""
    return pairwise_sum(buf, m) / m


@register_jitable
def _side(x, a, b, ic, window, buf):  # pragma: no cover - compiled
    """Side (``LEFT``/``RIGHT``) of the IC at ``ic`` (s) from the rows ``a..b-1`` of ``x``: the more
    flexed hip at the row nearest ``ic`` within ``window``, else the pelvis rates'
    ``side_from_pelvis_rates``, else right (the reference's fallback: its last side is never set)."""
    near = -1
    best = np.inf
    for r in range(a, b):
        d = abs(x[r, _T] - ic)
        if d <= window:
            if near < 0 or d < best:  # the first of equally near, as np.argmin gives
                near, best = r, d
    if near < 0:
        return RIGHT
    fl, fr = x[near, _FL], x[near, _FR]
    if np.isfinite(fl) and np.isfinite(fr):
        return LEFT if fl > fr else RIGHT
    # side_from_pelvis_rates over the rows within the window
    lo_t, hi_t = ic - window, ic + window
    n_before = n_after = 0
    for r in range(a, b):
        t = x[r, _T]
        if abs(t - ic) <= window:
            if t >= lo_t and t < ic:
                n_before += 1
            if t >= ic and t <= hi_t:
                n_after += 1
    if n_before == 0 or n_after == 0:
        return RIGHT
    for col in (_WANT, _WUP):
        m = 0
        for r in range(a, b):
            t = x[r, _T]
            if abs(t - ic) <= window and t >= ic and t <= hi_t:
                buf[m] = x[r, col]
                m += 1
        mean_after = _mean(buf, m)
        m = 0
        for r in range(a, b):
            t = x[r, _T]
            if abs(t - ic) <= window and t >= lo_t and t < ic:
                buf[m] = x[r, col]
                m += 1
        d = -1.0 * (mean_after - _mean(buf, m))
        if np.isfinite(d):
            return RIGHT if d > 0 else LEFT
    return RIGHT


@register_jitable
def _vote(state, x, a, b, ic, window, buf):  # pragma: no cover - compiled
    """Side of the next IC of a bout: steps alternate, the parity is the majority of the ICs' own cues."""
    own = _side(x, a, b, ic, window, buf)
    even = state[WS_N_IN_BOUT] % 2 == 0
    state[WS_VOTES] += 1.0 if (own == RIGHT) == even else -1.0
    state[WS_N_IN_BOUT] += 1.0
    if state[WS_VOTES] == 0:
        return own
    if state[WS_VOTES] > 0:
        return RIGHT if even else LEFT
    return LEFT if even else RIGHT


@register_jitable
def _heel_strike(x, a, b, ic, side, before, after, min_peak):  # pragma: no cover - compiled
    """The IC at the landing thigh's heel-strike transient near ``ic`` (s), else ``ic``."""
    col = _AL if side == LEFT else _AR
    lo_t, hi_t = ic - before, ic + after
    count = 0
    best, k = -np.inf, -1
    for r in range(a, b):
        t, v = x[r, _T], x[r, col]
        if lo_t <= t and t <= hi_t and np.isfinite(v):
            count += 1
            if k < 0 or v > best:
                best, k = v, r
    if count < 3:
        return ic
    return x[k, _T] if best - G >= min_peak else ic


@register_jitable
def _push_open(state, ic, side, stride, peak):  # pragma: no cover - compiled
    n = int(state[WS_N_OPEN])
    o = WS_OPEN + 4 * n
    state[o], state[o + 1], state[o + 2], state[o + 3] = ic, side, stride, peak
    state[WS_N_OPEN] = n + 1


@register_jitable
def _pop_open(state):  # pragma: no cover - compiled
    n = int(state[WS_N_OPEN])
    for j in range(WS_OPEN, WS_OPEN + 4 * (n - 1)):
        state[j] = state[j + 4]
    state[WS_N_OPEN] = n - 1


@register_jitable
def _queue(state, side, ic, to, stride):  # pragma: no cover - compiled
    n = int(state[WS_N_QUEUE])
    o = _queue_at(state) + 4 * n
    state[o], state[o + 1], state[o + 2], state[o + 3] = side, ic, to, stride
    state[WS_N_QUEUE] = n + 1


@register_jitable
def _peak(state, x, i, base, g_start, t_peak, params, buf):  # pragma: no cover - compiled
    """A step peak at ``t_peak`` (s) found at row ``i``: a new IC (two at a bout's first step) opened."""
    min_step, max_step, dsf, window = params[WP_MIN_STEP], params[WP_MAX_STEP], params[WP_DS_FRACTION], \
        params[WP_SIDE_WINDOW]
    before, after, hs_min = params[WP_HS_BEFORE], params[WP_HS_AFTER], params[WP_HS_MIN]
    np_ = int(state[WS_N_PEAKS])
    has_prev = np_ > 0
    prev = state[WS_PEAK0 + np_ - 1] if has_prev else np.nan
    if np_ == 3:
        state[WS_PEAK0], state[WS_PEAK1] = state[WS_PEAK1], state[WS_PEAK2]
        np_ = 2
    state[WS_PEAK0 + np_] = t_peak
    np_ += 1
    state[WS_N_PEAKS] = np_
    d = t_peak - prev
    if not has_prev or not (min_step <= d and d <= max_step):
        state[WS_N_OPEN] = 0.0
        state[WS_HAS_LAST_IC] = 0.0
        return
    # np.mean of the peak intervals within the step range (the newest always is)
    total, m = -0.0, 0
    for j in range(np_ - 1):
        s = state[WS_PEAK0 + j + 1] - state[WS_PEAK0 + j]
        if s >= min_step and s <= max_step:
            total += s
            m += 1
    stride = 2.0 * (total / m)
    half_ds = 0.5 * dsf * stride
    # the rows the detector remembers: the last 3 s after the set-up (History.since)
    b = i + 1
    a = _lower_bound(x[:, _T], max(g_start - base, 0), b, x[i, _T] - 3.0)
    n_open = int(state[WS_N_OPEN])
    if n_open == 0 or state[WS_OPEN + 4 * (n_open - 1) + 3] < prev - 1e-9:
        ic0 = prev - half_ds  # the first step of a bout: the previous peak becomes an IC too
        state[WS_VOTES], state[WS_N_IN_BOUT] = 0.0, 0.0
        side0 = _vote(state, x, a, b, ic0, window, buf)
        state[WS_N_OPEN] = 0.0
        _push_open(state, _heel_strike(x, a, b, ic0, side0, before, after, hs_min), side0, stride, prev)
    ic = t_peak - half_ds
    side = _vote(state, x, a, b, ic, window, buf)
    _push_open(state, _heel_strike(x, a, b, ic, side, before, after, hs_min), side, stride, t_peak)


@njit
def walk_run(state, ring, x, base, g0, g_start, n, in_flight, params, out, n_out):  # pragma: no cover - compiled
    """The walking detector and its stances' confirmation over the samples ``g0..base + M - 1``.

    ``state`` (``walk_state``) and ``ring`` (2 n,: the values in the two box means) are updated in
    place. ``x`` (M, 12) is the ``History`` (row ``g - base`` is stream sample ``g``); its column
    ``H_S`` receives the smoothed force (two box means of ``n`` samples of the force, NaN until they
    fill) of the samples stepped. ``g_start`` is the first sample after the set-up. ``in_flight``
    (K,) bool per stepped sample: the contact detector in flight (which drops the stances waiting;
    the detector is muted, running nearby, within ``running_hold_s`` of the last such sample).
    ``params`` (``WP_SIZE``,): min_step_rise (m/s²), min_step_s, max_step_s,
    double_support_fraction, side_window_s, heel_strike_before_s, heel_strike_after_s,
    heel_strike_min (m/s²), walk_confirm_s, want stances (1/0), running_hold_s.

    ``out`` (rows, 6) receives from row ``n_out`` on the stances confirmed (no flight
    ``walk_confirm_s`` after their toe-off), in order: sample, side (``LEFT``/``RIGHT``), IC (s),
    toe-off (s), stride (s), detected (s). Returns the rows of ``out`` filled and the first sample
    not stepped: ``base + M``, or earlier when ``state`` or ``out`` might run out of room in the
    next sample (then step on from there with ``grown(state)`` or a longer ``out``)."""
    min_rise, dsf, confirm, want = params[WP_MIN_RISE], params[WP_DS_FRACTION], params[WP_CONFIRM], \
        params[WP_WANT] != 0.0
    stop, hold = params[WP_MAX_STEP] + 0.25, params[WP_HOLD]
    t_col, s_col = x[:, _T], x[:, _S]
    buf = np.empty(x.shape[0])
    cap, q0 = (state.shape[0] - WS_HEAD) // 8, _queue_at(state)
    i0 = g0 - base
    for i in range(i0, x.shape[0]):
        g = base + i
        # room for this sample: at most 2 more open stances, each open one (and one more) queued
        # and every queued one confirmed
        n_open, n_queue = int(state[WS_N_OPEN]), int(state[WS_N_QUEUE])
        if n_open + 2 > cap or n_queue + n_open + 1 > cap or n_out + n_queue + n_open + 1 > out.shape[0]:
            return n_out, g
        t = t_col[i]
        if in_flight[i - i0]:
            state[WS_LAST_FLIGHT] = t
        mu = t - state[WS_LAST_FLIGHT] < hold
        if g >= g_start:
            # the smoothed force: a box mean of the box mean of the force
            m1 = _box_push(state, WS_B1_COUNT, WS_B1_SUM, ring, 0, n, x[i, 1])
            x[i, _S] = _box_push(state, WS_B2_COUNT, WS_B2_SUM, ring, n, n, m1) if np.isfinite(m1) else np.nan
            # stances that ended (the toe-off reached)
            while state[WS_N_OPEN] >= 2:
                to = state[WS_OPEN + 4] + dsf * state[WS_OPEN + 2]
                if not t >= to:
                    break
                if not mu and want:
                    _queue(state, state[WS_OPEN + 1], state[WS_OPEN], to, state[WS_OPEN + 2])
                state[WS_HAS_LAST_IC] = 1.0
                _pop_open(state)
            n_open = int(state[WS_N_OPEN])
            if n_open > 0 and t - state[WS_OPEN + 4 * (n_open - 1) + 3] > stop:
                # the walk stopped: the last stance ends in standing (after a real step only)
                if n_open == 1 and state[WS_HAS_LAST_IC] != 0.0 and not mu and want:
                    ic, stride = state[WS_OPEN], state[WS_OPEN + 2]
                    _queue(state, state[WS_OPEN + 1], ic, ic + (0.5 + dsf) * stride, stride)
                state[WS_N_OPEN] = 0.0
            s = s_col[i]
            if np.isfinite(s):
                sp = s_col[i - 1] if g - 1 >= g_start else np.nan
                sp2 = s_col[i - 2] if g - 2 >= g_start else np.nan
                if s < state[WS_TROUGH]:
                    state[WS_TROUGH] = s
                if mu:
                    state[WS_N_PEAKS] = 0.0
                    state[WS_N_OPEN] = 0.0
                elif np.isfinite(sp) and np.isfinite(sp2) and sp2 < sp and sp >= s \
                        and sp - state[WS_TROUGH] >= min_rise:
                    state[WS_TROUGH] = s
                    _peak(state, x, i, base, g_start, t_col[max(g - n, g_start) - base], params, buf)
        # walking has no flight: a stance is confirmed when none follows within walk_confirm_s
        if in_flight[i - i0]:
            state[WS_N_QUEUE] = 0.0
        while state[WS_N_QUEUE] > 0 and t >= state[q0 + 2] + confirm:
            row = out[n_out]
            row[0], row[1], row[2] = g, state[q0], state[q0 + 1]
            row[3], row[4], row[5] = state[q0 + 2], state[q0 + 3], t
            n_out += 1
            nq = int(state[WS_N_QUEUE])
            for j in range(q0, q0 + 4 * (nq - 1)):
                state[j] = state[j + 4]
            state[WS_N_QUEUE] = nq - 1
    return n_out, base + x.shape[0]
