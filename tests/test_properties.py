"""Cross-cutting properties, driven by convo's own public strategies (convo.strategies).

Generated conversations satisfy the rules engine on every model and API version; every rule
can be broken on purpose and is then reported; no built-in transform changes its input; the
builders, repairs, windowing and migration keep (or make) conversations valid where the docs
say they do; and the codec round-trips requests and responses.

Example counts scale with the active Hypothesis profile (tests/conftest.py): a fraction of its
``max_examples`` where one example is costly.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import convo
from convo import strategies as cs
from convo import transforms as t
from convo._json import UNSET
from convo.errors import TransformError
from convo.model import Conversation, Image, Message, Text, ToolResult, ToolUse
from convo.profiles import API_VERSIONS, builtin_profiles, get_profile
from convo.rules import RULES, Report, validate

N = settings.default.max_examples
HALF = settings(max_examples=max(10, N // 2))
FIFTH = settings(max_examples=max(5, N // 5))

MODELS = sorted(builtin_profiles())
UNKNOWN_MODEL = "claude-from-the-future-9"  # no profile: the permissive default applies
# A spread of behaviours: prefill / no prefill, any / default-only sampling, with and without
# mid-conversation system messages, budget / adaptive / always-on thinking, no forced tools.
SPREAD = ["claude-opus-4-8", "claude-sonnet-4-5", "claude-sonnet-5", "claude-mythos-preview",
          "claude-opus-5-5", "claude-opus-5", "claude-haiku-4-5"]


def _validate(conv: Conversation, **kwargs: Any) -> Report:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UnknownModelWarning for the deliberately unknown ids
        return validate(conv, **kwargs)


def _errors(report: Report) -> list[tuple[str, str, str]]:
    return [(v.rule, v.path, v.message) for v in report.errors]


@st.composite
def _valid(draw: st.DrawFn, model: str, api_version: str = "2026-10-21", **fixed: Any) -> Conversation:
    """A valid conversation for *model* with a drawn mix of the optional features."""
    prof = get_profile(model) if model != UNKNOWN_MODEL else builtin_profiles().default
    thinking_ok = any(m in prof.thinking_modes for m in ("enabled", "adaptive"))
    options: dict[str, Any] = {
        "images": draw(st.booleans()),
        "tools": draw(st.booleans()),
        "thinking": thinking_ok and draw(st.booleans()),
        "mid_system": prof.mid_conversation_system and draw(st.booleans()),
        "max_turns": 7,
    }
    options.update(fixed)
    if options.get("prefill") and options["thinking"]:
        options["thinking"] = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        strategy = cs.conversations(model=model, api_version=api_version, **options)
    return draw(strategy)


# --------------------------------------------------------------------------- generated conversations are valid


class TestGeneratedConversationsValidate:
    @pytest.mark.parametrize("api_version", API_VERSIONS)
    @pytest.mark.parametrize("model", [*MODELS, UNKNOWN_MODEL])
    @FIFTH
    @given(data=st.data())
    def test_valid_for_model_and_version(self, model: str, api_version: str, data: st.DataObject) -> None:
        """Every conversations(model=m, api_version=v) value validates under m and v, without warnings."""
        conv = data.draw(_valid(model, api_version))
        report = _validate(conv, api_version=api_version)
        assert _errors(report) == []
        expected_warnings = {"model.unknown"} if model == UNKNOWN_MODEL else set()
        assert {v.rule for v in report.warnings} == expected_warnings

    @HALF
    @given(cs.conversations(model="claude-sonnet-4-5", api_version="2023-06-01", sampling=True,
                            cache_control=True, system=True, tools=True, images=True))
    def test_every_option_at_once(self, conv: Conversation) -> None:
        """Sampling, cache breakpoints, a system prompt, tools and images together stay valid."""
        assert _validate(conv, api_version="2023-06-01").violations == ()


# --------------------------------------------------------------------------- every rule can be broken


def _rule_cases() -> Iterator[Any]:
    for rule in sorted(RULES):
        for version in API_VERSIONS:
            models = []
            for model in [*MODELS, UNKNOWN_MODEL]:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        cs.invalid_conversations(rule=rule, model=model, api_version=version)
                except InvalidArgument:
                    continue
                models.append(model)
            if models:
                yield pytest.param(rule, version, models, id=f"{rule}-{version}")


# Rules that cannot be broken alone: a system message at messages[0] is followed either by a
# user turn or by an assistant turn, which breaks a placement rule or makes the first turn an
# assistant's.
NEIGHBOURS = {"system-message.first": {"system-message.followed-by-user", "messages.first-role"}}


class TestInvalidConversations:
    def test_every_registered_rule_can_be_broken(self) -> None:
        """invalid_conversations supports every rule id in convo.rules.RULES (and no other)."""
        assert set(cs.rule_ids()) == set(RULES)

    @pytest.mark.parametrize(("rule", "api_version", "models"), list(_rule_cases()))
    @FIFTH
    @given(data=st.data())
    def test_breaks_exactly_the_rule(self, rule: str, api_version: str, models: list[str], data: st.DataObject) -> None:
        """invalid_conversations(rule=r) is reported with r, and nothing but r's known neighbours."""
        model = data.draw(st.sampled_from(models), label="model")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            conv = data.draw(cs.invalid_conversations(rule=rule, model=model, api_version=api_version))
        report = _validate(conv, api_version=api_version)
        found = {v.rule for v in report.violations}
        assert rule in found, report.violations
        allowed = {rule} | NEIGHBOURS.get(rule, set()) | ({"model.unknown"} if model == UNKNOWN_MODEL else set())
        assert found <= allowed, report.violations
        if RULES[rule].severity == "error":
            assert not report.ok

    @pytest.mark.parametrize("rule", sorted(RULES))
    @settings(max_examples=3, database=None)
    @given(data=st.data())
    def test_defaults_pick_a_built_in_model(self, rule: str, data: st.DataObject) -> None:
        """With no model or version given, a built-in model is picked on which the rule fires."""
        conv = data.draw(cs.invalid_conversations(rule=rule))
        if rule not in ("model.unknown", "request.model-missing"):
            assert conv.model in builtin_profiles()
        assert any(rule in _validate(conv, api_version=v).rules for v in API_VERSIONS)


# --------------------------------------------------------------------------- transforms never mutate


_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAYAAAC56t6BAAAADklEQVR4nGNgYGBgYAIAAAsAAv0d0kYAAAAASUVORK5CYII="
)

# One or more instances of every built-in transform (tests below check the list is complete).
SAMPLES: dict[str, list[t.Transform]] = {
    "append_user": [t.append_user("More, please."), t.append_user("Look:", Image.from_url("https://example.com/a.png"))],
    "append_assistant": [t.append_assistant("Sure.")],
    "attach_image": [t.attach_image("https://example.com/b.png"), t.attach_image(Image.from_bytes(_PNG), new_turn=True)],
    "drop_images": [t.drop_images(), t.drop_images(placeholder="[image]")],
    "drop_sampling_params": [t.drop_sampling_params()],
    "inject_system": [t.inject_system("Be terse."), t.inject_system("Be terse.", where="top"),
                      t.inject_system("Be terse.", where="top", replace=True),
                      t.inject_system("Be terse.", where="message")],
    "keep_last_turns": [t.keep_last_turns(n=1), t.keep_last_turns(n=4)],
    "map_text": [t.map_text(str.upper)],
    "merge_adjacent_roles": [t.merge_adjacent_roles()],
    "migrate": [t.migrate(model="claude-sonnet-4-5"), t.migrate(model="claude-opus-4-8", api_version="2023-06-01"),
                t.migrate(model="claude-opus-5-5")],
    "normalize": [t.normalize(), t.normalize(dangling="drop", orphans="drop")],
    "prefill": [t.prefill("The answer is (")],
    "redact": [t.redact(r"\d+"), t.redact(r"[aeiou]", replacement="*")],
    "set_model": [t.set_model("claude-sonnet-5")],
    "strip_prefill": [t.strip_prefill(), t.strip_prefill(whitespace_only=True)],
    "strip_thinking": [t.strip_thinking()],
    "trim_to_tokens": [t.trim_to_tokens(budget=60), t.trim_to_tokens(budget=100_000)],
    "with_params": [t.with_params(max_tokens=16), t.with_params(metadata={"user_id": "u-1"}, temperature=0.5)],
    "scrub_secrets": [t.scrub_secrets(), t.scrub_secrets(pii=True, keyed=True, base64="drop")],
    "drop_unknown_fields": [t.drop_unknown_fields(), t.drop_unknown_fields(betas=["task-budgets-2026-03-13"])],
}

# Broken histories too: repairs must not touch their input either.
_HISTORY_RULES = ["roles.consecutive", "message.empty-content", "text.empty", "text.whitespace-only",
                  "messages.first-role", "tool-result.orphan", "tool-result.not-first", "tool-use.missing-result",
                  "tool-use.duplicate-id", "prefill.trailing-whitespace", "system-message.first",
                  "system-message.not-after-user", "system-message.followed-by-user",
                  "system-message.between-tool-use", "prefill.unsupported", "sampling.removed"]
_ANY_INPUT = st.one_of(
    *(_valid(m) for m in SPREAD),
    _valid("claude-sonnet-4-5", "2023-06-01", sampling=True, prefill=True, thinking=False),
    *(cs.invalid_conversations(rule=r) for r in _HISTORY_RULES),
)


def _builtin_names() -> set[str]:
    return {name for name, f in t.REGISTRY.items() if getattr(f, "__module__", "").startswith("convo.transforms")}


class TestTransformsArePure:
    def test_samples_cover_the_registry(self) -> None:
        """Every built-in transform of the registry has samples here, so none escapes these tests."""
        assert _builtin_names() <= set(SAMPLES)

    @pytest.mark.parametrize(
        "transform", [pytest.param(x, id=repr(x)) for xs in SAMPLES.values() for x in xs]
    )
    @FIFTH
    @given(conv=_ANY_INPUT)
    def test_input_unchanged_and_no_op_is_identity(self, transform: t.Transform, conv: Conversation) -> None:
        """The input's encoded form is the same after the transform; an unchanged result is the input itself."""
        before = convo.dumps(conv)
        try:
            out, changes = transform.explain(conv)
        except TransformError:
            out, changes = None, ()
        assert convo.dumps(conv) == before
        if out is not None and out == conv:
            assert out is conv, f"{transform!r} returned an equal copy instead of its input"
            assert [c for c in changes if not c.note] == []  # notes report, they never edit
        if out is not None and out is not conv:
            assert out != conv
        if out is not None:
            assert transform(conv) == out  # the plain call and explain() agree


# --------------------------------------------------------------------------- builders keep valid conversations valid


def _valid_cases() -> list[Any]:
    return [pytest.param(m, v, id=f"{m}-{v}") for m in SPREAD for v in API_VERSIONS]


class TestBuildersKeepValid:
    @pytest.mark.parametrize(("model", "api_version"), _valid_cases())
    @FIFTH
    @given(data=st.data())
    def test_append_user_after_assistant(self, model: str, api_version: str, data: st.DataObject) -> None:
        """A synthetic assistant turn then append_user gives a valid conversation on every model."""
        conv = data.draw(_valid(model, api_version, prefill=False))
        assistant_added = t.append_assistant(data.draw(cs.texts()))(conv)
        out = t.append_user(data.draw(cs.texts()))(assistant_added)
        assert _errors(_validate(out, api_version=api_version)) == []

    @pytest.mark.parametrize(("model", "api_version"), _valid_cases())
    @FIFTH
    @given(data=st.data())
    def test_append_assistant_after_user(self, model: str, api_version: str, data: st.DataObject) -> None:
        """append_assistant after a user turn is only a prefill problem, which the next user turn ends."""
        conv = data.draw(_valid(model, api_version, prefill=False))
        out = t.append_assistant(data.draw(cs.texts()))(conv)
        prof = get_profile(model)
        thinking_on = isinstance(conv.thinking, dict) and conv.thinking.get("type") in ("enabled", "adaptive")
        expected = set() if prof.prefill and not thinking_on else {"prefill.unsupported", "prefill.with-thinking"}
        assert {r for r, _, _ in _errors(_validate(out, api_version=api_version))} <= expected
        assert _errors(_validate(t.append_user(data.draw(cs.texts()))(out), api_version=api_version)) == []

    @pytest.mark.parametrize("model", [*MODELS, UNKNOWN_MODEL])
    @FIFTH
    @given(data=st.data())
    def test_inject_system_auto(self, model: str, data: st.DataObject) -> None:
        """inject_system(where="auto") keeps a valid conversation valid on every model."""
        conv = data.draw(_valid(model))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out, changes = t.inject_system(data.draw(cs.texts())).explain(conv)
        assert _errors(_validate(out)) == []
        assert len(changes) >= 1

    @pytest.mark.parametrize("model", SPREAD)
    @FIFTH
    @given(data=st.data())
    def test_inject_system_message_or_refusal(self, model: str, data: st.DataObject) -> None:
        """inject_system(where="message") either gives a valid conversation or refuses with TransformError."""
        conv = data.draw(_valid(model))
        try:
            out = t.inject_system(data.draw(cs.texts()), where="message")(conv)
        except TransformError as e:
            assert str(e)
            return
        assert get_profile(model).mid_conversation_system
        assert _errors(_validate(out)) == []

    @pytest.mark.parametrize(("model", "api_version"), _valid_cases())
    @FIFTH
    @given(data=st.data())
    def test_attach_image(self, model: str, api_version: str, data: st.DataObject) -> None:
        """attach_image with a small image keeps a valid conversation valid."""
        conv = data.draw(_valid(model, api_version))
        out = t.attach_image(data.draw(cs.images(max_side=32)))(conv)
        assert _errors(_validate(out, api_version=api_version)) == []

    @pytest.mark.parametrize(("model", "api_version"), _valid_cases())
    @FIFTH
    @given(data=st.data())
    def test_with_params_accepted(self, model: str, api_version: str, data: st.DataObject) -> None:
        """with_params of values the model accepts keeps a valid conversation valid."""
        conv = data.draw(_valid(model, api_version))
        prof = get_profile(model)
        floor = conv.thinking.get("budget_tokens", 0) + 1 if isinstance(conv.thinking, dict) else 1
        params: dict[str, Any] = {"max_tokens": data.draw(st.integers(floor, prof.max_output))}
        if data.draw(st.booleans()):
            params["stop_sequences"] = data.draw(st.lists(cs.texts(max_words=2), min_size=1, max_size=3))
        if data.draw(st.booleans()):
            params["metadata"] = {"user_id": "user-42"}
        disabled = isinstance(conv.thinking, dict) and conv.thinking.get("type") == "disabled"
        levels = [lv for lv in prof.effort_levels if not (disabled and lv in prof.thinking_required_efforts)]
        if levels and data.draw(st.booleans()):
            params["output_config"] = {"effort": data.draw(st.sampled_from(levels))}
        if api_version == "2023-06-01" and data.draw(st.booleans()):
            thinking_on = isinstance(conv.thinking, dict) and conv.thinking.get("type") in ("enabled", "adaptive")
            params["temperature"] = 1.0 if prof.sampling == "default_only" or thinking_on else 0.3
        out = t.with_params(**params)(conv)
        assert _errors(_validate(out, api_version=api_version)) == []

    @pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5"])
    @FIFTH
    @given(data=st.data())
    def test_prefill_where_accepted(self, model: str, data: st.DataObject) -> None:
        """prefill() on a model that accepts it, without thinking, keeps the conversation valid."""
        conv = data.draw(_valid(model, prefill=False, thinking=False))
        out = t.prefill(data.draw(cs.texts()))(conv)
        assert out.messages[-1].role == "assistant"
        assert _errors(_validate(out)) == []

    @pytest.mark.parametrize(
        "transform",
        [t.drop_images(placeholder="[image]"), t.strip_thinking(), t.drop_sampling_params(),
         t.redact(r"\d+"), t.map_text(str.upper), t.merge_adjacent_roles(), t.strip_prefill(),
         t.strip_prefill(whitespace_only=True)],
        ids=repr,
    )
    @HALF
    @given(data=st.data())
    def test_transcript_transforms_keep_valid(self, transform: t.Transform, data: st.DataObject) -> None:
        """Transcript transforms keep a valid conversation valid."""
        model = data.draw(st.sampled_from(SPREAD), label="model")
        conv = data.draw(_valid(model))
        assert _errors(_validate(transform(conv))) == []


    @HALF
    @given(data=st.data())
    def test_drop_images_without_placeholder(self, data: st.DataObject) -> None:
        """drop_images() leaves no image and no empty turn; dropped image-only turns cost only warnings."""
        model = data.draw(st.sampled_from(SPREAD), label="model")
        conv = data.draw(_valid(model, images=True, tools=data.draw(st.booleans())))
        out = t.drop_images()(conv)
        for m in out.messages:
            assert m.content not in ((), "")
            for b in m.blocks:
                assert not isinstance(b, Image)
                assert not (isinstance(b, ToolResult) and any(isinstance(x, Image) for x in b.blocks))
        if out.messages:  # an all-image conversation has nothing left
            assert _errors(_validate(out)) == []


# --------------------------------------------------------------------------- normalize


_REPAIRED = ["roles.consecutive", "message.empty-content", "text.empty", "text.whitespace-only",
             "messages.first-role", "tool-result.orphan", "tool-result.not-first", "tool-use.missing-result",
             "prefill.trailing-whitespace", "system-message.first", "system-message.not-after-user",
             "system-message.followed-by-user", "system-message.between-tool-use"]


def _has_substance(message: Message) -> bool:
    """A message with something besides empty or whitespace-only text."""
    return any(not isinstance(b, Text) or b.text.strip() for b in message.blocks)


class TestNormalize:
    @HALF
    @given(data=st.data())
    def test_idempotent_and_valid_on_valid_input(self, data: st.DataObject) -> None:
        """normalize() of a valid conversation validates and a second normalize() returns it unchanged."""
        model = data.draw(st.sampled_from(SPREAD), label="model")
        once = t.normalize()(data.draw(_valid(model)))
        assert _errors(_validate(once)) == []
        assert t.normalize()(once) is once

    @pytest.mark.parametrize("rule", _REPAIRED)
    @FIFTH
    @given(data=st.data())
    def test_repairs_broken_histories(self, rule: str, data: st.DataObject) -> None:
        """normalize() repairs each structural rule it claims to, idempotently; migrate() does the rest.

        normalize() leaves model-specific rules to migrate() (its docs): dropping an empty last
        user turn can leave a prefill the model rejects, which migrate() then removes.
        """
        conv = data.draw(cs.invalid_conversations(rule=rule))
        assume(any(_has_substance(m) for m in conv.messages))  # nothing worth keeping: no repair helps
        once, changes = t.normalize().explain(conv)
        assert changes, "a broken history must report what was repaired"
        left = {r for r, _, _ in _errors(_validate(once))}
        assert not left & set(_REPAIRED), _errors(_validate(once))
        assert t.normalize()(once) is once
        assert isinstance(conv.model, str)
        assert _errors(_validate(t.migrate(model=conv.model)(once))) == []


# --------------------------------------------------------------------------- windowing


def _tool_pairs_intact(conv: Conversation) -> bool:
    """Every tool_use is answered in the next message and every tool_result answers the previous one."""
    msgs = [m for m in conv.messages if m.role != "system"]
    for i, m in enumerate(msgs):
        asked = {b.id for b in m.blocks if isinstance(b, ToolUse)}
        answered = {b.tool_use_id for b in m.blocks if isinstance(b, ToolResult)}
        before = {b.id for b in msgs[i - 1].blocks if isinstance(b, ToolUse)} if i else set()
        if not answered <= before:
            return False
        after = {b.tool_use_id for b in msgs[i + 1].blocks if isinstance(b, ToolResult)} if i + 1 < len(msgs) else set()
        if asked and not asked <= after:
            return False
    return True


def _windowed_ok(conv: Conversation, out: Conversation) -> None:
    first = out.messages[0]
    assert first.role == "user" and not any(isinstance(b, ToolResult) for b in first.blocks)
    assert _tool_pairs_intact(out)
    assert out.system == conv.system and out.tools == conv.tools
    assert conv.messages[len(conv.messages) - len(out.messages):] == out.messages  # a suffix
    assert _errors(_validate(out)) == []


class TestWindowing:
    @HALF
    @given(data=st.data())
    def test_keep_last_turns(self, data: st.DataObject) -> None:
        """keep_last_turns(n) never splits a tool pair, never starts on a tool_result, keeps system and tools."""
        model = data.draw(st.sampled_from(SPREAD), label="model")
        conv = data.draw(_valid(model, tools=True, system=data.draw(st.booleans()), min_turns=3, max_turns=11))
        n = data.draw(st.integers(1, len(conv.messages) + 1), label="n")
        out = t.keep_last_turns(n=n)(conv)
        _windowed_ok(conv, out)
        if n >= len(conv.messages):
            assert out is conv

    @HALF
    @given(data=st.data())
    def test_trim_to_tokens(self, data: st.DataObject) -> None:
        """trim_to_tokens(b) fits b when it can, with the same guarantees as keep_last_turns."""
        model = data.draw(st.sampled_from(SPREAD), label="model")
        conv = data.draw(_valid(model, tools=True, images=data.draw(st.booleans()), min_turns=3, max_turns=11))
        total = t.estimate_tokens(conv)
        budget = data.draw(st.integers(1, total + 10), label="budget")
        try:
            out = t.trim_to_tokens(budget=budget)(conv)
        except TransformError:
            # only when even the shortest legal tail is over budget
            shortest = t.keep_last_turns(n=1)(conv)
            assert t.estimate_tokens(shortest) > budget
            return
        assert t.estimate_tokens(out) <= budget
        _windowed_ok(conv, out)


# --------------------------------------------------------------------------- migrate


class TestMigrate:
    @pytest.mark.parametrize("target", [*MODELS])
    @FIFTH
    @given(data=st.data())
    def test_valid_elsewhere_becomes_valid_here(self, target: str, data: st.DataObject) -> None:
        """migrate(model=m) of a conversation valid for another model validates under m's profile."""
        source = data.draw(st.sampled_from([m for m in MODELS if m != target]), label="source")
        from_version = data.draw(st.sampled_from(API_VERSIONS), label="from")
        to_version = data.draw(st.sampled_from(API_VERSIONS), label="to")
        conv = data.draw(_valid(source, from_version, sampling=None, cache_control=None))
        out = t.migrate(model=target, api_version=to_version)(conv)
        assert out.model == target
        assert _errors(_validate(out, api_version=to_version)) == []


# --------------------------------------------------------------------------- codec


_NO_ROUND_TRIP_COST = {"messages.too-many", "image.too-large", "image.too-many"}  # big, and nothing new


class TestCodecRoundTrip:
    @HALF
    @given(data=st.data())
    def test_conversations(self, data: st.DataObject) -> None:
        """convo.loads(convo.dumps(c)) == c for generated conversations."""
        model = data.draw(st.sampled_from([*MODELS, UNKNOWN_MODEL]), label="model")
        version = data.draw(st.sampled_from(API_VERSIONS), label="version")
        conv = data.draw(_valid(model, version, cache_control=None, system=None))
        assert convo.loads(convo.dumps(conv)) == conv

    @HALF
    @given(data=st.data())
    def test_invalid_conversations_too(self, data: st.DataObject) -> None:
        """The codec is lossless on requests that break the rules as well (it checks shape, not rules)."""
        rule = data.draw(st.sampled_from(sorted(set(RULES) - _NO_ROUND_TRIP_COST)), label="rule")
        conv = data.draw(cs.invalid_conversations(rule=rule))
        assume(conv.model is not UNSET or rule == "request.model-missing")
        assert convo.loads(convo.dumps(conv)) == conv

    @settings(max_examples=N)
    @given(cs.responses())
    def test_responses(self, resp: convo.Response) -> None:
        """responses() round-trip through dumps_response / loads_response."""
        assert convo.loads_response(convo.dumps_response(resp)) == resp

    @HALF
    @given(cs.responses(stop_reasons=["tool_use", "pause_turn", "refusal"]))
    def test_response_as_next_turn(self, resp: convo.Response) -> None:
        """A response appended with with_response round-trips inside the next request."""
        conv = Conversation(model="claude-opus-4-8", max_tokens=64, messages=(Message("user", "Hi"),))
        nxt = conv.with_response(resp)
        assert convo.loads(convo.dumps(nxt)) == nxt
