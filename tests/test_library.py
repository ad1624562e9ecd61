"""The athlete library (``hipmon.library``), ``hipmon sessions``, ``report --athlete``, and the protocol
stored by ``import`` / shown by ``info`` / ``analyze``; the dashboard's protocol judgements without Qt."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from hipmon.cli import main
from hipmon.library import athlete_folder, list_sessions, new_session_path
from hipmon.simulate import simulate


def test_names_and_numbering(tmp_path):
    assert athlete_folder("  Ana María López ") == "ana_maria_lopez"
    with pytest.raises(Exception, match="letter or digit"):
        athlete_folder("  ?? ")
    p1 = new_session_path(tmp_path, "Ana", "stance", when=0)
    assert p1.parent.name == "ana" and p1.name.endswith("_stance_1.hipmon")
    p1.write_bytes(b"")
    assert new_session_path(tmp_path, "Ana", "stance", when=0).name.endswith("_stance_2.hipmon")
    assert new_session_path(tmp_path, "Ana", "run", when=0).name.endswith("_run_1.hipmon")
    assert new_session_path(tmp_path, "Ana", None, when=0).name.endswith("_session_1.hipmon")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Two stance sessions of one athlete into a library by ``import --athlete`` (no -o): the right
    hip weak at first (drop 6°), then better (3°)."""
    tmp = tmp_path_factory.mktemp("lib")
    lib = tmp / "library"
    for i, drop in enumerate((6.0, 3.0)):
        sim = simulate("stance", 40, 10 + i, soft_tissue=False, right_drop_deg=drop, sides="right")
        d = sim.write_dir(tmp / f"s{i}")
        assert main(["import", "--pelvis", str(d / "pelvis.csv"), "--left-thigh", str(d / "left_thigh.csv"),
                     "--right-thigh", str(d / "right_thigh.csv"), "--athlete", "Ana López", "--protocol", "stance",
                     "--side", "right", "--library", str(lib), "--no-progress"]) == 0
    return lib


def test_import_writes_into_the_library_with_the_protocol(library, capsys):
    files = sorted((library / "ana_lopez").glob("*.hipmon"))
    assert [f.name[11:] for f in files] == ["stance_1.hipmon", "stance_2.hipmon"]
    capsys.readouterr()
    assert main(["info", str(files[0]), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["protocol"] == "stance" and info["protocol_side"] == "right"
    assert info["metadata"]["athlete"] == "Ana López"
    assert main(["info", str(files[0])]) == 0
    assert "protocol    stance (single-leg stance hold), right side" in capsys.readouterr().out
    assert main(["analyze", str(files[0]), "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    proto = out["protocol"]
    assert proto["name"] == "stance" and proto["stored"] and proto["side"] == "right"
    assert [i["side"] for i in proto["result"]["items"]] == ["right"]
    assert proto["result"]["items"][0]["mean_drop_deg"] == pytest.approx(6.0, abs=1.0)


def test_sessions_lists_key_numbers_from_a_cached_index(library, capsys, monkeypatch):
    capsys.readouterr()
    assert main(["sessions", "--library", str(library), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    ss = data["sessions"]
    assert [s["protocol"] for s in ss] == ["stance", "stance"] and all(s["side"] == "right" for s in ss)
    assert ss[0]["athlete"] == "Ana López" and ss[0]["date"] <= ss[1]["date"]
    assert ss[0]["key"]["right drop"] > ss[1]["key"]["right drop"] + 2.0  # 6° then 3° (peaks of the hold)
    assert ss[0]["key"]["right hold s"] > 10
    index = json.loads((library / "index.json").read_text())
    assert len(index["sessions"]) == 2
    # the index is a cache: a second listing analyses nothing; a changed file is analysed again
    import hipmon.library as lib

    calls = []
    real = lib.session_entry
    monkeypatch.setattr(lib, "session_entry", lambda p: calls.append(p) or real(p))
    list_sessions(library)
    assert calls == []
    f = sorted((library / "ana_lopez").glob("*.hipmon"))[1]
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    entries = list_sessions(library, "Ana López")
    assert [os.path.basename(str(c)) for c in calls] == [f.name] and len(entries) == 2
    assert main(["sessions", "--library", str(library)]) == 0
    text = capsys.readouterr().out
    assert "Ana López" in text and "stance right" in text and "right drop" in text
    assert main(["sessions", "--library", str(library), "--athlete", "Nobody"]) == 2
    assert "no athlete" in capsys.readouterr().err


def test_report_athlete_draws_trends(library, tmp_path, capsys):
    out = tmp_path / "trends.html"
    assert main(["report", "--athlete", "Ana López", "--library", str(library), "-o", str(out),
                 "--no-progress"]) == 0
    html = out.read_text()
    assert "Hip stability trends" in html and "Single-leg stance hold (2 sessions)" in html
    assert html.count("data:image/png;base64,") == 2
    assert "Latest against the first session" in html and "right drop" in html
    one = tmp_path / "one.html"
    first = sorted((library / "ana_lopez").glob("*.hipmon"))[0]
    assert main(["report", str(first), "-o", str(one), "--no-progress"]) == 0
    h = one.read_text()
    assert "3. Protocol: Single-leg stance hold (right side)" in h and "drift (°/10 s)" in h
    assert 'id="fig-protocol"' in h


def test_cli_refusals(tmp_path, capsys):
    d = tmp_path
    (d / "p.csv").write_text("time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n0,0,9.81,0,0,0,0\n")
    assert main(["import", "--pelvis", str(d / "p.csv")]) == 2
    assert "--athlete NAME" in capsys.readouterr().err
    assert main(["import", "--pelvis", str(d / "p.csv"), "-o", str(d / "x.hipmon"), "--protocol", "plank"]) == 2
    assert "choose from" in capsys.readouterr().err
    assert main(["import", "--pelvis", str(d / "p.csv"), "-o", str(d / "x.hipmon"), "--protocol", "run",
                 "--side", "left"]) == 2
    assert "both sides" in capsys.readouterr().err
    assert main(["record", "--emulate", "run", "--protocol", "squat", "-o", str(d / "y.hipmon")]) == 2
    assert "--emulate squat" in capsys.readouterr().err
    assert not (d / "x.hipmon").exists() and not (d / "y.hipmon").exists()
    assert main(["report", "-o", str(d / "r.html")]) == 2


class _Model:
    """A DashboardModel's reads the protocol judgements use (events, angles, calibration)."""

    def __init__(self, events, t, a):
        self._e, self._t, self._a = events, t, a

    def events(self, kind=None, side=None, last=None):
        return self._e

    def angles_window(self, seconds, end_s=None):
        return self._t, self._a


def test_dashboard_protocol_judgements_without_qt():
    from hipmon.app.model import ProtocolChoice, protocol_options, protocol_prompt, protocol_result

    assert protocol_options()[0][1] is None and [o[1] for o in protocol_options()[1:]] == \
        ["stance", "squat", "jump", "run", "walk"]
    sim = simulate("stance", 40, 3, sides="right", hold_s=20.0)
    m = _Model(sim.events, sim.truth_time_s, sim.truth_angles_deg)
    choice = ProtocolChoice("stance", "right")
    assert choice.metadata() == {"protocol": "stance", "protocol_side": "right"}
    assert "Stand still" in protocol_prompt(choice, "stand")
    assert "Walk" in protocol_prompt(choice, "walk")
    res = protocol_result(m, choice)
    assert res.sides["right"]["longest_hold_s"] == pytest.approx(20.0, abs=0.5)
    assert "RIGHT" in protocol_prompt(choice, "done", None)
    assert protocol_prompt(ProtocolChoice("stance", "right"), "done", res) == \
        "Stand on your RIGHT leg, lift the left knee, hands on hips: keep your pelvis level for 30 s"  # 20 < 30 s
    assert protocol_prompt(ProtocolChoice(), "done", None) == "" and protocol_result(m, ProtocolChoice()) is None
    assert np.isfinite(res.sides["right"]["mean_drop_deg"])
