"""Hugging Face chat messages, both ways: ``{"messages": [{"role", "content"}]}`` (or a bare list),
as chat templates, TRL and LLaMA-Factory datasets hold them.

Layer: codec. Read:

- ``content`` as a string or parts: ``{"type": "text", "text"}``, images (``{"type": "image",
  "image"|"url"|"path"}``, ``{"type": "image_url", "image_url": {"url"}}``, or a bare
  ``{"type": "image"}`` that takes the next entry of the record's ``images``);
- LLaMA-Factory's v1 parts, whose payload is ``value``: ``text``, ``image_url``, ``reasoning`` and
  ``tool_call`` (a JSON ``{"name", "arguments"}`` string), and the per-message ``loss_weight``;
- ``reasoning_content`` / ``thinking`` / ``reasoning`` on assistant messages (a ``thinking``
  block with an empty signature, reported);
- ``tool_calls`` with ``function.arguments`` as an object (the HF convention) or a JSON string;
  calls without ids get one fixed by their place, and ``tool`` messages without ``tool_call_id``
  answer the calls before them in order (matching ``name`` when given);
- TRL rows: ``prompt`` + ``completion``, ``prompt`` + ``chosen``/``rejected`` (``which=`` picks the
  side, ``"chosen"`` by default; the other side is reported), ``chosen``/``rejected`` alone; and
  inspect_ai dataset rows (``{"input", "target"}``).

Write: ``style="hf"`` gives chat-template messages (arguments as objects, thinking in
*reasoning_key*, tool messages with ``name`` and, with ``ids=True``, ``tool_call_id``);
``style="llamafactory"`` gives LLaMA-Factory v1 records (parts with ``value``, ``tools`` as a JSON
string, ``loss_weight`` on every message with ``loss_weights=True``). Normalisations a round trip
shows: a bare list comes back as ``{"messages": [...]}``; default loss weights (0 for prompts, 1
for assistant turns) are only written when asked.

>>> c = read([{"role": "user", "content": "What is 3*4?"},
...           {"role": "assistant", "tool_calls": [{"type": "function",
...               "function": {"name": "multiply", "arguments": {"a": 3, "b": 4}}}]},
...           {"role": "tool", "name": "multiply", "content": "12"}])
>>> use, result = c.conversation.messages[1].content[0], c.conversation.messages[2].content[0]
>>> use.id == result.tool_use_id, use.input
(True, FrozenDict({'a': 3, 'b': 4}))
>>> write(c.conversation, ids=False)[0]["messages"][2]
{'role': 'tool', 'content': '12', 'name': 'multiply'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import orjson

from convo._json import UNSET
from convo.codec.formats._base import (
    ChatBuilder,
    Conversion,
    Format,
    ImageLoader,
    Loss,
    anthropic_tools,
    fail,
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
    python_json,
    result_text,
    system_text,
    unsigned_thinking,
    written_image_ref,
)
from convo.errors import DecodeError
from convo.model import Block, Conversation, Image, Message, Text, Thinking, ToolResult, ToolUse

__all__ = ["FORMAT", "read", "write"]

ORIGIN = "Hugging Face"

_MESSAGE_KEYS = frozenset({"role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content",
                           "thinking", "reasoning", "loss_weight"})
_REASONING_KEYS = ("reasoning_content", "thinking", "reasoning")
_ROW_SIDES = ("completion", "chosen", "rejected")


def read(obj: Any, *, source: str | None = None, which: str = "chosen",
         image_loader: ImageLoader | None = None) -> Conversion:
    """A conversation from a message list, a ``{"messages"}`` record, a TRL / inspect_ai row, or a
    preference record (read as a pair that stays paired).

    Preference records: TRL's ``chosen``/``rejected`` (with or without a shared ``prompt``), and
    LLaMA-Factory v1's ``chosen_messages``/``rejected_messages``; the conversation is the chosen
    side (``which="rejected"`` reads the rejected side alone instead). A KTO record (``messages``
    or ``prompt`` + ``completion``, and ``label``) has its ``label``. ``meta`` records how the row
    was split (``prompt_turns``: how many messages its prompt held, ``style``), so that writing the
    pair back gives the same row.

    >>> row = {"prompt": [{"role": "user", "content": "Sky?"}],
    ...        "chosen": [{"role": "assistant", "content": "Blue."}],
    ...        "rejected": [{"role": "assistant", "content": "Green."}]}
    >>> c = read(row)
    >>> c.conversation.messages[1].content, c.rejected.messages[1].content, c.meta
    ('Blue.', 'Green.', {'prompt_turns': 1})
    >>> read(row, which="rejected").conversation.messages[1].content
    'Green.'
    """
    losses: list[Loss] = []
    images: list[tuple[int, Any]] = []
    params: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    label: bool | None = None
    other: list[tuple[str, Any]] | None = None  # the rejected side's messages, for a pair
    if which not in ("chosen", "rejected"):
        raise ValueError(f"which must be 'chosen' or 'rejected', not {which!r}")
    if isinstance(obj, list):
        items = _indexed(obj, "$")
    else:
        d = need_dict(obj, "$", "a message list or a record object")
        known: tuple[str, ...]
        if "chosen_messages" in d or "rejected_messages" in d:
            sides: dict[str, list[tuple[str, Any]]] = {k: _indexed(need_list(d[k], f"$.{k}"), f"$.{k}") for k in ("chosen_messages", "rejected_messages") if k in d}
            items = sides.get(f"{which}_messages") or []
            if which == "chosen":
                other = sides.get("rejected_messages")
            meta["style"] = "llamafactory"
            meta["loss_weights"] = any(isinstance(m, dict) and "loss_weight" in m for _, m in items)
            known = ("chosen_messages", "rejected_messages", "tools", "images")
        elif "messages" in d:
            items = _indexed(need_list(d["messages"], "$.messages"), "$.messages")
            known = ("messages", "tools", "images", "label")
        elif "input" in d:
            inp = d["input"]
            items = [("$.input", {"role": "user", "content": inp})] if isinstance(inp, str) else \
                _indexed(need_list(inp, "$.input"), "$.input")
            known = ("input", "images")
        elif any(k in d for k in ("prompt", *_ROW_SIDES)):
            items, other, known = _row(d, which, losses, meta)
        else:
            raise DecodeError("expected 'messages', 'prompt', 'chosen', 'chosen_messages' or 'input'", path="$")
        if "label" in d and "label" in known:
            if not isinstance(d["label"], bool):
                raise fail("a boolean", d["label"], "$.label")
            label = d["label"]
        if "tools" in d:
            params["tools"] = anthropic_tools(d["tools"], "$.tools", losses)
        if "images" in d and d["images"] is not None:
            images = list(enumerate(need_list(d["images"], "$.images")))
            images.reverse()
        for k in d:
            if k not in known and k != "tools":
                losses.append(Loss(f"$.{k}", f"{k} {d[k]!r:.40}", "record metadata has no place in a "
                                   "Messages API conversation"))
    for _, m in [*items, *(other or ())]:
        if isinstance(m, dict):
            for k in _REASONING_KEYS:
                if m.get(k) is not None:
                    meta.setdefault("reasoning_key", k)
            calls = m.get("tool_calls")
            for tc in calls if isinstance(calls, list) else ():
                if isinstance(tc, dict) and tc.get("id") is None:
                    meta["ids"] = False
    rejected: Conversation | None = None
    if other is not None:
        side_images = list(images)
        system, msgs = _messages(other, losses, side_images, image_loader)
        rejected = Conversation(messages=msgs, system=system, **params)
    system, msgs = _messages(items, losses, images, image_loader)
    for k, ref in reversed(images):
        losses.append(Loss(f"$.images[{k}]", f"image {ref!r:.60}", "no image placeholder is left for it"))
    return Conversion(Conversation(messages=msgs, system=system, **params), losses, source,
                      rejected=rejected, label=label, meta=meta)


def _indexed(items: list[Any], path: str) -> list[tuple[str, Any]]:
    return [(f"{path}[{i}]", m) for i, m in enumerate(items)]


def _row(d: dict[str, Any], which: str, losses: list[Loss], meta: dict[str, Any]
         ) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]] | None, tuple[str, ...]]:
    """A TRL row's messages (prompt, then the completion or the chosen side), the rejected side's
    for a pair, and the row's keys."""
    prompt_items: list[tuple[str, Any]] = []
    prompt = d.get("prompt")
    if isinstance(prompt, str):
        prompt_items.append(("$.prompt", {"role": "user", "content": prompt}))
        meta["text"] = True
    elif prompt is not None:
        prompt_items.extend(_indexed(need_list(prompt, "$.prompt"), "$.prompt"))
    if prompt is not None:
        meta["prompt_turns"] = len(prompt_items)

    def side(name: str) -> list[tuple[str, Any]]:
        value = d[name]
        if isinstance(value, str):
            meta["text"] = True
            return [*prompt_items, (f"$.{name}", {"role": "assistant", "content": value})]
        return [*prompt_items, *_indexed(need_list(value, f"$.{name}"), f"$.{name}")]

    if "completion" in d:
        meta["completion"] = True
        for k in ("chosen", "rejected"):
            if k in d:
                losses.append(Loss(f"$.{k}", f"the {k} side beside a completion", "a row is a completion "
                                   "or a preference pair; the completion was read"))
        return side("completion"), None, ("prompt", *_ROW_SIDES, "label")
    if which in d:
        items = side(which)
    else:
        items = list(prompt_items)
    other = side("rejected") if which == "chosen" and "rejected" in d else None
    if other is not None and prompt is None:
        meta["implicit"] = True
    if which == "rejected" and "chosen" in d:
        losses.append(Loss("$.chosen", "the chosen side (the rejected side was read)", "which='rejected' reads "
                           "one side; the default reads the pair"))
    return items, other, ("prompt", *_ROW_SIDES, "label")


def _messages(items: Iterable[tuple[str, Any]], losses: list[Loss], images: list[tuple[int, Any]],
              image_loader: ImageLoader | None) -> tuple[Any, tuple[Message, ...]]:
    b = ChatBuilder(losses, ORIGIN)
    for i, (p, m) in enumerate(items):
        m = need_dict(m, p, "a message object")
        role = get_str(m, "role", p)
        if not m.keys() <= _MESSAGE_KEYS:  # the common case costs one set comparison
            for k in m:
                if k not in _MESSAGE_KEYS:
                    losses.append(Loss(f"{p}.{k}", f"message field {k!r}", "the Messages API message has no such field"))
        lw = m.get("loss_weight")
        if lw is not None and lw != (1 if role == "assistant" else 0):
            losses.append(Loss(f"{p}.loss_weight", f"loss_weight {lw!r}", "training weights have no place "
                               "in a Messages API conversation"))
        name = m.get("name")
        if name is not None and role != "tool":
            losses.append(Loss(f"{p}.name", f"name {name!r}", "the Messages API has no participant names"))
        content = m.get("content")
        cp = f"{p}.content"
        if role in ("system", "developer"):
            if role == "developer":
                losses.append(Loss(f"{p}.role", "role 'developer'", "read as system: the Messages API has no developer role"))
            blocks, _ = _parts(content, cp, i, losses, images, image_loader, text_only=True)
            b.system(content if isinstance(content, str) else tuple(blocks), p)
        elif role == "user":
            blocks, _ = _parts(content, cp, i, losses, images, image_loader)
            b.user(content if isinstance(content, str) else tuple(blocks))
        elif role == "assistant":
            _assistant(m, p, i, b, losses, images, image_loader)
        elif role in ("tool", "ipython"):
            tid = m.get("tool_call_id")
            if tid is not None and not isinstance(tid, str):
                raise fail("a string", tid, f"{p}.tool_call_id")
            if isinstance(content, str) or content is None:
                rc: Any = content or ""
            else:
                rc = tuple(_parts(content, cp, i, losses, images, image_loader, text_only=True)[0])
            b.tool_result(tid, name if isinstance(name, str) else None, rc, p)
        else:
            raise DecodeError(f"expected role system, developer, user, assistant or tool, got {role!r}",
                              path=f"{p}.role")
    return b.finish()


def _assistant(m: dict[str, Any], p: str, i: int, b: ChatBuilder, losses: list[Loss],
               images: list[tuple[int, Any]], image_loader: ImageLoader | None) -> None:
    content = m.get("content")
    calls = m.get("tool_calls")
    reasoning = [(k, m[k]) for k in _REASONING_KEYS if m.get(k) is not None]
    if isinstance(content, str) and not calls and not reasoning:
        b.assistant(content)
        return
    blocks: list[Block] = []
    for k, r in reasoning:
        if not isinstance(r, str):
            raise fail("a string", r, f"{p}.{k}")
        blocks.append(unsigned_thinking(r, f"{p}.{k}", losses, ORIGIN))
    call_paths: list[str] = []
    if isinstance(content, str):
        if content:
            blocks.append(Text(content))
    elif content is not None:
        parts, call_paths = _parts(content, f"{p}.content", i, losses, images, image_loader)
        if calls:
            for j, blk in enumerate(parts):
                if isinstance(blk, Text) and not blk.text:
                    losses.append(Loss(f"{p}.content[{j}]", "empty text part", "dropped: the API rejects "
                                       "empty text blocks"))
            parts = [blk for blk in parts if not (isinstance(blk, Text) and not blk.text)]
        blocks.extend(parts)
    if calls:
        offset = len(call_paths)
        for j, tc in enumerate(need_list(calls, f"{p}.tool_calls")):
            tp = f"{p}.tool_calls[{j}]"
            use = _tool_call(tc, tp, i, offset + j, losses)
            if use is not None:
                blocks.append(use)
                call_paths.append(tp)
    if not blocks:
        b.assistant("" if content is None else content)
        if content is None:
            losses.append(Loss(f"{p}.content", "assistant message without content", "kept as an empty string"))
        return
    b.assistant(tuple(blocks), call_paths)


def _tool_call(tc: Any, tp: str, i: int, j: int, losses: list[Loss]) -> ToolUse | None:
    tc = need_dict(tc, tp)
    kind = tc.get("type", "function")
    if kind not in ("function", "tool"):
        losses.append(Loss(tp, f"tool call of type {kind!r}", "only function calls map to tool_use"))
        return None
    if kind == "tool":
        losses.append(Loss(f"{tp}.type", "tool call type 'tool'", "written back as 'function'"))
    fn = need_dict(tc.get("function"), f"{tp}.function")
    name = get_str(fn, "name", f"{tp}.function")
    raw = fn.get("arguments", {})
    args, ok = parse_arguments(raw)
    if not ok:
        losses.append(Loss(f"{tp}.function.arguments", f"arguments {raw!r:.60}", "not a JSON object; kept raw "
                           "as the tool_use input, which the API rejects (input must be an object)"))
    elif isinstance(raw, str):
        losses.append(Loss(f"{tp}.function.arguments", "arguments as a JSON string", "written back as an object"))
    tid = tc.get("id")
    if tid is None:
        tid = generated_id(i, j)
    elif not isinstance(tid, str):
        raise fail("a string", tid, f"{tp}.id")
    for k in tc:
        if k not in ("id", "type", "function"):
            losses.append(Loss(f"{tp}.{k}", f"tool call field {k!r}", "tool_use has no such field"))
    return ToolUse(tid, name, args)


def _parts(content: Any, path: str, i: int, losses: list[Loss], images: list[tuple[int, Any]],
           image_loader: ImageLoader | None, *, text_only: bool = False) -> tuple[list[Block], list[str]]:
    """Blocks from a content value, and the source paths of the tool calls among them."""
    if content is None:
        return [], []
    if isinstance(content, str):
        return ([Text(content)] if content else []), []
    out: list[Block] = []
    call_paths: list[str] = []
    for j, part in enumerate(need_list(content, path, "a string or an array of content parts")):
        pp = f"{path}[{j}]"
        part = need_dict(part, pp, "a content part object")
        kind = part.get("type")
        if kind == "text":
            text = part.get("text", part.get("value"))
            if not isinstance(text, str):
                raise fail("a string", text, f"{pp}.text")
            out.append(Text(text))
            _extra(part, ("type", "text", "value"), pp, losses)
        elif text_only:
            losses.append(Loss(pp, f"content part of type {kind!r}", "this message holds text only"))
        elif kind in ("image", "image_url"):
            img = _image(part, pp, losses, images, image_loader)
            if img is not None:
                out.append(img)
        elif kind == "reasoning":
            r = part.get("value", part.get("text", part.get("reasoning")))
            if not isinstance(r, str):
                raise fail("a string", r, f"{pp}.value")
            out.append(unsigned_thinking(r, pp, losses, ORIGIN))
        elif kind == "tool_call":
            use = _part_call(part.get("value"), pp, i, len(call_paths), losses)
            if use is not None:
                out.append(use)
                call_paths.append(pp)
        else:
            losses.append(Loss(pp, f"content part of type {kind!r}", "the Messages API conversation has "
                               "no equivalent"))
    return out, call_paths


def _image(part: dict[str, Any], pp: str, losses: list[Loss], images: list[tuple[int, Any]],
           image_loader: ImageLoader | None) -> Image | None:
    ref: Any = None
    for key in ("image_url", "value", "image", "url", "path"):
        if part.get(key) is not None:
            ref = part[key]
            if key == "image_url" and isinstance(ref, dict):
                ref = ref.get("url")
            break
    where = pp
    if ref is None:
        if not images:
            losses.append(Loss(pp, "image placeholder", "the record has no image data for it"))
            return None
        k, ref = images.pop()
        where = f"$.images[{k}]"
        if isinstance(ref, dict):
            ref = ref.get("path") or ref.get("url") or ref
    if not isinstance(ref, str):
        losses.append(Loss(where, "image data that is not a path, URL or data URL", "cannot be carried"))
        return None
    return image_from_ref(ref, where, losses, image_loader, ORIGIN)


def _part_call(value: Any, pp: str, i: int, j: int, losses: list[Loss]) -> ToolUse | None:
    call = value
    if isinstance(value, str):
        try:
            call = orjson.loads(value)
        except orjson.JSONDecodeError:
            call = None
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        losses.append(Loss(pp, "tool_call part", 'not JSON {"name", "arguments"}; cannot be carried'))
        return None
    args, ok = parse_arguments(call.get("arguments", {}))
    if not ok:
        losses.append(Loss(pp, "tool_call arguments", "not a JSON object; kept raw as the tool_use input"))
    elif isinstance(call.get("arguments"), str):
        losses.append(Loss(pp, "arguments as a JSON string", "written back as an object"))
    return ToolUse(generated_id(i, j), call["name"], args)


def _extra(d: dict[str, Any], known: tuple[str, ...], path: str, losses: list[Loss]) -> None:
    for k in d:
        if k not in known:
            losses.append(Loss(f"{path}.{k}", f"field {k!r}", "the Messages API block has no such field"))


# --------------------------------------------------------------------------- writing


def write(
    conv: Conversation,
    *,
    style: Literal["hf", "llamafactory"] | None = None,
    reasoning_key: str | None = None,
    ids: bool | None = None,
    loss_weights: bool | None = None,
    rejected: Conversation | None = None,
    label: bool | None = None,
    meta: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], tuple[Loss, ...]]:
    """A ``{"messages": [...]}`` record for *conv* (with ``tools`` when it has some), or a
    preference record for a pair (*rejected*): TRL's ``prompt``/``chosen``/``rejected`` (the
    shared prompt as ``meta["prompt_turns"]`` says, else the messages both sides share), or with
    ``style="llamafactory"`` ``chosen_messages``/``rejected_messages``; a KTO *label* is written as
    ``label``. *style* and *loss_weights* default to what ``meta`` recorded when the value was read.

    >>> from convo.model import Thinking
    >>> conv = Conversation().user("Hi").assistant(Thinking("Greet back.", ""), Text("Hello!"))
    >>> write(conv)[0]["messages"][1]
    {'role': 'assistant', 'content': 'Hello!', 'reasoning_content': 'Greet back.'}
    >>> write(conv, style="llamafactory")[0]["messages"][1]["content"]
    [{'type': 'reasoning', 'value': 'Greet back.'}, {'type': 'text', 'value': 'Hello!'}]
    >>> write(Conversation().user("Sky?").assistant("Blue."), rejected=Conversation().user("Sky?").assistant("Green."))[0]
    {'prompt': [{'role': 'user', 'content': 'Sky?'}], 'chosen': [{'role': 'assistant', 'content': 'Blue.'}], 'rejected': [{'role': 'assistant', 'content': 'Green.'}]}
    """
    meta = meta or {}
    style = style or meta.get("style", "hf")
    if loss_weights is None:
        loss_weights = bool(meta.get("loss_weights", False))
    if reasoning_key is None:
        reasoning_key = str(meta.get("reasoning_key", "reasoning_content"))
    if ids is None:
        ids = bool(meta.get("ids", True))
    losses: list[Loss] = []
    record = _record(conv, losses, style == "llamafactory", reasoning_key, ids, loss_weights)
    if rejected is not None:
        other = _record(rejected, [], style == "llamafactory", reasoning_key, ids, loss_weights)
        if other.get("tools") != record.get("tools"):
            losses.append(Loss("$.tools", "the rejected side's tools", "a pair shares one tools list; the "
                               "chosen side's is written"))
        record = _pair(record, other, style, meta)
    elif "prompt_turns" in meta and style != "llamafactory":
        msgs = record.pop("messages")
        n = min(int(meta["prompt_turns"]), len(msgs))
        record = {"prompt": _texts(msgs[:n], meta), **record}
        if meta.get("completion", n < len(msgs)):
            record["completion"] = _texts(msgs[n:], meta)
    if label is not None:
        record["label"] = label
    return record, tuple(losses)


def _pair(chosen: dict[str, Any], rejected: dict[str, Any], style: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    a, b = chosen.pop("messages"), rejected["messages"]
    if style == "llamafactory":
        return {"chosen_messages": a, "rejected_messages": b, **chosen}
    shared = 0
    while shared < min(len(a), len(b)) and a[shared] == b[shared]:
        shared += 1
    if meta.get("implicit") and "prompt_turns" not in meta:
        return {"chosen": a, "rejected": b, **chosen}
    n = min(int(meta.get("prompt_turns", shared)), shared)
    return {"prompt": _texts(a[:n], meta), "chosen": _texts(a[n:], meta), "rejected": _texts(b[n:], meta), **chosen}


def _texts(msgs: list[dict[str, Any]], meta: Mapping[str, Any]) -> Any:
    """A TRL side as its text when the row held text (one message with string content)."""
    if meta.get("text") and len(msgs) == 1 and isinstance(msgs[0].get("content"), str) and len(msgs[0]) == 2:
        return msgs[0]["content"]
    return msgs


def _record(conv: Conversation, losses: list[Loss], v1: bool, reasoning_key: str, ids: bool,
            loss_weights: bool) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    note_joined_turns(conv, losses)
    st = system_text(conv, losses)
    if st is not None:
        out.append(_msg("system", st if isinstance(st, str) and not v1 else
                        [_text(t, v1) for t in ([st] if isinstance(st, str) else st)], loss_weights))
    names: dict[str, str] = {}
    for i, m in enumerate(conv.messages):
        p = f"$.messages[{i}]"
        note_message_extras(m, p, losses)
        if m.role == "assistant":
            out.append(_write_assistant(m, p, losses, v1, reasoning_key, ids, names, loss_weights))
            continue
        if m.role not in ("user", "system"):
            losses.append(Loss(f"{p}.role", f"role {m.role!r}", "chat messages have no such role"))
            continue
        if isinstance(m.content, str):
            out.append(_msg(m.role, [_text(m.content, v1)] if v1 else m.content, loss_weights))
            continue
        parts: list[dict[str, Any]] = []
        for j, blk in enumerate(m.content):
            bp = f"{p}.content[{j}]"
            if isinstance(blk, ToolResult) and m.role == "user":
                out.append(_write_tool(blk, bp, losses, v1, ids, names, loss_weights))
            elif isinstance(blk, Text):
                note_block_extras(blk, bp, losses)
                parts.append(_text(blk.text, v1))
            elif isinstance(blk, Image) and m.role == "user":
                ref = written_image_ref(blk, bp, losses, "chat messages")
                if ref is None:
                    continue
                parts.append({"type": "image_url", "value": ref} if v1 else {"type": "image", "url": ref})
            else:
                losses.append(Loss(bp, f"{getattr(blk, 'type', '?')} block", "chat messages have no equivalent"))
        if len(parts) == 1 and not v1 and parts[0]["type"] == "text" and any(isinstance(b, ToolResult) for b in m.content):
            out.append(_msg(m.role, parts[0]["text"], loss_weights))  # reads back as one text block
        elif parts:
            out.append(_msg(m.role, parts, loss_weights))
    record: dict[str, Any] = {"messages": out}
    if conv.tools is not UNSET:
        fns = [function_from_tool(t, f"$.tools[{j}]", losses) for j, t in enumerate(conv.tools)]
        tools = [{"type": "function", "function": f} for f in fns if f is not None]
        record["tools"] = python_json(tools) if v1 else tools
    params_losses(conv, ("tools",), losses)
    return record


def _text(t: str, v1: bool) -> dict[str, Any]:
    return {"type": "text", "value": t} if v1 else {"type": "text", "text": t}


def _msg(role: str, content: Any, loss_weights: bool) -> dict[str, Any]:
    m: dict[str, Any] = {"role": role, "content": content}
    if loss_weights:
        m["loss_weight"] = 1.0 if role == "assistant" else 0.0
    return m


def _write_tool(r: ToolResult, bp: str, losses: list[Loss], v1: bool, ids: bool, names: dict[str, str],
                loss_weights: bool) -> dict[str, Any]:
    note_block_extras(r, bp, losses)
    if r.is_error is True:
        losses.append(Loss(f"{bp}.is_error", "is_error", "tool messages have no error flag"))
    elif r.is_error is False:
        losses.append(Loss(f"{bp}.is_error", "is_error false", "the default; not written"))
    text = result_text(r, bp, losses)
    if v1:
        msg = _msg("tool", [_text(t, True) for t in ([text] if isinstance(text, str) else text)], loss_weights)
        if ids:
            losses.append(Loss(f"{bp}.tool_use_id", "tool_use id", "LLaMA-Factory tool messages have no ids: "
                               "they pair by order"))
        return msg
    msg = _msg("tool", text if isinstance(text, str) else [_text(t, False) for t in text], loss_weights)
    if ids:
        msg["tool_call_id"] = r.tool_use_id
    if r.tool_use_id in names:
        msg["name"] = names[r.tool_use_id]
    return msg


def _write_assistant(m: Message, p: str, losses: list[Loss], v1: bool, reasoning_key: str, ids: bool,
                     names: dict[str, str], loss_weights: bool) -> dict[str, Any]:
    if isinstance(m.content, str):
        return _msg("assistant", [_text(m.content, True)] if v1 else m.content, loss_weights)
    parts: list[dict[str, Any]] = []
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, blk in enumerate(m.content):
        bp = f"{p}.content[{j}]"
        if isinstance(blk, Text):
            note_block_extras(blk, bp, losses)
            texts.append(blk.text)
            parts.append(_text(blk.text, v1))
            if calls and not v1:
                _moved_block(p, "text after a tool call", losses)
        elif isinstance(blk, Thinking):
            if (texts or calls) and not v1:
                _moved_block(p, "thinking after other content", losses)
            note_block_extras(blk, bp, losses)
            if blk.signature:
                losses.append(Loss(f"{bp}.signature", "thinking signature", "chat messages have no place for it"))
            reasoning.append(blk.thinking)
            parts.append({"type": "reasoning", "value": blk.thinking})
        elif isinstance(blk, ToolUse):
            note_block_extras(blk, bp, losses)
            names[blk.id] = blk.name
            if v1:
                parts.append({"type": "tool_call", "value": python_json({"name": blk.name, "arguments": blk.input})})
                continue
            call: dict[str, Any] = {"id": blk.id} if ids else {}
            call["type"] = "function"
            call["function"] = {"name": blk.name, "arguments": blk.input}
            calls.append(call)
        else:
            losses.append(Loss(bp, f"{getattr(blk, 'type', '?')} block", "chat messages have no equivalent"))
    if v1:
        if ids and any(isinstance(blk, ToolUse) for blk in m.content):
            losses.append(Loss(p, "tool_use ids", "LLaMA-Factory tool calls have no ids: they pair by order"))
        return _msg("assistant", parts, loss_weights)
    msg: dict[str, Any] = {"role": "assistant"}
    if len(texts) == 1 and len(texts) < len(m.content):
        # a reader only makes blocks of string content when calls or reasoning sit beside it
        msg["content"] = texts[0]
    elif texts:
        msg["content"] = [_text(t, False) for t in texts]
    elif not calls:
        msg["content"] = ""
    if reasoning:
        if len(reasoning) > 1:
            losses.append(Loss(p, f"{len(reasoning)} thinking blocks", f"joined into one {reasoning_key}"))
        msg[reasoning_key] = "\n\n".join(reasoning)
    if calls:
        msg["tool_calls"] = calls
    if loss_weights:
        msg["loss_weight"] = 1.0
    return msg


def _moved_block(p: str, what: str, losses: list[Loss]) -> None:
    """Report, once per message, that the blocks will be read back in another order."""
    loss = Loss(f"{p}.content", what, "chat messages keep reasoning, text and tool calls apart; read back "
                "in that order")
    if loss not in losses:
        losses.append(loss)


FORMAT = Format(
    "hf",
    'Hugging Face chat messages: {"messages": [{"role", "content"}]} (TRL, chat templates, LLaMA-Factory v1)',
    reader=read,
    writer=write,
    pairs=True,
)
