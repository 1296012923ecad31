"""Texts, images and the small pieces every strategy of :mod:`convo.strategies` draws from.

Layer: the bottom of ``convo.strategies`` (Hypothesis, the model, the sample image files); the
conversation, response and invalid-conversation strategies build on it.
"""

from __future__ import annotations

import base64
import functools
import string
from collections.abc import Iterable
from typing import Any, cast

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from convo._json import UNSET, FrozenDict
from convo._samples import gif, png
from convo.model import (
    Block,
    Document,
    Image,
    RedactedThinking,
    Text,
    Thinking,
    ToolResult,
    ToolUse,
)

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



def _maybe(draw: st.DrawFn, flag: bool | None) -> bool:
    """True always, False never, None: a drawn coin."""
    return draw(st.booleans()) if flag is None else flag


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



def _with_cache(block: Block, cc: FrozenDict) -> Block:
    changed: Block = attrs.evolve(cast(Any, block), cache_control=cc)
    return changed


def _cacheable(block: Block) -> bool:
    # thinking blocks and empty text cannot carry cache_control (facts §3.5)
    if isinstance(block, Text):
        return bool(block.text)
    return isinstance(block, Image | ToolUse | ToolResult | Document)
