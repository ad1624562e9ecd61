"""Lab exports (issue 15) read back with each format's own library and compared with hipmon's
own angles and events after the documented convention change (docs/exports.md).

- OpenSim: the .sto parsed by hand and the pelvis recomputed with scipy's ``as_euler("ZXY")``
  (independent of hipmon's kinematics), hips equal to hipmon's; with ``opensim`` installed,
  the files read by ``TimeSeriesTable(Quaternion)`` and a model with gait2392's joint axes
  driven by the .mot reproduces the .sto orientations.
- C3D: ``ezc3d`` reads the Plug-in Gait points, EVENT group and subject back.
- Parquet: ``pyarrow`` reads the tables and their unit metadata back.
- BIDS-motion: ``bidsschematools`` (the BIDS schema) checks every file name, the required
  sidecar fields, the channel columns and their allowed values.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_calibration import synth_session

from hipmon.cli import main
from hipmon.exports import ExportError, write_bids, write_c3d, write_opensim, write_parquet
from hipmon.exports.conventions import OPENSIM_COORDINATES, opensim_coordinates_deg, plug_in_gait_angles_deg
from hipmon.pipeline import process_samples
from hipmon.recording.reader import Marker
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS, Event, Frames, SensorSpec

MARKERS = [(3.0, "shoe A", "before fatigue"), Marker(9.5, "shoe B")]
META = {"athlete": "ann", "notes": "lab day"}
LOST = slice(700, 760)  # rows where the left thigh is lost


def col(name: str, frames) -> np.ndarray:
    return frames.angles_deg[:, ANGLE_COLUMNS.index(name)]


@pytest.fixture(scope="module")
def result():
    s = synth_session(21, kind="walk", moving_s=12.0)
    samples = {p: (s["time_s"] + 100.0, s["acc_sensor"][p], s["gyr_sensor"][p], None) for p in PLACEMENTS}
    r = process_samples(samples, [SensorSpec(p, p, None, 100.0) for p in PLACEMENTS])
    f = r.frames
    assert f.valid.all() and len(r.events) > 10
    f.valid_sensor["left_thigh"][LOST] = False  # a lost thigh: NaN where it has no data
    f.valid[LOST] = False
    f.q_segment_global["left_thigh"][LOST] = np.nan
    f.angles_deg[LOST, 3:6] = np.nan
    landing = Event("landing", "both", 108.0, 108.3, 3.0, 7.0, 5.0, alert="valgus")
    return replace(r, events=r.events + [landing])


def scipy_pelvis_zxy_from_hipmon(frames) -> np.ndarray:
    """OpenSim (tilt, list, rotation) deg from hipmon's pelvis angles, by scipy only:
    hipmon's pelvis = Ry(rot)·Rx(−obliquity)·Rz(−tilt) (DESIGN.md section 2), then intrinsic Z-X-Y."""
    tilt, obl, yaw = (col(c, frames) for c in ANGLE_COLUMNS[:3])
    r = Rotation.from_euler("YXZ", np.column_stack([yaw, -obl, -tilt]), degrees=True)
    return r.as_euler("ZXY", degrees=True)


# ---------------------------------------------------------------- conventions on pure rotations


def test_signs_on_pure_rotations():
    from hipmon import kinematics as kin
    from hipmon import rotations as rot

    d = np.radians
    cases = np.array([[10, 0, 0], [0, 5, 0], [0, 0, 8]], dtype=float)  # tilt, obliquity, rotation (deg)
    qp = kin.pelvis_orientation(d(cases[:, 0]), d(cases[:, 1]), d(cases[:, 2]))
    qh = kin.hip_orientation(d([20, 0, 0]), d([0, 6, 0]), d([0, 0, 7]), "left")
    angles = np.zeros((3, 9))
    angles[:, :3] = cases
    angles[:, 3:6] = np.diag([20.0, 6.0, 7.0])
    angles[:, 6:] = np.nan
    f = Frames(np.arange(3.0), angles, {}, {}, np.ones(3, bool),
               {"pelvis": qp, "left_thigh": rot.multiply(qp, qh)},
               {"pelvis": np.ones(3, bool), "left_thigh": np.ones(3, bool), "right_thigh": np.zeros(3, bool)})
    c = opensim_coordinates_deg(f)
    # anterior tilt is negative pelvis_tilt; right side up is negative pelvis_list; right forward is +rotation
    np.testing.assert_allclose([c["pelvis_tilt"][0], c["pelvis_list"][1], c["pelvis_rotation"][2]], [-10, -5, 8],
                               atol=1e-9)
    np.testing.assert_allclose(np.diag(np.column_stack([c[k] for k in ("hip_flexion_l", "hip_adduction_l",
                                                                        "hip_rotation_l")])), [20, 6, 7], atol=1e-9)
    assert np.isnan(c["hip_flexion_r"]).all()
    pig = plug_in_gait_angles_deg(f)
    np.testing.assert_allclose(pig["RPelvisAngles"][0], [10, 0, 0], atol=1e-9)   # anterior tilt +
    np.testing.assert_allclose(pig["RPelvisAngles"][1], [0, 5, 0], atol=1e-9)    # right side up +
    np.testing.assert_allclose(pig["LPelvisAngles"][1], [0, -5, 0], atol=1e-9)   # left side down
    np.testing.assert_allclose(pig["RPelvisAngles"][2], [0, 0, 8], atol=1e-9)    # right side forward +
    np.testing.assert_allclose(pig["LPelvisAngles"][2], [0, 0, -8], atol=1e-9)
    np.testing.assert_allclose(pig["LHipAngles"], np.diag([20.0, 6.0, 7.0]), atol=1e-9)


# ---------------------------------------------------------------- OpenSim


def read_sto(path: Path) -> tuple[dict[str, str], list[str], list[list[str]]]:
    lines = path.read_text().splitlines()
    end = lines.index("endheader")
    header = dict(ln.split("=", 1) for ln in lines[:end] if "=" in ln)
    cols = lines[end + 1].split("\t")
    return header, cols, [ln.split("\t") for ln in lines[end + 2:]]


def test_opensim_files_recomputed_independently(result, tmp_path):
    out = write_opensim(result, tmp_path / "os", markers=MARKERS, metadata=META)
    f = result.frames
    h, cols, rows = read_sto(out / "hipmon_orientations.sto")
    assert h["DataType"] == "Quaternion" and h["version"] == "3" and float(h["DataRate"]) == pytest.approx(100.0)
    assert cols == ["time", "pelvis_imu", "femur_r_imu", "femur_l_imu"]
    t = np.array([float(r[0]) for r in rows])
    idx = np.searchsorted(f.time_s, t)
    np.testing.assert_allclose(f.time_s[idx], t, atol=1e-6)
    assert not np.isin(np.arange(LOST.start, LOST.stop), idx).any()  # no row without every IMU
    q = {c: np.array([[float(v) for v in r[k].split(",")] for r in rows]) for k, c in enumerate(cols) if k}
    for imu, p in (("pelvis_imu", "pelvis"), ("femur_r_imu", "right_thigh"), ("femur_l_imu", "left_thigh")):
        assert np.max(np.abs(q[imu] - f.q_segment_global[p][idx])) < 1e-9

    mh, mcols, mrows = read_sto(out / "hipmon_coordinates.mot")
    assert mh["inDegrees"] == "yes" and int(mh["nRows"]) == len(rows) and mcols == ["time", *OPENSIM_COORDINATES]
    mot = np.array(mrows, dtype=float)
    np.testing.assert_allclose(mot[:, 0], t)
    # the pelvis: scipy's intrinsic Z-X-Y of the .sto pelvis quaternion (w,x,y,z -> x,y,z,w) ...
    pel = Rotation.from_quat(q["pelvis_imu"][:, [1, 2, 3, 0]]).as_euler("ZXY", degrees=True)
    assert np.max(np.abs(mot[:, 1:4] - pel)) < 1e-6
    # ... and from hipmon's own pelvis angles through its documented Y-X-Z sequence: within 0.01 deg
    assert np.max(np.abs(mot[:, 1:4] - scipy_pelvis_zxy_from_hipmon(f)[idx])) < 0.01
    assert np.max(np.abs(mot[:, 1:4] - scipy_pelvis_zxy_from_hipmon(f)[idx])) < 1e-6
    # the hips: OpenSim's hip coordinates are hipmon's hip angles (same sequence and signs) ...
    for k, (side, s) in enumerate((("right", "r"), ("left", "l"))):
        for j, a in enumerate(("flexion", "adduction", "internal_rotation")):
            assert np.max(np.abs(mot[:, 4 + 3 * k + j] - col(f"hip_{a}_{side}_deg", f)[idx])) < 1e-6
    # ... and scipy's Z-X-Y of the thigh in the pelvis (left: -X, -Y axes)
    for side, imu, sign, c0 in (("right", "femur_r_imu", 1, 4), ("left", "femur_l_imu", -1, 7)):
        rel = Rotation.from_quat(q["pelvis_imu"][:, [1, 2, 3, 0]]).inv() * Rotation.from_quat(q[imu][:, [1, 2, 3, 0]])
        e = rel.as_euler("ZXY", degrees=True) * [1, sign, sign]
        assert np.max(np.abs(mot[:, c0:c0 + 3] - e)) < 1e-6
    assert "shoe A|before fatigue" in mh["hipmon_marker_1"] and "shoe B" in mh["hipmon_marker_2"]
    assert mh["hipmon_meta_athlete"] == "ann"
    h1, _, cal = read_sto(out / "hipmon_calibration.sto")
    assert len(cal) == 1 and all(c == "1.0000000000,0.0000000000,0.0000000000,0.0000000000" for c in cal[0][1:])


GAIT2392_JOINTS = (  # gait2392/Rajagopal CustomJoint rotation axes (rotation1..3) per coordinate
    ("ground_pelvis", "ground", "pelvis", ("pelvis_tilt", "pelvis_list", "pelvis_rotation"), ("0 0 1", "1 0 0", "0 1 0")),
    ("hip_r", "pelvis", "femur_r", ("hip_flexion_r", "hip_adduction_r", "hip_rotation_r"), ("0 0 1", "1 0 0", "0 1 0")),
    ("hip_l", "pelvis", "femur_l", ("hip_flexion_l", "hip_adduction_l", "hip_rotation_l"), ("0 0 1", "-1 0 0", "0 -1 0")),
)


def gait2392_hips_osim() -> str:
    def joint(name, parent, child, coords, axes):
        ax = "".join(f'<TransformAxis name="rotation{i + 1}"><coordinates>{c}</coordinates><axis>{a}</axis>'
                     f'<LinearFunction name="function"><coefficients> 1 0</coefficients></LinearFunction>'
                     f'</TransformAxis>' for i, (c, a) in enumerate(zip(coords, axes)))
        ax += "".join(f'<TransformAxis name="translation{i + 1}"><axis>{a}</axis></TransformAxis>'
                      for i, a in enumerate(("1 0 0", "0 1 0", "0 0 1")))
        co = "".join(f'<Coordinate name="{c}"><range>-3.14 3.14</range></Coordinate>' for c in coords)
        src = "/ground" if parent == "ground" else f"/bodyset/{parent}"
        return (f'<CustomJoint name="{name}"><socket_parent_frame>{parent}_offset</socket_parent_frame>'
                f'<socket_child_frame>{child}_offset</socket_child_frame><coordinates>{co}</coordinates><frames>'
                f'<PhysicalOffsetFrame name="{parent}_offset"><socket_parent>{src}</socket_parent></PhysicalOffsetFrame>'
                f'<PhysicalOffsetFrame name="{child}_offset"><socket_parent>/bodyset/{child}</socket_parent>'
                f'</PhysicalOffsetFrame></frames><SpatialTransform>{ax}</SpatialTransform></CustomJoint>')

    bodies = "".join(f'<Body name="{b}"><mass>1</mass><inertia>0.1 0.1 0.1 0 0 0</inertia></Body>'
                     for b in ("pelvis", "femur_r", "femur_l"))
    return ('<?xml version="1.0" encoding="UTF-8" ?><OpenSimDocument Version="40000"><Model name="hips">'
            f'<BodySet><objects>{bodies}</objects></BodySet><JointSet><objects>'
            + "".join(joint(*j) for j in GAIT2392_JOINTS) + "</objects></JointSet></Model></OpenSimDocument>")


def test_opensim_reads_the_files_and_its_model_reproduces_the_orientations(result, tmp_path):
    osim = pytest.importorskip("opensim")
    out = write_opensim(result, tmp_path / "os", markers=MARKERS, metadata=META)
    tq = osim.TimeSeriesTableQuaternion(str(out / "hipmon_orientations.sto"))
    tm = osim.TimeSeriesTable(str(out / "hipmon_coordinates.mot"))
    assert tuple(tq.getColumnLabels()) == ("pelvis_imu", "femur_r_imu", "femur_l_imu")
    assert tuple(tm.getColumnLabels()) == OPENSIM_COORDINATES and tm.getNumRows() == tq.getNumRows()
    assert tm.getTableMetaDataAsString("hipmon_marker_1").startswith("3.000000|shoe A")
    (tmp_path / "hips.osim").write_text(gait2392_hips_osim())
    model = osim.Model(str(tmp_path / "hips.osim"))
    state = model.initSystem()
    cs = model.getCoordinateSet()
    labels = list(tm.getColumnLabels())
    worst = 0.0
    for i in range(0, tm.getNumRows(), 7):
        row = tm.getRowAtIndex(i)
        for j, lab in enumerate(labels):
            cs.get(lab).setValue(state, np.radians(row[j]), False)
        model.realizePosition(state)
        for k, body in enumerate(("pelvis", "femur_r", "femur_l")):
            r = model.getBodySet().get(body).getTransformInGround(state).R()
            m = np.array([[r.get(a, b) for b in range(3)] for a in range(3)])
            qo = tq.getRowAtIndex(i).getElt(0, k)
            qs = Rotation.from_quat([qo.get(1), qo.get(2), qo.get(3), qo.get(0)])
            worst = max(worst, np.degrees((Rotation.from_matrix(m).inv() * qs).magnitude()))
    assert worst < 1e-6, worst


# ---------------------------------------------------------------- C3D


def test_c3d_read_back_with_ezc3d(result, tmp_path):
    ezc3d = pytest.importorskip("ezc3d")
    path = write_c3d(result, tmp_path / "s.c3d", markers=MARKERS, metadata=META)
    c = ezc3d.c3d(str(path))
    p = c["parameters"]
    labels = list(p["POINT"]["LABELS"]["value"])
    assert labels == ["LPelvisAngles", "RPelvisAngles", "LHipAngles", "RHipAngles"]
    assert list(p["POINT"]["ANGLES"]["value"]) == labels and list(p["POINT"]["ANGLE_UNITS"]["value"]) == ["deg"]
    assert p["POINT"]["RATE"]["value"][0] == pytest.approx(100.0)
    f = result.frames
    t0 = float(p["HIPMON"]["TIME_OFFSET_S"]["value"][0])
    pts = c["data"]["points"]
    n = pts.shape[2]
    i0 = int(np.argmin(np.abs(f.time_s - t0)))
    sl = slice(i0, i0 + n)
    # expected, independently: hips = hipmon's; pelvis = scipy Z-X-Y (tilt, list, rotation) with PiG signs
    zxy = scipy_pelvis_zxy_from_hipmon(f)[sl]
    hip = {s: np.column_stack([col(f"hip_{a}_{s}_deg", f)[sl] for a in ("flexion", "adduction", "internal_rotation")])
           for s in ("left", "right")}
    expect = {"LPelvisAngles": zxy * [-1, 1, -1], "RPelvisAngles": zxy * [-1, -1, 1],
              "LHipAngles": hip["left"], "RHipAngles": hip["right"]}
    worst = 0.0
    for j, name in enumerate(labels):
        got = pts[:3, j, :].T
        assert np.array_equal(np.isnan(got).any(axis=1), np.isnan(expect[name]).any(axis=1)), name
        ok = ~np.isnan(got).any(axis=1)
        worst = max(worst, float(np.max(np.abs(got[ok] - expect[name][ok]))))
    assert worst < 1e-4, worst  # C3D stores float32
    assert np.isnan(pts[:3, labels.index("LHipAngles"), LOST.start - i0]).all()

    ev = p["EVENT"]
    times = ev["TIMES"]["value"]
    ctx, lab, desc = list(ev["CONTEXTS"]["value"]), list(ev["LABELS"]["value"]), list(ev["DESCRIPTIONS"]["value"])
    t_ev = times[0] * 60.0 + times[1]
    assert int(ev["USED"]["value"][0]) == len(lab)
    for e in result.events:
        if e.kind == "stance":
            for name, key in (("Foot Strike", "initial_contact_s"), ("Foot Off", "toe_off_s")):
                hit = [k for k in range(len(lab)) if lab[k] == name and ctx[k] == e.side.capitalize()
                       and abs(t_ev[k] - (e.extra[key] - t0)) < 1e-4]
                assert len(hit) == 1, (name, e)
    k = lab.index("Landing")
    assert ctx[k] == "General" and t_ev[k] == pytest.approx(108.0 - t0, abs=1e-4)
    assert "peak_hip_adduction_deg=7.0000" in desc[k] and "alert=valgus" in desc[k]
    k = lab.index("shoe A")
    assert ctx[k] == "General" and desc[k] == "before fatigue" and t_ev[k] == pytest.approx(3.0 - t0, abs=1e-4)
    assert "shoe B" in lab
    assert list(p["SUBJECTS"]["NAMES"]["value"]) == ["ann"]
    assert "athlete" in list(p["HIPMON"]["METADATA_KEYS"]["value"])


# ---------------------------------------------------------------- Parquet


def test_parquet_read_back_with_pyarrow(result, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = write_parquet(result, tmp_path / "pq", markers=MARKERS, metadata=META)
    f = result.frames
    a = pq.read_table(out / "angles.parquet")
    np.testing.assert_array_equal(a.column("time_s").to_numpy(), f.time_s)
    for c in ANGLE_COLUMNS:
        np.testing.assert_array_equal(a.column(c).to_numpy(zero_copy_only=False), col(c, f))  # NaN == NaN here
        md = a.schema.field(c).metadata
        assert md[b"unit"] == b"deg" and md[b"sign"].startswith(b"positive")
    assert a.schema.field("pelvis_obliquity_deg").metadata[b"sign"] == b"positive when the right side is higher than the left"
    assert json.loads(a.schema.metadata[b"hipmon"])["table"] == "angles"
    e = pq.read_table(out / "events.parquet").to_pylist()
    assert len(e) == len(result.events)
    evs = sorted(result.events, key=lambda x: (x.start_s, x.kind, x.side))
    for row, ev in zip(e, evs):
        assert (row["kind"], row["side"], row["start_s"], row["end_s"]) == (ev.kind, ev.side, ev.start_s, ev.end_s)
        assert row["peak_hip_adduction_deg"] == pytest.approx(ev.peak_hip_adduction_deg, nan_ok=True)
        if ev.kind == "stance":
            assert row["initial_contact_s"] == ev.extra["initial_contact_s"]
    es = pq.read_table(out / "events.parquet").schema
    assert es.field("peak_pelvic_drop_deg").metadata[b"unit"] == b"deg"
    assert es.field("toe_off_s").metadata[b"unit"] == b"s"
    m = pq.read_table(out / "markers.parquet").to_pylist()
    assert m == [{"time_s": 3.0, "label": "shoe A", "condition": "before fatigue"},
                 {"time_s": 9.5, "label": "shoe B", "condition": ""}]
    s = pq.read_table(out / "session.parquet").to_pylist()[0]
    assert json.loads(s["metadata_json"]) == META and s["frames"] == len(f) and s["rate_hz"] == pytest.approx(100.0)


# ---------------------------------------------------------------- BIDS-motion


def _read_tsv(path: Path, header: bool = True) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh, delimiter="\t"))


def test_bids_motion_dataset_follows_the_schema(result, tmp_path):
    bst = pytest.importorskip("bidsschematools")
    from bidsschematools import schema as bschema
    from bidsschematools.validator import validate_bids

    root = write_bids(result, tmp_path / "ds", task="walk", markers=MARKERS, metadata=META)
    rep = validate_bids(str(root))
    assert rep["path_tracking"] == [], rep["path_tracking"]  # every file is named as the schema allows
    suffixes = {(m.get("suffix"), m.get("extension")) for m in rep["match_listing"]}
    assert {("motion", ".tsv"), ("motion", ".json"), ("channels", ".tsv"), ("events", ".tsv")} <= suffixes
    sch = bschema.load_schema()
    mdir = root / "sub-ann" / "ses-01" / "motion"
    stem = "sub-ann_ses-01_task-walk"
    side = json.loads((mdir / f"{stem}_tracksys-IMU_motion.json").read_text())
    for rule in sch.rules.sidecars.motion.values():
        for name, level in rule.fields.items():
            lvl = level if isinstance(level, str) else level["level"]
            if lvl == "required":
                assert name in side, name
    assert side["SamplingFrequency"] == pytest.approx(100.0) and side["TaskName"] == "walk"
    desc = json.loads((root / "dataset_description.json").read_text())
    for name, level in sch.rules.json.dataset.dataset_description.fields.items():
        if (level if isinstance(level, str) else level["level"]) == "required":
            assert name in desc, name

    ch = _read_tsv(mdir / f"{stem}_tracksys-IMU_channels.tsv")
    rule = sch.rules.tabular_data.motion.motionChannels
    want = [c.split("__")[0] for c in rule.initial_columns]
    assert ch[0][: len(want)] == want
    cols = sch.objects.columns
    allowed_types = {t if isinstance(t, str) else t.get("const") for t in cols.type__channels.enum}
    for row in ch[1:]:
        r = dict(zip(ch[0], row))
        assert r["component"] in cols.component.enum and r["type"] in allowed_types
    names = [r[0] for r in ch[1:]]
    assert names[:9] == list(ANGLE_COLUMNS)

    f = result.frames
    motion = _read_tsv(mdir / f"{stem}_tracksys-IMU_motion.tsv")
    assert all(len(r) == len(names) for r in motion)  # no header, one column per channel
    data = np.array([[np.nan if v == "n/a" else float(v) for v in r] for r in motion])
    t0 = side["hipmon_time_offset_s"]
    i0 = int(np.argmin(np.abs(f.time_s - t0)))
    exp = f.angles_deg[i0:i0 + len(data)]
    assert np.array_equal(np.isnan(data[:, :9]), np.isnan(exp))
    ok = ~np.isnan(exp)
    assert np.max(np.abs(data[:, :9][ok] - exp[ok])) < 1e-5
    qcols = [names.index(f"pelvis_quat_{k}") for k in "wxyz"]
    assert np.max(np.abs(data[:, qcols] - f.q_segment_global["pelvis"][i0:i0 + len(data)])) < 1e-7

    ev = _read_tsv(mdir / f"{stem}_events.tsv")
    assert ev[0][:3] == ["onset", "duration", "trial_type"]
    rows = [dict(zip(ev[0], r)) for r in ev[1:]]
    stances = [e for e in result.events if e.kind == "stance"]
    got = [r for r in rows if r["trial_type"] == "stance"]
    assert len(got) == len(stances)
    for r, e in zip(got, sorted(stances, key=lambda x: x.start_s)):
        assert float(r["onset"]) == pytest.approx(e.start_s - t0, abs=1e-6) and r["side"] == e.side
        assert float(r["initial_contact"]) == pytest.approx(e.extra["initial_contact_s"] - t0, abs=1e-6)
        assert float(r["peak_pelvic_drop_deg"]) == pytest.approx(e.peak_pelvic_drop_deg, abs=1e-4)
    mk = [r for r in rows if r["trial_type"] == "marker"]
    assert [(r["label"], r["condition"]) for r in mk] == [("shoe A", "before fatigue"), ("shoe B", "n/a")]
    assert float(mk[0]["onset"]) == pytest.approx(3.0 - t0)
    assert [r["alert"] for r in rows if r["trial_type"] == "landing"] == ["valgus"]


# ---------------------------------------------------------------- the command


def test_hipmon_export_writes_every_lab_format_with_the_recordings_markers(tmp_path, capsys):
    from hipmon.recording.csvio import import_csv_session

    s = synth_session(22, kind="walk", moving_s=10.0)
    d = tmp_path / "csv"
    d.mkdir()
    for p in PLACEMENTS:
        a = np.column_stack([s["time_s"], s["acc_sensor"][p], s["gyr_sensor"][p]])
        np.savetxt(d / f"{p}.csv", a, delimiter=",", header="time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z",
                   comments="", fmt="%.7f")
    sess = tmp_path / "s.hipmon"
    import_csv_session({p: d / f"{p}.csv" for p in PLACEMENTS}, sess, metadata={"athlete": "bo"})
    with sqlite3.connect(sess) as con:  # what SessionWriter.add_marker writes
        con.execute("INSERT INTO markers(time_s, label) VALUES (?, ?)", (5.0, "after fatigue"))
    out = tmp_path / "out"
    out.mkdir()
    args = ["export", str(sess), "--opensim", str(out / "os"), "--c3d", str(out / "s.c3d"),
            "--parquet", str(out / "pq"), "--bids", str(out / "bids")]
    assert main(args) == 0, capsys.readouterr().err
    import ezc3d
    import pyarrow.parquet as pq

    assert "after fatigue" in list(ezc3d.c3d(str(out / "s.c3d"))["parameters"]["EVENT"]["LABELS"]["value"])
    assert pq.read_table(out / "pq" / "markers.parquet").column("label").to_pylist() == ["after fatigue"]
    assert "after fatigue" in (out / "os" / "hipmon_coordinates.mot").read_text()
    ev = next((out / "bids" / "sub-bo" / "ses-01" / "motion").glob("*_events.tsv")).read_text()
    assert "after fatigue" in ev
    # a bad name: one line, exit 2, nothing written
    capsys.readouterr()
    assert main(["export", str(sess), "--c3d", str(out / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert "x.txt" in err and len(err.strip().splitlines()) == 1 and not (out / "x.txt").exists()
    assert main(["export", str(sess), "--parquet", str(tmp_path / "nope" / "pq")]) == 2
    assert not (tmp_path / "nope").exists()


def test_writers_refuse_a_session_without_pelvis_angles(result, tmp_path):
    f = result.frames
    empty = Frames(f.time_s[:5], np.full((5, 9), np.nan), {}, {}, np.zeros(5, bool), {},
                   {p: np.zeros(5, bool) for p in PLACEMENTS})
    r = replace(result, frames=empty)
    for w, target in ((write_c3d, tmp_path / "a.c3d"), (write_bids, tmp_path / "b"), (write_opensim, tmp_path / "o")):
        with pytest.raises(ExportError):
            w(r, target)
        assert not Path(target).exists()


def test_c3d_holds_more_than_255_events_and_long_strings(result, tmp_path):
    ezc3d = pytest.importorskip("ezc3d")
    many = replace(result, events=[replace(e, start_s=e.start_s + 0.001 * i) for i in range(12) for e in result.events])
    path = write_c3d(many, tmp_path / "m.c3d", metadata={"athlete": "ann", "notes": "x" * 400})
    ev = ezc3d.c3d(str(path))["parameters"]["EVENT"]  # reads: no dimension over 255
    total = int(ezc3d.c3d(str(path))["parameters"]["HIPMON"]["EVENTS_TOTAL"]["value"][0])
    n = sum(len(ev[k]["value"]) for k in ev if k.startswith("LABELS"))
    assert int(ev["USED"]["value"][0]) == 255 and n == total > 255
