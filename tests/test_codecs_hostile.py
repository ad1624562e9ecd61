"""Every shipped profile's decoder against hostile input: random, truncated, oversized and bit-flipped
notifications give DecodeError (or are counted and skipped), never another exception, and the decoder
keeps decoding good packets afterwards."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hipmon.codecs import DecodeError
from hipmon.profiles import load_profiles
from hipmon.types import ImuBlock

PROFILES = load_profiles()
NAMES = sorted(PROFILES)


def good_packets(name, n=40):
    p = PROFILES[name]
    rate = p.default_rate_hz
    rng = np.random.default_rng(3)
    t = 1e5 + np.arange(n) / rate
    blk = ImuBlock(t, rng.normal(0, 10, (n, 3)), rng.normal(0, 2, (n, 3)), rng.normal(0, 40, (n, 3)) if "mag" in p.channels else None)
    enc = p.make_encoder(rate)
    return enc.encode(blk) + (enc.flush() if hasattr(enc, "flush") else [])


@pytest.mark.parametrize("name", NAMES)
def test_five_profiles_shipped(name):
    assert len(NAMES) >= 5 and name in NAMES


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_notifications(name, data):
    p = PROFILES[name]
    pkts = good_packets(name)
    dec = p.make_decoder()
    kind = data.draw(st.sampled_from(["random", "truncate", "extend", "flip"]))
    src = bytearray(data.draw(st.sampled_from(pkts)))
    if kind == "random":
        bad = data.draw(st.binary(min_size=0, max_size=300))
    elif kind == "truncate":
        bad = bytes(src[: data.draw(st.integers(0, max(len(src) - 1, 0)))])
    elif kind == "extend":
        bad = bytes(src) + data.draw(st.binary(min_size=1, max_size=40))
    else:
        i = data.draw(st.integers(0, len(src) - 1))
        src[i] ^= 1 << data.draw(st.integers(0, 7))
        bad = bytes(src)
    try:
        out = dec.feed(bad)
    except DecodeError:
        out = None
    if out is not None:
        assert np.all(np.isfinite(out.acc_sensor)) and np.all(np.isfinite(out.gyr_sensor))
    # batch path: never raises; afterwards a fresh stream of good packets still decodes
    dec.feed_many([bad, bad[: len(bad) // 2]])
    dec.reset()
    out = dec.feed_many(pkts)
    assert len(out) >= 30


@pytest.mark.parametrize("name", NAMES)
def test_bad_host_ns_shape_is_a_clear_error(name):
    dec = PROFILES[name].make_decoder()
    with pytest.raises(ValueError, match="host_ns"):
        dec.feed_many([b"\x00"], host_ns=[1, 2])
