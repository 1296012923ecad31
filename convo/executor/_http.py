"""The HTTP executors: the Messages API over httpx, with the official SDK's retries and streaming.

Layer: executor, the only code that touches the network. :class:`HttpExecutor` and
:class:`AsyncHttpExecutor` share everything but the I/O calls: the configuration (key, base URL,
API version, betas, read from ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL`` like the SDK, facts
§6.1 and §10), the request bodies (:func:`convo.dumps`), the check with :func:`convo.validate`
before anything is sent, the retry decisions (:class:`~convo.executor.RetryPolicy`) and the
mapping of error statuses to :mod:`convo.errors`.

The API key is held in a ``str`` subclass whose repr is ``'<redacted>'``, so it stays out of
reprs, tracebacks with locals and log lines; nothing here logs headers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from convo import model as m
from convo._json import UNSET, Unset
from convo.codec import dumps, loads_response, unstructure
from convo.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConvoError,
    StreamError,
    ValidationError,
    error_for_status,
)
from convo.executor._base import AsyncExecutor, EventCallback, Executor
from convo.executor._retry import RetryPolicy, SharedBackoff
from convo.executor._sse import ServerSentEvent, SSEDecoder, StreamAssembler, _to_stream_event

if TYPE_CHECKING:
    from convo.rules import Report

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "AsyncHttpExecutor",
    "ExecutorStats",
    "HttpExecutor",
]

log = logging.getLogger("convo.executor")

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_API_VERSION = "2026-10-21"
# the SDK's defaults (facts §5.3): 10 minutes, 5 s to connect; a large pool
DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)

# CreateMessageParams keys that CountMessageTokensParams does not take (spec/; facts §6.2)
_NOT_COUNTED = (
    "max_tokens",
    "stream",
    "stop_sequences",
    "temperature",
    "top_p",
    "top_k",
    "metadata",
    "service_tier",
    "container",
    "inference_geo",
    "user_profile_id",
)


def _user_agent() -> str:
    try:
        from importlib.metadata import version

        return f"convo/{version('convo')}"
    except Exception:  # not installed as a distribution (a bare checkout): still say who we are
        return "convo"


_USER_AGENT = _user_agent()


class _Secret(str):
    """A string (the key, a header carrying it) whose repr never shows it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


def _key_problem(key: object) -> str | None:
    """What makes *key* unusable in a header, in words that never show the key, or None.

    A key read with ``$(cat keyfile)`` or copied from a document can end with a newline, carry a
    control or non-ASCII character (a curly quote, a non-breaking space): h11 would refuse the
    header with the key in its message, and a retry loop would take it for a network error.

    >>> _key_problem("sk-ant-api03-abc\\n"), _key_problem("sk-ant-\\u00e9"), _key_problem("sk-ant-ok")
    ('ends with whitespace (a newline, as `$(cat keyfile)` can leave?): strip it', 'has a non-ASCII character (at position 8 of 8)', None)
    """
    if not isinstance(key, str):
        return f"is a {type(key).__name__}, not a string"
    if key != key.strip():
        end = "ends" if key[-1:].isspace() else "starts"
        hint = " (a newline, as `$(cat keyfile)` can leave?)" if key.endswith(("\n", "\r")) else ""
        return f"{end} with whitespace{hint}: strip it"
    for i, ch in enumerate(key):
        if ord(ch) > 126:
            return f"has a non-ASCII character (at position {i + 1} of {len(key)})"
        if ord(ch) < 32 or ord(ch) == 127:
            return f"has a control character (at position {i + 1} of {len(key)})"
        if ch == " ":
            return f"has a space (at position {i + 1} of {len(key)})"
    return None


def _header_problem(name: object, value: object) -> str | None:
    """What makes a header unusable (never showing its value), or None."""
    if not isinstance(name, str) or not name or any(ord(c) <= 32 or ord(c) > 126 or c == ":" for c in name):
        return "has a name that is not a header name"
    if not isinstance(value, str):
        return f"has a {type(value).__name__} value, not a string"
    for i, ch in enumerate(value):
        if ord(ch) > 126 or (ord(ch) < 32 and ch != "\t") or ord(ch) == 127:
            kind = "a non-ASCII" if ord(ch) > 126 else "a control"
            return f"has {kind} character in its value (at position {i + 1} of {len(value)})"
    if value != value.strip():
        return "has a value that starts or ends with whitespace"
    return None


def _shown_name(name: object) -> str:
    text = repr(name)
    return text if len(text) <= 60 and isinstance(name, str) and name.isascii() else "(a header)"


class ExecutorStats:
    """Counters of an HTTP executor: attempts sent, retries taken (thread-safe).

    >>> s = ExecutorStats(); s.add(requests=3, retries=1); (s.requests, s.retries)
    (3, 1)
    """

    __slots__ = ("_lock", "requests", "retries")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0

    def add(self, *, requests: int = 0, retries: int = 0) -> None:
        """Count more attempts and retries."""
        with self._lock:
            self.requests += requests
            self.retries += retries

    def __repr__(self) -> str:
        return f"ExecutorStats(requests={self.requests}, retries={self.retries})"


def _describe(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _deliver(acc: StreamAssembler, sse: ServerSentEvent, callback: EventCallback | None) -> bool:
    """Feed one event to the assembler, then to the caller; True once the message is complete."""
    ev = _to_stream_event(sse)
    acc.feed(ev.data, ev.event)
    if callback is not None:
        callback(ev)
    return acc.done


def _error_body(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode("utf-8", "replace")[:500]


class _HttpConfig:
    """What both HTTP executors share: configuration, bodies, checks, retry decisions."""

    def __init__(
        self,
        api_key: str | None,
        *,
        base_url: str | None,
        api_version: str,
        betas: Iterable[str],
        timeout: float | httpx.Timeout | Unset | None,
        retry: RetryPolicy | None,
        validate: bool,
        headers: Mapping[str, str] | None,
        backoff: SharedBackoff | None,
        owns_client: bool,
        on_event: EventCallback | None = None,
        stream: bool = False,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY") or None
        if not key:
            raise ConvoError(
                "no API key: pass api_key=... or set the ANTHROPIC_API_KEY environment variable"
            )
        problem = _key_problem(key)
        if problem is not None:  # before any request: h11 would refuse it with the key in its message
            where = "api_key" if api_key is not None else "ANTHROPIC_API_KEY"
            raise ConvoError(f"the API key ({where}) {problem}; nothing was sent") from None
        self._api_key = _Secret(key)
        base = base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = base.rstrip("/")
        self.api_version = api_version
        self.betas = tuple(betas)
        self.retry = retry if retry is not None else RetryPolicy()
        self.validate = validate
        # conversations the caller checked against the same rules just before sending them
        # (convo.jobs.run_file rejects a line that breaks one): id -> the value, each taken once
        # by _check (holding the value keeps its id from being reused while it waits)
        self._prechecked: dict[int, m.Conversation] = {}
        self.on_event = on_event
        self.stream = stream
        self.stats = ExecutorStats()
        self.backoff = backoff if backoff is not None else SharedBackoff(clock=self.retry.clock)
        self._timeout = timeout
        self._owns_client = owns_client
        h: dict[str, str] = {
            "accept": "application/json",
            "content-type": "application/json",
            "user-agent": _USER_AGENT,
            "anthropic-version": api_version,
        }
        # The 2.x SDK (anthropic-version 2026-10-21) sends the key as a bearer token; the
        # 2023-06-01 generation sends x-api-key (facts §6.1, §10).
        if api_version >= "2026-10-21":
            h["authorization"] = _Secret("Bearer " + key)
        else:
            h["x-api-key"] = self._api_key
        if self.betas:
            h["anthropic-beta"] = ",".join(self.betas)
        key_header = h.get("authorization", h.get("x-api-key"))
        if headers:
            h.update(headers)
        for name, value in h.items():  # the version, the betas, the caller's headers
            if value is key_header:
                continue  # the key: checked above
            bad = _header_problem(name, value)
            if bad is not None:
                raise ConvoError(f"the header {_shown_name(name)} {bad}; nothing was sent")
        self._headers = h
        # parsed once: httpx re-parses a string URL on every request
        self._messages_url = httpx.URL(self.base_url + "/v1/messages")
        self._count_url = httpx.URL(self.base_url + "/v1/messages/count_tokens")

    def __repr__(self) -> str:
        parts = [f"base_url={self.base_url!r}", f"api_version={self.api_version!r}"]
        if self.betas:
            parts.append(f"betas={self.betas!r}")
        if self.stream:
            parts.append("stream=True")
        parts.append("api_key=<redacted>")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -- requests

    def _check(self, conversation: m.Conversation) -> None:
        if not self.validate:
            return
        if self._prechecked.pop(id(conversation), None) is conversation:
            return  # checked by the caller under the same rules (see rules_check): not twice
        report = self.rules_check(conversation)
        if not report.ok:
            raise ValidationError(report)

    def rules_check(self, conversation: m.Conversation, *, sending: bool = False) -> Report:
        """The report of the rules this executor checks before sending *conversation* (its API
        version and ``anthropic-beta`` headers). With *sending*, a clean report also tells the
        executor that this very value is about to be sent: it is not checked a second time
        (``convo.jobs.run_file`` rejects the lines that break a rule this way).

        >>> ex = HttpExecutor(api_key="sk-ant-test", base_url="http://127.0.0.1:9")
        >>> from convo.model import Conversation
        >>> ex.rules_check(Conversation(model="claude-opus-4-8", max_tokens=16)).rules
        ('messages.empty',)
        >>> ex.close()
        """
        from convo import rules  # looked up per call, so the rules module can be swapped in tests

        report = rules.validate(conversation, api_version=self.api_version, betas=self.betas)
        if sending and report.ok:
            self._prechecked[id(conversation)] = conversation
        return report

    def _streams(self, conversation: m.Conversation) -> bool:
        return self.stream or conversation.stream is True

    @staticmethod
    def _body(conversation: m.Conversation, stream: bool) -> bytes:
        if stream and conversation.stream is not True:
            d = unstructure(conversation)
            d["stream"] = True
            return orjson.dumps(d)
        return dumps(conversation)

    @staticmethod
    def _count_body(conversation: m.Conversation) -> bytes:
        d = unstructure(conversation)
        for k in _NOT_COUNTED:
            d.pop(k, None)
        return orjson.dumps(d)

    def _attempt_headers(self, retries: int) -> dict[str, str]:
        h = dict(self._headers)
        h["x-stainless-retry-count"] = str(retries)
        return h

    def _request_kwargs(self) -> dict[str, Any]:
        return {} if self._timeout is UNSET else {"timeout": self._timeout}

    # -- responses

    def _retry_status(self, retries: int, response: httpx.Response) -> float | None:
        """The wait before retrying this error response, or None when it is final."""
        policy = self.retry
        if not policy.should_retry(response.status_code, response.headers):
            return None
        server_wait = policy.honoured_retry_after(response.headers)
        if server_wait is not None:
            # every request of this executor waits with this one, even when this one has no
            # retries left: the server's limit holds for all of them
            self.backoff.hold(server_wait)
        if retries >= policy.max_retries:
            return None
        delay = policy.delay(retries, response.headers)
        log.info(
            "retrying %s in %.3f s after HTTP %d (retry %d of %d)",
            response.request.url.path,
            delay,
            response.status_code,
            retries + 1,
            policy.max_retries,
        )
        return delay

    def _retry_error(self, retries: int, err: APIError) -> float | None:
        policy = self.retry
        if not policy.connection_errors or retries >= policy.max_retries:
            return None
        delay = policy.delay(retries)
        log.info(
            "retrying in %.3f s after %s (retry %d of %d)",
            delay,
            type(err).__name__,
            retries + 1,
            policy.max_retries,
        )
        return delay

    @staticmethod
    def _transport_error(e: httpx.TransportError) -> APIError:
        if isinstance(e, httpx.TimeoutException):
            return APITimeoutError(f"request timed out ({_describe(e)})")
        if isinstance(e, httpx.LocalProtocolError):
            # h11's message quotes the header it refused, a key included: never keep it
            return APIError("the request could not be written: a header is not valid HTTP "
                            "(httpx.LocalProtocolError; its message is not shown, as it may hold "
                            "a header's value)")
        return APIConnectionError(f"connection error ({_describe(e)})")

    @staticmethod
    def _status_error(response: httpx.Response, content: bytes) -> APIStatusError:
        return error_for_status(response.status_code, _error_body(content), response.headers)

    @staticmethod
    def _count_result(content: bytes) -> int:
        try:
            n = orjson.loads(content).get("input_tokens")
        except (orjson.JSONDecodeError, AttributeError):
            n = None
        if type(n) is not int:
            raise APIError("count_tokens answered without an integer input_tokens")
        return n

    def _events(self, on_event: EventCallback | None) -> EventCallback | None:
        if self.on_event is None:
            return on_event
        if on_event is None:
            return self.on_event
        first, second = self.on_event, on_event

        def both(ev: Any) -> None:
            first(ev)
            second(ev)

        return both


def default_client(timeout: float | httpx.Timeout | Unset | None = UNSET) -> httpx.Client:
    """The httpx client convo builds when none is injected: the SDK's timeout and pool limits,
    over httpcore2's connection pool (see ``_pool``; httpx's own when a proxy is configured)."""
    from convo.executor._pool import Transport, env_proxies  # httpcore2 loads with the first client

    t = DEFAULT_TIMEOUT if timeout is UNSET else timeout
    if env_proxies():  # httpx honours HTTP(S)_PROXY / ALL_PROXY with its own transport only
        return httpx.Client(timeout=t, limits=DEFAULT_LIMITS)
    return httpx.Client(timeout=t, transport=Transport(DEFAULT_LIMITS))


def default_async_client(timeout: float | httpx.Timeout | Unset | None = UNSET) -> httpx.AsyncClient:
    """:func:`default_client` for async code."""
    from convo.executor._pool import AsyncTransport, env_proxies

    t = DEFAULT_TIMEOUT if timeout is UNSET else timeout
    if env_proxies():
        return httpx.AsyncClient(timeout=t, limits=DEFAULT_LIMITS)
    return httpx.AsyncClient(timeout=t, transport=AsyncTransport(DEFAULT_LIMITS))


def send_with_retries(
    config: _HttpConfig,
    client: httpx.Client,
    method: str,
    url: httpx.URL | str,
    *,
    body: bytes | None = None,
    params: Mapping[str, str] | None = None,
    accept: str | None = None,
    stream: bool = False,
    on_transport_error: Callable[[httpx.TransportError, APIError], None] | None = None,
) -> httpx.Response:
    """One API call with *config*'s headers, retry policy, shared back-off and error mapping.

    The one synchronous retry loop: :class:`HttpExecutor` and the batch executor both send
    through it. *on_transport_error* sees a transport failure before the retry decision and may
    raise instead (a batch create must not be retried blindly once it may have been sent).
    """
    policy = config.retry
    retries = 0
    kwargs = config._request_kwargs()
    while True:
        wait = config.backoff.remaining()
        if wait > 0:
            policy.sleep(wait)
        config.stats.add(requests=1)
        headers = config._attempt_headers(retries)
        if accept is not None:
            headers["accept"] = accept
        request = client.build_request(
            method, url, content=body, params=params, headers=headers, **kwargs
        )
        try:
            response = client.send(request, stream=stream)
            if response.is_success:
                return response
            try:
                content = response.read()
            finally:
                response.close()
        except httpx.TransportError as e:
            err = config._transport_error(e)
            if not isinstance(err, APIConnectionError):  # it would fail the same way again
                raise err from None  # (and the cause's message may hold a header's value)
            if on_transport_error is not None:
                on_transport_error(e, err)
            delay = config._retry_error(retries, err)
            if delay is None:
                raise err from e
        else:
            delay = config._retry_status(retries, response)
            if delay is None:
                raise config._status_error(response, content)
        policy.sleep(delay)
        retries += 1
        config.stats.add(retries=1)


class HttpExecutor(_HttpConfig, Executor):
    """Runs conversations against the Messages API (or anything that speaks it) with httpx.

    ``api_key`` and ``base_url`` default to ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``;
    ``api_version`` is ``"2026-10-21"`` (the key sent as ``Authorization: Bearer``) or
    ``"2023-06-01"`` (``x-api-key``); ``betas`` become the ``anthropic-beta`` header. An injected
    ``client`` is used as it is and left open on :meth:`close`. With ``validate`` (the default)
    a conversation that breaks the API's rules raises :class:`convo.ValidationError` before
    anything is sent. ``stream=True`` streams every call (the reply is the same).

    >>> ex = HttpExecutor("sk-ant-secret", base_url="http://127.0.0.1:9")
    >>> ex
    HttpExecutor(base_url='http://127.0.0.1:9', api_version='2026-10-21', api_key=<redacted>)
    >>> ex.close()
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
        on_event: EventCallback | None = None,
        stream: bool = False,
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
            on_event=on_event,
            stream=stream,
            headers=headers,
            backoff=backoff,
            owns_client=client is None,
        )
        self._client = client if client is not None else default_client(timeout)

    def execute(self, conversation: m.Conversation) -> m.Response:
        """Send *conversation* and return the reply (streamed on the wire if configured so)."""
        if self._streams(conversation):
            return self.execute_stream(conversation)
        self._check(conversation)
        response = self._send(self._messages_url, self._body(conversation, False))
        return loads_response(response.content)

    def execute_stream(
        self, conversation: m.Conversation, *, on_event: EventCallback | None = None
    ) -> m.Response:
        """Send *conversation* with ``stream: true``; *on_event* sees each event as it arrives.

        Returns the same :class:`~convo.model.Response` a non-streaming call returns.
        """
        self._check(conversation)
        callback = self._events(on_event)
        response = self._send(self._messages_url, self._body(conversation, True), stream=True)
        acc = StreamAssembler(headers=response.headers)
        decoder = SSEDecoder()
        try:
            try:
                for chunk in response.iter_bytes():
                    for sse in decoder.feed(chunk):
                        if _deliver(acc, sse, callback):
                            return acc.response()
                for sse in decoder.flush():
                    if _deliver(acc, sse, callback):
                        return acc.response()
            except httpx.TransportError as e:
                # events were already delivered: the SDK does not retry a broken stream either
                raise StreamError(f"the stream broke off ({_describe(e)})") from e
        finally:
            response.close()
        return acc.response()  # raises StreamError: no message_stop

    def count_tokens(self, conversation: m.Conversation) -> int:
        """Input tokens of *conversation*, from ``POST /v1/messages/count_tokens``."""
        response = self._send(self._count_url, self._count_body(conversation))
        return self._count_result(response.content)

    def _send(self, url: httpx.URL, body: bytes, *, stream: bool = False) -> httpx.Response:
        return send_with_retries(self, self._client, "POST", url, body=body, stream=stream)

    def close(self) -> None:
        """Close the connection pool (an injected client is left to its owner)."""
        if self._owns_client:
            self._client.close()


class AsyncHttpExecutor(_HttpConfig, AsyncExecutor):
    """The async twin of :class:`HttpExecutor` (``httpx.AsyncClient``; same arguments).

    >>> import asyncio
    >>> async def main():
    ...     async with AsyncHttpExecutor("sk-ant-secret", base_url="http://127.0.0.1:9") as ex:
    ...         return repr(ex)
    >>> asyncio.run(main())
    "AsyncHttpExecutor(base_url='http://127.0.0.1:9', api_version='2026-10-21', api_key=<redacted>)"
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        betas: Iterable[str] = (),
        client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout | Unset | None = UNSET,
        retry: RetryPolicy | None = None,
        validate: bool = True,
        on_event: EventCallback | None = None,
        stream: bool = False,
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
            on_event=on_event,
            stream=stream,
            headers=headers,
            backoff=backoff,
            owns_client=client is None,
        )
        self._timeout = timeout
        self._client = client if client is not None else default_async_client(timeout)
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the owned client serves
        self._guard: AsyncIterator[None] | None = None
        self._closed_with_loop = False  # the owned client was closed as its loop ended

    async def _current_client(self) -> httpx.AsyncClient:
        """The client for the running event loop.

        Pooled connections belong to the loop they were opened in, so an executor used under
        several loops (``asyncio.run`` called again, say) gets a client per loop: the owned
        client is closed when its loop shuts down (``asyncio.run`` ends by closing the loop's
        async generators, one of which closes it), and the next loop gets a new one. Reusing the
        old one would fail with "Event loop is closed" [OBS httpx 0.28, Python 3.11]. An injected
        client is used as it is: its owner decides.
        """
        if not self._owns_client:
            return self._client
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # used under a loop that is gone (or runs elsewhere), or closed with one: start anew
            # (built only now: a client costs ~20 ms, most of it the TLS context)
            if self._loop is not None or self._closed_with_loop:
                self._client = default_async_client(self._timeout)
                self._closed_with_loop = False
            self._loop = loop
            guard = self._close_with_loop(self._client)
            await guard.__anext__()  # started in this loop: asyncio.run closes it before the loop
            self._guard = guard
        return self._client

    async def _close_with_loop(self, client: httpx.AsyncClient) -> AsyncIterator[None]:
        try:
            yield
        finally:  # the loop is shutting down, and still runs: close its connections cleanly
            if self._client is client:
                self._loop = None
                self._guard = None
                self._closed_with_loop = True
            await client.aclose()

    async def execute(self, conversation: m.Conversation) -> m.Response:
        """Send *conversation* and return the reply (streamed on the wire if configured so)."""
        if self._streams(conversation):
            return await self.execute_stream(conversation)
        self._check(conversation)
        response = await self._send(self._messages_url, self._body(conversation, False))
        return loads_response(response.content)

    async def execute_stream(
        self, conversation: m.Conversation, *, on_event: EventCallback | None = None
    ) -> m.Response:
        """Send *conversation* with ``stream: true``; *on_event* sees each event as it arrives."""
        self._check(conversation)
        callback = self._events(on_event)
        response = await self._send(self._messages_url, self._body(conversation, True), stream=True)
        acc = StreamAssembler(headers=response.headers)
        decoder = SSEDecoder()
        try:
            try:
                async for chunk in response.aiter_bytes():
                    for sse in decoder.feed(chunk):
                        if _deliver(acc, sse, callback):
                            return acc.response()
                for sse in decoder.flush():
                    if _deliver(acc, sse, callback):
                        return acc.response()
            except httpx.TransportError as e:
                raise StreamError(f"the stream broke off ({_describe(e)})") from e
        finally:
            await response.aclose()
        return acc.response()

    async def count_tokens(self, conversation: m.Conversation) -> int:
        """Input tokens of *conversation*, from ``POST /v1/messages/count_tokens``."""
        response = await self._send(self._count_url, self._count_body(conversation))
        return self._count_result(response.content)

    async def _send(self, url: httpx.URL, body: bytes, *, stream: bool = False) -> httpx.Response:
        policy = self.retry
        retries = 0
        kwargs = self._request_kwargs()
        client = await self._current_client()
        while True:
            wait = self.backoff.remaining()
            if wait > 0:
                await policy.async_sleep(wait)
            self.stats.add(requests=1)
            request = client.build_request(
                "POST", url, content=body, headers=self._attempt_headers(retries), **kwargs
            )
            try:
                response = await client.send(request, stream=stream)
                if response.is_success:
                    return response
                try:
                    content = await response.aread()
                finally:
                    await response.aclose()
            except httpx.TransportError as e:
                err = self._transport_error(e)
                if not isinstance(err, APIConnectionError):  # it would fail the same way again
                    raise err from None  # (and the cause's message may hold a header's value)
                delay = self._retry_error(retries, err)
                if delay is None:
                    raise err from e
            else:
                delay = self._retry_status(retries, response)
                if delay is None:
                    raise self._status_error(response, content)
            await policy.async_sleep(delay)
            retries += 1
            self.stats.add(retries=1)

    async def aclose(self) -> None:
        """Close the connection pool (an injected client is left to its owner)."""
        if self._owns_client:
            await self._client.aclose()
