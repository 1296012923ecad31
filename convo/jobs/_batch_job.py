"""The engine of a Message Batches job: its state file, its lock, and every step it records.

Layer: jobs (private: :class:`convo.jobs.batch.BatchExecutor` is the public face, and the module
docs of :mod:`convo.jobs.batch` say what the state file holds and how a line is never submitted
twice). This module is long because :class:`_Job` is one state machine whose steps (open, submit,
reconcile, poll, fetch, retry, write) share the state dict and are best read top to bottom.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import string
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any, cast

import httpx
import orjson
from attrs import field, frozen

from convo import model as m
from convo._json import UNSET, FrozenDict, Unset, thaw
from convo.codec import dumps
from convo.codec.jsonl import AtomicWriter, _expand, _fsync_dir, iter_lines
from convo.codec.lines import RawLine, decode_line, encode_value
from convo.codec.rejects import classify, reject
from convo.errors import (
    APIError,
    ConvoError,
    DecodeError,
    NotFoundError,
    error_for_status,
)
from convo.executor._batch import (
    BODY_CLOSE,
    BODY_OPEN,
    BODY_SEP,
    MAX_BATCH_BYTES,
    MAX_BATCH_REQUESTS,
    BatchClient,
    BatchResultError,
    MessageBatch,
    UncertainCreate,
    batch_item,
    check_batch_id,
    custom_id_for,
    parse_custom_id,
    request_counts_of,
)
from convo.executor._http import DEFAULT_API_VERSION
from convo.executor._retry import RetryPolicy, SharedBackoff
from convo.executor._run import ProgressCallback, ProgressCounter, Result
from convo.jobs._common import RunSummary, line_id_of
from convo.jobs._state import JobLock, Journal, identify, identity_problem, load_state, save_state

__all__ = ["BatchInfo", "BatchRunner", "BatchStatus", "read_state"]

log = logging.getLogger("convo.executor")

_STATE_FORMAT = "convo-batch-state"
_STATE_VERSION = 1
_RUN_ALPHABET = string.ascii_lowercase + string.digits
_RUN_LENGTH = 8
_ID_PREFIX = b'{"custom_id":"'
_RETRYABLE_NEVER = "invalid_request_error"  # facts §6.4: fix the body; any other type may be retried
_NO_REPLY = ("canceled", "expired", "missing_result")

# The HTTP status the API gives each error type (facts §5.1), to rebuild an exception for an
# errored batch result, which carries the type but no status.
_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}



@frozen(kw_only=True)
class BatchInfo:
    """One batch of a job, as the state file knows it.

    ``status`` is the job's view: ``planned`` (not sent), ``submitting`` (sent or about to be;
    unknown whether the server has it), ``uncertain`` (candidates found, to be proven by their
    results), ``submitted``, ``fetched`` (results saved) or ``unsent`` (canceled before sending).

    >>> BatchInfo(n=0, attempt=0, requests=10, status="uncertain", candidates=["msgbatch_1"]).candidates
    ('msgbatch_1',)
    """

    n: int
    attempt: int
    requests: int
    status: str
    batch_id: str | None = None
    processing_status: str | None = None
    request_counts: FrozenDict = field(factory=FrozenDict, converter=request_counts_of)
    candidates: tuple[str, ...] = field(default=(), converter=tuple)


def _info(b: Mapping[str, Any]) -> BatchInfo:
    return BatchInfo(
        n=b["n"],
        attempt=b["attempt"],
        requests=b["count"],
        status=b["status"],
        batch_id=b.get("batch_id"),
        processing_status=b.get("processing_status"),
        request_counts=b.get("request_counts"),
        candidates=b.get("candidates", ()),
    )


@frozen(kw_only=True)
class BatchStatus:
    """Where a batch job stands: its lines, its batches and their request counts.

    >>> s = BatchStatus(state="s.json", run="abc", lines=3, rejected=1, submitted=True,
    ...                 batches=(BatchInfo(n=0, attempt=0, requests=2, status="fetched",
    ...                          request_counts={"succeeded": 2}),))
    >>> s.done, s.counts["succeeded"], s.pending
    (True, 2, 0)
    """

    state: str
    run: str
    lines: int
    rejected: int
    submitted: bool
    batches: tuple[BatchInfo, ...] = ()
    canceled: bool = False
    api_version: str = DEFAULT_API_VERSION
    output: str | None = None

    @property
    def pending(self) -> int:
        """Batches whose results are not saved yet."""
        return sum(1 for b in self.batches if b.status not in ("fetched", "unsent"))

    @property
    def done(self) -> bool:
        """Whether every line was submitted (or the job canceled) and every result saved."""
        return (self.submitted or self.canceled) and self.pending == 0

    @property
    def counts(self) -> dict[str, int]:
        """The request counts of every batch added up (the latest the API reported)."""
        out = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        for b in self.batches:
            for k, v in b.request_counts.items():
                out[k] = out.get(k, 0) + v
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``convo batch status --json``)."""
        return {
            "state": self.state,
            "run": self.run,
            "api_version": self.api_version,
            "lines": self.lines,
            "rejected": self.rejected,
            "submitted": self.submitted,
            "canceled": self.canceled,
            "done": self.done,
            "counts": self.counts,
            "output": self.output,
            "batches": [
                {
                    "n": b.n,
                    "attempt": b.attempt,
                    "requests": b.requests,
                    "status": b.status,
                    "batch_id": b.batch_id,
                    "processing_status": b.processing_status,
                    "request_counts": dict(b.request_counts),
                    "candidates": list(b.candidates),
                }
                for b in self.batches
            ],
        }



class _Line:
    """One input line ready for a batch: where it is, its exchange id, the request."""

    __slots__ = ("conv", "line_id", "params")

    def __init__(self, line_id: str | int, conv: m.Conversation, params: bytes) -> None:
        self.line_id = line_id
        self.conv = conv
        self.params = params


class _Chunk:
    """A batch being filled: its create-body items, size, and the line ranges it covers."""

    __slots__ = ("broken", "items", "lines", "ranges", "size")

    def __init__(self) -> None:
        self.items: list[bytes] = []
        self.size = len(BODY_OPEN) + len(BODY_CLOSE)
        self.ranges: list[list[int]] = []
        self.broken = False  # a line that is not in this batch came since the last one added
        self.lines = 0  # input lines read up to the last one added (for the state)

    def fits(self, item: bytes, max_requests: int, max_bytes: int) -> bool:
        return len(self.items) < max_requests and self.size + len(item) + 1 <= max_bytes

    def add(self, file: int, line: int, item: bytes) -> None:
        self.size += len(item) + (1 if self.items else 0)
        self.items.append(item)
        r = self.ranges
        if r and not self.broken and r[-1][0] == file:
            r[-1][2] = line
        else:
            r.append([file, line, line])
        self.broken = False

    def body(self) -> bytes:
        return BODY_OPEN + BODY_SEP.join(self.items) + BODY_CLOSE

    @property
    def last(self) -> tuple[int, int]:
        return self.ranges[-1][0], self.ranges[-1][2]



def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _exception_for(error: Any) -> Exception:
    """The exception an exchange record's ``error`` stands for (for :meth:`run_iter`)."""
    inner = error.get("error") if isinstance(error, Mapping) else None
    kind = inner.get("type") if isinstance(inner, Mapping) else None
    message = inner.get("message") if isinstance(inner, Mapping) else None
    if kind in _NO_REPLY:
        return BatchResultError(str(message or kind), result_type=str(kind))
    return error_for_status(_STATUS_OF_TYPE.get(str(kind), 500), thaw(error))


def _no_reply(kind: str, message: str, batch_id: str | None) -> dict[str, Any]:
    err: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if batch_id:
        err["batch_id"] = batch_id
    return err


_NO_REPLY_MESSAGES = {
    "canceled": "the batch was canceled before this request was processed",
    "expired": "the batch expired (24 hours) before this request was processed",
    "missing_result": "the batch's results had no line for this request",
    "unsent": "not submitted: the job was canceled first",
}




class BatchRunner(BatchClient):
    """The batch client with the settings of a job (limits, polling, reconciliation, clocks):
    what the engine needs of its executor. :class:`convo.jobs.batch.BatchExecutor` is the public
    class; its constructor is this one."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        betas: Iterable[str] = (),
        client: httpx.Client | None = None,
        timeout: float | httpx.Timeout | Unset | None = UNSET,
        retry: RetryPolicy | None = None,
        validate: bool = True,
        headers: Mapping[str, str] | None = None,
        backoff: SharedBackoff | None = None,
        max_requests: int = MAX_BATCH_REQUESTS,
        max_bytes: int = MAX_BATCH_BYTES,
        poll_interval: float = 10.0,
        max_poll_interval: float = 60.0,
        settle: float = 60.0,
        clock_skew: float = 300.0,
        max_retry_rounds: int = 3,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_requests < 1:
            raise ValueError(f"max_requests must be at least 1, got {max_requests}")
        if max_bytes < 64:
            raise ValueError(f"max_bytes must be at least 64, got {max_bytes}")
        if poll_interval <= 0 or max_poll_interval < poll_interval:
            raise ValueError("need 0 < poll_interval <= max_poll_interval")
        super().__init__(
            api_key,
            base_url=base_url,
            api_version=api_version,
            betas=betas,
            client=client,
            timeout=timeout,
            retry=retry,
            validate=validate,
            headers=headers,
            backoff=backoff,
        )
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.settle = settle
        self.clock_skew = clock_skew
        self.max_retry_rounds = max_retry_rounds
        self.sleep = sleep if sleep is not None else self.retry.sleep
        self.clock = clock

    def _repr_parts(self) -> list[str]:
        parts = super()._repr_parts()
        if self.max_requests != MAX_BATCH_REQUESTS:
            parts.append(f"max_requests={self.max_requests}")
        if self.max_bytes != MAX_BATCH_BYTES:
            parts.append(f"max_bytes={self.max_bytes}")
        return parts


    def download_results(self, batch_id: str, dest: str, accept_first: Callable[[bytes], bool] | None = None) -> bool:
        """Save the results of *batch_id* to *dest* (whole, or not at all).

        *accept_first* sees the first line before the rest is read; False stops the download
        (nothing is saved) and returns False. A stream cut off is fetched again from the start.
        """
        tmp = dest + ".part"
        attempts = 0
        while True:
            response = self._request(
                "GET", f"/v1/messages/batches/{batch_id}/results", accept="application/binary", stream=True
            )
            try:
                with open(tmp, "wb") as f:
                    head = b"" if accept_first is not None else None
                    last = b"\n"
                    for chunk in response.iter_bytes():
                        if not chunk:
                            continue
                        if head is not None:
                            head += chunk
                            if b"\n" not in head:
                                continue
                            if not accept_first(head.split(b"\n", 1)[0].strip()):  # type: ignore[misc]
                                f.close()
                                os.unlink(tmp)
                                return False
                            chunk, head = head, None
                        f.write(chunk)
                        last = chunk[-1:]
                    if head is not None:  # one line without a newline, or nothing at all
                        if not head.strip() or not accept_first(head.strip()):  # type: ignore[misc]
                            f.close()
                            os.unlink(tmp)
                            return False
                        f.write(head)
                        last = head[-1:]
                    if last != b"\n":
                        f.write(b"\n")
                    f.flush()
                    os.fsync(f.fileno())
            except httpx.TransportError as e:
                err = self._transport_error(e)
                delay = self._retry_error(attempts, err)
                if delay is None:
                    raise err from e
                self.retry.sleep(delay)
                attempts += 1
                continue
            finally:
                response.close()
            os.replace(tmp, dest)
            _fsync_dir(os.path.dirname(dest))
            return True

    # ------------------------------------------------------------------ files, resumably



def _batch_problem(conv: m.Conversation) -> Any:
    """The first batch-only rule *conv* breaks (facts §6.4), as a Violation, or None."""
    from convo.rules import Violation

    if conv.stream is True:
        return Violation("batch.stream", "error", "$.stream",
                         "stream: true is not allowed in a Message Batch", "Remove `stream`.")
    if type(conv.max_tokens) is int and conv.max_tokens == 0:
        return Violation("batch.max-tokens-zero", "error", "$.max_tokens",
                         "max_tokens: 0 (cache pre-warming) is not allowed in a Message Batch",
                         "Set max_tokens to at least 1.")
    if "speed" in conv.extra:
        return Violation("batch.speed", "error", "$.speed",
                         "speed (fast mode) is not allowed in a Message Batch", "Remove `speed`.")
    return None


# --------------------------------------------------------------------------- the job


def read_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The batch job state saved at *path*, checked (ConvoError if it is not one).

    Besides its format and version, every batch id it holds is checked to be one
    (:func:`~convo.executor.BatchClient` ids: ``msgbatch_`` and safe characters), and every file
    name of saved results to be ``<batch id>.jsonl``: a state file is data, and data never
    chooses where a file is written or which URL is called.
    """
    where = os.fspath(path)
    data = load_state(where, _STATE_FORMAT, _STATE_VERSION)
    batches = data.get("batches")
    if not isinstance(batches, list) or not all(isinstance(b, dict) for b in batches):
        raise ConvoError(f"{where}: the state file's batches are not a list of batches")
    for b in batches:
        if b.get("batch_id") is not None:
            check_batch_id(b["batch_id"], f"batch {b.get('n')} of {where}")
        for c in b.get("candidates") or ():
            check_batch_id(c, f"the candidates of batch {b.get('n')} in {where}")
        name = b.get("results")
        if name is not None and (not isinstance(name, str) or not name.endswith(".jsonl")
                                 or not _is_results_name(name)):
            raise ConvoError(f"{where}: batch {b.get('n')} names its results {name!r}, which is not "
                             "<batch id>.jsonl")
    for c in data.get("excluded") or ():
        check_batch_id(c, f"the excluded batches of {where}")
    return data


def _same_path(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _is_results_name(name: str) -> bool:
    from convo.executor._batch import is_batch_id

    return is_batch_id(name.removesuffix(".jsonl"))


class _Job:
    """One state file and the work it records (see the module docs)."""

    def __init__(
        self,
        ex: BatchRunner,
        state: str | os.PathLike[str],
        *,
        on_status: Callable[[BatchStatus], None] | None = None,
        validate: bool | None = None,
    ) -> None:
        self.ex = ex
        self.path = os.path.abspath(os.fspath(state))
        self.dir = self.path + ".d"
        self.on_status = on_status
        self.validate = ex.validate if validate is None else validate
        self.state: dict[str, Any] = {}
        self._lock = JobLock(os.path.join(self.dir, "lock"))

    # ------------------------------------------------------------------ lock, load, save

    def __enter__(self) -> _Job:
        if not self.try_lock():
            raise ConvoError(f"another process is working on the batch job {self.path}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    def try_lock(self) -> bool:
        """Take the job's lock; False when another process holds it. (A killed process's lock
        goes with it: the kernel releases flock locks when a process dies.)"""
        return self._lock.try_lock()

    def unlock(self) -> None:
        self._lock.unlock()

    def discard(self) -> None:
        """Remove the state file and its directory (a run that starts over)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        shutil.rmtree(self.dir, ignore_errors=True)

    def save(self) -> None:
        save_state(self.path, self.state)

    def open(self, inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None) -> None:
        """Load the state, or start one for *inputs*; resuming checks they are the same inputs."""
        given = None
        if inputs is not None:
            named = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
            # names only (no file objects), so every source _expand gives back is a path
            given = [os.fspath(cast("str | os.PathLike[str]", p)) for p in _expand(named)]
            if named and not given:
                shown = ", ".join(os.fspath(n) for n in named)
                self._leave()
                raise ConvoError(f"no *.jsonl or *.jsonl.gz files in {shown}")
        if os.path.exists(self.path):
            self._load()
            if given is not None and given:
                self._check_same(given)
            self._check_config()
            return
        if not given:
            self._leave()
            raise ConvoError(f"no batch job in {self.path}: give the input files to start one")
        self._start(given)

    def _leave(self) -> None:
        """Remove the lock taken to look at a job that does not exist: leave nothing behind."""
        if os.path.exists(self.path):
            return
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(self.dir, "lock"))
            os.rmdir(self.dir)

    def _load(self) -> None:
        self.state = read_state(self.path)

    def _check_same(self, given: list[str]) -> None:
        """The given inputs are the job's: the same files (by identity, however the path is
        spelled), in the same order."""
        files = self.state["files"]
        recorded = [f["name"] for f in files]
        same = len(given) == len(files) and all(
            (g == "-") == (f["name"] == "<stdin>")
            and (g == "-" or os.path.abspath(g) == f["path"] or _same_path(g, f["path"]))
            for g, f in zip(given, files, strict=False)
        )
        if not same:
            raise ConvoError(
                f"the batch job in {self.path} was started for other inputs "
                f"({', '.join(recorded)}); use another state file for a new job"
            )

    def _check_config(self) -> None:
        st = self.state
        if st["base_url"] != self.ex.base_url:
            raise ConvoError(
                f"the batch job in {self.path} was submitted to {st['base_url']}, "
                f"not {self.ex.base_url} (batches live in one workspace)"
            )
        for f in st["files"]:
            if not os.path.exists(f["path"]):
                raise ConvoError(f"input {f['name']} of the batch job is gone: no file {f['path']}")
            problem = identity_problem(f, f["path"])
            if problem is not None:
                raise ConvoError(f"input {f['name']} changed since it was submitted ({problem})")

    def _start(self, given: list[str]) -> None:
        os.makedirs(self.dir, exist_ok=True)
        files = []
        seen: set[str] = set()
        for name in given:
            if name == "-":
                if "<stdin>" in seen:
                    raise ConvoError("stdin ('-') can be read only once")
                path = os.path.join(self.dir, "stdin.jsonl")
                # stdin cannot be read twice, and the results are joined to it later: keep a copy
                with open(path, "wb") as f:
                    shutil.copyfileobj(sys.stdin.buffer, f)
                    f.flush()
                    os.fsync(f.fileno())
                name = "<stdin>"
            else:
                path = os.path.abspath(name)
                if not os.path.isfile(path):
                    raise ConvoError(f"no such input file: {name}")
            if path in seen:
                raise ConvoError(f"input {name} is given twice")
            seen.add(path)
            seen.add(name)
            files.append({"name": name, "path": path, **identify(path)})
        self.state = {
            "format": _STATE_FORMAT,
            "version": _STATE_VERSION,
            "run": "".join(secrets.choice(_RUN_ALPHABET) for _ in range(_RUN_LENGTH)),
            "custom_id": "{run}-{file}-{line}, with -r{attempt} for a resubmission",
            "created_at": datetime.fromtimestamp(self.ex.clock(), UTC).isoformat(),
            "api_version": self.ex.api_version,
            "base_url": self.ex.base_url,
            "limits": {"max_requests": self.ex.max_requests, "max_bytes": self.ex.max_bytes},
            "validate": self.validate,
            "files": files,
            "submit": {"done": False, "sealed": [0, 0], "lines": 0, "rejected": 0,
                       "rejects_bytes": 0},
            "batches": [],
            "retry_round": 0,
            "canceled_at": None,
            "output": None,
        }
        with open(os.path.join(self.dir, "rejects.jsonl"), "wb"):
            pass
        self.save()

    # ------------------------------------------------------------------ reading the input

    def _walk(self) -> Iterator[tuple[int, RawLine]]:
        for fi, f in enumerate(self.state["files"]):
            for raw in iter_lines(f["path"]):
                yield fi, raw

    def _prepare(self, fi: int, raw: RawLine, *, check: bool = True) -> _Line | bytes:
        """The line ready for a batch, or its reject record.

        Without *check*, the rules are not run: a line already checked at submission is proven
        unchanged by its batch's digest, and rules updated since must not reject it now.
        """
        name = self.state["files"][fi]["name"]
        if raw.error is not None:
            err = raw.error.located(file=name)
            code = "too_long" if "longer than the limit" in err.expected else "shape"
            return reject(name, raw.line, code, err.expected, err.path, raw.data)
        try:
            rec = decode_line(RawLine(name, raw.line, raw.data))
        except DecodeError as e:
            return reject(name, raw.line, classify(raw.data), e.expected, e.path, raw.data)
        found = line_id_of(rec)
        if found is None:
            return reject(name, raw.line, "kind", f"a {rec.kind} line is not a request",
                                  "$", raw.data)
        line_id, conv = found
        problem = _batch_problem(conv) if check else None
        if problem is not None:
            return reject(name, raw.line, "rule", f"{problem.rule}: {problem.message}",
                                  problem.path, raw.data)
        if check and self.state["validate"]:
            from convo import rules  # looked up per call, as the HTTP executors do

            errors = rules.validate(conv, api_version=self.state["api_version"]).errors
            if errors:
                reason = "; ".join(f"{v.rule} {v.path}: {v.message}" for v in errors)
                return reject(name, raw.line, "rule", reason, errors[0].path, raw.data)
        # a request line is sent as it was written (lossless, and no re-encoding per line)
        params = raw.data if rec.kind == "request" else dumps(conv)
        return _Line(line_id, conv, params)

    def _changed(self, what: str) -> ConvoError:
        return ConvoError(f"the input of the batch job {self.path} changed since it was "
                          f"submitted ({what}); start a new job with another state file")

    # ------------------------------------------------------------------ submitting

    def submit(self) -> None:
        st = self.state
        if st["canceled_at"] is not None:
            raise ConvoError(f"the batch job {self.path} was canceled; start a new job with "
                             "another state file")
        self._settle(wait=True)
        self._send_planned()
        if not st["submit"]["done"]:
            self._submit_rest()
        self._tell()

    def _submit_rest(self) -> None:
        st = self.state
        sub = st["submit"]
        sealed = tuple(sub["sealed"])
        run = st["run"]
        max_requests, max_bytes = st["limits"]["max_requests"], st["limits"]["max_bytes"]
        with Journal(os.path.join(self.dir, "rejects.jsonl")) as spool:
            spool.truncate(sub["rejects_bytes"])  # cut off what a kill left after the last recorded step
        pending: list[tuple[tuple[int, int], bytes]] = []  # rejects not yet in a sealed region
        chunk = _Chunk()
        lines = sub["lines"]
        for fi, raw in self._walk():
            pos = (fi, raw.line)
            if pos <= sealed:
                continue
            lines += 1
            p = self._prepare(fi, raw)
            if isinstance(p, _Line):
                item = batch_item(custom_id_for(run, fi, raw.line), p.params)
                if len(BODY_OPEN) + len(item) + len(BODY_CLOSE) > max_bytes:
                    p = reject(
                        st["files"][fi]["name"], raw.line, "rule",
                        f"batch.too-large: the request alone ({len(item):,} bytes) is over the "
                        f"batch size limit of {max_bytes:,} bytes", "$", raw.data)
            if not isinstance(p, _Line):
                pending.append((pos, p))
                chunk.broken = True
                continue
            if chunk.items and not chunk.fits(item, max_requests, max_bytes):
                pending = self._seal(chunk, pending)
                chunk = _Chunk()
            chunk.add(fi, raw.line, item)
            chunk.lines = lines
        if chunk.items:
            pending = self._seal(chunk, pending)
        self._write_rejects([r for _, r in pending])
        sub["lines"] = lines
        sub["done"] = True
        self.save()

    def _write_rejects(self, records: list[bytes]) -> None:
        sub = self.state["submit"]
        if records:
            with Journal(os.path.join(self.dir, "rejects.jsonl"), every=len(records) + 1) as spool:
                spool.truncate(sub["rejects_bytes"])
                for r in records:
                    spool.append(r)
                spool.sync()
                sub["rejects_bytes"] = spool.size
            sub["rejected"] += len(records)

    def _seal(self, chunk: _Chunk, pending: list[tuple[tuple[int, int], bytes]]
              ) -> list[tuple[tuple[int, int], bytes]]:
        """Record a full batch (with the rejects before its last line) and send it."""
        last = chunk.last
        self._write_rejects([r for pos, r in pending if pos < last])
        sub = self.state["submit"]
        sub["sealed"] = list(last)
        sub["lines"] = chunk.lines
        body = chunk.body()
        b = self._record(chunk, 0, _digest(body))
        self._send(b, body)
        return [(pos, r) for pos, r in pending if pos > last]

    def _record(self, chunk: _Chunk, attempt: int, digest: str) -> dict[str, Any]:
        batches = self.state["batches"]
        b: dict[str, Any] = {
            "n": len(batches),
            "attempt": attempt,
            "count": len(chunk.items),
            "bytes": chunk.size,
            "digest": digest,
            "ranges": chunk.ranges,
            "status": "planned",
            "tries": 0,
        }
        batches.append(b)
        return b

    def _send(self, b: dict[str, Any], body: bytes) -> None:
        """Create the batch for record *b*, never twice (see the module docs)."""
        while True:
            if self.state["canceled_at"] is not None:
                b["status"] = "unsent"
                self.save()
                return
            b["status"] = "submitting"
            b["intent_at"] = self.ex.clock()
            b["tries"] = b.get("tries", 0) + 1
            self.save()  # the intent, before the call
            try:
                info = self.ex._create(body)
            except UncertainCreate as u:
                log.warning("batch %d: the create call broke off (%s); reconciling with the "
                            "list of batches before anything is sent again", b["n"], u.error)
                self._settle(wait=True, only=[b])
                if b["status"] == "planned":
                    if b["tries"] > self.ex.retry.max_retries:
                        raise u.error from None
                    continue
                return  # uncertain: its candidates are proven when they end
            except APIError:
                b["status"] = "planned"  # the API answered: no batch was made
                self.save()
                raise
            b["batch_id"] = info.id
            b["status"] = "submitted"
            self._note(b, info)
            self.save()
            log.info("batch %d: %s, %d requests", b["n"], info.id, b["count"])
            self._tell()
            return

    def _send_planned(self, bodies: dict[int, bytes] | None = None) -> None:
        planned = [b for b in self.state["batches"] if b["status"] == "planned"]
        if not planned:
            return
        if self.state["canceled_at"] is not None:
            for b in planned:
                b["status"] = "unsent"
            self.save()
            return
        bodies = dict(bodies or {})
        missing = [b for b in planned if b["n"] not in bodies]
        if missing:
            bodies.update(self._bodies(missing))
        for b in planned:
            self._send(b, bodies[b["n"]])

    def _bodies(self, records: list[dict[str, Any]]) -> dict[int, bytes]:
        """The create bodies of recorded batches, rebuilt from the input and checked."""
        where: dict[tuple[int, int], dict[str, Any]] = {}
        for b in records:
            for fi, first, last in b["ranges"]:
                for line in range(first, last + 1):
                    where[(fi, line)] = b
        chunks = {b["n"]: _Chunk() for b in records}
        run = self.state["run"]
        for fi, raw in self._walk():
            rec = where.get((fi, raw.line))
            if rec is None:
                continue
            p = self._prepare_known(fi, raw)
            item = batch_item(custom_id_for(run, fi, raw.line, rec["attempt"]), p.params)
            chunks[rec["n"]].add(fi, raw.line, item)
        out: dict[int, bytes] = {}
        for b in records:
            body = chunks[b["n"]].body()
            if len(chunks[b["n"]].items) != b["count"] or _digest(body) != b["digest"]:
                raise self._changed(f"the lines of batch {b['n']} differ")
            out[b["n"]] = body
        return out

    # ------------------------------------------------------------------ reconciling

    def _settle(self, *, wait: bool, only: list[dict[str, Any]] | None = None) -> None:
        """Decide every batch left ``submitting``: ours on the server (candidates), or not sent.

        With *wait*, sleeps until each is decided (at most ``settle`` seconds after its intent).
        """
        while True:
            pending = [b for b in (only or self.state["batches"]) if b["status"] == "submitting"]
            if not pending:
                return
            self._reconcile(pending)
            still = [b for b in pending if b["status"] == "submitting"]
            if not still or not wait:
                return
            until = min(b["intent_at"] for b in still) + self.ex.settle
            self.ex.sleep(max(until - self.ex.clock(), 0.05))

    def _reconcile(self, pending: list[dict[str, Any]]) -> None:
        skew = self.ex.clock_skew
        known = {b["batch_id"] for b in self.state["batches"] if b.get("batch_id")}
        known.update(self.state.get("excluded", ()))
        since = min(b["intent_at"] for b in pending) - skew
        listed = [x for x in self.ex.list_batches(since=since) if x.id not in known]
        now = self.ex.clock()
        for b in pending:
            found = [
                x.id for x in listed
                if x.total == b["count"]
                and (x.created is None or x.created >= b["intent_at"] - skew)
            ]
            if found:
                b["status"] = "uncertain"
                b["candidates"] = found
                log.info("batch %d: %d candidate(s) on the server: %s", b["n"], len(found), found)
            elif now - b["intent_at"] >= self.ex.settle:
                # not in the list long after the intent: the create never reached the server
                b["status"] = "unsent" if self.state["canceled_at"] is not None else "planned"
                log.info("batch %d: not on the server; it will be sent", b["n"])
        self.save()

    def _owner(self, first_line: bytes) -> tuple[bool, dict[str, Any] | None]:
        """Whether a results line is one of this job's, and the batch record it belongs to.

        The record is one whose batch id is not known yet (in doubt, or even one decided not
        sent, should the server have made it after all); None when the line is this job's but
        its record already has a batch (which would be a duplicate, never adopted twice).
        """
        cid = _custom_id_of(first_line)
        parsed = parse_custom_id(cid) if cid is not None else None
        if parsed is None or parsed[0] != self.state["run"]:
            return False, None
        _, fi, line, attempt = parsed
        for b in self.state["batches"]:
            if b["attempt"] == attempt and any(
                f == fi and first <= line <= last for f, first, last in b["ranges"]
            ):
                unknown = not b.get("batch_id") and b["status"] in ("uncertain", "submitting", "planned")
                return True, (b if unknown else None)
        return True, None

    def _prove(self, b: dict[str, Any]) -> None:
        """Look at the candidates of a batch in doubt; adopt the one whose results are its own."""
        for cid in list(b.get("candidates", ())):
            if b["status"] != "uncertain":
                break
            try:
                info = self.ex.retrieve_batch(cid)
            except NotFoundError:
                self._drop(cid)
                continue
            if not info.ended:
                continue  # only its results can tell; wait for them
            seen: list[tuple[bool, dict[str, Any] | None]] = []

            def accept(line: bytes, seen: list[tuple[bool, dict[str, Any] | None]] = seen) -> bool:
                seen.append(self._owner(line))
                return seen[-1][1] is not None

            dest = self._results_path(cid)
            if os.path.exists(dest):  # saved whole before a kill: judged again, not fetched again
                with open(dest, "rb") as f:
                    ours = accept(f.readline().strip())
                if not ours:
                    os.unlink(dest)
            else:
                ours = self.ex.download_results(cid, dest, accept)
            if ours:
                o = seen[0][1]
                assert o is not None
                self._drop(cid)
                o["batch_id"] = cid
                o["candidates"] = []
                o["results"] = os.path.basename(dest)
                o["status"] = "fetched"
                self._note(o, info)
                log.info("batch %d: %s proven ours by its results", o["n"], cid)
            else:
                if seen and seen[0][0]:
                    log.warning("batch %s holds lines of this job that already have a batch", cid)
                self._drop(cid)
        if b["status"] == "uncertain" and not b.get("candidates"):
            # none was ours: decide again (a batch that appeared since is a new candidate)
            b["status"] = "submitting"
        self.save()

    def _drop(self, cid: str) -> None:
        """No longer a candidate of any record, and never again one (adopted, or not ours)."""
        for b in self.state["batches"]:
            if cid in b.get("candidates", ()):
                b["candidates"] = [c for c in b["candidates"] if c != cid]
        excluded = self.state.setdefault("excluded", [])
        if cid not in excluded:
            excluded.append(cid)

    # ------------------------------------------------------------------ collecting

    def collect(self, *, wait: bool, retry_errored: bool, retry_expired: bool) -> bool:
        """Poll, save results, resubmit what is asked; True once every result is saved."""
        st = self.state
        if not st["submit"]["done"] and st["canceled_at"] is None:
            raise ConvoError(f"the batch job {self.path} is not fully submitted: run submit again "
                             "with the same state file to finish it")
        interval = self.ex.poll_interval
        while True:
            self._settle(wait=False)
            self._send_planned()
            self._poll()
            self._tell()
            if all(b["status"] in ("fetched", "unsent") for b in st["batches"]):
                if (retry_errored or retry_expired) and st["canceled_at"] is None \
                        and st["retry_round"] < self.ex.max_retry_rounds \
                        and self._plan_retries(retry_errored, retry_expired):
                    interval = self.ex.poll_interval
                    continue
                return True
            if not wait:
                return False
            self.ex.sleep(interval)
            interval = min(interval * 1.5, self.ex.max_poll_interval)

    def _note(self, b: dict[str, Any], info: MessageBatch) -> bool:
        """Record what the API says of a batch; True when it changed."""
        new = {"processing_status": info.processing_status,
               "request_counts": dict(info.request_counts), "ended_at": info.ended_at}
        changed = any(b.get(k) != v for k, v in new.items())
        b.update(new)
        return changed

    def _poll(self) -> None:
        canceled = self.state["canceled_at"] is not None
        for b in self.state["batches"]:
            if b["status"] == "submitted":
                info = self.ex.retrieve_batch(b["batch_id"])
                changed = self._note(b, info)
                if info.ended:
                    self._fetch(b)
                    continue
                if canceled and info.processing_status == "in_progress" and not b.get("cancel_sent"):
                    self._note(b, self.ex.cancel_batch(b["batch_id"]))
                    b["cancel_sent"] = True
                    changed = True
                if changed:
                    self.save()
            elif b["status"] == "uncertain":
                self._prove(b)

    def _results_path(self, batch_id: Any) -> str:
        """Where the results of *batch_id* are saved (a checked id: never a path of its own)."""
        return os.path.join(self.dir, f"{check_batch_id(batch_id, self.path)}.jsonl")

    def _fetch(self, b: dict[str, Any]) -> None:
        dest = self._results_path(b["batch_id"])
        name = os.path.basename(dest)
        if not os.path.exists(dest):  # saved whole before a kill: not fetched again
            self.ex.download_results(b["batch_id"], dest)
        b["results"] = name
        b["status"] = "fetched"
        self.save()
        log.info("batch %d: results saved (%s)", b["n"], name)

    def _plan_retries(self, retry_errored: bool, retry_expired: bool) -> bool:
        """Put the lines whose last result is a retryable failure into new batches and send them."""
        st = self.state
        r = st["retry_round"]
        want: set[tuple[int, int]] = set()
        for b in st["batches"]:
            if b["attempt"] != r or b["status"] != "fetched":
                continue
            with open(os.path.join(self.dir, b["results"]), "rb") as f:
                for data in f:
                    if not data.strip():
                        continue
                    rec = orjson.loads(data)
                    result = rec.get("result") or {}
                    kind = result.get("type")
                    retry = False
                    if kind == "errored" and retry_errored:
                        inner = (result.get("error") or {}).get("error") or {}
                        retry = inner.get("type") != _RETRYABLE_NEVER
                    elif kind == "expired" and retry_expired:
                        retry = True
                    parsed = parse_custom_id(str(rec.get("custom_id")))
                    if retry and parsed is not None and parsed[0] == st["run"]:
                        want.add((parsed[1], parsed[2]))
        if not want:
            return False
        run = st["run"]
        max_requests, max_bytes = st["limits"]["max_requests"], st["limits"]["max_bytes"]
        chunks: list[_Chunk] = []
        chunk = _Chunk()
        for fi, raw in self._walk():
            if (fi, raw.line) not in want:
                chunk.broken = True
                continue
            p = self._prepare_known(fi, raw)
            item = batch_item(custom_id_for(run, fi, raw.line, r + 1), p.params)
            if chunk.items and not chunk.fits(item, max_requests, max_bytes):
                chunks.append(chunk)
                chunk = _Chunk()
            chunk.add(fi, raw.line, item)
        if chunk.items:
            chunks.append(chunk)
        bodies: dict[int, bytes] = {}
        for c in chunks:  # every new batch recorded in one step, then sent
            body = c.body()
            bodies[self._record(c, r + 1, _digest(body))["n"]] = body
        st["retry_round"] = r + 1
        self.save()
        log.info("retry round %d: %d lines in %d batches", r + 1, len(want), len(chunks))
        self._send_planned(bodies)
        return True

    # ------------------------------------------------------------------ status, cancel

    def refresh(self, *, save: bool) -> None:
        changed = False
        for b in self.state["batches"]:
            if b["status"] == "submitted":
                changed |= self._note(b, self.ex.retrieve_batch(b["batch_id"]))
        if changed and save:
            self.save()

    def cancel(self) -> None:
        st = self.state
        if st["canceled_at"] is None:
            st["canceled_at"] = datetime.fromtimestamp(self.ex.clock(), UTC).isoformat()
        for b in st["batches"]:
            if b["status"] == "planned":
                b["status"] = "unsent"
        self.save()
        for b in st["batches"]:
            if b["status"] == "submitted" and b.get("processing_status") != "ended":
                self._note(b, self.ex.cancel_batch(b["batch_id"]))
                b["cancel_sent"] = True
                self.save()

    def status(self) -> BatchStatus:
        st = self.state
        out = st.get("output") or {}
        return BatchStatus(
            state=self.path,
            run=st["run"],
            api_version=st["api_version"],
            lines=st["submit"]["lines"],
            rejected=st["submit"]["rejected"],
            submitted=st["submit"]["done"],
            batches=tuple(_info(b) for b in st["batches"]),
            canceled=st["canceled_at"] is not None,
            output=out.get("path"),
        )

    def _tell(self) -> None:
        if self.on_status is not None:
            self.on_status(self.status())

    # ------------------------------------------------------------------ writing the output

    def write(self, output: str, rejects: str, *, on_progress: ProgressCallback | None = None) -> RunSummary:
        """Join the saved results to the input: one record per line, in input order."""
        started = time.monotonic()
        st = self.state
        batches = st["batches"]
        run = st["run"]
        base: list[tuple[int, int, int, dict[str, Any]]] = sorted(
            ((fi, first, last, b) for b in batches if b["attempt"] == 0
             for fi, first, last in b["ranges"]),
            key=lambda t: (t[0], t[1]),
        )
        latest: dict[tuple[int, int], dict[str, Any]] = {}
        for b in sorted((b for b in batches if b["attempt"] > 0), key=lambda b: b["n"]):
            for fi, first, last in b["ranges"]:
                for line in range(first, last + 1):
                    latest[(fi, line)] = b
        # each first batch's create body is hashed again from the input: the same digest proves
        # the lines joined to its results are the lines that were sent
        hashers = {b["n"]: hashlib.sha256(BODY_OPEN) for b in batches if b["attempt"] == 0}
        hashed = dict.fromkeys(hashers, 0)
        names = {f["name"]: i for i, f in enumerate(st["files"])}
        sub = st["submit"]
        sealed = (sys.maxsize, sys.maxsize) if sub["done"] else tuple(sub["sealed"])
        spools: dict[int, _Spool] = {}
        tally = ProgressCounter(on_progress, None)
        succeeded = rejected = 0
        failed: dict[str, int] = {}
        tokens_in = tokens_out = 0
        k = 0  # index into base
        current_base: int | None = None
        submit_rejects = _rejects_reader(os.path.join(self.dir, "rejects.jsonl"), sub["rejects_bytes"], names)
        next_reject = next(submit_rejects, None)
        try:
            with AtomicWriter(output) as out, AtomicWriter(rejects) as rej:
                for fi, raw in self._walk():
                    pos = (fi, raw.line)
                    while k < len(base) and (base[k][0], base[k][2]) < pos:
                        k += 1
                    b0 = base[k][3] if k < len(base) and (base[k][0], base[k][1]) <= pos else None
                    if b0 is None:
                        if pos <= sealed:  # rejected before submission: its record was saved
                            if next_reject is None or next_reject[0] != pos:
                                raise self._changed(f"{st['files'][fi]['name']}:{raw.line} was not "
                                                    "a request when it was submitted")
                            rej.write(next_reject[1])
                            rejected += 1
                            next_reject = next(submit_rejects, None)
                            continue
                        # canceled before this part of the input was read
                        p = self._prepare(fi, raw)
                        if not isinstance(p, _Line):
                            rej.write(p)
                            rejected += 1
                            continue
                        ex_rec = m.Exchange(id=p.line_id, request=p.conv,
                                            error=_no_reply("canceled", _NO_REPLY_MESSAGES["unsent"], None))
                        out.write(encode_value(ex_rec))
                        failed["canceled"] = failed.get("canceled", 0) + 1
                        tally(Result(tally.done, p.conv, error=_exception_for(ex_rec.error)))
                        continue
                    if current_base != b0["n"]:  # the results of the batch before are done with
                        if current_base is not None and current_base in spools:
                            spools.pop(current_base).close()
                        current_base = b0["n"]
                    p = self._prepare_known(fi, raw)
                    n0 = b0["n"]
                    item = batch_item(custom_id_for(run, fi, raw.line), p.params)
                    hashers[n0].update(BODY_SEP + item if hashed[n0] else item)
                    hashed[n0] += 1
                    b = latest.get(pos, b0)
                    _result, reply, error = self._outcome(b, fi, raw.line, spools)
                    if reply is not None:
                        out.write(encode_value(m.Exchange(id=p.line_id, request=p.conv, response=reply)))
                        succeeded += 1
                        usage = reply.usage
                        if isinstance(usage, m.Usage):
                            tokens_in += usage.total_input_tokens
                            if isinstance(usage.output_tokens, int):
                                tokens_out += usage.output_tokens
                        tally(Result(tally.done, p.conv, response=reply))
                        continue
                    assert error is not None
                    inner = error.get("error") or {}
                    kind = str(inner.get("type"))
                    # an invalid_request_error is an API error like any other: the line was sent,
                    # so it gets its error record (failed), as with --via http; rejected means
                    # never sent (convo could not read it as a request, or it broke the rules)
                    out.write(encode_value(m.Exchange(id=p.line_id, request=p.conv, error=error)))
                    failed[kind] = failed.get(kind, 0) + 1
                    tally(Result(tally.done, p.conv, error=_exception_for(error)))
                for b in batches:
                    if b["attempt"] != 0:
                        continue
                    h = hashers[b["n"]]
                    h.update(BODY_CLOSE)
                    if hashed[b["n"]] != b["count"] or h.hexdigest() != b["digest"]:
                        raise self._changed(f"the lines of batch {b['n']} differ")
        finally:
            for s in spools.values():
                s.close()
        total = succeeded + sum(failed.values())
        st["output"] = {"path": os.path.abspath(output), "rejects": os.path.abspath(rejects),
                        "records": total, "rejected": rejected}
        self.save()
        return RunSummary(
            total=total,
            succeeded=succeeded,
            failed=failed,
            rejected=rejected,
            retries=sum(b["count"] for b in batches if b["attempt"] > 0),
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            elapsed=time.monotonic() - started,
        )

    def _prepare_known(self, fi: int, raw: RawLine) -> _Line:
        p = self._prepare(fi, raw, check=False)
        if not isinstance(p, _Line):
            raise self._changed(f"{self.state['files'][fi]['name']}:{raw.line} is no longer a valid request")
        return p

    def _outcome(self, b: dict[str, Any], fi: int, line: int, spools: dict[int, _Spool]
                 ) -> tuple[str, m.Response | None, Any]:
        """(result type, reply or None, error record or None) of a line in batch record *b*."""
        if b["status"] == "unsent":
            return "canceled", None, _no_reply("canceled", _NO_REPLY_MESSAGES["unsent"], None)
        spool = spools.get(b["n"])
        if spool is None:
            spool = spools[b["n"]] = _Spool(os.path.join(self.dir, b["results"]))
        data = spool.get(custom_id_for(self.state["run"], fi, line, b["attempt"]))
        if data is None:
            return "missing_result", None, _no_reply(
                "missing_result", _NO_REPLY_MESSAGES["missing_result"], b.get("batch_id"))
        try:
            value = decode_line(RawLine(spool.path, 0, data), kind="batch_result").value
        except DecodeError as e:
            return "errored", None, {"type": "error", "error": {"type": "decode_error", "message": str(e)}}
        assert isinstance(value, m.BatchResult)
        kind = value.result_type
        if kind == "succeeded" and isinstance(value.message, m.Response):
            return kind, value.message, None
        if kind == "errored" and isinstance(value.error, Mapping):
            return kind, None, value.error
        if kind in ("canceled", "expired"):
            return kind, None, _no_reply(kind, _NO_REPLY_MESSAGES[kind], b.get("batch_id"))
        return kind, None, _no_reply(kind, f"a result of type {kind!r} carries no reply",
                                     b.get("batch_id"))


class _Spool:
    """The saved results of one batch, read by ``custom_id`` (an index of line offsets)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._f: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._offsets: dict[str, int] = {}
        offset = 0
        for data in self._f:
            cid = _custom_id_of(data)
            if cid is not None:
                self._offsets[cid] = offset
            offset += len(data)

    def get(self, custom_id: str) -> bytes | None:
        offset = self._offsets.get(custom_id)
        if offset is None:
            return None
        self._f.seek(offset)
        return self._f.readline().rstrip(b"\r\n")

    def close(self) -> None:
        self._f.close()


def _custom_id_of(data: bytes) -> str | None:
    """The ``custom_id`` of a results line, without parsing it whole when it comes first."""
    if data.startswith(_ID_PREFIX):
        end = data.find(b'"', len(_ID_PREFIX))  # a custom_id has no quotes or escapes
        if end > 0:
            return data[len(_ID_PREFIX):end].decode("ascii", "replace")
    if not data.strip():
        return None
    try:
        cid = orjson.loads(data).get("custom_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return cid if isinstance(cid, str) else None


def _rejects_reader(path: str, size: int, names: Mapping[str, int]
                    ) -> Iterator[tuple[tuple[int, int], bytes]]:
    """The rejects saved at submission: ((file index, line), record), in input order."""
    if not os.path.exists(path):
        return
    with open(path, "rb") as f:
        data = f.read(size)
    for line in data.splitlines():
        if line.strip():
            rec = orjson.loads(line)
            yield (names[rec["file"]], rec["line"]), line


