"""Amazon Bedrock's Converse API, both ways: the ``converse`` request (as boto3 takes it and as it
is logged: ``modelId``, ``messages``, ``system``, ``inferenceConfig``, ``toolConfig``,
``additionalModelRequestFields``), bytes written as base64 strings.

Layer: codec. What maps, and how (DOC: the Bedrock Converse API reference):

=====================================  ============================================================
Converse                               Messages API
=====================================  ============================================================
``system`` list of ``{"text"}``        ``system`` (a one-text list is written back as such)
``{"text"}``                           ``text``
``{"image": {"format", "source": {"bytes"}}}``  ``image`` with a base64 source (``format`` is the
                                       media type's subtype)
``{"document": {"format", "name", "source"}}``  ``document``: ``bytes`` a base64 source
                                       (``application/pdf`` for ``pdf``), ``text`` a text source;
                                       ``name`` is the ``title``
``{"toolUse": {"toolUseId", "name", "input"}}``  ``tool_use``
``{"toolResult": {"toolUseId", "content", "status"}}``  ``tool_result`` (``status: error`` is
                                       ``is_error``; ``{"json"}`` content is written as text)
``{"reasoningContent": {"reasoningText": {"text", "signature"}}}``  ``thinking`` (Claude's own
                                       signature, passed through by Bedrock: kept as it is)
``{"reasoningContent": {"redactedContent"}}``  ``redacted_thinking``
``{"cachePoint": {"type": "default"}}`` ``cache_control: {"type": "ephemeral"}`` on the block before
``inferenceConfig``                    ``max_tokens`` (``maxTokens``), ``temperature``, ``top_p``
                                       (``topP``), ``stop_sequences`` (``stopSequences``)
``toolConfig``                         ``tools`` (``toolSpec`` with ``inputSchema.json``) and
                                       ``tool_choice`` (``auto``, ``any``, ``tool``)
``additionalModelRequestFields``       the other request parameters Claude takes (``top_k``,
                                       ``thinking``, ``output_config``, ...)
``modelId``                            ``model``
=====================================  ============================================================

>>> c = read({"modelId": "anthropic.claude-sonnet-4-5", "system": [{"text": "Be brief."}],
...           "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
...           "inferenceConfig": {"maxTokens": 64}})
>>> c.conversation.model, c.conversation.system, c.conversation.max_tokens, c.losses
('anthropic.claude-sonnet-4-5', (Text(text='Be brief.'),), 64, ())
>>> write(c.conversation)[0] == {"modelId": "anthropic.claude-sonnet-4-5", "system": [{"text": "Be brief."}],
...     "messages": [{"role": "user", "content": [{"text": "Hi"}]}], "inferenceConfig": {"maxTokens": 64}}
True
"""

from __future__ import annotations

from typing import Any

import attrs

from convo._json import UNSET, thaw
from convo.codec.formats._base import (
    Conversion,
    Format,
    Loss,
    describe,
    fail,
    get_str,
    need_dict,
    need_list,
    note_message_extras,
)
from convo.errors import DecodeError
from convo.model import (
    Base64Source,
    Block,
    Conversation,
    Document,
    Image,
    Message,
    RedactedThinking,
    Text,
    TextSource,
    Thinking,
    ToolResult,
    ToolUse,
)

__all__ = ["FORMAT", "read", "write"]

_DOC_TYPES = {"pdf": "application/pdf", "csv": "text/csv", "doc": "application/msword",
              "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
              "xls": "application/vnd.ms-excel",
              "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              "html": "text/html", "txt": "text/plain", "md": "text/markdown"}
_DOC_FORMATS = {v: k for k, v in _DOC_TYPES.items()}
_EPHEMERAL = {"type": "ephemeral"}
_DEFAULT_NAME = "document"  # the name written for a document without a title (Converse requires one)
_NATIVE = ("model", "max_tokens", "messages", "system", "temperature", "top_p", "stop_sequences", "tools",
           "tool_choice", "extra")
_PASSED = ("top_k", "thinking", "output_config", "container", "context_management", "mcp_servers")


# --------------------------------------------------------------------------- reading


def read(obj: Any, *, source: str | None = None) -> Conversion:
    """A conversation from a Converse request."""
    d = need_dict(obj, "$", "a Converse request object")
    losses: list[Loss] = []
    if "messages" not in d:
        raise DecodeError("missing required key", path="$.messages")
    msgs = []
    for i, m in enumerate(need_list(d["messages"], "$.messages")):
        p = f"$.messages[{i}]"
        m = need_dict(m, p, "a message object")
        role = get_str(m, "role", p)
        if role not in ("user", "assistant"):
            raise DecodeError(f"expected role user or assistant, got {role!r}", path=f"{p}.role")
        for k in m:
            if k not in ("role", "content"):
                losses.append(Loss(f"{p}.{k}", f"message field {k!r}", "the Messages API message has no such field"))
        msgs.append(Message(role, _blocks(m.get("content"), f"{p}.content", losses)))
    params: dict[str, Any] = {"messages": tuple(msgs)}
    for k, v in d.items():
        p = f"$.{k}"
        if k == "messages":
            continue
        if k == "modelId":
            params["model"] = get_str(d, k, "$")
        elif k == "system":
            system = _blocks(v, p, losses)
            texts = [b for b in system if isinstance(b, Text)]
            if len(texts) != len(system):
                losses.append(Loss(p, "a system block that is not text", "the top-level system holds text only"))
            params["system"] = tuple(texts)
        elif k == "inferenceConfig":
            for ik, iv in need_dict(v, p).items():
                name = {"maxTokens": "max_tokens", "temperature": "temperature", "topP": "top_p",
                        "stopSequences": "stop_sequences"}.get(ik)
                if name is None:
                    losses.append(Loss(f"{p}.{ik}", f"inferenceConfig.{ik}", "the Messages API has no such parameter"))
                else:
                    params[name] = tuple(iv) if name == "stop_sequences" else iv
        elif k == "toolConfig":
            _read_tools(need_dict(v, p), p, params, losses)
        elif k == "additionalModelRequestFields":
            for ak, av in need_dict(v, p).items():
                if ak in _PASSED or ak not in {a.name for a in attrs.fields(Conversation)}:
                    if ak in _PASSED:
                        params[ak] = av
                    else:
                        losses.append(Loss(f"{p}.{ak}", f"{ak} {av!r:.40}", "not a Messages API parameter"))
                else:
                    losses.append(Loss(f"{p}.{ak}", f"{ak}", "a native Converse field takes it; not read twice"))
        else:
            losses.append(Loss(p, f"{k} {v!r:.60}", "the Messages API has no such parameter"))
    return Conversion(Conversation(**params), losses, source)


def _read_tools(tc: dict[str, Any], p: str, params: dict[str, Any], losses: list[Loss]) -> None:
    tools = []
    for j, t in enumerate(need_list(tc.get("tools", []), f"{p}.tools")):
        tp = f"{p}.tools[{j}]"
        spec = need_dict(need_dict(t, tp).get("toolSpec"), f"{tp}.toolSpec")
        tool: dict[str, Any] = {"name": get_str(spec, "name", f"{tp}.toolSpec")}
        if "description" in spec:
            tool["description"] = spec["description"]
        schema = need_dict(spec.get("inputSchema"), f"{tp}.toolSpec.inputSchema")
        tool["input_schema"] = schema.get("json", {"type": "object", "properties": {}})
        if "strict" in spec:
            tool["strict"] = spec["strict"]
        tools.append(tool)
        for k in t:
            if k != "toolSpec":
                losses.append(Loss(f"{tp}.{k}", f"tool entry {k!r}", "the Messages API tool has no such field"))
    params["tools"] = tuple(tools)
    choice = tc.get("toolChoice")
    if isinstance(choice, dict):
        if "auto" in choice:
            params["tool_choice"] = {"type": "auto"}
        elif "any" in choice:
            params["tool_choice"] = {"type": "any"}
        elif isinstance(choice.get("tool"), dict):
            params["tool_choice"] = {"type": "tool", "name": get_str(choice["tool"], "name", f"{p}.toolChoice.tool")}
        else:
            losses.append(Loss(f"{p}.toolChoice", f"toolChoice {choice!r:.40}", "no Messages API equivalent"))
    for k in tc:
        if k not in ("tools", "toolChoice"):
            losses.append(Loss(f"{p}.{k}", f"toolConfig.{k}", "the Messages API has no such field"))


def _blocks(c: Any, path: str, losses: list[Loss]) -> tuple[Block, ...]:
    out: list[Block] = []
    for j, part in enumerate(need_list(c, path, "an array of content blocks")):
        pp = f"{path}[{j}]"
        part = need_dict(part, pp, "a content block object")
        if len(part) != 1:
            raise DecodeError(f"expected one key per content block, got {sorted(part)}", path=pp)
        (kind, v), = part.items()
        if kind == "cachePoint":
            if not out:
                losses.append(Loss(pp, "a cache point before any block", "nothing to cache; dropped"))
                continue
            if need_dict(v, pp).get("type", "default") != "default":
                losses.append(Loss(f"{pp}.cachePoint.type", f"cache point {v!r}", "read as an ephemeral cache_control"))
            prev: Any = out[-1]
            if not hasattr(prev, "cache_control"):
                losses.append(Loss(pp, f"a cache point after a {prev.type} block", "that block takes no cache_control"))
                continue
            out[-1] = attrs.evolve(prev, cache_control=_EPHEMERAL)
            continue
        blk = _block(kind, v, pp, losses)
        if blk is not None:
            out.append(blk)
    return tuple(out)


def _block(kind: str, v: Any, pp: str, losses: list[Loss]) -> Block | None:
    vp = f"{pp}.{kind}"
    if kind == "text":
        if not isinstance(v, str):
            raise fail("a string", v, vp)
        return Text(v)
    if kind == "image":
        v = need_dict(v, vp)
        src = need_dict(v.get("source"), f"{vp}.source")
        if not isinstance(src.get("bytes"), str):
            losses.append(Loss(f"{vp}.source", "an image in S3", "the Messages API cannot fetch from S3"))
            return None
        return Image(Base64Source(f"image/{get_str(v, 'format', vp)}", src["bytes"]))
    if kind == "document":
        v = need_dict(v, vp)
        fmt = get_str(v, "format", vp)
        src = need_dict(v.get("source"), f"{vp}.source")
        name = v.get("name")
        title = name if isinstance(name, str) and name != _DEFAULT_NAME else UNSET
        if isinstance(src.get("text"), str):
            return Document(TextSource(src["text"]), title=title)
        if isinstance(src.get("bytes"), str):
            media = _DOC_TYPES.get(fmt, f"application/{fmt}")
            if media != "application/pdf":
                losses.append(Loss(f"{vp}.format", f"a {fmt} document", "the Messages API takes base64 documents "
                                   "as PDF only; kept with its media type"))
            return Document(Base64Source(media, src["bytes"]), title=title)
        losses.append(Loss(f"{vp}.source", "a document in S3 or of another source", "the Messages API cannot fetch it"))
        return None
    if kind == "toolUse":
        v = need_dict(v, vp)
        return ToolUse(get_str(v, "toolUseId", vp), get_str(v, "name", vp), v.get("input", {}))
    if kind == "toolResult":
        v = need_dict(v, vp)
        content: list[Block] = []
        for k, part in enumerate(need_list(v.get("content", []), f"{vp}.content")):
            cp = f"{vp}.content[{k}]"
            part = need_dict(part, cp)
            if "json" in part and len(part) == 1:
                from convo.codec.formats._base import compact_json

                losses.append(Loss(f"{cp}.json", "JSON tool output", "written as a text block of compact JSON"))
                content.append(Text(compact_json(part["json"])))
            else:
                content.extend(_blocks([part], f"{vp}.content", losses))
        status = v.get("status")
        is_error: Any = True if status == "error" else UNSET
        if status not in (None, "success", "error"):
            losses.append(Loss(f"{vp}.status", f"status {status!r}", "a tool result is an error or not"))
        return ToolResult(get_str(v, "toolUseId", vp), content=tuple(content), is_error=is_error)
    if kind == "reasoningContent":
        v = need_dict(v, vp)
        if isinstance(v.get("redactedContent"), str):
            return RedactedThinking(v["redactedContent"])
        rt = need_dict(v.get("reasoningText"), f"{vp}.reasoningText")
        text = get_str(rt, "text", f"{vp}.reasoningText")
        sig = rt.get("signature")
        if not isinstance(sig, str):
            losses.append(Loss(f"{vp}.reasoningText", "reasoning without a signature", "kept with an empty "
                               "signature, which the Messages API refuses when it is sent back"))
            sig = ""
        return Thinking(text, sig)
    losses.append(Loss(vp, f"a {kind!r} block", "the Messages API conversation has no equivalent"))
    return None


# --------------------------------------------------------------------------- writing


def write(conv: Conversation) -> tuple[dict[str, Any], tuple[Loss, ...]]:
    """A Converse request for *conv*, and what it could not carry."""
    losses: list[Loss] = []
    body: dict[str, Any] = {}
    if conv.model is not UNSET:
        body["modelId"] = conv.model
    if conv.system is not UNSET:
        if isinstance(conv.system, str):
            body["system"] = [{"text": conv.system}]
            losses.append(Loss("$.system", "system as a string", "Converse holds a list of text blocks; "
                               "read back as one text block"))
        else:
            body["system"] = _write_blocks(conv.system, "$.system", losses)
    msgs = []
    for i, m in enumerate(conv.messages):
        p = f"$.messages[{i}]"
        note_message_extras(m, p, losses)
        if m.role not in ("user", "assistant"):
            losses.append(Loss(f"{p}.role", f"role {m.role!r}", "Converse has user and assistant messages only"))
            continue
        if isinstance(m.content, str):
            losses.append(Loss(f"{p}.content", "content as a string", "Converse holds a list of blocks; read "
                               "back as one text block (none for an empty string)"))
            msgs.append({"role": m.role, "content": [{"text": m.content}] if m.content else []})
            continue
        msgs.append({"role": m.role, "content": _write_blocks(m.content, f"{p}.content", losses)})
    body["messages"] = msgs
    inference: dict[str, Any] = {}
    for name, key in (("max_tokens", "maxTokens"), ("temperature", "temperature"), ("top_p", "topP"),
                      ("stop_sequences", "stopSequences")):
        v = getattr(conv, name)
        if v is not UNSET:
            inference[key] = list(v) if name == "stop_sequences" else v
    if inference:
        body["inferenceConfig"] = inference
    _write_tools(conv, body, losses)
    extra: dict[str, Any] = {}
    for a in attrs.fields(Conversation):
        v = getattr(conv, a.name)
        if a.name in _NATIVE or v is UNSET:
            continue
        if a.name in _PASSED:
            extra[a.name] = thaw(v)
        else:
            losses.append(Loss(f"$.{a.name}", f"{a.name} {thaw(v)!r:.40}", "Converse has no such parameter"))
    for k, v in conv.extra.items():
        losses.append(Loss(f"$.{k}", f"{k} {v!r:.40}", "Converse has no such parameter"))
    if extra:
        body["additionalModelRequestFields"] = extra
    return body, tuple(losses)


def _write_tools(conv: Conversation, body: dict[str, Any], losses: list[Loss]) -> None:
    config: dict[str, Any] = {}
    if conv.tools is not UNSET:
        specs = []
        for j, t in enumerate(conv.tools):
            tp = f"$.tools[{j}]"
            if not isinstance(t, dict) or "input_schema" not in t or t.get("type", "custom") != "custom":
                kind = t.get("type", "?") if isinstance(t, dict) else "?"
                losses.append(Loss(tp, f"tool of type {kind!r}", "Converse tools are client tools with a schema"))
                continue
            spec: dict[str, Any] = {"name": t["name"]}
            if "description" in t:
                spec["description"] = t["description"]
            spec["inputSchema"] = {"json": thaw(t["input_schema"])}
            if "strict" in t:
                spec["strict"] = t["strict"]
            for k in t:
                if k not in ("name", "description", "input_schema", "strict"):
                    what = "tool type 'custom'" if k == "type" else f"tool field {k!r}"
                    losses.append(Loss(f"{tp}.{k}", what, "a Converse toolSpec has no such field"))
            specs.append({"toolSpec": spec})
        config["tools"] = specs
    tc = conv.tool_choice
    if tc is not UNSET and not isinstance(tc, dict):  # kept as given by the codec; the API takes an object
        losses.append(Loss("$.tool_choice", f"tool_choice {describe(tc)}", "not an object; Converse has no "
                           "equivalent"))
    elif tc is not UNSET:
        kind = tc.get("type")
        if kind in ("auto", "any"):
            config["toolChoice"] = {kind: {}}
        elif kind == "tool" and isinstance(tc.get("name"), str):
            config["toolChoice"] = {"tool": {"name": tc["name"]}}
        else:
            losses.append(Loss("$.tool_choice", f"tool_choice {kind!r}", "Converse has no equivalent"))
        for k in tc:
            if k not in ("type", "name"):
                losses.append(Loss(f"$.tool_choice.{k}", f"tool_choice {k}", "Converse has no equivalent"))
    if config:
        body["toolConfig"] = config


def _write_blocks(blocks: tuple[Any, ...], path: str, losses: list[Loss]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for j, blk in enumerate(blocks):
        bp = f"{path}[{j}]"
        got = _write_block(blk, bp, losses)
        if got is None:
            continue
        out.append(got)
        cc = getattr(blk, "cache_control", UNSET)
        if cc is not UNSET:
            out.append({"cachePoint": {"type": "default"}})
            if thaw(cc) != _EPHEMERAL:
                losses.append(Loss(f"{bp}.cache_control", f"cache_control {thaw(cc)!r}", "written as a default "
                                   "cache point (five minutes)"))
        for k in blk.extra:
            losses.append(Loss(f"{bp}.{k}", f"field {k!r}", "a Converse block has no such field"))
        if getattr(blk, "caller", UNSET) is not UNSET:
            losses.append(Loss(f"{bp}.caller", "caller", "a Converse toolUse has no record of which tool made the call"))
        cit = getattr(blk, "citations", UNSET)
        if cit is not UNSET and cit is not None:
            losses.append(Loss(f"{bp}.citations", "citations", "written without them"))
    return out


def _write_block(blk: Any, bp: str, losses: list[Loss]) -> dict[str, Any] | None:
    if isinstance(blk, Text):
        return {"text": blk.text}
    if isinstance(blk, Image):
        src = blk.source
        if isinstance(src, Base64Source):
            return {"image": {"format": src.media_type.rsplit("/", 1)[-1], "source": {"bytes": src.data}}}
        losses.append(Loss(bp, f"an image with a {src.type} source", "Converse takes image bytes or S3 only"))
        return None
    if isinstance(blk, Document):
        name = blk.title if isinstance(blk.title, str) else _DEFAULT_NAME
        for k in ("context",):
            if getattr(blk, k) not in (UNSET, None):
                losses.append(Loss(f"{bp}.{k}", f"document {k}", "a Converse document has no such field"))
        src = blk.source
        if isinstance(src, TextSource):
            return {"document": {"format": "txt", "name": name, "source": {"text": src.data}}}
        if isinstance(src, Base64Source):
            fmt = _DOC_FORMATS.get(src.media_type, src.media_type.rsplit("/", 1)[-1])
            return {"document": {"format": fmt, "name": name, "source": {"bytes": src.data}}}
        losses.append(Loss(bp, f"a document with a {src.type} source", "Converse takes document bytes, text or S3 only"))
        return None
    if isinstance(blk, ToolUse):
        return {"toolUse": {"toolUseId": blk.id, "name": blk.name, "input": thaw(blk.input)}}
    if isinstance(blk, ToolResult):
        c = blk.content
        content: list[dict[str, Any]] = []
        if isinstance(c, str):
            content = [{"text": c}] if c else []
            losses.append(Loss(f"{bp}.content", "tool result content as a string", "Converse holds a list "
                               "of blocks; read back as one text block (none for an empty string)"))
        elif c is not UNSET:
            content = _write_blocks(c, f"{bp}.content", losses)
        out: dict[str, Any] = {"toolUseId": blk.tool_use_id, "content": content}
        if blk.is_error is True:
            out["status"] = "error"
        elif blk.is_error is False:
            losses.append(Loss(f"{bp}.is_error", "is_error false", "the default; not written"))
        return {"toolResult": out}
    if isinstance(blk, Thinking):
        return {"reasoningContent": {"reasoningText": {"text": blk.thinking, "signature": blk.signature}}}
    if isinstance(blk, RedactedThinking):
        return {"reasoningContent": {"redactedContent": blk.data}}
    losses.append(Loss(bp, f"{getattr(blk, 'type', '?')} block", "Converse has no equivalent"))
    return None


FORMAT = Format(
    "bedrock-converse",
    "Amazon Bedrock Converse requests (messages of text/image/document/toolUse/toolResult/reasoningContent "
    "blocks, system list, inferenceConfig, toolConfig)",
    reader=read,
    writer=write,
)
