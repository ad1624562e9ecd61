"""The emulated sensors of a whole session: pelvis, left and right thigh on one radio."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hipmon.emulation.sensor import EmulatedSensor, Impairments, SyntheticSource
from hipmon.types import PLACEMENTS

if TYPE_CHECKING:
    from hipmon.emulation.radio import EmulatedRadio
    from hipmon.simulate import SimSensor

log = logging.getLogger(__name__)


def session_sources(kind: str, seconds: float, seed: int, rate_hz: float,
                    placements: tuple[str, ...] = PLACEMENTS,
                    **simulate_kwargs: Any) -> tuple[dict[str, Any], str]:
    """Per-placement sample sources from ``hipmon.simulate.simulate(kind, ...)``
    (``simulate_kwargs``, e.g. ``preset``, are passed on), for ``placements``.

    Returns (sources, origin) where origin is ``"simulate"``.
    """
    from hipmon.simulate import simulate

    sim = simulate(kind, seconds=seconds, seed=seed, **simulate_kwargs)
    sources = {}
    for placement in placements:
        src = sim.sensors[placement]
        if abs(float(src.rate_hz) - rate_hz) > 1e-6:
            src = _resample(src, rate_hz)
        sources[placement] = src
    return sources, "simulate"


def _resample(src: SimSensor, rate_hz: float) -> SyntheticSource:
    """Linear resampling of a SimSensor onto ``rate_hz`` (the sensor's own sample grid)."""
    t = np.asarray(src.time_session_s, float)
    n = int(np.floor((t[-1] - t[0]) * rate_hz)) + 1
    tn = t[0] + np.arange(n) / rate_hz

    def interp(a: Any) -> Any:
        if a is None:
            return None
        a = np.asarray(a, float)
        return np.stack([np.interp(tn, t, a[:, k]) for k in range(a.shape[1])], axis=1)

    ts = np.interp(tn, t, np.asarray(src.time_sensor_s, float))
    return SyntheticSource(rate_hz, tn, ts, interp(src.acc_sensor), interp(src.gyr_sensor),
                           interp(src.mag_sensor), src.placement)


@dataclass
class EmulationPlan:
    """What ``hipmon record --emulate`` asks of the emulated sensors."""

    kind: str = "walk"
    seconds: float = 10.0
    seed: int = 0
    profile: str = "movesense-gsp"
    rate_hz: float | None = None
    loss: float = 0.0
    disconnects: int = 0
    speed: float = 1.0
    jitter_s: float = 0.004
    #: session-time window (start, end) s over which the forced drops are spread
    #: (default: the whole session)
    disconnect_window_s: tuple[float, float] | None = None
    #: ``{"simulate": {...}}``: keyword arguments for ``hipmon.simulate.simulate`` (e.g. preset,
    #: ``right_valgus_deg``); ``{"codec": {...}}``: codec parameters the emulated sensors'
    #: encoders use instead of the profile's (e.g. a Polar ``acc_factor`` the profile does not
    #: know: the sensor then reports it in its START responses, as a real one with another scale)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the placements that get a sensor: all three, or ``("pelvis",)`` (one sensor on the sacrum)
    placements: tuple[str, ...] = PLACEMENTS
    #: placement -> ``(session time s, seconds)`` spans that sensor is gone off the air
    #: (``Impairments.off_air_s``): e.g. ``{"left_thigh": ((12.0, 5.0),)}`` loses a thigh part-way
    off_air: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = [p for p in self.placements if p not in PLACEMENTS] + [p for p in self.off_air if p not in self.placements]
        if bad or not self.placements:
            raise ValueError(f"emulated placements must be among {', '.join(PLACEMENTS)} "
                             f"(off-air spans only for those), not {bad or list(self.placements)}")

    def disconnect_times(self, i: int) -> tuple[float, ...]:
        """``disconnects`` forced drops per sensor, evenly spread, staggered per sensor."""
        if self.disconnects <= 0:
            return ()
        start, end = self.disconnect_window_s or (0.0, self.seconds)
        span = (end - start) / (self.disconnects + 1)
        return tuple(start + span * (k + 1) + 0.15 * i for k in range(self.disconnects))


async def start_session_sensors(radio: Any, plan: EmulationPlan) -> tuple[dict[str, EmulatedSensor], str]:
    """Start the emulated sensors of ``plan`` (``plan.placements``) on ``radio`` (one shared sample clock)."""
    from hipmon.profiles import get_profile

    profile = get_profile(plan.profile)
    rate = float(plan.rate_hz or profile.default_rate_hz)
    sources, origin = session_sources(plan.kind, plan.seconds, plan.seed, rate, tuple(plan.placements),
                                      **plan.extra.get("simulate", {}))
    t0 = time.monotonic()
    sensors = {}
    for i, placement in enumerate(PLACEMENTS):
        if placement not in plan.placements:
            continue
        imp = Impairments(loss=plan.loss, jitter_s=plan.jitter_s, disconnect_at_s=plan.disconnect_times(i),
                          off_air_s=tuple(plan.off_air.get(placement, ())))
        sensors[placement] = await EmulatedSensor(
            radio, profile, sources[placement], rate_hz=rate, speed=plan.speed, impairments=imp,
            seed=plan.seed * 100 + i,
        ).start(t0)
        encoder = sensors[placement].firmware.encoder
        for key, value in plan.extra.get("codec", {}).items():
            try:
                encoder.set_param(key, value)
            except KeyError:
                raise ValueError(f"emulated {profile.name} encoder has no codec parameter {key!r}") from None
    return sensors, origin


async def open_session(plan: EmulationPlan, *, remote: bool = False) -> tuple[Any, dict[str, Any], str]:
    """Start the emulated sensors of ``plan``: ``(radio, sensors, origin)``.

    ``remote=False``: an in-process :class:`~hipmon.emulation.radio.EmulatedRadio`
    (sensors are :class:`EmulatedSensor` objects, their logs live). ``remote=True``:
    a :class:`~hipmon.emulation.remote.RemoteRadio` (sensors, link and the central's
    controller in a child process; HCI over a UNIX socket); sensors are
    ``RemoteSensor`` handles whose ``log``/``source`` are filled by
    :func:`close_session`.
    """
    if remote:
        from hipmon.emulation.remote import RemoteRadio

        radio = await RemoteRadio(plan).start()
        return radio, dict(radio.sensors), radio.origin
    from hipmon.emulation.radio import EmulatedRadio

    radio = await EmulatedRadio().start()
    sensors, origin = await start_session_sensors(radio, plan)
    return radio, sensors, origin


async def close_session(radio: EmulatedRadio, *, sources: bool = False) -> None:
    """Stop the sensors; for a remote radio first copy their ground truth (and sources)."""
    try:
        await radio.fetch_ground_truth(sources=sources)
    except Exception:
        log.warning("could not fetch the emulated sensors' ground truth", exc_info=True)
    await radio.close()
