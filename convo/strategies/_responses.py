"""The :func:`responses` strategy: Messages API responses for every ``stop_reason`` (facts §4).

Layer: inside ``convo.strategies``, above ``_values``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from convo._json import UNSET, FrozenDict
from convo.model import (
    Block,
    Response,
    ServerToolUse,
    StopDetails,
    Text,
    ToolUse,
    URLSource,
    Usage,
    WebSearchToolResult,
)
from convo.strategies._values import (
    _SHORT_TEXTS,
    _SIGNATURES,
    _TEXTS,
    _TOOL_INPUTS,
    _TOOL_NAMES,
    _maybe,
    _suffix,
    _thinking_blocks,
    _url_images,
)

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
