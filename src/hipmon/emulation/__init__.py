"""Emulated sensors over a real Bluetooth host stack (Google bumble), reached through bleak.

- :class:`EmulatedRadio`: virtual controllers on one in-process ``LocalLink``;
- :class:`EmulatedSensor`: a GATT peripheral running a firmware profile's protocol,
  fed by a simulator ``SimSensor`` (or :class:`SyntheticSource`), with
  :class:`Impairments` (loss, jitter, forced disconnects, clock drift);
- :class:`BumbleBleakScanner` / :class:`BumbleBleakClient`: bleak 3.1 backends,
  used as ``BleakScanner(backend=BumbleBleakScanner)`` and
  ``BleakClient(device, backend=BumbleBleakClient)``;
- :func:`emulate_session`: the three sensors of a session (pelvis, left and right
  thigh) fed by ``hipmon.simulate.simulate(kind, ...)``.

See ``docs/emulation.md``.
"""

from __future__ import annotations

from hipmon.emulation.radio import EmulatedRadio, current_radio
from hipmon.emulation.sensor import EmulatedSensor, Impairments, SensorLog, SyntheticSource

__all__ = [
    "EmulatedRadio",
    "EmulatedSensor",
    "Impairments",
    "SensorLog",
    "SyntheticSource",
    "current_radio",
    "BumbleBleakClient",
    "BumbleBleakScanner",
]


def __getattr__(name: str):  # bleak is imported lazily
    if name in ("BumbleBleakClient", "BumbleBleakScanner"):
        from hipmon.emulation import backend

        return getattr(backend, name)
    raise AttributeError(name)
