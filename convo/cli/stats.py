"""``convo stats``: lines, turns, models, images, tool calls, tokens and stop reasons.

Layer: cli.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from convo.cli._common import (
    EXIT_RULE,
    add_common,
    add_fail_on_reject,
    command_parser,
    exit_status,
    inputs_of,
    problems_text,
    run_op,
    say,
)
from convo.cli._report import counts_table, summary_line
from convo.stream.counts import RunCounts
from convo.stream.operation import OpSpec

__all__ = ["add_parser", "command"]

EPILOG = """\
examples:
  convo stats transcripts.jsonl
  convo stats logs/ --json --workers 2

Here the rejected lines are the undecodable ones (counted, not written anywhere).

""" + EXIT_RULE


def add_parser(sub: Any) -> None:
    """Register ``convo stats`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "stats", "count lines, turns, models, images, tool calls, tokens, stop reasons", EPILOG)
    add_common(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    add_fail_on_reject(p)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """``convo stats``."""
    sources = inputs_of(args)
    spec = OpSpec("stats", {"kind": args.kind, "max_line_bytes": args.max_line_bytes})
    counts, t, problems = run_op(args, spec, sources, out=None, rejects=None)
    if args.json:
        d = t.as_json()
        d["undecodable"] = counts.rejected
        sys.stdout.buffer.write(orjson.dumps(d, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(stats_text(counts, t))
    sys.stdout.flush()
    say(args, [summary_line("stats", counts, out_word="read", rejected_word="undecodable"),
               *problems_text(problems)])
    return exit_status(args, counts, problems)


def stats_text(counts: RunCounts, t: Any) -> str:
    """The statistics as an aligned text table."""
    conv = t.conversations
    mean = t.turns / conv if conv else 0.0
    rows = [
        ("lines", f"{counts.lines_in:,}"),
        ("  decoded", f"{t.lines:,}"),
        ("  undecodable", f"{counts.rejected:,}"),
        ("conversations", f"{conv:,}"),
        ("turns (messages)", f"{t.turns:,}"),
        ("  per conversation", f"{mean:.1f} mean, {t.max_turns:,} max"),
        ("with a system prompt", f"{t.with_system:,}"),
        ("images", f"{t.images:,}"),
        ("documents", f"{t.documents:,}"),
        ("tool calls", f"{t.tool_calls:,}"),
        ("tool results", f"{t.tool_results:,}"),
        ("thinking blocks", f"{t.thinking:,}"),
        ("estimated tokens", f"{t.tokens:,}"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    for title, counter in (
        ("kinds", t.kinds), ("models", t.models), ("roles", t.roles),
        ("stop reasons", t.stop_reasons), ("results", t.results),
        ("undecodable lines", t.rejects),
    ):
        lines.extend(line[2:] for line in counts_table(title, counter))
    return "\n".join(lines) + "\n"
