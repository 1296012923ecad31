"""Claude Code session transcripts, in only: the JSONL files under ``~/.claude/projects/`` (one
event per line) and the ``{"loglines": [...]}`` JSON export, one conversation per session.

Layer: codec. ``user`` and ``assistant`` lines carry a Messages API message in ``message``; their
blocks are read with convo's codec, so nothing in them is lost. Claude Code writes one line per
content block of a reply, and tool results as separate user lines, so consecutive lines of the same
role are joined into one turn (as Claude Code sends them, and as the API would merge them, facts
§1.3): a reply's ``tool_use`` blocks and the ``tool_result`` blocks answering them end up in
adjacent turns. The conversation's ``model`` is the model of the last assistant line.

A bad line never stops the read: a line that is not JSON, not an object, has no ``type``, or whose
``message`` has no ``content`` is skipped with a loss naming its line. ``summary`` lines (the
session title), ``system`` lines, sidechain (subagent) lines and other event types are skipped with
a loss too; line metadata (``uuid``, ``timestamp``, ``cwd``, ``usage``, ...) is reported once per
kind with how many lines had it. A thinking block without a signature (the loglines export drops
them) is kept with an empty one, and reported.

>>> lines = [
...     {"type": "user", "sessionId": "s1", "message": {"role": "user", "content": "List files"}},
...     {"type": "assistant", "sessionId": "s1", "message": {"role": "assistant", "model": "claude-sonnet-4",
...      "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]}},
...     {"type": "user", "sessionId": "s1", "message": {"role": "user", "content": [
...         {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.py"}]}}]
>>> conv = read(lines).conversation
>>> conv.model, [m.role for m in conv.messages], conv.messages[2].content[0].tool_use_id
('claude-sonnet-4', ['user', 'assistant', 'user'], 'toolu_1')
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

from convo._json import UNSET
from convo.codec import parse_json, structure
from convo.codec.formats._base import (
    Conversion,
    Format,
    Loss,
    describe,
    guarded,
    need_list,
    open_binary,
    unsigned_thinking,
)
from convo.codec.jsonl import DEFAULT_MAX_LINE_BYTES
from convo.codec.lines import BOM, is_blank
from convo.errors import DecodeError
from convo.model import Block, Conversation, Message, Text, ToolResult, ToolUse

__all__ = ["FORMAT", "read", "read_file"]

ORIGIN = "Claude Code"
# Line keys that are the event itself; every other key is line metadata.
_EVENT_KEYS = frozenset({"type", "message", "sessionId"})
_MESSAGE_KEYS = frozenset({"role", "content"})

Event = tuple[int | None, str, Any]  # (line number, path of the event, the event)


def read(obj: Any, *, source: str | None = None) -> Conversion:
    """One session from a list of line objects or a ``{"loglines": [...]}`` export.

    >>> read({"loglines": [{"type": "user", "message": {"role": "user", "content": "Hi"}}]}).conversation.messages
    (Message(role='user', content='Hi'),)
    """
    if isinstance(obj, dict):
        if "loglines" not in obj:
            raise DecodeError("expected a 'loglines' array or an array of lines", path="$")
        events: list[Event] = [(None, f"$.loglines[{i}]", e) for i, e in enumerate(need_list(obj["loglines"], "$.loglines"))]
    else:
        events = [(None, f"$[{i}]", e) for i, e in enumerate(need_list(obj, "$", "an array of lines"))]
    losses: list[Loss] = []
    conv = guarded(_session, events, losses)
    return Conversion(conv, losses, source)


def read_file(path: str | os.PathLike[str], *, split_sessions: bool = True,
              max_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Conversion]:
    """Each session in a Claude Code JSONL file (or the one in a loglines export).

    Lines are grouped by ``sessionId`` (in the order sessions first appear); a line without one
    (or with one that is not a string) belongs with the line before it.
    ``split_sessions=False`` reads the file as one conversation. A line longer than *max_bytes*
    is not parsed: it is skipped, and reported as a loss.

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "session.jsonl"
    >>> _ = p.write_text('{"type": "summary", "summary": "Greeting"}\\n'
    ...                  '{"type": "user", "sessionId": "s1", "message": {"role": "user", "content": "Hi"}}\\n')
    >>> [(c.conversation.messages[0].content, [loss.line for loss in c.losses]) for c in read_file(p)]
    [('Hi', [1])]
    """
    name = os.fspath(path)
    with open_binary(name) as f:
        data = f.read()
    if data.startswith(BOM):
        data = data[len(BOM):]
    if data.lstrip().startswith(b"{") and len(data) <= max_bytes:
        try:
            whole = parse_json(data)
        except DecodeError:
            whole = None
        if isinstance(whole, dict) and "loglines" in whole:
            yield read(whole, source=name)
            return
    events: list[Event] = []
    for n, raw in enumerate(data.splitlines(), 1):
        if is_blank(raw):
            continue
        if len(raw) > max_bytes:
            events.append((n, "$", _Bad(f"{len(raw)} bytes long, over the limit of {max_bytes} bytes")))
            continue
        try:
            events.append((n, "$", parse_json(raw)))
        except DecodeError as e:
            events.append((n, "$", _Bad(f"not JSON ({e.expected})"[:120])))
    if not split_sessions:
        losses: list[Loss] = []
        yield Conversion(guarded(_session, events, losses), losses, name)
        return
    groups: dict[Any, list[Event]] = {}
    key: Any = None
    first = next((sid for e in events if (sid := _session_id(e[2]))), None)
    for ev in events:
        sid = _session_id(ev[2])
        if sid:
            key = sid
        groups.setdefault(key if key is not None else first, []).append(ev)
    for sid, evs in groups.items():
        losses = []
        yield Conversion(guarded(_session, evs, losses), losses, f"{name}#{sid}" if sid is not None else name)


def _session_id(ev: Any) -> str | None:
    """A line's ``sessionId`` when it is a string (data never becomes a key of any other type)."""
    sid = ev.get("sessionId") if isinstance(ev, dict) else None
    return sid if isinstance(sid, str) else None


class _Bad:
    """A line that could not be parsed, kept in place so its loss names its line."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


def _session(events: list[Event], losses: list[Loss]) -> Conversation:
    msgs: list[Message] = []
    origins: list[list[tuple[int | None, str]]] = []  # (line, path) of each block of each turn
    model: Any = UNSET
    meta: Counter[str] = Counter()
    message_meta: Counter[str] = Counter()
    meta_line: dict[str, int | None] = {}
    for line, base, ev in events:
        if isinstance(ev, _Bad):
            losses.append(Loss(base, f"a line that is {ev.why}", "not JSON; skipped", line=line))
            continue
        if not isinstance(ev, dict):
            losses.append(Loss(base, f"a line holding {describe(ev)}", "not a Claude Code event; skipped", line=line))
            continue
        kind = ev.get("type")
        if kind not in ("user", "assistant"):
            losses.append(_skipped(ev, kind, base, line))
            continue
        if ev.get("isSidechain") is True:
            losses.append(Loss(base, f"a sidechain {kind} line", "a subagent's turn, not part of the main "
                               "conversation; skipped", line=line))
            continue
        msg = ev.get("message")
        if not isinstance(msg, dict):
            losses.append(Loss(f"{base}.message", f"message {describe(msg)}", "not a Messages API message; "
                               "line skipped", line=line))
            continue
        if "content" not in msg:
            losses.append(Loss(f"{base}.message", "message without content", "line skipped", line=line))
            continue
        role = msg.get("role", kind)
        if role not in ("user", "assistant"):
            losses.append(Loss(f"{base}.message.role", f"role {role!r}", "line skipped", line=line))
            continue
        read = _content(msg["content"], f"{base}.message.content", losses, line)
        if read is None:
            continue
        content, paths = read
        for k in ev:
            if k not in _EVENT_KEYS:
                meta[k] += 1
                meta_line.setdefault(k, line)
        for k in msg:
            if k not in _MESSAGE_KEYS:
                message_meta[k] += 1
                meta_line.setdefault(f"message.{k}", line)
        if role == "assistant" and isinstance(msg.get("model"), str) and not msg["model"].startswith("<"):
            model = msg["model"]  # "<synthetic>" marks lines Claude Code wrote itself
        where = [(line, bp) for bp in paths]
        if msgs and msgs[-1].role == role:
            if isinstance(msgs[-1].content, str) and not msgs[-1].content:
                origins[-1] = []  # an empty string turn contributes no block
            msgs[-1] = Message(role, (*msgs[-1].blocks, *_blocks(content)))
            origins[-1].extend(where if not (isinstance(content, str) and not content) else [])
        else:
            msgs.append(Message(role, content))
            origins.append(where)
    for k, n in sorted(meta.items()):
        losses.append(Loss(f"$.{k}", f"{k} on {n} line{'s' if n > 1 else ''}", "Claude Code line metadata; "
                           "not part of a Messages API conversation"))
    for k, n in sorted(message_meta.items()):
        losses.append(Loss(f"$.message.{k}", f"message {k} on {n} line{'s' if n > 1 else ''}", "response "
                           "metadata; not part of a Messages API request"))
    _check_pairing(msgs, origins, losses)
    return Conversation(model=model, messages=tuple(msgs))


def _check_pairing(msgs: list[Message], origins: list[list[tuple[int | None, str]]],
                   losses: list[Loss]) -> None:
    """Report tool uses with no result in the next turn, and results with no use in the turn before."""
    for i, m in enumerate(msgs):
        if isinstance(m.content, str):
            continue
        if m.role == "assistant":
            nxt = msgs[i + 1] if i + 1 < len(msgs) else None
            if nxt is None:
                continue  # the session ends waiting for the tool: nothing is missing yet
            answered = {b.tool_use_id for b in nxt.blocks if isinstance(b, ToolResult)}
            for j, b in enumerate(m.content):
                if isinstance(b, ToolUse) and b.id not in answered:
                    line, path = origins[i][j]
                    losses.append(Loss(path, f"tool_use {b.id!r} ({b.name})", "no tool_result answers it in "
                                       "the next turn; the API rejects the conversation as it is", line=line))
        else:
            prev = msgs[i - 1] if i > 0 else None
            asked = {b.id for b in prev.blocks if isinstance(b, ToolUse)} if prev is not None and prev.role == "assistant" else set()
            for j, b in enumerate(m.content):
                if isinstance(b, ToolResult) and b.tool_use_id not in asked:
                    line, path = origins[i][j]
                    losses.append(Loss(path, f"tool_result for {b.tool_use_id!r}", "no tool_use in the turn "
                                       "before asks for it; the API rejects the conversation as it is", line=line))


def _skipped(ev: dict[str, Any], kind: Any, base: str, line: int | None) -> Loss:
    if kind == "summary":
        return Loss(f"{base}.summary", f"summary {str(ev.get('summary'))[:40]!r}", "a session title Claude Code "
                    "shows; not part of the conversation", line=line)
    if kind is None:
        return Loss(base, "a line without a type", "not a Claude Code event; skipped", line=line)
    return Loss(f"{base}.type", f"a {kind!r} line", "not a user or assistant message; skipped", line=line)


def _blocks(content: str | tuple[Block, ...]) -> tuple[Block, ...]:
    if isinstance(content, str):
        return (Text(content),) if content else ()
    return content


def _content(c: Any, path: str, losses: list[Loss],
             line: int | None) -> tuple[str | tuple[Block, ...], list[str]] | None:
    """The content of a line's message, and the source path of each block kept."""
    if isinstance(c, str):
        return c, [path]
    if not isinstance(c, list):
        losses.append(Loss(path, f"content {describe(c)}", "neither a string nor blocks; line skipped", line=line))
        return None
    out: list[Block] = []
    paths: list[str] = []
    for j, b in enumerate(c):
        bp = f"{path}[{j}]"
        if isinstance(b, str):
            losses.append(Loss(bp, "a bare string in a content list", "read as a text block", line=line))
            out.append(Text(b))
            paths.append(bp)
            continue
        try:
            out.append(structure(b, Block))  # type: ignore[arg-type]
            paths.append(bp)
        except DecodeError as e:
            if isinstance(b, dict) and b.get("type") == "thinking" and isinstance(b.get("thinking"), str) \
                    and "signature" not in b:
                loss_at = len(losses)
                out.append(unsigned_thinking(b["thinking"], bp, losses, ORIGIN))
                paths.append(bp)
                losses[loss_at] = Loss(bp, losses[loss_at].what, losses[loss_at].why, line=line)
                continue
            losses.append(Loss(f"{bp}{e.path[1:]}", f"a malformed {b.get('type') if isinstance(b, dict) else describe(b)} "
                               "block", f"{e.expected}; block skipped", line=line))
    return tuple(out), paths


FORMAT = Format(
    "claude-code",
    "Claude Code session transcripts (JSONL under ~/.claude/projects, or a loglines export): one conversation per session",
    reader=read,
    file_reader=read_file,
)
