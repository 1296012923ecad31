"""Telling a format by content (convo.codec.formats.detect), over the whole realworld tree."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from convo.codec.formats import FORMATS, detect, detect_file, read_file
from tests._helpers_formats import REALWORLD, pairing_problems


def _every_file() -> list[Path]:
    return [Path(folder) / f for folder, _, files in sorted(os.walk(REALWORLD)) for f in sorted(files)]


def _why_unclaimed(path: Path) -> str | None:
    """Why convo does not claim to read *path* (None: it should): documentation, a server-sent
    event stream (a response on the wire, read by the executors), or a list of raw bodies as text."""
    data = path.read_bytes()
    if path.suffix == ".md":
        return "documentation"
    if data.lstrip().startswith((b"event:", b"data:")):
        return "an SSE stream"
    try:
        value = json.loads(data)
    except ValueError:
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "a list of response bodies as text"
    return None


class TestRealWorldTree:
    def test_every_file_convo_claims_loads_with_detection(self) -> None:
        """Walking all of ../shared/realworld: every file is either detected and read through
        formats.read_file (no error; a conversation at least, but for an inspect log without
        samples), or is one of the kinds convo does
        not claim (documentation, SSE streams, lists of raw bodies); nothing else is left out."""
        read, unclaimed = {}, {}
        for path in _every_file():
            name = detect_file(path)
            if name is None:
                why = _why_unclaimed(path)
                assert why is not None, f"{path} is not detected, yet it is data convo should read"
                unclaimed[path] = why
                continue
            got = list(read_file(path))
            assert got or (name == "inspect" and not json.loads(path.read_bytes()).get("samples")), path
            read[path] = (name, len(got))
        assert len(read) >= 215 and len(unclaimed) <= 50
        names = {name for name, _ in read.values()}
        assert names >= {"anthropic", "recorded", "claude-code", "inspect", "hf", "hh", "sharegpt", "openai-finetune"}
        # every folder that holds conversation data has its files read
        for folder in sorted(p for p in REALWORLD.iterdir() if p.is_dir()):
            assert any(p.parent == folder or folder in p.parents for p in read), folder.name

    def test_claude_code_sessions_keep_every_tool_use_paired(self) -> None:
        """Sessions rebuilt from Claude Code (found by detection) pair each tool_use as the API saw it."""
        for path in sorted((REALWORLD / "claude-code-sessions").glob("spotter__*.jsonl")):
            assert detect_file(path) == "claude-code"
            for c in read_file(path):
                assert pairing_problems(c.conversation) == [], c.source

    def test_the_folders_are_told_apart(self) -> None:
        """Each realworld folder's files are detected as the format they are in."""
        expect = {
            "anthropic-bedrock-finetune/json_mode_dataset.head.jsonl": "anthropic",
            "hh-rlhf/harmless-base-test.sample.jsonl": "hh",
            "openai-chat/toy_chat_fine_tuning.jsonl": "openai-finetune",
            "openai-chat/openai-python-recorded-chat-completions.jsonl": "recorded",
            "openai-live-pydantic-ai/openai__test_document_as_binary_content_input.json": "recorded",
            "anthropic/sdk-typescript/ToolRunner.nock.json": "recorded",
            "sharegpt/fastchat-dummy_conversation.head.json": "sharegpt",
            "sharegpt-axolotl-llamafactory/axolotl__conversation.json": "sharegpt",
            "sharegpt-axolotl-llamafactory/llamafactory__mllm_video_audio_demo.json": "sharegpt",
            "hf-chat-messages/llamafactory-v1_sft_demo.head.jsonl": "hf",
            "hf-chat-preference/llamafactory__kto_en_demo.head10.json": "hf",
            "hf-chat-preference/llamafactory__v1_dpo_demo.head10.jsonl": "hf",
            "inspect-ai/log_formats.eval": "inspect",
            "inspect-ai-logs-2/2025-05-12T20-27-36-04-00_browser.json": "inspect",
            "claude-code-jsonl/claude-code-transcripts__sample_session.json": "claude-code",
            "claude-code-sessions/ccusage__project-alpha__chat.jsonl": "claude-code",
            "claude-code-sessions/spotter__ae4a77f8__subagents__agent-aac57f5.jsonl": "claude-code",
        }
        assert {k: detect_file(REALWORLD / k) for k in expect} == expect

    def test_one_pretty_printed_record_is_one_conversation(self) -> None:
        """axolotl's conversation.json is ONE pretty-printed object (not a list): before, reading it
        raised 'invalid JSON at column 2'; now it is one conversation of its 12 turns."""
        path = REALWORLD / "sharegpt-axolotl-llamafactory" / "axolotl__conversation.json"
        (c,) = read_file(path, format="sharegpt")
        assert len(c.conversation.messages) == 12
        (c2,) = read_file(path)
        assert c2.conversation == c.conversation


class TestValues:
    @pytest.mark.parametrize(("value", "name"), [
        ({"model": "claude-opus-4-8", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}, "anthropic"),
        ({"system": "x", "messages": [{"role": "user", "content": "Hi"}]}, "anthropic"),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}, "openai"),
        ({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "Hi"}]}, "openai-finetune"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, "openai-finetune"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "value": "Hi"}]}]}, "hf"),
        ({"model": "gpt-5", "input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}, "responses"),
        ({"object": "response", "output": []}, "responses"),
        ([{"type": "reasoning", "id": "rs", "summary": []}, {"role": "user", "content": "Hi"}], "responses"),
        ({"anthropic_version": "vertex-2023-10-16", "messages": []}, "vertex"),
        ({"messages": [{"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": []}}]}]}, "bedrock-converse"),
        ({"conversations": [{"from": "human", "value": "Hi"}]}, "sharegpt"),
        ({"prompt": "Sky?", "chosen": "Blue", "rejected": "Green"}, "hf"),
        ({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"}, "hh"),
        ({"loglines": []}, "claude-code"),
        ({"type": "user", "sessionId": "s", "message": {"role": "user", "content": "Hi"}}, "claude-code"),
        ({"request": {"body": {}}, "response": {}}, "recorded"),
        ({"source": "x.py:L1", "body": {"messages": []}}, "recorded"),
    ])
    def test_detects(self, value: object, name: str) -> None:
        """Each shape is detected as its format, and that format reads (or wraps) it."""
        assert detect(value) == name
        assert FORMATS[name].reads

    @pytest.mark.parametrize("value", [None, 3, "text", ["a", "b"], {"foo": 1}, []])
    def test_what_no_format_reads_is_none(self, value: object) -> None:
        """Values no format reads are not given a format."""
        assert detect(value) is None

    def test_auto_is_the_default_of_read_file(self, tmp_path: Path) -> None:
        """read_file without a format detects it; content no format reads is a clear ValueError."""
        p = tmp_path / "x.data"
        p.write_text('{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b"}\n')
        (c,) = read_file(p)
        assert c.conversation.messages[1].content == "b"
        bad = tmp_path / "notes.txt"
        bad.write_text("hello\n")
        with pytest.raises(ValueError, match="no format convo reads"):
            list(read_file(bad))
