"""A quick, offline token estimate: about four characters per token, images by their pixels.

Layer: transforms (used by ``trim_to_tokens``). It is an estimate for budgeting, not a count:
``POST /v1/messages/count_tokens`` gives the real number. Text and any other string count
``⌈len/4⌉``; JSON values (tool inputs, tool definitions, server tool results, unknown blocks)
count their compact JSON text the same way. An image counts ``⌈w/28⌉*⌈h/28⌉`` after the
model's downscale (facts §3.3: the long edge to ``profile.image_long_edge``, then the visual
token cap of that size class), with ``w*h`` read from the image header; an image whose size
cannot be read (URL, file id, unknown header) counts as the cap, the most it can cost. Each
message adds :data:`PER_MESSAGE_TOKENS` for its framing.

This is the one estimate convo gives anywhere: ``trim_to_tokens``, ``convo stats``, the usage of
:class:`~convo.executor.MockExecutor` replies and of the emulator's (``count_tokens`` included)
all come from it, so one conversation has one figure.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from convo._json import UNSET
from convo.model import (
    Block,
    Conversation,
    Document,
    Image,
    Message,
    MidConvSystem,
    RedactedThinking,
    SearchResult,
    ServerToolResult,
    ServerToolUse,
    Text,
    TextSource,
    Thinking,
    ToolResult,
    ToolUse,
    UnknownBlock,
)
from convo.profiles import Profile, get_profile

__all__ = ["PER_MESSAGE_TOKENS", "estimate_tokens", "image_tokens", "text_tokens"]

PER_MESSAGE_TOKENS = 4
"""Tokens a message costs beyond its content (its role and framing): a plausible figure."""

# Visual-token cap per downscale class (facts §3.3, Sep-2026 vision page): 1568 px long edge and
# 1568 tokens on standard models, 2576 px and 4784 tokens on Claude 4.7 and later.
_TOKEN_CAP = {1568: 1568, 2576: 4784}
_PATCH = 28


def _chars(n: int) -> int:
    return (n + 3) // 4


def text_tokens(text: str) -> int:
    """The estimate for a text: about four characters a token.

    >>> text_tokens(""), text_tokens("Hi"), text_tokens("Hello, Claude")
    (0, 1, 4)
    """
    return _chars(len(text))


def _json_tokens(value: Any) -> int:
    if value is UNSET:
        return 0
    try:
        return _chars(len(orjson.dumps(value)))
    except TypeError:
        return _chars(len(repr(value)))


def image_tokens(width: int, height: int, *, long_edge: int = 1568) -> int:
    """Tokens for a ``width * height`` image: downscaled to *long_edge*, then to the visual token
    cap of that class, then ``⌈w/28⌉*⌈h/28⌉`` (facts §3.3).

    >>> image_tokens(280, 140)
    50
    >>> image_tokens(4000, 3000)  # downscaled: never more than the 1568-token cap
    1568
    """
    cap = _TOKEN_CAP.get(long_edge, math.ceil(long_edge / _PATCH) ** 2)
    if width <= 0 or height <= 0:
        return 0
    w, h = float(width), float(height)
    scale = min(1.0, long_edge / max(w, h))
    w, h = w * scale, h * scale
    tokens = math.ceil(w / _PATCH) * math.ceil(h / _PATCH)
    if tokens > cap:
        shrink = math.sqrt(cap * _PATCH * _PATCH / (w * h))
        w, h = w * shrink, h * shrink
        tokens = min(cap, math.ceil(w / _PATCH) * math.ceil(h / _PATCH))
    return tokens


class _Estimator:
    __slots__ = ("cap", "long_edge")

    def __init__(self, profile: Profile) -> None:
        self.long_edge = profile.image_long_edge
        self.cap = _TOKEN_CAP.get(self.long_edge, math.ceil(self.long_edge / _PATCH) ** 2)

    def image(self, image: Image) -> int:
        size = image.size()
        if size is None:
            return self.cap
        return image_tokens(size[0], size[1], long_edge=self.long_edge)

    def content(self, content: str | tuple[Block, ...] | Any) -> int:
        if isinstance(content, str):
            return _chars(len(content))
        if isinstance(content, tuple):
            return sum(self.block(b) for b in content)
        return 0

    def block(self, b: Block) -> int:
        if isinstance(b, Text):
            return _chars(len(b.text))
        if isinstance(b, Image):
            return self.image(b)
        if isinstance(b, ToolUse | ServerToolUse):
            return _chars(len(b.name)) + _json_tokens(b.input)
        if isinstance(b, ToolResult):
            return self.content(b.content)
        if isinstance(b, Thinking):
            return _chars(len(b.thinking))
        if isinstance(b, RedactedThinking):
            return _chars(len(b.data))
        if isinstance(b, Document):
            src = b.source
            if isinstance(src, TextSource):
                return _chars(len(src.data))
            inner = getattr(src, "content", None)
            if inner is not None:
                return self.content(inner)
            # base64 PDFs and URL/file sources: the crude chars/4 of whatever the source holds
            return _chars(len(getattr(src, "data", "") or getattr(src, "url", "") or "")) or 1
        if isinstance(b, SearchResult):
            return _chars(len(b.title) + len(b.source)) + self.content(b.content)
        if isinstance(b, ServerToolResult):
            return _json_tokens(b.content)
        if isinstance(b, MidConvSystem):
            return self.content(b.content)
        if isinstance(b, UnknownBlock):
            return _json_tokens(b.extra)
        return _json_tokens(getattr(b, "extra", None)) + 1

    def message(self, m: Message) -> int:
        return PER_MESSAGE_TOKENS + self.content(m.content)

    def base(self, conv: Conversation) -> int:
        """Everything but the messages: system, tool definitions."""
        total = self.content(conv.system) if conv.system is not UNSET else 0
        if conv.tools is not UNSET:
            total += _json_tokens(conv.tools)
        return total


def estimator(conv: Conversation) -> _Estimator:
    """The estimator for *conv*'s model (its image downscale limit), for per-message figures.

    >>> from convo import Conversation, Message
    >>> estimator(Conversation(model="claude-opus-4-8")).message(Message("user", "12345678"))  # 2 + 4 framing
    6
    """
    return _Estimator(get_profile(conv.model))


def estimate_tokens(conv: Conversation) -> int:
    """About how many input tokens *conv* is: ``⌈chars/4⌉`` for text, pixels for images.

    System text and tool definitions count too. Use ``count_tokens`` for the exact figure.

    >>> from convo import Conversation
    >>> estimate_tokens(Conversation(model="claude-opus-4-8").user("Hello, Claude"))  # 4 + 4 framing
    8
    """
    est = estimator(conv)
    return est.base(conv) + sum(est.message(m) for m in conv.messages)
