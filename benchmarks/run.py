"""Run every benchmark (``benchmarks/bench_*.py``), print the figures and record them.

Each module exposes ``run() -> {metric_name: number}``. Results are merged into
``benchmarks/results/latest.json`` ({metric: number}); the command and module
that produced each figure go to ``benchmarks/results/commands.json``.
Usage: ``make bench`` or ``python benchmarks/run.py [name ...]`` (e.g. ``foundation``).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main(argv: list[str]) -> int:
    wanted = set(argv)
    modules = sorted(HERE.glob("bench_*.py"))
    latest_path = RESULTS / "latest.json"
    commands_path = RESULTS / "commands.json"
    RESULTS.mkdir(exist_ok=True)
    latest = json.loads(latest_path.read_text()) if latest_path.exists() else {}
    commands = json.loads(commands_path.read_text()) if commands_path.exists() else {}
    failed = []
    for path in modules:
        name = path.stem[len("bench_"):]
        if wanted and name not in wanted:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        print("== %s" % path.name, flush=True)
        t0 = time.perf_counter()
        try:
            spec.loader.exec_module(mod)
            figures = mod.run() or {}
        except Exception:
            traceback.print_exc()
            failed.append(path.name)
            continue
        for metric, value in figures.items():
            print("  %-40s %s" % (metric, value), flush=True)
            latest[metric] = value
            commands[metric] = "make bench (python benchmarks/run.py %s -> %s)" % (name, path.name)
        print("  (%.1f s)" % (time.perf_counter() - t0), flush=True)
    latest_path.write_text(json.dumps(dict(sorted(latest.items())), indent=2) + "\n")
    commands_path.write_text(json.dumps(dict(sorted(commands.items())), indent=2) + "\n")
    if failed:
        print("benchmarks that failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
