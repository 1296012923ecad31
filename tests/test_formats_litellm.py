"""OpenAI -> Anthropic conversion agrees with litellm on the live-recorded PDF requests of
realworld/openai-live-pydantic-ai.

litellm is not installed as a test dependency: its PyPI history includes a compromised release
(v1.107.0, per the package index), it pulls a large tree of dependencies, and importing it reaches
for the network (its model cost map) unless told not to. Its documented mapping is encoded here
instead, from ``litellm/litellm_core_utils/prompt_templates/factory.py``
(``anthropic_messages_pt``, ``anthropic_process_openai_file_message``,
``convert_to_anthropic_tool_invoke``, ``convert_to_anthropic_tool_result``):

- consecutive ``user`` and ``tool`` messages merge into one user turn; ``text`` parts become text
  blocks; ``file`` parts with ``file_data`` become ``document`` blocks with a base64 source whose
  media type and data come from the data URL (the ``filename`` is dropped); ``file_id`` becomes a
  ``file`` source; ``tool`` messages become ``tool_result`` blocks with their ``tool_call_id``;
- an assistant message's text becomes a text block (an empty one is left out), and each tool call
  a ``tool_use`` block with ``input = json.loads(arguments)``;
- system messages go to the top-level ``system``.

String content and a one-text-block list mean the same to the API; both sides are compared in
the block form.
"""

from __future__ import annotations

import json
from typing import Any

from convo.codec import unstructure
from convo.codec.formats import get
from tests._helpers_formats import REALWORLD, plain

CASSETTES = REALWORLD / "openai-live-pydantic-ai"


def _litellm_file(part: dict[str, Any]) -> dict[str, Any]:
    f = part["file"]
    if f.get("file_data"):
        header, data = f["file_data"].split(",", 1)
        media = f.get("format") or header[len("data:"):].split(";")[0]
        return {"type": "document", "source": {"type": "base64", "media_type": media, "data": data}}
    return {"type": "document", "source": {"type": "file", "file_id": f["file_id"]}}


def _litellm_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What litellm's anthropic_messages_pt gives for an OpenAI messages list (see the module doc)."""
    out: list[dict[str, Any]] = []
    i = 0
    rest = [m for m in messages if m["role"] not in ("system", "developer")]
    while i < len(rest):
        user: list[dict[str, Any]] = []
        while i < len(rest) and rest[i]["role"] in ("user", "tool"):
            m = rest[i]
            if m["role"] == "tool":
                user.append({"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m["content"]})
            elif isinstance(m["content"], str):
                user.append({"type": "text", "text": m["content"]})
            else:
                for part in m["content"]:
                    if part["type"] == "text":
                        user.append({"type": "text", "text": part["text"]})
                    elif part["type"] == "file":
                        user.append(_litellm_file(part))
            i += 1
        if user:
            out.append({"role": "user", "content": user})
        assistant: list[dict[str, Any]] = []
        while i < len(rest) and rest[i]["role"] == "assistant":
            m = rest[i]
            if isinstance(m.get("content"), str) and m["content"]:
                assistant.append({"type": "text", "text": m["content"]})
            for tc in m.get("tool_calls") or ():
                assistant.append({"type": "tool_use", "id": tc["id"], "name": tc["function"]["name"],
                                  "input": json.loads(tc["function"]["arguments"])})
            i += 1
        if assistant:
            out.append({"role": "assistant", "content": assistant})
    return out


def _blocks(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str)
             else m["content"]} for m in messages]


def _pdf_requests() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(CASSETTES.glob("*.json")):
        for n, exchange in enumerate(json.loads(path.read_text())):
            body = exchange["request"]["body"]
            parts = [p for m in body.get("messages", []) if isinstance(m.get("content"), list) for p in m["content"]]
            if any(p.get("type") == "file" and "application/pdf" in p["file"].get("file_data", "") for p in parts):
                found.append((f"{path.name}[{n}]", body))
    return found


class TestAgreesWithLitellm:
    def test_the_four_pdf_requests(self) -> None:
        """The four live-recorded requests carrying a PDF convert to the Messages API exactly as
        litellm converts them: the same blocks, the PDF a base64 document."""
        requests = _pdf_requests()
        assert len(requests) == 4
        for where, body in requests:
            conv = get("openai").read(body).conversation
            ours = _blocks(plain(unstructure(conv))["messages"])
            assert ours == _litellm_messages(body["messages"]), where
            docs = [b for m in ours for b in m["content"] if b["type"] == "document"]
            assert docs and all(d["source"]["media_type"] == "application/pdf" for d in docs), where

    def test_and_back_to_openai(self) -> None:
        """The documents go back to OpenAI as file parts holding the same data URL."""
        for where, body in _pdf_requests():
            conv = get("openai").read(body).conversation
            back, _ = get("openai").write(conv)
            sent = [p["file"]["file_data"] for m in body["messages"] if isinstance(m.get("content"), list)
                    for p in m["content"] if p["type"] == "file"]
            got = [p["file"]["file_data"] for m in back["messages"] if isinstance(m.get("content"), list)
                   for p in m["content"] if p["type"] == "file"]
            assert got == sent, where
