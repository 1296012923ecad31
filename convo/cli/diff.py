"""``convo diff``: what changed between two runs of a corpus (or two versions of its requests).

Layer: cli (the comparisons are :mod:`convo.view.diff`'s, the page :mod:`convo.view.report`'s).
Reads BEFORE and AFTER in step, pairs their lines by record id or line number, prints a summary
table and the lines worth reading first, writes an HTML report with ``--html``, and exits 1 when a
``--fail-if`` threshold is crossed (for CI).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Iterator
from typing import Any

import orjson

from convo.cli._common import (
    EXIT_FAIL,
    EXIT_OK,
    UsageError,
    add_api_version,
    command_parser,
    positive,
    say,
)
from convo.cli._report import mb, table
from convo.cli.view import prices_of
from convo.stream.sources import STDIN, display_name, expand

__all__ = ["add_parser", "command"]

EPILOG = """\
Lines are paired by record id: `convo run`'s ids (FILE:LINE) by file and position, so a re-run
of a transformed copy of the input pairs with its original (even where the transform rejected
lines); other ids and batch custom_ids as they are; lines without an id (requests) by position
among the readable lines. Per pair: stop_reason, refusals, API errors, tool
calls (names, and arguments as a JSON diff), text length and similarity, validity for --model,
usage and cost; for request files, the parameters that changed (model, sampling, thinking, system,
number of turns).

--fail-if EXPR (repeatable; exit 1 when any holds):  METRIC OP NUMBER[%], joined by and / or,
with parentheses. OP: > >= < <= == !=. With %, a count is its share of the matched lines and a
*_change its change relative to BEFORE. Metrics: matched, only_before, only_after,
undecodable_before, undecodable_after, changed, stop_reason_changed, refusals_appeared,
refusals_vanished, errors_appeared, errors_vanished, tool_calls_changed, tool_names_changed,
tool_args_changed, text_changed, low_similarity, became_invalid, became_valid, params_changed,
cost_change,
input_tokens_change, output_tokens_change, mean_similarity.

examples:
  convo diff before.jsonl after.jsonl
  convo diff before.jsonl after.jsonl --html diff.html --model claude-opus-4-8
  convo diff before.jsonl after.jsonl --fail-if 'tool_calls_changed > 2%' --fail-if 'refusals_appeared > 0'
  convo diff transcripts.jsonl migrated.jsonl --model claude-opus-4-8     # two versions of the requests
"""


def add_parser(sub: Any) -> None:
    """Register ``convo diff`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "diff", "what changed between two runs (exchange records) or two request files", EPILOG)
    p.add_argument("before", metavar="BEFORE", help="exchange records (what convo run writes) or requests")
    p.add_argument("after", metavar="AFTER", help="the same lines after the change (a re-run, or migrated requests)")
    p.add_argument("--html", metavar="REPORT", help="write an HTML report here, the changed lines side by side")
    p.add_argument("--fail-if", dest="fail_if", action="append", default=[], metavar="EXPR",
                   help="exit 1 when this holds (see below); repeatable")
    p.add_argument("--model", metavar="M", help="check both sides' requests for model M (validity changes)")
    add_api_version(p)
    p.add_argument("--json", action="store_true", help="the summary as one JSON object on stdout")
    p.add_argument("--top", type=positive, default=20, metavar="N", help="how many lines worth reading to keep (default 20)")
    p.add_argument("--prices", metavar="FILE", help="a prices file over the built-in table")
    p.add_argument("--max-line-bytes", type=positive, default=64 * 1024 * 1024, metavar="N", help=argparse.SUPPRESS)
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(func=command)


def _lines(path: str, max_line_bytes: int) -> Iterator[Any]:
    from convo.codec.jsonl import iter_lines

    files = expand([path])
    if not files:
        raise UsageError(f"no *.jsonl or *.jsonl.gz files in {path}")
    for f in files:
        source: Any = sys.stdin.buffer if f == STDIN else f
        yield from ((display_name(f), raw) for raw in iter_lines(source, max_line_bytes=max_line_bytes))


def command(args: argparse.Namespace) -> int:
    """``convo diff``."""
    from convo.view.diff import ConditionError, Keys, Matcher, Summary, digest, parse_condition

    if args.before == STDIN and args.after == STDIN:
        raise UsageError("BEFORE and AFTER cannot both be stdin")
    try:
        conditions = [parse_condition(c) for c in args.fail_if]
    except ConditionError as e:
        raise UsageError(str(e)) from None
    prices = prices_of(args.prices)
    check = _checker(args.model, args.api_version)
    keep = bool(args.html)
    summary = Summary(top=args.top)
    matcher = Matcher(summary)
    keys_b, keys_a = Keys(), Keys()
    started = time.perf_counter()
    size = 0
    for pb, pa in itertools.zip_longest(_lines(args.before, args.max_line_bytes), _lines(args.after, args.max_line_bytes)):
        if pb is not None:
            name, raw = pb
            size += len(raw.data)
            matcher.before(_digest(digest, raw, name, prices, check, keys_b, keep))
        if pa is not None:
            name, raw = pa
            size += len(raw.data)
            matcher.after(_digest(digest, raw, name, prices, check, keys_a, keep))
    matcher.finish()
    elapsed = time.perf_counter() - started
    results = [(c, c.holds(summary)) for c in conditions]
    if args.json:
        d = summary.as_json()
        d["fail_if"] = [{"condition": c.text, "holds": hit, "values": c.explain(summary)} for c, hit in results]
        sys.stdout.buffer.write(orjson.dumps(d, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(_text(summary, results, prices))
    sys.stdout.flush()
    if args.html:
        from convo.stream.sinks import Sink
        from convo.view.report import diff_page

        page = diff_page(summary, before=display_name(args.before), after=display_name(args.after),
                         conditions=results, prices=prices, target=args.model, api_version=args.api_version)
        with Sink(args.html) as sink:
            sink.write(page.encode("utf-8"))
    rate = size / 1e6 / elapsed if elapsed > 0 else 0.0
    lines = [f"convo diff: {summary.matched:,} pairs, {summary.changed:,} changed; "
             f"{mb(size)} in {elapsed:.2f} s ({rate:.1f} MB/s)"]
    if args.html:
        lines.append(f"  report: {args.html}")
    failed = [c for c, hit in results if hit]
    for c in failed:
        lines.append(f"  FAILED --fail-if {c.text!r}: {c.explain(summary)}")
    say(args, lines)
    return EXIT_FAIL if failed else EXIT_OK


def _digest(fn: Any, raw: Any, name: str, prices: Any, check: Any, keys: Any, keep: bool) -> Any:
    from convo.view.diff import Digest

    if raw.error is not None:
        return Digest(key=("line", raw.line), file=name, line=raw.line, kind="undecodable", undecodable=str(raw.error))
    return fn(raw.data, file=name, line=raw.line, prices=prices, check=check, keys=keys, keep=keep)


def _checker(model: str | None, api_version: str) -> Any:
    """conversation -> the ids of the rules it breaks (errors) for *model*; None without a model."""
    if not model:
        return None
    from convo.profiles import get_profile
    from convo.rules import validate

    profile = get_profile(model)

    def check(conv: Any) -> list[str]:
        return [v.rule for v in validate(conv, profile=profile, api_version=api_version).errors]

    return check


def _text(s: Any, results: list[Any], prices: Any) -> str:
    from convo.view.diff import ranked, summary_rows, usage_rows

    out = table(summary_rows(s), ("", "lines", "of matched"))
    out.append("")
    out.extend(table(usage_rows(s), ("", "before", "after", "change")))
    out.append(f"  ({prices.describe()})")
    moved = [(b, a, f"{n:,}") for (b, a), n in ranked(s.transitions) if b != a][:10]
    if moved:
        out.append("")
        out.extend(table(moved, ("stop_reason before", "after", "lines")))
    worth = s.worth_reading[:10]
    if worth:
        out.append("")
        out.append("lines worth reading first:")
        for d in worth:
            out.append(f"  {d.after.where}: " + "; ".join(d.reasons()))
    for c, hit in results:
        out.append(f"--fail-if {c.text!r}: {'FAILED' if hit else 'ok'} ({c.explain(s)})")
    return "\n".join(out) + "\n"
