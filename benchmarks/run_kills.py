"""Kill ``convo run`` mid-work and resume it: how many requests each kill costs (issue 11, items 14-17).

A local emulator (real sockets on 127.0.0.1) answers every request after a short pause; ``convo
run --concurrency C`` is started as a real process, killed (SIGKILL or SIGTERM, alternating) once
the output holds a given number of records, and run again with ``--resume``, several times; a
last run finishes the file. The emulator's log is the witness: for every input line, how many
times it was sent and how many times it was answered (a 200 written back). Printed:

- re-sent: sends beyond the first, per kill (lines in flight when the process died are sent
  again: at most C);
- answered twice: lines the server had answered before the kill and that were sent again
  (paid twice); what item 17 is about;
- temp files and processes left, and whether the final output has one record per line in order
  and in = out + rejected.

    python benchmarks/run_kills.py                 # 300 lines, concurrency 8, 6 kills
    python benchmarks/run_kills.py --lines 600 --kills 10

Runs against whatever ``convo`` the interpreter imports, so the same script measures any branch.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from convo.testing import Emulator

KEY = "sk-ant-api03-KILLBENCH-0123456789abcdef"
MODEL = "claude-sonnet-4-5"


def write_input(path: Path, n: int, bad_every: int) -> int:
    """*n* request lines, with a line that is not JSON every *bad_every* lines; returns the bad count."""
    bad = 0
    with open(path, "wb") as f:
        for i in range(n):
            if bad_every and i % bad_every == bad_every - 1:
                f.write(b"{not json %d\n" % i)
                bad += 1
                continue
            f.write(orjson.dumps({"model": MODEL, "max_tokens": 16,
                                  "messages": [{"role": "user", "content": f"item {i}"}]}) + b"\n")
    return bad


def records(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--delay", type=float, default=0.05, help="seconds the emulator takes per answer")
    ap.add_argument("--slow-every", type=int, default=16, help="every Nth line is slow")
    ap.add_argument("--slow", type=float, default=0.6, help="seconds a slow line takes")
    ap.add_argument("--seed", type=int, default=1, help="seeds the pause before each kill")
    ap.add_argument("--bad-every", type=int, default=25, help="a line that is not JSON every N lines")
    args = ap.parse_args()

    def slow(conv: Any) -> str:
        time.sleep(pause(conv.messages[0].content))
        return "ok"

    def pause(text: str) -> float:
        # answers take 1x to 4x --delay, and every --slow-every-th line --slow seconds, so they
        # finish out of input order (as real answers of different lengths do)
        n = int(text.split()[-1])
        if args.slow_every and n % args.slow_every == args.slow_every // 2:
            return args.slow
        return args.delay * (1 + (n * 7919) % 4)

    d = Path(tempfile.mkdtemp(prefix="convo-kills-"))
    src, out = d / "in.jsonl", d / "out.jsonl"
    bad = write_input(src, args.lines, args.bad_every)
    good = args.lines - bad
    emu = Emulator(handler=slow)
    url = emu.start()
    env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": url}
    cmd = [sys.executable, "-m", "convo.cli", "run", "in.jsonl", "-o", "out.jsonl", "-q",
           "--concurrency", str(args.concurrency)]
    rng = random.Random(args.seed)
    step = max(good // (args.kills + 1), 1)
    per_kill: list[tuple[str, int]] = []
    kills: list[float] = []

    try:
        for k in range(args.kills):
            sig = signal.SIGKILL if k % 2 == 0 else signal.SIGTERM
            with open(d / "stderr.log", "ab") as err:
                proc = subprocess.Popen(cmd + (["--resume"] if k else []), cwd=d, env=env,
                                        stdout=subprocess.DEVNULL, stderr=err)
            target = min(step * (k + 1), good - 1)
            deadline = time.monotonic() + 120
            while records(out) < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, args.slow))  # a random moment of the run
            if proc.poll() is not None:
                raise SystemExit(f"the run ended before kill {k + 1} (rc {proc.returncode})")
            proc.send_signal(sig)
            killed_at = time.time()
            proc.wait()
            kills.append(killed_at)
            time.sleep(args.slow + args.delay * 5)  # answers still in flight reach the log
            per_kill.append((sig.name, records(out)))
        kills.append(time.time() + 3600)
        with open(d / "stderr.log", "ab") as err:
            rc = subprocess.run([*cmd, "--resume"], cwd=d, env=env, stdout=subprocess.DEVNULL,
                                stderr=err, timeout=300).returncode
        log = [r for r in list(emu.log) if r.path == "/v1/messages" and isinstance(r.body, dict)]
    finally:
        emu.stop()
    # each send belongs to the run between two kills; a line sent in run k+1 again, whose answer
    # was written back before kill k, was paid for twice
    def run_of(t: float) -> int:
        return next(i for i, k in enumerate(kills) if t < k)

    first: dict[str, tuple[int, float]] = {}
    resent = Counter[int]()
    twice = Counter[int]()
    for r in log:
        text = r.body["messages"][0]["content"]
        k = run_of(r.time)
        if text in first:
            resent[k] += 1
            k0, done_at = first[text]
            if done_at + 0.02 < kills[k0]:
                twice[k] += 1
        if r.status == 200:
            first[text] = (k, r.time + pause(text))
    recs = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    ids = [r["id"] for r in recs]
    rej = d / "out.rejects.jsonl"
    n_rej = records(rej)
    litter = sorted(p.name for p in d.iterdir() if p.name.endswith(".tmp"))
    print(f"convo run, {args.lines} lines ({bad} not JSON), concurrency {args.concurrency}, "
          f"{args.delay * 1000:.0f} ms per answer; load {os.getloadavg()[0]:.1f}")
    print(f"{'kill':>4} {'signal':>8} {'records':>8} {'re-sent after':>14} {'answered before, sent again':>28}")
    for i, (name, n) in enumerate(per_kill, 1):
        print(f"{i:>4} {name:>8} {n:>8} {resent[i]:>14} {twice[i]:>28}")
    print(f"last run: rc {rc}")
    total_twice = sum(twice.values())
    total_resent = sum(resent.values())
    print(f"total: {total_resent} re-sent, {total_twice} answered twice "
          f"({total_resent / args.kills:.1f} and {total_twice / args.kills:.1f} per kill)")
    print(f"records {len(recs)} (distinct ids {len(set(ids))}, lines {good}); rejects {n_rej} "
          f"(bad lines {bad}); in = out + rejected: {args.lines == len(recs) + n_rej}")
    print(f"in input order: {ids == sorted(ids, key=lambda x: int(x.rsplit(':', 1)[1]))}; "
          f"temp files left: {len(litter)} {litter[:3]}")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
