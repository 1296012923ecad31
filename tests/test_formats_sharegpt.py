"""ShareGPT (convo.codec.formats.sharegpt): FastChat, glaive tool calls and LLaMA-Factory images,
both ways."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings

from convo.codec.formats import get
from convo.codec.formats.sharegpt import read, write
from convo.errors import DecodeError
from convo.model import (
    Base64Source,
    Conversation,
    FileSource,
    Image,
    Message,
    Text,
    ToolResult,
    ToolUse,
    URLSource,
)
from tests._helpers_formats import (
    REALWORLD,
    assert_round_trip,
    chat_conversations,
    pairing_problems,
    plain,
    whats,
)

FASTCHAT = json.loads((REALWORLD / "sharegpt" / "fastchat-dummy_conversation.head.json").read_text())
GLAIVE = json.loads((REALWORLD / "sharegpt" / "llamafactory-glaive_toolcall_en_demo.head.json").read_text())
MLLM = json.loads((REALWORLD / "sharegpt" / "llamafactory-mllm_demo.json").read_text())


class TestFastChat:
    def test_all_records_read_with_alternating_turns(self) -> None:
        """All 192 records read; human/gpt alternate as user/assistant; turn counts match."""
        assert len(FASTCHAT) == 192
        for rec in FASTCHAT:
            conv = read(rec).conversation
            assert [m.role for m in conv.messages] == [
                {"human": "user", "gpt": "assistant"}[t["from"]] for t in rec["conversations"]]
            assert [m.content for m in conv.messages] == [t["value"] for t in rec["conversations"]]

    def test_the_record_id_is_the_only_loss_and_round_trip_differs_only_there(self) -> None:
        """Each record reports its id, and writes back equal except for it."""
        for rec in FASTCHAT:
            c = read(rec)
            assert whats(c.losses) == [f"$.id: id {rec['id']!r}"]
            written, losses = write(c.conversation)
            assert losses == ()
            assert plain(written) == {"conversations": rec["conversations"]}
            assert_round_trip(rec, written, c.losses)


class TestGlaiveToolCalls:
    def test_function_calls_pair_with_observations(self) -> None:
        """Every function_call becomes a tool_use answered by the observation after it (27 pairs)."""
        pairs = 0
        for rec in GLAIVE:
            conv = read(rec).conversation
            assert pairing_problems(conv) == []
            for i, t in enumerate(rec["conversations"]):
                if t["from"] == "function_call":
                    call = json.loads(t["value"])
                    m = conv.messages[i]
                    assert m.role == "assistant"
                    assert m.content == (ToolUse(f"call_{i}_0", call["name"], call["arguments"]),)
                    assert conv.messages[i + 1].content == (
                        ToolResult(f"call_{i}_0", content=rec["conversations"][i + 1]["value"]),)
                    pairs += 1
        assert pairs == 27

    def test_tools_become_anthropic_tools(self) -> None:
        """The tools JSON string becomes Messages API tools (an empty list stays empty)."""
        conv = read(GLAIVE[0]).conversation
        (tool,) = conv.tools
        assert tool["name"] == "search_recipes"
        assert plain(tool["input_schema"])["required"] == ["ingredients"]
        empty = next(r for r in GLAIVE if r["tools"] == "[]")
        assert read(empty).conversation.tools == ()

    def test_records_round_trip_to_the_same_strings(self) -> None:
        """Every record writes back identical, tools and function_call strings included."""
        for rec in GLAIVE:
            c = read(rec)
            assert c.losses == ()
            written, losses = write(c.conversation)
            assert written == rec
            assert whats(losses) == ([f"$.messages: {n} tool_use ids"] if (n := sum(
                t["from"] == "function_call" for t in rec["conversations"])) else [])


class TestImages:
    def test_placeholders_take_the_images_in_order(self) -> None:
        """<image> placeholders become image blocks at their place, taking images in order."""
        c = read(MLLM[0])
        msgs = c.conversation.messages
        assert msgs[0].content == (Image(URLSource("mllm_demo_data/1.jpg")), Text("Who are they?"))
        assert msgs[2].content == (Text("What are they doing?"), Image(URLSource("mllm_demo_data/1.jpg")))
        assert whats(c.losses) == ["$.images[0]: image 'mllm_demo_data/1.jpg'", "$.images[1]: image 'mllm_demo_data/1.jpg'"]

    def test_every_image_is_found(self) -> None:
        """All 8 images of the six records are found, one per placeholder."""
        found = 0
        for rec in MLLM:
            conv = read(rec).conversation
            imgs = [b for m in conv.messages for b in m.blocks if isinstance(b, Image)]
            assert [b.source.url for b in imgs] == rec["images"]
            found += len(imgs)
        assert found == 8

    def test_role_content_records_round_trip(self) -> None:
        """The role/content variant writes back identical with style='role'."""
        for rec in MLLM:
            c = read(rec)
            written, losses = write(c.conversation, style="role")
            assert losses == () and written == rec

    def test_an_image_loader_embeds_paths(self) -> None:
        """With image_loader, a path becomes whatever image the loader gives, with no loss."""
        c = read(MLLM[1], image_loader=lambda p: Image(Base64Source("image/jpeg", p.upper())))
        assert c.conversation.messages[0].content[0] == Image(Base64Source("image/jpeg", "MLLM_DEMO_DATA/2.JPG"))
        assert c.losses == ()

    def test_unmatched_placeholders_and_images_are_reported(self) -> None:
        """A placeholder without an image stays text; an image without a placeholder is reported."""
        c = read({"messages": [{"role": "user", "content": "<image><image>x"}], "images": ["https://e.com/a.png"]})
        assert c.conversation.messages[0].content == (Image(URLSource("https://e.com/a.png")), Text("<image>x"))
        assert whats(c.losses) == ["$.messages[0].content: an <image> placeholder without an image"]
        c = read({"messages": [{"role": "user", "content": "x"}], "images": ["https://e.com/a.png"]})
        assert whats(c.losses) == ["$.images[0]: image 'https://e.com/a.png'"]


class TestReadVariants:
    def test_system_field_and_system_turn(self) -> None:
        """A top-level system and a leading system turn both become the system field."""
        assert read({"system": "S", "conversations": [{"from": "human", "value": "x"}]}).conversation.system == "S"
        c = read({"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "x"}]})
        assert c.conversation.system == "S"
        assert write(c.conversation)[0]["conversations"][0] == {"from": "system", "value": "S"}
        assert write(c.conversation, system="field")[0]["system"] == "S"

    def test_parallel_calls_and_tool_speaker(self) -> None:
        """A list of calls in one function_call gives several tool_uses; 'tool' turns answer in order."""
        c = read({"conversations": [
            {"from": "human", "value": "both"},
            {"from": "function_call", "value": '[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": 1}}]'},
            {"from": "tool", "value": "A"}, {"from": "tool", "value": "B"},
            {"from": "gpt", "value": "done"}]})
        msgs = c.conversation.messages
        assert msgs[1].content == (ToolUse("call_1_0", "a", {}), ToolUse("call_1_1", "b", {"x": 1}))
        assert msgs[2].content == (ToolResult("call_1_0", content="A"), ToolResult("call_1_1", content="B"))
        assert c.losses == () and pairing_problems(c.conversation) == []

    def test_bad_function_call_is_kept_as_text(self) -> None:
        """A function_call that is not JSON stays assistant text; its observation is an orphan."""
        c = read({"conversations": [{"from": "human", "value": "x"}, {"from": "function_call", "value": "call f()"},
                                    {"from": "observation", "value": "r"}]})
        assert c.conversation.messages[1] == Message("assistant", "call f()")
        assert whats(c.losses) == ["$.conversations[1].value: function_call value",
                                   "$.conversations[2]: tool result without a call (given the id 'call_orphan_2_0')"]

    @pytest.mark.parametrize(("obj", "path"), [
        ({"dialog": []}, "$"),
        ({"conversations": [{"from": "bot", "value": "x"}]}, "$.conversations[0].from"),
        ({"conversations": [{"from": "human"}]}, "$.conversations[0].value"),
        ({"conversations": [{"from": "human", "value": 3}]}, "$.conversations[0].value"),
        ({"conversations": "x"}, "$.conversations"),
    ])
    def test_decode_errors_name_the_place(self, obj: Any, path: str) -> None:
        """Malformed records raise DecodeError at the exact $.path."""
        with pytest.raises(DecodeError) as e:
            read(obj)
        assert e.value.path == path


class TestWrite:
    def test_what_sharegpt_cannot_hold_is_reported(self) -> None:
        """Thinking, error flags and parameters are losses; tool results follow the call order."""
        conv = Conversation(model="m", messages=(
            Message("user", "q"),
            Message("assistant", (Text("Let me check."), ToolUse("t1", "f", {}), ToolUse("t2", "g", {}))),
            Message("user", (ToolResult("t2", content="G", is_error=True), ToolResult("t1", content="F"))),
        ))
        written, losses = write(conv)
        assert [t["from"] for t in written["conversations"]] == ["human", "gpt", "function_call", "observation", "observation"]
        assert [t["value"] for t in written["conversations"][3:]] == ["F", "G"]
        assert whats(losses) == ["$.messages[1].content: 1 text block", "$.messages[2].content[0].is_error: is_error",
                                 "$.messages: 2 tool_use ids", "$.model: model 'm'"]

    def test_files_api_images_are_losses(self) -> None:
        """A Files API image is reported and gets no placeholder; a URL image becomes one."""
        conv = Conversation().user(Image(FileSource("file_1")), Image(URLSource("https://x/a.png")), Text("Who?"))
        written, losses = write(conv)
        assert written == {"conversations": [{"from": "human", "value": "<image>Who?"}], "images": ["https://x/a.png"]}
        assert [str(loss) for loss in losses] == [
            "$.messages[0].content[0]: image from the Files API (ShareGPT cannot refer to it)"]

    @settings(max_examples=60, deadline=None)
    @given(chat_conversations())
    def test_conversations_keep_their_shape(self, conv: Conversation) -> None:
        """convo -> sharegpt -> convo keeps roles, texts, images and tool pairing (ids are renamed by
        position, which is the one documented change)."""
        written, losses = write(conv)
        assert all(loss.what.endswith("tool_use ids") for loss in losses)
        back = read(plain(written)).conversation
        assert pairing_problems(back) == []
        assert back.system == conv.system

        def shape(c: Conversation) -> list[Any]:
            out = []
            for m in c.messages:
                for b in m.blocks:
                    if isinstance(b, ToolUse):
                        out.append(("use", b.name, plain(b.input)))
                    elif isinstance(b, ToolResult):
                        out.append(("result", b.content))
                    else:
                        out.append((m.role, plain(get("anthropic").write(Conversation(messages=(Message(m.role, (b,)),)))[0])))
            return out

        assert shape(back) == shape(conv)
