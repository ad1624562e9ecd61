"""Compiled inner loops of the heading tracker (``hipmon.heading``).

The thigh/rest pass of :class:`hipmon.heading.HeadingTracker` walks a chunk sample by sample
with its state in small arrays (so any chunking gives the same numbers), doing the same IEEE
operations in the same order as the vectorised numpy it replaced: per-sample products and
sums written out as ``hipmon.rotations`` computes them, block sums as numpy's pairwise
summation (:func:`pairwise_sum`, :func:`pairwise_sum_complex`), ``cos``/``sin`` from the C
library as numpy's (numpy's float64 ``sin``/``cos`` and complex ``exp`` are the C library's
here, bit for bit). What it cannot reproduce is left to numpy: ``arctan2``/``arcsin`` (numpy
uses SIMD SVML versions on this CPU, ~1 ulp from the C library) and ``einsum``; i.e. the twist
of a rest reset (the kernel stops and asks for it), the pelvis yaw (``HeadingTracker.apply``
runs that feedback block by block) and the angles (the kernels compute their arguments).
"""

from __future__ import annotations

import math

import numpy as np

from hipmon.jit import njit

# float state (HeadingTracker._fs)
F_GAMMA_L, F_GAMMA_R, F_RATE_L, F_RATE_R, F_REF_L, F_REF_R = 0, 1, 2, 3, 4, 5
F_SUM_RE_L, F_SUM_IM_L, F_SUM_RE_R, F_SUM_IM_R = 6, 7, 8, 9  # rest sums waiting for their twist
F_TWIST_L, F_TWIST_R = 10, 11  # the twists numpy computed from them (set before resuming)
N_F = 12
# int state (HeadingTracker._is)
I_NBLK, I_LOST_L, I_LOST_R, I_LAST_GAIT = 0, 1, 2, 3  # open update block
I_REST_N, I_REST_OK, I_REST_LOST_L, I_REST_LOST_R, I_STILL = 4, 5, 6, 7, 8  # open stillness sub-block
I_PENDING, I_PENDING_END, I_PENDING_LOST_L, I_PENDING_LOST_R = 9, 10, 11, 12  # a reset waiting for its twists
I_POS, I_NREC, I_NRES = 13, 14, 15  # position in the chunk; records written so far
N_I = 16
# configuration (floats)
C_BS, C_RS, C_REST_ON, C_RATE, C_MIN_RATE2, C_MAX_CORR, C_THIGH_ON, C_THIGH_RATE, C_TAU = 0, 1, 2, 3, 4, 5, 6, 7, 8
C_REST_MIN, C_TWIST_LIM = 9, 10
N_C = 11
# block-end records (rows): end index, moving, γL, γR, samples in the block
R_END, R_MOVING, R_GAMMA_L, R_GAMMA_R, R_N = 0, 1, 2, 3, 4
N_R = 5


@njit
def pairwise_sum(a, n):
    """``np.sum(a[:n])`` of a contiguous float64 array bit for bit (numpy's ``pairwise_sum``:
    8 accumulators up to 128 elements, halves split at a multiple of 8 above)."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
        r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
        i = 8
        m = n - n % 8
        while i < m:
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_sum(a, n2) + pairwise_sum(a[n2:], n - n2)


@njit
def pairwise_sum_complex(re, im, m):
    """``np.sum`` of the complex array ``re[:m] + 1j·im[:m]`` bit for bit, as (real, imag)
    (numpy's complex ``pairwise_sum``: 4 accumulators per part up to 64 elements)."""
    n = 2 * m
    if n < 8:
        rr = -0.0
        ri = -0.0
        for k in range(m):
            rr += re[k]
            ri += im[k]
        return rr, ri
    if n <= 128:
        a0, b0, a1, b1 = re[0], im[0], re[1], im[1]
        a2, b2, a3, b3 = re[2], im[2], re[3], im[3]
        k = 4
        mm = (n - n % 8) // 2
        while k < mm:
            a0 += re[k]
            b0 += im[k]
            a1 += re[k + 1]
            b1 += im[k + 1]
            a2 += re[k + 2]
            b2 += im[k + 2]
            a3 += re[k + 3]
            b3 += im[k + 3]
            k += 4
        rr = (a0 + a1) + (a2 + a3)
        ri = (b0 + b1) + (b2 + b3)
        while k < m:
            rr += re[k]
            ri += im[k]
            k += 1
        return rr, ri
    n2 = n // 2
    n2 -= n2 % 8
    m2 = n2 // 2
    rr1, ri1 = pairwise_sum_complex(re, im, m2)
    rr2, ri2 = pairwise_sum_complex(re[m2:], im[m2:], m - m2)
    return rr1 + rr2, ri1 + ri2


@njit
def _block_end(k, fs, ist, cfg, blk, rec):
    """End of an update block at grid index ``k``: gait decision, PI feedback of the thigh headings,
    one record (``rec``; the pelvis/travel feedback is the caller's)."""
    nblk = ist[I_NBLK]
    nb = float(nblk)
    dt_block = nb / cfg[C_RATE]
    sxz_l = pairwise_sum(blk[0], nblk)
    szz_l = pairwise_sum(blk[1], nblk)
    sxz_r = pairwise_sum(blk[2], nblk)
    szz_r = pairwise_sum(blk[3], nblk)
    lost_l = ist[I_LOST_L] != 0
    lost_r = ist[I_LOST_R] != 0
    if lost_l or lost_r:
        gait = ist[I_LAST_GAIT] != 0  # a thigh without data cannot say; walking goes on as it was
    else:
        lr_corr = 0.0
        if szz_l > 0 and szz_r > 0:
            d = math.sqrt(szz_l * szz_r)  # 0 if the product underflows: numpy's x / 0.0 then
            lr_corr = pairwise_sum(blk[4], nblk) / d if d != 0.0 else pairwise_sum(blk[4], nblk) * math.inf
        gait = lr_corr < cfg[C_MAX_CORR]
        ist[I_LAST_GAIT] = 1 if gait else 0
    moving = False
    for side in range(2):
        if (lost_l if side == 0 else lost_r):
            continue
        sxz = sxz_l if side == 0 else sxz_r
        szz = szz_l if side == 0 else szz_r
        if gait and nb > 0 and szz / nb >= cfg[C_MIN_RATE2]:
            moving = True
            if cfg[C_THIGH_ON] != 0:
                e = sxz / szz - fs[F_REF_L + side]
                tau = cfg[C_TAU]
                if cfg[C_THIGH_RATE] != 0:
                    fs[F_RATE_L + side] -= dt_block * e / (tau * tau)
                    fs[F_GAMMA_L + side] += dt_block * (fs[F_RATE_L + side] - 2.0 * e / tau)
                else:
                    fs[F_GAMMA_L + side] -= dt_block * e / tau
    j = ist[I_NREC]
    rec[j, R_END] = k
    rec[j, R_MOVING] = 1.0 if moving else 0.0
    rec[j, R_GAMMA_L] = fs[F_GAMMA_L]
    rec[j, R_GAMMA_R] = fs[F_GAMMA_R]
    rec[j, R_N] = nb
    ist[I_NREC] = j + 1
    ist[I_NBLK] = 0
    ist[I_LOST_L] = 0
    ist[I_LOST_R] = 0


@njit
def thigh_pass(k0, qp, ql, qr, gp, gl, gr, valid_l, valid_r, still, tw_l, tw_r,
               fs, ist, cfg, blk, rbuf, g_th, rec, resets):
    """Walk samples ``ist[I_POS]..N-1`` of a chunk starting at grid index ``k0``.

    Inputs (N rows): ``qp``/``ql``/``qr`` (N, 4) ``q_segment_global`` of pelvis and thighs,
    ``gp``/``gl``/``gr`` (N, 3) their angular rates (rad/s, segment frames), ``valid_*`` (N,)
    bool, ``still`` (N,) bool and ``tw_*`` (N,) rad (stillness and uncorrected relative twists,
    ``HeadingTracker._rest_inputs``). State: ``fs``, ``ist`` (the ``F_*``/``I_*`` slots), ``blk``
    (5, block samples) the open block's per-sample terms, ``rbuf`` (4, rest samples) the open
    stillness sub-block's unit vectors. Outputs: ``g_th`` (2, N) the thigh corrections (rad) in
    force at each sample, ``rec`` block-end records, ``resets`` (·, 3) rest resets.

    Returns True when done; False when it stopped at a rest reset whose twists numpy must
    compute (``fs[F_SUM_*]``): set ``fs[F_TWIST_*]`` and call it again (it resumes there).
    """
    n = qp.shape[0]
    bs = int(cfg[C_BS])
    rs = int(cfg[C_RS])
    rest_on = cfg[C_REST_ON] != 0
    i0 = ist[I_POS]
    if ist[I_PENDING] != 0:  # resume: the reset at index i0 first, then that index's block end
        ist[I_PENDING] = 0
        t_l, t_r = fs[F_TWIST_L], fs[F_TWIST_R]
        if not (abs(t_l) > cfg[C_TWIST_LIM] or abs(t_r) > cfg[C_TWIST_LIM]):
            if ist[I_PENDING_LOST_L] == 0:
                fs[F_GAMMA_L] -= t_l
            if ist[I_PENDING_LOST_R] == 0:
                fs[F_GAMMA_R] -= t_r
            j = ist[I_NRES]
            resets[j, 0] = ist[I_PENDING_END]
            resets[j, 1] = -t_l
            resets[j, 2] = -t_r
            ist[I_NRES] = j + 1
        if (k0 + i0) % bs == 0:
            _block_end(k0 + i0, fs, ist, cfg, blk, rec)
    g_l, g_r = fs[F_GAMMA_L], fs[F_GAMMA_R]
    c_l, s_l, c_r, s_r = math.cos(g_l), math.sin(g_l), math.cos(g_r), math.sin(g_r)
    for i in range(i0, n):
        # the thigh's rate relative to the pelvis in the pelvis frame under the current γ:
        # w = R_pelvisᵀ · Ry(γ) · (R_thigh · ω_thigh) − ω_pelvis (its X and Z rows)
        w, x, y, z = qp[i, 0], qp[i, 1], qp[i, 2], qp[i, 3]
        r00 = 1.0 - 2.0 * (y * y + z * z)
        r10 = 2.0 * (x * y + w * z)
        r20 = 2.0 * (x * z - w * y)
        r02 = 2.0 * (x * z + w * y)
        r12 = 2.0 * (y * z - w * x)
        r22 = 1.0 - 2.0 * (x * x + y * y)
        wz_lr = 1.0
        nb = ist[I_NBLK]
        for side in range(2):
            q = ql if side == 0 else qr
            g = gl if side == 0 else gr
            c = c_l if side == 0 else c_r
            s = s_l if side == 0 else s_r
            w, x, y, z = q[i, 0], q[i, 1], q[i, 2], q[i, 3]
            v0, v1, v2 = g[i, 0], g[i, 1], g[i, 2]
            t0 = 2.0 * (y * v2 - z * v1)
            t1 = 2.0 * (z * v0 - x * v2)
            t2 = 2.0 * (x * v1 - y * v0)
            ux = v0 + w * t0 + (y * t2 - z * t1)
            uy = v1 + w * t1 + (z * t0 - x * t2)
            uz = v2 + w * t2 + (x * t1 - y * t0)
            vx = c * ux + s * uz
            vz = -s * ux + c * uz
            wx = r00 * vx + r10 * uy + r20 * vz - gp[i, 0]
            wz = r02 * vx + r12 * uy + r22 * vz - gp[i, 2]
            blk[2 * side, nb] = wx * wz
            blk[2 * side + 1, nb] = wz * wz
            wz_lr = wz if side == 0 else wz_lr * wz
        blk[4, nb] = wz_lr
        ist[I_NBLK] = nb + 1
        if not valid_l[i]:
            ist[I_LOST_L] = 1
        if not valid_r[i]:
            ist[I_LOST_R] = 1
        g_th[0, i] = g_l
        g_th[1, i] = g_r
        k = k0 + i + 1  # the boundary after this sample
        if rest_on:
            m = ist[I_REST_N]
            ist[I_REST_N] = m + 1
            if not valid_l[i]:
                ist[I_REST_LOST_L] = 1
            if not valid_r[i]:
                ist[I_REST_LOST_R] = 1
            if not still[i]:
                ist[I_REST_OK] = 0
            else:  # the mean heading as a unit vector, with the current correction (it adds to the twist)
                a_l = tw_l[i] + g_l
                a_r = tw_r[i] + g_r
                rbuf[0, m] = math.cos(a_l)
                rbuf[1, m] = math.sin(a_l)
                rbuf[2, m] = math.cos(a_r)
                rbuf[3, m] = math.sin(a_r)
            if k % rs == 0:  # end of a stillness sub-block
                m = ist[I_REST_N]
                ok = ist[I_REST_OK] != 0
                lost_l, lost_r = ist[I_REST_LOST_L], ist[I_REST_LOST_R]
                ist[I_REST_N] = 0
                ist[I_REST_OK] = 1
                ist[I_REST_LOST_L] = 0
                ist[I_REST_LOST_R] = 0
                if not ok or m == 0:
                    ist[I_STILL] = 0
                else:
                    ist[I_STILL] += m
                    if not ist[I_STILL] < cfg[C_REST_MIN]:
                        fs[F_SUM_RE_L], fs[F_SUM_IM_L] = pairwise_sum_complex(rbuf[0], rbuf[1], m)
                        fs[F_SUM_RE_R], fs[F_SUM_IM_R] = pairwise_sum_complex(rbuf[2], rbuf[3], m)
                        ist[I_PENDING] = 1
                        ist[I_PENDING_END] = k
                        ist[I_PENDING_LOST_L] = lost_l
                        ist[I_PENDING_LOST_R] = lost_r
                        ist[I_POS] = i + 1
                        return False
        if k % bs == 0:
            _block_end(k, fs, ist, cfg, blk, rec)
            g_l, g_r = fs[F_GAMMA_L], fs[F_GAMMA_R]
            c_l, s_l, c_r, s_r = math.cos(g_l), math.sin(g_l), math.cos(g_r), math.sin(g_r)
    ist[I_POS] = n
    return True


@njit
def rest_flags(qp, ql, qr, gyr2, max_gyr2, min_up_pelvis, min_up_thigh, still, idx, args):
    """Per sample: ``still`` (N,) = every segment's squared rate ``gyr2`` (3, N) below ``max_gyr2``
    and every segment upright (``up_alignment`` above ``min_up_*``); for the still samples, in
    order (their indices in ``idx``), ``args`` (4, ·) the y and w components of
    ``multiply(conjugate(qp), ql)`` and of ``(…, qr)`` (``relative_twist_about_up``'s arctan2
    arguments). Returns how many samples are still."""
    m = 0
    for i in range(qp.shape[0]):
        ok = gyr2[0, i] < max_gyr2 and gyr2[1, i] < max_gyr2 and gyr2[2, i] < max_gyr2
        pw, px, py, pz = qp[i, 0], -qp[i, 1], -qp[i, 2], -qp[i, 3]  # the pelvis's conjugate
        ok = ok and 1.0 - 2.0 * (qp[i, 1] * qp[i, 1] + qp[i, 3] * qp[i, 3]) > min_up_pelvis
        ok = ok and 1.0 - 2.0 * (ql[i, 1] * ql[i, 1] + ql[i, 3] * ql[i, 3]) > min_up_thigh
        ok = ok and 1.0 - 2.0 * (qr[i, 1] * qr[i, 1] + qr[i, 3] * qr[i, 3]) > min_up_thigh
        still[i] = ok
        if ok:
            idx[m] = i
            for side in range(2):
                q = ql if side == 0 else qr
                qw, qx, qy, qz = q[i, 0], q[i, 1], q[i, 2], q[i, 3]
                args[2 * side, m] = pw * qy - px * qz + py * qw + pz * qx
                args[2 * side + 1, m] = pw * qw - px * qx - py * qy - pz * qz
            m += 1
    return m


@njit
def rotate_about_up(g_a, g_b, add_b, q, out):
    """``out = multiply(heading_about_global_up(g), q)`` (N, 4) with ``g = g_a + g_b`` (rad, (N,);
    ``g_a`` alone unless ``add_b``), as ``hipmon.rotations`` computes it (the zero components
    of the heading quaternion included). ``g`` is piecewise constant: cos/sin only where it changes."""
    zero = 0.0
    g_prev = math.nan
    pw = py = 0.0
    for i in range(q.shape[0]):
        g = g_a[i] + g_b[i] if add_b else g_a[i]
        if g != g_prev:
            h = g / 2.0
            pw, py = math.cos(h), math.sin(h)
            g_prev = g
        px, pz = zero, zero
        qw, qx, qy, qz = q[i, 0], q[i, 1], q[i, 2], q[i, 3]
        out[i, 0] = pw * qw - px * qx - py * qy - pz * qz
        out[i, 1] = pw * qx + px * qw + py * qz - pz * qy
        out[i, 2] = pw * qy - px * qz + py * qw + pz * qx
        out[i, 3] = pw * qz + px * qy - py * qx + pz * qw


@njit
def wrapped_yaw_terms(yaw0, gp, s, c):
    """``s = sin(yaw0 + gp)``, ``c = cos(yaw0 + gp)`` ((N,) each): the parts of
    ``np.exp(1j * (yaw0 + gp))`` (numpy's complex exp of a purely imaginary number is the C
    library's cos and sin); ``np.arctan2(s, c)`` is then ``np.angle`` of it."""
    for i in range(yaw0.size):
        x = yaw0[i] + gp
        s[i] = math.sin(x)
        c[i] = math.cos(x)


@njit
def sum_min_max(a, n):
    """``np.sum(a[:n])`` (pairwise, bit for bit), ``a[:n].min()`` and ``.max()`` (NaN if any is NaN)."""
    lo, hi = math.inf, -math.inf
    nan = False
    for i in range(n):
        v = a[i]
        if v != v:
            nan = True
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    if nan:
        lo = hi = math.nan
    return pairwise_sum(a, n), lo, hi
