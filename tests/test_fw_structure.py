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


def test_config_stays_forgotten_after_start_up_on_micropython():
    out = run_mp("startup_cases.py", args=["test_config_not_imported_again_after_start_up"], vboard=True,
                 timeout=120)
    assert "PASS test_config_not_imported_again_after_start_up" in out
