"""OpenAI fine-tuning JSONL, both ways: ``{"messages": [...], "tools": [...]}`` per line.

Layer: codec. The messages map as in :mod:`convo.codec.formats.openai`. Also read:
``parallel_tool_calls`` and the legacy ``functions``. An assistant message's ``weight`` (0 or 1:
whether to train on it) has no place in a Messages API conversation and is reported. Written
lines carry no request parameters (``model``, ``max_tokens``, sampling): each present one is
reported; thinking is reported too (the fine-tuning format takes no reasoning).

>>> c = read({"messages": [{"role": "system", "content": "Be kind."},
...                        {"role": "user", "content": "I fell off my bike."},
...                        {"role": "assistant", "content": "Good exercise!", "weight": 0}]})
>>> c.conversation.system, [str(l) for l in c.losses]
('Be kind.', ['$.messages[2].weight: weight 0 (fine-tuning weights have no place in a Messages API conversation)'])
>>> write(c.conversation)[0]["messages"][1]
{'role': 'user', 'content': 'I fell off my bike.'}
"""

from __future__ import annotations

from typing import Any

from convo.codec.formats._base import (
    Conversion,
    Format,
    ImageLoader,
    Loss,
    need_dict,
    params_losses,
)
from convo.codec.formats.openai import read_messages, read_params, write_messages, write_tools
from convo.errors import DecodeError
from convo.model import Conversation

__all__ = ["FORMAT", "invalid", "read", "write"]

_LINE_KEYS = ("messages", "tools", "parallel_tool_calls", "functions")


def read(obj: Any, *, source: str | None = None, image_loader: ImageLoader | None = None) -> Conversion:
    """A conversation from one fine-tuning line.

    >>> read({"messages": [{"role": "user", "content": "Hi"}]}).conversation.messages[0].content
    'Hi'
    """
    losses: list[Loss] = []
    d = need_dict(obj, "$", "a fine-tuning line object")
    if "messages" not in d:
        raise DecodeError("missing required key", path="$.messages")
    system, msgs = read_messages(d["messages"], "$.messages", losses, image_loader=image_loader, weights=True)
    params = read_params({k: v for k, v in d.items() if k in _LINE_KEYS[1:]}, losses)
    for k in d:
        if k not in _LINE_KEYS:
            losses.append(Loss(f"$.{k}", f"{k} {d[k]!r:.40}", "not part of a fine-tuning example"))
    return Conversion(Conversation(messages=msgs, system=system, **params), losses, source)


def write(conv: Conversation) -> tuple[dict[str, Any], tuple[Loss, ...]]:
    """One fine-tuning line for *conv*.

    >>> line, losses = write(Conversation(model="claude-opus-4-8").user("Hi").assistant("Hello"))
    >>> line["messages"][1], [loss.path for loss in losses]
    ({'role': 'assistant', 'content': 'Hello'}, ['$.model'])
    >>> [loss.why[:22] for loss in write(Conversation().user("Hi"))[1]]
    ['no assistant message: ']
    """
    losses: list[Loss] = []
    line: dict[str, Any] = {"messages": write_messages(conv, losses, reasoning_field=None)}
    write_tools(conv, line, losses)
    if "tool_choice" in line:
        losses.append(Loss("$.tool_choice", "tool_choice", "a fine-tuning line has no tool_choice"))
        del line["tool_choice"]
    params_losses(conv, ("tools", "tool_choice"), losses)
    why = invalid(line)
    if why is not None:
        losses.append(Loss("$.messages", "not a valid training example", why))
    return line, tuple(losses)


def invalid(line: Any) -> str | None:
    """Why OpenAI's fine-tuning would refuse *line*, or None when it is a valid example.

    DOC (OpenAI fine-tuning data preparation): every example needs at least one assistant
    message, the messages the model learns to write.

    >>> invalid({"messages": [{"role": "user", "content": "Hi"}]})
    'no assistant message: OpenAI fine-tuning refuses an example without one to learn from'
    >>> invalid({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}) is None
    True
    """
    msgs = line.get("messages") if isinstance(line, dict) else None
    if not isinstance(msgs, list) or not any(isinstance(m, dict) and m.get("role") == "assistant" for m in msgs):
        return "no assistant message: OpenAI fine-tuning refuses an example without one to learn from"
    return None


FORMAT = Format(
    "openai-finetune",
    'OpenAI fine-tuning JSONL: {"messages": [...], "tools": [...]} per line',
    reader=read,
    writer=write,
)
