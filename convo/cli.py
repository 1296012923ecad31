"""The ``convo`` command: JSONL transcripts at scale (validate, transform, convert, stats,
fixtures, run, serve, batch).

Layer: the top. This is the only module (with its helpers in ``convo._cli``) that prints, reads
the environment or opens paths. ``main(argv) -> int`` never raises for a user's mistake: it prints
the reason and returns 2 (bad usage), 1 (violations, or lines lost to a damaged input), 0 otherwise,
130 when interrupted.

Every command reads several files and directories (their ``*.jsonl`` and ``*.jsonl.gz``), ``-`` for
stdin, gzip by magic bytes; writes ``-`` as stdout and ``.gz`` compressed; shows a progress bar on
stderr only when stderr is a terminal; and ends with a summary on stderr (lines in = out +
rejected, time, MB/s). No line is ever lost: one that cannot be used goes to the rejects file with
its file, line number, reason, ``$.path`` and original bytes.

>>> import os, tempfile
>>> out = os.path.join(tempfile.mkdtemp(), "convs.jsonl")
>>> main(["fixtures", "--count", "3", "--seed", "1", "-q", "-o", out])
0
>>> main(["validate", out, "-q"])
0
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

import orjson

from convo._cli.base import OpSpec, build_operation, seconds
from convo._cli.engine import run_chunks, run_spans
from convo._cli.rejects import CODES
from convo._cli.report import Progress, RunCounts, counts_table, summary_line, table
from convo._cli.sinks import Sink, rejects_path_for
from convo._cli.sources import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    STDIN,
    Chunk,
    ChunkReader,
    UsageError,
    display_name,
    expand,
    total_size,
)

__all__ = ["build_parser", "entry", "main"]

LINE_KINDS = ("request", "batch_request", "batch_result", "exchange")
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


# --------------------------------------------------------------------------- parser


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples in epilogs as written."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise instead of exiting (``main`` decides the status)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _common(p: argparse.ArgumentParser, *, workers: bool = True, inputs: bool = True) -> None:
    if inputs:
        p.add_argument(
            "inputs", nargs="*", metavar="FILE",
            help="JSONL files or directories (their *.jsonl and *.jsonl.gz); '-' or nothing: stdin",
        )
        p.add_argument(
            "--max-line-bytes", type=_positive, default=DEFAULT_MAX_LINE_BYTES, metavar="N",
            help="reject longer lines without reading them into memory (default: 64 MiB)",
        )
        p.add_argument(
            "--format", dest="kind", choices=LINE_KINDS, default=None,
            help="the kind of every line (default: detected per line)",
        )
        # Undocumented: smaller chunks exercise the chunk machinery in tests.
        p.add_argument("--chunk-bytes", type=_positive, default=DEFAULT_CHUNK_BYTES, help=argparse.SUPPRESS)
    if workers:
        p.add_argument(
            "-j", "--workers", type=_positive, default=1, metavar="N",
            help="worker processes (default 1); output is identical for any N. Inputs under 8 MiB "
            "are worked in one process: workers would cost more than they save",
        )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {n}")
    return n


def _api_version(p: argparse.ArgumentParser) -> None:
    from convo.profiles import API_VERSIONS, DEFAULT_API_VERSION

    p.add_argument(
        "--api-version", choices=API_VERSIONS, default=DEFAULT_API_VERSION,
        help=f"the API version the requests will be sent under (default {DEFAULT_API_VERSION}); "
        "2026-10-21 removed temperature/top_p/top_k",
    )


VALIDATE_EPILOG = """\
output: one line per violation, FILE:LINE: RULE $.path message (hint), then a table by rule.
exit status: 0 every line valid (warnings allowed), 1 any violation, 2 bad usage.

examples:
  convo validate transcripts.jsonl
  convo validate data/ --model claude-opus-4-8          # as if every line were sent to that model
  convo validate out.jsonl.gz --json | jq 'select(.type == "diagnostic") | .rule'
  cat requests.jsonl | convo validate - --api-version 2023-06-01
"""

TRANSFORM_EPILOG = """\
Each -t is a transform's repr, parsed with literals only (never eval): for example
drop_images(placeholder="[image removed]"), keep_last_turns(n=8), migrate(model="claude-opus-4-8"),
inject_system("Be terse.", where="top"), redact("sk-[A-Za-z0-9]+"). They run left to right.
--pipeline FILE.py RUNS THAT FILE AS PYTHON CODE (trust it as you would any script): it must bind
PIPELINE (or pipeline) to a transform, e.g.  PIPELINE = pipeline(t.strip_thinking(), t.drop_images()).

Lines that cannot be used (invalid JSON or UTF-8, a wrong shape, over the size limit, a transform
that raised, a rule broken with --validate-for) go to the rejects file (default OUT.rejects.jsonl)
with file, line, reason, $.path and the original bytes; the run goes on. in = out + rejected.

examples:
  convo transform fixtures/transcripts.jsonl -o migrated.jsonl \\
      -t 'migrate(model="claude-opus-4-8")' -t 'drop_images(placeholder="[image removed]")'
  convo transform logs/ -t 'strip_thinking()' -t 'keep_last_turns(n=8)' -o out.jsonl.gz --workers 4
  convo transform in.jsonl -t 'redact("[0-9]{16}")' --dry-run
  zcat big.jsonl.gz | convo transform - -t 'drop_sampling_params()' -o - > out.jsonl
  convo transform s3://bucket/logs/ -t 'strip_thinking()' -o s3://bucket/clean/ --dask tcp://scheduler:8786
"""

CONVERT_EPILOG = """\
formats: anthropic (Messages API requests), batch (Message Batches request lines), exchange (what
`convo run` writes; in only), openai, openai-finetune, sharegpt, hf, hh, and in only: inspect
(inspect_ai .json/.eval logs), claude-code (session JSONL). What a conversion cannot carry is
counted in the loss summary; a line that cannot be read at all goes to the rejects file.

examples:
  convo convert chats.jsonl --from openai --to anthropic -o requests.jsonl --model claude-opus-4-8 --max-tokens 1024
  convo convert sharegpt.json --from sharegpt --to openai-finetune -o train.jsonl
  convo convert logs/*.eval --from inspect --to anthropic -o requests.jsonl
"""

FIXTURES_EPILOG = """\
The same --seed gives the same bytes on every machine; --count 10 is the first 10 lines of
--count 1000. Conversations are valid for --model under --api-version unless --invalid RULE asks
for exactly that rule to be broken. --logged writes transcripts as stored for older models
(prefill, temperature, top_k, budget thinking, images, tool loops): input for `convo transform -t
'migrate(model=...)'`.

examples:
  convo fixtures --count 100 --seed 1 -o tests/data/convs.jsonl
  convo fixtures --count 20 --seed 7 --model claude-sonnet-4-5 --images --tools --thinking
  convo fixtures --count 5 --seed 1 --invalid tool-use.missing-result
  convo fixtures --count 200 --seed 3 --logged -o old-transcripts.jsonl
"""

STATS_EPILOG = """\
examples:
  convo stats transcripts.jsonl
  convo stats logs/ --json --workers 2
"""

RUN_EPILOG = """\
Sends each request line to the Messages API (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL) and writes one
exchange record per line, in input order. --resume continues an interrupted run without sending
a line twice.

examples:
  convo run requests.jsonl -o exchanges.jsonl --concurrency 8
  convo run requests.jsonl -o exchanges.jsonl --resume
  convo serve --port 8123 &  ANTHROPIC_BASE_URL=http://127.0.0.1:8123 convo run requests.jsonl -o out.jsonl
"""

SERVE_EPILOG = """\
A local Messages API emulator on 127.0.0.1 (for tests and dry runs): the API's rules, errors,
streaming and batches, with faults injected on a schedule.

examples:
  convo serve --port 8123
  convo serve --port 8123 --faults '529,429:retry-after=1,reset'
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``convo`` command.

    >>> args = build_parser().parse_args(["transform", "in.jsonl", "-t", "drop_images()", "-o", "out.jsonl"])
    >>> args.specs, args.output, args.workers
    (['drop_images()'], 'out.jsonl', 1)
    """
    parser = _Parser(
        prog="convo",
        description="Claude Messages API conversations as data: JSONL transcripts at scale.",
        formatter_class=_Formatter,
        epilog="Run `convo COMMAND --help` for a command's options and examples.",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help: str, epilog: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, epilog=epilog, formatter_class=_Formatter)

    p = command("validate", "check every line against the API's rules for its model", VALIDATE_EPILOG)
    _common(p)
    p.add_argument("--model", metavar="M", help="check every line for model M (default: the line's own model)")
    _api_version(p)
    p.add_argument("--json", action="store_true", help="JSON lines: one per diagnostic, then a summary")
    p.add_argument("--strict", action="store_true", help="warnings make a line invalid too")
    p.add_argument("--rejects", metavar="R", help="also copy invalid lines (with the reason) to R")
    p.set_defaults(func=_cmd_validate)

    p = command("transform", "apply transforms to every conversation", TRANSFORM_EPILOG)
    _common(p)
    p.add_argument("-t", "--transform", dest="specs", action="append", default=[], metavar="SPEC",
                   help="a transform, as its repr (repeat; applied left to right)")
    p.add_argument("--pipeline", metavar="FILE.py",
                   help="a Python file binding PIPELINE (runs it: trusted code only); before any -t")
    p.add_argument("-o", "--output", default="-", metavar="OUT",
                   help="output JSONL ('-': stdout; .gz: compressed); written atomically")
    p.add_argument("--rejects", metavar="R", help="rejects file (default OUT.rejects.jsonl)")
    p.add_argument("--validate-for", metavar="MODEL",
                   help="reject outputs MODEL would refuse (under --api-version)")
    _api_version(p)
    p.add_argument("--dry-run", action="store_true",
                   help="print the parsed pipeline and the first changed line as a diff; write nothing")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on a Dask cluster (scheduler address, or 'local'); OUT is a directory "
                   "(or fsspec URL) of part-NNNNN.jsonl files")
    p.add_argument("--fail-on-reject", action="store_true", help="exit 1 when any line was rejected")
    p.set_defaults(func=_cmd_transform)

    p = command("convert", "convert between transcript formats", CONVERT_EPILOG)
    _common(p)
    p.add_argument("--from", dest="from_", required=True, metavar="FORMAT", help="the input format")
    p.add_argument("--to", required=True, metavar="FORMAT", help="the output format")
    p.add_argument("-o", "--output", default="-", metavar="OUT", help="output ('-': stdout; .gz: compressed)")
    p.add_argument("--rejects", metavar="R", help="rejects file (default OUT.rejects.jsonl)")
    p.add_argument("--model", metavar="M", help="set the model where the input has none")
    p.add_argument("--max-tokens", type=_positive, metavar="N", help="set max_tokens where the input has none")
    p.set_defaults(func=_cmd_convert)

    p = command("fixtures", "generate reproducible conversations for test suites", FIXTURES_EPILOG)
    p.add_argument("--count", type=int, required=True, metavar="N")
    p.add_argument("--seed", required=True, metavar="S", help="any integer or word")
    p.add_argument("--model", default="claude-opus-4-8", metavar="M")
    _api_version(p)
    p.add_argument("--invalid", metavar="RULE", help="break exactly this rule (see `convo validate`'s rule ids)")
    p.add_argument("--images", action="store_true", help="include base64 PNG images")
    p.add_argument("--tools", action="store_true", help="include tools and tool_use/tool_result pairs")
    p.add_argument("--thinking", action="store_true", help="include thinking (where the model has it)")
    p.add_argument("--max-turns", type=_positive, default=12, metavar="N")
    p.add_argument("--logged", action="store_true", help="transcripts as logged for older models")
    p.add_argument("-o", "--output", default="-", metavar="OUT")
    _common(p, workers=False, inputs=False)
    p.set_defaults(func=_cmd_fixtures)

    p = command("stats", "count lines, turns, models, images, tool calls, tokens, stop reasons", STATS_EPILOG)
    _common(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=_cmd_stats)

    p = command("run", "send every request line to the API; write exchange records", RUN_EPILOG)
    p.add_argument("inputs", nargs="*", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="OUT")
    p.add_argument("--concurrency", type=_positive, default=8, metavar="N")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--retry-errors", action="store_true",
                   help="with --resume: run again the lines whose record is an error")
    p.add_argument("--rejects", metavar="R", help="lines that are not requests (default OUT.rejects.jsonl)")
    _api_version(p)
    p.add_argument("--base-url", metavar="URL", help="the API's base URL (default: $ANTHROPIC_BASE_URL or the API)")
    p.add_argument("--via", choices=("http", "batch"), default="http",
                   help="http: one request per line (default); batch: the Message Batches API, half "
                   "the price, results within 24 h (resumable state in OUT.batch.json); "
                   "--concurrency is for http only")
    p.add_argument("--poll-interval", type=seconds, default=10.0, metavar="S",
                   help="--via batch: first wait between polls; it grows by half each time (default 10)")
    p.add_argument("--max-poll-interval", type=seconds, default=60.0, metavar="S",
                   help="--via batch: longest wait between polls (default 60)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_run)

    p = command("serve", "run the local Messages API emulator", SERVE_EPILOG)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8123, help="0 picks a free port (printed)")
    p.add_argument("--faults", metavar="SPEC", help="faults to inject, in order (see the emulator's docs)")
    p.add_argument("--batch-delay", type=float, default=0.5, metavar="S",
                   help="seconds a batch stays in progress")
    p.set_defaults(func=_cmd_serve)

    _add_batch(sub)
    return parser


def _add_batch(sub: Any) -> None:
    """The seam for ``convo batch submit|status|results|cancel``: the module
    ``convo._cli_batch`` registers its subcommands with ``add_parser(subparsers)`` when present."""
    import importlib

    try:
        batch = importlib.import_module("convo._cli_batch")
    except ModuleNotFoundError as e:
        if e.name != "convo._cli_batch":
            raise
        p = sub.add_parser("batch", help="the Message Batches API (not in this build)")
        p.set_defaults(func=lambda args: _unavailable("batch"))
        return
    batch.add_parser(sub)


def _unavailable(what: str) -> int:
    print(f"convo {what}: not available in this build", file=sys.stderr)
    return EXIT_USAGE


class _VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked (importlib.metadata is slow
    to import, and every run would pay for it)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kw: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit", **kw)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(f"convo {_version()}")
        parser.exit()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("convo")
    except Exception:  # not installed (running from a checkout)
        return "unknown"


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``convo`` command with *argv* (default ``sys.argv[1:]``); return the exit status.

    >>> main(["fixtures", "--count", "1", "--seed", "1", "--invalid", "no.such-rule", "-q"])
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        print(f"{e}\n(run `convo --help` or `convo COMMAND --help`)", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:  # --help and --version
        return int(e.code) if isinstance(e.code, int) else EXIT_OK
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with warnings.catch_warnings():
            _quiet_warnings()
            status: int = args.func(args)
        return status
    except UsageError as e:
        print(f"convo {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\nconvo {args.command}: interrupted; no output was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of stdout went away (`| head`): stop quietly, as Unix tools do
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAIL
    except OSError as e:  # a file that cannot be opened or written (no such directory, disk full)
        print(f"convo {args.command}: error: {e}; no output was written", file=sys.stderr)
        return EXIT_FAIL


def _quiet_warnings() -> None:
    """An unknown model is reported once per line by the rules (``model.unknown``) where it
    matters; a Python warning per model id on stderr would only interleave with the output."""
    from convo.profiles import UnknownModelWarning

    warnings.simplefilter("ignore", UnknownModelWarning)


# --------------------------------------------------------------------------- running an operation


def _inputs(args: argparse.Namespace) -> list[str]:
    inputs = args.inputs or [STDIN]
    sources = expand(inputs)
    if not sources:
        raise UsageError(f"no *.jsonl or *.jsonl.gz files in {', '.join(inputs)}")
    return sources


def _show_progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _say(args: argparse.Namespace, lines: Sequence[str] | str) -> None:
    if args.quiet:
        return
    text = lines if isinstance(lines, str) else "\n".join(lines)
    if text:
        print(text, file=sys.stderr)


def _run(
    args: argparse.Namespace,
    spec: OpSpec,
    sources: Sequence[str],
    *,
    out: Sink | None,
    rejects: Sink | None,
) -> tuple[RunCounts, Any, list[str]]:
    """Run *spec* over *sources*: output to *out*, rejects to *rejects*.

    Returns the counts, the operation's merged statistics and file-level problems. With several
    workers, regular uncompressed inputs and a plain output file (and an operation whose output
    holds no line numbers) the range mode runs; otherwise the streaming engine.
    """
    op = build_operation(spec)
    workers = getattr(args, "workers", 1)
    if workers > 1 and _small(sources, args.chunk_bytes):
        workers = 1  # starting workers would cost more than the work they would share
    if workers > 1 and not op.lines_in_output:
        from convo._cli import ranges

        if ranges.eligible(list(sources), out.path if out is not None else ""):
            return _run_ranges(args, spec, op, sources, out=out, rejects=rejects)
    # lines read for work in this process come as views of the blocks read (no copy)
    reader = ChunkReader(sources, chunk_bytes=args.chunk_bytes, max_line_bytes=args.max_line_bytes,
                         views=workers <= 1 and op.takes_views)
    progress = Progress(sys.stderr, total=reader.total_bytes, enabled=_show_progress(args),
                        label=f"{spec.name} ")
    counts = RunCounts()
    stats = op.new_stats()
    start = time.perf_counter()
    try:
        for r in run_chunks(reader, spec, workers=workers, operation=op):
            counts.count(r)
            if r.out and out is not None:
                out.write(r.out)
            if rejects is not None:
                if r.rejects:
                    rejects.write(r.rejects)
                if r.spool:
                    rejects.copy_from(r.spool)
            if r.spool:
                os.unlink(r.spool)
            stats = op.merge_stats(stats, r.stats)
            progress.update(reader.bytes_read, counts.lines_in)
    finally:
        progress.close()
        reader.cleanup()
    counts.seconds = time.perf_counter() - start
    counts.bytes_in = reader.bytes_read
    counts.files = reader.files_read
    return counts, stats, list(reader.problems)


SMALL_INPUT_CHUNKS = 8
"""Inputs of fewer bytes than this many chunks (8 MiB by default) are worked in this process
whatever ``--workers`` says: starting workers costs about 30 ms (imports, a pool, forks), more
than they would save on a few megabytes (measured on 2 MB: 0.11 s with 1 worker, 0.14 s with 2)."""


def _small(sources: Sequence[str], chunk_bytes: int) -> bool:
    """Whether *sources* are plain files of fewer than :data:`SMALL_INPUT_CHUNKS` chunks in all
    (stdin and gzip files, whose size is not known up front, are never small)."""
    total = total_size(sources)
    return total is not None and total < SMALL_INPUT_CHUNKS * chunk_bytes


def _run_ranges(
    args: argparse.Namespace,
    spec: OpSpec,
    op: Any,
    sources: Sequence[str],
    *,
    out: Sink | None,
    rejects: Sink | None,
) -> tuple[RunCounts, Any, list[str]]:
    """Range mode (:mod:`convo._cli.ranges`): workers read their spans and append the output."""
    from convo._cli import ranges

    out_path = out.shared_path() if out is not None else None
    total = sum(os.path.getsize(s) for s in sources)  # plain files (range mode is only for those)
    progress = Progress(sys.stderr, total=total, enabled=_show_progress(args), label=f"{spec.name} ")
    counts = RunCounts(files=len(sources))
    stats = op.new_stats()
    problems: list[str] = []
    before: dict[str, int] = {}  # lines of each file in the spans already written
    size = ranges.span_bytes(total, args.workers, args.chunk_bytes)
    spans = (sp for src in sources for sp in ranges.plan_spans(src, display_name(src), size))
    start = time.perf_counter()
    try:
        for span, res in run_spans(spans, spec, workers=args.workers, out_path=out_path,
                                   chunk_bytes=args.chunk_bytes):
            shift = before.get(span.name, 0)
            before[span.name] = shift + res.n_lines
            counts.count(res)
            counts.bytes_in += res.n_bytes
            for piece in res.rejects:
                if isinstance(piece, bytes):
                    if rejects is not None:
                        rejects.write(b"".join(
                            ranges.shift_line(rec, shift) for rec in piece.splitlines(keepends=True)
                        ))
                    continue
                # a spooled over-long line: its line number is in the head of the record
                if rejects is not None:
                    rejects.copy_from(piece, fix_head=functools.partial(ranges.shift_line, offset=shift))
                os.unlink(piece)
            stats = op.merge_stats(stats, res.stats)
            problems.extend(res.problems)
            progress.update(counts.bytes_in, counts.lines_in)
    finally:
        progress.close()
    counts.seconds = time.perf_counter() - start
    return counts, stats, problems


def _rejects_sink(args: argparse.Namespace, output: str) -> Sink:
    path = args.rejects or rejects_path_for(output)
    if output != "-" and os.path.abspath(path) == os.path.abspath(output):
        raise UsageError("the rejects file cannot be the output file")
    # Beside a file output the rejects file is always written (empty when nothing was rejected),
    # so a stale one from an earlier run never lingers; after stdout output, only when needed.
    return Sink(path, lazy=output == "-" and not args.rejects)


def _problems(problems: Sequence[str]) -> list[str]:
    return [f"  warning: {p}; the lines before it were read" for p in problems]


# --------------------------------------------------------------------------- validate


def _cmd_validate(args: argparse.Namespace) -> int:
    """``convo validate``."""
    sources = _inputs(args)
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
        },
    )
    rejects = Sink(args.rejects) if args.rejects else None
    with Sink("-", lazy=True) as out, rejects if rejects is not None else contextlib.nullcontext():
        counts, tally, problems = _run(args, spec, sources, out=out, rejects=rejects)
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
        *_problems(problems),
    ]
    if not counts.rejected and not problems:
        lines.append("  all valid")
    _say(args, lines)
    return EXIT_FAIL if counts.rejected or problems else EXIT_OK


# --------------------------------------------------------------------------- transform


def _cmd_transform(args: argparse.Namespace) -> int:
    """``convo transform``."""
    from convo._cli.pipelines import load_pipeline

    try:
        transform = load_pipeline(args.specs, args.pipeline)
        if args.validate_for:
            from convo.profiles import get_profile

            get_profile(args.validate_for)
    except (ValueError, TypeError, OSError, SyntaxError) as e:
        raise UsageError(str(e)) from None
    if not args.specs and not args.pipeline:
        raise UsageError("no transforms: give -t SPEC (repeatable) or --pipeline FILE.py")
    if args.dry_run:
        return _dry_run(args, transform)
    if args.dask:
        return _transform_dask(args)
    sources = _inputs(args)
    spec = OpSpec(
        "transform",
        {
            "specs": tuple(args.specs),
            "pipeline_path": os.path.abspath(args.pipeline) if args.pipeline else None,
            "validate_for": args.validate_for,
            "api_version": args.api_version,
            "kind": args.kind,
            "max_line_bytes": args.max_line_bytes,
        },
    )
    rejects = _rejects_sink(args, args.output)
    with Sink(args.output) as out, rejects:
        counts, tally, problems = _run(args, spec, sources, out=out, rejects=rejects)
    lines = [summary_line("transform", counts), f"  pipeline: {transform!r}"]
    if args.output != "-":
        lines.append(f"  output: {args.output}")
    if counts.rejected:
        lines.append(f"  rejects: {rejects.path} (original bytes; see --help)")
        lines.extend(counts_table("rejected", tally.rejects, notes=CODES))
        lines.extend(counts_table("rules broken (--validate-for)", tally.rules))
    lines.append(f"  lines changed: {tally.changed:,} of {counts.out + counts.rejected:,}")
    lines.extend(counts_table("changes", tally.changes_by_text()))
    lines.extend(_problems(problems))
    _say(args, lines)
    if problems or (args.fail_on_reject and counts.rejected):
        return EXIT_FAIL
    return EXIT_OK


def _dry_run(args: argparse.Namespace, transform: Any) -> int:
    """Print the pipeline and the first line it changes, as a unified diff of pretty JSON."""
    import difflib

    from convo._cli.ops import conversation_of, with_conversation
    from convo.codec.lines import RawLine, decode_line, encode_value
    from convo.errors import DecodeError

    sources = _inputs(args)
    print(f"pipeline: {transform!r}")
    reader = ChunkReader(sources, chunk_bytes=args.chunk_bytes, max_line_bytes=args.max_line_bytes)
    seen = 0
    try:
        for item in reader:
            if not isinstance(item, Chunk):
                continue  # an over-long line: nothing to show
            lineno = item.first_line - 1
            for line in item.lines:
                raw = bytes(line)  # (this reader makes no views: no copy)
                lineno += 1
                if not raw.strip():
                    continue
                seen += 1
                try:
                    value = decode_line(RawLine(item.file, lineno, raw), kind=args.kind).value
                except DecodeError:
                    continue
                conv = conversation_of(value)
                if conv is None:
                    continue
                try:
                    new, changes = transform.explain(conv)
                except Exception as e:
                    print(f"{item.file}:{lineno}: the pipeline raised {type(e).__name__}: {e}")
                    continue
                if new is conv:
                    continue
                before = orjson.dumps(orjson.loads(raw), option=orjson.OPT_INDENT_2).decode()
                after_value = encode_value(with_conversation(value, new))
                after = orjson.dumps(orjson.loads(after_value), option=orjson.OPT_INDENT_2).decode()
                print(f"first changed line: {item.file}:{lineno}")
                for c in changes:
                    print(f"  {c.transform}: {c.what} at {c.path}")
                sys.stdout.writelines(
                    difflib.unified_diff(
                        before.splitlines(keepends=True), after.splitlines(keepends=True),
                        f"{item.file}:{lineno} (before)", f"{item.file}:{lineno} (after)",
                    )
                )
                print()
                return EXIT_OK
    finally:
        reader.cleanup()
    print(f"no line changed ({seen:,} lines read)")
    return EXIT_OK


def _transform_dask(args: argparse.Namespace) -> int:
    try:
        from convo import dask as convo_dask
    except ImportError as e:
        raise UsageError(f"--dask needs the dask extra: pip install 'convo[dask]' ({e})") from None
    if args.output == "-":
        raise UsageError("--dask writes a directory of part files: give -o DIR (or a URL)")
    inputs = args.inputs or []
    if not inputs or STDIN in inputs:
        raise UsageError("--dask reads files or URLs, not stdin")
    summary = convo_dask.transform(
        inputs,
        args.output,
        specs=tuple(args.specs),
        pipeline_path=os.path.abspath(args.pipeline) if args.pipeline else None,
        validate_for=args.validate_for,
        api_version=args.api_version,
        kind=args.kind,
        max_line_bytes=args.max_line_bytes,
        rejects=args.rejects,
        address=args.dask,
    )
    lines = [summary_line("transform", summary), f"  on dask: {args.dask}; {summary.parts} parts in {args.output}"]
    if summary.rejected:
        lines.append(f"  rejects: {summary.rejects_dir}")
        lines.extend(counts_table("rejected", summary.reject_codes, notes=CODES))
    lines.append(f"  lines changed: {summary.changed:,}")
    lines.extend(counts_table("changes", summary.changes))
    _say(args, lines)
    return EXIT_FAIL if args.fail_on_reject and summary.rejected else EXIT_OK


# --------------------------------------------------------------------------- convert


def _cmd_convert(args: argparse.Namespace) -> int:
    """``convo convert``."""
    from convo._cli.convert import check_formats, convert_files

    check_formats(args.from_, args.to)
    rejects = _rejects_sink(args, args.output)
    with Sink(args.output) as out, rejects:
        counts, tally, problems = convert_files(args, out=out, rejects=rejects, run=_run)
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
    _say(args, lines)
    return EXIT_FAIL if problems else EXIT_OK


# --------------------------------------------------------------------------- fixtures


def _cmd_fixtures(args: argparse.Namespace) -> int:
    """``convo fixtures``."""
    from convo._cli.fixtures import FixtureError, conversations, logged_conversations
    from convo.codec import dumps
    from convo.codec.jsonl import AtomicWriter

    if args.count < 0:
        raise UsageError("--count must be >= 0")
    if args.logged:
        if args.invalid or args.images or args.tools or args.thinking:
            raise UsageError("--logged makes its own mix; it takes no --invalid/--images/--tools/--thinking")
        convs = logged_conversations(args.count, args.seed, max_turns=args.max_turns)
    else:
        from convo.profiles import get_profile

        get_profile(args.model)
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
    _say(args, f"convo fixtures: {n:,} {what}{broken} (seed {args.seed}); {size / 1e6:.1f} MB in {took:.2f} s")
    return EXIT_OK


# --------------------------------------------------------------------------- stats


def _cmd_stats(args: argparse.Namespace) -> int:
    """``convo stats``."""
    sources = _inputs(args)
    spec = OpSpec("stats", {"kind": args.kind, "max_line_bytes": args.max_line_bytes})
    counts, t, problems = _run(args, spec, sources, out=None, rejects=None)
    if args.json:
        d = t.as_json()
        d["undecodable"] = counts.rejected
        sys.stdout.buffer.write(orjson.dumps(d, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        out = _stats_text(counts, t)
        sys.stdout.write(out)
    sys.stdout.flush()
    _say(args, [summary_line("stats", counts, out_word="read", rejected_word="undecodable"),
                *_problems(problems)])
    return EXIT_FAIL if problems else EXIT_OK


def _stats_text(counts: RunCounts, t: Any) -> str:
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


# --------------------------------------------------------------------------- run, serve


def _cmd_run(args: argparse.Namespace) -> int:
    """``convo run``: each request line through the executor, one exchange record per line."""
    try:
        from convo.executor import HttpExecutor, run_file
    except ImportError as e:
        raise UsageError(f"convo run is not available in this build ({e})") from None
    from convo.errors import ConvoError

    if args.output == "-":
        raise UsageError("convo run writes a file (-o OUT), so that --resume can continue it")
    inputs = expand(args.inputs or [STDIN])
    rejects = args.rejects or rejects_path_for(args.output)
    try:
        # the key and base URL come from ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL, as in the SDK
        if getattr(args, "via", "http") == "batch":
            from convo.executor import BatchExecutor

            executor: HttpExecutor | BatchExecutor = BatchExecutor(
                base_url=args.base_url, api_version=args.api_version,
                poll_interval=max(args.poll_interval, 0.01),
                max_poll_interval=max(args.max_poll_interval, args.poll_interval, 0.01))
        else:
            executor = HttpExecutor(base_url=args.base_url, api_version=args.api_version)
    except ConvoError as e:
        raise UsageError(str(e)) from None
    progress = Progress(sys.stderr, total=None, enabled=_show_progress(args), label="run ")

    def on_progress(p: Any) -> None:
        progress.note(f"{p.done:,} done, {p.failed:,} failed")

    try:
        with executor:
            summary = run_file(
                inputs, args.output, executor=executor, concurrency=args.concurrency,
                resume=args.resume, retry_errors=args.retry_errors, rejects=rejects,
                on_progress=on_progress,
            )
    except ConvoError as e:
        # e.g. --resume on inputs that changed since the first run, or a batch job locked by
        # another process: say so plainly instead of a traceback
        raise UsageError(str(e)) from None
    finally:
        progress.close()
    lines = [
        f"convo run: {summary.total:,} lines = {summary.succeeded:,} succeeded + "
        f"{summary.failures:,} failed + {summary.skipped:,} already done; "
        f"{summary.rejected:,} not requests (rejected); {summary.elapsed:.2f} s",
        f"  output: {args.output}" + (f"; rejects: {rejects}" if summary.rejected else ""),
        f"  retries: {summary.retries:,}; tokens: {summary.input_tokens:,} in, {summary.output_tokens:,} out",
    ]
    lines.extend(counts_table("failed", dict(summary.failed)))
    _say(args, lines)
    return EXIT_FAIL if summary.failures else EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    """``convo serve``: the local emulator, until interrupted."""
    try:
        from convo.testing.emulator import serve
    except ImportError as e:
        raise UsageError(f"convo serve is not available in this build ({e})") from None
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError("the emulator listens on the loopback interface only (127.0.0.1)")

    def ready(url: str) -> None:
        print(f"convo serve: listening on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)

    try:
        serve(args.host, args.port, faults=args.faults, batch_delay=args.batch_delay, on_ready=ready)
    except ValueError as e:  # a fault schedule that does not parse
        raise UsageError(str(e)) from None
    return EXIT_OK

def entry() -> NoReturn:
    """The ``convo`` program: :func:`main` on ``sys.argv``, then exit with its status.

    Everything it needs is imported by now, and those objects live until the process ends, so
    they are moved out of the cyclic garbage collector's sight (``gc.freeze``): collections during
    the run scan only what the run made, forked workers do not copy the pages of those objects
    to update them, and the interpreter's exit is about 12 ms (10 % of a small run) shorter.
    Only the program does this; ``main()`` called from Python leaves the collector alone.
    """
    import gc

    gc.freeze()
    sys.exit(main())


if __name__ == "__main__":  # python -m convo.cli
    entry()
