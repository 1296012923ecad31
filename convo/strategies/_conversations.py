"""The :func:`conversations` strategy: requests a model accepts, and the drawing behind them.

Layer: inside ``convo.strategies``, above ``_values``; :mod:`convo.strategies._invalid` starts
from what it draws (``_make_spec`` and ``_conversations``).
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from convo._json import UNSET, FrozenDict
from convo.model import (
    Block,
    Conversation,
    Message,
    Text,
    ToolResult,
    ToolUse,
)
from convo.profiles import API_VERSIONS, DEFAULT_API_VERSION, Profile, get_profile
from convo.strategies._values import (
    _IMAGES,
    _MIN_BUDGET,
    _MODEL_PREFERENCE,
    _NEW_API,
    _SHORT_TEXTS,
    _TEXTS,
    _THINKING_ON,
    _TOOL_INPUTS,
    _TOOL_NAMES,
    _cacheable,
    _client_tool_names,
    _ephemeral,
    _maybe,
    _suffix,
    _thinking_blocks,
    _with_cache,
)


@attrs.frozen
class _Spec:
    """The resolved, checked arguments of :func:`conversations`."""

    profile: Profile
    model: str
    api_version: str
    turn_counts: tuple[int, ...]  # allowed numbers of user+assistant turns; even = prefill
    images: bool
    tools: bool
    thinking: bool
    system: bool | None
    mid_system: bool
    cache_control: bool | None
    sampling: bool | None


def _usable_thinking_modes(profile: Profile) -> tuple[str, ...]:
    return tuple(
        m
        for m in _THINKING_ON
        if m in profile.thinking_modes and (m != "enabled" or profile.max_output > _MIN_BUDGET)
    )


def _resolve_profile(model: str | None, profile: Profile | None) -> tuple[Profile, str]:
    if profile is not None:
        if not isinstance(profile, Profile):
            raise InvalidArgument(f"profile must be a convo.profiles.Profile, got {profile!r}")
        return profile, model if model is not None else profile.model
    if model is None:
        model = _MODEL_PREFERENCE[0]
    if not isinstance(model, str) or not model:
        raise InvalidArgument(f"model must be a non-empty model id, got {model!r}")
    return get_profile(model), model


def _check_api_version(api_version: str) -> None:
    if api_version not in API_VERSIONS:
        raise InvalidArgument(f"api_version must be one of {', '.join(API_VERSIONS)}; got {api_version!r}")


def _make_spec(
    *,
    model: str | None,
    profile: Profile | None,
    api_version: str,
    min_turns: int,
    max_turns: int,
    images: bool,
    tools: bool,
    thinking: bool,
    system: bool | None,
    mid_system: bool,
    prefill: bool | None,
    cache_control: bool | None,
    sampling: bool | None,
) -> _Spec:
    prof, model_id = _resolve_profile(model, profile)
    _check_api_version(api_version)
    if prof.max_output < 1:
        raise InvalidArgument(f"{model_id} has max_output {prof.max_output}: no max_tokens fits")
    if not isinstance(min_turns, int) or isinstance(min_turns, bool) or min_turns < 1:
        raise InvalidArgument(f"min_turns must be an integer >= 1, got {min_turns!r}")
    if not isinstance(max_turns, int) or isinstance(max_turns, bool) or max_turns < min_turns:
        raise InvalidArgument(f"max_turns={max_turns!r} must be an integer >= min_turns={min_turns}")
    for name, value in (("system", system), ("prefill", prefill), ("cache_control", cache_control),
                        ("sampling", sampling)):
        if value is not None and type(value) is not bool:
            raise InvalidArgument(f"{name} must be None, True or False, got {value!r}")
    for name, value in (("images", images), ("tools", tools), ("thinking", thinking),
                        ("mid_system", mid_system)):
        if type(value) is not bool:
            raise InvalidArgument(f"{name} must be True or False, got {value!r}")
    if mid_system and not prof.mid_conversation_system:
        raise InvalidArgument(
            f"mid_system=True, but {model_id} does not accept mid-conversation system messages "
            "(rule system-message.unsupported-model); use the top-level system instead"
        )
    if thinking and not _usable_thinking_modes(prof):
        raise InvalidArgument(f"thinking=True, but {model_id} has neither enabled nor adaptive thinking")
    prefill_possible = prof.prefill and not thinking
    if prefill and not prof.prefill:
        raise InvalidArgument(f"prefill=True, but {model_id} rejects assistant prefill (rule prefill.unsupported)")
    if prefill and thinking:
        raise InvalidArgument("prefill=True with thinking=True: prefill is rejected while thinking is on")
    counts = range(min_turns, max_turns + 1)
    if prefill:
        turn_counts = tuple(n for n in counts if n % 2 == 0)
    elif prefill is False or not prefill_possible:
        turn_counts = tuple(n for n in counts if n % 2 == 1)
    else:
        turn_counts = tuple(counts)
    if not turn_counts:
        raise InvalidArgument(
            f"no turn count in {min_turns}..{max_turns} fits: a conversation for {model_id} must "
            + ("end with an assistant prefill (an even count)" if prefill else
               "end with a user turn (an odd count of user and assistant turns)")
        )
    if sampling and api_version == _NEW_API:
        raise InvalidArgument("sampling=True, but API version 2026-10-21 removed temperature, top_p and top_k")
    return _Spec(
        profile=prof,
        model=model_id,
        api_version=api_version,
        turn_counts=turn_counts,
        images=images,
        tools=tools,
        thinking=thinking,
        system=system,
        mid_system=mid_system,
        cache_control=cache_control,
        sampling=sampling,
    )


def conversations(
    *,
    model: str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    min_turns: int = 1,
    max_turns: int = 12,
    images: bool = False,
    tools: bool = False,
    thinking: bool = False,
    system: bool | None = None,
    mid_system: bool = False,
    prefill: bool | None = None,
    cache_control: bool | None = None,
    sampling: bool | None = None,
    profile: Profile | None = None,
) -> st.SearchStrategy[Conversation]:
    """Conversations that *model* accepts under *api_version*: ``validate`` finds no error.

    A turn is a user or assistant message (mid-conversation system messages are not turns);
    there are *min_turns* to *max_turns* of them, alternating and starting with ``user``. An even
    count ends with an assistant prefill, generated only where the model accepts prefill.
    ``None`` means "sometimes" for *system* (top-level system), *prefill*, *cache_control*
    (up to four breakpoints, 1h TTLs before 5m ones) and *sampling* (temperature, top_p, top_k;
    only under API 2023-06-01 and only values the model takes); ``True`` always, ``False`` never.
    *images* adds image blocks (PNG, GIF, URL) to user turns and tool results; *tools* adds tool
    definitions and tool_use/tool_result pairs; *thinking* turns thinking on (a mode the model
    has) and puts signed thinking blocks in assistant turns; *mid_system* adds mid-conversation
    system messages after user turns. *model* defaults to ``claude-opus-4-8``, or to the model
    of *profile*, a :class:`~convo.profiles.Profile` that replaces the built-in one.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, database=None, deadline=None)
    ... @given(conversations(model="claude-sonnet-4-5", tools=True, max_turns=5))
    ... def check(conv):
    ...     roles = [m.role for m in conv.messages]
    ...     assert roles[0] == "user" and 1 <= len(roles) <= 5
    >>> check()
    >>> conversations(min_turns=3, max_turns=2)
    Traceback (most recent call last):
    ...
    hypothesis.errors.InvalidArgument: max_turns=2 must be an integer >= min_turns=3
    """
    spec = _make_spec(
        model=model,
        profile=profile,
        api_version=api_version,
        min_turns=min_turns,
        max_turns=max_turns,
        images=images,
        tools=tools,
        thinking=thinking,
        system=system,
        mid_system=mid_system,
        prefill=prefill,
        cache_control=cache_control,
        sampling=sampling,
    )
    return _conversations(spec)



@st.composite
def _tool_definitions(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(_TOOL_NAMES, min_size=1, max_size=4, unique=True))
    tools: list[dict[str, Any]] = []
    for name in names:
        tool: dict[str, Any] = {}
        if draw(st.integers(0, 9)) == 0:
            tool["type"] = "custom"
        tool["name"] = name
        if draw(st.booleans()):
            tool["description"] = draw(_TEXTS)
        tool["input_schema"] = {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        }
        tools.append(tool)
    if draw(st.integers(0, 4)) == 0:  # a server tool now and then: it has a type and no schema
        tools.append({"type": "web_search_20250305", "name": "web_search", "max_uses": 3})
    return tools



class _Ids:
    """Tool-use ids unique within one conversation: a running counter plus a drawn suffix."""

    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw
        self._n = 0

    def __call__(self, prefix: str = "toolu_") -> str:
        self._n += 1
        return f"{prefix}01{self._n:03d}{self._draw(_suffix(12))}"


def _tool_result_content(draw: st.DrawFn, spec: _Spec, images_left: list[int]) -> Any:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return UNSET
    if choice == 1:
        return draw(_TEXTS)
    blocks: list[Block] = [Text(draw(_TEXTS))]
    if spec.images and images_left[0] > 0 and draw(st.booleans()):
        images_left[0] -= 1
        blocks.append(draw(_IMAGES))
    return tuple(blocks)


def _user_blocks(
    draw: st.DrawFn, spec: _Spec, pending: list[str], images_left: list[int]
) -> list[Block]:
    blocks: list[Block] = []
    if pending:
        # every tool_use of the previous assistant turn is answered, results first (facts §1.8)
        for tool_id in draw(st.permutations(pending)):
            is_error = (UNSET, UNSET, False, True)[draw(st.integers(0, 3))]
            blocks.append(
                ToolResult(tool_id, content=_tool_result_content(draw, spec, images_left), is_error=is_error)
            )
    for _ in range(draw(st.integers(0 if pending else 1, 3))):
        if spec.images and images_left[0] > 0 and draw(st.integers(0, 2)) == 0:
            images_left[0] -= 1
            blocks.append(draw(_IMAGES))
        else:
            blocks.append(Text(draw(_TEXTS)))
    return blocks


def _assistant_blocks(
    draw: st.DrawFn, spec: _Spec, thinking_on: bool, tool_names: list[str], ids: _Ids
) -> tuple[list[Block], list[str]]:
    blocks: list[Block] = []
    if thinking_on and draw(st.booleans()):
        blocks.extend(draw(_thinking_blocks()))  # thinking comes first in a turn
    for _ in range(draw(st.integers(0, 2))):
        blocks.append(Text(draw(_TEXTS)))
    uses: list[str] = []
    if draw(st.booleans()) and tool_names:
        for _ in range(draw(st.integers(1, 3))):
            tool_id = ids()
            uses.append(tool_id)
            blocks.append(ToolUse(tool_id, draw(st.sampled_from(tool_names)), draw(_TOOL_INPUTS)))
    if not any(isinstance(b, Text | ToolUse) for b in blocks):
        blocks.append(Text(draw(_TEXTS)))
    return blocks, uses


def _system_content(draw: st.DrawFn) -> list[Block]:
    return [Text(draw(_TEXTS)) for _ in range(draw(st.integers(1, 2)))]



def _place_breakpoints(
    draw: st.DrawFn,
    spec: _Spec,
    tools: list[dict[str, Any]],
    system: list[Block],
    messages: list[tuple[str, list[Block]]],
) -> FrozenDict | None:
    """Put cache_control on up to four blocks (1h TTLs before 5m ones); maybe a top-level one."""
    if not _maybe(draw, spec.cache_control):
        return None
    slots: list[tuple[str, int, int]] = [("tool", i, 0) for i in range(len(tools))]
    slots += [("system", j, 0) for j, b in enumerate(system) if _cacheable(b)]
    for i, (_, blocks) in enumerate(messages):
        slots += [("message", i, j) for j, b in enumerate(blocks) if _cacheable(b)]
    if not slots:
        return None
    k = draw(st.integers(1 if spec.cache_control else 0, min(4, len(slots))))
    chosen = sorted(draw(st.lists(st.sampled_from(range(len(slots))), min_size=k, max_size=k, unique=True)))
    n_long = draw(st.integers(0, k))  # the first n_long breakpoints in prefix order get 1h
    last_message_long = False
    for rank, index in enumerate(chosen):
        where, i, j = slots[index]
        ttl = "1h" if rank < n_long else draw(st.sampled_from((None, "5m")))
        cc = _ephemeral(ttl)
        if where == "tool":
            tools[i] = {**tools[i], "cache_control": dict(cc)}
        elif where == "system":
            system[i] = _with_cache(system[i], cc)
        else:
            messages[i][1][j] = _with_cache(messages[i][1][j], cc)
            if i == len(messages) - 1 and ttl == "1h":
                last_message_long = True
    # Automatic caching takes one more slot and lands on the last block; it must not meet an
    # explicit breakpoint with another TTL there (facts §3.5).
    if k < 4 and not last_message_long and draw(st.integers(0, 3)) == 0:
        return _ephemeral(None)
    return None


def _as_content(draw: st.DrawFn, blocks: list[Block]) -> str | tuple[Block, ...]:
    """A lone plain text block is written as string content half the time (both are legal)."""
    if len(blocks) == 1:
        only = blocks[0]
        if type(only) is Text and only.cache_control is UNSET and only.citations is UNSET and draw(st.booleans()):
            return only.text
    return tuple(blocks)


def _sampling_params(draw: st.DrawFn, spec: _Spec, thinking_on: bool) -> dict[str, Any]:
    """Sampling parameters the model takes, and only under API 2023-06-01 (facts §2.3, §10).

    Models that take only the defaults get temperature 1.0 and top_p >= 0.99; with thinking on,
    temperature stays 1.0, top_p within 0.95..1 and top_k is left out.
    """
    if spec.api_version == _NEW_API or not _maybe(draw, spec.sampling):
        return {}
    fixed = spec.profile.sampling == "default_only" or thinking_on
    names = ["temperature", "top_p"] + ([] if fixed else ["top_k"])
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    top_p_low = 990 if spec.profile.sampling == "default_only" else 950 if thinking_on else 0
    params: dict[str, Any] = {}
    for name in chosen:
        if name == "temperature":
            params[name] = 1.0 if fixed else draw(st.integers(0, 100)) / 100
        elif name == "top_p":
            params[name] = draw(st.integers(top_p_low, 1000)) / 1000
        else:
            params[name] = draw(st.integers(0, 500))
    return params


@st.composite
def _conversations(draw: st.DrawFn, spec: _Spec) -> Conversation:
    prof = spec.profile
    n_turns = draw(st.sampled_from(spec.turn_counts))
    kwargs: dict[str, Any] = {"model": spec.model}

    # thinking first: it bounds max_tokens and rules out forced tool choice and sampling
    modes = _usable_thinking_modes(prof)
    thinking_config: dict[str, Any] | None = None
    if spec.thinking:
        mode = draw(st.sampled_from(modes))
        thinking_config = {"type": mode}
        if draw(st.booleans()):
            thinking_config["display"] = draw(st.sampled_from(("summarized", "omitted")))
    elif "disabled" in prof.thinking_modes and draw(st.integers(0, 3)) == 0:
        thinking_config = {"type": "disabled"}
    # some models cannot turn thinking off at some efforts (Opus 5 at xhigh / max, facts §2.5)
    effort_levels = list(prof.effort_levels)
    must_set_effort = False
    if thinking_config is not None and thinking_config["type"] == "disabled":
        required = prof.thinking_required_efforts
        effort_levels = [lv for lv in effort_levels if lv not in required]
        must_set_effort = prof.default_effort in required
        if must_set_effort and not effort_levels:
            thinking_config = None
    thinking_on = thinking_config is not None and thinking_config["type"] in _THINKING_ON
    if thinking_config is not None and thinking_config["type"] == "enabled":
        budget = draw(st.integers(_MIN_BUDGET, min(prof.max_output - 1, 16_000)))
        thinking_config["budget_tokens"] = budget
        kwargs["max_tokens"] = draw(st.integers(budget + 1, min(prof.max_output, budget + 16_000)))
    else:
        kwargs["max_tokens"] = draw(
            st.one_of(st.integers(1, min(4096, prof.max_output)), st.integers(1, prof.max_output))
        )
    if thinking_config is not None:
        kwargs["thinking"] = thinking_config

    tools: list[dict[str, Any]] = draw(_tool_definitions()) if spec.tools else []
    tool_names = _client_tool_names(tools)
    prefill_turn = n_turns % 2 == 0
    if draw(st.booleans()) and tools:
        forced_ok = prof.forced_tool_choice and not thinking_on and not prefill_turn
        kinds = ["auto", "none"] + (["any", "tool"] if forced_ok else [])
        kind = draw(st.sampled_from(kinds))
        choice: dict[str, Any] = {"type": kind}
        if kind == "tool":
            choice["name"] = draw(st.sampled_from(tool_names))
        if kind != "none" and draw(st.booleans()):
            choice["disable_parallel_tool_use"] = draw(st.booleans())
        kwargs["tool_choice"] = choice

    system: list[Block] = _system_content(draw) if _maybe(draw, spec.system) else []

    ids = _Ids(draw)
    # a few per conversation, far from every image limit (and within a custom profile's cap)
    images_left = [draw(st.integers(0, min(4, prof.max_images)))]
    messages: list[tuple[str, list[Block]]] = []
    pending: list[str] = []
    mid_slots: list[bool] = []
    for turn in range(n_turns):
        if turn % 2 == 0:
            messages.append(("user", _user_blocks(draw, spec, pending, images_left)))
            pending = []
            # a system message may follow a user turn: it is then last, or an assistant follows
            if spec.mid_system:
                mid_slots.append(draw(st.integers(0, 2)) == 0)
                if mid_slots[-1]:
                    messages.append(("system", _system_content(draw)))
        elif turn == n_turns - 1:
            # the prefill: text only, never ending in whitespace (facts §1.4)
            messages.append(("assistant", [Text(draw(_TEXTS)) for _ in range(draw(st.integers(1, 2)))]))
        else:
            blocks, pending = _assistant_blocks(draw, spec, thinking_on, tool_names, ids)
            messages.append(("assistant", blocks))
    if spec.mid_system and not any(mid_slots):
        # mid_system=True promises at least one: put it after a drawn user turn
        nth = draw(st.integers(0, len(mid_slots) - 1))
        user_positions = [i for i, (role, _) in enumerate(messages) if role == "user"]
        messages.insert(user_positions[nth] + 1, ("system", _system_content(draw)))

    top_cache = _place_breakpoints(draw, spec, tools, system, messages)
    if top_cache is not None:
        kwargs["cache_control"] = top_cache
    if tools:
        kwargs["tools"] = tools
    if system:
        kwargs["system"] = _as_content(draw, system)
    kwargs["messages"] = tuple(Message(role, _as_content(draw, blocks)) for role, blocks in messages)
    kwargs.update(_sampling_params(draw, spec, thinking_on))

    if effort_levels and (must_set_effort or draw(st.integers(0, 2)) == 0):
        kwargs["output_config"] = {"effort": draw(st.sampled_from(effort_levels))}
    if draw(st.integers(0, 4)) == 0:
        kwargs["stop_sequences"] = tuple(draw(st.lists(_SHORT_TEXTS, min_size=1, max_size=3)))
    if draw(st.integers(0, 4)) == 0:
        kwargs["metadata"] = {"user_id": "user-" + draw(_suffix(10))}
    if draw(st.integers(0, 5)) == 0:
        kwargs["service_tier"] = draw(st.sampled_from(("auto", "standard_only")))
    return Conversation(**kwargs)
