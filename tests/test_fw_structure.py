"""The firmware's structure: no import cycle between its modules, start-up modules stay
forgotten once the station runs."""

import ast
from pathlib import Path

from conftest import run_mp

FW = Path(__file__).resolve().parents[1] / "firmware"


def _module_name(path: Path) -> str:
    rel = path.relative_to(FW).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path = FW) -> dict[str, set[str]]:
    """module -> the airkit_fw modules it imports, anywhere in it (top level or inside a
    function: a lazy import is still a dependency)."""
    files = {_module_name(p): p for p in (root / "airkit_fw").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module + "." + a.name if node.module + "." + a.name in files else node.module
                           for a in node.names]
            for t in targets:
                if t.startswith("airkit_fw.") and t in files and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    out, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                out.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return out


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_firmware_has_no_import_cycle():
    graph = import_graph()
    assert "airkit_fw.app" in graph and "airkit_fw.services" in graph["airkit_fw.app"]
    found = cycles(graph)
    assert not found, "import cycles in the firmware: " + "; ".join(" -> ".join(c) for c in found)


def test_start_up_never_imports_the_app_or_private_names():
    graph = import_graph()
    assert "airkit_fw.app" not in graph["airkit_fw.services"]
    src = (FW / "airkit_fw" / "services.py").read_text()
    assert "app._" not in src


def test_config_stays_forgotten_after_start_up_on_micropython(tmp_path):
    out = run_mp("startup_cases.py", args=["test_config_not_imported_again_after_start_up"], vboard=True,
                 timeout=120, cwd=tmp_path)
    assert "PASS test_config_not_imported_again_after_start_up" in out


# --- each uplink type is described in one place ----------------------------------------------
ROOT = FW.parent


def test_no_uplink_type_is_named_in_config_selftest_or_doctor():
    """Validation, the self-test and the doctor read what a type declares; none of them has a
    branch (or a table) for an uplink type by name."""
    from airkit_fw.uplinks.registry import TYPES

    for rel in ("firmware/airkit_fw/config.py", "firmware/airkit_fw/selftest.py", "host/airkit/doctor.py"):
        src = (ROOT / rel).read_text()
        for t in TYPES:
            assert '"%s"' % t not in src and "'%s'" % t not in src, "%s names the uplink type %s" % (rel, t)
        assert "._token" not in src and "._hdrs" not in src and "._password" not in src, rel


def test_every_registered_type_declares_itself_and_defaults_are_not_repeated():
    from airkit_fw.uplinks import registry as uplinks

    for t in uplinks.TYPES:
        spec = uplinks.spec(t)
        assert isinstance(spec.CLASS, str) and isinstance(spec.KEYS, dict) and isinstance(spec.REQUIRED, tuple)
        assert isinstance(spec.PROBE_OK, tuple) and None in spec.REMEDY
        code = (FW / (uplinks.module(t).replace(".", "/") + ".py")).read_text()
        for k, v in spec.KEYS.items():
            # a default lives in the declaration only: the class never repeats it
            if v[1] is not None:
                shown = '"%s"' % v[1] if isinstance(v[1], str) else str(v[1])
                for pattern in ('get("%s") or %s' % (k, shown), 'get("%s", %s)' % (k, shown),
                                'DEFAULT_URL = %s' % shown, '"%s") or %s' % (k, shown)):
                    assert pattern not in code, "%s repeats the default of '%s' (%s)" % (t, k, pattern)


DUMMY = '''
from airkit_fw.uplinks.base import Uplink


class Dummy(Uplink):
    kind = "dummy"

    def __init__(self, board, ucfg, station):
        super().__init__(board, ucfg, station)
        self.url = ucfg.get("url")
        self.channel = ucfg.get("channel")
        self._key = ucfg.get("api_key")

    def probe_request(self):
        return self.url, (("X-Key", self._key), ("X-Channel", str(self.channel))), "{}"

    def send(self, records, parts):
        status, retry, body = self.post(records, self.url, (("X-Key", self._key),), "[]")
        self.check(status, retry, body)
        self.ack(records[-1]["seq"])
'''

DUMMY_SPEC = '''
CLASS = "Dummy"
KEYS = {"url": ("str", "http://127.0.0.1:9/dummy"), "channel": ("int", 3), "api_key": ("str", None)}
REQUIRED = ("api_key",)
CHOICES = {"channel": (1, 2, 3)}
PROBE_OK = (418,)
REMEDY = {401: "get a new key for uplink {index}", None: "ask the dummy people"}


def problems(i, u, cfg):
    return ["uplinks[%d] (dummy) wants a device name" % i] if not (cfg.get("device") or {}).get("name") else []
'''


PROBE_MP = """
import socket, time
from airkit_fw import selftest
from airkit_fw.uplinks import registry as uplinks
uplinks.register("dummy", "akx_dummy")


class B:
    def socket_module(self):
        return socket

    def mac(self):
        return b"\\x24\\x0a\\xc4\\x12\\x34\\x56"

    unique_id = mac

    def feed(self):
        pass

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_add(self, a, b):
        return time.ticks_add(a, b)

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def unix_time(self):
        return None

    def sleep_ms(self, ms):
        time.sleep_ms(ms)


url = "%s"
cfg = {"device": {"id": "st-1"}, "uplinks": [{"type": "dummy", "url": url, "api_key": "good"},
                                             {"type": "dummy", "url": url, "api_key": "bad"}]}
selftest.check_uplinks(cfg, B())
"""


def test_a_new_uplink_is_one_module_and_one_registry_line(tmp_path, monkeypatch):
    """A throwaway uplink (its module + declaration, registered here) is validated, built
    with its defaults, probed against a real (loopback) server and given its remedies,
    without any other file knowing it."""
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from types import SimpleNamespace

    from airkit.doctor import uplink_remedy
    from airkit_fw import config, selftest
    from airkit_fw.uplinks import registry as uplinks

    (tmp_path / "akx_dummy.py").write_text(DUMMY)
    (tmp_path / "akx_dummy_spec.py").write_text(DUMMY_SPEC)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(uplinks, "REGISTRY", list(uplinks.REGISTRY))
    monkeypatch.setattr(uplinks, "TYPES", list(uplinks.TYPES))
    uplinks.register("dummy", "akx_dummy")

    p = config.validate({"uplinks": [{"type": "dummy", "channel": 7, "colour": "x"}]})
    text = "\n".join(p)
    assert "needs 'api_key'" in text and "'channel' must be 1 or 2 or 3" in text
    assert "unknown key 'colour'" in text and "wants a device name" in text
    assert "'channel' must be a whole number" in "\n".join(config.validate(
        {"device": {"name": "n"}, "uplinks": [{"type": "dummy", "api_key": "k", "channel": "2"}]}))
    assert config.validate({"device": {"name": "n"}, "uplinks": [{"type": "dummy", "api_key": "k"}]}) == []

    seen = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append((self.path, self.headers.get("X-Key"), self.headers.get("X-Channel")))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(418 if self.headers.get("X-Key") == "good" else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        # the self-test runs on the board: MicroPython, its own sockets, the module found on its path
        url = "http://127.0.0.1:%d/dummy" % srv.server_port
        src = PROBE_MP % url
        (tmp_path / "probe.py").write_text(src)
        out = run_mp(tmp_path / "probe.py", extra_path=[tmp_path], timeout=60)
    finally:
        srv.shutdown()
    from airkit_fw.console import parse_all
    res = parse_all(out, "selftest")
    assert [d["status"] for d in res] == ["ok", "rejected"], out
    assert res[1]["http_status"] == 401 and res[0]["host"] == "127.0.0.1"
    assert seen[0] == ("/dummy", "good", "3")          # built with its declared default channel
    assert uplink_remedy(res[1]) == "get a new key for uplink 1"
    assert uplink_remedy(dict(res[1], http_status=500)) == "ask the dummy people"
