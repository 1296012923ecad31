"""Public Hypothesis strategies for convo values, for your own property tests and for convo's.

Layer: above the model and profiles (it reads :func:`convo.profiles.get_profile` to know what a
model accepts, and nothing of rules or transforms). This module imports Hypothesis, so
``import convo`` never imports it; import ``convo.strategies`` yourself.

- :func:`conversations` generates requests that the named model accepts under the named API
  version: roles alternate starting with ``user``; text is non-empty, never whitespace only, and
  mixes scripts (latin, CJK, kana, Arabic, Hebrew, emoji); tool_use/tool_result pairs have unique
  ids with the results first in the next user turn; thinking blocks carry signatures; images are
  real tiny PNG and GIF files (their headers read back) or URLs; mid-conversation system messages
  sit only where facts §1.5 allows them; at most four cache breakpoints with 1h TTLs before 5m
  ones; sampling parameters only where the profile and API version take them (facts §2.3, §10).
- :func:`responses` generates Messages API responses for every ``stop_reason`` (facts §4).
- :func:`invalid_conversations` starts from a valid conversation and breaks one named rule of
  :mod:`convo.rules` (:func:`rule_ids` lists them), so a test can check that the rule fires.
- :func:`texts` and :func:`images` are the building blocks, public because they are handy alone.

Every strategy takes keyword arguments only, generates valid data by default, and raises
:class:`hypothesis.errors.InvalidArgument` when asked for something impossible (STYLE.md).
"""

from __future__ import annotations

import base64
import functools
import string
from collections.abc import Callable, Iterable
from typing import Any, cast

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from convo._json import UNSET, FrozenDict
from convo._samples import gif, png
from convo.model import (
    SAMPLING_PARAMS,
    Base64Source,
    Block,
    Conversation,
    Document,
    Image,
    Message,
    RedactedThinking,
    Response,
    SearchResult,
    ServerToolUse,
    StopDetails,
    Text,
    TextSource,
    Thinking,
    ToolResult,
    ToolUse,
    URLSource,
    Usage,
    WebSearchToolResult,
)
from convo.profiles import API_VERSIONS, DEFAULT_API_VERSION, Profile, builtin_profiles, get_profile

__all__ = [
    "conversations",
    "responses",
    "invalid_conversations",
    "rule_ids",
    "texts",
    "images",
    "STOP_REASONS",
    "REFUSAL_CATEGORIES",
]

STOP_REASONS = (
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
)
"""Every ``stop_reason`` the API documents (facts §4)."""

REFUSAL_CATEGORIES = ("cyber", "bio", "frontier_llm", "reasoning_extraction", "general_harms")
"""The refusal ``stop_details.category`` values (facts §4); ``None`` is also possible."""

# Model ids from facts §2.1/§2.2, in the order invalid_conversations prefers them when the
# default model cannot show a rule on its own.
_MODEL_PREFERENCE = (
    "claude-opus-4-8",
    "claude-sonnet-4-5",
    "claude-sonnet-5",
    "claude-mythos-preview",
    "claude-opus-5-5",
    "claude-haiku-4-5",
    "claude-opus-4-5",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-7",
    "claude-opus-5",
    "claude-fable-5",
    "claude-mythos-5",
    "claude-fable-5-1",
    "claude-mythos-5-1",
)
_OLD_API, _NEW_API = "2023-06-01", "2026-10-21"
_THINKING_ON = ("enabled", "adaptive")
_EFFORTS = ("low", "medium", "high", "xhigh", "max")
_MIN_BUDGET = 1024  # thinking.budget_tokens minimum (facts §7)

# --------------------------------------------------------------------------- text


_LATIN = string.ascii_letters + string.digits + "àáâäçèéêëìíîïñòóôöùúûüßøåæœ"
# Every alphabet below is letters, marks, numbers, punctuation or symbols: no character of them
# is whitespace (str.isspace), so a word is never blank and a text never ends in whitespace.
_WORDS = st.one_of(
    st.text(st.sampled_from(_LATIN), min_size=1, max_size=10),
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=6),
    st.text(st.characters(min_codepoint=0x3041, max_codepoint=0x3096), min_size=1, max_size=6),
    st.text(st.characters(min_codepoint=0x0621, max_codepoint=0x064A), min_size=1, max_size=8),
    st.text(st.characters(min_codepoint=0x05D0, max_codepoint=0x05EA), min_size=1, max_size=8),
    st.text(st.characters(min_codepoint=0x1F600, max_codepoint=0x1F64F), min_size=1, max_size=3),
    st.text(st.characters(categories=("L", "M", "N", "P", "S")), min_size=1, max_size=8),
)
_SEPARATORS = (" ", " ", " ", ", ", ". ", "\n", " — ", "、", "! ", "\n\n")


@st.composite
def _joined_words(draw: st.DrawFn, min_words: int, max_words: int) -> str:
    words = draw(st.lists(_WORDS, min_size=min_words, max_size=max_words))
    parts = [words[0]]
    for word in words[1:]:
        parts.append(draw(st.sampled_from(_SEPARATORS)))
        parts.append(word)
    return "".join(parts)


def texts(*, min_words: int = 1, max_words: int = 8) -> st.SearchStrategy[str]:
    """Non-empty text in several scripts that neither starts nor ends with whitespace.

    Words come from latin, CJK, kana, Arabic, Hebrew, emoji and any other printable letters,
    numbers, punctuation and symbols, joined by spaces, punctuation and newlines.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20, database=None, deadline=None)
    ... @given(texts())
    ... def check(s):
    ...     assert s.strip() == s and s
    >>> check()
    """
    if not isinstance(min_words, int) or min_words < 1:
        raise InvalidArgument(f"min_words must be an integer >= 1, got {min_words!r}")
    if not isinstance(max_words, int) or max_words < min_words:
        raise InvalidArgument(f"max_words={max_words!r} must be an integer >= min_words={min_words}")
    return _joined_words(min_words, max_words)


_SHORT_TEXTS = texts(max_words=4)
_TEXTS = texts()

# --------------------------------------------------------------------------- images

_RGB = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
_URL_HOSTS = ("https://example.com", "https://images.example.org", "https://cdn.example.net")
_URL_NAMES = st.text(st.sampled_from(string.ascii_lowercase + string.digits + "-_"), min_size=1, max_size=16)


@st.composite
def _inline_images(draw: st.DrawFn, kinds: tuple[str, ...], max_side: int) -> Image:
    kind = draw(st.sampled_from(kinds))
    width = draw(st.integers(1, max_side))
    height = draw(st.integers(1, max_side))
    make = png if kind == "png" else gif
    return Image.from_bytes(make(width, height, draw(_RGB)))


@st.composite
def _url_images(draw: st.DrawFn) -> Image:
    host = draw(st.sampled_from(_URL_HOSTS))
    name = draw(_URL_NAMES)
    ext = draw(st.sampled_from(("png", "jpg", "gif", "webp")))
    return Image.from_url(f"{host}/{name}.{ext}")


def images(
    *, kinds: Iterable[str] = ("png", "gif", "url"), max_side: int = 64
) -> st.SearchStrategy[Image]:
    """Image blocks: real tiny PNG or GIF files as base64 sources, or URL sources.

    The inline ones are whole files (Image.from_bytes sniffs their media type and
    ``Image.size()`` reads width and height from their header), at most *max_side* pixels a side.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20, database=None, deadline=None)
    ... @given(images(kinds=["png", "gif"], max_side=8))
    ... def check(image):
    ...     width, height = image.size()
    ...     assert image.media_type in ("image/png", "image/gif") and max(width, height) <= 8
    >>> check()
    """
    kinds = tuple(kinds)
    unknown = set(kinds) - {"png", "gif", "url"}
    if not kinds or unknown:
        raise InvalidArgument(f"kinds must be a non-empty subset of png, gif, url; got {kinds!r}")
    if not isinstance(max_side, int) or not 1 <= max_side <= 4096:
        raise InvalidArgument(f"max_side must be an integer in 1..4096, got {max_side!r}")
    inline = tuple(k for k in kinds if k != "url")
    options: list[st.SearchStrategy[Image]] = []
    if inline:
        options.append(_inline_images(inline, max_side))
    if "url" in kinds:
        options.append(_url_images())
    return st.one_of(options)


_IMAGES = images(max_side=48)

# --------------------------------------------------------------------------- small pieces

_ALNUM = string.ascii_letters + string.digits
_SIGNATURES = st.binary(min_size=16, max_size=96).map(lambda b: base64.b64encode(b).decode())
_TOOL_NAMES = st.one_of(
    st.sampled_from(("get_weather", "search", "calculator", "read_file", "lookup-user", "run_sql")),
    st.text(st.sampled_from(_ALNUM + "_-"), min_size=1, max_size=64),
)
_JSON_SCALARS = st.one_of(
    _SHORT_TEXTS, st.integers(-(10**6), 10**6), st.booleans(), st.none()
)
_TOOL_INPUTS = st.dictionaries(
    st.text(st.sampled_from(string.ascii_lowercase + "_"), min_size=1, max_size=12),
    _JSON_SCALARS,
    max_size=4,
)


@functools.cache
def _suffix(n: int) -> st.SearchStrategy[str]:
    """*n* random letters and digits (for ids); built once per length."""
    return st.text(st.sampled_from(_ALNUM), min_size=n, max_size=n)


def _ephemeral(ttl: str | None) -> FrozenDict:
    cc: dict[str, str] = {"type": "ephemeral"}
    if ttl is not None:
        cc["ttl"] = ttl
    return FrozenDict(cc)


def _client_tool_names(tools: Any) -> list[str]:
    """The names of client (custom) tools among request ``tools`` (server tools have a type)."""
    if tools is UNSET:
        return []
    return [
        t["name"]
        for t in tools
        if isinstance(t, dict) and t.get("type", "custom") == "custom" and "name" in t
    ]


# --------------------------------------------------------------------------- conversations


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
            "(facts §1.5); use the top-level system instead"
        )
    if thinking and not _usable_thinking_modes(prof):
        raise InvalidArgument(f"thinking=True, but {model_id} has neither enabled nor adaptive thinking")
    prefill_possible = prof.prefill and not thinking
    if prefill and not prof.prefill:
        raise InvalidArgument(f"prefill=True, but {model_id} rejects assistant prefill (facts §1.4)")
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


def _maybe(draw: st.DrawFn, flag: bool | None) -> bool:
    """True always, False never, None: a drawn coin."""
    return draw(st.booleans()) if flag is None else flag


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


@st.composite
def _thinking_blocks(draw: st.DrawFn) -> list[Block]:
    blocks: list[Block] = []
    for _ in range(draw(st.integers(1, 2))):
        if draw(st.integers(0, 5)) == 0:
            blocks.append(RedactedThinking(draw(_SIGNATURES)))
        else:
            # display "omitted" gives empty thinking text with the signature kept (facts §7)
            text = draw(st.one_of(_TEXTS, st.just("")))
            blocks.append(Thinking(text, draw(_SIGNATURES)))
    return blocks


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


def _with_cache(block: Block, cc: FrozenDict) -> Block:
    changed: Block = attrs.evolve(cast(Any, block), cache_control=cc)
    return changed


def _cacheable(block: Block) -> bool:
    # thinking blocks and empty text cannot carry cache_control (facts §3.5)
    if isinstance(block, Text):
        return bool(block.text)
    return isinstance(block, Image | ToolUse | ToolResult | Document)


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


# --------------------------------------------------------------------------- responses


def responses(
    *,
    stop_reasons: Iterable[str] | None = None,
    model: str = "claude-opus-4-8",
    thinking: bool | None = None,
) -> st.SearchStrategy[Response]:
    """Messages API responses covering every ``stop_reason`` (or those in *stop_reasons*).

    Content fits the reason: ``tool_use`` ends with ToolUse blocks, ``stop_sequence`` sets
    ``stop_sequence``, ``pause_turn`` carries a server tool call, ``refusal`` has
    ``stop_details`` of type ``refusal`` with a category (facts §4, or None) and an explanation.
    Usage counts are plausible (``output_tokens >= 1``, thinking tokens within output tokens).
    Any other string in *stop_reasons* is an open value (future reasons) with text content.
    *thinking*: None sometimes, True always, False never puts thinking blocks first.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, database=None, deadline=None)
    ... @given(responses(stop_reasons=["refusal"]))
    ... def check(resp):
    ...     assert resp.stop_details.type == "refusal" and resp.usage.output_tokens >= 1
    >>> check()
    """
    reasons = STOP_REASONS if stop_reasons is None else tuple(stop_reasons)
    if isinstance(stop_reasons, str) or not reasons or not all(isinstance(r, str) and r for r in reasons):
        raise InvalidArgument(
            f"stop_reasons must be a non-empty collection of strings (known: {', '.join(STOP_REASONS)}); "
            f"got {stop_reasons!r}"
        )
    if not isinstance(model, str) or not model:
        raise InvalidArgument(f"model must be a non-empty model id, got {model!r}")
    if thinking is not None and type(thinking) is not bool:
        raise InvalidArgument(f"thinking must be None, True or False, got {thinking!r}")
    return _responses(reasons, model, thinking)


_CITATIONS = st.builds(
    lambda cited, url, title, idx: FrozenDict(
        {"type": "web_search_result_location", "cited_text": cited, "url": url, "title": title,
         "encrypted_index": idx}
    ),
    _SHORT_TEXTS,
    _url_images().map(lambda im: im.source.url if isinstance(im.source, URLSource) else ""),
    _SHORT_TEXTS,
    _SIGNATURES,
)


def _response_texts(draw: st.DrawFn, min_size: int, max_size: int) -> list[Block]:
    blocks: list[Block] = []
    for _ in range(draw(st.integers(min_size, max_size))):
        if draw(st.integers(0, 5)) == 0:
            blocks.append(Text(draw(_TEXTS), citations=tuple(draw(st.lists(_CITATIONS, min_size=1, max_size=2)))))
        else:
            blocks.append(Text(draw(_TEXTS)))
    return blocks


@st.composite
def _usage(draw: st.DrawFn, thinking_used: bool, server_tool: bool) -> Usage:
    output_tokens = draw(st.integers(1, 64_000))
    kwargs: dict[str, Any] = {
        "input_tokens": draw(st.integers(0, 200_000)),
        "output_tokens": output_tokens,
    }
    creation = draw(st.sampled_from((UNSET, None, 0, 1)))
    if creation == 1:
        five = draw(st.integers(0, 50_000))
        hour = draw(st.integers(0, 50_000))
        kwargs["cache_creation_input_tokens"] = five + hour
        if draw(st.booleans()):
            kwargs["cache_creation"] = {"ephemeral_5m_input_tokens": five, "ephemeral_1h_input_tokens": hour}
    else:
        kwargs["cache_creation_input_tokens"] = creation
    kwargs["cache_read_input_tokens"] = draw(st.one_of(st.sampled_from((UNSET, None)), st.integers(0, 200_000)))
    kwargs["service_tier"] = draw(st.sampled_from((UNSET, None, "standard", "priority", "batch")))
    if server_tool:
        kwargs["server_tool_use"] = {"web_search_requests": draw(st.integers(1, 10)), "web_fetch_requests": 0}
    if thinking_used and draw(st.booleans()):
        kwargs["output_tokens_details"] = {"thinking_tokens": draw(st.integers(0, output_tokens))}
    return Usage(**kwargs)


@st.composite
def _responses(draw: st.DrawFn, reasons: tuple[str, ...], model: str, thinking: bool | None) -> Response:
    reason = draw(st.sampled_from(reasons))
    content: list[Block] = []
    thinking_used = _maybe(draw, thinking) and reason != "pause_turn"
    if thinking_used:
        content.extend(draw(_thinking_blocks()))
    kwargs: dict[str, Any] = {
        "id": "msg_01" + draw(_suffix(22)),
        "model": model,
        "stop_reason": reason,
        "stop_sequence": draw(st.sampled_from((None, None, UNSET))),
        "stop_details": draw(st.sampled_from((None, None, UNSET))),
    }
    server_tool = False
    if reason == "end_turn":
        content.extend(_response_texts(draw, 0, 3))  # end_turn may come with no content (facts §4)
    elif reason == "stop_sequence":
        content.extend(_response_texts(draw, 1, 2))
        kwargs["stop_sequence"] = draw(_SHORT_TEXTS)
    elif reason == "tool_use":
        content.extend(_response_texts(draw, 0, 1))
        names = draw(st.lists(_TOOL_NAMES, min_size=1, max_size=3))
        content.extend(
            ToolUse(f"toolu_01{i}{draw(_suffix(20))}", name, draw(_TOOL_INPUTS)) for i, name in enumerate(names)
        )
    elif reason == "pause_turn":
        server_tool = True
        content.extend(_response_texts(draw, 0, 1))
        tool_id = "srvtoolu_01" + draw(_suffix(20))
        content.append(ServerToolUse(tool_id, "web_search", {"query": draw(_SHORT_TEXTS)}))
        if draw(st.booleans()):
            results = [
                {"type": "web_search_result", "url": url, "title": title, "encrypted_content": enc,
                 "page_age": None}
                for url, title, enc in draw(
                    st.lists(st.tuples(_url_images().map(lambda im: getattr(im.source, "url", "")),
                                       _SHORT_TEXTS, _SIGNATURES), max_size=3)
                )
            ]
            content.append(WebSearchToolResult(tool_id, results))
    elif reason == "refusal":
        content.extend(_response_texts(draw, 0, 1))
        kwargs["stop_details"] = StopDetails(
            "refusal",
            category=draw(st.sampled_from((*REFUSAL_CATEGORIES, None))),
            explanation=draw(st.one_of(st.none(), _TEXTS)),
        )
    else:  # max_tokens, model_context_window_exceeded, or a reason convo does not know yet
        content.extend(_response_texts(draw, 1, 2))
    kwargs["content"] = tuple(content)
    kwargs["usage"] = draw(_usage(thinking_used, server_tool))
    return Response(**kwargs)


# --------------------------------------------------------------------------- invalid conversations


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
    st.sampled_from(("", "has space", "dotted.name", "slash/name", "ünïcode", "name!", "a" * 65)),
    st.text(st.sampled_from(_ALNUM + "_-"), min_size=65, max_size=80),
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


@_breaks("tool-choice.forced-unsupported", tools=True)
def _forced_choice(draw: st.DrawFn, conv: Conversation, ctx: _Ctx) -> Conversation:
    names = _client_tool_names(conv.tools)
    kind = draw(st.sampled_from(("any", "tool")))
    choice = {"type": kind, "name": draw(st.sampled_from(names))} if kind == "tool" else {"type": kind}
    conv = attrs.evolve(conv, tool_choice=choice)
    if ctx.profile.forced_tool_choice:
        # the model takes forced tool use, but not while thinking is on (facts §2.5)
        conv = _set_thinking_on(draw, conv, ctx.profile, _usable_thinking_modes(ctx.profile))
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
