"""What every command shares: the parser's pieces, the exit statuses, reading inputs, running an
operation with a progress bar, and saying things on stderr.

Layer: cli. Argument values become plain values here or in the command's module; nothing below
``convo.cli`` sees an ``argparse.Namespace``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from convo.cli._parser import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Formatter,
    Parser,
    UsageError,
)

if TYPE_CHECKING:
    from convo.stream.counts import RunCounts
    from convo.stream.operation import OpSpec
    from convo.stream.sinks import Sink

# What building a parser needs, written here so that it imports neither the codec nor the line
# engine (``convo transform --help`` loads no more than the parser); tests/test_cli_startup.py
# checks each against the value it copies.
LINE_KINDS = ("request", "batch_request", "batch_result", "exchange")
"""convo.codec.lines.LINE_KINDS"""
DEFAULT_CHUNK_BYTES = 1 << 20
"""convo.stream.sources.DEFAULT_CHUNK_BYTES"""
DEFAULT_MAX_LINE_BYTES = 64 << 20
"""convo.stream.sources.DEFAULT_MAX_LINE_BYTES"""
STDIN = "-"
"""convo.stream.sources.STDIN"""

__all__ = [
    "EXIT_FAIL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "LINE_KINDS",
    "Formatter",
    "Parser",
    "UsageError",
    "add_allow_unknown_model",
    "add_api_version",
    "check_target_model",
    "add_common",
    "add_fail_on_error",
    "add_fail_on_reject",
    "exit_status",
    "nothing_written_text",
    "EXIT_RULE",
    "command_parser",
    "inputs_of",
    "output_sink",
    "positive",
    "problems_text",
    "refuse_parquet",
    "rejects_sink",
    "run_report",
    "run_op",
    "say",
    "seconds",
    "show_progress",
]

def command_parser(sub: Any, name: str, help: str, epilog: str) -> argparse.ArgumentParser:
    """A command's parser on the ``convo`` subparsers *sub*, its help as its description."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=help, epilog=epilog, formatter_class=Formatter
    )
    return parser


def positive(text: str) -> int:
    """An ``argparse`` type: a whole number, 1 or more.

    >>> positive("3")
    3
    """
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {n}")
    return n


def seconds(text: str) -> float:
    """An ``argparse`` type: a number of seconds, zero or more.

    >>> seconds("2.5")
    2.5
    """
    try:
        s = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not s >= 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text}")
    return s


def add_common(
    p: argparse.ArgumentParser,
    *,
    workers: bool = True,
    inputs: bool = True,
    kinds: bool = True,
    inputs_help: str = "JSONL files or directories (their *.jsonl and *.jsonl.gz); '-' or nothing: stdin",
) -> None:
    """The options of every line-reading command: inputs, line limit, line kind, workers, quiet."""
    if inputs:
        p.add_argument("inputs", nargs="*", metavar="FILE", help=inputs_help)
        p.add_argument(
            "--max-line-bytes", type=positive, default=DEFAULT_MAX_LINE_BYTES, metavar="N",
            help="reject longer lines without reading them into memory (default: 64 MiB)",
        )
        if kinds:
            p.add_argument(
                "--format", dest="kind", choices=LINE_KINDS, default=None,
                help="the kind of every line (default: detected per line)",
            )
        # Undocumented: smaller chunks exercise the chunk machinery in tests.
        p.add_argument("--chunk-bytes", type=positive, default=DEFAULT_CHUNK_BYTES, help=argparse.SUPPRESS)
    if workers:
        p.add_argument(
            "-j", "--workers", type=positive, default=1, metavar="N",
            help="worker processes (default 1); output is identical for any N. Inputs under 8 MiB "
            "are worked in one process: workers would cost more than they save",
        )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")


def add_api_version(p: argparse.ArgumentParser) -> None:
    """``--api-version``, with the newest as the default."""
    from convo.profiles import API_VERSIONS, DEFAULT_API_VERSION

    p.add_argument(
        "--api-version", choices=API_VERSIONS, default=DEFAULT_API_VERSION,
        help=f"the API version the requests will be sent under (default {DEFAULT_API_VERSION}); "
        "2026-10-21 removed temperature/top_p/top_k",
    )


def add_allow_unknown_model(p: argparse.ArgumentParser) -> None:
    """``--allow-unknown-model``: take a target model id no profile knows as intended."""
    p.add_argument("--allow-unknown-model", action="store_true",
                   help="a target model id no profile knows is taken as intended (checked with "
                   "the permissive default) instead of refused as a likely typo")


def check_target_model(args: argparse.Namespace, model: str | None, option: str) -> None:
    """Refuse a target model id no profile knows (a typo, most often), naming the closest ids,
    unless ``--allow-unknown-model``."""
    if not model:
        return
    from convo.errors import UnknownModelError
    from convo.profiles import require_known

    try:
        require_known(model, what=option, allow_unknown=args.allow_unknown_model)
    except UnknownModelError as e:
        raise UsageError(str(e).replace("allow unknown models", "give --allow-unknown-model")) from None


def inputs_of(args: argparse.Namespace) -> list[str]:
    """The files the command's FILE arguments name (stdin when none)."""
    from convo.stream.sources import expand

    given = args.inputs or [STDIN]
    sources = expand(given)
    if not sources:
        raise UsageError(f"no *.jsonl or *.jsonl.gz files in {', '.join(given)}")
    return sources


def refuse_parquet(sources: Sequence[str], command: str) -> None:
    """Bad usage when a command that reads JSONL only is given a Parquet file (``convo run``,
    ``convo batch submit``): say how to make JSONL of it."""
    from convo.stream.sources import is_parquet

    for s in sources:
        if is_parquet(s):
            raise UsageError(f"{s}: {command} reads JSONL, not Parquet; make JSONL of it first: "
                             f"convo convert {s} --from parquet --to anthropic -o FILE.jsonl")


def show_progress(args: argparse.Namespace) -> bool:
    """Whether to draw a progress bar: on a terminal, unless ``-q``."""
    return not args.quiet and sys.stderr.isatty()


def say(args: argparse.Namespace, lines: Sequence[str] | str) -> None:
    """Print a summary on stderr (unless ``-q``)."""
    if args.quiet:
        return
    text = lines if isinstance(lines, str) else "\n".join(lines)
    if text:
        print(text, file=sys.stderr)


def run_op(
    args: argparse.Namespace,
    spec: OpSpec,
    sources: Sequence[str],
    *,
    out: Sink | None,
    rejects: Sink | None,
) -> tuple[RunCounts, Any, list[str]]:
    """:func:`convo.stream.runner.run_operation` with the command's settings and a progress bar."""
    from convo.cli._report import Progress
    from convo.stream.runner import run_operation

    progress = Progress(sys.stderr, total=None, enabled=show_progress(args), label=f"{spec.name} ")

    def on_total(total: int | None) -> None:
        progress.total = total

    try:
        return run_operation(
            spec, sources, out=out, rejects=rejects,
            workers=getattr(args, "workers", 1),
            chunk_bytes=args.chunk_bytes,
            max_line_bytes=args.max_line_bytes,
            on_progress=progress.update,
            on_total=on_total,
        )
    finally:
        progress.close()


def output_sink(output: str, *, parquet: bool | None = None) -> Sink:
    """The command's output: Parquet when *parquet* says so (None: when *output* ends in
    ``.parquet``), else JSONL."""
    from convo.stream.sinks import Sink

    if parquet is None:
        parquet = output.endswith(".parquet")
    if not parquet:
        return Sink(output)
    if output == STDIN:
        raise UsageError("Parquet is not written to stdout: give -o OUT.parquet")
    try:
        from convo.stream.parquet import ParquetSink
    except ImportError as e:
        raise UsageError(f"Parquet needs the arrow extra: pip install 'convo[arrow]' ({e})") from None
    return ParquetSink(output)


def rejects_sink(args: argparse.Namespace, output: str) -> Sink:
    """The rejects file of a command that writes *output* (``--rejects``, or beside the output)."""
    from convo.codec.jsonl import check_output_path
    from convo.stream.sinks import Sink, rejects_path_for

    path = args.rejects or rejects_path_for(output)
    check_output_path(output)  # before the rejects file exists: a bad -o creates nothing
    check_output_path(path)
    if output != "-" and os.path.abspath(path) == os.path.abspath(output):
        raise UsageError("the rejects file cannot be the output file")
    # Written only when a line is rejected; when none is, a rejects file an earlier run left at
    # that path is removed, so it never passes for this run's.
    return Sink(path, lazy=True, replaces=True)


EXIT_RULE = """\
exit status (every command): 0 done; 1 the command's failure (see above), a damaged input file,
lines read but none written out, or any rejected line with --fail-on-reject; 2 bad usage (nothing
was read); 130 interrupted (nothing was written). Rejected lines are never lost: each is in the
rejects file with its file, line, reason, $.path and original bytes (they may hold whatever the
input held, secrets included: the rejects file is for you, not for sharing)."""


def add_fail_on_error(p: argparse.ArgumentParser) -> None:
    """``--fail-on-error``: exit 1 when any request failed (an API error), not only when all did."""
    p.add_argument("--fail-on-error", action="store_true",
                   help="exit 1 when any request got an API error (default: only when none succeeded)")


def add_fail_on_reject(p: argparse.ArgumentParser) -> None:
    """``--fail-on-reject``: exit 1 when any line was rejected."""
    p.add_argument("--fail-on-reject", action="store_true", help="exit 1 when any line was rejected")


def exit_status(args: argparse.Namespace, counts: RunCounts, problems: Sequence[str], *,
                failed: bool = False) -> int:
    """The one exit rule (:data:`EXIT_RULE`): 1 for the command's own failure (*failed*), a
    damaged input, lines read but none out, or a rejected line with ``--fail-on-reject``."""
    if failed or problems:
        return EXIT_FAIL
    if counts.lines_in and not counts.out:
        return EXIT_FAIL  # something came in and nothing usable went out: not a success
    if getattr(args, "fail_on_reject", False) and counts.rejected:
        return EXIT_FAIL
    return EXIT_OK


def nothing_written_text(counts: RunCounts) -> list[str]:
    """The summary's line for a run that read lines and wrote none (why it exits 1)."""
    if counts.lines_in and not counts.out:
        return [f"  nothing was written: every one of the {counts.lines_in:,} lines in was rejected "
                "(see the rejects); exit 1"]
    return []


def run_report(name: str, args: argparse.Namespace, summary: Any, rejects: str) -> tuple[list[str], int]:
    """The summary lines and the exit status of a run of requests (``convo run`` by either route,
    ``convo batch results``): one vocabulary and the one exit rule for both."""
    from convo.cli._report import counts_table
    from convo.stream.counts import RunCounts

    done = summary.succeeded + summary.skipped  # answered, in this run or an earlier one
    n_in = summary.total + summary.rejected
    parts = [f"{summary.succeeded:,} succeeded", f"{summary.failures:,} failed (API errors)"]
    if summary.skipped:
        parts.append(f"{summary.skipped:,} already done")
    parts.append(f"{summary.rejected:,} rejected (not requests)")
    lines = [
        f"{name}: {n_in:,} lines in = {' + '.join(parts)}; {summary.elapsed:.2f} s",
        f"  output: {args.output}" + (f"; rejects: {rejects}" if summary.rejected else ""),
        f"  retries: {summary.retries:,}; tokens: {summary.input_tokens:,} in, {summary.output_tokens:,} out",
    ]
    lines.extend(counts_table("failed", dict(summary.failed)))
    if n_in and not done:
        lines.append(f"  nothing succeeded: none of the {n_in:,} lines in got an answer that is not an "
                     "error (see the failures and the rejects); exit 1")
    # the one exit rule: "out" is what succeeded (an error record is written, but is no answer)
    failed = bool(getattr(args, "fail_on_error", False) and summary.failures)
    return lines, exit_status(args, RunCounts(lines_in=n_in, out=done, rejected=summary.rejected), (),
                              failed=failed)


def problems_text(problems: Sequence[str]) -> list[str]:
    """The summary's lines for file-level problems (a truncated gzip file, say)."""
    return [f"  warning: {p}; the lines before it were read" for p in problems]
