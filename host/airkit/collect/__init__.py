"""``airkit collect``: the open-data platform for a school or a city.

``airkit collect`` serves the Sensor.Community push API, the airkit JSON batch
API, the open data API (``/api/docs``) and the dashboard (``/``) on
127.0.0.1:8000 (SQLite by default, ``--db postgresql://...`` for a city),
optionally subscribing to an MQTT broker; ``airkit collect add-node`` /
``add-device`` register stations (and where they stand); ``airkit collect
export`` writes the calibration-ready CSV.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import secrets
import socket
import signal
import ssl
import sys
import threading
from pathlib import Path

from airkit.errors import InputError, NetworkError, UserError, WouldOverwrite

DEFAULT_DB = "airkit-collect.sqlite"


def _common(p, sub=False):
    # On a subcommand the defaults are suppressed, so `airkit collect --db X export` keeps X
    # (argparse would otherwise overwrite it with the subcommand's own default).
    p.add_argument("--db", default=argparse.SUPPRESS if sub else DEFAULT_DB,
                   help="SQLite file or postgresql://user[:password]@host[:port]/dbname (default %s)" % DEFAULT_DB)
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS if sub else False,
                   help="print the result as one JSON object")


def _place(p):
    p.add_argument("--name", help="name shown on the map")
    p.add_argument("--lat", type=float, help="latitude (decimal degrees) of the station, for the map")
    p.add_argument("--lon", type=float, help="longitude (decimal degrees) of the station, for the map")


def register(sub):
    p = sub.add_parser("collect", help="run the open-data collector and dashboard (Sensor.Community API, airkit "
                                       "JSON, MQTT)",
                       description="Run a local open endpoint that stations upload to, with a public dashboard and "
                                   "open data API; store readings in SQLite or PostgreSQL; export CSV for "
                                   "calibration.")
    _common(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for the "
                                                       "whole network)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--max-body", type=int, default=1 << 20, help="largest accepted request body, bytes")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds a client may stall while sending a request (default 10)")
    p.add_argument("--mqtt", help="also subscribe: mqtt://HOST[:PORT]/TOPIC (LASS lines, airkit JSON states)")
    p.add_argument("--mqtt-auth", choices=("signed", "acl", "open"), default="signed",
                   help="who may write through MQTT: signed (default: LASS lines signed with the station's "
                        "token), acl (the broker's ACL lets each station publish only under its own id), open "
                        "(anyone who can publish: a lab broker only)")
    p.add_argument("--node", action="append", default=[], help=argparse.SUPPRESS)   # removed: see add-node
    p.add_argument("--tls-cert", help="serve https with this certificate chain (PEM)")
    p.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    p.add_argument("--licence", help="data licence named in every API document (default ODbL-1.0)")
    p.add_argument("--licence-url", help="where the licence text is")
    p.add_argument("--attribution", help="attribution required by the data's owners")
    p.add_argument("--tiles", help="map tile URL template, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png "
                                   "('none': no map tiles, positions only)")
    p.add_argument("--tiles-attribution", help="attribution of the tile server")
    p.add_argument("--silent-after", type=int, help="a station is silent after this many missed intervals "
                                                    "(default 3)")
    p.add_argument("--archive-dir", help="folder for the daily archives (gzip CSV per UTC day, built on first "
                                         "request; default: DB.archive beside a SQLite file)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.add_argument("--releases", help="folder of signed releases (airkit release build --out): serve them to "
                                      "stations with the rollout in its rollout.json (airkit release rollout)")
    p.add_argument("--no-qc", dest="qc", action="store_false",
                   help="do not run network data quality (neighbour comparison, faults, events; on by default)")
    p.set_defaults(func=serve)
    s = p.add_subparsers(dest="collect_cmd", metavar="SUBCOMMAND")
    e = s.add_parser("export", help="write readings as CSV (time UTC, device, PM CF=1/atm, counts, rh, temp_c, flags)")
    _common(e, sub=True)
    e.add_argument("--out", "-o", help="CSV file (default: standard output)")
    e.add_argument("--force", action="store_true", help="overwrite --out when it exists")
    e.add_argument("--device", help="only this device")
    e.set_defaults(func=export)
    a = s.add_parser("add-device", help="register a station for the airkit JSON API with its token")
    a.add_argument("device", help="station id (the config's device.id)")
    a.add_argument("--token-file", required=True, help="file holding the device's token (never printed); "
                                                       "created with a new random token when it does not exist")
    a.add_argument("--force", action="store_true",
                   help="replace the token of a station already registered with another one (the station must "
                        "then get the new token in its config)")
    _common(a, sub=True)
    _place(a)
    a.set_defaults(func=add_device)
    n = s.add_parser("add-node", help="register a Sensor.Community node id (esp32-<chipid>) and its secret")
    n.add_argument("node")
    n.add_argument("--station", help="station id (the config's device.id) to file this node's pushes under, "
                                     "so they merge with the station's other uplinks; its pushes then carry the "
                                     "station's token (the one in --token-file of add-device)")
    n.add_argument("--token-file", help="file holding the node's own secret (created with a new random one when "
                                        "it does not exist); needed when the node has no --station with a token")
    _common(n, sub=True)
    _place(n)
    n.set_defaults(func=add_node)


def _store(url, must_exist=False):
    from airkit.collect.store import open_store, redact_url

    s = str(url)
    shown = redact_url(s)
    if s.startswith(("postgresql://", "postgres://")):
        try:
            import psycopg
        except ImportError:
            raise InputError("PostgreSQL needs the psycopg package: pip install 'psycopg[binary]'")
        try:
            return open_store(s)
        except psycopg.OperationalError as e:
            reason = " ".join(str(e).split())[:240] or type(e).__name__
            raise NetworkError("cannot open the PostgreSQL database %s (%s): check the server, user and database "
                               "name" % (shown, reason.replace(s, shown)))
        except psycopg.Error as e:
            raise NetworkError("the PostgreSQL database %s refused the collector's schema (%s): give the user "
                               "CREATE rights or another database" % (shown, type(e).__name__))
    p = Path(s[len("sqlite:///"):] if s.startswith("sqlite:///") else s)
    if must_exist and not p.exists():
        raise InputError("no collector database at %s: run 'airkit collect' first or pass --db" % shown)
    if p.is_dir():
        raise InputError("--db %s is a folder: give a file name such as %s/%s" % (shown, shown, DEFAULT_DB))
    if not p.parent.is_dir():
        raise InputError("--db %s: the folder %s does not exist: create it or choose another path" % (shown, p.parent))
    try:
        return open_store(p)
    except Exception as e:  # sqlite3.DatabaseError and OSError
        raise InputError("cannot open the collector database %s (%s): check the path" % (shown, e))


def _say(args, text, **fields):
    if getattr(args, "json", False):
        print(json.dumps(fields))
    else:
        print(text)


def _place_station(store, station, args):
    if (args.lat is None) != (args.lon is None):
        raise InputError("give both --lat and --lon (decimal degrees), or neither")
    if args.lat is not None and not (-90 <= args.lat <= 90 and -180 <= args.lon <= 180):
        raise InputError("--lat must be within -90..90 and --lon within -180..180 (decimal degrees)")
    if store is None:
        return
    if args.lat is not None or args.name:
        store.set_station(station, name=args.name, lat=args.lat, lon=args.lon)


def add_node(args) -> int:
    if not args.node.startswith("esp32-") and not args.node.startswith("esp8266-") or len(args.node) > 64:
        raise InputError("a Sensor.Community node id looks like esp32-<chipid> (got %s)" % args.node[:70])
    _place_station(None, None, args)
    store = _store(args.db)
    token, created = None, False
    old = store.device(args.node) or (None, None, None, None)
    station_token = (store.device(args.station or old[3] or "") or (None, None, None))[2]
    if args.token_file:
        token, created = _token_from_file(Path(args.token_file))
    elif old[2]:
        token = None            # keeps its own secret (only its hash is stored): re-registered below with it
    elif not station_token:
        raise InputError("the node needs a secret: give --token-file FILE (a new random token is written there), "
                         "or --station ID of a station registered with 'airkit collect add-device'")
    try:
        if token is None and old[2]:
            store.add_device(args.node, "sc", None, station=args.station or old[3])
            store.set_secret_hash(args.node, old[2])
        else:
            store.add_device(args.node, "sc", token, station=args.station or old[3])
        station = store.device(args.node)[3]
        _place_station(store, station, args)
    except Exception:
        if created:
            Path(args.token_file).unlink(missing_ok=True)
        raise
    if created and not getattr(args, "json", False):
        print("a new token was written to %s (readable by you only): put it in the station's sensor_community "
              "uplink as \"token\"" % args.token_file, file=sys.stderr)
    # the public station id, never the node id (anyone who knows a node id could try to push as it)
    _say(args, "node %s registered for station %s" % (args.node, station), node=args.node, station=station,
         registered=True, **({"token_file_created": args.token_file} if created else {}))
    return 0


def _token_from_file(tf: Path) -> tuple[str, bool]:
    """(token, created): a token file's token, or a new one in a new owner-only file."""
    if not tf.exists():
        return _new_token_file(tf), True
    try:
        token = tf.read_text().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError("cannot read the token file %s (%s)" % (tf, getattr(e, "strerror", None) or e))
    if len(token) < 8:
        raise InputError("the token in %s is shorter than 8 characters: use a longer random token" % tf)
    return token, False


def _new_token_file(path: Path) -> str:
    """A new random token in a new owner-only file (never printed)."""
    token = secrets.token_urlsafe(24)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
    except OSError as e:
        raise InputError("cannot create the token file %s (%s): check the folder or choose another --token-file"
                         % (path, e.strerror or e))
    return token


def _refuse_token_change(store, device, token, force):
    """A station registered with another token keeps it unless --force: its board still sends the old one."""
    from airkit.collect.store import token_hash

    known = store.device(device)
    if known and known[2] and (token is None or known[2] != token_hash(token)) and not force:
        raise WouldOverwrite("station %s is already registered with another token (the board sends that one and "
                             "would be locked out): give the token file it was registered with, or pass --force "
                             "to replace its token and then put the new one in the station's config" % device)


def add_device(args) -> int:
    from airkit.provision import check_device_id

    check_device_id(args.device, "station id")
    tf = Path(args.token_file)
    if not tf.exists():      # a new token for a station already registered would lock it out
        _refuse_token_change(_store(args.db), args.device, None, getattr(args, "force", False))
    token, created = _token_from_file(tf)
    try:
        store = _store(args.db)
        _refuse_token_change(store, args.device, token, getattr(args, "force", False))
        store.add_device(args.device, "json", token)
        _place_station(store, args.device, args)
    except Exception:
        if created:
            tf.unlink(missing_ok=True)
        raise
    if created and not getattr(args, "json", False):
        print("a new token was written to %s (readable by you only): put it in the station's airkit_json uplink "
              "as \"token\"" % tf, file=sys.stderr)
    _say(args, "device %s registered for the airkit JSON API" % args.device, device=args.device, registered=True,
         **({"token_file_created": str(tf)} if created else {}))
    return 0


def export(args) -> int:
    from airkit.outfile import check_file

    dest = check_file(args.out, force=args.force) if args.out else None
    store = _store(args.db, must_exist=True)
    if args.out:
        out = Path(args.out)
        with dest.open("w", newline="") as f:
            n = store.export_csv(f, args.device)
        if args.json:
            print(json.dumps({"rows": n, "out": str(out)}))
        else:
            print("%d readings written to %s" % (n, args.out), file=sys.stderr)
    elif args.json:
        rows = store.rows(args.device)
        json.dump([{k: v for k, v in r.items() if v is not None} for r in rows], sys.stdout)
        print()
    else:
        store.export_csv(sys.stdout, args.device)
    return 0


def lan_url(host: str, port: int, scheme: str = "http") -> str | None:
    """The address other computers and the stations use when the collector listens on every
    interface (0.0.0.0 is not an address they can reach); None when it listens on one address."""
    if host not in ("0.0.0.0", "::", ""):
        return None
    ip = None
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))          # UDP connect: picks the outgoing interface, sends nothing
            ip = s.getsockname()[0]
    except OSError:
        pass
    if not ip or ip.startswith("127."):
        ip = socket.gethostname()
    return "%s://%s:%d" % (scheme, ip, port)


def serve(args) -> int:
    from airkit.collect.server import Collector
    from airkit.collect.store import redact_url

    if not 0 <= args.port <= 65535:
        raise InputError("--port %d is not a TCP port: use 1-65535 (or 0 for any free port)" % args.port)
    if args.max_body < 65536:
        raise InputError("--max-body %d is too small: stations send up to ~40 KB, use at least 65536" % args.max_body)
    if not 0.5 <= args.timeout <= 600:
        raise InputError("--timeout must be between 0.5 and 600 seconds")
    if args.silent_after is not None and args.silent_after < 1:
        raise InputError("--silent-after must be 1 or more intervals")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise InputError("https needs both --tls-cert and --tls-key")
    for f in (args.tls_cert, args.tls_key):
        if f and not Path(f).is_file():
            raise InputError("TLS file %s does not exist: check --tls-cert/--tls-key" % f)
    if args.node:
        raise InputError("--node is gone (it let anyone who knows the node id push as it): register the node with "
                         "'airkit collect add-node %s --token-file FILE' and put the token in the station's "
                         "sensor_community uplink" % args.node[0])
    from airkit.collect.api import safe_url

    if args.licence_url and not safe_url(args.licence_url):
        raise InputError("--licence-url must be an http:// or https:// address (got %s)" % args.licence_url[:80])
    if args.tiles and args.tiles != "none" and not (safe_url(args.tiles) and "{z}" in args.tiles):
        raise InputError("--tiles must be an http(s) URL template with {z}, {x} and {y} (or 'none'); got %s"
                         % args.tiles[:80])
    # Heavy reads run in worker threads: a shorter GIL switch interval (default 5 ms) lets an upload's
    # thread, which gives the GIL up at every database call, get it back without waiting out a reader.
    sys.setswitchinterval(0.0005)
    store = _store(args.db)
    settings = {"licence": args.licence, "licence_url": args.licence_url, "attribution": args.attribution,
                "tiles": "" if args.tiles == "none" else args.tiles, "tiles_attribution": args.tiles_attribution,
                "silent_after": args.silent_after, "releases": args.releases}
    if args.releases and not Path(args.releases).is_dir():
        raise InputError("the releases folder %s does not exist: make one with 'airkit release build --out %s'"
                         % (args.releases, args.releases))
    try:
        srv = Collector(store, args.host, args.port, args.max_body, args.verbose, args.tls_cert, args.tls_key,
                        timeout_s=args.timeout, settings=settings, qc=getattr(args, "qc", True),
                        archive_dir=args.archive_dir)
    except FileNotFoundError as e:
        raise InputError("TLS file %s does not exist: check --tls-cert/--tls-key" % e.filename)
    except ssl.SSLError as e:
        raise InputError("the TLS certificate or key cannot be used (%s): give a PEM certificate and its key"
                         % (e.reason or "not PEM"))
    except (socket.gaierror, OSError) as e:
        if not isinstance(e, socket.gaierror) and e.errno != errno.EADDRNOTAVAIL:
            raise NetworkError("cannot listen on %s:%d (%s): pick another --port" % (args.host, args.port,
                                                                                       e.strerror or e))
        raise InputError("--host %s is not an address of this computer (%s): use 127.0.0.1 (this computer only) "
                         "or 0.0.0.0 (the whole network)" % (args.host, e.strerror or e))
    sub = None
    if args.mqtt:
        from airkit.collect.mqttsub import Subscriber

        sub = Subscriber(store, args.mqtt, auth=args.mqtt_auth).start()
        if args.mqtt_auth == "open":
            print("warning: --mqtt-auth open: anyone who can publish to the broker can write any station",
                  file=sys.stderr)
    url = "%s://%s:%d" % (srv.scheme, args.host, srv.port)
    if args.json:
        print(json.dumps({"url": url + "/", "dashboard": url + "/", "api": url + "/api/docs",
                          "push": url + "/v1/push-sensor-data/", "batch": url + "/api/v1/batch",
                          "db": redact_url(args.db)}), flush=True)
    else:
        lan = lan_url(args.host, srv.port, srv.scheme)
        if lan:
            url = lan
        print("airkit collect on %s (dashboard: %s/, open data API: %s/api/docs, Sensor.Community push: "
              "/v1/push-sensor-data/, airkit JSON: /api/v1/batch), store %s; Ctrl-C stops"
              % (url, url, url, redact_url(args.db)), file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        try:
            srv.start()                 # inside the try: Ctrl-C while it starts is a clean stop too
        except RuntimeError:
            raise NetworkError("the collector's web server did not start within 20 s: try again, or another --port")
        while not stop.wait(1.0):
            if not srv._thread.is_alive():
                raise UserError("the collector's web server stopped unexpectedly")
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
        if sub:
            sub.stop()
        print("stopped; %d readings in %s" % (store.count(), redact_url(args.db)), file=sys.stderr)
    return 0
