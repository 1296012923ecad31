"""Hand-written parts against the ecosystem's choice: the progress bar, the SSE decoder, argparse.

Run: ``python benchmarks/handwritten.py [--runs N] [--quick]``. Needs the ``bench`` extra
(rich, tqdm, httpx-sse, click, typer). Prints one table per part, with ratios to convo's own in
the same run, and the load average before and after.

**Import time** is what importing the part adds to a process that already holds what the caller
holds (the setup named in each row), read from ``python -X importtime`` in fresh interpreters
(the cumulative time of that module's line; median of ``--runs``, the probes taken in turn), with
convo byte-compiled first as pip compiles what it installs. ``convo.executor._sse`` is the whole
module (the stream assembler and partial-JSON parser besides the decoder); httpx-sse's is its
package on top of httpx, which the executor holds anyway.

**Progress bar** (``convo._cli.report.Progress``; tqdm; rich.progress): the CLI calls
``update(bytes_done, lines_done)`` once per chunk read, and each bar throttles its own redraws
to 10 a second. ``ns/update`` is the CPU time (this process, threads included: rich redraws from
a thread) of 200,000 updates in a row, over the time the updates took; ``us/redraw`` is one
forced redraw (``refresh()``). All write to ``os.devnull`` as if to a terminal.

**SSE decoding** (``convo.executor._sse.SSEDecoder`` / ``iter_sse``; httpx-sse's
``EventSource(response).iter_sse()``): every live stream recorded in
``shared/realworld/anthropic-live-pydantic-ai/*stream*.json`` (the API's own bytes, padding and
all), decoded into events with their ``data`` as text, in chunks of one event (a live stream) and
of 16 KiB (a fast server, a replay). Both through an ``httpx.Response`` over the same chunks, and
the decoders alone; the floor is ``bytes.split`` on blank lines and on line ends (no incremental
state). ``us/event`` is CPU time over events; every row decodes the same events (checked).

**Argument parsing**: import time only (argparse, click, typer).

Last run (tqdm 4.70.1, rich 15.0.0, httpx-sse 0.4.3, click 8.5.1, typer 0.29.2; 2 CPUs, load
average 11 from other work, so read the ratios): the progress bar imports in 1.9 ms (tqdm 141x,
rich 122x), updates in 265 ns (1.7x, 7.2x) and redraws in 6.8 us (13x, 150x); the SSE decoder
costs what httpx-sse's decoders cost (1.00x, 0.97x) and less than its ``EventSource`` through a
response; argparse imports in 11.8 ms (click 14.6x, typer 26.6x). All three stay as they are.
"""

from __future__ import annotations

import argparse
import codecs
import glob
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"

# --------------------------------------------------------------------------- import time


def _import_us(setup: str, module: str) -> int:
    """Microseconds that ``import module`` adds after *setup*, in a fresh interpreter."""
    code = f"{setup}\nimport {module}" if setup else f"import {module}"
    pattern = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|\s*" + re.escape(module) + r"\s*$")
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                         text=True, check=True).stderr
    hits = [int(m.group(1)) for line in err.splitlines() if (m := pattern.match(line))]
    return hits[0] if hits else 0  # the first line is the module itself; 0: the setup had it


def import_us(probes: dict[str, tuple[str, str]], runs: int) -> dict[str, float]:
    """Median microseconds of each ``name: (setup, module)``, the probes taken in turn."""
    import compileall

    import convo

    # the packages compared were byte-compiled by pip; convo's checkout may not be
    # (PYTHONDONTWRITEBYTECODE), and compiling on import is no part of the module's cost
    compileall.compile_dir(os.path.dirname(convo.__file__), quiet=1)
    times: dict[str, list[int]] = {name: [] for name in probes}
    for _ in range(runs):
        for name, (setup, module) in probes.items():
            times[name].append(_import_us(setup, module))
    return {name: statistics.median(t) for name, t in times.items()}


# --------------------------------------------------------------------------- progress bars


def cpu(fn: Callable[[], Any]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


UPDATES = 200_000
STEP = 64 * 1024  # bytes per update: one read of the CLI's line reader
TOTAL = UPDATES * STEP


def progress_convo(sink: Any) -> tuple[Callable[[int, int], None], Callable[[], None], Callable[[], None]]:
    from convo._cli.report import Progress

    p = Progress(sink, total=TOTAL, enabled=True, label="transform ")

    def redraw() -> None:
        p._last = 0.0  # due now
        p.update(TOTAL // 2, 1000)

    return p.update, redraw, p.close


def progress_tqdm(sink: Any) -> tuple[Callable[[int, int], None], Callable[[], None], Callable[[], None]]:
    from tqdm import tqdm

    bar = tqdm(total=TOTAL, file=sink, unit="B", unit_scale=True, mininterval=0.1, desc="transform",
               dynamic_ncols=False, ncols=100)

    def update(done: int, lines: int) -> None:
        bar.update(done - bar.n)

    return update, bar.refresh, bar.close


def progress_rich(sink: Any) -> tuple[Callable[[int, int], None], Callable[[], None], Callable[[], None]]:
    from rich.console import Console
    from rich.progress import Progress

    p = Progress(console=Console(file=sink, force_terminal=True, width=100), refresh_per_second=10)
    task = p.add_task("transform", total=TOTAL)
    p.start()

    def update(done: int, lines: int) -> None:
        p.update(task, completed=done)

    return update, p.refresh, p.stop


def progress_rows(runs: int, quick: bool) -> list[list[str]]:
    n = UPDATES // 10 if quick else UPDATES
    bars = (
        ("convo Progress (hand-written)", progress_convo, "import convo._cli", "convo._cli.report"),
        ("tqdm", progress_tqdm, "", "tqdm"),
        ("rich.progress", progress_rich, "", "rich.progress"),
    )
    imports = import_us({name: (setup, mod) for name, _, setup, mod in bars}, runs)
    per_update: dict[str, list[float]] = {name: [] for name, *_ in bars}
    per_redraw: dict[str, list[float]] = {name: [] for name, *_ in bars}
    with open(os.devnull, "w") as sink:
        for _ in range(runs):  # interleaved: a change of load falls on every bar
            for name, make, *_ in bars:
                update, redraw, close = make(sink)

                def updates(update: Callable[[int, int], None] = update) -> None:
                    for i in range(1, n + 1):
                        update(i * STEP, i * 40)

                def redraws(redraw: Callable[[], None] = redraw) -> None:
                    for _ in range(200):
                        redraw()

                per_update[name].append(cpu(updates) / n * 1e9)
                per_redraw[name].append(cpu(redraws) / 200 * 1e6)
                close()
    base = "convo Progress (hand-written)"
    rows = []
    for name, *_ in bars:
        u, r = statistics.median(per_update[name]), statistics.median(per_redraw[name])
        rows.append([name, f"{imports[name] / 1000:.1f}", f"{imports[name] / imports[base]:.1f}x",
                     f"{u:,.0f}", f"{u / statistics.median(per_update[base]):.1f}x",
                     f"{r:,.1f}", f"{r / statistics.median(per_redraw[base]):.1f}x"])
    return rows


# --------------------------------------------------------------------------- SSE


def recorded_streams() -> bytes:
    """Every recorded live SSE body, one after another (each ends with a blank line)."""
    bodies = []
    for path in sorted(glob.glob(str(SHARED / "realworld" / "anthropic-live-pydantic-ai" / "*stream*.json"))):
        for exchange in json.loads(Path(path).read_text()):
            response = exchange.get("response", {})
            if "text/event-stream" in response.get("content_type", "") and isinstance(response.get("body"), str):
                body = response["body"].encode()
                bodies.append(body if body.endswith(b"\n\n") else body.rstrip(b"\n") + b"\n\n")
    if not bodies:
        raise SystemExit(f"no recorded streams under {SHARED}/realworld/anthropic-live-pydantic-ai")
    return b"".join(bodies)


def per_event(body: bytes) -> list[bytes]:
    return [part + b"\n\n" for part in body.split(b"\n\n") if part]


def fixed(body: bytes, size: int) -> list[bytes]:
    return [body[i:i + size] for i in range(0, len(body), size)]


def sse_convo(chunks: Iterable[bytes]) -> list[str]:
    from convo.executor._sse import iter_sse

    return [e.data for e in iter_sse(chunks)]


def sse_httpx_sse(chunks: Iterable[bytes]) -> list[str]:
    """httpx-sse's decoders alone, with the UTF-8 decoding it needs (httpx's ``iter_text``)."""
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    text = codecs.getincrementaldecoder("utf-8")()
    lines, events, out = SSELineDecoder(), SSEDecoder(), []
    for chunk in chunks:
        for line in lines.decode(text.decode(chunk)):
            sse = events.decode(line)
            if sse is not None:
                out.append(sse.data)
    for line in lines.flush():
        sse = events.decode(line)
        if sse is not None:
            out.append(sse.data)
    return out


def _response(chunks: list[bytes]) -> Any:
    import httpx

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(chunks))


def sse_convo_response(chunks: list[bytes]) -> list[str]:
    from convo.executor._sse import iter_sse

    return [e.data for e in iter_sse(_response(chunks).iter_bytes())]


def sse_httpx_sse_response(chunks: list[bytes]) -> list[str]:
    from httpx_sse import EventSource

    return [e.data for e in EventSource(_response(chunks)).iter_sse()]


def sse_floor(chunks: Iterable[bytes]) -> list[str]:
    """The floor: the whole body joined, split on blank lines and line ends; no state, no checks."""
    out = []
    for event in b"".join(chunks).split(b"\n\n"):
        data = [line[6:] for line in event.split(b"\n") if line.startswith(b"data: ")]
        if data:
            out.append(b"\n".join(data).decode())
    return out


def sse_rows(runs: int, quick: bool) -> tuple[list[list[str]], str]:
    body = recorded_streams()
    chunkings = {"one event per chunk": per_event(body), "16 KiB chunks": fixed(body, 16 * 1024)}
    expected = sse_convo(chunkings["one event per chunk"])
    decoders: list[tuple[str, Callable[[list[bytes]], list[str]], str, str]] = [
        ("convo SSEDecoder (hand-written)", sse_convo, "import convo.codec, convo.errors, orjson, attrs, re",
         "convo.executor._sse"),
        ("httpx-sse decoders", sse_httpx_sse, "import httpx", "httpx_sse"),
        ("convo iter_sse over httpx.Response", sse_convo_response, "", ""),
        ("httpx-sse EventSource over httpx.Response", sse_httpx_sse_response, "", ""),
        ("floor: bytes.split, no state", sse_floor, "", ""),
    ]
    for name, fn, *_ in decoders:
        for label, chunks in chunkings.items():
            got = fn(chunks)
            if got != expected:
                raise SystemExit(f"{name} ({label}) decoded {len(got)} events, not the {len(expected)} expected")
    imports = import_us({name: (setup, mod) for name, _, setup, mod in decoders if mod}, runs)
    repeat = 5 if quick else 40  # passes over the recorded body per measurement
    times: dict[tuple[str, str], list[float]] = {}
    import httpx  # noqa: F401  (loaded before timing: the executor holds it anyway)

    for _ in range(runs):
        for name, fn, *_ in decoders:
            for label, chunks in chunkings.items():

                def go(fn: Callable[[list[bytes]], list[str]] = fn, chunks: list[bytes] = chunks) -> None:
                    for _ in range(repeat):
                        fn(chunks)

                times.setdefault((name, label), []).append(cpu(go) / (repeat * len(expected)) * 1e6)
    base = decoders[0][0]
    rows = []
    for name, _, _, mod in decoders:
        row = [name, f"{imports[name] / 1000:.1f}" if mod else "-",
               f"{imports[name] / imports[base]:.1f}x" if mod else "-"]
        for label in chunkings:
            us = statistics.median(times[(name, label)])
            row += [f"{us:.2f}", f"{us / statistics.median(times[(base, label)]):.2f}x"]
        rows.append(row)
    sizes = f"{len(expected):,} events, {len(body) / 1e3:,.0f} KB, {len(chunkings['16 KiB chunks'])} chunks of 16 KiB"
    return rows, sizes


# --------------------------------------------------------------------------- argument parsing


def cli_rows(runs: int) -> list[list[str]]:
    parsers = (("argparse (stdlib, what convo uses)", "argparse"), ("click", "click"), ("typer", "typer"))
    us = import_us({name: ("", mod) for name, mod in parsers}, runs)
    base = parsers[0][0]
    return [[name, f"{us[name] / 1000:.1f}", f"{us[name] / us[base]:.1f}x"] for name, _ in parsers]


# --------------------------------------------------------------------------- report


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{d} {version(d)}" for d in ("tqdm", "rich", "httpx", "httpx-sse", "click", "typer"))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="fresh interpreters / rounds per cell (median)")
    ap.add_argument("--quick", action="store_true", help="fewer updates and passes, 3 runs")
    args = ap.parse_args(argv)
    runs = 3 if args.quick else args.runs
    print(f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs; {versions()}; median of {runs}")
    print(f"before: {load()}\n")
    print(table(["progress bar", "import ms", "ratio", "ns/update", "ratio", "us/redraw", "ratio"],
                progress_rows(runs, args.quick)))
    print()
    rows, sizes = sse_rows(runs, args.quick)
    print(f"SSE: the recorded live streams, {sizes}")
    print(table(["SSE decoding", "import ms", "ratio", "us/event, per-event chunks", "ratio",
                 "us/event, 16 KiB chunks", "ratio"], rows))
    print()
    print(table(["argument parsing", "import ms", "ratio"], cli_rows(runs)))
    print(f"\nafter: {load()}")


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()
