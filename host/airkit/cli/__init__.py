"""The ``airkit`` command (the ``airkit.cli`` package): a thin argparse front over the library.

It parses, calls the library, prints: no job's logic lives here (the library is
``airkit.api``, ``airkit.provision.provision_class``, ``airkit.calibrate.pipeline``,
``airkit.deploy``, ``airkit.doctor``, ...).

Each command module exposes ``register(subparsers)``, adding its sub-command
with ``func=handler(args) -> exit code``. The parser is built lazily: the
table below gives every command's module and one-line help, ``--help`` lists
the table, and only the module of the command being run is imported (so
``airkit --help`` and ``airkit ports`` never load pandas, numpy or esptool).
Errors from ``airkit.errors`` end in one line on stderr and the exit code of
their class, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from airkit import __version__
from airkit.errors import AirkitError, InputError

# command -> (module with register(), one-line help), in the order --help lists them.
COMMANDS = {
    "sim": ("airkit.simcmd", "run the firmware on a virtual board (simulated sensors and time)"),
    "pms": ("airkit.pmscmd", "PMS5003 tools (decode a raw serial capture)"),
    "build": ("airkit.buildcmd", "compile the firmware to .mpy (mpy-cross)"),
    "calibrate": ("airkit.calibrate.cli", "fit, validate, report and push a sensor correction"),
    "ports": ("airkit.ports", "list serial ports, which chip each is, and why one cannot be used"),
    "flash": ("airkit.flash", "install MicroPython on a board (esptool), image checked by SHA-256"),
    "deploy": ("airkit.deploy", "copy the firmware and config to a board, verified by hash"),
    "config": ("airkit.configcmd", "create, edit, show and validate station configs"),
    "doctor": ("airkit.doctor", "test a board and its sensors; a pass/fail line and remedy per check"),
    "monitor": ("airkit.monitor", "live readings from a board (parsed, with a chart)"),
    "provision": ("airkit.provision", "flash, deploy, configure and test a class set of boards in parallel"),
    "collect": ("airkit.collect", "run a local collector for stations (Sensor.Community API, airkit JSON, MQTT)"),
    "release": ("airkit.release", "make a signing key, build and sign firmware releases for over-the-air updates"),
    "fleet": ("airkit.fleetcmd", "the stations' firmware and update states, from a collector serving releases"),
}


def chosen_command(argv: list[str]) -> str | None:
    """The command named on the command line (the first word that is not an option), if any."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def command_words(argv: list[str], args) -> str:
    """'airkit', the command and its sub-command as typed (e.g. 'airkit pms decode'), for messages."""
    words = ["airkit"]
    command = getattr(args, "command", None)
    if command in argv:
        words.append(command)
        rest = argv[argv.index(command) + 1:]
        subs = {v for k, v in vars(args).items() if k != "command" and k.endswith(("_command", "_cmd"))}
        if rest and rest[0] in subs:
            words.append(rest[0])
    return " ".join(words)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported, the others are listed from the table."""
    parser = argparse.ArgumentParser(
        prog="airkit",
        description="Flash, deploy, test, simulate and calibrate PMS5003 + DHT22 air-quality stations.",
        epilog="'airkit COMMAND --help' describes a command. Exit codes: 0 ok, 1 checks failed, 2 wrong input, "
               "3 board or port, 4 network, 5 would overwrite (use --force), 70 a bug in airkit (details saved "
               "to a file), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version="airkit " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (modname, helptext) in COMMANDS.items():
        if name != command:
            sub.add_parser(name, help=helptext, add_help=False)
            continue
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name == modname:      # a command module not present in this build
                raise InputError("the command '%s' is not part of this airkit installation" % name)
            raise
        module.register(sub)
    return parser


def one_line(e: AirkitError) -> str:
    msg = str(e).strip() or type(e).__name__
    remedy = getattr(e, "remedy", None)
    if remedy and remedy not in msg:
        msg = "%s: %s" % (msg.rstrip(".:;"), remedy)
    return "airkit: " + msg


BUG_EXIT = 70     # sysexits EX_SOFTWARE: airkit itself failed (a bug), never the user's doing


def save_bug_report(exc: BaseException, argv: list[str]) -> str | None:
    """The traceback of an unexpected exception, owner-only in the data folder (credentials in URLs
    masked); its path, or None when it cannot be written."""
    import os
    import re
    import time
    import traceback

    from airkit.files import data_dir

    text = "".join(traceback.format_exception(exc))
    words = " ".join(a for a in argv)
    body = "airkit %s, Python %s\ncommand: airkit %s\n\n%s" % (__version__, sys.version.split()[0], words, text)
    body = re.sub(r"(://)[^/@\s]+@", r"\1***@", body)                    # user:password@ in URLs
    body = re.sub(r"(?i)((?:password|token|secret|key)[\"']?\s*[=:]\s*)[^\s,;}\]]+", r"\1***", body)
    try:
        folder = data_dir() / "bugs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / ("airkit-bug-%s-%d.txt" % (time.strftime("%Y%m%d-%H%M%S"), os.getpid()))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(body)
        return str(path)
    except OSError:
        return None


def _output_gone():
    from airkit.monitor import quiet_stdout

    quiet_stdout()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(chosen_command(argv))
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            cmd = command_words(argv, args)
            raise InputError("'%s' does not know %s: see '%s --help'" % (cmd, " ".join(unknown), cmd))
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args) or 0)
    except AirkitError as e:
        print(one_line(e), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("airkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _output_gone()        # the reader of our output went away (airkit ... | head -1)
    except OSError as e:
        import errno

        from airkit.outfile import reason

        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):     # writing (files go through outfile: stdout)
            print("airkit: cannot write the output (%s): free some space or send it elsewhere" % reason(e),
                  file=sys.stderr)
            _output_gone()
            return 2
        return _bug(e, argv)
    except Exception as e:          # a bug in airkit: said as one, with where the details are
        return _bug(e, argv)


def _bug(e: BaseException, argv: list[str]) -> int:
    path = save_bug_report(e, argv)
    print("airkit: this is a bug in airkit, not something you did (%s); %s: please report it with that file"
          % (type(e).__name__, "the details are in %s" % path if path else "its details could not be saved"),
          file=sys.stderr)
    return BUG_EXIT
