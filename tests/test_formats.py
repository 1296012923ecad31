"""The foreign-format registry and what every format shares (convo.codec.formats, _base)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from convo._json import UNSET
from convo.codec.formats import FORMATS, Conversion, Format, Loss, convert, get, read_file, register
from convo.codec.formats._base import (
    ChatBuilder,
    generated_id,
    image_from_ref,
    parse_arguments,
    parse_data_url,
)
from convo.errors import DecodeError
from convo.model import Base64Source, Conversation, Text, ToolResult, ToolUse, URLSource
from tests._helpers_formats import assert_round_trip, diff_paths, uncovered, whats


class TestRegistry:
    def test_names_are_the_documented_ones(self) -> None:
        """The registry holds exactly the thirteen documented formats."""
        assert set(FORMATS) == {"anthropic", "openai", "openai-finetune", "responses", "bedrock", "vertex",
                                "bedrock-converse", "sharegpt", "hf", "hh", "inspect", "claude-code", "recorded"}

    def test_read_only_formats_do_not_write(self) -> None:
        """inspect, claude-code and recorded cannot be written; inspect and claude-code read whole
        files; the rest do both, one value at a time."""
        for name, fmt in FORMATS.items():
            assert fmt.reads
            assert fmt.writes is (name not in ("inspect", "claude-code", "recorded"))
            assert fmt.per_line is (name not in ("inspect", "claude-code"))

    def test_unknown_name_lists_the_known_ones(self) -> None:
        """Asking for an unknown format names every known one."""
        with pytest.raises(ValueError, match=r"unknown format 'vicuna'.*sharegpt"):
            get("vicuna")

    def test_writing_a_read_only_format_is_refused(self) -> None:
        """Format.write on a read-only format raises instead of writing nothing."""
        with pytest.raises(ValueError, match="can only be read"):
            get("inspect").write(Conversation())
        with pytest.raises(ValueError, match="can only be read"):
            convert([], from_="openai", to="claude-code")

    def test_register_adds_and_replaces(self) -> None:
        """register() makes a format reachable by name; the same name replaces it."""
        fmt = Format("test-upper", "upper-cased user turn",
                     reader=lambda obj, source=None: Conversion(Conversation().user(obj.upper())))
        try:
            assert register(fmt) is fmt
            assert get("test-upper").read("hi").conversation.messages[0].content == "HI"
            other = Format("test-upper", "replacement")
            register(other)
            assert get("test-upper") is other
            assert not other.reads
        finally:
            FORMATS.pop("test-upper", None)


class TestConvert:
    def test_losses_of_both_directions_are_returned(self) -> None:
        """convert() reports what reading dropped (paths in the input) and writing dropped."""
        value, losses = convert(
            {"messages": [{"role": "user", "content": "Hi", "name": "ann"},
                          {"role": "assistant", "content": "Hello", "reasoning_content": "greet"}]},
            from_="openai", to="hh")
        assert value == {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello"}
        assert whats(losses) == ["$.messages[0].name: name 'ann'",
                                 "$.messages[1].reasoning_content: thinking signature",
                                 "$.messages[1].content: content as blocks",
                                 "$.messages[1].content[0]: thinking block"]

    def test_options_reach_the_reader_and_the_writer(self) -> None:
        """read_options and write_options are passed to the formats."""
        value, _ = convert({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"},
                           from_="hh", to="hh", read_options={"which": "rejected"},
                           write_options={"field": None})
        assert value == "\n\nHuman: a\n\nAssistant: c"

    def test_tool_ids_stay_paired_across_formats(self) -> None:
        """An OpenAI tool_call_id survives openai -> hf -> openai as the same tool_use id."""
        body = {"messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_abc", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"P\"}"}}]},
            {"role": "tool", "tool_call_id": "call_abc", "content": "18C"}]}
        hf_value, _ = convert(body, from_="openai", to="hf")
        assert hf_value["messages"][1]["tool_calls"][0]["id"] == "call_abc"
        assert hf_value["messages"][2]["tool_call_id"] == "call_abc"
        back, losses = convert(hf_value, from_="hf", to="openai")
        assert back == body
        assert losses == ()


class TestReadFile:
    def test_jsonl_lines_know_their_line(self, tmp_path: Path) -> None:
        """A JSONL file gives one conversion per non-blank line, sourced by file and line."""
        p = tmp_path / "a.jsonl"
        p.write_text('{"messages": [{"role": "user", "content": "one"}]}\n\n'
                     '{"messages": [{"role": "user", "content": "two"}]}\n')
        got = list(read_file(p, format="openai"))
        assert [c.conversation.messages[0].content for c in got] == ["one", "two"]
        assert [c.source for c in got] == [f"{p}:1", f"{p}:3"]

    def test_json_array_file(self, tmp_path: Path) -> None:
        """A file holding one JSON array gives one conversion per element."""
        p = tmp_path / "a.json"
        p.write_text(json.dumps([{"conversations": [{"from": "human", "value": "x"}]}] * 2, indent=2))
        got = list(get("sharegpt").read_file(p))
        assert len(got) == 2 and got[1].source == f"{p}[1]"

    def test_lines_holding_message_lists(self, tmp_path: Path) -> None:
        """JSONL whose lines are bare message lists reads one conversation per line, line numbers
        counted from the top (blank lines included)."""
        p = tmp_path / "lists.jsonl"
        p.write_text('\n[{"role": "user", "content": "a"}]\n[{"role": "user", "content": "b"}]\n')
        got = list(read_file(p, format="hf"))
        assert [(c.source.rsplit(":", 1)[1], c.conversation.messages[0].content) for c in got] == [("2", "a"), ("3", "b")]

    def test_one_line_arrays(self, tmp_path: Path) -> None:
        """A one-line array of records is records; a one-line list of messages is one record."""
        p = tmp_path / "records.json"
        p.write_text(json.dumps([{"conversations": [{"from": "human", "value": str(i)}]} for i in range(3)]))
        assert len(list(read_file(p, format="sharegpt"))) == 3
        p = tmp_path / "chat.json"
        p.write_text(json.dumps([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], indent=1))
        (c,) = read_file(p, format="openai")
        assert [m.content for m in c.conversation.messages] == ["a", "b"]

    def test_gzip_is_transparent(self, tmp_path: Path) -> None:
        """A .gz file reads like the plain one."""
        p = tmp_path / "a.jsonl.gz"
        with gzip.open(p, "wt") as f:
            f.write('{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: yo"}\n')
        (c,) = read_file(p, format="hh")
        assert [m.content for m in c.conversation.messages] == ["hi", "yo"]

    def test_bad_json_names_file_and_line(self, tmp_path: Path) -> None:
        """Invalid JSON raises a DecodeError carrying the file and the line."""
        p = tmp_path / "bad.jsonl"
        p.write_text('{"messages": []}\n{"messages": [\n')
        with pytest.raises(DecodeError) as e:
            list(read_file(p, format="openai"))
        assert e.value.file == str(p) and e.value.line == 2

    def test_crlf_bom_and_gzip_told_by_magic(self, tmp_path: Path) -> None:
        """A gzipped JSONL file with a BOM and CRLF endings reads, whatever its name."""
        p = tmp_path / "a.data"
        p.write_bytes(gzip.compress(b'\xef\xbb\xbf{"messages": [{"role": "user", "content": "one"}]}\r\n'
                                    b'{"messages": [{"role": "user", "content": "two"}]}\r\n'))
        got = list(read_file(p, format="openai"))
        assert [(c.source, c.conversation.messages[0].content) for c in got] == [(f"{p}:1", "one"), (f"{p}:2", "two")]

    def test_bad_multiline_array_names_file(self, tmp_path: Path) -> None:
        """A JSON array over many lines that does not parse raises a DecodeError naming the file."""
        p = tmp_path / "bad.json"
        p.write_text('[\n  {"messages": []},\n  {"messages": \n')
        with pytest.raises(DecodeError, match="invalid JSON") as e:
            list(read_file(p, format="openai"))
        assert e.value.file == str(p) and e.value.path == "$"

    def test_shape_errors_name_file_line_and_path(self, tmp_path: Path) -> None:
        """A record of the wrong shape raises a DecodeError with its line and $.path."""
        p = tmp_path / "bad.jsonl"
        p.write_text('{"messages": [{"role": "user", "content": "ok"}, {"content": "no role"}]}\n')
        with pytest.raises(DecodeError) as e:
            list(read_file(p, format="openai"))
        assert (e.value.line, e.value.path, e.value.expected) == (1, "$.messages[1].role", "missing required key")

    def test_whole_file_formats_refuse_read(self) -> None:
        """Format.read on a format without a value reader asks for read_file."""
        fmt = Format("files-only", "x", file_reader=lambda path: iter(()))
        with pytest.raises(ValueError, match="read_file"):
            fmt.read({})


class TestLoss:
    def test_str_names_line_path_what_and_why(self) -> None:
        """A loss reads as 'line N: $.path: what (why)'."""
        assert str(Loss("$.a", "b", "c", line=4)) == "line 4: $.a: b (c)"
        assert str(Loss("$.a", "b", "c")) == "$.a: b (c)"

    def test_conversion_losses_are_a_tuple(self) -> None:
        """Conversion turns any iterable of losses into a tuple (it is a frozen value)."""
        c = Conversion(Conversation(), [Loss("$", "x", "y")])
        assert isinstance(c.losses, tuple) and c.source is None


class TestHelpers:
    def test_data_urls(self) -> None:
        """Base64 data URLs give media type and data; other URLs give None."""
        assert parse_data_url("data:image/jpeg;name=a.jpg;base64,/9j/") == ("image/jpeg", "/9j/")
        assert parse_data_url("data:text/plain,hello") is None
        assert parse_data_url("data:image/png;base64") is None
        assert parse_data_url("http://x/a.png") is None

    def test_image_references(self) -> None:
        """Data URLs become base64 sources, http URLs URL sources, paths a loader's image or a
        reported URL source."""
        losses: list[Loss] = []
        assert image_from_ref("data:image/gif;base64,R0lG", "$.i", losses, None, "X").source == Base64Source("image/gif", "R0lG")
        assert image_from_ref("https://e.com/a.png", "$.i", losses, None, "X").source == URLSource("https://e.com/a.png")
        assert losses == []
        img = image_from_ref("imgs/a.png", "$.i", losses, None, "X")
        assert img.source == URLSource("imgs/a.png")
        assert whats(losses) == ["$.i: image 'imgs/a.png'"]
        loaded = image_from_ref("imgs/a.png", "$.i", losses, lambda p: img.__class__(Base64Source("image/png", p)), "X")
        assert loaded.source == Base64Source("image/png", "imgs/a.png") and len(losses) == 1

    def test_arguments(self) -> None:
        """Arguments are objects when they are, or JSON strings holding one; otherwise kept raw."""
        assert parse_arguments({"a": 1}) == ({"a": 1}, True)
        assert parse_arguments('{"a": 1}') == ({"a": 1}, True)
        assert parse_arguments("[1, 2]") == ("[1, 2]", False)
        assert parse_arguments("{oops") == ("{oops", False)
        assert parse_arguments(None) == (None, False)

    def test_generated_ids_are_fixed_by_place(self) -> None:
        """The id given to a call without one depends only on its place."""
        assert generated_id(2, 1) == generated_id(2, 1) == "call_2_1"


class TestChatBuilder:
    def test_leading_systems_join_later_ones_stay(self) -> None:
        """Leading system messages form the top-level system; a later one is a system turn."""
        losses: list[Loss] = []
        b = ChatBuilder(losses, "X")
        b.system("a", "$[0]")
        b.system((Text("b"),), "$[1]")
        b.user("hi")
        b.system("c", "$[3]")
        b.assistant("yo")
        system, msgs = b.finish()
        assert system == (Text("a"), Text("b"))
        assert [m.role for m in msgs] == ["user", "system", "assistant"]
        assert whats(losses) == ["$[1]: 2 leading system messages"]

    def test_misplaced_system_message_is_reported(self) -> None:
        """A system message followed by a user turn is kept and reported (facts §1.5)."""
        losses: list[Loss] = []
        b = ChatBuilder(losses, "X")
        b.user("hi")
        b.assistant("yo")
        b.system("late", "$[2]")
        b.user("again")
        b.finish()
        assert whats(losses) == ["$[2]: mid-conversation system message"]

    def test_results_group_and_pair_by_order_or_name(self) -> None:
        """Consecutive results form one user turn; id-less ones take pending calls by name, then order."""
        losses: list[Loss] = []
        b = ChatBuilder(losses, "X")
        b.user("go")
        b.assistant((ToolUse("c1", "f", {}), ToolUse("c2", "g", {})), ["$[1].a", "$[1].b"])
        b.tool_result(None, "g", "G", "$[2]")
        b.tool_result(None, None, "F", "$[3]")
        _, msgs = b.finish()
        assert msgs[2].content == (ToolResult("c2", content="G"), ToolResult("c1", content="F"))
        assert losses == []

    def test_unanswered_and_orphan_results_are_reported(self) -> None:
        """A call left without a result before the next turn, and a result for nothing, are losses."""
        losses: list[Loss] = []
        b = ChatBuilder(losses, "X")
        b.assistant((ToolUse("c1", "f", {}), ToolUse("c2", "f", {})), ["$[0].x", "$[0].y"])
        b.tool_result("c1", None, "ok", "$[1]")
        b.user("next")
        b.tool_result("nope", None, "?", "$[3]")
        b.tool_result(None, None, "??", "$[4]")
        _, msgs = b.finish()
        assert whats(losses) == ["$[0].y: tool call 'c2' (f)", "$[3]: tool result for 'nope'",
                                 "$[4]: tool result without a call (given the id 'call_orphan_2_1')"]
        assert msgs[1].content == (ToolResult("c1", content="ok"), Text("next"))
        assert msgs[2].content[1].tool_use_id.startswith("call_orphan_")

    def test_no_system_is_unset(self) -> None:
        """Without a system message the top-level system stays absent."""
        b = ChatBuilder([], "X")
        b.user("hi")
        assert b.finish()[0] is UNSET


class TestRoundTripHelper:
    def test_diff_paths_names_places(self) -> None:
        """diff_paths names changed scalars, missing keys and resized lists."""
        a = {"x": [1, 2], "y": {"z": 1, "w": 2}, "s": 1}
        b = {"x": [1], "y": {"z": 2}, "s": True}
        assert sorted(diff_paths(a, b)) == ["$.s", "$.x", "$.y.w", "$.y.z"]

    def test_uncovered_respects_path_boundaries(self) -> None:
        """A loss at $.tool does not excuse a difference at $.tools."""
        assert uncovered({"tools": 1}, {"tools": 2}, [Loss("$.tool", "x", "y")]) == ["$.tools"]
        assert uncovered({"tools": 1}, {"tools": 2}, [Loss("$.tools", "x", "y")]) == []
        with pytest.raises(AssertionError):
            assert_round_trip({"a": 1}, {"a": 2}, [Loss("$", "x", "y")])


class TestRobustness:
    def test_too_deep_nesting_is_a_decode_error(self) -> None:
        """Arguments nested deeper than Python can walk give a DecodeError, not a crash."""
        args = '{"a":' + "[" * 1000 + "]" * 1000 + "}"
        call = {"id": "x", "type": "function", "function": {"name": "f", "arguments": args}}
        with pytest.raises(DecodeError, match="nested too deeply"):
            get("openai").read({"messages": [{"role": "assistant", "content": None, "tool_calls": [call]}]})

    def test_loss_key_generalises_indices(self) -> None:
        """Loss.key replaces every index with [*], so losses can be counted across lines."""
        assert Loss("$.messages[3].content[12].detail", "d", "w").key == "$.messages[*].content[*].detail"
        assert Loss("$.id", "d", "w").key == "$.id"


class TestOpenBinary:
    def test_gzip_is_told_by_its_bytes_not_its_name(self, tmp_path: Path) -> None:
        """A gzipped file without a .gz name, and a plain file named .gz, both read as their bytes are."""
        import gzip

        from convo.codec.formats._base import open_binary

        hidden = tmp_path / "log.json"
        hidden.write_bytes(gzip.compress(b'{"a": 1}'))
        plain = tmp_path / "plain.json.gz"
        plain.write_bytes(b'{"b": 2}')
        with open_binary(hidden) as f:
            assert f.read() == b'{"a": 1}'
        with open_binary(plain) as f:
            assert f.read() == b'{"b": 2}'


def test_reads_past_errors_says_what_the_file_reader_takes():
    """``Format.reads_past_errors`` (what ``convert`` reads to pass ``on_error=``) is true exactly
    for the formats whose file reader takes ``on_error``."""
    import inspect as pyinspect

    from convo.codec.formats import FORMATS

    seen = set()
    for fmt in FORMATS.values():
        takes = fmt.file_reader is not None and "on_error" in pyinspect.signature(fmt.file_reader).parameters
        assert fmt.reads_past_errors == takes, fmt.name
        if takes:
            seen.add(fmt.name)
    assert "inspect" in seen
