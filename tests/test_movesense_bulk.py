"""The movesense codec's bulk path (``Decoder.feed_run``: whole messages in one compiled pass,
``_gsp_run``) and the stream stage on blocks (``SensorStream.push_block``) against the live path
(``Decoder.feed`` / ``SensorStream.push``, one notification at a time): the same samples bit for
bit, the same gaps, errors, messages, counters and decoder state, over random chunkings of
streams with faults (lost parts, damaged bytes, corrupt values, duplicated messages, timestamp
jumps and wraps, short messages, command results, reconnects)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from hipmon.codecs import DecodeError, movesense
from hipmon.stream import ItemBlock, SensorStream
from hipmon.types import ConnectionEvent, ImuBlock, RawNotification

IMU9 = {"resource": "IMU9", "mag": True, "client_ref": 99, "max_notification_bytes": 155}
#: (codec params, rate, the sensor's params if not the same): 12 IMU9 samples in 3 parts, 8 IMU6
#: samples in 2, 1 in 1 part, a sensor sending 5 samples where the decoder expects 8 (each
#: message ends with a short part), 3 IMU9 samples in two full 58-byte parts (each message
#: ends when its body is whole), and a sensor sending 244-byte notifications (16 samples)
CASES = [(IMU9, 208.0, None),
         ({"resource": "IMU6", "client_ref": 7, "max_notification_bytes": 155}, 104.0, None),
         ({"resource": "IMU6", "client_ref": 7, "max_notification_bytes": 155, "samples_per_message": 1}, 52.0, None),
         (IMU9, 104.0, dict(IMU9, samples_per_message=5)),
         (dict(IMU9, max_notification_bytes=58, samples_per_message=3), 104.0, None),
         (IMU9, 208.0, dict(IMU9, max_notification_bytes=244))]
FIELDS = ("time_sensor_s", "acc_sensor", "gyr_sensor", "mag_sensor", "host_ns", "sample_index")


def _notifications(params: dict, rate: float, sensor: dict | None, rng: np.random.Generator, n_msg: int = 150,
                   faults: bool = True) -> list[bytes]:
    """A stream of ``n_msg`` messages as the sensor (``sensor`` params, else ``params``) splits them,
    with faults at random."""
    enc = movesense.Encoder(sensor or params, rate)
    k = 3 if params["resource"] == "IMU9" else 2
    ts = int(rng.integers(2**32 - 3000, 2**32))  # wraps within the stream
    out: list[bytes] = []
    last: list[bytes] = []
    for _ in range(n_msg):
        n = enc.n if not faults or rng.random() > 0.03 else int(rng.integers(1, enc.n + 1))  # a short message
        vals = rng.normal(0, 20, (k, n, 3)).astype("<f4")
        if faults and rng.random() < 0.06:  # a damaged value: not finite, too large, or just within the limit
            c = int(rng.integers(k))
            lim = np.float32(movesense._LIMITS[c])
            vals[c, int(rng.integers(n)), int(rng.integers(3))] = rng.choice(
                [np.nan, np.inf, -np.inf, 1e6, lim * np.float32(1.001), -lim * np.float32(1.001), lim, -lim])
        parts = enc.split_message(bytes([2, enc.ref]) + struct.pack("<I", ts % 2**32) + vals.tobytes())
        # the next timestamp: the nominal step, jittered, sometimes off by up to 40 % (the period check)
        stretch = rng.uniform(0.6, 1.4) if faults and rng.random() < 0.1 else 1.0
        step = int(round(n * 1000 / rate * stretch)) + (int(rng.integers(-3, 3)) if faults else 0)
        ts += step
        r = rng.random() if faults else 1.0
        if r < 0.05:  # a jump of the sensor's clock (lost samples, backwards, half the u32 range)
            lost = enc.n // 2 if rng.random() < 0.5 else int(rng.integers(1, 3 * enc.n))  # n / 2: the loss threshold
            ts += round(lost * 1000 / rate) if rng.random() < 0.5 else \
                int(rng.choice([5000, -40, 2**31 - step, 2**31 + 1 - step]))
        elif r < 0.08 and last:  # the previous message again
            out.extend(last)
        elif r < 0.11:  # a part lost
            del parts[int(rng.integers(len(parts)))]
        elif r < 0.14:  # a byte damaged (header, length or body)
            q = int(rng.integers(len(parts)))
            b = bytearray(parts[q])
            where = int(rng.choice([0, 1, int(rng.integers(len(b)))]))
            b[where] = int(rng.integers(256))
            parts[q] = bytes(b[:-1]) if rng.random() < 0.2 else bytes(b)
        elif r < 0.16:  # a command result or an empty notification in the stream
            out.append(movesense.encode_response(enc.ref, 200) if rng.random() < 0.7 else b"")
        out.extend(parts)
        last = parts
    return out


def _items(datas: list[bytes], rng: np.random.Generator, events: bool) -> list:
    items: list = []
    ns = 10**9
    for d in datas:
        ns += int(rng.integers(0, 3_000_000))
        if events and rng.random() < 0.005:
            items.append(ConnectionEvent("s", ns, str(rng.choice(["reconnect", "disconnect", "restart"]))))
        items.append(RawNotification("s", ns, d))
    return items


def _same_blocks(a: ImuBlock | None, b: ImuBlock | None) -> None:
    if a is None or b is None:
        assert (a is None or not len(a)) and (b is None or not len(b))
        return
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert np.asarray(x).dtype == np.asarray(y).dtype and np.array_equal(x, y), name


def _same_decoders(a: movesense.Decoder, b: movesense.Decoder) -> None:
    assert a.stats == b.stats
    assert a.dropped == b.dropped and a.last_errors == b.last_errors
    assert (a._prev_ts, a._prev_n, a._pending, a._next_part, a.last_response) == \
        (b._prev_ts, b._prev_n, b._pending, b._next_part, b.last_response)


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("seed", range(4))
def test_feed_run_equals_feed_one_at_a_time(case, seed):
    """``feed_run`` from wherever the previous one stopped == ``feed`` of each notification:
    each notification's samples, the error of the one that raised, stats, drops and state."""
    params, rate, sensor = CASES[case]
    rng = np.random.default_rng(100 * case + seed)
    datas = _notifications(params, rate, sensor, rng)
    one = movesense.Decoder(params, rate)
    want_blocks, want_errors = [], []
    for i, d in enumerate(datas):
        try:
            b = one.feed(d, 1000 + i)
        except DecodeError as exc:
            want_blocks.append(None)
            want_errors.append((i, str(exc)))
            continue
        want_blocks.append(b)
    bulk = movesense.Decoder(params, rate)
    length = np.array([len(d) for d in datas], dtype=np.int64)
    buf = np.frombuffer(b"".join(datas), dtype=np.uint8)
    start, host = np.cumsum(length) - length, 1000 + np.arange(len(datas), dtype=np.int64)
    got_errors, i = [], 0
    while i < len(datas):
        j = min(len(datas), i + int(rng.integers(1, 200)))
        block, counts, error = bulk.feed_run(buf, start[i:j], length[i:j], host[i:j])
        assert 1 <= len(counts) <= j - i and (error is not None or len(counts) == j - i)
        want = [b for b in want_blocks[i:i + len(counts)] if b is not None]
        assert list(counts) == [0 if b is None else len(b) for b in want_blocks[i:i + len(counts)]]
        _same_blocks(block, ImuBlock.concatenate(want) if want else None)
        if error is not None:
            assert isinstance(error, DecodeError)
            got_errors.append((i + len(counts) - 1, str(error)))
        i += len(counts)
    assert got_errors == want_errors and len(want_errors) > 0
    _same_decoders(one, bulk)
    _same_blocks(one.finish(), bulk.finish())
    _same_decoders(one, bulk)


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("seed", range(3))
def test_stream_on_random_blocks_equals_item_by_item(case, seed):
    """``push_block`` of random chunks == ``push`` of each item: samples and session times bit for
    bit, samples per item, gaps, messages, the stream's counters and the decoder."""
    params, rate, sensor = CASES[case]
    rng = np.random.default_rng(7 + 10 * case + seed)
    items = _items(_notifications(params, rate, sensor, rng, faults=seed > 0), rng, events=seed == 2)

    def stream() -> SensorStream:
        return SensorStream("s", movesense.Decoder(params, rate), rate, time_source="timestamp", origin_ns=10**9)

    one = stream()
    outs = [one.push(x) for x in items]
    bulk = stream()
    runs, i = [], 0
    while i < len(items):
        j = min(len(items), i + int(rng.choice([1, 5, 20, 64, 300, 2000])))
        runs.append(bulk.push_block(ItemBlock.from_items(items[i:j])))
        i = j
    got = [r.block for r in runs if r.block is not None]
    want = [o.block for o in outs if o.block is not None]
    _same_blocks(ImuBlock.concatenate(got) if got else None, ImuBlock.concatenate(want) if want else None)
    assert np.array_equal(np.concatenate([r.time_session_s for r in runs]),
                          np.concatenate([o.time_session_s for o in outs if o.block is not None]))
    assert list(np.concatenate([r.counts for r in runs])) == [0 if o.block is None else len(o.block) for o in outs]
    assert [repr(g) for r in runs for g in r.gaps] == [repr(g) for o in outs for g in o.gaps]
    assert [m for r in runs for m in r.messages] == [m for o in outs for m in o.messages]
    if seed:
        assert one.bad and one.lost and sum(r.bulk_items for r in runs) > len(items) // 2
    for attr in ("notifications", "samples", "lost", "bad", "last_time_sensor", "last_session", "last_arrival",
                 "first_ns", "last_ns", "period_s", "reconnected", "restarted"):
        assert getattr(one, attr) == getattr(bulk, attr), attr
    _same_decoders(one.decoder, bulk.decoder)


@pytest.mark.parametrize("case,parts,n", [(0, 3, 12), (3, 2, 5), (4, 2, 3), (5, 3, 16)])
def test_a_clean_run_is_one_compiled_pass(case, parts, n):
    """Whole messages only (of the expected size, shorter ones that a short part ends, ones
    whose last part is full, or in parts longer than the profile's):
    ``feed_run`` decodes them all in ``_gsp_run`` (``feed`` not called)."""
    params, rate, sensor = CASES[case]
    datas = _notifications(params, rate, sensor, np.random.default_rng(5), n_msg=40, faults=False)
    dec = movesense.Decoder(params, rate)
    dec.feed = None  # must not be needed
    length = np.array([len(d) for d in datas], dtype=np.int64)
    block, counts, error = dec.feed_run(np.frombuffer(b"".join(datas), dtype=np.uint8), np.cumsum(length) - length,
                                        length, np.arange(len(datas), dtype=np.int64))
    assert error is None and len(block) == 40 * n and list(counts) == ([0] * (parts - 1) + [n]) * 40
    assert dec.stats.packets == len(datas) and dec.stats.samples == 40 * n and dec._next_part == 2 + parts


@pytest.mark.parametrize("seed", range(3))
def test_garbage_through_blocks_equals_item_by_item(seed):
    """Notifications of random bytes (random lengths, kinds 0-5, this stream's reference or not)
    mixed with whole messages: ``push_block`` == ``push`` of each (no read beyond a notification:
    parts of 0 and 1 byte among them)."""
    params, rate, _ = CASES[seed % 2]
    rng = np.random.default_rng(900 + seed)
    good = _notifications(params, rate, None, rng, n_msg=60, faults=False)
    ref = params["client_ref"]
    datas = []
    for d in good:
        datas.append(d)
        if rng.random() < 0.3:
            n = int(rng.choice([0, 1, 2, 6, int(rng.integers(0, 200)), 155]))
            junk = bytearray(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
            if n:
                junk[0] = int(rng.integers(0, 6))
            if n > 1 and rng.random() < 0.7:
                junk[1] = ref
            datas.append(bytes(junk))
    items = _items(datas, rng, events=False)
    one = SensorStream("s", movesense.Decoder(params, rate), rate, time_source="timestamp", origin_ns=10**9)
    outs = [one.push(x) for x in items]
    bulk = SensorStream("s", movesense.Decoder(params, rate), rate, time_source="timestamp", origin_ns=10**9)
    run = bulk.push_block(ItemBlock.from_items(items))
    want = [o.block for o in outs if o.block is not None]
    _same_blocks(run.block, ImuBlock.concatenate(want) if want else None)
    assert list(run.counts) == [0 if o.block is None else len(o.block) for o in outs]
    assert run.messages == [m for o in outs for m in o.messages] and one.bad > 3
    assert [repr(g) for g in run.gaps] == [repr(g) for o in outs for g in o.gaps]
    _same_decoders(one.decoder, bulk.decoder)
