"""Tests for the stored-transcript transforms: drop_images, strip_thinking, merge_adjacent_roles,
keep_last_turns, trim_to_tokens (and estimate_tokens), redact, map_text, drop_sampling_params,
strip_prefill."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convo import (
    UNSET,
    Conversation,
    Document,
    Image,
    Message,
    RedactedThinking,
    SearchResult,
    Text,
    TextSource,
    Thinking,
    ToolResult,
    ToolUse,
    TransformError,
)
from convo import transforms as t
from convo.model import ServerToolUse, WebSearchToolResult
from convo.rules import validate
from tests._helpers_transforms import (
    URL_IMAGE,
    agent_transcript,
    png_image,
    rich_conversation,
    valid_agent_transcripts,
)


def pairs_intact(conv: Conversation) -> bool:
    """Every tool_use is answered in the next user turn and every tool_result answers the
    assistant turn just before it (system messages looked through, as the rules do)."""
    msgs = [m for m in conv.messages if m.role != "system"]
    for k, m in enumerate(msgs):
        results = {b.tool_use_id for b in m.blocks if isinstance(b, ToolResult)}
        if results:
            prev = msgs[k - 1] if k else None
            asked = {b.id for b in prev.blocks if isinstance(b, ToolUse)} if prev and prev.role == "assistant" else set()
            if not results <= asked:
                return False
        uses = {b.id for b in m.blocks if isinstance(b, ToolUse)}
        if uses:
            nxt = msgs[k + 1] if k + 1 < len(msgs) else None
            if nxt is None or not uses <= {b.tool_use_id for b in nxt.blocks if isinstance(b, ToolResult)}:
                return False
    return True


class TestDropImages:
    def test_drops_images_and_keeps_the_rest_in_order(self) -> None:
        """Images go; text around them stays in its order."""
        conv = Conversation().user("a", URL_IMAGE, "b")
        assert t.drop_images()(conv).messages[0].content == (Text("a"), Text("b"))

    def test_placeholder_takes_each_image_place(self) -> None:
        """With a placeholder every image becomes that text, at its position."""
        conv = Conversation().user(URL_IMAGE, "caption", png_image())
        out = t.drop_images(placeholder="[image]")(conv)
        assert out.messages[0].content == (Text("[image]"), Text("caption"), Text("[image]"))

    def test_images_inside_tool_results_go_too(self) -> None:
        """An image in tool_result content is dropped; an image-only result keeps its block, no content."""
        conv = Conversation().user("Go").assistant(ToolUse("toolu_1", "shot", {}), ToolUse("toolu_2", "shot", {})).user(
            ToolResult("toolu_1", content=(Text("screen"), URL_IMAGE)), ToolResult("toolu_2", content=(URL_IMAGE,))
        )
        out = t.drop_images()(conv)
        r1, r2 = out.messages[-1].content
        assert isinstance(r1, ToolResult) and r1.content == (Text("screen"),)
        assert isinstance(r2, ToolResult) and r2.content is UNSET and r2.tool_use_id == "toolu_2"

    def test_a_turn_of_images_only_is_dropped_not_left_empty(self) -> None:
        """No empty turn is ever produced: without a placeholder the turn goes."""
        conv = Conversation(model="claude-opus-4-8", max_tokens=8).user("Hi").user(URL_IMAGE).assistant("Hello").user("ok")
        out, changes = t.drop_images().explain(conv)
        assert [m.content for m in out.messages] == ["Hi", "Hello", "ok"]
        assert [c.what for c in changes] == ["dropped an image", "dropped a turn left empty"]
        assert validate(out).ok

    def test_the_last_turn_keeps_a_placeholder_instead_of_making_a_prefill(self) -> None:
        """Dropping a final image-only turn would end on the assistant: it keeps "[image]"."""
        conv = Conversation(model="claude-opus-4-8", max_tokens=8).user("Hi").assistant("Hello").user(URL_IMAGE)
        out, changes = t.drop_images().explain(conv)
        assert [m.content for m in out.messages] == ["Hi", "Hello", (Text("[image]"),)]
        assert "would become a prefill" in changes[-1].why
        assert validate(out).ok

    def test_one_change_per_image(self) -> None:
        """explain reports each image at its own path."""
        conv = Conversation().user(URL_IMAGE, "x", URL_IMAGE).assistant("ok").user(
            "y", Document(TextSource("doc"))
        )
        _, changes = t.drop_images(placeholder="-").explain(conv)
        assert [c.path for c in changes] == ["$.messages[0].content[0]", "$.messages[0].content[2]"]

    def test_blank_placeholder_is_refused(self) -> None:
        """A placeholder must be real text (blank text is a 400)."""
        with pytest.raises(ValueError, match="non-blank"):
            t.drop_images(placeholder="  ")


class TestStripThinking:
    def conv(self) -> Conversation:
        return (
            Conversation(model="claude-sonnet-4-5", max_tokens=4096)
            .user("Q1")
            .assistant(Thinking("t1", "s1"), RedactedThinking("r1"), Text("A1"))
            .user("Q2")
            .assistant(Thinking("t2", "s2"))
            .user("Q3")
            .assistant(Thinking("t3", "s3"), ToolUse("toolu_1", "x", {}))
            .user(ToolResult("toolu_1", content="done"))
        )

    def test_latest_assistant_turn_keeps_its_thinking_byte_for_byte(self) -> None:
        """The latest assistant message is the very same object afterwards (facts §1.9)."""
        conv = self.conv()
        out = t.strip_thinking()(conv)
        assert out.messages[-2] is conv.messages[-1 - 1]
        assert isinstance(out.messages[-2].content[0], Thinking)

    def test_earlier_thinking_goes_and_thinking_only_turns_go(self) -> None:
        """Earlier thinking and redacted thinking are dropped; a turn of thinking only is dropped."""
        out, changes = t.strip_thinking().explain(self.conv())
        assert [m.role for m in out.messages] == ["user", "assistant", "user", "user", "assistant", "user"]
        assert out.messages[1].content == (Text("A1"),)
        assert [c.what for c in changes] == [
            "dropped a thinking block", "dropped a redacted_thinking block",
            "dropped a thinking block", "dropped a turn left empty",
        ]

    def test_only_latest_thinking_is_a_no_op(self) -> None:
        """Thinking only in the latest assistant turn: nothing to strip."""
        conv = Conversation().user("Q").assistant(Thinking("t", "s"), "A").user("Q2")
        assert t.strip_thinking()(conv) is conv


class TestMergeAdjacentRoles:
    def test_merges_runs_of_the_same_role(self) -> None:
        """user,user,assistant,assistant,user becomes user,assistant,user with blocks in order."""
        conv = Conversation().user("a").user("b", "c").assistant("x").assistant("y").user("z")
        out = t.merge_adjacent_roles()(conv)
        assert [m.role for m in out.messages] == ["user", "assistant", "user"]
        assert out.messages[0].content == (Text("a"), Text("b"), Text("c"))
        assert out.messages[1].content == (Text("x"), Text("y"))
        assert out.messages[2] is conv.messages[4]

    def test_tool_results_come_first_after_merging(self) -> None:
        """A text turn then a result turn merge into results first, then text."""
        res = ToolResult("toolu_1", content="ok")
        conv = (Conversation(model="claude-opus-4-8", max_tokens=8).user("go")
                .assistant(ToolUse("toolu_1", "x", {})).user("note").user(res))
        out = t.merge_adjacent_roles()(conv)
        assert out.messages[-1].content == (res, Text("note"))
        assert validate(out).ok

    def test_system_messages_are_left_alone(self) -> None:
        """Consecutive system messages are one section already: not merged."""
        conv = Conversation(model="claude-opus-4-8").user("a").system_message("s1").system_message("s2")
        assert t.merge_adjacent_roles()(conv) is conv

    def test_explain_names_each_merged_message(self) -> None:
        """One change per message merged into the one before it."""
        _, changes = t.merge_adjacent_roles().explain(Conversation().user("a").user("b").user("c"))
        assert [c.path for c in changes] == ["$.messages[1]", "$.messages[2]"]


class TestKeepLastTurns:
    def test_keeps_at_most_n_starting_on_a_user_turn(self) -> None:
        """The cut moves later to a user turn rather than start on an assistant turn."""
        conv = Conversation(system="S").user("1").assistant("2").user("3").assistant("4")
        out = t.keep_last_turns(n=3)(conv)
        assert [m.content for m in out.messages] == ["3", "4"] and out.system == "S"

    @pytest.mark.parametrize("n", range(1, 12))
    def test_never_splits_a_tool_pair_in_a_hand_built_agent_transcript(self, n: int) -> None:
        """For every n the kept part starts on a user turn with no tool result and pairs stay whole."""
        conv = agent_transcript()
        out = t.keep_last_turns(n=n)(conv)
        assert out.messages == conv.messages[len(conv.messages) - len(out.messages):]
        assert out.messages[0].role == "user"
        assert not any(isinstance(b, ToolResult) for b in out.messages[0].blocks)
        assert pairs_intact(out)
        assert out.system == conv.system and out.tools == conv.tools
        assert validate(out).ok

    def test_expected_cuts_in_the_agent_transcript(self) -> None:
        """The cut points are the clean user turns (0, 6, 10), taking the fewest messages needed."""
        conv = agent_transcript()
        lengths = {n: len(t.keep_last_turns(n=n)(conv).messages) for n in range(1, 13)}
        assert lengths == {1: 1, 2: 1, 3: 1, 4: 1, 5: 5, 6: 5, 7: 5, 8: 5, 9: 5, 10: 5, 11: 11, 12: 11}

    def test_keeps_more_than_n_when_no_clean_start_is_among_the_last_n(self) -> None:
        """In a long tool loop the cut goes back to the user turn that started it."""
        conv = Conversation().user("start")
        for k in range(5):
            conv = conv.assistant(ToolUse(f"toolu_{k}", "x", {})).user(ToolResult(f"toolu_{k}", content="r"))
        out, changes = t.keep_last_turns(n=3).explain(conv)
        assert out is conv and changes == ()
        conv2 = Conversation().user("old").assistant("ok").user("start")
        for k in range(3):
            conv2 = conv2.assistant(ToolUse(f"toolu_{k}", "x", {})).user(ToolResult(f"toolu_{k}", content="r"))
        out2, changes2 = t.keep_last_turns(n=2).explain(conv2)
        assert out2.messages[0].content == "start" and len(out2.messages) == 7
        assert "no user turn to start on among the last 2" in changes2[0].why

    def test_explain_reports_one_slice(self) -> None:
        """One change naming the dropped slice."""
        _, changes = t.keep_last_turns(n=1).explain(Conversation().user("a").assistant("b").user("c"))
        assert [(c.what, c.path) for c in changes] == [("dropped the first 2 messages", "$.messages[0:2]")]

    @pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
    def test_n_must_be_a_positive_integer(self, bad: object) -> None:
        """Zero, negatives, floats, bools and strings are refused."""
        with pytest.raises(ValueError, match="positive integer"):
            t.keep_last_turns(n=bad)  # type: ignore[arg-type]

    @given(valid_agent_transcripts(), st.integers(1, 16))
    def test_property_never_splits_pairs_and_stays_valid(self, conv: Conversation, n: int) -> None:
        """On generated valid agent transcripts, any n keeps pairs whole and the result valid."""
        out = t.keep_last_turns(n=n)(conv)
        assert out.messages == conv.messages[len(conv.messages) - len(out.messages):]
        assert pairs_intact(out)
        assert out.messages[0].role == "user"
        assert validate(out).ok, validate(out)
        if len(out.messages) > n:  # more than n only when no clean start was in reach
            tail = conv.messages[len(conv.messages) - n:]
            assert not any(m.role == "user" and not any(isinstance(b, ToolResult) for b in m.blocks) for m in tail)


class TestEstimateTokens:
    def test_text_counts_about_four_characters_a_token(self) -> None:
        """⌈len/4⌉ per text, the system included, and four per message for its framing."""
        conv = Conversation(system="abcd" * 10).user("x" * 9)
        assert t.estimate_tokens(conv) == 10 + 3 + 4

    def test_image_tokens_follow_the_documented_28px_rule(self) -> None:
        """⌈w/28⌉*⌈h/28⌉ with w, h read from the image header."""
        conv = Conversation(model="claude-sonnet-4-5").user(png_image(57, 28))
        assert t.estimate_tokens(conv) - 4 == math.ceil(57 / 28) * math.ceil(28 / 28) == 3

    def test_large_images_are_downscaled_to_the_model_limit_first(self) -> None:
        """A 3136-px image is scaled to the long edge, then capped at the visual-token cap."""
        assert t.image_tokens(3136, 28, long_edge=1568) == 56 * 1
        assert t.image_tokens(1568, 1568, long_edge=1568) <= 1568
        assert t.image_tokens(4000, 4000, long_edge=2576) <= 4784
        assert t.image_tokens(4000, 4000, long_edge=2576) > t.image_tokens(4000, 4000, long_edge=1568)

    def test_images_of_unknown_size_count_as_the_cap(self) -> None:
        """A URL image counts the most an image can cost on that model."""
        assert t.estimate_tokens(Conversation(model="claude-sonnet-4-5").user(URL_IMAGE)) == 1568 + 4
        assert t.estimate_tokens(Conversation(model="claude-opus-4-8").user(URL_IMAGE)) == 4784 + 4

    def test_tools_and_tool_traffic_count(self) -> None:
        """Tool definitions, tool inputs and results all add to the estimate."""
        plain = Conversation().user("hi")
        with_tools = Conversation(tools=[{"name": "search", "input_schema": {"type": "object"}}]).user("hi")
        assert t.estimate_tokens(with_tools) > t.estimate_tokens(plain)
        loop = plain.assistant(ToolUse("toolu_1", "search", {"q": "x" * 40})).user(ToolResult("toolu_1", content="y" * 40))
        assert t.estimate_tokens(loop) >= t.estimate_tokens(plain) + 20


class TestTrimToTokens:
    def test_drops_the_oldest_turns_until_it_fits(self) -> None:
        """The tail that fits, starting on a clean user turn, is what remains."""
        conv = Conversation(system="S").user("a" * 400).assistant("b" * 400).user("c" * 40)
        out = t.trim_to_tokens(budget=50)(conv)
        assert [len(m.content) for m in out.messages] == [40] and out.system == "S"
        assert t.estimate_tokens(out) <= 50

    def test_fits_already_is_a_no_op(self) -> None:
        """Under budget: the input itself."""
        conv = Conversation().user("hi")
        assert t.trim_to_tokens(budget=100)(conv) is conv

    @pytest.mark.parametrize("budget", [30, 60, 120, 250, 10_000])
    def test_never_splits_tool_pairs(self, budget: int) -> None:
        """Whatever the budget, the agent transcript is cut only at clean user turns."""
        conv = agent_transcript()
        try:
            out = t.trim_to_tokens(budget=budget)(conv)
        except TransformError:
            assert t.estimate_tokens(t.keep_last_turns(n=1)(conv)) > budget
            return
        assert pairs_intact(out) and out.messages[0].role == "user" and validate(out).ok
        assert t.estimate_tokens(out) <= budget

    def test_images_weigh_in(self) -> None:
        """A turn with a large image is the first to go under a tight budget."""
        conv = Conversation(model="claude-sonnet-4-5").user("look", png_image(1000, 1000)).assistant("nice").user("bye")
        out = t.trim_to_tokens(budget=200)(conv)
        assert [m.content for m in out.messages] == ["bye"]

    def test_impossible_budget_says_so(self) -> None:
        """When even the last clean user turn does not fit, the error says what to do."""
        with pytest.raises(TransformError, match=r"cannot fit.*raise the budget"):
            t.trim_to_tokens(budget=5)(Conversation(system="x" * 100).user("hi"))

    def test_budget_must_be_positive(self) -> None:
        """A zero budget is refused at construction."""
        with pytest.raises(ValueError, match="positive integer"):
            t.trim_to_tokens(budget=0)


class TestRedact:
    def test_every_text_is_redacted(self) -> None:
        """System blocks, message text, tool results, search results, documents and thinking."""
        out = t.redact(r"ann@example\.com")(rich_conversation())
        assert out.system == (Text("System one, [REDACTED]"), Text("System two"))
        assert out.messages[0].content[0] == Text("Look [REDACTED]")
        thinking = out.messages[1].content[0]
        assert isinstance(thinking, Thinking) and thinking == Thinking("thinking about [REDACTED]", "sig1")
        result = out.messages[2].content[0]
        assert isinstance(result, ToolResult) and result.content[0] == Text("found [REDACTED]")
        assert out.messages[4].content == "Thanks, [REDACTED]"

    def test_signatures_and_redacted_thinking_are_never_touched(self) -> None:
        """A pattern that matches signatures and opaque data leaves them as they were."""
        conv = Conversation().user("q").assistant(Thinking("sig", "sig"), RedactedThinking("sig"), "A")
        out = t.redact("sig")(conv)
        th, red, _ = out.messages[1].content
        assert th == Thinking("[REDACTED]", "sig") and red == RedactedThinking("sig")

    def test_tool_inputs_and_unrelated_blocks_are_left(self) -> None:
        """Tool inputs are JSON, not text: unchanged (the documented scope)."""
        conv = Conversation().user("secret").assistant(ToolUse("toolu_1", "x", {"q": "secret"}))
        out = t.redact("secret")(conv)
        assert out.messages[0].content == "[REDACTED]"
        assert out.messages[1] is conv.messages[1]

    def test_group_references_in_the_replacement(self) -> None:
        """The replacement may use groups, as re.sub does."""
        conv = Conversation().user("mail bob@example.com now")
        assert t.redact(r"(\w+)@example\.com", replacement=r"\1@…")(conv).messages[0].content == "mail bob@… now"

    def test_no_match_is_a_no_op_and_explain_lists_paths(self) -> None:
        """No match returns the input; matches are listed at their text paths."""
        conv = Conversation(system="a1").user("b2", "c")
        assert t.redact("zzz")(conv) is conv
        _, changes = t.redact(r"\d").explain(conv)
        assert [c.path for c in changes] == ["$.system", "$.messages[0].content[0].text"]

    def test_the_regex_is_compiled_once(self) -> None:
        """The transform holds its compiled pattern: the same object on every call."""
        tr = t.redact(r"\d+")
        regex = tr.regex  # type: ignore[attr-defined]
        tr(Conversation().user("1"))
        tr(Conversation().user("2"))
        assert tr.regex is regex  # type: ignore[attr-defined]

    def test_bad_patterns_are_refused(self) -> None:
        """An empty or invalid regex is a ValueError at construction."""
        with pytest.raises(ValueError, match="non-empty"):
            t.redact("")
        with pytest.raises(ValueError, match="not a valid regular expression"):
            t.redact("(")


class TestMapText:
    def test_applies_to_texts_but_not_thinking(self) -> None:
        """Every text is mapped; signed thinking text is left as it was."""
        out = t.map_text(str.upper)(rich_conversation())
        assert out.system == (Text("SYSTEM ONE, ANN@EXAMPLE.COM"), Text("SYSTEM TWO"))
        assert out.messages[1].content[0] == Thinking("thinking about ann@example.com", "sig1")
        search = out.messages[2].content[1]
        assert isinstance(search, SearchResult) and search.content == (Text("RESULT TEXT"),)
        doc = out.messages[0].content[2]
        assert isinstance(doc, Document) and doc.source == TextSource("DOC TEXT")

    def test_repr_shows_the_qualified_name(self) -> None:
        """The repr names the function (module-qualified when it is not a builtin)."""

        def shout(s: str) -> str:
            return s.upper()

        assert repr(t.map_text(str.upper)) == "map_text(str.upper)"
        assert repr(t.map_text(shout)) == (
            f"map_text({__name__}.TestMapText.test_repr_shows_the_qualified_name.<locals>.shout)"
        )

    def test_a_function_returning_something_else_is_a_type_error(self) -> None:
        """A non-string result is refused with a message naming the transform."""
        with pytest.raises(TypeError, match="returned int, not str"):
            t.map_text(len)(Conversation().user("abc"))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="needs a function"):
            t.map_text("upper")  # type: ignore[arg-type]


class TestDropSamplingParams:
    def test_removes_all_three(self) -> None:
        """temperature, top_p and top_k are all removed, one change each."""
        conv = Conversation(temperature=0.2, top_p=0.9, top_k=5)
        out, changes = t.drop_sampling_params().explain(conv)
        assert (out.temperature, out.top_p, out.top_k) == (UNSET, UNSET, UNSET)
        assert [c.path for c in changes] == ["$.temperature", "$.top_p", "$.top_k"]

    def test_null_values_are_removed_too(self) -> None:
        """A JSON null sampling parameter is still a key the 2026-10-21 API rejects."""
        assert t.drop_sampling_params()(Conversation(temperature=None)).temperature is UNSET


class TestStripPrefill:
    def test_removes_a_final_assistant_turn(self) -> None:
        """The prefill goes; the conversation ends with the user turn."""
        conv = Conversation().user("Hi").assistant("Sure:")
        assert t.strip_prefill()(conv).messages == (Message("user", "Hi"),)

    def test_whitespace_only_strips_the_end_of_the_final_text(self) -> None:
        """Trailing whitespace goes, blank final text blocks too; the rest stays."""
        conv = Conversation().user("Hi").assistant(Text("The answer is "), Text(" \n"))
        out = t.strip_prefill(whitespace_only=True)(conv)
        assert out.messages[-1].content == (Text("The answer is"),)
        blank = Conversation().user("Hi").assistant("   ")
        assert t.strip_prefill(whitespace_only=True)(blank).messages == (Message("user", "Hi"),)

    def test_no_prefill_is_a_no_op(self) -> None:
        """Ending with a user turn, or a clean prefill with whitespace_only, returns the input."""
        conv = Conversation().user("Hi")
        assert t.strip_prefill()(conv) is conv
        clean = conv.assistant("ok")
        assert t.strip_prefill(whitespace_only=True)(clean) is clean

    def test_validates_after_stripping_on_a_model_without_prefill(self) -> None:
        """On Opus 4.8 a stored transcript ending with the reply validates once stripped."""
        conv = Conversation(model="claude-opus-4-8", max_tokens=64).user("Hi").assistant("Hello!")
        assert not validate(conv).ok
        assert validate(t.strip_prefill()(conv)).ok

    def test_a_paused_server_tool_turn_is_not_a_prefill(self) -> None:
        """An assistant turn ending in a server tool block is sent back to continue: it stays."""
        conv = Conversation().user("Search").assistant(
            ServerToolUse("srvtoolu_1", "web_search", {"query": "x"}), WebSearchToolResult("srvtoolu_1", ())
        )
        assert t.strip_prefill()(conv) is conv


class TestImagesInOtherTransforms:
    def test_image_objects_are_kept_identical_by_text_transforms(self) -> None:
        """redact and map_text never rebuild an image block."""
        img = png_image()
        conv = Conversation().user("x", img)
        out = t.redact("x")(conv)
        assert out.messages[0].content[1] is img

    def test_attach_then_drop_round_trip(self) -> None:
        """Attaching an image and dropping images gives back the same messages."""
        conv = Conversation().user("What is this?")
        out = t.drop_images()(conv.with_image(Image.from_url("https://example.com/a.png")))
        assert out.messages[0].content == (Text("What is this?"),)


class TestEmptiedTurnsNextToSystemMessages:
    def test_an_image_only_turn_before_a_system_message_keeps_a_placeholder(self) -> None:
        """The system message needs the user turn before it, so the turn stays as "[image]"."""
        conv = Conversation(model="claude-opus-4-8", max_tokens=8).user(URL_IMAGE).system_message("Describe it.")
        out, changes = t.drop_images().explain(conv)
        assert out.messages[0] == Message("user", (Text("[image]"),))
        assert "a system message follows it" in changes[-1].why
        assert validate(out).ok

    def test_a_thinking_only_turn_after_a_system_message_stays(self) -> None:
        """The system message needs an assistant turn after it, so that turn is kept whole."""
        conv = (Conversation(model="claude-opus-4-8", max_tokens=8).user("q").system_message("Think.")
                .assistant(Thinking("t", "s")).user("next").assistant(Thinking("t2", "s2"), "A").user("ok"))
        out = t.strip_thinking()(conv)
        assert out is conv
        assert validate(out).ok


class TestTrailingAssistantRun:
    def test_strip_prefill_removes_the_whole_trailing_assistant_run(self) -> None:
        """Consecutive final assistant turns are one prefill (the API merges them), so all go at once."""
        from convo import Conversation, Message
        from convo import transforms as t

        conv = Conversation(model="claude-opus-4-8", max_tokens=64, messages=[
            Message("user", "Hi"), Message("assistant", "A"), Message("assistant", "B")])
        out, changes = t.strip_prefill().explain(conv)
        assert [m.role for m in out.messages] == ["user"]
        assert [c.path for c in changes] == ["$.messages[2]", "$.messages[1]"]
        assert t.strip_prefill()(out) is out

    def test_migrate_is_a_fixed_point_after_two_trailing_assistant_turns(self) -> None:
        """migrate leaves nothing for a second pass when the history ends in two assistant turns."""
        from convo import Conversation, Message
        from convo import transforms as t

        conv = Conversation(model="claude-opus-4-8", max_tokens=64, messages=[
            Message("assistant", ()), Message("assistant", ())])
        once = t.migrate(model="claude-opus-4-8")(conv)
        assert once.messages == ()
        assert t.migrate(model="claude-opus-4-8")(once) is once
