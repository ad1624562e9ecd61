"""Emulated sensors in a separate process, reached over a real HCI transport.

In the field the sensors are other devices: their firmware does not share the
recording process's CPU or its GIL. :class:`RemoteRadio` reproduces that:

- a child process (``python -m hipmon.emulation.remote``) runs the "air": a
  bumble ``LocalLink`` with the emulated sensors (controllers, hosts, GATT
  servers, firmware, impairments, ground-truth logs) **and the central's
  controller**, whose HCI is served on a UNIX socket (bumble's
  ``unix-server`` transport, H4 packets, as a USB/UART dongle speaks HCI);
- this process runs only the central's bumble *host* (HCI, L2CAP, ATT, GATT
  client) on that socket (bumble's ``unix`` client transport), driven by bleak
  through :class:`~hipmon.emulation.backend.BumbleBleakClient` /
  ``BumbleBleakScanner`` exactly as with the in-process :class:`EmulatedRadio`.

Control (start plan, ground truth, stop) goes over a socket pair with pickled
messages (``multiprocessing.connection.Connection``). The child exits when this
process goes away (the control socket closes), e.g. after ``kill -9``.

::

    radio = await RemoteRadio(plan).start()      # sensors start streaming their clock
    sensors = radio.sensors                      # placement -> RemoteSensor(address, name)
    ... BleakScanner / BleakClient with backend=Bumble* (radio= or current radio) ...
    await radio.fetch_ground_truth()             # fills sensor.log (and .source)
    await radio.close()
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from hipmon.emulation.radio import EmulatedRadio

log = logging.getLogger(__name__)


class EmulationError(RuntimeError):
    """The emulated sensors could not be started (the child process's message)."""


@dataclass
class RemoteSensor:
    """What this process knows of an emulated sensor living in the child process."""

    placement: str
    address: str
    name: str
    rate_hz: float
    log: Any = None  # SensorLog, after RemoteRadio.fetch_ground_truth()
    source: Any = None  # the sample source, after fetch_ground_truth(sources=True)


class RemoteRadio(EmulatedRadio):
    """An :class:`EmulatedRadio` whose sensors (and the central's controller) run in a child process."""

    def __init__(self, plan: Any, central_address: str | None = None, start_timeout_s: float = 120.0) -> None:
        super().__init__(central_address)
        self.plan = plan
        self.start_timeout_s = start_timeout_s
        self.sensors: dict[str, RemoteSensor] = {}
        self.origin = ""
        self.process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._tmpdir: tempfile.TemporaryDirectory | None = None
        self._transport: Any = None

    async def _call(self, msg: Any, timeout: float | None = 60.0) -> Any:
        """Send a control message to the child and wait for its answer (off the event loop)."""
        conn = self._conn
        assert conn is not None

        def roundtrip() -> Any:
            conn.send(msg)
            return conn.recv()

        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(None, roundtrip), timeout)

    async def start(self) -> "RemoteRadio":
        import hipmon.emulation.radio as radio_mod
        from bumble.device import Device, DeviceConfiguration
        from bumble.hci import Address
        from bumble.host import Host
        from bumble.transport import open_transport

        self._tmpdir = tempfile.TemporaryDirectory(prefix="hipmon-air-")
        path = os.path.join(self._tmpdir.name, "hci.sock")
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        src_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = src_dir + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hipmon.emulation.remote", str(child_sock.fileno())],
            pass_fds=(child_sock.fileno(),),
            env=env,
        )
        child_sock.close()
        self._conn = Connection(parent_sock.detach())
        try:
            reply = await self._call(("start", self.plan, path, self.central_address), self.start_timeout_s)
        except BaseException:
            await self._kill()
            raise
        if not reply.get("ok"):
            await self._kill()
            raise EmulationError(str(reply.get("error")))
        self.origin = reply["origin"]
        for placement, (address, name, rate) in reply["sensors"].items():
            self.sensors[placement] = RemoteSensor(placement, address, name, rate)
            self.register(address, self.sensors[placement])
        # the central: a bumble host on the child's controller, over HCI on a UNIX socket
        self._transport = await open_transport(f"unix:{path}")
        config = DeviceConfiguration()
        config.name = "hipmon-central"
        config.address = Address(self.central_address)
        host = Host(self._transport.source, self._transport.sink)
        self.central = Device(config=config, host=host)
        await self.central.power_on()
        self.running = True
        radio_mod._current = self
        return self

    async def fetch_ground_truth(self, sources: bool = False) -> dict[str, RemoteSensor]:
        """Copy each sensor's :class:`SensorLog` (and its sample source) from the child."""
        if self._conn is None or self.process is None or self.process.poll() is not None:
            return self.sensors
        reply = await self._call(("truth", sources), 120.0)
        for placement, (slog, source) in reply.items():
            self.sensors[placement].log = slog
            if source is not None:
                self.sensors[placement].source = source
        return self.sensors

    async def close(self) -> None:
        import hipmon.emulation.radio as radio_mod

        await radio_mod.disconnect_all(self.central)
        if self._conn is not None and self.process is not None and self.process.poll() is None:
            try:
                await self._call(("stop",), 15.0)
            except Exception:
                log.debug("emulated sensor process did not stop cleanly", exc_info=True)
        if self._transport is not None:
            try:
                await self._transport.close()
            except Exception:  # pragma: no cover
                pass
            self._transport = None
        await self._kill()
        self.running = False
        if radio_mod._current is self:
            radio_mod._current = None

    async def _kill(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        proc, self.process = self.process, None
        if proc is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(None, proc.wait, 10.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None


# ============================================================================ child process


async def _child_main(conn: Connection) -> None:
    from bumble.controller import Controller
    from bumble.transport import open_transport

    from hipmon.emulation.session import start_session_sensors

    loop = asyncio.get_running_loop()
    msg = await loop.run_in_executor(None, conn.recv)
    _, plan, path, central_address = msg
    radio = EmulatedRadio()
    try:
        await radio.start(central=False)
        transport = await open_transport(f"unix-server:{path}")
        Controller("hipmon-central-ctrl", host_source=transport.source, host_sink=transport.sink,
                   link=radio.link, public_address=central_address)
        sensors, origin = await start_session_sensors(radio, plan)
    except Exception as exc:  # reported to the parent
        conn.send({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    conn.send({
        "ok": True,
        "origin": origin,
        "sensors": {p: (s.address, s.name, s.rate_hz) for p, s in sensors.items()},
    })
    while True:
        try:
            msg = await loop.run_in_executor(None, conn.recv)
        except (EOFError, OSError):  # the parent is gone
            break
        if msg[0] == "truth":
            conn.send({p: (s.log, s.source if msg[1] else None) for p, s in sensors.items()})
        elif msg[0] == "stop":
            await radio.close()
            conn.send({"ok": True})
            break
    try:
        transport.server.close()
    except Exception:  # pragma: no cover
        pass


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    conn = Connection(int(argv[0]))
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_child_main(conn))
    finally:
        conn.close()


if __name__ == "__main__":
    main()
