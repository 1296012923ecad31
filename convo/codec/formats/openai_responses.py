"""The OpenAI Responses API, both ways: ``/v1/responses`` request bodies (``input`` items,
``instructions``) and, in only, ``response`` objects (their ``output`` items).

Layer: codec. What maps, and how:

===============================  ================================================================
Responses API                    Messages API
===============================  ================================================================
``instructions``, leading        top-level ``system`` (later ``system``/``developer`` messages are
``system``/``developer``         mid-conversation system messages, as in chat completions)
``input_text`` / ``output_text``  ``text``
``input_image``                  ``image`` (a data URL a base64 source, a URL a URL source, a
                                 ``file_id`` a ``file`` source)
``input_file``                   ``document`` (``file_data`` base64, ``file_id`` a file source,
                                 ``file_url`` a URL source), as litellm maps files
``function_call``                ``tool_use`` (``call_id`` is the id; ``arguments`` parsed)
``function_call_output``         ``tool_result`` (paired by ``call_id``)
``reasoning``                    ``thinking`` with the summary text and an empty signature; the
                                 item's ``id`` and ``encrypted_content`` are kept under the block's
                                 ``openai`` key, so that a conversation read from the Responses API
                                 writes back to it intact
``max_output_tokens``            ``max_tokens``; ``reasoning.effort`` is ``output_config.effort``;
                                 ``text.format`` json_schema is ``output_config.format``
===============================  ================================================================

Signed or encrypted reasoning cannot cross providers (OBS: each provider verifies its own
signatures and decrypts only its own ``encrypted_content``): reading encrypted reasoning reports,
per item, that the Messages API will refuse it (``strip_thinking()`` removes it); writing a
Messages API ``thinking`` block (its signature is Anthropic's) or ``redacted_thinking`` block to
the Responses API reports it and leaves it out, since a reasoning input item needs OpenAI's own
``id``. Built-in tool calls (``web_search_call``, ``file_search_call``, ...) have no Messages API
equivalent and are reported.

>>> c = read({"model": "gpt-5", "instructions": "Be brief.", "input": [
...     {"role": "user", "content": "Weather in Paris?"},
...     {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{\\"city\\": \\"Paris\\"}"},
...     {"type": "function_call_output", "call_id": "call_1", "output": "18C"}]})
>>> c.conversation.system, [m.role for m in c.conversation.messages], c.losses
('Be brief.', ['user', 'assistant', 'user'], ())
>>> write(c.conversation)[0]["input"][1]
{'type': 'function_call', 'call_id': 'call_1', 'name': 'weather', 'arguments': '{"city":"Paris"}'}
"""

from __future__ import annotations

from typing import Any

from convo._json import UNSET, freeze, thaw
from convo.codec.formats._base import (
    ChatBuilder,
    Conversion,
    Format,
    ImageLoader,
    Loss,
    compact_json,
    describe,
    document_from_file,
    fail,
    file_from_document,
    function_from_tool,
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
)
from convo.errors import DecodeError
from convo.model import (
    Block,
    Conversation,
    Document,
    FileSource,
    Image,
    RedactedThinking,
    Text,
    Thinking,
    ToolResult,
    ToolUse,
)

__all__ = ["FORMAT", "read", "write"]

ORIGIN = "the Responses API"
KEY = "openai"
"""The key of a ``thinking`` block's ``extra`` that keeps a reasoning item's own fields."""

_EFFORTS = frozenset({"low", "medium", "high", "xhigh"})
_ASSISTANT_ITEMS = frozenset({"function_call", "reasoning"})


# --------------------------------------------------------------------------- reading


def read(obj: Any, *, source: str | None = None, image_loader: ImageLoader | None = None) -> Conversion:
    """A conversation from a Responses API request body, an ``input`` list, or a ``response``
    object (its ``output`` as the assistant's turn).

    >>> read({"object": "response", "model": "gpt-5", "output": [{"type": "message", "role": "assistant",
    ...       "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}]}).conversation.messages
    (Message(role='assistant', content=(Text(text='Hi'),)),)
    """
    losses: list[Loss] = []
    if isinstance(obj, list):
        system, msgs = read_items(obj, "$", losses, image_loader=image_loader)
        return Conversion(Conversation(messages=msgs, system=system), losses, source)
    d = need_dict(obj, "$", "a Responses API request, an input list or a response object")
    if d.get("object") == "response" or ("output" in d and "input" not in d):
        _, msgs = read_items(need_list(d.get("output", []), "$.output"), "$.output", losses,
                             image_loader=image_loader, assistant=True)
        for k in d:
            if k not in ("output", "model", "object"):
                losses.append(Loss(f"$.{k}", f"{k} {d[k]!r:.40}", "response metadata; not part of a "
                                   "Messages API request"))
        model = d["model"] if isinstance(d.get("model"), str) else UNSET
        return Conversion(Conversation(model=model, messages=msgs), losses, source)
    if "input" not in d:
        raise DecodeError("missing required key", path="$.input")
    inp = d["input"]
    items = [{"role": "user", "content": inp}] if isinstance(inp, str) else need_list(inp, "$.input")
    instructions = d.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise fail("a string", instructions, "$.instructions")
    if instructions:
        items = [{"role": "system", "content": instructions}, *items]
    system, msgs = read_items(items, "$.input", losses, image_loader=image_loader,
                              shift=1 if instructions else 0, one=isinstance(inp, str))
    params = _read_params(d, losses)
    return Conversion(Conversation(messages=msgs, system=system, **params), losses, source)


def read_items(items: list[Any], path: str, losses: list[Loss], *, image_loader: ImageLoader | None = None,
               assistant: bool = False, shift: int = 0, one: bool = False) -> tuple[Any, tuple[Any, ...]]:
    """The top-level system and the messages of a list of input (or output) items.

    *shift* is how many items were put in front of the list (``instructions``), so that paths
    name the places in the value as given; *one* says the input was one string.
    """
    b = ChatBuilder(losses, ORIGIN)
    pending: list[Block] = []
    pending_paths: list[str] = []
    plain: list[bool] = []  # whether each pending block came from a message of string content

    def flush() -> None:
        if len(pending) == 1 and plain == [True]:
            b.assistant(pending[0].text)  # type: ignore[union-attr]
        elif pending:
            b.assistant(tuple(pending), list(pending_paths))
        pending.clear()
        pending_paths.clear()
        plain.clear()

    for i, item in enumerate(items):
        p = "$.instructions" if i < shift else path if one else f"{path}[{i - shift}]"
        item = need_dict(item, p, "an input item object")
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            role = get_str(item, "role", p)
            content = item.get("content")
            if role == "assistant" or assistant:
                blocks = _assistant_content(content, f"{p}.content", losses)
                _extra_keys(item, ("type", "role", "content", "id", "status"), p, losses)
                if isinstance(blocks, str):
                    pending.append(Text(blocks))
                    plain.append(True)
                else:
                    pending.extend(blocks)
                    plain.extend(False for _ in blocks)
                continue
            flush()
            _extra_keys(item, ("type", "role", "content", "id", "status"), p, losses)
            cp = p if i < shift else f"{p}.content"
            if role == "user":
                b.user(_user_content(content, cp, losses, image_loader))
            elif role in ("system", "developer"):
                if role == "developer":
                    losses.append(Loss(f"{p}.role", "role 'developer'", "read as system: the Messages API has "
                                       "no developer role"))
                b.system(_user_content(content, cp, losses, image_loader), p)
            else:
                raise DecodeError(f"expected role user, assistant, system or developer, got {role!r}", path=f"{p}.role")
        elif kind == "function_call":
            pending.append(_function_call(item, p, losses))
            pending_paths.append(p)
            plain.append(False)
        elif kind == "reasoning":
            pending.append(_reasoning(item, p, losses))
            plain.append(False)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            flush()
            cid = item.get("call_id")
            if not isinstance(cid, str):
                raise fail("a string", cid, f"{p}.call_id")
            _extra_keys(item, ("type", "call_id", "output", "id", "status"), p, losses)
            b.tool_result(cid, None, _output(item.get("output"), f"{p}.output", losses, image_loader), p)
        elif kind == "item_reference":
            losses.append(Loss(p, f"item reference {item.get('id')!r}", "a reference to an item stored by "
                               "OpenAI; its content is not in the value"))
        else:
            losses.append(Loss(p, f"a {kind!r} item", "an OpenAI built-in tool item; the Messages API "
                               "conversation has no equivalent"))
    flush()
    return b.finish()


def _extra_keys(d: dict[str, Any], known: tuple[str, ...], path: str, losses: list[Loss]) -> None:
    for k in d:
        if k not in known:
            losses.append(Loss(f"{path}.{k}", f"field {k!r} = {d[k]!r:.40}", "the Messages API has no "
                               "such field"))


def _user_content(c: Any, path: str, losses: list[Loss], image_loader: ImageLoader | None) -> Any:
    if isinstance(c, str):
        return c
    out: list[Block] = []
    for j, part in enumerate(need_list(c, path, "a string or an array of content parts")):
        pp = f"{path}[{j}]"
        part = need_dict(part, pp, "a content part object")
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise fail("a string", text, f"{pp}.text")
            out.append(Text(text))
            _extra_keys(part, ("type", "text", "annotations"), pp, losses)
            if part.get("annotations"):
                losses.append(Loss(f"{pp}.annotations", "annotations", "the Messages API text has citations, "
                                   "not annotations"))
        elif kind == "input_image":
            img = _image(part, pp, losses, image_loader)
            if img is not None:
                out.append(img)
        elif kind == "input_file":
            got = _file(part, pp, losses)
            if got is not None:
                out.append(got)
        else:
            losses.append(Loss(pp, f"content part of type {kind!r}", "the Messages API conversation has no "
                               "equivalent"))
    return tuple(out)


def _image(part: dict[str, Any], pp: str, losses: list[Loss], image_loader: ImageLoader | None) -> Image | None:
    _extra_keys(part, ("type", "image_url", "file_id", "detail"), pp, losses)
    if part.get("detail") not in (None, "auto"):
        losses.append(Loss(f"{pp}.detail", f"detail {part['detail']!r}", "the Messages API image has no detail level"))
    if isinstance(part.get("file_id"), str):
        return Image(FileSource(part["file_id"]))
    url = part.get("image_url")
    if not isinstance(url, str):
        raise fail("an image_url string or a file_id", url, f"{pp}.image_url")
    return image_from_ref(url, f"{pp}.image_url", losses, image_loader, ORIGIN)


def _file(part: dict[str, Any], pp: str, losses: list[Loss]) -> Block | None:
    strs: dict[str, str | None] = {}
    for k in ("file_data", "file_id", "file_url", "filename"):
        v = part.get(k)
        if v is not None and not isinstance(v, str):
            raise fail("a string", v, f"{pp}.{k}")
        strs[k] = v
    _extra_keys(part, ("type", "file_data", "file_id", "file_url", "filename"), pp, losses)
    if strs["filename"] is not None:
        losses.append(Loss(f"{pp}.filename", f"file name {strs['filename']!r:.60}", "the Messages API "
                           "document has no file name"))
    data = strs["file_data"]
    if data is not None and not data.startswith("data:"):
        # the Responses API also takes bare base64 with the media type told by the file name
        name = strs["filename"] or ""
        media = "application/pdf" if name.lower().endswith(".pdf") or not name else "application/octet-stream"
        data = f"data:{media};base64,{data}"
    return document_from_file(data, strs["file_id"], strs["file_url"], None, pp, losses)


def _assistant_content(c: Any, path: str, losses: list[Loss]) -> str | list[Block]:
    if isinstance(c, str):
        return c
    out: list[Block] = []
    for j, part in enumerate(need_list(c, path, "a string or an array of output parts")):
        pp = f"{path}[{j}]"
        part = need_dict(part, pp, "an output part object")
        kind = part.get("type")
        if kind in ("output_text", "input_text", "text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise fail("a string", text, f"{pp}.text")
            out.append(Text(text))
            if part.get("annotations"):
                losses.append(Loss(f"{pp}.annotations", "annotations", "the Messages API text has citations, "
                                   "not annotations"))
            for k in part:
                if k not in ("type", "text", "annotations", "logprobs"):
                    losses.append(Loss(f"{pp}.{k}", f"field {k!r}", "the Messages API text has no such field"))
            if part.get("logprobs"):
                losses.append(Loss(f"{pp}.logprobs", "logprobs", "the Messages API has no log probabilities"))
        elif kind == "refusal":
            r = part.get("refusal")
            if not isinstance(r, str):
                raise fail("a string", r, f"{pp}.refusal")
            losses.append(Loss(pp, "refusal part", "read as a text block: the Messages API marks a refusal "
                               "by stop_reason, not in the content"))
            out.append(Text(r))
        else:
            losses.append(Loss(pp, f"content part of type {kind!r}", "the Messages API conversation has no equivalent"))
    return out


def _function_call(item: dict[str, Any], p: str, losses: list[Loss]) -> ToolUse:
    cid = item.get("call_id")
    if not isinstance(cid, str):
        raise fail("a string", cid, f"{p}.call_id")
    name = get_str(item, "name", p)
    raw = item.get("arguments", "{}")
    args, ok = parse_arguments(raw)
    if not ok:
        losses.append(Loss(f"{p}.arguments", f"arguments {raw!r:.60}", "not a JSON object; kept raw as the "
                           "tool_use input, which the API rejects (input must be an object)"))
    for k in item:
        if k in ("id", "status"):
            continue  # OpenAI's own bookkeeping of the item, given again when it is stored
        if k not in ("type", "call_id", "name", "arguments"):
            losses.append(Loss(f"{p}.{k}", f"field {k!r}", "tool_use has no such field"))
    return ToolUse(cid, name, args)


def _reasoning(item: dict[str, Any], p: str, losses: list[Loss]) -> Thinking:
    texts: list[str] = []
    for j, s in enumerate(need_list(item.get("summary", []), f"{p}.summary")):
        s = need_dict(s, f"{p}.summary[{j}]")
        if isinstance(s.get("text"), str):
            texts.append(s["text"])
    parts = item.get("content")
    for s in parts if isinstance(parts, list) else ():
        if isinstance(s, dict) and isinstance(s.get("text"), str) and not texts:
            texts.append(s["text"])
    own = {k: v for k, v in item.items() if k != "type"}
    signed = item.get("encrypted_content") is not None or "id" in item
    if item.get("encrypted_content") is not None:
        losses.append(Loss(f"{p}.encrypted_content", "encrypted reasoning", "only OpenAI can read it: kept "
                           f"under the thinking block's {KEY!r} key for writing back to the Responses API; "
                           "the Messages API refuses it (strip_thinking() removes it)"))
    else:
        losses.append(Loss(p, "reasoning without an Anthropic signature", "kept as a thinking block with an "
                           "empty signature, which the Messages API refuses when it is sent back "
                           "(strip_thinking() removes it)"))
    return Thinking("\n\n".join(texts), "", extra=freeze({KEY: own} if signed else {}))


def _output(c: Any, path: str, losses: list[Loss], image_loader: ImageLoader | None) -> Any:
    if c is None:
        return ""
    if isinstance(c, str):
        return c
    return _user_content(c, path, losses, image_loader)


def _read_params(d: dict[str, Any], losses: list[Loss]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    output_config: dict[str, Any] = {}
    for k, v in d.items():
        p = f"$.{k}"
        if k in ("input", "instructions"):
            continue
        if k == "model":
            out["model"] = get_str(d, k, "$")
        elif k == "max_output_tokens":
            if v is not None:
                if not isinstance(v, int) or isinstance(v, bool):
                    raise fail("an integer", v, p)
                out["max_tokens"] = v
        elif k in ("temperature", "top_p"):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise fail("a number", v, p)
            out[k] = v
        elif k == "stream":
            out["stream"] = v
        elif k == "tools":
            tools = []
            for j, t in enumerate(need_list(v, p)):
                tp = f"{p}[{j}]"
                t = need_dict(t, tp)
                if t.get("type") != "function":
                    losses.append(Loss(tp, f"tool of type {t.get('type')!r}", "an OpenAI built-in tool; the "
                                       "Messages API has no equivalent"))
                    continue
                tool = tool_from_function(t, tp, losses, extra_keys=("type",))
                if tool is not None:
                    tools.append(tool)
            out["tools"] = tuple(tools)
        elif k == "tool_choice":
            if v in ("auto", "none"):
                out["tool_choice"] = {**out.get("tool_choice", {}), "type": v}
            elif v == "required":
                out["tool_choice"] = {**out.get("tool_choice", {}), "type": "any"}
            elif isinstance(v, dict) and v.get("type") == "function" and isinstance(v.get("name"), str):
                out["tool_choice"] = {**out.get("tool_choice", {}), "type": "tool", "name": v["name"]}
            else:
                losses.append(Loss(p, f"tool_choice {v!r:.60}", "no Messages API equivalent"))
        elif k == "parallel_tool_calls":
            if v is False:
                out["tool_choice"] = {"type": "auto", **out.get("tool_choice", {}), "disable_parallel_tool_use": True}
            else:
                losses.append(Loss(p, f"parallel_tool_calls {v!r}", "the default; not kept"))
        elif k == "reasoning" and isinstance(v, dict):
            for rk, rv in v.items():
                if rk == "effort" and rv in _EFFORTS:
                    output_config["effort"] = rv
                else:
                    losses.append(Loss(f"{p}.{rk}", f"reasoning.{rk} {rv!r}", "the Messages API has no equivalent"))
        elif k == "text" and isinstance(v, dict):
            for tk, tv in v.items():
                if tk == "format" and isinstance(tv, dict) and tv.get("type") == "json_schema" and "schema" in tv:
                    output_config["format"] = {"type": "json_schema", "schema": tv["schema"]}
                    for fk in tv:
                        if fk not in ("type", "schema"):
                            losses.append(Loss(f"{p}.format.{fk}", f"text.format.{fk}", "output_config.format has "
                                               "no such field"))
                elif not (tk == "format" and isinstance(tv, dict) and tv.get("type") == "text"):
                    losses.append(Loss(f"{p}.{tk}", f"text.{tk} {tv!r:.40}", "the Messages API has no equivalent"))
        elif k in ("user", "safety_identifier") and isinstance(v, str):
            out["metadata"] = {"user_id": v}
        else:
            losses.append(Loss(p, f"{k} {v!r:.60}", "the Messages API has no such parameter"))
    if output_config:
        out["output_config"] = output_config
    return out


# --------------------------------------------------------------------------- writing


def write(conv: Conversation) -> tuple[dict[str, Any], tuple[Loss, ...]]:
    """A Responses API request body for *conv*, and what it could not carry.

    >>> body, losses = write(Conversation(model="gpt-5", max_tokens=64).with_system("Be brief.").user("Hi"))
    >>> body
    {'model': 'gpt-5', 'instructions': 'Be brief.', 'input': [{'role': 'user', 'content': 'Hi'}], 'max_output_tokens': 64}
    """
    losses: list[Loss] = []
    body: dict[str, Any] = {}
    if conv.model is not UNSET:
        body["model"] = conv.model
    st = system_text(conv, losses)
    if st is not None:
        if not isinstance(st, str):
            losses.append(Loss("$.system", f"{len(st)} system block{'s' if len(st) > 1 else ''}",
                               "joined with blank lines into instructions, read back as a string"))
        body["instructions"] = st if isinstance(st, str) else "\n\n".join(st)
    body["input"] = write_items(conv, losses)
    if conv.max_tokens is not UNSET:
        body["max_output_tokens"] = conv.max_tokens
    for k in ("temperature", "top_p", "stream"):
        v = getattr(conv, k)
        if v is not UNSET:
            body[k] = v
    if conv.tools is not UNSET:
        tools = []
        for j, t in enumerate(conv.tools):
            f = function_from_tool(t, f"$.tools[{j}]", losses)
            if f is None:
                continue
            if "strict" not in f:  # required by the SDK's FunctionToolParam; the API's default is strict
                f["strict"] = False
                losses.append(Loss(f"$.tools[{j}].strict", "no strict", "written as strict false (the "
                                   "Responses API defaults to strict), read back so"))
            tools.append({"type": "function", **f})
        body["tools"] = tools
    _write_tool_choice(conv, body, losses)
    md = conv.metadata
    if isinstance(md, dict):
        for k, v in md.items():
            if k == "user_id" and isinstance(v, str):
                body["safety_identifier"] = v
            else:
                losses.append(Loss(f"$.metadata.{k}", f"metadata {k}", "the Responses API has no such field"))
    if conv.output_config is not UNSET:
        for k, v in conv.output_config.items():
            if k == "format" and isinstance(v, dict) and v.get("type") == "json_schema" and "schema" in v:
                body["text"] = {"format": {"type": "json_schema", "name": "response", "schema": thaw(v["schema"])}}
            elif k == "effort" and isinstance(v, str) and v in _EFFORTS:
                body["reasoning"] = {"effort": v}
            else:
                losses.append(Loss(f"$.output_config.{k}", f"output_config.{k}", "the Responses API has no equivalent"))
    params_losses(conv, ("model", "max_tokens", "temperature", "top_p", "stream", "tools", "tool_choice",
                         "metadata", "output_config"), losses)
    return body, tuple(losses)


def _write_tool_choice(conv: Conversation, body: dict[str, Any], losses: list[Loss]) -> None:
    tc = conv.tool_choice
    if tc is UNSET:
        return
    if not isinstance(tc, dict):  # kept as given by the codec; the API takes only an object
        losses.append(Loss("$.tool_choice", f"tool_choice {describe(tc)}", "not an object; the Responses "
                           "API has no equivalent"))
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
        body["tool_choice"] = {"type": "function", "name": tc["name"]}
    else:
        losses.append(Loss("$.tool_choice", f"tool_choice {kind!r}", "the Responses API has no equivalent"))
    for k in tc:
        if k not in ("type", "name", "disable_parallel_tool_use"):
            losses.append(Loss(f"$.tool_choice.{k}", f"tool_choice {k}", "the Responses API has no equivalent"))


def write_items(conv: Conversation, losses: list[Loss]) -> list[dict[str, Any]]:
    """The ``input`` items for *conv*'s messages."""
    out: list[dict[str, Any]] = []
    note_joined_turns(conv, losses)
    for i in range(1, len(conv.messages)):
        if conv.messages[i].role == conv.messages[i - 1].role == "assistant":
            losses.append(Loss(f"$.messages[{i}]", "an assistant turn right after another", "assistant items "
                               "in a row are one turn: read back joined to it"))
    for i, m in enumerate(conv.messages):
        p = f"$.messages[{i}]"
        note_message_extras(m, p, losses)
        if isinstance(m.content, str):
            out.append({"role": m.role, "content": m.content})
            continue
        if m.role == "assistant":
            _write_assistant(m.content, p, out, losses)
            continue
        parts: list[dict[str, Any]] = []
        for j, blk in enumerate(m.content):
            bp = f"{p}.content[{j}]"
            if isinstance(blk, ToolResult) and m.role == "user":
                if parts:
                    out.append({"role": m.role, "content": parts})
                    parts = []
                out.append(_write_result(blk, bp, losses))
            else:
                part = _write_part(blk, bp, losses)
                if part is not None:
                    parts.append(part)
        if parts:
            out.append({"role": m.role, "content": parts})
    return out


def _write_part(blk: Block, bp: str, losses: list[Loss]) -> dict[str, Any] | None:
    if isinstance(blk, Text):
        note_block_extras(blk, bp, losses)
        return {"type": "input_text", "text": blk.text}
    if isinstance(blk, Image):
        note_block_extras(blk, bp, losses)
        src = blk.source
        if isinstance(src, FileSource):
            return {"type": "input_image", "file_id": src.file_id, "detail": "auto"}
        from convo.codec.formats._base import image_ref

        ref = image_ref(blk)
        if ref is None:
            losses.append(Loss(bp, "an image of an unknown source", "the Responses API cannot refer to it"))
            return None
        return {"type": "input_image", "image_url": ref, "detail": "auto"}
    if isinstance(blk, Document):
        f = file_from_document(blk, bp, losses, urls=True)
        if isinstance(f, str):
            return {"type": "input_text", "text": f}
        return None if f is None else {"type": "input_file", **f}
    losses.append(Loss(bp, f"{getattr(blk, 'type', '?')} block", "Responses API input messages have no equivalent"))
    return None


def _write_result(r: ToolResult, bp: str, losses: list[Loss]) -> dict[str, Any]:
    note_block_extras(r, bp, losses)
    if r.is_error is True:
        losses.append(Loss(f"{bp}.is_error", "is_error", "function_call_output has no error flag"))
    elif r.is_error is False:
        losses.append(Loss(f"{bp}.is_error", "is_error false", "the default; not written"))
    c = r.content
    if isinstance(c, tuple) and any(not isinstance(b, Text) for b in c):
        parts = [x for j, b in enumerate(c) if (x := _write_part(b, f"{bp}.content[{j}]", losses)) is not None]
        return {"type": "function_call_output", "call_id": r.tool_use_id, "output": parts}
    text = result_text(r, bp, losses)
    output: Any = text if isinstance(text, str) else [{"type": "input_text", "text": t} for t in text]
    return {"type": "function_call_output", "call_id": r.tool_use_id, "output": output}


def _write_assistant(content: tuple[Block, ...], p: str, out: list[dict[str, Any]], losses: list[Loss]) -> None:
    # Assistant text is written as easy input messages of string content, one per text block: an
    # output message item needs the id and status OpenAI gave it (the SDK's ResponseOutputMessageParam).
    if len(content) == 1 and isinstance(content[0], Text):
        losses.append(Loss(f"{p}.content", "one text block", "written as a message of string content, read "
                           "back as a string"))
    for j, blk in enumerate(content):
        bp = f"{p}.content[{j}]"
        if isinstance(blk, Text):
            note_block_extras(blk, bp, losses)
            out.append({"role": "assistant", "content": blk.text})
        elif isinstance(blk, ToolUse):
            note_block_extras(blk, bp, losses)
            args = blk.input if isinstance(blk.input, str) else compact_json(blk.input)
            out.append({"type": "function_call", "call_id": blk.id, "name": blk.name, "arguments": args})
        elif isinstance(blk, Thinking) and isinstance(blk.extra.get(KEY), dict):
            own = thaw(blk.extra[KEY])
            item = {"type": "reasoning", **own}
            if "summary" not in item:
                item["summary"] = [{"type": "summary_text", "text": blk.thinking}] if blk.thinking else []
            if blk.signature:
                losses.append(Loss(f"{bp}.signature", "thinking signature", "Anthropic's signature cannot "
                                   "cross to OpenAI"))
            for k in blk.extra:
                if k != KEY:
                    losses.append(Loss(f"{bp}.{k}", f"field {k!r}", "the reasoning item has no such field"))
            out.append(item)
        elif isinstance(blk, Thinking | RedactedThinking):
            losses.append(Loss(bp, f"{blk.type} block", "reasoning from another provider cannot be sent to "
                               "OpenAI: a reasoning input item needs OpenAI's own id (and its encrypted_content)"))
        else:
            losses.append(Loss(bp, f"{getattr(blk, 'type', '?')} block", "Responses API assistant items carry "
                               "text, function calls and OpenAI's own reasoning only"))


FORMAT = Format(
    "responses",
    "OpenAI Responses API request bodies (input items, instructions) and response objects",
    reader=read,
    writer=write,
)
