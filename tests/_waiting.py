"""Waiting on conditions instead of on the clock.

CI runs on a slower, loaded 2-core machine: a test that sleeps a fixed time and then
counts what arrived depends on the machine's speed. Tests wait for what they are
about (with a generous deadline that only a hang reaches), then assert exactly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: deadline for "eventually" conditions: reached only if something hangs
DEADLINE_S = 60.0


def wait_until(cond: Callable[[], bool], timeout_s: float = DEADLINE_S, interval_s: float = 0.05) -> bool:
    """Poll ``cond`` until it is true (True) or ``timeout_s`` passed (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


async def until(cond: Callable[[], bool], timeout_s: float = DEADLINE_S, interval_s: float = 0.02) -> bool:
    """:func:`wait_until` inside an event loop (the emulated sensors keep running meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval_s)
