"""``Pipeline.replay`` == ``feed`` with the magnetometer-aided (9D) filter: the staged grid keeps and
interpolates the magnetometer samples only for a 9D filter (a 6D one never reads them), so the
9D path is checked here on its own (tests/test_staged_replay.py runs the 6D default)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def test_staged_replay_equals_feed_9d():
    from hipmon.pipeline import PipelineConfig, process_session
    from hipmon.recording import SessionReader

    path = REPO / "recordings" / "landings_valgus.hipmon"
    with SessionReader(path) as r:
        assert all(r.samples(s).mag_sensor is not None for s in r.sensors), "the recording has no magnetometer"
    cfg = PipelineConfig(use_mag=True)
    fed = process_session(path, cfg, staged=False)
    staged = process_session(path, cfg)
    six = process_session(path)
    a, b = fed.frames, staged.frames
    assert np.array_equal(a.time_s, b.time_s) and np.array_equal(a.valid, b.valid)
    assert np.array_equal(a.angles_deg, b.angles_deg, equal_nan=True)
    for p in a.q_segment_global:
        assert np.array_equal(a.q_segment_global[p], b.q_segment_global[p], equal_nan=True), p
    assert [repr(e) for e in fed.events] == [repr(e) for e in staged.events]
    # not vacuous: the magnetometer changed the orientations
    assert np.isfinite(a.angles_deg).any()
    assert not np.array_equal(six.frames.q_segment_global["pelvis"], a.q_segment_global["pelvis"], equal_nan=True)
