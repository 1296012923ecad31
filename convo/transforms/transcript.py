"""Transforms for stored transcripts: drop, trim, merge, redact and rewrite what is there.

Layer: transforms. Every one is safe with tool-use pairs: nothing here separates a ``tool_use``
from the ``tool_result`` that answers it, and nothing edits a ``thinking`` block's signature.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import reduce
from itertools import compress, repeat
from operator import and_, attrgetter, or_
from typing import Any

from convo import _slots
from convo._json import UNSET, FrozenDict
from convo._predicates import paused
from convo.errors import TransformError
from convo.model import (
    LAZY_BITS,
    SAMPLING_PARAMS,
    Block,
    ContentSource,
    Conversation,
    Document,
    Image,
    Message,
    MidConvSystem,
    RedactedThinking,
    SearchResult,
    Text,
    TextSource,
    Thinking,
    ToolResult,
    lazy_blocks,
    lazy_mask,
    lazy_turns,
    with_lazy_blocks,
)
from convo.transforms._base import (
    ChangeLog,
    Transform,
    _Literal,
    content_path,
    msg_path,
    prefill_start,
    register,
    replace,
    with_content,
    with_lazy_turns,
    with_messages,
)
from convo.transforms.tokens import estimator

__all__ = [
    "drop_images",
    "drop_sampling_params",
    "keep_last_turns",
    "map_text",
    "merge_adjacent_roles",
    "redact",
    "strip_prefill",
    "strip_thinking",
    "trim_to_tokens",
]


# --------------------------------------------------------------------------- drop_images


class _DropImages(Transform):
    __slots__ = ("_repr", "_text", "_what", "placeholder")

    def __init__(self, placeholder: str | None) -> None:
        super().__init__("drop_images", **({"placeholder": placeholder} if placeholder is not None else {}))
        self.placeholder = placeholder
        # one placeholder block for every image (blocks are immutable values, so it can be shared)
        self._text = Text(placeholder) if placeholder is not None else None
        self._what = "replaced an image with a placeholder" if placeholder is not None else "dropped an image"
        self._repr = repr(self)

    def _blocks(
        self, blocks: tuple[Block, ...], log: ChangeLog, i: int, trail: tuple[int, ...] = ()
    ) -> tuple[Block, ...] | None:
        """*blocks* (of message *i*, inside the tool results at *trail*) without images, or with
        placeholders; None when there was no image. Paths are only built for a log that records."""
        first = _first_image(blocks)  # most turns hold no image: look before copying anything
        if first < 0:
            return None
        out: list[Block] | None = None
        for j in range(first, len(blocks)):
            b = blocks[j]
            nb: Block | None = b
            if isinstance(b, Image):
                nb = self._text
                if log.enabled:
                    log.add(self._what, _inner_path(i, trail, j) if log.paths else "", self._repr)
            elif isinstance(b, ToolResult) and isinstance(b.content, tuple):
                inner = self._blocks(b.content, log, i, (*trail, j))
                if inner is not None:
                    nb = replace(b, content=inner if inner else UNSET)
            if nb is not b and out is None:
                out = list(blocks[:j])
            if out is not None and nb is not None:
                out.append(nb)
        return None if out is None else tuple(out)

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        pending = lazy_turns(conv)
        if pending is not None:  # turns not built: edit them as parsed JSON where that is plain
            done = self._parsed(conv, *pending, log)
            if done is not None:
                return done
        messages = conv.messages
        msgs: list[Message] | None = None
        for i, m in enumerate(messages):
            lazy = getattr(m, "_lazy", None)  # lazy_mask(m), inlined: this is the hot loop
            if lazy is not None and not lazy[1] & _IMAGE_BIT:  # decoded lazily, no image inside: not even built
                if msgs is not None:
                    msgs.append(m)
                continue
            c = m.content
            if c.__class__ is str:
                if msgs is not None:
                    msgs.append(m)
                continue
            for b in c:  # most turns hold no image: a look (inline, it is the hot loop) and on
                if isinstance(b, Image) or (isinstance(b, ToolResult) and b.content.__class__ is tuple):
                    break
            else:
                if msgs is not None:
                    msgs.append(m)
                continue
            nm: Message | None = m
            blocks = self._blocks(c, log, i)  # type: ignore[arg-type]
            if blocks is not None:
                if blocks:
                    nm = with_content(m, blocks)
                elif (why := _needed(messages, i)) is not None:
                    nm = with_content(m, (Text(IMAGE_PLACEHOLDER),))
                    if log.enabled:
                        log.add(f"left {IMAGE_PLACEHOLDER!r} in a turn of images only", msg_path(i), why)
                else:
                    # a turn of images only: an empty turn is a 400 (facts §1.7), so it goes
                    nm = None
                    if log.enabled:
                        log.add("dropped a turn left empty", msg_path(i), "it held only images")
            if nm is not m and msgs is None:
                msgs = list(messages[:i])
            if msgs is not None and nm is not None:
                msgs.append(nm)
        return conv if msgs is None else with_messages(conv, msgs)


    def _parsed(self, conv: Conversation, turns: list[Any], masks: list[int], log: ChangeLog) -> Conversation | None:
        """:meth:`apply` on turns not built (:func:`~convo.model.lazy_turns`), building nothing;
        None (build them) where a turn with an image holds a tool result with blocks."""
        if not reduce(or_, masks, 0) & _IMAGE_BIT:  # (no turn holds an image: one pass, in C)
            return conv
        # the placeholder as parsed JSON: one dict for the images of this request (parsed turns
        # are never changed; a new one each call, so that no two requests share it)
        placeholder = None if self.placeholder is None else {"type": "text", "text": self.placeholder}
        edit = drop_images_turns(turns, masks, _IMAGE_BIT, 0 if placeholder is None else _TEXT_BIT, placeholder,
                                 log.paths)
        if edit is None:
            return None
        out, out_masks, said, empty = edit
        left: dict[int, str] = {}  # the turns of images only that stay, with the reason
        for i in empty:
            why = _needed_turns(turns, i)
            if why is not None:
                out[i] = {"role": turns[i]["role"], "content": [{"type": "text", "text": IMAGE_PLACEHOLDER}]}
                out_masks[i] = _TEXT_BIT
                left[i] = why
        if log.enabled:
            self._log_parsed(log, said, empty, left)
        for i in reversed(empty):
            if i not in left:
                del out[i], out_masks[i]
        return with_lazy_turns(conv, out, out_masks)

    def _log_parsed(self, log: ChangeLog, said: list[tuple[int, int]] | int, empty: list[int],
                    left: dict[int, str]) -> None:
        """Log :meth:`_parsed`'s edits as the built blocks' edit logs them, in the same order:
        each image of a turn, then what became of the turn if no block was left (*said*: the
        images' ``(turn, block)``, or their count for a log without paths)."""

        def end(i: int) -> None:
            if i in left:
                log.add(f"left {IMAGE_PLACEHOLDER!r} in a turn of images only", msg_path(i), left[i])
            else:
                log.add("dropped a turn left empty", msg_path(i), "it held only images")

        if isinstance(said, int):
            log.add_many(self._what, self._repr, said)
            for i in empty:
                end(i)
            return
        k = 0
        for i, j in said:
            while k < len(empty) and empty[k] < i:
                end(empty[k])
                k += 1
            log.add(self._what, _inner_path(i, (), j), self._repr)
        for i in empty[k:]:
            end(i)


def drop_images_turns_py(
    turns: list[Any], masks: list[int], image_bit: int, text_bit: int, placeholder: dict[str, Any] | None,
    paths: bool,
) -> tuple[list[Any], list[int], list[tuple[int, int]] | int, list[int]] | None:
    """The parsed turns of a lazy conversation (:func:`~convo.model.lazy_turns`) without their
    images, as ``drop_images()`` edits them: ``(turns, masks, said, empty)``. Each turn whose mask
    has *image_bit* is a new ``{"role", "content"}`` without its images (each replaced by
    *placeholder*, unless None), its mask without *image_bit* and with *text_bit*; *said* is the
    images' ``(turn, block)`` in order where *paths*, else their count; *empty* lists the turns
    left with no block, which stay as they were (the caller decides). None where a turn with an
    image holds a tool result with blocks, or is not as the codec keeps it (a turn or block not an
    object, no role, a block without a string type): build it.
    Nothing given is changed. ``convo/_speedups.c`` does the same in C (:data:`drop_images_turns`).

    >>> img = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    >>> turns = [{"role": "user", "content": [{"type": "text", "text": "See"}, img]},
    ...          {"role": "assistant", "content": "ok"}, {"role": "user", "content": [img]}]
    >>> drop_images_turns_py(turns, [3, 0, 2], 2, 0, None, True)
    ([{'role': 'user', 'content': [{'type': 'text', 'text': 'See'}]}, {'role': 'assistant', 'content': 'ok'}, \
{'role': 'user', 'content': [{'type': 'image', 'source': {'type': 'url', 'url': 'https://example.com/a.png'}}]}], \
[1, 0, 2], [(0, 1), (2, 0)], [2])
    """
    out, out_masks = list(turns), list(masks)
    where: list[tuple[int, int]] = []
    empty: list[int] = []
    for i in compress(range(len(masks)), map(and_, masks, repeat(image_bit))):
        turn = turns[i]
        if turn.__class__ is not dict or "role" not in turn or turn.get("content").__class__ is not list:
            return None
        kept = []
        for j, b in enumerate(turn["content"]):
            t = b.get("type") if b.__class__ is dict else None
            if t.__class__ is not str:
                return None
            if t == "image":
                where.append((i, j))
                if placeholder is not None:  # (one dict for all: parsed turns are never changed)
                    kept.append(placeholder)
            elif t == "tool_result" and b.get("content").__class__ is list:
                return None  # images may be inside: the built blocks' edit does it
            else:
                kept.append(b)
        if kept:
            out[i] = {"role": turn["role"], "content": kept}
            out_masks[i] = masks[i] & ~image_bit | text_bit
        else:
            empty.append(i)
    return out, out_masks, where if paths else len(where), empty


drop_images_turns: Callable[..., Any] = getattr(_slots.speedups(), "drop_images", drop_images_turns_py)
""":func:`drop_images_turns_py`, in C where ``convo._speedups`` is built (and ``CONVO_PURE_PYTHON``
is not set); the tests hold the two to the same results."""


def _first_image(blocks: tuple[Block, ...]) -> int:
    """The index of the first image, or tool result with blocks, in *blocks* (-1: none)."""
    for j, b in enumerate(blocks):
        if isinstance(b, Image) or (isinstance(b, ToolResult) and b.content.__class__ is tuple):
            return j
    return -1


def _inner_path(i: int, trail: tuple[int, ...], j: int) -> str:
    """The path of block *j* of message *i*, inside the tool results at *trail*.

    >>> _inner_path(2, (0,), 1)
    '$.messages[2].content[0].content[1]'
    """
    return content_path(i) + "".join(f"[{t}].content" for t in trail) + f"[{j}]"


_IMAGE_BIT = LAZY_BITS["image"]  # lazy_mask() is -1 (every bit) where the blocks must be looked at
_THINKING_BITS = LAZY_BITS["thinking"] | LAZY_BITS["redacted_thinking"]
_THINKING_TYPES = ("thinking", "redacted_thinking")
_TOOL_RESULT_BIT = LAZY_BITS["tool_result"]
_TEXT_BIT = LAZY_BITS["text"]

IMAGE_PLACEHOLDER = "[image]"
"""What ``drop_images()`` leaves in a turn of images only that it cannot drop."""


def _needed(messages: tuple[Message, ...], i: int) -> str | None:
    """Why user turn *i* cannot simply go, or None if it can."""
    if i + 1 < len(messages) and messages[i + 1].role == "system":
        return "a system message follows it, and needs a user turn before it (rule system-message.not-after-user)"
    if all(m.role == "system" for m in messages[i + 1 :]):
        return "it is the last turn: without it the reply before it would become a prefill"
    return None


def _needed_turns(turns: list[Any], i: int) -> str | None:
    """:func:`_needed` for parsed turns (:func:`~convo.model.lazy_turns`)."""
    if i + 1 < len(turns) and turns[i + 1]["role"] == "system":
        return "a system message follows it, and needs a user turn before it (rule system-message.not-after-user)"
    if all(t["role"] == "system" for t in turns[i + 1 :]):
        return "it is the last turn: without it the reply before it would become a prefill"
    return None


def _after_system(messages: tuple[Message, ...], i: int) -> bool:
    return i > 0 and messages[i - 1].role == "system"


@register
def drop_images(placeholder: str | None = None) -> Transform:
    """Remove every image (also inside tool results), or replace each with a text placeholder.

    A turn that held only images is dropped rather than left empty (an empty turn is a 400);
    that can leave two same-role turns side by side, which the API merges (or use
    :func:`merge_adjacent_roles`). Two such turns stay, with the text ``"[image]"``: the last
    turn (without it the reply before would become a prefill) and one a system message follows
    (which needs a user turn before it, facts §1.5). An image-only ``tool_result`` keeps its
    block, without content.

    >>> from convo import Conversation, Image
    >>> conv = Conversation().user("Look:", Image.from_url("https://example.com/a.png"))
    >>> drop_images()(conv).messages[0].content
    (Text(text='Look:'),)
    >>> drop_images(placeholder="[image]")(conv).messages[0].content[1].text
    '[image]'
    """
    if placeholder is not None and (not isinstance(placeholder, str) or not placeholder.strip()):
        raise ValueError("drop_images(placeholder=...) must be non-blank text (or None to drop)")
    return _DropImages(placeholder)


# --------------------------------------------------------------------------- strip_thinking


class _StripThinking(Transform):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("strip_thinking")

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        pending = lazy_turns(conv)
        if pending is not None:
            return self._parsed(conv, *pending, log)
        latest = _last_index(conv.messages, "assistant")
        msgs: list[Message] | None = None
        for i, m in enumerate(conv.messages):
            nm: Message | None = m
            # lazy_blocks(m) and lazy_mask(m), inlined: this is the hot loop
            lazy = getattr(m, "_lazy", None) if m.role == "assistant" and i != latest else None
            if lazy is not None:  # decoded lazily: work on the parsed blocks, build nothing
                raw, mask = lazy[0], lazy[1]
                if mask & _THINKING_BITS:  # (thinking is never inside another block)
                    kept_raw = [b for b in raw if b["type"] not in _THINKING_TYPES]
                    if kept_raw or not _after_system(conv.messages, i):
                        if log.enabled:
                            for j, b in enumerate(raw):
                                if b["type"] in _THINKING_TYPES:
                                    log.add(f"dropped a {b['type']} block", content_path(i, j),
                                            "not in the latest assistant turn")
                        if kept_raw:
                            nm = with_lazy_blocks(m, kept_raw, mask & ~_THINKING_BITS)
                        else:
                            nm = None
                            if log.enabled:
                                log.add("dropped a turn left empty", msg_path(i), "it held only thinking")
            elif m.role == "assistant" and i != latest and isinstance(m.content, tuple):
                kept = tuple(b for b in m.content if not isinstance(b, Thinking | RedactedThinking))
                # a turn of thinking only goes whole, unless a system message before it needs an
                # assistant turn after it (facts §1.5): then it stays as it is
                if len(kept) != len(m.content) and (kept or not _after_system(conv.messages, i)):
                    if log.enabled:
                        for j, b in enumerate(m.content):
                            if isinstance(b, Thinking | RedactedThinking):
                                log.add(f"dropped a {b.type} block", content_path(i, j), "not in the latest assistant turn")
                    if kept:
                        nm = with_content(m, kept)
                    else:
                        nm = None
                        if log.enabled:
                            log.add("dropped a turn left empty", msg_path(i), "it held only thinking")
            if nm is not m and msgs is None:
                msgs = list(conv.messages[:i])
            if msgs is not None and nm is not None:
                msgs.append(nm)
        return conv if msgs is None else with_messages(conv, msgs)


    def _parsed(self, conv: Conversation, turns: list[Any], masks: list[int], log: ChangeLog) -> Conversation:
        """:meth:`apply` on turns not built (:func:`~convo.model.lazy_turns`): the same edits, on
        the parsed turns, building nothing."""
        hits = [i for i, mask in enumerate(masks) if mask & _THINKING_BITS]
        if not hits:
            return conv
        latest = -1
        for i in range(len(turns) - 1, -1, -1):
            if turns[i]["role"] == "assistant":
                latest = i
                break
        out: list[Any] | None = None
        out_masks: list[int] = []
        gone: list[int] = []
        for i in hits:
            turn = turns[i]
            if i == latest or turn["role"] != "assistant":
                continue
            raw = turn["content"]  # (thinking is never inside another block)
            kept_raw = [b for b in raw if b["type"] not in _THINKING_TYPES]
            if not kept_raw and i > 0 and turns[i - 1]["role"] == "system":
                continue  # a system message before it needs an assistant turn after it (facts §1.5)
            if log.enabled:
                for j, b in enumerate(raw):
                    if b["type"] in _THINKING_TYPES:
                        log.add(f"dropped a {b['type']} block", content_path(i, j), "not in the latest assistant turn")
            if out is None:
                out, out_masks = list(turns), list(masks)
            if kept_raw:
                out[i] = {"role": "assistant", "content": kept_raw}
                out_masks[i] = masks[i] & ~_THINKING_BITS
            else:
                gone.append(i)
                if log.enabled:
                    log.add("dropped a turn left empty", msg_path(i), "it held only thinking")
        if out is None:
            return conv
        for i in reversed(gone):
            del out[i], out_masks[i]
        return with_lazy_turns(conv, out, out_masks)


def _last_index(messages: tuple[Message, ...], role: str) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == role:
            return i
    return -1


@register
def strip_thinking() -> Transform:
    """Remove ``thinking`` and ``redacted_thinking`` blocks, except in the latest assistant turn.

    The latest assistant turn keeps its thinking blocks byte for byte: the API checks exactly
    those (facts §1.9), and in a tool-use loop it needs them back. Earlier turns' thinking is
    dropped (an assistant turn of thinking only is dropped whole, unless a system message right
    before it needs it, facts §1.5, in which case it stays as it is). On models that bind a thinking
    block to the history before it (Fable 5.1, Opus 5.5, facts §1.9), editing that history can
    itself make the kept block fail: strip thinking from transcripts you store or convert, not
    from a live loop on those models.

    >>> from convo import Conversation, Thinking
    >>> conv = (Conversation().user("Hi").assistant(Thinking("hmm", "sig"), "Hello")
    ...         .user("Again").assistant(Thinking("so", "sig2"), "Hi again"))
    >>> [len(m.blocks) for m in strip_thinking()(conv).messages]
    [1, 1, 1, 2]
    """
    return _StripThinking()


# --------------------------------------------------------------------------- merge


def merge_two(a: Message, b: Message) -> Message:
    """One turn with *a*'s blocks then *b*'s; in a user turn every tool result goes first.

    >>> merge_two(Message("user", "note"), Message("user", (ToolResult("toolu_1"),))).content
    (ToolResult(tool_use_id='toolu_1'), Text(text='note'))
    """
    blocks = (*a.blocks, *b.blocks)
    if a.role == "user":
        blocks = results_first(blocks)
    extra = a.extra if not b.extra else FrozenDict({**a.extra, **b.extra})
    return Message(a.role, blocks, extra=extra)


def results_first(blocks: tuple[Block, ...]) -> tuple[Block, ...]:
    """*blocks* with every ``tool_result`` first, in order (facts §1.8), else the same tuple.

    >>> [b.type for b in results_first((Text("see"), ToolResult("toolu_1")))]
    ['tool_result', 'text']
    """
    seen_other = False
    for b in blocks:
        if isinstance(b, ToolResult):
            if seen_other:
                return (
                    *(x for x in blocks if isinstance(x, ToolResult)),
                    *(x for x in blocks if not isinstance(x, ToolResult)),
                )
        else:
            seen_other = True
    return blocks


class _MergeAdjacentRoles(Transform):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("merge_adjacent_roles")

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        msgs = conv.messages
        out: list[Message] | None = None
        for i, m in enumerate(msgs):
            if i and m.role == msgs[i - 1].role and m.role in ("user", "assistant"):
                if out is None:
                    out = list(msgs[:i])
                out[-1] = merge_two(out[-1], m)
                if log.enabled:
                    log.add(f"merged into the {m.role} turn before it", msg_path(i), "consecutive same-role turns (rule roles.consecutive)")
            elif out is not None:
                out.append(m)
        return conv if out is None else with_messages(conv, out)


@register
def merge_adjacent_roles() -> Transform:
    """Merge consecutive user turns, and consecutive assistant turns, into one.

    The API merges them itself (facts §1.3), other platforms reject them. Content is joined as
    blocks in order; in a merged user turn every ``tool_result`` moves first (facts §1.8).
    Consecutive ``system`` messages are left as they are: the API reads them as one section.

    >>> from convo import Conversation
    >>> conv = Conversation().user("Hello").user("Are you there?")
    >>> [b.text for b in merge_adjacent_roles()(conv).messages[0].content]
    ['Hello', 'Are you there?']
    """
    return _MergeAdjacentRoles()


# --------------------------------------------------------------------------- keep_last_turns / trim


def clean_start(m: Message) -> bool:
    """Whether a conversation may start at *m*: a user turn that answers no tool call.

    >>> clean_start(Message("user", "Hi")), clean_start(Message("user", (ToolResult("toolu_1"),)))
    (True, False)
    """
    if m.role != "user":
        return False
    mask = lazy_mask(m)
    if mask >= 0:  # decoded lazily: its type bits tell, without building it
        return not mask & _TOOL_RESULT_BIT
    c = m.content
    return isinstance(c, str) or not any(isinstance(b, ToolResult) for b in c)


def _drop_first(conv: Conversation, k: int, log: ChangeLog, why: str) -> Conversation:
    if k <= 0:
        return conv
    if log.enabled:
        log.add(f"dropped the first {k} message{'s' if k != 1 else ''}", f"$.messages[0:{k}]", why)
    return with_messages(conv, conv.messages[k:])


class _KeepLastTurns(Transform):
    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        super().__init__("keep_last_turns", n=n)
        self.n = n

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        msgs = conv.messages
        want = len(msgs) - self.n
        if want <= 0:
            return conv
        # the first clean start at or after the cut keeps at most n; failing that, the last one
        # before it keeps the fewest more than n
        for s in range(want, len(msgs)):
            if clean_start(msgs[s]):
                return _drop_first(conv, s, log, f"{self!r}")
        for s in range(want - 1, 0, -1):
            if clean_start(msgs[s]):
                return _drop_first(conv, s, log, f"{self!r}: no user turn to start on among the last {self.n}")
        return conv


@register
def keep_last_turns(n: int) -> Transform:
    """Keep the last *n* messages (at most), cutting only where a conversation may start.

    The kept part always starts on a user turn that carries no ``tool_result`` (so no tool call
    loses its answer, no answer loses its call, and it never starts on an assistant or system
    message); when no such turn is among the last *n*, it keeps the fewest more that allow one.
    The top-level system and every other parameter stay.

    >>> from convo import Conversation
    >>> conv = Conversation(system="Be brief.").user("1").assistant("2").user("3").assistant("4").user("5")
    >>> out = keep_last_turns(n=2)(conv)
    >>> [m.content for m in out.messages], out.system
    (['5'], 'Be brief.')
    >>> [m.content for m in keep_last_turns(n=3)(conv).messages]
    ['3', '4', '5']
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"keep_last_turns(n=...) needs a positive integer, got {n!r}")
    return _KeepLastTurns(n)


class _TrimToTokens(Transform):
    __slots__ = ("budget",)

    def __init__(self, budget: int) -> None:
        super().__init__("trim_to_tokens", budget=budget)
        self.budget = budget

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        est = estimator(conv)
        msgs = conv.messages
        sizes = [est.message(m) for m in msgs]
        total = est.base(conv) + sum(sizes)
        if total <= self.budget:
            return conv
        # walk the cut forward; take the first clean start that fits
        for s in range(1, len(msgs)):
            total -= sizes[s - 1]
            if total <= self.budget and clean_start(msgs[s]):
                return _drop_first(conv, s, log, f"{self!r}: about {total} tokens remain")
        raise TransformError(
            f"{self!r}: cannot fit the conversation in {self.budget} tokens without starting on "
            "a turn it may not start on (the system, tools and the last user turn alone are "
            "larger); raise the budget, or drop_images() / strip_thinking() first"
        )


@register
def trim_to_tokens(budget: int) -> Transform:
    """Drop the oldest turns until the estimate (:func:`estimate_tokens`) fits in *budget*.

    Cuts only where :func:`keep_last_turns` would (a user turn with no tool result), never drops
    the top-level system or tools, and raises :class:`~convo.errors.TransformError` when even
    the shortest such tail does not fit.

    >>> from convo import Conversation
    >>> conv = Conversation().user("a" * 400).assistant("b" * 400).user("c" * 40)
    >>> [len(m.content) for m in trim_to_tokens(budget=50)(conv).messages]
    [40]
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"trim_to_tokens(budget=...) needs a positive integer, got {budget!r}")
    return _TrimToTokens(budget)


# --------------------------------------------------------------------------- texts


class TextMapper:
    """Applies a ``str -> str`` function to every text a conversation holds, rebuilding only what
    changed: message text (string content and ``text`` blocks), the top-level system, tool result
    text, search result text, plain-text and custom-content documents, mid-conversation system
    blocks, and, when *thinking* is set, the ``thinking`` text of thinking blocks (never their
    signatures, never redacted thinking).

    ``$.paths`` are built only when the log records (``path`` is None otherwise): formatting one
    per block cost more than the regex on the batch path."""

    __slots__ = ("fn", "log", "may_change", "thinking", "why")

    def __init__(
        self, fn: Callable[[str], str], log: ChangeLog, why: str, *, thinking: bool,
        may_change: Callable[[str], object] | None = None,
    ) -> None:
        self.fn = fn
        self.log = log
        self.why = why
        self.thinking = thinking
        # a cheap test that is true for every text fn may change (redact: the regex finds a
        # match): a turn decoded lazily none of whose texts passes it is left unbuilt
        self.may_change = may_change

    def _may_change(self, raw: list[Any], test: Callable[[str], object]) -> bool:
        """Whether any text of the parsed blocks *raw* (of a message decoded lazily) passes *test*."""
        for b in raw:
            t = b["type"]
            if t == "text":
                if test(b["text"]):
                    return True
            elif t == "tool_result":
                c = b.get("content")
                if c.__class__ is str:
                    if test(c):
                        return True
                elif c.__class__ is list and any(x["type"] == "text" and test(x["text"]) for x in c):
                    return True
            elif t == "thinking" and self.thinking and test(b["thinking"]):
                return True
        return False

    def text(self, s: str, path: str | None) -> str:
        new = self.fn(s)
        if new is s or new == s:
            return s
        if not isinstance(new, str):
            raise TypeError(f"{self.why}: the function returned {type(new).__name__}, not str")
        if path is not None:
            self.log.add("rewrote text", path, self.why)
        return new

    def content(self, c: Any, path: str | None) -> Any:
        if isinstance(c, str):
            return self.text(c, path)
        if isinstance(c, tuple):
            return self.blocks(c, path)
        return c

    def blocks(self, blocks: tuple[Any, ...], path: str | None) -> tuple[Any, ...]:
        out: list[Any] | None = None
        for j, b in enumerate(blocks):
            nb = self.block(b, None if path is None else f"{path}[{j}]")
            if nb is not b and out is None:
                out = list(blocks[:j])
            if out is not None:
                out.append(nb)
        return blocks if out is None else tuple(out)

    def block(self, b: Any, path: str | None) -> Any:
        if isinstance(b, Text):
            t = self.text(b.text, None if path is None else f"{path}.text")
            return b if t is b.text else replace(b, text=t)
        if isinstance(b, ToolResult | MidConvSystem):
            c = self.content(b.content, None if path is None else f"{path}.content")
            return b if c is b.content else replace(b, content=c)
        if isinstance(b, SearchResult):
            c = self.blocks(b.content, None if path is None else f"{path}.content")
            return b if c is b.content else replace(b, content=c)
        if isinstance(b, Document):
            src = b.source
            if isinstance(src, TextSource):
                d = self.text(src.data, None if path is None else f"{path}.source.data")
                return b if d is src.data else replace(b, source=replace(src, data=d))
            if isinstance(src, ContentSource):
                c = self.content(src.content, None if path is None else f"{path}.source.content")
                return b if c is src.content else replace(b, source=replace(src, content=c))
            return b
        if isinstance(b, Thinking) and self.thinking:
            t = self.text(b.thinking, None if path is None else f"{path}.thinking")
            return b if t is b.thinking else replace(b, thinking=t)
        return b

    def conversation(self, conv: Conversation) -> Conversation:
        logging = self.log.enabled
        system = conv.system
        if system is not UNSET:
            system = self.content(system, "$.system" if logging else None)
        msgs: list[Message] | None = None
        test = self.may_change
        for i, m in enumerate(conv.messages):
            if test is not None:
                raw = lazy_blocks(m)
                if raw is not None and not self._may_change(raw, test):
                    if msgs is not None:
                        msgs.append(m)
                    continue
            c = self.content(m.content, content_path(i) if logging else None)
            nm = m if c is m.content else with_content(m, c)
            if nm is not m and msgs is None:
                msgs = list(conv.messages[:i])
            if msgs is not None:
                msgs.append(nm)
        if msgs is None and system is conv.system:
            return conv
        result: Conversation = replace(
            conv, system=system, messages=conv.messages if msgs is None else tuple(msgs)
        )
        return result


class _Redact(Transform):
    __slots__ = ("regex", "replacement")

    def __init__(self, pattern: str, replacement: str) -> None:
        kwargs = {"replacement": replacement} if replacement != "[REDACTED]" else {}
        super().__init__("redact", pattern, **kwargs)
        self.regex = re.compile(pattern)  # once per transform, never per line
        self.replacement = replacement

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        sub = self.regex.sub
        repl = self.replacement
        return TextMapper(lambda s: sub(repl, s), log, repr(self), thinking=True,
                          may_change=self.regex.search).conversation(conv)


@register
def redact(pattern: str, replacement: str = "[REDACTED]") -> Transform:
    """Replace every match of the regex *pattern* in every text with *replacement*.

    Every text: message text, the top-level system, tool results, search results, text
    documents, and thinking text (a redaction that left secrets in the thinking would not be
    one). Thinking signatures and redacted thinking are opaque and never touched; note that a
    thinking block whose text changed no longer matches its signature, so the API rejects it if
    it is in the latest assistant turn (facts §1.9). Tool inputs (JSON) and citations are left
    as they are. *replacement* may use ``\\1``-style group references.

    >>> from convo import Conversation
    >>> conv = Conversation(system="Reach me at ann@example.com").user("I am ann@example.com")
    >>> out = redact(r"[\\w.]+@[\\w.]+")(conv)
    >>> out.system, out.messages[0].content
    ('Reach me at [REDACTED]', 'I am [REDACTED]')
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("redact() needs a non-empty regular expression (a string)")
    if not isinstance(replacement, str):
        raise ValueError("redact(replacement=...) must be a string")
    try:
        return _Redact(pattern, replacement)
    except re.error as e:
        raise ValueError(f"redact({pattern!r}): not a valid regular expression: {e}") from None


class _MapText(Transform):
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[str], str]) -> None:
        module = getattr(fn, "__module__", None)
        qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
        shown = qualname if module in (None, "builtins") else f"{module}.{qualname}"
        super().__init__("map_text", _Literal(shown))
        self.fn = fn

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        return TextMapper(self.fn, log, repr(self), thinking=False).conversation(conv)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _MapText) and self.fn == other.fn

    def __hash__(self) -> int:
        return hash(("map_text", self.fn))


@register
def map_text(fn: Callable[[str], str]) -> Transform:
    """Apply *fn* to every text: what :func:`redact` rewrites, except thinking (signed) text.

    The repr shows *fn*'s qualified name (``map_text(str.upper)``); it does not parse back,
    by design: :func:`~convo.transforms.parse` takes literals only and never looks a name up.
    If *fn* can return an empty string, follow with :func:`normalize`.

    >>> from convo import Conversation
    >>> map_text(str.upper)(Conversation().user("hello")).messages[0].content
    'HELLO'
    >>> map_text(str.upper)
    map_text(str.upper)
    """
    if not callable(fn):
        raise TypeError(f"map_text() needs a function str -> str, got {type(fn).__name__}")
    return _MapText(fn)


# --------------------------------------------------------------------------- parameters / prefill


_sampling = attrgetter(*SAMPLING_PARAMS)


class _DropSamplingParams(Transform):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("drop_sampling_params")

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        values = _sampling(conv)
        if values.count(UNSET) == len(SAMPLING_PARAMS):  # (the common case: nothing set, looked at in C)
            return conv
        changes = {k: UNSET for k, v in zip(SAMPLING_PARAMS, values, strict=True) if v is not UNSET}
        if log.enabled:
            for k in changes:
                log.add(f"removed {k}", f"$.{k}", "drop_sampling_params()")
        result: Conversation = replace(conv, **changes)
        return result


@register
def drop_sampling_params() -> Transform:
    """Remove ``temperature``, ``top_p`` and ``top_k`` (removed under API version 2026-10-21 and
    rejected at non-default values by Claude 4.7 and later; rules sampling.removed and
    sampling.unsupported).

    >>> from convo import Conversation
    >>> drop_sampling_params()(Conversation(temperature=0.2, top_k=5)).temperature
    UNSET
    """
    return _DropSamplingParams()


def strip_trailing_whitespace(m: Message) -> Message | None:
    """*m* without trailing whitespace at the end of its content (a final text block left blank
    goes, and the one before it is stripped in turn); None when nothing is left.

    >>> strip_trailing_whitespace(Message("assistant", (Text("Answer: "), Text(" ")))).content
    (Text(text='Answer:'),)
    >>> strip_trailing_whitespace(Message("assistant", "  ")) is None
    True
    """
    c = m.content
    if isinstance(c, str):
        s = c.rstrip()
        if s == c:
            return m
        return with_content(m, s) if s else None
    blocks = list(c)
    while blocks and isinstance(blocks[-1], Text):
        last = blocks[-1]
        s = last.text.rstrip()
        if s == last.text:
            break
        if s:
            blocks[-1] = replace(last, text=s)
            break
        blocks.pop()
    if len(blocks) == len(c) and (not blocks or blocks[-1] is c[-1]):
        return m
    return with_content(m, tuple(blocks)) if blocks else None


class _StripPrefill(Transform):
    __slots__ = ("whitespace_only",)

    def __init__(self, whitespace_only: bool) -> None:
        super().__init__("strip_prefill", **({"whitespace_only": True} if whitespace_only else {}))
        self.whitespace_only = whitespace_only

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        msgs = conv.messages
        if not msgs or msgs[-1].role != "assistant" or paused(msgs[-1]):
            return conv
        i = len(msgs) - 1
        if not self.whitespace_only:
            start = prefill_start(msgs)
            if log.enabled:
                for j in range(i, start - 1, -1):
                    log.add("removed the final assistant turn (a prefill)", msg_path(j), repr(self))
            return with_messages(conv, msgs[:start])
        stripped = strip_trailing_whitespace(msgs[-1])
        if stripped is msgs[-1]:
            return conv
        if log.enabled:
            what = "stripped trailing whitespace" if stripped is not None else "removed a blank final assistant turn"
            log.add(what, msg_path(i), "final assistant content cannot end with trailing whitespace (rule prefill.trailing-whitespace)")
        return with_messages(conv, (*msgs[:-1], stripped) if stripped is not None else msgs[:-1])


@register
def strip_prefill(*, whitespace_only: bool = False) -> Transform:
    """Remove a final assistant turn (a prefill), or with ``whitespace_only=True`` only strip its
    trailing whitespace, which the API rejects (rule prefill.trailing-whitespace). A paused turn (ending in a
    server tool block, sent back after ``pause_turn`` so the model continues) is not a prefill and
    stays.

    >>> from convo import Conversation
    >>> conv = Conversation().user("Hi").assistant("The answer is ")
    >>> len(strip_prefill()(conv).messages)
    1
    >>> strip_prefill(whitespace_only=True)(conv).messages[-1].content
    'The answer is'
    """
    return _StripPrefill(bool(whitespace_only))
