"""The fluent builders (``Conversation.user()``, ``.with_system()``, ...) build no transform
object (issue 14) and give what the transforms give: the same conversation, or the same error."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convo import Conversation, Image, Text
from convo import transforms as t
from convo.model import _BUILDERS
from convo.strategies import conversations

_TEXT = st.text(min_size=0, max_size=6).filter(lambda s: "\x00" not in s)
_IMAGE = st.sampled_from(["https://example.com/a.png", Image.from_url("https://example.com/b.jpg"), 42])

# (fluent method, its arguments) and the transform that does the same
_STEPS = st.one_of(
    st.tuples(st.just("user"), st.lists(_TEXT | st.just(Text("t")), min_size=0, max_size=2).map(tuple)),
    st.tuples(st.just("assistant"), st.lists(_TEXT, min_size=0, max_size=2).map(tuple)),
    st.tuples(st.just("with_system"), st.tuples(_TEXT | st.lists(st.builds(Text, _TEXT), max_size=2))),
    st.tuples(st.just("system_message"), st.tuples(_TEXT)),
    st.tuples(st.just("prefill"), st.tuples(_TEXT)),
    st.tuples(st.just("with_image"), st.tuples(_IMAGE)),
    st.tuples(st.just("with_params"), st.dictionaries(
        st.sampled_from(["temperature", "top_k", "stop_sequences", "speed", "model", "messages"]),
        st.sampled_from([0.2, 1, True, None, ["x"], "fast"]), max_size=2)),
)


def _transform(name: str, args: Any) -> t.Transform:
    if name == "user":
        return t.append_user(*args)
    if name == "assistant":
        return t.append_assistant(*args)
    if name == "with_system":
        text = args[0]
        return t.inject_system(text if isinstance(text, str) else tuple(text), where="top", replace=True)
    if name == "system_message":
        return t.inject_system(args[0], where="message")
    if name == "prefill":
        return t.prefill(args[0])
    if name == "with_image":
        return t.attach_image(args[0])
    return t.with_params(**args)


def _outcome(fn: Any) -> Any:
    try:
        return ("ok", fn())
    except Exception as e:  # the same error, with the same words
        return ("error", type(e), str(e))


def _fluent(conv: Conversation, name: str, args: Any) -> Conversation:
    method = getattr(conv, name)
    return method(**args) if name == "with_params" else method(*args)  # type: ignore[no-any-return]


@given(conversations(), st.lists(_STEPS, min_size=1, max_size=5),
       st.sampled_from(["claude-opus-4-8", "claude-sonnet-4-5", "claude-haiku-4-5", None]))
def test_builder_chain_equals_the_transforms(conv: Conversation, steps: list[Any], model: str | None) -> None:
    """A chain of fluent methods and the same transforms applied one by one end the same: equal
    conversations (and equal JSON), or the same exception with the same message."""
    if model is not None:
        conv = t.set_model(model)(conv)
    fluent, transformed = conv, conv
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, args in steps:
            a = _outcome(lambda: _fluent(fluent, name, args))  # noqa: B023
            b = _outcome(lambda: _transform(name, args)(transformed))  # noqa: B023
            assert a == b, (name, args)
            if a[0] == "error":
                break
            fluent, transformed = a[1], b[1]
            assert repr(fluent) == repr(transformed)


def test_every_builder_is_covered() -> None:
    """The property above covers every fluent method the model has."""
    import convo.transforms  # noqa: F401 - registers the builders

    assert set(_BUILDERS) == {"user", "assistant", "with_system", "system_message", "with_image", "prefill",
                              "with_params"}


def test_builders_build_no_transform(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: a fluent call builds no transform object (each did, at 40 µs against 13 µs for
    the transform prebuilt; ``benchmarks/builders.py`` measures it)."""
    built: list[str] = []
    real_init = t.Transform.__init__

    def counting_init(self: t.Transform, name: str, /, *args: Any, **kwargs: Any) -> None:
        built.append(name)
        real_init(self, name, *args, **kwargs)

    monkeypatch.setattr(t.Transform, "__init__", counting_init)
    conv = Conversation(model="claude-sonnet-4-5", max_tokens=64)
    out = (conv.with_system("Be terse.").user("Hello").assistant("Hi!").user("More")
           .with_image("https://example.com/a.png").with_params(temperature=0.2).prefill("The answer"))
    Conversation(model="claude-opus-4-8").user("a").system_message("b")
    assert built == []
    assert t.append_user("x") is not None and built == ["append_user"]  # the counter counts
    assert [m.role for m in out.messages] == ["user", "assistant", "user", "assistant"]
