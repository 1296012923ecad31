"""Server-sent events: the wire format parsed, and a Messages API stream assembled into a Response.

Layer: executor. :class:`SSEDecoder` turns bytes into :class:`ServerSentEvent` values (named events,
multi-line ``data``, comments, ``id``/``retry``, CRLF, CR or LF line ends, chunks split anywhere);
:func:`iter_events` decodes each event's JSON into a :class:`StreamEvent`;
:class:`StreamAssembler` folds the events of one ``POST /v1/messages`` stream into the same
:class:`~convo.model.Response` the non-streaming call returns (facts §8). :func:`events_from_response`
goes the other way, for mocks and replays that must stream a response they hold whole.

Hand-written: against httpx-sse 0.4.3 (``benchmarks/handwritten.py``, 627 recorded live events,
load 11) the decoder costs 4.2 us an event in per-event chunks, 3.2 us in 16 KiB (httpx-sse's
decoders 1.00x, 0.97x; its ``EventSource`` over a response 1.19x, 1.04x our ``iter_sse``); and
httpx-sse drops a last event with no blank line after it (recordings end so), emits data-less ones.

>>> body = (b'event: message_start\\ndata: {"type":"message_start","message":{"id":"msg_1",'
...         b'"type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,'
...         b'"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\\n\\n'
...         b'event: content_block_start\\ndata: {"type":"content_block_start","index":0,'
...         b'"content_block":{"type":"text","text":""}}\\n\\n'
...         b'event: content_block_delta\\ndata: {"type":"content_block_delta","index":0,'
...         b'"delta":{"type":"text_delta","text":"Hi"}}\\n\\n'
...         b'event: content_block_stop\\ndata: {"type":"content_block_stop","index":0}\\n\\n'
...         b'event: message_delta\\ndata: {"type":"message_delta","delta":{"stop_reason":'
...         b'"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}\\n\\n'
...         b'event: message_stop\\ndata: {"type":"message_stop"}\\n\\n')
>>> resp = assemble(iter_events([body]))
>>> resp.text, resp.stop_reason, resp.usage.output_tokens
('Hi', 'end_turn', 2)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson
from attrs import frozen

from convo import model as m
from convo.codec import structure, unstructure
from convo.errors import DecodeError, StreamError, error_for_status

__all__ = [
    "SSEDecoder",
    "ServerSentEvent",
    "StreamAssembler",
    "StreamEvent",
    "aiter_events",
    "assemble",
    "events_from_response",
    "iter_events",
    "iter_sse",
    "parse_partial_json",
]


@frozen
class ServerSentEvent:
    """One event of a ``text/event-stream``: its name, its data (lines joined by ``\\n``), id, retry.

    >>> ServerSentEvent("ping", '{"type": "ping"}')
    ServerSentEvent(event='ping', data='{"type": "ping"}', id=None, retry=None)
    """

    event: str | None
    data: str
    id: str | None = None
    retry: int | None = None


@frozen
class StreamEvent:
    """One Messages API stream event: the SSE event name and its decoded JSON ``data``.

    ``data`` is the plain decoded JSON (a dict for every event the API sends); by the API's
    convention ``data["type"]`` repeats the event name.

    >>> StreamEvent("ping", {"type": "ping"}).type
    'ping'
    """

    event: str
    data: Any

    @property
    def type(self) -> str:
        """The event's type: ``data["type"]`` when the data carries one, else the SSE name."""
        d = self.data
        if isinstance(d, dict):
            t = d.get("type")
            if isinstance(t, str):
                return t
        return self.event


# --------------------------------------------------------------------------- the SSE wire format


class SSEDecoder:
    """Incremental ``text/event-stream`` parser (the WHATWG event-stream interpretation).

    Feed it chunks of bytes as they arrive; it returns the events each chunk completes. A line
    may end in CRLF, LF or CR, and a chunk may end anywhere, even between CR and LF. Comments
    (``:...``) are skipped; an event is dispatched on a blank line when it has data. At the end of
    the stream :meth:`flush` dispatches an event whose final blank line never came (real
    recordings end that way).

    >>> d = SSEDecoder()
    >>> d.feed(b"event: ping\\r\\ndata: {}\\r")
    []
    >>> d.feed(b"\\n\\r\\n: a comment\\ndata: line 1\\ndata: line 2\\n")
    [ServerSentEvent(event='ping', data='{}', id=None, retry=None)]
    >>> d.flush()
    [ServerSentEvent(event=None, data='line 1\\nline 2', id=None, retry=None)]
    """

    __slots__ = ("_after_cr", "_data", "_event", "_id", "_parts", "_retry")

    def __init__(self) -> None:
        self._parts: list[bytes] = []  # an incomplete line, kept in pieces (no quadratic joins)
        self._after_cr = False  # the last chunk ended in CR: a leading LF belongs to that line end
        self._event: str | None = None
        self._data: list[bytes] = []
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events that *chunk* completes (possibly none)."""
        out: list[ServerSentEvent] = []
        if not chunk:
            return out
        if self._after_cr:
            self._after_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
                if not chunk:
                    return out
        if b"\n" not in chunk and b"\r" not in chunk:
            self._parts.append(chunk)
            return out
        if self._parts:
            self._parts.append(chunk)
            chunk = b"".join(self._parts)
            self._parts = []
        lines = chunk.splitlines(keepends=True)  # bytes split only on \r, \n and \r\n
        last = lines[-1]
        if last[-1:] not in (b"\n", b"\r"):
            self._parts.append(last)
            lines.pop()
        elif last[-1:] == b"\r":
            self._after_cr = True
        for line in lines:
            self._line(line.rstrip(b"\r\n"), out)
        return out

    def flush(self) -> list[ServerSentEvent]:
        """At the end of the stream: the pending line and event, if any."""
        out: list[ServerSentEvent] = []
        if self._parts:
            line = b"".join(self._parts)
            self._parts = []
            self._line(line, out)
        self._line(b"", out)
        return out

    def _line(self, line: bytes, out: list[ServerSentEvent]) -> None:
        if not line:
            if self._data:
                out.append(
                    ServerSentEvent(
                        self._event, b"\n".join(self._data).decode("utf-8"), self._id, self._retry
                    )
                )
            # the last event id persists across events (spec); name, data and retry do not
            self._event = None
            self._data = []
            self._retry = None
            return
        if line[:1] == b":":
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8")
        elif name == b"id":
            if b"\0" not in value:
                self._id = value.decode("utf-8")
        elif name == b"retry" and value.isdigit():
            self._retry = int(value)


def iter_sse(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    """The server-sent events in a byte stream given as chunks.

    >>> [e.event for e in iter_sse([b"event: a\\ndata: 1\\n\\nevent: b\\n", b"data: 2\\n\\n"])]
    ['a', 'b']
    """
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.flush()


def _to_stream_event(sse: ServerSentEvent) -> StreamEvent:
    try:
        data = orjson.loads(sse.data)
    except orjson.JSONDecodeError as e:
        raise StreamError(
            f"malformed data in a {sse.event or 'message'!r} event: {e} ({sse.data[:120]!r})"
        ) from None
    name = sse.event
    if name is None:
        t = data.get("type") if isinstance(data, dict) else None
        name = t if isinstance(t, str) else "message"
    return StreamEvent(name, data)


def iter_events(chunks: Iterable[bytes]) -> Iterator[StreamEvent]:
    """The Messages API stream events in a byte stream (JSON data decoded).

    >>> [e.type for e in iter_events([b'event: ping\\ndata: {"type": "ping"}\\n\\n'])]
    ['ping']
    """
    for sse in iter_sse(chunks):
        yield _to_stream_event(sse)


async def aiter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[StreamEvent]:
    """:func:`iter_events` over an async byte stream.

    >>> import asyncio
    >>> async def body():
    ...     yield b'event: ping\\ndata: {"type": "ping"}\\n\\n'
    >>> async def names():
    ...     return [e.event async for e in aiter_events(body())]
    >>> asyncio.run(names())
    ['ping']
    """
    decoder = SSEDecoder()
    async for chunk in chunks:
        for sse in decoder.feed(chunk):
            yield _to_stream_event(sse)
    for sse in decoder.flush():
        yield _to_stream_event(sse)


# --------------------------------------------------------------------------- partial JSON


_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMBER_CHARS = frozenset("0123456789+-.eE")
_WHITESPACE = " \t\n\r"
_LITERALS = {"t": ("true", True), "f": ("false", False), "n": ("null", None)}


class _Cut:
    """A scalar that the end of the text cut short (dropped, as the SDK drops it)."""


_CUT = _Cut()


class _PartialParser:
    __slots__ = ("eof", "i", "s")

    def __init__(self, s: str) -> None:
        self.s = s
        self.i = 0
        self.eof = False  # the text ended inside a value: every enclosing container stops there

    def ws(self) -> bool:
        s, n, i = self.s, len(self.s), self.i
        while i < n and s[i] in _WHITESPACE:
            i += 1
        self.i = i
        if i >= n:
            self.eof = True
            return False
        return True

    def value(self) -> Any:
        s, i = self.s, self.i
        c = s[i]
        if c == "{":
            return self.obj()
        if c == "[":
            return self.arr()
        if c == '"':
            return self.string()
        lit = _LITERALS.get(c)
        if lit is not None:
            word, val = lit
            if s.startswith(word, i):
                self.i = i + len(word)
                return val
            if word.startswith(s[i:]):
                self.eof = True
                return _CUT
            raise ValueError(f"invalid literal at {i}")
        mt = _NUMBER.match(s, i)
        rest = s[mt.end() if mt else i :]
        if rest and all(ch in _NUMBER_CHARS for ch in rest):
            self.eof = True  # "12." or "1e": a number still being written
            return _CUT
        if mt is None:
            raise ValueError(f"unexpected {c!r} at {i}")
        self.i = mt.end()
        text = mt.group()
        return float(text) if any(ch in text for ch in ".eE") else int(text)

    def string(self) -> Any:
        s, i = self.s, self.i
        j = i + 1
        n = len(s)
        while j < n:
            c = s[j]
            if c == '"':
                self.i = j + 1
                return orjson.loads(s[i : j + 1])
            j += 2 if c == "\\" else 1
        self.eof = True
        return _CUT

    def arr(self) -> list[Any]:
        out: list[Any] = []
        self.i += 1
        if not self.ws():
            return out
        if self.s[self.i] == "]":
            self.i += 1
            return out
        while True:
            v = self.value()
            if v is _CUT:
                return out
            out.append(v)
            if self.eof or not self.ws():
                return out
            c = self.s[self.i]
            self.i += 1
            if c == "]":
                return out
            if c != ",":
                raise ValueError(f"expected ',' or ']' at {self.i - 1}")
            if not self.ws():
                return out

    def obj(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.i += 1
        if not self.ws():
            return out
        if self.s[self.i] == "}":
            self.i += 1
            return out
        while True:
            if self.s[self.i] != '"':
                raise ValueError(f"expected a key at {self.i}")
            key = self.string()
            if key is _CUT or not self.ws():
                return out
            if self.s[self.i] != ":":
                raise ValueError(f"expected ':' at {self.i}")
            self.i += 1
            if not self.ws():
                return out
            v = self.value()
            if v is _CUT:
                return out
            out[key] = v
            if self.eof or not self.ws():
                return out
            c = self.s[self.i]
            self.i += 1
            if c == "}":
                return out
            if c != ",":
                raise ValueError(f"expected ',' or '}}' at {self.i - 1}")
            if not self.ws():
                return out


def parse_partial_json(text: str) -> Any:
    """Parse JSON that may be cut short, keeping every complete value (as the official SDK does).

    An object or array still open is closed; a string, number or literal still being written is
    dropped with its key. This is how a ``tool_use`` input whose ``content_block_stop`` never came
    (the stream stopped at ``max_tokens``) is recovered; the SDK does the same with ``jiter``'s
    partial mode.

    >>> parse_partial_json('{"filename": "taxes.txt", "lines": ["# Guide", "')
    {'filename': 'taxes.txt', 'lines': ['# Guide']}
    >>> parse_partial_json('{"a": 1, "b": tr')
    {'a': 1}
    """
    p = _PartialParser(text)
    if not p.ws():
        raise ValueError("no JSON value")
    v = p.value()
    if v is _CUT:
        raise ValueError("the JSON value was cut short")
    if not p.eof and p.ws():
        raise ValueError(f"trailing data at {p.i}")
    return v


# --------------------------------------------------------------------------- assembling a stream

_TOOL_INPUT = "input"


class StreamAssembler:
    """Folds the events of one Messages API stream into the :class:`~convo.model.Response`.

    The result is the response the same request returns without streaming (facts §8): text
    deltas appended, ``input_json_delta`` fragments concatenated and parsed at
    ``content_block_stop`` (the first fragment may be ``""``), thinking text and its signature,
    citations one by one, server tool results whole from ``content_block_start``, and from each
    ``message_delta`` the stop reason, stop sequence, stop details and the CUMULATIVE usage (a
    count there replaces the earlier one; one it leaves out keeps the ``message_start`` value).
    ``ping`` and event types convo does not know are ignored; an ``error`` event (which arrives
    after HTTP 200) raises the matching :mod:`convo.errors` class.

    Works on the plain JSON of each event, so every field the API adds survives.

    >>> a = StreamAssembler()
    >>> a.feed({"type": "message_start", "message": {"id": "msg_1", "content": [],
    ...         "usage": {"input_tokens": 5, "output_tokens": 1}}})
    >>> a.feed({"type": "content_block_start", "index": 0,
    ...         "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}}})
    >>> for part in ['', '{"city": ', '"Paris"}']:
    ...     a.feed({"type": "content_block_delta", "index": 0,
    ...             "delta": {"type": "input_json_delta", "partial_json": part}})
    >>> a.feed({"type": "content_block_stop", "index": 0})
    >>> a.feed({"type": "message_delta", "delta": {"stop_reason": "tool_use"},
    ...         "usage": {"output_tokens": 9}})
    >>> a.feed({"type": "message_stop"})
    >>> r = a.response()
    >>> r.content[0].input["city"], r.usage.input_tokens, r.usage.output_tokens
    ('Paris', 5, 9)
    """

    __slots__ = ("_content", "_headers", "_json", "_message", "_stopped", "_usage", "done")

    def __init__(self, *, headers: Mapping[str, str] | None = None) -> None:
        self._headers = headers  # response headers, for the request-id of an `error` event
        self._message: dict[str, Any] | None = None
        self._content: list[dict[str, Any] | None] = []
        self._usage: dict[str, Any] | None = None
        self._json: dict[int, list[str]] = {}  # block index -> input_json_delta fragments
        self._stopped: set[int] = set()
        self.done = False

    @property
    def started(self) -> bool:
        """Whether ``message_start`` has arrived."""
        return self._message is not None

    def feed(self, data: Any, event: str | None = None) -> None:
        """Take one event's decoded ``data`` (its SSE name, *event*, is used when data has no type)."""
        t = data.get("type") if isinstance(data, dict) else None
        if not isinstance(t, str):
            t = event
        handler = _HANDLERS.get(t)  # type: ignore[arg-type]
        if handler is not None:
            handler(self, data)
        # ping and unknown event types are ignored: the API may add event types (facts §8)

    def _start(self, data: dict[str, Any]) -> None:
        if self._message is not None:
            raise StreamError("a second message_start in one stream")
        msg = data.get("message")
        if not isinstance(msg, dict):
            raise StreamError("message_start without a message object")
        self._message = dict(msg)
        content = msg.get("content") or []
        self._content = [dict(b) for b in content if isinstance(b, dict)]
        usage = msg.get("usage")
        self._usage = dict(usage) if isinstance(usage, dict) else None

    def _need_start(self, what: str) -> dict[str, Any]:
        if self._message is None:
            raise StreamError(f'{what} before "message_start"')
        return self._message

    def _block(self, data: dict[str, Any], what: str) -> tuple[int, dict[str, Any]]:
        self._need_start(what)
        index = data.get("index")
        if type(index) is not int or not 0 <= index < len(self._content):
            raise StreamError(f"{what} for block {index!r}, which has not started")
        block = self._content[index]
        if block is None:
            raise StreamError(f"{what} for block {index!r}, which has not started")
        return index, block

    def _block_start(self, data: dict[str, Any]) -> None:
        msg = self._need_start("content_block_start")
        index = data.get("index")
        block = data.get("content_block")
        if type(index) is not int or index < 0 or not isinstance(block, dict):
            raise StreamError("content_block_start without an index and a content_block")
        block = dict(block)  # the caller's event stays as it arrived; this copy grows
        while len(self._content) <= index:
            self._content.append(None)
        self._content[index] = block
        if block.get("type") == "fallback":
            # The beta fallback block names the model that served the reply; the non-streaming
            # response carries that model, so the SDK relabels the snapshot (observed in the
            # SDK's beta accumulator, lib/streaming/_beta_messages.py).
            to = block.get("to")
            if isinstance(to, dict) and isinstance(to.get("model"), str):
                msg["model"] = to["model"]

    def _block_delta(self, data: dict[str, Any]) -> None:
        index, block = self._block(data, "content_block_delta")
        delta = data.get("delta")
        if not isinstance(delta, dict):
            raise StreamError(f"content_block_delta for block {index} without a delta")
        dt = delta.get("type")
        if dt == "text_delta":
            block["text"] = block.get("text", "") + delta.get("text", "")
        elif dt == "input_json_delta":
            self._json.setdefault(index, []).append(delta.get("partial_json", ""))
        elif dt == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
        elif dt == "signature_delta":
            block["signature"] = delta.get("signature", "")
        elif dt == "citations_delta":
            cites = block.get("citations")
            # a new list each time: the list in the start event stays the caller's, unchanged
            block["citations"] = [*(cites if isinstance(cites, list) else ()), delta.get("citation")]
        elif dt == "compaction_delta":
            # beta compaction blocks: each delta carries the block's fields whole (the SDK's
            # beta accumulator assigns them)
            for k, v in delta.items():
                if k != "type":
                    block[k] = v
        # any other delta type is one convo does not know yet: ignored, like the SDK does

    def _block_stop(self, data: dict[str, Any]) -> None:
        index, block = self._block(data, "content_block_stop")
        self._stopped.add(index)
        parts = self._json.pop(index, None)
        if parts is None:
            return
        text = "".join(parts)
        if not text:
            return  # no input streamed: the start block's input (``{}``) stands
        try:
            block[_TOOL_INPUT] = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            raise StreamError(f"block {index}: tool input is not valid JSON ({e}): {text[:200]!r}") from None

    def _message_delta(self, data: dict[str, Any]) -> None:
        msg = self._need_start("message_delta")
        delta = data.get("delta")
        if isinstance(delta, dict):
            for k, v in delta.items():
                if k == "container" and v is None:
                    continue  # the SDK keeps a container set earlier when the delta's is null
                msg[k] = v
        usage = data.get("usage")
        if isinstance(usage, dict):
            if self._usage is None:
                self._usage = {}
            for k, v in usage.items():
                # cumulative totals: a count replaces the earlier one; a null one (not
                # applicable) leaves the message_start value standing
                if v is not None or k == "output_tokens":
                    self._usage[k] = v
        for k, v in data.items():
            if k not in ("type", "delta", "usage") and v is not None:
                msg[k] = v  # e.g. beta context_management, sent beside the delta

    def _stop(self, data: dict[str, Any]) -> None:
        self._need_start("message_stop")
        self.done = True

    def _error(self, data: Any) -> None:
        raise error_for_status(200, data, self._headers)

    def response(self) -> m.Response:
        """The assembled response; raises :class:`~convo.errors.StreamError` before ``message_stop``."""
        if self._message is None:
            raise StreamError("the stream ended before message_start")
        if not self.done:
            raise StreamError("the stream ended before message_stop")
        return self._build()

    def snapshot(self) -> m.Response:
        """The response as far as it has arrived (open tool inputs parsed as far as they go)."""
        if self._message is None:
            raise StreamError("no message_start yet")
        return self._build()

    def _build(self) -> m.Response:
        msg = self._message
        assert msg is not None
        content: list[dict[str, Any]] = []
        for i, block in enumerate(self._content):
            if block is None:
                raise StreamError(f"block {i} never started")
            parts = self._json.get(i)
            if parts and i not in self._stopped:
                # the stream stopped (max_tokens) inside a tool input: keep what parses, as the
                # SDK's partial-JSON snapshot does
                with contextlib.suppress(ValueError):  # nothing parses: the start input stands
                    block = {**block, _TOOL_INPUT: parse_partial_json("".join(parts))}
            content.append(block)
        out = {**msg, "content": content}
        if self._usage is not None:
            out["usage"] = self._usage
        try:
            resp: m.Response = structure(out, m.Response)
        except DecodeError as e:
            raise StreamError(f"the assembled message is malformed: {e}") from None
        return resp


_HANDLERS: dict[str, Callable[[StreamAssembler, Any], None]] = {
    "message_start": StreamAssembler._start,
    "content_block_start": StreamAssembler._block_start,
    "content_block_delta": StreamAssembler._block_delta,
    "content_block_stop": StreamAssembler._block_stop,
    "message_delta": StreamAssembler._message_delta,
    "message_stop": StreamAssembler._stop,
    "error": StreamAssembler._error,
}


def assemble(
    events: Iterable[StreamEvent | Mapping[str, Any]],
    *,
    on_event: Callable[[StreamEvent], None] | None = None,
) -> m.Response:
    """The :class:`~convo.model.Response` that a complete stream of events adds up to.

    Raises :class:`~convo.errors.StreamError` if the events end before ``message_stop``, and the
    matching :mod:`convo.errors` class for an ``error`` event.

    >>> r = m.Response(id="msg_1", model="m", content=(m.Text("Hello"),), stop_reason="end_turn",
    ...                usage=m.Usage(input_tokens=3, output_tokens=2))
    >>> assemble(events_from_response(r)) == r
    True
    """
    acc = StreamAssembler()
    for ev in events:
        if isinstance(ev, StreamEvent):
            acc.feed(ev.data, ev.event)
            if on_event is not None:
                on_event(ev)
        else:
            acc.feed(ev)
            if on_event is not None:
                on_event(StreamEvent(str(ev.get("type", "message")), ev))
        if acc.done:
            break
    return acc.response()


def _tool_like(block: Mapping[str, Any]) -> bool:
    return _TOOL_INPUT in block and isinstance(block[_TOOL_INPUT], dict)


def _chunks(text: str, size: int | None) -> list[str]:
    if not size or len(text) <= size:
        return [text]
    return [text[i : i + size] for i in range(0, len(text), size)]


def events_from_response(response: m.Response, *, chunk_size: int | None = None) -> list[StreamEvent]:
    """The stream events that assemble into *response* (for mocks and replays that stream).

    Text, thinking and tool input arrive as deltas (cut into *chunk_size* pieces when given);
    every other block arrives whole in its ``content_block_start``, as server tool results do.

    >>> r = m.Response(id="msg_1", content=(m.Text("Hi"),), stop_reason="end_turn",
    ...                usage=m.Usage(input_tokens=1, output_tokens=1))
    >>> [e.type for e in events_from_response(r)]  # doctest: +NORMALIZE_WHITESPACE
    ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop',
     'message_delta', 'message_stop']
    """
    d = orjson.loads(orjson.dumps(unstructure(response)))  # plain, mutable JSON
    start = {
        k: v
        for k, v in d.items()
        if k not in ("content", "stop_reason", "stop_sequence", "stop_details", "usage")
    }
    start["content"] = []
    if "stop_reason" in d:
        start["stop_reason"] = None
    if "stop_sequence" in d:
        start["stop_sequence"] = None
    usage = d.get("usage")
    if isinstance(usage, dict):
        start["usage"] = usage
    events = [StreamEvent("message_start", {"type": "message_start", "message": start})]

    def emit(name: str, data: dict[str, Any]) -> None:
        events.append(StreamEvent(name, {"type": name, **data}))

    for i, b in enumerate(d.get("content", ())):
        bt = b.get("type")
        deltas: list[dict[str, Any]] = []
        if bt == "text" and isinstance(b.get("text"), str):
            first = {**b, "text": ""}
            cites = b.get("citations")
            if isinstance(cites, list) and cites:
                first["citations"] = []
                deltas += [{"type": "citations_delta", "citation": c} for c in cites]
            if b["text"]:
                deltas[:0] = [{"type": "text_delta", "text": t} for t in _chunks(b["text"], chunk_size)]
        elif bt == "thinking" and isinstance(b.get("thinking"), str):
            first = {**b, "thinking": ""}
            if b["thinking"]:
                deltas += [
                    {"type": "thinking_delta", "thinking": t} for t in _chunks(b["thinking"], chunk_size)
                ]
            if "signature" in b:
                first["signature"] = ""
                deltas.append({"type": "signature_delta", "signature": b["signature"]})
        elif _tool_like(b):
            first = {**b, _TOOL_INPUT: {}}
            text = orjson.dumps(b[_TOOL_INPUT]).decode("utf-8")
            # the API's first fragment is often empty (facts §8)
            deltas = [{"type": "input_json_delta", "partial_json": ""}]
            if b[_TOOL_INPUT]:
                deltas += [
                    {"type": "input_json_delta", "partial_json": t} for t in _chunks(text, chunk_size)
                ]
        else:
            first = b
        emit("content_block_start", {"index": i, "content_block": first})
        for delta in deltas:
            emit("content_block_delta", {"index": i, "delta": delta})
        emit("content_block_stop", {"index": i})
    delta = {k: d[k] for k in ("stop_reason", "stop_sequence", "stop_details") if k in d}
    md: dict[str, Any] = {"delta": delta}
    if isinstance(usage, dict) and "output_tokens" in usage:
        md["usage"] = {"output_tokens": usage["output_tokens"]}
    emit("message_delta", md)
    emit("message_stop", {})
    return events
