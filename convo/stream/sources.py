"""Inputs of the command: paths, directories and stdin, read in chunks of whole lines.

A :class:`ChunkReader` turns a list of sources into :class:`Chunk` items (a run of complete lines
of one file, with the number of its first line) that can be handed to any worker as plain bytes;
the reader splits each block it reads into lines once (the only copy of the data it makes), so
line numbers cost nothing and no worker splits again. Memory stays
flat: a chunk is about ``chunk_bytes``, and a line longer than ``max_line_bytes`` is never held
whole: it is streamed, base64-encoded, into a spool file and handed on as an :class:`Oversize` item
whose reject record is ready to copy. Line numbers count every line, blank ones included.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import orjson

from convo.codec.jsonl import CHUNK_BYTES, DEFAULT_MAX_LINE_BYTES, sniff_gzip
from convo.stream.rejects import B64Stream, too_long_head, too_long_tail

if TYPE_CHECKING:  # for mypy's attrs plugin: attrs classes (convo._frozen makes them, without attrs)
    from attrs import frozen
else:
    from convo._frozen import frozen


__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_MAX_LINE_BYTES",
    "STDIN",
    "STDIN_NAME",
    "Chunk",
    "ChunkReader",
    "DamagedParquet",
    "Oversize",
    "InputError",
    "display_name",
    "expand",
    "is_parquet",
    "open_binary",
    "read_parquet",
    "total_size",
]

STDIN = "-"
STDIN_NAME = "<stdin>"
PARQUET_MAGIC = b"PAR1"
DEFAULT_CHUNK_BYTES = CHUNK_BYTES  # the codec's reading defaults (line limit: facts §6.3)
JSONL_PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.parquet")


class Readable(Protocol):
    """What the reader needs of a stream: ``read(n)`` (a file, a gzip stream, a byte range)."""

    def read(self, n: int = -1, /) -> bytes: ...


class InputError(ValueError):
    """Inputs that cannot be read as asked (a missing path, stdin named twice, a format that
    cannot be read): nothing was read. The command reports it as bad usage (exit status 2)."""


@frozen
class Chunk:
    """Complete lines of one file (without their newlines), the first of them line ``first_line``
    (1-based); ``size`` counts their bytes with the newlines.

    >>> Chunk.of("a.jsonl", 3, b'{}\\n\\n{"a": 1}\\n')
    Chunk(file='a.jsonl', first_line=3, lines=[b'{}', b'', b'{"a": 1}'], size=13)
    """

    file: str
    first_line: int
    lines: list[bytes] | list[bytes | memoryview]  # views: from a reader asked for them
    size: int

    @classmethod
    def of(cls, file: str, first_line: int, data: bytes) -> Chunk:
        """The chunk of *data*: complete lines (a final newline ends the last one)."""
        lines = data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()  # the empty piece after the final newline is not a line
        return cls(file, first_line, lines, len(data))


def _views(block: bytes) -> list[bytes | memoryview]:
    """``block.split(b"\\n")`` as views of *block*: no copy of the data.

    >>> [bytes(v) for v in _views(b"a\\n\\nbc\\nd")]
    [b'a', b'', b'bc', b'd']
    """
    view = memoryview(block)
    find = block.find
    out: list[bytes | memoryview] = []
    pos = 0
    while (nl := find(b"\n", pos)) >= 0:
        out.append(view[pos:nl])
        pos = nl + 1
    out.append(view[pos:])
    return out


def total_size(sources: Sequence[str]) -> int | None:
    """The bytes of *sources* on disk; None when one is stdin, a ``.gz`` or Parquet file (its size
    says nothing of the lines it holds) or cannot be read.

    >>> total_size(["-"]) is None
    True
    """
    total = 0
    for s in sources:
        if s == STDIN or s.endswith(".gz") or is_parquet(s):
            return None
        try:
            total += os.path.getsize(s)
        except OSError:
            return None
    return total


@frozen
class Oversize:
    """A line over the size limit, already written as a reject record into the ``spool`` file."""

    file: str
    line: int
    size: int
    spool: str


def is_parquet(source: str) -> bool:
    """Whether the file at *source* is a Parquet file (stdin never is): it starts with Parquet's
    magic bytes, and its name ends in ``.parquet`` (a damaged one is then a file-level problem)
    or it ends with the magic too, around a footer that fits in the file. So a ``.jsonl`` file
    whose first line happens to start with ``PAR1`` is JSONL: its lines are read (that one
    rejected), not refused as a damaged Parquet file.

    >>> is_parquet("-"), is_parquet(__file__)
    (False, False)
    """
    if source == STDIN:
        return False
    try:
        with open(source, "rb") as f:
            if f.read(4) != PARQUET_MAGIC:
                return False
            if source.endswith(".parquet"):
                return True
            size = f.seek(0, os.SEEK_END)
            if size < 12:  # magic, a footer's length, magic
                return False
            f.seek(size - 8)
            tail = f.read(8)
    except OSError:
        return False
    return tail[4:] == PARQUET_MAGIC and int.from_bytes(tail[:4], "little") <= size - 12


def display_name(source: str) -> str:
    """How a source is named in diagnostics and rejects.

    >>> display_name("-"), display_name("data/a.jsonl")
    ('<stdin>', 'data/a.jsonl')
    """
    return STDIN_NAME if source == STDIN else source


def expand(inputs: Sequence[str], *, patterns: Sequence[str] = JSONL_PATTERNS) -> list[str]:
    """The files to read, in order: a directory gives its files matching *patterns*, sorted
    (JSONL, gzipped JSONL and Parquet by default).

    ``-`` (stdin) is kept as is, at most once. A missing path raises :class:`InputError`.

    >>> expand(["-"])
    ['-']
    """
    out: list[str] = []
    for item in inputs:
        if item == STDIN:
            if STDIN in out:
                raise InputError("stdin ('-') can be read only once")
            out.append(item)
            continue
        p = Path(item)
        if p.is_dir():
            found = sorted({str(f) for pat in patterns for f in p.glob(pat) if f.is_file()})
            out.extend(found)
        elif p.exists():
            out.append(item)
        else:
            raise InputError(f"{item}: no such file or directory")
    return out


def open_binary(source: str) -> tuple[BinaryIO, BinaryIO]:
    """``(stream, underlying file)`` for *source* (``-`` is stdin), gunzipped when it starts
    with gzip's magic bytes (:func:`~convo.codec.jsonl.sniff_gzip`): the bytes decide, not the
    name, so a ``.gz`` piped in works too. Close the stream, then the underlying file, when done
    (closing the stream leaves the underlying file open).

    >>> import gzip, os, tempfile, pathlib
    >>> path = os.path.join(tempfile.mkdtemp(), "no-suffix")
    >>> _ = pathlib.Path(path).write_bytes(gzip.compress(b"{}\\n"))
    >>> stream, raw = open_binary(path)
    >>> stream.read(), stream is not raw
    (b'{}\\n', True)
    >>> raw.close()
    """
    raw: BinaryIO
    if source == STDIN:
        raw = sys.stdin.buffer
    else:
        raw = open(source, "rb")  # noqa: SIM115 - closed by the caller (ChunkReader)
    is_gzip, f = sniff_gzip(raw)
    if is_gzip:
        return gzip.GzipFile(fileobj=f, mode="rb"), raw  # type: ignore[return-value]
    return f, raw  # type: ignore[return-value]


def _jsonable(v: Any) -> Any:
    """What orjson cannot write itself, in a foreign Parquet row: bytes as base64, decimals as
    numbers, times as ISO text."""
    if isinstance(v, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(v)).decode("ascii")
    import decimal  # (only a Parquet row's value gets here: not at every command's start)

    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, datetime.timedelta):
        return v.total_seconds()
    raise TypeError(f"a value of type {type(v).__name__} has no JSON form")


def _row_lines(batch: Any) -> list[bytes]:
    out = []
    for row in batch.to_pylist():
        try:
            out.append(orjson.dumps(row, default=_jsonable))
        except TypeError as e:
            # kept as a line that fails to decode, so the row is rejected with the reason
            out.append(b"\x00 " + str(e).encode("utf-8", "backslashreplace"))
    return out


class DamagedParquet(InputError):
    """A Parquet file that cannot be read (on), and why: the rows before the damage were read."""


def read_parquet(source: str, name: str, *, chunk_bytes: int = 1 << 20) -> Iterator[Chunk]:
    """The chunks of the Parquet file at *source* (named *name* in diagnostics), in row order.

    Each chunk holds about *chunk_bytes* of lines; a row group is read at a time. A file that
    cannot be read raises :class:`DamagedParquet` where the damage is found (a footer that does
    not parse: before any chunk; a damaged page: after the chunks before it).
    """
    import pyarrow.parquet as pq

    from convo.arrow import json_lines

    try:
        pf = pq.ParquetFile(source)  # the file is opened here, read by row group below
        ours = "json" in pf.schema_arrow.names
        meta = pf.metadata
        leaf = next((i for i in range(meta.num_columns) if meta.schema.column(i).path == "json"), None)
    except Exception as e:  # pyarrow's own errors: a damaged footer, not Parquet after all
        raise DamagedParquet(f"{name}: cannot be read as Parquet ({e})") from None
    with contextlib.closing(pf):
        line = 1
        for rg in range(meta.num_row_groups):
            try:
                group = meta.row_group(rg)
                if not group.num_rows:
                    continue
                if ours and leaf is not None:
                    size = group.column(leaf).total_uncompressed_size
                else:
                    size = group.total_byte_size
                rows = max(1, int(chunk_bytes * group.num_rows / max(1, size)))
                batches = pf.iter_batches(batch_size=rows, row_groups=[rg], columns=["json"] if ours else None)
            except Exception as e:
                raise DamagedParquet(f"{name}: row group {rg} cannot be read ({e})") from None
            while True:
                try:  # (pyarrow's errors only: nothing is caught where the chunk is handed on)
                    batch = next(batches, None)
                    if batch is None:
                        break
                    lines = json_lines(batch) if ours else _row_lines(batch)
                except Exception as e:
                    raise DamagedParquet(f"{name}: row group {rg} is damaged after row {line - 1} ({e})") from None
                yield Chunk(name, line, lines, sum(map(len, lines)) + len(lines))
                line += len(lines)


class ChunkReader:
    """Sources read as :class:`Chunk` and :class:`Oversize` items, in input order.

    >>> import io
    >>> reader = ChunkReader([], chunk_bytes=4, max_line_bytes=8)
    >>> [(type(i).__name__, getattr(i, "first_line", None)) for i in
    ...  reader.read_stream("f", io.BytesIO(b"{}\\n" + b"x" * 20 + b"\\n{}\\n"))]
    [('Chunk', 1), ('Oversize', None), ('Chunk', 3)]
    >>> reader.cleanup()

    ``bytes_read`` counts the (decompressed) bytes read so far; ``total_bytes`` is the size of the
    plain files on disk (``None`` when stdin or a gzip file makes the total unknown).
    """

    def __init__(
        self,
        sources: Sequence[str],
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        spool_dir: str | None = None,
        views: bool = False,
    ) -> None:
        if chunk_bytes < 1 or max_line_bytes < 1:
            raise ValueError("chunk_bytes and max_line_bytes must be positive")
        self.views = views
        """Lines within one block come as memoryviews of it, not copies (for work done in this
        process: a view cannot be pickled to a worker); a line that spans blocks is bytes."""
        self.sources = list(sources)
        self.chunk_bytes = chunk_bytes
        self.max_line_bytes = max_line_bytes
        self.spool_dir = spool_dir
        self.bytes_read = 0
        self.files_read = 0
        self._damaged = False
        self._spools: list[str] = []
        self.problems: list[str] = []
        """File-level problems (a corrupt or truncated gzip stream): the lines before it were read."""
        self.total_bytes: int | None = total_size(self.sources)


    def __iter__(self) -> Iterator[Chunk | Oversize]:
        for source in self.sources:
            if is_parquet(source):  # convo's lines in a Parquet file: a row group at a time
                try:
                    for chunk in read_parquet(source, display_name(source), chunk_bytes=self.chunk_bytes):
                        self.bytes_read += chunk.size
                        yield chunk
                except DamagedParquet as e:  # like a damaged gzip stream: noted, the rows before kept
                    self.problems.append(str(e))
                self.files_read += 1
                continue
            f, raw = open_binary(source)
            self._damaged = False
            try:
                yield from self._read(display_name(source), f)
            finally:
                if f is not raw:
                    f.close()
                if source != STDIN:
                    raw.close()
            self.files_read += 1

    def cleanup(self) -> None:
        """Delete the spool files of over-long lines (those not yet consumed, after an error)."""
        for spool in self._spools:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool)
        self._spools.clear()

    def read_stream(self, name: str, f: Readable, *, first_line: int = 1) -> Iterator[Chunk | Oversize]:
        """The items of one open stream whose first line is number *first_line* (a byte range
        of a larger file, for instance)."""
        self._damaged = False
        yield from self._read(name, f, first_line=first_line)

    def _read(self, name: str, f: Readable, *, first_line: int = 1) -> Iterator[Chunk | Oversize]:
        # A byte order mark stays in its line: the decoder skips it, a reject keeps it.
        size = self.chunk_bytes
        limit = self.max_line_bytes
        line = first_line
        parts: list[bytes] = []  # the start of a line whose newline has not come yet
        held = 0
        pending = b""  # what followed an over-long line in the block that ended it
        first = first_line == 1  # the start of a file (not a byte range of one)
        while True:
            if pending:
                block, pending = pending, b""
            else:
                block = self._block(name, f, size)
                if not block:
                    break
                if first:
                    first = False
                    while len(block) < len(PARQUET_MAGIC) and PARQUET_MAGIC.startswith(block):  # tiny blocks
                        more = self._block(name, f, size)
                        if not more:
                            break
                        block += more
                    if (block.startswith(PARQUET_MAGIC) and len(block) > 4 and block[4] < 0x20
                            and block[4] not in b"\t\n\r"):  # piped in (binary after the magic)
                        raise InputError(f"{name}: Parquet is read from a file, not a stream: give its path")
            lines = _views(block) if self.views else block.split(b"\n")
            if len(lines) == 1:  # no newline: all of it belongs to a line still going on
                parts.append(block)
                held += len(block)
                if held > limit:
                    over, pending = self._oversize(name, line, f, parts, held)
                    yield over
                    line += 1
                    parts, held = [], 0
                continue
            rest = bytes(lines.pop())  # after the last newline: the start of the next line
            if parts:  # the carried start of a line, then its end in this block
                parts.append(lines[0])  # type: ignore[arg-type]
                lines[0] = b"".join(parts)
            yield Chunk(name, line, lines, held + len(block) - len(rest))
            line += len(lines)
            parts, held = ([rest], len(rest)) if rest else ([], 0)
            if held > limit:
                over, pending = self._oversize(name, line, f, parts, held)
                yield over
                line += 1
                parts, held = [], 0
        if parts:  # a last line without a newline (or cut short by a damaged stream)
            last = b"".join(parts)
            yield Chunk(name, line, [last], len(last))

    def _block(self, name: str, f: Readable, size: int) -> bytes:
        """The next block of *f*; a damaged stream ends the file (and is noted in ``problems``).

        A stream is read piece by piece (``read1``): for gzip, what was decompressed before the
        damage is kept (``read(size)`` would raise and lose the whole block); for a pipe, a signal
        is not left waiting while the block fills.
        """
        if self._damaged:
            return b""
        parts: list[bytes] = []
        got = 0
        try:
            read1 = getattr(f, "read1", None)
            if read1 is not None:
                # one system call at a time, with Python between them: a signal that comes while
                # a pipe is being read is handled at once (Ctrl-C, SIGTERM), where read(size)
                # would go on in C until the block is full, and block on a quiet pipe with the
                # signal's handler still waiting to run
                while got < size:
                    piece = read1(size - got)
                    if not piece:
                        break
                    parts.append(piece)
                    got += len(piece)
            else:
                parts.append(f.read(size))
        except (EOFError, OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            # What came before the damage is handed on; a partial last line goes with it (and
            # is rejected as broken JSON), so nothing that was read is lost.
            what = "ends early (truncated)" if isinstance(e, EOFError) else f"is corrupt ({e})"
            self.problems.append(f"{name}: the stream {what}")
            self._damaged = True
        block = parts[0] if len(parts) == 1 else b"".join(parts)
        self.bytes_read += len(block)
        return block

    def _oversize(
        self, name: str, line: int, f: Readable, parts: list[bytes], held: int
    ) -> tuple[Oversize, bytes]:
        """Stream the rest of an over-long line into a spool file as its reject record."""
        import tempfile  # (an over-long line is rare: not at every command's start)

        fd, spool = tempfile.mkstemp(prefix="convo-oversize-", suffix=".jsonl", dir=self.spool_dir)
        self._spools.append(spool)
        rest = b""
        size = held
        with os.fdopen(fd, "wb") as out:
            out.write(too_long_head(name, line, self.max_line_bytes))
            enc = B64Stream(out)
            for p in parts:
                enc.write(p)
            while True:
                block = self._block(name, f, self.chunk_bytes)
                if not block:
                    break
                nl = block.find(b"\n")
                if nl < 0:
                    enc.write(block)
                    size += len(block)
                    continue
                enc.write(block[:nl])
                size += nl
                rest = block[nl + 1 :]
                break
            enc.close()
            out.write(too_long_tail(size))
        return Oversize(name, line, size, spool), rest
