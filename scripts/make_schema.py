"""Generate ``convo/schema.json``: the Messages API's closed-world request schema, as data.

Run from the repository root: ``python scripts/make_schema.py [--spec-dir DIR] [--check]``.
``--check`` writes nothing and exits 1 when the shipped file differs from what the specs give
(``tests/test_schema.py`` runs the same comparison in memory).

Inputs: the official OpenAPI schemas in ``../shared/spec/`` (``anthropic-openapi-messages.json``,
the GA API, and ``anthropic-openapi-beta-messages.json``, the same endpoints in their beta form;
see its SOURCE.md), plus :data:`OVERLAY`: what the API accepts that those files (a May 2026
snapshot) do not say yet, each entry with its source (facts §1.5, §11 and the official SDK 2.17).

Output, compact and read by :mod:`convo.rules._schema`:

- ``objects``: for every object a request can hold, from the roots ``CreateMessageParams`` and
  ``CountMessageTokensParams``: ``keys`` (key -> type), ``required``, ``open`` (the object takes
  keys it does not list: a JSON Schema, a tool input) and ``beta`` (key -> the ``anthropic-beta``
  headers that allow it; ``[]``: a beta key whose header the sources do not name, accepted under
  any beta header);
- ``unions``: for every tagged union (content blocks, sources, tools, tool_choice, thinking,
  citations, ...): ``tag`` (the key, ``type``), ``tags`` (tag -> object, in the spec's order),
  ``default`` (the object for a missing tag: the client tool), ``beta`` (tag -> headers);
- ``betas``: every beta header named above, with the source of the mapping.

A type is a string of alternatives joined by ``|``: ``string``, ``integer``, ``number``,
``boolean``, ``null``, ``any`` (any JSON), ``object`` (any JSON object), ``@Name`` (an object of
``objects``), ``#Name`` (a union of ``unions``) and ``[T]`` (an array of T). Names are the spec's
with the ``Beta`` prefix removed, so the GA and beta forms of one object merge; an inline object
or union is named ``Parent.key``. Only the keys and tags, their JSON types and the beta gates are
kept: values (enums, bounds, patterns) are checked by convo's own rules where the API's are
known.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from convo.rules._schema import split_type  # the grammar the validator reads

ROOT = Path(__file__).resolve().parents[1]
SPEC_DIR = ROOT.parent / "shared" / "spec"
OUT = ROOT / "convo" / "schema.json"
GA_SPEC = "anthropic-openapi-messages.json"
BETA_SPEC = "anthropic-openapi-beta-messages.json"
ROOTS = {"create": "CreateMessageParams", "count_tokens": "CountMessageTokensParams"}
_REF = "#/components/schemas/"
_SCALARS = ("string", "integer", "number", "boolean", "null")

# Which anthropic-beta header allows each beta-only key ("Object.key") or tag ("Union:tag"). The
# spec does not say (its descriptions never name a header); these come from the facts, the docs'
# beta-headers page and the SDK, as noted. Anything beta-only and missing here is accepted under
# any beta header, and make_schema prints it so it can be added.
BETA_HEADERS: dict[str, tuple[list[str], str]] = {
    "CreateMessageParams.context_management": (
        ["context-management-2025-06-27", "compact-2026-01-12"],
        "facts §7, §11 (anthropics/claude-code#14135: 400 without the header)"),
    "CountMessageTokensParams.context_management": (
        ["context-management-2025-06-27", "compact-2026-01-12"], "as create"),
    "CreateMessageParams.mcp_servers": (
        ["mcp-client-2025-11-20", "mcp-client-2025-04-04"], "facts §7; SDK AnthropicBetaParam"),
    "CountMessageTokensParams.mcp_servers": (
        ["mcp-client-2025-11-20", "mcp-client-2025-04-04"], "as create"),
    "CreateMessageParams.output_format": (
        ["structured-outputs-2025-11-13"], "facts §7 (the legacy structured-outputs form)"),
    "CountMessageTokensParams.output_format": (["structured-outputs-2025-11-13"], "as create"),
    "OutputConfig.task_budget": (["task-budgets-2026-03-13"], "facts §7"),
    "Container.skills": (["skills-2025-10-02"], "facts §7; SDK AnthropicBetaParam"),
    "CreateMessageParams.container": (["skills-2025-10-02"], "the object form carries skills"),
    "Tools:advisor_20260301": (["advisor-tool-2026-03-01"], "spec AnthropicBeta enum"),
    "Tools:bash_20241022": (["computer-use-2024-10-22"], "docs: the 2024-10-22 tool versions"),
    "Tools:text_editor_20241022": (["computer-use-2024-10-22"], "docs: the 2024-10-22 tool versions"),
    "Tools:computer_20241022": (["computer-use-2024-10-22"], "docs: the 2024-10-22 tool versions"),
    "Tools:computer_20250124": (["computer-use-2025-01-24"], "spec AnthropicBeta enum"),
    "Tools:computer_20251124": (["computer-use-2025-11-24"], "docs: computer use (Nov 2025 version)"),
    "Tools:mcp_toolset": (["mcp-client-2025-11-20"], "facts §7"),
    "InputContentBlock:compaction": (["compact-2026-01-12"], "facts §7 (compaction)"),
    "InputContentBlock:mcp_tool_use": (["mcp-client-2025-11-20", "mcp-client-2025-04-04"], "facts §7"),
    "InputContentBlock:mcp_tool_result": (["mcp-client-2025-11-20", "mcp-client-2025-04-04"], "facts §7"),
    "InputContentBlock:advisor_tool_result": (["advisor-tool-2026-03-01"], "spec AnthropicBeta enum"),
    "InputContentBlock:tool_addition": (
        ["mid-conversation-tool-changes-2026-07-01", "inline-tools-2026-09-15"], "facts §1.5"),
    "InputContentBlock:tool_removal": (
        ["mid-conversation-tool-changes-2026-07-01", "inline-tools-2026-09-15"], "facts §1.5"),
    "RequestImageBlock.source:file": (["files-api-2025-04-14"], "facts §3.1 (file sources)"),
    "RequestDocumentBlock.source:file": (["files-api-2025-04-14"], "facts §3.1 (file sources)"),
    "InputMessage.clear_at": (["mid-conversation-system-clear-at-2026-08-21"], "facts §1.5"),
    "InputMessage.output_config": (["mid-conversation-output-config-2026-07-01"], "facts §1.5"),
    "ThinkingConfigAdaptive.block_binding": (["thinking-binding-controls-2026-08-01"], "facts §1.9"),
    "ThinkingConfigEnabled.block_binding": (["thinking-binding-controls-2026-08-01"], "facts §1.9"),
}

# What the API accepts beyond the May 2026 spec files. Each entry: (what, where, value, betas,
# source). "key": add a key to an object (betas None: GA; a list: beta-only under those headers);
# "tag": add a tag to a union (value: the object name); "object": define an object; "ga": a key
# the beta spec has that the newer GA API takes without a header.
OVERLAY: list[tuple[str, str, Any, list[str] | None, str]] = [
    ("key", "InputMessage.output_config", "@OutputConfig|null",
     ["mid-conversation-output-config-2026-07-01"], "facts §1.5 (effort-only system messages)"),
    ("key", "InputMessage.clear_at", "string|null",
     ["mid-conversation-system-clear-at-2026-08-21"], "facts §1.5 (turn-scoped system messages)"),
    ("object", "MidConvSystemBlock",
     {"keys": {"type": "string", "content": "[#InputContentBlock]|string",
               "cache_control": "#CacheControl|null"}, "required": ["content", "type"]},
     None, "facts §1.5, §3.1 (SDK mid_conversation_system_block_param.py)"),
    ("tag", "InputContentBlock:mid_conv_system", "MidConvSystemBlock", None, "facts §3.1"),
    ("object", "ToolAdditionBlock",
     {"keys": {"type": "string", "tool": "object", "cache_control": "#CacheControl|null"},
      "required": ["tool", "type"], "open": True},
     None, "facts §1.5; its fields are UNCONFIRMED beyond `tool` (live pydantic-ai cassettes): open"),
    ("object", "ToolRemovalBlock",
     {"keys": {"type": "string", "cache_control": "#CacheControl|null"}, "required": ["type"],
      "open": True},
     None, "facts §1.5; its fields are UNCONFIRMED: open"),
    ("tag", "InputContentBlock:tool_addition", "ToolAdditionBlock",
     ["mid-conversation-tool-changes-2026-07-01", "inline-tools-2026-09-15"], "facts §1.5"),
    ("tag", "InputContentBlock:tool_removal", "ToolRemovalBlock",
     ["mid-conversation-tool-changes-2026-07-01", "inline-tools-2026-09-15"], "facts §1.5"),
    ("object", "ThinkingConfigBetweenTools", {"keys": {"type": "string"}, "required": ["type"]},
     None, "facts §11; SDK 2.17 thinking_config_between_tools_param.py"),
    ("tag", "ThinkingConfigParam:between_tools", "ThinkingConfigBetweenTools", None,
     "facts §11; SDK 2.17 thinking_config_param.py"),
    ("object", "ThinkingBlockBinding", {"keys": {"prefix_mismatch_behavior": "string"},
                                         "required": [], "open": True},
     None, "facts §1.9; fields beyond prefix_mismatch_behavior UNCONFIRMED: open"),
    ("key", "ThinkingConfigAdaptive.block_binding", "@ThinkingBlockBinding|null",
     ["thinking-binding-controls-2026-08-01"], "facts §1.9"),
    ("key", "ThinkingConfigEnabled.block_binding", "@ThinkingBlockBinding|null",
     ["thinking-binding-controls-2026-08-01"], "facts §1.9"),
    ("object", "Diagnostics", {"keys": {"previous_message_id": "string|null"}, "required": []},
     None, "SDK 2.17 diagnostics_param.py"),
    ("key", "CreateMessageParams.diagnostics", "@Diagnostics|null", None,
     "SDK 2.17 message_create_params.py (GA)"),
    ("ga", "CreateMessageParams.speed", None, None, "SDK 2.17 message_create_params.py (GA)"),
    ("ga", "CreateMessageParams.user_profile_id", None, None,
     "SDK 2.17 message_create_params.py (GA)"),
    ("ga", "CountMessageTokensParams.speed", None, None,
     "SDK 2.17 message_count_tokens_params.py (GA)"),
    ("key", "CountMessageTokensParams.user_profile_id", "string|null", None,
     "SDK 2.17 message_count_tokens_params.py (GA)"),
    # LIVE: pydantic-ai's cassettes (Aug 2026, realworld/anthropic-live-pydantic-ai) sent these and
    # the live API answered 200; the May 2026 beta spec does not list them
    ("key", "AdvisorTool_20260301.max_tokens", "integer|null", None,
     "LIVE: test_anthropic_advisor_tool (200)"),
    ("key", "RequestAdvisorResultBlock.stop_reason", "string|null", None,
     "LIVE: test_anthropic_advisor_tool_message_replay (200; the response block sent back)"),
]


# --------------------------------------------------------------------------- compiling one spec


def _strip(name: str) -> str:
    return name[4:] if name.startswith("Beta") else name


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _join(alternatives: list[str]) -> str:
    return "|".join(dict.fromkeys(alternatives))


class _Compiler:
    """Compiles one OpenAPI document's request schemas into objects and unions."""

    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = schemas
        self.objects: dict[str, dict[str, Any]] = {}
        self.unions: dict[str, dict[str, Any]] = {}

    def component(self, ref: str) -> tuple[str, dict[str, Any]]:
        name = ref[len(_REF):]
        return _strip(name), self.schemas[name]

    def types(self, s: dict[str, Any], ctx: str) -> list[str]:
        """The alternatives of the schema *s* found at *ctx* (a name for what it defines)."""
        if "$ref" in s:
            name, target = self.component(s["$ref"])
            if self._is_object(target):
                self.object(name, target)
                return ["@" + name]
            if self._union_members(target) is not None:
                self.union(name, target)
                return ["#" + name]
            return self.types(target, name)
        if "const" in s:
            return [_json_type(s["const"])]
        if "enum" in s:
            return [_json_type(v) for v in s["enum"]]
        alternatives = s.get("anyOf") or s.get("oneOf")
        if alternatives is not None:
            if self._union_members(s) is not None:
                self.union(ctx, s)
                return ["#" + ctx]
            return [x for alt in alternatives for x in self.types(alt, ctx)]
        t = s.get("type")
        if isinstance(t, list):
            return [x for one in t for x in self.types({**s, "type": one}, ctx)]
        if t is None:
            if "properties" in s:
                t = "object"
            elif "items" in s:
                t = "array"
            else:
                return ["any"]
        if t == "object":
            if "properties" in s:
                self.object(ctx, s)
                return ["@" + ctx]
            return ["object"]
        if t == "array":
            inner = self.types(s.get("items", {}), ctx + "[]") if s.get("items") else ["any"]
            return [f"[{_join(inner)}]"]
        if t in _SCALARS:
            return [t]
        raise ValueError(f"{ctx}: schema type {t!r} not understood")

    def _is_object(self, s: dict[str, Any]) -> bool:
        return s.get("type") == "object" or ("properties" in s and "anyOf" not in s and "oneOf" not in s)

    def _tag_of(self, s: dict[str, Any]) -> tuple[list[str], bool] | None:
        """The ``type`` tag values of an object schema, and whether the tag may be left out."""
        if "$ref" in s:
            s = self.component(s["$ref"])[1]
        prop = s.get("properties", {}).get("type")
        if prop is None:
            return None
        values: list[Any] = []
        for alt in prop.get("anyOf", [prop]):
            if "const" in alt:
                values.append(alt["const"])
            elif "enum" in alt:
                values.extend(alt["enum"])
            elif alt.get("type") == "null":
                continue
            else:
                return None
        tags = [v for v in values if isinstance(v, str)]
        optional = "type" not in s.get("required", []) or len(tags) < len(values)
        return (tags, optional) if tags else None

    def _union_members(self, s: dict[str, Any]) -> list[tuple[str, list[str], bool]] | None:
        """``[(member ref, its tags, tag optional)]`` when *s* is a union of objects told apart by
        their ``type`` (a discriminator, or a ``type`` const on every member), else None."""
        alternatives = s.get("oneOf") or s.get("anyOf")
        if not alternatives or not all("$ref" in a for a in alternatives):
            return None
        mapping = s.get("discriminator", {}).get("mapping")
        out = []
        for alt in alternatives:
            found = self._tag_of(alt)
            if found is None:
                return None
            tags, optional = found
            if mapping is not None:
                tags = [t for t, ref in mapping.items() if ref == alt["$ref"]] or tags
            out.append((alt["$ref"], tags, optional))
        return out

    def object(self, name: str, s: dict[str, Any]) -> None:
        if name in self.objects:
            return
        entry: dict[str, Any] = {"keys": {}, "required": []}
        self.objects[name] = entry  # before the keys: recursion ends here
        for key, sub in s.get("properties", {}).items():
            entry["keys"][key] = _join(self.types(sub, f"{name}.{key}"))
        entry["required"] = [k for k in s.get("required", []) if k in entry["keys"]]
        if s.get("additionalProperties", True) is not False:
            entry["open"] = True

    def union(self, name: str, s: dict[str, Any]) -> None:
        if name in self.unions:
            return
        members = self._union_members(s)
        assert members is not None
        entry: dict[str, Any] = {"tag": "type", "tags": {}}
        self.unions[name] = entry
        for ref, tags, optional in members:
            obj, target = self.component(ref)
            self.object(obj, target)
            for tag in tags:
                entry["tags"].setdefault(tag, obj)
            if optional:
                entry["default"] = obj


def _compile(spec: dict[str, Any], prefix: str) -> _Compiler:
    c = _Compiler(spec["components"]["schemas"])
    for root in ROOTS.values():
        c.object(root, c.schemas[prefix + root])
    return c


# --------------------------------------------------------------------------- merging


def _dedupe_unions(c: _Compiler) -> None:
    """Give identical inline unions one name (the first met), rewriting every type that uses one."""
    groups: dict[str, list[str]] = {}
    for name, u in c.unions.items():
        groups.setdefault(json.dumps(u, sort_keys=True), []).append(name)
    rename: dict[str, str] = {}
    for names in groups.values():
        keep = next((n for n in names if n in _FRIENDLY), names[0])
        rename.update((n, keep) for n in names if n != keep)
    if not rename:
        return
    for name in rename:
        del c.unions[name]
    for obj in c.objects.values():
        for k, t in obj["keys"].items():
            obj["keys"][k] = _rename_type(t, rename)


def _rename_type(t: str, rename: dict[str, str]) -> str:
    out = []
    for alt in split_type(t):
        if alt.startswith("[") and alt.endswith("]"):
            out.append("[" + _rename_type(alt[1:-1], rename) + "]")
        elif alt.startswith("#") and alt[1:] in rename:
            out.append("#" + rename[alt[1:]])
        else:
            out.append(alt)
    return _join(out)


_FRIENDLY = {  # the shared unions, named by what they are
    "CreateMessageParams.cache_control": "CacheControl",
    "InputMessage.content[]": "InputContentBlock",
    "CreateMessageParams.tools[]": "Tools",
    "CreateMessageParams.tool_choice": "ToolChoice",
    "CreateMessageParams.thinking": "ThinkingConfigParam",
}


def _friendly(c: _Compiler) -> None:
    rename = {old: new for old, new in _FRIENDLY.items() if old in c.unions and new not in c.unions}
    for old, new in rename.items():
        c.unions[new] = c.unions.pop(old)
    for obj in c.objects.values():
        for k, t in obj["keys"].items():
            obj["keys"][k] = _rename_type(t, rename)


def _beta_note(where: str, missing: set[str]) -> list[str]:
    found = BETA_HEADERS.get(where)
    if found is None:
        missing.add(where)
        return []
    return list(found[0])


def build(ga_spec: dict[str, Any], beta_spec: dict[str, Any],
          *, sources: dict[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The schema data from the two specs; also the beta-only items with no known header."""
    ga, beta = _compile(ga_spec, ""), _compile(beta_spec, "Beta")
    for c in (ga, beta):
        _dedupe_unions(c)
        _friendly(c)
    missing: set[str] = set()
    objects: dict[str, dict[str, Any]] = {}
    for name in [*ga.objects, *(n for n in beta.objects if n not in ga.objects)]:
        g, b = ga.objects.get(name), beta.objects.get(name)
        base = g or b
        assert base is not None
        entry: dict[str, Any] = {"keys": dict(base["keys"]), "required": list(base["required"])}
        if base.get("open"):
            entry["open"] = True
        if g is not None and b is not None:
            for key, t in b["keys"].items():
                if key in entry["keys"]:
                    entry["keys"][key] = _join([*split_type(entry["keys"][key]), *split_type(t)])
                else:
                    entry["keys"][key] = t
                    entry.setdefault("beta", {})[key] = _beta_note(f"{name}.{key}", missing)
        objects[name] = entry
    unions: dict[str, dict[str, Any]] = {}
    for name in [*ga.unions, *(n for n in beta.unions if n not in ga.unions)]:
        g, b = ga.unions.get(name), beta.unions.get(name)
        base = g or b
        assert base is not None
        entry = {"tag": base["tag"], "tags": dict(base["tags"])}
        if "default" in base:
            entry["default"] = base["default"]
        if g is not None and b is not None:
            for tag, obj in b["tags"].items():
                if tag not in entry["tags"]:
                    entry["tags"][tag] = obj
                    entry.setdefault("beta", {})[tag] = _beta_note(f"{name}:{tag}", missing)
        unions[name] = entry
    # the object form of `container` exists only in beta (GA: a string id)
    create = objects["CreateMessageParams"]
    if "@ContainerParams" in split_type(create["keys"].get("container", "")):
        create.setdefault("beta_types", {})["container"] = {
            "@ContainerParams": _beta_note("CreateMessageParams.container", missing)}
    _apply_overlay(objects, unions)
    missing = {w for w in missing if _still_beta(w, objects, unions)}
    betas: dict[str, str] = {}
    for where, (headers, source) in BETA_HEADERS.items():
        for h in headers:
            betas.setdefault(h, f"{where}: {source}")
    for _what, where, _value, headers, source in OVERLAY:
        for h in headers or ():
            betas.setdefault(h, f"{where}: {source}")
    data = {
        "_note": ("Generated by scripts/make_schema.py from the OpenAPI specs named in "
                  "generated_from and the overlay in that script; do not edit by hand. "
                  "Read by convo.rules (the closed-world checks) and the emulator."),
        "format": 1,
        "generated_from": sources or {},
        "roots": ROOTS,
        "objects": objects,
        "unions": unions,
        "betas": dict(sorted(betas.items())),
        "overlay": [f"{what} {where}: {source}" for what, where, _v, _h, source in OVERLAY],
    }
    return data, sorted(missing)


def _still_beta(where: str, objects: dict[str, Any], unions: dict[str, Any]) -> bool:
    if ":" in where:
        union, tag = where.split(":", 1)
        return tag in unions.get(union, {}).get("beta", {})
    obj, key = where.split(".", 1)
    return key in objects.get(obj, {}).get("beta", {})


def _apply_overlay(objects: dict[str, Any], unions: dict[str, Any]) -> None:
    for what, where, value, headers, _source in OVERLAY:
        if what == "object":
            objects[where] = {"keys": dict(value["keys"]), "required": list(value["required"]),
                              **({"open": True} if value.get("open") else {})}
        elif what == "key":
            obj, key = where.split(".", 1)
            objects[obj]["keys"][key] = value
            if headers is not None:
                objects[obj].setdefault("beta", {})[key] = list(headers)
        elif what == "tag":
            union, tag = where.split(":", 1)
            unions[union]["tags"][tag] = value
            if headers is not None:
                unions[union].setdefault("beta", {})[tag] = list(headers)
            else:
                unions[union].get("beta", {}).pop(tag, None)
        elif what == "ga":
            obj, key = where.split(".", 1)
            beta = objects[obj].get("beta", {})
            beta.pop(key, None)
            if not beta:
                objects[obj].pop("beta", None)
        else:
            raise ValueError(f"unknown overlay entry {what!r}")
    for obj in objects.values():  # JSON key order: keys, required, open, beta
        if "beta" in obj:
            obj["beta"] = obj.pop("beta")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def generate(spec_dir: Path = SPEC_DIR) -> tuple[bytes, list[str]]:
    """The bytes of ``convo/schema.json`` as the specs in *spec_dir* give them."""
    ga_path, beta_path = spec_dir / GA_SPEC, spec_dir / BETA_SPEC
    data, missing = build(
        json.loads(ga_path.read_bytes()), json.loads(beta_path.read_bytes()),
        sources={GA_SPEC: "sha256:" + _digest(ga_path), BETA_SPEC: "sha256:" + _digest(beta_path)},
    )
    return _pretty(data).encode("utf-8"), missing


def _pretty(data: dict[str, Any]) -> str:
    """JSON with one object, union or beta per line (compact inside)."""
    def one(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))

    lines = ["{"]
    items = list(data.items())
    for i, (k, v) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(v, dict) and k in ("objects", "unions", "betas"):
            lines.append(f"  {one(k)}: {{")
            inner = list(v.items())
            for j, (name, entry) in enumerate(inner):
                lines.append(f"    {one(name)}: {one(entry)}{',' if j < len(inner) - 1 else ''}")
            lines.append("  }" + comma)
        elif isinstance(v, list) and k == "overlay":
            lines.append(f"  {one(k)}: [")
            for j, entry in enumerate(v):
                lines.append(f"    {one(entry)}{',' if j < len(v) - 1 else ''}")
            lines.append("  ]" + comma)
        else:
            lines.append(f"  {one(k)}: {one(v)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec-dir", type=Path, default=SPEC_DIR)
    p.add_argument("--check", action="store_true", help="compare with convo/schema.json; write nothing")
    args = p.parse_args(argv)
    data, missing = generate(args.spec_dir)
    for where in missing:
        print(f"note: beta-only {where} has no known header (accepted under any beta)", file=sys.stderr)
    if args.check:
        current = OUT.read_bytes() if OUT.exists() else b""
        if current != data:
            print(f"{OUT.relative_to(ROOT)} is out of date: run python scripts/make_schema.py", file=sys.stderr)
            return 1
        print(f"{OUT.relative_to(ROOT)} is current")
        return 0
    OUT.write_bytes(data)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
