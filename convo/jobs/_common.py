"""What every job shares: the summary of a run and how an input line is named.

Layer: jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from convo import model as m
from convo._json import FrozenDict

__all__ = ["RunSummary", "line_id_of"]


@frozen(kw_only=True)
class RunSummary:
    """What a :func:`run_file` did: counts that add up, failures by error type, retries, tokens.

    ``total`` = ``succeeded`` + sum of ``failed`` + ``skipped`` (lines that already had a record
    when resuming); ``rejected`` lines could not be read as requests and are counted apart.
    """

    total: int = 0
    succeeded: int = 0
    failed: Mapping[str, int] = field(factory=dict, converter=FrozenDict)
    skipped: int = 0
    rejected: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    elapsed: float = 0.0

    @property
    def failures(self) -> int:
        """How many lines got an error record in this run."""
        return sum(self.failed.values())


def line_id_of(record: Any) -> tuple[str | int, m.Conversation] | None:
    """(id, conversation) of a decoded input line, or None when it is not a request."""
    value = record.value
    if isinstance(value, m.Conversation):
        return f"{record.file}:{record.line}", value
    if isinstance(value, m.BatchRequest):
        return value.custom_id, value.params
    if isinstance(value, m.Exchange):
        rid = value.id
        return (rid if isinstance(rid, str | int) else f"{record.file}:{record.line}"), value.request
    return None
