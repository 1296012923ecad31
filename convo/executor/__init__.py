"""Executors: where conversations are sent. HTTP (sync and async), batches, mock, record/replay, run_many.

Layer: executor, above the codec; imported only on demand (``import convo`` does not load httpx).
Every executor has one method, ``execute(conversation) -> Response``, plus ``close()`` and
``with`` support (``async`` twins for :class:`AsyncExecutor`). Executors never change the
conversation: ``conversation.with_response(response)`` appends the reply.

>>> from convo import Conversation, Message
>>> from convo.executor import MockExecutor, run_many
>>> convs = [Conversation(model="m", max_tokens=8, messages=[Message("user", q)]) for q in ("a", "b")]
>>> [r.response.text for r in run_many(convs, MockExecutor(lambda c: c.messages[-1].text * 3))]
['aaa', 'bbb']

The Message Batches *client* (:class:`BatchClient`: create, retrieve, list, cancel, results) is
here; running files or conversations through batches with a resumable state file is a job
(:mod:`convo.jobs`). ``BatchExecutor``, ``BatchInfo``, ``BatchStatus``, ``run_file`` and
``RunSummary`` are importable from here as before: they are :mod:`convo.jobs`'s, loaded on first use.
"""

from __future__ import annotations

from typing import Any

from convo.executor._base import AsyncExecutor, EventCallback, Executor
from convo.executor._batch import BatchClient, BatchResultError, MessageBatch
from convo.executor._http import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    AsyncHttpExecutor,
    ExecutorStats,
    HttpExecutor,
)
from convo.executor._mock import AsyncMockExecutor, MockExecutor, reply
from convo.executor._replay import (
    AsyncReplayExecutor,
    Cassette,
    CassetteError,
    CassetteMissError,
    ReplayExecutor,
    Scrubber,
    SecretDetector,
    json_diff,
    key_shapes,
    known_secrets,
    load_cassette,
    request_key,
)
from convo.executor._retry import RetryPolicy, SharedBackoff
from convo.executor._run import (
    Progress,
    Result,
    arun_iter,
    arun_many,
    error_record,
    run_iter,
    run_many,
)
from convo.executor._sse import (
    ServerSentEvent,
    SSEDecoder,
    StreamAssembler,
    StreamEvent,
    aiter_events,
    assemble,
    events_from_response,
    iter_events,
    iter_sse,
    parse_partial_json,
)

__all__ = [
    # the seam
    "Executor",
    "AsyncExecutor",
    "EventCallback",
    # HTTP
    "HttpExecutor",
    "AsyncHttpExecutor",
    "RetryPolicy",
    "SharedBackoff",
    "ExecutorStats",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    # Message Batches
    "BatchClient",
    "BatchExecutor",
    "BatchInfo",
    "BatchResultError",
    "BatchStatus",
    "MessageBatch",
    # mock and replay
    "MockExecutor",
    "AsyncMockExecutor",
    "reply",
    "ReplayExecutor",
    "AsyncReplayExecutor",
    "Cassette",
    "CassetteError",
    "CassetteMissError",
    "Scrubber",
    "SecretDetector",
    "key_shapes",
    "known_secrets",
    "request_key",
    "json_diff",
    "load_cassette",
    # running many
    "run_many",
    "run_iter",
    "arun_many",
    "arun_iter",
    "Result",
    "Progress",
    "run_file",
    "RunSummary",
    "error_record",
    # streaming
    "StreamEvent",
    "ServerSentEvent",
    "SSEDecoder",
    "StreamAssembler",
    "iter_sse",
    "iter_events",
    "aiter_events",
    "assemble",
    "events_from_response",
    "parse_partial_json",
]

_FROM_JOBS = frozenset({"BatchExecutor", "BatchInfo", "BatchStatus", "RunSummary", "run_file"})


def __getattr__(name: str) -> Any:
    """The job-layer names users know from here (``from convo.executor import BatchExecutor``),
    loaded on first use so that the executor layer itself never imports the jobs layer."""
    if name in _FROM_JOBS:
        import convo.jobs

        return getattr(convo.jobs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
