"""Compiled kernels for the per-sample state machines (numba).

The causal detectors and the clock map decide sample by sample; in Python that loop
dominated ``hipmon analyze`` (issue 16). Their inner loops are written once as plain
loops over arrays and compiled with :func:`njit`: the same IEEE operations in the same
order as the Python they replace, so live (a few samples per call) and replay (thousands)
give the same numbers bit for bit. ``NUMBA_DISABLE_JIT=1`` runs them as Python (debugging).

Compiled code is cached on disk (``cache=True``: next to the module, or numba's user cache
when that is read-only), so only the first run on a machine compiles.
"""

from __future__ import annotations

from typing import Any, Callable

import numba

__all__ = ["njit"]


def njit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``numba.njit`` with the project's settings: cached, no fastmath (IEEE order kept), nogil."""
    return numba.njit(cache=True, nogil=True, fastmath=False)(fn)
