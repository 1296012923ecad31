"""A small, seeded, deterministic JSON Schema instance generator: what the emulator replies with.

Layer: testing (stdlib only). :func:`instance` builds one JSON value that validates against a
schema, the same value for the same schema and seed. The emulator uses it for structured outputs
(``output_config.format``) and for the input of the tools it calls, seeded from the request, so
the same request always gets the same reply.

Supported (the instance validates):

- ``type`` (one name or a list: one is picked), ``enum``, ``const``, booleans as schemas;
- objects: ``properties``, ``required`` (always present), optional properties (present or not,
  by the seed), ``additionalProperties`` (``false`` is respected; a schema gives the values of
  required names that ``properties`` lacks), ``minProperties`` / ``maxProperties``;
- arrays: ``items`` (a schema), ``prefixItems``, ``minItems`` / ``maxItems``, ``uniqueItems``
  where the item schema allows enough distinct values;
- strings: ``minLength`` / ``maxLength``, the formats ``date-time``, ``date``, ``time``,
  ``duration``, ``email``, ``hostname``, ``uri``, ``uuid``, ``ipv4``, ``ipv6`` (any other format,
  such as the SDK's ``"text"``, is plain text), and ``pattern`` when it is a simple regular
  expression (literals, classes, ``\\d \\w \\s``, ``.``, groups, ``|``, quantifiers, anchors);
- numbers and integers: ``minimum`` / ``maximum``, ``exclusiveMinimum`` / ``exclusiveMaximum``
  (numbers, or draft 4's booleans), ``multipleOf``;
- ``anyOf`` / ``oneOf``: one branch is picked by the seed and merged with its sibling keywords
  (``oneOf`` is treated as ``anyOf``, as the API's structured outputs do: the SDK sends ``oneOf``
  as ``anyOf``; the instance is not checked against the other branches); ``allOf``: the parts are
  merged (properties and required joined, bounds tightened, types intersected);
- ``$ref`` to ``#``, ``#/$defs/...``, ``#/definitions/...`` (any JSON pointer into the root
  schema), recursion bounded: past ``max_depth`` optional properties are left out, arrays take
  their fewest items and ``anyOf`` prefers a branch without ``$ref``.

Not supported (ignored, so the instance may not validate against them): ``not``,
``if``/``then``/``else``, ``patternProperties``, ``propertyNames``, ``dependentRequired`` /
``dependentSchemas``, ``contains``, ``unevaluated*``, remote ``$ref``, a ``pattern`` using
look-arounds or back-references, a ``pattern`` combined with lengths it cannot meet, and
``format`` combined with lengths (the format wins). A schema the generator can see admits no
instance (``false``, an empty ``enum``, ``minimum`` above ``maximum``, a ``$ref`` that resolves
nowhere, a required name that ``additionalProperties: false`` forbids), a keyword of the wrong
JSON type, or an instance that would be too large or too deep raise :class:`SchemaError`, and
nothing else.

>>> schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3,
...           "maximum": 5}, "tag": {"enum": ["a", "b"]}}, "required": ["n", "tag"],
...           "additionalProperties": False}
>>> value = instance(schema, seed=7)
>>> sorted(value), 3 <= value["n"] <= 5, value["tag"] in ("a", "b")
(['n', 'tag'], True, True)
>>> instance(schema, seed=7) == value
True
"""

from __future__ import annotations

import math
import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, TypeGuard

__all__ = ["SchemaError", "instance"]

MAX_DEPTH = 6  # past it, generation takes the smallest instance it can
HARD_DEPTH = 48  # past it, a schema is taken to have no finite instance
MAX_NODES = 20_000  # values built for one instance
MAX_ITEMS = 1_000  # the most items (or properties) one array (or object) may be asked for
MAX_LENGTH = 10_000  # the longest string that may be asked for
EXTRA_ITEMS = 3  # how many items above minItems an array may get
MAX_NUMBER = 1e300  # bounds beyond it are treated as absent
MAX_INT = 2**53  # integers stay within what every JSON reader keeps exact

_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")
_WORDS = ("alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "sierra", "tango", "zulu")


class SchemaError(ValueError):
    """A schema that :func:`instance` cannot build an instance of; the message says where and why.

    >>> instance({"enum": []})
    Traceback (most recent call last):
    ...
    convo.testing._instances.SchemaError: $: enum is empty: no value validates
    """


def instance(schema: Any, *, seed: int | str | bytes = 0, max_depth: int = MAX_DEPTH) -> Any:
    """One JSON value (dicts, lists, str, int, float, bool, None) that validates against *schema*.

    The same schema and seed give the same value (the seed may be an int, a str or bytes, such
    as a request digest). See the module docstring for what is supported.

    >>> instance({"type": "array", "items": {"type": "string", "format": "date"},
    ...           "minItems": 2, "maxItems": 2}, seed="abc")
    ['2026-12-12', '2026-06-06']
    >>> instance({"$ref": "#/$defs/n", "$defs": {"n": {"const": 42}}})
    42
    """
    try:
        plain = _copy(schema)  # frozen values (FrozenDict, tuples) as dicts and lists
        return _Generator(plain, seed, max_depth).value(plain, "$", 0)
    except RecursionError:
        raise SchemaError("$: the schema is nested too deeply") from None


# --------------------------------------------------------------------------- the generator


def _where(path: str, key: str | int) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"


def _int(x: Any) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)


_NUMBER_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def _number(x: Any) -> TypeGuard[int | float]:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object" if isinstance(value, Mapping) else "unknown"


def _fits_type(value: Any, types: Sequence[str]) -> bool:
    t = _type_of(value)
    return t in types or (t == "integer" and "number" in types)


class _Generator:
    def __init__(self, root: Any, seed: int | str | bytes, max_depth: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.max_depth = max_depth
        self.nodes = 0

    # ------------------------------------------------------------------ schema access

    def _get(self, schema: Mapping[str, Any], key: str, kind: type, path: str) -> Any:
        value = schema.get(key)
        if value is None:
            return None
        if not isinstance(value, kind):
            raise SchemaError(f"{_where(path, key)}: not a valid {key} ({type(value).__name__})")
        return value

    def _list(self, schema: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = schema[key]
        if not isinstance(value, list):
            raise SchemaError(f"{_where(path, key)}: not a list ({type(value).__name__})")
        return value

    def _count(self, schema: Mapping[str, Any], key: str, path: str) -> int | None:
        value = schema.get(key)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SchemaError(f"{_where(path, key)}: not a non-negative integer")
        return value

    def resolve(self, ref: Any, path: str) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"{path}.$ref: only references into this schema (#/...) are supported")
        node: Any = self.root
        pointer = ref[1:]
        if pointer and not pointer.startswith("/"):
            raise SchemaError(f"{path}.$ref: {ref!r} is not a JSON pointer")
        for raw in pointer.split("/")[1:] if pointer else ():
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"{path}.$ref: {ref!r} resolves to nothing")
        return node

    # ------------------------------------------------------------------ flattening

    def flatten(self, schema: Any, path: str, depth: int) -> Mapping[str, Any] | bool:
        """*schema* with its $ref, allOf and anyOf/oneOf replaced by one merged schema."""
        hops = 0
        while True:
            if isinstance(schema, bool):
                return schema
            if not isinstance(schema, dict):
                raise SchemaError(f"{path}: a schema is an object or a boolean, not "
                                  f"{type(schema).__name__}")
            if "$ref" in schema:
                hops += 1
                if depth + hops > HARD_DEPTH:
                    raise SchemaError(f"{path}: $ref recursion with no finite instance")
                target = self.resolve(schema["$ref"], path)
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                schema = _merge(target, rest, path) if _constraining(rest) else target
                continue
            if "allOf" in schema:
                parts = self._list(schema, "allOf", path)
                merged: Any = {k: v for k, v in schema.items() if k != "allOf"}
                for i, part in enumerate(parts):
                    flat = self.flatten(part, f"{path}.allOf[{i}]", depth + hops + 1)
                    if flat is False:
                        raise SchemaError(f"{path}.allOf[{i}]: false admits no value")
                    if flat is not True:
                        merged = _merge(merged, flat, path)
                schema = merged
                continue
            for key in ("anyOf", "oneOf"):
                if key in schema:
                    branches = self._list(schema, key, path)
                    if not branches:
                        raise SchemaError(f"{path}.{key}: no branch to pick")
                    i = self._pick_branch(branches, depth + hops)
                    rest = {k: v for k, v in schema.items() if k != key}
                    branch = self.flatten(branches[i], f"{path}.{key}[{i}]", depth + hops + 1)
                    if branch is False:
                        raise SchemaError(f"{path}.{key}[{i}]: false admits no value")
                    schema = rest if branch is True else _merge(rest, branch, path)
                    break
            else:
                return schema

    def _pick_branch(self, branches: list[Any], depth: int) -> int:
        usable = [i for i, b in enumerate(branches) if b is not False]
        if not usable:
            return 0
        if depth >= self.max_depth:  # prefer a branch that ends the recursion
            plain = [i for i in usable if isinstance(branches[i], dict) and not _has_ref(branches[i])]
            if plain:
                return plain[0]
        return self.rng.choice(usable)

    # ------------------------------------------------------------------ values

    def value(self, schema: Any, path: str, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SchemaError(f"{path}: the instance would have over {MAX_NODES} values")
        if depth > HARD_DEPTH:
            raise SchemaError(f"{path}: nested over {HARD_DEPTH} levels (no finite instance?)")
        flat = self.flatten(schema, path, depth)
        if flat is False:
            raise SchemaError(f"{path}: false admits no value")
        if flat is True:
            return self.rng.choice(_WORDS)
        return self._value(flat, path, depth)

    def _types(self, schema: Mapping[str, Any], path: str) -> list[str] | None:
        given = schema.get("type")
        if given is None:
            return None
        types = [given] if isinstance(given, str) else given
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise SchemaError(f"{path}.type: not a type name or a list of them")
        known = [t for t in types if t in _TYPES]
        if not known:
            raise SchemaError(f"{path}.type: no known type in {types!r}")
        return known

    def _value(self, schema: Mapping[str, Any], path: str, depth: int) -> Any:
        types = self._types(schema, path)
        if "const" in schema:
            return _copy(schema["const"])
        if "enum" in schema:
            options = self._list(schema, "enum", path)
            if types is not None:
                options = [v for v in options if _fits_type(v, types)]
            if not options:
                raise SchemaError(f"{path}: enum is empty: no value validates")
            return _copy(self.rng.choice(options))
        if types is None:
            types = [_implied_type(schema)]
        elif len(types) > 1:
            if "null" in types and depth >= self.max_depth:
                types = ["null"]
            types = [self.rng.choice(types)]
        kind = types[0]
        if kind == "object":
            return self._object(schema, path, depth)
        if kind == "array":
            return self._array(schema, path, depth)
        if kind == "string":
            return self._string(schema, path)
        if kind in ("integer", "number"):
            return self._number(schema, path, integer=kind == "integer")
        if kind == "boolean":
            return self.rng.random() < 0.5
        return None

    def _object(self, schema: Mapping[str, Any], path: str, depth: int) -> dict[str, Any]:
        props = self._get(schema, "properties", dict, path) or {}
        required = self._get(schema, "required", list, path) or []
        if not all(isinstance(r, str) for r in required):
            raise SchemaError(f"{path}.required: not a list of names")
        extra = schema.get("additionalProperties", True)
        if not isinstance(extra, bool | dict):
            raise SchemaError(f"{path}.additionalProperties: not a schema")
        lo = self._count(schema, "minProperties", path) or 0
        hi = self._count(schema, "maxProperties", path)
        if lo > MAX_ITEMS:
            raise SchemaError(f"{path}.minProperties: {lo} is over the generator's limit")
        names = list(dict.fromkeys(required))
        if hi is not None and len(names) > hi:
            raise SchemaError(f"{path}: {len(names)} required properties, maxProperties {hi}")
        shallow = depth >= self.max_depth
        optional = [k for k in props if k not in names]
        for key in optional:
            room = hi is None or len(names) < hi
            if room and (len(names) < lo or (not shallow and self.rng.random() < 0.5)):
                names.append(key)
        n = 0
        while len(names) < lo:
            if extra is False:
                raise SchemaError(f"{path}: minProperties {lo} needs properties that "
                                  "additionalProperties false forbids")
            n += 1
            if f"extra_{n}" not in names and f"extra_{n}" not in props:
                names.append(f"extra_{n}")
        out = {}
        for key in names:
            if key in props:
                sub = props[key]
            elif extra is False:
                raise SchemaError(f"{_where(path, key)}: required, but additionalProperties "
                                  "is false and properties lacks it")
            else:
                sub = extra
            out[key] = self.value(sub, _where(path, key), depth + 1)
        return out

    def _array(self, schema: Mapping[str, Any], path: str, depth: int) -> list[Any]:
        prefix = self._get(schema, "prefixItems", list, path) or []
        items = schema.get("items", True)
        if isinstance(items, list):  # draft 7's tuple form
            prefix, items = items, schema.get("additionalItems", True)
        if not isinstance(items, bool | dict):
            raise SchemaError(f"{path}.items: not a schema")
        lo = self._count(schema, "minItems", path) or 0
        hi = self._count(schema, "maxItems", path)
        if hi is not None and hi < lo:
            raise SchemaError(f"{path}: minItems {lo} is above maxItems {hi}")
        if lo > MAX_ITEMS:
            raise SchemaError(f"{path}.minItems: {lo} is over the generator's limit")
        if depth >= self.max_depth:
            count = lo
        else:
            top = lo + EXTRA_ITEMS if hi is None else min(hi, lo + EXTRA_ITEMS)
            count = self.rng.randint(lo, top)
        if items is False:
            if lo > len(prefix):
                raise SchemaError(f"{path}: minItems {lo} needs items that items false forbids")
            count = min(count, len(prefix))
        unique = schema.get("uniqueItems") is True
        out: list[Any] = []
        seen: list[Any] = []
        tries = 0
        while len(out) < count:
            i = len(out)
            sub = prefix[i] if i < len(prefix) else items
            value = self.value(sub, _where(path, i), depth + 1)
            if unique and value in seen:
                tries += 1
                if tries > 20 + 4 * count:
                    if len(out) >= lo:
                        break
                    raise SchemaError(f"{path}: found only {len(out)} distinct items, "
                                      f"minItems is {lo}")
                continue
            out.append(value)
            if unique:
                seen.append(value)
        return out

    def _string(self, schema: Mapping[str, Any], path: str) -> str:
        lo = self._count(schema, "minLength", path) or 0
        hi = self._count(schema, "maxLength", path)
        if hi is not None and hi < lo:
            raise SchemaError(f"{path}: minLength {lo} is above maxLength {hi}")
        if lo > MAX_LENGTH:
            raise SchemaError(f"{path}.minLength: {lo} is over the generator's limit")
        fmt = schema.get("format")
        made = _FORMATS.get(fmt) if isinstance(fmt, str) else None
        if made is not None:
            return str(made(self.rng))
        pattern = schema.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise SchemaError(f"{path}.pattern: not a string")
            found = _from_pattern(pattern, self.rng, lo, hi)
            if found is not None:
                return found
        return _fit(self.rng.choice(_WORDS) + str(self.rng.randint(0, 99)), lo, hi, self.rng)

    def _number(self, schema: Mapping[str, Any], path: str, *, integer: bool) -> int | float:
        keys = [schema.get(k) for k in _NUMBER_KEYS]
        if all(v is None for v in keys) and not integer:
            return round(self.rng.uniform(-100, 100), 2)
        if integer and all(v is None or _int(v) or (v is True and i in (2, 3))
                           for i, v in enumerate(keys)):
            return self._integer(schema, path)
        return self._exact_number(schema, path, integer=integer)

    def _integer(self, schema: Mapping[str, Any], path: str) -> int:
        """The fast path of integer bounds and an integer multipleOf: int arithmetic only."""
        low, high, ex_low, ex_high, step = (schema.get(k) for k in _NUMBER_KEYS)
        lows = [] if low is None else [low + 1 if ex_low is True else low]
        highs = [] if high is None else [high - 1 if ex_high is True else high]
        if _int(ex_low):
            lows.append(ex_low + 1)
        if _int(ex_high):
            highs.append(ex_high - 1)
        lo = max(lows) if lows else (min(highs) - 100 if highs else -100)
        hi = min(highs) if highs else lo + 100
        if lo > MAX_INT or hi < -MAX_INT:
            raise SchemaError(f"{path}: bounds beyond the integers the generator writes")
        lo, hi = max(lo, -MAX_INT), min(hi, MAX_INT)
        if step is not None and step <= 0:
            raise SchemaError(f"{path}.multipleOf: not a number above 0")
        k = step or 1
        first, last = -(-lo // k), hi // k
        if first > last:
            raise SchemaError(f"{path}: no integer between the bounds found"
                              + (f" that is a multiple of {step}" if step else ""))
        return int(self.rng.randint(first, last) * k)

    def _exact_number(self, schema: Mapping[str, Any], path: str, *, integer: bool) -> int | float:
        lo, lo_open = _bound(schema, "minimum", "exclusiveMinimum", low=True)
        hi, hi_open = _bound(schema, "maximum", "exclusiveMaximum", low=False)
        raw = schema.get("multipleOf")
        if raw is not None and (not _number(raw) or not math.isfinite(raw) or raw <= 0):
            raise SchemaError(f"{path}.multipleOf: not a number above 0")
        if lo is None and hi is None:
            lo, hi = Fraction(-100), Fraction(100)
        elif lo is None:
            assert hi is not None
            lo = hi - 100
        elif hi is None:
            hi = lo + 100
        if integer:  # orjson writes integers of up to 64 bits; stay well inside
            if lo > MAX_INT or hi < -MAX_INT:
                raise SchemaError(f"{path}: bounds beyond the integers the generator writes")
            lo, hi = max(lo, Fraction(-MAX_INT)), min(hi, Fraction(MAX_INT))

        def fits(x: int | float) -> bool:
            if not _inside(x, lo, hi, lo_open, hi_open):
                return False
            if raw is None:
                return True
            if isinstance(raw, float):  # jsonschema's test for a float multipleOf
                q = x / raw
                return math.isfinite(q) and q == int(q)
            return isinstance(x, int) and x % raw == 0

        step = Fraction(raw) if raw is not None else None
        if integer:
            # an integer multipleOf steps through its multiples; a float one is tested as
            # jsonschema tests it, on every integer
            unit = step if step is not None and not isinstance(raw, float) else Fraction(1)
            first, last = math.ceil(lo / unit), math.floor(hi / unit)
            found = self._scan(first, last, lambda n: int(n * unit), fits)
        elif step is not None:
            first, last = math.ceil(lo / step), math.floor(hi / step)
            found = self._scan(first, last, lambda n: _as_json_number(n * step), fits)
        else:
            span = hi - lo
            tries = [round(float(lo + span * Fraction(self.rng.random())), 2) for _ in range(8)]
            tries += [float((lo + hi) / 2), float(lo), float(hi)]
            found = next((x for x in tries if fits(x)), None)
        if found is None:
            raise SchemaError(f"{path}: no {'integer' if integer else 'number'} between the "
                              "bounds found" + (f" that is a multiple of {raw}" if raw else ""))
        return found

    def _scan(self, first: int, last: int, make: Callable[[int], int | float],
              fits: Callable[[int | float], bool]) -> int | float | None:
        """A value make(n), n in [first, last], that fits: a few random n, then n in order."""
        if first > last:
            return None
        for _ in range(8):
            x = make(self.rng.randint(first, last))
            if fits(x):
                return x
        start = self.rng.randint(first, last)
        for n in (*range(start, min(last, start + 500) + 1), *range(first, min(last, first + 500) + 1)):
            x = make(n)
            if fits(x):
                return x
        return None


# --------------------------------------------------------------------------- helpers


def _copy(value: Any) -> Any:
    """*value* with every mapping a dict and every sequence a list (the generator's own copy)."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _has_ref(schema: Any) -> bool:
    if isinstance(schema, dict):
        return "$ref" in schema or any(_has_ref(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_ref(v) for v in schema)
    return False


_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default", "$schema",
                          "$id", "$defs", "definitions", "deprecated", "readOnly", "writeOnly"})


def _constraining(schema: Mapping[str, Any]) -> bool:
    return any(k not in _ANNOTATIONS for k in schema)


def _implied_type(schema: Mapping[str, Any]) -> str:
    keys = schema.keys()
    if keys & {"properties", "required", "additionalProperties", "minProperties", "maxProperties"}:
        return "object"
    if keys & {"items", "prefixItems", "minItems", "maxItems", "uniqueItems"}:
        return "array"
    if keys & {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}:
        return "number"
    return "string"


def _merge(a: Any, b: Any, path: str) -> dict[str, Any]:
    """The schema both *a* and *b* ask for, for the simple cases (see the module docstring)."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        bad = a if not isinstance(a, dict) else b
        if bad is True:
            return dict(a if isinstance(a, dict) else b)
        raise SchemaError(f"{path}: cannot merge a {type(bad).__name__} into a schema")
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
            continue
        mine = out[key]
        if key == "properties" and isinstance(mine, dict) and isinstance(value, dict):
            props = dict(mine)
            for name, sub in value.items():
                props[name] = {"allOf": [props[name], sub]} if name in props else sub
            out[key] = props
        elif key == "required" and isinstance(mine, list) and isinstance(value, list):
            out[key] = list(dict.fromkeys([*mine, *value]))
        elif key == "type":
            left = {mine} if isinstance(mine, str) else set(mine) if isinstance(mine, list) else set()
            right = {value} if isinstance(value, str) else set(value) if isinstance(value, list) else set()
            both = {t for t in left if t in right or (t == "integer" and "number" in right)}
            both |= {t for t in right if t == "integer" and "number" in left}
            if not both:
                raise SchemaError(f"{path}: allOf asks for types {sorted(map(str, left))} and "
                                  f"{sorted(map(str, right))} at once")
            out[key] = sorted(both)
        elif key in ("minimum", "exclusiveMinimum", "minItems", "minLength", "minProperties") \
                and _number(mine) and _number(value):
            out[key] = max(mine, value)
        elif key in ("maximum", "exclusiveMaximum", "maxItems", "maxLength", "maxProperties") \
                and _number(mine) and _number(value):
            out[key] = min(mine, value)
        elif key == "enum" and isinstance(mine, list) and isinstance(value, list):
            out[key] = [v for v in mine if v in value]
        elif key in ("additionalProperties", "items") and (mine is False or value is False):
            out[key] = False
        elif key in ("additionalProperties", "items") and isinstance(mine, dict) \
                and isinstance(value, dict):
            out[key] = {"allOf": [mine, value]}
        elif key in ("anyOf", "oneOf") and isinstance(mine, list) and isinstance(value, list):
            out["allOf"] = [*out.get("allOf", []), {key: value}] if isinstance(
                out.get("allOf", []), list) else [{key: value}]
        else:
            out[key] = value  # the later one wins (documented: simple cases only)
    return out


def _bound(schema: Mapping[str, Any], inclusive: str, exclusive: str, *,
           low: bool) -> tuple[Fraction | None, bool]:
    incl = schema.get(inclusive)
    excl = schema.get(exclusive)
    best: Fraction | None = None
    is_open = False
    if _number(incl) and math.isfinite(incl) and abs(incl) <= MAX_NUMBER:
        best = Fraction(incl)
    if excl is True and best is not None:  # draft 4: the bound itself is exclusive
        is_open = True
    elif _number(excl) and math.isfinite(excl) and abs(excl) <= MAX_NUMBER:
        e = Fraction(excl)
        if best is None or (e >= best if low else e <= best):
            best, is_open = e, True
    return best, is_open


def _inside(x: float, lo: Fraction, hi: Fraction, lo_open: bool, hi_open: bool) -> bool:
    f = Fraction(x)
    return (f > lo if lo_open else f >= lo) and (f < hi if hi_open else f <= hi)


def _as_json_number(x: Fraction) -> int | float:
    # 12 significant digits: 1.9, not 1.9000000000000001 (the caller checks it still fits)
    return int(x) if x.denominator == 1 else float(f"{float(x):.12g}")


def _fit(text: str, lo: int, hi: int | None, rng: random.Random) -> str:
    while len(text) < lo:
        text += rng.choice(string.ascii_lowercase)
    return text if hi is None else text[:hi]


# --------------------------------------------------------------------------- formats


def _datetime(rng: random.Random) -> str:
    return (f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z")


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[rng.randint(0, 3)]}{h[17:20]}-{h[20:32]}"


_FORMATS: dict[str, Any] = {
    "date-time": _datetime,
    "date": lambda rng: f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    "time": lambda rng: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z",
    "duration": lambda rng: f"P{rng.randint(1, 30)}D",
    "email": lambda rng: f"{rng.choice(_WORDS)}{rng.randint(1, 99)}@example.com",
    "hostname": lambda rng: f"{rng.choice(_WORDS)}{rng.randint(1, 99)}.example.com",
    "uri": lambda rng: f"https://example.com/{rng.choice(_WORDS)}/{rng.randint(1, 999)}",
    "uuid": _uuid,
    "ipv4": lambda rng: f"192.0.2.{rng.randint(1, 254)}",
    "ipv6": lambda rng: f"2001:db8::{rng.randint(1, 0xffff):x}",
}


# --------------------------------------------------------------------------- patterns

try:  # the stdlib's own regex parser (private; its shape is stable since 3.11): a tree to walk
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a Python without it: patterns fall back to plain text
    _sre = _c = None

_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": string.digits,
    "CATEGORY_NOT_DIGIT": string.ascii_letters + "_",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": string.ascii_letters + string.digits,
    "CATEGORY_WORD": string.ascii_letters + string.digits + "_",
    "CATEGORY_NOT_WORD": " -.",
}
_SAFE = string.ascii_letters + string.digits


class _Unsupported(Exception):
    pass


def _from_pattern(pattern: str, rng: random.Random, lo: int, hi: int | None) -> str | None:
    """A string *pattern* matches (searched, as JSON Schema does) within the lengths, or None."""
    if _sre is None:
        return None
    try:
        compiled = re.compile(pattern)
        tree = _sre.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError, TypeError):
        return None
    for _ in range(12):
        try:
            text = _walk(tree, rng, 0)
        except (_Unsupported, RecursionError, ValueError, TypeError, IndexError, OverflowError):
            return None
        # padding helps an unanchored pattern reach minLength; the search below has the last word
        for candidate in (text, _fit(text, lo, hi, rng), _fit("", lo, None, rng) + text):
            if lo <= len(candidate) and (hi is None or len(candidate) <= hi) \
                    and compiled.search(candidate):
                return candidate
    return None


def _walk(tree: Any, rng: random.Random, depth: int) -> str:
    if depth > 30:
        raise _Unsupported
    out: list[str] = []
    for op, arg in tree:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append(next(c for c in _SAFE if ord(c) != arg))
        elif name == "ANY":
            out.append(rng.choice(_SAFE))
        elif name == "IN":
            out.append(_one_of(arg, rng))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            high = low + 3 if high is _c.MAXREPEAT or high > low + 3 else high
            out.extend(_walk(sub, rng, depth + 1) for _ in range(rng.randint(low, high)))
        elif name == "SUBPATTERN":
            out.append(_walk(arg[-1], rng, depth + 1))
        elif name == "ATOMIC_GROUP":
            out.append(_walk(arg, rng, depth + 1))
        elif name == "BRANCH":
            out.append(_walk(rng.choice(arg[1]), rng, depth + 1))
        elif name == "AT":
            continue  # anchors: the walk writes exactly what the pattern spells
        elif name == "CATEGORY":
            out.append(rng.choice(_CATEGORY_CHARS.get(str(arg), _SAFE)))
        else:  # back-references, look-arounds, conditionals
            raise _Unsupported
    return "".join(out)


def _one_of(items: Any, rng: random.Random) -> str:
    negate = False
    chars: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            chars.append(chr(arg))
        elif name == "RANGE":
            a, b = arg
            chars.extend(chr(c) for c in range(a, min(b, a + 200) + 1))
        elif name == "CATEGORY":
            chars.extend(_CATEGORY_CHARS.get(str(arg), _SAFE))
        else:
            raise _Unsupported
    if negate:
        banned = set(chars)
        allowed = [c for c in _SAFE + " -_." if c not in banned]
        if not allowed:
            raise _Unsupported
        return rng.choice(allowed)
    if not chars:
        raise _Unsupported
    return rng.choice(chars)
