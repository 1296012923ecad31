"""Hypothesis strategies that generate instances of the OpenAPI spec's component schemas (test-only).

hypothesis-jsonschema cannot do this (see shared/NOTES.md: it fails with current Hypothesis and
does not finish on ``CreateMessageParams``), so this is a small schema walker of our own over
``components.schemas``: ``$ref``, ``oneOf``/``anyOf`` (a discriminator's alternatives carry their
``const`` tag, so choosing an alternative is enough), ``type`` (one or a list), required and
optional ``properties``, ``additionalProperties`` (``true``, ``false`` or a schema), ``enum``,
``const``, string ``minLength``/``maxLength``/``pattern``/``format``, number bounds (inclusive and
exclusive), array ``items``/``minItems``/``maxItems``, and a depth limit: past ``max_depth``
objects keep only their required properties, arrays their minimum length, and unions prefer
their scalar alternatives, so recursion (documents holding blocks holding documents) ends.

Every component a drawn value came from is recorded in ``reached`` (for the coverage report).
:func:`with_unknowns` then adds what a future API version might send: unknown keys in every
object and unknown block types in every array of typed objects.

Run ``python tests/_spec_strategies.py`` to print how many components the generator reaches.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

SPEC_DIR = Path(__file__).parents[1].parent / "shared" / "spec"
GA_SPEC = "anthropic-openapi-messages.json"
BETA_SPEC = "anthropic-openapi-beta-messages.json"

# Keywords that only annotate; everything else must be understood or the walker refuses.
_ANNOTATIONS = frozenset({
    "title", "description", "default", "examples", "example", "deprecated", "discriminator",
    "format", "readOnly", "writeOnly",
})
_ASSERTIONS = frozenset({
    "$ref", "anyOf", "oneOf", "type", "properties", "required", "additionalProperties", "enum",
    "const", "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "items", "minItems", "maxItems",
})
_REF = "#/components/schemas/"
_SCALARS = frozenset({"string", "integer", "number", "boolean", "null"})

# Strings in several scripts, astral characters, escapes and JSON's awkward characters.
_SPECIAL_TEXT = ("", " ", "héllo", "日本語のテキスト", "Привет", "مرحبا", "😀🚀 astral 𝄞", "\u2028\u2029",
                 "tab\tnew\nline", 'quote " backslash \\', "\u0000nul", "e\u0301 combining")


@cache
def load_spec(name: str = GA_SPEC) -> dict[str, Any]:
    """The OpenAPI document *name* from shared/spec (parsed once)."""
    with open(SPEC_DIR / name, "rb") as f:
        spec: dict[str, Any] = json.load(f)
    return spec


def texts(min_size: int = 0, max_size: int | None = None) -> st.SearchStrategy[str]:
    """Unicode strings (any code point but surrogates) mixed with hand-picked awkward ones."""
    top = 24 if max_size is None else min(max_size, 24)
    general = st.text(min_size=min_size, max_size=max(top, min_size))
    special = st.sampled_from(_SPECIAL_TEXT).filter(
        lambda s: len(s) >= min_size and (max_size is None or len(s) <= max_size)
    )
    return st.one_of(special, general)


def json_values(*, huge_ints: bool = True) -> st.SearchStrategy[Any]:
    """Arbitrary JSON (what a ``{}`` schema accepts), with integers beyond 64 bits if *huge_ints*."""
    ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
    if huge_ints:
        ints = st.one_of(ints, st.integers(min_value=2**64, max_value=10**40),
                         st.integers(min_value=-(10**40), max_value=-(2**63) - 1))
    scalars = st.one_of(
        st.none(), st.booleans(), ints,
        st.floats(allow_nan=False, allow_infinity=False), texts(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(texts(max_size=12), inner, max_size=3)
        ),
        max_leaves=8,
    )


class SchemaStrategies:
    """Strategies for the component schemas of one OpenAPI document."""

    def __init__(self, spec: dict[str, Any], *, max_depth: int = 6, max_items: int = 3) -> None:
        self.spec = spec
        self.schemas: dict[str, Any] = spec["components"]["schemas"]
        self.max_depth = max_depth
        self.max_items = max_items
        self.reached: set[str] = set()
        self._cache: dict[tuple[str, int], st.SearchStrategy[Any]] = {}

    def component(self, name: str, depth: int = 0) -> st.SearchStrategy[Any]:
        """Instances of ``components.schemas[name]``."""
        if name not in self.schemas:
            raise KeyError(f"no component schema {name!r}")
        key = (name, min(depth, self.max_depth))
        strat = self._cache.get(key)
        if strat is None:
            mark = self._marker(name)
            strat = st.deferred(lambda: self.schema(self.schemas[name], key[1]).map(mark))
            self._cache[key] = strat
        return strat

    def _marker(self, name: str) -> Callable[[Any], Any]:
        def mark(value: Any) -> Any:
            self.reached.add(name)
            return value

        return mark

    def reachable(self, *roots: str) -> set[str]:
        """Every component a ``$ref`` chain from *roots* can lead to (the static upper bound)."""
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(_refs(self.schemas[name]))
        return seen

    # ------------------------------------------------------------------ the walk

    def schema(self, s: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
        """Instances of the schema *s* at nesting *depth*."""
        unknown = set(s) - _ASSERTIONS - _ANNOTATIONS
        unknown = {k for k in unknown if not k.startswith("x-")}
        if unknown:
            raise NotImplementedError(f"schema keywords not understood: {sorted(unknown)}")
        if "$ref" in s:
            ref = s["$ref"]
            if not ref.startswith(_REF):
                raise NotImplementedError(f"$ref outside components.schemas: {ref}")
            return self.component(ref[len(_REF):], depth)
        if "const" in s:
            return st.just(s["const"])
        if "enum" in s:
            return st.sampled_from(s["enum"])
        alternatives = s.get("anyOf") or s.get("oneOf")
        if alternatives is not None:
            if depth >= self.max_depth:
                leaves = [a for a in alternatives if self._is_leaf(a)]
                alternatives = leaves or alternatives
            return st.one_of([self.schema(a, depth) for a in alternatives])
        t = s.get("type")
        if isinstance(t, list):
            return st.one_of([self.schema({**s, "type": one}, depth) for one in t])
        if t is None:
            if "properties" in s or "additionalProperties" in s:
                t = "object"
            elif "items" in s:
                t = "array"
            else:
                return json_values()  # {}: any JSON value
        if t == "object":
            return self._object(s, depth)
        if t == "array":
            return self._array(s, depth)
        if t == "string":
            return self._string(s)
        if t == "integer":
            return st.integers(**self._bounds(s, integer=True))
        if t == "number":
            b = self._bounds(s, integer=False)
            return st.one_of(
                st.floats(allow_nan=False, allow_infinity=False, **b),
                st.integers(**{k: int(v) for k, v in b.items() if k in ("min_value", "max_value")}),
            )
        if t == "boolean":
            return st.booleans()
        if t == "null":
            return st.none()
        raise NotImplementedError(f"schema type {t!r}")

    def _is_leaf(self, s: dict[str, Any]) -> bool:
        """Whether *s* is a scalar (no recursion can start there)."""
        if "$ref" in s:
            return False
        if "const" in s or "enum" in s:
            return True
        t = s.get("type")
        return isinstance(t, str) and t in _SCALARS

    def _object(self, s: dict[str, Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
        props: dict[str, Any] = s.get("properties", {})
        required = [p for p in s.get("required", []) if p in props]
        bottom = depth >= self.max_depth
        req = {p: self.schema(props[p], depth + 1) for p in required}
        opt = {} if bottom else {
            p: self.schema(sub, depth + 1) for p, sub in props.items() if p not in required
        }
        base = st.fixed_dictionaries(req, optional=opt)
        extra = s.get("additionalProperties", True)
        if bottom or extra is False:
            return base
        if extra is True:
            if props:  # a described object that also allows others: keep to what is described
                return base
            values = json_values()
        else:
            values = self.schema(extra, depth + 1)
        keys = texts(max_size=12).filter(lambda k: k not in props)
        more = st.dictionaries(keys, values, max_size=self.max_items)
        return st.tuples(base, more).map(lambda pair: {**pair[1], **pair[0]})

    def _array(self, s: dict[str, Any], depth: int) -> st.SearchStrategy[list[Any]]:
        items = s.get("items", {})
        low = s.get("minItems", 0)
        high = s.get("maxItems")
        cap = low if depth >= self.max_depth else max(low, self.max_items)
        high = cap if high is None else min(high, cap)
        return st.lists(self.schema(items, depth + 1), min_size=low, max_size=high)

    def _string(self, s: dict[str, Any]) -> st.SearchStrategy[str]:
        low = s.get("minLength", 0)
        high = s.get("maxLength")
        fmt = s.get("format")
        if "pattern" in s:
            base: st.SearchStrategy[str] = st.from_regex(s["pattern"], fullmatch=True)
        elif fmt == "byte":
            base = st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode("ascii"))
        elif fmt == "date-time":
            base = st.datetimes(
                min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)  # naive bounds; the values get UTC
            ).map(lambda d: d.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z"))
        else:
            return texts(min_size=low, max_size=high)
        return base.filter(lambda x: len(x) >= low and (high is None or len(x) <= high))

    @staticmethod
    def _bounds(s: dict[str, Any], *, integer: bool) -> dict[str, Any]:
        b: dict[str, Any] = {}
        if "minimum" in s:
            b["min_value"] = s["minimum"]
        if "maximum" in s:
            b["max_value"] = s["maximum"]
        if "exclusiveMinimum" in s:
            b["min_value"] = s["exclusiveMinimum"] + 1 if integer else s["exclusiveMinimum"]
            if not integer:
                b["exclude_min"] = True
        if "exclusiveMaximum" in s:
            b["max_value"] = s["exclusiveMaximum"] - 1 if integer else s["exclusiveMaximum"]
            if not integer:
                b["exclude_max"] = True
        if integer:  # keep to what JSON parsers commonly hold exactly unless bounded otherwise
            b.setdefault("min_value", -(2**63))
            b.setdefault("max_value", 2**64 - 1)
        return b


def _refs(s: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(s, dict):
        for k, v in s.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(_REF):
                out.add(v[len(_REF):])
            elif k not in ("examples", "example", "default", "const", "enum"):
                out |= _refs(v)
    elif isinstance(s, list):
        for v in s:
            out |= _refs(v)
    return out


# --------------------------------------------------------------------------- unknowns

UNKNOWN_BLOCK_TYPES = ("future_block_2031", "hologram", "x-custom")


def with_unknowns(value: Any, rnd: random.Random, *, rate: float = 0.5) -> Any:
    """A deep copy of *value* with unknown keys added to objects and unknown typed objects
    inserted into arrays of typed objects (content block lists and the like)."""
    value = copy.deepcopy(value)
    _inject(value, rnd, rate)
    return value


def _inject(v: Any, rnd: random.Random, rate: float) -> None:
    if isinstance(v, dict):
        for child in list(v.values()):
            _inject(child, rnd, rate)
        if rnd.random() < rate:
            key = f"zz_unknown_{rnd.randrange(1000)}"
            if key not in v:
                v[key] = rnd.choice([None, 0, -1.5, "ünïcode 😀", [1, {"a": None}], {"n": {}}, True])
    elif isinstance(v, list):
        for child in v:
            _inject(child, rnd, rate)
        typed = v and all(isinstance(x, dict) and isinstance(x.get("type"), str) for x in v)
        if typed and rnd.random() < rate:
            block = {"type": rnd.choice(UNKNOWN_BLOCK_TYPES), "payload": {"k": [1, "two"]}}
            v.insert(rnd.randrange(len(v) + 1), block)


# --------------------------------------------------------------------------- validation


def accepts_null(schemas: dict[str, Any], s: Any, seen: frozenset[str] = frozenset()) -> bool:
    """Whether the schema *s* (following ``$ref``) accepts ``null``."""
    if not isinstance(s, dict):
        return False
    if "$ref" in s:
        name = s["$ref"][len(_REF):]
        return name not in seen and accepts_null(schemas, schemas[name], seen | {name})
    if "const" in s:
        return s["const"] is None
    if "enum" in s:
        return None in s["enum"]
    for key in ("anyOf", "oneOf"):
        if key in s:
            return any(accepts_null(schemas, a, seen) for a in s[key])
    t = s.get("type")
    if t is None:
        return not any(k in s for k in ("properties", "items", "additionalProperties"))
    return t == "null" or (isinstance(t, list) and "null" in t)


def lenient_components(spec: dict[str, Any]) -> dict[str, Any]:
    """``components`` with every nullable property dropped from ``required`` (spec/SOURCE.md's
    rule for validating responses: real responses omit nullable fields the spec calls required)."""
    components = copy.deepcopy(spec["components"])
    schemas = components["schemas"]

    def relax(s: Any) -> None:
        if isinstance(s, dict):
            props = s.get("properties")
            if isinstance(props, dict) and "required" in s:
                s["required"] = [p for p in s["required"]
                                 if not accepts_null(schemas, props.get(p, {}))]
            for k, v in s.items():
                if k not in ("examples", "example", "default", "const", "enum"):
                    relax(v)
        elif isinstance(s, list):
            for v in s:
                relax(v)

    relax(schemas)
    return components


def validator(spec: dict[str, Any], component: str, *, lenient: bool = False) -> Any:
    """A Draft 2020-12 validator for *component*, resolving ``$ref`` in the spec's components."""
    from jsonschema import Draft202012Validator

    components = lenient_components(spec) if lenient else spec["components"]
    root = {"$ref": f"{_REF}{component}", "components": components}
    return Draft202012Validator(root)


if __name__ == "__main__":  # the coverage report
    from hypothesis import HealthCheck, given, settings

    for spec_name in (GA_SPEC, BETA_SPEC):
        spec = load_spec(spec_name)
        ss = SchemaStrategies(spec)
        prefix = "Beta" if spec_name == BETA_SPEC else ""
        roots = [f"{prefix}CreateMessageParams", f"{prefix}Message",
                 f"{prefix}MessageBatchIndividualResponse", f"{prefix}CreateMessageBatchParams"]
        roots = [r for r in roots if r in ss.schemas]
        for root in roots:

            @settings(max_examples=300, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(ss.component(root))
            def draw(value: Any) -> None:
                pass

            draw()
        total = len(ss.schemas)
        print(f"{spec_name}: {len(ss.reached)} components reached of {len(ss.reachable(*roots))} "
              f"reachable from {', '.join(roots)} ({total} in the file)")
