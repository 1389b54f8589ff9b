"""``airkit pms decode FILE``: decode a raw PMS5003 byte capture on the desk.

Uses the firmware's own decoder (``airkit_fw.pms5003``), so what the board
accepts and what the desk accepts are the same frames.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from airkit.errors import InputError, UserError


def register(sub):
    p = sub.add_parser("pms", help="PMS5003 tools (decode a raw serial capture)")
    psub = p.add_subparsers(dest="pms_command", metavar="ACTION")
    d = psub.add_parser("decode", help="decode a raw byte capture (e.g. from a USB-serial adapter at 9600 baud)")
    d.add_argument("file", help="raw capture file ('-' for standard input)")
    d.add_argument("--json", action="store_true", help="one JSON object per accepted frame")
    d.add_argument("--out", "-o", metavar="FILE", help="write the frames to FILE (default: standard output)")
    d.add_argument("--force", action="store_true", help="overwrite --out when it exists")
    d.set_defaults(func=decode)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def read_capture(name: str) -> bytes:
    if name == "-":
        if sys.stdin.isatty():
            raise InputError("'-' reads the capture from standard input, but nothing is piped in: give a file, "
                             "or pipe one in (airkit pms decode - < capture.bin)")
        data = sys.stdin.buffer.read()
        if not data:
            raise InputError("nothing came in on standard input: pipe a capture in (airkit pms decode - < capture.bin)")
        return data
    try:
        data = Path(name).read_bytes()
    except FileNotFoundError:
        raise UserError("capture file %s does not exist: check the path" % name)
    except IsADirectoryError:
        raise UserError("%s is a folder, not a capture file" % name)
    except OSError as e:
        raise UserError("cannot read capture file %s (%s)" % (name, e.strerror))
    if not data:
        raise InputError("capture file %s is empty: capture the sensor's TX pin at 9600 baud for a few seconds "
                         "(e.g. examples/pms-capture.bin shows what one looks like)" % name)
    return data


def decode(args) -> int:
    from airkit_fw.pms5003 import FrameDecoder, KEYS, iter_frames

    import contextlib

    from airkit.outfile import check_file

    dest = check_file(args.out, force=args.force) if getattr(args, "out", None) else None
    data = read_capture(args.file)
    dec = FrameDecoder()
    n = 0
    with (dest.open("w") if dest else contextlib.nullcontext(sys.stdout)) as sink:
        for frame in iter_frames(data, dec):
            n += 1
            if args.json:
                sink.write(json.dumps({k: frame[k] for k in KEYS}) + "\n")
            else:
                sink.write("PM1 %4d  PM2.5 %4d  PM10 %4d (CF=1)   PM1 %4d  PM2.5 %4d  PM10 %4d (atm)   >0.3um %5d\n"
                           % tuple(frame[k] for k in KEYS[:7]))
        if n == 0 and dest:
            raise UserError("no valid PMS5003 frame in %s (%d bytes): was it captured at 9600 baud from the "
                            "sensor's TX pin? (%s not written)" % (args.file, len(data), args.out))
    summary = {"frames_accepted": dec.frames, "checksum_failures": dec.checksum_errors,
               "bytes_skipped": dec.bytes_skipped, "unsupported_frames": dec.unsupported_frames,
               "bytes_total": len(data)}
    if n and args.json:
        print(json.dumps(summary), file=sys.stderr)
    elif n:
        print(
"%(frames_accepted)d frames accepted, %(checksum_failures)d checksum failures, "
              "%(bytes_skipped)d bytes skipped (of %(bytes_total)d)" % summary, file=sys.stderr)
    if dec.unsupported_frames:
        print("note: %d frames of another Plantower model (frame length %d bytes) were seen; "
              "only the PMS5003/7003/A003 32-byte frame is decoded" % (dec.unsupported_frames, dec.unsupported_length),
              file=sys.stderr)
    if dec.unknown_lengths:
        print("note: %d frame headers had a length no supported model uses (last: %d)%s"
              % (dec.unknown_lengths, dec.unknown_length,
                 "; with no valid frame this looks like an unsupported sensor model" if n == 0 else ""),
              file=sys.stderr)
    if n == 0:
        raise UserError("no valid PMS5003 frame in %s (%d bytes): was it captured at 9600 baud from the sensor's TX pin?"
                        % (args.file, len(data)))
    return 0
