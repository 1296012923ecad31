"""Outputs of the command: written whole or not at all.

:class:`Sink` writes blocks of newline-terminated lines to a temporary file beside the target,
fsyncs it and renames it into place on :meth:`Sink.commit`; :meth:`Sink.abort` (or an exception in
the ``with`` block) removes the temporary file and leaves the target untouched, so an interrupted
run never leaves half an output. ``-`` writes to stdout (not atomic, by nature); a name ending in
``.gz`` is gzip-compressed. A sink can be *lazy*: nothing is created until the first write, which
is how the rejects file appears only when there is something to reject; with ``replaces``, a
lazy sink that wrote nothing removes the file an earlier run left at its path.

This is the block-writing twin of ``convo.codec.jsonl.AtomicWriter``, and shares its temp-file +
fsync + rename protocol (:func:`~convo.codec.jsonl.temp_beside`, :func:`~convo.codec.jsonl.commit_temp`):
the engine writes whole chunks, copies spooled records, opens lazily and lets range-mode workers
append to the temporary file, none of which a line-at-a-time writer does.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import sys
from collections.abc import Callable
from types import TracebackType
from typing import BinaryIO, Self, cast

from convo.codec.jsonl import WRITEBACK_BYTES, commit_temp, start_writeback, temp_beside
from convo.codec.rejects import rejects_path_for  # re-exported: the command's default

__all__ = ["Sink", "rejects_path_for"]


class Sink:
    """A target path (or ``-``) written atomically in blocks of lines.

    >>> import tempfile, os, pathlib
    >>> d = tempfile.mkdtemp()
    >>> target = os.path.join(d, "out.jsonl")
    >>> with Sink(target) as s:
    ...     s.write(b'{"a":1}\\n')
    >>> pathlib.Path(target).read_bytes()
    b'{"a":1}\\n'
    """

    def __init__(
        self, path: str, *, compress: bool | None = None, lazy: bool = False, replaces: bool = False
    ) -> None:
        self.path = path
        self.replaces = replaces  # a lazy sink that wrote nothing removes an earlier file at path
        self.compress = path.endswith(".gz") if compress is None else compress
        self.bytes_written = 0
        self._pending = 0  # bytes written since the last early writeback
        self._synced = 0  # the file offset where that writeback ended
        self._tmp: str | None = None
        self._raw: BinaryIO | None = None
        self._f: BinaryIO | None = None
        self._done = False
        if not lazy:
            self._open()

    @property
    def opened(self) -> bool:
        """Whether anything was (or is being) written."""
        return self._f is not None or self._done

    def _open(self) -> BinaryIO:
        if self._f is not None:
            return self._f
        if self.path == "-":
            self._raw = sys.stdout.buffer
        else:
            self._tmp, raw = temp_beside(self.path)
            self._raw = cast(BinaryIO, raw)
        if self.compress:
            # mtime=0 keeps the compressed bytes reproducible run to run
            self._f = gzip.GzipFile(fileobj=self._raw, mode="wb", mtime=0)  # type: ignore[assignment]
        else:
            self._f = self._raw
        assert self._f is not None
        return self._f

    def write(self, block: bytes) -> None:
        """Write *block* (whole lines, each ending in ``\\n``)."""
        if block:
            self._open().write(block)
            self.bytes_written += len(block)
            self._pending += len(block)
            if self._pending >= WRITEBACK_BYTES:
                self._writeback()

    def _writeback(self) -> None:
        """Start writing what is in the page cache, so that the final fsync has little to wait for."""
        self._pending = 0
        if self._tmp is None or self._raw is None:
            return  # stdout: nothing to commit
        self._raw.flush()
        end = self._raw.tell()
        start_writeback(self._raw.fileno(), self._synced, end)
        self._synced = end

    def write_line(self, line: bytes) -> None:
        """Write one line and its newline."""
        f = self._open()
        f.write(line)
        f.write(b"\n")
        self.bytes_written += len(line) + 1

    def copy_from(self, path: str, *, fix_head: Callable[[bytes], bytes] | None = None) -> None:
        """Append the content of the file at *path* (a spooled record) and a newline.

        *fix_head* may rewrite the record's first bytes (its line number) on the way.
        """
        f = self._open()
        with open(path, "rb") as src:
            head = src.read(1 << 16)
            if fix_head is not None:
                head = fix_head(head)
            f.write(head)
            self.bytes_written += len(head)
            while piece := src.read(1 << 20):
                f.write(piece)
                self.bytes_written += len(piece)
        f.write(b"\n")
        self.bytes_written += 1

    def shared_path(self) -> str:
        """The temporary file, for other processes to append to (range mode); the sink itself
        must then write nothing until :meth:`commit`."""
        self._open()
        if self._tmp is None or self.compress:
            raise ValueError("only a plain, uncompressed output file can be shared")
        return self._tmp

    def commit(self) -> None:
        """Flush, fsync and rename the temporary file into place (flush only for stdout)."""
        if self._done:
            return
        self._done = True
        if self._f is None:
            if self.replaces and self.path != "-":
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)  # an earlier run's file would otherwise pass for this run's
            return
        if self._f is not self._raw:
            self._f.close()  # ends the gzip stream; the raw file stays open
        assert self._raw is not None
        if self._tmp is None:
            self._raw.flush()
            return
        try:
            commit_temp(self._raw, self._tmp, self.path)
        except BaseException:  # a full disk, say: the temporary file goes, the target stays
            with contextlib.suppress(Exception):
                self._raw.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            raise
        finally:
            self._tmp = None

    def abort(self) -> None:
        """Drop everything written; the target is left as it was."""
        if self._done:
            return
        self._done = True
        if self._tmp is None:
            if self._f is not None:
                with contextlib.suppress(Exception):
                    self._f.flush()
            return
        with contextlib.suppress(Exception):
            if self._f is not None and self._f is not self._raw:
                self._f.close()
        with contextlib.suppress(Exception):
            if self._raw is not None:
                self._raw.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)
        self._tmp = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
