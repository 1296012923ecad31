"""Parquet in and out of the line engine: convo's Arrow table (:mod:`convo.arrow`) on disk.

Layer: stream (the optional extra ``convo[arrow]``: pyarrow, imported only when a Parquet file
is read or written). A Parquet file is a container of convo's lines, so the engine needs no
other change to read or write one:

- :func:`~convo.stream.sources.read_parquet` (in the sources, which read every input): the
  :class:`~convo.stream.sources.Chunk` items of a Parquet file, one row group at a time (flat
  memory); a row's *line* is its ``json`` column, and its line number is its
  row number (1-based), so rejects and diagnostics name ``file.parquet:ROW``. A Parquet file
  written by something else (a Hugging Face dataset, say) has no ``json`` column: each row is
  then the JSON object of its columns, which ``convo convert --from hf`` and the like read.
- :class:`ParquetSink`: the output, written atomically like :class:`~convo.stream.sinks.Sink`
  (a temporary file beside the target, renamed into place on commit). It takes Arrow IPC
  batches built by the operation in its worker (``out_format="parquet"``: the engine's workers
  build the columns in parallel) or plain JSONL lines, which it converts itself; it writes a row
  group per :data:`ROW_GROUP_BYTES` of Arrow data.

>>> import os, tempfile, pyarrow.parquet as pq
>>> path = os.path.join(tempfile.mkdtemp(), "out.parquet")
>>> with ParquetSink(path) as sink:
...     sink.write(b'{"model": "m", "messages": [{"role": "user", "content": "Hi"}]}\\n')
>>> is_parquet(path), pq.read_table(path).column("model").to_pylist()
(True, ['m'])
>>> from convo.stream.sources import read_parquet
>>> [(c.first_line, c.lines) for c in read_parquet(path, "out.parquet")]
[(1, [b'{"model": "m", "messages": [{"role": "user", "content": "Hi"}]}'])]
"""

from __future__ import annotations

import contextlib
import os
from typing import IO, Any

from convo.codec.jsonl import commit_temp, temp_beside
from convo.stream.sinks import Sink
from convo.stream.sources import PARQUET_MAGIC, STDIN, InputError, is_parquet

__all__ = ["PARQUET_MAGIC", "ROW_GROUP_BYTES", "ParquetSink", "RowWriter", "is_parquet", "open_sink"]

ROW_GROUP_BYTES = 64 << 20
"""Arrow bytes buffered before a row group is written: about 64 MiB of lines, the size DuckDB,
polars and Spark read best, and what the sink holds at most."""
_DICTIONARY = ["kind", "model", "stop_reason", "messages.list.element.role",
               "messages.list.element.tool_calls.list.element.type", "messages.list.element.name"]
"""The columns of few distinct values; the others (``json`` above all) are unique per row, where a
dictionary only costs time (and hides their size from the reader's chunk planning)."""
COMPRESSION = "zstd"  # measured against snappy in benchmarks/parquet.py: 30-40% smaller, as fast


class RowWriter:
    """Rows into an open binary file as Parquet in convo's schema: a row group per
    *row_group_bytes* of Arrow data (the most it holds); :meth:`close` writes the footer and
    leaves *f* open.

    ``write`` takes an Arrow IPC stream of batches (built by an operation in its worker) or
    JSONL lines, which it turns into rows itself.
    """

    def __init__(self, f: Any, *, row_group_bytes: int = ROW_GROUP_BYTES,
                 compression: str = COMPRESSION, source: str = "<lines>") -> None:
        import pyarrow.parquet as pq

        from convo.arrow import SCHEMA

        self.source = source
        self.row_group_bytes = row_group_bytes
        self.rows = 0
        self.nbytes = 0  # Arrow bytes of the rows written
        self._batches: list[Any] = []
        self._held = 0
        self._writer: Any = pq.ParquetWriter(f, SCHEMA, compression=compression, use_dictionary=_DICTIONARY)

    def write(self, block: bytes) -> None:
        """Add the rows of *block* (IPC or JSONL)."""
        if not block:
            return
        from convo.arrow import IPC_MAGIC, batch_of_lines, read_ipc

        if block.startswith(IPC_MAGIC):
            batches = read_ipc(block)
        else:
            lines = block.split(b"\n")
            if lines and not lines[-1]:
                lines.pop()
            batches = [batch_of_lines(lines, source=self.source)]
        for b in batches:
            self._batches.append(b)
            self._held += b.nbytes
            self.rows += b.num_rows
            self.nbytes += b.nbytes
        if self._held >= self.row_group_bytes:
            self.flush()

    def flush(self) -> None:
        """Write the rows held as one row group."""
        if not self._batches:
            return
        import pyarrow as pa

        table = pa.Table.from_batches(self._batches)
        self._batches = []
        self._held = 0
        self._writer.write_table(table, row_group_size=max(1, table.num_rows))

    def close(self) -> None:
        """Write the rows held and the footer."""
        self.flush()
        self._writer.close()


class ParquetSink(Sink):
    """An output Parquet file in convo's schema, written whole or not at all.

    A :class:`~convo.stream.sinks.Sink` to the engine (``write``, ``write_line``, ``commit``,
    ``abort``, a context manager) over a :class:`RowWriter`: blocks are Arrow IPC streams or
    JSONL lines.
    """

    def __init__(self, path: str, *, row_group_bytes: int = ROW_GROUP_BYTES,
                 compression: str = COMPRESSION) -> None:
        # Sink's own file handling is not used: the row writer writes the temporary file
        if path == STDIN:
            raise InputError("Parquet cannot be written to stdout: give an output file (-o OUT.parquet)")
        self.path = path
        self.compress = False
        self._done = False
        self._tmp: str | None
        self._raw: IO[bytes] | None  # type: ignore[assignment]
        self._tmp, self._raw = temp_beside(path)
        try:
            self.writer = RowWriter(self._raw, row_group_bytes=row_group_bytes,
                                  compression=compression, source=path)
        except BaseException:
            self.abort()
            raise

    @property
    def opened(self) -> bool:
        """Always True: the file exists from the start (an empty run writes an empty table)."""
        return True

    @property
    def bytes_written(self) -> int:  # type: ignore[override]
        """Arrow bytes of the rows written so far."""
        return self.writer.nbytes

    def write(self, block: bytes) -> None:
        """Add rows: an Arrow IPC stream (from an operation) or JSONL lines."""
        self.writer.write(block)

    def write_line(self, line: bytes) -> None:
        """Add one JSONL line (no newline)."""
        self.writer.write(line + b"\n")

    def copy_from(self, path: str, *, fix_head: Any = None) -> None:
        """Never: spooled reject records go to the rejects file, which is JSONL."""
        raise ValueError("a Parquet output takes rows, not spooled records")

    def shared_path(self) -> str:
        """Never: workers cannot append to a Parquet file (range mode is for JSONL)."""
        raise ValueError("a Parquet output cannot be shared")

    def commit(self) -> None:
        """Write what is held and the footer, fsync and rename into place."""
        if self._done:
            return
        self.writer.close()
        self._done = True
        assert self._raw is not None and self._tmp is not None
        commit_temp(self._raw, self._tmp, self.path)
        self._tmp = None

    def abort(self) -> None:
        """Drop everything written; the target is left as it was."""
        if self._done:
            return
        self._done = True
        rows = getattr(self, "writer", None)
        if rows is not None:
            with contextlib.suppress(Exception):
                rows._writer.close()
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._tmp = None



def open_sink(path: str, *, parquet: bool | None = None) -> Sink:
    """The output for *path*: a :class:`ParquetSink` when *parquet* says so (None: when the name
    ends in ``.parquet``), else a JSONL :class:`~convo.stream.sinks.Sink`.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> sinks = [open_sink(os.path.join(d, "a.parquet")), open_sink(os.path.join(d, "a.jsonl"))]
    >>> [type(s).__name__ for s in sinks], [s.abort() for s in sinks], os.listdir(d)
    (['ParquetSink', 'Sink'], [None, None], [])
    """
    if parquet is None:
        parquet = path.endswith(".parquet")
    return ParquetSink(path) if parquet else Sink(path)
