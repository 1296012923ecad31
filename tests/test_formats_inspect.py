"""inspect_ai evaluation logs (convo.codec.formats.inspect_logs): every log in realworld/inspect-ai,
.json and .eval, and the mappings inspect_ai's own Anthropic provider uses."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

from convo._json import UNSET
from convo.codec.formats import get
from convo.codec.formats.inspect_logs import read, read_file, read_log
from convo.errors import DecodeError
from convo.model import (
    Base64Source,
    Image,
    RedactedThinking,
    Text,
    Thinking,
    ToolResult,
    ToolUse,
    WebSearchToolResult,
)
from tests._helpers_formats import REALWORLD, pairing_problems, whats

LOGS = REALWORLD / "inspect-ai"
POPULARITY_SYSTEM = '\nPlease note: In the following EXERCISE, it is important that you only respond with exactly "Yes" or "No"\n'


def _all(name: str) -> list[Any]:
    return list(read_file(LOGS / name))


class TestRealLogs:
    def test_every_log_gives_one_conversation_per_sample(self) -> None:
        """Each log yields as many conversations as it has samples (epochs included)."""
        counts = {p.name: len(_all(p.name)) for p in sorted(LOGS.iterdir()) if p.suffix in (".json", ".eval")}
        assert counts == {
            "2024-11-05T13-31-45-05-00_input-task_8zXjbRzCWrL9GXiXo2vus9.json": 1,
            "2025-05-12T20-28-13-04-00_popularity.json": 3,
            "log_formats.eval": 1, "log_formats.json": 1, "log_images_tc.json": 1,
            "log_message_deduplication.eval": 1, "log_read_sample.eval": 1,
            "log_streaming.eval": 4, "log_tool_call_error.json": 1,
        }

    def test_json_and_eval_of_the_same_run_agree(self) -> None:
        """log_formats.json and log_formats.eval hold the same run and read to the same conversation."""
        (a,) = _all("log_formats.json")
        (b,) = _all("log_formats.eval")
        assert a.conversation == b.conversation
        assert a.conversation.system == POPULARITY_SYSTEM
        assert [(m.role, m.content) for m in a.conversation.messages][1] == ("assistant", "No")

    def test_streaming_samples_come_in_order(self) -> None:
        """The .eval samples are read in natural order (sample, then epoch), one at a time."""
        got = _all("log_streaming.eval")
        assert [c.source.rsplit(":", 1)[1] for c in got] == [
            "samples/1_epoch_1.json", "samples/1_epoch_2.json", "samples/2_epoch_1.json", "samples/2_epoch_2.json"]
        assert all([m.role for m in c.conversation.messages] == ["user", "assistant"] for c in got)

    def test_agent_loop_pairs_every_tool_call(self) -> None:
        """The 12-message agent loop gives 5 tool_use/tool_result pairs with inspect's ids."""
        (c,) = _all("log_message_deduplication.eval")
        msgs = c.conversation.messages
        assert [m.role for m in msgs] == ["user"] + ["assistant", "user"] * 5 + ["assistant"]
        uses = [b for m in msgs for b in m.blocks if isinstance(b, ToolUse)]
        assert [(u.id, u.name, dict(u.input)) for u in uses] == [(f"hardcoded_{i}", "bash", {"cmd": "ls"}) for i in range(5)]
        assert pairing_problems(c.conversation) == []
        assert msgs[1].content[0] == Text("Executing bash with args: {'cmd': 'ls'}")
        assert "$.messages[*].tool_calls[*].view: tool call field 'view' on 5 calls" in whats(c.losses)

    def test_images_are_base64(self) -> None:
        """The image content of log_images_tc (a data URL) becomes a base64 PNG image block."""
        (c,) = _all("log_images_tc.json")
        user = c.conversation.messages[0]
        assert user.content[0] == Text("What is this a picture of?")
        img = user.content[1]
        assert isinstance(img, Image) and isinstance(img.source, Base64Source)
        assert img.source.media_type == "image/png" and img.decoded()[:4] == b"\x89PNG"
        assert img.size() == struct.unpack(">II", img.decoded()[16:24])  # the PNG IHDR's width, height

    def test_errored_tool_messages(self) -> None:
        """Tool messages with an error become is_error results; unpaired ids and error types are reported."""
        (c,) = _all("log_tool_call_error.json")
        (turn,) = c.conversation.messages
        assert len(turn.content) == 11
        assert all(isinstance(r, ToolResult) and r.is_error is True for r in turn.content)
        assert [r.tool_use_id for r in turn.content] == [f"bash_{i}" for i in range(1, 12)]
        assert "$.messages[0]: tool result for 'bash_1'" in whats(c.losses)
        assert "$.messages[0].error.type: error type 'parsing'" in whats(c.losses)

    def test_models_that_are_not_claude_are_reported(self) -> None:
        """A non-Anthropic model is left unset and reported; generate config keys are reported."""
        (c,) = _all("2024-11-05T13-31-45-05-00_input-task_8zXjbRzCWrL9GXiXo2vus9.json")
        assert c.conversation.model is UNSET
        assert whats(c.losses)[:2] == ["$.eval.model: model 'openai/gpt-4o-mini'",
                                       "$.plan.config.max_connections: generate config max_connections=4"]

    def test_sample_bookkeeping_is_reported_once(self) -> None:
        """Sample fields outside the conversation are named in one loss."""
        (c,) = _all("log_formats.json")
        assert whats(c.losses)[-1] == "$: sample fields input, target, output, scores, metadata, store, transcript"


class TestMappings:
    def test_anthropic_model_and_generate_config(self) -> None:
        """An anthropic/ model and the plan's generate config become request parameters."""
        header = {"eval": {"model": "anthropic/claude-opus-4-8"},
                  "plan": {"config": {"max_tokens": 512, "temperature": 0.2, "stop_seqs": ["END"], "seed": 3}}}
        c = read({"messages": [{"role": "user", "content": "x"}]}, header=header)
        conv = c.conversation
        assert (conv.model, conv.max_tokens, conv.temperature, conv.stop_sequences) == ("claude-opus-4-8", 512, 0.2, ("END",))
        assert whats(c.losses) == ["$.plan.config.seed: generate config seed=3"]

    def test_reasoning_content(self) -> None:
        """Reasoning with a signature is a thinking block; redacted is redacted_thinking; without a
        signature it is kept unsigned and reported; a summary is reported."""
        c = read({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [
            {"type": "reasoning", "reasoning": "r1", "signature": "s1"},
            {"type": "reasoning", "reasoning": "opaque", "redacted": True},
            {"type": "reasoning", "reasoning": "r3", "summary": "short"},
            {"type": "text", "text": "a"}]}]})
        assert c.conversation.messages[1].content == (
            Thinking("r1", "s1"), RedactedThinking("opaque"), Thinking("r3", ""), Text("a"))
        assert whats(c.losses) == ["$.messages[1].content[2].summary: reasoning summary",
                                   "$.messages[1].content[2]: thinking signature"]

    def test_attachments_are_resolved(self) -> None:
        """attachment://<hash> references take the sample's attachment text; a missing one is reported."""
        c = read({"attachments": {"abc": "the long text"}, "messages": [
            {"role": "user", "content": "attachment://abc"},
            {"role": "assistant", "content": [{"type": "text", "text": "attachment://zzz"}]}]})
        assert c.conversation.messages[0].content == "the long text"
        assert whats(c.losses) == ["$.messages[1].content[0].text: attachment zzz"]

    def test_attachments_in_a_real_sample(self) -> None:
        """A real .eval sample whose content is moved to an attachment reads back the same."""
        with zipfile.ZipFile(LOGS / "log_read_sample.eval") as z:
            sample = json.loads(z.read("samples/1_epoch_1.json"))
        plain_conv = read(sample).conversation
        text = sample["messages"][1]["content"]
        sample["attachments"]["f00d"] = text
        sample["messages"][1]["content"] = "attachment://f00d"
        assert read(sample).conversation == plain_conv

    def test_server_tool_data_and_unknown_content(self) -> None:
        """A data part holding a Messages API server block is that block; audio is reported."""
        block = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
        c = read({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [
            {"type": "data", "data": block}, {"type": "audio", "audio": "x.wav", "format": "wav"}]}]})
        assert isinstance(c.conversation.messages[1].content[0], WebSearchToolResult)
        assert whats(c.losses) == ["$.messages[1].content[1]: audio content"]

    def test_later_system_messages_stay_in_place(self) -> None:
        """A system message after the first user turn is a mid-conversation system message."""
        c = read({"messages": [{"role": "system", "content": "a"}, {"role": "user", "content": "q"},
                               {"role": "system", "content": "b"}, {"role": "assistant", "content": "r"}]})
        assert c.conversation.system == "a"
        assert [m.role for m in c.conversation.messages] == ["user", "system", "assistant"]

    def test_read_log_and_registry(self) -> None:
        """read_log reads a log document's samples; the registry's inspect format reads files."""
        log = json.loads((LOGS / "log_formats.json").read_text())
        assert [c.source for c in read_log(log, source="x.json")] == ["x.json:samples[0]"]
        assert len(list(get("inspect").read_file(LOGS / "log_streaming.eval"))) == 4


class TestMalformed:
    def test_decode_errors_name_the_sample(self, tmp_path: Path) -> None:
        """A malformed sample in an .eval raises DecodeError naming the member and the path."""
        p = tmp_path / "bad.eval"
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("header.json", json.dumps({"eval": {"model": "x/y"}}))
            z.writestr("samples/1_epoch_1.json", json.dumps({"messages": [{"role": "robot", "content": "x"}]}))
        with pytest.raises(DecodeError) as e:
            list(read_file(p))
        assert e.value.file == f"{p}:samples/1_epoch_1.json" and e.value.path == "$.messages[0].role"

    def test_a_sample_without_messages(self) -> None:
        """A sample without messages is a DecodeError at $.messages."""
        with pytest.raises(DecodeError) as e:
            read({"id": 1})
        assert e.value.path == "$.messages"

    def test_invalid_json_log(self, tmp_path: Path) -> None:
        """A .json log that is not JSON raises DecodeError naming the file."""
        p = tmp_path / "log.json"
        p.write_text("{not json")
        with pytest.raises(DecodeError, match="invalid JSON at column 2") as e:
            list(read_file(p))
        assert e.value.file == str(p) and e.value.path == "$"
