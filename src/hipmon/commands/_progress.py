"""Progress on stderr for commands that take more than a couple of seconds (``report``, ``compare``,
``analyze``, ``import``, ``sessions``; moved here from ``hipmon.report.progress``, which re-exports it).

Shown only when stderr is a terminal, or when asked (``--progress``); ``--no-progress``
silences it. One line per step, ``hipmon report: [2/5] analysing baseline.hipmon``, each
with the seconds the previous step took, so a log (CI, a pipe) stays readable: no
carriage-return animation.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Numbered steps on ``stream`` (default stderr). ``total``: the number of steps, when known."""

    def __init__(self, command: str, total: int | None = None, enabled: bool | None = None,
                 stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(self.stream.isatty())
        self.enabled = enabled
        self.command = command
        self.total = total
        self.n = 0
        self._t0 = time.monotonic()
        self._t_step = self._t0

    def step(self, text: str) -> None:
        """Announce the next step (``text``: what is being done now)."""
        self.n += 1
        if not self.enabled:
            return
        now = time.monotonic()
        of = f"/{self.total}" if self.total else ""
        took = f" (previous step {now - self._t_step:.1f} s)" if self.n > 1 else ""
        self._t_step = now
        print(f"hipmon {self.command}: [{self.n}{of}] {text}{took}", file=self.stream, flush=True)

    def done(self, text: str) -> None:
        """The last line: what was made and the total time."""
        if self.enabled:
            print(f"hipmon {self.command}: {text} ({time.monotonic() - self._t0:.1f} s)", file=self.stream, flush=True)


def add_progress_arguments(parser) -> None:
    """``--progress`` / ``--no-progress`` (default: only when stderr is a terminal)."""
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="print progress to stderr (default: only when stderr is a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="never print progress")
