"""Range mode: many workers over regular files, with no bulk data passing through pipes.

The streaming engine hands every chunk to a worker through a pipe and gets its output back the
same way: several copies of every byte in the main process, which on a two-core machine costs
nearly as much as a third worker. When every input is a regular, uncompressed file and the
output is a plain file, the main process instead cuts the files into :class:`Span` byte ranges
on line boundaries (reading a few KiB around each cut, never the data); each worker reads its own
range, runs the operation, waits for its turn (spans are numbered; a shared counter says which
may write) and appends its output to the output's temporary file itself. The main process never
touches the data: it plans, collects the small results in order, and commits the file.

Workers number the lines of a span from 1; the main process knows, in order, how many lines came
before and shifts the line numbers of the reject records (:func:`shift_line`), which are the only
place line numbers appear in these operations' results. The output bytes, the reject bytes and the
counts are the same as the streaming engine's, whatever the number of workers (tests check it).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from attrs import define, field, frozen

from convo.codec.jsonl import sniff_gzip
from convo.stream.operation import Operation
from convo.stream.sources import STDIN, ChunkReader, is_parquet

__all__ = ["ByteRange", "Span", "SpanResult", "eligible", "plan_spans", "shift_line", "span_bytes", "work_span"]

_WINDOWS = (4 << 10, 64 << 10)  # bytes read before a cut to find the last newline: a little first
MAX_SPAN = 8 << 20
_LINE = re.compile(rb',"line":(\d+),')


@frozen
class Span:
    """Bytes ``[start, end)`` of the file at ``path`` (shown as ``name``): whole lines."""

    path: str
    name: str
    start: int
    end: int


@define
class SpanResult:
    """What a worker made of a span: counts, its output file, rejects with span line numbers."""

    n_in: int = 0
    n_out: int = 0
    n_rejected: int = 0
    n_blank: int = 0
    n_lines: int = 0  # every line of the span, blank ones included
    n_bytes: int = 0
    out_bytes: int = 0  # what the worker appended to the output
    rejects: list[bytes | str] = field(factory=list)  # reject blocks, or spool file paths
    stats: Any = None
    problems: list[str] = field(factory=list)


def eligible(sources: list[str], output: str) -> bool:
    """Whether range mode can run: regular, uncompressed JSONL inputs and a plain output file.

    >>> eligible(["-"], "out.jsonl"), eligible([__file__], "out.jsonl.gz")
    (False, False)
    """
    if output == STDIN or output.endswith(".gz"):
        return False
    for s in sources:
        if s == STDIN or not os.path.isfile(s) or is_parquet(s):
            return False
        with open(s, "rb") as f:
            if sniff_gzip(f)[0]:
                return False
    return True


def span_bytes(total: int, workers: int, chunk_bytes: int) -> int:
    """How long spans are: about 16 per worker, between *chunk_bytes* and :data:`MAX_SPAN`.

    Each span costs the main process a plan, a submit and a result to collect (about 0.6 ms),
    so fewer spans leave more of the CPUs to the workers; enough of them keep the workers' last
    spans short, so neither waits long for the other at the end.

    >>> span_bytes(100_000_000, 2, 1 << 20), span_bytes(10**10, 2, 1 << 20), span_bytes(10**6, 4, 4096)
    (3125000, 8388608, 15625)
    """
    return max(chunk_bytes, min(MAX_SPAN, total // (workers * 16)))


def plan_spans(path: str, name: str, chunk_bytes: int) -> Iterator[Span]:
    """Spans of about *chunk_bytes* covering the file, each cut just after a newline.

    >>> import os, tempfile, pathlib
    >>> p = os.path.join(tempfile.mkdtemp(), "a.jsonl")
    >>> _ = pathlib.Path(p).write_bytes(b"{}\\n" * 10)
    >>> [(s.start, s.end) for s in plan_spans(p, "a.jsonl", 10)]
    [(0, 9), (9, 18), (18, 27), (27, 30)]
    """
    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        start = 0
        while start < size:
            target = start + chunk_bytes
            if target >= size:
                end = size
            else:
                end = _cut(fd, start, target, size)
            yield Span(path, name, start, end)
            start = end
    finally:
        os.close(fd)


def _cut(fd: int, start: int, target: int, size: int) -> int:
    """Just after the last newline before *target* (and after *start*), else after the first
    newline at or after it (a long line makes a long span), else the end of the file."""
    for window in _WINDOWS:
        lo = max(start, target - window)
        block = os.pread(fd, target - lo, lo)
        nl = block.rfind(b"\n")
        if nl >= 0:
            return lo + nl + 1
    pos = target
    while pos < size:
        block = os.pread(fd, min(1 << 20, size - pos), pos)
        nl = block.find(b"\n")
        if nl >= 0:
            return pos + nl + 1
        pos += len(block)
    return size


def shift_line(record: bytes, offset: int) -> bytes:
    """A reject record (or the head of a spooled one) with its line number moved by *offset*.

    The record starts ``{"file":<JSON string>,"line":N,`` and a JSON string cannot hold an
    unescaped ``"``, so the first ``,"line":`` is the key.

    >>> shift_line(b'{"file":"a,\\\\"line\\\\":1,","line":3,"code":"json"}', 100)
    b'{"file":"a,\\\\"line\\\\":1,","line":103,"code":"json"}'
    """
    if not offset:
        return record
    m = _LINE.search(record)
    if m is None:
        return record
    return record[: m.start(1)] + b"%d" % (int(m.group(1)) + offset) + record[m.end(1) :]


class ByteRange(io.RawIOBase):
    """A reader of at most *length* bytes of *f*, from where it is (None: to its end).

    What a worker reads its span through (here, and a block in :mod:`convo.dask`).

    >>> import io
    >>> f = io.BytesIO(b"0123456789")
    >>> _ = f.seek(2)
    >>> r = ByteRange(f, 5)
    >>> r.read(3), r.read(), r.read()
    (b'234', b'56', b'')
    """

    def __init__(self, f: BinaryIO, length: int | None) -> None:
        self._f = f
        self._left = length

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._left is None:
            return self._f.read(n)
        if self._left <= 0:
            return b""
        if n < 0 or n > self._left:
            n = self._left
        data = self._f.read(n)
        self._left -= len(data)
        return data


def work_span(op: Operation, span: Span, chunk_bytes: int) -> tuple[SpanResult, list[bytes]]:
    """Run *op* over one span: its result (rejects with span line numbers) and its output blocks."""
    res = SpanResult(stats=op.new_stats())
    reader = ChunkReader([], chunk_bytes=chunk_bytes, max_line_bytes=op.max_line_bytes, views=op.takes_views)
    outs: list[bytes] = []
    try:
        with open(span.path, "rb") as f:
            f.seek(span.start)
            stream = ByteRange(f, span.end - span.start)
            items = reader.read_stream(span.name, stream, first_line=1)
            for item in items:
                r = op.run(item)
                res.n_in += r.n_in
                res.n_out += r.n_out
                res.n_rejected += r.n_rejected
                res.n_blank += r.n_blank
                res.stats = op.merge_stats(res.stats, r.stats)
                if r.out:
                    outs.append(r.out)
                if r.rejects:
                    res.rejects.append(r.rejects)
                if r.spool:
                    res.rejects.append(r.spool)
        res.n_lines = res.n_in + res.n_blank
        res.n_bytes = reader.bytes_read
        res.problems = list(reader.problems)
    except BaseException:
        reader.cleanup()
        raise
    return res, outs
