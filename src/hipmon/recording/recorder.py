"""``SessionRecorder``: the one hook-up of live acquisition to a session file.

``hipmon record`` (``hipmon.ble.record``) and the dashboard's Record button
(``hipmon.app.chain.ChainSource``) both record through it, so a session recorded either
way holds the same things: every raw notification (data and control) in arrival order,
the connection events that travel in band with them (``hipmon.stream.IN_BAND_KINDS``:
a replay puts them back in their place), every gap the stream stage found, markers and
alerts.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from hipmon.types import Alert, ConnectionEvent, Gap, RawNotification, SensorSpec

from .writer import SessionWriter


class SessionRecorder:
    """A new session file at ``path`` for ``specs`` on the session clock ``origin_ns``.

    ``item`` takes what the acquisition queues, in order (a ``RawNotification`` or a
    ``ConnectionEvent``; other connection kinds, e.g. ``message``, are not part of the
    recording's log); ``gap`` a ``Gap``. Thread-safe as ``SessionWriter`` is.
    """

    def __init__(self, path: str, metadata: Mapping[str, Any], specs: Iterable[SensorSpec], origin_ns: int,
                 overwrite: bool = False) -> None:
        from hipmon.profiles import get_profile
        from hipmon.stream import IN_BAND_KINDS

        self._kinds = IN_BAND_KINDS
        self.writer = SessionWriter(path, dict(metadata), overwrite=overwrite, origin_ns=origin_ns)
        for s in specs:
            self.writer.add_sensor(s.sensor_id, s.placement, s.profile,
                                   s.rate_hz or get_profile(s.profile).default_rate_hz, address=s.address)

    @property
    def path(self) -> str:
        return str(self.writer.path)

    @property
    def origin_ns(self) -> int:
        """Host monotonic ns of session time 0."""
        return self.writer.origin_ns

    def item(self, item: RawNotification | ConnectionEvent) -> None:
        if isinstance(item, RawNotification):
            self.writer.write(item)
        elif item.kind in self._kinds:
            self.writer.log_connection(item.sensor_id, item.kind, item.host_ns, item.detail)

    def gap(self, gap: Gap) -> None:
        self.writer.add_gap(gap)

    def marker(self, time_s: float, label: str, condition: str = "") -> None:
        self.writer.add_marker(time_s, label, condition)

    def alert(self, alert: Alert) -> None:
        """An alert, with its numeric values as the stored detail (what a reader gets back)."""
        self.writer.add_alert(alert.time_s, alert.rule, alert.side,
                              {k: v for k, v in alert.values.items() if isinstance(v, (int, float))})

    def update_metadata(self, **items: Any) -> None:
        self.writer.update_metadata(**items)

    def close(self) -> None:
        self.writer.close()

    def discard(self) -> None:
        """Nothing was recorded: no file is left (a file it was to replace stays)."""
        self.writer.discard()
