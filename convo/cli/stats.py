"""``convo stats``: lines, turns, models, images, tool calls, tokens, stop reasons, and usage and
cost from exchange records, batch results and Claude Code sessions; ``--html`` draws it.

Layer: cli (the counting is :class:`convo.stream.ops.StatsOp`'s, the prices
:mod:`convo.pricing`'s, the page :mod:`convo.view.report`'s).
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
from convo.cli._report import counts_table, summary_line, table
from convo.stream.counts import RunCounts
from convo.stream.operation import OpSpec

__all__ = ["add_parser", "command", "usage_rows"]

EPILOG = """\
Usage and cost come from the responses in exchange records (what `convo run` writes), batch
results (priced with the Batch API's discount) and Claude Code session files (which repeat one
API message over several lines: each message is counted once, by its id). Prices are the dated,
sourced table in convo/profiles.json ("pricing"); --prices FILE overrides or adds models
({"pricing": {"as_of": ..., "models": {"my-model": {"input": 3, "output": 15, "cache_write_5m": 3.75,
"cache_write_1h": 6, "cache_read": 0.3}}}}). A model without a price is reported as not priced.

examples:
  convo stats transcripts.jsonl
  convo stats logs/ --json --workers 2
  convo stats exchanges.jsonl --html stats.html
  convo stats ~/.claude/projects/demo/ --json

Here the rejected lines are the undecodable ones (counted, not written anywhere).

""" + EXIT_RULE


def add_parser(sub: Any) -> None:
    """Register ``convo stats`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "stats", "count lines, turns, models, tools, tokens, stop reasons; usage and cost", EPILOG)
    add_common(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--html", metavar="PAGE", help="also write the figures as a page of charts")
    p.add_argument("--prices", metavar="FILE", help="a prices file over the built-in table")
    add_fail_on_reject(p)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """``convo stats``."""
    from convo.cli.view import prices_of

    prices = prices_of(args.prices)  # read here first: a bad file is a usage error before any work
    sources = inputs_of(args)
    spec = OpSpec("stats", {"kind": args.kind, "max_line_bytes": args.max_line_bytes, "prices": args.prices})
    counts, t, problems = run_op(args, spec, sources, out=None, rejects=None)
    usage = usage_summary(t, prices)
    if args.json:
        d = t.as_json()
        d["undecodable"] = counts.rejected
        d["usage"] = usage
        sys.stdout.buffer.write(orjson.dumps(d, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(stats_text(counts, t) + usage_text(usage))
    sys.stdout.flush()
    if args.html:
        from convo.stream.sinks import Sink

        with Sink(args.html) as sink:
            sink.write(stats_html(counts, t, usage, sources, prices).encode("utf-8"))
    lines = [summary_line("stats", counts, out_word="read", rejected_word="undecodable"), *problems_text(problems)]
    if args.html:
        lines.append(f"  page: {args.html}")
    say(args, lines)
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
    if t.claude_code:
        rows.append(("Claude Code messages", f"{len(t.claude_code):,} (counted once each)"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    for title, counter in (
        ("kinds", t.kinds), ("models", t.models), ("roles", t.roles),
        ("stop reasons", t.stop_reasons), ("results", t.results),
        ("undecodable lines", t.rejects),
    ):
        lines.extend(line[2:] for line in counts_table(title, counter))
    return "\n".join(lines) + "\n"


def usage_summary(t: Any, prices: Any) -> dict[str, Any]:
    """Usage and cost by model (batch priced apart), the totals, what is not priced, and the
    table's date and source: plain JSON."""
    rows = []
    total = 0.0
    unpriced: dict[str, int] = {}
    for (model, batch), (counts, responses) in sorted(t.usage().items(), key=lambda kv: kv[0]):
        cost = prices.cost(counts, model, batch=batch)
        row = {"model": model, "batch": batch, "responses": responses, "input": counts.input,
               "cache_write_5m": counts.cache_write_5m, "cache_write_1h": counts.cache_write_1h,
               "cache_read": counts.cache_read, "output": counts.output, "web_search": counts.web_search,
               "web_fetch": counts.web_fetch, "cost": None if cost is None else round(cost.total, 6),
               "priced_as": prices.resolve(model)}
        if cost is None:
            unpriced[model] = unpriced.get(model, 0) + responses
        else:
            total += cost.total
        rows.append(row)
    rows.sort(key=lambda r: (-(r["cost"] or 0.0), r["model"]))
    return {"by_model": rows, "total_cost": round(total, 6), "not_priced": unpriced,
            "prices_as_of": prices.as_of, "prices_from": list(prices.origin),
            "currency": "USD"}


def usage_text(u: dict[str, Any]) -> str:
    """The usage summary as a text table (nothing when no line had usage)."""
    if not u["by_model"]:
        return ""
    rows = []
    for r in u["by_model"]:
        rows.append((r["model"] + (" (batch)" if r["batch"] else ""), f"{r['responses']:,}", f"{r['input']:,}",
                     f"{r['cache_write_5m'] + r['cache_write_1h']:,}", f"{r['cache_read']:,}", f"{r['output']:,}",
                     f"{r['web_search']:,}", "not priced" if r["cost"] is None else f"${r['cost']:,.4f}"))
    out = ["", f"usage and cost (prices as of {u['prices_as_of']}, USD; {', '.join(u['prices_from'])}):"]
    out.extend("  " + line for line in table(rows, ("model", "responses", "input", "cache write", "cache read",
                                                     "output", "web searches", "cost")))
    out.append(f"  total: ${u['total_cost']:,.4f}" + (
        f"; not priced: {', '.join(f'{k} ({v:,})' for k, v in u['not_priced'].items())}" if u["not_priced"] else ""))
    return "\n".join(out) + "\n"


def usage_rows(u: dict[str, Any]) -> list[tuple[str, ...]]:
    """The usage table's rows for the page."""
    return [(r["model"] + (" (batch)" if r["batch"] else ""), f"{r['responses']:,}", f"{r['input']:,}",
             f"{r['cache_write_5m'] + r['cache_write_1h']:,}", f"{r['cache_read']:,}", f"{r['output']:,}",
             "not priced" if r["cost"] is None else f"${r['cost']:,.4f}") for r in u["by_model"]]


def stats_html(counts: RunCounts, t: Any, u: dict[str, Any], sources: list[str], prices: Any) -> str:
    """The page of tables and charts."""
    from convo.view.charts import bar_chart, histogram, log2_buckets
    from convo.view.report import stats_page
    from convo.view.report import table as html_table

    overview = [
        ("lines", f"{counts.lines_in:,}"), ("undecodable", f"{counts.rejected:,}"),
        ("conversations", f"{t.conversations:,}"), ("turns", f"{t.turns:,}"),
        ("tool calls", f"{t.tool_calls:,}"), ("images", f"{t.images:,}"), ("thinking blocks", f"{t.thinking:,}"),
        ("estimated tokens (requests)", f"{t.tokens:,}"),
    ]
    if t.claude_code:
        overview.append(("Claude Code messages (once each)", f"{len(t.claude_code):,}"))
    if u["by_model"]:
        overview.append(("cost of the responses", f"${u['total_cost']:,.4f}"))
    tables = [("Overview", html_table(overview))]
    if u["by_model"]:
        tables.append(("Usage and cost by model", html_table(
            usage_rows(u), ("model", "responses", "input", "cache write", "cache read", "output", "cost"))))
    cost_by_model = [(r["model"] + (" (batch)" if r["batch"] else ""), r["cost"]) for r in u["by_model"] if r["cost"]]
    by_model: dict[str, float] = {}
    for r in u["by_model"]:
        by_model[r["model"]] = by_model.get(r["model"], 0) + r["responses"]
    charts = [
        ("Stop reasons", bar_chart(list(t.stop_reasons.items()))),
        ("Models (responses)", bar_chart(list(by_model.items()))) if by_model else
        ("Models (requests)", bar_chart(list(t.models.items()))),
        ("Turns per conversation", histogram(log2_buckets(t.hist_turns))),
        ("Tokens per line (usage where recorded, else estimated)", histogram(log2_buckets(t.hist_tokens))),
    ]
    if cost_by_model:
        charts.append(("Cost by model (USD)", bar_chart(cost_by_model, unit="")))
    hist_cost = dict(t.hist_cost)
    if t.claude_code:
        from convo.pricing import TokenCounts
        from convo.view.charts import log2_bucket

        for _, model, c in t.claude_code.values():
            cost = prices.cost(TokenCounts(*c), model)
            if cost is not None:
                b = log2_bucket(cost.total)
                hist_cost[b] = hist_cost.get(b, 0) + 1
    if hist_cost:
        charts.append(("Cost per response (USD)", histogram(log2_buckets(hist_cost, money=True))))
    names = sources[0] if len(sources) == 1 else f"{len(sources)} files"
    note = f"prices as of {u['prices_as_of']} ({', '.join(u['prices_from'])})"
    return stats_page(f"convo stats · {names}", tables, charts, note)
