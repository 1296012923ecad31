"""Benchmark of ``convo convert --to anthropic`` (format told by content) for the three formats
that hold the most bytes of ../shared/realworld, beside raw orjson on the same bytes (the floor).

    python benchmarks/convert.py                    # ~30 MB per format, median of 3
    python benchmarks/convert.py --size-mb 5 --repeat 1

The formats, by their bytes in realworld/ (claude-code 3.1 MB, recorded 2.1 MB, inspect 0.8 MB):

- ``claude-code``: the real 2,385-line session, repeated (each copy a session of its own) into
  one JSONL file; read a file at a time, one conversation per session.
- ``recorded`` traffic is chiefly OpenAI chat completions: JSONL of chat completions request
  bodies, written by convo's ``openai`` writer from the seeded logged transcripts
  (:func:`convo.testing.fixtures.logged_conversations`: tool loops, images, thinking, system
  prompts); converted line by line through the engine.
- ``inspect``: the 405 KB agentic browser log, copied into many files, each read whole.

The floor reads the same files and writes the same units with ``orjson.loads``/``orjson.dumps``
alone (each JSONL line; each inspect sample's messages), nothing converted. Each command runs as
its own process (startup included, as a user runs it); the table gives medians of wall-clock
MB/s and the ratio to the floor, with the load average beside it. convo's bytecode is compiled
first (this machine sets PYTHONDONTWRITEBYTECODE).

Figures on a 2-core machine under a load average of 12-15 (other suites running), Python 3.11,
2026-12-07, ~20 MB per format, medians of 3, two runs: claude-code 3.9-5.5 MB/s, 0.25-0.26x the
floor; OpenAI chat bodies 2.1-2.3 MB/s, 0.21-0.32x; inspect logs 5.0-8.6 MB/s, 0.34-0.36x. The
absolute rates are the load's; the ratios are the ones to compare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from convo.codec.formats import FORMATS
from convo.testing.fixtures import logged_conversations

REALWORLD = Path(__file__).resolve().parents[1].parent / "shared" / "realworld"
SESSION = REALWORLD / "claude-code-sessions" / "spotter__ae4a77f8-aedd-4bc1-888f-c94edc91af04.jsonl"
INSPECT = REALWORLD / "inspect-ai-logs-2" / "2025-05-12T20-27-36-04-00_browser.json"

FLOOR = r'''
import os, sys, orjson
out = open(sys.argv[1], "wb")
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    if path.endswith(".json"):
        log = orjson.loads(data)
        for s in log.get("samples") or ():
            out.write(orjson.dumps({"messages": s.get("messages")}) + b"\n")
    else:
        for line in data.splitlines():
            if line.strip():
                out.write(orjson.dumps(orjson.loads(line)) + b"\n")
out.close()
'''


def _claude_code(folder: Path, size: int) -> list[Path]:
    raw = SESSION.read_bytes()
    sid = b"ae4a77f8-aedd-4bc1-888f-c94edc91af04"
    path = folder / "sessions.jsonl"
    with open(path, "wb") as f:
        n = 0
        while f.tell() < size:
            f.write(raw.replace(sid, f"copy-{n:05d}".encode()))
            n += 1
    return [path]


def _openai(folder: Path, size: int) -> list[Path]:
    path = folder / "chat.jsonl"
    writer = FORMATS["openai"]
    with open(path, "wb") as f:
        for conv in logged_conversations(10**7, seed=7):
            f.write(orjson.dumps(writer.write(conv)[0]) + b"\n")
            if f.tell() >= size:
                break
    return [path]


def _inspect(folder: Path, size: int) -> list[Path]:
    sub = folder / "logs"
    sub.mkdir()
    n = max(1, size // INSPECT.stat().st_size)
    paths = []
    for i in range(n):
        p = sub / f"log-{i:04d}.json"
        shutil.copyfile(INSPECT, p)
        paths.append(p)
    return paths


CORPORA = {"claude-code": _claude_code, "recorded (OpenAI chat)": _openai, "inspect": _inspect}


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).parents[1] / "convo")], check=True)
    convo = shutil.which("convo", path=os.path.dirname(sys.executable)) or "convo"
    size = int(args.size_mb * 1e6)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in CORPORA.items():
            folder = Path(tmp) / name.split()[0]
            folder.mkdir()
            files = build(folder, size)
            mb = sum(p.stat().st_size for p in files) / 1e6
            out = folder / "out.jsonl"
            conv_cmd = [convo, "convert", *map(str, files), "--to", "anthropic", "-o", str(out), "-q"]
            floor_cmd = [sys.executable, "-c", FLOOR, str(folder / "floor.jsonl"), *map(str, files)]
            convo_s, floor_s = [], []
            for _ in range(args.repeat):
                floor_s.append(_time(floor_cmd))
                convo_s.append(_time(conv_cmd))
            lines = len(out.read_bytes().splitlines())
            c, f = statistics.median(convo_s), statistics.median(floor_s)
            rows.append((name, mb, lines, mb / c, mb / f, f / c))
    load = os.getloadavg()
    print(f"convo convert --to anthropic (format detected), medians of {args.repeat}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"{'format':<24}{'MB':>7}{'convs':>8}{'convo MB/s':>12}{'orjson MB/s':>13}{'ratio':>8}")
    for name, mb, lines, c_rate, f_rate, ratio in rows:
        print(f"{name:<24}{mb:>7.1f}{lines:>8}{c_rate:>12.1f}{f_rate:>13.1f}{ratio:>8.2f}")


if __name__ == "__main__":
    main()
