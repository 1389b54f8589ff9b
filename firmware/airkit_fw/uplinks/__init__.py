"""Uplinks: every configured endpoint fed from the journal with its own cursor.

Why this exists: several uplinks run at once, and one that is down (a dead
server, a full quota, a TLS failure) must never hold back another or starve
the watchdog. Each uplink reads records after its cursor, sends a batch and
acknowledges what the server accepted; failures back off per uplink:

- timeouts, refused connections, DNS and TLS failures, 5xx: exponential
  back-off, 30 s doubling to 30 min;
- 429 (and 503) with ``Retry-After``: wait what the server asked (1 s..1 h);
- 401/403/404 (unknown node, bad token, wrong box): 30 min, records kept;
- 400 (the server rejects the payload itself): those records are skipped and
  counted (``rejected``), otherwise one bad record would block the uplink;
- 413 (batch too large): the batch size is halved.

The WiFi being down is not an uplink failure: nothing is tried until it is
back, and then backfill starts at once. Each exchange has its own deadline
(``http.EXCHANGE_MS``), every socket operation a timeout, and the watchdog is
fed between operations; ``poll`` stops starting new exchanges when the next
reading is closer than ``MARGIN_MS``.

Uplink config entries (``uplinks`` list in the station config), by ``type``:
``sensor_community`` (url, pm), ``opensensemap`` (box_id, access_token,
sensors, url, pm), ``lass_mqtt`` (host, port, topic, device_id, qos),
``mqtt_ha`` (url mqtt[s]://host:port, username, password, prefix),
``influx`` (url, token, measurement, pm), ``airkit_json`` (url, token).
Optional for all: ``name`` (cursor name; default the type), ``ca`` (PEM CA
data for https/mqtts).
"""

import json

from airkit_fw.uplinks.net import NetError

TYPES = ("sensor_community", "opensensemap", "lass_mqtt", "mqtt_ha", "influx", "airkit_json")
REQUIRED = {"opensensemap": ("box_id", "sensors"), "lass_mqtt": (), "mqtt_ha": (), "influx": ("url",),
            "airkit_json": ("url",), "sensor_community": ()}
BACKOFF_MIN_MS = 30000
BACKOFF_MAX_MS = 1800000
CONFIG_WAIT_MS = 1800000
MARGIN_MS = 20000
STATUS_PREFIX = "uplinks "


def make(board, ucfg, station):
    t = ucfg.get("type")
    if t == "sensor_community":
        from airkit_fw.uplinks.sensor_community import SensorCommunity as C
    elif t == "opensensemap":
        from airkit_fw.uplinks.opensensemap import OpenSenseMap as C
    elif t == "lass_mqtt":
        from airkit_fw.uplinks.lass_mqtt import LassMqtt as C
    elif t == "mqtt_ha":
        from airkit_fw.uplinks.mqtt_ha import MqttHA as C
    elif t == "influx":
        from airkit_fw.uplinks.influx import Influx as C
    elif t == "airkit_json":
        from airkit_fw.uplinks.airkit_json import AirkitJson as C
    else:
        raise ValueError("unknown uplink type %s" % t)
    u = C(board, ucfg, station)
    u.name = ucfg.get("name") or t
    u.failures = 0
    u.next_try = board.ticks_ms()
    u.state = "ok"
    u.done = 0
    u.rejected = 0
    return u


class Uplinks:
    def __init__(self, board, journal, uplinks, wifi=None, log=print):
        self.board = board
        self.journal = journal
        self.uplinks = uplinks
        self.wifi = wifi
        self.log = log
        self._last_status = None
        for u in uplinks:
            journal.cursor(u.name)

    def on_reading(self, d):
        pass

    def _online(self):
        return self.wifi is None or self.wifi.isconnected()

    def poll(self, deadline):
        b = self.board
        if not self.uplinks:
            return
        while True:
            if b.ticks_diff(deadline, b.ticks_ms()) < MARGIN_MS or not self._online():
                break
            progressed = False
            wait_ms = None
            for u in self.uplinks:
                if b.ticks_diff(deadline, b.ticks_ms()) < MARGIN_MS:
                    break
                left = b.ticks_diff(u.next_try, b.ticks_ms())
                if left > 0:
                    if self.journal.pending_for(u.name) > 0 and (wait_ms is None or left < wait_ms):
                        wait_ms = left
                    continue
                r = self._step(u)
                if r is None:            # the network went away
                    break
                progressed = progressed or r
            if progressed:
                continue
            # nothing moved: sleep until the earliest back-off ends, if that fits before the next reading
            if wait_ms is not None and b.ticks_diff(deadline, b.ticks_add(b.ticks_ms(), wait_ms)) >= MARGIN_MS:
                b.sleep_ms(wait_ms)
                continue
            break
        self._status()

    def _step(self, u):
        """Deliver one batch. True: progress; False: nothing to do or failed; None: offline."""
        j = self.journal
        cur = j.cursor(u.name)
        u.done = 0
        recs = None
        try:
            recs = j.read_after(cur, u.batch)
            if not recs:
                return False
            n = u.send(recs)
        except MemoryError:
            # A big backfill batch does not fit in this board's RAM: halve it and go on
            # (nothing is lost: the cursor has not moved past an unsent reading).
            n = u.done
            if n and recs:
                j.ack(u.name, recs[n - 1]["seq"], n)
            recs = None
            import gc
            gc.collect()
            if u.batch > 1:
                u.batch = u.batch // 2
                self.log("uplink %s: low on memory, batches of %d now" % (u.name, u.batch))
                return True
            return self._failed(u, NetError("error", "MemoryError"), ()) or n > 0
        except NetError as e:
            n = u.done
            if n:
                j.ack(u.name, recs[n - 1]["seq"], n)
            return self._failed(u, e, recs[n:]) or n > 0
        except Exception as e:       # e.g. TLS/ENOMEM surfacing late, or a bug: never crash the station
            n = u.done
            if n:
                j.ack(u.name, recs[n - 1]["seq"], n)
            return self._failed(u, NetError("error", type(e).__name__), recs[n:]) or n > 0
        if n:
            j.ack(u.name, recs[n - 1]["seq"], n)
        if u.state != "ok":
            self.log("uplink %s: delivering again" % u.name)
        u.state = "ok"
        u.failures = 0
        return n > 0

    def _failed(self, u, e, rest):
        b = self.board
        j = self.journal
        now = b.ticks_ms()
        if e.kind == "unreachable" and not self._online():
            return None
        delay = None
        st = e.status
        if st == 400 and rest:
            # the server refuses the payload itself: skip it, or it would block forever
            n = 1 if u.kind == "sensor_community" else len(rest)
            u.rejected += n
            j.ack(u.name, rest[n - 1]["seq"], 0)
            j.meta.setdefault("rejected", {})[u.name] = j.meta.get("rejected", {}).get(u.name, 0) + n
            self.log("uplink %s: server rejected %d reading(s) (400), skipped" % (u.name, n))
            return True
        if st == 413 and u.batch > 1:
            u.batch = u.batch // 2
            return True
        if st in (401, 403, 404) or e.kind == "auth":
            delay = CONFIG_WAIT_MS
        elif e.retry_after_s is not None and st in (429, 503):
            s = e.retry_after_s
            delay = (1 if s < 1 else (3600 if s > 3600 else s)) * 1000
        else:
            u.failures += 1
            delay = BACKOFF_MIN_MS << min(u.failures - 1, 6)
            if delay > BACKOFF_MAX_MS:
                delay = BACKOFF_MAX_MS
        u.next_try = b.ticks_add(now, delay)
        what = e.kind if st is None else "HTTP %d" % st
        if u.state != what:
            self.log("uplink %s: %s, retrying in %d s (readings kept)" % (u.name, what, delay // 1000))
        u.state = what
        return False

    def status(self):
        j = self.journal
        m = j.meta
        return {"last_seq": j.last_seq, "delivered": m.get("delivered", {}),
                "pending": dict((u.name, j.pending_for(u.name)) for u in self.uplinks),
                "dropped": m.get("dropped", 0), "rejected": m.get("rejected", {}),
                "corrupt_skipped": j.skipped_corrupt, "wifi_reboots": m.get("wifi_reboots", 0),
                "state": dict((u.name, u.state) for u in self.uplinks)}

    def _status(self):
        st = self.status()
        key = json.dumps((st["delivered"], st["state"], st["dropped"], st["rejected"]))
        if key != self._last_status or st["last_seq"] % 12 == 0:
            print(STATUS_PREFIX + json.dumps(st))
            self._last_status = key
