"""``hipmon.jit.warm_up`` (run by every ``Pipeline``): every compiled kernel is ready before a
session's first sample, so a first run on a machine compiles before the sensors stream, not in
the middle of a live session."""

from __future__ import annotations

from hipmon.jit import _kernels, warm_up


def test_warm_up_readies_every_kernel() -> None:
    warm_up()
    kernels = _kernels()
    assert len(kernels) >= 6  # the clock map's five, the single-leg detector
    # ``sync._ingest`` is only called from inside the other clock-map kernels (compiled into them)
    not_ready = [k.py_func.__qualname__ for k in kernels if not k.signatures and k.py_func.__name__ != "_ingest"]
    assert not not_ready, f"not compiled or loaded by warm_up: {not_ready}"
