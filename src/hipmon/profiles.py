"""Firmware profiles: one declarative TOML file per sensor firmware (DESIGN.md section 5).

A profile names the GATT service and characteristics, the start/stop sequences
(with rate-dependent bytes templated), the codec and its parameters, the sample
rates, the declared ranges, the sensor frame and what the sensor sends for time.
``docs/profiles.md`` documents every field; adding a sensor whose packets fit an
existing codec takes a new TOML file, not code.

Profiles are read from the repository's ``firmware_profiles/`` directory (or
``$HIPMON_PROFILE_DIR``), plus any ``extra_dirs``. Every problem raises
:class:`ProfileError` naming the file and the field.

Step data templates
-------------------
A step's ``data`` is a string of whitespace-separated tokens, after ``{name}``
substitution of the template variables (``rate``, the ``[ranges]`` keys, ``mag``
(1 or 0), the scalar ``[codec_params]``, the ``[template_vars]`` constants and the ``[rate_vars.NAME]`` value for
the chosen rate):

- ``0A``, ``ffaa`` ... hex bytes (an even number of hex digits);
- ``u8:N``, ``u16le:N``, ``u32le:N``, ``i16le:N``: an integer in that format;
- ``f32le:X``: an IEEE-754 float32, little-endian;
- ``ascii:TEXT``: the ASCII bytes of TEXT (no spaces; no terminator).
"""

from __future__ import annotations

import fnmatch
import os
import sys
import re
import struct
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import hipmon

VALID_CHANNELS = ("acc", "gyr", "mag")
VALID_TIME_SOURCES = ("timestamp", "counter", "none")
VALID_OPS = ("notify", "write", "read", "wait")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class ProfileError(ValueError):
    """A firmware profile that cannot be used; the message names the file and the field."""

    def __init__(self, path: Path | str | None, field_name: str | None, message: str):
        where = str(path) if path is not None else "<profile>"
        self.line = _field_line(path, field_name)
        if self.line is not None:
            where += f", line {self.line}"
        if field_name:
            where += f": field '{field_name}'"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.field = field_name


def _field_line(path: Path | str | None, field_name: str | None) -> int | None:
    """Line (1-based) of ``field_name`` in the TOML file ``path``: its last dotted part as a key
    (``codec_params.acc_range`` -> ``acc_range``), or its table header; None when not found."""
    if path is None or not field_name:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    key = field_name.split(".")[-1].split("[")[0]
    for i, ln in enumerate(lines):
        head = ln.strip()
        if head.split("=")[0].strip() == key or head in (f"[{key}]", f"[[{key}]]"):
            return i + 1
    return None


@dataclass(frozen=True)
class Step:
    """One GATT operation of a start or stop sequence.

    ``op``: ``notify`` (enable notifications/indications on ``char_role``),
    ``write`` (write ``data``; ``response`` True = write with response),
    ``read`` (read ``char_role``), ``wait`` (sleep ``seconds``; ``char_role`` empty).
    """

    op: str
    char_role: str
    data: bytes = b""
    response: bool = True
    seconds: float = 0.0


@dataclass
class Profile:
    """A validated firmware profile (see ``docs/profiles.md`` for the fields).

    Units: ``rates_hz`` Hz; ``ranges`` keys ``acc_g`` (g), ``gyr_dps`` (°/s),
    ``mag_ut`` (µT) give the declared full-scale ranges.
    """

    name: str
    codec: str
    description: str
    service_uuid: str
    characteristics: dict[str, str]
    advertised_names: list[str]
    rates_hz: list[float]
    default_rate_hz: float
    channels: list[str]
    ranges: dict[str, float]
    time_source: str
    sensor_frame: str
    codec_params: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    notes: str = ""
    path: Path | None = None
    _start: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _stop: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _template_vars: dict[str, Any] = field(default_factory=dict, repr=False)
    _rate_vars: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ steps
    def _check_rate(self, rate_hz: float | None) -> float:
        if rate_hz is None:
            return self.default_rate_hz
        if not any(abs(float(rate_hz) - r) < 1e-9 for r in self.rates_hz):
            raise ProfileError(self.path, "rates_hz", f"{self.name} cannot stream at {rate_hz} Hz; rates: {_fmt_rates(self.rates_hz)}")
        return float(rate_hz)

    def template_vars(self, rate_hz: float | None = None) -> dict[str, Any]:
        """The variables available to step templates at this rate."""
        rate = self._check_rate(rate_hz)
        out: dict[str, Any] = {"rate": _num(rate), "mag": 1 if "mag" in self.channels else 0}
        out.update({k: _num(v) for k, v in self.ranges.items()})
        out.update({k: v for k, v in self.codec_params.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)})
        out.update(self._template_vars)
        for name, table in self._rate_vars.items():
            if _rate_key(rate) in table:
                out[name] = table[_rate_key(rate)]
        return out

    def start_steps(self, rate_hz: float | None = None) -> list[Step]:
        """The GATT operations that start streaming at ``rate_hz`` (default: ``default_rate_hz``)."""
        return [_build_step(self.path, f"start[{i}]", s, self.template_vars(rate_hz)) for i, s in enumerate(self._start)]

    def stop_steps(self) -> list[Step]:
        """The GATT operations that stop streaming."""
        return [_build_step(self.path, f"stop[{i}]", s, self.template_vars(None)) for i, s in enumerate(self._stop)]

    # ------------------------------------------------------------------ codec
    def codec_config(self) -> dict[str, Any]:
        """Parameters handed to the codec: ranges and channels, overridden by ``[codec_params]``."""
        cfg: dict[str, Any] = {"mag": "mag" in self.channels}
        if "acc_g" in self.ranges:
            cfg["acc_range_g"] = _num(self.ranges["acc_g"])
        if "gyr_dps" in self.ranges:
            cfg["gyr_range_dps"] = _num(self.ranges["gyr_dps"])
        if "mag_ut" in self.ranges:
            cfg["mag_range_ut"] = self.ranges["mag_ut"]
        cfg.update(self.codec_params)
        return cfg

    def make_decoder(self, rate_hz: float | None = None):
        """A new stateful decoder (``hipmon.codecs``) for one connection at ``rate_hz``."""
        from hipmon.codecs import codec_module

        return codec_module(self.codec).Decoder(self.codec_config(), self._check_rate(rate_hz))

    def make_encoder(self, rate_hz: float | None = None):
        """A new encoder producing this firmware's notifications at ``rate_hz``."""
        from hipmon.codecs import codec_module

        return codec_module(self.codec).Encoder(self.codec_config(), self._check_rate(rate_hz))

    def matches_name(self, local_name: str | None) -> bool:
        """True if an advertised local name matches one of ``advertised_names`` (glob, case-sensitive)."""
        if not local_name:
            return False
        return any(fnmatch.fnmatchcase(local_name, pat) for pat in self.advertised_names)


# ---------------------------------------------------------------------- loading


def profile_dir() -> Path:
    """The shipped profile directory (``$HIPMON_PROFILE_DIR`` overrides).

    A checkout (editable install) uses the repository's ``firmware_profiles/``;
    a wheel install uses the copy installed under ``<prefix>/share/hipmon/``.
    """
    env = os.environ.get("HIPMON_PROFILE_DIR")
    if env:
        return Path(env)
    in_repo = Path(hipmon.__file__).resolve().parents[2] / "firmware_profiles"
    installed = Path(sys.prefix) / "share" / "hipmon" / "firmware_profiles"
    return installed if not in_repo.is_dir() and installed.is_dir() else in_repo


def load_profile_file(path: Path | str) -> Profile:
    """Load and validate one TOML profile file."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ProfileError(path, None, f"cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(path, None, f"not valid TOML: {exc}") from None
    return _profile_from_doc(path, doc)


def load_profiles(extra_dirs: Iterable[Path | str] = ()) -> dict[str, Profile]:
    """All profiles of the shipped directory and ``extra_dirs``, by name (sorted).

    A later directory may not redefine a name already loaded (ProfileError).
    """
    dirs = [profile_dir(), *[Path(d) for d in extra_dirs]]
    out: dict[str, Profile] = {}
    for d in dirs:
        if not d.is_dir():
            raise ProfileError(d, None, "profile directory does not exist")
        for path in sorted(d.glob("*.toml")):
            prof = load_profile_file(path)
            if prof.name in out:
                raise ProfileError(path, "name", f"profile {prof.name!r} is already defined in {out[prof.name].path}")
            out[prof.name] = prof
    return dict(sorted(out.items()))


def get_profile(name: str, extra_dirs: Iterable[Path | str] = ()) -> Profile:
    """The profile called ``name``; ProfileError listing the known names if none."""
    profiles = load_profiles(extra_dirs)
    try:
        return profiles[name]
    except KeyError:
        raise ProfileError(None, None, f"no profile named {name!r}; known: {', '.join(profiles)}") from None


# ---------------------------------------------------------------------- validation

_KNOWN_KEYS = {
    "name", "codec", "description", "service_uuid", "characteristics", "advertised_names",
    "rates_hz", "default_rate_hz", "channels", "ranges", "time_source", "sensor_frame",
    "codec_params", "start", "stop", "template_vars", "rate_vars", "sources", "notes",
}


def _req(path: Path, doc: dict, key: str, kind: type | tuple[type, ...], what: str):
    if key not in doc:
        raise ProfileError(path, key, "missing")
    value = doc[key]
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ProfileError(path, key, f"must be {what}, got {value!r}")
    return value


def _profile_from_doc(path: Path, doc: dict[str, Any]) -> Profile:
    unknown = set(doc) - _KNOWN_KEYS
    if unknown:
        raise ProfileError(path, sorted(unknown)[0], f"unknown field (known: {', '.join(sorted(_KNOWN_KEYS))})")
    name = _req(path, doc, "name", str, "a string")
    if not _NAME_RE.match(name):
        raise ProfileError(path, "name", f"{name!r} must be lower case letters, digits, '-', '_' or '.'")
    codec = _req(path, doc, "codec", str, "a string")
    from hipmon.codecs import CODEC_MODULES, CodecParamError, codec_module

    if codec not in CODEC_MODULES:
        raise ProfileError(path, "codec", f"unknown codec {codec!r}; known: {', '.join(sorted(CODEC_MODULES))}")
    description = _req(path, doc, "description", str, "a string")
    service_uuid = _req(path, doc, "service_uuid", str, "a UUID string")
    if not _UUID_RE.match(service_uuid):
        raise ProfileError(path, "service_uuid", f"{service_uuid!r} is not a 128-bit UUID (8-4-4-4-12 hex digits)")
    chars = _req(path, doc, "characteristics", dict, "a table of role = UUID")
    if "data" not in chars:
        raise ProfileError(path, "characteristics.data", "missing (the notify characteristic carrying samples)")
    for role, uuid in chars.items():
        if not isinstance(uuid, str) or not _UUID_RE.match(uuid):
            raise ProfileError(path, f"characteristics.{role}", f"{uuid!r} is not a 128-bit UUID")
    names = _req(path, doc, "advertised_names", list, "a list of glob patterns")
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ProfileError(path, "advertised_names", "must be a non-empty list of non-empty strings")
    rates = _req(path, doc, "rates_hz", list, "a list of numbers")
    if not rates or not all(isinstance(r, (int, float)) and not isinstance(r, bool) and r > 0 for r in rates):
        raise ProfileError(path, "rates_hz", f"must be a non-empty list of positive numbers, got {rates!r}")
    rates = [float(r) for r in rates]
    default = _req(path, doc, "default_rate_hz", (int, float), "a number")
    if float(default) not in rates:
        raise ProfileError(path, "default_rate_hz", f"{default} is not one of rates_hz {_fmt_rates(rates)}")
    channels = _req(path, doc, "channels", list, "a list")
    if not channels or any(c not in VALID_CHANNELS for c in channels) or len(set(channels)) != len(channels):
        raise ProfileError(path, "channels", f"must be distinct names from {VALID_CHANNELS}, got {channels!r}")
    if "acc" not in channels or "gyr" not in channels:
        raise ProfileError(path, "channels", "hipmon needs at least 'acc' and 'gyr'")
    ranges = doc.get("ranges", {})
    if not isinstance(ranges, dict):
        raise ProfileError(path, "ranges", "must be a table")
    for key, value in ranges.items():
        if key not in ("acc_g", "gyr_dps", "mag_ut"):
            raise ProfileError(path, f"ranges.{key}", "unknown range (use acc_g, gyr_dps, mag_ut)")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ProfileError(path, f"ranges.{key}", f"must be a positive number, got {value!r}")
    time_source = _req(path, doc, "time_source", str, "a string")
    if time_source not in VALID_TIME_SOURCES:
        raise ProfileError(path, "time_source", f"must be one of {VALID_TIME_SOURCES}, got {time_source!r}")
    sensor_frame = _req(path, doc, "sensor_frame", str, "a string")
    codec_params = doc.get("codec_params", {})
    if not isinstance(codec_params, dict):
        raise ProfileError(path, "codec_params", "must be a table")
    template_vars = doc.get("template_vars", {})
    if not isinstance(template_vars, dict):
        raise ProfileError(path, "template_vars", "must be a table")
    rate_vars = doc.get("rate_vars", {})
    if not isinstance(rate_vars, dict) or not all(isinstance(t, dict) for t in rate_vars.values()):
        raise ProfileError(path, "rate_vars", "must be a table of tables (rate_vars.NAME.\"RATE\" = value)")
    for vname, table in rate_vars.items():
        for rate in rates:
            if _rate_key(rate) not in table:
                raise ProfileError(path, f"rate_vars.{vname}", f"no value for rate {_rate_key(rate)} Hz")
    sources = doc.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise ProfileError(path, "sources", "must be a list of strings")
    notes = doc.get("notes", "")
    if not isinstance(notes, str):
        raise ProfileError(path, "notes", "must be a string")

    prof = Profile(
        name=name, codec=codec, description=description, service_uuid=service_uuid.lower(),
        characteristics={k: v.lower() for k, v in chars.items()}, advertised_names=list(names),
        rates_hz=rates, default_rate_hz=float(default), channels=list(channels),
        ranges={k: float(v) for k, v in ranges.items()}, time_source=time_source,
        sensor_frame=sensor_frame, codec_params=dict(codec_params), sources=list(sources),
        notes=notes, path=path, _template_vars=dict(template_vars), _rate_vars=dict(rate_vars),
    )
    for key in ("start", "stop"):
        steps = doc.get(key, [])
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise ProfileError(path, key, "must be an array of tables ([[start]] ...)")
        if key == "start" and not steps:
            raise ProfileError(path, "start", "a profile needs at least one start step")
        for i, s in enumerate(steps):
            role = s.get("char", "")
            if s.get("op") != "wait" and role not in chars:
                raise ProfileError(path, f"{key}[{i}].char", f"role {role!r} is not in [characteristics]")
        setattr(prof, f"_{key}", list(steps))
    # build every step at every rate once, so template errors show at load time
    for rate in rates:
        prof.start_steps(rate)
    prof.stop_steps()
    try:
        codec_module(codec).validate_params(prof.codec_config())
    except CodecParamError as exc:
        raise ProfileError(path, f"codec_params.{exc.field}", str(exc).split(": ", 1)[-1]) from None
    return prof


def _build_step(path: Path | None, where: str, spec: dict[str, Any], variables: dict[str, Any]) -> Step:
    unknown = set(spec) - {"op", "char", "data", "response", "seconds"}
    if unknown:
        raise ProfileError(path, f"{where}.{sorted(unknown)[0]}", "unknown step field (op, char, data, response, seconds)")
    op = spec.get("op")
    if op not in VALID_OPS:
        raise ProfileError(path, f"{where}.op", f"must be one of {VALID_OPS}, got {op!r}")
    response = spec.get("response", True)
    if not isinstance(response, bool):
        raise ProfileError(path, f"{where}.response", "must be true or false")
    if op == "wait":
        seconds = spec.get("seconds")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= 30:
            raise ProfileError(path, f"{where}.seconds", f"wait needs seconds in 0..30, got {seconds!r}")
        return Step("wait", "", b"", False, float(seconds))
    role = spec.get("char")
    if not isinstance(role, str):
        raise ProfileError(path, f"{where}.char", "missing characteristic role")
    data = b""
    if op == "write":
        template = spec.get("data")
        if not isinstance(template, str) or not template.strip():
            raise ProfileError(path, f"{where}.data", "a write step needs data (hex/template string)")
        data = render_template(template, variables, path, f"{where}.data")
    elif "data" in spec:
        raise ProfileError(path, f"{where}.data", f"only write steps carry data (op is {op})")
    return Step(op, role, data, response)


_INT_FORMATS = {"u8": "<B", "u16le": "<H", "u32le": "<I", "i16le": "<h", "i8": "<b", "i32le": "<i"}


def render_template(template: str, variables: dict[str, Any], path: Path | None = None, where: str = "data") -> bytes:
    """Render a step data template to bytes (grammar in the module docstring)."""
    try:
        text = re.sub(r"\{(\w+)\}", lambda m: str(variables[m.group(1)]), template)
    except KeyError as exc:
        raise ProfileError(path, where, f"unknown template variable {exc.args[0]!r}; known: {', '.join(sorted(variables))}") from None
    out = bytearray()
    for token in text.split():
        kind, sep, value = token.partition(":")
        try:
            if not sep:
                if len(token) % 2 or not re.fullmatch(r"[0-9a-fA-F]+", token):
                    raise ValueError(f"{token!r} is not hex bytes")
                out += bytes.fromhex(token)
            elif kind in _INT_FORMATS:
                number = float(value) if re.fullmatch(r"-?\d+\.0*", value) else int(value, 0)
                if isinstance(number, float):
                    number = int(number)
                out += struct.pack(_INT_FORMATS[kind], number)
            elif kind == "f32le":
                out += struct.pack("<f", float(value))
            elif kind == "ascii":
                out += value.encode("ascii")
            else:
                raise ValueError(f"unknown token kind {kind!r}")
        except (ValueError, struct.error) as exc:
            raise ProfileError(path, where, f"bad token {token!r}: {exc}") from None
    return bytes(out)


def _num(value: float) -> int | float:
    """An int when the float is integral (so templates render '104', not '104.0')."""
    return int(value) if float(value).is_integer() else float(value)


def _rate_key(rate: float) -> str:
    return str(_num(rate))


def _fmt_rates(rates: list[float]) -> str:
    return ", ".join(str(_num(r)) for r in rates)
