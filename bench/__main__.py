"""Run every bench in this package, in name order: ``python -m bench [name ...]``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def main(argv: list[str]) -> None:
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")
    )
    wanted = argv or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise SystemExit(f"unknown bench {', '.join(unknown)}; there are: {', '.join(names)}")
    total = time.perf_counter()
    for name in wanted:
        print(f"=== bench.{name} ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"({time.perf_counter() - started:.1f} s)\n", flush=True)
    print(f"all benches: {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
