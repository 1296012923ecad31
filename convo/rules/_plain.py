"""validate's verdict on a plain request read as parsed JSON, without building it:
:class:`PlainCheck` answers True for a request object on which :func:`convo.rules.validate`
(no betas, nothing allowed, the Messages endpoint) reports nothing at all.

Most lines ``convo validate`` reads are plain and valid: a model, max_tokens, a system prompt,
perhaps tools, metadata, stop sequences or a thinking budget, and turns of text, thinking and
answered tool calls. Decoding one into a conversation costs as much as parsing it, and the rules
as much again, only to find nothing. This check looks at the parsed object instead, and the line
is never decoded. It is conservative: True only for what it knows to be clean, and anything else
(a key outside :data:`PLAIN_KEYS`, a final assistant turn, an image, a cache breakpoint, a
model without a profile, ...) answers False, and the caller decodes the line and validates it
as before. So a report never depends on which path ran: the tests hold the two to the same
verdict on every realworld request and on generated and mutated ones.

What it checks, and where the rule comes from:

- the top-level keys (a closed set here: no sampling parameter, no ``tool_choice``, ...);
- ``model`` a string with a known profile, ``max_tokens`` an integer within it
  (``_request._check_request``);
- the turns: the codec's lazy check (*lazy_check*, the caller's: ``convo.codec.lines.lazy_masks``), then
  :func:`convo.rules._turns.clean_turns` answering True, or clean but for images (no cache
  breakpoint) of the plain shapes, which the image rules then find fine, on their parsed blocks
  (never built); the last turn a user turn (no prefill rule applies);
- ``system``: a string, or text blocks of non-empty text and nothing else;
- ``metadata``, ``stop_sequences``, ``thinking`` and ``tools``: the closed world's fast verdict on
  the parsed value (``_schema._fast``), and the rules on top: no breakpoint, thinking of a type
  the profile takes with a budget of at least 1024 below max_tokens, tool names well formed and
  distinct (the verdicts on tools and output_config, which hold free JSON, are remembered by
  their JSON text; one nested deeper than orjson writes is never plain);
- ``stream``, ``output_config``, ``tool_choice``: their shape, an effort the profile takes
  (thinking not turned off at an effort that needs it), a forced tool choice only where the
  profile takes one and thinking is not ``enabled``, naming one of the tools;
- the sampling parameters: in range, none under ``2026-10-21``, as the profile and thinking take
  them (``_request._check_request``).

Layer: inside ``convo.rules``, on the codec's lazy check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from convo._images import MEDIA_TYPES, base64_image_size
from convo._predicates import sampling_off_default, sampling_off_thinking
from convo.model import SAMPLING_PARAMS
from convo.profiles import API_VERSIONS, DEFAULT_API_VERSION, Profile, ProfileRegistry, get_profile
from convo.rules._pass import _Pass, _sniff_base64, _valid_base64
from convo.rules._request import _THINKING_ON, _tool_rules
from convo.rules._schema import _fast, load_schema
from convo.rules._turns import clean_turns

__all__ = ["PLAIN_KEYS", "PlainCheck"]

PLAIN_KEYS = frozenset(("model", "max_tokens", "messages", "system", "metadata", "stop_sequences", "stream",
                        "thinking", "output_config", "tools", "tool_choice", "temperature", "top_p", "top_k"))
"""The keys a request may have for :class:`PlainCheck` to judge it (``model``, ``max_tokens`` and
``messages`` are required)."""

# the keys the closed world's fast verdict judges
_CHECKED = ("metadata", "stop_sequences", "stream", "thinking", "output_config", "tools", "tool_choice")
_ABSENT: Any = object()  # (a key not there)
_SEEN_MAX = 256  # values remembered by their JSON text, of each kind


class PlainCheck:
    """``check(obj)``: True when :func:`convo.rules.validate` has nothing to say about request
    *obj* (parsed JSON, not changed here), False for "maybe": decode it and validate.

    *lazy_check* is the codec's lazy check of a parsed ``messages`` array (its masks, or None:
    not lazily decodable), which :func:`convo.rules._turns.clean_turns` takes; a caller that has
    the masks already (a conversation the codec decoded keeps them) passes them with the request,
    and *lazy_check* may then be None. *profile* is the one every request is checked with
    (``convo validate --model``), or None for each request's own model, looked up in *registry*
    (default the built-ins). Under *api_version* ``2026-10-21`` a sampling parameter is never
    plain (it is a 400); what else differs between versions (documents, citations) is never
    plain in any.

    >>> from convo.codec.lines import lazy_masks
    >>> check = PlainCheck(lazy_masks)
    >>> hi = {"model": "claude-opus-4-8", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
    >>> check(hi), check({**hi, "temperature": 0.5}), check({**hi, "max_tokens": 10**6})
    (True, False, False)
    """

    __slots__ = ("_api_2026", "_configs", "_fast", "_lazy_check", "_profile", "_profiles", "_registry", "_tools")

    def __init__(self, lazy_check: Callable[[list[Any]], list[int] | None] | None, profile: Profile | None = None, *,
                 api_version: str = DEFAULT_API_VERSION, registry: ProfileRegistry | None = None) -> None:
        if api_version not in API_VERSIONS:
            raise ValueError(f"unknown API version {api_version!r} (known: {', '.join(API_VERSIONS)})")
        self._lazy_check = lazy_check
        self._profile = profile
        self._api_2026 = api_version == "2026-10-21"
        self._registry = registry
        self._profiles: dict[str, Profile] = {}
        root = load_schema().roots["create"]
        self._fast: dict[str, Callable[[Any], bool]] = {k: _fast(root.keys[k]) for k in _CHECKED}
        self._tools: dict[bytes, bool] = {}  # a tools value's JSON text -> its verdict
        self._configs: dict[bytes, bool] = {}  # an output_config's JSON text -> its shape's verdict

    def __call__(self, d: dict[str, Any], masks: list[int] | None = None) -> bool:
        if d.__class__ is not dict or not PLAIN_KEYS.issuperset(d):
            return False
        model = d.get("model")
        max_tokens = d.get("max_tokens")
        turns = d.get("messages")
        if model.__class__ is not str or not model or max_tokens.__class__ is not int or turns.__class__ is not list:
            return False
        p = self._profile
        if p is None:
            p = self._profiles.get(model)
            if p is None:
                p = get_profile(model, registry=self._registry)
                if len(self._profiles) < 1024:
                    self._profiles[model] = p
        if not p.known or not 1 <= max_tokens <= p.max_output:
            return False
        if not turns or turns[-1].__class__ is not dict or turns[-1].get("role") != "user":
            return False  # (no turn: messages.empty; a final assistant turn: the prefill rules)
        if masks is None:
            if self._lazy_check is None:
                return False
            masks = self._lazy_check(turns)
            if masks is None:
                return False
        verdict = clean_turns(turns, masks)
        if verdict is not True and not (verdict.__class__ is list and _images_ok(turns, verdict, p)):
            return False
        n = len(d) - 3  # the keys left to look at (one that is null is never looked at: False)
        if not n:
            return True
        system = d.get("system")
        if system is not None:
            n -= 1
            if system.__class__ is not str:
                if system.__class__ is not list:
                    return False
                for b in system:  # text blocks of text, nothing else (a breakpoint, citations, ...)
                    if b.__class__ is not dict or len(b) != 2 or b.get("type") != "text":
                        return False
                    text = b.get("text")
                    if text.__class__ is not str or not text:
                        return False
            if not n:
                return True
        fast = self._fast
        config = d.get("output_config")
        effort: Any = _ABSENT
        if config is not None:
            n -= 1
            if not self._remembered(self._configs, config, fast["output_config"]):
                return False
            effort = config.get("effort", _ABSENT)
            if effort is not _ABSENT and effort is not None and effort not in p.effort_levels:
                return False  # effort.unsupported
        thinking = d.get("thinking")
        if thinking is not None:
            n -= 1
            if not (fast["thinking"](thinking) and _thinking_ok(thinking, p, max_tokens, effort)):
                return False
        tools = d.get("tools")
        if tools is not None:
            n -= 1
            if not self._tools_ok(tools, p):
                return False
        choice = d.get("tool_choice")
        if choice is not None:
            n -= 1
            if not (fast["tool_choice"](choice) and _choice_ok(choice, p, thinking, tools)):
                return False
        for k in ("metadata", "stop_sequences", "stream"):
            v = d.get(k)
            if v is not None:
                n -= 1
                if not fast[k](v):
                    return False
        return not n or self._sampling_ok(d, p, thinking, n)

    def _sampling_ok(self, d: dict[str, Any], p: Profile, thinking: Any, n: int) -> bool:
        """Whether the *n* keys of *d* left are sampling parameters of which
        ``_request._check_request`` has nothing to say."""
        if self._api_2026:
            return False  # sampling.removed
        thinking_on = thinking is not None and thinking.get("type") in _THINKING_ON
        for name in SAMPLING_PARAMS:
            v = d.get(name)
            if v is None:
                continue
            n -= 1
            if name == "top_k":
                if v.__class__ is not int or v < 0:
                    return False
            elif (v.__class__ is not int and v.__class__ is not float) or not 0 <= v <= 1:
                return False  # (NaN too)
            if (p.sampling == "default_only" and sampling_off_default(name, v)) or (
                    thinking_on and sampling_off_thinking(name, v)):
                return False
        return not n  # (else a key was null: a default for some, a schema.type error for others)

    def _tools_ok(self, tools: Any, p: Profile) -> bool:
        """The verdict on a ``tools`` value: its shape, and the request rules on tools
        (``_request._tool_rules``: names, and no breakpoint, which is counted across the request)."""
        fast = self._fast["tools"]

        def judge(v: Any) -> bool:
            if v.__class__ is not list or not fast(v):
                return False
            s = _Pass(p, self._api_2026)
            _tool_rules(v, {}, s)
            return not s.out and not s.cache_count
        return self._remembered(self._tools, tools, judge)

    @staticmethod
    def _remembered(seen: dict[bytes, bool], value: Any, judge: Callable[[Any], bool]) -> bool:
        """*judge*'s verdict on a value that holds free JSON (a tool's input schema, an output
        format's), remembered in *seen* by its JSON text: a file's lines mostly repeat a few.
        A value orjson cannot write, nested deeper than its 255 levels, answers False: decoding
        it may go past Python's recursion limit (a decode error the full path reports)."""
        try:
            key = orjson.dumps(value)
        except orjson.JSONEncodeError:
            return False
        found = seen.get(key)
        if found is None:
            found = judge(value)
            if len(seen) >= _SEEN_MAX:
                seen.clear()
            seen[key] = found
        return found


def _images_ok(turns: list[Any], looks: list[tuple[int, int, int]], p: Profile) -> bool:
    """Whether clean turns but for the blocks *looks* (:func:`convo.rules._turns.clean_turns`'
    list) hold images only, which the closed world and the image rules
    (:meth:`convo.rules._pass._Pass.check_images`) find nothing wrong with, judged on the parsed
    blocks without building them. Only the plain shapes are judged: a block of ``type`` and
    ``source`` only, a ``base64`` source of ``type``, ``media_type`` and ``data`` or a ``url``
    source of ``type`` and ``url`` (the GA keys of each), values strings; anything else (a
    breakpoint among them, a key more, a file source, ...) answers False, for validate."""
    n = len(looks)
    if n > p.max_images:
        return False  # image.too-many
    limit = p.many_images_px if n > p.many_images_threshold else p.max_image_px
    for i, j, k in looks:
        b = turns[i]["content"][j]
        if k >= 0:  # an image in a tool result
            b = b["content"][k]
        if len(b) != 2 or b.get("type") != "image":
            return False
        src = b.get("source")
        if src.__class__ is not dict:
            return False
        kind = src.get("type")
        if kind == "url":
            if len(src) != 2 or src.get("url").__class__ is not str:
                return False
            continue
        if kind != "base64" or len(src) != 3:
            return False
        mt, data = src.get("media_type"), src.get("data")
        # the image rules, in check_images' order (any finding: False)
        if data.__class__ is not str or mt.__class__ is not str or not _valid_base64(data):
            return False  # (schema.type) or base64.invalid
        if mt not in MEDIA_TYPES or len(data) > p.max_image_bytes:
            return False  # image.media-type, image.too-large
        actual = _sniff_base64(data)
        if actual is not None and actual != mt:
            return False  # image.media-type: the bytes are another type
        size = base64_image_size(data)
        if size is not None and (size[0] > limit or size[1] > limit):
            return False  # image.dimensions
    return True


def _thinking_ok(thinking: Any, p: Profile, max_tokens: int, effort: Any) -> bool:
    """``thinking`` as ``_request._check_request`` has nothing to say about it (its shape checked;
    *effort* is ``output_config.effort``, or ``_ABSENT``)."""
    if thinking.__class__ is not dict:
        return False
    t = thinking.get("type")
    if t.__class__ is not str or t not in p.thinking_modes:
        return False
    if t == "disabled":
        if effort is _ABSENT:
            effort = p.default_effort
        return effort not in p.thinking_required_efforts
    if t == "enabled":
        budget = thinking.get("budget_tokens")
        return budget.__class__ is int and 1024 <= budget < max_tokens
    return "budget_tokens" not in thinking


def _choice_ok(choice: Any, p: Profile, thinking: Any, tools: Any) -> bool:
    """``tool_choice`` as ``_request._check_request`` has nothing to say about it (its shape
    checked, and *tools*' if any): auto and none; any and tool where the model can force a tool
    and thinking is not ``enabled``; tool naming one of *tools*."""
    if choice.__class__ is not dict:
        return False
    t = choice.get("type")
    if t == "auto" or t == "none":
        return True
    if t != "any" and t != "tool":
        return False
    if not p.forced_tool_choice or (thinking is not None and thinking.get("type") == "enabled"):
        return False
    if t == "any":
        return True
    name = choice.get("name")
    return tools is not None and name.__class__ is str and any(tool.get("name") == name for tool in tools)
