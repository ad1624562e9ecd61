"""``hipmon decode``: Decode hex notifications (one per line, FILE or stdin) with a firmware profile to a samples CSV."""

from __future__ import annotations

import argparse
import sys

HELP = "Decode hex notifications (one per line, FILE or stdin) with a firmware profile to a samples CSV."

EPILOG = """\
Input: one notification per line as hex ("55 61 1a 00 ...", "5561...", "0x55,0x61,..."
all work); blank lines and lines starting with # are skipped. For Polar, control point
responses (lines starting F0) may be mixed in: their FACTOR updates the scaling.
Output (stdout): CSV with header sample_time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z
(+ mag_x,mag_y,mag_z when the profile streams a magnetometer), in s, m/s^2, rad/s, uT;
sample_time_s is the sensor's own time (or count / nominal rate where it sends none).
Bad lines are reported on stderr with their line number and the error, counted and
skipped; a summary goes to stderr. Exit status: 0 if every line decoded, 1 if any line
failed (or the profile/file is unusable)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("profile", metavar="PROFILE", help="firmware profile name (see `hipmon profiles`)")
    parser.add_argument("file", metavar="FILE", nargs="?", help="file of hex notifications (default: stdin)")
    parser.add_argument("--rate", type=float, default=None, help="sample rate in Hz (default: the profile's default)")
    parser.add_argument("--profile-dir", action="append", default=[], metavar="DIR",
                        help="also load the profiles of DIR")


def parse_hex_line(line: str) -> bytes:
    """Bytes of one hex line; accepts spaces, ':', ',', '-' separators and 0x prefixes."""
    text = line.strip().replace("0x", "").replace("0X", "")
    for sep in (" ", ":", ",", "-", "\t"):
        text = text.replace(sep, "")
    if not text:
        raise ValueError("empty line")
    if len(text) % 2:
        raise ValueError(f"odd number of hex digits ({len(text)})")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("not hexadecimal") from None


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError
    from hipmon.codecs import DecodeError
    from hipmon.profiles import ProfileError, get_profile

    try:
        profile = get_profile(args.profile, args.profile_dir)
        decoder = profile.make_decoder(args.rate)
    except ProfileError as exc:
        raise CommandError(str(exc)) from None
    if args.file:
        try:
            stream = open(args.file, encoding="utf-8", errors="replace")
        except OSError as exc:
            raise CommandError(f"{args.file}: {exc.strerror or exc}") from None
        name = args.file
    else:
        stream = sys.stdin
        name = "<stdin>"
    has_mag = "mag" in profile.channels
    cols = ["sample_time_s", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
    if has_mag:
        cols += ["mag_x", "mag_y", "mag_z"]
    out = sys.stdout
    out.write(",".join(cols) + "\n")
    failed = lines = samples = 0
    handle_control = getattr(decoder, "handle_control", None)

    def emit(block) -> int:
        parts = [block.time_sensor_s[:, None], block.acc_sensor, block.gyr_sensor]
        if has_mag:
            parts.append(block.mag_sensor)
        import numpy as np

        rows = np.concatenate(parts, axis=1)
        for r in rows:
            out.write(f"{r[0]:.6f}," + ",".join(f"{v:.6g}" for v in r[1:]) + "\n")
        return rows.shape[0]

    try:
        for lineno, line in enumerate(stream, start=1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            lines += 1
            try:
                data = parse_hex_line(s)
            except ValueError as exc:
                failed += 1
                print(f"{name}:{lineno}: not a hex notification: {exc}", file=sys.stderr)
                continue
            try:
                if handle_control is not None and data[:1] == b"\xf0":
                    handle_control(data)
                    continue
                block = decoder.feed(data)
            except DecodeError as exc:
                failed += 1
                print(f"{name}:{lineno}: {exc}", file=sys.stderr)
                continue
            if block is not None:
                samples += emit(block)
    finally:
        if stream is not sys.stdin:
            stream.close()
    lost = decoder.stats.samples_lost
    print(f"hipmon decode: {lines} notifications, {samples} samples, {failed} bad lines"
          + (f", {lost} samples lost per the sensor's counters/times" if lost else ""), file=sys.stderr)
    return 1 if failed else 0
