"""``Pipeline.replay`` (a whole recording staged at once) == feeding its items one batch at a time.

``process_session`` replays a recording through ``Pipeline.replay``: every item through its
sensor's stream stage, the moments at which ``feed`` would put the grid forward and what each
sensor had delivered then, and the grid processed in long chunks. The contract is that of
``feed``: the same frames bit for bit, the same events, alerts, grid gaps and calibration.
Checked here on recordings built to reach every path that depends on arrival: lost
notifications, a sensor whose notifications arrive late by more than the pipeline's wait
(grid points beyond its delivered samples: held and invalid), a reconnect (decoder and clock
map reset, a held gap, resettling), a sensor without sensor time (witmotion), a sacrum-only
session, and two bundled recordings (landings; a single-leg hold with an alert).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hipmon.types import ImuBlock, RawNotification

REPO = Path(__file__).resolve().parents[1]
ORIGIN_NS = 10**12


def _write(path: Path, profile: str, placements: tuple[str, ...], *, seconds: float = 40.0, seed: int = 4,
           loss: float = 0.02, late: tuple[str, float, float, float] | None = None,
           reconnect: tuple[str, float, float] | None = None, rate_hz: float = 104.0) -> Path:
    """A recorded walk: each sensor's notifications with 15-35 ms of delay, ``loss`` of them lost;
    ``late`` = (placement, from s, for s, by s): that sensor's notifications in the span arrive
    that much later; ``reconnect`` = (placement, at s, off s): nothing for ``off`` s, then a
    logged reconnect and a new connection (its sensor clock restarted)."""
    from hipmon.profiles import get_profile
    from hipmon.recording import SessionWriter
    from hipmon.simulate import simulate

    sim = simulate("walk", seconds, seed, rate_hz=rate_hz)
    prof = get_profile(profile)
    rng = np.random.default_rng(seed)
    notes: list[RawNotification] = []
    log: list[tuple[str, int]] = []
    for k, p in enumerate(placements):
        s = sim.sensors[p]
        n = len(s.time_session_s)
        t_true = np.arange(n) / rate_hz
        t_sensor = 3.0 + 11.0 * k + t_true * (1 + 30e-6 * (k - 1))
        pieces = [(0, n, t_sensor)]
        if reconnect and reconnect[0] == p:
            i_at, i_back = int(reconnect[1] * rate_hz), int((reconnect[1] + reconnect[2]) * rate_hz)
            pieces = [(0, i_at, t_sensor), (i_back, n, t_true - t_true[i_back] + 0.5)]  # the clock restarted
            log.append((p, ORIGIN_NS + int((t_true[i_back] - 0.05) * 1e9)))
        for i0, i1, tsens in pieces:
            enc = prof.make_encoder(rate_hz)
            step = enc.samples_per_notification
            i1 = i0 + (i1 - i0) // step * step
            block = ImuBlock(tsens[i0:i1], s.acc_sensor[i0:i1], s.gyr_sensor[i0:i1], np.zeros((i1 - i0, 3)),
                             sample_index=np.arange(i1 - i0))
            packets = enc.encode(block)
            per_msg = max(len(packets) // ((i1 - i0) // step), 1)
            for j, d in enumerate(packets):
                last = i0 + (j // per_msg + 1) * step - 1
                arrive = t_true[last] + 0.015 + 0.02 * rng.random()
                if late and late[0] == p and late[1] <= t_true[last] < late[1] + late[2]:
                    arrive += late[3]
                if rng.random() < loss:
                    continue
                notes.append(RawNotification(p, ORIGIN_NS + int(arrive * 1e9) + j % per_msg, d))
    notes.sort(key=lambda x: x.host_ns)
    with SessionWriter(path, origin_ns=ORIGIN_NS, background=False) as w:
        for p in placements:
            w.add_sensor(p, p, profile, rate_hz)
        w.write_many(notes)
        for p, host_ns in log:
            w.log_connection(p, "reconnect", host_ns)
    return path


def _assert_same(path: Path) -> tuple:
    from hipmon.pipeline import process_session

    fed = process_session(path, staged=False)
    staged = process_session(path)
    a, b = fed.frames, staged.frames
    assert np.array_equal(a.time_s, b.time_s)
    assert np.array_equal(a.valid, b.valid)
    assert np.array_equal(a.angles_deg, b.angles_deg, equal_nan=True)
    for p in a.q_segment_global:
        assert np.array_equal(a.q_segment_global[p], b.q_segment_global[p], equal_nan=True), p
        assert np.array_equal(a.acc_global[p], b.acc_global[p], equal_nan=True), p
        assert np.array_equal(a.valid_sensor[p], b.valid_sensor[p]), p
    assert [repr(e) for e in fed.events] == [repr(e) for e in staged.events]
    assert [repr(x) for x in fed.alerts] == [repr(x) for x in staged.alerts]
    assert [repr(g) for g in fed.gaps] == [repr(g) for g in staged.gaps]
    assert (fed.calibration is None) == (staged.calibration is None)
    if fed.calibration is not None:
        assert fed.calibration.to_dict() == staged.calibration.to_dict()
    assert fed.second_pass == staged.second_pass
    return fed, staged


@pytest.mark.parametrize("profile,rate_hz", [("movesense-gsp", 104.0), ("witmotion-wt901ble", 100.0)])
def test_staged_replay_equals_feed_with_loss_lag_and_reconnect(tmp_path, profile, rate_hz):
    from hipmon.types import PLACEMENTS

    path = _write(tmp_path / "s.hipmon", profile, PLACEMENTS, late=("right_thigh", 22.0, 3.0, 1.6),
                  reconnect=("left_thigh", 28.0, 1.5), rate_hz=rate_hz)
    fed, _ = _assert_same(path)
    # not vacuous: calibrated, events, and the late sensor's points beyond its samples are gaps
    assert fed.calibration is not None and not fed.second_pass
    assert len(fed.events) >= 10
    grid_gaps = [g for g in fed.gaps if g.reason == "grid"]
    assert any(g.sensor_id == "right_thigh" and 22.0 < g.start_s < 26.0 for g in grid_gaps), grid_gaps
    assert any(g.sensor_id == "left_thigh" and 27.5 < g.start_s < 30.0 for g in grid_gaps), grid_gaps
    t, v = fed.frames.time_s, fed.frames.valid_sensor["left_thigh"]
    assert not v[(t > 30.0) & (t < 39.0)].any(), "a held gap leaves the sensor resettling for resettle_s"


def test_staged_replay_equals_feed_sacrum_only(tmp_path):
    path = _write(tmp_path / "p.hipmon", "movesense-gsp", ("pelvis",), late=("pelvis", 20.0, 2.0, 0.5))
    fed, _ = _assert_same(path)
    assert fed.calibration is not None and len(fed.events) >= 10


def test_staged_replay_equals_feed_on_bundled_recordings():
    fed, _ = _assert_same(REPO / "recordings" / "landings_valgus.hipmon")
    assert any(e.kind == "landing" for e in fed.events)
    fed, _ = _assert_same(REPO / "recordings" / "single_leg_stance.hipmon")
    assert any(e.kind == "hold" for e in fed.events) and fed.alerts


def test_stream_stage_in_bulk_equals_item_by_item(tmp_path):
    """``SensorStream.push_all`` (runs of notifications decoded and clock-mapped at once) ==
    ``push`` item by item: samples, session times bit for bit, gaps, counters, clock map."""
    from hipmon.pipeline import _specs_from_reader, replay_items
    from hipmon.recording import SessionReader
    from hipmon.stream import SensorStream
    from hipmon.types import PLACEMENTS

    path = _write(tmp_path / "s.hipmon", "movesense-gsp", PLACEMENTS, loss=0.05, reconnect=("pelvis", 15.0, 2.0))
    with SessionReader(path) as r:
        specs = _specs_from_reader(r)
        items = list(replay_items(r))
        origin = r.origin_ns
    for s in specs:
        mine = [x for x in items if x.sensor_id == s.sensor_id]
        one = SensorStream.from_profile(s.sensor_id, s.profile, s.rate_hz, origin)
        outs = [one.push(x) for x in mine]
        bulk = SensorStream.from_profile(s.sensor_id, s.profile, s.rate_hz, origin)
        run = bulk.push_all(mine)
        assert run.bulk_items > 0.9 * len(mine), "the bulk path was not taken"
        t = np.concatenate([o.time_session_s for o in outs if o.block is not None])
        acc = np.concatenate([o.block.acc_sensor for o in outs if o.block is not None])
        assert np.array_equal(run.time_session_s, t)
        assert np.array_equal(run.block.acc_sensor, acc)
        assert list(run.counts) == [0 if o.block is None else len(o.block) for o in outs]
        assert [repr(g) for g in run.gaps] == [repr(g) for o in outs for g in o.gaps]
        assert sum(g.samples_lost for g in run.gaps) > 0  # the lost notifications are gaps
        assert run.messages == [m for o in outs for m in o.messages] and one.bad > 0  # a lost first part
        for attr in ("notifications", "samples", "lost", "bad", "last_time_sensor", "last_session", "last_arrival",
                     "first_ns", "last_ns"):
            assert getattr(one, attr) == getattr(bulk, attr), attr
        assert one.clock.clock_map() == bulk.clock.clock_map()


def test_clock_map_of_blocks_equals_update_then_map():
    """``ClockSync.map_blocks`` == ``update`` then ``to_session`` block by block, through
    arrival jitter, drift, a lost stretch, a clock jump backwards and an early arrival."""
    from hipmon.sync import ClockSync

    rng = np.random.default_rng(5)
    n_blocks, per = 3000, 8
    x = np.arange(n_blocks * per) / 104.0
    x[12000:] -= 3.0  # the sensor clock jumps back
    x[20000:] += 40.0  # a long stretch with nothing
    y = np.repeat(x.reshape(-1, per)[:, -1], per) * (1 + 80e-6) + 2.0 + np.repeat(rng.exponential(0.02, n_blocks), per)
    y[16000:16008] -= 1.0  # arrives before the map says it was sampled
    starts = np.arange(0, x.size, per)
    a, b = ClockSync(), ClockSync()
    ref = np.concatenate([(a.update(x[i:i + per], y[i:i + per]), a.to_session(x[i:i + per]))[1] for i in starts])
    got = b.map_blocks(x, y, starts)
    assert np.array_equal(ref, got)
    assert a.jumps == b.jumps >= 2 and a.clock_map() == b.clock_map()
