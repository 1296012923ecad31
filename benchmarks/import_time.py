"""Import time: ``import convo`` against ``import anthropic``, each in fresh interpreters.

Run: ``python benchmarks/import_time.py [--runs N] [--no-anthropic] [--no-bytecode]``. Prints the median, min and
max wall time of the import statement alone (timed inside the fresh interpreter, so its start-up is
not counted) and its CPU time (less disturbed on a shared machine), then the whole process, wall
time, of ``python -c pass``, ``python -c "import convo"`` and ``convo --version`` in the same run;
then checks what ``import convo`` pulls in: DESIGN.md promises neither httpx nor hypothesis
(executors and strategies load on demand), and the rules, transforms and codec load on first use.
Bytecode: run ``python -m compileall -q convo`` first (this machine sets PYTHONDONTWRITEBYTECODE);
the script says whether convo's bytecode is there. ``--no-bytecode`` moves convo's ``__pycache__``
folders aside for the run (and back after it), with PYTHONDONTWRITEBYTECODE=1 in every child, so
each interpreter compiles convo from source: the cost of a checkout that never had its bytecode
written.

Figures, issue 14 (2026-12-07, 2-core machine, compiled bytecode, 9 alternating fresh
interpreters, load average ~4): ``import convo`` 116 ms before (main at 46e1d1c: values, rules,
transforms and codec) and 72 ms after (the values only; the rest on first use), against 44 ms
for ``import attrs, orjson`` alone. At load average ~7 this script gave CPU medians of 92 ms for
``import convo`` and 141 ms with codec, rules and transforms; ``convo --version`` 1.5 s wall (it
still imports every command).

Issue 14, start-up (2026-12-07, same machine, 7 fresh interpreters, medians; see README
"Performance" for the figures and the load): ``import convo`` no longer imports attrs (the value
classes are made by ``convo._frozen`` with code generated at build time) and ``convo --version``
imports no command module (``convo.cli.COMMANDS``: each command's module loads when it is chosen
or its parser is read) nor ``importlib.metadata``. The rows ``convo --help`` and ``convo transform
--help`` show what one command's parser costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

PROBE = """
import sys, time
t0, c0 = time.perf_counter(), time.process_time()
{stmt}
t1, c1 = time.perf_counter(), time.process_time()
print(t1 - t0, c1 - c0)
print(" ".join(sorted(m for m in sys.modules)))
"""

MUST_NOT_LOAD = ("httpx", "httpcore2", "hypothesis", "anthropic", "pydantic", "jsonschema", "cattrs",
                 "attrs", "attr", "convo.codec", "convo.rules", "convo.transforms", "convo.profiles")


ENV = dict(os.environ)


def probe(stmt: str) -> tuple[float, float, set[str]]:
    """Seconds (wall, CPU) that *stmt* takes in a fresh interpreter, and the modules loaded after it."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt)], capture_output=True,
                         text=True, check=True, env=ENV).stdout.splitlines()
    wall, cpu = out[0].split()
    return float(wall), float(cpu), set(out[1].split())


def whole(argv: list[str]) -> float:
    """Wall seconds of a whole process, start-up included."""
    t0 = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, env=ENV)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-anthropic", action="store_true", help="skip import anthropic (~1 s each)")
    ap.add_argument("--no-bytecode", action="store_true",
                    help="move convo's __pycache__ folders aside for the run: convo compiled from source")
    args = ap.parse_args(argv)

    import convo.model

    if args.no_bytecode:
        return _without_bytecode(os.path.dirname(convo.model.__file__), lambda: _run(args))
    return _run(args)


def _without_bytecode(package: str, run: Callable[[], int]) -> int:
    """*run* with the ``__pycache__`` folders under *package* moved aside (put back after)."""
    ENV["PYTHONDONTWRITEBYTECODE"] = "1"
    moved: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(dir=os.path.dirname(package)) as aside:  # same file system
        try:
            for i, (folder, dirs, _) in enumerate(os.walk(package)):
                if "__pycache__" in dirs:
                    dirs.remove("__pycache__")
                    src = os.path.join(folder, "__pycache__")
                    dst = os.path.join(aside, str(i))
                    os.rename(src, dst)
                    moved.append((dst, src))
            return run()
        finally:
            for dst, src in moved:
                if not os.path.exists(src):
                    os.rename(dst, src)


def _run(args: argparse.Namespace) -> int:
    import importlib.util

    import convo.model

    compiled = os.path.exists(importlib.util.cache_from_source(convo.model.__file__))
    print(f"Python {sys.version.split()[0]}, {args.runs} fresh interpreters each; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; convo bytecode "
          f"{'compiled' if compiled else 'NOT compiled (run python -m compileall -q convo)'}")
    rows = []
    modules: dict[str, set[str]] = {}
    stmts = [("import convo", "import convo"), ("import convo + codec, rules, every transform",
                                                 # (REGISTRY read whole: every transform's module)
                                                 "import convo.codec, convo.rules, convo.transforms; "
                                                 "len(convo.transforms.REGISTRY)"),
             ("import attrs, orjson", "import attrs, orjson")]
    if not args.no_anthropic:
        stmts.append(("import anthropic", "import anthropic"))
    for label, stmt in stmts:
        times, cpus = [], []
        for _ in range(args.runs):
            t, c, mods = probe(stmt)
            times.append(t)
            cpus.append(c)
            modules[label] = mods
        rows.append((label, statistics.median(times), min(times), max(times), statistics.median(cpus)))

    print(f"{'':40} {'median':>9} {'min':>9} {'max':>9} {'CPU med':>9}   modules")
    for label, med, lo, hi, cpu in rows:
        print(f"{label:40} {med * 1e3:7.1f}ms {lo * 1e3:7.1f}ms {hi * 1e3:7.1f}ms {cpu * 1e3:7.1f}ms   "
              f"{len(modules[label])}")
    if not args.no_anthropic:
        print(f"\nimport convo takes {rows[0][1] / rows[-1][1]:.2f}x the time of import anthropic")

    convo_cmd = os.path.join(os.path.dirname(sys.executable), "convo")
    procs = [("python -c pass", [sys.executable, "-c", "pass"]),
             ("python -c 'import convo'", [sys.executable, "-c", "import convo"])]
    if os.path.exists(convo_cmd):
        procs += [("convo --version", [convo_cmd, "--version"]), ("convo --help", [convo_cmd, "--help"]),
                  ("convo transform --help", [convo_cmd, "transform", "--help"])]
    print(f"\nwhole processes, wall, median of {args.runs}:")
    base = None
    for label, cmd in procs:
        med = statistics.median(whole(cmd) for _ in range(args.runs))
        base = base if base is not None else med
        print(f"{label:40} {med * 1e3:7.1f}ms   (+{(med - base) * 1e3:.1f}ms over python -c pass)")
    print()

    failed = 0
    for name in MUST_NOT_LOAD:
        loaded = sorted(m for m in modules["import convo"] if m == name or m.startswith(name + "."))
        status = "OK  " if not loaded else "FAIL"
        failed += bool(loaded)
        print(f"{status} import convo does not load {name}" + (f" (loaded: {loaded[:3]})" if loaded else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
