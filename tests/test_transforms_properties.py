"""Property tests over generated conversations: no transform mutates its input, idempotent
transforms return their input the second time, and the builders keep valid conversations valid."""

from __future__ import annotations

import contextlib
import warnings

from hypothesis import given, settings
from hypothesis import strategies as st

import convo
from convo import Conversation, Image, TransformError
from convo import transforms as t
from convo.rules import validate
from convo.strategies import conversations
from tests._helpers_transforms import broken_histories, stored_transcript_transforms

# every built-in that rewrites a stored transcript (the list the example tests use too)
TRANSCRIPT_TRANSFORMS = stored_transcript_transforms()

# applying one of these to its own output changes nothing: the second call returns its input
IDEMPOTENT = [
    t.drop_images(),
    t.drop_images(placeholder="[image]"),
    t.strip_thinking(),
    t.merge_adjacent_roles(),
    t.keep_last_turns(n=3),
    t.trim_to_tokens(budget=2000),
    t.redact(r"\d+", replacement="#"),
    t.drop_sampling_params(),
    t.strip_prefill(whitespace_only=True),
    t.normalize(),
    t.normalize(dangling="drop", orphans="drop"),
    t.migrate(model="claude-opus-4-8"),
    t.migrate(model="claude-sonnet-4-5", api_version="2023-06-01"),
    t.set_model("claude-haiku-4-5"),
    t.with_params(temperature=0.5, speed="fast"),
    t.inject_system("Extra rule.", where="top", replace=True),
    t.scrub_secrets(),
    t.scrub_secrets(keyed=True, pii=True, base64="drop"),
]

any_conversation = st.one_of(
    conversations(model="claude-opus-4-8", tools=True, images=True, thinking=True, mid_system=True),
    conversations(model="claude-sonnet-4-5", api_version="2023-06-01", tools=True, images=True, prefill=True),
    broken_histories(),
)


def _quiet(tr: t.Transform, conv: Conversation) -> Conversation | None:
    """tr(conv), or None where the transform refuses this input (a documented TransformError)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return tr(conv)
        except TransformError:
            return None


class TestNoMutation:
    @given(any_conversation, st.sampled_from(TRANSCRIPT_TRANSFORMS))
    @settings(max_examples=150)
    def test_the_input_encodes_the_same_after_any_builtin(self, conv: Conversation, tr: t.Transform) -> None:
        """convo.dumps(input) is byte-identical before and after the transform (and explain)."""
        before = convo.dumps(conv)
        out = _quiet(tr, conv)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.suppress(TransformError):
                tr.explain(conv)
        assert convo.dumps(conv) == before
        if out is not None:
            assert convo.loads(convo.dumps(out)) == out


class TestNoOps:
    @given(any_conversation, st.sampled_from(IDEMPOTENT))
    @settings(max_examples=150)
    def test_a_second_application_returns_its_input(self, conv: Conversation, tr: t.Transform) -> None:
        """Once applied, an idempotent transform has nothing to do: it returns the object itself."""
        once = _quiet(tr, conv)
        if once is None:
            return
        twice, changes = tr.explain(once)
        assert twice is once and changes == ()

    @given(any_conversation)
    def test_the_empty_pipeline_returns_its_input(self, conv: Conversation) -> None:
        """pipeline() is the identity on anything."""
        assert t.pipeline()(conv) is conv


class TestBuildersKeepValidity:
    @given(conversations(model="claude-opus-4-8", tools=True, mid_system=True), st.sampled_from(["auto", "top"]))
    def test_inject_system_keeps_a_valid_conversation_valid(self, conv: Conversation, where: str) -> None:
        """auto and top never produce a placement the API rejects."""
        out = t.inject_system("Be terse.", where=where)(conv)  # type: ignore[arg-type]
        assert validate(out).ok, validate(out).errors

    @given(conversations(model="claude-opus-4-8", tools=True, max_turns=9))
    def test_reply_user_turn_then_system_message_is_valid(self, conv: Conversation) -> None:
        """A synthetic reply, a user turn after it, then a system message: still valid."""
        assert conv.messages[-1].role == "user"  # Opus 4.8 takes no prefill, so none is generated
        out = conv.assistant("Done.").user("Next question?").system_message("Answer in one line.")
        assert [m.role for m in out.messages[-3:]] == ["assistant", "user", "system"]
        assert validate(out).ok, validate(out).errors

    @given(conversations(model="claude-sonnet-4-5", images=True, max_turns=7), st.booleans())
    def test_attach_image_keeps_a_valid_conversation_valid(self, conv: Conversation, new_turn: bool) -> None:
        """An attached image lands in a user turn without breaking any rule."""
        out = t.attach_image(Image.from_url("https://example.com/x.png"), new_turn=new_turn)(conv)
        assert validate(out).ok, validate(out).errors
        assert out.messages[-1].role == "user" and out.messages[-1].blocks[-1] == Image.from_url("https://example.com/x.png")
