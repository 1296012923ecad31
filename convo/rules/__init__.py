"""The API's rules, checked offline: :func:`validate` returns a :class:`Report` of violations.

Layer: above the model and ``profiles``; below transforms, codec and the CLI. The rules depend on
the model (a :class:`~convo.profiles.Profile`: prefill, sampling, mid-conversation system,
thinking, effort, limits) and on the API version (facts §10: under ``2026-10-21`` the sampling
parameters are gone, and a document in an assistant turn or cited text in a user turn is a 400).

Every rule has a stable id, a severity, a source tag and a fix hint (:data:`RULES`; the README
table is rendered from it by :func:`rules_table_markdown`). Rules tagged ``OBS`` come from API
errors that third parties observed, not from Anthropic's docs; ``UNCONFIRMED`` ones from nowhere
firm, so they are warnings.

Speed matters (the CLI validates every line of multi-GB files): one pass over the messages, type
checks by identity, paths built only for violations, images read only as far as their header.

>>> from convo.model import Conversation, Message
>>> conv = Conversation(model="claude-opus-4-8", max_tokens=64, messages=[
...     Message("user", "Hi"), Message("assistant", "Hello ")])
>>> [(v.rule, v.path) for v in validate(conv).errors]
[('prefill.unsupported', '$.messages[1]'), ('prefill.trailing-whitespace', '$.messages[1].content')]
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Literal

from attrs import field, frozen

from convo._images import MEDIA_TYPES, sniff_media_type
from convo._json import UNSET
from convo.errors import ValidationError
from convo.model import (
    SAMPLING_PARAMS,
    Base64Source,
    ContentSource,
    Conversation,
    Document,
    Image,
    Message,
    MidConvSystem,
    SearchResult,
    ServerToolResult,
    ServerToolUse,
    Text,
    ToolResult,
    ToolUse,
    UnknownBlock,
)
from convo.profiles import API_VERSIONS, DEFAULT_API_VERSION, Profile, ProfileRegistry, get_profile

__all__ = [
    "RULES",
    "Report",
    "Rule",
    "Severity",
    "Violation",
    "check",
    "rules_table_markdown",
    "validate",
]

Severity = Literal["error", "warning"]


@frozen
class Rule:
    """One rule of the API: stable id, severity, source tag, what it checks and how to fix it."""

    id: str
    severity: Severity
    source: str  # DOC, SDK, OBS or UNCONFIRMED (see convo.profiles.SOURCE_TAGS)
    description: str
    hint: str


@frozen
class Violation:
    """One broken rule: a stable id, severity, ``$.path``, message and a fix hint."""

    rule: str
    severity: Severity
    path: str
    message: str
    hint: str = ""
    source: str = ""

    def to_json(self) -> dict[str, str]:
        """The violation as a JSON-ready dict.

        >>> Violation("messages.empty", "error", "$.messages", "no messages").to_json()["path"]
        '$.messages'
        """
        return {"rule": self.rule, "severity": self.severity, "path": self.path,
                "message": self.message, "hint": self.hint, "source": self.source}


def _violations(items: Iterable[Violation]) -> tuple[Violation, ...]:
    return items if type(items) is tuple else tuple(items)


@frozen
class Report:
    """The outcome of :func:`validate`: ``.ok``, ``.errors``, ``.warnings``, ``.rules``.

    >>> r = Report([Violation("roles.consecutive", "warning", "$.messages[1]", "two user turns")])
    >>> r.ok, r.rules, len(r.warnings)
    (True, ('roles.consecutive',), 1)
    """

    violations: tuple[Violation, ...] = field(default=(), converter=_violations)

    @property
    def errors(self) -> tuple[Violation, ...]:
        """The violations with severity ``error`` (the API would answer 400)."""
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def warnings(self) -> tuple[Violation, ...]:
        """The violations with severity ``warning`` (accepted, but worth knowing)."""
        return tuple(v for v in self.violations if v.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(v.severity == "error" for v in self.violations)

    @property
    def rules(self) -> tuple[str, ...]:
        """The ids of the broken rules, each once, in order of first appearance."""
        return tuple(dict.fromkeys(v.rule for v in self.violations))

    def __iter__(self) -> Iterator[Violation]:
        return iter(self.violations)

    def __len__(self) -> int:
        return len(self.violations)

    def __str__(self) -> str:
        if not self.violations:
            return "ok"
        return "\n".join(
            f"{v.severity}: {v.rule} at {v.path}: {v.message}" + (f" (fix: {v.hint})" if v.hint else "")
            for v in self.violations
        )

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict: ``{"ok", "violations": [...]}``.

        >>> Report().to_json()
        {'ok': True, 'violations': []}
        """
        return {"ok": self.ok, "violations": [v.to_json() for v in self.violations]}


# --------------------------------------------------------------------------- the rules


def _r(id: str, severity: Severity, source: str, description: str, hint: str) -> Rule:
    return Rule(id, severity, source, description, hint)


_RULE_LIST = [
    _r("request.model-missing", "error", "DOC",
       "`model` is absent or empty.", "Set `model` to a model id."),
    _r("request.max-tokens-missing", "error", "DOC",
       "`max_tokens` is absent.", "Set `max_tokens` (0 only pre-warms the cache)."),
    _r("request.max-tokens-range", "error", "DOC",
       "`max_tokens` is not an integer, is negative, or is above the model's max output.",
       "Use 0 ≤ max_tokens ≤ the model's max output."),
    _r("messages.empty", "error", "DOC",
       "`messages` is absent or empty.", "Add at least one user message."),
    _r("messages.too-many", "error", "DOC",
       "More than 100,000 messages.", "Trim the history (keep_last_turns / trim_to_tokens)."),
    _r("message.role", "error", "DOC",
       "A message's role is not `user`, `assistant` or `system`.", "Use user, assistant or system."),
    _r("messages.first-role", "warning", "UNCONFIRMED",
       "The first non-system message is not a user turn (rejected in 2024 [OBS]; the current API's "
       "behaviour is not documented; Bedrock rejects it).",
       "Start the conversation with a user turn."),
    _r("message.empty-content", "error", "OBS",
       "A message other than the final assistant one has empty content (`\"\"` or `[]`). Observed API "
       "error, not in the docs.",
       "Give the message content, or drop it (normalize())."),
    _r("text.empty", "error", "OBS",
       "A text block has empty `text` (the docs state it for system and search-result text; observed "
       "for message text).",
       "Drop the empty text block."),
    _r("text.whitespace-only", "error", "OBS",
       "A message's only text is whitespace (a whitespace block next to real text is fine). Observed "
       "API error, not in the docs.",
       "Give the message real text, or drop the whitespace block."),
    _r("roles.consecutive", "warning", "DOC",
       "Two consecutive user (or assistant) turns: the API merges them; Bedrock and other platforms "
       "reject them.",
       "Merge them (merge_adjacent_roles()) for portability."),
    _r("prefill.unsupported", "error", "DOC",
       "The conversation ends with an assistant turn (prefill) on a model that rejects prefill "
       "(Claude 4.6 and later, Mythos).",
       "End with a user turn (strip_prefill()), or ask for the format in the instructions."),
    _r("prefill.trailing-whitespace", "error", "OBS",
       "The final assistant (prefill) text ends in whitespace. Observed API error, not in the docs.",
       "Strip trailing whitespace from the prefill."),
    _r("prefill.with-thinking", "error", "DOC",
       "A prefill while thinking is enabled or adaptive.", "Drop the prefill or turn thinking off."),
    _r("prefill.with-json-output", "error", "DOC",
       "A prefill together with JSON outputs (`output_config.format`).",
       "Drop the prefill; the schema already shapes the answer."),
    _r("system-message.unsupported-model", "error", "DOC",
       "A `role: \"system\"` message on a model without mid-conversation system messages.",
       "Move its text to the top-level `system` field (inject_system(where=\"top\"))."),
    _r("system-message.first", "error", "DOC",
       "A system message with content is `messages[0]`.",
       "Put instructions that apply from the start in the top-level `system` field."),
    _r("system-message.not-after-user", "error", "DOC",
       "A system message does not immediately follow a user turn (a tool-result turn counts) or an "
       "assistant turn ending in a server tool result.",
       "Move it right after a user turn."),
    _r("system-message.followed-by-user", "error", "DOC",
       "A system message is neither the last message nor followed by an assistant turn.",
       "Put it after the user turn, or at the end."),
    _r("system-message.between-tool-use", "error", "DOC",
       "A system message sits between a `tool_use` and its `tool_result`.",
       "Move it after the tool-result user turn."),
    _r("tool-use.missing-result", "error", "DOC",
       "A `tool_use` has no `tool_result` in the immediately following user message.",
       "Answer every tool_use in the next user turn (normalize() adds error results)."),
    _r("tool-result.orphan", "error", "DOC",
       "A `tool_result` answers no `tool_use` of the immediately preceding assistant turn.",
       "Drop it, or fix its tool_use_id."),
    _r("tool-result.not-first", "error", "DOC",
       "Text or other blocks come before a `tool_result` in a user message.",
       "Put every tool_result first, then any text."),
    _r("tool-use.duplicate-id", "error", "DOC",
       "Two tool_use (or server_tool_use) blocks share an id.", "Give each tool_use a unique id."),
    _r("tools.name", "error", "DOC",
       "A client tool's name does not match `^[a-zA-Z0-9_-]{1,64}$`.",
       "Rename the tool (letters, digits, _ and -; at most 64)."),
    _r("sampling.unsupported", "error", "DOC",
       "API 2023-06-01: a non-default `temperature` (≠ 1.0) or `top_p` (< 0.99), or any `top_k`, on a "
       "model that takes only the defaults (Claude 4.7 and later, Mythos Preview, Sonnet 5).",
       "Drop the sampling parameters (drop_sampling_params())."),
    _r("sampling.removed", "error", "DOC",
       "API 2026-10-21: `temperature`, `top_p` or `top_k` is present at all (any value, any model).",
       "Drop the sampling parameters (drop_sampling_params()), or send with API 2023-06-01."),
    _r("sampling.range", "error", "DOC",
       "API 2023-06-01: `temperature` or `top_p` outside 0..1, or `top_k` below 0.",
       "Use temperature and top_p in 0..1 and top_k ≥ 0."),
    _r("sampling.with-thinking", "error", "DOC",
       "API 2023-06-01: thinking is on and `temperature` ≠ 1, `top_k` is set, or `top_p` is outside "
       "0.95..1.",
       "Drop the sampling parameters while thinking is on."),
    _r("thinking.unsupported-mode", "error", "DOC",
       "The model does not accept this `thinking.type` (enabled is gone on 4.7 and later, adaptive "
       "is missing on 4.5 and earlier, some models cannot turn thinking off).",
       "Use a thinking type the model accepts (see its profile)."),
    _r("thinking.budget", "error", "DOC",
       "`thinking.type: \"enabled\"` without `budget_tokens`, with `budget_tokens` < 1024, or with "
       "`budget_tokens` ≥ `max_tokens` (the interleaved-thinking beta lifts the last bound).",
       "Use 1024 ≤ budget_tokens < max_tokens."),
    _r("tool-choice.forced-unsupported", "error", "DOC",
       "`tool_choice` of type any/tool on a model that cannot force tool use, or while thinking is on.",
       "Use tool_choice auto (or none)."),
    _r("effort.unsupported", "error", "DOC",
       "`output_config.effort` is a level the model does not accept.",
       "Use one of the model's effort levels (see its profile), or leave effort out."),
    _r("image.media-type", "error", "DOC",
       "A base64 image's `media_type` is not image/jpeg, png, gif or webp, or its bytes are another "
       "format.",
       "Build images with Image.from_path/from_bytes: they read the type from the bytes."),
    _r("image.too-many", "error", "DOC",
       "More images in the request than the model accepts (100 on 200K-context models, else 600; "
       "images inside tool results count).",
       "Drop older images (drop_images()) or split the request."),
    _r("image.too-large", "error", "DOC",
       "A base64 image is longer than the per-image limit (10 MB of base64 on the Claude API).",
       "Downscale or recompress the image."),
    _r("image.dimensions", "error", "DOC",
       "An image is larger than 8000 px on a side, or than 2000 px when the request has more than "
       "20 images.",
       "Downscale the image (the model sees at most ~1568-2576 px anyway)."),
    _r("cache-control.too-many", "error", "DOC",
       "More than 4 cache breakpoints (tools, system, messages and the top-level `cache_control`).",
       "Keep at most 4 cache_control markers."),
    _r("cache-control.ttl-order", "error", "DOC",
       "A 1h cache breakpoint comes after a 5m one (prefix order: tools, system, messages).",
       "Put longer-TTL breakpoints before shorter ones."),
    _r("document.in-assistant", "error", "DOC",
       "API 2026-10-21: a `document` block directly in an assistant message.",
       "Move the document into a user turn."),
    _r("citations.in-user", "error", "DOC",
       "API 2026-10-21: a text block with non-empty `citations` in a user message (directly or in a "
       "search_result / tool_result).",
       "Drop the citations from user-side text."),
    _r("model.unknown", "warning", "UNCONFIRMED",
       "The model has no profile: model-specific rules are checked with a permissive default.",
       "Load a profiles file or a /v1/models response (convo.profiles.load_profiles)."),
]

RULES: Mapping[str, Rule] = MappingProxyType({r.id: r for r in _RULE_LIST})
"""Every rule :func:`validate` checks, by id (read-only)."""

_SOURCE_NOTE = {
    "DOC": "DOC",
    "SDK": "SDK",
    "OBS": "OBS (observed API errors, not documented)",
    "UNCONFIRMED": "UNCONFIRMED",
}


def rules_table_markdown() -> str:
    """The README table of every rule: id | severity | what | source | fix hint.

    >>> rules_table_markdown().splitlines()[0]
    '| id | severity | what | source | fix hint |'
    """
    lines = ["| id | severity | what | source | fix hint |", "|---|---|---|---|---|"]
    for r in RULES.values():
        cells = [f"`{r.id}`", r.severity, r.description, _SOURCE_NOTE.get(r.source, r.source), r.hint]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    lines.append(
        "Sources: DOC = Anthropic's documentation; OBS = API errors seen by third parties, not in the "
        "docs (likely, not guaranteed); UNCONFIRMED = no firm source, so only a warning. "
        "Model-specific facts come from the model's profile (`convo/profiles.json`)."
    )
    return "\n".join(lines) + "\n"


def _violation(rule: str, path: str, message: str) -> Violation:
    r = RULES[rule]
    return Violation(rule, r.severity, path, message, r.hint, r.source)


# --------------------------------------------------------------------------- validation

_ROLES = frozenset(("user", "assistant", "system"))
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_MAX_MESSAGES = 100_000
_MAX_BREAKPOINTS = 4
_THINKING_ON = frozenset(("enabled", "adaptive"))
_INTERLEAVED_BETA = "interleaved-thinking-2025-05-14"


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` for a JSON object, else UNSET (any other shape has no such key)."""
    if isinstance(obj, Mapping):
        return obj.get(key, UNSET)
    return UNSET


def _is_number(v: Any) -> bool:
    return (type(v) is int or type(v) is float) and v == v  # NaN is no number for the API


# --- predicates the rules are made of, shared with the transforms (convo.transforms._base, build,
# repair import them), so that a repair and the check it must satisfy cannot drift apart


def is_server_result(b: Any) -> bool:
    """A server tool's result block (documented ones, or a new ``*_tool_result`` type)."""
    if isinstance(b, ServerToolResult):
        return True
    return type(b) is UnknownBlock and b.type.endswith("_tool_result")


def paused(m: Message) -> bool:
    """An assistant turn ending in a server tool block: a ``pause_turn`` reply sent back so the
    model continues (facts §4), which is not a prefill."""
    content = m.content
    if m.role != "assistant" or type(content) is not tuple or not content:
        return False
    last = content[-1]
    return type(last) is ServerToolUse or is_server_result(last)


def system_may_follow(m: Message) -> bool:
    """Whether a system section with content may come right after *m* (facts §1.5 rule 2): a
    user turn (tool results included), or an assistant turn ending in a server tool result.

    >>> system_may_follow(Message("user", "Hi")), system_may_follow(Message("assistant", "Hello"))
    (True, False)
    """
    if m.role == "user":
        return True
    content = m.content
    return m.role == "assistant" and type(content) is tuple and bool(content) and is_server_result(content[-1])


def effort_only(m: Message) -> bool:
    """A system message with no content and an ``output_config`` (beta): it renders nothing and
    is accepted anywhere (facts §1.5 rule 6)."""
    return m.role == "system" and not m.content and "output_config" in m.extra


def sampling_off_default(name: str, value: Any) -> bool:
    """Whether a model that takes only the default sampling refuses *name* = *value* (facts §2.3):
    any top_k, a temperature other than 1, a top_p below 0.99."""
    return name == "top_k" or (name == "temperature" and value != 1) or (name == "top_p" and value < 0.99)


def sampling_off_thinking(name: str, value: Any) -> bool:
    """Whether *name* = *value* is refused while thinking is on (facts §2.3): any top_k, a
    temperature other than 1, a top_p below 0.95."""
    return name == "top_k" or (name == "temperature" and value != 1) or (name == "top_p" and value < 0.95)


def interleaved(conv: Conversation) -> bool:
    """Whether the interleaved-thinking beta is on, which lets budget_tokens exceed max_tokens."""
    betas = conv.extra.get("betas")
    return isinstance(betas, tuple) and _INTERLEAVED_BETA in betas


def _cache_ttl(cc: Any) -> str | None:
    """The TTL of a cache_control value ("5m" by default), or None when it is no breakpoint."""
    if cc is UNSET or cc is None:
        return None
    ttl = _get(cc, "ttl")
    return ttl if isinstance(ttl, str) else "5m"


class _Pass:
    """The state of one validation pass; its methods are the per-block checks."""

    __slots__ = ("api_2026", "cache_5m", "cache_count", "cache_order_done", "cache_over_done",
                 "images", "out", "profile", "tool_ids")

    def __init__(self, profile: Profile, api_2026: bool) -> None:
        self.profile = profile
        self.api_2026 = api_2026
        self.out: list[Violation] = []
        self.images: list[tuple[str, Image]] = []
        self.tool_ids: dict[str, str] = {}
        self.cache_count = 0
        self.cache_5m = False
        self.cache_over_done = False
        self.cache_order_done = False

    def add(self, rule: str, path: str, message: str) -> None:
        self.out.append(_violation(rule, path, message))

    def breakpoint(self, cc: Any, path: str) -> None:
        """Count a cache_control marker at *path* (prefix order) and check the TTL order."""
        ttl = _cache_ttl(cc)
        if ttl is None:
            return
        self.cache_count += 1
        if self.cache_count > _MAX_BREAKPOINTS and not self.cache_over_done:
            self.cache_over_done = True
            self.add("cache-control.too-many", path,
                     f"cache breakpoint number {self.cache_count}: at most {_MAX_BREAKPOINTS} are allowed")
        if ttl == "1h":
            if self.cache_5m and not self.cache_order_done:
                self.cache_order_done = True
                self.add("cache-control.ttl-order", path,
                         "a 1h cache breakpoint comes after a 5m one; longer TTLs must come first")
        else:
            self.cache_5m = True

    def nested(self, blocks: Any, base: str, in_user: bool) -> None:
        """Checks for blocks inside a tool_result, search_result or content document."""
        if type(blocks) is not tuple:
            return
        for k, b in enumerate(blocks):
            t = type(b)
            if t is Text:
                if not b.text:
                    self.add("text.empty", f"{base}[{k}]", "text block with empty text")
                if in_user and self.api_2026 and b.citations:
                    self.add("citations.in-user", f"{base}[{k}]",
                             "cited text in a user message is a 400 under API 2026-10-21")
            elif t is Image:
                self.images.append((f"{base}[{k}]", b))
            elif t is SearchResult:
                self.nested(b.content, f"{base}[{k}].content", in_user)
            elif t is Document and type(b.source) is ContentSource:
                self.nested(b.source.content, f"{base}[{k}].source.content", in_user)
            cc = getattr(b, "cache_control", UNSET)
            if cc is not UNSET and cc is not None:
                self.breakpoint(cc, f"{base}[{k}]")

    def check_images(self) -> None:
        p = self.profile
        n = len(self.images)
        if n > p.max_images:
            path = self.images[p.max_images][0]
            self.add("image.too-many", path,
                     f"{n} images in the request; {p.model or 'this model'} accepts at most {p.max_images}")
        limit = p.many_images_px if n > p.many_images_threshold else p.max_image_px
        for path, img in self.images:
            src = img.source
            if type(src) is not Base64Source:
                continue
            mt = src.media_type
            if mt not in MEDIA_TYPES:
                self.add("image.media-type", f"{path}.source.media_type",
                         f"media_type {mt!r} is not one of {', '.join(MEDIA_TYPES)}")
            else:
                actual = _sniff_base64(src.data)
                if actual is not None and actual != mt:
                    self.add("image.media-type", f"{path}.source.media_type",
                             f"media_type says {mt} but the bytes are {actual}")
            if len(src.data) > p.max_image_bytes:
                self.add("image.too-large", f"{path}.source.data",
                         f"{len(src.data)} base64 characters; at most {p.max_image_bytes} per image")
            size = img.size()
            if size is not None and (size[0] > limit or size[1] > limit):
                why = (f" (the request has {n} images, more than {p.many_images_threshold})"
                       if limit == p.many_images_px else "")
                self.add("image.dimensions", path,
                         f"{size[0]}x{size[1]} px is larger than {limit}x{limit}{why}")


def _sniff_base64(data: str) -> str | None:
    """The image type of base64 *data* from its first 12 bytes: a media type, a "not an image"
    note, or None when the head is not base64 (a placeholder such as the guide's) or too short.

    Only the first 16 characters are decoded: the magic number is all we need, and the CLI checks
    every image of multi-GB files."""
    head = data[:16]
    if len(head) < 16:
        return None
    try:
        raw = binascii.a2b_base64(head, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return sniff_media_type(raw) or "not a jpeg, png, gif or webp image"


def _check_request(conv: Conversation, p: Profile, s: _Pass, thinking_type: Any) -> None:
    """Request-level rules: model, max_tokens, sampling, thinking, tool_choice, effort, tools."""
    model = conv.model
    if not isinstance(model, str) or not model:
        s.add("request.model-missing", "$.model", "the request names no model")
    elif not p.known:
        s.add("model.unknown", "$.model",
              f"no profile for {model!r}: model-specific rules use the permissive default")

    max_tokens = conv.max_tokens
    if max_tokens is UNSET or max_tokens is None:
        s.add("request.max-tokens-missing", "$.max_tokens", "max_tokens is required")
    elif type(max_tokens) is not int:
        s.add("request.max-tokens-range", "$.max_tokens", f"max_tokens must be an integer, not {max_tokens!r}")
    elif max_tokens < 0:
        s.add("request.max-tokens-range", "$.max_tokens", f"max_tokens {max_tokens} is negative")
    elif max_tokens > p.max_output:
        s.add("request.max-tokens-range", "$.max_tokens",
              f"max_tokens {max_tokens} is above {p.model or 'the model'}'s max output {p.max_output}")

    thinking_on = thinking_type in _THINKING_ON
    for name in SAMPLING_PARAMS:
        value = getattr(conv, name)
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
        if thinking_type is UNSET or thinking_type not in ("enabled", "adaptive", "disabled"):
            s.add("thinking.unsupported-mode", "$.thinking.type" if thinking_type is not UNSET else "$.thinking",
                  f"{thinking_type!r} is not a thinking type (enabled, adaptive or disabled)")
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
            elif type(max_tokens) is int and budget >= max_tokens and not interleaved(conv):
                s.add("thinking.budget", "$.thinking.budget_tokens",
                      f"budget_tokens {budget} must be below max_tokens {max_tokens}")

    choice = _get(conv.tool_choice, "type")
    if choice in ("any", "tool"):
        if not p.forced_tool_choice:
            s.add("tool-choice.forced-unsupported", "$.tool_choice.type",
                  f"{p.model} does not accept tool_choice {choice!r}")
        elif thinking_on:
            s.add("tool-choice.forced-unsupported", "$.tool_choice.type",
                  f"tool_choice {choice!r} cannot be used while thinking is {thinking_type}")

    level = _get(conv.output_config, "effort")
    if level is not UNSET and level not in p.effort_levels:
        s.add("effort.unsupported", "$.output_config.effort", _effort_message(p, level))

    tools = conv.tools
    if type(tools) is tuple:
        for k, tool in enumerate(tools):
            if not isinstance(tool, Mapping):
                continue
            ttype = tool.get("type")
            if ttype is None or ttype == "custom":
                tname = tool.get("name")
                if not isinstance(tname, str) or not _TOOL_NAME.fullmatch(tname):
                    s.add("tools.name", f"$.tools[{k}].name",
                          f"tool name {tname!r} does not match ^[a-zA-Z0-9_-]{{1,64}}$")
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


def _check_messages(conv: Conversation, p: Profile, s: _Pass, thinking_on: bool) -> None:
    """Every per-message rule, in one pass over the messages; each family is a function below.

    For each message, in this order: its role, the run of system messages it closes, the order
    of turns, its content (blocks, or a string), and whether it answers the tool_use blocks of
    the turn before it; then, once, the prefill. A family is called only where it can find
    something (a system message, the first turn or a repeated role, string or empty content, a
    turn after tool_use blocks), so the loop reads as the list of triggers and the pass costs
    what one long function did.
    """
    msgs = conv.messages
    if type(msgs) is not tuple or not msgs:
        s.add("messages.empty", "$.messages", "the request has no messages")
        return
    n = len(msgs)
    if n > _MAX_MESSAGES:
        s.add("messages.too-many", "$.messages", f"{n} messages; at most {_MAX_MESSAGES} are allowed")
    last = n - 1
    first_turn = _first_turn(msgs)
    runs = _SystemRuns(msgs, p, s)
    prev_role: str | None = None  # of the previous message, any role
    asked: Mapping[str, str] = _NONE_ASKED  # tool_use ids of the previous non-system message -> paths
    for i, msg in enumerate(msgs):
        role = msg.role
        if role not in _ROLES:
            s.add("message.role", f"$.messages[{i}].role", f"role {role!r} is not user, assistant or system")
        if role == "system":
            runs.add(i, msg)
        elif runs.start >= 0:
            runs.close(msg)
        if i == first_turn or role == prev_role:
            _check_order(i, role, first_turn, prev_role, s)
        prev_role = role
        content = msg.content
        if type(content) is tuple and content:
            answers, asks = _check_blocks(i, role, content, i == last, asked, s)
        else:
            _check_empty_content(i, msg, i == last, s)
            answers = asks = None
        if role != "system":
            if asked:
                _check_answered(asked, answers, s)
            asked = _NONE_ASKED if asks is None else asks
    if runs.start >= 0:
        runs.close(None)
    if asked:
        _check_unanswered(asked, s)
    _check_prefill(conv, p, s, thinking_on)


def _first_turn(msgs: tuple[Message, ...]) -> int:
    """The index of the first message that is no system message (the length when none is)."""
    for i, m in enumerate(msgs):
        if m.role != "system":
            return i
    return len(msgs)


class _SystemRuns:
    """``system-message.*`` (facts §1.5) and a system message's own effort. Consecutive
    ``role: "system"`` messages form a run, which is placed when the message after it comes."""

    __slots__ = ("has_content", "msgs", "profile", "s", "start")

    def __init__(self, msgs: tuple[Message, ...], profile: Profile, s: _Pass) -> None:
        self.msgs = msgs
        self.profile = profile
        self.s = s
        self.start = -1  # first index of the current run, -1 outside a run
        self.has_content = False  # whether the run carries content (an effort-only run does not)

    def add(self, i: int, msg: Message) -> None:
        """System message *i*: the model must take one; it opens or extends a run."""
        p = self.profile
        if not p.mid_conversation_system:
            self.s.add("system-message.unsupported-model", f"$.messages[{i}].role",
                       f"{p.model or 'this model'} does not accept role \"system\" messages")
        if self.start < 0:
            self.start = i
            self.has_content = False
        if msg.content:
            self.has_content = True
        effort = _get(msg.extra.get("output_config"), "effort")
        if effort is not UNSET and effort not in p.effort_levels:
            self.s.add("effort.unsupported", f"$.messages[{i}].output_config.effort", _effort_message(p, effort))

    def close(self, after: Message | None) -> None:
        """The run ends before *after* (None: the conversation ends); a run with content is placed."""
        if self.has_content:
            self._place(after)
        self.start = -1

    def _place(self, after: Message | None) -> None:
        start, add = self.start, self.s.add
        path = f"$.messages[{start}]"
        if start == 0:
            add("system-message.first", path, "a system message with content cannot be messages[0]")
            if after is not None and after.role != "assistant":
                add("system-message.followed-by-user", path,
                    "a system message must be last or be followed by an assistant turn")
            return
        before = self.msgs[start - 1]
        if before.role == "assistant" and type(before.content) is tuple:
            asked = {b.id for b in before.content if type(b) is ToolUse}
            if asked and after is not None and after.role == "user" and type(after.content) is tuple and any(
                type(b) is ToolResult and b.tool_use_id in asked for b in after.content
            ):
                add("system-message.between-tool-use", path,
                    "a system message sits between a tool_use and its tool_result")
                return
        if not system_may_follow(before):
            add("system-message.not-after-user", path,
                f"a system message must follow a user turn (it follows {before.role!r})")
        if after is not None and after.role != "assistant":
            add("system-message.followed-by-user", path,
                f"a system message must be last or be followed by an assistant turn (it is followed by {after.role!r})")


def _check_order(i: int, role: str, first_turn: int, prev_role: str | None, s: _Pass) -> None:
    """``messages.first-role`` and ``roles.consecutive`` for message *i*, which is the first
    message that is no system message (index *first_turn*) or has the role of the one before."""
    if i == first_turn and role == "assistant":
        s.add("messages.first-role", f"$.messages[{i}].role",
              "the first non-system message is an assistant turn, not a user turn")
    if (role == "user" or role == "assistant") and prev_role == role:
        s.add("roles.consecutive", f"$.messages[{i}]",
              f"two consecutive {role} turns (the API merges them; other platforms reject them)")


def _check_empty_content(i: int, msg: Message, is_last: bool, s: _Pass) -> None:
    """``message.empty-content``, and ``text.whitespace-only`` for string content (for blocks,
    :func:`_check_blocks` reports it): [OBS] (facts §1.7), observed 400s, not in the docs.
    Only the final assistant message may be empty or end the conversation in whitespace."""
    content = msg.content
    final_assistant = is_last and msg.role == "assistant"
    if not content:
        if not final_assistant and not effort_only(msg):
            s.add("message.empty-content", f"$.messages[{i}].content",
                  "empty content; only the final assistant message may be empty")
    elif type(content) is str and not final_assistant and content.isspace():
        s.add("text.whitespace-only", f"$.messages[{i}].content", "the message's only text is whitespace")


def _check_blocks(
    i: int, role: str, content: tuple[Any, ...], is_last: bool, asked: Mapping[str, str], s: _Pass
) -> tuple[set[str] | None, dict[str, str] | None]:
    """The rules of each block of message *i*, block by block: empty text and whitespace-only
    text, cited text in a user turn, tool_result placement and orphans (results that answer
    nothing the previous turn *asked*), duplicate tool_use ids, documents in an assistant turn,
    cache breakpoints, and the blocks nested in results, search results and documents.

    Returns the tool_use ids this message answers (a user turn) and those it asks (an assistant
    turn: id -> path), or None for either when there are none.
    """
    in_user = role == "user"
    answers: set[str] | None = None
    asks: dict[str, str] | None = None
    ws_first = -1  # index of the first whitespace-only text block
    real_text = False
    other_before = False  # whether a block that is no tool_result came already
    not_first_done = False
    for j, b in enumerate(content):
        t = type(b)
        if t is Text:
            text = b.text
            if not text:
                s.add("text.empty", f"$.messages[{i}].content[{j}]", "text block with empty text")
            elif text.isspace():
                if ws_first < 0:
                    ws_first = j
            else:
                real_text = True
            if in_user and s.api_2026 and b.citations:
                s.add("citations.in-user", f"$.messages[{i}].content[{j}]",
                      "cited text in a user message is a 400 under API 2026-10-21")
            other_before = True
            cc = b.cache_control
        elif t is ToolResult:
            if in_user:
                if other_before and not not_first_done:
                    not_first_done = True
                    s.add("tool-result.not-first", f"$.messages[{i}].content[{j}]",
                          "a tool_result comes after other blocks; tool results must come first")
                if answers is None:
                    answers = set()
                answers.add(b.tool_use_id)
                if b.tool_use_id not in asked:
                    s.add("tool-result.orphan", f"$.messages[{i}].content[{j}]",
                          f"tool_result for {b.tool_use_id!r} answers no tool_use of the "
                          "immediately preceding assistant turn")
            if type(b.content) is tuple:
                s.nested(b.content, f"$.messages[{i}].content[{j}].content", in_user)
            cc = b.cache_control
        elif t is ToolUse or t is ServerToolUse:
            tid = b.id
            path = f"$.messages[{i}].content[{j}]"
            if tid in s.tool_ids:
                s.add("tool-use.duplicate-id", path, f"tool_use id {tid!r} is already used at {s.tool_ids[tid]}")
            else:
                s.tool_ids[tid] = path
            if t is ToolUse and role == "assistant":
                if asks is None:
                    asks = {}
                asks[tid] = path
            other_before = True
            cc = b.cache_control
        else:
            other_before = True
            if t is Image:
                s.images.append((f"$.messages[{i}].content[{j}]", b))
            elif t is Document:
                if s.api_2026 and role == "assistant":
                    s.add("document.in-assistant", f"$.messages[{i}].content[{j}]",
                          "a document in an assistant message is a 400 under API 2026-10-21")
                if type(b.source) is ContentSource:
                    s.nested(b.source.content, f"$.messages[{i}].content[{j}].source.content", in_user)
            elif t is SearchResult:
                s.nested(b.content, f"$.messages[{i}].content[{j}].content", in_user)
            elif t is MidConvSystem:
                s.nested(b.content, f"$.messages[{i}].content[{j}].content", False)
            cc = getattr(b, "cache_control", UNSET)  # thinking blocks have none
        if cc is not UNSET and cc is not None:
            s.breakpoint(cc, f"$.messages[{i}].content[{j}]")
    if ws_first >= 0 and not real_text and not (is_last and role == "assistant"):
        s.add("text.whitespace-only", f"$.messages[{i}].content[{ws_first}]",
              "the message's only text is whitespace")
    return answers, asks


_NONE_ASKED: Mapping[str, str] = MappingProxyType({})


def _check_answered(asked: Mapping[str, str], answers: set[str] | None, s: _Pass) -> None:
    """``tool-use.missing-result``: this turn answers every tool_use the turn before *asked*.

    System messages in between are skipped (one there is ``system-message.between-tool-use``);
    results that answer nothing are ``tool-result.orphan``, from :func:`_check_blocks`.
    """
    for tid, path in asked.items():
        if answers is None or tid not in answers:
            s.add("tool-use.missing-result", path,
                  f"tool_use {tid!r} has no tool_result in the immediately following user message")


def _check_unanswered(asked: Mapping[str, str], s: _Pass) -> None:
    """``tool-use.missing-result`` for the tool_use blocks of a final assistant turn."""
    for tid, path in asked.items():
        s.add("tool-use.missing-result", path, f"tool_use {tid!r} has no tool_result (the conversation ends)")


def _check_prefill(conv: Conversation, p: Profile, s: _Pass, thinking_on: bool) -> None:
    """``prefill.*``: the conversation ends with an assistant turn the model would continue."""
    msgs = conv.messages
    last = len(msgs) - 1
    final = msgs[last]
    # a paused turn (stop_reason pause_turn) is sent back as it is to let the model go on: the
    # docs' own flow, so it is no prefill even on models that reject prefill
    if final.role != "assistant" or paused(final):
        return
    where = f"$.messages[{last}]"
    if not p.prefill:
        s.add("prefill.unsupported", where,
              f"{p.model or 'this model'} does not accept a prefill (a final assistant turn)")
    content: Any = final.content
    # [OBS] "final assistant content cannot end with trailing whitespace" (facts §1.4)
    if type(content) is str:
        if content and content[-1].isspace():
            s.add("prefill.trailing-whitespace", f"{where}.content", "the prefill ends in whitespace")
    elif content:
        b = content[-1]
        if type(b) is Text and b.text and b.text[-1].isspace():
            s.add("prefill.trailing-whitespace", f"{where}.content[{len(content) - 1}]",
                  "the prefill ends in whitespace")
    if thinking_on:
        s.add("prefill.with-thinking", where, "a prefill cannot be used while thinking is on")
    if _get(conv.output_config, "format") not in (UNSET, None) or "output_format" in conv.extra:
        s.add("prefill.with-json-output", where, "a prefill cannot be used with JSON outputs (output_config.format)")


def validate(
    conversation: Conversation,
    *,
    profile: Profile | str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    registry: ProfileRegistry | None = None,
) -> Report:
    """Check *conversation* against the API's rules for its model and *api_version*.

    *profile* is a :class:`~convo.profiles.Profile`, a model id, or None for the conversation's
    own model (looked up in *registry*, default the built-ins). An unknown model is checked with
    the permissive default and reported as a ``model.unknown`` warning; an unknown *api_version*
    raises ``ValueError``.

    >>> from convo.model import Conversation, Message
    >>> conv = Conversation(model="claude-sonnet-4-5", max_tokens=1, temperature=0.2,
    ...                     messages=[Message("user", "Hi"), Message("assistant", "The answer is (")])
    >>> validate(conv).rules
    ('sampling.removed',)
    >>> validate(conv, api_version="2023-06-01").ok
    True
    >>> validate(conv, profile="claude-opus-4-8", api_version="2023-06-01").rules
    ('sampling.unsupported', 'prefill.unsupported')
    """
    if api_version not in API_VERSIONS:
        raise ValueError(f"unknown API version {api_version!r} (known: {', '.join(API_VERSIONS)})")
    if profile is None:
        prof = get_profile(conversation.model, registry=registry)
    elif isinstance(profile, str):
        prof = get_profile(profile, registry=registry)
    else:
        prof = profile
    s = _Pass(prof, api_version == "2026-10-21")
    thinking_type = _get(conversation.thinking, "type")
    _check_request(conversation, prof, s, thinking_type)
    _check_system(conversation, s)
    _check_messages(conversation, prof, s, thinking_type in _THINKING_ON)
    cc = conversation.cache_control
    if cc is not UNSET:
        s.breakpoint(cc, "$.cache_control")  # automatic caching: a breakpoint on the last block
    if s.images:
        s.check_images()
    return Report(s.out)


def check(
    conversation: Conversation,
    *,
    profile: Profile | str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    registry: ProfileRegistry | None = None,
) -> None:
    """Raise :class:`~convo.errors.ValidationError` (carrying the report) unless *conversation* is valid.

    >>> from convo.model import Conversation, Message
    >>> check(Conversation(model="claude-opus-4-8", max_tokens=16, messages=[Message("user", "Hi")]))
    >>> check(Conversation(model="claude-opus-4-8", max_tokens=16))
    Traceback (most recent call last):
    ...
    convo.errors.ValidationError: messages.empty $.messages: the request has no messages
    """
    report = validate(conversation, profile=profile, api_version=api_version, registry=registry)
    if not report.ok:
        raise ValidationError(report)
