"""Raw IMU CSV files (DESIGN.md section 4) -> session files.

```
time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z[,mag_x,mag_y,mag_z]
```
Header row required; ``time_s`` in seconds on a clock common to all files of a
session (need not start at 0 nor be evenly spaced, must increase strictly);
acc m/s², gyr rad/s, mag µT; every value finite.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from hipmon.types import PLACEMENTS, ImuBlock

from ._common import RecordingError
from .schema import CSV_IMPORT_PROFILE

REQUIRED_COLUMNS: tuple[str, ...] = ("time_s", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
MAG_COLUMNS: tuple[str, ...] = ("mag_x", "mag_y", "mag_z")


class CsvFormatError(RecordingError):
    """A CSV that breaks DESIGN section 4; the message names file, line and problem."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}" if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {problem}")


@dataclass
class ImuCsv:
    """One parsed CSV: ``block.time_sensor_s`` is the file's ``time_s`` (s);
    ``ignored_columns``: header names that are not part of the format."""

    path: Path
    block: ImuBlock
    ignored_columns: list[str]
    #: plausibility findings (``hipmon.plausibility.Finding``) about this file, set by ``import_csv_session``
    findings: list = field(default_factory=list)

    @property
    def rate_hz(self) -> float:
        """Sample rate from the median time step (Hz)."""
        dt = np.diff(self.block.time_sensor_s)
        return float(1.0 / np.median(dt)) if len(dt) else float("nan")


def read_imu_csv(path: str | os.PathLike[str]) -> ImuCsv:
    """Parse and validate one raw IMU CSV (raises :class:`CsvFormatError`)."""
    path = Path(path)
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CsvFormatError(path, None, f"cannot open: {exc.strerror or exc}") from exc
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            while header is not None and not any(c.strip() for c in header):
                header = next(reader, None)
            if header is None:
                raise CsvFormatError(path, None, "empty file (a header row is required)")
            header_line = reader.line_num
            names = [c.strip() for c in header]
            if names and _is_number(names[0]):
                raise CsvFormatError(
                    path, header_line, f"missing header row (expected {','.join(REQUIRED_COLUMNS)}[,mag_x,mag_y,mag_z])"
                )
            seen: dict[str, int] = {}
            for i, name in enumerate(names):
                if name in seen:
                    raise CsvFormatError(path, header_line, f"column {name!r} appears twice")
                seen[name] = i
            missing = [c for c in REQUIRED_COLUMNS if c not in seen]
            if missing:
                raise CsvFormatError(path, header_line, f"missing column(s) {', '.join(missing)} in the header")
            mag_present = [c for c in MAG_COLUMNS if c in seen]
            if mag_present and len(mag_present) != 3:
                raise CsvFormatError(
                    path, header_line, f"mag columns must be all of mag_x,mag_y,mag_z or none (found {','.join(mag_present)})"
                )
            wanted = list(REQUIRED_COLUMNS) + (list(MAG_COLUMNS) if mag_present else [])
            cols = [seen[c] for c in wanted]
            ignored = [n for n in names if n not in wanted]
            ncols = len(names)
            values: list[list[float]] = []
            lines: list[int] = []
            prev_t = -math.inf
            prev_line = header_line
            for row in reader:
                if not row or not any(c.strip() for c in row):
                    continue
                line = reader.line_num
                if len(row) != ncols:
                    raise CsvFormatError(path, line, f"{len(row)} fields, the header has {ncols}")
                vals = []
                for name, c in zip(wanted, cols):
                    text = row[c].strip()
                    try:
                        v = float(text)
                    except ValueError:
                        raise CsvFormatError(path, line, f"{name} is {text!r}, not a number") from None
                    if not math.isfinite(v):
                        raise CsvFormatError(path, line, f"{name} is {text!r}, not a finite number")
                    vals.append(v)
                if vals[0] <= prev_t:
                    raise CsvFormatError(
                        path,
                        line,
                        f"time_s {vals[0]!r} does not increase (line {prev_line} has {prev_t!r})",
                    )
                prev_t, prev_line = vals[0], line
                values.append(vals)
                lines.append(line)
        except csv.Error as exc:
            raise CsvFormatError(path, reader.line_num, f"malformed CSV: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise CsvFormatError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if len(values) < 2:
        raise CsvFormatError(path, None, f"{len(values)} data row(s): at least 2 samples are needed")
    a = np.asarray(values, dtype=np.float64)
    block = ImuBlock(
        time_sensor_s=a[:, 0].copy(),
        acc_sensor=a[:, 1:4].copy(),
        gyr_sensor=a[:, 4:7].copy(),
        mag_sensor=a[:, 7:10].copy() if mag_present else None,
    )
    return ImuCsv(path, block, ignored)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def import_csv_session(
    files: Mapping[str, str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    metadata: Mapping[str, object] | None = None,
    overwrite: bool = False,
    check: bool = True,
) -> dict[str, ImuCsv]:
    """Import one CSV per placement into a new session file, atomically.

    ``files``: placement -> CSV path, all three of ``hipmon.types.PLACEMENTS``, or
    the pelvis alone (a sacrum-only session: pelvis angles, contacts, pelvic drop).
    Each becomes a sensor ``sensor_id == placement`` with profile
    ``csv-import``, its rate the median step's, its samples stored as is
    (session time = the CSV's ``time_s``). Timestamp steps of more than 1.5
    median steps are stored as gaps (reason ``import``). Every file is parsed
    and validated before anything is written; the output appears only
    complete (written to a temporary file, renamed at the end).
    ``check``: plausibility (``hipmon.plausibility``): certain unit fixes are applied,
    swapped thigh files exchanged, each said in the files' ``findings`` and recorded in
    the metadata (``import_warnings``, ``import_conversions``); clocks that do not
    overlap raise :class:`RecordingError`.
    """
    from hipmon.sync import detect_gaps

    from .writer import SessionWriter

    missing = [p for p in PLACEMENTS if p not in files]
    unknown = [p for p in files if p not in PLACEMENTS]
    if missing == ["left_thigh", "right_thigh"] and not unknown:
        missing = []  # the pelvis alone
    if missing or unknown:
        raise ValueError(
            f"need exactly the placements {', '.join(PLACEMENTS)} (or pelvis alone)"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
        )
    output = Path(output)
    if output.exists() and not overwrite:
        raise RecordingError(f"{output}: already exists (use --force to replace it)")
    present = [p for p in PLACEMENTS if p in files]
    parsed = {p: read_imu_csv(files[p]) for p in present}
    if check:
        from hipmon import plausibility

        blocks, findings = plausibility.check_session({p: c.block for p, c in parsed.items()},
                                                      {p: str(c.path) for p, c in parsed.items()})
        for f in findings:
            if f.error:
                raise RecordingError(f.line())
        for p, c in parsed.items():
            c.block = blocks[p]
            c.findings = [f for f in findings if f.placement == p]
        if len(parsed) == 3:
            swap, mirrored = plausibility.sensor_sides({p: c.block for p, c in parsed.items()})
            for p, why in mirrored.items():
                parsed[p].findings.append(plausibility.Finding(p, str(parsed[p].path), "mirrored", why))
            if swap is not None:
                parsed["left_thigh"], parsed["right_thigh"] = parsed["right_thigh"], parsed["left_thigh"]
                for p in ("left_thigh", "right_thigh"):
                    parsed[p].findings.append(plausibility.Finding(
                        p, str(parsed[p].path), "thighs_swapped",
                        f"given as the {'right' if p == 'left_thigh' else 'left'} thigh, but it is on the "
                        f"{p.replace('_', ' ')} ({swap}); imported as the {p.replace('_', ' ')}", converted=True))
    files = {p: str(c.path) for p, c in parsed.items()}
    meta = {
        "source": "csv-import",
        "import_files": {p: str(Path(files[p]).resolve()) for p in present},
    }
    notes = [f.line() for c in parsed.values() for f in c.findings]
    if notes:
        meta["import_warnings"] = notes
        meta["import_conversions"] = {p: [f.kind for f in c.findings if f.converted]
                                      for p, c in parsed.items() if any(f.converted for f in c.findings)}
    meta.update(dict(metadata or {}))
    with SessionWriter(output, meta, origin_ns=0, overwrite=overwrite, background=False, atomic=True) as w:
        for placement, csvf in parsed.items():
            w.add_sensor(
                placement,
                placement,
                CSV_IMPORT_PROFILE,
                csvf.rate_hz,
                address=str(csvf.path),
                extra={"columns_ignored": csvf.ignored_columns, "has_mag": csvf.block.mag_sensor is not None},
            )
            w.add_samples(placement, csvf.block)
            t = csvf.block.time_sensor_s
            for gap in detect_gaps(t, csvf.rate_hz, sensor_id=placement, reason="import"):
                w.add_gap(gap)
    return parsed
