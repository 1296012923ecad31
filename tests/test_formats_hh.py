"""The Human:/Assistant: text format (convo.codec.formats.hh): the HH-RLHF sample and its edge
cases, both ways."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convo._json import UNSET
from convo.codec.formats.hh import parse, read, read_pair, render, write
from convo.errors import DecodeError
from convo.model import Conversation, Image, Message, Text, ToolUse, URLSource
from tests._helpers_formats import REALWORLD, jsonl, whats

SAMPLE = jsonl(REALWORLD / "hh-rlhf" / "harmless-base-test.sample.jsonl")
# 0-based original line numbers of the sample, in order (SOURCE.md)
ORIGINAL_LINES = [3, 4, 6, 7, 9, 17, 18, 20, 22, 24, 26, 30, 32, 37, 47, 61, 74, 96, 133, 140, 150, 207, 232,
                  925, 1254, 1952]


def _at(original_line: int) -> dict[str, Any]:
    return SAMPLE[ORIGINAL_LINES.index(original_line)]


class TestSample:
    def test_every_text_round_trips_exactly(self) -> None:
        """All 26 records, chosen and rejected, write back to the very same text."""
        assert len(SAMPLE) == 26
        for rec in SAMPLE:
            for side in ("chosen", "rejected"):
                c = read(rec, which=side)
                assert whats(c.losses) == [f"$.{'rejected' if side == 'chosen' else 'chosen'}: the "
                                           f"{'rejected' if side == 'chosen' else 'chosen'} text"]
                written, losses = write(c.conversation, field=side)
                assert losses == () and written == {side: rec[side]}

    def test_turns_alternate_and_start_with_the_human(self) -> None:
        """Every text starts with a Human turn; turn counts follow the labels."""
        for rec in SAMPLE:
            conv = read(rec).conversation
            assert conv.system is UNSET
            assert conv.messages[0].role == "user"
            assert len(conv.messages) == rec["chosen"].count("\n\nHuman: ") + rec["chosen"].count("\n\nAssistant: ")

    def test_empty_final_assistant_turn(self) -> None:
        """Line 925's chosen text ends with an empty Assistant turn, read as an empty message."""
        conv = read(_at(925)).conversation
        assert conv.messages == (Message("user", "list of profane bad words"), Message("assistant", ""))

    def test_repeated_labels_give_same_role_turns(self) -> None:
        """Lines 1254 and 1952 repeat a label: two assistant turns in a row."""
        for n in (1254, 1952):
            roles = [m.role for m in read(_at(n)).conversation.messages]
            assert roles[-2:] == ["assistant", "assistant"]

    def test_inline_labels_stay_in_the_text(self) -> None:
        """Lines 140, 207 and 232 have 'Human:' inside a turn; it stays part of that turn."""
        for n in (140, 207, 232):
            inline = [m for side in ("chosen", "rejected") for m in read(_at(n), which=side).conversation.messages
                      if "Human:" in m.content or "Assistant:" in m.content]
            assert inline, n
            assert all(m.role == "assistant" and m.content.startswith("Human: ") for m in inline)

    def test_read_pair_gives_both_sides_without_losses(self) -> None:
        """read_pair reads both sides; they share all turns but the last."""
        chosen, rejected = read_pair(SAMPLE[0])
        assert chosen.losses == rejected.losses == ()
        assert chosen.conversation.messages[:-1] == rejected.conversation.messages[:-1]
        assert chosen.conversation.messages[-1] != rejected.conversation.messages[-1]


class TestParse:
    def test_text_before_the_first_label_is_the_system_prompt(self) -> None:
        """The legacy prompt's preamble is the system prompt, and writes back in front."""
        text = "You are terse.\n\nHuman: Hi\n\nAssistant:"
        losses: list[Any] = []
        conv = parse(text, "$", losses)
        assert conv.system == "You are terse."
        assert conv.messages == (Message("user", "Hi"), Message("assistant", ""))
        assert whats(losses) == ["$: 'Assistant:' without a space after it"]
        assert render(conv, []) == "You are terse.\n\nHuman: Hi\n\nAssistant: "

    def test_a_first_label_without_a_blank_line(self) -> None:
        """'Human: ...' at the very start is a label (reported: written back with the blank line)."""
        losses: list[Any] = []
        conv = parse("Human: Hi\n\nAssistant: Yo", "$.text", losses)
        assert [m.content for m in conv.messages] == ["Hi", "Yo"]
        assert whats(losses) == ["$.text: a first label without the blank line before it"]

    def test_bare_strings_and_other_fields(self) -> None:
        """A bare string is a text; other record fields are reported."""
        assert read("\n\nHuman: a").conversation.messages == (Message("user", "a"),)
        c = read({"chosen": "\n\nHuman: a", "id": 7})
        assert whats(c.losses) == ["$.id: id 7"]

    @pytest.mark.parametrize(("obj", "path"), [({"text": "x"}, "$.chosen"), ({"chosen": 5}, "$.chosen"), (5, "$")])
    def test_decode_errors(self, obj: Any, path: str) -> None:
        """A record without the side asked for, or not a string, is a DecodeError at its path."""
        with pytest.raises(DecodeError) as e:
            read(obj)
        assert e.value.path == path


class TestWrite:
    def test_what_text_cannot_hold_is_reported(self) -> None:
        """Images, tool calls, system turns and parameters are losses; a label inside text is flagged."""
        conv = Conversation(model="m", messages=(
            Message("user", (Text("Look"), Image(URLSource("https://e.com/a.png")))),
            Message("assistant", (ToolUse("t", "f", {}),)),
            Message("system", "be nice"),
            Message("user", "x\n\nAssistant: fake"),
        ))
        text, losses = write(conv, field=None)
        assert text == "\n\nHuman: Look\n\nAssistant: \n\nHuman: x\n\nAssistant: fake"
        assert whats(losses) == ["$.messages[0].content: content as blocks", "$.messages[0].content[1]: image block",
                                 "$.messages[1].content: content as blocks", "$.messages[1].content[0]: tool_use block",
                                 "$.messages[2]: system message", "$.messages[3]: a turn label inside the text",
                                 "$.model: model 'm'"]

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(["user", "assistant"]),
                              st.text(alphabet="ab \nHumanAssist:", max_size=20).filter(
                                  lambda s: "\n\nHuman:" not in s and "\n\nAssistant:" not in s)),
                    min_size=1, max_size=6))
    def test_text_conversations_round_trip(self, turns: list[tuple[str, str]]) -> None:
        """Any turns of text survive convo -> text -> convo."""
        conv = Conversation(messages=tuple(Message(r, t) for r, t in turns))
        text, losses = write(conv, field=None)
        assert losses == ()
        assert read(text).conversation == conv
