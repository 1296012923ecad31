"""``convo run --resume`` next to a large output: peak memory and the time to the first request
(issue 11, item 16).

Builds an input of request lines and an output holding the exchange records of all of them but
the last few (as a run killed near its end leaves it), then runs ``convo run --resume`` as a real
process against a local emulator (127.0.0.1) and reports its peak RSS (VmHWM from /proc, read by
a thread every 20 ms: ``ru_maxrss`` would include this process's size when it forked) and how long
it took until the emulator saw the first request.

    python benchmarks/resume_rss.py                       # a 1 GB output
    python benchmarks/resume_rss.py --output-mb 200       # a quicker look
    python benchmarks/resume_rss.py --killed              # the output of a run interrupted
                                                          # near its end (state and journal kept)

Without ``--killed`` the output has no run state beside it (an output from before journals, or
a finished run resumed again), so the resume walks all of it; with it, ``run_file`` itself wrote
the output (a mock executor, interrupted a few lines before the end), as a killed ``convo run``
leaves it.

Runs against whatever ``convo`` the interpreter imports, so the same script measures any branch.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

from convo.testing import Emulator

KEY = "sk-ant-api03-RSSBENCH-0123456789abcdef"
MODEL = "claude-sonnet-4-5"


def build(d: Path, output_mb: int, left: int) -> tuple[int, int]:
    """Write in.jsonl and out.jsonl; returns (lines, output bytes)."""
    text = "lorem ipsum dolor sit amet " * 80  # about 2 KB per turn
    src, out = d / "in.jsonl", d / "out.jsonl"
    size = 0
    n = 0
    with open(src, "wb") as fi, open(out, "wb") as fo:
        while size < output_mb * 1_000_000:
            n += 1
            req = {"model": MODEL, "max_tokens": 16,
                   "messages": [{"role": "user", "content": f"{n} {text}"}]}
            fi.write(orjson.dumps(req) + b"\n")
            rec = {"id": f"in.jsonl:{n}", "request": req, "response": {
                "id": f"msg_{n:024d}", "type": "message", "role": "assistant", "model": MODEL,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 600, "output_tokens": 600}}}
            line = orjson.dumps(rec) + b"\n"
            fo.write(line)
            size += len(line)
        for i in range(left):
            req = {"model": MODEL, "max_tokens": 16,
                   "messages": [{"role": "user", "content": f"last {i}"}]}
            fi.write(orjson.dumps(req) + b"\n")
    return n + left, size


def killed_run(d: Path, left: int) -> None:
    """Write out.jsonl with run_file (a mock reply), stopped *left* lines before the end."""
    from convo.executor import MockExecutor
    from convo.jobs import run_file

    lines = (d / "in.jsonl").read_bytes().count(b"\n")
    lock = threading.Lock()
    # a MockExecutor keeps every conversation it was called with: this run's memory is no measure
    calls = [0]

    def reply(conv: object) -> str:
        with lock:
            calls[0] += 1
            if calls[0] > lines - left:
                raise KeyboardInterrupt  # as Ctrl-C would
        return "lorem ipsum dolor sit amet " * 80

    with contextlib.suppress(KeyboardInterrupt):
        run_file(str(d / "in.jsonl"), str(d / "out.jsonl"), executor=MockExecutor(reply), concurrency=8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output-mb", type=int, default=1000)
    ap.add_argument("--left", type=int, default=5, help="lines without a record yet")
    ap.add_argument("--killed", action="store_true", help="resume what an interrupted run_file left")
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="convo-resume-rss-"))
    try:
        t0 = time.perf_counter()
        lines, size = build(d, args.output_mb, args.left)
        if args.killed:
            killed_run(d, args.left + 40)
            size = (d / "out.jsonl").stat().st_size
        print(f"built {lines:,} lines, output {size / 1e6:,.0f} MB in {time.perf_counter() - t0:.1f} s"
              + (" (by an interrupted run_file)" if args.killed else ""))
        emu = Emulator()
        url = emu.start()
        env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": url}
        try:
            started = time.time()
            child = subprocess.Popen(
                [sys.executable, "-m", "convo.cli", "run", "in.jsonl", "-o", "out.jsonl",
                 "--resume", "-q"], cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            peak = [0]

            def sample() -> None:
                while child.poll() is None:
                    with contextlib.suppress(OSError, ValueError):
                        for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                            if line.startswith("VmHWM:"):
                                peak[0] = max(peak[0], int(line.split()[1]))
                    time.sleep(0.02)

            watcher = threading.Thread(target=sample, daemon=True)
            watcher.start()
            _, err = child.communicate(timeout=1800)
            watcher.join()
            wall = time.time() - started
            first = min((r.time for r in emu.log), default=float("nan")) - started
            sent = len(emu.log)
        finally:
            emu.stop()
        rss = peak[0] / 1024
        recs = (d / "out.jsonl").read_bytes().count(b"\n")
        print(f"convo run --resume: rc {child.returncode}, {sent} requests sent, {recs:,} records "
              f"(lines {lines:,}); peak RSS {rss:,.0f} MB; first request after {first:.2f} s; "
              f"wall {wall:.2f} s; load {os.getloadavg()[0]:.1f}")
        if child.returncode:
            print(err.decode()[-2000:])
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
