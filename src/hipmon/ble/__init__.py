"""BLE acquisition on bleak: scan/profile matching, session configuration, supervisors
(serialised connects, retries, reconnect with start-sequence replay), gap accounting.
A sensor is a ``hipmon.types.SensorSpec``; its state a ``hipmon.types.SensorStatus``.

See ``docs/acquisition.md``. bleak is imported lazily.
"""

from __future__ import annotations

from hipmon.ble.acquisition import (
    Acquisition,
    AcquisitionThread,
    SensorError,
    StreamMonitor,
)
from hipmon.ble.config import ConfigError, SessionConfig, config_from_dict, load_config
from hipmon.ble.scan import FoundSensor, match_profile, scan

__all__ = [
    "Acquisition", "AcquisitionThread", "SensorError",
    "StreamMonitor", "ConfigError", "SessionConfig", "config_from_dict",
    "load_config", "FoundSensor", "match_profile", "scan",
]
