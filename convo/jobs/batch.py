"""Message Batches jobs: submit thousands of conversations at half the price, resumably.

Layer: jobs (files and the state of long work), on the batch client of the executor layer
(:class:`convo.executor.BatchClient`). :class:`BatchExecutor` runs whole files through the batch
endpoints (facts §6.2, §6.4): the input is split into batches under both limits (100,000 requests
and 256 MB of JSON per create body, both parameters), each line gets a ``custom_id`` derived from
its file and line, the batches are polled with back-off, their results (which come in no
particular order) are saved as they end, and one exchange record per input line is written in
input order, as ``convo run`` writes them. Conversations held in memory run the same way, in a
temporary state directory (:meth:`BatchExecutor.run_iter`, :meth:`BatchExecutor.execute`).

The state file
--------------
Every step is recorded in a JSON state file, written atomically (temporary file, fsync, rename)
after each step, with a directory beside it (``STATE.d/``) holding the saved results of each
batch (``<batch id>.jsonl``, renamed into place only once complete), the lines rejected before
submission (``rejects.jsonl``) and a lock. A process killed at any point resumes from it:

- The input files are listed in the state with their sizes, and each batch with the lines it
  holds (as ranges of ``[file, first line, last line]``), its request count and the SHA-256 of its
  create body, so that a resumed process proves the input did not change before it sends or
  joins anything.
- ``custom_id`` is ``<run>-<file>-<line>`` (``-r<N>`` appended for the N-th resubmission of
  errored lines), where ``<run>`` is a random marker chosen once per state file. The mapping back
  to file and line is that formula plus the state's list of files.
- Results already saved are never fetched again; a download cut off by a kill is fetched again
  whole (the endpoint has no ranges).

How a line is never submitted twice
-----------------------------------
Before a create call the batch's record is saved with ``status: "submitting"`` and the time
(the intent); after it, with the batch id. A kill (or a connection that breaks after the body was
sent) between the two leaves a batch that may or may not exist on the server. The create call
is therefore never retried blindly (the official SDK would retry it); instead it is reconciled:

1. ``GET /v1/messages/batches`` is paged (newest first) back to the intent time, less a margin
   for clock skew. Batches the state already knows are left out; those whose request count is the
   count of the batch in doubt are its *candidates*.
2. A candidate is only proven to be ours by its results: they are the only place the API shows
   ``custom_id`` values. Once a candidate ends, the first line of its results is read; if its
   ``custom_id`` carries this state's run marker and a line of the batch in doubt, the batch is
   adopted (and its results saved); otherwise the candidate is dropped.
3. Only when no candidate is left, and ``settle`` seconds have passed since the intent (time for a
   create that was still in flight to appear in the list), is the batch sent again -- with the same
   ``custom_id`` values, since the first create provably did not happen.

A create that failed with an HTTP error status did not create a batch (the API's error is the
answer), so it is retried per the retry policy; only a transport error after the request may
have been sent leads to the reconciliation above. A connection that could not even be opened is
retried like any other request.

Lines that break the rules for their model (:func:`convo.validate`, under the executor's API
version) or the batch rules (``stream``, ``max_tokens: 0``, ``speed``; facts §6.4) never reach
the API: they go to the rejects with the reason. So do results ``errored`` with
``invalid_request_error`` (with the API's message). Other errored results can be resubmitted
(``retry_errored``; expired ones with ``retry_expired``), in new batches, up to
``max_retry_rounds`` times; what is still failing then, and every canceled or expired line, gets
an exchange record whose ``error`` says so. Nothing is dropped: lines in = records + rejects.

>>> import os, tempfile
>>> from convo.testing import Emulator
>>> d = tempfile.mkdtemp(); src = os.path.join(d, "in.jsonl")
>>> with open(src, "w") as f:
...     for q in ("Hi", "Bye"):
...         _ = f.write('{"model": "claude-sonnet-4-5", "max_tokens": 16, '
...                     '"messages": [{"role": "user", "content": "%s"}]}\\n' % q)
>>> with Emulator(batch_delay=0) as url, BatchExecutor("k", base_url=url, poll_interval=0.01) as ex:
...     status = ex.submit([src], os.path.join(d, "job.json"))
...     summary = ex.results(os.path.join(d, "job.json"), os.path.join(d, "out.jsonl"))
>>> [b.requests for b in status.batches], summary.succeeded
([2], 2)
>>> import orjson, pathlib
>>> [orjson.loads(x)["response"]["content"][0]["text"] for x in pathlib.Path(d, "out.jsonl").read_bytes().splitlines()]
['echo: Hi', 'echo: Bye']
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator

import attrs
import orjson

from convo import model as m
from convo.codec import dumps
from convo.codec.jsonl import iter_lines
from convo.codec.lines import decode_line
from convo.codec.rejects import rejects_path_for
from convo.errors import (
    ValidationError,
    error_for_status,
)
from convo.executor._base import Executor
from convo.executor._batch import (
    BatchResultError,
)
from convo.executor._run import ProgressCallback, ProgressCounter, Result
from convo.jobs._batch_job import (
    BatchInfo,
    BatchRunner,
    BatchStatus,
    _batch_problem,
    _exception_for,
    _Job,
    read_state,
)
from convo.jobs._common import RunSummary

__all__ = ["BatchExecutor", "BatchInfo", "BatchStatus", "read_state"]


# --------------------------------------------------------------------------- the executor


class BatchExecutor(BatchRunner, Executor):
    """Runs conversations through the Message Batches API: 50 % of the price, results in hours.

    Takes :class:`~convo.executor.HttpExecutor`'s arguments (key and base URL from
    ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL``, ``api_version``, ``betas``, ``client``,
    ``retry``, ``validate``, ``headers``) and the batch settings: ``max_requests`` and
    ``max_bytes`` per batch (the API's limits by default), ``poll_interval`` (the first wait
    between polls, growing by half each time up to ``max_poll_interval``), ``settle`` (how long
    after an interrupted create a batch may still appear in the list before the create is
    trusted not to have happened), ``clock_skew`` (how far the server's clock may be from ours),
    ``max_retry_rounds`` (resubmissions of errored lines), and ``sleep`` / ``clock`` for tests.
    The batch endpoints themselves are :class:`~convo.executor.BatchClient`'s methods.

    Files go through :meth:`submit`, :meth:`results`, :meth:`status` and :meth:`cancel` with a
    state file (resumable; see the module docs), or :meth:`run_file` for all of it at once.
    :meth:`run_many` and :meth:`execute` run conversations held in memory (in a temporary state
    directory); :func:`convo.executor.run_many` hands them here.

    >>> ex = BatchExecutor("sk-ant-secret", base_url="http://127.0.0.1:9", max_requests=500)
    >>> ex
    BatchExecutor(base_url='http://127.0.0.1:9', api_version='2026-10-21', max_requests=500, api_key=<redacted>)
    >>> ex.close()
    """

    def __enter__(self) -> BatchExecutor:
        return self

    def submit(
        self,
        inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None,
        state: str | os.PathLike[str],
        *,
        on_status: Callable[[BatchStatus], None] | None = None,
    ) -> BatchStatus:
        """Submit every request line of *inputs* in batches, recording each step in *state*.

        Run it again with the same state (and the same inputs, or ``None``) to resume an
        interrupted submission: nothing is submitted twice. Lines that break the rules are
        rejected here (they are written out by :meth:`results`).

        >>> ex = BatchExecutor("k", base_url="http://127.0.0.1:9")
        >>> ex.submit(None, "/nonexistent/state.json")
        Traceback (most recent call last):
        ...
        convo.errors.ConvoError: no batch job in /nonexistent/state.json: give the input files to start one
        """
        with _Job(self, state, on_status=on_status) as job:
            job.open(inputs)
            job.submit()
            return job.status()

    def results(
        self,
        state: str | os.PathLike[str],
        output: str | os.PathLike[str],
        *,
        rejects: str | os.PathLike[str] | None = None,
        retry_errored: bool = False,
        retry_expired: bool = False,
        wait: bool = True,
        on_status: Callable[[BatchStatus], None] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> RunSummary | None:
        """Wait for the job's batches, save their results, write one exchange record per line.

        Records go to *output* in input order (written atomically); lines rejected before
        submission or by the API (``invalid_request_error``) go to *rejects* (default
        ``OUT.rejects.jsonl``). *retry_errored* resubmits the lines whose result is another
        error type (and *retry_expired* the expired ones). Without *wait*, returns None at once
        if some batch has not ended. Resumable: results already saved are not fetched again.
        (The module's example shows submit and results together.)

        >>> BatchExecutor("k", base_url="http://127.0.0.1:9").results("/nonexistent/job.json", "out.jsonl")
        Traceback (most recent call last):
        ...
        convo.errors.ConvoError: no batch job in /nonexistent/job.json: give the input files to start one
        """
        started = time.monotonic()
        with _Job(self, state, on_status=on_status) as job:
            job.open(None)
            if not job.collect(wait=wait, retry_errored=retry_errored, retry_expired=retry_expired):
                return None
            out = os.fspath(output)
            rej = os.fspath(rejects) if rejects is not None else rejects_path_for(out)
            summary = job.write(out, rej, on_progress=on_progress)
        return attrs.evolve(summary, elapsed=time.monotonic() - started)

    def status(self, state: str | os.PathLike[str], *, refresh: bool = True) -> BatchStatus:
        """Where the job in *state* stands; with *refresh*, the batches are asked first.

        >>> import os, tempfile
        >>> from convo.testing import Emulator
        >>> src = os.path.join(tempfile.mkdtemp(), "in.jsonl")
        >>> with open(src, "w") as f:
        ...     _ = f.write('{"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": []}\\n')
        ...     _ = f.write('{"model": "claude-sonnet-4-5", "max_tokens": 8, '
        ...                 '"messages": [{"role": "user", "content": "Hi"}]}\\n')
        >>> with Emulator(batch_delay=60) as url, BatchExecutor("k", base_url=url) as ex:
        ...     _ = ex.submit([src], src + ".job")
        ...     s = ex.status(src + ".job")
        >>> s.lines, s.rejected, s.counts["processing"], s.done
        (2, 1, 1, False)
        """
        job = _Job(self, state)
        locked = job.try_lock()
        try:
            job.open(None)
            if refresh:
                job.refresh(save=locked)
            return job.status()
        finally:
            job.unlock()

    def cancel(self, state: str | os.PathLike[str]) -> BatchStatus:
        """Cancel the job: its batches still processing are canceled, nothing more is submitted.

        The lines that were not processed are reported as ``canceled`` by :meth:`results`.

        >>> import os, tempfile
        >>> from convo.testing import Emulator
        >>> d = tempfile.mkdtemp(); src = os.path.join(d, "in.jsonl")
        >>> with open(src, "w") as f:
        ...     _ = f.write('{"model": "claude-sonnet-4-5", "max_tokens": 8, '
        ...                 '"messages": [{"role": "user", "content": "Hi"}]}\\n')
        >>> with Emulator(batch_delay=60, cancel_delay=0) as url, \\
        ...         BatchExecutor("k", base_url=url, poll_interval=0.01) as ex:
        ...     _ = ex.submit([src], os.path.join(d, "job"))
        ...     canceled = ex.cancel(os.path.join(d, "job")).canceled
        ...     summary = ex.results(os.path.join(d, "job"), os.path.join(d, "out.jsonl"))
        >>> canceled, dict(summary.failed)
        (True, {'canceled': 1})
        """
        with _Job(self, state) as job:
            job.open(None)
            job.cancel()
            return job.status()

    def run_file(
        self,
        inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        output: str | os.PathLike[str],
        *,
        state: str | os.PathLike[str] | None = None,
        resume: bool = False,
        retry_errors: bool = False,
        rejects: str | os.PathLike[str] | None = None,
        on_progress: ProgressCallback | None = None,
        on_status: Callable[[BatchStatus], None] | None = None,
    ) -> RunSummary:
        """:meth:`submit` then :meth:`results`: what ``convo run --via batch`` does.

        The state is *state* or ``OUT.batch.json``. With *resume* an earlier state is continued;
        without it, an earlier state is discarded and the run starts over (as ``convo run``
        starts over without ``--resume``; the earlier batches are not canceled).

        >>> import os, tempfile
        >>> from convo.testing import Emulator
        >>> d = tempfile.mkdtemp(); src = os.path.join(d, "in.jsonl")
        >>> with open(src, "w") as f:
        ...     _ = f.write('{"model": "claude-sonnet-4-5", "max_tokens": 8, '
        ...                 '"messages": [{"role": "user", "content": "Hi"}]}\\n')
        >>> with Emulator(batch_delay=0) as url, BatchExecutor("k", base_url=url, poll_interval=0.01) as ex:
        ...     s = ex.run_file(src, os.path.join(d, "out.jsonl"))
        >>> s.succeeded, os.path.exists(os.path.join(d, "out.jsonl.batch.json"))
        (1, True)
        """
        out = os.fspath(output)
        state_path = os.fspath(state) if state is not None else out + ".batch.json"
        if not resume:
            _Job(self, state_path).discard()
        self.submit(inputs, state_path, on_status=on_status)
        summary = self.results(
            state_path, out, rejects=rejects, retry_errored=retry_errors,
            on_status=on_status, on_progress=on_progress,
        )
        assert summary is not None  # waited
        return summary

    # ------------------------------------------------------------------ in memory

    def run_iter(
        self,
        conversations: Iterable[m.Conversation],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> Iterator[Result]:
        """Run every conversation in batches; a :class:`Result` per input, in input order.

        The conversations are held in memory and the job's state lives in a temporary
        directory (so it does not survive the process: for resumable work use files and
        :meth:`submit`). A conversation that breaks the rules gets a
        :class:`~convo.ValidationError` without being sent; an errored result the API's
        exception; a canceled or expired one a :class:`BatchResultError`.

        >>> from convo.testing import Emulator
        >>> convs = [m.Conversation(model="claude-sonnet-4-5", max_tokens=8, messages=[m.Message("user", q)])
        ...          for q in ("a", "b")]
        >>> with Emulator(batch_delay=0) as url, BatchExecutor("k", base_url=url, poll_interval=0.01) as ex:
        ...     [r.response.text for r in ex.run_iter(convs)]
        ['echo: a', 'echo: b']
        """
        from convo import rules  # looked up per call, as the HTTP executors do

        convs = list(conversations)
        tally = ProgressCounter(on_progress, len(convs))
        errors: dict[int, Exception] = {}
        lines: list[int] = []  # input index of each line written
        with tempfile.TemporaryDirectory(prefix="convo-batch-") as d:
            src = os.path.join(d, "requests.jsonl")
            with open(src, "wb") as f:
                for i, conv in enumerate(convs):
                    problem = _batch_problem(conv)
                    if problem is not None:
                        errors[i] = ValidationError(rules.Report([problem]))
                        continue
                    if self.validate:
                        report = rules.validate(conv, api_version=self.api_version)
                        if not report.ok:
                            errors[i] = ValidationError(report)
                            continue
                    f.write(dumps(conv) + b"\n")
                    lines.append(i)
            replies: dict[int, m.Response | Exception] = {}
            if lines:
                state = os.path.join(d, "state.json")
                out = os.path.join(d, "out.jsonl")
                rej = os.path.join(d, "rejects.jsonl")
                with _Job(self, state, validate=False) as job:
                    job.open([src])
                    job.submit()
                    job.collect(wait=True, retry_errored=False, retry_expired=False)
                    job.write(out, rej)
                prefix = f"{src}:"
                for raw in iter_lines(out):
                    rec = decode_line(raw, kind="exchange").value
                    assert isinstance(rec, m.Exchange) and isinstance(rec.id, str)
                    i = lines[int(rec.id[len(prefix):]) - 1]
                    if isinstance(rec.response, m.Response):
                        replies[i] = rec.response
                    else:
                        replies[i] = _exception_for(rec.error)
                for raw in iter_lines(rej):
                    r = orjson.loads(raw.data)
                    replies[lines[r["line"] - 1]] = error_for_status(
                        400, {"error": {"type": r.get("error_type", "invalid_request_error"),
                                        "message": r["reason"]}, "request_id": r.get("request_id")},
                    )
        for i, conv in enumerate(convs):
            got = errors.get(i) or replies.get(i)
            if isinstance(got, m.Response):
                result = Result(i, conv, response=got)
            else:
                result = Result(i, conv, error=got or BatchResultError(
                    "no result came back for this request", result_type="missing_result"))
            tally(result)
            yield result

    def run_many(
        self, conversations: Iterable[m.Conversation], *, on_progress: ProgressCallback | None = None
    ) -> list[Result]:
        """:meth:`run_iter` as a list.

        >>> BatchExecutor("k", base_url="http://127.0.0.1:9").run_many([])
        []
        """
        return list(self.run_iter(conversations, on_progress=on_progress))

    def execute(self, conversation: m.Conversation) -> m.Response:
        """The reply to one conversation, sent as a batch of one (it waits until the batch ends).

        >>> from convo.testing import Emulator
        >>> conv = m.Conversation(model="claude-sonnet-4-5", max_tokens=8, messages=[m.Message("user", "Hi")])
        >>> with Emulator(batch_delay=0) as url, BatchExecutor("k", base_url=url, poll_interval=0.01) as ex:
        ...     ex.execute(conv).usage.service_tier
        'batch'
        """
        (result,) = self.run_iter([conversation])
        return result.unwrap()


