"""``airkit config init|set|show|validate``: station configs checked against the firmware's schema.

Why this exists: a typo in a JSON file should be caught at the desk, not by a
board that then sits in safe mode. The schema is the firmware's own
(``airkit_fw.config``), so desk and board agree on every key; ``init --board``
fills the pins from the board profile; ``show`` never prints a secret.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from airkit.errors import CheckFailed, UserError, WouldOverwrite
from airkit.resources import config_from_profile, load_profile  # board profiles ship with the package


# Keys inside an uplink entry that always hold text (a token of digits stays text).
UPLINK_TEXT_KEYS = ("type", "name", "url", "token", "access_token", "password", "username", "box_id", "host",
                    "topic", "device_id", "prefix", "pm", "ca", "measurement")


def split_key(key: str) -> list:
    """'uplinks[0].token' -> ['uplinks', 0, 'token']; 'wifi.ssid' -> ['wifi', 'ssid']."""
    import re

    parts: list = []
    for piece in key.split("."):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)", piece.strip())
        if not m:
            raise UserError("'%s' is not a setting name (e.g. wifi.ssid or uplinks[0].token): see "
                            "'airkit config show --schema'" % key)
        parts.append(m.group(1))
        parts += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return parts


def put_path(cfg: dict, parts: list, value):
    """Set a nested value; a list index one past the end appends a new entry."""
    node = cfg
    for i, part in enumerate(parts[:-1]):
        nxt_is_index = isinstance(parts[i + 1], int)
        if isinstance(part, int):
            if not isinstance(node, list) or part > len(node):
                raise UserError("there is no entry %d to set (the list has %d): use index %d to add one"
                                % (part, len(node) if isinstance(node, list) else 0,
                                   len(node) if isinstance(node, list) else 0))
            if part == len(node):
                node.append([] if nxt_is_index else {})
            node = node[part]
        else:
            nxt = node.get(part)
            if not isinstance(nxt, list if nxt_is_index else dict):
                nxt = [] if nxt_is_index else {}
                node[part] = nxt
            node = nxt
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last > len(node):
            raise UserError("there is no entry %d to set: use index %d to add one"
                            % (last, len(node) if isinstance(node, list) else 0))
        if last == len(node):
            node.append(value)
        else:
            node[last] = value
    else:
        node[last] = value


def parse_item_value(parts: list, text: str):
    """A value inside a list entry (e.g. uplinks[0].port): text for text keys, else JSON when it parses."""
    last = parts[-1]
    if isinstance(last, str) and last in UPLINK_TEXT_KEYS:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


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
        hidden = _secret(path) or kind in ("list", "dict")      # a JSON list may hold a token
        raise UserError("'%s' needs %s; %s is not" % (path, kind_words(kind),
                                                        "the value given" if hidden else "'%s'" % text))
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


def write_config(path: str, cfg: dict, force: bool = False):
    """Write-then-rename, like the board does (mode 0600: it may hold a WiFi password); a symbolic
    link is followed, a file its owner made read-only is refused unless ``force``."""
    from airkit.localfiles import write_json

    write_json(path, cfg, force=force)


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
    st.add_argument("--force", action="store_true", help="change a config file that was made read-only")
    st.set_defaults(func=run_set)
    sh = s.add_parser("show", help="print a config (secrets masked) from a file or a board")
    sh.add_argument("file", nargs="?", help="config file (or --port to read the board's)")
    sh.add_argument("--port", help="read /config.json from the board on this port")
    sh.add_argument("--schema", action="store_true", help="list every setting with its type and default")
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    sh.add_argument("--no-reset", action="store_true", help="with --port: leave the board at the REPL afterwards")
    sh.set_defaults(func=run_show)
    v = s.add_parser("validate", help="check a config against the schema (one line per problem)")
    v.add_argument("file")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v.set_defaults(func=run_validate)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_init(args) -> int:
    from airkit_fw import config as fw

    from airkit.outfile import check_file

    if os.path.exists(args.file) and not args.force:
        raise WouldOverwrite("%s already exists: use 'airkit config set' to change it, or --force to replace it"
                             % args.file)
    check_file(args.file, force=args.force, what="config")
    cfg = config_from_profile(load_profile(args.board))
    cfg.setdefault("device", {})
    cfg["device"]["id"] = args.device_id or ""
    cfg["device"]["name"] = args.name or ""
    cfg["wifi"] = {"ssid": "", "password": ""}
    cfg["interval_s"] = fw.SCHEMA["interval_s"][1]
    problems = fw.validate(cfg)
    if problems:
        raise UserError("board profile %s gives an invalid config: %s" % (args.board, "; ".join(problems)))
    write_config(args.file, cfg, force=args.force)
    print("wrote %s for board %s; next: airkit config set %s wifi.ssid=... wifi.password=..."
          % (args.file, args.board, args.file))
    return 0


def run_set(args) -> int:
    from airkit_fw import config as fw

    from airkit.outfile import check_file

    cfg = read_config(args.file)
    check_file(args.file, edit=True, force=args.force, what="config")   # read-only, folder: before any change
    shown = []
    for a in args.assignments:
        if "=" not in a:
            raise UserError("'%s' is not KEY=VALUE (e.g. wifi.ssid=school)" % a.split(":")[0][:40])
        key, _, text = a.partition("=")
        key = key.strip()
        parts = split_key(key)
        if len(parts) > 1 and any(isinstance(p, int) for p in parts):
            value = parse_item_value(parts, text)
            if len(parts) == 2 and parts[0] == "uplinks" and isinstance(value, str):
                value = {"type": value}         # uplinks[1]=sensor_community adds that uplink
            put_path(cfg, parts, value)
        else:
            value = parse_value(key, text)
            fw.put(cfg, key, value)
        secret = any(isinstance(p, str) and _secret(p) for p in parts) or _has_secret(value)
        shown.append(key + "=" + ("***" if secret else text))
    problems = fw.validate(cfg)
    if problems:
        raise UserError("not saved, the config would have problems: " + "; ".join(problems))
    write_config(args.file, cfg, force=args.force)
    print("set %s in %s" % (", ".join(shown), args.file))
    return 0


def _has_secret(value) -> bool:
    """A value (e.g. a whole uplinks list given as JSON) that carries a secret somewhere inside."""
    from airkit_fw.config import masked

    return masked(value) != value


def schema_rows() -> list[dict]:
    """Every setting: key, type, default and what it means (from the host-only descriptions)."""
    from airkit_fw import config as fw

    try:
        from airkit_fw.config_doc import DESCRIPTIONS
    except ImportError:
        DESCRIPTIONS = {}
    rows = []
    for k, spec in fw.SCHEMA.items():
        kind, default = spec[0], spec[1]
        doc = spec[2] if len(spec) > 2 else DESCRIPTIONS.get(k, "")
        rows.append({"key": k, "type": kind, "default": default, "doc": doc})
    rows.append({"key": "uplinks[N].KEY", "type": "any", "default": None,
                 "doc": "one setting of uplink N, e.g. uplinks[0].token=... (N = current count adds one; "
                        "see docs/uplinks.md)"})
    return rows


def run_show(args) -> int:
    from airkit_fw import config as fw

    if args.schema:
        rows = schema_rows()
        if args.json:
            print(json.dumps(rows, indent=1))
        else:
            for r in rows:
                print("%-16s %-6s default %-8s %s" % (r["key"], r["type"], json.dumps(r["default"]), r["doc"]))
        return 0
    if args.port:
        from airkit.boardlink import open_board

        with open_board(args.port) as link:
            text = link.read_text(fw.CONFIG_FILE)
            if not args.no_reset:
                link.reset()        # entering the REPL stopped the station: start it again
        if args.no_reset:
            print("the station on %s is stopped at the REPL (--no-reset): press its reset button to restart it"
                  % args.port, file=sys.stderr)
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
    if getattr(args, "json", False):
        print(json.dumps({"file": args.file, "valid": not problems, "problems": problems}))
        return 1 if problems else 0
    if problems:
        for p in problems:
            print(p)
        raise CheckFailed("%s has %d problem(s), listed above" % (args.file, len(problems)))
    print("%s is valid" % args.file)
    return 0
