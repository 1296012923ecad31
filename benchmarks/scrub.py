"""Benchmark of scrub_secrets() (issue 16): the one-scan design, and the command end to end.

    python benchmarks/scrub.py                    # 100 MB corpus, median of 3
    python benchmarks/scrub.py --size-mb 20 --repeat 1            # a quick look

Part 1, the scan: every string of the shared realworld tree (keys and values of every JSON file,
line and SSE event, and the JSON inside the .eval archives) scanned by

- one combined regex, every branch starting with a literal anchor (what scrub_secrets uses:
  the regex engine then skips each character that starts no branch, in C);
- the same branches, each wrapped in a named group (the usual way to tell which detector of a
  combined regex matched; the group hides the anchors from the engine, so it must try every
  branch at every position);
- one regex per detector, each scanned in turn (the straightforward way).

Part 2, the command: ``convo transform -t 'scrub_secrets()'`` on the seeded corpus of
``benchmarks/cli.py`` (logged transcripts with base64 images, tool use, thinking), with an AWS
key put in the first text of one line in 50, beside ``convo transform -t 'drop_images()'`` on the
same bytes and raw orjson (a script that loads and dumps every line: the floor). Wall times are
medians; the load average is printed at the start and the end, since this is a shared machine.

convo's bytecode is compiled first, as pip compiles an installed package.

Figures on the shared 2-core machine, Python 3.11, load average 4.5-6 (so read the CPU seconds):
scan, 6.0 MB of realworld strings: anchored one regex 19 MB/s; the same branches in named groups
0.04x of that; one regex per detector 0.18x. Command, 100 MB, 1 worker: raw orjson 1.53 s
(1.01 CPU s); drop_images() 2.18 s (1.95), 0.70x the floor; scrub_secrets() 3.57 s (3.18), 0.43x
the floor and 0.61x drop_images(); keyed=True within noise of it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cli import make_corpus, measure  # the corpus and the timer of benchmarks/cli.py

from convo.transforms.secrets import DETECTORS, Scanner

REALWORLD = Path(__file__).parents[1].parent / "shared" / "realworld"

RAW_ORJSON = r'''
import sys, orjson
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as o:
    for line in f:
        if line.strip():
            o.write(orjson.dumps(orjson.loads(line)) + b"\n")
'''

CANARY = b"AKIAZ7Q4N2XJ5EXAMPL3 "


def realworld_strings_by_file() -> list[tuple[str, list[tuple[str | None, str]]]]:
    """Every string (keys too) of every JSON value in the realworld tree, by file: ``(the key
    the string is under, or None; the string)``. A file that is no JSON is one string."""
    import zipfile

    import orjson

    def walk(v: object, key: str | None, out: list[tuple[str | None, str]]) -> None:
        if isinstance(v, str):
            out.append((key, v))
        elif isinstance(v, dict):
            for k, x in v.items():
                out.append((None, k))
                walk(x, k, out)
        elif isinstance(v, list):
            for x in v:
                walk(x, None, out)

    files: list[tuple[str, list[tuple[str | None, str]]]] = []
    for path in sorted(REALWORLD.rglob("*")):
        if not path.is_file():
            continue
        name = str(path.relative_to(REALWORLD))
        out: list[tuple[str | None, str]] = []
        files.append((name, out))
        data = path.read_bytes()
        if path.suffix == ".eval":
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    if member.endswith(".json"):
                        with contextlib.suppress(orjson.JSONDecodeError):
                            walk(orjson.loads(z.read(member)), None, out)
            continue
        try:
            walk(orjson.loads(data), None, out)
            continue
        except orjson.JSONDecodeError:
            pass
        parsed = False
        for line in data.splitlines():
            line = line.strip()
            if line.startswith(b"data:"):
                line = line[5:].strip()
            try:
                walk(orjson.loads(line), None, out)
                parsed = True
            except orjson.JSONDecodeError:
                pass
        if not parsed:
            out.append((None, data.decode("utf-8", "replace")))
    return files


def realworld_strings() -> list[str]:
    """Every string of the realworld tree (see :func:`realworld_strings_by_file`)."""
    return [s for _, items in realworld_strings_by_file() for _, s in items]


def scan_table(strings: list[str], repeat: int) -> None:
    import re

    size = sum(len(s.encode()) for s in strings)
    combined = Scanner(DETECTORS).regex
    # the grouped variant: the same branches, each in a named group (value groups renamed apart)
    counter = iter(range(10**6))
    grouped = re.compile("|".join(
        f"(?P<d{k}>" + re.sub(r"\(\?P<v\d*>", lambda _: f"(?P<v{next(counter)}>", b) + ")"
        for k, b in enumerate(b for d in DETECTORS for b in d.branches)
    ))
    per_detector = [Scanner([d]).regex for d in DETECTORS]

    def one(regex: re.Pattern[str]) -> int:
        search = regex.search
        return sum(1 for s in strings if search(s))

    def each() -> int:
        searches = [r.search for r in per_detector]
        return sum(1 for s in strings if any(f(s) for f in searches))

    def baseline() -> int:
        empty = re.compile("\x00\x01").search  # the loop and one call per string, nothing else
        return sum(1 for s in strings if empty(s))

    runs = {
        "loop only (a regex that cannot match)": baseline,
        "one regex, anchored branches (scrub_secrets)": lambda: one(combined),
        "one regex, branches in named groups": lambda: one(grouped),
        f"one regex per detector ({len(DETECTORS)} scans)": each,
    }
    print(f"scan: {len(strings):,} strings, {size / 1e6:.1f} MB of realworld text, "
          f"{len(DETECTORS)} detectors, {sum(len(d.branches) for d in DETECTORS)} branches")
    print(f"{'scan':<48} {'median s':>9} {'MB/s':>8} {'vs anchored':>12} {'strings hit':>12}")
    times: dict[str, float] = {}
    hits: dict[str, int] = {}
    for name, fn in runs.items():
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            hits[name] = fn()
            ts.append(time.perf_counter() - t)
        times[name] = statistics.median(ts)
    anchored = times["one regex, anchored branches (scrub_secrets)"]
    for name, t in times.items():
        print(f"{name:<48} {t:>9.3f} {size / 1e6 / t:>8.1f} {anchored / t:>11.2f}x {hits[name]:>12,}")
    print()


def seed_secrets(src: Path, dst: Path, every: int = 50) -> int:
    """Copy *src* with an AWS key put before the first text of one line in *every*."""
    n = 0
    with open(src, "rb") as f, open(dst, "wb") as o:
        for i, line in enumerate(f):
            if i % every == 0:
                at = line.find(b'"text":"')
                if at >= 0:
                    line = line[: at + 8] + CANARY + line[at + 8 :]
                    n += 1
            o.write(line)
    return n


def command_table(work: Path, size_mb: float, repeat: int) -> None:
    plain = work / "corpus.jsonl"
    lines = make_corpus(plain, int(size_mb * 1e6), "bench-secrets")
    corpus = work / "seeded.jsonl"
    seeded = seed_secrets(plain, corpus)
    plain.unlink()
    mb = corpus.stat().st_size / 1e6
    print(f"command: {lines:,} requests, {mb:.1f} MB, an AWS key in {seeded:,} of them; 1 worker")
    raw_py = work / "raw.py"
    raw_py.write_text(RAW_ORJSON)
    out = work / "out.jsonl"

    def convo(spec: str) -> list[str]:
        return [sys.executable, "-m", "convo.cli", "transform", str(corpus), "-o", str(out), "-q", "-t", spec]

    runs = {
        "raw orjson, loads + dumps per line (the floor)": [sys.executable, str(raw_py), str(corpus), str(out)],
        "convo transform -t 'drop_images()'": convo("drop_images()"),
        "convo transform -t 'scrub_secrets()'": convo("scrub_secrets()"),
        "convo transform -t 'scrub_secrets(keyed=True)'": convo("scrub_secrets(keyed=True)"),
    }
    times: dict[str, tuple[float, float]] = {}
    for name, argv in runs.items():
        ms = [measure(argv) for _ in range(repeat)]
        times[name] = (statistics.median(m.wall for m in ms), statistics.median(m.cpu_all for m in ms))
        if "scrub_secrets()" in name:
            text = out.read_bytes()
            assert CANARY.strip() not in text, "a seeded key survived"
            assert text.count(b"[REDACTED:aws-access-key]") == seeded
    floor = times["raw orjson, loads + dumps per line (the floor)"]
    drop = times["convo transform -t 'drop_images()'"]
    print(f"{'run':<48} {'wall s':>7} {'MB/s':>7} {'CPU s':>7} {'vs floor':>9} {'vs drop_images':>15}")
    for name, (wall, cpu) in times.items():
        print(f"{name:<48} {wall:>7.2f} {mb / wall:>7.1f} {cpu:>7.2f} {floor[0] / wall:>8.2f}x {drop[0] / wall:>14.2f}x")
    print("(ratios are throughput relative to the column's run: 0.25x = four times as long)")
    out.unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-command", action="store_true", help="part 1 only")
    args = ap.parse_args()
    import compileall

    import convo

    compileall.compile_dir(str(Path(convo.__file__).parent), quiet=1)
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; uptime: {up}")
    print()
    scan_table(realworld_strings(), args.repeat)
    if not args.skip_command:
        with tempfile.TemporaryDirectory(prefix="convo-bench-secrets-") as d:
            command_table(Path(d), args.size_mb, args.repeat)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
