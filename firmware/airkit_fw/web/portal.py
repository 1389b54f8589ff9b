"""The setup portal: the station's own access point, a DNS responder and one page.

Runs instead of the measuring loop (``web.portal_if_wanted``), so its heap is
the station's. The access point is ``airkit-XXXX`` (the last two bytes of the
MAC), open, at the chip's AP address (192.168.4.1 on an ESP32). Every DNS
name answers with that address and the operating systems' captive-portal
probes (Android ``/generate_204``, Apple ``/hotspot-detect.html``, Windows
``/connecttest.txt`` and ``/ncsi.txt``, Firefox ``/canonical.html``) are
redirected to the page, so phones show it by themselves.

Heap: the portal's core stays loaded; the config rules (``config.py``) are
loaded only to check and save a form, and the page (``page.py``) only to write
it, each forgotten again afterwards.

The page: networks from a scan (with signal), password, station name,
position (typed, or the browser's location where it allows it on plain HTTP),
Sensor.Community on/off with the node id to register, an airkit collector URL
and token, the local status page on/off. The form is checked with the
firmware's own config rules (``config.validate``: the same rules as
``airkit config validate``), saved write-then-rename (``config.save``) and
the station restarts into measuring. Secrets are never sent to the browser:
password and token fields are always empty; left empty, the stored value is
kept. Without use for ``web.portal_idle_s`` the portal closes and the station
measures (readings already on flash are untouched).
"""

import gc
import json

from airkit_fw.common import forget, get, mask_url
from airkit_fw.web.server import Server, pick_lang, parse_form, LANGS

_PROBES = ("/generate_204", "/gen_204", "/hotspot-detect.html", "/library/test/success.html",
           "/connecttest.txt", "/ncsi.txt", "/redirect", "/canonical.html", "/success.txt")
_STEP_MS = 200           # one wait for a connection; DNS is answered between waits
_MAX_NETS = 12


def ap_name(mac):
    return "airkit-%02X%02X" % (mac[4], mac[5])


def ssid_text(raw):
    """A scanned network name as text (bytes that are no UTF-8 shown as '?')."""
    try:
        return raw.decode()
    except UnicodeError:
        return "".join(chr(c) if 32 <= c < 127 else "?" for c in raw)


class Dns:
    """Answers every A query with the portal's address (others: no answer records)."""

    def __init__(self, sm, ip):
        self.ip = bytes(int(x) for x in ip.split("."))
        s = sm.socket(sm.AF_INET, sm.SOCK_DGRAM)
        s.setsockopt(sm.SOL_SOCKET, sm.SO_REUSEADDR, 1)
        s.bind(sm.getaddrinfo("0.0.0.0", 53)[0][-1])
        s.settimeout(0)
        self.s = s
        self.answered = 0

    def poll(self):
        for _ in range(4):            # bounded: at most 4 queries per turn
            try:
                data, addr = self.s.recvfrom(512)
            except OSError:
                return
            r = reply(data, self.ip)
            if r is not None:
                try:
                    self.s.sendto(r, addr)
                    self.answered += 1
                except OSError:
                    pass

    def close(self):
        self.s.close()


def reply(q, ip):
    """The DNS answer to query q (bytes), or None for anything that is not a query."""
    n = len(q)
    if n < 17 or q[2] & 0x80 or q[5] != 1 or q[4] != 0:
        return None
    i = 12
    while i < n and q[i]:
        if q[i] & 0xC0:
            return None
        i += q[i] + 1
    if i + 5 > n:
        return None
    qtype = q[i + 1] << 8 | q[i + 2]
    a = 1 if qtype == 1 else 0
    out = q[:2] + b"\x81\x80\x00\x01\x00" + bytes((a,)) + b"\x00\x00\x00\x00" + q[12:i + 5]
    if a:
        out += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + ip
    return out


def _drop(*names):
    """Forget modules to give their heap back (``common.forget``), and collect."""
    forget(names)
    gc.collect()


def _drop_rules():
    """Forget the config rules and what checking a form loaded (the uplink types' declarations)."""
    import sys
    reg = sys.modules.get("airkit_fw.uplinks.registry")
    if reg is not None:
        reg.forget_specs()
    _drop("config", "uplinks.registry", "uplinks")


def _config():
    from airkit_fw import config
    return config




def _read_user(board):
    try:
        with open(board.path("config.json")) as f:
            u = json.loads(f.read())
        return u if isinstance(u, dict) else {}
    except Exception:
        return {}


def _uplink(user, kind):
    for u in user.get("uplinks") or ():
        if isinstance(u, dict) and u.get("type") == kind:
            return u
    return None


def shown(user):
    """What the page shows of a config: never a secret (only whether one is stored)."""
    sc = _uplink(user, "sensor_community")
    aj = _uplink(user, "airkit_json")
    aj_on = aj is not None and aj.get("enabled", True) is not False
    return {"ssid": get(user, "wifi.ssid") or "", "has_pw": bool(get(user, "wifi.password")),
            "name": get(user, "device.name") or "", "lat": _num(get(user, "location.lat")),
            "lon": _num(get(user, "location.lon")),
            "sc": sc is not None and sc.get("enabled", True) is not False,
            "url": mask_url(aj.get("url") or "") if aj_on else "",
            "has_token": aj is not None and bool(aj.get("token")), "status": bool(get(user, "web.status"))}


def _num(v):
    return "" if v is None else str(v)


def apply_form(user, form):
    """The user's config with the form applied (secrets: empty keeps the stored one).
    Returns (config, problems) with problems in the config rules' words."""
    config = _config()
    problems = []
    ssid = (form.get("ssid") or "").strip() or (form.get("ssid_other") or "").strip()
    old_ssid = config.get(user, "wifi.ssid") or ""
    if ssid:
        config.put(user, "wifi.ssid", ssid)
    pw = form.get("password") or ""
    if pw:
        config.put(user, "wifi.password", pw)
    elif ssid and ssid != old_ssid and form.get("open"):
        config.put(user, "wifi.password", "")
    name = (form.get("name") or "").strip()
    if name or config.get(user, "device.name"):
        config.put(user, "device.name", name)
    for key in ("lat", "lon"):
        v = (form.get(key) or "").strip()
        loc = user.get("location") if isinstance(user.get("location"), dict) else None
        if not v:
            if loc is not None:
                loc.pop(key, None)
            continue
        try:
            config.put(user, "location." + key, float(v))
        except ValueError:
            problems.append("'location.%s' must be a number, not %r" % (key, v[:20]))
    ups = user.get("uplinks")
    if not isinstance(ups, list):
        ups = []
        user["uplinks"] = ups
    sc = _uplink(user, "sensor_community")
    if form.get("sc"):
        if sc is None:
            ups.append({"type": "sensor_community"})
        else:
            sc["enabled"] = True
    elif sc is not None:
        sc["enabled"] = False
    url = (form.get("url") or "").strip()
    aj = _uplink(user, "airkit_json")
    if url:
        if aj is None:
            aj = {"type": "airkit_json"}
            ups.append(aj)
        if url != config.mask_url(aj.get("url") or ""):     # the masked URL shown: unchanged
            aj["url"] = url
        aj["enabled"] = True
        tok = form.get("token") or ""
        if tok:
            aj["token"] = tok
    elif aj is not None:
        aj["enabled"] = False
    config.put(user, "web.status", bool(form.get("status")))
    if not problems:
        problems = config.validate(user)
    return user, problems


class Portal:
    def __init__(self, board, why):
        self.board = board
        self.why = why
        net = board.network()
        self.mac = board.mac()
        self.name = ap_name(self.mac)
        ap = net.WLAN(net.WLAN.IF_AP)      # first: a chip whose AP cannot start costs nothing more
        ap.active(True)
        try:
            ap.config(essid=self.name, authmode=getattr(net, "AUTH_OPEN", 0))
        except (OSError, ValueError, TypeError):
            ap.config(essid=self.name)
        self.ap = ap
        from airkit_fw.uplinks.fmt import chip_id     # the id rule lives with the uplink; its module
        self.node = "esp32-" + chip_id(self.mac)       # (and the decoder it imports) is then forgotten
        _drop("uplinks.fmt", "uplinks", "pms5003")
        sta = board.wlan()
        self.nets = []
        try:
            sta.active(True)
            self.scan(sta)
        except OSError:
            pass
        self.sta = sta
        self.ip = ap.ifconfig()[0]
        user = _read_user(board)
        idle = (user.get("web") or {}).get("portal_idle_s") if isinstance(user.get("web"), dict) else None
        self.idle_ms = idle * 1000 if isinstance(idle, int) and 60 <= idle <= 3600 else 600000
        self.show = shown(user)
        user = None
        _drop("config")
        self.saved = None
        self.server = Server(board, 80)
        self.server.open()
        self.dns = Dns(self.server.sm, self.ip)

    def scan(self, sta):
        seen = {}
        for n in sta.scan():
            s = ssid_text(n[0])
            if s and (s not in seen or seen[s] < n[3]):
                seen[s] = n[3]
        nets = sorted(seen.items(), key=lambda kv: -kv[1])
        self.nets = nets[:_MAX_NETS]

    def run(self):
        b = self.board
        print("airkit: setup portal: join the WiFi %s and open http://%s/ (closes after %d s without use)"
              % (self.name, self.ip, self.idle_ms // 1000))
        last = b.ticks_ms()
        while b.ticks_diff(b.ticks_ms(), last) < self.idle_ms:
            b.feed()
            self.dns.poll()
            if self.server.serve_once(_STEP_MS, self.handle):
                last = b.ticks_ms()
                gc.collect()
            if self.saved:
                break
        self.close()
        if self.saved:
            print("airkit: setup portal: settings saved; restarting into measuring")
        else:
            print("airkit: setup portal closed after %d s without use; measuring" % (self.idle_ms // 1000))
            if self.why == "no wifi":
                with open(b.path("NOPORTAL"), "w") as f:
                    f.write("1")
        b.sleep_ms(300)
        b.reset()

    def close(self):
        self.server.close()
        self.dns.close()
        try:
            self.ap.active(False)
        except OSError:
            pass

    # --- answers -------------------------------------------------------------------------
    def handle(self, req, out):
        p = req.path
        if p in _PROBES:
            # anything but the OS's expected answer: the phone shows the sign-in page
            return out.start("302 Found", "text/plain", "Location: http://%s/\r\n" % self.ip)
        if p == "/save" and req.method == "POST":
            return self.save(req, out)
        if p == "/rescan":
            try:
                self.scan(self.sta)
            except OSError:
                pass
            return out.start("303 See Other", "text/plain", "Location: /\r\n")
        if p in ("/", "/index.html") and req.method in ("GET", "HEAD"):
            return self.page(out, pick_lang(req), self.show, None, "200 OK")
        out.start("404 Not Found", "text/plain")
        out.w("not found\n")

    def save(self, req, out):
        lang = req.arg("lang") or pick_lang(req)
        form = parse_form(req.body)
        req.body = None
        if form.get("lang") in LANGS:
            lang = form["lang"]
        gc.collect()                     # the rules' peak comes next: start it from a clean heap
        user, problems = apply_form(_read_user(self.board), form)
        form = None
        if problems:
            show = shown(user)
            user = None
            _drop_rules()
            return self.page(out, lang, show, problems, "400 Bad Request")
        _config().save(user, self.board.path("config.json"))
        self.saved = _config().get(user, "wifi.ssid")
        user = None
        _drop_rules()
        return self.page(out, lang, None, None, "200 OK")

    def page(self, out, lang, show, problems, status):
        """The form (``show``), or the saved page (``show`` None): written by page.py,
        loaded for this and forgotten again."""
        from airkit_fw.web import page
        try:
            page.write(self, out, lang, show, problems, status)
        finally:
            page = None
            _drop("web.page")


def run(board, why):
    try:
        p = Portal(board, why)
    except BaseException:
        try:                     # never leave the access point up for a portal that is not there
            net = board.network()
            net.WLAN(net.WLAN.IF_AP).active(False)
        except Exception:
            pass
        raise
    board.start_watchdog()       # every wait in the portal is far below it
    p.run()
