"""``convo run``: every request line sent to the API, one exchange record per line, resumable.

Layer: cli (the work is :func:`convo.jobs.run_file`'s, or the Message Batches job's with
``--via batch``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from convo.cli._common import (
    EXIT_RULE,
    UsageError,
    add_api_version,
    add_fail_on_error,
    add_fail_on_reject,
    command_parser,
    positive,
    refuse_parquet,
    run_report,
    say,
    seconds,
    show_progress,
)
from convo.cli._report import Progress
from convo.stream.sinks import rejects_path_for
from convo.stream.sources import STDIN, expand

__all__ = ["add_parser", "command"]

EPILOG = """\
Sends each request line to the Messages API (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL) and writes one
exchange record per line, in input order. --resume continues an interrupted run without sending
a line twice.

examples:
  convo run requests.jsonl -o exchanges.jsonl --concurrency 8
  convo run requests.jsonl -o exchanges.jsonl --resume
  convo serve --port 8123 &  ANTHROPIC_BASE_URL=http://127.0.0.1:8123 convo run requests.jsonl -o out.jsonl

counts (the same by --via http and --via batch):
  N lines in = S succeeded + F failed (API errors) + R rejected (not requests)
  failed: sent, and the API (or the connection) answered with an error; the line's record in
    OUT holds the error (--resume --retry-errors sends it again).
  rejected: not a request (not JSON, another kind of line, or against the request rules), so
    never sent; it is in the rejects file, not in OUT.
  --resume counts the lines that had a record before as "already done". In the exit rule below,
  "written out" means succeeded (or already done): an error record is no answer.

""" + EXIT_RULE


def add_parser(sub: Any) -> None:
    """Register ``convo run`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "run", "send every request line to the API; write exchange records", EPILOG)
    p.add_argument("inputs", nargs="*", metavar="FILE",
                   help="JSONL files or directories of request lines (requests, batch request lines "
                   "or exchange records); '-' or nothing: stdin")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="the exchange records, one per line in input order (a file: --resume continues it)")
    p.add_argument("--concurrency", type=positive, default=8, metavar="N",
                   help="requests in flight at once (default 8; --via http only)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--retry-errors", action="store_true",
                   help="with --resume: run again the lines whose record is an error")
    p.add_argument("--rejects", metavar="R", help="lines that are not requests (default OUT.rejects.jsonl)")
    add_api_version(p)
    p.add_argument("--base-url", metavar="URL", help="the API's base URL (default: $ANTHROPIC_BASE_URL or the API)")
    p.add_argument("--via", choices=("http", "batch"), default="http",
                   help="http: one request per line (default); batch: the Message Batches API, half "
                   "the price, results within 24 h (resumable state in OUT.batch.json); "
                   "--concurrency is for http only")
    p.add_argument("--poll-interval", type=seconds, default=10.0, metavar="S",
                   help="--via batch: first wait between polls; it grows by half each time (default 10)")
    p.add_argument("--max-poll-interval", type=seconds, default=60.0, metavar="S",
                   help="--via batch: longest wait between polls (default 60)")
    add_fail_on_reject(p)
    add_fail_on_error(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary")
    p.set_defaults(func=command, interrupted="the records written so far are kept (and the "
                   "answers that came back); run it again with --resume to continue")


def command(args: argparse.Namespace) -> int:
    """``convo run``: each request line through the executor, one exchange record per line."""
    try:
        from convo.executor import HttpExecutor
        from convo.jobs import run_file
    except ImportError as e:
        raise UsageError(f"convo run is not available in this build ({e})") from None
    from convo.errors import ConvoError

    if args.output == "-":
        raise UsageError("convo run writes a file (-o OUT), so that --resume can continue it")
    inputs = expand(args.inputs or [STDIN])
    refuse_parquet(inputs, "convo run")
    rejects = args.rejects or rejects_path_for(args.output)
    try:
        # the key and base URL come from ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL, as in the SDK
        if args.via == "batch":
            from convo.jobs import BatchExecutor

            executor: HttpExecutor | BatchExecutor = BatchExecutor(
                base_url=args.base_url, api_version=args.api_version,
                poll_interval=max(args.poll_interval, 0.01),
                max_poll_interval=max(args.max_poll_interval, args.poll_interval, 0.01))
        else:
            executor = HttpExecutor(base_url=args.base_url, api_version=args.api_version)
    except ConvoError as e:
        raise UsageError(str(e)) from None
    progress = Progress(sys.stderr, total=None, enabled=show_progress(args), label="run ")

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
    lines, code = run_report("convo run", args, summary, rejects)
    say(args, lines)
    return code

