"""Hostile input: seeded mutations of every realworld line, and what each library entry point makes
of them.

The corpus (:func:`realworld_lines`) is every JSON document under ``../shared/realworld`` as one
line: each line of a ``.jsonl`` file, each ``.json`` file compacted, each ``data:`` payload of an
SSE recording, and every object nested in them that holds a request (``messages``), a response
(``"type": "message"``) or content blocks, so that the codec's deep paths are reached and not only
the envelopes around them.

The mutations (:data:`MUTATIONS`) are the ways input goes wrong: a line cut short, bytes flipped,
invalid UTF-8, lone surrogates (escaped, or in a ``str``), huge numbers, deep nesting, a value of
the wrong type at a random path, and an array or object in place of a string (with "type" and
"role" tags preferred, since the codec dispatches on them). :func:`check_library` runs one input
through every library entry point that reads data and returns what escaped that should not have:
decoders may raise only :class:`~convo.errors.DecodeError`, transforms only their documented
:class:`~convo.errors.TransformError`, and ``repr``, ``validate``, ``estimate_tokens`` and the
encoder nothing at all; a value that decodes must encode and decode again to an equal value.

Run as a script for the figures the issue asks for (variants, outcomes by exception type)::

    python -m tests._helpers_fuzz [--per-line N] [--seed S]
"""

from __future__ import annotations

import json
import random
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import orjson

import convo
from convo import transforms as t
from convo.codec import dump_json
from convo.codec.formats import FORMATS, detect
from convo.codec.lines import LINE_KINDS, RawLine, conversation_of, decode_line, encode_value
from convo.errors import DecodeError, TransformError
from convo.model import Image

REALWORLD = Path(__file__).parents[1].parent / "shared" / "realworld"

# --------------------------------------------------------------------------- the corpus


def _interesting(v: Any) -> bool:
    """An object worth decoding on its own: a request, a response or batch/exchange line, a block."""
    if not isinstance(v, dict):
        return False
    if isinstance(v.get("messages"), list) or "custom_id" in v or "request" in v:
        return True
    if v.get("type") == "message" or (isinstance(v.get("content"), list) and "role" in v):
        return True
    return isinstance(v.get("type"), str) and ("source" in v or "tool_use_id" in v)


def _nested(doc: Any) -> Iterator[Any]:
    stack = [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if v is not doc and _interesting(v):
                yield v
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _line(v: Any) -> bytes:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


@cache
def realworld_lines() -> tuple[tuple[str, bytes], ...]:
    """(where it came from, one line of JSON) for every document under realworld/, deduplicated."""
    out: dict[bytes, str] = {}

    def add(name: str, doc: Any, raw: bytes | None = None) -> None:
        out.setdefault(raw if raw is not None else _line(doc), name)
        for i, sub in enumerate(_nested(doc)):
            out.setdefault(_line(sub), f"{name}/{i}")

    for path in sorted(REALWORLD.rglob("*")):
        rel = str(path.relative_to(REALWORLD))
        if path.suffix == ".jsonl":
            for n, raw in enumerate(path.read_bytes().splitlines(), 1):
                if raw.strip():
                    add(f"{rel}:{n}", json.loads(raw), raw.rstrip(b"\r"))
        elif path.suffix == ".json":
            add(rel, json.loads(path.read_bytes()))
        elif path.suffix in (".sse", ".txt"):
            for n, text in enumerate(path.read_text("utf-8").splitlines(), 1):
                if text.startswith("data:"):
                    try:
                        add(f"{rel}:{n}", json.loads(text[5:]))
                    except ValueError:
                        continue  # a [DONE] marker or a deliberately broken frame
    return tuple((name, raw) for raw, name in out.items())


# --------------------------------------------------------------------------- mutations

Mutation = Callable[[random.Random, bytes], bytes | str]


def _paths(doc: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every value in *doc*, the root included."""
    out: list[tuple[tuple[Any, ...], Any]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    while stack:
        p, v = stack.pop()
        out.append((p, v))
        if isinstance(v, dict):
            stack.extend(((*p, k), x) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend(((*p, i), x) for i, x in enumerate(v))
    return out


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = new
    return doc


class _Raw:
    """JSON text to put in place of a value (what ``json.dumps`` cannot write: 1000 levels)."""

    def __init__(self, text: str) -> None:
        self.text = text


_PLACE = "\x00fuzz-placeholder\x00"


def _structural(pick: Callable[[random.Random, list[tuple[tuple[Any, ...], Any]]], tuple[Any, ...] | None],
                make: Callable[[random.Random, Any], Any], *, ascii_out: bool = False) -> Mutation:
    def mutate(rng: random.Random, line: bytes) -> bytes:
        doc = json.loads(line)
        paths = _paths(doc)
        path = pick(rng, paths)
        if path is None:
            path = rng.choice(paths)[0]
        old = doc
        for k in path:
            old = old[k]
        new = make(rng, old)
        raw = new if isinstance(new, _Raw) else None
        doc = _replace(doc, path, _PLACE if raw is not None else new)
        text = json.dumps(doc, ensure_ascii=ascii_out, separators=(",", ":"))
        if raw is not None:  # JSON too deep for json.dumps: spliced in as text
            text = text.replace(json.dumps(_PLACE), raw.text, 1)
        return text.encode("utf-8", "surrogatepass")

    return mutate


def _any_path(rng: random.Random, paths: list[tuple[tuple[Any, ...], Any]]) -> tuple[Any, ...] | None:
    return rng.choice(paths)[0]


def _string_path(rng: random.Random, paths: list[tuple[tuple[Any, ...], Any]]) -> tuple[Any, ...] | None:
    strings = [p for p, v in paths if isinstance(v, str)]
    if not strings:
        return None
    tags = [p for p in strings if p and p[-1] in ("type", "role")]
    return rng.choice(tags if tags and rng.random() < 0.6 else strings)


def _number_or_any(rng: random.Random, paths: list[tuple[tuple[Any, ...], Any]]) -> tuple[Any, ...] | None:
    nums = [p for p, v in paths if isinstance(v, int | float) and not isinstance(v, bool)]
    return rng.choice(nums) if nums and rng.random() < 0.7 else rng.choice(paths)[0]


def _block_or_any(rng: random.Random, paths: list[tuple[tuple[Any, ...], Any]]) -> tuple[Any, ...] | None:
    blocks = [p for p, v in paths if isinstance(v, dict) and isinstance(v.get("type"), str)]
    return rng.choice(blocks) if blocks and rng.random() < 0.7 else rng.choice(paths)[0]


def _truncate(rng: random.Random, line: bytes) -> bytes:
    return line[: rng.randrange(0, max(1, len(line)))]


def _flip(rng: random.Random, line: bytes) -> bytes:
    b = bytearray(line)
    for _ in range(rng.randint(1, 4)):
        if b:
            i = rng.randrange(len(b))
            b[i] = rng.choice((b[i] ^ (1 << rng.randrange(8)), rng.randrange(256)))
    return bytes(b)


_BAD_UTF8 = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b"\xe2\x82", b"\x80")


def _bad_utf8(rng: random.Random, line: bytes) -> bytes:
    i = rng.randrange(len(line) + 1)
    return line[:i] + rng.choice(_BAD_UTF8) + line[i:]


def _lone_surrogate_str(rng: random.Random, line: bytes) -> str:
    """A ``str`` (what ``loads`` also takes) holding a lone surrogate, raw."""
    text = line.decode("utf-8", "replace")
    i = rng.randrange(len(text) + 1)
    return text[:i] + rng.choice(("\ud800", "\udfff", "\udc80")) + text[i:]


_HUGE = (2**64, -(2**63) - 1, 10**309 + 7, -(10**400), int("9" * 4299), 2**64 - 1)


def _huge(rng: random.Random, old: Any) -> Any:
    return rng.choice(_HUGE)


def _deep(rng: random.Random, old: Any) -> _Raw:
    depth = rng.choice((64, 200, 253, 254, 255, 300, 340, 400, 1000, 1022, 1023, 1024, 1100))
    kind = rng.randrange(3)
    inner = json.dumps(old, separators=(",", ":")) if kind != 2 and isinstance(old, dict | str) else '"x"'
    if kind == 0:
        return _Raw("[" * depth + inner + "]" * depth)
    if kind == 1:
        return _Raw('{"a":' * depth + inner + "}" * depth)
    # tool_result in tool_result: every level is a block the codec builds
    head = '{"type":"tool_result","tool_use_id":"t","content":['
    return _Raw(head * depth + '{"type":"text","text":"x"}' + "]}" * depth)


_WRONG = (0, -1, 1.5, 1e300, True, False, None, "", "x", [], {}, [1], {"type": "text"}, [None], {"": None})


def _wrong_type(rng: random.Random, old: Any) -> Any:
    choices = [w for w in _WRONG if type(w) is not type(old)]
    return rng.choice(choices)


def _container(rng: random.Random, old: Any) -> Any:
    return rng.choice(([], {}, [old], {"type": old}, [[]], {"": {}}))


def _surrogate_escape(rng: random.Random, old: Any) -> Any:
    s = old if isinstance(old, str) else "x"
    i = rng.randrange(len(s) + 1)
    return s[:i] + rng.choice(("\ud800", "\udfff", "\ud83d")) + s[i:]


MUTATIONS: dict[str, Mutation] = {
    "truncate": _truncate,
    "flip": _flip,
    "utf8": _bad_utf8,
    "surrogate_escape": _structural(_string_path, _surrogate_escape, ascii_out=True),
    "surrogate_str": _lone_surrogate_str,
    "huge_number": _structural(_number_or_any, _huge),
    "deep": _structural(_block_or_any, _deep),
    "wrong_type": _structural(_any_path, _wrong_type),
    "container_for_string": _structural(_string_path, _container),
}
"""Every way a line is broken, by name: ``(rng, line) -> broken line`` (bytes, or a ``str``)."""


def mutate(line: bytes, kind: str, seed: int) -> bytes | str:
    """*line* broken the *kind* way, the same for the same seed."""
    return MUTATIONS[kind](random.Random(seed), line)


def variants(per_line: int, seed: int) -> Iterator[tuple[str, str, bytes | str]]:
    """(source, mutation, broken line): *per_line* seeded mutations of every realworld line, the
    kinds taken in turn so that every line meets every kind once *per_line* reaches their number."""
    kinds = list(MUTATIONS)
    for n, (name, line) in enumerate(realworld_lines()):
        for k in range(per_line):
            kind = kinds[(n + k) % len(kinds)]
            yield name, kind, mutate(line, kind, seed * 1_000_003 + n * 101 + k)


# --------------------------------------------------------------------------- the library's entry points

_PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000020000000308060000009db8f4f6"
                     "0000000e4944415478da636060606060600200000b0002fd1dd246000000004945"
                     "4e44ae426082")

TRANSFORMS: dict[str, list[t.Transform]] = {
    "append_user": [t.append_user("More.")],
    "append_assistant": [t.append_assistant("Sure.")],
    "inject_system": [t.inject_system("Be terse."), t.inject_system("Be terse.", where="message")],
    "attach_image": [t.attach_image(Image.from_bytes(_PNG))],
    "prefill": [t.prefill("The answer is")],
    "with_params": [t.with_params(max_tokens=16, temperature=0.5)],
    "set_model": [t.set_model("claude-sonnet-4-5")],
    "drop_images": [t.drop_images(placeholder="[image]")],
    "strip_thinking": [t.strip_thinking()],
    "merge_adjacent_roles": [t.merge_adjacent_roles()],
    "keep_last_turns": [t.keep_last_turns(n=2)],
    "trim_to_tokens": [t.trim_to_tokens(budget=50)],
    "redact": [t.redact(r"\d+")],
    "map_text": [t.map_text(str.upper)],
    "drop_sampling_params": [t.drop_sampling_params()],
    "strip_prefill": [t.strip_prefill()],
    "normalize": [t.normalize(), t.normalize(dangling="drop", orphans="drop")],
    "migrate": [t.migrate(model="claude-opus-4-8"), t.migrate(model="claude-sonnet-4-5", api_version="2023-06-01")],
    "scrub_secrets": [t.scrub_secrets(), t.scrub_secrets(pii=True, thinking="refuse", base64="drop")],
    "drop_unknown_fields": [t.drop_unknown_fields(),
                            t.drop_unknown_fields(betas=["context-management-2025-06-27"], allow=["x_trace_id"])],
}
"""Instances of every transform of :data:`convo.transforms.REGISTRY` (a test checks the cover)."""


WRITERS = [f for f in FORMATS.values() if f.writes]
"""Every format convo writes (``convo convert --to``)."""

READERS = [f for f in FORMATS.values() if f.per_line]
"""Every foreign format read one JSON line at a time (``convo convert --from``)."""


def _try(escaped: Counter[str], where: str, fn: Callable[[], Any], allowed: tuple[type[BaseException], ...] = ()) -> Any:
    try:
        return fn()
    except allowed:
        return None
    except Exception as e:  # what the fuzz looks for: anything else that escapes
        escaped[f"{where}: {type(e).__name__}"] += 1
        return None


def check_value(value: Any, escaped: Counter[str], where: str) -> None:
    """Everything the library does with a decoded line: repr, encode/decode again, validate,
    estimate tokens, every transform (and encode what each returns)."""
    _try(escaped, f"{where} repr", lambda: repr(value))
    data = _try(escaped, f"{where} encode", lambda: encode_value(value))
    if data is not None:
        again = _try(escaped, f"{where} re-decode", lambda: decode_line(RawLine("x", 1, data)).value,
                     (DecodeError,))
        if again is None or again != value:
            escaped[f"{where} round trip: not equal"] += 1
    conv = conversation_of(value)
    if conv is None:
        return
    _try(escaped, f"{where} validate", lambda: convo.validate(conv))
    _try(escaped, f"{where} estimate_tokens", lambda: t.estimate_tokens(conv))
    for fmt in WRITERS:
        # what cannot be JSON at all is the command's "encode" reject; anything else, a bug
        _try(escaped, f"{where} write {fmt.name}", lambda fmt=fmt: dump_json(fmt.write(conv)[0]),
             (RecursionError, orjson.JSONEncodeError))
    for name, instances in TRANSFORMS.items():
        for tr in instances:
            new = _try(escaped, f"{where} {name}", lambda tr=tr: tr(conv), (TransformError,))
            if new is not None and new is not conv:
                _try(escaped, f"{where} {name} then encode", lambda new=new: convo.dumps(new))
                _try(escaped, f"{where} {name} then repr", lambda new=new: repr(new))


def _decoded(fn: Callable[[], Any], where: str, escaped: Counter[str], outcomes: Counter[str]) -> Any:
    """fn(), or None when it raised: DecodeError is an outcome, anything else escaped too."""
    try:
        value = fn()
    except DecodeError:
        outcomes["DecodeError"] += 1
        return None
    except Exception as e:
        outcomes[type(e).__name__] += 1
        escaped[f"{where}: {type(e).__name__}"] += 1
        return None
    outcomes["ok"] += 1
    return value


def check_readers(obj: Any, escaped: Counter[str], outcomes: Counter[str], *, writers: bool = True) -> None:
    """The JSON value *obj* through ``detect`` and every foreign line format's reader, and (with
    *writers*) each writer on what each reader made of it."""
    _decoded(lambda: detect(obj), "detect", escaped, outcomes)
    for fmt in READERS:
        c = _decoded(lambda fmt=fmt: fmt.read(obj), f"read {fmt.name}", escaped, outcomes)
        if c is not None and writers:
            for w in WRITERS:
                _try(escaped, f"read {fmt.name}, write {w.name}",
                     lambda w=w, c=c: dump_json(w.write(c.conversation)[0]), (RecursionError, orjson.JSONEncodeError))


def check_library(data: bytes | str, escaped: Counter[str], outcomes: Counter[str]) -> None:
    """*data* through loads, loads_response and decode_line (each kind, and detected); each value
    that decodes through :func:`check_value`, each JSON value through :func:`check_readers`.
    Unexpected exceptions are counted in *escaped*, every decoder's outcome (``ok`` or the
    exception type) in *outcomes*."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown models warn, by design
        for name, fn in (("loads", convo.loads), ("loads_response", convo.loads_response)):
            v = _decoded(lambda fn=fn: fn(data), name, escaped, outcomes)
            if v is not None:
                _try(escaped, f"{name} repr", lambda v=v: repr(v))
        raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
        try:
            obj = convo.codec.parse_json(raw)
        except DecodeError:
            pass
        else:
            check_readers(obj, escaped, outcomes)
        for kind in (None, *LINE_KINDS):
            where = f"decode_line[{kind or 'detect'}]"
            rec = _decoded(lambda kind=kind: decode_line(RawLine("fuzz.jsonl", 1, raw), kind=kind),
                           where, escaped, outcomes)
            if rec is not None and kind is None:  # the full treatment once per line (the detected kind)
                check_value(rec.value, escaped, where)


# --------------------------------------------------------------------------- files for the commands

BOM_LINE = b"\xef\xbb\xbf"

ODD_LINES = (
    b"\x0b", b"\x0c", b"\x0b\x0c \t", b" \x0c", b"\x1c", b"\x85", b"\xc2\xa0", b"\x00",
    b"\xef\xbb\xbf\x0b", b"\xef\xbb\xbf{}", b"\xef\xbb\xbf" + b'{"model": "m"}',
    b"[" * 1100 + b"]" * 1100, b'{"model": "m", "n": ' + b"9" * 320 + b"}",
    b'{"model": "m", "messages": [{"role": "user", "content": [{"type": []}]}]}',
    b'{"model": "m", "system": [{"type": {}}], "messages": []}',
    b'{"model": "m"}',
)
"""Lines that are not blank to JSON but look blank to some readers, or that broke a command."""

BLANK_LINES = (b"", b" ", b"\t", b"\r", b" \t \r", BOM_LINE, BOM_LINE + b" ")
"""Lines that hold no JSON text (JSON whitespace only, after a byte order mark)."""


def hostile_file(n: int, seed: int, *, max_bytes: int = 50_000, bom: bool = True) -> bytes:
    """A JSONL file (no final newline) of *n* mutated realworld lines of at most *max_bytes*, with
    good lines, :data:`ODD_LINES` and :data:`BLANK_LINES` among them, and a byte order mark
    before a broken line 1 when *bom*."""
    rng = random.Random(seed)
    pool = [line for _, line in realworld_lines() if len(line) <= max_bytes]
    kinds = list(MUTATIONS)
    lines: list[bytes] = []
    for i in range(n):
        data = mutate(rng.choice(pool), kinds[i % len(kinds)], rng.randrange(1 << 30))
        lines.append(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    lines += [rng.choice(pool) for _ in range(max(1, n // 10))]
    lines += list(ODD_LINES) + list(BLANK_LINES)
    rng.shuffle(lines)
    head = [b"\xef\xbb\xbf{broken line 1"] if bom else []
    return b"\n".join(head + lines)


def expected_lines(data: bytes) -> dict[int, bytes]:
    """The lines of a file that every command must account for: line number -> bytes."""
    from convo.codec.lines import is_blank

    return {i: line for i, line in enumerate(data.split(b"\n"), 1) if not is_blank(line)}


def main() -> None:  # pragma: no cover - the figures for a report
    import argparse
    import time

    p = argparse.ArgumentParser()
    p.add_argument("--per-line", type=int, default=len(MUTATIONS))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    escaped: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    n = 0
    start = time.perf_counter()
    for _, kind, data in variants(args.per_line, args.seed):
        n += 1
        before = sum(escaped.values())
        check_library(data, escaped, outcomes)
        if sum(escaped.values()) > before:
            by_kind[kind] += 1
    print(f"{len(realworld_lines())} realworld lines, {n} variants in {time.perf_counter() - start:.1f} s")
    print("decoder outcomes:", dict(outcomes.most_common()))
    print("variants with an escape, by mutation:", dict(by_kind.most_common()))
    print("escaped:")
    for k, v in escaped.most_common():
        print(f"  {v:7d}  {k}")


if __name__ == "__main__":  # pragma: no cover
    main()
