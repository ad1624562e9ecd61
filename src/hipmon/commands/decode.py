"""``hipmon decode``: Decode hex notifications (one per line, FILE or stdin) with a firmware profile to a samples CSV."""

from __future__ import annotations

import argparse
import sys

HELP = "Decode hex notifications (one per line, FILE or stdin) with a firmware profile to a samples CSV."

EPILOG = """\
Options may come anywhere: `hipmon decode movesense-gsp --rate 104 cap.txt` works.
Input: one notification per line as hex ("55 61 1a 00 ...", "5561...", "0x55,0x61,..."
all work); blank lines and lines starting with # are skipped. For Polar, control point
responses (lines starting F0) may be mixed in: their FACTOR updates the scaling.
Output (stdout): CSV with header sample_time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z
(+ mag_x,mag_y,mag_z when the profile streams a magnetometer), in s, m/s^2, rad/s, uT;
sample_time_s is the sensor's own time (or count / nominal rate where it sends none).
--measurement acc|gyr|mag prints sample_time_s and that measurement's three columns;
for Polar, whose frames carry one measurement each, it decodes that measurement's
frames alone (a capture of ACC frames without GYRO frames) and skips the others.
Problems go to stderr, each with its line number(s): bad lines (not hex, or a
notification the codec rejects), and messages the codec dropped or could not
complete (a multi-part message missing a part, samples whose partner stream never
came); a summary line counts them. Exit status: 0 if everything decoded, 1 if any
line was bad or any message was dropped or incomplete, 2 if the command cannot run
(unknown profile, unreadable file, bad option)."""

MEASUREMENT_COLUMNS = {"acc": ["acc_x", "acc_y", "acc_z"], "gyr": ["gyr_x", "gyr_y", "gyr_z"],
                       "mag": ["mag_x", "mag_y", "mag_z"]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("profile", metavar="PROFILE", help="firmware profile name (see `hipmon profiles`)")
    parser.add_argument("file", metavar="FILE", nargs="?", help="file of hex notifications (default: stdin)")
    parser.add_argument("--rate", type=float, default=None, metavar="HZ",
                        help="sample rate in Hz (default: the profile's default)")
    parser.add_argument("--measurement", choices=sorted(MEASUREMENT_COLUMNS), default=None,
                        help="decode one measurement alone: sample_time_s and its three columns")
    parser.add_argument("--profile-dir", action="append", default=[], metavar="DIR",
                        help="also load the profiles of DIR")
    _options_anywhere(parser, "decode")


def _options_anywhere(parser: argparse.ArgumentParser, command: str) -> None:
    """Let options follow the positionals (``decode PROFILE --rate 104 FILE``) and make a
    usage error one line (DESIGN section 4), on this subcommand's parser only.

    argparse (3.11) fills PROFILE and the optional FILE from the first run of positionals,
    so a FILE after an option was refused; ``parse_known_intermixed_args`` parses options
    first, then the positionals. Leftover words are this command's error, not the top level's.
    """
    base = type(parser)
    busy = False

    def parse_known_args(args=None, namespace=None):
        nonlocal busy
        if busy:  # parse_known_intermixed_args calls parse_known_args itself
            return base.parse_known_args(parser, args, namespace)
        busy = True
        try:
            ns, extras = base.parse_known_intermixed_args(parser, args, namespace)
        finally:
            busy = False
        if extras:
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns, extras

    def error(message: str):
        parser.exit(2, f"hipmon {command}: {message} (see hipmon {command} --help)\n")

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]
    parser.error = error  # type: ignore[method-assign]


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


def line_ranges(lines: list[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``"3-5, 9"``."""
    runs: list[list[int]] = []
    for n in sorted(set(lines)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from hipmon.cli import CommandError
    from hipmon.codecs import DecodeError
    from hipmon.profiles import ProfileError, get_profile

    try:
        profile = get_profile(args.profile, args.profile_dir)
        decoder = profile.make_decoder(args.rate)
    except ProfileError as exc:
        raise CommandError(str(exc)) from None
    measurement = args.measurement
    if measurement is not None:
        if measurement not in profile.channels:
            raise CommandError(f"profile {profile.name!r} does not stream {measurement} "
                               f"(its channels: {', '.join(profile.channels)})")
        decoder.select_measurement(measurement)
    if args.file:
        try:
            stream = open(args.file, encoding="utf-8", errors="replace")
        except OSError as exc:
            raise CommandError(f"{args.file}: {exc.strerror or exc}") from None
        name = args.file
    else:
        stream = sys.stdin
        name = "<stdin>"
    if measurement is None:
        fields = ["acc", "gyr"] + (["mag"] if "mag" in profile.channels else [])
    else:
        fields = [measurement]
    cols = ["sample_time_s"] + [c for f in fields for c in MEASUREMENT_COLUMNS[f]]
    out = sys.stdout
    failed = lines = samples = 0
    packet_lines: list[int] = []  # decoder packet index -> line number
    dropped: list[tuple[list[int], str, int | None]] = []

    def emit(block) -> int:
        parts = [block.time_sensor_s[:, None]] + [getattr(block, f"{f}_sensor") for f in fields]
        rows = np.concatenate(parts, axis=1)
        out.write("".join(f"{r[0]:.6f}," + ",".join(f"{v:.6g}" for v in r[1:]) + "\n" for r in rows))
        return rows.shape[0]

    def report_dropped() -> None:
        for d in decoder.take_dropped():
            where = [packet_lines[p] for p in d.packets if 0 <= p < len(packet_lines)]
            dropped.append((where, d.reason, d.samples))
            what = f" ({d.samples} samples)" if d.samples else ""
            print(f"{name}:{line_ranges(where) if where else '?'}: {d.reason}{what}", file=sys.stderr)

    try:
        out.write(",".join(cols) + "\n")
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
                if decoder.is_control_message(data):
                    decoder.handle_control(data)
                    continue
                before = decoder.stats.packets
                try:
                    block = decoder.feed(data)
                finally:
                    packet_lines.extend([lineno] * (decoder.stats.packets - before))
            except DecodeError as exc:
                failed += 1
                print(f"{name}:{lineno}: {exc}", file=sys.stderr)
                report_dropped()
                continue
            if block is not None:
                samples += emit(block)
            report_dropped()
        block = decoder.finish()
        if block is not None and len(block):
            samples += emit(block)
        report_dropped()
    except UnicodeError as exc:  # stdin in a strict encoding
        raise CommandError(f"{name}: not a text file ({exc.reason})") from None
    finally:
        if stream is not sys.stdin:
            stream.close()
    lost = decoder.stats.samples_lost
    summary = f"hipmon decode: {lines} notifications, {samples} samples, {failed} bad lines"
    if dropped:
        all_lines = [n for where, _, _ in dropped for n in where]
        summary += (f", {len(dropped)} messages dropped or incomplete"
                    + (f" (lines {line_ranges(all_lines)})" if all_lines else ""))
    if lost:
        summary += f", {lost} samples lost (missing per the sensor's counters/times, or dropped unpaired)"
    if decoder.skipped_frames:
        summary += f", {decoder.skipped_frames} frames of other measurements skipped"
    print(summary, file=sys.stderr)
    if samples == 0 and dropped and measurement is None and decoder.one_stream_per_measurement:
        print(f"hipmon decode: nothing decoded; a capture of one measurement's frames decodes with "
              f"--measurement {'|'.join(f for f in MEASUREMENT_COLUMNS if f in profile.channels)}",
              file=sys.stderr)
    return 1 if failed or dropped else 0
