"""Hugging Face chat messages (convo.codec.formats.hf): TRL message lists and rows, inspect_ai
dataset rows, and LLaMA-Factory v1 records, both ways."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings

from convo._json import UNSET, FrozenDict
from convo.codec.formats import Loss, get, read_file
from convo.codec.formats.hf import read, write
from convo.errors import DecodeError
from convo.model import (
    Conversation,
    FileSource,
    Image,
    Message,
    Text,
    Thinking,
    ToolResult,
    ToolUse,
    URLSource,
)
from tests._helpers_formats import (
    REALWORLD,
    assert_round_trip,
    chat_conversations,
    jsonl,
    pairing_problems,
    plain,
    whats,
)

HF = REALWORLD / "hf-chat-messages"
TRL = jsonl(HF / "trl-message-lists.jsonl")
INSPECT = jsonl(HF / "inspect_ai-dataset.jsonl")
SFT = jsonl(HF / "llamafactory-v1_sft_demo.head.jsonl")
MULTIMODAL = jsonl(HF / "llamafactory-v1_multimodal_demo.jsonl")
REASON = jsonl(HF / "llamafactory-reason_tool_use_demo.head.jsonl")


def _trl(source: str) -> Any:
    return next(r["value"] for r in TRL if r["source"] == source)


class TestTrl:
    def test_every_record_reads(self) -> None:
        """All 35 TRL records (lists and rows) read into conversations whose tool pairs are intact."""
        assert len(TRL) == 35
        for rec in TRL:
            conv = read(rec["value"]).conversation
            assert conv.messages or conv.system is not UNSET
            assert pairing_problems(conv) == []

    def test_message_lists_round_trip(self) -> None:
        """Every bare message list and messages row writes back equal except where a loss says why."""
        n = 0
        for rec in TRL:
            value = rec["value"]
            if isinstance(value, list) or set(value) == {"messages"}:
                c = read(value)
                key = "thinking" if "thinking" in str(value) else "reasoning_content"
                written, _ = write(c.conversation, ids=False, reasoning_key=key)
                original = {"messages": value} if isinstance(value, list) else value
                # a bare list's paths start at $; the written record nests it under $.messages
                losses = [Loss("$.messages" + loss.path[1:], loss.what, loss.why) if isinstance(value, list) else loss
                          for loss in c.losses]
                assert_round_trip(original, written, losses)
                n += 1
        assert n == 21  # 19 bare lists and 2 messages rows

    def test_tool_calls_with_object_arguments_pair_by_name(self) -> None:
        """HF tool calls without ids get positional ids; the tool message (with name) answers them."""
        conv = read(_trl("docs/source/dataset_formats.md:L144")).conversation
        assert conv.messages[1].content == (ToolUse("call_1_0", "control_light", {"room": "living room", "state": "on"}),)
        assert conv.messages[2].content == (ToolResult("call_1_0", content="The lights in the living room are now on."),)

    def test_type_tool_variant_is_read_and_reported(self) -> None:
        """A tool call of type 'tool' reads as a function call and the rename is reported."""
        c = read(_trl("tests/test_data_utils.py:L207"))
        assert c.conversation.messages[1].content[0].name == "get_current_weather"
        assert whats(c.losses) == ["$[1].tool_calls[0].type: tool call type 'tool'"]

    def test_reasoning_fields(self) -> None:
        """reasoning_content and thinking fields become unsigned thinking blocks, reported."""
        c = read(_trl("tests/test_chat_template_utils.py:L798"))
        assert c.conversation.messages[1].content == (
            Thinking("The sky appears blue due to Rayleigh scattering.", ""), Text("It is blue."))
        assert whats(c.losses) == ["$[1].reasoning_content: thinking signature"]
        c = read(_trl("docs/source/dataset_formats.md:L248"))
        assert c.conversation.system == "Use a friendly tone."
        assert whats(c.losses) == ["$[0].role: role 'developer'", "$[2].thinking: thinking signature"]

    def test_inline_think_tags_stay_text(self) -> None:
        """<think> tags inside content are the data's text and are not reinterpreted."""
        conv = read(_trl("tests/test_chat_template_utils.py:L822")).conversation
        assert conv.messages[1].content.startswith("<think>\n")

    def test_preference_rows(self) -> None:
        """prompt + chosen/rejected read as a pair that stays paired: the chosen side is the
        conversation, the rejected side the pair's other half; which='rejected' reads that side alone."""
        row = _trl("docs/source/dataset_formats.md:L128")
        c = read(row)
        assert [m.content for m in c.conversation.messages] == ["What color is the sky?", "It is blue."]
        assert c.rejected is not None and c.rejected.messages[1].content == "It is green."
        assert c.losses == () and c.meta == {"prompt_turns": 1}
        assert write(c.conversation, rejected=c.rejected, meta=c.meta)[0] == row
        r = read(row, which="rejected")
        assert r.conversation.messages[1].content == "It is green." and r.rejected is None
        with pytest.raises(ValueError, match="which"):
            read(row, which="neither")

    def test_prompt_completion_and_labels(self) -> None:
        """prompt + completion join, the split kept in meta; a KTO label is the pair's label;
        chat_template_kwargs is reported."""
        row = _trl("tests/test_data_utils.py:L418")
        c = read(row)
        assert [m.role for m in c.conversation.messages] == ["user", "assistant"]
        assert c.losses == () and c.label is True
        assert get("hf").write_conversion(c)[0] == row
        c = read(_trl("tests/test_data_utils.py:L703"))
        assert whats(c.losses) == ["$.chat_template_kwargs: chat_template_kwargs {'enable_thinking': False}"]

    def test_tools_with_extra_fields(self) -> None:
        """A row's tools become Messages API tools; a function field they lack is reported."""
        c = read(_trl("tests/test_data_utils.py:L394"))
        (tool,) = c.conversation.tools
        assert tool["name"] == "get_color"
        assert "$.tools[0].function.return: tool field 'return'" in whats(c.losses)

    def test_image_placeholder_without_data_is_reported(self) -> None:
        """A bare {"type": "image"} with no images in the record cannot be carried and is reported."""
        c = read(_trl("tests/test_data_utils.py:L151"))
        assert c.conversation.messages[0].content == (Text("What color is the sky?"),)
        assert whats(c.losses) == ["$[1].content[0]: image placeholder"]

    def test_empty_text_beside_tool_calls_is_dropped_and_reported(self) -> None:
        """An empty text part next to tool calls is dropped (the API rejects it) and reported."""
        c = read(_trl("tests/test_chat_template_utils.py:L218"))
        assert c.conversation.messages[1].content == (ToolUse("call_1_0", "multiply", {"a": 3, "b": 4}),)
        assert whats(c.losses) == ["$[1].content[0]: empty text part"]


class TestInspectDataset:
    def test_rows_read_with_the_target_reported(self) -> None:
        """The ten inspect_ai dataset rows read as one user turn; the target is reported."""
        for row in INSPECT:
            c = read(row)
            assert [m.role for m in c.conversation.messages] == ["user"]
            assert c.conversation.messages[0].content == row["input"][0]["content"]
            assert whats(c.losses) == [f"$.target: target {row['target']!r}"]


class TestLlamaFactoryV1:
    def test_sft_demo_round_trips_with_loss_weights(self) -> None:
        """The 73 SFT records read (default weights are not losses) and write back identical."""
        assert len(SFT) == 73
        for rec in SFT:
            c = read(rec)
            assert c.losses == ()
            assert [m.role for m in c.conversation.messages] == ["user", "assistant"]
            written, losses = write(c.conversation, style="llamafactory", loss_weights=True)
            assert losses == () and plain(written) == rec

    def test_unusual_loss_weights_are_reported(self) -> None:
        """A loss_weight other than the role's default cannot be carried and is reported."""
        c = read({"messages": [{"role": "user", "content": "x", "loss_weight": 1.0},
                               {"role": "assistant", "content": "y", "loss_weight": 0.5}]})
        assert whats(c.losses) == ["$.messages[0].loss_weight: loss_weight 1.0",
                                   "$.messages[1].loss_weight: loss_weight 0.5"]

    def test_multimodal_demo_finds_every_image(self) -> None:
        """All 32 image_url parts become images at their place; records round-trip identical."""
        found = 0
        for rec in MULTIMODAL:
            c = read(rec)
            for m, raw in zip(c.conversation.messages, rec["messages"], strict=True):
                kinds = ["image_url" if isinstance(b, Image) else "text" for b in m.content]
                assert kinds == [p["type"] for p in raw["content"]]
                found += kinds.count("image_url")
            assert {loss.what for loss in c.losses} <= {f"image 'data/mllm_demo_data/{n}.jpg'" for n in (1, 2, 3)}
            written, losses = write(c.conversation, style="llamafactory")
            assert losses == () and plain(written) == rec
        assert found == 32
        first = read(MULTIMODAL[0]).conversation.messages[0].content[0]
        assert first == Image(URLSource("data/mllm_demo_data/1.jpg"))

    def test_reasoning_tool_use_demo(self) -> None:
        """Reasoning parts become thinking blocks, tool_call parts tool_uses, tool turns results;
        a tool turn that answers several calls at once leaves the others reported."""
        calls = results = 0
        for rec in REASON:
            c = read(rec)
            conv = c.conversation
            assert isinstance(conv.system, tuple) and conv.system[0].text.startswith("You are a methodical")
            for m in conv.messages:
                calls += sum(isinstance(b, ToolUse) for b in m.blocks)
                results += sum(isinstance(b, ToolResult) for b in m.blocks)
            unanswered = [loss.what for loss in c.losses if loss.what.startswith("tool call ")]
            assert len(pairing_problems(conv)) == len(unanswered)
        assert (calls, results) == (18, 8)
        third = read(REASON[2])
        assert [loss.what for loss in third.losses if loss.what.startswith("tool call")] == [
            "tool call 'call_2_1' (circle_area)", "tool call 'call_6_1' (circle_area)", "tool call 'call_6_2' (circle_area)"]

    def test_reasoning_tool_use_round_trips(self) -> None:
        """The records write back as LLaMA-Factory v1, equal except where a loss says why."""
        for rec in REASON:
            c = read(rec)
            written, _ = write(c.conversation, style="llamafactory", ids=False)
            assert_round_trip(rec, written, c.losses)


class TestWrite:
    def test_tool_messages_carry_name_and_id(self) -> None:
        """hf style writes arguments as objects, and tool messages with tool_call_id and name."""
        conv = (Conversation().user("q")
                .assistant(ToolUse("t1", "f", {"a": 1}))
                .user(ToolResult("t1", content="r")))
        written, losses = write(conv)
        assert plain(written)["messages"][1:] == [
            {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
            {"role": "tool", "content": "r", "tool_call_id": "t1", "name": "f"}]
        assert losses == ()

    def test_llamafactory_style_reports_ids(self) -> None:
        """LLaMA-Factory v1 has no call ids: asking for ids reports their loss."""
        conv = Conversation().user("q").assistant(ToolUse("t1", "f", {})).user(ToolResult("t1", content="r"))
        written, losses = write(conv, style="llamafactory")
        assert plain(written)["messages"][1]["content"] == [{"type": "tool_call", "value": '{"name": "f", "arguments": {}}'}]
        assert whats(losses) == ["$.messages[1]: tool_use ids", "$.messages[2].content[0].tool_use_id: tool_use id"]
        assert write(conv, style="llamafactory", ids=False)[1] == ()

    def test_files_api_images_are_losses(self) -> None:
        """A Files API image cannot be referred to and is reported; a URL image keeps its
        cache_control only as a loss."""
        cc = FrozenDict({"type": "ephemeral"})
        conv = Conversation().user(Image(FileSource("file_1")), Image(URLSource("https://x/a.png"), cache_control=cc))
        written, losses = write(conv)
        assert plain(written)["messages"] == [{"role": "user", "content": [{"type": "image", "url": "https://x/a.png"}]}]
        assert [str(loss) for loss in losses] == [
            "$.messages[0].content[0]: image from the Files API (chat messages cannot refer to it)",
            "$.messages[0].content[1].cache_control: cache_control (the format has no prompt caching)"]

    @settings(max_examples=60, deadline=None)
    @given(chat_conversations())
    def test_chat_conversations_round_trip_without_loss(self, conv: Conversation) -> None:
        """A conversation of text, images, tool calls and results survives convo -> hf -> convo."""
        written, losses = write(conv)
        assert losses == ()
        back = read(plain(written))
        assert back.losses == ()
        assert back.conversation == conv


class TestMalformed:
    @pytest.mark.parametrize(("obj", "path"), [
        ({"dialog": []}, "$"),
        ([{"content": "x"}], "$[0].role"),
        ([{"role": "narrator", "content": "x"}], "$[0].role"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}, "$.messages[0].content[0].text"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]}, "$.messages[0].tool_calls[0].function.name"),
        ({"prompt": "x", "completion": 5}, "$.completion"),
    ])
    def test_decode_errors_name_the_place(self, obj: Any, path: str) -> None:
        """Malformed records raise DecodeError at the exact $.path."""
        with pytest.raises(DecodeError) as e:
            read(obj)
        assert e.value.path == path

    def test_string_prompt_rows(self) -> None:
        """TRL's standard (non-conversational) prompt/completion strings read as two turns."""
        conv = read({"prompt": "The sky is", "completion": " blue."}).conversation
        assert conv.messages == (Message("user", "The sky is"), Message("assistant", " blue."))


PREFERENCE = REALWORLD / "hf-chat-preference"


class TestPreferencePairs:
    def test_llamafactory_dpo_reads_as_pairs_and_writes_back(self) -> None:
        """LLaMA-Factory v1 DPO lines (chosen_messages/rejected_messages with {"type": "text",
        "value"} parts) read as pairs; writing them back gives the same lines, loss weights too."""
        path = PREFERENCE / "llamafactory__v1_dpo_demo.head10.jsonl"
        lines = jsonl(path)
        got = list(read_file(path, format="hf"))
        assert len(got) == len(lines) == 10
        for c, line in zip(got, lines, strict=True):
            assert c.rejected is not None and c.losses == ()
            assert c.conversation.messages[-1].content != c.rejected.messages[-1].content
            value, losses = get("hf").write_conversion(c)
            assert plain(value) == line and losses == ()

    def test_kto_labels_survive(self) -> None:
        """KTO records (messages + label) read with their label and write back unchanged."""
        path = PREFERENCE / "llamafactory__kto_en_demo.head10.json"
        records = json.loads(path.read_text())
        got = list(read_file(path))
        assert [c.label for c in got] == [r["label"] for r in records]
        assert [plain(get("hf").write_conversion(c)[0]) for c in got] == records

    def test_every_trl_row_round_trips_except_where_reported(self) -> None:
        """Each TRL row of trl-message-lists.jsonl written back equals the row except at reported losses."""
        for line in jsonl(REALWORLD / "hf-chat-messages" / "trl-message-lists.jsonl"):
            if line["kind"] == "row":
                c = read(line["value"])
                value, losses = get("hf").write_conversion(c)
                assert_round_trip(line["value"], value, [*c.losses, *losses])

    def test_a_pair_to_a_one_conversation_format_is_reported(self) -> None:
        """Written to a format that holds one conversation, the chosen side is written and the
        rejected side is a loss."""
        c = read({"chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
                  "rejected": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "c"}]})
        value, losses = get("openai").write_conversion(c)
        assert value["messages"][-1]["content"] == "b"
        assert whats(losses) == ["$.rejected: the rejected side of a preference pair"]
        back = get("hf").write_conversion(c)[0]
        assert back == {"chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
                        "rejected": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "c"}]}
