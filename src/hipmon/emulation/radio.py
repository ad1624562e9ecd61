"""An in-process Bluetooth LE "air": bumble virtual controllers on one ``LocalLink``.

One :class:`EmulatedRadio` holds

- the link (``bumble.link.LocalLink``) that carries HCI/LL traffic between
  virtual controllers in this process,
- one *central* ``bumble.device.Device`` (the host's adapter) used by the bleak
  backend in :mod:`hipmon.emulation.backend`, with a per-radio connect lock
  (a real controller refuses a second LE Create Connection while one is
  pending: bumble answers ``COMMAND_DISALLOWED``),
- the peripherals (emulated sensors), each a bumble ``Device`` with its own
  controller and GATT server.

Everything runs on one asyncio event loop (the loop that called
:meth:`EmulatedRadio.start`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from bumble.device import Device

log = logging.getLogger(__name__)

_radio_ids = itertools.count(1)
_current: EmulatedRadio | None = None


def current_radio() -> EmulatedRadio:
    """The most recently started radio (the default for the bleak backends)."""
    if _current is None or not _current.running:
        raise RuntimeError("no emulated radio is running (start an EmulatedRadio first)")
    return _current



async def disconnect_all(central: Any) -> None:
    """Disconnect every connection of a bumble central ``Device`` (best effort, for teardown)."""
    if central is None:
        return
    for connection in list(central.connections.values()):
        try:
            await connection.disconnect()
        except Exception:  # pragma: no cover - the link may already be gone
            pass

class EmulatedRadio:
    """A virtual BLE medium with one central and any number of peripherals."""

    def __init__(self, central_address: str | None = None) -> None:
        self.radio_id = next(_radio_ids)
        self.central_address = central_address or f"C0:FF:EE:00:{self.radio_id & 0xFF:02X}:01"
        self.link = None
        self.central: Device | None = None
        self.connect_lock = asyncio.Lock()
        self.peripherals: dict[str, object] = {}  # address -> EmulatedSensor (or other)
        self.running = False
        self._next_peripheral = itertools.count(1)

    # ------------------------------------------------------------------ life cycle
    async def start(self, central: bool = True) -> "EmulatedRadio":
        """Create the link and (unless ``central`` is False: the central's controller
        is then served elsewhere, see :mod:`hipmon.emulation.remote`) the central."""
        global _current
        from bumble.link import LocalLink

        self.link = LocalLink()
        if central:
            self.central = self.make_device("hipmon-central", self.central_address)
            await self.central.power_on()
        self.running = True
        _current = self
        return self

    async def fetch_ground_truth(self, sources: bool = False) -> None:
        """Nothing to fetch: in-process sensors' logs and sources are live objects
        (``RemoteRadio`` copies them from its child process)."""

    async def close(self) -> None:
        global _current
        for peripheral in list(self.peripherals.values()):  # EmulatedSensors (register themselves)
            try:
                await peripheral.close()
            except Exception:  # pragma: no cover - best effort teardown
                log.debug("peripheral close failed", exc_info=True)
        await disconnect_all(self.central)
        self.running = False
        if _current is self:
            _current = None

    async def __aenter__(self) -> "EmulatedRadio":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ devices
    def make_device(self, name: str, address: str) -> "Device":
        """A bumble Device with its own virtual controller on this radio's link."""
        from bumble.controller import Controller
        from bumble.device import Device, DeviceConfiguration
        from bumble.hci import Address
        from bumble.host import Host
        from bumble.transport.common import AsyncPipeSink

        controller = Controller(f"ctrl-{name}", link=self.link, public_address=address)
        config = DeviceConfiguration()
        config.name = name
        config.address = Address(address)
        host = Host(controller, AsyncPipeSink(controller))
        device = Device(config=config, host=host)
        return device

    def new_peripheral_address(self) -> str:
        n = next(self._next_peripheral)
        return f"E0:0{self.radio_id % 10}:00:00:{(n >> 8) & 0xFF:02X}:{n & 0xFF:02X}"

    def register(self, address: str, peripheral: object) -> None:
        self.peripherals[address.upper()] = peripheral

    def unregister(self, address: str) -> None:
        self.peripherals.pop(address.upper(), None)
