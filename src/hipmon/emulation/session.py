"""The emulated sensors of a whole session: pelvis, left and right thigh on one radio."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hipmon.emulation.sensor import EmulatedSensor, Impairments
from hipmon.types import PLACEMENTS

if TYPE_CHECKING:
    from hipmon.emulation.radio import EmulatedRadio

log = logging.getLogger(__name__)


def session_sources(kind: str, seconds: float, seed: int, rate_hz: float,
                    placements: tuple[str, ...] = PLACEMENTS,
                    **simulate_kwargs: Any) -> tuple[dict[str, Any], str]:
    """Per-placement sample sources from ``hipmon.simulate.simulate(kind, ..., rate_hz=rate_hz)``
    (``simulate_kwargs``, e.g. ``preset``, are passed on), for ``placements``.

    Returns (sources, origin) where origin is ``"simulate"``.
    """
    from hipmon.simulate import simulate

    sim = simulate(kind, seconds=seconds, seed=seed, rate_hz=rate_hz, **simulate_kwargs)
    return {p: sim.sensors[p] for p in placements}, "simulate"


@dataclass
class EmulationPlan:
    """What ``hipmon record --emulate`` and the live demo (``ChainSource.emulated``) ask of the
    emulated sensors: the one emulated-sensor set-up (``open_session``)."""

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
    #: keep at most this many notification records per sensor (a live session reads no ground
    #: truth: its logs stay bounded); None keeps all (recordings compare against them)
    log_limit: int | None = None

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
        if plan.log_limit is not None:
            sensors[placement].log.limit(plan.log_limit)
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
