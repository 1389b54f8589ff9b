"""The ``airkit`` command: a thin argparse front over the toolkit's modules.

Each command module exposes ``register(subparsers)``, adding its sub-command
with ``func=handler(args) -> exit code``. User errors (``UserError``) end in one
clear line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from airkit import __version__
from airkit.errors import UserError

# Modules that add sub-commands, in the order they appear in --help.
COMMAND_MODULES = [
    "airkit.simcmd",
    "airkit.pmscmd",
    "airkit.buildcmd",
    "airkit.calibrate.cli",
    "airkit.ports",
    "airkit.flash",
    "airkit.deploy",
    "airkit.configcmd",
    "airkit.doctor",
    "airkit.monitor",
    "airkit.provision",
    "airkit.collect",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airkit",
        description="Flash, deploy, test, simulate and calibrate PMS5003 + DHT22 air-quality stations.",
    )
    parser.add_argument("--version", action="version", version="airkit " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:      # a command module not present in this build
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print("airkit: " + str(e), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("airkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
