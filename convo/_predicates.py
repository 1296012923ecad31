"""Predicates the rules are made of, shared with the transforms (``convo.rules`` re-exports
them; ``convo.transforms._base``, ``build``, ``transcript`` and ``repair`` import them from here),
so that a repair and the check it must satisfy cannot drift apart.

Layer: beside the model, on the model only: a transform that needs one of them does not load the
rules (about 14M instructions, ~9 ms, of a data command's start).
"""

from __future__ import annotations

from typing import Any

from convo.model import Conversation, Message, ServerToolResult, ServerToolUse, UnknownBlock

_INTERLEAVED_BETA = "interleaved-thinking-2025-05-14"


def is_server_result(b: Any) -> bool:
    """A server tool's result block (documented ones, or a new ``*_tool_result`` type)."""
    if isinstance(b, ServerToolResult):
        return True
    return type(b) is UnknownBlock and b.type.endswith("_tool_result")


def paused(m: Message) -> bool:
    """An assistant turn ending in a server tool block: a ``pause_turn`` reply sent back so the
    model continues (facts §4), which is not a prefill."""
    content = m.content
    if m.role != "assistant" or type(content) is not tuple or not content:
        return False
    last = content[-1]
    return type(last) is ServerToolUse or is_server_result(last)


def system_may_follow(m: Message) -> bool:
    """Whether a system section with content may come right after *m* (facts §1.5 rule 2): a
    user turn (tool results included), or an assistant turn ending in a server tool result.

    >>> system_may_follow(Message("user", "Hi")), system_may_follow(Message("assistant", "Hello"))
    (True, False)
    """
    if m.role == "user":
        return True
    content = m.content
    return m.role == "assistant" and type(content) is tuple and bool(content) and is_server_result(content[-1])


def effort_only(m: Message) -> bool:
    """A system message with no content and an ``output_config`` (beta): it renders nothing and
    is accepted anywhere (facts §1.5 rule 6)."""
    return m.role == "system" and not m.content and "output_config" in m.extra


def sampling_off_default(name: str, value: Any) -> bool:
    """Whether a model that takes only the default sampling refuses *name* = *value* (facts §2.3):
    any top_k, a temperature other than 1, a top_p below 0.99."""
    return name == "top_k" or (name == "temperature" and value != 1) or (name == "top_p" and value < 0.99)


def sampling_off_thinking(name: str, value: Any) -> bool:
    """Whether *name* = *value* is refused while thinking is on (facts §2.3): any top_k, a
    temperature other than 1, a top_p below 0.95."""
    return name == "top_k" or (name == "temperature" and value != 1) or (name == "top_p" and value < 0.95)


def interleaved(conv: Conversation) -> bool:
    """Whether the interleaved-thinking beta is on, which lets budget_tokens exceed max_tokens."""
    betas = conv.extra.get("betas")
    return isinstance(betas, tuple) and _INTERLEAVED_BETA in betas
