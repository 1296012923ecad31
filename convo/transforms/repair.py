"""Repairs: ``normalize`` (a broken history made valid) and ``migrate`` (a conversation made
acceptable to another model and API version), each reporting every change it makes.

Layer: transforms. ``normalize`` fixes what breaks the API's structural rules for every model
(facts §1); ``migrate`` fixes what one target model or API version rejects (facts §2, §10).
``pipeline(normalize(), migrate(model=m))`` gives a conversation that ``validate`` accepts for
*m*.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from convo._json import EMPTY, UNSET, FrozenDict
from convo._predicates import (
    effort_only,
    interleaved,
    paused,
    sampling_off_default,
    sampling_off_thinking,
    system_may_follow,
)
from convo.errors import TransformError
from convo.model import (
    SAMPLING_PARAMS,
    Block,
    ContentSource,
    Conversation,
    Document,
    Image,
    Message,
    SearchResult,
    Text,
    ToolResult,
    ToolUse,
)
from convo.profiles import (
    API_VERSIONS,
    DEFAULT_API_VERSION,
    EFFORT_LEVELS,
    Profile,
    require_known,
)
from convo.transforms._base import (
    ChangeLog,
    Transform,
    append_system,
    msg_path,
    prefill_start,
    register,
    replace,
    with_content,
)
from convo.transforms.transcript import merge_two, strip_trailing_whitespace
from convo.transforms.unknown import dropper

__all__ = ["CONTINUED", "INTERRUPTED", "migrate", "normalize"]

INTERRUPTED = "interrupted: this tool call got no result"
"""The text of the error ``tool_result`` that :func:`normalize` gives a tool call left unanswered."""

CONTINUED = "(continued)"
"""The text of the user turn :func:`normalize` puts before a conversation that starts with an
assistant turn."""


# --------------------------------------------------------------------------- shared predicates


def _text_only(content: str | tuple[Block, ...]) -> bool:
    return isinstance(content, str) or all(isinstance(b, Text) for b in content)


def _folded(content: str | tuple[Block, ...]) -> str | tuple[Block, ...]:
    """System-message text as it goes to the top-level system: without cache breakpoints, which
    would mark a different prefix there and could break the TTL order (1h before 5m, facts §3.5)."""
    if isinstance(content, str):
        return content
    return tuple(
        replace(b, cache_control=UNSET) if isinstance(b, Text) and b.cache_control is not UNSET else b
        for b in content
    )


def _tool_use_ids(m: Message) -> list[str]:
    c = m.content
    if m.role != "assistant" or isinstance(c, str):
        return []
    return [b.id for b in c if isinstance(b, ToolUse)]


# --------------------------------------------------------------------------- normalize


class _Slot:
    """A message being repaired, with its index in the input (None for one normalize added)."""

    __slots__ = ("msg", "origin")

    def __init__(self, msg: Message, origin: int | None) -> None:
        self.msg = msg
        self.origin = origin


class _Normalizer:
    __slots__ = ("changed", "dangling", "log", "orphans", "round_changed", "slots", "system")

    def __init__(self, conv: Conversation, log: ChangeLog, dangling: str, orphans: str) -> None:
        self.slots = [_Slot(m, i) for i, m in enumerate(conv.messages)]
        self.system: Any = conv.system
        self.log = log
        self.dangling = dangling
        self.orphans = orphans
        self.changed = False
        self.round_changed = False

    def note(self, what: str, path: str, why: str) -> None:
        self.changed = self.round_changed = True
        if self.log.enabled:
            self.log.add(what, path, why)

    def run(self) -> None:
        self.clean_system()
        # Each pass can expose work for another (a dropped message makes two turns adjacent, a
        # folded system message too); repeat to a fixed point, which is what makes normalize
        # idempotent. Every pass only removes, merges or answers, so two or three rounds suffice.
        for _ in range(10):
            self.round_changed = False
            self.clean()
            self.place_system()
            self.merge()
            self.first_user()
            self.pair()
            self.final_whitespace()
            if not self.round_changed:
                break

    # -- top-level system: empty text blocks are a 400 (facts §1.6: minLength 1)
    def clean_system(self) -> None:
        system = self.system
        if isinstance(system, tuple) and any(isinstance(b, Text) and not b.text for b in system):
            for k, b in enumerate(system):
                if isinstance(b, Text) and not b.text:
                    self.note("dropped an empty system text block", f"$.system[{k}]", "text blocks must be non-empty (rule text.empty)")
            kept = tuple(b for b in system if not (isinstance(b, Text) and not b.text))
            self.system = kept if kept else UNSET

    # -- P1: empty text blocks, whitespace-only text, empty messages (facts §1.7 [OBS])
    def clean(self) -> None:
        out: list[_Slot] = []
        for slot in self.slots:
            m = slot.msg
            if effort_only(m):
                out.append(slot)
                continue
            new = self._clean_message(m, slot.origin)
            if new is None:
                continue
            slot.msg = new
            out.append(slot)
        self.slots = out

    def _clean_message(self, m: Message, origin: int | None) -> Message | None:
        c = m.content
        if not c:
            self.note("dropped an empty message", msg_path(origin),
                      "all messages must have non-empty content (rule message.empty-content)")
            return None
        if isinstance(c, str):
            if c.isspace():
                self.note("dropped a whitespace-only message", msg_path(origin),
                          "a message's only text cannot be whitespace (rule text.whitespace-only)")
                return None
            return m
        real_text = any(isinstance(b, Text) and b.text and not b.text.isspace() for b in c)
        out: list[Block] | None = None
        for j, b in enumerate(c):
            nb: Block | None = b
            if isinstance(b, Text):
                if not b.text:
                    nb = None
                    self.note("dropped an empty text block", f"{msg_path(origin)}.content[{j}]",
                              "text blocks must be non-empty (rule text.empty)")
                elif not real_text and b.text.isspace():
                    nb = None
                    self.note("dropped a whitespace-only text block", f"{msg_path(origin)}.content[{j}]",
                              "a message's only text cannot be whitespace (rule text.whitespace-only)")
            elif isinstance(b, ToolResult) and isinstance(b.content, tuple):
                inner = tuple(x for x in b.content if not (isinstance(x, Text) and not x.text))
                if len(inner) != len(b.content):
                    nb = replace(b, content=inner if inner else UNSET)
                    self.note("dropped an empty text block in a tool result", f"{msg_path(origin)}.content[{j}].content",
                              "text blocks must be non-empty (rule text.empty)")
            if nb is not b and out is None:
                out = list(c[:j])
            if out is not None and nb is not None:
                out.append(nb)
        if out is None:
            return m
        if not out:
            self.note("dropped a message left empty", msg_path(origin), "all messages must have non-empty content (rule message.empty-content)")
            return None
        return with_content(m, tuple(out))

    # -- P2: system sections in a place the API rejects go to the top-level system (facts §1.5)
    def place_system(self) -> None:
        slots = self.slots
        i = 0
        while i < len(slots):
            if slots[i].msg.role != "system":
                i += 1
                continue
            j = i
            while j + 1 < len(slots) and slots[j + 1].msg.role == "system":
                j += 1
            section = slots[i : j + 1]
            why = self._misplaced(i, j) if any(s.msg.content for s in section) else None
            if why is None:
                i = j + 1
                continue
            kept: list[_Slot] = []
            for s in section:
                if s.msg.content and _text_only(s.msg.content):
                    self.system = append_system(self.system, _folded(s.msg.content))
                    self.note("moved a misplaced system message to the top-level system", msg_path(s.origin), why)
                else:
                    kept.append(s)  # effort-only, or blocks that cannot go to the top level
            slots[i : j + 1] = kept
            i += len(kept)

    def _misplaced(self, i: int, j: int) -> str | None:
        slots = self.slots
        if i == 0:
            return "a system message cannot be the first message (rule system-message.first)"
        before = slots[i - 1].msg
        after = slots[j + 1].msg if j + 1 < len(slots) else None
        if not system_may_follow(before):
            return f"a system message must immediately follow a user turn, not an {before.role} turn (rule system-message.not-after-user)"
        if after is not None and after.role != "assistant":
            return f"a system message must be last or followed by an assistant turn, not a {after.role} turn (rule system-message.followed-by-user)"
        return None

    # -- P3: consecutive user / assistant turns become one (facts §1.3)
    def merge(self) -> None:
        out: list[_Slot] = []
        for slot in self.slots:
            prev = out[-1] if out else None
            if prev is not None and slot.msg.role == prev.msg.role and slot.msg.role in ("user", "assistant"):
                prev.msg = merge_two(prev.msg, slot.msg)
                self.note(f"merged into the {slot.msg.role} turn before it", msg_path(slot.origin),
                          "consecutive same-role turns (rule roles.consecutive)")
                continue
            out.append(slot)
        self.slots = out

    # -- P4: a user turn first (facts §1.2)
    def first_user(self) -> None:
        if self.slots and self.slots[0].msg.role != "user":
            self.slots.insert(0, _Slot(Message("user", CONTINUED), None))
            self.note(f"inserted a user turn {CONTINUED!r} before the first message", "$.messages[0]",
                      "the first message must be a user turn (rule messages.first-role)")

    # -- P5: every tool_use answered in the next user turn, results first, no orphans (facts §1.8)
    def pair(self) -> None:
        slots = self.slots
        i = 0
        while i < len(slots):
            slot = slots[i]
            role = slot.msg.role
            if role == "assistant":
                ids = _tool_use_ids(slot.msg)
                k = i + 1
                while k < len(slots) and slots[k].msg.role == "system":
                    k += 1  # the rules look through system messages; P2 moves the misplaced ones
                if ids and (k >= len(slots) or slots[k].msg.role != "user"):
                    if self.dangling == "answer":
                        results = tuple(_interrupted(t) for t in ids)
                        slots.insert(i + 1, _Slot(Message("user", results), None))
                        for t in ids:
                            self.note(f"answered tool_use {t!r} with an error result", msg_path(slot.origin),
                                      "every tool_use needs a tool_result in the next user turn (rule tool-use.missing-result)")
                        i += 2
                        continue
                    if self._drop_tool_uses(i, set(ids)):
                        continue
            elif role == "user":
                p = i - 1
                while p >= 0 and slots[p].msg.role == "system":
                    p -= 1
                expected = _tool_use_ids(slots[p].msg) if p >= 0 else []
                if self._fix_user(i, p, expected):
                    continue  # slot i or one before it was removed: look at index i again
            i += 1

    def _drop_tool_uses(self, i: int, ids: set[str]) -> bool:
        """Remove the tool_use blocks *ids* from slot *i*; True if the slot went empty and was removed."""
        slot = self.slots[i]
        c = slot.msg.content
        assert isinstance(c, tuple)  # it has tool_use blocks
        kept = tuple(b for b in c if not (isinstance(b, ToolUse) and b.id in ids))
        for t in ids:
            self.note(f"dropped tool_use {t!r} that got no result", msg_path(slot.origin),
                      "every tool_use needs a tool_result in the next user turn (rule tool-use.missing-result)")
        if kept:
            slot.msg = with_content(slot.msg, kept)
            return False
        del self.slots[i]
        self.note("dropped a turn left empty", msg_path(slot.origin), "it held only unanswered tool calls")
        return True

    def _fix_user(self, i: int, p: int, expected: list[str]) -> bool:
        slot = self.slots[i]
        m = slot.msg
        c = m.content
        if isinstance(c, str) and not expected:
            return False
        blocks = m.blocks
        want = set(expected)
        seen: set[str] = set()
        orphaned = False
        results: list[Block] = []
        rest: list[Block] = []
        for j, b in enumerate(blocks):
            if isinstance(b, ToolResult):
                if b.tool_use_id in want and b.tool_use_id not in seen:
                    seen.add(b.tool_use_id)
                    results.append(b)
                    continue
                orphaned = True
                path = f"{msg_path(slot.origin)}.content[{j}]"
                why = (f"it answers no tool_use of the assistant turn before it ({b.tool_use_id!r}; rule tool-result.orphan)")
                if self.orphans == "text":
                    rest.extend(_orphan_as_text(b))
                    self.note("turned an orphan tool_result into text", path, why)
                else:
                    self.note("dropped an orphan tool_result", path, why)
            else:
                rest.append(b)
        missing = [t for t in expected if t not in seen]
        removed_prev = False
        if missing:
            if self.dangling == "answer":
                results.extend(_interrupted(t) for t in missing)
                for t in missing:
                    self.note(f"answered tool_use {t!r} with an error result", msg_path(self.slots[p].origin),
                              "every tool_use needs a tool_result in the next user turn (rule tool-use.missing-result)")
            else:
                removed_prev = self._drop_tool_uses(p, set(missing))
                if removed_prev:
                    i -= 1
        new = (*results, *rest)
        if isinstance(c, tuple) and len(new) == len(c) and all(a is b for a, b in zip(new, c, strict=True)):
            return removed_prev
        if not (missing or orphaned):
            self.note("moved tool_result blocks first", msg_path(slot.origin),
                      "tool results must come first in a user turn (rule tool-result.not-first)")
        if new:
            slot.msg = with_content(m, new)
            return removed_prev
        del self.slots[i]
        self.note("dropped a turn left empty", msg_path(slot.origin), "it held only orphan tool results")
        return True

    # -- P6: a final assistant turn cannot end in whitespace (facts §1.4 [OBS])
    def final_whitespace(self) -> None:
        if not self.slots:
            return
        slot = self.slots[-1]
        if slot.msg.role != "assistant":
            return
        stripped = strip_trailing_whitespace(slot.msg)
        if stripped is slot.msg:
            return
        why = "final assistant content cannot end with trailing whitespace (rule prefill.trailing-whitespace)"
        if stripped is None:
            del self.slots[-1]
            self.note("dropped a blank final assistant turn", msg_path(slot.origin), why)
        else:
            slot.msg = stripped
            self.note("stripped trailing whitespace", msg_path(slot.origin), why)


def _may_need_repair(conv: Conversation) -> bool:
    """False only when normalize would change nothing: one read-only pass, no allocation on the
    common path, so normalize() on a healthy line costs a fraction of the full repair. It may say
    True where the repair then finds nothing (the repair decides); it must never say False where
    the repair would change something (a property test holds the two together). Each check
    below mirrors one pass of :class:`_Normalizer`."""
    system = conv.system
    if isinstance(system, tuple) and any(isinstance(b, Text) and not b.text for b in system):
        return True  # clean_system
    msgs = conv.messages
    if not msgs:
        return False
    if msgs[0].role != "user":
        return True  # first_user (a system message first is also misplaced)
    last = len(msgs) - 1
    prev_role = ""  # role of the previous message, system included (merge looks at neighbours)
    pending: tuple[str, ...] = ()  # tool_use ids of the last non-system message, if an assistant
    for i, m in enumerate(msgs):
        role = m.role
        c = m.content
        # -- clean: empty / blank content, empty text blocks (also inside tool results)
        if not c:
            if effort_only(m):
                prev_role = role  # effort-only: accepted anywhere, kept as it is
                continue
            return True
        if isinstance(c, str):
            if c.isspace():
                return True
        else:
            real_text = blank_text = False
            for b in c:
                if isinstance(b, Text):
                    if not b.text:
                        return True
                    if b.text.isspace():
                        blank_text = True
                    else:
                        real_text = True
                elif isinstance(b, ToolResult) and isinstance(b.content, tuple) and any(
                    isinstance(x, Text) and not x.text for x in b.content
                ):
                    return True
            if blank_text and not real_text:
                return True
        # -- place_system: a section with content follows a user (or paused) turn and is last or
        # followed by an assistant turn
        if role == "system":
            start = i
            while start > 0 and msgs[start - 1].role == "system":
                start -= 1
            if not system_may_follow(msgs[start - 1]):  # start > 0: msgs[0] is a user turn
                return True
            end = i
            while end < last and msgs[end + 1].role == "system":
                end += 1
            if end < last and msgs[end + 1].role != "assistant":
                return True
            prev_role = role
            continue
        # -- merge
        if role == prev_role and role in ("user", "assistant"):
            return True
        # -- pair: results first, each answering the previous assistant's calls once, all answered
        if role == "user":
            if isinstance(c, str):
                if pending:
                    return True
            else:
                answered: set[str] | None = None
                other_before = False
                for b in c:
                    if isinstance(b, ToolResult):
                        tid = b.tool_use_id
                        if other_before or tid not in pending or (answered is not None and tid in answered):
                            return True
                        if answered is None:
                            answered = set()
                        answered.add(tid)
                    else:
                        other_before = True
                if pending and (answered is None or len(answered) != len(set(pending))):
                    return True
            pending = ()
        elif role == "assistant":
            if pending:
                return True  # calls before this turn went unanswered
            if not isinstance(c, str):
                pending = tuple(b.id for b in c if isinstance(b, ToolUse))
            # -- final_whitespace
            if i == last:
                if isinstance(c, str):
                    if c[-1].isspace():
                        return True
                elif isinstance(c[-1], Text) and c[-1].text[-1].isspace():
                    return True
        else:
            if pending:  # an unknown role: the repair's pairing does not look through it
                return True
            pending = ()
        prev_role = role
    return bool(pending)


def _interrupted(tool_use_id: str) -> ToolResult:
    return ToolResult(tool_use_id, content=INTERRUPTED, is_error=True)


def _orphan_as_text(r: ToolResult) -> list[Block]:
    """A tool result that answers nothing, as text (plus any image, document or search result it held)."""
    label = f"[tool result for {r.tool_use_id}{' (error)' if r.is_error is True else ''}]"
    texts = [b.text for b in r.blocks if isinstance(b, Text) and b.text]
    carried = [b for b in r.blocks if isinstance(b, Image | Document | SearchResult)]
    return [Text(f"{label}: {chr(10).join(texts)}" if texts else label), *carried]


class _Normalize(Transform):
    __slots__ = ("dangling", "orphans")

    def __init__(self, dangling: str, orphans: str) -> None:
        kwargs = {}
        if dangling != "answer":
            kwargs["dangling"] = dangling
        if orphans != "text":
            kwargs["orphans"] = orphans
        super().__init__("normalize", **kwargs)
        self.dangling = dangling
        self.orphans = orphans

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        if not _may_need_repair(conv):
            return conv
        n = _Normalizer(conv, log, self.dangling, self.orphans)
        n.run()
        if not n.changed:
            return conv
        result: Conversation = replace(conv, messages=tuple(s.msg for s in n.slots), system=n.system)
        return result


@register
def normalize(
    *, dangling: Literal["answer", "drop"] = "answer", orphans: Literal["text", "drop"] = "text"
) -> Transform:
    """Repair a broken history so that it passes the API's structural rules; idempotent.

    It drops empty text blocks, whitespace-only text and empty messages; moves a misplaced
    ``role: "system"`` message to the top-level system (without its cache breakpoints, which
    would mark another prefix there); merges consecutive same-role turns;
    puts a user turn (:data:`CONTINUED`) before a conversation that starts with an assistant
    turn; moves tool results first; turns a ``tool_result`` that answers nothing into text
    (``orphans="drop"`` drops it); answers a ``tool_use`` left without a result with an error
    result saying :data:`INTERRUPTED`, as pydantic-ai's history repair does
    (``dangling="drop"`` drops the call instead); and strips trailing whitespace from a final
    assistant turn. :meth:`~Transform.explain` lists every repair (paths name the input's
    messages). Model-specific rules (prefill support, sampling, system-message support, ...)
    are :func:`migrate`'s job; duplicate tool_use ids are left for you to fix.

    >>> from convo import Conversation, ToolUse
    >>> conv = (Conversation().user("Hi").user("")
    ...         .assistant(ToolUse("toolu_1", "get_time", {})).user("Go on"))
    >>> out, changes = normalize().explain(conv)
    >>> [m.role for m in out.messages], out.messages[2].content[0].is_error
    (['user', 'assistant', 'user'], True)
    >>> for c in changes: print(c.what, "at", c.path)
    dropped an empty message at $.messages[1]
    answered tool_use 'toolu_1' with an error result at $.messages[2]
    >>> normalize()(out) is out
    True
    """
    if dangling not in ("answer", "drop"):
        raise ValueError(f"normalize(dangling=...) must be 'answer' or 'drop', got {dangling!r}")
    if orphans not in ("text", "drop"):
        raise ValueError(f"normalize(orphans=...) must be 'text' or 'drop', got {orphans!r}")
    return _Normalize(dangling, orphans)


# --------------------------------------------------------------------------- migrate


def _json_type(value: Any) -> Any:
    return value.get("type", UNSET) if isinstance(value, dict) else UNSET


def _clamp_effort(level: Any, supported: tuple[str, ...]) -> Any:
    """The highest supported level at or below *level*, else the lowest supported one; UNSET when
    the model takes no effort level at all (or the level is unknown and has no place in order)."""
    if not supported:
        return UNSET
    if level not in EFFORT_LEVELS:
        return UNSET
    rank = EFFORT_LEVELS.index(level)
    below = [lv for lv in supported if lv in EFFORT_LEVELS and EFFORT_LEVELS.index(lv) <= rank]
    if below:
        return max(below, key=EFFORT_LEVELS.index)
    return min((lv for lv in supported if lv in EFFORT_LEVELS), key=EFFORT_LEVELS.index, default=UNSET)


def _without(d: Any, *keys: str) -> FrozenDict:
    kept = {k: v for k, v in d.items() if k not in keys}
    return FrozenDict(kept) if kept else EMPTY


class _Migrate(Transform):
    __slots__ = ("api_version", "drop", "model", "profile")

    def __init__(self, model: str, api_version: str, profile: Profile, allow_unknown: bool,
                 drop: Transform) -> None:
        kwargs: dict[str, Any] = {"model": model}
        if api_version != DEFAULT_API_VERSION:
            kwargs["api_version"] = api_version
        if allow_unknown:
            kwargs["allow_unknown"] = True
        kwargs.update(drop.kwargs)  # betas=, allow= (only when given)
        super().__init__("migrate", **kwargs)
        self.model = model
        self.api_version = api_version
        self.profile = profile
        self.drop = drop

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        # first what the API refuses whatever the model (unknown keys, beta keys without their
        # header): it removes keys only, so every path after it still names the input's places
        conv = self.drop.apply(conv, log)
        return self._rewrite(conv, log)

    def _rewrite(self, conv: Conversation, log: ChangeLog) -> Conversation:
        p = self.profile
        ch: dict[str, Any] = {}
        note = log.add if log.enabled else _ignore
        target = f"{self.model}"
        v2026 = self.api_version == "2026-10-21"

        if conv.model != self.model:
            ch["model"] = self.model
            note(f"set model {conv.model!r} -> {self.model!r}", "$.model", repr(self))

        # ---- request parameters
        output_config: Any = conv.output_config
        effort = output_config.get("effort", UNSET) if isinstance(output_config, dict) else UNSET
        if effort is not UNSET and effort not in p.effort_levels:
            new_effort = _clamp_effort(effort, p.effort_levels)
            if new_effort is UNSET:
                rest = _without(output_config, "effort")
                ch["output_config"] = rest if rest else UNSET
                note(f"removed effort {effort!r}", "$.output_config.effort",
                     f"{target} accepts no effort level" if not p.effort_levels else f"{target} has no effort level like {effort!r}")
            else:
                ch["output_config"] = FrozenDict({**output_config, "effort": new_effort})
                note(f"effort {effort!r} -> {new_effort!r}", "$.output_config.effort",
                     f"{target} accepts effort {', '.join(p.effort_levels)} (rule effort.unsupported)")
            effort = new_effort
        effective_effort = effort if effort is not UNSET else p.default_effort

        max_tokens = conv.max_tokens
        if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > p.max_output:
            ch["max_tokens"] = max_tokens = p.max_output
            note(f"max_tokens {conv.max_tokens} -> {p.max_output}", "$.max_tokens", f"{target}'s max output is {p.max_output} (rule request.max-tokens-range)")

        thinking: Any = conv.thinking
        ttype = _json_type(thinking)
        new_thinking: Any = thinking
        if ttype in ("enabled", "adaptive", "disabled") and ttype not in p.thinking_modes:
            if ttype == "enabled" and "adaptive" in p.thinking_modes:
                new_thinking = FrozenDict({**_without(thinking, "budget_tokens"), "type": "adaptive"})
                note("thinking enabled -> adaptive", "$.thinking.type", f"{target} has no budget thinking, only adaptive (rule thinking.unsupported-mode)")
            elif ttype == "adaptive" and "enabled" in p.thinking_modes and isinstance(max_tokens, int) and max_tokens > 1024:
                budget = max(1024, max_tokens // 2)
                new_thinking = FrozenDict({**thinking, "type": "enabled", "budget_tokens": budget})
                note(f"thinking adaptive -> enabled with budget_tokens {budget}", "$.thinking.type",
                     f"{target} has no adaptive thinking (rule thinking.unsupported-mode)")
            else:
                new_thinking = UNSET
                why = ("thinking is always on" if ttype == "disabled" else f"it does not accept thinking {ttype!r}")
                note(f"removed thinking {ttype!r}", "$.thinking", f"{target}: {why} (rule tool-choice.forced-unsupported)")
        elif ttype == "disabled" and effective_effort in p.thinking_required_efforts:
            new_thinking = UNSET
            note("removed thinking 'disabled'", "$.thinking", f"{target} cannot turn thinking off at effort {effective_effort!r} (rule thinking.unsupported-mode)")
        if _json_type(new_thinking) == "enabled" and isinstance(max_tokens, int):
            budget = new_thinking.get("budget_tokens")
            if isinstance(budget, int) and budget >= max_tokens and max_tokens > 1024 and not interleaved(conv):
                new_thinking = FrozenDict({**new_thinking, "budget_tokens": max_tokens - 1})
                note(f"budget_tokens {budget} -> {max_tokens - 1}", "$.thinking.budget_tokens", "budget_tokens must be below max_tokens")
        if new_thinking is not thinking:
            ch["thinking"] = new_thinking
        thinking_on = _json_type(new_thinking) in ("enabled", "adaptive")

        for name in SAMPLING_PARAMS:
            value = getattr(conv, name)
            if value is UNSET:
                continue
            if v2026:
                why = "sampling parameters are removed under API 2026-10-21 (rule sampling.removed)"
            elif value is None:
                continue
            elif p.sampling == "default_only" and sampling_off_default(name, value):
                why = f"{target} takes only the default {name} (rule sampling.unsupported)"
            elif thinking_on and sampling_off_thinking(name, value):
                why = f"{name} {value!r} cannot be changed while thinking is on (rule sampling.with-thinking)"
            else:
                continue
            ch[name] = UNSET
            note(f"removed {name}", f"$.{name}", why)

        choice: Any = conv.tool_choice
        ctype = _json_type(choice)
        if ctype in ("any", "tool") and (not p.forced_tool_choice or thinking_on):
            ch["tool_choice"] = FrozenDict({**_without(choice, "name", "type"), "type": "auto"})
            why = f"{target} cannot force tool use" if not p.forced_tool_choice else "tool use cannot be forced while thinking is on"
            note(f"tool_choice {ctype!r} -> 'auto'", "$.tool_choice.type", f"{why} (rule tool-choice.forced-unsupported)")

        # ---- messages
        msgs = list(conv.messages)
        system = conv.system
        msgs, system = self._system_messages(msgs, system, p, note)
        if v2026:
            msgs = self._documents(msgs, note)
            msgs = self._citations(msgs, note)
        msgs = self._prefill(msgs, p, thinking_on, ch.get("output_config", output_config), conv.extra, note)
        self._check_images(msgs, p)
        if system is not conv.system:
            ch["system"] = system
        if len(msgs) != len(conv.messages) or any(a is not b for a, b in zip(msgs, conv.messages, strict=True)):
            ch["messages"] = tuple(msgs)
        if not ch:
            return conv
        result: Conversation = replace(conv, **ch)
        return result

    def _system_messages(self, msgs: list[Message], system: Any, p: Profile, note: Any) -> tuple[list[Message], Any]:
        out: list[Message] = []
        for i, m in enumerate(msgs):
            if m.role == "system":
                if not p.mid_conversation_system:
                    if not m.content:
                        note("removed an effort-only system message", msg_path(i), f"{self.model} accepts no role 'system' messages (rule system-message.unsupported-model)")
                        continue
                    if not _text_only(m.content):
                        raise TransformError(
                            f"{self!r}: the system message at {msg_path(i)} holds blocks other than text, "
                            f"which cannot move to the top-level system, and {self.model} accepts no "
                            "mid-conversation system messages; remove those blocks first"
                        )
                    system = append_system(system, _folded(m.content))
                    note("moved a system message to the top-level system", msg_path(i),
                         f"{self.model} accepts no mid-conversation system messages (rule system-message.unsupported-model)")
                    continue
                oc = m.extra.get("output_config")
                if not m.content and oc is None:
                    # an effort-only system message whose output_config (a beta-only key) was
                    # removed above: nothing is left of it, and an empty message is a 400
                    note("removed an effort-only system message", msg_path(i),
                         "its output_config needs a beta header not named (migrate(betas=[...]) keeps it); "
                         "an empty message is a 400 (rule message.empty-content)")
                    continue
                if isinstance(oc, dict) and "effort" in oc and oc["effort"] not in p.effort_levels:
                    new = _clamp_effort(oc["effort"], p.effort_levels)
                    rest = _without(oc, "effort") if new is UNSET else FrozenDict({**oc, "effort": new})
                    extra = _without(m.extra, "output_config") if not rest else FrozenDict({**m.extra, "output_config": rest})
                    if not m.content and "output_config" not in extra:
                        note("removed an effort-only system message", msg_path(i), f"{self.model} accepts no effort level")
                        continue
                    m = replace(m, extra=extra)
                    note(f"effort {oc['effort']!r} -> {new!r}", f"{msg_path(i)}.output_config.effort", f"{self.model} accepts effort {', '.join(p.effort_levels)}")
            out.append(m)
        return out, system

    def _documents(self, msgs: list[Message], note: Any) -> list[Message]:
        def has_doc(m: Message) -> bool:
            return m.role == "assistant" and isinstance(m.content, tuple) and any(isinstance(b, Document) for b in m.content)

        if not any(has_doc(m) for m in msgs):
            return msgs
        why = "a document in an assistant message is a 400 under API 2026-10-21 (rule document.in-assistant)"
        out: list[Message] = []
        dropped = False
        for i, m in enumerate(msgs):
            if not has_doc(m):
                out.append(m)
                continue
            assert isinstance(m.content, tuple)
            docs = tuple(b for b in m.content if isinstance(b, Document))
            kept = tuple(b for b in m.content if not isinstance(b, Document))
            u = len(out) - 1
            while u >= 0 and out[u].role != "user":
                u -= 1
            if u >= 0:
                out[u] = with_content(out[u], (*out[u].blocks, *docs))
                note(f"moved {len(docs)} document(s) to the user turn before", msg_path(i), why)
            else:
                out.insert(0, Message("user", docs))
                note(f"moved {len(docs)} document(s) to a new first user turn", msg_path(i), why)
            if kept:
                out.append(with_content(m, kept))
            else:
                dropped = True
                note("dropped an assistant turn left empty", msg_path(i), "it held only documents")
        if dropped:
            # the user turns around a dropped turn meet: one turn, as the API would merge them
            merged: list[Message] = []
            for m in out:
                if merged and m.role == "user" and merged[-1].role == "user":
                    merged[-1] = merge_two(merged[-1], m)
                else:
                    merged.append(m)
            out = merged
        return out

    def _citations(self, msgs: list[Message], note: Any) -> list[Message]:
        out = msgs
        for i, m in enumerate(msgs):
            if m.role != "user" or isinstance(m.content, str):
                continue
            new = _strip_citations(m.content, f"{msg_path(i)}.content", note)
            if new is not m.content:
                if out is msgs:
                    out = list(msgs)
                out[i] = with_content(m, new)
        return out

    def _prefill(self, msgs: list[Message], p: Profile, thinking_on: bool, output_config: Any,
                 extra: Any, note: Any) -> list[Message]:
        if not msgs or msgs[-1].role != "assistant" or paused(msgs[-1]):
            return msgs
        i = len(msgs) - 1
        json_out = (isinstance(output_config, dict) and output_config.get("format") not in (None, UNSET)) or "output_format" in extra
        if not p.prefill or thinking_on or json_out:
            why = (f"{self.model} rejects a prefill (rule prefill.unsupported)" if not p.prefill
                   else "a prefill cannot be used with thinking on (rule prefill.with-thinking)" if thinking_on
                   else "a prefill cannot be used with JSON outputs (rule prefill.with-json-output)")
            start = prefill_start(msgs)
            for j in range(i, start - 1, -1):
                note("removed the final assistant turn (a prefill)", msg_path(j), why)
            return msgs[:start]
        stripped = strip_trailing_whitespace(msgs[-1])
        if stripped is msgs[-1]:
            return msgs
        note("stripped trailing whitespace from the prefill", msg_path(i), "final assistant content cannot end with trailing whitespace (rule prefill.trailing-whitespace)")
        return [*msgs[:-1], stripped] if stripped is not None else msgs[:-1]

    def _check_images(self, msgs: list[Message], p: Profile) -> None:
        n = 0
        for m in msgs:
            if isinstance(m.content, tuple):
                for b in m.content:
                    if isinstance(b, Image):
                        n += 1
                    elif isinstance(b, ToolResult) and isinstance(b.content, tuple):
                        n += sum(isinstance(x, Image) for x in b.content)
        if n > p.max_images:
            raise TransformError(
                f"{self!r}: the conversation has {n} images and {self.model} accepts at most "
                f"{p.max_images} (rule image.too-many); drop older images first "
                "(keep_last_turns, or drop_images(placeholder='[image]'))"
            )


def _ignore(*args: Any) -> None:
    pass


def _strip_citations(blocks: tuple[Any, ...], path: str, note: Any) -> tuple[Any, ...]:
    """*blocks* with every text block's non-empty ``citations`` removed, nested ones too."""
    out: list[Any] | None = None
    for j, b in enumerate(blocks):
        nb = b
        if isinstance(b, Text):
            if b.citations:
                nb = replace(b, citations=UNSET)
                note("removed citations from user text", f"{path}[{j}]",
                     "cited text in a user message is a 400 under API 2026-10-21 (rule citations.in-user)")
        elif isinstance(b, SearchResult | ToolResult) and isinstance(b.content, tuple):
            inner = _strip_citations(b.content, f"{path}[{j}].content", note)
            if inner is not b.content:
                nb = replace(b, content=inner)
        elif isinstance(b, Document) and isinstance(b.source, ContentSource) and isinstance(b.source.content, tuple):
            inner = _strip_citations(b.source.content, f"{path}[{j}].source.content", note)
            if inner is not b.source.content:
                nb = replace(b, source=replace(b.source, content=inner))
        if nb is not b and out is None:
            out = list(blocks[:j])
        if out is not None:
            out.append(nb)
    return blocks if out is None else tuple(out)


@register
def migrate(model: str, *, api_version: str = DEFAULT_API_VERSION, allow_unknown: bool = False,
            betas: Iterable[str] = (), allow: Iterable[str] = ()) -> Transform:
    """Rewrite a conversation so that *model* accepts it under *api_version*, reporting each edit.

    It first removes the keys the API refuses as unknown, and beta-only keys unless *betas* names
    their ``anthropic-beta`` header (:func:`~convo.transforms.drop_unknown_fields`, which keeps
    the unknown keys *allow* names); then it sets ``model``; drops sampling parameters the target rejects (all of them under
    2026-10-21; ``top_k`` and non-default values on Claude 4.7 and later; changed ones while
    thinking is on); maps thinking (``enabled`` -> ``adaptive`` where budget thinking is gone,
    ``adaptive`` -> ``enabled`` where it is missing, ``disabled`` removed where thinking is always
    on); turns a forced ``tool_choice`` into ``auto`` where it cannot be forced; clamps effort to
    a level the model has and ``max_tokens`` to its max output; moves ``role: "system"`` messages
    to the top-level system on models without them (without their cache breakpoints, which would
    mark another prefix there); removes a prefill the model (or thinking, or
    JSON output) rejects and strips one's trailing whitespace; and under 2026-10-21 moves
    documents out of assistant turns (to the user turn before) and removes citations from user
    text. A conversation valid for its own model (apart from unknown and beta-only keys) comes
    out valid for *model*, closed-world checks included (``validate(out, betas=betas)``); a
    block of an unknown type is kept and noted (it is content). One with more
    images than *model* takes raises :class:`~convo.errors.TransformError`. A *model* no profile
    knows raises :class:`~convo.errors.UnknownModelError` naming the closest ids (a typo would
    otherwise rewrite every line to a model that does not exist); ``allow_unknown=True`` takes it
    as intended, with the permissive default profile.

    >>> from convo import Conversation
    >>> conv = (Conversation(model="claude-sonnet-4-5", max_tokens=1, temperature=0.2, top_k=5)
    ...         .user("Latin for ant? (A) Apoidea (C) Formicidae").prefill("The answer is ("))
    >>> out, changes = migrate(model="claude-opus-4-8").explain(conv)
    >>> out.model, out.temperature, out.top_k, [m.role for m in out.messages]
    ('claude-opus-4-8', UNSET, UNSET, ['user'])
    >>> [c.path for c in changes]
    ['$.model', '$.temperature', '$.top_k', '$.messages[1]']
    >>> from convo import validate
    >>> logged = Conversation(model="claude-sonnet-4-5", max_tokens=64, extra={"fallbacks": ["x"]}).user("Hi")
    >>> out, changes = migrate(model="claude-opus-4-8").explain(logged)
    >>> [(c.what, c.path) for c in changes], validate(out).ok
    ([("removed unknown key 'fallbacks'", '$.fallbacks'), ("set model 'claude-sonnet-4-5' -> 'claude-opus-4-8'", '$.model')], True)
    """
    if not isinstance(model, str) or not model:
        raise ValueError("migrate(model=...) needs a model id")
    if api_version not in API_VERSIONS:
        raise ValueError(f"migrate(api_version=...) must be one of {', '.join(API_VERSIONS)}, got {api_version!r}")
    profile = require_known(model, what="migrate(model=...)", allow_unknown=allow_unknown)
    return _Migrate(model, api_version, profile, allow_unknown, dropper(betas, allow))

