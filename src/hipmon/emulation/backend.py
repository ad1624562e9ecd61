"""bleak 3.1 backends on bumble: ``BumbleBleakScanner`` and ``BumbleBleakClient``.

Use them through bleak's own public API::

    from bleak import BleakScanner, BleakClient
    from hipmon.emulation import BumbleBleakScanner, BumbleBleakClient

    devices = await BleakScanner.discover(timeout=0.5, backend=BumbleBleakScanner)
    async with BleakClient(devices[0], backend=BumbleBleakClient) as client:
        await client.start_notify(DATA_UUID, callback)

Both find the :class:`~hipmon.emulation.radio.EmulatedRadio` from a ``radio=``
keyword argument (bleak forwards extra keywords to the backend), else from the
``BLEDevice.details`` the scanner produced, else the radio started last.

The client is a real GATT client: LE connection through the central's virtual
controller (serialised by the radio's connect lock, as on real hardware), ATT MTU
exchange (247), primary service / characteristic / descriptor discovery, CCCD
writes for notifications and indications, write requests with response and
write commands, reads. An unsolicited disconnect (sensor dropped the link) calls
bleak's ``disconnected_callback``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

from hipmon.emulation.radio import EmulatedRadio, current_radio

log = logging.getLogger(__name__)

#: ATT MTU the client asks for (what BlueZ/Android/CoreBluetooth negotiate with
#: nRF52 sensors); the payload of one notification is at most MTU - 3 bytes.
REQUESTED_MTU = 247

_PROPERTY_NAMES = (
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
    (0x40, "authenticated-signed-writes"),
    (0x80, "extended-properties"),
)


def _properties(flags: int) -> list[Any]:
    return [name for bit, name in _PROPERTY_NAMES if flags & bit]


def _radio_from(kwargs: dict[str, Any], device: BLEDevice | str | None = None) -> EmulatedRadio:
    radio = kwargs.get("radio")
    if radio is not None:
        return radio
    if isinstance(device, BLEDevice) and isinstance(device.details, dict):
        radio = device.details.get("radio")
        if radio is not None:
            return radio
    return current_radio()


def _uuid_str(uuid: Any) -> str:
    """bumble UUID -> bleak's normalised 128-bit lowercase string."""
    from bleak.uuids import normalize_uuid_str

    return normalize_uuid_str(uuid.to_hex_str("-") if hasattr(uuid, "to_hex_str") else str(uuid))


class BumbleBleakScanner(BaseBleakScanner):
    """Active LE scan on the emulated radio's central device."""

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._radio = _radio_from(kwargs)
        self._active = scanning_mode != "passive"
        self._listener = None

    async def start(self) -> None:
        self.seen_devices = {}
        central = self._radio.central
        self._listener = self._on_advertisement
        central.on(central.EVENT_ADVERTISEMENT, self._listener)
        await central.start_scanning(active=self._active, filter_duplicates=False)

    async def stop(self) -> None:
        central = self._radio.central
        if self._listener is not None:
            central.remove_listener(central.EVENT_ADVERTISEMENT, self._listener)
            self._listener = None
        if central.scanning:
            await central.stop_scanning()

    def _on_advertisement(self, advertisement: Any) -> None:
        from bumble.core import AdvertisingData

        data = advertisement.data
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
            AdvertisingData.SHORTENED_LOCAL_NAME
        )
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        uuids: list[str] = []
        for ad_type in (
            AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        ):
            for u in data.get(ad_type) or []:
                uuids.append(_uuid_str(u))
        manufacturer: dict[int, bytes] = {}
        mdata = data.get(AdvertisingData.MANUFACTURER_SPECIFIC_DATA)
        if mdata:
            company, payload = mdata
            manufacturer[int(company)] = bytes(payload)
        tx_power = data.get(AdvertisingData.TX_POWER_LEVEL)
        address = str(advertisement.address).split("/")[0].upper()
        # merge with what we already know (advertising PDU + scan response)
        previous = self.seen_devices.get(address)
        if previous is not None:
            prev_adv = previous[1]
            name = name or prev_adv.local_name
            uuids = uuids or prev_adv.service_uuids
            manufacturer = manufacturer or prev_adv.manufacturer_data
        if not self.is_allowed_uuid(uuids):
            return
        adv = AdvertisementData(
            local_name=name,
            manufacturer_data=manufacturer,
            service_data={},
            service_uuids=uuids,
            tx_power=tx_power,
            rssi=int(advertisement.rssi),
            platform_data=(advertisement,),
        )
        device = self.create_or_update_device(
            address,
            address,
            name,
            {"radio": self._radio, "address_type": advertisement.address.address_type},
            adv,
        )
        self.call_detection_callbacks(device, adv)


class BumbleBleakClient(BaseBleakClient):
    """A bleak client backend that is a real bumble GATT client on the emulated radio."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Any = None,
        services: set[str] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self.address = self.address.upper()
        self._radio = _radio_from(kwargs, address_or_ble_device)
        self._device_name = (
            address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._service_filter = services
        self._connection = None
        self._peer = None
        self._mtu = 23
        self._disconnecting = False
        self._subscribers: dict[int, Any] = {}

    # ---------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        return self._device_name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._mtu

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    # ---------------------------------------------------------------- connection
    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        from bumble.device import Peer
        from bumble.hci import Address

        if self.address not in self._radio.peripherals:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            )
        timeout = kwargs.get("timeout", self._timeout)
        central = self._radio.central
        async with self._radio.connect_lock:  # one LE Create Connection at a time
            connection = await asyncio.wait_for(
                central.connect(
                    Address(self.address, Address.RANDOM_DEVICE_ADDRESS), timeout=timeout
                ),
                timeout,
            )
        self._connection = connection
        self._disconnecting = False
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            peer = Peer(connection)
            self._peer = peer
            self._mtu = await peer.request_mtu(REQUESTED_MTU)
            await peer.discover_services()
            collection = BleakGATTServiceCollection()
            for service in peer.services:
                await service.discover_characteristics()
                s_uuid = _uuid_str(service.uuid)
                if self._service_filter and s_uuid not in self._service_filter:
                    continue
                b_service = BleakGATTService(service, service.handle, s_uuid)
                collection.add_service(b_service)
                for char in service.characteristics:
                    await char.discover_descriptors()
                    b_char = BleakGATTCharacteristic(
                        char,
                        char.handle,
                        _uuid_str(char.uuid),
                        _properties(int(char.properties)),
                        lambda: self._mtu - 3,
                        b_service,
                    )
                    collection.add_characteristic(b_char)
                    for desc in char.descriptors:
                        b_desc = BleakGATTDescriptor(
                            desc, desc.handle, _uuid_str(desc.type), b_char
                        )
                        collection.add_descriptor(b_desc)
            self.services = collection
        except BaseException:
            await self._drop_connection()
            raise

    def _on_disconnection(self, reason: int) -> None:
        was_solicited = self._disconnecting
        self._connection = None
        self._peer = None
        self._subscribers.clear()
        if not was_solicited and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def _drop_connection(self) -> None:
        connection = self._connection
        if connection is None:
            return
        self._disconnecting = True
        try:
            await connection.disconnect()
        except Exception:  # already gone
            pass
        self._connection = None
        self._peer = None

    async def disconnect(self) -> None:
        await self._drop_connection()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("emulated sensors do not pair")

    async def unpair(self) -> None:
        raise NotImplementedError("emulated sensors do not pair")

    # ---------------------------------------------------------------- I/O
    @staticmethod
    async def _att(coro: Any) -> Any:
        """Await a GATT procedure; an ATT error response becomes a BleakError, as bleak's
        platform backends report it (e.g. BlueZ ``org.bluez.Error.*``)."""
        from bumble.att import ATT_Error

        try:
            return await coro
        except ATT_Error as exc:
            code = getattr(exc, "error_code", None)
            name = getattr(exc, "error_name", None) or (f"0x{code:02X}" if isinstance(code, int) else "?")
            raise BleakError(f"ATT error {name}" + (f" (0x{code:02X})" if isinstance(code, int) else "")) from None

    def _require_peer(self) -> Any:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        self._require_peer()
        return bytearray(await self._att(characteristic.obj.read_value()))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        return bytearray(await self._att(peer.read_value(descriptor.handle)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        self._require_peer()
        await self._att(characteristic.obj.write_value(bytes(data), with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        peer = self._require_peer()
        await self._att(peer.write_value(descriptor.handle, bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peer = self._require_peer()

        def subscriber(value: bytes, _cb: NotifyCallback = callback) -> None:
            _cb(bytearray(value))

        self._subscribers[characteristic.handle] = subscriber
        await peer.subscribe(characteristic.obj, subscriber)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require_peer()
        subscriber = self._subscribers.pop(characteristic.handle, None)
        await peer.unsubscribe(characteristic.obj, subscriber)
