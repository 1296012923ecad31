"""The Message Batches API client: create, retrieve, list, cancel and delete batches, read results.

Layer: executor (the network, through the HTTP executors' configuration, retry policy and error
mapping). :class:`BatchClient` speaks the batch endpoints (facts §6.2, §6.4) and nothing more: it
opens no file. Running whole files (or conversations in memory) through batches, resumably, with a
state file, is the job engine's: :class:`convo.jobs.batch.BatchExecutor`, which builds on this
client (``convo.executor.BatchExecutor`` is the same class).

A create call is never retried blindly after its body may have been sent (the official SDK would
retry it): a second create could make a second batch. :meth:`BatchClient.create_batch` raises
instead, and the job engine reconciles (see :mod:`convo.jobs.batch`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import httpx
import orjson
from attrs import field, frozen

from convo import model as m
from convo._json import EMPTY, UNSET, FrozenDict, Unset, freeze
from convo.codec import dumps
from convo.codec.lines import RawLine, decode_line
from convo.errors import APIError, ConvoError
from convo.executor._http import (
    DEFAULT_API_VERSION,
    _HttpConfig,
    default_client,
    send_with_retries,
)
from convo.executor._retry import RetryPolicy, SharedBackoff

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_REQUESTS",
    "BODY_CLOSE",
    "BODY_OPEN",
    "BODY_SEP",
    "BatchClient",
    "BatchResultError",
    "MessageBatch",
    "UncertainCreate",
    "batch_item",
    "check_batch_id",
    "custom_id_for",
    "is_batch_id",
    "parse_custom_id",
    "request_counts_of",
]

log = logging.getLogger("convo.executor")

MAX_BATCH_REQUESTS = 100_000
"""Requests per batch, at most (facts §6.4)."""

MAX_BATCH_BYTES = 256_000_000
"""Bytes of JSON per create body, at most. The docs say "256 MB" (facts §6.3, §6.4); read as
decimal megabytes it is the smaller number, so it is safe under either reading."""

BODY_OPEN, BODY_CLOSE, BODY_SEP = b'{"requests":[', b"]}", b","
"""How a create body frames its items: ``BODY_OPEN + BODY_SEP.join(items) + BODY_CLOSE``."""
_ID_PREFIX = b'{"custom_id":"'

# Connection failures where nothing was sent: a create that failed so cannot have made a batch.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class BatchResultError(APIError):
    """A batch request that ended without a reply: ``canceled``, ``expired`` or missing.

    >>> e = BatchResultError("the batch expired first", result_type="expired")
    >>> e.result_type, str(e)
    ('expired', 'expired: the batch expired first')
    """

    def __init__(self, message: str, *, result_type: str) -> None:
        super().__init__(message)
        self.result_type = result_type

    def __str__(self) -> str:
        return f"{self.result_type}: {self.message}"


# --------------------------------------------------------------------------- batch ids

_BATCH_ID = re.compile(r"msgbatch_[A-Za-z0-9_-]{1,200}")


def is_batch_id(value: object) -> bool:
    """Whether *value* has the shape of a Message Batch id: ``msgbatch_`` and letters, digits,
    ``_`` or ``-``.

    A batch id becomes a URL path and a file name (a job saves each batch's results as
    ``<id>.jsonl``), so an id from the network or a state file is checked before it is used:
    ``../x`` or ``/etc/x`` is no batch id.

    >>> [is_batch_id(x) for x in ("msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d", "../../evil", "msgbatch_a/b", 7)]
    [True, False, False, False]
    """
    return isinstance(value, str) and _BATCH_ID.fullmatch(value) is not None


def check_batch_id(value: object, where: str = "") -> str:
    """*value* if it is a batch id (:func:`is_batch_id`), else ConvoError saying where it came from.

    >>> check_batch_id("../../evil", "the API's answer")
    Traceback (most recent call last):
    ...
    convo.errors.ConvoError: '../../evil' (from the API's answer) is not a Message Batch id (msgbatch_ and letters, digits, _ or -)
    """
    if is_batch_id(value):
        assert isinstance(value, str)
        return value
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    origin = f" (from {where})" if where else ""
    raise ConvoError(f"{shown}{origin} is not a Message Batch id (msgbatch_ and letters, digits, _ or -)")


# --------------------------------------------------------------------------- custom ids


def custom_id_for(run: str, file: int, line: int, attempt: int = 0) -> str:
    """The ``custom_id`` of a line: run marker, file index, line number (and resubmission).

    >>> custom_id_for("k3x9q2ab", 0, 17), custom_id_for("k3x9q2ab", 1, 5, attempt=2)
    ('k3x9q2ab-0-17', 'k3x9q2ab-1-5-r2')
    """
    cid = f"{run}-{file}-{line}" if attempt == 0 else f"{run}-{file}-{line}-r{attempt}"
    if len(cid) > 64:  # ^[a-zA-Z0-9_-]{1,64}$ (facts §6.4); line numbers this long do not occur
        raise ValueError(f"custom_id {cid!r} is longer than 64 characters")
    return cid


def parse_custom_id(custom_id: str) -> tuple[str, int, int, int] | None:
    """``(run, file, line, attempt)`` of a ``custom_id`` made by :func:`custom_id_for`, else None.

    >>> parse_custom_id("k3x9q2ab-1-5-r2"), parse_custom_id("someone-else")
    (('k3x9q2ab', 1, 5, 2), None)
    """
    parts = custom_id.split("-")
    if len(parts) == 4 and parts[3][:1] == "r":
        attempt_text = parts[3][1:]
    elif len(parts) == 3:
        attempt_text = "0"
    else:
        return None
    run, f, line = parts[0], parts[1], parts[2]
    if not (f.isdigit() and line.isdigit() and attempt_text.isdigit()):
        return None
    return run, int(f), int(line), int(attempt_text)


# --------------------------------------------------------------------------- values


def _epoch(text: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 time, or None."""
    if not isinstance(text, str) or not text:
        return None
    head, dot, frac = text.partition(".")
    if dot:  # more than microseconds does not parse everywhere; keep six digits
        digits = "".join(c for c in frac if c.isdigit())
        zone = frac[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def request_counts_of(value: Any) -> FrozenDict:
    """A batch's ``request_counts`` as a frozen mapping of whole numbers (anything else dropped)."""
    if not isinstance(value, Mapping):
        return EMPTY
    frozen_counts: FrozenDict = freeze({str(k): v for k, v in value.items() if type(v) is int})
    return frozen_counts


@frozen(kw_only=True)
class MessageBatch:
    """A Message Batch as the API describes it (``type: "message_batch"``, facts §6.4).

    >>> b = MessageBatch.from_json({"id": "msgbatch_1", "type": "message_batch",
    ...     "processing_status": "ended", "request_counts": {"processing": 0, "succeeded": 2,
    ...     "errored": 1, "canceled": 0, "expired": 0}, "created_at": "2026-11-01T10:00:00Z"})
    >>> b.ended, b.total, b.created
    (True, 3, 1793527200.0)
    """

    id: str
    processing_status: str
    request_counts: FrozenDict = field(factory=FrozenDict, converter=request_counts_of)
    created_at: str | None = None
    ended_at: str | None = None
    expires_at: str | None = None
    cancel_initiated_at: str | None = None
    results_url: str | None = None
    extra: FrozenDict = field(factory=FrozenDict, converter=freeze, repr=False)

    _KNOWN = ("id", "processing_status", "request_counts", "created_at", "ended_at",
              "expires_at", "cancel_initiated_at", "results_url")

    @classmethod
    def from_json(cls, data: Any) -> MessageBatch:
        """Read the API's JSON object (unknown keys are kept in ``extra``)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            raise APIError(f"expected a message batch object, got {str(data)[:200]}")
        if not is_batch_id(data["id"]):
            shown = repr(data["id"])[:80]
            raise APIError(f"the API answered with a batch id that is not one: {shown}")
        text = {k: data.get(k) if isinstance(data.get(k), str) else None for k in cls._KNOWN[3:]}
        return cls(
            id=data["id"],
            processing_status=str(data.get("processing_status") or "unknown"),
            request_counts=data.get("request_counts"),
            extra={k: v for k, v in data.items() if k not in cls._KNOWN},
            **text,
        )

    @property
    def ended(self) -> bool:
        """Whether processing has ended (its results can be read)."""
        return self.processing_status == "ended"

    @property
    def total(self) -> int:
        """How many requests the batch holds (the sum of its request counts)."""
        return sum(self.request_counts.values())

    @property
    def created(self) -> float | None:
        """``created_at`` in seconds since the epoch."""
        return _epoch(self.created_at)


class UncertainCreate(Exception):
    """A create call that broke after its body may have reached the server."""

    def __init__(self, error: APIError) -> None:
        super().__init__(str(error))
        self.error = error




def batch_item(custom_id: str, params: bytes) -> bytes:
    """One item of a create body: the custom id and the request JSON, as bytes."""
    return _ID_PREFIX + custom_id.encode("ascii") + b'","params":' + params + b"}"




class BatchClient(_HttpConfig):
    """The Message Batches endpoints, with the HTTP executors' configuration and retries.

    Takes :class:`~convo.executor.HttpExecutor`'s arguments (key and base URL from
    ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL``, ``api_version``, ``betas``, ``client``,
    ``retry``, ``validate``, ``headers``, ``backoff``). Use it as a context manager, or call
    :meth:`close`.

    >>> BatchClient("sk-ant-secret", base_url="http://127.0.0.1:9")
    BatchClient(base_url='http://127.0.0.1:9', api_version='2026-10-21', api_key=<redacted>)
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        betas: Iterable[str] = (),
        client: httpx.Client | None = None,
        timeout: float | httpx.Timeout | Unset | None = UNSET,
        retry: RetryPolicy | None = None,
        validate: bool = True,
        headers: Mapping[str, str] | None = None,
        backoff: SharedBackoff | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            api_version=api_version,
            betas=betas,
            timeout=timeout,
            retry=retry,
            validate=validate,
            headers=headers,
            backoff=backoff,
            owns_client=client is None,
        )
        self._client = client if client is not None else default_client(timeout)

    def _repr_parts(self) -> list[str]:
        return [f"base_url={self.base_url!r}", f"api_version={self.api_version!r}"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join([*self._repr_parts(), 'api_key=<redacted>'])})"

    def __enter__(self) -> BatchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (an injected client is left to its owner)."""
        if self._owns_client:
            self._client.close()

    # ------------------------------------------------------------------ the wire

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
        accept: str | None = None,
        stream: bool = False,
        creates: bool = False,
    ) -> httpx.Response:
        """One API call with the HTTP executors' headers, retry policy and error mapping.

        It goes through their retry loop (``send_with_retries``). With *creates*, a
        transport error after the request may have been sent raises :class:`UncertainCreate` instead
        of being retried: a second create could make a second batch.
        """
        def maybe_sent(e: httpx.TransportError, err: APIError) -> None:
            if creates and not isinstance(e, _NOT_SENT):
                raise UncertainCreate(err) from e

        return send_with_retries(
            self, self._client, method, self.base_url + path, body=body, params=params,
            accept=accept, stream=stream, on_transport_error=maybe_sent,
        )

    def _json(self, response: httpx.Response) -> Any:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as e:
            raise APIError(f"the API answered with invalid JSON ({e})") from None

    def _create(self, body: bytes) -> MessageBatch:
        response = self._request("POST", "/v1/messages/batches", body=body, creates=True)
        return MessageBatch.from_json(self._json(response))

    def create_batch(self, requests: Iterable[m.BatchRequest]) -> MessageBatch:
        """Create a batch of *requests* (``POST /v1/messages/batches``); no local checks.

        A connection that broke after the body was sent raises
        :class:`~convo.errors.APIConnectionError` without a retry: the batch may exist, and
        only the list (and later its results) can tell; :class:`convo.jobs.batch.BatchExecutor` does that for you.

        >>> from convo.testing import Emulator
        >>> conv = m.Conversation(model="claude-sonnet-4-5", max_tokens=8, messages=[m.Message("user", "Hi")])
        >>> with Emulator(batch_delay=0) as url, BatchClient("k", base_url=url) as ex:
        ...     batch = ex.create_batch([m.BatchRequest(custom_id="q1", params=conv)])
        ...     done = ex.retrieve_batch(batch.id)
        ...     results = list(ex.iter_results(batch.id))
        ...     listed = [b.id for b in ex.list_batches()]
        ...     ex.delete_batch(batch.id)
        ...     after = list(ex.list_batches())
        >>> done.ended, done.request_counts["succeeded"], listed == [batch.id], after
        (True, 1, True, [])
        >>> results[0].custom_id, results[0].message.text
        ('q1', 'echo: Hi')
        """
        items = [batch_item(r.custom_id, dumps(r.params)) for r in requests]
        try:
            return self._create(BODY_OPEN + BODY_SEP.join(items) + BODY_CLOSE)
        except UncertainCreate as u:
            raise u.error from None

    def retrieve_batch(self, batch_id: str) -> MessageBatch:
        """The batch now (``GET /v1/messages/batches/{id}``; safe to poll; see :meth:`create_batch`).

        >>> from convo.testing import Emulator
        >>> with Emulator() as url, BatchClient("k", base_url=url) as ex:
        ...     ex.retrieve_batch("msgbatch_nope")
        Traceback (most recent call last):
        ...
        convo.errors.NotFoundError: 404 not_found_error: No Message Batch found with id 'msgbatch_nope' ...
        """
        path = f"/v1/messages/batches/{check_batch_id(batch_id)}"
        return MessageBatch.from_json(self._json(self._request("GET", path)))

    def cancel_batch(self, batch_id: str) -> MessageBatch:
        """Ask the API to cancel a batch; it is ``canceling`` until it ends.

        >>> from convo.testing import Emulator
        >>> conv = m.Conversation(model="claude-sonnet-4-5", max_tokens=8, messages=[m.Message("user", "Hi")])
        >>> with Emulator(batch_delay=60) as url, BatchClient("k", base_url=url) as ex:
        ...     batch = ex.create_batch([m.BatchRequest(custom_id="q1", params=conv)])
        ...     ex.cancel_batch(batch.id).processing_status
        'canceling'
        """
        path = f"/v1/messages/batches/{check_batch_id(batch_id)}/cancel"
        return MessageBatch.from_json(self._json(self._request("POST", path)))

    def delete_batch(self, batch_id: str) -> None:
        """Delete an ended batch and its results (an example is in :meth:`create_batch`).

        >>> from convo.testing import Emulator
        >>> with Emulator() as url, BatchClient("k", base_url=url) as ex:
        ...     ex.delete_batch("msgbatch_nope")
        Traceback (most recent call last):
        ...
        convo.errors.NotFoundError: 404 not_found_error: No Message Batch found with id 'msgbatch_nope' ...
        """
        self._request("DELETE", f"/v1/messages/batches/{check_batch_id(batch_id)}").close()

    def list_batches(self, *, since: float | None = None, page_size: int = 100) -> Iterator[MessageBatch]:
        """Every batch of the workspace, newest first, paging as needed.

        With *since* (seconds since the epoch) the paging stops after the first batch created
        before it (that one is not yielded).

        >>> from convo.testing import Emulator
        >>> with Emulator() as url, BatchClient("k", base_url=url) as ex:
        ...     list(ex.list_batches(since=0))
        []
        """
        query: dict[str, str] = {"limit": str(page_size)}
        while True:
            page = self._json(self._request("GET", "/v1/messages/batches", params=query))
            data = page.get("data") if isinstance(page, Mapping) else None
            if not isinstance(data, list):
                raise APIError("the batch list answered without a data list")
            for item in data:
                batch = MessageBatch.from_json(item)
                created = batch.created
                if since is not None and created is not None and created < since:
                    return
                yield batch
            last = page.get("last_id")
            if not page.get("has_more") or not isinstance(last, str):
                return
            query["after_id"] = last

    def iter_results(self, batch_id: str) -> Iterator[m.BatchResult]:
        """The results of an ended batch as they stream in (in no particular order).

        An example is in :meth:`create_batch`; a batch still processing has none yet:

        >>> from convo.testing import Emulator
        >>> conv = m.Conversation(model="claude-sonnet-4-5", max_tokens=8, messages=[m.Message("user", "Hi")])
        >>> with Emulator(batch_delay=60) as url, BatchClient("k", base_url=url) as ex:
        ...     list(ex.iter_results(ex.create_batch([m.BatchRequest(custom_id="a", params=conv)]).id))
        Traceback (most recent call last):
        ...
        convo.errors.BadRequestError: 400 invalid_request_error: Message Batch ... has not finished processing; ...
        """
        path = f"/v1/messages/batches/{check_batch_id(batch_id)}/results"
        response = self._request("GET", path, accept="application/binary", stream=True)
        try:
            for lineno, text in enumerate(response.iter_lines(), 1):
                if text.strip():
                    rec = decode_line(RawLine(batch_id, lineno, text.encode("utf-8")), kind="batch_result")
                    assert isinstance(rec.value, m.BatchResult)
                    yield rec.value
        finally:
            response.close()
