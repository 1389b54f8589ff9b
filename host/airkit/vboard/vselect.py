"""The virtual board's ``select`` module (``poll``) over its sockets (``vsocket``), in
virtual time. Its own module, imported only when the firmware first waits on several
connections (``board.select_module()``), so a board that never does pays no heap for it."""

import select as _sel
import time as _t

from vsocket import _check_link, _wall_timeout, _world

POLLIN = _sel.POLLIN
POLLOUT = _sel.POLLOUT
POLLERR = _sel.POLLERR
POLLHUP = _sel.POLLHUP


class poll:
    """``select.poll`` over this module's sockets, in virtual time: a wait that ends with
    something ready advances virtual time by its real duration; one that ends empty by
    the full time the firmware asked for (its real length shortened towards loopback
    servers as the sockets' own timeouts are, never towards an outside endpoint)."""

    def __init__(self):
        self._p = _sel.poll()
        self._socks = []

    def register(self, s, mask=POLLIN | POLLOUT):
        if s not in self._socks:
            self._socks.append(s)
        self._p.register(s._s, mask)

    def modify(self, s, mask):
        self._p.modify(s._s, mask)

    def unregister(self, s):
        if s in self._socks:
            self._socks.remove(s)
            try:
                self._p.unregister(s._s)
            except (OSError, KeyError):
                pass

    def poll(self, timeout=-1):
        _check_link()
        outside = False
        for s in self._socks:
            outside = outside or s._outside
        wall = -1 if timeout is None or timeout < 0 else (
            int(_wall_timeout(timeout / 1000, outside) * 1000) if timeout else 0)
        t0 = _t.ticks_ms()
        got = self._p.poll(wall)
        out = []
        for obj, ev in got:
            for s in self._socks:
                if s._s is obj:
                    out.append((s, ev))
        if out or timeout is None or timeout < 0:
            _world().advance(_t.ticks_diff(_t.ticks_ms(), t0))
        else:
            _world().advance(timeout)
        _check_link()
        return out
