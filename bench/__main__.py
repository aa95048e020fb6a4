"""Run every bench in this package, in name order: ``python -m bench [name ...]``.

A bench is a module here with a ``main()``; helper modules without one are skipped. A bench that
cannot run (e.g. a real part is missing) is reported and the others still run; the exit status
is then 1. Figures are never judged: there is no pass/fail on timings.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback

import bench


def main(argv: list[str]) -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")
    )
    if len(argv) > 1 and argv[0] in names and argv[1].startswith("-"):
        # One bench with its own options (``python -m bench load --steps 300``): pass them on.
        module = importlib.import_module(f"bench.{argv[0]}")
        module.main(argv[1:])
        return 0
    unknown = sorted(set(argv) - set(names))
    if unknown:
        raise SystemExit(f"unknown bench {', '.join(unknown)}; there are: {', '.join(names)}")
    failed: list[str] = []
    total = time.perf_counter()
    for name in argv or names:
        module = importlib.import_module(f"bench.{name}")
        run = getattr(module, "main", None)
        if not callable(run):
            continue  # a helper shared by benches
        print(f"=== bench.{name} ===", flush=True)
        started = time.perf_counter()
        try:
            run()
        except SystemExit as exc:  # a bench's own "cannot run" message
            if exc.code not in (None, 0):
                print(exc.code if isinstance(exc.code, str) else f"exit status {exc.code}")
                failed.append(name)
        except Exception:
            traceback.print_exc(file=sys.stdout)
            failed.append(name)
        print(f"({time.perf_counter() - started:.1f} s)\n", flush=True)
    print(f"all benches: {time.perf_counter() - total:.1f} s", end="")
    print(f"; could not run: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
