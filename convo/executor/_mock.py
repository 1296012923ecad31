"""Mock executors: a plain function of the conversation answers it, for tests of pipelines.

Layer: executor. No network, no threads of its own. The handler returns a
:class:`~convo.model.Response`, or a string that becomes a complete ``end_turn`` reply; it may
raise any :mod:`convo.errors` exception to play a failure.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from convo import model as m
from convo.codec import dumps
from convo.executor._base import AsyncExecutor, Executor
from convo.transforms.tokens import estimate_tokens, text_tokens

__all__ = ["AsyncMockExecutor", "MockExecutor", "reply"]


def reply(conversation: m.Conversation, text: str) -> m.Response:
    """A complete ``end_turn`` response carrying *text*, as a mock answers with a string.

    The id is derived from the request, so the same conversation gets the same id.

    >>> conv = m.Conversation(model="claude-opus-4-8", messages=[m.Message("user", "Hi")])
    >>> r = reply(conv, "Hello!")
    >>> r.text, r.model, r.stop_reason, r.usage.output_tokens
    ('Hello!', 'claude-opus-4-8', 'end_turn', 2)
    """
    body = dumps(conversation)
    digest = hashlib.sha256(body).hexdigest()[:24]
    # typed loosely: mypy's attrs plugin reads the tuple converter's parameter as unsolved
    content: Any = (m.Text(text),)
    return m.Response(
        id=f"msg_mock_{digest}",
        model=conversation.model if isinstance(conversation.model, str) else "mock",
        content=content,
        stop_reason="end_turn",
        stop_sequence=None,
        # convo's one estimate (convo.transforms.estimate_tokens), as the emulator answers too
        usage=m.Usage(input_tokens=max(1, estimate_tokens(conversation)), output_tokens=max(1, text_tokens(text))),
    )


def _as_response(conversation: m.Conversation, out: Any) -> m.Response:
    if isinstance(out, m.Response):
        return out
    if isinstance(out, str):
        return reply(conversation, out)
    raise TypeError(f"a mock handler must return a Response or a str, not {type(out).__name__}")


class MockExecutor(Executor):
    """An executor whose replies come from ``handler(conversation)``.

    Every conversation it was given is kept in :attr:`calls`, in order.

    >>> ex = MockExecutor(lambda conv: "echo: " + conv.messages[-1].text)
    >>> ex.execute(m.Conversation(messages=[m.Message("user", "ping")])).text
    'echo: ping'
    >>> len(ex.calls)
    1
    """

    def __init__(
        self,
        handler: Callable[[m.Conversation], m.Response | str],
        *,
        count_tokens: Callable[[m.Conversation], int] | None = None,
    ) -> None:
        self.handler = handler
        self._count = count_tokens
        self.calls: list[m.Conversation] = []

    def __repr__(self) -> str:
        return f"MockExecutor({getattr(self.handler, '__name__', self.handler)!s})"

    def execute(self, conversation: m.Conversation) -> m.Response:
        """The handler's reply to *conversation*."""
        self.calls.append(conversation)  # list.append is atomic: safe from run_many's threads
        return _as_response(conversation, self.handler(conversation))

    def count_tokens(self, conversation: m.Conversation) -> int:
        """The ``count_tokens`` function's answer, else an estimate (four characters a token)."""
        if self._count is not None:
            return self._count(conversation)
        return max(1, estimate_tokens(conversation))


class AsyncMockExecutor(AsyncExecutor):
    """:class:`MockExecutor` for async code; the handler may be a plain or an async function.

    >>> import asyncio
    >>> async def handler(conv):
    ...     return "hi " + conv.messages[-1].text
    >>> ex = AsyncMockExecutor(handler)
    >>> asyncio.run(ex.execute(m.Conversation(messages=[m.Message("user", "you")]))).text
    'hi you'
    """

    def __init__(
        self,
        handler: Callable[[m.Conversation], m.Response | str | Awaitable[m.Response | str]],
        *,
        count_tokens: Callable[[m.Conversation], int] | None = None,
    ) -> None:
        self.handler = handler
        self._count = count_tokens
        self.calls: list[m.Conversation] = []

    def __repr__(self) -> str:
        return f"AsyncMockExecutor({getattr(self.handler, '__name__', self.handler)!s})"

    async def execute(self, conversation: m.Conversation) -> m.Response:
        """The handler's reply to *conversation* (awaited when it is a coroutine)."""
        self.calls.append(conversation)
        out = self.handler(conversation)
        if inspect.isawaitable(out):
            out = await out
        return _as_response(conversation, out)

    async def count_tokens(self, conversation: m.Conversation) -> int:
        """The ``count_tokens`` function's answer, else an estimate (four characters a token)."""
        if self._count is not None:
            return self._count(conversation)
        return max(1, estimate_tokens(conversation))
