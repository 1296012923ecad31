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
from convo.errors import DecodeError
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
    if isinstance(obj, dict) and "params" in obj and "custom_id" in obj and "messages" not in obj:
        losses = [Loss(f"$.{k}", f"{k} {obj[k]!r:.40}", "batch line bookkeeping; not part of the request")
                  for k in obj if k != "params"]
        c = read(obj["params"])
        return Conversion(c.conversation, [*losses, *_moved(c.losses, "$.params")], source)
    if isinstance(obj, dict) and isinstance(obj.get("requests"), list) and "messages" not in obj:
        reqs = obj["requests"]
        if not reqs:
            raise DecodeError("expected at least one request", path="$.requests")
        losses = [Loss(f"$.requests[{i}]", f"batch request {i}", "one conversation per value; the first is "
                       "read (convert the batch's request lines to read them all)") for i in range(1, len(reqs))]
        c = read(reqs[0])
        return Conversion(c.conversation, [*_moved(c.losses, "$.requests[0]"), *losses], source)
    return Conversion(structure(obj, Conversation), (), source)


def _moved(losses: tuple[Loss, ...], where: str) -> list[Loss]:
    return [Loss(where + loss.path[1:], loss.what, loss.why, line=loss.line) for loss in losses]


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
