"""Run every benchmark in bench/ and write bench/results.json.

Each ``bench/bench_*.py`` module has ``run(ctx: BenchContext) -> dict[str, Figure]``.
Every figure carries its baseline, measured in the same run on the same machine, and the
ratio value/baseline. Only loopback is used; each benchmark bounds its own time.

    python bench/run.py [--only NAME] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH_DIR))

from common import BenchContext  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", action="append", default=[], help="module name, e.g. bench_echo")
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    args = parser.parse_args()
    ctx = BenchContext(quick=args.quick)
    results_path = BENCH_DIR / "results.json"
    results: dict[str, object] = {}
    if results_path.exists() and args.only:
        results = json.loads(results_path.read_text())
    modules = sorted(BENCH_DIR.glob("bench_*.py"))
    # The echo baseline runs first: other figures divide by it.
    modules.sort(key=lambda p: (p.stem != "bench_echo", p.stem))
    started = time.monotonic()
    try:
        for path in modules:
            if args.only and path.stem not in args.only and path.stem != "bench_echo":
                continue
            spec = importlib.util.spec_from_file_location(path.stem, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module  # spawned helper processes import it by name
            spec.loader.exec_module(module)
            print(f"== {path.stem}", flush=True)
            figures = module.run(ctx)
            for name, figure in figures.items():
                results[name] = figure.as_json()
                print(f"   {name}: {figure.describe()}", flush=True)
    finally:
        ctx.close()
    results["_meta"] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
        "seconds": round(time.monotonic() - started, 1),
        "quick": args.quick,
    }
    results_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {results_path}")


if __name__ == "__main__":
    main()
