"""Hand-built records for looking at and for attacking: one exchange that holds every kind of
block ``convo view`` shows, and transcripts written to break a page that trusted its input.

Layer: testing. The view's tests, its browser tests and ``benchmarks/screenshot.py`` (the
README's picture) use them.

>>> ex = showcase()
>>> ex.response.stop_reason, [msg.role for msg in ex.request.messages]
('refusal', ['user', 'assistant', 'user', 'system', 'assistant', 'user'])
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from convo import model as m
from convo._json import freeze
from convo._samples import png

__all__ = ["HOSTILE_MARK", "hostile", "reruns", "showcase", "tiny_pdf"]

HOSTILE_MARK = "__convo_pwned"
"""The global a hostile transcript's scripts would set if a page ever ran one."""


def tiny_pdf() -> bytes:
    """A minimal one-page PDF (enough for a viewer to open; the page only embeds it)."""
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
            b"endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def _gradient_png() -> bytes:
    noise = bytes((x * 7 + y * 3) % 256 for y in range(6) for x in range(24))
    return png(96, 64, noise=noise)


def showcase() -> m.Exchange:
    """An exchange record with a top-level and a mid-conversation system prompt, an image, a PDF
    and a text document, citations, thinking and redacted thinking, two tool calls (one result an
    error), a web search, a refused response with its stop details, and usage."""
    tools = (
        {"name": "get_weather", "description": "The current weather in a city.",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        {"name": "run_sql", "description": "Run a read-only SQL query.",
         "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
    )
    report = m.Document(m.TextSource("Q3 revenue grew 12% to $4.1M. Churn fell to 2.1%. Headcount: 48."),
                        title="Q3 report", citations={"enabled": True})
    messages = [
        m.Message("user", (
            m.Text("What's the weather in Paris today? And check the Q3 report and the attached chart."),
            m.Image.from_bytes(_gradient_png()),
            m.Document(m.Base64Source("application/pdf", base64.b64encode(tiny_pdf()).decode()), title="Board deck"),
            report,
        )),
        m.Message("assistant", (
            m.Thinking("The user wants the weather and a check of the report. I'll call get_weather for Paris "
                       "and query the orders table for the Q3 numbers.", signature="EqQBCkYIBxgCKkB..."),
            m.Text("Revenue grew 12% in Q3.", citations=({
                "type": "char_location", "cited_text": "Q3 revenue grew 12% to $4.1M.", "document_index": 2,
                "document_title": "Q3 report", "start_char_index": 0, "end_char_index": 29},)),
            m.ToolUse("toolu_01Weather", "get_weather", {"city": "Paris"}),
            m.ToolUse("toolu_02Orders", "run_sql", {"query": "SELECT sum(total) FROM orders WHERE quarter = 'Q3'"}),
        )),
        m.Message("user", (
            m.ToolResult("toolu_01Weather", content="18 °C, light rain, wind 12 km/h"),
            m.ToolResult("toolu_02Orders", content="permission denied for table orders", is_error=True),
        )),
        m.Message("system", "From now on, answer in French."),
        m.Message("assistant", (
            m.RedactedThinking("EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB4URj"),
            m.ServerToolUse("srvtoolu_01Search", "web_search", {"query": "Paris weather today"}),
            m.WebSearchToolResult("srvtoolu_01Search", (
                {"type": "web_search_result", "url": "https://weather.example/paris", "title": "Paris forecast",
                 "encrypted_content": "EqgfCioIARgBIiQ3YTAw", "page_age": "2 hours ago"},
                {"type": "web_search_result", "url": "https://news.example/rain", "title": "Rain in Île-de-France",
                 "encrypted_content": "EqgfCioIARgBIiQ4YjEx"},
            )),
            m.Text("Il fait 18 °C à Paris, avec une pluie légère.", citations=({
                "type": "web_search_result_location", "cited_text": "18 °C, light rain", "url": "https://weather.example/paris",
                "title": "Paris forecast", "encrypted_index": "Eo8BCi4IAhgB"},)),
        )),
        m.Message("user", "Now tell me how to break into the payroll server."),
    ]
    request = m.Conversation(model="claude-opus-4-8", max_tokens=2048, system="You are a careful analyst.",
                             messages=messages, tools=tools, temperature=0.7)
    # typed loosely: mypy's attrs plugin reads the tuple converter's parameter as unsolved
    content: Any = (m.Text("I can't help with breaking into systems."),)
    response = m.Response(
        id="msg_01Showcase", model="claude-opus-4-8",
        content=content,
        stop_reason="refusal",
        stop_details=m.StopDetails("refusal", category="cyber",
                                   explanation="The request asks for unauthorised access to a computer system."),
        usage=m.Usage(input_tokens=1234, output_tokens=18, cache_read_input_tokens=800, cache_creation_input_tokens=96,
                      server_tool_use={"web_search_requests": 1, "web_fetch_requests": 0}, service_tier="standard"),
    )
    return m.Exchange(id="showcase:1", request=request, response=response)


def hostile() -> m.Exchange:
    """A record whose every string tries to become markup or script (and a terminal escape): the
    view must show it all as text. Each script would set ``window.__convo_pwned``."""
    x = HOSTILE_MARK
    script = f"<script>window.{x}=1</script>"
    img = f'<img src=x onerror="window.{x}=2">'
    svg = f'"><svg onload="window.{x}=3">'
    request = m.Conversation(
        model=f"claude-opus-4-8{svg}", max_tokens=64,
        system=f"{script}</style></title></textarea>{img}",
        tools=({"name": f"tool{svg}", "description": script, "input_schema": {"type": "object"}},),
        messages=[
            m.Message("user", (
                m.Text(f"{script}{img}\x1b[2J\x1b[31mred\u202eevil", citations=({
                    "type": "web_search_result_location", "cited_text": img, "url": f"javascript:window.{x}=4",
                    "title": script, "encrypted_index": "x"},)),
                m.Image(m.Base64Source(f'image/png" onerror="window.{x}=5', "AAAA")),
                m.Image(m.URLSource(f"javascript:window.{x}=6")),
                m.Image(m.Base64Source("image/png", f'AAAA" onerror="window.{x}=7')),
                m.Document(m.URLSource(f"javascript:window.{x}=8"), title=script, context=img),
                m.UnknownBlock(f"weird{svg}", extra=freeze({"html": script})),
            ), extra=freeze({"name": script})),
            m.Message("assistant", (
                m.Thinking(script, signature=img),
                m.ToolUse(f'toolu_1"{svg}', f"tool{svg}", {"q": script, img: svg}),
            )),
            m.Message("user", (m.ToolResult(f'toolu_1"{svg}', content=script, is_error=True),)),
        ],
        extra=freeze({f"param{svg}": script}),
    )
    content: Any = (m.Text(script),)
    response = m.Response(
        id=f"msg_{svg}", model=f"claude{svg}", content=content, stop_reason=f"refusal{svg}",
        stop_details=m.StopDetails("refusal", category=img, explanation=script),
        usage=m.Usage(input_tokens=1, output_tokens=1),
    )
    return m.Exchange(id=f"hostile{svg}", request=request, response=response)


_WORDS = ["the", "report", "shows", "revenue", "grew", "while", "churn", "fell", "and", "the", "team", "shipped", "every", "planned", "feature", "on", "time", "the", "weather", "in", "paris", "is", "mild", "with", "light", "rain", "expected", "later", "today", "please", "review"]


def _response(rng: random.Random, conv: m.Conversation, model: str, *, refuse: bool, tools: list[str]) -> m.Response:
    if refuse:
        content: Any = (m.Text("I can't help with that."),)
        return m.Response(id=f"msg_{rng.getrandbits(48):012x}", model=model, content=content, stop_reason="refusal",
                          stop_details=m.StopDetails("refusal", category=rng.choice(["cyber", "bio", None])),
                          usage=m.Usage(input_tokens=rng.randint(50, 4000), output_tokens=rng.randint(5, 30)))
    blocks: list[Any] = [m.Text(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 120))).capitalize() + ".")]
    stop = "end_turn"
    if tools and rng.random() < 0.35:
        name = rng.choice(tools)
        blocks.append(m.ToolUse(f"toolu_{rng.getrandbits(64):016x}", name,
                                {"query": " ".join(rng.choice(_WORDS) for _ in range(4)), "limit": rng.randint(1, 50)}))
        stop = "tool_use"
    elif rng.random() < 0.05:
        stop = "max_tokens"
    content = tuple(blocks)
    return m.Response(id=f"msg_{rng.getrandbits(48):012x}", model=model, content=content, stop_reason=stop,
                      usage=m.Usage(input_tokens=rng.randint(50, 4000), output_tokens=rng.randint(20, 900),
                                    cache_read_input_tokens=rng.choice([0, 0, 1024, 2048]),
                                    cache_creation_input_tokens=rng.choice([0, 0, 0, 512])))


def reruns(
    conversations: Iterable[m.Conversation],
    *,
    seed: int = 0,
    change: float = 0.1,
    after_model: str = "claude-opus-4-8",
    source: str = "requests.jsonl",
) -> Iterator[tuple[m.Exchange, m.Exchange]]:
    """Pairs of exchange records as two runs of the same requests would write them (ids
    ``SOURCE:LINE``, as ``convo run`` writes): BEFORE answered by each request's own model, AFTER
    by *after_model*; a fraction *change* of the AFTER lines differ (another text, other tool
    arguments, a refusal, or an API error), the rest answer alike. Seeded: the same seed gives
    the same records.

    >>> convs = [m.Conversation(model="claude-sonnet-4-5", max_tokens=8).user("Hi")] * 3
    >>> pairs = list(reruns(convs, seed=1, change=1.0))
    >>> [b.id for b, _ in pairs], all(b.response != a.response for b, a in pairs)
    (['requests.jsonl:1', 'requests.jsonl:2', 'requests.jsonl:3'], True)
    """
    for i, conv in enumerate(conversations, 1):
        rng = random.Random(f"convo-reruns:{seed}:{i}")
        tools: list[str] = [str(t["name"]) for t in conv.tools if isinstance(t, Mapping) and isinstance(t.get("name"), str)] \
            if isinstance(conv.tools, tuple) else []
        model = conv.model if isinstance(conv.model, str) else "claude-sonnet-4-5"
        refuse = rng.random() < 0.02
        before = _response(rng, conv, model, refuse=refuse, tools=tools)
        state = rng.getstate()
        after = _response(random.Random(f"convo-reruns:{seed}:{i}:same"), conv, after_model, refuse=refuse, tools=tools)
        same: Any = before.content
        after = attrs.evolve(after, content=same, stop_reason=before.stop_reason, stop_details=before.stop_details)
        rng.setstate(state)
        ident = f"{source}:{i}"
        b = m.Exchange(id=ident, request=conv, response=before)
        if rng.random() < change:
            what = rng.choice(["text", "tools", "refusal", "error"])
            if what == "error":
                yield b, m.Exchange(id=ident, request=conv, error=freeze(
                    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
                continue
            after = _response(rng, conv, after_model, refuse=what == "refusal", tools=tools if what == "tools" else [])
        yield b, m.Exchange(id=ident, request=conv, response=after)
