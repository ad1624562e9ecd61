"""``hipmon decode``: options anywhere, every dropped or incomplete message reported, one
measurement alone (issue 13). Notifications are written here byte by byte from the protocols
(Movesense GSP: ``type ref | u32 ms | n acc, n gyro, n magn float32 vectors``; Polar PMD:
``type | u64 ns | frame type | payload``, one frame from Polar's own SDK tests)."""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest

from hipmon.cli import main

G = 9.80665
REF = 0x63  # the movesense-gsp profile's client reference


def gsp_message(ts_ms: int, vectors: list[np.ndarray]) -> bytes:
    """One GSP DATA message (unsplit): 02 ref | u32 ts | acc... | gyro... [| magn...]."""
    body = struct.pack("<I", ts_ms) + b"".join(np.asarray(v, "<f4").tobytes() for v in vectors)
    return bytes([2, REF]) + body


def split(message: bytes, first: int = 155) -> list[bytes]:
    """DATA, DATA_PART2, DATA_PART3 notifications of one message (each continuation with its header)."""
    parts, rest, kind = [message[:first]], message[first:], 3
    while rest:
        parts.append(bytes([kind, REF]) + rest[: first - 2])
        rest, kind = rest[first - 2:], kind + 1
    return parts


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["decode", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def imu9_52hz(ts_ms: int, k: int = 0) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    n = 4  # 52 Hz / 13: four samples per message, 150 bytes: one notification
    acc = np.arange(12, dtype=float).reshape(n, 3) + 10 * k
    gyr = -np.arange(12, dtype=float).reshape(n, 3) * 10
    mag = np.full((n, 3), 40.0) + k
    return gsp_message(ts_ms, [acc, gyr, mag]), acc, gyr, mag


@pytest.fixture
def imu9_capture(tmp_path):
    m1, a1, g1, mg1 = imu9_52hz(1000, 0)
    m2, a2, g2, mg2 = imu9_52hz(1077, 1)  # 77 ms later: 4 samples at 19.25 ms
    assert len(m1) == 150
    f = tmp_path / "imu9.txt"
    f.write_text(f"# two IMU9 messages at 52 Hz\n{m1.hex(' ')}\n{m2.hex()}\n")
    return f, np.vstack([a1, a2]), np.vstack([g1, g2]), np.vstack([mg1, mg2])


@pytest.mark.parametrize("order", ["before", "between", "after"])
def test_options_anywhere(capsys, imu9_capture, order):
    f, acc, gyr, mag = imu9_capture
    argv = {"before": ["--rate", "52", "movesense-gsp", str(f)],
            "between": ["movesense-gsp", "--rate", "52", str(f)],
            "after": ["movesense-gsp", str(f), "--rate", "52"]}[order]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    rows = out.strip().splitlines()
    assert rows[0] == "sample_time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z,mag_x,mag_y,mag_z"
    vals = np.array([[float(x) for x in r.split(",")] for r in rows[1:]])
    assert vals.shape == (8, 10)
    # first message: nominal 1/52 s from 1.000 s; second: the measured 77 ms / 4 from 1.077 s
    np.testing.assert_allclose(vals[:4, 0], 1.0 + np.arange(4) / 52, atol=1e-6)
    np.testing.assert_allclose(vals[4:, 0], 1.077 + np.arange(4) * 0.01925, atol=1e-6)
    np.testing.assert_allclose(vals[:, 1:4], acc, rtol=1e-6)
    np.testing.assert_allclose(vals[:, 4:7], np.radians(gyr), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vals[:, 7:10], mag, rtol=1e-6)
    assert "2 notifications, 8 samples, 0 bad lines" in err


def test_one_measurement_of_a_combined_stream(capsys, imu9_capture):
    f, acc, gyr, mag = imu9_capture
    code, out, err = run(capsys, "movesense-gsp", str(f), "--measurement", "gyr", "--rate", "52")
    assert code == 0, err
    rows = out.strip().splitlines()
    assert rows[0] == "sample_time_s,gyr_x,gyr_y,gyr_z"
    vals = np.array([[float(x) for x in r.split(",")] for r in rows[1:]])
    np.testing.assert_allclose(vals[:, 1:], np.radians(gyr), rtol=1e-5, atol=1e-6)
    code, out, err = run(capsys, "movesense-gsp", str(f), "--rate", "52", "--measurement", "mag")
    assert out.strip().splitlines()[0] == "sample_time_s,mag_x,mag_y,mag_z" and code == 0


def test_imu6_through_the_imu9_profile_is_reported(capsys, tmp_path):
    """Issue 13: two IMU6 DATA notifications (first parts of two 104 Hz messages, whose
    DATA_PART2 were not captured) printed '0 samples, 0 bad lines' and exit 0."""
    n = 8
    m1 = gsp_message(500, [np.ones((n, 3)), np.zeros((n, 3))])
    m2 = gsp_message(577, [np.ones((n, 3)), np.zeros((n, 3))])
    assert len(m1) == 2 + 4 + n * 24 == 198
    f = tmp_path / "imu6.txt"
    f.write_text(f"{split(m1)[0].hex()}\n{split(m2)[0].hex()}\n")
    code, out, err = run(capsys, "movesense-gsp", "--rate", "104", str(f))
    assert code == 1
    assert out.strip().splitlines()[1:] == []
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"{f}:1: incomplete GSP message dropped")
    assert lines[1].startswith(f"{f}:2: incomplete GSP message at the end of the stream")
    assert "0 samples, 0 bad lines, 2 messages dropped or incomplete (lines 1-2)" in lines[-1]
    # the whole IMU6 message (DATA + DATA_PART2) is a bad line that says what it looks like
    f2 = tmp_path / "imu6-whole.txt"
    f2.write_text("\n".join(p.hex() for p in split(m1)) + "\n")
    code, out, err = run(capsys, "movesense-gsp", str(f2))
    assert code == 1
    assert f"{f2}:2: GSP message body of 196 bytes is not 4 + n x 36" in err and "IMU6 data?" in err
    assert f"{f2}:1: first part(s) of a GSP message dropped" in err


def test_lost_continuation_mid_stream(capsys, tmp_path):
    """DATA, (PART2 lost), PART3 of one 208 Hz IMU9 message, then a whole message: the broken
    message's lines are named, the whole one decodes."""
    n = 12  # 208 Hz: rate/13 = 16 capped at the 12 samples three parts hold
    msgs = [gsp_message(1000 + 58 * i, [np.full((n, 3), i + 1.0), np.zeros((n, 3)), np.full((n, 3), 30.0)])
            for i in range(2)]
    p1, p2 = split(msgs[0]), split(msgs[1])
    assert [len(p) for p in p1] == [155, 155, 2 + (2 + 4 + 36 * n) - 155 - 153] == [155, 155, 132]
    assert [p[0] for p in p1] == [2, 3, 4]
    f = tmp_path / "lost.txt"
    f.write_text("\n".join([p1[0].hex(), p1[2].hex()] + [p.hex() for p in p2]) + "\n")
    code, out, err = run(capsys, "movesense-gsp", str(f), "--rate", "208")
    assert code == 1
    assert f"{f}:2: DATA_PART3 where DATA_PART2 was expected" in err
    assert f"{f}:1: incomplete GSP message dropped: its DATA_PART2 was lost" in err
    rows = out.strip().splitlines()[1:]
    assert len(rows) == n and all(r.split(",")[1] == "2" for r in rows)
    assert "1 bad lines, 1 messages dropped or incomplete (lines 1)" in err


# --------------------------------------------------------------------------- Polar

#: ACC compressed type 1 frame from Polar's AccDataTest.kt ('process acc compressed data type 1'):
#: frame time 101 ns, samples (-15, 20, 1008) and (-20, 17, 1008) x FACTOR mG
POLAR_ACC = "02650000000000000081f1ff1400f00306017b0f08"
#: START response for ACC (F0 02 02 status 0, more 0) with FACTOR 1.0 (05 01 float32 LE)
START_ACC_FACTOR_1 = "f0020200000501" + struct.pack("<f", 1.0).hex()
#: GYRO compressed type 0 frame (GyrDataTest.kt bytes, frame time set to 200 ns): (-22, 8, 13), (-23, 11, 16) x FACTOR deg/s
POLAR_GYR_LATE = "05c800000000000000" + "80eaff08000d000301df00"


def test_polar_acc_frames_alone(capsys, tmp_path):
    f = tmp_path / "acc.txt"
    f.write_text(f"{START_ACC_FACTOR_1}\n{POLAR_ACC}\n")
    code, out, err = run(capsys, "polar-verity-sense", str(f), "--measurement", "acc")
    assert code == 0, err
    rows = out.strip().splitlines()
    assert rows[0] == "sample_time_s,acc_x,acc_y,acc_z"
    vals = np.array([[float(x) for x in r.split(",")] for r in rows[1:]])
    np.testing.assert_allclose(vals[:, 1:] / G * 1000, [[-15, 20, 1008], [-20, 17, 1008]], rtol=1e-5)
    # a first frame: 1/52 s apart, the last sample at the frame time (101 ns)
    np.testing.assert_allclose(vals[:, 0], [101e-9 - 1 / 52, 101e-9], atol=1e-6)
    # without --measurement the ACC samples wait for GYRO that never comes: said, exit 1
    code, out, err = run(capsys, "polar-verity-sense", str(f))
    assert code == 1 and out.strip().splitlines()[1:] == []
    assert f"{f}:2: ACC samples without a GYRO sample" in err and "(2 samples)" in err
    assert "--measurement acc" in err


def test_polar_other_measurements_skipped_and_gyro_alone(capsys, tmp_path):
    f = tmp_path / "mixed.txt"
    f.write_text(f"{POLAR_ACC}\n{POLAR_GYR_LATE}\n")
    code, out, err = run(capsys, "polar-verity-sense", "--measurement", "gyr", str(f))
    assert code == 0, err
    assert "1 frames of other measurements skipped" in err
    vals = np.array([[float(x) for x in r.split(",")] for r in out.strip().splitlines()[1:]])
    factor = 2000 / 32768  # the profile's FACTOR (2000 deg/s full scale) until a START response says otherwise
    np.testing.assert_allclose(vals[:, 1:], np.radians(np.array([[-22, 8, 13], [-23, 11, 16]]) * factor), rtol=1e-5)


def test_polar_gyro_after_the_last_acc_is_reported(capsys, tmp_path):
    """ACC samples near 0 s, GYRO samples a second later: nothing pairs; both frames are named
    (the ACC samples lacked a GYRO partner, the GYRO samples come after the last ACC one)."""
    gyr_far = "05" + (10**9).to_bytes(8, "little").hex() + "80eaff08000d000301df00"
    f = tmp_path / "tail.txt"
    f.write_text(f"{POLAR_ACC}\n{gyr_far}\n")
    code, out, err = run(capsys, "polar-verity-sense", str(f), "--measurement", "acc")
    assert code == 0 and len(out.strip().splitlines()) == 3
    code, out, err = run(capsys, "polar-verity-sense", str(f))
    assert code == 1
    assert f"{f}:2: GYRO samples without an ACC sample" in err
    assert f"{f}:1: ACC samples without a GYRO sample" in err


# --------------------------------------------------------------------------- errors


def test_usage_errors_are_one_line_exit_2(capsys, tmp_path):
    for argv, needle in [(["movesense-gsp", "--rate", "abc"], "invalid float value"),
                         (["movesense-gsp", "--measurement", "xyz"], "invalid choice"),
                         (["movesense-gsp", "a.txt", "b.txt"], "unrecognized arguments: b.txt"),
                         (["witmotion-wt901ble", "--measurement", "mag"], "does not stream mag"),
                         (["movesense-gsp", str(tmp_path / "missing.txt")], "missing.txt"),
                         (["no-such"], "no profile named 'no-such'")]:
        with pytest.raises(SystemExit) as exc:
            code = main(["decode", *argv])
            raise SystemExit(code)
        err = capsys.readouterr().err
        assert exc.value.code == 2, (argv, err)
        assert len(err.strip().splitlines()) == 1 and needle in err and err.startswith("hipmon decode: "), (argv, err)
        assert "Traceback" not in err


def test_subprocess_options_anywhere(tmp_path, imu9_capture):
    """The installed entry point, as a user types it (issue 13: refused before)."""
    f = imu9_capture[0]
    r = subprocess.run([sys.executable, "-m", "hipmon", "decode", "movesense-gsp", "--rate", "52", str(f)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 9
