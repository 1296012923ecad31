"""The counts of a run: lines in, out, rejected and blank, bytes, files and time.

Layer: stream. Every piece of work (a chunk, a span, a Dask part) reports its line counts, and a
:class:`RunCounts` adds them up, so ``in = out + rejected`` holds for the run as it holds for each
piece. What a person is told about them is the command's (:mod:`convo.cli._report`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # for mypy's attrs plugin: attrs classes (convo._frozen makes them, without attrs)
    from attrs import define
else:
    from convo._frozen import define

__all__ = ["Counted", "RunCounts"]



class Counted(Protocol):
    """What a piece of work reports: the engine's ``Result``, a span's or a Dask part's result."""

    n_in: int
    n_out: int
    n_rejected: int
    n_blank: int


@define
class RunCounts:
    """The totals of a run: ``lines_in == out + rejected`` always."""

    lines_in: int = 0
    out: int = 0
    rejected: int = 0
    blank: int = 0
    bytes_in: int = 0
    files: int = 0
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        """Whether every line read is accounted for."""
        return self.lines_in == self.out + self.rejected

    def count(self, part: Counted) -> None:
        """Add the line counts of one piece of work (bytes, files and time are the caller's).

        >>> from convo.stream.operation import Result
        >>> c = RunCounts()
        >>> c.count(Result(n_in=3, n_out=2, n_rejected=1, n_blank=1)); c.balanced, c.blank
        (True, 1)
        """
        self.lines_in += part.n_in
        self.out += part.n_out
        self.rejected += part.n_rejected
        self.blank += part.n_blank

    def add(self, other: RunCounts) -> None:
        """Add the totals of another run (a group of inputs run separately)."""
        self.lines_in += other.lines_in
        self.out += other.out
        self.rejected += other.rejected
        self.blank += other.blank
        self.bytes_in += other.bytes_in
        self.files += other.files
        self.seconds += other.seconds
