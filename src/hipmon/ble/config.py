"""Session configuration: which sensor goes where (TOML file and command-line flags).

```toml
# session.toml
profile = "movesense-imu6"      # default for every sensor
rate_hz = 208                   # default for every sensor

[[sensor]]
placement = "pelvis"
address = "0C:8C:DC:11:22:33"   # either an address ...

[[sensor]]
placement = "left_thigh"
name = "Movesense 2046*"        # ... or a glob on the advertised name
profile = "movesense-imu9"      # per-sensor override
rate_hz = 104
```

Flags (``--profile``, ``--rate``) override the file's top-level defaults.

A session has the three sensors, or one on the sacrum alone (``placement = "pelvis"``
only: pelvis angles, initial contacts with their side, pelvic drop; the hip angles
need both thighs, ``hipmon.pipeline.measurable``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hipmon.types import PLACEMENTS, SensorSpec


class ConfigError(ValueError):
    """A bad session configuration; the message names the file and the field."""


@dataclass
class SessionConfig:
    sensors: list[SensorSpec] = field(default_factory=list)


def load_config(
    path: str | Path, profile: str | None = None, rate_hz: float | None = None
) -> SessionConfig:
    """Read a session TOML file; ``profile``/``rate_hz`` (flags) override its defaults."""
    import tomllib

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: a directory, not a session configuration file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_dict(doc, str(path), profile, rate_hz, text=text)


def _line_of(text: str | None, table_index: int | None, key: str | None) -> str:
    """", line N" of ``key`` in the ``table_index``-th ``[[sensor]]`` table of ``text`` (or of the table
    itself, or of a top-level key), "" when the text is not known."""
    if text is None:
        return ""
    lines = text.splitlines()
    start, end = 0, len(lines)
    if table_index is not None:
        heads = [i for i, ln in enumerate(lines) if ln.strip().replace(" ", "") == "[[sensor]]"]
        if table_index >= len(heads):
            return ""
        start = heads[table_index]
        end = heads[table_index + 1] if table_index + 1 < len(heads) else len(lines)
    if key is not None:
        for i in range(start, end):
            if lines[i].split("=")[0].strip() == key:
                return f", line {i + 1}"
    return f", line {start + 1}" if table_index is not None else ""


def config_from_dict(
    doc: dict[str, Any], where: str = "config", profile: str | None = None, rate_hz: float | None = None,
    text: str | None = None,
) -> SessionConfig:
    """Sensors of a session configuration; ``text``: the TOML it came from (errors then name the line)."""
    from hipmon.profiles import ProfileError, get_profile

    default_profile = profile or doc.get("profile")
    default_rate = rate_hz if rate_hz is not None else doc.get("rate_hz")
    entries = doc.get("sensor")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: needs at least one [[sensor]] table")
    sensors: list[SensorSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        def at(key: str | None = None, i: int = i) -> str:
            return f"{where}{_line_of(text, i, key)}: sensor[{i}]" + (f".{key}" if key else "")

        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: sensor must be [[sensor]] tables, not {type(entry).__name__}")
        unknown = set(entry) - {"placement", "profile", "rate_hz", "address", "name", "id"}
        if unknown:
            raise ConfigError(f"{at(sorted(unknown)[0])}: unknown field(s) {', '.join(sorted(unknown))}")
        placement = entry.get("placement")
        if placement not in PLACEMENTS:
            raise ConfigError(f"{at('placement')}: must be one of {', '.join(PLACEMENTS)}, not {placement!r}")
        if placement in seen:
            raise ConfigError(f"{at('placement')}: {placement} is assigned twice")
        seen.add(placement)
        prof = (profile or entry.get("profile") or default_profile)
        if not prof:
            raise ConfigError(f"{at('profile')}: no profile (set it here, at the top level, or with --profile)")
        try:
            known = get_profile(str(prof))
        except (ProfileError, KeyError) as exc:
            key = "profile" if "profile" in entry else None
            raise ConfigError(f"{at(key)}: {exc}") from None
        address, name = entry.get("address"), entry.get("name")
        if not address and not name:
            raise ConfigError(f"{at()}: give an address or a name pattern")
        rate = rate_hz if rate_hz is not None else entry.get("rate_hz", default_rate)
        if rate is not None and (not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0):
            key = "rate_hz" if "rate_hz" in entry else None
            line = _line_of(text, None, "rate_hz") if key is None else ""
            raise ConfigError(f"{at(key)}{line}: rate_hz must be a positive number, not {rate!r}")
        if rate is not None and float(rate) not in [float(r) for r in known.rates_hz]:
            raise ConfigError(f"{at('rate_hz' if 'rate_hz' in entry else None)}: {prof} streams at "
                              f"{', '.join(f'{r:g}' for r in known.rates_hz)} Hz, not {rate:g}")
        sensors.append(
            SensorSpec(str(entry.get("id") or placement), placement, str(prof), None if rate is None else float(rate),
                       address, name)
        )
    check_placements([s.placement for s in sensors], where)
    return SessionConfig(sensors)


def check_placements(placements: list[str] | tuple[str, ...], where: str = "config") -> None:
    """All three placements, or the pelvis alone; ConfigError naming what is missing otherwise."""
    have = set(placements)
    if have == set(PLACEMENTS) or have == {"pelvis"}:
        return
    missing = [p for p in PLACEMENTS if p not in have]
    raise ConfigError(f"{where}: no sensor for {', '.join(missing)}: give all three placements "
                      f"({', '.join(PLACEMENTS)}), or the pelvis alone (one sensor on the sacrum)")
