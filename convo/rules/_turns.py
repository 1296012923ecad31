"""The per-message rules judged on parsed turns, without building a message: :func:`clean_turns`
answers True for the turns of a lazily decoded request (:func:`convo.model.lazy_turns`) when
neither the message pass nor the closed world's walk of ``messages`` can report anything there.

Most lines a command validates are plain: user and assistant turns in turn, text, thinking, tool
calls answered by the next turn. For those, building every message and block only to find
nothing cost about two thirds of ``convo validate``'s time. The predicate is conservative: it
answers True only for what it knows to be clean (images in user turns and cache breakpoints:
where they are, for their own rules on built blocks), and anything else (a system message,
cited text, an empty or whitespace-only text, a key outside the blocks' GA keys, a tool call not
answered, ...) answers False, and :func:`convo.rules.validate` then runs the full pass on built
messages as before. So a report never depends on which path ran: the tests
compare the two on every realworld request and on generated and mutated ones.

The same predicate is written in C (``convo/_speedups.c``: ``clean_turns``, used where it is
built, unless ``CONVO_PURE_PYTHON`` is set); the tests hold the two to the same verdicts.

Layer: inside ``convo.rules``, on the model only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from convo import _slots

__all__ = ["BLOCK_KEYS", "Verdict", "clean_turns", "clean_turns_py"]

MAX_MESSAGES = 100_000  # (as _messages._MAX_MESSAGES: more is messages.too-many)

BLOCK_KEYS: dict[str, frozenset[str]] = {
    "text": frozenset(("type", "text", "cache_control")),
    "thinking": frozenset(("type", "thinking", "signature")),
    "redacted_thinking": frozenset(("type", "data")),
    "tool_use": frozenset(("type", "id", "name", "input", "cache_control")),
    "tool_result": frozenset(("type", "tool_use_id", "content", "is_error", "cache_control")),
    "image": frozenset(("type", "source", "cache_control")),
}
"""The keys a block may have for :func:`clean_turns` to judge it: GA keys of its type in the
schema (tested), without ``citations`` (a rule of their own) or ``caller`` (checked by the closed
world's walk). A block with ``cache_control`` is left to the caller (its breakpoint is counted
in order across the request)."""

_MASK_MAX = 0xFFFF  # (masks are a few bits; anything else is no mask)


Verdict: TypeAlias = "bool | list[tuple[int, int, int]]"


def clean_turns_py(turns: list[dict[str, Any]], masks: list[int]) -> Verdict:
    """True when the per-message rules and the closed world have nothing to say about *turns*
    (parsed turns that passed the codec's lazy check, with their *masks*), False for "maybe".

    Images in user turns (and in their tool results) and blocks with a ``cache_control`` key are
    left to the caller: then the answer is the list of where they are, ``(message, block, -1)``
    or ``(message, block, index in the tool result's content)``, in the order the message pass
    meets them (a tool result's content before the tool result). Image rules (base64, media
    type, size, how many) need the built image, and breakpoints are counted in order across the
    request; the closed world's verdict on the content of a message that holds one is the
    caller's too (only their keys are looked at here).

    >>> clean_turns_py([{"role": "user", "content": "Hi"}], [0])
    True
    >>> clean_turns_py([{"role": "user", "content": " "}], [0])  # whitespace-only: look closer
    False
    >>> ask = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}
    >>> answer = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]}
    >>> clean_turns_py([{"role": "user", "content": "Go"}, ask, answer], [0, 4, 8])
    True
    >>> clean_turns_py([{"role": "user", "content": "Go"}, ask], [0, 4])  # asked, never answered
    False
    >>> img = {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}
    >>> clean_turns_py([{"role": "user", "content": [{"type": "text", "text": "See"}, img]}], [3])
    [(0, 1, -1)]
    """
    n = len(turns)
    if n == 0 or n > MAX_MESSAGES or len(masks) != n:
        return False
    prev = "assistant"  # so that a first assistant turn (messages.first-role) answers False
    asked: set[str] | None = None  # the tool_use ids of the previous turn
    seen: set[str] = set()  # every tool_use id so far (tool-use.duplicate-id)
    looks: list[tuple[int, int, int]] = []  # images and breakpoints, for the caller
    last = n - 1
    for i, d in enumerate(turns):
        mask = masks[i]
        if mask.__class__ is not int or not 0 <= mask <= _MASK_MAX or d.__class__ is not dict:
            return False
        role = d.get("role")
        if role == prev or (role != "user" and role != "assistant"):
            return False
        prev = role
        c = d.get("content")
        if c.__class__ is str:
            if not c or c.isspace() or asked:
                return False
            if i == last and role == "assistant" and c[-1].isspace():
                return False  # prefill.trailing-whitespace
            asked = None
            continue
        if c.__class__ is not list or not c:
            return False
        if role == "user":
            answers: set[str] = set()
            other = False  # a block that is no tool_result came already
            for j, b in enumerate(c):
                t = _kind(b)
                if t == "text":
                    if not _text_block(b, i, j, looks):
                        return False
                    other = True
                elif t == "image":
                    if b.get("source").__class__ is not dict:
                        return False
                    looks.append((i, j, -1))
                    other = True
                elif t == "tool_result":
                    tid = b.get("tool_use_id")
                    if (tid.__class__ is not str or other or not asked or tid not in asked or tid in answers
                            or not _clean_result(b, i, j, looks)):
                        return False
                    answers.add(tid)
                else:
                    return False
            if asked and not asked <= answers:
                return False
            asked = None
        else:
            asks: set[str] = set()
            for j, b in enumerate(c):
                t = _kind(b)
                if t == "text":
                    if not _text_block(b, i, j, looks):
                        return False
                elif t == "tool_use":
                    tid = b.get("id")
                    if (tid.__class__ is not str or tid in seen or b.get("name").__class__ is not str
                            or b.get("input").__class__ is not dict):
                        return False
                    seen.add(tid)
                    asks.add(tid)
                    if "cache_control" in b:
                        looks.append((i, j, -1))
                elif t == "thinking":
                    if b.get("thinking").__class__ is not str or b.get("signature").__class__ is not str:
                        return False
                elif t == "redacted_thinking":
                    if b.get("data").__class__ is not str:
                        return False
                else:
                    return False
            if i == last:
                if asks:
                    return False  # tool-use.missing-result: the conversation ends
                b = c[-1]
                if b["type"] == "text" and b["text"][-1].isspace():
                    return False  # prefill.trailing-whitespace
            asked = asks or None
    return looks or True


def _kind(b: Any) -> str | None:
    """The type of block *b* when it is one judged here with only the keys of its type, else None."""
    if b.__class__ is not dict:
        return None
    t = b.get("type")
    keys = BLOCK_KEYS.get(t) if t.__class__ is str else None
    if keys is None or not keys.issuperset(b):
        return None
    return t


def _text_block(b: dict[str, Any], i: int, j: int, looks: list[tuple[int, int, int]]) -> bool:
    """Whether text block *j* of turn *i* has text that is neither empty nor only whitespace
    (its breakpoint, if any, noted in *looks*)."""
    text = b.get("text")
    if text.__class__ is not str or not text or text.isspace():
        return False
    if "cache_control" in b:
        looks.append((i, j, -1))
    return True


def _clean_result(b: dict[str, Any], i: int, j: int, looks: list[tuple[int, int, int]]) -> bool:
    """A tool_result block's own values: content a string or non-empty text blocks and images,
    is_error a boolean; its images and blocks with a breakpoint are noted in *looks*, then the
    tool result itself if it has one (the message pass counts them in that order)."""
    e = b.get("is_error", False)
    if e is not True and e is not False:
        return False
    c = b.get("content", "")
    if c.__class__ is not str:
        if c.__class__ is not list:
            return False
        for k, x in enumerate(c):
            t = _kind(x)
            if t == "image":
                if x.get("source").__class__ is not dict:
                    return False
                looks.append((i, j, k))
                continue
            text = x.get("text")
            if t != "text" or text.__class__ is not str or not text:
                return False
            if "cache_control" in x:
                looks.append((i, j, k))
    if "cache_control" in b:
        looks.append((i, j, -1))
    return True


def _pick() -> Callable[[list[Any], list[int]], Verdict]:
    c = _slots.speedups()
    return clean_turns_py if c is None else c.clean_turns


clean_turns: Callable[[list[Any], list[int]], Verdict] = _pick()
"""The predicate in use: the C one where ``convo._speedups`` is built (and ``CONVO_PURE_PYTHON``
is not set), else :func:`clean_turns_py`."""
