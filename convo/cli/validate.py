"""``convo validate``: every line checked against the API's rules for its model.

Layer: cli.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

import orjson

from convo.cli._common import (
    EXIT_RULE,
    add_allow_unknown_model,
    add_api_version,
    add_common,
    check_target_model,
    command_parser,
    exit_status,
    inputs_of,
    problems_text,
    run_op,
    say,
)
from convo.cli._report import summary_line, table
from convo.stream.operation import OpSpec
from convo.stream.sinks import Sink

__all__ = ["add_parser", "command"]

EPILOG = """\
output: one line per violation, FILE:LINE: RULE $.path message (hint), then a table by rule.
fails (exit 1) when any line is invalid (warnings allowed; --strict: warnings too).

examples:
  convo validate transcripts.jsonl
  convo validate data/ --model claude-opus-4-8          # as if every line were sent to that model
  convo validate out.jsonl.gz --json | jq 'select(.type == "diagnostic") | .rule'
  cat requests.jsonl | convo validate - --api-version 2023-06-01
  convo validate requests.jsonl --beta context-management-2025-06-27 --allow x_trace_id

""" + EXIT_RULE


def add_parser(sub: Any) -> None:
    """Register ``convo validate`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "validate", "check every line against the API's rules for its model", EPILOG)
    add_common(p)
    p.add_argument("--model", metavar="M", help="check every line for model M (default: the line's own model)")
    add_api_version(p)
    add_allow_unknown_model(p)
    p.add_argument("--json", action="store_true", help="JSON lines: one per diagnostic, then a summary")
    p.add_argument("--strict", action="store_true", help="warnings make a line invalid too")
    p.add_argument("--rejects", metavar="R", help="also copy invalid lines (with the reason) to R")
    p.add_argument("--beta", action="append", dest="betas", default=[], metavar="NAME",
                   help="the lines are sent with this anthropic-beta header (repeatable): keys and types "
                        "of that beta are accepted")
    p.add_argument("--allow", action="append", default=[], metavar="KEY",
                   help="accept this unknown key (a name, at any depth, or a $.path pattern with *; "
                        "repeatable), for transcripts from an API newer than convo's schema; to remove "
                        "such keys instead: convo transform -t 'drop_unknown_fields()'")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """``convo validate``."""
    check_target_model(args, args.model, "--model")
    sources = inputs_of(args)
    spec = OpSpec(
        "validate",
        {
            "model": args.model,
            "api_version": args.api_version,
            "json": args.json,
            "strict": args.strict,
            "keep_rejects": bool(args.rejects),
            "kind": args.kind,
            "max_line_bytes": args.max_line_bytes,
            "betas": args.betas,
            "allow": args.allow,
        },
    )
    rejects = Sink(args.rejects) if args.rejects else None
    with Sink("-", lazy=True) as out, rejects if rejects is not None else contextlib.nullcontext():
        counts, tally, problems = run_op(args, spec, sources, out=out, rejects=rejects)
    by_rule = sorted(tally.rules.items(), key=lambda kv: (-kv[1], kv[0]))
    stdout = sys.stdout.buffer if args.json or by_rule else None
    if args.json:
        summary = {
            "type": "summary",
            "lines": counts.lines_in,
            "valid": counts.out,
            "invalid": counts.rejected,
            "with_warnings": tally.with_warnings,
            "skipped": tally.skipped,
            "model": args.model,
            "api_version": args.api_version,
            "rules": [{"rule": r, "severity": s, "count": n} for (r, s), n in by_rule],
        }
        assert stdout is not None
        stdout.write(orjson.dumps(summary) + b"\n")
        stdout.flush()
    elif by_rule:
        assert stdout is not None
        rows = [(r, s, f"{n:,}") for (r, s), n in by_rule]
        text = "\n".join(["", *table(rows, ("rule", "severity", "count"))]) + "\n"
        stdout.write(text.encode())
        stdout.flush()
    target = f"for {args.model}" if args.model else "for each line's model"
    lines = [
        summary_line("validate", counts, out_word="valid", rejected_word="invalid"),
        f"  checked {target} under API {args.api_version}"
        + (f"; {tally.with_warnings:,} valid with warnings" if tally.with_warnings else "")
        + (f"; {tally.skipped:,} batch result lines skipped (no request)" if tally.skipped else ""),
        *problems_text(problems),
    ]
    if not counts.rejected and not problems:
        lines.append("  all valid")
    say(args, lines)
    return exit_status(args, counts, problems, failed=counts.rejected > 0)
