"""Tests for convo.executor._sse: the SSE parser, stream assembly, partial JSON, events from responses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convo import model as m
from convo._json import thaw
from convo.codec import structure, unstructure
from convo.errors import APIStatusError, OverloadedError, RateLimitError, StreamError
from convo.executor import (
    ServerSentEvent,
    SSEDecoder,
    StreamAssembler,
    StreamEvent,
    assemble,
    events_from_response,
    iter_events,
    iter_sse,
    parse_partial_json,
)
from tests import _helpers_executor as H


def _assembled(path: Path) -> m.Response:
    return assemble(iter_events([path.read_bytes()]))


# --------------------------------------------------------------------------- the wire format


class TestSSEDecoder:
    def test_named_events_comments_and_multiline_data(self) -> None:
        """Named events are dispatched on blank lines, comments skipped, data lines joined by newlines."""
        body = b": keep-alive\nevent: a\ndata: one\ndata: two\nid: 7\nretry: 1500\n\nevent: b\ndata:x\n\n"
        assert list(iter_sse([body])) == [
            ServerSentEvent("a", "one\ntwo", "7", 1500),
            ServerSentEvent("b", "x", "7", None),  # the last event id persists; retry does not
        ]

    def test_only_one_leading_space_is_removed(self) -> None:
        """A value keeps every space after the first one, which belongs to the field syntax."""
        assert list(iter_sse([b"data:  two spaces \n\n"])) == [ServerSentEvent(None, " two spaces ")]

    def test_line_without_colon_is_a_field_name(self) -> None:
        """A bare ``data`` line is a data field with an empty value."""
        assert list(iter_sse([b"data\ndata: x\n\n"])) == [ServerSentEvent(None, "\nx")]

    def test_event_without_data_is_not_dispatched(self) -> None:
        """An event block with a name but no data dispatches nothing (the WHATWG rule)."""
        assert list(iter_sse([b"event: lonely\n\nevent: b\ndata: 1\n\n"])) == [ServerSentEvent("b", "1")]

    def test_invalid_retry_and_id_with_nul_are_ignored(self) -> None:
        """``retry`` must be digits and an ``id`` holding NUL is dropped."""
        assert list(iter_sse([b"retry: soon\nid: a\x00b\ndata: 1\n\n"])) == [ServerSentEvent(None, "1")]

    @pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
    def test_every_line_ending_gives_the_same_events(self, newline: str) -> None:
        """LF, CRLF and CR line ends decode to identical events."""
        text = H.SSE_FILES[0].read_text().replace("\r\n", "\n")
        body = text.replace("\n", newline).encode()
        assert list(iter_sse([body])) == list(iter_sse([text.encode()]))

    def test_chunks_split_anywhere_give_the_same_events(self) -> None:
        """Splitting a CRLF stream at every byte position (even between CR and LF) changes nothing."""
        body = (H.REALWORLD / "sdk-python-sse" / "streaming__basic_response.sse").read_bytes()
        body = body.replace(b"\n", b"\r\n")
        whole = list(iter_sse([body]))
        assert len(whole) == 9
        for cut in range(1, len(body)):
            assert list(iter_sse([body[:cut], body[cut:]])) == whole, cut

    def test_byte_by_byte_feeding(self) -> None:
        """Feeding one byte at a time yields the same events, each as soon as its blank line is read."""
        body = b"event: x\r\ndata: {}\r\n\r\nevent: y\rdata: 2\r\r"
        d = SSEDecoder()
        seen: list[ServerSentEvent] = []
        for i in range(len(body)):
            seen += d.feed(body[i : i + 1])
        seen += d.flush()
        assert seen == [ServerSentEvent("x", "{}"), ServerSentEvent("y", "2")]

    def test_flush_dispatches_an_event_missing_its_blank_line(self) -> None:
        """A stream whose last event has no final blank line (as recorded fixtures do) still yields it."""
        body = (H.REALWORLD / "sdk-python-sse" / "streaming__basic_response.sse").read_bytes()
        assert not body.endswith(b"\n")
        assert [e.event for e in iter_sse([body])][-1] == "message_stop"

    def test_utf8_split_inside_a_character(self) -> None:
        """A multi-byte character cut between two chunks is decoded whole."""
        body = "data: café ☕\n\n".encode()
        cut = body.index("☕".encode()) + 1
        assert list(iter_sse([body[:cut], body[cut:]])) == [ServerSentEvent(None, "café ☕")]

    @settings(max_examples=60)
    @given(
        events=st.lists(
            st.tuples(
                st.one_of(st.none(), st.text("abcxyz_", min_size=1, max_size=8)),
                st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12), min_size=1, max_size=3),
            ),
            max_size=6,
        ),
        newline=st.sampled_from(["\n", "\r\n", "\r"]),
        cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
    )
    def test_any_framing_round_trips(
        self, events: list[tuple[str | None, list[str]]], newline: str, cuts: list[int]
    ) -> None:
        """Any events, framed with any line ending and cut into any chunks, decode back exactly."""
        text = ""
        for name, lines in events:
            if name is not None:
                text += f"event: {name}{newline}"
            text += "".join(f"data: {line}{newline}" for line in lines)
            text += newline
        body = text.encode("utf-8")
        points = sorted({c for c in cuts if c < len(body)})
        chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
        decoded = list(iter_sse(chunks))
        assert [(e.event, e.data) for e in decoded] == [(n, "\n".join(ls)) for n, ls in events]


class TestIterEvents:
    def test_data_is_decoded_json(self) -> None:
        """Each event's data arrives as decoded JSON, with its SSE name."""
        evs = list(iter_events([b'event: ping\ndata: {"type": "ping"}\n\n']))
        assert evs == [StreamEvent("ping", {"type": "ping"})]

    def test_unnamed_event_takes_its_type_as_name(self) -> None:
        """An event without an ``event:`` line is named after its data's type."""
        assert next(iter_events([b'data: {"type": "message_stop"}\n\n'])).event == "message_stop"

    def test_malformed_data_is_a_stream_error(self) -> None:
        """Data that is not JSON raises StreamError naming the event."""
        with pytest.raises(StreamError, match="content_block_delta"):
            list(iter_events([b"event: content_block_delta\ndata: {not json\n\n"]))


# --------------------------------------------------------------------------- real recorded streams

# What each recorded stream must assemble to: model, stop reason, block types, text of the last
# text block, tool input, (input_tokens, output_tokens), and other per-file facts.
EXPECTED: dict[str, dict[str, Any]] = {
    "sdk-go-sse/fallback-end.sse": {
        "model": "fallback-model", "stop": "end_turn", "blocks": ["text"],
        "text": " there! Happy to help with that.", "usage": (31, 547),
    },
    "sdk-go-sse/fallback-tooluse.sse": {
        "model": "fallback-model", "stop": "tool_use", "blocks": ["tool_use"],
        "tool": {"text": "hello"}, "usage": (31, 40),
    },
    "sdk-go-sse/refusal.sse": {
        "model": "primary-model", "stop": "refusal", "blocks": ["thinking", "text"], "text": "Hi",
        "thinking": "Simple educational question. Benign.", "signature": "sig-thinking-a",
        "usage": (28, 106), "refusal": None, "thinking_tokens": 67,
    },
    "sdk-python-sse/fable-fallback__stream-a-refusal.sse": {
        "model": "claude-fable-5", "stop": "refusal", "blocks": ["thinking", "text"], "text": "Hi",
        "thinking_start": "Simple educational question about what a solar eclipse is.",
        "thinking_end": "Minor correction or just roll with it politely.",
        "signature": "c3ludGhldGljLXNpZ25hdHVyZS1maXh0dXJlLWEtbm90LWEtcmVhbC1zaWduYXR1cmU=",
        "usage": (28, 106), "refusal": None,
    },
    "sdk-python-sse/fable-fallback__stream-a-toolrefusal.sse": {
        "model": "claude-fable-5", "stop": "refusal",
        "blocks": ["server_tool_use", "web_search_tool_result", "text"],
        "tool": {"query": "solar eclipse viewing safety news 2026"},
        "text": "Here's a summary of this year's solar eclipses and how", "usage": (28, 106),
        "search_results": 2,
    },
    "sdk-python-sse/fable-fallback__stream-b-fallback.sse": {
        "model": "claude-opus-4-8", "stop": "end_turn", "blocks": ["text"], "usage": (31, 547),
        "text_start": " there! Happy to explain.\n\n**Solar eclipses**",
        "text_end": "Just let me know what's sparking your interest!", "text_len": 1312,
    },
    "sdk-python-sse/streaming__basic_response.sse": {
        "model": "claude-3-opus-latest", "stop": "end_turn", "blocks": ["text"],
        "text": "Hello there!", "usage": (11, 6),
    },
    "sdk-python-sse/streaming__compaction_response.sse": {
        "model": "claude-opus-4-7", "stop": "end_turn", "blocks": ["compaction", "text"],
        "text": "Hello there!", "usage": (30, 8),
        "compaction": ("Earlier conversation summarized.", "EpwBCioIDxgCEAEYASJALd_opaque_compaction_payload"),
    },
    "sdk-python-sse/streaming__fallback_credit_response.sse": {
        "model": "claude-sonnet-4-5", "stop": "end_turn", "blocks": ["text"],
        "text": "Hello there!", "usage": (25, 8), "fallback_credit": {"status": {"type": "redeemed"}},
    },
    "sdk-python-sse/streaming__fallback_response.sse": {
        # relabelled from claude-opus-4-7 by the fallback block, as the non-streaming reply is
        "model": "claude-sonnet-4-5", "stop": "end_turn", "blocks": ["fallback", "text"],
        "text": "Hello there!", "usage": (25, 8),
    },
    "sdk-python-sse/streaming__incomplete_partial_json_response.sse": {
        "model": "claude-3-7-sonnet-20250219", "stop": "max_tokens", "blocks": ["text", "tool_use"],
        "text": "I'll create a comprehensive tax guide for someone with multiple W2s and save it in "
        "a file called taxes.txt. Let me do that for you now.",
        "tool": {"filename": "taxes.txt", "lines_of_text": [
            "# COMPREHENSIVE TAX GUIDE FOR INDIVIDUALS WITH MULTIPLE W-2s", "", "## INTRODUCTION", ""]},
        "usage": (450, 124),
    },
    "sdk-python-sse/streaming__refusal_response.sse": {
        "model": "claude-opus-4-7", "stop": "refusal", "blocks": ["text"], "text": "",
        "usage": (20, 0), "refusal": "cyber",
    },
    "sdk-python-sse/streaming__tool_use_response.sse": {
        "model": "claude-sonnet-4-20250514", "stop": "tool_use", "blocks": ["text", "tool_use"],
        "text": "I'll check the current weather in Paris for you.", "tool": {"location": "Paris"},
        "usage": (377, 65),
    },
    "sdk-typescript/basic_response.sse": {
        "model": "claude-opus-4-8", "stop": "end_turn", "blocks": ["text"], "text": "Hello there!",
        "usage": (11, 6),
    },
    "sdk-typescript/incomplete_partial_json_response.sse": {
        "model": "claude-sonnet-4-5", "stop": "max_tokens", "blocks": ["text", "tool_use"],
        "tool": {"filename": "taxes.txt", "lines_of_text": [
            "# COMPREHENSIVE TAX GUIDE FOR INDIVIDUALS WITH MULTIPLE W-2s", "", "## INTRODUCTION", ""]},
        "usage": (450, 124),
    },
    "sdk-typescript/tool_use_response.sse": {
        "model": "claude-opus-4-8", "stop": "tool_use", "blocks": ["text", "tool_use"],
        "text": "I'll check the current weather in Paris for you.", "tool": {"location": "Paris"},
        "usage": (377, 65),
    },
}


def _rel(path: Path) -> str:
    return path.relative_to(H.REALWORLD).as_posix()


class TestRecordedStreams:
    def test_every_sse_file_has_expectations(self) -> None:
        """Each of the 16 recorded .sse files is covered by the table (a new file must be added)."""
        assert sorted(EXPECTED) == sorted(_rel(p) for p in H.SSE_FILES)
        assert len(H.SSE_FILES) == 16

    @pytest.mark.parametrize("path", H.SSE_FILES, ids=_rel)
    def test_assembles_to_the_recorded_reply(self, path: Path) -> None:
        """The assembled response has the model, stop reason, blocks, text, tool input and usage recorded."""
        want = EXPECTED[_rel(path)]
        r = _assembled(path)
        assert r.model == want["model"]
        assert r.stop_reason == want["stop"]
        assert r.stop_sequence is None
        assert [b.type for b in r.content] == want["blocks"]
        assert isinstance(r.usage, m.Usage)
        assert (r.usage.input_tokens, r.usage.output_tokens) == want["usage"]
        texts = [b for b in r.content if isinstance(b, m.Text)]
        if "text" in want:
            assert texts[-1].text == want["text"]
        if "text_len" in want:
            assert len(texts[-1].text) == want["text_len"]
            assert texts[-1].text.startswith(want["text_start"])
            assert texts[-1].text.endswith(want["text_end"])
        tools = [b for b in r.content if isinstance(b, m.ToolUse | m.ServerToolUse)]
        if "tool" in want:
            assert thaw(tools[0].input) == want["tool"]
        else:
            assert tools == []
        thinking = [b for b in r.content if isinstance(b, m.Thinking)]
        if "signature" in want:
            assert thinking[0].signature == want["signature"]
        if "thinking" in want:
            assert thinking[0].thinking == want["thinking"]
        if "thinking_start" in want:
            assert thinking[0].thinking.startswith(want["thinking_start"])
            assert thinking[0].thinking.endswith(want["thinking_end"])
        if "refusal" in want:
            assert isinstance(r.stop_details, m.StopDetails)
            assert (r.stop_details.type, r.stop_details.category) == ("refusal", want["refusal"])
        if "thinking_tokens" in want:
            assert r.usage.output_tokens_details == {"thinking_tokens": want["thinking_tokens"]}
        if "compaction" in want:
            block = r.content[0]
            assert isinstance(block, m.UnknownBlock)
            assert (block.extra["content"], block.extra["encrypted_content"]) == want["compaction"]
        if "fallback_credit" in want:
            assert thaw(r.usage.extra["fallback_credit"]) == want["fallback_credit"]
        if "search_results" in want:
            results = [b for b in r.content if isinstance(b, m.WebSearchToolResult)]
            assert len(results[0].content) == want["search_results"]

    @pytest.mark.parametrize("path", H.SSE_FILES, ids=_rel)
    def test_agrees_with_the_official_sdk_accumulator(self, path: Path) -> None:
        """convo's assembly matches the anthropic SDK's own stream accumulator on every recorded file."""
        pytest.importorskip("anthropic")
        events = list(iter_events([path.read_bytes()]))
        self._compare(assemble(events), H.sdk_snapshot(events))

    @pytest.mark.parametrize(("name", "body"), H.recorded_streams(), ids=[n for n, _ in H.recorded_streams()])
    def test_recorded_http_streams_agree_with_the_sdk(self, name: str, body: str) -> None:
        """The SSE bodies inside the SDK recordings and Go cassettes assemble as the SDK assembles them."""
        pytest.importorskip("anthropic")
        events = list(iter_events([body.encode("utf-8")]))
        r = assemble(events)
        assert r.stop_reason in ("end_turn", "tool_use", "max_tokens")
        self._compare(r, H.sdk_snapshot(events))

    @staticmethod
    def _compare(r: m.Response, sdk: dict[str, Any]) -> None:
        mine = thaw(unstructure(r))
        assert mine["model"] == sdk["model"]
        assert mine["stop_reason"] == sdk["stop_reason"]
        assert mine.get("stop_sequence") == sdk["stop_sequence"]
        assert len(mine["content"]) == len(sdk["content"])
        for a, b in zip(mine["content"], sdk["content"], strict=True):
            assert a["type"] == b["type"]
            for k in ("text", "thinking", "signature", "input", "content", "encrypted_content"):
                if k in b and b[k] is not None:
                    assert a[k] == b[k], k
        for k in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            if sdk["usage"].get(k) is not None:
                assert mine["usage"][k] == sdk["usage"][k], k
        if sdk.get("stop_details"):
            assert mine["stop_details"]["category"] == sdk["stop_details"]["category"]


# --------------------------------------------------------------------------- the assembler


def _start(**message: Any) -> dict[str, Any]:
    msg = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [],
           "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}
    msg.update(message)
    return {"type": "message_start", "message": msg}


def _block(i: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": i, "content_block": block}


def _delta(i: int, **delta: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": i, "delta": delta}


def _stop(i: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": i}


def _end(stop_reason: str = "end_turn", **usage: Any) -> list[dict[str, Any]]:
    return [
        {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
         "usage": usage or {"output_tokens": 7}},
        {"type": "message_stop"},
    ]


class TestStreamAssembler:
    def test_tool_input_fragments_are_joined_and_parsed_at_stop(self) -> None:
        """input_json_delta fragments (the first one empty) become the parsed input at content_block_stop."""
        r = assemble([
            _start(),
            _block(0, {"type": "tool_use", "id": "t1", "name": "f", "input": {}}),
            _delta(0, type="input_json_delta", partial_json=""),
            _delta(0, type="input_json_delta", partial_json='{"a": [1, '),
            _delta(0, type="input_json_delta", partial_json='2], "b": "x"}'),
            _stop(0),
            *_end("tool_use"),
        ])
        assert r.content == (m.ToolUse("t1", "f", {"a": [1, 2], "b": "x"}),)

    def test_tool_without_deltas_keeps_its_start_input(self) -> None:
        """A tool block with no input deltas (or only empty ones) keeps the input it started with."""
        r = assemble([
            _start(),
            _block(0, {"type": "tool_use", "id": "t1", "name": "f", "input": {}}),
            _delta(0, type="input_json_delta", partial_json=""),
            _stop(0),
            *_end("tool_use"),
        ])
        assert r.content[0] == m.ToolUse("t1", "f", {})

    def test_bad_tool_json_is_a_stream_error(self) -> None:
        """Tool input that does not parse at content_block_stop raises StreamError with the text."""
        with pytest.raises(StreamError, match="not valid JSON"):
            assemble([
                _start(),
                _block(0, {"type": "tool_use", "id": "t1", "name": "f", "input": {}}),
                _delta(0, type="input_json_delta", partial_json='{"a": }'),
                _stop(0),
                *_end(),
            ])

    def test_thinking_signature_and_citations(self) -> None:
        """Thinking text and its signature, and citations arriving one by one, are assembled."""
        c1 = {"type": "char_location", "cited_text": "x", "document_index": 0,
              "document_title": None, "start_char_index": 0, "end_char_index": 1}
        c2 = {**c1, "cited_text": "y"}
        r = assemble([
            _start(),
            _block(0, {"type": "thinking", "thinking": "", "signature": ""}),
            _delta(0, type="thinking_delta", thinking="Let me "),
            _delta(0, type="thinking_delta", thinking="think."),
            _delta(0, type="signature_delta", signature="sig=="),
            _stop(0),
            _block(1, {"type": "text", "text": "", "citations": None}),
            _delta(1, type="citations_delta", citation=c1),
            _delta(1, type="text_delta", text="Quoted"),
            _delta(1, type="citations_delta", citation=c2),
            _stop(1),
            *_end(),
        ])
        assert r.content[0] == m.Thinking("Let me think.", "sig==")
        text = r.content[1]
        assert isinstance(text, m.Text)
        assert text.text == "Quoted"
        assert thaw(text.citations) == [c1, c2]

    def test_server_tool_result_arrives_whole(self) -> None:
        """A server tool result block comes complete in content_block_start and is kept as it came."""
        result = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1",
                  "content": [{"type": "web_search_result", "url": "u", "title": "t", "encrypted_content": "e"}]}
        r = assemble([_start(), _block(0, result), _stop(0), *_end()])
        assert thaw(unstructure(r.content[0])) == result

    def test_usage_is_cumulative(self) -> None:
        """message_delta counts replace the earlier ones; omitted or null counts keep message_start's."""
        r = assemble([
            _start(usage={"input_tokens": 50, "output_tokens": 1, "cache_read_input_tokens": 9,
                          "server_tool_use": {"web_search_requests": 0}}),
            {"type": "message_delta", "delta": {"stop_reason": "pause_turn"},
             "usage": {"output_tokens": 5, "cache_read_input_tokens": None,
                       "server_tool_use": {"web_search_requests": 1}}},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
             "usage": {"output_tokens": 12, "input_tokens": 52}},
            {"type": "message_stop"},
        ])
        assert r.usage == m.Usage(input_tokens=52, output_tokens=12, cache_read_input_tokens=9,
                                  server_tool_use={"web_search_requests": 1})
        assert r.stop_reason == "end_turn"

    def test_stop_sequence_and_details(self) -> None:
        """stop_sequence and stop_details come from message_delta."""
        r = assemble([
            _start(),
            {"type": "message_delta",
             "delta": {"stop_reason": "refusal", "stop_sequence": None,
                       "stop_details": {"type": "refusal", "category": "bio", "explanation": None}},
             "usage": {"output_tokens": 2}},
            {"type": "message_stop"},
        ])
        assert r.stop_details == m.StopDetails("refusal", category="bio", explanation=None)

    def test_ping_and_unknown_events_are_ignored_anywhere(self) -> None:
        """ping and event types convo does not know change nothing, even before message_start."""
        plain = [_start(), _block(0, {"type": "text", "text": ""}), _delta(0, type="text_delta", text="ok"),
                 _stop(0), *_end()]
        noisy = [{"type": "ping"}, {"type": "future_event", "x": 1}]
        for ev in plain:
            noisy += [ev, {"type": "ping"}, {"type": "brand_new", "index": 0}]
        assert assemble(noisy) == assemble(plain)

    def test_unknown_delta_type_is_ignored(self) -> None:
        """A delta type convo does not know leaves the block as it was."""
        r = assemble([_start(), _block(0, {"type": "text", "text": "a"}),
                      _delta(0, type="sparkle_delta", text="zzz"), _stop(0), *_end()])
        assert r.text == "a"

    def test_event_before_message_start_is_an_error(self) -> None:
        """A content event before message_start raises StreamError, as the SDK's accumulator does."""
        with pytest.raises(StreamError, match='before "message_start"'):
            assemble([_block(0, {"type": "text", "text": ""})])

    def test_delta_for_a_block_that_never_started(self) -> None:
        """A delta naming an index that has no block raises StreamError."""
        with pytest.raises(StreamError, match="has not started"):
            assemble([_start(), _delta(3, type="text_delta", text="x")])

    def test_stream_ending_early_is_a_stream_error(self) -> None:
        """Events that stop before message_stop raise StreamError."""
        body = (H.REALWORLD / "sdk-python-sse" / "streaming__tool_use_response.sse").read_bytes()
        cut = body[: body.index(b"event: message_delta")]
        with pytest.raises(StreamError, match="before message_stop"):
            assemble(iter_events([cut]))
        with pytest.raises(StreamError, match="before message_start"):
            assemble([])

    def test_error_event_raises_the_matching_class(self) -> None:
        """An ``error`` event after HTTP 200 raises the class of its error type, status 200, with the request id."""
        acc = StreamAssembler(headers={"request-id": "req_abc"})
        acc.feed(_start())
        with pytest.raises(OverloadedError) as info:
            acc.feed({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        e = info.value
        assert (e.status, e.type, e.message, e.request_id) == (200, "overloaded_error", "Overloaded", "req_abc")

    def test_error_event_of_unknown_type(self) -> None:
        """An error event whose type convo does not know raises the base APIStatusError."""
        with pytest.raises(APIStatusError) as info:
            assemble([_start(), {"type": "error", "error": {"type": "brand_new_error", "message": "?"}}])
        assert type(info.value) is APIStatusError
        with pytest.raises(RateLimitError):
            assemble([{"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}])

    def test_callers_events_are_not_changed(self) -> None:
        """Assembling leaves the event dicts the caller passed exactly as they were."""
        events = [_start(), _block(0, {"type": "text", "text": "", "citations": []}),
                  _delta(0, type="text_delta", text="hi"),
                  _delta(0, type="citations_delta", citation={"type": "x"}), _stop(0), *_end()]
        before = json.dumps(events)
        assemble(events)
        assert json.dumps(events) == before

    def test_on_event_sees_every_event(self) -> None:
        """The on_event callback gets every event in order, pings included."""
        path = H.REALWORLD / "sdk-python-sse" / "streaming__basic_response.sse"
        seen: list[str] = []
        assemble(iter_events([path.read_bytes()]), on_event=lambda ev: seen.append(ev.type))
        assert seen == ["message_start", "content_block_start", "ping", "content_block_delta",
                        "content_block_delta", "content_block_delta", "content_block_stop",
                        "message_delta", "message_stop"]

    def test_snapshot_mid_stream(self) -> None:
        """A snapshot shows the reply as far as it has arrived, with an open tool input parsed partially."""
        acc = StreamAssembler()
        for ev in [_start(), _block(0, {"type": "tool_use", "id": "t", "name": "f", "input": {}}),
                   _delta(0, type="input_json_delta", partial_json='{"city": "Paris", "days": [1, 2')]:
            acc.feed(ev)
        snap = acc.snapshot()
        assert thaw(snap.content[0].input) == {"city": "Paris", "days": [1, 2]}  # type: ignore[union-attr]
        with pytest.raises(StreamError):
            acc.response()

    def test_second_message_start_is_an_error(self) -> None:
        """Two message_start events in one stream raise StreamError."""
        with pytest.raises(StreamError, match="second message_start"):
            assemble([_start(), _start()])


# --------------------------------------------------------------------------- partial JSON


PARTIAL_DOCS = [
    '{"filename": "taxes.txt", "lines_of_text": ["# GUIDE", "", "## INTRO", "Filing taxes"]}',
    '{"a": {"b": [1, -2.5e3, true, false, null, {"c": "d\\"e\\\\f\\u00e9"}]}, "g": 0}',
    '[1, [2, [3, {"x": "y"}]], "z", 10.25]',
    '{"query": "s\\u00f8lar ecl\\nipse", "n": -0, "deep": {"deeper": {"deepest": []}}}',
]


class TestPartialJson:
    @pytest.mark.parametrize("doc", PARTIAL_DOCS)
    def test_matches_jiter_on_every_prefix(self, doc: str) -> None:
        """Every prefix of a document parses exactly as the SDK's jiter partial mode parses it."""
        jiter = pytest.importorskip("jiter")
        for i in range(1, len(doc) + 1):
            prefix = doc[:i]
            try:
                want = jiter.from_json(prefix.encode(), partial_mode=True)
            except ValueError:
                with pytest.raises(ValueError):
                    parse_partial_json(prefix)
                continue
            assert parse_partial_json(prefix) == want, prefix

    @settings(max_examples=60)
    @given(
        doc=st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6),
                      st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=6)),
            lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4),
            max_leaves=12,
        ).filter(lambda d: isinstance(d, dict)),
        frac=st.floats(0, 1),
    )
    def test_random_prefixes_match_jiter(self, doc: dict[str, Any], frac: float) -> None:
        """A random object cut at a random point parses as jiter's partial mode parses it."""
        jiter = pytest.importorskip("jiter")
        text = json.dumps(doc, ensure_ascii=False)
        prefix = text[: max(1, int(len(text) * frac))]
        assert parse_partial_json(prefix) == jiter.from_json(prefix.encode(), partial_mode=True)

    def test_complete_json_parses_whole(self) -> None:
        """Complete JSON parses to the same value as a full parser."""
        for doc in PARTIAL_DOCS:
            assert parse_partial_json(doc) == json.loads(doc)

    def test_invalid_json_raises(self) -> None:
        """Text that is not JSON even as a prefix raises ValueError."""
        for bad in ['{"a" 1}', "[1 2]", "{1: 2}", "", "   ", "nope", '{"a": 1} x']:
            with pytest.raises(ValueError):
                parse_partial_json(bad)


# --------------------------------------------------------------------------- events from responses


class TestEventsFromResponse:
    @pytest.mark.parametrize(("name", "body"), H.recorded_responses(), ids=[n for n, _ in H.recorded_responses()])
    def test_recorded_responses_round_trip(self, name: str, body: dict[str, Any]) -> None:
        """Every recorded response, streamed as events (and as SSE bytes), assembles back to itself."""
        resp = structure(body, m.Response)
        assert assemble(events_from_response(resp)) == resp
        assert assemble(events_from_response(resp, chunk_size=3)) == resp
        wire = H.to_sse(events_from_response(resp, chunk_size=7), newline="\r\n")
        assert assemble(iter_events([wire])) == resp

    @pytest.mark.parametrize("path", H.SSE_FILES, ids=_rel)
    def test_assembled_streams_round_trip(self, path: Path) -> None:
        """Each recorded stream's reply, turned back into events, assembles to the same reply."""
        resp = _assembled(path)
        assert assemble(events_from_response(resp, chunk_size=5)) == resp

    def test_events_are_shaped_like_the_api(self) -> None:
        """Text comes as text_delta, tool input as input_json_delta starting with an empty fragment."""
        resp = m.Response(id="msg_1", model="m", stop_reason="tool_use", stop_sequence=None,
                          content=(m.Text("ab"), m.ToolUse("t", "f", {"x": 1})),
                          usage=m.Usage(input_tokens=1, output_tokens=2))
        evs = events_from_response(resp)
        assert evs[0].data["message"]["content"] == []
        assert evs[0].data["message"]["stop_reason"] is None
        deltas = [ev.data["delta"] for ev in evs if ev.type == "content_block_delta"]
        assert deltas == [{"type": "text_delta", "text": "ab"},
                          {"type": "input_json_delta", "partial_json": ""},
                          {"type": "input_json_delta", "partial_json": '{"x":1}'}]
        assert evs[-2].data["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
        assert evs[-1].type == "message_stop"
