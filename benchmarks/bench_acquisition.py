"""Acquisition benchmark: 3 emulated sensors at 208 Hz through bleak + bumble.

Measures, per sensor: samples sent vs decoded (completeness, order, duplicates),
gap accounting vs injected loss, reconnect times after forced drops, and the
latency from a notification's arrival (callback stamp) to its decoded samples
being available downstream (StreamMonitor block sink).

    .venv/bin/python benchmarks/bench_acquisition.py --seconds 300 --loss 0.02 --disconnects 10
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--profile", default="movesense-gsp")
    ap.add_argument("--rate", type=float, default=208.0)
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--disconnects", type=int, default=0)
    ap.add_argument("--kind", default="walk")
    a = ap.parse_args()

    from hipmon.ble import AcquisitionThread, SensorSpec
    from hipmon.emulation import EmulatedRadio
    from hipmon.emulation.backend import BumbleBleakClient, BumbleBleakScanner
    from hipmon.emulation.session import EmulationPlan, start_session_sensors
    from hipmon.types import PLACEMENTS

    plan = EmulationPlan(kind=a.kind, seconds=a.seconds, profile=a.profile, rate_hz=a.rate, loss=a.loss,
                         disconnects=a.disconnects)
    specs = [SensorSpec(p, a.profile, a.rate) for p in PLACEMENTS]
    state = {}
    lat: list[float] = []

    async def setup():
        radio = await EmulatedRadio().start()
        sensors, origin = await start_session_sensors(radio, plan)
        state["sensors"], state["origin"] = sensors, origin
        for s in specs:
            s.address = sensors[s.placement].address

        async def teardown():
            await radio.close()

        return state, teardown

    def on_block(sid, block):
        now = time.monotonic_ns()
        lat.append((now - int(block.host_ns[-1])) / 1e6 if block.host_ns is not None else np.nan)

    th = AcquisitionThread(specs, setup=setup, block_sinks=[on_block], client_backend=BumbleBleakClient,
                           scanner_backend=BumbleBleakScanner, keep_latencies=True, scan_timeout_s=2.0)
    th.start()
    time.sleep(a.seconds + 0.3)
    th.stop()
    print(f"source: {state['origin']}, profile {a.profile} @ {a.rate:g} Hz, {a.seconds:g} s, loss {a.loss}, "
          f"disconnects {a.disconnects}/sensor")
    for p, sensor in state["sensors"].items():
        st = th.status()[p]
        recs = sensor.log.records
        sent_idx = [i for i, r in enumerate(recs) if r.status == "sent"]
        lost = sum(r.n_samples for r in recs[sent_idx[0]:sent_idx[-1] + 1] if r.status != "sent")
        sup = th.acquisition.supervisors[p]
        rec_s = [min([t for t in sup.stream_times_ns if t > d], default=np.nan) - d for d in sup.drop_times_ns]
        rec_s = np.array(rec_s, float) / 1e9
        print(f"  {p:<12} sent {len(sensor.log.samples_sent()):>7} decoded {st.samples:>7} "
              f"lost(truth) {lost:>5} lost(gaps) {st.samples_lost:>5} reconnects {st.reconnects} "
              f"max reconnect {np.nanmax(rec_s) if len(rec_s) else float('nan'):.3f} s")
    v = np.array([x for x in lat if np.isfinite(x)])
    print(f"  arrival -> decoded latency: n={len(v)} p50 {np.percentile(v, 50):.3f} ms "
          f"p99 {np.percentile(v, 99):.3f} ms max {v.max():.3f} ms")


if __name__ == "__main__":
    main()
