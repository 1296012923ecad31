"""Request-level rules: model, max_tokens, sampling, thinking, tool_choice, effort, tools, and
the top-level ``system`` field.

Layer: inside ``convo.rules``, above ``_pass``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping, Sequence
from typing import Any

from convo._json import UNSET
from convo._predicates import (
    _INTERLEAVED_BETA,
    interleaved,
    sampling_off_default,
    sampling_off_thinking,
)
from convo.model import SAMPLING_PARAMS, Conversation, Text
from convo.profiles import THINKING_MODES, Profile
from convo.rules._pass import _get, _Pass

# The API's own error states the pattern with {1,128} (facts §11, home-assistant/core#147760);
# the define-tools docs say 64. The API's word wins; names over 64 are the risky ones.
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
_THINKING_ON = frozenset(("enabled", "adaptive", "between_tools"))
_SAMPLING = operator.attrgetter(*SAMPLING_PARAMS)
_NO_SAMPLING = (UNSET,) * len(SAMPLING_PARAMS)


def _is_number(v: Any) -> bool:
    return (type(v) is int or type(v) is float) and v == v  # NaN is no number for the API


def _check_request(conv: Conversation, p: Profile, s: _Pass, thinking_type: Any, *,
                   count_tokens: bool = False, betas: frozenset[str] = frozenset()) -> None:
    """Request-level rules: model, max_tokens, sampling, thinking, tool_choice, effort, tools."""
    model = conv.model
    if not isinstance(model, str) or not model:
        s.add("request.model-missing", "$.model", "the request names no model")
    elif not p.known:  # the profile asked for (validate(profile=...), --model), not always conv's own model
        s.add("model.unknown", "$.model",
              f"no profile for {p.model or model!r}: model-specific rules use the permissive default")

    max_tokens = conv.max_tokens
    if count_tokens:
        pass  # count_tokens takes no max_tokens (one sent is schema.unknown-key)
    elif max_tokens is UNSET or max_tokens is None:
        s.add("request.max-tokens-missing", "$.max_tokens", "max_tokens is required")
    elif type(max_tokens) is not int:
        s.add("request.max-tokens-range", "$.max_tokens", f"max_tokens must be an integer, not {max_tokens!r}")
    elif max_tokens < 0:
        s.add("request.max-tokens-range", "$.max_tokens", f"max_tokens {max_tokens} is negative")
    elif max_tokens > p.max_output:
        s.add("request.max-tokens-range", "$.max_tokens",
              f"max_tokens {max_tokens} is above {p.model or 'the model'}'s max output {p.max_output}")

    thinking_on = thinking_type in _THINKING_ON
    sampling = _SAMPLING(conv)
    for name, value in zip(SAMPLING_PARAMS, sampling, strict=True) if sampling != _NO_SAMPLING else ():
        if value is UNSET:
            continue
        path = f"$.{name}"
        if s.api_2026:
            s.add("sampling.removed", path, f"{name} is not accepted under API 2026-10-21 (any value)")
            continue
        if value is None:
            continue  # JSON null: the default
        if name == "top_k":
            ok_range = type(value) is int and value >= 0
        else:
            ok_range = _is_number(value) and 0 <= value <= 1
        if not ok_range:
            s.add("sampling.range", path,
                  f"{name} {value!r} is out of range ({'an integer >= 0' if name == 'top_k' else '0..1'})")
        elif p.sampling == "default_only" and sampling_off_default(name, value):
            s.add("sampling.unsupported", path,
                  f"{p.model} takes only the default {name} "
                  f"({'none' if name == 'top_k' else '1.0' if name == 'temperature' else '>= 0.99'})")
        elif thinking_on and sampling_off_thinking(name, value):
            s.add("sampling.with-thinking", path, f"{name} {value!r} cannot be changed while thinking is on")

    thinking = conv.thinking
    if thinking is not UNSET and thinking is not None:
        # thinking types are an open set, listed per model in the profiles (facts §11)
        if thinking_type is UNSET or thinking_type not in THINKING_MODES:
            s.add("thinking.unsupported-mode", "$.thinking.type" if thinking_type is not UNSET else "$.thinking",
                  f"{thinking_type!r} is not a thinking type ({', '.join(THINKING_MODES)})")
        elif thinking_type not in p.thinking_modes:
            s.add("thinking.unsupported-mode", "$.thinking.type",
                  f"{p.model} does not accept thinking type {thinking_type!r} "
                  f"(accepts: {', '.join(p.thinking_modes) or 'none'})")
        elif thinking_type == "disabled" and p.thinking_required_efforts:
            effort: Any = _get(conv.output_config, "effort")
            if effort is UNSET:
                effort = p.default_effort
            if effort in p.thinking_required_efforts:
                s.add("thinking.unsupported-mode", "$.thinking.type",
                      f"{p.model} cannot turn thinking off at effort {effort!r}")
        if thinking_type == "enabled":
            budget = _get(thinking, "budget_tokens")
            if budget is UNSET:
                s.add("thinking.budget", "$.thinking", "thinking type enabled needs budget_tokens")
            elif type(budget) is not int or budget < 1024:
                s.add("thinking.budget", "$.thinking.budget_tokens",
                      f"budget_tokens {budget!r} is below the minimum 1024")
            elif type(max_tokens) is int and budget >= max_tokens and not count_tokens and not (
                    interleaved(conv) or _INTERLEAVED_BETA in betas):
                s.add("thinking.budget", "$.thinking.budget_tokens",
                      f"budget_tokens {budget} must be below max_tokens {max_tokens}")

    tool_choice = conv.tool_choice
    choice = UNSET if tool_choice is UNSET else _get(tool_choice, "type")
    if choice in ("any", "tool"):
        if not p.forced_tool_choice:
            s.add("tool-choice.forced-unsupported", "$.tool_choice.type",
                  f"{p.model} does not accept tool_choice {choice!r}")
        elif thinking_type == "enabled":
            # the documented restriction is for extended (budget) thinking; adaptive thinking with
            # a forced tool choice was accepted live (facts §11, LIVE: claude-opus-4-6)
            s.add("tool-choice.forced-unsupported", "$.tool_choice.type",
                  f"tool_choice {choice!r} cannot be used while thinking is {thinking_type}")

    output_config = conv.output_config
    level = UNSET if output_config is UNSET else _get(output_config, "effort")
    # null is the default level (the spec: anyOf [EffortLevel, null])
    if level is not UNSET and level is not None and level not in p.effort_levels:
        s.add("effort.unsupported", "$.output_config.effort", _effort_message(p, level))

    tools = conv.tools
    names: dict[str, int] = {}
    if type(tools) is tuple:
        _check_tools(tools, names, s)
    if choice == "tool":
        wanted = _get(conv.tool_choice, "name")
        if isinstance(wanted, str) and wanted not in names:
            s.add("tool-choice.unknown-tool", "$.tool_choice.name",
                  f"tool_choice names {wanted!r}, which is no tool of the request"
                  + (f" (tools: {', '.join(names)})" if names else " (it has no tools)"))


# A request's tools, judged once per value: the codec hands lines with the same tools the same
# tuple (convo.codec's shared JSON values), so a file's lines mostly repeat a few. Each entry
# keeps its tuple alive, so that its id stays its own; the cache is emptied when full.
_TOOLS_SEEN: dict[int, tuple[tuple[Any, ...], dict[str, int]]] = {}
_TOOLS_SEEN_MAX = 256


def _check_tools(tools: tuple[Any, ...], names: dict[str, int], s: _Pass) -> None:
    """``tools.name``, ``tools.duplicate-name`` and the tools' cache breakpoints; *names* gets
    each tool name's first index. A tools value with nothing to report and no breakpoint is
    remembered, and its names are all the next line with it needs."""
    seen = _TOOLS_SEEN.get(id(tools))
    if seen is not None and seen[0] is tools:
        names.update(seen[1])
        return
    before = len(s.out)
    breakpoints = s.cache_count
    _tool_rules(tools, names, s)
    if len(s.out) == before and s.cache_count == breakpoints:
        if len(_TOOLS_SEEN) >= _TOOLS_SEEN_MAX:
            _TOOLS_SEEN.clear()
        _TOOLS_SEEN[id(tools)] = (tools, dict(names))


def _tool_rules(tools: Sequence[Any], names: dict[str, int], s: _Pass) -> None:
    """The rules of :func:`_check_tools` on *tools* (a tuple of frozen tools, or parsed JSON)."""
    for k, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            continue
        ttype = tool.get("type")
        tname = tool.get("name")
        client = ttype is None or ttype == "custom"
        if client and (not isinstance(tname, str) or not _TOOL_NAME.fullmatch(tname)):
            s.add("tools.name", f"$.tools[{k}].name",
                  f"tool name {tname!r} does not match ^[a-zA-Z0-9_-]{{1,128}}$")
        if isinstance(tname, str):
            if tname in names:
                s.add("tools.duplicate-name", f"$.tools[{k}].name",
                      f"tool name {tname!r} is also the name of tools[{names[tname]}]")
            else:
                names[tname] = k
        cc = tool.get("cache_control", UNSET)
        if cc is not UNSET:
            s.breakpoint(cc, f"$.tools[{k}]")


def _effort_message(p: Profile, effort: Any) -> str:
    if not p.effort_levels:
        return f"{p.model} does not accept an effort level"
    return f"{p.model} does not accept effort {effort!r} (accepts: {', '.join(p.effort_levels)})"


def _check_system(conv: Conversation, s: _Pass) -> None:
    system = conv.system
    if type(system) is not tuple:
        return
    for k, b in enumerate(system):
        if type(b) is Text:
            if not b.text:
                s.add("text.empty", f"$.system[{k}]", "system text block with empty text")
            cc = b.cache_control
            if cc is not UNSET:
                s.breakpoint(cc, f"$.system[{k}]")
        else:
            cc = getattr(b, "cache_control", UNSET)
            if cc is not UNSET:
                s.breakpoint(cc, f"$.system[{k}]")
