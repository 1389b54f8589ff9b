"""Write a correction into a board's ``/config.json`` over the raw REPL, and into the local config.

Why this exists: the board applies the correction itself
(``airkit_fw.correction``) and uploads corrected values beside the raw ones,
naming the model. The config is updated atomically on the board: the new
file is written to ``/config.json.tmp`` and renamed over ``/config.json``,
so a reset halfway leaves the old config intact.

The correction must not live only on the board: ``airkit deploy --config
station.json`` would replace it. So ``--config station.json`` writes it into
the local config too (and ``airkit deploy`` keeps a board's correction that
the local config lacks, saying so). Entering the REPL stops the station's
loop: the board is reset afterwards (unless ``--no-reset``, which says so).
"""

import json

from airkit.errors import BoardError, InputError, UserError

CONFIG = "/config.json"

_UPDATE = """
import json, os
try:
    with open(%(path)r) as f:
        cfg = json.load(f)
except OSError:
    cfg = {}
except ValueError:
    cfg = None
if cfg is None:
    print('AIRKIT-BADCONFIG')
else:
    cfg['correction'] = json.loads(%(corr)r)
    with open(%(tmp)r, 'w') as f:
        f.write(json.dumps(cfg))
    os.rename(%(tmp)r, %(path)r)
    with open(%(path)r) as f:
        print('AIRKIT-OK', json.dumps(json.load(f).get('correction')))
"""


def _write(run, corr, path):
    """Run the update with ``run(code) -> text``; returns the correction read back."""
    code = _UPDATE % {"path": path, "tmp": path + ".tmp", "corr": json.dumps(corr)}
    out = run(code)
    out = out.decode() if isinstance(out, bytes) else out
    if "AIRKIT-BADCONFIG" in out:
        raise BoardError("the board's %s is not valid JSON; fix or re-deploy the config first (nothing was "
                         "written)." % path)
    line = next((ln for ln in out.splitlines() if ln.startswith("AIRKIT-OK")), None)
    if line is None:
        raise BoardError("the board did not confirm the new config (it said: %s)." % out.strip()[:120])
    back = json.loads(line[len("AIRKIT-OK"):].strip())
    if back != json.loads(json.dumps(corr)):
        raise BoardError("the correction read back from the board differs from the one sent; try again.")
    return back


def push(corr, port, baudrate=115200, path=CONFIG, transport=None, restart=True):
    """Merge ``corr`` into the board config under key ``correction``; returns the correction as read back
    from the board. The board is reset afterwards (``restart``) so the station runs again with it."""
    if transport is not None:
        def run(code):
            try:
                transport.enter_raw_repl(soft_reset=False)
            except Exception as e:
                raise BoardError("the board on %s did not answer (%s); press reset or check the cable and try "
                                 "again." % (port, str(e).splitlines()[0] if str(e) else type(e).__name__))
            return transport.exec(code)
        return _write(run, corr, path)
    from airkit.boardlink import open_board

    with open_board(port) as link:
        back = _write(lambda code: link.exec(code, timeout=20), corr, path)
        if restart:
            link.reset()
    return back


def update_local(config_path: str, corr) -> bool:
    """Put ``corr`` into the local config file (write-then-rename); True if it changed."""
    from airkit.files import load_json_file as read_json
    from airkit.localfiles import write_json

    cfg = read_json(config_path, "config")
    if not isinstance(cfg, dict):
        raise InputError("config file %s must hold a JSON object ({...})" % config_path)
    if cfg.get("correction") == corr:
        return False
    cfg["correction"] = corr
    write_json(config_path, cfg)
    return True


def add_arguments(p):
    """The options of ``airkit calibrate push`` that belong to the board side."""
    p.add_argument("--config", metavar="STATION.json",
                   help="also write the correction into this local station config, so 'airkit deploy' keeps it")
    p.add_argument("--no-reset", action="store_true",
                   help="leave the board at the REPL afterwards (the station stays stopped until reset)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args, corr, say) -> int:
    """``airkit calibrate push`` after the model is loaded: board, then local config, then restart."""
    import sys

    config_path = getattr(args, "config", None)
    if config_path:
        from airkit.files import load_json_file as read_json

        read_json(config_path, "config")        # a bad path fails before the board is touched
    restart = not getattr(args, "no_reset", False)
    back = push(corr, args.port, baudrate=getattr(args, "baud", 115200), restart=restart)
    local = update_local(config_path, back) if config_path else None
    name = back.get("name") or back["kind"]
    if getattr(args, "json", False):
        print(json.dumps({"port": args.port, "correction": back, "board_config": CONFIG,
                          "local_config": config_path, "local_updated": bool(local), "reset": restart}))
    else:
        say("correction '%s' (%s) written to %s on %s%s" % (name, back["kind"], CONFIG, args.port,
                                                            "; board reset, the station runs again" if restart
                                                            else ""))
        if config_path:
            say("correction also %s %s, so 'airkit deploy --config %s' keeps it"
                % ("written to" if local else "already in", config_path, config_path))
        else:
            say("note: the correction is only on the board; add --config STATION.json to keep it in your config "
                "too ('airkit deploy' keeps a board's correction that the config lacks, and says so)")
    if not restart:
        print("the station on %s is stopped at the REPL (--no-reset): press its reset button to restart it"
              % args.port, file=sys.stderr)
    return 0


__all__ = ["push", "update_local", "add_arguments", "run", "CONFIG", "UserError"]
