"""The Messages API's own request shape, through convo's codec: the identity format.

Layer: codec. Reading and writing lose nothing (every unknown key and block type is kept), so a
conversion through ``anthropic`` reports no losses. ``model`` and ``max_tokens`` may be absent:
stored transcripts such as Bedrock fine-tuning lines (``{"system", "messages"}``) read as they are.

>>> c = read({"system": "JSON Mode: Enabled", "messages": [{"role": "user", "content": "Hi"}]})
>>> c.conversation.system, c.losses
('JSON Mode: Enabled', ())
>>> write(c.conversation)[0] == {"system": "JSON Mode: Enabled", "messages": [{"role": "user", "content": "Hi"}]}
True
"""

from __future__ import annotations

from typing import Any

from convo.codec import structure, unstructure
from convo.codec.formats._base import Conversion, Format, Loss
from convo.model import Conversation

__all__ = ["FORMAT", "read", "write"]


def read(obj: Any, *, source: str | None = None) -> Conversion:
    """A conversation from Messages API request JSON (decoded)."""
    return Conversion(structure(obj, Conversation), (), source)


def write(conv: Conversation) -> tuple[dict[str, Any], tuple[Loss, ...]]:
    """Messages API request JSON (decoded) for *conv*."""
    out: dict[str, Any] = unstructure(conv)
    return out, ()


FORMAT = Format(
    "anthropic",
    "Claude Messages API request JSON (convo's own codec; lossless)",
    reader=read,
    writer=write,
)
