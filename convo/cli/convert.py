"""``convo convert``: between transcript formats, with a loss summary.

Layer: cli (the work is :mod:`convo.stream.convert`'s).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from convo.cli._common import (
    EXIT_FAIL,
    EXIT_OK,
    add_common,
    command_parser,
    positive,
    rejects_sink,
    run_op,
    say,
)
from convo.cli._report import counts_table, summary_line
from convo.codec.rejects import CODES
from convo.stream.counts import RunCounts
from convo.stream.operation import OpSpec
from convo.stream.sinks import Sink

__all__ = ["add_parser", "command"]

EPILOG = """\
formats: anthropic (Messages API requests), batch (Message Batches request lines), exchange (what
`convo run` writes; in only), openai, openai-finetune, sharegpt, hf, hh, and in only: inspect
(inspect_ai .json/.eval logs), claude-code (session JSONL). What a conversion cannot carry is
counted in the loss summary; a line that cannot be read at all goes to the rejects file.
exit status: 0 done (rejected lines are counted), 1 a damaged input or a bug in convo (a writer
that raised: code `internal` in the rejects file), 2 bad usage.

examples:
  convo convert chats.jsonl --from openai --to anthropic -o requests.jsonl --model claude-opus-4-8 --max-tokens 1024
  convo convert sharegpt.json --from sharegpt --to openai-finetune -o train.jsonl
  convo convert logs/*.eval --from inspect --to anthropic -o requests.jsonl
"""


def add_parser(sub: Any) -> None:
    """Register ``convo convert`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "convert", "convert between transcript formats", EPILOG)
    add_common(p)
    p.add_argument("--from", dest="from_", required=True, metavar="FORMAT", help="the input format")
    p.add_argument("--to", required=True, metavar="FORMAT", help="the output format")
    p.add_argument("-o", "--output", default="-", metavar="OUT", help="output ('-': stdout; .gz: compressed)")
    p.add_argument("--rejects", metavar="R", help="rejects file (default OUT.rejects.jsonl)")
    p.add_argument("--model", metavar="M", help="set the model where the input has none")
    p.add_argument("--max-tokens", type=positive, metavar="N", help="set max_tokens where the input has none")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """``convo convert``."""
    from convo.stream.convert import check_formats, convert_files

    check_formats(args.from_, args.to)

    def run(spec: OpSpec, sources: Sequence[str], *, out: Sink | None,
            rejects: Sink | None) -> tuple[RunCounts, Any, list[str]]:
        return run_op(args, spec, sources, out=out, rejects=rejects)

    rejects = rejects_sink(args, args.output)
    with Sink(args.output) as out, rejects:
        counts, tally, problems = convert_files(
            args.inputs or [], from_=args.from_, to=args.to, model=args.model,
            max_tokens=args.max_tokens, max_line_bytes=args.max_line_bytes,
            out=out, rejects=rejects, run=run,
        )
    lines = [summary_line("convert", counts), f"  {args.from_} -> {args.to}"]
    if args.output != "-":
        lines.append(f"  output: {args.output}")
    if counts.rejected:
        lines.append(f"  rejects: {rejects.path}")
        lines.extend(counts_table("rejected", tally.rejects, notes=CODES))
    if tally.losses:
        lines.append(f"  lines with losses: {tally.lossy:,} of {counts.out:,}")
        lines.extend(counts_table("lost or changed", tally.losses))
    else:
        lines.append("  nothing lost")
    lines.extend(f"  warning: {p}" for p in problems)
    bugs = tally.rejects.get("internal", 0)
    if bugs:
        lines.append(f"  warning: {bugs:,} lines met a bug in convo (code internal in the rejects): please report it")
    say(args, lines)
    return EXIT_FAIL if problems or bugs else EXIT_OK
