"""``convo convert``: between transcript formats, with a loss summary.

Layer: cli (the work is :mod:`convo.stream.convert`'s).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from convo.cli._common import (
    EXIT_RULE,
    UsageError,
    add_allow_unknown_model,
    add_common,
    add_fail_on_reject,
    check_target_model,
    command_parser,
    exit_status,
    nothing_written_text,
    output_sink,
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

_LINE_BY_LINE = "auto (line by line)"

EPILOG = """\
formats: auto (the default: each file's format told by its content, and named in the summary),
anthropic (Messages API requests), batch (Message Batches request lines), exchange (what `convo
run` writes; in only), parquet (convo's lines in Parquet, see convo.arrow: --to parquet keeps
requests, batch lines and exchanges as they are; --from parquet --to anthropic gives them back),
openai, openai-finetune, responses (the OpenAI Responses API), bedrock and vertex (Claude request
bodies on Amazon Bedrock and Google Vertex AI), bedrock-converse, sharegpt, hf, hh, and in only:
inspect (inspect_ai .json/.eval logs), claude-code (session JSONL; subagents are conversations of
their own), recorded (HTTP cassettes and wrapped bodies). Preference pairs (TRL, LLaMA-Factory,
ShareGPT DPO, HH) stay paired between hh, hf and sharegpt. What a conversion cannot carry is
counted in the loss summary; a line that cannot be read at all goes to the rejects file.
exit status: 0 done (rejected lines are counted), 1 a damaged input or a bug in convo (a writer
that raised: code `internal` in the rejects file), 2 bad usage.

examples:
  convo convert chats.jsonl --to anthropic -o requests.jsonl --set-model claude-opus-4-8 --max-tokens 1024
  convo convert sharegpt.json --from sharegpt --to openai-finetune --valid-only -o train.jsonl
  convo convert logs/*.eval ~/.claude/projects/*/*.jsonl --to anthropic -o requests.jsonl
  convo convert runs.jsonl --from exchange --to parquet -o runs.parquet --workers 4
  convo convert runs.parquet --from parquet --to anthropic -o runs.jsonl

""" + EXIT_RULE


def add_parser(sub: Any) -> None:
    """Register ``convo convert`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "convert", "convert between transcript formats", EPILOG)
    add_common(p, kinds=False, inputs_help="files or directories (JSONL, a JSON array of records, one "
               "JSON document, or a format's own files); '-' or nothing: stdin")
    p.add_argument("--from", dest="from_", default="auto", metavar="FORMAT",
                   help="the input format (default: auto, told by each file's content)")
    p.add_argument("--to", required=True, metavar="FORMAT", help="the output format")
    p.add_argument("-o", "--output", default="-", metavar="OUT", help="output ('-': stdout; .gz: compressed)")
    p.add_argument("--rejects", metavar="R", help="rejects file (default OUT.rejects.jsonl)")
    p.add_argument("--set-model", metavar="M", help="set the model of every line to M")
    p.add_argument("--default-model", metavar="M", help="set the model to M where a line has none")
    p.add_argument("--model", metavar="M", help="deprecated: --default-model M")
    p.add_argument("--valid-only", action="store_true",
                   help="--to openai-finetune: keep only valid training examples (the rest are rejected)")
    p.add_argument("--max-tokens", type=positive, metavar="N", help="set max_tokens where the input has none")
    add_allow_unknown_model(p)
    add_fail_on_reject(p)
    p.set_defaults(func=command)


def _output(args: argparse.Namespace) -> Sink:
    """Parquet with ``--to parquet`` (and only then: a .parquet name alone is not a format)."""
    if args.to != "parquet" and args.output.endswith(".parquet"):
        raise UsageError(f"{args.output} is a Parquet name but --to is {args.to}: use --to parquet")
    return output_sink(args.output, parquet=args.to == "parquet")


def command(args: argparse.Namespace) -> int:
    """``convo convert``."""
    from convo.stream.convert import check_formats, convert_files

    check_formats(args.from_, args.to)
    if args.valid_only and args.to != "openai-finetune":
        from convo.stream.sources import InputError

        raise InputError("--valid-only applies to --to openai-finetune (the format with a validity rule)")
    for option in ("set_model", "default_model", "model"):
        check_target_model(args, getattr(args, option), "--" + option.replace("_", "-"))
    warnings: list[str] = []
    default_model = args.default_model
    if args.model is not None:
        warnings.append("--model is deprecated: use --default-model (fill where missing) or --set-model (every line)")
        default_model = default_model or args.model

    def run(spec: OpSpec, sources: Sequence[str], *, out: Sink | None,
            rejects: Sink | None) -> tuple[RunCounts, Any, list[str]]:
        return run_op(args, spec, sources, out=out, rejects=rejects)

    detected: dict[str, str] = {}
    rejects = rejects_sink(args, args.output)
    with _output(args) as out, rejects:
        counts, tally, problems = convert_files(
            args.inputs or [], from_=args.from_, to=args.to, model=default_model,
            set_model=args.set_model, valid_only=args.valid_only,
            max_tokens=args.max_tokens, max_line_bytes=args.max_line_bytes,
            out=out, rejects=rejects, run=run, detected=detected,
        )
    lines = [summary_line("convert", counts), f"  {args.from_} -> {args.to}"]
    if args.from_ == "auto":
        by_format: dict[str, list[str]] = {}
        for path, name in detected.items():
            by_format.setdefault(name, []).append(path)
        line_by_line = by_format.pop(_LINE_BY_LINE, None)
        for name, paths in sorted(by_format.items()):
            shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
            lines.append(f"  detected {name}: {len(paths)} file{'s' if len(paths) != 1 else ''} ({shown})")
        if line_by_line:
            lines.extend(counts_table("detected line by line (stdin)", tally.detected))
    if args.output != "-":
        lines.append(f"  output: {args.output}")
    if counts.rejected:
        lines.append(f"  rejects: {rejects.path}")
        lines.extend(counts_table("rejected", tally.rejects, notes=CODES))
    if tally.losses:
        lines.append(f"  lines with losses: {tally.lossy:,} of {counts.out:,}")
        lines.extend(counts_table("lost or changed", tally.losses))
    elif counts.out and not counts.rejected:
        lines.append("  nothing lost")
    elif counts.out:
        lines.append(f"  nothing lost in the {counts.out:,} lines written")
    lines.extend(nothing_written_text(counts))
    lines.extend(f"  warning: {p}" for p in [*warnings, *problems])
    bugs = tally.rejects.get("internal", 0)
    if bugs:
        lines.append(f"  warning: {bugs:,} lines met a bug in convo (code internal in the rejects): please report it")
    say(args, lines)
    return exit_status(args, counts, problems, failed=bugs > 0)
