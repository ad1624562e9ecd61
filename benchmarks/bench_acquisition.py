"""Acquisition benchmark: 3 emulated sensors at 208 Hz through bleak + bumble, under faults.

Per sensor, against the emulated firmware's ground truth (``SensorLog``):

- completeness: the decoded sample times equal the sensor clock of exactly the
  samples the firmware sent (none missing, none duplicated, strictly in order);
- gaps: samples lost by injected loss and outages vs the gaps hipmon recorded;
- reconnect: from each drop (bleak's disconnected callback) to streaming again
  (start sequence replayed);
- latency: a notification's arrival (``time.monotonic_ns()`` in the bleak
  callback, the ``host_ns`` of its samples) to its decoded samples reaching a
  block sink of the ``StreamMonitor`` (its thread, where decoding happens), and to a
  further downstream thread that takes the decoded blocks from a queue;
  ``time.monotonic_ns()`` there; one value per decoded block.

By default the sensors run in a child process (:mod:`hipmon.emulation.remote`: the
"air" and the central's controller there, HCI over a UNIX socket, the central's host
+ bleak + monitor here), as real sensors do not share the recorder's CPU and GIL;
``--in-process`` runs them on the acquisition loop.

    .venv/bin/python benchmarks/bench_acquisition.py --seconds 300 --loss 0.02 --disconnects 10
"""

from __future__ import annotations

import argparse
import os
import sys
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
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--speed", type=float, default=1.0, help="emulated clock speed (latency only honest at 1)")
    ap.add_argument("--in-process", action="store_true", help="run the emulated sensors in this process")
    a = ap.parse_args()

    from hipmon.ble import AcquisitionThread
    from hipmon.types import SensorSpec
    from hipmon.emulation.backend import BumbleBleakClient, BumbleBleakScanner
    from hipmon.emulation.session import EmulationPlan, close_session, open_session
    from hipmon.types import PLACEMENTS

    plan = EmulationPlan(kind=a.kind, seconds=a.seconds, seed=a.seed, profile=a.profile, rate_hz=a.rate,
                         loss=a.loss, disconnects=a.disconnects, speed=a.speed)
    specs = [SensorSpec(p, p, a.profile, a.rate) for p in PLACEMENTS]
    state: dict = {}
    lat: list[float] = []
    times: dict[str, list[np.ndarray]] = {p: [] for p in PLACEMENTS}

    async def setup():
        radio, sensors, origin = await open_session(plan, remote=not a.in_process)
        state.update(radio=radio, sensors=sensors, origin=origin)
        for s in specs:
            s.address = sensors[s.placement].address

        async def teardown():
            await close_session(radio, sources=True)

        return state, teardown

    import queue
    import threading

    handoff: queue.SimpleQueue = queue.SimpleQueue()
    lat_consumer: list[float] = []

    def on_block(sid, block):
        now = time.monotonic_ns()
        lat.append((now - int(block.host_ns[-1])) / 1e6 if block.host_ns is not None else np.nan)
        times[sid].append(np.asarray(block.time_sensor_s))
        handoff.put_nowait(block)

    def consumer():  # a downstream thread taking the decoded blocks from a queue
        while (block := handoff.get()) is not None:
            lat_consumer.append((time.monotonic_ns() - int(block.host_ns[-1])) / 1e6)

    consumer_thread = threading.Thread(target=consumer, daemon=True)
    consumer_thread.start()

    load0 = os.getloadavg()
    cpu0 = time.process_time()
    th = AcquisitionThread(specs, setup=setup, block_sinks=[on_block], client_backend=BumbleBleakClient,
                           scanner_backend=BumbleBleakScanner, scan_timeout_s=2.0)
    t_start = time.monotonic()
    th.start()
    first = {}
    while time.monotonic() - t_start < a.seconds / a.speed + 0.5:
        for p, st in th.status().items():
            if p not in first and st.samples > 0:
                first[p] = time.monotonic() - t_start
        time.sleep(0.05)
    th.stop()
    handoff.put_nowait(None)
    consumer_thread.join()
    cpu = time.process_time() - cpu0
    print(f"source: {state['origin']}, profile {a.profile} @ {a.rate:g} Hz, {a.seconds:g} s of sensor time "
          f"at speed {a.speed:g}, loss {a.loss}, disconnects {a.disconnects}/sensor, sensors "
          f"{'in-process' if a.in_process else 'in a child process (HCI over a UNIX socket)'}")
    print(f"  machine: {os.cpu_count()} cores, load average {load0[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end; "
          f"recorder process CPU {cpu:.1f} s; python {sys.version.split()[0]}, switch interval "
          f"{sys.getswitchinterval() * 1e3:g} ms")
    all_ok = True
    for p, sensor in state["sensors"].items():
        st = th.status()[p]
        recs = sensor.log.records
        sent_idx = [i for i, r in enumerate(recs) if r.status == "sent"]
        lost = sum(r.n_samples for r in recs[sent_idx[0]:sent_idx[-1] + 1] if r.status != "sent")
        truth_t = np.asarray(sensor.source.time_sensor_s)[sensor.log.samples_sent()]
        got_t = np.concatenate(times[p]) if times[p] else np.zeros(0)
        exact = len(got_t) == len(truth_t) and np.allclose(got_t, truth_t, atol=1.5e-3)
        ordered = bool(np.all(np.diff(got_t) > 0))
        sup = th.acquisition.supervisors[p]
        rec_s = [min([t for t in sup.stream_times_ns if t > d], default=np.nan) - d for d in sup.drop_times_ns]
        rec_s = np.array(rec_s, float) / 1e9
        gaps = [g for g in th.monitor.gaps if g.sensor_id == p]
        ok = exact and ordered and lost == st.samples_lost and st.reconnects == len(sensor.log.disconnects)
        ok = ok and (not len(rec_s) or np.nanmax(rec_s) < 3.0)
        all_ok &= ok
        print(f"  {p:<12} sent {len(truth_t):>6} decoded {len(got_t):>6} same-times-in-order {exact and ordered!s:<5} "
              f"lost(truth) {lost:>5} lost(gaps) {st.samples_lost:>5} in {len(gaps):>3} gaps "
              f"({sum(g.reason == 'disconnect' for g in gaps)} disconnect) drops {len(sensor.log.disconnects):>2} "
              f"reconnects {st.reconnects:>2} drop->streaming max {np.nanmax(rec_s) if len(rec_s) else float('nan'):.3f} s "
              f"median {np.nanmedian(rec_s) if len(rec_s) else float('nan'):.3f} s; first samples after "
              f"{first.get(p, float('nan')):.2f} s")
    for label, values in (("arrival -> decoded (block sink)", lat),
                          ("arrival -> decoded block in a consumer thread", lat_consumer)):
        v = np.array([x for x in values if np.isfinite(x)])
        print(f"  {label}: n={len(v)} p50 {np.percentile(v, 50):.3f} ms "
              f"p99 {np.percentile(v, 99):.3f} ms p99.9 {np.percentile(v, 99.9):.3f} ms max {v.max():.3f} ms")
    print("  all correctness checks:", "PASS" if all_ok else "FAIL")


if __name__ == "__main__":
    main()
