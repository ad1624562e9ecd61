"""Test-suite settings shared by every test module.

Hypothesis runs derandomized by default: the same examples on every run, so the
suite (and CI, which gets one run) gives the same verdict each time. To explore
new examples, e.g. after changing a codec: ``HYPOTHESIS_PROFILE=explore pytest``
(a fresh random search each run); a failure it finds is printed
with the example to add as a regression test.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
