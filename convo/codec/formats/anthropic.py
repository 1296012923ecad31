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
from convo.model import Conversation, Response

__all__ = ["FORMAT", "read", "write"]


def read(obj: Any, *, source: str | None = None) -> Conversion:
    """A conversation from Messages API request JSON (decoded); a response (``"type":
    "message"``) reads as a conversation of its one assistant turn, its metadata reported.

    >>> c = read({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-8",
    ...           "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn"})
    >>> c.conversation.model, c.conversation.messages[0].role, [loss.path for loss in c.losses]
    ('claude-opus-4-8', 'assistant', ['$.id', '$.stop_reason'])
    """
    if isinstance(obj, dict) and obj.get("type") == "message" and "messages" not in obj and obj.get("role") == "assistant":
        resp: Response = structure(obj, Response)
        losses = [Loss(f"$.{k}", f"{k} {obj[k]!r:.40}", "response metadata; not part of a Messages API request")
                  for k in obj if k not in ("type", "role", "content", "model")]
        return Conversion(Conversation(model=resp.model, messages=(resp.as_message(),)), losses, source)
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
