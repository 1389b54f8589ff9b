"""``airkit config init|set|show|validate``: station configs checked against the firmware's schema.

Why this exists: a typo in a JSON file should be caught at the desk, not by a
board that then sits in safe mode. The schema is the firmware's own
(``airkit_fw.config``), so desk and board agree on every key; ``init --board``
fills the pins from the board profile; ``show`` never prints a secret.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from airkit.errors import UserError
from airkit.resources import config_from_profile, load_profile  # board profiles ship with the package


def parse_value(path: str, text: str):
    """A command-line value converted to the type the schema asks for."""
    from airkit_fw.config import SCHEMA

    if path not in SCHEMA:
        import difflib

        close = difflib.get_close_matches(path, list(SCHEMA), n=2, cutoff=0.7)
        hint = (" (did you mean %s?)" % ", ".join(close)) if close else ""
        raise UserError("unknown setting '%s'%s: see 'airkit config show --schema'" % (path, hint))
    kind = SCHEMA[path][0]
    if text in ("null", "none", ""):
        return None if kind not in ("str",) else ""
    try:
        if kind == "int":
            return int(text, 0)
        if kind == "float":
            return float(text)
        if kind == "bool":
            low = text.lower()
            if low in ("true", "yes", "on", "1"):
                return True
            if low in ("false", "no", "off", "0"):
                return False
            raise ValueError(text)
        if kind in ("list", "dict"):
            return json.loads(text)
    except ValueError:
        if kind in ("list", "dict"):  # JSON that may hold a token or a URL with a password: never echoed
            raise UserError("'%s' needs %s in JSON; what was given is not valid JSON" % (path, kind_words(kind)))
        raise UserError("'%s' needs %s; '%s' is not" % (path, kind_words(kind), "***" if _secret(path) else text))
    return text


def kind_words(kind):
    from airkit_fw.config import _KIND_WORDS

    return _KIND_WORDS[kind]


def _secret(path):
    from airkit_fw.config import _is_secret

    return _is_secret(path)


def read_config(path: str) -> dict:
    from airkit.files import load_json_file

    cfg = load_json_file(path, "config")
    if not isinstance(cfg, dict):
        raise UserError("config file %s must hold a JSON object ({...})" % path)
    return cfg


def write_config(path: str, cfg: dict):
    """Write-then-rename, like the board does."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    os.chmod(tmp, 0o600)      # it may hold a WiFi password
    os.replace(tmp, p)


def register(sub):
    p = sub.add_parser("config", help="create, edit, show and validate station configs",
                       description="Station configs checked against the firmware's own schema.")
    s = p.add_subparsers(dest="config_command", metavar="ACTION")
    i = s.add_parser("init", help="write a new config (pins from a board profile)")
    i.add_argument("file", help="config file to create")
    i.add_argument("--board", default="esp32-devkitc", help="board profile in boards/ (default esp32-devkitc)")
    i.add_argument("--device-id", help="station id")
    i.add_argument("--name", help="station name")
    i.add_argument("--force", action="store_true", help="overwrite an existing file")
    i.set_defaults(func=run_init)
    st = s.add_parser("set", help="set values: KEY=VALUE ... (e.g. wifi.ssid=school interval_s=600)")
    st.add_argument("file")
    st.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    st.set_defaults(func=run_set)
    sh = s.add_parser("show", help="print a config (secrets masked) from a file or a board")
    sh.add_argument("file", nargs="?", help="config file (or --port to read the board's)")
    sh.add_argument("--port", help="read /config.json from the board on this port")
    sh.add_argument("--schema", action="store_true", help="list every setting with its type and default")
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    sh.set_defaults(func=run_show)
    v = s.add_parser("validate", help="check a config against the schema (one line per problem)")
    v.add_argument("file")
    v.set_defaults(func=run_validate)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_init(args) -> int:
    from airkit_fw import config as fw

    if os.path.exists(args.file) and not args.force:
        raise UserError("%s already exists: use 'airkit config set' to change it, or --force to replace it"
                        % args.file)
    cfg = config_from_profile(load_profile(args.board))
    cfg.setdefault("device", {})
    cfg["device"]["id"] = args.device_id or ""
    cfg["device"]["name"] = args.name or ""
    cfg["wifi"] = {"ssid": "", "password": ""}
    cfg["interval_s"] = fw.SCHEMA["interval_s"][1]
    problems = fw.validate(cfg)
    if problems:
        raise UserError("board profile %s gives an invalid config: %s" % (args.board, "; ".join(problems)))
    write_config(args.file, cfg)
    print("wrote %s for board %s; next: airkit config set %s wifi.ssid=... wifi.password=..."
          % (args.file, args.board, args.file))
    return 0


def run_set(args) -> int:
    from airkit_fw import config as fw

    cfg = read_config(args.file)
    for a in args.assignments:
        if "=" not in a:
            raise UserError("'%s' is not KEY=VALUE (e.g. wifi.ssid=school)" % ("***" if "password" in a else a))
        key, _, text = a.partition("=")
        fw.put(cfg, key.strip(), parse_value(key.strip(), text))
    problems = fw.validate(cfg)
    if problems:
        raise UserError("not saved, the config would have problems: " + "; ".join(problems))
    write_config(args.file, cfg)
    shown = ", ".join(_shown_assignment(fw, cfg, a) for a in args.assignments)
    print("set %s in %s" % (shown, args.file))
    return 0


def _shown_assignment(fw, cfg, a):
    """KEY=VALUE as it may be printed: secrets, and credentials inside URLs (in lists too), masked."""
    key, _, text = a.partition("=")
    if _secret(key):
        return key + "=***"
    v = fw.get(cfg, key.strip())
    return key + "=" + (json.dumps(fw.masked(v)) if isinstance(v, (list, dict)) else fw.mask_url(text))


def run_show(args) -> int:
    from airkit_fw import config as fw

    if args.schema:
        for k, (kind, default, doc) in fw.SCHEMA.items():
            print("%-16s %-6s default %-8s %s" % (k, kind, json.dumps(default), doc))
        return 0
    if args.port:
        from airkit.boardlink import open_board

        with open_board(args.port) as link:
            text = link.read_text(fw.CONFIG_FILE)
        if text is None:
            raise UserError("the board on %s has no config.json: run 'airkit deploy --config FILE'" % args.port)
        try:
            cfg = json.loads(text)
        except ValueError:
            raise UserError("the board's config.json is not valid JSON: deploy a new one with 'airkit deploy "
                            "--config FILE'")
        source = "board on %s" % args.port
    elif args.file:
        cfg = read_config(args.file)
        source = args.file
    else:
        raise UserError("give a config file or --port")
    problems = fw.validate(cfg)
    shown = fw.masked(cfg)
    if args.json:
        print(json.dumps({"source": source, "config": shown, "problems": problems}, indent=1, sort_keys=True))
    else:
        print(json.dumps(shown, indent=2, sort_keys=True))
        for p in problems:
            print("problem: " + p)
    return 0


def run_validate(args) -> int:
    from airkit_fw import config as fw

    problems = fw.validate(read_config(args.file))
    if problems:
        for p in problems:
            print(p)
        raise UserError("%s has %d problem(s), listed above" % (args.file, len(problems)), exit_code=1)
    print("%s is valid" % args.file)
    return 0
