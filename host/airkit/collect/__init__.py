"""``airkit collect``: a local open endpoint for stations (the school's own server).

``airkit collect`` serves the Sensor.Community push API and the airkit JSON
batch API on 127.0.0.1:8000 (SQLite store), optionally subscribing to an
MQTT broker; ``airkit collect add-node`` / ``add-device`` register stations;
``airkit collect export`` writes the calibration-ready CSV.
"""

from __future__ import annotations

import signal
import ssl
import sys
import threading
from pathlib import Path

from airkit.errors import UserError

DEFAULT_DB = "airkit-collect.sqlite"


def register(sub):
    p = sub.add_parser("collect", help="run a local collector for stations (Sensor.Community API, airkit JSON, MQTT)",
                       description="Run a local open endpoint that stations upload to, store readings in "
                                   "SQLite, and export them as CSV for calibration.")
    p.add_argument("--db", default=DEFAULT_DB, help="SQLite file (default %s)" % DEFAULT_DB)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--max-body", type=int, default=1 << 20, help="largest accepted request body, bytes")
    p.add_argument("--mqtt", help="also subscribe: mqtt://HOST[:PORT]/TOPIC (LASS lines, airkit JSON states)")
    p.add_argument("--node", action="append", default=[],
                   help="accept Sensor.Community pushes from this node (esp32-<chipid>); repeatable")
    p.add_argument("--tls-cert", help="serve https with this certificate chain (PEM)")
    p.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.set_defaults(func=serve)
    s = p.add_subparsers(dest="collect_cmd", metavar="SUBCOMMAND")
    e = s.add_parser("export", help="write readings as CSV (time UTC, device, PM CF=1/atm, counts, rh, temp_c, flags)")
    e.add_argument("--db", default=DEFAULT_DB)
    e.add_argument("--out", "-o", help="CSV file (default: standard output)")
    e.add_argument("--device", help="only this device")
    e.set_defaults(func=export)
    a = s.add_parser("add-device", help="register a station for the airkit JSON API with its token")
    a.add_argument("device", help="station id (the config's device.id)")
    a.add_argument("--token-file", required=True, help="file holding the device's token (never printed)")
    a.add_argument("--db", default=DEFAULT_DB)
    a.set_defaults(func=add_device)
    n = s.add_parser("add-node", help="register a Sensor.Community node id (esp32-<chipid>)")
    n.add_argument("node")
    n.add_argument("--station", help="station id (the config's device.id) to file this node's pushes under, "
                                     "so they merge with the station's other uplinks")
    n.add_argument("--db", default=DEFAULT_DB)
    n.set_defaults(func=add_node)


def _store(path, must_exist=False):
    from airkit.collect.store import Store

    p = Path(path)
    if must_exist and not p.exists():
        raise UserError("no collector database at %s: run 'airkit collect' first or pass --db" % path)
    try:
        return Store(p)
    except Exception as e:  # sqlite3.DatabaseError and OSError
        raise UserError("cannot open the collector database %s (%s): check the path" % (path, e))


def add_node(args) -> int:
    if not args.node.startswith("esp32-") and not args.node.startswith("esp8266-"):
        raise UserError("a Sensor.Community node id looks like esp32-<chipid> (got %s)" % args.node)
    _store(args.db).add_device(args.node, "sc", station=args.station)
    print("node %s registered%s" % (args.node, " for station %s" % args.station if args.station else ""))
    return 0


def add_device(args) -> int:
    try:
        token = Path(args.token_file).read_text().strip()
    except OSError as e:
        raise UserError("cannot read the token file %s (%s)" % (args.token_file, e.strerror))
    if len(token) < 8:
        raise UserError("the token in %s is shorter than 8 characters: use a longer random token" % args.token_file)
    _store(args.db).add_device(args.device, "json", token)
    print("device %s registered for the airkit JSON API" % args.device)
    return 0


def export(args) -> int:
    store = _store(args.db, must_exist=True)
    if args.out:
        try:
            with open(args.out, "w", newline="") as f:
                n = store.export_csv(f, args.device)
        except OSError as e:
            raise UserError("cannot write %s (%s)" % (args.out, e.strerror))
        print("%d readings written to %s" % (n, args.out), file=sys.stderr)
    else:
        store.export_csv(sys.stdout, args.device)
    return 0


def serve(args) -> int:
    from airkit.collect.server import Collector

    store = _store(args.db)
    for node in args.node:
        store.add_device(node, "sc")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UserError("https needs both --tls-cert and --tls-key")
    try:
        srv = Collector(store, args.host, args.port, args.max_body, args.verbose, args.tls_cert, args.tls_key)
    except FileNotFoundError as e:
        raise UserError("TLS file %s does not exist: check --tls-cert/--tls-key" % e.filename)
    except ssl.SSLError as e:
        raise UserError("the TLS certificate or key cannot be used (%s): give a PEM certificate and its key"
                        % e.reason)
    except OSError as e:
        raise UserError("cannot listen on %s:%d (%s): pick another --port" % (args.host, args.port, e.strerror))
    sub = None
    if args.mqtt:
        from airkit.collect.mqttsub import Subscriber

        sub = Subscriber(store, args.mqtt).start()
    print("airkit collect on " + srv.scheme + "://%s:%d (Sensor.Community push: /v1/push-sensor-data/, airkit JSON: "
          "/api/v1/batch), store %s; Ctrl-C stops" % (args.host, srv.port, args.db), file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    srv.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
        if sub:
            sub.stop()
        print("stopped; %d readings in %s" % (store.count(), args.db), file=sys.stderr)
    return 0
