"""Codec benchmark: convo against raw orjson (the floor) and against its peers, on one seeded corpus.

Run: ``python benchmarks/codec.py [--count N] [--seed S] [--repeat R] [--quick]``. Prints a table.

The corpus is realistic Messages API requests, one JSON line each: 2 to 40 turns; text in Latin,
Cyrillic, Greek, Arabic, Hebrew, CJK, Devanagari scripts and emoji; base64 images; tool_use /
tool_result pairs with tool definitions; thinking blocks with signatures (and some redacted
thinking); cache_control breakpoints; system prompts as strings or blocks; metadata and sampling
parameters; a few unknown keys (as a newer API version would send).

Every row does the same work on the same bytes, in the same run:

- **load**: bytes -> the library's objects; **dump**: objects -> bytes; **load+dump** both;
  **load+3 edits+dump**: load, drop images, strip thinking (all but the latest assistant turn),
  add a system instruction, dump.
- **raw orjson**: ``orjson.loads`` / ``orjson.dumps`` on plain dicts, with the three edits done
  on the dicts by hand. The floor: every ratio is (row's throughput) / (raw orjson's throughput).
- **convo**: ``convo.loads`` / ``convo.dumps`` and the transforms ``drop_images()``,
  ``strip_thinking()``, ``inject_system("...", where="top")``.
- **anthropic SDK**: the SDK's request type ``MessageCreateParamsNonStreaming`` (a TypedDict)
  through ``pydantic.TypeAdapter``: ``orjson.loads`` then ``validate_python`` (its ``Iterable``
  fields come back as lazy iterators, which are walked into lists so that the data can be used;
  ``validate_json`` is not usable here: it turns string content into iterators of characters)
  and ``dump_json``; edits on the validated dicts.
- **langchain-core**: ``orjson.loads`` then ``convert_to_messages`` (the system prompt becomes a
  ``SystemMessage``, the other request fields stay a dict); dump converts the messages back to
  role/content dicts and calls ``orjson.dumps``; edits on the message objects.

"fields lost" runs each row's load+dump over the corpus and counts the JSON keys (at any depth)
that are missing or changed in the output, against the input.

- **msgspec Structs**: a frozen Struct per block type (a tagged union on ``"type"``), ``Decoder``
  / ``Encoder``, edits with ``msgspec.structs.replace``; it drops keys it does not model.
- **convo before** (``--before DIR``): an older convo, in the same run (see :class:`ConvoBefore`).

Each cell is the median of ``--repeat`` rounds (CPU time; rounds interleave the rows). Bytecode:
the script says whether convo's is compiled (``python -m compileall -q convo`` first).

Figures, issue 14 (2026-12-07, 2-core machine, Python 3.11.7, orjson 3.13.0, 12,000 requests,
410 MB, medians of 5, ``--quick --before`` main at 46e1d1c; load average 4-8, the test suite
running beside it), ratios to raw orjson in the same run:

    row              load   dump   load+dump   load+3 edits+dump
    convo before     0.43   0.42   0.48        0.42
    convo (lazy)     0.45   0.52   0.56        0.49
    msgspec Structs  0.86   0.64   0.92        0.76

Lazy turns pay off on dump (untouched turns are written from their parsed JSON) and in edits
(turns without images or thinking are never built); on load the structural check that keeps
shape errors on load costs nearly what building the small blocks cost (~1 µs per block either
way on this machine), so load barely moves. The issue's goal (≥ 0.80 edits, ≥ 0.85 load+dump)
is not reached.

Figures, issue 14 second pass (2026-12-07 10:07-10:15, same machine and corpus, ``--quick
--before`` c41441b built as ConvoBefore says; load average 5-7, other suites running):

    row              load   dump   load+dump   load+3 edits+dump
    convo before     0.49   0.63   0.60        0.58
    convo (lazy)     0.53   0.93   0.67        0.66
    msgspec Structs  0.82   0.60   0.80        0.87

Figures, issue 14 third pass (2026-12-07 12:06-12:27, same machine, 12,000 requests, ``--quick
--before`` ba0a44d; the lazy check in C): three runs, load 2.2-2.6, 0.5-1.0, 0.5-1.1:

    row              load              dump              load+dump         load+3 edits+dump
    convo before     0.65, 0.62, 0.66  0.89, 0.90, 0.80  0.63, 0.73, 0.68  0.51, 0.63, 0.65
    convo (C check)  0.79, 0.83, 0.95  0.88, 0.95, 0.94  0.60, 0.81, 0.67  0.69, 0.73, 0.75
    msgspec Structs  0.78, 0.81, 0.88  0.59, 0.50, 0.53  0.74, 0.87, 0.74  0.67, 0.72, 0.75

The load+dump column swings most between runs (convo's load and dump alone imply 0.81-0.91 in
each); a direct loop in one process shows load + dump additive, so it is the machine, not a
cost that appears only when the two run together.

and again at 10:32-10:36, load average ~1:

    convo before     0.52   0.62   0.56        0.55
    convo (lazy)     0.61   0.95   0.67        0.68
    msgspec Structs  0.84   0.59   0.79        0.81

Per line (CPU µs, 2,000 of these requests, before and after in one run, medians of 5, load
~0.8; parse 51-53 and serialise 34-35 alike): building 46.6 -> 35.3 (the turns are checked, not
built; ~16 of it is that check, a Python loop over 21 turns and 23 blocks, ~12 the request's
other fields), transforms 27.9 -> 17.6 (turns edited as parsed JSON), back to dicts 13.7 -> 3.5
(11.3 -> 2.1 untouched). What is left is the check: a
bare Python loop over the same turns and blocks costs ~5-8 µs, so the next step is a check done
in C while parsing (as msgspec's typed decoding does, 0.82x on load here), not more Python.

Figures, issue 14 fourth pass (2026-12-07 14:41-15:25, same machine, 12,000 requests, ``--quick
--before`` 481d1ea with its C check built beside it (``gcc -shared -fPIC -O3`` of its
``_lazycheck.c`` into ``/tmp/b/convo_base/codec``, else it runs the Python check), ``--repeat 7``;
slot copying in C, fast request hooks): two runs, load 1.6 and 1.2:

    row              load        dump        load+dump   load+3 edits+dump
    convo before     0.67, 0.96  0.87, 0.91  0.83, 0.53  0.82, 0.78
    convo            0.71, 0.85  1.01, 0.96  0.90, 0.64  0.91, 0.89
    msgspec Structs  0.80, 1.17  0.59, 0.60  0.72, 0.75  0.86, 0.70

(msgspec's 1.17 on load, above orjson itself, shows how far one cell can swing.) The same work
counted in instructions (callgrind, which does not swing), on 200 of the CLI benchmark's lines:
see the README's Performance table.

Figures, issue 14 fifth pass (2026-12-07 20:05-20:20, same machine, 12,000 requests, ``--quick
--repeat 7``, the code of the fourth pass but for ``freeze()``'s early return and one parse a
line): two runs, load 0.5 and 0.1:

    row              load        dump        load+dump   load+3 edits+dump
    convo            0.85, 0.87  0.99, 0.91  0.80, 0.86  0.87, 0.85
    msgspec Structs  0.83, 1.05  0.61, 0.72  0.91, 0.93  0.76, 0.85

Figures, issue 14 last pass (2026-12-08, a quiet 2-core machine, 12,000 requests, ``--quick
--repeat 7``; three runs at load 0.5, 0.6 and 0.9, the first at 9c594f3, the others with
drop_images on parsed turns in C):

    row              load              dump              load+dump         load+3 edits+dump
    convo            0.84, 0.82, 0.84  0.94, 0.95, 0.91  0.87, 0.88, 0.88  0.87, 0.90, 0.90
    msgspec Structs  0.83, 0.84, 0.84  0.63, 0.63, 0.59  0.77, 0.79, 0.79  0.81, 0.80, 0.81

The dump of an untouched request is 0.95-0.97x where its keys are in convo's order; three in
four of this corpus's requests are not, and are written in convo's order, and orjson itself
writes a reordered copy of a request about 10% slower than the parsed one (same values).
"""

from __future__ import annotations

import argparse
import base64
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

SCRIPTS = {
    "latin": "The quick brown fox jumps over the lazy dog while we discuss the quarterly figures ",
    "cyrillic": "Съешь же ещё этих мягких французских булок да выпей чаю ",
    "greek": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία ",
    "arabic": "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر ",
    "hebrew": "דג סקרן שט בים מאוכזב ולפתע מצא חברה ",
    "cjk": "我能吞下玻璃而不伤身体。日本語のテキストも混ぜます。한국어 문장도 있습니다. ",
    "devanagari": "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले ",
    "emoji": "😀🚀🎉 𝄞 astral ✨🧪🔥 ",
}
TOOLS = [
    {"name": "get_weather", "description": "Current weather for a city.",
     "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                                                        "unit": {"type": "string", "enum": ["c", "f"]}},
                      "required": ["city"]}},
    {"name": "search_docs", "description": "Full-text search over the knowledge base.",
     "input_schema": {"type": "object", "properties": {"query": {"type": "string"},
                                                        "limit": {"type": "integer"}},
                      "required": ["query"]}},
]
MODELS = ["claude-opus-4-8", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-fable-5"]


def _text(rnd: random.Random, low: int, high: int) -> str:
    script = SCRIPTS[rnd.choice(list(SCRIPTS))]
    n = rnd.randint(low, high)
    return (script * (n // len(script) + 1))[:n]


def _image(rnd: random.Random) -> dict[str, Any]:
    raw = rnd.randbytes(rnd.randint(3_000, 40_000))
    media = rnd.choice(["image/png", "image/jpeg", "image/webp"])
    return {"type": "image", "source": {"type": "base64", "media_type": media,
                                        "data": base64.b64encode(raw).decode("ascii")}}


def make_request(rnd: random.Random) -> dict[str, Any]:
    """One realistic request."""
    turns = rnd.randint(2, 40)
    messages: list[dict[str, Any]] = []
    pending_tool: str | None = None
    uses_tools = rnd.random() < 0.5
    thinking = rnd.random() < 0.4
    for i in range(turns):
        if i % 2 == 0:  # user
            blocks: list[dict[str, Any]] = []
            if pending_tool is not None:
                blocks.append({"type": "tool_result", "tool_use_id": pending_tool,
                               "content": _text(rnd, 20, 800),
                               **({"is_error": True} if rnd.random() < 0.1 else {})})
                pending_tool = None
            if rnd.random() < 0.025:
                blocks.append(_image(rnd))
            if not blocks or rnd.random() < 0.7:
                blocks.append({"type": "text", "text": _text(rnd, 10, 800)})
            if len(blocks) == 1 and blocks[0]["type"] == "text" and rnd.random() < 0.5:
                messages.append({"role": "user", "content": blocks[0]["text"]})
            else:
                messages.append({"role": "user", "content": blocks})
        else:  # assistant
            blocks = []
            if thinking:
                if rnd.random() < 0.05:
                    blocks.append({"type": "redacted_thinking",
                                   "data": base64.b64encode(rnd.randbytes(300)).decode()})
                else:
                    blocks.append({"type": "thinking", "thinking": _text(rnd, 50, 800),
                                   "signature": base64.b64encode(rnd.randbytes(240)).decode()})
            blocks.append({"type": "text", "text": _text(rnd, 10, 800)})
            if uses_tools and rnd.random() < 0.5 and i < turns - 1:
                pending_tool = f"toolu_{rnd.getrandbits(64):016x}"
                tool = rnd.choice(TOOLS)
                args = ({"city": _text(rnd, 3, 20), "unit": "c"} if tool["name"] == "get_weather"
                        else {"query": _text(rnd, 5, 60), "limit": rnd.randint(1, 20)})
                blocks.append({"type": "tool_use", "id": pending_tool, "name": tool["name"],
                               "input": args})
            if not thinking and len(blocks) == 1 and rnd.random() < 0.4:
                messages.append({"role": "assistant", "content": blocks[0]["text"]})
            else:
                messages.append({"role": "assistant", "content": blocks})
    if messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": _text(rnd, 10, 300)})
    last = messages[-1]
    if isinstance(last["content"], list) and rnd.random() < 0.5:
        last["content"][-1]["cache_control"] = {"type": "ephemeral"}
    req: dict[str, Any] = {"model": rnd.choice(MODELS), "max_tokens": rnd.choice([1024, 4096, 16000])}
    r = rnd.random()
    if r < 0.4:
        req["system"] = _text(rnd, 50, 2000)
    elif r < 0.7:
        req["system"] = [{"type": "text", "text": _text(rnd, 50, 2000),
                          "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    req["messages"] = messages
    if uses_tools:
        req["tools"] = TOOLS
        req["tool_choice"] = {"type": "auto"}
    if thinking:
        req["thinking"] = {"type": "enabled", "budget_tokens": 2048}
        req["max_tokens"] = 16000
    elif rnd.random() < 0.3:
        req["temperature"] = rnd.choice([0.0, 0.2, 0.7, 1.0])
    if rnd.random() < 0.3:
        req["metadata"] = {"user_id": f"user-{rnd.getrandbits(32):08x}"}
    if rnd.random() < 0.1:
        req["x_future_param"] = {"enabled": True}  # an unknown key, as a newer API might take
    return req


def corpus(count: int, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    return [orjson.dumps(make_request(rnd)) for _ in range(count)]


# --------------------------------------------------------------------------- raw orjson


SYSTEM_ADDITION = "Answer in one short paragraph."


def raw_edits(d: dict[str, Any]) -> dict[str, Any]:
    """drop images, strip thinking but the latest assistant turn, append a system block: on dicts."""
    msgs = d["messages"]
    last_assistant = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=-1)
    out = []
    for i, m in enumerate(msgs):
        c = m["content"]
        if isinstance(c, list):
            kept = [b for b in c if b["type"] != "image"
                    and (i == last_assistant or b["type"] not in ("thinking", "redacted_thinking"))]
            if not kept:
                continue
            if len(kept) != len(c):
                m = {**m, "content": kept}
        out.append(m)
    d["messages"] = out
    s = d.get("system")
    block = {"type": "text", "text": SYSTEM_ADDITION}
    if s is None:
        d["system"] = SYSTEM_ADDITION
    elif isinstance(s, str):
        d["system"] = [{"type": "text", "text": s}, block]
    else:
        d["system"] = [*s, block]
    return d


class Raw:
    name = "raw orjson (floor)"
    load = staticmethod(orjson.loads)
    dump = staticmethod(orjson.dumps)
    edit = staticmethod(raw_edits)


class Convo:
    name = "convo"

    def __init__(self) -> None:
        import convo
        from convo import transforms as t

        self.load = convo.loads
        self.dump = convo.dumps
        self.edit = t.pipeline(t.drop_images(), t.strip_thinking(),
                               t.inject_system(SYSTEM_ADDITION, where="top"))


class ConvoBefore:
    """An older convo in the same run (``--before DIR``): DIR holds it as a package renamed
    ``convo_base``, made with::

        git archive REV convo | tar -x -C /tmp/b && mv /tmp/b/convo /tmp/b/convo_base
        find /tmp/b/convo_base -name '*.py' | xargs sed -i -E \\
          's/\\bfrom convo(\\.| import)/from convo_base\\1/g; s/^(\\s*)import convo\\b/\\1import convo_base/g'
        sed -i -E 's/"convo\\.(codec|profiles|rules|transforms)"/"convo_base.\\1"/g; \\
          s/import_module\\(f?"convo\\./import_module(f"convo_base./' /tmp/b/convo_base/__init__.py

    The last line matters since ``convo/__init__.py`` names the modules it loads on first use as
    strings: without it ``convo_base.loads`` is the current ``convo.codec.loads`` (checked below).
    """

    name = "convo before"

    def __init__(self, where: str) -> None:
        sys.path.insert(0, where)
        import convo_base  # type: ignore[import-not-found]
        from convo_base import transforms as t

        self.load = convo_base.loads
        self.dump = convo_base.dumps
        if not self.load.__module__.startswith("convo_base"):
            raise SystemExit(f"--before {where}: convo_base.loads is {self.load.__module__}.loads, not the "
                             "older codec (see ConvoBefore's docstring for the last sed)")
        self.edit = t.pipeline(t.drop_images(), t.strip_thinking(),
                               t.inject_system(SYSTEM_ADDITION, where="top"))


class ConvoNoBigIntCheck(Convo):
    """convo with the huge-integer watch switched off (to measure what it costs)."""

    name = "convo, huge-int watch off"

    def __init__(self) -> None:
        super().__init__()
        from convo.codec import _converter

        # the generated hooks look up _freeze in their own namespaces: swap it there for the
        # same walk without the float test
        self._spaces = [fn.__globals__ for fn in _converter.STRUCTURE.values()
                        if getattr(fn, "__globals__", {}).get("_freeze") is _converter.freeze_json]
        self._watch = _converter.freeze_json
        empty, frozen_dict, fallback = _converter.EMPTY, _converter.FrozenDict, _converter.freeze

        def unwatched(v: Any) -> Any:
            c = v.__class__
            if c is dict:
                if not v:
                    return empty
                return frozen_dict({k: unwatched(x) for k, x in v.items()})
            if c is list:
                return tuple([unwatched(x) for x in v])
            if c is str or c is int or c is bool or c is float or v is None:
                return v
            return fallback(v)

        self._unwatched = unwatched

    def enter(self) -> None:
        for g in self._spaces:
            g["_freeze"] = self._unwatched

    def exit(self) -> None:
        for g in self._spaces:
            g["_freeze"] = self._watch


def _msgspec_types() -> Any:
    """The msgspec Structs of a request (at module level: msgspec resolves their annotations here)."""
    from typing import Union

    from msgspec import UNSET, Struct, UnsetType

    g = globals()
    g.update(Struct=Struct, UNSET=UNSET, UnsetType=UnsetType, Union=Union)
    code = """
class _B(Struct, frozen=True, omit_defaults=True, tag_field="type"):
    pass

class Text(_B, tag="text"):
    text: str
    cache_control: dict[str, Any] | UnsetType = UNSET
    citations: list[Any] | None | UnsetType = UNSET

class Image(_B, tag="image"):
    source: dict[str, Any]
    cache_control: dict[str, Any] | UnsetType = UNSET

class ToolUse(_B, tag="tool_use"):
    id: str
    name: str
    input: dict[str, Any]
    cache_control: dict[str, Any] | UnsetType = UNSET

class ToolResult(_B, tag="tool_result"):
    tool_use_id: str
    content: str | list[Union[Text, Image]] | UnsetType = UNSET
    is_error: bool | UnsetType = UNSET
    cache_control: dict[str, Any] | UnsetType = UNSET

class Thinking(_B, tag="thinking"):
    thinking: str
    signature: str

class RedactedThinking(_B, tag="redacted_thinking"):
    data: str

Block = Union[Text, Image, ToolUse, ToolResult, Thinking, RedactedThinking]

class Message(Struct, frozen=True):
    role: str
    content: str | list[Block]

class Request(Struct, frozen=True, omit_defaults=True):
    model: str
    max_tokens: int
    messages: list[Message]
    system: str | list[Text] | UnsetType = UNSET
    tools: list[dict[str, Any]] | UnsetType = UNSET
    tool_choice: dict[str, Any] | UnsetType = UNSET
    thinking: dict[str, Any] | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET
    x_future_param: dict[str, Any] | UnsetType = UNSET  # msgspec drops unknown keys

"""
    ns: dict[str, Any] = {}
    exec(code, g, ns)  # noqa: S102 - our own class definitions, in this module's namespace
    g.update(ns)
    import types

    return types.SimpleNamespace(**ns)


class Msgspec:
    """msgspec Structs (frozen, tagged block union) for the request: the fastest typed peer."""

    name = "msgspec Structs"

    def __init__(self) -> None:
        import msgspec
        from msgspec import UNSET

        _ms = _msgspec_types()
        from msgspec.structs import replace

        Text, Image, Thinking, RedactedThinking, Request = (
            _ms.Text, _ms.Image, _ms.Thinking, _ms.RedactedThinking, _ms.Request)

        def edit(r: Any) -> Any:
            msgs = r.messages
            last_assistant = max((i for i, m in enumerate(msgs) if m.role == "assistant"), default=-1)
            out = []
            for i, m in enumerate(msgs):
                c = m.content
                if isinstance(c, list):
                    kept = [b for b in c if not isinstance(b, Image)
                            and (i == last_assistant or not isinstance(b, (Thinking, RedactedThinking)))]
                    if not kept:
                        continue
                    if len(kept) != len(c):
                        m = replace(m, content=kept)
                out.append(m)
            s = r.system
            block = Text(text=SYSTEM_ADDITION)
            system: Any
            if s is UNSET:
                system = SYSTEM_ADDITION
            elif isinstance(s, str):
                system = [Text(text=s), block]
            else:
                system = [*s, block]
            return replace(r, messages=out, system=system)

        self.load = msgspec.json.Decoder(Request).decode
        self.dump = msgspec.json.Encoder().encode
        self.edit = edit


class AnthropicSDK:
    name = "anthropic SDK (pydantic)"

    def __init__(self) -> None:
        from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
        from pydantic import TypeAdapter

        ta = TypeAdapter(MessageCreateParamsNonStreaming)
        validate, dump = ta.validate_python, ta.dump_json

        def materialize(v: Any) -> Any:
            t = type(v)
            if t is dict:
                return {k: materialize(x) for k, x in v.items()}
            if t is list or t.__name__ == "ValidatorIterator":
                return [materialize(x) for x in v]
            return v

        self.load = lambda b: materialize(validate(orjson.loads(b)))
        self.dump = lambda d: dump(d, warnings=False)
        self.edit = raw_edits


class LangChain:
    name = "langchain-core messages"

    def __init__(self) -> None:
        from langchain_core.messages import SystemMessage, convert_to_messages

        roles = {"human": "user", "ai": "assistant", "system": "system"}

        def load(b: bytes) -> tuple[dict[str, Any], list[Any]]:
            d = orjson.loads(b)
            msgs = d.pop("messages")
            system = d.pop("system", None)
            lc = convert_to_messages(msgs)
            if system is not None:
                lc.insert(0, SystemMessage(content=system))
            return d, lc

        def dump(state: tuple[dict[str, Any], list[Any]]) -> bytes:
            d, lc = state
            out = dict(d)
            msgs = []
            for m in lc:
                role = roles[m.type]
                if role == "system" and not msgs and "system" not in out:
                    out["system"] = m.content
                    continue
                msgs.append({"role": role, "content": m.content})
            out["messages"] = msgs
            return orjson.dumps(out)

        def edit(state: tuple[dict[str, Any], list[Any]]) -> tuple[dict[str, Any], list[Any]]:
            d, lc = state
            last_ai = max((i for i, m in enumerate(lc) if m.type == "ai"), default=-1)
            out = []
            for i, m in enumerate(lc):
                c = m.content
                if isinstance(c, list):
                    kept = [b for b in c if not (isinstance(b, dict) and (
                        b.get("type") == "image"
                        or (i != last_ai and b.get("type") in ("thinking", "redacted_thinking"))))]
                    if not kept:
                        continue
                    if len(kept) != len(c):
                        m = m.model_copy(update={"content": kept})
                out.append(m)
            if out and out[0].type == "system":
                s = out[0].content
                blocks = [{"type": "text", "text": s}] if isinstance(s, str) else list(s)
                out[0] = SystemMessage(content=[*blocks, {"type": "text", "text": SYSTEM_ADDITION}])
            else:
                out.insert(0, SystemMessage(content=SYSTEM_ADDITION))
            return d, out

        self.load, self.dump, self.edit = load, dump, edit


# --------------------------------------------------------------------------- measuring


def _time(fn: Callable[[], Any], repeat: int) -> float:
    """The best CPU time of *repeat* runs (GC off while timing, as timeit does). CPU time, not
    wall time: on a shared machine, time spent waiting for a core is not the code's."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            t0 = time.process_time()
            fn()
            best = min(best, time.process_time() - t0)
        finally:
            gc.enable()
    return best


STAGES = ("load", "dump", "load+dump", "load+3 edits+dump")


def _stage(lib: Any, stage: str, lines: list[bytes], loaded: list[Any]) -> Callable[[], Any]:
    # Results are dropped as they come, as in a streaming pass (keeping them all would measure
    # the allocator growing the heap instead).
    load, dump, edit = lib.load, lib.dump, lib.edit

    def run() -> None:
        if stage == "load":
            for b in lines:
                load(b)
        elif stage == "dump":
            for x in loaded:
                dump(x)
        elif stage == "load+dump":
            for b in lines:
                dump(load(b))
        else:
            for b in lines:
                dump(edit(load(b)))

    return run


def measure(libs: list[Any], lines: list[bytes], repeat: int) -> dict[str, dict[str, float]]:
    """Median time per (library, stage) over *repeat* rounds. Rounds interleave the libraries, so
    that a burst of load from other processes on a shared machine hits every row alike."""
    loaded = {lib.name: [lib.load(b) for b in lines] for lib in libs}
    times: dict[str, dict[str, list[float]]] = {lib.name: {s: [] for s in STAGES} for lib in libs}
    for _ in range(repeat):
        for stage in STAGES:
            for lib in libs:
                getattr(lib, "enter", _nothing)()
                try:
                    t = _time(_stage(lib, stage, lines, loaded[lib.name]), 1)
                finally:
                    getattr(lib, "exit", _nothing)()
                times[lib.name][stage].append(t)
    return {name: {s: statistics.median(ts) for s, ts in r.items()} for name, r in times.items()}


def _paths(v: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a JSON value by its path (objects by key, arrays by index)."""
    out: dict[str, Any] = {}
    if isinstance(v, dict):
        if not v:
            out[prefix + "{}"] = None
        for k, x in v.items():
            out.update(_paths(x, f"{prefix}.{k}"))
    elif isinstance(v, list):
        if not v:
            out[prefix + "[]"] = None
        for i, x in enumerate(v):
            out.update(_paths(x, f"{prefix}[{i}]"))
    else:
        out[prefix] = (type(v).__name__, v)
    return out


def _bytecode_note() -> str:
    """Whether convo's modules were read from compiled bytecode (``python -m compileall convo``)."""
    import importlib.util

    import convo.model

    cached = importlib.util.cache_from_source(convo.model.__file__)
    import os

    return "convo compiled (.pyc present)" if os.path.exists(cached) else "convo NOT compiled"


def _nothing() -> None:
    pass


def fields_lost(lib: Any, lines: list[bytes]) -> int:
    """Leaves of the input missing or changed after the row's load+dump, over the corpus."""
    lost = 0
    for b in lines:
        before = _paths(orjson.loads(b))
        after = _paths(orjson.loads(lib.dump(lib.load(b))))
        lost += sum(1 for p, v in before.items() if after.get(p, ...) != v)
    return lost


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="requests in the corpus")
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--repeat", type=int, default=5, help="runs per measurement (the median is kept)")
    ap.add_argument("--quick", action="store_true", help="raw orjson, convo and msgspec only")
    ap.add_argument("--before", metavar="DIR", help="also an older convo, as package convo_base in DIR")
    args = ap.parse_args(argv)

    lines = corpus(args.count, args.seed)
    mb = sum(len(b) for b in lines) / 1e6
    print(f"corpus: {len(lines)} requests, {mb:.1f} MB (mean {mb * 1e3 / len(lines):.1f} KB), "
          f"seed {args.seed}; Python {sys.version.split()[0]}, orjson {orjson.__version__}")

    import os

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores); "
          f"bytecode: {_bytecode_note()}")
    libs: list[Any] = [Raw(), *([ConvoBefore(args.before)] if args.before else []), Convo(), Msgspec()]
    if not args.quick:
        libs.append(ConvoNoBigIntCheck())
        libs += [AnthropicSDK(), LangChain()]
    lost = {lib.name: fields_lost(lib, lines) for lib in libs}
    results = measure(libs, lines, args.repeat)

    floor = results[Raw.name]
    stages = list(floor)
    head = f"{'':28}" + "".join(f"| {s:^27} " for s in stages) + "| fields lost"
    print(head)
    print(f"{'':28}" + "| conv/s    MB/s   vs orjson" * len(stages) + "|")
    print("-" * len(head))
    for name, r in results.items():
        cells = []
        for s in stages:
            t = r[s]
            cells.append(f"| {len(lines) / t:7.0f} {mb / t:7.1f} {floor[s] / t:8.2f}x ")
        print(f"{name:28}" + "".join(cells) + f"| {lost[name]}")
    if ConvoNoBigIntCheck.name not in results:
        return
    off, on = results[ConvoNoBigIntCheck.name]["load"], results[Convo.name]["load"]
    print(f"\nhuge-integer watch: convo load takes {100 * (on - off) / off:+.1f}% with it than "
          f"without ({statistics.mean((on, off)) / len(lines) * 1e6:.1f} µs per request either "
          "way); differences of a few percent either way are run-to-run noise")


if __name__ == "__main__":
    main()
