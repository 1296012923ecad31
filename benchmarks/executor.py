"""Executor benchmark: convo's AsyncHttpExecutor against the official AsyncAnthropic client, and
the memory of run_many over long queues.

Run: ``python benchmarks/executor.py [--quick] [--concurrency 1,16,64,128] [--requests N]
[--stacks stock,default,httpx2] [--repeat N] [--validate-off] [--no-memory]``. Prints two tables.

**Throughput and client overhead.** The local emulator (``python -m convo.testing.emulator``)
runs in its own process, so the client's CPU time (``time.process_time`` of this process) is the
client's own cost. Every client sends the same seeded requests (a system prompt and three turns,
about 1.5 KB) through ``POST /v1/messages`` at concurrency 1, 16, 64 and 128, in the same run:

- **convo AsyncHttpExecutor**: ``arun_many(conversations, executor, concurrency=c)`` with the
  rules checked before each send (the default), over each HTTP stack of ``--stacks``, injected
  as ``client=``:

  - ``stock``: ``httpx.AsyncClient`` as httpx builds it (httpcore 1.x's own pool);
  - ``default``: :func:`convo.executor._http.default_async_client`, what convo builds when no
    client is given (httpx over httpcore2's pool, ``convo/executor/_pool.py``);
  - ``httpx2``: ``httpx2.AsyncClient`` (httpx2/httpcore2, the fork the SDK 2.17 ships), with the
    SDK's timeout and limits;

  and, with ``--validate-off``, convo's default stack with ``validate=False``;
- **anthropic AsyncAnthropic**: ``client.messages.create(**params)`` under an
  ``asyncio.Semaphore(c)`` and ``asyncio.gather`` (the SDK has no runner of its own).

``req/s`` is requests over wall time; ``client CPU ms/req`` is this process's CPU time per
request (request building, checks, HTTP, JSON, response objects): the overhead that competes
with the server for the machine. Each cell is the median of ``--repeat`` runs (5 by default),
every client once per round, in turn, so a change in the machine's load falls on all of them;
``spread`` is the lowest and highest of those runs; ``load`` the 1-minute load average as the
level ends (and the load average is printed before and after).

**Memory of run_many.** Peak traced memory (``tracemalloc``) while ``run_iter`` consumes a lazy
queue of 1,000 and of 10,000 distinct conversations through a ``MockExecutor`` (results
consumed as they come), and the peak RSS (``VmHWM``, reset after a warm-up through
``/proc/self/clear_refs``; Linux) of a fresh process running ``arun_iter`` with the HTTP
executor against the emulator over the same two queue lengths. ``run_many`` itself returns the
list of every result, so its peak grows by the results it hands back; its row shows that cost.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

KEY = "sk-ant-api03-BENCHMARK-0000000000"
MODEL = "claude-sonnet-4-5"


def _params(rnd: random.Random, i: int) -> dict[str, Any]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]

    def text(n: int) -> str:
        return " ".join(rnd.choice(words) for _ in range(n))

    return {
        "model": MODEL,
        "max_tokens": 256,
        "system": "You are a concise assistant. " + text(20),
        "messages": [
            {"role": "user", "content": f"request {i}: " + text(60)},
            {"role": "assistant", "content": text(60)},
            {"role": "user", "content": text(40)},
        ],
        "metadata": {"user_id": f"user-{i % 50}"},
    }


def requests(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    return [_params(rnd, i) for i in range(n)]


# --------------------------------------------------------------------------- the emulator


class EmulatorProcess:
    """``python -m convo.testing.emulator`` in a child process (its CPU is not ours)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "convo.testing.emulator", "--port", "0"],
            stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        self.url = line.strip().rsplit(" ", 1)[-1]
        if not self.url.startswith("http://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"the emulator did not start: {line!r}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# --------------------------------------------------------------------------- clients


STACKS = {  # --stacks name: the label of its rows
    "stock": "httpx, its own pool",
    "default": "default: httpx over httpcore2",
    "httpx2": "httpx2",
}


def stack_client(stack: str) -> Any:
    """A fresh async client of *stack* (see the module docstring), with the SDK's timeout and limits."""
    from convo.executor import _http

    if stack == "default":
        return _http.default_async_client()
    if stack == "stock":
        import httpx

        return httpx.AsyncClient(timeout=_http.DEFAULT_TIMEOUT, limits=_http.DEFAULT_LIMITS)
    if stack == "httpx2":
        import httpx2

        return httpx2.AsyncClient(timeout=httpx2.Timeout(600.0, connect=5.0),
                                  limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100))
    raise ValueError(f"unknown stack {stack!r}; known: {', '.join(STACKS)}")


async def run_convo(url: str, params: list[dict[str, Any]], concurrency: int, validate: bool,
                    stack: str = "default") -> int:
    import convo
    from convo.executor import AsyncHttpExecutor, arun_many

    convs = [convo.codec.structure(p, convo.Conversation) for p in params]
    async with stack_client(stack) as client, AsyncHttpExecutor(KEY, base_url=url, validate=validate, client=client) as ex:
        if stack == "httpx2":
            # httpx2 takes only its own URL type; the executor parses its URL once, as httpx's.
            # Benchmark-only: convo does not take httpx2 clients (see the _pool docstring).
            import httpx2

            ex._messages_url = httpx2.URL(str(ex._messages_url))  # type: ignore[assignment]
        results = await arun_many(convs, ex, concurrency=concurrency)
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} convo requests failed: {failed[0].error!r}")
    return len(results)


async def run_sdk(url: str, params: list[dict[str, Any]], concurrency: int) -> int:
    import anthropic

    sem = asyncio.Semaphore(concurrency)
    async with anthropic.AsyncAnthropic(api_key=KEY, base_url=url) as client:

        async def one(p: dict[str, Any]) -> Any:
            async with sem:
                return await client.messages.create(**p)

        out = await asyncio.gather(*(one(p) for p in params))
    return len(out)


def measure(fn: Callable[[], Awaitable[int]]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, requests) for one run."""
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    n = asyncio.run(fn())  # type: ignore[arg-type]
    return time.perf_counter() - w0, time.process_time() - c0, n


SDK = "anthropic AsyncAnthropic"


def throughput_table(url: str, levels: list[int], counts: dict[int, int], repeat: int,
                     stacks: list[str], validate_off: bool) -> list[list[str]]:
    Make = Callable[[list[dict[str, Any]], int], Callable[[], Awaitable[int]]]

    def convo_client(stack: str, validate: bool = True) -> Make:
        return lambda p, c: lambda: run_convo(url, p, c, validate, stack)

    clients: list[tuple[str, Make]] = [(f"convo [{STACKS[s]}]", convo_client(s)) for s in stacks]
    if validate_off:
        clients.append((f"convo [{STACKS['default']}], validate=False", convo_client("default", False)))
    clients.append((SDK, lambda p, c: lambda: run_sdk(url, p, c)))
    default = f"convo [{STACKS['default']}]" if "default" in stacks else None
    # warm up imports, connections and the emulator's code paths
    warm = requests(20, seed=99)
    for _, make in clients:
        measure(make(warm, 4))
    rows = []
    for c in levels:
        params = requests(counts[c], seed=c)
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in clients}
        for _ in range(repeat):
            for name, make in clients:
                wall, cpu, n = measure(make(params, c))
                runs[name].append((n / wall, 1000 * cpu / n))
        level_load = f"{os.getloadavg()[0]:.1f}"  # the 1-minute load average as the level ends
        med = {name: (statistics.median(r for r, _ in v), statistics.median(ms for _, ms in v))
               for name, v in runs.items()}
        for name, _ in clients:
            rps, ms = med[name]
            lo, hi = min(ms for _, ms in runs[name]), max(ms for _, ms in runs[name])
            vs_default = f"{ms / med[default][1]:.2f}x" if default else "-"
            rows.append([str(c), name, str(counts[c]), f"{rps:,.0f}", f"{ms:.2f}", f"{lo:.2f}-{hi:.2f}",
                         f"{ms / med[SDK][1]:.2f}x", vs_default, level_load])
    return rows


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------- memory


def _queue(n: int) -> Iterator[Any]:
    from convo import model as m

    for i in range(n):
        yield m.Conversation(model=MODEL, max_tokens=64, messages=[m.Message("user", f"question {i} " * 8)])


def traced_peak(n: int, collect: bool) -> int:
    from convo import model as m
    from convo.executor import MockExecutor, run_iter, run_many

    reply = m.Response(id="msg", content=(m.Text("ok"),), stop_reason="end_turn")

    class Mock(MockExecutor):
        def execute(self, conversation: m.Conversation) -> m.Response:
            return reply  # no call log: only the runner's own memory is measured

    ex = Mock(lambda c: reply)
    gc.collect()
    tracemalloc.start()
    try:
        if collect:
            results = run_many(_queue(n), ex, concurrency=16)
            assert len(results) == n
        else:
            for _ in run_iter(_queue(n), ex, concurrency=16):
                pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


_RSS_CHILD = """
import asyncio, re, sys
sys.path.insert(0, {here!r})
from executor import _queue, KEY
from convo.executor import AsyncHttpExecutor, arun_iter

def status(field):
    with open("/proc/self/status") as f:
        return int(re.search(field + r":\\s+(\\d+)", f.read()).group(1))

async def main(n):
    done = 0
    async with AsyncHttpExecutor(KEY, base_url={url!r}) as ex:
        async for r in arun_iter(_queue(200), ex, concurrency=16):  # warm: imports, pool, caches
            assert r.ok, r.error
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak (VmHWM) to the current RSS
        async for r in arun_iter(_queue(n), ex, concurrency=16):
            assert r.ok, r.error
            done += 1
    return done

n = int(sys.argv[1])
assert asyncio.run(main(n)) == n
print(status("VmHWM"))
"""


def rss_peak_kib(url: str, n: int) -> int:
    """Peak RSS (KiB) of a fresh process while it runs *n* queued requests, after a warm-up."""
    code = _RSS_CHILD.format(here=os.path.dirname(os.path.abspath(__file__)), url=url)
    out = subprocess.run([sys.executable, "-c", code, str(n)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def memory_table(url: str, small: int, big: int) -> list[list[str]]:
    rows = []
    for label, fn, unit in (
        ("run_iter + MockExecutor (traced peak)", lambda n: traced_peak(n, collect=False), "KiB"),
        ("run_many + MockExecutor (traced peak, holds all results)", lambda n: traced_peak(n, collect=True), "KiB"),
        ("arun_iter + AsyncHttpExecutor over HTTP (peak RSS)", lambda n: rss_peak_kib(url, n) * 1024, "KiB"),
    ):
        a, b = fn(small), fn(big)
        rows.append([label, f"{a / 1024:,.0f} {unit}", f"{b / 1024:,.0f} {unit}", f"{b / a:.2f}x"])
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # noqa: E731
    return "\n".join([fmt(header), line, *(fmt(r) for r in rows)])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--concurrency", default="1,16,64,128")
    ap.add_argument("--requests", type=int, default=0, help="requests per level (default: by level)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per cell; the table shows their median")
    ap.add_argument("--stacks", default=",".join(STACKS), help=f"HTTP stacks for convo: {', '.join(STACKS)}")
    ap.add_argument("--validate-off", action="store_true", help="add convo with validate=False")
    ap.add_argument("--no-memory", action="store_true", help="skip the run_many memory table")
    ap.add_argument("--quick", action="store_true", help="fewer requests, one repeat, small queues")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",")]
    stacks = [s for s in args.stacks.split(",") if s]
    if unknown := [s for s in stacks if s not in STACKS]:
        ap.error(f"unknown stack(s) {', '.join(unknown)}; known: {', '.join(STACKS)}")
    if "httpx2" in stacks:
        try:
            import httpx2
        except ImportError:
            ap.error("the httpx2 stack needs httpx2: pip install httpx2 (or leave it out of --stacks)")
    counts = {c: args.requests or (100 if args.quick else (300 if c == 1 else 1500)) for c in levels}
    repeat = 1 if args.quick else args.repeat
    small, big = (200, 2000) if args.quick else (1_000, 10_000)

    import httpcore
    import httpx

    versions = f"httpx {httpx.__version__}, httpcore {httpcore.__version__}"
    try:
        import httpcore2
        import httpx2

        versions += f", httpx2 {httpx2.__version__}, httpcore2 {httpcore2.__version__}"
    except ImportError:
        pass
    emu = EmulatorProcess()
    try:
        print(f"emulator: {emu.url} (separate process); python {sys.version.split()[0]}; "
              f"{os.cpu_count()} CPUs; {versions}; median of {repeat}")
        print(f"before: {load()}")
        print()
        print(table(["conc.", "client", "requests", "req/s", "client CPU ms/req", "spread", "vs SDK CPU", "vs default", "load"],
                    throughput_table(emu.url, levels, counts, repeat, stacks, args.validate_off)))
        print(f"after: {load()}")
        if not args.no_memory:
            print()
            print(table(["run_many memory", f"{small:,} queued", f"{big:,} queued", "ratio"],
                        memory_table(emu.url, small, big)))
    finally:
        emu.close()
    print(f"\nbenchmark process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
