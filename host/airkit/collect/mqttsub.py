"""The collector's MQTT subscription (paho-mqtt): LASS lines and airkit JSON states.

Payloads understood: a LASS pipe-delimited line (``|device_id=...|date=...|
time=...|s_d0=...|``; date/time read as UTC, as airkit sends them) and an
airkit/Home Assistant JSON state on ``<prefix>/<node_id>/state``. Home
Assistant discovery configs and anything else are ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from airkit.collect.ingest import Reject, check_values, flag_text, reading_epoch
from airkit.collect.store import Store, utc_iso
from airkit.errors import UserError

AUTH_MODES = ("signed", "acl", "open")
SIG_FIELD = "sig="
LASS_FIELDS = {"s_d0": "pm25_atm", "s_d1": "pm10_atm", "s_d2": "pm1_atm", "s_t0": "temp_c", "s_h0": "rh"}


def parse_message(topic: str, payload: bytes) -> dict | None:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.startswith("|"):
        kv = dict(p.split("=", 1) for p in text.strip("|").split("|") if "=" in p)
        if "device_id" not in kv or "date" not in kv or "time" not in kv:
            return None
        if "|" + SIG_FIELD in text:
            i = text.rindex("|" + SIG_FIELD) + 1
            kv["sig"] = text[i + len(SIG_FIELD):].strip().strip("|")
            kv["signed_part"] = text[:i]
        try:
            row = {"device": kv["device_id"], "time": utc_iso("%sT%sZ" % (kv["date"], kv["time"]))}
            for k, col in LASS_FIELDS.items():
                if k in kv:
                    row[col] = float(kv[k])
        except ValueError:
            return None
        if "sig" in kv:
            row["_sig"] = (kv["sig"], kv["signed_part"])
        return row
    if topic.endswith("/state"):
        try:
            d = json.loads(text)
            parts = topic.split("/")
            row = {"device": parts[-2], "time": utc_iso(d["time"]), "seq": d.get("seq"),
                   "pm1_atm": d.get("pm1"), "pm25_atm": d.get("pm25"), "pm10_atm": d.get("pm10"),
                   "pm25_cf1": d.get("pm25_cf1"), "temp_c": d.get("temperature"), "rh": d.get("humidity"),
                   "flags": flag_text([f for f in d.get("flags") or [] if isinstance(f, str)])}
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return row
    return None


def parse_mqtt_url(url: str):
    from urllib.parse import urlsplit

    u = urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
        raise UserError("--mqtt must look like mqtt://HOST[:PORT]/TOPIC (got %s)" % url.split("@")[-1])
    rest = url.split("://", 1)[1]
    topic = rest.split("/", 1)[1] if "/" in rest else ""      # not urlsplit's path: '#' is a wildcard here
    topic = topic or "#"
    return u.hostname, u.port or (8883 if u.scheme == "mqtts" else 1883), topic, u.username, u.password, \
        u.scheme == "mqtts"


def lass_signature(token_sha256: str, signed_part: str) -> str:
    """The ``sig`` of a LASS line: HMAC-SHA256 of the line up to ``sig=``, keyed with the SHA-256
    (hex) of the station's token."""
    return hmac.new(token_sha256.encode(), signed_part.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_lass(line: str, token: str) -> str:
    """A LASS line with its ``sig`` field appended (what a station publishes in ``signed`` mode)."""
    from airkit.collect.store import token_hash

    line = line if line.endswith("|") else line + "|"
    return line + SIG_FIELD + lass_signature(token_hash(token), line) + "|"


def authorised(store: Store, auth: str, topic: str, row: dict) -> bool:
    """May this message write this station's readings (see the module's text)?"""
    sig = row.pop("_sig", None)
    if auth == "open":
        return True
    dev = store.device(row["device"]) if len(row["device"]) <= 200 else None
    if dev is None or dev[1] != "json" or not dev[2]:
        return False
    if auth == "acl":
        return row["device"] in topic.split("/")
    if sig is None:
        return False
    return hmac.compare_digest(lass_signature(dev[2], sig[1]), sig[0].lower())


class Subscriber:
    def __init__(self, store: Store, url: str, on_stored=None, auth: str = "signed"):
        import paho.mqtt.client as mqtt

        if auth not in AUTH_MODES:
            raise UserError("--mqtt-auth must be one of %s (got %s)" % (", ".join(AUTH_MODES), auth))
        self.auth = auth
        self.store = store
        self.host, self.port, self.topic, user, pw, tls = parse_mqtt_url(url)
        self.on_stored = on_stored
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="airkit-collect")
        if user:
            self.client.username_pw_set(user, pw)
        if tls:
            self.client.tls_set()
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(self.topic, qos=1)
        self.client.on_message = self._message
        self.stored = 0
        self.rejected = 0
        self.refused = 0                # not authorised

    def _message(self, client, userdata, msg):
        row = parse_message(msg.topic, msg.payload)
        if row is not None:
            if not authorised(self.store, self.auth, msg.topic, row):
                self.refused += 1
                return
            try:                                    # the same checks as the HTTP APIs
                row["epoch"] = reading_epoch(row["time"])
                check_values(row)
            except Reject:
                self.rejected += 1
                return
            new, dup = self.store.put([row], "mqtt")
            self.stored += new
            if self.on_stored:
                self.on_stored(new, dup)

    def start(self):
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as e:
            from airkit.errors import NetworkError
            raise NetworkError("cannot reach the MQTT broker %s:%d (%s): start it or fix --mqtt"
                               % (self.host, self.port, e.strerror or e))
        self.client.loop_start()
        return self

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()
