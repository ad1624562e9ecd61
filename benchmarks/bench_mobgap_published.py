"""The published Mobilise-D lower-back IC detectors on the mobgap recordings, scored like hipmon.

What hipmon's sacrum-only initial contacts (``bench_events_real.py``: F1 at ±60 ms against
INDIP) should be compared with: the same recordings through the validated algorithms as
their authors implement them in ``mobgap`` (Micó-Amigo et al. 2023, J NeuroEng Rehabil
20:78): McCamley/Ionescu (``IcdIonescu``), Shin (``IcdShinImproved``), HKLee
(``IcdHKLeeImproved``), sides by ``LrcMcCamley``. They are given the *reference* walking
bouts (mobgap's own evaluation set-up, which hipmon does not get), and scored with mobgap's
own ``categorize_ic_list`` (one-to-one matches within the tolerance).

mobgap is not a hipmon dependency (it pins numba, tpcp and pandas 3); run this in its own
environment::

    python3.11 -m venv /tmp/mobgap-env && /tmp/mobgap-env/bin/pip install mobgap==1.2.0
    /tmp/mobgap-env/bin/python benchmarks/bench_mobgap_published.py

Reads ``../shared/data/real/mobgap-lab-lowerback`` beside the checkout (never copied).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

from mobgap.data import load_mobilised_matlab_format, parse_reference_parameters  # noqa: E402
from mobgap.initial_contacts import IcdHKLeeImproved, IcdIonescu, IcdShinImproved  # noqa: E402
from mobgap.initial_contacts.evaluation import calculate_matched_icd_performance_metrics, categorize_ic_list  # noqa: E402
from mobgap.laterality import LrcMcCamley  # noqa: E402
from mobgap.pipeline import GsIterator  # noqa: E402
from mobgap.utils.conversions import to_body_frame  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "mobgap-lab-lowerback"
DETECTORS = {"IcdIonescu": IcdIonescu, "IcdShinImproved": IcdShinImproved, "IcdHKLeeImproved": IcdHKLeeImproved}


def trials(system: str):
    """(name, body-frame data, sampling rate Hz, reference) for every trial with ``system``'s reference."""
    for folder in sorted(p for p in DATA.iterdir() if (p / "data.mat").is_file()):
        tests = load_mobilised_matlab_format(folder / "data.mat", reference_system=system)
        for key, test in tests.items():
            if test.raw_reference_parameters is None:
                continue
            fs = test.metadata["sampling_rate_hz"]
            ref = parse_reference_parameters(
                test.raw_reference_parameters["wb"], ref_sampling_rate_hz=test.metadata["reference_sampling_rate_hz"],
                data_sampling_rate_hz=fs, debug_info=str(key), ignore_expected_warnings=True)
            yield f"{folder.name} {' '.join(key[1:])}", to_body_frame(test.imu_data["LowerBack"]), fs, ref


def detect(detector, data: pd.DataFrame, fs: float, wb_list: pd.DataFrame) -> pd.DataFrame:
    """ICs (samples, with ``lr_label``) of ``detector`` inside each reference walking bout."""
    it = GsIterator()
    for (_, seg), r in it.iterate(data, wb_list):
        ic = detector().detect(seg, sampling_rate_hz=fs).ic_list_
        r.ic_list = LrcMcCamley().predict(seg, ic, sampling_rate_hz=fs).ic_lr_list_ if len(ic) else ic
    return it.results_.ic_list


def main() -> None:
    print("| reference | tolerance | detector | reference ICs | detected | matched | recall | precision | F1 | side right |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for system in ("INDIP", "Stereophoto"):
        runs = [(name, data, fs, ref) for name, data, fs, ref in trials(system) if len(ref.ic_list)]
        for tol_s in (0.06, 0.1, 0.2, 0.3):
            for dname, detector in DETECTORS.items():
                cats, sides = [], []
                for _, data, fs, ref in runs:
                    det = detect(detector, data, fs, ref.wb_list)
                    c = categorize_ic_list(ic_list_detected=det[["ic"]], ic_list_reference=ref.ic_list[["ic"]],
                                           tolerance_samples=int(round(tol_s * fs)), multiindex_warning=False)
                    cats.append(c)
                    tp = c[c["match_type"] == "tp"]
                    sides += [str(det.loc[a, "lr_label"]).lower() == str(ref.ic_list.loc[b, "lr_label"]).lower()
                              for a, b in zip(tp["ic_id_detected"], tp["ic_id_reference"])]
                m = calculate_matched_icd_performance_metrics(pd.concat(cats))
                side = f"{100 * np.mean(sides):.1f} %" if sides else "-"
                print(f"| {system} | ±{tol_s * 1000:.0f} ms | {dname} | {m['tp_samples'] + m['fn_samples']} | "
                      f"{m['tp_samples'] + m['fp_samples']} | {m['tp_samples']} | {m['recall']:.3f} | "
                      f"{m['precision']:.3f} | {m['f1_score']:.3f} | {side} |", flush=True)


if __name__ == "__main__":
    main()
