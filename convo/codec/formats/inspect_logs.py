"""inspect_ai evaluation logs, in only: ``.json`` (one document) and ``.eval`` (a zip of
``header.json`` and ``samples/*.json``), one conversation per sample.

Layer: codec. A sample's ``messages`` map the way inspect_ai's own Anthropic provider sends them
(``inspect_ai/model/_providers/anthropic.py``): leading system messages become the top-level
``system`` (later ones mid-conversation system messages); ``tool_calls`` become ``tool_use``
blocks after the text; ``tool`` messages become ``tool_result`` blocks, consecutive ones in one
user turn, and one carrying an ``error`` becomes ``is_error: true`` with the error message as its
content; ``reasoning`` content becomes ``thinking`` (with its signature) or ``redacted_thinking``;
image content with a data URL becomes a base64 image. ``attachment://<hash>`` references are
resolved from the sample's ``attachments``. The model is taken from the log when it is an
``anthropic/`` model; sampling settings from the plan's generate config.

inspect_ai bookkeeping (message ids, ``source``, tool-call ``view``, scores, targets, ...) has no
place in a Messages API request; each kind is reported once per sample with how often it occurred.
Paths in losses point into the sample, except ``$.eval.*`` and ``$.plan.*``, which point into the
log header.

>>> c = read({"id": 1, "epoch": 1, "messages": [
...     {"role": "system", "content": "Answer in one word."},
...     {"role": "user", "content": "Capital of France?", "source": "input"},
...     {"role": "assistant", "content": [{"type": "reasoning", "reasoning": "Easy.", "signature": "sig"},
...                                       {"type": "text", "text": "Paris"}], "source": "generate"}]})
>>> conv = c.conversation
>>> conv.system, conv.messages[1].content[0].signature
('Answer in one word.', 'sig')
>>> [str(l) for l in c.losses]
["$.messages[*].source: field 'source' on 2 messages (inspect_ai bookkeeping; not part of a Messages API conversation)"]
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from convo._json import UNSET
from convo.codec import parse_json, structure
from convo.codec.formats._base import (
    ChatBuilder,
    Conversion,
    Format,
    ImageLoader,
    Loss,
    describe,
    fail,
    get_str,
    guarded,
    image_from_ref,
    need_dict,
    need_list,
    open_binary,
    parse_arguments,
    unsigned_thinking,
)
from convo.codec.jsonl import DEFAULT_MAX_LINE_BYTES
from convo.errors import DecodeError
from convo.model import (
    Block,
    Conversation,
    Message,
    RedactedThinking,
    Text,
    Thinking,
    ToolUse,
)

__all__ = ["FORMAT", "read", "read_file", "read_log"]

ORIGIN = "inspect_ai"
_ATTACHMENT = "attachment://"
_SAMPLE_NAME = re.compile(r"(\d+)|(\D+)")

# Message fields that carry meaning in a conversation; every other one is bookkeeping.
_MEANING = {
    "system": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls"},
    "tool": {"role", "content", "tool_call_id", "function", "error"},
}
_CALL_MEANING = {"id", "function", "arguments", "parse_error"}
_GENERATE = {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p",
             "top_k": "top_k", "stop_seqs": "stop_sequences"}
_BLOCK_TYPES = frozenset({"server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
                          "code_execution_tool_result", "bash_code_execution_tool_result",
                          "text_editor_code_execution_tool_result", "tool_search_tool_result"})


def read(obj: Any, *, source: str | None = None, header: dict[str, Any] | None = None,
         image_loader: ImageLoader | None = None) -> Conversion:
    """One sample (``{"id", "epoch", "messages", ...}``) as a conversation; *header* is the log's
    header (``eval``, ``plan``), for the model and the generate config."""
    losses: list[Loss] = []
    s = need_dict(obj, "$", "an inspect_ai sample object")
    if "messages" not in s:
        raise DecodeError("missing required key", path="$.messages")
    attachments = s.get("attachments") or {}
    messages = _resolve(s["messages"], "$.messages", attachments, losses)
    params = _header_params(header, losses) if header else {}
    system, msgs = _messages(messages, losses, image_loader)
    rest = [k for k in s if k not in ("messages", "attachments", "id", "epoch")]
    if rest:
        losses.append(Loss("$", f"sample fields {', '.join(rest)}", "evaluation bookkeeping, not part of "
                           "the conversation"))
    return Conversion(Conversation(messages=msgs, system=system, **params), losses, source)


def read_log(obj: Any, *, source: str | None = None, image_loader: ImageLoader | None = None,
             on_error: Callable[[DecodeError], None] | None = None) -> Iterator[Conversion]:
    """Each sample of a log document (the ``.json`` format: header fields and ``samples``).

    A sample that cannot be read raises its DecodeError, or, given *on_error*, is handed to it and
    the samples after it are read.

    >>> log = {"eval": {"model": "anthropic/claude-opus-4-8"},
    ...        "samples": [{"id": 1, "epoch": 1, "messages": [{"role": "user", "content": "Hi"}]}]}
    >>> [(c.source, c.conversation.model) for c in read_log(log, source="log.json")]
    [('log.json:samples[0]', 'claude-opus-4-8')]
    """
    log = need_dict(obj, "$", "an inspect_ai log object")
    samples = log.get("samples") or []
    for k, sample in enumerate(need_list(samples, "$.samples")):
        where = f"{source}:samples[{k}]" if source else f"samples[{k}]"
        try:
            yield guarded(read, sample, source=where, header=log, image_loader=image_loader)
        except DecodeError as e:
            err = DecodeError(e.expected, path=f"$.samples[{k}]{e.path[1:]}", file=source)
            if on_error is None:
                raise err from None
            on_error(err)


def read_file(path: str | os.PathLike[str], *, image_loader: ImageLoader | None = None,
              max_bytes: int = DEFAULT_MAX_LINE_BYTES,
              on_error: Callable[[DecodeError], None] | None = None) -> Iterator[Conversion]:
    """Each sample of a ``.json`` or ``.eval`` log, one at a time (an ``.eval`` sample is read from
    the zip only when its turn comes).

    *max_bytes* bounds what one JSON document may take once decompressed: each member of an
    ``.eval`` zip (checked against its declared size first, then while it is inflated, so a small
    zip holding a huge member is refused without inflating it) and a whole ``.json`` log. Over
    it, or in a damaged zip, a :class:`~convo.errors.DecodeError` names the file and member. Given
    *on_error*, a sample (or ``.eval`` member) that cannot be read is handed to it and the samples
    after it are still read; what stops the whole file (a damaged zip, an unreadable header) raises.

    >>> import pathlib, tempfile, zipfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "run.eval"
    >>> with zipfile.ZipFile(p, "w") as z:
    ...     z.writestr("header.json", '{"eval": {"model": "anthropic/claude-opus-4-8"}}')
    ...     z.writestr("samples/1_epoch_1.json", '{"messages": [{"role": "user", "content": "Hi"}]}')
    >>> [c.conversation.messages[0].content for c in read_file(p)]
    ['Hi']
    >>> next(read_file(p, max_bytes=20))
    Traceback (most recent call last):
    ...
    convo.errors.DecodeError: ...run.eval:header.json: $: 48 bytes once decompressed: over the limit of 20 bytes (--max-line-bytes)
    """
    name = os.fspath(path)
    if zipfile.is_zipfile(name):
        yield from _read_eval(name, image_loader, max_bytes, on_error)
        return
    with open_binary(name) as f:
        data = _bounded(f, max_bytes, name)
    try:
        log = parse_json(data)
    except DecodeError as e:
        raise e.located(file=name) from None
    yield from read_log(log, source=name, image_loader=image_loader, on_error=on_error)


# what a damaged zip raises (CRC mismatch, bad headers, an unknown compression, encryption)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError)


def _bounded(f: Any, limit: int, where: str, declared: int | None = None) -> bytes:
    """At most *limit* bytes of *f*, or a DecodeError: what is over the limit is never read."""
    size = declared
    if size is None or size <= limit:
        data = f.read(limit + 1)
        if len(data) <= limit:
            return bytes(data)
        size = None
    raise DecodeError(f"{size if size is not None else f'over {limit}'} bytes once decompressed: over "
                      f"the limit of {limit} bytes (--max-line-bytes)", file=where)


def _read_eval(name: str, image_loader: ImageLoader | None, limit: int,
               on_error: Callable[[DecodeError], None] | None) -> Iterator[Conversion]:
    try:
        z = zipfile.ZipFile(name)
    except _ZIP_ERRORS as e:
        raise DecodeError(f"not a readable .eval zip: {e}", file=name) from None
    with z:
        members = z.namelist()
        header: dict[str, Any] = {}
        if "header.json" in members:
            header = need_dict(_load(z, name, "header.json", limit), "$", "a log header object")
        elif "_journal/start.json" in members:
            header = need_dict(_load(z, name, "_journal/start.json", limit), "$", "a log header object")
        samples = sorted((m for m in members if m.startswith("samples/") and m.endswith(".json")),
                         key=_natural)
        for member in samples:
            where = f"{name}:{member}"
            try:
                yield guarded(read, _load(z, name, member, limit), source=where, header=header,
                              image_loader=image_loader)
            except DecodeError as e:
                err = DecodeError(e.expected, path=e.path, file=where)
                if on_error is None:
                    raise err from None
                on_error(err)


def _load(z: zipfile.ZipFile, name: str, member: str, limit: int) -> Any:
    where = f"{name}:{member}"
    try:
        with z.open(member) as f:
            data = _bounded(f, limit, where, z.getinfo(member).file_size)
    except DecodeError:
        raise  # over the limit (a ValueError, but not a damaged member)
    except _ZIP_ERRORS as e:
        raise DecodeError(f"a damaged zip member: {e}", file=where) from None
    try:
        return parse_json(data)
    except DecodeError as e:
        raise e.located(file=where) from None


def _natural(member: str) -> list[Any]:
    return [(0, int(d), "") if d else (1, 0, t) for d, t in _SAMPLE_NAME.findall(member)]


# --------------------------------------------------------------------------- header


def _header_params(header: dict[str, Any], losses: list[Loss]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ev = header.get("eval")
    model = ev.get("model") if isinstance(ev, dict) else None
    if isinstance(model, str):
        if model.startswith("anthropic/"):
            out["model"] = model.rsplit("/", 1)[-1]
        else:
            losses.append(Loss("$.eval.model", f"model {model!r}", "not a Claude model; set one with set_model()"))
    plan = header.get("plan")
    config = plan.get("config") if isinstance(plan, dict) else None
    if isinstance(config, dict):
        for k, v in config.items():
            if v is None:
                continue
            if k in _GENERATE:
                out[_GENERATE[k]] = tuple(v) if k == "stop_seqs" else v
            else:
                losses.append(Loss(f"$.plan.config.{k}", f"generate config {k}={v!r:.40}", "no Messages API "
                                   "parameter carries it"))
    return out


# --------------------------------------------------------------------------- messages


def _resolve(value: Any, path: str, attachments: dict[str, Any], losses: list[Loss]) -> Any:
    """*value* with every ``attachment://<hash>`` string replaced by the attachment's text."""
    if isinstance(value, str):
        if value.startswith(_ATTACHMENT):
            key = value[len(_ATTACHMENT):]
            if key in attachments:
                return attachments[key]
            losses.append(Loss(path, f"attachment {key}", "not in the sample's attachments; kept as the reference"))
        return value
    if isinstance(value, list):
        return [_resolve(v, f"{path}[{i}]", attachments, losses) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _resolve(v, f"{path}.{k}", attachments, losses) for k, v in value.items()}
    return value


def _messages(items: Any, losses: list[Loss], image_loader: ImageLoader | None) -> tuple[Any, tuple[Message, ...]]:
    b = ChatBuilder(losses, ORIGIN)
    bookkeeping: Counter[str] = Counter()
    call_bookkeeping: Counter[str] = Counter()
    for i, m in enumerate(need_list(items, "$.messages")):
        p = f"$.messages[{i}]"
        m = need_dict(m, p, "a message object")
        role = get_str(m, "role", p)
        meaning = _MEANING.get(role)
        if meaning is None:
            raise DecodeError(f"expected role system, user, assistant or tool, got {role!r}", path=f"{p}.role")
        for k in m:
            if k not in meaning:
                bookkeeping[k] += 1
        content = m.get("content", "")
        cp = f"{p}.content"
        if role == "system":
            b.system(_content(content, cp, losses, image_loader), p)
        elif role == "user":
            b.user(_content(content, cp, losses, image_loader))
        elif role == "assistant":
            blocks = list(_content(content, cp, losses, image_loader, as_blocks=True))
            # inspect_ai drops empty text before tool calls when it sends them (Claude rejects it)
            calls = m.get("tool_calls") or []
            if calls:
                blocks = [blk for blk in blocks if not (isinstance(blk, Text) and not blk.text)]
            paths = []
            for j, tc in enumerate(need_list(calls, f"{p}.tool_calls")):
                tp = f"{p}.tool_calls[{j}]"
                tc = need_dict(tc, tp)
                for k in tc:
                    if k not in _CALL_MEANING:
                        call_bookkeeping[k] += 1
                blocks.append(_tool_use(tc, tp, losses))
                paths.append(tp)
            if not calls and isinstance(content, str):
                b.assistant(content)
            else:
                b.assistant(tuple(blocks), paths)
        else:
            tid = m.get("tool_call_id")
            if tid is not None and not isinstance(tid, str):
                raise fail("a string", tid, f"{p}.tool_call_id")
            fn = m.get("function")
            err = m.get("error")
            result: Any = _content(content, cp, losses, image_loader)
            if err is not None:
                err = need_dict(err, f"{p}.error")
                msg = err.get("message")
                text = result if isinstance(result, str) else "".join(x.text for x in result if isinstance(x, Text))
                if isinstance(msg, str) and msg:
                    if text and text != msg:
                        losses.append(Loss(cp, "the tool message's content", "replaced by the error message, "
                                           "as inspect_ai sends an errored result to Claude"))
                    result = msg
                elif not text:
                    result = "error"
                if "type" in err:
                    losses.append(Loss(f"{p}.error.type", f"error type {err['type']!r}", "tool_result has "
                                       "is_error only"))
            b.tool_result(tid, fn if isinstance(fn, str) else None, result, p,
                          is_error=True if err is not None else UNSET)
    for k, n in sorted(bookkeeping.items()):
        losses.append(Loss(f"$.messages[*].{k}", f"field {k!r} on {n} message{'s' if n > 1 else ''}",
                           "inspect_ai bookkeeping; not part of a Messages API conversation"))
    for k, n in sorted(call_bookkeeping.items()):
        losses.append(Loss(f"$.messages[*].tool_calls[*].{k}", f"tool call field {k!r} on {n} call"
                           f"{'s' if n > 1 else ''}", "inspect_ai bookkeeping; not part of tool_use"))
    return b.finish()


def _tool_use(tc: dict[str, Any], tp: str, losses: list[Loss]) -> ToolUse:
    tid = get_str(tc, "id", tp)
    name = get_str(tc, "function", tp)
    raw = tc.get("arguments", {})
    args, ok = parse_arguments(raw)
    if not ok:
        losses.append(Loss(f"{tp}.arguments", f"arguments {raw!r:.60}", "not a JSON object; kept raw as the "
                           "tool_use input, which the API rejects"))
    if tc.get("parse_error"):
        losses.append(Loss(f"{tp}.parse_error", f"parse_error {str(tc['parse_error'])[:80]!r}",
                           "inspect_ai could not parse the call's arguments"))
    return ToolUse(tid, name, args)


def _content(c: Any, path: str, losses: list[Loss], image_loader: ImageLoader | None, *,
             as_blocks: bool = False) -> Any:
    if isinstance(c, str):
        if as_blocks:
            return (Text(c),) if c else ()
        return c
    out: list[Block] = []
    for j, part in enumerate(need_list(c, path, "a string or an array of content")):
        pp = f"{path}[{j}]"
        part = need_dict(part, pp, "a content object")
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise fail("a string", text, f"{pp}.text")
            out.append(Text(text))
            if part.get("citations"):
                losses.append(Loss(f"{pp}.citations", "citations", "inspect_ai citations differ from the "
                                   "Messages API's; not carried"))
            if part.get("refusal"):
                losses.append(Loss(f"{pp}.refusal", "refusal flag", "the text is kept; the flag is not"))
        elif kind == "image":
            ref = part.get("image")
            if not isinstance(ref, str):
                raise fail("a string", ref, f"{pp}.image")
            out.append(image_from_ref(ref, f"{pp}.image", losses, image_loader, ORIGIN))
            detail = part.get("detail", "auto")
            if detail != "auto":
                losses.append(Loss(f"{pp}.detail", f"detail {detail!r}", "the Messages API has no image detail setting"))
        elif kind == "reasoning":
            out.append(_reasoning(part, pp, losses))
        elif kind == "data" and isinstance(part.get("data"), dict) and part["data"].get("type") in _BLOCK_TYPES:
            try:
                out.append(structure(part["data"], Block))  # type: ignore[arg-type]
            except DecodeError as e:
                raise DecodeError(e.expected, path=f"{pp}.data{e.path[1:]}") from None
        else:
            what = f"{kind} content" if isinstance(kind, str) else f"content of type {describe(kind)}"
            losses.append(Loss(pp, what, "the Messages API conversation has no equivalent"))
    return tuple(out)


def _reasoning(part: dict[str, Any], pp: str, losses: list[Loss]) -> Thinking | RedactedThinking:
    text = part.get("reasoning")
    if not isinstance(text, str):
        raise fail("a string", text, f"{pp}.reasoning")
    if part.get("summary"):
        losses.append(Loss(f"{pp}.summary", "reasoning summary", "a thinking block has no summary"))
    if part.get("redacted"):
        # inspect_ai keeps a redacted block's opaque data in `reasoning`
        return RedactedThinking(text)
    sig = part.get("signature")
    if isinstance(sig, str):
        return Thinking(text, sig)
    return unsigned_thinking(text, pp, losses, ORIGIN)


FORMAT = Format(
    "inspect",
    "inspect_ai evaluation logs (.json and .eval): one conversation per sample",
    reader=read,
    file_reader=read_file,
    reads_past_errors=True,
)
