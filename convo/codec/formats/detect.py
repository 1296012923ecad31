"""Which format a value or a file is in, told by content (keys and block shapes), never by name.

Layer: codec. :func:`detect` looks at one decoded JSON value; :func:`detect_file` at a file's
first bytes (a zip is an inspect ``.eval`` log) and first records (JSONL, a JSON array or one JSON
document). Both answer a name of :data:`~convo.codec.formats.FORMATS`, or None for content that no
format reads (an SSE event stream, a list of strings, Markdown).

The checks are ordered from the most specific marker to the least: envelopes of recorded traffic,
whole-log shapes (``loglines``, an inspect log's ``eval``), preference records, provider request
bodies marked by a field only they have (``anthropic_version``, ``inferenceConfig``, ``input``),
and last the ``messages`` list, told apart by its roles and content parts. A ``{"messages"}``
value with nothing but user and assistant text is the Messages API's own shape (``anthropic``)
unless its parameters are OpenAI's.

>>> detect({"model": "gpt-4o", "messages": [{"role": "developer", "content": "Be terse."}]})
'openai'
>>> detect({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": []})
'bedrock'
>>> detect({"messages": [{"role": "user", "content": [{"text": "Hi"}]}], "inferenceConfig": {}})
'bedrock-converse'
>>> detect({"model": "gpt-4o", "input": "Hi"}), detect({"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Yo"})
('responses', 'hh')
>>> detect(["data: {}"]) is None
True
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import orjson

from convo.codec.formats._base import open_binary

__all__ = ["detect", "detect_file", "format_of_url", "is_recorded"]

# Content part types only an OpenAI chat message has; block types only a Messages API message has.
_OPENAI_PARTS = frozenset({"image_url", "input_audio", "file", "refusal"})
_ANTHROPIC_BLOCKS = frozenset({"tool_use", "tool_result", "document", "thinking", "redacted_thinking",
                               "server_tool_use", "search_result", "mcp_tool_use", "mcp_tool_result",
                               "container_upload", "tool_reference", "compaction"})
_CONVERSE_BLOCKS = frozenset({"text", "image", "document", "video", "toolUse", "toolResult",
                              "reasoningContent", "guardContent", "cachePoint", "citationsContent"})
_RESPONSES_ITEMS = frozenset({"message", "function_call", "function_call_output", "reasoning",
                              "web_search_call", "file_search_call", "computer_call", "computer_call_output",
                              "code_interpreter_call", "image_generation_call", "local_shell_call",
                              "local_shell_call_output", "mcp_call", "mcp_list_tools", "item_reference",
                              "custom_tool_call", "custom_tool_call_output"})
_FINETUNE_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
_OPENAI_PARAMS = frozenset({"max_completion_tokens", "n", "logprobs", "top_logprobs", "frequency_penalty",
                            "presence_penalty", "response_format", "seed", "reasoning_effort", "logit_bias",
                            "parallel_tool_calls", "user", "store", "modalities", "audio", "prediction",
                            "stream_options", "functions", "function_call", "safety_identifier"})
_ANTHROPIC_PARAMS = frozenset({"system", "thinking", "top_k", "stop_sequences", "metadata", "container",
                               "output_config", "service_tier", "inference_geo", "mcp_servers", "context_management",
                               "cache_control"})
_MEDIA_KEYS = ("images", "videos", "audios")
_OPENAI_MODELS = ("gpt-", "chatgpt", "o1", "o3", "o4", "ft:gpt", "text-", "davinci")
_URL_FORMATS = (("/chat/completions", "openai"), ("/responses", "responses"), ("/v1/messages", "anthropic"),
                ("/converse", "bedrock-converse"), ("/invoke", "bedrock"), (":rawPredict", "vertex"),
                (":streamRawPredict", "vertex"))
_CLAUDE_CODE_TYPES = frozenset({"user", "assistant", "summary", "system", "progress", "file-history-snapshot",
                                "queue-operation"})
_ENVELOPE_META = frozenset({"source", "sdk_call", "endpoint", "kind", "method", "uri", "url", "path", "scope",
                            "status", "status_code", "headers", "rawHeaders", "responseIsBinary", "id"})


def detect(value: Any) -> str | None:
    """The name of the format *value* is in, or None when no format reads it."""
    if isinstance(value, list):
        return _detect_list(value)
    if not isinstance(value, dict):
        return None
    if "loglines" in value:
        return "claude-code"
    if "eval" in value and "version" in value:
        return "inspect"
    if is_recorded(value):
        return "recorded"
    if _is_claude_code_line(value):
        return "claude-code"
    if "conversations" in value:
        return "sharegpt"
    if "chosen_messages" in value or "rejected_messages" in value:
        return "hf"
    if "chosen" in value or "rejected" in value:
        side = value.get("chosen", value.get("rejected"))
        return "hh" if isinstance(side, str) and "prompt" not in value else "hf"
    if "prompt" in value and ("completion" in value or "label" in value or isinstance(value["prompt"], list)):
        return "hf"
    if isinstance(value.get("requests"), list):
        return "anthropic"  # a Message Batches create body: the codec keeps it whole
    version = value.get("anthropic_version")
    if isinstance(version, str):
        return "vertex" if version.startswith("vertex") else "bedrock"
    if value.get("object") == "response" or ("input" in value and "messages" not in value and "target" not in value) \
            or ("instructions" in value and "messages" not in value):
        return "responses"
    if "input" in value and "target" in value:
        return "hf"  # an inspect_ai dataset row
    if any(k in value for k in ("inferenceConfig", "toolConfig", "modelId", "additionalModelRequestFields")):
        return "bedrock-converse"
    if value.get("object") == "chat.completion" or "choices" in value:
        return "openai"
    if _tag(value) == "message" and value.get("role") == "assistant" and "content" in value:
        return "anthropic"  # a Messages API response
    msgs = value.get("messages")
    if not isinstance(msgs, list):
        return None
    if any(k in value for k in _MEDIA_KEYS) and all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in msgs):
        return "sharegpt"  # LLaMA-Factory's role/content ShareGPT with <image> placeholders
    flavour = _chat_flavour(msgs)
    if flavour == "openai" and value.keys() <= _FINETUNE_KEYS:
        return "openai-finetune"
    if flavour is not None:
        return flavour
    if isinstance(value.get("tools"), str) or "images" in value or "label" in value:
        return "hf"
    if any(k in value for k in _ANTHROPIC_PARAMS):
        return "anthropic"
    model = value.get("model")
    if isinstance(model, str) and model.startswith("claude"):
        return "anthropic"
    if isinstance(model, str) and model.startswith(_OPENAI_MODELS):
        return "openai"
    if any(k in value for k in _OPENAI_PARAMS):
        return "openai"
    if isinstance(value.get("tools"), list) and any(isinstance(t, dict) and "function" in t for t in value["tools"]):
        return "openai"
    if value.keys() <= _FINETUNE_KEYS and "max_tokens" not in value:
        return "openai-finetune" if any(isinstance(m, dict) and m.get("role") == "system" for m in msgs) else "anthropic"
    return "anthropic"


def is_recorded(value: dict[str, Any]) -> bool:
    """Whether *value* is recorded traffic or a wrapped body: ``{request: {body}, response}``
    (VCR cassettes, SDK recordings), nock's ``{scope, path, body, response}``, or a record that
    holds its body under ``body``/``value``/``response`` next to bookkeeping (``source``, ...)."""
    req = value.get("request")
    if isinstance(req, dict) and ("body" in req or "method" in req):
        return True
    if "scope" in value and "body" in value and "response" in value:
        return True
    if not value.keys() & _ENVELOPE_META:
        return False
    return any(k in value for k in ("body", "value", "response")) and "messages" not in value


def format_of_url(url: str) -> str | None:
    """The format of a request body sent to *url*, from the endpoint's path.

    >>> format_of_url("https://api.openai.com/v1/chat/completions"), format_of_url("/v1/messages/count_tokens")
    ('openai', 'anthropic')
    """
    for tail, name in _URL_FORMATS:
        if tail in url:
            return name
    return None


def _tag(value: dict[str, Any]) -> str | None:
    """*value*'s ``type`` when it is a string (data may hold any JSON there)."""
    kind = value.get("type")
    return kind if isinstance(kind, str) else None


def _is_claude_code_line(value: dict[str, Any]) -> bool:
    kind = _tag(value)
    if kind in ("user", "assistant") and isinstance(value.get("message"), dict):
        return True
    if kind in _CLAUDE_CODE_TYPES and ("sessionId" in value or "uuid" in value or "parentUuid" in value
                                       or "leafUuid" in value or "isSidechain" in value):
        return True
    msg = value.get("message")
    return "sessionId" in value and isinstance(msg, dict) and "role" in msg


def _detect_list(items: list[Any]) -> str | None:
    head = items[:20]
    if not head or not all(isinstance(x, dict) for x in head):
        return None
    if any(_is_claude_code_line(x) for x in head):
        return "claude-code"
    if all("role" in x or _tag(x) in _RESPONSES_ITEMS for x in head) \
            and any("role" not in x or _tag(x) == "message" for x in head):
        return "responses"
    if all("role" in x for x in head):
        return _chat_flavour(items) or "openai"
    return _most_specific(detect(x) for x in head)  # an array of records


_SPECIFIC = ("recorded", "claude-code", "responses", "bedrock-converse", "openai", "hf", "sharegpt", "hh")


def _most_specific(names: Iterable[str | None]) -> str | None:
    """Of the formats records were found in, the one whose reader takes them all: a file whose
    lines are all plain reads as its richest line says."""
    found = [n for n in names if n is not None]
    for name in _SPECIFIC:
        if name in found:
            return name
    return found[0] if found else None


def _chat_flavour(msgs: Iterable[Any]) -> str | None:
    """``openai``, ``hf``, ``anthropic`` or ``bedrock-converse`` when a message says so, else None."""
    openai = False
    for m in msgs:
        if not isinstance(m, dict):
            return None
        if "loss_weight" in m or "thinking" in m:
            return "hf"
        if m.get("role") in ("tool", "developer", "function") or "tool_calls" in m or "tool_call_id" in m:
            calls = m.get("tool_calls")
            for tc in calls if isinstance(calls, list) else ():
                fn = tc.get("function") if isinstance(tc, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("arguments"), dict):
                    return "hf"
            openai = True
        content = m.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if not isinstance(part, dict):
                continue
            kind = _tag(part)
            if kind is None:
                if part.keys() & _CONVERSE_BLOCKS:
                    return "bedrock-converse"
                continue
            if "value" in part:
                return "hf"  # LLaMA-Factory v1 parts
            if kind in _OPENAI_PARTS:
                openai = True
            elif kind in _ANTHROPIC_BLOCKS or kind.endswith("_tool_result") or (kind == "image" and "source" in part):
                return "anthropic"
            elif kind == "image":
                return "hf"
    return "openai" if openai else None


def detect_file(path: str | os.PathLike[str], *, sample: int = 50) -> str | None:
    """The format of the file at *path*, from its content: a zip is an inspect ``.eval`` log;
    otherwise the first JSON value (one document, an array, or the first *sample* JSONL lines).

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "data.txt"
    >>> _ = p.write_text('{"conversations": [{"from": "human", "value": "Hi"}]}\\n')
    >>> detect_file(p)
    'sharegpt'
    """
    with open_binary(path) as f:
        head = f.read(4)
        if head.startswith(b"PK\x03\x04"):
            return "inspect"
        data = head + f.read()
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith((b"{", b"[")):
        return None
    try:
        return detect(orjson.loads(text))
    except orjson.JSONDecodeError:
        pass
    values = []
    for line in text.splitlines()[:sample]:
        if line.strip():
            try:
                values.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    if not values:
        return None
    if any(isinstance(v, dict) and _is_claude_code_line(v) for v in values):
        return "claude-code"
    return _most_specific(map(detect, values))
