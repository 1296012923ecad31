"""Running many conversations: bounded concurrency, input order kept, errors kept as results.

Layer: executor. :func:`run_iter` / :func:`run_many` drive any :class:`~convo.executor.Executor`
with a pool of threads, and an :class:`~convo.executor.AsyncExecutor` on an event loop;
:func:`arun_iter` / :func:`arun_many` are the async forms. The input is consumed lazily and at most
``4 * concurrency`` items are in flight or waiting to be handed back in order, so memory stays
flat however long the queue. A failure becomes a :class:`Result` with ``error`` set; it never stops
the rest. The back-off a server asks for (``retry-after``) is shared by every worker through the
HTTP executor's :class:`~convo.executor.SharedBackoff`.

:func:`run_file` is the engine of ``convo run``: request lines in, one exchange record per line
out, flushed in input order, resumable after a kill without sending any request twice for a line
that already has its record.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Protocol

from attrs import field, frozen

from convo import model as m
from convo.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    DecodeError,
    StreamError,
    ValidationError,
)
from convo.executor._base import AsyncExecutor, Executor

__all__ = [
    "DoneCallback",
    "Progress",
    "ProgressCallback",
    "ProgressCounter",
    "QueueRunner",
    "Result",
    "arun_iter",
    "arun_many",
    "error_record",
    "run_iter",
    "run_many",
]

_WINDOW_PER_WORKER = 4  # items in flight or finished-but-waiting per worker: bounds memory
_END = object()


@frozen
class Result:
    """The outcome of one conversation: its input position, the reply or the error.

    >>> r = Result(0, m.Conversation(), response=m.Response(content=(m.Text("hi"),)))
    >>> r.ok, r.unwrap().text
    (True, 'hi')
    """

    index: int
    conversation: m.Conversation = field(repr=False)
    response: m.Response | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """Whether a reply came back."""
        return self.error is None

    def unwrap(self) -> m.Response:
        """The reply; raises the captured error when there is none."""
        if self.error is not None:
            raise self.error
        assert self.response is not None
        return self.response


@frozen
class Progress:
    """Where a run stands, handed to ``on_progress`` after each result (in input order).

    ``total`` is known when the input has a length, else None.
    """

    done: int
    succeeded: int
    failed: int
    total: int | None
    last: Result = field(repr=False)


ProgressCallback = Callable[[Progress], None]


DoneCallback = Callable[["Result"], None]


def _call(executor: Executor, index: int, conv: m.Conversation, on_done: DoneCallback | None = None) -> Result:
    try:
        result = Result(index, conv, response=executor.execute(conv))
    except Exception as e:  # captured: one failure never stops the rest
        result = Result(index, conv, error=e)
    if on_done is not None:
        on_done(result)
    return result


async def _acall(executor: AsyncExecutor, index: int, conv: m.Conversation) -> Result:
    try:
        return Result(index, conv, response=await executor.execute(conv))
    except Exception as e:
        return Result(index, conv, error=e)


def _total(conversations: object) -> int | None:
    try:
        return len(conversations)  # type: ignore[arg-type]
    except TypeError:
        return None


class ProgressCounter:
    """Counts results as they are handed back and tells *callback* where the run stands."""

    __slots__ = ("callback", "done", "failed", "total")

    def __init__(self, callback: ProgressCallback | None, total: int | None) -> None:
        self.callback = callback
        self.total = total
        self.done = 0
        self.failed = 0

    def __call__(self, result: Result) -> None:
        self.done += 1
        if result.error is not None:
            self.failed += 1
        if self.callback is not None:
            self.callback(
                Progress(self.done, self.done - self.failed, self.failed, self.total, result)
            )


class QueueRunner(Protocol):
    """An executor that runs a whole queue itself (:class:`~convo.executor.BatchExecutor`: batches,
    not one request per conversation): :func:`run_iter` and :func:`arun_iter` hand it the queue."""

    def run_iter(
        self, conversations: Iterable[m.Conversation], *, on_progress: ProgressCallback | None = None
    ) -> Iterator[Result]: ...

    def run_many(
        self, conversations: Iterable[m.Conversation], *, on_progress: ProgressCallback | None = None
    ) -> list[Result]: ...


def _runs_whole_queue(executor: object) -> QueueRunner | None:
    if callable(getattr(executor, "run_iter", None)) and callable(getattr(executor, "run_many", None)):
        return executor  # type: ignore[return-value]
    return None


def _check_concurrency(concurrency: int) -> None:
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")


def run_iter(
    conversations: Iterable[m.Conversation],
    executor: Executor | AsyncExecutor,
    *,
    concurrency: int = 8,
    on_progress: ProgressCallback | None = None,
    on_done: DoneCallback | None = None,
) -> Iterator[Result]:
    """Run every conversation, yielding a :class:`Result` per input, in input order.

    At most *concurrency* requests run at once (threads for an :class:`Executor`, tasks on a
    private event loop for an :class:`AsyncExecutor`); the input is read lazily. Closing the
    iterator early cancels what has not started. (An async executor driven from here binds its
    connections to that private loop, which ends with the run: from async code, use
    :func:`arun_iter` instead.) *on_done* sees each result as soon as it is there, in the order
    they finish and from the thread that ran it, before it waits to be handed back in input
    order (a journal of finished work uses it: :func:`convo.jobs.run_file`); an exception it
    raises is raised where that result would have been yielded.

    >>> from convo.executor import MockExecutor
    >>> convs = (m.Conversation(messages=[m.Message("user", str(i))]) for i in range(5))
    >>> [r.response.text for r in run_iter(convs, MockExecutor(lambda c: c.messages[0].text * 2))]
    ['00', '11', '22', '33', '44']
    """
    _check_concurrency(concurrency)
    whole = _runs_whole_queue(executor)
    if whole is not None:  # whole batches, not one request per conversation
        for result in whole.run_iter(conversations, on_progress=on_progress):
            if on_done is not None:
                on_done(result)
            yield result
        return
    tally = ProgressCounter(on_progress, _total(conversations))
    if isinstance(executor, AsyncExecutor):
        yield from _run_iter_async(conversations, executor, concurrency, tally, on_done)
        return
    pool = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="convo-run")
    pending: deque[concurrent.futures.Future[Result]] = deque()
    window = concurrency * _WINDOW_PER_WORKER
    it = iter(conversations)
    index = 0
    try:
        while True:
            while len(pending) < window:
                conv = next(it, _END)
                if conv is _END:
                    break
                pending.append(pool.submit(_call, executor, index, conv, on_done))  # type: ignore[arg-type]
                index += 1
            if not pending:
                return
            result = pending.popleft().result()
            tally(result)
            yield result
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _run_iter_async(
    conversations: Iterable[m.Conversation],
    executor: AsyncExecutor,
    concurrency: int,
    tally: ProgressCounter,
    on_done: DoneCallback | None,
) -> Iterator[Result]:
    # An async executor driven from sync code: its coroutines run on a private event loop in a
    # thread, handed over as concurrent futures, so the ordering logic is the same as above.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="convo-run-loop", daemon=True)
    thread.start()
    sem = asyncio.Semaphore(concurrency)

    async def call(index: int, conv: m.Conversation) -> Result:
        async with sem:
            result = await _acall(executor, index, conv)
        if on_done is not None:
            on_done(result)
        return result

    pending: deque[concurrent.futures.Future[Result]] = deque()
    window = concurrency * _WINDOW_PER_WORKER
    it = iter(conversations)
    index = 0
    try:
        while True:
            while len(pending) < window:
                conv = next(it, _END)
                if conv is _END:
                    break
                pending.append(asyncio.run_coroutine_threadsafe(call(index, conv), loop))  # type: ignore[arg-type]
                index += 1
            if not pending:
                return
            result = pending.popleft().result()
            tally(result)
            yield result
    finally:
        for fut in pending:
            fut.cancel()
        for fut in pending:
            with contextlib.suppress(BaseException):  # cancelled or failed work no longer wanted
                fut.result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def run_many(
    conversations: Iterable[m.Conversation],
    executor: Executor | AsyncExecutor,
    *,
    concurrency: int = 8,
    on_progress: ProgressCallback | None = None,
) -> list[Result]:
    """Run every conversation with bounded concurrency; the results in input order.

    >>> from convo.executor import MockExecutor
    >>> from convo.errors import OverloadedError
    >>> def handler(conv):
    ...     if conv.messages[0].text == "b":
    ...         raise OverloadedError("Overloaded", status=529)
    ...     return conv.messages[0].text.upper()
    >>> convs = [m.Conversation(messages=[m.Message("user", x)]) for x in "abc"]
    >>> [(r.ok, r.response.text if r.ok else type(r.error).__name__)
    ...  for r in run_many(convs, MockExecutor(handler), concurrency=2)]
    [(True, 'A'), (False, 'OverloadedError'), (True, 'C')]
    """
    return list(
        run_iter(conversations, executor, concurrency=concurrency, on_progress=on_progress)
    )


async def arun_iter(
    conversations: Iterable[m.Conversation] | AsyncIterable[m.Conversation],
    executor: Executor | AsyncExecutor,
    *,
    concurrency: int = 8,
    on_progress: ProgressCallback | None = None,
) -> AsyncIterator[Result]:
    """The async form of :func:`run_iter`: an :class:`AsyncExecutor` natively, a sync one in threads.

    >>> import asyncio
    >>> from convo.executor import AsyncMockExecutor
    >>> async def main():
    ...     convs = [m.Conversation(messages=[m.Message("user", x)]) for x in "xyz"]
    ...     ex = AsyncMockExecutor(lambda c: c.messages[0].text + "!")
    ...     return [r.response.text async for r in arun_iter(convs, ex, concurrency=2)]
    >>> asyncio.run(main())
    ['x!', 'y!', 'z!']
    """
    _check_concurrency(concurrency)
    whole = _runs_whole_queue(executor)
    if whole is not None:  # the whole job in a thread, then its results
        if isinstance(conversations, AsyncIterable):
            conversations = [c async for c in conversations]
        convs = conversations
        results = await asyncio.get_running_loop().run_in_executor(
            None, lambda: whole.run_many(convs, on_progress=on_progress)
        )
        for r in results:
            yield r
        return
    tally = ProgressCounter(on_progress, _total(conversations))
    pool: concurrent.futures.ThreadPoolExecutor | None = None
    sem = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()

    if isinstance(executor, AsyncExecutor):
        aexec = executor

        async def call(index: int, conv: m.Conversation) -> Result:
            async with sem:
                return await _acall(aexec, index, conv)

    else:
        sexec = executor
        pool = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="convo-run")
        threads = pool

        async def call(index: int, conv: m.Conversation) -> Result:
            return await loop.run_in_executor(threads, _call, sexec, index, conv)

    if isinstance(conversations, AsyncIterable):
        ait = aiter(conversations)

        async def take() -> Any:
            return await anext(ait, _END)

    else:
        sit = iter(conversations)

        async def take() -> Any:
            return next(sit, _END)

    pending: deque[asyncio.Task[Result]] = deque()
    window = concurrency * _WINDOW_PER_WORKER
    index = 0
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                conv = await take()
                if conv is _END:
                    exhausted = True
                    break
                pending.append(asyncio.ensure_future(call(index, conv)))
                index += 1
            if not pending:
                return
            result = await pending.popleft()
            tally(result)
            yield result
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


async def arun_many(
    conversations: Iterable[m.Conversation] | AsyncIterable[m.Conversation],
    executor: Executor | AsyncExecutor,
    *,
    concurrency: int = 8,
    on_progress: ProgressCallback | None = None,
) -> list[Result]:
    """The async form of :func:`run_many`.

    >>> import asyncio
    >>> from convo.executor import AsyncMockExecutor
    >>> convs = [m.Conversation(messages=[m.Message("user", x)]) for x in "ab"]
    >>> results = asyncio.run(arun_many(convs, AsyncMockExecutor(lambda c: "ok")))
    >>> [(r.index, r.response.text) for r in results]
    [(0, 'ok'), (1, 'ok')]
    """
    return [
        r
        async for r in arun_iter(
            conversations, executor, concurrency=concurrency, on_progress=on_progress
        )
    ]


# --------------------------------------------------------------------------- convo run


_ERROR_TYPES: tuple[tuple[type[Exception], str], ...] = (
    (ValidationError, "validation_error"),
    (APITimeoutError, "api_timeout_error"),
    (APIConnectionError, "api_connection_error"),
    (StreamError, "stream_error"),
    (DecodeError, "decode_error"),
)


def error_record(error: BaseException) -> dict[str, Any]:
    """The ``error`` of an exchange record: the API's error shape, plus the status and request id.

    >>> from convo.errors import RateLimitError
    >>> error_record(RateLimitError("slow down", status=429, type="rate_limit_error", request_id="req_1"))
    {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'slow down'}, 'status': 429, 'request_id': 'req_1'}
    """
    if isinstance(error, APIStatusError):
        out: dict[str, Any] = {
            "type": "error",
            "error": {"type": error.type or "api_error", "message": error.message},
            "status": error.status,
        }
        if error.request_id:
            out["request_id"] = error.request_id
        return out
    kind = next((name for cls, name in _ERROR_TYPES if isinstance(error, cls)), None)
    if kind is None:
        kind = "client_error"
    out = {"type": "error", "error": {"type": kind, "message": str(error)}}
    if isinstance(error, ValidationError):
        out["error"]["violations"] = [
            {"rule": v.rule, "path": v.path, "message": v.message, "hint": v.hint}
            for v in error.report.errors
        ]
    return out
