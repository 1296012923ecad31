"""Validation benchmark: ``convo.validate`` on a 41-message request, against raw orjson (the floor).

Run: ``python benchmarks/validate.py [--repeat R] [--number N] [--seed S]``. Prints a table.

The request is one seeded, realistic agent conversation of 41 messages on ``claude-opus-4-8``: a
system prompt with a cache breakpoint, three tool definitions, adaptive thinking, user turns with
text (some with an image or a document), assistant turns with thinking, text and tool calls, tool
results (strings and blocks), ``metadata`` and ``output_config``. It is loaded once with
``convo.loads``; each row then times one call on the same value, in the same run:

- **raw orjson loads**: ``orjson.loads`` of the request's bytes (the floor every convo benchmark
  compares against: the cheapest thing one can do with these bytes);
- **validate**: ``convo.validate(conv)``, every rule (closed-world schema included);
- **validate (betas)**: the same with ``betas=("context-management-2025-06-27",)``;
- **validate, the tools new to it**: the same, each call on a copy whose ``tools`` value is its
  own (the closed world remembers a tools value it found fine by identity, as the codec hands
  lines with the same tools the same value: the row above is a run whose lines repeat their
  tools, this one a run whose every line has new ones);
- **validate without the closed-world walk**: every other rule, the schema walk switched off
  (its share of ``validate`` is the difference; the closed world may cost at most 0.5x the rest);
- **realworld**: every request body recorded against the live API
  (``../shared/realworld/anthropic-live-pydantic-ai``, 121 requests, 2023-06-01), each loaded
  once; the row is the mean per conversation of one pass over all of them, and its floor is
  ``orjson.loads`` of the same bodies' bytes.

Figures are CPU time of this process (``time.process_time``: steadier than wall time on a
loaded machine), medians of ``--repeat`` rounds in which every row runs ``--number`` calls in
turn (so that a slow spell falls on every row alike); the ratio column is
(row's time) / (raw orjson loads' time), so it stays comparable across machines. Run it twice
(before and after a change) on the same machine, with the load noted (``uptime``), to compare.
"""

from __future__ import annotations

import argparse
import base64
import gc
import os
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))

from codec import TOOLS as CODEC_TOOLS  # the tools of benchmarks/codec.py's corpus

TOOLS = [
    *CODEC_TOOLS,  # and a strict one with cache_control, which the closed-world checks look into
    {"name": "run_sql", "description": "Run a read-only SQL query.", "strict": True,
     "input_schema": {"type": "object", "properties": {"sql": {"type": "string"}},
                      "required": ["sql"], "additionalProperties": False},
     "cache_control": {"type": "ephemeral"}},
]
WORDS = ["the", "quarterly", "figures", "show", "growth", "in", "every", "region", "while", "costs", "stayed", "flat", "and", "the", "team", "shipped", "the", "new", "search", "feature", "ahead", "of", "schedule"]
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5f0000000049454e44ae426082")).decode()


def _text(rnd: random.Random, low: int, high: int) -> str:
    return " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(low, high)))


def make_request(seed: int = 41, turns: int = 41) -> dict[str, Any]:
    """The benchmark's request: *turns* messages, alternating user and assistant, ending on a user turn."""
    rnd = random.Random(seed)
    messages: list[dict[str, Any]] = []
    pending: list[str] = []
    for i in range(turns):
        if i % 2 == 0:
            blocks: list[dict[str, Any]] = [
                {"type": "tool_result", "tool_use_id": tid,
                 "content": (_text(rnd, 20, 80) if rnd.random() < 0.5
                             else [{"type": "text", "text": _text(rnd, 20, 80)}])}
                for tid in pending]
            pending = []
            if i % 10 == 4:
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                           "data": PNG}})
            if i % 14 == 6:
                blocks.append({"type": "document", "title": "notes",
                               "source": {"type": "text", "media_type": "text/plain",
                                          "data": _text(rnd, 40, 120)}})
            blocks.append({"type": "text", "text": _text(rnd, 5, 60)})
            if len(blocks) == 1 and rnd.random() < 0.5:
                messages.append({"role": "user", "content": blocks[0]["text"]})
            else:
                messages.append({"role": "user", "content": blocks})
        else:
            blocks = [{"type": "thinking", "thinking": _text(rnd, 20, 80),
                       "signature": base64.b64encode(rnd.randbytes(96)).decode()},
                      {"type": "text", "text": _text(rnd, 10, 80)}]
            if i < turns - 1 and rnd.random() < 0.6:
                for _ in range(rnd.choice((1, 1, 2))):
                    tid = f"toolu_{rnd.getrandbits(64):016x}"
                    tool = rnd.choice(TOOLS)
                    blocks.append({"type": "tool_use", "id": tid, "name": tool["name"],
                                   "input": {"query": _text(rnd, 2, 8), "limit": 5}})
                    pending.append(tid)
            messages.append({"role": "assistant", "content": blocks})
    last = messages[-1]
    if isinstance(last["content"], list):
        last["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return {
        "model": "claude-opus-4-8",
        "max_tokens": 16000,
        "system": [{"type": "text", "text": _text(rnd, 40, 120),
                    "cache_control": {"type": "ephemeral"}}],
        "messages": messages,
        "tools": TOOLS,
        "tool_choice": {"type": "auto"},
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "metadata": {"user_id": "user-0042"},
    }


def _time(fn: Callable[[], Any], number: int, repeat: int) -> float:
    """Median seconds per call over *repeat* runs of *number* calls."""
    runs = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.process_time()
        for _ in range(number):
            fn()
        runs.append((time.process_time() - t0) / number)
    return statistics.median(runs)


def _without_closed_world(fn: Callable[[], Any]) -> Callable[[], Any]:
    """*fn* run with the closed-world check switched off (``check_request`` a no-op: no walk of
    the top level, none of the messages): every other rule runs as in ``validate``. For this
    benchmark only."""
    from convo import rules

    def run() -> Any:
        saved = rules.check_request
        rules.check_request = lambda *a, **k: None  # type: ignore[assignment]
        try:
            return fn()
        finally:
            rules.check_request = saved
    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--number", type=int, default=500)
    p.add_argument("--seed", type=int, default=41)
    args = p.parse_args(argv)

    import convo

    body = orjson.dumps(make_request(args.seed))
    conv = convo.loads(body)
    assert len(conv.messages) == 41
    report = convo.validate(conv)
    assert report.ok, str(report)
    # the value is loaded once: what is timed is validate, not the decoding it would trigger
    rows: list[tuple[str, Callable[[], Any]]] = [
        ("raw orjson loads (floor)", lambda: orjson.loads(body)),
        ("validate", lambda: convo.validate(conv)),
    ]
    import inspect

    if "betas" in inspect.signature(convo.validate).parameters:
        rows.append(("validate (betas)",
                     lambda: convo.validate(conv, betas=("context-management-2025-06-27",))))
    live = sorted((Path(__file__).resolve().parents[2] / "shared" / "realworld"
                   / "anthropic-live-pydantic-ai").glob("*.json"))
    bodies = [orjson.dumps(x["request"]["body"]) for f in live for x in orjson.loads(f.read_bytes())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        convs = [convo.loads(b) for b in bodies]

        def all_live() -> None:
            for c in convs:
                convo.validate(c, api_version="2023-06-01")

        all_live()

    def all_live_quiet() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            all_live()

    # the tools' verdict is remembered by identity (the codec shares a repeated tools value from
    # line to line): this row gives every call an equal tools value of its own, as a request
    # whose tools are new costs
    import attrs

    from convo._json import freeze, thaw

    fresh = [attrs.evolve(conv, tools=freeze(thaw(conv.tools))) for _ in range(args.number)]
    turn = iter(range(1 << 62))
    rows.append(("validate, the tools new to it (an equal copy each call)",
                 lambda: convo.validate(fresh[next(turn) % len(fresh)])))
    rows.append(("validate without the closed-world walk (its share is the difference)",
                 _without_closed_world(lambda: convo.validate(conv))))
    for _, fn in rows:  # warm up caches (profiles, schema)
        fn()
    # the rows take turns, one run of each per round, so that a slow spell of the machine falls
    # on every row alike (medians of the rounds)
    runs: list[list[float]] = [[] for _ in rows]
    for _ in range(args.repeat):
        for k, (_, fn) in enumerate(rows):
            runs[k].append(_time(fn, args.number, 1))
    times = [statistics.median(r) for r in runs]
    floor = times[0]
    load = os.getloadavg()
    print(f"validate on a 41-message request ({len(body):,} bytes); Python {sys.version.split()[0]}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"median of {args.repeat} x {args.number} calls")
    print()
    print("| what | µs per call | ratio to raw orjson loads |")
    print("|---|---:|---:|")
    print(f"| {rows[0][0]} | {floor * 1e6:.1f} | 1.00 |")
    for (name, _), t in zip(rows[1:], times[1:], strict=True):
        print(f"| {name} | {t * 1e6:.1f} | {t / floor:.2f} |")
    if convs:
        n = len(convs)
        number = max(1, args.number // 50)
        live_floor = _time(lambda: [orjson.loads(b) for b in bodies], number, args.repeat) / n
        t = _time(all_live_quiet, number, args.repeat) / n
        print(f"| realworld: raw orjson loads, per request ({n} requests) | {live_floor * 1e6:.1f} | 1.00 |")
        print(f"| realworld: validate, per request | {t * 1e6:.1f} | {t / live_floor:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
