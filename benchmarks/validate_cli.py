"""``convo validate`` end to end against a parse-only loop over the same file (issue 14's figure:
the command should reach 0.6x the loop's speed), as whole processes, startup included.

Run: ``python benchmarks/validate_cli.py [--size-mb 100] [--repeat 5] [--before DIR] [--pure]``.
Prints a table per corpus.

Corpora (both made here, seeded):

- **fixtures**: ``fixtures/transcripts.jsonl`` through the README quickstart's pipeline
  (``migrate``, ``drop_images``, ``inject_system``), its valid lines repeated to ``--size-mb``:
  text, thinking and tool calls, about 2.9 KB a line, every line valid for claude-opus-4-8;
- **logs**: ``benchmarks/cli.py``'s corpus of logged transcripts (2-40 turns, base64 images in
  about a third of the lines, sampling parameters, prefill), about 13 KB a line, checked with
  ``--api-version 2023-06-01`` for claude-sonnet-4-5 (most lines valid; the rest are reported,
  one line of output per violation, which the command's time includes).

Rows, run in turn in each round (so that a slow spell falls on every row alike), medians of
``--repeat`` rounds:

- **parse-only**: ``python -c`` reading the file line by line with ``orjson.loads`` (the floor);
- **convo validate**: ``python -m convo.cli validate FILE --model M`` (this checkout);
- **pure Python** (``--pure``): the same with ``CONVO_PURE_PYTHON=1``;
- **before** (``--before DIR``): an older checkout's ``convo`` package in DIR (its C parts built
  beside it), run the same way with ``PYTHONPATH=DIR``.

The ratio is the floor's wall time over the row's (higher is better; 1.0 is as fast as parsing
alone). CPU is user+system seconds of the child. The machine's load average is printed with the
table. convo's bytecode (and DIR's) is compiled first (``compileall``), as pip compiles an
installed package: with ``PYTHONDONTWRITEBYTECODE`` set every run would otherwise compile it.

Figures on a 2-core machine, Python 3.11 (2026-12-07 night, ``--size-mb 100 --repeat 5``, two
runs at load 1.0 and 0.4; before = b85c4d0 with its C parts built): fixtures 0.68x and 0.70x the
parse-only loop (0.90 and 1.18 s; the floor ran in 0.61 and 0.82 s), before 0.19x and 0.21x,
pure Python 0.47x; logs 0.42x and 0.44x (1.27 and 1.42 s; the floor ran in 0.54 and 0.62 s),
before 0.30x and 0.35x, pure Python 0.37x. Earlier that evening, before plain lines were judged
on their parsed JSON: fixtures 0.33-0.41x, logs 0.29-0.38x.

2026-12-08 (a quiet machine, load 0.8 and 1.0; before = 4dbebfc, images still judged on built
blocks): fixtures 0.70x and 0.75x (pure Python 0.51x); logs 0.62x and 0.67x (0.47 and 0.40 s),
before 0.58x and 0.58x, pure Python 0.49x.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PARSE_ONLY = "import sys, orjson\nwith open(sys.argv[1], 'rb') as f:\n    for line in f:\n        orjson.loads(line)\n"
QUICKSTART = ['migrate(model="claude-opus-4-8")', 'drop_images(placeholder="[image removed]")',
              'inject_system("You are a concise assistant.", where="top")']


def run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one child process; it must exit 0 or 1 (1: violations found). It
    runs in *cwd*, so that ``python -m`` finds convo where *env* says (not in this checkout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 1):
        raise SystemExit(f"{argv[:4]} failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def make_fixtures(path: Path, size: int, tmp: Path) -> None:
    migrated = tmp / "migrated.jsonl"
    args = [sys.executable, "-m", "convo.cli", "transform", str(ROOT / "fixtures" / "transcripts.jsonl"), "-q",
            "-o", str(migrated)]
    for spec in QUICKSTART:
        args += ["-t", spec]
    subprocess.run(args, check=True, stderr=subprocess.DEVNULL)
    chunk = migrated.read_bytes()
    with path.open("wb") as f:
        for _ in range(max(1, size // len(chunk))):
            f.write(chunk)


def make_logs(path: Path, size: int) -> None:
    sys.path.insert(0, str(HERE))
    import cli as cli_bench

    cli_bench.make_corpus(path, size, "bench-cli")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before", metavar="DIR", help="also an older convo package in DIR (run with PYTHONPATH=DIR)")
    ap.add_argument("--pure", action="store_true", help="also a row with CONVO_PURE_PYTHON=1")
    ap.add_argument("--corpus", choices=("fixtures", "logs", "both"), default="both")
    a = ap.parse_args()
    compileall.compile_dir(str(ROOT / "convo"), quiet=1)
    if a.before:
        compileall.compile_dir(a.before, quiet=1)
    base_env = {k: v for k, v in os.environ.items() if k not in ("CONVO_PURE_PYTHON", "PYTHONPATH")}
    size = int(a.size_mb * 1_000_000)
    corpora = {"fixtures": ("claude-opus-4-8", "2026-10-21"), "logs": ("claude-sonnet-4-5", "2023-06-01")}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name, (model, version) in corpora.items():
            if a.corpus not in (name, "both"):
                continue
            path = tmp / f"{name}.jsonl"
            (make_fixtures(path, size, tmp) if name == "fixtures" else make_logs(path, size))
            data = path.read_bytes()
            lines = data.count(b"\n")
            del data
            command = [sys.executable, "-m", "convo.cli", "validate", str(path), "--model", model,
                       "--api-version", version]
            rows: dict[str, tuple[list[str], dict[str, str]]] = {
                "parse-only": ([sys.executable, "-c", PARSE_ONLY, str(path)], base_env),
                "convo validate": (command, base_env),
            }
            if a.pure:
                rows["pure Python"] = (command, {**base_env, "CONVO_PURE_PYTHON": "1"})
            if a.before:
                rows["before"] = (command, {**base_env, "PYTHONPATH": a.before})
            times: dict[str, list[tuple[float, float]]] = {r: [] for r in rows}
            for _ in range(a.repeat):
                for row, (argv, env) in rows.items():
                    times[row].append(run(argv, env, tmp))
            load = os.getloadavg()
            print(f"\n{name}: {path.stat().st_size / 1e6:.0f} MB, {lines:,} lines; "
                  f"--model {model} --api-version {version}; medians of {a.repeat}; load {load[0]:.1f}")
            print(f"{'':16}{'wall s':>9}{'CPU s':>9}{'MB/s':>8}{'parse-only / row':>18}")
            floor = statistics.median(w for w, _ in times["parse-only"])
            for row, got in times.items():
                wall = statistics.median(w for w, _ in got)
                cpu = statistics.median(c for _, c in got)
                print(f"{row:16}{wall:9.2f}{cpu:9.2f}{size / 1e6 / wall:8.0f}{floor / wall:17.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
