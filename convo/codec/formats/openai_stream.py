"""OpenAI chat completion streams: ``chat.completion.chunk`` objects (or their SSE body) added up
to the ``chat.completion`` they stand for, which :mod:`convo.codec.formats.openai` reads.

Layer: codec.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from convo.codec.formats._base import need_dict
from convo.errors import DecodeError

__all__ = ["completion_from_chunks", "completion_from_sse"]


def completion_from_chunks(chunks: Iterable[Any]) -> dict[str, Any]:
    """The ``chat.completion`` object a stream of ``chat.completion.chunk`` objects adds up to.

    >>> c = completion_from_chunks([
    ...     {"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
    ...     {"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}])
    >>> c["choices"][0]["message"]["content"], c["choices"][0]["finish_reason"]
    ('Hello', 'stop')
    """
    out: dict[str, Any] = {"object": "chat.completion"}
    choices: dict[int, dict[str, Any]] = {}
    for n, chunk in enumerate(chunks):
        chunk = need_dict(chunk, f"$[{n}]", "a chat.completion.chunk object")
        for k in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if k in chunk and k not in out:
                out[k] = chunk[k]
        if chunk.get("usage") is not None:
            out["usage"] = chunk["usage"]
        for ch in chunk.get("choices") or ():
            idx = ch.get("index", 0)
            acc = choices.setdefault(idx, {"index": idx, "message": {"role": "assistant", "content": None},
                                           "logprobs": None, "finish_reason": None})
            msg = acc["message"]
            delta = ch.get("delta") or {}
            for key in ("content", "refusal", "reasoning_content"):
                piece = delta.get(key)
                if piece is not None:
                    msg[key] = (msg.get(key) or "") + piece
                elif key == "refusal" and key in delta and key not in msg:
                    msg[key] = None
            for tc in delta.get("tool_calls") or ():
                calls = msg.setdefault("tool_calls", [])
                ti = tc.get("index", len(calls))
                while len(calls) <= ti:
                    calls.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                call = calls[ti]
                if tc.get("id"):
                    call["id"] = tc["id"]
                fn = tc.get("function") or {}
                if fn.get("name"):
                    call["function"]["name"] += fn["name"]
                if fn.get("arguments"):
                    call["function"]["arguments"] += fn["arguments"]
            lp = ch.get("logprobs")
            if lp:
                got = acc["logprobs"] or {}
                for key, items in lp.items():
                    got[key] = (got.get(key) or []) + items if isinstance(items, list) else got.get(key, items)
                acc["logprobs"] = got
            if ch.get("finish_reason") is not None:
                acc["finish_reason"] = ch["finish_reason"]
    out["choices"] = [choices[i] for i in sorted(choices)]
    return out


def completion_from_sse(text: str | bytes) -> dict[str, Any]:
    """The ``chat.completion`` object an SSE body (``data: {...}`` lines, ``data: [DONE]``) adds up to.

    >>> completion_from_sse('data: {"id": "c", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}\\n\\n'
    ...                     'data: [DONE]\\n\\n')["choices"][0]["message"]["content"]
    'Hi'
    """
    if isinstance(text, bytes):
        text = text.decode()
    chunks = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        try:
            chunks.append(orjson.loads(data))
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"invalid JSON in an SSE data line: {e}", line=n) from None
    return completion_from_chunks(chunks)
