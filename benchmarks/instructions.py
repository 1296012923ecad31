"""Instruction counts: convo's load, dump, edits and ``convo transform``'s line against raw orjson
doing the same, counted by valgrind's callgrind instead of timed.

Run: ``python benchmarks/instructions.py [--lines N] [--before DIR] [--rows ...]`` (needs
``valgrind``: Debian's ``valgrind`` package). Prints a table of instructions per request and
their ratio to raw orjson.

Timed cells on a shared 2-core machine swing ±15% from run to run even as medians (see
``benchmarks/codec.py``); an instruction count is the same every run, so a change can be judged
by it in one go. It is not time: Python's instructions run slower than orjson's C, so a ratio in
instructions is higher than the same ratio in time (0.77 against 0.63-0.68 for the CLI line,
2026-12-07). Report both.

Each cell runs a child process twice under callgrind, once doing only its set-up (imports, the
corpus read, one warm-up pass) and once doing the set-up and then the work twice; the difference
divided by the requests done is the cell. ``PYTHONHASHSEED=0``; convo's bytecode is compiled
first (``compileall``), since a module compiled from source in one of the two runs would count.

Rows: ``orjson`` (the floor: ``orjson.loads`` / ``dumps``, edits on dicts), ``convo``, ``pure``
(convo with ``CONVO_PURE_PYTHON=1``), ``before`` (an older convo as ``convo_base`` in DIR, made as
``benchmarks/codec.py``'s ``ConvoBefore`` says). Ops: ``load``, ``dump`` (of an untouched
request), ``load+dump``, ``edits`` (load, the codec benchmark's three transforms, dump) and
``line`` (``convo transform``'s work on one line, with ``benchmarks/cli.py``'s pipeline; the
floor is that benchmark's plain script) and ``validate`` (``convo validate``'s work on one line,
for claude-sonnet-4-5 under API 2023-06-01; the floor is ``orjson.loads`` alone, the parse-only
loop of ``benchmarks/validate_cli.py``).
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OPS = ("load", "dump", "load+dump", "edits", "line", "validate")


def child(row: str, op: str, corpus: str, work: bool) -> None:
    """The measured process: set-up, a warm-up pass, then (if *work*) the op twice."""
    import orjson

    sys.path.insert(0, str(HERE))
    import cli as cli_bench
    import codec as codec_bench

    lines = Path(corpus).read_bytes().splitlines()
    if row == "orjson":
        load, dump, edit = orjson.loads, orjson.dumps, codec_bench.raw_edits
        ns: dict[str, object] = {}
        exec(cli_bench.PLAIN_SCRIPT.split("with open")[0], ns)  # noqa: S102 - the benchmark's own script
        plain = ns["edit"]

        def line_fn(i: int, raw: bytes) -> None:
            orjson.dumps(plain(orjson.loads(raw)))  # type: ignore[operator]

        def validate_fn(i: int, raw: bytes) -> None:
            orjson.loads(raw)  # (the floor of convo validate: a parse-only loop)
    else:
        if row == "before":
            import convo_base as cv  # type: ignore[import-not-found]
            from convo_base import transforms as t  # type: ignore[import-not-found]
            from convo_base.stream.ops import TransformOp, ValidateOp  # type: ignore[import-not-found]
        else:
            import convo as cv
            from convo import transforms as t
            from convo.stream.ops import TransformOp, ValidateOp
        load, dump = cv.loads, cv.dumps
        edit = t.pipeline(t.drop_images(), t.strip_thinking(), t.inject_system(codec_bench.SYSTEM_ADDITION, where="top"))
        op_ = TransformOp(specs=cli_bench.PIPELINE)
        stats = op_.new_stats()
        out: list[bytes] = []
        rejects: list[bytes] = []

        def line_fn(i: int, raw: bytes) -> None:
            op_.line("f", i, raw, out, rejects, stats)
            out.clear()

        vop = ValidateOp(model="claude-sonnet-4-5", api_version="2023-06-01")
        vstats = vop.new_stats()

        def validate_fn(i: int, raw: bytes) -> None:
            vop.line("f", i, raw, out, rejects, vstats)
            out.clear()

    values = [load(raw) for raw in lines]
    fns = {
        "load": lambda: [load(raw) for raw in lines],
        "dump": lambda: [dump(v) for v in values],
        "load+dump": lambda: [dump(load(raw)) for raw in lines],
        "edits": lambda: [dump(edit(load(raw))) for raw in lines],
        "line": lambda: [line_fn(i, raw) for i, raw in enumerate(lines)],
        "validate": lambda: [validate_fn(i, raw) for i, raw in enumerate(lines)],
    }
    fns[op]()  # warm-up: caches, generated code
    if work:
        for _ in range(2):
            fns[op]()


def count(row: str, op: str, corpus: str, work: bool, before: str | None) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("CONVO_PURE_PYTHON", None)
    if row == "pure":
        env["CONVO_PURE_PYTHON"] = "1"
    if before:
        env["PYTHONPATH"] = before + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", sys.executable, __file__,
             "--child", row, op, corpus, "1" if work else "0"],
            env=env, capture_output=True, text=True, check=False)
    m = re.search(r"Collected : (\d+)", p.stderr)
    if p.returncode != 0 or m is None:
        raise SystemExit(f"{row} {op}: callgrind failed:\n{p.stderr[-2000:]}")
    return int(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=200, help="requests of the CLI benchmark's corpus")
    ap.add_argument("--before", metavar="DIR", help="also an older convo, as package convo_base in DIR")
    ap.add_argument("--rows", default="orjson,convo,pure", help="comma-separated: orjson, convo, pure, before")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        row, op, corpus, work = a.child
        child(row, op, corpus, work == "1")
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed (Debian: apt-get install valgrind)")
    rows = [r for r in a.rows.split(",") if r]
    if a.before:
        rows.append("before")
        compileall.compile_dir(a.before, quiet=1)
    compileall.compile_dir(str(HERE.parent / "convo"), quiet=1)
    sys.path.insert(0, str(HERE))
    import cli as cli_bench

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        cli_bench.make_corpus(corpus, 40_000 * a.lines, "bench-cli")  # (about 14 KB a line)
        kept = corpus.read_bytes().splitlines()[: a.lines]
        corpus.write_bytes(b"\n".join(kept) + b"\n")
        n = len(kept)
        print(f"{n} requests of benchmarks/cli.py's corpus ({sum(map(len, kept)) / n / 1024:.1f} KB each); "
              f"Python {sys.version.split()[0]}; instructions per request (callgrind)")
        table: dict[str, dict[str, float]] = {}
        for row in rows:
            base = {op: count(row, op, str(corpus), False, a.before) for op in OPS}
            table[row] = {op: (count(row, op, str(corpus), True, a.before) - base[op]) / (2 * n) for op in OPS}
            print(f"  measured {row}", file=sys.stderr)
    print(f"{'row':10}" + "".join(f"{op:>22}" for op in OPS))
    floor = table.get("orjson")
    for row, cells in table.items():
        text = ""
        for op in OPS:
            ratio = f" ({floor[op] / cells[op]:.2f}x)" if floor and row != "orjson" else ""
            text += f"{cells[op] / 1000:>14.1f} k{ratio:>7}"
        print(f"{row:10}{text}")


if __name__ == "__main__":
    main()
