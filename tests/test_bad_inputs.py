"""Issue 13: a corpus of generated bad inputs through every command that reads a file.

Every input is wrong or damaged in one way (the classes of issue 13, plus truncations and
random byte flips of the sample recordings). Each must end in one of two ways, never a
traceback:

- refused: a non-zero exit status and exactly one line on stderr naming the file (and no
  file left behind);
- taken with a word: exit 0 with a warning naming the file and the problem, where the fix is
  certain (units) or the data are usable as they are, and every row of the file kept.

A session with no (or no trusted) calibration makes ``analyze`` exit 3 with one line.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from hipmon.cli import main

REPO = Path(__file__).resolve().parents[1]
RECORDINGS = sorted((REPO / "recordings").glob("*.hipmon"))
COLS = "time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z,mag_x,mag_y,mag_z".split(",")
SENSORS = ("pelvis", "left_thigh", "right_thigh")
FLAG = {"pelvis": "--pelvis", "left_thigh": "--left-thigh", "right_thigh": "--right-thigh"}


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, (argv, err)
    return code, out, err


def _refused(code: int, err: str, name: str, argv) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0, (argv, err)
    assert len(lines) == 1, (argv, err)
    assert name in lines[0], (argv, lines[0])


# ---------------------------------------------------------------- CSV import


@pytest.fixture(scope="module")
def walk(tmp_path_factory) -> dict[str, np.ndarray]:
    """A 16 s simulated walk (standing, then walking) at 100 Hz: each sensor's CSV rows (N, 10)."""
    d = tmp_path_factory.mktemp("walk")
    assert main(["simulate", "walk", "--seconds", "16", "--seed", "2", "--rate", "100", "-o", str(d / "w")]) == 0
    return {p: np.loadtxt(d / "w" / f"{p}.csv", delimiter=",", skiprows=1) for p in SENSORS}


def _text(a: np.ndarray, cols=COLS, sep=",") -> str:
    return sep.join(cols) + "\n" + "\n".join(sep.join(f"{x:.6f}" for x in r) for r in a) + "\n"


def _with(a: np.ndarray, idx, f) -> np.ndarray:
    a = a.copy()
    a[:, idx] = f(a[:, idx])
    return a


A, G = [1, 2, 3], [4, 5, 6]
#: refused: name -> (content of the bad file from the good rows, what the message must say)
REFUSED = {
    "empty": (lambda a: "", "empty"),
    "header_only": (lambda a: ",".join(COLS) + "\n", "sample"),
    "garbage": (lambda a: bytes(random.Random(1).randrange(256) for _ in range(2000)), "UTF-8|column"),
    "semicolons": (lambda a: _text(a, sep=";"), "column"),
    "missing_gyr_z": (lambda a: _text(np.delete(a, 6, 1), COLS[:6] + COLS[7:]), "gyr_z"),
    "nan_value": (lambda a: _text(a).replace(f"{a[40, 1]:.6f}", "nan", 1), "nan"),
    "word_value": (lambda a: _text(a).replace(f"{a[40, 2]:.6f}", "abc", 1), "abc"),
    "time_backwards": (lambda a: _text(a[[*range(50), 51, 50, *range(52, len(a))]]), "increase"),
    "time_repeated": (lambda a: _text(np.insert(a, 30, a[30], axis=0)), "increase"),
    "short_row": (lambda a: _text(a).replace("\n", "\n1.0,2.0\n", 3).replace("\n1.0,2.0\n", "\n", 2), "line"),
    "one_row": (lambda a: _text(a[:1]), "sample"),
    "truncated_mid_line": (lambda a: _text(a)[: len(_text(a)) // 2], "line"),
    "utf16": (lambda a: _text(a[:200]).encode("utf-16"), "UTF-8"),
    "clock_far_away": (lambda a: _text(_with(a, [0], lambda t: t + 5000.0)), "clock"),
    "infinite": (lambda a: _text(a).replace(f"{a[60, 4]:.6f}", "inf", 1), "inf"),
}
#: taken with a warning that names the file: name -> (content, a word the warning must hold)
WARNED = {
    "acc_in_g": (lambda a: _text(_with(a, A, lambda x: x / 9.80665)), "g units"),
    "gyr_in_deg_s": (lambda a: _text(_with(a, G, np.degrees)), "deg/s"),
    "time_in_ms": (None, "milliseconds"),  # all three files (one clock)
    "dead_sensor": (lambda a: _text(_with(a, A + G, lambda x: np.broadcast_to(x[0], x.shape))), "does not move"),
    "clipped_gyr": (lambda a: _text(_with(a, G, lambda x: np.clip(x, -2.0, 2.0))), "clipped"),  # issue 13's ±2 rad/s
    "mirrored_axis": (lambda a: _text(_with(a, [2, 5], lambda x: -x)), "left-handed"),
}


def _import_argv(files: dict[str, Path], out: Path) -> list[str]:
    argv = ["import"]
    for p, f in files.items():
        argv += [FLAG[p], str(f)]
    return argv + ["-o", str(out)]


def _write_set(d: Path, walk, bad_sensor: str, content) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    files = {}
    for p in SENSORS:
        data = content(walk[p]) if p == bad_sensor else _text(walk[p])
        f = d / f"{p}.csv"
        f.write_bytes(data if isinstance(data, bytes) else data.encode())
        files[p] = f
    return files


@pytest.mark.parametrize("sensor", SENSORS)
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_import_refuses_a_bad_csv_with_one_line(tmp_path, capsys, walk, case, sensor):
    content, word = REFUSED[case]
    files = _write_set(tmp_path / "in", walk, sensor, content)
    out = tmp_path / "s.hipmon"
    argv = _import_argv(files, out)
    code, _, err = _run(capsys, argv)
    _refused(code, err, f"{sensor}.csv", argv)
    assert any(w.lower() in err.lower() for w in word.split("|")), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"], "nothing half-written, no temporary file"


@pytest.mark.parametrize("sensor", SENSORS)
@pytest.mark.parametrize("case", sorted(WARNED))
def test_import_takes_a_fixable_csv_with_a_warning_and_keeps_every_row(tmp_path, capsys, walk, case, sensor):
    from hipmon.recording import SessionReader

    content, word = WARNED[case]
    if case == "clipped_gyr" and sensor == "pelvis":
        pytest.skip("a walking pelvis turns at under 2 rad/s: nothing to clip")
    if content is None:  # a whole set in milliseconds: one case, not per sensor
        if sensor != "pelvis":
            pytest.skip("one set of files")
        files = {}
        (tmp_path / "in").mkdir()
        for p in SENSORS:
            files[p] = tmp_path / "in" / f"{p}.csv"
            files[p].write_text(_text(_with(walk[p], [0], lambda t: t * 1000.0)))
    else:
        files = _write_set(tmp_path / "in", walk, sensor, content)
    out = tmp_path / "s.hipmon"
    code, stdout, err = _run(capsys, _import_argv(files, out))
    assert code == 0, err
    warn = [ln for ln in (stdout + err).splitlines() if "warning" in ln and word in ln]
    assert warn, (case, stdout, err)
    with SessionReader(out) as r:
        for p in SENSORS:
            sid = next(s.sensor_id for s in r.sensors.values() if s.placement == p)
            n = len(r.samples(sid))
            assert n == len(walk[p]) or (case == "dead_sensor" and n == len(walk[p])), (p, n)


@pytest.mark.parametrize("case", ["nothing_there", "a_directory"])
def test_import_missing_or_directory_input(tmp_path, capsys, walk, case):
    files = _write_set(tmp_path / "in", walk, "pelvis", lambda a: _text(a))
    if case == "nothing_there":
        files["left_thigh"].unlink()
    else:
        files["left_thigh"].unlink()
        files["left_thigh"].mkdir()
    argv = _import_argv(files, tmp_path / "s.hipmon")
    code, _, err = _run(capsys, argv)
    _refused(code, err, "left_thigh.csv", argv)


@pytest.mark.parametrize("seconds", [1.5, 5.0])
def test_too_short_or_standing_only_session_analyze_exits_3(tmp_path, capsys, walk, seconds):
    """2 s of data, or standing only: import takes it; analyze says there is no calibration, exit 3."""
    d = tmp_path / "in"
    d.mkdir()
    files = {}
    for p in SENSORS:
        files[p] = d / f"{p}.csv"
        files[p].write_text(_text(walk[p][walk[p][:, 0] < seconds]))
    out = tmp_path / "s.hipmon"
    code, _, err = _run(capsys, _import_argv(files, out))
    assert code == 0, err
    code, _, err = _run(capsys, ["analyze", str(out)])
    assert code == 3
    _refused(code, err, str(out), "analyze")
    assert "calibration" in err
    assert _run(capsys, ["analyze", str(out), "--accept-untrusted"])[0] == 0


# ---------------------------------------------------------------- session files


def _damaged_copies(tmp: Path) -> list[tuple[str, Path]]:
    """Truncations (10 cut points) and random byte flips (12 seeds) of every sample recording."""
    out = []
    for rec in RECORDINGS:
        data = rec.read_bytes()
        for k in range(1, 11):
            f = tmp / f"{rec.stem}_cut{k}.hipmon"
            f.write_bytes(data[: len(data) * k // 11])
            out.append((f"cut {k}/11", f))
        for seed in range(12):
            rng = random.Random(seed)
            b = bytearray(data)
            for _ in range(8):
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
            f = tmp / f"{rec.stem}_flip{seed}.hipmon"
            f.write_bytes(bytes(b))
            out.append((f"flip {seed}", f))
    return out


def test_damaged_session_files_never_a_traceback(tmp_path, capsys):
    """66 truncated and 36 bit-flipped sample recordings through ``info``: either readable (exit 0,
    and then nothing lost: the notification count of the intact original where the flips
    missed the counts) or one line naming the file, exit 2; the file is never modified."""
    import hashlib

    from hipmon.recording import SessionReader

    assert len(RECORDINGS) == 3
    originals = {}
    for rec in RECORDINGS:
        with SessionReader(rec) as r:
            originals[rec.stem] = r.notification_count()
    copies = _damaged_copies(tmp_path)
    assert len(copies) >= 60
    refused = readable = 0
    for what, f in copies:
        before = hashlib.sha256(f.read_bytes()).hexdigest()
        code, out, err = _run(capsys, ["info", str(f)])
        assert hashlib.sha256(f.read_bytes()).hexdigest() == before, (what, f.name)
        if code == 0:
            readable += 1
            assert "cut" not in what, (what, out)  # a cut file is never read as if whole
        else:
            refused += 1
            _refused(code, err, f.name, ["info", f.name])
    assert refused >= 30 and readable + refused == len(copies)
    leftovers = [p.name for p in tmp_path.iterdir() if not p.name.endswith(".hipmon")]
    assert leftovers == [], "no -wal, -shm or temporary file left next to a read file"


@pytest.mark.parametrize("command", ["info", "analyze", "export", "replay", "repair"])
@pytest.mark.parametrize("kind", ["directory", "empty", "text", "other_sqlite", "missing"])
def test_not_a_session_file(tmp_path, capsys, command, kind):
    import sqlite3

    f = tmp_path / "x.hipmon"
    if kind == "directory":
        f.mkdir()
    elif kind == "empty":
        f.write_bytes(b"")
    elif kind == "text":
        f.write_text("time_s,acc_x\n1,2\n")
    elif kind == "other_sqlite":
        con = sqlite3.connect(f)
        con.execute("CREATE TABLE t (a)")
        con.commit()
        con.close()
    argv = {"info": ["info", str(f)], "analyze": ["analyze", str(f)],
            "export": ["export", str(f), "--angles", str(tmp_path / "a.csv")],
            "replay": ["replay", str(f), "--screenshot", str(tmp_path / "r.png")], "repair": ["repair", str(f), "-o", str(tmp_path / "r.hipmon")]}[command]
    code, _, err = _run(capsys, argv)
    _refused(code, err, "x.hipmon", argv)
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "r.hipmon").exists()


# ---------------------------------------------------------------- decode, rules, configurations

BAD_HEX = {
    "odd_length": "abc\n",
    "not_hex": "zz zz zz\n",
    "too_short": "00\n" * 3,
    "random_bytes": "\n".join(os.urandom(20).hex() for _ in range(5)) + "\n",
    "binary_file": None,
}


@pytest.mark.parametrize("profile", ["movesense-gsp", "polar-verity-sense", "hipmon-open", "witmotion-wt901ble",
                                     "thingy52"])
@pytest.mark.parametrize("case", sorted(BAD_HEX))
def test_decode_bad_captures(tmp_path, capsys, profile, case):
    from hipmon.profiles import load_profiles

    if profile not in load_profiles():
        pytest.fail(f"profile {profile} not bundled")
    f = tmp_path / "cap.txt"
    if BAD_HEX[case] is None:
        f.write_bytes(bytes(range(256)) * 4)
    else:
        f.write_text(BAD_HEX[case])
    code, out, err = _run(capsys, ["decode", profile, str(f)])
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines, "a bad capture is said"
    if code == 0:  # decoded with some notifications rejected: each reported
        assert any("bad" in ln or "dropped" in ln or "incomplete" in ln for ln in lines), err
    else:
        assert "cap.txt" in err or "notification" in err or "line" in err, err


@pytest.mark.parametrize("argv_tail, word", [
    (["no-such-profile", "x.txt"], "profile"),
    (["movesense-gsp", "--rate", "-5", "x.txt"], "rate"),
    (["movesense-gsp", "--rate", "abc", "x.txt"], "rate"),
    (["movesense-gsp", "nope.txt"], "nope.txt"),
])
def test_decode_bad_arguments(tmp_path, capsys, argv_tail, word):
    (tmp_path / "x.txt").write_text("00\n")
    argv = ["decode", *[str(tmp_path / a) if a.endswith(".txt") else a for a in argv_tail]]
    code, _, err = _run(capsys, argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and word in lines[0], err


BAD_CONFIGS = {
    "not_toml": "this is = = not toml",
    "no_sensors": 'profile = "movesense-gsp"\n',
    "unknown_placement": '[[sensor]]\nplacement = "knee"\naddress = "AA:BB:CC:DD:EE:FF"\n',
    "duplicate_placement": ('[[sensor]]\nplacement = "pelvis"\naddress = "AA:BB:CC:DD:EE:01"\n'
                            '[[sensor]]\nplacement = "pelvis"\naddress = "AA:BB:CC:DD:EE:02"\n'),
    "unknown_profile": '[[sensor]]\nplacement = "pelvis"\naddress = "AA:BB:CC:DD:EE:FF"\nprofile = "nope"\n',
    "no_address_or_name": '[[sensor]]\nplacement = "pelvis"\n',
    "bad_rate": 'rate_hz = "fast"\n[[sensor]]\nplacement = "pelvis"\naddress = "AA:BB:CC:DD:EE:FF"\n',
    "one_thigh": ('[[sensor]]\nplacement = "pelvis"\naddress = "AA:BB:CC:DD:EE:01"\n'
                  '[[sensor]]\nplacement = "left_thigh"\naddress = "AA:BB:CC:DD:EE:02"\n'),
    "sensor_not_table": 'sensor = 3\n',
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_record_with_a_bad_session_configuration(tmp_path, capsys, case):
    cfg = tmp_path / "session.toml"
    cfg.write_text(BAD_CONFIGS[case])
    argv = ["record", "--config", str(cfg), "-o", str(tmp_path / "s.hipmon"), "--seconds", "1"]
    code, _, err = _run(capsys, argv)
    _refused(code, err, "session.toml", argv)
    assert not (tmp_path / "s.hipmon").exists()


BAD_RULES = {
    "not_toml": "[[rule\n",
    "unknown_metric": '[[rule]]\nname = "x"\nkinds = ["stance"]\n[[rule.condition]]\nmetric = "peak_pelvic_dorp_deg"\nabove = 5.0\n',
    "wrong_type": '[[rule]]\nname = "x"\nkinds = "stance"\n',
    "unknown_key": '[[rule]]\nname = "x"\nkinds = ["stance"]\nsevertiy = 3\n',
    "empty_rule": "[[rule]]\n",
}


@pytest.fixture(scope="module")
def small_session(tmp_path_factory, walk):
    d = tmp_path_factory.mktemp("small")
    files = {}
    for p in SENSORS:
        files[p] = d / f"{p}.csv"
        files[p].write_text(_text(walk[p]))
    out = d / "s.hipmon"
    assert main(_import_argv(files, out)) == 0
    return out


@pytest.mark.parametrize("command", ["analyze", "export"])
@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_bad_rules_file(tmp_path, capsys, small_session, command, case):
    rules = tmp_path / "rules.toml"
    rules.write_text(BAD_RULES[case])
    argv = [command, str(small_session), "--rules", str(rules)]
    if command == "export":
        argv += ["--events", str(tmp_path / "e.csv")]
    code, _, err = _run(capsys, argv)
    _refused(code, err, "rules.toml", argv)
    assert not (tmp_path / "e.csv").exists()


@pytest.mark.parametrize("argv", [
    ["simulate", "walk", "--seconds", "-5", "-o", "OUT"],
    ["simulate", "walk", "--seconds", "abc", "-o", "OUT"],
    ["simulate", "fly", "--seconds", "5", "-o", "OUT"],
    ["simulate", "walk", "--seconds", "5", "--rate", "0", "-o", "OUT"],
    ["record", "--emulate", "walk", "--seconds", "0", "-o", "OUT"],
    ["record", "--emulate", "swim", "--seconds", "2", "-o", "OUT"],
    ["record", "--emulate", "walk", "--seconds", "2", "--profile", "nope", "-o", "OUT"],
    ["export", "SESSION", "--angles", "NODIR/a.csv"],
    ["analyze", "SESSION", "--baseline", "NOPE.json"],
    ["nosuchcommand"],
])
def test_bad_arguments_one_line(tmp_path, capsys, small_session, argv):
    argv = [a.replace("OUT", str(tmp_path / "out")).replace("SESSION", str(small_session))
            .replace("NODIR", str(tmp_path / "nodir")).replace("NOPE", str(tmp_path / "nope")) for a in argv]
    code, _, err = _run(capsys, argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1, (argv, err)
    assert not (tmp_path / "out").exists() or argv[0] == "simulate" and not any((tmp_path / "out").iterdir())


# ---------------------------------------------------------------- healthy sessions: nothing said


@pytest.mark.parametrize("kind", ["walk", "run", "jump", "squat", "stance"])
def test_a_healthy_session_raises_no_warning(tmp_path, capsys, kind):
    """A healthy simulated athlete (sensors strapped on at any angle, soft tissue on): import says
    nothing but what it wrote, analyze trusts the calibration and exits 0."""
    d = tmp_path / "sim"
    seconds = "45" if kind == "squat" else "30"
    assert main(["simulate", kind, "--seconds", seconds, "--seed", "5", "--rate", "100", "-o", str(d)]) == 0
    out = tmp_path / "s.hipmon"
    code, stdout, err = _run(capsys, _import_argv({p: d / f"{p}.csv" for p in SENSORS}, out))
    assert code == 0 and "warning" not in (stdout + err).lower(), stdout + err
    code, stdout, err = _run(capsys, ["analyze", str(out)])
    assert code == 0, err
    assert "(trusted)" in stdout and "warning" not in stdout.lower(), stdout


@pytest.mark.parametrize("field, bad, line_of", [
    ("codec", 'codec = "nope"', "codec ="),
    ("rates_hz", 'rates_hz = "fast"', "rates_hz ="),
])
def test_bad_profile_names_file_line_and_field(tmp_path, capsys, field, bad, line_of):
    import re

    src = (REPO / "firmware_profiles" / "movesense-gsp.toml").read_text().splitlines()
    out = [bad if re.match(rf"^{field}\s*=", ln) else ln for ln in src]
    assert out != src
    (tmp_path / "bad.toml").write_text("\n".join(out) + "\n")
    line = next(i + 1 for i, ln in enumerate(out) if ln.startswith(line_of))
    code, _, err = _run(capsys, ["profiles", "--dir", str(tmp_path)])
    _refused(code, err, "bad.toml", ["profiles"])
    assert f"line {line}" in err and f"'{field}'" in err, err


def test_every_command_has_working_help(capsys):
    """``hipmon --help`` and ``hipmon CMD --help`` for every command: exit 0, usage printed (a bare % in a
    help text made argparse raise)."""
    from hipmon.cli import COMMANDS

    assert _run(capsys, ["--help"])[0] == 0
    for name in COMMANDS:
        code, out, _ = _run(capsys, [name, "--help"])
        assert code == 0 and f"usage: hipmon {name}" in out, name
