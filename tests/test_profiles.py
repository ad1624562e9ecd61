"""Firmware profiles: shipped files, templated start bytes checked against the vendors' documented
commands, validation errors that name file and field, a new sensor by TOML only, and the
`hipmon profiles` / `hipmon decode` commands."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hipmon.cli import main
from hipmon.codecs import movesense, open_imu, polar
from hipmon.profiles import ProfileError, get_profile, load_profile_file, load_profiles
from hipmon.types import ImuBlock

SHIPPED = {"hipmon-open", "movesense-gsp", "polar-verity-sense", "witmotion-wt901ble", "thingy52"}
OPEN_TOML = (Path(__file__).resolve().parents[1] / "firmware_profiles" / "hipmon-open.toml").read_text()


def test_five_shipped_profiles_with_their_contract_fields():
    profiles = load_profiles()
    assert SHIPPED <= set(profiles)
    for p in profiles.values():
        assert {"acc", "gyr"} <= set(p.channels)
        assert p.default_rate_hz in p.rates_hz
        assert p.time_source in ("timestamp", "counter", "none")
        assert "data" in p.characteristics and p.start_steps()
        assert p.make_decoder() is not None and p.make_encoder() is not None
    assert profiles["movesense-gsp"].matches_name("Movesense 204730000081")
    assert not profiles["movesense-gsp"].matches_name("Polar Sense B5A1")
    assert profiles["polar-verity-sense"].matches_name("Polar Sense B5A1B2C3")


def test_movesense_start_stop_bytes():
    # GSP spec / python client: 01 63 "/Meas/IMU9/104" to subscribe, 02 63 to unsubscribe
    p = get_profile("movesense-gsp")
    steps = p.start_steps(104)
    assert [(s.op, s.char_role) for s in steps] == [("notify", "data"), ("write", "command")]
    assert steps[1].data == bytes([0x01, 0x63]) + b"/Meas/IMU9/104" and steps[1].response
    assert p.start_steps(416)[1].data == movesense.encode_subscribe(99, "IMU9", 416)
    assert p.stop_steps()[0].data == bytes([0x02, 0x63])
    assert p.characteristics["command"] == "34800001-7185-4d5d-b431-630e7050e8f0"


def test_polar_start_bytes_match_documented_example():
    p = get_profile("polar-verity-sense")
    writes = [s for s in p.start_steps(52) if s.op == "write"]
    assert writes[0].data == bytes([0x02, 0x09])  # SDK mode first
    # example from the PMD docs: ACC 52 Hz, 16 bit, 8 G
    assert writes[1].data.hex() == "0202000134000101100002010800"
    gyr = polar.parse_cp_command(writes[2].data)
    assert (gyr.meas, gyr.settings) == (polar.MEAS_GYRO, {0: [52], 1: [16], 2: [2000]})
    for rate in p.rates_hz:
        mag = polar.parse_cp_command([s for s in p.start_steps(rate) if s.op == "write"][3].data)
        assert mag.settings[0] == [polar.mag_rate_for(rate)]  # the codec's pairing rule and the TOML agree
    assert [s.data.hex() for s in p.stop_steps()] == ["0306", "0305", "0302", "0309"]


def test_open_witmotion_thingy_start_bytes():
    p = get_profile("hipmon-open")
    cmd = open_imu.parse_command(p.start_steps(208)[1].data)
    assert cmd == open_imu.StartCommand(208, int(p.ranges["acc_g"]), int(p.ranges["gyr_dps"]), False)
    w = get_profile("witmotion-wt901ble")
    assert [s.data.hex() for s in w.start_steps(100) if s.op == "write"] == ["ffaa6988b5", "ffaa030900", "ffaa000000"]
    t = get_profile("thingy52")
    assert t.start_steps(100)[0].data.hex() == "e803e803e803640000"


def test_rate_not_supported():
    with pytest.raises(ProfileError, match="cannot stream at 100 Hz"):
        get_profile("movesense-gsp").start_steps(100)
    with pytest.raises(ProfileError, match="no profile named 'nope'"):
        get_profile("nope")


@pytest.mark.parametrize(
    "edit, field",
    [
        (("codec = \"hipmon_open\"", "codec = \"zzz\""), "codec"),
        (("service_uuid = \"48490001-4f50-454e-494d-553100000000\"", "service_uuid = \"1234\""), "service_uuid"),
        (("default_rate_hz = 104", "default_rate_hz = 100"), "default_rate_hz"),
        (("channels = [\"acc\", \"gyr\"]", "channels = [\"acc\", \"temp\"]"), "channels"),
        (("u8:{acc_code}", "u8:{nope}"), "start[1].data"),
        (("data = \"02\"", "data = \"0\""), "stop[0].data"),
        (("char = \"control\"", "char = \"ctl\""), "start[1].char"),
        (("mtu = 247", "mtu = 7"), "codec_params.mtu"),
        (("time_source = \"timestamp\"", "time_source = \"sometimes\""), "time_source"),
        (("name = \"hipmon-open\"\n", ""), "name"),
        (("codec = \"hipmon_open\"", "colour = 1\ncodec = \"hipmon_open\""), "colour"),
        (("[ranges]", "colour = 1\n[ranges]"), "characteristics.colour"),
    ],
)
def test_validation_errors_name_file_and_field(tmp_path, edit, field):
    bad = tmp_path / "bad.toml"
    assert edit[0] in OPEN_TOML
    bad.write_text(OPEN_TOML.replace(edit[0], edit[1], 1))
    with pytest.raises(ProfileError) as err:
        load_profile_file(bad)
    assert str(bad) in str(err.value) and f"field '{field}'" in str(err.value)
    assert err.value.field == field


def test_invalid_toml_names_file(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("name = \n")
    with pytest.raises(ProfileError, match="broken.toml: not valid TOML"):
        load_profile_file(bad)


def test_new_sensor_is_a_toml_file(tmp_path, monkeypatch):
    """A Movesense running IMU6 at 208 Hz: same codec, new file, no code."""
    text = (
        Path(__file__).resolve().parents[1] / "firmware_profiles" / "movesense-gsp.toml"
    ).read_text()
    text = (text.replace('name = "movesense-gsp"', 'name = "movesense-imu6"')
            .replace('channels = ["acc", "gyr", "mag"]', 'channels = ["acc", "gyr"]')
            .replace('resource = "IMU9"', 'resource = "IMU6"'))
    (tmp_path / "movesense-imu6.toml").write_text(text)
    profiles = load_profiles([tmp_path])
    p = profiles["movesense-imu6"]
    assert p.start_steps(208)[1].data == bytes([1, 99]) + b"/Meas/IMU6/208"
    n = 40
    blk = ImuBlock(np.arange(n) / 208, np.full((n, 3), 1.5), np.full((n, 3), 0.25))
    pk = p.make_encoder(208).encode(blk)
    assert len(pk[0]) == 155 and pk[1][0] == 3  # 16 samples x 24 B: DATA + DATA_PART2 + DATA_PART3
    out = p.make_decoder(208).feed_many(pk)
    assert out.mag_sensor is None
    np.testing.assert_allclose(out.acc_sensor, blk.acc_sensor)
    # duplicate names are refused, and HIPMON_PROFILE_DIR replaces the shipped directory
    with pytest.raises(ProfileError, match="already defined"):
        load_profiles([tmp_path, tmp_path])
    monkeypatch.setenv("HIPMON_PROFILE_DIR", str(tmp_path))
    assert list(load_profiles()) == ["movesense-imu6"]


def test_cli_profiles_lists_five(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    for name in SHIPPED:
        assert name in out
    assert main(["profiles", "--json"]) == 0
    assert '"polar-verity-sense"' in capsys.readouterr().out


def test_cli_decode_pasted_capture(tmp_path):
    # a pasted WitMotion capture: two good lines, one split frame, one bad line
    lines = [
        "# captured with nRF Connect",
        "55 61 00 08 00 f8 00 00 00 40 00 00 00 c0 64 00 c8 00 2c 01",
        "0x55,0x61,0x00,0x08,0x00,0x00,0x00,0x00,0x00,0x00",
        "00 00 00 00 00 00 00 00 00 00",
        "zz 12",
        "",
    ]
    f = tmp_path / "cap.txt"
    f.write_text("\n".join(lines))
    r = subprocess.run([sys.executable, "-m", "hipmon", "decode", "witmotion-wt901ble", str(f)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1  # one bad line
    rows = r.stdout.strip().splitlines()
    assert rows[0] == "sample_time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"
    assert len(rows) == 3
    vals = [float(v) for v in rows[1].split(",")]
    assert vals[0] == 0.0 and vals[1] == pytest.approx(9.80665, rel=1e-5) and vals[2] == pytest.approx(-9.80665, rel=1e-5)
    assert vals[4] == pytest.approx(np.radians(1000), rel=1e-5)
    assert float(rows[2].split(",")[0]) == pytest.approx(1 / 50)
    assert "cap.txt:5:" in r.stderr and "1 bad lines" in r.stderr
    r2 = subprocess.run([sys.executable, "-m", "hipmon", "decode", "movesense-gsp"], input="",
                        capture_output=True, text=True, timeout=60)
    assert r2.returncode == 0 and r2.stdout.startswith("sample_time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z,mag_x,mag_y,mag_z")
    r3 = subprocess.run([sys.executable, "-m", "hipmon", "decode", "no-such"], capture_output=True, text=True, timeout=60)
    assert r3.returncode == 2 and "no profile named 'no-such'" in r3.stderr  # DESIGN section 4: exit status 2
