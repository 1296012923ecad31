"""Tests for normalize (repairing broken histories) and migrate (rewriting for another model and
API version), with property tests over broken and generated conversations."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convo
from convo import (
    UNSET,
    Conversation,
    Document,
    FrozenDict,
    Message,
    SearchResult,
    Text,
    TextSource,
    Thinking,
    ToolResult,
    ToolUse,
    TransformError,
    URLSource,
)
from convo import transforms as t
from convo.profiles import builtin_profiles
from convo.rules import validate
from convo.strategies import conversations, invalid_conversations
from convo.transforms import CONTINUED, INTERRUPTED
from tests._helpers_transforms import (
    STRUCTURAL,
    URL_IMAGE,
    broken_histories,
    near_valid_conversations,
    structural_violations,
)

OPUS = "claude-opus-4-8"
SONNET45 = "claude-sonnet-4-5"
MODELS = sorted(builtin_profiles())


def conv(*msgs: Message, model: str = OPUS, **kw: object) -> Conversation:
    kw.setdefault("max_tokens", 1024)
    return Conversation(model=model, messages=msgs, **kw)  # type: ignore[arg-type]


def U(*parts: object) -> Message:
    return Message.of("user", *parts)  # type: ignore[arg-type]


def A(*parts: object) -> Message:
    return Message.of("assistant", *parts)  # type: ignore[arg-type]


def S(*parts: object) -> Message:
    return Message.of("system", *parts)  # type: ignore[arg-type]


class TestNormalizeRepairs:
    def test_empty_text_blocks_and_empty_messages_go(self) -> None:
        """"" text blocks and messages left without content are dropped, with one change each."""
        c = conv(U("Hi", Text("")), U(""), A("Hello"), U(Text("")), A("Bye"), U("ok"))
        out, changes = t.normalize().explain(c)
        assert [m.content for m in out.messages] == [(Text("Hi"),), (Text("Hello"), Text("Bye")), "ok"]
        whats = [ch.what for ch in changes]
        assert whats.count("dropped an empty text block") == 2
        assert "dropped an empty message" in whats and "dropped a message left empty" in whats
        assert not structural_violations(out)

    def test_whitespace_only_text_goes_but_whitespace_next_to_real_text_stays(self) -> None:
        """A message whose only text is blank loses it; a blank block beside real text is fine."""
        c = conv(U("Hi", Text("  ")), A("Hello"), U(Text("\n"), ToolResult("x", content="r")), A(" "), U("q"))
        out = t.normalize()(c)
        assert out.messages[0].content == (Text("Hi"), Text("  "))
        assert not structural_violations(out)

    def test_consecutive_turns_are_merged_results_first(self) -> None:
        """Two user turns after a tool call merge with the result first."""
        res = ToolResult("toolu_1", content="r")
        c = conv(U("go"), A(ToolUse("toolu_1", "x", {})), U("note"), U(res))
        out = t.normalize()(c)
        assert out.messages[-1].content == (res, Text("note"))
        assert validate(out).ok

    def test_results_move_first(self) -> None:
        """Text before a tool_result is moved after it, reported as such."""
        res = ToolResult("toolu_1", content="r")
        c = conv(U("go"), A(ToolUse("toolu_1", "x", {})), U("see:", res))
        out, changes = t.normalize().explain(c)
        assert out.messages[-1].content == (res, Text("see:"))
        assert [ch.what for ch in changes] == ["moved tool_result blocks first"]

    def test_dangling_tool_use_is_answered_with_an_interrupted_error(self) -> None:
        """A tool call with no result gets an is_error result, in the next user turn or a new one."""
        c = conv(U("go"), A(ToolUse("toolu_1", "x", {})), S("misplaced"), A("moving on"), U("hi"),
                 A(ToolUse("toolu_2", "x", {})), U("no results here"))
        out = t.normalize()(c)
        # the system message after an assistant turn moves up; the two assistant turns then merge
        # (as the API would), so the next user turn carries the error result
        assert out.messages[1].content == (ToolUse("toolu_1", "x", {}), Text("moving on"))
        assert out.messages[2].content == (ToolResult("toolu_1", content=INTERRUPTED, is_error=True), Text("hi"))
        assert out.messages[-1].content == (ToolResult("toolu_2", content=INTERRUPTED, is_error=True), Text("no results here"))
        assert validate(out).ok

    def test_dangling_tool_use_at_the_end_is_answered(self) -> None:
        """A conversation ending on a tool call gets a result turn, so it ends with the user."""
        out = t.normalize()(conv(U("go"), A("ok", ToolUse("toolu_1", "x", {}))))
        assert [m.role for m in out.messages] == ["user", "assistant", "user"]
        assert out.messages[2] == Message("user", (ToolResult("toolu_1", content=INTERRUPTED, is_error=True),))
        assert validate(out).ok

    def test_dangling_drop_removes_the_call(self) -> None:
        """dangling='drop' removes the unanswered tool_use (and a turn it leaves empty)."""
        c = conv(U("go"), A("let me see", ToolUse("toolu_1", "x", {})), U("well?"), A(ToolUse("toolu_2", "x", {})), U("and?"))
        out = t.normalize(dangling="drop")(c)
        assert [m.content for m in out.messages] == ["go", (Text("let me see"),), (Text("well?"), Text("and?"))]
        assert validate(out).ok

    def test_orphan_results_become_text_or_go(self) -> None:
        """A tool_result answering nothing turns into labelled text, or is dropped on request."""
        orphan = ToolResult("toolu_9", content=(Text("stale"), URL_IMAGE), is_error=True)
        c = conv(U("hi"), A("hello"), U(orphan, "next"))
        out = t.normalize()(c)
        assert out.messages[-1].content == (Text("[tool result for toolu_9 (error)]: stale"), URL_IMAGE, Text("next"))
        dropped = t.normalize(orphans="drop")(c)
        assert dropped.messages[-1].content == (Text("next"),)
        assert validate(out).ok and validate(dropped).ok

    def test_duplicate_results_for_one_call_keep_the_first(self) -> None:
        """A second result for the same tool_use is an orphan."""
        r1, r2 = ToolResult("toolu_1", content="a"), ToolResult("toolu_1", content="b")
        out = t.normalize(orphans="drop")(conv(U("go"), A(ToolUse("toolu_1", "x", {})), U(r1, r2)))
        assert out.messages[-1].content == (r1,)

    def test_assistant_first_gets_a_user_turn_before_it(self) -> None:
        """A conversation that starts with the assistant gets a CONTINUED user turn first."""
        out, changes = t.normalize().explain(conv(A("Hello! How can I help?"), U("Hi")))
        assert out.messages[0] == Message("user", CONTINUED)
        assert changes[0].path == "$.messages[0]"
        assert validate(out).ok

    def test_misplaced_system_messages_move_to_the_top_level(self) -> None:
        """A system message first, after an assistant turn, or before a user turn goes to `system`."""
        c = conv(S("First."), U("Hi"), A("Hello"), S("After assistant."), U("More"), S("Before user."), U("x"),
                 system="Top.")
        out = t.normalize()(c)
        assert out.system == (Text("Top."), Text("First."), Text("After assistant."), Text("Before user."))
        assert [m.role for m in out.messages] == ["user", "assistant", "user"]
        assert validate(out).ok

    def test_moved_system_text_loses_its_cache_breakpoint(self) -> None:
        """A breakpoint would mark another prefix at the top level (and could break the TTL order)."""
        cc = {"type": "ephemeral"}
        c = conv(U("Hi"), A("Hello"), S(Text("Note", cache_control=cc)), U("x"))
        out = t.normalize()(c)
        assert out.system == (Text("Note"),)

    def test_well_placed_system_messages_stay(self) -> None:
        """A system message right after a user turn, followed by the assistant, is left alone."""
        c = conv(U("Hi"), S("Be brief."), A("Hello"), U("x"), S("Now French."))
        assert t.normalize()(c) is c

    def test_final_assistant_whitespace_is_stripped(self) -> None:
        """Trailing whitespace of the final assistant turn goes (facts §1.4 [OBS])."""
        out = t.normalize()(conv(U("Hi"), A("The answer is "), model=SONNET45))
        assert out.messages[-1].content == "The answer is"
        assert validate(out).ok

    def test_empty_top_level_system_blocks_go(self) -> None:
        """An empty text block in `system` is a 400: it goes (and an all-empty system goes)."""
        assert t.normalize()(conv(U("x"), system=(Text("a"), Text("")))).system == (Text("a"),)
        assert t.normalize()(conv(U("x"), system=(Text(""),))).system is UNSET

    def test_thinking_blocks_pass_through_untouched(self) -> None:
        """Repairs around a thinking turn keep its blocks byte for byte."""
        th = Thinking("deep", "sig")
        c = conv(U("q"), A(th, ToolUse("toolu_1", "x", {})), U("next"))
        out = t.normalize()(c)
        assert out.messages[1] is c.messages[1]

    def test_explain_paths_name_the_input_messages(self) -> None:
        """After earlier messages are dropped, paths still name the input's positions."""
        c = conv(U(""), U(""), U("hi"), A("x "))
        _, changes = t.normalize().explain(c)
        assert [(ch.what, ch.path) for ch in changes] == [
            ("dropped an empty message", "$.messages[0]"),
            ("dropped an empty message", "$.messages[1]"),
            ("stripped trailing whitespace", "$.messages[3]"),
        ]

    def test_bad_options_are_refused(self) -> None:
        """Only the documented choices are accepted."""
        with pytest.raises(ValueError, match="'answer' or 'drop'"):
            t.normalize(dangling="ignore")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="'text' or 'drop'"):
            t.normalize(orphans="keep")  # type: ignore[arg-type]


class TestNormalizeProperties:
    @given(st.one_of(broken_histories(), near_valid_conversations()), st.sampled_from(["answer", "drop"]),
           st.sampled_from(["text", "drop"]))
    @settings(max_examples=200)
    def test_output_passes_the_structural_rules_and_is_a_fixed_point(self, c: Conversation, dangling: str, orphans: str) -> None:
        """Any broken history comes out structurally valid, and normalizing again changes nothing."""
        n = t.normalize(dangling=dangling, orphans=orphans)  # type: ignore[arg-type]
        before = convo.dumps(c)
        out = n(c)
        assert convo.dumps(c) == before  # the input is untouched
        if out.messages:
            assert not structural_violations(out), (structural_violations(out), out)
        again, changes = n.explain(out)
        assert again is out and changes == ()

    @given(broken_histories())
    def test_explain_reports_a_change_exactly_when_something_changed(self, c: Conversation) -> None:
        """No changes listed means the input came back; any difference comes with changes."""
        out, changes = t.normalize().explain(c)
        assert (out is c) == (changes == ())
        assert t.normalize()(c) == out

    @pytest.mark.parametrize("rule", sorted(STRUCTURAL))
    def test_repairs_every_structural_rule_the_strategies_can_break(self, rule: str) -> None:
        """For each structural rule, conversations breaking it come out without it."""

        @settings(max_examples=15, database=None)
        @given(invalid_conversations(rule=rule))
        def check(c: Conversation) -> None:
            out = t.normalize()(c)
            assert rule not in {v.rule for v in validate(out).violations}
            assert not structural_violations(out)
            assert t.normalize()(out) is out

        check()

    @given(conversations(model=OPUS, tools=True, images=True, mid_system=True, thinking=True))
    def test_valid_conversations_are_returned_as_they_are(self, c: Conversation) -> None:
        """A conversation that already validates is the input object itself afterwards."""
        assert t.normalize()(c) is c


class TestMigrateExamples:
    def test_opus_4_8_no_prefill_no_sampling_no_top_k(self) -> None:
        """The issue's example: for claude-opus-4-8 the prefill and sampling params go."""
        c = (Conversation(model=SONNET45, max_tokens=1, temperature=0.0, top_p=0.9, top_k=5)
             .user("Latin for ant? (A) Apoidea (C) Formicidae").prefill("The answer is ("))
        assert validate(c, api_version="2023-06-01").ok
        for api in ("2023-06-01", "2026-10-21"):
            out, changes = t.migrate(model=OPUS, api_version=api).explain(c)
            assert (out.model, out.temperature, out.top_p, out.top_k) == (OPUS, UNSET, UNSET, UNSET)
            assert [m.role for m in out.messages] == ["user"]
            assert validate(out, api_version=api).ok
            assert {ch.path for ch in changes} == {"$.model", "$.temperature", "$.top_p", "$.top_k", "$.messages[1]"}

    def test_opus_4_8_under_2023_keeps_default_sampling_values(self) -> None:
        """Under 2023-06-01, temperature 1.0 and top_p 0.99 are the defaults Opus 4.8 takes."""
        c = conv(U("Hi"), model=SONNET45, temperature=1.0, top_p=0.995)
        out = t.migrate(model=OPUS, api_version="2023-06-01")(c)
        assert (out.temperature, out.top_p) == (1.0, 0.995)
        assert t.migrate(model=OPUS)(c).temperature is UNSET  # 2026-10-21: removed whatever the value

    def test_sonnet_4_5_keeps_prefill_and_sampling_under_2023(self) -> None:
        """Sonnet 4.5 takes prefill and sampling: under 2023-06-01 they stay."""
        c = conv(U("Hi"), A("Sure:"), model="claude-haiku-4-5", temperature=0.3, top_k=10)
        out = t.migrate(model=SONNET45, api_version="2023-06-01")(c)
        assert out.messages == c.messages and out.temperature == 0.3 and out.top_k == 10
        assert validate(out, api_version="2023-06-01").ok

    def test_sonnet_4_5_maps_adaptive_thinking_to_a_budget(self) -> None:
        """Sonnet 4.5 has no adaptive thinking: it becomes enabled with a budget below max_tokens."""
        c = conv(U("Hi"), thinking={"type": "adaptive", "display": "omitted"}, max_tokens=8000)
        out = t.migrate(model=SONNET45)(c)
        assert out.thinking == FrozenDict({"type": "enabled", "display": "omitted", "budget_tokens": 4000})
        assert validate(out).ok

    def test_opus_4_8_maps_budget_thinking_to_adaptive(self) -> None:
        """Opus 4.8 has no budget thinking: enabled becomes adaptive, the budget goes."""
        c = conv(U("Hi"), model=SONNET45, thinking={"type": "enabled", "budget_tokens": 2048})
        out = t.migrate(model=OPUS)(c)
        assert out.thinking == FrozenDict({"type": "adaptive"})
        assert validate(out).ok

    def test_disabled_thinking_goes_where_thinking_is_always_on(self) -> None:
        """Opus 5.5 cannot turn thinking off: the disabled setting is removed."""
        out = t.migrate(model="claude-opus-5-5")(conv(U("Hi"), thinking={"type": "disabled"}))
        assert out.thinking is UNSET and validate(out).ok

    def test_disabled_thinking_goes_at_an_effort_that_requires_it(self) -> None:
        """A model that needs thinking at some efforts loses the disabled setting at those."""
        required = [m for m in MODELS if builtin_profiles()[m].thinking_required_efforts]
        if not required:
            pytest.skip("no built-in profile requires thinking at any effort")
        p = builtin_profiles()[required[0]]
        c = conv(U("Hi"), thinking={"type": "disabled"}, output_config={"effort": p.thinking_required_efforts[0]})
        out = t.migrate(model=p.model)(c)
        assert out.thinking is UNSET and validate(out).ok

    def test_forced_tool_choice_becomes_auto_where_unsupported(self) -> None:
        """Opus 5.5 cannot force tool use: any/tool becomes auto, keeping other keys."""
        c = conv(U("Hi"), tools=[{"name": "x", "input_schema": {"type": "object"}}],
                 tool_choice={"type": "tool", "name": "x", "disable_parallel_tool_use": True})
        out = t.migrate(model="claude-opus-5-5")(c)
        assert out.tool_choice == FrozenDict({"disable_parallel_tool_use": True, "type": "auto"})
        assert validate(out).ok

    def test_effort_is_clamped_to_a_level_the_model_has(self) -> None:
        """Mythos Preview has no xhigh: it becomes high; Sonnet 4.5 has no effort: it goes."""
        c = conv(U("Hi"), output_config={"effort": "xhigh", "format": {"type": "json_schema", "schema": {"type": "object"}}})
        assert t.migrate(model="claude-mythos-preview")(c).output_config == FrozenDict(
            {"effort": "high", "format": FrozenDict({"type": "json_schema", "schema": FrozenDict({"type": "object"})})}
        )
        out = t.migrate(model=SONNET45)(c)
        assert "effort" not in out.output_config and "format" in out.output_config
        assert t.migrate(model=SONNET45)(conv(U("x"), output_config={"effort": "low"})).output_config is UNSET

    def test_max_tokens_is_clamped_and_the_budget_follows(self) -> None:
        """max_tokens above the max output is lowered; a thinking budget stays below it."""
        c = conv(U("Hi"), model="claude-opus-4-6", max_tokens=100_000,
                 thinking={"type": "enabled", "budget_tokens": 90_000})
        out = t.migrate(model=SONNET45)(c)
        assert out.max_tokens == 64_000 and out.thinking["budget_tokens"] == 63_999
        assert validate(out).ok

    def test_system_messages_fold_into_the_top_level_on_models_without_them(self) -> None:
        """Sonnet 4.5 has no mid-conversation system messages: their text moves to `system`."""
        c = conv(U("Hi"), S("Be brief."), A("Hello"), U("x"), S(Text("French now.")), system="Base.")
        out = t.migrate(model=SONNET45)(c)
        assert out.system == (Text("Base."), Text("Be brief."), Text("French now."))
        assert [m.role for m in out.messages] == ["user", "assistant", "user"]
        assert validate(out).ok
        assert t.migrate(model="claude-opus-5-5")(c).messages == c.messages  # kept where they exist

    def test_documents_leave_assistant_turns_under_2026(self) -> None:
        """Under 2026-10-21 a document in an assistant turn moves to the user turn before it."""
        doc = Document(TextSource("the doc"))
        c = conv(U("Summarize"), A("Here:", doc), U("Thanks"), model=SONNET45)
        out = t.migrate(model=SONNET45)(c)
        assert out.messages[0].content == (Text("Summarize"), doc)
        assert out.messages[1].content == (Text("Here:"),)
        assert validate(out).ok
        assert t.migrate(model=SONNET45, api_version="2023-06-01")(c) is c

    def test_a_document_only_assistant_turn_goes_and_its_neighbours_merge(self) -> None:
        """If the documents were all the turn held, it goes and the user turns around it merge."""
        doc = Document(URLSource("https://example.com/a.pdf"))
        c = conv(U("a"), A(doc), U("b"), model=SONNET45)
        out = t.migrate(model=SONNET45)(c)
        assert out.messages == (Message("user", (Text("a"), doc, Text("b"))),)
        assert validate(out).ok

    def test_citations_leave_user_text_under_2026(self) -> None:
        """Under 2026-10-21 citations on user-side text go (directly, in search and tool results)."""
        cite = ({"type": "char_location", "cited_text": "x", "document_index": 0, "document_title": None,
                 "start_char_index": 0, "end_char_index": 1},)
        c = conv(
            U("q"), A(Text("cited", citations=cite), ToolUse("toolu_1", "x", {})),
            U(ToolResult("toolu_1", content=(Text("r", citations=cite),)), Text("again", citations=cite),
              SearchResult("s", "t", [Text("in search", citations=cite)])),
            model=SONNET45,
        )
        out, changes = t.migrate(model=SONNET45).explain(c)
        assert out.messages[1] is c.messages[1]  # assistant citations stay
        assert [ch.path for ch in changes] == [
            "$.messages[2].content[0].content[0]", "$.messages[2].content[1]", "$.messages[2].content[2].content[0]",
        ]
        assert validate(out).ok

    def test_too_many_images_for_the_target_is_an_error(self) -> None:
        """600 images are fine on Opus 4.8, too many for Sonnet 4.5 (100): migrate says so."""
        c = conv(*(U(URL_IMAGE) if k % 2 == 0 else A("ok") for k in range(2 * 101 - 1)))
        assert validate(c).ok
        with pytest.raises(TransformError, match=r"101 images.*at most 100"):
            t.migrate(model=SONNET45)(c)

    def test_same_model_and_valid_is_a_no_op(self) -> None:
        """Migrating a valid conversation to its own model returns it."""
        c = conv(U("Hi"), A("Hello"), U("again"))
        assert t.migrate(model=OPUS)(c) is c

    def test_bad_arguments_are_refused(self) -> None:
        """An empty model or an unknown API version fails at construction."""
        with pytest.raises(ValueError, match="model id"):
            t.migrate(model="")
        with pytest.raises(ValueError, match="2023-06-01, 2026-10-21"):
            t.migrate(model=OPUS, api_version="2024-01-01")


class TestMigrateProperties:
    @given(
        st.sampled_from(MODELS), st.sampled_from(MODELS), st.sampled_from(["2023-06-01", "2026-10-21"]),
        st.booleans(), st.data(),
    )
    @settings(max_examples=100)
    def test_valid_for_its_model_means_valid_for_the_target(
        self, source: str, target: str, api: str, thinking: bool, data: st.DataObject
    ) -> None:
        """migrate(m) turns any conversation valid for its own model into one valid for m."""
        prof = builtin_profiles()[source]
        mid = prof.mid_conversation_system
        # a model without thinking (claude-3-opus, issue 12) cannot have thinking conversations
        thinking = thinking and bool({"enabled", "adaptive"} & set(prof.thinking_modes))
        c = data.draw(conversations(model=source, api_version=api, tools=True, images=True,
                                    thinking=thinking, mid_system=mid))
        assert validate(c, api_version=api).ok
        before = convo.dumps(c)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # built-in models: no unknown-model warning
            out = t.migrate(model=target, api_version=api)(c)
        assert convo.dumps(c) == before
        report = validate(out, api_version=api)
        assert report.ok, report.errors
        assert t.migrate(model=target, api_version=api)(out) is out


class TestNormalizeFastPath:
    @given(st.one_of(broken_histories(), near_valid_conversations()))
    @settings(max_examples=300)
    def test_the_quick_check_never_skips_a_needed_repair(self, c: Conversation) -> None:
        """Where the read-only pre-check says "nothing to do", the full repair changes nothing."""
        from convo.transforms._base import ChangeLog
        from convo.transforms.repair import _may_need_repair, _Normalizer

        if _may_need_repair(c):
            return
        for dangling in ("answer", "drop"):
            for orphans in ("text", "drop"):
                n = _Normalizer(c, ChangeLog("normalize"), dangling, orphans)
                n.run()
                assert not n.changed, (dangling, orphans, c)

    def test_the_quick_check_passes_healthy_conversations(self) -> None:
        """A valid agent transcript takes the fast path (no repair attempted)."""
        from convo.transforms.repair import _may_need_repair
        from tests._helpers_transforms import agent_transcript

        assert not _may_need_repair(agent_transcript())
        assert _may_need_repair(agent_transcript().user(""))
