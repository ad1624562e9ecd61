"""The causal pipeline: chunking never changes the output, notifications == samples, gaps, heading drift."""

from __future__ import annotations

import numpy as np
import pytest
from test_calibration import synth_session

from hipmon.heading import HeadingConfig
from hipmon.pipeline import Pipeline, PipelineConfig, process_samples
from hipmon.types import PLACEMENTS, Frames, ImuBlock, RawNotification, SensorSpec


def _samples(s, offset_s=0.0):
    return {p: (s["time_s"] + offset_s, s["acc_sensor"][p], s["gyr_sensor"][p], None) for p in PLACEMENTS}


def _specs(rate=100.0, profile=None):
    return [SensorSpec(p, p, profile, rate) for p in PLACEMENTS]


def _truth_at(s, t, offset_s=0.0):
    return np.stack([np.interp(t, s["time_s"] + offset_s, s["truth_deg"][:, c]) for c in range(9)], axis=1)


def _rmse_vs_truth(s, frames: Frames, offset_s=0.0, mask=None):
    v = frames.valid if mask is None else frames.valid & mask
    err = frames.angles_deg[v] - _truth_at(s, frames.time_s[v], offset_s)
    return np.sqrt(np.mean(err**2, axis=0))


@pytest.fixture(scope="module")
def walk():
    return synth_session(11, kind="walk", moving_s=25.0)


def test_chunk_size_never_changes_the_frames(walk):
    cfg = PipelineConfig(events=False)
    a = process_samples(_samples(walk), _specs(), cfg, chunk_s=1.0)
    b = process_samples(_samples(walk), _specs(), cfg, chunk_s=0.037)
    assert np.array_equal(a.frames.time_s, b.frames.time_s)
    assert np.array_equal(a.frames.valid, b.frames.valid)
    assert np.nanmax(np.abs(a.frames.angles_deg - b.frames.angles_deg)) < 1e-9
    assert a.calibration.to_dict() == b.calibration.to_dict()


def test_live_frames_invalid_until_calibrated_then_backfilled(walk):
    # live: what is emitted before the calibration is invalid; the update that brings the
    # calibration brings the earlier grid points again, now with angles (backfill)
    pipe = Pipeline(_specs(), PipelineConfig(events=False))
    samples = _samples(walk)
    ups = []
    for t0 in np.arange(0.0, walk["time_s"][-1] + 0.5, 0.5):
        part = {}
        for sid, (t, a, g, m) in samples.items():
            sel = (t >= t0) & (t < t0 + 0.5)
            part[sid] = (t[sel], a[sel], g[sel], None)
        ups.append(pipe.feed_many(part))
    ups.append(pipe.finish())
    i_cal = next(i for i, u in enumerate(ups) if u.calibration is not None)
    before = [u.frames for u in ups[:i_cal] if len(u.frames)]
    assert before and not any(f.valid.any() for f in before)
    assert all(np.isnan(f.angles_deg).all() for f in before)
    back = ups[i_cal].backfill
    t_chunk = ups[i_cal].frames.time_s
    # calibrated once the standing and the steps were seen, not before the movement ended
    assert t_chunk[0] - 0.01 <= pipe.calibration.movement_s[1] + 1.01
    assert t_chunk[-1] >= pipe.calibration.movement_s[1]
    # the backfill is exactly the grid points emitted before, now valid, angles against the truth
    assert np.array_equal(back.time_s, np.concatenate([f.time_s for f in before]))
    assert back.valid.all()
    assert np.all(_rmse_vs_truth(walk, back) < 1.6)


def test_frames_valid_from_the_start_and_match_truth(walk):
    r = process_samples(_samples(walk), _specs(), PipelineConfig(events=False))
    f = r.frames
    assert not r.second_pass
    # the standing and the calibration walk have angles too (backfilled), the whole session valid
    assert f.valid.all()
    assert np.all(_rmse_vs_truth(walk, f) < 1.6)
    # acc_global: +9.81 up during the standing part (first 2 s)
    stand = f.time_s < f.time_s[0] + 2.0
    assert abs(np.mean(f.acc_global["pelvis"][stand, 1]) - 9.81) < 0.2
    # gyr_segment: thigh Z is the flexion rate, i.e. the derivative of hip flexion + pelvis tilt rate
    v = f.valid
    flex = np.radians(f.angles_deg[v, 6])
    d = np.gradient(flex, f.time_s[v])
    assert np.corrcoef(d, f.gyr_segment["right_thigh"][v, 2])[0, 1] > 0.95


def test_session_time_offset_and_grid_lattice(walk):
    r = process_samples(_samples(walk, offset_s=1234.567), _specs(), PipelineConfig(events=False))
    t = r.frames.time_s
    assert np.allclose(t * 100.0, np.round(t * 100.0), atol=1e-6)
    assert np.all(_rmse_vs_truth(walk, r.frames, offset_s=1234.567) < 1.6)


def test_raw_notifications_give_the_same_angles_as_samples():
    from hipmon.profiles import get_profile

    s = synth_session(12, kind="march", rate_hz=104.0, moving_s=16.0)
    prof = get_profile("hipmon-open")
    origin_ns = 10**12
    notes = []
    for p in PLACEMENTS:
        enc = prof.make_encoder(104.0)
        n = s["time_s"].size
        for i0 in range(0, n, 8):
            i1 = min(n, i0 + 8)
            block = ImuBlock(s["time_s"][i0:i1] + 3.0, s["acc_sensor"][p][i0:i1], s["gyr_sensor"][p][i0:i1],
                             sample_index=np.arange(i0, i1))
            arrive = origin_ns + int((s["time_s"][i1 - 1] + 0.02) * 1e9)
            notes += [RawNotification(p, arrive, d) for d in enc.encode(block)]
    notes.sort(key=lambda x: x.host_ns)
    pipe = Pipeline(_specs(104.0, "hipmon-open"), PipelineConfig(events=False), origin_ns=origin_ns)
    chunks = [pipe.feed(notes[i:i + 17]) for i in range(0, len(notes), 17)] + [pipe.finish()]
    f = Frames.concatenate([c.frames for c in chunks])
    assert pipe.calibration is not None and f.valid.sum() > 500
    # the session time of the samples is their sensor time + the smallest delay (sync); compare with truth
    lat = 0.02  # the sensor clock (t + 3 s) is mapped onto the host clock: session time = t + latency
    rmse = _rmse_vs_truth(s, f, offset_s=lat)
    assert np.all(rmse < 3.0), rmse  # marching in place: see test_calibration


def test_a_gap_makes_frames_invalid_and_is_reported(walk):
    smp = _samples(walk)
    t, a, g, m = smp["left_thigh"]
    keep = (t < 15.0) | (t > 15.5)
    smp["left_thigh"] = (t[keep], a[keep], g[keep], None)
    r = process_samples(smp, _specs(), PipelineConfig(events=False))
    f = r.frames
    inside = (f.time_s > 15.0) & (f.time_s < 15.5)
    assert inside.any() and not f.valid[inside].any()
    # a 0.5 s gap (a BLE reconnect) is bridged (shorter than PipelineConfig.bridge_gap_s): back at once
    assert f.valid[(f.time_s > 16.0)].all() and f.valid_sensor["pelvis"].all()
    gaps = [gp for gp in r.gaps if gp.sensor_id == "left_thigh"]
    assert len(gaps) == 1 and abs(gaps[0].start_s - 15.0) < 0.02 and abs(gaps[0].end_s - 15.5) < 0.02


def test_a_lost_packet_is_bridged_not_held(walk):
    # 0.1 s missing (a lost notification or two): the gyro is interpolated for the fusion and the
    # angles come straight back, within a fraction of a degree of the run that lost nothing
    smp = _samples(walk)
    full = process_samples(smp, _specs(), PipelineConfig(events=False)).frames
    t, a, g, m = smp["left_thigh"]
    keep = (t < 15.0) | (t > 15.1)
    smp["left_thigh"] = (t[keep], a[keep], g[keep], None)
    f = process_samples(smp, _specs(), PipelineConfig(events=False)).frames
    assert f.valid[f.time_s > 15.2].all()
    after = f.time_s > 15.2
    assert np.max(np.abs(f.angles_deg[after] - full.angles_deg[after])) < 0.5


def test_lagging_sensor_delay_is_bounded(walk):
    pipe = Pipeline(_specs(), PipelineConfig(events=False, max_wait_s=0.5))
    smp = _samples(walk)
    for p in ("pelvis", "left_thigh"):
        t, a, g, _ = smp[p]
        pipe.feed_samples(p, t[:1000], a[:1000], g[:1000])
    t, a, g, _ = smp["right_thigh"]
    pipe.feed_samples("right_thigh", t[:10], a[:10], g[:10])
    # the right thigh stopped at 0.09 s: frames still come, up to 0.5 s behind the newest sample
    assert pipe.next_k is not None and abs((pipe.next_k - 1) / 100.0 - (9.99 - 0.5)) < 0.011


def test_heading_tracker_keeps_internal_rotation_from_drifting():
    s = synth_session(13, kind="walk", moving_s=150.0)
    rng = np.random.default_rng(1)
    for p in PLACEMENTS:
        b = rng.normal(size=3)
        s["gyr_sensor"][p] = s["gyr_sensor"][p] + b / np.linalg.norm(b) * np.radians(0.5)
    out = {}
    for name, hc in (("off", HeadingConfig(thigh=False, pelvis=False)), ("on", HeadingConfig())):
        r = process_samples(_samples(s), _specs(), PipelineConfig(events=False, heading=hc))
        f = r.frames
        out[name] = _rmse_vs_truth(s, f, mask=f.time_s > f.time_s[-1] - 30.0)
    ir = [5, 8]
    assert np.max(out["on"][ir]) < 1.5, out
    assert np.max(out["off"][ir]) > 2.0 * np.max(out["on"][ir]), out
    assert out["on"][2] < 1.0  # pelvis rotation follows the direction of travel


def test_replaying_a_recording_gives_the_live_angles(tmp_path):
    from hipmon.pipeline import process_session
    from hipmon.profiles import get_profile
    from hipmon.recording import SessionWriter

    s = synth_session(14, kind="walk", rate_hz=104.0, moving_s=14.0)
    prof = get_profile("hipmon-open")
    origin_ns = 5 * 10**12
    notes = []
    for p in PLACEMENTS:
        enc = prof.make_encoder(104.0)
        n = s["time_s"].size
        for i0 in range(0, n, 6):
            i1 = min(n, i0 + 6)
            block = ImuBlock(s["time_s"][i0:i1] + 7.0, s["acc_sensor"][p][i0:i1], s["gyr_sensor"][p][i0:i1],
                             sample_index=np.arange(i0, i1))
            arrive = origin_ns + int((s["time_s"][i1 - 1] + 0.015 + 0.01 * (i0 % 5)) * 1e9)
            notes += [RawNotification(p, arrive, d) for d in enc.encode(block)]
    notes.sort(key=lambda x: (x.host_ns, x.sensor_id))
    # live: small irregular batches as a GUI timer would drain them
    live = Pipeline(_specs(104.0, "hipmon-open"), PipelineConfig(events=False), origin_ns=origin_ns)
    ups, i = [], 0
    rng = np.random.default_rng(0)
    while i < len(notes):
        k = int(rng.integers(1, 40))
        ups.append(live.feed(notes[i:i + k]))
        i += k
    ups.append(live.finish())
    # what the live view holds at the end: the frames, with the calibration's backfill filled in
    f_live = Frames.concatenate([u.frames for u in ups])
    assert sum(u.backfill is not None for u in ups) == 1
    for u in ups:
        if u.backfill is not None:
            f_live.fill_in(u.backfill)
    path = tmp_path / "rec.hipmon"
    with SessionWriter(path, origin_ns=origin_ns, background=False) as w:
        for p in PLACEMENTS:
            w.add_sensor(p, p, "hipmon-open", 104.0)
        w.write_many(notes)
    r = process_session(path, PipelineConfig(events=False))
    assert r.calibration is not None and live.calibration is not None
    assert np.array_equal(r.frames.time_s, f_live.time_s)
    assert np.array_equal(r.frames.valid, f_live.valid) and f_live.valid.sum() > 300
    assert np.nanmax(np.abs(r.frames.angles_deg - f_live.angles_deg)) < 1e-9
