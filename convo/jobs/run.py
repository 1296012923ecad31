"""Resumable file runs: every request line of some files through an executor, one exchange record
per line, in input order (what ``convo run`` does).

Layer: jobs (files and the state of long work), on the executor layer's :func:`~convo.executor.run_iter`.
:func:`run_file` reads request lines, sends them with bounded concurrency, and writes and flushes
one exchange record per line in input order; run again with ``resume=True`` it sends no request
twice for a line that already has its record. With a :class:`~convo.executor.BatchExecutor` the
file runs as a resumable batch job instead (:mod:`convo.jobs.batch`).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import orjson

from convo import model as m
from convo.errors import DecodeError
from convo.executor._base import AsyncExecutor, Executor
from convo.executor._run import ProgressCallback, error_record, run_iter
from convo.jobs._common import RunSummary, line_id_of

__all__ = ["RunSummary", "run_file"]


def _stats_of(executor: object) -> Any:
    seen = 0
    while executor is not None and seen < 4:  # a replay or wrapper executor keeps its inner one
        stats = getattr(executor, "stats", None)
        if stats is not None:
            return stats
        executor = getattr(executor, "inner", None)
        seen += 1
    return None


def _existing(path: str, retry_errors: bool) -> tuple[set[str | int], int]:
    """Ids that already have a record in *path*; cuts off a torn last line (a killed writer).

    With *retry_errors*, error records are removed (atomically) so their lines run again.
    Returns the ids and the number of records kept.
    """
    done: set[str | int] = set()
    if not os.path.exists(path):
        return done, 0
    with open(path, "rb") as f:
        data = f.read()
    end = data.rfind(b"\n") + 1
    kept: list[bytes] = []
    dropped = False
    for line in data[:end].splitlines():
        if not line.strip():
            continue
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            dropped = True  # a line torn by a crash in an earlier run: its input runs again
            continue
        if not isinstance(rec, dict) or "id" not in rec:
            kept.append(line)
            continue
        if "response" not in rec and retry_errors:
            dropped = True
            continue
        done.add(rec["id"])
        kept.append(line)
    if dropped or end != len(data):
        tmp = f"{path}.resume.tmp"
        with open(tmp, "wb") as f:
            f.write(b"".join(line + b"\n" for line in kept))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return done, len(kept)


def run_file(
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    executor: Executor | AsyncExecutor,
    concurrency: int = 8,
    resume: bool = False,
    retry_errors: bool = False,
    rejects: str | os.PathLike[str] | None = None,
    on_reject: Callable[[DecodeError, bytes], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> RunSummary:
    """Execute every request line of *inputs*, writing one exchange record per line to *output*.

    Input lines are requests (id ``"<file>:<line>"``), batch request lines (id: their
    ``custom_id``) or exchange records (their ``id``). Each output line is
    ``{"id", "request", "response"}`` or ``{"id", "request", "error"}``, written and flushed in
    input order as soon as it and every line before it are done. With *resume*, lines whose id
    already has a record in *output* are skipped (never sent again) and new records are
    appended; a line torn by a kill is cut off first. *retry_errors* (with *resume*) runs the
    lines whose record is an error again, replacing those records. Lines that are not requests
    go to *rejects* (the records of :mod:`convo.codec.rejects`: file, line, code, reason,
    ``$.path`` and the original bytes) and are counted apart. With a
    :class:`~convo.executor.BatchExecutor` the file runs as a resumable batch job instead
    (state in ``OUT.batch.json``; see :meth:`~convo.jobs.batch.BatchExecutor.run_file`).

    >>> import os, tempfile
    >>> from convo.executor import MockExecutor
    >>> d = tempfile.mkdtemp(); src = os.path.join(d, "in.jsonl"); out = os.path.join(d, "out.jsonl")
    >>> with open(src, "w") as f:
    ...     _ = f.write('{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}\\n')
    >>> s = run_file(src, out, executor=MockExecutor(lambda c: "Hello"))
    >>> s.succeeded, s.failures, s.output_tokens
    (1, 0, 2)
    """
    from convo.codec.jsonl import _expand, iter_lines
    from convo.codec.lines import decode_line, encode_value
    from convo.codec.rejects import classify, reject
    from convo.jobs.batch import BatchExecutor

    if isinstance(executor, BatchExecutor):  # --via batch: a resumable batch job beside OUT
        return executor.run_file(inputs, output, resume=resume, retry_errors=retry_errors,
                                 rejects=rejects, on_progress=on_progress)
    started = time.monotonic()
    out_path = os.fspath(output)
    sources: Any = inputs if not isinstance(inputs, str | os.PathLike) else [inputs]
    done_ids: set[str | int] = set()
    if resume:
        done_ids, _ = _existing(out_path, retry_errors)
    stats = _stats_of(executor)
    retries_before = stats.retries if stats is not None else 0

    counts: dict[str, Any] = {"skipped": 0, "rejected": 0}
    ids: deque[str | int] = deque()
    reject_file: IO[bytes] | None = None
    if rejects is not None:
        reject_file = open(rejects, "ab" if resume else "wb")  # noqa: SIM115 - closed in finally

    def requests() -> Iterator[m.Conversation]:
        # iter_lines + decode_line rather than read_records: a bad line's bytes go to the rejects
        for src in _expand(sources):
            for raw in iter_lines(src):
                try:
                    rec = decode_line(raw)
                except DecodeError as e:
                    _reject(e, raw.data, "too_long" if raw.error is not None else classify(raw.data))
                    continue
                found = line_id_of(rec)
                if found is None:
                    err = DecodeError(f"a {rec.kind} line is not a request", file=rec.file, line=rec.line)
                    _reject(err, rec.raw, "kind")
                    continue
                line_id, conv = found
                if line_id in done_ids:
                    counts["skipped"] += 1
                    continue
                ids.append(line_id)
                yield conv

    def _reject(error: DecodeError, raw: bytes, code: str) -> None:
        counts["rejected"] += 1
        if reject_file is not None:
            reject_file.write(
                reject(error.file or "", error.line or 0, code, error.expected, error.path, raw) + b"\n"
            )
            reject_file.flush()
        if on_reject is not None:
            on_reject(error, raw)

    succeeded = 0
    failed: dict[str, int] = {}
    tokens_in = tokens_out = 0
    try:
        with open(out_path, "ab" if resume else "wb") as out:
            for result in run_iter(
                requests(), executor, concurrency=concurrency, on_progress=on_progress
            ):
                line_id = ids.popleft()
                if result.error is None:
                    assert result.response is not None
                    exchange = m.Exchange(id=line_id, request=result.conversation, response=result.response)
                    succeeded += 1
                    usage = result.response.usage
                    if isinstance(usage, m.Usage):
                        tokens_in += usage.total_input_tokens
                        if isinstance(usage.output_tokens, int):
                            tokens_out += usage.output_tokens
                else:
                    err = error_record(result.error)
                    exchange = m.Exchange(id=line_id, request=result.conversation, error=err)
                    kind = err["error"]["type"]
                    failed[kind] = failed.get(kind, 0) + 1
                out.write(encode_value(exchange) + b"\n")
                out.flush()  # line by line: a kill loses at most the lines still in flight
            os.fsync(out.fileno())
    finally:
        if reject_file is not None:
            reject_file.close()
    retries = (stats.retries - retries_before) if stats is not None else 0
    return RunSummary(
        total=succeeded + sum(failed.values()) + counts["skipped"],
        succeeded=succeeded,
        failed=failed,
        skipped=counts["skipped"],
        rejected=counts["rejected"],
        retries=retries,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        elapsed=time.monotonic() - started,
    )
