"""``convo transform``: transforms over every conversation, on one process, several, or Dask.

Layer: cli.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

import orjson

from convo.cli._common import (
    EXIT_OK,
    EXIT_RULE,
    STDIN,
    UsageError,
    add_allow_unknown_model,
    add_api_version,
    add_common,
    add_fail_on_reject,
    check_target_model,
    command_parser,
    exit_status,
    inputs_of,
    nothing_written_text,
    output_sink,
    problems_text,
    rejects_sink,
    run_op,
    say,
)

if TYPE_CHECKING:
    from convo.codec.lines import LineKind

# The modules a run needs are imported by the functions that run it: `convo transform --help`
# imports this module only (tests/test_cli_startup.py).

__all__ = ["add_parser", "command"]

EPILOG = """\
Each -t is a transform's repr, parsed with literals only (never eval): for example
drop_images(placeholder="[image removed]"), keep_last_turns(n=8), migrate(model="claude-opus-4-8"),
inject_system("Be terse.", where="top"), redact("sk-[A-Za-z0-9]+"). They run left to right.
--pipeline FILE.py RUNS THAT FILE AS PYTHON CODE (trust it as you would any script): it must bind
PIPELINE (or pipeline) to a transform, e.g.  PIPELINE = pipeline(t.strip_thinking(), t.drop_images()).

Lines that cannot be used (invalid JSON or UTF-8, a wrong shape, over the size limit, a transform
that raised, a rule broken with --validate-for) go to the rejects file (default OUT.rejects.jsonl)
with file, line, reason, $.path and the original bytes; the run goes on. in = out + rejected.

Sharing transcripts: -t 'scrub_secrets()' replaces credentials everywhere in each line (text,
tool inputs and their keys, tool results, documents, metadata, unknown fields, an exchange's
response) with typed markers such as [REDACTED:aws-access-key]. It fails closed: a line it cannot
scrub goes to the rejects file. THE REJECTS FILE IS LOCAL AND MAY HOLD SECRETS: it keeps each
rejected line's original bytes, unscrubbed. Share OUT, never the rejects file. --dry-run shows the
first secrets found, masked (AKIA… (20 chars)).

examples:
  convo transform fixtures/transcripts.jsonl -o migrated.jsonl \\
      -t 'migrate(model="claude-opus-4-8")' -t 'drop_images(placeholder="[image removed]")'
  convo transform logs/ -t 'strip_thinking()' -t 'keep_last_turns(n=8)' -o out.jsonl.gz --workers 4
  convo transform in.jsonl -t 'redact("[0-9]{16}")' --dry-run
  convo transform transcripts.jsonl -t 'scrub_secrets(keyed=True)' -t 'drop_images()' -o shareable.jsonl
  zcat big.jsonl.gz | convo transform - -t 'drop_sampling_params()' -o - > out.jsonl
  convo transform s3://bucket/logs/ -t 'strip_thinking()' -o s3://bucket/clean/ --dask tcp://scheduler:8786
  convo transform logs/ -t 'strip_thinking()' -o clean.parquet --workers 4       # Parquet (convo[arrow])

""" + EXIT_RULE


def add_parser(sub: Any) -> None:
    """Register ``convo transform`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "transform", "apply transforms to every conversation", EPILOG)
    add_common(p)
    p.add_argument("-t", "--transform", dest="specs", action="append", default=[], metavar="SPEC",
                   help="a transform, as its repr (repeat; applied left to right; --list shows them all)")
    p.add_argument("--list", action="store_true",
                   help="list the transforms -t takes (name, parameters, what each does) and exit")
    p.add_argument("--pipeline", metavar="FILE.py",
                   help="a Python file binding PIPELINE (runs it: trusted code only); before any -t")
    p.add_argument("-o", "--output", default="-", metavar="OUT",
                   help="output JSONL ('-': stdout; .gz: compressed; .parquet: Parquet, see "
                   "convo.arrow); written atomically")
    p.add_argument("--rejects", metavar="R",
                   help="rejects file (default OUT.rejects.jsonl): original bytes, secrets included; "
                   "keep it local")
    p.add_argument("--validate-for", metavar="MODEL",
                   help="reject outputs MODEL would refuse (under --api-version)")
    p.add_argument("--beta", action="append", dest="betas", default=[], metavar="NAME",
                   help="with --validate-for: the outputs are sent with this anthropic-beta header "
                   "(repeatable): keys and types of that beta are accepted")
    p.add_argument("--allow", action="append", default=[], metavar="KEY",
                   help="with --validate-for: accept this unknown key (a name, or a $.path pattern "
                   "with *; repeatable)")
    add_api_version(p)
    add_allow_unknown_model(p)
    p.add_argument("--dry-run", action="store_true",
                   help="print the parsed pipeline and the first changed line as a diff; write nothing")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on a Dask cluster (scheduler address, or 'local'); OUT is a directory "
                   "(or fsspec URL) of part-NNNNN.jsonl files (part-NNNNN.parquet when OUT ends in "
                   ".parquet or .parquet/)")
    add_fail_on_reject(p)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """``convo transform``."""
    from convo.cli._report import counts_table, summary_line
    from convo.codec.rejects import CODES
    from convo.stream.operation import OpSpec

    if args.list:
        return _list()
    from convo.stream.pipelines import load_pipeline

    try:
        transform = load_pipeline(args.specs, args.pipeline)
    except (ValueError, TypeError, OSError, SyntaxError) as e:
        raise UsageError(str(e)) from None
    check_target_model(args, args.validate_for, "--validate-for")
    if (args.betas or args.allow) and not args.validate_for:
        raise UsageError("--beta and --allow go with --validate-for (they say what it accepts)")
    if not args.specs and not args.pipeline:
        raise UsageError("no transforms: give -t SPEC (repeatable) or --pipeline FILE.py")
    if args.dry_run:
        return _dry_run(inputs_of(args), transform, kind=args.kind, chunk_bytes=args.chunk_bytes,
                        max_line_bytes=args.max_line_bytes)
    if args.dask:
        return _transform_dask(args)
    sources = inputs_of(args)
    run_key = None
    if transform.keyed:  # scrub_secrets(keyed=True): one key for every worker (else none to make)
        from convo.transforms.secrets import RunKey

        run_key = RunKey.new()
    spec = OpSpec(
        "transform",
        {
            "specs": tuple(args.specs),
            "pipeline_path": os.path.abspath(args.pipeline) if args.pipeline else None,
            "validate_for": args.validate_for,
            "api_version": args.api_version,
            "betas": tuple(args.betas),
            "allow": tuple(args.allow),
            "kind": args.kind,
            "max_line_bytes": args.max_line_bytes,
            "run_key": run_key,  # its repr hides it
            "out_format": "parquet" if args.output.endswith(".parquet") else "jsonl",
        },
    )
    rejects = rejects_sink(args, args.output)
    with output_sink(args.output) as out, rejects:
        counts, tally, problems = run_op(args, spec, sources, out=out, rejects=rejects)
    lines = [summary_line("transform", counts), f"  pipeline: {transform!r}"]
    if args.output != "-":
        lines.append(f"  output: {args.output}")
    if counts.rejected:
        lines.append(f"  rejects: {rejects.path} (original bytes; see --help)")
        lines.extend(counts_table("rejected", tally.rejects, notes=CODES))
        lines.extend(counts_table("rules broken (--validate-for)", tally.rules))
    lines.append(f"  lines changed: {tally.changed:,} of {counts.out + counts.rejected:,}")
    lines.extend(counts_table("changes", tally.changes_by_text()))
    lines.extend(secrets_tables(tally.changes_by_text()))
    lines.extend(counts_table("notes", tally.notes_by_text()))
    lines.extend(nothing_written_text(counts))
    lines.extend(problems_text(problems))
    say(args, lines)
    return exit_status(args, counts, problems)


def secrets_tables(changes: dict[str, int]) -> list[str]:
    """The secrets scrub_secrets() redacted, counted by detector and by place (two short
    tables; the changes table, keyed ``"transform: what"``, has them by both).

    >>> for line in secrets_tables({"scrub_secrets: redacted jwt in $.system": 2}):
    ...     print(line)
      secrets by detector:
        jwt x 2
      secrets by place:
        $.system x 2
    """
    from convo.cli._report import counts_table

    if not any(text.startswith("scrub_secrets: ") for text in changes):  # (no scrub ran: nothing to load)
        return []
    from convo.transforms.secrets import hit_of

    by_detector: dict[str, int] = {}
    by_place: dict[str, int] = {}
    for text, n in changes.items():
        hit = hit_of(text.partition(": ")[2])
        if hit is not None:
            by_detector[hit[0]] = by_detector.get(hit[0], 0) + n
            by_place[hit[1]] = by_place.get(hit[1], 0) + n
    return [*counts_table("secrets by detector", by_detector, limit=20),
            *counts_table("secrets by place", by_place, limit=12)]


def _list() -> int:
    """Print every transform -t takes, with its parameters and what it does."""
    from convo.transforms.parse import catalog

    infos = catalog()
    for info in infos:
        print(info.parameters)
        note = "" if info.from_text else " (library only: -t cannot give it a function)"
        print(f"    {info.summary}{note}")
    print("\nA -t SPEC is a call with literal arguments, e.g. -t 'keep_last_turns(n=8)'.")
    return EXIT_OK


def _dry_run(sources: list[str], transform: Any, *, kind: LineKind | None, chunk_bytes: int,
             max_line_bytes: int) -> int:
    """Print the pipeline and the first line it changes, as a unified diff of pretty JSON; with
    scrub_secrets(), first the secrets found in the first lines (at most :data:`DRY_RUN_HITS`),
    masked, and a diff whose "before" side is masked too."""
    from convo.codec.lines import RawLine, decode_line, is_blank
    from convo.errors import DecodeError
    from convo.stream.ops import conversation_of
    from convo.stream.sources import Chunk, ChunkReader
    from convo.transforms import ChangeLog
    from convo.transforms.secrets import scrubbers_of

    print(f"pipeline: {transform!r}")
    scrubbing = bool(scrubbers_of(transform))
    reader = ChunkReader(sources, chunk_bytes=chunk_bytes, max_line_bytes=max_line_bytes)
    seen = hits = 0
    diff: list[str] | None = None
    try:
        for item in reader:
            if not isinstance(item, Chunk):
                continue  # an over-long line: nothing to show
            lineno = item.first_line - 1
            for line in item.lines:
                raw = bytes(line)  # (this reader makes no views: no copy)
                lineno += 1
                if is_blank(raw):
                    continue
                seen += 1
                try:
                    value = decode_line(RawLine(item.file, lineno, raw), kind=kind).value
                except DecodeError:
                    continue
                conv = conversation_of(value)
                if conv is None and not transform.outside:
                    continue
                inner, outer = ChangeLog(transform.name), ChangeLog(transform.name)
                try:
                    new_value = _apply(transform, value, conv, inner, outer)
                except Exception as e:
                    print(f"{item.file}:{lineno}: the pipeline raised {type(e).__name__}: {e}")
                    continue
                where = f"{item.file}:{lineno}"
                if scrubbing:
                    hits = _print_hits(where, value, inner.changes, outer.changes, hits)
                if diff is None and new_value is not value:
                    diff = _diff(where, raw, value, new_value, transform, inner.changes, outer.changes)
                    if not scrubbing:
                        break
                if diff is not None and (not scrubbing or hits >= DRY_RUN_HITS):
                    break
            else:
                continue
            break
    finally:
        reader.cleanup()
    if diff is None:
        print(f"no line changed ({seen:,} lines read)")
        return EXIT_OK
    sys.stdout.writelines(diff)
    print()
    return EXIT_OK


DRY_RUN_HITS = 20
"""How many secrets ``--dry-run`` lists (masked) before the first changed line's diff."""


def _apply(transform: Any, value: Any, conv: Any, inner: Any, outer: Any) -> Any:
    """*value* through *transform*: its conversation (changes in *inner*, paths inside the
    conversation), then the rest of the line (changes in *outer*, paths inside the line)."""
    from convo.stream.ops import with_conversation

    new_value = value
    if conv is not None:
        new = transform.apply(conv, inner)
        if new is not conv:
            new_value = with_conversation(value, new)
    if transform.outside:
        new_value = transform.apply_outside(new_value, outer)
    return new_value


def _print_hits(where: str, value: Any, inner: list[Any], outer: list[Any], shown: int) -> int:
    """Print the secrets of one line (detector, $.path in the line, the masked secret) until
    :data:`DRY_RUN_HITS` are shown; the new count."""
    from convo.stream.ops import line_path
    from convo.transforms.secrets import hit_of

    for c, path in [*((c, line_path(value, c.path)) for c in inner), *((c, c.path) for c in outer)]:
        hit = hit_of(c.what)
        if hit is None or shown >= DRY_RUN_HITS:
            continue
        if shown == 0:
            print(f"first secrets found (at most {DRY_RUN_HITS}; masked):")
        shown += 1
        print(f"  {where}: {path}: {hit[0]} {c.why.rpartition('matched ')[2]}")
    return shown


def _diff(where: str, raw: bytes, value: Any, new_value: Any, transform: Any,
          inner: list[Any], outer: list[Any]) -> list[str]:
    """The first changed line as a unified diff of pretty JSON, its changes listed first; with
    scrub_secrets() in the pipeline, the "before" side shows every secret it finds masked."""
    import difflib

    from convo.codec.lines import encode_value
    from convo.stream.ops import line_path
    from convo.transforms.secrets import mask_line

    head = [f"first changed line: {where}\n"]
    for c, path in [*((c, line_path(value, c.path)) for c in inner), *((c, c.path) for c in outer)]:
        head.append(f"  {c.transform}: {c.what} at {path}\n")
    masked = mask_line(value, transform)
    before = _pretty(raw) if masked is None else _pretty(encode_value(masked))
    after = _pretty(encode_value(new_value))
    return head + list(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True),
            f"{where} (before)", f"{where} (after)",
        )
    )


def _pretty(line: bytes) -> str:
    """A JSON line indented for a diff: what the codec reads (a leading BOM, integers of any size)."""
    from convo.codec import parse_json
    from convo.codec.lines import BOM

    obj = parse_json(line[len(BOM):] if line.startswith(BOM) else line)
    try:
        return orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        import json

        return json.dumps(obj, indent=2, ensure_ascii=False)


def _transform_dask(args: argparse.Namespace) -> int:
    from convo.cli._report import counts_table, summary_line
    from convo.codec.rejects import CODES

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
        betas=tuple(args.betas),
        allow=tuple(args.allow),
        kind=args.kind,
        max_line_bytes=args.max_line_bytes,
        rejects=args.rejects,
        address=args.dask,
        out_format="parquet" if args.output.rstrip("/").endswith(".parquet") else "jsonl",
    )
    lines = [summary_line("transform", summary), f"  on dask: {args.dask}; {summary.parts} parts in {args.output}"]
    if summary.rejected:
        lines.append(f"  rejects: {summary.rejects_dir}")
        lines.extend(counts_table("rejected", summary.reject_codes, notes=CODES))
    lines.append(f"  lines changed: {summary.changed:,}")
    lines.extend(counts_table("changes", summary.changes))
    lines.extend(secrets_tables(summary.changes))
    lines.extend(counts_table("notes", summary.notes))
    say(args, lines)
    return exit_status(args, summary, [])
