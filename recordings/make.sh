#!/bin/sh
# Re-create the sample sessions of recordings/ (see README.md): emulated sensors in real time,
# movesense-gsp at 104 Hz, no loss. Each run takes its --seconds plus a few seconds of start-up.
# Usage: recordings/make.sh [PYTHON]   (default: the python on PATH, with hipmon installed)
set -eu
PY=${1:-python}
cd "$(dirname "$0")"
COMMON="--profile movesense-gsp --rate 104 --seed 1 --overwrite"

# a 100 s treadmill run whose right hip abductors tire (fatigue from 15 s to 55 s after the start of the run)
"$PY" -m hipmon record --emulate run --seconds 100 --preset right_hip_tires --sim stand_s=8 \
    $COMMON -o run_right_hip_tires.hipmon

# drop vertical jumps, the right knee caving in (dynamic valgus 8 deg at the right hip)
"$PY" -m hipmon record --emulate jump --seconds 35 --sim right_valgus_deg=8 --sim stand_s=8 \
    $COMMON -o landings_valgus.hipmon

# single-leg stance test, right then left: Trendelenburg on the right (weak right gluteus medius)
"$PY" -m hipmon record --emulate stance --seconds 50 --preset trendelenburg_right --sim stand_s=8 --sim hold_s=8 \
    $COMMON -o single_leg_stance.hipmon

ls -l *.hipmon
