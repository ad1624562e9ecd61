"""Record a session (``hipmon record``): acquisition -> SessionWriter, with a summary."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from hipmon.types import SensorSpec, SensorStatus


#: the ``SensorStatus`` fields a recording keeps in its metadata (``sensors_summary``)
SUMMARY_FIELDS = ("sensor_id", "placement", "profile", "notifications", "samples", "gaps", "samples_lost",
                  "reconnects", "state", "messages", "battery_pct")


@dataclass
class RecordSummary:
    path: str
    seconds: float
    sensors: list[SensorStatus]  # each sensor at the end of the recording
    messages: list[str]
    extra: dict[str, Any] = field(default_factory=dict)
    start_delay_s: float = 0.0  # from the command's start to every sensor streaming

    @property
    def ok(self) -> bool:
        return all(s.samples > 0 for s in self.sensors)

    def format(self) -> str:
        lines = [f"{self.path}: {self.seconds:.1f} s recorded after a start-up of {self.start_delay_s:.1f} s "
                 "(scan, connect, start sequences)"]
        for s in self.sensors:
            lines.append(
                f"  {s.placement:<12} {s.profile:<14} samples {s.samples:>7}  notifications {s.notifications:>6}"
                f"  gaps {s.gaps:>3} ({s.samples_lost} samples lost)  reconnects {s.reconnects}"
                + (f"  battery {s.battery_pct} %" if s.battery_pct is not None else "")
                + ("" if s.samples else f"  [{s.state}]")
            )
        for m in self.messages:
            lines.append(f"  ! {m}")
        return "\n".join(lines)


def _wait_streaming(thread: Any, timeout_s: float) -> None:
    """Until every sensor has delivered samples (or failed), at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        st = thread.status().values()
        if all(s.samples > 0 or s.state == "failed" for s in st):
            return
        time.sleep(0.02)


def _record(path: str, specs: list[SensorSpec], seconds: float, metadata: dict[str, Any],
            overwrite: bool, setup: Any = None, after: Any = None, start_timeout_s: float = 30.0,
            **acq_kwargs: Any) -> RecordSummary:
    """Record ``seconds`` from the moment every sensor streams (start-up: at most
    ``start_timeout_s``, reported as ``start_delay_s``)."""
    from hipmon.ble.acquisition import AcquisitionThread
    from hipmon.cli import CommandError
    from hipmon.recording import SessionRecorder
    from hipmon.recording.writer import RecordingError

    try:
        writer = SessionRecorder(path, metadata, specs, time.monotonic_ns(), overwrite=overwrite)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    thread = AcquisitionThread(
        specs, setup=setup, sinks=[writer.item], event_sinks=[writer.item], gap_sinks=[writer.gap],
        origin_ns=writer.origin_ns, **acq_kwargs,
    )
    t_start = time.monotonic()
    t_streaming = t_start
    try:
        thread.start()
    except BaseException as exc:  # nothing was recorded: no session file is left behind
        try:
            thread.stop()
        except BaseException:
            pass
        writer.discard()  # the new file holds nothing yet (a file it was to replace stays)
        if isinstance(exc, CommandError):
            raise
        raise CommandError(f"could not start the recording: {type(exc).__name__}: {exc}") from None
    try:
        if after is not None:
            after(thread)
        _wait_streaming(thread, start_timeout_s)
        t_streaming = time.monotonic()
        time.sleep(max(0.0, seconds - (time.monotonic() - t_streaming)))
    except KeyboardInterrupt:
        pass
    finally:
        thread.stop()
        elapsed = time.monotonic() - t_streaming
        statuses = thread.status()
        summaries = [dataclasses.replace(s, messages=list(s.messages)) for s in statuses.values()]
        writer.update_metadata(
            sensors_summary={s.sensor_id: {k: v for k, v in dataclasses.asdict(s).items() if k in SUMMARY_FIELDS}
                             for s in summaries},
            recorded_seconds=elapsed,
            start_delay_s=t_streaming - t_start,
            battery_pct={s.sensor_id: s.battery_pct for s in statuses.values()},
        )
        writer.close()
    messages = list(thread.monitor.messages)
    for s in summaries:
        if s.samples == 0:
            messages.append(f"sensor {s.sensor_id} ({s.placement}): no samples received ({s.state})")
    return RecordSummary(path, elapsed, summaries, messages, {"thread": thread},
                         start_delay_s=t_streaming - t_start)


#: Extra simulated seconds beyond ``--seconds``: the sensors' clocks start before the
#: recorder has found and connected them (start-up), so the recording still holds
#: ``seconds`` of samples per sensor.
EMULATION_LEAD_S = 4.0


def record_emulated(path: str, *, kind: str, seconds: float, profile: str = "movesense-gsp",
                    rate_hz: float = 208.0, loss: float = 0.0, disconnects: int = 0, seed: int = 0,
                    speed: float = 1.0, overwrite: bool = False, jitter_s: float = 0.004,
                    remote: bool = True, simulate_options: dict[str, Any] | None = None,
                    codec_params: dict[str, Any] | None = None, placements: tuple[str, ...] | None = None,
                    off_air: dict[str, tuple[tuple[float, float], ...]] | None = None,
                    **acq_kwargs: Any) -> RecordSummary:
    """Emulated pelvis/left/right thigh sensors over bumble, recorded through bleak.

    ``placements``: the sensors to emulate, all three (default) or ``("pelvis",)`` (one sensor
    on the sacrum); ``off_air``: placement -> ``(session time s, seconds)`` spans that sensor is
    gone (``Impairments.off_air_s``: a thigh lost part-way; the recording has a gap there).

    ``simulate_options``: keyword arguments for ``hipmon.simulate.simulate`` (``preset``,
    ``right_valgus_deg``, ...: the athlete), stored in the metadata; ``codec_params``: codec
    parameters the emulated sensors' encoders use instead of the profile's (tests: a Polar
    scale the profile does not know); ``acq_kwargs`` go to the ``AcquisitionThread``
    (e.g. ``block_sinks``).

    ``remote`` (default): the sensors run in a child process and the central's host
    reaches them over HCI on a UNIX socket (:mod:`hipmon.emulation.remote`), so the
    emulation does not compete with the recorder for the GIL, as real sensors do not.
    Forced disconnects are spread over ``seconds`` of session time.
    """
    from hipmon.cli import CommandError
    from hipmon.emulation.backend import BumbleBleakClient, BumbleBleakScanner
    from hipmon.emulation.session import EmulationPlan, close_session, open_session
    from hipmon.profiles import ProfileError, get_profile
    from hipmon.types import PLACEMENTS

    try:
        prof = get_profile(profile)
        prof.start_steps(rate_hz)
    except (ProfileError, KeyError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    import os

    remote = remote and os.name == "posix"  # UNIX sockets and fd passing
    from hipmon.ble.config import ConfigError, check_placements

    placements = tuple(p for p in PLACEMENTS if p in set(placements or PLACEMENTS))
    try:
        check_placements(placements, "--placements")
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    off_air = {p: tuple((float(t), float(d)) for t, d in spans) for p, spans in (off_air or {}).items()}
    unknown = [p for p in off_air if p not in placements]
    if unknown:
        raise CommandError(f"--off-air {', '.join(unknown)}: no such sensor in this session ({', '.join(placements)})")
    plan = EmulationPlan(kind=kind, seconds=seconds + EMULATION_LEAD_S * max(1.0, speed), seed=seed, profile=profile,
                         rate_hz=rate_hz, loss=loss, disconnects=disconnects, speed=speed, jitter_s=jitter_s,
                         # drops inside the recorded span (the clock starts ~1 s before streaming)
                         disconnect_window_s=(1.5 * max(1.0, speed), seconds + 0.5),
                         extra={"simulate": dict(simulate_options or {}), "codec": dict(codec_params or {})},
                         placements=placements, off_air=off_air)
    specs = [SensorSpec(p, p, profile, rate_hz) for p in placements]
    state: dict[str, Any] = {}

    async def setup() -> Any:
        from hipmon.emulation.remote import EmulationError

        try:
            radio, sensors, origin = await open_session(plan, remote=remote)
        except (ValueError, EmulationError) as exc:  # the simulator refuses the request (kind, length)
            raise CommandError(f"emulated sensors: {exc} (the simulated session is --seconds + "
                               f"{EMULATION_LEAD_S:g} s for start-up)") from None
        state.update(radio=radio, sensors=sensors, origin=origin)
        for spec in specs:
            spec.address = sensors[spec.placement].address

        async def teardown() -> None:
            await close_session(radio)

        return state, teardown

    metadata = {
        "source": "emulation",
        "emulation": {"kind": kind, "seconds": seconds, "seed": seed, "profile": profile, "rate_hz": rate_hz,
                      "loss": loss, "disconnects": disconnects, "speed": speed, "jitter_s": jitter_s,
                      "simulate": dict(simulate_options or {}), "placements": list(placements),
                      **({"off_air": {p: [list(x) for x in v] for p, v in off_air.items()}} if off_air else {}),
                      **({"codec": dict(codec_params)} if codec_params else {}),
                      "backend": ("bumble: sensors in a child process, HCI over a UNIX socket; bleak backend "
                                  "hipmon.emulation.backend" if remote else
                                  "bumble LocalLink in process via bleak (hipmon.emulation.backend)")},
    }
    # the emulated sensors' sample clock runs `seconds` of session time
    summary = _record(path, specs, seconds / speed, metadata, overwrite, setup=setup,
                      client_backend=BumbleBleakClient, scanner_backend=BumbleBleakScanner, scan_timeout_s=2.0,
                      **acq_kwargs)
    summary.extra["emulation"] = state
    return summary


def record_hardware(path: str, config: str, *, seconds: float, profile: str | None = None,
                    rate_hz: float | None = None, overwrite: bool = False) -> RecordSummary:
    """Real sensors from a session configuration, through bleak's default backend."""
    from hipmon.ble.config import ConfigError, load_config
    from hipmon.cli import CommandError

    try:
        cfg = load_config(config, profile=profile, rate_hz=rate_hz)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    check_adapter()
    return _record(path, cfg.sensors, seconds, {"source": "hardware", "config": str(config)}, overwrite)


def check_adapter() -> None:
    """Raise CommandError with a clear message if there is no usable Bluetooth adapter."""
    import asyncio

    from hipmon.cli import CommandError

    async def probe() -> None:
        from bleak import BleakScanner

        async with BleakScanner():
            pass

    try:
        asyncio.run(asyncio.wait_for(probe(), 10.0))
    except Exception as exc:
        raise CommandError(
            f"no Bluetooth adapter available ({type(exc).__name__}: {exc}). "
            "Use --emulate KIND to record from emulated sensors."
        ) from None
