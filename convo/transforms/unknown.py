"""``drop_unknown_fields``: remove the keys the API would refuse (unknown ones, and beta-only ones
whose header is not named), reporting each removal.

Layer: transforms. It is built on the output of the closed-world check, not beside it: it runs
the walk that :func:`convo.validate` runs first (:class:`convo.rules._schema.Walk`, whose
``schema.*`` violations check the request against ``convo/schema.json``; the other rules are not
run, as they concern no key) and removes exactly the keys that walk reports, each at the
``$.path`` it names (:func:`convo.rules._schema.parse_path` turns a path into steps). So the
transform and ``validate`` cannot disagree about what is unknown: after it, ``validate`` reports
no ``schema.unknown-key`` and no beta-only key.

What it removes, and what it leaves (a decision, documented in :func:`drop_unknown_fields`):

- a key the schema does not know (rule ``schema.unknown-key``), wherever it is: a model object's
  ``extra``, or inside a JSON-valued field (``tools``, ``tool_choice``, ``thinking``,
  ``output_config``, ``metadata``, a block's ``cache_control``, ...). Tool inputs and
  ``input_schema`` are any JSON for the API, so nothing in them is ever unknown;
- a key that exists only in the beta API (rule ``schema.beta-only``) when its ``anthropic-beta``
  header is not among *betas*;
- nothing else. A block, source or tool of an unknown (or beta-only) ``type`` is content, not a
  field: removing it would change what the conversation says, so it stays and is reported as a
  note; ``validate`` still refuses it.

Lazily decoded turns (:mod:`convo.model`) stay unbuilt: the check runs on fresh copies of them,
and only a turn that loses a key is replaced (by its built copy, without the key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from convo._frozen import field_names, has
from convo._json import EMPTY, UNSET, FrozenDict
from convo.errors import TransformError
from convo.model import Conversation, Message, is_built, lazy_blocks, lazy_mask, with_lazy_blocks
from convo.rules import Violation
from convo.rules._schema import Walk, load_schema, parse_path, parsed_content_ok
from convo.transforms._base import ChangeLog, Transform, register, replace

__all__ = ["drop_unknown_fields", "unknown_fields"]

_EXTRA = "Extra inputs are not permitted"  # the API's words for a key it does not take (facts §11)


def _names(value: Iterable[str], what: str) -> tuple[str, ...]:
    """The names, sorted and without repeats: their order means nothing, so equal sets of names
    make equal transforms with one repr (a set's own order would change from run to run)."""
    if isinstance(value, str):
        raise TypeError(f"drop_unknown_fields({what}=...) takes a list of names, not one string: {value!r}")
    names = tuple(value)
    if not all(isinstance(x, str) for x in names):
        raise TypeError(f"drop_unknown_fields({what}=...) takes a list of names, not {names!r}")
    return tuple(sorted(set(names)))


def unknown_fields(conv: Conversation, *, betas: Iterable[str] = (), allow: Iterable[str] = ()
                   ) -> tuple[list[Violation], list[Violation]]:
    """What :func:`drop_unknown_fields` would do: the violations of the keys it removes, and those
    of the unknown or beta-only types it leaves (as notes), in the order the walk finds them.

    >>> from convo import Conversation, Message
    >>> conv = Conversation(model="claude-opus-4-8", max_tokens=8, messages=[Message("user", "Hi")],
    ...                     extra={"stop_sequence": ["END"]})
    >>> [(v.rule, v.path) for v in unknown_fields(conv)[0]]
    [('schema.unknown-key', '$.stop_sequence')]
    """
    return _split(_report(conv, tuple(betas), tuple(allow)))


def _report(conv: Conversation, betas: tuple[str, ...], allow: tuple[str, ...]) -> list[Violation]:
    """The closed-world check's violations (``schema.*``) of *conv*: the walk ``validate`` runs
    first (and ``betas_needed`` alone), without the rules that do not concern the schema."""
    out: list[Violation] = []
    schema = load_schema()
    # the root's required keys (model, max_tokens, messages) are not the schema's to report
    Walk(schema, out.append, betas=betas, allow=allow).model_object(conv, schema.roots["create"], "$", required=False)
    return out


def _split(found: list[Violation]) -> tuple[list[Violation], list[Violation]]:
    keys: list[Violation] = []
    types: list[Violation] = []
    for v in found:
        if v.rule == "schema.unknown-key" or (v.rule == "schema.beta-only" and v.message == _EXTRA):
            keys.append(v)
        elif v.rule in ("schema.unknown-type", "schema.beta-only"):
            types.append(v)
    return keys, types


# turns with nothing to report, standing in for those judged clean (by role)
_CLEAN = {role: Message(role, "-") for role in ("user", "assistant", "system")}


def _probe(conv: Conversation) -> Conversation:
    """*conv* for the check, leaving the input's unbuilt, lazily decoded turns unbuilt: a turn
    whose parsed blocks the closed-world check finds clean without building them
    (:func:`~convo.rules._schema.parsed_content_ok`) is stood in for by a clean turn of the same
    role; any other by a fresh lazy copy (the same parsed blocks), which the check builds. The
    turns keep their places, so every path the check reports names the input's turn."""
    copies = []
    changed = False
    for m in conv.messages:
        blocks = lazy_blocks(m)
        if blocks is None or is_built(m):
            copies.append(m)
            continue
        changed = True
        if parsed_content_ok(blocks):
            copies.append(_CLEAN.get(m.role) or Message(m.role, "-"))
        else:
            copies.append(with_lazy_blocks(m, blocks, lazy_mask(m)))
    if not changed:
        return conv
    result: Conversation = replace(conv, messages=tuple(copies))
    return result


def _remove(value: Any, steps: list[str | int], k: int, path: str) -> Any:
    """*value* without the key at ``steps[k:]`` (a new value; nothing is changed in place)."""
    step = steps[k]
    last = k == len(steps) - 1
    if has(type(value)):
        if not isinstance(step, str):
            raise TransformError(f"drop_unknown_fields: cannot follow {path}: an index into a {type(value).__name__}")
        fields = field_names(type(value))
        extra = value.extra
        if step in fields and step not in ("extra", "type"):
            if last:
                return replace(value, **{step: UNSET})
            return replace(value, **{step: _remove(getattr(value, step), steps, k + 1, path)})
        if step in extra:
            if last:
                kept = {key: x for key, x in extra.items() if key != step}
                return replace(value, extra=FrozenDict(kept) if kept else EMPTY)
            return replace(value, extra=FrozenDict({**extra, step: _remove(extra[step], steps, k + 1, path)}))
    elif isinstance(value, Mapping) and isinstance(step, str) and step in value:
        if last:
            return FrozenDict({key: x for key, x in value.items() if key != step})
        return FrozenDict({**value, step: _remove(value[step], steps, k + 1, path)})
    elif isinstance(value, tuple) and isinstance(step, int) and 0 <= step < len(value) and not last:
        new = _remove(value[step], steps, k + 1, path)
        return (*value[:step], new, *value[step + 1:])
    raise TransformError(f"drop_unknown_fields: nothing to remove at {path}")


def _why(v: Violation) -> str:
    if v.rule == "schema.beta-only":
        return f"{v.hint}; drop_unknown_fields(betas=[...]) keeps it (rule {v.rule})"
    return f"the API rejects unknown keys: {v.message} (rule {v.rule})"


class _DropUnknown(Transform):
    __slots__ = ("allow", "betas", "keep_lazy")

    def __init__(self, betas: tuple[str, ...], allow: tuple[str, ...], *, keep_lazy: bool = True) -> None:
        kwargs: dict[str, Any] = {}
        if betas:
            kwargs["betas"] = betas
        if allow:
            kwargs["allow"] = allow
        super().__init__("drop_unknown_fields", **kwargs)
        self.betas = betas
        self.allow = allow
        # False for a caller that reads every turn anyway (migrate): the check builds the input's
        # own turns instead of copies of them
        self.keep_lazy = keep_lazy

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        probe = _probe(conv) if self.keep_lazy else conv
        keys, types = _split(_report(probe, self.betas, self.allow))
        for v in types:
            log.note("kept a value of an unknown or beta-only type", v.path,
                     f"drop_unknown_fields removes keys, not blocks or values: {v.message} (rule {v.rule})")
        if not keys:
            return conv
        fixed = probe
        for v in keys:
            steps = parse_path(v.path)
            fixed = _remove(fixed, steps, 0, v.path)
            if log.enabled:
                kind = "beta-only" if v.rule == "schema.beta-only" else "unknown"
                log.add(f"removed {kind} key {steps[-1]!r}", v.path, _why(v))
        if probe is conv:
            return fixed
        if fixed.messages is probe.messages:
            result: Conversation = replace(fixed, messages=conv.messages)
            return result
        # the turns that lost nothing are the input's own (still unbuilt when they were lazy)
        msgs = tuple(m if m is not p else o for m, p, o in zip(fixed.messages, probe.messages, conv.messages, strict=True))
        result = replace(fixed, messages=msgs)
        return result


def dropper(betas: Iterable[str] = (), allow: Iterable[str] = (), *, keep_lazy: bool = True) -> Transform:
    """:func:`drop_unknown_fields` for another transform to run inside its own (``migrate``);
    ``keep_lazy=False`` lets the check build the input's turns, for a caller that reads them all."""
    return _DropUnknown(_names(betas, "betas"), _names(allow, "allow"), keep_lazy=keep_lazy)


@register
def drop_unknown_fields(*, betas: Iterable[str] = (), allow: Iterable[str] = ()) -> Transform:
    """Remove every key the API would refuse as unknown (or as beta-only without its header), reporting each.

    A transcript stored from an API newer than convo's schema (or logged with a beta header, or
    with another API's keys: ``response_format``, a typo'd ``stop_sequence``) holds keys the
    target API answers with 400 ``Extra inputs are not permitted``. This removes exactly the keys
    ``convo.validate`` reports (rules ``schema.unknown-key`` and ``schema.beta-only``), anywhere in
    the request: top level, messages, blocks, sources, and inside ``tools``, ``tool_choice``,
    ``thinking``, ``output_config``, ``metadata`` and ``cache_control``. *betas* names the
    ``anthropic-beta`` headers the result will be sent with (the keys of those betas are kept);
    *allow* keeps unknown keys by name or ``$.path`` pattern, as ``validate(allow=...)`` accepts
    them. A block, source or tool of an unknown ``type`` is content, not a field: it is kept and
    reported as a note (``validate`` still refuses it). :meth:`~Transform.explain` gives each
    removal with its ``$.path``; a conversation with nothing unknown is returned itself.

    >>> from convo import Conversation, Message
    >>> conv = Conversation(model="claude-opus-4-8", max_tokens=64, messages=[Message("user", "Hi")],
    ...                     metadata={"user_id": "u1", "session": "s9"}, extra={"stop_sequence": ["END"]})
    >>> out, changes = drop_unknown_fields().explain(conv)
    >>> for c in changes: print(c.what, "at", c.path)
    removed unknown key 'session' at $.metadata.session
    removed unknown key 'stop_sequence' at $.stop_sequence
    >>> from convo import validate
    >>> dict(out.metadata), "stop_sequence" in out.extra, validate(out).ok
    ({'user_id': 'u1'}, False, True)
    >>> drop_unknown_fields()(out) is out
    True
    """
    return _DropUnknown(_names(betas, "betas"), _names(allow, "allow"))
