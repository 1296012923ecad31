"""Import time: ``import convo`` against ``import anthropic``, each in fresh interpreters.

Run: ``python benchmarks/import_time.py [--runs N]``. Prints the median, min and max wall time of
the import statement alone (timed inside the fresh interpreter, so its start-up is not counted),
then checks what ``import convo`` pulls in: DESIGN.md promises neither httpx nor hypothesis (executors
and strategies load on demand), and this prints OK or FAIL for each.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

PROBE = """
import sys, time
t0 = time.perf_counter()
{stmt}
t1 = time.perf_counter()
print(t1 - t0)
print(" ".join(sorted(m for m in sys.modules)))
"""

MUST_NOT_LOAD = ("httpx", "httpcore2", "hypothesis", "anthropic", "pydantic", "jsonschema")


def probe(stmt: str) -> tuple[float, set[str]]:
    """Seconds that *stmt* takes in a fresh interpreter, and the modules loaded after it."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt)], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return float(out[0]), set(out[1].split())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)

    rows = []
    modules: dict[str, set[str]] = {}
    for label, stmt in (("import convo", "import convo"), ("import anthropic", "import anthropic"),
                        ("import attrs, cattrs, orjson", "import attrs, cattrs, orjson")):
        times = []
        for _ in range(args.runs):
            t, mods = probe(stmt)
            times.append(t)
            modules[label] = mods
        rows.append((label, statistics.median(times), min(times), max(times)))

    print(f"Python {sys.version.split()[0]}, {args.runs} fresh interpreters each")
    print(f"{'':30} {'median':>9} {'min':>9} {'max':>9}   modules")
    for label, med, lo, hi in rows:
        print(f"{label:30} {med * 1e3:7.1f}ms {lo * 1e3:7.1f}ms {hi * 1e3:7.1f}ms   "
              f"{len(modules[label])}")
    convo_med = rows[0][1]
    anthropic_med = rows[1][1]
    print(f"\nimport convo takes {convo_med / anthropic_med:.2f}x the time of import anthropic")

    failed = 0
    for name in MUST_NOT_LOAD:
        loaded = sorted(m for m in modules["import convo"] if m == name or m.startswith(name + "."))
        status = "OK  " if not loaded else "FAIL"
        failed += bool(loaded)
        print(f"{status} import convo does not load {name}" + (f" (loaded: {loaded[:3]})" if loaded else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
