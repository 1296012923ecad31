"""``convo batch submit|status|results|cancel``: the Message Batches API from the command line.

Layer: cli (:mod:`convo.cli` registers these subcommands through :func:`add_parser`). The work
is :class:`convo.jobs.BatchExecutor`'s; this module reads the
arguments and the environment (``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``), shows progress on
a terminal and prints the summaries. Every step can be interrupted and run again: the state file
(``-o STATE`` of ``submit``) records what was done, so nothing is submitted twice and no result
is fetched twice.

>>> import argparse
>>> p = argparse.ArgumentParser(); add_parser(p.add_subparsers())
>>> args = p.parse_args(["batch", "submit", "in.jsonl", "-o", "job.json", "--max-requests", "500"])
>>> args.inputs, args.state, args.max_requests
(['in.jsonl'], 'job.json', 500)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from convo.cli._common import (
    UsageError,
    add_fail_on_error,
    add_fail_on_reject,
    refuse_parquet,
    run_report,
)
from convo.cli._common import seconds as _seconds

__all__ = ["add_parser", "cmd_cancel", "cmd_results", "cmd_status", "cmd_submit"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_DONE = 0, 1, 2, 3

BATCH_EPILOG = """\
steps:
  submit   split the request lines into batches (100,000 requests / 256 MB each), reject the lines
           that break the rules for their model, and submit the rest; records everything in STATE
  status   where each batch stands (asks the API)
  results  wait for the batches, save their results, write one exchange record per input line in
           input order (lines the API refused with invalid_request_error go to the rejects)
  cancel   cancel the batches still processing; their unprocessed lines are reported as canceled

Every step can be interrupted (Ctrl-C, a crash, a kill) and run again with the same STATE: a line
is never submitted twice, a result never fetched twice. The key and base URL come from
ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL. Batches cost half as much and end within 24 hours.

examples:
  convo batch submit requests.jsonl -o job.json
  convo batch status job.json
  convo batch results job.json -o exchanges.jsonl --retry-errored
  convo batch cancel job.json
"""

SUBMIT_EPILOG = """\
Run it again with the same -o STATE to resume an interrupted submission (the FILEs may then be
left out). Lines that are not requests, or that break the API's rules for their model under
--api-version, are not submitted: `results` writes them to the rejects file with the reason.

examples:
  convo batch submit requests.jsonl more/ -o job.json
  convo batch submit -o job.json                       # resume
"""

RESULTS_EPILOG = """\
summary, as convo run's: N lines in = S succeeded + F failed (API errors: errored, canceled,
expired) + R rejected (not requests: refused before they were submitted).
exit status, as convo run's: 0 done; 1 lines came in and none succeeded, any failed line with
--fail-on-error, or any rejected line with --fail-on-reject; 3 with --no-wait when some batch has
not ended yet; 2 bad usage.

examples:
  convo batch results job.json -o exchanges.jsonl
  convo batch results job.json -o exchanges.jsonl --retry-errored --rejects refused.jsonl
  convo batch results job.json -o exchanges.jsonl --no-wait || echo "not yet"
"""


_INTERRUPTED = "every step done is in the state file: run the step again to resume"

STATUS_EPILOG = """\
Asks the API where each batch stands (--no-refresh: only what the state file says) and prints a
table of the batches and their request counts. Changes nothing but the state file's view.

examples:
  convo batch status job.json
  convo batch status job.json --json | jq '.counts'
  convo batch status job.json --no-refresh
"""

CANCEL_EPILOG = """\
Batches still processing are canceled; nothing more is submitted. `results` then writes every
line, the unprocessed ones with a `canceled` error record.

examples:
  convo batch cancel job.json
  convo batch cancel job.json && convo batch results job.json -o exchanges.jsonl
"""


def _positive_int(text: str) -> int:
    try:
        n = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {n}")
    return n


def _connection(p: argparse.ArgumentParser, *, version_default: str | None, polls: bool = True) -> None:
    """The options that say where the API is and, for the steps that wait (*polls*), how to poll."""
    from convo.profiles import API_VERSIONS

    p.add_argument(
        "--api-version", choices=API_VERSIONS, default=version_default,
        help="the API version (default: "
        + ("the newest" if version_default else "the one the job was submitted under") + ")",
    )
    p.add_argument("--base-url", metavar="URL",
                   help="the API's base URL (default: $ANTHROPIC_BASE_URL, else the API); a job submitted "
                   "elsewhere is continued only when this names its URL")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary")
    if not polls:
        return
    p.add_argument("--poll-interval", type=_seconds, default=10.0, metavar="S",
                   help="first wait between polls; it grows by half each time (default 10)")
    p.add_argument("--max-poll-interval", type=_seconds, default=60.0, metavar="S",
                   help="longest wait between polls (default 60)")
    p.add_argument("--settle", type=_seconds, default=60.0, metavar="S",
                   help="after an interrupted create, how long a batch may take to appear in the "
                   "list before the create is trusted not to have happened (default 60)")


def add_parser(sub: Any) -> None:
    """Register ``convo batch`` and its steps on the ``convo`` subparsers *sub*."""
    from convo.profiles import DEFAULT_API_VERSION

    fmt = argparse.RawDescriptionHelpFormatter
    help_ = "the Message Batches API: submit, status, results, cancel (resumable)"
    p = sub.add_parser("batch", help=help_, description=help_, epilog=BATCH_EPILOG, formatter_class=fmt)
    p.set_defaults(func=lambda args: _usage(p))
    steps = p.add_subparsers(dest="step", metavar="STEP", parser_class=type(p))

    s = steps.add_parser("submit", help="submit request lines in batches", epilog=SUBMIT_EPILOG,
                         description="Submit request lines in batches.", formatter_class=fmt)
    s.add_argument("inputs", nargs="*", metavar="FILE",
                   help="JSONL files or directories (their *.jsonl and *.jsonl.gz); '-': stdin")
    s.add_argument("-o", "--state", required=True, metavar="STATE", help="the job's state file")
    s.add_argument("--max-requests", type=_positive_int, default=None, metavar="N",
                   help="requests per batch at most (default: the API's 100,000)")
    s.add_argument("--max-bytes", type=_positive_int, default=None, metavar="N",
                   help="bytes of JSON per batch at most (default: the API's 256 MB)")
    _connection(s, version_default=DEFAULT_API_VERSION)
    s.set_defaults(func=cmd_submit, interrupted=_INTERRUPTED)

    s = steps.add_parser("status", help="where the job's batches stand",
                         description="Where the job's batches stand.", epilog=STATUS_EPILOG,
                         formatter_class=fmt)
    s.add_argument("state", metavar="STATE", help="the job's state file (what `submit -o` wrote)")
    s.add_argument("--json", action="store_true", help="one JSON object")
    s.add_argument("--no-refresh", dest="refresh", action="store_false",
                   help="what the state file says, without asking the API")
    _connection(s, version_default=None, polls=False)
    s.set_defaults(func=cmd_status, interrupted=_INTERRUPTED)

    s = steps.add_parser("results", help="wait, save the results, write exchange records",
                         description="Wait for the batches, then write one exchange record per line.",
                         epilog=RESULTS_EPILOG, formatter_class=fmt)
    s.add_argument("state", metavar="STATE", help="the job's state file (what `submit -o` wrote)")
    s.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="exchange records, one per input line in input order (written atomically)")
    s.add_argument("--rejects", metavar="R", help="rejected lines (default OUT.rejects.jsonl)")
    s.add_argument("--retry-errored", action="store_true",
                   help="resubmit lines whose result errored with a retryable type (not "
                   "invalid_request_error), in new batches, up to 3 rounds")
    s.add_argument("--retry-expired", action="store_true", help="resubmit expired lines too")
    s.add_argument("--no-wait", dest="wait", action="store_false",
                   help="do not wait: exit 3 if some batch has not ended")
    add_fail_on_reject(s)
    add_fail_on_error(s)
    _connection(s, version_default=None)
    s.set_defaults(func=cmd_results, interrupted=_INTERRUPTED)

    s = steps.add_parser("cancel", help="cancel the batches still processing",
                         description="Cancel the job: nothing more is submitted.", epilog=CANCEL_EPILOG,
                         formatter_class=fmt)
    s.add_argument("state", metavar="STATE", help="the job's state file (what `submit -o` wrote)")
    _connection(s, version_default=None, polls=False)
    s.set_defaults(func=cmd_cancel, interrupted=_INTERRUPTED)


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return EXIT_USAGE


# --------------------------------------------------------------------------- helpers


def _job_config(state: str) -> dict[str, Any]:
    """The API version and base URL a job was submitted with ({} when there is no state yet)."""
    from convo.errors import ConvoError
    from convo.jobs.batch import read_state

    try:
        return read_state(state)
    except ConvoError:  # no job yet, or not a state file: the executor says so when it opens it
        return {}


def _executor(args: argparse.Namespace, state: str) -> Any:
    """The executor for a step: the key and base URL from the flags and the environment only.

    A state file is data: it never chooses where the key is sent. When the job was submitted to
    another base URL than the one given (or the API's, with none given), the step is refused
    with the command that confirms it.
    """
    from convo.errors import ConvoError
    from convo.executor._http import DEFAULT_BASE_URL
    from convo.jobs import BatchExecutor
    from convo.profiles import API_VERSIONS

    job = _job_config(state)
    version = args.api_version or job.get("api_version")
    if version is not None and version not in API_VERSIONS:
        raise UsageError(f"{state} names the API version {str(version)[:40]!r}, which is not one of "
                         f"{', '.join(API_VERSIONS)}; give --api-version")
    base_url = args.base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
    recorded = job.get("base_url")
    chosen = (base_url or DEFAULT_BASE_URL).rstrip("/")
    if isinstance(recorded, str) and recorded != chosen:
        given = "--base-url" if args.base_url else "ANTHROPIC_BASE_URL" if base_url else "the default"
        raise UsageError(
            f"the batch job in {state} was submitted to {recorded[:200]}, not {chosen} ({given}); "
            "a state file does not choose where the API key is sent: to continue the job there, "
            f"confirm it with --base-url {recorded[:200]}")
    kwargs: dict[str, Any] = {}
    if getattr(args, "max_requests", None):
        kwargs["max_requests"] = args.max_requests
    if getattr(args, "max_bytes", None):
        kwargs["max_bytes"] = args.max_bytes
    if version:
        kwargs["api_version"] = version
    if hasattr(args, "poll_interval"):  # the steps that wait (status and cancel do not)
        kwargs["poll_interval"] = max(args.poll_interval, 0.01)
        kwargs["max_poll_interval"] = max(args.max_poll_interval, args.poll_interval, 0.01)
        kwargs["settle"] = args.settle
    try:
        return BatchExecutor(base_url=base_url, **kwargs)
    except (ConvoError, ValueError) as e:
        raise UsageError(str(e)) from None


def _say(args: argparse.Namespace, lines: Sequence[str]) -> None:
    if not args.quiet and lines:
        print("\n".join(lines), file=sys.stderr)


def _progress(args: argparse.Namespace, label: str) -> Any:
    from convo.cli._report import Progress

    return Progress(sys.stderr, total=None, enabled=not args.quiet and sys.stderr.isatty(), label=label)


def _status_note(status: Any) -> str:
    c = status.counts
    ended = sum(1 for b in status.batches if b.status in ("fetched", "unsent"))
    return (f"{len(status.batches):,} batches, {ended:,} done; {c['processing']:,} processing, "
            f"{c['succeeded']:,} succeeded, {c['errored']:,} errored")


class _APIFailure(Exception):
    """The API refused a step (a bad key, an outage past the retries): exit 1 with its message."""


def _run(args: argparse.Namespace, fn: Any) -> Any:
    """Call *fn*; a ConvoError (a bad state, a changed input) is a usage error, an API error a
    failure. Either way the state file holds every step done, so the step can be run again."""
    from convo.errors import APIError, ConvoError

    try:
        return fn()
    except APIError as e:
        raise _APIFailure(str(e)) from None
    except ConvoError as e:
        raise UsageError(str(e)) from None


def _failing(cmd: Any) -> Any:
    """Print an API failure as one line on stderr and return 1 (no traceback)."""

    def run(args: argparse.Namespace) -> int:
        try:
            status: int = cmd(args)
        except _APIFailure as e:
            print(f"convo batch {args.step}: the API failed: {e} (run the step again to resume)",
                  file=sys.stderr)
            return EXIT_FAIL
        return status

    run.__name__, run.__doc__ = cmd.__name__, cmd.__doc__
    return run


# --------------------------------------------------------------------------- steps


@_failing
def cmd_submit(args: argparse.Namespace) -> int:
    """``convo batch submit``."""
    refuse_parquet([p for p in args.inputs or [] if os.path.isfile(p)], "convo batch submit")
    ex = _executor(args, args.state)
    progress = _progress(args, "submit ")
    try:
        with ex:
            status = _run(args, lambda: ex.submit(args.inputs or None, args.state,
                                                  on_status=lambda s: progress.note(_status_note(s))))
    finally:
        progress.close()
    sent = sum(b.requests for b in status.batches if b.attempt == 0)
    doubt = [b for b in status.batches if b.status in ("submitting", "uncertain")]
    lines = [
        f"convo batch submit: {status.lines:,} lines in = {sent:,} submitted + "
        f"{status.rejected:,} rejected (not requests); {len(status.batches):,} batches",
        f"  state: {args.state}",
    ]
    if status.rejected:
        lines.append(f"  rejected lines (with the reason): {args.state}.d/rejects.jsonl; `results` "
                     "copies them to its rejects file")
    if doubt:
        lines.append(f"  {len(doubt):,} batches are being reconciled (a create was interrupted); "
                     "`results` settles them without submitting anything twice")
    lines.append(f"  next: convo batch results {args.state} -o OUT")
    _say(args, lines)
    return EXIT_OK


@_failing
def cmd_status(args: argparse.Namespace) -> int:
    """``convo batch status``."""
    ex = _executor(args, args.state)
    with ex:
        status = _run(args, lambda: ex.status(args.state, refresh=args.refresh))
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(status.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
        return EXIT_OK
    from convo.cli._report import table

    rows = []
    for b in status.batches:
        c = b.request_counts
        rows.append((
            str(b.n), str(b.attempt), f"{b.requests:,}", b.status, b.batch_id or "-",
            b.processing_status or "-", f"{c.get('succeeded', 0):,}", f"{c.get('errored', 0):,}",
            f"{c.get('canceled', 0):,}", f"{c.get('expired', 0):,}",
        ))
    header = ("batch", "round", "requests", "state", "id", "processing", "succeeded", "errored",
              "canceled", "expired")
    out = table(rows, header) if rows else ["no batches yet"]
    c = status.counts
    where = "done" if status.done else ("canceled" if status.canceled else "in progress")
    out += [
        "",
        f"{status.lines:,} lines read, {status.rejected:,} rejected before submission"
        + ("" if status.submitted else " (submission not finished)"),
        f"{c['processing']:,} processing, {c['succeeded']:,} succeeded, {c['errored']:,} errored, "
        f"{c['canceled']:,} canceled, {c['expired']:,} expired: {where}",
    ]
    if status.output:
        out.append(f"output written: {status.output}")
    print("\n".join(out))
    return EXIT_OK


@_failing
def cmd_results(args: argparse.Namespace) -> int:
    """``convo batch results``."""
    from convo.stream.sinks import rejects_path_for

    if args.output == "-":
        raise UsageError("convo batch results writes a file (-o OUT)")
    ex = _executor(args, args.state)
    rejects = args.rejects or rejects_path_for(args.output)
    progress = _progress(args, "results ")
    try:
        with ex:
            summary = _run(args, lambda: ex.results(
                args.state, args.output, rejects=rejects, retry_errored=args.retry_errored,
                retry_expired=args.retry_expired, wait=args.wait,
                on_status=lambda s: progress.note(_status_note(s)),
            ))
    finally:
        progress.close()
    if summary is None:
        _say(args, [f"convo batch results: not finished yet (see `convo batch status {args.state}`)"])
        return EXIT_NOT_DONE
    lines, code = run_report("convo batch results", args, summary, rejects)
    _say(args, lines)
    return code


@_failing
def cmd_cancel(args: argparse.Namespace) -> int:
    """``convo batch cancel``."""
    ex = _executor(args, args.state)
    with ex:
        status = _run(args, lambda: ex.cancel(args.state))
    asked = sum(1 for b in status.batches if b.processing_status == "canceling")
    _say(args, [
        f"convo batch cancel: {asked:,} batches canceling; nothing more will be submitted",
        f"  next: convo batch results {args.state} -o OUT  (unprocessed lines are reported as canceled)",
    ])
    return EXIT_OK
