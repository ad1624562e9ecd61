"""Find sensors whose advertisements match a firmware profile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FoundSensor:
    address: str
    name: str | None
    rssi: int | None
    profile: str | None  # None: not a sensor hipmon knows
    device: Any = None  # bleak BLEDevice


def match_profile(local_name: str | None, service_uuids: list[str], profiles: dict[str, Any]) -> str | None:
    """The profile an advertisement belongs to: its name pattern first, then its service UUID.

    Several profiles may share a service (e.g. Movesense IMU6 and IMU9): the
    name decides first; among service-only matches the first profile (sorted by
    name) wins.
    """
    uuids = {u.lower() for u in service_uuids or []}
    by_service = []
    for name in sorted(profiles):
        p = profiles[name]
        if p.matches_name(local_name):
            if not uuids or p.service_uuid.lower() in uuids:
                return name
        if p.service_uuid.lower() in uuids:
            by_service.append(name)
    return by_service[0] if by_service else None


async def scan(
    timeout: float = 5.0,
    *,
    backend: Any = None,
    profiles: dict[str, Any] | None = None,
    only_sensors: bool = True,
    **backend_kwargs: Any,
) -> list[FoundSensor]:
    """Scan for ``timeout`` s; return the devices seen, matched against the profiles."""
    from bleak import BleakScanner

    from hipmon.profiles import load_profiles

    profiles = load_profiles() if profiles is None else profiles
    kwargs = dict(backend_kwargs)
    if backend is not None:
        kwargs["backend"] = backend
    seen = await BleakScanner.discover(timeout=timeout, return_adv=True, **kwargs)
    found = []
    for device, adv in seen.values():
        name = adv.local_name or device.name
        prof = match_profile(name, adv.service_uuids, profiles)
        if prof is None and only_sensors:
            continue
        found.append(FoundSensor(device.address, name, adv.rssi, prof, device))
    found.sort(key=lambda f: (f.profile is None, -(f.rssi or -999), f.address))
    return found
