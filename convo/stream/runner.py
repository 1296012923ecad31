"""One operation over a list of inputs, start to end: the engine as the commands use it.

Layer: stream. :func:`run_operation` reads *sources* in chunks, runs the operation an
:class:`~convo.stream.operation.OpSpec` names on one process or several, writes the output and
reject bytes to their sinks in input order and returns the counts, the operation's merged
statistics and the file-level problems (a truncated gzip member, say). With several workers,
regular uncompressed inputs and a plain output file (and an operation whose output holds no line
numbers), range mode (:mod:`convo.stream.ranges`) runs instead of the streaming engine: the same
bytes, without the data crossing pipes. Progress is reported through a callback; nothing here
prints.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from convo.stream.counts import RunCounts
from convo.stream.engine import build_operation, run_chunks, run_spans
from convo.stream.operation import Operation, OpSpec
from convo.stream.sinks import Sink
from convo.stream.sources import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    ChunkReader,
    display_name,
    total_size,
)

__all__ = ["SMALL_INPUT_CHUNKS", "ProgressFn", "run_operation"]

ProgressFn = Callable[[int, int], None]
"""Called now and then with the bytes read so far and the lines counted so far."""

SMALL_INPUT_CHUNKS = 8
"""Inputs of fewer bytes than this many chunks (8 MiB by default) are worked in this process
whatever ``workers`` says: starting workers costs about 30 ms (imports, a pool, forks), more
than they would save on a few megabytes (measured on 2 MB: 0.11 s with 1 worker, 0.14 s with 2)."""


def _small(sources: Sequence[str], chunk_bytes: int) -> bool:
    """Whether *sources* are plain files of fewer than :data:`SMALL_INPUT_CHUNKS` chunks in all
    (stdin and gzip files, whose size is not known up front, are never small)."""
    total = total_size(sources)
    return total is not None and total < SMALL_INPUT_CHUNKS * chunk_bytes


def run_operation(
    spec: OpSpec,
    sources: Sequence[str],
    *,
    out: Sink | None,
    rejects: Sink | None,
    workers: int = 1,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    on_progress: ProgressFn | None = None,
    on_total: Callable[[int | None], None] | None = None,
) -> tuple[RunCounts, Any, list[str]]:
    """Run *spec* over *sources*: output to *out*, rejects to *rejects* (either may be None).

    Returns the counts, the operation's merged statistics and file-level problems.
    *on_total* is told the input's size once it is known (None for stdin or gzip).

    >>> import os, tempfile
    >>> src = os.path.join(tempfile.mkdtemp(), "in.jsonl")
    >>> with open(src, "wb") as f:
    ...     _ = f.write(b'{"model": "claude-opus-4-8", "max_tokens": 8, "messages": []}\\nnot json\\n')
    >>> counts, stats, problems = run_operation(OpSpec("stats"), [src], out=None, rejects=None)
    >>> counts.lines_in, counts.out, counts.rejected, stats.lines
    (2, 1, 1, 1)
    """
    op = build_operation(spec)
    if workers > 1 and _small(sources, chunk_bytes):
        workers = 1  # starting workers would cost more than the work they would share
    if workers > 1 and not op.lines_in_output and op.out_format == "jsonl":
        from convo.stream import ranges

        if ranges.eligible(list(sources), out.path if out is not None else ""):
            return _run_ranges(spec, op, sources, out=out, rejects=rejects, workers=workers,
                               chunk_bytes=chunk_bytes, on_progress=on_progress, on_total=on_total)
    # lines read for work in this process come as views of the blocks read (no copy)
    reader = ChunkReader(sources, chunk_bytes=chunk_bytes, max_line_bytes=max_line_bytes,
                         views=workers <= 1 and op.takes_views)
    if on_total is not None:
        on_total(reader.total_bytes)
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
            if on_progress is not None:
                on_progress(reader.bytes_read, counts.lines_in)
    finally:
        reader.cleanup()
    counts.seconds = time.perf_counter() - start
    counts.bytes_in = reader.bytes_read
    counts.files = reader.files_read
    return counts, stats, list(reader.problems)


def _run_ranges(
    spec: OpSpec,
    op: Operation,
    sources: Sequence[str],
    *,
    out: Sink | None,
    rejects: Sink | None,
    workers: int,
    chunk_bytes: int,
    on_progress: ProgressFn | None,
    on_total: Callable[[int | None], None] | None,
) -> tuple[RunCounts, Any, list[str]]:
    """Range mode (:mod:`convo.stream.ranges`): workers read their spans and append the output."""
    from convo.stream import ranges

    out_path = out.shared_path() if out is not None else None
    total = sum(os.path.getsize(s) for s in sources)  # plain files (range mode is only for those)
    if on_total is not None:
        on_total(total)
    counts = RunCounts(files=len(sources))
    stats = op.new_stats()
    problems: list[str] = []
    before: dict[str, int] = {}  # lines of each file in the spans already written
    size = ranges.span_bytes(total, workers, chunk_bytes)
    spans = (sp for src in sources for sp in ranges.plan_spans(src, display_name(src), size))
    start = time.perf_counter()
    for span, res in run_spans(spans, spec, workers=workers, out_path=out_path, chunk_bytes=chunk_bytes):
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
        if on_progress is not None:
            on_progress(counts.bytes_in, counts.lines_in)
    counts.seconds = time.perf_counter() - start
    return counts, stats, problems
