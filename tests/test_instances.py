"""convo.testing._instances: seeded JSON Schema instances, checked with ``jsonschema`` itself.

Three promises: an instance of a schema in the supported subset validates against it
(``jsonschema``'s Draft 2020-12 validator with its format checker, and the formats parsed by the
stdlib as well); the same schema and seed give the same instance; any schema-like value, however
odd, gives an instance or :class:`SchemaError`, never another exception.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import uuid
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convo._json import freeze
from convo.testing._instances import SchemaError, instance

VALIDATOR = jsonschema.Draft202012Validator
FORMAT_CHECKER = jsonschema.FormatChecker()
# without the optional rfc3339-validator, jsonschema checks "time" as draft 3 did (%H:%M:%S, no
# offset), while RFC 3339's full-time, which 2020-12 names, requires one ("12:00:00Z"): the stdlib
# check below (time.fromisoformat) is the one that applies
FORMAT_CHECKER.checkers.pop("time", None)


FORMAT_PARSERS: dict[str, Any] = {
    "date-time": lambda s: dt.datetime.fromisoformat(s),
    "date": lambda s: dt.date.fromisoformat(s),
    "time": lambda s: dt.time.fromisoformat(s),
    "uuid": lambda s: uuid.UUID(s),
    "ipv4": lambda s: ipaddress.IPv4Address(s),
    "ipv6": lambda s: ipaddress.IPv6Address(s),
    "email": lambda s: re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", s) or 1 / 0,
    "uri": lambda s: re.fullmatch(r"https?://[^\s/]+(/\S*)?", s) or 1 / 0,
    "duration": lambda s: re.fullmatch(r"P\d+D", s) or 1 / 0,
    "hostname": lambda s: re.fullmatch(r"[a-z0-9.-]+", s) or 1 / 0,
}


def formats_parse(value: Any, schema: Any, root: Any) -> bool:
    """Whether every string of *value* with a ``format`` parses with the stdlib (jsonschema skips
    some formats when their optional checkers are not installed); anyOf: some branch does."""
    if not isinstance(schema, dict):
        return True
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return formats_parse(value, root.get("$defs", {}).get(name, {}), root)
    if "anyOf" in schema and not any(
            VALIDATOR({**branch, "$defs": root.get("$defs", {})}).is_valid(value)
            and formats_parse(value, branch, root) for branch in schema["anyOf"]):
        return False
    for part in schema.get("allOf", []):
        if not formats_parse(value, part, root):
            return False
    if isinstance(value, str) and schema.get("format") in FORMAT_PARSERS:
        try:
            FORMAT_PARSERS[schema["format"]](value)
        except (ValueError, ZeroDivisionError):
            return False
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return all(formats_parse(v, props.get(k, {}), root) for k, v in value.items())
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return all(formats_parse(v, schema["items"], root) for v in value)
    return True


def assert_valid(value: Any, schema: Any) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in
              VALIDATOR(schema, format_checker=FORMAT_CHECKER).iter_errors(value)]
    assert not errors, f"{value!r} does not validate against {schema!r}: {errors}"
    assert formats_parse(value, schema, schema), f"{value!r}: a format does not parse ({schema!r})"
    orjson.dumps(value)  # the emulator writes it with orjson


# --------------------------------------------------------------------------- the supported subset

FORMATS = ["date-time", "date", "time", "duration", "email", "hostname", "uri", "uuid", "ipv4",
           "ipv6", "text"]
PATTERNS = [r"^[A-Z]{3}-\d{2,4}$", r"^[a-z]+$", r"^(yes|no|maybe)$", r"\d", r"^v\d+\.\d+$",
            r"^[a-f0-9]{8}$", r"ab?c*", r"^\w+@\w+\.com$", r"^[^x]{2,5}$"]
PRIMITIVES = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000),
                       st.text(max_size=8), st.floats(-1e6, 1e6, allow_nan=False))


@st.composite
def strings(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    kind = draw(st.sampled_from(["plain", "format", "pattern"]))
    if kind == "format":
        schema["format"] = draw(st.sampled_from(FORMATS))
    elif kind == "pattern":
        schema["pattern"] = draw(st.sampled_from(PATTERNS))
    else:
        lo = draw(st.integers(0, 30))
        if draw(st.booleans()):
            schema["minLength"] = lo
        if draw(st.booleans()):
            schema["maxLength"] = lo + draw(st.integers(0, 30))
    return schema


@st.composite
def numbers(draw: st.DrawFn) -> dict[str, Any]:
    integer = draw(st.booleans())
    schema: dict[str, Any] = {"type": "integer" if integer else "number"}
    step = draw(st.one_of(st.none(), st.sampled_from([1, 2, 3, 5, 10, 0.5, 0.25, 0.1, 2.5])))
    width = 4 * (step or 1) + 2
    lo = draw(st.one_of(st.integers(-10_000, 10_000),
                        st.floats(-1e4, 1e4, allow_nan=False).map(lambda x: round(x, 3))))
    if step is not None:
        schema["multipleOf"] = step
    if draw(st.booleans()):
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = lo
    if draw(st.booleans()):
        schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = lo + width + draw(
            st.integers(0, 1000))
    return schema


def leaves() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        strings(),
        numbers(),
        st.just({"type": "boolean"}),
        st.just({"type": "null"}),
        st.lists(PRIMITIVES, min_size=1, max_size=5).map(lambda v: {"enum": v}),
        PRIMITIVES.map(lambda v: {"const": v}),
        st.lists(st.sampled_from(["string", "integer", "boolean", "null", "number"]),
                 min_size=1, max_size=3, unique=True).map(lambda t: {"type": t}),
        st.just({"$ref": "#/$defs/node"}),
        st.just({}),
    )


def objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        props = draw(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), children,
                                     max_size=5))
        schema: dict[str, Any] = {"type": "object", "properties": props}
        names = sorted(props)
        schema["required"] = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
        if draw(st.booleans()):
            schema["additionalProperties"] = False
        return schema

    return build()


def arrays(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": draw(children)}
        lo = draw(st.integers(0, 4))
        if draw(st.booleans()):
            schema["minItems"] = lo
        if draw(st.booleans()):
            schema["maxItems"] = lo + draw(st.integers(0, 3))
        return schema

    return build()


def all_ofs(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """allOf of objects whose properties do not clash (the merge's simple case)."""
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        parts = draw(st.lists(objects(children), min_size=1, max_size=3))
        for i, part in enumerate(parts):
            part["properties"] = {f"{k}{i}": v for k, v in part["properties"].items()}
            part["required"] = [f"{k}{i}" for k in part["required"]]
            part.pop("additionalProperties", None)  # false in one part forbids the others' keys
        return {"allOf": parts}

    return build()


def schemas() -> st.SearchStrategy[dict[str, Any]]:
    """Schemas of the supported subset, with a recursive ``$defs/node`` that some refer to."""
    body = st.recursive(
        leaves(),
        lambda children: st.one_of(
            objects(children),
            arrays(children),
            st.lists(children, min_size=1, max_size=3).map(lambda b: {"anyOf": b}),
            st.lists(children, min_size=1, max_size=3).map(lambda b: {"oneOf": b}),
            all_ofs(children),
        ),
        max_leaves=12,
    )
    node = {"type": "object", "properties": {"value": {"type": "integer"},
                                             "next": {"anyOf": [{"$ref": "#/$defs/node"},
                                                                {"type": "null"}]}},
            "required": ["value", "next"], "additionalProperties": False}
    return body.map(lambda s: {**s, "$defs": {"node": node}})


def as_any_of(schema: Any) -> Any:
    """*schema* with oneOf read as anyOf (what the API does, and what the generator promises)."""
    if isinstance(schema, dict):
        return {("anyOf" if k == "oneOf" else k): as_any_of(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [as_any_of(v) for v in schema]
    return schema


class TestSupportedSubset:
    @settings(max_examples=settings().max_examples * 4)
    @given(schema=schemas(), seed=st.integers(0, 2**32))
    def test_every_instance_validates(self, schema: dict[str, Any], seed: int) -> None:
        """An instance of any schema of the supported subset validates against it (jsonschema)."""
        assert_valid(instance(schema, seed=seed), as_any_of(schema))

    @given(schema=schemas(), seed=st.integers(0, 2**32))
    def test_same_seed_same_instance(self, schema: dict[str, Any], seed: int) -> None:
        """The same schema and seed give the same instance; frozen schemas give it too."""
        assert instance(schema, seed=seed) == instance(schema, seed=seed)
        assert instance(freeze(schema), seed=seed) == instance(schema, seed=seed)

    def test_seeds_vary_the_instance(self) -> None:
        """Different seeds give different instances of a roomy schema."""
        schema = {"type": "object", "properties": {"n": {"type": "integer"},
                                                   "s": {"type": "string"}}, "required": ["n", "s"]}
        assert len({orjson.dumps(instance(schema, seed=s)) for s in range(20)}) > 10

    def test_string_and_bytes_seeds(self) -> None:
        """A request digest (a str) and bytes are seeds, as stable as ints."""
        schema = {"type": "string", "format": "uuid"}
        assert instance(schema, seed="ab12") == instance(schema, seed="ab12")
        assert instance(schema, seed=b"ab12") == instance(schema, seed=b"ab12")


class TestKeywords:
    def test_additional_properties_false_is_respected(self) -> None:
        """With additionalProperties false only the named properties appear, required ones always."""
        schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                  "required": ["a"], "additionalProperties": False}
        seen = [instance(schema, seed=s) for s in range(30)]
        assert all("a" in v and set(v) <= {"a", "b"} for v in seen)
        assert any("b" in v for v in seen) and any("b" not in v for v in seen)

    def test_required_name_from_additional_properties(self) -> None:
        """A required name that properties lacks takes additionalProperties' schema."""
        schema = {"type": "object", "required": ["x"], "additionalProperties": {"type": "integer"}}
        assert isinstance(instance(schema)["x"], int)

    @pytest.mark.parametrize("schema", [
        {"type": "integer", "minimum": 10, "maximum": 10},
        {"type": "integer", "exclusiveMinimum": 9, "exclusiveMaximum": 11},
        {"type": "integer", "minimum": 9, "exclusiveMinimum": True, "maximum": 10},  # draft 4 style
        {"type": "number", "minimum": 0.1, "maximum": 0.2, "multipleOf": 0.05},
        {"type": "integer", "minimum": 1, "maximum": 100, "multipleOf": 7},
        {"type": "integer", "minimum": 1, "maximum": 3, "multipleOf": 0.5},
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.001},
        {"type": "integer", "minimum": 2**70},
    ])
    def test_number_bounds(self, schema: dict[str, Any]) -> None:
        """Numbers honour inclusive and exclusive bounds and multipleOf, as jsonschema checks them."""
        if schema.get("minimum", 0) > 2**53:
            with pytest.raises(SchemaError, match="bounds beyond"):
                instance(schema)
            return
        for seed in range(10):
            value = instance(schema, seed=seed)
            schema_7 = {**schema}
            if schema_7.get("exclusiveMinimum") is True:  # draft 4's boolean, for a 2020-12 check
                schema_7["exclusiveMinimum"] = schema_7.pop("minimum")
            assert_valid(value, schema_7)

    @pytest.mark.parametrize("pattern", [*PATTERNS, r"^\+?[0-9 ]{6,12}$", r"(?i)^abc$", r"^\s*x\s*$"])
    def test_patterns(self, pattern: str) -> None:
        """Simple patterns are met (the stdlib's regex parser is walked, jsonschema checks)."""
        schema = {"type": "string", "pattern": pattern}
        for seed in range(5):
            assert_valid(instance(schema, seed=seed), schema)

    def test_pattern_with_lengths(self) -> None:
        """A pattern and lengths together are met when the pattern allows the length."""
        schema = {"type": "string", "pattern": "^[a-z]+$", "minLength": 5, "maxLength": 6}
        assert_valid(instance(schema), schema)

    def test_unsupported_pattern_falls_back_to_text(self) -> None:
        """A back-reference is beyond the walker: a plain string comes back, no error."""
        assert isinstance(instance({"type": "string", "pattern": r"^(a)\1$"}), str)

    def test_all_of_merges_bounds_and_types(self) -> None:
        """allOf intersects types and tightens bounds."""
        schema = {"allOf": [{"type": ["integer", "string"], "minimum": 3},
                            {"type": "integer", "maximum": 4}]}
        for seed in range(10):
            assert instance(schema, seed=seed) in (3, 4)

    def test_ref_siblings_apply(self) -> None:
        """Keywords beside a $ref apply together with its target."""
        schema = {"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 2}
        assert len(instance(schema)) <= 2

    def test_definitions_and_root_refs(self) -> None:
        """#/definitions/... (draft 7) and # (the root, recursively) resolve."""
        schema = {"definitions": {"leaf": {"const": 1}},
                  "type": "object", "properties": {"leaf": {"$ref": "#/definitions/leaf"},
                                                   "again": {"$ref": "#"}}, "required": ["leaf"]}
        for seed in range(10):
            assert_valid(instance(schema, seed=seed), schema)

    def test_recursion_is_bounded(self) -> None:
        """A recursive schema with optional recursion ends past max_depth, deep but finite."""
        schema = {"$defs": {"t": {"type": "object", "properties": {
            "kids": {"type": "array", "items": {"$ref": "#/$defs/t"}}}, "required": ["kids"]}},
            "$ref": "#/$defs/t"}

        def depth(v: Any) -> int:
            return 1 + max((depth(k) for k in v["kids"]), default=0)

        for seed in range(10):
            value = instance(schema, seed=seed)
            assert_valid(value, schema)
            assert depth(value) <= 8

    @pytest.mark.parametrize(("schema", "words"), [
        (False, "false admits no value"),
        ({"enum": []}, "enum is empty"),
        ({"type": "integer", "minimum": 5, "maximum": 4}, "no integer"),
        ({"$ref": "#/$defs/missing"}, "resolves to nothing"),
        ({"$ref": "https://example.com/s.json"}, "only references into this schema"),
        ({"type": "object", "required": ["x"], "additionalProperties": False}, "additionalProperties"),
        ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
         "recursion"),
        ({"$defs": {"t": {"type": "object", "properties": {"t": {"$ref": "#/$defs/t"}},
                          "required": ["t"]}}, "$ref": "#/$defs/t"}, "no finite instance"),
        ({"type": "array", "minItems": 10**9}, "over the generator's limit"),
        ({"type": "array", "items": {"type": "array", "items": {"type": "array", "minItems": 100},
                                     "minItems": 100}, "minItems": 100}, "over 20000 values"),
        ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "types"),
        ({"type": "object", "properties": 5}, "properties"),
        ({"type": "array", "items": {"enum": [1, 2]}, "minItems": 3, "uniqueItems": True},
         "distinct"),
    ])
    def test_impossible_schemas_raise_schema_error(self, schema: Any, words: str) -> None:
        """A schema with no instance the generator can build is a SchemaError that says why."""
        with pytest.raises(SchemaError, match=re.escape(words)):
            instance(schema)


# --------------------------------------------------------------------------- fuzz

KEYWORDS = ["type", "properties", "required", "additionalProperties", "items", "prefixItems",
            "minItems", "maxItems", "uniqueItems", "enum", "const", "anyOf", "oneOf", "allOf",
            "$ref", "$defs", "definitions", "minimum", "maximum", "exclusiveMinimum",
            "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "format",
            "minProperties", "maxProperties", "not", "if", "patternProperties"]
JSON_ATOMS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                       st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                       st.sampled_from(["object", "array", "string", "integer", "number",
                                        "boolean", "null", "#", "#/$defs/a", "#/definitions/a",
                                        "#/properties", "date-time", "uuid", "[a-", "(a)\\1",
                                        "^x{3,}$"]))


def schema_like() -> st.SearchStrategy[Any]:
    return st.recursive(
        JSON_ATOMS,
        lambda kids: st.one_of(
            st.lists(kids, max_size=4),
            st.dictionaries(st.one_of(st.sampled_from(KEYWORDS), st.text(max_size=4)), kids,
                            max_size=6),
        ),
        max_leaves=25,
    )


class TestFuzz:
    @settings(max_examples=settings().max_examples * 10)
    @given(schema=schema_like(), seed=st.integers(0, 2**64))
    def test_only_schema_error_is_raised(self, schema: Any, seed: int) -> None:
        """Any schema-like value gives a JSON value, or a SchemaError: nothing else; when orjson can
        write the schema (as any the emulator receives), it can write the value too."""
        try:
            value = instance(schema, seed=seed)
        except SchemaError as e:
            assert str(e).startswith("$")  # a path into the schema
            return
        try:
            orjson.dumps(schema)
        except TypeError:  # an integer beyond 64 bits in the schema (a const may copy it)
            return
        orjson.dumps(value)

    def test_deeply_nested_schema(self) -> None:
        """A schema nested past Python's recursion limit is a SchemaError, not a RecursionError."""
        schema: Any = {"type": "string"}
        for _ in range(5000):
            schema = {"type": "array", "items": schema, "minItems": 1}
        with pytest.raises(SchemaError):
            instance(schema)
