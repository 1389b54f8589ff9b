"""Write a correction into a board's ``/config.json`` over the raw REPL.

Why this exists: the board applies the correction itself
(``airkit_fw.correction``) and uploads corrected values beside the raw ones,
naming the model. The config is updated atomically on the board: the new
file is written to ``/config.json.tmp`` and renamed over ``/config.json``,
so a reset halfway leaves the old config intact.
"""

import json

from airkit.errors import UserError

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


def push(corr, port, baudrate=115200, path=CONFIG, transport=None):
    """Merge ``corr`` into the board config under key ``correction``;
    returns the correction as read back from the board."""
    own = transport is None
    if own:
        try:
            from mpremote.transport_serial import SerialTransport
            transport = SerialTransport(port, baudrate=baudrate)
        except Exception as e:
            raise UserError("cannot open %s (%s); check the port name and that no other program uses it."
                            % (port, str(e).splitlines()[0] if str(e) else type(e).__name__))
    try:
        try:
            transport.enter_raw_repl(soft_reset=False)
        except Exception as e:
            raise UserError("the board on %s did not answer (%s); press reset or check the cable and try again."
                            % (port, str(e).splitlines()[0] if str(e) else type(e).__name__))
        code = _UPDATE % {"path": path, "tmp": path + ".tmp", "corr": json.dumps(corr)}
        try:
            out = transport.exec(code)
        except Exception as e:
            raise UserError("writing the config on the board failed (%s); the old config is unchanged."
                            % (str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__))
        out = out.decode() if isinstance(out, bytes) else out
        if "AIRKIT-BADCONFIG" in out:
            raise UserError("the board's %s is not valid JSON; fix or re-deploy the config first (nothing was "
                            "written)." % path)
        line = next((ln for ln in out.splitlines() if ln.startswith("AIRKIT-OK")), None)
        if line is None:
            raise UserError("the board did not confirm the new config (it said: %s)." % out.strip()[:120])
        back = json.loads(line[len("AIRKIT-OK"):].strip())
        if back != json.loads(json.dumps(corr)):
            raise UserError("the correction read back from the board differs from the one sent; try again.")
        return back
    finally:
        if own:
            try:
                transport.exit_raw_repl()
            except Exception:
                pass
            try:
                transport.close()
            except Exception:
                pass
