"""Helpers for the foreign-format tests: the real-world files, JSON comparison that names the
places where two values differ, the round-trip check against a loss report, and a tool-pairing
check."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

from convo.codec.formats import Loss
from convo.model import (
    Base64Source,
    Conversation,
    Image,
    Message,
    Text,
    ToolResult,
    ToolUse,
    URLSource,
)

REALWORLD = Path(__file__).parents[1].parent / "shared" / "realworld"


def jsonl(path: Path) -> list[Any]:
    """Every non-blank line of a JSONL file, decoded."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def plain(value: Any) -> Any:
    """*value* as plain JSON (frozen dicts and tuples become dicts and lists)."""
    return orjson.loads(orjson.dumps(value))


def diff_paths(a: Any, b: Any, path: str = "$") -> Iterator[str]:
    """The JSON paths where *a* and *b* differ (a list of another length differs as a whole)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            p = f"{path}.{k}"
            if k not in a or k not in b:
                yield p
            else:
                yield from diff_paths(a[k], b[k], p)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield path
        else:
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                yield from diff_paths(x, y, f"{path}[{i}]")
    elif type(a) is not type(b) or a != b:
        yield path


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def uncovered(original: Any, written: Any, losses: Iterable[Loss]) -> list[str]:
    """The places where *written* differs from *original* that no loss reports (a loss covers its
    own subtree, and a whole subtree that vanished or changed when a loss lies inside it)."""
    paths = [loss.path for loss in losses]
    return [d for d in diff_paths(original, plain(written))
            if not any(_under(d, p) or _under(p, d) for p in paths)]


def assert_round_trip(original: Any, written: Any, losses: Iterable[Loss]) -> None:
    """*written* equals *original* except where a reported loss says why."""
    losses = list(losses)
    assert all(loss.path != "$" for loss in losses), "a loss at $ would excuse any difference"
    assert uncovered(original, written, losses) == []


def pairing_problems(conv: Conversation) -> list[str]:
    """Tool uses not answered in the next turn and results not asked for in the turn before
    (a conversation that ends with tool uses is waiting for results, which is fine)."""
    msgs = conv.messages
    problems = []
    for i, m in enumerate(msgs):
        if m.role == "assistant" and i + 1 < len(msgs):
            answered = {b.tool_use_id for b in msgs[i + 1].blocks if isinstance(b, ToolResult)}
            problems += [f"use {b.id} at {i}" for b in m.blocks
                         if isinstance(b, ToolUse) and b.id not in answered]
        if m.role == "user":
            prev = msgs[i - 1] if i else None
            asked = {b.id for b in prev.blocks if isinstance(b, ToolUse)} if prev is not None else set()
            problems += [f"result {b.tool_use_id} at {i}" for b in m.blocks
                         if isinstance(b, ToolResult) and b.tool_use_id not in asked]
    return problems


def whats(losses: Iterable[Loss]) -> list[str]:
    """``path: what`` of each loss, for asserting specific losses."""
    return [f"{loss.path}: {loss.what}" for loss in losses]


# --------------------------------------------------------------------------- strategies

_texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(
    lambda s: "<image>" not in s and "\n\nHuman:" not in s and "\n\nAssistant:" not in s
)
_ids = st.from_regex(r"toolu_[A-Za-z0-9]{6}", fullmatch=True)
_inputs = st.dictionaries(st.text(min_size=1, max_size=8), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10), max_size=3)
_images = st.one_of(
    st.builds(lambda d: Image(Base64Source("image/png", d)), st.from_regex(r"[A-Za-z0-9+/]{4,12}", fullmatch=True)),
    st.builds(lambda p: Image(URLSource(f"https://example.com/{p}.png")), st.from_regex(r"[a-z]{1,8}", fullmatch=True)),
)


@st.composite
def chat_conversations(draw: Any, *, images: bool = True, tools: bool = True) -> Conversation:
    """Conversations of the shape every chat format carries without loss: an optional string
    system, user turns of text (and images), assistant turns of text or tool calls, and tool
    results answering every call in the next user turn."""
    msgs: list[Message] = []
    for _ in range(draw(st.integers(1, 4))):
        if images and draw(st.booleans()):
            msgs.append(Message("user", (draw(_images), Text(draw(_texts)))))
        else:
            msgs.append(Message("user", draw(_texts)))
        if tools and draw(st.booleans()):
            ids = draw(st.lists(_ids, min_size=1, max_size=3, unique=True))
            uses = tuple(ToolUse(i, draw(st.from_regex(r"[a-z_]{1,10}", fullmatch=True)), draw(_inputs)) for i in ids)
            msgs.append(Message("assistant", uses))
            msgs.append(Message("user", tuple(ToolResult(i, content=draw(_texts)) for i in ids)))
        msgs.append(Message("assistant", draw(_texts)))
    system = draw(st.none() | _texts)
    return Conversation(messages=tuple(msgs), **({"system": system} if system is not None else {}))
