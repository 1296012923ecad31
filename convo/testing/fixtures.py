"""Seeded conversation fixtures: ``convo fixtures`` and the logged-transcript corpus.

Reproducible by construction: conversation *i* of seed *S* is drawn from its own
``random.Random(f"convo-fixtures:{S}:{i}")`` (string seeds are hashed with SHA-512, stable across
Python versions and platforms), so the same seed gives the same bytes everywhere, and
``--count 10`` is the first ten lines of ``--count 1000``. Hypothesis is not used here: its draws
are not reproducible from a seed across versions, and fixture files are compared byte for byte.

:func:`conversations` makes conversations VALID for a model's profile under an API version
(user first, alternating, ending with a user turn unless the model takes prefill, non-empty text
in several scripts, real PNG images, tool_use / tool_result pairs with unique ids, thinking blocks
with signatures, sampling parameters only where accepted). ``invalid=RULE`` then breaks exactly
that rule with a small, named edit (:data:`BREAKERS`). :func:`logged_conversations` makes the
kind of transcript people have stored: written for older models, with prefill, temperature,
top_k, budget thinking, images and tool loops, which ``migrate`` has to clean up.
"""

from __future__ import annotations

import base64
import random
import string
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from convo import model as m
from convo._json import UNSET, freeze
from convo._samples import png, png_chunk
from convo.profiles import DEFAULT_API_VERSION, Profile, get_profile

__all__ = [
    "BREAKERS",
    "Draw",
    "FixtureError",
    "conversations",
    "logged_conversations",
    "png",
]


class FixtureError(ValueError):
    """Fixture options that cannot be met (e.g. breaking prefill on a model that accepts it)."""


# --------------------------------------------------------------------------- words in several scripts

def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_EN = _words(
    "the quick analysis shows that our data pipeline handles every request within budget while "
    "the model keeps context across long sessions customers asked about invoices shipping dates "
    "refund policy and the new dashboard please summarise explain compare draft review translate "
    "this report paragraph function query schedule meeting notes outline plan risk estimate "
    "error message stack trace config file deployment region latency throughput cache hit rate"
)
_FR = _words("le résumé de la réunion montre que l'équipe a déjà livré les fonctionnalités prévues pour été")
_DE = _words("die Größe der Übersetzung hängt von der Länge des ursprünglichen Textes ab und wird geprüft")
_ES = _words("el señor pidió información sobre la facturación del próximo año y las condiciones")
_RU = _words("пожалуйста объясните почему этот запрос занимает так много времени на сервере")
_ZH = ("请帮我", "总结", "这份", "报告", "的", "主要", "内容", "并且", "列出", "三个", "关键", "问题", "谢谢")
_JA = ("この", "文章", "を", "英語", "に", "翻訳", "して", "ください", "会議", "の", "議事録", "です")
_AR = _words("من فضلك لخص هذا التقرير واذكر أهم النقاط التي يجب مراجعتها")
_HE = _words("אנא סכם את המסמך הזה ותן שלוש המלצות עיקריות")
_HI = _words("कृपया इस रिपोर्ट का सारांश दीजिए और मुख्य बिंदु बताइए")
_EMOJI = ("🙂", "🚀", "📈", "✅", "🤔", "🎉", "🔧", "📄")

_SCRIPTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (_EN, " "),
    (_EN, " "),
    (_EN, " "),
    (_FR, " "),
    (_DE, " "),
    (_ES, " "),
    (_RU, " "),
    (_ZH, ""),
    (_JA, ""),
    (_AR, " "),
    (_HE, " "),
    (_HI, " "),
)

_CODE = (
    "```python\ndef total(items):\n    return sum(i.price * i.qty for i in items)\n```",
    "```sql\nSELECT region, count(*) FROM orders GROUP BY region ORDER BY 2 DESC;\n```",
    "```bash\ncurl -s https://example.com/health | jq .status\n```",
)

_TOOLS: tuple[dict[str, Any], ...] = (
    {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
    {
        "name": "search_orders",
        "description": "Search the order database by customer and status.",
        "input_schema": {
            "type": "object",
            "properties": {"customer": {"type": "string"}, "status": {"type": "string"}},
            "required": ["customer"],
        },
    },
    {
        "name": "run_sql",
        "description": "Run a read-only SQL query and return the rows.",
        "input_schema": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    },
)
_CITIES = ("Paris", "東京", "São Paulo", "Zürich", "Reykjavík", "Nairobi", "Montréal")
_ALNUM = string.ascii_letters + string.digits


class Draw:
    """Seeded draws of realistic pieces: sentences, images, tool ids, signatures, tools.

    >>> d = Draw(random.Random(1))
    >>> d.tool_id().startswith("toolu_01"), len(d.tool_id())
    (True, 32)
    """

    def __init__(self, rng: random.Random, *, image_px: int = 48, image_noise: int = 0) -> None:
        self.rng = rng
        self.image_px = image_px
        self.image_noise = image_noise

    def sentence(self, *, words: tuple[int, int] = (5, 14)) -> str:
        """One sentence in a randomly chosen script (English most often)."""
        rng = self.rng
        pool, sep = rng.choice(_SCRIPTS)
        n = rng.randint(*words)
        text = sep.join(rng.choice(pool) for _ in range(n))
        if sep and pool is _EN:
            text = text[0].upper() + text[1:]
        end = rng.choice(("." if sep else "。", "?", "!", "")) if pool is not _EN else rng.choice(".?")
        if rng.random() < 0.08:
            text += " " + rng.choice(_EMOJI)
        return text + end

    def text(self, *, sentences: tuple[int, int] = (1, 4), code: float = 0.0) -> str:
        """A few sentences; sometimes a code block (*code* is its probability)."""
        parts = [self.sentence() for _ in range(self.rng.randint(*sentences))]
        if code and self.rng.random() < code:
            parts.append(self.rng.choice(_CODE))
        return " ".join(parts).strip()

    def png_bytes(self, *, px: int | None = None) -> bytes:
        """A small real PNG (noisy pixels when the draw was made with ``image_noise``)."""
        rng = self.rng
        top = px or self.image_px
        w, h = rng.randint(1, top), rng.randint(1, top)
        noise = rng.randbytes(self.image_noise) if self.image_noise else b""
        return png(w, h, (rng.randrange(256), rng.randrange(256), rng.randrange(256)), noise)

    def image(self) -> m.Image:
        """An inline PNG image block."""
        data = self.png_bytes()
        return m.Image(m.Base64Source("image/png", base64.b64encode(data).decode("ascii")))

    def tool_id(self) -> str:
        """A tool_use id in the API's style (``toolu_01`` + 24 characters)."""
        return "toolu_01" + "".join(self.rng.choice(_ALNUM) for _ in range(24))

    def signature(self) -> str:
        """An opaque thinking signature (base64, as the API returns)."""
        return base64.b64encode(self.rng.randbytes(self.rng.randint(96, 256))).decode("ascii")

    def thinking(self) -> m.Thinking:
        """A thinking block with a signature."""
        return m.Thinking(self.text(sentences=(1, 3)), self.signature())

    def tools(self) -> tuple[dict[str, Any], ...]:
        """One to three tool definitions."""
        k = self.rng.randint(1, len(_TOOLS))
        return tuple(self.rng.sample(_TOOLS, k))

    def tool_input(self, tool: dict[str, Any]) -> dict[str, Any]:
        """Arguments for *tool*."""
        name = tool["name"]
        rng = self.rng
        if name == "get_weather":
            return {"city": rng.choice(_CITIES), "unit": rng.choice("cf")}
        if name == "search_orders":
            return {"customer": f"cus_{rng.randrange(10**6):06d}", "status": rng.choice(("open", "shipped"))}
        # a made-up query for a made-up tool: text in a fixture, never run
        return {"query": f"SELECT * FROM orders WHERE id = {rng.randrange(10**5)}"}  # noqa: S608

    def tool_output(self, tool: dict[str, Any]) -> str:
        """What the tool returned, as text."""
        name = tool["name"]
        rng = self.rng
        if name == "get_weather":
            return f'{{"temp": {rng.randint(-10, 35)}, "conditions": "{rng.choice(("sunny", "rain", "fog"))}"}}'
        if name == "search_orders":
            return f"{rng.randint(0, 9)} orders found"
        return f"[{{\"id\": {rng.randrange(10**5)}, \"total\": {rng.randint(1, 999)}.{rng.randint(0, 99):02d}}}]"


# --------------------------------------------------------------------------- valid conversations


def _thinking_param(draw: Draw, profile: Profile, max_tokens: int) -> dict[str, Any] | None:
    modes = profile.thinking_modes
    if "adaptive" in modes:
        return {"type": "adaptive"}
    if "enabled" in modes and max_tokens > 2048:
        return {"type": "enabled", "budget_tokens": draw.rng.randrange(1024, max_tokens // 2)}
    return None


def _turns(
    draw: Draw,
    *,
    n_user: int,
    images: bool,
    tools: tuple[dict[str, Any], ...],
    thinking: bool,
    image_rate: float = 0.35,
    tool_rate: float = 0.5,
    code_rate: float = 0.15,
) -> list[m.Message]:
    """Alternating user/assistant turns ending with a user turn (``2 * n_user - 1`` messages,
    plus tool loops: an assistant tool_use turn answered by a user tool_result turn)."""
    rng = draw.rng
    msgs: list[m.Message] = []
    for i in range(n_user):
        # a user turn: text, sometimes with images
        if images and rng.random() < image_rate:
            blocks: list[m.Block] = [draw.image() for _ in range(rng.randint(1, 2))]
            blocks.append(m.Text(draw.text()))
            msgs.append(m.Message("user", tuple(blocks)))
        else:
            msgs.append(m.Message("user", draw.text()))
        if i == n_user - 1:
            break
        # the assistant's answer, maybe after a tool loop
        if tools and rng.random() < tool_rate:
            tool = rng.choice(tools)
            tid = draw.tool_id()
            call: list[m.Block] = [draw.thinking()] if thinking else []
            if rng.random() < 0.6:
                call.append(m.Text(draw.text(sentences=(1, 1))))
            call.append(m.ToolUse(tid, tool["name"], draw.tool_input(tool)))
            msgs.append(m.Message("assistant", tuple(call)))
            result: list[m.Block] = [
                m.ToolResult(tid, content=draw.tool_output(tool), is_error=UNSET)
                if rng.random() < 0.9
                else m.ToolResult(tid, content="tool timed out", is_error=True)
            ]
            msgs.append(m.Message("user", tuple(result)))
        answer = draw.text(sentences=(1, 5), code=code_rate)
        if thinking:
            msgs.append(m.Message("assistant", (draw.thinking(), m.Text(answer))))
        else:
            msgs.append(m.Message("assistant", answer))
    return msgs


def _valid(
    i: int,
    seed: int | str,
    *,
    profile: Profile,
    model: str,
    api_version: str,
    images: bool,
    tools: bool,
    thinking: bool,
    max_turns: int,
) -> m.Conversation:
    rng = random.Random(f"convo-fixtures:{seed}:{i}")
    draw = Draw(rng)
    max_tokens = min(rng.choice((512, 1024, 2048, 4096, 8192)), profile.max_output)
    think = _thinking_param(draw, profile, max_tokens) if thinking else None
    tool_defs = draw.tools() if tools else ()
    n_user = rng.randint(1, max(1, (max_turns + 1) // 2))
    msgs = _turns(draw, n_user=n_user, images=images, tools=tool_defs, thinking=think is not None)
    params: dict[str, Any] = {}
    if rng.random() < 0.5:
        params["system"] = draw.text(sentences=(1, 2))
    if tool_defs:
        params["tools"] = freeze(list(tool_defs))
    if think is not None:
        params["thinking"] = freeze(think)
    if api_version == "2023-06-01" and profile.sampling == "any" and think is None and rng.random() < 0.3:
        params["temperature"] = round(rng.random(), 2)
    if profile.prefill and think is None and rng.random() < 0.2:
        msgs.append(m.Message("assistant", draw.sentence(words=(2, 5)).rstrip(".?!。 ")))
    elif (
        profile.mid_conversation_system
        and len(msgs) >= 3
        and rng.random() < 0.2
        and not any(isinstance(b, m.ToolUse) for b in msgs[-2].blocks)
    ):
        # after a user turn and before an assistant one: the placement the API accepts (§1.5)
        at = len(msgs) - 2
        msgs.insert(at, m.Message("system", "From now on, answer in at most two sentences."))
    if rng.random() < 0.2:
        params["metadata"] = freeze({"user_id": f"user-{rng.randrange(10**8):08d}"})
    return m.Conversation(model=model, max_tokens=max_tokens, messages=tuple(msgs), **params)


def conversations(
    count: int,
    seed: int | str,
    *,
    model: str = "claude-opus-4-8",
    api_version: str = DEFAULT_API_VERSION,
    images: bool = False,
    tools: bool = False,
    thinking: bool = False,
    invalid: str | None = None,
    max_turns: int = 12,
) -> Iterator[m.Conversation]:
    """*count* conversations valid for *model* under *api_version* (or breaking *invalid*).

    >>> convs = list(conversations(3, seed=7, tools=True))
    >>> [c.model for c in convs], convs == list(conversations(3, seed=7, tools=True))
    (['claude-opus-4-8', 'claude-opus-4-8', 'claude-opus-4-8'], True)
    """
    if count < 0:
        raise FixtureError("count must be >= 0")
    breaker = None
    if invalid is not None:
        breaker = BREAKERS.get(invalid)
        if breaker is None:
            raise FixtureError(
                f"unknown rule {invalid!r}; rules fixtures can break: {', '.join(sorted(BREAKERS))}"
            )
    profile = get_profile(model)
    if breaker is not None and count:
        # fail now, not after the output was opened, when the rule cannot be broken here
        probe = _valid(0, seed, profile=profile, model=model, api_version=api_version, images=images,
                       tools=tools, thinking=thinking, max_turns=max_turns)
        breaker(probe, Draw(random.Random(f"convo-fixtures:{seed}:0:break")), profile, api_version)
    return _generate(count, seed, profile, model, api_version, images, tools, thinking, max_turns, breaker)


def _generate(
    count: int, seed: int | str, profile: Profile, model: str, api_version: str, images: bool,
    tools: bool, thinking: bool, max_turns: int, breaker: Breaker | None,
) -> Iterator[m.Conversation]:
    for i in range(count):
        conv = _valid(
            i, seed, profile=profile, model=model, api_version=api_version, images=images,
            tools=tools, thinking=thinking, max_turns=max_turns,
        )
        if breaker is not None:
            rng = random.Random(f"convo-fixtures:{seed}:{i}:break")
            conv = breaker(conv, Draw(rng), profile, api_version)
        yield conv


# --------------------------------------------------------------------------- breaking one rule

Breaker = Callable[[m.Conversation, Draw, Profile, str], m.Conversation]
BREAKERS: dict[str, Breaker] = {}
"""Rule id -> an edit that breaks that rule on a valid conversation."""


def _breaks(rule: str) -> Callable[[Breaker], Breaker]:
    def deco(fn: Breaker) -> Breaker:
        BREAKERS[rule] = fn
        return fn

    return deco


def _ev(conv: m.Conversation, **changes: Any) -> m.Conversation:
    return attrs.evolve(conv, **changes)


def _msgs(conv: m.Conversation, *extra: m.Message) -> tuple[m.Message, ...]:
    return (*conv.messages, *extra)


def _need(cond: bool, rule: str, why: str) -> None:
    if not cond:
        raise FixtureError(f"cannot break {rule}: {why}")


def _ending_user(conv: m.Conversation) -> m.Conversation:
    """*conv* without a final assistant turn (a prefill), so edits can append freely."""
    msgs = conv.messages
    while msgs and msgs[-1].role != "user":
        msgs = msgs[:-1]
    return _ev(conv, messages=msgs)


@_breaks("request.model-missing")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, model=UNSET)


@_breaks("request.max-tokens-missing")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, max_tokens=UNSET)


@_breaks("request.max-tokens-range")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, max_tokens=p.max_output + d.rng.randint(1, 1000))


@_breaks("messages.empty")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, messages=())


@_breaks("messages.too-many")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    pair = (m.Message("user", "ok"), m.Message("assistant", "ok"))
    return _ev(conv, messages=pair * 50_000 + (m.Message("user", "ok"),))


@_breaks("message.role")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    return _ev(conv, messages=_msgs(conv, m.Message("tool", d.text(sentences=(1, 1)))))


@_breaks("messages.first-role")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, messages=(m.Message("assistant", "Hello! How can I help?"), *conv.messages))


@_breaks("message.empty-content")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    empty = (m.Message("assistant", ""), m.Message("user", d.text()))
    return _ev(conv, messages=_msgs(conv, *empty))


@_breaks("text.empty")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    last = conv.messages[-1]
    new = last.with_blocks((*last.blocks, m.Text("")))
    return _ev(conv, messages=(*conv.messages[:-1], new))


@_breaks("text.whitespace-only")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Noted."), m.Message("user", "  \n ")))


@_breaks("roles.consecutive")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    return _ev(conv, messages=_msgs(conv, m.Message("user", d.text())))


@_breaks("prefill.unsupported")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    _need(not p.prefill, "prefill.unsupported", f"{p.model} accepts prefill")
    conv = _ending_user(conv)
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Here is")))


@_breaks("prefill.trailing-whitespace")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Here is the answer: ")))


@_breaks("prefill.with-thinking")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    mode = "adaptive" if "adaptive" in p.thinking_modes else "enabled"
    think = {"type": "adaptive"} if mode == "adaptive" else {"type": "enabled", "budget_tokens": 1024}
    max_tokens = conv.max_tokens if isinstance(conv.max_tokens, int) else 4096
    return _ev(
        conv,
        thinking=freeze(think),
        max_tokens=max(max_tokens, 4096) if mode == "enabled" else max_tokens,
        messages=_msgs(conv, m.Message("assistant", "Here is")),
    )


@_breaks("prefill.with-json-output")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    fmt = {"format": {"type": "json_schema", "schema": {"type": "object", "properties": {}}}}
    return _ev(conv, output_config=freeze(fmt), messages=_msgs(conv, m.Message("assistant", "{")))


_SYS = m.Message("system", "Answer in one sentence.")


@_breaks("system-message.unsupported-model")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    _need(not p.mid_conversation_system, "system-message.unsupported-model",
          f"{p.model} accepts mid-conversation system messages")
    conv = _ending_user(conv)
    return _ev(conv, messages=_msgs(conv, _SYS))


@_breaks("system-message.first")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, messages=(_SYS, *conv.messages))


@_breaks("system-message.not-after-user")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Sure."), _SYS))


@_breaks("system-message.followed-by-user")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    return _ev(conv, messages=_msgs(conv, _SYS, m.Message("user", d.text())))


def _tool_turns(d: Draw, tid: str) -> tuple[m.Message, m.Message]:
    tool = _TOOLS[0]
    call = m.Message("assistant", (m.ToolUse(tid, tool["name"], d.tool_input(tool)),))
    result = m.Message("user", (m.ToolResult(tid, content=d.tool_output(tool)),))
    return call, result


def _with_tools(conv: m.Conversation) -> m.Conversation:
    if conv.tools is UNSET:
        return _ev(conv, tools=freeze([_TOOLS[0]]))
    names = {t.get("name") for t in conv.tools}
    if _TOOLS[0]["name"] in names:
        return conv
    return _ev(conv, tools=(*conv.tools, freeze(_TOOLS[0])))


@_breaks("system-message.between-tool-use")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _with_tools(_ending_user(conv))
    call, result = _tool_turns(d, d.tool_id())
    return _ev(conv, messages=_msgs(conv, call, _SYS, result))


@_breaks("tool-use.missing-result")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _with_tools(_ending_user(conv))
    call, _result = _tool_turns(d, d.tool_id())
    return _ev(conv, messages=_msgs(conv, call, m.Message("user", d.text())))


@_breaks("tool-result.orphan")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _with_tools(_ending_user(conv))
    _call, result = _tool_turns(d, d.tool_id())
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Let me check."), result))


@_breaks("tool-result.not-first")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _with_tools(_ending_user(conv))
    call, result = _tool_turns(d, d.tool_id())
    swapped = result.with_blocks((m.Text("Here is the result."), *result.blocks))
    return _ev(conv, messages=_msgs(conv, call, swapped))


@_breaks("tool-use.duplicate-id")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _with_tools(_ending_user(conv))
    tid = d.tool_id()
    call1, result1 = _tool_turns(d, tid)
    call2, result2 = _tool_turns(d, tid)
    return _ev(conv, messages=_msgs(conv, call1, result1, call2, result2))


@_breaks("tools.name")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    bad = {"name": "get weather!", "description": "A tool with a name the API refuses.",
           "input_schema": {"type": "object", "properties": {}}}
    tools = conv.tools if conv.tools is not UNSET else ()
    return _ev(conv, tools=(*tools, freeze(bad)))


_SAMPLING_GONE = "API 2026-10-21 removed sampling parameters (that is sampling.removed)"


@_breaks("sampling.unsupported")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    _need(v == "2023-06-01", "sampling.unsupported", _SAMPLING_GONE)
    _need(p.sampling == "default_only", "sampling.unsupported", f"{p.model} accepts any sampling value")
    return _ev(conv, temperature=0.5, thinking=UNSET)


@_breaks("sampling.removed")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    _need(v != "2023-06-01", "sampling.removed", "sampling parameters were removed in API 2026-10-21")
    return _ev(conv, temperature=1.0)


@_breaks("sampling.range")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    _need(v == "2023-06-01", "sampling.range", _SAMPLING_GONE)
    return _ev(conv, temperature=1.5, thinking=UNSET)


@_breaks("sampling.with-thinking")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    _need(v == "2023-06-01", "sampling.with-thinking", _SAMPLING_GONE)
    _need(p.sampling == "any", "sampling.with-thinking",
          f"{p.model} refuses any top_k (that is sampling.unsupported)")
    _need("enabled" in p.thinking_modes or "adaptive" in p.thinking_modes,
          "sampling.with-thinking", f"{p.model} has no thinking")
    mode = "adaptive" if "adaptive" in p.thinking_modes else "enabled"
    think = {"type": "adaptive"} if mode == "adaptive" else {"type": "enabled", "budget_tokens": 1024}
    max_tokens = conv.max_tokens if isinstance(conv.max_tokens, int) else 4096
    return _ev(conv, thinking=freeze(think), max_tokens=max(max_tokens, 4096), top_k=10)


@_breaks("thinking.unsupported-mode")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    missing = [mode for mode in ("enabled", "adaptive", "disabled") if mode not in p.thinking_modes]
    _need(bool(missing), "thinking.unsupported-mode", f"{p.model} accepts every thinking mode")
    mode = missing[0]
    think: dict[str, Any] = {"type": mode}
    max_tokens = conv.max_tokens if isinstance(conv.max_tokens, int) else 4096
    if mode == "enabled":
        think["budget_tokens"] = 1024
        max_tokens = max(max_tokens, 4096)
    return _ev(conv, thinking=freeze(think), max_tokens=max_tokens)


@_breaks("thinking.budget")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, thinking=freeze({"type": "enabled", "budget_tokens": 100}))


@_breaks("tool-choice.forced-unsupported")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _with_tools(conv)
    if p.forced_tool_choice:
        # refused with extended (enabled) thinking (DOC); with adaptive thinking it is accepted
        # (LIVE, facts §11), so a model without enabled thinking cannot show the rule
        _need("enabled" in p.thinking_modes, "tool-choice.forced-unsupported",
              f"{p.model} forces tool use, and has no extended (enabled) thinking")
        think = {"type": "enabled", "budget_tokens": 1024}
        max_tokens = conv.max_tokens if isinstance(conv.max_tokens, int) else 4096
        conv = _ev(conv, thinking=freeze(think), max_tokens=max(max_tokens, 4096))
    return _ev(conv, tool_choice=freeze({"type": "any"}))


@_breaks("effort.unsupported")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    missing = [e for e in ("max", "xhigh", "low", "medium", "high") if e not in p.effort_levels]
    effort = missing[0] if missing else "extreme"
    return _ev(conv, output_config=freeze({"effort": effort}))


# issue 12: the closed world and the API's checks of names, ids and bytes


@_breaks("schema.unknown-key")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, extra=freeze({**conv.extra, "stop_sequence": ["END"]}))  # a typo


@_breaks("schema.beta-only")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, extra=freeze({**conv.extra, "context_management": {"edits": []}}))


@_breaks("schema.unknown-type")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, tool_choice=freeze({"type": "required"}))  # another API's word


@_breaks("schema.wrong-type")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, metadata=freeze({"user_id": 42}))


@_breaks("schema.missing-key")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    tools = conv.tools if conv.tools is not UNSET else ()
    return _ev(conv, tools=(*tools, freeze({"name": "lookup", "description": "no input_schema"})))


@_breaks("tools.duplicate-name")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _with_tools(conv)
    tools = conv.tools
    assert tools is not UNSET  # _with_tools adds one
    return _ev(conv, tools=(*tools, tools[0]))


@_breaks("tool-choice.unknown-tool")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    _need(p.forced_tool_choice, "tool-choice.unknown-tool", f"{p.model} cannot force tool use")
    conv = _with_tools(conv)
    return _ev(conv, tool_choice=freeze({"type": "tool", "name": "no_such_tool"}), thinking=UNSET)


@_breaks("base64.invalid")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    bad = m.Image(m.Base64Source("image/png", "iVBORw0KGgo!not base64"))
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Send it."), _image_message([bad])))


@_breaks("document.media-type")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    fake = m.Document(m.Base64Source("application/pdf", base64.b64encode(png(4, 4)).decode("ascii")))
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Send it."),
                                    m.Message("user", (fake, m.Text("Summarise it.")))))


def _image_message(images: list[m.Image]) -> m.Message:
    return m.Message("user", (*images, m.Text("What do these show?")))


@_breaks("image.media-type")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    img = d.image()
    assert isinstance(img.source, m.Base64Source)
    bad = attrs.evolve(img, source=attrs.evolve(img.source, media_type="image/bmp"))
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Send it."), _image_message([bad])))


@_breaks("image.too-many")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    tiny = m.Image(m.Base64Source("image/png", base64.b64encode(png(1, 1)).decode("ascii")))
    many = [tiny] * (p.max_images + 1)
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Send them."), _image_message(many)))


@_breaks("image.too-large")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    # a real PNG padded with an ancillary chunk, so the base64 is just over the limit
    body = png(8, 8)
    pad = p.max_image_bytes * 3 // 4 + 16
    extra = png_chunk(b"tEXt", b"\0" * pad)
    data = body[:-12] + extra + body[-12:]
    big = m.Image(m.Base64Source("image/png", base64.b64encode(data).decode("ascii")))
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Send it."), _image_message([big])))


@_breaks("image.dimensions")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    wide = m.Image(m.Base64Source("image/png", base64.b64encode(png(p.max_image_px + 1, 1)).decode("ascii")))
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Send it."), _image_message([wide])))


def _cached(text: str, ttl: str | None = None) -> m.Text:
    cc: dict[str, Any] = {"type": "ephemeral"}
    if ttl:
        cc["ttl"] = ttl
    return m.Text(text, cache_control=freeze(cc))


@_breaks("cache-control.too-many")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    blocks = tuple(_cached(d.sentence()) for _ in range(5))
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Go on."), m.Message("user", blocks)))


@_breaks("cache-control.ttl-order")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    conv = _ending_user(conv)
    blocks = (_cached(d.sentence(), "5m"), _cached(d.sentence(), "1h"))
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Go on."), m.Message("user", blocks)))


@_breaks("document.in-assistant")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    _need(v != "2023-06-01", "document.in-assistant", "API 2023-06-01 accepts it")
    conv = _ending_user(conv)
    doc = m.Document(m.TextSource(d.text()))
    reply = m.Message("assistant", (m.Text("Here is the file."), doc))
    return _ev(conv, messages=_msgs(conv, reply, m.Message("user", "Thanks, now summarise it.")))


@_breaks("citations.in-user")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    _need(v != "2023-06-01", "citations.in-user", "API 2023-06-01 accepts it")
    conv = _ending_user(conv)
    cite = {"type": "char_location", "cited_text": "the quick", "document_index": 0,
            "document_title": None, "start_char_index": 0, "end_char_index": 9}
    quoted = m.Text("As the report says, the quick analysis holds.", citations=freeze([cite]))
    return _ev(conv, messages=_msgs(conv, m.Message("assistant", "Go on."), m.Message("user", (quoted,))))


@_breaks("model.unknown")
def _(conv: m.Conversation, d: Draw, p: Profile, v: str) -> m.Conversation:
    return _ev(conv, model="claude-nonexistent-9-9")


# --------------------------------------------------------------------------- logged transcripts

LEGACY_MODELS = (
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",
    "claude-3-7-sonnet-20250219",
    "claude-opus-4-5",
    "claude-opus-4-5-20251101",
    "claude-haiku-4-5-20251001",
)


def logged_conversations(
    count: int,
    seed: int | str,
    *,
    min_turns: int = 2,
    max_turns: int = 12,
    image_px: int = 32,
    image_noise: int = 0,
) -> Iterator[m.Conversation]:
    """Transcripts as logged for older models: prefill, temperature / top_k, budget thinking,
    base64 images, tool loops, system prompts (each valid for its own model under 2023-06-01).

    >>> convs = list(logged_conversations(50, seed=1))
    >>> sorted({c.model for c in convs})[:2]
    ['claude-3-7-sonnet-20250219', 'claude-haiku-4-5-20251001']
    >>> any(c.temperature is not UNSET for c in convs), any(c.messages[-1].role == "assistant" for c in convs)
    (True, True)
    """
    for i in range(count):
        rng = random.Random(f"convo-logged:{seed}:{i}")
        draw = Draw(rng, image_px=image_px, image_noise=image_noise)
        model = rng.choice(LEGACY_MODELS)
        max_tokens = rng.choice((1024, 2048, 4096, 8192))
        thinking = rng.random() < 0.25
        tool_defs = draw.tools() if rng.random() < 0.35 else ()
        images = rng.random() < 0.35
        lo = max(1, (min_turns + 1) // 2)
        n_user = rng.randint(lo, max(lo, (max_turns + 1) // 2))
        msgs = _turns(draw, n_user=n_user, images=images, tools=tool_defs, thinking=thinking)
        params: dict[str, Any] = {}
        if rng.random() < 0.6:
            params["system"] = draw.text(sentences=(1, 3))
        if tool_defs:
            params["tools"] = freeze(list(tool_defs))
        if thinking:
            params["thinking"] = freeze({"type": "enabled", "budget_tokens": rng.randrange(1024, max_tokens // 2 + 1024)})
            max_tokens = max(max_tokens, params["thinking"]["budget_tokens"] + 1024)
        else:
            if rng.random() < 0.55:
                params["temperature"] = round(rng.random(), 2)
            if rng.random() < 0.2:
                params["top_k"] = rng.choice((5, 10, 40, 100))
            if rng.random() < 0.1:
                params["top_p"] = rng.choice((0.8, 0.9, 0.95))
            if rng.random() < 0.25:
                # prefill: the logged request ended with the start of the assistant's answer
                msgs.append(m.Message("assistant", rng.choice(("{", "Here is", "<answer>", "Sure"))))
        if rng.random() < 0.15:
            params["stop_sequences"] = ("</answer>",)
        if rng.random() < 0.3:
            params["metadata"] = freeze({"user_id": f"user-{rng.randrange(10**8):08d}"})
        yield m.Conversation(model=model, max_tokens=max_tokens, messages=tuple(msgs), **params)
