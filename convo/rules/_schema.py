"""The closed-world request schema and the walk that checks a request against it.

Layer: inside ``convo.rules``, above ``_pass`` (model and ``_json`` only otherwise). The schema is
data, ``convo/schema.json``, generated from the official OpenAPI specs (GA and beta) by
``scripts/make_schema.py``: for every object a request can hold, its keys and their JSON types;
for every tagged union (content blocks, sources, tools, ...), its tags; and which keys and tags
exist only under an ``anthropic-beta`` header. The API is closed-world (facts §11): an unknown
key anywhere is a 400 ``Extra inputs are not permitted``, an unknown ``type`` a 400 ``Input tag
'x' found using 'type' does not match any of the expected tags: ...``, a known key with the
wrong JSON type a 400 ``Input should be a valid ...``. The walk reports each as a violation
whose message is the API's own words, and whose hint says what to do (the closest known key by
edit distance, or the beta header that allows it).

It reads convo's values through their public attributes only (fields and ``extra``), the same
way for model objects and for the JSON-valued fields (tools, ``thinking``, ...), so it works
whatever the codec does under them. Speed: one walk over the request; for a model object only
the attributes whose schema type is not a plain scalar are looked at (the codec has already
checked those), and a path string is built only for a violation or a step into a child.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from convo._frozen import field_names
from convo._frozen import has as _has
from convo._json import UNSET, FrozenDict
from convo.model import NO_MESSAGES
from convo.rules._catalog import Violation, _violation

__all__ = [
    "MessageCheck",
    "check_request",
    "parsed_content_ok",
    "Schema",
    "Walk",
    "api_location",
    "betas_needed",
    "key_path",
    "load_schema",
    "parse_path",
]

_NULL, _BOOL, _INT, _NUM, _STR, _ANY, _FREE = 1, 2, 4, 8, 16, 32, 64
_BITS = {"null": _NULL, "boolean": _BOOL, "integer": _INT, "number": _NUM | _INT, "string": _STR,
         "any": _ANY, "object": _FREE}
_WORDS = {  # the API's (pydantic's) words for a value of the wrong JSON type, by expected type
    "string": "Input should be a valid string",
    "integer": "Input should be a valid integer",
    "number": "Input should be a valid number",
    "boolean": "Input should be a valid boolean",
    "null": "Input should be None",
    "object": "Input should be a valid dictionary",
    "model": "Input should be a valid dictionary or object to extract fields from",
    "array": "Input should be a valid list",
}
_EXTRA = "Extra inputs are not permitted"
_REQUIRED = "Field required"

# Unions whose tag set is open: thinking types are listed per model in the profiles (SDK 2.17
# added `between_tools`), and checked by `thinking.unsupported-mode`, not by the schema.
_OPEN_UNIONS = frozenset({"ThinkingConfigParam"})

# Keys people send by mistake that edit distance would not find, with what to use instead.
_ALIASES = {
    "response_format": "`output_config.format` (structured outputs)",
    "max_completion_tokens": "`max_tokens`",
    "max_tokens_to_sample": "`max_tokens`",
    "stop": "`stop_sequences`",
    "functions": "`tools`",
    "tool_calls": "`tool_use` blocks in an assistant turn",
    "user": "`metadata.user_id`",
    "extra_body": "the keys of `extra_body` at the top level (an SDK option, not an API key)",
    "betas": "the `anthropic-beta` header (validate(betas=...), --beta): `betas` is an SDK option",
    "reasoning_effort": "`output_config.effort`",
}

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def key_path(base: str, key: str) -> str:
    """``base.key``, or ``base["key"]`` for a key that is not an identifier.

    >>> key_path("$", "stop_sequence"), key_path("$.tools[0]", "a b")
    ('$.stop_sequence', '$.tools[0]["a b"]')
    """
    if _IDENT.fullmatch(key):
        return f"{base}.{key}"
    return f"{base}[{orjson.dumps(key).decode()}]"


_SEGMENT = re.compile(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def parse_path(path: str) -> list[str | int]:
    """The steps of a ``$.path``: keys (strings) and indexes (ints).

    >>> parse_path('$.messages[3].content[0]["a b"]')
    ['messages', 3, 'content', 0, 'a b']
    """
    if not path.startswith("$"):
        raise ValueError(f"not a $.path: {path!r}")
    out: list[str | int] = []
    at = 1
    while at < len(path):
        m = _SEGMENT.match(path, at)
        if m is None:
            raise ValueError(f"not a $.path: {path!r}")
        name, index, quoted = m.groups()
        out.append(name if name is not None else int(index) if index is not None else orjson.loads(quoted))
        at = m.end()
    return out


# --------------------------------------------------------------------------- the schema


class _Type:
    """A compiled type string: the scalar kinds it takes (bits), and at most one object, union
    and array type among its alternatives. ``structured``: a value of it needs walking (it is
    not a plain scalar, and not any JSON)."""

    __slots__ = ("array", "bits", "fast", "obj", "structured", "text", "union")

    def __init__(self, text: str) -> None:
        self.text = text
        # a predicate, True for a value the walk would find nothing wrong with (see _fast)
        self.fast: Callable[[Any], bool] | None = None
        self.bits = 0
        self.obj: _Obj | None = None
        self.union: _Union | None = None
        self.array: _Type | None = None
        self.structured = False

    def expected(self) -> str:
        """The API's words for a value that is none of this type's alternatives."""
        if self.obj is not None or self.union is not None:
            return _WORDS["model"]
        if self.array is not None:
            return _WORDS["array"]
        for name in ("object", "string", "integer", "number", "boolean", "null"):
            if self.bits & _BITS[name] and (name != "integer" or not self.bits & _NUM):
                return _WORDS[name]
        return _WORDS["model"]


class _Obj:
    __slots__ = ("beta", "derived", "fast", "keys", "name", "open", "plans", "required", "tags")

    def __init__(self, name: str) -> None:
        self.name = name
        self.keys: dict[str, _Type] = {}
        self.required: tuple[str, ...] = ()
        self.open = False
        self.beta: dict[str, tuple[str, ...]] = {}
        self.tags: frozenset[str] = frozenset()  # the tags that name this object in some union
        self.plans: dict[type, _Plan] = {}
        self.fast: Callable[[Mapping[str, Any]], bool] | None = None  # see _compile_object
        self.derived: dict[str, Any] = {}  # what a root's checks derive from it, made once


class _Union:
    __slots__ = ("beta", "default", "expected", "name", "open", "plans", "seq_ok", "tag", "tags")

    def __init__(self, name: str) -> None:
        self.name = name
        self.tag = "type"
        self.tags: dict[str, _Obj] = {}
        self.default: _Obj | None = None
        self.beta: dict[str, tuple[str, ...]] = {}
        self.open = name in _OPEN_UNIONS
        self.expected = ""  # "'text', 'image', ..." (GA tags: what the API lists without a beta)
        # model class -> the plan of the member its class-level tag selects (None: the slow path,
        # for a tag that is unknown, beta-gated or held per instance)
        self.plans: dict[type, _Plan | None] = {}
        # a tuple of blocks that needs no walk (compiled by _seq_check; None: to compile, as a
        # class was added to plans)
        self.seq_ok: Callable[[Any], bool] | None = None

    def plan(self, cls: type) -> _Plan | None:
        try:
            return self.plans[cls]
        except KeyError:
            pass
        tag = cls.__dict__.get("type") if isinstance(cls.__dict__.get("type"), str) else None
        for base in cls.__mro__:  # a ClassVar tag may be inherited (ToolUse from its base)
            found = base.__dict__.get("type")
            if isinstance(found, str):
                tag = found
                break
        obj = self.tags.get(tag) if tag is not None and tag not in self.beta else None
        plan = _plan(obj, cls) if obj is not None and _has(cls) else None
        self.plans[cls] = plan
        self.seq_ok = None
        return plan


class Schema:
    """The closed-world request schema, compiled from ``convo/schema.json``."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.objects = {name: _Obj(name) for name in data["objects"]}
        self.unions = {name: _Union(name) for name in data["unions"]}
        self._types: dict[str, _Type] = {}
        self.betas: Mapping[str, str] = data.get("betas", {})
        for name, u in data["unions"].items():
            cu = self.unions[name]
            cu.tag = u.get("tag", "type")
            cu.tags = {tag: self.objects[obj] for tag, obj in u["tags"].items()}
            cu.default = self.objects[u["default"]] if u.get("default") else None
            cu.beta = {tag: tuple(h) for tag, h in u.get("beta", {}).items()}
            cu.expected = ", ".join(f"'{t}'" for t in u["tags"] if t not in cu.beta)
        tags: dict[str, set[str]] = {}
        for cu in self.unions.values():
            for tag, obj in cu.tags.items():
                tags.setdefault(obj.name, set()).add(tag)
        for name, o in data["objects"].items():
            co = self.objects[name]
            co.keys = {k: self.type(t) for k, t in o["keys"].items()}
            co.required = tuple(o.get("required", ()))
            co.open = bool(o.get("open"))
            co.beta = {k: tuple(h) for k, h in o.get("beta", {}).items()}
            co.tags = frozenset(tags.get(name, ()))
        for t in self._types.values():
            t.structured = not t.bits & _ANY and (
                t.obj is not None or t.union is not None or t.array is not None or bool(t.bits & _FREE))
        self.roots = {k: self.objects[v] for k, v in data["roots"].items()}

    def type(self, text: str) -> _Type:
        """The compiled type of a type string (cached: equal strings share one)."""
        t = self._types.get(text)
        if t is not None:
            return t
        t = _Type(text)
        self._types[text] = t
        for alt in split_type(text):
            if alt.startswith("[") and alt.endswith("]"):
                t.array = self.type(alt[1:-1])
            elif alt.startswith("@"):
                t.obj = self.objects[alt[1:]]
            elif alt.startswith("#"):
                t.union = self.unions[alt[1:]]
            else:
                t.bits |= _BITS[alt]
        return t

    def beta_only(self) -> dict[str, tuple[str, ...]]:
        """Every beta-only key (``Object.key``) and tag (``Union:tag``), with its headers.

        >>> load_schema().beta_only()["CreateMessageParams.context_management"]
        ('context-management-2025-06-27', 'compact-2026-01-12')
        """
        out: dict[str, tuple[str, ...]] = {}
        for o in self.objects.values():
            out.update((f"{o.name}.{k}", h) for k, h in o.beta.items())
        for u in self.unions.values():
            out.update((f"{u.name}:{t}", h) for t, h in u.beta.items())
        return out


def split_type(t: str) -> list[str]:
    """The top-level alternatives of a schema type string (``|`` outside brackets); the
    generator (scripts/make_schema.py) writes them with the same grammar.

    >>> split_type("str|list[str|int]|null")
    ['str', 'list[str|int]', 'null']
    """
    out, depth, start = [], 0, 0
    for i, ch in enumerate(t):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(t[start:i])
            start = i + 1
    out.append(t[start:])
    return out


@functools.cache
def load_schema() -> Schema:
    """The schema shipped with convo (``convo/schema.json``), read once, on first use.

    >>> s = load_schema()
    >>> "stop_sequences" in s.roots["create"].keys, "texty" in s.unions["InputContentBlock"].tags
    (True, False)
    """
    from convo import _resources

    raw = _resources.read("schema.json")
    return Schema(orjson.loads(raw))


# --------------------------------------------------------------------------- model objects

# what a field of a model object needs, decided once per (class, schema object)
_UNKNOWN, _GATED, _MAPPING, _BLOCKS, _VALUE = range(5)


class _Plan:
    """How to walk one model class as one schema object: the attributes worth looking at, each
    with what it needs (reported when set, beta-gated, a JSON object, an array of tagged blocks,
    any other walk), the required ones, and the expected tags."""

    __slots__ = ("get", "obj", "ok", "quick", "req", "required", "required_extra", "tag_checked",
                 "unset", "walk", "walk_names")

    def __init__(self, cls: type, obj: _Obj) -> None:
        self.obj = obj
        walk: list[tuple[str, int, Any]] = []
        fields = [n for n in field_names(cls) if n not in ("extra", "type")]
        order = {k: n for n, k in enumerate(obj.keys)}
        for name in sorted(fields, key=lambda f: order.get(f, len(order))):
            t = obj.keys.get(name)
            beta = obj.beta.get(name)
            if t is None:
                walk.append((name, _UNKNOWN, None))
            elif beta is not None:
                walk.append((name, _GATED, (beta, t)))
            elif not t.structured:
                continue  # a plain scalar: the codec has checked it
            elif (t.bits & _FREE and t.obj is None and t.union is None and t.array is None
                  and not t.bits & ~(_FREE | _NULL)):
                walk.append((name, _MAPPING, t))  # a JSON object (a tool input): only its shape
            elif t.array is not None and t.array.union is not None and t.obj is None and t.union is None:
                walk.append((name, _BLOCKS, t))  # content: blocks, or a scalar (a string)
            else:
                walk.append((name, _VALUE, t))
        self.walk = tuple(walk)
        # all the walked attributes at once (in C), and the tuple they make when none is set:
        # most blocks have no cache_control, citations, ..., so most take one tuple compare
        self.walk_names = tuple(w[0] for w in walk)
        self.get: Callable[[Any], tuple[Any, ...]] = _getter(self.walk_names)
        self.unset = (UNSET,) * len(walk)
        # required keys: model fields (UNSET is absent) and the others, which only extra can hold
        self.required = tuple(k for k in obj.required if k in fields)
        self.required_extra = tuple(k for k in obj.required if k not in fields and k != "type")
        self.req: Callable[[Any], tuple[Any, ...]] = _getter(self.required)
        # a class-level tag is checked once, here: instances never differ from it
        tag = getattr(cls, "type", None)
        self.tag_checked = not obj.tags or (isinstance(tag, str) and "type" not in fields
                                            and tag in obj.tags)
        self.quick = self.tag_checked and not self.required_extra  # may skip when nothing is set
        self.ok = _quick_check(self) if self.quick else _never


def _never(v: Any) -> bool:
    return False


_MISS: Any = object()


def _nested_ok(t: _Type) -> Callable[[Any], bool]:
    """For a union or object type *t*: True for a model value whose plan says ok (plans are
    made on first sight of a class)."""
    u, o = t.union, t.obj
    if u is not None:
        uplans = u.plans

        def ok(x: Any) -> bool:
            p = uplans.get(type(x), _MISS)
            if p is _MISS:
                p = u.plan(type(x))
            return p is not None and p.ok(x)
        return ok
    assert o is not None
    oplans = o.plans

    def ok_obj(x: Any) -> bool:
        p = oplans.get(type(x))
        if p is None:
            if not _has(type(x)):
                return False
            p = _plan(o, type(x))
        return p.ok(x)
    return ok_obj


def _all_ok(item: _Type) -> Callable[[Any], bool]:
    """For an array of a union *item* (content, tools): True when every element needs no walk."""
    element_ok = _fast(item)  # a model block's plan, or a JSON object's fast verdict
    u = item.union

    def ok(seq: Any) -> bool:
        if type(seq) is not tuple:
            return False
        if u is not None and (u.seq_ok or _seq_check(u))(seq):
            return True
        for x in seq:  # noqa: SIM110 (a loop, no generator: hot) - a class met first, or a block to look at
            if not element_ok(x):
                return False
        return True
    return ok


# Fields whose values the codec shares from line to line (``freeze_shared``: a request's ``tools``
# decoded from the same JSON text is the same object): their verdict is remembered by identity,
# so a run whose lines repeat their tools checks them once (a new value costs its full check).
_SHARED_FIELDS = frozenset({"tools"})
_REMEMBER = 64  # values remembered per field (then forgotten all at once)


def _remembered(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """*check*, remembering the values it found fine by identity. A value is held while it is
    remembered, so its id cannot stand for another; values are immutable, and a verdict does not
    depend on the walk's betas or allow (see :func:`_fast`), so a remembered one stays true."""
    seen: dict[int, Any] = {}

    def ok(v: Any) -> bool:
        if seen.get(id(v)) is v:
            return True
        if not check(v):
            return False
        if type(v) is not tuple:  # (a frozen value is a tuple: anything else is not remembered)
            return True
        if len(seen) >= _REMEMBER:
            seen.clear()
        seen[id(v)] = v
        return True
    return ok


def _terms(plan: _Plan, namespace: dict[str, Any], prefix: str = "") -> str:
    """The expression, over an instance ``v``, that is True when it needs no walk: no extra
    keys, every walked attribute unset or fine by its fast verdict, every required one set.
    What it calls goes into *namespace* under names that start with *prefix*. The names it reads
    are the class's attrs field names (identifiers, checked)."""
    terms = ["not v.extra"]
    namespace.update(_U=UNSET, _FD=FrozenDict)
    for k, (name, kind, t) in enumerate(plan.walk):
        if kind == _MAPPING:  # a JSON object (a tool input)
            namespace[f"{prefix}_ok{k}"] = _fast(t)
            terms.append(f"(type(v.{name}) is _FD or v.{name} is _U or {prefix}_ok{k}(v.{name}))")
        elif kind == _BLOCKS:  # content: a string, or blocks that are all fine
            check = _all_ok(t.array)
            namespace[f"{prefix}_all{k}"] = _remembered(check) if name in _SHARED_FIELDS else check
            if t.bits & _STR:
                terms.append(f"(type(v.{name}) is str or v.{name} is _U or {prefix}_all{k}(v.{name}))")
            else:
                terms.append(f"(v.{name} is _U or {prefix}_all{k}(v.{name}))")
        elif kind == _VALUE:
            # a model object (a source), a JSON one (a cache_control), an array, ...: fine when
            # its fast verdict says so (a frozen JSON object goes straight to its object's
            # verdict, a call fewer; when that says no, the fast verdict says no too)
            namespace[f"{prefix}_ok{k}"] = _fast(t)
            found_map = _mapping_of(t)
            if found_map is not None:
                namespace[f"{prefix}_map{k}"] = found_map
                terms.append(f"(v.{name} is _U or (type(v.{name}) is _FD and {prefix}_map{k}(v.{name}))"
                             f" or {prefix}_ok{k}(v.{name}))")
            else:
                terms.append(f"(v.{name} is _U or {prefix}_ok{k}(v.{name}))")
        else:
            terms.append(f"v.{name} is _U")
    terms.extend(f"v.{name} is not _U" for name in plan.required)
    assert all(_IDENT.fullmatch(n) for n, _, _ in plan.walk) and all(_IDENT.fullmatch(n) for n in plan.required)
    return " and ".join(terms)


def _quick_check(plan: _Plan) -> Callable[[Any], bool]:
    """A predicate, compiled once per (class, schema object), that is True when an instance needs
    no walk (see :func:`_terms`). One Python call per block instead of a walk: the closed world
    costs little on well-formed requests."""
    namespace: dict[str, Any] = {}
    exec(f"def ok(v):\n    return {_terms(plan, namespace)}\n", namespace)  # noqa: S102 (identifiers only)
    fn: Callable[[Any], bool] = namespace["ok"]
    return fn


def _block_lines(u: _Union, namespace: dict[str, Any], indent: str) -> list[str] | None:
    """The body of a loop over blocks ``v`` of union *u*: ``return False`` for a block that needs
    a walk, each class *u* has a plan for inlined (None when it has none yet)."""
    lines = [f"{indent}t = type(v)"]
    for k, (cls, plan) in enumerate(list(u.plans.items())):
        if plan is None or not plan.quick:
            continue
        namespace[f"C{k}"] = cls
        lines += [f"{indent}{'elif' if len(lines) > 1 else 'if'} t is C{k}:",
                  f"{indent}    if not ({_terms(plan, namespace, f'c{k}')}):",
                  f"{indent}        return False"]
    if len(lines) == 1:
        return None
    return [*lines, f"{indent}else:", f"{indent}    return False"]


def _seq_check(u: _Union) -> Callable[[Any], bool]:
    """A predicate over a tuple of model blocks of union *u*, True when none needs a walk: one
    call per message rather than one per block, each known class's check inlined. It knows the
    classes *u* has plans for; an instance of any other class answers False (the caller then
    checks block by block, which makes its plan, and the next call compiles it in)."""
    namespace: dict[str, Any] = {}
    body = _block_lines(u, namespace, "        ")
    if body is None:
        u.seq_ok = _never
        return _never
    exec("\n".join(["def ok(seq):", "    for v in seq:", *body, "    return True"]) + "\n",  # noqa: S102
         namespace)  # (identifiers and classes only)
    fn: Callable[[Any], bool] = namespace["ok"]
    u.seq_ok = fn
    return fn


def _messages_check(u: _Union, classes: frozenset[type]) -> Callable[[Any], bool]:
    """A predicate over a whole ``messages`` tuple, True when no message and no block in it needs
    a walk: every message of one of *classes* (message classes whose only keys are ``role`` and
    ``content``), no extra key, a role, string content or blocks that all pass (as
    :func:`_seq_check`). One call for the request; anything else answers False (the message pass
    then checks message by message)."""
    namespace: dict[str, Any] = {"_MSG": classes, "_U": UNSET}
    if not classes:
        return _never
    # with no block class known yet, any block needs a look (string content does not)
    body = _block_lines(u, namespace, "            ") or ["            return False"]
    exec("\n".join([  # noqa: S102 (identifiers and classes only)
        "def ok(msgs):",
        "    for m in msgs:",
        "        if type(m) not in _MSG or m.extra or m.role is _U:",
        "            return False",
        "        seq = m.content",
        "        if type(seq) is str:",
        "            continue",
        "        if type(seq) is not tuple:",
        "            return False",
        "        for v in seq:",
        *body,
        "    return True"]) + "\n", namespace)
    fn: Callable[[Any], bool] = namespace["ok"]
    return fn


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function from an object to the tuple of its attributes *names* (one C call)."""
    if not names:
        return lambda v: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda v: (one(v),)
    return operator.attrgetter(*names)


_SKIP_PLANS: dict[tuple[_Obj, type, str], _Plan] = {}


def _skip_plan(obj: _Obj, cls: type, skip: str) -> _Plan:
    """The plan of *cls* as *obj* without the attribute *skip* (made once)."""
    found = _SKIP_PLANS.get((obj, cls, skip))
    if found is not None:
        return found
    plan = _SKIP_PLANS[(obj, cls, skip)] = _Plan(cls, obj)
    plan.walk = tuple(w for w in plan.walk if w[0] != skip)
    plan.walk_names = tuple(w[0] for w in plan.walk)
    # (nor is it read as a required one: reading a conversation's messages builds them)
    plan.required = tuple(n for n in plan.required if n != skip)
    plan.get = _getter(plan.walk_names)
    plan.unset = (UNSET,) * len(plan.walk)
    plan.ok = _quick_check(plan) if plan.quick else _never
    return plan


def _plan(obj: _Obj, cls: type) -> _Plan:
    p = obj.plans.get(cls)
    if p is None:
        p = obj.plans[cls] = _Plan(cls, obj)
    return p


# --------------------------------------------------------------------------- the fast verdict

# The walk builds paths and reports; most values have nothing to report. `_fast(t)` compiles,
# once per type, a predicate that answers "nothing wrong here" without a path or a call per key:
# True means the walk would add no violation, whatever the walk's betas and allow are (a
# beta-only key or tag, or an unknown key, answers False: the walk then decides, and reports).
# False is always safe; the walk is the only place that reports.

_SCALARS = ((str, _STR), (bool, _BOOL), (int, _INT), (type(None), _NULL))


def _true(x: Any) -> bool:
    return True


def _fast(t: _Type) -> Callable[[Any], bool]:
    """The fast verdict of type *t* (compiled on first use; types that refer to themselves
    through objects and unions call theirs through ``t.fast``)."""
    found = t.fast
    if found is not None:
        return found
    t.fast = lambda x: t.fast(x)  # type: ignore[misc]  # a recursive type's placeholder
    fn = t.fast = _compile_type(t)
    return fn


def _compile_type(t: _Type) -> Callable[[Any], bool]:
    bits = t.bits
    if bits & _ANY:
        return _true
    scalars = frozenset(py for py, bit in _SCALARS if bits & bit)
    if not t.structured and not bits & _INT:  # plain scalars (most keys): one set lookup
        return lambda x: type(x) in scalars
    item = t.array
    if (item is not None and not item.structured and not item.bits & (_INT | _ANY) and t.obj is None
            and t.union is None and not bits & ~_NULL):  # an array of plain scalars (a list of names)
        each = frozenset(py for py, bit in _SCALARS if item.bits & bit)
        nullable = bool(bits & _NULL)

        def ok_list(x: Any) -> bool:
            if type(x) is not tuple and type(x) is not list:
                return nullable and x is None
            for y in x:  # noqa: SIM110 (a loop, no generator: hot)
                if type(y) not in each:
                    return False
            return True
        return ok_list
    float_ok = 2 if bits & _NUM else 1 if bits & _INT else 0  # 1: only a whole float
    arr = _compile_array(t.array) if t.array is not None else None
    mapping = _mapping_of(t)
    model = _nested_ok(t) if t.union is not None or t.obj is not None else None
    # a model class already met (a source, a block): its plan, one lookup (a class not met yet,
    # or one whose tag is unknown, goes the long way below, which makes or refuses its plan)
    plans: dict[type, Any] = (t.union.plans if t.union is not None
                              else t.obj.plans if t.obj is not None else {})

    def ok(x: Any) -> bool:
        tx = type(x)
        if tx in scalars:
            return True
        if tx is FrozenDict or tx is dict:
            return mapping is not None and mapping(x)
        p = plans.get(tx)
        if p is not None:
            return bool(p.ok(x))
        if tx is tuple:
            return arr is not None and arr(x)
        if tx is float:
            return float_ok == 2 or (float_ok == 1 and x.is_integer())
        if model is not None and _has(tx):  # convo's model classes: neither arrays nor mappings
            return model(x)
        if isinstance(x, tuple | list):
            return arr is not None and arr(x)
        if isinstance(x, dict | Mapping):
            return mapping is not None and mapping(x)
        return False
    return ok


def _mapping_of(t: _Type) -> Callable[[Any], bool] | None:
    """The verdict of type *t* on a JSON object (None: *t* takes none), which is its fast
    verdict on one: callers that see a ``dict`` call it directly, a call fewer."""
    if t.union is not None:
        return _compile_union(t.union)
    if t.obj is not None:
        return _compile_object(t.obj)
    return _true if t.bits & _FREE else None


def _compile_array(item: _Type) -> Callable[[Any], bool]:
    if item.bits & _ANY and not item.structured:
        return _true
    each = _fast(item)
    mapping = _mapping_of(item)
    if mapping is None:
        def ok_each(seq: Any) -> bool:
            for x in seq:  # noqa: SIM110 (a loop, no generator: hot)
                if not each(x):
                    return False
            return True
        return ok_each

    def ok(seq: Any) -> bool:
        for x in seq:  # noqa: SIM110 (hot) - parsed JSON blocks (a lazy turn) go straight to their object
            if not (mapping(x) if type(x) is dict or type(x) is FrozenDict else each(x)):
                return False
        return True
    return ok


def _compile_union(u: _Union) -> Callable[[Mapping[str, Any]], bool]:
    """For a JSON object in union *u*: its tag selects a member whose verdict it takes."""
    members = {tag: _compile_object(obj) for tag, obj in u.tags.items() if tag not in u.beta}
    default = _compile_object(u.default) if u.default is not None else None
    tag_key, is_open, beta = u.tag, u.open, u.beta

    def ok(v: Mapping[str, Any]) -> bool:
        tag = v.get(tag_key, _MISS)
        member = members.get(tag) if type(tag) is str else None
        if member is None:
            if is_open:  # an unknown tag of an open union is checked elsewhere
                return type(tag) is str and tag not in beta
            if (tag is _MISS or tag is None) and default is not None:
                return default(v)
            return False
        return member(v)
    return ok


def _compile_object(obj: _Obj) -> Callable[[Mapping[str, Any]], bool]:
    """For a JSON object as *obj*: known keys only (no beta-only one), each of its type, the
    required ones present, a ``type`` that names *obj*."""
    found = obj.fast
    if found is not None:
        return found
    checks: dict[str, Callable[[Any], bool]] = {}
    plain: dict[str, frozenset[type]] = {}  # keys of plain scalar types: the types they take
    direct: dict[str, Callable[[Any], bool]] = {}  # keys that take an object: its verdict on a dict
    obj.fast = lambda v: fn(v)  # a recursive object's placeholder
    for k, kt in obj.keys.items():
        if k in obj.beta or kt.bits & _ANY:
            continue
        if not kt.structured and (kt.bits & _NUM or not kt.bits & _INT):
            # a number takes a float, an int but not a bool; an integer-only key a whole float
            # (checked by its call below)
            plain[k] = frozenset([*(py for py, bit in _SCALARS if kt.bits & bit),
                                  *((float,) if kt.bits & _NUM else ())])
        else:
            checks[k] = _fast(kt)
            found_map = _mapping_of(kt)
            if found_map is not None:
                direct[k] = found_map
    known = frozenset(k for k in obj.keys if k not in obj.beta)
    beta, is_open, required = frozenset(obj.beta), obj.open, obj.required
    tags = obj.tags
    null_tag = "type" in obj.keys and bool(obj.keys["type"].bits & _NULL)

    def fn(v: Mapping[str, Any]) -> bool:
        if is_open:
            if not beta.isdisjoint(v):
                return False
        elif not known.issuperset(v):
            return False
        for k, x in v.items():
            allowed = plain.get(k)
            if allowed is not None:
                if type(x) not in allowed:
                    return False
                continue
            check = checks.get(k)
            if check is not None:
                if type(x) is dict or type(x) is FrozenDict:
                    found = direct.get(k)
                    if found is not None:
                        if not found(x):
                            return False
                        continue
                if not check(x):
                    return False
        for k in required:
            if k not in v:
                return False
        if tags:
            tag = v.get("type", _MISS)
            if tag is not _MISS and not (type(tag) is str and tag in tags) and not (tag is None and null_tag):
                return False
        return True
    obj.fast = fn
    return fn


# --------------------------------------------------------------------------- the walk


class Walk:
    """One check of a request against the schema; violations go to *add*.

    *betas* are the ``anthropic-beta`` header values the request is sent with; *allow* names
    unknown keys to accept: a key name (accepted at any depth) or a ``$.path`` pattern with
    ``*`` wildcards (``$.messages[*].content[*].x_meta``).
    """

    __slots__ = ("add", "allow_keys", "allow_paths", "betas", "schema")

    def __init__(self, schema: Schema, add: Callable[[Violation], None], *,
                 betas: Iterable[str] = (), allow: Iterable[str] = ()) -> None:
        self.schema = schema
        self.add = add
        self.betas = frozenset(betas)
        keys, paths = set(), []
        for a in allow:
            (paths.append(_path_pattern(a)) if a.startswith("$") else keys.add(a))
        self.allow_keys = frozenset(keys)
        self.allow_paths = tuple(paths)

    # ------------------------------------------------------------------ verdicts

    def _beta_ok(self, headers: tuple[str, ...]) -> bool:
        if not headers:
            return bool(self.betas)  # a beta key of an unnamed header: any beta header
        return not self.betas.isdisjoint(headers)

    def _allowed(self, key: str, path: str) -> bool:
        if key in self.allow_keys:
            return True
        return any(pat.fullmatch(path) for pat in self.allow_paths)

    def _unknown(self, obj: _Obj, key: str, base: str) -> None:
        path = key_path(base, key)
        if self._allowed(key, path):
            return
        self.add(_violation("schema.unknown-key", path, _EXTRA, _suggest(obj, key)))

    def _gated(self, headers: tuple[str, ...], what: str, path: str, message: str) -> None:
        if headers:
            names = " or ".join(f"`anthropic-beta: {h}`" for h in headers)
            hint = f"{what} exists only in the beta API: send the {names} header (validate(betas=...), --beta)"
        else:
            hint = (f"{what} exists only in the beta API: send its `anthropic-beta` header "
                    "(validate(betas=...), --beta)")
        self.add(_violation("schema.beta-only", path, message, hint))

    def _wrong(self, t: _Type, path: str) -> None:
        self.add(_violation("schema.wrong-type", path, t.expected()))

    # ------------------------------------------------------------------ values

    def value(self, v: Any, t: _Type, path: str) -> None:
        """Check the value *v* found at *path* against the type *t*."""
        bits = t.bits
        if bits & _ANY:
            return
        tv = type(v)
        if tv is str:
            ok = bits & _STR
        elif tv is bool:
            ok = bits & _BOOL
        elif tv is int:
            ok = bits & _INT
        elif tv is float:
            ok = bits & _NUM or (bits & _INT and v.is_integer())
        elif v is None:
            ok = bits & _NULL
        elif isinstance(v, tuple | list):
            item = t.array
            if (t.fast or _fast(t))(v):
                return
            if item is None:
                self._wrong(t, path)
            elif item.union is not None:
                self.blocks(v, item, path)
            elif item.obj is not None and not item.bits:
                # an array of one object type (messages): model objects go straight to their plan
                plans = item.obj.plans
                for i, x in enumerate(v):
                    plan = plans.get(type(x))
                    if plan is None and _has(type(x)):
                        plan = _plan(item.obj, type(x))
                    if plan is not None:
                        if not plan.ok(x):
                            self.fields(x, plan, path, i)
                    else:
                        self.value(x, item, f"{path}[{i}]")
            elif item.structured or not item.bits & _ANY:
                for i, x in enumerate(v):
                    self.value(x, item, f"{path}[{i}]")
            return
        elif isinstance(v, dict | Mapping):
            if (t.fast or _fast(t))(v):
                return
            if t.union is not None:
                self.json_union(v, t.union, path)
            elif t.obj is not None:
                self.json_object(v, t.obj, path)
            elif not bits & _FREE:
                self._wrong(t, path)
            return
        elif _has(tv):
            if t.union is not None:
                self.model_union(v, t.union, path)
            elif t.obj is not None:
                self.model_object(v, t.obj, path)
            else:
                self._wrong(t, path)
            return
        else:
            ok = 0
        if not ok:
            self._wrong(t, path)

    def blocks(self, seq: Any, item: _Type, path: str) -> None:
        """An array of tagged objects (content blocks, sources, tools): the hot loop. A model
        block of a known class goes straight to its plan; anything else takes :meth:`value`."""
        u = item.union
        assert u is not None
        plans = u.plans
        for i, b in enumerate(seq):
            cls = type(b)
            try:
                plan = plans[cls]
            except KeyError:
                plan = u.plan(cls)
            if plan is None:
                self.value(b, item, f"{path}[{i}]")
            elif not plan.ok(b):
                self.fields(b, plan, path, i)
            # else: nothing set that needs a look, nothing missing (most blocks): no call at all

    # ------------------------------------------------------------------ unions

    def _member(self, u: _Union, tag: Any, path: str) -> _Obj | None:
        """The object *tag* selects in *u* (a violation and None when it selects none)."""
        obj = u.tags.get(tag) if type(tag) is str else None
        if obj is None:
            if u.open:
                return None
            if tag is UNSET or (tag is None and u.default is not None):
                # no tag, or a null one (the spec: a client tool's `type` is "custom" or null)
                if u.default is not None:
                    return u.default
                self.add(_violation("schema.unknown-type", path,
                                    f"Unable to extract tag using discriminator '{u.tag}'",
                                    f"Give it a `{u.tag}`: one of {u.expected}."))
                return None
            self.add(_violation(
                "schema.unknown-type", path,
                f"Input tag {_quote(tag)} found using '{u.tag}' does not match any of the expected "
                f"tags: {u.expected}", _suggest_tag(u, tag)))
            return None
        headers = u.beta.get(tag)
        if headers is not None and not self._beta_ok(headers):
            self._gated(headers, f"`{u.tag}: {tag}`", path,
                        f"Input tag {_quote(tag)} found using '{u.tag}' does not match any of the "
                        f"expected tags: {u.expected}")
            return None
        return obj

    def json_union(self, v: Mapping[str, Any], u: _Union, path: str) -> None:
        obj = self._member(u, v.get(u.tag, UNSET), path)
        if obj is not None:
            self.json_object(v, obj, path)

    def model_union(self, v: Any, u: _Union, path: str) -> None:
        obj = self._member(u, getattr(v, "type", UNSET), path)
        if obj is not None:
            self.model_object(v, obj, path)

    # ------------------------------------------------------------------ objects

    def keys(self, items: Iterable[tuple[str, Any]], obj: _Obj, path: str) -> None:
        """The keys and values of a JSON object as *obj* (or a model object's ``extra``): each
        known, not beta-only without its header, and a value of its type."""
        keys = obj.keys
        for k, x in items:
            t = keys.get(k)
            if t is None:
                if not obj.open:
                    self._unknown(obj, k, path)
                continue
            if obj.beta:
                headers = obj.beta.get(k)
                if headers is not None and not self._beta_ok(headers):
                    self._gated(headers, f"`{k}`", key_path(path, k), _EXTRA)
                    continue
            bits = t.bits
            if bits & _ANY or (type(x) is str and bits & _STR):
                continue  # any JSON, or the common case of a string where one belongs
            self.value(x, t, f"{path}.{k}")

    def json_object(self, v: Mapping[str, Any], obj: _Obj, path: str, *, required: bool = True) -> None:
        keys = obj.keys
        self.keys(v.items(), obj, path)
        tag = v.get("type", UNSET)
        if obj.tags and tag is not UNSET and tag not in obj.tags and not (
                tag is None and "type" in keys and keys["type"].bits & _NULL):
            self._wrong_tag(obj, path)
        if required:
            for k in obj.required:
                if k not in v:
                    self.add(_violation("schema.missing-key", f"{path}.{k}", _REQUIRED))

    def model_object(self, v: Any, obj: _Obj, path: str, *, required: bool = True,
                     skip: str | None = None) -> None:
        """Check the model object *v* as *obj* (every attribute but *skip*, which the caller checks)."""
        if skip is None:
            plan = obj.plans.get(type(v)) or _plan(obj, type(v))
        else:
            plan = _skip_plan(obj, type(v), skip)
        self.fields(v, plan, path, None, required=required)

    def fields(self, v: Any, plan: _Plan, base: str, index: int | None, *,
               required: bool = True) -> None:
        """The fields and extra keys of the model object *v* (at ``base[index]``, or *base*)."""
        if plan.ok(v):
            return  # the common case: nothing set that needs a look, nothing required missing
        values = plan.get(v)
        extra = v.extra
        path = base if index is None else f"{base}[{index}]"
        obj = plan.obj
        for (name, kind, t), x in zip(plan.walk, values, strict=True):
            if x is UNSET or x is NO_MESSAGES:
                continue
            if kind != _UNKNOWN and kind != _GATED and (t.fast or _fast(t))(x):
                continue  # nothing wrong in it: no path, no walk
            if kind == _MAPPING:
                if not isinstance(x, dict | Mapping) and not (x is None and t.bits & _NULL):
                    self._wrong(t, f"{path}.{name}")
            elif kind == _BLOCKS:
                if isinstance(x, tuple | list):
                    self.blocks(x, t.array, f"{path}.{name}")
                else:
                    self.value(x, t, f"{path}.{name}")
            elif kind == _VALUE:
                self.value(x, t, f"{path}.{name}")
            elif kind == _UNKNOWN:
                self._unknown(obj, name, path)
            else:  # _GATED
                headers, tt = t
                if not self._beta_ok(headers):
                    self._gated(headers, f"`{name}`", f"{path}.{name}", _EXTRA)
                elif tt.structured:
                    self.value(x, tt, f"{path}.{name}")
        if extra:
            self.keys(extra.items(), obj, path)
        if not plan.tag_checked and getattr(v, "type", None) not in obj.tags:
            self._wrong_tag(obj, path)
        if required:
            for k in plan.required:
                if getattr(v, k) is UNSET:
                    self.add(_violation("schema.missing-key", f"{path}.{k}", _REQUIRED))
            for k in plan.required_extra:
                if k not in extra:
                    self.add(_violation("schema.missing-key", f"{path}.{k}", _REQUIRED))

    def _wrong_tag(self, obj: _Obj, path: str) -> None:
        want = " or ".join(f"'{t}'" for t in sorted(obj.tags))
        self.add(_violation("schema.unknown-type", f"{path}.type", f"Input should be {want}"))


def _path_pattern(pattern: str) -> re.Pattern[str]:
    """A ``$.path`` pattern as a regex: ``*`` stands for one key or index (``[*]``, ``.*``).

    >>> bool(_path_pattern("$.messages[*].content[*].x_meta").fullmatch("$.messages[3].content[0].x_meta"))
    True
    """
    return re.compile(".*?".join(re.escape(part) for part in pattern.split("*")).replace(".*?", r"[^.\[\]]*"))


def _parts(root: _Obj) -> tuple[_Type, _Obj, _Type, _Union, set[type]]:
    """The parts of a root's messages check: the messages array and object, the content array and
    union, and the plain message classes met so far."""
    parts: tuple[_Type, _Obj, _Type, _Union, set[type]] | None = root.derived.get("parts")
    if parts is None:
        mt = root.keys["messages"]
        assert mt.array is not None and mt.array.obj is not None
        item = mt.array.obj.keys["content"].array
        assert item is not None and item.union is not None
        # message classes whose only walked attribute is `content` and that need `role` only:
        # for those, a message with no extra key and str or tuple content needs no call
        parts = root.derived["parts"] = (mt.array, mt.array.obj, item, item.union, set())
    return parts


def parsed_content_ok(content: Any, *, root: str = "create") -> bool:
    """True when a message's content as parsed JSON (a string, or a list of block objects, as a
    lazily decoded turn keeps it) has nothing the closed-world walk would report, judged without
    building a block. False means "maybe": build the blocks and walk them.

    >>> parsed_content_ok([{"type": "text", "text": "hi"}]), parsed_content_ok([{"type": "text", "text": "hi", "x": 1}])
    (True, False)
    """
    return _fast(_parts(load_schema().roots[root])[1].keys["content"])(content)


def check_request(conversation: Any, schema: Schema, root: str, add: Callable[[Violation], None], *,
                  betas: Iterable[str] = (), allow: Iterable[str] = (),
                  messages_clean: bool = False) -> MessageCheck | None:
    """The closed-world check of a request: its top level now (violations go to *add*), and what
    the message pass must check: None when no message and no block needs a walk (one call for
    the whole request, as most are clean, or none when *messages_clean*: the parsed turns were
    judged clean by :func:`convo.rules._turns.clean_turns`), else the :class:`MessageCheck` the
    pass runs as it visits each message and block."""
    obj = schema.roots[root]
    plan = _skip_plan(obj, type(conversation), "messages")  # the message pass checks those
    walk = None
    if not plan.ok(conversation):
        walk = Walk(schema, add, betas=betas, allow=allow)
        # the root's required keys (model, max_tokens, messages) have rules of their own
        walk.fields(conversation, plan, "$", None, required=False)
    if messages_clean:
        return None
    msgs = conversation.messages
    if type(msgs) is tuple and _messages_ok(obj, msgs):
        return None
    return MessageCheck(walk or Walk(schema, add, betas=betas, allow=allow), obj)


def _messages_ok(root: _Obj, msgs: tuple[Any, ...]) -> bool:
    """True when no message of *msgs* and no block in them needs a walk."""
    _, _, _, union, simple = _parts(root)
    blocks_ok = union.seq_ok or _seq_check(union)
    # (the blocks check it was made with, the message classes, the check); the set of plain
    # message classes only grows: its size tells whether it changed
    cached = root.derived.get("messages_ok")
    if cached is None or cached[0] is not blocks_ok or len(cached[1]) != len(simple):
        classes = frozenset(simple)
        cached = root.derived["messages_ok"] = (blocks_ok, classes, _messages_check(union, classes))
    fn: Callable[[Any], bool] = cached[2]
    return fn(msgs)


class MessageCheck:
    """The closed-world check of ``messages``, split so that the message pass of
    :mod:`convo.rules._messages` runs it while it visits each message and block anyway:
    :meth:`message` checks a message's own keys (and walks the whole message when it is not a
    plain one), ``content_ok`` a whole content tuple at once, :meth:`block` one content block;
    ``plans`` maps a block class to its plan, whose ``ok`` predicate is True for a block that
    needs no walk (the caller tests it first)."""

    __slots__ = ("content_ok", "item", "mobj", "msg_item", "plans", "simple", "union", "walk")

    def __init__(self, walk: Walk, root: _Obj) -> None:
        self.walk = walk
        self.msg_item, self.mobj, self.item, self.union, self.simple = _parts(root)
        self.plans = self.union.plans
        # True when no block of a content tuple needs a walk: one call per message (the classes
        # known when the pass starts; a block of another class answers False)
        self.content_ok: Callable[[Any], bool] = self.union.seq_ok or _seq_check(self.union)

    def message(self, msg: Any, i: int) -> bool:
        """Check message *i*; True when its blocks are left to :meth:`block` (a tuple content)."""
        cls = type(msg)
        plan = self.mobj.plans.get(cls)
        if plan is None:
            if not _has(cls):
                self.walk.value(msg, self.msg_item, f"$.messages[{i}]")
                return False
            plan = _plan(self.mobj, cls)
        plain = plan.walk_names == ("content",)
        if plain and cls not in self.simple and plan.required in (("content", "role"), ("role", "content")):
            self.simple.add(cls)  # all_ok and the caller may judge the next ones themselves
        if type(msg.content) is tuple and not msg.extra and msg.role is not UNSET and plain:
            return True  # the caller visits the blocks anyway: they are checked there
        if plan.ok(msg):
            return False  # string content, nothing else set: done
        self.walk.fields(msg, plan, "$.messages", i)
        return False

    def block(self, b: Any, i: int, j: int) -> None:
        """Walk block *j* of message *i* (one whose plan's ``ok`` said no, or has no plan)."""
        plan = self.union.plan(type(b))
        if plan is None:
            self.walk.value(b, self.item, f"$.messages[{i}].content[{j}]")
        else:
            self.walk.fields(b, plan, f"$.messages[{i}].content", j)


def _quote(v: Any) -> str:
    return f"'{v}'" if isinstance(v, str) else repr(v)


@functools.lru_cache(maxsize=4096)  # (difflib costs ~80 µs a key; a file repeats its unknown keys)
def _suggest(obj: _Obj, key: str) -> str:
    """The hint for an unknown *key* of *obj*: a close known key, a known mistake, or how to go on."""
    alias = _ALIASES.get(key)
    if alias is not None:
        return f"Did you mean {alias}? The API rejects unknown keys."
    import difflib  # (a hint, for a key the schema does not have)

    close = difflib.get_close_matches(key, list(obj.keys), n=1, cutoff=0.75)
    if close:
        found = close[0]
        if found in obj.beta:
            return f"Did you mean `{found}` (a beta key)?"
        return f"Did you mean `{found}`?"
    return ("Remove it: the API refuses unknown keys (drop_unknown_fields() removes them all). If a "
            "newer API takes it, accept it with validate(allow=[...]) / --allow KEY.")


def _suggest_tag(u: _Union, tag: Any) -> str:
    if isinstance(tag, str):
        return _suggest_str_tag(u, tag)
    return f"Use one of the types the API knows here: {u.expected}."


@functools.lru_cache(maxsize=4096)
def _suggest_str_tag(u: _Union, tag: str) -> str:
    import difflib

    close = difflib.get_close_matches(tag, list(u.tags), n=1, cutoff=0.6)
    if close:
        return f"Did you mean `{close[0]}`?"
    return f"Use one of the types the API knows here: {u.expected}."


# --------------------------------------------------------------------------- helpers


def betas_needed(value: Any, *, endpoint: str = "create") -> set[str]:
    """The beta features a request uses, as header names (one per feature: the first the schema
    names), for requests recorded without their headers.

    *value* is a :class:`~convo.model.Conversation` or a request's JSON.

    >>> sorted(betas_needed({"model": "m", "max_tokens": 1, "messages": [],
    ...                      "context_management": {"edits": []}}))
    ['context-management-2025-06-27']
    """
    found: set[str] = set()

    def add(v: Violation) -> None:
        if v.rule == "schema.beta-only":
            headers = re.findall(r"`anthropic-beta: ([^`]+)`", v.hint)
            found.add(headers[0] if headers else "beta")

    schema = load_schema()
    walk = Walk(schema, add)
    root = schema.roots[endpoint]
    if isinstance(value, Mapping):
        walk.json_object(value, root, "$")
    else:
        walk.model_object(value, root, "$")
    return found


def api_location(body: Any, path: str, *, endpoint: str = "create") -> str:
    """The API's location (its error ``loc``) for a ``$.path`` into the request JSON *body*: the
    dotted steps, with the tag of each tagged union crossed (``messages.0.content.1.tool_use.text``,
    ``tools.0.custom.name``, ``system.1.cache_control.ephemeral.scope``), as the API words its
    errors (facts §11).

    >>> body = {"tools": [{"name": "a", "input_schema": {}, "x": 1}],
    ...         "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "foo": 1}]}]}
    >>> api_location(body, "$.messages[0].content[0].foo"), api_location(body, "$.tools[0].x")
    ('messages.0.content.0.text.foo', 'tools.0.custom.x')
    """
    schema = load_schema()
    steps = parse_path(path)
    out: list[str] = []
    cur: Any = body
    t: _Type | None = None
    obj: _Obj | None = schema.roots[endpoint]
    for n, step in enumerate(steps):
        if isinstance(step, int):
            out.append(str(step))
            cur = cur[step] if isinstance(cur, list | tuple) and step < len(cur) else None
            t = t.array if t is not None else None
        else:
            out.append(step)
            cur = cur.get(step) if isinstance(cur, Mapping) else None
            t = obj.keys.get(step) if obj is not None else None
        obj = None
        if t is None:
            continue
        if t.union is not None and isinstance(cur, Mapping) and n < len(steps) - 1:
            u = t.union
            tag = cur.get(u.tag, UNSET)
            member = u.tags.get(tag) if isinstance(tag, str) else (
                u.default if tag is UNSET or tag is None else None)
            if member is not None:
                name = tag if isinstance(tag, str) else next(
                    (k for k, o in u.tags.items() if o is member), "")
                out.append(name)
                obj = member
        elif t.obj is not None:
            obj = t.obj
    return ".".join(str(s) for s in out)
