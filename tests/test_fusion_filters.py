"""Every filter hipmon offers is as good as the default (VQF) within 1.5x, or refused with a reason.

Numbers against ground truth on a short simulated run (the simulator's default
sensor errors: gyroscope bias of about 1 deg/s per axis, noise, scale errors), and
the mechanisms that make the ``ahrs`` adapters good (rest bias, accelerometer
low-pass in a gyroscope frame) each checked on their own. Full tables:
``benchmarks/bench_filters.py`` and ``docs/fusion.md``.
"""

from __future__ import annotations

import numpy as np
import pytest

from hipmon import rotations as R
from hipmon.fusion import OFFERED_FILTERS, REFUSED, make_filter
from hipmon.fusion.preprocess import EarthFrameAccLowpass, RestBiasEstimator
from hipmon.pipeline import VQF_PARAMS, PipelineConfig, process_samples
from hipmon.simulate import simulate
from hipmon.types import PLACEMENTS, SensorSpec

RATIO = 1.5  # the bound of issue 10: every offered filter within 1.5x the default's error
OFFERED_6D_AHRS = [n for n in OFFERED_FILTERS if n != "vqf" and not n.endswith("9d")]


@pytest.fixture(scope="module")
def run_sim():
    return simulate("run", 25.0, 3, mounting="random")


def _inclination_rmse_deg(sim, name: str, **params) -> dict[str, float]:
    """Per sensor, RMSE (deg) of the angle between the estimated and the true vertical, after 5 s."""
    out = {}
    for p in PLACEMENTS:
        s = sim.sensors[p]
        q = make_filter(name, s.rate_hz, **params).update(s.acc_sensor, s.gyr_sensor)
        idx = np.clip(np.round(s.time_session_s * sim.truth_rate_hz).astype(int), 0, sim.truth_time_s.size - 1)
        q_mount = s.q_sensor_segment if s.q_sensor_segment_t is None else s.q_sensor_segment_t
        q_true = R.multiply(sim.q_segment_global[p][idx], q_mount)
        up_est = R.rotate(R.conjugate(q), np.array([0.0, 0.0, 1.0]))
        up_true = R.rotate(R.conjugate(q_true), np.array([0.0, 1.0, 0.0]))
        e = np.degrees(np.arccos(np.clip(np.sum(up_est * up_true, axis=1), -1.0, 1.0)))
        k = s.time_session_s > 5.0
        out[p] = float(np.sqrt(np.mean(e[k] ** 2)))
    return out


@pytest.fixture(scope="module")
def vqf_inclination(run_sim):
    return _inclination_rmse_deg(run_sim, "vqf", **VQF_PARAMS)


@pytest.mark.parametrize("name", OFFERED_6D_AHRS)
def test_offered_filter_inclination_within_bound_of_vqf(run_sim, vqf_inclination, name):
    """Each sensor's inclination error on a simulated run: at most 1.5x VQF's (plus 0.3° for noise-level numbers)."""
    err = _inclination_rmse_deg(run_sim, name)
    for p in PLACEMENTS:
        assert err[p] <= RATIO * vqf_inclination[p] + 0.3, (name, p, err[p], vqf_inclination[p])


def test_ahrs_without_the_adapter_mechanisms_is_far_off(run_sim, vqf_inclination):
    """The library filter as is (no rest bias, per-sample normalised accelerometer) drifts with the gyro bias:
    the bound above is not trivially met."""
    err = _inclination_rmse_deg(run_sim, "madgwick", rest_bias=False, acc_tau_s=0.0)
    assert max(err.values()) > 3.0 * max(vqf_inclination.values()), (err, vqf_inclination)


def _angles_rmse(sim, result) -> np.ndarray:
    f = result.frames
    truth = np.stack([np.interp(f.time_s, sim.truth_time_s, sim.truth_angles_deg[:, c]) for c in range(9)], 1)
    err = f.angles_deg[f.valid] - truth[f.valid]
    err[:, 2] = (err[:, 2] + 180.0) % 360.0 - 180.0
    return np.sqrt(np.mean(err**2, axis=0))


def _samples(sim):
    samples = {p: (sim.sensors[p].time_session_s, sim.sensors[p].acc_sensor, sim.sensors[p].gyr_sensor, None)
               for p in PLACEMENTS}
    return samples, [SensorSpec(p, p, None, sim.sensors[p].rate_hz) for p in PLACEMENTS]


@pytest.fixture(scope="module")
def walk_sim():
    return simulate("walk", 20.0, 2, mounting="random")


@pytest.mark.parametrize("name", OFFERED_6D_AHRS)
def test_offered_filter_angles_within_bound_of_vqf_through_the_offline_second_pass(walk_sim, name):
    """The whole pipeline with the pipeline's own settings (VQF's ``biasClip`` among them) and the offline
    second pass (the causal pass never calibrates): it runs, and the largest angle RMSE against the truth
    is within 1.5x VQF's. This is the path that crashed with ``--filter madgwick``."""
    samples, specs = _samples(walk_sim)
    base = dict(events=False, calibration_check_s=1e6)  # no causal calibration: the second pass does it
    ref = process_samples(samples, specs, PipelineConfig(**base))
    res = process_samples(samples, specs, PipelineConfig(filter=name, **base))
    assert ref.second_pass and res.second_pass
    assert res.frames.valid.mean() > 0.9
    e_ref, e = _angles_rmse(walk_sim, ref), _angles_rmse(walk_sim, res)
    assert e.max() <= RATIO * e_ref.max() + 0.3, (name, e.round(2), e_ref.round(2))


def test_export_cli_with_madgwick(tmp_path, walk_sim):
    """``hipmon export SIMDIR --filter madgwick`` end to end: exit 0, angles for the session, and the
    largest angle RMSE against the truth within 1.5x the default export's."""
    from hipmon.cli import main
    from hipmon.types import ANGLE_COLUMNS

    walk_sim.write_dir(tmp_path / "sim")
    worst = {}
    for name in ("vqf", "madgwick"):
        out = tmp_path / f"angles-{name}.csv"
        assert main(["export", str(tmp_path / "sim"), "--angles", str(out), "--filter", name]) == 0
        a = np.genfromtxt(out, delimiter=",", names=True)
        ok = np.isfinite(a["hip_flexion_right_deg"])
        assert ok.mean() > 0.9
        rmse = [np.sqrt(np.mean((a[c][ok] - np.interp(a["time_s"][ok], walk_sim.truth_time_s,
                                                       walk_sim.truth_angles_deg[:, i])) ** 2))
                for i, c in enumerate(ANGLE_COLUMNS) if c != "pelvis_rotation_deg"]
        worst[name] = max(rmse)
    assert worst["madgwick"] <= RATIO * worst["vqf"] + 0.3, worst


def test_pipeline_refuses_a_refused_filter(walk_sim):
    """``filter="madgwick", use_mag=True`` asks for a refused filter: ValueError, one line with the reason."""
    samples, specs = _samples(walk_sim)
    samples = {p: (*v[:3], walk_sim.sensors[p].mag_sensor) for p, v in samples.items()}
    with pytest.raises(ValueError) as exc:
        process_samples(samples, specs, PipelineConfig(filter="madgwick", use_mag=True, events=False))
    msg = str(exc.value)
    assert "madgwick9d" in msg and "refused" in msg and "magnetic" in msg and "\n" not in msg


def test_settings_of_another_filter_are_left_out_and_typos_named():
    f = make_filter("madgwick", 100.0, **VQF_PARAMS, gain=0.05)
    assert f.params["gain"] == 0.05 and f.ignored_params == VQF_PARAMS
    g = make_filter("vqf", 100.0, gain=0.05, tauAcc=2.0)
    assert g.params["tauAcc"] == 2.0 and g.ignored_params == {"gain": 0.05}
    with pytest.raises(TypeError, match="biasclip"):
        make_filter("madgwick", 100.0, biasclip=8.0)


def test_refused_filters_give_a_clear_one_line_reason():
    assert REFUSED, "the refused list documents what hipmon will not run"
    for name, reason in REFUSED.items():
        with pytest.raises(ValueError) as exc:
            make_filter(name, 100.0)
        msg = str(exc.value)
        assert name in msg and reason in msg and "\n" not in msg
        family = name[:-2]
        with pytest.raises(ValueError, match="refused"):
            make_filter(family, 100.0, use_mag=True)


def test_rest_bias_estimate_is_the_gyro_offset_and_chunkable():
    """3 s at rest with a 2 deg/s offset, then motion: the estimate is the offset (to noise level) from
    1.5 s of rest on, held through the motion; chunked calls give the one-call result exactly."""
    rate = 100.0
    rng = np.random.default_rng(0)
    bias = np.radians([2.0, -1.0, 1.5])
    n_rest, n_move = 300, 500
    t = np.arange(n_move) / rate
    gyr = np.vstack([np.zeros((n_rest, 3)), np.stack([3 * np.sin(5 * t), np.cos(4 * t), 0 * t], 1)])
    gyr = gyr + bias + rng.normal(0, 0.003, gyr.shape)
    acc = np.tile([0.0, 0.0, 9.81], (n_rest + n_move, 1)) + rng.normal(0, 0.03, gyr.shape)
    acc[n_rest:] += np.stack([4 * np.sin(7 * t), 0 * t, 3 * np.cos(6 * t)], 1)
    est = RestBiasEstimator(rate)
    b, rest = est.update(acc, gyr)
    assert not rest[:140].any() and rest[160:n_rest].all() and not rest[n_rest + 20:].any()
    np.testing.assert_allclose(b[n_rest - 1], bias, atol=np.radians(0.05))
    np.testing.assert_allclose(b[-1], b[n_rest - 1], atol=np.radians(0.2))
    est2 = RestBiasEstimator(rate)
    parts = [est2.update(acc[a:z], gyr[a:z]) for a, z in ((0, 1), (1, 77), (77, 400), (400, 800))]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), b)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), rest)


def test_acc_lowpass_in_gyro_frame_recovers_gravity_in_a_rotating_sensor():
    """A sensor swinging ±40° at 1.5 Hz with a bouncing ±1 g vertical acceleration: the low-passed
    specific force, expressed in the current sensor frame, points along the true vertical (< 1°), where
    the per-sample direction is up to tens of degrees off."""
    rate = 100.0
    t = np.arange(int(20 * rate)) / rate
    angle = np.radians(40) * np.sin(2 * np.pi * 1.5 * t)
    rate_x = np.gradient(angle, t)
    gyr = np.stack([rate_x, 0 * t, 0 * t], 1)
    q = R.integrate_gyr(R.from_axis_angle([1, 0, 0], angle[0]), gyr[1:], 1 / rate)  # q_sensor_earth
    f_earth = np.stack([3 * np.sin(2 * np.pi * 3 * t), 0 * t, 9.81 + 9.81 * np.sin(2 * np.pi * 3 * t + 0.3)], 1)
    acc = R.rotate(R.conjugate(q), f_earth)
    up_true = R.rotate(R.conjugate(q), np.array([0.0, 0.0, 1.0]))
    lp = EarthFrameAccLowpass(rate, 3.0).update(acc, gyr)

    def off_deg(v):
        c = np.sum(v * up_true, 1) / np.linalg.norm(v, axis=1)
        return np.degrees(np.arccos(np.clip(c, -1, 1)))

    late = t > 12.0
    assert off_deg(lp)[late].max() < 1.0
    assert off_deg(acc)[late].max() > 15.0
    f2 = EarthFrameAccLowpass(rate, 3.0)
    parts = [f2.update(acc[a:z], gyr[a:z]) for a, z in ((0, 3), (3, 999), (999, 2000))]
    np.testing.assert_allclose(np.concatenate(parts), lp, rtol=0, atol=1e-12)
