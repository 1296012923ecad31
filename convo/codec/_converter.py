"""Structure and unstructure hooks for every model class, generated once at import.

Layer: codec. Each class gets a straight-line function built from a small field spec (as attrs
and cattrs generate ``__init__`` and hooks), so decoding a line costs one dict lookup per block
and no per-field loop. Objects are built without running ``__init__`` (the converters there
freeze user input; what the codec builds is frozen already).

Shape errors raise ``Shape`` carrying the JSON path; the public functions turn it into
:class:`convo.errors.DecodeError`. Path tracking costs nothing on the happy path: a failing list
is walked a second time to find the index.

Huge integers: orjson parses an integer outside the 64-bit range as a float (observed with orjson
3.13: ``123456789012345678901234567890`` becomes ``1.2345678901234568e+29``), which would silently
change the number. Every number the hooks keep passes either through :func:`freeze_json` or a
typed check, so the hooks notice such a float for free on the way (a float that is integral and at
or beyond 2**64 or -2**63) and raise :class:`BigNumber`; the codec then parses that one line again
with the standard library, which keeps big integers exact, and builds it in *trusting* mode
(:func:`trusting`), where such floats are taken as the floats they really are.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson

from convo import model as m
from convo._gencode import exec_generated
from convo._json import EMPTY, UNSET, FrozenDict, freeze
from convo._slots import maker, packer

__all__ = [
    "LAZY_STRUCTURE",
    "STRUCTURE",
    "UNSTRUCTURE",
    "BigNumber",
    "Shape",
    "describe",
    "freeze_json",
    "register_block",
    "REUSE",
    "trusting",
]


class Shape(Exception):
    """A value that is not the shape convo needs, at ``path`` (a list of keys and indices)."""

    def __init__(self, expected: str, path: list[str | int] | None = None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.path: list[str | int] = path or []

    def under(self, part: str | int) -> Shape:
        self.path.insert(0, part)
        return self

    def dollar_path(self) -> str:
        out = "$"
        for p in self.path:
            out += f"[{p}]" if isinstance(p, int) else f".{p}"
        return out


class BigNumber(Exception):
    """orjson gave a float where the JSON text may hold an integer beyond 64 bits."""


# orjson parses integers in [-2**63, 2**64) exactly and anything beyond as a float [OBS orjson 3.13];
# such a float is integral and lies at or beyond these bounds.
_POS_LIMIT = 18446744073709551616.0  # 2**64
_NEG_LIMIT = -9223372036854775808.0  # -2**63 (itself parsed exactly, but -2**63 - 1 rounds to it)

_TRUST = threading.local()


def _big(v: float) -> None:
    """Signal a float that may stand for a huge integer, unless the caller trusts its floats."""
    if not getattr(_TRUST, "on", False):
        raise BigNumber


@contextmanager
def trusting() -> Iterator[None]:
    """Within this block, floats are what they say (the data was not parsed by orjson).

    >>> freeze_json([1e30])
    Traceback (most recent call last):
    ...
    convo.codec._converter.BigNumber
    >>> with trusting():
    ...     freeze_json([1e30])
    (1e+30,)
    """
    before = getattr(_TRUST, "on", False)
    _TRUST.on = True
    try:
        yield
    finally:
        _TRUST.on = before


def freeze_json(v: Any) -> Any:
    """:func:`convo._json.freeze` for data fresh from a JSON parser, watching for huge integers.

    >>> freeze_json({"a": [1, {"b": None}], "c": 2.5})
    FrozenDict({'a': (1, FrozenDict({'b': None})), 'c': 2.5})
    """
    c = v.__class__
    if c is dict:
        if not v:
            return EMPTY
        return FrozenDict({k: freeze_json(x) for k, x in v.items()})
    if c is list:
        return tuple([freeze_json(x) for x in v])
    if c is str or c is int or c is bool or v is None:
        return v
    if c is float:
        if v >= _POS_LIMIT or v <= _NEG_LIMIT:
            _big(v)
        return v
    return freeze(v)  # tuples, FrozenDicts and subclasses: built in Python, not parsed


_SHARED: dict[bytes, Any] = {}
_SHARED_MAX = 256


def freeze_shared(v: Any) -> Any:
    """:func:`freeze_json` for a JSON value that repeats from line to line (a request's ``tools``):
    the frozen value is kept by its JSON text, and a value with the same text gets that same
    (immutable) value back instead of being frozen again. The text is orjson's, which is one
    text per JSON value (``1``, ``1.0`` and ``true`` differ), and a value is kept only once it
    froze without a huge-integer doubt (:class:`BigNumber`), outside :func:`trusting` (where a
    float may stand for what it says and another line's same text may not).

    >>> a = freeze_shared([{"name": "f", "input_schema": {"type": "object"}}])
    >>> a is freeze_shared([{"name": "f", "input_schema": {"type": "object"}}]), a == freeze_json(
    ...     [{"name": "f", "input_schema": {"type": "object"}}])
    (True, True)
    """
    c = v.__class__
    if (c is not list and c is not dict) or getattr(_TRUST, "on", False):
        return freeze_json(v)
    try:
        key = orjson.dumps(v)
    except orjson.JSONEncodeError:  # (what orjson cannot write is frozen as it is)
        return freeze_json(v)
    frozen = _SHARED.get(key)
    if frozen is None:
        frozen = freeze_json(v)  # raises BigNumber before anything is kept
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        _SHARED[key] = frozen
    return frozen


def _bad(v: Any, what: str, key: str | int | None = None) -> Shape:
    """The Shape error for a value that failed its check (or BigNumber if it is a huge integer)."""
    if v.__class__ is float and (v >= _POS_LIMIT or v <= _NEG_LIMIT):
        _big(v)
    return Shape(f"{what}, got {describe(v)}", [key] if key is not None else None)


def describe(v: Any) -> str:
    """How an error message names the JSON type of *v* ("an object", "a string", ...).

    >>> describe([]), describe(None), describe(2.5)
    ('an array', 'null', 'a number')
    """
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


# --------------------------------------------------------------------------- dispatch tables


class _ByClass(dict[type, Callable[[Any], Any]]):
    """Unstructure functions by exact class; subclasses resolve through the MRO once."""

    def __missing__(self, cls: type) -> Callable[[Any], Any]:
        for base in cls.__mro__[1:]:
            if base in self:
                fn = self[base]
                self[cls] = fn
                return fn
        raise TypeError(f"convo cannot write a {cls.__name__} as JSON")


BLOCKS: dict[str, Callable[[Any], Any]] = {}  # block "type" -> structure function
SOURCES: dict[str, Callable[[Any], Any]] = {}  # source "type" -> structure function
STRUCTURE: dict[type, Callable[[Any], Any]] = {}  # class -> structure function
UNSTRUCTURE = _ByClass()  # class -> unstructure function


def structure_block(d: Any) -> Any:
    if d.__class__ is not dict:
        raise Shape(f"expected a content block object, got {describe(d)}")
    t = d.get("type", UNSET)
    if t.__class__ is not str:  # before any lookup: a list or an object cannot be a table key
        raise _bad_tag(t)
    fn = BLOCKS.get(t)
    return fn(d) if fn is not None else _unknown_block(d)


def _bad_tag(t: Any) -> Shape:
    """The error for a ``type`` tag that is absent or not a string (null, a list, an object...)."""
    return Shape("missing required key", ["type"]) if t is UNSET else _bad(t, "expected a string", "type")


def _unknown_block(d: dict[str, Any]) -> m.UnknownBlock:
    o = _new(m.UnknownBlock)
    _SET_TYPE(o, d["type"])
    _SET_EXTRA(o, FrozenDict({k: freeze_json(v) for k, v in d.items() if k != "type"}))
    return o


def structure_blocks(v: Any) -> tuple[Any, ...]:
    if v.__class__ is not list:
        raise Shape(f"expected an array of content blocks, got {describe(v)}")
    try:
        # the fast path: every item an object of a known type (one dict lookup per block)
        return tuple([BLOCKS[b["type"]](b) for b in v])
    except (KeyError, TypeError):
        pass  # an unknown or missing type, or an item that is not an object: the careful path
    except Shape:
        pass  # find the index of the bad block below
    try:
        return tuple([structure_block(b) for b in v])
    except Shape:
        for i, b in enumerate(v):
            try:
                structure_block(b)
            except Shape as e:
                raise e.under(i) from None
        raise


def structure_content(v: Any) -> Any:
    if v.__class__ is str:
        return v
    if v.__class__ is list:
        return structure_blocks(v)
    raise Shape(f"expected a string or an array of content blocks, got {describe(v)}")


def structure_source(d: Any) -> Any:
    if d.__class__ is not dict:
        raise Shape(f"expected a source object, got {describe(d)}")
    t = d.get("type", UNSET)
    if t.__class__ is not str:
        raise _bad_tag(t)
    fn = SOURCES.get(t)
    if fn is not None:
        return fn(d)
    o = _new(m.UnknownSource)
    _SET_SRC_TYPE(o, t)
    _SET_SRC_EXTRA(o, FrozenDict({k: freeze_json(v) for k, v in d.items() if k != "type"}))
    return o


def structure_messages(v: Any) -> tuple[Any, ...]:
    if v.__class__ is not list:
        raise Shape(f"expected an array of messages, got {describe(v)}")
    fn = STRUCTURE[m.Message]
    try:
        return tuple([fn(x) for x in v])
    except Shape:
        for i, x in enumerate(v):
            try:
                fn(x)
            except Shape as e:
                raise e.under(i) from None
        raise


REUSE: ContextVar[tuple[tuple[Any, ...], list[Any]] | None] = ContextVar("convo_reuse", default=None)
"""While set to ``(before, parsed)`` (the messages of a decoded conversation and the parsed JSON
they were built from, in order), unstructuring a conversation takes the parsed JSON of each message
that is still one of *before* instead of building it again, so a transform that leaves most turns
alone pays only for those it changed. Whoever sets it holds *before* (its objects stay alive) and
does not let *parsed* change. See :func:`convo.codec.lines.encode_value`."""


def unstructure_messages(v: Any) -> list[Any]:
    """The JSON of a tuple of messages, reusing parsed JSON while :data:`REUSE` is set.

    >>> msgs = [{"content": "hi", "role": "user"}]
    >>> conv = STRUCTURE[m.Conversation]({"messages": msgs})
    >>> unstructure_messages(conv.messages)[0] is msgs[0]
    False
    >>> token = REUSE.set((conv.messages, msgs))
    >>> unstructure_messages(conv.messages)[0] is msgs[0]
    True
    >>> REUSE.reset(token)
    """
    if v.__class__ is list:  # parsed turns, not built (see _turns_json): written as they are
        return v
    um = UNSTRUCTURE[m.Message]
    base = REUSE.get()
    if base is None:
        # unstructure_message inlined for a turn written as it was read (the common case)
        out: list[Any] = []
        for x in v:
            lazy = getattr(x, "_lazy", None)
            out.append(lazy[2] if lazy is not None and lazy[2] is not None else um(x))
        return out
    before, parsed = base
    if len(v) == len(before):  # the common case: turns edited in place, or not at all
        return [p if x is b else um(x) for x, b, p in zip(v, before, parsed, strict=True)]
    # turns were added or dropped: find the unchanged ones by identity; every object of *before*
    # is alive (the caller holds it), so no new message can have the id of one of them
    by_id = {id(b): p for b, p in zip(before, parsed, strict=True)}
    out = []
    for x in v:
        p = by_id.get(id(x))
        out.append(um(x) if p is None else p)
    return out


def unstructure_blocks(v: Any) -> list[Any]:
    u = UNSTRUCTURE
    return [u[b.__class__](b) for b in v]


def _unstructure_unknown(o: Any) -> dict[str, Any]:
    return {**o.extra, "type": o.type}


# --------------------------------------------------------------------------- generation

_new = object.__new__
_SET_TYPE = m.UnknownBlock.type.__set__  # type: ignore[attr-defined]
_SET_EXTRA = m.UnknownBlock.extra.__set__  # type: ignore[attr-defined]
_SET_SRC_TYPE = m.UnknownSource.type.__set__  # type: ignore[attr-defined]
_SET_SRC_EXTRA = m.UnknownSource.extra.__set__  # type: ignore[attr-defined]

# kind -> (structure expression on `v`, unstructure expression on `v`)
_KINDS = {
    "raw": ("v", "v"),
    "json": ("_freeze(v)", "v"),
    "shared_json": ("_freeze_shared(v)", "v"),  # a JSON value that repeats from line to line
    # string content (the common case) costs no call
    "content": ("v if v.__class__ is str else _blocks(v) if v.__class__ is list else _content(v)",
                "v if v.__class__ is str else _ublocks(v)"),
    "blocks": ("_blocks(v)", "_ublocks(v)"),
    "source": ("_source(v)", "_U[v.__class__](v)"),
    "messages": ("_messages(v)", "_umessages(v)"),
    "stop_details": ("_S_stop(v)", "_U[v.__class__](v)"),
    "usage": ("_S_usage(v)", "_U[v.__class__](v)"),
    "conversation": ("_S_conv(v)", "_U[v.__class__](v)"),
    "response": ("_S_resp(v)", "_U[v.__class__](v)"),
}

# check -> (condition that is True when v is acceptable, what is expected)
_CHECKS = {
    "any": (None, ""),
    "str": ("v.__class__ is str", "a string"),
    "int": ("v.__class__ is int", "an integer"),
    "bool": ("v.__class__ is bool", "a boolean"),
    "num": ("v.__class__ is int or v.__class__ is float", "a number"),
    "obj": ("v.__class__ is dict", "an object"),
    "list": ("v.__class__ is list", "an array"),
}


class F:
    """One field of a spec: attribute, JSON key, kind, check, required, nullable, and the name
    (in the hooks' namespace) of the value that stands for "absent" (written back as absent)."""

    def __init__(
        self, name: str, kind: str = "raw", check: str = "any", *, required: bool = False,
        null: bool = False, key: str | None = None, absent: str = "UNSET",
    ) -> None:
        self.name, self.kind, self.check = name, kind, check
        self.required, self.null, self.key = required, null, key or name
        self.absent = absent


def _gen(
    cls: type, fields: list[F], type_tag: str | None, overrides: dict[str, Any] | None = None,
    getters: dict[str, str] | None = None,
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    known = {f.key for f in fields} | ({"type"} if type_tag is not None else set())
    ns: dict[str, Any] = {
        "UNSET": UNSET, "NO_MESSAGES": m.NO_MESSAGES, "NO_CONTENT": m.NO_CONTENT, "EMPTY": EMPTY, "FrozenDict": FrozenDict, "_freeze": freeze_json, "_freeze_shared": freeze_shared,
        "_new": _new, "_cls": cls, "Shape": Shape, "describe": describe, "_bad": _bad,
        "_big": _big, "_PL": _POS_LIMIT, "_NL": _NEG_LIMIT,
        "_content": structure_content, "_blocks": structure_blocks, "_source": structure_source,
        "_messages": structure_messages, "_umessages": unstructure_messages, "_ublocks": unstructure_blocks, "_U": UNSTRUCTURE, "_KNOWN": frozenset(known),
    }
    # Hooks of classes registered earlier are bound directly (one call less per object);
    # the others are looked up when first needed.
    ns["_S_stop"] = STRUCTURE.get(m.StopDetails) or (lambda v: STRUCTURE[m.StopDetails](v))
    ns["_S_usage"] = STRUCTURE.get(m.Usage) or (lambda v: STRUCTURE[m.Usage](v))
    ns["_S_conv"] = STRUCTURE.get(m.Conversation) or (lambda v: STRUCTURE[m.Conversation](v))
    ns["_S_resp"] = STRUCTURE.get(m.Response) or (lambda v: STRUCTURE[m.Response](v))
    for f in (*fields, F("extra")):
        ns[f"_set_{f.name}"] = getattr(cls, f.name).__set__
    ns.update(overrides or {})

    s = ["def structure(d):"]
    s.append("    if d.__class__ is not dict: raise _bad(d, 'expected an object')")
    # k counts the keys that are fields, so that extra keys cost nothing when there are none;
    # when the object has only its required keys, the optional ones are not even looked up.
    n_required = (1 if type_tag is not None else 0) + sum(1 for f in fields if f.required)
    s.append(f"    k = {n_required}")
    if any(not f.required for f in fields):
        s.append(f"    more = len(d) > {n_required}")
    # Required fields first; then, when the object holds nothing else (the common case), it is
    # built at once, without looking up a single optional field.
    for f in [f for f in fields if f.required]:
        s.extend(_structure_field(f))
    if n_required < len(fields) + (1 if type_tag is not None else 0):
        s.append("    if not more:")
        s.append("        o = _new(_cls)")
        for f in fields:
            s.append(f"        _set_{f.name}(o, {f'_v_{f.name}' if f.required else f.absent})")
        s.append("        _set_extra(o, EMPTY)")
        s.append("        return o")
    for f in [f for f in fields if not f.required]:
        s.extend(_structure_field(f))
    s.append("    e = FrozenDict({x: _freeze(y) for x, y in d.items() if x not in _KNOWN}) "
             "if len(d) > k else EMPTY")
    s.append("    o = _new(_cls)")
    for f in fields:
        s.append(f"    _set_{f.name}(o, _v_{f.name})")
    s.append("    _set_extra(o, e)")
    s.append("    return o")

    u = ["def unstructure(o):"]
    head = [f"'type': {type_tag!r}"] if type_tag is not None else []
    for f in fields:
        if f.required and not f.null and f.kind == "raw":
            head.append(f"{f.key!r}: o.{f.name}")
    u.append(f"    d = {{{', '.join(head)}}}")
    for f in fields:
        ux = _KINDS[f.kind][1]
        if f.required and not f.null and f.kind == "raw":
            continue
        uguard = f"v is not {f.absent}" if not f.required else "True"
        u.append(f"    v = {(getters or {}).get(f.name, 'o.' + f.name)}")
        if ux == "v":
            u.append(f"    if {uguard}: d[{f.key!r}] = v")
        else:
            nul = "None if v is None else " if f.null else ""
            u.append(f"    if {uguard}: d[{f.key!r}] = {nul}{ux}")
    u.append("    e = o.extra")
    u.append("    if e: d = {**e, **d}")
    u.append("    return d")
    exec_generated("\n".join(s) + "\n" + "\n".join(u), f"<convo hooks for {cls.__name__}>", ns)  # code built from our own specs, never from data
    return ns["structure"], ns["unstructure"]


def _structure_field(f: F) -> list[str]:
    """The lines of a structure hook that read, check and convert field *f* into ``_v_<name>``."""
    sx = _KINDS[f.kind][0]
    cond, what = _CHECKS[f.check]
    if f.null:
        cond = f"v is None or ({cond})" if cond else None
        what = f"{what} or null" if what else ""
    if f.required:
        s = [f"    try: v = d[{f.key!r}]",
             f"    except KeyError: raise Shape('missing required key', [{f.key!r}]) from None"]
    else:
        s = [f"    v = d.get({f.key!r}, UNSET)", "    if v is not UNSET:", "        k += 1"]
    ind = "    " if f.required else "        "
    if cond:
        s.append(f"{ind}if not ({cond}): raise _bad(v, 'expected {what}', {f.key!r})")
        if f.check == "num":  # a number field keeps floats: look at them for huge integers
            s.append(f"{ind}if v.__class__ is float and (v >= _PL or v <= _NL): _big(v)")
    if sx != "v":
        guard = "if v is not None: " if f.null else ""
        s.append(f"{ind}try:")
        s.append(f"{ind}    {guard}v = {sx}")
        s.append(f"{ind}except Shape as e: raise e.under({f.key!r}) from None")
    if not f.required and f.absent != "UNSET":
        s.append(f"    else: v = {f.absent}")
    s.append(f"    _v_{f.name} = v")
    return s


def _register(cls: type, fields: list[F], *, tag: str | None = None, table: dict[str, Any] | None = None) -> None:
    st, un = _gen(cls, fields, tag)
    STRUCTURE[cls] = st
    UNSTRUCTURE[cls] = un
    if table is not None and tag is not None:
        table[tag] = st


SPECS: dict[str, list[F]] = {}  # block "type" -> its field spec (for the lazy check)
LAZY_BLOCKS: dict[str, Callable[[Any], int]] = {}  # block "type" -> a lazy check (see below)


def register_block(cls: type, fields: list[F]) -> None:
    """Teach the codec a new block class (its ``type`` ClassVar is the tag).

    >>> "tool_reference" in BLOCKS  # the built-in blocks are registered this way
    True
    """
    _register(cls, fields, tag=cls.type, table=BLOCKS)  # type: ignore[attr-defined]
    SPECS[cls.type] = fields  # type: ignore[attr-defined]
    # a type registered again (a user's own class) is no longer one the lazy check knows
    if LAZY_BLOCKS.pop(cls.type, None) is not None:  # type: ignore[attr-defined]
        for keys in [k for k, fn in LAZY_SHAPES.items() if fn.__code__.co_filename.endswith(f" {cls.type}>")]:  # type: ignore[attr-defined]
            del LAZY_SHAPES[keys]
            del LAZY_TABLE[keys]  # (the C check reads this very dict)


CC = F("cache_control", "json")
CALLER = F("caller", "json")

_SOURCE_SPECS = {
    "base64": [F("media_type", check="str", required=True), F("data", check="str", required=True)],
    "url": [F("url", check="str", required=True)],
    "file": [F("file_id", check="str", required=True)],
}
_register(m.Base64Source, _SOURCE_SPECS["base64"], tag="base64", table=SOURCES)
_register(m.URLSource, _SOURCE_SPECS["url"], tag="url", table=SOURCES)
_register(m.FileSource, _SOURCE_SPECS["file"], tag="file", table=SOURCES)
_register(m.TextSource, [F("data", check="str", required=True), F("media_type", check="str")], tag="text", table=SOURCES)
_register(m.ContentSource, [F("content", "content", required=True)], tag="content", table=SOURCES)
UNSTRUCTURE[m.UnknownSource] = _unstructure_unknown

register_block(m.Text, [F("text", check="str", required=True), CC, F("citations", "json", "list", null=True)])
register_block(m.Image, [F("source", "source", required=True), CC])
register_block(m.Document, [F("source", "source", required=True), CC, F("citations", "json"),
                            F("context", check="str", null=True), F("title", check="str", null=True)])
register_block(m.SearchResult, [F("source", check="str", required=True), F("title", check="str", required=True),
                                F("content", "blocks", required=True), CC, F("citations", "json")])
register_block(m.ToolUse, [F("id", check="str", required=True), F("name", check="str", required=True),
                           F("input", "json", required=True), CC, CALLER])
register_block(m.ServerToolUse, [F("id", check="str", required=True), F("name", check="str", required=True),
                                 F("input", "json", required=True), CC, CALLER])
register_block(m.ToolResult, [F("tool_use_id", check="str", required=True), F("content", "content"),
                              F("is_error", check="bool"), CC])
register_block(m.Thinking, [F("thinking", check="str", required=True), F("signature", check="str", required=True)])
register_block(m.RedactedThinking, [F("data", check="str", required=True)])
for _cls in m.SERVER_TOOL_RESULTS:
    register_block(_cls, [F("tool_use_id", check="str", required=True), F("content", "json", required=True), CC, CALLER])
register_block(m.ContainerUpload, [F("file_id", check="str", required=True), CC])
register_block(m.ToolReference, [F("tool_name", check="str", required=True), CC])
register_block(m.MidConvSystem, [F("content", "blocks", required=True), CC])
UNSTRUCTURE[m.UnknownBlock] = _unstructure_unknown

_register(m.Message, [F("role", check="str", required=True), F("content", "content", required=True)])
CONVERSATION_FIELDS = [
    F("model", check="str"), F("max_tokens", check="int"), F("messages", "messages", absent="NO_MESSAGES"),
    F("system", "content"), F("tools", "json", "list"), F("tool_choice", "json"),
    F("thinking", "json"), F("output_config", "json"), F("stop_sequences", "json", "list"),
    F("metadata", "json"), F("temperature", check="num", null=True), F("top_p", check="num", null=True),
    F("top_k", check="int", null=True), F("stream", check="bool"), F("cache_control", "json"),
    F("service_tier", check="str"), F("container", "json"), F("inference_geo", check="str", null=True),
]
_register(m.Conversation, CONVERSATION_FIELDS)
_register(m.StopDetails, [F("type", check="str", required=True), F("category", check="str", null=True),
                          F("explanation", check="str", null=True)])
_register(m.Usage, [
    F("input_tokens", check="int"), F("output_tokens", check="int"),
    F("cache_creation_input_tokens", check="int", null=True), F("cache_read_input_tokens", check="int", null=True),
    F("cache_creation", "json"), F("server_tool_use", "json"), F("service_tier", check="str", null=True),
    F("inference_geo", check="str", null=True), F("output_tokens_details", "json"),
])
_register(m.Response, [
    F("id", check="str"), F("type", check="str"), F("role", check="str"),
    F("content", "blocks", absent="NO_CONTENT"), F("model", check="str"), F("stop_reason", check="str", null=True),
    F("stop_sequence", check="str", null=True), F("stop_details", "stop_details", null=True),
    F("usage", "usage"), F("container", "json"),
])

_register(m.BatchRequest, [F("custom_id", check="str", required=True), F("params", "conversation", required=True)])
_register(m.Exchange, [F("id", "json"), F("request", "conversation", required=True), F("response", "response"), F("error", "json")])


def _structure_batch_result(d: Any) -> m.BatchResult:
    if d.__class__ is not dict:
        raise Shape(f"expected an object, got {describe(d)}")
    cid = d.get("custom_id", UNSET)
    if cid is UNSET:
        raise Shape("missing required key", ["custom_id"])
    if cid.__class__ is not str:
        raise _bad(cid, "expected a string", "custom_id")
    r = d.get("result", UNSET)
    if r is UNSET:
        raise Shape("missing required key", ["result"])
    if r.__class__ is not dict:
        raise _bad(r, "expected an object", "result")
    rt = r.get("type", UNSET)
    if rt is UNSET:
        raise Shape("missing required key", ["result", "type"])
    if rt.__class__ is not str:
        raise _bad(rt, "expected a string", "type").under("result")
    message: Any = UNSET
    if "message" in r:
        try:
            message = STRUCTURE[m.Response](r["message"])
        except Shape as e:
            raise e.under("message").under("result") from None
    error = freeze_json(r["error"]) if "error" in r else UNSET
    rest = {k: freeze_json(v) for k, v in r.items() if k not in ("type", "message", "error")}
    extra = {k: freeze_json(v) for k, v in d.items() if k not in ("custom_id", "result")}
    return m.BatchResult(custom_id=cid, result_type=rt, message=message, error=error,
                         result_extra=FrozenDict(rest) if rest else EMPTY,
                         extra=FrozenDict(extra) if extra else EMPTY)


def _unstructure_batch_result(o: m.BatchResult) -> dict[str, Any]:
    r: dict[str, Any] = {**o.result_extra, "type": o.result_type}
    if o.message is not UNSET:
        r["message"] = UNSTRUCTURE[m.Response](o.message)
    if o.error is not UNSET:
        r["error"] = o.error
    return {**o.extra, "custom_id": o.custom_id, "result": r}


STRUCTURE[m.BatchResult] = _structure_batch_result
UNSTRUCTURE[m.BatchResult] = _unstructure_batch_result


# --------------------------------------------------------------------------- lazy messages
#
# A conversation decoded from JSON the codec parsed itself (``loads``, the line engine) keeps the
# parsed content array of each turn that passes a structural check, and builds its blocks when
# ``content`` is first read (see :class:`convo.model._Parsed`). The check runs on load, so a
# shape error surfaces there as before: a turn that fails it, for any reason, is decoded at once
# by the hooks above, which raise the error with its ``$.path``. It accepts a turn only when
#
# - it has exactly the keys ``role`` (a string) and ``content`` (an array);
# - every block is one of the types of :data:`convo.model.LAZY_BITS` (inside a tool result: text
#   and images), with the keys its hook knows, in the order its unstructure hook writes them, each
#   value passing the same check as in the hook (strings, booleans, sources), and no number that
#   may be a huge integer (see BigNumber) in a JSON-valued field;
#
# so that building it cannot fail, and writing the parsed array gives the bytes the built blocks
# would give. Each check is generated from the block's field spec, as the hooks are.

_LAZY_INNER = ("text", "image")  # the block types looked at inside a tool result's content


def _scan(v: Any) -> bool:
    """Whether a JSON value holds no float that may stand for a huge integer."""
    c = v.__class__
    if c is dict:
        for x in v.values():
            if (x.__class__ is dict or x.__class__ is list or x.__class__ is float) and not _scan(x):
                return False
        return True
    if c is list:
        for x in v:
            if (x.__class__ is dict or x.__class__ is list or x.__class__ is float) and not _scan(x):
                return False
        return True
    if c is float:
        return not (v >= _POS_LIMIT or v <= _NEG_LIMIT)
    return True


_SOURCE_KEYS = {("type", *(f.key for f in fields)): tag for tag, fields in _SOURCE_SPECS.items()}


def _lazy_source(v: Any) -> bool:
    """Whether an image source is one of the plain kinds, in the order they are written."""
    if v.__class__ is not dict:
        return False
    tag = _SOURCE_KEYS.get(tuple(v))
    if tag is None or v["type"] != tag:
        return False
    return all(x.__class__ is str for k, x in v.items() if k != "type")  # every field a string


def _lazy_inner(v: list[Any]) -> int:
    mask = 0
    for b in v:
        if b.__class__ is not dict:
            return -1
        fn = LAZY_SHAPES.get(tuple(b))
        if fn is None or b["type"] not in _LAZY_INNER:
            return -1
        r = fn(b)
        if r < 0:
            return -1
        mask |= r
    return mask


LAZY_SHAPES: dict[tuple[str, ...], Callable[[Any], int]] = {}
"""The lazy check of a block by its keys, in order: one generated function per way a block of a
lazy type can be written by convo (required keys, some optional ones, in spec order)."""

LAZY_TABLE: dict[tuple[str, ...], tuple[str, int, tuple[tuple[int, int, bool], ...]]] = {}
"""The same checks as data, for the C check (``convo/codec/_lazycheck.c``): a block's keys ->
(tag, bit, one (kind, check, nullable) per key after ``type``), codes as in :data:`_KIND_CODES`
and :data:`_CHECK_CODES`."""

_KIND_CODES = {"raw": 0, "json": 1, "source": 2, "content": 3}
_CHECK_CODES = {"any": 0, "str": 1, "int": 2, "bool": 3, "num": 4, "obj": 5, "list": 6}


def lazy_content_py(v: list[Any]) -> int:
    """The :data:`~convo.model.LAZY_BITS` of a parsed content array that may stay parsed, or -1
    (:func:`lazy_content` is this, or the same check in C where ``_lazycheck`` is built).

    >>> lazy_content_py([{"type": "text", "text": "hi"}, {"type": "thinking", "thinking": "", "signature": "s"}])
    17
    >>> lazy_content_py([{"text": "hi", "type": "text"}])  # written back as type, text: built at once
    -1
    """
    mask = 0
    shapes = LAZY_SHAPES
    try:
        for b in v:
            if b.__class__ is not dict:
                return -1
            fn = shapes.get(tuple(b))
            if fn is None:
                return -1
            r = fn(b)
            if r < 0:
                return -1
            mask |= r
    except RecursionError:
        return -1
    return mask


def _gen_lazy_checks(tag: str, fields: list[F]) -> dict[tuple[str, ...], Callable[[Any], int]]:
    """The lazy checks of block *tag*, by key order: each gives the block's bits (and the bits
    inside it), or -1."""
    import itertools

    def written_first(f: F) -> bool:
        return f.required and not f.null and f.kind == "raw"

    head = ["type", *(f.key for f in fields if written_first(f))]
    rest = [f for f in fields if not written_first(f)]
    optional = [f.key for f in rest if not f.required]
    by_key = {f.key: f for f in fields}
    out: dict[tuple[str, ...], Callable[[Any], int]] = {}
    for n in range(len(optional) + 1):
        for chosen in itertools.combinations(optional, n):
            keys = (*head, *(f.key for f in rest if f.required or f.key in chosen))
            ns: dict[str, Any] = {"_scan": _scan, "_src": _lazy_source, "_inner": _lazy_inner,
                                  "_BIT": m.LAZY_BITS[tag]}
            code = ["def check(b):", f"    if b['type'] != {tag!r}: return -1", "    mask = _BIT"]
            for key in keys[1:]:
                f = by_key[key]
                if f.kind not in ("raw", "json", "source", "content"):
                    raise ValueError(f"no lazy check for a {f.kind!r} field")
                cond, _ = _CHECKS[f.check]
                code.append(f"    v = b[{key!r}]")
                ind = "    "
                if f.null:
                    code.append("    if v is not None:")
                    ind = "        "
                if cond:
                    code.append(f"{ind}if not ({cond}): return -1")
                if f.kind == "json":
                    code.append(f"{ind}if (v.__class__ is dict or v.__class__ is list or v.__class__ is float)"
                                " and not _scan(v): return -1")
                elif f.kind == "source":
                    code.append(f"{ind}if not _src(v): return -1")
                elif f.kind == "content":
                    code += [f"{ind}if v.__class__ is list:", f"{ind}    r = _inner(v)",
                             f"{ind}    if r < 0: return -1", f"{ind}    mask |= r",
                             f"{ind}elif v.__class__ is not str: return -1"]
                code.append(f"{ind}pass")
            code.append("    return mask")
            exec_generated("\n".join(code), f"<convo lazy check for {tag}>", ns)  # from our own specs
            out[keys] = ns["check"]
            LAZY_TABLE[keys] = (tag, m.LAZY_BITS[tag], tuple(
                (_KIND_CODES[by_key[k].kind], _CHECK_CODES[by_key[k].check], by_key[k].null) for k in keys[1:]))
    return out


for _tag in m.LAZY_BITS:
    _checks = _gen_lazy_checks(_tag, SPECS[_tag])
    if _checks.keys() & LAZY_SHAPES.keys():
        raise AssertionError(f"two lazy block types written with the same keys ({_tag})")
    LAZY_SHAPES.update(_checks)
    LAZY_BLOCKS[_tag] = _checks[min(_checks, key=len)]  # (the registry of lazy types)

_eager_message = STRUCTURE[m.Message]
_eager_unstructure_message = UNSTRUCTURE[m.Message]
_SET_LAZY = m._SET_LAZY
_SET_ROLE = m.Message.role.__set__  # type: ignore[attr-defined]
_SET_MSG_EXTRA = m.Message.extra.__set__  # type: ignore[attr-defined]
_SET_MSG_CONTENT = m._SET_CONTENT


def structure_message(d: Any) -> m.Message:
    """A message built at once (from data the codec does not own, or that fails the lazy check)."""
    o = _eager_message(d)
    _SET_LAZY(o, None)
    return o  # type: ignore[no-any-return]


def structure_message_lazy(d: Any) -> m.Message:
    """A message whose block content stays parsed until read, where the lazy check allows.

    >>> msg = structure_message_lazy({"role": "user", "content": [{"type": "text", "text": "hi"}]})
    >>> msg._lazy is not None, msg.content, unstructure_message(msg)["content"][0]["text"]
    (True, (Text(text='hi'),), 'hi')
    """
    if d.__class__ is dict and len(d) == 2:
        c = d.get("content")
        if c.__class__ is list:
            r = d.get("role")
            if r.__class__ is str:
                mask = lazy_content(c)
                if mask >= 0:
                    o = _new(m.Message)
                    _SET_ROLE(o, r)
                    _SET_MSG_EXTRA(o, EMPTY)
                    # the parsed object itself is written back when its keys are in convo's order
                    _SET_LAZY(o, (c, mask, d if next(iter(d)) == "role" else None))
                    return o
    return structure_message(d)


def unstructure_message(o: Any) -> dict[str, Any]:
    """A message's JSON; for one decoded lazily, its content as it was parsed (the same JSON)."""
    lazy = getattr(o, "_lazy", None)
    if lazy is None:
        return _eager_unstructure_message(o)  # type: ignore[no-any-return]
    if lazy[2] is not None:
        return lazy[2]  # type: ignore[no-any-return]
    d = {"role": o.role, "content": lazy[0]}
    e = o.extra
    return {**e, **d} if e else d


_TEXT_KEYS = ("type", "text")


def structure_messages_lazy(v: Any) -> tuple[Any, ...]:
    """:func:`structure_messages` with :func:`structure_message_lazy` for each message, inlined
    (this is the hot loop of ``convo.loads``: a call saved per message and per text block)."""
    if v.__class__ is not list:
        return structure_messages(v)  # raises the error
    out = []
    asread = True  # every turn is written back as its parsed object (see structure_conversation_lazy)
    shapes, new, msg_cls, empty = LAZY_SHAPES, _new, m.Message, EMPTY
    set_role, set_content, set_extra, set_lazy = _SET_ROLE, _SET_MSG_CONTENT, _SET_MSG_EXTRA, _SET_LAZY
    try:
        for d in v:
            if d.__class__ is dict and len(d) == 2:
                c = d.get("content")
                r = d.get("role")
                if r.__class__ is not str:
                    pass
                elif c.__class__ is str:  # string content: nothing to build, made here at once
                    if asread and next(iter(d)) != "role":
                        asread = False
                    o = new(msg_cls)
                    set_role(o, r)
                    set_content(o, c)
                    set_extra(o, empty)
                    set_lazy(o, None)
                    out.append(o)
                    continue
                elif c.__class__ is list:
                    mask = 0
                    for b in c:
                        if b.__class__ is not dict:
                            break
                        k = tuple(b)
                        if k == _TEXT_KEYS:  # the common block, checked inline as its check does
                            if b["type"] != "text" or b["text"].__class__ is not str:
                                break
                            mask |= 1
                            continue
                        fn = shapes.get(k)
                        if fn is None:
                            break
                        x = fn(b)
                        if x < 0:
                            break
                        mask |= x
                    else:
                        o = new(msg_cls)
                        set_role(o, r)
                        set_extra(o, empty)
                        if next(iter(d)) == "role":
                            set_lazy(o, (c, mask, d))
                        else:
                            set_lazy(o, (c, mask, None))
                            asread = False
                        out.append(o)
                        continue
            out.append(structure_message(d))
            asread = False
    except (Shape, RecursionError):
        return structure_messages(v)  # the eager path raises the error, with the message's index
    _ROOT.asread = asread
    return tuple(out)


def check_messages_py(v: list[Any]) -> list[int] | None:
    """The lazy check of every turn of a parsed ``messages`` array, building nothing: each turn's
    :data:`~convo.model.LAZY_BITS` (0 for string content), or None unless every turn
    passes and is written back as its parsed object (``role`` first). The turns of a request
    kept parsed whole (see :func:`structure_conversation_lazy`) are built from it when first read
    (:func:`build_messages`). :func:`check_messages` is this, or the same check in C.

    >>> check_messages_py([{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "text", "text": "a"}]}])
    [0, 1]
    >>> check_messages_py([{"content": "hi", "role": "user"}]) is None
    True
    """
    masks = []
    shapes = LAZY_SHAPES
    try:
        for d in v:
            if d.__class__ is not dict or len(d) != 2:
                return None
            c = d.get("content")
            if d.get("role").__class__ is not str or next(iter(d)) != "role":
                return None
            if c.__class__ is str:
                masks.append(0)
                continue
            if c.__class__ is not list:
                return None
            mask = 0
            for b in c:
                if b.__class__ is not dict:
                    return None
                k = tuple(b)
                if k == _TEXT_KEYS:  # the common block, checked inline as its check does
                    if b["type"] != "text" or b["text"].__class__ is not str:
                        return None
                    mask |= 1
                    continue
                fn = shapes.get(k)
                if fn is None:
                    return None
                x = fn(b)
                if x < 0:
                    return None
                mask |= x
            masks.append(mask)
    except RecursionError:
        return None
    return masks


check_messages: Callable[[list[Any]], list[int] | None] = check_messages_py
lazy_content: Callable[[list[Any]], int] = lazy_content_py


def lazy_tables() -> tuple[dict[tuple[str, ...], Any], dict[tuple[str, ...], str], frozenset[str]]:
    """The tables the C check reads (``_lazycheck.configure``'s arguments): the block shapes
    (this very dict: a type registered again leaves it), the image sources' keys, the tags a tool
    result's content may hold."""
    return LAZY_TABLE, dict(_SOURCE_KEYS), frozenset(_LAZY_INNER)


_FAST: dict[tuple[str, ...], Callable[[dict[str, Any], tuple[str, ...]], Any]] = {}  # a request's keys -> its own fast hook (see fast_conversation)
_GENERIC: list[Callable[[dict[str, Any], tuple[str, ...]], Any]] = []  # (made on first use, again after _use_c_check)


def _use_c_check(on: bool = True) -> bool:
    """Use the lazy check in C (``convo/codec/_lazycheck.c``) where it is built, or (*on* False)
    the Python one; True when the C one is in use. The two give the same verdicts (tested); the
    C one is the default unless ``CONVO_PURE_PYTHON`` is set in the environment.

    >>> from convo.codec import _converter as c
    >>> was = c.check_messages is not c.check_messages_py
    >>> c._use_c_check(False), c.lazy_content is c.lazy_content_py
    (False, True)
    >>> c._use_c_check(was) == was
    True
    """
    global check_messages, lazy_content
    check_messages, lazy_content = check_messages_py, lazy_content_py
    _FAST.clear()  # (the fast hooks call the check they were made with: made again on first use)
    _GENERIC.clear()
    if not on:
        return False
    try:
        import convo.codec._lazycheck as _lazycheck
    except ImportError:
        return False
    _lazycheck.configure(*lazy_tables())
    check_messages, lazy_content = _lazycheck.check_messages, _lazycheck.lazy_content
    return True


def build_messages(v: list[Any], masks: list[int]) -> tuple[m.Message, ...]:
    """The turns of a parsed ``messages`` array that :func:`check_messages` passed (with its
    *masks*): string content made at once, block content kept parsed until read.

    >>> v = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "text", "text": "a"}]}]
    >>> build_messages(v, check_messages(v))
    (Message(role='user', content='hi'), Message(role='assistant', content=(Text(text='a'),)))
    """
    out = []
    new, msg_cls, empty = _new, m.Message, EMPTY
    set_role, set_content, set_extra, set_lazy = _SET_ROLE, _SET_MSG_CONTENT, _SET_MSG_EXTRA, _SET_LAZY
    for d, mask in zip(v, masks, strict=True):
        o = new(msg_cls)
        set_role(o, d["role"])
        set_extra(o, empty)
        c = d["content"]
        if c.__class__ is str:
            set_content(o, c)
            set_lazy(o, None)
        else:
            set_lazy(o, (c, mask, d))
        out.append(o)
    return tuple(out)


class _Pending:
    """What the lazy conversation hook sets as ``messages`` while the turns stay parsed."""


_PENDING = _Pending()
_SET_MESSAGES = m.Conversation.messages.__set__  # type: ignore[attr-defined]


def _pending_messages(v: Any) -> Any:
    """The lazy conversation hook's ``messages``: the turns checked, left parsed (the masks go to
    structure_conversation_lazy), or built where a turn is not written back as read."""
    if v.__class__ is list:
        masks = check_messages(v)
        if masks is not None:
            _ROOT.masks = masks
            return _PENDING
    return structure_messages_lazy(v)


def _set_pending(o: Any, v: Any) -> None:
    if v is not _PENDING:
        _SET_MESSAGES(o, v)


STRUCTURE[m.Message] = structure_message
UNSTRUCTURE[m.Message] = unstructure_message
m._LAZY_BUILD[:] = [structure_blocks]
m._LAZY_MESSAGES[:] = [build_messages]
_use_c_check(not os.environ.get("CONVO_PURE_PYTHON"))

_ROOT = threading.local()  # structure_messages_lazy's word on the turns it just decoded
_LAZY_FIELDS = [F("tools", "shared_json", "list") if f.key == "tools" else f for f in CONVERSATION_FIELDS]
_lazy_conversation = _gen(
    m.Conversation,
    _LAZY_FIELDS,
    None, {"_messages": _pending_messages, "_set_messages": _set_pending})[0]
_CONVERSATION_KEYS = {f.key: i for i, f in enumerate(CONVERSATION_FIELDS)}


def _root_order(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The keys of a request object, in the order convo writes them: the keys it does not model
    first (as read), then its fields in spec order.

    >>> _root_order(("system", "x-new", "messages", "model"))
    ('x-new', 'model', 'messages', 'system')
    """
    known = sorted((k for k in keys if k in _CONVERSATION_KEYS), key=_CONVERSATION_KEYS.__getitem__)
    return (*(k for k in keys if k not in _CONVERSATION_KEYS), *known)


_MAKE_NAMES = (*(f.name for f in _LAZY_FIELDS if f.key != "messages"), "extra", "_lazy")
_make_conversation = maker(m.Conversation, _MAKE_NAMES)
_FAST_SHAPES = 512  # (requests are written with few key orders; past this many, the hook for any order)


def _fast_field(f: F, v: str) -> tuple[list[str], list[str]] | None:
    """The lines of a fast hook that check field *f*'s value in variable *v* (``return None`` where
    the general hook would do anything but the plain case), and those that convert it (which may
    raise Shape); None: a field no fast hook takes."""
    if f.kind == "messages":
        return [f"if {v}.__class__ is not list: return None", f"masks = _check({v})",
                "if masks is None: return None"], []
    if f.kind == "content":
        return [f"if {v}.__class__ is list:", f"    if _lazy_content({v}) < 0: return None",
                f"    {v} = _blocks({v})", f"elif {v}.__class__ is not str: return None"], []
    check = []
    cond, _ = _CHECKS[f.check]
    if cond:
        cond = cond.replace("v.", f"{v}.")
        check.append(f"if not ({v} is None or {cond}): return None" if f.null else f"if not ({cond}): return None")
    if f.check == "num":
        check.append(f"if {v}.__class__ is float and ({v} >= _PL or {v} <= _NL): return None")
    if f.kind == "raw":
        return check, []
    if f.kind in ("json", "shared_json"):
        return check, [f"{v} = {'_freeze' if f.kind == 'json' else '_freeze_shared'}({v})"]
    return None


def _fast_namespace() -> dict[str, Any]:
    return {
        "UNSET": UNSET, "EMPTY": EMPTY, "FrozenDict": FrozenDict, "Shape": Shape, "_freeze": freeze_json,
        "_freeze_shared": freeze_shared, "_blocks": structure_blocks, "_check": check_messages,
        "_lazy_content": lazy_content, "_make": _make_conversation, "_PL": _POS_LIMIT, "_NL": _NEG_LIMIT,
        "_order": _fast_order,
    }


def _fast_hook(keys: tuple[str, ...]) -> Callable[[dict[str, Any], tuple[str, ...]], Any] | None:
    """The lazy conversation hook made for requests whose keys are *keys*, in that order: it reads
    the values at once (``d.values()``), makes the conversation in one call, and answers None
    wherever the general hook would do anything but the plain case (a value of another type, a
    turn not written back as read, a huge number, a shape error), which the caller then hands to
    that hook: so both give the same value or the same error. None: no such hook (no
    ``messages``, or a key that is not a str)."""
    if "messages" not in keys or len(keys) > 64 or not all(k.__class__ is str and len(k) <= 256 for k in keys):
        return None  # (a key only ever enters the source as a repr() literal; these bounds keep it small)
    spec = {f.key: f for f in _LAZY_FIELDS}
    ns = _fast_namespace()
    order = _root_order(keys)
    ns["ORDER"] = None if order == keys else order
    var = {k: f"v{i}" for i, k in enumerate(keys)}
    body = [f"    {', '.join(var.values())}{',' if len(keys) == 1 else ''} = d.values()"]
    convert = []  # conversions that may raise Shape
    for k, v in var.items():
        f = spec.get(k)
        if f is None:
            continue
        lines = _fast_field(f, v)
        if lines is None:
            return None
        body += [f"    {ln}" for ln in lines[0]]
        convert += [f"        {ln}" for ln in lines[1]]
    extra = [k for k in keys if k not in spec]
    if extra:
        convert.append("        e = FrozenDict({" + ", ".join(f"{k!r}: _freeze({var[k]})" for k in extra) + "})")
    if convert:
        body += ["    try:", *convert, "    except Shape:", "        return None"]
    args = [var.get(f.key, "UNSET") for f in _LAZY_FIELDS if f.key != "messages"]
    args += ["e" if extra else "EMPTY", f"(d, ORDER, {var['messages']}, masks)"]
    body.append(f"    return _make({', '.join(args)})")
    source = "def fast(d, keys):\n" + "\n".join(body) + "\n"
    exec(compile(source, "<convo fast hook for Conversation>", "exec", dont_inherit=True), ns)  # noqa: S102 - convo's own generated code (keys only as repr literals)
    return ns["fast"]  # type: ignore[no-any-return]


def _generic_fast_hook() -> Callable[[dict[str, Any], tuple[str, ...]], Any]:
    """The fast hook for requests of any key order (:func:`_fast_hook`'s answers, its values
    looked up by key in one C pass; a key it does not model: None). Its source is the same every
    time, so its code is made at build time (:mod:`convo._gencode`)."""
    names = [f"v{i}" for i in range(len(_LAZY_FIELDS))]
    body = [f"    {', '.join(names)} = row = tuple(map(d.get, _KEYS, _ABSENT))",
            f"    if len(d) + row.count(UNSET) != {len(names)}: return None  # (keys it does not model: the general hook)"]
    convert = []
    args = []
    for f, v in zip(_LAZY_FIELDS, names, strict=True):
        lines = _fast_field(f, v)
        assert lines is not None  # (every field of a request has a fast form)
        if f.kind == "messages":  # (absent, it is UNSET: not a list)
            body += [f"    {ln}" for ln in lines[0]]
            continue
        args.append(v)
        if lines[0]:
            body += [f"    if {v} is not UNSET:", *(f"        {ln}" for ln in lines[0])]
        convert += [f"        if {v} is not UNSET: {ln}" for ln in lines[1]]
    if convert:
        body += ["    try:", *convert, "    except Shape:", "        return None"]
    messages = next(v for f, v in zip(_LAZY_FIELDS, names, strict=True) if f.kind == "messages")
    body.append(f"    return _make({', '.join(args)}, EMPTY, (d, _order(keys), {messages}, masks))")
    ns = _fast_namespace()
    ns["_KEYS"] = tuple(f.key for f in _LAZY_FIELDS)
    ns["_ABSENT"] = (UNSET,) * len(_LAZY_FIELDS)
    exec_generated("def fast(d, keys):\n" + "\n".join(body) + "\n", "<convo fast hook for Conversation>", ns)
    return ns["fast"]  # type: ignore[no-any-return]


_ORDERS: dict[tuple[str, ...], tuple[str, ...] | None] = {}  # a request's keys -> as convo writes them (None: so)


def _fast_order(keys: tuple[str, ...]) -> tuple[str, ...] | None:
    """The order convo writes a request of *keys* in, or None where it is *keys* (see _root_order)."""
    try:
        return _ORDERS[keys]
    except KeyError:
        order = _root_order(keys)
        found = None if order == keys else order
        if len(_ORDERS) < 4096:
            _ORDERS[keys] = found
        return found


_SEEN: dict[tuple[str, ...], int] = {}
_SPECIALIZE = 100  # a key order seen this often gets its own hook (compiling one costs ~0.4 ms)


def fast_conversation(d: dict[str, Any]) -> m.Conversation | None:
    """The lazy conversation of a request object the codec owns (see :func:`structure_conversation_lazy`)
    where a fast hook takes it, else None: hand it to the general hook. Requests of a key order
    seen often get a hook of their own (:func:`_fast_hook`); the others, one for any order.
    Raises only what building its JSON values may raise (BigNumber, RecursionError).

    >>> fast_conversation({"model": "m", "messages": []}).model, fast_conversation({"model": 1, "messages": []})
    ('m', None)
    """
    keys = tuple(d)
    fast = _FAST.get(keys)
    if fast is None:
        seen = _SEEN.get(keys, 0) + 1
        if seen >= _SPECIALIZE and len(_FAST) < _FAST_SHAPES:
            fast = _FAST[keys] = _fast_hook(keys) or _generic()
        else:
            if len(_SEEN) < 4096 or keys in _SEEN:
                _SEEN[keys] = seen
            fast = _generic()
    return fast(d, keys)  # type: ignore[no-any-return]


def _generic() -> Callable[[dict[str, Any], tuple[str, ...]], Any]:
    if not _GENERIC:
        _GENERIC.append(_generic_fast_hook())
    return _GENERIC[0]


def structure_conversation_lazy(d: Any) -> m.Conversation:
    """A conversation from JSON the codec owns: turns kept parsed (:func:`structure_messages_lazy`),
    and the parsed object itself kept (:class:`convo.model._ParsedRoot`) where its values write
    back as the hooks would write them: every turn written as read and a block ``system`` that
    passes the lazy check (every other field writes back as read: JSON values thaw from their
    frozen copies, numbers and strings are as parsed). Only the order of its keys may differ
    from convo's; it is kept with the object (see :func:`unstructure_conversation`).

    >>> conv = structure_conversation_lazy({"messages": [{"role": "user", "content": "hi"}], "model": "m"})
    >>> unstructure_conversation(conv)
    {'model': 'm', 'messages': [{'role': 'user', 'content': 'hi'}]}
    """
    if d.__class__ is dict:
        o = fast_conversation(d)
        if o is not None:
            return o
    root = _ROOT
    root.asread = True
    root.masks = None
    o = _lazy_conversation(d)
    masks = root.masks
    if root.asread:
        s = d.get("system")
        if s.__class__ is not list or lazy_content(s) >= 0:
            # the turns stay parsed too (built when first read: convo.model.Conversation.__getattr__)
            _SET_ROOT(o, (d, _fast_order(tuple(d)), None if masks is None else d["messages"], masks))
            return o  # type: ignore[no-any-return]
    if masks is not None:  # the parsed object is not kept: the turns are built now
        _SET_MESSAGES(o, build_messages(d["messages"], masks))
    return o  # type: ignore[no-any-return]


def unstructure_conversation(o: Any) -> dict[str, Any]:
    """A conversation's JSON; for one decoded from JSON the codec owns and written back as read,
    a new top-level object over the parsed values, keys in convo's order (callers may add or pop
    keys; nothing deeper is theirs to change, as for any turn written from its parsed JSON).

    >>> unstructure_conversation(m.Conversation(model="m"))
    {'model': 'm', 'messages': []}
    """
    try:
        root = _GET_ROOT(o)
    except AttributeError:  # not decoded from JSON: the slot is empty (None in a transform's copy)
        root = None
    if root is None:
        return _eager_unstructure_conversation(o)  # type: ignore[no-any-return]
    d, order = root[0], root[1]
    if d is None:  # a changed copy whose turns may still be parsed (see _turns_json)
        return _pending_unstructure_conversation(o)  # type: ignore[no-any-return]
    if order is None:
        return {**d}
    return {k: d[k] for k in order}


def _turns_json(o: Any) -> Any:
    """A conversation's ``messages``, or the parsed turns themselves while they are not built
    (:func:`unstructure_messages` writes those as they are)."""
    root = _GET_ROOT(o)
    return o.messages if root[3] is None else root[2]


_SET_ROOT = m._SET_ROOT
_GET_ROOT = m._GET_ROOT
_eager_unstructure_conversation = UNSTRUCTURE[m.Conversation]
_pending_unstructure_conversation = _gen(m.Conversation, CONVERSATION_FIELDS, None, {"_turns": _turns_json},
                                         {"messages": "_turns(o)"})[1]
_PACK_CONVERSATION = packer(m.Conversation, tuple(f.name for f in CONVERSATION_FIELDS),
                            tuple(f.key for f in CONVERSATION_FIELDS), UNSET)


def _packed_unstructure_conversation(o: Any) -> dict[str, Any]:
    """``_pending_unstructure_conversation`` with the fields read in one C call (convo._speedups):
    the same dict, keys in the same order."""
    d = _PACK_CONVERSATION(o)  # type: ignore[misc]
    v = _turns_json(o)
    if v is m.NO_MESSAGES:
        del d["messages"]
    else:
        d["messages"] = unstructure_messages(v)
    v = d.get("system")
    if v is not None and v.__class__ is not str:
        d["system"] = unstructure_blocks(v)
    e = o.extra
    return {**e, **d} if e else d


if _PACK_CONVERSATION is not None:
    _pending_unstructure_conversation = _packed_unstructure_conversation
UNSTRUCTURE[m.Conversation] = unstructure_conversation

LAZY_STRUCTURE: dict[type, Callable[[Any], Any]] = {}
"""Structure hooks for JSON the codec parsed itself and owns (nothing else holds it, nothing will
change it): the messages of the conversations they build are lazy. See :func:`convo.codec.loads`."""
LAZY_STRUCTURE[m.Conversation] = structure_conversation_lazy
LAZY_STRUCTURE[m.BatchRequest] = _gen(
    m.BatchRequest, [F("custom_id", check="str", required=True), F("params", "conversation", required=True)],
    None, {"_S_conv": LAZY_STRUCTURE[m.Conversation]})[0]
LAZY_STRUCTURE[m.Exchange] = _gen(
    m.Exchange, [F("id", "json"), F("request", "conversation", required=True), F("response", "response"),
                 F("error", "json")], None, {"_S_conv": LAZY_STRUCTURE[m.Conversation]})[0]
