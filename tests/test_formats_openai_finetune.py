"""OpenAI fine-tuning JSONL (convo.codec.formats.openai_finetune): the cookbook's toy file, weights,
tools, and what a training line cannot hold."""

from __future__ import annotations

import pytest

from convo._json import UNSET
from convo.codec.formats import get
from convo.codec.formats.openai_finetune import read, write
from convo.errors import DecodeError
from convo.model import Conversation, Thinking, ToolResult, ToolUse
from tests._helpers_formats import REALWORLD, jsonl, pairing_problems, plain, whats

TOY = jsonl(REALWORLD / "openai-chat" / "toy_chat_fine_tuning.jsonl")
SYSTEM = "You are a happy assistant that puts a positive spin on everything."


class TestToyFile:
    def test_every_line_reads_with_its_turns(self) -> None:
        """The five cookbook lines read with the expected system prompts and turn roles."""
        convs = [read(line).conversation for line in TOY]
        assert [c.system for c in convs] == [SYSTEM, SYSTEM, UNSET, SYSTEM, SYSTEM]
        assert [[m.role[0] for m in c.messages] for c in convs] == [
            ["u", "a"], ["u", "a", "u", "a", "u", "a", "u", "a"], ["u", "a"], ["a"], ["u", "a"]]

    def test_the_problem_cases_survive(self) -> None:
        """The line with no user message and the 26,000-character answer read as they are."""
        assert read(TOY[3]).conversation.messages[0].content == "You're great!"
        long = read(TOY[4]).conversation.messages[1].content
        assert len(long) == 26000 and long.startswith("Eat a banana!")

    def test_lines_round_trip_exactly(self) -> None:
        """Every line writes back to itself with no losses either way."""
        for line in TOY:
            c = read(line)
            assert c.losses == ()
            written, losses = write(c.conversation)
            assert losses == () and plain(written) == line


class TestTrainingFields:
    def test_weights_are_reported(self) -> None:
        """An assistant weight (0 or 1) cannot be carried and is reported at its path."""
        c = read({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 0},
                               {"role": "user", "content": "c"}, {"role": "assistant", "content": "d", "weight": 1}]})
        assert whats(c.losses) == ["$.messages[1].weight: weight 0", "$.messages[3].weight: weight 1"]

    def test_tools_and_parallel_tool_calls(self) -> None:
        """tools and parallel_tool_calls map; tool calls pair with their results."""
        line = {"messages": [
            {"role": "user", "content": "w?"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                                                  "function": {"name": "w", "arguments": "{\"x\":1}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "sun"},
            {"role": "assistant", "content": "Sunny."}],
            "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}],
            "parallel_tool_calls": False}
        c = read(line)
        conv = c.conversation
        assert conv.messages[1].content == (ToolUse("c", "w", {"x": 1}),)
        assert conv.messages[2].content == (ToolResult("c", content="sun"),)
        assert plain(conv.tool_choice) == {"type": "auto", "disable_parallel_tool_use": True}
        assert pairing_problems(conv) == []
        written, losses = write(conv)
        assert losses == ()
        # the assistant message with only tool calls comes back with content null (documented)
        assert plain(written) == {**line, "messages": [
            line["messages"][0], {**line["messages"][1], "content": None}, *line["messages"][2:]]}

    def test_request_keys_are_not_training_keys(self) -> None:
        """A model or temperature on a training line is reported, not read as a parameter."""
        c = read({"messages": [{"role": "user", "content": "x"}], "model": "gpt-4o", "temperature": 0})
        assert c.conversation.model is UNSET and c.conversation.temperature is UNSET
        assert whats(c.losses) == ["$.model: model 'gpt-4o'", "$.temperature: temperature 0"]


class TestWrite:
    def test_request_parameters_and_reasoning_are_reported(self) -> None:
        """model, max_tokens, tool_choice and thinking do not fit a training line and are reported."""
        conv = (Conversation(model="claude-opus-4-8", max_tokens=10, tool_choice={"type": "any"})
                .user("q").assistant(Thinking("t", ""), "a"))
        written, losses = write(conv)
        assert plain(written) == {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
        assert whats(losses) == ["$.messages[1].content[0]: thinking block", "$.tool_choice: tool_choice",
                                 "$.model: model 'claude-opus-4-8'", "$.max_tokens: max_tokens 10"]

    def test_missing_messages_is_a_decode_error(self) -> None:
        """A line without messages raises a DecodeError at $.messages."""
        with pytest.raises(DecodeError) as e:
            read({"prompt": "x"})
        assert e.value.path == "$.messages"

    def test_registered(self) -> None:
        """The registry's openai-finetune format is this module's."""
        assert get("openai-finetune").write(Conversation().user("x"))[0] == {"messages": [{"role": "user", "content": "x"}]}
