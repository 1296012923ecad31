"""The executor seam: one method, ``execute(conversation) -> Response``, plus close and ``with``.

Layer: executor. Like httpx's transports, an executor is a tiny base class; HTTP, mock and replay
executors implement it, and :func:`~convo.executor.run_many` drives any of them. Executors never
change the conversation: ``conversation.with_response(response)`` appends the reply.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

from convo import model as m

if TYPE_CHECKING:
    from convo.executor._sse import StreamEvent

__all__ = ["AsyncExecutor", "EventCallback", "Executor"]

EventCallback = Callable[["StreamEvent"], None]


class Executor(abc.ABC):
    """Sends a conversation somewhere and returns the reply.

    >>> class Echo(Executor):
    ...     def execute(self, conversation):
    ...         return m.Response(content=(m.Text(conversation.messages[-1].text),))
    >>> with Echo() as ex:
    ...     ex.execute(m.Conversation(messages=[m.Message("user", "hi")])).text
    'hi'
    """

    @abc.abstractmethod
    def execute(self, conversation: m.Conversation) -> m.Response:
        """The model's reply to *conversation*."""

    def execute_stream(
        self, conversation: m.Conversation, *, on_event: EventCallback | None = None
    ) -> m.Response:
        """The reply, streamed where the executor can: *on_event* sees every event as it comes.

        The base version has no stream to show: it calls :meth:`execute`, and *on_event* sees
        the events that the reply would have streamed as.
        """
        resp = self.execute(conversation)
        if on_event is not None:
            from convo.executor._sse import events_from_response

            for ev in events_from_response(resp):
                on_event(ev)
        return resp

    def count_tokens(self, conversation: m.Conversation) -> int:
        """The number of input tokens *conversation* would use."""
        raise NotImplementedError(f"{type(self).__name__} cannot count tokens")

    def close(self) -> None:  # noqa: B027 - optional: most executors hold nothing
        """Release what the executor holds (connections, files). Closing twice is harmless."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncExecutor(abc.ABC):
    """The async twin of :class:`Executor`: ``await execute(...)``, ``aclose()``, ``async with``.

    >>> import asyncio
    >>> class Echo(AsyncExecutor):
    ...     async def execute(self, conversation):
    ...         return m.Response(content=(m.Text(conversation.messages[-1].text),))
    >>> async def main():
    ...     async with Echo() as ex:
    ...         return (await ex.execute(m.Conversation(messages=[m.Message("user", "hi")]))).text
    >>> asyncio.run(main())
    'hi'
    """

    @abc.abstractmethod
    async def execute(self, conversation: m.Conversation) -> m.Response:
        """The model's reply to *conversation*."""

    async def execute_stream(
        self, conversation: m.Conversation, *, on_event: EventCallback | None = None
    ) -> m.Response:
        """The reply, streamed where the executor can (see :meth:`Executor.execute_stream`)."""
        resp = await self.execute(conversation)
        if on_event is not None:
            from convo.executor._sse import events_from_response

            for ev in events_from_response(resp):
                on_event(ev)
        return resp

    async def count_tokens(self, conversation: m.Conversation) -> int:
        """The number of input tokens *conversation* would use."""
        raise NotImplementedError(f"{type(self).__name__} cannot count tokens")

    async def aclose(self) -> None:  # noqa: B027 - optional: most executors hold nothing
        """Release what the executor holds. Closing twice is harmless."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
