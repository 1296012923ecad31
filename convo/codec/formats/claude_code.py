"""Claude Code session transcripts, in only: the JSONL files under ``~/.claude/projects/`` (one
event per line) and the ``{"loglines": [...]}`` JSON export, one conversation per session, and one
per subagent (sidechain).

Layer: codec. ``user`` and ``assistant`` lines carry a Messages API message in ``message``; their
blocks are read with convo's codec, so nothing in them is lost. Claude Code writes one line per
content block of a reply, interleaved with progress lines and with the results of the reply's
first tool calls while later calls are still being written (parallel tool calls). Lines are put
back together the way the API saw them: assistant lines of the same API message (``message.id``)
form one turn, and each ``tool_result`` joins the user turn right after the assistant turn that
holds its ``tool_use`` (found by ``tool_use_id``); lines without ids join the turn before them when
the role is the same (as the API would merge them, facts §1.3). The conversation's ``model`` is the
model of the last assistant line.

Subagents (``isSidechain: true`` lines, in the session's file or in
``<session>/subagents/agent-<id>.jsonl``) are conversations of their own: :func:`read_file` gives
each with ``meta`` ``{"sidechain": True, "session_id", "agent_id", "parent_tool_use_id"}`` (the
``Task`` call that started it, found through ``toolUseResult.agentId`` or the progress lines of
the parent session, or by its prompt).

A bad line never stops the read: a line that is not JSON, not an object, has no ``type``, or whose
``message`` has no ``content`` is skipped with a loss naming its line. ``summary`` lines (the
session title), ``system`` and ``progress`` lines and other event types are skipped with a loss
too; line metadata (``uuid``, ``timestamp``, ``cwd``, ``usage``, ...) is reported once per kind
with how many lines had it. A thinking block without a signature (the loglines export drops them)
is kept with an empty one, and reported.

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
from pathlib import Path
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
_EVENT_KEYS = frozenset({"type", "message", "sessionId", "isSidechain", "agentId"})
_MESSAGE_KEYS = frozenset({"role", "content"})
_TASK_TOOLS = frozenset({"Task", "Agent"})

Event = tuple[int | None, str, Any]  # (line number, path of the event, the event)


def read(obj: Any, *, source: str | None = None) -> Conversion:
    """One session from a list of line objects or a ``{"loglines": [...]}`` export.

    Sidechain (subagent) lines mixed into a session are skipped with a loss (:func:`read_file`
    gives them as conversations of their own); a list of nothing but sidechain lines is the
    subagent's conversation.

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
    sidechain = _all_sidechain(events)
    conv = guarded(_session, events, losses, sidechain)
    return Conversion(conv, losses, source, meta=_side_meta(events) if sidechain else {})


def read_file(path: str | os.PathLike[str], *, split_sessions: bool = True,
              max_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Conversion]:
    """Each session in a Claude Code JSONL file (or the one in a loglines export), then each
    subagent in it.

    Lines are grouped by ``sessionId`` (in the order sessions first appear); a line without one
    (or with one that is not a string) belongs with the line before it. ``split_sessions=False``
    reads the file's main lines as one conversation. Sidechain lines are grouped by ``agentId``
    (or, in older files, by the first line of their chain) into conversations of their own, each
    linked to its parent (``meta``); a subagent file alone is one such conversation, linked
    through the parent session's file when it lies where Claude Code puts it (``<session>.jsonl``
    beside the ``<session>/subagents/`` folder). A line longer than *max_bytes* is not parsed: it
    is skipped, and reported as a loss.

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
    if data.lstrip().startswith(b"[") and len(data) <= max_bytes:  # the lines as one JSON array
        try:
            whole = parse_json(data)
        except DecodeError:
            whole = None
        if isinstance(whole, list):
            events = [(None, f"$[{i}]", e) for i, e in enumerate(whole)]
    for n, raw in enumerate(() if events else data.splitlines(), 1):
        if is_blank(raw):
            continue
        if len(raw) > max_bytes:
            events.append((n, "$", _Bad(f"{len(raw)} bytes long, over the limit of {max_bytes} bytes")))
            continue
        try:
            events.append((n, "$", parse_json(raw)))
        except DecodeError as e:
            events.append((n, "$", _Bad(f"not JSON ({e.expected})"[:120])))
    main = [ev for ev in events if not _is_sidechain(ev[2])]
    sides: dict[str, list[Event]] = {}
    roots: dict[str, str] = {}  # uuid -> the chain it belongs to, for sidechains without agentId
    for ev in events:
        if _is_sidechain(ev[2]):
            sides.setdefault(_chain_key(ev[2], roots), []).append(ev)
    if not sides or any(_is_turn(ev) for _, _, ev in main):
        yield from _main_sessions(name, main, split_sessions)
    links = _links(main)
    parent_file = _parent_file(Path(name)) if sides and not links else None
    for key, evs in sides.items():
        losses: list[Loss] = []
        meta = _side_meta(evs)
        tid = links.get(("agent", meta.get("agent_id"))) or links.get(("prompt", _first_prompt(evs)))
        if tid is None and parent_file is not None and meta.get("agent_id"):
            tid = _link_from_file(parent_file, meta["agent_id"], _first_prompt(evs))
        if tid is not None:
            meta["parent_tool_use_id"] = tid
        conv = guarded(_session, evs, losses, True)
        yield Conversion(conv, losses, f"{name}#agent-{meta.get('agent_id', key)}", meta=meta)


def _main_sessions(name: str, main: list[Event], split_sessions: bool) -> Iterator[Conversion]:
    if not split_sessions:
        losses: list[Loss] = []
        yield Conversion(guarded(_session, main, losses, False), losses, name)
        return
    groups: dict[Any, list[Event]] = {}
    key: Any = None
    first = next((sid for e in main if (sid := _session_id(e[2]))), None)
    for ev in main:
        sid = _session_id(ev[2])
        if sid:
            key = sid
        groups.setdefault(key if key is not None else first, []).append(ev)
    for sid, evs in groups.items():
        losses = []
        yield Conversion(guarded(_session, evs, losses, False), losses,
                         f"{name}#{sid}" if sid is not None else name)


def _is_turn(ev: Any) -> bool:
    if not isinstance(ev, dict):
        return False
    kind = ev.get("type")
    return kind in ("user", "assistant") or (kind is None and isinstance(ev.get("message"), dict))


def _is_sidechain(ev: Any) -> bool:
    return isinstance(ev, dict) and ev.get("isSidechain") is True


def _all_sidechain(events: list[Event]) -> bool:
    msgs = [e for _, _, e in events if _is_turn(e)]
    return bool(msgs) and all(e.get("isSidechain") is True for e in msgs)


def _chain_key(ev: dict[str, Any], roots: dict[str, str]) -> str:
    aid = ev.get("agentId")
    if isinstance(aid, str):
        return aid
    parent, uuid = ev.get("parentUuid"), ev.get("uuid")
    key = roots.get(parent, str(uuid)) if isinstance(parent, str) else str(uuid)
    if isinstance(uuid, str):
        roots[uuid] = key
    return key


def _side_meta(events: list[Event]) -> dict[str, Any]:
    meta: dict[str, Any] = {"sidechain": True}
    for _, _, ev in events:
        if isinstance(ev, dict):
            if isinstance(ev.get("sessionId"), str):
                meta.setdefault("session_id", ev["sessionId"])
            if isinstance(ev.get("agentId"), str):
                meta.setdefault("agent_id", ev["agentId"])
    return meta


def _first_prompt(events: list[Event]) -> str | None:
    for _, _, ev in events:
        if isinstance(ev, dict) and ev.get("type") == "user":
            msg = ev.get("message")
            c = msg.get("content") if isinstance(msg, dict) else None
            return c if isinstance(c, str) else None
    return None


def _links(events: list[Event]) -> dict[tuple[str, Any], str]:
    """How the main lines of a session name the tool calls that started subagents: by agent id
    (``toolUseResult.agentId`` on the Task's result line, ``data.agentId`` on progress lines) and
    by prompt (a Task call's ``input.prompt``)."""
    out: dict[tuple[str, Any], str] = {}
    for _, _, ev in events:
        if not isinstance(ev, dict):
            continue
        kind = ev.get("type")
        if kind == "progress":
            data = ev.get("data")
            if isinstance(data, dict) and isinstance(data.get("agentId"), str) \
                    and isinstance(ev.get("parentToolUseID"), str):
                out.setdefault(("agent", data["agentId"]), ev["parentToolUseID"])
            continue
        msg = ev.get("message")
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(content, list):
            continue
        if kind == "assistant":
            for b in content:
                if isinstance(b, dict) and b.get("type") == "tool_use" and isinstance(b.get("name"), str) \
                        and b["name"] in _TASK_TOOLS \
                        and isinstance(b.get("input"), dict) and isinstance(b["input"].get("prompt"), str) \
                        and isinstance(b.get("id"), str):
                    out.setdefault(("prompt", b["input"]["prompt"]), b["id"])
        elif kind == "user":
            tur = ev.get("toolUseResult")
            if isinstance(tur, dict) and isinstance(tur.get("agentId"), str):
                for b in content:
                    if isinstance(b, dict) and b.get("type") == "tool_result" and isinstance(b.get("tool_use_id"), str):
                        out.setdefault(("agent", tur["agentId"]), b["tool_use_id"])
    return out


def _parent_file(path: Path) -> Path | None:
    """``<dir>/<session>.jsonl`` for ``<dir>/<session>/subagents/agent-<id>.jsonl``."""
    if path.parent.name != "subagents":
        return None
    session_dir = path.parent.parent
    candidate = session_dir.parent / f"{session_dir.name}.jsonl"
    return candidate if candidate.is_file() else None


def _link_from_file(parent: Path, agent_id: str, prompt: str | None) -> str | None:
    """The tool call in the parent session's file that started the subagent *agent_id*."""
    needle = agent_id.encode()
    events: list[Event] = []
    with open_binary(parent) as f:
        for raw in f:
            if needle in raw or b'"Task"' in raw or b'"Agent"' in raw:
                try:
                    events.append((None, "$", parse_json(raw)))
                except DecodeError:
                    continue
    links = _links(events)
    return links.get(("agent", agent_id)) or links.get(("prompt", prompt))


def _session_id(ev: Any) -> str | None:
    """A line's ``sessionId`` when it is a string (data never becomes a key of any other type)."""
    sid = ev.get("sessionId") if isinstance(ev, dict) else None
    return sid if isinstance(sid, str) else None


class _Bad:
    """A line that could not be parsed, kept in place so its loss names its line."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


class _Turn:
    """A turn being rebuilt: its role, its blocks with the (line, path) each came from, and the
    API message id of an assistant turn."""

    __slots__ = ("blocks", "role", "text")

    def __init__(self, role: str) -> None:
        self.role = role
        self.blocks: list[tuple[Block, int | None, str]] = []
        self.text: tuple[str, int | None, str] | None = None  # string content, while it is the only content

    def add(self, content: str | tuple[Block, ...], where: list[tuple[int | None, str]]) -> None:
        if isinstance(content, str):
            if not self.blocks and self.text is None:
                self.text = (content, *where[0])
                return
            self._unstring()
            if content:
                self.blocks.append((Text(content), *where[0]))
            return
        self._unstring()
        self.blocks.extend((b, *w) for b, w in zip(content, where, strict=True))

    def add_result(self, block: ToolResult, line: int | None, path: str) -> None:
        """A tool result goes after the results already in the turn, before any other content."""
        self._unstring()
        k = 0
        while k < len(self.blocks) and isinstance(self.blocks[k][0], ToolResult):
            k += 1
        self.blocks.insert(k, (block, line, path))

    def _unstring(self) -> None:
        if self.text is not None:
            text, line, path = self.text
            self.text = None
            if text:
                self.blocks.insert(0, (Text(text), line, path))

    def message(self) -> Message:
        if self.text is not None:
            return Message(self.role, self.text[0])
        return Message(self.role, tuple(b for b, _, _ in self.blocks))

    def origins(self) -> list[tuple[int | None, str]]:
        if self.text is not None:
            return [self.text[1:]]
        return [(line, path) for _, line, path in self.blocks]


def _session(events: list[Event], losses: list[Loss], sidechain: bool) -> Conversation:
    turns: list[_Turn] = []
    by_message: dict[str, int] = {}  # API message id -> its assistant turn
    by_use: dict[str, int] = {}  # tool_use id -> the assistant turn holding it
    model: Any = UNSET
    meta: Counter[str] = Counter()
    message_meta: Counter[str] = Counter()
    skipped: dict[str, tuple[int, tuple[int | None, str]]] = {}  # event type -> (lines, first (line, path))

    def insert(at: int, turn: _Turn) -> None:
        turns.insert(at, turn)
        for d in (by_message, by_use):
            for k, v in d.items():
                if v >= at:
                    d[k] = v + 1

    for line, base, ev in events:
        if isinstance(ev, _Bad):
            losses.append(Loss(base, f"a line that is {ev.why}", "not JSON; skipped", line=line))
            continue
        if not isinstance(ev, dict):
            losses.append(Loss(base, f"a line holding {describe(ev)}", "not a Claude Code event; skipped", line=line))
            continue
        kind = ev.get("type")
        if kind is None and isinstance(ev.get("message"), dict) and "role" in ev["message"]:
            kind = ev["message"]["role"]  # usage-only exports (ccusage) keep the role in the message
        if kind not in ("user", "assistant"):
            if isinstance(kind, str) and kind != "summary":
                n, first = skipped.get(kind, (0, (line, base)))
                skipped[kind] = (n + 1, first)
            else:
                losses.append(_skipped(ev, kind, base, line))
            continue
        if ev.get("isSidechain") is True and not sidechain:
            losses.append(Loss(base, f"a sidechain {kind} line", "a subagent's turn, not part of the main "
                               "conversation; read_file() gives the subagent as a conversation of its own",
                               line=line))
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
        got = _content(msg["content"], f"{base}.message.content", losses, line)
        if got is None:
            continue
        content, paths = got
        for k in ev:
            if k not in _EVENT_KEYS:
                meta[k] += 1
        for k in msg:
            if k not in _MESSAGE_KEYS:
                message_meta[k] += 1
        where = [(line, bp) for bp in paths]
        if role == "assistant":
            if isinstance(msg.get("model"), str) and not msg["model"].startswith("<"):
                model = msg["model"]  # "<synthetic>" marks lines Claude Code wrote itself
            mid = msg.get("id") if isinstance(msg.get("id"), str) else None
            at = by_message.get(mid) if mid is not None else None
            if at is None:
                if turns and turns[-1].role == "assistant":
                    at = len(turns) - 1
                else:
                    turns.append(_Turn("assistant"))
                    at = len(turns) - 1
                if mid is not None:
                    by_message[mid] = at
            turns[at].add(content, where)
            if not isinstance(content, str):
                for b in content:
                    if isinstance(b, ToolUse):
                        by_use[b.id] = at
            continue
        # a user line: each result joins the turn after its tool_use; the rest follows in order
        rest: list[tuple[Block, tuple[int | None, str]]] = []
        if isinstance(content, str):
            _user_turn(turns).add(content, where)
            continue
        for b, w in zip(content, where, strict=True):
            at = by_use.get(b.tool_use_id) if isinstance(b, ToolResult) else None
            if at is None or not isinstance(b, ToolResult):
                rest.append((b, w))
                continue
            if at + 1 == len(turns) or turns[at + 1].role != "user":
                insert(at + 1, _Turn("user"))
            turns[at + 1].add_result(b, *w)
        if rest:
            _user_turn(turns).add(tuple(b for b, _ in rest), [w for _, w in rest])
    for kind, (n, (line, base)) in skipped.items():
        if n == 1:
            losses.append(Loss(f"{base}.type", f"a {kind!r} line", "not a user or assistant message; skipped", line=line))
        else:
            losses.append(Loss("$.type", f"{n} {kind!r} lines (the first at line {line})" if line else
                               f"{n} {kind!r} lines", "not user or assistant messages; skipped", line=line))
    for k, n in sorted(meta.items()):
        losses.append(Loss(f"$.{k}", f"{k} on {n} line{'s' if n > 1 else ''}", "Claude Code line metadata; "
                           "not part of a Messages API conversation"))
    for k, n in sorted(message_meta.items()):
        losses.append(Loss(f"$.message.{k}", f"message {k} on {n} line{'s' if n > 1 else ''}", "response "
                           "metadata; not part of a Messages API request"))
    msgs = [t.message() for t in turns]
    _check_pairing(msgs, [t.origins() for t in turns], losses)
    return Conversation(model=model, messages=tuple(msgs))


def _user_turn(turns: list[_Turn]) -> _Turn:
    if not turns or turns[-1].role != "user":
        turns.append(_Turn("user"))
    return turns[-1]


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
