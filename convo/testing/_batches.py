"""The emulator's Message Batches: a store of batches whose state is a function of the clock.

Layer: testing. Facts §6.2 and §6.4. A batch is ``in_progress`` for ``delay`` seconds after it is
created; its requests finish one by one over that time (in a shuffled order, the order of the
results file), and it is ``ended`` once the last one is done. ``cancel`` makes it ``canceling`` for
``cancel_delay`` seconds; requests not done when the cancel arrived become ``canceled``.
``expire`` ends it at once, with the requests not yet done ``expired``; so does reaching
``expires_at`` (24 hours after creation). Nothing runs in the background: every read brings a
batch up to date with the clock, and the requests that succeeded or errored are only processed
(decoded, validated, answered) when the batch ends, as the API validates params asynchronously.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from attrs import define, field

from convo.testing._wire import ApiError, paginate, rfc3339

__all__ = ["BatchStore", "params_digest"]

DAY = 24 * 3600.0

Process = Callable[[str, Any, str], dict[str, Any]]
"""(custom_id, params, api_version) -> the ``result`` object of a request that was processed."""


def params_digest(params: Any) -> str:
    """A short digest of a request's params (sorted keys), to count resubmissions.

    >>> params_digest({"b": 1, "a": 2}) == params_digest({"a": 2, "b": 1})
    True
    """
    return hashlib.sha256(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


@define
class _Entry:
    custom_id: str
    params: Any
    done_at: float


@define
class _Batch:
    id: str
    api_version: str
    created: float
    ends: float
    entries: list[_Entry]  # in processing order: the order they finish and the results list
    cancel_at: float | None = None
    ended: float | None = None
    results: list[tuple[str, dict[str, Any]]] = field(factory=list)
    counts: Counter[str] = field(factory=Counter)
    results_bytes: bytes | None = None

    @property
    def expires(self) -> float:
        return self.created + DAY


class BatchStore:
    """Every batch of one emulator (thread-safe); methods return JSON-ready objects."""

    def __init__(
        self,
        *,
        delay: float,
        cancel_delay: float,
        clock: Callable[[], float],
        process: Process,
        results_url: Callable[[str], str],
    ) -> None:
        self.delay = delay
        self.cancel_delay = cancel_delay
        self.clock = clock
        self.process = process
        self.results_url = results_url
        self._lock = threading.RLock()
        self._batches: dict[str, _Batch] = {}  # creation order
        self.seen: Counter[tuple[str, str]] = Counter()
        """How many times each (custom_id, params digest) was submitted, over every batch."""

    # ------------------------------------------------------------------ endpoints

    def create(self, requests: list[tuple[str, Any]], api_version: str) -> dict[str, Any]:
        """A new batch of (custom_id, params) requests, already checked for shape."""
        now = self.clock()
        batch_id = "msgbatch_" + secrets.token_hex(12)
        order = list(range(len(requests)))
        random.Random(batch_id).shuffle(order)  # seeded: a batch's results order is stable
        n = len(requests)
        entries = [
            _Entry(requests[i][0], requests[i][1], now + self.delay * (k + 1) / n)
            for k, i in enumerate(order)
        ]
        batch = _Batch(batch_id, api_version, now, now + self.delay, entries)
        with self._lock:
            for cid, params in requests:
                self.seen[(cid, params_digest(params))] += 1
            self._batches[batch_id] = batch
            return self._render(batch)

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        """The batch object, brought up to date."""
        with self._lock:
            return self._render(self._get(batch_id))

    def page(self, query: Mapping[str, str]) -> dict[str, Any]:
        """A page of batches, most recently created first."""
        with self._lock:
            newest_first = list(reversed(self._batches.values()))
            return paginate(newest_first, query, lambda b: b.id, self._render)

    def cancel(self, batch_id: str) -> dict[str, Any]:
        """Start canceling an in-progress batch (a batch already canceling or ended is unchanged)."""
        with self._lock:
            batch = self._get(batch_id)
            now = self.clock()
            self._update(batch, now)
            if batch.ended is None and batch.cancel_at is None:
                batch.cancel_at = now
            return self._render(batch)

    def delete(self, batch_id: str) -> dict[str, Any]:
        """Delete an ended batch; one still processing is a 400."""
        with self._lock:
            batch = self._get(batch_id)
            self._update(batch, self.clock())
            if batch.ended is None:
                raise ApiError(
                    400, "invalid_request_error",
                    f"Message Batch {batch_id} cannot be deleted while it is still processing; "
                    "cancel it and wait for it to end first.",
                )
            del self._batches[batch_id]
            return {"id": batch_id, "type": "message_batch_deleted"}

    def results(self, batch_id: str) -> bytes:
        """The results JSONL of an ended batch (one line per request, in processing order)."""
        with self._lock:
            batch = self._get(batch_id)
            self._update(batch, self.clock())
            if batch.ended is None:
                raise ApiError(
                    400, "invalid_request_error",
                    f"Message Batch {batch_id} has not finished processing; "
                    "its results are available once processing_status is ended.",
                )
            if batch.results_bytes is None:
                batch.results_bytes = b"".join(
                    orjson.dumps({"custom_id": cid, "result": r}) + b"\n"
                    for cid, r in batch.results
                )
            return batch.results_bytes

    def expire(self, batch_id: str) -> dict[str, Any]:
        """End the batch now; requests not yet done are ``expired``."""
        with self._lock:
            batch = self._get(batch_id)
            now = self.clock()
            self._update(batch, now)
            if batch.ended is not None:
                raise ValueError(f"batch {batch_id} has already ended")
            self._finish(batch, at=now, cutoff=now, leftover="expired")
            return self._render(batch)

    def ids(self) -> list[str]:
        """Every batch id, in creation order."""
        with self._lock:
            return list(self._batches)

    # ------------------------------------------------------------------ state

    def _get(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, "not_found_error", f"No Message Batch found with id '{batch_id}'")
        return batch

    def _update(self, batch: _Batch, now: float) -> None:
        if batch.ended is not None:
            return
        if batch.cancel_at is not None:
            done = batch.cancel_at + self.cancel_delay
            if now >= done:
                self._finish(batch, at=done, cutoff=batch.cancel_at, leftover="canceled")
        elif now >= batch.ends and batch.ends <= batch.expires:
            # every request is done by `ends` (an infinite cutoff avoids float rounding there)
            self._finish(batch, at=batch.ends, cutoff=float("inf"), leftover="expired")
        elif now >= batch.expires:
            self._finish(batch, at=batch.expires, cutoff=batch.expires, leftover="expired")

    def _finish(self, batch: _Batch, *, at: float, cutoff: float, leftover: str) -> None:
        results = []
        for e in batch.entries:
            if e.done_at <= cutoff:
                r = self.process(e.custom_id, e.params, batch.api_version)
            else:
                r = {"type": leftover}
            results.append((e.custom_id, r))
        batch.results = results
        batch.counts = Counter(r["type"] for _, r in results)
        batch.ended = at

    def _render(self, batch: _Batch) -> dict[str, Any]:
        self._update(batch, self.clock())
        ended = batch.ended is not None
        if ended:
            status = "ended"
        elif batch.cancel_at is not None:
            status = "canceling"
        else:
            status = "in_progress"
        c = batch.counts
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": status,
            # facts §6.4: every count but processing stays 0 until the batch ends
            "request_counts": {
                "processing": 0 if ended else len(batch.entries),
                "succeeded": c["succeeded"],
                "errored": c["errored"],
                "canceled": c["canceled"],
                "expired": c["expired"],
            },
            "ended_at": rfc3339(batch.ended) if batch.ended is not None else None,
            "created_at": rfc3339(batch.created),
            "expires_at": rfc3339(batch.expires),
            "archived_at": None,
            "cancel_initiated_at": rfc3339(batch.cancel_at) if batch.cancel_at is not None else None,
            "results_url": self.results_url(batch.id) if ended else None,
        }
