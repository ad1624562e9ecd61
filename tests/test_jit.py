"""``hipmon.jit.warm_up`` (run by every ``Pipeline``): every compiled kernel is ready before a
session's first sample, so a first run on a machine compiles before the sensors stream, not in
the middle of a live session."""

from __future__ import annotations

import json
import subprocess
import sys

CHECK = """
import json
from hipmon.jit import _kernels, warm_up
before = [k.py_func.__name__ for k in _kernels() if k.signatures]
warm_up()
print(json.dumps({"before": before, "after": {k.py_func.__name__: bool(k.signatures) for k in _kernels()}}))
"""


def test_warm_up_readies_every_kernel_in_a_fresh_process() -> None:
    r = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["before"] == []  # nothing ready before (the check means something)
    after = got["after"]
    assert len(after) >= 6  # the clock map's five, the single-leg detector
    # ``sync._ingest`` is only called from inside the other clock-map kernels (compiled into them)
    assert [name for name, ready in after.items() if not ready and name != "_ingest"] == []
