"""The heading tracker as it was before its compiled kernel (``hipmon.heading`` at f04c4ce), kept
as the oracle of tests/test_heading_kernel.py: vectorised numpy per update block, the per-sample
terms of the open block kept as lists of arrays and summed with ``np.sum`` at its end."""

from __future__ import annotations

from typing import Any

import numpy as np

from hipmon import kinematics as kin
from hipmon import rotations as rot
from hipmon.heading import (HeadingConfig, flexion_axis_lean, heading_about_global_up, relative_rate_in_pelvis,
                            relative_twist_about_up, up_alignment)


def _block_sum(parts: list[np.ndarray]) -> Any:
    """Sum of a block's per-sample terms (arrays in time order): one pairwise sum over the
    whole block, so the result never depends on how the block was chunked."""
    if not parts:
        return 0.0
    return np.sum(parts[0] if len(parts) == 1 else np.concatenate(parts)).item()


class HeadingTracker:
    """Causal heading corrections for the three segments on a common grid.

    ``apply(q_segment_global, gyr_segment, rate_hz)`` takes a chunk (dicts of
    (N, 4) and (N, 3) per placement) and returns corrected ``q_segment_global``.
    Internal state: per-thigh heading corrections ``gamma_rad`` (rotation about
    global Y applied to the thigh), the pelvis/travel correction ``gamma_pelvis_rad``
    (applied to all segments), and the reference slopes captured by
    ``set_reference`` at calibration.
    """

    def __init__(self, config: HeadingConfig | None = None, rate_hz: float = 100.0) -> None:
        self.config = config or HeadingConfig()
        self.rate_hz = float(rate_hz)
        #: grid samples per update block and per stillness check (at least one)
        self.block_samples = max(int(round(self.config.block_s * self.rate_hz)), 1)
        self.rest_block_samples = max(int(round(self.config.rest_block_s * self.rate_hz)), 1)
        self.gamma_rad = {"left_thigh": 0.0, "right_thigh": 0.0}
        self.rate_rad_s = {"left_thigh": 0.0, "right_thigh": 0.0}
        self.gamma_pelvis_rad = 0.0
        self._last_gait = False
        self.reference = {"left_thigh": 0.0, "right_thigh": 0.0}
        self._acc: dict[str, list[float]] = {}
        self._reset_block()
        self.history: list[tuple[int, float, float, float]] = []  # (block end index, γL, γR, γP)
        # rest reset: the current stillness sub-block, and how long the segments have been still
        self._rest = self._empty_rest()
        self._still_samples = 0
        self.resets: list[tuple[int, float, float]] = []  # (sub-block end index, ΔγL, ΔγR)

    @staticmethod
    def _empty_rest() -> dict:
        return {"n": 0, "ok": True, "left_thigh": [], "right_thigh": [], "lost": set()}

    def _reset_block(self) -> None:
        # per-sample terms of the open block, summed when it ends (``_block_sum``): the same
        # sums whatever chunks the block came in (live 0.1 s steps, a replay's long chunks)
        self._acc = {"left_thigh": [[], []], "right_thigh": [[], []], "rot": [[]], "n": [0.0], "lr": [[]],
                     "rot_min": [np.inf], "rot_max": [-np.inf], "lost": set()}

    def set_reference(self, q_segment_global: dict, gyr_segment: dict) -> dict[str, float]:
        """Reference slopes (rad) of both thighs from the calibration movement (arrays (N, ·))."""
        for p in ("left_thigh", "right_thigh"):
            w = relative_rate_in_pelvis(q_segment_global["pelvis"], q_segment_global[p], gyr_segment["pelvis"], gyr_segment[p])
            self.reference[p], _ = flexion_axis_lean(w)
        return dict(self.reference)

    def apply(self, q_segment_global: dict, gyr_segment: dict, start_index: int,
              valid: dict | None = None) -> dict:
        """Correct a chunk starting at grid index ``start_index``; update at block ends.

        ``valid``: thigh placement -> (N,) bool, False where that thigh has no data (lost,
        or absent). A block with a thigh missing keeps the last gait decision (walking does
        not stop because a strap lost its link), leaves that thigh's heading as it is and
        updates the other thigh and the pelvis from their own data; a rest block does not
        reset a thigh that has no data.

        Vectorised: the relative rate under a thigh heading correction ``γ`` is
        ``w = R_pelvisᵀ · Ry(γ) · (R_thigh · ω_thigh) − ω_pelvis`` (the pelvis/travel
        correction cancels in it), and the pelvis rotation angle under ``γ_P`` is
        the uncorrected one plus ``γ_P`` (Cardan Y first); so per block only a
        2-D rotation and a few dot products remain.
        """
        n = q_segment_global["pelvis"].shape[0]
        valid = {p: np.ones(n, dtype=bool) if valid is None or p not in valid else np.asarray(valid[p], dtype=bool)
                 for p in ("left_thigh", "right_thigh")}
        bs = self.block_samples
        rs = self.rest_block_samples if self.config.rest_reset else bs
        qp0 = q_segment_global["pelvis"]
        rest = self._rest_inputs(q_segment_global, gyr_segment) if self.config.rest_reset else None
        rp = rot.matrix(qp0)  # (n, 3, 3)
        u = {p: rot.rotate(q_segment_global[p], gyr_segment[p]) for p in ("left_thigh", "right_thigh")}
        gp = gyr_segment["pelvis"]
        yaw0 = kin.pelvis_angles_rad(qp0)[:, 2]
        g_pel = np.empty(n)
        g_th = {"left_thigh": np.empty(n), "right_thigh": np.empty(n)}

        def thigh_terms(i0: int, i1: int) -> dict:
            """Per-sample terms of samples ``i0..i1-1`` under the current thigh corrections."""
            out: dict = {"from": i0, "gamma": dict(self.gamma_rad)}
            for p in ("left_thigh", "right_thigh"):
                g = self.gamma_rad[p]
                ux, uy, uz = u[p][i0:i1, 0], u[p][i0:i1, 1], u[p][i0:i1, 2]
                c, s_ = np.cos(g), np.sin(g)
                vx, vz = c * ux + s_ * uz, -s_ * ux + c * uz  # Ry(γ) · u
                r = rp[i0:i1]
                wx = r[:, 0, 0] * vx + r[:, 1, 0] * uy + r[:, 2, 0] * vz - gp[i0:i1, 0]
                wz = r[:, 0, 2] * vx + r[:, 1, 2] * uy + r[:, 2, 2] * vz - gp[i0:i1, 2]
                out[p] = (wx * wz, wz * wz, wz)
            out["lr"] = out["left_thigh"][2] * out["right_thigh"][2]
            return out

        def add_terms(terms: dict, i1: int) -> None:
            """Samples ``terms["from"]..i1-1`` of ``terms`` into the open block."""
            i0 = terms["from"]
            if i1 <= i0:
                return
            for p in ("left_thigh", "right_thigh"):
                g_th[p][i0:i1] = terms["gamma"][p]
                self._acc[p][0].append(terms[p][0][:i1 - i0])
                self._acc[p][1].append(terms[p][1][:i1 - i0])
            self._acc["lr"][0].append(terms["lr"][:i1 - i0])

        # one pass per update block (every per-sample term of it at once); the stillness sub-blocks
        # inside it in turn, and a rest reset there recomputes the rest of the block's terms
        i = 0
        while i < n:
            k = start_index + i
            jb = min(n, i + (bs - k % bs))
            g_pel[i:jb] = self.gamma_pelvis_rad
            for p in ("left_thigh", "right_thigh"):
                if not valid[p][i:jb].all():
                    self._acc["lost"].add(p)
            terms = thigh_terms(i, jb)
            yaw = np.angle(np.exp(1j * (yaw0[i:jb] + self.gamma_pelvis_rad)))
            self._acc["rot"][0].append(yaw)
            self._acc["rot_min"][0] = min(self._acc["rot_min"][0], float(yaw.min()))
            self._acc["rot_max"][0] = max(self._acc["rot_max"][0], float(yaw.max()))
            if rest is not None:
                a = i
                while a < jb:
                    b = min(jb, a + (rs - (start_index + a) % rs))
                    for p in ("left_thigh", "right_thigh"):
                        if not valid[p][a:b].all():
                            self._rest["lost"].add(p)
                    self._accumulate_rest(rest, slice(a, b))
                    if (start_index + b) % rs == 0:
                        before = dict(self.gamma_rad)
                        self._end_rest_block(start_index + b)
                        if self.gamma_rad != before and b < jb:
                            add_terms(terms, b)
                            terms = thigh_terms(b, jb)
                    a = b
            add_terms(terms, jb)
            self._acc["n"][0] += float(jb - i)
            if (start_index + jb) % bs == 0:
                self._update_block(start_index + jb)
            i = jb
        out = {"pelvis": rot.multiply(heading_about_global_up(g_pel), qp0)}
        for p in ("left_thigh", "right_thigh"):
            out[p] = rot.multiply(heading_about_global_up(g_pel + g_th[p]), q_segment_global[p])
        return out

    def _rest_inputs(self, q_segment_global: dict, gyr_segment: dict) -> dict:
        """Per-sample stillness and neutrality (N,) bool and the uncorrected relative twists (N,) rad."""
        c = self.config
        still = np.ones(q_segment_global["pelvis"].shape[0], dtype=bool)
        for p in ("pelvis", "left_thigh", "right_thigh"):
            still &= np.einsum("ij,ij->i", gyr_segment[p], gyr_segment[p]) < c.rest_max_gyr_rad_s**2
        still &= up_alignment(q_segment_global["pelvis"]) > np.cos(np.radians(c.rest_max_pelvis_tilt_deg))
        for p in ("left_thigh", "right_thigh"):
            still &= up_alignment(q_segment_global[p]) > np.cos(np.radians(c.rest_max_thigh_tilt_deg))
        out: dict = {"still": still}
        idx = np.flatnonzero(still)
        for p in ("left_thigh", "right_thigh"):
            tw = np.zeros(still.size)
            if idx.size:
                tw[idx] = relative_twist_about_up(q_segment_global["pelvis"][idx], q_segment_global[p][idx])
            out[p] = tw
        return out

    def _accumulate_rest(self, rest: dict, sl: slice) -> None:
        r = self._rest
        st = rest["still"][sl]
        r["n"] += int(st.size)
        if not st.all():
            r["ok"] = False
            return
        for p in ("left_thigh", "right_thigh"):
            # mean heading as a unit vector, with the current correction (it adds to the twist)
            r[p].append(np.exp(1j * (rest[p][sl] + self.gamma_rad[p])))

    def _end_rest_block(self, end_index: int) -> None:
        """End of a stillness sub-block: count still time; reset the relative headings after ``rest_min_s``."""
        c = self.config
        r = self._rest
        self._rest = self._empty_rest()
        if not r["ok"] or r["n"] == 0:
            self._still_samples = 0
            return
        self._still_samples += r["n"]
        if self._still_samples < c.rest_min_s * self.rate_hz:
            return
        twists = {p: float(np.angle(_block_sum(r[p]))) for p in ("left_thigh", "right_thigh")}
        if any(abs(t) > np.radians(c.rest_max_twist_deg) for t in twists.values()):
            return
        for p, t in twists.items():
            if p in r["lost"]:
                continue  # no data from that thigh: nothing to reset it from
            self.gamma_rad[p] -= t
        self.resets.append((end_index, -twists["left_thigh"], -twists["right_thigh"]))

    def _update_block(self, end_index: int) -> None:
        c = self.config
        nblk = self._acc["n"][0]
        dt_block = nblk / self.rate_hz
        moving = False
        sums = {p: (_block_sum(self._acc[p][0]), _block_sum(self._acc[p][1])) for p in ("left_thigh", "right_thigh")}
        szl, szr = sums["left_thigh"][1], sums["right_thigh"][1]
        lost = self._acc["lost"]
        if lost:
            gait = self._last_gait  # a thigh without data cannot say; walking goes on as it was
        else:
            lr_corr = _block_sum(self._acc["lr"][0]) / np.sqrt(szl * szr) if szl > 0 and szr > 0 else 0.0
            gait = lr_corr < c.max_left_right_correlation  # alternating thighs: walking or running
            self._last_gait = gait
        for p in ("left_thigh", "right_thigh"):
            sxz, szz = sums[p]
            if p in lost:
                continue
            if gait and nblk > 0 and szz / nblk >= c.min_flexion_rate_rad_s**2:
                moving = True
                if c.thigh:
                    # PI feedback (critically damped, natural period 2π·tau): the integral
                    # term learns the drift rate, so a constant residual bias leaves no lag
                    e = sxz / szz - self.reference[p]
                    tau = c.thigh_tau_s
                    if c.thigh_rate:
                        self.rate_rad_s[p] -= dt_block * e / (tau * tau)
                        self.gamma_rad[p] += dt_block * (self.rate_rad_s[p] - 2.0 * e / tau)
                    else:
                        self.gamma_rad[p] -= dt_block * e / tau
        if c.pelvis and moving and nblk > 0:
            mean_rot = _block_sum(self._acc["rot"][0]) / nblk
            limit = np.radians(c.pelvis_max_travel_deg)
            # a block that is all within ±limit of the calibration direction: the wrapped
            # yaws are then contiguous, their plain mean is the circular mean
            if self._acc["rot_max"][0] <= limit and self._acc["rot_min"][0] >= -limit:
                self.gamma_pelvis_rad -= (dt_block / c.pelvis_tau_s) * mean_rot
        self.history.append((end_index, self.gamma_rad["left_thigh"], self.gamma_rad["right_thigh"], self.gamma_pelvis_rad))
        self._reset_block()
