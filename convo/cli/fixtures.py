"""``convo fixtures``: reproducible conversations for test suites.

Layer: cli (the generator is :mod:`convo.testing.fixtures`).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from convo.cli._common import (
    EXIT_OK,
    UsageError,
    add_allow_unknown_model,
    add_api_version,
    add_common,
    check_target_model,
    command_parser,
    positive,
    say,
)

__all__ = ["add_parser", "command"]

EPILOG = """\
The same --seed gives the same bytes on every machine; --count 10 is the first 10 lines of
--count 1000. Conversations are valid for --model under --api-version unless --invalid RULE asks
for exactly that rule to be broken. --logged writes transcripts as stored for older models
(prefill, temperature, top_k, budget thinking, images, tool loops): input for `convo transform -t
'migrate(model=...)'`.

examples:
  convo fixtures --count 100 --seed 1 -o tests/data/convs.jsonl
  convo fixtures --count 20 --seed 7 --model claude-sonnet-4-5 --images --tools --thinking -o rich.jsonl
  convo fixtures --count 5 --seed 1 --invalid tool-use.missing-result | convo validate -
  convo fixtures --count 200 --seed 3 --logged -o old-transcripts.jsonl

Without -o they go to stdout (never onto a terminal: pipe them on).
"""


def add_parser(sub: Any) -> None:
    """Register ``convo fixtures`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "fixtures", "generate reproducible conversations for test suites", EPILOG)
    p.add_argument("--count", type=int, required=True, metavar="N", help="how many conversations to write")
    p.add_argument("--seed", required=True, metavar="S", help="any integer or word")
    p.add_argument("--model", default="claude-opus-4-8", metavar="M",
                   help="the model they are valid for (default claude-opus-4-8)")
    add_api_version(p)
    add_allow_unknown_model(p)
    p.add_argument("--invalid", metavar="RULE", help="break exactly this rule (see `convo validate`'s rule ids)")
    p.add_argument("--images", action="store_true", help="include base64 PNG images")
    p.add_argument("--tools", action="store_true", help="include tools and tool_use/tool_result pairs")
    p.add_argument("--thinking", action="store_true", help="include thinking (where the model has it)")
    p.add_argument("--max-turns", type=positive, default=12, metavar="N",
                   help="messages per conversation at most (default 12)")
    p.add_argument("--logged", action="store_true", help="transcripts as logged for older models")
    p.add_argument("-o", "--output", default="-", metavar="OUT",
                   help="the JSONL file to write ('-' or nothing: stdout; .gz: compressed)")
    add_common(p, workers=False, inputs=False)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """``convo fixtures``."""
    from convo.codec import dumps
    from convo.codec.jsonl import AtomicWriter
    from convo.testing.fixtures import FixtureError, conversations, logged_conversations

    if args.count < 0:
        raise UsageError("--count must be >= 0")
    if args.output == "-" and sys.stdout.isatty():
        raise UsageError(
            f"not writing {args.count:,} conversations (long JSON lines) to a terminal: give -o FILE, "
            "or pipe them on (convo fixtures ... | head -n 1 | jq .)"
        )
    if args.logged:
        if args.invalid or args.images or args.tools or args.thinking:
            raise UsageError("--logged makes its own mix; it takes no --invalid/--images/--tools/--thinking")
        convs = logged_conversations(args.count, args.seed, max_turns=args.max_turns)
    else:
        check_target_model(args, args.model, "--model")
        try:
            convs = conversations(
                args.count, args.seed, model=args.model, api_version=args.api_version,
                images=args.images, tools=args.tools, thinking=args.thinking,
                invalid=args.invalid, max_turns=args.max_turns,
            )
        except FixtureError as e:
            raise UsageError(str(e)) from None
    start = time.perf_counter()
    n = size = 0
    try:
        with AtomicWriter(args.output) as w:
            for conv in convs:
                line = dumps(conv)
                w.write(line)
                n += 1
                size += len(line) + 1
    except FixtureError as e:
        raise UsageError(str(e)) from None
    took = time.perf_counter() - start
    what = "logged transcripts" if args.logged else f"conversations for {args.model}"
    broken = f", each breaking {args.invalid}" if args.invalid else ""
    say(args, f"convo fixtures: {n:,} {what}{broken} (seed {args.seed}); {size / 1e6:.1f} MB in {took:.2f} s")
    return EXIT_OK
