"""Tests for convo.rules: every rule id broken once (and a near-identical conversation that keeps
it), the per-model and per-API-version differences, the report, the README table, and runs over
the guide's examples and the recorded real-world requests."""

from __future__ import annotations

import base64
import re
import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from convo import codec
from convo._json import UNSET
from convo.errors import ValidationError
from convo.model import (
    Base64Source,
    ContentSource,
    Conversation,
    Document,
    Image,
    Message,
    RedactedThinking,
    SearchResult,
    ServerToolUse,
    Text,
    TextSource,
    Thinking,
    ToolResult,
    ToolUse,
    UnknownBlock,
    UnknownSource,
    WebSearchToolResult,
)
from convo.profiles import Profile, UnknownModelWarning, get_profile, load_profiles
from convo.rules import RULES, Report, Rule, Violation, check, rules_table_markdown, validate

REPO = Path(__file__).parents[1]
SHARED = REPO.parent / "shared"
OLD = "2023-06-01"
NEW = "2026-10-21"


# --------------------------------------------------------------------------- builders


def _msg(role: str, parts: tuple[Any, ...]) -> Message:
    if len(parts) == 1 and isinstance(parts[0], str):
        return Message(role, parts[0])
    return Message(role, tuple(Text(p) if isinstance(p, str) else p for p in parts))


def U(*parts: Any) -> Message:
    return _msg("user", parts)


def A(*parts: Any) -> Message:
    return _msg("assistant", parts)


def S(*parts: Any) -> Message:
    return _msg("system", parts)


def conv(*messages: Message, model: Any = "claude-sonnet-4-5", max_tokens: Any = 1024, **kw: Any) -> Conversation:
    return Conversation(model=model, max_tokens=max_tokens, messages=messages, **kw)


def png(w: int, h: int) -> Image:
    """An inline PNG whose header says w x h (enough for Image.size(); no pixels needed)."""
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return Image.from_bytes(head + bytes(4))


def png_data(w: int, h: int) -> str:
    src = png(w, h).source
    assert isinstance(src, Base64Source)
    return src.data


def b64_image(media_type: str, raw: bytes) -> Image:
    return Image(Base64Source(media_type, base64.b64encode(raw).decode()))


def url_image(k: int = 0) -> Image:
    return Image.from_url(f"https://example.com/{k}.png")


def cc(ttl: str | None = None) -> dict[str, str]:
    return {"type": "ephemeral"} if ttl is None else {"type": "ephemeral", "ttl": ttl}


def paths(report: Report, rule: str) -> list[str]:
    return [v.path for v in report.violations if v.rule == rule]


TOOL = {"name": "get_weather", "description": "weather", "input_schema": {"type": "object"}}
CITE = {"type": "char_location", "cited_text": "x", "document_index": 0, "document_title": None,
        "start_char_index": 0, "end_char_index": 1}
THINK_ON = {"type": "enabled", "budget_tokens": 1024}
JSON_FORMAT = {"format": {"type": "json_schema", "schema": {"type": "object"}}}


# --------------------------------------------------------------------------- one case per rule


@attrs.frozen
class Case:
    """A conversation that breaks *rule* at *path*, and a near-identical one that breaks nothing."""

    bad: Conversation
    path: str
    good: Conversation
    opts: dict[str, Any] = attrs.field(factory=dict)
    also: frozenset[str] = frozenset()  # other rules the bad conversation unavoidably breaks


def _many(n: int) -> tuple[Message, ...]:
    u, a = U("q"), A("a")
    return tuple(u if k % 2 == 0 else a for k in range(n))


def _cached_blocks(n: int) -> Message:
    return Message("user", tuple(Text(f"part {k}", cache_control=cc()) for k in range(n)))


def _big_png_data(chars: int) -> Image:
    head = png_data(10, 10)
    return Image(Base64Source("image/png", head + "A" * (chars - len(head))))


CASES: dict[str, Case] = {
    "request.model-missing": Case(
        bad=conv(U("Hi"), model=UNSET), path="$.model", good=conv(U("Hi"))),
    "request.max-tokens-missing": Case(
        bad=conv(U("Hi"), max_tokens=UNSET), path="$.max_tokens", good=conv(U("Hi"))),
    "request.max-tokens-range": Case(
        bad=conv(U("Hi"), max_tokens=64_001), path="$.max_tokens", good=conv(U("Hi"), max_tokens=64_000)),
    "messages.empty": Case(bad=conv(), path="$.messages", good=conv(U("Hi"))),
    "messages.too-many": Case(
        bad=conv(*_many(100_001)), path="$.messages", good=conv(*_many(99_999))),
    "message.role": Case(
        bad=conv(U("Hi"), A("Hello"), Message("developer", "more")), path="$.messages[2].role",
        good=conv(U("Hi"), A("Hello"), U("more"))),
    "messages.first-role": Case(
        bad=conv(A("Hello"), U("Hi")), path="$.messages[0].role", good=conv(U("Hello"), A("Hi"), U("ok"))),
    "message.empty-content": Case(
        bad=conv(U(""), A("Hello"), U("Hi")), path="$.messages[0].content",
        good=conv(U("x"), A("Hello"), U("Hi"))),
    "text.empty": Case(
        bad=conv(U(Text(""), Text("Hi"))), path="$.messages[0].content[0]", good=conv(U(Text("-"), Text("Hi")))),
    "text.whitespace-only": Case(
        bad=conv(U("Hi"), A(" \n"), U("ok")), path="$.messages[1].content",
        good=conv(U("Hi"), A(" \nx"), U("ok"))),
    "roles.consecutive": Case(
        bad=conv(U("Hi"), U("again")), path="$.messages[1]", good=conv(U("Hi"), A("yes"), U("again"))),
    "prefill.unsupported": Case(
        bad=conv(U("Hi"), A("The answer is ("), model="claude-opus-4-8"), path="$.messages[1]",
        good=conv(U("Hi"), A("The answer is ("), model="claude-sonnet-4-5")),
    "prefill.trailing-whitespace": Case(
        bad=conv(U("Hi"), A("The answer is ")), path="$.messages[1].content",
        good=conv(U("Hi"), A("The answer is"))),
    "prefill.with-thinking": Case(
        bad=conv(U("Hi"), A("{"), max_tokens=2048, thinking=THINK_ON), path="$.messages[1]",
        good=conv(U("Hi"), max_tokens=2048, thinking=THINK_ON)),
    "prefill.with-json-output": Case(
        bad=conv(U("Hi"), A("{"), output_config=JSON_FORMAT), path="$.messages[1]",
        good=conv(U("Hi"), output_config=JSON_FORMAT)),
    "system-message.unsupported-model": Case(
        bad=conv(U("Hi"), S("Be terse."), A("ok"), U("go"), model="claude-sonnet-5"), path="$.messages[1].role",
        good=conv(U("Hi"), S("Be terse."), A("ok"), U("go"), model="claude-opus-4-8")),
    "system-message.first": Case(
        bad=conv(S("Be terse."), A("ok"), U("go"), model="claude-opus-4-8"), path="$.messages[0]",
        good=conv(U("Hi"), S("Be terse."), A("ok"), U("go"), model="claude-opus-4-8"),
        also=frozenset({"messages.first-role"})),
    "system-message.not-after-user": Case(
        bad=conv(U("Hi"), A("ok"), S("Be terse."), A("sure"), U("go"), model="claude-opus-4-8"),
        path="$.messages[2]",
        good=conv(U("Hi"), A("ok"), U("more"), S("Be terse."), A("sure"), U("go"), model="claude-opus-4-8")),
    "system-message.followed-by-user": Case(
        bad=conv(U("Hi"), S("Be terse."), U("go"), model="claude-opus-4-8"), path="$.messages[1]",
        good=conv(U("Hi"), S("Be terse."), model="claude-opus-4-8")),
    "system-message.between-tool-use": Case(
        bad=conv(U("Hi"), A(ToolUse("toolu_1", "get_weather", {})), S("Be terse."),
                 U(ToolResult("toolu_1", content="sunny")), model="claude-opus-4-8", tools=[TOOL]),
        path="$.messages[2]",
        good=conv(U("Hi"), A(ToolUse("toolu_1", "get_weather", {})), U(ToolResult("toolu_1", content="sunny")),
                  S("Be terse."), model="claude-opus-4-8", tools=[TOOL])),
    "tool-use.missing-result": Case(
        bad=conv(U("Hi"), A("Checking.", ToolUse("toolu_1", "get_weather", {})), U("never mind"), tools=[TOOL]),
        path="$.messages[1].content[1]",
        good=conv(U("Hi"), A("Checking.", ToolUse("toolu_1", "get_weather", {})),
                  U(ToolResult("toolu_1", content="sunny")), tools=[TOOL])),
    "tool-result.orphan": Case(
        bad=conv(U("Hi"), A("Checking."), U(ToolResult("toolu_9", content="sunny")), tools=[TOOL]),
        path="$.messages[2].content[0]",
        good=conv(U("Hi"), A("Checking.", ToolUse("toolu_9", "get_weather", {})),
                  U(ToolResult("toolu_9", content="sunny")), tools=[TOOL])),
    "tool-result.not-first": Case(
        bad=conv(U("Hi"), A(ToolUse("toolu_1", "get_weather", {})),
                 U("Here:", ToolResult("toolu_1", content="sunny")), tools=[TOOL]),
        path="$.messages[2].content[1]",
        good=conv(U("Hi"), A(ToolUse("toolu_1", "get_weather", {})),
                  U(ToolResult("toolu_1", content="sunny"), "Here:"), tools=[TOOL])),
    "tool-use.duplicate-id": Case(
        bad=conv(U("Hi"), A(ToolUse("toolu_1", "get_weather", {})), U(ToolResult("toolu_1", content="a")),
                 A(ToolUse("toolu_1", "get_weather", {})), U(ToolResult("toolu_1", content="b")), tools=[TOOL]),
        path="$.messages[3].content[0]",
        good=conv(U("Hi"), A(ToolUse("toolu_1", "get_weather", {})), U(ToolResult("toolu_1", content="a")),
                  A(ToolUse("toolu_2", "get_weather", {})), U(ToolResult("toolu_2", content="b")), tools=[TOOL])),
    "tools.name": Case(
        bad=conv(U("Hi"), tools=[{**TOOL, "name": "get weather"}]), path="$.tools[0].name",
        good=conv(U("Hi"), tools=[{**TOOL, "name": "get_weather"}])),
    "sampling.unsupported": Case(
        bad=conv(U("Hi"), model="claude-opus-4-8", temperature=0.5), path="$.temperature",
        good=conv(U("Hi"), model="claude-opus-4-8", temperature=1.0), opts={"api_version": OLD}),
    "sampling.removed": Case(
        bad=conv(U("Hi"), temperature=0.5), path="$.temperature", good=conv(U("Hi"))),
    "sampling.range": Case(
        bad=conv(U("Hi"), temperature=1.5), path="$.temperature", good=conv(U("Hi"), temperature=1.0),
        opts={"api_version": OLD}),
    "sampling.with-thinking": Case(
        bad=conv(U("Hi"), max_tokens=2048, thinking=THINK_ON, temperature=0.5), path="$.temperature",
        good=conv(U("Hi"), max_tokens=2048, thinking=THINK_ON, temperature=1), opts={"api_version": OLD}),
    "thinking.unsupported-mode": Case(
        bad=conv(U("Hi"), model="claude-opus-4-8", max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048}),
        path="$.thinking.type",
        good=conv(U("Hi"), model="claude-opus-4-8", max_tokens=4096, thinking={"type": "adaptive"})),
    "thinking.budget": Case(
        bad=conv(U("Hi"), max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 1023}),
        path="$.thinking.budget_tokens",
        good=conv(U("Hi"), max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 1024})),
    "tool-choice.forced-unsupported": Case(
        bad=conv(U("Hi"), model="claude-opus-5-5", tools=[TOOL], tool_choice={"type": "any"}),
        path="$.tool_choice.type",
        good=conv(U("Hi"), model="claude-opus-5-5", tools=[TOOL], tool_choice={"type": "auto"})),
    "effort.unsupported": Case(
        bad=conv(U("Hi"), model="claude-opus-4-6", output_config={"effort": "xhigh"}), path="$.output_config.effort",
        good=conv(U("Hi"), model="claude-opus-4-6", output_config={"effort": "max"})),
    "image.media-type": Case(
        bad=conv(U(Image(Base64Source("image/bmp", png_data(4, 4))), "What is this?")),
        path="$.messages[0].content[0].source.media_type",
        good=conv(U(png(4, 4), "What is this?"))),
    "image.too-many": Case(
        bad=conv(U(*[url_image(k) for k in range(101)], "Compare them.")), path="$.messages[0].content[100]",
        good=conv(U(*[url_image(k) for k in range(100)], "Compare them."))),
    "image.too-large": Case(
        bad=conv(U(_big_png_data(10 * 1024 * 1024 + 4), "What is this?")),
        path="$.messages[0].content[0].source.data",
        good=conv(U(_big_png_data(10 * 1024 * 1024), "What is this?"))),
    "image.dimensions": Case(
        bad=conv(U(png(8001, 600), "What is this?")), path="$.messages[0].content[0]",
        good=conv(U(png(8000, 600), "What is this?"))),
    "cache-control.too-many": Case(
        bad=conv(_cached_blocks(5)), path="$.messages[0].content[4]", good=conv(_cached_blocks(4))),
    "cache-control.ttl-order": Case(
        bad=conv(U(Text("doc", cache_control=cc("1h")), "Hi"), system=(Text("rules", cache_control=cc("5m")),)),
        path="$.messages[0].content[0]",
        good=conv(U(Text("doc", cache_control=cc("5m")), "Hi"), system=(Text("rules", cache_control=cc("1h")),))),
    "document.in-assistant": Case(
        bad=conv(U("Hi"), A(Document(TextSource("notes")), "Read it."), U("ok")), path="$.messages[1].content[0]",
        good=conv(U("Hi"), A(Document(TextSource("notes")), "Read it."), U("ok")), opts={"good_api": OLD}),
    "citations.in-user": Case(
        bad=conv(U(Text("as cited", citations=(CITE,)))), path="$.messages[0].content[0]",
        good=conv(U(Text("as cited", citations=()))),
    ),
    "model.unknown": Case(bad=conv(U("Hi"), model="claude-next-9"), path="$.model", good=conv(U("Hi"))),
    # issue 12: the closed world (schema.*) and the API's checks of names, ids and bytes
    "schema.unknown-key": Case(
        bad=conv(U("Hi"), extra={"stop_sequence": ["END"]}), path="$.stop_sequence",
        good=conv(U("Hi"), stop_sequences=("END",))),
    "schema.beta-only": Case(
        bad=conv(U("Hi"), extra={"context_management": {"edits": []}}), path="$.context_management",
        good=conv(U("Hi"), extra={"context_management": {"edits": []}}),
        opts={"good_betas": ("context-management-2025-06-27",)}),
    "schema.unknown-type": Case(
        bad=conv(U("Hi"), tool_choice={"type": "anyone"}), path="$.tool_choice",
        good=conv(U("Hi"), tool_choice={"type": "any"})),
    "schema.wrong-type": Case(
        bad=conv(U("Hi"), metadata={"user_id": 7}), path="$.metadata.user_id",
        good=conv(U("Hi"), metadata={"user_id": "7"})),
    "schema.missing-key": Case(
        bad=conv(U("Hi"), tools=[{"name": "t"}]), path="$.tools[0].input_schema",
        good=conv(U("Hi"), tools=[{"name": "t", "input_schema": {"type": "object"}}])),
    "tools.duplicate-name": Case(
        bad=conv(U("Hi"), tools=[TOOL, TOOL]), path="$.tools[1].name",
        good=conv(U("Hi"), tools=[TOOL, {**TOOL, "name": "get_time"}])),
    "tool-choice.unknown-tool": Case(
        bad=conv(U("Hi"), tools=[TOOL], tool_choice={"type": "tool", "name": "nope"}),
        path="$.tool_choice.name",
        good=conv(U("Hi"), tools=[TOOL], tool_choice={"type": "tool", "name": "get_weather"})),
    "document.media-type": Case(
        bad=conv(U(Document(Base64Source("application/pdf", png_data(4, 4))), "Read it.")),
        path="$.messages[0].content[0].source.media_type",
        good=conv(U(Document(Base64Source("application/pdf", base64.b64encode(b"%PDF-1.4 x" * 4).decode())),
                    "Read it."))),
    "base64.invalid": Case(
        bad=conv(U(Image(Base64Source("image/png", png_data(4, 4)[:-2] + "!!")), "What is this?")),
        path="$.messages[0].content[0].source.data",
        good=conv(U(png(4, 4), "What is this?"))),
}


def _validate(c: Conversation, **opts: Any) -> Report:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownModelWarning)
        return validate(c, **opts)


class TestEveryRule:
    def test_cases_cover_every_rule(self) -> None:
        """There is a breaking case for every rule id in RULES, and no case for an unknown id."""
        assert set(CASES) == set(RULES)

    @pytest.mark.parametrize("rule", list(CASES))
    def test_bad_conversation_breaks_the_rule_at_the_path(self, rule: str) -> None:
        """The breaking conversation reports the rule at its exact path, and no other error."""
        case = CASES[rule]
        opts = {k: v for k, v in case.opts.items() if k not in ("good_api", "good_betas")}
        report = _validate(case.bad, **opts)
        assert case.path in paths(report, rule), str(report)
        others = {v.rule for v in report.violations} - {rule} - case.also
        assert others == set(), str(report)
        assert all(v.severity == RULES[v.rule].severity for v in report.violations)

    @pytest.mark.parametrize("rule", list(CASES))
    def test_near_identical_conversation_is_clean(self, rule: str) -> None:
        """The near-identical conversation breaks nothing at all (no error, no warning)."""
        case = CASES[rule]
        opts = {k: v for k, v in case.opts.items() if k not in ("good_api", "good_betas")}
        if "good_api" in case.opts:
            opts["api_version"] = case.opts["good_api"]
        if "good_betas" in case.opts:
            opts["betas"] = case.opts["good_betas"]
        report = _validate(case.good, **opts)
        assert report.violations == (), str(report)


# --------------------------------------------------------------------------- rule details


class TestRequest:
    def test_zero_max_tokens_is_a_cache_prewarm(self) -> None:
        """max_tokens 0 is allowed (it pre-warms the cache)."""
        assert validate(conv(U("Hi"), max_tokens=0)).ok

    def test_negative_max_tokens(self) -> None:
        """A negative max_tokens is out of range."""
        assert paths(validate(conv(U("Hi"), max_tokens=-1)), "request.max-tokens-range") == ["$.max_tokens"]

    def test_max_tokens_limit_follows_the_model(self) -> None:
        """100,000 output tokens fit claude-opus-4-8 (128K) but not claude-sonnet-4-6 (64K)."""
        assert validate(conv(U("Hi"), max_tokens=100_000, model="claude-opus-4-8")).ok
        bad = validate(conv(U("Hi"), max_tokens=100_000, model="claude-sonnet-4-6"))
        assert bad.rules == ("request.max-tokens-range",)

    def test_non_integer_max_tokens(self) -> None:
        """A max_tokens that is not an integer is reported, not crashed on."""
        report = validate(conv(U("Hi"), max_tokens="1024"))
        assert paths(report, "request.max-tokens-range") == ["$.max_tokens"]

    def test_empty_model_string(self) -> None:
        """An empty model string counts as missing, with no unknown-model warning."""
        report = validate(conv(U("Hi"), model=""))
        assert report.rules == ("request.model-missing",)

    def test_absent_messages(self) -> None:
        """A request decoded without a messages key reports messages.empty."""
        c = codec.loads(b'{"model": "claude-opus-4-8", "max_tokens": 16}')
        assert paths(validate(c), "messages.empty") == ["$.messages"]

    def test_tools_name_applies_to_custom_tools_only(self) -> None:
        """Server tools (with a versioned type) are not held to the client tool-name pattern."""
        server = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
        odd = {"type": "computer_toolset_20260801", "name": "computer use"}
        custom = {"type": "custom", "name": "x" * 129, "input_schema": {"type": "object"}}
        report = validate(conv(U("Hi"), tools=[server, odd, custom, "not a tool"]))
        assert paths(report, "tools.name") == ["$.tools[2].name"]

    def test_tool_name_missing(self) -> None:
        """A client tool without a name breaks tools.name."""
        report = validate(conv(U("Hi"), tools=[{"input_schema": {"type": "object"}}]))
        assert paths(report, "tools.name") == ["$.tools[0].name"]


class TestMessages:
    def test_final_assistant_may_be_empty(self) -> None:
        """Empty content is allowed on the final assistant message only."""
        assert "message.empty-content" not in validate(conv(U("Hi"), A(""))).rules
        report = validate(conv(U("Hi"), Message("assistant", ()), U("ok")))
        assert paths(report, "message.empty-content") == ["$.messages[1].content"]

    def test_whitespace_next_to_real_text_is_fine(self) -> None:
        """A whitespace-only block beside real text is accepted; alone it is not."""
        assert validate(conv(U(Text("\n\n"), Text("Hi")))).ok
        report = validate(conv(U(Text("\n\n"), Text(" "))))
        assert paths(report, "text.whitespace-only") == ["$.messages[0].content[0]"]

    def test_whitespace_only_with_an_image(self) -> None:
        """A message whose only text is whitespace is reported even when it also has an image."""
        report = validate(conv(U(url_image(), " ")))
        assert paths(report, "text.whitespace-only") == ["$.messages[0].content[1]"]

    def test_empty_text_in_system_and_nested(self) -> None:
        """Empty text blocks are found in the system field and inside tool results."""
        c = conv(U("Hi"), A(ToolUse("t1", "get_weather", {})), U(ToolResult("t1", content=(Text(""),))),
                 system=(Text(""),), tools=[TOOL])
        assert paths(validate(c), "text.empty") == ["$.system[0]", "$.messages[2].content[0].content[0]"]

    def test_consecutive_assistant_turns(self) -> None:
        """Two assistant turns in a row are a warning, not an error."""
        report = validate(conv(U("Hi"), A("a"), A("b"), U("c")))
        assert paths(report, "roles.consecutive") == ["$.messages[2]"]
        assert report.ok

    def test_invalid_role_is_not_also_first_role(self) -> None:
        """A bad role at the start reports message.role, not also messages.first-role."""
        report = validate(conv(Message("human", "Hi"), A("ok"), U("x")))
        assert "message.role" in report.rules and "messages.first-role" not in report.rules

    def test_thinking_blocks_round_trip(self) -> None:
        """An assistant turn with thinking and redacted thinking blocks is fine."""
        c = conv(U("Hi"), A(Thinking("hmm", "sig"), RedactedThinking("xyz"), "Hello"), U("more"),
                 max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048})
        assert validate(c).violations == ()


class TestPrefill:
    def test_prefill_on_sonnet_4_5_is_fine(self) -> None:
        """claude-sonnet-4-5 accepts a prefill (the guide's multiple-choice example)."""
        c = conv(U("What is latin for Ant? (A) Apoidea, (B) Rhopalocera, (C) Formicidae"),
                 A("The answer is ("), max_tokens=1)
        assert validate(c).violations == ()

    def test_prefill_on_opus_4_8_is_an_error(self) -> None:
        """claude-opus-4-8 rejects a prefill."""
        c = conv(U("Which?"), A("The answer is ("), model="claude-opus-4-8", max_tokens=1)
        assert validate(c).errors[0].rule == "prefill.unsupported"

    @pytest.mark.parametrize("model", ["claude-fable-5", "claude-mythos-5", "claude-mythos-preview",
                                       "claude-opus-4-8", "claude-opus-4-7", "claude-opus-4-6",
                                       "claude-sonnet-4-6", "claude-sonnet-5", "claude-opus-5",
                                       "claude-opus-5-5", "claude-fable-5-1", "claude-mythos-5-1"])
    def test_models_that_reject_prefill(self, model: str) -> None:
        """Every model of the guide's no-prefill list reports prefill.unsupported."""
        assert "prefill.unsupported" in validate(conv(U("Hi"), A("{"), model=model)).rules

    @pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5",
                                       "claude-haiku-4-5-20251001"])
    def test_models_that_accept_prefill(self, model: str) -> None:
        """The 4.5 models accept a prefill."""
        assert validate(conv(U("Hi"), A("{"), model=model)).ok

    def test_trailing_whitespace_in_last_block(self) -> None:
        """Trailing whitespace is checked on the last text block of the final assistant turn."""
        report = validate(conv(U("Hi"), A("Sure", "the answer:\n")))
        assert paths(report, "prefill.trailing-whitespace") == ["$.messages[1].content[1]"]

    def test_paused_turn_is_not_a_prefill(self) -> None:
        """An assistant turn ending in a server tool result (pause_turn) is sent back, not a prefill."""
        paused = A("Searching.", ServerToolUse("srvtoolu_1", "web_search", {"query": "x"}),
                   WebSearchToolResult("srvtoolu_1", content=()))
        assert validate(conv(U("Find x"), paused, model="claude-opus-4-8")).ok

    def test_legacy_output_format_counts_as_json_output(self) -> None:
        """The legacy output_format field blocks a prefill like output_config.format."""
        c = conv(U("Hi"), A("{"), extra={"output_format": {"type": "json_schema", "schema": {}}})
        assert validate(c, betas=["structured-outputs-2025-11-13"]).rules == ("prefill.with-json-output",)
        # issue 12: without its beta header the API refuses the legacy field itself (SPEC)
        assert validate(c).rules == ("schema.beta-only", "prefill.with-json-output")

    def test_adaptive_thinking_blocks_prefill(self) -> None:
        """Adaptive thinking is thinking on: a prefill with it is an error."""
        c = conv(U("Hi"), A("{"), model="claude-opus-4-6", thinking={"type": "adaptive"})
        assert "prefill.with-thinking" in validate(c).rules


class TestMidConversationSystem:
    def test_opus_4_8_accepts_sonnet_5_does_not(self) -> None:
        """The same mid-conversation system message is fine on opus-4-8 and an error on sonnet-5."""
        msgs = (U("Hi"), A("Hello"), U("Now"), S("Answer in French."))
        assert validate(conv(*msgs, model="claude-opus-4-8")).ok
        assert validate(conv(*msgs, model="claude-sonnet-5")).rules == ("system-message.unsupported-model",)

    def test_after_tool_results(self) -> None:
        """A system message right after a tool-result user turn is placed correctly."""
        c = conv(U("Hi"), A(ToolUse("t1", "get_weather", {})), U(ToolResult("t1", content="sun")),
                 S("Be terse."), A("It is sunny."), U("thanks"), model="claude-opus-4-8", tools=[TOOL])
        assert validate(c).violations == ()

    def test_after_a_paused_server_tool_turn(self) -> None:
        """An assistant turn ending in a server tool result may be followed by a system message."""
        paused = A(ServerToolUse("srvtoolu_1", "web_search", {"query": "x"}), WebSearchToolResult("srvtoolu_1", content=()))
        c = conv(U("Find x"), paused, S("Cite sources."), A("Found it."), U("ok"), model="claude-opus-4-8")
        assert validate(c).violations == ()

    def test_unknown_server_result_type_counts(self) -> None:
        """A server tool result of a type convo does not know still ends a paused turn."""
        paused = A(UnknownBlock("mcp_tool_result", extra={"tool_use_id": "x", "content": []}))
        c = conv(U("Go"), paused, S("Be brief."), A("ok"), U("y"), model="claude-opus-4-8")
        assert "system-message.not-after-user" not in validate(c).rules

    def test_consecutive_system_messages_form_one_section(self) -> None:
        """Two system messages in a row are one section, checked as a whole."""
        c = conv(U("Hi"), S("One."), S("Two."), A("ok"), U("go"), model="claude-opus-4-8")
        assert validate(c).violations == ()
        bad = validate(conv(U("Hi"), S("One."), S("Two."), U("go"), model="claude-opus-4-8"))
        assert paths(bad, "system-message.followed-by-user") == ["$.messages[1]"]

    def test_effort_only_system_message_goes_anywhere(self) -> None:
        """An effort-only system message (empty content + output_config) is accepted even first."""
        effort_only = Message("system", (), extra={"output_config": {"effort": "low"}})
        c = conv(effort_only, U("Hi"), model="claude-opus-4-8")
        assert validate(c, betas=["mid-conversation-output-config-2026-07-01"]).violations == ()
        # issue 12: a message's output_config exists only under its beta header (SPEC)
        assert validate(c).rules == ("schema.beta-only",)

    def test_per_message_effort_is_checked(self) -> None:
        """An effort level the model lacks is reported on a system message's output_config too."""
        effort_only = Message("system", (), extra={"output_config": {"effort": "xhigh"}})
        report = validate(conv(U("Hi"), effort_only, model="claude-mythos-preview"))
        assert paths(report, "effort.unsupported") == ["$.messages[1].output_config.effort"]

    def test_system_last_after_assistant(self) -> None:
        """A system message at the end after an assistant turn breaks only not-after-user."""
        report = validate(conv(U("Hi"), A("ok"), S("More."), model="claude-opus-4-8"))
        assert report.rules == ("system-message.not-after-user",)


class TestToolPairing:
    def test_parallel_tool_uses_all_answered(self) -> None:
        """Two tool_use blocks answered in the next user turn are fine."""
        c = conv(U("Hi"), A(ToolUse("a", "get_weather", {}), ToolUse("b", "get_weather", {})),
                 U(ToolResult("b", content="1"), ToolResult("a", content="2"), "thanks"), tools=[TOOL])
        assert validate(c).violations == ()

    def test_one_of_two_unanswered(self) -> None:
        """Only the unanswered tool_use is reported."""
        c = conv(U("Hi"), A(ToolUse("a", "get_weather", {}), ToolUse("b", "get_weather", {})),
                 U(ToolResult("a", content="2")), tools=[TOOL])
        assert paths(validate(c), "tool-use.missing-result") == ["$.messages[1].content[1]"]

    def test_tool_use_at_the_end(self) -> None:
        """A final assistant tool_use has no result: missing-result."""
        report = validate(conv(U("Hi"), A(ToolUse("a", "get_weather", {})), tools=[TOOL]))
        assert paths(report, "tool-use.missing-result") == ["$.messages[1].content[0]"]

    def test_result_two_turns_later_is_orphan(self) -> None:
        """A tool_result must answer the immediately preceding assistant turn."""
        c = conv(U("Hi"), A(ToolUse("a", "get_weather", {})), U("wait"), A("ok"),
                 U(ToolResult("a", content="late")), tools=[TOOL])
        report = validate(c)
        assert paths(report, "tool-use.missing-result") == ["$.messages[1].content[0]"]
        assert paths(report, "tool-result.orphan") == ["$.messages[4].content[0]"]

    def test_nested_images_in_tool_results_count(self) -> None:
        """Images inside tool_result content count toward the model's image limit."""
        results = tuple(ToolResult(f"t{k}", content=(url_image(k),)) for k in range(101))
        uses = tuple(ToolUse(f"t{k}", "get_weather", {}) for k in range(101))
        report = validate(conv(U("Hi"), A(*uses), U(*results), tools=[TOOL]))
        assert paths(report, "image.too-many") == ["$.messages[2].content[100].content[0]"]


class TestSampling:
    def test_any_sampling_param_is_removed_in_2026_10_21(self) -> None:
        """Under 2026-10-21 every sampling field present is a 400, even at its default, on any model."""
        c = conv(U("Hi"), temperature=1.0, top_p=None, top_k=5)
        assert paths(validate(c), "sampling.removed") == ["$.temperature", "$.top_p", "$.top_k"]

    def test_same_transcript_valid_under_2023_06_01(self) -> None:
        """A sonnet-4-5 transcript with temperature 0.2 is valid under 2023-06-01."""
        c = conv(U("Hi"), temperature=0.2, top_k=40)
        assert validate(c, api_version=OLD).violations == ()
        assert not validate(c, api_version=NEW).ok

    def test_default_only_models(self) -> None:
        """opus-4-8 takes temperature 1.0 and top_p >= 0.99 but no top_k at all."""
        ok = conv(U("Hi"), model="claude-opus-4-8", temperature=1.0, top_p=0.99)
        assert validate(ok, api_version=OLD).ok
        bad = conv(U("Hi"), model="claude-opus-4-8", top_p=0.9, top_k=1)
        assert paths(validate(bad, api_version=OLD), "sampling.unsupported") == ["$.top_p", "$.top_k"]

    def test_range_checks(self) -> None:
        """top_p above 1 and negative top_k are out of range; NaN is no number."""
        report = validate(conv(U("Hi"), top_p=1.5, top_k=-1, temperature=float("nan")), api_version=OLD)
        assert paths(report, "sampling.range") == ["$.temperature", "$.top_p", "$.top_k"]

    def test_null_sampling_is_default_under_2023(self) -> None:
        """A JSON null sampling field is the default under 2023-06-01."""
        assert validate(conv(U("Hi"), model="claude-opus-4-8", temperature=None), api_version=OLD).ok

    def test_sampling_with_thinking_top_p(self) -> None:
        """With thinking on, top_p must be 0.95..1 and top_k absent."""
        c = conv(U("Hi"), max_tokens=4096, thinking=THINK_ON, top_p=0.95)
        assert validate(c, api_version=OLD).ok
        c2 = attrs.evolve(c, top_p=0.9, top_k=3)
        assert paths(validate(c2, api_version=OLD), "sampling.with-thinking") == ["$.top_p", "$.top_k"]


class TestThinkingAndTools:
    @pytest.mark.parametrize(("model", "mode", "ok"), [
        ("claude-sonnet-4-5", "adaptive", False),
        ("claude-sonnet-4-5", "disabled", True),
        ("claude-opus-4-6", "adaptive", True),
        ("claude-opus-4-7", "enabled", False),
        ("claude-opus-4-8", "disabled", True),
        ("claude-opus-5-5", "disabled", False),
        ("claude-mythos-preview", "enabled", True),
        ("claude-mythos-preview", "disabled", False),
        ("claude-fable-5-1", "adaptive", True),
    ])
    def test_thinking_modes_per_model(self, model: str, mode: str, ok: bool) -> None:
        """Each model accepts exactly the thinking types of facts §2.5."""
        thinking = {"type": mode, "budget_tokens": 2048} if mode == "enabled" else {"type": mode}
        report = validate(conv(U("Hi"), model=model, max_tokens=4096, thinking=thinking))
        assert ("thinking.unsupported-mode" not in report.rules) is ok

    def test_opus_5_cannot_disable_thinking_at_max_effort(self) -> None:
        """Opus 5 rejects thinking disabled only at xhigh or max effort."""
        base = conv(U("Hi"), model="claude-opus-5", thinking={"type": "disabled"})
        assert validate(base).ok
        bad = attrs.evolve(base, output_config={"effort": "max"})
        assert paths(validate(bad), "thinking.unsupported-mode") == ["$.thinking.type"]

    def test_unknown_thinking_type(self) -> None:
        """A thinking type that is none of the three is reported."""
        report = validate(conv(U("Hi"), thinking={"type": "deep"}))
        assert paths(report, "thinking.unsupported-mode") == ["$.thinking.type"]

    def test_budget_rules(self) -> None:
        """budget_tokens is required, at least 1024 and below max_tokens (unless interleaved)."""
        assert paths(validate(conv(U("Hi"), thinking={"type": "enabled"})), "thinking.budget") == ["$.thinking"]
        over = conv(U("Hi"), max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 2048})
        assert paths(validate(over), "thinking.budget") == ["$.thinking.budget_tokens"]
        interleaved = attrs.evolve(over, extra={"betas": ["interleaved-thinking-2025-05-14"]})
        # a `betas` key in the body is the SDK's option, not an API key: the API refuses it
        assert validate(interleaved).rules == ("schema.unknown-key",)
        assert validate(over, betas=["interleaved-thinking-2025-05-14"]).ok

    def test_forced_tool_choice_with_thinking(self) -> None:
        """tool_choice any/tool is refused while thinking is on, even where the model allows forcing."""
        c = conv(U("Hi"), max_tokens=4096, thinking=THINK_ON, tools=[TOOL],
                 tool_choice={"type": "tool", "name": "get_weather"})
        assert paths(validate(c), "tool-choice.forced-unsupported") == ["$.tool_choice.type"]
        assert validate(attrs.evolve(c, thinking={"type": "disabled"})).ok

    def test_effort_on_a_model_without_effort(self) -> None:
        """claude-sonnet-4-5 has no effort levels: any effort is reported."""
        report = validate(conv(U("Hi"), output_config={"effort": "high"}))
        assert report.errors[0].message == "claude-sonnet-4-5 does not accept an effort level"


class TestImages:
    def test_magic_number_disagrees(self) -> None:
        """A PNG declared as image/jpeg is reported on its media_type."""
        img = Image(Base64Source("image/jpeg", png_data(4, 4)))
        report = validate(conv(U(img, "What?")))
        assert paths(report, "image.media-type") == ["$.messages[0].content[0].source.media_type"]
        assert "image/png" in report.errors[0].message

    def test_non_image_bytes(self) -> None:
        """Bytes that are no image at all, declared image/png, are reported."""
        report = validate(conv(U(b64_image("image/png", b"%PDF-1.7 not an image at all"), "What?")))
        assert paths(report, "image.media-type") == ["$.messages[0].content[0].source.media_type"]

    def test_placeholder_data_is_not_judged(self) -> None:
        """Data that is not base64 (a placeholder) is not guessed at as an image; it is invalid
        base64, which the API refuses (issue 12: the spec's ``format: byte``)."""
        img = Image(Base64Source("image/jpeg", "<base64 of a JPEG>"))
        assert validate(conv(U(img, "What?"))).rules == ("base64.invalid",)

    def test_many_image_limit(self) -> None:
        """Over 20 images, each must be at most 2000 px; at 20, 8000 px is fine."""
        twenty = [png(2001, 10)] + [url_image(k) for k in range(19)]
        assert validate(conv(U(*twenty, "Compare."))).ok
        report = validate(conv(U(*twenty, url_image(99), "Compare.")))
        assert paths(report, "image.dimensions") == ["$.messages[0].content[0]"]

    def test_image_limit_600_on_1m_models(self) -> None:
        """A 1M-context model takes 600 images, a 200K one 100."""
        imgs = [url_image(k) for k in range(150)]
        assert validate(conv(U(*imgs, "Hi"), model="claude-opus-4-8")).ok
        assert "image.too-many" in validate(conv(U(*imgs, "Hi"), model="claude-haiku-4-5")).rules

    def test_images_in_documents_count(self) -> None:
        """Images inside a custom-content document are checked too."""
        doc = Document(ContentSource((Image(Base64Source("image/tiff", "AAAA")),)))
        report = validate(conv(U(doc, "Summarise.")))
        assert paths(report, "image.media-type") == ["$.messages[0].content[0].source.content[0].source.media_type"]


class TestCacheControl:
    def test_top_level_counts_as_a_breakpoint(self) -> None:
        """Four explicit breakpoints plus the top-level cache_control is one too many."""
        c = conv(_cached_blocks(4), cache_control=cc())
        assert paths(validate(c), "cache-control.too-many") == ["$.cache_control"]
        assert validate(conv(_cached_blocks(3), cache_control=cc())).ok

    def test_prefix_order_tools_system_messages(self) -> None:
        """Breakpoints on tools, then system, then messages are counted in that order."""
        c = conv(_cached_blocks(2), tools=[{**TOOL, "cache_control": cc()}, {**TOOL, "name": "b", "cache_control": cc()}],
                 system=(Text("rules", cache_control=cc()),))
        assert paths(validate(c), "cache-control.too-many") == ["$.messages[0].content[1]"]

    def test_1h_tool_before_5m_message_is_fine(self) -> None:
        """A 1h breakpoint on a tool before a 5m one on a message keeps the order."""
        c = conv(U(Text("x", cache_control=cc())), tools=[{**TOOL, "cache_control": cc("1h")}])
        assert validate(c).ok

    def test_1h_top_level_after_5m(self) -> None:
        """Automatic caching sits on the last block, so a 1h top-level after a 5m block is out of order."""
        c = conv(U(Text("x", cache_control=cc())), cache_control=cc("1h"))
        assert paths(validate(c), "cache-control.ttl-order") == ["$.cache_control"]

    def test_null_cache_control_is_no_breakpoint(self) -> None:
        """A null cache_control does not count."""
        c = conv(Message("user", tuple(Text(f"p{k}", cache_control=None) for k in range(6))))
        assert validate(c).ok


class TestApiVersion:
    def test_unknown_version_raises(self) -> None:
        """An api_version convo does not know is a ValueError."""
        with pytest.raises(ValueError, match="2024-01-01"):
            validate(conv(U("Hi")), api_version="2024-01-01")

    def test_citations_inside_search_result_and_tool_result(self) -> None:
        """Cited user text is found inside search results and tool results under 2026-10-21."""
        sr = SearchResult("https://x", "X", (Text("cited", citations=(CITE,)),))
        c = conv(U("Hi"), A(ToolUse("t", "get_weather", {})),
                 U(ToolResult("t", content=(Text("r", citations=(CITE,)),)), sr), tools=[TOOL])
        report = validate(c)
        assert paths(report, "citations.in-user") == ["$.messages[2].content[0].content[0]",
                                                      "$.messages[2].content[1].content[0]"]
        assert validate(c, api_version=OLD).ok

    def test_citations_in_assistant_text_are_fine(self) -> None:
        """Cited text in an assistant turn (a reply sent back) is fine under 2026-10-21."""
        assert validate(conv(U("Hi"), A(Text("cited", citations=(CITE,))), U("ok"))).ok


class TestProfilesArgument:
    def test_profile_as_model_id(self) -> None:
        """profile= may be a model id: the conversation is checked as that model."""
        c = conv(U("Hi"), A("("))
        assert validate(c).ok
        assert validate(c, profile="claude-opus-4-8").rules == ("prefill.unsupported",)

    def test_profile_object(self) -> None:
        """profile= may be a Profile, used as it is."""
        strict = Profile(model="strict", prefill=False)
        assert validate(conv(U("Hi"), A("(")), profile=strict).rules == ("prefill.unsupported",)

    def test_registry_argument(self) -> None:
        """registry= supplies the profiles for the conversation's model."""
        reg = load_profiles({"models": {"acme-1": {"extends": "claude-opus-4-8"}}})
        report = validate(conv(U("Hi"), A("("), model="acme-1"), registry=reg)
        assert report.rules == ("prefill.unsupported",)

    def test_unknown_model_warns_and_validates(self) -> None:
        """An unknown model gives a model.unknown warning and a Python warning, never an exception."""
        c = conv(U("Hi"), A("("), model="claude-opus-9-9", temperature=0.3)
        with pytest.warns(UnknownModelWarning, match="claude-opus-9-9"):
            report = validate(c, api_version=OLD)
        assert report.ok and report.rules == ("model.unknown",)
        assert report.warnings[0].path == "$.model"

    def test_unknown_profile_object_is_reported(self) -> None:
        """A Profile with known=False passed in is reported as an unknown model."""
        assert validate(conv(U("Hi")), profile=get_profile("")).rules == ("model.unknown",)


class TestReport:
    def test_report_views(self) -> None:
        """errors, warnings, rules, len and iteration agree with the violations."""
        r = validate(conv(A("x"), A("y"), U(""), model="claude-opus-4-8"))
        assert [v.severity for v in r.errors] == ["error"] * len(r.errors)
        assert {v.rule for v in r.warnings} == {"messages.first-role", "roles.consecutive"}
        assert len(r) == len(list(r)) == len(r.errors) + len(r.warnings)
        assert r.rules == tuple(dict.fromkeys(v.rule for v in r))

    def test_violation_carries_rule_metadata(self) -> None:
        """Each violation has its rule's hint and source."""
        v = validate(conv(U("Hi"), A("x "))).violations[0]
        assert (v.hint, v.source) == (RULES[v.rule].hint, "OBS")

    def test_str_and_json(self) -> None:
        """str() lists one line per violation; to_json() round-trips through orjson."""
        r = validate(conv(U("Hi"), U("")))
        text = str(r)
        assert len(text.splitlines()) == len(r)
        assert "message.empty-content at $.messages[1].content" in text
        data = orjson.loads(orjson.dumps(r.to_json()))
        assert data["ok"] is False
        assert {"rule", "severity", "path", "message", "hint", "source"} == set(data["violations"][0])
        assert str(Report()) == "ok"

    def test_check_raises_with_the_report(self) -> None:
        """check() raises ValidationError carrying the report, and returns None when valid."""
        assert check(conv(U("Hi"))) is None
        with pytest.raises(ValidationError) as info:
            check(conv(U("Hi"), A("(")), profile="claude-opus-4-8")
        assert info.value.report.rules == ("prefill.unsupported",)

    def test_check_ignores_warnings(self) -> None:
        """Warnings alone do not make check() raise."""
        assert check(conv(U("a"), U("b"))) is None

    def test_violation_is_frozen(self) -> None:
        """Violations and reports are immutable values."""
        v = Violation("x", "error", "$", "m")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            v.rule = "y"  # type: ignore[misc]


class TestRulesRegistry:
    def test_every_rule_is_documented(self) -> None:
        """Every rule has an id matching its key, a severity, a known source, a description and a hint."""
        for key, rule in RULES.items():
            assert isinstance(rule, Rule) and rule.id == key
            assert re.fullmatch(r"[a-z0-9-]+\.[a-z0-9-]+", key)
            assert rule.severity in ("error", "warning")
            assert set(rule.source.split(", ")) <= {"DOC", "SDK", "SPEC", "OBS", "LIVE", "UNCONFIRMED"}
            assert rule.description and rule.hint

    def test_observed_rules_say_so(self) -> None:
        """Rules from observed behaviour are tagged OBS and say so in their description."""
        obs = {k for k, r in RULES.items() if r.source == "OBS"}
        assert obs == {"message.empty-content", "text.empty", "text.whitespace-only", "prefill.trailing-whitespace",
                       "tools.name", "tools.duplicate-name", "tool-choice.unknown-tool"}
        for k in obs:
            assert "observed" in RULES[k].description.lower()

    def test_unconfirmed_rules_are_warnings(self) -> None:
        """A rule with no firm source is only a warning."""
        for rule in RULES.values():
            if rule.source == "UNCONFIRMED":
                assert rule.severity == "warning"

    def test_rules_is_read_only(self) -> None:
        """RULES cannot be changed by accident."""
        with pytest.raises(TypeError):
            RULES["x"] = RULES["text.empty"]  # type: ignore[index]

    def test_table_has_a_row_per_rule(self) -> None:
        """The rendered table has one row per rule, in RULES order."""
        rows = [ln for ln in rules_table_markdown().splitlines() if ln.startswith("| `")]
        assert [r.split("`")[1] for r in rows] == list(RULES)
        assert "OBS (observed" in rules_table_markdown()

    def test_readme_table_matches_the_code(self) -> None:
        """README.md between the rules markers is exactly rules_table_markdown()."""
        readme = (REPO / "README.md").read_text(encoding="utf-8")
        start, end = "<!-- rules:start -->", "<!-- rules:end -->"
        section = readme[readme.index(start) + len(start): readme.index(end)]
        assert section.strip() == rules_table_markdown().strip()


# --------------------------------------------------------------------------- real data


def _resolve(data: Any, path: str) -> bool:
    """Whether ``$.a.b[3].c`` names an existing place in decoded JSON *data*."""
    assert path.startswith("$")
    for key, index in re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]", path[1:]):
        if key:
            if not isinstance(data, dict) or key not in data:
                return False
            data = data[key]
        else:
            if not isinstance(data, list) or int(index) >= len(data):
                return False
            data = data[int(index)]
    return True


_MISSING_OK = {"request.model-missing", "request.max-tokens-missing", "messages.empty", "thinking.budget"}


def _assert_paths_exist(c: Conversation, report: Report) -> None:
    data = orjson.loads(codec.dumps(c))
    for v in report.violations:
        if v.rule in _MISSING_OK and not _resolve(data, v.path):
            continue  # these name the key that is missing
        assert _resolve(data, v.path), f"{v.rule}: {v.path} does not exist"


def _realworld_requests() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for f in sorted((SHARED / "realworld" / "anthropic").glob("*.jsonl")):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            row = orjson.loads(line)
            body = row.get("body")
            if not isinstance(body, dict):
                continue  # response-only lines
            for k, r in enumerate(body.get("requests", [])):
                out.append((f"{f.name}:{n}:requests[{k}]", r["params"]))
            if "requests" not in body:
                out.append((f"{f.name}:{n}", body))
    return out


def _recorded_exchanges() -> list[tuple[str, dict[str, Any], int]]:
    out: list[tuple[str, dict[str, Any], int]] = []
    base = SHARED / "realworld" / "anthropic"
    for f in sorted([*base.glob("sdk-python-recordings/*.json"), *base.glob("sdk-go-cassettes/*.json")]):
        for n, ex in enumerate(orjson.loads(f.read_bytes())):
            body = ex["request"]["body"]
            if isinstance(body, dict) and "messages" in body:
                out.append((f"{f.name}[{n}]", body, ex["response"]["status_code"]))
    return out


class TestGuideExamples:
    def test_guide_examples_validate(self) -> None:
        """Every request of the Messages API guide validates for its model under both API versions."""
        lines = (SHARED / "reference" / "guide-examples.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == 5
        for line in lines:
            example = orjson.loads(line)
            c = codec.structure(example["request"], Conversation)
            for version in (OLD, NEW):
                report = validate(c, api_version=version)
                if "data elided" in example["name"]:  # the guide's placeholder is no base64: a 400
                    assert report.rules == ("base64.invalid",), f"{example['name']} ({version}): {report}"
                    continue
                assert report.violations == (), f"{example['name']} ({version}): {report}"

    def test_guide_prefill_example_on_a_newer_model(self) -> None:
        """The guide's prefill example is rejected if sent to claude-opus-4-8."""
        example = orjson.loads((SHARED / "reference" / "guide-examples.jsonl").read_text(encoding="utf-8").splitlines()[2])
        c = codec.structure(example["request"], Conversation)
        assert validate(c, profile="claude-opus-4-8").rules == ("prefill.unsupported",)


class TestRealWorld:
    def test_every_realworld_request_validates_without_crashing(self) -> None:
        """validate returns a Report for every recorded request, and every path it names exists."""
        requests = _realworld_requests()
        assert len(requests) >= 30
        for where, body in requests:
            c = codec.structure(body, Conversation)
            for version in (OLD, NEW):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UnknownModelWarning)
                    report = validate(c, api_version=version)
                assert isinstance(report, Report), where
                _assert_paths_exist(c, report)

    def test_recorded_exchanges_agree_with_the_api(self) -> None:
        """Requests the live API answered 200 have no errors; the one it answered 400 has one."""
        exchanges = _recorded_exchanges()
        assert len(exchanges) >= 40
        verdicts: dict[int, list[bool]] = {}
        for where, body, status in exchanges:
            c = codec.structure(body, Conversation)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnknownModelWarning)
                report = validate(c, api_version=OLD)  # they were recorded under 2023-06-01
            _assert_paths_exist(c, report)
            verdicts.setdefault(status, []).append(report.ok)
            if status == 200:
                assert report.ok, f"{where}: {report}"
            elif status == 400:
                assert report.rules == ("roles.consecutive", "tool-result.orphan"), f"{where}: {report}"
        assert verdicts[400] == [False]
        assert len(verdicts[200]) >= 30


class TestEdgeShapes:
    # issue 12: the closed world reports each wrong shape the API would refuse (schema.*): the
    # top-level keys first, the messages' keys with the message pass
    @pytest.mark.parametrize(("make", "expected"), [
        (lambda: conv(U("Hi"), thinking="enabled"),
         [("schema.wrong-type", "$.thinking"), ("thinking.unsupported-mode", "$.thinking")]),
        (lambda: conv(U("Hi"), thinking={"type": "enabled", "budget_tokens": "many"}),
         [("schema.wrong-type", "$.thinking.budget_tokens"), ("thinking.budget", "$.thinking.budget_tokens")]),
        (lambda: conv(U("Hi"), tool_choice=["any"], output_config="max"),
         [("schema.wrong-type", "$.output_config"), ("schema.wrong-type", "$.tool_choice")]),
        (lambda: conv(U("Hi"), tools=[None, 3, {"name": None}]),
         [("schema.wrong-type", "$.tools[0]"), ("schema.wrong-type", "$.tools[1]"),
          ("schema.wrong-type", "$.tools[2].name"), ("schema.missing-key", "$.tools[2].input_schema"),
          ("tools.name", "$.tools[2].name")]),
        (lambda: conv(U("Hi"), system=(UnknownBlock("thing", extra={"cache_control": {}}),)),
         [("schema.unknown-type", "$.system[0].cache_control"), ("schema.unknown-type", "$.system[0].type"),
          ("schema.missing-key", "$.system[0].text")]),
        (lambda: conv(U(UnknownBlock("compaction", extra={"content": "s"})), cache_control="yes"),
         [("schema.wrong-type", "$.cache_control"), ("schema.beta-only", "$.messages[0].content[0]")]),
        (lambda: conv(U(Image(UnknownSource("weird"))), A(Document(TextSource("d"), cache_control=cc("1h")))),
         [("schema.unknown-type", "$.messages[0].content[0].source")]),
    ])
    def test_odd_shapes_never_crash(self, make: Callable[[], Conversation], expected: list[tuple[str, str]]) -> None:
        """Values of unexpected shapes are reported where a rule covers them and ignored otherwise,
        never crashed on."""
        report = validate(make(), api_version=OLD)
        assert isinstance(report, Report)
        assert [(v.rule, v.path) for v in report] == expected

    def test_decoded_odd_request(self) -> None:
        """A request decoded from JSON with unknown blocks and sources validates."""
        raw = (b'{"model": "claude-opus-4-8", "max_tokens": 10, "messages": [{"role": "user", "content": '
               b'[{"type": "image", "source": {"type": "s3", "key": "k"}}, {"type": "text", "text": "What?"}]}]}')
        # issue 12: an unknown source type is a 400 (closed world); nothing else is reported
        assert validate(codec.loads(raw)).rules == ("schema.unknown-type",)
