"""The stream stage: one sensor's notifications -> samples on session time, gaps, messages.

One :class:`SensorStream` per sensor, used alike by live acquisition
(``hipmon.ble.acquisition.StreamMonitor``: status, gaps, the recording's gap table),
the pipeline (``hipmon.pipeline.Pipeline.feed``: samples for the grid) and the
recording reader (``hipmon.recording.reader.SessionReader.decode``). Whatever reads
the same items in the same order gets the same samples, times and gaps.

Items, in arrival order (:meth:`SensorStream.push`):

- a data notification (``RawNotification``, ``role == "data"``): decoded by the
  sensor's codec; the samples it completes are mapped to session time by a causal
  :class:`hipmon.sync.ClockSync` (each sample's own arrival where the codec keeps it,
  e.g. Polar's ACC frame that a later GYRO frame completes; else the notification's);
  lost samples are counted from the codec's counters, the sensor's timestamps, or
  (for protocols with neither) the host time across a reconnect;
- a control-point message (``role != "data"``): to ``Decoder.handle_control`` (Polar's
  START response carries the scale); a failed command or a sensor-initiated stop is
  said, in the codec's own words (``Decoder.control_problem``, ``is_stream_stopped``);
- a connection event (``hipmon.types.ConnectionEvent``, live or from a recording's
  connection log): ``connect``/``reconnect``
  restart the decoder and the clock map (the drift is kept) and give the fresh decoder
  this connection's control messages; ``disconnect`` ends the connection; ``restart``
  (the sensor stopped its stream and the start sequence was replayed) marks the next
  gap's reason.

A recording's replay hands the items over in columns (:class:`ItemBlock`,
:meth:`SensorStream.push_block`): the same result as ``push`` item by item, without one
Python object per notification.

Units: s (session time from ``origin_ns``), sensor samples as ``hipmon.types.ImuBlock``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from hipmon.jit import njit
from hipmon.types import ConnectionEvent, Gap, ImuBlock, RawNotification

#: connection events that start a new connection (decoder and clock map restart)
RESET_KINDS = ("connect", "reconnect")
#: connection events that travel in band with the notifications, live and in a replay
IN_BAND_KINDS = ("connect", "reconnect", "disconnect", "restart", "streaming")
#: profile ``time_source`` values for which the sensor's own time is trusted across reconnects
SENSOR_TIME_SOURCES = ("timestamp", "counter")


@dataclass
class StreamOutput:
    """What one item gave: samples (``block``, sensor time) with their session times (N,) s,
    gaps found (``Gap``, session time s) and messages (one sentence each)."""

    block: ImuBlock | None = None
    time_session_s: np.ndarray | None = None
    gaps: list[Gap] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@dataclass
class StreamRun:
    """What ``SensorStream.push_all`` gave for a sequence of items: samples per item (K,),
    all samples (``block``, M) with their session times (M,) s, gaps and messages in order."""

    counts: np.ndarray
    block: ImuBlock | None
    time_session_s: np.ndarray
    gaps: list[Gap] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    bulk_items: int = 0  # how many of the items went through the bulk path


@dataclass
class ItemBlock:
    """Items in arrival order as columns (n rows): data notifications, and the other items
    (control-point messages, connection events) in their place.

    ``host_ns`` (n,) int64 host monotonic ns; ``sensor`` (n,) int64 index into ``sensor_ids``
    (-1: an item of no sensor); row i's payload is ``payload[start[i]:start[i] + length[i]]``
    (``start``, ``length`` (n,) int64 into one bytes buffer, several blocks may share it; 0 bytes
    for an event); ``is_data`` (n,) bool: a data notification; ``others``: row -> the item itself
    (``RawNotification`` with its control role, or ``ConnectionEvent``) for every other row."""

    host_ns: np.ndarray
    sensor: np.ndarray
    sensor_ids: tuple[str, ...]
    payload: bytes
    start: np.ndarray
    length: np.ndarray
    is_data: np.ndarray
    others: dict[int, RawNotification | ConnectionEvent] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.host_ns.size)

    def data(self, i: int) -> bytes:
        """Row ``i``'s payload bytes."""
        a = int(self.start[i])
        return self.payload[a:a + int(self.length[i])]

    def take(self, rows: np.ndarray) -> "ItemBlock":
        """The block of ``rows`` (int indices, in that order), sharing this one's payload."""
        rows = np.asarray(rows, dtype=np.int64)
        at = {int(r): k for k, r in enumerate(rows)} if self.others else {}
        return ItemBlock(self.host_ns[rows], self.sensor[rows], self.sensor_ids, self.payload, self.start[rows],
                         self.length[rows], self.is_data[rows],
                         {at[r]: x for r, x in self.others.items() if r in at})

    def items(self) -> Iterator[RawNotification | ConnectionEvent]:
        """The rows as items (``RawNotification``, ``ConnectionEvent``), one object each."""
        for i in range(len(self)):
            if i in self.others:
                yield self.others[i]
            else:
                yield RawNotification(self.sensor_ids[self.sensor[i]], int(self.host_ns[i]), self.data(i))

    @classmethod
    def from_items(cls, items: Iterable[RawNotification | ConnectionEvent]) -> "ItemBlock":
        """Items (in arrival order) as one block."""
        items = list(items)
        ids: dict[str, int] = {}
        sensor = np.array([-1 if x.sensor_id is None else ids.setdefault(x.sensor_id, len(ids)) for x in items],
                          dtype=np.int64)
        is_data = np.array([isinstance(x, RawNotification) and x.role == "data" for x in items], dtype=bool)
        datas = [bytes(x.data) if d else b"" for x, d in zip(items, is_data)]
        length = np.array([len(d) for d in datas], dtype=np.int64)
        return cls(np.array([int(x.host_ns) for x in items], dtype=np.int64), sensor, tuple(ids), b"".join(datas),
                   np.cumsum(length) - length, length, is_data,
                   {i: x for i, x in enumerate(items) if not is_data[i]})


class SensorStream:
    """One sensor's stream stage (see the module docstring).

    ``decoder``: a ``hipmon.codecs.Decoder``; ``rate_hz``: nominal sample rate (Hz);
    ``time_source``: the profile's (``timestamp``, ``counter`` or ``none``);
    ``origin_ns``: host monotonic ns of session time 0.
    """

    def __init__(self, sensor_id: str, decoder: Any, rate_hz: float, *, time_source: str = "none",
                 origin_ns: int = 0) -> None:
        from hipmon.sync import ClockSync

        self.sensor_id = sensor_id
        self.decoder = decoder
        self.rate_hz = float(rate_hz)
        self.time_source = time_source
        self.origin_ns = int(origin_ns)
        self.clock = ClockSync()
        self.period_s = 1.0 / self.rate_hz
        # gap accounting
        self.last_index: int | None = None
        self.last_time_sensor: float | None = None
        self.last_session: float | None = None  # session time (s) of the last sample
        self.last_arrival = 0.0  # arrival (s) of the last block
        self.reconnected = False
        self.restarted = False
        self.control_log: list[bytes] = []  # control-point messages of the current connection
        self.unpaired_s = np.zeros(0)  # sensor times (s) of samples dropped unpaired, not yet in a gap
        # counters
        self.notifications = 0
        self.control_messages = 0
        self.samples = 0
        self.lost = 0
        self.lost_unpaired = 0
        self.bad = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.gaps: list[Gap] = []

    @classmethod
    def from_profile(cls, sensor_id: str, profile: Any, rate_hz: float | None = None,
                     origin_ns: int = 0) -> "SensorStream":
        """From a firmware profile (its name or a ``hipmon.profiles`` profile object)."""
        if isinstance(profile, str):
            from hipmon.profiles import get_profile

            profile = get_profile(profile)
        rate = float(rate_hz or profile.default_rate_hz)
        return cls(sensor_id, profile.make_decoder(rate), rate, time_source=profile.time_source,
                   origin_ns=origin_ns)

    # ------------------------------------------------------------ items

    def push_all(self, items: Sequence[RawNotification | ConnectionEvent]) -> StreamRun:
        """``push`` of each item in order (all this sensor's), gathered (see :meth:`push_block`)."""
        return self.push_block(ItemBlock.from_items(items))

    def push_block(self, block: ItemBlock) -> StreamRun:
        """``push`` of each row of ``block`` in order (all this sensor's), gathered: the same
        samples, session times, gaps and state, with how many samples each row gave. Runs of
        data notifications go through ``_data_run`` (bulk decode and clock map) where the codec
        can (``Decoder.feed_run``); everything else row by row."""
        n = len(block)
        counts = np.zeros(n, dtype=np.int64)
        blocks: list[ImuBlock] = []
        times: list[np.ndarray] = []
        gaps: list[Gap] = []
        messages: list[str] = []

        def take(i0: int, got: StreamOutput) -> None:
            gaps.extend(got.gaps)
            messages.extend(got.messages)
            if got.block is not None and len(got.block):
                counts[i0] += len(got.block)
                blocks.append(got.block)
                times.append(np.asarray(got.time_session_s, dtype=float))

        other_rows = np.flatnonzero(~block.is_data)
        i, bulk, retry_at = 0, 0, 0
        while i < n:
            if i in block.others:
                take(i, self.push(block.others[i]))
                i += 1
                continue
            if self.decoder.bulk_runs and i >= retry_at and not (self.reconnected or self.restarted):
                k = int(np.searchsorted(other_rows, i))
                j = int(other_rows[k]) if k < other_rows.size else n  # the run of data rows i..j-1
                if j - i >= 8:
                    run = self._data_run(block, i, j)
                    if run is None:
                        retry_at = i + 256  # (the codec declined the run) one by one for a while
                    else:
                        used = len(run.counts)
                        bulk += used
                        counts[i:i + used] = run.counts
                        if run.block is not None:
                            blocks.append(run.block)
                            times.append(run.time_session_s)
                        gaps.extend(run.gaps)
                        messages.extend(run.messages)
                        i += used
                        continue
            take(i, self.data(block.data(i), int(block.host_ns[i])))
            i += 1
        out = (blocks[0] if len(blocks) == 1 else ImuBlock.concatenate(blocks)) if blocks else None
        t = (times[0] if len(times) == 1 else np.concatenate(times)) if times else np.zeros(0)
        return StreamRun(counts, out, t, gaps, messages, bulk)

    def _data_run(self, rows: ItemBlock, i0: int, i1: int) -> StreamRun | None:
        """Data rows ``i0..i1-1`` of ``rows`` in bulk (``push_block``), up to and including the
        first bad one (``StreamRun.counts`` has one entry per row taken); None (and nothing
        changed) when the codec cannot, or the samples need the per-notification gap rules
        (sample counters, paired streams)."""
        if not self.decoder.bulk_runs or self.unpaired_s.size or self.time_source not in SENSOR_TIME_SOURCES:
            return None
        import copy

        saved = copy.deepcopy(self.decoder)
        hns = rows.host_ns[i0:i1]
        got = self.decoder.feed_run(np.frombuffer(rows.payload, dtype=np.uint8), rows.start[i0:i1],
                                    rows.length[i0:i1], hns)
        if got is None or (len(got[0]) and got[0].sample_index is not None) \
                or (len(got[0]) and (got[0].host_ns is None or len(got[0].host_ns) != len(got[0]))) \
                or len(self.decoder.take_unpaired()):
            self.decoder = saved
            return None
        block, counts, error = got
        used = len(counts)
        hns = hns[:used]
        self.notifications += used
        if self.first_ns is None:
            self.first_ns = int(hns[0])
        self.last_ns = int(hns[-1])
        out = StreamOutput()
        t = np.zeros(0)
        if len(block):
            full = np.flatnonzero(counts)
            starts = np.concatenate([[0], np.cumsum(counts[full])[:-1]])
            tsens = np.ascontiguousarray(block.time_sensor_s, dtype=np.float64)
            arrivals = np.empty(tsens.size)
            at = np.empty(tsens.size, dtype=np.int64)
            lost_at = np.empty(tsens.size, dtype=np.int64)
            n_gaps = _arrivals_and_gaps(np.ascontiguousarray(block.host_ns, dtype=np.int64), self.origin_ns, tsens,
                                        self.period_s, arrivals, at, lost_at)
            t = self.clock.map_blocks(tsens, arrivals, starts)
            # gaps as ``_account`` finds them notification by notification (sensor time, no counter)
            if self.last_time_sensor is not None and self.last_session is not None:
                lost = int(round((tsens[0] - self.last_time_sensor) / self.period_s)) - 1
                self._gap(out, self.last_session, float(t[0]), lost, "loss", (self.last_time_sensor, float(tsens[0])))
            for k, lost in zip(at[:n_gaps].tolist(), lost_at[:n_gaps].tolist()):
                self._gap(out, float(t[k]), float(t[k + 1]), lost, "loss", (float(tsens[k]), float(tsens[k + 1])))
            self.last_index = None
            self.last_time_sensor = float(tsens[-1])
            self.last_session = float(t[-1])
            self.last_arrival = (int(hns[full[-1]]) - self.origin_ns) / 1e9
            self.samples += len(block)
        if error is not None:  # the last one was bad: as ``data`` says it
            self._bad(out, rows.data(i0 + used - 1), int(hns[-1]), error)
        return StreamRun(counts, block if len(block) else None, t, out.gaps, out.messages)

    def push(self, item: RawNotification | ConnectionEvent) -> StreamOutput:
        """One item in arrival order (a notification or a connection event)."""
        if isinstance(item, RawNotification):
            if item.role != "data":
                return self.control(item.data)
            return self.data(item.data, item.host_ns)
        return self.connection(item.kind, item.host_ns)

    def connection(self, kind: str, host_ns: int | None = None) -> StreamOutput:
        """A connection event of this sensor (``connect``, ``reconnect``, ``disconnect``, ``restart``, ...).

        The end of a connection (``disconnect``, or a ``(re)connect`` without one) first takes
        from the decoder what it can still complete (``Decoder.finish``: e.g. Polar ACC samples
        whose GYRO partner had arrived but not yet been paired): received samples are kept."""
        out = StreamOutput()
        if kind in RESET_KINDS or kind == "disconnect":
            self._finish_connection(out, host_ns)
        if kind in RESET_KINDS:
            self.decoder.reset()
            self.clock.reset(keep_drift=True)
            self.last_index = None
            self.reconnected = kind == "reconnect"
            # this connection's start-sequence responses may have come before its marker
            for data in self.control_log:
                self._handle_control(data, out, quiet=True)
        elif kind == "disconnect":
            self.control_log.clear()
        elif kind == "restart":
            self.restarted = True
        return out

    def control(self, data: bytes) -> StreamOutput:
        """A control-point message (in arrival order, as the sensor sent it)."""
        out = StreamOutput()
        self.control_messages += 1
        self.control_log.append(bytes(data))
        if self.decoder.is_stream_stopped(data):
            self.restarted = True  # in band: before any sample of the restarted stream
        self._handle_control(data, out, quiet=False)
        return out

    def data(self, data: bytes, host_ns: int) -> StreamOutput:
        """A data notification that arrived at host monotonic ``host_ns``."""
        out = StreamOutput()
        self.notifications += 1
        if self.first_ns is None:
            self.first_ns = host_ns
        self.last_ns = host_ns
        try:
            block = self.decoder.feed(data, host_ns)
        except Exception as exc:  # a DecodeError (or a codec's bug): this notification is lost, say so
            self._bad(out, data, host_ns, exc)
            return out
        self._take_unpaired()
        if block is None or len(block) == 0:
            return out
        self._emit(block, host_ns, out)
        return out

    def _bad(self, out: StreamOutput, data: bytes, host_ns: int, exc: Exception) -> None:
        """The notification just counted could not be decoded: counted and said (the first three,
        then the 10th, 100th, 1000th)."""
        self.bad += 1
        self._take_unpaired()
        if self.bad <= 3 or self.bad in (10, 100, 1000):
            out.messages.append(f"sensor {self.sensor_id}: bad notification {self.notifications - 1} "
                                f"(host_ns {int(host_ns)}, {len(data)} bytes {bytes(data[:12]).hex()}…): {exc}")

    def _finish_connection(self, out: StreamOutput, host_ns: int | None) -> None:
        block = self.decoder.finish()
        self._take_unpaired()
        if block is None or len(block) == 0:
            return
        self._emit(block, self.last_ns if host_ns is None else int(host_ns), out)

    def _emit(self, block: ImuBlock, host_ns: int, out: StreamOutput) -> None:
        """Decoded samples: clock map (each sample's own arrival where the codec keeps it), gaps."""
        arrival_s = (host_ns - self.origin_ns) / 1e9
        if block.host_ns is not None and len(block.host_ns) == len(block):
            arrivals = (np.asarray(block.host_ns, dtype=np.int64) - self.origin_ns) / 1e9
        else:
            arrivals = np.full(len(block), arrival_s)
        self.clock.update(block.time_sensor_s, arrivals)
        t_session = np.asarray(self.clock.to_session(block.time_sensor_s), dtype=float)
        self._account(block, t_session, arrival_s, out)
        self.samples += len(block)
        out.block = block
        out.time_session_s = t_session

    # ------------------------------------------------------------ control

    def _handle_control(self, data: bytes, out: StreamOutput, quiet: bool) -> None:
        try:
            resp = self.decoder.handle_control(bytes(data))
        except Exception as exc:  # a malformed control message: the decoder keeps its scale
            if not quiet:
                out.messages.append(f"sensor {self.sensor_id}: bad control point message "
                                    f"{bytes(data[:12]).hex()}: {exc}")
            return
        problem = None if quiet or resp is None else self.decoder.control_problem(resp)
        if problem:
            out.messages.append(f"sensor {self.sensor_id}: {problem}")

    # ------------------------------------------------------------ gaps

    def _take_unpaired(self) -> None:
        dropped = self.decoder.take_unpaired()
        if len(dropped):
            self.unpaired_s = np.concatenate([self.unpaired_s, np.asarray(dropped, dtype=np.int64) * 1e-9])

    def _gap(self, out: StreamOutput, start_session: float, end_session: float, lost: int, reason: str,
             between_s: tuple[float, float] | None = None) -> None:
        """A gap of ``lost`` samples between the samples at session times ``start_session`` and
        ``end_session`` (s); ``between_s``: their sensor times (s). Samples the decoder dropped
        unpaired in that span are a gap of reason ``unpaired`` (they arrived; their partner
        frame did not)."""
        if between_s is not None and self.unpaired_s.size and lost > 0:
            a, b = between_s
            quarter = 0.25 * self.period_s
            u = self.unpaired_s
            inside = min(int(np.count_nonzero((u > a + quarter) & (u < b - quarter))), lost)
            self.unpaired_s = u[u >= b - quarter]
            if inside:
                self._gap(out, start_session, end_session, inside, "unpaired")
                lost -= inside
        if lost <= 0:
            return
        if reason == "unpaired":
            self.lost_unpaired += lost
        gap = Gap(self.sensor_id, float(start_session), float(end_session), int(lost), reason)
        self.lost += lost
        self.gaps.append(gap)
        out.gaps.append(gap)

    def _account(self, block: ImuBlock, t_session: np.ndarray, t_arrival: float, out: StreamOutput) -> None:
        """Lost samples between the previous block and this one, and inside this one.

        ``t_session`` (N,): the block's session times (s); a gap spans the session times of
        the samples on either side. ``t_arrival``: the notification's arrival (s), for a
        protocol without sensor time across a reconnect."""
        from hipmon.sync import detect_gaps

        index = block.sample_index
        tsens = np.asarray(block.time_sensor_s, dtype=np.float64)
        has_time = self.time_source in SENSOR_TIME_SOURCES
        lost_before = self.lost - self.lost_unpaired  # samples that never arrived
        between = "disconnect" if self.reconnected else ("stopped" if self.restarted else "loss")
        if self.last_time_sensor is not None and self.last_session is not None:
            span = (self.last_time_sensor, float(tsens[0]))
            a, b = self.last_session, float(t_session[0])
            if index is not None and self.last_index is not None:
                self._gap(out, a, b, int(index[0]) - self.last_index - 1, between, span)
            elif has_time:
                lost = int(round((tsens[0] - self.last_time_sensor) / self.period_s)) - 1
                self._gap(out, a, b, lost, between, span)
            elif self.reconnected:
                lost = int(round((t_arrival - self.last_arrival) * self.rate_hz)) - len(block)
                self._gap(out, a, b, lost, "disconnect")
        if index is not None and len(index) > 1:
            for g in detect_gaps(t_session, sample_index=index, sensor_id=self.sensor_id):
                self._gap(out, g.start_s, g.end_s, g.samples_lost, "loss")
        elif index is None and has_time and len(tsens) > 1:
            # sensor time only (Polar): a block may span a lost frame or a stream restart
            steps = np.rint(np.diff(tsens) / self.period_s).astype(np.int64) - 1
            for i in np.flatnonzero(steps > 0):
                other_before = self.lost - self.lost_unpaired
                self._gap(out, float(t_session[i]), float(t_session[i + 1]), int(steps[i]),
                          "stopped" if self.restarted else "loss", (float(tsens[i]), float(tsens[i + 1])))
                if self.lost - self.lost_unpaired != other_before:
                    self.restarted = False
        # sample period measured on the sensor's clock (robust to its drift)
        if index is not None and self.last_index is not None and has_time and int(index[-1]) > self.last_index:
            span_n = int(index[-1]) - self.last_index
            if span_n >= 8 and self.last_time_sensor is not None and not self.reconnected:
                est = (tsens[-1] - self.last_time_sensor) / span_n
                if 0.5 < est * self.rate_hz < 1.5:
                    self.period_s = 0.98 * self.period_s + 0.02 * est
        self.reconnected = False
        # a stream restart's gap may come a block late (samples from before the stop still
        # waiting for their partner frames): the flag stays until a gap is seen
        if self.lost - self.lost_unpaired != lost_before:
            self.restarted = False
        self.last_index = None if index is None else int(index[-1])
        self.last_time_sensor = float(tsens[-1])
        self.last_session = float(t_session[-1])
        self.last_arrival = t_arrival


@njit
def _arrivals_and_gaps(host_ns, origin_ns, time_sensor_s, period_s, arrivals, at, lost):  # pragma: no cover - compiled
    """One pass over a run's samples (N,): each one's arrival ``(host_ns - origin_ns) / 1e9`` (s)
    into ``arrivals`` (N,), and the lost samples between consecutive ones as ``_account`` counts
    them, ``rint((t[k + 1] - t[k]) / period_s) - 1`` where that is > 0, as (sample k, lost) in
    ``at``, ``lost`` (N,) int64; returns how many (the same operations as the numpy of
    ``_account``)."""
    for i in range(arrivals.size):
        arrivals[i] = np.float64(host_ns[i] - origin_ns) / 1e9
    g = 0
    for k in range(time_sensor_s.size - 1):
        steps = np.int64(np.rint((time_sensor_s[k + 1] - time_sensor_s[k]) / period_s)) - 1
        if steps > 0:
            at[g] = k
            lost[g] = steps
            g += 1
    return g
