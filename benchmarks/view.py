"""Benchmark of ``convo view`` (issue 17): page size, time to write it, and time to open it in a
real browser, for 1, 1,000 and 100,000 lines.

    python benchmarks/view.py                       # 1, 1000 and 100000 lines
    python benchmarks/view.py --lines 1 1000        # a quick look

The corpus is convo's seeded logged transcripts (convo.testing.fixtures.logged_conversations:
2-12 turns, a dozen scripts, tiny base64 PNGs, tool loops, thinking, system prompts), one request
per line; each line is checked with convo.validate for its own model, as ``convo view`` does by
default. "write" is ``convo view FILE -o page.html`` as a process (wall and CPU seconds).
"open" is headless Chromium (the system's, driven by Playwright) from navigation until the page's
script has inflated the index, drawn the first page of the list and shown line 1; "search" is
typing a word into the search box until the list is filtered (the first search inflates every
line's text), "again" a second search (the text already read); "open@N" is opening the page
in a new tab at its last line (#item-N, the browser's cache warm); "found" how many lines the
first search kept. The browser's JS heap
after the search is shown too. The lines' data is base64 of deflated JSON, chunked.

Figures on a 2-core machine, Python 3.11, load average 9-11 (2026-12-07):
    1 line: page 0.02 MB, written in 1.2 s (0.4 CPU s), opens in 0.7 s;
    1,000 lines (2.5 MB): page 1.4 MB, 4.1 s (1.3 CPU s), opens in 1.1 s, first search 0.7 s;
    100,000 lines (250 MB): page 137 MB, 257 s (86 CPU s), opens in 4.6 s, first search 12.7 s,
    the next 0.14 s, a new tab at the last line 4.4 s, JS heap 386 MB.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def corpus(d: Path, n: int) -> Path:
    from convo import dumps
    from convo.testing.fixtures import logged_conversations

    path = d / f"view-{n}.jsonl"
    if not path.exists():
        with path.open("wb") as f:
            for conv in logged_conversations(n, "bench-view", image_px=16):
                f.write(dumps(conv) + b"\n")
    return path


def write_page(src: Path, out: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "convo.cli", "view", str(src), "-o", str(out), "-q"], check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def browse(page_path: Path, n: int, word: str) -> dict[str, float]:
    from playwright.sync_api import expect, sync_playwright

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                                                   viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        t = time.perf_counter()
        page.goto(page_path.as_uri(), timeout=600_000)
        page.wait_for_selector("body[data-ready='1']", timeout=600_000)
        out["open"] = time.perf_counter() - t
        if n > 1:
            t = time.perf_counter()
            page.fill("#q", word)
            # done when the status is "K of N lines" again with K < N (while the lines' text is
            # read it says so instead)
            expect(page.locator("#status")).to_have_text(re.compile(rf"^(?!{n:,} of)[\d,]+ of {n:,} lines$"), timeout=600_000)
            out["search"] = time.perf_counter() - t
            out["found"] = float(page.inner_text("#status").split(" of ")[0].replace(",", ""))
            out["heap_mb"] = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize / 1e6 : -1")
            t = time.perf_counter()
            page.fill("#q", word + " " + word[:3])
            expect(page.locator("#status")).to_have_text(re.compile(rf"^(?!{n:,} of)[\d,]+ of {n:,} lines$"), timeout=600_000)
            out["again"] = time.perf_counter() - t
            other = ctx.new_page()
            t = time.perf_counter()
            other.goto(page_path.as_uri() + f"#item-{n - 1}", timeout=600_000)
            other.wait_for_selector(f"body[data-ready='1'] #detail article#L{n - 1}", timeout=600_000)
            out["jump"] = time.perf_counter() - t
            other.close()
        if errors:
            out["console_errors"] = float(len(errors))
        ctx.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, nargs="+", default=[1, 1000, 100_000])
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "convo-bench-view"))
    ap.add_argument("--reuse", action="store_true", help="open pages written by an earlier run (no write timing)")
    args = ap.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).parents[1] / "convo")], check=True)
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()}")
    print(f"{'lines':>8} {'input MB':>9} {'page MB':>8} {'write s':>8} {'cpu s':>7} {'open s':>7} {'search s':>9} "
          f"{'again s':>8} {'open@N s':>8} {'heap MB':>8} {'found':>7}")
    for n in args.lines:
        src = corpus(d, n)
        page = d / f"view-{n}.html"
        wall, cpu = (float("nan"), float("nan")) if args.reuse and page.exists() else write_page(src, page)
        b = browse(page, n, "refund")
        print(f"{n:>8,} {src.stat().st_size / 1e6:9.2f} {page.stat().st_size / 1e6:8.2f} {wall:8.2f} {cpu:7.2f} "
              f"{b['open']:7.2f} {b.get('search', float('nan')):9.2f} {b.get('again', float('nan')):8.2f} "
              f"{b.get('jump', float('nan')):8.2f} "
              f"{b.get('heap_mb', float('nan')):8.1f} {b.get('found', float('nan')):7.0f}" + (f"  console errors: {b['console_errors']:.0f}" if "console_errors" in b else ""),
              flush=True)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
