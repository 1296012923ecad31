"""The :func:`invalid_conversations` strategy and its breakers, one per rule id of :mod:`convo.rules`.

Layer: inside ``convo.strategies``, above ``_conversations`` (each broken conversation starts as a
valid one). A breaker registers itself with ``@_breaks(rule_id, ...)``; :func:`rule_ids` lists them.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from typing import Any, cast

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from convo._json import UNSET, FrozenDict
from convo._samples import png
from convo.model import (
    SAMPLING_PARAMS,
    Base64Source,
    Block,
    Conversation,
    Document,
    Image,
    Message,
    SearchResult,
    Text,
    TextSource,
    ToolResult,
    ToolUse,
    URLSource,
)
from convo.profiles import API_VERSIONS, DEFAULT_API_VERSION, Profile, builtin_profiles, get_profile
from convo.strategies._conversations import (
    _check_api_version,
    _conversations,
    _make_spec,
    _usable_thinking_modes,
)
from convo.strategies._values import (
    _ALNUM,
    _EFFORTS,
    _MIN_BUDGET,
    _MODEL_PREFERENCE,
    _NEW_API,
    _OLD_API,
    _SHORT_TEXTS,
    _TEXTS,
    _TOOL_INPUTS,
    _cacheable,
    _client_tool_names,
    _ephemeral,
    _inline_images,
    _suffix,
    _url_images,
    _with_cache,
)


@attrs.frozen
class _Ctx:
    """What a rule breaker knows: the profile, its model id and the API version."""

    profile: Profile
    model: str
    api_version: str


Breaker = Callable[[st.DrawFn, Conversation, _Ctx], Conversation]


@attrs.frozen
class _Rule:
    breaker: Breaker
    base: dict[str, Any]  # conversations() options for the valid starting point
    suits: Callable[[Profile], bool]  # can this model show the rule on its own?
    api_versions: tuple[str, ...]
    needs: str  # what suits() asks for, in words (for InvalidArgument)


_RULES: dict[str, _Rule] = {}


def _always(profile: Profile) -> bool:
    return True


def _breaks(
    rule: str,
    *,
    suits: Callable[[Profile], bool] = _always,
    needs: str = "",
    api_versions: tuple[str, ...] = API_VERSIONS,
    **base: Any,
) -> Callable[[Breaker], Breaker]:
    def register(fn: Breaker) -> Breaker:
        _RULES[rule] = _Rule(fn, base, suits, api_versions, needs)
        return fn

    return register


def rule_ids() -> tuple[str, ...]:
    """The rule ids :func:`invalid_conversations` can break, sorted.

    >>> "prefill.unsupported" in rule_ids() and "tool-result.orphan" in rule_ids()
    True
    """
    return tuple(sorted(_RULES))


@functools.cache
def _default_model(rule: str) -> str:
    entry = _RULES[rule]
    registry = builtin_profiles()
    candidates: list[str] = [*_MODEL_PREFERENCE, *registry]
    for model in candidates:
        if model in registry and entry.suits(registry[model]):
            return model
    return _MODEL_PREFERENCE[0]


def invalid_conversations(
    *, rule: str, model: str | None = None, api_version: str | None = None
) -> st.SearchStrategy[Conversation]:
    """Conversations valid for *model* except that they break *rule* (an id of convo.rules).

    Each starts from a :func:`conversations` value and changes only what the rule needs, so
    ``validate`` reports *rule*, usually alone. Some rules cannot be broken without touching
    others (a system message between a tool_use and its tool_result also follows an assistant
    turn); those report their neighbours too. *model* defaults to ``claude-opus-4-8``, or to the
    first built-in model that can show the rule on its own (``prefill.trailing-whitespace`` needs
    a model that accepts prefill); *api_version* defaults to ``2026-10-21``, or ``2023-06-01``
    for rules that only exist there (``sampling.range``). Asking for a model or version that
    cannot show the rule raises InvalidArgument, as does an unknown rule id.

    >>> from hypothesis import given, settings
    >>> from convo.model import ToolResult
    >>> @settings(max_examples=10, database=None, deadline=None)
    ... @given(invalid_conversations(rule="tool-result.not-first"))
    ... def check(conv):
    ...     assert any(not isinstance(b, ToolResult) and isinstance(c, ToolResult)
    ...                for m in conv.messages for b, c in zip(m.blocks, m.blocks[1:]))
    >>> check()
    >>> invalid_conversations(rule="no-such-rule")
    Traceback (most recent call last):
    ...
    hypothesis.errors.InvalidArgument: unknown rule 'no-such-rule'; known rules: ...
    """
    entry = _RULES.get(rule) if isinstance(rule, str) else None
    if entry is None:
        raise InvalidArgument(f"unknown rule {rule!r}; known rules: {', '.join(rule_ids())}")
    model_id = _default_model(rule) if model is None else model
    if not isinstance(model_id, str) or not model_id:
        raise InvalidArgument(f"model must be a non-empty model id, got {model!r}")
    if api_version is None:
        api_version = DEFAULT_API_VERSION if DEFAULT_API_VERSION in entry.api_versions else entry.api_versions[0]
    _check_api_version(api_version)
    if api_version not in entry.api_versions:
        raise InvalidArgument(
            f"rule {rule!r} can only be broken under API version {' or '.join(entry.api_versions)}, "
            f"not {api_version}"
        )
    prof = get_profile(model_id)
    if not entry.suits(prof):
        raise InvalidArgument(f"rule {rule!r} cannot be broken on its own on {model_id}: it needs {entry.needs}")
    base_options: dict[str, Any] = {
        "prefill": False,
        "mid_system": False,
        "cache_control": False,
        "sampling": False,
        "max_turns": 7,
    }
    base_options.update(entry.base)
    # plain starting points, and (where the rule leaves them open) ones with tools and images
    plain = {"images": False, "tools": False, "thinking": False, "system": None, **base_options}
    rich = {**plain, **{k: True for k in ("images", "tools") if k not in entry.base}}
    base = st.one_of(*(
        _conversations(_make_spec(model=model_id, profile=prof, api_version=api_version, min_turns=1, **options))
        for options in ((plain, rich) if rich != plain else (plain,))
    ))
    ctx = _Ctx(prof, model_id, api_version)
    return base.flatmap(lambda conv: _broken(conv, entry.breaker, ctx))


@st.composite
def _broken(draw: st.DrawFn, conv: Conversation, breaker: Breaker, ctx: _Ctx) -> Conversation:
    return breaker(draw, conv, ctx)


# helpers for the breakers ------------------------------------------------------------------


def _replace_message(conv: Conversation, index: int, message: Message) -> Conversation:
    messages = list(conv.messages)
    messages[index] = message
    return attrs.evolve(conv, messages=tuple(messages))


def _insert_messages(conv: Conversation, index: int, *new: Message) -> Conversation:
    messages = list(conv.messages)
    messages[index:index] = new
    return attrs.evolve(conv, messages=tuple(messages))


def _user_indexes(conv: Conversation) -> list[int]:
    return [i for i, m in enumerate(conv.messages) if m.role == "user"]


def _leading_results(blocks: tuple[Block, ...]) -> int:
    n = 0
    while n < len(blocks) and isinstance(blocks[n], ToolResult):
        n += 1
    return n


def _add_to_user(draw: st.DrawFn, conv: Conversation, *new: Block) -> Conversation:
    """Add blocks to a drawn user turn, after its tool results (which must stay first)."""
    index = draw(st.sampled_from(_user_indexes(conv)))
    blocks = list(conv.messages[index].blocks)
    at = draw(st.integers(_leading_results(tuple(blocks)), len(blocks)))
    blocks[at:at] = new
    return _replace_message(conv, index, conv.messages[index].with_blocks(blocks))


def _ensure_tool_pair(draw: st.DrawFn, conv: Conversation) -> tuple[Conversation, int]:
    """A conversation with a tool_use answered in the next user turn, and that assistant's index.

    Uses an existing pair when there is one, otherwise appends an assistant tool_use turn and a
    user turn answering it (the base conversation ends with a user turn).
    """
    pairs = [
        i
        for i, m in enumerate(conv.messages[:-1])
        if m.role == "assistant" and any(isinstance(b, ToolUse) for b in m.blocks)
    ]
    if draw(st.booleans()) and pairs:
        return conv, draw(st.sampled_from(pairs))
    names = _client_tool_names(conv.tools)
    if not names:
        tool = {"name": "get_weather", "input_schema": {"type": "object"}}
        conv = attrs.evolve(conv, tools=(*(() if conv.tools is UNSET else conv.tools), tool))
        names = ["get_weather"]
    tool_id = "toolu_01pair" + draw(_suffix(16))
    assistant = Message("assistant", (Text(draw(_TEXTS)), ToolUse(tool_id, draw(st.sampled_from(names)), draw(_TOOL_INPUTS))))
    user_blocks: list[Block] = [ToolResult(tool_id, content=draw(_TEXTS))]
    if draw(st.booleans()):
        user_blocks.append(Text(draw(_TEXTS)))
    conv = attrs.evolve(conv, messages=(*conv.messages, assistant, Message("user", tuple(user_blocks))))
    return conv, len(conv.messages) - 2


def _set_thinking_on(draw: st.DrawFn, conv: Conversation, prof: Profile, modes: tuple[str, ...]) -> Conversation:
    """Turn thinking on with one of *modes* (a legal budget below max_tokens for "enabled")."""
    mode = draw(st.sampled_from(modes))
    if mode != "enabled":
        return attrs.evolve(conv, thinking={"type": mode})
    budget = draw(st.integers(_MIN_BUDGET, min(prof.max_output - 1, 8_000)))
    max_tokens = conv.max_tokens if isinstance(conv.max_tokens, int) and conv.max_tokens > budget else budget + 1
    return attrs.evolve(conv, thinking={"type": "enabled", "budget_tokens": budget}, max_tokens=max_tokens)


def _mid_system(draw: st.DrawFn) -> Message:
    return Message("system", draw(_TEXTS))


def _append_prefill(draw: st.DrawFn, conv: Conversation, text: str | None = None) -> Conversation:
    prefill = Message("assistant", text if text is not None else draw(_TEXTS))
    return attrs.evolve(conv, messages=(*conv.messages, prefill))


_WHITESPACE = st.text(st.sampled_from(" \t\n"), min_size=1, max_size=4)
_BAD_ROLES = ("tool", "human", "model", "developer", "function", "bot", "User", "ASSISTANT", "")
_BAD_TOOL_NAMES = st.one_of(
    st.sampled_from(("", "has space", "dotted.name", "slash/name", "ünïcode", "name!", "a" * 129)),
    st.text(st.sampled_from(_ALNUM + "_-"), min_size=129, max_size=140),  # the API's {1,128} (OBS)
)


# the breakers, one per rule id ---------------------------------------------------------------


@_breaks("request.model-missing")
def _no_model(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return attrs.evolve(conv, model=UNSET)


@_breaks("request.max-tokens-missing")
def _no_max_tokens(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return attrs.evolve(conv, max_tokens=UNSET)


@_breaks("request.max-tokens-range")
def _max_tokens_range(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    top = ctx.profile.max_output
    value = draw(st.one_of(st.integers(-(10**6), -1), st.integers(top + 1, top * 4)))
    return attrs.evolve(conv, max_tokens=value)


@_breaks("messages.empty")
def _no_messages(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return attrs.evolve(conv, messages=())


@_breaks("messages.too-many", tools=False, images=False)
def _too_many_messages(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # 100,000 is the API's cap (facts §1.1); the messages are shared objects, so this is cheap
    user = Message("user", draw(_SHORT_TEXTS))
    assistant = Message("assistant", draw(_SHORT_TEXTS))
    pairs = 50_000 + draw(st.integers(0, 3))
    return attrs.evolve(conv, messages=(user, assistant) * pairs + (user,))


@_breaks("message.role")
def _bad_role(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # appended after the final user turn, so no other ordering rule sees a change
    role = draw(st.sampled_from(_BAD_ROLES))
    return attrs.evolve(conv, messages=(*conv.messages, Message(role, draw(_TEXTS))))


@_breaks("messages.first-role")
def _assistant_first(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return _insert_messages(conv, 0, Message("assistant", draw(_TEXTS)))


@_breaks("message.empty-content", tools=False)
def _empty_content(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # any message but a final assistant one (none here: the base ends with a user turn)
    index = draw(st.integers(0, len(conv.messages) - 1))
    return _replace_message(conv, index, attrs.evolve(conv.messages[index], content=draw(st.sampled_from(((), "")))))


@_breaks("text.empty")
def _empty_text(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return _add_to_user(draw, conv, Text(""))


@_breaks("text.whitespace-only", tools=False)
def _whitespace_text(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    index = draw(st.sampled_from(_user_indexes(conv)))
    n = draw(st.integers(0, 2))
    content: Any = draw(_WHITESPACE) if n == 0 else tuple(Text(draw(_WHITESPACE)) for _ in range(n))
    return _replace_message(conv, index, Message("user", content))


@_breaks("roles.consecutive")
def _consecutive(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # a second user turn right after a user turn (the API merges them; facts §1.3)
    index = draw(st.sampled_from(_user_indexes(conv)))
    return _insert_messages(conv, index + 1, Message("user", draw(_TEXTS)))


@_breaks("prefill.unsupported", suits=lambda p: not p.prefill, needs="a model without prefill")
def _prefill_unsupported(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return _append_prefill(draw, conv)


@_breaks("prefill.trailing-whitespace", suits=lambda p: p.prefill, needs="a model that accepts prefill")
def _prefill_whitespace(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return _append_prefill(draw, conv, draw(_TEXTS) + draw(_WHITESPACE))


@_breaks(
    "prefill.with-thinking",
    suits=lambda p: p.prefill and bool(_usable_thinking_modes(p)),
    needs="a model that accepts prefill and has enabled or adaptive thinking",
    thinking=True,
)
def _prefill_thinking(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return _append_prefill(draw, conv)


@_breaks("prefill.with-json-output", suits=lambda p: p.prefill, needs="a model that accepts prefill")
def _prefill_json(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    output_config = dict(conv.output_config) if isinstance(conv.output_config, dict) else {}
    output_config["format"] = {"type": "json_schema", "schema": schema}
    return _append_prefill(draw, attrs.evolve(conv, output_config=output_config))


def _has_mid_system(profile: Profile) -> bool:
    return profile.mid_conversation_system


_NEEDS_MID = "a model with mid-conversation system messages"


@_breaks(
    "system-message.unsupported-model",
    suits=lambda p: not p.mid_conversation_system,
    needs="a model without mid-conversation system messages",
)
def _system_unsupported(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # placed legally (after a user turn, followed by an assistant turn or last): only the model is wrong
    index = draw(st.sampled_from(_user_indexes(conv)))
    return _insert_messages(conv, index + 1, _mid_system(draw))


@_breaks("system-message.first", suits=_has_mid_system, needs=_NEEDS_MID)
def _system_first(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # messages[0] is followed by a user turn (also system-message.followed-by-user) or by an
    # assistant turn (then the first non-system turn is an assistant: a messages.first-role warning)
    if draw(st.booleans()):
        return _insert_messages(conv, 0, _mid_system(draw))
    return _insert_messages(conv, 0, _mid_system(draw), Message("assistant", draw(_TEXTS)))


@_breaks("system-message.not-after-user", suits=_has_mid_system, needs=_NEEDS_MID)
def _system_after_assistant(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # after an assistant turn and followed by an assistant turn: only the "after" rule is broken
    user_text = Message("user", draw(_TEXTS))
    tail = (Message("assistant", draw(_TEXTS)), _mid_system(draw), Message("assistant", draw(_TEXTS)), user_text)
    return attrs.evolve(conv, messages=(*conv.messages, *tail))


@_breaks("system-message.followed-by-user", suits=_has_mid_system, needs=_NEEDS_MID)
def _system_before_user(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    index = draw(st.sampled_from(_user_indexes(conv)))
    return _insert_messages(conv, index + 1, _mid_system(draw), Message("user", draw(_TEXTS)))


@_breaks("system-message.between-tool-use", suits=_has_mid_system, needs=_NEEDS_MID, tools=True)
def _system_between_tools(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    conv, at = _ensure_tool_pair(draw, conv)
    return _insert_messages(conv, at + 1, _mid_system(draw))


@_breaks("tool-use.missing-result", tools=True)
def _missing_result(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    conv, at = _ensure_tool_pair(draw, conv)
    ids = [b.id for b in conv.messages[at].blocks if isinstance(b, ToolUse)]
    dropped = draw(st.sampled_from(ids))
    kept = [b for b in conv.messages[at + 1].blocks if not (isinstance(b, ToolResult) and b.tool_use_id == dropped)]
    if not kept:
        kept = [Text(draw(_TEXTS))]
    return _replace_message(conv, at + 1, conv.messages[at + 1].with_blocks(kept))


@_breaks("tool-result.orphan")
def _orphan_result(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    index = draw(st.sampled_from(_user_indexes(conv)))
    blocks = list(conv.messages[index].blocks)
    at = draw(st.integers(0, _leading_results(tuple(blocks))))  # among the leading results
    blocks.insert(at, ToolResult("toolu_01orphan" + draw(_suffix(14)), content=draw(_TEXTS)))
    return _replace_message(conv, index, conv.messages[index].with_blocks(blocks))


@_breaks("tool-result.not-first", tools=True)
def _result_not_first(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    conv, at = _ensure_tool_pair(draw, conv)
    blocks = list(conv.messages[at + 1].blocks)
    n = _leading_results(tuple(blocks))
    blocks.insert(draw(st.integers(0, n - 1)), Text(draw(_TEXTS)))
    return _replace_message(conv, at + 1, conv.messages[at + 1].with_blocks(blocks))


@_breaks("tool-use.duplicate-id", tools=True)
def _duplicate_id(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # a later, well-formed pair that reuses an earlier tool_use id
    conv, at = _ensure_tool_pair(draw, conv)
    use = draw(st.sampled_from([b for b in conv.messages[at].blocks if isinstance(b, ToolUse)]))
    again = (
        Message("assistant", (ToolUse(use.id, use.name, draw(_TOOL_INPUTS)),)),
        Message("user", (ToolResult(use.id, content=draw(_TEXTS)),)),
    )
    return attrs.evolve(conv, messages=(*conv.messages, *again))


@_breaks("tools.name")
def _bad_tool_name(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    tool = {"name": draw(_BAD_TOOL_NAMES), "input_schema": {"type": "object"}}
    existing = () if conv.tools is UNSET else conv.tools
    tools = list(existing)
    tools.insert(draw(st.integers(0, len(tools))), tool)
    return attrs.evolve(conv, tools=tuple(tools))


@_breaks(
    "sampling.unsupported",
    suits=lambda p: p.sampling == "default_only",
    needs="a model that takes only default sampling values",
    api_versions=(_OLD_API,),
)
def _sampling_unsupported(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    name = draw(st.sampled_from(SAMPLING_PARAMS))
    if name == "temperature":
        value: Any = draw(st.integers(0, 99)) / 100  # in range, but not the default 1.0
    elif name == "top_p":
        value = draw(st.integers(0, 989)) / 1000  # in range, below the tolerated 0.99
    else:
        value = draw(st.integers(0, 500))  # any top_k
    return attrs.evolve(conv, **{name: value})


@_breaks("sampling.removed", api_versions=(_NEW_API,))
def _sampling_removed(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # values the model would take under 2023-06-01: only the version makes them wrong
    if ctx.profile.sampling == "default_only":
        params: dict[str, Any] = draw(st.sampled_from(({"temperature": 1.0}, {"top_p": 0.99}, {"top_p": 1.0})))
    else:
        params = draw(st.sampled_from((
            {"temperature": draw(st.integers(0, 100)) / 100},
            {"top_p": draw(st.integers(0, 100)) / 100},
            {"top_k": draw(st.integers(0, 500))},
        )))
    return attrs.evolve(conv, **params)


@_breaks(
    "sampling.range",
    suits=lambda p: p.sampling == "any",
    needs="a model that takes any sampling values",
    api_versions=(_OLD_API,),
)
def _sampling_range(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    name = draw(st.sampled_from(SAMPLING_PARAMS))
    if name == "top_k":
        return attrs.evolve(conv, top_k=draw(st.integers(-1000, -1)))
    value: Any = draw(st.one_of(st.integers(101, 1000), st.integers(-1000, -1))) / 100
    return attrs.evolve(conv, **{name: value})


@_breaks(
    "sampling.with-thinking",
    suits=lambda p: p.sampling == "any" and bool(_usable_thinking_modes(p)),
    needs="a model that takes any sampling values and has enabled or adaptive thinking",
    api_versions=(_OLD_API,),
    thinking=True,
)
def _sampling_thinking(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # values in range that the model takes without thinking (facts §2.3: temperature and top_k
    # cannot change, top_p stays within 0.95..1 while thinking is on)
    name = draw(st.sampled_from(SAMPLING_PARAMS))
    if name == "temperature":
        value: Any = draw(st.integers(0, 99)) / 100
    elif name == "top_p":
        value = draw(st.integers(0, 949)) / 1000
    else:
        value = draw(st.integers(0, 500))
    return attrs.evolve(conv, **{name: value})


def _missing_modes(prof: Profile) -> tuple[str, ...]:
    return tuple(m for m in ("enabled", "adaptive", "disabled") if m not in prof.thinking_modes)


@_breaks(
    "thinking.unsupported-mode",
    suits=lambda p: bool(_missing_modes(p)),
    needs="a model without every thinking mode",
    tools=False,  # a forced tool_choice would meet thinking turned on
)
def _thinking_mode(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    mode = draw(st.sampled_from(_missing_modes(ctx.profile)))
    if mode == "enabled":
        budget = _MIN_BUDGET
        max_tokens = conv.max_tokens if isinstance(conv.max_tokens, int) and conv.max_tokens > budget else budget + 1
        return attrs.evolve(conv, thinking={"type": "enabled", "budget_tokens": budget}, max_tokens=max_tokens)
    return attrs.evolve(conv, thinking={"type": mode})


@_breaks(
    "thinking.budget",
    suits=lambda p: "enabled" in p.thinking_modes and p.max_output > _MIN_BUDGET,
    needs="a model with budget (enabled) thinking",
    tools=False,  # a forced tool_choice would meet thinking turned on
)
def _thinking_budget(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    if draw(st.booleans()):
        budget = draw(st.integers(0, _MIN_BUDGET - 1))  # below the minimum
        max_tokens = draw(st.integers(budget + 1, ctx.profile.max_output))
    else:
        max_tokens = draw(st.integers(_MIN_BUDGET, min(ctx.profile.max_output, 64_000)))
        budget = draw(st.integers(max_tokens, max_tokens + 4096))  # not below max_tokens
    return attrs.evolve(conv, thinking={"type": "enabled", "budget_tokens": budget}, max_tokens=max_tokens)


@_breaks("tool-choice.forced-unsupported", tools=True,
         suits=lambda p: not p.forced_tool_choice or "enabled" in p.thinking_modes,
         needs="a model that cannot force tool use, or one with extended (enabled) thinking")
def _forced_choice(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    names = _client_tool_names(conv.tools)
    kind = draw(st.sampled_from(("any", "tool")))
    choice = {"type": kind, "name": draw(st.sampled_from(names))} if kind == "tool" else {"type": kind}
    conv = attrs.evolve(conv, tool_choice=choice)
    if ctx.profile.forced_tool_choice:
        # the model takes forced tool use, but not with extended thinking (facts §2.5); adaptive
        # thinking with a forced choice was accepted live (facts §11, LIVE)
        conv = _set_thinking_on(draw, conv, ctx.profile, ("enabled",))
    return conv


@_breaks("effort.unsupported")
def _bad_effort(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # a real level the model lacks when there is one, else a level no model has
    missing = [lv for lv in _EFFORTS if lv not in ctx.profile.effort_levels]
    level = draw(st.sampled_from(missing)) if missing else draw(st.sampled_from(("extreme", "minimal", "none")))
    output_config = dict(conv.output_config) if isinstance(conv.output_config, dict) else {}
    output_config["effort"] = level
    return attrs.evolve(conv, output_config=output_config)


_BAD_MEDIA_TYPES = ("image/bmp", "image/tiff", "image/svg+xml", "image/jpg", "image/heic", "application/pdf")


@_breaks("image.media-type")
def _bad_media_type(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    image = draw(_inline_images(("png", "gif"), 16))
    assert isinstance(image.source, Base64Source)
    if draw(st.booleans()):
        declared = draw(st.sampled_from(_BAD_MEDIA_TYPES))  # not one of the four
    else:
        declared = draw(st.sampled_from([t for t in ("image/jpeg", "image/png", "image/gif", "image/webp")
                                         if t != image.source.media_type]))  # not what the bytes are
    bad = Image(Base64Source(declared, image.source.data))
    return _add_to_user(draw, conv, bad)


@_breaks(
    "image.too-many",
    suits=lambda p: p.max_images <= 5000,
    needs="a model with an image cap of at most 5000",
    images=False,
)
def _too_many_images(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    distinct = draw(st.lists(_url_images(), min_size=1, max_size=4))
    count = ctx.profile.max_images + draw(st.integers(1, 3))
    pool = [distinct[i % len(distinct)] for i in range(count)]
    return _add_to_user(draw, conv, *pool)


@functools.cache
def _oversized_data(limit: int) -> str:
    """Base64 of a real PNG followed by zero bytes: its length is just over *limit*."""
    data = png(2, 2, (255, 0, 0))
    data += b"\x00" * (-len(data) % 3)  # no padding, so "A"s (zero bytes) can follow
    head = base64.b64encode(data).decode("ascii")
    filler = limit + 1 - len(head)
    return head + "A" * (filler + (-filler % 4))


@_breaks(
    "image.too-large",
    suits=lambda p: p.max_image_bytes <= 64 * 1024 * 1024,
    needs="a model with a per-image size cap of at most 64 MiB",
)
def _too_large_image(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    image = Image(Base64Source("image/png", _oversized_data(ctx.profile.max_image_bytes)))
    return _add_to_user(draw, conv, image)


@_breaks("image.dimensions", images=False)
def _too_big_image(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    prof = ctx.profile
    if draw(st.booleans()):
        # one side over the absolute cap
        side = draw(st.integers(prof.max_image_px + 1, prof.max_image_px + 500))
        width, height = draw(st.sampled_from(((side, 1), (1, side))))
        return _add_to_user(draw, conv, Image.from_bytes(png(width, height, (0, 0, 0))))
    # more images than the many-image threshold, one of them over the many-image cap
    side = draw(st.integers(prof.many_images_px + 1, min(prof.max_image_px, prof.many_images_px + 200)))
    width, height = draw(st.sampled_from(((side, 1), (1, side))))
    small = draw(_inline_images(("png", "gif"), 8))
    count = prof.many_images_threshold + draw(st.integers(1, 3))
    images_ = [small] * (count - 1) + [Image.from_bytes(png(width, height, (0, 0, 0)))]
    order = draw(st.permutations(images_))
    return _add_to_user(draw, conv, *order)


def _cache_slots(conv: Conversation) -> list[tuple[str, int, int]]:
    slots: list[tuple[str, int, int]] = []
    if conv.tools is not UNSET:
        slots += [("tool", i, 0) for i in range(len(conv.tools))]
    if isinstance(conv.system, tuple):
        slots += [("system", j, 0) for j, b in enumerate(conv.system) if _cacheable(b)]
    for i, message in enumerate(conv.messages):
        slots += [("message", i, j) for j, b in enumerate(message.blocks) if _cacheable(b)]
    return slots


def _with_breakpoints(conv: Conversation, marks: list[tuple[tuple[str, int, int], FrozenDict]]) -> Conversation:
    tools = list(conv.tools) if conv.tools is not UNSET else []
    system: list[Block] = list(conv.system) if isinstance(conv.system, tuple) else []
    messages = [list(m.blocks) for m in conv.messages]
    for (where, i, j), cc in marks:
        if where == "tool":
            tools[i] = {**tools[i], "cache_control": dict(cc)}
        elif where == "system":
            system[i] = _with_cache(system[i], cc)
        else:
            messages[i][j] = _with_cache(messages[i][j], cc)
    touched = {i for (where, i, _), _cc in marks if where == "message"}
    changes: dict[str, Any] = {
        "messages": tuple(
            m.with_blocks(messages[k]) if k in touched else m for k, m in enumerate(conv.messages)
        )
    }
    if conv.tools is not UNSET:
        changes["tools"] = tools
    if isinstance(conv.system, tuple):
        changes["system"] = tuple(system)
    return attrs.evolve(conv, **changes)


def _more_cacheable(draw: st.DrawFn, conv: Conversation, need: int) -> Conversation:
    """Add text blocks to the last user turn until *need* blocks can carry cache_control."""
    missing = need - len(_cache_slots(conv))
    if missing <= 0:
        return conv
    last = _user_indexes(conv)[-1]
    blocks = [*conv.messages[last].blocks, *(Text(draw(_TEXTS)) for _ in range(missing))]
    return _replace_message(conv, last, conv.messages[last].with_blocks(blocks))


@_breaks("cache-control.too-many")
def _too_many_breakpoints(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # five or more explicit breakpoints, or four plus automatic caching (facts §3.5); one TTL
    top_level = draw(st.booleans())
    k = 4 if top_level else draw(st.integers(5, 7))
    conv = _more_cacheable(draw, conv, k)
    slots = _cache_slots(conv)
    chosen = draw(st.lists(st.sampled_from(slots), min_size=k, max_size=k, unique=True))
    cc = _ephemeral(draw(st.sampled_from((None, "5m"))))
    conv = _with_breakpoints(conv, [(slot, cc) for slot in chosen])
    return attrs.evolve(conv, cache_control=_ephemeral(None)) if top_level else conv


@_breaks("cache-control.ttl-order")
def _ttl_order(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # a 5m breakpoint before a 1h one in prefix order (tools, system, messages), four at most
    k = draw(st.integers(2, 4))
    conv = _more_cacheable(draw, conv, k)
    slots = _cache_slots(conv)  # already in prefix order
    chosen = sorted(draw(st.lists(st.sampled_from(range(len(slots))), min_size=k, max_size=k, unique=True)))
    short, long_ = sorted(draw(st.lists(st.sampled_from(range(k)), min_size=2, max_size=2, unique=True)))
    marks = []
    for rank, index in enumerate(chosen):
        if rank == short:
            ttl: str | None = draw(st.sampled_from((None, "5m")))
        elif rank == long_ or rank < short:
            ttl = "1h"
        else:
            ttl = draw(st.sampled_from((None, "5m", "1h")))
        marks.append((slots[index], _ephemeral(ttl)))
    return _with_breakpoints(conv, marks)


@_breaks("document.in-assistant", api_versions=(_NEW_API,))
def _document_in_assistant(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    source: TextSource | URLSource = (
        TextSource(draw(_TEXTS)) if draw(st.booleans()) else URLSource("https://example.com/paper.pdf")
    )
    document = Document(source, title=draw(st.one_of(st.just(UNSET), _SHORT_TEXTS)))
    candidates = [i for i, m in enumerate(conv.messages[:-1]) if m.role == "assistant"]
    if not candidates or draw(st.booleans()):
        # a new exchange: the assistant turn with the document, then a user turn
        turn = (Message("assistant", (Text(draw(_TEXTS)), document)), Message("user", draw(_TEXTS)))
        return attrs.evolve(conv, messages=(*conv.messages, *turn))
    index = draw(st.sampled_from(candidates))
    blocks = [*conv.messages[index].blocks, document]
    return _replace_message(conv, index, conv.messages[index].with_blocks(blocks))


_CHAR_CITATION = st.builds(
    lambda cited, title, start: FrozenDict({
        "type": "char_location", "cited_text": cited, "document_index": 0, "document_title": title,
        "start_char_index": start, "end_char_index": start + len(cited),
    }),
    _SHORT_TEXTS,
    st.one_of(st.none(), _SHORT_TEXTS),
    st.integers(0, 1000),
)


@_breaks("citations.in-user", api_versions=(_NEW_API,))
def _citations_in_user(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    # a cited text block in a user turn: directly, in a search_result, or in a tool_result
    cited = Text(draw(_TEXTS), citations=(draw(_CHAR_CITATION),))
    where = draw(st.sampled_from(("text", "search_result", "tool_result")))
    if where == "text":
        return _add_to_user(draw, conv, cited)
    if where == "search_result":
        result = SearchResult("https://example.com/source", draw(_SHORT_TEXTS), cast(Any, (cited,)))
        return _add_to_user(draw, conv, result)
    conv, at = _ensure_tool_pair(draw, conv)
    blocks = [
        attrs.evolve(b, content=(cited,)) if isinstance(b, ToolResult) else b
        for b in conv.messages[at + 1].blocks
    ]
    return _replace_message(conv, at + 1, conv.messages[at + 1].with_blocks(blocks))


@_breaks("model.unknown")
def _unknown_model(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return attrs.evolve(conv, model="example-model-" + draw(_suffix(6)).lower())


# issue 12: the closed world (schema.*) and the API's checks of names, ids and bytes ---------

_TYPOS = st.sampled_from(("stop_sequence", "response_format", "max_completion_tokens", "temprature",
                          "x_trace_id", "tool", "system_prompt"))


def _add_tool(draw: st.DrawFn, conv: Conversation, tool: dict[str, Any]) -> Conversation:
    tools = list(() if conv.tools is UNSET else conv.tools)
    tools.insert(draw(st.integers(0, len(tools))), tool)
    return attrs.evolve(conv, tools=tuple(tools))


@_breaks("schema.unknown-key")
def _unknown_key(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return attrs.evolve(conv, extra=FrozenDict({**conv.extra, draw(_TYPOS): draw(_SHORT_TEXTS)}))


@_breaks("schema.beta-only")
def _beta_only(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return attrs.evolve(conv, extra=FrozenDict({**conv.extra, "context_management": FrozenDict({"edits": ()})}))


@_breaks("schema.unknown-type")
def _unknown_type(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return attrs.evolve(conv, tool_choice={"type": draw(st.sampled_from(("anything", "required", "function")))})


@_breaks("schema.wrong-type")
def _wrong_type(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    return attrs.evolve(conv, metadata={"user_id": draw(st.integers(0, 10**6))})


@_breaks("schema.missing-key")
def _missing_key(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    name = "t_" + draw(st.text(st.sampled_from(_ALNUM), min_size=1, max_size=8))
    return _add_tool(draw, conv, {"name": name, "description": "no input_schema"})


@_breaks("tools.duplicate-name")
def _duplicate_tool(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    name = "t_" + draw(st.text(st.sampled_from(_ALNUM), min_size=1, max_size=8))
    tool = {"name": name, "input_schema": {"type": "object"}}
    return _add_tool(draw, _add_tool(draw, conv, tool), dict(tool))


@_breaks("tool-choice.unknown-tool", suits=lambda p: p.forced_tool_choice, needs="a model that can force tool use")
def _unknown_tool_choice(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    names = {t.get("name") for t in (() if conv.tools is UNSET else conv.tools) if isinstance(t, dict)}
    name = draw(st.text(st.sampled_from(_ALNUM), min_size=1, max_size=12).filter(lambda n: n not in names))
    return attrs.evolve(conv, tool_choice={"type": "tool", "name": name})


@_breaks("base64.invalid")
def _bad_base64(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    image = draw(_inline_images(("png",), 16))
    assert isinstance(image.source, Base64Source)
    data = image.source.data.rstrip("=")
    bad = draw(st.sampled_from((data + "!", data[:-1], "not base64 at all", data + "==" + "A")))
    return _add_to_user(draw, conv, Image(Base64Source("image/png", bad)))


@_breaks("document.media-type")
def _pdf_not_pdf(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    image = draw(_inline_images(("png", "gif"), 16))
    assert isinstance(image.source, Base64Source)
    return _add_to_user(draw, conv, Document(Base64Source("application/pdf", image.source.data)))
