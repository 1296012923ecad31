"""Tests for convo.transforms: the Transform machinery, pipeline, the registry and parse, the
builders, and the promises every built-in keeps (no mutation, repr parses back)."""

from __future__ import annotations

import copy
import subprocess
import sys
import warnings

import pytest

import convo
from convo import (
    UNSET,
    Conversation,
    FrozenDict,
    Image,
    Message,
    Text,
    ToolResult,
    ToolUse,
    TransformError,
)
from convo import transforms as t
from convo.model import WebSearchToolResult
from convo.rules import validate
from convo.transforms import Change, Transform, parse, parse_pipeline, pipeline, register
from tests._helpers_transforms import (
    agent_transcript,
    parseable_transforms,
    png,
    rich_conversation,
    stored_transcript_transforms,
)

OPUS = "claude-opus-4-8"  # mid-conversation system: yes; prefill: no
SONNET45 = "claude-sonnet-4-5"  # mid-conversation system: no; prefill: yes


def base(model: str = OPUS) -> Conversation:
    return Conversation(model=model, max_tokens=256)


class TestTransformMachinery:
    def test_repr_is_the_call_that_made_it(self) -> None:
        """A built-in factory's repr is its call text, the brief's own example included."""
        assert repr(t.keep_last_turns(n=8)) == "keep_last_turns(n=8)"
        assert repr(t.drop_images()) == "drop_images()"
        assert repr(t.inject_system("Be terse.", where="top")) == "inject_system('Be terse.', where='top')"
        assert repr(t.redact("x", replacement="y")) == "redact('x', replacement='y')"

    def test_default_arguments_are_left_out_of_the_repr(self) -> None:
        """Optional arguments at their defaults do not clutter the repr."""
        assert repr(t.inject_system("x", where="auto")) == "inject_system('x')"
        assert repr(t.normalize(dangling="answer", orphans="text")) == "normalize()"
        assert repr(t.migrate(model=OPUS, api_version="2026-10-21")) == "migrate(model='claude-opus-4-8')"

    def test_equal_factories_give_equal_and_hashable_transforms(self) -> None:
        """Two calls with the same arguments are equal and hash alike; other arguments differ."""
        assert t.keep_last_turns(n=3) == t.keep_last_turns(n=3)
        assert hash(t.keep_last_turns(n=3)) == hash(t.keep_last_turns(n=3))
        assert t.keep_last_turns(n=3) != t.keep_last_turns(n=4)
        assert t.drop_images() != t.strip_thinking()

    def test_calling_with_something_else_than_a_conversation_is_a_type_error(self) -> None:
        """A transform says what it expected when given a dict."""
        with pytest.raises(TypeError, match="expects a Conversation, got dict"):
            t.drop_images()({"messages": []})  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="expects a Conversation"):
            t.drop_images().explain("nope")  # type: ignore[arg-type]

    def test_explain_returns_the_same_result_as_a_call(self) -> None:
        """explain() returns what the plain call returns, plus the changes."""
        conv = base().user("Hi").with_params(temperature=0.3)
        out, changes = t.drop_sampling_params().explain(conv)
        assert out == t.drop_sampling_params()(conv)
        assert changes == (Change("drop_sampling_params", "removed temperature", "$.temperature", "drop_sampling_params()"),)

    def test_explain_on_a_no_op_returns_the_input_and_no_changes(self) -> None:
        """Nothing to do: the input object itself and an empty tuple."""
        conv = base().user("Hi")
        out, changes = t.drop_images().explain(conv)
        assert out is conv and changes == ()

    def test_change_is_a_frozen_value(self) -> None:
        """Change records cannot be edited after the fact."""
        c = Change("x", "y", "$", "z")
        with pytest.raises(AttributeError):
            c.what = "other"  # type: ignore[misc]

    def test_a_user_subclass_works_like_a_built_in(self) -> None:
        """Subclassing Transform and overriding apply gives repr, explain and pipeline support."""

        class shout(Transform):
            def __init__(self, times: int) -> None:
                super().__init__("shout", times=times)
                self.times = times

            def apply(self, conv: Conversation, log: t.ChangeLog) -> Conversation:
                log.add("shouted", "$.messages", "because")
                return conv.user("!" * self.times)

        s = shout(3)
        assert repr(s) == "shout(times=3)"
        out, changes = pipeline(t.drop_images(), s).explain(base())
        assert out.messages[-1].content == "!!!"
        assert [c.transform for c in changes] == ["shout"]


class TestPipeline:
    def test_no_transforms_is_the_identity(self) -> None:
        """pipeline() returns its input itself and reads back as pipeline()."""
        conv = base().user("Hi")
        assert pipeline()(conv) is conv
        assert repr(pipeline()) == "pipeline()"

    def test_one_transform_is_that_transform(self) -> None:
        """pipeline(x) is x, not a wrapper."""
        d = t.drop_images()
        assert pipeline(d) is d

    def test_applies_left_to_right(self) -> None:
        """The second transform sees the first one's output."""
        p = pipeline(t.append_user("a"), t.append_assistant("b"), t.append_user("c"), t.keep_last_turns(n=1))
        assert [m.content for m in p(base()).messages] == ["c"]
        p2 = pipeline(t.keep_last_turns(n=1), t.append_user("a"), t.append_assistant("b"), t.append_user("c"))
        assert [m.content for m in p2(base()).messages] == ["a", "b", "c"]

    def test_nested_pipelines_flatten(self) -> None:
        """A pipeline inside a pipeline becomes its parts, so the repr is one flat list."""
        inner = pipeline(t.drop_images(), t.strip_thinking())
        outer = pipeline(inner, t.normalize(), pipeline())
        assert repr(outer) == "pipeline(drop_images(), strip_thinking(), normalize())"

    def test_explain_labels_each_change_with_its_part(self) -> None:
        """A pipeline's changes say which part made each."""
        conv = base().user("Hi").with_params(top_k=3)
        _, changes = pipeline(t.drop_sampling_params(), t.set_model(SONNET45)).explain(conv)
        assert [(c.transform, c.path) for c in changes] == [
            ("drop_sampling_params", "$.top_k"),
            ("set_model", "$.model"),
        ]

    def test_rejects_non_transforms(self) -> None:
        """A plain function is not silently accepted as a part."""
        with pytest.raises(TypeError, match="pipeline\\(\\) takes transforms"):
            pipeline(t.drop_images(), lambda c: c)  # type: ignore[arg-type]

    def test_no_op_pipeline_returns_the_input(self) -> None:
        """A pipeline of transforms that each change nothing returns its input itself."""
        conv = base().user("Hi")
        assert pipeline(t.drop_images(), t.strip_thinking(), t.normalize())(conv) is conv


class TestRegistryAndParse:
    def test_every_builtin_is_registered(self) -> None:
        """The CLI can name every built-in factory."""
        for name in ("append_user", "append_assistant", "inject_system", "attach_image", "prefill",
                     "with_params", "set_model", "drop_images", "strip_thinking", "merge_adjacent_roles",
                     "keep_last_turns", "trim_to_tokens", "redact", "map_text", "drop_sampling_params",
                     "strip_prefill", "normalize", "migrate"):
            assert name in t.REGISTRY and t.REGISTRY[name] is getattr(t, name)

    @pytest.mark.parametrize("tr", parseable_transforms(), ids=repr)
    def test_repr_parses_back_to_an_equal_transform(self, tr: Transform) -> None:
        """parse(repr(x)) == x for every parseable built-in (and pipelines of them)."""
        back = parse(repr(tr))
        assert back == tr
        assert repr(back) == repr(tr)

    def test_parsed_transform_behaves_like_the_original(self) -> None:
        """The parsed transform does the same work (not just the same repr)."""
        rich, agent = rich_conversation(), agent_transcript()
        cases = [
            ("keep_last_turns(n=2)", t.keep_last_turns(n=2), agent),
            ('redact("ann", replacement="X")', t.redact("ann", replacement="X"), rich),
            ("normalize()", t.normalize(), rich),
            ("migrate(model='claude-opus-4-8')", t.migrate(model=OPUS), rich),
        ]
        for text, tr, conv in cases:
            assert parse(text)(conv) == tr(conv) != conv

    def test_parse_accepts_double_quotes_and_spaces(self) -> None:
        """The CLI form with double quotes and spaces parses."""
        assert parse('  inject_system( "Be terse." , where = "top" ) ') == t.inject_system("Be terse.", where="top")

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("keep_last_turns(n=N)", "argument n= of keep_last_turns\\(\\) is not a literal: N"),
            ("keep_last_turns(n=os.environ)", "is not a literal: os.environ"),
            ("redact(open('x').read())", "argument 1 of redact\\(\\) is not a literal: open\\('x'\\).read\\(\\)"),
            ("keep_last_turns(n=1 + 1)", "is not a literal: 1 \\+ 1"),
            ("keep_last_turns(*[1])", "\\*arguments are not allowed"),
            ("inject_system(**{'text': 'x'})", "\\*\\*arguments are not allowed"),
            ("t.drop_images()", "t.drop_images is not a transform name"),
            ("__import__('os').system('true')", "is not a transform name"),
            ("drop_images", "did you mean drop_images\\(\\)"),
            ("keep_last_turns(n=", "cannot parse"),
            ("42", "is not a transform call"),
            ("pipeline(drop_images(), x)", "is not a transform call"),
            ("pipeline(drop_images(), keep=1)", "no keywords"),
        ],
    )
    def test_anything_but_literals_is_refused(self, text: str, message: str) -> None:
        """Names, attributes, calls, operators and starred arguments are ValueErrors, never run."""
        with pytest.raises(ValueError, match=message):
            parse(text)

    def test_an_unknown_name_lists_the_known_ones(self) -> None:
        """The error for a typo names every transform the user could have meant."""
        with pytest.raises(ValueError) as e:
            parse("drop_image()")
        msg = str(e.value)
        assert "unknown transform 'drop_image'" in msg
        for name in ("drop_images", "keep_last_turns", "migrate", "pipeline"):
            assert name in msg

    def test_factory_argument_errors_become_value_errors_naming_the_text(self) -> None:
        """A wrong argument (name, type, value) says which text it came from."""
        with pytest.raises(ValueError, match="keep_last_turns\\(m=3\\)"):
            parse("keep_last_turns(m=3)")
        with pytest.raises(ValueError, match="positive integer"):
            parse("keep_last_turns(n=0)")
        with pytest.raises(ValueError, match="not a valid regular expression"):
            parse("redact('(')")

    def test_map_text_does_not_parse_back_by_design(self) -> None:
        """map_text's repr names a function; parse refuses names, so it cannot come back."""
        text = repr(t.map_text(str.upper))
        assert text == "map_text(str.upper)"
        with pytest.raises(ValueError, match="not a literal"):
            parse(text)

    def test_parse_pipeline_keeps_order(self) -> None:
        """Several texts give one pipeline in the order given."""
        p = parse_pipeline(["drop_images()", "keep_last_turns(n=2)"])
        assert p == pipeline(t.drop_images(), t.keep_last_turns(n=2))
        assert parse_pipeline([]) == pipeline()
        with pytest.raises(TypeError):
            parse_pipeline("drop_images()")

    def test_register_adds_a_parseable_user_transform(self) -> None:
        """A registered factory is reachable through parse, then can be removed."""

        @register
        def add_footer(text: str = "--") -> Transform:
            return t.append_user(text)

        try:
            assert parse("add_footer('bye')")(base()).messages[-1].content == "bye"
        finally:
            del t.REGISTRY["add_footer"]

    def test_register_refuses_to_shadow_a_name_unless_asked(self) -> None:
        """Registering over a built-in needs replace=True; bad names are refused."""

        def drop_images() -> Transform:
            return t.strip_thinking()

        with pytest.raises(ValueError, match="already registered"):
            register(drop_images)
        with pytest.raises(ValueError, match="already registered"):
            register(name="pipeline")(drop_images)
        with pytest.raises(ValueError, match="identifier"):
            register(name="not valid")(drop_images)
        original = t.REGISTRY["drop_images"]
        register(name="drop_images", replace=True)(drop_images)
        try:
            assert t.REGISTRY["drop_images"] is drop_images
        finally:
            t.REGISTRY["drop_images"] = original


class TestAppend:
    def test_a_single_string_stays_string_content(self) -> None:
        """append_user("x") writes back as "content": "x", not a list."""
        out = t.append_user("Hello, Claude")(base())
        assert out.messages == (Message("user", "Hello, Claude"),)
        assert convo.dumps(out).count(b'"content":"Hello, Claude"') == 1

    def test_several_parts_become_blocks_in_order(self) -> None:
        """Strings and blocks keep their order; strings become text blocks."""
        img = Image.from_url("https://example.com/a.png")
        out = t.append_user(img, "What is this?")(base())
        assert out.messages[0].content == (img, Text("What is this?"))

    def test_assistant_turn_appends_after_user(self) -> None:
        """append_assistant after a user turn keeps the conversation valid (guide example)."""
        out = base().user("Hello, Claude").assistant("Hello!").user("Can you describe LLMs to me?")
        assert [m.role for m in out.messages] == ["user", "assistant", "user"]
        assert validate(out).ok

    def test_no_parts_or_bad_parts_are_refused(self) -> None:
        """An empty turn cannot be built; a non-block says what it got."""
        with pytest.raises(ValueError, match="at least one part"):
            t.append_user()
        with pytest.raises(TypeError, match="got int"):
            t.append_assistant(3)  # type: ignore[arg-type]

    def test_explain_names_the_new_index(self) -> None:
        """The change points at the appended message."""
        _, changes = t.append_user("x").explain(base().user("a").assistant("b"))
        assert changes[0].path == "$.messages[2]"


class TestInjectSystem:
    def test_top_sets_a_missing_system_as_given(self) -> None:
        """With no system, top sets it: a string stays a string."""
        out = t.inject_system("Be terse.", where="top")(base().user("Hi"))
        assert out.system == "Be terse."
        assert out.messages == base().user("Hi").messages

    def test_top_appends_another_text_block_to_an_existing_system(self) -> None:
        """An existing system gets the new text as another block, not concatenated."""
        conv = base().with_system("You answer briefly.").user("Hi")
        out = t.inject_system("Be terse.", where="top")(conv)
        assert out.system == (Text("You answer briefly."), Text("Be terse."))

    def test_top_replace_replaces(self) -> None:
        """replace=True drops what was there."""
        conv = base().with_system("Old.")
        assert t.inject_system("New.", where="top", replace=True)(conv).system == "New."

    def test_with_system_sets_rather_than_appends(self) -> None:
        """The fluent with_system sets the field: calling it twice keeps the last value."""
        assert base().with_system("a").with_system("b").system == "b"
        assert base().with_system([Text("a"), Text("b")]).system == (Text("a"), Text("b"))

    def test_message_after_a_user_turn_is_valid_on_a_model_that_has_them(self) -> None:
        """where='message' on Opus 4.8 after a user turn validates."""
        out = t.inject_system("Be terse.", where="message")(base().user("Hi"))
        assert out.messages[-1] == Message("system", "Be terse.")
        assert validate(out).ok

    def test_message_after_tool_results_is_allowed(self) -> None:
        """A tool-result user turn counts as a user turn (facts §1.5)."""
        conv = base().user("Weather?").assistant(ToolUse("toolu_1", "w", {})).user(ToolResult("toolu_1", content="sunny"))
        out = t.inject_system("Answer in French.", where="message")(conv)
        assert out.messages[-1].role == "system" and validate(out).ok

    def test_message_after_a_paused_server_tool_turn_is_allowed(self) -> None:
        """An assistant turn ending in a server tool result counts too (facts §1.5)."""
        conv = base().user("Search").assistant(
            convo.ServerToolUse("srvtoolu_1", "web_search", {"query": "x"}),
            WebSearchToolResult("srvtoolu_1", []),
        )
        out = t.inject_system("Be brief.", where="message")(conv)
        assert out.messages[-1].role == "system"
        assert validate(out).ok, validate(out).errors

    def test_message_after_a_turn_ending_in_a_server_tool_call_is_refused(self) -> None:
        """A turn ending in server_tool_use (no result yet) does not count: only a result does, as
        validate() checks, so where='message' refuses and auto goes to the top level."""
        conv = base().user("Search").assistant(convo.ServerToolUse("srvtoolu_1", "web_search", {"query": "x"}))
        assert validate(conv).ok
        with pytest.raises(TransformError, match=r"the last turn here is an assistant turn \(rule system-message.not-after-user\)"):
            t.inject_system("Be brief.", where="message")(conv)
        out = t.inject_system("Be brief.")(conv)
        assert out.system == "Be brief." and out.messages == conv.messages
        assert validate(out).ok, validate(out).errors

    def test_message_on_a_model_without_them_says_why_and_what_to_do(self) -> None:
        """Sonnet 4.5 has no mid-conversation system messages: the error names the fix."""
        with pytest.raises(TransformError, match=r"claude-sonnet-4-5' does not accept mid-conversation system messages \(rule system-message.unsupported-model\); use where='top'"):
            t.inject_system("x", where="message")(base(SONNET45).user("Hi"))

    def test_message_first_is_refused(self) -> None:
        """A system message cannot be messages[0]."""
        with pytest.raises(TransformError, match=r"cannot be the first message \(rule system-message.first\); use where='top'"):
            t.inject_system("x", where="message")(base())

    def test_message_after_an_assistant_turn_is_refused(self) -> None:
        """A system message must follow a user turn: after an assistant turn it is refused."""
        with pytest.raises(TransformError, match=r"the last turn here is an assistant turn \(rule system-message.not-after-user\); append it after the next user turn"):
            t.inject_system("x", where="message")(base().user("Hi").assistant("Hello"))

    def test_message_after_a_system_section_follows_the_section_rule(self) -> None:
        """Consecutive system messages are one section: a second after user+system is fine."""
        conv = base().user("Hi").system_message("One.")
        out = conv.system_message("Two.")
        assert [m.role for m in out.messages] == ["user", "system", "system"] and validate(out).ok

    def test_auto_prefers_the_cache_friendly_message_and_says_so(self) -> None:
        """On a model with system messages, auto appends one and explains the cache reason."""
        conv = base().with_system("Base.").user("Hi")
        out, changes = t.inject_system("Be terse.").explain(conv)
        assert out.system == "Base." and out.messages[-1] == Message("system", "Be terse.")
        assert changes[0].what == "appended a system message"
        assert "keeps the cached prefix" in changes[0].why

    def test_auto_falls_back_to_top_on_a_model_without_messages(self) -> None:
        """On Sonnet 4.5 auto edits the top-level system and says why."""
        out, changes = t.inject_system("Be terse.").explain(base(SONNET45).user("Hi"))
        assert out.system == "Be terse." and len(out.messages) == 1
        assert changes[0].path == "$.system" and "does not accept mid-conversation system messages" in changes[0].why

    def test_auto_falls_back_to_top_where_placement_forbids_a_message(self) -> None:
        """After an assistant turn, or with no messages, auto goes to the top level."""
        out = t.inject_system("x")(base().user("Hi").assistant("Hello"))
        assert out.system == "x" and len(out.messages) == 2
        assert t.inject_system("x")(base()).system == "x"

    def test_auto_with_replace_edits_the_top(self) -> None:
        """replace=True means the top-level system even where a message would fit."""
        out = t.inject_system("x", replace=True)(base().with_system("old").user("Hi"))
        assert out.system == "x" and len(out.messages) == 1

    def test_bad_arguments_are_refused_at_construction(self) -> None:
        """Empty text, an unknown place, or replace with message fail before any conversation."""
        with pytest.raises(ValueError, match="non-empty"):
            t.inject_system("")
        with pytest.raises(ValueError, match="'auto', 'top' or 'message'"):
            t.inject_system("x", where="bottom")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="cannot go with where='message'"):
            t.inject_system("x", where="message", replace=True)
        with pytest.raises(ValueError, match="non-empty text blocks"):
            t.inject_system((Text(""),))

    def test_same_system_again_is_a_no_op_with_replace(self) -> None:
        """Setting the system it already has returns the input itself."""
        conv = base().with_system("Same.")
        assert t.inject_system("Same.", where="top", replace=True)(conv) is conv


class TestAttachImage:
    def test_url_goes_to_the_end_of_the_last_user_turn(self) -> None:
        """A URL becomes a url-source image appended to the final user turn."""
        out = t.attach_image("https://example.com/ant.jpg")(base().user("What is this?"))
        assert out.messages[-1].content == (Text("What is this?"), Image.from_url("https://example.com/ant.jpg"))

    def test_path_is_read_once_with_the_type_from_the_bytes(self, tmp_path: object) -> None:
        """A path is read at construction; the media type comes from the magic number."""
        from pathlib import Path

        p = Path(str(tmp_path)) / "ant.jpg"  # the name lies; the bytes are PNG
        p.write_bytes(png(10, 20))
        tr = t.attach_image(p)
        p.unlink()  # already read: applying does not touch the file
        out = tr(base().user("Look"))
        img = out.messages[-1].content[-1]
        assert isinstance(img, Image) and img.media_type == "image/png" and img.size() == (10, 20)
        assert repr(tr) == f"attach_image({str(p)!r})"

    def test_a_new_turn_after_an_assistant_turn_or_when_asked(self) -> None:
        """After an assistant turn, or with new_turn=True, the image gets its own user turn."""
        img = Image.from_url("https://example.com/a.png")
        out = t.attach_image(img)(base().user("Hi").assistant("Hello"))
        assert out.messages[-1] == Message("user", (img,))
        out2 = t.attach_image(img, new_turn=True)(base().user("Hi"))
        assert [m.role for m in out2.messages] == ["user", "user"]

    def test_tool_results_stay_first(self) -> None:
        """Attached to a tool-result turn, the image goes after the results."""
        conv = base().user("Go").assistant(ToolUse("toolu_1", "x", {})).user(ToolResult("toolu_1", content="done"))
        out = t.attach_image("https://example.com/a.png")(conv)
        assert isinstance(out.messages[-1].content[0], ToolResult) and validate(out).ok

    def test_other_things_and_non_images_are_refused(self, tmp_path: object) -> None:
        """A number is a TypeError; a file that is not an image names itself."""
        from pathlib import Path

        with pytest.raises(TypeError, match="an Image, a URL or a path"):
            t.attach_image(42)  # type: ignore[arg-type]
        p = Path(str(tmp_path)) / "doc.pdf"
        p.write_bytes(b"%PDF-1.4 whatever")
        with pytest.raises(convo.errors.ImageError, match=r"doc.pdf is not a jpeg"):
            t.attach_image(p)


class TestPrefill:
    def test_guide_example_on_a_model_that_accepts_prefill(self) -> None:
        """The guide's multiple-choice prefill on Sonnet 4.5 matches its JSON exactly."""
        conv = (
            Conversation(model=SONNET45, max_tokens=1)
            .user("What is latin for Ant? (A) Apoidea, (B) Rhopalocera, (C) Formicidae")
            .prefill("The answer is (")
        )
        assert convo.dumps(conv) == convo.dumps(convo.loads(
            b'{"model": "claude-sonnet-4-5", "max_tokens": 1, "messages": [{"role": "user", "content": '
            b'"What is latin for Ant? (A) Apoidea, (B) Rhopalocera, (C) Formicidae"}, '
            b'{"role": "assistant", "content": "The answer is ("}]}'
        ))
        assert validate(conv).ok

    def test_refused_on_a_model_without_prefill(self) -> None:
        """Opus 4.8 rejects prefill: the error quotes the API and says what to do instead."""
        with pytest.raises(TransformError, match=r"does not support assistant message prefill.*instead"):
            t.prefill("Sure")(base(OPUS).user("Hi"))

    def test_refused_with_thinking_on(self) -> None:
        """A prefill cannot go with thinking."""
        conv = base(SONNET45).with_params(thinking={"type": "enabled", "budget_tokens": 1024}).user("Hi")
        with pytest.raises(TransformError, match="thinking"):
            t.prefill("Sure")(conv)

    def test_refused_when_there_is_no_user_turn_to_continue(self) -> None:
        """An empty conversation, or one already ending with the assistant, is refused."""
        with pytest.raises(TransformError, match="is empty"):
            t.prefill("x")(base(SONNET45))
        with pytest.raises(TransformError, match="already ends with an assistant turn"):
            t.prefill("x")(base(SONNET45).user("a").assistant("b"))

    def test_trailing_whitespace_is_refused_at_construction(self) -> None:
        """The API rejects a prefill ending in whitespace [OBS]; the factory refuses it up front."""
        with pytest.raises(ValueError, match="trailing whitespace"):
            t.prefill("The answer is ")
        with pytest.raises(ValueError, match="non-empty"):
            t.prefill("")


class TestWithParams:
    def test_known_parameters_go_to_their_fields_frozen(self) -> None:
        """Lists become tuples and dicts FrozenDicts; the input is untouched."""
        conv = base()
        out = t.with_params(temperature=0.2, stop_sequences=["a"], tool_choice={"type": "auto"})(conv)
        assert out.temperature == 0.2 and out.stop_sequences == ("a",)
        assert type(out.tool_choice) is FrozenDict
        assert conv.temperature is UNSET

    def test_unknown_parameters_go_to_extra_and_round_trip(self) -> None:
        """A key convo does not model is kept in extra and written back."""
        out = t.with_params(speed="fast", context_management={"edits": []})(base().user("Hi"))
        assert dict(out.extra) == {"speed": "fast", "context_management": FrozenDict({"edits": ()})}
        assert convo.loads(convo.dumps(out)) == out

    def test_unset_removes_a_parameter(self) -> None:
        """UNSET removes a field or an extra key."""
        conv = t.with_params(temperature=0.2, speed="fast")(base())
        out = t.with_params(temperature=UNSET, speed=UNSET)(conv)
        assert out.temperature is UNSET and "speed" not in out.extra
        assert repr(t.with_params(temperature=UNSET)) == "with_params(temperature=UNSET)"

    def test_setting_what_is_there_returns_the_input(self) -> None:
        """Same values: the input object itself, for fields and extra keys alike."""
        conv = t.with_params(temperature=0.2, speed="fast", stop_sequences=["a"])(base())
        assert t.with_params(temperature=0.2, speed="fast", stop_sequences=("a",))(conv) is conv
        fresh = base()
        assert t.with_params(speed=UNSET, top_k=UNSET)(fresh) is fresh

    def test_an_int_is_not_the_same_as_a_float(self) -> None:
        """temperature=1 and temperature=1.0 are different JSON, so setting one over the other changes it."""
        conv = t.with_params(temperature=1)(base())
        out = t.with_params(temperature=1.0)(conv)
        assert out is not conv and convo.dumps(out) != convo.dumps(conv)

    def test_messages_and_extra_are_not_parameters(self) -> None:
        """Turns are built with the builders, not with_params."""
        with pytest.raises(ValueError, match="append_user"):
            t.with_params(messages=[])
        with pytest.raises(ValueError, match="not a request parameter"):
            t.with_params(extra={})

    def test_system_takes_text_only(self) -> None:
        """A system given as raw dicts is refused (the field holds Text blocks)."""
        assert t.with_params(system="Be brief.")(base()).system == "Be brief."
        with pytest.raises(ValueError, match="inject_system"):
            t.with_params(system=[{"type": "text", "text": "x"}])

    def test_explain_lists_each_parameter(self) -> None:
        """One change per parameter set or removed."""
        conv = t.with_params(top_p=0.5)(base())
        _, changes = t.with_params(top_p=UNSET, speed="fast", max_tokens=256).explain(conv)
        assert [(c.what, c.path) for c in changes] == [("removed top_p", "$.top_p"), ("set speed", "$.speed")]


class TestSetModel:
    def test_sets_only_the_model(self) -> None:
        """set_model changes the model and nothing else."""
        conv = base().user("Hi").with_params(temperature=0.3)
        out = t.set_model(SONNET45)(conv)
        assert out.model == SONNET45 and out.messages is conv.messages and out.temperature == 0.3

    def test_same_model_is_a_no_op(self) -> None:
        """Setting the model it has returns the input."""
        conv = base()
        assert t.set_model(OPUS)(conv) is conv
        with pytest.raises(ValueError):
            t.set_model("")


class TestPromisesOfEveryBuiltin:
    @pytest.mark.parametrize("tr", stored_transcript_transforms(), ids=repr)
    def test_the_input_is_unchanged(self, tr: Transform) -> None:
        """The input's encoded form is the same after the transform (no mutation anywhere)."""
        conv = rich_conversation()
        before = convo.dumps(conv)
        snapshot = copy.deepcopy(conv)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tr(conv)
            tr.explain(conv)
        assert convo.dumps(conv) == before
        assert conv == snapshot

    @pytest.mark.parametrize("tr", stored_transcript_transforms(), ids=repr)
    def test_output_encodes_and_decodes_losslessly(self, tr: Transform) -> None:
        """Whatever a transform builds is a value the codec writes and reads back equal."""
        out = tr(rich_conversation())
        assert convo.loads(convo.dumps(out)) == out

    @pytest.mark.parametrize(
        "tr",
        [t.drop_images(), t.drop_images(placeholder="[img]"), t.strip_thinking(), t.merge_adjacent_roles(),
         t.keep_last_turns(n=50), t.trim_to_tokens(budget=10**9), t.redact("zebra"), t.map_text(str),
         t.drop_sampling_params(), t.strip_prefill(), t.strip_prefill(whitespace_only=True),
         t.normalize(), t.migrate(model=OPUS), t.set_model(OPUS), t.with_params(max_tokens=256),
         t.drop_unknown_fields(),
         t.inject_system("You answer briefly.", where="top", replace=True), pipeline()],
        ids=repr,
    )
    def test_a_transform_with_nothing_to_do_returns_its_input(self, tr: Transform) -> None:
        """On a conversation it has nothing to change, each built-in returns the object itself."""
        conv = (
            Conversation(model=OPUS, max_tokens=256, system="You answer briefly.")
            .user("What's the weather?")
            .assistant(ToolUse("toolu_1", "weather", {}))
            .user(ToolResult("toolu_1", content="sunny"))
            .assistant("It is sunny.")
            .user("Thanks")
        )
        assert tr(conv) is conv
        out, changes = tr.explain(conv)
        assert out is conv and changes == ()


class TestAttachImageAroundSystemMessages:
    def test_the_user_turn_before_a_trailing_system_message_gets_the_image(self) -> None:
        """A trailing system section is not a turn: the image joins the user turn before it."""
        img = Image.from_url("https://example.com/a.png")
        conv = base().user("Look").system_message("Be brief.")
        out = t.attach_image(img)(conv)
        assert out.messages == (Message("user", (Text("Look"), img)), Message("system", "Be brief."))
        assert validate(out).ok

    def test_a_new_turn_goes_before_a_trailing_system_message(self) -> None:
        """new_turn=True puts the image turn before the system section, which stays last."""
        img = Image.from_url("https://example.com/a.png")
        out = t.attach_image(img, new_turn=True)(base().user("Look").system_message("Be brief."))
        assert [m.role for m in out.messages] == ["user", "user", "system"]
        assert validate(out).ok


class TestRegistryCoverage:
    def test_every_registered_builtin_but_map_text_has_a_round_trip_case(self) -> None:
        """The round-trip cases cover every registered name (map_text is unparseable by design)."""
        covered = {tr.name for tr in parseable_transforms()}
        covered |= {p.name for tr in parseable_transforms() if isinstance(tr, t._base.Pipeline) for p in tr.parts}
        builtins = {name for name, f in t.REGISTRY.items() if f.__module__.startswith("convo.transforms")}
        assert builtins - covered == {"map_text"}


class TestLoadedOnFirstUse:
    """The transforms' modules are imported when one of their names is first read (issue 14:
    a run of drop_images() loads neither the secrets' detectors, the repairs nor the rules), and
    REGISTRY is whole whenever it is read as a whole."""

    MODULES = ("build", "repair", "secrets", "tokens", "transcript", "unknown")

    @staticmethod
    def fresh(code: str) -> str:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def test_the_table_of_homes_is_the_modules(self) -> None:
        """Every lazily loaded name is defined by the module the table names, every registered
        built-in transform's module is in the table, and ``__all__`` is the table plus the eager names."""
        import importlib

        from convo.transforms._base import HOMES as _HOMES

        for name, home in _HOMES.items():
            module = importlib.import_module(f"convo.transforms.{home}")
            value = getattr(module, name)
            assert getattr(value, "__module__", module.__name__) in (module.__name__, "convo.transforms._base"), name
        for name, factory in t.REGISTRY.items():
            if factory.__module__.startswith("convo.transforms."):
                assert _HOMES.get(name) == factory.__module__.rsplit(".", 1)[1], name
        eager = {"Transform", "Change", "ChangeLog", "pipeline", "REGISTRY", "register", "parse", "parse_pipeline"}
        assert set(t.__all__) == set(_HOMES) | eager

    def test_registry_is_whole_when_read_as_a_whole(self) -> None:
        """In a fresh process: iterating, sizing, copying, comparing or printing REGISTRY loads
        every module first, so each gives the full set of names."""
        whole = sorted(t.REGISTRY)
        assert len(whole) >= 20 and "scrub_secrets" in whole and "migrate" in whole
        for read in ("sorted(REGISTRY)", "sorted(dict(REGISTRY))", "sorted({**REGISTRY})", "sorted(REGISTRY.keys())",
                     "sorted(k for k, _ in REGISTRY.items())", "sorted(REGISTRY.copy())", "sorted(REGISTRY | {})",
                     "sorted({} | REGISTRY)", "sorted(reversed(REGISTRY))", "sorted(__import__('copy').copy(REGISTRY))",
                     "sorted(__import__('pickle').loads(__import__('pickle').dumps(REGISTRY)))"):
            got = self.fresh(f"from convo.transforms import REGISTRY; print({read})")
            assert got == str(whole), read
        assert self.fresh("from convo.transforms import REGISTRY; print(len(REGISTRY))") == str(len(whole))
        assert self.fresh("from convo.transforms import REGISTRY; print(REGISTRY == dict(REGISTRY))") == "True"

    def test_a_name_loads_its_module_only(self) -> None:
        code = (
            "import sys; from convo.transforms import REGISTRY; import convo.transforms as t\n"
            "def loaded(): return sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('convo.transforms.')"
            " and m.rsplit('.', 1)[1] in {ms!r})\n"
            "print(loaded())\n"
            "print('migrate' in REGISTRY, loaded())\n"
            "print(REGISTRY.get('drop_unknown_fields') is not None, loaded())\n"
            "print(REGISTRY['inject_system'].__name__, loaded())\n"
            "print(t.scrub_text.__name__, loaded())\n"
            "print(REGISTRY.get('no_such'), 'no_such' in REGISTRY, loaded())\n"
        ).replace("{ms!r}", repr(set(self.MODULES)))
        lines = self.fresh(code).splitlines()
        assert lines == [
            "[]",
            "True ['repair', 'tokens', 'transcript', 'unknown']",  # (repair uses transcript and unknown)
            "True ['repair', 'tokens', 'transcript', 'unknown']",
            "inject_system ['build', 'repair', 'tokens', 'transcript', 'unknown']",
            "scrub_text ['build', 'repair', 'secrets', 'tokens', 'transcript', 'unknown']",
            "None False ['build', 'repair', 'secrets', 'tokens', 'transcript', 'unknown']",
        ]

    def test_a_name_not_yet_loaded_can_be_removed_and_put_back(self) -> None:
        code = (
            "from convo.transforms import REGISTRY\n"
            "f = REGISTRY.pop('scrub_secrets'); print('scrub_secrets' in REGISTRY)\n"
            "REGISTRY.setdefault('scrub_secrets', f); print(REGISTRY['scrub_secrets'] is f)\n"
            "del REGISTRY['migrate']; print('migrate' in REGISTRY, REGISTRY.get('migrate'))\n"
        )
        assert self.fresh(code).split() == ["False", "True", "False", "None"]

    def test_a_builtin_name_not_yet_loaded_is_still_taken(self) -> None:
        """register() refuses a built-in transform's name before its module is loaded, as after."""
        code = (
            "from convo.transforms import register\n"
            "try:\n"
            "    register(name='scrub_secrets')(lambda: None)\n"
            "except ValueError as e:\n"
            "    print('refused:', e)\n"
        )
        assert self.fresh(code).startswith("refused:")

    def test_the_package_attribute_is_the_function(self) -> None:
        """``convo.transforms.parse`` is the function, however its module was loaded first."""
        code = "import convo.transforms.parse, convo.transforms as t; print(callable(t.parse), type(t.parse).__name__)"
        assert self.fresh(code) == "True function"
        assert self.fresh("from convo.transforms import *; print(drop_images.__module__, scrub_secrets.__module__)") == (
            "convo.transforms.transcript convo.transforms.secrets")
