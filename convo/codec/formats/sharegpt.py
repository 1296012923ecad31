"""ShareGPT, both ways: ``{"conversations": [{"from", "value"}]}`` records (FastChat/Vicuna,
glaive tool calling, LLaMA-Factory) and the role/content variant ``{"messages": [{"role",
"content"}]}``.

Layer: codec. Speakers: ``human``/``user``, ``gpt``/``assistant``, ``system``, ``function_call``
(a JSON ``{"name", "arguments"}`` value, or a list of them, becomes ``tool_use`` blocks) and
``observation``/``tool`` (a ``tool_result`` answering the calls before it, in order). ShareGPT has
no tool-call ids: each call gets a generated id fixed by its place (``call_<turn>_<n>``), so the
same record always reads the same way and results pair with calls. ``<image>`` placeholders in
user turns take the record's ``images`` one by one (LLaMA-Factory); a top-level ``system`` and
``tools`` (a JSON string, glaive style) are read too.

Writing gives the same record back for what ShareGPT can hold: JSON strings inside the record are
written as Python's ``json.dumps`` writes them (as these datasets were made), so a glaive record
round-trips to the same strings. ``style="role"`` writes the role/content variant;
``system="field"`` writes the system prompt as a top-level ``system`` instead of a first turn.

>>> c = read({"conversations": [
...     {"from": "human", "value": "<image>Who is this?"},
...     {"from": "function_call", "value": '{"name": "lookup", "arguments": {"q": "face"}}'},
...     {"from": "observation", "value": "Ada Lovelace"},
...     {"from": "gpt", "value": "Ada Lovelace."}], "images": ["https://example.com/ada.png"]})
>>> [m.role for m in c.conversation.messages]
['user', 'assistant', 'user', 'assistant']
>>> use, result = c.conversation.messages[1].content[0], c.conversation.messages[2].content[0]
>>> use.id == result.tool_use_id == "call_1_0", use.input
(True, FrozenDict({'q': 'face'}))
>>> write(c.conversation)[0]["conversations"][1]["value"]
'{"name": "lookup", "arguments": {"q": "face"}}'
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
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
    image_from_ref,
    need_dict,
    need_list,
    note_block_extras,
    note_joined_turns,
    note_message_extras,
    params_losses,
    python_json,
    result_text,
    system_text,
    written_image_ref,
)
from convo.errors import DecodeError
from convo.model import Block, Conversation, Image, Text, ToolResult, ToolUse

__all__ = ["FORMAT", "read", "write"]

ORIGIN = "ShareGPT"
PLACEHOLDER = "<image>"

_SPEAKERS = {
    "human": "user", "user": "user",
    "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant", "model": "assistant",
    "system": "system",
    "function_call": "function_call",
    "observation": "observation", "tool": "observation",
}
_RECORD_KEYS = ("conversations", "messages", "system", "tools", "images")


def read(obj: Any, *, source: str | None = None, image_loader: ImageLoader | None = None) -> Conversion:
    """A conversation from one ShareGPT record.

    >>> c = read({"id": "x1", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hey"}]})
    >>> [m.role for m in c.conversation.messages], [loss.path for loss in c.losses]
    (['user', 'assistant'], ['$.id'])
    """
    losses: list[Loss] = []
    d = need_dict(obj, "$", "a ShareGPT record object")
    if "conversations" in d and isinstance(d.get("chosen"), dict) and isinstance(d.get("rejected"), dict):
        return _read_pair(d, source, image_loader)
    if "conversations" in d:
        key, speaker_key, value_key = "conversations", "from", "value"
    elif "messages" in d:
        key, speaker_key, value_key = "messages", "role", "content"
    else:
        raise DecodeError("expected a 'conversations' (or 'messages') array", path="$")
    turns = need_list(d[key], f"$.{key}")
    images = _images(d.get("images"), losses)
    b = ChatBuilder(losses, ORIGIN)
    if "system" in d:
        sysval = d["system"]
        if not isinstance(sysval, str):
            raise fail("a string", sysval, "$.system")
        b.system(sysval, "$.system")
    for i, t in enumerate(turns):
        p = f"$.{key}[{i}]"
        t = need_dict(t, p, "a turn object")
        speaker = t.get(speaker_key)
        kind = _SPEAKERS.get(speaker) if isinstance(speaker, str) else None
        if kind is None:
            raise DecodeError(f"expected a speaker ({', '.join(sorted(_SPEAKERS))}), got {speaker!r}",
                              path=f"{p}.{speaker_key}")
        value = t.get(value_key, UNSET)
        if value is UNSET:
            raise DecodeError("missing required key", path=f"{p}.{value_key}")
        vp = f"{p}.{value_key}"
        for k in t:
            if k not in (speaker_key, value_key):
                losses.append(Loss(f"{p}.{k}", f"turn field {k!r}", "the Messages API message has no such field"))
        if kind == "function_call":
            _function_call(value, vp, i, b, losses)
            continue
        if not isinstance(value, str):
            raise fail("a string", value, vp)
        if kind == "user":
            b.user(_user_content(value, vp, images, losses, image_loader))
        elif kind == "assistant":
            b.assistant(value)
        elif kind == "system":
            b.system(value, p)
        else:
            b.tool_result(None, None, value, p)
    for n, ref, _ in images:
        losses.append(Loss(f"$.images[{n}]", f"image {ref!r}", "no <image> placeholder is left for it"))
    params: dict[str, Any] = {}
    if "tools" in d:
        params["tools"] = anthropic_tools(d["tools"], "$.tools", losses)
    for k in d:
        if k not in _RECORD_KEYS:
            losses.append(Loss(f"$.{k}", f"{k} {d[k]!r:.40}", "record metadata has no place in a Messages API conversation"))
    system, msgs = b.finish()
    return Conversion(Conversation(messages=msgs, system=system, **params), losses, source)


def _read_pair(d: dict[str, Any], source: str | None, image_loader: ImageLoader | None) -> Conversion:
    """A DPO record (LLaMA-Factory): the shared ``conversations`` with the ``chosen`` turn, paired
    with the same turns and the ``rejected`` turn."""
    turns = need_list(d["conversations"], "$.conversations")
    n = len(turns)
    sides = []
    for side in ("chosen", "rejected"):
        rest = {k: v for k, v in d.items() if k not in ("chosen", "rejected")}
        c = read({**rest, "conversations": [*turns, d[side]]}, image_loader=image_loader)
        sides.append((c.conversation, [_side_path(loss, n, side) for loss in c.losses]))
    losses = sides[0][1] + [loss for loss in sides[1][1] if loss not in sides[0][1]]
    return Conversion(sides[0][0], losses, source, rejected=sides[1][0], meta={"style": "dpo"})


def _side_path(loss: Loss, n: int, side: str) -> Loss:
    prefix = f"$.conversations[{n}]"
    if loss.path == prefix or loss.path.startswith((prefix + ".", prefix + "[")):
        return Loss(f"$.{side}" + loss.path[len(prefix):], loss.what, loss.why, line=loss.line)
    return loss


def _images(raw: Any, losses: list[Loss]) -> list[tuple[int, str, None]]:
    if raw is None:
        return []
    refs = need_list(raw, "$.images")
    out = []
    for k, ref in enumerate(refs):
        if isinstance(ref, dict) and isinstance(ref.get("path") or ref.get("url"), str):
            ref = ref.get("path") or ref.get("url")
        if not isinstance(ref, str):
            raise fail("an image path or URL string", ref, f"$.images[{k}]")
        out.append((k, ref, None))
    out.reverse()  # popped from the end, in order
    return out


def _user_content(value: str, vp: str, images: list[tuple[int, str, None]], losses: list[Loss],
                  image_loader: ImageLoader | None) -> str | tuple[Block, ...]:
    if PLACEHOLDER not in value:
        return value
    blocks: list[Block] = []
    pieces = value.split(PLACEHOLDER)
    for n, piece in enumerate(pieces):
        if piece:
            blocks.append(Text(piece))
        if n == len(pieces) - 1:
            break
        if not images:
            losses.append(Loss(vp, "an <image> placeholder without an image", "kept as text"))
            blocks.append(Text(PLACEHOLDER))
            continue
        k, ref, _ = images.pop()
        blocks.append(image_from_ref(ref, f"$.images[{k}]", losses, image_loader, ORIGIN))
    return tuple(_merge_texts(blocks))


def _merge_texts(blocks: list[Block]) -> Iterator[Block]:
    # a kept placeholder sits between texts; join them back so the text reads as it did
    pending: str | None = None
    for blk in blocks:
        if isinstance(blk, Text):
            pending = blk.text if pending is None else pending + blk.text
            continue
        if pending is not None:
            yield Text(pending)
            pending = None
        yield blk
    if pending is not None:
        yield Text(pending)


def _function_call(value: Any, vp: str, i: int, b: ChatBuilder, losses: list[Loss]) -> None:
    parsed = value
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = None
    calls = parsed if isinstance(parsed, list) else [parsed]
    uses: list[Block] = []
    for j, call in enumerate(calls):
        name = call.get("name") if isinstance(call, dict) else None
        if not isinstance(name, str):
            uses = []
            break
        args = call.get("arguments", {})
        if isinstance(args, str):
            try:
                args = orjson.loads(args)
                losses.append(Loss(vp, "arguments as a JSON string", "read as an object; written back as one"))
            except orjson.JSONDecodeError:
                pass
        if not isinstance(args, dict):
            losses.append(Loss(vp, f"arguments {args!r:.60}", "not a JSON object; kept raw as the tool_use "
                               "input, which the API rejects (input must be an object)"))
        for k in call:
            if k not in ("name", "arguments"):
                losses.append(Loss(vp, f"function_call field {k!r}", "tool_use has no such field"))
        uses.append(ToolUse(generated_id(i, j), name, args))
    if not uses:
        losses.append(Loss(vp, "function_call value", 'not JSON {"name", "arguments"}; kept as assistant text'))
        b.assistant(value if isinstance(value, str) else orjson.dumps(value).decode())
        return
    b.assistant(tuple(uses), [vp] * len(uses))


# --------------------------------------------------------------------------- writing


def write(
    conv: Conversation,
    *,
    style: Literal["from", "role"] = "from",
    system: Literal["turn", "field"] = "turn",
    rejected: Conversation | None = None,
    label: bool | None = None,
    meta: Any = None,
) -> tuple[dict[str, Any], tuple[Loss, ...]]:
    """One ShareGPT record for *conv*; for a pair whose sides differ in their last turn only, a
    DPO record (``conversations`` + ``chosen`` + ``rejected`` turns, as LLaMA-Factory has them).

    >>> write(Conversation().with_system("Be brief.").user("Hi").assistant("Hello!"), style="role")[0]
    {'messages': [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello!'}]}
    >>> write(Conversation().user("Hi").assistant("Hello!"), rejected=Conversation().user("Hi").assistant("Go."))[0]
    {'conversations': [{'from': 'human', 'value': 'Hi'}], 'chosen': {'from': 'gpt', 'value': 'Hello!'}, 'rejected': {'from': 'gpt', 'value': 'Go.'}}
    """
    record, losses = _write_one(conv, style, system)
    extra: list[Loss] = []
    if label is not None:
        extra.append(Loss("$.label", f"the KTO label {label!r}", "ShareGPT records have no label"))
    if rejected is not None:
        other, _ = _write_one(rejected, style, system)
        key = "conversations" if style == "from" else "messages"
        a, b = record[key], other[key]
        if len(a) == len(b) and a[:-1] == b[:-1] and a and {k: v for k, v in record.items() if k != key} == \
                {k: v for k, v in other.items() if k != key}:
            record = {key: a[:-1], "chosen": a[-1], "rejected": b[-1],
                      **{k: v for k, v in record.items() if k != key}}
        else:
            extra.append(Loss("$.rejected", "the rejected side of a preference pair", "a ShareGPT DPO record "
                              "holds sides that differ in their last turn only; the chosen side is written"))
    return record, (*losses, *extra)


def _write_one(conv: Conversation, style: str, system: str) -> tuple[dict[str, Any], tuple[Loss, ...]]:
    losses: list[Loss] = []
    note_joined_turns(conv, losses)
    if style == "from":
        key, sk, vk = "conversations", "from", "value"
        names = {"user": "human", "assistant": "gpt", "system": "system"}
    else:
        key, sk, vk = "messages", "role", "content"
        names = {"user": "user", "assistant": "assistant", "system": "system"}
    turns: list[dict[str, Any]] = []
    images: list[str] = []
    record: dict[str, Any] = {}
    st = system_text(conv, losses)
    if st is not None:
        if not isinstance(st, str):
            losses.append(Loss("$.system", f"{len(st)} system block{'s' if len(st) > 1 else ''}",
                               "joined with blank lines into one string, read back as a string"))
            st = "\n\n".join(st)
        if system == "field":
            record["system"] = st
        else:
            turns.append({sk: "system", vk: st})
    call_order: list[str] = []
    ids = 0
    for i, m in enumerate(conv.messages):
        p = f"$.messages[{i}]"
        note_message_extras(m, p, losses)
        role = m.role
        if role not in names:
            losses.append(Loss(f"{p}.role", f"role {role!r}", "ShareGPT has no such speaker"))
            continue
        if isinstance(m.content, str):
            turns.append({sk: names[role], vk: m.content})
            call_order = []
            continue
        texts: list[str] = []
        results: list[tuple[int, str, ToolResult]] = []
        uses: list[ToolUse] = []
        for j, blk in enumerate(m.content):
            bp = f"{p}.content[{j}]"
            if isinstance(blk, Text):
                note_block_extras(blk, bp, losses)
                texts.append(blk.text)
            elif isinstance(blk, Image) and role == "user":
                ref = written_image_ref(blk, bp, losses, "ShareGPT")
                if ref is None:
                    continue
                images.append(ref)
                texts.append(PLACEHOLDER)
            elif isinstance(blk, ToolResult) and role == "user":
                results.append((j, bp, blk))
            elif isinstance(blk, ToolUse) and role == "assistant":
                note_block_extras(blk, bp, losses)
                uses.append(blk)
            else:
                losses.append(Loss(bp, f"{getattr(blk, 'type', '?')} block", "ShareGPT turns hold text, "
                                   "images, function calls and observations only"))
        if results:
            rank = {tid: n for n, tid in enumerate(call_order)}
            results.sort(key=lambda r: rank.get(r[2].tool_use_id, len(rank) + r[0]))
            for _, bp, r in results:
                if r.tool_use_id not in rank:
                    losses.append(Loss(bp, f"tool result for {r.tool_use_id!r}", "answers no call in the "
                                       "turn before; it will pair by order when read back"))
                if r.is_error is True:
                    losses.append(Loss(f"{bp}.is_error", "is_error", "observations have no error flag"))
                elif r.is_error is False:
                    losses.append(Loss(f"{bp}.is_error", "is_error false", "the default; not written"))
                note_block_extras(r, bp, losses)
                text = result_text(r, bp, losses)
                turns.append({sk: "observation", vk: text if isinstance(text, str) else "\n".join(text)})
        if texts:
            turns.append({sk: names[role], vk: _join(texts)})
            if PLACEHOLDER not in texts or any(PLACEHOLDER not in (a, b) for a, b in itertools.pairwise(texts)):
                losses.append(Loss(f"{p}.content", f"{len(texts)} text block{'s' if len(texts) > 1 else ''}",
                                   "written as one string (joined with newlines), read back as a string"))
        call_order = []
        if uses:
            ids += len(uses)
            calls = [{"name": u.name, "arguments": u.input} for u in uses]
            turns.append({sk: "function_call", vk: python_json(calls[0] if len(calls) == 1 else calls)})
            call_order = [u.id for u in uses]
    record[key] = turns
    if ids:
        losses.append(Loss("$.messages", f"{ids} tool_use ids", "ShareGPT has no call ids: calls and "
                           "observations pair by order"))
    if images:
        record["images"] = images
    if conv.tools is not UNSET:
        fns = [function_from_tool(t, f"$.tools[{j}]", losses) for j, t in enumerate(conv.tools)]
        record["tools"] = python_json([f for f in fns if f is not None])
    params_losses(conv, ("tools",), losses)
    return record, tuple(losses)


def _join(texts: list[str]) -> str:
    # text blocks around an image placeholder are one text in ShareGPT; separate blocks otherwise
    out = texts[0]
    for prev, cur in itertools.pairwise(texts):
        sep = "" if PLACEHOLDER in (prev, cur) else "\n"
        out += sep + cur
    return out


FORMAT = Format(
    "sharegpt",
    'ShareGPT records: {"conversations": [{"from", "value"}]} (FastChat, glaive, LLaMA-Factory) or role/content',
    reader=read,
    writer=write,
    pairs=True,
)
