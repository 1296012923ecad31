"""Shared pieces for the transforms tests: hand-built transcripts, tiny images, and a strategy
of broken histories (the kind normalize exists to repair)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from convo import (
    UNSET,
    Conversation,
    Document,
    Image,
    Message,
    RedactedThinking,
    SearchResult,
    Text,
    TextSource,
    Thinking,
    ToolResult,
    ToolUse,
)
from convo import transforms as t
from convo._samples import png
from convo.rules import validate

# Rules every model shares (facts §1): what normalize promises to leave unbroken.
STRUCTURAL = frozenset(
    {
        "message.empty-content",
        "text.empty",
        "text.whitespace-only",
        "roles.consecutive",
        "messages.first-role",
        "prefill.trailing-whitespace",
        "system-message.first",
        "system-message.not-after-user",
        "system-message.followed-by-user",
        "system-message.between-tool-use",
        "tool-use.missing-result",
        "tool-result.orphan",
        "tool-result.not-first",
    }
)


def structural_violations(conv: Conversation) -> list[str]:
    """The structural rule ids *conv* breaks (with their paths), per convo.rules."""
    return [f"{v.rule} {v.path}" for v in validate(conv).violations if v.rule in STRUCTURAL]


def png_image(width: int = 56, height: int = 28) -> Image:
    return Image.from_bytes(png(width, height))


URL_IMAGE = Image.from_url("https://example.com/ant.jpg")


def agent_transcript(model: str = "claude-opus-4-8") -> Conversation:
    """A hand-built agent loop: tool calls answered one and two at a time, text between."""
    return Conversation(
        model=model,
        max_tokens=1024,
        system="You are a careful agent.",
        tools=[{"name": "search", "input_schema": {"type": "object"}}],
        messages=[
            Message("user", "Find the weather in Paris and Rome."),  # 0
            Message("assistant", (Text("Looking up Paris."), ToolUse("toolu_a", "search", {"q": "Paris"}))),  # 1
            Message("user", (ToolResult("toolu_a", content="18C"),)),  # 2
            Message("assistant", (ToolUse("toolu_b", "search", {"q": "Rome"}), ToolUse("toolu_c", "search", {"q": "Rome 2"}))),  # 3
            Message("user", (ToolResult("toolu_b", content="21C"), ToolResult("toolu_c", content="22C"), Text("Both?"))),  # 4
            Message("assistant", "Paris 18C, Rome 21C."),  # 5
            Message("user", "And Oslo?"),  # 6
            Message("assistant", (ToolUse("toolu_d", "search", {"q": "Oslo"}),)),  # 7
            Message("user", (ToolResult("toolu_d", content="5C"),)),  # 8
            Message("assistant", "Oslo is 5C."),  # 9
            Message("user", "Thanks."),  # 10
        ],
    )


def rich_conversation() -> Conversation:
    """One of everything transforms touch: system blocks, images (also in tool results),
    thinking, documents, search results, a mid-conversation system message, sampling params,
    a prefill with trailing whitespace."""
    return Conversation(
        model="claude-sonnet-4-5",
        max_tokens=2048,
        system=(Text("System one, ann@example.com"), Text("System two")),
        temperature=0.5,
        top_k=10,
        tool_choice={"type": "any"},
        stop_sequences=["END"],
        extra={"speed": "fast"},
        messages=[
            Message("user", (Text("Look ann@example.com"), png_image(), Document(TextSource("doc text")))),
            Message(
                "assistant",
                (Thinking("thinking about ann@example.com", "sig1"), RedactedThinking("opaque"),
                 ToolUse("toolu_1", "search", {"q": "x"})),
            ),
            Message(
                "user",
                (ToolResult("toolu_1", content=(Text("found ann@example.com"), URL_IMAGE)),
                 SearchResult("src", "title", [Text("result text")])),
            ),
            Message("assistant", "Found it."),
            Message("user", "Thanks, ann@example.com"),
            Message("system", "Mid-conversation note."),
            Message("assistant", (Thinking("latest", "sig2"), Text("Answer: "))),
        ],
    )


def parseable_transforms() -> list[t.Transform]:
    """A built-in of every parseable factory, with and without its optional arguments."""
    return [
        t.append_user("Hello"),
        t.append_user("a", "b"),
        t.append_assistant("Hi!"),
        t.inject_system("Be terse."),
        t.inject_system("Be terse.", where="top"),
        t.inject_system("Be terse.", where="top", replace=True),
        t.inject_system("Be terse.", where="message"),
        t.attach_image("https://example.com/a.png"),
        t.attach_image("https://example.com/a.png", new_turn=True),
        t.prefill("The answer is ("),
        t.with_params(temperature=0.2, stop_sequences=["x"], metadata={"user_id": "u"}, speed="fast"),
        t.set_model("claude-sonnet-4-5"),
        t.drop_images(),
        t.drop_images(placeholder="[image]"),
        t.strip_thinking(),
        t.merge_adjacent_roles(),
        t.keep_last_turns(n=8),
        t.trim_to_tokens(budget=1000),
        t.redact(r"\d{3}-\d{4}"),
        t.redact(r"(\w+)@example\.com", replacement=r"\1@redacted"),
        t.drop_sampling_params(),
        t.strip_prefill(),
        t.strip_prefill(whitespace_only=True),
        t.normalize(),
        t.normalize(dangling="drop", orphans="drop"),
        t.migrate(model="claude-opus-4-8"),
        t.migrate(model="claude-sonnet-4-5", api_version="2023-06-01"),
        t.migrate(model="claude-opus-4-8", betas=["context-management-2025-06-27"], allow=["x_trace_id"]),
        t.drop_unknown_fields(),
        t.drop_unknown_fields(betas=["context-management-2025-06-27"], allow=["x_trace_id", "$.messages[*].x_meta"]),
        t.scrub_secrets(),
        t.scrub_secrets(pii=True, patterns={"employee-id": r"EMP-\d{6}"}, keyed=True,
                        thinking="refuse", base64="drop"),
        t.pipeline(),
        t.pipeline(t.drop_images(), t.keep_last_turns(n=2)),
    ]


def stored_transcript_transforms() -> list[t.Transform]:
    """Every built-in that rewrites what is there, with arguments that make it do something
    (none raises on rich_conversation()); the example tests and the property tests share it."""
    return [
        t.drop_images(),
        t.drop_images(placeholder="[image]"),
        t.strip_thinking(),
        t.merge_adjacent_roles(),
        t.keep_last_turns(n=2),
        t.trim_to_tokens(budget=100),
        t.redact("ann"),
        t.scrub_secrets(pii=True),
        t.scrub_secrets(base64="drop"),
        t.map_text(str.upper),
        t.drop_sampling_params(),
        t.strip_prefill(),
        t.strip_prefill(whitespace_only=True),
        t.normalize(),
        t.normalize(dangling="drop", orphans="drop"),
        t.migrate(model="claude-opus-4-8"),
        t.migrate(model="claude-sonnet-4-5", api_version="2023-06-01"),
        t.set_model("claude-opus-4-8"),
        t.drop_unknown_fields(),
        t.with_params(temperature=UNSET, speed="slow"),
        t.inject_system("More.", where="top"),
        t.append_user("More?"),
        t.attach_image("https://example.com/b.png", new_turn=True),
    ]

# --------------------------------------------------------------------------- broken histories

_IDS = ("toolu_1", "toolu_2", "toolu_3")


@st.composite
def _blocks(draw: st.DrawFn, role: str) -> Any:
    kinds = ["text", "blank", "empty", "image"]
    if role == "assistant":
        kinds += ["tool_use", "thinking", "tool_use"]
    elif role == "user":
        kinds += ["tool_result", "tool_result"]
    out: list[Any] = []
    for kind in draw(st.lists(st.sampled_from(kinds), max_size=4)):
        if kind == "text":
            out.append(Text(draw(st.sampled_from(["hi", "ok then", "x"]))))
        elif kind == "blank":
            out.append(Text(draw(st.sampled_from([" ", "\n", "  \t"]))))
        elif kind == "empty":
            out.append(Text(""))
        elif kind == "image":
            out.append(URL_IMAGE)
        elif kind == "thinking":
            out.append(Thinking("hmm", "sig"))
        elif kind == "tool_use":
            out.append(ToolUse(draw(st.sampled_from(_IDS)), "search", {}))
        else:
            content = draw(st.sampled_from([UNSET, "result", (Text("r"),), (Text(""),)]))
            out.append(ToolResult(draw(st.sampled_from(_IDS)), content=content))
    if draw(st.booleans()) and all(isinstance(b, Text) for b in out) and len(out) == 1:
        return out[0].text  # string content too
    return tuple(out)


@st.composite
def broken_histories(draw: st.DrawFn, *, model: str = "claude-opus-4-8") -> Conversation:
    """Conversations with any mix of the mistakes normalize repairs: empty and blank text,
    empty messages, same-role runs, assistant-first, misplaced system messages, tool calls
    without results, results without calls, results after text, trailing whitespace.
    Tool ids are unique per assistant turn (duplicate ids are out of normalize's scope)."""
    n = draw(st.integers(0, 8))
    msgs = []
    for _ in range(n):
        role = draw(st.sampled_from(["user", "user", "assistant", "assistant", "system"]))
        if role == "system":
            msgs.append(Message("system", draw(st.sampled_from(["Be brief.", (Text("Note"),)]))))
        else:
            msgs.append(Message(role, draw(_blocks(role))))
    # tool_use ids must be unique across the conversation (rule tool-use.duplicate-id)
    seen: set[str] = set()
    fixed = []
    for k, m in enumerate(msgs):
        if isinstance(m.content, tuple):
            blocks = []
            for j, b in enumerate(m.content):
                if isinstance(b, ToolUse):
                    new_id = f"{b.id}_{k}_{j}" if b.id in seen else b.id
                    seen.add(new_id)
                    b = ToolUse(new_id, b.name, b.input)
                blocks.append(b)
            m = Message(m.role, tuple(blocks))
        fixed.append(m)
    system = draw(st.sampled_from([UNSET, "Top.", (Text("Top"), Text(""))]))
    return Conversation(model=model, max_tokens=64, system=system, messages=fixed)


@st.composite
def near_valid_conversations(draw: st.DrawFn) -> Conversation:
    """Valid generated conversations with up to two small mistakes: a message dropped,
    duplicated or swapped with the next, a system message inserted, a whitespace-ended reply."""
    from convo.strategies import conversations

    c = draw(st.one_of(
        conversations(model="claude-opus-4-8", tools=True, mid_system=True, thinking=True, images=True, max_turns=10),
        conversations(model="claude-sonnet-4-5", tools=True, prefill=True, max_turns=10),
    ))
    msgs = list(c.messages)
    for _ in range(draw(st.integers(0, 2))):
        if not msgs:
            break
        op = draw(st.sampled_from(["drop", "dup", "swap", "ws", "sys"]))
        k = draw(st.integers(0, len(msgs) - 1))
        if op == "drop":
            del msgs[k]
        elif op == "dup":
            msgs.insert(k, msgs[k])
        elif op == "swap" and k + 1 < len(msgs):
            msgs[k], msgs[k + 1] = msgs[k + 1], msgs[k]
        elif op == "ws":
            msgs.append(Message("assistant", "x "))
        elif op == "sys":
            msgs.insert(k, Message("system", "note"))
    return Conversation(model=c.model, max_tokens=c.max_tokens, system=c.system, tools=c.tools,
                        thinking=c.thinking, messages=msgs)


def valid_agent_transcripts() -> st.SearchStrategy[Conversation]:
    """Valid agent transcripts (tool pairs, server tool turns) of varied length for opus-4-8."""
    from convo.strategies import conversations

    return conversations(model="claude-opus-4-8", tools=True, min_turns=1, max_turns=14, prefill=False)


__all__ = [
    "STRUCTURAL",
    "URL_IMAGE",
    "agent_transcript",
    "broken_histories",
    "near_valid_conversations",
    "parseable_transforms",
    "png",
    "png_image",
    "rich_conversation",
    "stored_transcript_transforms",
    "structural_violations",
    "valid_agent_transcripts",
]
