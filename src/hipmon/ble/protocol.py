"""Small protocol facts the supervisor needs beyond the profile's steps."""

from __future__ import annotations

from typing import Any


def is_stream_stopped(profile: Any, data: bytes) -> bool:
    """True if a control notification says the sensor ended its stream by itself.

    Polar PMD: a control-point message whose first byte is not 0xF0 (a response)
    is an unsolicited notice (ONLINE_MEASUREMENT_STOPPED + types).
    """
    if getattr(profile, "codec", "") == "polar_pmd":
        try:
            from hipmon.codecs import polar

            helper = getattr(polar, "is_stream_stopped", None)
            if helper is not None:
                return bool(helper(data))
        except ImportError:
            pass
        return bool(data) and data[0] != 0xF0
    return False
