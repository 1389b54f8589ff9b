"""Delivery from the journal to every configured uplink, and the uplink base class.

Why this exists: several uplinks run at once; one that is down (a dead
server, a full quota, a TLS failure) must never hold back another or starve
the watchdog, a backlog must drain even when the server fails now and then,
and nothing a server acknowledged may be sent to it again (Sensor.Community
and openSenseMap store every resend as a second row).

Progress is kept **per acknowledged piece**: a cursor (seq, parts) per
uplink says every reading up to ``seq`` is done and which independent pieces
of reading ``seq + 1`` are done (Sensor.Community: the PM push and the
DHT22 push, each its own piece; batch APIs: whole records, as many as the
server acknowledged). The cursor is written after every acknowledged piece
to a tiny file (``j/c<name>``, a few bytes: littlefs keeps it inline in the
directory log, so no data block is erased), so a power cut between a 2xx and
the save re-sends at most that one piece.

What a server answer means is decided by the uplink (``classify``), one of:

- ``OK``;
- ``CONFIG``: a registration, credential or configuration problem (403
  unknown node, 401 bad token, openSenseMap's 400 sensor not in box): the
  readings are kept and the uplink waits ``CONFIG_WAIT_MS``; the message says
  what to fix;
- ``REJECTED``: the server refuses this payload itself (400/422): a batch is
  halved until the offending reading is found, and only that reading (or
  that Sensor.Community push) is skipped and counted in ``rejected``;
- ``RETRY``: 5xx, 429, timeouts, resets: retried after ``Retry-After`` when
  the server sent one (1 s..1 h); else the first failure after progress is
  retried at once (``FIRST_RETRY_MS``; a 429 waits ``RETRY_MIN_MS``), then
  the wait starts at ``RETRY_MIN_MS`` (0.5 s) and doubles only while
  nothing gets through; **any**
  acknowledged piece resets it, so 10 % random server errors cost a few
  seconds each instead of stalling the backlog; a failed *connect* (refused,
  no route, connect timeout, DNS) is never retried at once: it waits
  ``CONNECT_RETRY_MS`` (2 s), doubling while it fails;
- 413 (too large): the batch is halved.

The WiFi being down is not an uplink failure: nothing is tried until it is
back, then backfill starts at once. Each exchange has its own deadline and
every socket operation a timeout; ``poll`` stops starting new exchanges when
the next reading is closer than ``MARGIN_MS``.
"""

import json
import sys

try:
    from micropython import const
except ImportError:
    def const(v):
        return v

from airkit_fw.uplinks.net import NetError

OK = const(0)
CONFIG = const(1)
REJECTED = const(2)
RETRY = const(3)
VERDICTS = ("ok", "config", "rejected", "retry")

FIRST_RETRY_MS = const(50)
CONNECT_RETRY_MS = const(2000)   # first wait after a failed connect (doubling while it fails)
RETRY_MIN_MS = const(500)
BACKOFF_MAX_MS = const(1800000)
CONFIG_WAIT_MS = const(1800000)
_WAIT_MOST_MS = const(3600000)   # the longest next_try ever set (a Retry-After of 1 h)
MARGIN_MS = const(20000)
MEM_CRASH = const(3)    # MemoryErrors in a row at one reading per batch: counted as a crash
from airkit_fw.console import STATUS as STATUS_PREFIX   # the console line protocol
_REASON_MAX = const(120)


def http_verdict(status):
    """The generic meaning of an HTTP status (uplinks refine it in ``classify``)."""
    if 200 <= status < 300:
        return OK
    if status in (401, 403, 404, 407):
        return CONFIG
    if status in (400, 409, 415, 422):
        return REJECTED
    return RETRY


def short(body):
    """A server's reason, as one short printable line."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode()
        except UnicodeError:
            return ""
    body = " ".join(body.split())
    return body[:_REASON_MAX]


class Uplink:
    """Base of every uplink. A subclass sets ``kind`` and ``batch`` and implements
    ``send(records, parts)``: deliver the records in order, calling
    ``self.ack(seq, parts)`` after each acknowledged piece (``parts`` 0: the
    whole reading ``seq`` is done; else the bit mask of its pieces done so far),
    and ``self.trying(records, bit)`` before each request (what a refusal
    would refer to). A failed exchange raises ``NetError`` (``status`` and
    ``body`` set for an HTTP answer)."""

    kind = ""
    batch = 20
    all_parts = 1
    streamed = False    # True: send() only iterates the records (or indexes them) and keeps none

    def __init__(self, board, ucfg, station):
        self.board = board
        self.cadata = ucfg.get("ca")
        self.max_batch = self.batch
        self.failures = 0
        self.next_try = 0
        self.state = "ok"
        self.reason = ""
        self.rejected = 0
        self.skipped = 0
        self.cur = 0            # every reading <= cur is done
        self.parts = 0          # pieces of reading cur + 1 already done
        self.sink = None        # the delivery loop (set by Uplinks)
        self.trying_recs = None
        self.trying_bit = 0
        self.mem_errors = 0     # MemoryErrors in a row with batches of one reading

    # --- called by send() ---------------------------------------------------------
    def ack(self, seq, parts=0, delivered=True):
        if self.sink is not None:
            self.sink.acked(self, seq, parts, delivered)

    def trying(self, recs, bit=0):
        self.trying_recs = recs
        self.trying_bit = bit

    def post(self, recs, url, headers, body, bit=0):
        """One POST carrying ``recs`` (piece ``bit``): (status, retry_after_s, body)."""
        from airkit_fw.uplinks import http
        self.trying(recs, bit)
        return http.request(self.board, "POST", url, headers, body, self.cadata)

    def check(self, status, retry_after, body):
        """Raise NetError unless the answer is a success."""
        if status < 200 or status >= 300:
            raise NetError("http", "status %d" % status, retry_after, status, body)

    # --- answers --------------------------------------------------------------------
    def classify(self, status, body=b""):
        """(verdict, message) for an HTTP answer; verdict OK, CONFIG, REJECTED or RETRY.
        The message says what happened and, for CONFIG, what to do."""
        v = http_verdict(status)
        why = short(body)
        if v == OK:
            return OK, "accepted (HTTP %d)" % status
        if v == CONFIG:
            return CONFIG, "HTTP %d %s: check the uplink's address and credentials" % (status, why)
        if v == REJECTED:
            return REJECTED, "HTTP %d %s: the server refused this payload" % (status, why)
        return RETRY, "HTTP %d %s: the server is busy or failing, retrying later" % (status, why)

    def test(self, rec):
        """One real upload of ``rec`` (a journal record dict) for a self-test:
        (verdict name, message). Nothing is acknowledged in any journal."""
        sink = self.sink
        self.sink = None
        try:
            self.send([rec], 0)
        except NetError as e:
            if e.status is not None:
                v, msg = self.classify(e.status, e.body)
                return VERDICTS[v], msg
            return "retry", "%s %s: no answer from the server" % (e.kind, e.detail)
        finally:
            self.sink = sink
        return "ok", self.reason or "accepted"

    def send(self, records, parts):
        raise NotImplementedError

    # --- the doctor's probe ------------------------------------------------------------
    def probe_request(self):
        """(url, headers, body) of a request the server answers without storing anything
        (HTTP uplinks; the uplink's own URL and credentials)."""
        return self.url, (("Content-Type", "application/json"),), ""

    def probe(self, ok, d):
        """Ask the server whether it would accept this station, sending no reading: fills
        ``d`` with ``host``, ``port`` (first), then ``status`` ok, rejected, server_error
        and ``http_status``.
        ``ok``: the answers to this storing-nothing request that prove the server knows the
        station (the type's ``PROBE_OK``). Network errors are raised (``NetError``, ``OSError``).
        MQTT uplinks override this with a CONNECT that publishes nothing."""
        from airkit_fw.uplinks import http
        from airkit_fw.uplinks.net import parse_url
        url, hdrs, body = self.probe_request()
        _, d["host"], d["port"], _ = parse_url(url)
        status = http.request(self.board, "POST", url, hdrs, body, self.cadata)[0]
        d["http_status"] = status
        if status < 300 or status in ok or status == 429:
            d["status"] = "ok"
        elif status >= 500:
            d["status"] = "server_error"
        else:
            d["status"] = "rejected"
        return d


def _cursor_text(seq, parts):
    return "%d %d %d\n" % (seq, parts, (seq * 7 + parts * 131 + 12345) & 0xFFFF)


class Uplinks:
    """The station's uplink service: ``poll(deadline)`` between readings."""

    def __init__(self, board, journal, uplinks, wifi=None, log=print):
        self.board = board
        self.journal = journal
        self.uplinks = uplinks
        self.wifi = wifi
        self.log = log
        self._last_status = None
        self._was_online = False
        for u in uplinks:
            u.sink = self
            u.next_try = board.ticks_ms()
            u.cur = journal.cursor(u.name)
            u.parts = 0
            got = self._load_cursor(u)
            if got is not None and got[0] >= u.cur:
                # the cursor file is saved at every acknowledged piece, the journal's meta less
                # often: what it is ahead by was delivered before a power cut (count it, so
                # `delivered` never rolls back)
                dl = journal.meta.setdefault("delivered", {})
                dl[u.name] = dl.get(u.name, 0) + got[0] - u.cur
                u.cur, u.parts = got
                journal.meta["cursors"][u.name] = u.cur

    # --- cursors (one tiny file per uplink, rewritten at every acknowledged piece) ----
    def _cursor_path(self, u):
        name = "".join(c if c.isalpha() or c.isdigit() or c in "_-" else "_" for c in u.name)
        return self.journal.dir + "/c" + name

    def _load_cursor(self, u):
        try:
            with open(self._cursor_path(u)) as f:
                t = f.read()
            v = t.split()
            seq, parts = int(v[0]), int(v[1])
            if _cursor_text(seq, parts) == t:
                return seq, parts
        except (OSError, ValueError, IndexError):
            pass
        return None

    def _save_cursor(self, u):
        text = _cursor_text(u.cur, u.parts)
        for attempt in (0, 1):
            try:
                with open(self._cursor_path(u), "w") as f:     # littlefs needs a file buffer: RAM
                    f.write(text)
                return
            except MemoryError:
                # a fragmented heap: collect and try once more, else keep going (the journal's
                # own cursor copy is saved every few minutes; a power cut may then resend more)
                import gc
                gc.collect()
            except OSError as e:
                self.log("uplink %s: cannot save its cursor (%s)" % (u.name, e))
                return

    def acked(self, u, seq, parts, delivered=True):
        """An uplink acknowledged a piece: move its cursor and save it."""
        if parts and parts != u.all_parts:
            u.cur = seq - 1
            u.parts = parts
        else:
            n = seq - u.cur
            u.cur = seq
            u.parts = 0
            self.journal.ack(u.name, seq, n if delivered and n > 0 else 0)
            trial = sys.modules.get("otaboot") if delivered else None   # an update on trial (main.py)
            if trial is not None and trial.on_trial():
                trial.healthy()                   # a reading taken and an upload acknowledged: confirmed
        if u.failures:
            u.failures = 0
        self._save_cursor(u)

    # --- the loop -----------------------------------------------------------------------
    def on_reading(self, d):
        pass

    def _online(self):
        return self.wifi is None or self.wifi.isconnected()

    def poll(self, deadline):
        b = self.board
        if not self.uplinks:
            return
        online = self._online()
        if online and not self._was_online:
            self._last_status = None     # back online: say so at once (backfill starts now)
            self._status()
        self._was_online = online
        while True:
            if b.ticks_diff(deadline, b.ticks_ms()) < MARGIN_MS or not self._online():
                break
            progressed = False
            offline = False
            for u in self.uplinks:
                if b.ticks_diff(deadline, b.ticks_ms()) < MARGIN_MS:
                    break
                if b.left_ms(u.next_try, _WAIT_MOST_MS):
                    continue
                r = self._step(u)
                if r is None:            # the network went away
                    offline = True
                    break
                progressed = progressed or r
            if progressed:
                continue
            if offline:
                break
            # the earliest retry of an uplink that still has readings to send (including
            # one that failed just now: a short retry must not wait for the next reading)
            wait_ms = None
            now = b.ticks_ms()
            for u in self.uplinks:
                if self.journal.last_seq > u.cur:
                    left = b.left_ms(u.next_try, _WAIT_MOST_MS)
                    if wait_ms is None or left < wait_ms:
                        wait_ms = left
            if wait_ms == 0:
                wait_ms = None           # ready but made no progress (nothing it could send): stop
            # nothing moved: sleep until the earliest back-off ends, if that fits before the next reading
            if wait_ms is not None and b.ticks_diff(deadline, b.ticks_add(b.ticks_ms(), wait_ms)) >= MARGIN_MS:
                b.sleep_ms(wait_ms)
                continue
            break
        self._status()

    def _step(self, u):
        """Deliver one batch. True: progress; False: nothing to do or failed; None: offline."""
        j = self.journal
        c = j.cursor(u.name)
        if c > u.cur:                    # the journal dropped readings this uplink never got
            u.cur = c
            u.parts = 0
        before = (u.cur, u.parts)
        recs = None
        u.trying_recs = None
        try:
            # streamed: read record by record as sent (no batch of dicts in the heap)
            recs = j.batch(u.cur, u.batch) if u.streamed else j.read_after(u.cur, u.batch)
            if not recs:
                return False
            u.send(recs, u.parts if recs[0]["seq"] == u.cur + 1 else 0)
        except MemoryError:
            # A big backfill batch does not fit in this board's RAM: halve it and go on
            # (nothing is lost: the cursor has not moved past an unsent reading).
            recs = None
            u.trying_recs = None
            import gc
            gc.collect()
            if u.batch > 1:
                u.batch = u.batch // 2
                self.log("uplink %s: low on memory, batches of %d now" % (u.name, u.batch))
                return True
            u.mem_errors += 1
            if u.mem_errors >= MEM_CRASH:
                # not even one reading fits, again and again: a station alive but silent is the
                # worst outcome. Raised to the app, whose crash rule saves the counters, waits
                # (longer after each crash in a row) and resets: a fresh heap (readings kept).
                raise MemoryError("uplink %s cannot get the memory to send one reading" % u.name)
            return self._failed(u, NetError("error", "MemoryError")) or (u.cur, u.parts) != before
        except NetError as e:
            recs = None
            return self._failed(u, e) or (u.cur, u.parts) != before
        except Exception as e:       # e.g. TLS/ENOMEM surfacing late, or a bug: never crash the station
            recs = None
            return self._failed(u, NetError("error", type(e).__name__)) or (u.cur, u.parts) != before
        recs = None
        u.trying_recs = None
        u.mem_errors = 0
        if u.state != "ok":
            self.log("uplink %s: delivering again" % u.name)
        u.state = "ok"
        u.failures = 0
        return (u.cur, u.parts) != before

    def _failed(self, u, e):
        b = self.board
        now = b.ticks_ms()
        if e.kind == "unreachable" and not self._online():
            return None
        st = e.status
        if st is not None:
            verdict, msg = u.classify(st, e.body)
        elif e.kind == "auth":
            verdict, msg = CONFIG, e.detail or "the server refused the credentials"
        else:
            verdict, msg = RETRY, e.kind
        recs = u.trying_recs
        u.trying_recs = None
        if verdict == REJECTED and recs:
            if len(recs) > 1:
                # find the reading the server refuses: halve the batch until it is alone
                u.batch = len(recs) // 2
                return True
            seq = recs[0]["seq"]
            stored = False               # another piece of this reading was stored: it counts as delivered
            if u.trying_bit:
                before = u.parts if seq == u.cur + 1 else 0
                stored = before != 0
                parts = before | u.trying_bit
                done = parts == u.all_parts
            else:
                done = True
            u.rejected += 1
            rj = self.journal.meta.setdefault("rejected", {})
            rj[u.name] = rj.get(u.name, 0) + 1
            self.acked(u, seq, 0 if done else parts, stored)
            u.batch = u.max_batch
            u.reason = msg
            self.log("uplink %s: reading %d refused by the server, skipped (%s)" % (u.name, seq, msg))
            return True
        if st == 413 and u.batch > 1:
            u.batch = u.batch // 2
            return True
        if verdict == CONFIG:
            delay = CONFIG_WAIT_MS
        elif e.retry_after_s is not None and st in (429, 503):
            s = e.retry_after_s
            delay = (1 if s < 1 else (3600 if s > 3600 else s)) * 1000
        elif st is None and (e.detail == "connect" or e.kind == "dns" or e.kind == "refused"):
            # no connection at all (refused, no route, connect timeout): the server is down or out of
            # reach, and the next piece would fail the same way: back off, never retry at once
            u.failures += 1
            delay = CONNECT_RETRY_MS << min(u.failures - 1, 12)
            if delay > BACKOFF_MAX_MS:
                delay = BACKOFF_MAX_MS
        else:
            u.failures += 1
            if u.failures == 1 and st != 429:
                # the first failure after progress (one 5xx, one lost answer): try again almost at once
                delay = FIRST_RETRY_MS
            else:
                delay = RETRY_MIN_MS << min(u.failures - (1 if st == 429 else 2), 12)
            if delay > BACKOFF_MAX_MS:
                delay = BACKOFF_MAX_MS
        u.next_try = b.ticks_add(now, delay)
        what = e.kind if st is None else "HTTP %d" % st
        if verdict == CONFIG:
            u.reason = msg
        if u.state != what:
            self.log("uplink %s: %s, retrying in %d s (readings kept)%s"
                     % (u.name, what, delay // 1000, (": " + msg) if verdict == CONFIG else
                        (" (%s)" % e.detail if st is None and e.detail else "")))
        u.state = what
        return False

    def status(self):
        j = self.journal
        m = j.meta
        st = {"last_seq": j.last_seq, "delivered": m.get("delivered", {}),
              "pending": dict((u.name, j.last_seq - u.cur) for u in self.uplinks),
              "dropped": m.get("dropped", 0), "rejected": m.get("rejected", {}),
              "corrupt_skipped": j.skipped_corrupt, "wifi_reboots": m.get("wifi_reboots", 0),
              "state": dict((u.name, u.state) for u in self.uplinks), "time": self.board.unix_time(),
              "online": self._online()}
        reasons = dict((u.name, u.reason) for u in self.uplinks if u.reason)
        if reasons:
            st["reason"] = reasons
        return st

    def _status(self):
        st = self.status()
        # pending is in the key: the last line printed always shows the real backlog
        key = json.dumps((st["delivered"], st["pending"], st["state"], st["dropped"], st["rejected"],
                          st.get("reason"), st["online"]))
        if key != self._last_status or st["last_seq"] % 12 == 0:
            print(STATUS_PREFIX, end="")      # straight to the console: no line-sized string
            json.dump(st, sys.stdout)
            print()
            self._last_status = key
