"""The fluent builders against the transforms they stand for: CPU µs per call.

Run: ``python benchmarks/builders.py [--repeat N]``. For each fluent method, the median (of
``--repeat`` runs of 2,000 calls, CPU time: less disturbed on a shared machine) of the method
call, and of applying the equivalent transform built once beforehand ("prebuilt"), in the same
run; the ratio is fluent / prebuilt. A fluent call must also build what the prebuilt transform
built once (its message), so about 1.3-1.5x is the floor for the turn builders.

Figures, issue 14 (2026-12-07, 2-core machine, load average ~6, bytecode compiled, CPU µs,
two runs each, before = main at c41441b in the same session): ``user('Hi')`` 7.2-7.5 before,
3.4-3.6 after (prebuilt 2.3-2.5); ``with_system`` 6.5-6.6 -> 2.2-2.5 (prebuilt 2.3-2.6);
``prefill`` 4.7-5.2 -> 3.8-4.2; ``with_params(temperature=0.2)`` 5.6-9.3 -> 4.1;
``with_image(url)`` 8.9-18.0 -> 7.5-7.6; ``system_message`` 20.6-22.7 -> 12.5-13.4. Before, each
call built its transform (repr arguments, checks, the message) and called it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

from convo import Conversation
from convo import transforms as t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args(argv)
    conv = Conversation(model="claude-sonnet-4-5", max_tokens=64).user("Hello").assistant("Hi!").user("More")
    asked = Conversation(model="claude-sonnet-4-5", max_tokens=64).user("Hello")
    opus = Conversation(model="claude-opus-4-8").user("a")
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any] | None]] = []

    def case(name: str, fluent: Callable[[], Any], transform: t.Transform, on: Conversation) -> None:
        assert fluent() == transform(on), name
        cases.append((name, fluent, lambda: transform(on)))

    case("user('Hi')", lambda: conv.user("Hi"), t.append_user("Hi"), conv)
    case("assistant('Ok')", lambda: conv.assistant("Ok"), t.append_assistant("Ok"), conv)
    case("with_system('Be terse.')", lambda: conv.with_system("Be terse."),
         t.inject_system("Be terse.", where="top", replace=True), conv)
    case("prefill('The answer')", lambda: asked.prefill("The answer"), t.prefill("The answer"), asked)
    case("with_params(temperature=0.2)", lambda: conv.with_params(temperature=0.2), t.with_params(temperature=0.2),
         conv)
    case("with_image(url)", lambda: conv.with_image("https://x/a.png"), t.attach_image("https://x/a.png"), conv)
    case("system_message('x')", lambda: opus.system_message("x"), t.inject_system("x", where="message"), opus)

    n = 2000
    print(f"Python {sys.version.split()[0]}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"CPU µs per call, median of {args.repeat} x {n}")
    print(f"{'':32} {'fluent':>8} {'prebuilt':>9} {'ratio':>6}")
    for name, fluent, prebuilt in cases:
        f = statistics.median(timeit.repeat(fluent, number=n, repeat=args.repeat, timer=time.process_time)) / n
        p = statistics.median(timeit.repeat(prebuilt, number=n, repeat=args.repeat, timer=time.process_time)) / n
        print(f"{name:32} {f * 1e6:8.1f} {p * 1e6:9.1f} {f / p:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
