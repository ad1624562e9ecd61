"""BLE acquisition on bleak: scan/profile matching, session configuration, supervisors
(serialised connects, retries, reconnect with start-sequence replay), gap accounting.

See ``docs/acquisition.md``. bleak is imported lazily.
"""

from __future__ import annotations

from hipmon.ble.acquisition import (
    Acquisition,
    AcquisitionThread,
    ConnectionEvent,
    SensorError,
    SensorStatus,
    StreamMonitor,
)
from hipmon.ble.config import ConfigError, SensorSpec, SessionConfig, config_from_dict, load_config
from hipmon.ble.scan import FoundSensor, match_profile, scan

__all__ = [
    "Acquisition", "AcquisitionThread", "ConnectionEvent", "SensorError", "SensorStatus",
    "StreamMonitor", "ConfigError", "SensorSpec", "SessionConfig", "config_from_dict",
    "load_config", "FoundSensor", "match_profile", "scan",
]
