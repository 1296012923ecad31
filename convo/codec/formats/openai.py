"""OpenAI Chat Completions, both ways: request bodies and message lists, and (in only)
``chat.completion`` responses and their SSE chunk streams.

Layer: codec. What maps, and how:

==============================  =================================================================
OpenAI                          Messages API
==============================  =================================================================
leading ``system``/``developer``  top-level ``system`` (a ``developer`` role is reported)
later ``system``/``developer``  a mid-conversation ``role: "system"`` message (reported when the
                                API would not accept it there, facts §1.5)
``tool_calls``                  ``tool_use`` blocks; ``function.arguments`` (a JSON string) becomes
                                ``input``; arguments that are not a JSON object stay raw and are
                                reported
``tool`` messages               ``tool_result`` blocks, consecutive ones in one user turn
``image_url``                   ``image``: a data URL becomes a base64 source, an http(s) URL a URL
                                source
``file`` (``file_data``/``file_id``)  ``document``: a base64 PDF a base64 source, a file id a ``file``
                                source (as litellm maps them); a plain-text document is written as
                                a text part; ``filename`` is reported (written from ``title``)
``reasoning_content``           a ``thinking`` block with an empty signature (reported)
``refusal``                     a text block (reported)
``max_completion_tokens``       ``max_tokens`` (also read from ``max_tokens``)
``stop``                        ``stop_sequences``
``tool_choice`` ``required``    ``{"type": "any"}``; ``parallel_tool_calls: false`` becomes
                                ``disable_parallel_tool_use``
``user``                        ``metadata.user_id``
``response_format`` json_schema  ``output_config.format``; ``reasoning_effort`` ``output_config.effort``
==============================  =================================================================

Everything else (``name``, ``n``, ``logprobs``, ``seed``, audio parts, ...) is reported as
a loss. Normalisations a round trip shows, by design: arguments strings are written compactly;
``max_tokens`` is written as ``max_completion_tokens`` (unless ``max_tokens_field="max_tokens"``);
``null`` optional fields (``refusal``, ``tool_calls``, ``name``, ``audio``) are dropped; an assistant
message with tool calls is written with ``content: null`` when it has no text, and with string
content when it has one text part.

>>> conv = read({"model": "gpt-4o", "messages": [
...     {"role": "system", "content": "Be brief."},
...     {"role": "user", "content": "Weather in Paris?"},
...     {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
...         "function": {"name": "weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}]},
...     {"role": "tool", "tool_call_id": "call_1", "content": "18C"}]}).conversation
>>> conv.system, [m.role for m in conv.messages]
('Be brief.', ['user', 'assistant', 'user'])
>>> conv.messages[1].content[0].input, conv.messages[2].content[0].tool_use_id
(FrozenDict({'city': 'Paris'}), 'call_1')
>>> body, losses = write(conv)
>>> body["messages"][2]["tool_calls"][0]["function"]["arguments"]
'{"city":"Paris"}'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, cast

from convo._json import UNSET, Unset, freeze
from convo.codec.formats._base import (
    ChatBuilder,
    Conversion,
    Format,
    ImageLoader,
    Loss,
    anthropic_tools,
    compact_json,
    describe,
    document_from_file,
    fail,
    file_from_document,
    function_from_tool,
    generated_id,
    get_str,
    image_from_ref,
    need_dict,
    need_list,
    note_block_extras,
    note_joined_turns,
    note_message_extras,
    params_losses,
    parse_arguments,
    result_text,
    system_text,
    tool_from_function,
    unsigned_thinking,
    written_image_ref,
)
from convo.codec.formats.openai_stream import completion_from_chunks, completion_from_sse
from convo.errors import DecodeError
from convo.model import (
    Block,
    Conversation,
    Document,
    Image,
    Message,
    RedactedThinking,
    Response,
    Text,
    Thinking,
    ToolResult,
    ToolUse,
    Usage,
)

__all__ = [
    "FORMAT",
    "completion_from_chunks",
    "completion_from_sse",
    "read",
    "read_messages",
    "read_response",
    "write",
    "write_messages",
]

ORIGIN = "OpenAI"

# Keys of a message that the reader handles; any other key is reported.
_MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "tool_calls", "tool_call_id", "function_call", "refusal",
     "reasoning_content", "reasoning", "audio"}
)
# Optional message keys whose `null` means "absent" (the API echoes them as null).
_NULLABLE = frozenset({"name", "tool_calls", "function_call", "refusal", "audio", "reasoning_content", "reasoning"})

_EFFORTS = frozenset({"low", "medium", "high", "xhigh"})
_FINISH = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
           "function_call": "tool_use", "content_filter": "refusal"}


# --------------------------------------------------------------------------- reading messages


def read_messages(
    items: Any,
    path: str,
    losses: list[Loss],
    *,
    origin: str = ORIGIN,
    image_loader: ImageLoader | None = None,
    weights: bool = False,
) -> tuple[str | tuple[Text, ...] | Unset, tuple[Message, ...]]:
    """The top-level system and the messages of an OpenAI ``messages`` list.

    >>> losses = []
    >>> system, msgs = read_messages([{"role": "developer", "content": "Terse."},
    ...                               {"role": "user", "content": "Hi", "name": "ann"}], "$.messages", losses)
    >>> system, msgs[0].content, [l.path for l in losses]
    ('Terse.', 'Hi', ['$.messages[0].role', '$.messages[1].name'])
    """
    items = need_list(items, path, "an array of messages")
    b = ChatBuilder(losses, origin)
    for i, m in enumerate(items):
        p = f"{path}[{i}]"
        if not isinstance(m, dict):
            raise fail("a message object", m, p)
        role = get_str(m, "role", p)
        if not m.keys() <= _MESSAGE_KEYS:  # the common case costs one set comparison
            for k in m:
                if k not in _MESSAGE_KEYS and not (weights and k == "weight"):
                    losses.append(Loss(f"{p}.{k}", f"message field {k!r}", "the Messages API message has no such field"))
        name = m.get("name")
        if name is not None and role not in ("tool", "function"):
            losses.append(Loss(f"{p}.name", f"name {name!r}", "the Messages API has no participant names"))
        if weights and "weight" in m:
            losses.append(Loss(f"{p}.weight", f"weight {m['weight']!r}", "fine-tuning weights have no "
                               "place in a Messages API conversation"))
        if role == "user":
            b.user(_content(m.get("content"), f"{p}.content", losses, image_loader, origin, allow_null=False))
        elif role == "assistant":
            _assistant(m, p, i, b, losses, image_loader, origin)
        elif role in ("system", "developer"):
            if role == "developer":
                losses.append(Loss(f"{p}.role", "role 'developer'", "read as system: the Messages API "
                                   "has no developer role"))
            b.system(_content(m.get("content"), f"{p}.content", losses, image_loader, origin, allow_null=False), p)
        elif role == "tool":
            tid = m.get("tool_call_id")
            if tid is not None and not isinstance(tid, str):
                raise fail("a string", tid, f"{p}.tool_call_id")
            b.tool_result(tid, name if isinstance(name, str) else None,
                          _result_content(m.get("content"), f"{p}.content", losses), p)
        elif role == "function":
            # the legacy function-calling result: paired by name/order with function_call
            b.tool_result(None, name if isinstance(name, str) else None,
                          _result_content(m.get("content"), f"{p}.content", losses), p)
        else:
            raise DecodeError(f"expected role system, developer, user, assistant or tool, got {role!r}",
                              path=f"{p}.role")
    return b.finish()


def _assistant(m: dict[str, Any], p: str, i: int, b: ChatBuilder, losses: list[Loss],
               image_loader: ImageLoader | None, origin: str) -> None:
    blocks: list[Block] = []
    call_paths: list[str] = []
    if m.get("audio") is not None:
        losses.append(Loss(f"{p}.audio", "audio reply", "the Messages API conversation has no audio"))
    for key in ("reasoning_content", "reasoning"):
        r = m.get(key)
        if isinstance(r, str):
            blocks.append(unsigned_thinking(r, f"{p}.{key}", losses, origin))
        elif r is not None:
            raise fail("a string", r, f"{p}.{key}")
    content = m.get("content")
    calls = m.get("tool_calls")
    fcall = m.get("function_call")
    refusal = m.get("refusal")
    if isinstance(content, str) and not blocks and not calls and not fcall and refusal is None:
        b.assistant(content)
        return
    if isinstance(content, str):
        if content:
            blocks.append(Text(content))
    elif content is not None:
        blocks.extend(_parts(content, f"{p}.content", losses, image_loader, origin))
    if refusal is not None:
        if not isinstance(refusal, str):
            raise fail("a string", refusal, f"{p}.refusal")
        losses.append(Loss(f"{p}.refusal", "refusal", "read as a text block: the Messages API marks a "
                           "refusal by stop_reason, not in the content"))
        blocks.append(Text(refusal))
    if calls is not None:
        for j, tc in enumerate(need_list(calls, f"{p}.tool_calls")):
            tp = f"{p}.tool_calls[{j}]"
            use = _tool_call(tc, tp, i, j, losses)
            if use is not None:
                blocks.append(use)
                call_paths.append(tp)
    if fcall is not None:
        fc = need_dict(fcall, f"{p}.function_call")
        fname = get_str(fc, "name", f"{p}.function_call")
        args = _arguments(fc.get("arguments", "{}"), f"{p}.function_call.arguments", losses)
        tid = generated_id(i, 0)
        losses.append(Loss(f"{p}.function_call", f"legacy function_call (given the id {tid!r})",
                           "read as a tool_use with an id fixed by its place"))
        blocks.append(ToolUse(tid, fname, args))
        call_paths.append(f"{p}.function_call")
    if not blocks:
        losses.append(Loss(f"{p}.content", "assistant message without content", "kept as an empty "
                           "string"))
        b.assistant("")
        return
    b.assistant(tuple(blocks), call_paths)


def _tool_call(tc: Any, tp: str, i: int, j: int, losses: list[Loss]) -> ToolUse | None:
    tc = need_dict(tc, tp)
    kind = tc.get("type", "function")
    if kind not in ("function", "tool"):
        losses.append(Loss(tp, f"tool call of type {kind!r}", "only function calls map to tool_use"))
        return None
    if kind == "tool":
        losses.append(Loss(f"{tp}.type", "tool call type 'tool'", "read as a function call; written back "
                           "as 'function'"))
    fn = need_dict(tc.get("function"), f"{tp}.function")
    name = get_str(fn, "name", f"{tp}.function")
    args = _arguments(fn.get("arguments", UNSET), f"{tp}.function.arguments", losses)
    tid = tc.get("id")
    if tid is None:
        tid = generated_id(i, j)
        losses.append(Loss(tp, f"tool call without an id (given {tid!r})", "an id fixed by its place was generated"))
    elif not isinstance(tid, str):
        raise fail("a string", tid, f"{tp}.id")
    for k in tc:
        if k not in ("id", "type", "function", "index"):
            losses.append(Loss(f"{tp}.{k}", f"tool call field {k!r}", "tool_use has no such field"))
    for k in fn:
        if k not in ("name", "arguments"):
            losses.append(Loss(f"{tp}.function.{k}", f"function field {k!r}", "tool_use has no such field"))
    return ToolUse(tid, name, args)


def _arguments(raw: Any, path: str, losses: list[Loss]) -> Any:
    if raw is UNSET:
        losses.append(Loss(path, "no arguments", "read as an empty input object"))
        return {}
    value, ok = parse_arguments(raw)
    if not ok:
        losses.append(Loss(path, f"arguments {raw!r:.60}", "not a JSON object; kept raw as the tool_use "
                           "input, which the API rejects (input must be an object)"))
    return value


def _content(c: Any, path: str, losses: list[Loss], image_loader: ImageLoader | None, origin: str,
             *, allow_null: bool = True) -> str | tuple[Block, ...]:
    if isinstance(c, str):
        return c
    if c is None:
        if not allow_null:
            losses.append(Loss(path, "null content", "read as an empty string"))
        return ""
    return tuple(_parts(c, path, losses, image_loader, origin))


def _parts(c: Any, path: str, losses: list[Loss], image_loader: ImageLoader | None,
           origin: str) -> list[Block]:
    out: list[Block] = []
    for j, part in enumerate(need_list(c, path, "a string or an array of content parts")):
        pp = f"{path}[{j}]"
        part = need_dict(part, pp, "a content part object")
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise fail("a string", text, f"{pp}.text")
            out.append(Text(text))
            _extra_keys(part, ("type", "text"), pp, losses)
        elif kind == "image_url":
            iu = part.get("image_url")
            url = iu.get("url") if isinstance(iu, dict) else iu
            if not isinstance(url, str):
                raise fail("an image_url object with a url string", iu, f"{pp}.image_url")
            out.append(image_from_ref(url, f"{pp}.image_url.url", losses, image_loader, origin))
            if isinstance(iu, dict):
                _extra_keys(iu, ("url",), f"{pp}.image_url", losses)
            _extra_keys(part, ("type", "image_url"), pp, losses)
        elif kind == "refusal":
            r = part.get("refusal")
            if not isinstance(r, str):
                raise fail("a string", r, f"{pp}.refusal")
            losses.append(Loss(pp, "refusal part", "read as a text block"))
            out.append(Text(r))
        elif kind == "file":
            f = need_dict(part.get("file"), f"{pp}.file")
            got = _file_part(f, f"{pp}.file", losses)
            if got is not None:
                out.append(got)
            _extra_keys(part, ("type", "file"), pp, losses)
        else:
            what = {"input_audio": "audio"}.get(str(kind), f"content part of type {kind!r}")
            losses.append(Loss(pp, what, "the Messages API conversation has no equivalent"))
    return out


def _file_part(f: dict[str, Any], path: str, losses: list[Loss]) -> Block | None:
    """A chat ``file`` part's ``file`` object as a document (or image) block."""
    strs = {}
    for k in ("file_data", "file_id", "format", "filename"):
        v = f.get(k)
        if v is not None and not isinstance(v, str):
            raise fail("a string", v, f"{path}.{k}")
        strs[k] = v
    if strs["filename"] is not None:
        losses.append(Loss(f"{path}.filename", f"file name {strs['filename']!r:.60}", "the Messages API "
                           "document has no file name"))
    _extra_keys(f, ("file_data", "file_id", "format", "filename"), path, losses)
    return document_from_file(strs["file_data"], strs["file_id"], None, strs["format"], path, losses)


def _result_content(c: Any, path: str, losses: list[Loss]) -> str | tuple[Block, ...]:
    if isinstance(c, str):
        return c
    if c is None:
        return ""
    out: list[Block] = []
    for j, part in enumerate(need_list(c, path, "a string or an array of text parts")):
        pp = f"{path}[{j}]"
        part = need_dict(part, pp)
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            out.append(Text(part["text"]))
            _extra_keys(part, ("type", "text"), pp, losses)
        else:
            losses.append(Loss(pp, f"content part of type {part.get('type')!r}", "tool messages carry text"))
    return tuple(out)


def _extra_keys(d: dict[str, Any], known: tuple[str, ...], path: str, losses: list[Loss]) -> None:
    for k in d:
        if k not in known:
            losses.append(Loss(f"{path}.{k}", f"field {k!r} = {d[k]!r:.40}", "the Messages API block has "
                               "no such field"))


# --------------------------------------------------------------------------- reading bodies


def read(obj: Any, *, source: str | None = None, image_loader: ImageLoader | None = None) -> Conversion:
    """A conversation from a request body, a bare ``messages`` list, or a ``chat.completion``.

    A response becomes a conversation holding its first choice as the assistant turn; use
    :func:`read_response` for a :class:`~convo.model.Response`.

    >>> read([{"role": "user", "content": "Hi"}]).conversation.messages[0].content
    'Hi'
    """
    losses: list[Loss] = []
    if isinstance(obj, list):
        system, msgs = read_messages(obj, "$", losses, image_loader=image_loader)
        return Conversion(Conversation(messages=msgs, system=system), losses, source)
    d = need_dict(obj, "$", "a chat completions request object or an array of messages")
    if "messages" not in d and "choices" in d:
        resp, rl = read_response(d, image_loader=image_loader)
        conv = Conversation(model=resp.model, messages=(resp.as_message(),))
        return Conversion(conv, rl, source)
    if "messages" not in d:
        raise DecodeError("missing required key", path="$.messages")
    system, msgs = read_messages(d["messages"], "$.messages", losses, image_loader=image_loader)
    params = read_params(d, losses, skip=("messages",))
    return Conversion(Conversation(messages=msgs, system=system, **params), losses, source)


def read_params(d: dict[str, Any], losses: list[Loss], *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Messages API request parameters from the other keys of a chat completions body."""
    out: dict[str, Any] = {}
    output_config: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    skipped = set(skip)
    for k, v in d.items():
        if k in skipped:
            continue
        p = f"$.{k}"
        if k == "model":
            out["model"] = get_str(d, k, "$")
        elif k in ("max_completion_tokens", "max_tokens"):
            if not isinstance(v, int) or isinstance(v, bool):
                raise fail("an integer", v, p)
            other = d.get("max_tokens" if k == "max_completion_tokens" else "max_completion_tokens")
            if k == "max_tokens" and other is not None:
                if other != v:
                    losses.append(Loss(p, f"max_tokens {v}", "max_completion_tokens is used instead"))
                else:
                    losses.append(Loss(p, "max_tokens", "the same as max_completion_tokens"))
                continue
            out["max_tokens"] = v
            if k == "max_tokens":
                losses.append(Loss(p, "the name max_tokens", "written back as max_completion_tokens"))
        elif k in ("temperature", "top_p"):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise fail("a number", v, p)
            out[k] = v
            if k == "temperature" and isinstance(v, int | float) and v > 1:
                losses.append(Loss(p, f"temperature {v}", "kept, but the Messages API accepts 0 to 1"))
        elif k == "stop":
            if isinstance(v, str):
                out["stop_sequences"] = (v,)
                losses.append(Loss(p, "stop as a string", "written back as a one-item list"))
            elif v is None:
                losses.append(Loss(p, "stop null", "the default"))
            else:
                out["stop_sequences"] = tuple(need_str_list(v, p))
        elif k == "stream":
            out["stream"] = v
        elif k == "tools":
            out["tools"] = anthropic_tools(v, p, losses)
        elif k == "functions":
            tools = [tool_from_function(need_dict(f, f"{p}[{j}]"), f"{p}[{j}]", losses) for j, f in enumerate(need_list(v, p))]
            out["tools"] = tuple(t for t in tools if t is not None)
            losses.append(Loss(p, "legacy functions", "read as tools; written back as tools"))
        elif k in ("tool_choice", "function_call"):
            tc = _tool_choice(v, p, losses)
            if tc is not None:
                out["tool_choice"] = {**out.get("tool_choice", {}), **tc}
        elif k == "parallel_tool_calls":
            if v is False:
                out["tool_choice"] = {**out.get("tool_choice", {"type": "auto"}), "disable_parallel_tool_use": True}
            else:
                losses.append(Loss(p, f"parallel_tool_calls {v!r}", "the default; not kept"))
        elif k in ("user", "safety_identifier") and isinstance(v, str):
            if "user_id" in metadata:
                losses.append(Loss(p, f"{k} {v!r}", "metadata.user_id is taken already"))
            else:
                metadata["user_id"] = v
                if k == "safety_identifier":
                    losses.append(Loss(p, "the name safety_identifier", "written back as user"))
        elif k == "response_format":
            rf = need_dict(v, p)
            if rf.get("type") == "json_schema" and isinstance(rf.get("json_schema"), dict):
                js = rf["json_schema"]
                if "schema" in js:
                    output_config["format"] = {"type": "json_schema", "schema": js["schema"]}
                for kk in js:
                    if kk != "schema":
                        losses.append(Loss(f"{p}.json_schema.{kk}", f"json_schema {kk}", "output_config.format has no such field"))
            else:
                losses.append(Loss(p, f"response_format {rf.get('type')!r}", "only json_schema maps to output_config.format"))
        elif k == "reasoning_effort":
            if isinstance(v, str) and v in _EFFORTS:
                output_config["effort"] = v
            else:
                losses.append(Loss(p, f"reasoning_effort {v!r}", "output_config.effort takes low, medium, high or xhigh"))
        else:
            losses.append(Loss(p, f"{k} {v!r:.60}", "the Messages API has no such parameter"))
    if metadata:
        out["metadata"] = metadata
    if output_config:
        out["output_config"] = output_config
    if "tool_choice" in out:
        out["tool_choice"] = freeze(out["tool_choice"])
    return out


def need_str_list(v: Any, path: str) -> list[str]:
    """*v* if it is a list of strings, else a DecodeError at the first bad place."""
    items = need_list(v, path)
    for j, s in enumerate(items):
        if not isinstance(s, str):
            raise fail("a string", s, f"{path}[{j}]")
    return items


def _tool_choice(v: Any, p: str, losses: list[Loss]) -> dict[str, Any] | None:
    if v in ("auto", "none"):
        return {"type": v}
    if v == "required":
        return {"type": "any"}
    if isinstance(v, dict):
        fn = v.get("function") if "function" in v else v  # {"type": "function", "function": {...}} or {"name"}
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return {"type": "tool", "name": fn["name"]}
    losses.append(Loss(p, f"tool_choice {v!r:.60}", "no Messages API equivalent"))
    return None


# --------------------------------------------------------------------------- responses


def read_response(obj: Any, *, image_loader: ImageLoader | None = None) -> tuple[Response, tuple[Loss, ...]]:
    """A :class:`~convo.model.Response` from a ``chat.completion`` object (its first choice).

    ``finish_reason`` maps to ``stop_reason`` (``stop`` → ``end_turn``, ``length`` →
    ``max_tokens``, ``tool_calls`` → ``tool_use``, ``content_filter`` → ``refusal``; a
    ``refusal`` message gives ``refusal``); ``prompt_tokens`` less cached tokens is
    ``input_tokens``, cached tokens are ``cache_read_input_tokens``.

    >>> r, losses = read_response({"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
    ...     "choices": [{"index": 0, "finish_reason": "length",
    ...                  "message": {"role": "assistant", "content": "{\\""}}],
    ...     "usage": {"prompt_tokens": 14, "completion_tokens": 1, "total_tokens": 15}})
    >>> r.stop_reason, r.text, r.usage.input_tokens
    ('max_tokens', '{"', 14)
    """
    losses: list[Loss] = []
    d = need_dict(obj, "$", "a chat.completion object")
    choices = need_list(d.get("choices"), "$.choices")
    if not choices:
        raise DecodeError("expected at least one choice", path="$.choices")
    for n in range(1, len(choices)):
        losses.append(Loss(f"$.choices[{n}]", f"choice {n}", "a Response holds one reply; only the first is read"))
    ch = need_dict(choices[0], "$.choices[0]")
    msg = need_dict(ch.get("message"), "$.choices[0].message")
    b = ChatBuilder(losses, ORIGIN)
    _assistant({**msg, "role": "assistant"}, "$.choices[0].message", 0, b, losses, image_loader, ORIGIN)
    content = b.messages[0].blocks
    for k in msg:
        if k not in _MESSAGE_KEYS:
            losses.append(Loss(f"$.choices[0].message.{k}", f"message field {k!r}", "a Response has no such field"))
    finish = ch.get("finish_reason")
    stop = _FINISH.get(finish, finish) if isinstance(finish, str) else finish
    if msg.get("refusal") is not None:
        stop = "refusal"
    if finish is not None and not (isinstance(finish, str) and finish in _FINISH):
        losses.append(Loss("$.choices[0].finish_reason", f"finish_reason {finish!r}", "kept as the stop_reason"))
    if ch.get("logprobs") is not None:
        losses.append(Loss("$.choices[0].logprobs", "logprobs", "a Response has no log probabilities"))
    for k in ch:
        if k not in ("index", "message", "finish_reason", "logprobs"):
            losses.append(Loss(f"$.choices[0].{k}", f"choice field {k!r}", "a Response has no such field"))
    usage: Usage | Unset = UNSET
    if isinstance(d.get("usage"), dict):
        usage = _usage(d["usage"], losses)
    for k in d:
        if k not in ("id", "model", "choices", "usage", "object"):
            losses.append(Loss(f"$.{k}", f"{k} {d[k]!r:.40}", "a Response has no such field"))
    resp = Response(
        id=d["id"] if isinstance(d.get("id"), str) else UNSET,
        model=d["model"] if isinstance(d.get("model"), str) else UNSET,
        content=cast(Any, content),
        stop_reason=stop,
        usage=usage,
    )
    return resp, tuple(losses)


def _usage(u: dict[str, Any], losses: list[Loss]) -> Usage:
    prompt = u.get("prompt_tokens")
    details = u.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    kwargs: dict[str, Any] = {}
    if isinstance(prompt, int):
        kwargs["input_tokens"] = prompt - (cached if isinstance(cached, int) else 0)
    if isinstance(u.get("completion_tokens"), int):
        kwargs["output_tokens"] = u["completion_tokens"]
    if isinstance(cached, int):
        kwargs["cache_read_input_tokens"] = cached
    for k in u:
        if k not in ("prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details"):
            losses.append(Loss(f"$.usage.{k}", f"usage {k}", "Messages API usage has no such field"))
    return Usage(**kwargs)


# --------------------------------------------------------------------------- writing


def write(
    conv: Conversation,
    *,
    max_tokens_field: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens",
    reasoning_field: str | None = None,
) -> tuple[dict[str, Any], tuple[Loss, ...]]:
    """A chat completions request body for *conv*, and what it could not carry.

    Thinking has no place in an OpenAI chat completions request (the ``openai`` package's request
    types have none): by default it is reported as a loss. ``reasoning_field="reasoning_content"``
    writes its text where OpenAI-compatible servers (DeepSeek, vLLM) read it; signatures cannot be
    carried either way.

    >>> body, losses = write(Conversation(model="claude-opus-4-8", max_tokens=64, top_k=5).user("Hi"))
    >>> body
    {'model': 'claude-opus-4-8', 'messages': [{'role': 'user', 'content': 'Hi'}], 'max_completion_tokens': 64}
    >>> [str(l) for l in losses]
    ['$.top_k: top_k 5 (the format has no such parameter)']
    """
    losses: list[Loss] = []
    body: dict[str, Any] = {}
    if conv.model is not UNSET:
        body["model"] = conv.model
    body["messages"] = write_messages(conv, losses, reasoning_field=reasoning_field)
    if conv.max_tokens is not UNSET:
        body[max_tokens_field] = conv.max_tokens
    for k in ("temperature", "top_p", "stream"):
        v = getattr(conv, k)
        if v is not UNSET:
            body[k] = v
    if conv.stop_sequences is not UNSET:
        body["stop"] = list(conv.stop_sequences)
    write_tools(conv, body, losses)
    md = conv.metadata
    if isinstance(md, dict):
        for k, v in md.items():
            if k == "user_id" and isinstance(v, str):
                body["user"] = v
            else:
                losses.append(Loss(f"$.metadata.{k}", f"metadata {k} {v!r:.40}", "chat completions has no such field"))
    elif md is not UNSET:  # the codec keeps any JSON here; the API takes only an object
        losses.append(Loss("$.metadata", f"metadata {describe(md)}", "not an object; chat completions has no equivalent"))
    oc = conv.output_config
    if oc is not UNSET and not isinstance(oc, dict):
        losses.append(Loss("$.output_config", f"output_config {describe(oc)}", "not an object; chat completions "
                           "has no equivalent"))
    elif oc is not UNSET:
        for k, v in oc.items():
            if k == "format" and isinstance(v, dict) and v.get("type") == "json_schema" and "schema" in v:
                body["response_format"] = {"type": "json_schema",
                                           "json_schema": {"name": "response", "schema": v["schema"]}}
            elif k == "effort" and isinstance(v, str) and v in _EFFORTS:
                body["reasoning_effort"] = v
            else:
                losses.append(Loss(f"$.output_config.{k}", f"output_config.{k}", "chat completions has no equivalent"))
    params_losses(conv, ("model", "max_tokens", "temperature", "top_p", "stream", "stop_sequences",
                         "tools", "tool_choice", "metadata", "output_config"), losses)
    return body, tuple(losses)


def write_tools(conv: Conversation, body: dict[str, Any], losses: list[Loss]) -> None:
    """Set ``tools``, ``tool_choice`` and ``parallel_tool_calls`` of *body* from *conv*."""
    if conv.tools is not UNSET:
        fns = [function_from_tool(t, f"$.tools[{j}]", losses) for j, t in enumerate(conv.tools)]
        body["tools"] = [{"type": "function", "function": f} for f in fns if f is not None]
    tc = conv.tool_choice
    if tc is UNSET:
        return
    if not isinstance(tc, dict):  # kept as given by the codec; the API takes only an object
        losses.append(Loss("$.tool_choice", f"tool_choice {describe(tc)}", "not an object; chat "
                           "completions has no equivalent"))
        return
    kind = tc.get("type")
    if tc.get("disable_parallel_tool_use") is True:
        body["parallel_tool_calls"] = False
    elif tc.get("disable_parallel_tool_use") is False:
        losses.append(Loss("$.tool_choice.disable_parallel_tool_use", "disable_parallel_tool_use false",
                           "the default; not written"))
    if kind in ("auto", "none"):
        if not (kind == "auto" and tc.get("disable_parallel_tool_use") is True):
            body["tool_choice"] = kind
    elif kind == "any":
        body["tool_choice"] = "required"
    elif kind == "tool" and isinstance(tc.get("name"), str):
        body["tool_choice"] = {"type": "function", "function": {"name": tc["name"]}}
    else:
        losses.append(Loss("$.tool_choice", f"tool_choice {kind!r}", "chat completions has no equivalent"))
    for k in tc:
        if k not in ("type", "name", "disable_parallel_tool_use"):
            losses.append(Loss(f"$.tool_choice.{k}", f"tool_choice {k}", "chat completions has no equivalent"))


def write_messages(conv: Conversation, losses: list[Loss], *,
                   reasoning_field: str | None = "reasoning_content") -> list[dict[str, Any]]:
    """The OpenAI ``messages`` list for *conv* (top-level system first).

    >>> write_messages(Conversation().with_system("Be brief.").user("Hi"), [])
    [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}]
    """
    out: list[dict[str, Any]] = []
    note_joined_turns(conv, losses)
    st = system_text(conv, losses)
    if isinstance(st, str):
        out.append({"role": "system", "content": st})
    elif st is not None:
        out.append({"role": "system", "content": [{"type": "text", "text": t} for t in st]})
    for i, m in enumerate(conv.messages):
        p = f"$.messages[{i}]"
        note_message_extras(m, p, losses)
        if m.role == "assistant":
            out.append(_write_assistant(m, p, losses, reasoning_field))
        elif m.role in ("user", "system"):
            if isinstance(m.content, str):
                out.append({"role": m.role, "content": m.content})
                continue
            parts: list[dict[str, Any]] = []
            for j, blk in enumerate(m.content):
                bp = f"{p}.content[{j}]"
                if isinstance(blk, ToolResult) and m.role == "user":
                    out.append(_write_tool(blk, bp, losses))
                else:
                    part = _write_part(blk, bp, losses)
                    if part is not None:
                        parts.append(part)
            if len(parts) == 1 and parts[0]["type"] == "text" and any(isinstance(b, ToolResult) for b in m.content):
                # the words after tool results: a plain user message, which reads back as one text block
                out.append({"role": m.role, "content": parts[0]["text"]})
            elif parts:
                out.append({"role": m.role, "content": parts})
        else:
            losses.append(Loss(f"{p}.role", f"role {m.role!r}", "chat completions has no such role"))
    return out


def _write_part(blk: Block, bp: str, losses: list[Loss]) -> dict[str, Any] | None:
    if isinstance(blk, Text):
        note_block_extras(blk, bp, losses)
        return {"type": "text", "text": blk.text}
    if isinstance(blk, Image):
        ref = written_image_ref(blk, bp, losses, "chat completions")
        return None if ref is None else {"type": "image_url", "image_url": {"url": ref}}
    if isinstance(blk, Document):
        f = file_from_document(blk, bp, losses, urls=False)
        if isinstance(f, str):
            return {"type": "text", "text": f}
        return None if f is None else {"type": "file", "file": f}
    losses.append(Loss(bp, f"{getattr(blk, 'type', '?')} block", "chat completions messages have no equivalent"))
    return None


def _write_tool(r: ToolResult, bp: str, losses: list[Loss]) -> dict[str, Any]:
    note_block_extras(r, bp, losses)
    if r.is_error is True:
        losses.append(Loss(f"{bp}.is_error", "is_error", "tool messages have no error flag"))
    elif r.is_error is False:
        losses.append(Loss(f"{bp}.is_error", "is_error false", "the default; not written"))
    text = result_text(r, bp, losses)
    content: Any = text if isinstance(text, str) else [{"type": "text", "text": t} for t in text]
    return {"role": "tool", "tool_call_id": r.tool_use_id, "content": content}


def _write_assistant(m: Message, p: str, losses: list[Loss], reasoning_field: str | None) -> dict[str, Any]:
    if isinstance(m.content, str):
        return {"role": "assistant", "content": m.content}
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, blk in enumerate(m.content):
        bp = f"{p}.content[{j}]"
        if isinstance(blk, Text):
            note_block_extras(blk, bp, losses)
            texts.append(blk.text)
            if calls:
                _moved_block(p, "text after a tool call", losses)
        elif isinstance(blk, ToolUse):
            note_block_extras(blk, bp, losses)
            args = blk.input if isinstance(blk.input, str) else compact_json(blk.input)
            calls.append({"id": blk.id, "type": "function", "function": {"name": blk.name, "arguments": args}})
        elif isinstance(blk, Thinking) and reasoning_field is not None:
            if texts or calls:
                _moved_block(p, "thinking after other content", losses)
            note_block_extras(blk, bp, losses)
            reasoning.append(blk.thinking)
            if blk.signature:
                losses.append(Loss(f"{bp}.signature", "thinking signature", "chat completions has no place for it"))
        elif isinstance(blk, Thinking | RedactedThinking):
            losses.append(Loss(bp, f"{blk.type} block", "chat completions has no place for reasoning"))
        else:
            losses.append(Loss(bp, f"{getattr(blk, 'type', '?')} block", "assistant messages in chat "
                               "completions carry text and tool calls only"))
    msg: dict[str, Any] = {"role": "assistant"}
    if len(texts) == 1 and len(texts) < len(m.content):
        # a reader only makes blocks of string content when calls or reasoning sit beside it
        msg["content"] = texts[0]
    elif texts:
        msg["content"] = [{"type": "text", "text": t} for t in texts]
    else:
        msg["content"] = None if calls else ""
    if reasoning and reasoning_field is not None:
        if len(reasoning) > 1:
            losses.append(Loss(p, f"{len(reasoning)} thinking blocks", f"joined into one {reasoning_field}"))
        msg[reasoning_field] = "\n\n".join(reasoning)
    if calls:
        msg["tool_calls"] = calls
    return msg


def _moved_block(p: str, what: str, losses: list[Loss]) -> None:
    """Report, once per message, that the blocks will be read back in another order."""
    loss = Loss(f"{p}.content", what, "chat completions keeps reasoning, text and tool calls apart; read "
                "back in that order")
    if loss not in losses:
        losses.append(loss)


FORMAT = Format(
    "openai",
    "OpenAI chat completions request bodies, message lists and chat.completion responses",
    reader=read,
    writer=write,
)
