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

Where each part lives (the modules are private; import from ``convo.rules``):

- ``_catalog``: :data:`RULES`, :class:`Rule`, :class:`Violation`, :class:`Report`, the README table;
- ``convo._predicates`` (beside the model, so that a transform needs no rules loaded): the
  predicates shared with the transforms (:func:`paused`, :func:`system_may_follow`,
  :func:`effort_only`, ...), re-exported here;
- ``_schema``: the closed-world schema (``convo/schema.json``, generated from the OpenAPI specs by
  ``scripts/make_schema.py``) and the walk that checks every key, type and tag against it;
- ``_pass``: the state of one pass, and the checks of cache breakpoints, nested blocks, images,
  documents and base64 data;
- ``_request``: the request-level rules and the top-level ``system`` field;
- ``_messages``: the per-message rules, one function per family;
- ``_turns``: :func:`~convo.rules._turns.clean_turns`, which judges the parsed turns of a lazily
  decoded request without building them (plainly clean: the message pass is skipped; else it runs);
- ``_plain``: :class:`~convo.rules._plain.PlainCheck`, which judges a whole plain request as parsed
  JSON (plainly valid: ``convo validate`` never decodes the line, and :func:`validate` of an
  untouched decoded request returns at once; else the rules run);
- here: :func:`validate` and :func:`check`, which run them in that order (the schema first, as
  the API checks the shape of a request before its meaning).

>>> from convo.model import Conversation, Message
>>> conv = Conversation(model="claude-opus-4-8", max_tokens=64, messages=[
...     Message("user", "Hi"), Message("assistant", "Hello ")])
>>> [(v.rule, v.path) for v in validate(conv).errors]
[('prefill.unsupported', '$.messages[1]'), ('prefill.trailing-whitespace', '$.messages[1].content')]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from convo._json import UNSET
from convo._predicates import effort_only as effort_only
from convo._predicates import interleaved as interleaved
from convo._predicates import is_server_result as is_server_result
from convo._predicates import paused as paused
from convo._predicates import sampling_off_default as sampling_off_default
from convo._predicates import sampling_off_thinking as sampling_off_thinking
from convo._predicates import system_may_follow as system_may_follow
from convo.errors import ValidationError
from convo.model import _GET_ROOT, _LAZY_BUILD, Conversation, Image, lazy_turns
from convo.profiles import API_VERSIONS, DEFAULT_API_VERSION, Profile, ProfileRegistry, get_profile
from convo.rules._catalog import RULES, Report, Rule, Severity, Violation, rules_table_markdown
from convo.rules._messages import _check_messages, _prefill_rules
from convo.rules._pass import _get, _Pass
from convo.rules._plain import PlainCheck
from convo.rules._request import _THINKING_ON, _check_request, _check_system
from convo.rules._schema import (
    api_location,
    betas_needed,
    check_request,
    load_schema,
    parsed_content_ok,
)
from convo.rules._turns import clean_turns

__all__ = [
    "RULES",
    "Report",
    "Rule",
    "Severity",
    "Violation",
    "api_location",
    "betas_needed",
    "check",
    "rules_table_markdown",
    "validate",
]


_ENDPOINTS = {"messages": "create", "count_tokens": "count_tokens"}


def validate(
    conversation: Conversation,
    *,
    profile: Profile | str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    registry: ProfileRegistry | None = None,
    betas: Iterable[str] = (),
    allow: Iterable[str] = (),
    endpoint: str = "messages",
) -> Report:
    """Check *conversation* against the API's rules for its model and *api_version*.

    *profile* is a :class:`~convo.profiles.Profile`, a model id, or None for the conversation's
    own model (looked up in *registry*, default the built-ins). An unknown model is checked with
    the permissive default and reported as a ``model.unknown`` warning; an unknown *api_version*
    raises ``ValueError``.

    The API is closed-world, and so is this check: an unknown key anywhere, an unknown block (or
    source, tool, ...) ``type`` and a value of the wrong JSON type are errors (``schema.*``), as
    they are 400s. *betas* are the ``anthropic-beta`` headers the request goes with: keys and
    types that exist only in the beta API are accepted only when their header is named. *allow*
    accepts unknown keys by name (``"x_trace_id"``, at any depth) or by ``$.path`` pattern
    (``"$.messages[*].x_meta"``), for transcripts from an API newer than convo's schema
    (:func:`convo.transforms.drop_unknown_fields` removes them instead, and takes the same names).
    *endpoint* is ``"messages"`` or ``"count_tokens"`` (whose body takes no ``max_tokens``).

    >>> from convo.model import Conversation, Message
    >>> conv = Conversation(model="claude-sonnet-4-5", max_tokens=1, temperature=0.2,
    ...                     messages=[Message("user", "Hi"), Message("assistant", "The answer is (")])
    >>> validate(conv).rules
    ('sampling.removed',)
    >>> validate(conv, api_version="2023-06-01").ok
    True
    >>> validate(conv, profile="claude-opus-4-8", api_version="2023-06-01").rules
    ('sampling.unsupported', 'prefill.unsupported')
    >>> typo = Conversation(model="claude-opus-4-8", max_tokens=64,
    ...                     messages=[Message("user", "Hi")], extra={"stop_sequence": ["END"]})
    >>> v = validate(typo).errors[0]
    >>> v.rule, v.path, v.message, v.hint
    ('schema.unknown-key', '$.stop_sequence', 'Extra inputs are not permitted', 'Did you mean `stop_sequences`?')
    >>> validate(typo, allow=["stop_sequence"]).ok
    True
    """
    if api_version not in API_VERSIONS:
        raise ValueError(f"unknown API version {api_version!r} (known: {', '.join(API_VERSIONS)})")
    root = _ENDPOINTS.get(endpoint)
    if root is None:
        raise ValueError(f"unknown endpoint {endpoint!r} (known: {', '.join(_ENDPOINTS)})")
    if isinstance(betas, str) or isinstance(allow, str):
        raise TypeError("betas and allow are collections of names, not one string")
    if profile is None:
        prof = get_profile(conversation.model, registry=registry)
    elif isinstance(profile, str):
        prof = get_profile(profile, registry=registry)
    else:
        prof = profile
    if root == "create" and not betas and not allow and _plain_verdict(conversation, prof, api_version):
        return Report([])  # a request decoded from JSON, untouched, plainly valid (convo.rules._plain)
    s = _Pass(prof, api_version == "2026-10-21")
    betas = frozenset(betas)
    # turns still parsed that are plainly clean need neither the message pass nor the closed
    # world's walk of messages (convo.rules._turns): they are never built
    turns = lazy_turns(conversation)
    verdict = False if turns is None else clean_turns(*turns)
    # (a list: clean but for blocks the pass must look at, if the closed world finds their
    # messages fine: images, for their rules, and cache breakpoints, counted in order)
    clean = verdict is True or (verdict.__class__ is list and _looks_fine(turns, verdict, root))
    # the closed world: the top level now; the messages and their blocks inside the message
    # pass, each visited once (or not at all, when one call finds every one fine)
    s.blocks_schema = check_request(conversation, load_schema(), root, s.out.append, betas=betas, allow=allow,
                                    messages_clean=clean)
    thinking_type = _get(conversation.thinking, "type")
    _check_request(conversation, prof, s, thinking_type, count_tokens=root == "count_tokens",
                   betas=betas)
    _check_system(conversation, s)
    if not clean:
        _check_messages(conversation, prof, s, thinking_type in _THINKING_ON)
    else:
        assert turns is not None  # (clean: they were judged)
        if isinstance(verdict, list):
            _look(turns, verdict, s)
        if turns[0][-1]["role"] == "assistant":  # (a clean final turn is no paused one)
            _prefill_rules(conversation, prof, s, thinking_type in _THINKING_ON, f"$.messages[{len(turns[0]) - 1}]")
    cc = conversation.cache_control
    if cc is not UNSET:
        s.breakpoint(cc, "$.cache_control")  # automatic caching: a breakpoint on the last block
    if s.images:
        s.check_images()
    return Report(s.out)


def _looks_fine(turns: Any, found: list[tuple[int, int, int]], root: str) -> bool:
    """Whether the closed world finds every block in *found* fine, as parsed JSON (the other
    blocks of those messages :func:`~convo.rules._turns.clean_turns` judged clean: their keys
    are their type's GA keys and their values of its types; a tool result is judged whole)."""
    contents = turns[0]
    done = (-1, -1)
    for i, j, _ in found:
        if (i, j) != done:  # (a tool result's blocks come together: it is judged once)
            done = (i, j)
            if not parsed_content_ok([contents[i]["content"][j]], root=root):
                return False
    return True


def _look(turns: Any, found: list[tuple[int, int, int]], s: _Pass) -> None:
    """What the message pass does with the blocks *found* (clean turns but for these): an image
    goes to the image rules, a breakpoint is counted, in the order the pass meets them. Only
    those blocks are built (alone: a block is built from its own JSON only)."""
    contents = turns[0]
    build = _LAZY_BUILD[0]
    for i, j, k in found:
        b: Any = build([contents[i]["content"][j]])[0]
        path = f"$.messages[{i}].content[{j}]"
        if k >= 0:
            b = b.content[k]
            path = f"{path}.content[{k}]"
        if type(b) is Image:
            s.images.append((path, b))
        cc = getattr(b, "cache_control", UNSET)
        if cc is not UNSET and cc is not None:
            s.breakpoint(cc, path)


_PLAIN: dict[tuple[int, str], tuple[Profile, PlainCheck]] = {}  # (id(profile), API version) -> (profile, its PlainCheck)


def _plain_verdict(conversation: Conversation, prof: Profile, api_version: str) -> bool:
    """True when *conversation* was decoded from JSON by the codec, is untouched, and its parsed
    request is plainly valid for *prof* under *api_version*
    (:class:`convo.rules._plain.PlainCheck`, given the masks the codec kept): validate would
    report nothing. False for "maybe", and for any other conversation."""
    try:
        parsed = _GET_ROOT(conversation)
    except AttributeError:  # (not decoded from JSON)
        return False
    if parsed is None or parsed[0] is None or parsed[3] is None:  # (changed, or its turns built)
        return False
    if parsed[2] is not parsed[0].get("messages"):  # (the masks are those of the request's own turns)
        return False
    key = (id(prof), api_version)
    found = _PLAIN.get(key)
    if found is None or found[0] is not prof:
        if len(_PLAIN) >= 64:
            _PLAIN.clear()
        found = _PLAIN[key] = (prof, PlainCheck(None, prof, api_version=api_version))
    return bool(found[1](parsed[0], parsed[3]))


def check(
    conversation: Conversation,
    *,
    profile: Profile | str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    registry: ProfileRegistry | None = None,
    betas: Iterable[str] = (),
    allow: Iterable[str] = (),
    endpoint: str = "messages",
) -> None:
    """Raise :class:`~convo.errors.ValidationError` (carrying the report) unless *conversation* is valid.

    >>> from convo.model import Conversation, Message
    >>> check(Conversation(model="claude-opus-4-8", max_tokens=16, messages=[Message("user", "Hi")]))
    >>> check(Conversation(model="claude-opus-4-8", max_tokens=16))
    Traceback (most recent call last):
    ...
    convo.errors.ValidationError: messages.empty $.messages: the request has no messages
    """
    report = validate(conversation, profile=profile, api_version=api_version, registry=registry,
                      betas=betas, allow=allow, endpoint=endpoint)
    if not report.ok:
        raise ValidationError(report)
