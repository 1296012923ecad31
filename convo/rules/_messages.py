"""The per-message rules, in one pass over ``messages``: a short loop and one function per rule
family (system messages, the order of turns, empty content, the blocks, tool_use pairing,
prefill).

Layer: inside ``convo.rules``, above ``_pass``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from convo._json import UNSET
from convo._predicates import effort_only, paused, system_may_follow
from convo.model import (
    Conversation,
    Document,
    Image,
    Message,
    MidConvSystem,
    SearchResult,
    ServerToolUse,
    Text,
    ToolResult,
    ToolUse,
)
from convo.profiles import Profile
from convo.rules._pass import _get, _Pass
from convo.rules._request import _effort_message

_ROLES = frozenset(("user", "assistant", "system"))
_MAX_MESSAGES = 100_000


_STR_OR_TUPLE = frozenset((str, tuple))


def _check_messages(conv: Conversation, p: Profile, s: _Pass, thinking_on: bool) -> None:
    """Every per-message rule, in one pass over the messages; each family is a function below.

    For each message, in this order: its role, the run of system messages it closes, the order
    of turns, its content (blocks, or a string), and whether it answers the tool_use blocks of
    the turn before it; then, once, the prefill. A family is called only where it can find
    something (a system message, the first turn or a repeated role, string or empty content, a
    turn after tool_use blocks), so the loop reads as the list of triggers and the pass costs
    what one long function did.
    """
    msgs = conv.messages
    if type(msgs) is not tuple or not msgs:
        s.add("messages.empty", "$.messages", "the request has no messages")
        return
    n = len(msgs)
    if n > _MAX_MESSAGES:
        s.add("messages.too-many", "$.messages", f"{n} messages; at most {_MAX_MESSAGES} are allowed")
    last = n - 1
    first_turn = _first_turn(msgs)
    runs = _SystemRuns(msgs, p, s)
    prev_role: str | None = None  # of the previous message, any role
    asked: Mapping[str, str] = _NONE_ASKED  # tool_use ids of the previous non-system message -> paths
    sc = s.blocks_schema
    simple = sc.simple if sc is not None else ()
    for i, msg in enumerate(msgs):
        # the closed world: blocks_sc is set when the message's own keys are fine and its blocks
        # are left to _check_blocks (each block visited once, by the loop below); a plain message
        # (a known class, no extra key, string or block content) is judged here, without a call
        if sc is None:
            blocks_sc = None
        elif type(msg) in simple and not msg.extra and type(msg.content) in _STR_OR_TUPLE:
            blocks_sc = sc if type(msg.content) is tuple and not sc.content_ok(msg.content) else None
        else:
            blocks_sc = sc if sc.message(msg, i) and not sc.content_ok(msg.content) else None
        role = msg.role
        if role not in _ROLES:
            s.add("message.role", f"$.messages[{i}].role", f"role {role!r} is not user, assistant or system")
        if role == "system":
            runs.add(i, msg)
        elif runs.start >= 0:
            runs.close(msg)
        if i == first_turn or role == prev_role:
            _check_order(i, role, first_turn, prev_role, s)
        prev_role = role
        content = msg.content
        if type(content) is tuple and content:
            answers, asks = _check_blocks(i, role, content, i == last, asked, s, blocks_sc)
        else:
            _check_empty_content(i, msg, i == last, s)
            answers = asks = None
        if role != "system":
            if asked:
                _check_answered(asked, answers, s)
            asked = _NONE_ASKED if asks is None else asks
    if runs.start >= 0:
        runs.close(None)
    if asked:
        _check_unanswered(asked, s)
    _check_prefill(conv, p, s, thinking_on)


def _first_turn(msgs: tuple[Message, ...]) -> int:
    """The index of the first message that is no system message (the length when none is)."""
    for i, m in enumerate(msgs):
        if m.role != "system":
            return i
    return len(msgs)


class _SystemRuns:
    """``system-message.*`` (facts §1.5) and a system message's own effort. Consecutive
    ``role: "system"`` messages form a run, which is placed when the message after it comes."""

    __slots__ = ("has_content", "msgs", "profile", "s", "start")

    def __init__(self, msgs: tuple[Message, ...], profile: Profile, s: _Pass) -> None:
        self.msgs = msgs
        self.profile = profile
        self.s = s
        self.start = -1  # first index of the current run, -1 outside a run
        self.has_content = False  # whether the run carries content (an effort-only run does not)

    def add(self, i: int, msg: Message) -> None:
        """System message *i*: the model must take one; it opens or extends a run."""
        p = self.profile
        if not p.mid_conversation_system:
            self.s.add("system-message.unsupported-model", f"$.messages[{i}].role",
                       f"{p.model or 'this model'} does not accept role \"system\" messages")
        if self.start < 0:
            self.start = i
            self.has_content = False
        if msg.content:
            self.has_content = True
        effort = _get(msg.extra.get("output_config"), "effort")
        if effort is not UNSET and effort not in p.effort_levels:
            self.s.add("effort.unsupported", f"$.messages[{i}].output_config.effort", _effort_message(p, effort))

    def close(self, after: Message | None) -> None:
        """The run ends before *after* (None: the conversation ends); a run with content is placed."""
        if self.has_content:
            self._place(after)
        self.start = -1

    def _place(self, after: Message | None) -> None:
        start, add = self.start, self.s.add
        path = f"$.messages[{start}]"
        if start == 0:
            add("system-message.first", path, "a system message with content cannot be messages[0]")
            if after is not None and after.role != "assistant":
                add("system-message.followed-by-user", path,
                    "a system message must be last or be followed by an assistant turn")
            return
        before = self.msgs[start - 1]
        if before.role == "assistant" and type(before.content) is tuple:
            asked = {b.id for b in before.content if type(b) is ToolUse}
            if asked and after is not None and after.role == "user" and type(after.content) is tuple and any(
                type(b) is ToolResult and b.tool_use_id in asked for b in after.content
            ):
                add("system-message.between-tool-use", path,
                    "a system message sits between a tool_use and its tool_result")
                return
        if not system_may_follow(before):
            add("system-message.not-after-user", path,
                f"a system message must follow a user turn (it follows {before.role!r})")
        if after is not None and after.role != "assistant":
            add("system-message.followed-by-user", path,
                f"a system message must be last or be followed by an assistant turn (it is followed by {after.role!r})")


def _check_order(i: int, role: str, first_turn: int, prev_role: str | None, s: _Pass) -> None:
    """``messages.first-role`` and ``roles.consecutive`` for message *i*, which is the first
    message that is no system message (index *first_turn*) or has the role of the one before."""
    if i == first_turn and role == "assistant":
        s.add("messages.first-role", f"$.messages[{i}].role",
              "the first non-system message is an assistant turn, not a user turn")
    if (role == "user" or role == "assistant") and prev_role == role:
        s.add("roles.consecutive", f"$.messages[{i}]",
              f"two consecutive {role} turns (the API merges them; other platforms reject them)")


def _check_empty_content(i: int, msg: Message, is_last: bool, s: _Pass) -> None:
    """``message.empty-content``, and ``text.whitespace-only`` for string content (for blocks,
    :func:`_check_blocks` reports it): [OBS] (facts §1.7), observed 400s, not in the docs.
    Only the final assistant message may be empty or end the conversation in whitespace."""
    content = msg.content
    final_assistant = is_last and msg.role == "assistant"
    if not content:
        if not final_assistant and not effort_only(msg):
            s.add("message.empty-content", f"$.messages[{i}].content",
                  "empty content; only the final assistant message may be empty")
    elif type(content) is str and not final_assistant and content.isspace():
        s.add("text.whitespace-only", f"$.messages[{i}].content", "the message's only text is whitespace")


def _check_blocks(
    i: int, role: str, content: tuple[Any, ...], is_last: bool, asked: Mapping[str, str], s: _Pass,
    sc: Any = None,
) -> tuple[set[str] | None, dict[str, str] | None]:
    """The rules of each block of message *i*, block by block: empty text and whitespace-only
    text, cited text in a user turn, tool_result placement and orphans (results that answer
    nothing the previous turn *asked*), duplicate tool_use ids, documents in an assistant turn,
    cache breakpoints, and the blocks nested in results, search results and documents.

    Returns the tool_use ids this message answers (a user turn) and those it asks (an assistant
    turn: id -> path), or None for either when there are none.
    """
    in_user = role == "user"
    answers: set[str] | None = None
    asks: dict[str, str] | None = None
    ws_first = -1  # index of the first whitespace-only text block
    real_text = False
    other_before = False  # whether a block that is no tool_result came already
    not_first_done = False
    plans = sc.plans if sc is not None else None
    for j, b in enumerate(content):
        t = type(b)
        if plans is not None:  # the closed world: one predicate call for a well-formed block
            plan = plans.get(t)
            if plan is None or not plan.ok(b):
                sc.block(b, i, j)
        if t is Text:
            text = b.text
            if not text:
                s.add("text.empty", f"$.messages[{i}].content[{j}]", "text block with empty text")
            elif text.isspace():
                if ws_first < 0:
                    ws_first = j
            else:
                real_text = True
            if in_user and s.api_2026 and b.citations:
                s.add("citations.in-user", f"$.messages[{i}].content[{j}]",
                      "cited text in a user message is a 400 under API 2026-10-21")
            other_before = True
            cc = b.cache_control
        elif t is ToolResult:
            if in_user:
                if other_before and not not_first_done:
                    not_first_done = True
                    s.add("tool-result.not-first", f"$.messages[{i}].content[{j}]",
                          "a tool_result comes after other blocks; tool results must come first")
                if answers is None:
                    answers = set()
                answers.add(b.tool_use_id)
                if b.tool_use_id not in asked:
                    s.add("tool-result.orphan", f"$.messages[{i}].content[{j}]",
                          f"tool_result for {b.tool_use_id!r} answers no tool_use of the "
                          "immediately preceding assistant turn")
            if type(b.content) is tuple:
                s.nested(b.content, f"$.messages[{i}].content[{j}].content", in_user)
            cc = b.cache_control
        elif t is ToolUse or t is ServerToolUse:
            tid = b.id
            path = f"$.messages[{i}].content[{j}]"
            if tid in s.tool_ids:
                s.add("tool-use.duplicate-id", path, f"tool_use id {tid!r} is already used at {s.tool_ids[tid]}")
            else:
                s.tool_ids[tid] = path
            if t is ToolUse and role == "assistant":
                if asks is None:
                    asks = {}
                asks[tid] = path
            other_before = True
            cc = b.cache_control
        else:
            other_before = True
            if t is Image:
                s.images.append((f"$.messages[{i}].content[{j}]", b))
            elif t is Document:
                if s.api_2026 and role == "assistant":
                    s.add("document.in-assistant", f"$.messages[{i}].content[{j}]",
                          "a document in an assistant message is a 400 under API 2026-10-21")
                s.document(b, f"$.messages[{i}].content[{j}]", in_user)
            elif t is SearchResult:
                s.nested(b.content, f"$.messages[{i}].content[{j}].content", in_user)
            elif t is MidConvSystem:
                s.nested(b.content, f"$.messages[{i}].content[{j}].content", False)
            cc = getattr(b, "cache_control", UNSET)  # thinking blocks have none
        if cc is not UNSET and cc is not None:
            s.breakpoint(cc, f"$.messages[{i}].content[{j}]")
    if ws_first >= 0 and not real_text and not (is_last and role == "assistant"):
        s.add("text.whitespace-only", f"$.messages[{i}].content[{ws_first}]",
              "the message's only text is whitespace")
    return answers, asks


_NONE_ASKED: Mapping[str, str] = MappingProxyType({})


def _check_answered(asked: Mapping[str, str], answers: set[str] | None, s: _Pass) -> None:
    """``tool-use.missing-result``: this turn answers every tool_use the turn before *asked*.

    System messages in between are skipped (one there is ``system-message.between-tool-use``);
    results that answer nothing are ``tool-result.orphan``, from :func:`_check_blocks`.
    """
    for tid, path in asked.items():
        if answers is None or tid not in answers:
            s.add("tool-use.missing-result", path,
                  f"tool_use {tid!r} has no tool_result in the immediately following user message")


def _check_unanswered(asked: Mapping[str, str], s: _Pass) -> None:
    """``tool-use.missing-result`` for the tool_use blocks of a final assistant turn."""
    for tid, path in asked.items():
        s.add("tool-use.missing-result", path, f"tool_use {tid!r} has no tool_result (the conversation ends)")


def _check_prefill(conv: Conversation, p: Profile, s: _Pass, thinking_on: bool) -> None:
    """``prefill.*``: the conversation ends with an assistant turn the model would continue."""
    msgs = conv.messages
    last = len(msgs) - 1
    final = msgs[last]
    # a paused turn (stop_reason pause_turn) is sent back as it is to let the model go on: the
    # docs' own flow, so it is no prefill even on models that reject prefill
    if final.role != "assistant" or paused(final):
        return
    where = f"$.messages[{last}]"
    content: Any = final.content
    # [OBS] "final assistant content cannot end with trailing whitespace" (facts §1.4)
    trailing = None
    if type(content) is str:
        if content and content[-1].isspace():
            trailing = f"{where}.content"
    elif content:
        b = content[-1]
        if type(b) is Text and b.text and b.text[-1].isspace():
            trailing = f"{where}.content[{len(content) - 1}]"
    _prefill_rules(conv, p, s, thinking_on, where, trailing)


def _prefill_rules(conv: Conversation, p: Profile, s: _Pass, thinking_on: bool, where: str,
                   trailing: str | None = None) -> None:
    """The ``prefill.*`` rules of a final assistant turn at *where* that is no paused one;
    *trailing* is the path of its content where it ends in whitespace."""
    if not p.prefill:
        s.add("prefill.unsupported", where,
              f"{p.model or 'this model'} does not accept a prefill (a final assistant turn)")
    if trailing is not None:
        s.add("prefill.trailing-whitespace", trailing, "the prefill ends in whitespace")
    if thinking_on:
        s.add("prefill.with-thinking", where, "a prefill cannot be used while thinking is on")
    if _get(conv.output_config, "format") not in (UNSET, None) or "output_format" in conv.extra:
        s.add("prefill.with-json-output", where, "a prefill cannot be used with JSON outputs (output_config.format)")
