"""What the emulator answers: deterministic replies, plausible usage, and a response's SSE events.

Layer: testing. Everything here is a pure function of the request, so the same request always gets
the same reply (and the same message id): tests can assert on it.

The default reply echoes the last user turn (``"echo: <its text>"``, stripped, at most 500
characters); a structured-output request (``output_config.format``, or the legacy beta
``output_format``) gets instead the JSON text of an instance of its schema
(:mod:`convo.testing._instances`, seeded by the request). A reply given as text is shaped as the
API would shape it: a thinking block first when ``thinking`` is on, a ``tool_use`` instead of text
when the model would call a tool (a forced ``tool_choice``, or ``tool_policy="call"`` under
``auto``), its input an instance of the tool's ``input_schema``, cut at the first stop sequence
(``stop_reason: "stop_sequence"``) or at ``max_tokens`` (``"max_tokens"``). Token counts are an
estimate (about four characters a token), not the real tokenizer's.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from convo import model as m
from convo import transforms
from convo._json import UNSET, FrozenDict, freeze
from convo.codec import unstructure
from convo.testing._instances import SchemaError, instance
from convo.testing._wire import ApiError
from convo.transforms.tokens import estimator, text_tokens

__all__ = [
    "build_response",
    "default_reply",
    "estimate_input_tokens",
    "output_schema",
    "request_digest",
    "stream_events",
    "structured_reply",
]

TOOL_POLICIES = ("text", "call")
"""What a reply does when tools are offered and ``tool_choice`` is ``auto``: answer ``text``
(the default), or ``call`` the first tool (until a tool result comes back)."""

MAX_ECHO = 500
TEXT_CHUNK, JSON_CHUNK, THINKING_CHUNK = 16, 12, 32  # characters per SSE delta
PING_EVERY = 16  # deltas between two ping events


def estimate_input_tokens(conv: m.Conversation) -> int:
    """A plausible ``input_tokens`` for a request (the same figure count_tokens answers): convo's
    one estimate, :func:`convo.transforms.estimate_tokens`.

    >>> conv = m.Conversation(model="claude-opus-4-8", max_tokens=64,
    ...                messages=[m.Message("user", "Hello, Claude")])
    >>> estimate_input_tokens(conv)
    8
    """
    return max(1, transforms.estimate_tokens(conv))


def request_digest(conv: m.Conversation) -> str:
    """A hex digest of the canonical request (sorted keys; ``stream`` left out).

    >>> c = m.Conversation(model="claude-opus-4-8", max_tokens=64,
    ...                messages=[m.Message("user", "Hi")])
    >>> import attrs
    >>> request_digest(c) == request_digest(attrs.evolve(c, stream=True))
    True
    """
    data = unstructure(conv)
    data.pop("stream", None)
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _last_user_text(conv: m.Conversation) -> str:
    for msg in reversed(conv.messages):
        if msg.role != "user":
            continue
        if isinstance(msg.content, str):
            return msg.content
        parts = []
        for block in msg.content:
            if isinstance(block, m.Text):
                parts.append(block.text)
            elif isinstance(block, m.ToolResult):
                parts.extend(b.text for b in block.blocks if isinstance(b, m.Text))
        return " ".join(parts)
    return ""


def default_reply(conv: m.Conversation) -> str:
    """The default handler: ``"echo: <the last user turn's text>"`` (stripped, at most 500 chars).

    >>> default_reply(m.Conversation(model="claude-opus-4-8", max_tokens=64,
    ...                messages=[m.Message("user", "  Hello!  ")]))
    'echo: Hello!'
    """
    text = _last_user_text(conv).strip()[:MAX_ECHO].rstrip()
    return f"echo: {text}" if text else "echo"


# --------------------------------------------------------------------------- shaping a reply


def _named_tools(conv: m.Conversation) -> list[tuple[int, Mapping[str, Any]]]:
    """The tools that have a name, with their index in ``tools`` (for error locations)."""
    tools = conv.tools if conv.tools is not UNSET else ()
    return [(i, t) for i, t in enumerate(tools) if isinstance(t, Mapping) and "name" in t]


def _last_turn_has_results(conv: m.Conversation) -> bool:
    last = conv.messages[-1] if conv.messages else None
    return (last is not None and last.role == "user" and not isinstance(last.content, str)
            and any(isinstance(b, m.ToolResult) for b in last.content))


def _tool_to_call(conv: m.Conversation, tool_policy: str) -> tuple[int, Mapping[str, Any]] | None:
    """The tool the reply calls (its index in ``tools``), or None for a text reply.

    A forced ``tool_choice`` (``any``, ``tool``) always calls one: the named tool, or for ``any``
    the first tool with an ``input_schema``. Under ``auto`` (or no tool_choice) the
    ``tool_policy`` decides: ``"text"`` answers text, ``"call"`` calls the first tool with an
    ``input_schema`` unless the last user turn carries tool results (then the answer is text).
    """
    tools = _named_tools(conv)
    if not tools:
        return None
    choice = conv.tool_choice
    kind = choice.get("type") if isinstance(choice, Mapping) else (
        "auto" if choice is UNSET else None)
    custom = [(i, t) for i, t in tools if isinstance(t.get("input_schema"), Mapping)]
    if kind == "tool":
        assert isinstance(choice, Mapping)
        return next(((i, t) for i, t in tools if t["name"] == choice.get("name")), None)
    if kind == "any":
        return custom[0] if custom else tools[0]
    if kind == "auto" and tool_policy == "call" and custom and not _last_turn_has_results(conv):
        return custom[0]
    return None


def _tool_input(index: int, tool: Mapping[str, Any], digest: str) -> Any:
    """An input that validates against the tool's ``input_schema`` (seeded by the request).

    A schema the generator cannot satisfy is a 400 for a ``strict`` tool (the API compiles
    those); for any other tool the input is ``{}``, as a model may well send.
    """
    schema = tool.get("input_schema")
    if not isinstance(schema, Mapping):
        return FrozenDict()
    try:
        value = instance(schema, seed=digest)
    except SchemaError as e:
        if tool.get("strict") is True:
            raise ApiError(400, "invalid_request_error",
                           f"tools.{index}.custom.input_schema: {e}") from None
        return FrozenDict()
    return freeze(value) if isinstance(value, dict) else FrozenDict()  # facts §8: an object


def output_schema(conv: m.Conversation) -> tuple[Any, str] | None:
    """The JSON schema a structured-output request asks the reply to follow, and where it is.

    ``output_config.format`` (``{"type": "json_schema", "schema": ...}``), or the legacy beta
    top-level ``output_format`` (``structured-outputs-2025-11-13``; facts §7).

    >>> conv = m.Conversation(model="claude-opus-4-8", max_tokens=64, messages=[],
    ...     output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}})
    >>> output_schema(conv)
    (FrozenDict({'type': 'object'}), 'output_config.format.schema')
    """
    places = (
        (conv.output_config, "output_config.format"),
        (conv.extra.get("output_format"), "output_format"),
    )
    for holder, where in places:
        if holder is UNSET or not isinstance(holder, Mapping):
            continue
        fmt = holder.get("format") if where == "output_config.format" else holder
        if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema" and "schema" in fmt:
            return fmt["schema"], f"{where}.schema"
    return None


def structured_reply(conv: m.Conversation, digest: str | None = None) -> str | None:
    """The reply text of a structured-output request: JSON of an instance of its schema, seeded
    by the request (so the same request gets the same JSON); None without a schema.

    >>> conv = m.Conversation(model="claude-opus-4-8", max_tokens=64,
    ...     messages=[m.Message("user", "Hi")], output_config={"format": {
    ...     "type": "json_schema", "schema": {"type": "object", "properties": {
    ...     "ok": {"const": True}}, "required": ["ok"], "additionalProperties": False}}})
    >>> structured_reply(conv)
    '{"ok":true}'
    """
    found = output_schema(conv)
    if found is None:
        return None
    schema, where = found
    try:
        value = instance(schema, seed=digest or request_digest(conv))
    except SchemaError as e:  # the API compiles the schema first; one it cannot use is a 400
        raise ApiError(400, "invalid_request_error", f"{where}: {e}") from None
    return orjson.dumps(value).decode()


def _short_id(prefix: str, digest: str) -> str:
    return prefix + base64.b32encode(bytes.fromhex(digest[:30])).decode("ascii").lower()


def _thinking_on(conv: m.Conversation) -> Mapping[str, Any] | None:
    cfg = conv.thinking
    if isinstance(cfg, Mapping) and cfg.get("type") in ("enabled", "adaptive"):
        return cfg
    return None


def _usage(conv: m.Conversation, output_tokens: int, service_tier: str) -> m.Usage:
    return m.Usage(
        input_tokens=estimate_input_tokens(conv),
        output_tokens=max(1, output_tokens),
        cache_creation_input_tokens=0,
        cache_read_input_tokens=0,
        cache_creation=FrozenDict(ephemeral_5m_input_tokens=0, ephemeral_1h_input_tokens=0),
        server_tool_use=None,
        service_tier=service_tier,
        inference_geo="global",
    )


def _shape_text(conv: m.Conversation, text: str, digest: str, service_tier: str,
                tool_policy: str) -> m.Response:
    content: list[Any] = []
    spent = 0
    thinking = _thinking_on(conv)
    if thinking is not None:
        thought = f"The user wrote {len(_last_user_text(conv))} characters; I will echo them."
        if thinking.get("display") == "omitted":  # facts §8: empty text, the signature kept
            thought_shown = ""
        else:
            thought_shown = thought
        signature = base64.b64encode(hashlib.sha256(thought.encode()).digest()).decode("ascii")
        content.append(m.Thinking(thought_shown, signature))
        spent += text_tokens(thought)
    stop_reason, stop_sequence = "end_turn", None
    call = _tool_to_call(conv, tool_policy)
    if call is not None:
        # with tool_choice any/tool the API prefills internally: no text before the tool_use
        index, tool = call
        tool_input = _tool_input(index, tool, digest)
        content.append(m.ToolUse(_short_id("toolu_", digest), tool["name"], tool_input,
                                 caller=FrozenDict(type="direct")))
        spent += text_tokens(orjson.dumps(tool_input).decode())
        stop_reason = "tool_use"
    else:
        hits = [(text.find(seq), seq) for seq in (conv.stop_sequences if conv.stop_sequences is not UNSET else ())
                if seq and seq in text]
        if hits:
            at, seq = min(hits)
            text, stop_reason, stop_sequence = text[:at], "stop_sequence", seq
        budget = conv.max_tokens - spent if isinstance(conv.max_tokens, int) else None
        if budget is not None and text_tokens(text) > budget:
            text, stop_reason, stop_sequence = text[: max(0, budget) * 4], "max_tokens", None
            spent += max(0, budget)
        else:
            spent += text_tokens(text)
        if text:
            content.append(m.Text(text, citations=None))
    return m.Response(
        id=_short_id("msg_", digest),
        model=conv.model if isinstance(conv.model, str) else "unknown",
        content=tuple(content),
        stop_reason=stop_reason,
        stop_sequence=stop_sequence,
        stop_details=None,
        usage=_usage(conv, spent, service_tier),
        container=None,
    )


def _complete_block(block: m.Block) -> m.Block:
    # the API always writes these nullable keys; a handler's blocks may leave them out
    if isinstance(block, m.Text) and block.citations is UNSET:
        return m.Text(block.text, cache_control=block.cache_control, citations=None,
                      extra=block.extra)
    if isinstance(block, m.ToolUse) and block.caller is UNSET:
        return m.ToolUse(block.id, block.name, block.input, cache_control=block.cache_control,
                         caller=FrozenDict(type="direct"), extra=block.extra)
    return block


def _complete(conv: m.Conversation, resp: m.Response, digest: str, service_tier: str) -> m.Response:
    content: tuple[Any, ...] = tuple(_complete_block(b) for b in resp.content)
    usage = resp.usage
    if usage is UNSET or usage.input_tokens is UNSET or usage.output_tokens is UNSET:
        base = _usage(conv, estimator(conv).content(content), service_tier)
        if usage is not UNSET:  # keep what the handler said, estimate the rest
            given = {a.name: getattr(usage, a.name) for a in attrs.fields(m.Usage)}
            base = attrs.evolve(base, **{k: v for k, v in given.items() if v is not UNSET})
        usage = base
    stop_reason = resp.stop_reason
    if stop_reason is UNSET:
        stop_reason = "tool_use" if any(isinstance(b, m.ToolUse) for b in content) else "end_turn"
    return m.Response(
        id=resp.id if resp.id is not UNSET else _short_id("msg_", digest),
        type=resp.type,
        role=resp.role,
        content=content,
        model=resp.model if resp.model is not UNSET else (
            conv.model if isinstance(conv.model, str) else "unknown"),
        stop_reason=stop_reason,
        stop_sequence=None if resp.stop_sequence is UNSET else resp.stop_sequence,
        stop_details=None if resp.stop_details is UNSET else resp.stop_details,
        usage=usage,
        container=None if resp.container is UNSET else resp.container,
        extra=resp.extra,
    )


def build_response(
    conv: m.Conversation,
    reply: m.Response | str,
    *,
    digest: str | None = None,
    service_tier: str = "standard",
    tool_policy: str = "text",
) -> m.Response:
    """The full response to *conv*: text shaped as the API would, or a handler's Response completed.

    A Response keeps what it says; only what it leaves out is filled (id, model, stop_reason,
    the API's null keys, usage).

    >>> conv = m.Conversation(model="claude-opus-4-8", max_tokens=2,
    ...                messages=[m.Message("user", "Hello there")])
    >>> r = build_response(conv, default_reply(conv))
    >>> r.text, r.stop_reason, r.usage.output_tokens
    ('echo: He', 'max_tokens', 2)
    """
    digest = digest or request_digest(conv)
    if isinstance(reply, str):
        return _shape_text(conv, reply, digest, service_tier, tool_policy)
    return _complete(conv, reply, digest, service_tier)


# --------------------------------------------------------------------------- SSE events


def _frame(name: str, data: Any) -> tuple[str, bytes]:
    return name, orjson.dumps(data)


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _block_events(index: int, block: dict[str, Any]) -> list[tuple[str, bytes]]:
    btype = block.get("type")
    deltas: list[dict[str, Any]] = []
    if btype == "text":
        start = {**block, "text": ""}
        cites = block.get("citations")
        if "citations" in block:
            start["citations"] = None if cites is None else []
        for cite in cites or ():
            deltas.append({"type": "citations_delta", "citation": cite})
        deltas.extend({"type": "text_delta", "text": c} for c in _chunks(block["text"], TEXT_CHUNK))
    elif btype == "thinking":
        start = {**block, "thinking": "", "signature": ""}
        deltas.extend({"type": "thinking_delta", "thinking": c}
                      for c in _chunks(block["thinking"], THINKING_CHUNK))
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif btype in ("tool_use", "server_tool_use"):
        start = {**block, "input": {}}
        raw = orjson.dumps(block.get("input", {})).decode()
        # facts §8: the first fragment may be empty; the client joins them and parses once
        deltas.extend({"type": "input_json_delta", "partial_json": c}
                      for c in ["", *_chunks(raw, JSON_CHUNK)])
    else:  # redacted thinking, server tool results, anything else: whole in content_block_start
        start = block
    out = [_frame("content_block_start",
                  {"type": "content_block_start", "index": index, "content_block": start})]
    for n, delta in enumerate(deltas):
        if n and n % PING_EVERY == 0:
            out.append(_PING)
        out.append(_frame("content_block_delta",
                          {"type": "content_block_delta", "index": index, "delta": delta}))
    out.append(_frame("content_block_stop", {"type": "content_block_stop", "index": index}))
    return out


_PING = ("ping", b'{"type": "ping"}')
_DELTA_USAGE_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
                     "output_tokens", "server_tool_use")


def stream_events(resp: m.Response) -> list[tuple[str, bytes]]:
    """The SSE events (name, JSON data) that stream *resp*, in the order of facts §8.

    ``message_start`` (no content, null stop_reason), then per block ``content_block_start``,
    deltas (text, input JSON fragments with an empty first one, thinking then signature) and
    ``content_block_stop``, a ``ping`` after the first block starts, ``message_delta`` with the
    stop reason and cumulative usage, and ``message_stop``.

    >>> conv = m.Conversation(model="claude-opus-4-8", max_tokens=64,
    ...                messages=[m.Message("user", "Hi")])
    >>> [name for name, _ in stream_events(build_response(conv, "Hello"))]
    ['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']
    """
    data = unstructure(resp)
    content = data.get("content", [])
    usage = dict(data.get("usage") or {})
    start_usage = {**usage, "output_tokens": min(1, usage.get("output_tokens", 1))}
    message = {**data, "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": start_usage}
    if "stop_details" in data:
        message["stop_details"] = None
    events = [_frame("message_start", {"type": "message_start", "message": message})]
    for i, block in enumerate(content):
        block_events = _block_events(i, block)
        if i == 0:
            block_events.insert(1, _PING)  # the API sends one right after the first block starts
        events.extend(block_events)
    delta = {
        "stop_reason": data.get("stop_reason"),
        "stop_sequence": data.get("stop_sequence"),
        "stop_details": data.get("stop_details"),
        "container": data.get("container"),
    }
    delta_usage = {k: usage[k] for k in _DELTA_USAGE_KEYS if k in usage}
    delta_usage.setdefault("output_tokens", 1)
    events.append(_frame("message_delta",
                         {"type": "message_delta", "delta": delta, "usage": delta_usage}))
    events.append(_frame("message_stop", {"type": "message_stop"}))
    return events
