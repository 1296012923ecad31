"""What the engine runs: an :class:`Operation` applied to each line of a :class:`Chunk`.

An operation is built from an :class:`OpSpec` (its registered name and plain-data options), so it
can be rebuilt in any worker process (spawn-safe: the pipeline travels as the text the command line
gave, never as pickled functions). :meth:`Operation.process` splits a chunk into lines, skips blank
ones, rejects lines over the size limit and hands every other line to :meth:`Operation.line`, which
appends output lines and reject records and says whether the line counts as *out* or *rejected*.
The :class:`Result` of a chunk carries the joined bytes and the counts, so ``in = out + rejected``
holds chunk by chunk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # for mypy's attrs plugin: attrs classes (convo._frozen makes them, without attrs)
    from attrs import define, field, frozen
else:
    from convo._frozen import define, field, frozen

from convo._json import FrozenDict, freeze
from convo.codec.lines import BOM, JSON_WHITESPACE, is_blank
from convo.codec.rejects import classify
from convo.stream.rejects import reject, too_long
from convo.stream.sources import DEFAULT_MAX_LINE_BYTES, Chunk, Oversize

__all__ = ["OPERATIONS", "OpSpec", "Operation", "Result", "classify", "register", "reject_error"]


@frozen
class OpSpec:
    """An operation by name with plain-data options: what a worker process needs to build it.

    >>> OpSpec("stats", {"max_line_bytes": 100}).options["max_line_bytes"]
    100
    """

    name: str
    options: FrozenDict = field(factory=FrozenDict, converter=freeze)


@define
class Result:
    """What one chunk gave: counts, output bytes, reject bytes, operation statistics."""

    n_in: int = 0
    n_out: int = 0
    n_rejected: int = 0
    n_blank: int = 0
    n_bytes: int = 0
    out: bytes = b""
    rejects: bytes = b""
    stats: Any = None
    spool: str | None = None  # an over-long line's reject record, on disk


OPERATIONS: dict[str, type[Operation]] = {}
"""Registered operations, by name."""


def register(cls: type[Operation]) -> type[Operation]:
    """Class decorator: make an operation buildable from an :class:`OpSpec` by its ``name``
    (:func:`convo.stream.engine.build_operation`).

    >>> @register
    ... class Nothing(Operation):
    ...     name = "nothing"
    >>> OPERATIONS.pop("nothing") is Nothing
    True
    """
    OPERATIONS[cls.name] = cls
    return cls


class Operation:
    """Per-line work. Subclasses set ``name`` and implement :meth:`line`."""

    name: ClassVar[str] = ""
    lines_in_output: ClassVar[bool] = False  # True when output lines name input line numbers
    takes_views: ClassVar[bool] = False
    """True when :meth:`line` accepts a memoryview as *raw* (see ``ChunkReader(views=True)``);
    it must then make bytes of it for anything it keeps (reject records do so themselves)."""

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, out_format: str = "jsonl") -> None:
        if out_format not in ("jsonl", "parquet"):
            raise ValueError(f"unknown output format {out_format!r}: expected jsonl or parquet")
        self.max_line_bytes = max_line_bytes
        self.out_format = out_format
        """``jsonl``: a result's ``out`` is lines; ``parquet``: an Arrow IPC stream of their rows
        in :mod:`convo.arrow`'s schema, built here (in the worker) for a
        :class:`~convo.stream.parquet.ParquetSink`."""
        self._kept: list[Any] | None = None

    def keep(self, value: Any) -> None:
        """Say that the line just appended to ``out`` is *value*'s JSON, so that a Parquet output
        builds its row from the value instead of decoding the line again (optional)."""
        if self._kept is not None:
            self._kept.append(value)

    # -- statistics, merged in the main process in input order
    def new_stats(self) -> Any:
        """A fresh statistics object for one chunk."""
        return None

    def merge_stats(self, total: Any, part: Any) -> Any:
        """*part* added into *total* (returns the merged value)."""
        return total

    # -- the work
    def line(
        self,
        file: str,
        lineno: int,
        raw: bytes,
        out: list[bytes],
        rejects: list[bytes],
        stats: Any,
    ) -> bool:
        """Handle one non-blank line: append to *out* / *rejects*; True when it counts as out."""
        raise NotImplementedError

    def reject_too_long(
        self, file: str, lineno: int, raw: bytes, out: list[bytes], rejects: list[bytes], stats: Any
    ) -> None:
        """A line over the size limit (already in memory): by default, a ``too_long`` reject."""
        rejects.append(too_long(file, lineno, self.max_line_bytes, raw))

    def oversize(self, item: Oversize) -> Result:
        """The result for a line the reader streamed to a spool file (it is always rejected)."""
        return Result(n_in=1, n_rejected=1, n_bytes=item.size, spool=item.spool, stats=self.new_stats())

    def run(self, item: Chunk | Oversize) -> Result:
        """The result of one item of a :class:`~convo.stream.sources.ChunkReader`.

        >>> Operation().run(Chunk.of("a", 1, b"\\n  \\n")).n_blank
        2
        """
        return self.oversize(item) if isinstance(item, Oversize) else self.process(item)

    def process(self, chunk: Chunk) -> Result:
        """Every line of *chunk*, in order."""
        out: list[bytes] = []
        rejects: list[bytes] = []
        stats = self.new_stats()
        n_in = n_out = n_blank = 0
        limit = self.max_line_bytes
        handle = self.line
        file = chunk.file
        lineno = chunk.first_line - 1
        to_bytes = not self.takes_views
        parquet = self.out_format == "parquet"
        if parquet:
            self._kept = []
        for raw in chunk.lines:
            lineno += 1
            # blank: nothing but JSON whitespace (a line that starts with none is not: the common case)
            if not raw or (raw[0] in _BLANK_START and is_blank(raw)):
                n_blank += 1
                continue
            n_in += 1
            if to_bytes and raw.__class__ is memoryview:
                raw = bytes(raw)  # an operation that keeps lines as they are gets bytes
            if len(raw) > limit:
                self.reject_too_long(file, lineno, raw, out, rejects, stats)  # type: ignore[arg-type]
                continue
            if handle(file, lineno, raw, out, rejects, stats):  # type: ignore[arg-type]
                n_out += 1
        if parquet:
            data = self._rows(file, out)
        elif out:
            out.append(b"")  # a newline after the last line too, in the same single copy
            data = b"\n".join(out)
        else:
            data = b""
        if rejects:
            rejects.append(b"")
        return Result(
            n_in=n_in,
            n_out=n_out,
            n_rejected=n_in - n_out,
            n_blank=n_blank,
            n_bytes=chunk.size,
            out=data,
            rejects=b"\n".join(rejects),
            stats=stats,
        )

    def _rows(self, file: str, out: list[bytes]) -> bytes:
        """The Arrow IPC stream of the rows of *out* (the lines of a chunk)."""
        kept, self._kept = self._kept, None
        if not out:
            return b""
        from convo.arrow import batch_of_lines, batch_of_values, ipc_bytes

        if kept is not None and len(kept) == len(out):
            return ipc_bytes(batch_of_values(kept, out))
        return ipc_bytes(batch_of_lines(out, source=file))


_BLANK_START = frozenset(JSON_WHITESPACE + BOM[:1])  # how a blank line can start


def reject_error(file: str, lineno: int, raw: bytes, error: Exception, code: str | None = None) -> bytes:
    """The reject record of a line that failed to decode (the code says which way it failed).

    >>> import orjson
    >>> from convo.errors import DecodeError
    >>> orjson.loads(reject_error("a", 1, b"\\xff", DecodeError("bad")))["code"]
    'utf8'
    """
    path = getattr(error, "path", "$")
    reason = getattr(error, "expected", None) or str(error)
    if code is None:
        code = classify(raw)
    return reject(file, lineno, code, reason, path, raw)
