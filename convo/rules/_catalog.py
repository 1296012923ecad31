"""The rules as data: :data:`RULES` (id, severity, source, description, hint) and what a check
reports: :class:`Violation` and :class:`Report`.

Layer: the bottom of ``convo.rules`` (attrs only); the README table is rendered from
:data:`RULES` by :func:`rules_table_markdown`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # for mypy's attrs plugin: attrs classes (convo._frozen makes them, without attrs)
    from attrs import field, frozen
else:
    from convo._frozen import field, frozen

Severity = Literal["error", "warning"]


@frozen
class Rule:
    """One rule of the API: stable id, severity, source tag, what it checks and how to fix it."""

    id: str
    severity: Severity
    source: str  # DOC, SDK, SPEC, OBS, LIVE or UNCONFIRMED; several joined by ", "
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
    _r("schema.unknown-key", "error", "OBS, SPEC",
       "A key the API does not know at that place: a typo (`stop_sequence`), another API's field "
       "(`response_format`), a newer API's field. The API is closed-world: 400 `Extra inputs are "
       "not permitted`, at any depth.",
       "Fix the name (the hint names the closest key), remove it, or accept it "
       "(validate(allow=[...]), --allow KEY)."),
    _r("schema.beta-only", "error", "SPEC",
       "A key or `type` that exists only in the beta API (the spec's beta schema), sent without "
       "the `anthropic-beta` header that allows it.",
       "Send the header the hint names (validate(betas=[...]), --beta NAME), or remove it."),
    _r("schema.unknown-type", "error", "OBS, SPEC",
       "A content block, source, tool, citation or other tagged object whose `type` the API does "
       "not know at that place: 400 `Input tag 'x' found using 'type' does not match any of the "
       "expected tags: ...`.",
       "Use one of the types the message lists, or remove the block."),
    _r("schema.wrong-type", "error", "SPEC",
       "A known key whose value has the wrong JSON type (a string `tool_use.input`, a number "
       "where an object belongs): 400 `Input should be a valid ...`.",
       "Give the value the type the API expects there."),
    _r("schema.missing-key", "error", "SPEC",
       "A key the API requires at that place is absent (a tool without `input_schema`, a "
       "`tool_choice` of type `tool` without `name`): 400 `Field required`.",
       "Add the key."),
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
    _r("tools.name", "error", "OBS",
       "A client tool's name does not match `^[a-zA-Z0-9_-]{1,128}$`, the pattern the API's own "
       "observed error states (`tools.0.custom.name: String should match pattern ...`); the define-tools "
       "docs say 64 characters: the API's word wins, and names over 64 are a risk.",
       "Rename the tool (letters, digits, _ and -; at most 128, 64 to be safe)."),
    _r("tools.duplicate-name", "error", "OBS",
       "Two tools share a name (observed API error: `tools: Tool names must be unique.`).",
       "Give every tool its own name (drop the duplicate definition)."),
    _r("tool-choice.unknown-tool", "error", "OBS",
       "`tool_choice` of type `tool` names no tool in `tools` (observed: a 400).",
       "Name one of the request's tools, or use tool_choice any/auto."),
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
    _r("tool-choice.forced-unsupported", "error", "DOC, LIVE",
       "`tool_choice` of type any/tool on a model that cannot force tool use, or with extended "
       "(`enabled`) thinking. Adaptive thinking with a forced tool choice is accepted (LIVE: "
       "claude-opus-4-6 answered 200), so it is not an error.",
       "Use tool_choice auto (or none)."),
    _r("effort.unsupported", "error", "DOC, LIVE",
       "`output_config.effort` is a level the model does not accept (the API: `This model does not "
       "support effort level 'xhigh'. Supported levels: ...`, LIVE). `null` means the default and "
       "is accepted (SPEC).",
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
    _r("document.media-type", "error", "DOC",
       "A base64 document whose `media_type` is not `application/pdf`, or whose bytes are not a PDF "
       "(PNG bytes sent as `application/pdf`).",
       "Send PDFs as documents and pictures as image blocks; read the type from the bytes."),
    _r("base64.invalid", "error", "SPEC",
       "Base64 `data` (of an image or a PDF) is not valid base64 (the spec's `format: byte`).",
       "Encode the bytes with standard base64 (base64.b64encode), padding included."),
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
    "SPEC": "SPEC",
    "LIVE": "LIVE",
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
        "Sources: DOC = Anthropic's documentation; SPEC = the API's OpenAPI schema (GA and beta, "
        "`convo/schema.json`); OBS = API errors seen by third parties, not in the docs (likely, "
        "not guaranteed); LIVE = exchanges recorded against the live API (its verdict wins over the "
        "docs' wording); UNCONFIRMED = no firm source, so only a warning. "
        "Model-specific facts come from the model's profile (`convo/profiles.json`)."
    )
    return "\n".join(lines) + "\n"


def _violation(rule: str, path: str, message: str, hint: str | None = None) -> Violation:
    r = RULES[rule]
    return Violation(rule, r.severity, path, message, r.hint if hint is None else hint, r.source)
