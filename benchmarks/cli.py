"""Benchmark of ``convo transform`` end to end (issue 5): throughput at 1 and 2 workers beside a
plain-orjson script doing the same edits on dicts (the floor), and peak RSS on a 1 GB input.

Everything runs in this one invocation, on the same seeded corpus, as separate processes (startup
included, as a user would run them):

    python benchmarks/cli.py                       # 100 MB corpus, 1 GB RSS run, best of 3
    python benchmarks/cli.py --size-mb 20 --rss-gb 0 --repeat 1    # a quick look

The corpus is convo's seeded generator of logged transcripts (2-40 turns, text in a dozen scripts,
base64 PNG images with noisy pixels, tool_use/tool_result pairs, thinking with signatures,
system prompts, sampling parameters, prefill). The pipeline is three transforms:
``drop_sampling_params()``, ``drop_images(placeholder="[image removed]")`` and
``inject_system("You are a concise assistant.", where="top")``; the plain script does the same
edits on dicts, and the script checks that both outputs are the same JSON, line for line.

The three rows run in turn in each of ``--repeat`` rounds (the best of each is shown, and the
median of each round's floor against the convo run beside it), so that a
slow spell of a shared machine falls on every row alike. Wall times depend on what else the
machine is doing; the table gives the CPU seconds of each run
(the process and its workers) and the load average, so a reader can tell a busy machine from a
slow program. Peak RSS is read from /proc (VmHWM) for the command's process and each worker, by a
thread sampling every 20 ms; the wall time is taken the moment the command exits. The fixed cost
(the same commands on an empty input) is printed too: it is what keeps two workers from doubling
one on a small corpus. On the 1 GB input the floor runs again, so both ratios are shown there.

convo's bytecode is compiled first, as pip compiles an installed package: with
PYTHONDONTWRITEBYTECODE set, every run would otherwise compile the sources again (~50 ms).

Figures on a 2-core machine, Python 3.11 (2026-11-25): 100 MB, 1 worker 0.52-0.55x the floor,
2 workers 1.45-1.53x 1 worker; 300 MB, 0.55x and 1.72x; 1 GB, 0.53-0.56x and 1.74-1.77x, peak
RSS 25 MB (1 worker) and 80 MB in all (2 workers). 2026-12-07 night, both C extensions, rows
not yet interleaved: 100 MB, 1 worker 0.81x, 0.55x (loads 0.8, 1.0; the same code), 1 GB 0.99x,
0.86x, peak RSS 27 MB.

2026-12-07 afternoon (both C extensions, fast request hooks; two runs, load 1.9 and 1.1): 100 MB,
1 worker 0.67x and 0.65x by wall time, 0.74x and 0.63x by CPU seconds; 1 GB 0.68x and 0.67x
(97 and 107 MB/s against the floor's 141 and 159), peak RSS 30-31 MB; 2 workers on 1 GB 1.45x
and 1.52x one worker (1.65x and 1.70x on idle cores), 89 MB in all.

2026-12-08 (a quiet 2-core machine, load 0.6-1.1; 9 rounds; three runs at 9c594f3, 4dbebfc and
c8caa7c): 100 MB, 1 worker, round-by-round medians 0.83x, 0.91x, 0.88x (ranges 0.73-0.97x); 1 GB
0.90x (230 against 256 MB/s), peak RSS 25 MB; 2 workers 1.23-1.34x one on 100 MB, 1.76x on 1 GB
(80 MB in all). 9c594f3 measured 0.71-0.74x the day before at load 1.3-1.5: the machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
from attrs import define, field

from convo import dumps
from convo.testing.fixtures import logged_conversations

PIPELINE = (
    "drop_sampling_params()",
    'drop_images(placeholder="[image removed]")',
    'inject_system("You are a concise assistant.", where="top")',
)

# The floor: the same three edits on plain dicts, read and written with orjson, line by line.
PLAIN_SCRIPT = r'''
import sys, orjson
PH = "[image removed]"
SYS = "You are a concise assistant."

def drop_images(blocks):
    out, changed = [], False
    for b in blocks:
        t = b.get("type")
        if t == "image":
            out.append({"type": "text", "text": PH}); changed = True
        elif t == "tool_result" and isinstance(b.get("content"), list):
            inner = drop_images(b["content"])
            if inner is not None:
                b = dict(b)
                if inner: b["content"] = inner
                else: b.pop("content")
                changed = True
            out.append(b)
        else:
            out.append(b)
    return out if changed else None

def edit(d):
    for k in ("temperature", "top_p", "top_k"):
        d.pop(k, None)
    msgs = []
    for m in d["messages"]:
        c = m.get("content")
        if isinstance(c, list):
            nb = drop_images(c)
            if nb is not None:
                if not nb:
                    continue
                m = dict(m); m["content"] = nb
        msgs.append(m)
    d["messages"] = msgs
    s = d.get("system")
    if s is None: d["system"] = SYS
    elif isinstance(s, str): d["system"] = [{"type": "text", "text": s}, {"type": "text", "text": SYS}]
    else: d["system"] = s + [{"type": "text", "text": SYS}]
    return d

with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as o:
    for line in f:
        if line.strip():
            o.write(orjson.dumps(edit(orjson.loads(line))) + b"\n")
'''


@define
class Measure:
    """One measured run: wall and CPU seconds, peak RSS of the main process and of its children."""

    wall: float
    cpu: float
    rss_main: float = 0.0  # MB
    rss_children: dict[int, float] = field(factory=dict)
    cpu_main: float = 0.0
    cpu_children: dict[int, float] = field(factory=dict)  # last CPU seconds seen per descendant

    @property
    def cpu_all(self) -> float:
        """CPU seconds of the command and every descendant (fork-server workers included)."""
        return max(self.cpu, self.cpu_main + sum(self.cpu_children.values()))

    @property
    def ideal_wall(self) -> float:
        """The wall time on otherwise idle CPUs: the work spread over the cores, or the busiest
        process, whichever is longer."""
        busiest = max([self.cpu_main, *self.cpu_children.values()])
        return max(self.cpu_all / (os.cpu_count() or 1), busiest)

    @property
    def rss_max_child(self) -> float:
        return max(self.rss_children.values(), default=0.0)

    @property
    def rss_total(self) -> float:
        return self.rss_main + sum(self.rss_children.values())


def _status_hwm(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cpu_of(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return None


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def measure(argv: list[str]) -> Measure:
    """Run *argv*: its wall time (taken the moment it exits), its CPU seconds, and the peak RSS
    and CPU of it and its descendants, sampled from /proc every 20 ms by a thread."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    m = Measure(0.0, 0.0)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            hwm = _status_hwm(p.pid)
            if hwm is not None:
                m.rss_main = max(m.rss_main, hwm)
            c = _cpu_of(p.pid)
            if c is not None:
                m.cpu_main = c
            stack = _children(p.pid)
            while stack:
                kid = stack.pop()
                h = _status_hwm(kid)
                if h is not None:
                    m.rss_children[kid] = max(m.rss_children.get(kid, 0.0), h)
                c = _cpu_of(kid)
                if c is not None:
                    m.cpu_children[kid] = c
                stack.extend(_children(kid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    err = p.stderr.read() if p.stderr else b""
    p.wait()
    m.wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({p.returncode}):\n{err.decode()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    m.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return m


def make_corpus(path: Path, size: int, seed: str) -> int:
    """Write seeded logged transcripts until *size* bytes; return the line count."""
    n = written = 0
    with open(path, "wb") as f:
        for conv in logged_conversations(10**9, seed, min_turns=2, max_turns=40, image_px=64, image_noise=3000):
            line = dumps(conv) + b"\n"
            f.write(line)
            n += 1
            written += len(line)
            if written >= size:
                break
    return n


def same_json(a: Path, b: Path) -> bool:
    """Whether two JSONL files hold the same JSON values, line by line."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for la, lb in zip(fa, fb, strict=True):
            if orjson.loads(la) != orjson.loads(lb):
                return False
    return True


def convo_argv(src: Path, out: Path, workers: int) -> list[str]:
    argv = [sys.executable, "-m", "convo.cli", "transform", str(src), "-o", str(out), "-q", "--workers", str(workers)]
    for s in PIPELINE:
        argv += ["-t", s]
    return argv


def best(runs: list[Measure]) -> Measure:
    return min(runs, key=lambda m: m.wall)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=100)
    ap.add_argument("--rss-gb", type=float, default=1.0, help="0 skips the peak-RSS run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration (the best is shown)")
    ap.add_argument("--seed", default="bench-cli")
    ap.add_argument("--dir", help="work directory (default: a temporary one, removed afterwards)")
    args = ap.parse_args()

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="convo-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        corpus = work / "corpus.jsonl"
        t = time.perf_counter()
        lines = make_corpus(corpus, int(args.size_mb * 1e6), args.seed)
        size = corpus.stat().st_size
        mb = size / 1e6
        print(f"corpus: {lines:,} requests, {mb:.1f} MB (seed {args.seed!r}, made in {time.perf_counter() - t:.1f} s)")
        print(f"pipeline: {', '.join(PIPELINE)}")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")

        # Bytecode as an installed package has it (pip compiles it): without it, every run would
        # first compile convo's sources (about 50 ms) wherever PYTHONDONTWRITEBYTECODE is set.
        import compileall

        import convo

        compileall.compile_dir(str(Path(convo.__file__).parent), quiet=1)

        plain_py = work / "plain.py"
        plain_py.write_text(PLAIN_SCRIPT)
        results: dict[str, Measure] = {}
        configs = {
            "plain orjson on dicts": lambda out: [sys.executable, str(plain_py), str(corpus), str(out)],
            "convo transform, 1 worker": lambda out: convo_argv(corpus, out, 1),
            "convo transform, 2 workers": lambda out: convo_argv(corpus, out, 2),
        }
        outs = {name: work / f"out-{i}.jsonl" for i, name in enumerate(configs)}
        runs: dict[str, list[Measure]] = {name: [] for name in configs}
        for _ in range(args.repeat):  # rows in turn in each round, so that a slow spell falls on every row alike
            for name, argv_for in configs.items():
                runs[name].append(measure(argv_for(outs[name])))
        results = {name: best(ms) for name, ms in runs.items()}
        plain = results["plain orjson on dicts"]
        same = same_json(outs["plain orjson on dicts"], outs["convo transform, 1 worker"])
        identical = outs["convo transform, 1 worker"].read_bytes() == outs["convo transform, 2 workers"].read_bytes()

        print()
        print(f"{'run':<28} {'wall s':>7} {'MB/s':>7} {'vs floor':>9} {'CPU s':>7} {'peak RSS MB (main / max worker)':>32}")
        for name, m in results.items():
            rate = mb / m.wall
            ratio = plain.wall / m.wall
            rss = f"{m.rss_main:.0f}" + (f" / {m.rss_max_child:.0f}" if m.rss_children else "")
            print(f"{name:<28} {m.wall:>7.2f} {rate:>7.1f} {ratio:>8.2f}x {m.cpu_all:>7.2f} {rss:>32}")
        one = results["convo transform, 1 worker"]
        two = results["convo transform, 2 workers"]
        print()
        print(f"1 worker / floor:   {plain.wall / one.wall:.2f}x wall, {plain.cpu_all / one.cpu_all:.2f}x by CPU "
              "seconds (target >= 0.75x, issue 14)")
        print(f"2 workers / 1:      {one.wall / two.wall:.2f}x wall (target >= 1.7x); on idle cores "
              f"{one.ideal_wall / two.ideal_wall:.2f}x (CPU s: main {two.cpu_main:.2f}, workers "
              f"{', '.join(f'{c:.2f}' for c in sorted(two.cpu_children.values(), reverse=True))})")
        # each round's floor against the convo run beside it (the rows run in turn): a slow spell
        # falls on both, so the median of these is the steadiest figure on a shared machine
        paired = [(p.wall / o.wall, p.cpu_all / o.cpu_all)
                  for p, o in zip(runs["plain orjson on dicts"], runs["convo transform, 1 worker"], strict=True)]
        walls, cpus = sorted(w for w, _ in paired), sorted(c for _, c in paired)
        print(f"1 worker / floor, round by round ({len(paired)} rounds): median {statistics.median(walls):.2f}x wall "
              f"({walls[0]:.2f}-{walls[-1]:.2f}), median {statistics.median(cpus):.2f}x by CPU seconds")
        print(f"same JSON as the floor: {same}; 2-worker output byte-identical to 1 worker: {identical}")
        empty = work / "empty.jsonl"
        empty.write_bytes(b"")
        fixed = {w: best([measure(convo_argv(empty, work / "empty-out.jsonl", w)) for _ in range(args.repeat)]).wall
                 for w in (1, 2)}
        print(f"fixed cost, the same command on an empty input: {fixed[1]:.3f} s (1 worker), {fixed[2]:.3f} s "
              f"(2 workers, no worker is started for no data); the floor script: "
              f"{best([measure([sys.executable, str(plain_py), str(empty), str(work / 'e.jsonl')]) for _ in range(args.repeat)]).wall:.3f} s")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        for out in outs.values():
            out.unlink()

        if args.rss_gb > 0:
            big = work / "big.jsonl"
            target = int(args.rss_gb * 1e9)
            with open(big, "wb") as f:
                written = 0
                while written < target:
                    with open(corpus, "rb") as src:
                        shutil.copyfileobj(src, f, 1 << 22)
                    written += size
            gb = big.stat().st_size / 1e9
            print()
            print(f"peak RSS on a {gb:.2f} GB input (the corpus repeated):")
            out = work / "big-out.jsonl"
            floor = measure([sys.executable, str(plain_py), str(big), str(out)])
            print(f"  plain orjson on dicts: {gb * 1e3 / floor.wall:.1f} MB/s over {floor.wall:.1f} s, peak RSS "
                  f"{floor.rss_main:.0f} MB")
            out.unlink()
            runs = {}
            for workers in (1, 2):
                out = work / "big-out.jsonl"
                m = runs[workers] = measure(convo_argv(big, out, workers))
                kids = f", each other process <= {m.rss_max_child:.0f} MB" if m.rss_children else ""
                print(f"  {workers} worker(s): main {m.rss_main:.0f} MB{kids}; all processes {m.rss_total:.0f} MB; "
                      f"{gb * 1e3 / m.wall:.1f} MB/s over {m.wall:.1f} s, {m.cpu_all:.1f} CPU s (target: under 200 MB)")
                out.unlink()
            print(f"  1 worker / floor on this input: {floor.wall / runs[1].wall:.2f}x wall")
            print(f"  2 workers / 1 on this input: {runs[1].wall / runs[2].wall:.2f}x wall; on idle cores "
                  f"{runs[1].ideal_wall / runs[2].ideal_wall:.2f}x (main process {runs[2].cpu_main:.1f} CPU s)")
            big.unlink()
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
