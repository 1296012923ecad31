"""Benchmark of ``convo diff`` (issue 17): MB/s on two exchange-record files beside the floor, a
plain script that reads both files with orjson, line by line, and does nothing else.

    python benchmarks/diff.py                    # two 100 MB files, median of 3 runs
    python benchmarks/diff.py --size-mb 10 --repeat 1     # a quick look

The files are two runs of the same requests as ``convo run`` writes them: seeded logged
transcripts (convo.testing.fixtures.logged_conversations) with responses from
convo.testing.showcase.reruns (text, tool calls, refusals, usage), BEFORE answered by each
request's own model and AFTER by claude-opus-4-8, 10% of the AFTER lines changed. Every run is a
separate process (startup included, as a user runs it); the table gives wall seconds, CPU seconds,
MB/s over both files, and the ratio of the floor's wall time to the command's (1.0 = as fast as
just reading the JSON). ``--model`` adds the run that also validates both sides' requests.

convo's bytecode is compiled first, as pip compiles an installed package.

Figures on a 2-core machine, Python 3.11 (2026-12-07), two files of 100 MB (31,410 lines each):
the floor 3.0 s (66 MB/s); convo diff 7.3 s wall, 4.7 CPU s (27 MB/s, 0.41x the floor by wall,
0.32x by CPU; load 6-9); --model 0.16x. Per line, convo reads the JSON (the floor), builds the
digest of what it compares (about as much again: the response read straight from the JSON, usage
and cost) and pairs and compares it (about half as much again).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = r'''
import sys, orjson
n = 0
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                orjson.loads(line)
                n += 1
print(n)
'''


def corpus(d: Path, size_mb: int, seed: int) -> tuple[Path, Path]:
    """Write BEFORE and AFTER (about *size_mb* MB each), or reuse them from an earlier run."""
    from convo.codec.lines import encode_value
    from convo.testing.fixtures import logged_conversations
    from convo.testing.showcase import reruns

    before, after = d / f"before-{size_mb}mb-{seed}.jsonl", d / f"after-{size_mb}mb-{seed}.jsonl"
    if before.exists() and after.exists():
        return before, after
    target = size_mb * 1_000_000
    with before.open("wb") as fb, after.open("wb") as fa:
        size = 0
        convs = logged_conversations(10**7, seed, image_px=16)
        for b, a in reruns(convs, seed=seed, change=0.1, source="requests.jsonl"):
            lb, la = encode_value(b) + b"\n", encode_value(a) + b"\n"
            fb.write(lb)
            fa.write(la)
            size += len(lb)
            if size >= target:
                break
    return before, after


def timed(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the child, exit status)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 1):
        sys.exit(f"{argv[:4]} failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), p.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "convo-bench-diff"))
    ap.add_argument("--model", default="claude-opus-4-8", help="also time a run validating for this model ('' to skip)")
    args = ap.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).parents[1] / "convo")], check=True)
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    before, after = corpus(d, args.size_mb, args.seed)
    total = before.stat().st_size + after.stat().st_size
    lines = sum(1 for _ in before.open("rb"))
    print(f"corpus: {before.name} + {after.name}: {total / 1e6:.0f} MB, {lines:,} lines each "
          f"(made or found in {time.perf_counter() - t:.1f} s)")
    runs = {
        "orjson floor (read both)": [sys.executable, "-c", FLOOR, str(before), str(after)],
        "convo diff": [sys.executable, "-m", "convo.cli", "diff", str(before), str(after), "-q"],
        "convo diff --json": [sys.executable, "-m", "convo.cli", "diff", str(before), str(after), "--json", "-q"],
    }
    if args.model:
        runs[f"convo diff --model {args.model}"] = [sys.executable, "-m", "convo.cli", "diff", str(before), str(after),
                                                   "--model", args.model, "-q"]
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    for _ in range(args.repeat):
        for name, argv in runs.items():
            wall, cpu, _ = timed(argv)
            results[name].append((wall, cpu))
    floor = statistics.median(w for w, _ in results["orjson floor (read both)"])
    print(f"load average before/after: {os.getloadavg()}")
    print(f"{'run':38} {'wall s':>8} {'cpu s':>8} {'MB/s':>8} {'x floor':>8}")
    for name, rs in results.items():
        wall = statistics.median(w for w, _ in rs)
        cpu = statistics.median(c for _, c in rs)
        print(f"{name:38} {wall:8.2f} {cpu:8.2f} {total / 1e6 / wall:8.1f} {floor / wall:8.2f}")
    print(f"(medians of {args.repeat}; MB/s over both files; 'x floor' = floor wall / run wall)")


if __name__ == "__main__":
    main()
